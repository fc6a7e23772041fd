/*
 * actions/setup-python: select a Python interpreter on the host, or
 * download one into the tool cache as GitHub's action does on a
 * self-hosted runner (pyfetch.c), put it first on PATH for the rest of the
 * job, and set the action's outputs and environment as the real action
 * does (python-version, python-path, pythonLocation, ...).  It reads and
 * runs what steps may have written, so with [workers] run_as it runs as
 * that account (isolate.c).
 *
 * Candidates: the GitHub tool-cache layout under $RUNNER_TOOL_CACHE and
 * /opt/hostedtoolcache, pyenv versions ($PYENV_ROOT, ~/.pyenv), and
 * pythonX.Y in /usr/local/bin and /usr/bin.  "3.12" picks the newest 3.12.x,
 * "3.12.1" exactly that, "3.x" the newest 3; the highest match wins.
 * The chosen interpreter is linked as python, python3 and pythonX.Y into a
 * per-job directory, because a distribution's /usr/bin has no "python".
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions.h"
#include "spawn.h"
#include "util.h"

#define SP_MAX_CANDIDATES	256
#define SP_PROBE_MS		5000	/* per candidate interpreter */

struct sp_python {
	char	*path;		/* the interpreter (resolved) */
	int	 v[3];		/* major, minor, patch */
};

struct sp_found {
	struct sp_python	 v[SP_MAX_CANDIDATES];
	size_t			 n;
};

static const char *
sp_getenv(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/*
 * Ask the interpreter its version (robust against odd directory names).
 * Candidates can come from the job's own environment (PYENV_ROOT, HOME),
 * so the probe is bounded: its own process group, SP_PROBE_MS in all,
 * then the whole group is killed.
 */
static int
sp_version(const char *path, int v[3])
{
	char *argv[] = { (char *)path, (char *)"-c", (char *)"import sys; "
	    "print('%d %d %d' % sys.version_info[:3])", NULL };
	struct spawn_spec s;
	char out[128], why[256];
	int status;

	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.fd_in = -1;
	s.fd_err = -1;
	s.group = 1;
	status = spawn_capture(&s, out, sizeof out, SP_PROBE_MS, why,
	    sizeof why);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return sscanf(out, "%d %d %d", &v[0], &v[1], &v[2]) == 3 ? 0 : -1;
}

static void
sp_consider(struct sp_found *f, const char *path)
{
	char real[PATH_MAX];
	size_t i;

	if (f->n >= SP_MAX_CANDIDATES || access(path, X_OK) == -1 ||
	    realpath(path, real) == NULL)
		return;
	for (i = 0; i < f->n; i++)
		if (strcmp(f->v[i].path, real) == 0)
			return;
	if (sp_version(real, f->v[f->n].v) == -1)
		return;
	f->v[f->n++].path = xstrdup(real);
}

/* Every <root>/<entry><suffix> that exists. */
static void
sp_scan(struct sp_found *f, const char *root, const char *suffix)
{
	struct dirent *de;
	DIR *d;

	if (root == NULL || (d = opendir(root)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s%s", root, de->d_name, suffix);
		sp_consider(f, p);
		free(p);
	}
	closedir(d);
}

/* pythonX.Y names in a bin directory. */
static void
sp_scan_bin(struct sp_found *f, const char *dir)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		char *p;

		if (strncmp(n, "python3.", 8) != 0 ||
		    strspn(n + 8, "0123456789") != strlen(n + 8) ||
		    n[8] == '\0')
			continue;
		p = xasprintf("%s/%s", dir, n);
		sp_consider(f, p);
		free(p);
	}
	closedir(d);
}

/* Parse "3", "3.12", "3.12.1", "3.x", "3.12.x"; -1 marks "any". */
static int
sp_parse_spec(const char *spec, int want[3])
{
	const char *p = spec;
	int i;

	want[0] = want[1] = want[2] = -1;
	for (i = 0; i < 3 && *p != '\0'; i++) {
		if (*p == 'x' || *p == '*') {
			p++;
		} else {
			char *end;
			long v = strtol(p, &end, 10);

			if (end == p || v < 0 || v > 1000)
				return -1;
			want[i] = (int)v;
			p = end;
		}
		if (*p == '.')
			p++;
		else if (*p != '\0')
			return -1;
	}
	return *p == '\0' && want[0] != -1 ? 0 : -1;
}

static int
sp_newer(const int a[3], const int b[3])
{
	int i;

	for (i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return 0;
}

static void
sp_link(const char *target, const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);

	unlink(p);
	if (symlink(target, p) == -1) {
		/* Best effort: the pythonX.Y name is the one that matters. */
	}
	free(p);
}

/* The newest candidate matching want, or NULL. */
static const struct sp_python *
sp_best(const struct sp_found *f, const int want[3])
{
	const struct sp_python *best = NULL;
	size_t i;

	for (i = 0; i < f->n; i++) {
		const struct sp_python *c = &f->v[i];

		if ((want[0] != -1 && c->v[0] != want[0]) ||
		    (want[1] != -1 && c->v[1] != want[1]) ||
		    (want[2] != -1 && c->v[2] != want[2]))
			continue;
		if (best == NULL || sp_newer(c->v, best->v))
			best = c;
	}
	return best;
}

int
action_setup_python(const struct action_env *env, char *err, size_t errsz)
{
	const char *spec = wf_map_get(env->with, "python-version");
	const char *home = sp_getenv(env->envp, "HOME");
	const char *pyenv = sp_getenv(env->envp, "PYENV_ROOT");
	const char *cache = sp_getenv(env->envp, "RUNNER_TOOL_CACHE");
	struct sp_found *f = xcalloc(1, sizeof *f);
	const struct sp_python *best = NULL;
	char ver[64], *bindir = NULL, *root = NULL, *p, line[512], why[1024];
	char tail[1400];
	struct buf searched = { 0 };
	int want[3], rc = -1, downloaded = 0;
	size_t i;

	if (spec == NULL || spec[0] == '\0') {
		snprintf(err, errsz, "actions/setup-python: input "
		    "\"python-version\" is required by kiln (it cannot read "
		    ".python-version files yet)");
		goto out;
	}
	if (sp_parse_spec(spec, want) == -1) {
		snprintf(err, errsz, "actions/setup-python: python-version "
		    "\"%s\" is not a version kiln understands (3, 3.12, 3.12.1, "
		    "3.x)", spec);
		goto out;
	}
	/* The runner's tool cache, and GitHub's usual place for it. */
	if (cache == NULL)
		cache = env->tool_cache;
	if (cache != NULL) {
		p = xasprintf("%s/Python", cache);
		sp_scan(f, p, "/x64/bin/python3");
		buf_printf(&searched, "%s/*/x64", p);
		free(p);
	}
	sp_scan(f, "/opt/hostedtoolcache/Python", "/x64/bin/python3");
	buf_printf(&searched, ", /opt/hostedtoolcache/Python/*/x64");
	if (pyenv != NULL) {
		p = xasprintf("%s/versions", pyenv);
		sp_scan(f, p, "/bin/python3");
		buf_printf(&searched, ", %s/*", p);
		free(p);
	}
	if (home != NULL) {
		p = xasprintf("%s/.pyenv/versions", home);
		sp_scan(f, p, "/bin/python3");
		buf_printf(&searched, ", %s/*", p);
		free(p);
	}
	sp_scan_bin(f, "/usr/local/bin");
	sp_scan_bin(f, "/usr/bin");
	buf_printf(&searched, ", /usr/local/bin/python3.*, /usr/bin/python3.*");

	if ((best = sp_best(f, want)) == NULL && cache != NULL &&
	    env->versions_url != NULL && env->versions_url[0] != '\0') {
		/* What GitHub's action does on a self-hosted runner. */
		if (pyfetch_install(env, cache, want, ver, sizeof ver, why,
		    sizeof why) == 0) {
			p = xasprintf("%s/Python", cache);
			sp_scan(f, p, "/x64/bin/python3");
			free(p);
			if ((best = sp_best(f, want)) == NULL)
				snprintf(why, sizeof why, "Python %s was "
				    "installed into %s/Python, but its "
				    "x64/bin/python3 does not answer as that "
				    "version", ver, cache);
		}
		downloaded = 1;
	}
	if (best == NULL) {
		struct buf b = { 0 };

		for (i = 0; i < f->n; i++)
			buf_printf(&b, "%s%d.%d.%d", i ? ", " : "",
			    f->v[i].v[0], f->v[i].v[1], f->v[i].v[2]);
		if (downloaded)
			snprintf(tail, sizeof tail, "downloading it with the "
			    "manifest %s failed: %s", env->versions_url, why);
		else
			snprintf(tail, sizeof tail, "kiln does not download "
			    "Python: [actions] python_versions_url is empty");
		snprintf(err, errsz, "actions/setup-python: version %s was not "
		    "found on this runner; searched %s (installed: %s); %s. "
		    "Provide it with `pyenv install %s`, or unpack a build into "
		    "%s/Python/<version>/x64 (GitHub's tool-cache layout), or "
		    "set [actions] python_versions_url to a reachable manifest",
		    spec, searched.data, b.len ? b.data : "none", tail, spec,
		    cache != NULL ? cache : "$RUNNER_TOOL_CACHE");
		buf_free(&b);
		goto out;
	}
	snprintf(ver, sizeof ver, "%d.%d.%d", best->v[0], best->v[1],
	    best->v[2]);
	bindir = xasprintf("%s/_setup_python/%s/bin", env->tmp, ver);
	if (mkdir_p(bindir, 0755) == -1) {
		snprintf(err, errsz, "actions/setup-python: creating %s: %s",
		    bindir, strerror(errno));
		goto out;
	}
	p = xasprintf("python%d.%d", best->v[0], best->v[1]);
	sp_link(best->path, bindir, p);
	free(p);
	sp_link(best->path, bindir, "python3");
	sp_link(best->path, bindir, "python");
	/* The interpreter's own bin (pip, tools) after the links. */
	root = xstrdup(best->path);
	if ((p = strrchr(root, '/')) != NULL)
		*p = '\0';
	env->add_path(env->log_arg, root);
	env->add_path(env->log_arg, bindir);
	if ((p = strrchr(root, '/')) != NULL && strcmp(p, "/bin") == 0)
		*p = '\0';
	snprintf(line, sizeof line, "Using Python %s from %s\n", ver,
	    best->path);
	env->log(env->log_arg, line);
	env->set_output(env->log_arg, "python-version", ver);
	p = xasprintf("%s/python", bindir);
	env->set_output(env->log_arg, "python-path", p);
	free(p);
	env->set_output(env->log_arg, "cache-hit", "false");
	env->set_env(env->log_arg, "pythonLocation", root);
	env->set_env(env->log_arg, "Python_ROOT_DIR", root);
	env->set_env(env->log_arg, "Python3_ROOT_DIR", root);
	p = xasprintf("%s/lib/pkgconfig", root);
	env->set_env(env->log_arg, "PKG_CONFIG_PATH", p);
	free(p);
	rc = 0;
out:
	for (i = 0; i < f->n; i++)
		free(f->v[i].path);
	free(f);
	buf_free(&searched);
	free(bindir);
	free(root);
	return rc;
}
