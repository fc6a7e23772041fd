/*
 * cmd_outbox: "cictl outbox [--failed] [--json]" -- the calls kilnd makes to
 * GitHub's API (sql/009_outbox.sql): pending with their next attempt,
 * failed with GitHub's answer, delivered ones still kept; and "cictl
 * outbox retry ID", which sends a failed call again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cictl.h"

static const char *
outbox_str(json_t *o, const char *key)
{
	const char *s = output_jstr(o, key);

	return s != NULL ? s : "";
}

static int
outbox_retry(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	char err[512], q[300], path[64];
	const char *why, *msg;
	int64_t id;
	json_t *resp;
	int retried;

	if (args->argc != 2 || strcmp(args->argv[0], "retry") != 0)
		return cictl_usage_error(ctx, args->entry, "expected 'retry ID'");
	if (cictl_parse_id(args->argv[1], &id, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad call id '%s': %s",
		    output_safe(args->argv[1], 32, q, sizeof q), why);
	snprintf(path, sizeof path, "/api/v1/outbox/%lld/retry", (long long)id);
	resp = client_json(ctx, "POST", path, NULL, 0, NULL, NULL, err,
	    sizeof err);
	if (resp == NULL)
		return cictl_error(ctx, "call %lld: %s", (long long)id, err);
	msg = output_jstr(resp, "message");
	retried = json_is_true(json_object_get(resp, "retried"));
	if (!retried) {
		int rc = cictl_error(ctx, "%s", msg ? output_safe(msg, 200, q,
		    sizeof q) : "not retried");

		json_decref(resp);
		return rc;
	}
	fprintf(ctx->out, "%s\n", msg ? output_safe(msg, 200, q, sizeof q) :
	    "queued again");
	json_decref(resp);
	return CICTL_OK;
}

int
cmd_outbox(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const head[] = { "ID", "STATUS", "REPOSITORY",
	    "COMMIT", "CONTEXT", "STATE", "TRIES", "ANSWER" };
	const char *row[8];
	char id[32], tries[32], http[32], sha[16], answer[400], state[80];
	struct table t;
	json_t *list, *o;
	size_t i;
	int rc;

	if (args->argc > 0)
		return outbox_retry(ctx, args);
	if (client_list(ctx, args->flag[0] != NULL ?
	    "/api/v1/outbox?failed=1" : "/api/v1/outbox",
	    args->flag[1] != NULL, args->flag[0] != NULL ? "no failed calls" :
	    "no calls to GitHub (is [github] token_file set?)", &list, &rc))
		return rc;
	table_init(&t, 8, 100);
	table_add(&t, head);
	json_array_foreach(list, i, o) {
		const char *status = outbox_str(o, "status");
		const char *error = outbox_str(o, "error");

		row[0] = output_jint(o, "id", id, sizeof id);
		row[1] = status;
		row[2] = outbox_str(o, "repository");
		snprintf(sha, sizeof sha, "%.7s", outbox_str(o, "sha"));
		row[3] = sha;
		row[4] = outbox_str(o, "context");
		/*
		 * The commit status's state, and the job's as its check run
		 * has it (App mode sends that instead).
		 */
		if (outbox_str(o, "job_status")[0] != '\0')
			snprintf(state, sizeof state, "%s (%s%s%s)",
			    outbox_str(o, "state"), outbox_str(o, "job_status"),
			    outbox_str(o, "conclusion")[0] != '\0' ? " " : "",
			    outbox_str(o, "conclusion"));
		else
			snprintf(state, sizeof state, "%s",
			    outbox_str(o, "state"));
		row[5] = state;
		row[6] = output_jint(o, "attempts", tries, sizeof tries);
		if (strcmp(status, "pending") == 0 && error[0] == '\0')
			snprintf(answer, sizeof answer, "next %s",
			    outbox_str(o, "next_at"));
		else if (error[0] != '\0')
			snprintf(answer, sizeof answer, "HTTP %s: %s",
			    output_jint(o, "http_status", http, sizeof http),
			    error);
		else
			snprintf(answer, sizeof answer, "HTTP %s",
			    output_jint(o, "http_status", http, sizeof http));
		row[7] = answer;
		table_add(&t, row);
	}
	table_print(&t, ctx->out, "");
	table_free(&t);
	json_decref(list);
	return CICTL_OK;
}
