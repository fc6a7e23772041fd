-- kiln schema, version 1.  Applied by kilnd at start (common/migrate.c) under
-- an advisory lock; each file runs in one transaction and is recorded in
-- schema_migrations.  Vocabulary follows GitHub: status/conclusion.

CREATE TABLE repositories (
	id		bigserial PRIMARY KEY,
	full_name	text NOT NULL UNIQUE,		-- "owner/name"
	clone_url	text NOT NULL,
	secret		text NOT NULL,			-- webhook HMAC key
	default_branch	text NOT NULL DEFAULT 'main',
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- One row per webhook delivery, keyed by X-GitHub-Delivery so a redelivery
-- is recognised and never accepted twice.
CREATE TABLE deliveries (
	id		text PRIMARY KEY,
	repository_id	bigint REFERENCES repositories(id) ON DELETE CASCADE,
	event		text NOT NULL,
	action		text,
	outcome		text NOT NULL,			-- 'queued' or 'ignored'
	received_at	timestamptz NOT NULL DEFAULT now()
);

-- Work for the planner: an event waiting to become runs.
CREATE TABLE events (
	id		bigserial PRIMARY KEY,
	delivery_id	text UNIQUE REFERENCES deliveries(id) ON DELETE CASCADE,
	repository_id	bigint NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
	event		text NOT NULL,			-- push, pull_request, schedule, ...
	ref		text,
	sha		text,
	before_sha	text,
	payload		jsonb NOT NULL,
	status		text NOT NULL DEFAULT 'queued'
			CHECK (status IN ('queued', 'in_progress', 'completed')),
	error		text,
	claimed_by	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	completed_at	timestamptz
);
CREATE INDEX events_queued ON events (id) WHERE status = 'queued';

-- One workflow file triggered by one event.
CREATE TABLE runs (
	id		bigserial PRIMARY KEY,
	event_id	bigint NOT NULL REFERENCES events(id) ON DELETE CASCADE,
	repository_id	bigint NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
	run_number	bigint NOT NULL DEFAULT 1,
	name		text NOT NULL,
	path		text NOT NULL,			-- .github/workflows/ci.yml
	event		text NOT NULL,
	head_sha	text NOT NULL,
	head_branch	text,
	ref		text NOT NULL,
	workflow_source	text NOT NULL,			-- the YAML as read at head_sha
	status		text NOT NULL DEFAULT 'queued'
			CHECK (status IN ('queued', 'in_progress', 'completed')),
	conclusion	text CHECK (conclusion IN ('success', 'failure',
			    'cancelled', 'skipped', 'timed_out')),
	message		text,				-- e.g. parse errors, file:line:col
	created_at	timestamptz NOT NULL DEFAULT now(),
	started_at	timestamptz,
	completed_at	timestamptz
);
CREATE INDEX runs_repository ON runs (repository_id, id DESC);

-- One job (one matrix combination) of a run.
CREATE TABLE jobs (
	id		bigserial PRIMARY KEY,
	run_id		bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	job_key		text NOT NULL,			-- the id under jobs: in YAML
	name		text NOT NULL,
	needs		text[] NOT NULL DEFAULT '{}',	-- job_keys this job waits for
	matrix		jsonb,				-- this combination, or null
	status		text NOT NULL DEFAULT 'queued'
			CHECK (status IN ('queued', 'waiting', 'in_progress', 'completed')),
	conclusion	text CHECK (conclusion IN ('success', 'failure',
			    'cancelled', 'skipped', 'timed_out')),
	outputs		jsonb NOT NULL DEFAULT '{}',
	worker		text,
	lease_until	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	started_at	timestamptz,
	completed_at	timestamptz
);
CREATE INDEX jobs_queued ON jobs (id) WHERE status = 'queued';
CREATE INDEX jobs_run ON jobs (run_id);

CREATE TABLE steps (
	id		bigserial PRIMARY KEY,
	job_id		bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
	number		int NOT NULL,			-- 1-based, in file order
	name		text NOT NULL,
	status		text NOT NULL DEFAULT 'queued'
			CHECK (status IN ('queued', 'in_progress', 'completed')),
	conclusion	text CHECK (conclusion IN ('success', 'failure',
			    'cancelled', 'skipped', 'timed_out')),
	outcome		text,
	started_at	timestamptz,
	completed_at	timestamptz,
	UNIQUE (job_id, number)
);
