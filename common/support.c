/*
 * support: see support.h.  One table per level (job, step, event); each
 * row says how to find the construct and what kiln says about it.  The
 * decisions, and why:
 *
 *   environment            no deployment environments: protection rules
 *                          (reviewers, wait timers, branch policies) and
 *                          environment secrets would be skipped, so a
 *                          deployment would run unapproved.
 *   runs-on.group          no runner groups: the job would run on any
 *                          worker with the labels, outside its group.
 *   steps[*].uses          the built-in actions (checkout,
 *                          setup-python, cache, cache/restore,
 *                          cache/save, upload-artifact,
 *                          download-artifact), local actions (./path) and
 *                          actions of other repositories (owner/repo@ref,
 *                          fetched): composite, node and docker ones run
 *                          (docker through the container engine, as
 *                          docker://image does); an input a built-in
 *                          does not honour fails its step.
 *   on.<event>             events kiln never receives (or kilnd does not
 *                          make yet) never run the workflow.
 *
 * Executed, so not listed: container and services (through the
 * container engine; a job fails before its first step, saying so, when
 * there is none: worker/job.c), permissions (kiln hands out no GITHUB_TOKEN,
 * so there is nothing for them to widen), defaults.run (shell and
 * working-directory, job level evaluated), timeout-minutes above 7200
 * (capped when the job runs, as GitHub caps it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "support.h"
#include "util.h"

/*
 * The inputs each built-in honours, or that change nothing on this host
 * (setup-python's cache and cache-dependency-path are honoured: worker/
 * actions/cache.c).
 */
static const char *const support_checkout_inputs[] = {
	"fetch-depth", "clean", "persist-credentials", "token", NULL,
};
static const char *const support_setup_python_inputs[] = {
	"python-version", "token", "cache", "cache-dependency-path",
	"check-latest", "allow-prereleases", NULL,
};

/* enableCrossOsArchive and upload-chunk-size change nothing here. */
static const char *const support_cache_inputs[] = {
	"path", "key", "restore-keys", "enableCrossOsArchive",
	"fail-on-cache-miss", "lookup-only", "upload-chunk-size", NULL,
};
static const char *const support_cache_restore_inputs[] = {
	"path", "key", "restore-keys", "enableCrossOsArchive",
	"fail-on-cache-miss", "lookup-only", NULL,
};
static const char *const support_cache_save_inputs[] = {
	"path", "key", "enableCrossOsArchive", "upload-chunk-size", NULL,
};

/* v4's inputs. */
static const char *const support_upload_artifact_inputs[] = {
	"name", "path", "if-no-files-found", "retention-days",
	"compression-level", "overwrite", "include-hidden-files", NULL,
};
/*
 * run-id: another run of the same repository (repository, when given,
 * must name it); github-token is taken and not needed, the store is
 * kiln's own.
 */
static const char *const support_download_artifact_inputs[] = {
	"name", "pattern", "path", "merge-multiple", "github-token", "run-id",
	"repository", NULL,
};

static const struct {
	const char		*name;
	const char *const	*inputs;
} support_actions[SUPPORT_NACTIONS] = {
	[SUPPORT_ACTION_CHECKOUT] = { "actions/checkout",
	    support_checkout_inputs },
	[SUPPORT_ACTION_SETUP_PYTHON] = { "actions/setup-python",
	    support_setup_python_inputs },
	[SUPPORT_ACTION_CACHE] = { "actions/cache", support_cache_inputs },
	[SUPPORT_ACTION_CACHE_RESTORE] = { "actions/cache/restore",
	    support_cache_restore_inputs },
	[SUPPORT_ACTION_CACHE_SAVE] = { "actions/cache/save",
	    support_cache_save_inputs },
	[SUPPORT_ACTION_UPLOAD_ARTIFACT] = { "actions/upload-artifact",
	    support_upload_artifact_inputs },
	[SUPPORT_ACTION_DOWNLOAD_ARTIFACT] = { "actions/download-artifact",
	    support_download_artifact_inputs },
};

int
support_action_find(const char *uses)
{
	const char *at = uses != NULL ? strchr(uses, '@') : NULL;
	size_t len, i;

	if (at == NULL || at[1] == '\0')
		return -1;	/* GitHub requires a ref */
	len = (size_t)(at - uses);
	for (i = 0; i < SUPPORT_NACTIONS; i++)
		if (strlen(support_actions[i].name) == len &&
		    strncasecmp(support_actions[i].name, uses, len) == 0)
			return (int)i;
	return -1;
}

const char *
support_action_name(enum support_action a)
{
	return (size_t)a < SUPPORT_NACTIONS ? support_actions[a].name : "";
}

char *
support_action_names(void)
{
	struct buf b = { 0 };
	size_t i;

	for (i = 0; i < SUPPORT_NACTIONS; i++)
		buf_printf(&b, "%s%s", i > 0 ? ", " : "",
		    support_actions[i].name);
	return buf_steal(&b);
}

/* ---- steps ------------------------------------------------------------- */

/* The with: key of step a built-in does not honour, or NULL. */
static const struct wf_map_entry *
support_bad_input(const struct wf_step *step, int a)
{
	const char *const *in;
	size_t i;

	for (i = 0; i < step->with.n; i++) {
		for (in = support_actions[a].inputs; *in != NULL; in++)
			if (strcmp(*in, step->with.v[i].key) == 0)
				break;
		if (*in == NULL)
			return &step->with.v[i];
	}
	return NULL;
}

/* Why, and where (*pos), kiln cannot run step; NULL when it can. */
static char *
support_step_at(const struct wf_step *step, struct wf_pos *pos)
{
	const struct wf_map_entry *bad;
	int a;

	/*
	 * ./path and owner/repo@ref: what its action.yml says is known
	 * when it runs (and whether [actions] allow lets it be fetched).
	 */
	if (step->uses == NULL || str_has_prefix(step->uses, "./"))
		return NULL;
	*pos = step->uses_pos;
	a = support_action_find(step->uses);
	if (a == -1)
		return NULL;
	if ((bad = support_bad_input(step, a)) != NULL) {
		*pos = bad->pos;
		return xasprintf("%s: input \"%s\" is not supported by kiln",
		    support_actions[a].name, bad->key);
	}
	return NULL;
}

char *
support_step(const struct wf_step *step)
{
	struct wf_pos pos;

	return support_step_at(step, &pos);
}

/* ---- jobs -------------------------------------------------------------- */

/* One construct a job can have that kiln does not execute. */
struct support_rule {
	const char	*key;
	/* 1 and *pos when job has it. */
	int		(*has)(const struct wf_job *, struct wf_pos *pos);
	const char	*why;
};

static int
support_has_environment(const struct wf_job *j, struct wf_pos *pos)
{
	*pos = j->environment_pos;
	return j->environment != NULL;
}

static int
support_has_group(const struct wf_job *j, struct wf_pos *pos)
{
	*pos = j->runs_on.pos;
	return j->runs_on.group != NULL;
}

static const struct support_rule support_job_rules[] = {
	{ "environment", support_has_environment, "kiln has no deployment "
	    "environments: their protection rules (reviewers, wait timers, "
	    "branch policies), secrets and variables would not apply" },
	{ "runs-on.group", support_has_group, "kiln has no runner groups; "
	    "the job would run on any worker with its labels" },
};

static char *
support_job_why(const struct wf_job *job, const struct support_rule *r)
{
	return xasprintf("jobs.%s.%s: %s; the job fails without running",
	    job->id, r->key, r->why);
}

char *
support_job(const struct wf_job *job)
{
	struct wf_pos pos;
	size_t i;

	for (i = 0; i < nitems(support_job_rules); i++)
		if (support_job_rules[i].has(job, &pos))
			return support_job_why(job, &support_job_rules[i]);
	return NULL;
}

/* ---- the audit --------------------------------------------------------- */

static void
support_add(struct wf_errors *w, const char *file, struct wf_pos pos,
    char *msg)
{
	w->v = xreallocarray(w->v, w->n + 1, sizeof *w->v);
	w->v[w->n++] = (struct wf_error){ xstrdup(file), pos.line, pos.col,
	    msg };
}

static int
support_cmp(const void *a, const void *b)
{
	const struct wf_error *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->col < y->col ? -1 : x->col > y->col;
}

void
support_audit(const struct workflow *wf, struct wf_errors *warnings)
{
	const struct event_kind *kind;
	const struct wf_job *job;
	struct wf_pos pos;
	size_t i, k, from = warnings->n;
	char *why;

	for (i = 0; i < wf->on.nevents; i++) {
		kind = event_kind_find(wf->on.events[i].name);
		/* kilnd makes schedule and workflow_dispatch itself. */
		if (kind == NULL || kind->intake != EVENT_INTAKE_NONE)
			continue;
		support_add(warnings, wf->path, wf->on.events[i].pos,
		    xasprintf("on.%s: kiln never receives these events (their "
		    "webhooks are recorded and ignored); this trigger never "
		    "runs the workflow", kind->name));
	}
	/*
	 * A zone would move the firing minute; firing at the UTC minute
	 * instead would run it at the wrong time, so such a line never fires.
	 */
	for (i = 0; i < wf->on.nschedules; i++)
		if (wf->on.schedules[i].timezone != NULL)
			support_add(warnings, wf->path, wf->on.schedules[i].pos,
			    xasprintf("on.schedule[%zu].timezone: kiln fires "
			    "schedules in UTC only; this cron line never fires "
			    "(write its time in UTC and drop timezone)", i));
	for (i = 0; i < wf->njobs; i++) {
		job = &wf->jobs[i];
		for (k = 0; k < nitems(support_job_rules); k++)
			if (support_job_rules[k].has(job, &pos))
				support_add(warnings, wf->path, pos,
				    support_job_why(job,
				    &support_job_rules[k]));
		for (k = 0; k < job->nsteps; k++) {
			if ((why = support_step_at(&job->steps[k],
			    &pos)) == NULL)
				continue;
			support_add(warnings, wf->path, pos, xasprintf(
			    "jobs.%s.steps[%zu]: %s; the step fails when it "
			    "runs", job->id, k, why));
			free(why);
		}
	}
	if (warnings->n > from)
		qsort(warnings->v + from, warnings->n - from,
		    sizeof *warnings->v, support_cmp);
}
