/*
 * stepexec: run one `run:` step (API in stepexec.h).
 *
 * Shell templates follow reference 5.1 (runner ScriptHandlerHelpers.cs):
 * a bare name picks a built-in template, anything else is a custom
 * template "program args..." that must contain {0}.  The template is split
 * into argv honouring double quotes first and {0} substituted inside each
 * argument afterwards, so a script path with spaces or quotes stays one
 * argument (the runner substitutes first and escapes '"'; for the paths we
 * generate the result is the same).  The program is looked up on the
 * step's own PATH, as the runner does, so a GITHUB_PATH entry can provide
 * the shell.
 *
 * The step runs in a new session (its own process group), so one kill()
 * reaches every process it started that did not leave the group.  After
 * the shell exits, its output pipe is drained until end of file, but for
 * at most STEPEXEC_DRAIN_MS: a background process (`server &`) keeps the
 * pipe open and must not hang the step.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawn.h"
#include "util.h"

#include "stepexec.h"

#define STEPEXEC_POLL_MS	100	/* cancel() polling period */
#define STEPEXEC_DRAIN_MS	500	/* output drain after the shell exits */
#define STEPEXEC_READ_CHUNK	65536
/*
 * The step's output pipe, from the default 64 KiB: a step writing fast
 * blocks less often on the worker's turn to read (bench/log.sh, 100 MiB:
 * zeros 0.28-0.35 -> 0.22-0.25 s, random 0.29-0.31 -> 0.25-0.27 s).
 * Unprivileged pipe-max-size allows it; refused (a user's pipe quota),
 * the default stays.
 */
#define STEPEXEC_PIPE_SIZE	(1024 * 1024)
#define STEPEXEC_MAX_ARGS	1024	/* a docker action's `<engine> run`
					   names each variable */


/* Built-in shells (reference 5.1). */
static const struct {
	const char	*name;
	const char	*template;	/* NULL: not available on this OS */
	const char	*prepend;
	const char	*append;
} stepexec_shells[] = {
	{ "bash", "bash --noprofile --norc -eo pipefail {0}", NULL, NULL },
	{ "sh", "sh -e {0}", NULL, NULL },
	{ "python", "python {0}", NULL, NULL },
	{ "pwsh", "pwsh -command \". '{0}'\"",
	    "$ErrorActionPreference = 'stop'\n",
	    "\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) "
	    "{ exit $LASTEXITCODE }\n" },
	{ "powershell", NULL, NULL, NULL },
	{ "cmd", NULL, NULL, NULL },
};

/* Script file extension by program name (GetScriptFileExtension). */
static const struct {
	const char	*program;
	const char	*ext;
} stepexec_exts[] = {
	{ "bash", ".sh" },
	{ "sh", ".sh" },
	{ "python", ".py" },
	{ "pwsh", ".ps1" },
	{ "powershell", ".ps1" },
	{ "cmd", ".cmd" },
};

/* A parsed command: argv with {0} still in place, and script wrappers. */
struct stepexec_cmd {
	char		*argv[STEPEXEC_MAX_ARGS + 1];
	int		 argc;
	const char	*ext;
	const char	*prepend;
	const char	*append;
	char		*program;	/* resolved path */
	const char	*note;		/* for the step's log, or NULL */
};

static void
cmd_free(struct stepexec_cmd *c)
{
	int i;

	for (i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->program);
	memset(c, 0, sizeof *c);
}

/* Split a template into arguments: blanks separate, "..." groups, \" is '"'. */
static int
cmd_split(struct stepexec_cmd *c, const char *t, char *err, size_t errsz)
{
	struct buf arg = { 0 };
	int quoted = 0, have = 0;

	for (;; t++) {
		if (*t == '\0' || (!quoted && (*t == ' ' || *t == '\t'))) {
			if (have) {
				if (c->argc == STEPEXEC_MAX_ARGS) {
					snprintf(err, errsz, "shell template "
					    "has more than %d arguments",
					    STEPEXEC_MAX_ARGS);
					buf_free(&arg);
					return -1;
				}
				c->argv[c->argc++] = xstrdup(arg.data != NULL ?
				    arg.data : "");
				buf_clear(&arg);
				have = 0;
			}
			if (*t == '\0')
				break;
			continue;
		}
		have = 1;
		if (*t == '\\' && t[1] == '"') {
			buf_add_char(&arg, '"');
			t++;
		} else if (*t == '"')
			quoted = !quoted;
		else
			buf_add_char(&arg, *t);
	}
	buf_free(&arg);
	if (quoted) {
		snprintf(err, errsz, "unbalanced quote in shell template");
		return -1;
	}
	return 0;
}

/* The value of PATH in envp (or our own environment). */
static const char *
env_path(char *const *envp)
{
	size_t i;

	if (envp == NULL)
		return getenv("PATH");
	for (i = 0; envp[i] != NULL; i++) {
		if (strncmp(envp[i], "PATH=", 5) == 0)
			return envp[i] + 5;
	}
	return NULL;
}

/* Turn `shell:` into a command (reference 5.1, steps 1-2). */
static int
cmd_parse(struct stepexec_cmd *c, const char *shell, char *const *envp,
    int contained, char *err, size_t errsz)
{
	const char *path = env_path(envp), *tmpl, *base;
	char *found;
	size_t i;

	memset(c, 0, sizeof *c);
	while (shell != NULL && (*shell == ' ' || *shell == '\t'))
		shell++;
	if ((shell == NULL || *shell == '\0') && contained) {
		/* The image's shell is not known from here; sh always is. */
		tmpl = "sh -e {0}";
	} else if (shell == NULL || *shell == '\0') {
		/* No shell: bash if there is one, without pipefail. */
		found = spawn_path_find("bash", path);
		tmpl = found != NULL ? "bash -e {0}" : "sh -e {0}";
		free(found);
	} else if (strpbrk(shell, " \t") == NULL) {
		tmpl = NULL;
		for (i = 0; i < nitems(stepexec_shells); i++) {
			if (strcmp(shell, stepexec_shells[i].name) == 0)
				break;
		}
		if (i == nitems(stepexec_shells)) {
			snprintf(err, errsz, "unknown shell '%s': Invalid shell "
			    "option. Shell must be a valid built-in (bash, sh, "
			    "cmd, powershell, pwsh) or a format string "
			    "containing '{0}'", shell);
			return -1;
		}
		if (stepexec_shells[i].template == NULL) {
			snprintf(err, errsz, "shell '%s' is only available on "
			    "Windows", shell);
			return -1;
		}
		tmpl = stepexec_shells[i].template;
		c->prepend = stepexec_shells[i].prepend;
		c->append = stepexec_shells[i].append;
	} else {
		if (strstr(shell, "{0}") == NULL) {
			snprintf(err, errsz, "shell '%s': Invalid shell option. "
			    "Shell must be a valid built-in (bash, sh, cmd, "
			    "powershell, pwsh) or a format string containing "
			    "'{0}'", shell);
			return -1;
		}
		tmpl = shell;
	}

	if (cmd_split(c, tmpl, err, errsz) == -1) {
		cmd_free(c);
		return -1;
	}
	if (c->argc == 0) {
		snprintf(err, errsz, "empty shell template");
		cmd_free(c);
		return -1;
	}
	base = strrchr(c->argv[0], '/');
	base = base != NULL ? base + 1 : c->argv[0];
	c->ext = "";
	for (i = 0; i < nitems(stepexec_exts); i++) {
		if (strcmp(base, stepexec_exts[i].program) == 0)
			c->ext = stepexec_exts[i].ext;
	}
	if (contained) {
		/* Looked up by the container's PATH when it runs. */
		c->program = xstrdup(c->argv[0]);
		return 0;
	}
	c->program = spawn_path_find(c->argv[0], path);
	/*
	 * GitHub's runner runs `python`; a distribution without the
	 * unversioned name (Debian's python-is-python3 not installed) still
	 * has python3, which is what such a step means.
	 */
	if (c->program == NULL && strcmp(tmpl, "python {0}") == 0 &&
	    (c->program = spawn_path_find("python3", path)) != NULL) {
		free(c->argv[0]);
		c->argv[0] = xstrdup("python3");
		c->note = "shell: python: there is no `python` on PATH; "
		    "running python3\n";
	}
	if (c->program == NULL) {
		snprintf(err, errsz, "shell program '%s' not found on PATH %s",
		    c->argv[0], path != NULL ? path : "(unset)");
		cmd_free(c);
		return -1;
	}
	return 0;
}

/* A program and its arguments, without a shell or a script. */
static int
cmd_direct(struct stepexec_cmd *c, char *const *argv, char *const *envp,
    char *err, size_t errsz)
{
	const char *path = env_path(envp);

	memset(c, 0, sizeof *c);
	for (; argv[c->argc] != NULL; c->argc++) {
		if (c->argc == STEPEXEC_MAX_ARGS) {
			snprintf(err, errsz, "more than %d arguments",
			    STEPEXEC_MAX_ARGS);
			cmd_free(c);
			return -1;
		}
		c->argv[c->argc] = xstrdup(argv[c->argc]);
	}
	if (c->argc == 0) {
		snprintf(err, errsz, "no program to run");
		return -1;
	}
	if ((c->program = spawn_path_find(c->argv[0], path)) == NULL) {
		snprintf(err, errsz, "program '%s' not found on PATH %s",
		    c->argv[0], path != NULL ? path : "(unset)");
		cmd_free(c);
		return -1;
	}
	return 0;
}

/* Replace every {0} in each argument with the script path. */
static void
cmd_substitute(struct stepexec_cmd *c, const char *script_path)
{
	struct buf b = { 0 };
	const char *p, *q;
	int i;

	for (i = 0; i < c->argc; i++) {
		if (strstr(c->argv[i], "{0}") == NULL)
			continue;
		buf_clear(&b);
		for (p = c->argv[i]; (q = strstr(p, "{0}")) != NULL; p = q + 3) {
			buf_add(&b, p, (size_t)(q - p));
			buf_add_str(&b, script_path);
		}
		buf_add_str(&b, p);
		free(c->argv[i]);
		c->argv[i] = xstrdup(b.data);
	}
	buf_free(&b);
}

/* Write the script to <tmpdir>/<uuid><ext>; returns the path or NULL. */
static char *
script_write(const struct stepexec_spec *spec, const struct stepexec_cmd *c,
    char *err, size_t errsz)
{
	const char *dir = spec->tmpdir;
	unsigned char u[16];
	char hex[33], *path;
	struct buf b = { 0 };
	ssize_t n;
	size_t off;
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = getenv("TMPDIR");
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if (random_bytes(u, sizeof u) == -1) {
		snprintf(err, errsz, "getrandom: %s", strerror(errno));
		return NULL;
	}
	u[6] = (u[6] & 0x0f) | 0x40;	/* a version 4 UUID */
	u[8] = (u[8] & 0x3f) | 0x80;
	hex_encode(u, sizeof u, hex);
	path = xasprintf("%s/%.8s-%.4s-%.4s-%.4s-%.12s%s", dir, hex, hex + 8,
	    hex + 12, hex + 16, hex + 20, c->ext);

	if (c->prepend != NULL)
		buf_add_str(&b, c->prepend);
	buf_add_str(&b, spec->script != NULL ? spec->script : "");
	if (c->append != NULL)
		buf_add_str(&b, c->append);

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errsz, "create script %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	for (off = 0; off < b.len; off += (size_t)n) {
		n = write(fd, b.data + off, b.len - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			snprintf(err, errsz, "write script %s: %s", path,
			    strerror(errno));
			close(fd);
			unlink(path);
			goto fail;
		}
	}
	/* The step's account must be able to read its own script. */
	if (spec->as_user && fchown(fd, spec->uid, spec->gid) == -1) {
		snprintf(err, errsz, "chown script %s: %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		goto fail;
	}
	if (close(fd) == -1) {
		snprintf(err, errsz, "write script %s: %s", path,
		    strerror(errno));
		unlink(path);
		goto fail;
	}
	buf_free(&b);
	return path;
fail:
	buf_free(&b);
	free(path);
	return NULL;
}

static int
pidfd_open_compat(pid_t pid)
{
#if defined(SYS_pidfd_open)
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* Signal the step's process group (or the leader, before setsid ran). */
static void
group_kill(pid_t pid, int sig)
{
	if (kill(-pid, sig) == -1 && errno == ESRCH)
		(void)kill(pid, sig);
}

enum stop_phase {
	STOP_NONE,
	STOP_INT,	/* SIGINT sent, SIGTERM due at next */
	STOP_TERM,	/* SIGTERM sent, SIGKILL due at next */
	STOP_KILL,	/* SIGKILL sent */
};

int
stepexec_run(const struct stepexec_spec *spec,
    void (*sink)(const char *, size_t, void *), void *arg,
    struct stepexec_result *res, char *err, size_t errsz)
{
	struct stepexec_cmd c;
	struct spawn_spec sp;
	struct pollfd pfd[2];
	struct stat st;
	enum stop_phase phase = STOP_NONE;
	int64_t start, now, deadline, next_stop = 0, drain_until = 0, wake;
	int64_t g_int, g_term;
	char *script = NULL, *chunk = NULL, *argv0, **full = NULL;
	size_t np;
	int outp[2] = { -1, -1 }, pidfd = -1;
	int status = 0, leader_done = 0, nfds, i, r, ret = -1;
	ssize_t n;
	pid_t pid, w;

	memset(res, 0, sizeof *res);
	if (spec->argv != NULL) {
		if (cmd_direct(&c, spec->argv, spec->envp, err, errsz) == -1)
			return -1;
	} else if (cmd_parse(&c, spec->shell, spec->envp, spec->prefix != NULL,
	    err, errsz) == -1)
		return -1;
	if (spec->workdir != NULL && stat(spec->workdir, &st) == -1) {
		snprintf(err, errsz, "working directory '%s': %s",
		    spec->workdir, errno == ENOENT ? "does not exist" :
		    strerror(errno));
		goto out;
	}
	if (spec->workdir != NULL && !S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "working directory '%s' is not a "
		    "directory", spec->workdir);
		goto out;
	}
	if (spec->argv == NULL) {
		if ((script = script_write(spec, &c, err, errsz)) == NULL)
			goto out;
		cmd_substitute(&c, script);
	}

	if (pipe2(outp, O_CLOEXEC) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		goto out;
	}
	(void)fcntl(outp[0], F_SETPIPE_SZ, STEPEXEC_PIPE_SIZE);
	/* Own session; never with the worker's privileges when told not to. */
	memset(&sp, 0, sizeof sp);
	sp.argv = c.argv;
	if (spec->prefix != NULL && spec->argv == NULL) {
		/* prefix[0] (the engine, a full path) runs the command. */
		for (np = 0; spec->prefix[np] != NULL; np++)
			;
		full = xcalloc(np + (size_t)c.argc + 1, sizeof *full);
		memcpy(full, spec->prefix, np * sizeof *full);
		memcpy(full + np, c.argv, (size_t)c.argc * sizeof *full);
		sp.argv = full;
	}
	sp.envp = spec->envp;
	sp.dir = spec->workdir;
	sp.fd_in = -1;
	sp.fd_out = outp[1];
	sp.fd_err = -2;
	sp.group = 2;
	/* With a prefix the engine's client is ours; the script, uid's. */
	sp.as_user = spec->as_user && full == NULL;
	sp.uid = spec->uid;
	sp.gid = spec->gid;
	sp.reset_signals = 1;
	sp.cgroup_procs = spec->cgroup_procs;
	argv0 = c.argv[0];
	if (full == NULL)
		c.argv[0] = c.program;
	pid = spawn_start(&sp, err, errsz);
	c.argv[0] = argv0;
	free(full);
	full = NULL;
	close(outp[1]);
	outp[1] = -1;
	if (pid == -1)
		goto out;
	start = now_ms();
	res->pgid = pid;

	if (c.note != NULL && sink != NULL)
		sink(c.note, strlen(c.note), arg);
	(void)fcntl(outp[0], F_SETFL, fcntl(outp[0], F_GETFL) | O_NONBLOCK);
	pidfd = pidfd_open_compat(pid);
	chunk = xmalloc(STEPEXEC_READ_CHUNK);
	deadline = spec->timeout_ms > 0 ? start + spec->timeout_ms : 0;
	g_int = spec->sigint_grace_ms > 0 ? spec->sigint_grace_ms :
	    STEPEXEC_SIGINT_GRACE_MS;
	g_term = spec->sigterm_grace_ms > 0 ? spec->sigterm_grace_ms :
	    STEPEXEC_SIGTERM_GRACE_MS;

	for (;;) {
		now = now_ms();

		/* Is the shell done? */
		if (!leader_done) {
			w = waitpid(pid, &status, WNOHANG);
			if (w == pid) {
				leader_done = 1;
				drain_until = now + STEPEXEC_DRAIN_MS;
				/* Stopping the step stops all of it. */
				if (phase != STOP_NONE)
					group_kill(pid, SIGKILL);
				if (pidfd != -1) {
					close(pidfd);
					pidfd = -1;
				}
			}
		}
		if (leader_done && (outp[0] == -1 || now >= drain_until))
			break;

		/* Timeout, cancellation, escalation. */
		if (!leader_done && phase == STOP_NONE) {
			if (deadline != 0 && now >= deadline)
				res->timed_out = 1;
			else if (spec->cancelled != NULL &&
			    spec->cancelled(arg))
				res->cancelled = 1;
			if (res->timed_out || res->cancelled) {
				group_kill(pid, SIGINT);
				phase = STOP_INT;
				next_stop = now + g_int;
			}
		} else if (!leader_done && now >= next_stop) {
			if (phase == STOP_INT) {
				group_kill(pid, SIGTERM);
				phase = STOP_TERM;
				next_stop = now + g_term;
			} else if (phase == STOP_TERM) {
				group_kill(pid, SIGKILL);
				phase = STOP_KILL;
				next_stop = now + 1000;
			} else
				next_stop = now + 1000;
		}

		/* Sleep until output, the shell's exit or the next deadline. */
		wake = now + (leader_done ? STEPEXEC_DRAIN_MS : 60000);
		if (leader_done && drain_until < wake)
			wake = drain_until;
		if (!leader_done && spec->cancelled != NULL &&
		    phase == STOP_NONE && now + STEPEXEC_POLL_MS < wake)
			wake = now + STEPEXEC_POLL_MS;
		if (!leader_done && deadline != 0 && phase == STOP_NONE &&
		    deadline < wake)
			wake = deadline;
		if (!leader_done && phase != STOP_NONE && next_stop < wake)
			wake = next_stop;
		if (!leader_done && pidfd == -1 && now + 10 < wake)
			wake = now + 10;	/* no pidfd: poll waitpid */
		nfds = 0;
		if (outp[0] != -1) {
			pfd[nfds].fd = outp[0];
			pfd[nfds].events = POLLIN;
			nfds++;
		}
		if (pidfd != -1) {
			pfd[nfds].fd = pidfd;
			pfd[nfds].events = POLLIN;
			nfds++;
		}
		r = poll(pfd, (nfds_t)nfds, wake > now ? (int)(wake - now) : 0);
		if (r == -1 && errno != EINTR) {
			snprintf(err, errsz, "poll: %s", strerror(errno));
			group_kill(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
				;
			goto out;
		}
		if (outp[0] == -1)
			continue;
		/* A bounded number of reads, so cancel checks stay timely. */
		for (i = 0; i < 16; i++) {
			n = read(outp[0], chunk, STEPEXEC_READ_CHUNK);
			if (n > 0) {
				if (sink != NULL)
					sink(chunk, (size_t)n, arg);
				continue;
			}
			if (n == -1 && errno == EINTR)
				continue;
			if (n == 0) {
				close(outp[0]);
				outp[0] = -1;
			}
			break;
		}
	}

	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->signal = WTERMSIG(status);
		res->exit_code = 128 + res->signal;
	}
	ret = 0;
out:
	if (pidfd != -1)
		close(pidfd);
	for (i = 0; i < 2; i++) {
		if (outp[i] != -1)
			close(outp[i]);
	}
	if (script != NULL) {
		unlink(script);
		free(script);
	}
	free(chunk);
	cmd_free(&c);
	return ret;
}
