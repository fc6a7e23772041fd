/*
 * db: kilnd's asynchronous PostgreSQL pool.  Up to N nonblocking libpq
 * connections driven by libevent; queries wait in one FIFO and go to the
 * first idle connection, so the event loop never blocks on the database.
 * A lost connection is re-established with backoff; the query it was running
 * fails (its callback gets an error) and nothing else is lost.
 */
#ifndef KILN_DB_H
#define KILN_DB_H

#include <event2/event.h>
#include <libpq-fe.h>

struct db;

/*
 * Called once per query, from the event loop.  On success res is the last
 * result of the query (owned by db, valid during the call) and error NULL;
 * on failure res is NULL or the failed result and error says why.
 */
typedef void (*db_cb)(PGresult *res, const char *error, void *arg);

/* Start nconn connections to conninfo.  Caller frees with db_free(). */
struct db	*db_new(struct event_base *, const char *conninfo, int nconn);
void		 db_free(struct db *);

/*
 * Queue a parameterised query (parameters are copied; NULL means SQL NULL).
 * Returns 0, or -1 when the queue is full (DB_QUEUE_MAX, 100000) and the callback will
 * not be called.
 */
int		 db_query(struct db *, const char *sql, int nparams,
		     const char *const *params, db_cb cb, void *arg);

/*
 * The same for a statement kilnd runs often: each connection prepares it
 * under name at its first use there (one more round trip, once), then only
 * binds and executes it, which spares PostgreSQL the parse and, once it
 * settles on a generic plan, the planning.  A name must always come with
 * the same text (a static string); the first DB_PREPARED_MAX names a
 * connection sees are prepared, any further ones run as db_query() does.
 */
int		 db_query_named(struct db *, const char *name, const char *sql,
		     int nparams, const char *const *params, db_cb cb,
		     void *arg);

/*
 * LISTEN on channel (an SQL identifier, not quoted) on the connection kept
 * open, again after each reconnect; cb(payload, arg) runs from the event
 * loop once per notification, and with payload NULL after each successful
 * LISTEN (what was notified meanwhile went unheard: unknown, maybe much).
 * Call it before the first query (right after db_new()).  In a pool of two
 * or more that connection then only listens, and queries use the others
 * (unless none of them can connect).
 */
typedef void (*db_notify_cb)(const char *payload, void *arg);
void		 db_listen(struct db *, const char *channel, db_notify_cb cb,
		     void *arg);

/* Number of connections currently open and usable (at rest: 1). */
int		 db_connected(const struct db *);

struct hist;
/*
 * For /metrics: connections running a query, queries waiting for one, and
 * the histogram of how long queries waited (seconds; owned by db).
 */
void		 db_stats(const struct db *, int *busy, int *queued,
		     const struct hist **wait);

#endif
