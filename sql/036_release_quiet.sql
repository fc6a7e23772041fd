-- A job's end (kiln_job_complete) and a plan's up-front failures release
-- the run's waiting jobs; the NOTIFY that wakes a worker for them now
-- comes only when there may be something to claim: a job released, the
-- next run of a concurrency group queued, or any job queued at all (one
-- that waited for a max-parallel slot or a concurrency group may go now).
-- Before, every job's end notified, and with nothing queued kilnd woke
-- an idle worker (a parked one opened a session) to claim nothing.
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
	-- What this released is queued now, in this transaction's view.
	IF EXISTS (SELECT 1 FROM jobs WHERE status = 'queued') THEN
		PERFORM pg_notify('kiln_work', 'job');
	END IF;
END $$;
