/*
 * fuzz_expr: the ${{ }} expression language on arbitrary text, as kiln
 * meets it in workflow files (validated by workflow.c, evaluated by the
 * worker's planner and job runner and by cictl).
 *
 * Input layout:
 *	byte 0   mode (bits 0-1) and scope choice (bits 2-3)
 *	byte 1   EXPR_ST_* status bits for success()/failure()/cancelled()
 *	rest     the expression or template text (cut at the first NUL, as
 *	         a C string would be)
 *
 * Modes: 0 bare expression (expr_parse, expr_uses_status, expr_eval,
 * expr_to_string, expr_truthy); 1 template (expr_check_template,
 * expr_eval_template); 2 condition (expr_check_condition,
 * expr_eval_condition); 3 all of them on the same text.
 *
 * Evaluation runs against a small fixed context, rebuilt per input so the
 * target keeps no state, with a 64 KiB memory budget and no workspace
 * (hashFiles() reports "not available" rather than touching the disk).
 * Bound: FUZZ_EXPR_MAX bytes of text, a little over EXPR_MAX_LENGTH so
 * the length limit itself is exercised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "expr.h"

#include "fuzz.h"

#define FUZZ_EXPR_MAX		(EXPR_MAX_LENGTH + 64)
#define FUZZ_EXPR_MEMORY	(64 * 1024)

/* The contexts a step sees, small but with every JSON type in it. */
static const char fuzz_contexts[] =
    "{"
    "\"github\": {\"ref\": \"refs/heads/main\", \"ref_name\": \"main\","
    " \"event_name\": \"push\", \"sha\": \"0123456789abcdef\","
    " \"run_number\": 7, \"repository\": \"acme/kiln\","
    " \"event\": {\"commits\": [{\"message\": \"fix\", \"id\": 1},"
    " {\"message\": \"feat\", \"id\": 2}], \"forced\": false,"
    " \"head_commit\": null}},"
    "\"env\": {\"CI\": \"true\", \"EMPTY\": \"\", \"NUM\": \"0x1F\"},"
    "\"vars\": {\"LEVEL\": \"3\"},"
    "\"secrets\": {\"TOKEN\": \"s3cr3t\"},"
    "\"inputs\": {\"debug\": true, \"count\": 2.5, \"name\": \"x\"},"
    "\"matrix\": {\"os\": \"ubuntu-latest\", \"node\": [18, 20, 22]},"
    "\"strategy\": {\"fail-fast\": true, \"job-index\": 0,"
    " \"job-total\": 3, \"max-parallel\": 3},"
    "\"needs\": {\"build\": {\"result\": \"success\","
    " \"outputs\": {\"version\": \"1.2.3\", \"json\": \"[1,{\\\"a\\\":2}]\"}}},"
    "\"steps\": {\"s1\": {\"outcome\": \"success\","
    " \"conclusion\": \"success\", \"outputs\": {\"v\": \"-0.0\"}}},"
    "\"job\": {\"status\": \"success\"},"
    "\"runner\": {\"os\": \"Linux\", \"arch\": \"X64\", \"temp\": \"/tmp\"}"
    "}";

/* Two of the worker's scopes: a step's value and a step's if:. */
static const char *const fuzz_step_names[] = { "github", "needs",
    "strategy", "matrix", "job", "runner", "env", "vars", "secrets",
    "steps", "inputs", NULL };
static const char *const fuzz_job_if_names[] = { "github", "needs", "vars",
    "inputs", NULL };
static const struct expr_scope fuzz_scope_step = { fuzz_step_names,
    EXPR_FN_HASHFILES };
static const struct expr_scope fuzz_scope_job_if = { fuzz_job_if_names,
    EXPR_FN_STATUS };
static const struct expr_scope fuzz_scope_no_names = { NULL, 0 };

static const struct expr_scope *
pick_scope(unsigned int which)
{
	switch (which & 3) {
	case 0:
		return NULL;		/* any name, every function */
	case 1:
		return &fuzz_scope_step;
	case 2:
		return &fuzz_scope_job_if;
	default:
		return &fuzz_scope_no_names;
	}
}

static void
run_bare(const char *text, const struct expr_scope *scope,
    const struct expr_ctx *ctx)
{
	char err[512], *s;
	struct expr *e;
	json_t *v;

	err[0] = '\0';
	if ((e = expr_parse(text, scope, err, sizeof err)) == NULL) {
		FUZZ_ASSERT(err[0] != '\0');
		return;
	}
	(void)expr_uses_status(e);
	err[0] = '\0';
	if ((v = expr_eval(e, ctx, err, sizeof err)) != NULL) {
		(void)expr_truthy(v);
		s = expr_to_string(v);
		FUZZ_ASSERT(s != NULL);
		free(s);
		json_decref(v);
	} else
		FUZZ_ASSERT(err[0] != '\0');
	expr_free(e);
}

static void
run_template(const char *text, const struct expr_scope *scope,
    const struct expr_ctx *ctx)
{
	char err[512], *s;
	size_t column = 0;
	json_t *v;

	err[0] = '\0';
	if (expr_check_template(text, scope, err, sizeof err, &column) == -1)
		FUZZ_ASSERT(err[0] != '\0');
	if ((v = expr_eval_template(text, scope, ctx, err, sizeof err)) ==
	    NULL)
		return;
	/* Documented: text without ${{ comes back unchanged. */
	if (strstr(text, "${{") == NULL)
		FUZZ_ASSERT(json_is_string(v) &&
		    strcmp(json_string_value(v), text) == 0);
	s = expr_to_string(v);
	FUZZ_ASSERT(s != NULL);
	free(s);
	json_decref(v);
}

static void
run_condition(const char *text, const struct expr_scope *scope,
    const struct expr_ctx *ctx)
{
	char err[512];
	size_t column = 0;
	int result = -1;

	err[0] = '\0';
	if (expr_check_condition(text, scope, err, sizeof err, &column) == -1)
		FUZZ_ASSERT(err[0] != '\0');
	if (expr_eval_condition(text, scope, ctx, &result, err,
	    sizeof err) == 0)
		FUZZ_ASSERT(result == 0 || result == 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct expr_scope *scope;
	struct expr_ctx ctx;
	json_error_t jerr;
	unsigned int mode;
	char *text;

	if (size < 2 || size - 2 > FUZZ_EXPR_MAX)
		return 0;
	mode = data[0];
	scope = pick_scope(mode >> 2);

	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = json_loads(fuzz_contexts, 0, &jerr);
	FUZZ_ASSERT(ctx.contexts != NULL);
	ctx.workspace = NULL;
	ctx.status = data[1] & (EXPR_ST_SUCCESS | EXPR_ST_FAILURE |
	    EXPR_ST_CANCELLED);
	ctx.max_memory = FUZZ_EXPR_MEMORY;

	text = fuzz_strndup(data + 2, size - 2);
	switch (mode & 3) {
	case 0:
		run_bare(text, scope, &ctx);
		break;
	case 1:
		run_template(text, scope, &ctx);
		break;
	case 2:
		run_condition(text, scope, &ctx);
		break;
	default:
		run_bare(text, scope, &ctx);
		run_template(text, scope, &ctx);
		run_condition(text, scope, &ctx);
		break;
	}
	free(text);
	json_decref(ctx.contexts);
	return 0;
}
