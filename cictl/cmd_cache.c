/*
 * cmd_cache: "cictl cache list [--repo OWNER/NAME] [--json]" and "cictl
 * cache rm ID | --key KEY --repo OWNER/NAME" -- the actions/cache entries
 * kilnd's admin API lists and removes (GET /api/v1/caches, DELETE
 * /api/v1/caches/{id}).  rm by key removes every entry of that key in the
 * repository (all refs and path sets), as GitHub's "delete caches by key".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cictl.h"

#define CACHE_KEY_MAX	512

/* s percent-encoded for a query string into b. */
static void
cache_query_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL)
			buf_add_char(b, (char)c);
		else
			buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

static int
cache_repo_ok(struct cictl_ctx *ctx, const struct cmd_args *args,
    const char *repo)
{
	const char *why;
	char q[300];

	if (repo != NULL && cictl_valid_repo(repo, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad --repo '%s': %s",
		    output_safe(repo, 64, q, sizeof q), why);
	return CICTL_OK;
}

/* GET /api/v1/caches for repo and key (either NULL: any). */
static char *
cache_list_path(const char *repo, const char *key)
{
	struct buf path = { 0 };

	buf_add_str(&path, "/api/v1/caches?");
	if (repo != NULL)
		buf_printf(&path, "repo=%s&", repo);
	if (key != NULL) {
		buf_add_str(&path, "key=");
		cache_query_escape(&path, key);
		buf_add_char(&path, '&');
	}
	path.data[--path.len] = '\0';
	return buf_steal(&path);
}

int
cmd_cache_list(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const head[] = { "ID", "REPOSITORY", "KEY", "REF",
	    "SIZE", "LAST USED", "CREATED" };
	const char *row[7];
	char id[32], size[32], *path;
	struct table t;
	json_t *list, *e;
	size_t i;
	int done, rc;

	if ((rc = cache_repo_ok(ctx, args, args->flag[0])) != CICTL_OK)
		return rc;
	path = cache_list_path(args->flag[0], NULL);
	done = client_list(ctx, path, args->flag[1] != NULL,
	    "no cache entries", &list, &rc);
	free(path);
	if (done)
		return rc;
	table_init(&t, 7, 80);
	table_add(&t, head);
	json_array_foreach(list, i, e) {
		row[0] = output_jint(e, "id", id, sizeof id);
		row[1] = output_jstr(e, "repository");
		row[2] = output_jstr(e, "key");
		row[3] = output_jstr(e, "scope");
		row[4] = output_jint(e, "size_bytes", size, sizeof size);
		row[5] = output_jstr(e, "last_used_at");
		row[6] = output_jstr(e, "created_at");
		table_add(&t, row);
	}
	table_print(&t, ctx->out, NULL);
	table_free(&t);
	json_decref(list);
	return CICTL_OK;
}

/* DELETE one entry; CICTL_OK or the error reported. */
static int
cache_rm_one(struct cictl_ctx *ctx, const char *id)
{
	char err[512], *path;
	json_t *resp;

	path = xasprintf("/api/v1/caches/%s", id);
	resp = client_json(ctx, "DELETE", path, NULL, 0, NULL, NULL, err,
	    sizeof err);
	free(path);
	if (resp == NULL)
		return cictl_error(ctx, "cache entry %s: %s", id, err);
	fprintf(ctx->out, "cache entry %s removed (%s, key %s)\n", id,
	    output_jstr(resp, "repository"), output_jstr(resp, "key"));
	json_decref(resp);
	return CICTL_OK;
}

int
cmd_cache_rm(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	const char *key = args->flag[0], *repo = args->flag[1], *errstr;
	char id[32], q[300], err[512], *path;
	json_t *list, *e;
	int64_t n;
	size_t i;
	int rc;

	if (args->argc == 1) {
		if (key != NULL || repo != NULL)
			return cictl_usage_error(ctx, args->entry, "give an "
			    "ID or --key with --repo, not both");
		if (parse_int64(args->argv[0], 1, INT64_MAX, &n,
		    &errstr) == -1)
			return cictl_usage_error(ctx, args->entry, "bad ID "
			    "'%s': %s", output_safe(args->argv[0], 32, q,
			    sizeof q), errstr);
		snprintf(id, sizeof id, "%lld", (long long)n);
		return cache_rm_one(ctx, id);
	}
	if (key == NULL || repo == NULL)
		return cictl_usage_error(ctx, args->entry, "give an ID, or "
		    "--key KEY with --repo OWNER/NAME");
	if ((rc = cache_repo_ok(ctx, args, repo)) != CICTL_OK)
		return rc;
	if (key[0] == '\0' || strlen(key) > CACHE_KEY_MAX)
		return cictl_usage_error(ctx, args->entry, "bad --key: 1 to "
		    "%d bytes", CACHE_KEY_MAX);
	path = cache_list_path(repo, key);
	list = client_json(ctx, "GET", path, NULL, 0, NULL, NULL, err,
	    sizeof err);
	free(path);
	if (list == NULL)
		return cictl_error(ctx, "%s", err);
	if (!json_is_array(list) || json_array_size(list) == 0) {
		json_decref(list);
		return cictl_error(ctx, "%s has no cache entry with key %s",
		    repo, output_safe(key, 200, q, sizeof q));
	}
	rc = CICTL_OK;
	json_array_foreach(list, i, e)
		if (cache_rm_one(ctx, output_jint(e, "id", id, sizeof id)) !=
		    CICTL_OK)
			rc = CICTL_ERR;
	json_decref(list);
	return rc;
}
