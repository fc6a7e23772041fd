/*
 * The planner end to end: what kiln plans and runs for an event, against
 * real git repositories, a real kilnd (embedded PostgreSQL, two workers)
 * and signed webhooks, judged through `cictl show --json` and `cictl logs`.
 *
 *   - pull_request_target runs the BASE branch's workflow at the base
 *     branch's latest commit, whatever the pull request changed;
 *   - what kiln does not execute (reusable workflows, containers, an
 *     action it has not built in) fails its job or step loudly, never green;
 *   - timeout-minutes above the 5-day limit runs, capped;
 *   - the worker and `cictl plan` plan the same events the same way (one
 *     planner, common/planner.c);
 *   - run numbers count per workflow file, from its counter row.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define RUN_MS	60000

static void
finish(struct harness *h, struct harness_repo *repo)
{
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}

/*
 * GitHub's test merge of head into base as refs/pull/<number>/merge in the
 * bare repository; returns its sha (caller frees).
 */
static char *
make_merge_ref(struct harness *h, struct harness_repo *repo, int number,
    const char *base, const char *head)
{
	char *tree = xasprintf("%s^{tree}", head), *merge, *ref, *out;

	merge = harness_git(h, NULL, "--git-dir", repo->bare, "commit-tree",
	    tree, "-p", base, "-p", head, "-m", "merge", NULL);
	ref = xasprintf("refs/pull/%d/merge", number);
	out = harness_git(h, NULL, "--git-dir", repo->bare, "update-ref", ref,
	    merge, NULL);
	free(out);
	free(ref);
	free(tree);
	return merge;
}

/*
 * A pull request whose head rewrites the workflow into something hostile
 * must not run it: pull_request_target runs the base branch's workflow at
 * the base branch's latest commit (not the payload's base.sha, not the
 * merge), with GITHUB_SHA, GITHUB_REF and checkout on that commit.
 */
START_TEST(test_pull_request_target_runs_the_base_branch_workflow)
{
	struct harness *h = harness_up("pr_target");
	struct harness_repo *repo = harness_repo_new(h, "octo/target");
	char *base1, *head, *base2, *merge, *out, *log, *pwned, *want;
	json_t *run;
	const char *safe =
	    "name: guard\n"
	    "on: pull_request_target\n"
	    "jobs:\n"
	    "  guard:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - uses: actions/checkout@v4\n"
	    "      - run: |\n"
	    "          echo \"SAFE-$((6 * 7)) SHA=$GITHUB_SHA REF=$GITHUB_REF\"\n"
	    "          echo \"HEAD=$(git rev-parse HEAD)\"\n"
	    "          cat later.txt\n";

	pwned = xasprintf("%s/pwned", h->shared);
	harness_repo_write(repo, ".github/workflows/guard.yml", safe);
	base1 = harness_repo_commit_push(repo, "main", "base", NULL);
	out = harness_git(h, repo->work, "checkout", "-q", "-b", "feature",
	    NULL);
	free(out);
	want = xasprintf(
	    "name: guard\n"
	    "on: pull_request_target\n"
	    "jobs:\n"
	    "  guard:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo \"HOSTILE-$((6 * 7))\" > %s\n", pwned);
	harness_repo_write(repo, ".github/workflows/guard.yml", want);
	free(want);
	head = harness_repo_commit_push(repo, "feature", "hostile", NULL);
	/* main moves on after the pull request was opened. */
	out = harness_git(h, repo->work, "checkout", "-q", "main", NULL);
	free(out);
	harness_repo_write(repo, "later.txt", "LATER-BASE\n");
	base2 = harness_repo_commit_push(repo, "main", "later", NULL);
	/* GitHub's test merge holds the hostile workflow. */
	merge = make_merge_ref(h, repo, 3, base1, head);

	free(harness_pull_request(h, repo, "pull_request_target", 3,
	    "feature", head, "main", base1, "hostile change", merge));
	run = harness_wait_event_run(h, "pull_request_target", RUN_MS);
	harness_expect_str(h, run, "pull_request_target run", "conclusion",
	    "success");
	harness_expect_str(h, run, "pull_request_target run", "head_sha",
	    base2);
	harness_expect_str(h, run, "pull_request_target run", "ref",
	    "refs/heads/main");
	log = harness_job_log(h, run, "guard");
	want = xasprintf("SAFE-42 SHA=%s REF=refs/heads/main", base2);
	harness_expect_contains(h, log, "log of guard", want);
	free(want);
	want = xasprintf("HEAD=%s", base2);
	harness_expect_contains(h, log, "log of guard", want);
	free(want);
	harness_expect_contains(h, log, "log of guard", "LATER-BASE");
	harness_assert(h, strstr(log, "HOSTILE") == NULL && access(pwned,
	    F_OK) != 0, "the pull request's workflow ran:\n%s", log);
	free(log);
	json_decref(run);
	free(base1);
	free(head);
	free(base2);
	free(merge);
	free(pwned);
	finish(h, repo);
}
END_TEST

/*
 * A job with a deployment environment fails, naming the construct; a
 * job that needs it is skipped; nothing of it is green.  (Container jobs
 * and docker actions: test_containers; reusable workflows, which run:
 * test_reusable.)
 */
START_TEST(test_unsupported_constructs_fail_their_jobs_loudly)
{
	struct harness *h = harness_up("unsupported");
	struct harness_repo *repo = harness_repo_new(h, "octo/unsupported");
	char *sha;
	const char *msg;
	json_t *run, *job;

	harness_repo_write(repo, ".github/workflows/u.yml",
	    "name: u\n"
	    "on: push\n"
	    "jobs:\n"
	    "  deploy:\n"
	    "    runs-on: self-hosted\n"
	    "    environment: prod\n"
	    "    steps:\n"
	    "      - run: echo deploying\n"
	    "  after:\n"
	    "    needs: deploy\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo after\n");
	sha = harness_push(h, repo, "main", "unsupported");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "failure");

	job = harness_job(h, run, "deploy");
	harness_expect_str(h, job, "deploy", "conclusion", "failure");
	msg = harness_str(job, "message");
	harness_assert(h, msg != NULL && strstr(msg, "jobs.deploy.environment: "
	    "kiln has no deployment environments") != NULL, "deploy: message "
	    "%s", msg ? msg : "(null)");

	harness_expect_str(h, harness_job(h, run, "after"), "after",
	    "conclusion", "skipped");
	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST

/*
 * Valid constructs kiln once refused or ignored: a timeout above 5 days
 * runs, capped; a job-level defaults.run.shell expression is evaluated;
 * environment (with deployment: true and env in its url) is valid and
 * fails its job loudly since kiln has no environments.
 */
START_TEST(test_timeout_above_five_days_is_capped_when_the_job_runs)
{
	struct harness *h = harness_up("timeout_cap");
	struct harness_repo *repo = harness_repo_new(h, "octo/daily");
	char *sha, *log;
	json_t *run;

	harness_repo_write(repo, ".github/workflows/daily.yml",
	    "name: daily\n"
	    "on: push\n"
	    "jobs:\n"
	    "  long:\n"
	    "    runs-on: self-hosted\n"
	    "    timeout-minutes: 14400\n"
	    "    environment:\n"
	    "      name: ${{ github.ref_name }}\n"
	    "      url: https://example.invalid/${{ env.X }}\n"
	    "      deployment: true\n"
	    "    steps:\n"
	    "      - run: echo \"RAN-$((6 * 7))\"\n"
	    "  plain:\n"
	    "    runs-on: self-hosted\n"
	    "    timeout-minutes: 14400\n"
	    "    steps:\n"
	    "      - run: echo \"RAN-$((6 * 7))\"\n"
	    "  shell:\n"
	    "    runs-on: self-hosted\n"
	    "    defaults:\n"
	    "      run:\n"
	    "        shell: ${{ github.event_name == 'push' && 'sh' || 'bash' "
	    "}}\n"
	    "    steps:\n"
	    "      - run: '[ -z \"$BASH_VERSION\" ] && echo \"SH-$((6 * 7))\"'"
	    "\n");
	sha = harness_push(h, repo, "main", "daily");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	/* A valid workflow: no failed run with a parse error. */
	harness_assert(h, harness_str(run, "message") == NULL, "run message "
	    "%s", harness_str(run, "message"));
	harness_expect_str(h, harness_job(h, run, "plain"), "plain",
	    "conclusion", "success");
	log = harness_job_log(h, run, "plain");
	harness_expect_contains(h, log, "log of plain", "timeout-minutes 14400 "
	    "is more than the 7200 minutes (5 days) a self-hosted runner runs "
	    "a job: this job stops after 7200 minutes");
	harness_expect_contains(h, log, "log of plain", "RAN-42");
	free(log);
	harness_expect_str(h, harness_job(h, run, "shell"), "shell",
	    "conclusion", "success");
	log = harness_job_log(h, run, "shell");
	harness_expect_contains(h, log, "log of shell", "SH-42");
	free(log);
	/* Accepted, and refused loudly when it runs: no environments here. */
	harness_expect_str(h, harness_job(h, run, "long"), "long",
	    "conclusion", "failure");
	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST

/* `cictl plan DIR --json args...`: the first workflow (caller decrefs). */
static json_t *
cictl_plan(struct harness *h, const char *dir, const char *event,
    const char *ref, const char *payload_file)
{
	json_t *plan, *w;

	plan = harness_cictl_json(h, "plan", dir, "--event", event, "--ref",
	    ref, "--payload", payload_file, "--json", NULL);
	w = json_incref(json_array_get(json_object_get(plan, "workflows"), 0));
	json_decref(plan);
	if (w == NULL)
		harness_fail(h, "cictl plan listed no workflow");
	return w;
}

/*
 * The jobs of a completed run and of cictl's plan of the same event, the
 * same: job ids, names (expressions over matrix, github and inputs),
 * matrix values, runs-on labels, and which jobs were skipped.
 */
static void
expect_same_plan(struct harness *h, const json_t *run, const json_t *plan)
{
	json_t *jobs = json_object_get(run, "jobs"), *pj, *rj, *ran,
	    *planned_one;
	const json_t *planned = json_object_get(plan, "jobs");
	char *a, *b;
	size_t i;

	harness_assert(h, json_is_true(json_object_get(plan, "triggered")),
	    "cictl plan: not triggered: %s", harness_str(plan, "reason"));
	harness_assert(h, json_array_size(jobs) == json_array_size(planned),
	    "%zu jobs ran, cictl plan lists %zu", json_array_size(jobs),
	    json_array_size(planned));
	json_array_foreach(planned, i, pj) {
		rj = json_array_get(jobs, i);
		ran = json_pack("{s:O, s:O, s:O, s:O, s:b}",
		    "key", json_object_get(rj, "job_key"),
		    "name", json_object_get(rj, "name"),
		    "matrix", json_object_get(rj, "matrix"),
		    "labels", json_object_get(rj, "labels"),
		    "skipped", strcmp(harness_str(rj, "conclusion"),
		    "skipped") == 0);
		planned_one = json_pack("{s:O, s:O, s:O, s:O, s:O}",
		    "key", json_object_get(pj, "id"),
		    "name", json_object_get(pj, "name"),
		    "matrix", json_object_get(pj, "matrix"),
		    "labels", json_object_get(pj, "labels"),
		    "skipped", json_object_get(pj, "skipped"));
		a = json_dumps(ran, JSON_COMPACT | JSON_SORT_KEYS);
		b = json_dumps(planned_one, JSON_COMPACT | JSON_SORT_KEYS);
		harness_assert(h, a != NULL && b != NULL && strcmp(a, b) == 0,
		    "job %zu: the worker planned %s, cictl plan %s", i, a, b);
		json_decref(ran);
		json_decref(planned_one);
		free(a);
		free(b);
	}
}

static const char agree_wf[] =
    "name: agree\n"
    "on: [push, pull_request]\n"
    "env:\n"
    "  LEVEL: 3\n"
    "jobs:\n"
    "  build:\n"
    "    name: build ${{ matrix.os }}-${{ matrix.v }} ${{ github.event_name }}"
    " ${{ github.ref_name }} ${{ github.head_ref }}\n"
    "    runs-on: [self-hosted, '${{ matrix.os }}']\n"
    "    strategy:\n"
    "      fail-fast: false\n"
    "      matrix:\n"
    "        os: [Linux, X64]\n"
    "        v: ${{ fromJSON('[1, 2]') }}\n"
    "        exclude:\n"
    "          - os: x64\n"
    "            v: 2\n"
    "        include:\n"
    "          - os: Linux\n"
    "            extra: yes\n"
    "    steps:\n"
    "      - run: echo build\n"
    "  only-pr:\n"
    "    if: github.event_name == 'pull_request'\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo pr\n"
    "  test:\n"
    "    needs: build\n"
    "    name: test ${{ github.sha }}\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo test\n";

/*
 * The same events planned both ways: by the worker (a real push and a real
 * pull request, their jobs read back from the run) and by `cictl plan`
 * over the same files and payloads.
 */
START_TEST(test_worker_and_cictl_plan_agree)
{
	struct harness *h = harness_up("agree");
	struct harness_repo *repo = harness_repo_new(h, "octo/agree");
	char *before, *sha, *body, *payload, *head, *merge, *out;
	json_t *ev, *run, *plan;
	struct harness_resp r;

	harness_repo_write(repo, ".github/workflows/agree.yml", agree_wf);
	sha = harness_repo_commit_push(repo, "main", "agree", &before);
	ev = harness_push_event(repo, "refs/heads/main", before, sha,
	    "agree");
	body = harness_json_text(ev);
	payload = xasprintf("%s/push.json", h->dir);
	harness_write_file(h, payload, body);
	{
		char *sig = harness_sign(repo->secret, body, strlen(body));
		char *guid = harness_guid();

		harness_webhook(h, "push", guid, sig, body, strlen(body), &r);
		harness_assert(h, r.status == 202, "push webhook: %ld",
		    r.status);
		harness_resp_free(&r);
		free(sig);
		free(guid);
	}
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	plan = cictl_plan(h, repo->work, "push", "main", payload);
	expect_same_plan(h, run, plan);
	json_decref(plan);
	json_decref(run);
	json_decref(ev);
	free(body);
	free(payload);

	/* A pull request: refs/pull/N/merge at the test merge commit. */
	out = harness_git(h, repo->work, "checkout", "-q", "-b", "topic",
	    NULL);
	free(out);
	harness_repo_write(repo, "topic.txt", "topic\n");
	head = harness_repo_commit_push(repo, "topic", "topic", NULL);
	merge = make_merge_ref(h, repo, 4, sha, head);
	body = harness_pull_request(h, repo, "pull_request", 4, "topic", head,
	    "main", sha, "topic", merge);
	payload = xasprintf("%s/pr.json", h->dir);
	harness_write_file(h, payload, body);
	run = harness_wait_event_run(h, "pull_request", RUN_MS);
	plan = cictl_plan(h, repo->work, "pull_request", "topic", payload);
	expect_same_plan(h, run, plan);
	json_decref(plan);
	json_decref(run);
	free(body);
	free(payload);
	free(head);
	free(merge);
	free(before);
	free(sha);
	finish(h, repo);
}
END_TEST


/* Events planned so far (completed by a planner). */
static int
events_planned_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM events WHERE status = "
	    "'completed' AND event <> 'kiln:schedules'", NULL);
	int done = atoi(n) >= *(int *)arg;

	free(n);
	return done;
}

/*
 * A pull request's skip marker is in its head commit's message (which its
 * webhook does not carry), not in its title.
 */
START_TEST(test_pull_request_skip_marker_is_the_head_commits)
{
	struct harness *h = harness_up("pr_skip");
	struct harness_repo *repo = harness_repo_new(h, "octo/prskip");
	char *base, *head, *merge, *out, *n;
	json_t *run;
	int want = 2;

	harness_repo_write(repo, ".github/workflows/pr.yml",
	    "name: pr\n"
	    "on: pull_request\n"
	    "jobs:\n"
	    "  check:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo checked\n");
	base = harness_repo_commit_push(repo, "main", "base", NULL);
	out = harness_git(h, repo->work, "checkout", "-q", "-b", "docs",
	    NULL);
	free(out);
	harness_repo_write(repo, "README", "docs\n");
	head = harness_repo_commit_push(repo, "docs", "typo [skip ci]", NULL);
	merge = make_merge_ref(h, repo, 1, base, head);
	free(harness_pull_request(h, repo, "pull_request", 1, "docs", head,
	    "main", base, "Fix a typo", merge));
	free(merge);
	free(head);
	/* The title says skip; the head commit does not: it runs. */
	harness_repo_write(repo, "README", "more docs\n");
	head = harness_repo_commit_push(repo, "docs", "more docs", NULL);
	merge = make_merge_ref(h, repo, 2, base, head);
	free(harness_pull_request(h, repo, "pull_request", 2, "docs", head,
	    "main", base, "[skip ci] do not build", merge));
	harness_assert(h, harness_wait_for(h, RUN_MS, events_planned_cb,
	    &want), "the two pull request events were not planned");
	run = harness_wait_event_run(h, "pull_request", RUN_MS);
	harness_expect_str(h, run, "pull_request run", "head_sha", merge);
	harness_expect_str(h, run, "pull_request run", "conclusion",
	    "success");
	json_decref(run);
	n = harness_sql(h, "SELECT count(*) FROM runs", NULL);
	harness_assert(h, strcmp(n, "1") == 0, "%s runs; the head commit "
	    "with [skip ci] must have none", n);
	free(n);
	free(merge);
	free(head);
	free(base);
	finish(h, repo);
}
END_TEST

/* The run_number of the run of sha from workflow file path. */
static long long
run_number_of(struct harness *h, const char *sha, const char *path)
{
	json_t *run = harness_wait_run(h, sha, path, RUN_MS);
	json_t *n = json_object_get(run, "run_number");
	long long v;

	harness_assert(h, json_is_integer(n), "run of %s: no run_number",
	    path);
	v = json_integer_value(n);
	json_decref(run);
	return v;
}

/*
 * Run numbers count per workflow file (1, 2, ... for each) and come from
 * the file's counter row (sql/010_perf.sql), never from its runs: a file
 * whose counter says 100,000 runs gets number 100,001 next, although it
 * has two runs.
 */
START_TEST(test_run_numbers_count_per_workflow_file)
{
	struct harness *h = harness_up("runnumbers");
	struct harness_repo *repo = harness_repo_new(h, "octo/numbers");
	const char *job = "jobs:\n  j:\n    runs-on: self-hosted\n"
	    "    steps:\n      - run: true\n";
	char *wa = xasprintf("name: a\non: push\n%s", job);
	char *wb = xasprintf("name: b\non: push\n%s", job);
	char *sha, *out;
	int i;

	harness_repo_write(repo, ".github/workflows/a.yml", wa);
	harness_repo_write(repo, ".github/workflows/b.yml", wb);
	for (i = 1; i <= 2; i++) {
		char msg[16];

		snprintf(msg, sizeof msg, "push %d", i);
		sha = harness_push(h, repo, "main", msg);
		harness_assert(h, run_number_of(h, sha,
		    ".github/workflows/a.yml") == i, "a.yml: run number of "
		    "push %d", i);
		harness_assert(h, run_number_of(h, sha,
		    ".github/workflows/b.yml") == i, "b.yml: run number of "
		    "push %d", i);
		free(sha);
	}
	out = harness_sql(h, "UPDATE run_counters SET last_number = 100000 "
	    "WHERE path = '.github/workflows/a.yml' RETURNING path", NULL);
	harness_assert(h, strcmp(out, ".github/workflows/a.yml") == 0,
	    "no counter row for a.yml");
	free(out);
	sha = harness_push(h, repo, "main", "push 3");
	harness_assert(h, run_number_of(h, sha, ".github/workflows/a.yml") ==
	    100001, "a.yml: run number after its counter's 100,000");
	harness_assert(h, run_number_of(h, sha, ".github/workflows/b.yml") ==
	    3, "b.yml: run number of push 3");
	free(sha);
	free(wa);
	free(wb);
	finish(h, repo);
}
END_TEST

static Suite *
planner_suite(void)
{
	Suite *s = suite_create("planner");
	TCase *tc;

	tc = tcase_create("planner");
	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_pull_request_target_runs_the_base_branch_workflow);
	tcase_add_test(tc, test_unsupported_constructs_fail_their_jobs_loudly);
	tcase_add_test(tc, test_timeout_above_five_days_is_capped_when_the_job_runs);
	tcase_add_test(tc, test_worker_and_cictl_plan_agree);
	tcase_add_test(tc, test_pull_request_skip_marker_is_the_head_commits);
	tcase_add_test(tc, test_run_numbers_count_per_workflow_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(planner_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
