-- The outbox's claim (017) again, for two costs measured during a burst
-- of 1,000 rows (bench/outbox.sh, issue 11):
--
-- * Its per-commit order check was a NOT EXISTS over the pending rows,
--   which PostgreSQL planned as a nested loop over all of them while the
--   table had no statistics yet (the first burst after start-up: 266,000
--   rows compared, 15-60 ms a claim), and later as a probe for every
--   pending row before sorting them (800 probes, 4-5 ms a claim).  Only
--   the first pending row of each commit can be claimed, so the claim now
--   walks the commits instead: one probe of outbox_commit per commit with
--   anything pending, each giving that commit's first row, whatever the
--   statistics say and however many rows wait behind it.
-- * A LANGUAGE sql function is planned again at every call (5 ms on a new
--   session); plpgsql keeps its plan for the session.
--
-- * kilnd recorded the outcomes of finished calls in one statement and
--   claimed in another: kiln_outbox_settle() does both in one statement
--   and one commit.
--
-- The repository's own token (022) comes with each claimed row.
DROP FUNCTION kiln_outbox_claim(int, int);
CREATE TYPE outbox_claimed AS (id bigint, full_name text, sha text,
    kind text, context text, state text, description text, job_id bigint,
    attempts int, repository_id bigint, gh_installation_id bigint,
    job_status text, conclusion text, check_run_id bigint,
    started_at text, completed_at text, workflow_path text,
    summary text, annotations jsonb, annotations_sent int,
    annotations_total int, gh_token text);
CREATE FUNCTION kiln_outbox_claim(p_limit int, p_lease_s int)
RETURNS SETOF outbox_claimed
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
	v_heads bigint[];
	v_ids bigint[] := '{}';
	v_id bigint;
BEGIN
	-- Each commit's first pending row, if due and not being sent: one
	-- probe of outbox_commit per commit (its first entry, then the next
	-- commit's), a plan no statistics can turn into a scan.
	WITH RECURSIVE heads AS (
		(SELECT o.repository_id, o.sha, o.id, o.not_before,
		    o.lease_until FROM outbox o
		 WHERE o.status = 'pending'
		 ORDER BY o.repository_id, o.sha, o.id LIMIT 1)
		UNION ALL
		SELECT n.* FROM heads h,
		    LATERAL (SELECT o.repository_id, o.sha, o.id, o.not_before,
			o.lease_until FROM outbox o
			WHERE o.status = 'pending' AND (o.repository_id, o.sha)
			    > (h.repository_id, h.sha)
			ORDER BY o.repository_id, o.sha, o.id LIMIT 1) n
	)
	SELECT array_agg(h.id ORDER BY h.id) INTO v_heads FROM heads h
	WHERE h.not_before <= now()
	  AND (h.lease_until IS NULL OR h.lease_until < now());
	-- The oldest first, each locked by its key: another kilnd's claim
	-- or outcome holding it is passed over, as SKIP LOCKED says.
	FOREACH v_id IN ARRAY coalesce(v_heads, '{}') LOOP
		EXIT WHEN cardinality(v_ids) >= p_limit;
		PERFORM 1 FROM outbox o WHERE o.id = v_id
		  AND o.status = 'pending' AND o.not_before <= now()
		  AND (o.lease_until IS NULL OR o.lease_until < now())
		FOR UPDATE SKIP LOCKED;
		CONTINUE WHEN NOT FOUND;
		UPDATE outbox o SET lease_until = now() +
		    make_interval(secs => p_lease_s), attempts = o.attempts + 1
		WHERE o.id = v_id;
		v_ids := v_ids || v_id;
	END LOOP;
	RETURN QUERY
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
		 WHERE a.job_id = u.job_id) ELSE 0 END,
	    r.gh_token
	FROM unnest(v_ids) AS c(id) JOIN outbox u ON u.id = c.id
	JOIN repositories r ON r.id = u.repository_id
	LEFT JOIN jobs j ON j.id = u.job_id
	LEFT JOIN runs w ON w.id = j.run_id
	ORDER BY u.id;
END $$;

-- Record the outcomes of finished calls (p_done: kiln_outbox_done's
-- arguments, p_checks: kiln_outbox_done_check's, each a JSON array of
-- objects), then claim up to p_limit rows.
--
-- A commit that only claims need not wait for the disk: a claim lost in a
-- crash leaves its row pending, to be sent again, which is what a claim
-- whose lease ran out after a kilnd died already does, and no later
-- outcome can survive without it (the log is replayed in order).  An
-- outcome must be durable (a check run's id once created, above all), so
-- a commit recording any waits as every commit does.
CREATE FUNCTION kiln_outbox_settle(p_done jsonb, p_checks jsonb,
    p_limit int, p_lease_s int)
RETURNS SETOF outbox_claimed
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
	x record;
BEGIN
	IF jsonb_array_length(p_done) = 0 AND
	    jsonb_array_length(p_checks) = 0 THEN
		PERFORM set_config('synchronous_commit', 'off', true);
	END IF;
	-- kiln_outbox_done() of each, by its key
	FOR x IN SELECT * FROM jsonb_to_recordset(p_done) AS r(id bigint,
	    outcome text, http int, error text, delay bigint) LOOP
		UPDATE outbox o SET
		    status = CASE x.outcome WHEN 'retry' THEN 'pending'
			ELSE x.outcome END,
		    http_status = x.http, error = x.error, lease_until = NULL,
		    not_before = CASE x.outcome WHEN 'retry' THEN now() +
			make_interval(secs => x.delay / 1000.0)
			ELSE o.not_before END,
		    delivered_at = CASE x.outcome WHEN 'delivered' THEN now()
			ELSE o.delivered_at END
		WHERE o.id = x.id AND o.status = 'pending';
	END LOOP;
	PERFORM kiln_outbox_done_check(c.id, c.outcome, c.http, c.error,
	    c.delay, c.run, c.batch)
	FROM jsonb_to_recordset(p_checks) AS c(id bigint, outcome text,
	    http int, error text, delay bigint, run bigint, batch int);
	IF p_limit > 0 THEN
		RETURN QUERY SELECT * FROM kiln_outbox_claim(p_limit,
		    p_lease_s);
	END IF;
END $$;
