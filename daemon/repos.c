/*
 * repos: one repository's admin API beyond add and list (docs/API.md).
 *
 *   GET    /api/v1/repos/{owner}/{name}	settings, secret and variable
 *					names, schedules, its last runs
 *   PATCH  /api/v1/repos/{owner}/{name}	clone URL, default branch,
 *					webhook secret (rotation), the
 *					repository's GitHub token
 *   DELETE /api/v1/repos/{owner}/{name}	remove, keeping its history;
 *					?purge=1 deletes the history too
 *
 * A removal (kiln_repo_remove, sql/018_ops.sql) marks the row removed:
 * the runs and logs stay visible, while webhooks, dispatches, schedules
 * and the secrets API no longer know the name.  A purge deletes the row
 * with its runs and jobs (the database cascades) and then, here, the job
 * logs under <state_dir>/logs, the cache archives under [cache] dir and
 * the artifacts under [artifacts] dir,
 * a bounded batch per event-loop turn so a large repository does not
 * hold the loop.  Cache archives written by workers on other hosts are
 * theirs to expire; only the local [cache] dir is cleaned.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>

#include "config.h"
#include "db.h"
#include "event.h"
#include "kilnd.h"
#include "log.h"
#include "secretbox.h"
#include "util.h"

/* The longest GitHub token PATCH takes (GitHub's are far shorter). */
#define REPOS_MAX_TOKEN		4096

/* Files unlinked per event-loop turn while purging. */
#define REPOS_PURGE_BATCH	128

/*
 * What PATCH may change, and the column each sets.  The repository's
 * GitHub token ("github_token", null to remove) is handled apart: it is
 * sealed before it reaches the database.
 */
static const struct repos_field {
	const char	*key;
	const char	*column;
} repos_fields[] = {
	{ "clone_url", "clone_url" },
	{ "default_branch", "default_branch" },
	{ "secret", "secret" },
};

struct repos_req {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	char			 name[256];
	int			 purge;
	/*
	 * A purge's files: job ids (two files each), cache ids, then
	 * artifacts as [run id, artifact id].
	 */
	json_t			*jobs;
	json_t			*caches;
	json_t			*artifacts;
	int64_t			 repo_id;
	json_int_t		 runs;
	size_t			 next;		/* index over jobs + caches */
	size_t			 unlinked, failed;
	struct event		*ev;
};

static int
repos_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
repos_field_check(const char *key, const char *value, char *err,
    size_t errsz)
{
	size_t len = strlen(value);

	if (strcmp(key, "clone_url") == 0) {
		if (len == 0 || len > API_MAX_URL) {
			snprintf(err, errsz, "field \"clone_url\" must be a "
			    "non-empty URL of at most %d bytes", API_MAX_URL);
			return -1;
		}
	} else if (strcmp(key, "secret") == 0) {
		if (len == 0 || len > API_MAX_SECRET) {
			snprintf(err, errsz, "field \"secret\" must be a "
			    "non-empty string of at most %d bytes",
			    API_MAX_SECRET);
			return -1;
		}
	} else if (strcmp(key, "default_branch") == 0) {
		/* A branch name as git allows one, roughly. */
		if (len == 0 || len > 255 || value[strcspn(value,
		    " \t\r\n~^:?*[\\")] != '\0' || repos_has_control(value)) {
			snprintf(err, errsz, "field \"default_branch\" must "
			    "be a branch name (at most 255 bytes, no blanks, "
			    "controls or any of ~^:?*[\\)");
			return -1;
		}
	}
	return 0;
}

/* owner/name from the route's two segments; -1: replied 400. */
static int
repos_name(struct evhttp_request *req, const char *const *args, char *out,
    size_t outsz)
{
	snprintf(out, outsz, "%s/%s", args[0], args[1]);
	if (!api_valid_repo_name(out)) {
		http_reply_error(req, 400, "bad repository \"%.100s\"", out);
		return -1;
	}
	return 0;
}

void
api_repo_show(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	char name[256];
	/* Whether the outbox runs, so a stored token is used. */
	const char *params[2] = { name, k->outbox != NULL ? "true" : "false" };

	if (repos_name(req, args, name, sizeof name) == -1)
		return;
	api_query(k, req, 200,
	    "SELECT json_build_object('id', p.id, 'full_name', p.full_name, "
	    "'clone_url', p.clone_url, 'default_branch', p.default_branch, "
	    "'created_at', p.created_at, 'removed_at', p.removed_at, "
	    "'github_token', p.gh_token IS NOT NULL, "
	    "'github_token_used', p.gh_token IS NOT NULL AND $2::boolean, "
	    "'secrets', (SELECT coalesce(json_agg(s.name ORDER BY s.name), "
	    "'[]') FROM secrets s WHERE s.repository_id = p.id), "
	    "'variables', (SELECT coalesce(json_agg(v.name ORDER BY v.name), "
	    "'[]') FROM variables v WHERE v.repository_id = p.id), "
	    "'schedules', (SELECT count(*) FROM schedules c "
	    "WHERE c.repository_id = p.id), "
	    "'runs_total', (SELECT count(*) FROM runs r "
	    "WHERE r.repository_id = p.id), "
	    "'last_runs', (SELECT coalesce(json_agg(x ORDER BY x.id DESC), "
	    "'[]') FROM (SELECT r.id, r.run_number, r.name, r.event, "
	    "r.head_branch, r.head_sha, r.status, r.conclusion, r.created_at "
	    "FROM runs r WHERE r.repository_id = p.id ORDER BY r.id DESC "
	    "LIMIT 10) x)) FROM repositories p WHERE p.full_name = $1",
	    2, params);
}

static void
repos_edit_cb(PGresult *res, const char *error, void *arg)
{
	struct repos_req *r = arg;
	char why[512];

	if (error != NULL) {
		log_warnx("editing repository %s: %s", r->name,
		    log_escape(error, 300, why, sizeof why));
		http_reply_error(r->req, 500, "database error");
	} else if (PQntuples(res) == 0)
		http_reply_error(r->req, 404, "no repository %s", r->name);
	else {
		log_info("repository %s edited", r->name);
		http_reply_json(r->req, 200, PQgetvalue(res, 0, 0));
	}
	free(r);
}

/*
 * The associated data a repository's GitHub token is sealed with: a
 * sealed token copied to another repository does not open there.
 */
char *
repos_token_aad(const char *full_name)
{
	return xasprintf("github token for %s", full_name);
}

/*
 * PATCH's "github_token": a string is sealed into *sealedp (caller frees),
 * null asks to remove it (*clearp).  0, or -1 with the reason in err.
 */
static int
repos_token_field(struct kilnd *k, const char *name, json_t *v,
    char **sealedp, int *clearp, char *err, size_t errsz)
{
	const char *t = json_string_value(v);
	size_t len = json_string_length(v), i;
	char why[200], *aad;

	if (json_is_null(v)) {
		*clearp = 1;
		return 0;
	}
	if (t == NULL || len == 0 || len > REPOS_MAX_TOKEN) {
		snprintf(err, errsz, "field \"github_token\" must be null or a "
		    "token of 1 to %d bytes", REPOS_MAX_TOKEN);
		return -1;
	}
	for (i = 0; i < len; i++)
		if (!isgraph((unsigned char)t[i])) {
			snprintf(err, errsz, "field \"github_token\" must be "
			    "one word of printable ASCII");
			return -1;
		}
	aad = repos_token_aad(name);
	*sealedp = secretbox_seal(k->secret_key, t, len, aad, why, sizeof why);
	free(aad);
	if (*sealedp == NULL) {
		snprintf(err, errsz, "sealing the token: %s", why);
		return -1;
	}
	return 0;
}

void
api_repo_edit(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *params[3 + nitems(repos_fields)], *key;
	struct repos_req *r;
	size_t i, nset = 0;
	json_t *body, *v;
	char name[256], err[300], *sealed = NULL;
	int clear = 0;

	if (repos_name(req, args, name, sizeof name) == -1)
		return;
	if ((body = api_body_object(req, API_MAX_BODY)) == NULL)
		return;
	json_object_foreach(body, key, v) {
		if (strcmp(key, "github_token") == 0) {
			if (repos_token_field(k, name, v, &sealed, &clear, err,
			    sizeof err) == -1) {
				http_reply_error(req, 400, "%s", err);
				goto out;
			}
			nset++;
			continue;
		}
		for (i = 0; i < nitems(repos_fields); i++)
			if (strcmp(key, repos_fields[i].key) == 0)
				break;
		if (i == nitems(repos_fields)) {
			http_reply_error(req, 400, "field \"%.64s\" cannot be "
			    "edited (clone_url, default_branch, secret, "
			    "github_token can)", key);
			goto out;
		}
		if (!json_is_string(v)) {
			http_reply_error(req, 400, "field \"%s\" must be a "
			    "string", key);
			goto out;
		}
		if (repos_field_check(key, json_string_value(v), err,
		    sizeof err) == -1) {
			http_reply_error(req, 400, "%s", err);
			goto out;
		}
	}
	params[0] = name;
	for (i = 0; i < nitems(repos_fields); i++) {
		params[1 + i] = json_string_value(json_object_get(body,
		    repos_fields[i].key));
		nset += params[1 + i] != NULL;
	}
	params[1 + i] = sealed;
	params[2 + i] = clear ? "true" : "false";
	if (nset == 0) {
		http_reply_error(req, 400, "nothing to change: give clone_url, "
		    "default_branch, secret or github_token");
		goto out;
	}
	r = xcalloc(1, sizeof *r);
	r->kilnd = k;
	r->req = req;
	snprintf(r->name, sizeof r->name, "%s", name);
	/*
	 * A new default branch is where schedules are read from: ask for
	 * them again, as adding does.
	 */
	if (db_query(k->db,
	    "WITH r AS (UPDATE repositories SET "
	    "clone_url = coalesce($2, clone_url), "
	    "default_branch = coalesce($3, default_branch), "
	    "secret = coalesce($4, secret), "
	    "gh_token = CASE WHEN $6::boolean THEN NULL "
	    "ELSE coalesce($5, gh_token) END "
	    "WHERE full_name = $1 AND removed_at IS NULL "
	    "RETURNING id, default_branch, json_build_object('id', id, "
	    "'full_name', full_name, 'clone_url', clone_url, "
	    "'default_branch', default_branch, 'created_at', created_at, "
	    "'github_token', gh_token IS NOT NULL) AS j), "
	    "e AS (INSERT INTO events (repository_id, event, ref, payload) "
	    "SELECT id, '" EVENT_SCHEDULES_SYNC "', 'refs/heads/' || "
	    "default_branch, '{}'::jsonb FROM r WHERE $3::text IS NOT NULL "
	    "RETURNING id), "
	    "n AS (SELECT pg_notify('kiln_work', 'event') FROM e) "
	    "SELECT r.j FROM r, (SELECT count(*) FROM n) c",
	    (int)nitems(params), params, repos_edit_cb, r) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(r);
	}
out:
	/* A new secret's or token's copy inside jansson is wiped and freed. */
	v = json_object_get(body, "github_token");
	if (json_is_string(v))
		explicit_bzero((char *)json_string_value(v),
		    json_string_length(v));
	free(sealed);
	json_decref(body);
}

static void
repos_req_free(struct repos_req *r)
{
	if (r->ev != NULL)
		event_free(r->ev);
	json_decref(r->jobs);
	json_decref(r->caches);
	json_decref(r->artifacts);
	free(r);
}

static void
repos_purge_reply(struct repos_req *r)
{
	json_t *o;
	char *text;

	log_info("repository %s (id %" PRId64 ") purged: %" JSON_INTEGER_FORMAT
	    " runs, %zu jobs, %zu cache archives, %zu artifacts, %zu files "
	    "removed, %zu could not be", r->name, r->repo_id, r->runs,
	    json_array_size(r->jobs), json_array_size(r->caches),
	    json_array_size(r->artifacts), r->unlinked, r->failed);
	o = json_pack("{s:s, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "full_name", r->name, "id", (json_int_t)r->repo_id, "purged", 1,
	    "runs", r->runs, "jobs", (json_int_t)json_array_size(r->jobs),
	    "cache_entries", (json_int_t)json_array_size(r->caches),
	    "artifacts", (json_int_t)json_array_size(r->artifacts),
	    "files_removed", (json_int_t)r->unlinked,
	    "files_failed", (json_int_t)r->failed);
	text = json_dumps(o, JSON_COMPACT);
	http_reply_json(r->req, 200, text);
	free(text);
	json_decref(o);
	repos_req_free(r);
}

static void
repos_unlink(struct repos_req *r, const char *path)
{
	if (unlink(path) == 0)
		r->unlinked++;
	else if (errno != ENOENT) {
		log_warn("purging %s: unlink %s", r->name, path);
		r->failed++;
	}
}

/* One batch of a purge's files; the next batch on the next turn. */
static void
repos_purge_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct repos_req *r = arg;
	struct kilnd *k = r->kilnd;
	size_t njobs = json_array_size(r->jobs);
	size_t ncaches = json_array_size(r->caches);
	size_t total = njobs + ncaches + json_array_size(r->artifacts), n;
	const char *cache_dir = k->cfg->cache_dir;
	char path[4096];
	json_int_t id, run;
	json_t *a;

	for (n = 0; n < REPOS_PURGE_BATCH && r->next < total; n++, r->next++) {
		if (r->next < njobs) {
			id = json_integer_value(json_array_get(r->jobs,
			    r->next));
			snprintf(path, sizeof path, "%s/%" JSON_INTEGER_FORMAT
			    ".log", k->log_dir, id);
			repos_unlink(r, path);
			snprintf(path, sizeof path, "%s/%" JSON_INTEGER_FORMAT
			    ".seq", k->log_dir, id);
			repos_unlink(r, path);
		} else if (r->next < njobs + ncaches) {
			if (cache_dir == NULL || cache_dir[0] == '\0')
				continue;
			id = json_integer_value(json_array_get(r->caches,
			    r->next - njobs));
			snprintf(path, sizeof path, "%s/%" PRId64 "/%"
			    JSON_INTEGER_FORMAT ".tar.zst", cache_dir,
			    r->repo_id, id);
			repos_unlink(r, path);
		} else {
			a = json_array_get(r->artifacts, r->next - njobs -
			    ncaches);
			run = json_integer_value(json_array_get(a, 0));
			id = json_integer_value(json_array_get(a, 1));
			snprintf(path, sizeof path, "%s/%" JSON_INTEGER_FORMAT
			    "/%" JSON_INTEGER_FORMAT ".zip",
			    k->cfg->artifacts_dir, run, id);
			repos_unlink(r, path);
			/* The run's directory goes with its last artifact. */
			snprintf(path, sizeof path, "%s/%" JSON_INTEGER_FORMAT,
			    k->cfg->artifacts_dir, run);
			(void)rmdir(path);
		}
	}
	if (r->next < total) {
		event_active(r->ev, EV_TIMEOUT, 0);
		return;
	}
	/* The repository's cache directory, if nothing else is left in it. */
	if (cache_dir != NULL && cache_dir[0] != '\0') {
		snprintf(path, sizeof path, "%s/%" PRId64, cache_dir,
		    r->repo_id);
		if (rmdir(path) == -1 && errno != ENOENT)
			log_warn("purging %s: rmdir %s", r->name, path);
	}
	repos_purge_reply(r);
}

static void
repos_remove_cb(PGresult *res, const char *error, void *arg)
{
	struct repos_req *r = arg;
	json_t *out = NULL, *active;
	json_error_t jerr;
	char why[512];

	if (error != NULL) {
		log_warnx("removing repository %s: %s", r->name,
		    log_escape(error, 300, why, sizeof why));
		http_reply_error(r->req, 500, "database error");
		goto done;
	}
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
		http_reply_error(r->req, 404, "no %srepository %s", r->purge ?
		    "" : "live ", r->name);
		goto done;
	}
	if (!r->purge) {
		log_info("repository %s removed; its history is kept",
		    r->name);
		http_reply_json(r->req, 200, PQgetvalue(res, 0, 0));
		goto done;
	}
	out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	active = json_object_get(out, "active");
	if (json_is_integer(active)) {
		http_reply_error(r->req, 409, "%s has %" JSON_INTEGER_FORMAT
		    " run(s) or event(s) still active: cancel them (cictl "
		    "cancel RUN_ID) or let them finish, then purge again",
		    r->name, json_integer_value(active));
		goto done;
	}
	r->repo_id = json_integer_value(json_object_get(out, "id"));
	r->runs = json_integer_value(json_object_get(out, "runs"));
	r->jobs = json_incref(json_object_get(out, "jobs"));
	r->caches = json_incref(json_object_get(out, "caches"));
	r->artifacts = json_incref(json_object_get(out, "artifacts"));
	if (!json_is_array(r->jobs) || !json_is_array(r->caches) ||
	    !json_is_array(r->artifacts)) {
		http_reply_error(r->req, 500, "purge: unexpected answer");
		goto done;
	}
	json_decref(out);
	r->ev = event_new(r->kilnd->base, -1, 0, repos_purge_batch_cb, r);
	event_active(r->ev, EV_TIMEOUT, 0);
	return;
done:
	json_decref(out);
	repos_req_free(r);
}

void
api_repo_remove(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *query = evhttp_uri_get_query(
	    evhttp_request_get_evhttp_uri(req)), *purge = NULL;
	struct evkeyvalq q;
	struct repos_req *r;
	char name[256];
	const char *params[1] = { name };

	if (repos_name(req, args, name, sizeof name) == -1)
		return;
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		http_reply_error(req, 400, "malformed query string");
		return;
	}
	purge = evhttp_find_header(&q, "purge");
	if (purge != NULL && strcmp(purge, "1") != 0 &&
	    strcmp(purge, "true") != 0 && strcmp(purge, "0") != 0 &&
	    strcmp(purge, "false") != 0) {
		http_reply_error(req, 400, "purge: expected 1, true, 0 or "
		    "false");
		evhttp_clear_headers(&q);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->kilnd = k;
	r->req = req;
	r->purge = purge != NULL && (strcmp(purge, "1") == 0 ||
	    strcmp(purge, "true") == 0);
	evhttp_clear_headers(&q);
	snprintf(r->name, sizeof r->name, "%s", name);
	if (db_query(k->db, r->purge ? "SELECT kiln_repo_purge($1)" :
	    "SELECT CASE WHEN x.id IS NOT NULL THEN json_build_object('id', "
	    "x.id, 'full_name', $1::text, 'purged', false) END FROM "
	    "(SELECT kiln_repo_remove($1) AS id) x", 1, params,
	    repos_remove_cb, r) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(r);
	}
}
