/*
 * A kilnd crash cancels no job.  kilnd is SIGKILLed while a step runs; the
 * worker running it keeps going (an idle one exits), spools the output the
 * step prints meanwhile, and after an outage longer than 20 s (more than
 * the 10 s a worker used to wait for kilnd) the kilnd started again gets
 * the whole log, byte for byte, and the job concludes success, once.  The
 * new kilnd adopts the worker still running: it starts one worker of its
 * own beside it, not two, and the second once it is gone.
 * Real kilnd, workers, PostgreSQL and processes.
 */
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define LINES		40
#define OUTAGE_MS	21000	/* > 20 s, and > the old 10 s close wait */

/* The step's output: what the stored log must hold, exactly once. */
static void
expected_output(struct buf *b)
{
	int i;

	for (i = 1; i <= LINES; i++)
		buf_printf(b, "before %02d: the step runs while kilnd is up\n",
		    i);
	for (i = 1; i <= LINES; i++)
		buf_printf(b, "after %02d: printed while kilnd is dead\n", i);
}

static char *
workflow(const char *shared)
{
	return xasprintf(
	    "name: crash\n"
	    "on: push\n"
	    "jobs:\n"
	    "  crash:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          echo run >> %s/starts\n"
	    "          for i in $(seq -w 1 %d); do echo \"before $i: the "
	    "step runs while kilnd is up\"; done\n"
	    "          while [ ! -e %s/go ]; do sleep 0.1; done\n"
	    "          for i in $(seq -w 1 %d); do echo \"after $i: printed "
	    "while kilnd is dead\"; done\n"
	    "          touch %s/done\n"
	    "      - run: |\n"
	    "          while [ ! -e %s/go2 ]; do sleep 0.1; done\n"
	    "          echo the second step ran after the restart\n",
	    shared, LINES, shared, LINES, shared, shared);
}

struct file_has {
	char		*path;
	const char	*needle;	/* NULL: the file exists */
};

static int
file_has_cb(struct harness *h, void *arg)
{
	struct file_has *f = arg;
	char *text;
	size_t len;
	int found;

	(void)h;
	if (f->needle == NULL)
		return access(f->path, F_OK) == 0;
	if ((text = file_read_all(f->path, 1 << 20, &len)) == NULL)
		return 0;
	found = strstr(text, f->needle) != NULL;
	free(text);
	return found;
}

struct two_pids {
	pid_t	pids[2];
};

/* kilnd runs this many workers of its own. */
static int
own_workers_cb(struct harness *h, void *arg)
{
	pid_t pids[8];

	return harness_workers(h, pids, 8) == *(int *)arg;
}

/* Exactly one of the two workers is left. */
static int
one_left_cb(struct harness *h, void *arg)
{
	struct two_pids *w = arg;

	(void)h;
	return harness_pid_alive(w->pids[0]) + harness_pid_alive(w->pids[1]) ==
	    1;
}

static int
gone_cb(struct harness *h, void *arg)
{
	(void)h;
	return !harness_pid_alive(*(pid_t *)arg);
}

static size_t
count_of(const char *text, const char *needle)
{
	size_t n = 0;

	for (; (text = strstr(text, needle)) != NULL; text += strlen(needle))
		n++;
	return n;
}

START_TEST(test_kilnd_crash_does_not_cancel_a_job)
{
	struct harness *h = harness_new("kilndcrash");
	struct harness_repo *repo;
	struct two_pids w;
	struct file_has fh;
	struct buf want = { 0 };
	char *wf, *sha, *job_id, *log, *starts, *path;
	pid_t busy;
	json_t *run, *job;
	int64_t killed_ms, waited;
	size_t len;
	int status, n;

	harness_start(h);
	repo = harness_repo_new(h, "octo/crash");
	wf = workflow(h->shared);
	harness_repo_write(repo, ".github/workflows/crash.yml", wf);
	free(wf);
	sha = harness_push(h, repo, "main", "a step that outlives kilnd");

	/* The first half of the output is stored: kilnd has seen it. */
	fh.path = xasprintf("%s/starts", h->shared);
	fh.needle = NULL;
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, file_has_cb,
	    &fh), "the step never started");
	free(fh.path);
	job_id = harness_sql(h, "SELECT id FROM jobs WHERE status = "
	    "'in_progress'", NULL);
	harness_assert(h, atoll(job_id) > 0, "no job in progress");
	fh.path = xasprintf("%s/logs/%s.log", h->state_dir, job_id);
	fh.needle = "before 40";
	harness_assert(h, harness_wait_for(h, 30000, file_has_cb, &fh),
	    "kilnd never stored the step's first lines");
	free(fh.path);
	n = harness_workers(h, w.pids, 2);
	harness_assert(h, n == 2, "%d workers instead of 2", n);

	/* The crash. */
	harness_assert(h, kill(h->kilnd, SIGKILL) == 0, "SIGKILL kilnd");
	harness_assert(h, waitpid(h->kilnd, &status, 0) == h->kilnd,
	    "waitpid kilnd");
	h->kilnd = -1;
	killed_ms = now_ms();
	/* The idle worker leaves; the busy one goes on. */
	harness_assert(h, harness_wait_for(h, 10000, one_left_cb, &w),
	    "after kilnd's death %s", harness_pid_alive(w.pids[0]) ?
	    "both workers still run (the idle one should exit)" :
	    "no worker is left: the job died with kilnd");
	busy = harness_pid_alive(w.pids[0]) ? w.pids[0] : w.pids[1];
	path = xasprintf("%s/go", h->shared);
	harness_write_file(h, path, "");
	free(path);
	fh.path = xasprintf("%s/done", h->shared);
	fh.needle = NULL;
	harness_assert(h, harness_wait_for(h, 20000, file_has_cb, &fh),
	    "the step did not finish while kilnd was dead");
	free(fh.path);
	/* A long outage: the worker waits for kilnd with the log. */
	while ((waited = now_ms() - killed_ms) < OUTAGE_MS)
		poll(NULL, 0, (int)(OUTAGE_MS - waited));
	harness_assert(h, harness_pid_alive(busy), "the worker running the "
	    "job did not outlive a %d ms outage", OUTAGE_MS);

	harness_start(h);
	/* Adopted: one worker of its own beside the one still running. */
	n = 2;
	harness_assert(h, harness_pid_alive(busy) && harness_workers(h,
	    w.pids, 2) == 1, "kilnd started %d workers beside the one left "
	    "running (count = 2)", harness_workers(h, w.pids, 2));
	fh.path = h->log_path;
	fh.needle = "adopted ";
	harness_assert(h, file_has_cb(h, &fh), "kilnd did not say it adopted "
	    "the worker left running");
	path = xasprintf("%s/go2", h->shared);
	harness_write_file(h, path, "");
	free(path);
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	job = harness_job(h, run, "crash");
	harness_expect_str(h, job, "job", "conclusion", "success");
	log = harness_job_log(h, run, "crash");
	expected_output(&want);
	harness_assert(h, count_of(log, want.data) == 1, "the stored log does "
	    "not hold the step's %zu bytes exactly once:\n%s", want.len, log);
	harness_assert(h, count_of(log, "before 01") == 1 &&
	    count_of(log, "after 40") == 1 &&
	    count_of(log, "\nthe second step ran after the restart\n") == 1 &&
	    count_of(log, "Job concluded: success\n") == 1,
	    "lines missing or twice in the log:\n%s", log);
	/* No second run of the job, no other job. */
	path = xasprintf("%s/starts", h->shared);
	starts = file_read_all(path, 4096, &len);
	free(path);
	harness_assert(h, starts != NULL && strcmp(starts, "run\n") == 0,
	    "the step started %s", starts ? starts : "(never)");
	free(starts);
	free(job_id);
	job_id = harness_sql(h, "SELECT count(*) || ' ' || max(attempt) "
	    "FROM jobs", NULL);
	harness_assert(h, strcmp(job_id, "1 1") == 0, "jobs (count, attempt):"
	    " %s", job_id);
	/* Its work done, the old worker leaves. */
	harness_assert(h, harness_wait_for(h, 15000, gone_cb, &busy),
	    "the worker kilnd's crash left behind still runs");
	harness_assert(h, harness_wait_for(h, 15000, own_workers_cb, &n),
	    "kilnd did not start its second worker once the adopted one "
	    "left");

	free(job_id);
	free(log);
	buf_free(&want);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static const char frozen_workflow[] =
    "name: frozen\n"
    "on: push\n"
    "jobs:\n"
    "  frozen:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo FROZEN-STARTED; sleep 300\n";

static int
frozen_running_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM steps s JOIN jobs j ON "
	    "j.id = s.job_id WHERE j.status = 'in_progress' AND s.status = "
	    "'in_progress'", NULL);
	int yes = strcmp(n, "1") == 0;

	(void)arg;
	free(n);
	return yes;
}

/*
 * The step's first line is in kilnd's log of the job: only then may the
 * worker be frozen and the line be expected there.  (Frozen between the
 * echo and its delivery, the worker would hold the line until after the
 * reaper had completed the job, and kilnd refuses a completed job's log.)
 */
static int
frozen_said_cb(struct harness *h, void *arg)
{
	char *row = harness_sql(h, "SELECT id FROM jobs", NULL);
	json_t *id = json_integer(atoll(row));
	char *log = harness_logs(h, id);
	int yes = strstr(log, "\nFROZEN-STARTED\n") != NULL;

	(void)arg;
	json_decref(id);
	free(log);
	free(row);
	return yes;
}

static int
job_completed_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM jobs WHERE status = "
	    "'completed'", NULL);
	int yes = strcmp(n, "1") == 0;

	(void)arg;
	free(n);
	return yes;
}

/*
 * Who concludes a job: the first recorded conclusion stands.  A worker
 * frozen past its lease has its job failed by the reaper, which says so in
 * the job's log and closes the worker's log connection; thawed, the worker
 * finds its job taken, and its own late conclusion changes nothing.
 */
START_TEST(test_a_reaped_job_stays_failed)
{
	struct harness *h = harness_new("reaped");
	struct harness_repo *repo;
	struct file_has fh;
	pid_t pids[4];
	char *sha, *row, *log;
	json_t *id;
	int n, i;

	harness_conf_add(h, "[workers]\nlease_seconds = 30\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/frozen");
	harness_repo_write(repo, ".github/workflows/frozen.yml",
	    frozen_workflow);
	sha = harness_push(h, repo, "main", "freeze the worker");
	harness_assert(h, harness_wait_for(h, 30000, frozen_running_cb, NULL),
	    "the step did not start");
	harness_assert(h, harness_wait_for(h, 30000, frozen_said_cb, NULL),
	    "the step's first line never reached kilnd");
	n = harness_workers(h, pids, (int)nitems(pids));
	for (i = 0; i < n; i++)
		harness_assert(h, kill(pids[i], SIGSTOP) == 0, "SIGSTOP");
	harness_assert(h, harness_wait_for(h, 50000, job_completed_cb, NULL),
	    "the frozen worker's job was not reaped");
	for (i = 0; i < n; i++)
		harness_assert(h, kill(pids[i], SIGCONT) == 0, "SIGCONT");
	row = harness_sql(h, "SELECT conclusion || ': ' || message FROM jobs",
	    NULL);
	harness_assert(h, strncmp(row, "failure: lease expired: worker ",
	    31) == 0, "the reaped job: %s", row);
	free(row);
	/* The thawed worker tries to conclude it, and is overruled. */
	fh.path = h->log_path;
	fh.needle = "but it had been completed already";
	harness_assert(h, harness_wait_for(h, 45000, file_has_cb, &fh),
	    "the thawed worker never tried to conclude its job");
	row = harness_sql(h, "SELECT conclusion FROM jobs", NULL);
	harness_assert(h, strcmp(row, "failure") == 0, "the reaper's failure "
	    "was overwritten with %s", row);
	free(row);
	row = harness_sql(h, "SELECT id FROM jobs", NULL);
	id = json_integer(atoll(row));
	log = harness_logs(h, id);
	json_decref(id);
	harness_assert(h, count_of(log, "\nFROZEN-STARTED\n") == 1 &&
	    count_of(log, "##[error]The job failed: lease expired: worker ") ==
	    1 && strstr(log, "Job concluded") == NULL, "the reaped job's log "
	    "(nothing after the reaper's line):\n%s", log);
	free(log);
	free(row);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
kilndcrash_suite(void)
{
	Suite *s = suite_create("kilndcrash");
	TCase *tc = tcase_create("kilndcrash");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_kilnd_crash_does_not_cancel_a_job);
	tcase_add_test(tc, test_a_reaped_job_stays_failed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(kilndcrash_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
