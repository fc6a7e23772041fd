/*
 * kilnd: the kiln daemon.  main() wires the subsystems together around one
 * libevent loop:
 *
 *   pgembed (optional) -> migrations -> db pool -> logsrv -> HTTP (public
 *   TCP + admin Unix socket) -> supervisor (local workers) -> reaper timer
 *
 * Start-up may block (initdb, migrations); once event_base_dispatch() runs,
 * nothing does.  SIGTERM/SIGINT stop the workers, then the loop, then the
 * embedded cluster.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "config.h"
#include "connguard.h"
#include "db.h"
#include "kilnd.h"
#include "libinit.h"
#include "log.h"
#include "logsrv.h"
#include "migrate.h"
#include "orphans.h"
#include "pgembed.h"
#include "secretbox.h"
#include "spawn.h"
#include "util.h"

#define KILND_REAP_INTERVAL_S	5
/*
 * With nothing queued or running there is nothing to reap, and whatever
 * comes next is NOTIFYed (kilnd_work_cb() goes back to the short tick):
 * the tick at rest is only a fallback, and rare enough that the query
 * connection it opens closes between ticks (db.c, DB_IDLE_CLOSE_MS),
 * leaving kilnd one PostgreSQL session that only listens.
 */
#define KILND_REST_INTERVAL_S	60
/*
 * Past the drain: a cancelled step gets SIGINT, 7.5 s, SIGTERM, 2.5 s, then
 * the supervisor SIGKILLs what is left 10 s after its SIGTERM; deliveries
 * being stored finish meanwhile.  Whatever still hangs after this is cut.
 */
#define KILND_STOP_MARGIN_S	30

/* Descriptors kept for everything but HTTP connections. */
#define KILND_FD_RESERVE	128

/*
 * A dead embedded PostgreSQL is started again after a growing pause (its
 * orphaned backends must let go of the shared memory first); one that stays
 * up KILND_PG_STABLE_MS has recovered.  After KILND_PG_FAILURES_MAX deaths
 * in a row kilnd stops with exit status 1, for systemd's Restart=on-failure
 * and for the person reading the journal.
 */
#define KILND_PG_STABLE_MS	30000
#define KILND_PG_FAILURES_MAX	8
#define KILND_PG_PAUSE_MIN_MS	250
#define KILND_PG_PAUSE_MAX_MS	5000

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: kilnd [-dnV] [-c file]\n"
	    "  -c file   configuration file (default %s/kiln/kiln.conf if it "
	    "exists)\n"
	    "  -d        debug logging\n"
	    "  -n        check the configuration and exit\n"
	    "  -V        print the version and exit\n"
	    "  --help-config  print every configuration key with its default\n",
	    KILN_SYSCONFDIR);
	exit(code);
}

static void
print_line(const char *line, void *arg)
{
	printf("%s\n", line);
}

/* The reaper's tick from now on: a persistent timer takes the new time. */
static void
kilnd_reap_every(struct kilnd *k, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(k->reap_timer, &tv);
}

/*
 * NOTIFY kiln_work: one more event or job queued, for one idle worker;
 * the payload says which queue.  After a (re)LISTEN (payload NULL) what
 * was missed is unknown: every worker looks.  Either way work may be in
 * flight again, so the reaper's short tick resumes.
 */
static void
kilnd_work_cb(const char *payload, void *arg)
{
	struct kilnd *k = arg;

	if (k->at_rest) {
		k->at_rest = 0;
		kilnd_reap_every(k, KILND_REAP_INTERVAL_S);
	}
	if (k->sup == NULL)
		return;
	if (payload == NULL)
		supervisor_wake(k->sup, SUP_WAKE_ALL);
	else
		supervisor_wake(k->sup, strcmp(payload, "event") == 0 ?
		    SUP_WAKE_EVENT : strcmp(payload, "job") == 0 ?
		    SUP_WAKE_JOB : SUP_WAKE_ANY);
}

static void
kilnd_probe_cb(PGresult *res, const char *error, void *arg)
{
	struct kilnd *k = arg;

	k->probing = 0;
	if (error == NULL && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0 && k->sup != NULL)
		supervisor_wake(k->sup, SUP_WAKE_ALL);
	if (error == NULL && PQntuples(res) == 1 && !k->at_rest &&
	    strcmp(PQgetvalue(res, 0, 1), "f") == 0) {
		k->at_rest = 1;
		kilnd_reap_every(k, KILND_REST_INTERVAL_S);
	}
	artifacts_sweep(k);
}

/*
 * What becomes claimable with no NOTIFY (an event's planning lease ran
 * out and the reaper queued it again, a job handed back) would wait for a
 * local worker's own look a minute later: the reaper's tick looks for it
 * and wakes every worker -- the local workers' fallback, since kilnd
 * hands them one NOTIFY each (supervisor_wake()).  Two index scans
 * (events_queued, jobs_queued).  The same statement says whether anything
 * is in flight (events_open, runs_active): when nothing is, the tick
 * slows to KILND_REST_INTERVAL_S.  Then the artifacts' expiry.
 */
static void
kilnd_probe(struct kilnd *k)
{
	if (k->probing)
		return;
	if (k->sup != NULL && db_query(k->db, "SELECT EXISTS (SELECT 1 FROM "
	    "events WHERE status = 'queued' AND (lease_until IS NULL OR "
	    "lease_until <= now())) OR EXISTS (SELECT 1 FROM jobs WHERE "
	    "status = 'queued'), EXISTS (SELECT 1 FROM events WHERE status "
	    "<> 'completed') OR EXISTS (SELECT 1 FROM runs WHERE status <> "
	    "'completed')", 0, NULL, kilnd_probe_cb, k) == 0)
		k->probing = 1;
	else
		artifacts_sweep(k);
}

static void
kilnd_reap_cb(PGresult *res, const char *error, void *arg)
{
	struct kilnd *k = arg;
	int i;

	k->reaping = 0;
	/*
	 * Then the probe, then the artifacts' expiry: one after the other,
	 * so that the reaper's tick needs one connection, not three.
	 */
	kilnd_probe(k);
	if (error != NULL) {
		log_warnx("reaper: %s", error);
		return;
	}
	/* Each says why in its log; a connection still open for it closes. */
	for (i = 0; i < PQntuples(res); i++)
		logsrv_note_failure(k->logsrv, strtoll(PQgetvalue(res, i, 0),
		    NULL, 10), PQgetvalue(res, i, 1));
}

static void
kilnd_reap_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kilnd *k = arg;

	/* One at a time: a reaper stuck on a lock must not fill the pool. */
	if (k->reaping || db_connected(k->db) == 0)
		return;
	if (db_query(k->db, "SELECT * FROM kiln_reap_jobs()", 0, NULL,
	    kilnd_reap_cb, k) == 0)
		k->reaping = 1;
}

struct kilnd_logauth {
	struct kilnd	*k;
	uint64_t	 ticket;
};

static void
kilnd_logauth_cb(PGresult *res, const char *error, void *arg)
{
	struct kilnd_logauth *a = arg;
	char why[600];

	if (error != NULL) {
		snprintf(why, sizeof why, "cannot check the job: %s", error);
		logsrv_authorized(a->k->logsrv, a->ticket, why);
	} else if (PQntuples(res) != 1)
		logsrv_authorized(a->k->logsrv, a->ticket, "cannot check the "
		    "job: no answer");
	else
		logsrv_authorized(a->k->logsrv, a->ticket,
		    PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0));
	free(a);
}

/*
 * A log HELLO: only the worker running the job, with the token it stored
 * the hash of when it claimed it, may write the job's log.
 */
static void
kilnd_logauth(int64_t job_id, const char *worker, const char *token,
    uint64_t ticket, void *arg)
{
	struct kilnd_logauth *a = xcalloc(1, sizeof *a);
	char job[32];
	const char *params[3] = { job, worker, token };

	a->k = arg;
	a->ticket = ticket;
	snprintf(job, sizeof job, "%lld", (long long)job_id);
	if (db_query_named(a->k->db, "kiln_log_attach",
	    "SELECT kiln_log_attach($1::bigint, $2, $3)", 3, params,
	    kilnd_logauth_cb, a) == -1) {
		free(a);
		logsrv_authorized(((struct kilnd *)arg)->logsrv, ticket,
		    "cannot check the job: the database is unavailable");
	}
}

/*
 * Stopping ends the loop only once the workers have exited and every
 * delivery already accepted on the wire has been stored and answered:
 * GitHub does not redeliver on its own, so none may be dropped.
 */
void
kilnd_check_exit(struct kilnd *k)
{
	if (k->stopping && supervisor_running(k->sup) == 0 &&
	    webhook_idle(k->webhook))
		event_base_loopexit(k->base, NULL);
}

/*
 * The listener's connection cap, below the open-file limit (raised to its
 * hard maximum first): an accept() that fails for want of descriptors
 * would leave the socket readable, and workers, the database pool, logs
 * and SSE viewers need descriptors too.
 */
static int
kilnd_connection_cap(int wanted)
{
	struct rlimit rl;
	rlim_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return wanted;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Up to 1.5 times the cap are open while the sweep trims. */
	room = rl.rlim_cur > KILND_FD_RESERVE + 12 ?
	    (rl.rlim_cur - KILND_FD_RESERVE) * 2 / 3 : 8;
	if ((rlim_t)wanted > room) {
		log_warnx("[server] max_connections %d is more than the open-"
		    "file limit (%llu) leaves room for; using %llu (raise "
		    "LimitNOFILE= or ulimit -n)", wanted,
		    (unsigned long long)rl.rlim_cur, (unsigned long long)room);
		return (int)room;
	}
	return wanted;
}

/* Every way of stopping: bounded by drain_seconds and a margin. */
static void
kilnd_stop(struct kilnd *k)
{
	k->stopping = 1;
	notify_stopping(k->notify);
	/* No new deliveries; those in flight still get their answers. */
	if (k->public_socket != NULL) {
		connguard_unwatch(k->guard);
		evhttp_del_accept_socket(k->http_public, k->public_socket);
		k->public_socket = NULL;
	}
	/* Bounded: a database that never answers must not block the stop. */
	event_base_loopexit(k->base, &(struct timeval){
	    k->cfg->drain_seconds + KILND_STOP_MARGIN_S, 0 });
	supervisor_drain(k->sup, k->cfg->drain_seconds);
	kilnd_check_exit(k);
}

static void
kilnd_sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct kilnd *k = arg;

	if (k->stopping)
		return;
	log_info("received signal %d; stopping", (int)sig);
	kilnd_stop(k);
}

/* The embedded postmaster died (why) or could not be started again. */
static void
kilnd_pg_lost(struct kilnd *k, const char *why)
{
	struct timeval tv;
	int pause_ms, i;

	if (now_ms() - k->pg_started_ms >= KILND_PG_STABLE_MS)
		k->pg_failures = 0;
	if (++k->pg_failures > KILND_PG_FAILURES_MAX) {
		log_warnx("embedded PostgreSQL %s, %d times in a row; "
		    "stopping with exit status 1 (see %s/pg/postgres.log)",
		    why, k->pg_failures, k->cfg->state_dir);
		k->exit_code = 1;
		kilnd_stop(k);
		return;
	}
	pause_ms = KILND_PG_PAUSE_MIN_MS;
	for (i = 1; i < k->pg_failures && pause_ms < KILND_PG_PAUSE_MAX_MS; i++)
		pause_ms *= 2;
	if (pause_ms > KILND_PG_PAUSE_MAX_MS)
		pause_ms = KILND_PG_PAUSE_MAX_MS;
	log_warnx("embedded PostgreSQL %s; starting it again in %d ms "
	    "(attempt %d of %d); requests needing the database get 503 "
	    "meanwhile", why, pause_ms, k->pg_failures, KILND_PG_FAILURES_MAX);
	tv.tv_sec = pause_ms / 1000;
	tv.tv_usec = (pause_ms % 1000) * 1000;
	evtimer_add(k->pg_restart, &tv);
}

static void
kilnd_pg_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kilnd *k = arg;
	char err[512], why[600];

	if (k->stopping)
		return;
	k->pg_started_ms = now_ms();
	if (pgembed_restart(k->pg, err, sizeof err) == -1) {
		snprintf(why, sizeof why, "could not be started (%s)", err);
		kilnd_pg_lost(k, why);
	}
}

static void
kilnd_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct kilnd *k = arg;
	char why[128], text[160];
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == pgembed_pid(k->pg)) {
			pgembed_reaped(k->pg);
			if (k->stopping)
				continue;
			spawn_status_text(status, why, sizeof why);
			snprintf(text, sizeof text, "exited unexpectedly (%s)",
			    why);
			kilnd_pg_lost(k, text);
			continue;
		}
		supervisor_reaped(k->sup, pid, status);
	}
	kilnd_check_exit(k);
}

/*
 * Keys a reload applies at once: kilnd reads them where it uses them.
 * Everything else it only reads at start-up (sockets, paths, the database)
 * or hands to workers when they start, so a change is reported as needing
 * a restart, by name, and the running value is kept.
 */
static const char *const kilnd_live_keys[][2] = {
	{ "log", "level" },
	{ "workers", "count" },
	{ "web", "access" },
	{ "web", "session_hours" },
	{ "schedules", "catch_up" },
	{ "metrics", "access" },
	{ "server", "drain_seconds" },
};

struct kilnd_reload {
	struct kiln_config	*running, *loaded;
	int			 applied, restart;
	struct buf		 needs_restart;
};

static void
kilnd_set_log_level(const char *level)
{
	static const char *levels[] = { "error", "warn", "info", "debug" };
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(level, levels[i]) == 0)
			log_set_level((enum log_level)i);
}

static void
kilnd_reload_key_cb(const char *section, const char *name, void *arg)
{
	struct kilnd_reload *r = arg;
	size_t i;

	for (i = 0; i < nitems(kilnd_live_keys); i++)
		if (strcmp(kilnd_live_keys[i][0], section) == 0 &&
		    strcmp(kilnd_live_keys[i][1], name) == 0) {
			config_take(r->running, r->loaded, section, name);
			if (strcmp(section, "log") == 0)
				kilnd_set_log_level(r->running->log_level);
			log_info("reload: [%s] %s applied", section, name);
			r->applied++;
			return;
		}
	buf_printf(&r->needs_restart, "%s[%s] %s", r->restart ? ", " : "",
	    section, name);
	r->restart++;
}

/*
 * SIGHUP: read the file again.  A file that does not load changes nothing
 * (the reason names file:line); otherwise live keys apply and the others
 * are named as needing a restart.
 */
static void
kilnd_sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct kilnd *k = arg;
	struct kiln_config loaded;
	struct kilnd_reload r;
	char err[1024], status[1200];
	int before = k->cfg->worker_count, fits;

	if (k->stopping)
		return;
	notify_reloading(k->notify);
	if (config_load(k->cfg->path, &loaded, err, sizeof err) == -1) {
		log_warnx("reload refused, running configuration kept: %s",
		    err);
		snprintf(status, sizeof status, "reload refused: %s", err);
		notify_reloaded(k->notify, status);
		return;
	}
	memset(&r, 0, sizeof r);
	r.running = k->cfg;
	r.loaded = &loaded;
	config_diff(k->cfg, &loaded, kilnd_reload_key_cb, &r);
	(void)supervisor_write_config(k->sup);
	fits = k->pg == NULL ? INT_MAX : pgembed_connection_limit(k->pg) -
	    PGEMBED_SPARE_CONNECTIONS - k->cfg->db_connections - 1;
	if (k->cfg->worker_count != before && k->cfg->worker_count > fits) {
		log_warnx("reload: [workers] count %d needs a restart: the "
		    "embedded PostgreSQL was started with max_connections "
		    "%d, room for %d workers (running %d)",
		    k->cfg->worker_count, pgembed_connection_limit(k->pg),
		    fits, fits > before ? fits : before);
		k->cfg->worker_count = fits > before ? fits : before;
	}
	if (k->cfg->worker_count != before)
		supervisor_resize(k->sup, k->cfg->worker_count);
	if (r.restart)
		log_warnx("reload: needs a restart to change: %s (running "
		    "values kept)", r.needs_restart.data);
	log_info("reloaded %s: %d key(s) applied, %d need a restart",
	    k->cfg->path ? k->cfg->path : "(defaults)", r.applied, r.restart);
	snprintf(status, sizeof status, "reloaded: %d applied, %d need a "
	    "restart", r.applied, r.restart);
	notify_reloaded(k->notify, status);
	buf_free(&r.needs_restart);
	config_free(&loaded);
}

/*
 * Migrate, then record whether this kilnd sends the outbox
 * (sql/033_outbox_reporting.sql): without [github] the state triggers
 * write nothing.  Before the workers start, so no job's change is missed.
 */
static int
kilnd_migrate(const char *conninfo, int reporting, char *err, size_t errsz)
{
	PGconn *conn = PQconnectdb(conninfo);
	const char *params[1] = { reporting ? "true" : "false" };
	PGresult *res;
	int n;

	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errsz, "connecting to the database: %s",
		    PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	n = migrate_apply(conn, err, errsz);
	if (n >= 0) {
		res = PQexecParams(conn, "UPDATE outbox_reporting SET enabled = "
		    "$1::boolean", 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(err, errsz, "recording whether the outbox is "
			    "sent: %s", PQerrorMessage(conn));
			n = -1;
		}
		PQclear(res);
	}
	PQfinish(conn);
	if (n > 0)
		log_info("applied %d database migration(s)", n);
	return n < 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help-config", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kiln_config cfg;
	struct kilnd k;
	struct event *sigs[4];
	const char *conf = NULL;
	char err[1024];
	int ch, check_only = 0, debug = 0, i;
	struct timeval reap_tv = { KILND_REAP_INTERVAL_S, 0 };

	libinit_reexec(argv);
	while ((ch = getopt_long(argc, argv, "c:dnVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'V':
			printf("kilnd %s\n", KILN_VERSION);
			return 0;
		case 'H':
			config_describe(print_line, NULL);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (conf == NULL && access(KILN_SYSCONFDIR "/kiln/kiln.conf", R_OK) == 0)
		conf = KILN_SYSCONFDIR "/kiln/kiln.conf";
	log_init("kilnd", debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (config_load(conf, &cfg, err, sizeof err) == -1)
		fatalx("%s", err);
	if (check_only) {
		printf("%s: configuration OK\n", conf ? conf : "(defaults)");
		config_free(&cfg);
		return 0;
	}
	if (!debug)
		kilnd_set_log_level(cfg.log_level);

	memset(&k, 0, sizeof k);
	k.cfg = &cfg;
	/* Before anything is forked: children must not speak for kilnd. */
	k.notify = notify_new();
	k.metrics = metrics_new();
	signal(SIGPIPE, SIG_IGN);
	/* The state directory must be traversable by the cluster's owner. */
	if (mkdir_p(cfg.state_dir, 0755) == -1)
		fatal("creating %s", cfg.state_dir);
	k.log_dir = xasprintf("%s/logs", cfg.state_dir);
	if (mkdir_p(k.log_dir, 0750) == -1 || mkdir_p(cfg.work_dir, 0755) == -1)
		fatal("creating %s", k.log_dir);
	/* Before anything starts: a key others can read stops us here. */
	if (secretbox_key_load(cfg.secrets_key_file, 1, k.secret_key, err,
	    sizeof err) == -1)
		fatalx("secrets: %s", err);

	if (cfg.db_url[0] == '\0' &&
	    (k.pg = pgembed_start(&cfg, err, sizeof err)) == NULL)
		fatalx("embedded PostgreSQL: %s", err);
	k.conninfo = config_conninfo(&cfg);
	if (kilnd_migrate(k.conninfo, cfg.gh_token_file[0] != '\0' ||
	    cfg.gh_app_id[0] != '\0', err, sizeof err) == -1) {
		pgembed_stop(k.pg);
		fatalx("%s", err);
	}

	if ((k.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	/* One more than [database] connections: connection 0 only listens. */
	k.db = db_new(k.base, k.conninfo, cfg.db_connections + 1);
	db_listen(k.db, "kiln_work", kilnd_work_cb, &k);
	k.webhook = webhook_new(&k);
	if ((k.logsrv = logsrv_new(k.base, cfg.log_socket, k.log_dir, err,
	    sizeof err)) == NULL) {
		pgembed_stop(k.pg);
		fatalx("log socket: %s", err);
	}
	logsrv_set_max_job_bytes(k.logsrv, (uint64_t)cfg.log_max_job_bytes);
	logsrv_set_authorizer(k.logsrv, kilnd_logauth, &k);
	k.sse = web_sse_new(&k);
	if (cfg.listen[0] != '\0') {
		k.http_public = evhttp_new(k.base);
		evhttp_set_max_body_size(k.http_public, WEBHOOK_MAX_BODY);
		evhttp_set_max_headers_size(k.http_public, HTTP_MAX_HEADERS);
		k.route_public = http_attach(&k, k.http_public, HTTP_PUBLIC);
		k.guard = connguard_new(k.base, k.http_public,
		    kilnd_connection_cap(cfg.max_connections),
		    cfg.request_timeout * 1000);
		if (http_listen_tcp(k.http_public, cfg.listen,
		    &k.public_socket, err, sizeof err) == -1) {
			pgembed_stop(k.pg);
			fatalx("%s", err);
		}
		connguard_watch(k.guard, k.public_socket);
	}
	k.http_admin = evhttp_new(k.base);
	evhttp_set_max_body_size(k.http_admin, 1024 * 1024);
	evhttp_set_max_headers_size(k.http_admin, HTTP_MAX_HEADERS);
	k.route_admin = http_attach(&k, k.http_admin, HTTP_ADMIN);
	if (http_listen_unix(k.base, k.http_admin, cfg.admin_socket, err,
	    sizeof err) == -1) {
		pgembed_stop(k.pg);
		fatalx("%s", err);
	}

	err[0] = '\0';
	if ((k.remote = remote_start(&k, err, sizeof err)) == NULL &&
	    err[0] != '\0') {
		pgembed_stop(k.pg);
		fatalx("%s", err);
	}

	sigs[0] = evsignal_new(k.base, SIGTERM, kilnd_sigterm_cb, &k);
	sigs[1] = evsignal_new(k.base, SIGINT, kilnd_sigterm_cb, &k);
	sigs[2] = evsignal_new(k.base, SIGCHLD, kilnd_sigchld_cb, &k);
	sigs[3] = evsignal_new(k.base, SIGHUP, kilnd_sighup_cb, &k);
	for (i = 0; i < 4; i++)
		evsignal_add(sigs[i], NULL);
	k.reap_timer = event_new(k.base, -1, EV_PERSIST, kilnd_reap_timer_cb,
	    &k);
	k.pg_restart = evtimer_new(k.base, kilnd_pg_restart_cb, &k);
	k.pg_started_ms = now_ms();
	evtimer_add(k.reap_timer, &reap_tv);

	/* A killed worker's job processes come to us, to be ended. */
	if (orphans_adopt() == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");
	k.sup = supervisor_new(&k);
	supervisor_start(k.sup);
	k.sched = sched_new(&k);
	err[0] = '\0';
	if ((k.outbox = outbox_new(&k, err, sizeof err)) == NULL &&
	    err[0] != '\0') {
		pgembed_stop(k.pg);
		fatalx("%s", err);
	}
	log_info("kilnd %s ready: http %s, admin %s, %d worker(s)",
	    KILN_VERSION, cfg.listen[0] ? cfg.listen : "(off)",
	    cfg.admin_socket, cfg.worker_count);
	/* The database answered (migrations), listeners and workers are up. */
	notify_ready(k.notify, &k);

	event_base_dispatch(k.base);

	log_info("shutting down");
	for (i = 0; i < 4; i++)
		event_free(sigs[i]);
	event_free(k.reap_timer);
	event_free(k.pg_restart);
	/*
	 * The pool first: its pending callbacks still answer their HTTP
	 * requests (which must exist until evhttp_free()) and reach the
	 * supervisor's workers (which must exist until supervisor_free()).
	 */
	db_free(k.db);
	notify_free(k.notify);
	metrics_free(k.metrics);
	sched_free(k.sched);
	outbox_free(k.outbox);
	supervisor_free(k.sup);
	webhook_free(k.webhook);
	web_sse_free(k.sse);
	connguard_free(k.guard);
	if (k.http_public != NULL)
		evhttp_free(k.http_public);
	remote_free(k.remote);
	evhttp_free(k.http_admin);
	free(k.route_public);
	free(k.route_admin);
	unlink(cfg.admin_socket);
	logsrv_free(k.logsrv);
	event_base_free(k.base);
	pgembed_stop(k.pg);
	free(k.conninfo);
	free(k.log_dir);
	OPENSSL_cleanse(k.secret_key, sizeof k.secret_key);
	config_free(&cfg);
	return k.exit_code;
}
