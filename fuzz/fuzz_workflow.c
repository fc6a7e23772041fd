/*
 * fuzz_workflow: workflow_parse() on arbitrary bytes, as kilnd and cictl
 * read a .github/workflows/X.yml from a pushed commit (untrusted: anyone
 * who can push writes it).
 *
 * Each input is one file.  The target parses it, formats the errors as the
 * callers print them, reads a few parts of the model the way the planner
 * does (job lookup, branch filters, maps), and for a valid file runs what
 * lint and the worker run on it: the audit of what kiln does not execute
 * and the planner on a push (matrices, names, labels, expressions), then
 * frees everything, so ASan sees every allocation released.  The parser's own YAML, expression, glob
 * and cron validation runs underneath.
 *
 * Bound: FUZZ_WF_MAX bytes, well under WF_MAX_FILE_SIZE; larger inputs
 * are ignored so time goes to structure, not to size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "planner.h"
#include "support.h"
#include "workflow.h"

#include "fuzz.h"

#define FUZZ_WF_MAX	(64 * 1024)

static void
walk_filter(const struct wf_on_filter *f)
{
	static const char *const refs[] = { "main", "release/v1.2",
	    "feature/a/b", "v1.0.0", "src/app/main.c", "" };
	size_t i;

	if (!f->set)
		return;
	for (i = 0; i < sizeof refs / sizeof refs[0]; i++) {
		(void)glob_list_included(f->branches.v, f->branches.n,
		    refs[i], NULL);
		(void)glob_list_included(f->branches_ignore.v,
		    f->branches_ignore.n, refs[i], NULL);
		(void)glob_list_included(f->tags.v, f->tags.n, refs[i], NULL);
		(void)glob_list_included(f->paths.v, f->paths.n, refs[i],
		    NULL);
		(void)glob_list_included(f->paths_ignore.v, f->paths_ignore.n,
		    refs[i], NULL);
	}
}

static void
walk(const struct workflow *wf)
{
	const struct wf_job *job;
	size_t i, j;

	FUZZ_ASSERT(wf->name != NULL);
	walk_filter(&wf->on.push);
	walk_filter(&wf->on.pull_request);
	walk_filter(&wf->on.pull_request_target);
	for (i = 0; i < wf->env.n; i++)
		FUZZ_ASSERT(wf_map_get(&wf->env, wf->env.v[i].key) != NULL);
	for (i = 0; i < wf->njobs; i++) {
		job = &wf->jobs[i];
		FUZZ_ASSERT(job->id != NULL);
		FUZZ_ASSERT(workflow_job(wf, job->id) != NULL);
		FUZZ_ASSERT(workflow_job_index(wf, job->id) >= 0);
		for (j = 0; j < job->nneeds; j++)
			(void)workflow_job_index(wf, job->needs[j]);
		for (j = 0; j < job->nsteps; j++)
			FUZZ_ASSERT(job->steps[j].index == j);
	}
	(void)workflow_job(wf, "no-such-job");
}

/* What cictl lint and the worker's planner do with a valid workflow. */
static void
plan(const struct workflow *wf)
{
	struct wf_errors warnings = { 0 };
	struct plan_run run;
	struct event ev;
	json_t *payload = json_pack("{s:s, s:s, s:{s:s}}", "ref",
	    "refs/heads/main", "after", "c0ffee", "head_commit", "message",
	    "fuzz");
	char *reason = NULL;
	size_t i, j;

	support_audit(wf, &warnings);
	for (i = 0; i < warnings.n; i++)
		FUZZ_ASSERT(warnings.v[i].line >= 0 && warnings.v[i].msg != NULL);
	wf_errors_free(&warnings);
	event_read(&ev, "push", payload);
	ev.ref = "refs/heads/main";
	ev.sha = "c0ffee";
	ev.repo_name = "fuzz/repo";
	if (planner_triggered(wf, &ev, NULL, NULL, &reason)) {
		planner_plan(wf, &ev, 1, 1, &run);
		for (i = 0; i < run.njobs; i++)
			FUZZ_ASSERT(run.jobs[i].name != NULL &&
			    json_is_array(run.jobs[i].labels));
		planner_run_free(&run);
	}
	free(reason);
	for (i = 0; i < wf->njobs; i++) {
		free(support_job(&wf->jobs[i]));
		for (j = 0; j < wf->jobs[i].nsteps; j++)
			free(support_step(&wf->jobs[i].steps[j]));
	}
	json_decref(payload);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wf_errors errs = { 0 };
	struct workflow *wf;
	char *text;

	if (size > FUZZ_WF_MAX)
		return 0;

	/* Exactly size bytes, no terminator: ASan catches any overread. */
	wf = workflow_parse(".github/workflows/fuzz.yml", (const char *)data,
	    size, &errs);
	if (wf == NULL)
		FUZZ_ASSERT(errs.n > 0 || errs.dropped > 0);
	FUZZ_ASSERT(errs.n <= WF_MAX_ERRORS);

	text = wf_errors_format(&errs);
	FUZZ_ASSERT(text != NULL);
	FUZZ_ASSERT((errs.n == 0 && errs.dropped == 0) == (text[0] == '\0'));
	free(text);

	if (wf != NULL)
		walk(wf);
	if (wf != NULL && errs.n == 0 && errs.dropped == 0)
		plan(wf);
	workflow_free(wf);
	wf_errors_free(&errs);
	return 0;
}
