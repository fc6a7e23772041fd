/*
 * Integration tests of run control by hand: `cictl rerun --failed` runs
 * the failed job and its dependants again as attempt 2 (the successful
 * jobs are kept, not run, and their outputs reach the re-run job through
 * needs), `cictl rerun` of everything, `cictl cancel RUN` stops a running
 * job, `cictl cancel --job` cancels one job, and the refusals.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The count of lines of a file in the shared directory ("" absent: 0). */
static int
lines_of(struct harness *h, const char *name)
{
	char *path = xasprintf("%s/%s", h->shared, name), *text;
	int n = 0;

	if ((text = file_read_all(path, 1 << 20, NULL)) != NULL) {
		for (char *p = text; *p; p++)
			n += *p == '\n';
		free(text);
	}
	free(path);
	return n;
}

struct attempt_wait {
	const json_t	*id;
	int		 attempt;
	json_t		*run;		/* the last `show`, owned */
};

static int
attempt_done_cb(struct harness *h, void *arg)
{
	struct attempt_wait *w = arg;
	const char *status;

	json_decref(w->run);
	w->run = harness_show(h, w->id);
	status = harness_str(w->run, "status");
	return json_integer_value(json_object_get(w->run, "run_attempt")) ==
	    w->attempt && status != NULL && strcmp(status, "completed") == 0;
}

/* `show --json` of run id once its attempt has completed. */
static json_t *
wait_attempt(struct harness *h, const json_t *id, int attempt)
{
	struct attempt_wait w = { id, attempt, NULL };

	if (!harness_wait_for(h, HARNESS_RUN_MS, attempt_done_cb, &w))
		harness_fail(h, "run never completed attempt %d: %s", attempt,
		    harness_json_text(w.run));
	return w.run;
}

START_TEST(test_rerun_failed_keeps_successful_jobs_and_their_outputs)
{
	struct harness *h = harness_up("rerun_failed");
	struct harness_repo *repo = harness_repo_new(h, "octo/rerun");
	struct buf out = { 0 }, err = { 0 };
	json_t *run, *run2, *a, *b, *d;
	char *wf, *sha, *log, idtext[32];

	wf = xasprintf(
	    "name: flaky\n"
	    "on: push\n"
	    "jobs:\n"
	    "  a:\n"
	    "    runs-on: self-hosted\n"
	    "    outputs:\n"
	    "      v: ${{ steps.s.outputs.v }}\n"
	    "    steps:\n"
	    "      - id: s\n"
	    "        run: |\n"
	    "          echo ran >> %s/a-ran\n"
	    "          echo \"v=A-VALUE-$((6 * 7))\" >> \"$GITHUB_OUTPUT\"\n"
	    "  b:\n"
	    "    runs-on: self-hosted\n"
	    "    needs: a\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          echo ran >> %s/b-ran\n"
	    "          echo \"ATTEMPT=$GITHUB_RUN_ATTEMPT/${{ github.run_attempt }}\"\n"
	    "          echo \"GOT=${{ needs.a.outputs.v }}\"\n"
	    "          test \"$GITHUB_RUN_ATTEMPT\" -ge 2\n"
	    "  d:\n"
	    "    runs-on: self-hosted\n"
	    "    needs: b\n"
	    "    steps:\n"
	    "      - run: echo ran >> %s/d-ran\n",
	    h->shared, h->shared, h->shared);
	harness_repo_write(repo, ".github/workflows/flaky.yml", wf);
	free(wf);
	sha = harness_push(h, repo, "main", "flaky");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "failure");
	harness_expect_str(h, harness_job(h, run, "d"), "d", "conclusion",
	    "skipped");
	harness_assert(h, json_integer_value(json_object_get(run,
	    "run_attempt")) == 1, "attempt: %s", harness_json_text(run));

	snprintf(idtext, sizeof idtext, "%lld", (long long)json_integer_value(
	    json_object_get(run, "id")));
	harness_assert(h, harness_cictl(h, &out, &err, "rerun", idtext,
	    "--failed", NULL) == 0, "cictl rerun: %s", err.data);
	harness_expect_contains(h, out.data, "cictl rerun", "attempt 2");

	run2 = wait_attempt(h, json_object_get(run, "id"), 2);
	harness_expect_str(h, run2, "run", "conclusion", "success");
	a = harness_job(h, run2, "a");
	b = harness_job(h, run2, "b");
	d = harness_job(h, run2, "d");
	harness_expect_str(h, a, "a", "conclusion", "success");
	harness_expect_str(h, b, "b", "conclusion", "success");
	harness_expect_str(h, d, "d", "conclusion", "success");
	/* a was kept, not run again; b and d ran in attempt 2. */
	harness_assert(h, lines_of(h, "a-ran") == 1, "a ran %d times",
	    lines_of(h, "a-ran"));
	harness_assert(h, lines_of(h, "b-ran") == 2, "b ran %d times",
	    lines_of(h, "b-ran"));
	harness_assert(h, lines_of(h, "d-ran") == 1, "d ran %d times",
	    lines_of(h, "d-ran"));
	log = harness_logs(h, json_object_get(b, "id"));
	harness_expect_contains(h, log, "log of b", "ATTEMPT=2/2");
	harness_expect_contains(h, log, "log of b", "GOT=A-VALUE-42");
	free(log);
	/* The kept job still shows the log of the attempt that ran it. */
	log = harness_logs(h, json_object_get(a, "id"));
	harness_expect_contains(h, log, "log of kept a", "shared/a-ran");
	free(log);

	/* Nothing failed now: --failed is refused, naming why. */
	buf_clear(&out);
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, &out, &err, "rerun", idtext,
	    "--failed", NULL) != 0, "a second --failed re-run was accepted");
	harness_expect_contains(h, err.data, "cictl rerun", "no failed job");

	/* Everything again: attempt 3 runs a too. */
	buf_clear(&out);
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, &out, &err, "rerun", idtext, NULL) ==
	    0, "cictl rerun: %s", err.data);
	json_decref(run2);
	run2 = wait_attempt(h, json_object_get(run, "id"), 3);
	harness_expect_str(h, run2, "run", "conclusion", "success");
	harness_assert(h, lines_of(h, "a-ran") == 2, "a ran %d times",
	    lines_of(h, "a-ran"));

	buf_free(&out);
	buf_free(&err);
	json_decref(run2);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static int
job_running_cb(struct harness *h, void *arg)
{
	char *s = harness_sql(h, "SELECT count(*) FROM jobs WHERE "
	    "job_key = $1 AND status = 'in_progress'", (const char *)arg,
	    NULL);
	int yes = strcmp(s, "1") == 0;

	free(s);
	return yes;
}

START_TEST(test_cancel_run_and_job)
{
	struct harness *h = harness_up("cancel");
	struct harness_repo *repo = harness_repo_new(h, "octo/cancel");
	struct buf out = { 0 }, err = { 0 };
	char *sha, *run_id, *job_id;
	json_t *run;

	harness_repo_write(repo, ".github/workflows/long.yml",
	    "name: long\n"
	    "on: push\n"
	    "jobs:\n"
	    "  slow:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: sleep 90\n"
	    "  other:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: sleep 90\n");
	sha = harness_push(h, repo, "main", "long");
	harness_assert(h, harness_wait_for(h, 30000, job_running_cb, "slow"),
	    "job slow never started");
	job_id = harness_sql(h, "SELECT id FROM jobs WHERE job_key = 'slow'",
	    NULL);
	run_id = harness_sql(h, "SELECT run_id FROM jobs WHERE job_key = "
	    "'slow'", NULL);

	/* A run still running cannot be re-run. */
	harness_assert(h, harness_cictl(h, &out, &err, "rerun", run_id, NULL)
	    != 0, "a running run was re-run");
	harness_expect_contains(h, err.data, "cictl rerun", "not completed");

	/* One job: it stops, the other keeps running. */
	buf_clear(&out);
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, &out, &err, "cancel", "--job",
	    job_id, NULL) == 0, "cictl cancel --job: %s", err.data);
	harness_expect_contains(h, out.data, "cictl cancel", "cancel requested");
	harness_assert(h, harness_wait_for(h, 30000, job_running_cb, "other"),
	    "job other is not running");
	/* Then the run: well before the 90 s sleeps end. */
	buf_clear(&out);
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, &out, &err, "cancel", run_id, NULL)
	    == 0, "cictl cancel: %s", err.data);
	run = harness_wait_run(h, sha, NULL, 45000);
	harness_expect_str(h, run, "run", "conclusion", "cancelled");
	harness_expect_str(h, harness_job(h, run, "slow"), "slow",
	    "conclusion", "cancelled");
	harness_expect_str(h, harness_job(h, run, "other"), "other",
	    "conclusion", "cancelled");

	/* Completed: a second cancel is refused; bad usage too. */
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, NULL, &err, "cancel", run_id, NULL)
	    != 0, "a completed run was cancelled");
	harness_expect_contains(h, err.data, "cictl cancel",
	    "completed already");
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, NULL, &err, "cancel", "999999",
	    NULL) != 0, "an unknown run was cancelled");
	harness_expect_contains(h, err.data, "cictl cancel", "no run 999999");
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, NULL, &err, "cancel", run_id,
	    "--job", job_id, NULL) != 0, "run and --job both accepted");

	buf_free(&out);
	buf_free(&err);
	json_decref(run);
	free(run_id);
	free(job_id);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
runctl_suite(void)
{
	Suite *s = suite_create("runctl");
	TCase *tc = tcase_create("runctl");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_rerun_failed_keeps_successful_jobs_and_their_outputs);
	tcase_add_test(tc, test_cancel_run_and_job);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(runctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
