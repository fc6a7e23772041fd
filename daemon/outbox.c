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

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "db.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

#define OUTBOX_POLL_MS		500	/* claims when idle */
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

struct outbox {
	struct kilnd	*k;
	CURLM		*multi;
	struct event	*curl_timer;
	struct event	*poll;
	char		*token;		/* never logged */
	char		*api_url;	/* no trailing slash */
	char		*page_url;	/* public_url/jobs/, or NULL */
	int		 max_in_flight;
	int		 in_flight;	/* requests and outcome writes */
	int		 claiming;
	int64_t		 paused_until;	/* now_ms(): a rate limit */
	int64_t		 last_prune;
	unsigned int	 seed;		/* jitter */
	LIST_HEAD(, outbox_req) reqs;	/* requests in flight */
};

struct outbox_req {
	struct outbox	*ob;
	LIST_ENTRY(outbox_req) entry;
	CURL		*easy;
	struct curl_slist *headers;
	char		*body;
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
	curl_multi_socket_action(ob->multi, fd, flags, &running);
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
			curl_multi_assign(ob->multi, s, NULL);
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
		curl_multi_assign(ob->multi, s, os);
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
	curl_multi_socket_action(ob->multi, CURL_SOCKET_TIMEOUT, 0, &running);
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
		else if ((when = curl_getdate(v, NULL)) != (time_t)-1)
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
		curl_multi_remove_handle(r->ob->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	free(r->body);
	buf_free(&r->answer);
	free(r);
}

static void
outbox_done_cb(PGresult *res, const char *error, void *arg)
{
	struct outbox *ob = arg;
	char why[300];

	(void)res;
	ob->in_flight--;
	if (error != NULL)
		log_warnx("outbox: recording an outcome: %s",
		    log_escape(error, 200, why, sizeof why));
	outbox_kick(ob, 0);
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

static void
outbox_finish(struct outbox_req *r, CURLcode cc)
{
	struct outbox *ob = r->ob;
	long code = 0;
	const char *outcome;
	char *error = NULL, http[16], delay[24], why[300];
	int64_t wait = 0, wall = (int64_t)time(NULL) * 1000;
	const char *params[5];

	if (cc == CURLE_OK)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK) {
		outcome = "retry";
		error = xasprintf("%s", r->errbuf[0] ? r->errbuf :
		    curl_easy_strerror(cc));
		wait = outbox_backoff(ob, r->attempts);
	} else if (code >= 200 && code < 300) {
		outcome = "delivered";
	} else if (code == 429 || code >= 500 || (code == 403 &&
	    (r->remaining_zero || r->retry_after_ms >= 0))) {
		outcome = "retry";
		error = outbox_answer_message(r);
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
	} else {
		outcome = "failed";
		error = outbox_answer_message(r);
		log_warnx("outbox: call %s refused (HTTP %ld): %s", r->id,
		    code, log_escape(error, 200, why, sizeof why));
	}
	snprintf(http, sizeof http, "%ld", code);
	snprintf(delay, sizeof delay, "%lld", (long long)wait);
	params[0] = r->id;
	params[1] = outcome;
	params[2] = code ? http : NULL;
	params[3] = error;
	params[4] = delay;
	log_debug("outbox: call %s: %s (HTTP %ld)", r->id, outcome, code);
	if (db_query(ob->k->db, "SELECT kiln_outbox_done($1::bigint, $2, "
	    "$3::int, $4, $5::bigint)", 5, params, outbox_done_cb, ob) == -1)
		ob->in_flight--;
	free(error);
	outbox_req_free(r);
}

static void
outbox_check_done(struct outbox *ob)
{
	CURLMsg *m;
	int left;
	struct outbox_req *r;

	while ((m = curl_multi_info_read(ob->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    (char **)&r);
		outbox_finish(r, m->data.result);
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

/* Start the request of one claimed row (columns of kiln_outbox_claim). */
static void
outbox_send(struct outbox *ob, PGresult *res, int row)
{
	struct outbox_req *r = xcalloc(1, sizeof *r);
	const char *full_name = PQgetvalue(res, row, 1);
	const char *sha = PQgetvalue(res, row, 2);
	char *url, *auth;
	json_t *j;
	int64_t attempts;

	r->ob = ob;
	LIST_INSERT_HEAD(&ob->reqs, r, entry);
	r->retry_after_ms = r->reset_ms = -1;
	snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, row, 0));
	if (parse_int64(PQgetvalue(res, row, 8), 0, 1000000, &attempts, NULL) == 0)
		r->attempts = (int)attempts;
	ob->in_flight++;
	if (!outbox_hex(sha) || strchr(full_name, '/') == NULL ||
	    strspn(full_name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789-_./") != strlen(full_name)) {
		const char *params[2] = { r->id, "not a repository name and "
		    "commit GitHub knows" };

		if (db_query(ob->k->db, "SELECT kiln_outbox_done($1::bigint, "
		    "'failed', NULL, $2, 0)", 2, params, outbox_done_cb,
		    ob) == -1)
			ob->in_flight--;
		outbox_req_free(r);
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

	url = xasprintf("%s/repos/%s/statuses/%s", ob->api_url, full_name,
	    sha);
	auth = xasprintf("Authorization: Bearer %s", ob->token);
	r->headers = curl_slist_append(r->headers, auth);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	r->headers = curl_slist_append(r->headers,
	    "Accept: application/vnd.github+json");
	r->headers = curl_slist_append(r->headers,
	    "X-GitHub-Api-Version: 2022-11-28");
	r->headers = curl_slist_append(r->headers,
	    "Content-Type: application/json");
	r->headers = curl_slist_append(r->headers, "Expect:");

	r->easy = curl_easy_init();
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)OUTBOX_TIMEOUT_MS);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)OUTBOX_CONNECT_MS);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, outbox_write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, outbox_header_cb);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	free(url);
	if (curl_multi_add_handle(ob->multi, r->easy) != CURLM_OK) {
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
		ob->in_flight--;
		outbox_req_free(r);
		log_warnx("outbox: curl_multi_add_handle failed");
	}
}

static void
outbox_claim_cb(PGresult *res, const char *error, void *arg)
{
	struct outbox *ob = arg;
	char why[300];
	int i, n;

	ob->claiming = 0;
	if (error != NULL) {
		log_warnx("outbox: claiming: %s", log_escape(error, 200, why,
		    sizeof why));
		outbox_kick(ob, OUTBOX_POLL_MS);
		return;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		outbox_send(ob, res, i);
	outbox_kick(ob, n > 0 ? 0 : OUTBOX_POLL_MS);
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

static void
outbox_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;
	char limit[16], lease[16], keep[24];
	const char *params[2];
	int64_t now = now_ms();

	(void)fd;
	(void)what;
	if (ob->k->stopping || ob->claiming)
		return;
	if (now < ob->paused_until) {
		outbox_kick(ob, ob->paused_until - now);
		return;
	}
	if (now - ob->last_prune >= OUTBOX_PRUNE_MS) {
		ob->last_prune = now;
		snprintf(keep, sizeof keep, "%lld",
		    (long long)ob->k->cfg->gh_keep_hours * 3600);
		params[0] = keep;
		(void)db_query(ob->k->db, "SELECT kiln_outbox_prune($1::int)",
		    1, params, outbox_prune_cb, ob);
	}
	if (ob->in_flight >= ob->max_in_flight)
		return;		/* a completion kicks */
	snprintf(limit, sizeof limit, "%d", ob->max_in_flight - ob->in_flight);
	snprintf(lease, sizeof lease, "%d", OUTBOX_LEASE_S);
	params[0] = limit;
	params[1] = lease;
	ob->claiming = 1;
	if (db_query(ob->k->db, "SELECT * FROM kiln_outbox_claim($1::int, "
	    "$2::int)", 2, params, outbox_claim_cb, ob) == -1) {
		ob->claiming = 0;
		outbox_kick(ob, OUTBOX_POLL_MS);
	}
}

static void
outbox_kick(struct outbox *ob, int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ob->poll, &tv);
}

struct outbox *
outbox_new(struct kilnd *k, char *err, size_t errsz)
{
	struct outbox *ob;
	const struct kiln_config *cfg = k->cfg;
	size_t n;

	err[0] = '\0';
	if (cfg->gh_token_file[0] == '\0')
		return NULL;
	if (!str_has_prefix(cfg->gh_api_url, "http://") &&
	    !str_has_prefix(cfg->gh_api_url, "https://")) {
		snprintf(err, errsz, "[github] api_url must be an http:// or "
		    "https:// URL");
		return NULL;
	}
	ob = xcalloc(1, sizeof *ob);
	ob->k = k;
	LIST_INIT(&ob->reqs);
	if ((ob->token = outbox_read_token(cfg->gh_token_file, err,
	    errsz)) == NULL) {
		free(ob);
		return NULL;
	}
	ob->api_url = xstrdup(cfg->gh_api_url);
	n = strlen(ob->api_url);
	while (n > 0 && ob->api_url[n - 1] == '/')
		ob->api_url[--n] = '\0';
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
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(err, errsz, "outbox: curl_global_init failed");
		free(ob->token);
		free(ob->api_url);
		free(ob->page_url);
		free(ob);
		return NULL;
	}
	ob->multi = curl_multi_init();
	curl_multi_setopt(ob->multi, CURLMOPT_SOCKETFUNCTION,
	    outbox_curl_socket);
	curl_multi_setopt(ob->multi, CURLMOPT_SOCKETDATA, ob);
	curl_multi_setopt(ob->multi, CURLMOPT_TIMERFUNCTION,
	    outbox_curl_timer);
	curl_multi_setopt(ob->multi, CURLMOPT_TIMERDATA, ob);
	curl_multi_setopt(ob->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)ob->max_in_flight);
	ob->curl_timer = evtimer_new(k->base, outbox_curl_timer_cb, ob);
	ob->poll = evtimer_new(k->base, outbox_poll_cb, ob);
	outbox_kick(ob, 0);
	log_info("outbox: commit statuses to %s", ob->api_url);
	return ob;
}

/*
 * After db_free().  Requests in flight are dropped: their rows are claimed
 * again when the lease runs out.
 */
void
outbox_free(struct outbox *ob)
{
	struct outbox_req *r;

	if (ob == NULL)
		return;
	while ((r = LIST_FIRST(&ob->reqs)) != NULL)
		outbox_req_free(r);
	curl_multi_cleanup(ob->multi);
	event_free(ob->poll);
	event_free(ob->curl_timer);
	if (ob->token != NULL)
		explicit_bzero(ob->token, strlen(ob->token));
	free(ob->token);
	free(ob->api_url);
	free(ob->page_url);
	free(ob);
	curl_global_cleanup();
}
