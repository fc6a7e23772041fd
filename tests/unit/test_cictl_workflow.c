/*
 * test_cictl_workflow: "cictl lint", "cictl eval" and "cictl plan", run
 * through cictl_main() -- the whole command line path: table lookup, flag
 * parsing, the handlers and the common/ code they call -- against files in
 * a fresh temporary directory per test, with stdin, stdout and stderr as
 * memory buffers.  cictl's sources are included (CICTL_NO_MAIN drops its
 * main()); none of these commands talks to kilnd.
 */
#define CICTL_NO_MAIN
#include "../../cictl/cictl.c"
#include "../../cictl/client.c"
#include "../../cictl/output.c"
#include "../../cictl/cmd_repo.c"
#include "../../cictl/cmd_runs.c"
#include "../../cictl/cmd_workflow.c"
#include "../../cictl/cmd_runctl.c"
#include "../../cictl/cmd_secret.c"
#include "../../cictl/cmd_dispatch.c"
#include "../../cictl/cmd_token.c"
#include "../../cictl/cmd_schedules.c"
#include "../../cictl/cmd_ops.c"
#include "../../cictl/cmd_outbox.c"
#include "../../cictl/cmd_cache.c"
#include "../../cictl/cmd_artifacts.c"
#include "harness.h"

#include <check.h>
#include <stdarg.h>
#include <sys/stat.h>

/* ---- helpers ---------------------------------------------------------- */

/* What one cictl_main() run produced. */
struct result {
	int	 rc;
	char	*out;
	size_t	 outlen;
	char	*err;
	size_t	 errlen;
};

static void
runv(struct result *r, const char *input, int argc, char **argv)
{
	FILE *in, *out, *err;

	memset(r, 0, sizeof *r);
	if (input != NULL)
		in = fmemopen((void *)input, strlen(input), "r");
	else
		in = fopen("/dev/null", "r");
	out = open_memstream(&r->out, &r->outlen);
	err = open_memstream(&r->err, &r->errlen);
	ck_assert(in != NULL && out != NULL && err != NULL);
	r->rc = cictl_main(argc, argv, in, out, err);
	fclose(in);
	fclose(out);
	fclose(err);
}

/* Run cictl with the NULL-terminated arguments; stdin from input. */
static void
run(struct result *r, const char *input, ...)
{
	char *argv[64];
	va_list ap;
	int argc = 0;
	const char *a;

	argv[argc++] = xstrdup("cictl");
	va_start(ap, input);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 63)
		argv[argc++] = xstrdup(a);
	va_end(ap);
	argv[argc] = NULL;
	runv(r, input, argc, argv);
	while (argc > 0)
		free(argv[--argc]);
}

static void
result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* A fresh temporary directory; the test's cwd becomes it. */
static char tmp_dir[64];

static void
tmp_setup(void)
{
	snprintf(tmp_dir, sizeof tmp_dir, "/tmp/kiln-cictl-wf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
	ck_assert_int_eq(chdir(tmp_dir), 0);
}

static void
tmp_teardown(void)
{
	if (chdir("/") != 0)
		return;
	if (harness_rm_rf(tmp_dir) != 0)
		fprintf(stderr, "could not remove %s\n", tmp_dir);
}

/* Write text to path (relative to the test directory), making parents. */
static void
put(const char *path, const char *text)
{
	char *dir = xstrdup(path), *slash;
	FILE *f;

	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	}
	free(dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* The seed document's CI workflow, in its shape. */
static const char seed_ci[] =
    "name: CI\n"
    "on:\n"
    "  push:\n"
    "    branches: [main, develop, 'feature/**']\n"
    "  pull_request:\n"
    "    branches: [main, develop]\n"
    "  schedule:\n"
    "    - cron: '0 2 * * *'\n"
    "  workflow_dispatch:\n"
    "env:\n"
    "  PYTHON_VERSION: '3.11'\n"
    "jobs:\n"
    "  lint:\n"
    "    name: Lint\n"
    "    runs-on: ubuntu-latest\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - run: ruff check src tests\n"
    "  security:\n"
    "    runs-on: ubuntu-latest\n"
    "    steps:\n"
    "      - run: bandit -r src\n"
    "  test:\n"
    "    runs-on: ubuntu-latest\n"
    "    timeout-minutes: 30\n"
    "    strategy:\n"
    "      matrix:\n"
    "        python-version: [3.11, 3.12]\n"
    "    steps:\n"
    "      - uses: actions/setup-python@v5\n"
    "        with:\n"
    "          python-version: ${{ matrix.python-version }}\n"
    "      - run: pytest tests/unit -v --cov=src\n"
    "  integration-test:\n"
    "    runs-on: ubuntu-latest\n"
    "    needs: test\n"
    "    timeout-minutes: 20\n"
    "    steps:\n"
    "      - run: pytest tests/integration\n"
    "  performance-check:\n"
    "    runs-on: ubuntu-latest\n"
    "    if: github.event_name == 'pull_request'\n"
    "    needs: [lint, test]\n"
    "    steps:\n"
    "      - run: python bench.py\n";

/* kilnd makes both of its events (schedule, workflow_dispatch). */
static const char seed_ci_warnings[] = "";

static const char bad_wf[] =
    "name: Bad\n"
    "on:\n"
    "  push:\n"
    "    branches: [main]\n"
    "    branchez: [x]\n"
    "jobs:\n"
    "  a:\n"
    "    runs-on: ubuntu-latest\n"
    "    needs: nope\n"
    "    steps:\n"
    "      - run: echo\n"
    "        uses: actions/checkout@v4\n"
    "  b:\n"
    "    runs-on: ubuntu-latest\n"
    "    steps:\n"
    "      - name: x\n";

static const char bad_wf_errors[] =
    "bad.yml:5:5: unknown key 'branchez' in 'on.push' (expected one of: "
    "branches, branches-ignore, tags, tags-ignore, paths, paths-ignore)\n"
    "bad.yml:9:12: job 'a' depends on unknown job 'nope'\n"
    "bad.yml:11:9: 'jobs.a.steps[0]' has both 'run' and 'uses'; a step "
    "does one of them, split it into two steps\n"
    "bad.yml:16:9: 'jobs.b.steps[0]' has neither 'run' nor 'uses'; add "
    "one of them\n";

/* Number of '\n' in s. */
static int
lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* ---- lint -------------------------------------------------------------- */

START_TEST(test_lint_valid_file)
{
	struct result r;

	put("ci.yml", seed_ci);
	run(&r, NULL, "lint", "ci.yml", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, seed_ci_warnings);
	ck_assert_uint_eq(r.errlen, 0);
	result_free(&r);

	/* -v: one summary line, on stderr only. */
	run(&r, NULL, "lint", "-v", "ci.yml", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, seed_ci_warnings);
	ck_assert_str_eq(r.err, "1 file checked, 0 errors, 0 warnings\n");
	result_free(&r);
}
END_TEST

START_TEST(test_lint_errors_exact)
{
	struct result r;

	put("bad.yml", bad_wf);
	run(&r, NULL, "lint", "bad.yml", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, bad_wf_errors);
	ck_assert_uint_eq(r.errlen, 0);
	result_free(&r);

	/* A YAML syntax error is one positioned line too. */
	put("broken.yml", "on: push\njobs: [a\n");
	run(&r, NULL, "lint", "broken.yml", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_int_eq(lines(r.out), 1);
	ck_assert_msg(strncmp(r.out, "broken.yml:", 11) == 0, "%s", r.out);
	result_free(&r);

	/* An expression error in if: carries its column. */
	put("expr.yml", "on: push\njobs:\n  a:\n    runs-on: x\n"
	    "    if: github.ref ==\n    steps:\n      - run: echo\n");
	run(&r, NULL, "lint", "expr.yml", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_int_eq(lines(r.out), 1);
	ck_assert_msg(strncmp(r.out, "expr.yml:5:", 11) == 0, "%s", r.out);
	result_free(&r);
}
END_TEST

START_TEST(test_lint_directory)
{
	struct result r;

	put("wf/a.yml", seed_ci);
	put("wf/bad.yaml", bad_wf);
	put("wf/notes.txt", "not a workflow: [\n");
	put("wf/sub/c.yml", bad_wf);	/* not directly in the directory */
	run(&r, NULL, "lint", "-v", "wf", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_int_eq(lines(r.out), 4);
	ck_assert_msg(strncmp(r.out, "wf/bad.yaml:", 12) == 0, "%s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "wf/bad.yaml:5:5: unknown key "
	    "'branchez'"));
	ck_assert_ptr_nonnull(strstr(r.out, "\nwf/bad.yaml:16:9: "));
	ck_assert_str_eq(r.err, "2 files checked, 4 errors, 0 warnings\n");
	result_free(&r);

	/* Files in the order given; a directory's files sorted. */
	put("z.yml", bad_wf);
	run(&r, NULL, "lint", "z.yml", "wf/a.yml", "wf/bad.yaml", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_int_eq(lines(r.out), 8);
	ck_assert_msg(strncmp(r.out, "z.yml:5:5:", 10) == 0, "%s", r.out);
	result_free(&r);

	/* The default is .github/workflows of the current directory. */
	run(&r, NULL, "lint", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_ptr_nonnull(strstr(r.err, ".github/workflows"));
	result_free(&r);
	put(".github/workflows/ci.yml", seed_ci);
	run(&r, NULL, "lint", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(lines(r.out), 0);
	ck_assert_uint_eq(r.errlen, 0);
	result_free(&r);
	/* A repository root stands for its workflows. */
	run(&r, NULL, "lint", "-v", ".", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.err, "1 file checked, 0 errors, 0 warnings\n");
	result_free(&r);
}
END_TEST

START_TEST(test_lint_missing_file)
{
	struct result r;

	put("ok.yml", seed_ci);
	run(&r, NULL, "lint", "ok.yml", "missing.yml", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_int_eq(lines(r.out), 0);
	ck_assert_str_eq(r.err, "cictl: missing.yml: No such file or "
	    "directory\n");
	result_free(&r);

	run(&r, NULL, "lint", "--verbose", NULL);
	ck_assert_int_eq(r.rc, 2);
	result_free(&r);
}
END_TEST

/* ---- eval -------------------------------------------------------------- */

/* eval EXPR [--context FILE]: rc 0 and exactly want on stdout. */
static void
eval_ok(const char *expr, const char *ctxfile, const char *want)
{
	struct result r;

	if (ctxfile != NULL)
		run(&r, NULL, "eval", expr, "--context", ctxfile, NULL);
	else
		run(&r, NULL, "eval", "--", expr, NULL);
	ck_assert_msg(r.rc == 0, "%s: rc %d, %s", expr, r.rc, r.err);
	ck_assert_msg(strcmp(r.out, want) == 0, "%s: got %s, want %s", expr,
	    r.out, want);
	ck_assert_uint_eq(r.errlen, 0);
	result_free(&r);
}

START_TEST(test_eval_literals)
{
	eval_ok("1", NULL, "1\n");
	eval_ok("-2.5", NULL, "-2.5\n");
	eval_ok("0xff", NULL, "255\n");
	eval_ok("'it''s'", NULL, "\"it's\"\n");
	eval_ok("true", NULL, "true\n");
	eval_ok("null", NULL, "null\n");
	eval_ok("", NULL, "null\n");
	eval_ok("fromJSON('{\"a\":[true,\"x\"]}')", NULL,
	    "{\"a\":[true,\"x\"]}\n");
}
END_TEST

START_TEST(test_eval_operators)
{
	eval_ok("1 == 1.0", NULL, "true\n");
	eval_ok("'abc' == 'ABC'", NULL, "true\n");
	eval_ok("'1' == 1", NULL, "true\n");
	eval_ok("!0", NULL, "true\n");
	eval_ok("1 < 2 && 'yes' || 'no'", NULL, "\"yes\"\n");
	eval_ok("null || 'default'", NULL, "\"default\"\n");
	eval_ok("format('{0}-{1}', 'a', 3)", NULL, "\"a-3\"\n");
	eval_ok("contains('Hello', 'ell')", NULL, "true\n");
	/* Status functions default to a job that has not failed. */
	eval_ok("success()", NULL, "true\n");
	eval_ok("failure()", NULL, "false\n");
	/* Contexts default to empty objects. */
	eval_ok("github.ref", NULL, "null\n");
}
END_TEST

START_TEST(test_eval_contexts)
{
	struct result r;

	put("ctx.json", "{\"github\": {\"ref\": \"refs/heads/main\", "
	    "\"event\": {\"n\": [1, 2.5]}}, \"matrix\": {\"os\": \"linux\"}}");
	eval_ok("github.ref == 'refs/heads/main'", "ctx.json", "true\n");
	eval_ok("github.event.n", "ctx.json", "[1,2.5]\n");
	eval_ok("github.event.n[1]", "ctx.json", "2.5\n");
	eval_ok("github['event'].*", "ctx.json", "[[1,2.5]]\n");
	/* Templates: one ${{ }} keeps its type, mixed text is a string. */
	eval_ok("${{ github.event.n }}", "ctx.json", "[1,2.5]\n");
	eval_ok("build-${{ matrix.os }}-${{ 1 }}", "ctx.json",
	    "\"build-linux-1\"\n");
	/* Contexts from stdin. */
	run(&r, "{\"env\": {\"A\": \"x\"}}", "eval", "env.A", "--context", "-",
	    NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "\"x\"\n");
	result_free(&r);
}
END_TEST

/* GitHub's own limit: 21,000 UTF-16 units, one past it is refused. */
START_TEST(test_eval_max_length)
{
	struct result r;
	struct buf b = { 0 };
	size_t i;

	buf_add_str(&b, "'");
	for (i = 0; i < 20998; i++)
		buf_add_char(&b, 'x');
	buf_add_str(&b, "'");
	run(&r, NULL, "eval", "--", b.data, NULL);
	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert_uint_eq(r.outlen, 21001);
	result_free(&r);

	buf_add_char(&b, ' ');
	run(&r, NULL, "eval", "--", b.data, NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_msg(strstr(r.err, "Exceeded max expression length 21000") !=
	    NULL, "%s", r.err);
	result_free(&r);

	/* Case-insensitive keys of a contexts file are one key. */
	put("dup.json", "{\"env\": {\"a\": 1, \"A\": 2}}");
	eval_ok("toJSON(env)", "dup.json", "\"{\\n  \\\"a\\\": 2\\n}\"\n");
	buf_free(&b);
}
END_TEST

START_TEST(test_eval_errors)
{
	struct result r;

	run(&r, NULL, "eval", "1 ==", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_uint_eq(r.outlen, 0);
	ck_assert_int_eq(lines(r.err), 1);
	ck_assert_msg(strncmp(r.err, "cictl: ", 7) == 0, "%s", r.err);
	result_free(&r);

	run(&r, NULL, "eval", "${{ github.ref", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_uint_eq(r.outlen, 0);
	result_free(&r);

	run(&r, NULL, "eval", "nosuch.x", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "nosuch"));
	result_free(&r);

	run(&r, NULL, "eval", "1", "--context", "missing.json", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "missing.json"));
	result_free(&r);

	put("arr.json", "[1]");
	run(&r, NULL, "eval", "1", "--context", "arr.json", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "object"));
	result_free(&r);

	put("broken.json", "{\"a\": ");
	run(&r, NULL, "eval", "1", "--context", "broken.json", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_msg(strncmp(r.err, "cictl: broken.json:1:", 21) == 0, "%s",
	    r.err);
	result_free(&r);

	run(&r, NULL, "eval", NULL);
	ck_assert_int_eq(r.rc, 2);
	result_free(&r);
}
END_TEST

/* ---- plan -------------------------------------------------------------- */

/* Run plan with --json and parse the answer; the caller decrefs. */
static json_t *
plan_json(const char *dir, ...)
{
	char *argv[64];
	struct result r;
	json_error_t jerr;
	json_t *j;
	va_list ap;
	const char *a;
	int argc = 0;

	argv[argc++] = xstrdup("cictl");
	argv[argc++] = xstrdup("plan");
	argv[argc++] = xstrdup(dir);
	argv[argc++] = xstrdup("--json");
	va_start(ap, dir);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 63)
		argv[argc++] = xstrdup(a);
	va_end(ap);
	argv[argc] = NULL;
	runv(&r, NULL, argc, argv);
	while (argc > 0)
		free(argv[--argc]);
	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	j = json_loads(r.out, 0, &jerr);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	result_free(&r);
	return j;
}

/* The first workflow of a plan. */
static json_t *
wf0(json_t *plan)
{
	return json_array_get(json_object_get(plan, "workflows"), 0);
}

/*
 * The names of a workflow's jobs, joined with '|': those that run (or may:
 * decided at run time), or with skipped set, those whose if: is false.
 */
static char *
job_names_if(json_t *w, int skipped)
{
	struct buf b = { 0 };
	json_t *j;
	size_t i;

	buf_add_str(&b, "");
	json_array_foreach(json_object_get(w, "jobs"), i, j) {
		if (json_is_true(json_object_get(j, "skipped")) != skipped)
			continue;
		buf_printf(&b, "%s%s", b.len > 0 ? "|" : "",
		    json_string_value(json_object_get(j, "name")));
	}
	return buf_steal(&b);
}

static char *
job_names(json_t *w)
{
	return job_names_if(w, 0);
}

/* Expect a triggered workflow with exactly these job names. */
static void
expect_jobs(json_t *plan, const char *want)
{
	json_t *w = wf0(plan);
	char *names;

	ck_assert_msg(json_is_true(json_object_get(w, "triggered")),
	    "not triggered: %s", json_string_value(json_object_get(w,
	    "reason")));
	ck_assert(json_is_null(json_object_get(w, "reason")));
	names = job_names(w);
	ck_assert_str_eq(names, want);
	free(names);
}

/* Expect an untriggered workflow whose reason holds each of the strings. */
static void
expect_reason(json_t *plan, const char *s1, const char *s2)
{
	json_t *w = wf0(plan);
	const char *reason = json_string_value(json_object_get(w, "reason"));

	ck_assert(json_is_false(json_object_get(w, "triggered")));
	ck_assert_ptr_nonnull(reason);
	ck_assert_msg(strstr(reason, s1) != NULL, "reason: %s", reason);
	if (s2 != NULL)
		ck_assert_msg(strstr(reason, s2) != NULL, "reason: %s",
		    reason);
	ck_assert_uint_eq(json_array_size(json_object_get(w, "jobs")), 0);
}

#define SEED_PUSH_JOBS	"Lint|security|test (3.11)|test (3.12)|integration-test"

START_TEST(test_plan_seed_push)
{
	struct result r;
	json_t *p, *w, *j;

	put("repo/.github/workflows/ci.yml", seed_ci);
	p = plan_json("repo", "--event", "push", "--ref", "main", NULL);
	expect_jobs(p, SEED_PUSH_JOBS);
	w = wf0(p);
	ck_assert_str_eq(json_string_value(json_object_get(w, "name")), "CI");
	ck_assert_str_eq(json_string_value(json_object_get(w, "file")),
	    "repo/.github/workflows/ci.yml");
	/* The matrix legs carry their combination; needs are job ids. */
	j = json_array_get(json_object_get(w, "jobs"), 2);
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "test");
	ck_assert(json_is_real(json_object_get(json_object_get(j, "matrix"),
	    "python-version")));
	j = json_array_get(json_object_get(w, "jobs"), 4);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j,
	    "needs"), 0)), "test");
	json_decref(p);

	p = plan_json("repo", "--event", "push", "--ref", "refs/heads/develop",
	    NULL);
	expect_jobs(p, SEED_PUSH_JOBS);
	json_decref(p);
	p = plan_json("repo", "--event", "push", "--ref", "feature/a/b", NULL);
	expect_jobs(p, SEED_PUSH_JOBS);
	json_decref(p);

	p = plan_json("repo", "--event", "push", "--ref", "hotfix", NULL);
	expect_reason(p, "'hotfix'", "on.push.branches");
	json_decref(p);

	/* A tag push: on.push has only branch filters. */
	p = plan_json("repo", "--event", "push", "--ref", "refs/tags/v1.0",
	    NULL);
	expect_reason(p, "tag 'v1.0'", "branch filters");
	json_decref(p);

	/* A skip marker in the payload's head commit. */
	put("push.json", "{\"head_commit\": {\"message\": \"docs [skip ci]\"}}");
	p = plan_json("repo", "--event", "push", "--ref", "main", "--payload",
	    "push.json", NULL);
	expect_reason(p, "[skip ci]", NULL);
	json_decref(p);

	/* The text form: header, then the jobs indented with their needs. */
	run(&r, NULL, "plan", "repo", "--event", "push", "--ref", "main",
	    NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out,
	    "repo/.github/workflows/ci.yml (CI): TRIGGERED\n"

	    "    lint              Lint\n"
	    "    security          security\n"
	    "    test              test (3.11)\n"
	    "    test              test (3.12)\n"
	    "    integration-test  integration-test  needs: test\n"
	    "  note: job 'performance-check' would be skipped: if: "
	    "github.event_name == 'pull_request'\n");
	result_free(&r);
	run(&r, NULL, "plan", "repo", "--event", "push", "--ref", "x", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "repo/.github/workflows/ci.yml (CI): not "
	    "triggered: branch 'x' does not match on.push.branches\n"
);
	result_free(&r);
}
END_TEST

START_TEST(test_plan_seed_other_events)
{
	json_t *p;

	put("repo/.github/workflows/ci.yml", seed_ci);
	/* The pull-request-only job appears, after the jobs it needs. */
	p = plan_json("repo", "--event", "pull_request", "--ref", "feature/x",
	    "--base-ref", "main", NULL);
	expect_jobs(p, SEED_PUSH_JOBS "|performance-check");
	json_decref(p);
	p = plan_json("repo", "--event", "pull_request", "--ref", "feature/x",
	    "--base-ref", "refs/heads/develop", NULL);
	expect_jobs(p, SEED_PUSH_JOBS "|performance-check");
	json_decref(p);
	p = plan_json("repo", "--event", "pull_request", "--ref", "x",
	    "--base-ref", "release", NULL);
	expect_reason(p, "base branch 'release'", "on.pull_request.branches");
	json_decref(p);

	/* Activity type and base branch from the payload. */
	put("closed.json", "{\"action\": \"closed\", \"number\": 7, "
	    "\"pull_request\": {\"base\": {\"ref\": \"main\"}}}");
	p = plan_json("repo", "--event", "pull_request", "--ref", "x",
	    "--payload", "closed.json", NULL);
	expect_reason(p, "'closed'", "types");
	json_decref(p);
	put("sync.json", "{\"action\": \"synchronize\", \"number\": 7, "
	    "\"pull_request\": {\"base\": {\"ref\": \"develop\"}}}");
	p = plan_json("repo", "--event", "pull_request", "--ref", "x",
	    "--payload", "sync.json", NULL);
	expect_jobs(p, SEED_PUSH_JOBS "|performance-check");
	json_decref(p);

	p = plan_json("repo", "--event", "schedule", "--ref", "main", NULL);
	expect_jobs(p, SEED_PUSH_JOBS);
	json_decref(p);
	put("cron.json", "{\"schedule\": \"0 3 * * *\"}");
	p = plan_json("repo", "--event", "schedule", "--ref", "main",
	    "--payload", "cron.json", NULL);
	expect_reason(p, "0 3 * * *", NULL);
	json_decref(p);

	p = plan_json("repo", "--event", "workflow_dispatch", "--ref", "main",
	    NULL);
	expect_jobs(p, SEED_PUSH_JOBS);
	json_decref(p);
}
END_TEST

START_TEST(test_plan_path_filters)
{
	struct result r;
	json_t *p;

	put("wf/paths.yml",
	    "on:\n"
	    "  push:\n"
	    "    paths: ['src/**', '!src/docs/**']\n"
	    "  pull_request:\n"
	    "    paths-ignore: ['**.md']\n"
	    "jobs:\n"
	    "  build:\n"
	    "    runs-on: ubuntu-latest\n"
	    "    steps:\n"
	    "      - run: make\n");
	/* A directory that is itself the workflows directory. */
	p = plan_json("wf", "--event", "push", "--ref", "main", "--changed",
	    "README.md", "--changed", "src/main.c", NULL);
	expect_jobs(p, "build");
	ck_assert_str_eq(json_string_value(json_object_get(wf0(p), "name")),
	    "wf/paths.yml");
	json_decref(p);
	p = plan_json("wf", "--event", "push", "--ref", "main", "--changed",
	    "src/docs/a.txt", "--changed=docs/x", NULL);
	expect_reason(p, "on.push.paths", NULL);
	json_decref(p);
	/* No --changed: say so, and how to give them. */
	p = plan_json("wf", "--event", "push", "--ref", "main", NULL);
	expect_reason(p, "--changed", "path filters");
	json_decref(p);
	/* Path filters do not apply to tag pushes. */
	p = plan_json("wf", "--event", "push", "--ref", "refs/tags/v2", NULL);
	expect_jobs(p, "build");
	json_decref(p);

	p = plan_json("wf", "--event", "pull_request", "--ref", "x",
	    "--base-ref", "main", "--changed", "a.md", "--changed", "b/c.md",
	    NULL);
	expect_reason(p, "paths-ignore", NULL);
	json_decref(p);
	p = plan_json("wf", "--event", "pull_request", "--ref", "x",
	    "--base-ref", "main", "--changed", "a.md", "--changed", "b/c.c",
	    NULL);
	expect_jobs(p, "build");
	json_decref(p);

	/* --changed only for push and pull_request. */
	run(&r, NULL, "plan", "wf", "--event", "schedule", "--ref", "main",
	    "--changed", "a", NULL);
	ck_assert_int_eq(r.rc, 2);
	result_free(&r);
}
END_TEST

/* Exactly these keys, in this order. */
static void
expect_keys(json_t *o, const char *const *keys, size_t n)
{
	const char *k;
	json_t *v;
	size_t i = 0;

	ck_assert(json_is_object(o));
	ck_assert_uint_eq(json_object_size(o), n);
	json_object_foreach(o, k, v) {
		ck_assert_str_eq(k, keys[i]);
		i++;
	}
}

START_TEST(test_plan_json_shape)
{
	static const char *const wkeys[] = {
		"file", "name", "triggered", "reason", "errors", "warnings",
		"jobs",
	};
	static const char *const jkeys[] = { "id", "name", "matrix", "needs",
	    "labels", "skipped", "decided_at_run_time", "fails", "reason" };
	json_t *p, *ws, *w, *j, *v;
	size_t i, k, njobs = 0;

	put("r/.github/workflows/a.yml", seed_ci);
	put("r/.github/workflows/b.yaml", bad_wf);
	put("r/.github/workflows/c.yml",
	    "on: pull_request\njobs:\n  x:\n    runs-on: y\n"
	    "    steps:\n      - run: z\n");
	p = plan_json("r", "--event", "push", "--ref", "main", NULL);
	ck_assert_uint_eq(json_object_size(p), 1);
	ws = json_object_get(p, "workflows");
	ck_assert(json_is_array(ws));
	ck_assert_uint_eq(json_array_size(ws), 3);
	json_array_foreach(ws, i, w) {
		expect_keys(w, wkeys, nitems(wkeys));
		ck_assert(json_is_string(json_object_get(w, "file")));
		ck_assert(json_is_string(json_object_get(w, "name")));
		ck_assert(json_is_boolean(json_object_get(w, "triggered")));
		ck_assert(json_is_true(json_object_get(w, "triggered")) ?
		    json_is_null(json_object_get(w, "reason")) :
		    json_is_string(json_object_get(w, "reason")));
		ck_assert(json_is_array(json_object_get(w, "errors")));
		json_array_foreach(json_object_get(w, "errors"), k, v)
			ck_assert(json_is_string(v));
		ck_assert(json_is_array(json_object_get(w, "jobs")));
		json_array_foreach(json_object_get(w, "jobs"), k, j) {
			expect_keys(j, jkeys, nitems(jkeys));
			ck_assert(json_is_string(json_object_get(j, "id")));
			ck_assert(json_is_string(json_object_get(j, "name")));
			v = json_object_get(j, "matrix");
			ck_assert(json_is_null(v) || json_is_object(v));
			ck_assert(json_is_array(json_object_get(j, "needs")));
			ck_assert(json_is_boolean(json_object_get(j,
			    "skipped")));
			ck_assert(json_is_boolean(json_object_get(j,
			    "decided_at_run_time")));
			/* A reason exactly when the job does not just run. */
			ck_assert_int_eq(json_is_string(json_object_get(j,
			    "reason")), json_is_true(json_object_get(j,
			    "skipped")) || json_is_true(json_object_get(j,
			    "decided_at_run_time")) || !json_is_null(
			    json_object_get(j, "fails")));
			njobs++;
		}
	}
	/* performance-check is listed too, skipped, with its if:. */
	ck_assert_uint_eq(njobs, 6);
	j = json_array_get(json_object_get(json_array_get(ws, 0), "jobs"), 5);
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")),
	    "performance-check");
	ck_assert(json_is_true(json_object_get(j, "skipped")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "reason")),
	    "if: github.event_name == 'pull_request'");
	ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(ws,
	    0), "warnings")), 0);

	/* a.yml: triggered.  b.yaml: its errors, file:line:col. */
	w = json_array_get(ws, 1);
	ck_assert_str_eq(json_string_value(json_object_get(w, "file")),
	    "r/.github/workflows/b.yaml");
	ck_assert(json_is_false(json_object_get(w, "triggered")));
	ck_assert_uint_eq(json_array_size(json_object_get(w, "errors")), 4);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(w,
	    "errors"), 1)), "r/.github/workflows/b.yaml:9:12: job 'a' "
	    "depends on unknown job 'nope'");
	/* c.yml: no name, so GitHub's default, the path from the root. */
	w = json_array_get(ws, 2);
	ck_assert_str_eq(json_string_value(json_object_get(w, "name")),
	    ".github/workflows/c.yml");
	ck_assert_str_eq(json_string_value(json_object_get(w, "reason")),
	    "workflow is not triggered by 'push' events");
	json_decref(p);
}
END_TEST

START_TEST(test_plan_matrix_and_names)
{
	json_t *p, *w;
	char *names;

	put("wf/m.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  build:\n"
	    "    name: build-${{ matrix.os }}\n"
	    "    runs-on: ${{ matrix.os }}\n"
	    "    strategy:\n"
	    "      matrix:\n"
	    "        os: [linux, mac]\n"
	    "        v: [1, 2]\n"
	    "        exclude:\n"
	    "          - os: mac\n"
	    "            v: 1\n"
	    "        include:\n"
	    "          - os: bsd\n"
	    "    steps:\n"
	    "      - run: make\n"
	    "  dyn:\n"
	    "    needs: build\n"
	    "    runs-on: x\n"
	    "    strategy:\n"
	    "      matrix: ${{ fromJSON(needs.build.outputs.m) }}\n"
	    "    steps:\n"
	    "      - run: make\n"
	    "  inputs:\n"
	    "    runs-on: x\n"
	    "    strategy:\n"
	    "      matrix:\n"
	    "        n: ${{ fromJSON('[1, 2, 3]') }}\n"
	    "    steps:\n"
	    "      - run: make\n");
	p = plan_json("wf", "--event", "push", "--ref", "main", NULL);
	w = wf0(p);
	ck_assert_msg(json_array_size(json_object_get(w, "errors")) == 0,
	    "%s", json_string_value(json_array_get(json_object_get(w,
	    "errors"), 0)));
	names = job_names(w);
	ck_assert_str_eq(names, "build-linux|build-linux|build-mac|build-bsd|"
	    "dyn|inputs (1)|inputs (2)|inputs (3)");
	free(names);
	json_decref(p);
}
END_TEST

START_TEST(test_plan_dispatch_inputs)
{
	json_t *p;

	put("wf/d.yml",
	    "on:\n"
	    "  workflow_dispatch:\n"
	    "    inputs:\n"
	    "      model:\n"
	    "        type: choice\n"
	    "        options: [small, large]\n"
	    "        required: true\n"
	    "      deep:\n"
	    "        type: boolean\n"
	    "        default: false\n"
	    "jobs:\n"
	    "  train:\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: train\n"
	    "  deep:\n"
	    "    if: inputs.deep\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: train --deep\n");
	p = plan_json("wf", "--event", "workflow_dispatch", "--ref", "main",
	    NULL);
	expect_reason(p, "'model'", NULL);
	json_decref(p);
	put("in.json", "{\"inputs\": {\"model\": \"small\"}}");
	p = plan_json("wf", "--event", "workflow_dispatch", "--ref", "main",
	    "--payload", "in.json", NULL);
	expect_jobs(p, "train");
	json_decref(p);
	put("in.json", "{\"inputs\": {\"model\": \"small\", \"deep\": true}}");
	p = plan_json("wf", "--event", "workflow_dispatch", "--ref", "main",
	    "--payload", "in.json", NULL);
	expect_jobs(p, "train|deep");
	json_decref(p);
	p = plan_json("wf", "--event", "push", "--ref", "main", NULL);
	expect_reason(p, "'push'", NULL);
	json_decref(p);
}
END_TEST

START_TEST(test_plan_usage_and_io)
{
	static const char *const cases[][8] = {
		{ "plan", "r", "--event", "release", "--ref", "main", NULL },
		{ "plan", "r", "--event", "push", NULL },
		{ "plan", "r", "--ref", "main", NULL },
		{ "plan", "--event", "push", "--ref", "main", NULL },
		{ "plan", "r", "--event", "push", "--ref", "a b", NULL },
		{ "plan", "r", "--event", "push", "--ref", "main",
		  "--base-ref", "main" },
		{ "plan", "r", "--event", "pull_request", "--ref", "main",
		  NULL },
		{ "plan", "r", "--event", "push", "--ref", "main",
		  "--changed", "/abs" },
	};
	struct result r;
	char **argv;
	size_t i;
	int argc;

	put("r/.github/workflows/ci.yml", seed_ci);
	for (i = 0; i < nitems(cases); i++) {
		run(&r, NULL, cases[i][0], cases[i][1], cases[i][2],
		    cases[i][3], cases[i][4], cases[i][5], cases[i][6],
		    cases[i][7], NULL);
		ck_assert_msg(r.rc == 2, "case %zu: rc %d %s", i, r.rc, r.err);
		ck_assert_msg(strncmp(r.err, "cictl: ", 7) == 0, "%s", r.err);
		ck_assert_ptr_nonnull(strstr(r.err, "\nusage: cictl plan "));
		ck_assert_uint_eq(r.outlen, 0);
		result_free(&r);
	}

	/* I/O errors: exit 1. */
	run(&r, NULL, "plan", "nowhere", "--event", "push", "--ref", "main",
	    NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_int_eq(lines(r.err), 1);
	result_free(&r);
	run(&r, NULL, "plan", "r", "--event", "push", "--ref", "main",
	    "--payload", "nope.json", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "nope.json"));
	result_free(&r);

	/* --changed: up to CICTL_MAX_REPEAT values, not one more. */
	argv = xcalloc(2 * CICTL_MAX_REPEAT + 16, sizeof *argv);
	argc = 0;
	argv[argc++] = "cictl";
	argv[argc++] = "plan";
	argv[argc++] = "r";
	argv[argc++] = "--event=push";
	argv[argc++] = "--ref=main";
	argv[argc++] = "--json";
	for (i = 0; i < CICTL_MAX_REPEAT; i++) {
		argv[argc++] = "--changed";
		argv[argc++] = "src/x.c";
	}
	runv(&r, NULL, argc, argv);
	ck_assert_msg(r.rc == 0, "%s", r.err);
	result_free(&r);
	argv[argc++] = "--changed=one-more";
	runv(&r, NULL, argc, argv);
	ck_assert_int_eq(r.rc, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--changed given more than 3000 "
	    "times"));
	result_free(&r);
	free(argv);
}
END_TEST


/*
 * A cron line with a timezone would fire at another minute than kiln's
 * UTC one: lint says it never fires, at its place; the other line stays.
 */
START_TEST(test_lint_schedule_timezone_never_fires)
{
	struct result r;

	put("tz.yml", "on:\n  schedule:\n    - cron: '30 5 * * 1-5'\n"
	    "      timezone: America/New_York\n    - cron: '0 2 * * *'\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n");
	run(&r, NULL, "lint", "tz.yml", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "tz.yml:3:7: warning: on.schedule[0].timezone: "
	    "kiln fires schedules in UTC only; this cron line never fires "
	    "(write its time in UTC and drop timezone)\n");
	result_free(&r);
}
END_TEST

/*
 * Everything kiln accepts but does not execute is a warning at its place,
 * in lint and in plan, and plan says the job fails without running.
 */
static const char unsupported_wf[] =
    "on: push\n"
    "jobs:\n"
    "  boxed:\n"
    "    runs-on: x\n"
    "    container: node:20\n"
    "    services:\n"
    "      db:\n"
    "        image: postgres\n"
    "    steps:\n"
    "      - run: npm test\n"
    "  deploy:\n"
    "    runs-on:\n"
    "      group: prod\n"
    "    environment:\n"
    "      name: pypi\n"
    "      url: https://pypi.org/p/${{ env.PKG }}\n"
    "      deployment: true\n"
    "    timeout-minutes: 14400\n"
    "    steps:\n"
    "      - uses: docker://alpine:3\n"
    "      - uses: ./my-action\n"
    "      - uses: codecov/codecov-action@v4\n"
    "      - uses: actions/checkout@v4\n"
    "        with:\n"
    "          submodules: true\n"
    "      - uses: actions/setup-python@v5\n"
    "        with:\n"
    "          python-version: '3.12'\n"
    "          cache: pip\n";

START_TEST(test_lint_and_plan_report_unsupported)
{
	static const char *const want[] = {
	    "u.yml:13:7: warning: jobs.deploy.runs-on.group: kiln has no "
	    "runner groups",
	    "u.yml:15:7: warning: jobs.deploy.environment: kiln has no "
	    "deployment environments",
	    "u.yml:25:11: warning: jobs.deploy.steps[3]: actions/checkout: "
	    "input \"submodules\" is not supported by kiln",
	};
	struct result r;
	json_t *p, *w, *j;
	const char *line;
	size_t i;

	put("u.yml", unsupported_wf);
	run(&r, NULL, "lint", "u.yml", NULL);
	/* Valid (14400 minutes, deployment: true, env in the url), warned. */
	ck_assert_msg(r.rc == 0, "%s", r.out);
	ck_assert_int_eq(lines(r.out), (int)nitems(want));
	line = r.out;
	for (i = 0; i < nitems(want); i++) {
		ck_assert_msg(strncmp(line, want[i], strlen(want[i])) == 0,
		    "line %zu: want %s\ngot %s", i, want[i], line);
		line = strchr(line, '\n') + 1;
	}
	result_free(&r);

	put("wf/u.yml", unsupported_wf);
	p = plan_json("wf", "--event", "push", "--ref", "main", NULL);
	w = wf0(p);
	ck_assert(json_is_true(json_object_get(w, "triggered")));
	ck_assert_uint_eq(json_array_size(json_object_get(w, "warnings")),
	    nitems(want));
	/* Each job that kiln cannot run says so; none just "runs". */
	json_array_foreach(json_object_get(w, "jobs"), i, j) {
		const char *fails = json_string_value(json_object_get(j,
		    "fails"));

		/* container: and services: run (through the engine). */
		if (strcmp(json_string_value(json_object_get(j, "id")),
		    "boxed") == 0) {
			ck_assert_ptr_null(fails);
			continue;
		}
		if (strcmp(json_string_value(json_object_get(j, "id")),
		    "deploy") == 0) {
			/* Its steps fail when they run; the job, first. */
			ck_assert_ptr_nonnull(fails);
			ck_assert_ptr_nonnull(strstr(fails, "jobs.deploy.environment: "));
			continue;
		}
		ck_assert_msg(fails != NULL, "job %zu runs", i);
		ck_assert_ptr_nonnull(strstr(fails, "the job fails without "
		    "running"));
	}
	json_decref(p);

	/* The text form lists the warnings and marks the jobs. */
	run(&r, NULL, "plan", "wf", "--event", "push", "--ref", "main", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "  warning: wf/u.yml:13:7: "
	    "jobs.deploy.runs-on.group: "));
	ck_assert_ptr_null(strstr(r.out, "jobs.boxed.container"));
	ck_assert_ptr_nonnull(strstr(r.out, "(fails without running)"));
	ck_assert_ptr_nonnull(strstr(r.out, "  note: job 'deploy' fails without "
	    "running: jobs.deploy.environment: "));
	result_free(&r);
}
END_TEST

/*
 * A job gated on a needed job's outputs is decided at run time (never
 * "would be skipped"), and so are the jobs that need it; always() runs;
 * failure() is false while the jobs it needs succeed.
 */
START_TEST(test_plan_needs_outputs_decided_at_run_time)
{
	struct result r;
	json_t *p, *w, *j;
	char *names;

	put("wf/o.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  check:\n"
	    "    runs-on: x\n"
	    "    outputs:\n"
	    "      run_tests: ${{ steps.c.outputs.run }}\n"
	    "    steps:\n"
	    "      - id: c\n"
	    "        run: echo run=true >> $GITHUB_OUTPUT\n"
	    "  test:\n"
	    "    needs: check\n"
	    "    if: needs.check.outputs.run_tests == 'true'\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: make test\n"
	    "  after:\n"
	    "    needs: test\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: make dist\n"
	    "  cleanup:\n"
	    "    needs: test\n"
	    "    if: always()\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: make clean\n"
	    "  on-failure:\n"
	    "    needs: check\n"
	    "    if: failure()\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: notify\n");
	p = plan_json("wf", "--event", "push", "--ref", "main", NULL);
	w = wf0(p);
	names = job_names(w);
	ck_assert_str_eq(names, "check|test|after|cleanup");
	free(names);
	names = job_names_if(w, 1);
	ck_assert_str_eq(names, "on-failure");
	free(names);
	j = json_array_get(json_object_get(w, "jobs"), 1);
	ck_assert(json_is_true(json_object_get(j, "decided_at_run_time")));
	ck_assert(json_is_false(json_object_get(j, "skipped")));
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j,
	    "reason")), "known only at run time"));
	j = json_array_get(json_object_get(w, "jobs"), 2);
	ck_assert(json_is_true(json_object_get(j, "decided_at_run_time")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "reason")),
	    "it needs job 'test', which is decided at run time");
	j = json_array_get(json_object_get(w, "jobs"), 3);
	ck_assert(json_is_false(json_object_get(j, "decided_at_run_time")));
	ck_assert(json_is_null(json_object_get(j, "reason")));
	j = json_array_get(json_object_get(w, "jobs"), 4);
	ck_assert_str_eq(json_string_value(json_object_get(j, "reason")),
	    "if: failure()");
	json_decref(p);

	run(&r, NULL, "plan", "wf", "--event", "push", "--ref", "main", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_null(strstr(r.out, "job 'test' would be skipped"));
	ck_assert_ptr_nonnull(strstr(r.out, "    test     test     needs: "
	    "check  (decided at run time)\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "  note: job 'test' is decided at "
	    "run time: its if: reads the needs context"));
	result_free(&r);
}
END_TEST

/*
 * The github context by the event table's ref rules: a pull request runs
 * its test merge; pull_request_target the base branch, never the merge.
 */
START_TEST(test_plan_pull_request_refs)
{
	json_t *p;
	char *names;

	put("wf/r.yml",
	    "on: [pull_request, pull_request_target]\n"
	    "jobs:\n"
	    "  a:\n"
	    "    name: ${{ github.event_name }} ${{ github.ref }} "
	    "${{ github.sha }} ${{ github.head_ref }} ${{ github.base_ref }}\n"
	    "    runs-on: x\n"
	    "    steps:\n"
	    "      - run: echo\n");
	put("pr.json", "{\"action\": \"synchronize\", \"number\": 5, "
	    "\"pull_request\": {\"merge_commit_sha\": \"m1\", "
	    "\"head\": {\"sha\": \"h1\"}, \"base\": {\"ref\": \"main\", "
	    "\"sha\": \"b1\"}}}");
	p = plan_json("wf", "--event", "pull_request", "--ref", "feature",
	    "--payload", "pr.json", NULL);
	names = job_names(wf0(p));
	ck_assert_str_eq(names, "pull_request refs/pull/5/merge m1 feature "
	    "main");
	free(names);
	json_decref(p);
	/* The base branch at its tip, which only the mirror knows. */
	p = plan_json("wf", "--event", "pull_request_target", "--ref",
	    "feature", "--payload", "pr.json", NULL);
	names = job_names(wf0(p));
	ck_assert_str_eq(names, "pull_request_target refs/heads/main  "
	    "feature main");
	free(names);
	json_decref(p);
}
END_TEST

START_TEST(test_usage_lines)
{
	struct result r;

	run(&r, NULL, "help", "plan", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "plan DIR --event EVENT --ref REF "
	    "[--base-ref REF] [--changed PATH]... [--payload FILE.json] "
	    "[--json]"));
	/* What --ref means for a pull request, and which ref the run uses. */
	ck_assert_ptr_nonnull(strstr(r.out, "pull_request(_target): the pull "
	    "request's HEAD branch"));
	ck_assert_ptr_nonnull(strstr(r.out, "the base branch for "
	    "pull_request_target"));
	result_free(&r);
	run(&r, NULL, "help", "lint", NULL);
	ck_assert_ptr_nonnull(strstr(r.out, "lint [FILE|DIR...] [-v]"));
	result_free(&r);
}
END_TEST

static Suite *
workflow_suite(void)
{
	Suite *s = suite_create("cictl_workflow");
	TCase *tc;

	tc = tcase_create("lint");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_lint_valid_file);
	tcase_add_test(tc, test_lint_errors_exact);
	tcase_add_test(tc, test_lint_directory);
	tcase_add_test(tc, test_lint_missing_file);
	tcase_add_test(tc, test_lint_and_plan_report_unsupported);
	tcase_add_test(tc, test_lint_schedule_timezone_never_fires);
	suite_add_tcase(s, tc);

	tc = tcase_create("eval");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_eval_literals);
	tcase_add_test(tc, test_eval_operators);
	tcase_add_test(tc, test_eval_contexts);
	tcase_add_test(tc, test_eval_errors);
	tcase_add_test(tc, test_eval_max_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("plan");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_plan_seed_push);
	tcase_add_test(tc, test_plan_seed_other_events);
	tcase_add_test(tc, test_plan_path_filters);
	tcase_add_test(tc, test_plan_json_shape);
	tcase_add_test(tc, test_plan_matrix_and_names);
	tcase_add_test(tc, test_plan_dispatch_inputs);
	tcase_add_test(tc, test_plan_usage_and_io);
	tcase_add_test(tc, test_plan_needs_outputs_decided_at_run_time);
	tcase_add_test(tc, test_plan_pull_request_refs);
	tcase_add_test(tc, test_usage_lines);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(workflow_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
