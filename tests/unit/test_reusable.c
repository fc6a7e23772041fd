/*
 * Unit tests for reusable workflow calls: what the parser takes on a
 * caller job (common/workflow.c) and the expansion into the called
 * workflow's jobs (common/reusable.c), with files from an in-memory
 * loader.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "expr.h"
#include "reusable.h"
#include "util.h"
#include "workflow.h"

/* "errors" of parsing yaml as ci.yml, one per line ("" when valid). */
static char *
errors_of(const char *yaml)
{
	struct wf_errors errs = { 0 };
	struct workflow *wf = workflow_parse("ci.yml", yaml, strlen(yaml),
	    &errs);
	char *text = wf_errors_format(&errs);

	wf_errors_free(&errs);
	workflow_free(wf);
	return text;
}

START_TEST(test_caller_keys)
{
	char *e;

	e = errors_of("on: push\n"
	    "jobs:\n"
	    "  call:\n"
	    "    uses: ./.github/workflows/b.yml\n"
	    "    runs-on: self-hosted\n"
	    "    env:\n"
	    "      A: 1\n"
	    "    steps:\n"
	    "      - run: echo\n");
	ck_assert_msg(strstr(e, "ci.yml:5:5: 'jobs.call.runs-on' is not "
	    "allowed on a job that calls a reusable workflow") != NULL, "%s", e);
	ck_assert_msg(strstr(e, "ci.yml:6:5: 'jobs.call.env' is not "
	    "allowed") != NULL, "%s", e);
	ck_assert_msg(strstr(e, "ci.yml:8:5: 'jobs.call.steps' is not "
	    "allowed") != NULL, "%s", e);
	free(e);

	/* Every key GitHub allows there. */
	e = errors_of("on: push\n"
	    "jobs:\n"
	    "  a:\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: echo\n"
	    "  call:\n"
	    "    name: Call\n"
	    "    needs: a\n"
	    "    if: github.ref == 'refs/heads/main'\n"
	    "    uses: octo/lib/.github/workflows/b.yaml@v1\n"
	    "    with:\n"
	    "      x: 1\n"
	    "    secrets: inherit\n"
	    "    permissions: read-all\n"
	    "    concurrency: c\n"
	    "    strategy:\n"
	    "      matrix:\n"
	    "        v: [1, 2]\n");
	ck_assert_str_eq(e, "");
	free(e);

	e = errors_of("on: push\n"
	    "jobs:\n"
	    "  a:\n"
	    "    uses: octo/lib/w.yml@v1\n"
	    "  b:\n"
	    "    uses: ./.github/workflows/b.yml@v1\n"
	    "  c:\n"
	    "    uses: ./.github/workflows/b.yml\n"
	    "    secrets: everything\n");
	ck_assert_msg(strstr(e, "ci.yml:4:11: 'jobs.a.uses': expected "
	    "'./.github/workflows/FILE.yml' (this repository, this commit) or "
	    "'OWNER/REPO/.github/workflows/FILE.yml@REF', not "
	    "'octo/lib/w.yml@v1'") != NULL, "%s", e);
	ck_assert_msg(strstr(e, "'jobs.b.uses': expected") != NULL, "%s", e);
	ck_assert_msg(strstr(e, "ci.yml:9:14: 'jobs.c.secrets' must be "
	    "'inherit' or a mapping") != NULL, "%s", e);
	free(e);
}
END_TEST

START_TEST(test_call_ref_forms)
{
	ck_assert(workflow_call_ref_ok("./.github/workflows/a.yml"));
	ck_assert(workflow_call_ref_ok("./.github/workflows/a.yaml"));
	ck_assert(workflow_call_ref_ok("o/r/.github/workflows/a.yml@v1"));
	ck_assert(workflow_call_ref_ok("o/r/.github/workflows/a.yml@"
	    "0123456789012345678901234567890123456789"));
	ck_assert(!workflow_call_ref_ok("./a.yml"));
	ck_assert(!workflow_call_ref_ok("./.github/workflows/sub/a.yml"));
	ck_assert(!workflow_call_ref_ok("./.github/workflows/a.txt"));
	ck_assert(!workflow_call_ref_ok("o/r/.github/workflows/a.yml"));
	ck_assert(!workflow_call_ref_ok("o/r/.github/workflows/a.yml@"));
	ck_assert(!workflow_call_ref_ok("o/.github/workflows/a.yml@v1"));
	ck_assert(!workflow_call_ref_ok("o//r/.github/workflows/a.yml@v1"));
	ck_assert(!workflow_call_ref_ok("./.github/workflows/.yml"));
}
END_TEST

/* ---- expansion ---------------------------------------------------------- */

/* The loader's files: key -> text; "sha" is the same for all. */
static char *
load_from(void *arg, const char *key, char sha[41], char *err, size_t errsz)
{
	const char *text = json_string_value(json_object_get(arg, key));

	if (text == NULL) {
		snprintf(err, errsz, "no file %s", key);
		return NULL;
	}
	memset(sha, 'a', 40);
	sha[40] = '\0';
	return xstrdup(text);
}

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

static const char lib_yml[] =
    "on:\n"
    "  workflow_call:\n"
    "    inputs:\n"
    "      n:\n"
    "        type: number\n"
    "        required: true\n"
    "      flag:\n"
    "        type: boolean\n"
    "      word:\n"
    "        default: w-${{ format('{0}', 2) }}\n"
    "    secrets:\n"
    "      tok:\n"
    "        required: true\n"
    "    outputs:\n"
    "      o:\n"
    "        value: ${{ jobs.b.outputs.x }}\n"
    "jobs:\n"
    "  a:\n"
    "    runs-on: x\n"
    "    steps:\n"
    "      - run: echo\n"
    "  b:\n"
    "    name: Bee\n"
    "    needs: a\n"
    "    if: inputs.flag\n"
    "    runs-on: x\n"
    "    steps:\n"
    "      - run: echo\n";

START_TEST(test_expand_jobs)
{
	json_t *files = json_pack("{s:s}", "./.github/workflows/lib.yml",
	    lib_yml), *ctx, *top, *in, *sec;
	struct workflow *wf = parse("on: push\n"
	    "jobs:\n"
	    "  pre:\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: echo\n"
	    "  call:\n"
	    "    name: Lib\n"
	    "    needs: pre\n"
	    "    if: github.event_name == 'push'\n"
	    "    uses: ./.github/workflows/lib.yml\n"
	    "    with:\n"
	    "      n: ${{ needs.pre.outputs.n }}\n"
	    "      flag: true\n"
	    "    secrets:\n"
	    "      tok: ${{ secrets.T }}\n"
	    "  post:\n"
	    "    needs: call\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: echo\n");
	struct reusable_set set;
	const struct wf_job *j;
	char err[512];

	ck_assert_int_eq(reusable_expand(wf, "o/r", "sha1", load_from, files,
	    &set, err, sizeof err), 0);
	ck_assert_uint_eq(wf->njobs, 5);
	ck_assert_str_eq(wf->jobs[0].id, "pre");
	ck_assert_str_eq(wf->jobs[1].id, "call/a");
	ck_assert_str_eq(wf->jobs[1].name, "Lib / a");
	ck_assert_uint_eq(wf->jobs[1].nneeds, 1);
	ck_assert_str_eq(wf->jobs[1].needs[0], "pre");
	/* The caller's if: is its call's, evaluated as the caller sees it. */
	ck_assert_ptr_null(wf->jobs[1].if_cond);
	ck_assert_str_eq(set.v[0]->if_cond, "github.event_name == 'push'");
	j = &wf->jobs[2];
	ck_assert_str_eq(j->id, "call/b");
	ck_assert_str_eq(j->name, "Lib / Bee");
	ck_assert_uint_eq(j->nneeds, 2);
	ck_assert_str_eq(j->needs[0], "call/a");
	ck_assert_str_eq(j->needs[1], "pre");
	ck_assert_str_eq(j->if_cond, "inputs.flag");
	ck_assert_ptr_eq(j->call, set.v[0]);
	/* The step-less job keeps the caller's id and name. */
	j = &wf->jobs[3];
	ck_assert_str_eq(j->id, "call");
	ck_assert_str_eq(j->name, "Lib");
	ck_assert_int_eq(j->call_outputs, 1);
	ck_assert_uint_eq(j->nneeds, 2);
	ck_assert_str_eq(j->if_cond, "always()");
	ck_assert_str_eq(j->outputs.v[0].value, "${{ jobs.b.outputs.x }}");
	ck_assert_str_eq(wf->jobs[4].id, "post");
	ck_assert_str_eq(set.v[0]->ref, "o/r/.github/workflows/lib.yml@sha1");
	ck_assert_ptr_eq(set.v[0]->caller, &wf->jobs[3]);

	/* Inputs: evaluated, typed, defaults (expressions too) filled in. */
	ctx = json_pack("{s:{s:{s:{s:s}}}, s:{s:s}}", "needs", "pre",
	    "outputs", "n", "7", "secrets", "T", "tv");
	top = json_object();
	in = reusable_inputs(set.v[0], ctx, top, err, sizeof err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert(json_number_value(json_object_get(in, "n")) == 7);
	ck_assert(json_is_true(json_object_get(in, "flag")));
	ck_assert_str_eq(json_string_value(json_object_get(in, "word")), "w-2");
	json_decref(in);
	sec = reusable_secrets(set.v[0], ctx, top, json_object_get(ctx,
	    "secrets"), err, sizeof err);
	ck_assert_msg(sec != NULL, "%s", err);
	ck_assert_str_eq(json_string_value(json_object_get(sec, "tok")), "tv");
	ck_assert_ptr_null(json_object_get(sec, "T"));
	json_decref(sec);
	{
		const struct reusable_call *no = NULL;

		json_object_set_new(ctx, "github", json_pack("{s:s}",
		    "event_name", "push"));
		ck_assert_int_eq(reusable_callers_if(set.v[0], ctx, top,
		    EXPR_ST_SUCCESS, &no, err, sizeof err), 1);
		json_object_set_new(ctx, "github", json_pack("{s:s}",
		    "event_name", "pull_request"));
		ck_assert_int_eq(reusable_callers_if(set.v[0], ctx, top,
		    EXPR_ST_SUCCESS, &no, err, sizeof err), 0);
		ck_assert_ptr_eq(no, set.v[0]);
	}
	json_decref(top);
	json_decref(ctx);

	workflow_free(wf);
	reusable_set_free(&set);
	json_decref(files);
}
END_TEST

/* A matrix of callers: the called workflow once per leg. */
START_TEST(test_expand_matrix)
{
	json_t *files = json_pack("{s:s}", "./.github/workflows/lib.yml",
	    lib_yml), *ctx, *in;
	struct workflow *wf = parse("on: push\n"
	    "jobs:\n"
	    "  m:\n"
	    "    strategy:\n"
	    "      matrix:\n"
	    "        v: [1, 2]\n"
	    "    uses: ./.github/workflows/lib.yml\n"
	    "    with:\n"
	    "      n: ${{ matrix.v }}\n"
	    "    secrets: inherit\n");
	struct reusable_set set;
	char err[512];

	ck_assert_msg(reusable_expand(wf, "o/r", "s", load_from, files, &set,
	    err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(wf->njobs, 5);
	ck_assert_str_eq(wf->jobs[0].id, "m/1/a");
	ck_assert_str_eq(wf->jobs[0].name, "m (1) / a");
	ck_assert_str_eq(wf->jobs[1].id, "m/1/b");
	ck_assert_str_eq(wf->jobs[1].needs[0], "m/1/a");
	ck_assert_str_eq(wf->jobs[3].name, "m (2) / Bee");
	ck_assert_str_eq(wf->jobs[4].id, "m");
	ck_assert_uint_eq(wf->jobs[4].nneeds, 4);
	ck_assert_ptr_null(wf->jobs[4].strategy.matrix);
	ck_assert_uint_eq(set.n, 2);
	ck_assert_ptr_eq(set.v[1]->caller, &wf->jobs[4]);
	/* with: reads the caller's leg, not the called job's matrix. */
	ctx = json_pack("{s:{s:i}, s:{}}", "matrix", "v", 9, "inputs");
	in = reusable_inputs(wf->jobs[3].call, ctx, json_object_get(ctx,
	    "inputs"), err, sizeof err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert(json_number_value(json_object_get(in, "n")) == 2);
	json_decref(in);
	json_decref(ctx);
	workflow_free(wf);
	reusable_set_free(&set);
	json_decref(files);
}
END_TEST

/* What makes a call fail to plan, each naming it. */
static const struct {
	const char	*call;	/* the caller job's lines after "uses:" */
	const char	*want;
} bad_calls[] = {
	{ "./.github/workflows/none.yml\n", "jobs.call.uses: "
	    "./.github/workflows/none.yml: no file ./.github/workflows/"
	    "none.yml" },
	{ "./.github/workflows/lib.yml\n    secrets: inherit\n",
	    "jobs.call: .github/workflows/lib.yml requires input 'n', which "
	    "'with' does not give" },
	{ "./.github/workflows/lib.yml\n    with:\n      n: x\n"
	    "    secrets: inherit\n", "input 'n' is given as 'x', which is "
	    "not a number" },
	{ "./.github/workflows/lib.yml\n    with:\n      n: 1\n"
	    "      flag: maybe\n    secrets: inherit\n", "input 'flag' is "
	    "given as 'maybe', which is not a boolean" },
	{ "./.github/workflows/lib.yml\n    with:\n      n: 1\n"
	    "      nope: 1\n    secrets: inherit\n", "with.nope: "
	    ".github/workflows/lib.yml has no input 'nope'" },
	{ "./.github/workflows/lib.yml\n    with:\n      n: 1\n",
	    "requires secret 'tok', which 'secrets' does not pass" },
	{ "./.github/workflows/plain.yml\n", "./.github/workflows/plain.yml "
	    "is not a reusable workflow: its 'on' has no workflow_call" },
	{ "./.github/workflows/broken.yml\n", "./.github/workflows/broken.yml "
	    "is not a valid workflow: .github/workflows/broken.yml:3:" },
	{ "./.github/workflows/d1.yml\n", "reusable workflows nest deeper "
	    "than GitHub's limit of 10 levels (the top workflow and 9 "
	    "called)" },
};

START_TEST(test_expand_refused)
{
	json_t *files = json_pack("{s:s, s:s, s:s}",
	    "./.github/workflows/lib.yml", lib_yml,
	    "./.github/workflows/plain.yml", "on: push\njobs:\n  a:\n"
	    "    runs-on: x\n    steps:\n      - run: echo\n",
	    "./.github/workflows/broken.yml", "on: workflow_call\njobs:\n"
	    "  a: 3\n");
	struct reusable_set set;
	struct workflow *wf;
	char err[1024], *yaml, *k, *t;
	int i;

	/* d1 .. d9 call on; ten levels with ci.yml: d10 would be the 11th. */
	for (i = 1; i <= 10; i++) {
		k = xasprintf("./.github/workflows/d%d.yml", i);
		t = xasprintf("on: workflow_call\njobs:\n  d:\n"
		    "    uses: ./.github/workflows/d%d.yml\n", i + 1);
		json_object_set_new(files, k, json_string(t));
		free(k);
		free(t);
	}
	yaml = xasprintf("on: push\njobs:\n  call:\n    uses: %s",
	    bad_calls[_i].call);
	wf = parse(yaml);
	ck_assert_int_eq(reusable_expand(wf, "o/r", "sha1", load_from, files,
	    &set, err, sizeof err), -1);
	ck_assert_msg(strstr(err, bad_calls[_i].want) != NULL, "got %s\n"
	    "want %s", err, bad_calls[_i].want);
	workflow_free(wf);
	reusable_set_free(&set);
	free(yaml);
	json_decref(files);
}
END_TEST

/* Nine called levels are GitHub's limit, and run. */
START_TEST(test_expand_nine_levels)
{
	json_t *files = json_object();
	struct reusable_set set;
	struct workflow *wf;
	char err[1024], *k, *t;
	int i;

	for (i = 1; i <= 9; i++) {
		k = xasprintf("./.github/workflows/d%d.yml", i);
		t = i < 9 ? xasprintf("on: workflow_call\njobs:\n  d:\n"
		    "    uses: ./.github/workflows/d%d.yml\n", i + 1) :
		    xstrdup("on: workflow_call\njobs:\n  leaf:\n"
		    "    runs-on: x\n    steps:\n      - run: echo\n");
		json_object_set_new(files, k, json_string(t));
		free(k);
		free(t);
	}
	wf = parse("on: push\njobs:\n  d:\n"
	    "    uses: ./.github/workflows/d1.yml\n");
	ck_assert_msg(reusable_expand(wf, "o/r", "s", load_from, files, &set,
	    err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(wf->jobs[0].id, "d/d/d/d/d/d/d/d/d/leaf");
	ck_assert_str_eq(wf->jobs[0].name, "d / d / d / d / d / d / d / d / "
	    "d / leaf");
	ck_assert_uint_eq(set.n, 9);
	workflow_free(wf);
	reusable_set_free(&set);
	json_decref(files);
}
END_TEST

static Suite *
reusable_suite(void)
{
	Suite *s = suite_create("reusable");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_caller_keys);
	tcase_add_test(tc, test_call_ref_forms);
	tcase_add_test(tc, test_expand_jobs);
	tcase_add_test(tc, test_expand_matrix);
	tcase_add_loop_test(tc, test_expand_refused, 0, nitems(bad_calls));
	tcase_add_test(tc, test_expand_nine_levels);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reusable_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
