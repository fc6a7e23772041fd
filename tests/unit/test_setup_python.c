/*
 * actions/setup-python (worker/actions/setup_python.c): interpreter
 * selection from a tool cache, the links it makes, what later steps get.
 * Fake interpreters at versions no host has (3.96, 3.97) keep the real
 * Pythons of the machine out of the answers.
 */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../worker/actions/setup_python.c"
#include "harness.h"

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
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
