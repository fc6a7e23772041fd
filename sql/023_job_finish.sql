-- A job's end in one transaction: its outputs and message, then its
-- completion (kiln_job_complete), so a finished job costs the worker one
-- round trip and PostgreSQL one WAL flush.  Before, the outputs were their
-- own (asynchronous) transaction.  The run's lock comes first, as
-- everywhere (002_state.sql, LOCK ORDER): the job row is written after it.
-- false when the job had been completed already (that conclusion stands,
-- and so do its outputs).
CREATE FUNCTION kiln_job_finish(p_job bigint, p_conclusion text,
    p_outputs jsonb, p_message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM kiln_lock_run(run_id) FROM jobs WHERE id = p_job;
	UPDATE jobs SET outputs = p_outputs,
	    message = coalesce(p_message, message)
	WHERE id = p_job AND status = 'in_progress';
	RETURN kiln_job_complete(p_job, p_conclusion);
END $$;
