/*
 * cmd_schedules: "cictl schedules [--repo OWNER/NAME] [--json]" -- the
 * cron lines kilnd fires (those of each repository's default branch),
 * with the next fire time (UTC) and the last slot fired and its run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cictl.h"

static const char *
sched_time(json_t *o, const char *key, char *out, size_t outsz)
{
	json_t *v = json_object_get(o, key);
	struct tm tm;
	time_t t;

	if (!json_is_integer(v))
		return "-";
	t = (time_t)json_integer_value(v);
	gmtime_r(&t, &tm);
	strftime(out, outsz, "%Y-%m-%d %H:%M UTC", &tm);
	return out;
}

int
cmd_schedules(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const head[] = { "REPOSITORY", "WORKFLOW", "CRON",
	    "NEXT", "LAST", "LAST RUN" };
	const char *repo = args->flag[0], *why, *row[6];
	char q[300], next[64], last[64], run[32];
	struct buf path = { 0 };
	struct table t;
	json_t *list, *s;
	size_t i;
	int rc, done;

	if (repo != NULL && cictl_valid_repo(repo, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad --repo '%s': %s",
		    output_safe(repo, 64, q, sizeof q), why);
	buf_add_str(&path, "/api/v1/schedules");
	if (repo != NULL)
		buf_printf(&path, "?repo=%s", repo);
	done = client_list(ctx, path.data, args->flag[1] != NULL,
	    "no schedules (they come from the default branch's workflows, "
	    "recorded when it is pushed)", &list, &rc);
	buf_free(&path);
	if (done)
		return rc;
	table_init(&t, 6, 80);
	table_add(&t, head);
	json_array_foreach(list, i, s) {
		row[0] = output_jstr(s, "repository");
		row[1] = output_jstr(s, "workflow");
		row[2] = output_jstr(s, "cron");
		row[3] = sched_time(s, "next_run_at", next, sizeof next);
		row[4] = sched_time(s, "last_slot", last, sizeof last);
		row[5] = output_jint(s, "last_run_id", run, sizeof run);
		table_add(&t, row);
	}
	table_print(&t, ctx->out, "");
	table_free(&t);
	json_decref(list);
	return CICTL_OK;
}
