/*
 * supervisor: starts [workers] count local kiln-worker processes and keeps
 * them running.  A worker that dies is restarted with a backoff that grows
 * while it keeps dying young, and its unfinished job is failed at once
 * (kiln_worker_lost) rather than waiting for the lease to expire.
 *
 * The count can change while kilnd runs (SIGHUP): new workers start at
 * once; surplus ones are retired with SIGUSR1, which lets a worker finish
 * the job it is running before it exits, so a reload never cancels work.
 * Worker names carry a serial that never repeats within one kilnd, so a
 * retiring worker and its replacement never share a name.
 *
 * Workers outlive a crashed kilnd to finish their jobs (see sup_spawn()).
 * The kilnd started next adopts them: each still running takes one of its
 * [workers] count slots, watched by a timer (it is not our child), and
 * the slot's own worker starts only once it is gone, so the count holds
 * across a crash; a job it leaves unfinished is failed as a lost worker's.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#include "db.h"
#include "jobcg.h"
#include "kilnd.h"
#include "log.h"
#include "logsrv.h"
#include "orphans.h"
#include "pgembed.h"
#include "spawn.h"
#include "util.h"

#define SUP_BACKOFF_MIN_MS	500
#define SUP_BACKOFF_MAX_MS	30000
#define SUP_STABLE_MS		10000	/* alive this long: reset backoff */
#define SUP_MAX_SPARE		1024	/* kilnd's own children spared by orphans_kill */
#define SUP_KILL_AFTER_MS	10000
#define SUP_ADOPT_POLL_MS	500	/* is an adopted worker still there? */
#define SUP_DEFER_MS		50	/* a job wake-up held for a planner */
#define SUP_MAX_CMDLINE		(64 * 1024)

struct sup_worker {
	struct supervisor *sup;
	int		 retiring;	/* SIGUSR1 sent: exits after its job */
	char		 name[64];
	pid_t		 pid;
	int64_t		 started_ms;
	int		 backoff_ms;
	struct event	*restart;
	char		*cgroup;	/* a dead one's job cgroup to remove */
	int		 adopted;	/* pid: an earlier kilnd's worker */
	unsigned long long starttime;	/* of the adopted pid, /proc/PID/stat */
	int		 wake_fd;	/* socket on its standard input, -1: none */
	struct event	*idle_ev;	/* reads its "idle" on wake_fd */
	int		 idle;		/* said idle, not woken since */
	int		 planning;	/* said 'p', nothing since */
	uint64_t	 idle_serial;	/* when it said so: the latest first */
};

struct supervisor {
	struct kilnd	*kilnd;
	char		*program;
	struct sup_worker **workers;	/* active and retiring */
	int		 nworkers;
	int		 serial;	/* last worker number given */
	char		 host[32];
	char		*config_path;	/* <state_dir>/worker.conf */
	int		 stopping;	/* SIGTERM sent: cancelling */
	int		 draining;	/* SIGUSR1 sent: finishing jobs */
	int		 pending;	/* kiln_worker_lost queries out */
	int		 owed;		/* wake-ups heard with no worker idle */
	char		 owed_what;	/* what they were for (SUP_WAKE_*) */
	struct event	*deferred;	/* a job wake-up held for a planner */
	uint64_t	 idle_serial;	/* last given */
	struct event	*kill_timer;
	struct event	*drain_timer;
	struct event	*adopt_timer;	/* while any worker is adopted */
};

static void
sup_dump_line(const char *line, void *arg)
{
	fprintf(arg, "%s\n", line);
}

/*
 * Workers read the configuration kilnd runs with, not the file on disk:
 * a file edited but not (or not successfully) reloaded must not reach a
 * worker that happens to start or restart meanwhile.  Written next to the
 * database, 0600, replaced atomically.
 */
int
supervisor_write_config(struct supervisor *s)
{
	const struct kiln_config *cfg = s->kilnd->cfg;
	char *tmp = xasprintf("%s.tmp", s->config_path);
	FILE *f;
	int fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		log_warn("writing %s", tmp);
		if (fd != -1)
			close(fd);
		free(tmp);
		return -1;
	}
	fprintf(f, "# kilnd's running configuration, for the workers it "
	    "starts (from %s)\n", cfg->path ? cfg->path : "defaults");
	config_dump(cfg, sup_dump_line, f);
	if (fclose(f) != 0 || rename(tmp, s->config_path) == -1) {
		log_warn("writing %s", s->config_path);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

static void
sup_wake_close(struct sup_worker *w)
{
	if (w->idle_ev != NULL)
		event_free(w->idle_ev);
	w->idle_ev = NULL;
	w->idle = 0;
	w->planning = 0;
	if (w->wake_fd != -1)
		close(w->wake_fd);
	w->wake_fd = -1;
}

/* Hand one wake-up to w; it is busy until it says idle again. */
static void
sup_wake_one(struct sup_worker *w, char what)
{
	/*
	 * A full socket (a busy worker not reading) already holds a
	 * wake-up; a dead worker's EPIPE is its reaping's business.
	 */
	if (write(w->wake_fd, &what, 1) != 1)
		log_debug("waking %s: %s", w->name, strerror(errno));
	w->idle = 0;
}

/*
 * The idle worker to wake: the one idle longest is the likeliest to have
 * parked -- the latest is still connected, and the others may park.
 * NULL: none.
 */
static struct sup_worker *
sup_pick_idle(struct supervisor *s)
{
	struct sup_worker *w, *pick = NULL;
	int i;

	for (i = 0; i < s->nworkers; i++) {
		w = s->workers[i];
		if (w->wake_fd != -1 && w->idle && !w->retiring &&
		    (pick == NULL || w->idle_serial > pick->idle_serial))
			pick = w;
	}
	return pick;
}

/*
 * A job wake-up held for a planner (sup_wake()) goes to another idle
 * worker, if any: the planner moved on to another event, or looked and
 * found nothing it could take.  With none idle it is dropped, not owed:
 * a busy worker looks for work after its job anyway.
 */
static void
sup_deferred_release(struct supervisor *s)
{
	struct sup_worker *pick;

	if (!evtimer_pending(s->deferred, NULL))
		return;
	evtimer_del(s->deferred);
	if ((pick = sup_pick_idle(s)) != NULL)
		sup_wake_one(pick, SUP_WAKE_JOB);
}

static void	sup_wake(struct supervisor *, char, int);

/* The planner took longer than a plan's commit to its claim. */
static void
sup_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *s = arg;

	(void)fd;
	(void)what;
	sup_wake(s, SUP_WAKE_JOB, 0);
}

/*
 * A worker's bytes on its wake-up socket (worker/main.c worker_say()):
 * 'i' after it looked for work and found none (it then sleeps until
 * woken or its fallback poll) -- a wake-up owed since no worker was idle
 * goes to it at once: the NOTIFY may have come just after its last empty
 * claim; 'p' when it claimed an event to plan: the jobs its plan queues
 * are its own to claim next; 'b' after it claimed a job and saw more
 * queued, so another idle worker looks too; 'c' after it claimed a job
 * and saw no other.
 */
static void
sup_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup_worker *w = arg;
	struct supervisor *s = w->sup;
	char buf[64];
	ssize_t n, i;

	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (i = 0; i < n; i++) {
			if (buf[i] == 'p') {
				/* What it planned before, it left queued. */
				w->idle = 0;
				if (w->planning)
					sup_deferred_release(s);
				w->planning = 1;
			} else if (buf[i] == 'b' || buf[i] == 'c') {
				w->idle = 0;
				w->planning = 0;
				/* Its claim took what the NOTIFY announced. */
				evtimer_del(s->deferred);
				if (buf[i] == 'b')
					sup_wake(s, SUP_WAKE_JOB, 0);
			} else if (buf[i] == 'i' && !w->retiring) {
				w->planning = 0;
				sup_deferred_release(s);
				w->idle = 1;
				w->idle_serial = ++s->idle_serial;
				if (s->owed == 0)
					continue;
				s->owed--;
				sup_wake_one(w, s->owed_what);
				if (s->owed == 0)
					s->owed_what = 0;
			}
		}
	if (n == 0) {
		/* Gone: its reaping restarts it and closes the socket. */
		event_del(w->idle_ev);
		w->idle = 0;
		w->planning = 0;
	}
}

static void
sup_spawn(struct sup_worker *w)
{
	struct supervisor *s = w->sup;
	const struct kiln_config *cfg = s->kilnd->cfg;
	struct spawn_spec spec;
	char *argv[20], **envp, err[512];
	int argc = 0, wake[2];
	pid_t pid;

	argv[argc++] = s->program;
	argv[argc++] = "-c";
	argv[argc++] = s->config_path;
	argv[argc++] = "--name";
	argv[argc++] = w->name;
	argv[argc++] = "--log-socket";
	argv[argc++] = cfg->log_socket;
	argv[argc++] = "--work-dir";
	argv[argc++] = cfg->work_dir;
	/*
	 * Its standard input: a socket kilnd writes a byte to when there is
	 * work for it, and it writes "idle" to.  Each NOTIFY wakes one idle
	 * worker, not all of them to race for one row (bench/pushes.sh: with
	 * 8 workers, empty claims were most of PostgreSQL's CPU per job); an
	 * idle worker can give up its database session and still start the
	 * next job at once.
	 */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, wake) == -1) {
		log_warn("starting %s: socketpair", w->name);
		wake[0] = wake[1] = -1;
	} else {
		(void)fcntl(wake[1], F_SETFL, O_NONBLOCK);
		argv[argc++] = "--wake-fd";
		argv[argc++] = "0";
	}
	argv[argc] = NULL;

	/*
	 * Through the environment, not argv: /proc/PID/cmdline is
	 * world-readable and a database URL may hold a password.
	 */
	envp = spawn_env_with(environ, "KILN_DATABASE", s->kilnd->conninfo);
	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = envp;
	spec.fd_in = wake[0];
	spec.fd_out = STDOUT_FILENO;
	spec.fd_err = STDERR_FILENO;
	/*
	 * Its own session: a signal to kilnd's process group or terminal
	 * does not reach it.  If kilnd dies (a crash, SIGKILL), the worker
	 * gets what a retirement sends: it finishes the job it runs --
	 * spooling the log and completing it through the database once
	 * kilnd is back -- and exits; an idle one exits at once.  So a
	 * kilnd crash cancels no job, and the kilnd started next never
	 * finds a worker it did not start taking new work.
	 */
	spec.group = 2;
	spec.pdeathsig = SIGUSR1;
	pid = spawn_start(&spec, err, sizeof err);
	spawn_env_free(envp);
	if (wake[0] != -1)
		close(wake[0]);
	if (pid == -1) {
		log_warnx("starting %s: %s", w->name, err);
		if (wake[1] != -1)
			close(wake[1]);
		return;
	}
	sup_wake_close(w);
	w->wake_fd = wake[1];
	if (wake[1] != -1) {
		w->idle_ev = event_new(s->kilnd->base, wake[1],
		    EV_READ | EV_PERSIST, sup_idle_cb, w);
		event_add(w->idle_ev, NULL);
	}
	w->pid = pid;
	w->started_ms = now_ms();
	log_info("started %s (pid %ld)", w->name, (long)pid);
}

/* hold: a job wake-up may be held for a planner. */
static void
sup_wake(struct supervisor *s, char what, int hold)
{
	struct sup_worker *pick;
	struct timeval tv = { 0, SUP_DEFER_MS * 1000 };
	int i, planning = 0;

	if (what == SUP_WAKE_ALL) {
		for (i = 0; i < s->nworkers; i++)
			if (s->workers[i]->wake_fd != -1)
				sup_wake_one(s->workers[i], SUP_WAKE_ANY);
		evtimer_del(s->deferred);
		s->owed = 0;
		s->owed_what = 0;
		return;
	}
	for (i = 0; i < s->nworkers; i++)
		planning |= s->workers[i]->wake_fd != -1 &&
		    s->workers[i]->planning;
	pick = sup_pick_idle(s);
	/*
	 * A job queued while a worker plans is most likely its plan's, and
	 * the planner claims next: waking an idle worker for it too costs a
	 * parked one a new session (~25 ms of CPU on a small box) to find
	 * nothing.  Held (more fold into it) until the planner says what
	 * it did, at most SUP_DEFER_MS.
	 */
	if (hold && what == SUP_WAKE_JOB && planning && pick != NULL) {
		if (!evtimer_pending(s->deferred, NULL))
			evtimer_add(s->deferred, &tv);
		return;
	}
	/* A worker woken only to plan does not claim the held job. */
	if (what != SUP_WAKE_EVENT)
		evtimer_del(s->deferred);
	if (pick != NULL) {
		sup_wake_one(pick, what);
		return;
	}
	/* More owed than workers would only wake workers for nothing. */
	if (s->owed < s->nworkers)
		s->owed++;
	s->owed_what = s->owed_what == 0 || s->owed_what == what ? what :
	    SUP_WAKE_ANY;
}

void
supervisor_wake(struct supervisor *s, char what)
{
	sup_wake(s, what, 1);
}

static void
sup_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup_worker *w = arg;

	if (!w->sup->stopping && !w->sup->draining && !w->retiring)
		sup_spawn(w);
}

static struct sup_worker *
sup_worker_add(struct supervisor *s)
{
	struct sup_worker *w = xcalloc(1, sizeof *w);

	w->sup = s;
	w->pid = -1;
	w->wake_fd = -1;
	/*
	 * Unique across kilnds sharing a database, across kilnd restarts
	 * and across reloads: kiln_worker_lost() must only ever touch this
	 * worker's own work.
	 */
	snprintf(w->name, sizeof w->name, "%s-%ld-local-%d", s->host,
	    (long)getpid(), ++s->serial);
	w->restart = evtimer_new(s->kilnd->base, sup_restart_cb, w);
	s->workers = xreallocarray(s->workers, (size_t)s->nworkers + 1,
	    sizeof *s->workers);
	s->workers[s->nworkers++] = w;
	return w;
}

/* Remove a dead worker's job cgroup once its processes are gone. */
static void
sup_cgroup_rmdir(struct sup_worker *w)
{
	if (w->cgroup == NULL)
		return;
	if (rmdir(w->cgroup) == -1 && errno == EBUSY)
		return;		/* still dying: again at the next chance */
	free(w->cgroup);
	w->cgroup = NULL;
}

/*
 * A worker died: what its job started is killed with it (jobcg.h), in
 * whatever session or process group, so no step runs on without its job.
 * Writing cgroup.kill does not wait.
 */
static void
sup_cgroup_kill(struct sup_worker *w, pid_t pid)
{
	char *dir = jobcg_path(pid);
	int n;

	if (dir == NULL)
		return;
	if ((n = jobcg_kill(dir, 0)) > 0)
		log_warnx("%s (pid %ld) died: killed the %d processes of its "
		    "job", w->name, (long)pid, n);
	sup_cgroup_rmdir(w);	/* an older one, if it lingered */
	free(w->cgroup);
	w->cgroup = dir;
	sup_cgroup_rmdir(w);
}

/* Forget a worker that exited for good (retired). */
static void
sup_worker_remove(struct sup_worker *w)
{
	struct supervisor *s = w->sup;
	int i;

	for (i = 0; i < s->nworkers; i++)
		if (s->workers[i] == w) {
			memmove(&s->workers[i], &s->workers[i + 1],
			    (size_t)(s->nworkers - i - 1) * sizeof *s->workers);
			s->nworkers--;
			break;
		}
	event_free(w->restart);
	sup_cgroup_rmdir(w);
	sup_wake_close(w);
	free(w);
}

static void
sup_schedule_restart(struct sup_worker *w)
{
	struct timeval tv;

	if (w->sup->stopping || w->sup->draining)
		return;
	tv.tv_sec = w->backoff_ms / 1000;
	tv.tv_usec = (w->backoff_ms % 1000) * 1000;
	evtimer_add(w->restart, &tv);
}

/*
 * The dead worker's job is failed before a new worker of the same name
 * starts, so the late cleanup can never hit the new worker's job.
 */
/*
 * A worker died in the middle of a job: the job's processes came to kilnd
 * (a subreaper, see common/orphans.c); end all but kilnd's own children.
 */
static void
sup_kill_orphans(struct supervisor *s)
{
	pid_t spare[SUP_MAX_SPARE];
	size_t n = 0;
	int i, killed;

	for (i = 0; i < s->nworkers && n + 1 < SUP_MAX_SPARE; i++)
		if (s->workers[i]->pid > 0)
			spare[n++] = s->workers[i]->pid;
	if (pgembed_pid(s->kilnd->pg) > 0)
		spare[n++] = pgembed_pid(s->kilnd->pg);
	if ((killed = orphans_kill(spare, n, 0)) > 0)
		log_warnx("killed %d process(es) a lost worker's job left "
		    "running", killed);
}

/* "(pid N) killed by signal 9 (Killed)", for a lost job's message. */
static void
sup_status_why(int status, pid_t pid, char *buf, size_t bufsz)
{
	char what[96];

	spawn_status_text(status, what, sizeof what);
	snprintf(buf, bufsz, "(pid %ld) %s", (long)pid, what);
}

struct sup_retry {
	struct supervisor	*sup;
	int64_t			 job;
};

/* kiln_retry_lost()'s answer: the new attempt, said in the old log. */
static void
sup_retry_cb(PGresult *res, const char *error, void *arg)
{
	struct sup_retry *r = arg;
	char *text, err[512];
	int attempt;

	r->sup->pending--;
	if (error != NULL) {
		log_warnx("job %lld: retrying after its worker was lost: %s",
		    (long long)r->job, error);
		goto out;
	}
	attempt = atoi(PQgetvalue(res, 0, 0));
	if (attempt > 0)
		text = xasprintf("[workers] retry_lost: the run's failed jobs "
		    "run again as attempt %d\n", attempt);
	else if (attempt == -4)
		text = xasprintf("[workers] retry_lost: the run's failed jobs "
		    "run again as its next attempt once its other jobs "
		    "finish\n");
	else
		text = xasprintf("[workers] retry_lost: not retried, the run "
		    "had its %d retries\n", r->sup->kilnd->cfg->retry_lost);
	log_info("job %lld: %.*s", (long long)r->job,
	    (int)strcspn(text, "\n"), text);
	if (logsrv_note(r->sup->kilnd->logsrv, r->job, text, err,
	    sizeof err) == -1)
		log_warnx("job %lld: noting the retry: %s", (long long)r->job,
		    err);
	free(text);
out:
	kilnd_check_exit(r->sup->kilnd);
	free(r);
}

/* [workers] retry_lost: the lost job's run runs again if it may. */
static void
sup_retry_lost(struct supervisor *s, int64_t job)
{
	struct sup_retry *r;
	const char *params[2];
	char jobtext[32], max[16];

	if (s->kilnd->cfg->retry_lost <= 0 || s->stopping || s->draining)
		return;
	r = xcalloc(1, sizeof *r);
	r->sup = s;
	r->job = job;
	snprintf(jobtext, sizeof jobtext, "%lld", (long long)job);
	snprintf(max, sizeof max, "%d", s->kilnd->cfg->retry_lost);
	params[0] = jobtext;
	params[1] = max;
	if (db_query(s->kilnd->db, "SELECT kiln_retry_lost($1, $2)", 2,
	    params, sup_retry_cb, r) == -1) {
		log_warnx("job %lld: cannot ask for its retry", (long long)job);
		free(r);
		return;
	}
	s->pending++;
}

/* kiln_worker_lost_jobs()'s rows: each failed job says why in its log. */
static void
sup_note_lost(struct supervisor *s, const char *name, PGresult *res)
{
	int i;

	for (i = 0; i < PQntuples(res); i++) {
		int64_t job = strtoll(PQgetvalue(res, i, 0), NULL, 10);

		logsrv_note_failure(s->kilnd->logsrv, job,
		    PQgetvalue(res, i, 1));
		sup_retry_lost(s, job);
	}
	(void)name;
}

static void
sup_lost_cb(PGresult *res, const char *error, void *arg)
{
	struct sup_worker *w = arg;

	if (error != NULL)
		log_warnx("failing the job of %s: %s", w->name, error);
	else
		sup_note_lost(w->sup, w->name, res);
	sup_cgroup_rmdir(w);
	if (w->retiring)
		sup_worker_remove(w);
	else
		sup_schedule_restart(w);
}

static void
sup_stop_lost_cb(PGresult *res, const char *error, void *arg)
{
	struct supervisor *s = arg;

	if (error != NULL)
		log_warnx("recording a stopped worker's job: %s", error);
	else
		sup_note_lost(s, NULL, res);
	s->pending--;
	kilnd_check_exit(s->kilnd);
}

static char *
sup_find_program(const struct kiln_config *cfg)
{
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (cfg->worker_program[0] != '\0')
		return xstrdup(cfg->worker_program);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			return xasprintf("%s/kiln-worker", self);
		}
	}
	return xstrdup(KILN_BINDIR "/kiln-worker");
}

/*
 * pid's state letter and start time from /proc/PID/stat; -1 when it is
 * gone.
 */
static int
sup_proc_stat(pid_t pid, char *state, unsigned long long *starttime)
{
	char path[64], *text, *p;
	size_t len;
	int r = -1;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((text = file_read_all(path, 4096, &len)) == NULL)
		return -1;
	/* Fields after "(comm)": state ppid ... starttime is the 20th. */
	if ((p = strrchr(text, ')')) != NULL && sscanf(p + 1, " %c %*d %*d "
	    "%*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
	    "%llu", state, starttime) == 2)
		r = 0;
	free(text);
	return r;
}

/* An adopted worker is gone: exited (a zombie of its new parent) or reused. */
static int
sup_adopted_alive(const struct sup_worker *w)
{
	unsigned long long start;
	char state;

	return sup_proc_stat(w->pid, &state, &start) == 0 && state != 'Z' &&
	    start == w->starttime;
}

/*
 * If pid is a worker an earlier kilnd of this state directory started
 * (our program, our --work-dir and --log-socket, a "-local-" name) and
 * not our child, its name into name.  1 if so.
 */
static int
sup_is_orphan(struct supervisor *s, pid_t pid, char *name, size_t namesz)
{
	const struct kiln_config *cfg = s->kilnd->cfg;
	const char *arg, *next, *end, *found = NULL;
	int workdir = 0, sock = 0, prog;
	char path[64], *text;
	size_t len;

	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	if ((text = file_read_all(path, SUP_MAX_CMDLINE, &len)) == NULL)
		return 0;
	end = text + len;
	prog = len > 0 && strcmp(text, s->program) == 0;
	for (arg = text; prog && arg < end; arg = next) {
		next = arg + strnlen(arg, (size_t)(end - arg)) + 1;
		if (next >= end)
			break;
		if (strcmp(arg, "--work-dir") == 0)
			workdir = strcmp(next, cfg->work_dir) == 0;
		else if (strcmp(arg, "--log-socket") == 0)
			sock = strcmp(next, cfg->log_socket) == 0;
		else if (strcmp(arg, "--name") == 0)
			found = next;
	}
	prog = prog && workdir && sock && found != NULL &&
	    strstr(found, "-local-") != NULL && strlen(found) < namesz;
	if (prog)
		snprintf(name, namesz, "%s", found);
	free(text);
	return prog;
}

static void	sup_adopt_cb(evutil_socket_t, short, void *);

/*
 * At start: workers a crashed kilnd left running (finishing their jobs)
 * take slots of ours.  Returns how many were adopted.
 */
static int
sup_adopt(struct supervisor *s)
{
	struct timeval tv = { 0, SUP_ADOPT_POLL_MS * 1000 };
	struct sup_worker *w;
	struct dirent *de;
	char name[64], state;
	unsigned long long start;
	DIR *d;
	pid_t pid;
	int i, n = 0;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atol(de->d_name);
		if (pid == getpid() || !sup_is_orphan(s, pid, name,
		    sizeof name) || sup_proc_stat(pid, &state, &start) == -1 ||
		    state == 'Z')
			continue;
		for (i = 0; i < s->nworkers; i++)
			if (!s->workers[i]->adopted && !s->workers[i]->retiring)
				break;
		if (i < s->nworkers)
			w = s->workers[i];
		else {
			/* More than our count: tracked, never replaced. */
			w = sup_worker_add(s);
			w->retiring = 1;
		}
		w->adopted = 1;
		w->pid = pid;
		w->starttime = start;
		w->started_ms = now_ms();
		snprintf(w->name, sizeof w->name, "%s", name);
		log_info("adopted %s (pid %ld), left running by an earlier "
		    "kilnd: it finishes its job, then a worker of ours takes "
		    "its place", name, (long)pid);
		n++;
	}
	closedir(d);
	if (n > 0) {
		s->adopt_timer = event_new(s->kilnd->base, -1, EV_PERSIST,
		    sup_adopt_cb, s);
		evtimer_add(s->adopt_timer, &tv);
	}
	return n;
}

/*
 * An adopted worker is gone.  Its exit status is not ours to read: a job
 * it left in progress is failed as a lost worker's (nothing happens if it
 * completed it), then the slot gets a worker of ours, under a new name.
 */
static void
sup_adopted_gone(struct sup_worker *w)
{
	struct supervisor *s = w->sup;
	const char *params[2] = { w->name, "(adopted from an earlier kilnd) "
	    "exited" };
	pid_t pid = w->pid;
	int r;

	log_info("%s (pid %ld), adopted from an earlier kilnd, exited",
	    w->name, (long)pid);
	w->pid = -1;
	w->adopted = 0;
	sup_cgroup_kill(w, pid);
	if (s->stopping || s->draining) {
		if (db_query(s->kilnd->db, "SELECT * FROM "
		    "kiln_worker_lost_jobs($1, $2)", 2, params,
		    sup_stop_lost_cb, s) == 0)
			s->pending++;
		return;
	}
	r = db_query(s->kilnd->db, "SELECT * FROM kiln_worker_lost_jobs($1, "
	    "$2)", 2, params, sup_lost_cb, w);
	snprintf(w->name, sizeof w->name, "%s-%ld-local-%d", s->host,
	    (long)getpid(), ++s->serial);
	w->backoff_ms = 0;
	if (r == -1) {
		if (w->retiring)
			sup_worker_remove(w);
		else
			sup_schedule_restart(w);
	}
}

static void
sup_adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *s = arg;
	int i, left = 0;

	/* Backwards: sup_adopted_gone() may remove the one at i. */
	for (i = s->nworkers - 1; i >= 0; i--) {
		struct sup_worker *w = s->workers[i];

		if (!w->adopted)
			continue;
		if (sup_adopted_alive(w))
			left++;
		else
			sup_adopted_gone(w);
	}
	if (left == 0)
		evtimer_del(s->adopt_timer);
	kilnd_check_exit(s->kilnd);
}

struct supervisor *
supervisor_new(struct kilnd *k)
{
	struct supervisor *s = xcalloc(1, sizeof *s);
	int i;

	s->kilnd = k;
	if (gethostname(s->host, sizeof s->host) == -1 || s->host[0] == '\0')
		snprintf(s->host, sizeof s->host, "kiln");
	s->host[strcspn(s->host, ".")] = '\0';
	s->program = sup_find_program(k->cfg);
	s->config_path = xasprintf("%s/worker.conf", k->cfg->state_dir);
	s->deferred = evtimer_new(k->base, sup_deferred_cb, s);
	for (i = 0; i < k->cfg->worker_count; i++)
		(void)sup_worker_add(s);
	return s;
}

void
supervisor_start(struct supervisor *s)
{
	int i;

	if (s->nworkers > 0 && access(s->program, X_OK) == -1)
		log_warn("worker program %s", s->program);
	(void)supervisor_write_config(s);
	(void)sup_adopt(s);
	for (i = 0; i < s->nworkers; i++)
		if (!s->workers[i]->adopted)
			sup_spawn(s->workers[i]);
}

int
supervisor_resize(struct supervisor *s, int count)
{
	int i, active = 0, changed = 0;

	if (s->stopping)
		return 0;
	for (i = 0; i < s->nworkers; i++)
		if (!s->workers[i]->retiring)
			active++;
	for (; active < count; active++, changed++)
		sup_spawn(sup_worker_add(s));
	/* Retire the newest first; each finishes its job, then exits. */
	for (i = s->nworkers - 1; i >= 0 && active > count; i--) {
		struct sup_worker *w = s->workers[i];

		if (w->retiring)
			continue;
		w->retiring = 1;
		active--;
		changed++;
		evtimer_del(w->restart);
		if (w->pid > 0) {
			log_info("retiring %s (pid %ld) after its current job",
			    w->name, (long)w->pid);
			kill(w->pid, SIGUSR1);
		} else
			sup_worker_remove(w);
	}
	return changed;
}

int
supervisor_reaped(struct supervisor *s, pid_t pid, int status)
{
	const char *params[2];
	char why[160];
	int i;

	for (i = 0; i < s->nworkers; i++) {
		struct sup_worker *w = s->workers[i];

		if (w->pid != pid || w->adopted)
			continue;
		w->pid = -1;
		sup_wake_close(w);
		sup_cgroup_kill(w, pid);
		if (s->stopping || s->draining) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
				log_info("%s exited", w->name);
				return 1;
			}
			/* Killed mid-job: record the job, then let kilnd go. */
			log_warnx("%s (pid %ld) ended by %s %d while stopping",
			    w->name, (long)pid, WIFSIGNALED(status) ? "signal" :
			    "status", WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
			params[0] = w->name;
			sup_kill_orphans(s);
			sup_status_why(status, pid, why, sizeof why);
			params[1] = why;
			if (db_query(s->kilnd->db, "SELECT * FROM "
			    "kiln_worker_lost_jobs($1, $2)", 2, params,
			    sup_stop_lost_cb, s) == 0)
				s->pending++;
			return 1;
		}
		if (w->retiring && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0) {
			log_info("%s retired", w->name);
			sup_worker_remove(w);
			return 1;
		}
		if (WIFSIGNALED(status))
			log_warnx("%s (pid %ld) killed by signal %d; restarting",
			    w->name, (long)pid, WTERMSIG(status));
		else
			log_warnx("%s (pid %ld) exited with status %d; "
			    "restarting", w->name, (long)pid,
			    WEXITSTATUS(status));
		if (now_ms() - w->started_ms > SUP_STABLE_MS)
			w->backoff_ms = SUP_BACKOFF_MIN_MS;
		else if (w->backoff_ms == 0)
			w->backoff_ms = SUP_BACKOFF_MIN_MS;
		else if ((w->backoff_ms *= 2) > SUP_BACKOFF_MAX_MS)
			w->backoff_ms = SUP_BACKOFF_MAX_MS;
		params[0] = w->name;
		sup_kill_orphans(s);
		sup_status_why(status, pid, why, sizeof why);
		params[1] = why;
		if (db_query(s->kilnd->db, "SELECT * FROM "
		    "kiln_worker_lost_jobs($1, $2)", 2, params, sup_lost_cb,
		    w) == -1)
			sup_schedule_restart(w);	/* the lease reaps it */
		return 1;
	}
	return 0;
}

static void
sup_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *s = arg;
	int i;

	for (i = 0; i < s->nworkers; i++)
		if (s->workers[i]->pid > 0) {
			log_warnx("%s did not stop; killing it",
			    s->workers[i]->name);
			kill(-s->workers[i]->pid, SIGKILL);
			kill(s->workers[i]->pid, SIGKILL);
		}
}

void
supervisor_stop(struct supervisor *s)
{
	struct timeval tv = { SUP_KILL_AFTER_MS / 1000, 0 };
	int i;

	if (s->stopping)
		return;
	s->stopping = 1;
	if (s->drain_timer != NULL)
		evtimer_del(s->drain_timer);
	for (i = 0; i < s->nworkers; i++) {
		evtimer_del(s->workers[i]->restart);
		if (s->workers[i]->pid > 0)
			kill(s->workers[i]->pid, SIGTERM);
	}
	s->kill_timer = evtimer_new(s->kilnd->base, sup_kill_cb, s);
	evtimer_add(s->kill_timer, &tv);
}

static void
sup_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *s = arg;

	if (supervisor_running(s) > 0)
		log_warnx("drain: %d s spent; cancelling the jobs still "
		    "running", s->kilnd->cfg->drain_seconds);
	supervisor_stop(s);
}

void
supervisor_drain(struct supervisor *s, int seconds)
{
	struct timeval tv = { seconds, 0 };
	int i, busy = 0;

	if (s->stopping || s->draining)
		return;
	if (seconds <= 0) {
		supervisor_stop(s);
		return;
	}
	s->draining = 1;
	for (i = 0; i < s->nworkers; i++) {
		evtimer_del(s->workers[i]->restart);
		if (s->workers[i]->pid > 0) {
			kill(s->workers[i]->pid, SIGUSR1);
			busy++;
		}
	}
	if (busy > 0)
		log_info("drain: %d worker(s) finish their jobs (at most %d s), "
		    "taking no new ones", busy, seconds);
	s->drain_timer = evtimer_new(s->kilnd->base, sup_drain_cb, s);
	evtimer_add(s->drain_timer, &tv);
}

int
supervisor_running(const struct supervisor *s)
{
	int i, n = s->pending;

	for (i = 0; i < s->nworkers; i++)
		if (s->workers[i]->pid > 0)
			n++;
	return n;
}

void
supervisor_free(struct supervisor *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nworkers; i++) {
		event_free(s->workers[i]->restart);
		sup_wake_close(s->workers[i]);
		free(s->workers[i]);
	}
	if (s->kill_timer != NULL)
		event_free(s->kill_timer);
	if (s->drain_timer != NULL)
		event_free(s->drain_timer);
	if (s->adopt_timer != NULL)
		event_free(s->adopt_timer);
	event_free(s->deferred);
	free(s->workers);
	free(s->program);
	free(s->config_path);
	free(s);
}
