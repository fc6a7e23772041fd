/*
 * context: GitHub's expression contexts (github, inputs, strategy, ...)
 * built from an event (common/event.h) and what is known of its run and
 * job, and the scopes that say which contexts each workflow key may use
 * (reference 4.9).  Shared by the planner (common/planner.c: job names,
 * runs-on, concurrency, matrix expressions), the worker's job runner (if:,
 * env, run, with, ...) and cictl plan, so all three see the same values.
 */
#ifndef KILN_CONTEXT_H
#define KILN_CONTEXT_H

#include <stdint.h>

#include <jansson.h>

#include "event.h"
#include "expr.h"
#include "workflow.h"

struct ctx_run {
	const struct event *ev;		/* ref, sha, payload ... (borrowed) */
	const char	*workflow_name;
	const char	*workflow_path;
	int64_t		 run_id;	/* 0 at plan time */
	int64_t		 run_number;
	int64_t		 run_attempt;	/* 0 (plan time) reads as 1 */
	const char	*job_key;	/* NULL outside a running job */
	const char	*workspace;	/* NULL outside a running job */
	const char	*api_url;	/* [github] api_url; NULL: GitHub's */
};

/*
 * GITHUB_REF_NAME / github.ref_name of a full ref: main, v1.2, 7/merge.
 * Points into ref ("" for NULL).
 */
const char *context_ref_name(const char *ref);

/* New reference: the github context. */
json_t	*context_github(const struct ctx_run *);

/*
 * New reference: the inputs context of a workflow_dispatch event, typed by
 * the workflow's input definitions (booleans stay booleans although the
 * payload has strings, defaults filled in), or an empty object for other
 * events.  missing (may be NULL) receives the first required input that
 * neither the payload nor a default gives (points into wf), else NULL.
 */
json_t	*context_inputs(const struct workflow *, const struct event *,
	    const char **missing);

/*
 * New reference: the contexts every run-level and job-level expression of
 * wf starts from: github (run_id 0 until the run exists), inputs, vars
 * (empty: kiln has no variables store) and needs (empty).  missing as in
 * context_inputs.
 */
json_t	*context_run(const struct workflow *, const struct event *,
	    const char **missing);

/* New reference: the strategy context of one leg. */
json_t	*context_strategy(const struct wf_job *, size_t index, size_t total);

/*
 * Scopes of reference 4.9, by the key they evaluate: the one list that
 * validation (workflow.c, which checks every expression against them)
 * and evaluation use.  NULL-terminated context lists; the scope pointers
 * are to static data.
 */
extern const struct expr_scope ctx_scope_run_level;	/* run-name, concurrency */
extern const struct expr_scope ctx_scope_job_plan;	/* name, runs-on, timeout, strategy, continue-on-error */
extern const struct expr_scope ctx_scope_job_if;	/* jobs.<id>.if */
extern const struct expr_scope ctx_scope_strategy;	/* jobs.<id>.strategy */
extern const struct expr_scope ctx_scope_job_env;	/* jobs.<id>.env */
extern const struct expr_scope ctx_scope_step;		/* step keys */
extern const struct expr_scope ctx_scope_step_if;	/* step if: no secrets */
extern const struct expr_scope ctx_scope_job_outputs;	/* jobs.<id>.outputs */
extern const struct expr_scope ctx_scope_wf_env;	/* workflow env */
extern const struct expr_scope ctx_scope_call_outputs;	/* on.workflow_call.outputs */
extern const struct expr_scope ctx_scope_job_defaults;	/* jobs.<id>.defaults */
extern const struct expr_scope ctx_scope_env_url;	/* jobs.<id>.environment.url */

/*
 * Evaluate a template (text with ${{ }}) to a string; NULL text gives NULL.
 * Returns 0 and a new string in *out, or -1 with err.
 */
int	context_eval_string(const char *text, const struct expr_scope *,
	    const struct expr_ctx *, char **out, char *err, size_t errsz);

/*
 * Evaluate a wf_bool / wf_num that may be an expression.  Returns 0 and the
 * value, or -1 with err.
 */
int	context_eval_bool(const struct wf_bool *, const struct expr_scope *,
	    const struct expr_ctx *, int *out, char *err, size_t errsz);
int	context_eval_num(const struct wf_num *, double def,
	    const struct expr_scope *, const struct expr_ctx *, double *out,
	    char *err, size_t errsz);

#endif
