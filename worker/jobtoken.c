/*
 * jobtoken: a job's GITHUB_TOKEN in App mode ([github] app_id).  The
 * worker asks GitHub itself, blocking (workers may block; kilnd's loop is
 * not involved): the repository's installation (stored by kilnd, else
 * GET /repos/{owner}/{repo}/installation with the App's JWT, then stored),
 * then POST /app/installations/{id}/access_tokens restricted to the
 * repository and to the job's permissions: (else the workflow's, else
 * GitHub's restricted default; read-only for a pull request from a fork:
 * common/ghapp.c builds the body).  The token becomes secrets.GITHUB_TOKEN
 * and github.token, masked before any step runs, and is revoked with
 * DELETE /installation/token when the job ends.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "ghapp.h"
#include "log.h"
#include "util.h"
#include "wfcmd.h"
#include "worker.h"

#define JOBTOKEN_TIMEOUT_MS	30000
#define JOBTOKEN_MAX_ANSWER	(256 * 1024)

struct jobtoken_answer {
	struct buf	 body;
	int		 cut;
};

static size_t
jobtoken_write(char *p, size_t size, size_t n, void *arg)
{
	struct jobtoken_answer *a = arg;
	size_t len = size * n;

	if (a->body.len + len > JOBTOKEN_MAX_ANSWER) {
		a->cut = 1;
		return 0;		/* ends the transfer */
	}
	buf_add(&a->body, p, len);
	return len;
}

/*
 * One call: method on api_url + path with "Authorization: Bearer
 * credential" and body (NULL: none).  The HTTP status, or -1 with err;
 * the answer in a (caller frees).
 */
static long
jobtoken_call(struct worker *w, const char *method, const char *path,
    const char *credential, const char *body, struct jobtoken_answer *a,
    char *err, size_t errsz)
{
	struct curl_slist *h = NULL;
	char *url, *auth, ebuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode cc;
	long code = -1;

	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errsz, "curl_easy_init failed");
		return -1;
	}
	url = xasprintf("%s%s", w->gh_api_url, path);
	auth = xasprintf("Authorization: Bearer %s", credential);
	h = curl_slist_append(h, auth);
	OPENSSL_cleanse(auth, strlen(auth));
	free(auth);
	h = curl_slist_append(h, "Accept: application/vnd.github+json");
	h = curl_slist_append(h, "X-GitHub-Api-Version: 2022-11-28");
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)JOBTOKEN_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, jobtoken_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	if ((cc = curl_easy_perform(c)) != CURLE_OK)
		snprintf(err, errsz, "%s %s: %s", method, path, a->cut ?
		    "answer too large" : ebuf[0] ? ebuf :
		    curl_easy_strerror(cc));
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	return code;
}

/* GitHub's message in an error answer, for err. */
static void
jobtoken_refused(const char *what, long code, struct jobtoken_answer *a,
    char *err, size_t errsz)
{
	json_t *j = json_loadb(a->body.data ? a->body.data : "", a->body.len,
	    0, NULL);
	const char *m = json_string_value(json_object_get(j, "message"));

	snprintf(err, errsz, "%s: HTTP %ld: %.200s", what, code,
	    m ? m : "(no message)");
	json_decref(j);
}

/* The repository's installation: stored, or asked for and stored. */
static int64_t
jobtoken_installation(struct worker *w, int64_t repository_id,
    const char *repo_name, const char *jwt, char *err, size_t errsz)
{
	struct jobtoken_answer a = { { 0 }, 0 };
	char id[24], *path;
	const char *params[2] = { id, NULL };
	int64_t inst = 0;
	PGresult *res;
	json_t *j;
	long code;

	snprintf(id, sizeof id, "%lld", (long long)repository_id);
	res = worker_exec(w, "SELECT gh_installation_id FROM repositories "
	    "WHERE id = $1::bigint", 1, params, "reading the installation");
	if (res != NULL && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		(void)parse_int64(PQgetvalue(res, 0, 0), 1, INT64_MAX, &inst,
		    NULL);
	PQclear(res);
	if (inst > 0)
		return inst;
	path = xasprintf("/repos/%s/installation", repo_name);
	code = jobtoken_call(w, "GET", path, jwt, NULL, &a, err, errsz);
	if (code == 200) {
		j = json_loadb(a.body.data ? a.body.data : "", a.body.len, 0,
		    NULL);
		if (json_is_integer(json_object_get(j, "id")))
			inst = json_integer_value(json_object_get(j, "id"));
		json_decref(j);
		if (inst <= 0)
			snprintf(err, errsz, "GET %s: no installation id", path);
	} else if (code != -1)
		jobtoken_refused(path, code, &a, err, errsz);
	free(path);
	buf_free(&a.body);
	if (inst <= 0)
		return -1;
	snprintf(id, sizeof id, "%lld", (long long)repository_id);
	{
		char v[24];
		const char *p2[2] = { id, v };

		snprintf(v, sizeof v, "%lld", (long long)inst);
		PQclear(worker_exec(w, "UPDATE repositories SET "
		    "gh_installation_id = $2::bigint WHERE id = $1::bigint",
		    2, p2, "storing the installation"));
	}
	return inst;
}

char *
jobtoken_get(struct worker *w, int64_t repository_id, const char *repo_name,
    const json_t *permissions, int read_only, char *err, size_t errsz)
{
	struct jobtoken_answer a = { { 0 }, 0 };
	char *jwt, *body = NULL, *path = NULL, *token = NULL, why[200];
	int64_t inst, expires;
	long code;

	if ((jwt = ghapp_jwt(w->app_key, w->app_id, (int64_t)time(NULL), why,
	    sizeof why)) == NULL) {
		snprintf(err, errsz, "GITHUB_TOKEN: %s", why);
		return NULL;
	}
	if ((inst = jobtoken_installation(w, repository_id, repo_name, jwt,
	    why, sizeof why)) < 0) {
		snprintf(err, errsz, "GITHUB_TOKEN: the App's installation on "
		    "%s: %s", repo_name, why);
		goto out;
	}
	if ((body = ghapp_job_token_body(repo_name, permissions,
	    read_only, why, sizeof why)) == NULL) {
		snprintf(err, errsz, "GITHUB_TOKEN: permissions: %s", why);
		goto out;
	}
	path = xasprintf("/app/installations/%lld/access_tokens",
	    (long long)inst);
	code = jobtoken_call(w, "POST", path, jwt, body, &a, why, sizeof why);
	if (code == -1)
		snprintf(err, errsz, "GITHUB_TOKEN: %s", why);
	else if (code != 201 && code != 200)
		jobtoken_refused("GITHUB_TOKEN: POST access_tokens", code, &a,
		    err, errsz);
	else if (ghapp_token_parse(a.body.data ? a.body.data : "", a.body.len,
	    &token, &expires, why, sizeof why) == -1)
		snprintf(err, errsz, "GITHUB_TOKEN: %s", why);
out:
	if (a.body.data != NULL)
		OPENSSL_cleanse(a.body.data, a.body.len);
	buf_free(&a.body);
	OPENSSL_cleanse(jwt, strlen(jwt));
	free(jwt);
	free(body);
	free(path);
	return token;
}

void
jobtoken_revoke(struct worker *w, char *token)
{
	struct jobtoken_answer a = { { 0 }, 0 };
	char err[300];
	long code;

	if (token == NULL)
		return;
	code = jobtoken_call(w, "DELETE", "/installation/token", token, NULL,
	    &a, err, sizeof err);
	if (code == -1)
		log_warnx("revoking the job's GITHUB_TOKEN: %s", err);
	else if (code != 204) {
		jobtoken_refused("revoking the job's GITHUB_TOKEN", code, &a,
		    err, sizeof err);
		log_warnx("%s", err);
	}
	buf_free(&a.body);
	OPENSSL_cleanse(token, strlen(token));
	free(token);
}

const char *
jobtoken_fetch_cb(void *arg, char *err, size_t errsz)
{
	struct jobtoken_fetch *f = arg;
	json_t *perms;

	if (f->w->app_key == NULL) {
		snprintf(err, errsz, "kiln has no token for it (a private "
		    "repository needs [github] app_id)");
		return NULL;
	}
	if (f->token == NULL) {
		perms = json_pack("{s:s}", "contents", "read");
		f->token = jobtoken_get(f->w, f->repository_id, f->repo_name,
		    perms, 1, err, errsz);
		json_decref(perms);
	}
	return f->token;
}

void
jobtoken_fetch_done(struct jobtoken_fetch *f)
{
	jobtoken_revoke(f->w, f->token);
	f->token = NULL;
}
