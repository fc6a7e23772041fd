/*
 * SIGHUP reloads kilnd's configuration and SIGTERM drains it: the worker count changes the
 * worker processes without touching a running job (a surplus worker
 * finishes its job, then exits); a broken file changes nothing and says
 * why, naming the line; keys that need a restart are named and keep their
 * running value.
 */
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

static char *
read_file(const char *path)
{
	struct buf b = { 0 };
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return xstrdup("");
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	buf_add(&b, "", 1);
	return b.data;
}

/* Replace the first occurrence of from with to in kilnd's config file. */
static void
conf_replace(struct harness *h, const char *from, const char *to)
{
	char *text = read_file(h->conf), *at;
	FILE *f;

	at = strstr(text, from);
	harness_assert(h, at != NULL, "\"%s\" not in the config", from);
	*at = '\0';
	f = fopen(h->conf, "w");
	harness_assert(h, f != NULL, "%s: %s", h->conf, strerror(errno));
	fprintf(f, "%s%s%s", text, to, at + strlen(from));
	fclose(f);
	free(text);
}

static void
hup(struct harness *h)
{
	harness_assert(h, kill(h->kilnd, SIGHUP) == 0, "SIGHUP: %s",
	    strerror(errno));
}

static int
nworkers_cb(struct harness *h, void *arg)
{
	pid_t pids[16];

	return harness_workers(h, pids, (int)nitems(pids)) == *(int *)arg;
}

static int
log_has_cb(struct harness *h, void *arg)
{
	char *text = read_file(h->log_path);
	int found = strstr(text, (const char *)arg) != NULL;

	free(text);
	return found;
}

static int
job_running_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM jobs "
	    "WHERE status = 'in_progress'", NULL);
	int yes = strcmp(n, "1") == 0;

	free(n);
	return yes;
}

START_TEST(test_worker_count_changes_without_touching_a_running_job)
{
	struct harness *h = harness_up("reload_workers");
	struct harness_repo *repo = harness_repo_new(h, "octo/reload");
	char *wf, *sha, *go, *worker, *again, *log;
	json_t *run;
	int want;
	FILE *f;

	want = 2;
	harness_assert(h, harness_wait_for(h, 30000, nworkers_cb, &want),
	    "not 2 workers at start");
	go = xasprintf("%s/go", h->shared);
	wf = xasprintf("on: push\njobs:\n  slow:\n    runs-on: self-hosted\n"
	    "    steps:\n      - run: |\n          while [ ! -e %s ]; do "
	    "sleep 0.1; done\n          echo FINISHED-AFTER-RELOAD\n", go);
	harness_repo_write(repo, ".github/workflows/slow.yml", wf);
	sha = harness_push(h, repo, "main", "slow job");
	harness_assert(h, harness_wait_for(h, 60000, job_running_cb, NULL),
	    "the job never ran");
	worker = harness_sql(h, "SELECT worker FROM jobs "
	    "WHERE status = 'in_progress'", NULL);

	/*
	 * Shrink to none while the job runs: every worker retires, the one
	 * running the job only after it.
	 */
	conf_replace(h, "count = 2", "count = 0");
	hup(h);
	harness_assert(h, harness_wait_for(h, 10000, log_has_cb,
	    "[workers] count applied"), "reload did not apply the count");
	harness_assert(h, harness_wait_for(h, 2000, job_running_cb, NULL),
	    "the job stopped running after the reload");
	again = harness_sql(h, "SELECT worker || ' ' || cancel_requested "
	    "FROM jobs WHERE status = 'in_progress'", NULL);
	{
		char *want_row = xasprintf("%s false", worker);

		harness_assert(h, strcmp(again, want_row) == 0,
		    "running job changed: \"%s\", was on %s", again, worker);
		free(want_row);
	}
	f = fopen(go, "w");
	harness_assert(h, f != NULL, "%s", go);
	fclose(f);
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_assert(h, strcmp(harness_str(run, "conclusion"),
	    "success") == 0, "run concluded %s", harness_str(run,
	    "conclusion"));
	log = harness_job_log(h, run, "slow");
	harness_assert(h, strstr(log, "FINISHED-AFTER-RELOAD") != NULL,
	    "log: %s", log);
	want = 0;
	harness_assert(h, harness_wait_for(h, 30000, nworkers_cb, &want),
	    "workers left after shrinking to none");

	/* Grow to three. */
	conf_replace(h, "count = 0", "count = 3");
	hup(h);
	want = 3;
	harness_assert(h, harness_wait_for(h, 30000, nworkers_cb, &want),
	    "not 3 workers after growing");

	json_decref(run);
	free(log);
	free(again);
	free(worker);
	free(sha);
	free(wf);
	free(go);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_broken_file_kept_and_restart_keys_named)
{
	struct harness *h = harness_up("reload_refused");
	struct harness_resp r;
	int want = 2;

	harness_assert(h, harness_wait_for(h, 30000, nworkers_cb, &want),
	    "not 2 workers at start");
	/* A broken file: nothing changes, the reason names the line. */
	conf_replace(h, "count = 2", "count = 1\n[nosuchsection]");
	hup(h);
	harness_assert(h, harness_wait_for(h, 10000, log_has_cb,
	    "reload refused"), "no refusal logged");
	harness_assert(h, log_has_cb(h, "unknown section [nosuchsection]"),
	    "the refusal does not say why");
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	harness_assert(h, r.status == 200, "healthz %ld after a refused "
	    "reload", r.status);
	harness_resp_free(&r);
	harness_assert(h, nworkers_cb(h, &want), "worker count changed by "
	    "a refused reload");

	/* A key read only at start-up: named, running value kept. */
	conf_replace(h, "count = 1\n[nosuchsection]", "count = 2");
	conf_replace(h, "[server]\n", "[server]\nwebhook_queue_bytes = 2000000\n");
	hup(h);
	harness_assert(h, harness_wait_for(h, 10000, log_has_cb,
	    "needs a restart to change: [server] webhook_queue_bytes"),
	    "the restart-only key is not named");
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	harness_assert(h, r.status == 200, "healthz %ld", r.status);
	harness_resp_free(&r);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static int
kilnd_exited_cb(struct harness *h, void *arg)
{
	return !harness_pid_alive(h->kilnd);
}

/*
 * SIGTERM drains: the running job finishes within [server] drain_seconds
 * and is recorded a success; kilnd then exits 0.
 */
START_TEST(test_sigterm_lets_a_running_job_finish)
{
	struct harness *h = harness_new("drain_finish");
	struct harness_repo *repo;
	char *wf, *sha, *go, *conclusion;
	FILE *f;

	harness_conf_add(h, "[server]\ndrain_seconds = 60\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/drain");
	go = xasprintf("%s/go", h->shared);
	wf = xasprintf("on: push\njobs:\n  slow:\n    runs-on: self-hosted\n"
	    "    steps:\n      - run: |\n          while [ ! -e %s ]; do "
	    "sleep 0.1; done\n          echo DRAINED-FINE\n", go);
	harness_repo_write(repo, ".github/workflows/slow.yml", wf);
	sha = harness_push(h, repo, "main", "slow job");
	harness_assert(h, harness_wait_for(h, 60000, job_running_cb, NULL),
	    "the job never ran");
	harness_assert(h, kill(h->kilnd, SIGTERM) == 0, "SIGTERM");
	/* Draining: kilnd waits for the job instead of cancelling it. */
	harness_assert(h, !harness_wait_for(h, 2000, kilnd_exited_cb, NULL),
	    "kilnd exited while its job was still running");
	harness_assert(h, harness_wait_for(h, 10000, log_has_cb,
	    "drain: 2 worker(s) finish their jobs"), "no drain logged");
	f = fopen(go, "w");
	harness_assert(h, f != NULL, "%s", go);
	fclose(f);
	harness_stop(h);	/* exits 0, nothing left behind */

	harness_start(h);
	conclusion = harness_sql(h, "SELECT status || '/' || conclusion "
	    "FROM jobs", NULL);
	harness_assert(h, strcmp(conclusion, "completed/success") == 0,
	    "the drained job is %s", conclusion);
	free(conclusion);
	free(sha);
	free(wf);
	free(go);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* Past drain_seconds, what still runs is cancelled and recorded so. */
START_TEST(test_drain_budget_cancels_what_still_runs)
{
	struct harness *h = harness_new("drain_cancel");
	struct harness_repo *repo;
	char *sha, *conclusion;
	int64_t t0;

	harness_conf_add(h, "[server]\ndrain_seconds = 2\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/drain");
	harness_repo_write(repo, ".github/workflows/slow.yml",
	    "on: push\njobs:\n  slow:\n    runs-on: self-hosted\n"
	    "    steps:\n      - run: sleep 600\n");
	sha = harness_push(h, repo, "main", "endless job");
	harness_assert(h, harness_wait_for(h, 60000, job_running_cb, NULL),
	    "the job never ran");
	t0 = now_ms();
	harness_stop(h);
	harness_assert(h, now_ms() - t0 >= 1900, "kilnd stopped after %lld ms, "
	    "before the 2 s drain", (long long)(now_ms() - t0));
	harness_start(h);
	conclusion = harness_sql(h, "SELECT status || '/' || conclusion "
	    "FROM jobs", NULL);
	harness_assert(h, strcmp(conclusion, "completed/cancelled") == 0,
	    "the job past the drain is %s", conclusion);
	free(conclusion);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("sighup");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_worker_count_changes_without_touching_a_running_job);
	tcase_add_test(tc, test_broken_file_kept_and_restart_keys_named);
	tcase_add_test(tc, test_sigterm_lets_a_running_job_finish);
	tcase_add_test(tc, test_drain_budget_cancels_what_still_runs);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reload_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
