/*
 * reusable: jobs that call a reusable workflow (jobs.<id>.uses), expanded
 * into the called workflow's jobs before anything is planned, the same
 * way by the planner (worker/plan.c) and by the worker that runs one of
 * those jobs (worker/job.c), so a job key means one thing in both.
 *
 * A caller job `call` whose workflow has jobs a and b becomes:
 *   call/a, call/b     the called jobs (ids prefixed, their needs too,
 *                      each also needing what `call` needs, shown as
 *                      "call / a"), run as any job, with the inputs and
 *                      secrets the call passes, when the caller's if:
 *                      (evaluated as the caller sees it) holds;
 *   call               a step-less job needing them all that evaluates
 *                      on.workflow_call.outputs over their outputs, so
 *                      later jobs read needs.call.outputs as on GitHub.
 * Nested calls repeat this inside (call/inner/a), to GitHub's depth.  A
 * matrix on the caller makes one instance per leg (call/1/a, shown
 * "call (x) / a"), all before the one step-less job.
 *
 * The called files come from a loader, by key: "./PATH" for a file of
 * the run's own repository and commit, "OWNER/REPO/PATH@REF" for one of
 * another repository (a local call inside it becomes OWNER/REPO/PATH@SHA).
 */
#ifndef KILN_REUSABLE_H
#define KILN_REUSABLE_H

#include <stddef.h>

#include <jansson.h>

#include "workflow.h"

/*
 * GitHub's limits: ten levels of workflows (the top-level caller and nine
 * called), fifty calls per run.
 */
#define REUSABLE_MAX_DEPTH	10
#define REUSABLE_MAX_CALLS	50

/*
 * The text of the workflow file key names (a new NUL-terminated string)
 * and the commit it was read at (sha, 40 hex); NULL with err.
 */
typedef char *reusable_load_fn(void *arg, const char *key, char sha[41],
    char *err, size_t errsz);

/*
 * One expanded call (one leg of a caller's matrix); its jobs point here
 * (wf_job.call), the caller's step-less job to the first leg's.
 */
struct reusable_call {
	struct reusable_call	*parent;	/* NULL: called by the top */
	const struct wf_job	*caller;	/* the step-less job it became
						   (uses, with, secrets) */
	struct workflow		*callee;	/* env, defaults, on */
	char			*prefix;	/* "call/" (nested: "a/b/") */
	char			*key;		/* as the loader knows it */
	char			*ref;		/* job_workflow_ref */
	json_t			*matrix;	/* the caller's matrix leg, or
						   NULL */
	char			*if_cond;	/* the caller's if:, or NULL */
	char			 sha[41];	/* job_workflow_sha */
};

/* Every call of one expanded workflow. */
struct reusable_set {
	struct reusable_call	**v;
	size_t			  n;
};

/*
 * Replace each caller job of wf by the jobs of what it calls (repo is
 * the run's owner/name, for job_workflow_ref; head_sha the run's
 * commit).  0, or -1 with err naming the job and the called file; wf is
 * then unchanged.  set is released with reusable_set_free(), after wf.
 */
int	reusable_expand(struct workflow *wf, const char *repo,
	    const char *head_sha, reusable_load_fn *load, void *arg,
	    struct reusable_set *set, char *err, size_t errsz);
void	reusable_set_free(struct reusable_set *);

/*
 * The inputs context of the jobs of call: the caller's with (evaluated
 * in contexts: github, needs, strategy, matrix, vars; inputs of the
 * outer call or, at the top, top_inputs) typed by the called workflow's
 * on.workflow_call.inputs, defaults filled in.  A new object, or NULL
 * with err.
 */
json_t	*reusable_inputs(const struct reusable_call *call, json_t *contexts,
	    json_t *top_inputs, char *err, size_t errsz);

/*
 * The secrets context of the jobs of call, from the top's (all the
 * repository's): inherit passes them on, a mapping passes those it
 * names, nothing passes none (GITHUB_TOKEN always).  A new object, or
 * NULL with err.
 */
json_t	*reusable_secrets(const struct reusable_call *call, json_t *contexts,
	    json_t *top_inputs, json_t *top_secrets, char *err, size_t errsz);

/*
 * 1 if the if: of every caller on the way to call holds (outermost
 * first, each in its caller's view: the outer call's inputs or
 * top_inputs, its matrix leg; status: the job's EXPR_ST_* bits), 0 with
 * *no the call whose caller's is false, -1 with err.
 */
int	reusable_callers_if(const struct reusable_call *call, json_t *contexts,
	    json_t *top_inputs, unsigned int status,
	    const struct reusable_call **no, char *err, size_t errsz);

/*
 * The jobs context of call's step-less job: needs, its called jobs' keys
 * without call's prefix.  A new object.
 */
json_t	*reusable_jobs_context(const struct reusable_call *call,
	    const json_t *needs);

#endif
