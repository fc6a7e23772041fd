/*
 * Unit tests for common/workflow: YAML syntax errors with positions, every
 * validation error with its exact line:column, the seed-shaped CI pipeline,
 * anchors/aliases, core-schema typing of the YAML -> JSON conversion, and
 * input limits.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "workflow.h"

/* Parse text; the caller frees both. */
static struct workflow *
parse(const char *text, struct wf_errors *errs)
{
	memset(errs, 0, sizeof *errs);
	return workflow_parse("ci.yml", text, strlen(text), errs);
}

/* ------------------------------------------------------------------ */

static const char seed_yaml[] =
"name: CI Pipeline\n"					/* 1 */
"\n"							/* 2 */
"on:\n"							/* 3 */
"  push:\n"						/* 4 */
"    branches: [main, develop, 'feature/**']\n"		/* 5 */
"  pull_request:\n"					/* 6 */
"    branches: [main, develop]\n"			/* 7 */
"  schedule:\n"						/* 8 */
"    - cron: '0 2 * * *'\n"				/* 9 */
"  workflow_dispatch:\n"				/* 10 */
"    inputs:\n"						/* 11 */
"      debug:\n"					/* 12 */
"        description: 'Enable debug'\n"			/* 13 */
"        type: boolean\n"				/* 14 */
"        default: false\n"				/* 15 */
"      level:\n"					/* 16 */
"        type: choice\n"				/* 17 */
"        options: [info, warning]\n"			/* 18 */
"        default: info\n"				/* 19 */
"        required: true\n"				/* 20 */
"\n"							/* 21 */
"env:\n"						/* 22 */
"  PYTHON_DEFAULT: '3.11'\n"				/* 23 */
"  PIP_CACHE_DIR: ~/.cache/pip\n"			/* 24 */
"  ALWAYS: 1\n"						/* 25 */
"\n"							/* 26 */
"concurrency:\n"					/* 27 */
"  group: ${{ github.workflow }}-${{ github.ref }}\n"	/* 28 */
"  cancel-in-progress: true\n"				/* 29 */
"\n"							/* 30 */
"permissions:\n"					/* 31 */
"  contents: read\n"					/* 32 */
"\n"							/* 33 */
"jobs:\n"						/* 34 */
"  lint:\n"						/* 35 */
"    name: Lint and format\n"				/* 36 */
"    runs-on: self-hosted\n"				/* 37 */
"    steps:\n"						/* 38 */
"      - uses: actions/checkout@v4\n"			/* 39 */
"      - uses: actions/setup-python@v5\n"		/* 40 */
"        with:\n"					/* 41 */
"          python-version: ${{ env.PYTHON_DEFAULT }}\n"	/* 42 */
"          cache: pip\n"				/* 43 */
"      - run: |\n"					/* 44 */
"          pip install ruff black\n"			/* 45 */
"          ruff check src tests\n"			/* 46 */
"  security:\n"						/* 47 */
"    runs-on: [self-hosted, linux]\n"			/* 48 */
"    steps:\n"						/* 49 */
"      - uses: actions/checkout@v4\n"			/* 50 */
"      - name: Bandit\n"				/* 51 */
"        run: bandit -r src\n"				/* 52 */
"        continue-on-error: true\n"			/* 53 */
"  test:\n"						/* 54 */
"    needs: [lint, security]\n"				/* 55 */
"    runs-on: self-hosted\n"				/* 56 */
"    strategy:\n"					/* 57 */
"      fail-fast: false\n"				/* 58 */
"      matrix:\n"					/* 59 */
"        python-version: [3.11, 3.12]\n"		/* 60 */
"    steps:\n"						/* 61 */
"      - uses: actions/checkout@v4\n"			/* 62 */
"      - id: tests\n"					/* 63 */
"        run: pytest tests/unit -v --cov=src\n"		/* 64 */
"        env:\n"					/* 65 */
"          PY: ${{ matrix.python-version }}\n"		/* 66 */
"  integration-test:\n"					/* 67 */
"    needs: test\n"					/* 68 */
"    runs-on: self-hosted\n"				/* 69 */
"    timeout-minutes: 30\n"				/* 70 */
"    steps:\n"						/* 71 */
"      - run: pytest tests/integration\n"		/* 72 */
"        timeout-minutes: 20\n"				/* 73 */
"  performance-check:\n"				/* 74 */
"    if: github.event_name == 'pull_request'\n"		/* 75 */
"    needs: test\n"					/* 76 */
"    runs-on: self-hosted\n"				/* 77 */
"    outputs:\n"					/* 78 */
"      result: ${{ steps.bench.outputs.result }}\n"	/* 79 */
"    steps:\n"						/* 80 */
"      - id: bench\n"					/* 81 */
"        run: python bench.py\n";			/* 82 */

START_TEST(test_seed_pipeline)
{
	struct wf_errors	 errs;
	struct workflow		*wf = parse(seed_yaml, &errs);
	const struct wf_job	*j;
	const struct wf_on	*on;
	char			*s, *fmt;

	ck_assert_ptr_nonnull(wf);
	fmt = wf_errors_format(&errs);
	ck_assert_msg(errs.n == 0, "unexpected errors:\n%s", fmt);
	free(fmt);
	ck_assert_str_eq(wf->name, "CI Pipeline");
	ck_assert_int_eq(wf->name_set, 1);

	on = &wf->on;
	ck_assert_uint_eq(on->nevents, 4);
	ck_assert_str_eq(on->events[0].name, "push");
	ck_assert_int_eq(on->events[0].pos.line, 4);
	ck_assert_int_eq(on->events[0].pos.col, 3);
	ck_assert_str_eq(on->events[3].name, "workflow_dispatch");
	ck_assert_int_eq(on->push.set, 1);
	ck_assert_uint_eq(on->push.branches.n, 3);
	ck_assert_str_eq(glob_pattern(on->push.branches.v[2]), "feature/**");
	ck_assert_int_eq(on->push.branches.pos.line, 5);
	ck_assert_int_eq(on->push.branches.pos.col, 15);
	ck_assert_int_eq(on->pull_request.set, 1);
	ck_assert_uint_eq(on->pull_request.branches.n, 2);
	ck_assert_int_eq(on->pull_request.types.set, 0);
	ck_assert_uint_eq(on->nschedules, 1);
	ck_assert_str_eq(on->schedules[0].cron, "0 2 * * *");
	ck_assert_ptr_null(on->schedules[0].timezone);
	ck_assert_int_eq(on->schedules[0].pos.line, 9);
	ck_assert_int_eq(on->schedules[0].pos.col, 7);
	ck_assert(on->schedules[0].parsed.hour == (1u << 2));
	ck_assert_int_eq(on->workflow_dispatch, 1);
	ck_assert_uint_eq(on->ninputs, 2);
	ck_assert_str_eq(on->inputs[0].name, "debug");
	ck_assert_int_eq(on->inputs[0].type, WF_INPUT_BOOLEAN);
	ck_assert_str_eq(on->inputs[0].description, "Enable debug");
	ck_assert(json_is_false(on->inputs[0].def_json));
	ck_assert_int_eq(on->inputs[0].required, 0);
	ck_assert_int_eq(on->inputs[1].type, WF_INPUT_CHOICE);
	ck_assert_uint_eq(on->inputs[1].options.n, 2);
	ck_assert_str_eq(on->inputs[1].def, "info");
	ck_assert_int_eq(on->inputs[1].required, 1);

	/* env keeps file order and scalar text. */
	ck_assert_uint_eq(wf->env.n, 3);
	ck_assert_str_eq(wf->env.v[0].key, "PYTHON_DEFAULT");
	ck_assert_str_eq(wf->env.v[0].value, "3.11");
	ck_assert(json_is_string(wf->env.v[0].json));
	ck_assert_str_eq(wf->env.v[1].key, "PIP_CACHE_DIR");
	ck_assert_str_eq(wf_map_get(&wf->env, "ALWAYS"), "1");
	ck_assert(json_is_integer(wf->env.v[2].json));
	ck_assert_int_eq(wf->env.v[2].pos.line, 25);

	ck_assert_int_eq(wf->concurrency.set, 1);
	ck_assert_str_eq(wf->concurrency.group,
	    "${{ github.workflow }}-${{ github.ref }}");
	ck_assert_int_eq(wf->concurrency.cancel_in_progress.value, 1);
	ck_assert_ptr_nonnull(wf->permissions);

	/* Jobs in file order, with positions of their ids. */
	ck_assert_uint_eq(wf->njobs, 5);
	ck_assert_str_eq(wf->jobs[0].id, "lint");
	ck_assert_str_eq(wf->jobs[1].id, "security");
	ck_assert_str_eq(wf->jobs[2].id, "test");
	ck_assert_str_eq(wf->jobs[3].id, "integration-test");
	ck_assert_str_eq(wf->jobs[4].id, "performance-check");
	ck_assert_int_eq(wf->jobs[3].pos.line, 67);
	ck_assert_int_eq(wf->jobs[3].pos.col, 3);

	j = workflow_job(wf, "lint");
	ck_assert_str_eq(j->name, "Lint and format");
	ck_assert_uint_eq(j->runs_on.labels.n, 1);
	ck_assert_str_eq(j->runs_on.labels.v[0], "self-hosted");
	ck_assert_uint_eq(j->nsteps, 3);
	ck_assert_str_eq(j->steps[0].name, "Run actions/checkout@v4");
	ck_assert_int_eq(j->steps[0].name_set, 0);
	ck_assert_int_eq(j->steps[0].pos.line, 39);
	ck_assert_int_eq(j->steps[0].pos.col, 9);
	ck_assert_str_eq(j->steps[1].uses, "actions/setup-python@v5");
	ck_assert_uint_eq(j->steps[1].with.n, 2);
	ck_assert_str_eq(j->steps[1].with.v[0].key, "python-version");
	ck_assert_str_eq(j->steps[1].with.v[0].value,
	    "${{ env.PYTHON_DEFAULT }}");
	ck_assert_str_eq(j->steps[2].run,
	    "pip install ruff black\nruff check src tests\n");
	ck_assert_str_eq(j->steps[2].name, "Run pip install ruff black");
	ck_assert_int_eq(j->timeout_minutes.set, 0);
	ck_assert(j->timeout_minutes.value == 360);

	j = workflow_job(wf, "security");
	ck_assert_str_eq(j->name, "security");
	ck_assert_int_eq(j->name_set, 0);
	ck_assert_uint_eq(j->runs_on.labels.n, 2);
	ck_assert_str_eq(j->runs_on.labels.v[1], "linux");
	ck_assert_str_eq(j->steps[1].name, "Bandit");
	ck_assert_int_eq(j->steps[1].continue_on_error.value, 1);

	j = workflow_job(wf, "test");
	ck_assert_uint_eq(j->nneeds, 2);
	ck_assert_str_eq(j->needs[0], "lint");
	ck_assert_str_eq(j->needs[1], "security");
	ck_assert_int_eq(j->needs_at[1].line, 55);
	ck_assert_int_eq(j->needs_at[1].col, 19);
	ck_assert_int_eq(j->strategy.set, 1);
	ck_assert_int_eq(j->strategy.fail_fast.value, 0);
	ck_assert_ptr_nonnull(j->strategy.matrix);
	s = json_dumps(j->strategy.matrix, JSON_COMPACT | JSON_REAL_PRECISION(15));
	ck_assert_str_eq(s, "{\"python-version\":[3.11,3.12]}");
	free(s);
	ck_assert_str_eq(j->steps[1].id, "tests");
	ck_assert_str_eq(j->steps[1].name, "Run pytest tests/unit -v --cov=src");
	ck_assert_str_eq(wf_map_get(&j->steps[1].env, "PY"),
	    "${{ matrix.python-version }}");

	j = workflow_job(wf, "integration-test");
	ck_assert_uint_eq(j->nneeds, 1);
	ck_assert_str_eq(j->needs[0], "test");
	ck_assert_int_eq(j->timeout_minutes.set, 1);
	ck_assert(j->timeout_minutes.value == 30);
	ck_assert(j->steps[0].timeout_minutes.value == 20);

	j = workflow_job(wf, "performance-check");
	ck_assert_str_eq(j->if_cond, "github.event_name == 'pull_request'");
	ck_assert_str_eq(wf_map_get(&j->outputs, "result"),
	    "${{ steps.bench.outputs.result }}");

	ck_assert_ptr_null(workflow_job(wf, "nope"));
	ck_assert_int_eq(workflow_job_index(wf, "test"), 2);
	workflow_free(wf);
	wf_errors_free(&errs);
}
END_TEST

/* ------------------------------------------------------------------ */

/*
 * Each row: a workflow and the exact first error it must produce
 * ("line:col: " prefix plus a part of the message), and how many errors.
 */
struct err_vec {
	const char	*name;
	const char	*yaml;
	const char	*where;		/* "line:col" */
	const char	*msgpart;
	size_t		 nerrs;
	int		 unusable;	/* workflow_parse returns NULL */
};

#define JOB_HEAD "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"

static const struct err_vec err_vecs[] = {
	/* Edge cases: nothing usable. */
	{ "empty file", "", "1:1", "workflow file is empty", 1, 1 },
	{ "only a comment", "# nothing\n", "1:1", "empty", 1, 1 },
	{ "root is a list", "- a\n- b\n", "1:1",
	    "must be a mapping with 'on' and 'jobs', not a list", 1, 1 },
	{ "root is a scalar", "hello\n", "1:1", "not a string", 1, 1 },
	{ "yaml: bad indentation",
	    "on: push\njobs:\n  a:\n    runs-on: x\n   steps: []\n",
	    "5:4", "YAML syntax error: did not find expected key", 1, 1 },
	{ "yaml: unclosed flow",
	    "on: [push\njobs: {}\n", "2:5", "YAML syntax error", 1, 1 },
	{ "yaml: tab indentation",
	    "on: push\njobs:\n\ta: 1\n", "3:1", "YAML syntax error", 1, 1 },
	{ "yaml: unknown alias", "on: *nope\n", "1:5",
	    "found undefined alias", 1, 1 },
	{ "yaml: two documents", "on: push\n---\njobs: {}\n", "2:1",
	    "one YAML document", 1, 1 },
	{ "yaml: bad utf-8", "on: push\nname: \xff\n", "2:7", "YAML", 1, 1 },

	/* Missing and empty sections. */
	{ "missing on", "jobs:\n  a:\n    runs-on: x\n    steps:\n"
	    "      - run: x\n", "1:1", "workflow has no 'on'", 1, 0 },
	{ "missing jobs", "on: push\n", "1:1", "workflow has no 'jobs'", 1, 0 },
	{ "empty jobs", "on: push\njobs: {}\n", "2:7", "'jobs' is empty", 1,
	    0 },
	{ "empty on", "on:\njobs:\n  a:\n    runs-on: x\n    steps:\n"
	    "      - run: x\n", "1:4", "'on' is empty", 1, 0 },
	{ "empty steps", JOB_HEAD "      []\n", "6:7",
	    "'jobs.a.steps' is empty", 1, 0 },
	{ "no steps", "on: push\njobs:\n  a:\n    runs-on: x\n", "4:5",
	    "'jobs.a' has no 'steps'", 1, 0 },
	{ "no runs-on", "on: push\njobs:\n  a:\n    steps:\n"
	    "      - run: x\n", "4:5", "'jobs.a' has no 'runs-on'", 1, 0 },
	{ "null job", "on: push\njobs:\n  a:\n", "3:5", "'jobs.a' is empty",
	    1, 0 },

	/* Unknown keys, named with where they are. */
	{ "unknown top key", "on: push\nfoo: 1\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "2:1",
	    "unknown top-level key 'foo'", 1, 0 },
	{ "unknown job key", "on: push\njobs:\n  a:\n    runs-on: x\n"
	    "    runs_on: y\n    steps:\n      - run: x\n", "5:5",
	    "unknown key 'runs_on' in 'jobs.a'", 1, 0 },
	{ "unknown step key", JOB_HEAD "      - run: x\n        wiht: {}\n",
	    "7:9", "unknown key 'wiht' in 'jobs.a.steps[0]'", 1, 0 },
	{ "unknown push filter", "on:\n  push:\n    branch: [main]\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n",
	    "3:5", "unknown key 'branch' in 'on.push' (expected one of: "
	    "branches, branches-ignore, tags", 1, 0 },
	{ "types on push", "on:\n  push:\n    types: [opened]\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n",
	    "3:5", "unknown key 'types' in 'on.push'", 1, 0 },
	{ "unknown event", "on: [push, pul_request]\njobs:\n  a:\n"
	    "    runs-on: x\n    steps:\n      - run: x\n", "1:12",
	    "unknown event 'pul_request'", 1, 0 },
	{ "merge key", "on: push\njobs:\n  a:\n    <<: {x: 1}\n"
	    "    runs-on: x\n    steps:\n      - run: x\n", "4:5",
	    "merge keys ('<<') are not supported", 1, 0 },
	{ "unknown strategy key", JOB_HEAD "      - run: x\n    strategy:\n"
	    "      matrx: {a: [1]}\n", "8:7",
	    "unknown key 'matrx' in 'jobs.a.strategy'", 1, 0 },

	/* Wrong types. */
	{ "timeout string", JOB_HEAD "      - run: x\n    timeout-minutes: "
	    "soon\n", "7:22", "'jobs.a.timeout-minutes' must be a number or "
	    "a ${{ }} expression, not a string", 1, 0 },
	{ "timeout zero", JOB_HEAD "      - run: x\n    timeout-minutes: 0\n",
	    "7:22", "must be more than 0", 1, 0 },
	/* GitHub accepts more than 5 days and caps it when the job runs. */
	{ "timeout above 5 days", JOB_HEAD "      - run: x\n"
	    "    timeout-minutes: 14400\n", NULL, NULL, 0, 0 },
	{ "environment with deployment", JOB_HEAD "      - run: x\n"
	    "    environment:\n      name: pypi\n"
	    "      url: https://pypi.org/p/${{ env.PKG }}-${{ steps.a.outputs.v }}\n"
	    "      deployment: true\n", NULL, NULL, 0, 0 },
	{ "environment url without secrets", JOB_HEAD "      - run: x\n"
	    "    environment:\n      name: pypi\n"
	    "      url: ${{ secrets.URL }}\n", "9:16",
	    "Unrecognized named-value: 'secrets'", 1, 0 },
	{ "environment name without env", JOB_HEAD "      - run: x\n"
	    "    environment:\n      name: ${{ env.E }}\n", "8:17",
	    "Unrecognized named-value: 'env'", 1, 0 },
	{ "with without uses", JOB_HEAD "      - run: x\n    with:\n"
	    "      a: 1\n", "8:7", "'jobs.a.with' is only valid with 'uses'",
	    1, 0 },
	{ "secrets without uses", JOB_HEAD "      - run: x\n"
	    "    secrets: inherit\n", "7:14",
	    "'jobs.a.secrets' is only valid with 'uses'", 1, 0 },
	{ "action without ref", JOB_HEAD "      - uses: actions/checkout\n",
	    "6:15", "expected {owner}/{repo}[/path]@{ref}", 1, 0 },
	{ "step timeout too big", JOB_HEAD "      - run: x\n"
	    "        timeout-minutes: 361\n", "7:26", "at most 360", 1, 0 },
	{ "continue-on-error string", JOB_HEAD "      - run: x\n"
	    "        continue-on-error: yes\n", "7:28",
	    "must be true, false or a ${{ }} expression, not a string", 1, 0 },
	{ "env is a list", "on: push\nenv: [a]\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "2:6",
	    "'env' must be a mapping of names to values, not a list", 1, 0 },
	{ "env value mapping", "on: push\nenv:\n  A: {b: 1}\njobs:\n  a:\n"
	    "    runs-on: x\n    steps:\n      - run: x\n", "3:6",
	    "'env.A' must be a string, number or boolean, not a mapping", 1, 0 },
	{ "name is a list", "name: [a]\non: push\njobs:\n  a:\n"
	    "    runs-on: x\n    steps:\n      - run: x\n", "1:7",
	    "'name' must be a string, not a list", 1, 0 },
	{ "steps is a mapping", JOB_HEAD "      run: x\n", "6:7",
	    "'jobs.a.steps' must be a list of steps, not a mapping", 1, 0 },
	{ "step is a string", JOB_HEAD "      - echo hi\n", "6:9",
	    "'jobs.a.steps[0]' must be a mapping, not a string", 1, 0 },
	{ "needs is a mapping", JOB_HEAD "      - run: x\n    needs: {b: 1}\n",
	    "7:12", "must be a job id or a list of job ids", 1, 0 },
	{ "matrix is a list", JOB_HEAD "      - run: x\n    strategy:\n"
	    "      matrix: [1, 2]\n", "8:15",
	    "'jobs.a.strategy.matrix' must be a mapping", 1, 0 },
	{ "matrix vector scalar", JOB_HEAD "      - run: x\n    strategy:\n"
	    "      matrix:\n        os: linux\n", "9:13",
	    "matrix vector 'os' in 'jobs.a.strategy.matrix' must be a list",
	    1, 0 },
	{ "matrix vector empty", JOB_HEAD "      - run: x\n    strategy:\n"
	    "      matrix:\n        os: []\n", "9:13",
	    "does not contain any values", 1, 0 },
	{ "matrix exclude key", JOB_HEAD "      - run: x\n    strategy:\n"
	    "      matrix:\n        os: [a]\n        exclude:\n"
	    "          - osx: a\n", "11:13",
	    "matrix exclude key 'osx' does not match", 1, 0 },
	{ "max-parallel zero", JOB_HEAD "      - run: x\n    strategy:\n"
	    "      max-parallel: 0\n", "8:21", "at least 1", 1, 0 },

	/* Steps. */
	{ "run and uses", JOB_HEAD "      - run: x\n        uses: a/b@v1\n",
	    "6:9", "has both 'run' and 'uses'", 1, 0 },
	{ "neither run nor uses", JOB_HEAD "      - name: nothing\n", "6:9",
	    "has neither 'run' nor 'uses'", 1, 0 },
	{ "empty run", JOB_HEAD "      - run:\n", "6:9",
	    "has an empty 'run'", 1, 0 },
	{ "with on run step", JOB_HEAD "      - run: x\n        with: {a: 1}\n",
	    "7:15", "'jobs.a.steps[0].with' is only valid with 'uses'", 1, 0 },
	{ "shell on uses step", JOB_HEAD "      - uses: a/b@v1\n"
	    "        shell: bash\n", "7:16", "only valid with 'run'", 1, 0 },
	{ "duplicate step id", JOB_HEAD "      - id: build\n        run: x\n"
	    "      - id: Build\n        run: y\n", "8:13",
	    "step id 'Build' is already used by jobs.a.steps[0] (line 6)", 1,
	    0 },
	{ "bad step id", JOB_HEAD "      - id: 1st\n        run: x\n", "6:13",
	    "step id '1st' must start with a letter", 1, 0 },
	{ "expression in uses", JOB_HEAD "      - uses: ${{ env.A }}\n",
	    "6:15", "'jobs.a.steps[0].uses': expressions are not allowed", 1,
	    0 },

	/* Jobs and needs. */
	{ "bad job id", "on: push\njobs:\n  1job:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "3:3",
	    "job id '1job' must start with a letter or '_'", 1, 0 },
	{ "job id with dot", "on: push\njobs:\n  a.b:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "3:3", "job id 'a.b'", 1, 0 },
	{ "job ids differ in case", "on: push\njobs:\n  build:\n"
	    "    runs-on: x\n    steps:\n      - run: x\n  Build:\n"
	    "    runs-on: x\n    steps:\n      - run: x\n", "7:3",
	    "differs from job 'build' (line 3) only in case", 1, 0 },
	{ "unknown needs", JOB_HEAD "      - run: x\n    needs: [nope]\n",
	    "7:13", "job 'a' depends on unknown job 'nope'", 1, 0 },
	{ "self needs", JOB_HEAD "      - run: x\n    needs: a\n", "7:12",
	    "creates a cycle in the dependency graph: a -> a", 1, 0 },
	{ "cyclic needs", "on: push\njobs:\n  a:\n    needs: c\n"
	    "    runs-on: x\n    steps:\n      - run: x\n  b:\n    needs: a\n"
	    "    runs-on: x\n    steps:\n      - run: x\n  c:\n    needs: b\n"
	    "    runs-on: x\n    steps:\n      - run: x\n", "9:12",
	    "job 'b' depends on job 'a', which creates a cycle in the "
	    "dependency graph: a -> c -> b -> a", 1, 0 },

	/* on: filters and schedules. */
	{ "branches and branches-ignore", "on:\n  push:\n    branches: [a]\n"
	    "    branches-ignore: [b]\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "4:22",
	    "'on.push' has both 'branches' and 'branches-ignore'", 1, 0 },
	{ "paths and paths-ignore", "on:\n  pull_request:\n    paths: [a]\n"
	    "    paths-ignore: [b]\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "4:19", "both 'paths' and "
	    "'paths-ignore'", 1, 0 },
	{ "only negative branches", "on:\n  push:\n    branches: ['!main']\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n",
	    "3:15", "has only '!' patterns", 1, 0 },
	{ "bad glob", "on:\n  push:\n    branches:\n      - main\n"
	    "      - 'v[]'\njobs:\n  a:\n    runs-on: x\n    steps:\n"
	    "      - run: x\n", "5:9", "'on.push.branches': invalid pattern "
	    "'v[]': empty brackets", 1, 0 },
	{ "unterminated class", "on:\n  push:\n    tags: ['v[0-9']\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n",
	    "3:12", "missing closing ']'", 1, 0 },
	{ "bad cron field", "on:\n  schedule:\n    - cron: '0 25 * * *'\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n",
	    "3:13", "'on.schedule[0].cron': invalid hour '25'", 1, 0 },
	{ "cron with 4 fields", "on:\n  schedule:\n    - cron: '0 2 * *'\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n",
	    "3:13", "has 4 fields, want 5", 1, 0 },
	{ "cron macro", "on:\n  schedule:\n    - cron: '@daily'\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n",
	    "3:13", "'@' macros are not supported", 1, 0 },
	{ "schedule without cron", "on:\n  schedule:\n    - timezone: UTC\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n",
	    "3:7", "'on.schedule[0]' needs a 'cron' line", 1, 0 },
	{ "schedule as string", "on: schedule\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "1:5",
	    "'on.schedule' must be a list", 1, 0 },
	{ "choice without options", "on:\n  workflow_dispatch:\n    inputs:\n"
	    "      lvl:\n        type: choice\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "5:9",
	    "'on.workflow_dispatch.inputs.lvl' is a choice input without "
	    "'options'", 1, 0 },
	{ "unknown input type", "on:\n  workflow_dispatch:\n    inputs:\n"
	    "      lvl:\n        type: text\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "5:15", "unknown type 'text'", 1,
	    0 },
	{ "boolean default", "on:\n  workflow_dispatch:\n    inputs:\n"
	    "      dbg:\n        type: boolean\n        default: 'yes'\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n",
	    "6:18", "must be true or false", 1, 0 },
	{ "event listed twice", "on: [push, push]\njobs:\n  a:\n"
	    "    runs-on: x\n    steps:\n      - run: x\n", "1:12",
	    "listed twice", 1, 0 },

	/* YAML-level checks. */
	{ "duplicate key", "on: push\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n    runs-on: y\n", "7:5",
	    "duplicate key 'runs-on' (first defined at line 4, column 5)", 1,
	    0 },
	{ "duplicate job", "on: push\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "7:3", "duplicate key 'a'", 1, 0 },
	{ "recursive alias", "on:\n  issues: &r [*r]\njobs:\n  a:\n"
	    "    runs-on: x\n    steps:\n      - run: x\n", "2:11",
	    "'on.issues': nesting deeper than 64 levels", 1, 0 },
	{ "unterminated expression", JOB_HEAD "      - run: echo ${{ "
	    "github.sha\n", "6:19", "'jobs.a.steps[0].run': invalid "
	    "expression", 1, 0 },
	{ "bad job if", JOB_HEAD "      - run: x\n    if: github.ref ==\n",
	    "7:20", "'jobs.a.if': invalid expression", 1, 0 },
	{ "bad step env expression", JOB_HEAD "      - run: x\n"
	    "        env:\n          A: ${{ toJSON( }}\n", "8:24",
	    "'jobs.a.steps[0].env.A': invalid expression", 1, 0 },
	{ "if starting with !", JOB_HEAD "      - run: x\n"
	    "        if: !cancelled()\n", "7:13", "YAML reads '!cancelled()' "
	    "as a tag", 1, 0 },
	{ "if with status function", JOB_HEAD "      - run: x\n"
	    "        if: ${{ !cancelled() }}\n", "", "", 0, 0 },
	{ "concurrency queue max with cancel", JOB_HEAD "      - run: x\n"
	    "    concurrency:\n      group: g\n      queue: max\n"
	    "      cancel-in-progress: true\n", "9:14",
	    "'queue: max' cannot be combined", 1, 0 },
	{ "workflow defaults no expressions", "on: push\ndefaults:\n  run:\n"
	    "    shell: ${{ env.S }}\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", "4:12",
	    "'defaults.run.shell': expressions are not allowed", 1, 0 },
};

START_TEST(test_errors)
{
	const struct err_vec	*v = &err_vecs[_i];
	struct wf_errors	 errs;
	struct workflow		*wf;
	char			*fmt, want[64];

	wf = parse(v->yaml, &errs);
	fmt = wf_errors_format(&errs);
	if (v->unusable)
		ck_assert_msg(wf == NULL, "%s: parse should fail", v->name);
	else
		ck_assert_msg(wf != NULL, "%s: parse failed:\n%s", v->name,
		    fmt);
	if (v->nerrs == 0) {
		/* A valid file: no error at all. */
		ck_assert_msg(errs.n == 0, "%s: unexpected:\n%s", v->name,
		    fmt);
	} else {
		ck_assert_msg(errs.n == v->nerrs, "%s: want %zu errors, got:"
		    "\n%s", v->name, v->nerrs, fmt);
		snprintf(want, sizeof want, "ci.yml:%s: ", v->where);
		ck_assert_msg(strncmp(fmt, want, strlen(want)) == 0,
		    "%s: want position %s, got:\n%s", v->name, want, fmt);
		ck_assert_msg(strstr(fmt, v->msgpart) != NULL,
		    "%s: want '%s' in:\n%s", v->name, v->msgpart, fmt);
	}
	free(fmt);
	workflow_free(wf);
	wf_errors_free(&errs);
}
END_TEST

/* ------------------------------------------------------------------ */

START_TEST(test_collects_all_errors)
{
	static const char yaml[] =
	    "on:\n"					/* 1 */
	    "  push:\n"					/* 2 */
	    "    branches: [a]\n"			/* 3 */
	    "    branches-ignore: [b]\n"		/* 4 */
	    "  schedule:\n"				/* 5 */
	    "    - cron: '61 * * * *'\n"		/* 6 */
	    "bogus: 1\n"				/* 7 */
	    "jobs:\n"					/* 8 */
	    "  build:\n"				/* 9 */
	    "    runs-on: x\n"				/* 10 */
	    "    needs: [missing]\n"			/* 11 */
	    "    steps:\n"				/* 12 */
	    "      - run: a\n"				/* 13 */
	    "        uses: b/c@v1\n"			/* 14 */
	    "      - name: empty\n";			/* 15 */
	static const char *const want[] = {
		"ci.yml:4:22: ",
		"ci.yml:6:13: ",
		"ci.yml:7:1: ",
		"ci.yml:11:13: ",
		"ci.yml:13:9: ",
		"ci.yml:15:9: ",
	};
	struct wf_errors	 errs;
	struct workflow		*wf = parse(yaml, &errs);
	char			*fmt = wf_errors_format(&errs), *p = fmt;
	size_t			 i;

	ck_assert_ptr_nonnull(wf);
	ck_assert_msg(errs.n == nitems(want), "got:\n%s", fmt);
	for (i = 0; i < nitems(want); i++) {
		ck_assert_msg(strncmp(p, want[i], strlen(want[i])) == 0,
		    "error %zu: want %s in:\n%s", i, want[i], fmt);
		p = strchr(p, '\n') + 1;
	}
	free(fmt);
	workflow_free(wf);
	wf_errors_free(&errs);
}
END_TEST

START_TEST(test_anchors_aliases)
{
	static const char yaml[] =
	    "on: push\n"
	    "env: &common\n"
	    "  A: one\n"
	    "  B: two\n"
	    "jobs:\n"
	    "  a:\n"
	    "    runs-on: &ro [self-hosted, linux]\n"
	    "    env: *common\n"
	    "    steps: &steps\n"
	    "      - run: echo $A\n"
	    "  b:\n"
	    "    runs-on: *ro\n"
	    "    steps: *steps\n";
	struct wf_errors	 errs;
	struct workflow		*wf = parse(yaml, &errs);

	ck_assert_ptr_nonnull(wf);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_str_eq(wf_map_get(&wf->jobs[0].env, "B"), "two");
	ck_assert_uint_eq(wf->jobs[1].runs_on.labels.n, 2);
	ck_assert_str_eq(wf->jobs[1].steps[0].run, "echo $A");
	ck_assert_str_eq(wf->jobs[1].steps[0].name, "Run echo $A");
	workflow_free(wf);
	wf_errors_free(&errs);
}
END_TEST

START_TEST(test_on_forms)
{
	struct wf_errors	 errs;
	struct workflow		*wf;

	wf = parse("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
	    "      - run: x\n", &errs);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_int_eq(wf->on.push.set, 1);
	ck_assert_int_eq(wf->on.push.branches.set, 0);
	ck_assert(json_is_null(wf->on.events[0].config));
	workflow_free(wf);
	wf_errors_free(&errs);

	wf = parse("on: [push, pull_request, workflow_dispatch]\njobs:\n  a:\n"
	    "    runs-on: x\n    steps:\n      - run: x\n", &errs);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_uint_eq(wf->on.nevents, 3);
	ck_assert_int_eq(wf->on.pull_request.set, 1);
	ck_assert_int_eq(wf->on.workflow_dispatch, 1);
	workflow_free(wf);
	wf_errors_free(&errs);

	wf = parse("on:\n  issues:\n    types: [opened]\n  pull_request:\n"
	    "    types: labeled\n    tags: [x]\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - run: x\n", &errs);
	ck_assert_uint_eq(errs.n, 1);	/* tags on pull_request */
	ck_assert_int_eq(errs.v[0].line, 6);
	ck_assert(json_is_object(wf->on.events[0].config));
	ck_assert_uint_eq(wf->on.pull_request.types.n, 1);
	ck_assert_str_eq(wf->on.pull_request.types.v[0], "labeled");
	workflow_free(wf);
	wf_errors_free(&errs);

	wf = parse("on:\n  schedule:\n    - cron: '30 5 * * 1-5'\n"
	    "      timezone: America/New_York\n    - cron: '*/15 * * * *'\n"
	    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n", &errs);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_uint_eq(wf->on.nschedules, 2);
	ck_assert_str_eq(wf->on.schedules[0].timezone, "America/New_York");
	ck_assert_str_eq(wf->on.schedules[1].cron, "*/15 * * * *");
	workflow_free(wf);
	wf_errors_free(&errs);
}
END_TEST

START_TEST(test_job_forms)
{
	static const char yaml[] =
	    "on: push\n"
	    "defaults:\n"
	    "  run:\n"
	    "    shell: bash\n"
	    "    working-directory: src\n"
	    "jobs:\n"
	    "  a:\n"
	    "    runs-on: ${{ matrix.os }}\n"
	    "    continue-on-error: ${{ matrix.experimental }}\n"
	    "    timeout-minutes: ${{ fromJSON(inputs.T) }}\n"
	    "    environment:\n"
	    "      name: prod\n"
	    "      url: https://x\n"
	    "    concurrency: deploy\n"
	    "    defaults:\n"
	    "      run:\n"
	    "        shell: ${{ env.SH }}\n"
	    "    strategy:\n"
	    "      matrix: ${{ fromJSON(needs.b.outputs.m) }}\n"
	    "      max-parallel: 2\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "\n"
	    "          echo first   \n"
	    "          echo second\n"
	    "        shell: sh\n"
	    "        working-directory: /tmp\n"
	    "  b:\n"
	    "    runs-on:\n"
	    "      group: big\n"
	    "      labels: linux\n"
	    "    environment: staging\n"
	    "    steps:\n"
	    "      - uses: ./local\n"
	    "  c:\n"
	    "    uses: org/repo/.github/workflows/w.yml@main\n"
	    "    with:\n"
	    "      x: 1\n"
	    "    secrets: inherit\n";
	struct wf_errors	 errs;
	struct workflow		*wf = parse(yaml, &errs);
	const struct wf_job	*j;
	char			*fmt = wf_errors_format(&errs);

	ck_assert_ptr_nonnull(wf);
	ck_assert_msg(errs.n == 0, "%s", fmt);
	free(fmt);
	ck_assert_str_eq(wf->defaults.shell, "bash");
	ck_assert_str_eq(wf->defaults.working_directory, "src");
	j = &wf->jobs[0];
	ck_assert_str_eq(j->runs_on.expr, "${{ matrix.os }}");
	ck_assert_str_eq(j->continue_on_error.expr,
	    "${{ matrix.experimental }}");
	ck_assert_str_eq(j->timeout_minutes.expr, "${{ fromJSON(inputs.T) }}");
	ck_assert_str_eq(j->environment, "prod");
	ck_assert_str_eq(j->environment_url, "https://x");
	ck_assert_str_eq(j->concurrency.group, "deploy");
	ck_assert_str_eq(j->defaults.shell, "${{ env.SH }}");
	ck_assert_ptr_null(j->strategy.matrix);
	ck_assert_str_eq(j->strategy.matrix_expr,
	    "${{ fromJSON(needs.b.outputs.m) }}");
	ck_assert(j->strategy.max_parallel.value == 2);
	ck_assert_int_eq(j->strategy.fail_fast.value, 1);
	ck_assert_str_eq(j->steps[0].name, "Run echo first");
	ck_assert_str_eq(j->steps[0].shell, "sh");
	j = &wf->jobs[1];
	ck_assert_str_eq(j->runs_on.group, "big");
	ck_assert_str_eq(j->runs_on.labels.v[0], "linux");
	ck_assert_str_eq(j->environment, "staging");
	ck_assert_str_eq(j->steps[0].name, "Run ./local");
	j = &wf->jobs[2];
	ck_assert_str_eq(j->uses, "org/repo/.github/workflows/w.yml@main");
	ck_assert_str_eq(wf_map_get(&j->with, "x"), "1");
	ck_assert_uint_eq(j->nsteps, 0);
	ck_assert_str_eq(wf->name, "ci.yml");
	ck_assert_int_eq(wf->name_set, 0);
	workflow_free(wf);
	wf_errors_free(&errs);
}
END_TEST

/* ------------------------------------------------------------------ */

struct json_vec {
	const char	*yaml;		/* "v: <yaml>" value */
	const char	*json;		/* compact dump */
};

static const struct json_vec json_vecs[] = {
	{ "", "null" },
	{ "~", "null" },
	{ "null", "null" },
	{ "Null", "null" },
	{ "NULL", "null" },
	{ "nULL", "\"nULL\"" },
	{ "true", "true" },
	{ "True", "true" },
	{ "TRUE", "true" },
	{ "false", "false" },
	{ "yes", "\"yes\"" },		/* YAML 1.1 only */
	{ "on", "\"on\"" },
	{ "y", "\"y\"" },
	{ "0", "0" },
	{ "-17", "-17" },
	{ "+5", "5" },
	{ "007", "7" },
	{ "0o17", "15" },
	{ "0x1F", "31" },
	{ "0x", "\"0x\"" },
	{ "9223372036854775807", "9223372036854775807" },
	{ "1.5", "1.5" },
	{ "3.10", "3.1" },
	{ "-.5", "-0.5" },
	{ "1e3", "1000.0" },
	{ "1.", "1.0" },
	{ ".", "\".\"" },
	{ "1e", "\"1e\"" },
	{ ".inf", "\".inf\"" },
	{ ".nan", "\".nan\"" },
	{ "'true'", "\"true\"" },
	{ "\"12\"", "\"12\"" },
	{ "'~'", "\"~\"" },
	{ "|\n  12\n", "\"12\\n\"" },
	{ "1.2.3", "\"1.2.3\"" },
	{ "[1, a, {b: null}]", "[1,\"a\",{\"b\":null}]" },
	{ "{z: 1, a: 2, m: 3}", "{\"z\":1,\"a\":2,\"m\":3}" },
	{ "&x [1, *x]", NULL },		/* recursive: error */
};

START_TEST(test_yaml_to_json)
{
	const struct json_vec	*v = &json_vecs[_i];
	yaml_parser_t		 parser;
	yaml_document_t		 doc;
	yaml_node_t		*root, *val;
	json_t			*j;
	char			*text, *dump, err[256];

	text = xasprintf("v: %s\n", v->yaml);
	ck_assert(yaml_parser_initialize(&parser));
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    strlen(text));
	ck_assert(yaml_parser_load(&parser, &doc));
	root = yaml_document_get_root_node(&doc);
	val = yaml_document_get_node(&doc,
	    root->data.mapping.pairs.start->value);
	j = workflow_yaml_to_json(&doc, val, err, sizeof err);
	if (v->json == NULL) {
		ck_assert_ptr_null(j);
		ck_assert_msg(strstr(err, "nesting deeper") != NULL, "%s", err);
		ck_assert_msg(strncmp(err, "1:", 2) == 0, "%s", err);
	} else {
		ck_assert_ptr_nonnull(j);
		dump = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY |
		    JSON_REAL_PRECISION(15));
		ck_assert_msg(strcmp(dump, v->json) == 0, "'%s': got %s want "
		    "%s", v->yaml, dump, v->json);
		free(dump);
		json_decref(j);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(text);
}
END_TEST

START_TEST(test_duplicate_key_in_json)
{
	struct wf_errors	 errs;
	struct workflow		*wf;

	/* A duplicate inside a raw block is still caught, at its line. */
	wf = parse("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
	    "      - uses: a/b@v1\n        with:\n          k: 1\n"
	    "          k: 2\n", &errs);
	ck_assert_ptr_nonnull(wf);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 9);
	ck_assert_int_eq(errs.v[0].col, 11);
	workflow_free(wf);
	wf_errors_free(&errs);
}
END_TEST

/* ------------------------------------------------------------------ */

START_TEST(test_limits)
{
	struct wf_errors	 errs;
	struct workflow		*wf;
	struct buf		 b = { 0 };
	char			*big;
	int			 i;

	/* Over the size limit: refused before parsing. */
	big = xmalloc(WF_MAX_FILE_SIZE + 2);
	memset(big, '#', WF_MAX_FILE_SIZE + 1);
	big[WF_MAX_FILE_SIZE + 1] = '\0';
	memset(&errs, 0, sizeof errs);
	wf = workflow_parse("big.yml", big, WF_MAX_FILE_SIZE + 1, &errs);
	ck_assert_ptr_null(wf);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert(strstr(errs.v[0].msg, "more than the limit") != NULL);
	wf_errors_free(&errs);
	free(big);

	/* Too many jobs. */
	buf_add_str(&b, "on: push\njobs:\n");
	for (i = 0; i < WF_MAX_JOBS + 1; i++)
		buf_printf(&b, "  j%d:\n    runs-on: x\n    steps:\n"
		    "      - run: x\n", i);
	wf = parse(b.data, &errs);
	ck_assert_ptr_nonnull(wf);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 3);
	ck_assert(strstr(errs.v[0].msg, "more than the limit of 256") != NULL);
	ck_assert_uint_eq(wf->njobs, WF_MAX_JOBS);
	workflow_free(wf);
	wf_errors_free(&errs);
	buf_free(&b);

	/* Deep nesting: an error, quickly, not a crash or a stall. */
	buf_add_str(&b, "on: push\njobs:\n  a:\n    runs-on: x\n"
	    "    steps:\n      - uses: a/b@v1\n        with:\n"
	    "          x: 1\n    container: ");
	for (i = 0; i < 500000; i++)
		buf_add_char(&b, '[');
	for (i = 0; i < 500000; i++)
		buf_add_char(&b, ']');
	buf_add_char(&b, '\n');
	wf = parse(b.data, &errs);
	ck_assert_ptr_null(wf);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert(strstr(errs.v[0].msg, "nesting deeper than 64") != NULL);
	ck_assert_int_eq(errs.v[0].line, 9);
	ck_assert_int_eq(errs.v[0].col, 16 + 61);	/* 62nd "[" is level 65 */
	workflow_free(wf);
	wf_errors_free(&errs);
	buf_free(&b);

	/* Alias bomb: bounded by the conversion budget. */
	buf_add_str(&b, "on:\n  issues:\n    a: &a [x,x,x,x,x,x,x,x,x,x]\n");
	for (i = 1; i < 9; i++)
		buf_printf(&b, "    %c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,"
		    "*%c,*%c]\n", 'a' + i, 'a' + i, 'a' + i - 1, 'a' + i - 1,
		    'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1,
		    'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1);
	buf_add_str(&b, "jobs:\n  a:\n    runs-on: x\n    steps:\n"
	    "      - run: x\n");
	wf = parse(b.data, &errs);
	ck_assert_ptr_nonnull(wf);
	ck_assert_uint_ge(errs.n, 1);
	ck_assert(strstr(errs.v[0].msg, "YAML nodes") != NULL);
	workflow_free(wf);
	wf_errors_free(&errs);
	buf_free(&b);
}
END_TEST

START_TEST(test_errors_format)
{
	struct wf_errors	 errs;
	char			*s;

	memset(&errs, 0, sizeof errs);
	s = wf_errors_format(&errs);
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_ptr_null(parse("on: [\n", &errs));
	s = wf_errors_format(&errs);
	ck_assert_msg(strncmp(s, "ci.yml:2:1: YAML syntax error: ", 31) == 0,
	    "%s", s);
	ck_assert(s[strlen(s) - 1] == '\n');
	free(s);
	wf_errors_free(&errs);
	ck_assert_uint_eq(errs.n, 0);
}
END_TEST

/*
 * Contexts each key may use (reference 4.9): a context outside the key's
 * list is a validation error at that key; one inside it is fine.
 */
static const struct {
	const char	*line;		/* the job body line under test */
	const char	*error;		/* substring expected, NULL = valid */
} scope_cases[] = {
	{ "    if: env.X == 'a'", "Unrecognized named-value: 'env'" },
	{ "    if: matrix.os == 'a'", "Unrecognized named-value: 'matrix'" },
	{ "    if: needs.a.result == 'success' && inputs.x", NULL },
	{ "    if: always()", NULL },
	{ "    runs-on: ${{ steps.x.outputs.y }}", "Unrecognized named-value: 'steps'" },
	{ "    runs-on: ${{ matrix.os }}", NULL },
	{ "    timeout-minutes: ${{ fromJSON(env.T) }}", "Unrecognized named-value: 'env'" },
	{ "    env:\n      A: ${{ secrets.S }}", NULL },
	{ "    env:\n      A: ${{ steps.x.outputs.y }}", "Unrecognized named-value: 'steps'" },
	{ "    env:\n      A: ${{ hashFiles('x') }}", "hashFiles" },
	{ "    outputs:\n      o: ${{ steps.x.outputs.y }}", NULL },
	{ "    name: build ${{ runner.os }}", "Unrecognized named-value: 'runner'" },
	{ "    steps:\n      - run: echo ${{ secrets.S }} ${{ steps.a.outcome }} ${{ hashFiles('**') }}", NULL },
	{ "    steps:\n      - run: echo\n        if: secrets.S != ''", "Unrecognized named-value: 'secrets'" },
	{ "    steps:\n      - run: echo\n        if: failure() && env.A", NULL },
};

START_TEST(test_context_scopes)
{
	struct wf_errors errs;
	struct workflow *wf;
	char *text, *msg;

	struct buf b = { 0 };

	buf_add_str(&b, "on: push\nenv:\n  W: ${{ github.sha }}\njobs:\n"
	    "  a:\n    runs-on: x\n    steps:\n      - run: echo\n"
	    "  b:\n    needs: a\n");
	buf_add_str(&b, scope_cases[_i].line);
	if (strstr(scope_cases[_i].line, "runs-on") == NULL)
		buf_add_str(&b, "\n    runs-on: x");
	buf_add_char(&b, '\n');
	text = buf_steal(&b);
	if (strstr(scope_cases[_i].line, "steps:") == NULL) {
		char *t = xasprintf("%s    steps:\n      - run: echo\n", text);
		free(text);
		text = t;
	}
	wf = parse(text, &errs);
	msg = wf_errors_format(&errs);
	if (scope_cases[_i].error == NULL)
		ck_assert_msg(errs.n == 0, "case %d: unexpected errors:\n%s%s",
		    _i, msg, text);
	else
		ck_assert_msg(strstr(msg, scope_cases[_i].error) != NULL,
		    "case %d: expected \"%s\", got:\n%s%s", _i,
		    scope_cases[_i].error, msg, text);
	free(msg);
	free(text);
	wf_errors_free(&errs);
	workflow_free(wf);
}
END_TEST

START_TEST(test_workflow_env_scope)
{
	struct wf_errors errs;
	struct workflow *wf;
	char *msg;

	/* Workflow env may use github/secrets/inputs/vars, not matrix. */
	wf = parse("on: push\nenv:\n  A: ${{ matrix.x }}\njobs:\n  a:\n"
	    "    runs-on: x\n    steps:\n      - run: echo\n", &errs);
	msg = wf_errors_format(&errs);
	ck_assert_msg(strstr(msg, "3:") != NULL &&
	    strstr(msg, "Unrecognized named-value: 'matrix'") != NULL,
	    "got: %s", msg);
	free(msg);
	wf_errors_free(&errs);
	workflow_free(wf);
}
END_TEST

/* action.yml: a composite and a node action read; what is wrong named. */
START_TEST(test_action_metadata)
{
	static const char comp[] =
	    "name: c\n"
	    "description: d\n"
	    "inputs:\n"
	    "  who: {description: x, required: 'true'}\n"
	    "  n:\n"
	    "    default: 3\n"
	    "  tok:\n"
	    "    default: ${{ github.token }}\n"
	    "    deprecationMessage: gone\n"
	    "outputs:\n"
	    "  o:\n"
	    "    value: ${{ steps.a.outputs.v }}\n"
	    "runs:\n"
	    "  using: composite\n"
	    "  steps:\n"
	    "    - id: a\n"
	    "      shell: bash\n"
	    "      run: echo ${{ inputs.who }}\n"
	    "    - uses: ./inner\n"
	    "branding: {icon: x, color: red}\n";
	static const char node[] =
	    "runs:\n"
	    "  using: node20\n"
	    "  main: dist/index.js\n"
	    "  post: dist/post.js\n"
	    "  post-if: success()\n";
	static const struct {
		const char *text, *want;
	} bad[] = {
	    { "runs:\n  using: composite\n  steps:\n    - run: x\n",
	      "4:7: 'runs.steps[0]': a composite action's 'run' step needs "
	      "'shell'" },
	    { "runs:\n  using: java\n", "2:10: 'runs.using': unknown 'java'" },
	    { "runs:\n  using: node24\n", "2:3: a node24 action needs "
	      "'runs.main'" },
	    { "name: x\n", "1:1: action has no 'runs'" },
	    { "runs:\n  using: composite\n  stesp: []\n", "3:3: unknown key "
	      "'stesp' in 'runs'" },
	};
	struct wf_errors errs = { 0 };
	struct wf_action *a;
	char *f;
	size_t i;

	a = workflow_action_parse("action.yml", comp, strlen(comp), &errs);
	ck_assert_ptr_nonnull(a);
	f = wf_errors_format(&errs);
	ck_assert_msg(errs.n == 0, "%s", f);
	free(f);
	ck_assert_int_eq(a->kind, WF_ACTION_COMPOSITE);
	ck_assert_uint_eq(a->ninputs, 3);
	ck_assert_str_eq(a->inputs[0].name, "who");
	ck_assert_int_eq(a->inputs[0].required, 1);
	ck_assert_ptr_null(a->inputs[0].def);
	ck_assert_str_eq(a->inputs[1].def, "3");
	ck_assert_str_eq(a->inputs[2].def, "${{ github.token }}");
	ck_assert_str_eq(a->inputs[2].deprecation, "gone");
	ck_assert_uint_eq(a->outputs.n, 1);
	ck_assert_str_eq(a->outputs.v[0].value, "${{ steps.a.outputs.v }}");
	ck_assert_uint_eq(a->nsteps, 2);
	ck_assert_str_eq(a->steps[1].uses, "./inner");
	workflow_action_free(a);

	a = workflow_action_parse("action.yml", node, strlen(node), &errs);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_int_eq(a->kind, WF_ACTION_NODE);
	ck_assert_str_eq(a->main, "dist/index.js");
	ck_assert_str_eq(a->post, "dist/post.js");
	ck_assert_str_eq(a->post_if, "success()");
	workflow_action_free(a);

	for (i = 0; i < nitems(bad); i++) {
		a = workflow_action_parse("action.yml", bad[i].text,
		    strlen(bad[i].text), &errs);
		f = wf_errors_format(&errs);
		ck_assert_msg(strstr(f, bad[i].want) != NULL, "%zu: want %s\n"
		    "got %s", i, bad[i].want, f);
		free(f);
		wf_errors_free(&errs);
		workflow_action_free(a);
	}
}
END_TEST

static Suite *
workflow_suite(void)
{
	Suite	*s = suite_create("workflow");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_errors, 0, nitems(err_vecs));
	tcase_add_test(tc, test_collects_all_errors);
	tcase_add_test(tc, test_seed_pipeline);
	tcase_add_test(tc, test_anchors_aliases);
	tcase_add_test(tc, test_on_forms);
	tcase_add_test(tc, test_job_forms);
	tcase_add_loop_test(tc, test_context_scopes, 0,
	    (int)(sizeof scope_cases / sizeof scope_cases[0]));
	tcase_add_test(tc, test_workflow_env_scope);
	tcase_add_loop_test(tc, test_yaml_to_json, 0, nitems(json_vecs));
	tcase_add_test(tc, test_duplicate_key_in_json);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_errors_format);
	tcase_add_test(tc, test_action_metadata);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(workflow_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
