-- [workers] retry_lost when the lost job's run still has other jobs
-- running: the retry waits for the run to complete instead of being
-- dropped.  kiln_retry_lost() records the limit on the run
-- (retry_lost_max) and returns -4; the run's completion then runs its
-- failed jobs again as the next attempt, at the end of the completing
-- transaction (a deferred trigger, so the completion's own work --
-- releasing a concurrency group -- is done first).  A cancelled run is
-- not retried.
ALTER TABLE runs ADD COLUMN retry_lost_max int;

CREATE OR REPLACE FUNCTION kiln_retry_lost(p_job bigint, p_max int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_run bigint;
	v_attempt int;
	v_new int;
BEGIN
	SELECT r.id, r.run_attempt INTO v_run, v_attempt
	FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = p_job;
	IF v_run IS NULL OR v_attempt > p_max THEN
		RETURN 0;
	END IF;
	v_new := kiln_rerun(v_run, true);
	IF v_new = -2 THEN
		-- kiln_rerun holds the run's lock: it cannot complete before
		-- this commits, and its completion sees the mark.
		UPDATE runs SET retry_lost_max = p_max WHERE id = v_run;
		RETURN -4;
	END IF;
	RETURN v_new;
END $$;

CREATE FUNCTION kiln_runs_retry_deferred() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	r runs%ROWTYPE;
BEGIN
	SELECT * INTO r FROM runs WHERE id = NEW.id FOR UPDATE;
	IF r.id IS NULL OR r.status <> 'completed' OR
	    r.retry_lost_max IS NULL THEN
		RETURN NULL;
	END IF;
	UPDATE runs SET retry_lost_max = NULL WHERE id = r.id;
	IF r.conclusion IS DISTINCT FROM 'cancelled' AND NOT r.cancel_requested
	    AND r.run_attempt <= r.retry_lost_max THEN
		PERFORM kiln_rerun(r.id, true);
	END IF;
	RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER runs_retry_deferred AFTER UPDATE OF status ON runs
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (NEW.status = 'completed' AND NEW.retry_lost_max IS NOT NULL)
EXECUTE FUNCTION kiln_runs_retry_deferred();
