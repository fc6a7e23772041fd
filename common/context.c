/*
 * context: see context.h.  Numeric ids are strings in the github context,
 * as GitHub has them.  What the github context says of refs and commits
 * comes from the event (common/event.c's ref rules), never from a second
 * reading of the payload here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "util.h"

static const char *const ctx_run_level[] = { "github", "inputs", "vars",
    NULL };
static const char *const ctx_job_plan[] = { "github", "needs", "strategy",
    "matrix", "vars", "inputs", NULL };
static const char *const ctx_job_if[] = { "github", "needs", "vars",
    "inputs", NULL };
static const char *const ctx_strategy[] = { "github", "needs", "vars",
    "inputs", NULL };
static const char *const ctx_job_env[] = { "github", "needs", "strategy",
    "matrix", "vars", "secrets", "inputs", NULL };
static const char *const ctx_step[] = { "github", "needs", "strategy",
    "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs",
    NULL };
static const char *const ctx_step_if[] = { "github", "needs", "strategy",
    "matrix", "job", "runner", "env", "vars", "steps", "inputs", NULL };
static const char *const ctx_wf_env[] = { "github", "secrets", "inputs",
    "vars", NULL };
static const char *const ctx_job_defaults[] = { "github", "needs",
    "strategy", "matrix", "env", "vars", "inputs", NULL };
/* on.workflow_call.outputs.<k>.value */
static const char *const ctx_call_outputs[] = { "github", "jobs", "vars",
    "inputs", NULL };
/* environment.url is evaluated after the steps. */
static const char *const ctx_env_url[] = { "github", "needs", "strategy",
    "matrix", "job", "runner", "env", "vars", "steps", "inputs", NULL };

const struct expr_scope ctx_scope_run_level = { ctx_run_level, 0 };
const struct expr_scope ctx_scope_job_plan = { ctx_job_plan, 0 };
const struct expr_scope ctx_scope_job_if = { ctx_job_if, EXPR_FN_STATUS };
const struct expr_scope ctx_scope_strategy = { ctx_strategy, 0 };
const struct expr_scope ctx_scope_job_env = { ctx_job_env, 0 };
const struct expr_scope ctx_scope_step = { ctx_step, EXPR_FN_HASHFILES };
const struct expr_scope ctx_scope_step_if = { ctx_step_if, EXPR_FN_ALL };
const struct expr_scope ctx_scope_job_outputs = { ctx_step, 0 };
const struct expr_scope ctx_scope_wf_env = { ctx_wf_env, 0 };
const struct expr_scope ctx_scope_call_outputs = { ctx_call_outputs, 0 };
const struct expr_scope ctx_scope_job_defaults = { ctx_job_defaults, 0 };
const struct expr_scope ctx_scope_env_url = { ctx_env_url, 0 };

const char *
context_ref_name(const char *ref)
{
	if (ref == NULL)
		return "";
	if (str_has_prefix(ref, "refs/heads/"))
		return ref + 11;
	if (str_has_prefix(ref, "refs/tags/"))
		return ref + 10;
	if (str_has_prefix(ref, "refs/pull/"))
		return ref + 10;
	return ref;
}

static json_t *
ctx_str(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/*
 * server_url, api_url and graphql_url from kiln's [github] api_url, so that
 * a step calling github.api_url reaches the API kiln reports to: GitHub's
 * (https://api.github.com), an Enterprise Server's (https://HOST/api/v3:
 * server https://HOST, GraphQL at /api/graphql) or, for any other shape (a
 * stand-in), the URL itself as the server's too.
 */
static void
context_github_urls(json_t *g, const char *api_url)
{
	static const char ghes[] = "/api/v3";
	size_t n;
	char *server, *graphql;

	if (api_url == NULL || api_url[0] == '\0')
		api_url = "https://api.github.com";
	n = strlen(api_url);
	while (n > 0 && api_url[n - 1] == '/')
		n--;
	if (n == strlen("https://api.github.com") &&
	    strncmp(api_url, "https://api.github.com", n) == 0) {
		server = xstrdup("https://github.com");
		graphql = xstrdup("https://api.github.com/graphql");
	} else if (n > strlen(ghes) && strncmp(api_url + n - strlen(ghes),
	    ghes, strlen(ghes)) == 0) {
		server = xasprintf("%.*s", (int)(n - strlen(ghes)), api_url);
		graphql = xasprintf("%s/api/graphql", server);
	} else {
		server = xasprintf("%.*s", (int)n, api_url);
		graphql = xasprintf("%s/graphql", server);
	}
	json_object_set_new(g, "server_url", json_string(server));
	json_object_set_new(g, "api_url", json_stringn(api_url, n));
	json_object_set_new(g, "graphql_url", json_string(graphql));
	free(server);
	free(graphql);
}

json_t *
context_github(const struct ctx_run *r)
{
	const struct event *ev = r->ev;
	json_t *g = json_object(), *v;
	char num[32], *owner;
	const char *actor = "", *repo = ev->repo_name ? ev->repo_name : "";
	int pull = ev->kind != NULL && ev->kind->filter == EVENT_FILTER_PULL;

	json_object_set_new(g, "event_name", ctx_str(ev->name));
	json_object_set(g, "event", ev->payload ? ev->payload : json_null());
	json_object_set_new(g, "ref", ctx_str(ev->ref));
	json_object_set_new(g, "ref_name",
	    json_string(context_ref_name(ev->ref)));
	json_object_set_new(g, "ref_type", json_string(ev->ref &&
	    str_has_prefix(ev->ref, "refs/tags/") ? "tag" : "branch"));
	json_object_set_new(g, "ref_protected", json_false());
	json_object_set_new(g, "sha", ctx_str(ev->sha));
	json_object_set_new(g, "repository", ctx_str(ev->repo_name));
	owner = xstrndup(repo, strcspn(repo, "/"));
	json_object_set_new(g, "repository_owner", json_string(owner));
	free(owner);
	if ((v = json_object_get(json_object_get(ev->payload, "sender"),
	    "login")) != NULL && json_is_string(v))
		actor = json_string_value(v);
	json_object_set_new(g, "actor", json_string(actor));
	json_object_set_new(g, "triggering_actor", json_string(actor));
	/* head_ref and base_ref are set for pull requests only. */
	json_object_set_new(g, "head_ref", json_string(pull && ev->head_ref ?
	    ev->head_ref : ""));
	json_object_set_new(g, "base_ref", json_string(pull && ev->base_ref ?
	    ev->base_ref : ""));
	json_object_set_new(g, "workflow", ctx_str(r->workflow_name));
	/* The top workflow's, in a called workflow too (as on GitHub). */
	if (r->workflow_path != NULL && ev->repo_name != NULL) {
		char *wref = xasprintf("%s/%s@%s", ev->repo_name,
		    r->workflow_path, ev->ref != NULL ? ev->ref : "");

		json_object_set_new(g, "workflow_ref", json_string(wref));
		free(wref);
	} else
		json_object_set_new(g, "workflow_ref", json_string(""));
	json_object_set_new(g, "workflow_sha", ctx_str(ev->sha));
	snprintf(num, sizeof num, "%lld", (long long)r->run_id);
	json_object_set_new(g, "run_id", json_string(num));
	snprintf(num, sizeof num, "%lld", (long long)r->run_number);
	json_object_set_new(g, "run_number", json_string(num));
	snprintf(num, sizeof num, "%lld", (long long)(r->run_attempt > 0 ?
	    r->run_attempt : 1));
	json_object_set_new(g, "run_attempt", json_string(num));
	json_object_set_new(g, "retention_days", json_string("90"));
	json_object_set_new(g, "job", ctx_str(r->job_key));
	json_object_set_new(g, "workspace", ctx_str(r->workspace));
	json_object_set_new(g, "action", json_string(""));
	json_object_set_new(g, "token", r->job_key ? json_string("") :
	    json_null());
	context_github_urls(g, r->api_url);
	json_object_set_new(g, "secret_source", json_string("None"));
	return g;
}

json_t *
context_inputs(const struct workflow *wf, const struct event *ev,
    const char **missing)
{
	json_t *in = json_object(), *given;
	size_t i;

	if (missing != NULL)
		*missing = NULL;
	if (ev->kind == NULL || ev->kind->filter != EVENT_FILTER_DISPATCH)
		return in;
	given = json_object_get(ev->payload, "inputs");
	for (i = 0; wf != NULL && i < wf->on.ninputs; i++) {
		const struct wf_input *def = &wf->on.inputs[i];
		json_t *v = json_object_get(given, def->name);

		if (v == NULL || json_is_null(v)) {
			if (def->required && def->def_json == NULL &&
			    def->def == NULL && missing != NULL &&
			    *missing == NULL)
				*missing = def->name;
			if (def->def_json != NULL)
				v = json_deep_copy(def->def_json);
			else if (def->def != NULL)
				v = json_string(def->def);
			else
				v = json_string("");
		} else
			v = json_deep_copy(v);
		/* inputs keeps booleans boolean; the payload has strings. */
		if (def->type == WF_INPUT_BOOLEAN && json_is_string(v)) {
			int b = strcmp(json_string_value(v), "true") == 0;

			json_decref(v);
			v = json_boolean(b);
		} else if (def->type == WF_INPUT_NUMBER && json_is_string(v)) {
			char *end;
			double d = strtod(json_string_value(v), &end);

			if (*end == '\0' && end != json_string_value(v)) {
				json_decref(v);
				v = json_real(d);
			}
		}
		json_object_set_new(in, def->name, v);
	}
	return in;
}

json_t *
context_run(const struct workflow *wf, const struct event *ev,
    const char **missing)
{
	struct ctx_run r;
	json_t *c = json_object();

	memset(&r, 0, sizeof r);
	r.ev = ev;
	r.workflow_name = wf->name;
	r.workflow_path = wf->path;
	json_object_set_new(c, "github", context_github(&r));
	json_object_set_new(c, "inputs", context_inputs(wf, ev, missing));
	json_object_set_new(c, "vars", json_object());
	json_object_set_new(c, "needs", json_object());
	return c;
}

json_t *
context_strategy(const struct wf_job *job, size_t index, size_t total)
{
	json_t *s = json_object();
	double mp = job->strategy.max_parallel.set &&
	    job->strategy.max_parallel.expr == NULL ?
	    job->strategy.max_parallel.value : (double)total;

	json_object_set_new(s, "fail-fast", json_boolean(
	    job->strategy.fail_fast.set ? job->strategy.fail_fast.value : 1));
	json_object_set_new(s, "job-index", json_integer((json_int_t)index));
	json_object_set_new(s, "job-total", json_integer((json_int_t)total));
	json_object_set_new(s, "max-parallel", json_integer((json_int_t)mp));
	return s;
}

int
context_eval_string(const char *text, const struct expr_scope *scope,
    const struct expr_ctx *ctx, char **out, char *err, size_t errsz)
{
	json_t *v;

	*out = NULL;
	if (text == NULL)
		return 0;
	if (strstr(text, "${{") == NULL) {
		*out = xstrdup(text);
		return 0;
	}
	if ((v = expr_eval_template(text, scope, ctx, err, errsz)) == NULL)
		return -1;
	*out = expr_to_string(v);
	json_decref(v);
	return 0;
}

int
context_eval_bool(const struct wf_bool *b, const struct expr_scope *scope,
    const struct expr_ctx *ctx, int *out, char *err, size_t errsz)
{
	json_t *v;

	if (b->expr == NULL) {
		*out = b->value;
		return 0;
	}
	if ((v = expr_eval_template(b->expr, scope, ctx, err, errsz)) == NULL)
		return -1;
	*out = expr_truthy(v);
	json_decref(v);
	return 0;
}

int
context_eval_num(const struct wf_num *n, double def,
    const struct expr_scope *scope, const struct expr_ctx *ctx, double *out,
    char *err, size_t errsz)
{
	json_t *v;

	if (!n->set) {
		*out = def;
		return 0;
	}
	if (n->expr == NULL) {
		*out = n->value;
		return 0;
	}
	if ((v = expr_eval_template(n->expr, scope, ctx, err, errsz)) == NULL)
		return -1;
	if (json_is_number(v))
		*out = json_number_value(v);
	else if (json_is_string(v)) {
		char *end;

		*out = strtod(json_string_value(v), &end);
		if (*end != '\0' || end == json_string_value(v)) {
			snprintf(err, errsz, "expected a number, got \"%s\"",
			    json_string_value(v));
			json_decref(v);
			return -1;
		}
	} else {
		snprintf(err, errsz, "expected a number");
		json_decref(v);
		return -1;
	}
	json_decref(v);
	return 0;
}
