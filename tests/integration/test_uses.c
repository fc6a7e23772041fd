/*
 * Actions described by an action.yml, run as GitHub's runner runs them:
 * local (./path) composite actions with inputs, outputs, nested
 * composites, GITHUB_ENV and GITHUB_ACTION_PATH; a failing composite; a
 * missing action; fetched actions unused for [actions] keep_days
 * removed.  Real parts: kilnd with its embedded PostgreSQL and
 * workers, a real git repository checked out by the job, a signed push
 * webhook.
 */
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define RUN_MS	90000

static int
path_gone_cb(struct harness *h, void *path)
{
	return access(path, F_OK) == -1 && errno == ENOENT;
}

/* Directories in dir not starting with '.': fetched commits. */
static int
commit_dirs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static const char greet_yml[] =
    "name: greet\n"
    "inputs:\n"
    "  who:\n"
    "    description: whom to greet\n"
    "    required: true\n"
    "  greeting:\n"
    "    default: hello\n"
    "  sha:\n"
    "    default: ${{ github.sha }}\n"
    "outputs:\n"
    "  text:\n"
    "    description: the greeting\n"
    "    value: ${{ steps.say.outputs.text }}\n"
    "  inner:\n"
    "    value: ${{ steps.nested.outputs.shout }}\n"
    "runs:\n"
    "  using: composite\n"
    "  steps:\n"
    "    - id: say\n"
    "      shell: bash\n"
    "      run: |\n"
    "        echo \"text=${{ inputs.greeting }} ${{ inputs.who }}\" >> \"$GITHUB_OUTPUT\"\n"
    "        echo \"ACTION-PATH=$GITHUB_ACTION_PATH\"\n"
    "        echo \"CTX-PATH=${{ github.action_path }}\"\n"
    "        echo \"DEFAULT-SHA=${{ inputs.sha }}\"\n"
    "        echo \"INPUT-VAR=[${INPUT_WHO:-}]\"\n"
    "        echo \"FROM_GREET=yes\" >> \"$GITHUB_ENV\"\n"
    "    - id: nested\n"
    "      uses: ./.github/actions/shout\n"
    "      with:\n"
    "        what: ${{ steps.say.outputs.text }}\n"
    "    - shell: bash\n"
    "      env:\n"
    "        STEP_ONLY: inner\n"
    "      run: echo \"SEEN-ENV=$FROM_GREET $STEP_ONLY\"\n"
    "    - if: failure()\n"
    "      shell: bash\n"
    "      run: echo NEVER-FAILED\n";

static const char shout_yml[] =
    "inputs:\n"
    "  what:\n"
    "    required: true\n"
    "outputs:\n"
    "  shout:\n"
    "    value: ${{ steps.up.outputs.v }}\n"
    "runs:\n"
    "  using: composite\n"
    "  steps:\n"
    "    - id: up\n"
    "      shell: sh\n"
    "      working-directory: .github\n"
    "      run: |\n"
    "        echo \"v=$(echo '${{ inputs.what }}' | tr a-z A-Z)\" >> \"$GITHUB_OUTPUT\"\n"
    "        echo \"SHOUT-DIR=$(pwd)\"\n";

static const char fails_yml[] =
    "runs:\n"
    "  using: composite\n"
    "  steps:\n"
    "    - shell: bash\n"
    "      run: exit 3\n"
    "    - shell: bash\n"
    "      run: echo NOT-REACHED\n"
    "    - if: failure()\n"
    "      shell: bash\n"
    "      run: echo CLEANUP-RAN\n";

static const char workflow_yml[] =
    "name: uses\n"
    "on: push\n"
    "jobs:\n"
    "  good:\n"
    "    runs-on: self-hosted\n"
    "    defaults:\n"
    "      run:\n"
    "        working-directory: nowhere\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - id: g\n"
    "        uses: ./.github/actions/greet\n"
    "        with:\n"
    "          who: kiln\n"
    "          bogus: 1\n"
    "      - working-directory: .\n"
    "        run: |\n"
    "          echo \"OUT=${{ steps.g.outputs.text }}\"\n"
    "          echo \"INNER=${{ steps.g.outputs.inner }}\"\n"
    "          echo \"ENV=$FROM_GREET\"\n"
    "          echo \"AFTER=[${GITHUB_ACTION_PATH:-}]\"\n"
    "  bad:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - uses: ./.github/actions/fails\n"
    "      - if: always()\n"
    "        uses: ./no/such\n"
    "      - if: always()\n"
    "        uses: ./.github/actions/../../..\n"
    "      - if: always()\n"
    "        uses: ./.github/actions/escape\n"
    "      - if: always()\n"
    "        uses: ./.github/actions/peek\n"
    "      - if: always()\n"
    "        run: echo \"SECRETS-AFTER=[${{ secrets.GITHUB_TOKEN }}]\"\n";

/* A line of log that starts with prefix (after the timestamp), or NULL. */
static const char *
log_line(const char *log, const char *prefix)
{
	const char *p = log;

	while ((p = strstr(p, prefix)) != NULL) {
		if (p == log || p[-1] == ' ' || p[-1] == '\n')
			return p;
		p++;
	}
	return NULL;
}

START_TEST(test_local_composite)
{
	struct harness *h = harness_new("uses_composite");
	struct harness_repo *repo;
	json_t *run, *bad;
	char *sha, *log, *want, *link;
	const char *p;

	harness_start(h);
	repo = harness_repo_new(h, "octo/uses");
	harness_repo_write(repo, ".github/actions/greet/action.yml", greet_yml);
	harness_repo_write(repo, ".github/actions/shout/action.yaml",
	    shout_yml);
	harness_repo_write(repo, ".github/actions/fails/action.yml", fails_yml);
	harness_repo_write(repo, ".github/actions/peek/action.yml",
	    "runs:\n"
	    "  using: composite\n"
	    "  steps:\n"
	    "    - shell: bash\n"
	    "      run: echo \"PEEK=${{ secrets.GITHUB_TOKEN }}\"\n");
	harness_repo_write(repo, ".github/workflows/uses.yml", workflow_yml);
	/* A link out of the workspace is not followed (by root). */
	link = xasprintf("%s/.github/actions/escape", repo->work);
	harness_assert(h, mkdir_p(link, 0755) == 0, "mkdir %s", link);
	free(link);
	link = xasprintf("%s/.github/actions/escape/action.yml", repo->work);
	harness_assert(h, symlink("/etc/passwd", link) == 0, "symlink %s",
	    link);
	free(link);
	sha = harness_push(h, repo, "main", "local actions");
	run = harness_wait_run(h, sha, NULL, RUN_MS);

	log = harness_job_log(h, run, "good");
	harness_expect_str(h, harness_job(h, run, "good"), "job good",
	    "conclusion", "success");
	harness_expect_contains(h, log, "the output mapped from a step",
	    "OUT=hello kiln\n");
	harness_expect_contains(h, log, "the nested composite's output",
	    "INNER=HELLO KILN\n");
	harness_expect_contains(h, log, "GITHUB_ENV inside the action, later "
	    "in it", "SEEN-ENV=yes inner\n");
	harness_expect_contains(h, log, "GITHUB_ENV inside the action, later "
	    "in the job", "ENV=yes\n");
	harness_expect_contains(h, log, "GITHUB_ACTION_PATH",
	    "/.github/actions/greet\n");
	p = log_line(log, "ACTION-PATH=");
	harness_assert(h, p != NULL && strncmp(p + 12, "/", 1) == 0,
	    "no absolute ACTION-PATH in\n%s", log);
	p = log_line(log, "CTX-PATH=");
	harness_assert(h, p != NULL && strstr(p, "/.github/actions/greet\n") ==
	    p + strcspn(p, "\n") - strlen("/.github/actions/greet"),
	    "github.action_path is not the action's directory:\n%s", log);
	want = xasprintf("DEFAULT-SHA=%s\n", sha);
	harness_expect_contains(h, log, "an expression default", want);
	free(want);
	harness_expect_contains(h, log, "no INPUT_ variables in a composite",
	    "INPUT-VAR=[]\n");
	harness_expect_contains(h, log, "the nested working-directory",
	    "/.github\n");
	harness_expect_contains(h, log, "the undeclared input",
	    "Unexpected input(s) 'bogus', valid inputs are ['who', "
	    "'greeting', 'sha']");
	harness_expect_contains(h, log, "the action path ends with the action",
	    "AFTER=[]\n");
	harness_assert(h, strstr(log, "NEVER-FAILED") == NULL,
	    "failure() held inside a succeeding composite:\n%s", log);
	free(log);

	bad = harness_job(h, run, "bad");
	harness_expect_str(h, bad, "job bad", "conclusion", "failure");
	log = harness_job_log(h, run, "bad");
	harness_expect_contains(h, log, "the failing step", "Process completed "
	    "with exit code 3");
	harness_expect_contains(h, log, "failure() inside the composite",
	    "CLEANUP-RAN");
	harness_assert(h, strstr(log, "NOT-REACHED") == NULL,
	    "a step after the failure ran:\n%s", log);
	harness_expect_contains(h, log, "the missing action", "./no/such: "
	    "Can't find 'action.yml' or 'action.yaml'");
	harness_expect_contains(h, log, "the escaping action",
	    "./.github/actions/../../..: a local action must be inside the "
	    "workspace");
	harness_expect_contains(h, log, "the link out of the workspace",
	    "/.github/actions/escape/action.yml: leads outside the workspace");
	harness_expect_contains(h, log, "no secrets in a composite",
	    "Unrecognized named-value: 'secrets'");
	harness_assert(h, strstr(log, "PEEK=") == NULL, "a composite read "
	    "secrets:\n%s", log);
	harness_expect_contains(h, log, "secrets back after the composite",
	    "SECRETS-AFTER=[]\n");
	harness_assert(h, strstr(log, "root:") == NULL, "/etc/passwd was "
	    "read:\n%s", log);
	harness_expect_str(h, harness_step(h, bad, "Run ./no/such"),
	    "the missing action's step", "conclusion", "failure");
	free(log);

	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static const char hello_yml[] =
    "name: hello\n"
    "inputs:\n"
    "  who name:\n"
    "    default: world\n"
    "  num-octocats:\n"
    "    default: 1\n"
    "outputs:\n"
    "  greeting:\n"
    "    description: the greeting\n"
    "runs:\n"
    "  using: node20\n"
    "  pre: pre.js\n"
    "  main: main.js\n"
    "  post: post.js\n";

static const char hello_main[] =
    "const fs = require('fs');\n"
    "const who = process.env['INPUT_WHO_NAME'];\n"
    "console.log('MAIN-INPUT=' + who);\n"
    "console.log('OCTO=' + process.env['INPUT_NUM-OCTOCATS']);\n"
    "console.log('MAIN-PATH=' + process.env.GITHUB_ACTION_PATH);\n"
    "console.log('MAIN-CWD=' + process.cwd());\n"
    "fs.appendFileSync(process.env.GITHUB_OUTPUT, 'greeting=hi ' + who + '\\n');\n"
    "fs.appendFileSync(process.env.GITHUB_ENV, 'FROM_NODE=' + who + '\\n');\n"
    "fs.appendFileSync(process.env.GITHUB_STATE, 'token=tok-' + who + '\\n');\n";

static const char hello_post[] =
    "console.log('POST-STATE=' + process.env.STATE_token + ' ' +\n"
    "    process.env['INPUT_WHO_NAME']);\n";

static const char failpost_yml[] =
    "runs:\n"
    "  using: node24\n"
    "  main: main.js\n"
    "  post: post.js\n"
    "  post-if: success()\n";

static const char node_workflow_yml[] =
    "name: node\n"
    "on: push\n"
    "jobs:\n"
    "  n:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - id: a\n"
    "        uses: ./.github/actions/hello\n"
    "        with:\n"
    "          who name: kiln\n"
    "      - id: b\n"
    "        uses: ./.github/actions/hello/\n"
    "      - run: |\n"
    "          echo \"GREETING=${{ steps.a.outputs.greeting }}\"\n"
    "          echo \"ENV-AFTER=$FROM_NODE\"\n"
    "  f:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - uses: ./.github/actions/failpost\n"
    "      - run: exit 1\n"
    "  t:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - uses: ./.github/actions/sleepy\n"
    "        timeout-minutes: 0.02\n";

/*
 * A node action: INPUT_ variables (spaces to '_', '-' kept), the
 * default of an input not given, an output and a GITHUB_ENV write seen
 * by a later step, GITHUB_STATE handed to its post as STATE_, posts at
 * the job's end last first, pre warned as GitHub does for a local
 * action; post-if: success() after a failed step is skipped.
 */
START_TEST(test_local_node)
{
	struct harness *h = harness_new("uses_node");
	struct harness_repo *repo;
	const char *p, *q;
	char *sha, *log;
	json_t *run;

	harness_start(h);
	repo = harness_repo_new(h, "octo/node");
	harness_repo_write(repo, ".github/actions/hello/action.yml",
	    hello_yml);
	harness_repo_write(repo, ".github/actions/hello/main.js", hello_main);
	harness_repo_write(repo, ".github/actions/hello/pre.js",
	    "console.log('PRE-RAN');\n");
	harness_repo_write(repo, ".github/actions/hello/post.js", hello_post);
	harness_repo_write(repo, ".github/actions/failpost/action.yml",
	    failpost_yml);
	harness_repo_write(repo, ".github/actions/failpost/main.js",
	    "console.log('FAILPOST-MAIN');\n");
	harness_repo_write(repo, ".github/actions/failpost/post.js",
	    "console.log('FAILPOST-POST');\n");
	harness_repo_write(repo, ".github/actions/sleepy/action.yml",
	    "runs:\n  using: node20\n  main: main.js\n");
	harness_repo_write(repo, ".github/actions/sleepy/main.js",
	    "console.log('SLEEPY');\nsetTimeout(() => {}, 120000);\n");
	harness_repo_write(repo, ".github/workflows/node.yml",
	    node_workflow_yml);
	sha = harness_push(h, repo, "main", "node actions");
	run = harness_wait_run(h, sha, NULL, RUN_MS);

	log = harness_job_log(h, run, "n");
	harness_expect_str(h, harness_job(h, run, "n"), "job n", "conclusion",
	    "success");
	harness_expect_contains(h, log, "INPUT_ from with:", "MAIN-INPUT=kiln\n");
	harness_expect_contains(h, log, "INPUT_ from the default",
	    "MAIN-INPUT=world\n");
	harness_expect_contains(h, log, "a '-' kept in INPUT_", "OCTO=1\n");
	harness_expect_contains(h, log, "GITHUB_ACTION_PATH",
	    "/.github/actions/hello\n");
	harness_expect_contains(h, log, "the output", "GREETING=hi kiln\n");
	harness_expect_contains(h, log, "GITHUB_ENV, the last write",
	    "ENV-AFTER=world\n");
	harness_expect_contains(h, log, "pre of a local action",
	    "`pre` execution is not supported for local action from "
	    "'./.github/actions/hello'");
	harness_assert(h, strstr(log, "PRE-RAN") == NULL, "pre ran:\n%s", log);
	p = strstr(log, "POST-STATE=tok-world world\n");
	q = strstr(log, "POST-STATE=tok-kiln kiln\n");
	harness_assert(h, p != NULL && q != NULL && p < q, "the posts did not "
	    "run last first with their state and inputs:\n%s", log);
	harness_assert(h, strstr(log, "ENV-AFTER") < p, "a post ran before "
	    "the last step:\n%s", log);
	free(log);

	log = harness_job_log(h, run, "f");
	harness_expect_str(h, harness_job(h, run, "f"), "job f", "conclusion",
	    "failure");
	harness_expect_contains(h, log, "main of failpost", "FAILPOST-MAIN");
	harness_expect_contains(h, log, "post-if false", "post-if: success() "
	    "is false; skipped");
	harness_assert(h, strstr(log, "FAILPOST-POST") == NULL, "post-if: "
	    "success() ran after a failure:\n%s", log);
	free(log);

	/* The step's timeout-minutes bounds the action's main. */
	log = harness_job_log(h, run, "t");
	harness_expect_str(h, harness_job(h, run, "t"), "job t", "conclusion",
	    "failure");
	harness_expect_contains(h, log, "the timeout", "SLEEPY");
	harness_expect_contains(h, log, "the timeout", "has timed out after "
	    "0.02 minutes");
	free(log);

	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * owner/repo[/path]@ref from [actions] base_url (a local git repository
 * served as file://): the tag, not the branch's newer commit; a composite
 * in a subdirectory; the second use from the cache; a missing action and
 * one [actions] allow refuses fail naming it.
 */
START_TEST(test_remote_action)
{
	struct harness *h = harness_new("uses_remote");
	struct harness_repo *repo;
	char *base, *src, *p, *conf, *sha, *log, *tag;
	json_t *run;

	base = xasprintf("%s/gh", h->dir);
	src = xasprintf("%s/octo-actions/greeter", base);
	p = xasprintf("%s/action.yml", src);
	harness_write_file(h, p,
	    "name: greeter\n"
	    "inputs:\n"
	    "  name:\n"
	    "    default: nobody\n"
	    "outputs:\n"
	    "  said:\n"
	    "    description: what it said\n"
	    "runs:\n"
	    "  using: node20\n"
	    "  main: index.js\n");
	free(p);
	p = xasprintf("%s/index.js", src);
	harness_write_file(h, p,
	    "const fs = require('fs');\n"
	    "console.log('REMOTE-MAIN=' + process.env.INPUT_NAME + ' ' +\n"
	    "    process.env.GITHUB_ACTION_REPOSITORY + '@' +\n"
	    "    process.env.GITHUB_ACTION_REF);\n"
	    "fs.appendFileSync(process.env.GITHUB_OUTPUT, 'said=v1 says ' +\n"
	    "    process.env.INPUT_NAME + '\\n');\n");
	free(p);
	p = xasprintf("%s/sub/action.yaml", src);
	harness_write_file(h, p,
	    "runs:\n"
	    "  using: composite\n"
	    "  steps:\n"
	    "    - shell: bash\n"
	    "      run: |\n"
	    "        echo \"SUB-COMPOSITE in $GITHUB_ACTION_PATH\"\n"
	    "        echo \"SUB-REF=${{ github.action_repository }}@"
	    "${{ github.action_ref }}\"\n");
	free(p);
	tag = harness_git_tagged(h, src, "v1");
	/* main moves on; v1 stays where it was. */
	p = xasprintf("%s/index.js", src);
	harness_write_file(h, p, "console.log('NEWER-THAN-V1');\n");
	free(p);
	free(harness_git(h, src, "commit", "-q", "-am", "newer", NULL));

	/* A node action with pre, main and post, state passed along. */
	free(src);
	src = xasprintf("%s/octo-actions/prepost", base);
	p = xasprintf("%s/action.yml", src);
	harness_write_file(h, p,
	    "inputs:\n"
	    "  tag:\n"
	    "    required: true\n"
	    "runs:\n"
	    "  using: node20\n"
	    "  pre: pre.js\n"
	    "  pre-if: success()\n"
	    "  main: main.js\n"
	    "  post: post.js\n");
	free(p);
	p = xasprintf("%s/pre.js", src);
	harness_write_file(h, p,
	    "console.log('PRE-RAN ' + process.env.INPUT_TAG);\n"
	    "require('fs').appendFileSync(process.env.GITHUB_STATE,\n"
	    "    'phase=pre-saved\\n');\n");
	free(p);
	p = xasprintf("%s/main.js", src);
	harness_write_file(h, p,
	    "console.log('MAIN-SAW ' + process.env.STATE_phase);\n"
	    "require('fs').appendFileSync(process.env.GITHUB_STATE,\n"
	    "    'main=main-saved\\n');\n");
	free(p);
	p = xasprintf("%s/post.js", src);
	harness_write_file(h, p,
	    "console.log('POST-SAW ' + process.env.STATE_phase + ' ' +\n"
	    "    process.env.STATE_main + ' ' + process.env.INPUT_TAG);\n");
	free(p);
	free(harness_git_tagged(h, src, "v1"));

	conf = xasprintf("[actions]\nbase_url = file://%s/\n"
	    "allow = octo-actions/*, other/*@v2\n", base);
	harness_conf_add(h, conf);
	harness_start(h);
	repo = harness_repo_new(h, "octo/remote");
	harness_repo_write(repo, ".github/workflows/r.yml",
	    "name: r\n"
	    "on: push\n"
	    "jobs:\n"
	    "  first:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - id: g\n"
	    "        uses: octo-actions/greeter@v1\n"
	    "        with:\n"
	    "          name: kiln\n"
	    "      - uses: octo-actions/greeter/sub@v1\n"
	    "      - run: echo \"SAID=${{ steps.g.outputs.said }} "
	    "AR=[${{ github.action_repository }}]\"\n"
	    "      - uses: octo-actions/prepost@v1\n"
	    "        with:\n"
	    "          tag: t-${{ github.job }}\n"
	    "  second:\n"
	    "    needs: first\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - uses: octo-actions/greeter@v1\n"
	    "      - uses: octo-actions/missing@v1\n"
	    "      - if: always()\n"
	    "        uses: octo-actions/greeter@v9\n"
	    "      - if: always()\n"
	    "        uses: other/thing@v1\n");
	sha = harness_push(h, repo, "main", "remote actions");
	run = harness_wait_run(h, sha, NULL, RUN_MS);

	log = harness_job_log(h, run, "first");
	harness_expect_str(h, harness_job(h, run, "first"), "job first",
	    "conclusion", "success");
	p = xasprintf("Download action repository `octo-actions/greeter@v1` "
	    "(sha:%s)", tag);
	harness_expect_contains(h, log, "the download at the tag", p);
	free(p);
	harness_expect_contains(h, log, "the action ran",
	    "REMOTE-MAIN=kiln octo-actions/greeter@v1\n");
	/* github.action_repository/action_ref: the running action's only. */
	harness_expect_contains(h, log, "github.action_* in a composite",
	    "SUB-REF=octo-actions/greeter@v1\n");
	harness_assert(h, strstr(log, "NEWER-THAN-V1") == NULL, "ran the "
	    "branch's commit, not v1's:\n%s", log);
	harness_expect_contains(h, log, "the subdirectory's composite",
	    "/sub\n");
	harness_expect_contains(h, log, "its output, github.action_* empty "
	    "again", "SAID=v1 says kiln AR=[]\n");
	p = strstr(log, "PRE-RAN t-first\n");
	harness_assert(h, p != NULL && strstr(log, "REMOTE-MAIN=") > p,
	    "the pre did not run before the first step:\n%s", log);
	harness_expect_contains(h, log, "pre's state in main",
	    "MAIN-SAW pre-saved\n");
	harness_expect_contains(h, log, "pre's and main's state in post",
	    "POST-SAW pre-saved main-saved t-first\n");
	free(log);

	log = harness_job_log(h, run, "second");
	harness_expect_str(h, harness_job(h, run, "second"), "job second",
	    "conclusion", "failure");
	p = xasprintf("Using the cached copy of action "
	    "`octo-actions/greeter@v1` (sha:%s)", tag);
	harness_expect_contains(h, log, "the second use", p);
	free(p);
	harness_expect_contains(h, log, "the default input",
	    "REMOTE-MAIN=nobody ");
	harness_expect_contains(h, log, "the missing action", "Unable to "
	    "resolve action `octo-actions/missing@v1`, unable to fetch "
	    "file://");
	harness_expect_contains(h, log, "the missing version", "Unable to "
	    "resolve action `octo-actions/greeter@v9`, unable to find version "
	    "`v9`");
	harness_expect_contains(h, log, "the action not allowed",
	    "other/thing@v1 is not allowed to be used here");
	harness_expect_str(h, harness_step(h, harness_job(h, run, "second"),
	    "Run octo-actions/missing@v1"), "the missing action's step",
	    "conclusion", "failure");
	free(log);
	json_decref(run);
	free(sha);

	/*
	 * [actions] keep_days (7): greeter's commit unused for 8 days and
	 * a checkout a dead worker left go at a worker's start; prepost,
	 * used today, stays.  The next use fetches greeter again.
	 */
	{
		char *greeter = xasprintf("%s/state/work/actions/src/"
		    "octo-actions/greeter/%s", h->dir, tag);
		char *stale = xasprintf("%s/state/work/actions/src/"
		    "octo-actions/greeter/.%s.999999", h->dir, tag);
		char *prepost = xasprintf("%s/state/work/actions/src/"
		    "octo-actions/prepost", h->dir);
		struct timespec old[2];
		pid_t pids[4];
		int i, n;

		old[0].tv_sec = old[1].tv_sec = time(NULL) - 8 * 86400;
		old[0].tv_nsec = old[1].tv_nsec = 0;
		harness_assert(h, utimensat(AT_FDCWD, greeter, old, 0) == 0,
		    "%s: %s", greeter, strerror(errno));
		harness_assert(h, mkdir(stale, 0755) == 0, "%s", stale);
		n = harness_workers(h, pids, (int)nitems(pids));
		for (i = 0; i < n; i++)
			kill(pids[i], SIGTERM);
		harness_assert(h, harness_wait_for(h, 30000, path_gone_cb,
		    greeter), "%s was not removed by a new worker", greeter);
		harness_assert(h, harness_wait_for(h, 5000, path_gone_cb,
		    stale), "%s was not removed", stale);
		harness_assert(h, commit_dirs(prepost) == 1, "the action "
		    "used today was removed too");
		harness_repo_write(repo, ".github/workflows/r.yml",
		    "name: r\n"
		    "on: push\n"
		    "jobs:\n"
		    "  again:\n"
		    "    runs-on: self-hosted\n"
		    "    steps:\n"
		    "      - uses: octo-actions/greeter@v1\n");
		sha = harness_push(h, repo, "main", "greeter again");
		run = harness_wait_run(h, sha, NULL, RUN_MS);
		harness_expect_str(h, harness_job(h, run, "again"), "job again",
		    "conclusion", "success");
		log = harness_job_log(h, run, "again");
		p = xasprintf("Download action repository "
		    "`octo-actions/greeter@v1` (sha:%s)", tag);
		harness_expect_contains(h, log, "fetched again", p);
		free(p);
		free(log);
		json_decref(run);
		free(sha);
		free(greeter);
		free(stale);
		free(prepost);
	}

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
uses_suite(void)
{
	Suite *s = suite_create("uses");
	TCase *tc = tcase_create("uses");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_local_composite);
	tcase_add_test(tc, test_local_node);
	tcase_add_test(tc, test_remote_action);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(uses_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
