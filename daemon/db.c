/*
 * db: see db.h.  Each connection is a small state machine:
 *
 *   DB_CONNECTING --PQconnectPoll ok--> DB_IDLE --send--> DB_BUSY --results--> DB_IDLE
 *        ^                                                    |
 *        +------------- DB_BROKEN (retry timer) <------- error+
 *
 * Write interest is armed only while libpq has unsent output.
 *
 * While every connection has failed since it last worked, the pool is down:
 * queued and new queries fail at once (from the loop, never inside
 * db_query()) instead of waiting for a database that may never return, so
 * a webhook gets its 503 and a shutdown is not held up.  Before the first
 * connection attempt has an outcome, queries wait.
 *
 * Only connection 0 is kept open at rest.  The others open when queries
 * have waited DB_GROW_MS with no idle connection (not at once: two timers'
 * queries meeting every few seconds would otherwise keep a second backend
 * alive for good, where waiting a millisecond for the first was enough)
 * and close again (DB_CLOSED) after
 * DB_IDLE_CLOSE_MS unused: each idle PostgreSQL backend costs its
 * catalog caches, about 2 MB of memory, on a box that is idle most of the
 * day (bench/idle.sh).
 *
 * db_listen(): connection 0, the one always open, LISTENs; each (re)connect
 * LISTENs again before any query and then reports a notification, since
 * whatever was notified while it was away was missed.  In a pool of two or
 * more it only listens: queries go to the others, which close when unused,
 * so the session kept at rest never grows the catalog caches and shared
 * buffers a backend keeps for good once it has run queries (bench/idle.sh:
 * 11 MiB PSS after kilnd's start-up and reaper, 3 MiB listening only).
 *
 * db_query_named(): a connection remembers the names it has prepared; a
 * named query it has not seen is sent as a Prepare first (DB_BUSY with
 * preparing set), and its completion sends the query itself.  A new
 * session starts with none, so a reconnect prepares again.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "hist.h"
#include "log.h"
#include "util.h"

#define DB_QUEUE_MAX	100000
#define DB_RETRY_MIN_MS	200
#define DB_RETRY_MAX_MS	5000
#define DB_GROW_MS	5
#define DB_IDLE_CLOSE_MS 10000	/* as long as a worker stays before parking */
#define DB_PREPARED_MAX	32	/* named statements per connection */

enum db_state {
	DB_CONNECTING,
	DB_IDLE,
	DB_BUSY,
	DB_BROKEN,
	DB_CLOSED,	/* not needed now; opened on demand */
};

struct db_query {
	TAILQ_ENTRY(db_query) entry;
	char		*name;		/* prepared statement, NULL: none */
	char		*sql;
	int		 nparams;
	char		**params;
	db_cb		 cb;
	void		*arg;
	int64_t		 queued_ms;	/* when db_query() took it */
};
TAILQ_HEAD(db_queries, db_query);

struct db_conn {
	struct db	*db;
	int		 index;
	PGconn		*pg;
	enum db_state	 state;
	struct event	*ev;		/* socket readiness */
	struct event	*retry;		/* reconnect timer */
	struct event	*idle;		/* closes an unused extra connection */
	int		 retry_ms;
	struct db_query	*current;
	PGresult	*last;		/* last result of current */
	int		 failed;	/* current got an error result */
	int		 preparing;	/* current's Prepare is in flight */
	char		*prepared[DB_PREPARED_MAX]; /* names, this session */
	int		 nprepared;
};

struct db {
	struct event_base *base;
	char		*conninfo;
	struct db_conn	*conns;
	int		 nconn;
	struct db_queries queue;
	int		 queued;
	struct event	*fail_ev;	/* fails the queue while down */
	struct event	*grow;		/* DB_GROW_MS after a query waited */
	char		 down_why[512];	/* the last connection error */
	struct hist	 wait;		/* seconds from queued to sent */
	char		*listen_sql;	/* "LISTEN channel", NULL: none */
	db_notify_cb	 notify_cb;
	void		*notify_arg;
};

/* Bounds of the wait histogram, seconds. */
static const double db_wait_bounds[] = {
	0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30,
};

static void	db_conn_start(struct db_conn *);
static void	db_dispatch(struct db *);

/* Every connection failed since it last worked (see the top). */
static int
db_down(const struct db *db)
{
	int i;

	for (i = 0; i < db->nconn; i++) {
		const struct db_conn *c = &db->conns[i];

		if (c->state == DB_CLOSED)
			continue;
		if (c->state == DB_IDLE || c->state == DB_BUSY ||
		    c->retry_ms == 0)
			return 0;
	}
	return 1;
}

/* Is a connection from index first on open or opening? */
static int
db_conn_open_from(const struct db *db, int first)
{
	int i;

	for (i = first; i < db->nconn; i++)
		if (db->conns[i].state == DB_IDLE ||
		    db->conns[i].state == DB_BUSY ||
		    db->conns[i].state == DB_CONNECTING)
			return 1;
	return 0;
}

/* Connection 0 only listens (see the top). */
static int
db_listener_only(const struct db *db)
{
	return db->listen_sql != NULL && db->nconn > 1;
}

/*
 * The first connection queries may use: 1 while connection 0 only
 * listens, unless no other connection is open or opening and one has
 * failed (a server at its max_connections, say): then the listener's
 * session serves rather than the queries waiting on retries.
 */
static int
db_first_query_conn(const struct db *db)
{
	int i;

	if (!db_listener_only(db) || db_conn_open_from(db, 1))
		return db_listener_only(db);
	for (i = 1; i < db->nconn; i++)
		if (db->conns[i].state == DB_BROKEN)
			return 0;
	return 1;
}

static const char *
db_state_name(enum db_state s)
{
	switch (s) {
	case DB_CONNECTING:	return "connecting";
	case DB_IDLE:		return "idle";
	case DB_BUSY:		return "busy";
	case DB_BROKEN:		return "broken";
	case DB_CLOSED:		return "closed";
	}
	return "?";
}

static void
db_query_free(struct db_query *q)
{
	int i;

	for (i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->name);
	free(q->sql);
	free(q);
}

static void
db_query_finish(struct db_query *q, PGresult *res, const char *error)
{
	q->cb(res, error, q->arg);
	db_query_free(q);
}

static void
db_conn_watch(struct db_conn *c, short what)
{
	if (c->ev != NULL) {
		event_del(c->ev);
		event_free(c->ev);
		c->ev = NULL;
	}
	if (what == 0 || c->pg == NULL || PQsocket(c->pg) < 0)
		return;
	c->ev = event_new(c->db->base, PQsocket(c->pg), what, NULL, NULL);
}

static void	db_conn_cb(evutil_socket_t, short, void *);

static void
db_conn_arm(struct db_conn *c, short what)
{
	db_conn_watch(c, 0);
	if (c->pg == NULL || PQsocket(c->pg) < 0)
		return;
	c->ev = event_new(c->db->base, PQsocket(c->pg), what | EV_PERSIST,
	    db_conn_cb, c);
	event_add(c->ev, NULL);
}

/* End the session; what it had prepared goes with it. */
static void
db_conn_close(struct db_conn *c)
{
	int i;

	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	for (i = 0; i < c->nprepared; i++)
		free(c->prepared[i]);
	c->nprepared = 0;
	c->preparing = 0;
	/*
	 * A session that died mid-query (its server killed) leaves an error
	 * result read: it must not count against the next session's first
	 * Prepare, which would then go unrecorded and fail every later one
	 * with "already exists".
	 */
	c->failed = 0;
}

static int
db_conn_has_prepared(const struct db_conn *c, const char *name)
{
	int i;

	for (i = 0; i < c->nprepared; i++)
		if (strcmp(c->prepared[i], name) == 0)
			return 1;
	return 0;
}

static void
db_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;

	/* An extra connection comes back only when queries need it. */
	if (c->index > 0 && TAILQ_EMPTY(&c->db->queue)) {
		c->state = DB_CLOSED;
		c->retry_ms = 0;
		return;
	}
	db_conn_start(c);
}

static void
db_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;

	if (c->state != DB_IDLE)
		return;
	log_debug("database connection %d closed after %d s unused",
	    c->index, DB_IDLE_CLOSE_MS / 1000);
	db_conn_watch(c, 0);
	db_conn_close(c);
	c->state = DB_CLOSED;
}

/* An extra connection that just went idle closes unless used meanwhile. */
static void
db_conn_rest(struct db_conn *c)
{
	struct timeval tv = { DB_IDLE_CLOSE_MS / 1000,
	    (DB_IDLE_CLOSE_MS % 1000) * 1000 };

	if (c->index > 0)
		evtimer_add(c->idle, &tv);
}

static void
db_conn_break(struct db_conn *c, const char *why)
{
	struct db_query *q = c->current;
	struct timeval tv;
	char msg[512];

	snprintf(msg, sizeof msg, "%s", why);
	/* Strip libpq's trailing newline so log lines stay single. */
	msg[strcspn(msg, "\n")] = '\0';
	log_warnx("database connection %d (%s): %s", c->index,
	    db_state_name(c->state), msg);
	db_conn_watch(c, 0);
	evtimer_del(c->idle);
	if (c->last != NULL) {
		PQclear(c->last);
		c->last = NULL;
	}
	db_conn_close(c);
	c->state = DB_BROKEN;
	c->current = NULL;
	c->retry_ms = c->retry_ms ? c->retry_ms * 2 : DB_RETRY_MIN_MS;
	if (c->retry_ms > DB_RETRY_MAX_MS)
		c->retry_ms = DB_RETRY_MAX_MS;
	tv.tv_sec = c->retry_ms / 1000;
	tv.tv_usec = (c->retry_ms % 1000) * 1000;
	evtimer_add(c->retry, &tv);
	if (db_down(c->db)) {
		snprintf(c->db->down_why, sizeof c->db->down_why, "%s", msg);
		if (!TAILQ_EMPTY(&c->db->queue))
			event_active(c->db->fail_ev, EV_TIMEOUT, 0);
	}
	if (q != NULL)
		db_query_finish(q, NULL, msg);
}

static void
db_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;
	struct db_query *q;
	char msg[600];

	if (!db_down(db))
		return;
	snprintf(msg, sizeof msg, "database unavailable: %s", db->down_why);
	while ((q = TAILQ_FIRST(&db->queue)) != NULL) {
		TAILQ_REMOVE(&db->queue, q, entry);
		db->queued--;
		db_query_finish(q, NULL, msg);
	}
}

static struct db_query *
db_query_new(const char *name, const char *sql, int nparams,
    const char *const *params, db_cb cb, void *arg)
{
	struct db_query *q = xcalloc(1, sizeof *q);
	int i;

	q->name = name != NULL ? xstrdup(name) : NULL;
	q->sql = xstrdup(sql);
	q->nparams = nparams;
	q->params = xcalloc((size_t)(nparams ? nparams : 1), sizeof *q->params);
	for (i = 0; i < nparams; i++)
		q->params[i] = params[i] ? xstrdup(params[i]) : NULL;
	q->cb = cb;
	q->arg = arg;
	q->queued_ms = now_ms();
	return q;
}

static void	db_conn_send(struct db_conn *, struct db_query *);

static void
db_listen_cb(PGresult *res, const char *error, void *arg)
{
	struct db *db = arg;

	if (error != NULL) {
		log_warnx("database connection 0: %s: %s", db->listen_sql,
		    error);
		return;
	}
	/* Anything notified before this LISTEN went unheard. */
	db->notify_cb(NULL, db->notify_arg);
}

/*
 * Hand libpq's queued notifications to the listener one by one: each may
 * be work for one more worker, so a burst read at once is not one.
 */
static void
db_conn_notifies(struct db_conn *c)
{
	PGnotify *n;

	if (c->pg == NULL)
		return;
	while ((n = PQnotifies(c->pg)) != NULL) {
		if (c->db->notify_cb != NULL)
			c->db->notify_cb(n->extra, c->db->notify_arg);
		PQfreemem(n);
	}
}

static void
db_conn_connect_step(struct db_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		db_conn_arm(c, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		db_conn_arm(c, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(c->pg, 1) == -1) {
			db_conn_break(c, PQerrorMessage(c->pg));
			return;
		}
		c->state = DB_IDLE;
		c->retry_ms = 0;
		log_debug("database connection %d ready", c->index);
		db_conn_arm(c, EV_READ);
		if (c->index == 0 && c->db->listen_sql != NULL) {
			/* Its completion dispatches what waits. */
			db_conn_send(c, db_query_new(NULL, c->db->listen_sql, 0, NULL,
			    db_listen_cb, c->db));
			return;
		}
		db_dispatch(c->db);
		if (c->state == DB_IDLE)
			db_conn_rest(c);
		return;
	default:
		db_conn_break(c, PQerrorMessage(c->pg));
		return;
	}
}

static void
db_conn_start(struct db_conn *c)
{
	/* Named in pg_stat_activity; the conninfo may be a URL. */
	static const char *const keys[] = { "dbname", "application_name",
	    NULL };
	const char *values[] = { c->db->conninfo, "kilnd", NULL };

	c->pg = PQconnectStartParams(keys, values, 1);
	if (c->pg == NULL) {
		db_conn_break(c, "out of memory");
		return;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		db_conn_break(c, PQerrorMessage(c->pg));
		return;
	}
	c->state = DB_CONNECTING;
	db_conn_connect_step(c);
}

/* Drain results of the current query; finish it when libpq has no more. */
static void
db_conn_read_results(struct db_conn *c)
{
	PGresult *res;

	while (!PQisBusy(c->pg)) {
		res = PQgetResult(c->pg);
		if (res == NULL && c->preparing) {
			c->preparing = 0;
			if (!c->failed && c->current != NULL) {
				c->prepared[c->nprepared++] =
				    xstrdup(c->current->name);
				if (c->last != NULL)
					PQclear(c->last);
				c->last = NULL;
				db_conn_send(c, c->current);
				return;
			}
			/* A Prepare that failed fails its query, below. */
		}
		if (res == NULL) {
			struct db_query *q = c->current;
			PGresult *last = c->last;
			int failed = c->failed;

			c->current = NULL;
			c->last = NULL;
			c->failed = 0;
			c->state = DB_IDLE;
			db_conn_arm(c, EV_READ);
			db_conn_rest(c);
			if (q != NULL) {
				const char *err = NULL;

				if (failed)
					err = last != NULL ?
					    PQresultErrorMessage(last) :
					    "query failed";
				db_query_finish(q, last, err);
			}
			if (last != NULL)
				PQclear(last);
			db_dispatch(c->db);
			return;
		}
		switch (PQresultStatus(res)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
			break;
		default:
			c->failed = 1;
			break;
		}
		if (c->last != NULL)
			PQclear(c->last);
		c->last = res;
	}
}

static void
db_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;
	int r;

	if (c->state == DB_CONNECTING) {
		db_conn_connect_step(c);
		return;
	}
	if (what & EV_WRITE) {
		if ((r = PQflush(c->pg)) == -1) {
			db_conn_break(c, PQerrorMessage(c->pg));
			return;
		}
		if (r == 0)
			db_conn_arm(c, EV_READ);
	}
	if (what & EV_READ) {
		if (!PQconsumeInput(c->pg)) {
			db_conn_break(c, PQerrorMessage(c->pg));
			return;
		}
		/* Reading results parses notifications that came with them. */
		if (c->state == DB_BUSY)
			db_conn_read_results(c);
		else if (PQstatus(c->pg) == CONNECTION_BAD)
			db_conn_break(c, PQerrorMessage(c->pg));
		db_conn_notifies(c);
	}
}

static void
db_conn_send(struct db_conn *c, struct db_query *q)
{
	int r;

	c->current = q;
	c->state = DB_BUSY;
	evtimer_del(c->idle);
	if (q->name != NULL && !db_conn_has_prepared(c, q->name) &&
	    c->nprepared < DB_PREPARED_MAX) {
		c->preparing = 1;
		r = PQsendPrepare(c->pg, q->name, q->sql, q->nparams, NULL);
	} else if (q->name != NULL && db_conn_has_prepared(c, q->name))
		r = PQsendQueryPrepared(c->pg, q->name, q->nparams,
		    (const char *const *)q->params, NULL, NULL, 0);
	else
		r = PQsendQueryParams(c->pg, q->sql, q->nparams, NULL,
		    (const char *const *)q->params, NULL, NULL, 0);
	if (!r) {
		db_conn_break(c, PQerrorMessage(c->pg));
		return;
	}
	if ((r = PQflush(c->pg)) == -1) {
		db_conn_break(c, PQerrorMessage(c->pg));
		return;
	}
	db_conn_arm(c, r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

static void	db_grow_cb(evutil_socket_t, short, void *);

static void
db_dispatch(struct db *db)
{
	struct db_query *q;
	int i;

	for (i = db_first_query_conn(db); i < db->nconn &&
	    !TAILQ_EMPTY(&db->queue); i++) {
		struct db_conn *c = &db->conns[i];

		if (c->state != DB_IDLE)
			continue;
		q = TAILQ_FIRST(&db->queue);
		TAILQ_REMOVE(&db->queue, q, entry);
		db->queued--;
		hist_observe(&db->wait, (double)(now_ms() - q->queued_ms) /
		    1000.0);
		db_conn_send(c, q);
	}
	if (db->queued == 0)
		return;
	/*
	 * With no connection to wait for (the listener's alone at rest),
	 * waiting DB_GROW_MS would only add to the first query's time.
	 */
	if (db_first_query_conn(db) == 1 && !db_conn_open_from(db, 1)) {
		db_grow_cb(-1, 0, db);
		return;
	}
	if (!evtimer_pending(db->grow, NULL)) {
		struct timeval tv = { 0, DB_GROW_MS * 1000 };

		evtimer_add(db->grow, &tv);
	}
}

/* Queries still wait: open closed connections, one per query. */
static void
db_grow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;
	int i, waiting;

	waiting = db->queued;
	for (i = db_listener_only(db); i < db->nconn && waiting > 0; i++) {
		struct db_conn *c = &db->conns[i];

		if (c->state == DB_CONNECTING)
			waiting--;
		else if (c->state == DB_CLOSED) {
			db_conn_start(c);
			waiting--;
		}
	}
}

struct db *
db_new(struct event_base *base, const char *conninfo, int nconn)
{
	struct db *db = xcalloc(1, sizeof *db);
	int i;

	db->base = base;
	db->conninfo = xstrdup(conninfo);
	db->nconn = nconn;
	db->conns = xcalloc((size_t)nconn, sizeof *db->conns);
	TAILQ_INIT(&db->queue);
	hist_init(&db->wait, db_wait_bounds, nitems(db_wait_bounds));
	db->fail_ev = event_new(base, -1, 0, db_fail_cb, db);
	db->grow = evtimer_new(base, db_grow_cb, db);
	for (i = 0; i < nconn; i++) {
		struct db_conn *c = &db->conns[i];

		c->db = db;
		c->index = i;
		c->retry = evtimer_new(base, db_retry_cb, c);
		c->idle = evtimer_new(base, db_idle_cb, c);
		c->state = DB_CLOSED;
	}
	db_conn_start(&db->conns[0]);
	return db;
}

void
db_free(struct db *db)
{
	struct db_query *q;
	int i;

	if (db == NULL)
		return;
	for (i = 0; i < db->nconn; i++) {
		struct db_conn *c = &db->conns[i];

		db_conn_watch(c, 0);
		event_free(c->retry);
		event_free(c->idle);
		if (c->last != NULL)
			PQclear(c->last);
		if (c->current != NULL)
			db_query_finish(c->current, NULL, "shutting down");
		db_conn_close(c);
	}
	while ((q = TAILQ_FIRST(&db->queue)) != NULL) {
		TAILQ_REMOVE(&db->queue, q, entry);
		db_query_finish(q, NULL, "shutting down");
	}
	event_free(db->fail_ev);
	event_free(db->grow);
	free(db->conns);
	free(db->conninfo);
	free(db->listen_sql);
	free(db);
}

int
db_query(struct db *db, const char *sql, int nparams,
    const char *const *params, db_cb cb, void *arg)
{
	return db_query_named(db, NULL, sql, nparams, params, cb, arg);
}

int
db_query_named(struct db *db, const char *name, const char *sql,
    int nparams, const char *const *params, db_cb cb, void *arg)
{
	struct db_query *q;

	if (db->queued >= DB_QUEUE_MAX)
		return -1;
	q = db_query_new(name, sql, nparams, params, cb, arg);
	TAILQ_INSERT_TAIL(&db->queue, q, entry);
	db->queued++;
	if (db_down(db))
		event_active(db->fail_ev, EV_TIMEOUT, 0);
	else
		db_dispatch(db);
	return 0;
}

void
db_listen(struct db *db, const char *channel, db_notify_cb cb, void *arg)
{
	struct db_conn *c = &db->conns[0];

	free(db->listen_sql);
	db->listen_sql = xasprintf("LISTEN %s", channel);
	db->notify_cb = cb;
	db->notify_arg = arg;
	if (c->state == DB_IDLE)
		db_conn_send(c, db_query_new(NULL, db->listen_sql, 0, NULL,
		    db_listen_cb, db));
}

int
db_connected(const struct db *db)
{
	int i, n = 0;

	for (i = 0; i < db->nconn; i++)
		if (db->conns[i].state == DB_IDLE ||
		    db->conns[i].state == DB_BUSY)
			n++;
	return n;
}

void
db_stats(const struct db *db, int *busy, int *queued,
    const struct hist **wait)
{
	int i;

	*busy = 0;
	for (i = 0; i < db->nconn; i++)
		*busy += db->conns[i].state == DB_BUSY;
	*queued = db->queued;
	*wait = &db->wait;
}
