/*
 * Nothing a job starts outlives it: processes that left the step's process
 * group (setsid) or were double-forked away are ended with the job, and the
 * job's log says so.  Real kilnd, workers and processes.
 */
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

/* Distinct durations: the processes are found by their command lines. */
static const char workflow[] =
    "name: leaves\n"
    "on: push\n"
    "jobs:\n"
    "  leaves:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: |\n"
    "          setsid sleep 7301 </dev/null >/dev/null 2>&1 &\n"
    "          (setsid sh -c 'sleep 7302' </dev/null >/dev/null 2>&1 &) &\n"
    "          echo left two behind\n";

/* A job that is killed with its worker, halfway. */
static const char deploy_workflow[] =
    "name: deploy\n"
    "on: push\n"
    "jobs:\n"
    "  deploy:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: |\n"
    "          setsid sleep 7311 </dev/null >/dev/null 2>&1 &\n"
    "          echo deploying\n"
    "          sleep 7312\n";

/*
 * Live processes whose command line is "sleep <arg>"; returns count, the
 * last one's pid in *pidp (may be NULL).
 */
static int
find_sleeps(const char *arg, pid_t *pidp)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char path[300], *text, want[64];
	size_t len;
	int n = 0;

	if (d == NULL)
		return -1;
	snprintf(want, sizeof want, "sleep%c%s", '\0', arg);
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
		if ((text = file_read_all(path, 4096, &len)) == NULL)
			continue;
		if (len == strlen("sleep") + 1 + strlen(arg) + 1 &&
		    memcmp(text, want, len - 1) == 0 &&
		    harness_pid_alive((pid_t)atol(de->d_name))) {
			n++;
			if (pidp != NULL)
				*pidp = (pid_t)atol(de->d_name);
		}
		free(text);
	}
	closedir(d);
	return n;
}

static int
count_sleeps(const char *arg)
{
	return find_sleeps(arg, NULL);
}

/* pid's parent, from /proc/PID/stat; -1 when gone. */
static pid_t
parent_of(pid_t pid)
{
	char path[64], *text, *paren;
	size_t len;
	long ppid = -1;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((text = file_read_all(path, 4096, &len)) == NULL)
		return -1;
	if ((paren = strrchr(text, ')')) == NULL ||
	    sscanf(paren + 1, " %*c %ld", &ppid) != 1)
		ppid = -1;
	free(text);
	return (pid_t)ppid;
}

/* The worker of kilnd that pid descends from; fails the test if none. */
static pid_t
worker_of(struct harness *h, pid_t pid)
{
	pid_t pids[16], p;
	int n, i;

	n = harness_workers(h, pids, (int)nitems(pids));
	for (p = pid; p > 1; p = parent_of(p))
		for (i = 0; i < n; i++)
			if (pids[i] == p)
				return p;
	harness_fail(h, "no worker of kilnd is an ancestor of %d", (int)pid);
	return -1;
}

static int
deploying_cb(struct harness *h, void *arg)
{
	(void)h;
	(void)arg;
	return count_sleeps("7311") == 1 && count_sleeps("7312") == 1;
}

static int
deploy_gone_cb(struct harness *h, void *arg)
{
	(void)h;
	(void)arg;
	return count_sleeps("7311") == 0 && count_sleeps("7312") == 0;
}

static int
none_left_cb(struct harness *h, void *arg)
{
	(void)h;
	(void)arg;
	return count_sleeps("7301") == 0 && count_sleeps("7302") == 0;
}

START_TEST(test_processes_that_left_the_job_end_with_it)
{
	struct harness *h = harness_up("orphans");
	struct harness_repo *repo = harness_repo_new(h, "octo/leaves");
	char *sha, *log;
	json_t *run;

	harness_repo_write(repo, ".github/workflows/leaves.yml", workflow);
	sha = harness_push(h, repo, "main", "leave processes behind");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	harness_assert(h, harness_wait_for(h, 5000, none_left_cb, NULL),
	    "after the job: %d 'sleep 7301' (setsid) and %d 'sleep 7302' "
	    "(setsid in a double fork) still run", count_sleeps("7301"),
	    count_sleeps("7302"));
	log = harness_job_log(h, run, "leaves");
	harness_assert(h, strstr(log, "left two behind") != NULL &&
	    strstr(log, "Cleaning up orphan processes: ") != NULL,
	    "the job's log does not say it cleaned up:\n%s", log);
	free(log);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * SIGKILL of the worker in the middle of a step: the step and what it put
 * in its own session end too, and the job fails saying why.
 */
START_TEST(test_a_killed_workers_job_ends_with_it)
{
	struct harness *h = harness_up("orphans_lost");
	struct harness_repo *repo = harness_repo_new(h, "octo/deploy");
	pid_t step = -1, worker, p = -1;
	char *sha, *log, *cg, path[64], want[64];
	size_t len;
	json_t *run, *job;

	harness_repo_write(repo, ".github/workflows/deploy.yml",
	    deploy_workflow);
	sha = harness_push(h, repo, "main", "deploy and lose the worker");
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, deploying_cb,
	    NULL), "the step never started its two sleeps");
	(void)find_sleeps("7312", &step);
	worker = worker_of(h, step);
	/* What left the step's session is still in the job's cgroup. */
	(void)find_sleeps("7311", &p);
	snprintf(path, sizeof path, "/proc/%ld/cgroup", (long)p);
	snprintf(want, sizeof want, "/kiln-job-%ld\n", (long)worker);
	cg = file_read_all(path, 65536, &len);
	harness_assert(h, cg != NULL && strstr(cg, want) != NULL,
	    "the setsid sleep %d is not in its worker's job cgroup "
	    "(%s): %s", (int)p, want, cg != NULL ? cg : strerror(errno));
	free(cg);
	harness_assert(h, kill(worker, SIGKILL) == 0, "kill worker %d: %s",
	    (int)worker, strerror(errno));

	harness_assert(h, harness_wait_for(h, 10000, deploy_gone_cb, NULL),
	    "the killed worker's job still runs: %d 'sleep 7311' (setsid), "
	    "%d 'sleep 7312' (the step)", count_sleeps("7311"),
	    count_sleeps("7312"));
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "failure");
	job = harness_job(h, run, "deploy");
	harness_expect_str(h, job, "job", "conclusion", "failure");
	harness_expect_contains(h, harness_str(job, "message"), "job message",
	    "worker lost");
	log = harness_job_log(h, run, "deploy");
	harness_expect_contains(h, log, "job log", "deploying");
	free(log);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* A job that sleeps (until its worker is killed) in attempt 1 only. */
#define RETRY_JOB \
    "  retry:\n" \
    "    runs-on: self-hosted\n" \
    "    steps:\n" \
    "      - run: |\n" \
    "          echo \"attempt $GITHUB_RUN_ATTEMPT\"\n" \
    "          if [ \"$GITHUB_RUN_ATTEMPT\" = 1 ]; then sleep 7321; fi\n"

static const char retry_workflow[] =
    "name: retry\n"
    "on: push\n"
    "jobs:\n"
    RETRY_JOB;

/* Kill the worker whose step runs `sleep arg`; returns its pid. */
static pid_t
kill_worker_of_sleep(struct harness *h, const char *arg)
{
	pid_t step = -1, worker;

	(void)find_sleeps(arg, &step);
	worker = worker_of(h, step);
	harness_assert(h, kill(worker, SIGKILL) == 0, "kill worker %d: %s",
	    (int)worker, strerror(errno));
	return worker;
}

static int
retrying_cb(struct harness *h, void *arg)
{
	(void)h;
	(void)arg;
	return count_sleeps("7321") == 1;
}

/* The run's "attempt status conclusion", awaited to be want. */
static int
run_state_cb(struct harness *h, void *arg)
{
	char *state = harness_sql(h, "SELECT run_attempt || ' ' || status || "
	    "' ' || coalesce(conclusion, '') FROM runs", NULL);
	int ok = strcmp(state, arg) == 0;

	free(state);
	return ok;
}

/*
 * [workers] retry_lost = 1: the run of a job whose worker was killed runs
 * again as attempt 2, which succeeds; the lost attempt's log says so.
 */
START_TEST(test_retry_lost_runs_a_lost_job_again)
{
	struct harness *h = harness_new("orphans_retry");
	struct harness_repo *repo;
	char *sha, *state, *log;

	harness_conf_add(h, "retry_lost = 1\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/retry");
	harness_repo_write(repo, ".github/workflows/retry.yml",
	    retry_workflow);
	sha = harness_push(h, repo, "main", "lose the first attempt");
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, retrying_cb,
	    NULL), "the first attempt never started its sleep");
	(void)kill_worker_of_sleep(h, "7321");
	if (!harness_wait_for(h, HARNESS_RUN_MS, run_state_cb,
	    "2 completed success")) {
		state = harness_sql(h, "SELECT run_attempt || ' ' || status || "
		    "' ' || coalesce(conclusion, '') FROM runs", NULL);
		harness_fail(h, "the run is at '%s', not attempt 2 succeeded",
		    state);
	}
	log = harness_sql(h, "SELECT id::text FROM jobs WHERE attempt = 1",
	    NULL);
	{
		json_t *id = json_integer(strtoll(log, NULL, 10));
		char *text = harness_logs(h, id);

		harness_expect_contains(h, text, "attempt 1's log",
		    "worker lost");
		harness_expect_contains(h, text, "attempt 1's log",
		    "run again as attempt 2");
		free(text);
		json_decref(id);
	}
	free(log);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static const char retry_later_workflow[] =
    "name: retry\n"
    "on: push\n"
    "jobs:\n"
    RETRY_JOB
    "  slow:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: |\n"
    "          if [ \"$GITHUB_RUN_ATTEMPT\" = 1 ]; then sleep 7323 || true; fi\n";

static int
both_running_cb(struct harness *h, void *arg)
{
	(void)h;
	(void)arg;
	return count_sleeps("7321") == 1 && count_sleeps("7323") == 1;
}

/* The lost job's log (attempt 1) holds the text arg. */
static int
lost_log_says_cb(struct harness *h, void *arg)
{
	char *id = harness_sql(h, "SELECT id::text FROM jobs WHERE attempt = 1 "
	    "AND job_key = 'retry'", NULL);
	json_t *jid = json_integer(strtoll(id, NULL, 10));
	char *text = harness_logs(h, jid);
	int ok = text != NULL && strstr(text, arg) != NULL;

	free(text);
	json_decref(jid);
	free(id);
	return ok;
}

/*
 * retry_lost while another job of the run still runs: the retry waits for
 * the run to complete (it used to be dropped: "not retried, other jobs of
 * the run are still running"), then the failed job runs again as attempt
 * 2 and the job that succeeded is kept.
 */
START_TEST(test_retry_lost_waits_for_the_run)
{
	struct harness *h = harness_new("orphans_retry_later");
	struct harness_repo *repo;
	pid_t slow = -1;
	char *sha, *state;

	harness_conf_add(h, "retry_lost = 1\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/retrylater");
	harness_repo_write(repo, ".github/workflows/retry.yml",
	    retry_later_workflow);
	sha = harness_push(h, repo, "main", "lose one job while the other runs");
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, both_running_cb,
	    NULL), "the two jobs of attempt 1 never ran side by side");
	(void)kill_worker_of_sleep(h, "7321");
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, lost_log_says_cb,
	    (void *)"once its other jobs finish"), "the lost job's log never "
	    "said that the retry waits for the run");
	state = harness_sql(h, "SELECT run_attempt || ' ' || status FROM runs",
	    NULL);
	harness_assert(h, strcmp(state, "1 in_progress") == 0, "the run while "
	    "the slow job still runs is '%s', not attempt 1 in progress",
	    state);
	free(state);
	(void)find_sleeps("7323", &slow);
	harness_assert(h, slow > 0 && kill(slow, SIGTERM) == 0,
	    "ending the slow job's sleep");
	if (!harness_wait_for(h, HARNESS_RUN_MS, run_state_cb,
	    "2 completed success")) {
		state = harness_sql(h, "SELECT run_attempt || ' ' || status || "
		    "' ' || coalesce(conclusion, '') FROM runs", NULL);
		harness_fail(h, "the run is at '%s', not attempt 2 succeeded",
		    state);
	}
	state = harness_sql(h, "SELECT string_agg(job_key || ':' || "
	    "conclusion || ':' || kept, ',' ORDER BY job_key) FROM jobs "
	    "WHERE attempt = 2", NULL);
	harness_assert(h, strcmp(state, "retry:success:false,slow:success:true")
	    == 0, "attempt 2's jobs are '%s'", state);
	free(state);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
orphans_suite(void)
{
	Suite *s = suite_create("orphans");
	TCase *tc = tcase_create("orphans");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_processes_that_left_the_job_end_with_it);
	tcase_add_test(tc, test_a_killed_workers_job_ends_with_it);
	tcase_add_test(tc, test_retry_lost_runs_a_lost_job_again);
	tcase_add_test(tc, test_retry_lost_waits_for_the_run);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(orphans_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
