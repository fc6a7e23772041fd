/*
 * event: the kinds of GitHub events and what kiln does with each, in ONE
 * table (event.c), and one event as the planner sees it.
 *
 * The table answers, per event name: which filters `on.<event>` takes,
 * whether path filters apply, whether skip markers apply, how the event
 * reaches kiln (intake) and which ref and commit a run of it uses (the
 * ref rule: GITHUB_REF / GITHUB_SHA, and so which workflow file is read
 * and what checkout checks out).  Workflow validation (known event
 * names), trigger decisions, the webhook intake, the worker's planner,
 * `cictl plan` and `cictl lint` all read this one table.
 *
 * Nothing here touches git, the network or the database: a caller that
 * must resolve a ref to a commit (the planner, from its mirror) does so
 * itself, as the ref rule says.
 */
#ifndef KILN_EVENT_H
#define KILN_EVENT_H

#include <jansson.h>

struct trigger_event;

/* Which filters on.<event> takes. */
enum event_filter {
	EVENT_FILTER_TYPES,	/* only types:, when the event has an action */
	EVENT_FILTER_PUSH,	/* branches, tags (+ -ignore), paths */
	EVENT_FILTER_PULL,	/* types, branches (+ -ignore) of the base,
				   paths */
	EVENT_FILTER_SCHEDULE,	/* the cron line that fired */
	EVENT_FILTER_DISPATCH,	/* inputs */
};

/* How an event of this kind reaches kiln. */
enum event_intake {
	EVENT_INTAKE_NONE,	/* never: a webhook of it is recorded and
				   ignored, so its workflows never run */
	EVENT_INTAKE_WEBHOOK,	/* a signed webhook, stored and planned */
	EVENT_INTAKE_KILND,	/* made by kilnd itself: dispatch (the
				   admin API), cron (daemon/sched.c) */
};

/* Which ref and commit a run of the event uses (GITHUB_REF, GITHUB_SHA). */
enum event_ref_rule {
	EVENT_REF_NONE,		/* kiln never runs it */
	EVENT_REF_PUSHED,	/* the pushed ref at the pushed commit */
	EVENT_REF_PR_MERGE,	/* refs/pull/N/merge, GitHub's test merge */
	EVENT_REF_PR_BASE,	/* the base branch at its latest commit */
	EVENT_REF_DEFAULT,	/* the default branch at its latest commit */
	EVENT_REF_GIVEN,	/* the ref named in the payload, its tip */
};

struct event_kind {
	const char		*name;
	enum event_filter	 filter;
	int			 paths;		/* on.<e>.paths(-ignore) apply */
	int			 skip_markers;	/* [skip ci] ... apply */
	enum event_intake	 intake;
	enum event_ref_rule	 ref_rule;
};

/*
 * kilnd's own event asking a worker to record a repository's schedules
 * from its default branch without planning runs (repo add, a new default
 * branch).  The colon keeps it apart from every GitHub event name and
 * from every `on:` key.
 */
#define EVENT_SCHEDULES_SYNC	"kiln:schedules"

/* The kind named name, or NULL when GitHub has no such event. */
const struct event_kind *event_kind_find(const char *name);

/* The ref rule in words (static), e.g. for warnings and help text. */
const char	*event_ref_rule_text(enum event_ref_rule);

/*
 * One event, as planned: what the stored row or the command line says,
 * plus what the kind's rules read from the payload (event_read).  Every
 * pointer is borrowed (from the payload or the caller).
 */
struct event {
	const struct event_kind	*kind;		/* NULL: unknown name */
	const char		*name;
	const char		*ref;		/* GITHUB_REF */
	const char		*sha;		/* GITHUB_SHA; NULL: not known */
	const char		*before;	/* push: previous tip, or NULL */
	json_t			*payload;	/* object */
	const char		*repo_name;	/* owner/name */
	/* Read from the payload by event_read(): */
	const char		*action;	/* activity type, or NULL */
	const char		*base_ref;	/* pull requests: base branch */
	const char		*head_ref;	/* pull requests: head branch */
	const char		*base_sha;	/* pull requests */
	const char		*head_sha;	/* pull requests */
	const char		*head_message;	/* skip markers; for a pull
						   request the caller reads
						   the head commit's message */
	const char		*cron;		/* schedule: the line fired */
	const char		*workflow;	/* schedule, workflow_dispatch:
						   the file it is for, or NULL */
};

/*
 * Fill ev for the event name with payload (borrowed; NULL reads as an
 * empty object that the caller must keep alive: pass one).  ref, sha,
 * before and repo_name are left for the caller; the payload's fields the
 * kind needs (action, base and head of a pull request, the head commit's
 * message of a push, the cron line of a schedule) are read here.
 */
void		 event_read(struct event *ev, const char *name,
		    json_t *payload);

/*
 * What a run of the event uses as GITHUB_REF and GITHUB_SHA, by the
 * kind's ref rule, from the payload alone: *ref always (new string), *sha
 * a new string when the payload names the commit, else NULL (the planner
 * resolves *ref in its mirror: the test merge, the base branch's tip).
 * default_branch is the repository's (for EVENT_REF_DEFAULT; NULL reads
 * "main").  Returns 0, or -1 with err naming the missing payload field.
 */
int		 event_ref(const struct event_kind *, json_t *payload,
		    const char *default_branch, char **ref, char **sha,
		    char *err, size_t errsz);

/* The trigger_match() view of ev (paths left empty). */
void		 event_trigger(const struct event *ev,
		    struct trigger_event *te);

#endif
