/*
 * cmd_repo: "cictl repo add" and "cictl repo list" -- the repositories kilnd
 * accepts webhooks for.  The webhook secret never goes on the command line
 * (where ps and shell history would see it): it is read from a file or from
 * stdin, sent once in the POST body, and wiped from every buffer cictl
 * holds it in.  The API never returns it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cictl.h"

char *
cmd_repo_read_value(const char *path, FILE *in, size_t max, size_t *lenp,
    char *err, size_t errsz)
{
	/* One spare byte for the newline, one to notice an overlong value. */
	size_t cap = max + 2, n = 0, r;
	char *tmp = xmalloc(cap), *secret = NULL;
	FILE *f = in;
	char q[300];

	output_safe(strcmp(path, "-") == 0 ? "stdin" : path, 200, q, sizeof q);
	if (strcmp(path, "-") != 0 && (f = fopen(path, "re")) == NULL) {
		snprintf(err, errsz, "cannot open secret file %s: %s", q,
		    strerror(errno));
		free(tmp);
		return NULL;
	}
	errno = 0;
	while (n < cap) {
		r = fread(tmp + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	if (ferror(f)) {
		snprintf(err, errsz, "cannot read secret from %s: %s", q,
		    strerror(errno != 0 ? errno : EIO));
		goto out;
	}
	if (n > 0 && tmp[n - 1] == '\n')
		n--;
	if (n > max) {
		snprintf(err, errsz, "secret from %s is longer than %zu bytes", q,
		    max);
		goto out;
	}
	if (n == 0) {
		snprintf(err, errsz, "secret from %s is empty", q);
		goto out;
	}
	if (memchr(tmp, '\0', n) != NULL) {
		snprintf(err, errsz, "secret from %s contains a NUL byte", q);
		goto out;
	}
	secret = xmalloc(n + 1);
	memcpy(secret, tmp, n);
	secret[n] = '\0';
	*lenp = n;
out:
	explicit_bzero(tmp, cap);
	free(tmp);
	if (f != in)
		fclose(f);
	return secret;
}

char *
cmd_repo_read_secret(const char *path, FILE *in, size_t *lenp, char *err,
    size_t errsz)
{
	return cmd_repo_read_value(path, in, CICTL_MAX_SECRET, lenp, err,
	    errsz);
}

/* Wipe a jansson string's own copy of a secret before it is freed. */
static void
cmd_repo_wipe_json_string(json_t *s)
{
	/*
	 * json_string_value() hands out the string's storage; it is ours
	 * alone (refcount 1, never shared), so scribbling on it is safe.
	 */
	if (s != NULL)
		explicit_bzero((char *)json_string_value(s),
		    json_string_length(s));
}

int
cmd_repo_add(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	const char *name = args->argv[0], *url = args->flag[0];
	const char *secret_file = args->flag[1], *branch = args->flag[2], *why;
	json_t *req = NULL, *jsecret = NULL, *resp = NULL, *id;
	char err[1024], q[300], *secret = NULL, *body = NULL;
	size_t secret_len = 0;
	long status = 0;
	int rc = CICTL_ERR;

	if (cictl_valid_repo(name, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad repository "
		    "'%s': %s", output_safe(name, 64, q, sizeof q), why);
	if (cictl_valid_url(url, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad --url: %s", why);
	/* A branch name as git allows one, roughly: no blanks or controls. */
	if (branch != NULL && (branch[0] == '\0' || strlen(branch) > 255 ||
	    branch[strcspn(branch, " \t\r\n~^:?*[\\")] != '\0'))
		return cictl_usage_error(ctx, args->entry, "bad --default-branch "
		    "'%s'", output_safe(branch, 64, q, sizeof q));

	if ((secret = cmd_repo_read_secret(secret_file, ctx->in, &secret_len,
	    err, sizeof err)) == NULL)
		return cictl_error(ctx, "%s", err);
	if ((jsecret = json_stringn(secret, secret_len)) == NULL) {
		rc = cictl_error(ctx, "secret is not valid UTF-8");
		goto out;
	}
	req = json_object();
	if (json_object_set_new(req, "full_name", json_string(name)) == -1 ||
	    json_object_set_new(req, "clone_url", json_string(url)) == -1) {
		rc = cictl_error(ctx, "--url is not valid UTF-8");
		goto out;
	}
	json_object_set(req, "secret", jsecret);
	if (branch != NULL)
		json_object_set_new(req, "default_branch", json_string(branch));
	body = json_dumps(req, JSON_COMPACT);
	if (body == NULL) {
		rc = cictl_error(ctx, "cannot encode the request");
		goto out;
	}

	resp = client_json(ctx, "POST", "/api/v1/repos", body, strlen(body),
	    &status, NULL, err, sizeof err);
	if (resp == NULL) {
		rc = cictl_error(ctx, "%s", err);
		goto out;
	}
	id = json_object_get(resp, "id");
	if (json_is_integer(id))
		fprintf(ctx->out, "%s %s (id %" JSON_INTEGER_FORMAT ")\n",
		    status == 201 ? "added" : "updated", name,
		    json_integer_value(id));
	else
		fprintf(ctx->out, "%s %s\n", status == 201 ? "added" :
		    "updated", name);
	rc = CICTL_OK;
out:
	if (body != NULL) {
		explicit_bzero(body, strlen(body));
		free(body);
	}
	cmd_repo_wipe_json_string(jsecret);
	json_decref(jsecret);
	json_decref(req);
	json_decref(resp);
	if (secret != NULL) {
		explicit_bzero(secret, secret_len);
		free(secret);
	}
	return rc;
}

int
cmd_repo_list(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const head[] = { "ID", "REPOSITORY", "BRANCH",
	    "CLONE URL", "CREATED" };
	struct table t;
	json_t *list, *r;
	const char *row[5];
	char idbuf[32];
	size_t i;
	int rc;

	if (client_list(ctx, "/api/v1/repos", args->flag[0] != NULL,
	    "no repositories", &list, &rc))
		return rc;
	table_init(&t, 5, 80);
	table_add(&t, head);
	json_array_foreach(list, i, r) {
		row[0] = output_jint(r, "id", idbuf, sizeof idbuf);
		row[1] = output_jstr(r, "full_name");
		row[2] = output_jstr(r, "default_branch");
		row[3] = output_jstr(r, "clone_url");
		row[4] = output_jstr(r, "created_at");
		table_add(&t, row);
	}
	table_print(&t, ctx->out, NULL);
	table_free(&t);
	json_decref(list);
	return CICTL_OK;
}
