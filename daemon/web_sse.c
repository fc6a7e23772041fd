/*
 * web_sse: Server-Sent Events for the page and for scripts.
 *
 * GET /api/v1/jobs/{id}/logs/stream: a job's log as it grows.  Every event
 * "log" carries {"offset": N, "text": "..."} (the bytes from N) and its id
 * is the byte offset after them, so a reader that reconnects with
 * Last-Event-ID (or ?offset=) resumes exactly there: nothing lost, nothing
 * repeated.  Bytes are read from the log file, never kept per viewer: each
 * viewer has at most one chunk (SSE_CHUNK bytes of log) in flight, and the
 * next is read when that one has left, so a slow reader costs one chunk
 * and catches up from the file, and 1,000 viewers of one job cost 1,000
 * chunks at most.  Only committed bytes are sent (logsrv_committed(): what
 * a worker's replay never rewrites).  The stream ends with an event "end"
 * carrying the job's status and conclusion, once the job completed and
 * every byte was sent.
 *
 * GET /api/v1/events: one stream per page; an event "change" whenever a
 * run or job that is active (or completed in the last seconds) changes,
 * with those runs' ids and statuses, so the page refetches what it shows.
 * One query per second for all the streams together, only while one is
 * open.
 *
 * Invalid UTF-8 in a log (rare: the worker passes bytes through) reaches
 * the text as U+FFFD; offsets stay byte offsets of the file.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>

#include "db.h"
#include "connguard.h"
#include "kilnd.h"
#include "log.h"
#include "logsrv.h"
#include "util.h"

#define SSE_CHUNK	8192	/* log bytes per event */
#define SSE_TICK_MS	1000	/* status polling, keep-alives */
#define SSE_PING_TICKS	15	/* a comment line every 15 s */
#define SSE_END_GRACE	3	/* ticks to wait for END after completion */
#define SSE_MAX_CLIENTS	10000

enum sse_kind { SSE_LOG, SSE_STATUS };

struct sse_client {
	struct web_sse		*hub;
	struct evhttp_request	*req;
	struct evhttp_connection *conn;
	struct sse_client	*next;
	enum sse_kind		 kind;
	int64_t			 job;		/* the job asked for */
	int64_t			 log_job;	/* whose log file (re-runs) */
	uint64_t		 sent;		/* log bytes sent */
	int			 fd;		/* the log, once it exists */
	int			 inflight;	/* a chunk not yet written */
	int			 completed;	/* the job is, per the database */
	int			 grace;		/* ticks since completed */
	char			 conclusion[32];
	int			 ended;		/* reply ended: free on return */
};

struct web_sse {
	struct kilnd		*kilnd;
	struct sse_client	*clients;	/* singly linked; order unused */
	int			 nclients;
	struct event		*timer;
	int			 ticks;
	int			 querying;	/* a tick's query in flight */
	char			 digest[40];	/* of the last status sent */
};

static void	sse_pump(struct sse_client *);

static void
sse_unlink(struct sse_client *c)
{
	struct sse_client **pp;

	for (pp = &c->hub->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			c->hub->nclients--;
			break;
		}
}

static void
sse_free(struct sse_client *c)
{
	sse_unlink(c);
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

/*
 * The peer went away.  libevent frees the connection but leaves a reply
 * still streaming to its owner, detached (no connection): ending it frees
 * the request.
 */
static void
sse_close_cb(struct evhttp_connection *conn, void *arg)
{
	struct sse_client *c = arg;

	if (evhttp_request_get_connection(c->req) == NULL)
		evhttp_send_reply_end(c->req);
	sse_free(c);
}

static void
sse_finish(struct sse_client *c)
{
	connguard_set_closecb(c->hub->kilnd->guard, c->conn, NULL, NULL);
	evhttp_send_reply_end(c->req);
	sse_free(c);
}

/*
 * An untracked event (end, ping, status).  Never while a log chunk is in
 * flight: it would replace that chunk's write callback.
 */
static void
sse_send(struct sse_client *c, struct evbuffer *b)
{
	evhttp_send_reply_chunk(c->req, b);
}

/* The chunk left (its bytes are in the socket): read the next. */
static void
sse_chunk_cb(struct evhttp_connection *conn, void *arg)
{
	struct sse_client *c = arg;

	c->inflight = 0;
	sse_pump(c);
}

/* Length of the longest prefix of p[0..n) not ending inside a UTF-8 char. */
static size_t
sse_utf8_cut(const unsigned char *p, size_t n)
{
	size_t i = n, back = 0;

	while (i > 0 && back < 4 && (p[i - 1] & 0xc0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return n;
	if (p[i - 1] >= 0xc0) {
		unsigned char lead = p[i - 1];
		size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;

		if (back + 1 < need)
			return i - 1 > 0 ? i - 1 : n;
	}
	return n;
}

/* A JSON string of p[0..n) with invalid UTF-8 bytes as U+FFFD. */
static json_t *
sse_text(const unsigned char *p, size_t n)
{
	json_t *s = json_stringn((const char *)p, n);
	struct buf b = { 0 };
	size_t i = 0;

	if (s != NULL)
		return s;
	while (i < n) {
		unsigned char ch = p[i];
		size_t len = ch < 0x80 ? 1 : ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 :
		    ch >= 0xc2 ? 2 : 0;
		json_t *one;

		if (len > 0 && i + len <= n && (one = json_stringn(
		    (const char *)p + i, len)) != NULL) {
			json_decref(one);
			buf_add(&b, p + i, len);
			i += len;
		} else {
			buf_add_str(&b, "\xef\xbf\xbd");
			i++;
		}
	}
	s = json_stringn(b.data ? b.data : "", b.len);
	buf_free(&b);
	return s;
}

static void
sse_end_event(struct sse_client *c)
{
	struct evbuffer *b = evbuffer_new();
	json_t *o = json_pack("{s:s,s:s*,s:I}", "status", "completed",
	    "conclusion", c->conclusion[0] ? c->conclusion : NULL, "size",
	    (json_int_t)c->sent);
	char *text = json_dumps(o, JSON_COMPACT);

	evbuffer_add_printf(b, "id: %" PRIu64 "\nevent: end\ndata: %s\n\n",
	    c->sent, text);
	sse_send(c, b);
	evbuffer_free(b);
	free(text);
	json_decref(o);
	sse_finish(c);
}

/* Send what the file has beyond c->sent, one chunk at a time. */
static void
sse_pump(struct sse_client *c)
{
	unsigned char data[SSE_CHUNK];
	char path[4200];
	struct evbuffer *b;
	uint64_t size;
	ssize_t n;
	size_t len;
	json_t *o;
	char *text;
	int end;

	if (c->inflight || c->kind != SSE_LOG)
		return;
	if (logsrv_committed(c->hub->kilnd->log_dir, c->log_job, &size,
	    &end) == -1)
		size = 0;
	if (c->sent < size) {
		if (c->fd == -1) {
			snprintf(path, sizeof path, "%s/%" PRId64 ".log",
			    c->hub->kilnd->log_dir, c->log_job);
			if ((c->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
				return;
		}
		len = size - c->sent < SSE_CHUNK ? size - c->sent : SSE_CHUNK;
		if ((n = pread(c->fd, data, len, (off_t)c->sent)) <= 0)
			return;
		len = sse_utf8_cut(data, (size_t)n);
		o = json_pack("{s:I,s:o}", "offset", (json_int_t)c->sent,
		    "text", sse_text(data, len));
		text = json_dumps(o, JSON_COMPACT);
		c->sent += len;
		b = evbuffer_new();
		evbuffer_add_printf(b, "id: %" PRIu64 "\nevent: log\ndata: %s"
		    "\n\n", c->sent, text);
		free(text);
		json_decref(o);
		c->inflight = 1;
		evhttp_send_reply_chunk_with_cb(c->req, b, sse_chunk_cb, c);
		evbuffer_free(b);
		return;
	}
	/* Caught up: the end once the job is over and its log complete. */
	if (c->completed && (end || c->grace >= SSE_END_GRACE))
		sse_end_event(c);
}

static void
sse_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct bufferevent *bev;
	int one = 1;

	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	/* Small events must not wait for Nagle. */
	bev = evhttp_connection_get_bufferevent(
	    evhttp_request_get_connection(req));
	if (bev != NULL && bufferevent_getfd(bev) != -1)
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof one);
}

static void sse_tick_cb(evutil_socket_t, short, void *);

static struct sse_client *
sse_attach(struct web_sse *hub, struct evhttp_request *req,
    enum sse_kind kind)
{
	struct sse_client *c = xcalloc(1, sizeof *c);
	struct timeval tv = { SSE_TICK_MS / 1000, (SSE_TICK_MS % 1000) * 1000 };

	c->hub = hub;
	c->req = req;
	c->kind = kind;
	c->fd = -1;
	c->conn = evhttp_request_get_connection(req);
	c->next = hub->clients;
	hub->clients = c;
	hub->nclients++;
	sse_headers(req);
	evhttp_send_reply_start(req, 200, "OK");
	connguard_set_closecb(hub->kilnd->guard, c->conn, sse_close_cb, c);
	if (!evtimer_pending(hub->timer, NULL))
		evtimer_add(hub->timer, &tv);
	return c;
}

/* ---- the log stream ---- */

struct sse_start {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	int64_t			 job;
	uint64_t		 from;
};

static void
sse_start_cb(PGresult *res, const char *error, void *arg)
{
	struct sse_start *s = arg;
	struct sse_client *c;

	if (error != NULL)
		http_reply_error(s->req, 500, "database error");
	else if (PQntuples(res) == 0)
		http_reply_error(s->req, 404, "no job %" PRId64, s->job);
	else if (s->kilnd->sse->nclients >= SSE_MAX_CLIENTS)
		http_reply_error(s->req, 503, "too many live streams");
	else {
		c = sse_attach(s->kilnd->sse, s->req, SSE_LOG);
		c->job = s->job;
		c->log_job = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		c->sent = s->from;
		c->completed = strcmp(PQgetvalue(res, 0, 1), "completed") == 0;
		snprintf(c->conclusion, sizeof c->conclusion, "%s",
		    PQgetvalue(res, 0, 2));
		/* A kept job's log was ended by the attempt that ran it. */
		c->grace = c->completed && c->log_job != c->job ?
		    SSE_END_GRACE : 0;
		sse_pump(c);
	}
	free(s);
}

void
web_job_log_stream(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = evhttp_uri_get_query(uri), *from, *errstr;
	const char *params[1];
	struct sse_start *s;
	struct evkeyvalq q;
	int64_t job, off = 0;
	char id[32];

	if (parse_int64(args[0], 1, INT64_MAX, &job, &errstr) == -1) {
		http_reply_error(req, 400, "bad job id \"%.32s\": %s", args[0],
		    errstr);
		return;
	}
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		http_reply_error(req, 400, "malformed query string");
		return;
	}
	/* Last-Event-ID (a reconnect) wins over ?offset= (the first URL). */
	from = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Last-Event-ID");
	if (from == NULL)
		from = evhttp_find_header(&q, "offset");
	if (from != NULL && parse_int64(from, 0, INT64_MAX, &off,
	    &errstr) == -1) {
		http_reply_error(req, 400, "offset \"%.32s\": %s", from, errstr);
		evhttp_clear_headers(&q);
		return;
	}
	evhttp_clear_headers(&q);
	s = xcalloc(1, sizeof *s);
	s->kilnd = k;
	s->req = req;
	s->job = job;
	s->from = (uint64_t)off;
	snprintf(id, sizeof id, "%" PRId64, job);
	params[0] = id;
	if (db_query(k->db, "SELECT CASE WHEN kept THEN rerun_of ELSE id END, "
	    "status, coalesce(conclusion, '') FROM jobs WHERE id = $1::bigint",
	    1, params, sse_start_cb, s) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(s);
	}
}

/* logsrv's observer: a job's log grew. */
static void
sse_observe(int64_t job_id, const char *data, size_t len, void *arg)
{
	struct web_sse *hub = arg;
	struct sse_client *c, *next;

	for (c = hub->clients; c != NULL; c = next) {
		next = c->next;		/* sse_pump may end and free c */
		if (c->kind == SSE_LOG && c->log_job == job_id)
			sse_pump(c);
	}
}

/* ---- the status stream ---- */

void
web_events(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	struct sse_client *c;
	struct evbuffer *b;

	if (k->sse->nclients >= SSE_MAX_CLIENTS) {
		http_reply_error(req, 503, "too many live streams");
		return;
	}
	c = sse_attach(k->sse, req, SSE_STATUS);
	/* The first event says the stream is live; "change" follows. */
	b = evbuffer_new();
	evbuffer_add_printf(b, "retry: 2000\nevent: hello\ndata: {}\n\n");
	sse_send(c, b);
	evbuffer_free(b);
}

/*
 * Runs that are active or completed in the last 10 s, with a digest over
 * their jobs and steps: a change of any status changes the digest.
 */
#define SSE_STATUS_SQL \
	"SELECT coalesce(json_agg(json_build_object('id', r.id, " \
	"'repository', p.full_name, 'status', r.status, 'conclusion', " \
	"r.conclusion, 'run_attempt', r.run_attempt) ORDER BY r.id), '[]'), " \
	"md5(coalesce(string_agg(r.id || r.status || coalesce(r.conclusion, " \
	"'') || r.run_attempt || (SELECT coalesce(string_agg(j.id || j.status " \
	"|| coalesce(j.conclusion, '') || (SELECT count(*) FROM steps s " \
	"WHERE s.job_id = j.id AND s.status <> 'queued') || (SELECT count(*) " \
	"FROM steps s WHERE s.job_id = j.id AND s.status = 'completed'), ','), " \
	"'') FROM jobs j WHERE j.run_id = r.id AND j.attempt = r.run_attempt), " \
	"';' ORDER BY r.id), '')) FROM runs r JOIN repositories p " \
	"ON p.id = r.repository_id WHERE r.status <> 'completed' " \
	"OR r.completed_at > now() - interval '10 seconds'"

static void
sse_status_cb(PGresult *res, const char *error, void *arg)
{
	struct web_sse *hub = arg;
	struct sse_client *c;
	struct evbuffer *b;

	hub->querying = 0;
	if (error != NULL || PQntuples(res) != 1 ||
	    strcmp(PQgetvalue(res, 0, 1), hub->digest) == 0)
		return;
	snprintf(hub->digest, sizeof hub->digest, "%s", PQgetvalue(res, 0, 1));
	b = evbuffer_new();
	for (c = hub->clients; c != NULL; c = c->next) {
		if (c->kind != SSE_STATUS)
			continue;
		evbuffer_add_printf(b, "event: change\ndata: {\"runs\":%s}\n\n",
		    PQgetvalue(res, 0, 0));
		sse_send(c, b);
	}
	evbuffer_free(b);
}

/* The completion of the jobs being followed. */
static void
sse_jobs_cb(PGresult *res, const char *error, void *arg)
{
	struct web_sse *hub = arg;
	struct sse_client *c, *next;
	int i;

	if (error != NULL)
		return;
	for (i = 0; i < PQntuples(res); i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);

		for (c = hub->clients; c != NULL; c = next) {
			next = c->next;
			if (c->kind != SSE_LOG || c->job != id || c->completed)
				continue;
			c->completed = 1;
			snprintf(c->conclusion, sizeof c->conclusion, "%s",
			    PQgetvalue(res, i, 1));
			sse_pump(c);
		}
	}
}

static void
sse_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct web_sse *hub = arg;
	struct timeval tv = { SSE_TICK_MS / 1000, (SSE_TICK_MS % 1000) * 1000 };
	struct sse_client *c, *next;
	struct buf ids = { 0 };
	const char *params[1];
	struct evbuffer *b;
	int status = 0;

	if (hub->clients == NULL) {
		hub->digest[0] = '\0';
		return;		/* the next stream starts the timer again */
	}
	hub->ticks++;
	b = evbuffer_new();
	for (c = hub->clients; c != NULL; c = next) {
		next = c->next;
		if (c->kind == SSE_STATUS)
			status = 1;
		else if (!c->completed) {
			buf_printf(&ids, "%s%" PRId64, ids.len ? "," : "{",
			    c->job);
			sse_pump(c);	/* in case an observer call was missed */
		}
		else {
			c->grace++;
			sse_pump(c);	/* may end and free c */
			continue;
		}
		if (hub->ticks % SSE_PING_TICKS == 0 && !c->inflight) {
			evbuffer_add_printf(b, ": ping\n\n");
			sse_send(c, b);
		}
	}
	evbuffer_free(b);
	if (ids.len > 0) {
		buf_add_char(&ids, '}');
		params[0] = ids.data;
		db_query(hub->kilnd->db, "SELECT id, coalesce(conclusion, '') "
		    "FROM jobs WHERE id = ANY($1::bigint[]) AND "
		    "status = 'completed'", 1, params, sse_jobs_cb, hub);
	}
	buf_free(&ids);
	if (status && !hub->querying && db_query(hub->kilnd->db,
	    SSE_STATUS_SQL, 0, NULL, sse_status_cb, hub) == 0)
		hub->querying = 1;
	evtimer_add(hub->timer, &tv);
}

struct web_sse *
web_sse_new(struct kilnd *k)
{
	struct web_sse *hub = xcalloc(1, sizeof *hub);

	hub->kilnd = k;
	hub->timer = evtimer_new(k->base, sse_tick_cb, hub);
	logsrv_set_observer(k->logsrv, sse_observe, hub);
	return hub;
}

void
web_sse_free(struct web_sse *hub)
{
	if (hub == NULL)
		return;
	while (hub->clients != NULL)
		sse_finish(hub->clients);
	logsrv_set_observer(hub->kilnd->logsrv, NULL, NULL);
	event_free(hub->timer);
	free(hub);
}
