/*
 * isolate: a built-in action run as the steps' account ([workers] run_as)
 * in a child, never with the worker's privileges.
 *
 * Built-in actions read and execute what steps may have written: the tool
 * cache, the step's HOME and PYENV_ROOT (setup-python probes interpreters
 * there), the workspace (where a step may have left symbolic links).  So
 * the worker (root) does only what needs it -- an action's prepare(),
 * which touches the worker's own mirror and job directory (actions/
 * checkout is nothing else: the mirror is not the steps' to read) -- and
 * runs the action itself as `kiln-worker --action-child` under run_as
 * through spawn_start().  The request goes to the child's stdin as one
 * JSON object; the effects come back on its stdout, one JSON array a line:
 *
 *   ["log", text]  ["path", dir]  ["env", name, value]
 *   ["output", name, value]  ["done", 0 | -1, error]
 *
 * Any other line (a library writing to stderr) is copied to the log.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "actions.h"
#include "spawn.h"
#include "util.h"

#define ISOLATE_REQUEST_MAX	(64 * 1024 * 1024)
#define ISOLATE_LINE_MAX	(1024 * 1024)
#define ISOLATE_TIMEOUT_MS	(60LL * 60 * 1000)	/* a download, at most */
#define ISOLATE_TICK_MS		1000	/* struct action_tick's "once a second" */

static json_t *
isolate_str(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
isolate_request(const struct action_env *env)
{
	json_t *req = json_object(), *with = json_object(), *envp = json_array();
	size_t i;

	for (i = 0; i < env->with->n; i++)
		json_object_set_new(with, env->with->v[i].key,
		    isolate_str(env->with->v[i].value));
	for (i = 0; env->envp != NULL && env->envp[i] != NULL; i++)
		json_array_append_new(envp, json_string(env->envp[i]));
	json_object_set_new(req, "uses", isolate_str(env->uses));
	json_object_set_new(req, "with", with);
	json_object_set_new(req, "mirror", isolate_str(env->mirror));
	json_object_set_new(req, "clone_url", isolate_str(env->clone_url));
	json_object_set_new(req, "sha", isolate_str(env->sha));
	json_object_set_new(req, "ref", isolate_str(env->ref));
	json_object_set_new(req, "workspace", isolate_str(env->workspace));
	json_object_set_new(req, "tmp", isolate_str(env->tmp));
	json_object_set_new(req, "tool_cache", isolate_str(env->tool_cache));
	json_object_set_new(req, "versions_url",
	    isolate_str(env->versions_url));
	json_object_set_new(req, "envp", envp);
	return req;
}

/* One line from the child; *done set by its last word. */
static void
isolate_line(const struct action_env *env, char *line, int *done,
    char *err, size_t errsz)
{
	json_t *a = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	const char *kind = json_string_value(json_array_get(a, 0));
	const char *x = json_string_value(json_array_get(a, 1));
	const char *y = json_string_value(json_array_get(a, 2));

	if (kind == NULL) {
		env->log(env->log_arg, line);
		env->log(env->log_arg, "\n");
	} else if (strcmp(kind, "log") == 0 && x != NULL) {
		env->log(env->log_arg, x);
	} else if (strcmp(kind, "path") == 0 && x != NULL) {
		env->add_path(env->log_arg, x);
	} else if (strcmp(kind, "env") == 0 && x != NULL && y != NULL) {
		env->set_env(env->log_arg, x, y);
	} else if (strcmp(kind, "output") == 0 && x != NULL && y != NULL) {
		env->set_output(env->log_arg, x, y);
	} else if (strcmp(kind, "done") == 0) {
		*done = json_integer_value(json_array_get(a, 1)) == 0 ? 1 : -1;
		if (*done == -1)
			snprintf(err, errsz, "%s", y != NULL ? y :
			    "the action failed");
	}
	json_decref(a);
}

int
action_isolated(const struct action_def *def, const struct action_env *env,
    const struct action_user *u, char *err, size_t errsz)
{
	char *argv[] = { (char *)u->program, (char *)"--action-child", NULL };
	struct spawn_spec s;
	struct buf line = { 0 };
	json_t *req;
	char *text, chunk[8192];
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, done = 0, status;
	int64_t deadline = now_ms() + ISOLATE_TIMEOUT_MS;
	size_t len, off = 0, i;
	ssize_t n;
	pid_t pid;

	(void)def;
	req = isolate_request(env);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		goto fail;
	}
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.envp = env->envp;
	s.dir = env->workspace;
	s.fd_in = in[0];
	s.fd_out = out[1];
	s.fd_err = -2;
	s.group = 1;
	s.as_user = 1;
	s.uid = u->uid;
	s.gid = u->gid;
	s.reset_signals = 1;
	s.cgroup_procs = u->cgroup_procs;
	if ((pid = spawn_start(&s, err, errsz)) == -1)
		goto fail;
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	/* The child reads all of its request before it writes a line. */
	len = strlen(text);
	while (off < len) {
		n = write(in[1], text + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(in[1]);
	in[1] = -1;
	for (;;) {
		struct pollfd pfd = { out[0], POLLIN, 0 };
		int64_t left = deadline - now_ms();

		if (left <= 0 || poll(&pfd, 1, (int)(left > ISOLATE_TICK_MS ?
		    ISOLATE_TICK_MS : left)) == -1) {
			if (errno == EINTR && left > 0)
				continue;
			break;
		}
		if (pfd.revents == 0) {
			if (env->tick.fn != NULL && env->tick.fn(env->tick.arg)) {
				snprintf(err, errsz, "%s: stopped, the job was "
				    "cancelled", env->uses);
				done = -1;
				break;
			}
			continue;
		}
		n = read(out[0], chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < (size_t)n; i++) {
			if (chunk[i] != '\n') {
				if (line.len < ISOLATE_LINE_MAX)
					buf_add_char(&line, chunk[i]);
				continue;
			}
			if (line.len > 0)
				isolate_line(env, line.data, &done, err, errsz);
			buf_clear(&line);
		}
	}
	if (line.len > 0)
		isolate_line(env, line.data, &done, err, errsz);
	kill(-pid, SIGKILL);	/* what it left behind, or itself if late */
	status = spawn_wait(pid);
	buf_free(&line);
	close(out[0]);
	free(text);
	if (done == 1)
		return 0;
	if (done == 0) {
		char why[128];

		spawn_status_text(status, why, sizeof why);
		snprintf(err, errsz, "%s: its child (as uid %ld) ended without "
		    "an answer, %s", env->uses, (long)u->uid, why);
	}
	return -1;
fail:
	for (i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
	}
	free(text);
	return -1;
}

/* ---- the child: kiln-worker --action-child ---- */

static void
child_emit(json_t *a)
{
	char *text = json_dumps(a, JSON_COMPACT);

	if (text != NULL) {
		fputs(text, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	free(text);
	json_decref(a);
}

static void
child_log(void *arg, const char *text)
{
	child_emit(json_pack("[ss]", "log", text));
}

static void
child_path(void *arg, const char *dir)
{
	child_emit(json_pack("[ss]", "path", dir));
}

static void
child_env(void *arg, const char *name, const char *value)
{
	child_emit(json_pack("[sss]", "env", name, value));
}

static void
child_output(void *arg, const char *name, const char *value)
{
	child_emit(json_pack("[sss]", "output", name, value));
}

static const char *
child_str(const json_t *req, const char *key)
{
	return json_string_value(json_object_get(req, key));
}

int
action_child_main(void)
{
	struct buf in = { 0 };
	struct action_env env;
	struct wf_map with;
	const struct action_def *def;
	json_t *req, *v, *envp;
	const char *key;
	char chunk[8192], err[2048], **ev = NULL;
	size_t i;
	ssize_t n;
	int rc = -1;

	err[0] = '\0';
	memset(&with, 0, sizeof with);
	while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || in.len + (size_t)n > ISOLATE_REQUEST_MAX) {
			snprintf(err, sizeof err, "reading the request: %s",
			    n == -1 ? strerror(errno) : "too long");
			goto out;
		}
		buf_add(&in, chunk, (size_t)n);
	}
	req = json_loadb(in.data != NULL ? in.data : "", in.len, 0, NULL);
	if (!json_is_object(req) || (def = action_find(child_str(req,
	    "uses") ? child_str(req, "uses") : "")) == NULL ||
	    def->run == NULL) {
		snprintf(err, sizeof err, "a request for no built-in action");
		json_decref(req);
		goto out;
	}
	with.v = xcalloc(json_object_size(json_object_get(req, "with")) + 1,
	    sizeof *with.v);
	json_object_foreach(json_object_get(req, "with"), key, v) {
		with.v[with.n].key = (char *)key;
		with.v[with.n].value = (char *)(json_string_value(v) ?
		    json_string_value(v) : "");
		with.n++;
	}
	envp = json_object_get(req, "envp");
	ev = xcalloc(json_array_size(envp) + 1, sizeof *ev);
	for (i = 0; i < json_array_size(envp); i++)
		ev[i] = (char *)json_string_value(json_array_get(envp, i));
	memset(&env, 0, sizeof env);
	env.uses = child_str(req, "uses");
	env.with = &with;
	env.mirror = child_str(req, "mirror");
	env.clone_url = child_str(req, "clone_url");
	env.sha = child_str(req, "sha");
	env.ref = child_str(req, "ref");
	env.workspace = child_str(req, "workspace");
	env.tmp = child_str(req, "tmp");
	env.tool_cache = child_str(req, "tool_cache");
	env.versions_url = child_str(req, "versions_url");
	env.envp = ev;
	env.log = child_log;
	env.add_path = child_path;
	env.set_env = child_env;
	env.set_output = child_output;
	rc = def->run(&env, err, sizeof err);
	free(with.v);
	free(ev);
	json_decref(req);
out:
	buf_free(&in);
	child_emit(json_pack("[sis]", "done", rc == 0 ? 0 : -1, err));
	return rc == 0 ? 0 : 1;
}

/*
 * A built-in action's work on the steps' files (archiving, extracting)
 * in a forked child that drops to the steps' account before fn runs, so
 * links a step planted are followed with its rights, not the worker's.
 */
int
action_fork_as(int as_user, uid_t uid, gid_t gid,
    const struct action_tick *tick,
    int (*fn)(void *, char *, size_t), void *arg, const char *what,
    char *err, size_t errsz)
{
	char msg[2048];
	int pfd[2], status, r, stopped = 0;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errsz, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		msg[0] = '\0';
		if (as_user && (setgroups(0, NULL) == -1 ||
		    setgid(gid) == -1 || setuid(uid) == -1)) {
			snprintf(msg, sizeof msg, "dropping privileges: %s",
			    strerror(errno));
			r = 1;
		} else
			r = fn(arg, msg, sizeof msg);
		(void)!write(pfd[1], msg, strlen(msg));
		_exit(r == 0 ? 0 : r == 2 ? 2 : 1);
	}
	close(pfd[1]);
	/* The child writes its message as it ends: until then, tick. */
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		int ready = poll(&p, 1, ISOLATE_TICK_MS);

		if (ready == -1 && errno != EINTR)
			break;
		if (ready == 0) {
			if (!stopped && tick != NULL && tick->fn != NULL &&
			    tick->fn(tick->arg) != 0) {
				kill(pid, SIGKILL);
				stopped = 1;
			}
			continue;
		}
		if (ready <= 0)
			continue;
		if (got + 1 >= errsz) {
			/* Full: only wait for the end (EOF) now. */
			char sink[256];

			if ((n = read(pfd[0], sink, sizeof sink)) == 0)
				break;
		} else if ((n = read(pfd[0], err + got, errsz - got - 1)) == 0)
			break;
		else if (n > 0)
			got += (size_t)n;
		if (n == -1 && errno != EINTR)
			break;
	}
	if (errsz > 0)
		err[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			snprintf(err, errsz, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (stopped) {
		snprintf(err, errsz, "%s: stopped, the job was cancelled", what);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		return 2;
	if (got == 0)
		snprintf(err, errsz, "%s: the child process failed", what);
	return -1;
}
