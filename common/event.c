/*
 * event: the table of event kinds (see event.h) and the reading of one
 * event's payload.
 *
 * The ref rules are GitHub's (reference 1.5-1.8, and the "GITHUB_SHA"
 * column of GitHub's events documentation):
 *
 *   push                 the pushed ref at the pushed commit (after).
 *   pull_request         refs/pull/N/merge at the test merge commit
 *                        (merge_commit_sha, else resolved from the mirror;
 *                        none: a conflict, nothing runs).
 *   pull_request_target  the BASE branch (refs/heads/<base.ref>) at its
 *                        latest commit when the event is planned; never
 *                        the pull request's merge or head.  It runs with
 *                        the base repository's privileges, so the
 *                        workflow it runs is the base branch's, not one
 *                        the pull request's author wrote.  Checkout
 *                        defaults to that commit.
 *   schedule             the default branch at its latest commit.
 *   workflow_dispatch    the given ref at its latest commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "trigger.h"
#include "util.h"

#define PUSH	EVENT_FILTER_PUSH
#define PULL	EVENT_FILTER_PULL
#define TYPES	EVENT_FILTER_TYPES
#define NONE	EVENT_INTAKE_NONE, EVENT_REF_NONE

/* Every event GitHub can trigger a workflow with, sorted by name. */
static const struct event_kind event_kinds[] = {
	/* name		filter	paths skip intake, ref rule */
	{ "branch_protection_rule", TYPES, 0, 0, NONE },
	{ "check_run", TYPES, 0, 0, NONE },
	{ "check_suite", TYPES, 0, 0, NONE },
	{ "create", TYPES, 0, 0, NONE },
	{ "delete", TYPES, 0, 0, NONE },
	{ "deployment", TYPES, 0, 0, NONE },
	{ "deployment_status", TYPES, 0, 0, NONE },
	{ "discussion", TYPES, 0, 0, NONE },
	{ "discussion_comment", TYPES, 0, 0, NONE },
	{ "fork", TYPES, 0, 0, NONE },
	{ "gollum", TYPES, 0, 0, NONE },
	{ "issue_comment", TYPES, 0, 0, NONE },
	{ "issues", TYPES, 0, 0, NONE },
	{ "label", TYPES, 0, 0, NONE },
	{ "merge_group", TYPES, 0, 0, NONE },
	{ "milestone", TYPES, 0, 0, NONE },
	{ "page_build", TYPES, 0, 0, NONE },
	{ "project", TYPES, 0, 0, NONE },
	{ "project_card", TYPES, 0, 0, NONE },
	{ "project_column", TYPES, 0, 0, NONE },
	{ "public", TYPES, 0, 0, NONE },
	{ "pull_request", PULL, 1, 1, EVENT_INTAKE_WEBHOOK,
	    EVENT_REF_PR_MERGE },
	{ "pull_request_review", TYPES, 0, 0, NONE },
	{ "pull_request_review_comment", TYPES, 0, 0, NONE },
	{ "pull_request_target", PULL, 1, 0, EVENT_INTAKE_WEBHOOK,
	    EVENT_REF_PR_BASE },
	{ "push", PUSH, 1, 1, EVENT_INTAKE_WEBHOOK, EVENT_REF_PUSHED },
	{ "registry_package", TYPES, 0, 0, NONE },
	{ "release", TYPES, 0, 0, NONE },
	{ "repository_dispatch", TYPES, 0, 0, NONE },
	{ "schedule", EVENT_FILTER_SCHEDULE, 0, 0, EVENT_INTAKE_KILND,
	    EVENT_REF_DEFAULT },
	{ "status", TYPES, 0, 0, NONE },
	{ "watch", TYPES, 0, 0, NONE },
	{ "workflow_call", TYPES, 0, 0, NONE },
	{ "workflow_dispatch", EVENT_FILTER_DISPATCH, 0, 0,
	    EVENT_INTAKE_KILND, EVENT_REF_GIVEN },
	{ "workflow_run", TYPES, 0, 0, NONE },
};

#undef PUSH
#undef PULL
#undef TYPES
#undef NONE

static const char *const event_ref_rules[] = {
	[EVENT_REF_NONE] = "kiln never runs it",
	[EVENT_REF_PUSHED] = "the pushed ref at the pushed commit",
	[EVENT_REF_PR_MERGE] = "refs/pull/N/merge, GitHub's test merge of "
	    "the pull request into its base",
	[EVENT_REF_PR_BASE] = "the base branch at its latest commit (the "
	    "base branch's workflow, never the pull request's)",
	[EVENT_REF_DEFAULT] = "the default branch at its latest commit",
	[EVENT_REF_GIVEN] = "the given ref at its latest commit",
};

const struct event_kind *
event_kind_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < nitems(event_kinds); i++)
		if (strcmp(event_kinds[i].name, name) == 0)
			return &event_kinds[i];
	return NULL;
}

const char *
event_ref_rule_text(enum event_ref_rule r)
{
	if ((size_t)r >= nitems(event_ref_rules))
		return event_ref_rules[EVENT_REF_NONE];
	return event_ref_rules[r];
}

/* payload.a.b.c as a string, or NULL. */
static const char *
event_str(json_t *payload, const char *a, const char *b, const char *c)
{
	json_t *j = json_object_get(payload, a);

	if (b != NULL)
		j = json_object_get(j, b);
	if (c != NULL)
		j = json_object_get(j, c);
	return json_string_value(j);
}

void
event_read(struct event *ev, const char *name, json_t *payload)
{
	memset(ev, 0, sizeof *ev);
	ev->name = name;
	ev->kind = event_kind_find(name);
	ev->payload = payload;
	ev->action = event_str(payload, "action", NULL, NULL);
	if (ev->kind == NULL)
		return;
	switch (ev->kind->filter) {
	case EVENT_FILTER_PUSH:
		ev->head_message = event_str(payload, "head_commit",
		    "message", NULL);
		break;
	case EVENT_FILTER_PULL:
		ev->base_ref = event_str(payload, "pull_request", "base",
		    "ref");
		ev->head_ref = event_str(payload, "pull_request", "head",
		    "ref");
		ev->base_sha = event_str(payload, "pull_request", "base",
		    "sha");
		ev->head_sha = event_str(payload, "pull_request", "head",
		    "sha");
		break;
	case EVENT_FILTER_SCHEDULE:
		ev->cron = event_str(payload, "schedule", NULL, NULL);
		ev->workflow = event_str(payload, "workflow", NULL, NULL);
		break;
	case EVENT_FILTER_DISPATCH:
		ev->workflow = event_str(payload, "workflow", NULL, NULL);
		break;
	default:
		break;
	}
}

int
event_ref(const struct event_kind *kind, json_t *payload,
    const char *default_branch, char **ref, char **sha, char *err,
    size_t errsz)
{
	json_t *num = json_object_get(payload, "number");
	const char *s;

	*ref = *sha = NULL;
	switch (kind != NULL ? kind->ref_rule : EVENT_REF_NONE) {
	case EVENT_REF_PUSHED:
		if ((s = event_str(payload, "ref", NULL, NULL)) == NULL) {
			snprintf(err, errsz, "missing field \"ref\"");
			return -1;
		}
		*ref = xstrdup(s);
		if ((s = event_str(payload, "after", NULL, NULL)) != NULL)
			*sha = xstrdup(s);
		return 0;
	case EVENT_REF_PR_MERGE:
		if (!json_is_integer(num) || json_integer_value(num) <= 0) {
			snprintf(err, errsz, "missing or bad field \"number\"");
			return -1;
		}
		*ref = xasprintf("refs/pull/%lld/merge",
		    (long long)json_integer_value(num));
		if ((s = event_str(payload, "pull_request",
		    "merge_commit_sha", NULL)) != NULL)
			*sha = xstrdup(s);
		return 0;
	case EVENT_REF_PR_BASE:
		if ((s = event_str(payload, "pull_request", "base",
		    "ref")) == NULL) {
			snprintf(err, errsz, "missing field "
			    "\"pull_request.base.ref\"");
			return -1;
		}
		/* Its tip when planned, not the payload's base.sha. */
		*ref = str_has_prefix(s, "refs/") ? xstrdup(s) :
		    xasprintf("refs/heads/%s", s);
		return 0;
	case EVENT_REF_DEFAULT:
		*ref = xasprintf("refs/heads/%s", default_branch != NULL ?
		    default_branch : "main");
		return 0;
	case EVENT_REF_GIVEN:
		if ((s = event_str(payload, "ref", NULL, NULL)) == NULL) {
			snprintf(err, errsz, "missing field \"ref\"");
			return -1;
		}
		*ref = str_has_prefix(s, "refs/") ? xstrdup(s) :
		    xasprintf("refs/heads/%s", s);
		return 0;
	case EVENT_REF_NONE:
		break;
	}
	snprintf(err, errsz, "kiln does not run workflows for '%s' events",
	    kind != NULL ? kind->name : "(unknown)");
	return -1;
}

void
event_trigger(const struct event *ev, struct trigger_event *te)
{
	memset(te, 0, sizeof *te);
	te->name = ev->name;
	te->ref = ev->ref;
	te->action = ev->action;
	te->base_ref = ev->base_ref;
	te->head_message = ev->head_message;
	te->cron = ev->cron;
	te->workflow = ev->workflow;
}
