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
