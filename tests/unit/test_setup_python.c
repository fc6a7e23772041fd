/*
 * actions/setup-python (worker/actions/setup_python.c): interpreter
 * selection from a tool cache, the links it makes, what later steps get.
 * Fake interpreters at versions no host has (3.96, 3.97) keep the real
 * Pythons of the machine out of the answers.
 */
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../worker/actions/setup_python.c"
#include "../../worker/actions/pyfetch.c"
#include "../../worker/actions/archive_dl.c"
#include "harness.h"
#include "pybuild.h"


struct effects {
	struct buf	log;
	char		*paths[8];
	int		 npaths;
	json_t		*env;
	json_t		*outputs;
};

static void
fx_log(void *arg, const char *text)
{
	buf_add_str(&((struct effects *)arg)->log, text);
}

static void
fx_path(void *arg, const char *dir)
{
	struct effects *fx = arg;

	ck_assert_int_lt(fx->npaths, 8);
	fx->paths[fx->npaths++] = xstrdup(dir);
}

static void
fx_env(void *arg, const char *k, const char *v)
{
	json_object_set_new(((struct effects *)arg)->env, k, json_string(v));
}

static void
fx_output(void *arg, const char *k, const char *v)
{
	json_object_set_new(((struct effects *)arg)->outputs, k,
	    json_string(v));
}

static char tmpdir[PATH_MAX];
static const char *versions_url;	/* [actions] python_versions_url */

static void
fake_python(const char *version)
{
	int v[3];
	char *dir, *path;
	FILE *f;

	ck_assert_int_eq(sscanf(version, "%d.%d.%d", &v[0], &v[1], &v[2]), 3);
	dir = xasprintf("%s/cache/Python/%s/x64/bin", tmpdir, version);
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	path = xasprintf("%s/python3", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	/* Answers the action's version probe like a real interpreter. */
	fprintf(f, "#!/bin/sh\necho '%d %d %d'\n", v[0], v[1], v[2]);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
	free(path);
	free(dir);
}

static void
setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln-test-sp.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	fake_python("3.97.1");
	fake_python("3.97.4");
	fake_python("3.96.0");
}

static void
teardown(void)
{
	(void)harness_rm_rf(tmpdir);	/* best effort */
	versions_url = NULL;
}

/* Run the action for python-version; returns its rc, fills fx. */
static int
run(const char *version, struct effects *fx, char *err, size_t errsz)
{
	struct wf_map_entry entry;
	struct wf_map with;
	struct action_env env;
	char *cache = xasprintf("RUNNER_TOOL_CACHE=%s/cache", tmpdir);
	char *envp[] = { cache, "HOME=/nonexistent", NULL };
	int rc;

	memset(fx, 0, sizeof *fx);
	fx->env = json_object();
	fx->outputs = json_object();
	memset(&entry, 0, sizeof entry);
	entry.key = "python-version";
	entry.value = (char *)version;
	memset(&with, 0, sizeof with);
	with.v = &entry;
	with.n = version ? 1 : 0;
	memset(&env, 0, sizeof env);
	env.uses = "actions/setup-python@v5";
	env.with = &with;
	env.tmp = tmpdir;
	env.envp = envp;
	env.versions_url = versions_url;
	env.log = fx_log;
	env.add_path = fx_path;
	env.set_env = fx_env;
	env.set_output = fx_output;
	env.log_arg = fx;
	err[0] = '\0';
	rc = action_setup_python(&env, err, errsz);
	free(cache);
	return rc;
}

static void
fx_free(struct effects *fx)
{
	int i;

	buf_free(&fx->log);
	for (i = 0; i < fx->npaths; i++)
		free(fx->paths[i]);
	json_decref(fx->env);
	json_decref(fx->outputs);
}

static const struct {
	const char	*spec;
	const char	*chosen;	/* NULL: the action fails */
} cases[] = {
	{ "3.97", "3.97.4" },		/* newest patch of the minor */
	{ "3.97.1", "3.97.1" },		/* exact */
	{ "3.97.x", "3.97.4" },
	{ "3.96", "3.96.0" },
	{ "3.95", NULL },		/* not installed */
	{ "4", NULL },
	{ "3.97.2", NULL },
	{ "banana", NULL },
	{ "", NULL },
};

START_TEST(test_selection)
{
	struct effects fx;
	char err[1024], *link, *expect, target[PATH_MAX];
	const char *ver;
	ssize_t n;
	int rc = run(cases[_i].spec, &fx, err, sizeof err);

	if (cases[_i].chosen == NULL) {
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(strstr(err, "setup-python") != NULL, "%s", err);
		ck_assert_int_eq(fx.npaths, 0);
		fx_free(&fx);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", cases[_i].spec, err);
	ver = json_string_value(json_object_get(fx.outputs, "python-version"));
	ck_assert_str_eq(ver, cases[_i].chosen);
	/* The links dir goes on PATH last, so it ends up first. */
	ck_assert_int_eq(fx.npaths, 2);
	expect = xasprintf("%s/_setup_python/%s/bin", tmpdir, ver);
	ck_assert_str_eq(fx.paths[1], expect);
	link = xasprintf("%s/python", expect);
	n = readlink(link, target, sizeof target - 1);
	ck_assert_int_gt(n, 0);
	target[n] = '\0';
	free(expect);
	expect = xasprintf("%s/cache/Python/%s/x64/bin/python3", tmpdir, ver);
	ck_assert_str_eq(target, expect);
	free(link);
	free(expect);
	expect = xasprintf("%s/cache/Python/%s/x64", tmpdir, ver);
	ck_assert_str_eq(json_string_value(json_object_get(fx.env,
	    "pythonLocation")), expect);
	free(expect);
	ck_assert_ptr_nonnull(strstr(fx.log.data, ver));
	fx_free(&fx);
}
END_TEST

START_TEST(test_not_found_lists_installed)
{
	struct effects fx;
	char err[1024];

	ck_assert_int_eq(run("3.95", &fx, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "3.97.4") && strstr(err, "3.96.0") &&
	    strstr(err, "does not download"), "%s", err);
	fx_free(&fx);
}
END_TEST

START_TEST(test_missing_input)
{
	struct effects fx;
	char err[1024];

	ck_assert_int_eq(run(NULL, &fx, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "python-version"));
	fx_free(&fx);
}
END_TEST


/* A candidate that never answers (and keeps its pipe) is given up on. */
START_TEST(test_hanging_candidate_is_bounded)
{
	struct effects fx;
	char err[1024], *dir, *path;
	int64_t t0;
	FILE *f;

	dir = xasprintf("%s/cache/Python/3.94.0/x64/bin", tmpdir);
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	path = xasprintf("%s/python3", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n(sleep 60) &\nsleep 60\n");
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
	t0 = now_ms();
	ck_assert_int_eq(run("3.97", &fx, err, sizeof err), 0);
	ck_assert_int_lt(now_ms() - t0, 20000);
	ck_assert_str_eq(json_string_value(json_object_get(fx.outputs,
	    "python-version")), "3.97.4");
	fx_free(&fx);
	free(path);
	free(dir);
}
END_TEST

/* ---- downloads (pyfetch.c) from a manifest served over loopback ---- */

/*
 * A version no host has is downloaded from the manifest: the newest
 * stable match (3.98.0, not the unstable 3.98.1), checked against its
 * sha256, unpacked, installed by its setup.sh into the tool cache, marked
 * complete -- and the interpreter it leaves runs.
 */
START_TEST(test_download_installs_into_tool_cache)
{
	struct pybuild_server sv;
	struct effects fx;
	char *srv = xasprintf("%s/srv", tmpdir), *sha, *manifest, *url, *p;
	char *r1, *r2, *r3, err[4096], out[256], why[256];
	char *argv[4];
	struct spawn_spec s;
	int status;

	ck_assert_int_eq(mkdir_p(srv, 0755), 0);
	sha = pybuild_make(tmpdir, srv, "3.98.0");
	pybuild_serve(&sv, srv);
	r1 = pybuild_release(sv.port, "3.98.1", 0, NULL);
	r2 = pybuild_release(sv.port, "3.98.0", 1, sha);
	r3 = pybuild_release(sv.port, "3.97.0", 1, NULL);
	manifest = xasprintf("[%s, %s, %s]", r1, r2, r3);
	p = xasprintf("%s/versions-manifest.json", srv);
	harness_write_file(NULL, p, manifest);
	free(p);
	url = xasprintf("http://127.0.0.1:%d/versions-manifest.json", sv.port);
	versions_url = url;

	ck_assert_msg(run("3.98", &fx, err, sizeof err) == 0, "%s\n%s", err,
	    fx.log.data ? fx.log.data : "");
	ck_assert_str_eq(json_string_value(json_object_get(fx.outputs,
	    "python-version")), "3.98.0");
	ck_assert_ptr_nonnull(strstr(fx.log.data, "Downloading Python 3.98.0"));
	ck_assert_ptr_nonnull(strstr(fx.log.data, "Create Python 3.98.0"));
	p = xasprintf("%s/cache/Python/3.98.0/x64.complete", tmpdir);
	ck_assert_int_eq(access(p, F_OK), 0);
	free(p);
	p = xasprintf("%s/cache/Python/3.98.0/x64/python", tmpdir);
	ck_assert_int_eq(access(p, X_OK), 0);
	free(p);
	/* No scratch left in the cache. */
	p = xasprintf("%s/cache", tmpdir);
	{
		DIR *d = opendir(p);
		struct dirent *de;

		ck_assert_ptr_nonnull(d);
		while ((de = readdir(d)) != NULL)
			ck_assert_msg(strncmp(de->d_name, ".kiln-download", 14)
			    != 0, "left %s", de->d_name);
		closedir(d);
	}
	free(p);

	/* A later step's `python` is the installed one, and it works. */
	p = xasprintf("%s/_setup_python/3.98.0/bin/python", tmpdir);
	argv[0] = p;
	argv[1] = "-c";
	argv[2] = "import sys; print('hello from', 6 * 7)";
	argv[3] = NULL;
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.fd_in = -1;
	s.fd_err = -2;
	status = spawn_capture(&s, out, sizeof out, 30000, why, sizeof why);
	ck_assert_msg(status == 0, "%s: %s", p, status == -1 ? why : out);
	ck_assert_str_eq(out, "hello from 42\n");
	free(p);
	fx_free(&fx);

	/* Cached now: no second download. */
	ck_assert_msg(run("3.98", &fx, err, sizeof err) == 0, "%s", err);
	ck_assert_ptr_null(strstr(fx.log.data, "Downloading"));
	fx_free(&fx);

	/* A tarball that is not what the manifest says is refused. */
	free(manifest);
	free(r2);
	r2 = pybuild_release(sv.port, "3.99.0", 1, "00000000000000000000000000000000"
	    "00000000000000000000000000000000");
	free(pybuild_make(tmpdir, srv, "3.99.0"));
	manifest = xasprintf("[%s]", r2);
	p = xasprintf("%s/versions-manifest.json", srv);
	harness_write_file(NULL, p, manifest);
	free(p);
	ck_assert_int_eq(run("3.99", &fx, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "sha256") != NULL && strstr(err, url) !=
	    NULL, "%s", err);
	p = xasprintf("%s/cache/Python/3.99.0", tmpdir);
	ck_assert_int_eq(access(p, F_OK), -1);
	free(p);
	fx_free(&fx);

	pybuild_stop(&sv);
	free(r1);
	free(r2);
	free(r3);
	free(manifest);
	free(sha);
	free(srv);
	free(url);
}
END_TEST

/* Nothing to download from: the error names what, where and the URL. */
START_TEST(test_no_download_names_everything)
{
	struct effects fx;
	char err[4096];

	versions_url = "http://127.0.0.1:1/versions-manifest.json";
	ck_assert_int_eq(run("3.95", &fx, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "version 3.95 ") != NULL &&
	    strstr(err, "/cache/Python/*/x64") != NULL &&
	    strstr(err, "/opt/hostedtoolcache/Python") != NULL &&
	    strstr(err, "/usr/bin/python3.*") != NULL &&
	    strstr(err, "http://127.0.0.1:1/versions-manifest.json") != NULL &&
	    strstr(err, "pyenv install 3.95") != NULL, "%s", err);
	fx_free(&fx);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("setup-python");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_selection, 0,
	    (int)(sizeof cases / sizeof cases[0]));
	tcase_add_test(tc, test_not_found_lists_installed);
	tcase_add_test(tc, test_missing_input);
	tcase_add_test(tc, test_hanging_candidate_is_bounded);
	tcase_add_test(tc, test_download_installs_into_tool_cache);
	tcase_add_test(tc, test_no_download_names_everything);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
