/*
 * [workers] lease_seconds: a job whose worker stops renewing its lease (the
 * worker frozen by SIGSTOP, as a hung or partitioned worker would be) is
 * failed by kilnd's reaper once that lease runs out, not ten minutes later.
 */
#include <sys/types.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define LEASE_S		30
#define REAP_S		5	/* kilnd's reaper runs this often */

static const char workflow[] =
    "name: frozen\n"
    "on: push\n"
    "jobs:\n"
    "  long:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo LEASE-STARTED; sleep 120\n";

static int
running_cb(struct harness *h, void *unused)
{
	char *n = harness_sql(h, "SELECT count(*) FROM steps s JOIN jobs j ON "
	    "j.id = s.job_id WHERE j.status = 'in_progress' AND s.status = "
	    "'in_progress'", NULL);
	int yes = strcmp(n, "1") == 0;

	free(n);
	return yes;
}

static int
reaped_cb(struct harness *h, void *unused)
{
	char *n = harness_sql(h, "SELECT count(*) FROM jobs WHERE status = "
	    "'completed'", NULL);
	int yes = strcmp(n, "1") == 0;

	free(n);
	return yes;
}

START_TEST(test_frozen_worker_loses_its_job_after_lease_seconds)
{
	struct harness *h = harness_new("lease_frozen");
	struct harness_repo *repo;
	pid_t pids[4];
	int n, i;
	int64_t t0, took;
	char *sha, *concl;

	harness_conf_add(h, "[workers]\nlease_seconds = 30\n");
	harness_start(h);
	repo = harness_repo_new(h, "acme/lease");
	harness_repo_write(repo, ".github/workflows/frozen.yml", workflow);
	sha = harness_push(h, repo, "main", "freeze me");
	harness_assert(h, harness_wait_for(h, 30000, running_cb, NULL),
	    "the job's step did not start");
	n = harness_workers(h, pids, (int)nitems(pids));
	harness_assert(h, n == 2, "%d workers", n);
	for (i = 0; i < n; i++)
		harness_assert(h, kill(pids[i], SIGSTOP) == 0, "SIGSTOP");
	t0 = now_ms();
	harness_assert(h, harness_wait_for(h, (LEASE_S + 3 * REAP_S) * 1000,
	    reaped_cb, NULL), "the job of a frozen worker was not failed "
	    "within %d s ([workers] lease_seconds = %d)", LEASE_S + 3 * REAP_S,
	    LEASE_S);
	took = now_ms() - t0;
	concl = harness_sql(h, "SELECT conclusion FROM jobs", NULL);
	for (i = 0; i < n; i++)
		harness_assert(h, kill(pids[i], SIGCONT) == 0, "SIGCONT");
	fprintf(stderr, "lease_frozen: job %s %lld ms after its worker froze "
	    "(lease %d s)\n", concl, (long long)took, LEASE_S);
	harness_assert(h, strcmp(concl, "failure") == 0, "conclusion %s",
	    concl);
	/* Not before the lease the worker last renewed (a second earlier). */
	harness_assert(h, took >= (LEASE_S - 2) * 1000, "failed after %lld ms, "
	    "before its %d s lease ran out", (long long)took, LEASE_S);
	harness_stop(h);
	free(concl);
	free(sha);
	harness_repo_free(repo);
	harness_free(h);
}
END_TEST

static Suite *
lease_suite(void)
{
	Suite *s = suite_create("lease");
	TCase *tc = tcase_create("lease");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_frozen_worker_loses_its_job_after_lease_seconds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lease_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
