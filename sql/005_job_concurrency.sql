-- Job-level concurrency groups (reference 3.4), decided lazily so that no
-- transaction ever locks another run's rows:
--   * a job is claimable only while no other job of its group (in the same
--     repository) is in progress;
--   * a queued job is superseded once a newer job of its group is queued or
--     running: the worker that claims it concludes it cancelled (a newer
--     pending entrant replaces an older pending one);
--   * a running job is preempted once a newer job of its group with
--     cancel-in-progress is queued or running: its worker, which renews the
--     lease every second, stops it.

ALTER TABLE jobs ADD COLUMN concurrency_group text;	-- lower-cased
ALTER TABLE jobs ADD COLUMN cancel_in_progress boolean NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN repository_id bigint;
UPDATE jobs j SET repository_id = r.repository_id FROM runs r
	WHERE r.id = j.run_id;
CREATE INDEX jobs_group ON jobs (repository_id, concurrency_group, id)
	WHERE concurrency_group IS NOT NULL
	  AND status IN ('queued', 'in_progress', 'waiting');

CREATE FUNCTION kiln_job_superseded(p_job bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM jobs j JOIN jobs n
	    ON n.repository_id = j.repository_id
	    AND n.concurrency_group = j.concurrency_group AND n.id > j.id
	    AND n.status IN ('queued', 'in_progress')
	    WHERE j.id = p_job)
$$;

CREATE FUNCTION kiln_job_preempted(p_job bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM jobs j JOIN jobs n
	    ON n.repository_id = j.repository_id
	    AND n.concurrency_group = j.concurrency_group AND n.id > j.id
	    AND n.cancel_in_progress AND n.status IN ('queued', 'in_progress')
	    WHERE j.id = p_job)
$$;

-- Is another job of p_job's group running?
CREATE FUNCTION kiln_job_group_busy(p_job bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM jobs j JOIN jobs o
	    ON o.repository_id = j.repository_id
	    AND o.concurrency_group = j.concurrency_group AND o.id <> j.id
	    AND o.status = 'in_progress'
	    WHERE j.id = p_job)
$$;
