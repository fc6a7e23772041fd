/*
 * POST /hooks/github at the edges: signatures, redelivery, malformed
 * bodies, unknown repositories, the size limit, ping and ignored events.
 * Each test has its own kilnd.  "Nothing stored" is proven without sleeping:
 * a later valid delivery must then be the only thing that produced a run
 * (and, for a refused delivery, reusing its X-GitHub-Delivery must still be
 * accepted as new).
 */
#include <ctype.h>
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "harness.h"
#include "util.h"

#define MAX_BODY	(25 * 1024 * 1024)	/* GitHub's cap, 25 MiB */

static const char workflow[] =
    "name: hello\n"
    "on: push\n"
    "jobs:\n"
    "  hello:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - name: hello\n"
    "        run: echo \"HELLO-$((20 + 22))\"\n";

/* A committed and pushed change, and the webhook body describing it. */
struct pushed {
	char	*sha;
	char	*body;
	size_t	 len;
	json_t	*event;
};

static void
pushed_make(struct harness_repo *repo, const char *message, struct pushed *p)
{
	char *before;

	p->sha = harness_repo_commit_push(repo, "main", message, &before);
	p->event = harness_push_event(repo, "refs/heads/main", before, p->sha,
	    message);
	p->body = harness_json_text(p->event);
	p->len = strlen(p->body);
	free(before);
}

static void
pushed_free(struct pushed *p)
{
	free(p->sha);
	free(p->body);
	json_decref(p->event);
}

/* Deliver body signed with secret; returns the status, body in r. */
static long
deliver(struct harness *h, const char *event, const char *delivery,
    const char *secret, const char *body, size_t len, struct harness_resp *r)
{
	char *sig = secret != NULL ? harness_sign(secret, body, len) : NULL;

	harness_webhook(h, event, delivery, sig, body, len, r);
	free(sig);
	return r->status;
}

static void
expect_status(struct harness *h, struct harness_resp *r, long want,
    const char *what)
{
	harness_assert(h, r->status == want, "%s: expected HTTP %ld, got %ld "
	    "%s%s", what, want, r->status, r->body.data, r->error);
}

/* Runs whose head_sha is sha. */
static size_t
runs_of(const json_t *runs, const char *sha)
{
	const json_t *run;
	const char *s;
	size_t i, n = 0;

	json_array_foreach(runs, i, run)
		if ((s = harness_str(run, "head_sha")) != NULL &&
		    strcmp(s, sha) == 0)
			n++;
	return n;
}

/* 1 if word occurs in text, not as part of a longer identifier. */
static int
has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *p;
	int i;

	for (p = text, i = 0; i < 10000 && (p = strstr(p, word)) != NULL;
	    p++, i++) {
		if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		if (isalnum((unsigned char)p[n]) || p[n] == '_')
			continue;
		return 1;
	}
	return 0;
}

START_TEST(test_bad_or_missing_signature_is_401_and_not_stored)
{
	struct harness *h = harness_up("bad_signature");
	struct harness_repo *repo = harness_repo_new(h, "octo/signed");
	struct harness_resp r;
	struct pushed p;
	char *guid = harness_guid(), *sig, *tampered;
	json_t *run, *runs;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	pushed_make(repo, "signed push", &p);

	/* Signed with another secret. */
	deliver(h, "push", guid, "not the secret", p.body, p.len, &r);
	expect_status(h, &r, 401, "wrong secret");
	harness_resp_free(&r);

	/* No X-Hub-Signature-256 at all. */
	deliver(h, "push", guid, NULL, p.body, p.len, &r);
	expect_status(h, &r, 401, "missing signature");
	harness_resp_free(&r);

	/* The right signature over a body changed afterwards. */
	sig = harness_sign(repo->secret, p.body, p.len);
	tampered = xstrdup(p.body);
	/* Still valid JSON for the same repository: only the message moves. */
	harness_assert(h, strstr(tampered, "signed push") != NULL,
	    "no message in %s", tampered);
	strstr(tampered, "signed push")[10] = 'H';
	harness_webhook(h, "push", guid, sig, tampered, p.len, &r);
	expect_status(h, &r, 401, "body changed after signing");
	harness_resp_free(&r);
	free(tampered);

	/* The legacy SHA-1 header's format in the SHA-256 header. */
	harness_webhook(h, "push", guid, "sha1=0123456789abcdef0123456789abcdef"
	    "01234567", p.body, p.len, &r);
	expect_status(h, &r, 401, "sha1= signature");
	harness_resp_free(&r);

	/* The right digest, cut short by one hex digit. */
	sig[strlen(sig) - 1] = '\0';
	harness_webhook(h, "push", guid, sig, p.body, p.len, &r);
	expect_status(h, &r, 401, "truncated signature");
	harness_resp_free(&r);
	free(sig);

	/*
	 * Nothing was stored: the same delivery id, now correctly signed, is
	 * new (202, not the 200 of a redelivery), and its run is the only one.
	 */
	deliver(h, "push", guid, repo->secret, p.body, p.len, &r);
	expect_status(h, &r, 202, "valid delivery after refused ones");
	harness_resp_free(&r);
	run = harness_wait_run(h, p.sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	json_decref(run);
	runs = harness_runs(h);
	harness_assert(h, json_array_size(runs) == 1, "expected exactly one "
	    "run: %s", harness_json_text(runs));
	json_decref(runs);

	free(guid);
	pushed_free(&p);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_duplicate_delivery_is_200_and_makes_one_run)
{
	struct harness *h = harness_up("duplicate_delivery");
	struct harness_repo *repo = harness_repo_new(h, "octo/dup");
	struct harness_resp r;
	struct pushed p1, p2;
	char *guid = harness_guid(), *guid2 = harness_guid();
	json_t *run, *runs;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	pushed_make(repo, "first push", &p1);
	deliver(h, "push", guid, repo->secret, p1.body, p1.len, &r);
	expect_status(h, &r, 202, "first delivery");
	harness_resp_free(&r);
	deliver(h, "push", guid, repo->secret, p1.body, p1.len, &r);
	expect_status(h, &r, 200, "same X-GitHub-Delivery again");
	harness_resp_free(&r);

	/* A later, distinct delivery: its run marks that the queue moved on. */
	harness_repo_write(repo, "second.txt", "second\n");
	pushed_make(repo, "second push", &p2);
	deliver(h, "push", guid2, repo->secret, p2.body, p2.len, &r);
	expect_status(h, &r, 202, "second, distinct delivery");
	harness_resp_free(&r);

	run = harness_wait_run(h, p1.sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run of first push", "conclusion",
	    "success");
	json_decref(run);
	run = harness_wait_run(h, p2.sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run of second push", "conclusion",
	    "success");
	json_decref(run);

	runs = harness_runs(h);
	harness_assert(h, runs_of(runs, p1.sha) == 1, "the redelivered push "
	    "made %zu runs: %s", runs_of(runs, p1.sha),
	    harness_json_text(runs));
	harness_assert(h, json_array_size(runs) == 2, "expected 2 runs in "
	    "all: %s", harness_json_text(runs));
	json_decref(runs);

	free(guid);
	free(guid2);
	pushed_free(&p1);
	pushed_free(&p2);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_malformed_json_is_400)
{
	struct harness *h = harness_up("malformed_json");
	struct harness_repo *repo = harness_repo_new(h, "octo/malformed");
	static const char *bodies[] = {
		"{not json",
		"{\"ref\": \"refs/heads/main\", \"after\": ",
		"",
		"[1, 2, 3]",
		"\"just a string\"",
	};
	struct harness_resp r;
	char *guid, *what;
	size_t i;

	for (i = 0; i < nitems(bodies); i++) {
		guid = harness_guid();
		deliver(h, "push", guid, repo->secret, bodies[i],
		    strlen(bodies[i]), &r);
		what = xasprintf("body '%s'", bodies[i]);
		expect_status(h, &r, 400, what);
		free(what);
		harness_resp_free(&r);
		free(guid);
	}

	/* Still serving. */
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	expect_status(h, &r, 200, "healthz after malformed bodies");
	harness_resp_free(&r);

	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_missing_field_is_400_naming_it)
{
	struct harness *h = harness_up("missing_field");
	struct harness_repo *repo = harness_repo_new(h, "octo/fields");
	static const char *fields[] = { "ref", "after" };
	struct harness_resp r;
	struct pushed p;
	char *guid, *body, *what;
	json_t *ev;
	size_t i;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	pushed_make(repo, "fields", &p);
	for (i = 0; i < nitems(fields); i++) {
		ev = json_deep_copy(p.event);
		json_object_del(ev, fields[i]);
		body = harness_json_text(ev);
		guid = harness_guid();
		deliver(h, "push", guid, repo->secret, body, strlen(body), &r);
		what = xasprintf("push without \"%s\"", fields[i]);
		expect_status(h, &r, 400, what);
		harness_assert(h, has_word(r.body.data, fields[i]),
		    "%s: the 400 answer does not name the field: %s", what,
		    r.body.data);
		free(what);
		harness_resp_free(&r);
		free(guid);
		free(body);
		json_decref(ev);
	}

	pushed_free(&p);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_unknown_repository_is_404)
{
	struct harness *h = harness_up("unknown_repository");
	struct harness_repo *known = harness_repo_new(h, "octo/known");
	struct harness_repo *stranger =
	    harness_repo_new_unregistered(h, "octo/stranger");
	struct harness_resp r;
	struct pushed p;
	char *guid = harness_guid();

	harness_repo_write(stranger, ".github/workflows/hello.yml", workflow);
	pushed_make(stranger, "unknown", &p);
	deliver(h, "push", guid, stranger->secret, p.body, p.len, &r);
	expect_status(h, &r, 404, "push for a repository never added");
	harness_resp_free(&r);
	/* Even signed with a registered repository's secret. */
	deliver(h, "push", guid, known->secret, p.body, p.len, &r);
	expect_status(h, &r, 404, "unknown repository, another's secret");
	harness_resp_free(&r);

	free(guid);
	pushed_free(&p);
	harness_repo_free(known);
	harness_repo_free(stranger);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* p's body grown with a padding field to exactly size bytes, still valid. */
static char *
padded_body(struct harness *h, const struct pushed *p, size_t size)
{
	static const char key[] = ",\"kiln_padding\":\"";
	size_t fixed = p->len - 1 + strlen(key) + 2, pad;
	char *body;

	harness_assert(h, size > fixed, "padding target too small");
	pad = size - fixed;
	body = xmalloc(size + 1);
	memcpy(body, p->body, p->len - 1);	/* drop the closing '}' */
	memcpy(body + p->len - 1, key, strlen(key));
	memset(body + p->len - 1 + strlen(key), 'x', pad);
	memcpy(body + size - 2, "\"}", 2);
	body[size] = '\0';
	return body;
}

START_TEST(test_body_over_25_mib_is_413_and_kilnd_stays_healthy)
{
	struct harness *h = harness_up("oversized_body");
	struct harness_repo *repo = harness_repo_new(h, "octo/big");
	struct harness_resp r;
	struct pushed p;
	char *guid = harness_guid(), *body;
	json_t *run;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	pushed_make(repo, "big", &p);

	/* One byte over the limit, correctly signed, valid JSON. */
	body = padded_body(h, &p, MAX_BODY + 1);
	deliver(h, "push", guid, repo->secret, body, MAX_BODY + 1, &r);
	expect_status(h, &r, 413, "body of 25 MiB + 1 byte");
	harness_resp_free(&r);
	free(body);

	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	expect_status(h, &r, 200, "healthz after a 413");
	harness_resp_free(&r);

	/* Exactly at the limit is accepted, and planned as any other. */
	body = padded_body(h, &p, MAX_BODY);
	deliver(h, "push", guid, repo->secret, body, MAX_BODY, &r);
	expect_status(h, &r, 202, "body of exactly 25 MiB");
	harness_resp_free(&r);
	free(body);
	run = harness_wait_run(h, p.sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	json_decref(run);

	free(guid);
	pushed_free(&p);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * Three 20 MiB bodies parsed cost kilnd about 1 GB; unparsed, their bytes
 * and buffers.  AddressSanitizer's quarantine keeps freed blocks a while.
 */
#ifdef __SANITIZE_ADDRESS__
#define PEAK_LIMIT_KIB	(400 * 1024)
#else
#define PEAK_LIMIT_KIB	(160 * 1024)
#endif

/* kilnd's peak resident memory (VmHWM), in KiB, or -1. */
static long
kilnd_peak_kib(struct harness *h)
{
	char path[64], *text, *at;
	long kib = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)h->kilnd);
	if ((text = file_read_all(path, 65536, NULL)) == NULL)
		return -1;
	if ((at = strstr(text, "VmHWM:")) != NULL)
		kib = strtol(at + 6, NULL, 10);
	free(text);
	return kib;
}

/*
 * An unsigned body is never parsed: a 20 MiB payload of empty arrays (a
 * parse tree many times its size) is refused 401 from its text alone, and
 * kilnd's peak memory stays near the bodies' own bytes.
 */
START_TEST(test_unsigned_bodies_are_not_parsed)
{
	struct harness *h = harness_up("unsigned_not_parsed");
	struct harness_repo *repo = harness_repo_new(h, "octo/hostile");
	static const char head[] = "{\"repository\":{\"full_name\":"
	    "\"octo/hostile\"},\"pad\":[";
	size_t size = 20 * 1024 * 1024, at;
	struct harness_resp r;
	char *body, *guid;
	long peak;
	int i;

	body = xmalloc(size + 1);
	memcpy(body, head, sizeof head - 1);
	for (at = sizeof head - 1; at + 3 <= size - 2; at += 3)
		memcpy(body + at, "[],", 3);
	memcpy(body + at - 1, "]}", 2);
	size = at + 1;
	body[size] = '\0';
	for (i = 0; i < 3; i++) {
		int64_t t0 = now_ms();

		guid = harness_guid();
		deliver(h, "push", guid, i == 0 ? NULL : "not the secret",
		    body, size, &r);
		expect_status(h, &r, 401, "20 MiB unsigned body");
		harness_assert(h, now_ms() - t0 < 5000, "refusing it took "
		    "%lld ms", (long long)(now_ms() - t0));
		harness_resp_free(&r);
		free(guid);
	}
	free(body);
	peak = kilnd_peak_kib(h);
	harness_assert(h, peak > 0, "no VmHWM for kilnd");
	fprintf(stderr, "unsigned_not_parsed: kilnd peak RSS %ld KiB after "
	    "three 20 MiB unsigned bodies\n", peak);
	harness_assert(h, peak < PEAK_LIMIT_KIB, "kilnd's peak RSS is %ld KiB "
	    "after three unsigned 20 MiB bodies: were they parsed?", peak);
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	expect_status(h, &r, 200, "healthz after hostile bodies");
	harness_resp_free(&r);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* POST body to path as GitHub would, signed with secret. */
static long
deliver_to(struct harness *h, const char *path, const char *secret,
    const char *body, struct harness_resp *r)
{
	char *guid = harness_guid(), *sig = harness_sign(secret, body,
	    strlen(body));
	char *hdelivery = xasprintf("X-GitHub-Delivery: %s", guid);
	char *hsig = xasprintf("X-Hub-Signature-256: %s", sig);
	const char *headers[] = { "X-GitHub-Event: push", hdelivery, hsig,
	    "Content-Type: application/json", NULL };

	harness_http(h, "POST", path, headers, body, strlen(body), r);
	free(hsig);
	free(hdelivery);
	free(sig);
	free(guid);
	return r->status;
}

/*
 * The repository is the one whose secret signed the delivery: other
 * "full_name" values before it (a fork's, in a pull request) don't stop a
 * valid delivery, a payload naming another repository than its signer is
 * refused, and /hooks/github/OWNER/NAME names the repository outright.
 */
START_TEST(test_repository_is_the_one_that_signed)
{
	struct harness *h = harness_up("signer_is_repository");
	struct harness_repo *alpha = harness_repo_new(h, "octo/alpha");
	struct harness_repo *beta = harness_repo_new(h, "octo/beta");
	struct harness_resp r;
	struct pushed p;
	char *body;

	harness_repo_write(alpha, ".github/workflows/hello.yml", workflow);
	pushed_make(alpha, "signer", &p);
	/* octo/beta's name first, as a fork's head.repo would come. */
	body = xasprintf("{\"head\":{\"repo\":{\"full_name\":\"octo/beta\"}},"
	    "%s", p.body + 1);
	deliver_to(h, "/hooks/github", alpha->secret, body, &r);
	expect_status(h, &r, 202, "alpha's push with beta named first");
	harness_resp_free(&r);
	deliver_to(h, "/hooks/github", beta->secret, body, &r);
	expect_status(h, &r, 400, "alpha's push signed by beta");
	harness_assert(h, strstr(r.body.data, "octo/beta") != NULL,
	    "the 400 does not name the signer: %s", r.body.data);
	harness_resp_free(&r);

	deliver_to(h, "/hooks/github/octo/alpha", alpha->secret, p.body, &r);
	expect_status(h, &r, 202, "/hooks/github/octo/alpha");
	harness_resp_free(&r);
	deliver_to(h, "/hooks/github/octo/beta", alpha->secret, p.body, &r);
	expect_status(h, &r, 401, "alpha's push to beta's URL");
	harness_resp_free(&r);
	deliver_to(h, "/hooks/github/octo/nobody", alpha->secret, p.body, &r);
	expect_status(h, &r, 404, "an unknown repository's URL");
	harness_resp_free(&r);

	free(body);
	pushed_free(&p);
	harness_repo_free(alpha);
	harness_repo_free(beta);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_ping_is_200_and_other_events_are_202_and_ignored)
{
	struct harness *h = harness_up("ping_and_other_events");
	struct harness_repo *repo = harness_repo_new(h, "octo/events");
	struct harness_resp r;
	struct pushed p;
	json_t *ping, *other, *runs, *run;
	char *body, *guid;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	pushed_make(repo, "events", &p);

	ping = json_pack("{s:s, s:i, s:{s:s, s:i, s:s, s:b, s:[s], "
	    "s:{s:s, s:s, s:s}}, s:O}",
	    "zen", "Keep it logically awesome.", "hook_id", 7,
	    "hook", "type", "Repository", "id", 7, "name", "web", "active", 1,
	    "events", "push", "config", "content_type", "json",
	    "insecure_ssl", "0", "url", "http://127.0.0.1/hooks/github",
	    "repository", json_object_get(p.event, "repository"));
	body = harness_json_text(ping);
	guid = harness_guid();
	deliver(h, "ping", guid, repo->secret, body, strlen(body), &r);
	expect_status(h, &r, 200, "ping");
	harness_resp_free(&r);
	free(guid);
	free(body);
	json_decref(ping);

	/* An event kiln does not act on, shaped like a push. */
	other = json_deep_copy(p.event);
	json_object_set_new(other, "action", json_string("opened"));
	body = harness_json_text(other);
	guid = harness_guid();
	deliver(h, "issues", guid, repo->secret, body, strlen(body), &r);
	expect_status(h, &r, 202, "issues event");
	harness_resp_free(&r);
	free(guid);
	free(body);
	json_decref(other);

	/* The push is the only thing that runs. */
	guid = harness_guid();
	deliver(h, "push", guid, repo->secret, p.body, p.len, &r);
	expect_status(h, &r, 202, "push after ping and issues");
	harness_resp_free(&r);
	free(guid);
	run = harness_wait_run(h, p.sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "event", "push");
	json_decref(run);
	runs = harness_runs(h);
	harness_assert(h, json_array_size(runs) == 1, "expected only the "
	    "push's run: %s", harness_json_text(runs));
	json_decref(runs);

	pushed_free(&p);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST


/*
 * Deliveries that arrive together are stored together (one statement per
 * batch); exactly-once must hold there too: 60 concurrent requests, 40
 * distinct deliveries plus 20 copies of one more, give 41 accepted (202)
 * and 19 duplicates (200), and the database holds 41 events.
 */
#define BURST_DISTINCT	40
#define BURST_COPIES	20
#define BURST_TOTAL	(BURST_DISTINCT + BURST_COPIES)

static size_t
burst_discard_cb(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

START_TEST(test_concurrent_burst_is_stored_exactly_once)
{
	struct harness *h = harness_up("delivery_burst");
	struct harness_repo *repo = harness_repo_new(h, "octo/burst");
	CURL *easy[BURST_TOTAL];
	struct curl_slist *hdrs[BURST_TOTAL];
	CURLM *multi = curl_multi_init();
	char *url, *sig, *same = harness_guid(), *cmd;
	struct pushed p;
	int i, running, n202 = 0, n200 = 0, rounds = 0;
	struct buf out = { 0 };
	long code;

	/* No workflow runs: the test is about intake only. */
	harness_repo_write(repo, ".github/workflows/never.yml",
	    "on:\n  push:\n    branches: [never]\njobs:\n  j:\n"
	    "    runs-on: self-hosted\n    steps:\n      - run: 'true'\n");
	pushed_make(repo, "burst", &p);
	sig = harness_sign(repo->secret, p.body, p.len);
	url = xasprintf("%s/hooks/github", h->base_url);
	for (i = 0; i < BURST_TOTAL; i++) {
		char *guid = i < BURST_DISTINCT ? harness_guid() : xstrdup(same);
		char *hd = xasprintf("X-GitHub-Delivery: %s", guid);
		char *hs = xasprintf("X-Hub-Signature-256: %s", sig);

		hdrs[i] = curl_slist_append(NULL, "X-GitHub-Event: push");
		hdrs[i] = curl_slist_append(hdrs[i], "Content-Type: "
		    "application/json");
		hdrs[i] = curl_slist_append(hdrs[i], hd);
		hdrs[i] = curl_slist_append(hdrs[i], hs);
		easy[i] = curl_easy_init();
		curl_easy_setopt(easy[i], CURLOPT_URL, url);
		curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, hdrs[i]);
		curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, p.body);
		curl_easy_setopt(easy[i], CURLOPT_POSTFIELDSIZE, (long)p.len);
		curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION,
		    burst_discard_cb);
		curl_easy_setopt(easy[i], CURLOPT_TIMEOUT, 30L);
		curl_multi_add_handle(multi, easy[i]);
		free(guid);
		free(hd);
		free(hs);
	}
	do {
		curl_multi_perform(multi, &running);
		if (running > 0)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	} while (running > 0 && ++rounds < 600);
	harness_assert(h, running == 0, "burst did not finish");
	for (i = 0; i < BURST_TOTAL; i++) {
		code = 0;
		curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &code);
		if (code == 202)
			n202++;
		else if (code == 200)
			n200++;
		curl_multi_remove_handle(multi, easy[i]);
		curl_easy_cleanup(easy[i]);
		curl_slist_free_all(hdrs[i]);
	}
	curl_multi_cleanup(multi);
	harness_assert(h, n202 == BURST_DISTINCT + 1 &&
	    n200 == BURST_COPIES - 1, "expected %d accepted and %d "
	    "duplicates, got %d and %d", BURST_DISTINCT + 1, BURST_COPIES - 1,
	    n202, n200);

	/* The database agrees: one event per accepted delivery. */
	cmd = xasprintf("psql -At \"host=%s/state/pg/run dbname=kiln "
	    "user=kiln\" -c \"select count(*) from events where event <> "
	    "'kiln:schedules'\"", h->dir);
	{
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };
		int st = harness_run(argv, NULL, NULL, &out, NULL, 30000);

		harness_assert(h, st == 0, "psql failed: %s", out.data ?
		    out.data : "");
	}
	harness_assert(h, out.data != NULL && atoi(out.data) ==
	    BURST_DISTINCT + 1, "events stored: %s (want %d)",
	    out.data ? out.data : "?", BURST_DISTINCT + 1);

	buf_free(&out);
	free(cmd);
	free(url);
	free(sig);
	free(same);
	pushed_free(&p);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * The intake holds at most webhook_queue_bytes of bodies.  With the
 * database stopped nothing held can finish, so of four concurrent 20 MiB
 * deliveries under a 45 MiB bound exactly two are held and two answered
 * 503 with Retry-After at once; once the database runs again, both held
 * ones are stored and answered 202, and a 503'd one sent again is taken.
 */
#define BIG_BODY	(20 * 1024 * 1024)
#define BIG_N		4

struct big {
	CURL			*easy;
	struct curl_slist	*hdrs;
	char			*guid;
	int			 retry_after;	/* the answer had Retry-After */
	long			 code;
	int			 done;
};

static size_t
big_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct big *b = arg;

	if (size * n > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		b->retry_after = 1;
	return size * n;
}

/* Drive the transfers until `want' of them are done, 60 s at most. */
static int
big_run(CURLM *multi, struct big *big, int want)
{
	CURLMsg *m;
	int running, left, i, done = 0;
	int64_t deadline = now_ms() + 60000;

	for (i = 0; i < BIG_N; i++)
		done += big[i].done;
	while (done < want && now_ms() < deadline) {
		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			for (i = 0; i < BIG_N; i++)
				if (big[i].easy == m->easy_handle &&
				    !big[i].done) {
					big[i].done = 1;
					curl_easy_getinfo(m->easy_handle,
					    CURLINFO_RESPONSE_CODE,
					    &big[i].code);
					done++;
				}
		}
		if (done < want)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	return done;
}

static long
psql_count(struct harness *h, const char *sql)
{
	struct buf out = { 0 };
	char *cmd = xasprintf("psql -At \"host=%s/state/pg/run dbname=kiln "
	    "user=kiln\" -c \"%s\"", h->dir, sql);
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	long n;
	int st = harness_run(argv, NULL, NULL, &out, NULL, 30000);

	harness_assert(h, st == 0, "psql failed: %s", out.data ? out.data :
	    "");
	n = out.data != NULL ? strtol(out.data, NULL, 10) : -1;
	buf_free(&out);
	free(cmd);
	return n;
}

START_TEST(test_queue_bounded_in_bytes_503_and_nothing_accepted_lost)
{
	struct harness *h = harness_new("delivery_bytes_bound");
	struct harness_repo *repo;
	struct big big[BIG_N];
	CURLM *multi = curl_multi_init();
	struct harness_resp r = { 0 };
	char *url, *sig, *body, *hd, *hs, *sqlq, *pad;
	struct pushed p;
	int i, n202 = 0, n503 = 0, again = -1;
	size_t len;

	harness_conf_add(h, "[server]\nwebhook_queue_bytes = 47185920\n"
	    "[workers]\ncount = 0\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/big");
	harness_repo_write(repo, ".github/workflows/never.yml",
	    "on:\n  push:\n    branches: [never]\njobs:\n  j:\n"
	    "    runs-on: self-hosted\n    steps:\n      - run: 'true'\n");
	pushed_make(repo, "big", &p);
	/* The same push, padded to 20 MiB with a field nobody reads. */
	pad = xmalloc(BIG_BODY + 1);
	memset(pad, 'x', BIG_BODY);
	pad[BIG_BODY - p.len - 16] = '\0';
	json_object_set_new(p.event, "padding", json_string(pad));
	free(pad);
	body = harness_json_text(p.event);
	len = strlen(body);
	sig = harness_sign(repo->secret, body, len);
	url = xasprintf("%s/hooks/github", h->base_url);

	/* Nothing held can finish while PostgreSQL is stopped. */
	harness_assert(h, harness_signal_postgres(h, SIGSTOP) > 0,
	    "no postgres process to stop");
	for (i = 0; i < BIG_N; i++) {
		memset(&big[i], 0, sizeof big[i]);
		big[i].guid = harness_guid();
		hd = xasprintf("X-GitHub-Delivery: %s", big[i].guid);
		hs = xasprintf("X-Hub-Signature-256: %s", sig);
		big[i].hdrs = curl_slist_append(NULL, "X-GitHub-Event: push");
		big[i].hdrs = curl_slist_append(big[i].hdrs, "Content-Type: "
		    "application/json");
		big[i].hdrs = curl_slist_append(big[i].hdrs, hd);
		big[i].hdrs = curl_slist_append(big[i].hdrs, hs);
		big[i].easy = curl_easy_init();
		curl_easy_setopt(big[i].easy, CURLOPT_URL, url);
		curl_easy_setopt(big[i].easy, CURLOPT_HTTPHEADER, big[i].hdrs);
		curl_easy_setopt(big[i].easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(big[i].easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
		curl_easy_setopt(big[i].easy, CURLOPT_WRITEFUNCTION,
		    burst_discard_cb);
		curl_easy_setopt(big[i].easy, CURLOPT_HEADERFUNCTION,
		    big_header_cb);
		curl_easy_setopt(big[i].easy, CURLOPT_HEADERDATA, &big[i]);
		curl_easy_setopt(big[i].easy, CURLOPT_TIMEOUT, 90L);
		curl_multi_add_handle(multi, big[i].easy);
		free(hd);
		free(hs);
	}
	/* Two fit in 45 MiB; the other two are refused at once. */
	i = big_run(multi, big, BIG_N - 2);
	harness_signal_postgres(h, SIGCONT);
	harness_assert(h, i == BIG_N - 2, "only %d of %d answered while the "
	    "database was stopped", i, BIG_N - 2);
	for (i = 0; i < BIG_N; i++)
		if (big[i].done) {
			harness_assert(h, big[i].code == 503 &&
			    big[i].retry_after, "delivery %d: HTTP %ld%s while "
			    "over the bound", i, big[i].code,
			    big[i].retry_after ? "" : " without Retry-After");
			again = i;
		}
	/* The held ones complete now, every one of them. */
	harness_assert(h, big_run(multi, big, BIG_N) == BIG_N, "held "
	    "deliveries did not finish");
	for (i = 0; i < BIG_N; i++) {
		n202 += big[i].code == 202;
		n503 += big[i].code == 503;
	}
	harness_assert(h, n202 == 2 && n503 == 2, "want 2 accepted and 2 "
	    "refused, got %d and %d", n202, n503);
	for (i = 0; i < BIG_N; i++) {
		if (big[i].code != 202)
			continue;
		sqlq = xasprintf("select count(*) from events e join deliveries "
		    "d on d.id = e.delivery_id where d.id = '%s' and "
		    "length(e.payload->>'padding') > %d", big[i].guid,
		    BIG_BODY / 2);
		harness_assert(h, psql_count(h, sqlq) == 1, "accepted delivery "
		    "%s is not stored whole", big[i].guid);
		free(sqlq);
	}
	harness_assert(h, psql_count(h, "select count(*) from events "
	    "where event <> 'kiln:schedules'") == 2,
	    "events other than the accepted ones were stored");

	/* A refused one, sent again when there is room, is taken. */
	harness_assert(h, again >= 0, "no refused delivery");
	expect_status(h, (deliver(h, "push", big[again].guid, repo->secret,
	    body, len, &r), &r), 202, "a refused delivery sent again");
	harness_resp_free(&r);

	for (i = 0; i < BIG_N; i++) {
		curl_multi_remove_handle(multi, big[i].easy);
		curl_easy_cleanup(big[i].easy);
		curl_slist_free_all(big[i].hdrs);
		free(big[i].guid);
	}
	curl_multi_cleanup(multi);
	free(url);
	free(sig);
	free(body);
	pushed_free(&p);
	harness_repo_free(repo);
	harness_free(h);
}
END_TEST

static Suite *
webhook_suite(void)
{
	Suite *s = suite_create("webhook");
	TCase *tc = tcase_create("webhook");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_bad_or_missing_signature_is_401_and_not_stored);
	tcase_add_test(tc, test_duplicate_delivery_is_200_and_makes_one_run);
	tcase_add_test(tc, test_concurrent_burst_is_stored_exactly_once);
	tcase_add_test(tc,
	    test_queue_bounded_in_bytes_503_and_nothing_accepted_lost);
	tcase_add_test(tc, test_malformed_json_is_400);
	tcase_add_test(tc, test_unsigned_bodies_are_not_parsed);
	tcase_add_test(tc, test_repository_is_the_one_that_signed);
	tcase_add_test(tc, test_missing_field_is_400_naming_it);
	tcase_add_test(tc, test_unknown_repository_is_404);
	tcase_add_test(tc, test_body_over_25_mib_is_413_and_kilnd_stays_healthy);
	tcase_add_test(tc, test_ping_is_200_and_other_events_are_202_and_ignored);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(webhook_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
