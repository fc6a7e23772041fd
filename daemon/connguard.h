/*
 * connguard: holds an evhttp listener against clients that would hold it
 * (slowloris).  evhttp's own timeout restarts on every byte and it has no
 * connection cap, so:
 *
 *   - a request's headers and body must arrive within deadline_ms of its
 *     first byte, however slowly they trickle, or the connection is shut;
 *   - at most max_conns connections stay open: past it the slowest ones
 *     still sending a request (fewest bytes per second since their first
 *     byte) or silent since they opened a second ago are closed, and past
 *     1.5 times it a newcomer is refused outright;
 *   - an accept() that fails (EMFILE, ENFILE, ENOBUFS) pauses the listener
 *     until the next sweep instead of spinning on a readable socket, with
 *     one log line per pause.
 *
 * The guard makes each connection's bufferevent (evhttp's bevcb), counts
 * the bytes read into it and keeps a reference to it (see connguard.c).
 * Closing is shutdown(2) of the socket: evhttp sees the end and frees the
 * connection itself.  A sweep timer runs four times a second.
 */
#ifndef KILN_CONNGUARD_H
#define KILN_CONNGUARD_H

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct connguard;

/* Guard every connection http accepts from now on. */
struct connguard *connguard_new(struct event_base *, struct evhttp *,
		     int max_conns, int deadline_ms);
/* Pause bound's listener on accept errors (resumed by the sweep). */
void		 connguard_watch(struct connguard *,
		     struct evhttp_bound_socket *);
/* The listener is about to be freed (evhttp_del_accept_socket). */
void		 connguard_unwatch(struct connguard *);
/* req reached its handler: its connection sends no request any more. */
void		 connguard_request_done(struct connguard *,
		     struct evhttp_request *);
/*
 * evhttp_connection_set_closecb() for code that may share a connection
 * with the guard, which uses the one slot itself: both are called.  g may
 * be NULL (a listener without a guard).
 */
void		 connguard_set_closecb(struct connguard *g,
		     struct evhttp_connection *,
		     void (*cb)(struct evhttp_connection *, void *), void *arg);
/* Live connections, for /metrics and tests. */
int		 connguard_count(const struct connguard *);
/* Before evhttp_free(): connections freed later are forgotten. */
void		 connguard_free(struct connguard *);

#endif
