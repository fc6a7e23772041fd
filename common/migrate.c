/*
 * migrate: see migrate.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "migrate.h"
#include "util.h"

/* Arbitrary but fixed: "kiln" in ASCII.  Shared by every kilnd. */
#define MIGRATE_LOCK_KEY	"1802071150"

static int
migrate_exec(PGconn *conn, const char *sql, char *err, size_t errsz,
    const char *what)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(err, errsz, "%s: %s", what, PQerrorMessage(conn));
	PQclear(res);
	return ok ? 0 : -1;
}

static int
migrate_is_applied(PGconn *conn, const char *name, int *applied, char *err,
    size_t errsz)
{
	const char *params[1] = { name };
	PGresult *res;

	res = PQexecParams(conn,
	    "SELECT 1 FROM schema_migrations WHERE name = $1", 1, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errsz, "reading schema_migrations: %s",
		    PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	*applied = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

static int
migrate_one(PGconn *conn, const struct embed_file *f, char *err,
    size_t errsz)
{
	const char *params[1] = { f->name };
	char what[256];
	PGresult *res;

	snprintf(what, sizeof what, "migration %s", f->name);
	if (migrate_exec(conn, "BEGIN", err, errsz, what) == -1)
		return -1;
	if (migrate_exec(conn, f->data, err, errsz, what) == -1)
		goto fail;
	res = PQexecParams(conn,
	    "INSERT INTO schema_migrations (name) VALUES ($1)", 1, NULL,
	    params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errsz, "%s: recording it: %s", what,
		    PQerrorMessage(conn));
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	return migrate_exec(conn, "COMMIT", err, errsz, what);
fail:
	PQclear(PQexec(conn, "ROLLBACK"));
	return -1;
}

int
migrate_apply(PGconn *conn, char *err, size_t errsz)
{
	const struct embed_file *f;
	int applied, count = 0;

	if (migrate_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
	    err, errsz, "taking the migration lock") == -1)
		return -1;
	if (migrate_exec(conn, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "name text PRIMARY KEY, applied_at timestamptz NOT NULL "
	    "DEFAULT now())", err, errsz, "creating schema_migrations") == -1)
		goto fail;
	/* embed_sql is in file-name order: the Makefile sorts the SQL files. */
	for (f = embed_sql; f->name != NULL; f++) {
		if (migrate_is_applied(conn, f->name, &applied, err, errsz) == -1)
			goto fail;
		if (applied)
			continue;
		if (migrate_one(conn, f, err, errsz) == -1)
			goto fail;
		count++;
	}
	PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	return count;
fail:
	PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	return -1;
}
