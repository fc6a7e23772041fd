/*
 * outbox: job states back to GitHub.  The rows of `outbox` (written by a
 * trigger in the same transaction as the state change, sql/009_outbox.sql)
 * are claimed here with a lease, sent with libcurl's multi interface driven
 * by this event loop (curl_multi_socket_action, one libevent event per
 * socket, one timer), and their outcome recorded: delivered, failed (a 4xx
 * other than 429 or a rate limit, with GitHub's message: not retried) or
 * retried later (network errors, 5xx, 429, rate limits) with exponential
 * backoff and jitter, or exactly when Retry-After / X-RateLimit-Reset say.
 * A rate limit pauses every claim until its reset.  Nothing here blocks.
 *
 * A row kilnd dies holding is claimed again when its lease runs out; a
 * commit status is a state, so sending it twice has the effect of once.
 *
 * Two ways to authenticate: [github] token_file (one token for every
 * repository), or App mode ([github] app_id and private_key_file): each
 * repository's installation (stored from its webhooks' installation.id,
 * else asked for with GET /repos/{owner}/{repo}/installation), and that
 * installation's token bought with the App's JWT (POST
 * /app/installations/{id}/access_tokens) on this same loop, cached until
 * 5 minutes before it expires (common/ghapp.c).  While one installation's
 * lookup or token is on its way, the rows needing it wait on that request;
 * a 401 for a cached token drops it, so the next attempt buys a new one.
 *
 * A repository with its own token (cictl repo edit --token-file, sealed
 * in repositories.gh_token, opened here with kilnd's secrets key) is sent
 * commit statuses with that token in either mode: a personal or
 * fine-grained token cannot create check runs, and a repository the App is
 * not installed on still gets its verdicts.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/queue.h>

#include <event2/event.h>
#include <jansson.h>

#include "curl_dl.h"
#include "db.h"
#include "ghapp.h"
#include "kilnd.h"
#include "log.h"
#include "secretbox.h"
#include "util.h"

#define OUTBOX_POLL_MS		500	/* claims while calls run */
#define OUTBOX_REST_MS		60000	/* idle: only NOTIFY or the next due row */
#define OUTBOX_SETTLE_MS	20	/* outcomes gathered, see settle_soon */
#define OUTBOX_LEASE_S		60	/* a claimed row is ours this long */
#define OUTBOX_TIMEOUT_MS	30000	/* one request, whole */
#define OUTBOX_CONNECT_MS	10000
#define OUTBOX_MAX_BODY		(64 * 1024)	/* of an answer we keep */
#define OUTBOX_MAX_HEADER	8192		/* one answer header line */
#define OUTBOX_BACKOFF_MS	1000	/* first retry, doubled each time */
#define OUTBOX_BACKOFF_MAX_MS	(5 * 60 * 1000)
#define OUTBOX_WAIT_MAX_MS	(60 * 60 * 1000) /* cap on a server's wait */
#define OUTBOX_PRUNE_MS		60000
#define OUTBOX_MAX_TOKEN	4096
#define OUTBOX_MAX_ERROR	1000
#define OUTBOX_MAX_SUMMARY	65535	/* GitHub's output.summary */
#define OUTBOX_ANNOTATIONS	50	/* per check run request */

struct outbox {
	struct kilnd	*k;
	struct db	*db;		/* its own connection, see outbox_new() */
	CURLM		*multi;
	struct event	*curl_timer;
	struct event	*poll;
	json_t		*outcomes;	/* of statuses, not yet recorded */
	json_t		*check_outcomes; /* of check run calls, likewise */
	char		*token;		/* token mode; never logged */
	EVP_PKEY	*app_key;	/* App mode: the App's key */
	char		*app_id;
	struct ghapp_cache *tokens;	/* installation tokens */
	char		*api_url;	/* no trailing slash */
	char		*page_url;	/* public_url/jobs/, or NULL */
	int		 max_in_flight;
	int		 in_flight;	/* requests and outcome writes */
	int		 claiming;	/* a kiln_outbox_settle() is running */
	int		 settling;	/* outcomes it records */
	int64_t		 paused_until;	/* now_ms(): a rate limit */
	int64_t		 last_prune;
	unsigned int	 seed;		/* jitter */
	LIST_HEAD(, outbox_req) reqs;	/* requests in flight */
	LIST_HEAD(, outbox_req) auths;	/* App mode: lookups, tokens */
};

/*
 * One HTTP request: a claimed row's call (REQ_ROW), or in App mode a
 * repository's installation lookup (REQ_INSTALL) or an installation's
 * token (REQ_TOKEN), which the rows needing it wait on.
 */
enum outbox_kind { REQ_ROW, REQ_INSTALL, REQ_TOKEN };

struct outbox_req {
	struct outbox	*ob;
	enum outbox_kind kind;
	LIST_ENTRY(outbox_req) entry;	/* reqs, auths or an auth's waiting */
	LIST_HEAD(, outbox_req) waiting; /* REQ_INSTALL/REQ_TOKEN: rows */
	CURL		*easy;
	struct curl_slist *headers;
	char		*url;
	const char	*method;	/* NULL: POST */
	char		*body;
	int		 check;		/* a check run's call (App mode) */
	int		 creating;	/* POST .../check-runs: keep its id */
	int		 batch;		/* annotations in this request */
	int		 more;		/* annotations left after it */
	char		*full_name;	/* owner/name */
	char		*token;		/* the repository's own; never logged */
	int64_t		 installation;	/* 0: not known yet */
	char		 repo_id[24];
	char		 id[24];
	int		 attempts;
	struct buf	 answer;
	int		 answer_cut;
	int64_t		 retry_after_ms;	/* -1: none */
	int64_t		 reset_ms;		/* -1: none (epoch ms) */
	int		 remaining_zero;
	char		 errbuf[CURL_ERROR_SIZE];
};

struct outbox_sock {
	struct event	*ev;
};

static void outbox_kick(struct outbox *, int64_t ms);
static void outbox_rest(struct outbox *);
static void outbox_settle_soon(struct outbox *);

/* Read the token file: a private regular file of one line. */
static char *
outbox_read_token(const char *path, char *err, size_t errsz)
{
	struct stat st;
	char *s;
	size_t len;

	if (stat(path, &st) == -1) {
		snprintf(err, errsz, "[github] token_file %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		snprintf(err, errsz, "[github] token_file %s: must be a "
		    "regular file neither group nor others may read (mode "
		    "%04o)", path, (unsigned)(st.st_mode & 07777));
		return NULL;
	}
	if ((s = file_read_all(path, OUTBOX_MAX_TOKEN, &len)) == NULL) {
		snprintf(err, errsz, "[github] token_file %s: unreadable or "
		    "larger than %d bytes", path, OUTBOX_MAX_TOKEN);
		return NULL;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (!isgraph((unsigned char)s[i])) {
			free(s);
			snprintf(err, errsz, "[github] token_file %s: the "
			    "token must be one line without spaces", path);
			return NULL;
		}
	}
	if (len == 0) {
		free(s);
		snprintf(err, errsz, "[github] token_file %s: empty", path);
		return NULL;
	}
	return s;
}

/* ---- libcurl multi on libevent ---- */

static void outbox_check_done(struct outbox *);

static void
outbox_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;
	int running, flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	CU(curl_multi_socket_action)(ob->multi, fd, flags, &running);
	outbox_check_done(ob);
}

static int
outbox_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct outbox *ob = userp;
	struct outbox_sock *os = socketp;
	short events = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (os != NULL) {
			event_free(os->ev);
			free(os);
			CU(curl_multi_assign)(ob->multi, s, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EV_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EV_WRITE;
	if (os == NULL) {
		os = xcalloc(1, sizeof *os);
		os->ev = event_new(ob->k->base, s, events, outbox_sock_cb, ob);
		CU(curl_multi_assign)(ob->multi, s, os);
	} else {
		event_del(os->ev);
		event_assign(os->ev, ob->k->base, s, events, outbox_sock_cb,
		    ob);
	}
	event_add(os->ev, NULL);
	return 0;
}

static void
outbox_curl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;
	int running;

	(void)fd;
	(void)what;
	CU(curl_multi_socket_action)(ob->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	outbox_check_done(ob);
}

static int
outbox_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct outbox *ob = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(ob->curl_timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(ob->curl_timer, &tv);
	return 0;
}

/* ---- one request ---- */

static size_t
outbox_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct outbox_req *r = arg;
	size_t len = size * n, room;

	room = OUTBOX_MAX_BODY - r->answer.len;
	if (len > room) {
		r->answer_cut = 1;
		buf_add(&r->answer, p, room);
	} else
		buf_add(&r->answer, p, len);
	return len;
}

/* A header's value when line is "name: value"; NULL otherwise. */
static const char *
outbox_header(const char *line, size_t len, const char *name, char *out,
    size_t outsz)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	v = line + nl + 1;
	vl = len - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && isspace((unsigned char)v[vl - 1]))
		vl--;
	if (vl >= outsz)
		return NULL;
	memcpy(out, v, vl);
	out[vl] = '\0';
	return out;
}

static size_t
outbox_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct outbox_req *r = arg;
	size_t len = size * n;
	char v[128];
	int64_t x;

	if (len > OUTBOX_MAX_HEADER)
		return len;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new answer (after a 100 Continue or a redirect). */
		r->retry_after_ms = r->reset_ms = -1;
		r->remaining_zero = 0;
	} else if (outbox_header(p, len, "Retry-After", v, sizeof v)) {
		time_t when;

		if (parse_int64(v, 0, OUTBOX_WAIT_MAX_MS / 1000, &x, NULL) == 0)
			r->retry_after_ms = x * 1000;
		else if ((when = CU(curl_getdate)(v, NULL)) != (time_t)-1)
			r->retry_after_ms = (int64_t)when * 1000 -
			    (int64_t)time(NULL) * 1000;
	} else if (outbox_header(p, len, "X-RateLimit-Reset", v, sizeof v)) {
		if (parse_int64(v, 0, INT64_MAX / 1000, &x, NULL) == 0)
			r->reset_ms = x * 1000;
	} else if (outbox_header(p, len, "X-RateLimit-Remaining", v,
	    sizeof v)) {
		r->remaining_zero = strcmp(v, "0") == 0;
	}
	return len;
}

static void
outbox_req_free(struct outbox_req *r)
{
	LIST_REMOVE(r, entry);
	if (r->easy != NULL) {
		CU(curl_multi_remove_handle)(r->ob->multi, r->easy);
		CU(curl_easy_cleanup)(r->easy);
	}
	CU(curl_slist_free_all)(r->headers);
	free(r->url);
	free(r->body);
	free(r->full_name);
	if (r->token != NULL)
		explicit_bzero(r->token, strlen(r->token));
	free(r->token);
	buf_free(&r->answer);
	free(r);
}

/* GitHub's message from an error answer, bounded. */
static char *
outbox_answer_message(struct outbox_req *r)
{
	json_t *j, *errs, *e;
	const char *m;
	struct buf b = { 0 };
	size_t i;

	j = r->answer.len ? json_loadb(r->answer.data, r->answer.len, 0,
	    NULL) : NULL;
	if ((m = json_string_value(json_object_get(j, "message"))) != NULL)
		buf_add_str(&b, m);
	errs = json_object_get(j, "errors");
	json_array_foreach(errs, i, e) {
		const char *em = json_string_value(json_object_get(e,
		    "message"));

		if (em == NULL)
			em = json_string_value(json_object_get(e, "code"));
		if (em != NULL)
			buf_printf(&b, "%s%s", b.len ? "; " : "", em);
	}
	json_decref(j);
	if (b.len == 0)
		buf_add_str(&b, r->answer.len > 0 ? r->answer.data :
		    "(no message)");
	if (b.len > OUTBOX_MAX_ERROR)
		b.data[OUTBOX_MAX_ERROR] = '\0';
	return buf_steal(&b);
}

static int64_t
outbox_backoff(struct outbox *ob, int attempts)
{
	int64_t d = OUTBOX_BACKOFF_MS;

	while (--attempts > 0 && d < OUTBOX_BACKOFF_MAX_MS)
		d *= 2;
	if (d > OUTBOX_BACKOFF_MAX_MS)
		d = OUTBOX_BACKOFF_MAX_MS;
	/* Full jitter over the upper half. */
	return d / 2 + (int64_t)(rand_r(&ob->seed) % (unsigned)(d / 2 + 1));
}

/*
 * Record a row's attempt; a check run's also keeps the check run's id
 * (check_run > 0) and counts batch annotations sent ("more": the row
 * goes again at once with the next batch).
 */
static void
outbox_record_check(struct outbox_req *r, const char *outcome, long code,
    const char *error, int64_t wait, int64_t check_run, int batch)
{
	struct outbox *ob = r->ob;
	json_t *o;

	log_debug("outbox: call %s: %s (HTTP %ld)", r->id, outcome, code);
	o = json_pack("{s:s, s:s, s:o, s:o, s:I}", "id", r->id, "outcome",
	    outcome, "http", code ? json_integer(code) : json_null(),
	    "error", error != NULL ? json_string(error) : json_null(),
	    "delay", (json_int_t)wait);
	/* An error that is not UTF-8 is kept as GitHub's words can be. */
	if (o == NULL)
		o = json_pack("{s:s, s:s, s:o, s:s, s:I}", "id", r->id,
		    "outcome", outcome, "http", code ? json_integer(code) :
		    json_null(), "error", "(GitHub's message is not UTF-8)",
		    "delay", (json_int_t)wait);
	if (r->check) {
		json_object_set_new(o, "run", check_run > 0 ?
		    json_integer(check_run) : json_null());
		json_object_set_new(o, "batch", json_integer(batch));
	}
	json_array_append_new(r->check ? ob->check_outcomes : ob->outcomes,
	    o);
	outbox_settle_soon(ob);
	outbox_req_free(r);
}

/*
 * Record a row's attempt: outcome "delivered", "failed" or "retry" (after
 * wait ms), code the HTTP status (0: none), error the reason; frees r.
 */
static void
outbox_record(struct outbox_req *r, const char *outcome, long code,
    const char *error, int64_t wait)
{
	outbox_record_check(r, outcome, code, error, wait, 0, 0);
}

/*
 * What an answer means: "ok" (2xx), "retry" (network errors, 5xx, 429,
 * rate limits: *waitp ms, a rate limit pausing every claim) or "failed"
 * (other 4xx).  *errorp gets the reason (caller frees) unless "ok".
 */
static const char *
outbox_judge(struct outbox_req *r, CURLcode cc, long code, char **errorp,
    int64_t *waitp)
{
	struct outbox *ob = r->ob;
	int64_t wait, wall = (int64_t)time(NULL) * 1000;

	*errorp = NULL;
	*waitp = 0;
	if (cc != CURLE_OK) {
		*errorp = xasprintf("%s", r->errbuf[0] ? r->errbuf :
		    CU(curl_easy_strerror)(cc));
		*waitp = outbox_backoff(ob, r->attempts);
		return "retry";
	}
	if (code >= 200 && code < 300)
		return "ok";
	*errorp = outbox_answer_message(r);
	if (!(code == 429 || code >= 500 || (code == 403 &&
	    (r->remaining_zero || r->retry_after_ms >= 0))))
		return "failed";
	wait = outbox_backoff(ob, r->attempts);
	if (r->retry_after_ms >= 0)
		wait = r->retry_after_ms;
	else if (r->remaining_zero && r->reset_ms >= 0)
		wait = r->reset_ms - wall;
	if (wait < 0)
		wait = 0;
	if (wait > OUTBOX_WAIT_MAX_MS)
		wait = OUTBOX_WAIT_MAX_MS;
	if (code == 429 || code == 403) {
		/* Every request shares the limit: pause them all. */
		if (now_ms() + wait > ob->paused_until)
			ob->paused_until = now_ms() + wait;
		log_warnx("outbox: rate limited (HTTP %ld); pausing "
		    "delivery %lld ms", code, (long long)wait);
	}
	*waitp = wait;
	return "retry";
}

static void outbox_authorize(struct outbox_req *);

/* A check run's call answered 2xx: keep its id, go on with annotations. */
static void
outbox_finish_check(struct outbox_req *r, long code)
{
	int64_t run = 0;
	json_t *j, *id;

	if (r->creating) {
		j = r->answer_cut ? NULL : json_loadb(r->answer.data ?
		    r->answer.data : "", r->answer.len, 0, NULL);
		id = json_object_get(j, "id");
		if (json_is_integer(id) && json_integer_value(id) > 0)
			run = json_integer_value(id);
		json_decref(j);
		if (run == 0) {
			/* Created but unknown: a retry would make another. */
			outbox_record(r, "failed", code, "GitHub's answer to "
			    "POST check-runs has no id", 0);
			return;
		}
	}
	outbox_record_check(r, r->more ? "more" : "delivered", code, NULL, 0,
	    run, r->batch);
}

/* A row's call answered (or not). */
static void
outbox_finish_row(struct outbox_req *r, CURLcode cc, long code)
{
	struct outbox *ob = r->ob;
	const char *outcome;
	char *error, why[300];
	int64_t wait;

	outcome = outbox_judge(r, cc, code, &error, &wait);
	if (strcmp(outcome, "ok") == 0 && r->check) {
		outbox_finish_check(r, code);
		return;
	}
	if (strcmp(outcome, "ok") == 0)
		outcome = "delivered";
	else if (code == 401 && ob->tokens != NULL && r->token == NULL) {
		/* The installation token expired or was revoked early. */
		ghapp_cache_drop(ob->tokens, r->installation);
		outcome = "retry";
		wait = outbox_backoff(ob, r->attempts);
		log_warnx("outbox: installation %lld's token refused (HTTP "
		    "401); buying a new one", (long long)r->installation);
	} else if (strcmp(outcome, "failed") == 0)
		log_warnx("outbox: call %s refused (HTTP %ld): %s", r->id,
		    code, log_escape(error, 200, why, sizeof why));
	outbox_record(r, outcome, code, error, wait);
	free(error);
}

static void
outbox_installation_cb(PGresult *res, const char *error, void *arg)
{
	char why[300];

	(void)res;
	(void)arg;
	if (error != NULL)
		log_warnx("outbox: storing an installation: %s",
		    log_escape(error, 200, why, sizeof why));
}

/* Store (id > 0) or forget (0) a repository's installation. */
static void
outbox_store_installation(struct outbox *ob, const char *repo_id,
    int64_t id)
{
	char v[24];
	const char *params[2] = { repo_id, id > 0 ? v : NULL };

	snprintf(v, sizeof v, "%lld", (long long)id);
	(void)db_query(ob->db, "UPDATE repositories SET gh_installation_id "
	    "= $2::bigint WHERE id = $1::bigint", 2, params,
	    outbox_installation_cb, NULL);
}

/*
 * An installation lookup or token answered: on success the rows waiting
 * on it go on (to their token, or sent); otherwise each is recorded with
 * the reason, to be retried or failed as the answer says.
 */
static void
outbox_finish_auth(struct outbox_req *a, CURLcode cc, long code)
{
	struct outbox *ob = a->ob;
	struct outbox_req *r;
	const char *outcome;
	char *error, *token = NULL, *why = NULL, esc[300];
	int64_t wait, expires = 0, inst = 0;
	json_t *j, *id;

	outcome = outbox_judge(a, cc, code, &error, &wait);
	if (strcmp(outcome, "ok") == 0 && a->kind == REQ_INSTALL) {
		j = json_loadb(a->answer.data ? a->answer.data : "",
		    a->answer.len, 0, NULL);
		id = json_object_get(j, "id");
		if (json_is_integer(id) && json_integer_value(id) > 0)
			inst = json_integer_value(id);
		json_decref(j);
		if (inst == 0)
			why = xasprintf("GET /repos/%s/installation: no "
			    "installation id in the answer", a->full_name);
		else
			outbox_store_installation(ob, a->repo_id, inst);
	} else if (strcmp(outcome, "ok") == 0) {
		char perr[200];

		if (a->answer_cut || ghapp_token_parse(a->answer.data ?
		    a->answer.data : "", a->answer.len, &token, &expires,
		    perr, sizeof perr) == -1)
			why = xasprintf("installation %lld's token: %s",
			    (long long)a->installation, a->answer_cut ?
			    "answer too large" : perr);
		else
			ghapp_cache_put(ob->tokens, a->installation, token,
			    expires);
	} else {
		why = xasprintf("%s: HTTP %ld: %s", a->kind == REQ_INSTALL ?
		    "the App's installation on the repository" :
		    "an installation token", code, error);
		if (code == 404 && a->kind == REQ_INSTALL) {
			free(why);
			why = xasprintf("the GitHub App is not installed on "
			    "%s (HTTP 404 from GET /repos/%s/installation)",
			    a->full_name, a->full_name);
		}
		if (code == 404 && a->kind == REQ_TOKEN) {
			/* Uninstalled (perhaps installed again): ask anew. */
			outcome = "retry";
			LIST_FOREACH(r, &a->waiting, entry)
				outbox_store_installation(ob, r->repo_id, 0);
		}
		if (wait == 0)
			wait = outbox_backoff(ob, a->attempts);
	}
	if (why != NULL)
		log_warnx("outbox: %s", log_escape(why, 250, esc, sizeof esc));
	while ((r = LIST_FIRST(&a->waiting)) != NULL) {
		LIST_REMOVE(r, entry);
		LIST_INSERT_HEAD(&ob->reqs, r, entry);
		if (why != NULL) {
			outbox_record(r, strcmp(outcome, "ok") == 0 ? "retry" :
			    outcome, code, why, wait > 0 ? wait :
			    outbox_backoff(ob, r->attempts));
			continue;
		}
		if (a->kind == REQ_INSTALL)
			r->installation = inst;
		outbox_authorize(r);
	}
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	free(why);
	free(error);
	outbox_req_free(a);
}

static void
outbox_check_done(struct outbox *ob)
{
	CURLMsg *m;
	int left;
	long code;
	struct outbox_req *r;

	while ((m = CU(curl_multi_info_read)(ob->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CU(curl_easy_getinfo)(m->easy_handle, CURLINFO_PRIVATE,
		    (char **)&r);
		code = 0;
		if (m->data.result == CURLE_OK)
			CU(curl_easy_getinfo)(r->easy, CURLINFO_RESPONSE_CODE,
			    &code);
		if (r->kind == REQ_ROW)
			outbox_finish_row(r, m->data.result, code);
		else
			outbox_finish_auth(r, m->data.result, code);
	}
}

static int
outbox_hex(const char *s)
{
	size_t n = strlen(s);

	if (n != 40 && n != 64)
		return 0;
	return strspn(s, "0123456789abcdef") == n;
}

/*
 * Send r: method (NULL: POST), its url and body (NULL: none), with
 * "Authorization: Bearer credential".  0, or -1 when libcurl refused it.
 */
static int
outbox_http(struct outbox_req *r, const char *method, const char *credential)
{
	struct outbox *ob = r->ob;
	char *auth;

	auth = xasprintf("Authorization: Bearer %s", credential);
	r->headers = CU(curl_slist_append)(r->headers, auth);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	r->headers = CU(curl_slist_append)(r->headers,
	    "Accept: application/vnd.github+json");
	r->headers = CU(curl_slist_append)(r->headers,
	    "X-GitHub-Api-Version: 2022-11-28");
	r->headers = CU(curl_slist_append)(r->headers,
	    "Content-Type: application/json");
	r->headers = CU(curl_slist_append)(r->headers, "Expect:");

	r->easy = CU(curl_easy_init)();
	CU(curl_easy_setopt)(r->easy, CURLOPT_URL, r->url);
	CU(curl_easy_setopt)(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	CU(curl_easy_setopt)(r->easy, CURLOPT_HTTPHEADER, r->headers);
	CU(curl_easy_setopt)(r->easy, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	if (r->body != NULL)
		CU(curl_easy_setopt)(r->easy, CURLOPT_POSTFIELDS, r->body);
	else if (method == NULL)
		CU(curl_easy_setopt)(r->easy, CURLOPT_POSTFIELDS, "{}");
	if (method != NULL)
		CU(curl_easy_setopt)(r->easy, CURLOPT_CUSTOMREQUEST, method);
	CU(curl_easy_setopt)(r->easy, CURLOPT_NOSIGNAL, 1L);
	CU(curl_easy_setopt)(r->easy, CURLOPT_TIMEOUT_MS, (long)OUTBOX_TIMEOUT_MS);
	CU(curl_easy_setopt)(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)OUTBOX_CONNECT_MS);
	CU(curl_easy_setopt)(r->easy, CURLOPT_WRITEFUNCTION, outbox_write_cb);
	CU(curl_easy_setopt)(r->easy, CURLOPT_WRITEDATA, r);
	CU(curl_easy_setopt)(r->easy, CURLOPT_HEADERFUNCTION, outbox_header_cb);
	CU(curl_easy_setopt)(r->easy, CURLOPT_HEADERDATA, r);
	CU(curl_easy_setopt)(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	CU(curl_easy_setopt)(r->easy, CURLOPT_PRIVATE, r);
	if (CU(curl_multi_add_handle)(ob->multi, r->easy) != CURLM_OK) {
		CU(curl_easy_cleanup)(r->easy);
		r->easy = NULL;
		log_warnx("outbox: curl_multi_add_handle failed");
		return -1;
	}
	return 0;
}

/* Send a row's call with credential, or record why it could not go. */
static void
outbox_start(struct outbox_req *r, const char *credential)
{
	if (outbox_http(r, r->method, credential) == -1)
		outbox_record(r, "retry", 0, "libcurl refused the request",
		    outbox_backoff(r->ob, r->attempts));
}

/*
 * App mode: the lookup or token request a row waits on, started if none
 * is on its way (an installation's token, or a repository's installation
 * when inst is 0).
 */
static struct outbox_req *
outbox_auth_request(struct outbox *ob, struct outbox_req *row)
{
	struct outbox_req *a;
	char err[200], *jwt;
	enum outbox_kind kind = row->installation ? REQ_TOKEN : REQ_INSTALL;

	LIST_FOREACH(a, &ob->auths, entry)
		if (a->kind == kind && (kind == REQ_TOKEN ?
		    a->installation == row->installation :
		    strcmp(a->full_name, row->full_name) == 0))
			return a;
	if ((jwt = ghapp_jwt(ob->app_key, ob->app_id, (int64_t)time(NULL),
	    err, sizeof err)) == NULL) {
		log_warnx("outbox: the App's JWT: %s", err);
		return NULL;
	}
	a = xcalloc(1, sizeof *a);
	a->ob = ob;
	a->kind = kind;
	LIST_INIT(&a->waiting);
	a->retry_after_ms = a->reset_ms = -1;
	a->attempts = row->attempts;
	a->installation = row->installation;
	a->full_name = xstrdup(row->full_name);
	snprintf(a->repo_id, sizeof a->repo_id, "%s", row->repo_id);
	snprintf(a->id, sizeof a->id, "%s", kind == REQ_TOKEN ? "token" :
	    "installation");
	if (kind == REQ_TOKEN)
		a->url = xasprintf("%s/app/installations/%lld/access_tokens",
		    ob->api_url, (long long)row->installation);
	else
		a->url = xasprintf("%s/repos/%s/installation", ob->api_url,
		    row->full_name);
	LIST_INSERT_HEAD(&ob->auths, a, entry);
	if (outbox_http(a, kind == REQ_TOKEN ? NULL : "GET", jwt) == -1) {
		outbox_req_free(a);
		a = NULL;
	}
	explicit_bzero(jwt, strlen(jwt));
	free(jwt);
	return a;
}

/* Send a row's call with the credential it needs, or make it wait. */
static void
outbox_authorize(struct outbox_req *r)
{
	struct outbox *ob = r->ob;
	struct outbox_req *a;
	const char *token;

	if (r->token != NULL || ob->tokens == NULL) {
		outbox_start(r, r->token != NULL ? r->token : ob->token);
		return;
	}
	if (r->installation != 0 && (token = ghapp_cache_get(ob->tokens,
	    r->installation, (int64_t)time(NULL))) != NULL) {
		outbox_start(r, token);
		return;
	}
	if ((a = outbox_auth_request(ob, r)) == NULL) {
		outbox_record(r, "retry", 0, "could not ask GitHub for an "
		    "installation token (kilnd's log says why)",
		    outbox_backoff(ob, r->attempts));
		return;
	}
	LIST_REMOVE(r, entry);
	LIST_INSERT_HEAD(&a->waiting, r, entry);
}

/* A claimed row's column by number, NULL when SQL NULL. */
static const char *
outbox_col(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/*
 * The step summaries as a check run's output.summary: at most
 * OUTBOX_MAX_SUMMARY bytes (so characters), cut at a character boundary
 * with a marker saying so.
 */
static json_t *
outbox_summary(const char *text, const char *fallback)
{
	static const char marker[] = "\n\n---\n*kiln: the step summaries "
	    "were cut here, at GitHub's 65,535 characters; the whole text is "
	    "on the job's page.*\n";
	size_t len, cut;
	char *s;
	json_t *j;

	if (text == NULL || *text == '\0')
		return json_string(fallback);
	if ((len = strlen(text)) <= OUTBOX_MAX_SUMMARY)
		return json_string(text);
	cut = OUTBOX_MAX_SUMMARY - (sizeof marker - 1);
	while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80)
		cut--;
	s = xasprintf("%.*s%s", (int)cut, text, marker);
	j = json_string(s);
	free(s);
	return j;
}

/* One annotations row (kiln_outbox_claim) as GitHub's check annotation. */
static json_t *
outbox_annotation(json_t *a, const char *workflow_path)
{
	const char *level = json_string_value(json_object_get(a, "level"));
	const char *file = json_string_value(json_object_get(a, "file"));
	const char *title = json_string_value(json_object_get(a, "title"));
	json_int_t line = json_integer_value(json_object_get(a, "line"));
	json_int_t end = json_integer_value(json_object_get(a, "end_line"));
	json_int_t col = json_integer_value(json_object_get(a, "col"));
	json_int_t end_col = json_integer_value(json_object_get(a,
	    "end_col"));
	json_t *out;

	if (line < 1)
		line = 1;
	if (end < line)
		end = line;
	out = json_pack("{s:s, s:I, s:I, s:s, s:s}", "path",
	    file != NULL && *file != '\0' ? file : workflow_path,
	    "start_line", line, "end_line", end, "annotation_level",
	    level != NULL && strcmp(level, "error") == 0 ? "failure" :
	    level != NULL && strcmp(level, "warning") == 0 ? "warning" :
	    "notice", "message", json_string_value(json_object_get(a,
	    "message")) ? json_string_value(json_object_get(a, "message")) :
	    "");
	/* Columns only within one line, as GitHub takes them. */
	if (col > 0 && end == line) {
		json_object_set_new(out, "start_column", json_integer(col));
		json_object_set_new(out, "end_column", json_integer(end_col >=
		    col ? end_col : col));
	}
	if (title != NULL && *title != '\0')
		json_object_set_new(out, "title", json_string(title));
	return out;
}

/*
 * App mode: a row as a check run call -- POST .../check-runs the first
 * time, then PATCH .../check-runs/{id} -- with its status, conclusion,
 * output (final rows: the step summaries and the next batch of
 * annotations).  -1 when the row's job is gone.
 */
static int
outbox_check_call(struct outbox *ob, struct outbox_req *r, PGresult *res,
    int row)
{
	const char *job = outbox_col(res, row, 7);
	const char *status = outbox_col(res, row, 11);
	const char *conclusion = outbox_col(res, row, 12);
	const char *run = outbox_col(res, row, 13);
	const char *started = outbox_col(res, row, 14);
	const char *completed = outbox_col(res, row, 15);
	const char *wf = outbox_col(res, row, 16);
	const char *desc = PQgetvalue(res, row, 6);
	json_t *j, *anns, *list, *a, *out;
	int64_t sent = 0, total = 0;
	size_t i;

	/* No job: a run that could not start (sql/031), completed at once. */
	if (status == NULL || (job == NULL && strcmp(status, "completed") != 0))
		return -1;
	r->check = 1;
	j = json_pack("{s:s, s:s}", "name", PQgetvalue(res, row, 4),
	    "status", status);
	if (job != NULL)
		json_object_set_new(j, "external_id", json_string(job));
	if (ob->page_url != NULL && job != NULL) {
		char *target = xasprintf("%s%s", ob->page_url, job);

		json_object_set_new(j, "details_url", json_string(target));
		free(target);
	}
	if (started != NULL)
		json_object_set_new(j, "started_at", json_string(started));
	if (strcmp(status, "completed") == 0) {
		json_object_set_new(j, "conclusion", json_string(conclusion ?
		    conclusion : "failure"));
		if (completed != NULL)
			json_object_set_new(j, "completed_at",
			    json_string(completed));
		(void)parse_int64(PQgetvalue(res, row, 19), 0, INT32_MAX,
		    &sent, NULL);
		(void)parse_int64(PQgetvalue(res, row, 20), 0, INT32_MAX,
		    &total, NULL);
		out = json_pack("{s:s, s:o}", "title", desc, "summary",
		    outbox_summary(outbox_col(res, row, 17), desc));
		anns = json_loads(PQgetvalue(res, row, 18), 0, NULL);
		list = json_array();
		json_array_foreach(anns, i, a) {
			if (i >= OUTBOX_ANNOTATIONS)
				break;
			json_array_append_new(list, outbox_annotation(a,
			    wf ? wf : ".github"));
		}
		json_decref(anns);
		r->batch = (int)json_array_size(list);
		r->more = sent + r->batch < total;
		if (r->batch > 0)
			json_object_set_new(out, "annotations", list);
		else
			json_decref(list);
		json_object_set_new(j, "output", out);
	}
	if (run == NULL) {
		r->creating = 1;
		json_object_set_new(j, "head_sha", json_string(PQgetvalue(res,
		    row, 2)));
		r->url = xasprintf("%s/repos/%s/check-runs", ob->api_url,
		    r->full_name);
	} else {
		r->method = "PATCH";
		r->url = xasprintf("%s/repos/%s/check-runs/%s", ob->api_url,
		    r->full_name, run);
	}
	r->body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return 0;
}

/*
 * Open a claimed row's repository token into r->token; -1 when it does
 * not open (another key, or tampered with): the row is recorded failed.
 */
static int
outbox_open_token(struct outbox *ob, struct outbox_req *r,
    const char *sealed)
{
	char why[200], *aad, *plain, *error;
	size_t len;
	int rc;

	aad = repos_token_aad(r->full_name);
	rc = secretbox_open(ob->k->secret_key, sealed, aad, &plain, &len, why,
	    sizeof why);
	free(aad);
	if (rc == -1) {
		error = xasprintf("the token of %s (cictl repo edit "
		    "--token-file) cannot be opened with [secrets] key_file: "
		    "%s", r->full_name, why);
		outbox_record(r, "failed", 0, error, 0);
		free(error);
		return -1;
	}
	r->token = xstrdup(plain);
	secretbox_free(plain, len);
	return 0;
}

/* Start the request of one claimed row (columns of kiln_outbox_claim). */
static void
outbox_send(struct outbox *ob, PGresult *res, int row)
{
	struct outbox_req *r = xcalloc(1, sizeof *r);
	const char *full_name = PQgetvalue(res, row, 1);
	const char *sha = PQgetvalue(res, row, 2);
	json_t *j;
	int64_t attempts;

	r->ob = ob;
	r->kind = REQ_ROW;
	LIST_INIT(&r->waiting);
	LIST_INSERT_HEAD(&ob->reqs, r, entry);
	r->retry_after_ms = r->reset_ms = -1;
	snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, row, 0));
	snprintf(r->repo_id, sizeof r->repo_id, "%s", PQgetvalue(res, row,
	    9));
	r->full_name = xstrdup(full_name);
	if (parse_int64(PQgetvalue(res, row, 8), 0, 1000000, &attempts, NULL) == 0)
		r->attempts = (int)attempts;
	if (PQgetisnull(res, row, 10) || parse_int64(PQgetvalue(res, row, 10),
	    1, INT64_MAX, &r->installation, NULL) == -1)
		r->installation = 0;
	ob->in_flight++;
	if (!outbox_hex(sha) || strchr(full_name, '/') == NULL ||
	    strspn(full_name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789-_./") != strlen(full_name)) {
		outbox_record(r, "failed", 0, "not a repository name and "
		    "commit GitHub knows", 0);
		return;
	}
	if (!PQgetisnull(res, row, 21) && outbox_open_token(ob, r,
	    PQgetvalue(res, row, 21)) == -1)
		return;
	if (ob->tokens != NULL && r->token == NULL) {
		if (outbox_check_call(ob, r, res, row) == -1)
			outbox_record(r, "failed", 0, "the job of this check run "
			    "is gone", 0);
		else
			outbox_authorize(r);
		return;
	}
	j = json_pack("{s:s, s:s, s:s}", "state", PQgetvalue(res, row, 5),
	    "context", PQgetvalue(res, row, 4),
	    "description", PQgetvalue(res, row, 6));
	if (ob->page_url != NULL && !PQgetisnull(res, row, 7)) {
		char *target = xasprintf("%s%s", ob->page_url,
		    PQgetvalue(res, row, 7));

		json_object_set_new(j, "target_url", json_string(target));
		free(target);
	}
	r->body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	r->url = xasprintf("%s/repos/%s/statuses/%s", ob->api_url, full_name,
	    sha);
	outbox_authorize(r);
}

static void
outbox_claim_cb(PGresult *res, const char *error, void *arg)
{
	struct outbox *ob = arg;
	char why[300];
	int i, n = 0;

	ob->claiming = 0;
	ob->in_flight -= ob->settling;
	if (error != NULL) {
		/* Their leases run out: sent again, a state twice. */
		log_warnx("outbox: recording %d outcome(s) and claiming: %s",
		    ob->settling, log_escape(error, 200, why, sizeof why));
	} else {
		n = PQntuples(res);
		for (i = 0; i < n; i++)
			outbox_send(ob, res, i);
	}
	ob->settling = 0;
	/* It filled every free slot: what completes next kicks. */
	outbox_settle_soon(ob);
	if (error == NULL && n == 0 && ob->in_flight == 0 &&
	    json_array_size(ob->outcomes) == 0 &&
	    json_array_size(ob->check_outcomes) == 0 && !ob->k->stopping)
		outbox_rest(ob);
	else
		outbox_kick(ob, OUTBOX_POLL_MS);
}

static void
outbox_rest_cb(PGresult *res, const char *error, void *arg)
{
	struct outbox *ob = arg;
	int64_t due = OUTBOX_REST_MS;

	if (error != NULL || PQntuples(res) != 1)
		due = OUTBOX_POLL_MS;
	else if (!PQgetisnull(res, 0, 0))
		due = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	/* Due now but not ours to claim (another kilnd's): as before. */
	if (due < OUTBOX_POLL_MS)
		due = OUTBOX_POLL_MS;
	outbox_kick(ob, due < OUTBOX_REST_MS ? due : OUTBOX_REST_MS);
}

/*
 * Nothing claimed, nothing running: the next look is when the first
 * pending row comes due (a retry's backoff, another kilnd's lease), or a
 * NOTIFY kiln_outbox (a new row, a retry by hand), or OUTBOX_REST_MS --
 * not a claim every OUTBOX_POLL_MS that finds nothing, which kept this
 * connection's backend busy and warm on an idle install.
 */
static void
outbox_rest(struct outbox *ob)
{
	if (db_query(ob->db, "SELECT kiln_outbox_next_due_ms()", 0, NULL,
	    outbox_rest_cb, ob) == -1)
		outbox_kick(ob, OUTBOX_POLL_MS);
}

static void
outbox_prune_cb(PGresult *res, const char *error, void *arg)
{
	char why[300];

	(void)res;
	(void)arg;
	if (error != NULL)
		log_warnx("outbox: pruning: %s", log_escape(error, 200, why,
		    sizeof why));
}

/*
 * One statement records the outcomes finished since the last one and
 * claims a row for every free slot: under load the calls of a claim
 * complete together, so a burst costs a round trip and a commit per batch
 * rather than two per call.  A rate limit or kilnd stopping claims none
 * but still records.
 */
static void
outbox_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;
	char limit[16], lease[16], keep[24];
	const char *params[4];
	char *done, *checks;
	int64_t now = now_ms();
	int nrec, free_slots = 0;

	(void)fd;
	(void)what;
	if (ob->claiming)
		return;		/* its answer kicks again */
	nrec = (int)(json_array_size(ob->outcomes) +
	    json_array_size(ob->check_outcomes));
	if (!ob->k->stopping && now < ob->paused_until)
		outbox_kick(ob, ob->paused_until - now);
	else if (!ob->k->stopping)
		free_slots = ob->max_in_flight - ob->in_flight + nrec;
	if (!ob->k->stopping && now - ob->last_prune >= OUTBOX_PRUNE_MS) {
		ob->last_prune = now;
		snprintf(keep, sizeof keep, "%lld",
		    (long long)ob->k->cfg->gh_keep_hours * 3600);
		params[0] = keep;
		(void)db_query(ob->db, "SELECT kiln_outbox_prune($1::int)",
		    1, params, outbox_prune_cb, ob);
	}
	if (nrec == 0 && free_slots <= 0)
		return;		/* a completion or the pause's end kicks */
	done = json_dumps(ob->outcomes, JSON_COMPACT);
	checks = json_dumps(ob->check_outcomes, JSON_COMPACT);
	json_array_clear(ob->outcomes);
	json_array_clear(ob->check_outcomes);
	snprintf(limit, sizeof limit, "%d", free_slots > 0 ? free_slots : 0);
	snprintf(lease, sizeof lease, "%d", OUTBOX_LEASE_S);
	params[0] = done != NULL ? done : "[]";
	params[1] = checks != NULL ? checks : "[]";
	params[2] = limit;
	params[3] = lease;
	ob->claiming = 1;
	ob->settling = nrec;
	/* Column 21: the repository's own token, sealed (022). */
	if (db_query_named(ob->db, "kiln_outbox_settle", "SELECT * FROM "
	    "kiln_outbox_settle($1::jsonb, $2::jsonb, $3::int, $4::int)", 4,
	    params, outbox_claim_cb, ob) == -1) {
		if (nrec > 0)
			log_warnx("outbox: %d outcome(s) not recorded "
			    "(database queue full)", nrec);
		ob->in_flight -= nrec;
		ob->claiming = 0;
		ob->settling = 0;
		outbox_kick(ob, OUTBOX_POLL_MS);
	}
	free(done);
	free(checks);
}

/*
 * NOTIFY kiln_outbox (sql/009's trigger), or a LISTEN after a reconnect
 * (payload NULL); one per notification, each only a kick of the timer.
 */
static void
outbox_notify_cb(const char *payload, void *arg)
{
	outbox_kick(arg, 0);
}

/* Poll within ms, or sooner if a poll is already due sooner. */
static void
outbox_kick(struct outbox *ob, int64_t ms)
{
	struct timeval tv, due, now;

	if (evtimer_pending(ob->poll, &due)) {
		event_base_gettimeofday_cached(ob->k->base, &now);
		if ((int64_t)(due.tv_sec - now.tv_sec) * 1000 +
		    (due.tv_usec - now.tv_usec) / 1000 <= ms)
			return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ob->poll, &tv);
}

/*
 * Outcomes wait to be recorded together: each statement costs PostgreSQL
 * a commit and a plan's start-up however few rows it records (a burst
 * averaged 1.3 outcomes a statement without waiting), and that is taken
 * from webhook intake on a busy box.  Recorded at once when no other call
 * is running or half the slots are waiting, else within OUTBOX_SETTLE_MS.
 */
static void
outbox_settle_soon(struct outbox *ob)
{
	int waiting = (int)(json_array_size(ob->outcomes) +
	    json_array_size(ob->check_outcomes));

	if (waiting == 0)
		return;
	if (ob->in_flight - ob->settling - waiting <= 0 ||
	    2 * waiting >= ob->max_in_flight)
		outbox_kick(ob, 0);
	else
		outbox_kick(ob, OUTBOX_SETTLE_MS);
}

/* App mode's credentials, or token mode's token; 0 or -1 with err. */
static int
outbox_credentials(struct outbox *ob, const struct kiln_config *cfg,
    char *err, size_t errsz)
{
	char why[400], *jwt;

	if (cfg->gh_app_id[0] == '\0') {
		ob->token = outbox_read_token(cfg->gh_token_file, err, errsz);
		return ob->token != NULL ? 0 : -1;
	}
	if (cfg->gh_token_file[0] != '\0') {
		snprintf(err, errsz, "[github] set either token_file or app_id "
		    "(with private_key_file), not both");
		return -1;
	}
	if ((ob->app_key = ghapp_key_load(cfg->gh_private_key_file, why,
	    sizeof why)) == NULL) {
		snprintf(err, errsz, "[github] private_key_file: %s", why);
		return -1;
	}
	/* The App ID's form is checked now rather than at the first call. */
	if ((jwt = ghapp_jwt(ob->app_key, cfg->gh_app_id, (int64_t)time(NULL),
	    why, sizeof why)) == NULL) {
		snprintf(err, errsz, "[github] %s", why);
		return -1;
	}
	free(jwt);
	ob->app_id = xstrdup(cfg->gh_app_id);
	ob->tokens = ghapp_cache_new();
	return 0;
}

static void
outbox_release(struct outbox *ob)
{
	if (ob->token != NULL)
		explicit_bzero(ob->token, strlen(ob->token));
	free(ob->token);
	EVP_PKEY_free(ob->app_key);
	free(ob->app_id);
	ghapp_cache_free(ob->tokens);
	free(ob->api_url);
	free(ob->page_url);
	free(ob);
}

struct outbox *
outbox_new(struct kilnd *k, char *err, size_t errsz)
{
	struct outbox *ob;
	const struct kiln_config *cfg = k->cfg;
	size_t n;

	err[0] = '\0';
	if (cfg->gh_token_file[0] == '\0' && cfg->gh_app_id[0] == '\0') {
		if (cfg->gh_private_key_file[0] != '\0')
			snprintf(err, errsz, "[github] private_key_file needs "
			    "app_id");
		return NULL;
	}
	if (!str_has_prefix(cfg->gh_api_url, "http://") &&
	    !str_has_prefix(cfg->gh_api_url, "https://")) {
		snprintf(err, errsz, "[github] api_url must be an http:// or "
		    "https:// URL");
		return NULL;
	}
	ob = xcalloc(1, sizeof *ob);
	ob->k = k;
	LIST_INIT(&ob->reqs);
	LIST_INIT(&ob->auths);
	ob->api_url = xstrdup(cfg->gh_api_url);
	n = strlen(ob->api_url);
	while (n > 0 && ob->api_url[n - 1] == '/')
		ob->api_url[--n] = '\0';
	if (outbox_credentials(ob, cfg, err, errsz) == -1) {
		outbox_release(ob);
		return NULL;
	}
	if (cfg->gh_public_url[0] != '\0' &&
	    strcmp(cfg->web_access, "off") != 0) {
		n = strlen(cfg->gh_public_url);
		while (n > 0 && cfg->gh_public_url[n - 1] == '/')
			n--;
		ob->page_url = xasprintf("%.*s/jobs/", (int)n,
		    cfg->gh_public_url);
	}
	ob->max_in_flight = cfg->gh_max_in_flight;
	ob->seed = (unsigned)now_ms() ^ (unsigned)getpid();
	if (curl_dl_load(err, errsz) == -1) {
		outbox_release(ob);
		return NULL;
	}
	if (CU(curl_global_init)(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(err, errsz, "outbox: curl_global_init failed");
		outbox_release(ob);
		return NULL;
	}
	ob->multi = CU(curl_multi_init)();
	CU(curl_multi_setopt)(ob->multi, CURLMOPT_SOCKETFUNCTION,
	    outbox_curl_socket);
	CU(curl_multi_setopt)(ob->multi, CURLMOPT_SOCKETDATA, ob);
	CU(curl_multi_setopt)(ob->multi, CURLMOPT_TIMERFUNCTION,
	    outbox_curl_timer);
	CU(curl_multi_setopt)(ob->multi, CURLMOPT_TIMERDATA, ob);
	CU(curl_multi_setopt)(ob->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)ob->max_in_flight);
	ob->curl_timer = evtimer_new(k->base, outbox_curl_timer_cb, ob);
	ob->poll = evtimer_new(k->base, outbox_poll_cb, ob);
	/*
	 * Its own connection rather than kilnd's pool: a burst's settling
	 * statements (each waiting for the disk when it records outcomes)
	 * would otherwise queue ahead of webhook intake for the pool's
	 * connections, and a woken claim does not wait for a poll.
	 */
	ob->db = db_new(k->base, k->conninfo, 1);
	db_listen(ob->db, "kiln_outbox", outbox_notify_cb, ob);
	ob->outcomes = json_array();
	ob->check_outcomes = json_array();
	outbox_kick(ob, 0);
	log_info("outbox: commit statuses to %s%s%s", ob->api_url,
	    ob->tokens != NULL ? " as GitHub App " : "",
	    ob->tokens != NULL ? ob->app_id : "");
	return ob;
}

/*
 * Requests in flight are dropped: their rows are claimed again when the
 * lease runs out.
 */
void
outbox_free(struct outbox *ob)
{
	struct outbox_req *r, *w;

	if (ob == NULL)
		return;
	db_free(ob->db);	/* its callbacks run now, with an error */
	while ((r = LIST_FIRST(&ob->auths)) != NULL) {
		while ((w = LIST_FIRST(&r->waiting)) != NULL)
			outbox_req_free(w);
		outbox_req_free(r);
	}
	while ((r = LIST_FIRST(&ob->reqs)) != NULL)
		outbox_req_free(r);
	CU(curl_multi_cleanup)(ob->multi);
	event_free(ob->poll);
	json_decref(ob->outcomes);
	json_decref(ob->check_outcomes);
	event_free(ob->curl_timer);
	outbox_release(ob);
	CU(curl_global_cleanup)();
}
