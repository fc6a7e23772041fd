/*
 * Unit tests for common/dispatch: inputs checked against a workflow's
 * declarations, each refusal naming the input; the 25-input limit in
 * validation.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "util.h"
#include "workflow.h"

static const char wf_text[] =
    "on:\n"
    "  workflow_dispatch:\n"
    "    inputs:\n"
    "      model: {type: choice, required: true, options: [lstm, gru]}\n"
    "      epochs: {type: number, default: 3}\n"
    "      dry: {type: boolean, default: false}\n"
    "      note: {type: string, required: true, default: hi}\n"
    "      env: {type: environment}\n"
    "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: true\n";

struct vec {
	const char	*inputs;	/* JSON */
	const char	*err;		/* NULL: accepted; else a substring */
};

static const struct vec vecs[] = {
	{ "{\"model\": \"lstm\"}", NULL },
	{ "{\"model\": \"gru\", \"epochs\": \"2.5\", \"dry\": \"true\"}", NULL },
	{ "{\"model\": \"gru\", \"epochs\": 7, \"dry\": true, \"env\": \"x\"}",
	  NULL },
	{ "{}", "required input 'model'" },
	{ "{\"model\": null}", "required input 'model'" },
	{ "{\"model\": \"cnn\"}", "'model': \"cnn\" is not one of its options "
	  "(lstm, gru)" },
	{ "{\"model\": \"LSTM\"}", "not one of its options" },
	{ "{\"model\": \"lstm\", \"epochs\": \"many\"}", "input 'epochs' is a "
	  "number" },
	{ "{\"model\": \"lstm\", \"epochs\": \"\"}", "input 'epochs'" },
	{ "{\"model\": \"lstm\", \"dry\": \"yes\"}", "input 'dry' is a "
	  "boolean" },
	{ "{\"model\": \"lstm\", \"other\": \"1\"}", "unexpected input "
	  "'other'" },
	{ "{\"model\": [\"lstm\"]}", "input 'model' must be a string" },
};

START_TEST(test_inputs)
{
	const struct vec *v = &vecs[_i];
	struct wf_errors errs = { 0 };
	struct workflow *wf = workflow_parse("w.yml", wf_text,
	    strlen(wf_text), &errs);
	json_t *in = json_loads(v->inputs, 0, NULL);
	char err[512] = "";
	int rc;

	ck_assert_ptr_nonnull(wf);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_nonnull(in);
	rc = dispatch_check(wf, in, err, sizeof err);
	if (v->err == NULL)
		ck_assert_msg(rc == 0, "%s: %s", v->inputs, err);
	else {
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(strstr(err, v->err) != NULL, "%s: got \"%s\"",
		    v->inputs, err);
	}
	json_decref(in);
	wf_errors_free(&errs);
	workflow_free(wf);
}
END_TEST

START_TEST(test_not_dispatchable)
{
	const char *text = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
	    "      - run: true\n";
	struct wf_errors errs = { 0 };
	struct workflow *wf = workflow_parse("ci.yml", text, strlen(text),
	    &errs);
	char err[512];

	ck_assert_int_eq(dispatch_check(wf, NULL, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "ci.yml does not declare "
	    "on.workflow_dispatch"));
	wf_errors_free(&errs);
	workflow_free(wf);
}
END_TEST

/* 25 inputs validate; a 26th is an error at its mapping. */
START_TEST(test_input_limit)
{
	struct buf b = { 0 };
	struct wf_errors errs = { 0 };
	struct workflow *wf;
	int n = 25 + _i;

	buf_add_str(&b, "on:\n  workflow_dispatch:\n    inputs:\n");
	for (int i = 0; i < n; i++)
		buf_printf(&b, "      in%d: {type: string}\n", i);
	buf_add_str(&b, "jobs:\n  a:\n    runs-on: x\n    steps:\n"
	    "      - run: true\n");
	wf = workflow_parse("w.yml", b.data, b.len, &errs);
	if (_i == 0)
		ck_assert_uint_eq(errs.n, 0);
	else {
		ck_assert_uint_eq(errs.n, 1);
		ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "at most 25"));
	}
	wf_errors_free(&errs);
	workflow_free(wf);
	buf_free(&b);
}
END_TEST

static Suite *
dispatch_suite(void)
{
	Suite *s = suite_create("dispatch");
	TCase *tc = tcase_create("dispatch");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_inputs, 0, (int)nitems(vecs));
	tcase_add_test(tc, test_not_dispatchable);
	tcase_add_loop_test(tc, test_input_limit, 0, 2);
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
