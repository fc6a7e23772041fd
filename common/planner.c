/*
 * planner: see planner.h.
 *
 * The order of work is GitHub's: the trigger (with the changed files only
 * when a path filter asks), the run's contexts, then per job its matrix
 * (literal, or evaluated in the strategy scope: github, needs, vars,
 * inputs), and per leg the job-level values in their scope (reference
 * 4.9: github, needs, strategy, matrix, vars, inputs).  At plan time the
 * needs context is empty: a matrix that reads needs waits for them
 * (deferred); other values that read needs see empty objects, as GitHub's
 * own plan-time evaluation would not allow them anyway.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "expr.h"
#include "matrix.h"
#include "planner.h"
#include "trigger.h"
#include "util.h"

/* The strategy key's contexts without needs: an expression that does not
 * parse here reads needs. */
static const char *const planner_ctx_no_needs[] = { "github", "vars",
    "inputs", NULL };
static const struct expr_scope planner_scope_no_needs = {
	planner_ctx_no_needs, 0
};

int
planner_triggered(const struct workflow *wf, const struct event *ev,
    planner_paths_fn *paths, void *arg, char **reason)
{
	struct trigger_event te;

	event_trigger(ev, &te);
	if (paths != NULL && trigger_needs_paths(wf, ev->name) &&
	    paths(arg, &te.paths, &te.npaths) == -1) {
		te.paths = NULL;
		te.npaths = 0;
		te.paths_unknown = 1;
	}
	return trigger_match(wf, &te, reason);
}

static void
planner_lower(char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* runs-on as a lower-cased array of labels (they match so). */
static json_t *
planner_labels(const struct wf_job *job, const struct expr_ctx *ctx,
    char *err, size_t errsz)
{
	json_t *out = json_array(), *r, *e;
	char *one;
	size_t i;

	if (job->runs_on.expr != NULL) {
		if ((r = expr_eval_template(job->runs_on.expr,
		    &ctx_scope_job_plan, ctx, err, errsz)) == NULL) {
			json_decref(out);
			return NULL;
		}
		if (json_is_array(r)) {
			json_array_foreach(r, i, e) {
				one = expr_to_string(e);
				planner_lower(one);
				json_array_append_new(out, json_string(one));
				free(one);
			}
		} else {
			one = expr_to_string(r);
			planner_lower(one);
			json_array_append_new(out, json_string(one));
			free(one);
		}
		json_decref(r);
		return out;
	}
	for (i = 0; i < job->runs_on.labels.n; i++) {
		if (context_eval_string(job->runs_on.labels.v[i],
		    &ctx_scope_job_plan, ctx, &one, err, errsz) == -1) {
			json_decref(out);
			return NULL;
		}
		planner_lower(one);
		json_array_append_new(out, json_string(one));
		free(one);
	}
	return out;
}

/*
 * The values of one leg that are known before the job runs.  contexts
 * gets this leg's matrix and strategy.  An expression that fails sets
 * pj->message.
 */
static void
planner_leg(const struct wf_job *job, json_t *contexts, struct plan_job *pj)
{
	struct expr_ctx ctx;
	char err[1024];
	double timeout = WF_DEFAULT_TIMEOUT, maxpar = 0;
	int coe = 0, failfast = 1, cancel = 0;
	char *group = NULL;

	json_object_set_new(contexts, "matrix", pj->matrix != NULL ?
	    json_deep_copy(pj->matrix) : json_object());
	json_object_set(contexts, "strategy", pj->strategy);
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = contexts;
	pj->labels = json_array();
	pj->timeout_minutes = timeout;
	pj->fail_fast = 1;

	if (job->name_set && strstr(job->name, "${{") != NULL) {
		char *name;

		if (context_eval_string(job->name, &ctx_scope_job_plan, &ctx,
		    &name, err, sizeof err) == -1)
			goto fail;
		free(pj->name);
		pj->name = name;
	}
	json_decref(pj->labels);
	if ((pj->labels = planner_labels(job, &ctx, err, sizeof err)) == NULL) {
		pj->labels = json_array();
		goto fail;
	}
	if (context_eval_bool(&job->continue_on_error, &ctx_scope_job_plan,
	    &ctx, &coe, err, sizeof err) == -1 ||
	    context_eval_num(&job->timeout_minutes, WF_DEFAULT_TIMEOUT,
	    &ctx_scope_job_plan, &ctx, &timeout, err, sizeof err) == -1)
		goto fail;
	if (job->strategy.set && context_eval_bool(&job->strategy.fail_fast,
	    &ctx_scope_job_plan, &ctx, &failfast, err, sizeof err) == -1)
		goto fail;
	if (job->strategy.max_parallel.set &&
	    context_eval_num(&job->strategy.max_parallel, 0,
	    &ctx_scope_job_plan, &ctx, &maxpar, err, sizeof err) == -1)
		goto fail;
	/*
	 * Evaluated values get the bounds literals have (and no NaN); above
	 * the 5-day limit is accepted, the worker caps it when it runs.
	 */
	if (!(timeout > 0 && isfinite(timeout))) {
		snprintf(err, sizeof err, "timeout-minutes must be a number of "
		    "minutes more than 0, not %g", timeout);
		goto fail;
	}
	if (job->strategy.max_parallel.set &&
	    !(maxpar >= 1 && maxpar <= WF_MAX_JOBS)) {
		snprintf(err, sizeof err, "strategy.max-parallel must be from 1 "
		    "to %d, not %g", WF_MAX_JOBS, maxpar);
		goto fail;
	}
	if (job->concurrency.set && job->concurrency.group != NULL) {
		if (context_eval_string(job->concurrency.group,
		    &ctx_scope_job_plan, &ctx, &group, err, sizeof err) == -1 ||
		    context_eval_bool(&job->concurrency.cancel_in_progress,
		    &ctx_scope_job_plan, &ctx, &cancel, err, sizeof err) == -1) {
			free(group);
			goto fail;
		}
		/* Group names are case-insensitive. */
		planner_lower(group);
	}
	pj->continue_on_error = coe;
	pj->timeout_minutes = timeout;
	pj->fail_fast = job->strategy.set ? failfast : 1;
	pj->max_parallel = job->strategy.max_parallel.set ? (int)maxpar : 0;
	pj->group = group;
	pj->cancel_in_progress = cancel;
	return;
fail:
	pj->message = xstrdup(err);
}

/*
 * 1 if some string of v (a matrix as written) holds ${{ }} -- that does
 * not parse in the scope unless, when unless is not NULL (with
 * planner_scope_no_needs: an expression that reads needs).
 */
static int
planner_find_expr(const json_t *v, const struct expr_scope *unless)
{
	const json_t *x;
	const char *k;
	char err[256];
	size_t i;

	if (json_is_string(v))
		return strstr(json_string_value(v), "${{") != NULL &&
		    (unless == NULL || expr_check_template(json_string_value(v),
		    unless, err, sizeof err, NULL) == -1);
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (planner_find_expr(x, unless))
				return 1;
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
			if (planner_find_expr(x, unless))
				return 1;
	}
	return 0;
}

/* A copy of v with every string holding ${{ }} evaluated. */
static json_t *
planner_resolve(const json_t *v, const struct expr_ctx *ctx, char *err,
    size_t errsz)
{
	const json_t *x;
	json_t *out, *r;
	const char *k;
	size_t i;

	if (json_is_string(v) && strstr(json_string_value(v), "${{") != NULL)
		return expr_eval_template(json_string_value(v),
		    &ctx_scope_strategy, ctx, err, errsz);
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, x) {
			if ((r = planner_resolve(x, ctx, err, errsz)) == NULL) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, r);
		}
		return out;
	}
	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach((json_t *)v, k, x) {
			if ((r = planner_resolve(x, ctx, err, errsz)) == NULL) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, k, r);
		}
		return out;
	}
	return json_deep_copy(v);
}

/*
 * Expand job's matrix with contexts: literal, or evaluated.  Returns 0
 * with the legs, or -1 with err.
 */
static int
planner_matrix(const struct wf_job *job, json_t *contexts,
    struct matrix_leg **legs, size_t *nlegs, char *err, size_t errsz)
{
	struct expr_ctx ctx;
	json_t *m;
	int rc;

	if (job->strategy.matrix_expr == NULL &&
	    !planner_find_expr(job->strategy.matrix, NULL))
		return matrix_expand(job, legs, nlegs, err, errsz);
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = contexts;
	if (job->strategy.matrix_expr != NULL)
		m = expr_eval_template(job->strategy.matrix_expr,
		    &ctx_scope_strategy, &ctx, err, errsz);
	else
		m = planner_resolve(job->strategy.matrix, &ctx, err, errsz);
	if (m == NULL)
		return -1;
	if (!json_is_object(m)) {
		snprintf(err, errsz, "strategy.matrix must evaluate to an "
		    "object, not %s", json_is_array(m) ? "an array" :
		    json_is_string(m) ? "a string" : "a scalar");
		json_decref(m);
		return -1;
	}
	rc = matrix_expand_json(job->name, m, legs, nlegs, err, errsz);
	json_decref(m);
	return rc;
}

/* The job rows of the legs, each leg's values evaluated. */
static void
planner_legs(const struct wf_job *job, json_t *contexts,
    const struct matrix_leg *legs, size_t nlegs, struct plan_job *out)
{
	size_t i;

	for (i = 0; i < nlegs; i++) {
		memset(&out[i], 0, sizeof out[i]);
		out[i].def = job;
		out[i].name = xstrdup(legs[i].name);
		out[i].matrix = legs[i].values != NULL ?
		    json_deep_copy(legs[i].values) : NULL;
		out[i].strategy = context_strategy(job, i, nlegs);
		planner_leg(job, contexts, &out[i]);
	}
}

/* 1 if job's matrix reads its needs: it is expanded when they ran. */
static int
planner_deferred(const struct wf_job *job)
{
	char err[256];

	if (job->nneeds == 0)
		return 0;
	if (job->strategy.matrix_expr != NULL)
		return expr_check_template(job->strategy.matrix_expr,
		    &planner_scope_no_needs, err, sizeof err, NULL) == -1;
	return planner_find_expr(job->strategy.matrix,
	    &planner_scope_no_needs);
}

/* A new row of run for job with the defaults, name job->name. */
static struct plan_job *
planner_add(struct plan_run *run, const struct wf_job *job)
{
	struct plan_job *pj;

	run->jobs = xreallocarray(run->jobs, run->njobs + 1,
	    sizeof *run->jobs);
	pj = &run->jobs[run->njobs++];
	memset(pj, 0, sizeof *pj);
	pj->def = job;
	pj->name = xstrdup(job->name);
	pj->strategy = context_strategy(job, 0, 1);
	pj->labels = json_array();
	pj->timeout_minutes = WF_DEFAULT_TIMEOUT;
	pj->fail_fast = 1;
	return pj;
}

/* Append to run the rows of one job. */
static void
planner_job(const struct wf_job *job, const char *path, json_t *contexts,
    struct plan_run *run)
{
	struct matrix_leg *legs = NULL;
	size_t nlegs = 0;
	char err[1024];

	json_object_set_new(contexts, "needs", json_object());
	/*
	 * A matrix computed from its needs' outputs is only known once they
	 * ran: one placeholder row now, expanded by the worker that claims
	 * it (planner_expand).  Its values wait for the expansion too.
	 */
	if (planner_deferred(job)) {
		planner_add(run, job)->deferred = 1;
		return;
	}
	if (planner_matrix(job, contexts, &legs, &nlegs, err,
	    sizeof err) == -1) {
		/* The job fails up front, visibly. */
		planner_add(run, job)->message = xasprintf("%s: job %s: %s",
		    path, job->id, err);
		return;
	}
	run->jobs = xreallocarray(run->jobs, run->njobs + nlegs,
	    sizeof *run->jobs);
	planner_legs(job, contexts, legs, nlegs, &run->jobs[run->njobs]);
	run->njobs += nlegs;
	matrix_legs_free(legs, nlegs);
}

/* The run's concurrency group, in the run-level scope. */
static void
planner_run_group(const struct workflow *wf, struct plan_run *run)
{
	const struct wf_concurrency *c = &wf->concurrency;
	struct expr_ctx ctx;
	char err[1024];

	if (!c->set || c->group == NULL)
		return;
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = run->contexts;
	if (context_eval_string(c->group, &ctx_scope_run_level, &ctx,
	    &run->group, err, sizeof err) == -1 ||
	    context_eval_bool(&c->cancel_in_progress, &ctx_scope_run_level,
	    &ctx, &run->cancel_in_progress, err, sizeof err) == -1) {
		free(run->group);
		run->group = NULL;
		run->cancel_in_progress = 0;
		run->group_error = xstrdup(err);
		return;
	}
	/* Group names are case-insensitive. */
	planner_lower(run->group);
}

/* The run's title: run-name, else the event's own words (reference 3.1). */
static void
planner_title(const struct workflow *wf, const struct event *ev,
    struct plan_run *run)
{
	struct expr_ctx ctx;
	const char *s = NULL, *p;
	char err[512];

	if (wf->run_name != NULL) {
		memset(&ctx, 0, sizeof ctx);
		ctx.contexts = run->contexts;
		if (context_eval_string(wf->run_name, &ctx_scope_run_level,
		    &ctx, &run->title, err, sizeof err) == -1)
			run->title = NULL;
		/* Whitespace only counts as absent. */
		for (p = run->title; p != NULL && *p != '\0' &&
		    strchr(" \t\r\n", *p) != NULL; p++)
			;
		if (p != NULL && *p != '\0')
			return;
		free(run->title);
		run->title = NULL;
	}
	if (ev->kind != NULL && ev->kind->filter == EVENT_FILTER_PUSH)
		s = ev->head_message;
	else if (ev->kind != NULL && ev->kind->filter == EVENT_FILTER_PULL)
		s = json_string_value(json_object_get(json_object_get(
		    ev->payload, "pull_request"), "title"));
	if (s == NULL || s[0] == '\0')
		s = wf->name;
	run->title = xstrndup(s, strcspn(s, "\n"));
}

void
planner_plan(const struct workflow *wf, const struct event *ev,
    int64_t run_id, int64_t run_number, struct plan_run *run)
{
	struct ctx_run r;
	json_t *contexts;
	size_t i;

	memset(run, 0, sizeof *run);
	run->contexts = context_run(wf, ev, &run->missing_input);
	memset(&r, 0, sizeof r);
	r.ev = ev;
	r.workflow_name = wf->name;
	r.workflow_path = wf->path;
	r.run_id = run_id;
	r.run_number = run_number;
	json_object_set_new(run->contexts, "github", context_github(&r));
	planner_title(wf, ev, run);
	planner_run_group(wf, run);
	/* Each job's legs write matrix and strategy into their own copy. */
	contexts = json_copy(run->contexts);
	for (i = 0; i < wf->njobs; i++)
		planner_job(&wf->jobs[i], wf->path, contexts, run);
	json_decref(contexts);
}

int
planner_expand(const struct wf_job *job, json_t *contexts,
    struct plan_job **jobs, size_t *njobs, char *err, size_t errsz)
{
	struct matrix_leg *legs = NULL;
	json_t *c;
	size_t nlegs = 0;

	*jobs = NULL;
	*njobs = 0;
	if (planner_matrix(job, contexts, &legs, &nlegs, err, errsz) == -1)
		return -1;
	c = json_copy(contexts);
	*jobs = xcalloc(nlegs, sizeof **jobs);
	planner_legs(job, c, legs, nlegs, *jobs);
	*njobs = nlegs;
	json_decref(c);
	matrix_legs_free(legs, nlegs);
	return 0;
}

void
planner_jobs_free(struct plan_job *jobs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(jobs[i].name);
		json_decref(jobs[i].matrix);
		json_decref(jobs[i].strategy);
		json_decref(jobs[i].labels);
		free(jobs[i].group);
		free(jobs[i].message);
	}
	free(jobs);
}

void
planner_run_free(struct plan_run *run)
{
	json_decref(run->contexts);
	free(run->title);
	free(run->group);
	free(run->group_error);
	planner_jobs_free(run->jobs, run->njobs);
	memset(run, 0, sizeof *run);
}
