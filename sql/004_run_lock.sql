-- Every transition that looks at a run's jobs as a whole takes the run row
-- lock first, and always before any job row lock (one lock order: run,
-- then jobs), so that two jobs of a run finishing at the same moment are
-- serialized: the second sees the first as completed and concludes the run
-- (under READ COMMITTED each statement of these functions takes a new
-- snapshot once the lock is granted).

CREATE OR REPLACE FUNCTION kiln_lock_run(p_run bigint) RETURNS void
LANGUAGE sql AS $$
	SELECT 1 FROM runs WHERE id = p_run FOR UPDATE
$$;

CREATE OR REPLACE FUNCTION kiln_job_complete(p_job bigint, p_conclusion text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	j jobs%ROWTYPE;
	v_run bigint;
BEGIN
	SELECT run_id INTO v_run FROM jobs WHERE id = p_job;
	IF v_run IS NULL THEN
		RETURN;
	END IF;
	PERFORM kiln_lock_run(v_run);
	UPDATE jobs SET status = 'completed', conclusion = p_conclusion,
	    completed_at = now(), lease_until = NULL,
	    started_at = coalesce(started_at, now())
	WHERE id = p_job AND status <> 'completed'
	RETURNING * INTO j;
	IF j.id IS NULL THEN
		RETURN;
	END IF;
	UPDATE steps SET status = 'completed', conclusion = p_conclusion,
	    outcome = p_conclusion, completed_at = now()
	WHERE job_id = p_job AND status = 'in_progress';
	UPDATE steps SET status = 'completed', conclusion = 'skipped',
	    outcome = 'skipped'
	WHERE job_id = p_job AND status = 'queued';
	IF p_conclusion IN ('failure', 'timed_out') AND j.fail_fast
	    AND NOT j.continue_on_error AND j.matrix IS NOT NULL THEN
		PERFORM kiln_cancel_jobs(ARRAY(SELECT id FROM jobs
		    WHERE run_id = j.run_id AND job_key = j.job_key
		    AND id <> p_job AND status <> 'completed'));
	END IF;
	PERFORM kiln_release(j.run_id);
END $$;

-- kiln_release as in 003, with the run lock taken first (a no-op when the
-- caller holds it already).
CREATE OR REPLACE FUNCTION kiln_release(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r runs%ROWTYPE;
	v_next bigint;
BEGIN
	PERFORM kiln_lock_run(p_run);
	UPDATE jobs j SET status = 'queued'
	WHERE j.run_id = p_run AND j.status = 'waiting'
	  AND NOT EXISTS (
		SELECT 1 FROM jobs n
		WHERE n.run_id = p_run AND n.job_key = ANY (j.needs)
		  AND n.status <> 'completed');

	IF NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run
	    AND status <> 'completed') THEN
		UPDATE runs SET status = 'completed', completed_at = now(),
		    conclusion = CASE
			WHEN EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run
			    AND conclusion IN ('failure', 'timed_out')
			    AND NOT continue_on_error) THEN 'failure'
			WHEN cancel_requested OR EXISTS (SELECT 1 FROM jobs
			    WHERE run_id = p_run AND conclusion = 'cancelled')
			    THEN 'cancelled'
			WHEN EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run)
			    AND NOT EXISTS (SELECT 1 FROM jobs WHERE
			    run_id = p_run AND conclusion <> 'skipped')
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
				WHERE id = v_next;
			END IF;
		END IF;
	END IF;
	PERFORM pg_notify('kiln_work', 'job');
END $$;

-- The reaper and the supervisor no longer lock job rows before calling
-- kiln_job_complete (that would be job-then-run order); the function skips
-- a job that completed meanwhile.
CREATE OR REPLACE FUNCTION kiln_reap() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_job bigint;
	n int := 0;
BEGIN
	FOR v_job IN SELECT id FROM jobs WHERE status = 'in_progress'
	    AND lease_until < now() LOOP
		PERFORM kiln_job_complete(v_job, 'failure');
		n := n + 1;
	END LOOP;
	UPDATE events SET status = 'completed', completed_at = now(),
	    error = 'planning failed ' || attempts || ' times (worker lost)'
	WHERE status = 'in_progress' AND lease_until < now() AND attempts >= 3;
	UPDATE events SET status = 'queued', claimed_by = NULL
	WHERE status = 'in_progress' AND lease_until < now();
	RETURN n;
END $$;

CREATE OR REPLACE FUNCTION kiln_worker_lost(p_worker text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_job bigint;
	n int := 0;
BEGIN
	FOR v_job IN SELECT id FROM jobs WHERE status = 'in_progress'
	    AND worker = p_worker LOOP
		PERFORM kiln_job_complete(v_job, 'failure');
		n := n + 1;
	END LOOP;
	UPDATE events SET status = 'queued', claimed_by = NULL,
	    lease_until = NULL
	WHERE status = 'in_progress' AND claimed_by = p_worker;
	RETURN n;
END $$;

-- A job's if: is decided before it waits for a runner with its labels (as
-- GitHub decides it before the job reaches a runner): any worker may claim
-- a job whose if: is not yet decided; if the job must run and that worker
-- lacks its labels, it goes back to the queue with if_checked set.
ALTER TABLE jobs ADD COLUMN if_checked boolean NOT NULL DEFAULT false;
