/*
 * A signed push webhook becomes finished runs: the whole path through a real
 * kilnd, embedded PostgreSQL, two workers and a real git repository, read
 * back through cictl.  Each test has its own kilnd and directory.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "mirror.h"
#include "util.h"

/* Every step of job has conclusion want. */
static void
expect_steps(struct harness *h, const json_t *job, const char *want)
{
	json_t *steps = json_object_get(job, "steps"), *step;
	size_t i;

	harness_assert(h, json_array_size(steps) > 0, "job %s has no steps: "
	    "%s", harness_str(job, "name"), harness_json_text(job));
	json_array_foreach(steps, i, step)
		harness_expect_str(h, step, "step", "conclusion", want);
}

START_TEST(test_two_jobs_with_needs_succeed_with_checkout_env_and_logs)
{
	struct harness *h = harness_up("two_jobs_with_needs_succeed");
	struct harness_repo *repo = harness_repo_new(h, "octo/success");
	char *token, *content, *file, *wf, *sha, *log, *want;
	json_t *run, *build, *test;

	/* A value that reaches the log only if checkout and cat worked. */
	token = harness_guid();
	content = xasprintf("committed-content-%s", token);
	free(token);
	file = xasprintf("%s\n", content);
	harness_repo_write(repo, "hello.txt", file);
	free(file);
	/*
	 * Markers are computed by the shell, so finding them in the log
	 * proves the step ran, not just that its script was echoed.  The
	 * "build-done" file in the shared directory proves `needs` ordered
	 * the jobs: two workers would otherwise start both at once.
	 */
	wf = xasprintf(
	    "name: two jobs\n"
	    "on: push\n"
	    "jobs:\n"
	    "  build:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: checkout\n"
	    "        uses: actions/checkout@v4\n"
	    "      - name: show committed file\n"
	    "        run: cat hello.txt\n"
	    "      - name: print context\n"
	    "        run: |\n"
	    "          echo \"sha=$GITHUB_SHA\"\n"
	    "          echo \"ref=$GITHUB_REF\"\n"
	    "          echo \"ref_name=$GITHUB_REF_NAME\"\n"
	    "          echo \"repository=$GITHUB_REPOSITORY\"\n"
	    "          echo \"event=$GITHUB_EVENT_NAME\"\n"
	    "          echo \"ci=$CI\"\n"
	    "          test \"$PWD\" = \"$GITHUB_WORKSPACE\" && echo \"pwd-is-workspace\"-yes\n"
	    "      - name: build marker\n"
	    "        run: |\n"
	    "          echo \"BUILD-MARKER-$((40 + 2))\"\n"
	    "          touch %s/build-done\n"
	    "  test:\n"
	    "    runs-on: self-hosted\n"
	    "    needs: build\n"
	    "    steps:\n"
	    "      - name: after build\n"
	    "        run: |\n"
	    "          test -f %s/build-done\n"
	    "          echo \"TEST-MARKER-$((6 * 7))\"\n",
	    h->shared, h->shared);
	harness_repo_write(repo, ".github/workflows/ci.yml", wf);
	sha = harness_push(h, repo, "main", "two jobs");

	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "status", "completed");
	harness_expect_str(h, run, "run", "conclusion", "success");
	harness_expect_str(h, run, "run", "name", "two jobs");
	harness_expect_str(h, run, "run", "path", ".github/workflows/ci.yml");
	harness_expect_str(h, run, "run", "event", "push");
	harness_expect_str(h, run, "run", "head_branch", "main");
	harness_expect_str(h, run, "run", "head_sha", sha);
	harness_assert(h, json_array_size(json_object_get(run, "jobs")) == 2,
	    "expected 2 jobs: %s", harness_json_text(run));

	build = harness_job(h, run, "build");
	test = harness_job(h, run, "test");
	harness_expect_str(h, build, "job build", "status", "completed");
	harness_expect_str(h, build, "job build", "conclusion", "success");
	harness_expect_str(h, test, "job test", "status", "completed");
	harness_expect_str(h, test, "job test", "conclusion", "success");
	expect_steps(h, build, "success");
	expect_steps(h, test, "success");
	harness_expect_str(h, harness_step(h, build, "checkout"),
	    "step checkout", "conclusion", "success");

	log = harness_logs(h, json_object_get(build, "id"));
	harness_expect_contains(h, log, "log of build", content);
	harness_expect_contains(h, log, "log of build", "BUILD-MARKER-42");
	want = xasprintf("sha=%s", sha);
	harness_expect_contains(h, log, "log of build", want);
	free(want);
	harness_expect_contains(h, log, "log of build", "ref=refs/heads/main");
	harness_expect_contains(h, log, "log of build", "ref_name=main");
	harness_expect_contains(h, log, "log of build",
	    "repository=octo/success");
	harness_expect_contains(h, log, "log of build", "event=push");
	harness_expect_contains(h, log, "log of build", "ci=true");
	harness_expect_contains(h, log, "log of build", "pwd-is-workspace-yes");
	harness_assert(h, strstr(log, "TEST-MARKER-42") == NULL,
	    "build's log holds the test job's output:\n%s", log);
	free(log);

	log = harness_logs(h, json_object_get(test, "id"));
	harness_expect_contains(h, log, "log of test", "TEST-MARKER-42");
	harness_assert(h, strstr(log, "BUILD-MARKER-42") == NULL,
	    "test's log holds the build job's output:\n%s", log);
	free(log);

	json_decref(run);
	free(sha);
	free(wf);
	free(content);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_failing_step_fails_job_skips_rest_and_dependants)
{
	struct harness *h = harness_up("failing_step");
	struct harness_repo *repo = harness_repo_new(h, "octo/failing");
	json_t *run, *build, *deploy;
	char *sha, *log;

	harness_repo_write(repo, ".github/workflows/fail.yml",
	    "name: failing\n"
	    "on: push\n"
	    "jobs:\n"
	    "  build:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: first\n"
	    "        run: echo \"FIRST-RAN-$((1 + 1))\"\n"
	    "      - name: boom\n"
	    "        run: |\n"
	    "          echo \"BOOM-$((2 + 2))\"\n"
	    "          exit 3\n"
	    "      - name: after\n"
	    "        run: echo \"AFTER-RAN-$((3 + 3))\"\n"
	    "  deploy:\n"
	    "    runs-on: self-hosted\n"
	    "    needs: build\n"
	    "    steps:\n"
	    "      - name: deploy\n"
	    "        run: echo \"DEPLOY-RAN-$((4 + 4))\"\n");
	sha = harness_push(h, repo, "main", "a failing step");

	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "failure");
	build = harness_job(h, run, "build");
	deploy = harness_job(h, run, "deploy");
	harness_expect_str(h, build, "job build", "status", "completed");
	harness_expect_str(h, build, "job build", "conclusion", "failure");
	harness_expect_str(h, harness_step(h, build, "first"), "step first",
	    "conclusion", "success");
	harness_expect_str(h, harness_step(h, build, "boom"), "step boom",
	    "conclusion", "failure");
	harness_expect_str(h, harness_step(h, build, "after"), "step after",
	    "conclusion", "skipped");
	harness_expect_str(h, deploy, "job deploy", "status", "completed");
	harness_expect_str(h, deploy, "job deploy", "conclusion", "skipped");

	log = harness_logs(h, json_object_get(build, "id"));
	harness_expect_contains(h, log, "log of build", "FIRST-RAN-2");
	harness_expect_contains(h, log, "log of build", "BOOM-4");
	harness_assert(h, strstr(log, "AFTER-RAN-6") == NULL,
	    "the step after the failure ran:\n%s", log);
	free(log);

	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * A job's directories start empty and 0700 whatever the job before left
 * in them: without run_as the worker parks a finished job's directory and
 * the next job takes it over (workspace.c), so this guards the emptying.
 * The jobs share one work_dir, so "clean" takes what "dirty" parked
 * whichever worker runs it.
 */
START_TEST(test_next_job_starts_with_empty_workspace_and_temp)
{
	struct harness *h = harness_new("next_job_empty_workspace");
	struct harness_repo *repo;
	json_t *run, *clean, *dirty;
	char *sha, *log, *dlog, *inodes;

	/*
	 * One worker: the job's conclusion (which releases clean) commits
	 * before its directory is parked, so a second worker woken for
	 * clean could start it in a new directory meanwhile.
	 */
	harness_conf_add(h, "[workers]\ncount = 1\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/leftovers");

	harness_repo_write(repo, ".github/workflows/left.yml",
	    "name: leftovers\n"
	    "on: push\n"
	    "jobs:\n"
	    "  dirty:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          mkdir -p sub/deep && echo x >sub/deep/f && echo y >.hid\n"
	    "          mkdir \"$RUNNER_TEMP/mine\" && echo z >\"$RUNNER_TEMP/left\"\n"
	    "          chmod 0777 \"$GITHUB_WORKSPACE\" \"$RUNNER_TEMP\"\n"
	    "          echo LEAKED=yes >>\"$GITHUB_ENV\"\n"
	    "          echo x >\"$(dirname \"$GITHUB_ENV\")/extra\"\n"
	    "          echo \"inodes=$(stat -c %i,%w \"$GITHUB_ENV\" "
	    "\"$GITHUB_EVENT_PATH\" | tr '\\n' ' ')\"\n"
	    /* Kept files the step swapped for links are not followed. */
	    "          v=\"$RUNNER_TEMP/../../victim-$GITHUB_RUN_ID\"\n"
	    "          echo precious >\"$v-sym\"; echo precious >\"$v-hard\"\n"
	    "          c=\"$(dirname \"$GITHUB_ENV\")\"\n"
	    "          ln -sf \"$v-sym\" \"$c/step_summary\"\n"
	    "          ln -f \"$v-hard\" \"$c/add_path\"\n"
	    "  clean:\n"
	    "    runs-on: self-hosted\n"
	    "    needs: dirty\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          echo \"ws=[$(ls -A \"$GITHUB_WORKSPACE\")]\"\n"
	    "          echo \"tmp=[$(ls -A \"$RUNNER_TEMP\" | grep -vx "
	    "-e event.json -e _runner_file_commands -e '.*\\.sh' | "
	    "tr '\\n' ' ')]\"\n"
	    "          echo \"modes=$(stat -c %a \"$GITHUB_WORKSPACE\" "
	    "\"$RUNNER_TEMP\" | tr '\\n' ' ')\"\n"
	    "          echo \"cmds=[$(cat \"$GITHUB_ENV\" \"$GITHUB_PATH\")]\"\n"
	    "          echo \"cmdfiles=[$(ls -A \"$(dirname \"$GITHUB_ENV\")\" | "
	    "tr '\\n' ' ')]\"\n"
	    "          echo \"inodes=$(stat -c %i,%w \"$GITHUB_ENV\" "
	    "\"$GITHUB_EVENT_PATH\" | tr '\\n' ' ')\"\n"
	    "          v=\"$RUNNER_TEMP/../../victim-$GITHUB_RUN_ID\"\n"
	    "          echo \"victims=$(cat \"$v-sym\" \"$v-hard\" | "
	    "tr '\\n' ' ')\"\n"
	    "          echo \"types=$(stat -c %F,%h \"$(dirname "
	    "\"$GITHUB_ENV\")/step_summary\" \"$(dirname \"$GITHUB_ENV\")"
	    "/add_path\" | tr '\\n' ' ')\"\n");
	sha = harness_push(h, repo, "main", "leftovers");

	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	clean = harness_job(h, run, "clean");
	log = harness_logs(h, json_object_get(clean, "id"));
	harness_expect_contains(h, log, "log of clean", "ws=[]");
	harness_expect_contains(h, log, "log of clean", "tmp=[]");
	harness_expect_contains(h, log, "log of clean", "modes=700 700 ");
	harness_expect_contains(h, log, "log of clean", "cmds=[]");
	harness_expect_contains(h, log, "log of clean", "cmdfiles=[add_path "
	    "save_state set_env set_output step_summary ]");
	/* Links left in place of kept files: removed, their targets whole. */
	harness_expect_contains(h, log, "log of clean",
	    "victims=precious precious ");
	harness_expect_contains(h, log, "log of clean",
	    "types=regular empty file,1 regular empty file,1 ");
	/*
	 * The next job reuses the files rather than allocating inodes
	 * (workspace.c): GITHUB_ENV and the event file are the same files (inode
	 * and birth time: ext4 may give a new file the inode just freed).
	 */
	dirty = harness_job(h, run, "dirty");
	dlog = harness_logs(h, json_object_get(dirty, "id"));
	/* The line the step printed, not the script's echo of it. */
	inodes = strstr(dlog, "\ninodes=");
	harness_assert(h, inodes != NULL && strchr(++inodes, '\n') != NULL,
	    "no inodes in the log of dirty:\n%s", dlog);
	*strchr(inodes, '\n') = '\0';
	harness_expect_contains(h, log, "log of clean (the same files)",
	    inodes);
	free(dlog);
	free(log);

	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_yaml_error_gives_failed_run_naming_file_and_line)
{
	struct harness *h = harness_up("yaml_error");
	struct harness_repo *repo = harness_repo_new(h, "octo/badyaml");
	const char *msg, *p;
	json_t *bad, *good;
	char *out;
	char *sha;

	/* libyaml: "mapping values are not allowed here" at line 3 col 7. */
	harness_repo_write(repo, ".github/workflows/bad.yml",
	    "name: bad\n"
	    "on: push\n"
	    "  jobs:\n"
	    "    build:\n"
	    "      runs-on: self-hosted\n");
	/* One broken file must not stop the others. */
	harness_repo_write(repo, ".github/workflows/good.yaml",
	    "name: good\n"
	    "on: push\n"
	    "jobs:\n"
	    "  ok:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: ok\n"
	    "        run: echo fine\n");
	sha = harness_push(h, repo, "main", "a broken workflow");

	bad = harness_wait_run(h, sha, ".github/workflows/bad.yml",
	    HARNESS_RUN_MS);
	harness_expect_str(h, bad, "run of bad.yml", "status", "completed");
	harness_expect_str(h, bad, "run of bad.yml", "conclusion", "failure");
	msg = harness_str(bad, "message");
	harness_assert(h, msg != NULL, "failed run has no message: %s",
	    harness_json_text(bad));
	harness_expect_contains(h, msg, "the run's message",
	    ".github/workflows/bad.yml:3:");
	/* file:line:col: a column number follows the line. */
	p = strstr(msg, "bad.yml:3:") + strlen("bad.yml:3:");
	harness_assert(h, *p >= '1' && *p <= '9', "no column after the line "
	    "in \"%s\"", msg);

	good = harness_wait_run(h, sha, ".github/workflows/good.yaml",
	    HARNESS_RUN_MS);
	harness_expect_str(h, good, "run of good.yaml", "conclusion",
	    "success");
	/*
	 * No [github] section: nothing sends the outbox, so neither the
	 * failed run nor the job's states leave rows there to wait for ever
	 * (sql/033_outbox_reporting.sql).
	 */
	out = harness_sql(h, "SELECT count(*) FROM outbox", NULL);
	harness_assert(h, out != NULL && strcmp(out, "0") == 0, "outbox rows "
	    "without [github]: %s", out ? out : "(query failed)");
	free(out);

	json_decref(bad);
	json_decref(good);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_branch_filters_select_workflows)
{
	struct harness *h = harness_up("branch_filters");
	struct harness_repo *repo = harness_repo_new(h, "octo/filters");
	const char *branch = "feature/deep/x";
	json_t *runs, *run, *r;
	size_t i, n = 0;
	char *sha;
	static const char job[] =
	    "jobs:\n"
	    "  j:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: say\n"
	    "        run: echo \"branch=$GITHUB_REF_NAME\"\n";
	char *wf;

	wf = xasprintf("name: main only\non:\n  push:\n    branches: [main]\n%s",
	    job);
	harness_repo_write(repo, ".github/workflows/main-only.yml", wf);
	free(wf);
	/* `*` does not cross '/': feature/deep/x is not feature/<one>. */
	wf = xasprintf("name: single star\non:\n  push:\n    branches:\n"
	    "      - 'feature/*'\n%s", job);
	harness_repo_write(repo, ".github/workflows/single-star.yml", wf);
	free(wf);
	wf = xasprintf("name: double star\non:\n  push:\n    branches:\n"
	    "      - 'feature/**'\n%s", job);
	harness_repo_write(repo, ".github/workflows/double-star.yml", wf);
	free(wf);
	wf = xasprintf("name: any\non: push\n%s", job);
	harness_repo_write(repo, ".github/workflows/any.yml", wf);
	free(wf);
	sha = harness_push(h, repo, branch, "push to a feature branch");

	/*
	 * A push is planned into all its runs in one transaction, so once
	 * the expected runs exist, an unexpected one would exist too.
	 */
	run = harness_wait_run(h, sha, ".github/workflows/any.yml",
	    HARNESS_RUN_MS);
	harness_expect_str(h, run, "run of any.yml", "conclusion", "success");
	harness_expect_str(h, run, "run of any.yml", "head_branch", branch);
	json_decref(run);
	run = harness_wait_run(h, sha, ".github/workflows/double-star.yml",
	    HARNESS_RUN_MS);
	harness_expect_str(h, run, "run of double-star.yml", "conclusion",
	    "success");
	json_decref(run);

	runs = harness_runs(h);
	json_array_foreach(runs, i, r) {
		const char *path = harness_str(r, "path");
		harness_assert(h, path != NULL &&
		    (strcmp(path, ".github/workflows/any.yml") == 0 ||
		    strcmp(path, ".github/workflows/double-star.yml") == 0),
		    "push to %s ran a workflow whose filter excludes it: %s",
		    branch, harness_json_text(r));
		n++;
	}
	harness_assert(h, n == 2, "expected 2 runs, got %zu: %s", n,
	    harness_json_text(runs));
	json_decref(runs);

	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * A push whose commit the mirror holds already (its webhook late: a later
 * push's fetch brought it) is planned and run without fetching, so it
 * runs even while the repository cannot be reached.  Without that the
 * planner's fetch fails and the event waits for a retry (plan.c).
 */
START_TEST(test_push_of_a_fetched_commit_runs_without_fetching)
{
	struct harness *h = harness_up("push_fetched_commit");
	struct harness_repo *repo = harness_repo_new(h, "octo/late");
	char *first, *second, *before1, *before2, *gone, *log;
	json_t *run;

	harness_repo_write(repo, ".github/workflows/late.yml",
	    "name: late\n"
	    "on: push\n"
	    "jobs:\n"
	    "  show:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - uses: actions/checkout@v4\n"
	    "      - run: echo \"AT-$(cat n)-$((20 + 1))\"\n");
	/* Not the branch's first commit: a push creating a ref fetches. */
	free(harness_repo_commit_push(repo, "main", "zero", &before1));
	free(before1);
	harness_repo_write(repo, "n", "one\n");
	first = harness_repo_commit_push(repo, "main", "one", &before1);
	harness_repo_write(repo, "n", "two\n");
	second = harness_repo_commit_push(repo, "main", "two", &before2);

	harness_deliver_push(h, repo, "refs/heads/main", before2, second,
	    "two");
	run = harness_wait_run(h, second, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	json_decref(run);

	/* The repository goes away; the first push's webhook arrives. */
	gone = xasprintf("%s.gone", repo->bare);
	if (rename(repo->bare, gone) == -1)
		harness_fail(h, "rename %s: %s", repo->bare, strerror(errno));
	harness_deliver_push(h, repo, "refs/heads/main", before1, first,
	    "one");
	run = harness_wait_run(h, first, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "show");
	harness_expect_contains(h, log, "log of show", "AT-one-21");
	free(log);
	if (rename(gone, repo->bare) == -1)
		harness_fail(h, "rename %s: %s", gone, strerror(errno));

	json_decref(run);
	free(gone);
	free(first);
	free(second);
	free(before1);
	free(before2);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* The .pack files in a mirror. */
static size_t
mirror_packs(struct harness *h, const char *mirror)
{
	char *dir = xasprintf("%s/objects/pack", mirror);
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		harness_fail(h, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		n += str_has_suffix(e->d_name, ".pack");
	closedir(d);
	free(dir);
	return n;
}

/*
 * Each planner's fetch adds a pack to the repository's mirror and leaves
 * combining them to the worker's next idle moment (mirror_tidy()), so no
 * plan waits for it: after more pushes than MIRROR_PACK_LIMIT, each run
 * waited for, the mirror still has at most that many once the workers
 * are idle.  Without the idle tidy the fetches would pile up packs to
 * MIRROR_PACK_FETCH_LIMIT.
 */
START_TEST(test_idle_worker_combines_the_mirrors_packs)
{
	struct harness *h = harness_up("idle_tidy");
	struct harness_repo *repo = harness_repo_new(h, "octo/packs");
	char *sha, *before, *id, *mirror, body[32];
	json_t *run;
	size_t n = 0;
	int i, waited;

	harness_repo_write(repo, ".github/workflows/t.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  t:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: \"true\"\n");
	free(harness_repo_commit_push(repo, "main", "zero", &before));
	free(before);
	for (i = 0; i < MIRROR_PACK_LIMIT + 4; i++) {
		snprintf(body, sizeof body, "%d\n", i);
		harness_repo_write(repo, "n", body);
		sha = harness_repo_commit_push(repo, "main", body, &before);
		harness_deliver_push(h, repo, "refs/heads/main", before, sha,
		    body);
		run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
		harness_expect_str(h, run, "run", "conclusion", "success");
		json_decref(run);
		free(sha);
		free(before);
	}
	id = harness_sql(h, "SELECT id::text FROM repositories WHERE "
	    "full_name = 'octo/packs'", NULL);
	mirror = xasprintf("%s/work/mirrors/%s.git", h->state_dir, id);
	for (waited = 0; waited < 10000; waited += 50) {
		if ((n = mirror_packs(h, mirror)) <= MIRROR_PACK_LIMIT)
			break;
		poll(NULL, 0, 50);
	}
	harness_assert(h, n <= MIRROR_PACK_LIMIT, "%s has %zu packs 10 s "
	    "after %d fetches (limit %d)", mirror, n, MIRROR_PACK_LIMIT + 4,
	    MIRROR_PACK_LIMIT);
	harness_assert(h, n >= 1, "%s has no pack", mirror);
	free(mirror);
	free(id);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
push_suite(void)
{
	Suite *s = suite_create("push");
	TCase *tc = tcase_create("push");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_two_jobs_with_needs_succeed_with_checkout_env_and_logs);
	tcase_add_test(tc, test_failing_step_fails_job_skips_rest_and_dependants);
	tcase_add_test(tc, test_yaml_error_gives_failed_run_naming_file_and_line);
	tcase_add_test(tc, test_branch_filters_select_workflows);
	tcase_add_test(tc, test_next_job_starts_with_empty_workspace_and_temp);
	tcase_add_test(tc, test_push_of_a_fetched_commit_runs_without_fetching);
	tcase_add_test(tc, test_idle_worker_combines_the_mirrors_packs);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(push_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
