/*
 * GET /metrics parses with Prometheus' own text-format parser (Debian's
 * python3-prometheus-client) and its counters move with real webhooks and
 * jobs; /readyz; [metrics] access = token refuses a scrape without one.
 * cictl status, workers and queue say what runs where and why jobs wait.
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

static const char workflow[] =
    "on: push\n"
    "jobs:\n"
    "  hello:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo hello\n";

/* Every sample as {"name{labels}": value}, by prometheus_client's parser. */
static const char parse_py[] =
    "import json, sys\n"
    "from prometheus_client.parser import text_string_to_metric_families\n"
    "out = {}\n"
    "for fam in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
    "    for s in fam.samples:\n"
    "        labels = ','.join('%s=%s' % kv for kv in sorted(s.labels.items()))\n"
    "        out['%s{%s}' % (s.name, labels)] = s.value\n"
    "print(json.dumps(out))\n";

static json_t *
scrape(struct harness *h)
{
	struct harness_resp r;
	struct buf out = { 0 }, err = { 0 };
	char *path = xasprintf("%s/metrics.txt", h->dir), *ctype;
	/* Debian's interpreter: the parser is its package. */
	char *argv[] = { "/usr/bin/python3", "-c", (char *)parse_py, path, NULL };
	json_t *samples;
	FILE *f;
	int rc;

	harness_http(h, "GET", "/metrics", NULL, NULL, 0, &r);
	harness_assert(h, r.status == 200, "/metrics answered %ld: %.*s",
	    r.status, (int)r.body.len, r.body.data);
	ctype = harness_resp_header(&r, "Content-Type");
	harness_assert(h, ctype != NULL && strstr(ctype, "version=0.0.4"),
	    "Content-Type %s", ctype ? ctype : "(none)");
	f = fopen(path, "w");
	harness_assert(h, f != NULL, "%s", path);
	fwrite(r.body.data, 1, r.body.len, f);
	fclose(f);
	rc = harness_run(argv, NULL, NULL, &out, &err, 30000);
	buf_add(&out, "", 1);
	buf_add(&err, "", 1);
	harness_assert(h, rc == 0, "the Prometheus parser refused it "
	    "(%d): %s\n%.*s", rc, err.data, (int)r.body.len, r.body.data);
	samples = json_loads(out.data, 0, NULL);
	harness_assert(h, samples != NULL, "parser output: %s", out.data);
	free(ctype);
	free(path);
	buf_free(&out);
	buf_free(&err);
	harness_resp_free(&r);
	return samples;
}

static double
sample(const json_t *samples, const char *key)
{
	json_t *v = json_object_get(samples, key);

	return v == NULL ? -1 : json_number_value(v);
}

/* A delivery kilnd refuses: X-GitHub-Event push, body not JSON. */
static void
bad_delivery(struct harness *h)
{
	struct harness_resp r;
	char *guid = harness_guid(), *hdr = xasprintf("X-GitHub-Delivery: %s",
	    guid);
	const char *headers[] = { "X-GitHub-Event: push", hdr,
	    "Content-Type: application/json", NULL };

	harness_http(h, "POST", "/hooks/github", headers, "{nope", 5, &r);
	harness_assert(h, r.status == 400, "bad delivery answered %ld",
	    r.status);
	harness_resp_free(&r);
	free(hdr);
	free(guid);
}

START_TEST(test_metrics_parse_and_move)
{
	struct harness *h = harness_up("metrics");
	struct harness_repo *repo = harness_repo_new(h, "octo/metrics");
	struct harness_resp r;
	json_t *before, *after, *run;
	char *sha;
	FILE *f;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	sha = harness_push(h, repo, "main", "first");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	bad_delivery(h);

	before = scrape(h);
	harness_assert(h, sample(before, "kiln_webhook_deliveries_total"
	    "{code=202,event=push}") == 1, "202 pushes: %g",
	    sample(before, "kiln_webhook_deliveries_total{code=202,event=push}"));
	harness_assert(h, sample(before, "kiln_webhook_deliveries_total"
	    "{code=400,event=push}") == 1, "400 pushes");
	harness_assert(h, sample(before, "kiln_jobs{conclusion=success,"
	    "status=completed}") == 1, "completed jobs");
	harness_assert(h, sample(before, "kiln_runs{conclusion=success,"
	    "status=completed}") == 1, "completed runs");
	harness_assert(h, sample(before, "kiln_job_duration_seconds_count{}")
	    == 1, "duration count");
	harness_assert(h, sample(before, "kiln_job_wait_seconds_bucket"
	    "{le=+Inf}") == 1, "wait +Inf bucket");
	harness_assert(h, sample(before, "kiln_local_workers{}") == 2,
	    "local workers");
	harness_assert(h, sample(before, "kiln_process_resident_memory_bytes{}")
	    > 1e6, "rss");
	/* What kilnd counts in memory: intake, the pool, stored logs. */
	harness_assert(h, sample(before, "kiln_webhook_intake_seconds_count{}")
	    >= 1 && sample(before, "kiln_webhook_intake_seconds_bucket"
	    "{le=+Inf}") == sample(before,
	    "kiln_webhook_intake_seconds_count{}"), "intake histogram");
	harness_assert(h, sample(before, "kiln_database_wait_seconds_count{}")
	    > 0, "database wait histogram");
	harness_assert(h, sample(before, "kiln_database_connections_busy{}")
	    >= 0 && sample(before, "kiln_database_queries_waiting{}") >= 0,
	    "database pool gauges");
	harness_assert(h, sample(before, "kiln_log_bytes_stored_total{}") > 0,
	    "log bytes stored");
	harness_assert(h, sample(before, "kiln_event_planning_seconds_count{}")
	    >= 1, "planning histogram");
	free(harness_sql(h, "INSERT INTO outbox (repository_id, sha, kind, "
	    "context, state, status) SELECT id, repeat('a', 40), 'status', "
	    "'kiln/x', 'failure', 'failed' FROM repositories", NULL));

	/* The counters move with the next push. */
	free(sha);
	harness_repo_write(repo, "README", "again\n");
	sha = harness_push(h, repo, "main", "second");
	json_decref(run);
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	after = scrape(h);
	harness_assert(h, sample(after, "kiln_webhook_deliveries_total"
	    "{code=202,event=push}") == 2, "202 pushes after: %g",
	    sample(after, "kiln_webhook_deliveries_total{code=202,event=push}"));
	harness_assert(h, sample(after, "kiln_jobs{conclusion=success,"
	    "status=completed}") == 2, "completed jobs after");
	harness_assert(h, sample(after, "kiln_webhook_intake_seconds_count{}")
	    == sample(before, "kiln_webhook_intake_seconds_count{}") + 1,
	    "intake count after one push: %g -> %g", sample(before,
	    "kiln_webhook_intake_seconds_count{}"), sample(after,
	    "kiln_webhook_intake_seconds_count{}"));
	harness_assert(h, sample(after, "kiln_log_bytes_stored_total{}") >
	    sample(before, "kiln_log_bytes_stored_total{}"),
	    "log bytes stored after a second job");
	harness_assert(h, sample(after, "kiln_event_planning_seconds_count{}")
	    > sample(before, "kiln_event_planning_seconds_count{}"),
	    "planning count after a push");
	harness_assert(h, sample(after, "kiln_outbox_calls{status=failed}") ==
	    1, "failed outbox calls: %g", sample(after,
	    "kiln_outbox_calls{status=failed}"));

	harness_http(h, "GET", "/readyz", NULL, NULL, 0, &r);
	harness_assert(h, r.status == 200, "readyz %ld", r.status);
	harness_resp_free(&r);

	/* access = token, applied by a reload: no token, no metrics. */
	f = fopen(h->conf, "a");
	harness_assert(h, f != NULL, "%s: %s", h->conf, strerror(errno));
	fputs("[metrics]\naccess = token\n", f);
	fclose(f);
	harness_assert(h, kill(h->kilnd, SIGHUP) == 0, "SIGHUP");
	{
		int64_t end = now_ms() + 10000;

		do {
			harness_http(h, "GET", "/metrics", NULL, NULL, 0, &r);
			if (r.status == 401)
				break;
			harness_resp_free(&r);
		} while (now_ms() < end);
		harness_assert(h, r.status == 401, "/metrics without a token "
		    "under access = token: %ld", r.status);
		harness_resp_free(&r);
	}

	json_decref(before);
	json_decref(after);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static int
one_running_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM jobs "
	    "WHERE status = 'in_progress'", NULL);
	int yes = strcmp(n, "1") == 0;

	free(n);
	return yes;
}

static int
two_registered_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM workers", NULL);
	int yes = strcmp(n, "2") == 0;

	free(n);
	return yes;
}

/* cictl status, workers and queue, against a busy worker and a job no
 * worker can take. */
START_TEST(test_cictl_status_workers_queue)
{
	struct harness *h = harness_up("ops");
	struct harness_repo *repo = harness_repo_new(h, "octo/ops");
	struct buf out = { 0 }, err = { 0 };
	char *go = xasprintf("%s/go", h->shared), *wf, *sha, *line;
	json_t *workers, *queue, *w;
	size_t i;
	int busy = 0, rc;
	FILE *f;

	harness_assert(h, harness_wait_for(h, 30000, two_registered_cb, NULL),
	    "workers did not register");
	wf = xasprintf("on: push\njobs:\n  slow:\n    runs-on: self-hosted\n"
	    "    steps:\n      - run: |\n          while [ ! -e %s ]; do "
	    "sleep 0.1; done\n  gpu:\n    runs-on: [self-hosted, gpu]\n"
	    "    steps:\n      - run: echo never\n", go);
	harness_repo_write(repo, ".github/workflows/ops.yml", wf);
	sha = harness_push(h, repo, "main", "busy");
	harness_assert(h, harness_wait_for(h, 60000, one_running_cb, NULL),
	    "the slow job never ran");

	rc = harness_cictl(h, &out, &err, "status", NULL);
	buf_add(&out, "", 1);
	harness_assert(h, rc == 0, "cictl status: %d", rc);
	harness_assert(h, strstr(out.data, "local workers: 2 running of 2 "
	    "configured") != NULL && strstr(out.data, "1 in progress") &&
	    strstr(out.data, ": running,") && strstr(out.data, "(slow) of run"),
	    "cictl status:\n%s", out.data);
	buf_free(&out);

	workers = harness_cictl_json(h, "workers", "--json", NULL);
	harness_assert(h, json_array_size(workers) == 2, "%zu workers",
	    json_array_size(workers));
	json_array_foreach(workers, i, w)
		if (json_integer_value(json_object_get(w, "job_id")) > 0)
			busy++;
	harness_assert(h, busy == 1, "%d busy workers", busy);

	queue = harness_cictl_json(h, "queue", "--json", NULL);
	harness_assert(h, json_array_size(queue) == 1, "queue: %zu",
	    json_array_size(queue));
	line = (char *)harness_str(json_array_get(queue, 0), "why");
	harness_assert(h, line != NULL && strstr(line, "no live worker has the "
	    "labels") && strstr(line, "gpu"), "why: %s", line ? line : "-");
	rc = harness_cictl(h, &out, &err, "queue", NULL);
	buf_add(&out, "", 1);
	harness_assert(h, rc == 0 && strstr(out.data, "gpu") != NULL,
	    "cictl queue:\n%s", out.data);

	f = fopen(go, "w");
	harness_assert(h, f != NULL, "%s", go);
	fclose(f);
	json_decref(workers);
	json_decref(queue);
	buf_free(&out);
	buf_free(&err);
	free(sha);
	free(wf);
	free(go);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static char *
slurp(const char *path)
{
	struct buf b = { 0 };
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			buf_add(&b, chunk, n);
		fclose(f);
	}
	buf_add(&b, "", 1);
	return b.data;
}

static int
file_has_cb(struct harness *h, void *arg)
{
	const char *const *pa = arg;
	char *text = slurp(pa[0]);
	int yes = strstr(text, pa[1]) != NULL;

	free(text);
	return yes;
}

/* cictl logs -f prints lines while the job runs and exits 1 on failure. */
START_TEST(test_cictl_logs_follow)
{
	struct harness *h = harness_up("logs_follow");
	struct harness_repo *repo = harness_repo_new(h, "octo/follow");
	char *go = xasprintf("%s/go", h->shared), *wf, *sha, *out, *rcf;
	char *cmd, *id, *text;
	const char *pa[2];
	pid_t pid;
	FILE *f;

	wf = xasprintf("on: push\njobs:\n  tail:\n    runs-on: self-hosted\n"
	    "    steps:\n      - run: |\n          echo FIRST-$((0 + 1))\n"
	    "          while [ ! -e %s ]; do sleep 0.1; done\n"
	    "          echo SECOND-$((1 + 1))\n          exit 3\n", go);
	harness_repo_write(repo, ".github/workflows/tail.yml", wf);
	sha = harness_push(h, repo, "main", "follow me");
	harness_assert(h, harness_wait_for(h, 60000, one_running_cb, NULL),
	    "the job never ran");
	id = harness_sql(h, "SELECT id FROM jobs", NULL);
	out = xasprintf("%s/follow.out", h->dir);
	rcf = xasprintf("%s/follow.rc", h->dir);
	cmd = xasprintf("'%s/cictl' -c '%s' logs -f %s > '%s'; echo $? > '%s'",
	    h->bindir, h->conf, id, out, rcf);
	{
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };

		pid = harness_spawn(h, argv);
	}
	pa[0] = out;
	pa[1] = "FIRST-1";
	harness_assert(h, harness_wait_for(h, 20000, file_has_cb, pa),
	    "cictl logs -f did not print the first line while the job ran");
	text = slurp(out);
	harness_assert(h, strstr(text, "SECOND-2") == NULL,
	    "second line before it was written");
	free(text);
	f = fopen(go, "w");
	harness_assert(h, f != NULL, "%s", go);
	fclose(f);
	pa[0] = rcf;
	pa[1] = "\n";
	harness_assert(h, harness_wait_for(h, 30000, file_has_cb, pa),
	    "cictl logs -f did not end with the job");
	text = slurp(rcf);
	harness_assert(h, strcmp(text, "1\n") == 0, "cictl logs -f exit "
	    "status %s for a failed job", text);
	free(text);
	text = slurp(out);
	harness_assert(h, strstr(text, "FIRST-1") && strstr(text,
	    "SECOND-2"), "followed log:\n%s", text);
	free(text);
	harness_kill(h, pid);
	free(cmd);
	free(id);
	free(out);
	free(rcf);
	free(sha);
	free(wf);
	free(go);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

struct fake_sha {
	const char	*sha;
	json_t		*event;		/* the trigger, once completed */
};

static int
trigger_done_cb(struct harness *h, void *arg)
{
	struct fake_sha *f = arg;
	json_t *list = harness_cictl_json(h, "triggers", "--json", NULL), *e;
	size_t i;

	json_array_foreach(list, i, e) {
		const char *sha = harness_str(e, "sha");
		const char *st = harness_str(e, "status");

		if (sha && strcmp(sha, f->sha) == 0 && st &&
		    strcmp(st, "completed") == 0) {
			f->event = json_incref(e);
			break;
		}
	}
	json_decref(list);
	return f->event != NULL;
}

/* A push naming a commit the repository lacks: cictl says why nothing ran. */
START_TEST(test_unknown_commit_says_why)
{
	struct harness *h = harness_up("unknown_commit");
	struct harness_repo *repo = harness_repo_new(h, "octo/ghost");
	struct harness_resp r;
	struct fake_sha f = { "0123456789abcdef0123456789abcdef01234567", NULL };
	struct buf out = { 0 }, err = { 0 };
	char *sha, *body, *sig, *guid;
	json_t *ev;
	int rc;

	harness_repo_write(repo, ".github/workflows/w.yml", workflow);
	sha = harness_push(h, repo, "main", "real");
	ev = harness_push_event(repo, "refs/heads/main", sha, f.sha, "ghost");
	body = harness_json_text(ev);
	sig = harness_sign(repo->secret, body, strlen(body));
	guid = harness_guid();
	harness_webhook(h, "push", guid, sig, body, strlen(body), &r);
	harness_assert(h, r.status == 202, "ghost push answered %ld",
	    r.status);
	harness_resp_free(&r);
	harness_assert(h, harness_wait_for(h, 60000, trigger_done_cb, &f),
	    "the ghost push was never planned");
	harness_assert(h, json_integer_value(json_object_get(f.event, "runs"))
	    == 0, "runs for an unknown commit: %s", harness_json_text(f.event));
	harness_assert(h, harness_str(f.event, "error") != NULL &&
	    strstr(harness_str(f.event, "error"), "unknown revision") &&
	    strstr(harness_str(f.event, "error"), f.sha),
	    "why: %s", harness_json_text(f.event));
	rc = harness_cictl(h, &out, &err, "triggers", NULL);
	buf_add(&out, "", 1);
	harness_assert(h, rc == 0 && strstr(out.data, "unknown revision"),
	    "cictl triggers:\n%s", out.data);
	buf_free(&out);
	buf_free(&err);
	json_decref(f.event);
	json_decref(ev);
	free(guid);
	free(sig);
	free(body);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_metrics_parse_and_move);
	tcase_add_test(tc, test_cictl_status_workers_queue);
	tcase_add_test(tc, test_cictl_logs_follow);
	tcase_add_test(tc, test_unknown_commit_says_why);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
