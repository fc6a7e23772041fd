/*
 * Integration test of the request id and key=value log lines: a webhook
 * delivery's X-GitHub-Delivery is logged when kilnd accepts it, carried
 * by the planner to the line of the run it creates and shown with the
 * run (`cictl show --json` "delivery"); job lines name their job, run and
 * conclusion as fields, a value with a blank in quotes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct log_wait {
	const char	*needle;
};

static int
log_has_cb(struct harness *h, void *arg)
{
	struct log_wait *w = arg;
	char *text = file_read_all(h->log_path, 64 << 20, NULL);
	int ok = text != NULL && strstr(text, w->needle) != NULL;

	free(text);
	return ok;
}

static void
expect_log(struct harness *h, const char *needle)
{
	struct log_wait w = { needle };

	if (!harness_wait_for(h, HARNESS_RUN_MS, log_has_cb, &w))
		harness_fail(h, "kilnd's log never had: %s", needle);
}

START_TEST(test_delivery_id_reaches_the_run)
{
	struct harness *h = harness_up("logfields");
	struct harness_repo *repo = harness_repo_new(h, "octo/logs");
	struct harness_resp resp = { 0 };
	char *sha, *before = NULL, *body, *sig, *guid = harness_guid();
	char *line;
	json_t *ev, *run;
	long long run_id, job_id;

	harness_repo_write(repo, ".github/workflows/ci.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  build:\n"
	    "    name: two words\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: true\n");
	sha = harness_repo_commit_push(repo, "main", "ci", &before);
	ev = harness_push_event(repo, "refs/heads/main", before, sha, "ci");
	body = harness_json_text(ev);
	sig = harness_sign(repo->secret, body, strlen(body));
	harness_webhook(h, "push", guid, sig, body, strlen(body), &resp);
	harness_assert(h, resp.status == 202, "webhook: HTTP %ld",
	    resp.status);

	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "delivery", guid);
	run_id = json_integer_value(json_object_get(run, "id"));
	job_id = json_integer_value(json_object_get(json_array_get(
	    json_object_get(run, "jobs"), 0), "id"));

	line = xasprintf("delivery accepted: delivery=%s event=push "
	    "repo=octo/logs event_id=", guid);
	expect_log(h, line);
	free(line);
	line = xasprintf("run created: run=%lld event_id=", run_id);
	expect_log(h, line);
	free(line);
	line = xasprintf(" delivery=%s repo=octo/logs "
	    "workflow=.github/workflows/ci.yml jobs=1", guid);
	expect_log(h, line);
	free(line);
	line = xasprintf("job concluded: job=%lld run=%lld name=\"two words\" "
	    "conclusion=success", job_id, run_id);
	expect_log(h, line);
	free(line);

	harness_resp_free(&resp);
	json_decref(run);
	json_decref(ev);
	free(body);
	free(sig);
	free(guid);
	free(before);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
logfields_suite(void)
{
	Suite *s = suite_create("logfields");
	TCase *tc = tcase_create("logfields");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_delivery_id_reaches_the_run);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(logfields_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
