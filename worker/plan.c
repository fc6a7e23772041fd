/*
 * plan: turn one event into runs.  Fetch the repository's mirror, read
 * the workflow files at the event's commit straight from the object
 * database, decide which workflows the event triggers, and insert each run
 * with its jobs and steps in ONE transaction together with completing the
 * event, so a crash leaves either everything or nothing (and the event is
 * planned again).
 *
 * A workflow that does not parse or validate becomes a failed run whose
 * message lists every error as file:line:col — never a silent skip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "context.h"
#include "expr.h"
#include "log.h"
#include "matrix.h"
#include "mirror.h"
#include "trigger.h"
#include "util.h"
#include "worker.h"
#include "workflow.h"

#define ZERO_SHA "0000000000000000000000000000000000000000"
#define PLAN_MAX_JOB_MINUTES	7200	/* 5 days, the self-hosted limit */
#define PLAN_DEFERRED		1	/* plan_expand: expand when claimed */

/* Lazily computed changed-path list, shared by every workflow of a push. */
struct plan_paths {
	int	  computed;
	int	  unknown;	/* could not be computed: filters pass */
	char	**v;
	size_t	  n;
};

struct plan {
	struct worker			*w;
	const struct claimed_event	*ev;
	char				*mirror;
	json_t				*payload;
	struct plan_paths		 paths;
	int				 nruns;
	json_t				*contexts;	/* of the current workflow */
};

static const char *
plan_short_ref(const char *ref)
{
	if (ref == NULL)
		return NULL;
	if (str_has_prefix(ref, "refs/heads/"))
		return ref + strlen("refs/heads/");
	if (str_has_prefix(ref, "refs/tags/"))
		return ref + strlen("refs/tags/");
	return ref;
}

/* A PostgreSQL text[] literal: {"a","b"} with " and \ escaped. */
static char *
plan_text_array(char *const *v, size_t n)
{
	struct buf b = { 0 };
	size_t i;
	const char *p;

	buf_add_char(&b, '{');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_add_char(&b, ',');
		buf_add_char(&b, '"');
		for (p = v[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_add_char(&b, '\\');
			buf_add_char(&b, *p);
		}
		buf_add_char(&b, '"');
	}
	buf_add_char(&b, '}');
	return buf_steal(&b);
}

static void
plan_compute_paths(struct plan *p)
{
	const struct claimed_event *ev = p->ev;
	char base[41], err[512], *ref;
	const char *before = ev->before_sha;

	if (p->paths.computed)
		return;
	p->paths.computed = 1;
	if (strcmp(ev->event, "pull_request") == 0 ||
	    strcmp(ev->event, "pull_request_target") == 0) {
		/* Three-dot: merge-base(base, head)...head (reference 2.4). */
		json_t *pr = json_object_get(p->payload, "pull_request");
		const char *bsha = json_string_value(json_object_get(
		    json_object_get(pr, "base"), "sha"));
		const char *hsha = json_string_value(json_object_get(
		    json_object_get(pr, "head"), "sha"));

		if (bsha != NULL && hsha != NULL && mirror_merge_base(p->mirror,
		    bsha, hsha, base, err, sizeof err) == 0 &&
		    mirror_changed_paths(p->mirror, base, hsha, &p->paths.v,
		    &p->paths.n, err, sizeof err) == 0)
			return;
		log_warnx("event %lld: pull request diff: %s; path filters will "
		    "pass", (long long)ev->id, bsha && hsha ? err :
		    "payload lacks base/head sha");
		p->paths.unknown = 1;
		return;
	}
	if (before != NULL && strcmp(before, ZERO_SHA) != 0) {
		if (mirror_changed_paths(p->mirror, before, ev->sha,
		    &p->paths.v, &p->paths.n, err, sizeof err) == 0)
			return;
		log_warnx("event %lld: changed paths %.12s..%.12s: %s; path "
		    "filters will pass", (long long)ev->id, before, ev->sha,
		    err);
		p->paths.unknown = 1;
		return;
	}
	/*
	 * A new ref: compare with where it leaves the default branch.  A new
	 * branch at a commit the default branch already has changed nothing.
	 * The default branch itself being created (a first push), or a
	 * history unrelated to it: every file of the commit is new.
	 */
	ref = xasprintf("refs/heads/%s", ev->default_branch ?
	    ev->default_branch : "main");
	if (strcmp(ref, ev->ref) != 0 && mirror_merge_base(p->mirror, ref,
	    ev->sha, base, err, sizeof err) == 0) {
		free(ref);
		if (strcmp(base, ev->sha) == 0)
			return;		/* no changed files */
		if (mirror_changed_paths(p->mirror, base, ev->sha, &p->paths.v,
		    &p->paths.n, err, sizeof err) == 0)
			return;
	} else {
		free(ref);
		if (mirror_changed_paths(p->mirror, NULL, ev->sha, &p->paths.v,
		    &p->paths.n, err, sizeof err) == 0)
			return;
	}
	log_warnx("event %lld: changed paths: %s; path filters will pass",
	    (long long)ev->id, err);
	p->paths.unknown = 1;
}

/* Does the event trigger wf?  1 yes, 0 no (reason set), from trigger.c. */
static int
plan_triggered(struct plan *p, const struct workflow *wf, char **reason)
{
	const struct claimed_event *ev = p->ev;
	struct trigger_event te;
	const char *msg = NULL, *action = NULL, *base_ref = NULL;
	json_t *v;

	memset(&te, 0, sizeof te);
	te.name = ev->event;
	te.ref = ev->ref;
	if ((v = json_object_get(p->payload, "head_commit")) != NULL)
		msg = json_string_value(json_object_get(v, "message"));
	action = json_string_value(json_object_get(p->payload, "action"));
	if ((v = json_object_get(p->payload, "pull_request")) != NULL) {
		base_ref = json_string_value(json_object_get(
		    json_object_get(v, "base"), "ref"));
		msg = json_string_value(json_object_get(v, "title"));
	}
	te.action = action;
	te.base_ref = base_ref;
	te.head_message = msg;
	if (trigger_needs_paths(wf, ev->event)) {
		plan_compute_paths(p);
		te.paths = (const char *const *)p->paths.v;
		te.npaths = p->paths.n;
		te.paths_unknown = p->paths.unknown;
	}
	return trigger_match(wf, &te, reason);
}

static PGresult *
plan_exec(struct plan *p, const char *sql, int n, const char *const *params,
    const char *what)
{
	return worker_exec(p->w, sql, n, params, what);
}

/* Insert one run; message non-NULL makes it a completed, failed run. */
static int
plan_insert_run(struct plan *p, const char *path, const char *name,
    const char *source, const char *message, int64_t *run_id)
{
	const struct claimed_event *ev = p->ev;
	char evid[32], repoid[32];
	const char *params[10];
	PGresult *res;

	snprintf(evid, sizeof evid, "%lld", (long long)ev->id);
	snprintf(repoid, sizeof repoid, "%lld", (long long)ev->repository_id);
	params[0] = evid;
	params[1] = repoid;
	params[2] = name;
	params[3] = path;
	params[4] = ev->event;
	params[5] = ev->sha;
	params[6] = plan_short_ref(ev->ref);
	params[7] = ev->ref;
	params[8] = source;
	params[9] = message;
	/* Run numbers count per workflow; planners take turns per file. */
	PQclear(plan_exec(p, "SELECT pg_advisory_xact_lock("
	    "hashtext('kiln-run-number'), hashtext($1 || '/' || $2))", 2,
	    (const char *const[]){ repoid, path }, "serialising run numbers"));
	res = plan_exec(p,
	    "INSERT INTO runs (event_id, repository_id, run_number, name, path, "
	    "event, head_sha, head_branch, ref, workflow_source, message, "
	    "status, conclusion, started_at, completed_at) VALUES "
	    "($1::bigint, $2::bigint, (SELECT coalesce(max(run_number), 0) + 1 "
	    "FROM runs WHERE repository_id = $2::bigint AND path = $4), "
	    "$3, $4, $5, $6, $7, $8, $9, $10::text, "
	    "CASE WHEN $10::text IS NULL THEN 'queued' ELSE 'completed' END, "
	    "CASE WHEN $10::text IS NULL THEN NULL ELSE 'failure' END, "
	    "CASE WHEN $10::text IS NULL THEN NULL ELSE now() END, "
	    "CASE WHEN $10::text IS NULL THEN NULL ELSE now() END) RETURNING id",
	    10, params, "inserting a run");
	if (res == NULL)
		return -1;
	*run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	p->nruns++;
	return 0;
}

/* Lower-cased runs-on labels as a PostgreSQL text[] literal. */
static int
plan_labels(const struct wf_job *job, const struct expr_ctx *ctx, char **out,
    char *err, size_t errsz)
{
	char **v = NULL, *one;
	size_t n = 0, i;
	int rc = 0;

	if (job->runs_on.expr != NULL) {
		json_t *r = expr_eval_template(job->runs_on.expr,
		    &ctx_scope_job_plan, ctx, err, errsz);

		if (r == NULL)
			return -1;
		if (json_is_array(r)) {
			json_t *e;
			size_t k;

			json_array_foreach(r, k, e) {
				v = xreallocarray(v, n + 1, sizeof *v);
				v[n++] = expr_to_string(e);
			}
		} else {
			v = xreallocarray(v, 1, sizeof *v);
			v[n++] = expr_to_string(r);
		}
		json_decref(r);
	} else {
		for (i = 0; i < job->runs_on.labels.n; i++) {
			if (context_eval_string(job->runs_on.labels.v[i],
			    &ctx_scope_job_plan, ctx, &one, err, errsz) == -1) {
				rc = -1;
				break;
			}
			v = xreallocarray(v, n + 1, sizeof *v);
			v[n++] = one;
		}
	}
	for (i = 0; i < n; i++) {
		char *c;

		for (c = v[i]; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	if (rc == 0)
		*out = plan_text_array(v, n);
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return rc;
}

/*
 * One row per matrix leg, with what can be decided before the job runs:
 * its display name, runs-on labels, continue-on-error, timeout and
 * strategy.  An expression that fails here fails the job up front, with
 * the error as its message.
 */
static int
plan_insert_job(struct plan *p, int64_t run_id, const struct wf_job *job,
    const struct matrix_leg *leg, size_t index, size_t total)
{
	char runid[32], jobid[32], num[32], tmo[64], mp[32], repoid[32],
	    *needs, *labels = NULL, *name = NULL, *mj = NULL, *sj, err[1024],
	    *group = NULL;
	const char *params[16], *message = NULL;
	struct expr_ctx ctx;
	json_t *strategy;
	int coe = 0, failfast = 1, cancel = 0;
	double timeout = WF_DEFAULT_TIMEOUT, maxpar = 0;
	PGresult *res;
	size_t i;

	strategy = context_strategy(job, index, total);
	json_object_set_new(p->contexts, "matrix", leg->values ?
	    json_deep_copy(leg->values) : json_object());
	json_object_set(p->contexts, "strategy", strategy);
	json_object_set_new(p->contexts, "needs", json_object());
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = p->contexts;

	if (job->name_set && strstr(job->name, "${{") != NULL) {
		if (context_eval_string(job->name, &ctx_scope_job_plan, &ctx,
		    &name, err, sizeof err) == -1)
			message = err;
	}
	if (message == NULL && plan_labels(job, &ctx, &labels, err,
	    sizeof err) == -1)
		message = err;
	if (message == NULL && context_eval_bool(&job->continue_on_error,
	    &ctx_scope_job_plan, &ctx, &coe, err, sizeof err) == -1)
		message = err;
	if (message == NULL && context_eval_num(&job->timeout_minutes,
	    WF_DEFAULT_TIMEOUT, &ctx_scope_job_plan, &ctx, &timeout, err,
	    sizeof err) == -1)
		message = err;
	if (message == NULL && job->strategy.set &&
	    context_eval_bool(&job->strategy.fail_fast, &ctx_scope_job_plan,
	    &ctx, &failfast, err, sizeof err) == -1)
		message = err;
	if (message == NULL && job->strategy.max_parallel.set &&
	    context_eval_num(&job->strategy.max_parallel, 0,
	    &ctx_scope_job_plan, &ctx, &maxpar, err, sizeof err) == -1)
		message = err;
	/* Evaluated values get the bounds literals have (and no NaN). */
	if (message == NULL && !(timeout > 0 && timeout <= PLAN_MAX_JOB_MINUTES)) {
		snprintf(err, sizeof err, "timeout-minutes must be more than 0 "
		    "and at most %d, not %g", PLAN_MAX_JOB_MINUTES, timeout);
		message = err;
	}
	if (message == NULL && job->strategy.max_parallel.set &&
	    !(maxpar >= 1 && maxpar <= WF_MAX_JOBS)) {
		snprintf(err, sizeof err, "strategy.max-parallel must be from 1 "
		    "to %d, not %g", WF_MAX_JOBS, maxpar);
		message = err;
	}
	if (!job->strategy.set)
		failfast = 1;
	if (message == NULL && job->concurrency.set &&
	    job->concurrency.group != NULL) {
		char *lc;

		if (context_eval_string(job->concurrency.group,
		    &ctx_scope_job_plan, &ctx, &group, err, sizeof err) == -1 ||
		    context_eval_bool(&job->concurrency.cancel_in_progress,
		    &ctx_scope_job_plan, &ctx, &cancel, err, sizeof err) == -1)
			message = err;
		/* Group names are case-insensitive. */
		for (lc = group; lc != NULL && *lc != '\0'; lc++)
			if (*lc >= 'A' && *lc <= 'Z')
				*lc = (char)(*lc - 'A' + 'a');
	}

	snprintf(runid, sizeof runid, "%lld", (long long)run_id);
	snprintf(tmo, sizeof tmo, "%.17g", timeout);
	snprintf(mp, sizeof mp, "%lld", (long long)maxpar);
	needs = plan_text_array(job->needs, job->nneeds);
	mj = leg->values ? json_dumps(leg->values, JSON_COMPACT |
	    JSON_PRESERVE_ORDER) : NULL;
	sj = json_dumps(strategy, JSON_COMPACT | JSON_PRESERVE_ORDER);
	params[0] = runid;
	params[1] = job->id;
	params[2] = name ? name : leg->name;
	params[3] = needs;
	params[4] = mj;
	params[5] = message ? "completed" : job->nneeds > 0 ? "waiting" :
	    "queued";
	params[6] = coe ? "true" : "false";
	params[7] = failfast ? "true" : "false";
	params[8] = message == NULL && maxpar >= 1 ? mp : NULL;
	params[9] = sj;
	params[10] = labels ? labels : "{}";
	params[11] = tmo;
	params[12] = message;
	snprintf(repoid, sizeof repoid, "%lld",
	    (long long)p->ev->repository_id);
	params[13] = repoid;
	params[14] = message == NULL ? group : NULL;
	params[15] = cancel ? "true" : "false";
	res = plan_exec(p,
	    "INSERT INTO jobs (run_id, job_key, name, needs, matrix, status, "
	    "continue_on_error, fail_fast, max_parallel, strategy, labels, "
	    "timeout_minutes, message, conclusion, completed_at, "
	    "repository_id, concurrency_group, cancel_in_progress) "
	    "VALUES ($1::bigint, $2, $3, $4::text[], $5::jsonb, $6, "
	    "$7::boolean, $8::boolean, $9::int, $10::jsonb, $11::text[], "
	    "$12::double precision, $13::text, "
	    "CASE WHEN $13::text IS NULL THEN NULL ELSE 'failure' END, "
	    "CASE WHEN $13::text IS NULL THEN NULL ELSE now() END, "
	    "$14::bigint, $15::text, $16::boolean) RETURNING id",
	    16, params, "inserting a job");
	free(needs);
	free(mj);
	free(sj);
	free(labels);
	free(name);
	free(group);
	json_decref(strategy);
	if (res == NULL)
		return -1;
	snprintf(jobid, sizeof jobid, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	for (i = 0; i < job->nsteps; i++) {
		snprintf(num, sizeof num, "%zu", i + 1);
		params[0] = jobid;
		params[1] = num;
		params[2] = job->steps[i].name;
		params[3] = message ? "completed" : "queued";
		res = plan_exec(p, "INSERT INTO steps (job_id, number, name, "
		    "status, conclusion) VALUES ($1::bigint, $2::int, $3, $4, "
		    "CASE WHEN $4 = 'completed' THEN 'skipped' END)", 4, params,
		    "inserting a step");
		if (res == NULL)
			return -1;
		PQclear(res);
	}
	return 0;
}

/* Expand a job's matrix, evaluating `matrix: ${{ ... }}` if need be. */
static int
plan_expand(struct plan *p, const struct wf_job *job,
    struct matrix_leg **legs, size_t *nlegs, char *err, size_t errsz)
{
	struct expr_ctx ctx;
	json_t *m;
	int rc;

	if (job->strategy.matrix_expr == NULL)
		return matrix_expand(job, legs, nlegs, err, errsz);
	/*
	 * A matrix computed from its needs' outputs is only known once they
	 * ran: one placeholder row now, expanded by the worker that claims
	 * it (job.c).
	 */
	if (job->nneeds > 0 && strcasestr(job->strategy.matrix_expr,
	    "needs") != NULL) {
		*legs = xcalloc(1, sizeof **legs);
		(*legs)[0].name = xstrdup(job->name);
		*nlegs = 1;
		return PLAN_DEFERRED;
	}
	memset(&ctx, 0, sizeof ctx);
	json_object_set_new(p->contexts, "needs", json_object());
	ctx.contexts = p->contexts;
	m = expr_eval_template(job->strategy.matrix_expr, &ctx_scope_job_if,
	    &ctx, err, errsz);
	if (m == NULL)
		return -1;
	rc = matrix_expand_json(job->name, m, legs, nlegs, err, errsz);
	json_decref(m);
	return rc;
}

/* Insert the jobs of a valid, triggered workflow (matrix expanded). */
static int
plan_insert_jobs(struct plan *p, int64_t run_id, const struct workflow *wf)
{
	struct matrix_leg *legs;
	size_t i, j, nlegs;
	char err[1024];

	for (i = 0; i < wf->njobs; i++) {
		const struct wf_job *job = &wf->jobs[i];

		int r = plan_expand(p, job, &legs, &nlegs, err, sizeof err);

		if (r == -1) {
			/* The job fails up front, visibly. */
			char *msg = xasprintf("%s: job %s: %s", wf->path,
			    job->id, err);
			char runid[32];
			const char *params[4] = { runid, job->id, job->name,
			    msg };

			snprintf(runid, sizeof runid, "%lld", (long long)run_id);
			PGresult *res = plan_exec(p, "INSERT INTO jobs (run_id, "
			    "job_key, name, status, conclusion, message, "
			    "completed_at) VALUES ($1::bigint, $2, $3, "
			    "'completed', 'failure', $4, now())", 4, params,
			    "inserting a failed job");
			free(msg);
			if (res == NULL)
				return -1;
			PQclear(res);
			continue;
		}
		for (j = 0; j < nlegs; j++) {
			if (plan_insert_job(p, run_id, job, &legs[j], j,
			    nlegs) == -1) {
				matrix_legs_free(legs, nlegs);
				return -1;
			}
		}
		matrix_legs_free(legs, nlegs);
		if (r == PLAN_DEFERRED) {
			char runid[32];
			const char *params[2] = { runid, job->id };
			PGresult *res;

			snprintf(runid, sizeof runid, "%lld", (long long)run_id);
			res = plan_exec(p, "UPDATE jobs SET matrix_deferred = true "
			    "WHERE run_id = $1::bigint AND job_key = $2", 2,
			    params, "deferring a matrix");
			if (res == NULL)
				return -1;
			PQclear(res);
		}
	}
	return 0;
}

/* Evaluate the run's concurrency group and enter it. */
static int
plan_concurrency(struct plan *p, int64_t run_id, const struct workflow *wf)
{
	const struct wf_concurrency *c = &wf->concurrency;
	char runid[32], err[1024], *group = NULL, *lc;
	const char *params[3];
	struct expr_ctx ctx;
	PGresult *res;
	int cancel = 0;

	if (!c->set || c->group == NULL)
		return 0;
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = p->contexts;
	if (context_eval_string(c->group, &ctx_scope_run_level, &ctx, &group,
	    err, sizeof err) == -1 || context_eval_bool(&c->cancel_in_progress,
	    &ctx_scope_run_level, &ctx, &cancel, err, sizeof err) == -1) {
		log_warnx("run %lld: concurrency: %s (ignored)",
		    (long long)run_id, err);
		free(group);
		return 0;
	}
	/* Group names are case-insensitive. */
	for (lc = group; *lc != '\0'; lc++)
		if (*lc >= 'A' && *lc <= 'Z')
			*lc = (char)(*lc - 'A' + 'a');
	snprintf(runid, sizeof runid, "%lld", (long long)run_id);
	params[0] = runid;
	params[1] = group;
	params[2] = cancel ? "true" : "false";
	res = plan_exec(p, "UPDATE runs SET concurrency_group = $2, "
	    "cancel_in_progress = $3::boolean WHERE id = $1::bigint", 3,
	    params, "setting the concurrency group");
	free(group);
	if (res == NULL)
		return -1;
	PQclear(res);
	res = plan_exec(p, "SELECT kiln_concurrency_admit($1::bigint)", 1,
	    params, "entering the concurrency group");
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static void
plan_build_contexts(struct plan *p, const struct workflow *wf)
{
	struct ctx_run r;

	memset(&r, 0, sizeof r);
	r.event_name = p->ev->event;
	r.ref = p->ev->ref;
	r.sha = p->ev->sha;
	r.repo_name = p->ev->repo_name;
	r.payload = p->payload;
	r.workflow_name = wf->name;
	r.workflow_path = wf->path;
	json_decref(p->contexts);
	p->contexts = json_object();
	json_object_set_new(p->contexts, "github", context_github(&r));
	json_object_set_new(p->contexts, "inputs", context_inputs(wf,
	    p->payload, p->ev->event));
	json_object_set_new(p->contexts, "vars", json_object());
	json_object_set_new(p->contexts, "needs", json_object());
}

static int
plan_workflow(struct plan *p, const struct mirror_file *f)
{
	struct wf_errors errs = { 0 };
	struct workflow *wf;
	char *reason = NULL, *msg;
	int64_t run_id;
	int rc = 0;

	if (f->data == NULL) {
		/* Unreadable (too large): visible as a failed run. */
		msg = xasprintf("%s: %s", f->path, f->error ? f->error :
		    "cannot be read");
		rc = plan_insert_run(p, f->path, f->path, "", msg, &run_id);
		free(msg);
		return rc;
	}
	wf = workflow_parse(f->path, f->data, f->len, &errs);
	if (wf == NULL || errs.n > 0) {
		msg = wf_errors_format(&errs);
		log_info("event %lld: %s is invalid", (long long)p->ev->id,
		    f->path);
		rc = plan_insert_run(p, f->path, wf && wf->name_set ? wf->name :
		    f->path, f->data, msg, &run_id);
		free(msg);
		goto out;
	}
	if (!plan_triggered(p, wf, &reason)) {
		log_debug("event %lld: %s not triggered: %s",
		    (long long)p->ev->id, f->path, reason ? reason : "");
		goto out;
	}
	plan_build_contexts(p, wf);
	if (plan_insert_run(p, f->path, wf->name, f->data, NULL,
	    &run_id) == -1)
		rc = -1;
	else {
		json_t *g = json_object_get(p->contexts, "github");
		char idbuf[32];

		const char *params[1] = { idbuf };
		PGresult *res = NULL;

		snprintf(idbuf, sizeof idbuf, "%lld", (long long)run_id);
		json_object_set_new(g, "run_id", json_string(idbuf));
		/* kiln_release: dependants of jobs that failed up front. */
		if (plan_insert_jobs(p, run_id, wf) == -1 ||
		    plan_concurrency(p, run_id, wf) == -1 ||
		    (res = plan_exec(p, "SELECT kiln_release($1::bigint)", 1,
		    params, "releasing jobs")) == NULL)
			rc = -1;
		else
			log_info("event %lld: run %lld for %s (%zu job "
			    "definitions)", (long long)p->ev->id,
			    (long long)run_id, f->path, wf->njobs);
		PQclear(res);
	}
out:
	free(reason);
	wf_errors_free(&errs);
	workflow_free(wf);
	return rc;
}

/*
 * Plan one file inside a savepoint: if the database refuses something
 * about it (a value out of a column's range, say), only that workflow
 * fails, visibly, and the event's other workflows still run.  -1 only
 * when even the failed run cannot be recorded.
 */
static int
plan_file(struct plan *p, const struct mirror_file *f)
{
	char dberr[512], *msg;
	int64_t run_id;
	PGresult *res;

	if ((res = plan_exec(p, "SAVEPOINT plan_file", 0, NULL,
	    "savepoint")) == NULL)
		return -1;
	PQclear(res);
	if (plan_workflow(p, f) == 0) {
		PQclear(plan_exec(p, "RELEASE SAVEPOINT plan_file", 0, NULL,
		    "release savepoint"));
		return 0;
	}
	snprintf(dberr, sizeof dberr, "%s", PQerrorMessage(p->w->db));
	dberr[strcspn(dberr, "\n")] = '\0';
	if ((res = plan_exec(p, "ROLLBACK TO SAVEPOINT plan_file", 0, NULL,
	    "rollback to savepoint")) == NULL)
		return -1;
	PQclear(res);
	msg = xasprintf("%s: kiln could not plan this workflow: %s", f->path,
	    dberr[0] ? dberr : "database error");
	if (plan_insert_run(p, f->path, f->path, f->data ? f->data : "", msg,
	    &run_id) == -1) {
		free(msg);
		return -1;
	}
	free(msg);
	return 0;
}

/*
 * Complete the event.  Only while it is still ours: a worker whose lease
 * expired mid-plan (the reaper gave the event to another) must not commit
 * a second set of runs.  Returns 1 if it was ours, 0 if not, -1 on error.
 */
static int
plan_finish_event(struct worker *w, int64_t id, const char *error)
{
	char idbuf[32];
	const char *params[3] = { idbuf, error, w->name };
	PGresult *res;
	int mine;

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	res = worker_exec(w, "UPDATE events SET status = 'completed', "
	    "completed_at = now(), lease_until = NULL, error = $2 "
	    "WHERE id = $1::bigint AND claimed_by = $3 AND "
	    "status = 'in_progress'", 3, params, "completing the event");
	if (res == NULL)
		return -1;
	mine = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	return mine;
}

/*
 * Give the event back to the queue, not to be claimed again before a
 * backoff (30 s per attempt so far); after three attempts, give up on it
 * and keep the reason.
 */
static void
plan_retry_event(struct worker *w, int64_t id, const char *error)
{
	char idbuf[32];
	const char *params[3] = { idbuf, error, w->name };

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	PQclear(worker_exec(w, "UPDATE events SET status = CASE WHEN "
	    "attempts >= 3 THEN 'completed' ELSE 'queued' END, error = $2, "
	    "claimed_by = NULL, lease_until = CASE WHEN attempts >= 3 THEN NULL "
	    "ELSE now() + interval '30 seconds' * attempts END, "
	    "completed_at = CASE WHEN attempts >= 3 THEN now() END "
	    "WHERE id = $1::bigint AND claimed_by = $3", 3, params,
	    "re-queueing the event"));
}

/*
 * A pull request whose payload had no merge_commit_sha: take the test
 * merge GitHub published as refs/pull/N/merge.  None means GitHub could
 * not merge (a conflict): like GitHub, run nothing.
 */
static int
plan_resolve_merge(struct worker *w, struct claimed_event *ev,
    const char *mirror, char *err, size_t errsz)
{
	char idbuf[32], sha[41];
	const char *params[2] = { idbuf, sha };

	if (ev->ref == NULL || mirror_resolve(mirror, ev->ref, sha, err,
	    errsz) == -1) {
		snprintf(err, errsz, "no test merge commit %s for the pull "
		    "request (merge conflict?): nothing to run",
		    ev->ref ? ev->ref : "(no ref)");
		return -1;
	}
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)ev->id);
	PQclear(worker_exec(w, "UPDATE events SET sha = $2 WHERE id = "
	    "$1::bigint", 2, params, "recording the merge commit"));
	ev->sha = xstrdup(sha);
	return 0;
}

int
plan_event(struct worker *w, struct claimed_event *ev)
{
	struct mirror_file *files = NULL;
	size_t nfiles = 0, i;
	struct plan p;
	char err[1024];
	PGresult *res;
	int rc = -1;

	memset(&p, 0, sizeof p);
	p.w = w;
	p.ev = ev;
	p.mirror = worker_mirror_dir(w, ev->repository_id);
	p.payload = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
	if (p.payload == NULL)
		p.payload = json_object();

	/* Both can be passing: the network, GitHub's test merge not yet made. */
	if (mirror_fetch(p.mirror, ev->clone_url, err, sizeof err) == -1) {
		log_warnx("event %lld: fetching %s: %s (will retry)",
		    (long long)ev->id, ev->clone_url, err);
		plan_retry_event(w, ev->id, err);
		goto out;
	}
	if (ev->sha == NULL && plan_resolve_merge(w, ev, p.mirror, err,
	    sizeof err) == -1) {
		log_info("event %lld: %s", (long long)ev->id, err);
		plan_retry_event(w, ev->id, err);
		goto out;
	}
	if (mirror_read_workflows(p.mirror, ev->sha, &files,
	    &nfiles, err, sizeof err) == -1) {
		log_warnx("event %lld: reading workflows at %s: %s",
		    (long long)ev->id, ev->sha ? ev->sha : "(none)", err);
		plan_finish_event(w, ev->id, err);
		goto out;
	}

	if ((res = worker_exec(w, "BEGIN", 0, NULL, "BEGIN")) == NULL)
		goto out;
	PQclear(res);
	for (i = 0; i < nfiles; i++)
		if (plan_file(&p, &files[i]) == -1)
			break;
	if (i < nfiles) {
		PQclear(PQexec(w->db, "ROLLBACK"));
		plan_retry_event(w, ev->id, "database error while planning");
		goto out;
	}
	if (plan_finish_event(w, ev->id, NULL) != 1) {
		log_warnx("event %lld: no longer ours (lease expired); "
		    "dropping this plan", (long long)ev->id);
		PQclear(PQexec(w->db, "ROLLBACK"));
		goto out;
	}
	PQclear(worker_exec(w, "SELECT pg_notify('kiln_work', 'job')", 0, NULL,
	    "notify"));
	if ((res = worker_exec(w, "COMMIT", 0, NULL, "COMMIT")) == NULL)
		goto out;
	PQclear(res);
	log_info("event %lld (%s %s) planned: %d run(s) from %zu workflow "
	    "file(s)", (long long)ev->id, ev->event, ev->ref ? ev->ref : "",
	    p.nruns, nfiles);
	rc = 0;
out:
	mirror_files_free(files, nfiles);
	mirror_paths_free(p.paths.v, p.paths.n);
	json_decref(p.payload);
	json_decref(p.contexts);
	free(p.mirror);
	return rc;
}
