-- The planner's rows in one statement per run: a run's jobs (every matrix
-- leg) and their steps are inserted by kiln_insert_jobs() from the JSON
-- array the worker builds of common/planner.c's plan (worker/plan.c's
-- plan_job_json), and a matrix known only at run time is expanded by
-- kiln_expand_job() from the same JSON.  Arrays travel as jsonb that
-- PostgreSQL parses itself, never as hand-built text[] literals.
--
-- The run's display title (run-name, or GitHub's default) is stored
-- beside its workflow name.

ALTER TABLE runs ADD COLUMN display_title text;

-- The rows of a legs array, typed; ord is 1-based.
CREATE FUNCTION kiln_legs(p_legs jsonb) RETURNS TABLE (
	ord bigint, job_key text, name text, needs text[], matrix jsonb,
	strategy jsonb, labels text[], continue_on_error boolean,
	fail_fast boolean, max_parallel int, timeout_minutes double precision,
	concurrency_group text, cancel_in_progress boolean, message text,
	matrix_deferred boolean, steps text[])
LANGUAGE sql IMMUTABLE AS $$
	SELECT e.ord, e.v->>'job_key', e.v->>'name',
	    ARRAY(SELECT jsonb_array_elements_text(e.v->'needs')),
	    nullif(e.v->'matrix', 'null'::jsonb), e.v->'strategy',
	    ARRAY(SELECT jsonb_array_elements_text(e.v->'labels')),
	    (e.v->>'continue_on_error')::boolean,
	    (e.v->>'fail_fast')::boolean, (e.v->>'max_parallel')::int,
	    (e.v->>'timeout_minutes')::double precision,
	    e.v->>'concurrency_group', (e.v->>'cancel_in_progress')::boolean,
	    e.v->>'message', coalesce((e.v->>'matrix_deferred')::boolean,
	    false), ARRAY(SELECT jsonb_array_elements_text(e.v->'steps'))
	FROM jsonb_array_elements(coalesce(p_legs, '[]'::jsonb))
	    WITH ORDINALITY AS e(v, ord)
$$;

-- Insert the legs as jobs of a run, with their steps.  A leg with a
-- message failed up front: it is completed as a failure, its steps
-- skipped.  p_checked: their if: was decided already (the legs of an
-- expanded matrix), so they are queued whatever their needs.  Returns
-- how many jobs were inserted.
CREATE FUNCTION kiln_insert_jobs(p_run bigint, p_legs jsonb,
    p_checked boolean) RETURNS bigint
LANGUAGE sql AS $$
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
	SELECT count(*) FROM j
$$;

-- A deferred matrix, expanded by the worker that claimed its placeholder:
-- the placeholder becomes the first leg, the others are inserted queued.
-- The caller holds the run's lock (kiln_lock_run).
CREATE FUNCTION kiln_expand_job(p_job bigint, p_legs jsonb) RETURNS bigint
LANGUAGE sql AS $$
	UPDATE jobs j SET name = l.name, matrix = l.matrix,
	    strategy = l.strategy, labels = l.labels,
	    continue_on_error = l.continue_on_error, fail_fast = l.fail_fast,
	    max_parallel = l.max_parallel, timeout_minutes = l.timeout_minutes,
	    concurrency_group = l.concurrency_group,
	    cancel_in_progress = l.cancel_in_progress, matrix_deferred = false,
	    if_checked = true
	FROM kiln_legs(p_legs) l WHERE j.id = p_job AND l.ord = 1;
	SELECT kiln_insert_jobs(j.run_id, (SELECT jsonb_agg(e.v ORDER BY e.ord)
	    FROM jsonb_array_elements(p_legs) WITH ORDINALITY AS e(v, ord)
	    WHERE e.ord > 1), true)
	FROM jobs j WHERE j.id = p_job;
$$;
