/*
 * spawn: see spawn.h.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawn.h"
#include "util.h"

extern char **environ;

#define SPAWN_STACK	(64 * 1024)	/* the child's, until it execs */

/*
 * The child's code runs on a stack the sanitizers did not make, in memory
 * it shares with the parent: left uninstrumented (their shadow and stack
 * bookkeeping are the parent's).
 */
#define SPAWN_CHILD_CODE	__attribute__((no_sanitize("address", \
	"undefined")))

/* What the child reports through the exec pipe when it cannot start. */
enum spawn_stage {
	SPAWN_STAGE_GROUP = 1,
	SPAWN_STAGE_USER,
	SPAWN_STAGE_FDS,
	SPAWN_STAGE_DIR,
	SPAWN_STAGE_EXEC,
	SPAWN_STAGE_CGROUP,
};

struct spawn_failure {
	int	stage;
	int	error;
};

static void __attribute__((noreturn)) SPAWN_CHILD_CODE
spawn_child_fail(int fd, enum spawn_stage stage)
{
	struct spawn_failure f;

	f.stage = stage;
	f.error = errno;
	(void)!write(fd, &f, sizeof f);
	_exit(127);
}

/* Where a standard descriptor comes from: -1 is /dev/null. */
static int SPAWN_CHILD_CODE
spawn_child_fd(int want, int target, int nullfd)
{
	int from = want == -1 ? nullfd : want;

	if (from == target)
		return fcntl(target, F_SETFD, 0);	/* keep it across exec */
	return dup2(from, target) == -1 ? -1 : 0;
}

/* Between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn)) SPAWN_CHILD_CODE
spawn_child(const struct spawn_spec *s, int failfd, const sigset_t *mask)
{
	struct sigaction sa;
	sigset_t none;
	int sig, nullfd, out, cg;

	/*
	 * Every signal is blocked (spawn_start).  A handler of the parent's
	 * must not run here, in the parent's memory: back to the default
	 * before any is let through (the ignored stay ignored, as a fork
	 * would keep them).
	 */
	for (sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
			sa.sa_handler = SIG_DFL;
			sa.sa_flags = 0;
			(void)sigaction(sig, &sa, NULL);
		}

	/* Before setuid: joining a cgroup is the worker's right. */
	if (s->cgroup_procs != NULL) {
		if ((cg = open(s->cgroup_procs, O_WRONLY | O_CLOEXEC)) == -1 ||
		    write(cg, "0", 1) != 1)
			spawn_child_fail(failfd, SPAWN_STAGE_CGROUP);
		close(cg);
	}
	if (s->group == 2 && setsid() == -1)
		spawn_child_fail(failfd, SPAWN_STAGE_GROUP);
	if (s->group == 1 && setpgid(0, 0) == -1)
		spawn_child_fail(failfd, SPAWN_STAGE_GROUP);
	/* First: nothing below runs with privileges it was told to drop. */
	/*
	 * Raw system calls: glibc's wrappers would broadcast the change to
	 * every thread of the process they think they are in, which shares
	 * this child's memory (spawn_start) but is the parent.
	 */
	if (s->as_user && (syscall(SYS_setgroups, 0, NULL) == -1 ||
	    syscall(SYS_setgid, s->gid) == -1 ||
	    syscall(SYS_setuid, s->uid) == -1))
		spawn_child_fail(failfd, SPAWN_STAGE_USER);
	/* After setuid: a credential change clears it. */
	if (s->pdeathsig != 0)
		(void)prctl(PR_SET_PDEATHSIG, s->pdeathsig);
	if (s->reset_signals) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		for (sig = 1; sig < NSIG; sig++)
			(void)sigaction(sig, &sa, NULL);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
	} else
		(void)sigprocmask(SIG_SETMASK, mask, NULL);
	if ((nullfd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		spawn_child_fail(failfd, SPAWN_STAGE_FDS);
	/* Move the caller's descriptors above 2 first: no dup2 clobbers one. */
	out = s->fd_out;
	if (out >= 0 && out <= 2 && (out = fcntl(out, F_DUPFD_CLOEXEC, 3)) == -1)
		spawn_child_fail(failfd, SPAWN_STAGE_FDS);
	if (spawn_child_fd(s->fd_in, 0, nullfd) == -1 ||
	    spawn_child_fd(out, 1, nullfd) == -1 ||
	    spawn_child_fd(s->fd_err == -2 ? out : s->fd_err, 2, nullfd) == -1)
		spawn_child_fail(failfd, SPAWN_STAGE_FDS);
	if (s->dir != NULL && chdir(s->dir) == -1)
		spawn_child_fail(failfd, SPAWN_STAGE_DIR);
#if defined(SYS_close_range)
	/* No descriptor of ours (sockets, spools, logs) leaks into it. */
	(void)syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
#endif
	execve(s->argv[0], s->argv, s->envp != NULL ? s->envp : environ);
	spawn_child_fail(failfd, SPAWN_STAGE_EXEC);
}

struct spawn_clone {
	const struct spawn_spec	*s;
	int			 failfd;
	sigset_t		 mask;		/* the caller's, restored */
};

static int SPAWN_CHILD_CODE
spawn_clone_child(void *arg)
{
	struct spawn_clone *c = arg;

	spawn_child(c->s, c->failfd, &c->mask);
}

pid_t
spawn_start(const struct spawn_spec *s, char *err, size_t errsz)
{
	struct spawn_failure f;
	struct spawn_clone c;
	sigset_t all;
	/*
	 * The child's stack until it execs, in our frame: we are suspended
	 * meanwhile (CLONE_VFORK), and it stays within this thread's stack
	 * for the sanitizers.
	 */
	_Alignas(16) char stack[SPAWN_STACK];
	int fds[2], saved;
	ssize_t n;
	pid_t pid;

	if (s->argv == NULL || s->argv[0] == NULL || s->argv[0][0] != '/') {
		snprintf(err, errsz, "spawn: \"%s\" is not a full path",
		    s->argv != NULL && s->argv[0] != NULL ? s->argv[0] : "");
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		return -1;
	}
	/*
	 * The child shares our memory until it execs (as posix_spawn does)
	 * instead of a fork's copy: a fork write-protects every page of this
	 * process, and each page written afterwards faults to be copied or
	 * reclaimed, which cost a worker more than the step's shell did
	 * (bench/matrix.sh).  Signals stay blocked until the child has reset
	 * our handlers.
	 */
	c.s = s;
	c.failfd = fds[1];
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &c.mask);
	pid = clone(spawn_clone_child, stack + sizeof stack,
	    CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &c.mask, NULL);
	if (pid == -1) {
		snprintf(err, errsz, "starting %s: %s", s->argv[0],
		    strerror(saved));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	close(fds[1]);
	/* EOF: the exec happened (the pipe is close-on-exec). */
	do
		n = read(fds[0], &f, sizeof f);
	while (n == -1 && errno == EINTR);
	close(fds[0]);
	if (n != (ssize_t)sizeof f)
		return pid;
	(void)spawn_wait(pid);
	switch (f.stage) {
	case SPAWN_STAGE_GROUP:
		snprintf(err, errsz, "new process group for %s: %s",
		    s->argv[0], strerror(f.error));
		break;
	case SPAWN_STAGE_USER:
		snprintf(err, errsz, "switching to uid %ld: %s", (long)s->uid,
		    strerror(f.error));
		break;
	case SPAWN_STAGE_FDS:
		snprintf(err, errsz, "standard descriptors for %s: %s",
		    s->argv[0], strerror(f.error));
		break;
	case SPAWN_STAGE_CGROUP:
		snprintf(err, errsz, "joining cgroup %s: %s", s->cgroup_procs,
		    strerror(f.error));
		break;
	case SPAWN_STAGE_DIR:
		snprintf(err, errsz, "working directory '%s': %s", s->dir,
		    strerror(f.error));
		break;
	default:
		snprintf(err, errsz, "exec %s: %s", s->argv[0],
		    strerror(f.error));
		break;
	}
	return -1;
}

int
spawn_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return status;
}

int
spawn_capture(const struct spawn_spec *spec, char *out, size_t outsz,
    int64_t timeout_ms, char *err, size_t errsz)
{
	struct spawn_spec s = *spec;
	int64_t deadline = now_ms() + timeout_ms;
	struct pollfd pfd;
	char sink[4096];
	size_t got = 0;
	int fds[2], status, timed_out = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		return -1;
	}
	s.fd_out = fds[1];
	if (s.group == 0)
		s.group = 1;
	pid = spawn_start(&s, err, errsz);
	close(fds[1]);
	if (pid == -1) {
		close(fds[0]);
		return -1;
	}
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	for (;;) {
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			timed_out = r == 0;
			break;
		}
		if (got + 1 < outsz)
			n = read(fds[0], out + got, outsz - 1 - got);
		else
			n = read(fds[0], sink, sizeof sink);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got + 1 < outsz)
			got += (size_t)n;
	}
	close(fds[0]);
	if (outsz > 0)
		out[got] = '\0';
	/* Whatever it left behind, and itself when the time was up. */
	if (timed_out)
		(void)kill(-pid, SIGKILL);
	status = spawn_wait(pid);
	(void)kill(-pid, SIGKILL);
	if (timed_out) {
		snprintf(err, errsz, "%s did not finish within %lld ms",
		    s.argv[0], (long long)timeout_ms);
		return -1;
	}
	return status;
}

char *
spawn_path_find(const char *program, const char *path)
{
	const char *p, *end;
	struct stat st;
	char *cand;

	if (strchr(program, '/') != NULL) {
		if (stat(program, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(program, X_OK) == 0)
			return xstrdup(program);
		return NULL;
	}
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = end + 1) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		cand = end == p ? xasprintf("./%s", program) :
		    xasprintf("%.*s/%s", (int)(end - p), p, program);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (*end == '\0')
			return NULL;
	}
}

char **
spawn_env_with(char *const *envp, const char *name, const char *value)
{
	size_t n = 0, i, j = 0, len = strlen(name);
	char **out;

	while (envp != NULL && envp[n] != NULL)
		n++;
	out = xcalloc(n + 2, sizeof *out);
	for (i = 0; i < n; i++) {
		if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
			continue;
		out[j++] = xstrdup(envp[i]);
	}
	out[j++] = xasprintf("%s=%s", name, value);
	out[j] = NULL;
	return out;
}

void
spawn_env_free(char **envp)
{
	size_t i;

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}

void
spawn_status_text(int status, char *buf, size_t bufsz)
{
	if (status == -1)
		snprintf(buf, bufsz, "not waited for");
	else if (WIFEXITED(status))
		snprintf(buf, bufsz, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, bufsz, "signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, bufsz, "wait status %#x", (unsigned)status);
}
