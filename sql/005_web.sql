-- The web status page: API tokens (only their SHA-256 is stored), page
-- sessions made from them, and the indexes the run list's filters use.

CREATE TABLE api_tokens (
	id		bigserial PRIMARY KEY,
	name		text NOT NULL UNIQUE,
	scope		text NOT NULL CHECK (scope IN ('read', 'admin')),
	token_hash	text NOT NULL UNIQUE,		-- hex SHA-256 of the token
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_used_at	timestamptz
);

-- A login of the page: the cookie's SHA-256, the token it came from (a
-- revoked token ends its sessions) and the CSRF token the page must echo.
CREATE TABLE web_sessions (
	session_hash	text PRIMARY KEY,
	token_id	bigint NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
	csrf		text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

CREATE INDEX runs_branch ON runs (repository_id, head_branch, id DESC);
CREATE INDEX runs_event ON runs (repository_id, event, id DESC);
CREATE INDEX runs_status ON runs (status, id DESC);
-- The status stream's query: active runs and those completed just now.
CREATE INDEX runs_active ON runs (id) WHERE status <> 'completed';
CREATE INDEX runs_completed_at ON runs (completed_at);
