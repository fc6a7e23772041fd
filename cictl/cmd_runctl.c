/*
 * cmd_runctl: "cictl cancel RUN_ID", "cictl cancel --job JOB_ID" and
 * "cictl rerun RUN_ID [--failed]" -- kilnd's run control (daemon/runctl.c)
 * over the admin API.  kilnd words the answer; cictl prints it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cictl.h"

static int
runctl_post(struct cictl_ctx *ctx, const char *path, const char *body)
{
	char err[512], q[300];
	json_t *resp;
	const char *msg;

	resp = client_json(ctx, "POST", path, body, body ? strlen(body) : 0,
	    NULL, NULL, err, sizeof err);
	if (resp == NULL)
		return cictl_error(ctx, "%s", err);
	msg = output_jstr(resp, "message");
	fprintf(ctx->out, "%s\n", msg ? output_safe(msg, 200, q, sizeof q) :
	    "done");
	json_decref(resp);
	return CICTL_OK;
}

static int
runctl_id(struct cictl_ctx *ctx, const struct cmd_args *args,
    const char *text, const char *what, int64_t *id)
{
	const char *why;
	char q[300];

	if (cictl_parse_id(text, id, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad %s '%s': %s",
		    what, output_safe(text, 32, q, sizeof q), why);
	return CICTL_OK;
}

int
cmd_runctl_cancel(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	const char *job = args->flag[0];
	char path[96];
	int64_t id;
	int rc;

	if ((job == NULL) == (args->argc == 0))
		return cictl_usage_error(ctx, args->entry, "give a RUN_ID or "
		    "--job JOB_ID (one of them)");
	if (job != NULL) {
		if ((rc = runctl_id(ctx, args, job, "job id", &id)) != CICTL_OK)
			return rc;
		snprintf(path, sizeof path, "/api/v1/jobs/%lld/cancel",
		    (long long)id);
	} else {
		if ((rc = runctl_id(ctx, args, args->argv[0], "run id",
		    &id)) != CICTL_OK)
			return rc;
		snprintf(path, sizeof path, "/api/v1/runs/%lld/cancel",
		    (long long)id);
	}
	return runctl_post(ctx, path, NULL);
}

int
cmd_runctl_rerun(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	char path[96];
	int64_t id;
	int rc;

	if ((rc = runctl_id(ctx, args, args->argv[0], "run id", &id)) !=
	    CICTL_OK)
		return rc;
	snprintf(path, sizeof path, "/api/v1/runs/%lld/rerun", (long long)id);
	return runctl_post(ctx, path, args->flag[0] != NULL ?
	    "{\"failed_only\":true}" : "{\"failed_only\":false}");
}
