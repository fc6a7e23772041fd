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

static Suite *
actions_suite(void)
{
	Suite *s = suite_create("actions");
	TCase *tc = tcase_create("actions");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_planted_interpreter_never_runs_as_root);
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
