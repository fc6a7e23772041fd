-- The job and run state machine, in one place, so that workers (a job
-- ends), kilnd's reaper (a lease expired), its supervisor (a worker died)
-- and planners (a run enters its concurrency group) all move rows the
-- same way.  The rows are the truth; these functions are the only
-- transitions between states.
--
-- LOCK ORDER, everywhere: the run's concurrency-group advisory lock (when
-- it has a group), then the run row, then job rows.  kiln_lock_run() takes
-- the first two; every function that looks at a run's jobs as a whole
-- calls it first.  One order means no deadlock, and it serializes the
-- decisions that race: two jobs of a run finishing together (the second
-- sees the first completed and concludes the run), and a run completing
-- while a planner admits a newer run to its group (the release sees the
-- admission, never a half-made one).

CREATE FUNCTION kiln_lock_run(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	SELECT repository_id, concurrency_group INTO r FROM runs
	WHERE id = p_run;
	IF r.concurrency_group IS NOT NULL THEN
		PERFORM pg_advisory_xact_lock(hashtext('kiln-concurrency'),
		    hashtext(r.repository_id || '/' || r.concurrency_group));
	END IF;
	PERFORM 1 FROM runs WHERE id = p_run FOR UPDATE;
END $$;

-- What a dependant sees of a job key (all matrix legs together): GitHub's
-- needs.<id>.result, where a failure of a continue-on-error job reads as
-- success.
CREATE FUNCTION kiln_key_result(p_run bigint, p_key text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN bool_or(conclusion IN ('failure', 'timed_out')
		    AND NOT continue_on_error) THEN 'failure'
		WHEN bool_or(conclusion = 'cancelled') THEN 'cancelled'
		WHEN bool_and(conclusion = 'success' OR (continue_on_error
		    AND conclusion IN ('failure', 'timed_out'))) THEN 'success'
		ELSE 'skipped' END
	FROM jobs WHERE run_id = p_run AND job_key = p_key
$$;

-- The context a worker needs to decide a job's if:: the needs context
-- (direct needs, outputs merged over matrix legs) and the status of the
-- transitive closure of needs.
CREATE FUNCTION kiln_job_context(p_job bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_run bigint;
	v_needs text[];
	v_needs_ctx jsonb;
	v_all_ok boolean;
	v_any_failed boolean;
	v_cancelled boolean;
BEGIN
	SELECT run_id, needs INTO v_run, v_needs FROM jobs WHERE id = p_job;
	SELECT coalesce(jsonb_object_agg(k, jsonb_build_object(
	    'result', kiln_key_result(v_run, k),
	    'outputs', coalesce((SELECT jsonb_object_agg(o.key, o.value)
		FROM jobs n, jsonb_each(n.outputs) o
		WHERE n.run_id = v_run AND n.job_key = k), '{}'::jsonb))),
	    '{}'::jsonb)
	INTO v_needs_ctx FROM unnest(v_needs) k;

	WITH RECURSIVE anc(job_key) AS (
		SELECT unnest(v_needs)
		UNION
		SELECT unnest(n.needs) FROM jobs n JOIN anc a
		    ON n.run_id = v_run AND n.job_key = a.job_key
	)
	SELECT coalesce(bool_and(kiln_key_result(v_run, a.job_key) = 'success'),
		true),
	       coalesce(bool_or(kiln_key_result(v_run, a.job_key) = 'failure'),
		false)
	INTO v_all_ok, v_any_failed FROM (SELECT DISTINCT job_key FROM anc) a;

	SELECT cancel_requested INTO v_cancelled FROM runs WHERE id = v_run;
	RETURN jsonb_build_object('needs', v_needs_ctx, 'success', v_all_ok,
	    'failure', v_any_failed, 'cancelled', v_cancelled);
END $$;

-- Release what a finished job unblocks, then finish the run when every job
-- has completed.  A waiting job becomes queued once all of its needs have
-- completed, whatever their conclusion: the worker that claims it decides
-- from its if: (default success()) whether it runs or is skipped, as
-- GitHub does.  A run that completes releases the oldest pending run of
-- its concurrency group.
CREATE FUNCTION kiln_release(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r runs%ROWTYPE;
	v_next bigint;
BEGIN
	PERFORM kiln_lock_run(p_run);
	UPDATE jobs j SET status = 'queued'
	WHERE j.run_id = p_run AND j.status = 'waiting'
	  AND NOT EXISTS (
		SELECT 1 FROM jobs n
		WHERE n.run_id = p_run AND n.job_key = ANY (j.needs)
		  AND n.status <> 'completed');

	IF NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run
	    AND status <> 'completed') THEN
		UPDATE runs SET status = 'completed', completed_at = now(),
		    conclusion = CASE
			WHEN EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run
			    AND conclusion IN ('failure', 'timed_out')
			    AND NOT continue_on_error) THEN 'failure'
			WHEN cancel_requested OR EXISTS (SELECT 1 FROM jobs
			    WHERE run_id = p_run AND conclusion = 'cancelled')
			    THEN 'cancelled'
			WHEN EXISTS (SELECT 1 FROM jobs WHERE run_id = p_run)
			    AND NOT EXISTS (SELECT 1 FROM jobs WHERE
			    run_id = p_run AND conclusion <> 'skipped')
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
	PERFORM pg_notify('kiln_work', 'job');
END $$;

-- Finish a job with a conclusion: steps that never ran become skipped, a
-- step still in progress takes the job's conclusion; a failed matrix leg
-- with fail-fast cancels its siblings.  Returns false when the job had
-- completed already (nothing done).
CREATE FUNCTION kiln_job_complete(p_job bigint, p_conclusion text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	j jobs%ROWTYPE;
	v_run bigint;
BEGIN
	SELECT run_id INTO v_run FROM jobs WHERE id = p_job;
	IF v_run IS NULL THEN
		RETURN false;
	END IF;
	PERFORM kiln_lock_run(v_run);
	UPDATE jobs SET status = 'completed', conclusion = p_conclusion,
	    completed_at = now(), lease_until = NULL,
	    started_at = coalesce(started_at, now())
	WHERE id = p_job AND status <> 'completed'
	RETURNING * INTO j;
	IF j.id IS NULL THEN
		RETURN false;
	END IF;
	UPDATE steps SET status = 'completed', conclusion = p_conclusion,
	    outcome = p_conclusion, completed_at = now()
	WHERE job_id = p_job AND status = 'in_progress';
	UPDATE steps SET status = 'completed', conclusion = 'skipped',
	    outcome = 'skipped'
	WHERE job_id = p_job AND status = 'queued';
	IF p_conclusion IN ('failure', 'timed_out') AND j.fail_fast
	    AND NOT j.continue_on_error AND j.matrix IS NOT NULL THEN
		PERFORM kiln_cancel_jobs(ARRAY(SELECT id FROM jobs
		    WHERE run_id = j.run_id AND job_key = j.job_key
		    AND id <> p_job AND status <> 'completed'));
	END IF;
	PERFORM kiln_release(j.run_id);
	RETURN true;
END $$;

-- Cancel jobs (callers hold their run's lock): not yet running ones
-- conclude at once, running ones are asked to stop (their worker polls
-- cancel_requested).
CREATE FUNCTION kiln_cancel_jobs(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_job bigint;
BEGIN
	UPDATE jobs SET cancel_requested = true
	WHERE id = ANY (p_ids) AND status = 'in_progress';
	FOR v_job IN SELECT id FROM jobs WHERE id = ANY (p_ids)
	    AND status IN ('queued', 'waiting') LOOP
		PERFORM kiln_job_complete(v_job, 'cancelled');
	END LOOP;
END $$;

-- Cancel a run (reference 5.7): running jobs are asked to stop; jobs not
-- yet started are left to the worker that claims them, which decides their
-- if: with cancelled() true (always() jobs still run, the others conclude
-- cancelled).
CREATE FUNCTION kiln_cancel_run(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM kiln_lock_run(p_run);
	UPDATE runs SET cancel_requested = true WHERE id = p_run
	    AND status <> 'completed';
	UPDATE jobs SET cancel_requested = true
	WHERE run_id = p_run AND status = 'in_progress';
	PERFORM pg_notify('kiln_work', 'job');
	-- A pending run has no running job: it completes right here.
	UPDATE runs SET status = 'completed', conclusion = 'cancelled',
	    completed_at = now()
	WHERE id = p_run AND status = 'pending';
END $$;

-- Admit a new run to its concurrency group (the planner, inside its
-- transaction, which keeps the group lock until it commits).  At most one
-- run per group is active; a newer pending run replaces an older pending
-- one; cancel-in-progress cancels the active one.  Returns the status the
-- new run starts with.
CREATE FUNCTION kiln_concurrency_admit(p_run bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r runs%ROWTYPE;
	v_other bigint;
BEGIN
	PERFORM kiln_lock_run(p_run);
	SELECT * INTO r FROM runs WHERE id = p_run;
	IF r.concurrency_group IS NULL THEN
		RETURN r.status;
	END IF;
	FOR v_other IN SELECT id FROM runs WHERE repository_id = r.repository_id
	    AND concurrency_group = r.concurrency_group AND id <> p_run
	    AND status = 'pending' LOOP
		PERFORM kiln_cancel_run(v_other);
	END LOOP;
	IF r.cancel_in_progress THEN
		FOR v_other IN SELECT id FROM runs
		    WHERE repository_id = r.repository_id
		    AND concurrency_group = r.concurrency_group
		    AND id <> p_run AND status IN ('queued', 'in_progress') LOOP
			PERFORM kiln_cancel_run(v_other);
		END LOOP;
	END IF;
	IF EXISTS (SELECT 1 FROM runs WHERE repository_id = r.repository_id
	    AND concurrency_group = r.concurrency_group AND id <> p_run
	    AND status IN ('queued', 'in_progress')) THEN
		UPDATE runs SET status = 'pending' WHERE id = p_run;
		RETURN 'pending';
	END IF;
	RETURN r.status;
END $$;

-- Jobs whose worker stopped renewing its lease fail; events whose planner
-- vanished go back to the queue (at most three attempts); a group left
-- with pending runs and no active one releases its oldest.
CREATE FUNCTION kiln_reap() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_job bigint;
	g record;
	n int := 0;
BEGIN
	FOR v_job IN SELECT id FROM jobs WHERE status = 'in_progress'
	    AND lease_until < now() LOOP
		IF kiln_job_complete(v_job, 'failure') THEN
			n := n + 1;
		END IF;
	END LOOP;
	UPDATE events SET status = 'completed', completed_at = now(),
	    error = 'planning failed ' || attempts || ' times (worker lost)'
	WHERE status = 'in_progress' AND lease_until < now() AND attempts >= 3;
	UPDATE events SET status = 'queued', claimed_by = NULL
	WHERE status = 'in_progress' AND lease_until < now();
	FOR g IN SELECT DISTINCT repository_id, concurrency_group FROM runs
	    WHERE status = 'pending' LOOP
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

-- A worker process died: fail its job now rather than at lease expiry.
CREATE FUNCTION kiln_worker_lost(p_worker text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_job bigint;
	n int := 0;
BEGIN
	FOR v_job IN SELECT id FROM jobs WHERE status = 'in_progress'
	    AND worker = p_worker LOOP
		IF kiln_job_complete(v_job, 'failure') THEN
			n := n + 1;
		END IF;
	END LOOP;
	UPDATE events SET status = 'queued', claimed_by = NULL,
	    lease_until = NULL
	WHERE status = 'in_progress' AND claimed_by = p_worker;
	RETURN n;
END $$;

-- Job-level concurrency groups (reference 3.4), decided lazily so that no
-- transaction locks another run's rows:
--   * a job is claimable only while no other job of its group (in the same
--     repository) is in progress;
--   * a queued job is superseded once a newer job of its group is queued or
--     running: the worker that claims it concludes it cancelled;
--   * a running job is preempted once a newer job of its group with
--     cancel-in-progress is queued or running: its worker stops it.
-- VOLATILE: each call sees what committed up to that moment.
CREATE FUNCTION kiln_job_superseded(p_job bigint) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
	SELECT EXISTS (SELECT 1 FROM jobs j JOIN jobs n
	    ON n.repository_id = j.repository_id
	    AND n.concurrency_group = j.concurrency_group AND n.id > j.id
	    AND n.status IN ('queued', 'in_progress')
	    WHERE j.id = p_job)
$$;

CREATE FUNCTION kiln_job_preempted(p_job bigint) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
	SELECT EXISTS (SELECT 1 FROM jobs j JOIN jobs n
	    ON n.repository_id = j.repository_id
	    AND n.concurrency_group = j.concurrency_group AND n.id > j.id
	    AND n.cancel_in_progress AND n.status IN ('queued', 'in_progress')
	    WHERE j.id = p_job)
$$;

CREATE FUNCTION kiln_job_group_busy(p_job bigint) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
	SELECT EXISTS (SELECT 1 FROM jobs j JOIN jobs o
	    ON o.repository_id = j.repository_id
	    AND o.concurrency_group = j.concurrency_group AND o.id <> j.id
	    AND o.status = 'in_progress'
	    WHERE j.id = p_job)
$$;

-- A claim checks max-parallel and the job's group within its statement;
-- two workers woken by the same NOTIFY can both pass.  After committing its
-- claim a worker asks again, in a new statement; of two racing claims the
-- one with the higher job id gives its job back.
CREATE FUNCTION kiln_claim_conflict(p_job bigint) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
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
