-- Repository secrets and configuration variables (issue 9).  A secret's
-- value is sealed by kilnd (common/secretbox.c: AES-256-GCM, "v1:" text,
-- bound to "<owner/name>/<NAME>") before it reaches the database; the
-- database never holds a plaintext secret.  Variables are plain.  Names
-- are upper-cased (GitHub's are case-insensitive).

CREATE TABLE secrets (
	repository_id	bigint NOT NULL REFERENCES repositories(id)
			ON DELETE CASCADE,
	name		text NOT NULL CHECK (name = upper(name)),
	sealed		text NOT NULL CHECK (sealed LIKE 'v1:%'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (repository_id, name)
);

CREATE TABLE variables (
	repository_id	bigint NOT NULL REFERENCES repositories(id)
			ON DELETE CASCADE,
	name		text NOT NULL CHECK (name = upper(name)),
	value		text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (repository_id, name)
);
