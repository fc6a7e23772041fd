/*
 * api: the admin JSON API (docs/API.md) and /healthz.  PostgreSQL renders
 * the JSON (json_build_object / json_agg), so a handler is one query and one
 * reply, and field names live in exactly one place: the SQL below.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "db.h"
#include "event.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"


#define RUN_JSON \
	"json_build_object('id', r.id, 'run_number', r.run_number, " \
	"'name', r.name, 'display_title', r.display_title, " \
	"'path', r.path, 'event', r.event, 'ref', r.ref, " \
	"'status', r.status, 'conclusion', r.conclusion, " \
	"'head_sha', r.head_sha, 'head_branch', r.head_branch, " \
	"'repository', p.full_name, 'message', r.message, " \
	"'run_attempt', r.run_attempt, 'note', r.note, " \
	"'delivery', (SELECT e.delivery_id FROM events e " \
	"WHERE e.id = r.event_id), " \
	"'created_at', r.created_at, " \
	"'updated_at', coalesce(r.completed_at, r.started_at, r.created_at))"

#define JOB_JSON \
	"jsonb_build_object('id', j.id, " \
	"'run_id', j.run_id, 'job_key', j.job_key, 'name', j.name, " \
	"'needs', to_jsonb(j.needs), 'attempt', j.attempt, " \
	"'status', j.status, " \
	"'conclusion', j.conclusion, 'matrix', j.matrix, " \
	"'labels', to_jsonb(j.labels), 'outputs', j.outputs, " \
	"'message', coalesce(j.message, CASE WHEN j.status = 'queued' " \
	"AND r.status = 'pending' THEN 'waiting for the run''s " \
	"concurrency group' WHEN j.status = 'queued' AND " \
	"j.concurrency_group IS NOT NULL AND kiln_job_group_busy(j.id) " \
	"THEN 'waiting for concurrency group ' || j.concurrency_group " \
	"WHEN j.status = 'queued' AND NOT EXISTS " \
	"(SELECT 1 FROM workers w WHERE w.last_seen > now() - interval " \
	"'2 minutes' AND j.labels <@ w.labels) THEN 'no online worker has " \
	"all the labels ' || array_to_string(j.labels, ', ') END), " \
	"'started_at', j.started_at, 'completed_at', j.completed_at, " \
	"'steps', (SELECT coalesce(jsonb_agg(jsonb_build_object(" \
	"'number', s.number, 'name', s.name, 'status', s.status, " \
	"'conclusion', s.conclusion, 'outcome', s.outcome, " \
	"'summary', s.summary, 'started_at', s.started_at, " \
	"'completed_at', s.completed_at, 'log_offset', s.log_offset, " \
	"'log_line', s.log_line) ORDER BY s.number), '[]') " \
	"FROM steps s WHERE s.job_id = j.id), " \
	"'annotations', (SELECT coalesce(jsonb_agg(jsonb_build_object(" \
	"'level', a.level, 'file', a.file, 'line', a.line, " \
	"'end_line', a.end_line, 'col', a.col, 'end_col', a.end_col, " \
	"'title', a.title, 'message', a.message, 'step', a.step_number, " \
	"'log_line', a.log_line) ORDER BY a.id), '[]') " \
	"FROM annotations a WHERE a.job_id = j.id))"

struct api_req {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	int			 ok_code;
	int64_t			 id;
	char			*link;		/* runs: the next page's base */
};

static struct api_req *
api_req_new(struct kilnd *k, struct evhttp_request *req, int ok_code)
{
	struct api_req *a = xcalloc(1, sizeof *a);

	a->kilnd = k;
	a->req = req;
	a->ok_code = ok_code;
	return a;
}

/* Reply with column 0 of row 0 (JSON text), or 404 when there is no row. */
static void
api_json_cb(PGresult *res, const char *error, void *arg)
{
	struct api_req *a = arg;

	if (error != NULL) {
		char why[512];

		log_warnx("admin API query: %s", log_escape(error, 300, why,
		    sizeof why));
		http_reply_error(a->req, 500, "database error");
	} else if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		http_reply_error(a->req, 404, "not found");
	else
		http_reply_json(a->req, a->ok_code, PQgetvalue(res, 0, 0));
	free(a);
}

void
api_query(struct kilnd *k, struct evhttp_request *req, int ok_code,
    const char *sql, int nparams, const char *const *params)
{
	struct api_req *a = api_req_new(k, req, ok_code);

	if (db_query(k->db, sql, nparams, params, api_json_cb, a) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(a);
	}
}

int
api_parse_id(struct evhttp_request *req, const char *text, char *out,
    size_t outsz)
{
	const char *errstr;
	int64_t id;

	if (parse_int64(text, 1, INT64_MAX, &id, &errstr) == -1) {
		http_reply_error(req, 400, "bad id \"%.32s\": %s", text, errstr);
		return -1;
	}
	snprintf(out, outsz, "%lld", (long long)id);
	return 0;
}

/*
 * /healthz answers within HEALTH_TIMEOUT_MS: a database that accepts the
 * connection but does not answer is unhealthy too.  Whichever comes first,
 * the query's answer or the timer, replies; the other only frees.
 */
#define HEALTH_TIMEOUT_MS	2000

struct api_health {
	struct evhttp_request	*req;		/* NULL once answered */
	struct event		*timer;
	int			 pending;	/* the query's callback is due */
};

static void
api_health_send(struct evhttp_request *req, int ok)
{
	struct evbuffer *out = evbuffer_new();

	evbuffer_add_printf(out, ok ? "ok\n" : "database unavailable\n");
	evhttp_send_reply(req, ok ? 200 : 503, ok ? "OK" :
	    "Service Unavailable", out);
	evbuffer_free(out);
}

static void
api_health_reply(struct api_health *hc, int ok)
{
	if (hc->req == NULL)
		return;
	api_health_send(hc->req, ok);
	hc->req = NULL;
}

static void
api_health_done(struct api_health *hc)
{
	if (hc->pending || hc->req != NULL)
		return;
	event_free(hc->timer);
	free(hc);
}

static void
api_health_cb(PGresult *res, const char *error, void *arg)
{
	struct api_health *hc = arg;

	hc->pending = 0;
	api_health_reply(hc, error == NULL);
	evtimer_del(hc->timer);
	api_health_done(hc);
}

static void
api_health_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_health *hc = arg;

	api_health_reply(hc, 0);
	api_health_done(hc);
}

void
api_healthz(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	struct timeval tv = { HEALTH_TIMEOUT_MS / 1000,
	    (HEALTH_TIMEOUT_MS % 1000) * 1000 };
	struct api_health *hc;

	if (db_connected(k->db) == 0) {
		api_health_send(req, 0);
		return;
	}
	hc = xcalloc(1, sizeof *hc);
	hc->req = req;
	hc->timer = evtimer_new(k->base, api_health_timeout_cb, hc);
	hc->pending = 1;
	if (db_query(k->db, "SELECT 1", 0, NULL, api_health_cb, hc) == -1) {
		hc->pending = 0;
		api_health_reply(hc, 0);
		api_health_done(hc);
		return;
	}
	evtimer_add(hc->timer, &tv);
}

void
api_readyz(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	struct evbuffer *out;

	if (!k->stopping) {
		api_healthz(k, req, args, nargs);
		return;
	}
	out = evbuffer_new();
	evbuffer_add_printf(out, "stopping\n");
	evhttp_send_reply(req, 503, "Service Unavailable", out);
	evbuffer_free(out);
}

/*
 * Operations: what `cictl status`, `workers` and `queue` show.  A worker
 * is "alive" when it registered in the last two minutes (they register
 * every 30 s); its job is the one it holds in progress.
 */
#define API_WORKER_ALIVE "w.last_seen > now() - interval '2 minutes'"

void
api_status(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	char pid[24], running[16], configured[16];
	const char *params[6];

	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	snprintf(running, sizeof running, "%d", supervisor_running(k->sup));
	snprintf(configured, sizeof configured, "%d", k->cfg->worker_count);
	params[0] = KILN_VERSION;
	params[1] = pid;
	params[2] = k->stopping ? "true" : "false";
	params[3] = running;
	params[4] = configured;
	params[5] = k->cfg->listen;
	api_query(k, req, 200,
	    "SELECT json_build_object('version', $1::text, 'pid', $2::int, "
	    "'state', CASE WHEN $3::bool THEN 'stopping' ELSE 'running' END, "
	    "'listen', $6::text, 'database', 'ok', "
	    "'local_workers', json_build_object('running', $4::int, "
	    "'configured', $5::int), "
	    "'workers', (SELECT coalesce(json_agg(x ORDER BY x.name), '[]') "
	    "  FROM (SELECT w.name, " API_WORKER_ALIVE " AS alive, "
	    "  j.id AS job_id, j.name AS job_name, j.run_id "
	    "  FROM workers w LEFT JOIN jobs j ON j.worker = w.name "
	    "  AND j.status = 'in_progress' "
	    "  WHERE " API_WORKER_ALIVE ") x), "
	    "'jobs', (SELECT json_build_object("
	    "  'queued', count(*) FILTER (WHERE status = 'queued'), "
	    "  'waiting', count(*) FILTER (WHERE status = 'waiting'), "
	    "  'in_progress', count(*) FILTER (WHERE status = 'in_progress')) "
	    "  FROM jobs WHERE status <> 'completed'))", 6, params);
}

void
api_workers(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	api_query(k, req, 200,
	    "SELECT coalesce(json_agg(x ORDER BY x.name), '[]') FROM ("
	    "SELECT w.name, w.labels, w.last_seen, " API_WORKER_ALIVE
	    " AS alive, j.id AS job_id, j.name AS job_name, j.run_id, "
	    "j.started_at AS job_started_at "
	    "FROM workers w LEFT JOIN jobs j ON j.worker = w.name "
	    "AND j.status = 'in_progress') x", 0, NULL);
}

void
api_queue(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	/* Why each waits, in the order a person would look. */
	api_query(k, req, 200,
	    "SELECT coalesce(json_agg(x ORDER BY x.id), '[]') FROM ("
	    "SELECT j.id, j.run_id, r.run_number, p.full_name AS repository, "
	    "j.name, j.status, j.labels, j.created_at, "
	    "round(extract(epoch FROM now() - j.created_at))::bigint "
	    "AS waiting_seconds, "
	    "CASE WHEN j.status = 'waiting' THEN coalesce(j.message, "
	    "  'waiting for the jobs it needs or for its concurrency group') "
	    "WHEN NOT EXISTS (SELECT 1 FROM workers w WHERE " API_WORKER_ALIVE
	    "  AND w.labels @> j.labels) THEN 'no live worker has the labels "
	    "' || array_to_string(j.labels, ', ') "
	    "ELSE 'waiting for a free worker' END AS why "
	    "FROM jobs j JOIN runs r ON r.id = j.run_id "
	    "JOIN repositories p ON p.id = r.repository_id "
	    "WHERE j.status IN ('queued', 'waiting') "
	    "ORDER BY j.id LIMIT 1000) x", 0, NULL);
}

void
api_repos_list(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	api_query(k, req, 200,
	    "SELECT coalesce(json_agg(json_build_object('id', id, 'full_name', "
	    "full_name, 'clone_url', clone_url, 'default_branch', "
	    "default_branch, 'created_at', created_at) ORDER BY full_name), "
	    "'[]') FROM repositories WHERE removed_at IS NULL", 0, NULL);
}

int
api_valid_repo_name(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t i;

	if (slash == NULL || slash == s || slash[1] == '\0' ||
	    strchr(slash + 1, '/') != NULL || strlen(s) > 200)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		    c == '/'))
			return 0;
	}
	return 1;
}

static void
api_repo_add_cb(PGresult *res, const char *error, void *arg)
{
	struct api_req *a = arg;

	if (error != NULL) {
		char why[512];

		log_warnx("adding repository: %s", log_escape(error, 300, why,
		    sizeof why));
		http_reply_error(a->req, 500, "database error");
	} else
		http_reply_json(a->req, strcmp(PQgetvalue(res, 0, 1), "t") == 0 ?
		    201 : 200, PQgetvalue(res, 0, 0));
	free(a);
}

json_t *
api_body_object(struct evhttp_request *req, size_t max)
{
	struct evbuffer *buf = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(buf);
	json_error_t jerr;
	json_t *body;
	char *text;

	if (len > max) {
		http_reply_error(req, 413, "body larger than %zu bytes", max);
		return NULL;
	}
	text = xmalloc(len + 1);
	evbuffer_copyout(buf, text, len);
	text[len] = '\0';
	body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	/* The body may hold a secret: no copy outlives this. */
	OPENSSL_cleanse(text, len);
	free(text);
	if (body == NULL || !json_is_object(body)) {
		http_reply_error(req, 400, "body: expected a JSON object (%s)",
		    body ? "got another type" : jerr.text);
		json_decref(body);
		return NULL;
	}
	return body;
}

void
api_repos_add(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *name, *url, *secret, *branch;
	const char *params[4];
	struct api_req *a;
	json_t *body;
	char err[300];

	if ((body = api_body_object(req, API_MAX_BODY)) == NULL)
		return;
	name = json_string_value(json_object_get(body, "full_name"));
	url = json_string_value(json_object_get(body, "clone_url"));
	secret = json_string_value(json_object_get(body, "secret"));
	branch = json_string_value(json_object_get(body, "default_branch"));
	if (name == NULL || !api_valid_repo_name(name)) {
		http_reply_error(req, 400, "field \"full_name\" must be "
		    "\"owner/name\" (letters, digits, '-', '_', '.')");
	} else if (repos_field_check("clone_url", url ? url : "", err,
	    sizeof err) == -1 || repos_field_check("secret", secret ? secret :
	    "", err, sizeof err) == -1 || (branch != NULL && branch[0] != '\0' &&
	    repos_field_check("default_branch", branch, err, sizeof err) ==
	    -1)) {
		http_reply_error(req, 400, "%s", err);
	} else {
		params[0] = name;
		params[1] = url;
		params[2] = secret;
		params[3] = branch && branch[0] ? branch : NULL;
		a = api_req_new(k, req, 200);
		/*
		 * With the repository, a request to record its schedules
		 * from the default branch (new, or perhaps changed): they
		 * fire without waiting for a push.
		 */
		if (db_query(k->db,
		    "WITH r AS (INSERT INTO repositories (full_name, clone_url, "
		    "secret, default_branch) VALUES ($1, $2, $3, "
		    "coalesce($4, 'main')) "
		    "ON CONFLICT (full_name) DO UPDATE SET clone_url = $2, "
		    "secret = $3, removed_at = NULL, default_branch = coalesce($4, "
		    "repositories.default_branch) "
		    "RETURNING id, json_build_object('id', id, 'full_name', "
		    "full_name, 'clone_url', clone_url, 'default_branch', "
		    "default_branch, 'created_at', created_at) AS j, "
		    "(xmax = 0) AS created, default_branch), "
		    "e AS (INSERT INTO events (repository_id, event, ref, "
		    "payload) SELECT id, '" EVENT_SCHEDULES_SYNC "', "
		    "'refs/heads/' || default_branch, '{}'::jsonb FROM r "
		    "RETURNING id), "
		    "n AS (SELECT pg_notify('kiln_work', 'event') FROM e) "
		    "SELECT r.j, r.created FROM r, (SELECT count(*) FROM n) c",
		    4, params, api_repo_add_cb, a) == -1) {
			http_reply_error(req, 503, "database queue is full");
			free(a);
		}
	}
	/* The secret's copy inside jansson is freed here. */
	json_decref(body);
}

/* A page of runs; Link: rel="next" with the cursor when there may be more. */
static void
api_runs_cb(PGresult *res, const char *error, void *arg)
{
	struct api_req *a = arg;
	char link[API_MAX_URL + 64];

	if (error != NULL) {
		char why[512];

		log_warnx("listing runs: %s", log_escape(error, 300, why,
		    sizeof why));
		http_reply_error(a->req, 500, "database error");
	} else {
		if (!PQgetisnull(res, 0, 1) && a->link != NULL) {
			snprintf(link, sizeof link, "<%s%sbefore=%s>; "
			    "rel=\"next\"", a->link, strchr(a->link, '?') ?
			    "&" : "?", PQgetvalue(res, 0, 1));
			evhttp_add_header(evhttp_request_get_output_headers(
			    a->req), "Link", link);
		}
		http_reply_json(a->req, 200, PQgetvalue(res, 0, 0));
	}
	free(a->link);
	free(a);
}

/*
 * The path and query of the next page: the request's own, without its
 * "before" (the cursor added by api_runs_cb).
 */
static char *
api_runs_link(const char *path, struct evkeyvalq *q)
{
	struct evkeyval *kv;
	struct buf b = { 0 };
	char *enc;

	buf_add_str(&b, path);
	TAILQ_FOREACH(kv, q, next) {
		if (strcmp(kv->key, "before") == 0)
			continue;
		buf_add_char(&b, b.len == strlen(path) ? '?' : '&');
		enc = evhttp_encode_uri(kv->key);
		buf_add_str(&b, enc);
		free(enc);
		buf_add_char(&b, '=');
		enc = evhttp_encode_uri(kv->value);
		buf_add_str(&b, enc);
		free(enc);
	}
	if (b.len > API_MAX_URL) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/*
 * GET /api/v1/runs?repo=&branch=&event=&status=&before=&limit=: newest
 * first; before (a run id) is the cursor, so every page is an index range
 * scan whatever the history's length.  status matches a status or a
 * conclusion (failure, success ...).
 */
/*
 * GET /api/v1/triggers[?repo=R&limit=N]: every event kiln took in (webhook,
 * schedule, dispatch), newest first, with whether it has been planned, how
 * many runs it made and, when it made none, the planner's reason (an
 * unknown commit, an unreadable workflow directory, a refused dispatch).
 */
void
api_triggers(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = evhttp_uri_get_query(uri), *errstr, *repo, *lim;
	const char *params[2];
	struct evkeyvalq q;
	char limit[32];
	int64_t n = 50;

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		http_reply_error(req, 400, "malformed query string");
		return;
	}
	repo = evhttp_find_header(&q, "repo");
	lim = evhttp_find_header(&q, "limit");
	if (lim != NULL && parse_int64(lim, 1, 1000, &n, &errstr) == -1) {
		http_reply_error(req, 400, "limit \"%.32s\": %s (1 to 1000)",
		    lim, errstr);
		goto out;
	}
	if (repo != NULL && !api_valid_repo_name(repo)) {
		http_reply_error(req, 400, "repo: not owner/name");
		goto out;
	}
	snprintf(limit, sizeof limit, "%lld", (long long)n);
	params[0] = repo;
	params[1] = limit;
	api_query(k, req, 200,
	    "SELECT coalesce(json_agg(x ORDER BY x.id DESC), '[]') FROM ("
	    "SELECT e.id, e.delivery_id AS delivery, p.full_name AS repository, "
	    "e.event, e.ref, e.sha, e.status, e.attempts, e.created_at, "
	    "e.completed_at, (SELECT count(*) FROM runs r "
	    "WHERE r.event_id = e.id) AS runs, e.error "
	    "FROM events e JOIN repositories p ON p.id = e.repository_id "
	    "WHERE $1::text IS NULL OR p.full_name = $1 "
	    "ORDER BY e.id DESC LIMIT $2::int) x", 2, params);
out:
	evhttp_clear_headers(&q);
}

/*
 * GET /api/v1/outbox[?failed=1&limit=N]: calls to GitHub's API, newest
 * first: pending (with the next attempt), failed (with GitHub's answer) and
 * delivered ones still kept.
 */
void
api_outbox_list(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = evhttp_uri_get_query(uri), *errstr, *lim, *failed;
	const char *params[2];
	struct evkeyvalq q;
	char limit[32];
	int64_t n = 100;

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		http_reply_error(req, 400, "malformed query string");
		return;
	}
	lim = evhttp_find_header(&q, "limit");
	failed = evhttp_find_header(&q, "failed");
	if (lim != NULL && parse_int64(lim, 1, 1000, &n, &errstr) == -1) {
		http_reply_error(req, 400, "limit \"%.32s\": %s (1 to 1000)",
		    lim, errstr);
		goto out;
	}
	snprintf(limit, sizeof limit, "%lld", (long long)n);
	params[0] = failed != NULL && strcmp(failed, "1") == 0 ? "1" : NULL;
	params[1] = limit;
	api_query(k, req, 200,
	    "SELECT coalesce(json_agg(x ORDER BY x.id DESC), '[]') FROM ("
	    "SELECT o.id, p.full_name AS repository, o.sha, o.kind, o.job_id, "
	    "o.context, o.state, o.job_status, o.conclusion, o.description, "
	    "o.status, o.attempts, "
	    "o.http_status, o.error, o.created_at, o.delivered_at, "
	    "CASE WHEN o.status = 'pending' THEN o.not_before END AS next_at "
	    "FROM outbox o JOIN repositories p ON p.id = o.repository_id "
	    "WHERE o.status <> 'superseded' AND ($1::text IS NULL OR "
	    "o.status = 'failed') ORDER BY o.id DESC LIMIT $2::int) x",
	    2, params);
out:
	evhttp_clear_headers(&q);
}

/*
 * POST /api/v1/outbox/{id}/retry: a failed call is sent again, unless a
 * newer state of its context has been sent or is waiting (sending the old
 * one would overwrite it on GitHub).  The NOTIFY wakes an idle outbox.
 */
void
api_outbox_retry(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *errstr, *params[1];
	int64_t id;

	if (nargs < 1 || parse_int64(args[0], 1, INT64_MAX, &id,
	    &errstr) == -1) {
		http_reply_error(req, 400, "call id: %s", nargs < 1 ?
		    "missing" : errstr);
		return;
	}
	params[0] = args[0];
	api_query(k, req, 200,
	    "WITH t AS (SELECT o.id, o.status, EXISTS (SELECT 1 FROM outbox n "
	    "WHERE n.repository_id = o.repository_id AND n.sha = o.sha AND "
	    "n.context = o.context AND n.id > o.id AND n.status IN "
	    "('pending', 'delivered')) AS newer FROM outbox o "
	    "WHERE o.id = $1::bigint), "
	    "u AS (UPDATE outbox o SET status = 'pending', not_before = now(), "
	    "lease_until = NULL FROM t WHERE o.id = t.id AND "
	    "t.status = 'failed' AND NOT t.newer "
	    "RETURNING o.id, pg_notify('kiln_outbox', '')) "
	    "SELECT json_build_object('retried', EXISTS (SELECT 1 FROM u), "
	    "'message', CASE WHEN EXISTS (SELECT 1 FROM u) THEN 'call ' || "
	    "t.id || ' queued again' WHEN t.status <> 'failed' THEN 'call ' || "
	    "t.id || ' is ' || t.status || ', not failed' ELSE 'call ' || "
	    "t.id || ': a newer state of its context was sent since' END)"
	    "::text FROM t", 1, params);
}

void
api_runs_list(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = evhttp_uri_get_query(uri), *errstr;
	static const char *const names[] = { "repo", "branch", "event",
	    "status", "before" };
	const char *limit_s, *params[7];
	struct evkeyvalq q;
	struct api_req *a;
	char limit[32];
	int64_t n = 50, before;
	size_t i;

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		http_reply_error(req, 400, "malformed query string");
		return;
	}
	limit_s = evhttp_find_header(&q, "limit");
	if (limit_s != NULL &&
	    parse_int64(limit_s, 1, 1000, &n, &errstr) == -1) {
		http_reply_error(req, 400, "limit \"%.32s\": %s (1 to 1000)",
		    limit_s, errstr);
		goto out;
	}
	for (i = 0; i < nitems(names); i++) {
		params[i] = evhttp_find_header(&q, names[i]);
		if (params[i] != NULL && strlen(params[i]) > 1024) {
			http_reply_error(req, 400, "%s: longer than 1024 bytes",
			    names[i]);
			goto out;
		}
	}
	if (params[4] != NULL &&
	    parse_int64(params[4], 1, INT64_MAX, &before, &errstr) == -1) {
		http_reply_error(req, 400, "before \"%.32s\": %s", params[4],
		    errstr);
		goto out;
	}
	snprintf(limit, sizeof limit, "%lld", (long long)n);
	params[5] = limit;
	a = api_req_new(k, req, 200);
	a->link = api_runs_link(evhttp_uri_get_path(uri), &q);
	if (db_query(k->db,
	    "SELECT coalesce(json_agg(x.j ORDER BY x.id DESC), '[]'), "
	    "CASE WHEN count(*) = $6::int THEN min(x.id) END FROM "
	    "(SELECT r.id, " RUN_JSON " AS j FROM runs r JOIN repositories p "
	    "ON p.id = r.repository_id WHERE ($1::text IS NULL OR "
	    "r.repository_id = (SELECT id FROM repositories WHERE "
	    "full_name = $1)) AND ($2::text IS NULL OR r.head_branch = $2) "
	    "AND ($3::text IS NULL OR r.event = $3) AND ($4::text IS NULL OR "
	    "r.status = $4 OR r.conclusion = $4) AND ($5::bigint IS NULL OR "
	    "r.id < $5::bigint) ORDER BY r.id DESC LIMIT $6::int) x",
	    6, params, api_runs_cb, a) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(a->link);
		free(a);
	}
out:
	evhttp_clear_headers(&q);
}

/* GET /api/v1/jobs/{id}: one job with its steps and annotations. */
void
api_job_show(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *params[1];
	char id[32];

	if (api_parse_id(req, args[0], id, sizeof id) == -1)
		return;
	params[0] = id;
	api_query(k, req, 200,
	    "SELECT (" JOB_JSON " || jsonb_build_object('repository', "
	    "p.full_name, 'run_number', r.run_number, 'workflow', r.name, "
	    "'head_branch', r.head_branch, 'head_sha', r.head_sha))::text "
	    "FROM jobs j JOIN runs r ON r.id = j.run_id "
	    "JOIN repositories p ON p.id = r.repository_id "
	    "WHERE j.id = $1::bigint", 1, params);
}

void
api_run_show(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *params[1];
	char id[32];

	if (api_parse_id(req, args[0], id, sizeof id) == -1)
		return;
	params[0] = id;
	api_query(k, req, 200,
	    "SELECT (" RUN_JSON "::jsonb || jsonb_build_object('jobs', "
	    "(SELECT coalesce(jsonb_agg(" JOB_JSON " ORDER BY j.id), '[]') "
	    "FROM jobs j WHERE j.run_id = r.id AND j.attempt = r.run_attempt)))"
	    "::text "
	    "FROM runs r JOIN repositories p ON p.id = r.repository_id "
	    "WHERE r.id = $1::bigint", 1, params);
}
