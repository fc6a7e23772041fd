/*
 * cmd_workflow: the offline workflow tools -- "cictl lint", "cictl eval"
 * and "cictl plan".  They need no kilnd: they read workflow files, a JSON
 * context or an event payload from disk and run the very common/ code the
 * daemon and the worker run (workflow_parse, trigger_match, matrix_expand,
 * expr_*), so what they answer is what a push would do.
 *
 *   lint   parse and validate; every error as "file:line:col: message" on
 *          stdout, in file order.
 *   eval   one expression (bare, or a template when it holds "${{"), with
 *          contexts from a JSON object; the result as compact JSON.
 *   plan   an event against every workflow of a repository: which ones it
 *          triggers (and why the others are not), and the jobs each would
 *          create -- matrices expanded, job if: conditions decided as far
 *          as they can be before anything runs.
 *
 * plan's model of run time: a needed job is assumed to succeed with empty
 * outputs; a job whose if: is false is left out (and so, by default, are
 * the jobs needing it), which is what GitHub's run would show as skipped.
 * A matrix or if: that needs values only a run produces is shown as one
 * job with a note in the text output.
 *
 * Everything read is bounded (file sizes, file counts, --changed values)
 * and everything a repository wrote (names, paths, messages) is escaped
 * before it reaches a terminal; --json goes through jansson.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cictl.h"
#include "expr.h"
#include "matrix.h"
#include "trigger.h"
#include "workflow.h"

#define WFC_MAX_FILES	1000		/* workflow files in one directory */
#define WFC_MAX_PATH	4096		/* a path built from DIR and a name */
#define WFC_MAX_JSON	(25u << 20)	/* --context, --payload (GitHub's
					   webhook payload cap) */
#define WFC_MAX_REF	1024		/* --ref, --base-ref */
#define WFC_DEFAULT_DIR	".github/workflows"
#define WFC_JSON_FLAGS	(JSON_ENCODE_ANY | JSON_COMPACT | \
			    JSON_REAL_PRECISION(15))

/* The contexts "cictl eval" starts from, each an empty object. */
static const char *const wfc_contexts[] = {
	"github", "env", "vars", "secrets", "inputs", "matrix", "strategy",
	"needs", "steps", "job", "runner",
};

/* ---- helpers ----------------------------------------------------------- */

/* s made terminal-safe, whole (no cut).  Caller frees. */
static char *
wfc_safe(const char *s)
{
	size_t len = strlen(s), sz = len * 6 + 8;
	char *out = xmalloc(sz);

	return output_safe(s, len + 1, out, sz);
}

/* Print text line by line, each made terminal-safe. */
static void
wfc_put_lines(FILE *f, const char *indent, const char *text)
{
	const char *p = text, *nl;
	char *line, *safe;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		line = nl != NULL ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
		safe = wfc_safe(line);
		fprintf(f, "%s%s\n", indent, safe);
		free(safe);
		free(line);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/* A JSON string of s; s escaped first when it is not valid UTF-8. */
static json_t *
wfc_jstr(const char *s)
{
	json_t *j;
	char *safe;

	if ((j = json_string(s)) != NULL)
		return j;
	safe = wfc_safe(s);
	j = json_string(safe);
	free(safe);
	return j != NULL ? j : json_string("");
}

/* dir/name, or NULL when longer than WFC_MAX_PATH.  Caller frees. */
static char *
wfc_join(const char *dir, const char *name)
{
	size_t dlen = strlen(dir);
	char *p;

	if (strcmp(dir, ".") == 0)
		p = xstrdup(name);
	else if (dlen > 0 && dir[dlen - 1] == '/')
		p = xasprintf("%s%s", dir, name);
	else
		p = xasprintf("%s/%s", dir, name);
	if (strlen(p) > WFC_MAX_PATH) {
		free(p);
		return NULL;
	}
	return p;
}

static int
wfc_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
wfc_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A list of malloc'd strings. */
struct wfc_list {
	char	**v;
	size_t	  n;
};

static void
wfc_list_free(struct wfc_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/*
 * The names of the *.yml / *.yaml files directly in dir, sorted.  0, or -1
 * with a reason.  The list is the caller's (wfc_list_free).
 */
static int
wfc_list_dir(const char *dir, struct wfc_list *out, char *err, size_t errsz)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	char *path;
	int rc = 0;

	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errsz, "%s", strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!str_has_suffix(de->d_name, ".yml") &&
		    !str_has_suffix(de->d_name, ".yaml"))
			continue;
		if ((path = wfc_join(dir, de->d_name)) == NULL) {
			snprintf(err, errsz, "path too long");
			rc = -1;
			break;
		}
		/* A directory named x.yml is not a workflow. */
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			free(path);
			continue;
		}
		free(path);
		if (out->n >= WFC_MAX_FILES) {
			snprintf(err, errsz, "more than %d workflow files",
			    WFC_MAX_FILES);
			rc = -1;
			break;
		}
		out->v = xreallocarray(out->v, out->n + 1, sizeof *out->v);
		out->v[out->n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (rc == -1) {
		wfc_list_free(out);
		return -1;
	}
	if (out->n > 0)
		qsort(out->v, out->n, sizeof *out->v, wfc_cmp);
	return 0;
}

/* Read all of f, at most max bytes.  NULL with errno (EFBIG) on failure. */
static char *
wfc_read_stream(FILE *f, size_t max, size_t *lenp)
{
	struct buf b = { 0 };
	char chunk[8192];
	size_t n;

	buf_add_str(&b, "");
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.len + n > max) {
			buf_free(&b);
			errno = EFBIG;
			return NULL;
		}
		buf_add(&b, chunk, n);
	}
	if (ferror(f)) {
		buf_free(&b);
		errno = EIO;
		return NULL;
	}
	*lenp = b.len;
	return buf_steal(&b);
}

/*
 * A JSON object from path ("-": ctx->in), at most WFC_MAX_JSON bytes.
 * Returns a new reference, or NULL with a one-line reason in err.
 */
static json_t *
wfc_read_object(struct cictl_ctx *ctx, const char *path, char *err,
    size_t errsz)
{
	json_error_t jerr;
	json_t *j;
	char *text, *safe;
	size_t len;

	safe = wfc_safe(strcmp(path, "-") == 0 ? "(stdin)" : path);
	if (strcmp(path, "-") == 0)
		text = wfc_read_stream(ctx->in, WFC_MAX_JSON, &len);
	else
		text = file_read_all(path, WFC_MAX_JSON, &len);
	if (text == NULL) {
		if (errno == EFBIG)
			snprintf(err, errsz, "%s: larger than %u bytes", safe,
			    WFC_MAX_JSON);
		else
			snprintf(err, errsz, "%s: %s", safe, strerror(errno));
		free(safe);
		return NULL;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (j == NULL) {
		snprintf(err, errsz, "%s:%d:%d: %s", safe, jerr.line,
		    jerr.column, jerr.text);
		free(safe);
		return NULL;
	}
	if (!json_is_object(j)) {
		snprintf(err, errsz, "%s: must hold a JSON object", safe);
		json_decref(j);
		free(safe);
		return NULL;
	}
	free(safe);
	return j;
}

/*
 * Read and parse one workflow file; errors (including "cannot read") go
 * to errs.  Returns the model (NULL when nothing was usable) and sets *io
 * when the file could not be read at all.
 */
static struct workflow *
wfc_load(const char *path, struct wf_errors *errs, int *io)
{
	struct workflow *wf;
	struct wf_errors tmp = { 0 };
	char *text, *msg;
	size_t len;

	*io = 0;
	/* One byte over the limit: workflow_parse words the error itself. */
	if ((text = file_read_all(path, WF_MAX_FILE_SIZE + 1, &len)) == NULL) {
		if (errno == EFBIG)
			msg = xasprintf("file is larger than %d bytes",
			    WF_MAX_FILE_SIZE);
		else {
			msg = xasprintf("cannot read: %s", strerror(errno));
			*io = 1;
		}
		errs->v = xreallocarray(errs->v, errs->n + 1,
		    sizeof *errs->v);
		errs->v[errs->n++] = (struct wf_error){ xstrdup(path), 1, 1,
		    msg };
		return NULL;
	}
	wf = workflow_parse(path, text, len, &tmp);
	free(text);
	if (wf == NULL && tmp.n == 0) {
		/* Never expected; still never silent. */
		tmp.v = xreallocarray(tmp.v, 1, sizeof *tmp.v);
		tmp.v[tmp.n++] = (struct wf_error){ xstrdup(path), 1, 1,
		    xstrdup("workflow could not be read") };
	}
	*errs = tmp;
	return wf;
}

/* ---- lint -------------------------------------------------------------- */

/* Lint one file: print its errors; returns how many there were. */
static size_t
lint_file(struct cictl_ctx *ctx, const char *path, int *io)
{
	struct wf_errors errs = { 0 };
	struct workflow *wf;
	size_t n;
	char *text;

	wf = wfc_load(path, &errs, io);
	text = wf_errors_format(&errs);
	wfc_put_lines(ctx->out, "", text);
	free(text);
	n = errs.n + errs.dropped;
	wf_errors_free(&errs);
	workflow_free(wf);
	return n;
}

int
cmd_workflow_lint(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const def[] = { WFC_DEFAULT_DIR };
	const char *const *targets = (const char *const *)args->argv;
	struct wfc_list files = { 0 };
	size_t ntargets = (size_t)args->argc, t, i, nerr = 0, nfiles = 0;
	int verbose = args->flag[0] != NULL, failed = 0, io;
	char err[512], *safe, *path, *dir;
	struct stat st;

	if (ntargets == 0) {
		targets = def;
		ntargets = 1;
	}
	for (t = 0; t < ntargets; t++) {
		if (stat(targets[t], &st) == -1) {
			safe = wfc_safe(targets[t]);
			cictl_error(ctx, "%s: %s", safe, strerror(errno));
			free(safe);
			failed = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			nerr += lint_file(ctx, targets[t], &io);
			failed |= io;
			nfiles++;
			continue;
		}
		/* A repository root stands for its workflows, as in plan. */
		dir = wfc_join(targets[t], WFC_DEFAULT_DIR);
		if (dir == NULL || !wfc_is_dir(dir)) {
			free(dir);
			dir = xstrdup(targets[t]);
		}
		if (wfc_list_dir(dir, &files, err, sizeof err) == -1) {
			safe = wfc_safe(dir);
			cictl_error(ctx, "%s: %s", safe, err);
			free(safe);
			free(dir);
			failed = 1;
			continue;
		}
		for (i = 0; i < files.n; i++) {
			if ((path = wfc_join(dir, files.v[i])) == NULL)
				continue;	/* checked by wfc_list_dir */
			nerr += lint_file(ctx, path, &io);
			failed |= io;
			nfiles++;
			free(path);
		}
		wfc_list_free(&files);
		free(dir);
	}
	if (verbose)
		fprintf(ctx->err, "%zu file%s checked, %zu error%s\n", nfiles,
		    nfiles == 1 ? "" : "s", nerr, nerr == 1 ? "" : "s");
	return nerr > 0 || failed ? CICTL_ERR : CICTL_OK;
}

/* ---- eval -------------------------------------------------------------- */

int
cmd_workflow_eval(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	const char *src = args->argv[0], *cpath = args->flag[0];
	struct expr_ctx ectx;
	struct expr *e;
	json_t *contexts, *file, *res;
	char err[1024], cwd[WFC_MAX_PATH];
	char *out;
	size_t i;

	/* The engine measures EXPR_MAX_LENGTH itself, as GitHub does. */
	contexts = json_object();
	for (i = 0; i < nitems(wfc_contexts); i++)
		json_object_set_new(contexts, wfc_contexts[i], json_object());
	if (cpath != NULL) {
		if ((file = wfc_read_object(ctx, cpath, err,
		    sizeof err)) == NULL) {
			json_decref(contexts);
			return cictl_error(ctx, "%s", err);
		}
		/* Keys differing only in case are one, as in GitHub's. */
		file = expr_json_fold_keys(file);
		json_object_update(contexts, file);
		json_decref(file);
	}
	memset(&ectx, 0, sizeof ectx);
	ectx.contexts = contexts;
	/* Like a step that has not failed yet; hashFiles() reads cwd. */
	ectx.status = EXPR_ST_SUCCESS;
	ectx.workspace = getcwd(cwd, sizeof cwd);

	if (strstr(src, "${{") != NULL)
		res = expr_eval_template(src, NULL, &ectx, err, sizeof err);
	else if ((e = expr_parse(src, NULL, err, sizeof err)) != NULL) {
		res = expr_eval(e, &ectx, err, sizeof err);
		expr_free(e);
	} else
		res = NULL;
	json_decref(contexts);
	if (res == NULL)
		return cictl_error(ctx, "%s", err);
	out = json_dumps(res, WFC_JSON_FLAGS);
	json_decref(res);
	if (out == NULL)
		return cictl_error(ctx, "result cannot be written as JSON");
	fprintf(ctx->out, "%s\n", out);
	free(out);
	return CICTL_OK;
}

/* ---- plan -------------------------------------------------------------- */

/* The event, as given on the command line and in the payload. */
struct plan_event {
	const char		*name;		/* --event */
	char			*ref;		/* full ref */
	const char		*base_ref;	/* pull_request: base branch */
	const char *const	*changed;
	size_t			 nchanged;
	json_t			*payload;	/* object, owned */
	const char		*action;	/* pull_request activity */
	const char		*cron;		/* schedule: payload.schedule */
	const char		*message;	/* head commit message */
};

/* One workflow's plan: the --json object, plus notes for people. */
struct plan_wf {
	json_t	*obj;
	json_t	*notes;		/* array of strings, text output only */
};

/* payload.a.b... as a string, or NULL. */
static const char *
plan_pstr(json_t *payload, const char *a, const char *b, const char *c)
{
	json_t *j = json_object_get(payload, a);

	if (b != NULL)
		j = json_object_get(j, b);
	if (c != NULL)
		j = json_object_get(j, c);
	return json_string_value(j);
}

/* A ref or branch name from the command line: 0 or -1 with a reason. */
static int
plan_valid_ref(const char *s, const char **why)
{
	const unsigned char *p;

	if (strlen(s) > WFC_MAX_REF) {
		*why = "too long";
		return -1;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f) {
			*why = "may not contain spaces or control characters";
			return -1;
		}
	if (strcmp(s, "refs/heads/") == 0 || strcmp(s, "refs/tags/") == 0) {
		*why = "names no branch or tag";
		return -1;
	}
	return 0;
}

/* The github context for one workflow. */
static json_t *
plan_github(const struct plan_event *ev, const char *wfname)
{
	json_t *g = json_object(), *num;
	const char *ref = ev->ref, *s;
	char *pr = NULL;

	json_object_set_new(g, "event_name", json_string(ev->name));
	json_object_set(g, "event", ev->payload);
	json_object_set_new(g, "workflow", wfc_jstr(wfname));
	if (strcmp(ev->name, "pull_request") == 0) {
		num = json_object_get(ev->payload, "number");
		if (json_is_integer(num))
			ref = pr = xasprintf("refs/pull/%lld/merge",
			    (long long)json_integer_value(num));
		json_object_set_new(g, "base_ref", wfc_jstr(ev->base_ref));
		s = ev->ref;
		if (str_has_prefix(s, "refs/heads/"))
			s += strlen("refs/heads/");
		json_object_set_new(g, "head_ref", wfc_jstr(s));
	} else {
		json_object_set_new(g, "base_ref", json_string(""));
		json_object_set_new(g, "head_ref", json_string(""));
	}
	json_object_set_new(g, "ref", wfc_jstr(ref));
	if (str_has_prefix(ref, "refs/heads/")) {
		json_object_set_new(g, "ref_name", wfc_jstr(ref + 11));
		json_object_set_new(g, "ref_type", json_string("branch"));
	} else if (str_has_prefix(ref, "refs/tags/")) {
		json_object_set_new(g, "ref_name", wfc_jstr(ref + 10));
		json_object_set_new(g, "ref_type", json_string("tag"));
	} else if (str_has_prefix(ref, "refs/pull/")) {
		json_object_set_new(g, "ref_name", wfc_jstr(ref + 10));
		json_object_set_new(g, "ref_type", json_string("branch"));
	} else
		json_object_set_new(g, "ref_name", wfc_jstr(ref));
	if ((s = plan_pstr(ev->payload, "repository", "full_name",
	    NULL)) != NULL)
		json_object_set_new(g, "repository", wfc_jstr(s));
	if ((s = plan_pstr(ev->payload, "repository", "owner", "login")) !=
	    NULL)
		json_object_set_new(g, "repository_owner", wfc_jstr(s));
	if ((s = plan_pstr(ev->payload, "sender", "login", NULL)) != NULL)
		json_object_set_new(g, "actor", wfc_jstr(s));
	if ((s = plan_pstr(ev->payload, "after", NULL, NULL)) != NULL ||
	    (s = plan_pstr(ev->payload, "pull_request", "head", "sha")) !=
	    NULL)
		json_object_set_new(g, "sha", wfc_jstr(s));
	free(pr);
	return g;
}

/*
 * The inputs context of a workflow_dispatch: declared defaults, then the
 * payload's inputs.  Sets *missing to the first required input neither
 * supplies (points into wf), else NULL.
 */
static json_t *
plan_inputs(const struct workflow *wf, const struct plan_event *ev,
    const char **missing)
{
	json_t *in = json_object(), *given;
	const struct wf_input *d;
	size_t i;

	*missing = NULL;
	if (strcmp(ev->name, "workflow_dispatch") != 0)
		return in;
	given = json_object_get(ev->payload, "inputs");
	for (i = 0; i < wf->on.ninputs; i++) {
		d = &wf->on.inputs[i];
		if (d->def_json != NULL)
			json_object_set(in, d->name, d->def_json);
		else if (d->def != NULL)
			json_object_set_new(in, d->name, json_string(d->def));
		if (d->required && json_object_get(given, d->name) == NULL &&
		    d->def == NULL && d->def_json == NULL && *missing == NULL)
			*missing = d->name;
	}
	if (json_is_object(given))
		json_object_update(in, given);
	return in;
}

/* The contexts a job-level expression sees (reference 4.9). */
static json_t *
plan_contexts(json_t *github, json_t *inputs, json_t *needs, json_t *matrix,
    json_t *strategy)
{
	json_t *c = json_object();

	json_object_set(c, "github", github);
	json_object_set(c, "inputs", inputs);
	json_object_set_new(c, "vars", json_object());
	json_object_set(c, "needs", needs);
	if (matrix != NULL)
		json_object_set(c, "matrix", matrix);
	if (strategy != NULL)
		json_object_set(c, "strategy", strategy);
	return c;
}

/* A copy of v with every string holding ${{ }} evaluated. */
static json_t *
plan_resolve(json_t *v, const struct expr_ctx *ectx, char *err, size_t errsz)
{
	json_t *out, *x, *r;
	const char *k;
	size_t i;

	if (json_is_string(v) && strstr(json_string_value(v), "${{") != NULL)
		return expr_eval_template(json_string_value(v), NULL, ectx,
		    err, errsz);
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, x) {
			if ((r = plan_resolve(x, ectx, err, errsz)) == NULL) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, r);
		}
		return out;
	}
	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach(v, k, x) {
			if ((r = plan_resolve(x, ectx, err, errsz)) == NULL) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, k, r);
		}
		return out;
	}
	return json_incref(v);
}

static void
plan_note(struct plan_wf *p, const char *fmt, ...) KILN_PRINTF(2, 3);

static void
plan_note(struct plan_wf *p, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	json_array_append_new(p->notes, wfc_jstr(s));
	free(s);
}

/* "file:line:col: message" into the workflow's errors. */
static void
plan_error(struct plan_wf *p, const char *file, struct wf_pos pos,
    const char *msg)
{
	char *s = xasprintf("%s:%d:%d: %s", file, pos.line, pos.col, msg);

	json_array_append_new(json_object_get(p->obj, "errors"), wfc_jstr(s));
	free(s);
}

/*
 * The legs of one job that runs: matrix_expand, and when the matrix holds
 * expressions, the same expansion from their values.  Returns 0 with the
 * legs, or -1 after noting why (one leg with no matrix is then listed).
 */
static int
plan_legs(struct plan_wf *p, const struct workflow *wf,
    const struct wf_job *job, json_t *contexts, struct matrix_leg **legs,
    size_t *nlegs)
{
	const char *name = job->name != NULL ? job->name : job->id;
	struct expr_ctx ectx;
	json_t *m;
	char err[1024], err2[1024];
	int rc;

	if (matrix_expand(job, legs, nlegs, err, sizeof err) == 0)
		return 0;
	if (job->strategy.matrix_expr == NULL &&
	    job->strategy.matrix == NULL) {
		plan_error(p, wf->path, job->pos, err);
		return -1;
	}
	memset(&ectx, 0, sizeof ectx);
	ectx.contexts = contexts;
	ectx.status = EXPR_ST_SUCCESS;
	if (job->strategy.matrix_expr != NULL)
		m = expr_eval_template(job->strategy.matrix_expr, NULL, &ectx,
		    err2, sizeof err2);
	else
		m = plan_resolve(job->strategy.matrix, &ectx, err2,
		    sizeof err2);
	if (m == NULL) {
		plan_note(p, "job '%s': the matrix needs values known only "
		    "at run time (%s); shown as one job", job->id, err2);
		return -1;
	}
	if (!json_is_object(m)) {
		plan_note(p, "job '%s': the matrix expression did not give an "
		    "object; shown as one job", job->id);
		json_decref(m);
		return -1;
	}
	rc = matrix_expand_json(name, m, legs, nlegs, err2, sizeof err2);
	json_decref(m);
	if (rc == -1)
		plan_error(p, wf->path, job->strategy.matrix_pos, err2);
	return rc;
}

/* A job's display name for one leg: name expressions evaluated. */
static char *
plan_leg_name(const struct wf_job *job, const struct matrix_leg *leg,
    json_t *contexts)
{
	struct expr_ctx ectx;
	json_t *r;
	char err[256], *s;

	if (!job->name_set || strstr(job->name, "${{") == NULL)
		return xstrdup(leg->name);
	memset(&ectx, 0, sizeof ectx);
	ectx.contexts = contexts;
	ectx.status = EXPR_ST_SUCCESS;
	if ((r = expr_eval_template(job->name, NULL, &ectx, err,
	    sizeof err)) == NULL)
		return xstrdup(leg->name);
	s = expr_to_string(r);
	json_decref(r);
	return s;
}

/* Append the job's legs (or the one unexpanded job) to jobs. */
static void
plan_job(struct plan_wf *p, const struct workflow *wf, const struct wf_job *job,
    json_t *github, json_t *inputs, json_t *needs, json_t *jobs)
{
	struct matrix_leg *legs = NULL, one;
	json_t *contexts, *o, *na, *strategy, *mctx;
	size_t nlegs = 0, i, k;
	char *name;
	int fallback = 0;

	contexts = plan_contexts(github, inputs, needs, NULL, NULL);
	if (plan_legs(p, wf, job, contexts, &legs, &nlegs) == -1) {
		one.values = NULL;
		one.name = job->name != NULL ? job->name : job->id;
		legs = &one;
		nlegs = 1;
		fallback = 1;
	}
	json_decref(contexts);
	na = json_array();
	for (k = 0; k < job->nneeds; k++)
		json_array_append_new(na, wfc_jstr(job->needs[k]));
	for (i = 0; i < nlegs; i++) {
		strategy = json_pack("{s:b, s:I, s:I, s:I}", "fail-fast",
		    job->strategy.fail_fast.set ?
		    job->strategy.fail_fast.value : 1,
		    "job-index", (json_int_t)i, "job-total", (json_int_t)nlegs,
		    "max-parallel", job->strategy.max_parallel.set &&
		    job->strategy.max_parallel.expr == NULL ?
		    (json_int_t)job->strategy.max_parallel.value :
		    (json_int_t)nlegs);
		mctx = legs[i].values != NULL ? json_incref(legs[i].values) :
		    json_object();
		contexts = plan_contexts(github, inputs, needs, mctx,
		    strategy);
		name = plan_leg_name(job, &legs[i], contexts);
		json_decref(contexts);
		json_decref(mctx);
		json_decref(strategy);
		o = json_object();
		json_object_set_new(o, "id", wfc_jstr(job->id));
		json_object_set_new(o, "name", wfc_jstr(name));
		json_object_set(o, "matrix", legs[i].values != NULL ?
		    legs[i].values : json_null());
		json_object_set(o, "needs", na);
		json_array_append_new(jobs, o);
		free(name);
	}
	json_decref(na);
	if (!fallback)
		matrix_legs_free(legs, nlegs);
}

/*
 * Decide each job's if: in dependency order and list the jobs that would
 * run, in file order.  results[i] is 1 (assumed to succeed) or 0
 * (skipped).
 */
static void
plan_jobs(struct plan_wf *p, const struct workflow *wf, json_t *github,
    json_t *inputs)
{
	const struct wf_job *job;
	struct expr_ctx ectx;
	json_t *jobs = json_object_get(p->obj, "jobs"), **needs, *contexts;
	char err[1024];
	int *state, progress, idx, ok, all_ok, run;
	size_t i, k, ndone = 0;

	/* state: 0 undecided, 1 runs, 2 skipped. */
	state = xcalloc(wf->njobs + 1, sizeof *state);
	needs = xcalloc(wf->njobs + 1, sizeof *needs);
	do {
		progress = 0;
		for (i = 0; i < wf->njobs; i++) {
			job = &wf->jobs[i];
			if (state[i] != 0)
				continue;
			all_ok = 1;
			needs[i] = json_object();
			for (k = 0; k < job->nneeds; k++) {
				idx = workflow_job_index(wf, job->needs[k]);
				if (idx < 0 || state[idx] == 0)
					break;
				all_ok &= state[idx] == 1;
				json_object_set_new(needs[i], job->needs[k],
				    json_pack("{s:s, s:{}}", "result",
				    state[idx] == 1 ? "success" : "skipped",
				    "outputs"));
			}
			if (k < job->nneeds) {
				json_decref(needs[i]);
				needs[i] = NULL;
				continue;	/* a need is undecided */
			}
			run = all_ok;
			if (job->if_cond != NULL) {
				contexts = plan_contexts(github, inputs,
				    needs[i], NULL, NULL);
				memset(&ectx, 0, sizeof ectx);
				ectx.contexts = contexts;
				ectx.status = all_ok ? EXPR_ST_SUCCESS : 0;
				if (expr_eval_condition(job->if_cond, NULL,
				    &ectx, &ok, err, sizeof err) == -1) {
					plan_note(p, "job '%s': if: cannot be "
					    "decided before the run (%s); "
					    "listed", job->id, err);
					run = 1;
				} else {
					run = ok;
					if (!ok)
						plan_note(p, "job '%s' would be "
						    "skipped: if: %s", job->id,
						    job->if_cond);
				}
				json_decref(contexts);
			} else if (!run)
				plan_note(p, "job '%s' would be skipped: a job "
				    "it needs is skipped", job->id);
			state[i] = run ? 1 : 2;
			ndone++;
			progress = 1;
		}
	} while (progress && ndone < wf->njobs);

	for (i = 0; i < wf->njobs; i++) {
		if (state[i] == 1)
			plan_job(p, wf, &wf->jobs[i], github, inputs, needs[i],
			    jobs);
		else if (state[i] == 0)	/* only with a needs cycle */
			plan_note(p, "job '%s': its needs cannot be resolved",
			    wf->jobs[i].id);
		json_decref(needs[i]);
	}
	free(needs);
	free(state);
}

/* Whether a workflow's path filters apply to this event. */
static int
plan_has_path_filter(const struct workflow *wf, const char *event)
{
	const struct wf_on_filter *f;

	if (strcmp(event, "push") == 0)
		f = &wf->on.push;
	else if (strcmp(event, "pull_request") == 0)
		f = &wf->on.pull_request;
	else
		return 0;
	return f->paths.set || f->paths_ignore.set;
}

/* Plan one workflow file.  Returns 0, or -1 when it could not be read. */
static int
plan_one(struct plan_wf *p, const char *path, const char *relname,
    const struct plan_event *ev)
{
	struct wf_errors errs = { 0 };
	struct trigger_event tev;
	struct workflow *wf;
	json_t *errors, *github, *inputs;
	const char *missing;
	char *reason = NULL, *r2, *name;
	size_t i;
	int io, triggered = 0;

	p->obj = json_object();
	p->notes = json_array();
	errors = json_array();
	wf = wfc_load(path, &errs, &io);
	name = xstrdup(wf != NULL && wf->name_set ? wf->name : relname);
	/* Keys in the documented order; triggered and reason come later. */
	json_object_set_new(p->obj, "file", wfc_jstr(path));
	json_object_set_new(p->obj, "name", wfc_jstr(name));
	json_object_set_new(p->obj, "triggered", json_false());
	json_object_set_new(p->obj, "reason", json_null());
	json_object_set_new(p->obj, "errors", errors);
	json_object_set_new(p->obj, "jobs", json_array());
	for (i = 0; i < errs.n; i++) {
		r2 = xasprintf("%s:%d:%d: %s", errs.v[i].file, errs.v[i].line,
		    errs.v[i].col, errs.v[i].msg);
		json_array_append_new(errors, wfc_jstr(r2));
		free(r2);
	}
	if (errs.dropped > 0) {
		r2 = xasprintf("(%zu more errors not shown)", errs.dropped);
		json_array_append_new(errors, wfc_jstr(r2));
		free(r2);
	}
	if (errs.n > 0 || wf == NULL) {
		reason = xasprintf("the workflow has %zu error%s", errs.n +
		    errs.dropped, errs.n + errs.dropped == 1 ? "" : "s");
		goto done;
	}

	memset(&tev, 0, sizeof tev);
	tev.name = ev->name;
	tev.ref = ev->ref;
	tev.base_ref = ev->base_ref;
	tev.action = ev->action;
	tev.head_message = ev->message;
	tev.paths = ev->changed;
	tev.npaths = ev->nchanged;
	tev.cron = ev->cron;
	triggered = trigger_match(wf, &tev, &reason);
	if (!triggered && ev->nchanged == 0 &&
	    plan_has_path_filter(wf, ev->name)) {
		/* Was it the path filter?  Then say how to give paths. */
		free(reason);
		tev.paths_unknown = 1;
		if (trigger_match(wf, &tev, &reason) == 1)
			reason = xstrdup("the workflow has path filters and no "
			    "changed files were given; list them with "
			    "--changed PATH");
		else {
			free(reason);
			tev.paths_unknown = 0;
			trigger_match(wf, &tev, &reason);
		}
	}
	if (!triggered)
		goto done;

	github = plan_github(ev, name);
	inputs = plan_inputs(wf, ev, &missing);
	if (missing != NULL) {
		triggered = 0;
		reason = xasprintf("required input '%s' is not given (add it "
		    "to the payload's \"inputs\")", missing);
	} else
		plan_jobs(p, wf, github, inputs);
	json_decref(github);
	json_decref(inputs);

done:
	json_object_set_new(p->obj, "triggered", json_boolean(triggered));
	json_object_set_new(p->obj, "reason", triggered || reason == NULL ?
	    json_null() : wfc_jstr(reason));
	free(reason);
	free(name);
	wf_errors_free(&errs);
	workflow_free(wf);
	return io ? -1 : 0;
}

/* The text form of one workflow's plan. */
static void
plan_print(FILE *f, const struct plan_wf *p)
{
	json_t *o = p->obj, *j, *v, *need;
	struct table t;
	struct buf b = { 0 };
	const char *cells[3];
	char *file, *name, *reason;
	size_t i, k;

	file = wfc_safe(json_string_value(json_object_get(o, "file")));
	name = wfc_safe(json_string_value(json_object_get(o, "name")));
	if (json_is_true(json_object_get(o, "triggered")))
		fprintf(f, "%s (%s): TRIGGERED\n", file, name);
	else {
		reason = wfc_safe(json_string_value(json_object_get(o,
		    "reason")) != NULL ? json_string_value(json_object_get(o,
		    "reason")) : "");
		fprintf(f, "%s (%s): not triggered: %s\n", file, name, reason);
		free(reason);
	}
	free(file);
	free(name);
	json_array_foreach(json_object_get(o, "errors"), i, v)
		wfc_put_lines(f, "  error: ", json_string_value(v));
	table_init(&t, 3, 200);
	json_array_foreach(json_object_get(o, "jobs"), i, j) {
		buf_clear(&b);
		json_array_foreach(json_object_get(j, "needs"), k, need)
			buf_printf(&b, "%s%s", k == 0 ? "needs: " : ", ",
			    json_string_value(need));
		cells[0] = json_string_value(json_object_get(j, "id"));
		cells[1] = json_string_value(json_object_get(j, "name"));
		cells[2] = b.len > 0 ? b.data : "";
		table_add(&t, cells);
	}
	table_print(&t, f, "    ");
	table_free(&t);
	buf_free(&b);
	json_array_foreach(p->notes, i, v)
		wfc_put_lines(f, "  note: ", json_string_value(v));
}

/* Validate plan's flags into ev; CICTL_OK or a usage error. */
static int
plan_args(struct cictl_ctx *ctx, const struct cmd_args *args,
    struct plan_event *ev)
{
	static const char *const events[] = {
		"push", "pull_request", "schedule", "workflow_dispatch",
	};
	const char *ref = args->flag[1], *base = args->flag[2], *why, *s;
	char q[300];
	size_t i;

	ev->name = args->flag[0];
	for (i = 0; i < nitems(events); i++)
		if (strcmp(ev->name, events[i]) == 0)
			break;
	if (i == nitems(events))
		return cictl_usage_error(ctx, args->entry, "--event '%s': "
		    "must be push, pull_request, schedule or "
		    "workflow_dispatch", output_safe(ev->name, 40, q,
		    sizeof q));
	if (plan_valid_ref(ref, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "--ref: %s", why);
	ev->ref = str_has_prefix(ref, "refs/") ? xstrdup(ref) :
	    xasprintf("refs/heads/%s", ref);
	if (base != NULL) {
		if (strcmp(ev->name, "pull_request") != 0)
			return cictl_usage_error(ctx, args->entry,
			    "--base-ref applies to pull_request only");
		if (plan_valid_ref(base, &why) == -1)
			return cictl_usage_error(ctx, args->entry,
			    "--base-ref: %s", why);
	}
	ev->changed = args->values[3];
	ev->nchanged = args->nvalues[3];
	if (ev->nchanged > 0 && strcmp(ev->name, "push") != 0 &&
	    strcmp(ev->name, "pull_request") != 0)
		return cictl_usage_error(ctx, args->entry, "--changed applies "
		    "to push and pull_request only");
	for (i = 0; i < ev->nchanged; i++) {
		s = ev->changed[i];
		if (s[0] == '/')
			return cictl_usage_error(ctx, args->entry, "--changed "
			    "'%s': give paths relative to the repository root",
			    output_safe(s, 64, q, sizeof q));
	}
	ev->base_ref = base;
	return CICTL_OK;
}

int
cmd_workflow_plan(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	struct plan_event ev;
	struct plan_wf *wfs = NULL;
	struct wfc_list files = { 0 };
	const char *dir = args->argv[0];
	json_t *root, *arr;
	char err[1024], *wfdir, *path, *rel, *safe, *out;
	size_t i, n = 0;
	int rc, named_dir, failed = 0;

	memset(&ev, 0, sizeof ev);
	if ((rc = plan_args(ctx, args, &ev)) != CICTL_OK) {
		free(ev.ref);
		return rc;
	}
	if (strlen(dir) > WFC_MAX_PATH) {
		free(ev.ref);
		return cictl_usage_error(ctx, args->entry, "DIR too long");
	}
	if (args->flag[4] != NULL) {
		if ((ev.payload = wfc_read_object(ctx, args->flag[4], err,
		    sizeof err)) == NULL) {
			free(ev.ref);
			return cictl_error(ctx, "--payload: %s", err);
		}
	} else
		ev.payload = json_object();
	if (strcmp(ev.name, "pull_request") == 0) {
		ev.action = plan_pstr(ev.payload, "action", NULL, NULL);
		if (ev.action == NULL)
			ev.action = "opened";
		if (ev.base_ref == NULL)
			ev.base_ref = plan_pstr(ev.payload, "pull_request",
			    "base", "ref");
		if (ev.base_ref == NULL) {
			json_decref(ev.payload);
			free(ev.ref);
			return cictl_usage_error(ctx, args->entry,
			    "pull_request needs --base-ref BRANCH (or "
			    "pull_request.base.ref in --payload)");
		}
	} else if (strcmp(ev.name, "push") == 0)
		ev.message = plan_pstr(ev.payload, "head_commit", "message",
		    NULL);
	else if (strcmp(ev.name, "schedule") == 0)
		ev.cron = plan_pstr(ev.payload, "schedule", NULL, NULL);

	/* A repository root, or the workflows directory itself. */
	wfdir = wfc_join(dir, WFC_DEFAULT_DIR);
	named_dir = wfdir == NULL || !wfc_is_dir(wfdir);
	if (named_dir) {
		free(wfdir);
		wfdir = xstrdup(dir);
	}
	if (wfc_list_dir(wfdir, &files, err, sizeof err) == -1) {
		safe = wfc_safe(wfdir);
		cictl_error(ctx, "%s: %s", safe, err);
		free(safe);
		free(wfdir);
		json_decref(ev.payload);
		free(ev.ref);
		return CICTL_ERR;
	}
	wfs = xcalloc(files.n + 1, sizeof *wfs);
	for (i = 0; i < files.n; i++) {
		if ((path = wfc_join(wfdir, files.v[i])) == NULL)
			continue;	/* checked by wfc_list_dir */
		/* GitHub's default name is the path from the root. */
		rel = xasprintf("%s/%s", WFC_DEFAULT_DIR, files.v[i]);
		if (named_dir && !str_has_suffix(wfdir, WFC_DEFAULT_DIR) &&
		    !str_has_suffix(wfdir, WFC_DEFAULT_DIR "/")) {
			free(rel);
			rel = xstrdup(path);
		}
		if (plan_one(&wfs[n++], path, rel, &ev) == -1)
			failed = 1;
		free(rel);
		free(path);
	}

	if (args->flag[5] != NULL) {
		root = json_object();
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append(arr, wfs[i].obj);
		json_object_set_new(root, "workflows", arr);
		out = json_dumps(root, WFC_JSON_FLAGS);
		json_decref(root);
		if (out != NULL)
			fprintf(ctx->out, "%s\n", out);
		free(out);
	} else {
		if (n == 0) {
			safe = wfc_safe(wfdir);
			fprintf(ctx->out, "no workflow files in %s\n", safe);
			free(safe);
		}
		for (i = 0; i < n; i++)
			plan_print(ctx->out, &wfs[i]);
	}
	for (i = 0; i < n; i++) {
		json_decref(wfs[i].obj);
		json_decref(wfs[i].notes);
	}
	free(wfs);
	wfc_list_free(&files);
	free(wfdir);
	json_decref(ev.payload);
	free(ev.ref);
	return failed ? CICTL_ERR : CICTL_OK;
}
