/*
 * cache: the admin API of actions/cache entries (docs/API.md), for
 * `cictl cache list|rm`.  The index is PostgreSQL's cache_entries
 * (sql/008_actions.sql); the archives are the workers' files under
 * [cache] dir, <dir>/<repository id>/<entry id>.tar.zst (worker/actions/
 * cache.c).  Removing an entry deletes its row, then its archive: a
 * restore that looked the row up before has the file open already, and
 * one that looks it up after finds nothing.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "db.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

#define CACHE_API_KEY_MAX	512	/* as actions/cache's keys */

struct cache_rm {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
};

static void
cache_list_cb(PGresult *res, const char *error, void *arg)
{
	struct evhttp_request *req = arg;
	char why[300];

	if (error != NULL) {
		log_warnx("cache list: %s", log_escape(error, 200, why,
		    sizeof why));
		http_reply_error(req, 500, "database error");
	} else
		http_reply_json(req, 200, PQgetvalue(res, 0, 0));
}

/*
 * GET /api/v1/caches[?repo=OWNER/NAME][&key=KEY]: the entries, most
 * recently used first within each repository.
 */
void
api_caches_list(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = evhttp_uri_get_query(uri), *params[2];
	struct evkeyvalq q;

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		http_reply_error(req, 400, "malformed query string");
		return;
	}
	params[0] = evhttp_find_header(&q, "repo");
	params[1] = evhttp_find_header(&q, "key");
	if (params[0] != NULL && !api_valid_repo_name(params[0])) {
		http_reply_error(req, 400, "repo: not owner/name");
		goto out;
	}
	if (params[1] != NULL && (params[1][0] == '\0' ||
	    strlen(params[1]) > CACHE_API_KEY_MAX)) {
		http_reply_error(req, 400, "key: 1 to %d bytes",
		    CACHE_API_KEY_MAX);
		goto out;
	}
	if (db_query(k->db,
	    "SELECT coalesce(json_agg(json_build_object('id', c.id, "
	    "'repository', p.full_name, 'scope', c.scope, 'key', c.key, "
	    "'version', c.version, 'size_bytes', c.size_bytes, 'created_at', "
	    "c.created_at, 'last_used_at', c.last_used_at) ORDER BY "
	    "p.full_name, c.last_used_at DESC, c.id DESC), '[]') "
	    "FROM cache_entries c JOIN repositories p ON p.id = "
	    "c.repository_id WHERE ($1::text IS NULL OR p.full_name = $1) "
	    "AND ($2::text IS NULL OR c.key = $2)", 2, params, cache_list_cb,
	    req) == -1)
		http_reply_error(req, 503, "database queue is full; retry");
out:
	evhttp_clear_headers(&q);
}

static void
cache_rm_cb(PGresult *res, const char *error, void *arg)
{
	struct cache_rm *r = arg;
	char why[300], *file;

	if (error != NULL) {
		log_warnx("cache rm: %s", log_escape(error, 200, why,
		    sizeof why));
		http_reply_error(r->req, 500, "database error");
	} else if (PQntuples(res) == 0)
		http_reply_error(r->req, 404, "no cache entry of that id");
	else {
		file = xasprintf("%s/%s/%s.tar.zst", r->kilnd->cfg->cache_dir,
		    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
		/* Absent: the entry was saved on another host's disk. */
		if (unlink(file) == -1 && errno != ENOENT)
			log_warn("cache rm: %s", file);
		free(file);
		http_reply_json(r->req, 200, PQgetvalue(res, 0, 0));
	}
	free(r);
}

/* DELETE /api/v1/caches/{id}: the entry and its archive. */
void
api_cache_delete(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *errstr, *params[1];
	struct cache_rm *r;
	int64_t id;

	if (nargs < 1 || parse_int64(args[0], 1, INT64_MAX, &id,
	    &errstr) == -1) {
		http_reply_error(req, 400, "cache entry id: %s", nargs < 1 ?
		    "missing" : errstr);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->kilnd = k;
	r->req = req;
	params[0] = args[0];
	if (db_query(k->db,
	    "WITH d AS (DELETE FROM cache_entries WHERE id = $1::bigint "
	    "RETURNING *) SELECT json_build_object('id', d.id, 'repository', "
	    "p.full_name, 'scope', d.scope, 'key', d.key, 'size_bytes', "
	    "d.size_bytes, 'deleted', true)::text, d.repository_id, d.id "
	    "FROM d JOIN repositories p ON p.id = d.repository_id", 1, params,
	    cache_rm_cb, r) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(r);
	}
}
