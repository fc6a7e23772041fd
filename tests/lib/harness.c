/*
 * harness: start and stop a real kilnd for one integration test, make real
 * git repositories, send real signed webhooks, read results through cictl.
 * See harness.h for the contract.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <libpq-fe.h>

#include "config.h"
#include "harness.h"
#include "util.h"

#define POLL_MS		100	/* harness_wait_for's period */
#define GIT_MS		30000	/* bound on one git command */
#define CICTL_MS	15000	/* bound on one cictl command */
#define HTTP_MS		30000	/* bound on one HTTP request */
#define LOG_TAIL	(48 * 1024) /* kilnd output printed on failure */
#define OUTPUT_MAX	(64 * 1024 * 1024) /* bound on a command's output */
#define ZERO_SHA	"0000000000000000000000000000000000000000"

/*
 * Tests that ran in Check's no-fork mode (CK_FORK=no) never reach the
 * end of a failed test; stop their kilnd at exit so it never outlives us.
 */
#define MAX_LIVE	8
static struct harness *live[MAX_LIVE];
static int atexit_done;

static void	live_add(struct harness *);
static void	live_del(struct harness *);

/* ---- small helpers ---- */

static double
timeout_multiplier(void)
{
	const char *s = getenv("CK_TIMEOUT_MULTIPLIER");
	char *end;
	double m;

	if (s == NULL || *s == '\0')
		return 1.0;
	m = strtod(s, &end);
	if (*end != '\0' || m < 1.0 || m > 100.0)
		return 1.0;
	return m;
}

int64_t
harness_left_ms(const struct harness *h)
{
	int64_t left = h->deadline - now_ms();

	return left < 0 ? 0 : left;
}

/* The smaller of timeout_ms and what the test has left. */
static int64_t
cap(const struct harness *h, int64_t timeout_ms)
{
	int64_t left;

	if (h == NULL)
		return timeout_ms;
	left = harness_left_ms(h);
	return timeout_ms < left ? timeout_ms : left;
}

static void
print_log_tail(struct harness *h)
{
	char *text;
	size_t len;
	const char *start;
	int fd;
	off_t size;

	if (h == NULL || h->log_path == NULL)
		return;
	if ((fd = open(h->log_path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "---- %s: no kilnd output (%s)\n", h->name,
		    strerror(errno));
		return;
	}
	size = lseek(fd, 0, SEEK_END);
	close(fd);
	/* file_read_all bounds by max; the log of one test stays small. */
	text = file_read_all(h->log_path, OUTPUT_MAX, &len);
	if (text == NULL) {
		fprintf(stderr, "---- %s: cannot read %s: %s\n", h->name,
		    h->log_path, strerror(errno));
		return;
	}
	start = text;
	if (len > LOG_TAIL)
		start = text + len - LOG_TAIL;
	fprintf(stderr, "---- %s: kilnd output (%s, %lld bytes%s) ----\n%s%s"
	    "---- end of kilnd output ----\n", h->name, h->log_path,
	    (long long)size, len > LOG_TAIL ? ", last part" : "", start,
	    len > 0 && text[len - 1] != '\n' ? "\n" : "");
	free(text);
}

void
harness_fail_at(struct harness *h, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n==== FAIL %s (%s:%d): %s\n",
	    h != NULL ? h->name : "?", file, line, msg);
	if (h != NULL) {
		h->failed = 1;
		print_log_tail(h);
		fprintf(stderr, "==== test directory kept: %s\n", h->dir);
	}
	fflush(stderr);
	_ck_assert_failed(file, line, "Failed", "%s: %s",
	    h != NULL ? h->name : "harness", msg);
}

void
harness_write_file(struct harness *h, const char *path, const char *content)
{
	char *dir, *slash;
	FILE *f;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0755) == -1)
			harness_fail(h, "mkdir %s: %s", dir, strerror(errno));
	}
	free(dir);
	if ((f = fopen(path, "we")) == NULL)
		harness_fail(h, "open %s: %s", path, strerror(errno));
	if (fputs(content, f) == EOF || fclose(f) == EOF)
		harness_fail(h, "write %s: %s", path, strerror(errno));
}

void
harness_conf_add(struct harness *h, const char *text)
{
	FILE *f;

	if ((f = fopen(h->conf, "ae")) == NULL)
		harness_fail(h, "open %s: %s", h->conf, strerror(errno));
	if (fputs(text, f) == EOF || fclose(f) == EOF)
		harness_fail(h, "write %s: %s", h->conf, strerror(errno));
}

int
harness_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd, port;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

int
harness_rm_rf(const char *path)
{
	struct stat st;

	if (path == NULL || path[0] == '\0')
		return -1;
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return lstat(path, &st) == 0 ? -1 : 0;
}

static void
random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];

	if (nbytes > sizeof raw)
		nbytes = sizeof raw;
	if (RAND_bytes(raw, (int)nbytes) != 1)
		abort();
	hex_encode(raw, nbytes, out);
}

/* ---- running programs ---- */

/* In a freshly forked child: undo what a test runner may have set. */
static void
child_reset_signals(void)
{
	sigset_t none;
	int sigs[] = { SIGTERM, SIGINT, SIGCHLD, SIGPIPE, SIGALRM, SIGHUP,
	    SIGQUIT, SIGUSR1, SIGUSR2 };
	size_t i;

	for (i = 0; i < nitems(sigs); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In a freshly forked child, after dup2: nothing of ours leaks past exec. */
static void
child_close_fds(void)
{
	int fd;

	if (close_range(3, ~0U, 0) == 0)
		return;
	for (fd = 3; fd < 4096; fd++)
		close(fd);
}

static int
status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int
harness_run(char *const argv[], const char *cwd, char *const env[],
    struct buf *out, struct buf *err, int64_t timeout_ms)
{
	int opipe[2], epipe[2], devnull, status, open_fds, i;
	struct pollfd pfd[2];
	struct buf *dst[2];
	char chunk[8192];
	int64_t deadline = now_ms() + timeout_ms, left;
	ssize_t n;
	pid_t pid;
	size_t total = 0;

	if (pipe2(opipe, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(epipe, O_CLOEXEC) == -1) {
		close(opipe[0]);
		close(opipe[1]);
		return -1;
	}
	if ((pid = fork()) == -1) {
		close(opipe[0]); close(opipe[1]);
		close(epipe[0]); close(epipe[1]);
		return -1;
	}
	if (pid == 0) {
		child_reset_signals();
		if ((devnull = open("/dev/null", O_RDONLY)) != -1)
			dup2(devnull, 0);
		dup2(opipe[1], 1);
		dup2(epipe[1], 2);
		child_close_fds();
		if (cwd != NULL && chdir(cwd) == -1) {
			dprintf(2, "chdir %s: %s\n", cwd, strerror(errno));
			_exit(127);
		}
		for (i = 0; env != NULL && env[i] != NULL; i++)
			putenv(env[i]);
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(opipe[1]);
	close(epipe[1]);
	pfd[0].fd = opipe[0];
	pfd[1].fd = epipe[0];
	pfd[0].events = pfd[1].events = POLLIN;
	dst[0] = out;
	dst[1] = err;
	open_fds = 2;
	while (open_fds > 0) {
		left = deadline - now_ms();
		if (left <= 0)
			break;
		if (poll(pfd, 2, (int)(left > 1000 ? 1000 : left)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			n = read(pfd[i].fd, chunk, sizeof chunk);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
				continue;
			}
			total += (size_t)n;
			if (dst[i] != NULL && total <= OUTPUT_MAX)
				buf_add(dst[i], chunk, (size_t)n);
		}
	}
	for (i = 0; i < 2; i++)
		if (pfd[i].fd != -1)
			close(pfd[i].fd);
	if (open_fds > 0) {
		/* Timed out (or poll failed): the child goes, whatever it is. */
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		if (err != NULL)
			buf_printf(err, "[harness: %s killed after %lld ms]\n",
			    argv[0], (long long)timeout_ms);
		return -1;
	}
	/* Output closed; the child exits soon after, still within bounds. */
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r == -1 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			return -1;
		}
		poll(NULL, 0, 10);
	}
	return status_code(status);
}

/* ---- /proc ---- */

/* comm, state and ppid of pid from /proc/pid/stat; 0 or -1. */
static int
proc_stat(pid_t pid, char *comm, size_t commsz, char *state, pid_t *ppid)
{
	char path[64], text[1024], *open_paren, *close_paren;
	ssize_t n;
	int fd, pp;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	open_paren = strchr(text, '(');
	close_paren = strrchr(text, ')');
	if (open_paren == NULL || close_paren == NULL || close_paren < open_paren)
		return -1;
	if (comm != NULL)
		snprintf(comm, commsz, "%.*s",
		    (int)(close_paren - open_paren - 1), open_paren + 1);
	if (sscanf(close_paren + 1, " %c %d", state, &pp) != 2)
		return -1;
	if (ppid != NULL)
		*ppid = pp;
	return 0;
}

int
harness_maps_have(pid_t pid, const char *needle)
{
	char path[64], line[1024];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

int
harness_pid_alive(pid_t pid)
{
	char state;

	if (pid <= 0)
		return 0;
	if (proc_stat(pid, NULL, 0, &state, NULL) == -1)
		return 0;
	return state != 'Z' && state != 'X';
}

/* The command line of pid with NULs as spaces (caller frees), or NULL. */
static char *
proc_cmdline(pid_t pid)
{
	char path[64], *text;
	size_t len, i;

	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if ((text = file_read_all(path, 1024 * 1024, &len)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		if (text[i] == '\0')
			text[i] = ' ';
	while (len > 0 && text[len - 1] == ' ')
		text[--len] = '\0';
	return text;
}

/* Calls fn for every numeric /proc entry; bounded by the table's size. */
static void
proc_each(void (*fn)(pid_t, void *), void *arg)
{
	DIR *d;
	struct dirent *de;
	char *end;
	long v;
	int count = 0;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL && count < 1000000) {
		count++;
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		v = strtol(de->d_name, &end, 10);
		if (*end != '\0' || v <= 0 || v > INT_MAX)
			continue;
		fn((pid_t)v, arg);
	}
	closedir(d);
}

/* Every postgres process of this test's embedded cluster (cwd in its dir). */
struct pgsig_arg {
	const char	*dir;
	int		 sig;
	int		 n;
};

static void
pgsig_cb(pid_t pid, void *p)
{
	struct pgsig_arg *a = p;
	char comm[64], state, link[64], cwd[4096];
	pid_t ppid;
	ssize_t n;

	if (proc_stat(pid, comm, sizeof comm, &state, &ppid) == -1 ||
	    strcmp(comm, "postgres") != 0)
		return;
	snprintf(link, sizeof link, "/proc/%ld/cwd", (long)pid);
	if ((n = readlink(link, cwd, sizeof cwd - 1)) <= 0)
		return;
	cwd[n] = '\0';
	if (!str_has_prefix(cwd, a->dir))
		return;
	if (kill(pid, a->sig) == 0)
		a->n++;
}

char *
harness_postgres_log(struct harness *h, long *at)
{
	char *path = xasprintf("%s/pg/postgres.log", h->state_dir);
	struct buf b = { 0 };
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "r");

	harness_assert(h, f != NULL, "%s: %s", path, strerror(errno));
	harness_assert(h, fseek(f, *at, SEEK_SET) == 0, "seek %s", path);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, n);
	*at += (long)b.len;
	fclose(f);
	free(path);
	buf_add_char(&b, '\0');
	return buf_steal(&b);
}

int
harness_signal_postgres(struct harness *h, int sig)
{
	struct pgsig_arg a = { h->dir, sig, 0 };

	proc_each(pgsig_cb, &a);
	return a.n;
}

struct workers_arg {
	pid_t	 parent;
	pid_t	*pids;
	int	 max;
	int	 n;
};

static void
workers_cb(pid_t pid, void *p)
{
	struct workers_arg *a = p;
	char comm[64], state;
	pid_t ppid;

	if (proc_stat(pid, comm, sizeof comm, &state, &ppid) == -1)
		return;
	if (ppid != a->parent || state == 'Z' || strcmp(comm, "kiln-worker"))
		return;
	if (a->n < a->max)
		a->pids[a->n] = pid;
	a->n++;
}

int
harness_workers(struct harness *h, pid_t *pids, int max)
{
	struct workers_arg a = { h->kilnd, pids, max, 0 };

	if (h->kilnd <= 0)
		return 0;
	proc_each(workers_cb, &a);
	return a.n < max ? a.n : max;
}

struct leftover_arg {
	struct harness	*h;
	struct buf	*desc;
	pid_t		*pids;	/* optional: collect */
	int		 max;
	int		 n;
	const char	*dir;	/* NULL: the test's directory */
	int		 steps;	/* only steps: kiln's own programs skipped */
};

static int
path_inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void
leftover_cb(pid_t pid, void *p)
{
	struct leftover_arg *a = p;
	char path[64], cwd[PATH_MAX], comm[64], state;
	char *cmd;
	ssize_t n;
	int hit = 0;

	if (pid == getpid() || pid == a->h->kilnd)
		return;
	if (proc_stat(pid, comm, sizeof comm, &state, NULL) == -1 ||
	    state == 'Z' || state == 'X')
		return;
	if (a->steps && (strcmp(comm, "kilnd") == 0 ||
	    strcmp(comm, "kiln-worker") == 0 || strcmp(comm, "postgres") == 0))
		return;
	snprintf(path, sizeof path, "/proc/%d/cwd", (int)pid);
	if ((n = readlink(path, cwd, sizeof cwd - 1)) > 0) {
		cwd[n] = '\0';
		hit = path_inside(cwd, a->dir != NULL ? a->dir : a->h->dir);
	}
	cmd = proc_cmdline(pid);
	if (!hit && cmd != NULL && !a->steps)
		hit = strstr(cmd, a->h->dir) != NULL;
	if (hit) {
		if (a->desc != NULL)
			buf_printf(a->desc, "  pid %d (%s): %s\n", (int)pid,
			    comm, cmd != NULL ? cmd : "?");
		if (a->pids != NULL && a->n < a->max)
			a->pids[a->n] = pid;
		a->n++;
	}
	free(cmd);
}

int
harness_leftovers(struct harness *h, struct buf *desc)
{
	struct leftover_arg a = { h, desc, NULL, 0, 0, NULL, 0 };

	proc_each(leftover_cb, &a);
	return a.n;
}

void
harness_raise_nofile(struct harness *h, unsigned long want)
{
	struct rlimit rl;

	harness_assert(h, getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		harness_assert(h, setrlimit(RLIMIT_NOFILE, &rl) == 0,
		    "setrlimit: %s", strerror(errno));
	}
}

int
harness_step_procs(struct harness *h, struct buf *desc)
{
	struct leftover_arg a = { h, desc, NULL, 0, 0, h->state_dir, 1 };

	proc_each(leftover_cb, &a);
	return a.n;
}

/* SIGKILL every leftover process; bounded rounds. */
static void
kill_leftovers(struct harness *h)
{
	pid_t pids[256];
	int round, i;

	for (round = 0; round < 20; round++) {
		struct leftover_arg a = { h, NULL, pids, (int)nitems(pids), 0,
		    NULL, 0 };
		proc_each(leftover_cb, &a);
		if (a.n == 0)
			return;
		for (i = 0; i < a.n && i < a.max; i++)
			kill(pids[i], SIGKILL);
		poll(NULL, 0, 50);
	}
}

/* ---- the world ---- */

struct harness *
harness_new(const char *name)
{
	struct harness *h;
	const char *bindir, *tmp;
	char *tmpl, *conf;

	h = xcalloc(1, sizeof *h);
	h->name = xstrdup(name);
	h->kilnd = -1;
	h->deadline = now_ms() +
	    (int64_t)(HARNESS_BUDGET_MS * timeout_multiplier());

	if ((bindir = getenv("KILN_BINDIR")) == NULL || *bindir == '\0')
		harness_fail(NULL, "KILN_BINDIR is not set (run through "
		    "`make check-integration`)");
	h->bindir = xstrdup(bindir);

	/* Short: the admin socket path must fit in sun_path. */
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	tmpl = xasprintf("%s/kt-XXXXXX", tmp);
	if (mkdtemp(tmpl) == NULL)
		harness_fail(NULL, "mkdtemp %s: %s", tmpl, strerror(errno));
	h->dir = tmpl;
	/* The embedded postgres runs unprivileged and must traverse this. */
	if (chmod(h->dir, 0755) == -1)
		harness_fail(h, "chmod %s: %s", h->dir, strerror(errno));
	h->state_dir = xasprintf("%s/state", h->dir);
	h->conf = xasprintf("%s/kiln.conf", h->dir);
	h->log_path = xasprintf("%s/kilnd.log", h->dir);
	h->shared = xasprintf("%s/shared", h->dir);
	if (mkdir(h->shared, 0777) == -1 || chmod(h->shared, 01777) == -1)
		harness_fail(h, "mkdir %s: %s", h->shared, strerror(errno));

	if ((h->port = harness_free_port()) == -1)
		harness_fail(h, "no free loopback port: %s", strerror(errno));
	h->base_url = xasprintf("http://127.0.0.1:%d", h->port);

	/* drain_seconds = 0: a stopped kilnd cancels running jobs at once. */
	conf = xasprintf("# %s\n[server]\nlisten = 127.0.0.1:%d\n"
	    "state_dir = %s\ndrain_seconds = 0\n[workers]\ncount = 2\n",
	    h->name, h->port, h->state_dir);
	harness_write_file(h, h->conf, conf);
	free(conf);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		harness_fail(h, "curl_global_init failed");
	return h;
}

struct harness *
harness_up_at(const char *file, int line, const char *name)
{
	struct harness *h = harness_new(name);

	harness_start_at(h, file, line);
	return h;
}

static int
healthy_cb(struct harness *h, void *arg)
{
	struct harness_resp r;
	int *exited = arg, status, ok;

	if (waitpid(h->kilnd, &status, WNOHANG) == h->kilnd) {
		*exited = status_code(status);
		h->kilnd = -1;
		return 1;
	}
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	ok = r.status == 200;
	harness_resp_free(&r);
	return ok;
}

void
harness_start_at(struct harness *h, const char *file, int line)
{
	char *kilnd, *argv[4];
	pid_t pid;
	int exited = -1;
	int64_t t0;

	if (h->kilnd > 0)
		harness_fail_at(h, file, line, "harness_start: kilnd already running");
	kilnd = xasprintf("%s/kilnd", h->bindir);
	if (access(kilnd, X_OK) == -1)
		harness_fail_at(h, file, line, "%s: %s (build it first)", kilnd,
		    strerror(errno));
	argv[0] = kilnd;
	argv[1] = (char *)"-c";
	argv[2] = h->conf;
	argv[3] = NULL;

	/*
	 * Own process group: Check's killpg() of the test's group must not
	 * SIGKILL kilnd before it stopped its postgres.  Death of the test
	 * sends SIGTERM: a clean stop instead.
	 */
	pid = harness_spawn(h, argv);
	h->kilnd = pid;
	live_add(h);
	free(kilnd);

	t0 = now_ms();
	if (!harness_wait_for(h, HARNESS_START_MS, healthy_cb, &exited))
		harness_fail_at(h, file, line, "kilnd did not answer GET /healthz with 200 "
		    "within %lld ms", (long long)(now_ms() - t0));
	if (exited != -1 || h->kilnd == -1) {
		live_del(h);
		harness_fail_at(h, file, line, "kilnd exited with status %d before it was "
		    "healthy", exited);
	}
}

void
harness_stop_at(struct harness *h, const char *file, int line, int sig)
{
	struct buf desc = { 0 };
	int64_t t0, deadline;
	int status = 0, exited = 0, n;
	pid_t r;

	if (h->kilnd <= 0)
		harness_fail_at(h, file, line, "harness_stop: kilnd is not running");
	if (kill(h->kilnd, sig) == -1)
		harness_fail_at(h, file, line, "kill kilnd: %s", strerror(errno));
	t0 = now_ms();
	deadline = t0 + (int64_t)(HARNESS_STOP_MS * timeout_multiplier());
	while (now_ms() < deadline) {
		r = waitpid(h->kilnd, &status, WNOHANG);
		if (r == h->kilnd) {
			exited = 1;
			break;
		}
		if (r == -1 && errno != EINTR)
			break;
		poll(NULL, 0, 20);
	}
	if (!exited) {
		killpg(h->kilnd, SIGKILL);
		kill(h->kilnd, SIGKILL);
		while (waitpid(h->kilnd, &status, 0) == -1 && errno == EINTR)
			;
		h->kilnd = -1;
		live_del(h);
		n = harness_leftovers(h, &desc);
		kill_leftovers(h);
		harness_fail_at(h, file, line, "kilnd did not exit within %d ms of %s "
		    "(SIGKILLed); %d process(es) of the test were left%s%s",
		    HARNESS_STOP_MS, strsignal(sig), n, n ? ":\n" : "",
		    n ? desc.data : "");
	}
	h->kilnd = -1;
	live_del(h);
	n = harness_leftovers(h, &desc);
	if (n > 0) {
		kill_leftovers(h);
		harness_fail_at(h, file, line, "after kilnd exited (%lld ms after %s), "
		    "%d process(es) of the test are still running:\n%s",
		    (long long)(now_ms() - t0), strsignal(sig), n, desc.data);
	}
	buf_free(&desc);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		harness_fail_at(h, file, line, "kilnd's shutdown on %s was not clean: "
		    "%s %d", strsignal(sig),
		    WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) :
		    WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

/* Stop without judging: for harness_free and atexit. */
static void
stop_quietly(struct harness *h)
{
	int64_t deadline;
	int status;

	if (h->kilnd <= 0)
		return;
	kill(h->kilnd, SIGTERM);
	deadline = now_ms() + HARNESS_STOP_MS;
	while (now_ms() < deadline) {
		if (waitpid(h->kilnd, &status, WNOHANG) != 0)
			break;
		poll(NULL, 0, 20);
	}
	if (harness_pid_alive(h->kilnd)) {
		killpg(h->kilnd, SIGKILL);
		waitpid(h->kilnd, &status, 0);
	}
	h->kilnd = -1;
	kill_leftovers(h);
}

void
harness_free(struct harness *h)
{
	const char *keep = getenv("HARNESS_KEEP");

	if (h == NULL)
		return;
	stop_quietly(h);
	live_del(h);
	if (!h->failed && (keep == NULL || *keep == '\0'))
		harness_rm_rf(h->dir);
	else
		fprintf(stderr, "harness: %s: kept %s\n", h->name, h->dir);
	free(h->name);
	free(h->dir);
	free(h->state_dir);
	free(h->conf);
	free(h->log_path);
	free(h->shared);
	free(h->bindir);
	free(h->base_url);
	free(h);
}

static void
live_atexit(void)
{
	int i;

	for (i = 0; i < MAX_LIVE; i++)
		if (live[i] != NULL && live[i]->kilnd > 0)
			stop_quietly(live[i]);
}

static void
live_add(struct harness *h)
{
	int i;

	if (!atexit_done) {
		atexit(live_atexit);
		atexit_done = 1;
	}
	for (i = 0; i < MAX_LIVE; i++)
		if (live[i] == NULL || live[i] == h) {
			live[i] = h;
			return;
		}
}

static void
live_del(struct harness *h)
{
	int i;

	for (i = 0; i < MAX_LIVE; i++)
		if (live[i] == h)
			live[i] = NULL;
}

int
harness_wait_for(struct harness *h, int64_t timeout_ms,
    int (*pred)(struct harness *, void *), void *arg)
{
	int64_t deadline = now_ms() + cap(h, timeout_ms);
	int i;

	/* The count bound is generous; the time bound is the real one. */
	for (i = 0; i < 100000; i++) {
		if (pred(h, arg))
			return 1;
		if (now_ms() >= deadline)
			return 0;
		poll(NULL, 0, POLL_MS);
	}
	return 0;
}

/* ---- HTTP ---- */

static size_t
curl_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (b->len + size * n > OUTPUT_MAX)
		return 0;
	buf_add(b, p, size * n);
	return size * n;
}

void
harness_http(struct harness *h, const char *method, const char *path,
    const char *const headers[], const void *body, size_t len,
    struct harness_resp *r)
{
	struct curl_slist *hl = NULL;
	char *url;
	CURL *c;
	CURLcode rc;
	int i;

	memset(r, 0, sizeof *r);
	buf_add(&r->body, "", 0);	/* body.data is a string from here */
	if ((c = curl_easy_init()) == NULL)
		harness_fail(h, "curl_easy_init failed");
	url = xasprintf("%s%s", h->base_url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cap(h, HTTP_MS));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	buf_add(&r->headers, "", 0);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, curl_write_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		hl = curl_slist_append(hl, headers[i]);
	if (strcmp(method, "POST") == 0) {
		/* GitHub sends the body at once, without Expect. */
		hl = curl_slist_append(hl, "Expect:");
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	} else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	rc = curl_easy_perform(c);
	/*
	 * A server may answer (413) before the body is sent and close: curl
	 * then reports a send error but has the status.  Keep both.
	 */
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc != CURLE_OK)
		snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(rc));
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	free(url);
}

void
harness_resp_free(struct harness_resp *r)
{
	buf_free(&r->body);
	buf_free(&r->headers);
}

char *
harness_resp_header(const struct harness_resp *r, const char *name)
{
	const char *p = r->headers.data, *eol;
	size_t n = strlen(name);

	while (p != NULL && *p != '\0') {
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *end = eol;

			while (*v == ' ')
				v++;
			while (end > v && (end[-1] == '\r' || end[-1] == ' '))
				end--;
			return xstrndup(v, (size_t)(end - v));
		}
		p = *eol ? eol + 1 : eol;
	}
	return NULL;
}

char *
harness_sign(const char *secret, const void *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac,
	    &maclen) == NULL)
		abort();
	hex_encode(mac, maclen, hex);
	return xasprintf("sha256=%s", hex);
}

char *
harness_guid(void)
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof b) != 1)
		abort();
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void
harness_webhook(struct harness *h, const char *event, const char *delivery,
    const char *signature, const void *body, size_t len,
    struct harness_resp *r)
{
	const char *headers[6];
	char *ev, *dl, *sig = NULL;
	int n = 0;

	ev = xasprintf("X-GitHub-Event: %s", event);
	dl = xasprintf("X-GitHub-Delivery: %s", delivery);
	headers[n++] = ev;
	headers[n++] = dl;
	if (signature != NULL) {
		sig = xasprintf("X-Hub-Signature-256: %s", signature);
		headers[n++] = sig;
	}
	headers[n++] = "Content-Type: application/json";
	headers[n++] = "User-Agent: GitHub-Hookshot/kilntest";
	headers[n] = NULL;
	harness_http(h, "POST", "/hooks/github", headers, body, len, r);
	free(ev);
	free(dl);
	free(sig);
}

/* ---- git ---- */

static char *git_env[] = {
	(char *)"GIT_CONFIG_NOSYSTEM=1",
	(char *)"GIT_CONFIG_GLOBAL=/dev/null",
	(char *)"GIT_TERMINAL_PROMPT=0",
	NULL
};

/*
 * Run git with args (NULL-terminated) in cwd; fails the test unless it
 * exits 0.  Returns its stdout, trimmed (caller frees).
 */
char *
harness_git(struct harness *h, const char *cwd, ...)
{
	char *argv[32];
	struct buf out = { 0 }, err = { 0 };
	const char *a;
	va_list ap;
	int argc = 0, rc;

	argv[argc++] = (char *)"git";
	argv[argc++] = (char *)"-c";
	argv[argc++] = (char *)"user.name=kiln test";
	argv[argc++] = (char *)"-c";
	argv[argc++] = (char *)"user.email=test@kiln.invalid";
	argv[argc++] = (char *)"-c";
	argv[argc++] = (char *)"commit.gpgsign=false";
	argv[argc++] = (char *)"-c";
	argv[argc++] = (char *)"init.defaultBranch=main";
	va_start(ap, cwd);
	while ((a = va_arg(ap, const char *)) != NULL &&
	    argc < (int)nitems(argv) - 1)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;

	rc = harness_run(argv, cwd, git_env, &out, &err, cap(h, GIT_MS));
	if (rc != 0) {
		struct buf cmd = { 0 };
		int i;
		for (i = 0; argv[i] != NULL; i++)
			buf_printf(&cmd, "%s%s", i ? " " : "", argv[i]);
		harness_fail(h, "`%s` in %s failed (%d): %s%s", cmd.data,
		    cwd != NULL ? cwd : ".", rc, err.data != NULL ? err.data :
		    "", out.data != NULL ? out.data : "");
	}
	buf_free(&err);
	buf_add(&out, "", 0);
	while (out.len > 0 && isspace((unsigned char)out.data[out.len - 1]))
		out.data[--out.len] = '\0';
	return buf_steal(&out);
}

char *
harness_git_tagged(struct harness *h, const char *dir, const char *tag)
{
	free(harness_git(h, dir, "init", "-q", NULL));
	free(harness_git(h, dir, "add", "-A", NULL));
	free(harness_git(h, dir, "commit", "-q", "-m", tag, NULL));
	free(harness_git(h, dir, "tag", tag, NULL));
	return harness_git(h, dir, "rev-parse", "HEAD", NULL);
}

struct harness_repo *
harness_repo_new_unregistered(struct harness *h, const char *full_name)
{
	struct harness_repo *repo;
	char *slug, *p, *gitdir, *out, hex[65];

	repo = xcalloc(1, sizeof *repo);
	repo->h = h;
	repo->full_name = xstrdup(full_name);
	slug = xstrdup(full_name);
	for (p = slug; *p != '\0'; p++)
		if (*p == '/')
			*p = '-';
	gitdir = xasprintf("%s/git", h->dir);
	if (mkdir_p(gitdir, 0755) == -1)
		harness_fail(h, "mkdir %s: %s", gitdir, strerror(errno));
	repo->bare = xasprintf("%s/%s.git", gitdir, slug);
	repo->work = xasprintf("%s/%s", gitdir, slug);
	repo->clone_url = xasprintf("file://%s", repo->bare);
	repo->secret_file = xasprintf("%s/%s.secret", gitdir, slug);
	random_hex(hex, 16);
	/* Not only hex: a secret is bytes, and the HMAC key is all of them. */
	repo->secret = xasprintf("It's a secret %s", hex);
	harness_write_file(h, repo->secret_file, repo->secret);
	free(slug);
	free(gitdir);

	out = harness_git(h, NULL, "init", "-q", "--bare", repo->bare, NULL);
	free(out);
	out = harness_git(h, NULL, "init", "-q", "-b", "main", repo->work, NULL);
	free(out);
	out = harness_git(h, repo->work, "remote", "add", "origin", repo->bare, NULL);
	free(out);
	h->repos++;
	return repo;
}

struct harness_repo *
harness_repo_new(struct harness *h, const char *full_name)
{
	struct harness_repo *repo = harness_repo_new_unregistered(h, full_name);
	struct buf out = { 0 }, err = { 0 };
	int rc;

	rc = harness_cictl(h, &out, &err, "repo", "add", full_name, "--url",
	    repo->clone_url, "--secret-file", repo->secret_file, NULL);
	if (rc != 0)
		harness_fail(h, "`cictl repo add %s` exited %d: %s%s",
		    full_name, rc, err.data != NULL ? err.data : "",
		    out.data != NULL ? out.data : "");
	buf_free(&out);
	buf_free(&err);
	return repo;
}

void
harness_repo_free(struct harness_repo *repo)
{
	if (repo == NULL)
		return;
	free(repo->full_name);
	free(repo->bare);
	free(repo->work);
	free(repo->clone_url);
	if (repo->secret != NULL)
		OPENSSL_cleanse(repo->secret, strlen(repo->secret));
	free(repo->secret);
	free(repo->secret_file);
	free(repo);
}

void
harness_repo_write(struct harness_repo *repo, const char *path,
    const char *content)
{
	char *full = xasprintf("%s/%s", repo->work, path);

	harness_write_file(repo->h, full, content);
	free(full);
}

char *
harness_repo_commit_push(struct harness_repo *repo, const char *branch,
    const char *message, char **before)
{
	struct harness *h = repo->h;
	char *ref, *old, *sha, *out, *refspec;

	ref = xasprintf("refs/heads/%s", branch);
	old = harness_git(h, NULL, "--git-dir", repo->bare, "for-each-ref",
	    "--format=%(objectname)", ref, NULL);
	if (*old == '\0') {
		free(old);
		old = xstrdup(ZERO_SHA);
	}
	out = harness_git(h, repo->work, "add", "-A", NULL);
	free(out);
	out = harness_git(h, repo->work, "commit", "-q", "--allow-empty", "-m",
	    message, NULL);
	free(out);
	sha = harness_git(h, repo->work, "rev-parse", "HEAD", NULL);
	refspec = xasprintf("HEAD:%s", ref);
	out = harness_git(h, repo->work, "push", "-q", "--force", "origin", refspec,
	    NULL);
	free(out);
	free(refspec);
	free(ref);
	if (before != NULL)
		*before = old;
	else
		free(old);
	return sha;
}

json_t *
harness_push_event(const struct harness_repo *repo, const char *ref,
    const char *before, const char *after, const char *message)
{
	const char *slash = strchr(repo->full_name, '/');
	char *owner, *name, stamp[64], *html, *compare, *curl;
	json_t *commit, *ev;
	time_t t = time(NULL);
	struct tm tm;

	owner = slash != NULL ? xstrndup(repo->full_name,
	    (size_t)(slash - repo->full_name)) : xstrdup(repo->full_name);
	name = xstrdup(slash != NULL ? slash + 1 : repo->full_name);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	html = xasprintf("https://github.com/%s", repo->full_name);
	compare = xasprintf("%s/compare/%.12s...%.12s", html, before, after);
	curl = xasprintf("%s/commit/%s", html, after);

	commit = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, "
	    "s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:[], s:[], s:[]}",
	    "id", after, "tree_id", after, "distinct", 1, "message", message,
	    "timestamp", stamp, "url", curl,
	    "author", "name", "kiln test", "email", "test@kiln.invalid",
	    "username", owner,
	    "committer", "name", "kiln test", "email", "test@kiln.invalid",
	    "username", owner,
	    "added", "removed", "modified");
	ev = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:n, s:s, "
	    "s:[O], s:O, "
	    "s:{s:i, s:s, s:s, s:b, s:b, s:s, s:s, s:s, s:s, s:{s:s, s:s}}, "
	    "s:{s:s, s:s}, s:{s:s, s:i, s:s}}",
	    "ref", ref, "before", before, "after", after,
	    "created", strcmp(before, ZERO_SHA) == 0, "deleted", 0,
	    "forced", 0, "base_ref", "compare", compare,
	    "commits", commit, "head_commit", commit,
	    "repository", "id", 4242, "name", name, "full_name",
	    repo->full_name, "private", 0, "fork", 0, "default_branch",
	    "main", "clone_url", repo->clone_url, "html_url", html,
	    "visibility", "public", "owner", "login", owner, "name", owner,
	    "pusher", "name", owner, "email", "test@kiln.invalid",
	    "sender", "login", owner, "id", 4243, "type", "User");
	json_decref(commit);
	free(owner);
	free(name);
	free(html);
	free(compare);
	free(curl);
	if (ev == NULL)
		abort();
	return ev;
}

char *
harness_json_text(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (s == NULL)
		abort();
	return s;
}

void
harness_deliver_push_at(struct harness *h, const char *file, int line,
    struct harness_repo *repo, const char *ref, const char *before,
    const char *after, const char *message)
{
	struct harness_resp r;
	char *body, *sig, *guid;
	json_t *ev;

	ev = harness_push_event(repo, ref, before, after, message);
	body = harness_json_text(ev);
	sig = harness_sign(repo->secret, body, strlen(body));
	guid = harness_guid();
	harness_webhook(h, "push", guid, sig, body, strlen(body), &r);
	if (r.status != 202)
		harness_fail_at(h, file, line, "push webhook for %s %s: "
		    "expected 202, got %ld "
		    "%s%s", repo->full_name, ref, r.status, r.body.data,
		    r.error);
	harness_resp_free(&r);
	json_decref(ev);
	free(body);
	free(sig);
	free(guid);
}

char *
harness_push_at(struct harness *h, const char *file, int line,
    struct harness_repo *repo, const char *branch, const char *message)
{
	char *before, *sha, *ref;

	sha = harness_repo_commit_push(repo, branch, message, &before);
	ref = xasprintf("refs/heads/%s", branch);
	harness_deliver_push_at(h, file, line, repo, ref, before, sha,
	    message);
	free(before);
	free(ref);
	return sha;
}

char *
harness_pull_request_at(struct harness *h, const char *file, int line,
    struct harness_repo *repo, const char *event, int number,
    const char *head, const char *head_sha, const char *base,
    const char *base_sha, const char *title, const char *merge_sha)
{
	struct harness_resp r;
	char *body, *sig, *guid;
	json_t *push, *ev, *pr;

	/* repository and sender exactly as in a push event. */
	push = harness_push_event(repo, "refs/heads/x", head_sha, head_sha,
	    title);
	ev = json_pack("{s:s, s:i, s:{s:i, s:s, s:b, s:b, s:s, s:s, "
	    "s:{s:s, s:s, s:s, s:O}, s:{s:s, s:s, s:s, s:O}}, s:O, s:O}",
	    "action", "opened", "number", number,
	    "pull_request", "number", number, "state", "open", "draft", 0,
	    "merged", 0, "merge_commit_sha", merge_sha != NULL ? merge_sha :
	    "", "title", title,
	    "head", "ref", head, "sha", head_sha, "label", head, "repo",
	    json_object_get(push, "repository"),
	    "base", "ref", base, "sha", base_sha, "label", base, "repo",
	    json_object_get(push, "repository"),
	    "repository", json_object_get(push, "repository"),
	    "sender", json_object_get(push, "sender"));
	if (ev == NULL)
		harness_fail_at(h, file, line, "cannot build the %s payload",
		    event);
	pr = json_object_get(ev, "pull_request");
	/* GitHub often sends the event before the test merge is computed. */
	if (merge_sha == NULL)
		json_object_set_new(pr, "merge_commit_sha", json_null());
	body = harness_json_text(ev);
	sig = harness_sign(repo->secret, body, strlen(body));
	guid = harness_guid();
	harness_webhook(h, event, guid, sig, body, strlen(body), &r);
	if (r.status != 202)
		harness_fail_at(h, file, line, "%s webhook: expected 202, got "
		    "%ld %s%s", event, r.status, r.body.data, r.error);
	harness_resp_free(&r);
	json_decref(push);
	json_decref(ev);
	free(sig);
	free(guid);
	return body;
}

/* ---- other processes and the database ---- */

pid_t
harness_spawn(struct harness *h, char *const argv[])
{
	pid_t parent = getpid(), pid;
	int fd;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		harness_fail(h, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		child_reset_signals();
		fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if ((fd = open("/dev/null", O_RDONLY)) != -1)
			dup2(fd, 0);
		child_close_fds();
		execv(argv[0], argv);
		dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);	/* either side may win the race */
	return pid;
}

void
harness_kill(struct harness *h, pid_t pid)
{
	int64_t until = now_ms() + HARNESS_STOP_MS;
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > until) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			harness_fail(h, "process %ld did not stop on SIGTERM",
			    (long)pid);
		}
		poll(NULL, 0, 50);
	}
}

int
harness_sql_is_cb(struct harness *h, void *arg)
{
	const char *const *q = arg;
	char *v = harness_sql(h, q[0], q[1], NULL);
	int ok = strcmp(v, q[2]) == 0;

	free(v);
	return ok;
}

char *
harness_sql(struct harness *h, const char *sql, ...)
{
	struct kiln_config cfg;
	const char *params[16];
	char err[512], *conninfo, *out;
	PGconn *db;
	PGresult *res;
	va_list ap;
	int n = 0;

	va_start(ap, sql);
	while (n < 16 && (params[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	if (config_load(h->conf, &cfg, err, sizeof err) == -1)
		harness_fail(h, "harness_sql: %s", err);
	conninfo = config_conninfo(&cfg);
	config_free(&cfg);
	db = PQconnectdb(conninfo);
	free(conninfo);
	if (PQstatus(db) != CONNECTION_OK) {
		snprintf(err, sizeof err, "%s", PQerrorMessage(db));
		PQfinish(db);
		harness_fail(h, "harness_sql: connecting: %s", err);
	}
	res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, sizeof err, "%s", PQerrorMessage(db));
		PQclear(res);
		PQfinish(db);
		harness_fail(h, "harness_sql: %s: %s", sql, err);
	}
	out = xstrdup(PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0,
	    0) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	PQfinish(db);
	return out;
}

/* ---- cictl ---- */

static int
cictl_v(struct harness *h, struct buf *out, struct buf *err, va_list ap)
{
	char *argv[32], *prog;
	const char *a;
	int argc = 0, rc;

	prog = xasprintf("%s/cictl", h->bindir);
	argv[argc++] = prog;
	argv[argc++] = (char *)"-c";
	argv[argc++] = h->conf;
	while ((a = va_arg(ap, const char *)) != NULL &&
	    argc < (int)nitems(argv) - 1)
		argv[argc++] = (char *)a;
	argv[argc] = NULL;
	rc = harness_run(argv, h->dir, NULL, out, err, cap(h, CICTL_MS));
	free(prog);
	if (out != NULL)
		buf_add(out, "", 0);
	if (err != NULL)
		buf_add(err, "", 0);
	return rc;
}

int
harness_cictl(struct harness *h, struct buf *out, struct buf *err, ...)
{
	va_list ap;
	int rc;

	va_start(ap, err);
	rc = cictl_v(h, out, err, ap);
	va_end(ap);
	return rc;
}

/* cictl args -> JSON; NULL with *why set (caller frees) on any failure. */
static json_t *
cictl_json_v(struct harness *h, char **why, va_list ap)
{
	struct buf out = { 0 }, err = { 0 };
	json_error_t jerr;
	json_t *j = NULL;
	int rc;

	*why = NULL;
	rc = cictl_v(h, &out, &err, ap);
	if (rc != 0)
		*why = xasprintf("cictl exited %d: %s%s", rc, err.data,
		    out.data);
	else if ((j = json_loadb(out.data, out.len, 0, &jerr)) == NULL)
		*why = xasprintf("cictl printed invalid JSON (%s at %d:%d): "
		    "%.2000s", jerr.text, jerr.line, jerr.column, out.data);
	buf_free(&out);
	buf_free(&err);
	return j;
}

json_t *
harness_cictl_json(struct harness *h, ...)
{
	va_list ap;
	char *why;
	json_t *j;

	va_start(ap, h);
	j = cictl_json_v(h, &why, ap);
	va_end(ap);
	if (j == NULL)
		harness_fail(h, "%s", why);
	return j;
}

/* Like harness_cictl_json, but a failure is returned, not fatal. */
static json_t * __attribute__((sentinel))
try_cictl_json(struct harness *h, char **why, ...)
{
	va_list ap;
	json_t *j;

	va_start(ap, why);
	j = cictl_json_v(h, why, ap);
	va_end(ap);
	return j;
}

json_t *
harness_runs(struct harness *h)
{
	json_t *j = harness_cictl_json(h, "runs", "--json", NULL);
	char *text;

	if (!json_is_array(j)) {
		text = harness_json_text(j);
		harness_fail(h, "`cictl runs --json` is not an array: %.2000s",
		    text);
	}
	return j;
}

/* A JSON id (integer or string) as text; caller frees. */
static char *
id_text(struct harness *h, const json_t *id)
{
	if (json_is_integer(id))
		return xasprintf("%lld", (long long)json_integer_value(id));
	if (json_is_string(id))
		return xstrdup(json_string_value(id));
	harness_fail(h, "an id is neither an integer nor a string");
}

json_t *
harness_show(struct harness *h, const json_t *id)
{
	char *s = id_text(h, id);
	json_t *j = harness_cictl_json(h, "show", s, "--json", NULL);

	if (!json_is_object(j) || !json_is_array(json_object_get(j, "jobs")))
		harness_fail(h, "`cictl show %s --json` is not a run with a "
		    "jobs array: %.2000s", s, harness_json_text(j));
	free(s);
	return j;
}

char *
harness_logs(struct harness *h, const json_t *job_id)
{
	struct buf out = { 0 }, err = { 0 };
	char *s = id_text(h, job_id);
	int rc;

	rc = harness_cictl(h, &out, &err, "logs", s, NULL);
	if (rc != 0)
		harness_fail(h, "`cictl logs %s` exited %d: %s", s, rc,
		    err.data);
	buf_free(&err);
	free(s);
	return buf_steal(&out);
}

struct wait_run {
	const char	*sha;
	const char	*path;
	json_t		*found;	/* the completed run */
	char		*last;	/* what was seen last, for the failure */
};

static int
run_done_cb(struct harness *h, void *p)
{
	struct wait_run *w = p;
	json_t *runs, *run;
	char *why = NULL;
	const char *s;
	size_t i;

	runs = try_cictl_json(h, &why, "runs", "--json", NULL);
	free(w->last);
	w->last = NULL;
	if (runs == NULL) {
		w->last = why;
		return 0;
	}
	w->last = harness_json_text(runs);
	json_array_foreach(runs, i, run) {
		if ((s = harness_str(run, "head_sha")) == NULL ||
		    strcmp(s, w->sha) != 0)
			continue;
		if (w->path != NULL && ((s = harness_str(run, "path")) == NULL ||
		    strcmp(s, w->path) != 0))
			continue;
		if ((s = harness_str(run, "status")) != NULL &&
		    strcmp(s, "completed") == 0) {
			w->found = json_incref(run);
			break;
		}
	}
	json_decref(runs);
	return w->found != NULL;
}

json_t *
harness_wait_run_at(struct harness *h, const char *file, int line,
    const char *head_sha, const char *path, int64_t timeout_ms)
{
	struct wait_run w = { head_sha, path, NULL, NULL };
	int64_t t0 = now_ms();
	json_t *run;

	if (!harness_wait_for(h, timeout_ms, run_done_cb, &w))
		harness_fail_at(h, file, line, "no completed run of %s%s%s "
		    "within %lld ms; "
		    "last seen: %.4000s", head_sha, path ? " for " : "",
		    path ? path : "", (long long)(now_ms() - t0),
		    w.last != NULL ? w.last : "(nothing)");
	free(w.last);
	run = harness_show(h, json_object_get(w.found, "id"));
	json_decref(w.found);
	return run;
}

/* ---- JSON helpers ---- */

struct event_wait {
	const char	*event;
	json_t		*found;	/* the completed run */
	char		*last;	/* the runs last seen */
};

static int
event_run_done_cb(struct harness *h, void *p)
{
	struct event_wait *w = p;
	json_t *runs = harness_runs(h), *r;
	const char *s;
	size_t i;

	free(w->last);
	w->last = harness_json_text(runs);
	json_array_foreach(runs, i, r) {
		if ((s = harness_str(r, "event")) != NULL &&
		    strcmp(s, w->event) == 0 && (s = harness_str(r,
		    "status")) != NULL && strcmp(s, "completed") == 0) {
			w->found = harness_show(h, json_object_get(r, "id"));
			break;
		}
	}
	json_decref(runs);
	return w->found != NULL;
}

json_t *
harness_wait_event_run_at(struct harness *h, const char *file, int line,
    const char *event, int64_t timeout_ms)
{
	struct event_wait w = { event, NULL, NULL };

	if (!harness_wait_for(h, timeout_ms, event_run_done_cb, &w))
		harness_fail_at(h, file, line, "no completed %s run within %lld "
		    "ms; runs: %.4000s", event, (long long)timeout_ms,
		    w.last ? w.last : "");
	free(w.last);
	return w.found;
}

char *
harness_job_log(struct harness *h, const json_t *run, const char *name)
{
	return harness_logs(h, json_object_get(harness_job(h, run, name),
	    "id"));
}

const char *
harness_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *
harness_find(const json_t *array, const char *key, const char *value)
{
	json_t *el;
	const char *s;
	size_t i;

	json_array_foreach(array, i, el) {
		if ((s = harness_str(el, key)) != NULL && strcmp(s, value) == 0)
			return el;
	}
	return NULL;
}

json_t *
harness_job(struct harness *h, const json_t *run, const char *name)
{
	json_t *job = harness_find(json_object_get(run, "jobs"), "name", name);

	if (job == NULL)
		harness_fail(h, "run has no job named %s: %.4000s", name,
		    harness_json_text(run));
	return job;
}

json_t *
harness_step(struct harness *h, const json_t *job, const char *name)
{
	json_t *step = harness_find(json_object_get(job, "steps"), "name",
	    name);

	if (step == NULL)
		harness_fail(h, "job has no step named %s: %.4000s", name,
		    harness_json_text(job));
	return step;
}

void
harness_expect_str_at(struct harness *h, const char *file, int line,
    const json_t *obj, const char *what, const char *key, const char *want)
{
	const char *got = harness_str(obj, key);

	if (got == NULL || strcmp(got, want) != 0)
		harness_fail_at(h, file, line, "%s: %s is %s%s%s, expected "
		    "\"%s\"; in %.4000s", what, key, got ? "\"" : "",
		    got ? got : "not a string", got ? "\"" : "", want,
		    harness_json_text(obj));
}

void
harness_expect_contains_at(struct harness *h, const char *file, int line,
    const char *text, const char *what, const char *needle)
{
	if (text == NULL || strstr(text, needle) == NULL)
		harness_fail_at(h, file, line, "%s does not contain \"%s\"; "
		    "it is:\n%.8000s", what, needle, text ? text : "(null)");
}

int
harness_healthy_cb(struct harness *h, void *unused)
{
	struct harness_resp r;
	int ok;

	(void)unused;
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	ok = r.status == 200;
	harness_resp_free(&r);
	return ok;
}
