/*
 * webhook: POST /hooks/github.  The life of a delivery:
 *
 *   read body (bounded by evhttp's max body size: 413 past 25 MiB)
 *   -> headers present?            400
 *   -> which repository?           400      (scanned, not parsed: below)
 *   -> repository known?           404      (async lookup of its secret)
 *   -> X-Hub-Signature-256 valid?  401      (constant time; nothing stored)
 *   -> payload JSON parses, names
 *      the repository that signed? 400 naming where
 *   -> ping: 200; push: fields?    400 naming the field
 *
 * Nothing unsigned is parsed: a JSON tree costs many times its text, so a
 * flood of unsigned bodies must not reach the parser.  The repository is
 * taken from the URL (/hooks/github/OWNER/NAME) or else found by scanning
 * the text for "full_name" keys (a pull request names its head and base
 * repositories too, so up to HOOK_CANDIDATES distinct names are looked up
 * and the one whose secret verifies the signature wins); after the check
 * the payload is parsed and its repository.full_name must be that one.
 *   -> one statement inserts delivery + event and NOTIFYs workers;
 *      202 only once it has committed, 200 if the delivery was seen before.
 *
 * Deliveries that arrive while earlier ones are committing wait in a batch
 * and are inserted together by one statement: one transaction and one WAL
 * flush for all of them, each still answered only after that commit.  A
 * batch that fails is retried one delivery at a time, so one bad payload
 * cannot fail its neighbours.
 *
 * Memory.  Every delivery held (from its arrival to its answer) counts its
 * body's bytes against [server] webhook_queue_bytes; one that would go
 * past the bound is answered 503 with Retry-After at once, before anything
 * is parsed, so an accepted delivery is never dropped for lack of room.
 * The body is never copied: it stays in the request's input buffer, made
 * contiguous (and NUL-terminated) in place, and that buffer is what libpq
 * is handed as the payload parameter.  The parsed JSON is freed as soon as
 * the few fields stored beside the payload are taken from it.  The body is
 * wiped before the answer, which frees the request and its buffer.
 *
 * The request stays owned by libevent; if the client goes away while the
 * database answers, evhttp detaches the request and our later reply frees it.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "db.h"
#include "event.h"
#include "hubsig.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

#define WEBHOOK_MAX_DELIVERY_ID	128
#define WEBHOOK_MAX_EVENT_NAME	64
#define WEBHOOK_BATCH_MAX	256	/* deliveries per statement: a power of 4 */
_Static_assert((WEBHOOK_BATCH_MAX & (WEBHOOK_BATCH_MAX - 1)) == 0 &&
    (WEBHOOK_BATCH_MAX & 0x55555555) != 0, "hook_flush pads to powers of 4");
#define WEBHOOK_BATCH_BYTES	(16 * 1024 * 1024) /* payload bytes per
						   statement (one may be more) */
#define WEBHOOK_BATCH_INFLIGHT	2	/* statements committing at once */
#define WEBHOOK_RETRY_AFTER	"5"	/* seconds, in 503 answers */
#define HOOK_CANDIDATES		8	/* repository names tried per body */
#define HOOK_MAX_REPO_NAME	256	/* owner/name, bytes */

struct hook;
TAILQ_HEAD(hook_list, hook);

/* The deliveries waiting to be stored, and the statements in flight. */
struct webhook {
	struct kilnd		*kilnd;
	struct hook_list	 pending;
	size_t			 npending;
	int			 inflight;
	size_t			 live;		/* deliveries not yet answered */
	size_t			 live_bytes;	/* their bodies' bytes */
};

/* One statement's deliveries, in order. */
struct hook_batch {
	struct webhook		*wh;
	struct hook_list	 hooks;
	size_t			 n;
	size_t			 bytes;		/* their bodies */
};

struct hook {
	TAILQ_ENTRY(hook)	 entry;
	char			*ref;		/* what hook_store_event stores */
	char			*sha;
	char			*before;
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	char			*body;		/* raw bytes, as signed: the
						   request's own input buffer */
	size_t			 len;
	char			*payload;	/* JSON text: body itself, or the
						   decoded form field (owned) */
	json_t			*json;		/* freed once fields are taken */
	char			*action;	/* payload's "action", or NULL */
	char			*event;
	char			*delivery;
	char			*signature;
	char			*repo_name;	/* verified, or the candidate
						   named in a 404 */
	char			*repo_id;
	char			*candidates;	/* text[] literal for lookup */
	char			*ignored_why;	/* static text, copied */
	int64_t			 started_ms;	/* body read, for metrics */
};

/*
 * Wipe the body (it may hold private code) while the request, which owns
 * it, is still alive: before any answer.
 */
static void
hook_wipe(struct hook *h)
{
	if (h->payload != h->body && h->payload != NULL) {
		OPENSSL_cleanse(h->payload, strlen(h->payload));
		free(h->payload);
	}
	h->payload = NULL;
	if (h->body != NULL)
		OPENSSL_cleanse(h->body, h->len);
	h->body = NULL;
}

/* Every answer: the body wiped first, then the JSON object (stolen). */
static void
hook_reply(struct hook *h, int code, json_t *obj)
{
	char *text;

	hook_wipe(h);
	if (obj == NULL || (text = json_dumps(obj, JSON_COMPACT)) == NULL)
		abort();	/* jansson fails only on OOM */
	metrics_observe_intake(h->kilnd->metrics, (double)(now_ms() -
	    h->started_ms) / 1000.0);
	http_reply_json(h->req, code, text);
	free(text);
	json_decref(obj);
}

/* A 503 the sender may retry, after Retry-After seconds. */
static void
hook_retry_later(struct evhttp_request *req, const char *why)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Retry-After", WEBHOOK_RETRY_AFTER);
	http_reply_error(req, 503, "%s", why);
}

/* An error answer ({"error": ...}) for a held delivery. */
static void KILN_PRINTF(3, 4)
hook_reply_error(struct hook *h, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	hook_wipe(h);
	if (code == 503)
		hook_retry_later(h->req, msg);
	else
		http_reply_error(h->req, code, "%s", msg);
}

static void
hook_free(struct hook *h)
{
	struct webhook *wh = h->kilnd->webhook;

	hook_wipe(h);
	wh->live_bytes -= h->len;
	/* The last answer of a stopping kilnd lets it exit. */
	if (--wh->live == 0 && h->kilnd->stopping)
		kilnd_check_exit(h->kilnd);
	json_decref(h->json);
	free(h->action);
	free(h->event);
	free(h->delivery);
	free(h->signature);
	free(h->repo_name);
	free(h->repo_id);
	free(h->candidates);
	free(h->ignored_why);
	free(h->ref);
	free(h->sha);
	free(h->before);
	free(h);
}

static int
hook_valid_token(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > max)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* Dotted lookup of a string field; NULL when absent or not a string. */
static const char *
hook_string(json_t *root, const char *path)
{
	char key[128];
	const char *p = path, *dot;
	json_t *v = root;

	while (v != NULL && (dot = strchr(p, '.')) != NULL) {
		snprintf(key, sizeof key, "%.*s", (int)(dot - p), p);
		v = json_object_get(v, key);
		p = dot + 1;
	}
	v = v ? json_object_get(v, p) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * The payload fields kilnd reads (per event kind, after the signature is
 * checked).  They are copied out at intake so that the parsed tree, as
 * big as the body, is not held while the delivery waits.
 */
static const char *const hook_kept_fields[] = {
	"action", "ref", "after", "before", "number",
	"pull_request.merge_commit_sha", "pull_request.head.sha",
	"pull_request.base.ref", "installation.id",
};

/* A new tree of root's kept fields (scalars), same paths. */
static json_t *
hook_keep_fields(json_t *root)
{
	json_t *kept = json_object(), *v, *at, *sub;
	char key[128];
	const char *p, *dot;
	size_t i;

	if (json_is_object(json_object_get(root, "pull_request")))
		json_object_set_new(kept, "pull_request", json_object());
	for (i = 0; i < nitems(hook_kept_fields); i++) {
		v = root;
		at = kept;
		for (p = hook_kept_fields[i]; v != NULL &&
		    (dot = strchr(p, '.')) != NULL; p = dot + 1) {
			snprintf(key, sizeof key, "%.*s", (int)(dot - p), p);
			v = json_object_get(v, key);
			if (!json_is_object(v))
				v = NULL;
			else if ((sub = json_object_get(at, key)) == NULL) {
				sub = json_object();
				json_object_set_new(at, key, sub);
			}
			if (v != NULL)
				at = json_object_get(at, key);
		}
		if (v != NULL && (v = json_object_get(v, p)) != NULL &&
		    (json_is_string(v) || json_is_integer(v)))
			json_object_set(at, p, v);
	}
	return kept;
}

static int
hook_is_sha(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 40)
		return 0;
	for (i = 0; i < 40; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static void
hook_reply_accepted(struct hook *h, const char *event_id)
{
	int64_t id = 0;
	const char *errstr;
	char name[256], delivery[160], event[160];

	/* The id comes from our own bigserial column. */
	(void)parse_int64(event_id, 1, INT64_MAX, &id, &errstr);
	/* delivery= is the request id the planner's lines carry on. */
	log_info("delivery accepted: delivery=%s event=%s repo=%s "
	    "event_id=%s", log_kv(h->delivery, 100, delivery,
	    sizeof delivery), log_kv(h->event, 100, event, sizeof event),
	    log_kv(h->repo_name, 100, name, sizeof name), event_id);
	hook_reply(h, 202, json_pack("{s:s, s:I}", "delivery", h->delivery,
	    "event_id", (json_int_t)id));
}

static void
hook_reply_duplicate(struct hook *h)
{
	/* A redelivery: already accepted once, never twice. */
	hook_reply(h, 200, json_pack("{s:s, s:b}", "delivery", h->delivery,
	    "duplicate", 1));
}

static void
hook_insert_cb(PGresult *res, const char *error, void *arg)
{
	struct hook *h = arg;

	if (error != NULL) {
		char why[512];

		log_warnx("storing delivery %s: %s", h->delivery,
		    log_escape(error, 300, why, sizeof why));
		hook_reply_error(h, 500, "could not store the delivery");
	} else if (PQntuples(res) == 0)
		hook_reply_duplicate(h);
	else
		hook_reply_accepted(h, PQgetvalue(res, 0, 0));
	hook_free(h);
}

static void
hook_ignored_cb(PGresult *res, const char *error, void *arg)
{
	struct hook *h = arg;

	if (error != NULL) {
		char why[512];

		log_warnx("recording delivery %s: %s", h->delivery,
		    log_escape(error, 300, why, sizeof why));
		hook_reply_error(h, 500, "could not record the delivery");
	} else if (PQntuples(res) == 0) {
		hook_reply_duplicate(h);
	} else
		hook_reply(h, 202, json_pack("{s:s, s:s}", "delivery",
		    h->delivery, "ignored", h->ignored_why));
	hook_free(h);
}

/*
 * Insert one delivery and its event in ONE statement: one transaction, so
 * the delivery row, the event row and the NOTIFY commit together or not at
 * all.  A known delivery id inserts nothing and returns no row.  Used for a
 * delivery whose batch failed.
 */
static void
hook_store_one(struct hook *h)
{
	const char *params[8];

	params[0] = h->delivery;
	params[1] = h->repo_id;
	params[2] = h->event;
	params[3] = h->ref;
	params[4] = h->sha;
	params[5] = h->before;
	params[6] = h->payload;
	params[7] = h->action;
	if (db_query(h->kilnd->db,
	    "WITH d AS (INSERT INTO deliveries (id, repository_id, event, "
	    "action, outcome) VALUES ($1, $2, $3, $8, 'queued') "
	    "ON CONFLICT (id) DO NOTHING RETURNING id), "
	    "e AS (INSERT INTO events (delivery_id, repository_id, event, ref, "
	    "sha, before_sha, payload) SELECT d.id, $2, $3, $4, $5, $6, $7::jsonb "
	    "FROM d RETURNING id) "
	    "SELECT e.id, pg_notify('kiln_work', 'event') FROM e",
	    8, params, hook_insert_cb, h) == -1) {
		hook_reply_error(h, 503, "database queue is full; retry");
		hook_free(h);
	}
}

static void	hook_flush(struct webhook *);


static void
hook_batch_cb(PGresult *res, const char *error, void *arg)
{
	struct hook_batch *bt = arg;
	struct webhook *wh = bt->wh;
	json_t *ids = json_object();
	struct hook *h;
	int i;

	wh->inflight--;
	if (error == NULL)
		for (i = 0; i < PQntuples(res); i++)
			json_object_set_new(ids, PQgetvalue(res, i, 0),
			    json_string(PQgetvalue(res, i, 1)));
	else
	{
		char why[512];

		log_warnx("storing a batch of %zu deliveries: %s; retrying "
		    "them one by one", bt->n, log_escape(error, 300, why,
		    sizeof why));
	}
	while ((h = TAILQ_FIRST(&bt->hooks)) != NULL) {
		json_t *id;

		TAILQ_REMOVE(&bt->hooks, h, entry);
		if (error != NULL && wh->kilnd->stopping) {
			/* The pool is going away: nothing was stored. */
			hook_reply_error(h, 503, "shutting down; retry");
			hook_free(h);
			continue;
		}
		if (error != NULL) {
			hook_store_one(h);
			continue;
		}
		/* The same id twice in one batch: the first one counts. */
		if ((id = json_object_get(ids, h->delivery)) != NULL) {
			hook_reply_accepted(h, json_string_value(id));
			json_object_del(ids, h->delivery);
		} else
			hook_reply_duplicate(h);
		hook_free(h);
	}
	json_decref(ids);
	free(bt);
	hook_flush(wh);
}

/*
 * Send pending deliveries as one statement, if a slot is free.  $1 is a
 * JSON array (jansson) of each delivery's small fields, which PostgreSQL
 * takes apart with jsonb_to_recordset; $2, $3, ... are the payloads, one
 * parameter each, handed to libpq as the request buffers themselves.  The
 * statement text varies only in how many placeholders it lists: 1, 4, 16,
 * 64 or 256, the unused ones NULL (no delivery's number matches them), so
 * five prepared statements serve every batch.
 */
static void
hook_flush(struct webhook *wh)
{
	struct hook_batch *bt;
	struct hook *h;
	struct buf sql = { 0 };
	const char **params;
	json_t *meta;
	char *metatext, name[32];
	int n, arity, i;

	if (wh->npending == 0 || wh->inflight >= WEBHOOK_BATCH_INFLIGHT)
		return;
	bt = xcalloc(1, sizeof *bt);
	bt->wh = wh;
	TAILQ_INIT(&bt->hooks);
	meta = json_array();
	params = xreallocarray(NULL, WEBHOOK_BATCH_MAX + 1, sizeof *params);
	buf_add_str(&sql,
	    "WITH m AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(n int, "
	    "id text, repo bigint, event text, action text, ref text, sha text, "
	    "before text)), "
	    "p AS (SELECT payload, n FROM unnest(ARRAY[");
	/* libpq holds a statement's parameters at once: bound its bytes. */
	while (bt->n < WEBHOOK_BATCH_MAX &&
	    (h = TAILQ_FIRST(&wh->pending)) != NULL &&
	    (bt->n == 0 || bt->bytes + h->len <= WEBHOOK_BATCH_BYTES)) {
		TAILQ_REMOVE(&wh->pending, h, entry);
		bt->bytes += h->len;
		wh->npending--;
		TAILQ_INSERT_TAIL(&bt->hooks, h, entry);
		n = (int)++bt->n;
		if (json_array_append_new(meta, json_pack("{s:i, s:s, s:s, "
		    "s:s, s:s?, s:s, s:s?, s:s?}", "n", n, "id", h->delivery,
		    "repo", h->repo_id, "event", h->event, "action", h->action,
		    "ref", h->ref, "sha", h->sha, "before", h->before)) == -1)
			abort();
		params[n] = h->payload;
	}
	for (arity = 1; arity < (int)bt->n; arity *= 4)
		;
	for (i = 1; i <= arity; i++) {
		if (i > (int)bt->n)
			params[i] = NULL;
		buf_printf(&sql, "%s$%d::text", i > 1 ? ", " : "", i + 1);
	}
	/*
	 * WITH ORDINALITY keeps the payloads' order; ON CONFLICT DO NOTHING
	 * skips known deliveries and a repeat within the batch alike (the
	 * first one counts), and events are numbered in arrival order.
	 */
	buf_add_str(&sql, "]) WITH ORDINALITY AS u(payload, n)), "
	    "i AS (SELECT m.*, p.payload FROM m JOIN p ON p.n = m.n), "
	    "d AS (INSERT INTO deliveries (id, repository_id, event, action, "
	    "outcome) SELECT id, repo, event, action, 'queued' FROM i ORDER BY n "
	    "ON CONFLICT (id) DO NOTHING RETURNING id), "
	    "e AS (INSERT INTO events (delivery_id, repository_id, event, ref, "
	    "sha, before_sha, payload) SELECT id, repo, event, ref, sha, before, "
	    "payload::jsonb FROM (SELECT DISTINCT ON (i.id) i.* FROM i JOIN d "
	    "ON d.id = i.id ORDER BY i.id, i.n) f ORDER BY n "
	    "RETURNING delivery_id, id), "
	    "x AS (SELECT pg_notify('kiln_work', 'event') WHERE EXISTS "
	    "(SELECT 1 FROM e)) "
	    "SELECT e.delivery_id, e.id FROM e LEFT JOIN x ON true");
	if ((metatext = json_dumps(meta, JSON_COMPACT)) == NULL)
		abort();
	params[0] = metatext;
	snprintf(name, sizeof name, "kiln_intake_%d", arity);
	if (db_query_named(wh->kilnd->db, name, sql.data, arity + 1, params,
	    hook_batch_cb, bt) == -1) {
		while ((h = TAILQ_FIRST(&bt->hooks)) != NULL) {
			TAILQ_REMOVE(&bt->hooks, h, entry);
			hook_reply_error(h, 503, "database queue is full; "
			    "retry");
			hook_free(h);
		}
		free(bt);
	} else
		wh->inflight++;
	free(metatext);
	free(params);
	json_decref(meta);
	buf_free(&sql);
}

/* Queue a validated, signed delivery for storing. */
static void
hook_store_event(struct hook *h, const char *ref, const char *sha,
    const char *before)
{
	struct webhook *wh = h->kilnd->webhook;

	h->ref = xstrdup(ref);
	h->sha = sha ? xstrdup(sha) : NULL;
	h->before = before ? xstrdup(before) : NULL;
	/* Everything stored beside the payload is taken: drop the tree. */
	json_decref(h->json);
	h->json = NULL;
	TAILQ_INSERT_TAIL(&wh->pending, h, entry);
	wh->npending++;
	hook_flush(wh);
}

struct webhook *
webhook_new(struct kilnd *k)
{
	struct webhook *wh = xcalloc(1, sizeof *wh);

	wh->kilnd = k;
	TAILQ_INIT(&wh->pending);
	return wh;
}

int
webhook_idle(const struct webhook *wh)
{
	return wh->live == 0;
}

void
webhook_free(struct webhook *wh)
{
	struct hook *h;

	if (wh == NULL)
		return;
	while ((h = TAILQ_FIRST(&wh->pending)) != NULL) {
		TAILQ_REMOVE(&wh->pending, h, entry);
		hook_reply_error(h, 503, "shutting down");
		hook_free(h);
	}
	free(wh);
}

static void	hook_store_ignored(struct hook *, const char *why);

static void
hook_store_push(struct hook *h)
{
	const char *ref = hook_string(h->json, "ref");
	const char *after = hook_string(h->json, "after");
	const char *before = hook_string(h->json, "before");

	if (ref == NULL) {
		hook_reply_error(h, 400, "push payload: missing field "
		    "\"ref\"");
		goto fail;
	}
	if (!str_has_prefix(ref, "refs/") || strlen(ref) > 1024) {
		hook_reply_error(h, 400, "push payload: field \"ref\" "
		    "must be a full ref name (refs/heads/..., refs/tags/...)");
		goto fail;
	}
	if (after == NULL) {
		hook_reply_error(h, 400, "push payload: missing field "
		    "\"after\"");
		goto fail;
	}
	if (!hook_is_sha(after)) {
		hook_reply_error(h, 400, "push payload: field \"after\" "
		    "is not a 40-digit commit SHA");
		goto fail;
	}
	if (before != NULL && !hook_is_sha(before)) {
		hook_reply_error(h, 400, "push payload: field \"before\" "
		    "is not a 40-digit commit SHA");
		goto fail;
	}
	/* A deleted ref has nothing to build (its after is all zeros). */
	if (strspn(after, "0") == 40) {
		hook_store_ignored(h, "the push deleted the ref");
		return;
	}
	hook_store_event(h, ref, after, before);
	return;
fail:
	hook_free(h);
}

/*
 * pull_request(_target): the run builds GitHub's test merge,
 * refs/pull/N/merge at merge_commit_sha.
 */
static void
hook_store_pull_request(struct hook *h)
{
	json_t *pr = json_object_get(h->json, "pull_request");
	json_t *num = json_object_get(h->json, "number");
	const char *merge = hook_string(h->json,
	    "pull_request.merge_commit_sha");
	char *ref = NULL, *sha = NULL, why[256];

	if (hook_string(h->json, "action") == NULL) {
		hook_reply_error(h, 400, "pull_request payload: missing "
		    "field \"action\"");
		goto fail;
	}
	if (!json_is_object(pr)) {
		hook_reply_error(h, 400, "pull_request payload: missing "
		    "field \"pull_request\"");
		goto fail;
	}
	if (!json_is_integer(num) || json_integer_value(num) <= 0) {
		hook_reply_error(h, 400, "pull_request payload: missing "
		    "or bad field \"number\"");
		goto fail;
	}
	if (!hook_is_sha(hook_string(h->json, "pull_request.head.sha")) ||
	    hook_string(h->json, "pull_request.base.ref") == NULL) {
		hook_reply_error(h, 400, "pull_request payload: missing "
		    "field \"pull_request.head.sha\" or "
		    "\"pull_request.base.ref\"");
		goto fail;
	}
	if (merge != NULL && !hook_is_sha(merge)) {
		hook_reply_error(h, 400, "pull_request payload: field "
		    "\"pull_request.merge_commit_sha\" is not a commit SHA");
		goto fail;
	}
	/*
	 * The ref and commit by the event table's ref rule (common/event.c):
	 * pull_request runs GitHub's test merge refs/pull/N/merge, which
	 * GitHub computes asynchronously, so the payload often has no
	 * merge_commit_sha yet; pull_request_target runs the base branch at
	 * its latest commit.  Without a commit the planner resolves the ref
	 * after fetching (none: nothing runs, as for a merge conflict).
	 */
	if (event_ref(event_kind_find(h->event), h->json, NULL, &ref, &sha,
	    why, sizeof why) == -1) {
		hook_reply_error(h, 400, "%s payload: %s", h->event, why);
		goto fail;
	}
	hook_store_event(h, ref, sha, NULL);
	free(ref);
	free(sha);
	return;
fail:
	hook_free(h);
}

static void
hook_store_ignored(struct hook *h, const char *why)
{
	const char *params[4] = { h->delivery, h->repo_id, h->event,
	    h->action };

	free(h->ignored_why);
	h->ignored_why = xstrdup(why);
	json_decref(h->json);
	h->json = NULL;
	if (db_query(h->kilnd->db,
	    "INSERT INTO deliveries (id, repository_id, event, action, outcome) "
	    "VALUES ($1, $2, $3, $4, 'ignored') ON CONFLICT (id) DO NOTHING "
	    "RETURNING id", 4, params, hook_ignored_cb, h) == -1) {
		hook_reply_error(h, 503, "database queue is full; retry");
		hook_free(h);
	}
}

/*
 * After the signature: parse the payload, require it to name the
 * repository whose secret signed it, keep the fields read later.  0, or
 * -1 once answered.
 */
static int
hook_parse(struct hook *h)
{
	json_error_t jerr;
	const char *name;
	json_t *kept;

	h->json = json_loads(h->payload, JSON_REJECT_DUPLICATES, &jerr);
	if (h->json == NULL) {
		hook_reply_error(h, 400, "malformed JSON payload at line %d, "
		    "column %d: %s", jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(h->json)) {
		hook_reply_error(h, 400, "payload is not a JSON object");
		return -1;
	}
	if ((name = hook_string(h->json, "repository.full_name")) == NULL) {
		hook_reply_error(h, 400, "payload: missing field "
		    "\"repository.full_name\"");
		return -1;
	}
	if (strcmp(name, h->repo_name) != 0) {
		hook_reply_error(h, 400, "payload: \"repository.full_name\" "
		    "is not %s, whose secret signed it", h->repo_name);
		return -1;
	}
	kept = hook_keep_fields(h->json);
	json_decref(h->json);
	h->json = kept;
	return 0;
}

static void
hook_installation_cb(PGresult *res, const char *error, void *arg)
{
	char why[300];

	(void)res;
	(void)arg;
	if (error != NULL)
		log_warnx("storing a repository's GitHub App installation: %s",
		    log_escape(error, 200, why, sizeof why));
}

/*
 * An App's webhook names its installation (installation.id): kept with
 * the repository, the outbox buys that installation's tokens.
 */
static void
hook_store_installation(struct hook *h)
{
	json_t *inst = json_object_get(json_object_get(h->json,
	    "installation"), "id");
	const char *params[2];
	char id[24];

	if (!json_is_integer(inst) || json_integer_value(inst) <= 0)
		return;
	snprintf(id, sizeof id, "%lld", (long long)json_integer_value(inst));
	params[0] = h->repo_id;
	params[1] = id;
	(void)db_query(h->kilnd->db, "UPDATE repositories SET "
	    "gh_installation_id = $2::bigint WHERE id = $1::bigint AND "
	    "gh_installation_id IS DISTINCT FROM $2::bigint", 2, params,
	    hook_installation_cb, NULL);
}

static void
hook_lookup_cb(PGresult *res, const char *error, void *arg)
{
	struct hook *h = arg;
	char *secret;
	size_t secretlen;
	int ok = 0, row;

	if (error != NULL) {
		char name[256], why[512];

		log_warnx("looking up repository %s: %s", log_escape(h->repo_name,
		    100, name, sizeof name), log_escape(error, 300, why,
		    sizeof why));
		hook_reply_error(h, 503, "database unavailable");
		goto done;
	}
	if (PQntuples(res) == 0) {
		hook_reply_error(h, 404, "unknown repository \"%s\" (add it "
		    "with: cictl repo add %s --url ... --secret-file ...)",
		    h->repo_name, h->repo_name);
		goto done;
	}
	for (row = 0; row < PQntuples(res); row++) {
		secret = PQgetvalue(res, row, 1);
		secretlen = (size_t)PQgetlength(res, row, 1);
		ok = h->signature != NULL && hubsig_verify(secret, secretlen,
		    h->body, h->len, h->signature);
		OPENSSL_cleanse(secret, secretlen);
		if (ok) {
			h->repo_id = xstrdup(PQgetvalue(res, row, 0));
			free(h->repo_name);
			h->repo_name = xstrdup(PQgetvalue(res, row, 2));
			break;
		}
	}
	if (!ok) {
		char name[256];

		log_warnx("rejected delivery %s for %s: %s signature",
		    h->delivery, log_escape(h->repo_name, 100, name,
		    sizeof name), h->signature ? "bad" : "missing");
		hook_reply_error(h, 401, "%s X-Hub-Signature-256",
		    h->signature ? "invalid" : "missing");
		goto done;
	}
	if (hook_parse(h) == -1)
		goto done;
	hook_store_installation(h);
	if (strcmp(h->event, "ping") == 0) {
		hook_reply(h, 200, json_pack("{s:s}", "ok", "pong"));
		goto done;
	}
	if (strcmp(h->event, "push") == 0) {
		hook_store_push(h);
		return;
	}
	if (strcmp(h->event, "pull_request") == 0 ||
	    strcmp(h->event, "pull_request_target") == 0) {
		hook_store_pull_request(h);
		return;
	}
	hook_store_ignored(h, "event not handled");
	return;
done:
	hook_free(h);
}

/* A repository name as GitHub spells one: owner/name, no escapes. */
static int
hook_valid_repo_name(const char *s, size_t len)
{
	size_t i, slashes = 0;

	if (len == 0 || len > HOOK_MAX_REPO_NAME)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '/')
			slashes++;
		else if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	}
	return slashes == 1 && s[0] != '/' && s[len - 1] != '/';
}

/* Add name to the text[] literal in b unless there, up to the bound. */
static void
hook_add_candidate(struct buf *b, int *n, const char *name, size_t len)
{
	char quoted[HOOK_MAX_REPO_NAME + 3];

	snprintf(quoted, sizeof quoted, "\"%.*s\"", (int)len, name);
	if (*n >= HOOK_CANDIDATES || (b->data != NULL &&
	    strstr(b->data, quoted) != NULL))
		return;
	buf_add_char(b, *n == 0 ? '{' : ',');
	buf_add_str(b, quoted);
	(*n)++;
}

/*
 * The repository names a payload's text gives as "full_name" values,
 * without parsing it: the first HOOK_CANDIDATES distinct ones, as a text[]
 * literal in b; *first gets the first (caller frees).  Returns how many.
 * Inside a JSON string a quote is escaped, so a key can't be faked there.
 */
static int
hook_candidates(const char *text, size_t len, struct buf *b, char **first)
{
	static const char key[] = "\"full_name\"";
	const char *p = text, *end = text + len, *at, *v;
	int n = 0;

	*first = NULL;
	while (n < HOOK_CANDIDATES && (at = memmem(p, (size_t)(end - p), key,
	    sizeof key - 1)) != NULL) {
		p = at + sizeof key - 1;
		while (p < end && strchr(" \t\r\n", *p) != NULL && *p)
			p++;
		if (p >= end || *p != ':')
			continue;
		for (p++; p < end && strchr(" \t\r\n", *p) != NULL && *p; )
			p++;
		if (p >= end || *p != '"')
			continue;
		v = ++p;
		while (p < end && *p != '"' && p - v <= HOOK_MAX_REPO_NAME)
			p++;
		if (p >= end || *p != '"' || !hook_valid_repo_name(v,
		    (size_t)(p - v)))
			continue;
		if (*first == NULL)
			*first = xstrndup(v, (size_t)(p - v));
		hook_add_candidate(b, &n, v, (size_t)(p - v));
	}
	if (n > 0)
		buf_add_char(b, '}');
	return n;
}

/* application/x-www-form-urlencoded: the JSON is the "payload" field. */
static char *
hook_form_payload(const char *body, size_t len)
{
	struct evkeyvalq fields;
	char *copy = xstrndup(body, len), *out = NULL;
	const char *v;

	TAILQ_INIT(&fields);
	if (evhttp_parse_query_str(copy, &fields) == 0 &&
	    (v = evhttp_find_header(&fields, "payload")) != NULL)
		out = xstrdup(v);
	evhttp_clear_headers(&fields);
	free(copy);
	return out;
}

void
webhook_github(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *buf = evhttp_request_get_input_buffer(req);
	const char *event = evhttp_find_header(in, "X-GitHub-Event");
	const char *delivery = evhttp_find_header(in, "X-GitHub-Delivery");
	const char *sig = evhttp_find_header(in, "X-Hub-Signature-256");
	const char *ctype = evhttp_find_header(in, "Content-Type");
	struct webhook *wh = k->webhook;
	struct buf names = { 0 };
	struct hook *h;
	const char *params[1];
	size_t len, max;
	char *body;

	if (nargs == 2) {
		char path_name[2 * HOOK_MAX_REPO_NAME + 2];

		snprintf(path_name, sizeof path_name, "%s/%s", args[0],
		    args[1]);
		if (!hook_valid_repo_name(path_name, strlen(path_name))) {
			http_reply_error(req, 400, "malformed repository in "
			    "the URL (expected /hooks/github/OWNER/NAME)");
			return;
		}
	}

	metrics_watch_delivery(k->metrics, req);
	if (event == NULL) {
		http_reply_error(req, 400, "missing X-GitHub-Event header");
		return;
	}
	if (!hook_valid_token(event, WEBHOOK_MAX_EVENT_NAME)) {
		http_reply_error(req, 400, "malformed X-GitHub-Event header");
		return;
	}
	if (delivery == NULL) {
		http_reply_error(req, 400, "missing X-GitHub-Delivery header");
		return;
	}
	if (!hook_valid_token(delivery, WEBHOOK_MAX_DELIVERY_ID)) {
		http_reply_error(req, 400, "malformed X-GitHub-Delivery header "
		    "(at most %d letters, digits, '-', '_', '.')",
		    WEBHOOK_MAX_DELIVERY_ID);
		return;
	}
	len = evbuffer_get_length(buf);
	max = (size_t)k->cfg->webhook_queue_bytes;
	/* One delivery alone is always taken, whatever the bound. */
	if (wh->live_bytes > 0 && (len > max || wh->live_bytes > max - len)) {
		log_warnx("delivery %s refused: %zu bytes held, %zu more would "
		    "pass webhook_queue_bytes (%zu)", delivery,
		    wh->live_bytes, len, max);
		hook_retry_later(req, "too many deliveries waiting to be "
		    "stored; retry");
		return;
	}
	/*
	 * The body stays in the request's buffer: one contiguous block with
	 * a NUL after it (text for the parser and for libpq), never copied.
	 */
	if (evbuffer_add(buf, "", 1) == -1 ||
	    (body = (char *)evbuffer_pullup(buf, -1)) == NULL) {
		hook_retry_later(req, "out of memory; retry");
		return;
	}
	h = xcalloc(1, sizeof *h);
	h->started_ms = now_ms();
	h->kilnd = k;
	wh->live++;
	wh->live_bytes += len;
	h->req = req;
	h->len = len;
	h->body = body;
	h->event = xstrdup(event);
	h->delivery = xstrdup(delivery);
	h->signature = sig ? xstrdup(sig) : NULL;

	/*
	 * GitHub's form content type carries the JSON in a "payload" field.
	 * curl -d sends that content type for any body, so a form body that
	 * is plainly a JSON object is taken as JSON.
	 */
	if (ctype != NULL &&
	    str_has_prefix(ctype, "application/x-www-form-urlencoded") &&
	    h->body[strspn(h->body, " \t\r\n")] != '{') {
		if ((h->payload = hook_form_payload(h->body, h->len)) == NULL) {
			http_reply_error(req, 400, "form-encoded body without a "
			    "\"payload\" field");
			goto fail;
		}
	} else {
		if (memchr(h->body, '\0', h->len) != NULL) {
			http_reply_error(req, 400, "payload contains a NUL byte");
			goto fail;
		}
		/* The body is the JSON: no second copy of up to 25 MiB. */
		h->payload = h->body;
	}
	if (nargs == 2) {
		h->repo_name = xasprintf("%s/%s", args[0], args[1]);
		hook_add_candidate(&names, &(int){ 0 }, h->repo_name,
		    strlen(h->repo_name));
		buf_add_char(&names, '}');
	} else if (hook_candidates(h->payload, strlen(h->payload), &names,
	    &h->repo_name) == 0) {
		http_reply_error(req, 400, "payload: no \"repository.full_name\" "
		    "(owner/name) found");
		goto fail;
	}
	h->candidates = buf_steal(&names);
	params[0] = h->candidates;
	if (db_query_named(k->db, "kiln_hook_repo", "SELECT id, secret, "
	    "full_name FROM repositories WHERE full_name = ANY($1::text[]) "
	    "AND removed_at IS NULL ORDER BY id", 1, params,
	    hook_lookup_cb, h) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		goto fail;
	}
	return;
fail:
	hook_free(h);
}
