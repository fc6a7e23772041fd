/*
 * Integration tests of `cictl repo show|edit|rm`: show gives settings,
 * secret and variable names and the last runs; edit rotates the webhook
 * secret (the old one is refused from then on) and changes the default
 * branch; rm keeps the history (runs, logs) while webhooks, secrets and
 * the repository list forget the name, and cancels what is running;
 * rm --purge is refused while a run is active and otherwise deletes the
 * runs, the job logs on disk and the cache archives.
 */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static int
path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Deliver repo's push event for sha signed with secret; the status. */
static long
push_signed(struct harness *h, struct harness_repo *repo, const char *sha,
    const char *secret)
{
	struct harness_resp resp = { 0 };
	json_t *ev = harness_push_event(repo, "refs/heads/main",
	    "0000000000000000000000000000000000000000", sha, "again");
	char *body = harness_json_text(ev), *sig, *guid = harness_guid();
	long status;

	sig = harness_sign(secret, body, strlen(body));
	harness_webhook(h, "push", guid, sig, body, strlen(body), &resp);
	status = resp.status;
	harness_resp_free(&resp);
	free(sig);
	free(guid);
	free(body);
	json_decref(ev);
	return status;
}

static char *
int_text(const json_t *o, const char *key)
{
	return xasprintf("%lld", (long long)json_integer_value(
	    json_object_get(o, key)));
}

struct cancel_wait {
	const json_t	*id;
	json_t		*run;
};

static int
run_cancelled_cb(struct harness *h, void *arg)
{
	struct cancel_wait *w = arg;

	json_decref(w->run);
	w->run = harness_show(h, w->id);
	return harness_str(w->run, "conclusion") != NULL &&
	    strcmp(harness_str(w->run, "conclusion"), "cancelled") == 0;
}

static int
run_started_cb(struct harness *h, void *arg)
{
	char *path = xasprintf("%s/started", h->shared);
	int ok = path_exists(path);

	free(path);
	return ok;
}

static int
two_done_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM runs WHERE "
	    "status = 'completed'", NULL);
	int ok = strcmp(n, "2") == 0;

	free(n);
	return ok;
}

START_TEST(test_repo_show_edit_rm_purge)
{
	struct harness *h = harness_up("repo_cmds");
	struct harness_repo *repo = harness_repo_new(h, "octo/keep");
	struct buf out = { 0 }, err = { 0 };
	json_t *run, *show, *list, *job, *want_s, *want_v;
	char *sha, *run_id, *job_id, *repo_id, *logpath, *cachedir;
	char *cachefile, *cache_id, *newsecret, *log, *n, *art_id, *artfile;

	harness_repo_write(repo, ".github/workflows/ci.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  build:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo KEPT-LOG-LINE\n");
	sha = harness_push(h, repo, "main", "ci");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	run_id = int_text(run, "id");
	job = json_array_get(json_object_get(run, "jobs"), 0);
	job_id = int_text(job, "id");
	n = xasprintf("%s/s1", h->dir);
	harness_write_file(h, n, "s3cret\n");
	harness_assert(h, harness_cictl(h, NULL, &err, "secret", "set",
	    "octo/keep", "S1", "--file", n, NULL) == 0, "secret set: %s",
	    err.data);
	free(n);
	harness_assert(h, harness_cictl(h, NULL, &err, "var", "set",
	    "octo/keep", "V1", "x", NULL) == 0, "var set: %s", err.data);

	/* show: settings, names (never values), the run. */
	show = harness_cictl_json(h, "repo", "show", "octo/keep", "--json",
	    NULL);
	harness_expect_str(h, show, "show", "full_name", "octo/keep");
	harness_expect_str(h, show, "show", "default_branch", "main");
	want_s = json_pack("[s]", "S1");
	want_v = json_pack("[s]", "V1");
	harness_assert(h, json_equal(json_object_get(show, "secrets"),
	    want_s) && json_equal(json_object_get(show, "variables"),
	    want_v) &&
	    json_integer_value(json_object_get(show, "runs_total")) == 1 &&
	    json_integer_value(json_object_get(json_array_get(
	    json_object_get(show, "last_runs"), 0), "id")) ==
	    json_integer_value(json_object_get(run, "id")),
	    "show: %s", harness_json_text(show));
	repo_id = int_text(show, "id");
	json_decref(want_s);
	json_decref(want_v);
	json_decref(show);
	buf_clear(&out);
	harness_assert(h, harness_cictl(h, &out, &err, "repo", "show",
	    "octo/keep", NULL) == 0, "repo show: %s", err.data);
	harness_expect_contains(h, out.data, "repo show", "S1");
	harness_expect_contains(h, out.data, "repo show", "Last runs");
	harness_expect_contains(h, out.data, "repo show", "success");
	harness_assert(h, strstr(out.data, "s3cret") == NULL,
	    "a secret's value shown: %s", out.data);

	/* edit: refusals, then a secret rotation and a new branch. */
	harness_assert(h, harness_cictl(h, NULL, &err, "repo", "edit",
	    "octo/keep", NULL) != 0, "an empty edit was accepted");
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, NULL, &err, "repo", "edit",
	    "octo/keep", "--default-branch", "a b", NULL) != 0,
	    "a branch with a blank was accepted");
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, NULL, &err, "repo", "edit",
	    "octo/none", "--default-branch", "dev", NULL) != 0,
	    "an unknown repository was edited");
	harness_expect_contains(h, err.data, "edit unknown", "no repository");
	newsecret = xasprintf("%s/newsecret", h->dir);
	harness_write_file(h, newsecret, "rotated-secret-42\n");
	buf_clear(&out);
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, &out, &err, "repo", "edit",
	    "octo/keep", "--secret-file", newsecret, "--default-branch",
	    "dev", NULL) == 0, "repo edit: %s", err.data);
	harness_expect_contains(h, out.data, "repo edit", "default branch dev");
	show = harness_cictl_json(h, "repo", "show", "octo/keep", "--json",
	    NULL);
	harness_expect_str(h, show, "show", "default_branch", "dev");
	json_decref(show);
	harness_assert(h, push_signed(h, repo, sha, repo->secret) == 401,
	    "the old webhook secret still works");
	harness_assert(h, push_signed(h, repo, sha, "rotated-secret-42") ==
	    202, "the new webhook secret is refused");
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, two_done_cb,
	    NULL), "the second run never completed");

	/* rm: history kept, the name forgotten elsewhere. */
	buf_clear(&out);
	harness_assert(h, harness_cictl(h, &out, &err, "repo", "rm",
	    "octo/keep", NULL) == 0, "repo rm: %s", err.data);
	harness_expect_contains(h, out.data, "repo rm", "removed octo/keep");
	list = harness_cictl_json(h, "repo", "list", "--json", NULL);
	harness_assert(h, harness_find(list, "full_name", "octo/keep") ==
	    NULL, "a removed repository is listed: %s",
	    harness_json_text(list));
	json_decref(list);
	show = harness_cictl_json(h, "repo", "show", "octo/keep", "--json",
	    NULL);
	harness_assert(h, json_is_string(json_object_get(show, "removed_at"))
	    && json_array_size(json_object_get(show, "secrets")) == 0 &&
	    json_array_size(json_object_get(show, "variables")) == 0 &&
	    json_integer_value(json_object_get(show, "runs_total")) >= 1,
	    "show after rm: %s", harness_json_text(show));
	json_decref(show);
	log = harness_logs(h, json_object_get(job, "id"));
	harness_expect_contains(h, log, "kept log", "KEPT-LOG-LINE");
	free(log);
	harness_assert(h, push_signed(h, repo, sha, "rotated-secret-42") ==
	    404, "a removed repository took a webhook");
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, NULL, &err, "secret", "list",
	    "octo/keep", NULL) != 0, "secrets of a removed repository");
	harness_assert(h, harness_cictl(h, NULL, &err, "repo", "rm",
	    "octo/keep", NULL) != 0, "removed twice");

	/* --purge: runs, job logs and cache archives go. */
	logpath = xasprintf("%s/logs/%s.log", h->state_dir, job_id);
	harness_assert(h, path_exists(logpath), "no log file %s", logpath);
	cache_id = harness_sql(h, "INSERT INTO cache_entries (repository_id, "
	    "scope, key, version, size_bytes) VALUES ($1, 'refs/heads/main', "
	    "'k', 'v', 3) RETURNING id", repo_id, NULL);
	cachedir = xasprintf("%s/cache/%s", h->state_dir, repo_id);
	cachefile = xasprintf("%s/%s.tar.zst", cachedir, cache_id);
	harness_write_file(h, cachefile, "zst");
	art_id = harness_sql(h, "INSERT INTO artifacts (run_id, name, "
	    "size_bytes, sha256, expires_at) VALUES ($1, 'a', 3, "
	    "repeat('0', 64), now() + interval '1 day') RETURNING id",
	    run_id, NULL);
	artfile = xasprintf("%s/artifacts/%s/%s.zip", h->state_dir, run_id,
	    art_id);
	harness_write_file(h, artfile, "zip");
	buf_clear(&out);
	harness_assert(h, harness_cictl(h, &out, &err, "repo", "rm",
	    "octo/keep", "--purge", NULL) == 0, "repo rm --purge: %s",
	    err.data);
	harness_expect_contains(h, out.data, "purge", "purged octo/keep: 2 "
	    "runs, 2 jobs, 1 cache entries, 1 artifacts; 6 files removed");
	harness_assert(h, !path_exists(logpath), "%s still there", logpath);
	harness_assert(h, !path_exists(cachefile), "%s still there",
	    cachefile);
	harness_assert(h, !path_exists(cachedir), "%s still there", cachedir);
	harness_assert(h, !path_exists(artfile), "%s still there", artfile);
	n = harness_sql(h, "SELECT count(*) FROM runs WHERE id = $1", run_id,
	    NULL);
	harness_assert(h, strcmp(n, "0") == 0, "runs left: %s", n);
	free(n);
	buf_clear(&err);
	harness_assert(h, harness_cictl(h, NULL, &err, "repo", "show",
	    "octo/keep", NULL) != 0, "a purged repository is shown");

	free(artfile);
	free(art_id);
	free(cachefile);
	free(cachedir);
	free(cache_id);
	free(logpath);
	free(newsecret);
	free(repo_id);
	free(job_id);
	free(run_id);
	free(sha);
	json_decref(run);
	buf_free(&out);
	buf_free(&err);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_repo_rm_cancels_and_purge_waits)
{
	struct harness *h = harness_up("repo_active");
	struct harness_repo *repo = harness_repo_new(h, "octo/busy");
	struct buf out = { 0 }, err = { 0 };
	struct cancel_wait w = { NULL, NULL };
	json_t *runs, *id;
	char *wf, *sha;

	wf = xasprintf(
	    "on: push\n"
	    "jobs:\n"
	    "  slow:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          touch %s/started\n"
	    "          sleep 120\n", h->shared);
	harness_repo_write(repo, ".github/workflows/slow.yml", wf);
	free(wf);
	sha = harness_push(h, repo, "main", "slow");
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, run_started_cb,
	    NULL), "the step never started");

	/* A purge while the run is active is refused, naming why. */
	harness_assert(h, harness_cictl(h, NULL, &err, "repo", "rm",
	    "octo/busy", "--purge", NULL) != 0, "purged while running");
	harness_expect_contains(h, err.data, "purge refused", "still active");

	/* A removal cancels it. */
	harness_assert(h, harness_cictl(h, &out, &err, "repo", "rm",
	    "octo/busy", NULL) == 0, "repo rm: %s", err.data);
	runs = harness_runs(h);
	id = json_object_get(json_array_get(runs, 0), "id");
	w.id = id;
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, run_cancelled_cb,
	    &w), "run not cancelled: %s", harness_json_text(w.run));

	/* Adding it again brings its history back. */
	harness_assert(h, harness_cictl(h, NULL, &err, "repo", "add",
	    "octo/busy", "--url", repo->clone_url, "--secret-file",
	    repo->secret_file, NULL) == 0, "re-adding: %s", err.data);
	json_decref(runs);
	runs = harness_cictl_json(h, "runs", "--repo", "octo/busy", "--json",
	    NULL);
	harness_assert(h, json_array_size(runs) == 1, "runs after re-adding: "
	    "%s", harness_json_text(runs));

	json_decref(runs);
	json_decref(w.run);
	free(sha);
	buf_free(&out);
	buf_free(&err);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
repo_suite(void)
{
	Suite *s = suite_create("repo");
	TCase *tc = tcase_create("repo");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_repo_show_edit_rm_purge);
	tcase_add_test(tc, test_repo_rm_cancels_and_purge_waits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(repo_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
