/*
 * Integration tests of secrets at rest: kilnd creates its key file 0600 on
 * first start and refuses to start when the key file lets others read it.
 */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

START_TEST(test_key_file_created_0600_on_first_start)
{
	struct harness	*h = harness_up("key_created");
	struct stat	 st;
	char		*path = xasprintf("%s/secret.key", h->state_dir);

	harness_assert(h, stat(path, &st) == 0, "%s: not created", path);
	harness_assert(h, (st.st_mode & 07777) == 0600 && st.st_size == 32,
	    "%s: mode %o size %lld", path, (unsigned)(st.st_mode & 07777),
	    (long long)st.st_size);
	harness_stop(h);
	free(path);
	harness_free(h);
}
END_TEST

START_TEST(test_key_file_readable_by_others_stops_kilnd)
{
	struct harness	*h = harness_new("key_readable");
	struct buf	 out = { 0 }, err = { 0 };
	char		*path = xasprintf("%s/secret.key", h->state_dir);
	char		*kilnd = xasprintf("%s/kilnd", h->bindir);
	char		*argv[] = { kilnd, "-c", h->conf, NULL };
	int		 rc;

	harness_write_file(h, path, "0123456789abcdef0123456789abcdef");
	harness_assert(h, chmod(path, 0644) == 0, "chmod %s", path);
	rc = harness_run(argv, h->dir, NULL, &out, &err, 30000);
	harness_assert(h, rc != 0 && rc != -1, "kilnd exited %d: %s", rc,
	    err.data ? err.data : "");
	harness_expect_contains(h, err.data ? err.data : "", "kilnd stderr",
	    path);
	harness_expect_contains(h, err.data ? err.data : "", "kilnd stderr",
	    "group or others");
	buf_free(&out);
	buf_free(&err);
	free(kilnd);
	free(path);
	harness_free(h);
}
END_TEST

#define TOKEN_VALUE	"s3cret-VALUE-xyz"	/* 16 bytes */
#define ML_LINE1	"line-one-AAA"
#define ML_LINE2	"line-two-BBB"

/* cictl secret/var set REPO NAME --file <a file holding value>. */
static void
set_value(struct harness *h, const char *kind, const char *repo,
    const char *name, const char *value)
{
	struct buf out = { 0 }, err = { 0 };
	char *path = xasprintf("%s/value-%s", h->dir, name);

	harness_write_file(h, path, value);
	harness_assert(h, harness_cictl(h, &out, &err, kind, "set", repo, name,
	    "--file", path, NULL) == 0, "cictl %s set %s: %s", kind, name,
	    err.data);
	unlink(path);
	free(path);
	buf_free(&out);
	buf_free(&err);
}

START_TEST(test_secret_reaches_step_masked_and_is_never_stored_plain)
{
	struct harness *h = harness_up("secret_masked");
	struct harness_repo *repo = harness_repo_new(h, "octo/secrets");
	struct buf out = { 0 }, err = { 0 };
	char *sha, *log, *leak;
	json_t *run;

	/* A trailing newline in the file is dropped, as documented. */
	set_value(h, "secret", "octo/secrets", "token", TOKEN_VALUE "\n");
	set_value(h, "secret", "octo/secrets", "ML",
	    ML_LINE1 "\n" ML_LINE2 "\n");
	set_value(h, "secret", "octo/secrets", "UNUSED", "never-decrypted\n");
	set_value(h, "var", "octo/secrets", "GREETING", "hello-vars\n");

	/* Names: case-insensitive (one TOKEN), GITHUB_ refused, no values. */
	harness_assert(h, harness_cictl(h, &out, &err, "secret", "list",
	    "octo/secrets", NULL) == 0, "secret list: %s", err.data);
	harness_expect_contains(h, out.data, "secret list", "TOKEN");
	harness_assert(h, strstr(out.data, TOKEN_VALUE) == NULL,
	    "secret list shows a value:\n%s", out.data);
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, NULL, &err, "secret", "set",
	    "octo/secrets", "github_token", "--file", h->conf, NULL) != 0,
	    "a GITHUB_ secret name was accepted");
	harness_expect_contains(h, err.data, "secret set", "GITHUB_");

	harness_repo_write(repo, ".github/workflows/s.yml",
	    "name: secrets\n"
	    "on: push\n"
	    "jobs:\n"
	    "  use:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - env:\n"
	    "          T: ${{ secrets.TOKEN }}\n"
	    "          M: ${{ secrets['ml'] }}\n"
	    "        run: |\n"
	    "          echo \"len=${#T}\"\n"
	    "          echo \"whole=$T\"\n"
	    "          echo \"line=$(printf '%s\\n' \"$M\" | tail -n 1)\"\n"
	    "          echo \"b64=$(printf 'user:%s' \"$T\" | base64 -w0)\"\n"
	    "          printf 'split=%s' \"${T:0:7}\"; sleep 0.3\n"
	    "          printf '%s\\n' \"${T:7}\"\n"
	    "          echo \"var=${{ vars.GREETING }}\"\n"
	    "          echo \"token-is-empty=${{ secrets.GITHUB_TOKEN == '' }}\"\n");
	sha = harness_push(h, repo, "main", "use secrets");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "use");
	harness_expect_contains(h, log, "log", "len=16");
	harness_expect_contains(h, log, "log", "whole=***");
	harness_expect_contains(h, log, "log", "line=***");
	harness_expect_contains(h, log, "log", "var=hello-vars");
	harness_expect_contains(h, log, "log", "token-is-empty=true");
	harness_assert(h, strstr(log, TOKEN_VALUE) == NULL &&
	    strstr(log, ML_LINE2) == NULL && strstr(log, "VALUE-xyz") ==
	    NULL && strstr(log, "dXNlcjpzM2NyZXQtVkFMVUUteHl6") == NULL &&
	    strstr(log, "b64=dXNlcjpz***\n") != NULL,
	    "a secret reached the stored log:\n%s", log);
	free(log);

	/* No table holds a plaintext secret (nor the unused one). */
	leak = harness_sql(h, "SELECT coalesce(string_agg(c.relname, ','), '') "
	    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE n.nspname = 'public' AND c.relkind = 'r' AND "
	    "(query_to_xml(format('SELECT * FROM %I', c.relname), true, "
	    "false, '')::text LIKE '%' || $1 || '%' OR query_to_xml(format("
	    "'SELECT * FROM %I', c.relname), true, false, '')::text LIKE "
	    "'%never-decrypted%')", "VALUE-xyz", NULL);
	harness_assert(h, leak[0] == '\0', "plaintext secret in table(s) %s",
	    leak);
	free(leak);
	leak = harness_sql(h, "SELECT count(*) FROM secrets WHERE sealed LIKE "
	    "'v1:%'", NULL);
	harness_assert(h, strcmp(leak, "3") == 0, "%s sealed secrets", leak);
	free(leak);

	/* rm: gone from the list. */
	buf_clear(&out);
	harness_assert(h, harness_cictl(h, &out, NULL, "secret", "rm",
	    "octo/secrets", "UNUSED", NULL) == 0, "secret rm");
	buf_clear(&out);
	harness_assert(h, harness_cictl(h, &out, NULL, "secret", "list",
	    "octo/secrets", NULL) == 0, "secret list");
	harness_assert(h, strstr(out.data, "UNUSED") == NULL,
	    "removed secret still listed:\n%s", out.data);

	buf_free(&out);
	buf_free(&err);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* refs/pull/N/merge in the bare repository, as GitHub makes it. */
static char *
merge_ref(struct harness *h, struct harness_repo *repo, int number,
    const char *base, const char *head)
{
	char *tree = xasprintf("%s^{tree}", head), *merge, *ref;

	merge = harness_git(h, NULL, "--git-dir", repo->bare, "commit-tree",
	    tree, "-p", base, "-p", head, "-m", "merge", NULL);
	ref = xasprintf("refs/pull/%d/merge", number);
	free(harness_git(h, NULL, "--git-dir", repo->bare, "update-ref", ref,
	    merge, NULL));
	free(ref);
	free(tree);
	return merge;
}

/* An opened pull_request whose head repository is a fork. */
static void
fork_pull_request(struct harness *h, struct harness_repo *repo, int number,
    const char *head_sha, const char *base_sha, const char *merge)
{
	struct harness_resp r;
	json_t *push, *ev, *fork;
	char *body, *sig, *guid;

	push = harness_push_event(repo, "refs/heads/x", head_sha, head_sha,
	    "from a fork");
	fork = json_deep_copy(json_object_get(push, "repository"));
	json_object_set_new(fork, "full_name", json_string("forker/secrets"));
	json_object_set_new(fork, "fork", json_true());
	ev = json_pack("{s:s, s:i, s:{s:i, s:s, s:b, s:b, s:s, s:s, "
	    "s:{s:s, s:s, s:s, s:o}, s:{s:s, s:s, s:s, s:O}}, s:O, s:O}",
	    "action", "opened", "number", number,
	    "pull_request", "number", number, "state", "open", "draft", 0,
	    "merged", 0, "merge_commit_sha", merge, "title", "fork",
	    "head", "ref", "steal", "sha", head_sha, "label", "forker:steal",
	    "repo", fork,
	    "base", "ref", "main", "sha", base_sha, "label", "main", "repo",
	    json_object_get(push, "repository"),
	    "repository", json_object_get(push, "repository"),
	    "sender", json_object_get(push, "sender"));
	harness_assert(h, ev != NULL, "cannot build the fork's payload");
	body = harness_json_text(ev);
	sig = harness_sign(repo->secret, body, strlen(body));
	guid = harness_guid();
	harness_webhook(h, "pull_request", guid, sig, body, strlen(body), &r);
	harness_assert(h, r.status == 202, "fork pull_request: %ld %s",
	    r.status, r.body.data);
	harness_resp_free(&r);
	json_decref(push);
	json_decref(ev);
	free(body);
	free(sig);
	free(guid);
}

static int
pr_runs_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM runs WHERE event = "
	    "'pull_request' AND status = 'completed'", NULL);
	int done = atoi(n) == *(int *)arg;

	free(n);
	return done;
}

START_TEST(test_fork_pull_request_gets_no_secrets)
{
	struct harness *h = harness_up("secret_fork");
	struct harness_repo *repo = harness_repo_new(h, "octo/secrets");
	char *base, *head, *merge1, *merge2, *log, *id;
	int want = 2;
	json_t *run, *idj;

	set_value(h, "secret", "octo/secrets", "TOKEN", TOKEN_VALUE);
	harness_repo_write(repo, ".github/workflows/pr.yml",
	    "on: pull_request\n"
	    "jobs:\n"
	    "  check:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - env:\n"
	    "          T: ${{ secrets.TOKEN }}\n"
	    "        run: echo \"len=${#T} empty=${{ secrets.TOKEN == '' }}\"\n");
	base = harness_repo_commit_push(repo, "main", "base", NULL);
	free(harness_git(h, repo->work, "checkout", "-q", "-b", "topic", NULL));
	harness_repo_write(repo, "x.txt", "x\n");
	head = harness_repo_commit_push(repo, "topic", "topic", NULL);
	merge1 = merge_ref(h, repo, 1, base, head);
	merge2 = merge_ref(h, repo, 2, base, head);
	free(harness_pull_request(h, repo, "pull_request", 1, "topic", head,
	    "main", base, "same repository", merge1));
	fork_pull_request(h, repo, 2, head, base, merge2);
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, pr_runs_cb,
	    &want), "the two pull request runs did not complete");

	/* Same repository: the secret (masked); the fork: empty. */
	id = harness_sql(h, "SELECT r.id FROM runs r JOIN events e ON e.id = "
	    "r.event_id WHERE e.payload->'pull_request'->>'number' = '1'",
	    NULL);
	idj = json_integer(strtoll(id, NULL, 10));
	run = harness_show(h, idj);
	log = harness_job_log(h, run, "check");
	harness_expect_contains(h, log, "same-repository log",
	    "len=16 empty=false");
	free(log);
	json_decref(run);
	json_decref(idj);
	free(id);
	id = harness_sql(h, "SELECT r.id FROM runs r JOIN events e ON e.id = "
	    "r.event_id WHERE e.payload->'pull_request'->>'number' = '2'",
	    NULL);
	idj = json_integer(strtoll(id, NULL, 10));
	run = harness_show(h, idj);
	harness_expect_str(h, run, "fork run", "conclusion", "success");
	log = harness_job_log(h, run, "check");
	harness_expect_contains(h, log, "fork log", "len=0 empty=true");
	free(log);
	json_decref(run);
	json_decref(idj);
	free(id);

	free(base);
	free(head);
	free(merge1);
	free(merge2);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
secrets_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc = tcase_create("secrets");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_key_file_readable_by_others_stops_kilnd);
	tcase_add_test(tc, test_key_file_created_0600_on_first_start);
	tcase_add_test(tc,
	    test_secret_reaches_step_masked_and_is_never_stored_plain);
	tcase_add_test(tc, test_fork_pull_request_gets_no_secrets);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(secrets_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
