/*
 * trigger: event x workflow -> run or not, per reference 2.1-2.4.
 *
 * Which filters and skip markers apply to an event comes from the event
 * table (common/event.c).
 *
 * push:          skip markers, then the ref filter (branch and tag filters
 *                judged by ref kind, 2.2), then path filters (branches
 *                only; "no changed files" does not run; only the first
 *                TRIGGER_MAX_PATHS files are looked at).
 * pull_request*: activity types (default opened/synchronize/reopened),
 *                base-branch filter, path filters; skip markers for
 *                pull_request only.
 * anything else: runs when the event is declared (and, if its config has
 *                a "types" list and the event has an action, the action is
 *                listed); schedule must name the cron line that fired.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "event.h"
#include "glob.h"
#include "trigger.h"
#include "util.h"
#include "workflow.h"

static const char *const trigger_pr_default_types[] = {
	"opened", "synchronize", "reopened",
};

static const char *const trigger_markers[] = {
	"[skip ci]", "[ci skip]", "[no ci]", "[skip actions]",
	"[actions skip]",
};

static void
trigger_why(char **reason, const char *fmt, ...) KILN_PRINTF(2, 3);

static void
trigger_why(char **reason, const char *fmt, ...)
{
	va_list ap;

	if (reason == NULL)
		return;
	va_start(ap, fmt);
	*reason = xvasprintf(fmt, ap);
	va_end(ap);
}

int
trigger_skip_marker(const char *msg, const char **marker)
{
	const char	*end, *line, *p;
	size_t		 i, len;

	if (msg == NULL)
		return 0;
	for (i = 0; i < nitems(trigger_markers); i++) {
		if (strcasestr(msg, trigger_markers[i]) != NULL) {
			if (marker != NULL)
				*marker = trigger_markers[i];
			return 1;
		}
	}
	/* Last non-empty line, and the line before it must be empty. */
	end = msg + strlen(msg);
	while (end > msg && isspace((unsigned char)end[-1]))
		end--;
	line = end;
	while (line > msg && line[-1] != '\n')
		line--;
	len = (size_t)(end - line);
	if (!((len == 16 && strncmp(line, "skip-checks:true", 16) == 0) ||
	    (len == 17 && strncmp(line, "skip-checks: true", 17) == 0)))
		return 0;
	if (line == msg)
		return 0;
	p = line - 1;		/* the '\n' ending the previous line */
	if (p > msg && p[-1] == '\r')
		p--;
	if (p == msg || p[-1] != '\n')
		return 0;
	if (marker != NULL)
		*marker = "skip-checks: true";
	return 1;
}

static int
trigger_included(const struct wf_patterns *pl, const char *s)
{
	return glob_list_included(pl->v, pl->n, s, NULL);
}

/*
 * Ref filter for one kind: positive list (run if included) or -ignore list
 * (run unless included).  Returns 1 to run.
 */
static int
trigger_ref_filter(const struct wf_patterns *pos, const struct wf_patterns *ign,
    const char *name, const char *event, const char *what, char **reason)
{
	if (pos->set) {
		if (trigger_included(pos, name))
			return 1;
		trigger_why(reason, "%s '%s' does not match on.%s.%s", what,
		    name, event, strcmp(what, "tag") == 0 ? "tags" :
		    "branches");
		return 0;
	}
	if (ign->set && trigger_included(ign, name)) {
		trigger_why(reason, "%s '%s' matches on.%s.%s", what, name,
		    event, strcmp(what, "tag") == 0 ? "tags-ignore" :
		    "branches-ignore");
		return 0;
	}
	return 1;
}

static int
trigger_paths(const struct wf_on_filter *f, const struct trigger_event *ev,
    const char *event, char **reason)
{
	size_t	i, n;

	if (!f->paths.set && !f->paths_ignore.set)
		return 1;
	if (ev->paths_unknown)
		return 1;
	if (ev->npaths == 0) {
		trigger_why(reason, "no changed files to match against "
		    "on.%s.%s", event, f->paths.set ? "paths" :
		    "paths-ignore");
		return 0;
	}
	n = ev->npaths < TRIGGER_MAX_PATHS ? ev->npaths : TRIGGER_MAX_PATHS;
	if (f->paths.set) {
		for (i = 0; i < n; i++)
			if (trigger_included(&f->paths, ev->paths[i]))
				return 1;
		trigger_why(reason, "none of the %zu changed file%s matches "
		    "on.%s.paths", n, n == 1 ? "" : "s", event);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (!trigger_included(&f->paths_ignore, ev->paths[i]))
			return 1;
	trigger_why(reason, "all %zu changed file%s match on.%s.paths-ignore",
	    n, n == 1 ? "" : "s", event);
	return 0;
}

static int
trigger_push(const struct wf_on_filter *f, const struct trigger_event *ev,
    char **reason)
{
	const char	*ref = ev->ref != NULL ? ev->ref : "";
	int		 bf, tf;

	bf = f->branches.set || f->branches_ignore.set;
	tf = f->tags.set || f->tags_ignore.set;
	if (str_has_prefix(ref, "refs/heads/")) {
		const char *name = ref + strlen("refs/heads/");

		if (!bf && tf) {
			trigger_why(reason, "push to branch '%s', but on.push "
			    "has only tag filters", name);
			return 0;
		}
		if (bf && !trigger_ref_filter(&f->branches,
		    &f->branches_ignore, name, "push", "branch", reason))
			return 0;
		return trigger_paths(f, ev, "push", reason);
	}
	if (str_has_prefix(ref, "refs/tags/")) {
		const char *name = ref + strlen("refs/tags/");

		if (bf && !tf) {
			trigger_why(reason, "push of tag '%s', but on.push has "
			    "only branch filters", name);
			return 0;
		}
		/* Path filters are not evaluated for tag pushes. */
		return !tf || trigger_ref_filter(&f->tags, &f->tags_ignore,
		    name, "push", "tag", reason);
	}
	trigger_why(reason, "push of '%s', which is neither a branch "
	    "(refs/heads/) nor a tag (refs/tags/)", ref);
	return 0;
}

static int
trigger_in_list(const char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static int
trigger_pull_request(const struct wf_on_filter *f,
    const struct trigger_event *ev, char **reason)
{
	const char	*action = ev->action != NULL ? ev->action : "";
	const char	*base = ev->base_ref != NULL ? ev->base_ref : "";

	if (f->types.set) {
		if (!trigger_in_list((const char *const *)f->types.v,
		    f->types.n, action)) {
			trigger_why(reason, "activity '%s' is not listed in "
			    "on.%s.types", action, ev->name);
			return 0;
		}
	} else if (!trigger_in_list(trigger_pr_default_types,
	    nitems(trigger_pr_default_types), action)) {
		trigger_why(reason, "activity '%s' is not one of the default "
		    "types of on.%s (opened, synchronize, reopened); list it "
		    "under 'types'", action, ev->name);
		return 0;
	}
	if (str_has_prefix(base, "refs/heads/"))
		base += strlen("refs/heads/");
	if (!trigger_ref_filter(&f->branches, &f->branches_ignore, base,
	    ev->name, "base branch", reason))
		return 0;
	return trigger_paths(f, ev, ev->name, reason);
}

static const struct wf_event *
trigger_declared(const struct workflow *wf, const char *name)
{
	size_t i;

	for (i = 0; i < wf->on.nevents; i++)
		if (strcmp(wf->on.events[i].name, name) == 0)
			return &wf->on.events[i];
	return NULL;
}

/* Generic "types:" check for events kiln has no model for. */
static int
trigger_other(const struct wf_event *e, const struct trigger_event *ev,
    char **reason)
{
	json_t	*types, *t;
	size_t	 i;

	if (ev->action == NULL || !json_is_object(e->config))
		return 1;
	types = json_object_get(e->config, "types");
	if (json_is_string(types))
		return strcmp(json_string_value(types), ev->action) == 0 ? 1 :
		    (trigger_why(reason, "activity '%s' is not listed in "
		    "on.%s.types", ev->action, ev->name), 0);
	if (!json_is_array(types))
		return 1;
	json_array_foreach(types, i, t) {
		if (json_is_string(t) &&
		    strcmp(json_string_value(t), ev->action) == 0)
			return 1;
	}
	trigger_why(reason, "activity '%s' is not listed in on.%s.types",
	    ev->action, ev->name);
	return 0;
}

/*
 * The filters of the events that have them (push and pull requests), by
 * the event table's filter kind.
 */
static const struct wf_on_filter *
trigger_filter(const struct workflow *wf, const struct event_kind *kind)
{
	if (kind == NULL)
		return NULL;
	if (kind->filter == EVENT_FILTER_PUSH)
		return &wf->on.push;
	if (kind->filter != EVENT_FILTER_PULL)
		return NULL;
	return strcmp(kind->name, "pull_request_target") == 0 ?
	    &wf->on.pull_request_target : &wf->on.pull_request;
}

int
trigger_needs_paths(const struct workflow *wf, const char *event)
{
	const struct event_kind *kind = event_kind_find(event);
	const struct wf_on_filter *f = trigger_filter(wf, kind);

	return f != NULL && kind->paths && f->set &&
	    (f->paths.set || f->paths_ignore.set);
}

/* 1 if paths a and b name the same file (last path segment). */
int
trigger_same_file(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');

	return strcmp(sa ? sa + 1 : a, sb ? sb + 1 : b) == 0;
}

int
trigger_match(const struct workflow *wf, const struct trigger_event *ev,
    char **reason)
{
	const struct event_kind	*kind = event_kind_find(ev->name);
	const struct wf_on_filter *f;
	const struct wf_event	*e;
	const char		*marker;
	size_t			 i;

	if (reason != NULL)
		*reason = NULL;
	if (ev->name == NULL || (e = trigger_declared(wf, ev->name)) == NULL) {
		trigger_why(reason, "workflow is not triggered by '%s' events",
		    ev->name != NULL ? ev->name : "(unnamed)");
		return 0;
	}
	/* Made for one file: .github/workflows is flat, the name decides. */
	if (ev->workflow != NULL && !trigger_same_file(wf->path,
	    ev->workflow)) {
		trigger_why(reason, "the event is for workflow %s",
		    ev->workflow);
		return 0;
	}
	if (kind != NULL && kind->skip_markers &&
	    trigger_skip_marker(ev->head_message, &marker)) {
		trigger_why(reason, "head commit message contains '%s'",
		    marker);
		return 0;
	}
	if ((f = trigger_filter(wf, kind)) != NULL)
		return kind->filter == EVENT_FILTER_PUSH ?
		    trigger_push(f, ev, reason) :
		    trigger_pull_request(f, ev, reason);
	if (kind != NULL && kind->filter == EVENT_FILTER_SCHEDULE) {
		if (ev->cron == NULL)
			return wf->on.nschedules > 0 ? 1 :
			    (trigger_why(reason, "on.schedule has no cron "
			    "lines"), 0);
		for (i = 0; i < wf->on.nschedules; i++)
			if (wf->on.schedules[i].cron != NULL &&
			    strcmp(wf->on.schedules[i].cron, ev->cron) == 0)
				return 1;
		trigger_why(reason, "cron '%s' is not one of on.schedule",
		    ev->cron);
		return 0;
	}
	if (kind != NULL && kind->filter == EVENT_FILTER_DISPATCH)
		return 1;
	return trigger_other(e, ev, reason);
}
