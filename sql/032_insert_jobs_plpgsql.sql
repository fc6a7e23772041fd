-- kiln_insert_jobs (003) again, in plpgsql: a LANGUAGE sql function is
-- parsed and planned again at every call, and it is called once per run,
-- so with many pushes it was the largest of PostgreSQL's functions
-- (bench/pushes.sh with track_functions: 1.1 ms of 11 ms of PostgreSQL
-- CPU per job).  plpgsql keeps the statement's plan for the session.  The
-- statement and what it returns are unchanged.
CREATE OR REPLACE FUNCTION kiln_insert_jobs(p_run bigint, p_legs jsonb,
    p_checked boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_count bigint;
BEGIN
	WITH l AS MATERIALIZED (
		SELECT nextval(pg_get_serial_sequence('jobs', 'id')) AS id, k.*
		FROM kiln_legs(p_legs) k),
	j AS (
		INSERT INTO jobs (id, run_id, repository_id, job_key, name,
		    needs, matrix, strategy, status, conclusion, message,
		    completed_at, continue_on_error, fail_fast, max_parallel,
		    labels, timeout_minutes, if_checked, matrix_deferred,
		    concurrency_group, cancel_in_progress)
		SELECT l.id, r.id, r.repository_id, l.job_key, l.name, l.needs,
		    l.matrix, l.strategy,
		    CASE WHEN l.message IS NOT NULL THEN 'completed'
		        WHEN cardinality(l.needs) > 0 AND NOT p_checked
		        THEN 'waiting' ELSE 'queued' END,
		    CASE WHEN l.message IS NOT NULL THEN 'failure' END,
		    l.message,
		    CASE WHEN l.message IS NOT NULL THEN now() END,
		    l.continue_on_error, l.fail_fast, l.max_parallel, l.labels,
		    l.timeout_minutes, p_checked, l.matrix_deferred,
		    CASE WHEN l.message IS NULL THEN l.concurrency_group END,
		    l.cancel_in_progress
		FROM l JOIN runs r ON r.id = p_run
		ORDER BY l.ord
		RETURNING id, status),
	s AS (
		INSERT INTO steps (job_id, number, name, status, conclusion)
		SELECT j.id, st.number, st.name,
		    CASE WHEN j.status = 'completed' THEN 'completed'
		        ELSE 'queued' END,
		    CASE WHEN j.status = 'completed' THEN 'skipped' END
		FROM j JOIN l ON l.id = j.id,
		    unnest(l.steps) WITH ORDINALITY AS st(name, number)
		RETURNING 1)
	SELECT count(*) INTO v_count FROM j;
	RETURN v_count;
END $$;
