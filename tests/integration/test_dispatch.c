/*
 * Integration tests of manual dispatch: `cictl dispatch` runs the
 * workflow at the default branch's tip with typed inputs (inputs.* typed,
 * github.event.inputs.* strings, defaults filled in), and a bad choice, a
 * missing required input, an undeclared input or a workflow without
 * workflow_dispatch is refused, naming why, with no run made.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char mlops[] =
    "name: mlops\n"
    "on:\n"
    "  workflow_dispatch:\n"
    "    inputs:\n"
    "      model:\n"
    "        type: choice\n"
    "        required: true\n"
    "        options: [lstm, gru]\n"
    "      epochs:\n"
    "        type: number\n"
    "        default: 3\n"
    "      dry:\n"
    "        type: boolean\n"
    "        default: false\n"
    "jobs:\n"
    "  train:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: |\n"
    "          echo \"model=${{ inputs.model }} "
    "event=${{ github.event.inputs.model }}\"\n"
    "          echo \"epochs=${{ inputs.epochs }} dry=${{ inputs.dry }}\"\n"
    "          echo \"typed=${{ inputs.dry == false && inputs.epochs == 3 }}\"\n"
    "          echo \"name=${{ github.event_name }} ref=$GITHUB_REF\"\n";

static char *
runs_of(struct harness *h)
{
	return harness_sql(h, "SELECT count(*) FROM runs", NULL);
}

static void
refused(struct harness *h, const char *needle, ...)
{
	struct buf err = { 0 };
	char *before = runs_of(h), *after;
	const char *argv[12];
	va_list ap;
	int n = 0, rc;

	va_start(ap, needle);
	while (n < 11 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = harness_cictl(h, NULL, &err, "dispatch", argv[0], argv[1],
	    argv[2], argv[3], argv[4], argv[5], argv[6], NULL);
	harness_assert(h, rc != 0, "dispatch expected to be refused (%s)",
	    needle);
	harness_expect_contains(h, err.data, "cictl dispatch", needle);
	after = runs_of(h);
	harness_assert(h, strcmp(before, after) == 0, "a refused dispatch "
	    "made a run (%s -> %s)", before, after);
	free(before);
	free(after);
	buf_free(&err);
}

START_TEST(test_dispatch_typed_inputs_and_refusals)
{
	struct harness *h = harness_up("dispatch");
	struct harness_repo *repo = harness_repo_new(h, "octo/ml");
	struct buf out = { 0 }, err = { 0 };
	char *sha, *log;
	json_t *run;

	harness_repo_write(repo, ".github/workflows/mlops.yml", mlops);
	harness_repo_write(repo, ".github/workflows/ci.yml",
	    "on: push\njobs:\n  a:\n    runs-on: self-hosted\n    steps:\n"
	    "      - run: true\n");
	sha = harness_repo_commit_push(repo, "main", "ml", NULL);

	harness_assert(h, harness_cictl(h, &out, &err, "dispatch", "octo/ml",
	    "mlops.yml", "-f", "model=lstm", NULL) == 0,
	    "cictl dispatch: %s", err.data);
	harness_expect_contains(h, out.data, "cictl dispatch", "queued");
	run = harness_wait_run(h, sha, ".github/workflows/mlops.yml",
	    HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	harness_expect_str(h, run, "run", "event", "workflow_dispatch");
	log = harness_job_log(h, run, "train");
	harness_expect_contains(h, log, "log", "model=lstm event=lstm");
	harness_expect_contains(h, log, "log", "epochs=3 dry=false");
	harness_expect_contains(h, log, "log", "typed=true");
	harness_expect_contains(h, log, "log",
	    "name=workflow_dispatch ref=refs/heads/main");
	free(log);
	json_decref(run);

	refused(h, "'model'", "octo/ml", "mlops.yml", "-f", "model=cnn",
	    NULL);
	refused(h, "options (lstm, gru)", "octo/ml", "mlops.yml", "-f",
	    "model=cnn", NULL);
	refused(h, "required input 'model'", "octo/ml", "mlops.yml", NULL);
	refused(h, "input 'dry' is a boolean", "octo/ml", "mlops.yml", "-f",
	    "model=gru", "-f", "dry=yes", NULL);
	refused(h, "unexpected input 'nope'", "octo/ml", "mlops.yml", "-f",
	    "model=gru", "-f", "nope=1", NULL);
	refused(h, "does not declare on.workflow_dispatch", "octo/ml",
	    "ci.yml", NULL);
	refused(h, "no workflow file", "octo/ml", "absent.yml", NULL);
	refused(h, "no such repository", "octo/none", "mlops.yml", NULL);

	buf_free(&out);
	buf_free(&err);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * The bundled example's mlops.yml, dispatched as the README says: it
 * trains the example's model (its src/ is pushed with it) with the chosen
 * kind, checks it on unseen prices and uploads it as an artifact.
 */
START_TEST(test_example_mlops_dispatch_and_schedule)
{
	struct harness *h = harness_up("dispatch_example");
	struct harness_repo *repo = harness_repo_new(h, "example/pipeline");
	struct buf out = { 0 }, err = { 0 };
	char *text, *sha, *log;
	char *cp[] = { "cp", "-r", "contrib/example/src", repo->work, NULL };
	char id[32];
	json_t *run;

	text = file_read_all("contrib/example/.github/workflows/mlops.yml",
	    1 << 20, NULL);
	harness_assert(h, text != NULL, "contrib/example's mlops.yml: run "
	    "the tests from the top of the tree");
	harness_repo_write(repo, ".github/workflows/mlops.yml", text);
	free(text);
	harness_assert(h, harness_run(cp, NULL, NULL, NULL, &err, 10000) == 0,
	    "cp -r contrib/example/src: %s", err.data);
	sha = harness_push(h, repo, "main", "example");
	harness_assert(h, harness_cictl(h, &out, &err, "dispatch",
	    "example/pipeline", "mlops.yml", "-f", "model=perceptron", NULL) == 0,
	    "cictl dispatch: %s", err.data);
	run = harness_wait_event_run(h, "workflow_dispatch", HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "head_sha", sha);
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "train");
	harness_expect_contains(h, log, "log", "training model=perceptron "
	    "epochs=2 (event workflow_dispatch)");
	harness_expect_contains(h, log, "log", "model=perceptron epochs=2 "
	    "test_accuracy=");
	harness_expect_contains(h, log, "log", "model perceptron ready: "
	    "accuracy on unseen prices");
	free(log);
	/* The trained model is the run's artifact, named by its kind. */
	snprintf(id, sizeof id, "%lld", (long long)json_integer_value(
	    json_object_get(run, "id")));
	buf_clear(&out);
	harness_assert(h, harness_cictl(h, &out, &err, "artifacts", id,
	    NULL) == 0, "cictl artifacts %s: %s", id, err.data);
	buf_add_char(&out, '\0');
	harness_expect_contains(h, out.data, "cictl artifacts",
	    "model-perceptron");
	json_decref(run);
	/* The push recorded its weekly schedule, with a next fire time. */
	buf_clear(&out);
	harness_assert(h, harness_cictl(h, &out, NULL, "schedules", "--repo",
	    "example/pipeline", NULL) == 0, "cictl schedules");
	harness_expect_contains(h, out.data, "cictl schedules", "0 3 * * 1");
	harness_expect_contains(h, out.data, "cictl schedules", " UTC");

	buf_free(&out);
	buf_free(&err);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
dispatch_suite(void)
{
	Suite *s = suite_create("dispatch");
	TCase *tc = tcase_create("dispatch");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_dispatch_typed_inputs_and_refusals);
	tcase_add_test(tc, test_example_mlops_dispatch_and_schedule);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dispatch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
