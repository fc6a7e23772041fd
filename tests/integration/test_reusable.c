/*
 * Reusable workflows (jobs.<id>.uses), as GitHub runs them: a local one
 * with typed inputs and defaults, secrets: inherit (masked), outputs a
 * later caller-side job reads through needs; one of another repository
 * fetched from [actions] base_url by OWNER/REPO/PATH@v1; a missing
 * callee, a wrong-typed input and too deep a nesting fail the run naming
 * them.  Real parts: kilnd with its embedded PostgreSQL and workers, git
 * repositories served as file://, a signed push webhook.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define RUN_MS	90000

static const char build_yml[] =
    "name: build\n"
    "on:\n"
    "  workflow_call:\n"
    "    inputs:\n"
    "      greeting:\n"
    "        type: string\n"
    "        required: true\n"
    "      times:\n"
    "        type: number\n"
    "        default: 2\n"
    "      loud:\n"
    "        type: boolean\n"
    "        default: false\n"
    "    secrets:\n"
    "      token:\n"
    "        required: false\n"
    "    outputs:\n"
    "      said:\n"
    "        value: ${{ jobs.say.outputs.text }}\n"
    "env:\n"
    "  CALLEE_ENV: from-callee\n"
    "jobs:\n"
    "  say:\n"
    "    runs-on: self-hosted\n"
    "    outputs:\n"
    "      text: ${{ steps.s.outputs.text }}\n"
    "    steps:\n"
    "      - id: s\n"
    "        run: |\n"
    "          echo \"GREETING=${{ inputs.greeting }} "
    "TIMES=${{ inputs.times }} LOUD=${{ inputs.loud }} "
    "BOOL=${{ inputs.loud == true }}\"\n"
    "          echo \"TOKEN=${{ secrets.token }}\"\n"
    "          echo \"ENV=$CALLEE_ENV JOB=$GITHUB_JOB\"\n"
    "          echo \"WREF=${{ github.workflow_ref }}\"\n"
    "          echo \"JWSHA=${{ github.job_workflow_sha }}\"\n"
    "          echo \"text=${{ inputs.greeting }}-${{ inputs.times }}\" "
    ">> \"$GITHUB_OUTPUT\"\n";

static const char ci_yml[] =
    "name: ci\n"
    "on: push\n"
    "jobs:\n"
    "  call:\n"
    "    uses: ./.github/workflows/build.yml\n"
    "    with:\n"
    "      greeting: hi\n"
    "      loud: true\n"
    "    secrets: inherit\n"
    "  gated:\n"
    "    if: inputs.greeting == ''\n"
    "    uses: ./.github/workflows/build.yml\n"
    "    with:\n"
    "      greeting: gated\n"
    "  skipped:\n"
    "    if: github.event_name != 'push'\n"
    "    uses: ./.github/workflows/build.yml\n"
    "    with:\n"
    "      greeting: never\n"
    "  legs:\n"
    "    strategy:\n"
    "      matrix:\n"
    "        g: [ma, mb]\n"
    "    uses: ./.github/workflows/build.yml\n"
    "    with:\n"
    "      greeting: ${{ matrix.g }}\n"
    "      times: 3\n"
    "  after:\n"
    "    needs: [call, legs]\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: |\n"
    "          echo \"GOT=${{ needs.call.outputs.said }}\"\n"
    "          echo \"LEGS=${{ needs.legs.outputs.said }}\"\n";

#define TOKEN_VALUE	"tok-REUSABLE-123"

START_TEST(test_local_call)
{
	struct harness *h = harness_up("reusable_local");
	struct harness_repo *repo = harness_repo_new(h, "octo/reuse");
	struct buf out = { 0 }, err = { 0 };
	char *sha, *log, *path, *p;
	json_t *run, *job;

	path = xasprintf("%s/value-token", h->dir);
	harness_write_file(h, path, TOKEN_VALUE);
	harness_assert(h, harness_cictl(h, &out, &err, "secret", "set",
	    "octo/reuse", "token", "--file", path, NULL) == 0, "secret set: %s",
	    err.data);
	free(path);
	harness_repo_write(repo, ".github/workflows/build.yml", build_yml);
	harness_repo_write(repo, ".github/workflows/ci.yml", ci_yml);
	sha = harness_push(h, repo, "main", "reusable");
	run = harness_wait_run(h, sha, ".github/workflows/ci.yml", RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");

	job = harness_job(h, run, "call / say");
	harness_expect_str(h, job, "call / say", "conclusion", "success");
	log = harness_job_log(h, run, "call / say");
	harness_expect_contains(h, log, "typed inputs and a default",
	    "GREETING=hi TIMES=2 LOUD=true BOOL=true\n");
	harness_expect_contains(h, log, "the inherited secret, masked",
	    "TOKEN=***\n");
	harness_assert(h, strstr(log, TOKEN_VALUE) == NULL, "the secret "
	    "was printed:\n%s", log);
	harness_expect_contains(h, log, "the callee's env, its own job id",
	    "ENV=from-callee JOB=say\n");
	harness_expect_contains(h, log, "github.workflow_ref", "WREF=octo/reuse/"
	    ".github/workflows/ci.yml@refs/heads/main\n");
	p = xasprintf("JWSHA=%s\n", sha);
	harness_expect_contains(h, log, "github.job_workflow_sha", p);
	free(p);
	free(log);

	harness_expect_str(h, harness_job(h, run, "call"), "call", "conclusion",
	    "success");
	log = harness_job_log(h, run, "after");
	harness_expect_contains(h, log, "the call's output through needs",
	    "GOT=hi-2\n");
	harness_assert(h, strstr(log, "LEGS=ma-3\n") != NULL ||
	    strstr(log, "LEGS=mb-3\n") != NULL, "a leg's output through "
	    "needs:\n%s", log);
	free(log);

	/*
	 * The caller's if: as the caller sees it: the run's inputs (none), not
	 * the called workflow's (greeting: gated); false, the caller's jobs
	 * are skipped and so is it.
	 */
	harness_expect_str(h, harness_job(h, run, "gated / say"), "gated / say",
	    "conclusion", "success");
	harness_expect_str(h, harness_job(h, run, "skipped / say"),
	    "skipped / say", "conclusion", "skipped");
	harness_expect_str(h, harness_job(h, run, "skipped"), "skipped",
	    "conclusion", "skipped");

	/* A matrix of callers: the whole workflow per leg, the secret not
	 * passed (no secrets: given). */
	log = harness_job_log(h, run, "legs (ma) / say");
	harness_expect_contains(h, log, "leg ma", "GREETING=ma TIMES=3 "
	    "LOUD=false BOOL=false\n");
	harness_expect_contains(h, log, "no secrets passed", "TOKEN=\n");
	free(log);
	log = harness_job_log(h, run, "legs (mb) / say");
	harness_expect_contains(h, log, "leg mb", "GREETING=mb TIMES=3 ");
	free(log);

	json_decref(run);
	free(sha);
	buf_free(&out);
	buf_free(&err);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* A run that failed before any job, its message holding want. */
static void
expect_refused(struct harness *h, const char *sha, const char *path,
    const char *want)
{
	json_t *run = harness_wait_run(h, sha, path, RUN_MS);
	const char *msg = harness_str(run, "message");

	harness_expect_str(h, run, path, "conclusion", "failure");
	harness_assert(h, msg != NULL && strstr(msg, want) != NULL, "%s: "
	    "message %s, wanted %s", path, msg ? msg : "(null)", want);
	json_decref(run);
}

START_TEST(test_refused_calls)
{
	struct harness *h = harness_up("reusable_refused");
	struct harness_repo *repo = harness_repo_new(h, "octo/refuse");
	char *sha, *p, *text;
	int i;

	harness_repo_write(repo, ".github/workflows/build.yml", build_yml);
	harness_repo_write(repo, ".github/workflows/missing.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  call:\n"
	    "    uses: ./.github/workflows/nope.yml\n");
	harness_repo_write(repo, ".github/workflows/typed.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  call:\n"
	    "    uses: ./.github/workflows/build.yml\n"
	    "    with:\n"
	    "      greeting: hi\n"
	    "      times: many\n");
	harness_repo_write(repo, ".github/workflows/plain.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  call:\n"
	    "    uses: ./.github/workflows/missing.yml\n");
	/* deep.yml -> d1 -> ... -> d10: eleven levels. */
	harness_repo_write(repo, ".github/workflows/deep.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  down:\n"
	    "    uses: ./.github/workflows/d1.yml\n");
	for (i = 1; i <= 10; i++) {
		p = xasprintf(".github/workflows/d%d.yml", i);
		text = i < 10 ? xasprintf("on: workflow_call\n"
		    "jobs:\n"
		    "  down:\n"
		    "    uses: ./.github/workflows/d%d.yml\n", i + 1) :
		    xstrdup("on: workflow_call\n"
		    "jobs:\n"
		    "  leaf:\n"
		    "    runs-on: self-hosted\n"
		    "    steps:\n"
		    "      - run: echo LEAF\n");
		harness_repo_write(repo, p, text);
		free(p);
		free(text);
	}
	sha = harness_push(h, repo, "main", "refused calls");
	expect_refused(h, sha, ".github/workflows/missing.yml",
	    "jobs.call.uses: ./.github/workflows/nope.yml: no file "
	    ".github/workflows/nope.yml");
	expect_refused(h, sha, ".github/workflows/typed.yml",
	    "input 'times' is given as 'many', which is not a number");
	expect_refused(h, sha, ".github/workflows/plain.yml",
	    "./.github/workflows/missing.yml is not a reusable workflow: its "
	    "'on' has no workflow_call");
	expect_refused(h, sha, ".github/workflows/deep.yml",
	    "nest deeper than GitHub's limit of 10 levels");
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * OWNER/REPO/.github/workflows/F.yml@v1 from [actions] base_url: the
 * tag's file, not the branch's newer one; its local call is of its own
 * repository.
 */
START_TEST(test_remote_call)
{
	struct harness *h = harness_new("reusable_remote");
	struct harness_repo *repo;
	char *base, *src, *p, *conf, *sha, *log, *tag;
	json_t *run;

	base = xasprintf("%s/gh", h->dir);
	src = xasprintf("%s/octo-wf/shared", base);
	p = xasprintf("%s/.github/workflows/lib.yml", src);
	harness_write_file(h, p,
	    "on:\n"
	    "  workflow_call:\n"
	    "    inputs:\n"
	    "      who:\n"
	    "        type: string\n"
	    "        default: nobody\n"
	    "    outputs:\n"
	    "      v:\n"
	    "        value: ${{ jobs.inner.outputs.v }}\n"
	    "jobs:\n"
	    "  hello:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo \"REMOTE-V1 ${{ inputs.who }}\"\n"
	    "  inner:\n"
	    "    uses: ./.github/workflows/leaf.yml\n");
	free(p);
	p = xasprintf("%s/.github/workflows/leaf.yml", src);
	harness_write_file(h, p,
	    "on:\n"
	    "  workflow_call:\n"
	    "    outputs:\n"
	    "      v:\n"
	    "        value: ${{ jobs.l.outputs.v }}\n"
	    "jobs:\n"
	    "  l:\n"
	    "    runs-on: self-hosted\n"
	    "    outputs:\n"
	    "      v: ${{ steps.x.outputs.v }}\n"
	    "    steps:\n"
	    "      - id: x\n"
	    "        run: echo \"v=leaf-of-shared\" >> \"$GITHUB_OUTPUT\"\n");
	free(p);
	tag = harness_git_tagged(h, src, "v1");
	p = xasprintf("%s/.github/workflows/lib.yml", src);
	harness_write_file(h, p, "on: workflow_call\njobs:\n  x:\n"
	    "    runs-on: self-hosted\n    steps:\n"
	    "      - run: echo NEWER-THAN-V1\n");
	free(p);
	free(harness_git(h, src, "commit", "-q", "-am", "newer", NULL));

	conf = xasprintf("[actions]\nbase_url = file://%s/\n", base);
	harness_conf_add(h, conf);
	harness_start(h);
	repo = harness_repo_new(h, "octo/caller");
	harness_repo_write(repo, ".github/workflows/r.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  lib:\n"
	    "    uses: octo-wf/shared/.github/workflows/lib.yml@v1\n"
	    "    with:\n"
	    "      who: kiln\n"
	    "  use:\n"
	    "    needs: lib\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo \"V=${{ needs.lib.outputs.v }}\"\n");
	sha = harness_push(h, repo, "main", "remote call");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "lib / hello");
	harness_expect_contains(h, log, "the tag's file", "REMOTE-V1 kiln\n");
	free(log);
	harness_expect_str(h, harness_job(h, run, "lib / inner / l"),
	    "lib / inner / l", "conclusion", "success");
	log = harness_job_log(h, run, "use");
	harness_expect_contains(h, log, "the nested output", "V=leaf-of-shared\n");
	free(log);

	json_decref(run);
	free(sha);
	free(conf);
	free(tag);
	free(src);
	free(base);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
reusable_suite(void)
{
	Suite *s = suite_create("reusable");
	TCase *tc = tcase_create("reusable");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_local_call);
	tcase_add_test(tc, test_refused_calls);
	tcase_add_test(tc, test_remote_call);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reusable_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
