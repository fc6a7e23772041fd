/*
 * cmd_dispatch: "cictl dispatch OWNER/NAME WORKFLOW [--ref REF] [-f
 * NAME=VALUE ...]" -- run a workflow by hand (workflow_dispatch).  Inputs
 * travel as strings, as GitHub's form sends them; kilnd's planner checks
 * them against the workflow (common/dispatch.c) and the refusal, naming
 * the input, is printed as the error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cictl.h"
#include "dispatch.h"

int
cmd_dispatch(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	const char *repo = args->argv[0], *file = args->argv[1], *ref =
	    args->flag[0], *why, *slash, *eq;
	char q[300], err[1024], *body, *path;
	json_t *req, *inputs, *resp, *runs, *r;
	size_t i;

	if (cictl_valid_repo(repo, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad repository "
		    "'%s': %s", output_safe(repo, 64, q, sizeof q), why);
	/* .github/workflows/x.yml or x.yml: the file name decides. */
	if ((slash = strrchr(file, '/')) != NULL)
		file = slash + 1;
	if (args->nvalues[1] > DISPATCH_MAX_INPUTS)
		return cictl_usage_error(ctx, args->entry, "%zu inputs given; "
		    "at most %d", args->nvalues[1], DISPATCH_MAX_INPUTS);
	inputs = json_object();
	for (i = 0; i < args->nvalues[1]; i++) {
		const char *kv = args->values[1][i];
		char *name;

		if ((eq = strchr(kv, '=')) == NULL || eq == kv) {
			json_decref(inputs);
			return cictl_usage_error(ctx, args->entry, "-f wants "
			    "NAME=VALUE, not '%s'", output_safe(kv, 64, q,
			    sizeof q));
		}
		name = xstrndup(kv, (size_t)(eq - kv));
		if (json_object_get(inputs, name) != NULL ||
		    json_object_set_new(inputs, name, json_string(eq + 1)) ==
		    -1) {
			json_decref(inputs);
			free(name);
			return cictl_usage_error(ctx, args->entry, "input '%s' "
			    "given twice or not UTF-8", output_safe(kv, 64, q,
			    sizeof q));
		}
		free(name);
	}
	req = json_pack("{s:s, s:o}", "workflow", file, "inputs", inputs);
	if (req == NULL)
		return cictl_error(ctx, "workflow name is not valid UTF-8");
	if (ref != NULL)
		json_object_set_new(req, "ref", json_string(ref));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	path = xasprintf("/api/v1/repos/%s/dispatches", repo);
	resp = client_json(ctx, "POST", path, body, strlen(body), NULL, NULL,
	    err, sizeof err);
	free(path);
	free(body);
	if (resp == NULL)
		return cictl_error(ctx, "dispatch refused: %s", err);
	runs = json_object_get(resp, "runs");
	if (json_array_size(runs) == 0)
		fprintf(ctx->out, "event %" JSON_INTEGER_FORMAT " queued; not "
		    "planned yet\n", json_integer_value(json_object_get(resp,
		    "event_id")));
	json_array_foreach(runs, i, r)
		fprintf(ctx->out, "run %" JSON_INTEGER_FORMAT " queued\n",
		    json_integer_value(r));
	json_decref(resp);
	return CICTL_OK;
}
