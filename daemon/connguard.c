/*
 * connguard: see connguard.h.
 *
 * Ownership.  Each connection's bufferevent is evhttp's, plain as ever; the
 * guard puts a callback on its input buffer, which counts the bytes a
 * request arrives in.  At the first bytes the guard learns the connection
 * (the bufferevent's callback argument is evhttp's) and asks evhttp for a
 * close callback, from which it forgets the connection: from then on it
 * never touches a freed one.  Until those first bytes it holds a
 * reference on the bufferevent (bufferevent_incref), so that a connection
 * evhttp frees while still silent stays readable by the sweep, which sees
 * its read callback cleared and lets go.
 * (libevent 2.1's filter bufferevents would have told us of every free,
 * but evhttp cannot answer through one later than from its read callback.)
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "connguard.h"
#include "log.h"
#include "util.h"

#define CONNGUARD_SWEEP_MS	250
#define CONNGUARD_LOG_MS	5000	/* one summary line at most this often */
#define CONNGUARD_GRACE_MS	1000	/* a new connection's time to speak */

struct gconn {
	TAILQ_ENTRY(gconn)	 entry;
	struct connguard	*g;
	struct bufferevent	*bev;		/* evhttp's; we hold a reference */
	struct evbuffer_cb_entry *counter;	/* on its input buffer */
	struct evhttp_connection *evcon;	/* once known: closecb set */
	void			(*user_cb)(struct evhttp_connection *, void *);
	void			*user_arg;	/* connguard_set_closecb() */
	int			 held;		/* we hold a reference */
	int64_t			 opened_ms;
	int64_t			 started_ms;	/* first byte of a request */
	uint64_t		 bytes;		/* read since then */
	int			 sending;	/* a request is arriving */
	int			 served;	/* a request reached its handler */
	int			 closing;	/* shut down by the guard */
};
TAILQ_HEAD(gconn_list, gconn);

struct connguard {
	struct event_base	*base;
	struct evhttp		*http;
	struct evconnlistener	*lev;		/* watched, or NULL */
	struct event		*sweep;
	struct gconn_list	 conns;
	int			 n;
	int			 max;
	int			 deadline_ms;
	int64_t			 logged_ms;
	uint64_t		 timed_out;	/* since the last log line */
	uint64_t		 evicted;
	uint64_t		 refused;
};

static void
gconn_shut(struct gconn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	c->closing = 1;
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

/*
 * Forget c: evhttp is freeing it (closecb), has freed it while silent
 * (held), or the guard goes.  Its bufferevent is still valid here.
 */
static void
gconn_release(struct connguard *g, struct gconn *c)
{
	TAILQ_REMOVE(&g->conns, c, entry);
	g->n--;
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->counter);
	if (c->evcon != NULL)	/* the guard goes first: hand the slot back */
		evhttp_connection_set_closecb(c->evcon, c->user_cb,
		    c->user_arg);
	if (c->held) {
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_decref(c->bev);
	}
	free(c);
}

static void
gconn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct gconn *c = arg;

	c->evcon = NULL;	/* going: no closecb to clear */
	if (c->user_cb != NULL)
		c->user_cb(evcon, c->user_arg);
	gconn_release(c->g, c);
}

static void
gconn_count_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct gconn *c = arg;
	void *evcon = NULL;
	bufferevent_data_cb readcb;

	if (info->n_added == 0)
		return;
	if (c->evcon == NULL) {
		/* evhttp's callback argument is its connection. */
		bufferevent_getcb(c->bev, &readcb, NULL, NULL, &evcon);
		if (readcb != NULL && evcon != NULL) {
			c->evcon = evcon;
			evhttp_connection_set_closecb(c->evcon, gconn_closed_cb,
			    c);
			if (c->held) {
				/* evhttp holds its own: this never frees. */
				c->held = 0;
				bufferevent_decref(c->bev);
			}
		}
	}
	if (!c->sending) {
		c->sending = 1;
		c->started_ms = now_ms();
		c->bytes = 0;
	}
	c->bytes += info->n_added;
}

/*
 * The connection to close for room: the slowest of those still sending a
 * request (bytes per ms since its first byte), or that have said nothing
 * since they opened CONNGUARD_GRACE_MS ago (rate 0; the oldest first).
 * Connections that were served and now idle or stream an answer are not
 * candidates.  NULL when there is none.
 */
static struct gconn *
connguard_slowest(struct connguard *g, int64_t now)
{
	struct gconn *c, *slowest = NULL;
	double rate, best = 0;

	TAILQ_FOREACH(c, &g->conns, entry) {
		if (c->closing)
			continue;
		if (c->sending)
			rate = (double)c->bytes /
			    (double)(now - c->started_ms + 1);
		else if (!c->served && now - c->opened_ms >= CONNGUARD_GRACE_MS)
			rate = 0;
		else
			continue;
		if (slowest == NULL || rate < best) {
			slowest = c;
			best = rate;
		}
	}
	return slowest;
}

/* The connection open longest without a byte, or NULL. */
static struct gconn *
connguard_oldest_silent(struct connguard *g)
{
	struct gconn *c;

	TAILQ_FOREACH(c, &g->conns, entry)	/* in order of opening */
		if (!c->closing && !c->sending && !c->served)
			return c;
	return NULL;
}

/* Connections not yet shut. */
static int
connguard_open(const struct connguard *g)
{
	const struct gconn *c;
	int n = 0;

	TAILQ_FOREACH(c, &g->conns, entry)
		n += !c->closing;
	return n;
}

/*
 * Past max_conns a newcomer is let in and the sweep trims the slowest
 * (giving each new connection CONNGUARD_GRACE_MS to speak: a burst of
 * accepts can't be judged before it is read).  Past half as many again
 * room is made at once: the slowest, else the connection silent longest
 * (a burst's first), else the newcomer is refused.
 */
static struct bufferevent *
connguard_bev_cb(struct event_base *base, void *arg)
{
	struct connguard *g = arg;
	struct gconn *c = xcalloc(1, sizeof *c), *victim = NULL;

	c->opened_ms = now_ms();
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		abort();	/* libevent fails only on OOM */
	bufferevent_incref(c->bev);
	c->held = 1;
	c->g = g;
	c->counter = evbuffer_add_cb(bufferevent_get_input(c->bev),
	    gconn_count_cb, c);
	if (connguard_open(g) >= g->max + g->max / 2) {
		if ((victim = connguard_slowest(g, c->opened_ms)) == NULL)
			victim = connguard_oldest_silent(g);
		if (victim != NULL) {
			gconn_shut(victim);
			g->evicted++;
		} else {
			/* No socket yet: the sweep shuts it, at once. */
			c->closing = 1;
			g->refused++;
			event_active(g->sweep, EV_TIMEOUT, 0);
		}
	}
	TAILQ_INSERT_TAIL(&g->conns, c, entry);
	g->n++;
	return c->bev;
}

/* accept() failed for want of descriptors or memory: pause, don't spin. */
static void
connguard_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	evconnlistener_disable(lev);
	log_warnx("http: accept: %s; not accepting for %d ms",
	    evutil_socket_error_to_string(err), CONNGUARD_SWEEP_MS);
}

static void
connguard_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connguard *g = arg;
	struct gconn *c, *next;
	bufferevent_data_cb readcb;
	int64_t now = now_ms();
	int open;

	for (c = TAILQ_FIRST(&g->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->held) {
			bufferevent_getcb(c->bev, &readcb, NULL, NULL, NULL);
			if (readcb == NULL) {
				/* evhttp freed it before it said anything */
				gconn_release(g, c);
				continue;
			}
		}
		if (c->closing) {
			gconn_shut(c);	/* again: a newcomer has its fd now */
			continue;
		}
		if (c->sending && now - c->started_ms > g->deadline_ms) {
			gconn_shut(c);
			g->timed_out++;
		}
	}
	for (open = connguard_open(g); open > g->max; open--) {
		if ((c = connguard_slowest(g, now)) == NULL)
			break;
		gconn_shut(c);
		g->evicted++;
	}
	if (g->timed_out + g->evicted + g->refused > 0 &&
	    now - g->logged_ms >= CONNGUARD_LOG_MS) {
		log_warnx("http: closed %" PRIu64 " connection(s) past the "
		    "%d s request deadline, %" PRIu64 " slowest for newcomers, "
		    "%" PRIu64 " refused at the cap of %d", g->timed_out,
		    g->deadline_ms / 1000, g->evicted, g->refused, g->max);
		g->timed_out = g->evicted = g->refused = 0;
		g->logged_ms = now;
	}
	if (g->lev != NULL)
		evconnlistener_enable(g->lev);
}

struct connguard *
connguard_new(struct event_base *base, struct evhttp *http, int max_conns,
    int deadline_ms)
{
	struct connguard *g = xcalloc(1, sizeof *g);
	struct timeval tv = { CONNGUARD_SWEEP_MS / 1000,
	    (CONNGUARD_SWEEP_MS % 1000) * 1000 };

	g->base = base;
	g->http = http;
	g->max = max_conns;
	g->deadline_ms = deadline_ms;
	TAILQ_INIT(&g->conns);
	g->sweep = event_new(base, -1, EV_PERSIST, connguard_sweep_cb, g);
	event_add(g->sweep, &tv);
	evhttp_set_bevcb(http, connguard_bev_cb, g);
	return g;
}

void
connguard_watch(struct connguard *g, struct evhttp_bound_socket *bound)
{
	g->lev = evhttp_bound_socket_get_listener(bound);
	evconnlistener_set_error_cb(g->lev, connguard_accept_error_cb);
}

void
connguard_unwatch(struct connguard *g)
{
	g->lev = NULL;
}

void
connguard_request_done(struct connguard *g, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct gconn *c;

	if (evcon == NULL)
		return;
	bev = evhttp_connection_get_bufferevent(evcon);
	TAILQ_FOREACH(c, &g->conns, entry) {
		if (c->bev == bev) {
			c->sending = 0;
			c->served = 1;
			return;
		}
	}
}

void
connguard_set_closecb(struct connguard *g, struct evhttp_connection *evcon,
    void (*cb)(struct evhttp_connection *, void *), void *arg)
{
	struct gconn *c;

	if (g != NULL)
		TAILQ_FOREACH(c, &g->conns, entry)
			if (c->evcon == evcon) {
				c->user_cb = cb;
				c->user_arg = arg;
				return;
			}
	evhttp_connection_set_closecb(evcon, cb, arg);
}

int
connguard_count(const struct connguard *g)
{
	return g->n;
}

void
connguard_free(struct connguard *g)
{
	if (g == NULL)
		return;
	/* evhttp_free() follows: it frees what we no longer hold. */
	while (!TAILQ_EMPTY(&g->conns))
		gconn_release(g, TAILQ_FIRST(&g->conns));
	event_free(g->sweep);
	free(g);
}
