/*
 * kilnd's processes: it supervises its workers (a killed one comes back),
 * stops everything it started on SIGTERM or SIGINT, and keeps its state
 * across a restart on the same state directory.  Each test has its own
 * kilnd.
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

#define WORKERS	2	/* [workers] count in the harness's config */

static const char workflow[] =
    "name: hello\n"
    "on: push\n"
    "jobs:\n"
    "  hello:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - name: hello\n"
    "        run: echo \"HELLO-$((20 + 22))\"\n";

static int
workers_up_cb(struct harness *h, void *arg)
{
	pid_t pids[16];

	(void)arg;
	return harness_workers(h, pids, (int)nitems(pids)) == WORKERS;
}

struct replaced {
	pid_t	killed;
	pid_t	now[16];
	int	n;
};

/* WORKERS workers again, none of them the killed one. */
static int
worker_replaced_cb(struct harness *h, void *arg)
{
	struct replaced *r = arg;
	int i;

	r->n = harness_workers(h, r->now, (int)nitems(r->now));
	if (r->n != WORKERS)
		return 0;
	for (i = 0; i < r->n; i++)
		if (r->now[i] == r->killed)
			return 0;
	return !harness_pid_alive(r->killed);
}

/* Push the hello workflow and require a successful run. */
static void
push_and_succeed(struct harness *h, struct harness_repo *repo,
    const char *message)
{
	json_t *run;
	char *sha, *log;

	sha = harness_push(h, repo, "main", message);
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_logs(h, json_object_get(harness_job(h, run, "hello"),
	    "id"));
	harness_expect_contains(h, log, "log of hello", "HELLO-42");
	free(log);
	json_decref(run);
	free(sha);
}

static int
job_running_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM steps WHERE "
	    "status = 'in_progress'", NULL);
	int yes = strcmp(n, "0") != 0;

	(void)arg;
	free(n);
	return yes;
}

/*
 * A worker killed in the middle of a job: the job fails, and both its
 * message and its log say the worker was lost (and how it ended).
 */
START_TEST(test_lost_worker_job_says_so)
{
	struct harness *h = harness_up("lost_worker");
	struct harness_repo *repo = harness_repo_new(h, "octo/lost");
	pid_t pids[16];
	char *sha, *log;
	json_t *run, *job;
	const char *msg;
	int n, i;

	harness_repo_write(repo, ".github/workflows/long.yml",
	    "name: long\non: push\njobs:\n  long:\n    runs-on: self-hosted\n"
	    "    steps:\n      - run: echo started-long; sleep 120\n");
	sha = harness_push(h, repo, "main", "long");
	harness_assert(h, harness_wait_for(h, 30000, job_running_cb, NULL),
	    "the job's step never started");
	n = harness_workers(h, pids, (int)nitems(pids));
	for (i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "failure");
	job = harness_job(h, run, "long");
	msg = json_string_value(json_object_get(job, "message"));
	harness_assert(h, msg != NULL && strstr(msg, "worker lost") != NULL &&
	    strstr(msg, "signal 9") != NULL, "the job's message: %s",
	    msg ? msg : "(none)");
	log = harness_logs(h, json_object_get(job, "id"));
	harness_expect_contains(h, log, "log of the lost job", "started-long");
	harness_expect_contains(h, log, "log of the lost job",
	    "The job failed: worker lost");
	free(log);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_killed_worker_is_restarted_and_jobs_still_run)
{
	struct harness *h = harness_up("killed_worker");
	struct harness_repo *repo;
	struct replaced r;
	pid_t pids[16];
	int n;

	harness_assert(h, harness_wait_for(h, 30000, workers_up_cb, NULL),
	    "kilnd does not have %d kiln-worker children", WORKERS);
	n = harness_workers(h, pids, (int)nitems(pids));
	harness_assert(h, n == WORKERS, "%d workers", n);

	/* For real: SIGKILL, no chance to say goodbye. */
	r.killed = pids[0];
	harness_assert(h, kill(r.killed, SIGKILL) == 0, "kill worker %d: %s",
	    (int)r.killed, strerror(errno));
	harness_assert(h, harness_wait_for(h, 30000, worker_replaced_cb, &r),
	    "kilnd did not replace worker %d (it has %d workers)",
	    (int)r.killed, r.n);

	repo = harness_repo_new(h, "octo/survivor");
	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	push_and_succeed(h, repo, "after a worker died");

	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_sigterm_stops_kilnd_workers_and_postgres)
{
	struct harness *h = harness_up("sigterm_stops_all");
	struct harness_repo *repo = harness_repo_new(h, "octo/stop");
	struct buf before = { 0 };
	pid_t workers[16];
	int n, i;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	push_and_succeed(h, repo, "work before stopping");

	/* What must be gone afterwards: workers, postgres and its backends. */
	harness_assert(h, harness_wait_for(h, 30000, workers_up_cb, NULL),
	    "kilnd does not have %d kiln-worker children", WORKERS);
	n = harness_workers(h, workers, (int)nitems(workers));
	harness_leftovers(h, &before);
	harness_assert(h, before.data != NULL &&
	    strstr(before.data, "(postgres)") != NULL,
	    "no embedded postgres found among the test's processes:\n%s",
	    before.data != NULL ? before.data : "(none)");

	/* Exit 0 within 15 s, nothing of the test left (see harness.h). */
	harness_stop(h);
	for (i = 0; i < n; i++)
		harness_assert(h, !harness_pid_alive(workers[i]),
		    "worker %d outlived kilnd", (int)workers[i]);

	buf_free(&before);
	harness_repo_free(repo);
	harness_free(h);
}
END_TEST

START_TEST(test_restart_keeps_runs_and_sigint_stops_cleanly)
{
	struct harness *h = harness_up("restart_keeps_runs");
	struct harness_repo *repo = harness_repo_new(h, "octo/restart");
	json_t *runs, *run;
	char *sha;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	sha = harness_push(h, repo, "main", "before restart");
	json_decref(harness_wait_run(h, sha, NULL, HARNESS_RUN_MS));
	harness_stop(h);

	/* Same state directory: the cluster exists, migrations are applied. */
	harness_start(h);
	runs = harness_runs(h);
	run = harness_find(runs, "head_sha", sha);
	harness_assert(h, run != NULL, "the run of %s is gone after a "
	    "restart: %s", sha, harness_json_text(runs));
	harness_expect_str(h, run, "run after restart", "conclusion",
	    "success");
	json_decref(runs);
	free(sha);

	/* The repository and its secret survived too. */
	harness_repo_write(repo, "again.txt", "again\n");
	push_and_succeed(h, repo, "after restart");

	harness_stop_signal(h, SIGINT);
	harness_repo_free(repo);
	harness_free(h);
}
END_TEST


/*
 * /healthz is 200 while the database answers and 503 when it does not,
 * within a bound even when the database hangs instead of failing.
 */
START_TEST(test_healthz_is_503_while_database_hangs)
{
	struct harness *h = harness_up("healthz_hang");
	struct harness_resp r;
	int64_t t0, took;
	int n;

	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	harness_assert(h, r.status == 200, "healthz before: %ld", r.status);
	harness_resp_free(&r);
	n = harness_signal_postgres(h, SIGSTOP);
	harness_assert(h, n > 0, "found no postgres process to stop");
	t0 = now_ms();
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	took = now_ms() - t0;
	harness_signal_postgres(h, SIGCONT);
	harness_assert(h, r.status == 503, "healthz with a hung database: "
	    "%ld (%s)", r.status, r.body.data ? r.body.data : "");
	harness_assert(h, took < 10000, "healthz took %lld ms",
	    (long long)took);
	harness_resp_free(&r);
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	harness_assert(h, r.status == 200, "healthz after: %ld", r.status);
	harness_resp_free(&r);
	harness_stop(h);
	harness_free(h);
}
END_TEST


/*
 * The database conninfo (which may hold a password) reaches workers
 * through their environment, never their command line: /proc/PID/cmdline
 * is readable by every local user.
 */
START_TEST(test_worker_command_line_has_no_conninfo)
{
	struct harness *h = harness_up("no_conninfo_in_argv");
	pid_t pids[8];
	char path[64], *text;
	size_t len, i;
	int n, k;

	n = harness_workers(h, pids, 8);
	harness_assert(h, n > 0, "no workers found");
	for (k = 0; k < n && k < 8; k++) {
		snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pids[k]);
		text = file_read_all(path, 65536, &len);
		harness_assert(h, text != NULL, "reading %s", path);
		for (i = 0; i < len; i++)
			if (text[i] == '\0')
				text[i] = ' ';
		harness_assert(h, strstr(text, "host=") == NULL &&
		    strstr(text, "dbname=") == NULL &&
		    strstr(text, "--database") == NULL,
		    "worker command line carries the conninfo: %s", text);
		free(text);
	}
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * A new Debian box has no initdb on PATH (the development machines have
 * /usr/local/bin links): kilnd finds the server programs itself and runs
 * them by their full path, so initdb also finds postgres beside itself.
 */
START_TEST(test_embedded_postgres_without_initdb_on_path)
{
	struct harness *h = harness_new("pg_not_on_path");
	struct harness_repo *repo;
	char *old = xstrdup(getenv("PATH"));

	/* /usr/bin has pg_config (libpq-dev) and bash, never initdb. */
	setenv("PATH", "/usr/bin:/bin", 1);
	harness_start(h);
	setenv("PATH", old, 1);
	free(old);
	repo = harness_repo_new(h, "acme/pgpath");
	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	push_and_succeed(h, repo, "first");
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * What an idle install holds.  The first start creates the kiln database
 * without reading template1 through shared_buffers (PostgreSQL 15's
 * default strategy copies it block by block there: 780 of the 2048
 * buffers held template pages that stayed resident in an idle install).
 */
START_TEST(test_idle_install_leaves_out_what_it_does_not_use)
{
	struct harness *h = harness_up("idle_install");
	char *n;

	free(harness_sql(h, "CREATE EXTENSION IF NOT EXISTS pg_buffercache",
	    NULL));
	n = harness_sql(h, "SELECT count(*) FROM pg_buffercache b JOIN "
	    "pg_database d ON d.oid = b.reldatabase WHERE d.datname = "
	    "'template1'", NULL);
	harness_assert(h, atoi(n) < 32, "%s shared buffers hold template1's "
	    "pages after the first start", n);
	free(n);
	/*
	 * And kilnd without [github] reporting maps no libcurl (opened only
	 * for reporting: curl_dl.c), nor libevent's all-in-one library
	 * beside libevent_core (configure.ac).
	 */
	harness_assert(h, !harness_maps_have(h->kilnd, "libcurl"),
	    "kilnd maps libcurl without [github]");
	harness_assert(h, !harness_maps_have(h->kilnd, "libevent-2"),
	    "kilnd maps libevent-2.1.so beside libevent_core");
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* A pg_bindir without the server programs: kilnd says so and stops. */
START_TEST(test_pg_bindir_without_server_is_refused)
{
	struct harness *h = harness_new("pg_bindir_empty");
	struct buf out = { 0 }, err = { 0 };
	char *kilnd, *conf, *empty;
	int rc;

	empty = xasprintf("%s/empty-bin", h->state_dir);
	harness_assert(h, mkdir_p(empty, 0755) == 0, "mkdir %s", empty);
	conf = xasprintf("[database]\npg_bindir = %s\n", empty);
	harness_conf_add(h, conf);
	kilnd = xasprintf("%s/kilnd", getenv("KILN_BINDIR"));
	rc = harness_run((char *[]){ kilnd, "-c", h->conf,
	    NULL }, NULL, NULL, &out, &err, 30000);
	harness_assert(h, rc > 0, "kilnd with an empty pg_bindir exited %d",
	    rc);
	harness_expect_contains(h, err.data ? err.data : "", "kilnd's stderr",
	    "pg_bindir");
	harness_expect_contains(h, err.data ? err.data : "", "kilnd's stderr",
	    empty);
	harness_expect_contains(h, err.data ? err.data : "", "kilnd's stderr",
	    "initdb");
	buf_free(&out);
	buf_free(&err);
	free(kilnd);
	free(conf);
	free(empty);
	harness_free(h);
}
END_TEST

static Suite *
lifecycle_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_killed_worker_is_restarted_and_jobs_still_run);
	tcase_add_test(tc, test_lost_worker_job_says_so);
	tcase_add_test(tc, test_sigterm_stops_kilnd_workers_and_postgres);
	tcase_add_test(tc, test_healthz_is_503_while_database_hangs);
	tcase_add_test(tc, test_worker_command_line_has_no_conninfo);
	tcase_add_test(tc, test_restart_keeps_runs_and_sigint_stops_cleanly);
	tcase_add_test(tc, test_embedded_postgres_without_initdb_on_path);
	tcase_add_test(tc, test_pg_bindir_without_server_is_refused);
	tcase_add_test(tc, test_idle_install_leaves_out_what_it_does_not_use);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lifecycle_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
