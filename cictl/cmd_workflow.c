/*
 * cmd_workflow: the offline workflow tools -- "cictl lint", "cictl eval"
 * and "cictl plan".  They need no kilnd: they read workflow files, a JSON
 * context or an event payload from disk and run the very common/ code the
 * worker runs (workflow_parse, support_audit, the event table, and
 * planner_triggered/planner_plan, which plan a run in the worker too),
 * so what they answer is what a webhook would do.
 *
 *   lint   parse and validate; every error as "file:line:col: message" on
 *          stdout, in file order, then what kiln accepts but does not
 *          execute as "file:line:col: warning: message".
 *   eval   one expression (bare, or a template when it holds "${{"), with
 *          contexts from a JSON object; the result as compact JSON.
 *   plan   an event against every workflow of a repository: which ones it
 *          triggers (and why the others are not), and the jobs each would
 *          create -- matrices expanded, each job's if: decided as far as
 *          it can be before anything runs.
 *
 * plan's model of run time: a needed job succeeds with empty outputs,
 * unless it is skipped or fails without running (an expression that
 * failed, a construct kiln does not execute).  A job whose if: reads the
 * needs context (their outputs above all) is "decided at run time", as is
 * one whose if: depends on how such a job ends; a job whose if: is false
 * is listed with "skipped": true and the reason.  A matrix computed from
 * needs outputs is one job until the run expands it.
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
#include "context.h"
#include "event.h"
#include "expr.h"
#include "planner.h"
#include "status.h"
#include "support.h"
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

/*
 * Lint one file: print its errors, then (when it is valid) what kiln does
 * not execute, as warnings.  Returns how many errors there were; *nwarn
 * grows by the warnings.
 */
static size_t
lint_file(struct cictl_ctx *ctx, const char *path, int *io, size_t *nwarn)
{
	struct wf_errors errs = { 0 }, warnings = { 0 };
	struct workflow *wf;
	size_t n, i;
	char *text;

	wf = wfc_load(path, &errs, io);
	text = wf_errors_format(&errs);
	wfc_put_lines(ctx->out, "", text);
	free(text);
	n = errs.n + errs.dropped;
	if (wf != NULL && n == 0) {
		support_audit(wf, &warnings);
		/* "warning: " after the position, in one pass. */
		for (i = 0; i < warnings.n; i++) {
			text = warnings.v[i].msg;
			warnings.v[i].msg = xasprintf("warning: %s", text);
			free(text);
		}
		text = wf_errors_format(&warnings);
		wfc_put_lines(ctx->out, "", text);
		free(text);
		*nwarn += warnings.n;
	}
	wf_errors_free(&warnings);
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
	size_t ntargets = (size_t)args->argc, t, i, nerr = 0, nfiles = 0,
	    nwarn = 0;
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
			nerr += lint_file(ctx, targets[t], &io, &nwarn);
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
			nerr += lint_file(ctx, path, &io, &nwarn);
			failed |= io;
			nfiles++;
			free(path);
		}
		wfc_list_free(&files);
		free(dir);
	}
	if (verbose)
		fprintf(ctx->err, "%zu file%s checked, %zu error%s, %zu "
		    "warning%s\n", nfiles, nfiles == 1 ? "" : "s", nerr,
		    nerr == 1 ? "" : "s", nwarn, nwarn == 1 ? "" : "s");
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
struct plan_cli {
	struct event		 ev;		/* what the planner reads */
	char			*ref;		/* GITHUB_REF, owned */
	char			*sha;		/* GITHUB_SHA or NULL, owned */
	const char *const	*changed;
	size_t			 nchanged;
	json_t			*payload;	/* object, owned */
};

/* One workflow's plan: the --json object, plus notes for people. */
struct plan_wf {
	json_t	*obj;
	json_t	*notes;		/* array of strings, text output only */
};

/* A job's if: that parses without needs does not read them. */
static const char *const plan_ctx_if_no_needs[] = { "github", "vars",
    "inputs", NULL };
static const struct expr_scope plan_scope_if_no_needs = {
	plan_ctx_if_no_needs, EXPR_FN_STATUS
};

/* What the plan's model says of one job before the run (plan_fates). */
enum plan_fate {
	FATE_UNDECIDED,		/* its needs are not decided yet */
	FATE_RUNS,
	FATE_SKIPPED,
	FATE_RUN_TIME,		/* only the run can tell */
	FATE_FAILS,		/* fails without running */
};

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

/* "file:line:col: message" lines of errs into the array arr. */
static void
plan_list(json_t *arr, const struct wf_errors *errs)
{
	size_t i;
	char *s;

	for (i = 0; i < errs->n; i++) {
		s = xasprintf("%s:%d:%d: %s", errs->v[i].file, errs->v[i].line,
		    errs->v[i].col, errs->v[i].msg);
		json_array_append_new(arr, wfc_jstr(s));
		free(s);
	}
	if (errs->dropped > 0) {
		s = xasprintf("(%zu more not shown)", errs->dropped);
		json_array_append_new(arr, wfc_jstr(s));
		free(s);
	}
}

/* planner_paths_fn: the --changed values. */
static int
plan_paths_cb(void *arg, const char *const **paths, size_t *n)
{
	const struct plan_cli *ev = arg;

	*paths = ev->changed;
	*n = ev->nchanged;
	return 0;
}

/* planner_paths_fn: changed files unknown, so path filters pass. */
static int
plan_unknown_paths_cb(void *arg, const char *const **paths, size_t *n)
{
	return -1;
}

/*
 * The needs context (results, empty outputs) by the fates of job's needs,
 * the run-time ones ending as rt.  *ok, *failed: the status functions.
 */
static json_t *
plan_needs(const struct workflow *wf, const struct wf_job *job,
    const enum plan_fate *fate, enum status_conclusion rt, int *ok,
    int *failed)
{
	json_t *needs = json_object();
	enum status_conclusion result;
	size_t k;
	int idx;

	*ok = 1;
	*failed = 0;
	for (k = 0; k < job->nneeds; k++) {
		idx = workflow_job_index(wf, job->needs[k]);
		switch (idx < 0 ? FATE_FAILS : fate[idx]) {
		case FATE_RUNS:
			result = CONCLUSION_SUCCESS;
			break;
		case FATE_SKIPPED:
			result = CONCLUSION_SKIPPED;
			break;
		case FATE_RUN_TIME:
			result = rt;
			break;
		default:
			result = CONCLUSION_FAILURE;
			break;
		}
		*ok &= result == CONCLUSION_SUCCESS;
		*failed |= result == CONCLUSION_FAILURE;
		json_object_set_new(needs, job->needs[k], json_pack("{s:s, s:{}}",
		    "result", status_conclusion_name(result), "outputs"));
	}
	return needs;
}

/* job's if: with its needs as fate says (run-time ones as rt): 1, 0, -1. */
static int
plan_eval_if(const struct workflow *wf, const struct wf_job *job,
    json_t *contexts, const enum plan_fate *fate, enum status_conclusion rt,
    char *err, size_t errsz)
{
	struct expr_ctx ectx;
	int ok, failed, run;

	json_object_set_new(contexts, "needs", plan_needs(wf, job, fate, rt,
	    &ok, &failed));
	memset(&ectx, 0, sizeof ectx);
	ectx.contexts = contexts;
	ectx.status = (ok ? EXPR_ST_SUCCESS : 0) |
	    (failed ? EXPR_ST_FAILURE : 0);
	if (expr_eval_condition(job->if_cond, &ctx_scope_job_if, &ectx, &run,
	    err, errsz) == -1)
		return -1;
	return run;
}

/* The first need of job with this fate, or NULL. */
static const char *
plan_need_with(const struct workflow *wf, const struct wf_job *job,
    const enum plan_fate *fate, enum plan_fate f)
{
	size_t k;
	int idx;

	for (k = 0; k < job->nneeds; k++)
		if ((idx = workflow_job_index(wf, job->needs[k])) >= 0 &&
		    fate[idx] == f)
			return job->needs[k];
	return NULL;
}

/*
 * The fate of one job whose needs are decided, by the plan's model of the
 * run: the jobs it needs succeed unless they are skipped or fail without
 * running; what a job's if: reads of needs (outputs above all) is known
 * only at run time.  Sets *why (new string) unless the job runs.
 */
static enum plan_fate
plan_fate_of(const struct workflow *wf, const struct wf_job *job,
    json_t *contexts, const enum plan_fate *fate, char **why)
{
	static const enum status_conclusion results[] = { CONCLUSION_SUCCESS,
	    CONCLUSION_FAILURE, CONCLUSION_SKIPPED };
	char err[1024];
	const char *need;
	int r, first = -2;
	size_t i;

	*why = NULL;
	if (job->if_cond == NULL) {
		if ((need = plan_need_with(wf, job, fate, FATE_RUN_TIME)) !=
		    NULL) {
			*why = xasprintf("it needs job '%s', which is decided "
			    "at run time", need);
			return FATE_RUN_TIME;
		}
		if ((need = plan_need_with(wf, job, fate, FATE_SKIPPED)) !=
		    NULL || (need = plan_need_with(wf, job, fate,
		    FATE_FAILS)) != NULL) {
			*why = xasprintf("a job it needs ('%s') does not "
			    "succeed", need);
			return FATE_SKIPPED;
		}
		return FATE_RUNS;
	}
	/* Needs outputs (or results) exist only once those jobs ran. */
	if (job->nneeds > 0 && expr_check_condition(job->if_cond,
	    &plan_scope_if_no_needs, err, sizeof err, NULL) == -1) {
		*why = xasprintf("its if: reads the needs context (%s), known "
		    "only at run time", job->if_cond);
		return FATE_RUN_TIME;
	}
	/* Run-time needs: decided only if every result gives one answer. */
	for (i = 0; i < nitems(results); i++) {
		r = plan_eval_if(wf, job, contexts, fate, results[i], err,
		    sizeof err);
		if (r == -1) {
			*why = xasprintf("if: cannot be decided before the run "
			    "(%s)", err);
			return FATE_RUN_TIME;
		}
		if (first != -2 && r != first) {
			*why = xasprintf("its if: depends on how job '%s' ends",
			    plan_need_with(wf, job, fate, FATE_RUN_TIME));
			return FATE_RUN_TIME;
		}
		first = r;
		if (plan_need_with(wf, job, fate, FATE_RUN_TIME) == NULL)
			break;
	}
	if (first)
		return FATE_RUNS;
	*why = xasprintf("if: %s", job->if_cond);
	return FATE_SKIPPED;
}

/*
 * Decide each job definition's fate in dependency order (fate[i] for
 * wf->jobs[i]; why[i] a new string or NULL).  A job that fails without
 * running (an expression that failed, a construct kiln does not execute)
 * counts as failed for its dependants.
 */
static void
plan_fates(const struct workflow *wf, const struct plan_run *run,
    enum plan_fate *fate, char **why)
{
	json_t *contexts = json_copy(run->contexts);
	size_t i, k, ndone = 0;
	int progress, idx;
	char *refusal;

	do {
		progress = 0;
		for (i = 0; i < wf->njobs; i++) {
			const struct wf_job *job = &wf->jobs[i];

			if (fate[i] != FATE_UNDECIDED)
				continue;
			for (k = 0; k < job->nneeds; k++)
				if ((idx = workflow_job_index(wf,
				    job->needs[k])) >= 0 &&
				    fate[idx] == FATE_UNDECIDED)
					break;
			if (k < job->nneeds)
				continue;	/* a need is undecided */
			fate[i] = plan_fate_of(wf, job, contexts, fate,
			    &why[i]);
			if (fate[i] != FATE_SKIPPED &&
			    (refusal = support_job(job)) != NULL) {
				free(why[i]);
				why[i] = refusal;
				fate[i] = FATE_FAILS;
			}
			ndone++;
			progress = 1;
		}
	} while (progress && ndone < wf->njobs);
	json_decref(contexts);
	/* A job that failed up front (its matrix, say) fails. */
	for (k = 0; k < run->njobs; k++) {
		idx = workflow_job_index(wf, run->jobs[k].def->id);
		if (run->jobs[k].message != NULL && idx >= 0 &&
		    fate[idx] != FATE_SKIPPED && why[idx] == NULL) {
			fate[idx] = FATE_FAILS;
			why[idx] = xstrdup(run->jobs[k].message);
		}
	}
}

/* The JSON of one planned job row, and its notes. */
static json_t *
plan_job_obj(struct plan_wf *p, const struct plan_job *pj,
    enum plan_fate fate, const char *why)
{
	const struct wf_job *job = pj->def;
	json_t *o = json_object(), *na = json_array();
	size_t k;

	for (k = 0; k < job->nneeds; k++)
		json_array_append_new(na, wfc_jstr(job->needs[k]));
	json_object_set_new(o, "id", wfc_jstr(job->id));
	json_object_set_new(o, "name", wfc_jstr(pj->name));
	json_object_set(o, "matrix", pj->matrix != NULL ? pj->matrix :
	    json_null());
	json_object_set_new(o, "needs", na);
	json_object_set(o, "labels", pj->labels);
	json_object_set_new(o, "skipped", json_boolean(fate == FATE_SKIPPED));
	json_object_set_new(o, "decided_at_run_time",
	    json_boolean(fate == FATE_RUN_TIME));
	json_object_set_new(o, "fails", fate == FATE_FAILS ? wfc_jstr(why) :
	    json_null());
	json_object_set_new(o, "reason", why != NULL ? wfc_jstr(why) :
	    json_null());
	if (pj->deferred)
		plan_note(p, "job '%s': its matrix is computed from the jobs "
		    "it needs and expanded at run time; shown as one job",
		    job->id);
	return o;
}

/* The jobs of a triggered workflow into p->obj, with notes. */
static void
plan_jobs(struct plan_wf *p, const struct workflow *wf,
    const struct plan_run *run)
{
	json_t *jobs = json_object_get(p->obj, "jobs");
	enum plan_fate *fate = xcalloc(wf->njobs + 1, sizeof *fate);
	char **why = xcalloc(wf->njobs + 1, sizeof *why);
	size_t i;
	int idx, *noted = xcalloc(wf->njobs + 1, sizeof *noted);

	plan_fates(wf, run, fate, why);
	for (i = 0; i < run->njobs; i++) {
		idx = workflow_job_index(wf, run->jobs[i].def->id);
		json_array_append_new(jobs, plan_job_obj(p, &run->jobs[i],
		    fate[idx], why[idx]));
		if (noted[idx]++)
			continue;
		switch (fate[idx]) {
		case FATE_SKIPPED:
			plan_note(p, "job '%s' would be skipped: %s",
			    wf->jobs[idx].id, why[idx]);
			break;
		case FATE_RUN_TIME:
			plan_note(p, "job '%s' is decided at run time: %s",
			    wf->jobs[idx].id, why[idx]);
			break;
		case FATE_FAILS:
			plan_note(p, "job '%s' fails without running: %s",
			    wf->jobs[idx].id, why[idx]);
			break;
		case FATE_UNDECIDED:	/* only with a needs cycle */
			plan_note(p, "job '%s': its needs cannot be resolved",
			    wf->jobs[idx].id);
			break;
		default:
			break;
		}
	}
	if (run->group_error != NULL)
		plan_note(p, "concurrency: %s (the run joins no group)",
		    run->group_error);
	for (i = 0; i < wf->njobs; i++)
		free(why[i]);
	free(why);
	free(fate);
	free(noted);
}

/* Plan one workflow file.  Returns 0, or -1 when it could not be read. */
static int
plan_one(struct plan_wf *p, const char *path, const char *relname,
    const struct plan_cli *cli)
{
	struct wf_errors errs = { 0 }, warnings = { 0 };
	struct plan_run run;
	struct workflow *wf;
	char *reason = NULL, *name;
	int io, triggered = 0;

	p->obj = json_object();
	p->notes = json_array();
	wf = wfc_load(path, &errs, &io);
	name = xstrdup(wf != NULL && wf->name_set ? wf->name : relname);
	/* Keys in the documented order; triggered and reason come later. */
	json_object_set_new(p->obj, "file", wfc_jstr(path));
	json_object_set_new(p->obj, "name", wfc_jstr(name));
	json_object_set_new(p->obj, "triggered", json_false());
	json_object_set_new(p->obj, "reason", json_null());
	json_object_set_new(p->obj, "errors", json_array());
	json_object_set_new(p->obj, "warnings", json_array());
	json_object_set_new(p->obj, "jobs", json_array());
	plan_list(json_object_get(p->obj, "errors"), &errs);
	if (errs.n > 0 || wf == NULL) {
		reason = xasprintf("the workflow has %zu error%s", errs.n +
		    errs.dropped, errs.n + errs.dropped == 1 ? "" : "s");
		goto done;
	}
	support_audit(wf, &warnings);
	plan_list(json_object_get(p->obj, "warnings"), &warnings);

	triggered = planner_triggered(wf, &cli->ev, plan_paths_cb,
	    (void *)cli, &reason);
	if (!triggered && cli->nchanged == 0 &&
	    trigger_needs_paths(wf, cli->ev.name)) {
		/* Was it the path filter?  Then say how to give paths. */
		char *r2 = NULL;

		if (planner_triggered(wf, &cli->ev, plan_unknown_paths_cb,
		    NULL, &r2) == 1) {
			free(reason);
			reason = xstrdup("the workflow has path filters and no "
			    "changed files were given; list them with "
			    "--changed PATH");
		}
		free(r2);
	}
	if (!triggered)
		goto done;
	planner_plan(wf, &cli->ev, 0, 0, &run);
	if (run.missing_input != NULL) {
		triggered = 0;
		reason = xasprintf("required input '%s' is not given (add it "
		    "to the payload's \"inputs\")", run.missing_input);
	} else
		plan_jobs(p, wf, &run);
	planner_run_free(&run);
done:
	json_object_set_new(p->obj, "triggered", json_boolean(triggered));
	json_object_set_new(p->obj, "reason", triggered || reason == NULL ?
	    json_null() : wfc_jstr(reason));
	free(reason);
	free(name);
	wf_errors_free(&errs);
	wf_errors_free(&warnings);
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
	json_array_foreach(json_object_get(o, "warnings"), i, v)
		wfc_put_lines(f, "  warning: ", json_string_value(v));
	/* The jobs that run, or may: skipped ones are in the notes. */
	table_init(&t, 3, 200);
	json_array_foreach(json_object_get(o, "jobs"), i, j) {
		if (json_is_true(json_object_get(j, "skipped")))
			continue;
		buf_clear(&b);
		json_array_foreach(json_object_get(j, "needs"), k, need)
			buf_printf(&b, "%s%s", k == 0 ? "needs: " : ", ",
			    json_string_value(need));
		if (json_is_true(json_object_get(j, "decided_at_run_time")))
			buf_printf(&b, "%s(decided at run time)",
			    b.len > 0 ? "  " : "");
		if (!json_is_null(json_object_get(j, "fails")))
			buf_printf(&b, "%s(fails without running)",
			    b.len > 0 ? "  " : "");
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

/*
 * The event kiln plans: push, pull_request, pull_request_target,
 * schedule and workflow_dispatch -- the kinds with a ref rule.
 */
static int
plan_event_ok(const char *name)
{
	const struct event_kind *k = event_kind_find(name);

	return k != NULL && k->ref_rule != EVENT_REF_NONE;
}

/*
 * The event from the flags and the payload, as the webhook intake and
 * the worker would see it: the ref and commit by the kind's ref rule.
 */
static int
plan_build_event(struct cictl_ctx *ctx, const struct cmd_args *args,
    struct plan_cli *cli, const char *ref, const char *base)
{
	const struct event_kind *kind = event_kind_find(args->flag[0]);
	json_t *pr, *head;
	char err[256];
	const char *s;

	if (kind->filter == EVENT_FILTER_PULL) {
		/* --ref is the pull request's head branch. */
		if (json_object_get(cli->payload, "action") == NULL)
			json_object_set_new(cli->payload, "action",
			    json_string("opened"));
		if (!json_is_object(json_object_get(cli->payload,
		    "pull_request")))
			json_object_set_new(cli->payload, "pull_request",
			    json_object());
		pr = json_object_get(cli->payload, "pull_request");
		if (!json_is_object(json_object_get(pr, "base")))
			json_object_set_new(pr, "base", json_object());
		if (!json_is_object(json_object_get(pr, "head")))
			json_object_set_new(pr, "head", json_object());
		if (base != NULL)
			json_object_set_new(json_object_get(pr, "base"), "ref",
			    wfc_jstr(str_has_prefix(base, "refs/heads/") ?
			    base + 11 : base));
		head = json_object_get(pr, "head");
		if (json_object_get(head, "ref") == NULL)
			json_object_set_new(head, "ref", wfc_jstr(
			    str_has_prefix(ref, "refs/heads/") ? ref + 11 :
			    ref));
		if (json_string_value(json_object_get(json_object_get(pr,
		    "base"), "ref")) == NULL)
			return cictl_usage_error(ctx, args->entry, "%s needs "
			    "--base-ref BRANCH (or pull_request.base.ref in "
			    "--payload)", kind->name);
	}
	if (event_ref(kind, cli->payload, NULL, &cli->ref, &cli->sha, err,
	    sizeof err) == -1 || kind->filter != EVENT_FILTER_PULL) {
		/* Without a number a pull request shows its head branch. */
		free(cli->ref);
		free(cli->sha);
		cli->sha = NULL;
		cli->ref = str_has_prefix(ref, "refs/") ? xstrdup(ref) :
		    xasprintf("refs/heads/%s", ref);
		if (kind->filter == EVENT_FILTER_PUSH &&
		    (s = json_string_value(json_object_get(cli->payload,
		    "after"))) != NULL)
			cli->sha = xstrdup(s);
	}
	event_read(&cli->ev, kind->name, cli->payload);
	cli->ev.ref = cli->ref;
	cli->ev.sha = cli->sha;
	cli->ev.before = json_string_value(json_object_get(cli->payload,
	    "before"));
	cli->ev.repo_name = json_string_value(json_object_get(
	    json_object_get(cli->payload, "repository"), "full_name"));
	return CICTL_OK;
}

/* Validate plan's flags into cli; CICTL_OK or a usage error. */
static int
plan_args(struct cictl_ctx *ctx, const struct cmd_args *args,
    struct plan_cli *cli)
{
	const char *ref = args->flag[1], *base = args->flag[2], *why, *s;
	const struct event_kind *kind;
	char q[300];
	size_t i;

	if (!plan_event_ok(args->flag[0]))
		return cictl_usage_error(ctx, args->entry, "--event '%s': "
		    "must be push, pull_request, pull_request_target, "
		    "schedule or workflow_dispatch", output_safe(args->flag[0],
		    40, q, sizeof q));
	kind = event_kind_find(args->flag[0]);
	if (plan_valid_ref(ref, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "--ref: %s", why);
	if (base != NULL) {
		if (kind->filter != EVENT_FILTER_PULL)
			return cictl_usage_error(ctx, args->entry,
			    "--base-ref applies to pull_request and "
			    "pull_request_target only");
		if (plan_valid_ref(base, &why) == -1)
			return cictl_usage_error(ctx, args->entry,
			    "--base-ref: %s", why);
	}
	cli->changed = args->values[3];
	cli->nchanged = args->nvalues[3];
	if (cli->nchanged > 0 && !kind->paths)
		return cictl_usage_error(ctx, args->entry, "--changed applies "
		    "to push, pull_request and pull_request_target only");
	for (i = 0; i < cli->nchanged; i++) {
		s = cli->changed[i];
		if (s[0] == '/')
			return cictl_usage_error(ctx, args->entry, "--changed "
			    "'%s': give paths relative to the repository root",
			    output_safe(s, 64, q, sizeof q));
	}
	return CICTL_OK;
}

static void
plan_cli_free(struct plan_cli *cli)
{
	json_decref(cli->payload);
	free(cli->ref);
	free(cli->sha);
}

int
cmd_workflow_plan(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	struct plan_cli cli;
	struct plan_wf *wfs = NULL;
	struct wfc_list files = { 0 };
	const char *dir = args->argv[0];
	json_t *root, *arr;
	char err[1024], *wfdir, *path, *rel, *safe, *out;
	size_t i, n = 0;
	int rc, named_dir, failed = 0;

	memset(&cli, 0, sizeof cli);
	if ((rc = plan_args(ctx, args, &cli)) != CICTL_OK)
		return rc;
	if (strlen(dir) > WFC_MAX_PATH)
		return cictl_usage_error(ctx, args->entry, "DIR too long");
	if (args->flag[4] != NULL) {
		if ((cli.payload = wfc_read_object(ctx, args->flag[4], err,
		    sizeof err)) == NULL)
			return cictl_error(ctx, "--payload: %s", err);
	} else
		cli.payload = json_object();
	if ((rc = plan_build_event(ctx, args, &cli, args->flag[1],
	    args->flag[2])) != CICTL_OK) {
		plan_cli_free(&cli);
		return rc;
	}

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
		plan_cli_free(&cli);
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
		if (plan_one(&wfs[n++], path, rel, &cli) == -1)
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
	plan_cli_free(&cli);
	return failed ? CICTL_ERR : CICTL_OK;
}
