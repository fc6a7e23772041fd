/*
 * cmd_secret: "cictl secret set|list|rm OWNER/NAME [NAME]" and "cictl var
 * set|list|rm" -- a repository's secrets and configuration variables.  A
 * secret's value never travels on the command line (world-readable in
 * /proc): it is read from standard input or --file, one trailing newline
 * dropped, and wiped after sending.  kilnd never sends a secret back: list
 * shows names and times.  Names are checked here with kilnd's own rules
 * (common/secrets.c) so a mistake is named before anything is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cictl.h"
#include "secrets.h"

static int
secret_args(struct cictl_ctx *ctx, const struct cmd_args *args, int named,
    const char *what)
{
	const char *why;
	char q[300], err[300];

	if (cictl_valid_repo(args->argv[0], &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad repository "
		    "'%s': %s", output_safe(args->argv[0], 64, q, sizeof q),
		    why);
	if (named && secrets_name_check(args->argv[1], what, err,
	    sizeof err) == -1)
		return cictl_error(ctx, "%s", output_safe(err, 200, q,
		    sizeof q));
	return CICTL_OK;
}

static int
secret_set(struct cictl_ctx *ctx, const struct cmd_args *args, int secret)
{
	const char *what = secret ? "secret" : "variable";
	const char *file = args->flag[0];
	char err[512], *value = NULL, *body = NULL, *path;
	json_t *req = NULL, *resp;
	size_t len = 0;
	int rc;

	if ((rc = secret_args(ctx, args, 1, what)) != CICTL_OK)
		return rc;
	if (!secret && args->argc == 3) {
		value = xstrdup(args->argv[2]);
		len = strlen(value);
	} else if ((value = cmd_repo_read_value(file ? file : "-", ctx->in,
	    secret ? SECRETS_VALUE_MAX : VARS_VALUE_MAX, 0, &len, err,
	    sizeof err)) == NULL)
		return cictl_error(ctx, "%s", err);
	req = json_object();
	if (json_object_set_new(req, "value", json_stringn(value, len)) ==
	    -1) {
		rc = cictl_error(ctx, "the %s's value is not valid UTF-8", what);
		goto out;
	}
	body = json_dumps(req, JSON_COMPACT);
	path = xasprintf("/api/v1/repos/%s/%s/%s", args->argv[0], secret ?
	    "secrets" : "variables", args->argv[1]);
	resp = client_json(ctx, "PUT", path, body, strlen(body), NULL, NULL,
	    err, sizeof err);
	free(path);
	if (resp == NULL) {
		rc = cictl_error(ctx, "%s", err);
		goto out;
	}
	fprintf(ctx->out, "%s %s set for %s\n", what,
	    output_jstr(resp, "name"), args->argv[0]);
	json_decref(resp);
	rc = CICTL_OK;
out:
	if (body != NULL) {
		explicit_bzero(body, strlen(body));
		free(body);
	}
	if (req != NULL) {
		json_t *v = json_object_get(req, "value");

		/* jansson's copy is ours alone: wipe it before freeing. */
		if (v != NULL)
			explicit_bzero((char *)(uintptr_t)json_string_value(v),
			    json_string_length(v));
		json_decref(req);
	}
	explicit_bzero(value, len);
	free(value);
	return rc;
}

static int
secret_list(struct cictl_ctx *ctx, const struct cmd_args *args, int secret)
{
	static const char *const shead[] = { "NAME", "UPDATED" };
	static const char *const vhead[] = { "NAME", "VALUE", "UPDATED" };
	const char *row[3];
	struct table t;
	json_t *list, *s;
	char *path;
	size_t i;
	int rc, done;

	if ((rc = secret_args(ctx, args, 0, NULL)) != CICTL_OK)
		return rc;
	path = xasprintf("/api/v1/repos/%s/%s", args->argv[0], secret ?
	    "secrets" : "variables");
	done = client_list(ctx, path, args->flag[0] != NULL, secret ?
	    "no secrets" : "no variables", &list, &rc);
	free(path);
	if (done)
		return rc;
	table_init(&t, secret ? 2 : 3, 80);
	table_add(&t, secret ? shead : vhead);
	json_array_foreach(list, i, s) {
		row[0] = output_jstr(s, "name");
		if (secret)
			row[1] = output_jstr(s, "updated_at");
		else {
			row[1] = output_jstr(s, "value");
			row[2] = output_jstr(s, "updated_at");
		}
		table_add(&t, row);
	}
	table_print(&t, ctx->out, "");
	table_free(&t);
	json_decref(list);
	return CICTL_OK;
}

static int
secret_rm(struct cictl_ctx *ctx, const struct cmd_args *args, int secret)
{
	const char *what = secret ? "secret" : "variable";
	char err[512], *path;
	json_t *resp;
	int rc;

	if ((rc = secret_args(ctx, args, 1, what)) != CICTL_OK)
		return rc;
	path = xasprintf("/api/v1/repos/%s/%s/%s", args->argv[0], secret ?
	    "secrets" : "variables", args->argv[1]);
	resp = client_json(ctx, "DELETE", path, NULL, 0, NULL, NULL, err,
	    sizeof err);
	free(path);
	if (resp == NULL)
		return cictl_error(ctx, "%s", err);
	fprintf(ctx->out, "%s %s removed from %s\n", what,
	    output_jstr(resp, "name"), args->argv[0]);
	json_decref(resp);
	return CICTL_OK;
}

int
cmd_secret_set(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	return secret_set(ctx, args, 1);
}

int
cmd_secret_list(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	return secret_list(ctx, args, 1);
}

int
cmd_secret_rm(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	return secret_rm(ctx, args, 1);
}

int
cmd_var_set(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	return secret_set(ctx, args, 0);
}

int
cmd_var_list(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	return secret_list(ctx, args, 0);
}

int
cmd_var_rm(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	return secret_rm(ctx, args, 0);
}
