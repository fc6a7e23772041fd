/*
 * notify: systemd's service notification protocol, spoken directly (no
 * libsystemd): one datagram of "KEY=value" lines per state change to the
 * AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the
 * abstract namespace).
 *
 * The environment is read and cleared at start-up, before anything is
 * forked, so neither the workers nor the embedded PostgreSQL (Debian's is
 * built with systemd support) inherit the socket and speak for kilnd.
 *
 * The watchdog ping is a timer on kilnd's own event loop at half of
 * $WATCHDOG_USEC: if the loop wedges, the pings stop and systemd restarts
 * the service.  The same timer refreshes STATUS= with the queue depth and
 * running jobs, from one asynchronous query at a time.
 *
 * Sending never blocks (a nonblocking datagram socket); a failed send is
 * logged once and otherwise ignored, as sd_notify(3) does.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

struct notify {
	int			 fd;		/* -1: not under systemd */
	struct sockaddr_un	 addr;
	socklen_t		 addrlen;
	uint64_t		 watchdog_usec;	/* 0: no watchdog */
	struct event		*timer;
	struct kilnd		*k;
	int			 querying;	/* a STATUS query is out */
	int			 send_failed;	/* logged once */
	int			 stopping;	/* no STATUS after STOPPING=1 */
};

/*
 * Parse $WATCHDOG_USEC and $WATCHDOG_PID as sd_watchdog_enabled(3) does:
 * the watchdog is ours only when WATCHDOG_PID is unset or our pid.
 */
static uint64_t
notify_watchdog_usec(const char *usec, const char *pid)
{
	unsigned long long v;
	char *end;

	if (usec == NULL || *usec == '\0')
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return 0;
	if (pid != NULL && *pid != '\0') {
		long p = strtol(pid, &end, 10);

		if (*end != '\0' || p != (long)getpid())
			return 0;
	}
	return (uint64_t)v;
}

struct notify *
notify_new(void)
{
	struct notify *n = xcalloc(1, sizeof *n);
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	n->fd = -1;
	n->watchdog_usec = notify_watchdog_usec(getenv("WATCHDOG_USEC"),
	    getenv("WATCHDOG_PID"));
	if (path != NULL && (len = strlen(path)) >= 2 &&
	    len < sizeof n->addr.sun_path && (path[0] == '/' || path[0] == '@')) {
		n->addr.sun_family = AF_UNIX;
		memcpy(n->addr.sun_path, path, len);
		if (path[0] == '@')
			n->addr.sun_path[0] = '\0';
		n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    len + (path[0] == '/'));
		n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		if (n->fd == -1)
			log_warn("NOTIFY_SOCKET: socket");
	} else if (path != NULL)
		log_warnx("NOTIFY_SOCKET \"%s\" is neither a path nor "
		    "@abstract; not notifying systemd", path);
	if (n->fd == -1)
		n->watchdog_usec = 0;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return n;
}

static void
notify_send(struct notify *n, const char *msg)
{
	if (n == NULL || n->fd == -1)
		return;
	if (sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&n->addr, n->addrlen) == -1 &&
	    !n->send_failed) {
		n->send_failed = 1;
		log_warn("notifying systemd");
	}
}

static void
notify_status_cb(PGresult *res, const char *error, void *arg)
{
	struct notify *n = arg;
	char msg[256];

	n->querying = 0;
	if (n->stopping)
		return;
	if (error != NULL || res == NULL || PQntuples(res) != 1) {
		notify_send(n, "STATUS=database not answering");
		return;
	}
	snprintf(msg, sizeof msg, "STATUS=%s job(s) queued, %s running, "
	    "%d local worker(s)", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	    n->k->cfg->worker_count);
	notify_send(n, msg);
}

static void
notify_refresh_status(struct notify *n)
{
	if (n->querying || n->stopping || n->k == NULL || n->k->db == NULL)
		return;
	if (db_query(n->k->db,
	    "SELECT count(*) FILTER (WHERE status = 'queued'),"
	    "       count(*) FILTER (WHERE status = 'in_progress')"
	    "  FROM jobs WHERE status IN ('queued', 'in_progress')",
	    0, NULL, notify_status_cb, n) == 0)
		n->querying = 1;
}

static void
notify_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;

	if (n->watchdog_usec != 0)
		notify_send(n, "WATCHDOG=1");
	notify_refresh_status(n);
}

void
notify_ready(struct notify *n, struct kilnd *k)
{
	uint64_t period_usec;
	struct timeval tv;
	char msg[512];

	if (n == NULL || n->fd == -1)
		return;
	n->k = k;
	snprintf(msg, sizeof msg, "READY=1\nSTATUS=ready: http %s, %d local "
	    "worker(s)\nMAINPID=%ld", k->cfg->listen[0] ? k->cfg->listen :
	    "(off)", k->cfg->worker_count, (long)getpid());
	notify_send(n, msg);
	if (n->timer != NULL)
		return;
	/* Half the watchdog interval, as sd_watchdog_enabled(3) advises. */
	period_usec = n->watchdog_usec != 0 ? n->watchdog_usec / 2 : 5000000;
	if (period_usec < 1000)
		period_usec = 1000;
	tv.tv_sec = (time_t)(period_usec / 1000000);
	tv.tv_usec = (suseconds_t)(period_usec % 1000000);
	n->timer = event_new(k->base, -1, EV_PERSIST, notify_timer_cb, n);
	evtimer_add(n->timer, &tv);
	if (n->watchdog_usec != 0)
		notify_send(n, "WATCHDOG=1");
}

void
notify_reloading(struct notify *n)
{
	struct timespec ts;
	char msg[128];

	if (n == NULL || n->fd == -1)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	notify_send(n, msg);
}

void
notify_reloaded(struct notify *n, const char *status)
{
	char msg[512];

	if (n == NULL || n->fd == -1)
		return;
	snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
	notify_send(n, msg);
}

void
notify_stopping(struct notify *n)
{
	if (n == NULL)
		return;
	n->stopping = 1;
	notify_send(n, "STOPPING=1\nSTATUS=stopping: draining workers and "
	    "deliveries");
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->timer != NULL)
		event_free(n->timer);
	if (n->fd != -1)
		close(n->fd);
	free(n);
}
