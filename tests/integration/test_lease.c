/*
 * [workers] lease_seconds: a job whose worker stops renewing its lease (the
 * worker frozen by SIGSTOP, as a hung or partitioned worker would be) is
 * failed by kilnd's reaper once that lease runs out, not ten minutes later.
 * A worker that is alive but waits on a built-in action's long file work
 * (an artifact upload, a cache save: forked children) keeps renewing it,
 * and a cancellation stops that work.
 */
#include <sys/types.h>

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* 64 MiB of random bytes deflated at level 9: seconds of a forked child. */
static const char upload_workflow[] =
    "name: upload\n"
    "on: push\n"
    "jobs:\n"
    "  big:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: head -c 67108864 /dev/urandom > big.bin\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        with:\n"
    "          name: big\n"
    "          path: big.bin\n"
    "          compression-level: 9\n";

/*
 * The upload's forked child: a process named like its parent (a fork
 * without exec) whose parent is one of the workers.  0 when none yet.
 */
static pid_t
action_child(const pid_t *workers, int n)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	if (d == NULL)
		return 0;
	while (found == 0 && (e = readdir(d)) != NULL) {
		char path[300], stat[512], *close_paren;
		long ppid;
		FILE *f;
		int i;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		if (fgets(stat, sizeof stat, f) == NULL) {
			fclose(f);
			continue;
		}
		fclose(f);
		/* pid (comm) state ppid ... */
		if (strstr(stat, "(kiln-worker)") == NULL ||
		    (close_paren = strrchr(stat, ')')) == NULL ||
		    sscanf(close_paren + 1, " %*c %ld", &ppid) != 1)
			continue;
		for (i = 0; i < n; i++)
			if (ppid == (long)workers[i])
				found = (pid_t)atol(e->d_name);
	}
	closedir(d);
	return found;
}

/* Start the upload, find its child and freeze it: the child's pid. */
static pid_t
freeze_upload(struct harness *h, struct harness_repo *repo, char **sha)
{
	pid_t workers[4], child = 0;
	int n;
	int64_t until;

	harness_repo_write(repo, ".github/workflows/upload.yml",
	    upload_workflow);
	*sha = harness_push(h, repo, "main", "a big artifact");
	n = harness_workers(h, workers, (int)nitems(workers));
	harness_assert(h, n >= 1, "%d workers", n);
	until = now_ms() + 120000;
	while (child == 0 && now_ms() < until) {
		child = action_child(workers, n);
		/*
		 * A step's process is named so too between its spawn and its
		 * exec: the upload's child is the one still there later.
		 */
		if (child != 0) {
			usleep(200000);
			if (action_child(workers, n) != child)
				child = 0;
		}
		if (child == 0)
			usleep(5000);
	}
	harness_assert(h, child > 0, "the upload's child never appeared");
	harness_assert(h, kill(child, SIGSTOP) == 0, "SIGSTOP");
	return child;
}

START_TEST(test_long_action_work_keeps_the_lease)
{
	struct harness *h = harness_new("lease_upload");
	struct harness_repo *repo;
	pid_t child;
	char *sha, *attempts;
	json_t *run;

	harness_conf_add(h, "[workers]\nlease_seconds = 30\n");
	harness_start(h);
	repo = harness_repo_new(h, "acme/upload");
	child = freeze_upload(h, repo, &sha);
	/* Past the lease and the reaper's next rounds, the worker awake. */
	sleep(LEASE_S + 2 * REAP_S);
	kill(child, SIGCONT);
	run = harness_wait_run(h, sha, NULL, 120000);
	harness_expect_str(h, run, "run", "conclusion", "success");
	harness_expect_str(h, harness_job(h, run, "big"), "big", "conclusion",
	    "success");
	attempts = harness_sql(h, "SELECT count(*) FROM artifacts", NULL);
	harness_assert(h, strcmp(attempts, "1") == 0, "%s artifacts",
	    attempts);
	free(attempts);
	json_decref(run);
	harness_stop(h);
	free(sha);
	harness_repo_free(repo);
	harness_free(h);
}
END_TEST

START_TEST(test_cancel_stops_action_work)
{
	struct harness *h = harness_new("lease_cancel");
	struct harness_repo *repo;
	struct buf out = { 0 }, err = { 0 };
	pid_t child;
	char *sha, *run_id, *log;
	json_t *run;
	int64_t t0;

	harness_start(h);
	repo = harness_repo_new(h, "acme/upcancel");
	child = freeze_upload(h, repo, &sha);
	run_id = harness_sql(h, "SELECT run_id FROM jobs", NULL);
	t0 = now_ms();
	harness_assert(h, harness_cictl(h, &out, &err, "cancel", run_id, NULL)
	    == 0, "cictl cancel: %s", err.data);
	/* The frozen child never ends by itself: only the worker's kill. */
	run = harness_wait_run(h, sha, NULL, 30000);
	harness_expect_str(h, run, "run", "conclusion", "cancelled");
	fprintf(stderr, "lease_cancel: cancelled %lld ms after the request\n",
	    (long long)(now_ms() - t0));
	harness_assert(h, !harness_pid_alive(child), "the upload's child %ld "
	    "outlived the cancellation", (long)child);
	log = harness_job_log(h, run, "big");
	harness_expect_contains(h, log, "log", "upload: stopped, the job was "
	    "cancelled");
	free(log);
	json_decref(run);
	free(run_id);
	buf_free(&out);
	buf_free(&err);
	harness_stop(h);
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
	tcase_add_test(tc, test_long_action_work_keeps_the_lease);
	tcase_add_test(tc, test_cancel_stops_action_work);
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
