/*
 * Unit tests for the one planner and its tables: common/event.c (event
 * kinds and their ref rules), common/planner.c (what a run of an event
 * creates), common/support.c (what kiln does not execute) and
 * common/status.c (the names of states and conclusions, which must be the
 * database's).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "context.h"
#include "event.h"
#include "planner.h"
#include "status.h"
#include "support.h"
#include "util.h"
#include "workflow.h"

static struct workflow *
parse(const char *yaml)
{
	struct wf_errors errs = { 0 };
	struct workflow *wf = workflow_parse("ci.yml", yaml, strlen(yaml),
	    &errs);
	char *text = wf_errors_format(&errs);

	ck_assert_msg(wf != NULL && errs.n == 0, "%s", text);
	free(text);
	wf_errors_free(&errs);
	return wf;
}

static json_t *
payload(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	ck_assert_ptr_nonnull(j);
	return j;
}

/* ---- event.c ---------------------------------------------------------- */

static const struct {
	const char	*event;
	const char	*payload;
	const char	*ref;	/* NULL: an error */
	const char	*sha;	/* NULL: resolved by the planner */
} ref_cases[] = {
	{ "push", "{\"ref\": \"refs/heads/main\", \"after\": \"a1\"}",
	  "refs/heads/main", "a1" },
	{ "push", "{\"after\": \"a1\"}", NULL, NULL },
	{ "pull_request", "{\"number\": 7, \"pull_request\": "
	  "{\"merge_commit_sha\": \"m7\", \"base\": {\"ref\": \"main\"}}}",
	  "refs/pull/7/merge", "m7" },
	{ "pull_request", "{\"number\": 7, \"pull_request\": "
	  "{\"merge_commit_sha\": null}}", "refs/pull/7/merge", NULL },
	{ "pull_request", "{\"pull_request\": {}}", NULL, NULL },
	/* The base branch at its tip -- never the merge, never base.sha. */
	{ "pull_request_target", "{\"number\": 7, \"pull_request\": "
	  "{\"merge_commit_sha\": \"m7\", \"base\": {\"ref\": \"release/2\", "
	  "\"sha\": \"b7\"}}}", "refs/heads/release/2", NULL },
	{ "pull_request_target", "{\"number\": 7}", NULL, NULL },
	{ "schedule", "{}", "refs/heads/trunk", NULL },
	{ "workflow_dispatch", "{\"ref\": \"dev\"}", "refs/heads/dev", NULL },
	{ "release", "{\"ref\": \"v1\"}", NULL, NULL },
};

START_TEST(test_event_ref_rules)
{
	const struct event_kind *kind = event_kind_find(ref_cases[_i].event);
	json_t *p = payload(ref_cases[_i].payload);
	char *ref, *sha, err[256];
	int rc;

	ck_assert_ptr_nonnull(kind);
	rc = event_ref(kind, p, "trunk", &ref, &sha, err, sizeof err);
	if (ref_cases[_i].ref == NULL) {
		ck_assert_int_eq(rc, -1);
		ck_assert_uint_gt(strlen(err), 0);
	} else {
		ck_assert_msg(rc == 0, "%s", err);
		ck_assert_str_eq(ref, ref_cases[_i].ref);
		if (ref_cases[_i].sha == NULL)
			ck_assert_ptr_null(sha);
		else
			ck_assert_str_eq(sha, ref_cases[_i].sha);
	}
	free(ref);
	free(sha);
	json_decref(p);
}
END_TEST

START_TEST(test_event_table)
{
	const struct event_kind *k;

	/* What the webhook intake stores and plans. */
	ck_assert_int_eq(event_kind_find("push")->intake, EVENT_INTAKE_WEBHOOK);
	ck_assert_int_eq(event_kind_find("pull_request")->intake,
	    EVENT_INTAKE_WEBHOOK);
	k = event_kind_find("pull_request_target");
	ck_assert_int_eq(k->intake, EVENT_INTAKE_WEBHOOK);
	ck_assert_int_eq(k->ref_rule, EVENT_REF_PR_BASE);
	/* Paths apply to all three; skip markers not to the target. */
	ck_assert(k->paths && !k->skip_markers);
	ck_assert(event_kind_find("pull_request")->skip_markers);
	ck_assert_int_eq(event_kind_find("schedule")->intake,
	    EVENT_INTAKE_KILND);
	ck_assert_int_eq(event_kind_find("release")->intake, EVENT_INTAKE_NONE);
	ck_assert_ptr_null(event_kind_find("ping"));
	ck_assert_ptr_null(event_kind_find("pul_request"));
	ck_assert_ptr_nonnull(strstr(event_ref_rule_text(EVENT_REF_PR_BASE),
	    "never the pull request's"));
}
END_TEST

/* ---- planner.c -------------------------------------------------------- */

/* An event of name with payload text; the caller frees *p. */
static void
make_event(struct event *ev, const char *name, const char *text, json_t **p)
{
	*p = payload(text);
	event_read(ev, name, *p);
	ev->ref = "refs/heads/main";
	ev->sha = "c0ffee";
	ev->repo_name = "octo/repo";
}

START_TEST(test_planner_jobs)
{
	struct workflow *wf = parse(
	    "on: push\n"
	    "jobs:\n"
	    "  build:\n"
	    "    name: b-${{ matrix.os }}-${{ matrix.v }}\n"
	    "    runs-on: [Self-Hosted, '${{ matrix.os }}']\n"
	    "    timeout-minutes: 14400\n"
	    "    strategy:\n"
	    "      max-parallel: 2\n"
	    "      matrix:\n"
	    "        os: [Linux]\n"
	    "        v: ${{ fromJSON('[1, 2]') }}\n"
	    "    steps:\n"
	    "      - run: make\n"
	    "  dyn:\n"
	    "    needs: build\n"
	    "    runs-on: x\n"
	    "    strategy:\n"
	    "      matrix:\n"
	    "        v: ${{ fromJSON(needs.build.outputs.v) }}\n"
	    "    steps:\n"
	    "      - run: make\n"
	    "  bad:\n"
	    "    runs-on: x\n"
	    "    timeout-minutes: ${{ fromJSON('-1') }}\n"
	    "    steps:\n"
	    "      - run: make\n");
	struct plan_run run;
	struct event ev;
	json_t *p, *needs;
	struct plan_job *legs;
	size_t nlegs;
	char err[256];

	make_event(&ev, "push", "{\"head_commit\": {\"message\": \"fix it\\n\\n"
	    "details\"}}", &p);
	planner_plan(wf, &ev, 7, 3, &run);
	ck_assert_str_eq(run.title, "fix it");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    run.contexts, "github"), "run_id")), "7");
	ck_assert_uint_eq(run.njobs, 4);
	/* A matrix value that is an expression is evaluated, then expanded. */
	ck_assert_str_eq(run.jobs[0].name, "b-Linux-1");
	ck_assert_str_eq(run.jobs[1].name, "b-Linux-2");
	ck_assert_int_eq(json_integer_value(json_object_get(run.jobs[1].matrix,
	    "v")), 2);
	ck_assert_str_eq(json_string_value(json_array_get(run.jobs[0].labels,
	    0)), "self-hosted");
	ck_assert_str_eq(json_string_value(json_array_get(run.jobs[0].labels,
	    1)), "linux");
	/* Kept as given: the worker caps it when the job runs. */
	ck_assert(run.jobs[0].timeout_minutes == 14400);
	ck_assert_int_eq(run.jobs[0].max_parallel, 2);
	ck_assert_ptr_null(run.jobs[0].message);
	/* Reads needs: one placeholder, expanded once they ran. */
	ck_assert(run.jobs[2].deferred);
	ck_assert_ptr_null(run.jobs[2].matrix);
	/* An evaluated value out of bounds fails that job up front. */
	ck_assert_ptr_nonnull(run.jobs[3].message);
	ck_assert_ptr_nonnull(strstr(run.jobs[3].message, "timeout-minutes"));

	/* The expansion, with the needs that ran. */
	needs = json_pack("{s:{s:s, s:{s:s}}}", "build", "result", "success",
	    "outputs", "v", "[3, 4, 5]");
	json_object_set_new(run.contexts, "needs", needs);
	ck_assert_int_eq(planner_expand(run.jobs[2].def, run.contexts, &legs,
	    &nlegs, err, sizeof err), 0);
	ck_assert_uint_eq(nlegs, 3);
	ck_assert_str_eq(legs[2].name, "dyn (5)");
	ck_assert_int_eq(json_integer_value(json_object_get(legs[2].strategy,
	    "job-total")), 3);
	planner_jobs_free(legs, nlegs);
	planner_run_free(&run);
	json_decref(p);
	workflow_free(wf);
}
END_TEST

START_TEST(test_planner_titles_and_inputs)
{
	struct workflow *wf = parse(
	    "on:\n"
	    "  pull_request:\n"
	    "  workflow_dispatch:\n"
	    "    inputs:\n"
	    "      deep: {type: boolean, default: false}\n"
	    "      who: {required: true}\n"
	    "run-name: ${{ inputs.who || '   ' }}\n"
	    "jobs:\n"
	    "  a:\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: make\n");
	struct plan_run run;
	struct event ev;
	json_t *p, *in;

	/* run-name blank: the pull request's title. */
	make_event(&ev, "pull_request", "{\"pull_request\": {\"title\": "
	    "\"Add x\"}}", &p);
	planner_plan(wf, &ev, 0, 0, &run);
	ck_assert_str_eq(run.title, "Add x");
	ck_assert_ptr_null(run.missing_input);
	planner_run_free(&run);
	json_decref(p);

	/* Dispatch: inputs typed (the payload has strings), required ones. */
	make_event(&ev, "workflow_dispatch", "{\"inputs\": {\"deep\": "
	    "\"true\"}}", &p);
	planner_plan(wf, &ev, 0, 0, &run);
	ck_assert_str_eq(run.missing_input, "who");
	in = json_object_get(run.contexts, "inputs");
	ck_assert(json_is_true(json_object_get(in, "deep")));
	planner_run_free(&run);
	json_decref(p);
	make_event(&ev, "workflow_dispatch", "{\"inputs\": {\"who\": \"me\"}}",
	    &p);
	planner_plan(wf, &ev, 0, 0, &run);
	ck_assert_str_eq(run.title, "me");
	in = json_object_get(run.contexts, "inputs");
	ck_assert(json_is_false(json_object_get(in, "deep")));
	planner_run_free(&run);
	json_decref(p);
	workflow_free(wf);
}
END_TEST

/* The changed files are asked for only when a path filter needs them. */
static int paths_asked;

static int
paths_cb(void *arg, const char *const **paths, size_t *n)
{
	static const char *const changed[] = { "docs/a.md" };

	paths_asked++;
	if (arg != NULL)
		return -1;
	*paths = changed;
	*n = 1;
	return 0;
}

START_TEST(test_planner_trigger_paths)
{
	struct workflow *plain = parse("on: pull_request_target\njobs:\n"
	    "  a:\n    runs-on: x\n    steps:\n      - run: x\n");
	struct workflow *filtered = parse("on:\n  pull_request_target:\n"
	    "    paths-ignore: ['docs/**']\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n");
	struct event ev;
	json_t *p;
	char *reason = NULL;

	make_event(&ev, "pull_request_target", "{\"action\": \"opened\", "
	    "\"pull_request\": {\"base\": {\"ref\": \"main\"}, "
	    "\"title\": \"[skip ci]\"}}", &p);
	ev.head_message = "[skip ci]";
	paths_asked = 0;
	/* Skip markers do not apply to pull_request_target. */
	ck_assert_int_eq(planner_triggered(plain, &ev, paths_cb, NULL,
	    &reason), 1);
	ck_assert_int_eq(paths_asked, 0);
	ck_assert_int_eq(planner_triggered(filtered, &ev, paths_cb, NULL,
	    &reason), 0);
	ck_assert_int_eq(paths_asked, 1);
	ck_assert_ptr_nonnull(strstr(reason, "paths-ignore"));
	free(reason);
	/* A diff that failed lets path filters pass, as on GitHub. */
	ck_assert_int_eq(planner_triggered(filtered, &ev, paths_cb, "x",
	    &reason), 1);
	json_decref(p);
	workflow_free(plain);
	workflow_free(filtered);
}
END_TEST

/* ---- support.c and status.c ------------------------------------------ */

START_TEST(test_support_tables)
{
	struct workflow *wf = parse(
	    "on: [push, release]\n"
	    "jobs:\n"
	    "  a:\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - uses: Actions/Checkout@v4\n"
	    "        with:\n"
	    "          fetch-depth: 0\n"
	    "      - uses: actions/setup-python@v5\n"
	    "        with:\n"
	    "          architecture: x86\n"
	    "  b:\n"
	    "    uses: o/r/.github/workflows/w.yml@v1\n");
	struct wf_errors w = { 0 };
	char *why, *names;

	ck_assert_int_eq(support_action_find("actions/checkout@v4"),
	    SUPPORT_ACTION_CHECKOUT);
	ck_assert_int_eq(support_action_find("actions/checkout"), -1);
	ck_assert_int_eq(support_action_find("actions/checkoutx@v4"), -1);
	names = support_action_names();
	ck_assert_str_eq(names, "actions/checkout, actions/setup-python, "
	    "actions/cache, actions/cache/restore, actions/cache/save, "
	    "actions/upload-artifact, actions/download-artifact");
	ck_assert_int_eq(support_action_find("actions/upload-artifact@v4"),
	    SUPPORT_ACTION_UPLOAD_ARTIFACT);
	ck_assert_int_eq(support_action_find("actions/download-artifact@v4"),
	    SUPPORT_ACTION_DOWNLOAD_ARTIFACT);
	ck_assert_int_eq(support_action_find("Actions/Cache@v4"),
	    SUPPORT_ACTION_CACHE);
	ck_assert_int_eq(support_action_find("actions/cache/restore@v4"),
	    SUPPORT_ACTION_CACHE_RESTORE);
	ck_assert_int_eq(support_action_find("actions/cache/save@v4"),
	    SUPPORT_ACTION_CACHE_SAVE);
	ck_assert_int_eq(support_action_find("actions/cache/other@v4"), -1);
	free(names);
	/* Owner and name compare case-insensitively; honoured inputs pass. */
	ck_assert_ptr_null(support_step(&wf->jobs[0].steps[0]));
	why = support_step(&wf->jobs[0].steps[1]);
	ck_assert_str_eq(why, "actions/setup-python: input \"architecture\" "
	    "is not supported by kiln");
	free(why);
	ck_assert_ptr_null(support_job(&wf->jobs[0]));
	/* Reusable workflows run (common/reusable.c). */
	ck_assert_ptr_null(support_job(&wf->jobs[1]));
	support_audit(wf, &w);
	ck_assert_uint_eq(w.n, 2);
	ck_assert_int_eq(w.v[0].line, 1);	/* on.release */
	ck_assert_int_eq(w.v[0].col, 12);
	ck_assert_int_eq(w.v[1].line, 11);	/* architecture */
	wf_errors_free(&w);
	workflow_free(wf);
}
END_TEST

START_TEST(test_status_names)
{
	/* The words of sql/001_schema.sql's CHECK lists, in enum order. */
	ck_assert_str_eq(status_state_name(STATE_PENDING), "pending");
	ck_assert_str_eq(status_state_name(STATE_QUEUED), "queued");
	ck_assert_str_eq(status_state_name(STATE_WAITING), "waiting");
	ck_assert_str_eq(status_state_name(STATE_IN_PROGRESS), "in_progress");
	ck_assert_str_eq(status_state_name(STATE_COMPLETED), "completed");
	ck_assert_str_eq(status_conclusion_name(CONCLUSION_SUCCESS), "success");
	ck_assert_str_eq(status_conclusion_name(CONCLUSION_FAILURE), "failure");
	ck_assert_str_eq(status_conclusion_name(CONCLUSION_CANCELLED),
	    "cancelled");
	ck_assert_str_eq(status_conclusion_name(CONCLUSION_SKIPPED), "skipped");
	ck_assert_str_eq(status_conclusion_name(CONCLUSION_TIMED_OUT),
	    "timed_out");
	ck_assert_str_eq(status_conclusion_name((enum status_conclusion)99),
	    "failure");
}
END_TEST

/* github.server_url/api_url/graphql_url follow [github] api_url. */
static void
expect_urls(const char *api_url, const char *server, const char *api,
    const char *graphql)
{
	struct event ev;
	struct ctx_run r;
	json_t *g;

	memset(&ev, 0, sizeof ev);
	ev.ref = "refs/heads/main";
	ev.sha = "0123456789abcdef0123456789abcdef01234567";
	memset(&r, 0, sizeof r);
	r.ev = &ev;
	r.workflow_name = "CI";
	r.api_url = api_url;
	g = context_github(&r);
	ck_assert_str_eq(json_string_value(json_object_get(g, "server_url")),
	    server);
	ck_assert_str_eq(json_string_value(json_object_get(g, "api_url")), api);
	ck_assert_str_eq(json_string_value(json_object_get(g, "graphql_url")),
	    graphql);
	json_decref(g);
}

START_TEST(test_github_urls)
{
	expect_urls(NULL, "https://github.com", "https://api.github.com",
	    "https://api.github.com/graphql");
	expect_urls("https://api.github.com/", "https://github.com",
	    "https://api.github.com", "https://api.github.com/graphql");
	expect_urls("https://ghe.example.org/api/v3", "https://ghe.example.org",
	    "https://ghe.example.org/api/v3",
	    "https://ghe.example.org/api/graphql");
	expect_urls("http://127.0.0.1:8422", "http://127.0.0.1:8422",
	    "http://127.0.0.1:8422", "http://127.0.0.1:8422/graphql");
}
END_TEST

static Suite *
planner_suite(void)
{
	Suite *s = suite_create("planner");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_event_ref_rules, 0, nitems(ref_cases));
	tcase_add_test(tc, test_event_table);
	tcase_add_test(tc, test_planner_jobs);
	tcase_add_test(tc, test_planner_titles_and_inputs);
	tcase_add_test(tc, test_planner_trigger_paths);
	tcase_add_test(tc, test_support_tables);
	tcase_add_test(tc, test_status_names);
	tcase_add_test(tc, test_github_urls);
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
