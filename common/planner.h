/*
 * planner: event x workflow -> the run and the jobs it creates, the ONE
 * implementation of "payload -> event -> github context -> trigger ->
 * jobs" that the worker (worker/plan.c, which stores the result, and
 * worker/job.c, which expands a matrix known only at run time) and
 * `cictl plan` (which prints it) both call.
 *
 * What it decides before anything runs, per run: its title (run-name)
 * and concurrency group; per job and matrix leg: the
 * display name, runs-on labels, continue-on-error, timeout-minutes,
 * strategy (fail-fast, max-parallel, the strategy context) and job-level
 * concurrency.  A value whose expression
 * fails makes that one job fail up front, with the error as its message.
 * A matrix computed from needs outputs is one placeholder job, expanded
 * by planner_expand() once the needs have run.
 *
 * Nothing here touches git or the database: the changed files a path
 * filter needs come from the caller's callback, asked for only then.
 */
#ifndef KILN_PLANNER_H
#define KILN_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "event.h"
#include "workflow.h"

/*
 * The changed files of the event: 0 with *paths (owned by the callback's
 * owner, alive until the planning ends) and *n, or -1 when they cannot be
 * known (the diff failed): path filters then pass, as on GitHub.
 */
typedef int planner_paths_fn(void *arg, const char *const **paths,
    size_t *n);

/* One job row: a matrix leg, or the placeholder of a deferred matrix. */
struct plan_job {
	const struct wf_job	*def;		/* in the workflow */
	char			*name;		/* display name */
	json_t			*matrix;	/* the leg's values, or NULL */
	json_t			*strategy;	/* the strategy context */
	json_t			*labels;	/* runs-on, lower-cased, array */
	int			 continue_on_error;
	int			 fail_fast;
	double			 timeout_minutes; /* as given: the worker caps
						     it (WF_MAX_JOB_MINUTES) */
	int			 max_parallel;	/* 0: no limit */
	char			*group;		/* job concurrency group,
						   lower-cased, or NULL */
	int			 cancel_in_progress;
	int			 deferred;	/* matrix: expanded when claimed */
	char			*message;	/* non-NULL: the job fails up
						   front; this says why */
};

/* A planned run of one workflow for one event. */
struct plan_run {
	json_t		*contexts;	/* github, inputs, vars, needs */
	const char	*missing_input;	/* a required dispatch input nobody
					   gave (points into the workflow) */
	char		*title;		/* run-name evaluated, else GitHub's
					   default: the head commit's first
					   line (push), the pull request's
					   title, the workflow's name */
	char		*group;		/* run concurrency group, lower-cased,
					   or NULL */
	int		 cancel_in_progress;
	char		*group_error;	/* why the group could not be
					   evaluated (the run is then not in
					   a group), or NULL */
	struct plan_job	*jobs;		/* in workflow order, legs in
					   matrix order */
	size_t		 njobs;
};

/*
 * 1 if ev triggers wf, 0 if not (*reason then holds a new string saying
 * why, else NULL; caller frees).  paths is called only when wf has a path
 * filter that applies to ev (may be NULL: no changed files known).
 */
int	planner_triggered(const struct workflow *wf, const struct event *ev,
	    planner_paths_fn *paths, void *arg, char **reason);

/*
 * Plan the run of a triggered wf: its contexts (github.run_id and
 * run_number as given, 0 when the run does not exist yet) and its jobs.
 * run is the caller's, released with planner_run_free().
 */
void	planner_plan(const struct workflow *wf, const struct event *ev,
	    int64_t run_id, int64_t run_number, struct plan_run *run);
void	planner_run_free(struct plan_run *);

/*
 * The legs of job's deferred matrix, now that contexts (of the claimed
 * placeholder: github, inputs, vars and the real needs) can evaluate it.
 * Returns 0 with a new array in *jobs (freed with planner_jobs_free), or
 * -1 with err.
 */
int	planner_expand(const struct wf_job *job, json_t *contexts,
	    struct plan_job **jobs, size_t *njobs, char *err, size_t errsz);
void	planner_jobs_free(struct plan_job *, size_t);

#endif
