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
