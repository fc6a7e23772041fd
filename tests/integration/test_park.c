/*
 * Parked workers ([workers] park_seconds): an idle local worker closes its
 * database session, and kilnd's wake-up (its own LISTEN kiln_work, or its
 * reaper tick's look for queued work) still starts the next job at once
 * -- not after the minute a parked worker sleeps when nobody wakes it.
 *
 * Real parts: kilnd with its embedded PostgreSQL and two workers parking
 * after one idle second; a push; the sessions in pg_stat_activity.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define PARK_WAIT_MS	20000	/* park_seconds 1, plus a loaded box */
/* Well under WORKER_PARK_POLL_MS (60 s): only a wake-up can be this fast. */
#define RUN_MS		20000

/* No worker holds a database session. */
static int
parked_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM pg_stat_activity "
	    "WHERE application_name LIKE 'kiln-worker/%'", NULL);
	int parked = strcmp(n, "0") == 0;

	free(n);
	return parked;
}

START_TEST(test_parked_workers_wake_for_work)
{
	struct harness *h = harness_new("park");
	struct harness_repo *repo;
	char *sha;
	json_t *run;
	int i;

	harness_conf_add(h, "[workers]\npark_seconds = 1\n");
	harness_start(h);
	repo = harness_repo_new(h, "acme/park");
	harness_repo_write(repo, ".github/workflows/park.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  one:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo parked-and-woken\n");
	/* Twice: the second time the workers parked after running a job. */
	for (i = 0; i < 2; i++) {
		harness_assert(h, harness_wait_for(h, PARK_WAIT_MS, parked_cb,
		    NULL), "round %d: the idle workers kept their database "
		    "sessions", i);
		sha = harness_push(h, repo, "main", i == 0 ? "first" : "second");
		run = harness_wait_run(h, sha, NULL, RUN_MS);
		harness_expect_str(h, run, "run", "conclusion", "success");
		json_decref(run);
		free(sha);
		harness_repo_write(repo, "n.txt", "again\n");
	}
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
park_suite(void)
{
	Suite *s = suite_create("park");
	TCase *tc = tcase_create("park");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_parked_workers_wake_for_work);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(park_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
