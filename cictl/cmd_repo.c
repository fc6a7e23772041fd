/*
 * cmd_repo: "cictl repo add" and "cictl repo list" -- the repositories kilnd
 * accepts webhooks for.  The webhook secret never goes on the command line
 * (where ps and shell history would see it): it is read from a file or from
 * stdin, sent once in the POST body, and wiped from every buffer cictl
 * holds it in.  The API never returns it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cictl.h"

char *
cmd_repo_read_value(const char *path, FILE *in, size_t max, int private,
    size_t *lenp, char *err, size_t errsz)
{
	struct stat st = { 0 };
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
	/* A credential others may read is refused before it is used. */
	if (private && f != in && (fstat(fileno(f), &st) == -1 ||
	    !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0)) {
		snprintf(err, errsz, "%s must be a regular file neither group "
		    "nor others may read (mode %04o): chmod 600 %s", q,
		    (unsigned)(st.st_mode & 07777), q);
		goto out;
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
	return cmd_repo_read_value(path, in, CICTL_MAX_SECRET, 0, lenp, err,
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
	if (json_is_string(s))
		explicit_bzero((char *)json_string_value(s),
		    json_string_length(s));
}

/* Wipe and free a request's copies of a secret (any may be NULL). */
static void
cmd_repo_wipe(char *body, json_t *jsecret, char *secret, size_t secret_len)
{
	if (body != NULL) {
		explicit_bzero(body, strlen(body));
		free(body);
	}
	cmd_repo_wipe_json_string(jsecret);
	json_decref(jsecret);
	if (secret != NULL) {
		explicit_bzero(secret, secret_len);
		free(secret);
	}
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
	cmd_repo_wipe(body, jsecret, secret, secret_len);
	json_decref(req);
	json_decref(resp);
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

/* A string field of an answer, escaped, or "-". */
static const char *
cmd_repo_str(json_t *o, const char *key)
{
	const char *s = output_jstr(o, key);

	return s != NULL ? s : "-";
}

/* A JSON array of strings as "a, b, c" (escaped), or "-" when empty. */
static void
cmd_repo_names(json_t *list, char *out, size_t outsz)
{
	char safe[300];
	size_t i, len = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(list, i, v) {
		if (!json_is_string(v))
			continue;
		output_safe(json_string_value(v), 100, safe, sizeof safe);
		if (len < outsz)
			len += snprintf(out + len, outsz - len, "%s%s",
			    len > 0 ? ", " : "", safe);
	}
	if (out[0] == '\0')
		snprintf(out, outsz, "-");
}

static void
cmd_repo_show_text(FILE *f, json_t *repo)
{
	static const char *const head[] = { "RUN", "#", "WORKFLOW", "EVENT",
	    "BRANCH", "STATUS", "CONCLUSION", "CREATED" };
	char secrets[2048], vars[2048], num[4][32];
	const char *row[8];
	struct table t;
	json_t *r;
	size_t i;

	cmd_repo_names(json_object_get(repo, "secrets"), secrets,
	    sizeof secrets);
	cmd_repo_names(json_object_get(repo, "variables"), vars, sizeof vars);
	table_init(&t, 2, 200);
#define CMD_REPO_ROW(label, value) do {					\
	row[0] = (label);						\
	row[1] = (value);						\
	table_add(&t, row);						\
} while (0)
	CMD_REPO_ROW("Repository", output_jstr(repo, "full_name"));
	CMD_REPO_ROW("Id", output_jint(repo, "id", num[0], sizeof num[0]));
	CMD_REPO_ROW("Clone URL", output_jstr(repo, "clone_url"));
	CMD_REPO_ROW("Default branch", output_jstr(repo, "default_branch"));
	CMD_REPO_ROW("Created", output_jstr(repo, "created_at"));
	if (output_jstr(repo, "removed_at") != NULL)
		CMD_REPO_ROW("Removed", output_jstr(repo, "removed_at"));
	CMD_REPO_ROW("GitHub token", !json_is_true(json_object_get(repo,
	    "github_token")) ? "none ([github]'s is used)" :
	    json_is_true(json_object_get(repo, "github_token_used")) ?
	    "set (its commit statuses are sent with it)" :
	    "set, unused: kilnd has no [github] section");
	CMD_REPO_ROW("Secrets", secrets);
	CMD_REPO_ROW("Variables", vars);
	CMD_REPO_ROW("Schedules", output_jint(repo, "schedules", num[1],
	    sizeof num[1]));
	CMD_REPO_ROW("Runs", output_jint(repo, "runs_total", num[2],
	    sizeof num[2]));
#undef CMD_REPO_ROW
	table_print(&t, f, NULL);
	table_free(&t);
	if (json_array_size(json_object_get(repo, "last_runs")) == 0)
		return;
	fprintf(f, "\nLast runs:\n");
	table_init(&t, 8, 60);
	table_add(&t, head);
	json_array_foreach(json_object_get(repo, "last_runs"), i, r) {
		row[0] = output_jint(r, "id", num[0], sizeof num[0]);
		row[1] = output_jint(r, "run_number", num[1], sizeof num[1]);
		row[2] = output_jstr(r, "name");
		row[3] = output_jstr(r, "event");
		row[4] = output_jstr(r, "head_branch");
		row[5] = output_jstr(r, "status");
		row[6] = output_jstr(r, "conclusion");
		row[7] = output_jstr(r, "created_at");
		table_add(&t, row);
	}
	table_print(&t, f, "  ");
	table_free(&t);
}

/*
 * One request about one repository (/api/v1/repos/OWNER/NAME[?query]):
 * the answer as kilnd's JSON with --json, else through print.
 */
static int
cmd_repo_request(struct cictl_ctx *ctx, const struct cmd_args *args,
    const char *method, const char *query, const char *body, int json,
    void (*print)(FILE *, json_t *))
{
	const char *name = args->argv[0], *why;
	struct buf raw = { 0 };
	char path[300], err[1024], q[300];
	json_t *resp;

	if (cictl_valid_repo(name, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad repository "
		    "'%s': %s", output_safe(name, 64, q, sizeof q), why);
	snprintf(path, sizeof path, "/api/v1/repos/%s%s", name,
	    query != NULL ? query : "");
	resp = client_json(ctx, method, path, body, body ? strlen(body) : 0,
	    NULL, json ? &raw : NULL, err, sizeof err);
	if (resp == NULL)
		return cictl_error(ctx, "%s", err);
	if (!json_is_object(resp)) {
		json_decref(resp);
		buf_free(&raw);
		return cictl_error(ctx, "kilnd sent a non-object for %s", path);
	}
	if (json)
		output_json_raw(ctx->out, &raw);
	else
		print(ctx->out, resp);
	buf_free(&raw);
	json_decref(resp);
	return CICTL_OK;
}

int
cmd_repo_show(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	return cmd_repo_request(ctx, args, "GET", NULL, NULL,
	    args->flag[0] != NULL, cmd_repo_show_text);
}

static void
cmd_repo_edited(FILE *f, json_t *repo)
{
	fprintf(f, "updated %s: clone URL %s, default branch %s, GitHub "
	    "token %s\n", cmd_repo_str(repo, "full_name"),
	    cmd_repo_str(repo, "clone_url"), cmd_repo_str(repo,
	    "default_branch"), json_is_true(json_object_get(repo,
	    "github_token")) ? "its own" : "[github]'s");
}

/* The longest GitHub token --token-file reads. */
#define CMD_REPO_MAX_TOKEN	4096

/*
 * --token-file (a private file, or - : stdin) as the request's
 * "github_token", or --clear-token as null.  0, or -1 with err.
 */
static int
cmd_repo_token(struct cictl_ctx *ctx, const char *path, int clear,
    json_t *req, char *err, size_t errsz)
{
	char *token;
	size_t len = 0;
	json_t *j;

	if (clear)
		return json_object_set_new(req, "github_token", json_null());
	if ((token = cmd_repo_read_value(path, ctx->in, CMD_REPO_MAX_TOKEN, 1,
	    &len, err, errsz)) == NULL)
		return -1;
	j = json_stringn(token, len);
	explicit_bzero(token, len);
	free(token);
	if (j == NULL) {
		snprintf(err, errsz, "the token is not valid UTF-8");
		return -1;
	}
	/* req's copy is wiped by cmd_repo_edit before it is freed. */
	json_object_set_new(req, "github_token", j);
	return 0;
}

int
cmd_repo_edit(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	const char *url = args->flag[0], *secret_file = args->flag[1];
	const char *branch = args->flag[2], *why;
	const char *token_file = args->flag[4];
	int clear_token = args->flag[5] != NULL;
	json_t *req = json_object(), *jsecret = NULL;
	char err[1024], q[300], *secret = NULL, *body = NULL;
	size_t secret_len = 0;
	int rc = CICTL_ERR;

	if (url == NULL && secret_file == NULL && branch == NULL &&
	    token_file == NULL && !clear_token) {
		rc = cictl_usage_error(ctx, args->entry, "nothing to change: "
		    "give --url, --secret-file, --default-branch, --token-file "
		    "or --clear-token");
		goto out;
	}
	if (token_file != NULL && clear_token) {
		rc = cictl_usage_error(ctx, args->entry, "give --token-file or "
		    "--clear-token, not both");
		goto out;
	}
	if (token_file != NULL && secret_file != NULL &&
	    strcmp(token_file, "-") == 0 && strcmp(secret_file, "-") == 0) {
		rc = cictl_usage_error(ctx, args->entry, "only one of "
		    "--secret-file and --token-file can read stdin");
		goto out;
	}
	if ((token_file != NULL || clear_token) && cmd_repo_token(ctx,
	    token_file, clear_token, req, err, sizeof err) == -1) {
		rc = cictl_error(ctx, "--token-file: %s", err);
		goto out;
	}
	if (url != NULL && cictl_valid_url(url, &why) == -1) {
		rc = cictl_usage_error(ctx, args->entry, "bad --url: %s", why);
		goto out;
	}
	if (branch != NULL && (branch[0] == '\0' || strlen(branch) > 255 ||
	    branch[strcspn(branch, " \t\r\n~^:?*[\\")] != '\0')) {
		rc = cictl_usage_error(ctx, args->entry, "bad --default-branch "
		    "'%s'", output_safe(branch, 64, q, sizeof q));
		goto out;
	}
	if (url != NULL && json_object_set_new(req, "clone_url",
	    json_string(url)) == -1) {
		rc = cictl_error(ctx, "--url is not valid UTF-8");
		goto out;
	}
	if (branch != NULL && json_object_set_new(req, "default_branch",
	    json_string(branch)) == -1) {
		rc = cictl_error(ctx, "--default-branch is not valid UTF-8");
		goto out;
	}
	/* Rotating the webhook secret: read as repo add reads it. */
	if (secret_file != NULL) {
		if ((secret = cmd_repo_read_secret(secret_file, ctx->in,
		    &secret_len, err, sizeof err)) == NULL) {
			rc = cictl_error(ctx, "%s", err);
			goto out;
		}
		if ((jsecret = json_stringn(secret, secret_len)) == NULL) {
			rc = cictl_error(ctx, "secret is not valid UTF-8");
			goto out;
		}
		json_object_set(req, "secret", jsecret);
	}
	if ((body = json_dumps(req, JSON_COMPACT)) == NULL) {
		rc = cictl_error(ctx, "cannot encode the request");
		goto out;
	}
	rc = cmd_repo_request(ctx, args, "PATCH", NULL, body,
	    args->flag[3] != NULL, cmd_repo_edited);
out:
	cmd_repo_wipe_json_string(json_object_get(req, "github_token"));
	cmd_repo_wipe(body, jsecret, secret, secret_len);
	json_decref(req);
	return rc;
}

static void
cmd_repo_removed(FILE *f, json_t *r)
{
#define CMD_REPO_N(key) ((long long)json_integer_value(json_object_get(r, key)))
	if (!json_is_true(json_object_get(r, "purged"))) {
		fprintf(f, "removed %s; its runs and logs are kept (repo rm "
		    "--purge deletes them)\n", cmd_repo_str(r, "full_name"));
		return;
	}
	fprintf(f, "purged %s: %lld runs, %lld jobs, %lld cache entries, "
	    "%lld artifacts; %lld files removed", cmd_repo_str(r, "full_name"),
	    CMD_REPO_N("runs"), CMD_REPO_N("jobs"), CMD_REPO_N("cache_entries"),
	    CMD_REPO_N("artifacts"), CMD_REPO_N("files_removed"));
	if (CMD_REPO_N("files_failed") > 0)
		fprintf(f, ", %lld could not be (see kilnd's log)",
		    CMD_REPO_N("files_failed"));
	fputc('\n', f);
#undef CMD_REPO_N
}

int
cmd_repo_rm(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	return cmd_repo_request(ctx, args, "DELETE", args->flag[0] != NULL ?
	    "?purge=1" : NULL, NULL, args->flag[1] != NULL,
	    cmd_repo_removed);
}
