/*
 * Job states back to GitHub through the outbox: a real kilnd, workers and
 * git repository, and tests/fakegh.py (real HTTP on loopback) in place of
 * GitHub's API, recording every call it is sent.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <poll.h>
#include <signal.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "harness.h"
#include "util.h"

#define GH_TOKEN	"ghp_kilnTestToken0123456789abcdefXYZ"
/* A repository's own token (cictl repo edit --token-file). */
#define GH_REPO_TOKEN	"github_pat_kilnRepoToken_9876543210fedcba"
#define GH_WAIT_MS	60000
#define GH_APP_ID	"31337"
#define GH_INSTALLATION	"4242"

struct fake {
	struct harness	*h;
	char		*dir;
	pid_t		 pid;
};

/* The fake's file name exists (written once it listens). */
static int
fake_has(struct fake *f, const char *name)
{
	char *path = xasprintf("%s/%s", f->dir, name);
	struct stat st;
	int ok = stat(path, &st) == 0;

	free(path);
	return ok;
}

static int
fake_ready(struct harness *h, void *arg)
{
	(void)h;
	return fake_has(arg, "ready");
}

/*
 * A new 2048-bit RSA key for the App: the private half at
 * DIR/app-key.pem (mode 0600, for kilnd), the public half at
 * DIR/app-pub.pem (for the fake, which verifies the JWTs with it).
 */
static void
app_keys(struct harness *h, char **privp, char **pubp)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	FILE *fp;

	harness_assert(h, key != NULL, "generating an RSA key");
	*privp = xasprintf("%s/app-key.pem", h->dir);
	*pubp = xasprintf("%s/app-pub.pem", h->dir);
	fp = fopen(*privp, "w");
	harness_assert(h, fp != NULL && fchmod(fileno(fp), 0600) == 0 &&
	    PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL) == 1 &&
	    fclose(fp) == 0, "writing %s", *privp);
	fp = fopen(*pubp, "w");
	harness_assert(h, fp != NULL && PEM_write_PUBKEY(fp, key) == 1 &&
	    fclose(fp) == 0, "writing %s", *pubp);
	EVP_PKEY_free(key);
}

/*
 * Start the fake with rules (JSON text, may be NULL) and point kilnd's
 * [github] at it; before harness_start().  app: as a GitHub App (App ID
 * GH_APP_ID, a key made for the test) instead of token_file's token.
 * extra: a further token file the fake takes, or NULL.
 */
static struct fake *
fake_start_tokens(struct harness *h, const char *rules, int app,
    const char *extra)
{
	struct fake *f = xcalloc(1, sizeof *f);
	const char *src = getenv("KILN_SRCDIR");
	char *script, *tokfile, *conf, *port, *path, *priv = NULL, *pub = NULL;
	char *argv[15];
	int p = harness_free_port(), n = 0;

	harness_assert(h, p > 0, "no free port for the fake GitHub");
	f->h = h;
	f->dir = xasprintf("%s/fakegh", h->dir);
	tokfile = xasprintf("%s/gh-token", h->dir);
	harness_write_file(h, tokfile, GH_TOKEN "\n");
	harness_assert(h, chmod(tokfile, 0600) == 0, "chmod %s", tokfile);
	if (rules != NULL) {
		path = xasprintf("%s/rules.json", f->dir);
		harness_write_file(h, path, rules);
		free(path);
	}
	script = xasprintf("%s/tests/fakegh.py", src ? src : ".");
	port = xasprintf("%d", p);
	argv[n++] = (char *)"/usr/bin/python3";
	argv[n++] = script;
	argv[n++] = (char *)"--port";
	argv[n++] = port;
	argv[n++] = (char *)"--dir";
	argv[n++] = f->dir;
	if (app) {
		app_keys(h, &priv, &pub);
		argv[n++] = (char *)"--app-id";
		argv[n++] = (char *)GH_APP_ID;
		argv[n++] = (char *)"--app-key";
		argv[n++] = pub;
		argv[n++] = (char *)"--installation";
		argv[n++] = (char *)GH_INSTALLATION;
	} else {
		argv[n++] = (char *)"--token";
		argv[n++] = tokfile;
	}
	if (extra != NULL) {
		argv[n++] = (char *)"--token";
		argv[n++] = (char *)extra;
	}
	argv[n] = NULL;
	f->pid = harness_spawn(h, argv);
	harness_assert(h, harness_wait_for(h, 20000, fake_ready, f),
	    "the fake GitHub did not start");
	if (app)
		conf = xasprintf("[github]\napi_url = http://127.0.0.1:%d/\n"
		    "app_id = " GH_APP_ID "\nprivate_key_file = %s\n"
		    "public_url = http://kiln.example/\n", p, priv);
	else
		conf = xasprintf("[github]\napi_url = http://127.0.0.1:%d/\n"
		    "token_file = %s\npublic_url = http://kiln.example/\n", p,
		    tokfile);
	harness_conf_add(h, conf);
	free(conf);
	free(script);
	free(port);
	free(tokfile);
	free(priv);
	free(pub);
	return f;
}

/* The same without a further token. */
static struct fake *
fake_start_mode(struct harness *h, const char *rules, int app)
{
	return fake_start_tokens(h, rules, app, NULL);
}

static struct fake *
fake_start(struct harness *h, const char *rules)
{
	return fake_start_mode(h, rules, 0);
}

static void
fake_free(struct fake *f)
{
	harness_kill(f->h, f->pid);
	free(f->dir);
	free(f);
}

/* A string member of obj, "" when absent. */
static const char *
jstr(const json_t *obj, const char *key)
{
	const char *v = harness_str(obj, key);

	return v != NULL ? v : "";
}

/* Every call the fake recorded whose path contains part, in order. */
static json_t *
fake_calls(struct fake *f, const char *part)
{
	char *path = xasprintf("%s/calls.jsonl", f->dir), *text, *line, *save;
	json_t *all = json_array(), *c;
	size_t len;

	text = file_read_all(path, 64 * 1024 * 1024, &len);
	free(path);
	if (text == NULL)
		return all;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((c = json_loads(line, 0, NULL)) == NULL)
			continue;	/* a line being written */
		if (strstr(harness_str(c, "path"), part) != NULL)
			json_array_append(all, c);
		json_decref(c);
	}
	free(text);
	return all;
}

struct want_final {
	struct fake	*f;
	const char	*context;
	const char	*state;
	int		 times;		/* 0: once */
};

/* A status of context in state was answered 2xx (w->times times). */
static int
has_final(struct harness *h, void *arg)
{
	struct want_final *w = arg;
	json_t *calls = fake_calls(w->f, "/statuses/"), *c;
	size_t i;
	int found = 0;

	(void)h;
	json_array_foreach(calls, i, c) {
		json_t *b = json_object_get(c, "body");

		if (json_integer_value(json_object_get(c, "status")) / 100 == 2 &&
		    strcmp(harness_str(b, "context"), w->context) == 0 &&
		    strcmp(harness_str(b, "state"), w->state) == 0)
			found++;
	}
	json_decref(calls);
	return found >= (w->times > 0 ? w->times : 1);
}

static void
wait_final(struct harness *h, struct fake *f, const char *context,
    const char *state)
{
	struct want_final w = { f, context, state, 1 };
	json_t *calls;

	if (harness_wait_for(h, GH_WAIT_MS, has_final, &w))
		return;
	calls = fake_calls(f, "");
	harness_fail(h, "no %s status for %s reached the fake; calls: %s",
	    state, context, harness_json_text(calls));
}

/*
 * The statuses of context answered 2xx, in order: pending ones, then exactly
 * one final state, never a state sent twice; returns the final's call.
 */
static json_t *
expect_sequence(struct harness *h, struct fake *f, const char *sha,
    const char *context, const char *final)
{
	json_t *calls = fake_calls(f, "/statuses/"), *c, *last = NULL;
	char *path = xasprintf("/repos/octo/gh/statuses/%s", sha);
	size_t i;
	int pendings = 0, finals = 0;

	json_array_foreach(calls, i, c) {
		json_t *b = json_object_get(c, "body"), *hd;
		const char *state;

		if (strcmp(harness_str(b, "context"), context) != 0 ||
		    json_integer_value(json_object_get(c, "status")) / 100 != 2)
			continue;
		state = harness_str(b, "state");
		harness_expect_str(h, c, "status call", "path", path);
		hd = json_object_get(c, "headers");
		harness_expect_str(h, hd, "headers", "Authorization",
		    "Bearer " GH_TOKEN);
		harness_assert(h, str_has_prefix(harness_str(b, "target_url"),
		    "http://kiln.example/jobs/"), "target_url: %s",
		    harness_json_text(b));
		if (strcmp(state, "pending") == 0) {
			harness_assert(h, finals == 0, "pending after the "
			    "final state of %s: %s", context,
			    harness_json_text(calls));
			pendings++;
		} else {
			harness_assert(h, strcmp(state, final) == 0,
			    "%s: state %s, want %s: %s", context, state, final,
			    harness_json_text(calls));
			finals++;
			last = c;
		}
	}
	harness_assert(h, pendings >= 1 && finals == 1, "%s: %d pending and "
	    "%d final statuses delivered: %s", context, pendings, finals,
	    harness_json_text(calls));
	json_incref(last);
	json_decref(calls);
	free(path);
	return last;
}

static const char *const one_job_wf =
    "name: solo\n"
    "on: push\n"
    "jobs:\n"
    "  only:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo fine\n";

/* Start kilnd, push the one-job workflow; returns the commit. */
static char *
solo_push(struct harness *h, struct harness_repo **repo)
{
	harness_start(h);
	*repo = harness_repo_new(h, "octo/gh");
	harness_repo_write(*repo, ".github/workflows/solo.yml", one_job_wf);
	return harness_push(h, *repo, "main", "solo");
}

static void
finish(struct harness *h, struct fake *f, struct harness_repo *repo,
    char *sha)
{
	free(sha);
	fake_free(f);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}

static const char *const two_jobs_wf =
    "name: gate\n"
    "on: push\n"
    "jobs:\n"
    "  good:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo fine\n"
    "  bad:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: exit 1\n";

START_TEST(test_statuses_pending_then_verdict_per_job)
{
	struct harness *h = harness_new("statuses_pending_then_verdict");
	struct fake *f = fake_start(h, NULL);
	struct harness_repo *repo;
	char *sha, *log;
	json_t *good, *bad;
	size_t len;

	harness_start(h);
	repo = harness_repo_new(h, "octo/gh");
	harness_repo_write(repo, ".github/workflows/gate.yml", two_jobs_wf);
	sha = harness_push(h, repo, "main", "gate");
	json_decref(harness_wait_run(h, sha, NULL, HARNESS_RUN_MS));
	wait_final(h, f, "kiln / gate / good", "success");
	wait_final(h, f, "kiln / gate / bad", "failure");
	good = expect_sequence(h, f, sha, "kiln / gate / good", "success");
	bad = expect_sequence(h, f, sha, "kiln / gate / bad", "failure");
	harness_assert(h, str_has_prefix(harness_str(json_object_get(good,
	    "body"), "description"), "Successful in "), "description: %s",
	    harness_json_text(good));
	harness_assert(h, str_has_prefix(harness_str(json_object_get(bad,
	    "body"), "description"), "Failing after "), "description: %s",
	    harness_json_text(bad));
	/* Reporting loaded libcurl (kilnd does not link it: curl_dl.c). */
	harness_assert(h, harness_maps_have(h->kilnd, "libcurl"),
	    "kilnd reported without libcurl mapped");
	/* The token goes in Authorization, never into kilnd's log. */
	log = file_read_all(h->log_path, 64 * 1024 * 1024, &len);
	harness_assert(h, log != NULL && strstr(log, GH_TOKEN) == NULL,
	    "kilnd's log shows the GitHub token");
	free(log);
	json_decref(good);
	json_decref(bad);
	finish(h, f, repo, sha);
}
END_TEST

/* The fake answers 500 three times, then 201: each update arrives once. */
START_TEST(test_server_errors_are_retried_in_order)
{
	struct harness *h = harness_new("server_errors_retried");
	struct fake *f = fake_start(h, "[{\"path\": \"/statuses/\", "
	    "\"status\": 500, \"times\": 3}]");
	struct harness_repo *repo;
	json_t *calls, *c, *final;
	size_t i;
	int errors = 0;
	char *sha;

	sha = solo_push(h, &repo);
	json_decref(harness_wait_run(h, sha, NULL, HARNESS_RUN_MS));
	wait_final(h, f, "kiln / solo / only", "success");
	final = expect_sequence(h, f, sha, "kiln / solo / only", "success");
	calls = fake_calls(f, "/statuses/");
	json_array_foreach(calls, i, c)
		if (json_integer_value(json_object_get(c, "status")) == 500)
			errors++;
	harness_assert(h, errors == 3, "%d answers 500, want 3: %s", errors,
	    harness_json_text(calls));
	json_decref(calls);
	json_decref(final);
	finish(h, f, repo, sha);
}
END_TEST

/*
 * An idle outbox does not claim nothing twice a second: after the last
 * status went out, kiln_outbox_settle runs at most once in 4 s (before,
 * every 500 ms), and the next push's statuses still go out at once --
 * their rows' NOTIFY wakes it, not its minute-long rest.
 */
START_TEST(test_idle_outbox_rests_until_notified)
{
	struct harness *h = harness_new("outbox_rests");
	struct fake *f = fake_start(h, NULL);
	struct want_final again = { f, "kiln / solo / only", "success", 2 };
	const char *logged[] = { "SELECT current_setting("
	    "'log_min_duration_statement')", NULL, "0" };
	const char *drained[] = { "SELECT count(*) FROM outbox WHERE "
	    "status = 'pending'", NULL, "0" };
	struct harness_repo *repo;
	char *sha, *sha2, *log, *p;
	long at = 0;
	int claims = 0;

	sha = solo_push(h, &repo);
	json_decref(harness_wait_run(h, sha, NULL, HARNESS_RUN_MS));
	wait_final(h, f, "kiln / solo / only", "success");
	harness_assert(h, harness_wait_for(h, 10000, harness_sql_is_cb,
	    (void *)drained), "outbox rows still pending 10 s after the last "
	    "status went out");
	free(harness_sql(h, "ALTER SYSTEM SET log_min_duration_statement "
	    "= 0", NULL));
	free(harness_sql(h, "SELECT pg_reload_conf()", NULL));
	harness_assert(h, harness_wait_for(h, 10000, harness_sql_is_cb,
	    (void *)logged), "log_min_duration_statement did not become 0");
	/* Whatever ran before the setting reached kilnd's session. */
	poll(NULL, 0, 1000);
	free(harness_postgres_log(h, &at));
	poll(NULL, 0, 4000);
	log = harness_postgres_log(h, &at);
	claims = 0;
	for (p = log; (p = strstr(p, "execute kiln_outbox_settle")) != NULL;
	    p++)
		claims++;
	free(log);
	harness_assert(h, claims <= 1, "an idle outbox claimed %d times in "
	    "4 s", claims);
	harness_repo_write(repo, "n.txt", "again\n");
	sha2 = harness_push(h, repo, "main", "again");
	json_decref(harness_wait_run(h, sha2, NULL, HARNESS_RUN_MS));
	harness_assert(h, harness_wait_for(h, 10000, has_final, &again),
	    "the second push's success status did not reach the fake "
	    "within 10 s of its run");
	free(sha2);
	finish(h, f, repo, sha);
}
END_TEST

struct failed_rows {
	const char	*want;
};

static int
outbox_failed(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM outbox WHERE "
	    "status = 'failed' AND http_status = 422 AND error LIKE "
	    "'%No commit found for SHA%'", NULL);
	int ok = atoi(n) >= 2;

	(void)arg;
	free(n);
	return ok;
}


/*
 * cictl outbox --failed shows the failed calls with GitHub's answer; retry
 * sends one again (the fake refuses it again: a second attempt).
 */
static void
expect_outbox_failed(struct harness *h)
{
	json_t *list = harness_cictl_json(h, "outbox", "--failed", "--json",
	    NULL), *o;
	struct buf out = { 0 }, err = { 0 };
	const char *q[] = { NULL, NULL, "2" };
	char id[32], *sql;
	size_t i;
	int rc;

	harness_assert(h, json_array_size(list) >= 2, "cictl outbox --failed: "
	    "%s", harness_json_text(list));
	json_array_foreach(list, i, o) {
		harness_expect_str(h, o, "call", "status", "failed");
		harness_expect_str(h, o, "call", "context",
		    "kiln / solo / only");
		harness_expect_contains(h, harness_str(o, "error"), "error",
		    "No commit found for SHA");
		harness_assert(h, json_integer_value(json_object_get(o,
		    "http_status")) == 422, "http_status: %s",
		    harness_json_text(o));
	}
	o = json_array_get(list, json_array_size(list) - 1);
	snprintf(id, sizeof id, "%lld", (long long)json_integer_value(
	    json_object_get(o, "id")));
	rc = harness_cictl(h, &out, &err, "outbox", "--failed", NULL);
	harness_assert(h, rc == 0, "cictl outbox --failed: %d %s", rc,
	    err.data ? err.data : "");
	harness_expect_contains(h, out.data, "cictl outbox --failed",
	    "HTTP 422: Validation Failed; No commit found for SHA");
	buf_clear(&out);
	rc = harness_cictl(h, &out, &err, "outbox", "retry", id, NULL);
	harness_assert(h, rc == 0, "cictl outbox retry %s: %d %s", id, rc,
	    err.data ? err.data : "");
	harness_expect_contains(h, out.data, "cictl outbox retry",
	    "queued again");
	sql = xasprintf("SELECT attempts FROM outbox WHERE id = %s AND "
	    "status = 'failed'", id);
	q[0] = sql;
	harness_assert(h, harness_wait_for(h, GH_WAIT_MS, harness_sql_is_cb,
	    (void *)q), "call %s was not sent again", id);
	free(sql);
	buf_free(&out);
	buf_free(&err);
	json_decref(list);
}

/* A 422 is recorded with GitHub's message and never retried. */
START_TEST(test_unprocessable_is_recorded_not_retried)
{
	struct harness *h = harness_new("unprocessable_recorded");
	struct fake *f = fake_start(h, "[{\"path\": \"/statuses/\", "
	    "\"status\": 422, \"times\": 1000, \"body\": {\"message\": "
	    "\"Validation Failed\", \"errors\": [{\"message\": "
	    "\"No commit found for SHA: x\"}]}}]");
	struct harness_repo *repo;
	char *sha, *n, *calls_n;
	json_t *calls;

	sha = solo_push(h, &repo);
	json_decref(harness_wait_run(h, sha, NULL, HARNESS_RUN_MS));
	harness_assert(h, harness_wait_for(h, GH_WAIT_MS, outbox_failed,
	    NULL), "no call recorded failed with GitHub's message");
	n = harness_sql(h, "SELECT max(attempts) FROM outbox", NULL);
	harness_assert(h, strcmp(n, "1") == 0, "a 422 was tried %s times", n);
	n = (free(n), harness_sql(h, "SELECT count(*) FROM outbox WHERE "
	    "status <> 'superseded'", NULL));
	calls = fake_calls(f, "/statuses/");
	calls_n = xasprintf("%zu", json_array_size(calls));
	harness_assert(h, strcmp(n, calls_n) == 0, "%s rows sent, the fake "
	    "saw %s calls", n, calls_n);
	json_decref(calls);
	free(calls_n);
	free(n);
	expect_outbox_failed(h);
	finish(h, f, repo, sha);
}
END_TEST

/* The first of calls is the 403; no other reached the fake before its reset. */
static void
expect_after_reset(struct harness *h, json_t *calls)
{
	json_t *first = json_array_get(calls, 0), *c;
	const char *reset;
	double limit_at, reset_t;
	size_t i;

	harness_assert(h, json_integer_value(json_object_get(first,
	    "status")) == 403, "first call not the 403: %s",
	    harness_json_text(calls));
	reset = harness_str(json_object_get(first, "answer_headers"),
	    "X-RateLimit-Reset");
	reset_t = strtod(reset, NULL);
	limit_at = json_real_value(json_object_get(first, "t"));
	json_array_foreach(calls, i, c) {
		if (i == 0)
			continue;
		harness_assert(h, json_real_value(json_object_get(c, "t")) >=
		    reset_t, "call %zu at %.3f before the reset %.0f (limited "
		    "at %.3f): %s", i, json_real_value(json_object_get(c, "t")),
		    reset_t, limit_at, harness_json_text(calls));
	}
}

/*
 * A 403 with X-RateLimit-Remaining: 0 pauses delivery until
 * X-RateLimit-Reset: no call reaches the fake before it.
 */
START_TEST(test_rate_limit_pauses_until_reset)
{
	struct harness *h = harness_new("rate_limit_pauses");
	struct fake *f = fake_start(h, "[{\"path\": \"/statuses/\", "
	    "\"status\": 403, \"times\": 1, \"reset_in\": 4, \"headers\": "
	    "{\"X-RateLimit-Remaining\": \"0\"}, \"body\": {\"message\": "
	    "\"API rate limit exceeded\"}}]");
	struct harness_repo *repo;
	json_t *calls, *final;
	char *sha;

	sha = solo_push(h, &repo);
	wait_final(h, f, "kiln / solo / only", "success");
	final = expect_sequence(h, f, sha, "kiln / solo / only", "success");
	calls = fake_calls(f, "/statuses/");
	expect_after_reset(h, calls);
	json_decref(calls);
	json_decref(final);
	finish(h, f, repo, sha);
}
END_TEST

static int
fake_saw_call(struct harness *h, void *arg)
{
	json_t *calls = fake_calls(arg, "/statuses/");
	int n = (int)json_array_size(calls);

	(void)h;
	json_decref(calls);
	return n > 0;
}

/* Nothing of the test directory runs but the fake. */
static int
no_leftovers(struct harness *h, void *arg)
{
	struct buf desc = { 0 };
	char *line, *save;
	int others = 0;

	(void)arg;
	if (harness_leftovers(h, &desc) > 0)
		for (line = strtok_r(desc.data, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			if (strstr(line, "fakegh.py") == NULL)
				others++;
	buf_free(&desc);
	return others == 0;
}

/*
 * kilnd SIGKILLed after the job's states were committed and before they
 * were delivered (every answer so far was 500 with Retry-After: 20): the
 * kilnd started again delivers each of them, once, in order.
 */
START_TEST(test_sigkill_between_commit_and_delivery)
{
	struct harness *h = harness_new("sigkill_before_delivery");
	struct fake *f = fake_start(h, "[{\"path\": \"/statuses/\", "
	    "\"status\": 500, \"times\": 1000, \"headers\": "
	    "{\"Retry-After\": \"20\"}}]");
	struct harness_repo *repo;
	json_t *calls, *final, *c;
	char *sha, *pending, *rules;
	size_t i;
	int status;

	sha = solo_push(h, &repo);
	json_decref(harness_wait_run(h, sha, NULL, HARNESS_RUN_MS));
	harness_assert(h, harness_wait_for(h, GH_WAIT_MS, fake_saw_call, f),
	    "no call reached the fake");
	pending = harness_sql(h, "SELECT count(*) FROM outbox WHERE "
	    "status = 'pending'", NULL);
	calls = fake_calls(f, "/statuses/");
	harness_assert(h, atoi(pending) >= 2, "%s calls pending, the fake "
	    "saw %s", pending, harness_json_text(calls));
	json_array_foreach(calls, i, c)
		harness_assert(h, json_integer_value(json_object_get(c,
		    "status")) == 500, "a state delivered before the kill: %s",
		    harness_json_text(calls));
	json_decref(calls);
	free(pending);
	/* GitHub answers again from now on. */
	rules = xasprintf("%s/rules.json", f->dir);
	harness_write_file(h, rules, "[]");
	free(rules);
	harness_assert(h, kill(h->kilnd, SIGKILL) == 0, "SIGKILL kilnd");
	harness_assert(h, waitpid(h->kilnd, &status, 0) == h->kilnd,
	    "waitpid kilnd");
	h->kilnd = -1;
	harness_assert(h, harness_wait_for(h, 20000, no_leftovers, NULL),
	    "kilnd's workers and PostgreSQL outlived it");
	harness_start(h);
	wait_final(h, f, "kiln / solo / only", "success");
	final = expect_sequence(h, f, sha, "kiln / solo / only", "success");
	json_decref(final);
	finish(h, f, repo, sha);
}
END_TEST

/* Write text to the fake's file name (token_life, revoke ...). */
static void
fake_set(struct fake *f, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", f->dir, name);

	harness_write_file(f->h, path, text);
	free(path);
}

struct want_sha {
	struct fake	*f;
	const char	*sha;
};

/*
 * The calls about commit sha, in order: its statuses, the check runs
 * POSTed on it and the PATCHes of those (by the id each POST was answered
 * with, the fake's call number).
 */
static json_t *
sha_calls(struct fake *f, const char *sha)
{
	json_t *calls = fake_calls(f, ""), *c, *out = json_array();
	struct buf runs = { 0 };
	char key[40];
	const char *path;
	size_t i;

	buf_add_str(&runs, "|");
	json_array_foreach(calls, i, c) {
		path = jstr(c, "path");
		if (strcmp(path, "/repos/octo/gh/check-runs") == 0 &&
		    strcmp(jstr(json_object_get(c, "body"), "head_sha"),
		    sha) == 0) {
			json_array_append(out, c);
			buf_printf(&runs, "%lld|", (long long)json_integer_value(
			    json_object_get(c, "n")));
		} else if (str_has_prefix(path, "/repos/octo/gh/check-runs/")) {
			snprintf(key, sizeof key, "|%s|", path + 26);
			if (strstr(runs.data, key) != NULL)
				json_array_append(out, c);
		} else if (strstr(path, sha) != NULL)
			json_array_append(out, c);
	}
	buf_free(&runs);
	json_decref(calls);
	return out;
}

/* A success status or check run for the commit was answered 2xx. */
static int
has_success_for(struct harness *h, void *arg)
{
	struct want_sha *w = arg;
	json_t *calls = sha_calls(w->f, w->sha), *c, *b;
	size_t i;
	int found = 0;

	(void)h;
	json_array_foreach(calls, i, c) {
		b = json_object_get(c, "body");
		if (json_integer_value(json_object_get(c, "status")) / 100 == 2 &&
		    (strcmp(jstr(b, "state"), "success") == 0 ||
		    strcmp(jstr(b, "conclusion"), "success") == 0))
			found = 1;
	}
	json_decref(calls);
	return found;
}

static void
wait_success_for(struct harness *h, struct fake *f, const char *sha)
{
	struct want_sha w = { f, sha };

	if (harness_wait_for(h, GH_WAIT_MS, has_success_for, &w))
		return;
	harness_fail(h, "no success status for %s reached the fake; its calls "
	    "are in %s/calls.jsonl", sha, f->dir);
}

/* A commit adding file name, pushed; returns it once its success is in. */
static char *
push_delivered(struct harness *h, struct fake *f, struct harness_repo *repo,
    const char *name)
{
	char *sha;

	harness_repo_write(repo, name, name);
	sha = harness_push(h, repo, "main", name);
	wait_success_for(h, f, sha);
	return sha;
}

/* The token of the last 2xx call about sha ("" if none). */
static char *
token_used(struct fake *f, const char *sha)
{
	json_t *calls = sha_calls(f, sha), *c;
	const char *auth, *tok = "";
	size_t i;
	char *out;

	json_array_foreach(calls, i, c) {
		auth = jstr(json_object_get(c, "headers"),
		    "Authorization");
		if (json_integer_value(json_object_get(c, "status")) / 100 == 2 &&
		    str_has_prefix(auth, "Bearer "))
			tok = auth + 7;
	}
	out = xstrdup(tok);
	json_decref(calls);
	return out;
}

/*
 * The tokens the fake issued to kilnd's outbox (not the jobs' tokens,
 * asked for with permissions), in order (a JSON array of strings).
 */
static json_t *
tokens_issued(struct harness *h, struct fake *f)
{
	json_t *calls = fake_calls(f, "/access_tokens"), *c, *out = json_array();
	size_t i;

	json_array_foreach(calls, i, c) {
		json_t *jwt = json_object_get(c, "jwt");

		if (json_object_get(json_object_get(c, "body"),
		    "permissions") != NULL)
			continue;

		harness_assert(h, json_integer_value(json_object_get(c,
		    "status")) == 201 && jwt != NULL && strcmp(jstr(
		    c, "path"), "/app/installations/" GH_INSTALLATION
		    "/access_tokens") == 0, "access_tokens call refused or "
		    "not bought with a valid JWT: %s", harness_json_text(c));
		harness_assert(h, strcmp(jstr(jwt, "iss"), GH_APP_ID) ==
		    0, "JWT iss: %s", harness_json_text(jwt));
		json_array_append(out, json_object_get(json_object_get(c,
		    "reply"), "token"));
	}
	json_decref(calls);
	return out;
}

static int
seconds_passed(struct harness *h, void *arg)
{
	(void)h;
	return (double)time(NULL) >= *(double *)arg;
}

static int
array_has_str(json_t *a, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

/*
 * App mode: kilnd finds the repository's installation (GET
 * /repos/octo/gh/installation, stored), buys its token with a JWT the
 * fake verifies with the App's public key, and renews the token once it
 * is within 5 minutes of expiring (the fake's tokens expire in 302 s) and
 * when GitHub refuses it (revoked: 401) -- every state still delivered.
 */
START_TEST(test_app_installation_token_renewed)
{
	struct harness *h = harness_new("app_token_renewed");
	struct fake *f = fake_start_mode(h, NULL, 1);
	struct harness_repo *repo;
	char *sha1, *sha2, *sha3, *tok1, *tok2, *tok3, *inst;
	json_t *issued, *calls, *c;
	double stale;
	size_t i;
	int refused = 0;

	fake_set(f, "token_life", "302");
	harness_start(h);
	repo = harness_repo_new(h, "octo/gh");
	harness_repo_write(repo, ".github/workflows/solo.yml", one_job_wf);
	sha1 = harness_push(h, repo, "main", "one");
	wait_success_for(h, f, sha1);
	calls = fake_calls(f, "/repos/octo/gh/installation");
	harness_assert(h, json_array_size(calls) >= 1 && json_object_get(
	    json_array_get(calls, 0), "jwt") != NULL, "no installation lookup "
	    "with a valid JWT: %s", harness_json_text(calls));
	json_decref(calls);
	inst = harness_sql(h, "SELECT gh_installation_id FROM repositories "
	    "WHERE full_name = 'octo/gh'", NULL);
	harness_assert(h, strcmp(inst, GH_INSTALLATION) == 0, "installation "
	    "stored: '%s'", inst);
	free(inst);
	issued = tokens_issued(h, f);
	tok1 = token_used(f, sha1);
	harness_assert(h, json_array_size(issued) == 1 &&
	    array_has_str(issued, tok1), "token %s of %s", tok1,
	    harness_json_text(issued));
	json_decref(issued);

	/* 302 s minus the 5 minutes' margin: stale 2 s after it was issued. */
	stale = (double)time(NULL) + 3;
	harness_assert(h, harness_wait_for(h, 10000, seconds_passed, &stale),
	    "the clock stood still");
	fake_set(f, "token_life", "3600");
	sha2 = push_delivered(h, f, repo, "two");
	tok2 = token_used(f, sha2);
	issued = tokens_issued(h, f);
	harness_assert(h, json_array_size(issued) == 2 && strcmp(tok1, tok2) !=
	    0 && array_has_str(issued, tok2), "the stale token was not "
	    "renewed: %s then %s of %s", tok1, tok2, harness_json_text(issued));
	json_decref(issued);

	/* GitHub stops taking the (fresh) token: 401, a new one bought. */
	fake_set(f, "revoke", "all\n");
	sha3 = push_delivered(h, f, repo, "three");
	tok3 = token_used(f, sha3);
	issued = tokens_issued(h, f);
	calls = fake_calls(f, "/check-runs");
	json_array_foreach(calls, i, c)
		if (json_integer_value(json_object_get(c, "status")) == 401)
			refused++;
	harness_assert(h, refused >= 1 && json_array_size(issued) == 3 &&
	    strcmp(tok3, tok2) != 0 && array_has_str(issued, tok3),
	    "the revoked token was not renewed (%d refused): %s then %s of %s",
	    refused, tok2, tok3, harness_json_text(issued));
	json_decref(issued);
	json_decref(calls);
	free(tok1);
	free(tok2);
	free(tok3);
	free(sha1);
	free(sha2);
	finish(h, f, repo, sha3);
}
END_TEST

static const char *const checks_wf =
    "name: checks\n"
    "on: push\n"
    "jobs:\n"
    "  lint:\n"
    "    runs-on: self-hosted\n"
    "    continue-on-error: true\n"
    "    steps:\n"
    "      - run: |\n"
    "          for i in $(seq 1 60); do\n"
    "            echo \"::error file=src/a.c,line=$i::bad $i\"\n"
    "          done\n"
    "          echo '::warning file=src/b.c,line=2,col=4,endColumn=9,"
    "title=Odd::odd'\n"
    "          echo '## Lint report' >> \"$GITHUB_STEP_SUMMARY\"\n"
    "          exit 1\n"
    "  ok:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: |\n"
    "          echo '### All good' >> \"$GITHUB_STEP_SUMMARY\"\n"
    "          head -c 70000 /dev/zero | tr '\\0' x >> "
    "\"$GITHUB_STEP_SUMMARY\"\n"
    "  never:\n"
    "    if: false\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo no\n";

/* The check run calls of name answered 2xx, in order. */
static json_t *
check_calls(struct fake *f, const char *name)
{
	json_t *calls = fake_calls(f, "/check-runs"), *c, *out = json_array();
	size_t i;

	json_array_foreach(calls, i, c)
		if (json_integer_value(json_object_get(c, "status")) / 100 == 2 &&
		    strcmp(jstr(json_object_get(c, "body"), "name"),
		    name) == 0)
			json_array_append(out, c);
	json_decref(calls);
	return out;
}

struct want_check {
	struct fake	*f;
	const char	*name;
	int		 calls;		/* at least this many completed */
};

static int
check_completed(struct harness *h, void *arg)
{
	struct want_check *w = arg;
	json_t *calls = check_calls(w->f, w->name), *c;
	size_t i;
	int n = 0;

	(void)h;
	json_array_foreach(calls, i, c)
		if (strcmp(jstr(json_object_get(c, "body"), "status"),
		    "completed") == 0)
			n++;
	json_decref(calls);
	return n >= w->calls;
}

/*
 * One check run per job: created by a POST on the commit, then PATCHed
 * (the id the POST was answered with), its status never going back, the
 * last completed with conclusion, a details_url to the job's page and the
 * installation's token.  Returns the completed calls.
 */
static json_t *
expect_check_run(struct harness *h, struct fake *f, const char *sha,
    const char *name, const char *conclusion, int completed)
{
	struct want_check w = { f, name, completed };
	json_t *calls, *c, *b, *done = json_array();
	char *patch = NULL;
	size_t i;
	int rank = 0, r;

	harness_assert(h, harness_wait_for(h, GH_WAIT_MS, check_completed, &w),
	    "%s: no completed check run reached the fake (calls in "
	    "%s/calls.jsonl)", name, f->dir);
	calls = check_calls(f, name);
	json_array_foreach(calls, i, c) {
		b = json_object_get(c, "body");
		if (i == 0) {
			harness_expect_str(h, c, "first call", "method", "POST");
			harness_expect_str(h, c, "first call", "path",
			    "/repos/octo/gh/check-runs");
			harness_expect_str(h, b, "POST body", "head_sha", sha);
			patch = xasprintf("/repos/octo/gh/check-runs/%lld",
			    (long long)json_integer_value(json_object_get(c,
			    "n")));
		} else {
			harness_expect_str(h, c, "later call", "method",
			    "PATCH");
			harness_expect_str(h, c, "later call", "path", patch);
		}
		harness_assert(h, str_has_prefix(jstr(json_object_get(c,
		    "headers"), "Authorization"), "Bearer ghs_"), "%s: not the "
		    "installation's token: %s", name, harness_json_text(c));
		harness_assert(h, str_has_prefix(jstr(b, "details_url"),
		    "http://kiln.example/jobs/"), "details_url: %s",
		    harness_json_text(b));
		r = strcmp(jstr(b, "status"), "queued") == 0 ? 0 :
		    strcmp(jstr(b, "status"), "in_progress") == 0 ? 1 : 2;
		harness_assert(h, r >= rank, "%s: status went back: %s", name,
		    harness_json_text(calls));
		rank = r;
		if (r == 2) {
			harness_expect_str(h, b, name, "conclusion", conclusion);
			json_array_append(done, c);
		}
	}
	harness_assert(h, (int)json_array_size(done) == completed, "%s: %zu "
	    "completed calls, want %d: %s", name, json_array_size(done),
	    completed, harness_json_text(calls));
	free(patch);
	json_decref(calls);
	return done;
}

static int
installation_stored(struct harness *h, void *arg)
{
	char *v = harness_sql(h, "SELECT gh_installation_id FROM repositories "
	    "WHERE full_name = 'octo/gh'", NULL);
	int ok = strcmp(v, GH_INSTALLATION) == 0;

	(void)arg;
	free(v);
	return ok;
}

/* An App's webhook (a ping) names the installation: kilnd keeps it. */
static void
ping_with_installation(struct harness *h, struct harness_repo *repo)
{
	static const char body[] = "{\"zen\": \"Keep it logically "
	    "awesome.\", \"repository\": {\"full_name\": \"octo/gh\"}, "
	    "\"installation\": {\"id\": " GH_INSTALLATION "}}";
	struct harness_resp resp = { 0 };
	char *sig = harness_sign(repo->secret, body, strlen(body));
	char *guid = harness_guid();

	harness_webhook(h, "ping", guid, sig, body, strlen(body), &resp);
	harness_assert(h, resp.status == 200, "ping: HTTP %ld", resp.status);
	harness_assert(h, harness_wait_for(h, 20000, installation_stored,
	    NULL), "the webhook's installation.id was not stored");
	buf_free(&resp.body);
	buf_free(&resp.headers);
	free(sig);
	free(guid);
}

/*
 * App mode: check runs, one per job, with the step summaries and the
 * ::error/::warning annotations (61: a PATCH of 50, then one of 11), a
 * continue-on-error failure neutral, an if: false job skipped, a summary
 * over 65,535 characters cut with a marker; no commit status.  The
 * installation is the one a webhook named, never looked up.
 */
START_TEST(test_app_check_runs)
{
	struct harness *h = harness_new("app_check_runs");
	struct fake *f = fake_start_mode(h, NULL, 1);
	struct harness_repo *repo;
	json_t *lint, *ok, *never, *out, *anns, *a, *calls;
	const char *summary;
	char *sha, want[64];
	size_t i, n = 0;

	harness_start(h);
	repo = harness_repo_new(h, "octo/gh");
	ping_with_installation(h, repo);
	harness_repo_write(repo, ".github/workflows/checks.yml", checks_wf);
	sha = harness_push(h, repo, "main", "checks");
	lint = expect_check_run(h, f, sha, "kiln / checks / lint", "neutral",
	    2);
	ok = expect_check_run(h, f, sha, "kiln / checks / ok", "success", 1);
	never = expect_check_run(h, f, sha, "kiln / checks / never",
	    "skipped", 1);

	/* Annotations in order, 50 then 11, with their levels. */
	json_array_foreach(lint, i, a) {
		out = json_object_get(json_object_get(a, "body"), "output");
		harness_expect_contains(h, jstr(out, "summary"),
		    "lint summary", "## Lint report");
		anns = json_object_get(out, "annotations");
		harness_assert(h, json_array_size(anns) == (i == 0 ? 50 : 11),
		    "batch %zu of %zu annotations: %s", i,
		    json_array_size(anns), harness_json_text(out));
	}
	json_array_foreach(lint, i, a) {
		size_t k;
		json_t *x;

		anns = json_object_get(json_object_get(json_object_get(a,
		    "body"), "output"), "annotations");
		json_array_foreach(anns, k, x) {
			n++;
			if (n <= 60) {
				snprintf(want, sizeof want, "bad %zu", n);
				harness_expect_str(h, x, "annotation", "message",
				    want);
				harness_expect_str(h, x, "annotation", "path",
				    "src/a.c");
				harness_expect_str(h, x, "annotation",
				    "annotation_level", "failure");
				harness_assert(h, json_integer_value(
				    json_object_get(x, "start_line")) ==
				    (json_int_t)n, "line: %s",
				    harness_json_text(x));
			} else {
				harness_expect_str(h, x, "annotation",
				    "annotation_level", "warning");
				harness_expect_str(h, x, "annotation", "title",
				    "Odd");
				harness_expect_str(h, x, "annotation", "path",
				    "src/b.c");
			}
		}
	}
	harness_assert(h, n == 61, "%zu annotations sent, want 61", n);

	summary = jstr(json_object_get(json_object_get(
	    json_array_get(ok, 0), "body"), "output"), "summary");
	harness_assert(h, str_has_prefix(summary, "### All good") &&
	    strlen(summary) <= 65535 && strstr(summary, "cut here") != NULL,
	    "summary of %zu bytes not cut with a marker", strlen(summary));
	calls = fake_calls(f, "/statuses/");
	harness_assert(h, json_array_size(calls) == 0, "commit statuses in "
	    "App mode: %s", harness_json_text(calls));
	json_decref(calls);
	/* The webhook's installation was used: never looked up. */
	calls = fake_calls(f, "/repos/octo/gh/installation");
	harness_assert(h, json_array_size(calls) == 0, "installation looked "
	    "up though the webhook named it: %s", harness_json_text(calls));
	json_decref(calls);
	json_decref(lint);
	json_decref(ok);
	json_decref(never);
	finish(h, f, repo, sha);
}
END_TEST

static const char *const token_wf =
    "name: tok\n"
    "on: push\n"
    "permissions:\n"
    "  contents: write\n"
    "jobs:\n"
    "  use:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: |\n"
    "          test -n \"$T\"\n"
    "          test \"$T\" = \"$U\"\n"
    "          echo \"token is $T\"\n"
    "        env:\n"
    "          T: ${{ secrets.GITHUB_TOKEN }}\n"
    "          U: ${{ github.token }}\n";

/*
 * App mode: a job's GITHUB_TOKEN is asked for with exactly its
 * workflow's permissions: (contents: write, metadata read) for its
 * repository only, is secrets.GITHUB_TOKEN and github.token, masked in
 * the log, and revoked (DELETE /installation/token with it) at the end.
 */
START_TEST(test_app_job_token)
{
	struct harness *h = harness_new("app_job_token");
	struct fake *f = fake_start_mode(h, NULL, 1);
	struct harness_repo *repo;
	json_t *run, *calls, *c, *job = NULL, *want, *revoke = NULL;
	const char *token;
	char *sha, *log, *auth;
	size_t i;

	harness_start(h);
	repo = harness_repo_new(h, "octo/gh");
	harness_repo_write(repo, ".github/workflows/tok.yml", token_wf);
	sha = harness_push(h, repo, "main", "tok");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	calls = fake_calls(f, "/access_tokens");
	json_array_foreach(calls, i, c)
		if (json_object_get(json_object_get(c, "body"),
		    "permissions") != NULL)
			job = c;
	harness_assert(h, job != NULL, "no job token asked for: %s",
	    harness_json_text(calls));
	want = json_pack("{s:[s], s:{s:s, s:s}}", "repositories", "gh",
	    "permissions", "contents", "write", "metadata", "read");
	harness_assert(h, json_equal(json_object_get(job, "body"), want),
	    "job token asked for with %s, want %s", harness_json_text(
	    json_object_get(job, "body")), harness_json_text(want));
	json_decref(want);
	harness_assert(h, json_integer_value(json_object_get(job, "status")) ==
	    201, "job token call: %s", harness_json_text(job));
	token = jstr(json_object_get(job, "reply"), "token");
	auth = xasprintf("Bearer %s", token);
	c = fake_calls(f, "/installation/token");
	json_array_foreach(c, i, revoke)
		if (strcmp(jstr(json_object_get(revoke, "headers"),
		    "Authorization"), auth) == 0)
			break;
	harness_assert(h, i < json_array_size(c) && strcmp(jstr(revoke,
	    "method"), "DELETE") == 0 && json_integer_value(json_object_get(
	    revoke, "status")) == 204, "the job's token was not revoked: %s",
	    harness_json_text(c));
	log = harness_job_log(h, run, "use");
	harness_expect_contains(h, log, "job log", "token is ***");
	harness_assert(h, strstr(log, token) == NULL, "the token is in the "
	    "job's log");
	free(log);
	free(auth);
	json_decref(c);
	json_decref(calls);
	json_decref(run);
	finish(h, f, repo, sha);
}
END_TEST

/*
 * App mode: a 403 with X-RateLimit-Remaining: 0 for the check run's
 * creation pauses delivery until X-RateLimit-Reset; then the check run
 * is created once and updated in order (queued, in_progress, completed),
 * each state delivered once, nothing after the completion.
 */
START_TEST(test_app_rate_limit_pauses_until_reset)
{
	struct harness *h = harness_new("app_rate_limit_pauses");
	struct fake *f = fake_start_mode(h, "[{\"path\": \"/check-runs\", "
	    "\"status\": 403, \"times\": 1, \"reset_in\": 4, \"headers\": "
	    "{\"X-RateLimit-Remaining\": \"0\"}, \"body\": {\"message\": "
	    "\"API rate limit exceeded for installation ID 4242.\"}}]", 1);
	static const char *const order[] = { "queued", "in_progress",
	    "completed" };
	struct harness_repo *repo;
	json_t *calls, *c, *b;
	const char *st;
	size_t i, k, posts = 0, done = 0, last = 0, seen[3] = { 0 };
	char *sha;

	sha = solo_push(h, &repo);
	wait_success_for(h, f, sha);
	calls = sha_calls(f, sha);
	expect_after_reset(h, calls);
	json_array_foreach(calls, i, c) {
		if (i == 0 || json_integer_value(json_object_get(c,
		    "status")) / 100 != 2)
			continue;
		b = json_object_get(c, "body");
		posts += strcmp(jstr(c, "method"), "POST") == 0;
		st = jstr(b, "status");
		for (k = 0; k < 3 && strcmp(st, order[k]) != 0; k++)
			;
		harness_assert(h, k < 3 && k >= last && done == 0, "check run "
		    "update %zu out of order: %s", i, harness_json_text(calls));
		seen[k]++;
		last = k;
		if (k == 2) {
			done++;
			harness_expect_str(h, b, "completion", "conclusion",
			    "success");
		}
	}
	harness_assert(h, posts == 1 && seen[1] <= 1 && seen[2] == 1 &&
	    seen[0] <= 1, "check run created %zu times, states %zu/%zu/%zu "
	    "times: %s", posts, seen[0], seen[1], seen[2],
	    harness_json_text(calls));
	json_decref(calls);
	finish(h, f, repo, sha);
}
END_TEST

/* The git server (tests/fakegit.py) is listening. */
static int
git_ready(struct harness *h, void *arg)
{
	(void)h;
	return fake_has(arg, "git-ready");
}

/*
 * Serve h's bare repositories over real git smart HTTP, each request
 * needing a token f issued and did not revoke; the server's pid.
 */
static pid_t
fakegit_start(struct harness *h, struct fake *f, int *portp)
{
	const char *src = getenv("KILN_SRCDIR");
	char *script = xasprintf("%s/tests/fakegit.py", src ? src : ".");
	char *root = xasprintf("%s/git", h->dir), *port;
	char *argv[9];
	pid_t pid;

	*portp = harness_free_port();
	harness_assert(h, *portp > 0, "no free port for the git server");
	port = xasprintf("%d", *portp);
	argv[0] = (char *)"/usr/bin/python3";
	argv[1] = script;
	argv[2] = (char *)"--port";
	argv[3] = port;
	argv[4] = (char *)"--root";
	argv[5] = root;
	argv[6] = (char *)"--gh-dir";
	argv[7] = f->dir;
	argv[8] = NULL;
	pid = harness_spawn(h, argv);
	harness_assert(h, harness_wait_for(h, 20000, git_ready, f),
	    "the git server did not start");
	free(script);
	free(root);
	free(port);
	return pid;
}

/* The steps' scripts are in the log too: $(echo ...) tells output apart. */
static const char *const private_wf =
    "name: priv\n"
    "on: push\n"
    "permissions:\n"
    "  contents: read\n"
    "env:\n"
    "  GIT_TERMINAL_PROMPT: '0'\n"
    "jobs:\n"
    "  keep:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - run: |\n"
    "          git config --get-regexp '^http\\..*\\.extraheader$' | "
    "grep -c 'AUTHORIZATION: basic'\n"
    "          git fetch origin main\n"
    "          git ls-remote origin refs/heads/main\n"
    "          echo \"fetch$(echo ed) with the job token\"\n"
    "  drop:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "        with:\n"
    "          persist-credentials: false\n"
    "      - run: |\n"
    "          if git config --get-regexp extraheader; then exit 1; fi\n"
    "          if git ls-remote origin; then exit 1; fi\n"
    "          echo \"no credentials $(echo kept)\"\n";

/*
 * App mode, a private repository (a git server answering 401 without a
 * token GitHub issued): the planning fetch authenticates with a read-only
 * installation token; actions/checkout keeps the job's GITHUB_TOKEN in
 * the workspace's git config, so a step's git fetch and ls-remote work,
 * unless persist-credentials: false; every token git took is revoked by
 * the end.
 */
START_TEST(test_app_checkout_private)
{
	struct harness *h = harness_new("app_checkout_private");
	struct fake *f = fake_start_mode(h, NULL, 1);
	struct harness_repo *repo;
	json_t *run, *calls, *c;
	char *sha, *log, *url, *path, *revoked;
	size_t i, len, authed = 0, refused = 0;
	int port, rc;
	pid_t git;

	harness_start(h);
	repo = harness_repo_new(h, "octo/gh");
	git = fakegit_start(h, f, &port);
	url = xasprintf("http://127.0.0.1:%d/octo-gh.git", port);
	rc = harness_cictl(h, NULL, NULL, "repo", "edit", "octo/gh", "--url",
	    url, NULL);
	harness_assert(h, rc == 0, "repo edit --url: %d", rc);
	free(repo->clone_url);
	repo->clone_url = url;
	harness_repo_write(repo, ".github/workflows/priv.yml", private_wf);
	sha = harness_push(h, repo, "main", "priv");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	log = harness_job_log(h, run, "keep");
	harness_expect_contains(h, log, "keep's log",
	    "fetched with the job token");
	harness_expect_contains(h, log, "keep's log", "Credentials kept in "
	    "the workspace's git config");
	free(log);
	log = harness_job_log(h, run, "drop");
	harness_expect_contains(h, log, "drop's log", "no credentials kept");
	free(log);
	harness_expect_str(h, run, "run", "conclusion", "success");

	/* Asked, then answered with tokens GitHub issued, all revoked. */
	path = xasprintf("%s/git.jsonl", f->dir);
	log = file_read_all(path, 64 * 1024 * 1024, &len);
	free(path);
	path = xasprintf("%s/revoked", f->dir);
	revoked = file_read_all(path, 1024 * 1024, &len);
	free(path);
	calls = json_array();
	for (char *line = strtok(log, "\n"); line != NULL;
	    line = strtok(NULL, "\n"))
		json_array_append_new(calls, json_loads(line, 0, NULL));
	json_array_foreach(calls, i, c) {
		if (json_integer_value(json_object_get(c, "status")) == 401) {
			refused++;
			continue;
		}
		authed++;
		harness_assert(h, revoked != NULL && strstr(revoked,
		    jstr(c, "token")) != NULL, "a token git took was not "
		    "revoked: %s", harness_json_text(c));
	}
	harness_assert(h, refused >= 2 && authed >= 3, "git requests: %zu "
	    "refused, %zu with a token", refused, authed);
	free(revoked);
	free(log);
	json_decref(calls);
	json_decref(run);
	harness_kill(h, git);
	finish(h, f, repo, sha);
}
END_TEST

/*
 * Every 2xx call about sha went with "Bearer want" and, when statuses is
 * set, was a commit status.
 */
static void
expect_token(struct harness *h, struct fake *f, const char *sha,
    const char *want, int statuses)
{
	json_t *calls = sha_calls(f, sha), *c;
	char *auth = xasprintf("Bearer %s", want);
	size_t i, n = 0;

	json_array_foreach(calls, i, c) {
		if (json_integer_value(json_object_get(c, "status")) / 100 != 2)
			continue;
		n++;
		harness_assert(h, strcmp(jstr(json_object_get(c, "headers"),
		    "Authorization"), auth) == 0, "%s: a call not sent with "
		    "%s: %s", sha, want, harness_json_text(c));
		harness_assert(h, !statuses || strstr(jstr(c, "path"),
		    "/statuses/") != NULL, "%s: not a commit status: %s", sha,
		    harness_json_text(c));
	}
	harness_assert(h, n >= 2, "%s: %zu calls delivered: %s", sha, n,
	    harness_json_text(calls));
	free(auth);
	json_decref(calls);
}

/*
 * A repository's own token (cictl repo edit --token-file): refused while
 * others may read its file, stored sealed, never shown, and the
 * repository's commit statuses go out with it while another repository's
 * go with [github]'s token (token mode) or as the App's check runs (app);
 * --clear-token goes back to [github]'s.
 */
static void
repo_token_case(const char *name, int app)
{
	struct harness *h = harness_new(name);
	char *tokfile = xasprintf("%s/repo-token", h->dir);
	/* The App's check runs are followed on octo/gh (sha_calls). */
	const char *own = app ? "octo/other" : "octo/gh";
	const char *plain = app ? "octo/gh" : "octo/other";
	struct buf out = { 0 }, err = { 0 };
	struct harness_repo *a, *b;
	struct fake *f;
	char *sha_a, *sha_b, *sha_c, *v, *log;
	json_t *show;
	size_t len;
	int rc;

	harness_write_file(h, tokfile, GH_REPO_TOKEN "\n");
	harness_assert(h, chmod(tokfile, 0644) == 0, "chmod %s", tokfile);
	f = fake_start_tokens(h, NULL, app, tokfile);
	harness_start(h);
	a = harness_repo_new(h, own);
	b = harness_repo_new(h, plain);

	rc = harness_cictl(h, &out, &err, "repo", "edit", own, "--token-file",
	    tokfile, NULL);
	harness_assert(h, rc != 0 && err.data != NULL && strstr(err.data,
	    tokfile) != NULL && strstr(err.data, "0644") != NULL, "a token "
	    "file others may read: exit %d, %s", rc, err.data ? err.data : "");
	harness_assert(h, chmod(tokfile, 0600) == 0, "chmod %s", tokfile);
	buf_clear(&out);
	buf_clear(&err);
	rc = harness_cictl(h, &out, &err, "repo", "edit", own, "--token-file",
	    tokfile, NULL);
	harness_assert(h, rc == 0, "repo edit --token-file: %d %s", rc,
	    err.data ? err.data : "");
	harness_expect_contains(h, out.data, "repo edit", "GitHub token its "
	    "own");
	buf_clear(&out);
	rc = harness_cictl(h, &out, &err, "repo", "show", own, NULL);
	harness_assert(h, rc == 0 && out.data != NULL && strstr(out.data,
	    GH_REPO_TOKEN) == NULL, "repo show: %d", rc);
	harness_expect_contains(h, out.data, "repo show", "set (its commit "
	    "statuses are sent with it)");
	show = harness_cictl_json(h, "repo", "show", own, "--json", NULL);
	harness_assert(h, json_is_true(json_object_get(show, "github_token")),
	    "repo show --json: %s", harness_json_text(show));
	json_decref(show);
	v = harness_sql(h, "SELECT gh_token FROM repositories WHERE "
	    "full_name = $1", own, NULL);
	harness_assert(h, str_has_prefix(v, "v1:") && strstr(v, "kilnRepo") ==
	    NULL, "stored token not sealed: %s", v);
	free(v);

	harness_repo_write(a, ".github/workflows/solo.yml", one_job_wf);
	harness_repo_write(b, ".github/workflows/solo.yml", one_job_wf);
	/* Another commit than a's (the same tree would be the same sha). */
	harness_repo_write(b, "other", "other");
	sha_a = harness_push(h, a, "main", "solo");
	sha_b = harness_push(h, b, "main", "solo");
	wait_success_for(h, f, sha_a);
	wait_success_for(h, f, sha_b);
	expect_token(h, f, sha_a, GH_REPO_TOKEN, 1);
	if (!app)
		expect_token(h, f, sha_b, GH_TOKEN, 1);
	else {
		v = token_used(f, sha_b);
		harness_assert(h, str_has_prefix(v, "ghs_"), "%s: sent with %s, "
		    "not an installation token", plain, v);
		free(v);
	}

	buf_clear(&out);
	rc = harness_cictl(h, &out, &err, "repo", "edit", own,
	    "--clear-token", NULL);
	harness_assert(h, rc == 0, "repo edit --clear-token: %d %s", rc,
	    err.data ? err.data : "");
	harness_expect_contains(h, out.data, "repo edit --clear-token",
	    "GitHub token [github]'s");
	v = harness_sql(h, "SELECT count(*) FROM repositories WHERE "
	    "full_name = $1 AND gh_token IS NULL", own, NULL);
	harness_assert(h, strcmp(v, "1") == 0, "token not removed");
	free(v);
	if (!app) {
		sha_c = push_delivered(h, f, a, "again");
		expect_token(h, f, sha_c, GH_TOKEN, 1);
		free(sha_c);
	}
	log = file_read_all(h->log_path, 64 * 1024 * 1024, &len);
	harness_assert(h, log != NULL && strstr(log, GH_REPO_TOKEN) == NULL,
	    "kilnd's log shows the repository's token");
	free(log);
	buf_free(&out);
	buf_free(&err);
	free(tokfile);
	free(sha_b);
	harness_repo_free(b);
	finish(h, f, a, sha_a);
}

START_TEST(test_repo_token)
{
	repo_token_case("repo_token", 0);
}
END_TEST

START_TEST(test_app_repo_token)
{
	repo_token_case("app_repo_token", 1);
}
END_TEST

/* No steps (line 5), an unknown key (line 6): the run cannot start. */
static const char *const broken_wf =
    "name: broken\n"
    "on: push\n"
    "jobs:\n"
    "  build:\n"
    "    runs-on: self-hosted\n"
    "    stepz:\n"
    "      - run: echo never\n";

/* A call of the fake whose body's key is value, answered 2xx. */
static json_t *
fake_call_with(struct fake *f, const char *part, const char *key,
    const char *value)
{
	json_t *calls = fake_calls(f, part), *c, *found = NULL;
	size_t i;

	json_array_foreach(calls, i, c)
		if (json_integer_value(json_object_get(c, "status")) / 100 == 2 &&
		    strcmp(harness_str(json_object_get(c, "body"), key),
		    value) == 0 && found == NULL)
			found = json_incref(c);
	json_decref(calls);
	return found;
}

struct want_call {
	struct fake	*f;
	const char	*part, *key, *value;
};

static int
fake_has_call(struct harness *h, void *arg)
{
	struct want_call *w = arg;
	json_t *c = fake_call_with(w->f, w->part, w->key, w->value);

	(void)h;
	json_decref(c);
	return c != NULL;
}

/*
 * A workflow that cannot start has no job, yet GitHub must show it failed:
 * a commit status "error" naming the first error as file:line:col, or in
 * App mode a check run completed as a failure with it as its title.
 */
START_TEST(test_invalid_workflow_reported)
{
	struct harness *h = harness_new("invalid_workflow");
	struct fake *f = fake_start(h, NULL);
	struct harness_repo *repo;
	struct want_call w = { f, "/statuses/", "context", "kiln / broken" };
	json_t *c, *b, *calls;
	char *sha;

	harness_start(h);
	repo = harness_repo_new(h, "octo/gh");
	harness_repo_write(repo, ".github/workflows/broken.yml", broken_wf);
	sha = harness_push(h, repo, "main", "broken");
	calls = fake_calls(f, "");
	harness_assert(h, harness_wait_for(h, GH_WAIT_MS, fake_has_call, &w),
	    "no status for the run that could not start; calls: %s",
	    harness_json_text(calls));
	json_decref(calls);
	c = fake_call_with(f, "/statuses/", "context", "kiln / broken");
	b = json_object_get(c, "body");
	harness_expect_str(h, b, "status", "state", "error");
	harness_expect_contains(h, harness_str(b, "description"),
	    "description", ".github/workflows/broken.yml:5:5: ");
	harness_assert(h, strlen(harness_str(b, "description")) <= 140,
	    "description longer than GitHub's 140: %s", harness_json_text(b));
	harness_assert(h, strstr(harness_str(c, "path"), sha) != NULL,
	    "status not on the pushed commit: %s", harness_json_text(c));
	json_decref(c);
	finish(h, f, repo, sha);
}
END_TEST

START_TEST(test_app_invalid_workflow_check_run)
{
	struct harness *h = harness_new("app_invalid_workflow");
	struct fake *f = fake_start_mode(h, NULL, 1);
	struct harness_repo *repo;
	struct want_call w = { f, "/check-runs", "name", "kiln / broken" };
	json_t *c, *b, *calls;
	char *sha;

	harness_start(h);
	repo = harness_repo_new(h, "octo/gh");
	ping_with_installation(h, repo);
	harness_repo_write(repo, ".github/workflows/broken.yml", broken_wf);
	sha = harness_push(h, repo, "main", "broken");
	calls = fake_calls(f, "");
	harness_assert(h, harness_wait_for(h, GH_WAIT_MS, fake_has_call, &w),
	    "no check run for the run that could not start; calls: %s",
	    harness_json_text(calls));
	json_decref(calls);
	c = fake_call_with(f, "/check-runs", "name", "kiln / broken");
	b = json_object_get(c, "body");
	harness_expect_str(h, c, "call", "method", "POST");
	harness_expect_str(h, b, "check run", "status", "completed");
	harness_expect_str(h, b, "check run", "conclusion", "failure");
	harness_expect_str(h, b, "check run", "head_sha", sha);
	harness_expect_contains(h, harness_str(json_object_get(b, "output"),
	    "title"), "title", ".github/workflows/broken.yml:5:5: ");
	json_decref(c);
	finish(h, f, repo, sha);
}
END_TEST

static Suite *
github_suite(void)
{
	Suite *s = suite_create("github");
	TCase *tc = tcase_create("github");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_statuses_pending_then_verdict_per_job);
	tcase_add_test(tc, test_server_errors_are_retried_in_order);
	tcase_add_test(tc, test_idle_outbox_rests_until_notified);
	tcase_add_test(tc, test_unprocessable_is_recorded_not_retried);
	tcase_add_test(tc, test_rate_limit_pauses_until_reset);
	tcase_add_test(tc, test_sigkill_between_commit_and_delivery);
	tcase_add_test(tc, test_invalid_workflow_reported);
	tcase_add_test(tc, test_app_invalid_workflow_check_run);
	tcase_add_test(tc, test_app_installation_token_renewed);
	tcase_add_test(tc, test_app_check_runs);
	tcase_add_test(tc, test_app_job_token);
	suite_add_tcase(s, tc);
	/*
	 * A repository's own token, App mode's rate limit
	 * (CK_RUN_CASE=token runs these alone).
	 */
	tc = tcase_create("token");
	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_repo_token);
	tcase_add_test(tc, test_app_repo_token);
	tcase_add_test(tc, test_app_rate_limit_pauses_until_reset);
	tcase_add_test(tc, test_app_checkout_private);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(github_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
