-- The job and run state machine, in one place so that workers (a job ends),
-- kilnd's reaper (a lease expired) and kilnd's supervisor (a worker died)
-- all move rows the same way.  The rows are the truth; these functions are
-- the only transitions out of in_progress.

ALTER TABLE events ADD COLUMN lease_until timestamptz;
ALTER TABLE events ADD COLUMN attempts int NOT NULL DEFAULT 0;

-- Release what a finished job unblocks, then finish the run when every job
-- has completed.  A waiting job becomes queued once all of its needs have
-- completed, whatever their conclusion: the worker that claims it decides
-- from its `if:` (default success()) whether it runs or is skipped, as
-- GitHub does.
CREATE FUNCTION kiln_release(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE jobs j SET status = 'queued'
	WHERE j.run_id = p_run AND j.status = 'waiting'
	  AND NOT EXISTS (
		SELECT 1 FROM jobs n
		WHERE n.run_id = p_run AND n.job_key = ANY (j.needs)
		  AND n.status <> 'completed');

	IF NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run
	    AND status <> 'completed') THEN
		UPDATE runs r SET status = 'completed', completed_at = now(),
		    conclusion = CASE
			WHEN EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run
			    AND conclusion IN ('failure', 'timed_out'))
			    THEN 'failure'
			WHEN EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run
			    AND conclusion = 'cancelled') THEN 'cancelled'
			WHEN EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run)
			    AND NOT EXISTS (SELECT 1 FROM jobs WHERE
			    run_id = p_run AND conclusion <> 'skipped')
			    THEN 'skipped'
			ELSE 'success' END
		WHERE r.id = p_run AND r.status <> 'completed';
	END IF;
	PERFORM pg_notify('kiln_work', 'job');
END $$;

-- Finish a job with a conclusion: steps that never ran become skipped, a
-- step still in progress takes the job's conclusion.
CREATE FUNCTION kiln_job_complete(p_job bigint, p_conclusion text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_run bigint;
BEGIN
	UPDATE jobs SET status = 'completed', conclusion = p_conclusion,
	    completed_at = now(), lease_until = NULL,
	    started_at = coalesce(started_at, now())
	WHERE id = p_job AND status <> 'completed'
	RETURNING run_id INTO v_run;
	IF v_run IS NULL THEN
		RETURN;
	END IF;
	UPDATE steps SET status = 'completed', conclusion = p_conclusion,
	    outcome = p_conclusion, completed_at = now()
	WHERE job_id = p_job AND status = 'in_progress';
	UPDATE steps SET status = 'completed', conclusion = 'skipped',
	    outcome = 'skipped'
	WHERE job_id = p_job AND status = 'queued';
	PERFORM kiln_release(v_run);
END $$;

-- Jobs whose worker stopped renewing its lease fail; events whose planner
-- vanished go back to the queue (at most three attempts).
CREATE FUNCTION kiln_reap() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_job bigint;
	n int := 0;
BEGIN
	FOR v_job IN SELECT id FROM jobs WHERE status = 'in_progress'
	    AND lease_until < now() FOR UPDATE SKIP LOCKED LOOP
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

-- A local worker process died: fail its job now rather than at lease expiry.
CREATE FUNCTION kiln_worker_lost(p_worker text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_job bigint;
	n int := 0;
BEGIN
	FOR v_job IN SELECT id FROM jobs WHERE status = 'in_progress'
	    AND worker = p_worker FOR UPDATE LOOP
		PERFORM kiln_job_complete(v_job, 'failure');
		n := n + 1;
	END LOOP;
	UPDATE events SET status = 'queued', claimed_by = NULL,
	    lease_until = NULL
	WHERE status = 'in_progress' AND claimed_by = p_worker;
	RETURN n;
END $$;
