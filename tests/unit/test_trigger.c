/*
 * Unit tests for common/trigger: the F-vectors of reference section 8.2,
 * the push decision procedure of 2.2 (branch/tag filter kinds), path rules
 * of 2.4, pull_request activity types and base-branch filters, skip
 * markers of 2.1, schedule and workflow_dispatch.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trigger.h"
#include "util.h"
#include "workflow.h"

#define JOBS "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n"

struct trig_vec {
	const char	*name;
	const char	*on;		/* the on: block */
	const char	*event;
	const char	*ref;		/* push ref or PR base */
	const char	*action;
	const char	*message;
	const char	*paths[4];	/* NULL-terminated; {"-"} = unknown */
	int		 want;
	const char	*why;		/* part of the reason when not run */
};

static const struct trig_vec trig_vecs[] = {
	/* Edge cases first. */
	{ "event not declared", "on: push\n", "pull_request", "main",
	    "opened", NULL, { NULL }, 0, "not triggered by 'pull_request'" },
	{ "bare push, branch", "on: push\n", "push", "refs/heads/x", NULL,
	    NULL, { NULL }, 1, NULL },
	{ "bare push, tag", "on: push\n", "push", "refs/tags/v1", NULL, NULL,
	    { NULL }, 1, NULL },
	{ "push of other ref", "on: push\n", "push", "refs/notes/x", NULL,
	    NULL, { NULL }, 0, "neither a branch" },
	{ "no paths filter, no files", "on:\n  push:\n    branches: [main]\n",
	    "push", "refs/heads/main", NULL, NULL, { NULL }, 1, NULL },

	/* F1-F9 */
	{ "F1", "on:\n  push:\n    paths-ignore: ['docs/**']\n", "push",
	    "refs/heads/main", NULL, NULL, { "docs/a.md", "docs/b/c.md" }, 0,
	    "all 2 changed files match on.push.paths-ignore" },
	{ "F2", "on:\n  push:\n    paths-ignore: ['docs/**']\n", "push",
	    "refs/heads/main", NULL, NULL, { "docs/a.md", "src/x.c" }, 1,
	    NULL },
	{ "F3", "on:\n  push:\n    branches: [main]\n", "push",
	    "refs/tags/v1", NULL, NULL, { NULL }, 0, "only branch filters" },
	{ "F4", "on:\n  push:\n    tags: ['v*']\n", "push", "refs/heads/main",
	    NULL, NULL, { NULL }, 0, "only tag filters" },
	{ "F5", "on:\n  push:\n    paths: ['src/**']\n", "push",
	    "refs/tags/v1", NULL, NULL, { "README.md" }, 1, NULL },
	{ "F6", "on:\n  push:\n    branches: [main]\n    paths: ['**.js']\n",
	    "push", "refs/heads/main", NULL, NULL, { "README.md" }, 0,
	    "none of the 1 changed file matches on.push.paths" },
	{ "F6 both pass", "on:\n  push:\n    branches: [main]\n"
	    "    paths: ['**.js']\n", "push", "refs/heads/main", NULL, NULL,
	    { "a/b.js" }, 1, NULL },
	{ "F7", "on:\n  pull_request:\n    branches: ['releases/**']\n",
	    "pull_request", "releases/1.0", "opened", NULL, { "x" }, 1, NULL },
	{ "F7 base as full ref", "on:\n  pull_request:\n"
	    "    branches: ['releases/**']\n", "pull_request",
	    "refs/heads/releases/1.0", "opened", NULL, { "x" }, 1, NULL },
	{ "F8", "on:\n  pull_request:\n", "pull_request", "main", "labeled",
	    NULL, { NULL }, 0, "not one of the default types" },
	{ "F9", "on:\n  push:\n    paths: ['src/**']\n", "push",
	    "refs/heads/main", NULL, NULL, { "-" }, 1, NULL },

	/* Branch and tag filters (2.2). */
	{ "seed: feature/** nested", "on:\n  push:\n"
	    "    branches: [main, develop, 'feature/**']\n", "push",
	    "refs/heads/feature/a/b", NULL, NULL, { NULL }, 1, NULL },
	{ "seed: other branch", "on:\n  push:\n"
	    "    branches: [main, develop, 'feature/**']\n", "push",
	    "refs/heads/hotfix", NULL, NULL, { NULL }, 0,
	    "branch 'hotfix' does not match on.push.branches" },
	{ "feature/* one level", "on:\n  push:\n    branches: ['feature/*']\n",
	    "push", "refs/heads/feature/a/b", NULL, NULL, { NULL }, 0,
	    "does not match" },
	{ "branches-ignore hit", "on:\n  push:\n"
	    "    branches-ignore: ['mona/**']\n", "push",
	    "refs/heads/mona/octocat", NULL, NULL, { NULL }, 0,
	    "matches on.push.branches-ignore" },
	{ "branches-ignore miss", "on:\n  push:\n"
	    "    branches-ignore: ['mona/**']\n", "push", "refs/heads/main",
	    NULL, NULL, { NULL }, 1, NULL },
	{ "branches-ignore and tag", "on:\n  push:\n"
	    "    branches-ignore: [main]\n", "push", "refs/tags/v1", NULL,
	    NULL, { NULL }, 0, "only branch filters" },
	{ "negation re-include", "on:\n  push:\n    branches:\n"
	    "      - 'releases/**'\n      - '!releases/**-alpha'\n", "push",
	    "refs/heads/releases/beta/3-alpha", NULL, NULL, { NULL }, 0,
	    "does not match" },
	{ "both kinds: branch judged by branches", "on:\n  push:\n"
	    "    branches: [main]\n    tags: ['v*']\n", "push",
	    "refs/heads/main", NULL, NULL, { NULL }, 1, NULL },
	{ "both kinds: tag judged by tags", "on:\n  push:\n"
	    "    branches: [main]\n    tags: ['v*']\n", "push",
	    "refs/tags/v2", NULL, NULL, { NULL }, 1, NULL },
	{ "both kinds: tag fails tags", "on:\n  push:\n"
	    "    branches: [main]\n    tags: ['v*']\n", "push",
	    "refs/tags/x2", NULL, NULL, { NULL }, 0,
	    "tag 'x2' does not match on.push.tags" },
	{ "tags-ignore", "on:\n  push:\n    tags-ignore: ['v1.*']\n", "push",
	    "refs/tags/v1.0", NULL, NULL, { NULL }, 0,
	    "matches on.push.tags-ignore" },
	{ "tags-ignore, branch push", "on:\n  push:\n"
	    "    tags-ignore: ['v1.*']\n", "push", "refs/heads/main", NULL,
	    NULL, { NULL }, 0, "only tag filters" },

	/* Paths (2.4). */
	{ "paths, no changed files", "on:\n  push:\n    paths: ['src/**']\n",
	    "push", "refs/heads/main", NULL, NULL, { NULL }, 0,
	    "no changed files" },
	{ "paths-ignore, no changed files", "on:\n  push:\n"
	    "    paths-ignore: ['docs/**']\n", "push", "refs/heads/main", NULL,
	    NULL, { NULL }, 0, "no changed files" },
	{ "paths with negation", "on:\n  push:\n    paths:\n"
	    "      - 'sub-project/**'\n      - '!sub-project/docs/**'\n",
	    "push", "refs/heads/main", NULL, NULL,
	    { "sub-project/docs/readme.md" }, 0, "none of the 1" },
	{ "paths with negation, other file", "on:\n  push:\n    paths:\n"
	    "      - 'sub-project/**'\n      - '!sub-project/docs/**'\n",
	    "push", "refs/heads/main", NULL, NULL,
	    { "sub-project/docs/readme.md", "sub-project/src/index.js" }, 1,
	    NULL },
	{ "paths on pull_request", "on:\n  pull_request:\n"
	    "    paths: ['**.py']\n", "pull_request", "main", "synchronize",
	    NULL, { "README.md" }, 0, "on.pull_request.paths" },

	/* pull_request (2.1, 2.2). */
	{ "PR default type opened", "on: [pull_request]\n", "pull_request",
	    "main", "opened", NULL, { "x" }, 1, NULL },
	{ "PR default type reopened", "on: pull_request\n", "pull_request",
	    "main", "reopened", NULL, { "x" }, 1, NULL },
	{ "PR closed not default", "on: pull_request\n", "pull_request",
	    "main", "closed", NULL, { "x" }, 0, "default types" },
	{ "PR explicit types", "on:\n  pull_request:\n"
	    "    types: [labeled, closed]\n", "pull_request", "main", "closed",
	    NULL, { "x" }, 1, NULL },
	{ "PR explicit types miss", "on:\n  pull_request:\n"
	    "    types: [labeled]\n", "pull_request", "main", "opened", NULL,
	    { "x" }, 0, "'opened' is not listed in on.pull_request.types" },
	{ "PR base branch", "on:\n  pull_request:\n"
	    "    branches: [main, develop]\n", "pull_request", "develop",
	    "opened", NULL, { "x" }, 1, NULL },
	{ "PR base branch miss", "on:\n  pull_request:\n"
	    "    branches: [main, develop]\n", "pull_request", "feature/x",
	    "opened", NULL, { "x" }, 0,
	    "base branch 'feature/x' does not match "
	    "on.pull_request.branches" },
	{ "PR branches-ignore", "on:\n  pull_request:\n"
	    "    branches-ignore: ['wip/**']\n", "pull_request", "wip/a",
	    "opened", NULL, { "x" }, 0, "branches-ignore" },
	{ "pull_request_target", "on:\n  pull_request_target:\n"
	    "    branches: [main]\n", "pull_request_target", "main",
	    "opened", "[skip ci]", { "x" }, 1, NULL },

	/* Skip markers (2.1). */
	{ "skip ci", "on: push\n", "push", "refs/heads/main", NULL,
	    "fix typo [skip ci]", { "x" }, 0, "'[skip ci]'" },
	{ "ci skip", "on: push\n", "push", "refs/heads/main", NULL,
	    "[ci skip] x", { "x" }, 0, "[ci skip]" },
	{ "no ci", "on: push\n", "push", "refs/heads/main", NULL,
	    "x\n\n[no ci]", { "x" }, 0, "[no ci]" },
	{ "skip actions", "on: push\n", "push", "refs/heads/main", NULL,
	    "[skip actions]", { "x" }, 0, "[skip actions]" },
	{ "actions skip", "on: push\n", "push", "refs/heads/main", NULL,
	    "[actions skip]", { "x" }, 0, "[actions skip]" },
	{ "skip marker upper case", "on: push\n", "push", "refs/heads/main",
	    NULL, "[SKIP CI]", { "x" }, 0, "[skip ci]" },
	{ "skip-checks trailer", "on: push\n", "push", "refs/heads/main",
	    NULL, "Update docs\n\n\nskip-checks: true\n", { "x" }, 0,
	    "skip-checks" },
	{ "skip-checks:true trailer", "on: push\n", "push", "refs/heads/main",
	    NULL, "Update docs\n\nskip-checks:true", { "x" }, 0,
	    "skip-checks" },
	{ "skip-checks not a trailer", "on: push\n", "push",
	    "refs/heads/main", NULL, "skip-checks: true is what I wrote", { "x" },
	    1, NULL },
	{ "skip-checks without blank line", "on: push\n", "push",
	    "refs/heads/main", NULL, "Update\nskip-checks: true", { "x" }, 1,
	    NULL },
	{ "skip ci on PR", "on: pull_request\n", "pull_request", "main",
	    "opened", "wip [skip ci]", { "x" }, 0, "[skip ci]" },
	{ "no marker", "on: push\n", "push", "refs/heads/main", NULL,
	    "skip this ci please", { "x" }, 1, NULL },

	/* schedule, workflow_dispatch, others. */
	{ "schedule", "on:\n  schedule:\n    - cron: '0 2 * * *'\n",
	    "schedule", NULL, NULL, "[skip ci]", { NULL }, 1, NULL },
	{ "workflow_dispatch", "on: workflow_dispatch\n", "workflow_dispatch",
	    NULL, NULL, "[skip ci]", { NULL }, 1, NULL },
	{ "workflow_dispatch not declared", "on: push\n", "workflow_dispatch",
	    NULL, NULL, NULL, { NULL }, 0, "not triggered" },
	{ "issues types", "on:\n  issues:\n    types: [opened]\n", "issues",
	    NULL, "closed", NULL, { NULL }, 0, "not listed in on.issues.types" },
	{ "issues any", "on: issues\n", "issues", NULL, "closed", NULL,
	    { NULL }, 1, NULL },
};

START_TEST(test_trigger_vectors)
{
	const struct trig_vec	*v = &trig_vecs[_i];
	struct trigger_event	 ev;
	struct wf_errors	 errs;
	struct workflow		*wf;
	char			*text, *reason, *fmt;
	size_t			 n;
	int			 got;

	text = xasprintf("%s%s", v->on, JOBS);
	memset(&errs, 0, sizeof errs);
	wf = workflow_parse("t.yml", text, strlen(text), &errs);
	fmt = wf_errors_format(&errs);
	ck_assert_msg(wf != NULL && errs.n == 0, "%s: %s", v->name, fmt);
	free(fmt);

	memset(&ev, 0, sizeof ev);
	ev.name = v->event;
	if (strcmp(v->event, "push") == 0)
		ev.ref = v->ref;
	else
		ev.base_ref = v->ref;
	ev.action = v->action;
	ev.head_message = v->message;
	for (n = 0; n < 4 && v->paths[n] != NULL; n++)
		;
	if (n == 1 && strcmp(v->paths[0], "-") == 0)
		ev.paths_unknown = 1;
	else {
		ev.paths = v->paths;
		ev.npaths = n;
	}
	got = trigger_match(wf, &ev, &reason);
	ck_assert_msg(got == v->want, "%s: want %d got %d (%s)", v->name,
	    v->want, got, reason != NULL ? reason : "");
	if (v->want)
		ck_assert_ptr_null(reason);
	else {
		ck_assert_ptr_nonnull(reason);
		ck_assert_msg(strstr(reason, v->why) != NULL,
		    "%s: reason '%s' lacks '%s'", v->name, reason, v->why);
	}
	free(reason);
	workflow_free(wf);
	wf_errors_free(&errs);
	free(text);
}
END_TEST

START_TEST(test_max_paths)
{
	static const char text[] = "on:\n  push:\n    paths: ['src/**']\n" JOBS;
	struct wf_errors	 errs;
	struct workflow		*wf;
	struct trigger_event	 ev;
	const char		*paths[301];
	size_t			 i;

	memset(&errs, 0, sizeof errs);
	wf = workflow_parse("t.yml", text, strlen(text), &errs);
	ck_assert_ptr_nonnull(wf);
	for (i = 0; i < 300; i++)
		paths[i] = "docs/x.md";
	paths[300] = "src/main.c";
	memset(&ev, 0, sizeof ev);
	ev.name = "push";
	ev.ref = "refs/heads/main";
	ev.paths = paths;
	ev.npaths = 301;
	/* Only the first 300 files count: the match at 301 is not seen. */
	ck_assert_int_eq(trigger_match(wf, &ev, NULL), 0);
	paths[299] = "src/main.c";
	ck_assert_int_eq(trigger_match(wf, &ev, NULL), 1);
	workflow_free(wf);
	wf_errors_free(&errs);
}
END_TEST

START_TEST(test_schedule_cron)
{
	static const char text[] = "on:\n  schedule:\n    - cron: '0 2 * * *'\n"
	    "    - cron: '*/15 * * * 1'\n" JOBS;
	struct wf_errors	 errs;
	struct workflow		*wf;
	struct trigger_event	 ev;
	char			*reason;

	memset(&errs, 0, sizeof errs);
	wf = workflow_parse("t.yml", text, strlen(text), &errs);
	ck_assert_ptr_nonnull(wf);
	memset(&ev, 0, sizeof ev);
	ev.name = "schedule";
	ev.cron = "*/15 * * * 1";
	ck_assert_int_eq(trigger_match(wf, &ev, &reason), 1);
	ev.cron = "0 3 * * *";
	ck_assert_int_eq(trigger_match(wf, &ev, &reason), 0);
	ck_assert(strstr(reason, "'0 3 * * *' is not one of") != NULL);
	free(reason);
	workflow_free(wf);
	wf_errors_free(&errs);
}
END_TEST

START_TEST(test_skip_marker_api)
{
	const char *m = NULL;

	ck_assert_int_eq(trigger_skip_marker(NULL, &m), 0);
	ck_assert_int_eq(trigger_skip_marker("", &m), 0);
	ck_assert_int_eq(trigger_skip_marker("a [skip ci] b", &m), 1);
	ck_assert_str_eq(m, "[skip ci]");
	ck_assert_int_eq(trigger_skip_marker("skip-checks: true", &m), 0);
	ck_assert_int_eq(trigger_skip_marker("x\r\n\r\nskip-checks: true\r\n",
	    &m), 1);
	ck_assert_int_eq(trigger_skip_marker("x\n\nskip-checks: false", &m), 0);
	ck_assert_int_eq(trigger_skip_marker("[skip  ci]", &m), 0);
}
END_TEST

static Suite *
trigger_suite(void)
{
	Suite	*s = suite_create("trigger");
	TCase	*tc = tcase_create("core");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */

	tcase_add_loop_test(tc, test_trigger_vectors, 0, nitems(trig_vecs));
	tcase_add_test(tc, test_max_paths);
	tcase_add_test(tc, test_schedule_cron);
	tcase_add_test(tc, test_skip_marker_api);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(trigger_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
