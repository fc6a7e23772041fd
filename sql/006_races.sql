-- Two races found in review.

-- A claim checks max-parallel and the job's concurrency group with the
-- snapshot its statement started with; two workers woken by the same
-- NOTIFY can both pass.  After committing its claim, a worker asks again
-- with a fresh snapshot; of two racing claims the one with the higher job
-- id gives its job back.
CREATE FUNCTION kiln_claim_conflict(p_job bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT (j.max_parallel IS NOT NULL AND (SELECT count(*) FROM jobs s
		WHERE s.run_id = j.run_id AND s.job_key = j.job_key
		AND s.status = 'in_progress' AND s.id < j.id) >= j.max_parallel)
	    OR (j.concurrency_group IS NOT NULL
		AND NOT kiln_job_superseded(j.id)
		AND EXISTS (SELECT 1 FROM jobs o
		WHERE o.repository_id = j.repository_id
		AND o.concurrency_group = j.concurrency_group
		AND o.status = 'in_progress' AND o.id < j.id))
	FROM jobs j WHERE j.id = p_job
$$;

-- A planner admitting a run to its group while the group's last run
-- completes can leave the new run pending with nothing to release it: the
-- reaper releases the oldest pending run of any group with no active run.
CREATE OR REPLACE FUNCTION kiln_reap() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_job bigint;
	g record;
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
	FOR g IN SELECT DISTINCT repository_id, concurrency_group FROM runs
	    WHERE status = 'pending' LOOP
		-- The lock kiln_concurrency_admit takes for the group.
		IF NOT pg_try_advisory_xact_lock(hashtext('kiln-concurrency'),
		    hashtext(g.repository_id || '/' || g.concurrency_group)) THEN
			CONTINUE;
		END IF;
		IF NOT EXISTS (SELECT 1 FROM runs WHERE
		    repository_id = g.repository_id AND
		    concurrency_group = g.concurrency_group AND
		    status IN ('queued', 'in_progress')) THEN
			UPDATE runs SET status = 'queued' WHERE id = (SELECT min(id)
			    FROM runs WHERE repository_id = g.repository_id AND
			    concurrency_group = g.concurrency_group AND
			    status = 'pending');
			PERFORM pg_notify('kiln_work', 'job');
		END IF;
	END LOOP;
	RETURN n;
END $$;
