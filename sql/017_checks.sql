-- App mode (issue 11): kiln as a GitHub App.  The installation a
-- repository's webhooks name (installation.id), or the one
-- GET /repos/{owner}/{repo}/installation answers, kept with the
-- repository; daemon/outbox.c buys its installation tokens with the App's
-- JWT.  NULL: not known yet.
ALTER TABLE repositories ADD COLUMN gh_installation_id bigint
	CHECK (gh_installation_id > 0);

-- Check runs (App mode): one per job, created by the job's first row sent
-- (POST .../check-runs) and updated by its later ones (PATCH
-- .../check-runs/{gh_check_run_id}); a re-run's jobs are new rows, so new
-- check runs.  Each outbox row keeps the job's status and conclusion at
-- its change (neutral: a continue-on-error job that failed, as GitHub
-- shows it); annotations_sent counts the annotations already sent with a
-- final row, which goes out again for each further batch of 50.
ALTER TABLE jobs ADD COLUMN gh_check_run_id bigint;
ALTER TABLE outbox ADD COLUMN job_status text
	CHECK (job_status IN ('queued', 'in_progress', 'completed'));
ALTER TABLE outbox ADD COLUMN conclusion text
	CHECK (conclusion IN ('success', 'failure', 'neutral', 'cancelled',
	    'skipped', 'timed_out'));
ALTER TABLE outbox ADD COLUMN annotations_sent int NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION kiln_outbox_job() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	v_state text;
	v_desc text;
	v_status text;
	v_conclusion text;
	v_secs bigint;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
	    AND NEW.conclusion IS NOT DISTINCT FROM OLD.conclusion THEN
		RETURN NULL;
	END IF;
	IF NEW.status = 'completed' THEN
		v_secs := coalesce(extract(epoch FROM NEW.completed_at -
		    NEW.started_at)::bigint, 0);
		v_state := CASE NEW.conclusion
		    WHEN 'success' THEN 'success'
		    WHEN 'skipped' THEN 'success'
		    WHEN 'failure' THEN 'failure'
		    WHEN 'timed_out' THEN 'failure'
		    ELSE 'error' END;
		v_desc := CASE NEW.conclusion
		    WHEN 'skipped' THEN 'Skipped'
		    WHEN 'cancelled' THEN 'Cancelled after ' || v_secs || 's'
		    WHEN 'timed_out' THEN 'Timed out after ' || v_secs || 's'
		    WHEN 'failure' THEN 'Failing after ' || v_secs || 's'
		    ELSE 'Successful in ' || v_secs || 's' END;
		IF NEW.started_at IS NULL AND NEW.conclusion <> 'skipped' THEN
			v_desc := initcap(NEW.conclusion) ||
			    coalesce(': ' || NEW.message, '');
		END IF;
		v_status := 'completed';
		v_conclusion := CASE WHEN NEW.conclusion = 'failure' AND
		    NEW.continue_on_error THEN 'neutral'
		    ELSE coalesce(NEW.conclusion, 'failure') END;
	ELSIF TG_OP = 'INSERT' OR OLD.status = 'completed' THEN
		-- queued (again, on a re-run); in_progress is still pending
		v_state := 'pending';
		v_desc := 'Queued';
		v_status := 'queued';
	ELSIF NEW.status = 'in_progress' THEN
		v_state := 'pending';
		v_desc := 'In progress';
		v_status := 'in_progress';
	ELSE
		RETURN NULL;
	END IF;
	SELECT u.repository_id, u.head_sha, u.name INTO r FROM runs u
	WHERE u.id = NEW.run_id;
	-- An older row of this job in the same state, not being sent, is
	-- superseded (queued then in progress: one pending); a final state
	-- never swallows the pending one, so GitHub shows the job running.
	UPDATE outbox SET status = 'superseded'
	WHERE job_id = NEW.id AND status = 'pending' AND state = v_state
	  AND (lease_until IS NULL OR lease_until < now());
	INSERT INTO outbox (repository_id, job_id, sha, kind, context, state,
	    description, job_status, conclusion)
	VALUES (r.repository_id, NEW.id, r.head_sha, 'status',
	    left('kiln / ' || r.name || ' / ' || NEW.name, 255), v_state,
	    left(v_desc, 140), v_status, v_conclusion);
	PERFORM pg_notify('kiln_outbox', '');
	RETURN NULL;
END $$;

-- The claim of 009 with the repository's id and installation, and what a
-- check run needs (columns appended, the first nine unchanged): the row's job status
-- and conclusion, the job's check run, times, workflow file, its step
-- summaries (final rows) and the next batch of at most 50 annotations
-- with how many there are.
DROP FUNCTION kiln_outbox_claim(int, int);
CREATE FUNCTION kiln_outbox_claim(p_limit int, p_lease_s int)
RETURNS TABLE (id bigint, full_name text, sha text, kind text,
    context text, state text, description text, job_id bigint,
    attempts int, repository_id bigint, gh_installation_id bigint,
    job_status text, conclusion text, check_run_id bigint,
    started_at text, completed_at text, workflow_path text,
    summary text, annotations jsonb, annotations_sent int,
    annotations_total int)
LANGUAGE sql AS $$
	WITH c AS (
		SELECT o.id FROM outbox o
		WHERE o.status = 'pending' AND o.not_before <= now()
		  AND (o.lease_until IS NULL OR o.lease_until < now())
		  AND NOT EXISTS (SELECT 1 FROM outbox p
		      WHERE p.status = 'pending'
		        AND p.repository_id = o.repository_id
		        AND p.sha = o.sha AND p.id < o.id)
		ORDER BY o.id LIMIT p_limit
		FOR UPDATE OF o SKIP LOCKED
	), u AS (
		UPDATE outbox o SET lease_until = now() +
		    make_interval(secs => p_lease_s), attempts = o.attempts + 1
		FROM c WHERE o.id = c.id
		RETURNING o.*
	)
	SELECT u.id, r.full_name, u.sha, u.kind, u.context, u.state,
	    u.description, u.job_id, u.attempts, r.id, r.gh_installation_id,
	    u.job_status, u.conclusion, j.gh_check_run_id,
	    to_char(j.started_at AT TIME ZONE 'UTC',
		'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	    to_char(j.completed_at AT TIME ZONE 'UTC',
		'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	    w.path,
	    CASE WHEN u.job_status = 'completed' THEN
		(SELECT string_agg(s.summary, E'\n' ORDER BY s.number)
		 FROM steps s WHERE s.job_id = u.job_id
		   AND s.summary IS NOT NULL AND s.summary <> '') END,
	    CASE WHEN u.job_status = 'completed' THEN
		(SELECT jsonb_agg(to_jsonb(a) ORDER BY a.id) FROM
		    (SELECT a.id, a.level, a.file, a.line, a.end_line, a.col,
			a.end_col, a.title, a.message FROM annotations a
		     WHERE a.job_id = u.job_id ORDER BY a.id
		     OFFSET u.annotations_sent LIMIT 50) a) END,
	    u.annotations_sent,
	    CASE WHEN u.job_status = 'completed' THEN
		(SELECT count(*)::int FROM annotations a
		 WHERE a.job_id = u.job_id) ELSE 0 END
	FROM u JOIN repositories r ON r.id = u.repository_id
	LEFT JOIN jobs j ON j.id = u.job_id
	LEFT JOIN runs w ON w.id = j.run_id
	ORDER BY u.id
$$;

-- A check run's call answered: the job's check run id kept (p_check_run
-- NULL: unchanged) and p_batch more annotations counted as sent, then the
-- outcome as kiln_outbox_done records it; outcome 'more' puts the row
-- back at once for its next batch of annotations.
CREATE FUNCTION kiln_outbox_done_check(p_id bigint, p_outcome text,
    p_http int, p_error text, p_delay_ms bigint, p_check_run bigint,
    p_batch int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF p_check_run IS NOT NULL THEN
		UPDATE jobs SET gh_check_run_id = p_check_run
		WHERE id = (SELECT job_id FROM outbox WHERE id = p_id);
	END IF;
	UPDATE outbox SET annotations_sent = annotations_sent + p_batch
	WHERE id = p_id AND status = 'pending';
	IF p_outcome = 'more' THEN
		UPDATE outbox SET lease_until = NULL, not_before = now(),
		    http_status = p_http, error = NULL
		WHERE id = p_id AND status = 'pending';
		RETURN;
	END IF;
	PERFORM kiln_outbox_done(p_id, p_outcome, p_http, p_error,
	    p_delay_ms);
END $$;
