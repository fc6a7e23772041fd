-- Cron schedules (issue 9).  The schedules of a repository are the cron
-- lines of the workflows on its default branch's latest planned commit,
-- recorded by the planner of a push to that branch (kiln_schedules_set)
-- and replaced whole.  kilnd fires them (daemon/sched.c): each due slot
-- once, proven by a unique (schedule, slot) row inserted by the same
-- statement as the event it makes (kiln_schedule_fire), so two kilnds on
-- one database and a restart at any moment fire each slot once.  Times
-- are UTC seconds since the epoch, from kilnd's clock.

CREATE TABLE schedules (
	id		bigserial PRIMARY KEY,
	repository_id	bigint NOT NULL REFERENCES repositories(id)
			ON DELETE CASCADE,
	workflow_path	text NOT NULL,
	cron		text NOT NULL,			-- as written
	event_id	bigint,				-- the push that recorded it
	head_sha	text,
	-- kilnd's clock when it first saw the row: no slot before it fires
	since		bigint,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (repository_id, workflow_path, cron)
);

CREATE TABLE schedule_fires (
	schedule_id	bigint NOT NULL REFERENCES schedules(id)
			ON DELETE CASCADE,
	slot		bigint NOT NULL,		-- the minute it fired for
	event_id	bigint REFERENCES events(id) ON DELETE SET NULL,
	fired_at	bigint NOT NULL,		-- kilnd's clock
	PRIMARY KEY (schedule_id, slot)
);

-- Why a run is special, for people (a late scheduled run says so); the
-- event's note reaches its runs.
ALTER TABLE events ADD COLUMN note text;
ALTER TABLE runs ADD COLUMN note text;

CREATE FUNCTION kiln_run_note() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.note IS NULL THEN
		SELECT note INTO NEW.note FROM events WHERE id = NEW.event_id;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER runs_note BEFORE INSERT ON runs
	FOR EACH ROW EXECUTE FUNCTION kiln_run_note();

-- Replace a repository's schedules with p_lines (a JSON array of
-- {"path", "cron"}) found at commit p_sha by the planner of event
-- p_event.  An older event than the one recorded last changes nothing.
-- Rows that stay keep their identity (and their fired slots); the others
-- go, so an edited or removed line stops firing at once.
CREATE FUNCTION kiln_schedules_set(p_repo bigint, p_event bigint,
    p_sha text, p_lines jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('kiln-schedules'),
	    p_repo::int);
	IF EXISTS (SELECT 1 FROM schedules WHERE repository_id = p_repo
	    AND event_id > p_event) THEN
		RETURN;
	END IF;
	DELETE FROM schedules s WHERE s.repository_id = p_repo
	  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_lines) l
	    WHERE l->>'path' = s.workflow_path AND l->>'cron' = s.cron);
	INSERT INTO schedules (repository_id, workflow_path, cron, event_id,
	    head_sha)
	SELECT DISTINCT p_repo, l->>'path', l->>'cron', p_event, p_sha
	FROM jsonb_array_elements(p_lines) l
	ON CONFLICT (repository_id, workflow_path, cron) DO UPDATE
	    SET event_id = EXCLUDED.event_id, head_sha = EXCLUDED.head_sha;
END $$;

-- Fire one slot: the unique row and the event, together or not at all.
-- Returns the event's id, or NULL when the slot had fired already (another
-- kilnd, or before a restart) or the schedule is gone.
CREATE FUNCTION kiln_schedule_fire(p_schedule bigint, p_slot bigint,
    p_now bigint, p_note text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	s record;
	v_event bigint;
BEGIN
	SELECT sc.*, p.full_name, p.default_branch INTO s
	FROM schedules sc JOIN repositories p ON p.id = sc.repository_id
	WHERE sc.id = p_schedule;
	IF s.id IS NULL THEN
		RETURN NULL;
	END IF;
	INSERT INTO schedule_fires (schedule_id, slot, fired_at)
	VALUES (p_schedule, p_slot, p_now) ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	-- github.event of a schedule: the cron line and the repository.
	INSERT INTO events (repository_id, event, ref, payload, note)
	VALUES (s.repository_id, 'schedule', 'refs/heads/' ||
	    s.default_branch, jsonb_build_object('schedule', s.cron,
	    'workflow', s.workflow_path, 'repository', jsonb_build_object(
	    'full_name', s.full_name, 'name', split_part(s.full_name, '/', 2),
	    'default_branch', s.default_branch, 'owner', jsonb_build_object(
	    'login', split_part(s.full_name, '/', 1)))), p_note)
	RETURNING id INTO v_event;
	UPDATE schedule_fires SET event_id = v_event
	WHERE schedule_id = p_schedule AND slot = p_slot;
	PERFORM pg_notify('kiln_work', 'event');
	RETURN v_event;
END $$;
