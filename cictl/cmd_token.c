/*
 * cmd_token: "cictl token create NAME [--scope read|admin]", "token list"
 * and "token revoke NAME": the API tokens of the web page and the public
 * /api/v1 (daemon/auth.c).  kilnd makes the token and stores only its
 * SHA-256; create prints it once, here, and nothing can show it again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cictl.h"

/* Names as kilnd accepts them: nothing to escape in a path. */
static int
token_valid_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 100 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

int
cmd_token_create(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	const char *scope = args->flag[0] ? args->flag[0] : "read", *tok;
	char err[512], q[300];
	json_t *req, *resp;
	char *body;

	if (!token_valid_name(args->argv[0]))
		return cictl_usage_error(ctx, args->entry, "bad token name "
		    "'%s': letters, digits, '-', '_', '.'",
		    output_safe(args->argv[0], 100, q, sizeof q));
	if (strcmp(scope, "read") != 0 && strcmp(scope, "admin") != 0)
		return cictl_usage_error(ctx, args->entry, "bad scope '%s': "
		    "read or admin", output_safe(scope, 32, q, sizeof q));
	req = json_pack("{s:s,s:s}", "name", args->argv[0], "scope", scope);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	resp = client_json(ctx, "POST", "/api/v1/tokens", body, strlen(body),
	    NULL, NULL, err, sizeof err);
	free(body);
	if (resp == NULL)
		return cictl_error(ctx, "%s", err);
	if ((tok = output_jstr(resp, "token")) == NULL) {
		json_decref(resp);
		return cictl_error(ctx, "kilnd's answer has no token");
	}
	fprintf(ctx->out, "%s\n", tok);
	fprintf(ctx->err, "token %s (scope %s) created; it is shown only "
	    "this once\n", output_safe(args->argv[0], 100, q, sizeof q),
	    scope);
	json_decref(resp);
	return CICTL_OK;
}

int
cmd_token_list(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const head[] = { "NAME", "SCOPE", "CREATED",
	    "LAST USED" };
	const char *row[4];
	struct table t;
	json_t *list, *o;
	size_t i;
	int rc;

	if (client_list(ctx, "/api/v1/tokens", args->flag[0] != NULL,
	    "no tokens", &list, &rc))
		return rc;
	table_init(&t, 4, 80);
	table_add(&t, head);
	json_array_foreach(list, i, o) {
		row[0] = output_jstr(o, "name");
		row[1] = output_jstr(o, "scope");
		row[2] = output_jstr(o, "created_at");
		row[3] = output_jstr(o, "last_used_at");
		if (row[3] == NULL)
			row[3] = "never";
		table_add(&t, row);
	}
	table_print(&t, ctx->out, "");
	table_free(&t);
	json_decref(list);
	return CICTL_OK;
}

int
cmd_token_revoke(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	char err[512], q[300], *path;
	json_t *resp;

	if (!token_valid_name(args->argv[0]))
		return cictl_usage_error(ctx, args->entry, "bad token name "
		    "'%s': letters, digits, '-', '_', '.'",
		    output_safe(args->argv[0], 100, q, sizeof q));
	path = xasprintf("/api/v1/tokens/%s", args->argv[0]);
	resp = client_json(ctx, "DELETE", path, NULL, 0, NULL, NULL, err,
	    sizeof err);
	free(path);
	if (resp == NULL)
		return cictl_error(ctx, "%s", err);
	fprintf(ctx->out, "token %s revoked (its page logins end)\n",
	    output_safe(args->argv[0], 100, q, sizeof q));
	json_decref(resp);
	return CICTL_OK;
}
