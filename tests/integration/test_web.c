/*
 * Integration tests of the public /api/v1 behind [web] access: token mode
 * refuses a reader without credentials (401), a token from `cictl token
 * create` opens it as a Bearer header or through a page login (session
 * cookie); admin routes need scope admin and the session's CSRF token;
 * revoking a token ends its Bearer use and its sessions; public mode reads
 * without a login but still refuses cancel; off answers 404 while webhooks
 * still work.  Also the run list's filters and cursor pagination, the job
 * object, and the job log by byte ranges.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

#define WF \
	"name: web\n" \
	"on: push\n" \
	"jobs:\n" \
	"  build:\n" \
	"    runs-on: self-hosted\n" \
	"    steps:\n" \
	"      - run: for i in 1 2 3 4 5 6 7 8; do echo \"line-$i\"; done\n"	\
	"      - run: |\n" \
	"          echo '# Sum' >> \"$GITHUB_STEP_SUMMARY\"\n" \
	"          echo '**bold** <script>alert(1)</script>' >> \"$GITHUB_STEP_SUMMARY\"\n" \
	"          echo '[x](javascript:alert(1))' >> \"$GITHUB_STEP_SUMMARY\"\n" \
	"          printf '\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\n' >> \"$GITHUB_STEP_SUMMARY\"\n"

/* A completed run of WF in repo octo/web on main; returns `show --json`. */
static json_t *
web_run(struct harness *h)
{
	struct harness_repo *repo = harness_repo_new(h, "octo/web");
	json_t *run;
	char *sha;

	harness_repo_write(repo, ".github/workflows/web.yml", WF);
	sha = harness_push(h, repo, "main", "web test");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	free(sha);
	harness_repo_free(repo);
	return run;
}

/* `cictl token create name --scope scope`: the token printed. */
static char *
web_token(struct harness *h, const char *name, const char *scope)
{
	struct buf out = { 0 }, err = { 0 };
	char *tok;

	harness_assert(h, harness_cictl(h, &out, &err, "token", "create", name,
	    "--scope", scope, NULL) == 0, "token create: %s", err.data);
	harness_assert(h, out.data != NULL && strncmp(out.data, "kiln_", 5) ==
	    0, "token create printed %s", out.data ? out.data : "nothing");
	tok = xstrndup(out.data, strcspn(out.data, "\n"));
	buf_free(&out);
	buf_free(&err);
	return tok;
}

/* GET path with one extra header (may be NULL); the status. */
static long
web_get(struct harness *h, const char *path, const char *header,
    struct harness_resp *r)
{
	const char *hdrs[2] = { header, NULL };

	harness_http(h, "GET", path, header ? hdrs : NULL, NULL, 0, r);
	return r->status;
}

static long
web_status(struct harness *h, const char *method, const char *path,
    const char *h1, const char *h2)
{
	const char *hdrs[3] = { h1, h2, NULL };
	struct harness_resp r;
	long code;

	harness_http(h, method, path, hdrs, NULL, 0, &r);
	code = r.status;
	harness_resp_free(&r);
	return code;
}

/* Log in with tok; *cookie gets "Cookie: kiln_session=...", *csrf its token. */
static void
web_login(struct harness *h, const char *tok, char **cookie, char **csrf)
{
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	struct harness_resp r;
	char *body = xasprintf("{\"token\":\"%s\"}", tok), *set;
	json_t *j;

	harness_http(h, "POST", "/api/v1/session", hdrs, body, strlen(body),
	    &r);
	harness_assert(h, r.status == 200, "login: %ld %s", r.status,
	    r.body.data);
	set = harness_resp_header(&r, "Set-Cookie");
	harness_assert(h, set != NULL, "login set no cookie");
	harness_expect_contains(h, set, "Set-Cookie", "HttpOnly");
	harness_expect_contains(h, set, "Set-Cookie", "SameSite=Strict");
	*cookie = xasprintf("Cookie: %.*s", (int)strcspn(set, ";"), set);
	j = json_loads(r.body.data, 0, NULL);
	harness_assert(h, harness_str(j, "csrf") != NULL, "login: %s",
	    r.body.data);
	*csrf = xasprintf("X-CSRF-Token: %s", harness_str(j, "csrf"));
	json_decref(j);
	free(set);
	free(body);
	harness_resp_free(&r);
}

START_TEST(test_token_mode_tokens_sessions_csrf_revoke)
{
	struct harness *h = harness_new("web_token");
	struct harness_resp r;
	char *reader, *admin, *bearer, *rcookie, *rcsrf, *acookie, *acsrf;
	char path[128];
	json_t *run, *runs;
	long long id;

	harness_conf_add(h, "[web]\naccess = token\n");
	harness_start(h);
	run = web_run(h);
	id = json_integer_value(json_object_get(run, "id"));

	/* No credentials: 401 with a Bearer challenge; healthz is open. */
	harness_assert(h, web_get(h, "/api/v1/runs", NULL, &r) == 401,
	    "runs without a login: %ld %s", r.status, r.body.data);
	harness_resp_free(&r);
	harness_assert(h, web_status(h, "GET", "/healthz", NULL, NULL) == 200,
	    "healthz");
	harness_assert(h, web_status(h, "GET", "/api/v1/runs",
	    "Authorization: Bearer kiln_0000000000000000000000000000000000000"
	    "000000000000000000000000000", NULL) == 401, "a made-up token");

	reader = web_token(h, "reader", "read");
	admin = web_token(h, "admin", "admin");
	bearer = xasprintf("Authorization: Bearer %s", reader);
	harness_assert(h, web_get(h, "/api/v1/runs", bearer, &r) == 200,
	    "runs with a read token: %ld %s", r.status, r.body.data);
	runs = json_loads(r.body.data, 0, NULL);
	harness_assert(h, json_array_size(runs) == 1, "runs: %s", r.body.data);
	json_decref(runs);
	harness_resp_free(&r);

	/* A read session reads, and may not cancel or re-run. */
	web_login(h, reader, &rcookie, &rcsrf);
	snprintf(path, sizeof path, "/api/v1/runs/%lld", id);
	harness_assert(h, web_status(h, "GET", path, rcookie, NULL) == 200,
	    "run with a read session");
	snprintf(path, sizeof path, "/api/v1/runs/%lld/rerun", id);
	harness_assert(h, web_status(h, "POST", path, rcookie, rcsrf) == 403,
	    "re-run with a read session");
	harness_assert(h, web_status(h, "POST", path, bearer, NULL) == 403,
	    "re-run with a read token");

	/* An admin session needs its CSRF token on a state change. */
	web_login(h, admin, &acookie, &acsrf);
	harness_assert(h, web_status(h, "POST", path, acookie, NULL) == 403,
	    "re-run without X-CSRF-Token was accepted");
	harness_assert(h, web_status(h, "POST", path, acookie,
	    "X-CSRF-Token: 0123") == 403, "re-run with a wrong CSRF token");
	harness_assert(h, web_status(h, "POST", path, acookie, acsrf) == 200,
	    "re-run with the admin session and its CSRF token");
	harness_assert(h, web_status(h, "GET", "/api/v1/session", acookie,
	    NULL) == 200, "session of the admin login");

	/* Revoked: the token and its sessions are refused at once. */
	harness_assert(h, harness_cictl(h, NULL, NULL, "token", "revoke",
	    "reader", NULL) == 0, "token revoke");
	harness_assert(h, web_status(h, "GET", "/api/v1/runs", bearer, NULL) ==
	    401, "a revoked token still reads");
	harness_assert(h, web_status(h, "GET", "/api/v1/runs", rcookie, NULL) ==
	    401, "a revoked token's session still reads");
	harness_assert(h, web_status(h, "GET", "/api/v1/runs", acookie, NULL) ==
	    200, "another token's session was ended");
	/* Logging out ends the session. */
	harness_assert(h, web_status(h, "DELETE", "/api/v1/session", acookie,
	    acsrf) == 200, "logout");
	harness_assert(h, web_status(h, "GET", "/api/v1/runs", acookie, NULL) ==
	    401, "a logged-out session still reads");

	free(reader);
	free(admin);
	free(bearer);
	free(rcookie);
	free(rcsrf);
	free(acookie);
	free(acsrf);
	json_decref(run);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_public_mode_pagination_job_and_log_ranges)
{
	struct harness *h = harness_new("web_public");
	struct harness_resp r;
	char path[512], *log, *hdr, *next;
	json_t *run, *job, *page, *o;
	long long id, jid, prev = 0;
	size_t i, total = 0, pages = 0, loglen;

	harness_conf_add(h, "[web]\naccess = public\n");
	harness_start(h);
	run = web_run(h);
	id = json_integer_value(json_object_get(run, "id"));
	jid = json_integer_value(json_object_get(harness_job(h, run, "build"),
	    "id"));

	/* Public reads without a login; cancel still needs an admin token. */
	snprintf(path, sizeof path, "/api/v1/runs/%lld/cancel", id);
	harness_assert(h, web_status(h, "POST", path, NULL, NULL) == 401,
	    "cancel without a token under access = public");

	/* 120 more runs (completed, no jobs) on branches b0 .. b2. */
	free(harness_sql(h, "INSERT INTO runs (event_id, repository_id, name, path, "
	    "event, head_sha, head_branch, ref, workflow_source, status, "
	    "conclusion) SELECT event_id, repository_id, name, path, event, "
	    "head_sha, 'b' || (g % 3), ref, workflow_source, 'completed', "
	    "'success' FROM runs, generate_series(1, 120) g", NULL));

	/* Every run once, newest first, following Link: rel="next". */
	next = xstrdup("/api/v1/runs?repo=octo/web&limit=50");
	while (next != NULL) {
		harness_assert(h, web_get(h, next, NULL, &r) == 200, "%s: %ld %s",
		    next, r.status, r.body.data);
		page = json_loads(r.body.data, 0, NULL);
		json_array_foreach(page, i, o) {
			long long rid = json_integer_value(json_object_get(o,
			    "id"));

			harness_assert(h, prev == 0 || rid < prev, "run %lld "
			    "after %lld: repeated or out of order", rid, prev);
			prev = rid;
			total++;
		}
		json_decref(page);
		free(next);
		next = NULL;
		hdr = harness_resp_header(&r, "Link");
		if (hdr != NULL) {
			harness_expect_contains(h, hdr, "Link", "rel=\"next\"");
			next = xstrndup(hdr + 1, strcspn(hdr + 1, ">"));
			free(hdr);
		}
		harness_resp_free(&r);
		pages++;
		harness_assert(h, pages < 10, "pagination does not end");
	}
	harness_assert(h, total == 121 && pages == 3, "%zu runs in %zu pages",
	    total, pages);

	/* Filters: branch and event. */
	harness_assert(h, web_get(h, "/api/v1/runs?branch=b1&limit=1000", NULL,
	    &r) == 200, "branch filter");
	page = json_loads(r.body.data, 0, NULL);
	harness_assert(h, json_array_size(page) == 40, "b1: %zu runs",
	    json_array_size(page));
	json_array_foreach(page, i, o)
		harness_expect_str(h, o, "run", "head_branch", "b1");
	json_decref(page);
	harness_resp_free(&r);
	harness_assert(h, web_get(h, "/api/v1/runs?event=schedule", NULL, &r) ==
	    200 && strcmp(r.body.data, "[]\n") == 0, "event filter: %s",
	    r.body.data);
	harness_resp_free(&r);

	/* The job object: steps and needs. */
	snprintf(path, sizeof path, "/api/v1/jobs/%lld", jid);
	harness_assert(h, web_get(h, path, NULL, &r) == 200, "job: %ld",
	    r.status);
	job = json_loads(r.body.data, 0, NULL);
	harness_assert(h, json_is_array(json_object_get(job, "steps")) &&
	    json_is_array(json_object_get(job, "needs")), "job: %s",
	    r.body.data);
	harness_expect_str(h, job, "job", "repository", "octo/web");
	json_decref(job);
	harness_resp_free(&r);

	/* A step summary rendered from Markdown, raw HTML and js: dropped. */
	snprintf(path, sizeof path, "/api/v1/jobs/%lld/steps/2/summary", jid);
	harness_assert(h, web_get(h, path, NULL, &r) == 200, "summary: %ld",
	    r.status);
	harness_expect_contains(h, r.body.data, "summary", "<h1>Sum</h1>");
	harness_expect_contains(h, r.body.data, "summary",
	    "<strong>bold</strong>");
	harness_expect_contains(h, r.body.data, "summary (GFM table)",
	    "<td>2</td>");
	harness_assert(h, strstr(r.body.data, "<script") == NULL &&
	    strstr(r.body.data, "javascript:") == NULL,
	    "summary kept raw HTML or a javascript: link: %s", r.body.data);
	harness_resp_free(&r);

	/* The log whole, by Range, from an offset, and a bad range. */
	log = harness_logs(h, json_object_get(harness_job(h, run, "build"),
	    "id"));
	loglen = strlen(log);
	harness_assert(h, loglen > 40, "log: %s", log);
	snprintf(path, sizeof path, "/api/v1/jobs/%lld/logs", jid);
	harness_assert(h, web_get(h, path, "Range: bytes=10-29", &r) == 206,
	    "range: %ld", r.status);
	harness_assert(h, r.body.len == 20 && memcmp(r.body.data, log + 10,
	    20) == 0, "bytes 10-29: %s", r.body.data);
	hdr = harness_resp_header(&r, "Content-Range");
	snprintf(path, sizeof path, "bytes 10-29/%zu", loglen);
	harness_assert(h, hdr != NULL && strcmp(hdr, path) == 0,
	    "Content-Range %s, want %s", hdr ? hdr : "(none)", path);
	free(hdr);
	harness_resp_free(&r);
	snprintf(path, sizeof path, "/api/v1/jobs/%lld/logs?offset=%zu", jid,
	    loglen - 7);
	harness_assert(h, web_get(h, path, NULL, &r) == 200 &&
	    r.body.len == 7 && memcmp(r.body.data, log + loglen - 7, 7) == 0,
	    "offset: %ld %s", r.status, r.body.data);
	harness_resp_free(&r);
	snprintf(path, sizeof path, "/api/v1/jobs/%lld/logs", jid);
	harness_assert(h, web_get(h, path, "Range: bytes=99999999-", &r) ==
	    416, "range past the end: %ld", r.status);
	harness_resp_free(&r);

	/* The page: CSP without inline script, frame denial, ETag/304. */
	harness_assert(h, web_get(h, "/", NULL, &r) == 200, "page: %ld",
	    r.status);
	hdr = harness_resp_header(&r, "Content-Security-Policy");
	harness_assert(h, hdr != NULL && strstr(hdr, "script-src 'self'") &&
	    strstr(hdr, "unsafe-inline") == NULL && strstr(hdr,
	    "frame-ancestors 'none'"), "CSP: %s", hdr ? hdr : "(none)");
	free(hdr);
	harness_expect_contains(h, r.body.data, "page", "<script src=");
	hdr = harness_resp_header(&r, "X-Frame-Options");
	harness_assert(h, hdr != NULL && strcmp(hdr, "DENY") == 0, "XFO");
	free(hdr);
	harness_resp_free(&r);
	harness_assert(h, web_get(h, "/assets/app.js", NULL, &r) == 200,
	    "app.js: %ld", r.status);
	hdr = harness_resp_header(&r, "ETag");
	harness_assert(h, hdr != NULL, "no ETag");
	harness_resp_free(&r);
	next = xasprintf("If-None-Match: %s", hdr);
	harness_assert(h, web_get(h, "/assets/app.js", next, &r) == 304,
	    "app.js revalidated: %ld", r.status);
	harness_resp_free(&r);
	free(next);
	free(hdr);

	/* Badges: honest colour, escaped label, no-cache. */
	harness_assert(h, web_get(h, "/badge/octo/web.svg", NULL, &r) == 200,
	    "badge: %ld", r.status);
	harness_expect_contains(h, r.body.data, "badge", "passing");
	harness_expect_contains(h, r.body.data, "badge", "#2ea44f");
	hdr = harness_resp_header(&r, "Cache-Control");
	harness_assert(h, hdr != NULL && strcmp(hdr, "no-cache") == 0,
	    "badge Cache-Control: %s", hdr ? hdr : "(none)");
	free(hdr);
	harness_resp_free(&r);
	harness_assert(h, web_get(h, "/badge/octo/web.svg?branch=nope&"
	    "workflow=%3Cscript%3Ex", NULL, &r) == 200, "badge 2");
	harness_expect_contains(h, r.body.data, "badge", "no runs");
	harness_expect_contains(h, r.body.data, "badge", "&lt;script&gt;x");
	harness_assert(h, strstr(r.body.data, "<script") == NULL,
	    "badge label not escaped: %s", r.body.data);
	harness_resp_free(&r);

	free(log);
	json_decref(run);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_off_mode_no_api_webhooks_still_work)
{
	struct harness *h = harness_new("web_off");
	json_t *run;

	harness_conf_add(h, "[web]\naccess = off\n");
	harness_start(h);
	/* The push webhook is still taken and run. */
	run = web_run(h);
	harness_assert(h, web_status(h, "GET", "/api/v1/runs", NULL, NULL) ==
	    404, "runs under access = off");
	harness_assert(h, web_status(h, "POST", "/api/v1/session", NULL,
	    NULL) == 404, "login under access = off");
	harness_assert(h, web_status(h, "GET", "/", NULL, NULL) == 404,
	    "page under access = off");
	harness_assert(h, web_status(h, "GET", "/badge/octo/web.svg", NULL,
	    NULL) == 404, "badge under access = off");
	json_decref(run);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* An SSE reader: the events' texts, the last id, and when to hang up. */
struct sse_reader {
	struct buf	 line;		/* the line being read */
	struct buf	 data;		/* the event's data lines */
	char		 event[32];
	char		 last_id[32];
	struct buf	 text;		/* the "log" texts, concatenated */
	json_t		*end;		/* the "end" event's data */
	json_t		*change;	/* the first "change" event's data */
	const char	*stop_at;	/* hang up once text contains it */
	int		 events;
};

static void
sse_dispatch(struct sse_reader *r)
{
	json_t *j;

	if (r->data.len == 0 && r->event[0] == '\0')
		return;
	j = json_loadb(r->data.data ? r->data.data : "", r->data.len, 0, NULL);
	if (strcmp(r->event, "log") == 0 && j != NULL) {
		const char *t = harness_str(j, "text");

		buf_add(&r->text, t ? t : "", t ? strlen(t) : 0);
		r->events++;
	} else if (strcmp(r->event, "change") == 0 && j != NULL &&
	    r->change == NULL) {
		r->change = json_incref(j);
	} else if (strcmp(r->event, "end") == 0 && j != NULL) {
		json_decref(r->end);
		r->end = json_incref(j);
	}
	json_decref(j);
	buf_clear(&r->data);
	r->event[0] = '\0';
}

static size_t
sse_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct sse_reader *r = arg;
	size_t i;

	for (i = 0; i < size * n; i++) {
		char *l;

		if (p[i] != '\n') {
			buf_add_char(&r->line, p[i]);
			continue;
		}
		l = r->line.data ? r->line.data : "";
		if (r->line.len == 0)
			sse_dispatch(r);
		else if (strncmp(l, "data: ", 6) == 0) {
			if (r->data.len > 0)
				buf_add_char(&r->data, '\n');
			buf_add_str(&r->data, l + 6);
		} else if (strncmp(l, "event: ", 7) == 0)
			snprintf(r->event, sizeof r->event, "%s", l + 7);
		else if (strncmp(l, "id: ", 4) == 0)
			snprintf(r->last_id, sizeof r->last_id, "%s", l + 4);
		buf_clear(&r->line);
		/* Hang up mid-stream, right after a whole event. */
		if (r->stop_at != NULL && r->text.data != NULL &&
		    strstr(r->text.data, r->stop_at) != NULL)
			return 0;
		if (r->change != NULL)
			return 0;
	}
	return size * n;
}

/* Read the stream at path (resuming after r->last_id if set). */
static void
sse_read(struct harness *h, const char *path, struct sse_reader *r)
{
	struct curl_slist *hl = NULL;
	char *url = xasprintf("%s%s", h->base_url, path), *hdr = NULL;
	CURL *c = curl_easy_init();

	if (r->last_id[0] != '\0') {
		hdr = xasprintf("Last-Event-ID: %s", r->last_id);
		hl = curl_slist_append(hl, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)harness_left_ms(h));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);
	free(hdr);
	free(url);
}

START_TEST(test_live_log_resumes_with_last_event_id)
{
	struct harness *h = harness_new("web_sse");
	struct harness_repo *repo;
	struct sse_reader r;
	char *wf, *sha, *log, *go, path[128];
	json_t *runs, *run = NULL, *job;
	long long jid = 0;

	harness_conf_add(h, "[web]\naccess = public\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/live");
	wf = xasprintf(
	    "name: live\n"
	    "on: push\n"
	    "jobs:\n"
	    "  build:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          for i in $(seq 1 200); do echo \"a-line-$i \u00e9\"; done\n"
	    "          echo part-A-done\n"
	    "          while [ ! -e %s/go ]; do sleep 0.1; done\n"
	    "          for i in $(seq 1 300); do echo \"b-line-$i\"; done\n"
	    "          echo part-B-done\n", h->shared);
	harness_repo_write(repo, ".github/workflows/live.yml", wf);
	sha = harness_push(h, repo, "main", "live");
	/* The job, once it runs. */
	while (jid == 0 && harness_left_ms(h) > 0) {
		runs = harness_runs(h);
		if (json_array_size(runs) > 0) {
			run = harness_show(h, json_object_get(json_array_get(
			    runs, 0), "id"));
			job = json_array_get(json_object_get(run, "jobs"), 0);
			jid = json_integer_value(json_object_get(job, "id"));
			json_decref(run);
		}
		json_decref(runs);
		if (jid == 0)
			free(harness_sql(h, "SELECT pg_sleep(0.2)", NULL));
	}
	harness_assert(h, jid != 0, "no job appeared");

	/* Read until part A is seen, then drop the connection. */
	memset(&r, 0, sizeof r);
	r.stop_at = "part-A-done\n";
	snprintf(path, sizeof path, "/api/v1/jobs/%lld/logs/stream", jid);
	sse_read(h, path, &r);
	harness_assert(h, r.text.data != NULL && strstr(r.text.data,
	    "part-A-done") != NULL && r.end == NULL, "first connection: %s",
	    r.text.data ? r.text.data : "(nothing)");
	harness_assert(h, strstr(r.text.data, "b-line-1\n") == NULL,
	    "part B before it was allowed");
	harness_assert(h, r.last_id[0] != '\0', "no event id");

	/* The status stream reports the running run. */
	{
		struct sse_reader st;
		json_t *first;

		memset(&st, 0, sizeof st);
		sse_read(h, "/api/v1/events", &st);
		harness_assert(h, st.change != NULL, "no change event");
		first = json_array_get(json_object_get(st.change, "runs"), 0);
		harness_expect_str(h, first, "change", "repository",
		    "octo/live");
		harness_expect_str(h, first, "change", "status", "in_progress");
		json_decref(st.change);
		buf_free(&st.line);
		buf_free(&st.data);
		buf_free(&st.text);
	}

	/* Let part B run; resume from the last event's id. */
	go = xasprintf("%s/go", h->shared);
	harness_write_file(h, go, "");
	r.stop_at = NULL;
	sse_read(h, path, &r);
	harness_assert(h, r.end != NULL, "the stream ended without an end "
	    "event");
	harness_expect_str(h, r.end, "end", "conclusion", "success");

	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	log = harness_job_log(h, run, "build");
	harness_assert(h, r.text.len == strlen(log) && memcmp(r.text.data, log,
	    r.text.len) == 0, "streamed log (%zu bytes) differs from the "
	    "log (%zu bytes):\n--- streamed\n%s\n--- log\n%s", r.text.len,
	    strlen(log), r.text.data, log);

	/* A reader that starts after the end gets the end at once. */
	json_decref(r.end);
	r.end = NULL;
	sse_read(h, path, &r);
	harness_assert(h, r.end != NULL, "no end event after completion");

	buf_free(&r.line);
	buf_free(&r.data);
	buf_free(&r.text);
	json_decref(r.end);
	json_decref(run);
	free(log);
	free(go);
	free(wf);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* kilnd's peak resident memory (VmHWM), in KiB. */
static long
peak_rss_kib(struct harness *h)
{
	char path[64], *text, *p;
	long kib = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)h->kilnd);
	if ((text = file_read_all(path, 1 << 16, NULL)) == NULL)
		harness_fail(h, "%s: unreadable", path);
	if ((p = strstr(text, "VmHWM:")) != NULL)
		kib = strtol(p + 6, NULL, 10);
	free(text);
	return kib;
}

#ifdef __SANITIZE_ADDRESS__
#define VIEWERS_RSS_KIB	(512 * 1024)	/* ASan's shadow and quarantine */
#else
#define VIEWERS_RSS_KIB	(64 * 1024)
#endif

START_TEST(test_20_viewers_of_200_mb_bounded_memory)
{
	struct harness *h = harness_new("web_viewers");
	struct harness_repo *repo;
	struct sockaddr_in sin;
	char *sha, *req, buf[4096];
	json_t *runs, *run = NULL, *job;
	long long jid = 0;
	long kib;
	int fds[20], i, small = 4096;
	ssize_t n;

	harness_conf_add(h, "[web]\naccess = public\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/big");
	harness_repo_write(repo, ".github/workflows/big.yml",
	    "name: big\n"
	    "on: push\n"
	    "jobs:\n"
	    "  big:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          sleep 2\n"
	    "          yes 'two hundred megabytes of log, line after line, "
	    "0123456789 abcdefghijklmnopqrstuvwxyz' | head -c 200000000\n"
	    "          echo big-$((1+1))-done\n");
	sha = harness_push(h, repo, "main", "big");
	while (jid == 0 && harness_left_ms(h) > 0) {
		runs = harness_runs(h);
		if (json_array_size(runs) > 0) {
			run = harness_show(h, json_object_get(json_array_get(
			    runs, 0), "id"));
			job = json_array_get(json_object_get(run, "jobs"), 0);
			jid = json_integer_value(json_object_get(job, "id"));
			json_decref(run);
		}
		json_decref(runs);
		if (jid == 0)
			free(harness_sql(h, "SELECT pg_sleep(0.1)", NULL));
	}
	harness_assert(h, jid != 0, "no job appeared");

	/* 20 viewers that never read: the slowest readers there are. */
	req = xasprintf("GET /api/v1/jobs/%lld/logs/stream HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\n\r\n", jid);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)h->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 20; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
		harness_assert(h, fds[i] != -1 && connect(fds[i],
		    (struct sockaddr *)&sin, sizeof sin) == 0 &&
		    write(fds[i], req, strlen(req)) == (ssize_t)strlen(req),
		    "viewer %d could not connect", i);
	}

	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	kib = peak_rss_kib(h);
	harness_assert(h, kib > 0 && kib < VIEWERS_RSS_KIB, "kilnd's peak RSS "
	    "%ld KiB with 20 viewers of a 200 MB log (limit %d KiB)", kib,
	    VIEWERS_RSS_KIB);
	fprintf(stderr, "web_viewers: kilnd peak RSS %ld KiB\n", kib);
	/* The viewers are still served: the stream's head is there. */
	n = read(fds[0], buf, sizeof buf - 1);
	harness_assert(h, n > 0, "viewer 0 got nothing");
	buf[n] = '\0';
	harness_expect_contains(h, buf, "viewer 0", "text/event-stream");
	for (i = 0; i < 20; i++)
		close(fds[i]);

	/*
	 * The whole log fetched at once is sent from the file (sendfile), not
	 * mapped into kilnd: its pages are the kernel's, not kilnd's RSS.
	 */
	{
		char *url = xasprintf("%s/api/v1/jobs/%lld/logs", h->base_url,
		    jid);
		char *const curl[] = { (char *)"curl", (char *)"-sf",
		    (char *)"-o", (char *)"/dev/null", url, NULL };

		harness_assert(h, harness_run(curl, NULL, NULL, NULL, NULL,
		    60000) == 0, "curl %s failed", url);
		kib = peak_rss_kib(h);
		fprintf(stderr, "web_viewers: kilnd peak RSS %ld KiB after "
		    "serving the 200 MB log whole\n", kib);
		harness_assert(h, kib > 0 && kib < VIEWERS_RSS_KIB, "kilnd's "
		    "peak RSS %ld KiB after serving a 200 MB log (limit %d "
		    "KiB): was it mapped into memory?", kib, VIEWERS_RSS_KIB);
		free(url);
	}

	free(req);
	free(sha);
	json_decref(run);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * A thousand live viewers of one running job: kilnd's memory stays
 * bounded, each viewer gets the stream, and kilnd still answers.
 */
START_TEST(test_1000_viewers_bounded_memory)
{
	struct harness *h = harness_new("web_1000");
	struct harness_repo *repo;
	struct harness_resp r;
	struct sockaddr_in sin;
	struct rlimit rl;
	char *sha, *req, *go, buf[512];
	json_t *runs, *run = NULL, *job;
	long long jid = 0;
	long kib;
	int *fds, i, nviewers = 1000, served = 0;
	ssize_t n;

	harness_assert(h, getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	if (rl.rlim_cur < (rlim_t)nviewers + 256 && rl.rlim_max >=
	    (rlim_t)nviewers + 256) {
		rl.rlim_cur = (rlim_t)nviewers + 256;
		harness_assert(h, setrlimit(RLIMIT_NOFILE, &rl) == 0,
		    "setrlimit");
	}
	harness_assert(h, rl.rlim_cur >= (rlim_t)nviewers + 256, "this test "
	    "needs %d open files (ulimit -n is %llu)", nviewers + 256,
	    (unsigned long long)rl.rlim_cur);
	harness_conf_add(h, "[web]\naccess = public\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/crowd");
	go = xasprintf("%s/go", h->shared);
	req = xasprintf(
	    "name: crowd\n"
	    "on: push\n"
	    "jobs:\n"
	    "  crowd:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          for i in $(seq 1 2000); do echo \"crowd-line-$i\"; done\n"
	    "          while [ ! -e %s ]; do sleep 0.1; done\n"
	    "          echo crowd-done\n", go);
	harness_repo_write(repo, ".github/workflows/crowd.yml", req);
	free(req);
	sha = harness_push(h, repo, "main", "crowd");
	while (jid == 0 && harness_left_ms(h) > 0) {
		runs = harness_runs(h);
		if (json_array_size(runs) > 0) {
			run = harness_show(h, json_object_get(json_array_get(
			    runs, 0), "id"));
			job = json_array_get(json_object_get(run, "jobs"), 0);
			jid = json_integer_value(json_object_get(job, "id"));
			json_decref(run);
		}
		json_decref(runs);
		if (jid == 0)
			free(harness_sql(h, "SELECT pg_sleep(0.1)", NULL));
	}
	harness_assert(h, jid != 0, "no job appeared");

	req = xasprintf("GET /api/v1/jobs/%lld/logs/stream HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\n\r\n", jid);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)h->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fds = xcalloc((size_t)nviewers, sizeof *fds);
	for (i = 0; i < nviewers; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		harness_assert(h, fds[i] != -1 && connect(fds[i],
		    (struct sockaddr *)&sin, sizeof sin) == 0 &&
		    write(fds[i], req, strlen(req)) == (ssize_t)strlen(req),
		    "viewer %d could not connect", i);
	}
	/* Every viewer is answered with the stream's head. */
	for (i = 0; i < nviewers; i++) {
		struct timeval tv = { 10, 0 };

		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		n = read(fds[i], buf, sizeof buf - 1);
		if (n > 0) {
			buf[n] = '\0';
			served += strstr(buf, "text/event-stream") != NULL;
		}
	}
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	harness_assert(h, r.status == 200, "/healthz with %d viewers: %ld",
	    nviewers, r.status);
	harness_resp_free(&r);
	harness_write_file(h, go, "go\n");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	kib = peak_rss_kib(h);
	fprintf(stderr, "web_1000: %d of %d viewers served; kilnd peak RSS "
	    "%ld KiB\n", served, nviewers, kib);
	harness_assert(h, served == nviewers, "%d of %d viewers got the "
	    "stream", served, nviewers);
	harness_assert(h, kib > 0 && kib < VIEWERS_RSS_KIB, "kilnd's peak RSS "
	    "%ld KiB with %d viewers (limit %d KiB)", kib, nviewers,
	    VIEWERS_RSS_KIB);
	for (i = 0; i < nviewers; i++)
		close(fds[i]);
	free(fds);
	free(req);
	free(go);
	free(sha);
	json_decref(run);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_log_cut_past_max_job_bytes_job_goes_on)
{
	struct harness *h = harness_new("web_logcut");
	struct harness_repo *repo;
	char *sha, *log, *wf, *after;
	json_t *run;

	harness_conf_add(h, "[log]\nmax_job_bytes = 1048576\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/cut");
	wf = xasprintf(
	    "name: cut\n"
	    "on: push\n"
	    "jobs:\n"
	    "  cut:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: yes 'three megabytes of output' | head -c 3000000\n"
	    "      - run: echo went-on > %s/after; echo after-$((2+3))\n",
	    h->shared);
	harness_repo_write(repo, ".github/workflows/cut.yml", wf);
	sha = harness_push(h, repo, "main", "cut");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "cut");
	harness_assert(h, strlen(log) > 1048576 && strlen(log) < 1048576 + 300,
	    "log of %zu bytes with a limit of 1 MiB", strlen(log));
	harness_expect_contains(h, log + 1048576, "the log's end",
	    "##[error]kiln: this log passed [log] max_job_bytes (1048576 "
	    "bytes)");
	harness_assert(h, strstr(log, "after-5") == NULL,
	    "output past the limit was kept");
	after = xasprintf("%s/after", h->shared);
	harness_assert(h, access(after, F_OK) == 0, "the job did not go on");

	free(after);
	free(log);
	free(wf);
	free(sha);
	json_decref(run);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * A job's log by step, and annotations linked to their log lines: each
 * step's part holds its own output only; an annotation's log_line is the
 * line of the whole log that shows it.
 */
START_TEST(test_log_by_step_and_annotation_lines)
{
	struct harness *h = harness_new("web_steps");
	struct harness_repo *repo;
	struct harness_resp r;
	char *sha, *path, *whole, *line_text;
	json_t *run, *job, *ann, *steps;
	long long jid;
	long log_line, n;
	const char *p;

	harness_conf_add(h, "[web]\naccess = public\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/steps");
	harness_repo_write(repo, ".github/workflows/steps.yml",
	    "name: steps\n"
	    "on: push\n"
	    "jobs:\n"
	    "  three:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: for i in 1 2 3; do echo first-step-$i; done\n"
	    "      - run: |\n"
	    "          echo second-step-a\n"
	    "          echo '::warning title=Careful::mind-the-gap'\n"
	    "          echo second-step-b\n"
	    "      - run: echo third-step\n");
	sha = harness_push(h, repo, "main", "steps");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	jid = json_integer_value(json_object_get(json_array_get(
	    json_object_get(run, "jobs"), 0), "id"));

	path = xasprintf("/api/v1/jobs/%lld/logs?step=2", jid);
	harness_assert(h, web_get(h, path, NULL, &r) == 200, "%s: %ld", path,
	    r.status);
	harness_assert(h, strstr(r.body.data, "second-step-a") != NULL &&
	    strstr(r.body.data, "second-step-b") != NULL &&
	    strstr(r.body.data, "first-step-") == NULL &&
	    strstr(r.body.data, "third-step") == NULL,
	    "step 2's part of the log:\n%s", r.body.data);
	harness_resp_free(&r);
	free(path);
	path = xasprintf("/api/v1/jobs/%lld/logs?step=3", jid);
	harness_assert(h, web_get(h, path, NULL, &r) == 200 &&
	    strstr(r.body.data, "third-step") != NULL &&
	    strstr(r.body.data, "second-step") == NULL,
	    "step 3's part of the log: %ld\n%s", r.status, r.body.data);
	harness_resp_free(&r);
	free(path);
	path = xasprintf("/api/v1/jobs/%lld/logs?step=9", jid);
	harness_assert(h, web_get(h, path, NULL, &r) == 404, "step 9: %ld",
	    r.status);
	harness_resp_free(&r);
	free(path);

	path = xasprintf("/api/v1/jobs/%lld", jid);
	harness_assert(h, web_get(h, path, NULL, &r) == 200, "job: %ld",
	    r.status);
	job = json_loads(r.body.data, 0, NULL);
	harness_resp_free(&r);
	free(path);
	harness_assert(h, job != NULL, "job JSON");
	ann = json_array_get(json_object_get(job, "annotations"), 0);
	log_line = (long)json_integer_value(json_object_get(ann, "log_line"));
	harness_assert(h, log_line > 0, "the annotation has no log_line");
	steps = json_object_get(job, "steps");
	harness_assert(h, json_integer_value(json_object_get(json_array_get(
	    steps, 1), "log_line")) > json_integer_value(json_object_get(
	    json_array_get(steps, 0), "log_line")), "steps' log lines do not "
	    "increase");

	path = xasprintf("/api/v1/jobs/%lld/logs", jid);
	harness_assert(h, web_get(h, path, NULL, &r) == 200, "log: %ld",
	    r.status);
	whole = r.body.data;
	for (p = whole, n = 1; n < log_line && p != NULL; n++)
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	harness_assert(h, p != NULL, "the log has fewer than %ld lines",
	    log_line);
	line_text = xstrndup(p, strcspn(p, "\n"));
	harness_assert(h, strstr(line_text, "mind-the-gap") != NULL,
	    "log line %ld is \"%s\", not the annotation's", log_line,
	    line_text);
	free(line_text);
	harness_resp_free(&r);
	free(path);
	json_decref(job);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
web_suite(void)
{
	Suite *s = suite_create("web");
	TCase *tc = tcase_create("web");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_token_mode_tokens_sessions_csrf_revoke);
	tcase_add_test(tc, test_public_mode_pagination_job_and_log_ranges);
	tcase_add_test(tc, test_off_mode_no_api_webhooks_still_work);
	tcase_add_test(tc, test_live_log_resumes_with_last_event_id);
	tcase_add_test(tc, test_20_viewers_of_200_mb_bounded_memory);
	tcase_add_test(tc, test_log_cut_past_max_job_bytes_job_goes_on);
	tcase_add_test(tc, test_log_by_step_and_annotation_lines);
	tcase_add_test(tc, test_1000_viewers_bounded_memory);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(web_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
