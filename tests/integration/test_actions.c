/*
 * Built-in actions against what steps may have written.  With [workers]
 * run_as, the tool cache belongs to the steps' account, so anything found
 * there is the steps' own: setup-python may execute it (to ask its
 * version) only as that account, never as the worker (root here).
 * Real parts: kilnd as root with its embedded PostgreSQL and workers, a
 * real git repository, a signed push webhook.
 */
#include <sys/stat.h>

#include <check.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "pybuild.h"
#include "util.h"

#define RUN_MS	60000

/* Configure run_as = nobody; returns nobody's uid. */
static uid_t
run_as_nobody(struct harness *h)
{
	struct passwd *pw = getpwnam("nobody");

	harness_assert(h, pw != NULL, "no account nobody");
	harness_assert(h, geteuid() == 0, "this test needs root (run_as)");
	harness_conf_add(h, "run_as = nobody\n");
	return pw->pw_uid;
}

/*
 * A "python3" planted in the tool cache records who ran it and answers
 * the version probe as 3.99.0.  Every run of it is by the steps' account.
 */
START_TEST(test_planted_interpreter_never_runs_as_root)
{
	struct harness *h = harness_new("planted_python");
	struct harness_repo *repo;
	char *dir, *py, *script, *uids, *sha, *log, *text, *line, *want;
	uid_t nobody = run_as_nobody(h);
	json_t *run;
	int lines = 0;

	dir = xasprintf("%s/toolcache/Python/3.99.0/x64/bin", h->state_dir);
	harness_assert(h, mkdir_p(dir, 0755) == 0, "mkdir %s", dir);
	uids = xasprintf("%s/uids", h->shared);
	py = xasprintf("%s/python3", dir);
	script = xasprintf("#!/bin/sh\nid -u >> %s\necho '3 99 0'\n", uids);
	harness_write_file(h, py, script);
	harness_assert(h, chmod(py, 0755) == 0, "chmod %s", py);
	harness_start(h);

	repo = harness_repo_new(h, "octo/planted");
	harness_repo_write(repo, ".github/workflows/py.yml",
	    "name: py\n"
	    "on: push\n"
	    "jobs:\n"
	    "  j:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - uses: actions/setup-python@v5\n"
	    "        with:\n"
	    "          python-version: '3.99'\n"
	    "      - run: echo \"STEP-UID=$(id -u)\"\n");
	sha = harness_push(h, repo, "main", "planted");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	log = harness_job_log(h, run, "j");
	harness_expect_str(h, run, "run", "conclusion", "success");
	harness_expect_contains(h, log, "setup-python's choice",
	    "Using Python 3.99.0");
	want = xasprintf("STEP-UID=%ld", (long)nobody);
	harness_expect_contains(h, log, "the step's uid", want);
	free(want);

	/* It ran (the probe), and only ever as nobody. */
	text = file_read_all(uids, 65536, NULL);
	harness_assert(h, text != NULL, "the planted python3 never ran (%s)",
	    uids);
	for (line = strtok(text, "\n"); line != NULL;
	    line = strtok(NULL, "\n"), lines++)
		harness_assert(h, strtol(line, NULL, 10) == (long)nobody,
		    "the planted python3 ran as uid %s, not as nobody (%ld)",
		    line, (long)nobody);
	harness_assert(h, lines > 0, "no uid recorded in %s", uids);
	free(text);
	free(log);
	json_decref(run);
	free(sha);
	free(script);
	free(py);
	free(uids);
	free(dir);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * A version the host lacks is downloaded from the manifest into the tool
 * cache -- by the steps' account, which owns what it installs -- and a
 * later step runs it.
 */
START_TEST(test_setup_python_downloads_as_run_as)
{
	struct harness *h = harness_new("download_python");
	struct pybuild_server sv;
	struct harness_repo *repo;
	char *srv, *sha, *rel, *manifest, *p, *conf, *log, *sha_run;
	uid_t nobody = run_as_nobody(h);
	struct stat st;
	json_t *run;

	srv = xasprintf("%s/srv", h->dir);
	harness_assert(h, mkdir_p(srv, 0755) == 0, "mkdir %s", srv);
	sha = pybuild_make(h->dir, srv, "3.98.0");
	pybuild_serve(&sv, srv);
	rel = pybuild_release(sv.port, "3.98.0", 1, sha);
	manifest = xasprintf("[%s]", rel);
	p = xasprintf("%s/versions-manifest.json", srv);
	harness_write_file(h, p, manifest);
	free(p);
	conf = xasprintf("[actions]\npython_versions_url = "
	    "http://127.0.0.1:%d/versions-manifest.json\n", sv.port);
	harness_conf_add(h, conf);
	harness_start(h);

	repo = harness_repo_new(h, "octo/download");
	harness_repo_write(repo, ".github/workflows/py.yml",
	    "name: py\n"
	    "on: push\n"
	    "jobs:\n"
	    "  j:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - uses: actions/setup-python@v5\n"
	    "        id: py\n"
	    "        with:\n"
	    "          python-version: '3.98'\n"
	    "      - run: python -c \"print('PY-OK', 6 * 7)\"\n"
	    "      - run: echo \"VERSION=${{ steps.py.outputs.python-version }}\"\n");
	sha_run = harness_push(h, repo, "main", "download");
	run = harness_wait_run(h, sha_run, NULL, RUN_MS);
	log = harness_job_log(h, run, "j");
	harness_expect_str(h, run, "run", "conclusion", "success");
	harness_expect_contains(h, log, "the download", "Downloading Python "
	    "3.98.0 from http://127.0.0.1:");
	harness_expect_contains(h, log, "the interpreter ran", "PY-OK 42");
	harness_expect_contains(h, log, "the output", "VERSION=3.98.0");
	p = xasprintf("%s/toolcache/Python/3.98.0/x64/bin/python3.98",
	    h->state_dir);
	harness_assert(h, lstat(p, &st) == 0, "no %s", p);
	harness_assert(h, st.st_uid == nobody, "%s belongs to uid %ld, not to "
	    "nobody: the download did not run as run_as", p, (long)st.st_uid);
	free(p);
	p = xasprintf("%s/toolcache/Python/3.98.0/x64.complete", h->state_dir);
	harness_assert(h, access(p, F_OK) == 0, "no %s", p);
	free(p);
	free(log);
	json_decref(run);
	free(sha_run);
	harness_repo_free(repo);
	pybuild_stop(&sv);	/* the harness counts it as the test's */
	harness_stop(h);
	harness_free(h);
	free(conf);
	free(manifest);
	free(rel);
	free(sha);
	free(srv);
}
END_TEST

static Suite *
actions_suite(void)
{
	Suite *s = suite_create("actions");
	TCase *tc = tcase_create("actions");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_planted_interpreter_never_runs_as_root);
	tcase_add_test(tc, test_setup_python_downloads_as_run_as);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(actions_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
