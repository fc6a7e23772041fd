-- Re-runs and cancellation by hand (issue 9).
--
-- A re-run is a new attempt of the same run: runs.run_attempt counts them
-- (github.run_attempt, GITHUB_RUN_ATTEMPT), each job row belongs to one
-- attempt (jobs.attempt) and every look at "the jobs of a run" means those
-- of its current attempt.  Earlier attempts' rows stay, completed, with
-- their logs.  A job kept by a re-run of failed jobs is copied into the new
-- attempt as it concluded (outputs included, so the re-run jobs read them
-- through needs); rerun_of points at the row it repeats or copies.

ALTER TABLE runs ADD COLUMN run_attempt int NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN attempt int NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN rerun_of bigint REFERENCES jobs(id)
	ON DELETE SET NULL;
-- A copy a re-run kept: its log is rerun_of's (the row that ran).
ALTER TABLE jobs ADD COLUMN kept boolean NOT NULL DEFAULT false;
CREATE INDEX jobs_run_attempt ON jobs (run_id, attempt);

-- Every job row is inserted into its run's current attempt (the planner's,
-- a deferred matrix's legs, a re-run's).
CREATE FUNCTION kiln_job_attempt() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	SELECT run_attempt INTO NEW.attempt FROM runs WHERE id = NEW.run_id;
	RETURN NEW;
END $$;
CREATE TRIGGER jobs_attempt BEFORE INSERT ON jobs
	FOR EACH ROW EXECUTE FUNCTION kiln_job_attempt();

-- The jobs of a run's current attempt.
CREATE FUNCTION kiln_run_jobs(p_run bigint) RETURNS SETOF jobs
LANGUAGE sql STABLE AS $$
	SELECT j.* FROM jobs j JOIN runs r ON r.id = j.run_id
	WHERE j.run_id = p_run AND j.attempt = r.run_attempt
$$;

-- As 002, over the current attempt.
CREATE OR REPLACE FUNCTION kiln_key_result(p_run bigint, p_key text)
RETURNS text LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN bool_or(conclusion IN ('failure', 'timed_out')
		    AND NOT continue_on_error) THEN 'failure'
		WHEN bool_or(conclusion = 'cancelled') THEN 'cancelled'
		WHEN bool_and(conclusion = 'success' OR (continue_on_error
		    AND conclusion IN ('failure', 'timed_out'))) THEN 'success'
		ELSE 'skipped' END
	FROM kiln_run_jobs(p_run) WHERE job_key = p_key
$$;

-- As 002, over the current attempt.
CREATE OR REPLACE FUNCTION kiln_job_context(p_job bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_run bigint;
	v_needs text[];
	v_needs_ctx jsonb;
	v_all_ok boolean;
	v_any_failed boolean;
	v_cancelled boolean;
BEGIN
	SELECT run_id, needs INTO v_run, v_needs FROM jobs WHERE id = p_job;
	SELECT coalesce(jsonb_object_agg(k, jsonb_build_object(
	    'result', kiln_key_result(v_run, k),
	    'outputs', coalesce((SELECT jsonb_object_agg(o.key, o.value)
		FROM kiln_run_jobs(v_run) n, jsonb_each(n.outputs) o
		WHERE n.job_key = k), '{}'::jsonb))),
	    '{}'::jsonb)
	INTO v_needs_ctx FROM unnest(v_needs) k;

	WITH RECURSIVE anc(job_key) AS (
		SELECT unnest(v_needs)
		UNION
		SELECT unnest(n.needs) FROM kiln_run_jobs(v_run) n JOIN anc a
		    ON n.job_key = a.job_key
	)
	SELECT coalesce(bool_and(kiln_key_result(v_run, a.job_key) = 'success'),
		true),
	       coalesce(bool_or(kiln_key_result(v_run, a.job_key) = 'failure'),
		false)
	INTO v_all_ok, v_any_failed FROM (SELECT DISTINCT job_key FROM anc) a;

	SELECT cancel_requested INTO v_cancelled FROM runs WHERE id = v_run;
	RETURN jsonb_build_object('needs', v_needs_ctx, 'success', v_all_ok,
	    'failure', v_any_failed, 'cancelled', v_cancelled);
END $$;

-- As 002, over the current attempt.
CREATE OR REPLACE FUNCTION kiln_release(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r runs%ROWTYPE;
	v_next bigint;
	v_attempt int;
BEGIN
	PERFORM kiln_lock_run(p_run);
	SELECT run_attempt INTO v_attempt FROM runs WHERE id = p_run;
	UPDATE jobs j SET status = 'queued'
	WHERE j.run_id = p_run AND j.attempt = v_attempt
	  AND j.status = 'waiting'
	  AND NOT EXISTS (
		SELECT 1 FROM jobs n
		WHERE n.run_id = p_run AND n.attempt = v_attempt
		  AND n.job_key = ANY (j.needs) AND n.status <> 'completed');

	IF NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run
	    AND attempt = v_attempt AND status <> 'completed') THEN
		UPDATE runs SET status = 'completed', completed_at = now(),
		    conclusion = CASE
			WHEN EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run
			    AND attempt = v_attempt
			    AND conclusion IN ('failure', 'timed_out')
			    AND NOT continue_on_error) THEN 'failure'
			WHEN cancel_requested OR EXISTS (SELECT 1 FROM jobs
			    WHERE run_id = p_run AND attempt = v_attempt
			    AND conclusion = 'cancelled')
			    THEN 'cancelled'
			WHEN EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run
			    AND attempt = v_attempt)
			    AND NOT EXISTS (SELECT 1 FROM jobs WHERE
			    run_id = p_run AND attempt = v_attempt
			    AND conclusion <> 'skipped')
			    THEN 'skipped'
			ELSE 'success' END
		WHERE id = p_run AND status <> 'completed'
		RETURNING * INTO r;
		IF r.id IS NOT NULL AND r.concurrency_group IS NOT NULL THEN
			SELECT id INTO v_next FROM runs
			WHERE repository_id = r.repository_id
			  AND concurrency_group = r.concurrency_group
			  AND status = 'pending' ORDER BY id LIMIT 1;
			IF v_next IS NOT NULL AND NOT EXISTS (SELECT 1 FROM runs
			    WHERE repository_id = r.repository_id
			    AND concurrency_group = r.concurrency_group
			    AND status IN ('queued', 'in_progress')) THEN
				UPDATE runs SET status = 'queued'
				WHERE id = v_next AND status = 'pending';
			END IF;
		END IF;
	END IF;
	PERFORM pg_notify('kiln_work', 'job');
END $$;

-- Cancel a run by hand: 'ok', or 'absent' / 'completed' when there is
-- nothing to cancel.
CREATE FUNCTION kiln_request_cancel_run(p_run bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v_status text;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM runs WHERE id = p_run) THEN
		RETURN 'absent';
	END IF;
	PERFORM kiln_lock_run(p_run);
	SELECT status INTO v_status FROM runs WHERE id = p_run;
	IF v_status = 'completed' THEN
		RETURN 'completed';
	END IF;
	PERFORM kiln_cancel_run(p_run);
	RETURN 'ok';
END $$;

-- Cancel one job by hand: under its run's lock, a job not started
-- concludes cancelled at once, a running one is asked to stop.  'ok', or
-- 'absent' / 'completed'.
CREATE FUNCTION kiln_request_cancel_job(p_job bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v_run bigint;
	v_status text;
BEGIN
	SELECT run_id INTO v_run FROM jobs WHERE id = p_job;
	IF v_run IS NULL THEN
		RETURN 'absent';
	END IF;
	PERFORM kiln_lock_run(v_run);
	SELECT status INTO v_status FROM jobs WHERE id = p_job;
	IF v_status = 'completed' THEN
		RETURN 'completed';
	END IF;
	PERFORM kiln_cancel_jobs(ARRAY[p_job]);
	PERFORM pg_notify('kiln_work', 'job');
	RETURN 'ok';
END $$;

-- Re-run a completed run as its next attempt.  p_failed_only: keep the
-- jobs that did not fail (copied, conclusion and outputs as they were)
-- and re-run those that failed, timed out or were cancelled, with every
-- job that needs one of them (transitively), as GitHub's "Re-run failed
-- jobs".  Otherwise every job runs again.  The new attempt enters its
-- concurrency group as a new run would.  Returns the new attempt number,
-- or -1 when the run does not exist, -2 when it has not completed, -3
-- when failed only finds nothing that failed.
CREATE FUNCTION kiln_rerun(p_run bigint, p_failed_only boolean)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	r runs%ROWTYPE;
	v_new int;
	v_rerun text[];
BEGIN
	IF NOT EXISTS (SELECT 1 FROM runs WHERE id = p_run) THEN
		RETURN -1;
	END IF;
	PERFORM kiln_lock_run(p_run);
	SELECT * INTO r FROM runs WHERE id = p_run;
	IF r.id IS NULL THEN
		RETURN -1;
	END IF;
	IF r.status <> 'completed' THEN
		RETURN -2;
	END IF;
	-- Job keys to run again: the failed ones and their dependants.
	IF p_failed_only THEN
		WITH RECURSIVE bad(job_key) AS (
			SELECT DISTINCT job_key FROM kiln_run_jobs(p_run)
			WHERE conclusion IN ('failure', 'timed_out',
			    'cancelled')
			UNION
			SELECT j.job_key FROM kiln_run_jobs(p_run) j
			JOIN bad b ON b.job_key = ANY (j.needs)
		)
		SELECT array_agg(DISTINCT job_key) INTO v_rerun FROM bad;
		IF v_rerun IS NULL THEN
			RETURN -3;
		END IF;
	ELSE
		SELECT array_agg(DISTINCT job_key) INTO v_rerun
		FROM kiln_run_jobs(p_run);
	END IF;
	v_new := r.run_attempt + 1;
	UPDATE runs SET run_attempt = v_new, status = 'queued',
	    conclusion = NULL, cancel_requested = false, completed_at = NULL,
	    started_at = NULL
	WHERE id = p_run;

	-- Kept jobs: copies, completed as they were, with their steps.
	WITH o AS (SELECT * FROM jobs WHERE run_id = p_run
	    AND attempt = r.run_attempt AND NOT (job_key = ANY (coalesce(v_rerun, '{}')))),
	n AS (
		INSERT INTO jobs (run_id, repository_id, job_key, name, needs,
		    matrix, strategy, status, conclusion, message, outputs,
		    continue_on_error, fail_fast, max_parallel, labels,
		    timeout_minutes, if_checked, matrix_deferred,
		    concurrency_group, cancel_in_progress, worker,
		    started_at, completed_at, rerun_of, kept)
		SELECT run_id, repository_id, job_key, name, needs, matrix,
		    strategy, status, conclusion, message, outputs,
		    continue_on_error, fail_fast, max_parallel, labels,
		    timeout_minutes, if_checked, matrix_deferred, NULL,
		    cancel_in_progress, worker, started_at, completed_at,
		    CASE WHEN kept THEN rerun_of ELSE id END, true
		FROM o ORDER BY id
		RETURNING id, rerun_of)
	INSERT INTO steps (job_id, number, name, status, conclusion, outcome,
	    summary, started_at, completed_at)
	SELECT n.id, s.number, s.name, s.status, s.conclusion, s.outcome,
	    s.summary, s.started_at, s.completed_at
	FROM n JOIN steps s ON s.job_id = n.rerun_of;

	-- Re-run jobs: fresh rows, waiting for their needs or queued.  A
	-- deferred matrix's legs run again as they were expanded; a job the
	-- planner failed up front (message, never claimed) fails again so.
	WITH o AS (SELECT *, message IS NOT NULL AND worker IS NULL AS dead
	    FROM jobs WHERE run_id = p_run AND attempt = r.run_attempt
	    AND job_key = ANY (coalesce(v_rerun, '{}'))),
	n AS (
		INSERT INTO jobs (run_id, repository_id, job_key, name, needs,
		    matrix, strategy, status, continue_on_error, fail_fast,
		    max_parallel, labels, timeout_minutes, if_checked,
		    matrix_deferred, concurrency_group, cancel_in_progress,
		    message, conclusion, completed_at, rerun_of)
		SELECT run_id, repository_id, job_key, name, needs, matrix,
		    strategy,
		    CASE WHEN dead THEN 'completed'
			WHEN cardinality(needs) > 0 THEN 'waiting'
			ELSE 'queued' END,
		    continue_on_error, fail_fast, max_parallel, labels,
		    timeout_minutes, false, matrix_deferred,
		    CASE WHEN NOT dead THEN concurrency_group END,
		    cancel_in_progress,
		    CASE WHEN dead THEN message END,
		    CASE WHEN dead THEN 'failure' END,
		    CASE WHEN dead THEN now() END, id
		FROM o ORDER BY id
		RETURNING id, rerun_of, status)
	INSERT INTO steps (job_id, number, name, status, conclusion)
	SELECT n.id, s.number, s.name,
	    CASE WHEN n.status = 'completed' THEN 'completed' ELSE 'queued' END,
	    CASE WHEN n.status = 'completed' THEN 'skipped' END
	FROM n JOIN steps s ON s.job_id = n.rerun_of;

	PERFORM kiln_concurrency_admit(p_run);
	-- Waiting jobs whose needs are all kept are released now; a run
	-- whose every job was kept cannot happen (something is re-run).
	PERFORM kiln_release(p_run);
	RETURN v_new;
END $$;
