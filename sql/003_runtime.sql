-- Runtime semantics of GitHub Actions beyond "run the steps": job-level
-- continue-on-error, matrix fail-fast and max-parallel, runs-on labels,
-- concurrency groups, cancellation, outputs, step summaries, annotations.

ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
	CHECK (status IN ('pending', 'queued', 'in_progress', 'completed'));
ALTER TABLE runs ADD COLUMN concurrency_group text;	-- lower-cased
ALTER TABLE runs ADD COLUMN cancel_in_progress boolean NOT NULL DEFAULT false;
ALTER TABLE runs ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
CREATE INDEX runs_group ON runs (repository_id, concurrency_group)
	WHERE concurrency_group IS NOT NULL AND status <> 'completed';

ALTER TABLE jobs ADD COLUMN continue_on_error boolean NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN fail_fast boolean NOT NULL DEFAULT true;
ALTER TABLE jobs ADD COLUMN max_parallel int;		-- null: no limit
ALTER TABLE jobs ADD COLUMN strategy jsonb;		-- the strategy context
ALTER TABLE jobs ADD COLUMN labels text[] NOT NULL DEFAULT '{}'; -- lower-cased
ALTER TABLE jobs ADD COLUMN timeout_minutes double precision NOT NULL DEFAULT 360;
ALTER TABLE jobs ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN message text;		-- why skipped/failed early

ALTER TABLE steps ADD COLUMN summary text;		-- GITHUB_STEP_SUMMARY

CREATE TABLE annotations (
	id		bigserial PRIMARY KEY,
	job_id		bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
	step_number	int,
	level		text NOT NULL CHECK (level IN ('error', 'warning', 'notice')),
	file		text,
	line		int,
	end_line	int,
	col		int,
	end_col		int,
	title		text,
	message		text NOT NULL
);
CREATE INDEX annotations_job ON annotations (job_id);

-- Workers announce themselves so a job nobody can take says why.
CREATE TABLE workers (
	name		text PRIMARY KEY,
	labels		text[] NOT NULL,
	last_seen	timestamptz NOT NULL DEFAULT now()
);

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

-- The context a worker needs to decide a job's `if:`: the needs context
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

-- Cancel jobs: not yet running ones conclude at once, running ones are
-- asked to stop (their worker polls cancel_requested).
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

CREATE FUNCTION kiln_cancel_run(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE runs SET cancel_requested = true WHERE id = p_run
	    AND status <> 'completed';
	PERFORM kiln_cancel_jobs(ARRAY(SELECT id FROM jobs
	    WHERE run_id = p_run AND status <> 'completed'));
	-- A pending run has no running job: it completes right here.
	UPDATE runs SET status = 'completed', conclusion = 'cancelled',
	    completed_at = now()
	WHERE id = p_run AND status = 'pending';
END $$;

-- Admit a new run to its concurrency group (called by the planner inside
-- its transaction).  At most one run per group is active; a newer pending
-- run replaces an older pending one; cancel-in-progress cancels the active
-- one.  Returns the status the new run starts with.
CREATE FUNCTION kiln_concurrency_admit(p_run bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r runs%ROWTYPE;
	v_other bigint;
BEGIN
	SELECT * INTO r FROM runs WHERE id = p_run;
	IF r.concurrency_group IS NULL THEN
		RETURN r.status;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('kiln-concurrency'),
	    hashtext(r.repository_id || '/' || r.concurrency_group));
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

-- kiln_release, now aware of continue-on-error jobs and concurrency: when a
-- run completes, the oldest pending run of its group becomes queued.
CREATE OR REPLACE FUNCTION kiln_release(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r runs%ROWTYPE;
	v_next bigint;
BEGIN
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
				WHERE id = v_next;
			END IF;
		END IF;
	END IF;
	PERFORM pg_notify('kiln_work', 'job');
END $$;

-- kiln_job_complete, now with matrix fail-fast: a failed leg (without
-- continue-on-error) cancels its siblings still queued or running.
CREATE OR REPLACE FUNCTION kiln_job_complete(p_job bigint, p_conclusion text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	j jobs%ROWTYPE;
BEGIN
	UPDATE jobs SET status = 'completed', conclusion = p_conclusion,
	    completed_at = now(), lease_until = NULL,
	    started_at = coalesce(started_at, now())
	WHERE id = p_job AND status <> 'completed'
	RETURNING * INTO j;
	IF j.id IS NULL THEN
		RETURN;
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
END $$;
