-- kiln schema.  Applied by kilnd at start (common/migrate.c) under an
-- advisory lock; each file runs in one transaction and is recorded in
-- schema_migrations.  Vocabulary follows GitHub: status and conclusion.

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
	event		text NOT NULL,			-- push, pull_request, ...
	ref		text,
	sha		text,				-- null: PR merge not known yet
	before_sha	text,
	payload		jsonb NOT NULL,
	status		text NOT NULL DEFAULT 'queued'
			CHECK (status IN ('queued', 'in_progress', 'completed')),
	error		text,
	claimed_by	text,
	-- in_progress: the planner's lease; queued: not before (retry backoff)
	lease_until	timestamptz,
	attempts	int NOT NULL DEFAULT 0,
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
	-- pending: waiting for its concurrency group
	status		text NOT NULL DEFAULT 'queued'
			CHECK (status IN ('pending', 'queued', 'in_progress',
			    'completed')),
	conclusion	text CHECK (conclusion IN ('success', 'failure',
			    'cancelled', 'skipped', 'timed_out')),
	message		text,				-- e.g. file:line:col errors
	concurrency_group text,				-- lower-cased
	cancel_in_progress boolean NOT NULL DEFAULT false,
	cancel_requested boolean NOT NULL DEFAULT false,
	created_at	timestamptz NOT NULL DEFAULT now(),
	started_at	timestamptz,
	completed_at	timestamptz
);
CREATE INDEX runs_repository ON runs (repository_id, id DESC);
CREATE INDEX runs_group ON runs (repository_id, concurrency_group)
	WHERE concurrency_group IS NOT NULL AND status <> 'completed';

-- One job (one matrix combination) of a run.
CREATE TABLE jobs (
	id		bigserial PRIMARY KEY,
	run_id		bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	repository_id	bigint,				-- the run's, for groups
	job_key		text NOT NULL,			-- the id under jobs: in YAML
	name		text NOT NULL,
	needs		text[] NOT NULL DEFAULT '{}',	-- job_keys it waits for
	matrix		jsonb,				-- this combination, or null
	strategy	jsonb,				-- the strategy context
	status		text NOT NULL DEFAULT 'queued'
			CHECK (status IN ('queued', 'waiting', 'in_progress',
			    'completed')),
	conclusion	text CHECK (conclusion IN ('success', 'failure',
			    'cancelled', 'skipped', 'timed_out')),
	message		text,				-- why skipped/failed early
	outputs		jsonb NOT NULL DEFAULT '{}',
	continue_on_error boolean NOT NULL DEFAULT false,
	fail_fast	boolean NOT NULL DEFAULT true,
	max_parallel	int,				-- null: no limit
	labels		text[] NOT NULL DEFAULT '{}',	-- runs-on, lower-cased
	timeout_minutes	double precision NOT NULL DEFAULT 360,
	if_checked	boolean NOT NULL DEFAULT false,	-- its if: decided to run
	-- matrix: ${{ ... }} over needs: expanded when the job is claimed
	matrix_deferred	boolean NOT NULL DEFAULT false,
	concurrency_group text,				-- lower-cased
	cancel_in_progress boolean NOT NULL DEFAULT false,
	cancel_requested boolean NOT NULL DEFAULT false,
	worker		text,
	lease_until	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	started_at	timestamptz,
	completed_at	timestamptz
);
CREATE INDEX jobs_queued ON jobs (id) WHERE status = 'queued';
CREATE INDEX jobs_run ON jobs (run_id);
CREATE INDEX jobs_group ON jobs (repository_id, concurrency_group, id)
	WHERE concurrency_group IS NOT NULL
	  AND status IN ('queued', 'in_progress', 'waiting');

CREATE TABLE steps (
	id		bigserial PRIMARY KEY,
	job_id		bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
	number		int NOT NULL,			-- 1-based, in file order
	name		text NOT NULL,
	status		text NOT NULL DEFAULT 'queued'
			CHECK (status IN ('queued', 'in_progress', 'completed')),
	conclusion	text CHECK (conclusion IN ('success', 'failure',
			    'cancelled', 'skipped', 'timed_out')),
	outcome		text,				-- before continue-on-error
	summary		text,				-- GITHUB_STEP_SUMMARY
	started_at	timestamptz,
	completed_at	timestamptz,
	UNIQUE (job_id, number)
);

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
