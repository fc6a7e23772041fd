-- The outbox: every call kiln makes to GitHub's API, written by a trigger in
-- the SAME transaction as the job state change that causes it, so nothing
-- is sent for a change that rolled back and nothing is lost when kilnd dies
-- after the commit.  kilnd (daemon/outbox.c) claims rows with FOR UPDATE
-- SKIP LOCKED and a lease, sends them, and records the outcome.
--
-- Order: a row is only claimed when no older row of the same commit is
-- still pending (in flight or waiting for a retry), so a later state is
-- never overtaken by an earlier one.  A newer state of a job supersedes
-- its older rows in the same state not yet claimed (coalescing).
CREATE TABLE outbox (
	id		bigserial PRIMARY KEY,
	repository_id	bigint NOT NULL REFERENCES repositories(id)
			    ON DELETE CASCADE,
	job_id		bigint REFERENCES jobs(id) ON DELETE SET NULL,
	sha		text NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('status')),
	context		text NOT NULL,			-- at most 255 characters
	state		text NOT NULL CHECK (state IN ('pending', 'success',
			    'failure', 'error')),
	description	text NOT NULL DEFAULT '',	-- at most 140 characters
	status		text NOT NULL DEFAULT 'pending'
			CHECK (status IN ('pending', 'delivered', 'failed',
			    'superseded')),
	attempts	int NOT NULL DEFAULT 0,
	not_before	timestamptz NOT NULL DEFAULT now(),	-- retry backoff
	lease_until	timestamptz,			-- claimed by a kilnd
	http_status	int,				-- last answer
	error		text,				-- last failure, GitHub's words
	created_at	timestamptz NOT NULL DEFAULT now(),
	delivered_at	timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';
CREATE INDEX outbox_commit ON outbox (repository_id, sha, id)
	WHERE status = 'pending';
CREATE INDEX outbox_job ON outbox (job_id) WHERE status = 'pending';
CREATE INDEX outbox_done ON outbox (delivered_at) WHERE status = 'delivered';

-- A job's commit status: context "kiln / WORKFLOW / JOB" (the job's name
-- carries its matrix values), the state GitHub's commit statuses know.
CREATE FUNCTION kiln_outbox_job() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	v_state text;
	v_desc text;
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
	ELSIF TG_OP = 'INSERT' OR OLD.status = 'completed' THEN
		-- queued (again, on a re-run); in_progress is still pending
		v_state := 'pending';
		v_desc := 'Queued';
	ELSIF NEW.status = 'in_progress' THEN
		v_state := 'pending';
		v_desc := 'In progress';
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
	    description)
	VALUES (r.repository_id, NEW.id, r.head_sha, 'status',
	    left('kiln / ' || r.name || ' / ' || NEW.name, 255), v_state,
	    left(v_desc, 140));
	PERFORM pg_notify('kiln_outbox', '');
	RETURN NULL;
END $$;

CREATE TRIGGER jobs_outbox AFTER INSERT OR UPDATE OF status, conclusion
	ON jobs FOR EACH ROW EXECUTE FUNCTION kiln_outbox_job();

-- Claim up to p_limit rows due now, each the oldest pending row of its
-- commit, for p_lease_s seconds.  Several kilnds share the work.
CREATE FUNCTION kiln_outbox_claim(p_limit int, p_lease_s int)
RETURNS TABLE (id bigint, full_name text, sha text, kind text,
    context text, state text, description text, job_id bigint,
    attempts int)
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
	    u.description, u.job_id, u.attempts
	FROM u JOIN repositories r ON r.id = u.repository_id ORDER BY u.id
$$;

-- The outcome of one attempt: p_outcome 'delivered', 'failed' (not to be
-- retried) or 'retry' (again after p_delay_ms).
CREATE FUNCTION kiln_outbox_done(p_id bigint, p_outcome text,
    p_http int, p_error text, p_delay_ms bigint) RETURNS void
LANGUAGE sql AS $$
	UPDATE outbox SET
	    status = CASE p_outcome WHEN 'retry' THEN 'pending'
		ELSE p_outcome END,
	    http_status = p_http, error = p_error, lease_until = NULL,
	    not_before = CASE p_outcome WHEN 'retry' THEN now() +
		make_interval(secs => p_delay_ms / 1000.0) ELSE not_before END,
	    delivered_at = CASE p_outcome WHEN 'delivered' THEN now()
		ELSE delivered_at END
	WHERE id = p_id AND status = 'pending'
$$;

-- Delivered and superseded rows older than p_keep_s seconds go.
CREATE FUNCTION kiln_outbox_prune(p_keep_s int) RETURNS void
LANGUAGE sql AS $$
	DELETE FROM outbox WHERE status IN ('delivered', 'superseded')
	  AND created_at < now() - make_interval(secs => p_keep_s)
$$;
