/*
 * The fault-injection soak (issue 7).  One kilnd with its embedded
 * PostgreSQL and two workers, its state directory on a small tmpfs this
 * program mounts in a mount namespace of its own; then ROUNDS rounds, each:
 *
 *   - signed push webhooks at a steady rate (a thread), to two file://
 *     repositories whose jobs print known lines (one of them ~2 MB), stop
 *     between two halves and leave a setsid process behind;
 *   - one fault at a random point of the intake, the kinds in rotation:
 *     SIGKILL of a worker, SIGKILL of kilnd (then started again), SIGKILL of
 *     the PostgreSQL postmaster (kilnd starts it again), SIGSTOP of kilnd for
 *     longer than a job's lease then SIGCONT, the state directory's file
 *     system full, a slowloris wave;
 *   - then the invariants: kilnd answers /healthz within 1 s of the fault
 *     clearing; every delivery answered 202 has its run and none has two;
 *     every job reaches a final state within the lease + grace; every log
 *     holds exactly the lines its job printed (or a prefix of them ending
 *     in kiln's truncation marker, or the job failed saying why); no
 *     process a finished job started is alive.
 *
 * A violation fails the soak, naming the round, the fault and the
 * invariant.  A fault that cannot be made here (no tmpfs) is said loudly
 * and counted as not run, never as passed.  Everything is bounded: each
 * round has its own deadline, Check's timeout covers them all.
 *
 * Usage: soak ROUNDS [RESULTS.md]  (KILN_BINDIR and KILN_SRCDIR set, as
 * root for the tmpfs).  With RESULTS.md the figures are appended to it.
 * SOAK_KINDS="3,4" rotates through those faults only; SOAK_NOT_RUN_FILE
 * receives the faults that could not be made, if any.
 */
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define PACE_MS		600	/* one webhook this often */
#define INTAKE_MS	8000	/* webhooks per round for this long */
#define MAX_DELIVERIES	(INTAKE_MS / PACE_MS + 8)
#define LARGE_EVERY	5	/* every 5th delivery goes to the large repo */
#define SMALL_LINES	300
#define LARGE_LINES	100000	/* 1.9 MB of log */
#define LEASE_S		30	/* [workers] lease_seconds of the soak */
#define GRACE_MS	60000	/* final states within lease + this */
#define STOP_MS		((LEASE_S + 2) * 1000)	/* SIGSTOP longer than a lease */
#define DISK_MS		3000	/* the file system stays full this long */
#define TMPFS_SIZE	"768m"
#define WAVE		300	/* slow connections of a slowloris wave */
#define WAVE_MS		6000
#define REQUEST_S	4	/* [server] request_timeout */
#define CONN_CAP	128	/* [server] max_connections */
#define HEALTHZ_MS	1000	/* /healthz must answer within this */
#define PROCS_MS	15000	/* a finished job's processes gone within */
#define LOG_WAIT_MS	20000	/* a finished job's log complete within */
#define ROUND_MS	300000	/* one round's own deadline */

static const char trunc_marker[] = "##[error]kiln: this log passed";

enum fault {
	F_WORKER, F_KILND, F_POSTGRES, F_STOP, F_DISK, F_SLOWLORIS, F_NKINDS
};
static const char *const fault_names[F_NKINDS] = {
	"SIGKILL worker", "SIGKILL kilnd", "SIGKILL postmaster",
	"SIGSTOP kilnd past a lease", "state file system full",
	"slowloris wave",
};

/* main()'s arguments, read by the one test. */
struct soak_args {
	int		 rounds;
	const char	*results;
	enum fault	 kinds[F_NKINDS];	/* the rotation */
	int		 nkinds;
};
static struct soak_args args;

struct figures {
	int	 rounds;
	int	 faults[F_NKINDS];
	int	 not_run[F_NKINDS];
	long	 webhooks, accepted, refused, unanswered;
	long	 jobs, jobs_ok, jobs_failed, truncated, gaps;
	long long bytes;
	int64_t	 worst_healthz[F_NKINDS];
	int64_t	 worst_settle[F_NKINDS];
};

struct delivery {
	char	*guid;
	int	 large;
	long	 status;
};

/* The webhook thread: deliveries at PACE_MS until INTAKE_MS passed. */
struct sender {
	struct harness	*h;
	const char	*body[2];	/* small, large */
	const char	*sig[2];
	struct delivery	 d[MAX_DELIVERIES];
	int		 n;
	int		 offset;	/* deliveries before this round */
};

struct soak {
	struct harness		*h;
	struct harness_repo	*repo[2];
	char			*sha[2];
	char			*body[2];
	char			*sig[2];
	char			*expect[2];	/* the lines each job prints */
	size_t			 expect_len[2];
	int			 tmpfs;		/* state_dir is our tmpfs */
	uint64_t		 rng;
	int			 round;
	enum fault		 kind;
	struct figures		 fig;
};

static uint64_t
rnd(struct soak *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static void
sleep_ms(int64_t ms)
{
	if (ms > 0)
		nanosleep(&(struct timespec){ ms / 1000,
		    (ms % 1000) * 1000000L }, NULL);
}

#define violation(s, what, ...) harness_fail((s)->h, \
	"round %d, fault '%s': invariant '%s' violated: %s", (s)->round, \
	fault_names[(s)->kind], (what), xasprintf(__VA_ARGS__))

/*
 * The workflow: the job prints the first half of its lines, leaves a
 * setsid sleep behind, waits, prints the second half.  awk makes each
 * line from its number, so the script's text never holds a line.
 */
static char *
workflow(int large)
{
	int n = large ? LARGE_LINES : SMALL_LINES;

	return xasprintf(
	    "name: soak\n"
	    "on: push\n"
	    "jobs:\n"
	    "  emit:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: seq 1 %d | awk '{ printf \"%s%%07d %%d\\n\", $1, "
	    "$1 * 7919 %% 10007 }'\n"
	    "      - run: setsid sleep 300 </dev/null >/dev/null 2>&1 & "
	    "sleep 1\n"
	    "      - run: seq %d %d | awk '{ printf \"%s%%07d %%d\\n\", $1, "
	    "$1 * 7919 %% 10007 }'\n",
	    n / 2, large ? "SOAK-L" : "SOAK-S", n / 2 + 1, n,
	    large ? "SOAK-L" : "SOAK-S");
}

/* What the workflow's awk prints, all lines. */
static char *
expected(int large, size_t *len)
{
	struct buf b = { 0 };
	int i, n = large ? LARGE_LINES : SMALL_LINES;

	for (i = 1; i <= n; i++)
		buf_printf(&b, "%s%07d %d\n", large ? "SOAK-L" : "SOAK-S", i,
		    i * 7919 % 10007);
	*len = b.len;
	return buf_steal(&b);
}

static void *
sender_main(void *p)
{
	struct sender *snd = p;
	int64_t t0 = now_ms(), next = t0;

	while (snd->n < MAX_DELIVERIES && now_ms() - t0 < INTAKE_MS) {
		struct delivery *d = &snd->d[snd->n];
		struct harness_resp r;
		int k = d->large;

		sleep_ms(next - now_ms());
		next += PACE_MS;
		harness_webhook(snd->h, "push", d->guid, snd->sig[k],
		    snd->body[k], strlen(snd->body[k]), &r);
		d->status = r.status;
		harness_resp_free(&r);
		snd->n++;
	}
	return NULL;
}

/* ---- faults ---- */

/* GET /healthz right after a fault cleared: an answer within 1 s. */
static void
healthz_after(struct soak *s)
{
	struct harness_resp r;
	int64_t t0 = now_ms(), took;

	harness_http(s->h, "GET", "/healthz", NULL, NULL, 0, &r);
	took = now_ms() - t0;
	if (took > s->fig.worst_healthz[s->kind])
		s->fig.worst_healthz[s->kind] = took;
	if (r.status == 0 || took > HEALTHZ_MS)
		violation(s, "/healthz answers within 1 s of the fault "
		    "clearing", "status %ld after %lld ms%s%s", r.status,
		    (long long)took, r.status ? "" : ": ", r.status ? "" :
		    r.error);
	harness_resp_free(&r);
}

static int
job_running_cb(struct harness *h, void *unused)
{
	char *n = harness_sql(h, "SELECT count(*) FROM jobs WHERE status = "
	    "'in_progress'", NULL);
	int yes = atoi(n) > 0;

	free(n);
	return yes;
}

static void
fault_worker(struct soak *s)
{
	pid_t pids[8];
	int n;

	/* Mid-job if there is one within 5 s. */
	(void)harness_wait_for(s->h, 5000, job_running_cb, NULL);
	n = harness_workers(s->h, pids, (int)nitems(pids));
	harness_assert(s->h, n > 0, "round %d: no worker to kill", s->round);
	harness_assert(s->h, kill(pids[rnd(s) % (uint64_t)n], SIGKILL) == 0,
	    "SIGKILL worker: %s", strerror(errno));
	healthz_after(s);
}

static void
fault_kilnd(struct soak *s)
{
	int status;

	harness_assert(s->h, kill(s->h->kilnd, SIGKILL) == 0, "SIGKILL "
	    "kilnd: %s", strerror(errno));
	harness_assert(s->h, waitpid(s->h->kilnd, &status, 0) == s->h->kilnd,
	    "waitpid kilnd: %s", strerror(errno));
	s->h->kilnd = -1;
	harness_start(s->h);	/* fails the soak if kilnd cannot start */
	healthz_after(s);
}

static void
fault_postgres(struct soak *s)
{
	char *path = xasprintf("%s/pg/data/postmaster.pid", s->h->state_dir);
	char *text = file_read_all(path, 4096, NULL);
	long pid = text != NULL ? strtol(text, NULL, 10) : 0;

	harness_assert(s->h, pid > 1, "round %d: no postmaster pid in %s",
	    s->round, path);
	harness_assert(s->h, kill((pid_t)pid, SIGKILL) == 0, "SIGKILL "
	    "postmaster %ld: %s", pid, strerror(errno));
	free(text);
	free(path);
	healthz_after(s);
}

static void
fault_stop(struct soak *s)
{
	harness_assert(s->h, kill(s->h->kilnd, SIGSTOP) == 0, "SIGSTOP: %s",
	    strerror(errno));
	sleep_ms(STOP_MS);
	harness_assert(s->h, kill(s->h->kilnd, SIGCONT) == 0, "SIGCONT: %s",
	    strerror(errno));
	healthz_after(s);
}

/* Fill the state directory's file system for DISK_MS, then free it. */
static void
fault_disk(struct soak *s)
{
	char *path = xasprintf("%s/soak-filler", s->h->state_dir);
	static const char chunk[65536];
	struct statvfs sv;
	int fd;

	if (!s->tmpfs) {
		fprintf(stderr, "soak: round %d: NOT RUN: '%s' (no tmpfs could "
		    "be mounted on the state directory)\n", s->round,
		    fault_names[s->kind]);
		s->fig.not_run[s->kind]++;
		s->fig.faults[s->kind]--;
		free(path);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	harness_assert(s->h, fd >= 0, "open %s: %s", path, strerror(errno));
	if (statvfs(s->h->state_dir, &sv) == 0 && sv.f_bavail > 64)
		(void)posix_fallocate(fd, 0, (off_t)(sv.f_bavail - 64) *
		    (off_t)sv.f_frsize);
	(void)lseek(fd, 0, SEEK_END);
	while (write(fd, chunk, sizeof chunk) > 0)
		;
	harness_assert(s->h, errno == ENOSPC, "filling %s: %s, not ENOSPC",
	    path, strerror(errno));
	sleep_ms(DISK_MS);
	close(fd);
	harness_assert(s->h, unlink(path) == 0, "unlink %s: %s", path,
	    strerror(errno));
	free(path);
	healthz_after(s);
}

static int
connect_port(struct harness *h)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	harness_assert(h, fd >= 0, "socket: %s", strerror(errno));
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)h->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		close(fd);
		return -1;	/* refused past the cap: fine */
	}
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void
fault_slowloris(struct soak *s)
{
	int fds[WAVE], i;
	int64_t t0;

	for (i = 0; i < WAVE; i++)
		if ((fds[i] = connect_port(s->h)) != -1)
			(void)send(fds[i], "POST /hooks/github HTTP/1.1\r\n"
			    "Host: kiln\r\n", 41, MSG_NOSIGNAL);
	t0 = now_ms();
	while (now_ms() - t0 < WAVE_MS) {
		for (i = 0; i < WAVE; i++)
			if (fds[i] != -1 && send(fds[i], "X: 1\r\n", 6,
			    MSG_NOSIGNAL) == -1 && errno != EAGAIN) {
				close(fds[i]);
				fds[i] = -1;
			}
		sleep_ms(250);
	}
	for (i = 0; i < WAVE; i++)
		if (fds[i] != -1)
			close(fds[i]);
	healthz_after(s);
}

static void
inject(struct soak *s)
{
	s->fig.faults[s->kind]++;
	switch (s->kind) {
	case F_WORKER:		fault_worker(s); break;
	case F_KILND:		fault_kilnd(s); break;
	case F_POSTGRES:	fault_postgres(s); break;
	case F_STOP:		fault_stop(s); break;
	case F_DISK:		fault_disk(s); break;
	case F_SLOWLORIS:	fault_slowloris(s); break;
	default:		abort();
	}
}

/* ---- invariants ---- */

static int
settled_cb(struct harness *h, void *unused)
{
	struct harness_resp r;
	char *n;
	int ok;

	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	ok = r.status == 200;
	harness_resp_free(&r);
	if (!ok || harness_workers(h, (pid_t[4]){ 0 }, 4) < 2)
		return 0;
	n = harness_sql(h, "SELECT (SELECT count(*) FROM events WHERE status "
	    "<> 'completed') + (SELECT count(*) FROM runs WHERE status <> "
	    "'completed') + (SELECT count(*) FROM jobs WHERE status <> "
	    "'completed')", NULL);
	ok = strcmp(n, "0") == 0;
	free(n);
	return ok;
}

/* The deliveries of this round answered 202, as a text[] literal. */
static char *
accepted_array(struct sender *snd)
{
	struct buf b = { 0 };
	int i, first = 1;

	buf_add_str(&b, "{");
	for (i = 0; i < snd->n; i++)
		if (snd->d[i].status == 202) {
			buf_printf(&b, "%s%s", first ? "" : ",",
			    snd->d[i].guid);
			first = 0;
		}
	buf_add_str(&b, "}");
	return buf_steal(&b);
}

/* 1 if the line at p is the worker's marker for output it could not keep. */
static int
is_loss_marker(const char *p, size_t n)
{
	static const char head[] = "##[error]kiln: ";
	const char *tail = " bytes of this job's output were lost here: ";

	return n > sizeof head && strncmp(p, head, sizeof head - 1) == 0 &&
	    memmem(p, n, tail, strlen(tail)) != NULL;
}

/*
 * The job's output lines in log (those starting with prefix) against want:
 * each must be want's next line, except after a loss marker, where want's
 * lines may be skipped (they are the ones lost), and a line cut short just
 * before a marker.  Returns the bytes of want found; *pos where in want the
 * log ends; *gaps the markers; *bad (a new string) the first line that is
 * not want's, or NULL.
 */
static size_t
compare_log(const char *log, const char *prefix, const char *want,
    size_t wlen, size_t *pos, int *gaps, char **bad)
{
	const char *p = log, *nl, *q, *next;
	size_t plen = strlen(prefix), n, found = 0;
	int skip = 0;

	*pos = 0;
	*gaps = 0;
	*bad = NULL;
	for (; *p != '\0'; p = next) {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p + 1) : strlen(p);
		next = p + n;
		if (is_loss_marker(p, n)) {
			(*gaps)++;
			skip = 1;
			continue;
		}
		if (strncmp(p, prefix, plen) != 0)
			continue;
		if (*pos + n <= wlen && memcmp(want + *pos, p, n) == 0) {
			*pos += n;
			found += n;
			skip = 0;
		} else if (skip && (q = memmem(want + *pos, wlen - *pos, p,
		    n)) != NULL && (q == want || q[-1] == '\n')) {
			*pos = (size_t)(q - want) + n;
			found += n;
			skip = 0;
		} else if (*pos + n - 1 <= wlen && memcmp(want + *pos, p,
		    n - 1) == 0 && is_loss_marker(next, strcspn(next, "\n") +
		    1)) {
			skip = 1;	/* cut short where output was lost */
		} else {
			*bad = xasprintf("%.*s", (int)(n > 200 ? 200 : n), p);
			break;
		}
	}
	return found;
}

/* The log of one job against what it printed. */
static void
check_job(struct soak *s, const char *line)
{
	long long id;
	char path[256], concl[32], idtext[32], *log, *bad, *msg;
	size_t got_len, pos;
	int large, truncated, said, gaps;
	json_t *jid;
	int64_t t0;

	if (sscanf(line, "%lld %255s %31s", &id, path, concl) != 3)
		harness_fail(s->h, "round %d: bad job row '%s'", s->round,
		    line);
	large = strstr(path, "large") != NULL;
	jid = json_integer(id);
	/* A log's last bytes may still be on their way: wait for them. */
	for (t0 = now_ms();; sleep_ms(500)) {
		log = harness_logs(s->h, jid);
		got_len = compare_log(log, large ? "SOAK-L" : "SOAK-S",
		    s->expect[large], s->expect_len[large], &pos, &gaps,
		    &bad);
		truncated = strstr(log, trunc_marker) != NULL;
		if (truncated || gaps > 0 || bad != NULL ||
		    pos == s->expect_len[large] ||
		    strcmp(concl, "success") != 0 ||
		    now_ms() - t0 > LOG_WAIT_MS)
			break;
		free(log);
	}
	json_decref(jid);
	snprintf(idtext, sizeof idtext, "%lld", id);
	msg = harness_sql(s->h, "SELECT coalesce(message, '') FROM jobs "
	    "WHERE id = $1::bigint", idtext, NULL);
	said = *msg != '\0' || strstr(log, "##[error]") != NULL;
	s->fig.jobs++;
	s->fig.bytes += (long long)got_len;
	s->fig.truncated += truncated;
	s->fig.gaps += gaps;
	if (bad != NULL)
		violation(s, "every stored log equals its expected bytes",
		    "job %lld (%s, %s): after %zu bytes of the output it "
		    "printed, its log has a line it did not print (nor after a "
		    "loss marker): '%s'", id, path, concl, pos, bad);
	if (gaps > 0 && *msg == '\0')
		violation(s, "a log with output lost says so", "job %lld (%s, "
		    "%s): its log has %d loss marker(s) but the job no message",
		    id, path, concl, gaps);
	if (strcmp(concl, "success") == 0) {
		s->fig.jobs_ok++;
		if (pos != s->expect_len[large] && !truncated && gaps == 0)
			violation(s, "every stored log equals its expected "
			    "bytes", "job %lld (%s) succeeded but its log "
			    "holds %zu of the %zu bytes it printed, with no "
			    "truncation or loss marker; the log begins:\n"
			    "%.2000s", id, path, got_len, s->expect_len[large],
			    log);
	} else {
		s->fig.jobs_failed++;
		if (!said) {
			char *steps = harness_sql(s->h, "SELECT string_agg("
			    "number || ' ' || name || ': ' || status || ' ' || "
			    "coalesce(conclusion, '-'), '; ' ORDER BY number) "
			    "FROM steps WHERE job_id = $1::bigint", idtext,
			    NULL);

			violation(s, "a job that did not succeed says why",
			    "job %lld (%s) ended '%s' with no message and no "
			    "error line in its log; steps: %s; its log ends:\n"
			    "%s", id, path, concl, steps, strlen(log) > 1500 ?
			    log + strlen(log) - 1500 : log);
		}
		fprintf(stderr, "soak: round %d (%s): job %lld %s: %s\n",
		    s->round, fault_names[s->kind], id, concl, *msg ? msg :
		    "(its log says why)");
	}
	free(msg);
	free(log);
}

static int
no_step_procs_cb(struct harness *h, void *unused)
{
	return harness_step_procs(h, NULL) == 0;
}

static void
check_round(struct soak *s, struct sender *snd, int64_t cleared)
{
	char *acc, *bad, *rows, *line, *save = NULL;
	struct buf procs = { 0 };
	int64_t settle;

	if (!harness_wait_for(s->h, LEASE_S * 1000 + GRACE_MS, settled_cb,
	    NULL)) {
		bad = harness_sql(s->h, "SELECT string_agg(what, ', ') FROM ("
		    "SELECT 'event ' || id || ' ' || status || coalesce(' by ' "
		    "|| claimed_by, '') AS what FROM events WHERE status <> "
		    "'completed' UNION ALL SELECT 'run ' || id || ' ' || status "
		    "FROM runs WHERE status <> 'completed' UNION ALL SELECT "
		    "'job ' || id || ' ' || status || coalesce(' on ' || worker, "
		    "'') FROM jobs WHERE status <> 'completed') w", NULL);
		violation(s, "every job reaches a final state within lease + "
		    "grace", "%d s after the fault cleared, not all of: kilnd "
		    "healthy, 2 workers, every event, run and job completed; "
		    "not completed: %s", LEASE_S + GRACE_MS / 1000,
		    *bad ? bad : "none");
	}
	settle = now_ms() - cleared;
	if (settle > s->fig.worst_settle[s->kind])
		s->fig.worst_settle[s->kind] = settle;

	acc = accepted_array(snd);
	bad = harness_sql(s->h, "SELECT string_agg(x, ', ') FROM "
	    "unnest($1::text[]) x WHERE NOT EXISTS (SELECT 1 FROM runs r JOIN "
	    "events e ON e.id = r.event_id WHERE e.delivery_id = x)", acc,
	    NULL);
	if (*bad != '\0')
		violation(s, "every webhook answered 202 has its run",
		    "deliveries without a run: %s", bad);
	free(bad);
	bad = harness_sql(s->h, "SELECT string_agg(e.delivery_id || ' (' || "
	    "n || ' runs)', ', ') FROM (SELECT event_id, count(*) AS n FROM "
	    "runs GROUP BY event_id HAVING count(*) > 1) c JOIN events e ON "
	    "e.id = c.event_id", NULL);
	if (*bad != '\0')
		violation(s, "no delivery made two runs", "%s", bad);
	free(bad);
	bad = harness_sql(s->h, "SELECT string_agg(delivery_id, ', ') FROM "
	    "(SELECT delivery_id FROM events GROUP BY delivery_id HAVING "
	    "count(*) > 1) d", NULL);
	if (*bad != '\0')
		violation(s, "no delivery made two runs", "deliveries stored "
		    "as two events: %s", bad);
	free(bad);

	rows = harness_sql(s->h, "SELECT string_agg(j.id || ' ' || "
	    "p.full_name || ' ' || coalesce(j.conclusion, '-'), E'\\n' ORDER "
	    "BY j.id) FROM jobs j JOIN runs r ON r.id = j.run_id JOIN "
	    "repositories p ON p.id = r.repository_id JOIN events e ON e.id = "
	    "r.event_id WHERE e.delivery_id = ANY($1::text[])", acc, NULL);
	for (line = strtok_r(rows, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		check_job(s, line);
	free(rows);
	free(acc);

	if (!harness_wait_for(s->h, PROCS_MS, no_step_procs_cb, NULL)) {
		(void)harness_step_procs(s->h, &procs);
		violation(s, "no process of a finished job is alive",
		    "%d s after every job finished:\n%s", PROCS_MS / 1000,
		    procs.data);
	}
}

/* ---- set-up ---- */

/*
 * A mount namespace of our own (it and the tmpfs end with the last of our
 * processes), the state directory on a tmpfs.  0 and a loud message when
 * that is impossible here.
 */
static int
mount_state(struct harness *h)
{
	char opts[64];

	if (unshare(CLONE_NEWNS) == -1 ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		fprintf(stderr, "soak: CANNOT MOUNT (unshare/mount: %s): the "
		    "'state file system full' fault will NOT RUN\n",
		    strerror(errno));
		return 0;
	}
	if (mkdir(h->state_dir, 0755) == -1)
		harness_fail(h, "mkdir %s: %s", h->state_dir, strerror(errno));
	snprintf(opts, sizeof opts, "size=%s,mode=0755", TMPFS_SIZE);
	if (mount("kiln-soak", h->state_dir, "tmpfs", 0, opts) == -1) {
		fprintf(stderr, "soak: CANNOT MOUNT a tmpfs on %s (%s): the "
		    "'state file system full' fault will NOT RUN\n",
		    h->state_dir, strerror(errno));
		return 0;
	}
	return 1;
}

static void
soak_setup(struct soak *s)
{
	static const char *const names[2] = { "acme/soak-small",
	    "acme/soak-large" };
	char *conf, *wf;
	int k;

	s->h = harness_new("soak");
	s->tmpfs = mount_state(s->h);
	conf = xasprintf("[server]\nmax_connections = %d\nrequest_timeout = "
	    "%d\n[workers]\nlease_seconds = %d\n", CONN_CAP, REQUEST_S,
	    LEASE_S);
	harness_conf_add(s->h, conf);
	free(conf);
	harness_start(s->h);
	harness_raise_nofile(s->h, WAVE + 256);
	for (k = 0; k < 2; k++) {
		json_t *ev;

		s->repo[k] = harness_repo_new(s->h, names[k]);
		wf = workflow(k);
		harness_repo_write(s->repo[k], ".github/workflows/soak.yml",
		    wf);
		free(wf);
		s->sha[k] = harness_repo_commit_push(s->repo[k], "main",
		    "soak", NULL);
		ev = harness_push_event(s->repo[k], "refs/heads/main",
		    s->sha[k], s->sha[k], "soak");
		s->body[k] = harness_json_text(ev);
		json_decref(ev);
		s->sig[k] = harness_sign(s->repo[k]->secret, s->body[k],
		    strlen(s->body[k]));
		s->expect[k] = expected(k, &s->expect_len[k]);
	}
}

/* ---- figures ---- */

static char *
command_line(char *const argv[])
{
	struct buf out = { 0 };
	char *nl;

	if (harness_run(argv, getenv("KILN_SRCDIR"), NULL, &out, NULL,
	    10000) != 0 || out.data == NULL) {
		buf_free(&out);
		return xstrdup("?");
	}
	if ((nl = strchr(out.data, '\n')) != NULL)
		*nl = '\0';
	return buf_steal(&out);
}

static void
report(struct soak *s, int64_t took_ms)
{
	struct figures *f = &s->fig;
	struct buf b = { 0 }, nr = { 0 };
	struct utsname u;
	const char *p;
	char *const git[] = { (char *)"git", (char *)"describe",
	    (char *)"--always", (char *)"--dirty", NULL };
	char *const date[] = { (char *)"date", (char *)"-u",
	    (char *)"+%Y-%m-%d %H:%M UTC", NULL };
	char *commit = command_line(git), *when = command_line(date);
	double load[1] = { 0 };
	FILE *fp;
	int k;

	(void)uname(&u);
	(void)getloadavg(load, 1);
	buf_printf(&b, "\n## Soak, %s, commit %s\n\n", when, commit);
	buf_printf(&b, "Machine: %s %s, %ld CPUs, load %.1f at the end. "
	    "%d rounds in %lld s.\n\n", u.sysname, u.release,
	    sysconf(_SC_NPROCESSORS_ONLN), load[0], f->rounds,
	    (long long)(took_ms / 1000));
	buf_add_str(&b, "| fault | rounds | not run | slowest /healthz after "
	    "(ms) | slowest settle (s) |\n|---|---|---|---|---|\n");
	for (k = 0; k < F_NKINDS; k++)
		buf_printf(&b, "| %s | %d | %d | %lld | %.1f |\n",
		    fault_names[k], f->faults[k], f->not_run[k],
		    (long long)f->worst_healthz[k],
		    (double)f->worst_settle[k] / 1000);
	buf_printf(&b, "\nWebhooks %ld: %ld answered 202 (each with one run), "
	    "%ld refused (503 or other), %ld unanswered.  Jobs %ld: %ld "
	    "succeeded, %ld did not (each saying why); %ld logs truncated "
	    "with the marker, %ld loss markers (output the worker could not "
	    "keep, the job saying so).  Log bytes checked: %lld.  "
	    "Violations: 0.\n", f->webhooks, f->accepted, f->refused,
	    f->unanswered, f->jobs, f->jobs_ok, f->jobs_failed, f->truncated,
	    f->gaps, f->bytes);
	for (k = 0; k < F_NKINDS; k++)
		if (f->not_run[k] > 0)
			buf_printf(&nr, "%s'%s' %d times", nr.len ? ", " : "",
			    fault_names[k], f->not_run[k]);
	if (nr.len > 0) {
		buf_printf(&b, "\nNOT RUN (not passed): %s: no tmpfs could be "
		    "mounted on the state directory (needs root).\n", nr.data);
		if ((p = getenv("SOAK_NOT_RUN_FILE")) != NULL && *p != '\0')
			harness_write_file(s->h, p, nr.data);
	}
	fputs(b.data, stderr);
	if (args.results != NULL) {
		fp = fopen(args.results, "ae");
		harness_assert(s->h, fp != NULL, "open %s: %s", args.results,
		    strerror(errno));
		fputs(b.data, fp);
		harness_assert(s->h, fclose(fp) == 0, "write %s: %s",
		    args.results, strerror(errno));
	}
	buf_free(&b);
	buf_free(&nr);
	free(commit);
	free(when);
}

START_TEST(test_soak)
{
	struct soak s;
	struct sender snd;
	pthread_t tid;
	int i, k, total = 0;
	int64_t t0 = now_ms(), fault_at, cleared;

	memset(&s, 0, sizeof s);
	s.rng = (uint64_t)now_ms() * 2654435761u | 1;
	soak_setup(&s);
	for (s.round = 1; s.round <= args.rounds; s.round++) {
		s.h->deadline = now_ms() + ROUND_MS;
		s.kind = args.kinds[(s.round - 1) % args.nkinds];
		memset(&snd, 0, sizeof snd);
		snd.h = s.h;
		for (k = 0; k < 2; k++) {
			snd.body[k] = s.body[k];
			snd.sig[k] = s.sig[k];
		}
		for (i = 0; i < MAX_DELIVERIES; i++) {
			snd.d[i].guid = harness_guid();
			snd.d[i].large = (total + i) % LARGE_EVERY ==
			    LARGE_EVERY - 1;
		}
		fault_at = 1000 + (int64_t)(rnd(&s) % (INTAKE_MS - 3000));
		fprintf(stderr, "soak: round %d/%d: %s at %lld ms\n", s.round,
		    args.rounds, fault_names[s.kind], (long long)fault_at);
		harness_assert(s.h, pthread_create(&tid, NULL, sender_main,
		    &snd) == 0, "pthread_create");
		sleep_ms(fault_at);
		inject(&s);
		cleared = now_ms();
		pthread_join(tid, NULL);
		total += snd.n;
		for (i = 0; i < snd.n; i++) {
			s.fig.webhooks++;
			s.fig.accepted += snd.d[i].status == 202;
			s.fig.unanswered += snd.d[i].status == 0;
			s.fig.refused += snd.d[i].status != 202 &&
			    snd.d[i].status != 0;
		}
		check_round(&s, &snd, cleared);
		for (i = 0; i < MAX_DELIVERIES; i++)
			free(snd.d[i].guid);
		s.fig.rounds++;
	}
	report(&s, now_ms() - t0);
	s.h->deadline = now_ms() + 60000;
	harness_stop(s.h);
	if (s.tmpfs)
		(void)umount2(s.h->state_dir, MNT_DETACH);
	for (k = 0; k < 2; k++) {
		harness_repo_free(s.repo[k]);
		free(s.sha[k]);
		free(s.body[k]);
		free(s.sig[k]);
		free(s.expect[k]);
	}
	harness_free(s.h);
}
END_TEST

/*
 * SOAK_KINDS="3,4" rotates through those faults only (to reproduce one);
 * unset: all of them.
 */
static int
parse_kinds(const char *list)
{
	char *end;
	long v;

	args.nkinds = 0;
	if (list == NULL || *list == '\0') {
		for (v = 0; v < F_NKINDS; v++)
			args.kinds[args.nkinds++] = (enum fault)v;
		return 0;
	}
	while (*list != '\0' && args.nkinds < F_NKINDS) {
		v = strtol(list, &end, 10);
		if (end == list || v < 0 || v >= F_NKINDS ||
		    (*end != ',' && *end != '\0'))
			return -1;
		args.kinds[args.nkinds++] = (enum fault)v;
		list = *end == ',' ? end + 1 : end;
	}
	return args.nkinds > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	Suite *su = suite_create("soak");
	TCase *tc = tcase_create("soak");
	SRunner *sr;
	int failed;
	char *end = NULL;
	long rounds = argc >= 2 ? strtol(argv[1], &end, 10) : 0;

	if (argc < 2 || argc > 3 || *end != '\0' || rounds < 1 ||
	    rounds > 1000) {
		fprintf(stderr, "usage: soak ROUNDS (1-1000) [RESULTS.md]\n");
		return 2;
	}
	args.rounds = (int)rounds;
	args.results = argc == 3 ? argv[2] : NULL;
	if (parse_kinds(getenv("SOAK_KINDS")) == -1) {
		fprintf(stderr, "soak: SOAK_KINDS: a comma-separated list of "
		    "fault numbers 0-%d\n", F_NKINDS - 1);
		return 2;
	}
	tcase_set_timeout(tc, (double)args.rounds * ROUND_MS / 1000 + 300);
	tcase_add_test(tc, test_soak);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
