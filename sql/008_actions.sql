-- The actions/cache index (issue 10).  An entry is one archive under the
-- worker's [cache] dir (<dir>/<repository_id>/<id>.tar.zst), immutable once
-- written.  scope is the ref whose run saved it (a run restores from its
-- own ref, then a pull request's base branch, then the default branch);
-- version digests the path lines and compression, as GitHub's does, so
-- the same key with other paths is another entry.  The first of two
-- concurrent saves of one key wins (the unique constraint).

CREATE TABLE cache_entries (
	id		bigserial PRIMARY KEY,
	repository_id	bigint NOT NULL REFERENCES repositories(id)
			ON DELETE CASCADE,
	scope		text NOT NULL,
	key		text NOT NULL CHECK (length(key) BETWEEN 1 AND 512),
	version		text NOT NULL,
	size_bytes	bigint NOT NULL CHECK (size_bytes >= 0),
	created_at	timestamptz NOT NULL DEFAULT clock_timestamp(),
	last_used_at	timestamptz NOT NULL DEFAULT clock_timestamp(),
	UNIQUE (repository_id, scope, key, version)
);

CREATE INDEX cache_entries_lru ON cache_entries (repository_id,
    last_used_at);
