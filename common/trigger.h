/*
 * trigger: decide whether an event starts a workflow (reference 2.1-2.4),
 * and say why not.
 *
 * The planner fills a struct trigger_event from the webhook payload (or
 * the scheduler / a dispatch request) and the changed-file list from its
 * diff, then asks trigger_match() per workflow.  Nothing here touches git
 * or the network; the workflow's patterns were compiled by workflow_parse.
 */
#ifndef KILN_TRIGGER_H
#define KILN_TRIGGER_H

#include <stddef.h>

struct workflow;

#define TRIGGER_MAX_PATHS	300	/* only the first 300 files count */

struct trigger_event {
	const char	 *name;		/* "push", "pull_request", ... */
	const char	 *ref;		/* push: "refs/heads/x" / "refs/tags/x" */
	const char	 *base_ref;	/* pull_request*: base branch, short
					   or "refs/heads/..." */
	const char	 *action;	/* activity type ("opened"), or NULL */
	const char	 *head_message;	/* head commit message, or NULL */
	const char *const *paths;	/* changed files, repo-relative */
	size_t		  npaths;
	int		  paths_unknown;/* diff unavailable (>1000 commits,
					   timeout): path filters pass */
	const char	 *cron;		/* schedule: the line that fired, or
					   NULL for "any" */
	const char	 *workflow;	/* schedule, workflow_dispatch: the
					   file the event is for (its name
					   decides), or NULL for any */
};

/*
 * 1 if ev triggers wf, 0 if not.  When reason is not NULL it receives a
 * new string saying why not (caller frees; NULL when triggered).  The
 * reason quotes ref names and paths verbatim: escape before logging.
 */
int	trigger_match(const struct workflow *wf, const struct trigger_event *ev,
	    char **reason);

/*
 * 1 if two workflow paths name the same file: their last segments are
 * equal (.github/workflows is flat).
 */
int	trigger_same_file(const char *a, const char *b);

/*
 * 1 if deciding event for wf needs the changed paths (the event table
 * says path filters apply to it and wf has one), so a caller computes the
 * possibly costly diff only then.
 */
int	trigger_needs_paths(const struct workflow *wf, const char *event);

/*
 * 1 if a push / pull_request with this head commit message is skipped:
 * it contains [skip ci], [ci skip], [no ci], [skip actions] or
 * [actions skip] (any letter case), or its last line is the trailer
 * "skip-checks:true" / "skip-checks: true" after an empty line.  marker
 * (if not NULL) receives the marker found (static string).
 */
int	trigger_skip_marker(const char *message, const char **marker);

#endif
