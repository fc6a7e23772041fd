-- Removing a repository (issue 12, cictl repo rm).  A plain removal keeps
-- its history: the row stays, marked removed_at, so its runs, jobs and
-- logs are still listed and shown; webhooks, dispatches, schedules and
-- the secrets API treat it as unknown.  Its credentials (secrets,
-- variables) and schedules go at once, queued events are dropped and
-- active runs are cancelled.  Adding the same name again brings the row
-- (and its history and run numbers) back.  A purge deletes the row and,
-- by cascade, everything that hangs off it; kilnd then removes the job
-- logs, cache archives and artifacts on disk that the purge names.

ALTER TABLE repositories ADD COLUMN removed_at timestamptz;

-- Returns the repository's id, or NULL when there is no live repository
-- of that name.
CREATE FUNCTION kiln_repo_remove(p_name text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_repo bigint;
	v_run bigint;
BEGIN
	UPDATE repositories SET removed_at = now()
	WHERE full_name = p_name AND removed_at IS NULL
	RETURNING id INTO v_repo;
	IF v_repo IS NULL THEN
		RETURN NULL;
	END IF;
	DELETE FROM secrets WHERE repository_id = v_repo;
	DELETE FROM variables WHERE repository_id = v_repo;
	DELETE FROM schedules WHERE repository_id = v_repo;
	UPDATE events SET status = 'completed', completed_at = now(),
	    error = 'repository removed'
	WHERE repository_id = v_repo AND status = 'queued';
	FOR v_run IN SELECT id FROM runs WHERE repository_id = v_repo
	    AND status <> 'completed' ORDER BY id LOOP
		PERFORM kiln_cancel_run(v_run);
	END LOOP;
	RETURN v_repo;
END $$;

-- Delete a repository (live or removed) with its history.  Refused while
-- one of its runs or events is still active: cancel or let them finish
-- first, so no worker or planner is writing what is being deleted.
-- Returns NULL when there is no such repository, else
-- {"id", "active": N} when refused, or {"id", "runs": N, "jobs": [...],
-- "caches": [...], "artifacts": [[run, id], ...]} naming the job logs,
-- cache archives and artifact zips to delete.
CREATE FUNCTION kiln_repo_purge(p_name text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	v_repo bigint;
	v_active bigint;
	v_out jsonb;
BEGIN
	SELECT id INTO v_repo FROM repositories WHERE full_name = p_name
	FOR UPDATE;
	IF v_repo IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT (SELECT count(*) FROM runs WHERE repository_id = v_repo
	    AND status <> 'completed') + (SELECT count(*) FROM events
	    WHERE repository_id = v_repo AND status = 'in_progress')
	INTO v_active;
	IF v_active > 0 THEN
		RETURN jsonb_build_object('id', v_repo, 'active', v_active);
	END IF;
	SELECT jsonb_build_object('id', v_repo,
	    'runs', (SELECT count(*) FROM runs WHERE repository_id = v_repo),
	    'jobs', (SELECT coalesce(jsonb_agg(j.id ORDER BY j.id), '[]')
		FROM jobs j JOIN runs r ON r.id = j.run_id
		WHERE r.repository_id = v_repo),
	    'caches', (SELECT coalesce(jsonb_agg(c.id ORDER BY c.id), '[]')
		FROM cache_entries c WHERE c.repository_id = v_repo),
	    'artifacts', (SELECT coalesce(jsonb_agg(jsonb_build_array(
		a.run_id, a.id) ORDER BY a.id), '[]')
		FROM artifacts a JOIN runs r ON r.id = a.run_id
		WHERE r.repository_id = v_repo))
	INTO v_out;
	DELETE FROM repositories WHERE id = v_repo;
	RETURN v_out;
END $$;
