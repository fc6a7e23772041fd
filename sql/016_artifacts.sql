-- actions/upload-artifact's store (issue 10).  An artifact is one zip
-- file under [artifacts] dir (<dir>/<run_id>/<id>.zip) written by the
-- worker that ran the upload; this row is its index.  Names are unique
-- within a run (GitHub's v4 immutability: a second upload of a name fails
-- unless it asks to overwrite, which replaces the row, so a new id; a job
-- of a later attempt -- a re-run -- replaces what an earlier attempt
-- uploaded, as re-running a failed job works on GitHub).
-- kilnd's sweep deletes rows past expires_at and then their files.

CREATE TABLE artifacts (
	id		bigserial PRIMARY KEY,
	run_id		bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	job_id		bigint REFERENCES jobs(id) ON DELETE SET NULL,
	run_attempt	integer NOT NULL DEFAULT 1 CHECK (run_attempt >= 1),
	-- The worker's rule (worker/actions/artifact.c) again: the name is a
	-- file name in a download's directory and in HTTP headers.
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 256
			AND name !~ '[/\\"<>|*?:[:cntrl:]]'
			AND strpos(name, '..') = 0),
	size_bytes	bigint NOT NULL CHECK (size_bytes >= 0),
	sha256		text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	created_at	timestamptz NOT NULL DEFAULT clock_timestamp(),
	expires_at	timestamptz NOT NULL,
	UNIQUE (run_id, name)
);

CREATE INDEX artifacts_expiry ON artifacts (expires_at);
