-- A worker that dies fails its running job with a reason, in the job's
-- message, and names the jobs so kilnd can say so in their logs too.
CREATE FUNCTION kiln_worker_lost_jobs(p_worker text, p_why text)
RETURNS TABLE (job bigint, message text)
LANGUAGE plpgsql AS $$
DECLARE
	v_job bigint;
	v_message text;
BEGIN
	FOR v_job IN SELECT id FROM jobs WHERE status = 'in_progress'
	    AND worker = p_worker LOOP
		v_message := 'worker lost: ' || p_worker || ' ' || p_why;
		UPDATE jobs j SET message = coalesce(j.message, v_message)
		WHERE j.id = v_job;
		IF kiln_job_complete(v_job, 'failure') THEN
			job := v_job;
			message := v_message;
			RETURN NEXT;
		END IF;
	END LOOP;
	UPDATE events e SET status = 'queued', claimed_by = NULL,
	    lease_until = NULL
	WHERE e.status = 'in_progress' AND e.claimed_by = p_worker;
END $$;
