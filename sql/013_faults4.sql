-- The log socket's credential (issue 7, defect 9).  The worker that claims
-- a job picks a random token and stores only its SHA-256 here, in the
-- claim's own UPDATE; it presents the token in its log HELLO.  kilnd
-- accepts a log stream for a job only while the job is in progress with
-- that worker and the token matches: nobody else who can reach the socket
-- can write into a job's log, finished or future.
ALTER TABLE jobs ADD COLUMN log_token bytea;

-- NULL when (job, worker, token) may stream the job's log, else why not.
CREATE FUNCTION kiln_log_attach(p_job bigint, p_worker text, p_token text)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
	j record;
BEGIN
	SELECT status, worker, log_token INTO j FROM jobs WHERE id = p_job;
	IF NOT FOUND THEN
		RETURN 'no job ' || p_job;
	END IF;
	IF j.status <> 'in_progress' THEN
		RETURN 'job ' || p_job || ' is ' || j.status || ', not in progress';
	END IF;
	IF j.worker IS DISTINCT FROM p_worker THEN
		RETURN 'job ' || p_job || ' is not in progress with this worker';
	END IF;
	IF j.log_token IS NULL OR p_token !~ '^[0-9a-f]{64}$'
	    OR sha256(decode(p_token, 'hex')) <> j.log_token THEN
		RETURN 'wrong log token for job ' || p_job;
	END IF;
	RETURN NULL;
END $$;

-- The reaper's jobs: in-progress jobs whose lease ran out fail with a
-- message naming the silent worker, and are returned so kilnd can say so
-- in their logs (logsrv_note(), which also closes a log connection still
-- open for them: a reaped job's worker writes no more).  Then kiln_reap()
-- does the rest (events, concurrency groups).  Like every path to a
-- conclusion it goes through kiln_job_complete(), which changes only a job
-- not completed yet: a conclusion recorded first, by the worker or by the
-- reaper, stands.
CREATE FUNCTION kiln_reap_jobs() RETURNS TABLE (job bigint, message text)
LANGUAGE plpgsql AS $$
DECLARE
	v_job bigint;
	v_worker text;
	v_message text;
BEGIN
	FOR v_job, v_worker IN SELECT id, worker FROM jobs
	    WHERE status = 'in_progress' AND lease_until < now() LOOP
		v_message := 'lease expired: worker ' ||
		    coalesce(v_worker, '(none)') || ' stopped renewing it';
		UPDATE jobs j SET message = coalesce(j.message, v_message)
		WHERE j.id = v_job AND j.status = 'in_progress';
		IF kiln_job_complete(v_job, 'failure') THEN
			job := v_job;
			message := v_message;
			RETURN NEXT;
		END IF;
	END LOOP;
	PERFORM kiln_reap();
END $$;
