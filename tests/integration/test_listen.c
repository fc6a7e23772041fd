/*
 * A worker wakes on NOTIFY: a connection reset (PQreset) gives it a new
 * database session, which listens to nothing until told again.  A worker
 * that forgot would wake only by its fallback poll; this one polls once
 * an hour (--poll-ms), so only a NOTIFY can wake it within the test.
 *
 * Real parts: kilnd with its embedded PostgreSQL and two workers, a third
 * kiln-worker started here with a label only it has, its backend killed
 * with pg_terminate_backend() while it runs a job (so that completing the
 * job goes through PQreset), then a second push whose job only it can run.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define RUN_MS		60000
#define MARK_MS		30000
#define APP_NAME	"kiln-worker/listener"

static int
file_exists_cb(struct harness *h, void *arg)
{
	return access((const char *)arg, F_OK) == 0;
}

/* The listener's session is idle: it waits for work (or a NOTIFY). */
static int
listener_idle_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM pg_stat_activity "
	    "WHERE application_name = $1 AND state = 'idle'", APP_NAME, NULL);
	int idle = strcmp(n, "0") != 0;

	free(n);
	return idle;
}

START_TEST(test_reset_connection_listens_again)
{
	struct harness *h = harness_up("listen");
	struct harness_repo *repo = harness_repo_new(h, "octo/listen");
	char *argv[16], *worker, *workdir, *wf, *started, *go, *sha1, *sha2,
	    *n;
	json_t *run;
	pid_t pid;
	int argc = 0;

	worker = xasprintf("%s/kiln-worker", h->bindir);
	workdir = xasprintf("%s/listener", h->dir);
	argv[argc++] = worker;
	argv[argc++] = (char *)"-c";
	argv[argc++] = h->conf;
	argv[argc++] = (char *)"--name";
	argv[argc++] = (char *)"listener";
	argv[argc++] = (char *)"--labels";
	argv[argc++] = (char *)"listener-only";
	argv[argc++] = (char *)"--work-dir";
	argv[argc++] = workdir;
	argv[argc++] = (char *)"--poll-ms";
	argv[argc++] = (char *)"3600000";
	argv[argc] = NULL;
	pid = harness_spawn(h, argv);

	/* Each run's step waits for its go file; the sha names the files. */
	wf = xasprintf(
	    "name: listen\n"
	    "on: push\n"
	    "jobs:\n"
	    "  only:\n"
	    "    runs-on: listener-only\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          touch \"%s/started-$GITHUB_SHA\"\n"
	    "          for i in $(seq 600); do\n"
	    "            [ -e \"%s/go-$GITHUB_SHA\" ] && exit 0\n"
	    "            sleep 0.1\n"
	    "          done\n"
	    "          exit 1\n", h->shared, h->shared);
	harness_repo_write(repo, ".github/workflows/listen.yml", wf);
	sha1 = harness_push(h, repo, "main", "first");
	started = xasprintf("%s/started-%s", h->shared, sha1);
	harness_assert(h, harness_wait_for(h, MARK_MS, file_exists_cb,
	    started), "the listener did not start the first job");

	/* Kill its session mid-job: finishing the job resets it. */
	n = harness_sql(h, "SELECT count(pg_terminate_backend(pid)) FROM "
	    "pg_stat_activity WHERE application_name = $1", APP_NAME, NULL);
	harness_assert(h, strcmp(n, "0") != 0, "no session of %s to kill",
	    APP_NAME);
	free(n);
	go = xasprintf("%s/go-%s", h->shared, sha1);
	harness_write_file(h, go, "");
	free(go);
	run = harness_wait_run(h, sha1, NULL, RUN_MS);
	harness_expect_str(h, run, "first run", "conclusion", "success");
	json_decref(run);

	/* Waiting on its new session; only a NOTIFY can wake it now. */
	harness_assert(h, harness_wait_for(h, MARK_MS, listener_idle_cb, NULL),
	    "the listener's new session never went idle");
	harness_repo_write(repo, "second.txt", "second\n");
	sha2 = harness_push(h, repo, "main", "second push");
	go = xasprintf("%s/go-%s", h->shared, sha2);
	harness_write_file(h, go, "");
	free(go);
	run = harness_wait_run(h, sha2, NULL, RUN_MS);
	harness_expect_str(h, run, "second run", "conclusion", "success");
	json_decref(run);

	harness_kill(h, pid);
	free(sha1);
	free(sha2);
	free(started);
	free(wf);
	free(workdir);
	free(worker);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
listen_suite(void)
{
	Suite *s = suite_create("listen");
	TCase *tc = tcase_create("listen");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_reset_connection_listens_again);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(listen_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
