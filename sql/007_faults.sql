-- [workers] retry_lost: a run whose job failed because its worker was
-- lost runs its failed jobs again as its next attempt (kiln_rerun with
-- failed only), while its attempt is at most p_max.  Returns the new
-- attempt, 0 when the limit is reached, -2 while other jobs of the run
-- are still running (then it is not retried: the run must be complete).
CREATE FUNCTION kiln_retry_lost(p_job bigint, p_max int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_run bigint;
	v_attempt int;
BEGIN
	SELECT r.id, r.run_attempt INTO v_run, v_attempt
	FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = p_job;
	IF v_run IS NULL OR v_attempt > p_max THEN
		RETURN 0;
	END IF;
	RETURN kiln_rerun(v_run, true);
END $$;
