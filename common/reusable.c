/*
 * reusable: see reusable.h.
 *
 * Jobs move between files: each called job leaves its workflow's array
 * (zeroed there, so freeing that workflow frees nothing of it) for the
 * expanded array, and the called workflows stay alive in the set for
 * what their jobs still read from them (env, defaults, on.workflow_call).
 *
 * The caller's if: is joined to each called job's if: (and to the
 * step-less job's), so a false one skips them all, as GitHub skips the
 * caller; its needs are added to each called job's, so they wait for
 * them and see their outputs when with: reads them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "expr.h"
#include "matrix.h"
#include "reusable.h"
#include "util.h"

/* with: is evaluated where a job's plan-time values are (reference 4.9). */
static const char *const reusable_ctx_with[] = { "github", "needs",
    "strategy", "matrix", "vars", "inputs", NULL };
static const struct expr_scope reusable_scope_with = {
	reusable_ctx_with, 0
};
static const char *const reusable_ctx_secrets[] = { "github", "needs",
    "strategy", "matrix", "vars", "secrets", "inputs", NULL };
static const struct expr_scope reusable_scope_secrets = {
	reusable_ctx_secrets, 0
};
/* on.workflow_call.inputs.<k>.default */
static const char *const reusable_ctx_default[] = { "github", "vars",
    "inputs", NULL };
static const struct expr_scope reusable_scope_default = {
	reusable_ctx_default, 0
};

struct reusable_ctx {
	struct workflow		*top;
	const char		*repo;
	const char		*head_sha;
	reusable_load_fn	*load;
	void			*arg;
	struct reusable_set	*set;
	struct wf_job		*out;		/* the expanded jobs */
	size_t			 nout;
	size_t			*callers;	/* set->v[i]'s job in out */
	char			*err;
	size_t			 errsz;
};

/* Move *j to the end of the expanded jobs; *j is left zeroed. */
static size_t
reusable_take(struct reusable_ctx *x, struct wf_job *j)
{
	x->out = xreallocarray(x->out, x->nout + 1, sizeof *x->out);
	x->out[x->nout] = *j;
	memset(j, 0, sizeof *j);
	return x->nout++;
}

static void
reusable_rename(char **s, const char *prefix)
{
	char *n = xasprintf("%s%s", prefix, *s);

	free(*s);
	*s = n;
}

static void
reusable_add_need(struct wf_job *j, const char *id, struct wf_pos pos)
{
	size_t i;

	for (i = 0; i < j->nneeds; i++)
		if (strcmp(j->needs[i], id) == 0)
			return;
	j->needs = xreallocarray(j->needs, j->nneeds + 1, sizeof *j->needs);
	j->needs_at = xreallocarray(j->needs_at, j->nneeds + 1,
	    sizeof *j->needs_at);
	j->needs[j->nneeds] = xstrdup(id);
	j->needs_at[j->nneeds++] = pos;
}

/* on.workflow_call's config of wf (an object, maybe empty), or NULL. */
static const json_t *
reusable_on_call(const struct workflow *wf)
{
	size_t i;

	for (i = 0; i < wf->on.nevents; i++)
		if (strcmp(wf->on.events[i].name, "workflow_call") == 0)
			return wf->on.events[i].config;	/* maybe json null */
	return NULL;
}

static const char *
reusable_type(const json_t *decl)
{
	const char *t = json_string_value(json_object_get(decl, "type"));

	return t != NULL ? t : "string";
}

/*
 * v (the value given, or the default) as the declared type; NULL with
 * err naming the input.
 */
static json_t *
reusable_typed(const char *name, const json_t *decl, const json_t *v,
    const char *what, char *err, size_t errsz)
{
	const char *t = reusable_type(decl), *s = json_string_value(v);
	char *end;
	double d;

	if (strcmp(t, "boolean") == 0) {
		if (json_is_boolean(v))
			return json_incref((json_t *)v);
		if (s != NULL && (strcmp(s, "true") == 0 ||
		    strcmp(s, "false") == 0))
			return json_boolean(strcmp(s, "true") == 0);
	} else if (strcmp(t, "number") == 0) {
		if (json_is_number(v))
			return json_real(json_number_value(v));
		if (s != NULL && *s != '\0') {
			d = strtod(s, &end);
			if (*end == '\0')
				return json_real(d);
		}
	} else if (strcmp(t, "string") == 0) {
		char *text = expr_to_string(v);
		json_t *r = json_string(text);

		free(text);
		return r;
	} else {
		snprintf(err, errsz, "input '%s': type '%s' is not one of "
		    "boolean, number, string", name, t);
		return NULL;
	}
	{
		char *text = expr_to_string(v);

		snprintf(err, errsz, "input '%s' %s '%s', which is not a %s",
		    name, what, text, t);
		free(text);
	}
	return NULL;
}

/*
 * The inputs of caller's call of callee: typed, defaults filled in.
 * contexts NULL (planning): only literals are checked, expressions are
 * left out.  NULL with err.
 */
static json_t *
reusable_typed_inputs(const struct wf_job *caller,
    const struct workflow *callee, json_t *contexts, char *err,
    size_t errsz)
{
	const json_t *call = reusable_on_call(callee), *decls, *decl;
	json_t *out = json_object(), *v, *t;
	struct expr_ctx ctx;
	const char *name;
	size_t i;

	decls = json_object_get(call, "inputs");
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = contexts;
	for (i = 0; i < caller->with.n; i++)
		if (json_object_get(decls, caller->with.v[i].key) == NULL) {
			snprintf(err, errsz, "with.%s: %s has no input '%s' "
			    "(on.workflow_call.inputs)", caller->with.v[i].key,
			    callee->path, caller->with.v[i].key);
			goto fail;
		}
	json_object_foreach((json_t *)decls, name, decl) {
		const struct wf_map_entry *e = NULL;

		for (i = 0; i < caller->with.n; i++)
			if (strcmp(caller->with.v[i].key, name) == 0)
				e = &caller->with.v[i];
		if (e != NULL && strstr(e->value, "${{") != NULL) {
			if (contexts == NULL)
				continue;
			if ((v = expr_eval_template(e->value,
			    &reusable_scope_with, &ctx, err, errsz)) == NULL)
				goto fail;
		} else if (e != NULL)
			v = e->json != NULL ? json_incref(e->json) :
			    json_string(e->value);
		else if (json_is_true(json_object_get(decl, "required")) &&
		    json_object_get(decl, "default") == NULL) {
			snprintf(err, errsz, "%s requires input '%s', which "
			    "'with' does not give", callee->path, name);
			goto fail;
		} else if ((v = json_object_get(decl, "default")) != NULL) {
			if (json_is_string(v) && strstr(json_string_value(v),
			    "${{") != NULL) {
				if (contexts == NULL)
					continue;
				if ((v = expr_eval_template(
				    json_string_value(v),
				    &reusable_scope_default, &ctx, err,
				    errsz)) == NULL)
					goto fail;
			} else
				json_incref(v);
		} else {
			/* GitHub's: false, 0 or "" by type. */
			t = json_object_get(decl, "type");
			v = t == NULL || strcmp(json_string_value(t) ?
			    json_string_value(t) : "", "string") == 0 ?
			    json_string("") : strcmp(json_string_value(t) ?
			    json_string_value(t) : "", "boolean") == 0 ?
			    json_false() : json_integer(0);
		}
		t = reusable_typed(name, decl, v, e != NULL ? "is given as" :
		    "defaults to", err, errsz);
		json_decref(v);
		if (t == NULL)
			goto fail;
		json_object_set_new(out, name, t);
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* The called workflow's required secrets, when the call names secrets. */
static int
reusable_check_secrets(const struct wf_job *caller,
    const struct workflow *callee, char *err, size_t errsz)
{
	const json_t *decls = json_object_get(reusable_on_call(callee),
	    "secrets"), *decl;
	const char *name;

	if (json_is_string(caller->secrets))
		return 0;	/* inherit */
	json_object_foreach((json_t *)decls, name, decl)
		if (json_is_true(json_object_get(decl, "required")) &&
		    json_object_get(caller->secrets, name) == NULL) {
			snprintf(err, errsz, "%s requires secret '%s', which "
			    "'secrets' does not pass", callee->path, name);
			return -1;
		}
	if (json_is_object(caller->secrets)) {
		json_object_foreach(caller->secrets, name, decl)
			if (json_object_get(decls, name) == NULL) {
				snprintf(err, errsz, "secrets.%s: %s has no "
				    "secret '%s' (on.workflow_call.secrets)",
				    name, callee->path, name);
				return -1;
			}
	}
	return 0;
}

/* The loader's key for uses, called from a file of origin ("" or R@S). */
static char *
reusable_key(const char *uses, const char *origin_repo,
    const char *origin_sha)
{
	if (!str_has_prefix(uses, "./"))
		return xstrdup(uses);
	if (origin_repo == NULL)
		return xstrdup(uses);
	return xasprintf("%s/%s@%s", origin_repo, uses + 2, origin_sha);
}

static int	reusable_call_job(struct reusable_ctx *, struct wf_job *,
		    struct reusable_call *, const char *, int, const char *,
		    const char *);

/*
 * One instance of j's call (one leg of its matrix: values, or NULL):
 * its jobs, ids under prefix, names under display, join the expanded
 * ones.  The call, or NULL with x->err.
 */
static struct reusable_call *
reusable_call_one(struct reusable_ctx *x, struct wf_job *j,
    struct reusable_call *parent, const char *display, const char *prefix,
    const json_t *values, int depth, const char *origin_repo,
    const char *origin_sha)
{
	struct wf_errors errs = { 0 };
	struct reusable_call *call;
	struct workflow *wf;
	const char *at;
	char sha[41], why[768], *text, *key, *msg, *nrepo = NULL;
	json_t *in;
	size_t i, k;

	if (x->set->n >= REUSABLE_MAX_CALLS) {
		snprintf(x->err, x->errsz, "jobs.%s.uses: more than %d calls "
		    "of reusable workflows in one run (GitHub's limit)", j->id,
		    REUSABLE_MAX_CALLS);
		return NULL;
	}
	key = reusable_key(j->uses, origin_repo, origin_sha);
	if ((text = x->load(x->arg, key, sha, why, sizeof why)) == NULL) {
		snprintf(x->err, x->errsz, "jobs.%s.uses: %s: %s", j->id,
		    j->uses, why);
		free(key);
		return NULL;
	}
	wf = workflow_parse(str_has_prefix(key, "./") ? key + 2 : key, text,
	    strlen(text), &errs);
	free(text);
	if (wf == NULL || errs.n > 0) {
		msg = wf_errors_format(&errs);
		msg[strcspn(msg, "\n")] = '\0';
		snprintf(x->err, x->errsz, "jobs.%s.uses: %s is not a valid "
		    "workflow: %s", j->id, j->uses, msg);
		free(msg);
		goto fail;
	}
	if (reusable_on_call(wf) == NULL) {
		snprintf(x->err, x->errsz, "jobs.%s.uses: %s is not a reusable "
		    "workflow: its 'on' has no workflow_call", j->id, j->uses);
		goto fail;
	}
	if ((in = reusable_typed_inputs(j, wf, NULL, why, sizeof why)) ==
	    NULL || reusable_check_secrets(j, wf, why, sizeof why) == -1) {
		json_decref(in);
		snprintf(x->err, x->errsz, "jobs.%s: %s", j->id, why);
		goto fail;
	}
	json_decref(in);
	wf_errors_free(&errs);

	call = xcalloc(1, sizeof *call);
	call->parent = parent;
	call->callee = wf;
	call->key = key;
	call->prefix = xstrdup(prefix);
	call->matrix = values != NULL ? json_deep_copy(values) : NULL;
	call->if_cond = j->if_cond != NULL ? xstrdup(j->if_cond) : NULL;
	memcpy(call->sha, sha, sizeof call->sha);
	/* A file of this repository: its ref is the run's. */
	if (str_has_prefix(key, "./"))
		call->ref = xasprintf("%s/%s@%s", x->repo, key + 2,
		    x->head_sha);
	else
		call->ref = xstrdup(key);
	x->set->v = xreallocarray(x->set->v, x->set->n + 1,
	    sizeof *x->set->v);
	x->callers = xreallocarray(x->callers, x->set->n + 1,
	    sizeof *x->callers);
	x->set->v[x->set->n++] = call;
	/* Its local calls are of its own repository, at its commit. */
	if (!str_has_prefix(key, "./") && (at = strrchr(key, '@')) != NULL) {
		const char *p = strchr(key, '/');

		p = p != NULL ? strchr(p + 1, '/') : NULL;
		if (p != NULL && p < at)
			nrepo = xstrndup(key, (size_t)(p - key));
	}
	for (i = 0; i < wf->njobs; i++) {
		struct wf_job *c = &wf->jobs[i];

		for (k = 0; k < c->nneeds; k++)
			reusable_rename(&c->needs[k], call->prefix);
		for (k = 0; k < j->nneeds; k++)
			reusable_add_need(c, j->needs[k], j->needs_at[k]);
		reusable_rename(&c->id, call->prefix);
		if (c->uses != NULL) {
			if (reusable_call_job(x, c, call, display, depth + 1,
			    nrepo != NULL ? nrepo : origin_repo, nrepo != NULL ?
			    sha : origin_sha) == -1) {
				free(nrepo);
				return NULL;
			}
			continue;
		}
		reusable_rename(&c->name, display);
		c->call = call;
		reusable_take(x, c);
	}
	free(nrepo);
	return call;
fail:
	wf_errors_free(&errs);
	workflow_free(wf);
	free(key);
	return NULL;
}

/*
 * Expand caller job j (its id and needs final already), called from a
 * file of origin_repo (NULL: the run's) at origin_sha; parent is the
 * call j's file belongs to, display what its jobs' names start with.
 * A matrix on j makes one instance per leg ("call (a) / job", ids under
 * call/1/ ...).  j itself becomes the step-less job after them all.
 * 0, or -1 with x->err.
 */
static int
reusable_call_job(struct reusable_ctx *x, struct wf_job *j,
    struct reusable_call *parent, const char *display,
    int depth, const char *origin_repo, const char *origin_sha)
{
	struct matrix_leg *legs = NULL;
	struct reusable_call **calls;
	const json_t *outs, *o;
	const char *name;
	char why[512], *prefix, *subd;
	size_t nlegs = 1, i, k, me, ncalls = 0;
	int rc = -1;

	if (depth > REUSABLE_MAX_DEPTH) {
		snprintf(x->err, x->errsz, "jobs.%s.uses: %s: reusable "
		    "workflows nest deeper than GitHub's limit of %d levels "
		    "(the top workflow and %d called)", j->id, j->uses,
		    REUSABLE_MAX_DEPTH, REUSABLE_MAX_DEPTH - 1);
		return -1;
	}
	if (j->strategy.matrix_expr != NULL) {
		snprintf(x->err, x->errsz, "jobs.%s.strategy.matrix: kiln does "
		    "not run a matrix computed by an expression on a reusable "
		    "workflow call yet", j->id);
		return -1;
	}
	if (j->strategy.matrix != NULL && matrix_expand(j, &legs, &nlegs, why,
	    sizeof why) == -1) {
		snprintf(x->err, x->errsz, "jobs.%s.strategy.matrix: %s",
		    j->id, why);
		return -1;
	}
	calls = xcalloc(nlegs, sizeof *calls);
	for (i = 0; i < nlegs; i++) {
		if (legs != NULL) {
			prefix = xasprintf("%s/%zu/", j->id, i + 1);
			subd = xasprintf("%s%s / ", display, legs[i].name);
		} else {
			prefix = xasprintf("%s/", j->id);
			subd = xasprintf("%s%s / ", display, j->name);
		}
		calls[i] = reusable_call_one(x, j, parent, subd, prefix,
		    legs != NULL ? legs[i].values : NULL, depth, origin_repo,
		    origin_sha);
		free(prefix);
		free(subd);
		if (calls[i] == NULL)
			goto out;
		ncalls++;
	}

	/* The step-less job: after them all, their outputs as the call's. */
	for (i = 0; i < j->nneeds; i++)
		free(j->needs[i]);
	j->nneeds = 0;
	for (k = 0; k < ncalls; k++)
		for (i = 0; i < x->nout; i++)
			if (str_has_prefix(x->out[i].id, calls[k]->prefix) &&
			    strchr(x->out[i].id + strlen(calls[k]->prefix),
			    '/') == NULL)
				reusable_add_need(j, x->out[i].id, j->pos);
	/* It concludes from theirs, whatever they concluded (the caller's
	 * if: is its call's, reusable_callers_if()). */
	free(j->if_cond);
	j->if_cond = xstrdup("always()");
	outs = json_object_get(reusable_on_call(calls[0]->callee), "outputs");
	json_object_foreach((json_t *)outs, name, o) {
		const char *val = json_string_value(json_object_get(o, "value"));
		struct wf_map_entry *e;

		j->outputs.v = xreallocarray(j->outputs.v, j->outputs.n + 1,
		    sizeof *j->outputs.v);
		e = &j->outputs.v[j->outputs.n++];
		memset(e, 0, sizeof *e);
		e->key = xstrdup(name);
		e->value = xstrdup(val != NULL ? val : "");
	}
	/* Its legs are the called jobs'; it is one job. */
	json_decref(j->strategy.matrix);
	j->strategy.matrix = NULL;
	reusable_rename(&j->name, display);
	j->call = calls[0];
	j->call_outputs = 1;
	me = reusable_take(x, j);
	for (i = 0; i < x->set->n; i++)
		for (k = 0; k < ncalls; k++)
			if (x->set->v[i] == calls[k])
				x->callers[i] = me;
	rc = 0;
out:
	free(calls);
	matrix_legs_free(legs, legs != NULL ? nlegs : 0);
	return rc;
}


int
reusable_expand(struct workflow *wf, const char *repo, const char *head_sha,
    reusable_load_fn *load, void *arg, struct reusable_set *set, char *err,
    size_t errsz)
{
	struct reusable_ctx x;
	size_t i;
	int rc = 0;

	memset(set, 0, sizeof *set);
	for (i = 0; i < wf->njobs; i++)
		if (wf->jobs[i].uses != NULL)
			break;
	if (i == wf->njobs)
		return 0;
	memset(&x, 0, sizeof x);
	x.top = wf;
	x.repo = repo;
	x.head_sha = head_sha;
	x.load = load;
	x.arg = arg;
	x.set = set;
	x.err = err;
	x.errsz = errsz;
	for (i = 0; i < wf->njobs && rc == 0; i++) {
		if (wf->jobs[i].uses == NULL)
			reusable_take(&x, &wf->jobs[i]);
		else
			rc = reusable_call_job(&x, &wf->jobs[i], NULL, "", 2,
			    NULL, NULL);
	}
	/* Every job, moved or not, belongs to wf from here on. */
	for (i = 0; i < wf->njobs; i++)
		if (wf->jobs[i].id != NULL)
			reusable_take(&x, &wf->jobs[i]);
	free(wf->jobs);
	wf->jobs = x.out;
	wf->njobs = x.nout;
	for (i = 0; i < set->n; i++)
		set->v[i]->caller = &wf->jobs[x.callers[i]];
	free(x.callers);
	return rc;
}

void
reusable_set_free(struct reusable_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		workflow_free(set->v[i]->callee);
		free(set->v[i]->prefix);
		free(set->v[i]->key);
		free(set->v[i]->ref);
		json_decref(set->v[i]->matrix);
		free(set->v[i]->if_cond);
		free(set->v[i]);
	}
	free(set->v);
	memset(set, 0, sizeof *set);
}

/*
 * contexts as the caller job sees them: its matrix leg's values, not the
 * called job's.
 */
static json_t *
reusable_caller_contexts(const struct reusable_call *call, json_t *contexts)
{
	json_t *c = json_copy(contexts);

	json_object_set_new(c, "matrix", call->matrix != NULL ?
	    json_deep_copy(call->matrix) : json_object());
	return c;
}

json_t *
reusable_inputs(const struct reusable_call *call, json_t *contexts,
    json_t *top_inputs, char *err, size_t errsz)
{
	json_t *outer, *c, *r;

	outer = call->parent != NULL ? reusable_inputs(call->parent, contexts,
	    top_inputs, err, errsz) : json_incref(top_inputs);
	if (outer == NULL)
		return NULL;
	c = reusable_caller_contexts(call, contexts);
	json_object_set_new(c, "inputs", outer);
	r = reusable_typed_inputs(call->caller, call->callee, c, err, errsz);
	json_decref(c);
	return r;
}

json_t *
reusable_secrets(const struct reusable_call *call, json_t *contexts,
    json_t *top_inputs, json_t *top_secrets, char *err, size_t errsz)
{
	const json_t *given = call->caller->secrets, *v;
	struct expr_ctx ctx;
	json_t *outer, *c, *out, *r;
	const char *name;
	char *s;

	outer = call->parent != NULL ? reusable_secrets(call->parent,
	    contexts, top_inputs, top_secrets, err, errsz) :
	    json_incref(top_secrets);
	if (outer == NULL)
		return NULL;
	if (json_is_string(given))	/* inherit */
		return outer;
	out = json_object();
	v = json_object_get(outer, "GITHUB_TOKEN");
	json_object_set_new(out, "GITHUB_TOKEN", v != NULL ? json_incref(
	    (json_t *)v) : json_string(""));
	c = reusable_caller_contexts(call, contexts);
	json_object_set(c, "secrets", outer);
	if (call->parent != NULL && (r = reusable_inputs(call->parent,
	    contexts, top_inputs, err, errsz)) != NULL)
		json_object_set_new(c, "inputs", r);
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = c;
	json_object_foreach((json_t *)given, name, v) {
		if (!json_is_string(v))
			s = expr_to_string(v);
		else if ((r = expr_eval_template(json_string_value(v),
		    &reusable_scope_secrets, &ctx, err, errsz)) == NULL) {
			json_decref(out);
			out = NULL;
			break;
		} else {
			s = expr_to_string(r);
			json_decref(r);
		}
		json_object_set_new(out, name, json_string(s));
		free(s);
	}
	json_decref(c);
	json_decref(outer);
	return out;
}

json_t *
reusable_jobs_context(const struct reusable_call *call, const json_t *needs)
{
	json_t *out = json_object(), *v;
	const char *k;
	size_t n = strlen(call->prefix);

	json_object_foreach((json_t *)needs, k, v)
		if (strncmp(k, call->prefix, n) == 0)
			json_object_set(out, k + n, v);
	return out;
}

int
reusable_callers_if(const struct reusable_call *call, json_t *contexts,
    json_t *top_inputs, unsigned int status, const struct reusable_call **no,
    char *err, size_t errsz)
{
	struct expr_ctx ctx;
	json_t *c, *in;
	int r, run;

	if (call->parent != NULL && (r = reusable_callers_if(call->parent,
	    contexts, top_inputs, status, no, err, errsz)) != 1)
		return r;
	if (call->if_cond == NULL)
		return 1;
	in = call->parent != NULL ? reusable_inputs(call->parent, contexts,
	    top_inputs, err, errsz) : json_incref(top_inputs);
	if (in == NULL)
		return -1;
	*no = call;	/* names it on an error too */
	c = reusable_caller_contexts(call, contexts);
	json_object_set_new(c, "inputs", in);
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = c;
	ctx.status = status;
	r = expr_eval_condition(call->if_cond, &ctx_scope_job_if, &ctx, &run,
	    err, errsz);
	json_decref(c);
	return r == -1 ? -1 : run;
}
