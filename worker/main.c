/*
 * kiln-worker: claims events (to plan) and jobs (to run) from PostgreSQL,
 * one at a time, woken by LISTEN/NOTIFY on channel kiln_work; a slow poll
 * is only the fallback.  Usually started and supervised by kilnd, but runs
 * standalone too (another host pointed at the same database).
 *
 * Parking: a worker kilnd started (--wake-fd) that has had no work for
 * [workers] park_seconds closes its database session -- a PostgreSQL
 * backend of several MiB, most of an idle install's memory -- and sleeps
 * on the pipe kilnd writes to when kiln_work is notified (kilnd LISTENs
 * on its own connection) or its reaper's tick finds queued work.  Once a
 * minute it connects anyway: to register (a worker unseen for two
 * minutes counts as gone) and to look for work nobody announced.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>
#include <openssl/crypto.h>

#include "actions.h"
#include "config.h"
#include "jobcg.h"
#include "libinit.h"
#include "ghapp.h"
#include "log.h"
#include "secretbox.h"
#include "util.h"
#include "orphans.h"
#include "container.h"
#include "worker.h"

#define WORKER_POLL_MS		5000	/* fallback when no NOTIFY arrives
					   (--poll-ms) */
#define WORKER_RECONNECT_MS	1000
#define WORKER_PARK_POLL_MS	60000	/* a parked worker looks anyway */
#define WORKER_MMAP_THRESHOLD	(128 * 1024)	/* glibc's initial value */
#define WORKER_TRIM_THRESHOLD	(2 * 1024 * 1024)
#define CACHE_SWEEP_MS		(3600 * 1000)	/* [cache] max_bytes and
						   [actions] keep_days sweep */

/* Set from signal handlers; main wiring only. */
static volatile sig_atomic_t worker_stop;
/* SIGUSR1 (kilnd shrinking its pool): finish the running job, then exit. */
static volatile sig_atomic_t worker_retire;

static void
worker_on_signal(int sig)
{
	if (sig == SIGUSR1)
		worker_retire = 1;
	else
		worker_stop = 1;
}

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: kiln-worker [-c file] [--name NAME] [--database CONNINFO]\n"
	    "                   [--log-socket PATH] [--work-dir DIR] [--once]\n"
	    "                   [--labels a,b,c] [--poll-ms MS] [--wake-fd FD]\n");
	exit(code);
}

/*
 * "Self-Hosted, linux ,x64" -> ["self-hosted","linux","x64"] (JSON, which
 * the claim query hands PostgreSQL as a parameter): runs-on labels match
 * case-insensitively, so both sides are lower-cased.
 */
static char *
worker_labels(const char *csv)
{
	json_t *arr = json_array();
	const char *p = csv, *start;
	char *one, *c, *text;
	size_t len;

	while (str_list_next(&p, &start, &len)) {
		one = xstrndup(start, len);
		for (c = one; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		json_array_append_new(arr, json_string(one));
		free(one);
	}
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return text != NULL ? text : xstrdup("[]");
}

/* This program's full path, to run itself as an isolated action. */
static char *
worker_self(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n <= 0)
		return xstrdup(KILN_BINDIR "/kiln-worker");
	self[n] = '\0';
	return xstrdup(self);
}

/*
 * [workers] run_as: steps run under that account when the worker is root.
 * Never the embedded database's own account: steps would get the database.
 */
static int
worker_run_as(struct worker *w, const struct kiln_config *cfg, char *err,
    size_t errsz)
{
	struct passwd *pw;

	if (cfg->run_as_pool[0] != '\0') {
		if (geteuid() != 0) {
			log_warnx("[workers] run_as_pool ignored: the worker is "
			    "not root, so steps run as the worker's own "
			    "account");
			return 0;
		}
		return slot_take(w, cfg, err, errsz);
	}
	if (cfg->run_as[0] == '\0')
		return 0;
	if (geteuid() != 0) {
		log_warnx("[workers] run_as = %s ignored: the worker is not "
		    "root, so steps run as the worker's own account",
		    cfg->run_as);
		return 0;
	}
	if ((pw = getpwnam(cfg->run_as)) == NULL) {
		snprintf(err, errsz, "[workers] run_as: no account \"%s\" "
		    "(useradd --system %s)", cfg->run_as, cfg->run_as);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errsz, "[workers] run_as: \"%s\" is root",
		    cfg->run_as);
		return -1;
	}
	if (cfg->db_url[0] == '\0' && strcmp(cfg->run_as, cfg->pg_user) == 0) {
		snprintf(err, errsz, "[workers] run_as: \"%s\" runs the "
		    "embedded PostgreSQL; steps must use another account",
		    cfg->run_as);
		return -1;
	}
	w->as_user = 1;
	w->run_uid = pw->pw_uid;
	w->run_gid = pw->pw_gid;
	w->run_home = xstrdup(pw->pw_dir);
	w->run_name = xstrdup(pw->pw_name);
	log_info("steps run as %s (uid %ld)", w->run_name, (long)w->run_uid);
	return 0;
}

/*
 * Steps may install into the tool cache: it is their account's.  With
 * run_as_pool, each account has its own, <tool_cache>/<account> (0700),
 * under a top the worker keeps (so no account renames another's).
 */
static int
worker_tool_cache(struct worker *w, const char *top)
{
	w->tool_cache = w->pool ? xasprintf("%s/%s", top, w->run_name) :
	    xstrdup(top);
	if (w->pool && (mkdir_p(top, 0755) == -1 || lchown(top, geteuid(),
	    getegid()) == -1 || chmod(top, 0755) == -1)) {
		log_warn("tool cache %s", top);
		return -1;
	}
	if (mkdir_p(w->tool_cache, w->pool ? 0700 : 0755) == -1 ||
	    (w->as_user && lchown(w->tool_cache, w->run_uid, w->run_gid) ==
	    -1) || (w->pool && chmod(w->tool_cache, 0700) == -1)) {
		log_warn("tool cache %s", w->tool_cache);
		return -1;
	}
	return 0;
}

/*
 * The mirrors are the worker's alone (0700): no step reads them, the
 * checkout is copied out by the worker.  Made so on every start, which
 * also closes the world-readable mirrors of older versions.  The jobs'
 * directory lists job ids only; each job's own is 0711 (workspace.c).
 */
static int
worker_private_dirs(struct worker *w)
{
	char *dir = xasprintf("%s/mirrors", w->work_dir);
	int rc = 0;

	if (mkdir_p(dir, 0700) == -1 || chmod(dir, 0700) == -1) {
		log_warn("mirrors %s", dir);
		rc = -1;
	}
	free(dir);
	return rc;
}

/*
 * LISTEN on the current session.  A NOTIFY reaches only the sessions that
 * listen, and a new session (after PQreset or a reconnect) listens to
 * nothing: every new backend must be told again.
 */
static int
worker_listen(struct worker *w)
{
	PGresult *res;

	/* kilnd listens for us, and wakes only as many as there is work. */
	if (w->wake_sock && w->wake_fd != -1) {
		w->listen_pid = PQbackendPID(w->db);
		return 0;
	}
	res = PQexec(w->db, "LISTEN kiln_work");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		char msg[512];

		snprintf(msg, sizeof msg, "%s", PQerrorMessage(w->db));
		msg[strcspn(msg, "\n")] = '\0';
		log_warnx("LISTEN: %s", msg);
		PQclear(res);
		w->listen_pid = 0;
		return -1;
	}
	PQclear(res);
	w->listen_pid = PQbackendPID(w->db);
	return 0;
}

static int
worker_connect(struct worker *w)
{
	/* Named after the worker in pg_stat_activity. */
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *values[] = { w->conninfo, NULL, NULL };
	char *app = xasprintf("kiln-worker/%s", w->name);

	values[1] = app;
	if (w->db != NULL)
		PQfinish(w->db);
	w->listen_pid = 0;
	w->db = PQconnectdbParams(keys, values, 1);
	free(app);
	if (PQstatus(w->db) != CONNECTION_OK) {
		char msg[512];

		snprintf(msg, sizeof msg, "%s", PQerrorMessage(w->db));
		msg[strcspn(msg, "\n")] = '\0';
		log_warnx("connecting to the database: %s", msg);
		return -1;
	}
	if (worker_listen(w) == -1)
		return -1;
	claim_register(w);
	return 0;
}

int
worker_reset(struct worker *w)
{
	PQreset(w->db);
	if (PQstatus(w->db) != CONNECTION_OK)
		return -1;
	return worker_listen(w);
}

int
worker_session(struct worker *w)
{
	if (w->db == NULL || PQstatus(w->db) != CONNECTION_OK)
		return worker_connect(w);
	if (PQbackendPID(w->db) != w->listen_pid)
		return worker_listen(w);
	return 0;
}

/*
 * What a round looks for: events to plan, jobs to run.  A NOTIFY's
 * payload (or kilnd's wake-up byte) says which queue gained a row, so the
 * other is not asked (with many pushes, empty claims were most of what
 * PostgreSQL did per job: bench/pushes.sh).  A time-out, a new session or
 * an unknown payload asks both.
 */
#define WORKER_WANT_EVENT	1u
#define WORKER_WANT_JOB		2u
#define WORKER_WANT_ALL		(WORKER_WANT_EVENT | WORKER_WANT_JOB)

/*
 * Empty kilnd's wake-up pipe or socket; what its wake-ups asked for, 0:
 * none.  At its end (kilnd gone, a SIGUSR1 on its way) this worker stops
 * parking, and LISTENs on its own next session.
 */
static unsigned
worker_wake_drain(struct worker *w)
{
	char buf[64];
	ssize_t n, i;
	unsigned want = 0;

	while ((n = read(w->wake_fd, buf, sizeof buf)) > 0)
		for (i = 0; i < n; i++)
			want |= buf[i] == 'e' ? WORKER_WANT_EVENT :
			    buf[i] == 'j' ? WORKER_WANT_JOB : WORKER_WANT_ALL;
	if (n == 0) {
		close(w->wake_fd);
		w->wake_fd = -1;
		w->listen_pid = 0;
		want = WORKER_WANT_ALL;
	}
	return want;
}

/*
 * Tell kilnd what we do: 'i', we found nothing and sleep, the next
 * wake-up is ours -- said after the empty claim, so a NOTIFY kilnd heard
 * in between is owed to us then, not lost; 'p', we plan an event, and
 * claim what it queues next, so kilnd holds the job NOTIFY of our commit
 * rather than wake another worker for it; 'b', we claimed a job and saw
 * more queued, so wake another idle worker: one transaction queuing many
 * jobs notifies once (PostgreSQL folds equal notifications); 'c', we
 * claimed a job and saw no other.  The chain stops at the first worker
 * that finds nothing or the last job.
 */
static void
worker_say(struct worker *w, const char *what)
{
	if (w->wake_sock && w->wake_fd != -1 && write(w->wake_fd, what, 1) != 1)
		log_debug("telling kilnd \"%s\": %s", what, strerror(errno));
}

static unsigned
worker_notify_want(PGnotify *n)
{
	unsigned want = strcmp(n->extra, "event") == 0 ? WORKER_WANT_EVENT :
	    strcmp(n->extra, "job") == 0 ? WORKER_WANT_JOB : WORKER_WANT_ALL;

	PQfreemem(n);
	return want;
}

/* Sleep until a NOTIFY, the poll interval, or a signal; what to look for. */
static unsigned
worker_wait(struct worker *w)
{
	struct pollfd pfd[2];
	PGnotify *n;
	nfds_t nfd = 1;
	unsigned want = 0;
	/*
	 * kilnd's wake-ups come through the socket, and its reaper's tick
	 * wakes every worker when it finds queued work nobody announced
	 * (kilnd.c kilnd_probe()): a fallback bounded by that tick.  Our
	 * own poll is only for kilnd's absence, and to park in time.
	 */
	int64_t wait_ms = !w->wake_sock || w->wake_fd == -1 ? w->poll_ms :
	    w->park_ms > 0 && w->park_ms < WORKER_PARK_POLL_MS ? w->park_ms :
	    WORKER_PARK_POLL_MS;
	int64_t deadline = now_ms() + wait_ms, left;

	pfd[0].fd = PQsocket(w->db);
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	if (pfd[0].fd < 0 || worker_stop || worker_retire)
		return WORKER_WANT_ALL;
	/* A NOTIFY that came in with a query's answer is already buffered. */
	while ((n = PQnotifies(w->db)) != NULL)
		want |= worker_notify_want(n);
	if (want != 0)
		return want;
	worker_say(w, "i");
	if (w->wake_fd != -1) {
		pfd[1].fd = w->wake_fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		nfd = 2;
	}
	/*
	 * Without the socket, kilnd's wake-up is for a parked worker; a
	 * connected one hears the same NOTIFY on its own session, which
	 * says what it is for.
	 */
	while (want == 0 && (left = deadline - now_ms()) > 0) {
		if (poll(pfd, nfd, (int)left) <= 0)
			break;
		if (nfd == 2 && pfd[1].revents != 0) {
			unsigned got = worker_wake_drain(w);

			if (w->wake_sock || w->wake_fd == -1)
				want |= got;
			if (w->wake_fd == -1)
				nfd = 1;
		}
		if (pfd[0].revents != 0) {
			if (PQconsumeInput(w->db) == 0)
				break;
			while ((n = PQnotifies(w->db)) != NULL)
				want |= worker_notify_want(n);
		}
	}
	return want != 0 ? want : WORKER_WANT_ALL;
}

static void
worker_git_init(void)
{
	git_libgit2_init();
	/*
	 * With run_as, job workspaces belong to the steps' account while the
	 * worker (root) checks out into them; they and the mirrors are all
	 * directories this worker made, so git's owner check protects
	 * nothing here and would refuse the checkout.
	 */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
}

/*
 * Parked: no database session until kilnd wakes us, a signal, or
 * WORKER_PARK_POLL_MS.  1 if kilnd woke us (work is likely), else 0.
 * libgit2 goes too: its initialisation parses the system's CA bundle
 * into ~450 KiB of heap (Debian's libgit2 uses mbedTLS), most of a parked
 * worker's; parsing it again on waking takes ~3 ms (bench/idle.sh).
 * No libgit2 object outlives a plan or a job.
 */
static int
worker_park(struct worker *w)
{
	struct pollfd pfd;
	int woken;

	log_debug("idle: closing the database session until woken");
	PQfinish(w->db);
	w->db = NULL;
	w->listen_pid = 0;
	w->prepared = 0;	/* the next session prepares its own */
	git_libgit2_shutdown();
	/* The last job's freed heap goes back to the system meanwhile. */
	malloc_trim(0);
	worker_say(w, "i");
	pfd.fd = w->wake_fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	woken = !worker_stop && !worker_retire &&
	    poll(&pfd, 1, WORKER_PARK_POLL_MS) > 0 &&
	    worker_wake_drain(w) != 0;
	worker_git_init();
	return woken;
}

/* One round: plan an event if any, else run a job.  1 if it did work. */
static int
worker_round(struct worker *w, unsigned want)
{
	struct claimed_event ev;
	struct claimed_job job;
	int r = 0;

	if ((want & WORKER_WANT_EVENT) && (r = claim_event(w, &ev)) == 1) {
		worker_say(w, "p");
		plan_event(w, &ev);
		claimed_event_free(&ev);
		return 1;
	}
	if (r == -1)
		return -1;
	if (!(want & WORKER_WANT_JOB))
		return 0;
	if ((r = claim_job(w, &job)) == 1) {
		worker_say(w, job.more_queued ? "b" : "c");
		job_run(w, &job);
		claimed_job_free(&job);
		return 1;
	}
	return r;
}


/*
 * The jobs' cgroup (jobcg.h): what a job starts stays there and dies with
 * the job, and with this worker when kilnd outlives it.  Without one
 * (no writable cgroup2), the subreaper is all there is.
 */
static void
worker_cgroup(struct worker *w)
{
	char err[512];

	if ((w->cgroup = jobcg_path(getpid())) == NULL) {
		log_warnx("no cgroup2 hierarchy: a job's processes are ended "
		    "through the subreaper only, not if this worker dies");
		return;
	}
	if (jobcg_create(w->cgroup, err, sizeof err) == -1) {
		log_warnx("%s: a job's processes are ended through the "
		    "subreaper only, not if this worker dies", err);
		free(w->cgroup);
		w->cgroup = NULL;
		return;
	}
	w->cgroup_procs = xasprintf("%s/cgroup.procs", w->cgroup);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "database", required_argument, NULL, 'D' },
		{ "log-socket", required_argument, NULL, 'L' },
		{ "work-dir", required_argument, NULL, 'W' },
		{ "once", no_argument, NULL, 'O' },
		{ "labels", required_argument, NULL, 'B' },
		{ "poll-ms", required_argument, NULL, 'P' },
		{ "wake-fd", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kiln_config cfg;
	struct worker w;
	struct sigaction sa;
	size_t n;
	const char *conf = NULL, *name = NULL, *db = NULL, *sock = NULL,
	    *workdir = NULL, *labels = NULL;
	char err[1024];
	const char *errstr;
	int64_t poll_ms = WORKER_POLL_MS, wake_fd = -1;
	int ch, once = 0, r, listen_pid;
	unsigned want = WORKER_WANT_ALL;
	int64_t registered_ms = now_ms();
	int64_t swept_ms = 0, idle_ms;

	libinit_reexec(argv);
	/*
	 * glibc raises its mmap threshold to the size of any mapped block
	 * freed (a log burst's 1 MiB output buffer), and the trim threshold
	 * to twice that: later big buffers then come from the heap and stay
	 * resident (bench/log.sh: worker peak RSS 16.8 MiB at times, 15.4-
	 * 15.7 fixed).  The trim threshold stays above the log stream's
	 * window: at 256 KiB its 64 KiB frames faulted in again and again,
	 * and the steps of bench/log.sh took 1.5-2 times as long.
	 */
	mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD);
	/* A built-in action as the steps' account (actions/isolate.c). */
	if (argc == 2 && strcmp(argv[1], "--action-child") == 0)
		return action_child_main();
	while ((ch = getopt_long(argc, argv, "c:dh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 'd': log_set_level(LOG_LEVEL_DEBUG); break;
		case 'N': name = optarg; break;
		case 'D': db = optarg; break;
		case 'L': sock = optarg; break;
		case 'W': workdir = optarg; break;
		case 'O': once = 1; break;
		case 'B': labels = optarg; break;
		case 'P':
			if (parse_int64(optarg, 1, 3600000, &poll_ms,
			    &errstr) == -1) {
				fprintf(stderr, "kiln-worker: --poll-ms %s: %s\n",
				    optarg, errstr);
				return 2;
			}
			break;
		case 'K':
			errstr = NULL;
			if (parse_int64(optarg, 0, INT_MAX, &wake_fd,
			    &errstr) == -1 || fcntl((int)wake_fd, F_GETFD) == -1) {
				fprintf(stderr, "kiln-worker: --wake-fd %s: %s\n",
				    optarg, errstr ? errstr : strerror(errno));
				return 2;
			}
			break;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (config_load(conf, &cfg, err, sizeof err) == -1) {
		fprintf(stderr, "kiln-worker: %s\n", err);
		return 1;
	}
	memset(&w, 0, sizeof w);
	w.slot_fd = -1;
	w.name = xstrdup(name ? name : "worker");
	{
		char *prog = xasprintf("kiln-worker[%s]", w.name);
		/* Program name for log lines; lives until exit. */
		log_init(prog, LOG_LEVEL_INFO);
	}
	/* kilnd passes the conninfo in the environment (not in argv). */
	if (db == NULL)
		db = getenv("KILN_DATABASE");
	w.conninfo = db ? xstrdup(db) : config_conninfo(&cfg);
	unsetenv("KILN_DATABASE");
	w.log_socket = xstrdup(sock ? sock : cfg.log_socket);
	w.work_dir = xstrdup(workdir ? workdir : cfg.work_dir);
	w.labels = worker_labels(labels ? labels : cfg.labels);
	w.stop = &worker_stop;
	w.poll_ms = (int)poll_ms;
	w.wake_fd = -1;
	if (wake_fd != -1) {
		/*
		 * Off the standard descriptors, out of reach of what we
		 * start; nonblocking, so that draining it never waits.
		 */
		if ((w.wake_fd = fcntl((int)wake_fd, F_DUPFD_CLOEXEC, 3)) == -1 ||
		    fcntl(w.wake_fd, F_SETFL, O_NONBLOCK) == -1) {
			log_warn("--wake-fd %d", (int)wake_fd);
			return 1;
		}
		close((int)wake_fd);
		{
			int type;
			socklen_t len = sizeof type;

			w.wake_sock = getsockopt(w.wake_fd, SOL_SOCKET,
			    SO_TYPE, &type, &len) == 0;
		}
		if (wake_fd <= 2 && open("/dev/null", O_RDWR) != (int)wake_fd) {
			log_warn("/dev/null");
			return 1;
		}
	}
	w.park_ms = (int64_t)cfg.park_seconds * 1000;
	snprintf(w.lease, sizeof w.lease, "%d", cfg.lease_seconds);
	if (worker_run_as(&w, &cfg, err, sizeof err) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	/*
	 * Needed only to open secrets; a worker without it still runs jobs
	 * that use none (those that do fail, saying why).
	 */
	if (secretbox_key_load(cfg.secrets_key_file, 0, w.secret_key, err,
	    sizeof err) == -1) {
		log_warnx("no secrets: %s", err);
		w.key_error = xstrdup(err);
	}
	w.self = worker_self();
	w.python_versions_url = xstrdup(cfg.python_versions_url);
	w.actions_base_url = xstrdup(cfg.actions_base_url);
	w.actions_allow = xstrdup(cfg.actions_allow);
	w.actions_keep_days = cfg.actions_keep_days;
	w.ctr_engine = xstrdup(cfg.containers_engine);
	w.ctr_opts = xstrdup(cfg.containers_engine_options);
	w.ctr_run_opts = xstrdup(cfg.containers_run_options);
	w.cache_dir = xstrdup(cfg.cache_dir);
	w.cache_max_bytes = cfg.cache_max_bytes;
	w.artifacts_dir = xstrdup(cfg.artifacts_dir);
	w.artifacts_days = cfg.artifacts_retention_days;
	w.page_url = xstrdup(strcmp(cfg.web_access, "off") != 0 ?
	    cfg.gh_public_url : "");
	for (n = strlen(w.page_url); n > 0 && w.page_url[n - 1] == '/'; n--)
		w.page_url[n - 1] = '\0';
	w.gh_api_url = xstrdup(cfg.gh_api_url);
	for (n = strlen(w.gh_api_url); n > 0 && w.gh_api_url[n - 1] == '/';
	    n--)
		w.gh_api_url[n - 1] = '\0';
	if (cfg.gh_app_id[0] != '\0') {
		/* App mode: each job gets a GITHUB_TOKEN (jobtoken.c). */
		if ((w.app_key = ghapp_key_load(cfg.gh_private_key_file, err,
		    sizeof err)) == NULL) {
			log_warnx("[github] private_key_file: %s", err);
			return 1;
		}
		w.app_id = xstrdup(cfg.gh_app_id);
	}
	if (worker_tool_cache(&w, cfg.tool_cache) == -1)
		return 1;
	config_free(&cfg);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = worker_on_signal;	/* no SA_RESTART: poll wakes */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* What a job abandons comes to us, to be ended with the job. */
	if (orphans_adopt() == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");

	if (mkdir_p(w.work_dir, 0755) == -1) {
		log_warn("creating %s", w.work_dir);
		return 1;
	}
	if (worker_private_dirs(&w) == -1)
		return 1;
	worker_git_init();
	worker_cgroup(&w);
	w.ctr_mark_fd = -1;
	container_reap(w.work_dir, w.ctr_engine, w.ctr_opts, w.ctr_run_opts);
	log_info("ready (work dir %s)", w.work_dir);
	idle_ms = now_ms();
	while (!worker_stop && !worker_retire) {
		/* A new session (reconnect, PQreset) LISTENs again. */
		listen_pid = w.listen_pid;
		if (worker_session(&w) == -1) {
			poll(NULL, 0, WORKER_RECONNECT_MS);
			continue;
		}
		if (now_ms() - registered_ms > 30000) {
			claim_register(&w);
			registered_ms = now_ms();
		}
		if (swept_ms == 0 || now_ms() - swept_ms > CACHE_SWEEP_MS) {
			size_t gone;

			cache_sweep(&w, w.cache_dir, w.cache_max_bytes);
			if ((gone = action_fetch_sweep(w.work_dir,
			    w.actions_keep_days)) > 0)
				log_info("removed %zu fetched action commit(s) "
				    "unused for %d days ([actions] keep_days)",
				    gone, w.actions_keep_days);
			swept_ms = now_ms();
		}
		/* It may have missed a NOTIFY before it listened. */
		if (w.listen_pid != listen_pid)
			want = WORKER_WANT_ALL;
		r = worker_round(&w, want);
		want = WORKER_WANT_ALL;
		if (r == 1) {
			idle_ms = now_ms();
			continue;
		}
		if (once)
			break;
		if (r == -1 && PQstatus(w.db) != CONNECTION_OK)
			continue;
		worker_tidy_mirrors(&w);
		if (w.wake_fd != -1 && w.park_ms > 0 &&
		    now_ms() - idle_ms >= w.park_ms) {
			/*
			 * Woken by kilnd: stay connected for what follows.
			 * Not: looked once a minute, found nothing, park
			 * again at once.
			 */
			if (worker_park(&w))
				idle_ms = now_ms();
			continue;
		}
		want = worker_wait(&w);
	}
	log_info("stopping");
	while (w.nuntidy > 0)
		free(w.untidy[--w.nuntidy]);
	if (w.cgroup != NULL)
		jobcg_remove(w.cgroup, 1000);
	free(w.cgroup);
	free(w.cgroup_procs);
	if (w.db != NULL)
		PQfinish(w.db);
	git_libgit2_shutdown();
	free(w.name);
	free(w.conninfo);
	OPENSSL_cleanse(w.secret_key, sizeof w.secret_key);
	free(w.key_error);
	free(w.log_socket);
	free(w.work_dir);
	free(w.labels);
	free(w.run_home);
	free(w.run_name);
	free(w.self);
	free(w.tool_cache);
	free(w.python_versions_url);
	free(w.actions_base_url);
	free(w.actions_allow);
	free(w.ctr_engine);
	free(w.ctr_opts);
	free(w.ctr_run_opts);
	free(w.cache_dir);
	free(w.artifacts_dir);
	free(w.page_url);
	free(w.gh_api_url);
	free(w.app_id);
	EVP_PKEY_free(w.app_key);
	if (w.slot_fd != -1)
		close(w.slot_fd);
	if (w.wake_fd != -1)
		close(w.wake_fd);
	return 0;
}
