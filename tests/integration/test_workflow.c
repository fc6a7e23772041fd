/*
 * The workflow engine end to end: real workflows pushed with real git to a
 * real kilnd (embedded PostgreSQL, two workers), delivered by signed push
 * webhooks, judged through `cictl show --json` and `cictl logs`.
 *
 * Every test proves one behaviour of GitHub Actions as written down in
 * ../shared/docs/github-actions-reference.md (section numbers in comments);
 * where kiln differs from that, the test asserts GitHub's behaviour.
 *
 * Markers that the tests look for in logs are computed by the shell
 * ($((...)) arithmetic, variables), so finding one proves the step ran, not
 * only that its script text was echoed into the log.  Steps coordinate
 * through files in the test's shared directory and bounded polling loops,
 * never through fixed sleeps; the tests wait on conditions.
 */
#include <check.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

/* Bound on one quick run (seconds of work at most). */
#define RUN_MS		30000
/* Bound on a step's marker file appearing. */
#define MARK_MS		30000
/* A cancelled or timed-out step's processes must be gone within this. */
#define GONE_MS		15000

/* ---- helpers ---- */

static int
file_exists_cb(struct harness *h, void *arg)
{
	(void)h;
	return access((const char *)arg, F_OK) == 0;
}

/* Wait for path to exist; fail (naming what) after ms. */
static void
wait_file_at(struct harness *h, const char *file, int line, const char *path,
    int64_t ms, const char *what)
{
	if (!harness_wait_for(h, ms, file_exists_cb, (void *)path))
		harness_fail_at(h, file, line, "%s: %s did not appear within "
		    "%lld ms", what, path, (long long)ms);
}
#define wait_file(h, path, ms, what) \
	wait_file_at((h), __FILE__, __LINE__, (path), (ms), (what))

/*
 * `cictl show --json` of the newest run of sha (and of workflow path when
 * not NULL), whatever its status; NULL when there is none yet.
 */
static json_t *
run_of(struct harness *h, const char *sha, const char *path)
{
	json_t *runs = harness_runs(h), *r, *found = NULL;
	const char *s;
	size_t i;

	json_array_foreach(runs, i, r) {
		if ((s = harness_str(r, "head_sha")) == NULL ||
		    strcmp(s, sha) != 0)
			continue;
		if (path != NULL && ((s = harness_str(r, "path")) == NULL ||
		    strcmp(s, path) != 0))
			continue;
		found = harness_show(h, json_object_get(r, "id"));
		break;
	}
	json_decref(runs);
	return found;
}

typedef int (*run_pred)(const json_t *run, const char *arg);

struct run_wait {
	const char	*sha;
	const char	*path;
	run_pred	 ok;
	const char	*arg;
	json_t		*last;	/* the run as last seen */
};

static int
run_wait_cb(struct harness *h, void *p)
{
	struct run_wait *w = p;
	json_t *run;

	if ((run = run_of(h, w->sha, w->path)) == NULL)
		return 0;
	json_decref(w->last);
	w->last = run;
	return w->ok(run, w->arg);
}

/*
 * Wait until the run of sha (and path) satisfies ok(run, arg); returns it
 * (caller decrefs).  Fails with what and the run last seen after ms.
 */
static json_t *
wait_run_until_at(struct harness *h, const char *file, int line,
    const char *sha, const char *path, int64_t ms, run_pred ok,
    const char *arg, const char *what)
{
	struct run_wait w = { sha, path, ok, arg, NULL };
	char *text;

	if (!harness_wait_for(h, ms, run_wait_cb, &w)) {
		text = w.last != NULL ? harness_json_text(w.last) :
		    xstrdup("(no run yet)");
		harness_fail_at(h, file, line, "run of %s%s%s: %s not reached "
		    "within %lld ms; last seen: %.6000s", sha, path ? " " : "",
		    path ? path : "", what, (long long)ms, text);
	}
	return w.last;
}
#define wait_run_until(h, sha, path, ms, ok, arg, what) \
	wait_run_until_at((h), __FILE__, __LINE__, (sha), (path), (ms), \
	    (ok), (arg), (what))

static int
run_status_is(const json_t *run, const char *want)
{
	const char *s = harness_str(run, "status");

	return s != NULL && strcmp(s, want) == 0;
}

/* The job named name of run has status "completed". */
static int
job_completed(const json_t *run, const char *name)
{
	json_t *job = harness_find(json_object_get(run, "jobs"), "name", name);

	return job != NULL && run_status_is(job, "completed");
}

/* The job named name of run has started (status in_progress/completed). */
static int
job_started(const json_t *run, const char *name)
{
	json_t *job = harness_find(json_object_get(run, "jobs"), "name", name);
	const char *s;

	if (job == NULL || (s = harness_str(job, "status")) == NULL)
		return 0;
	return strcmp(s, "queued") != 0 && strcmp(s, "pending") != 0 &&
	    strcmp(s, "waiting") != 0;
}


/* arg is "job|text": that job's message contains text. */
static int
job_message_has(const json_t *run, const char *arg)
{
	const char *bar = strchr(arg, '|'), *msg;
	char name[128];
	json_t *job;

	if (bar == NULL || (size_t)(bar - arg) >= sizeof name)
		return 0;
	snprintf(name, sizeof name, "%.*s", (int)(bar - arg), arg);
	job = harness_find(json_object_get(run, "jobs"), "name", name);
	msg = job != NULL ? harness_str(job, "message") : NULL;
	return msg != NULL && strstr(msg, bar + 1) != NULL;
}


static size_t
runs_count(struct harness *h)
{
	json_t *runs = harness_runs(h);
	size_t n = json_array_size(runs);

	json_decref(runs);
	return n;
}

/* Paths of all runs of sha, comma-separated, sorted (caller frees). */
static char *
run_paths(struct harness *h, const char *sha)
{
	json_t *runs = harness_runs(h), *r;
	const char *s, *paths[64];
	struct buf b = { 0 };
	size_t i, n = 0, j;

	json_array_foreach(runs, i, r) {
		if ((s = harness_str(r, "head_sha")) == NULL ||
		    strcmp(s, sha) != 0 || n >= nitems(paths))
			continue;
		paths[n++] = harness_str(r, "path") ? harness_str(r, "path") :
		    "?";
	}
	/* Insertion sort: a handful of entries. */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(paths[j - 1], paths[j]) > 0; j--) {
			const char *t = paths[j];
			paths[j] = paths[j - 1];
			paths[j - 1] = t;
		}
	buf_add(&b, "", 0);
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? "," : "", paths[i]);
	json_decref(runs);
	return buf_steal(&b);
}

static void
expect_run_paths_at(struct harness *h, const char *file, int line,
    const char *sha, const char *want, const char *why)
{
	char *got = run_paths(h, sha);

	if (strcmp(got, want) != 0)
		harness_fail_at(h, file, line, "%s: runs of %s are [%s], "
		    "expected [%s]", why, sha, got, want);
	free(got);
}
#define expect_run_paths(h, sha, want, why) \
	expect_run_paths_at((h), __FILE__, __LINE__, (sha), (want), (why))

static void
expect_not_contains_at(struct harness *h, const char *file, int line,
    const char *text, const char *what, const char *needle)
{
	if (text != NULL && strstr(text, needle) != NULL)
		harness_fail_at(h, file, line, "%s contains \"%s\", which it "
		    "must not; it is:\n%.8000s", what, needle, text);
}
#define expect_not_contains(h, text, what, needle) \
	expect_not_contains_at((h), __FILE__, __LINE__, (text), (what), (needle))

static void
expect_step_at(struct harness *h, const char *file, int line,
    const json_t *job, const char *step, const char *outcome,
    const char *conclusion)
{
	json_t *s = harness_step(h, job, step);
	char *what = xasprintf("step \"%s\" of job \"%s\"", step,
	    harness_str(job, "name"));

	if (outcome != NULL)
		harness_expect_str_at(h, file, line, s, what, "outcome",
		    outcome);
	harness_expect_str_at(h, file, line, s, what, "conclusion",
	    conclusion);
	free(what);
}
#define expect_step(h, job, step, outcome, conclusion) \
	expect_step_at((h), __FILE__, __LINE__, (job), (step), (outcome), \
	    (conclusion))

static void
expect_job_at(struct harness *h, const char *file, int line,
    const json_t *run, const char *name, const char *conclusion)
{
	json_t *job = harness_job(h, run, name);
	char *what = xasprintf("job \"%s\"", name);

	harness_expect_str_at(h, file, line, job, what, "status", "completed");
	harness_expect_str_at(h, file, line, job, what, "conclusion",
	    conclusion);
	free(what);
}
#define expect_job(h, run, name, conclusion) \
	expect_job_at((h), __FILE__, __LINE__, (run), (name), (conclusion))

/* The pid a step wrote into path. */
static pid_t
read_pid(struct harness *h, const char *path)
{
	char *text, *nl;
	const char *err;
	int64_t v;

	if ((text = file_read_all(path, 64, NULL)) == NULL)
		harness_fail(h, "cannot read the pid file %s", path);
	if ((nl = strchr(text, '\n')) != NULL)
		*nl = '\0';
	if (parse_int64(text, 2, 4194304, &v, &err) == -1)
		harness_fail(h, "pid file %s holds \"%s\": %s", path, text,
		    err);
	free(text);
	return (pid_t)v;
}

static int
pid_gone_cb(struct harness *h, void *arg)
{
	(void)h;
	return !harness_pid_alive(*(pid_t *)arg);
}

/* The process a step started (pid in pidfile) must be gone soon. */
static void
expect_pid_gone_at(struct harness *h, const char *file, int line,
    const char *pidfile, const char *what)
{
	pid_t pid = read_pid(h, pidfile);

	if (!harness_wait_for(h, GONE_MS, pid_gone_cb, &pid))
		harness_fail_at(h, file, line, "%s: process %d (from %s) is "
		    "still alive %d ms after its step ended", what, (int)pid,
		    pidfile, GONE_MS);
}
#define expect_pid_gone(h, pidfile, what) \
	expect_pid_gone_at((h), __FILE__, __LINE__, (pidfile), (what))

/* ---- pull requests ---- */

/*
 * Run git with args (NULL-terminated) in cwd; fails the test unless it
 * exits 0.  Returns its stdout without the trailing newline (caller frees).
 */
static char * __attribute__((sentinel))
git_out(struct harness *h, const char *cwd, ...)
{
	static char *const env[] = {
		(char *)"GIT_CONFIG_NOSYSTEM=1",
		(char *)"GIT_CONFIG_GLOBAL=/dev/null",
		(char *)"GIT_TERMINAL_PROMPT=0",
		(char *)"GIT_AUTHOR_NAME=kiln test",
		(char *)"GIT_AUTHOR_EMAIL=test@kiln.invalid",
		(char *)"GIT_COMMITTER_NAME=kiln test",
		(char *)"GIT_COMMITTER_EMAIL=test@kiln.invalid",
		NULL
	};
	struct buf out = { 0 }, err = { 0 };
	char *argv[24];
	const char *a;
	va_list ap;
	int argc = 0, rc;

	argv[argc++] = (char *)"git";
	va_start(ap, cwd);
	while ((a = va_arg(ap, const char *)) != NULL &&
	    argc < (int)nitems(argv) - 1)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	rc = harness_run(argv, cwd, env, &out, &err, 30000);
	buf_add(&out, "", 0);
	buf_add(&err, "", 0);
	if (rc != 0)
		harness_fail(h, "git %s in %s exited %d: %s", argv[1],
		    cwd != NULL ? cwd : ".", rc, err.data);
	buf_free(&err);
	while (out.len > 0 && (out.data[out.len - 1] == '\n' ||
	    out.data[out.len - 1] == '\0'))
		out.data[--out.len] = '\0';
	return buf_steal(&out);
}

/*
 * Open pull request number from head branch (at head_sha) into base
 * branch (at base_sha) as GitHub does (reference 1.6): build the test
 * merge commit "Merge <head> into <base>" at refs/pull/N/merge (and
 * refs/pull/N/head) in the bare repository, then deliver the signed
 * pull_request webhook with action "opened".  Returns the merge sha.
 */
static char *
open_pull_request_as(struct harness *h, struct harness_repo *repo, int number,
    const char *head, const char *head_sha, const char *base,
    const char *base_sha, const char *title, int announce_merge,
    int make_merge_ref)
{
	char *tree_spec, *msg, *merge, *ref, *out;

	tree_spec = xasprintf("%s^{tree}", head_sha);
	msg = xasprintf("Merge %s into %s", head_sha, base_sha);
	merge = git_out(h, NULL, "--git-dir", repo->bare, "commit-tree",
	    tree_spec, "-p", base_sha, "-p", head_sha, "-m", msg, NULL);
	ref = xasprintf("refs/pull/%d/merge", number);
	if (make_merge_ref) {
		out = git_out(h, NULL, "--git-dir", repo->bare, "update-ref",
		    ref, merge, NULL);
		free(out);
	}
	free(ref);
	ref = xasprintf("refs/pull/%d/head", number);
	out = git_out(h, NULL, "--git-dir", repo->bare, "update-ref", ref,
	    head_sha, NULL);
	free(out);
	free(ref);
	free(harness_pull_request(h, repo, "pull_request", number, head,
	    head_sha, base, base_sha, title, announce_merge ? merge : NULL));
	free(tree_spec);
	free(msg);
	return merge;
}

static char *
open_pull_request(struct harness *h, struct harness_repo *repo, int number,
    const char *head, const char *head_sha, const char *base,
    const char *base_sha, const char *title)
{
	return open_pull_request_as(h, repo, number, head, head_sha, base,
	    base_sha, title, 1, 1);
}

static void
finish(struct harness *h, struct harness_repo *repo)
{
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}

/* ---- matrix (reference 3.5) ---- */

START_TEST(test_matrix_include_exclude_yields_exact_legs_with_values)
{
	struct harness *h = harness_up("matrix_include_exclude");
	struct harness_repo *repo = harness_repo_new(h, "octo/matrix");
	json_t *run, *jobs, *job;
	char *sha, *log, *names;
	struct buf b = { 0 };
	size_t i;
	/* name, the values each leg's log must show */
	static const struct {
		const char *name, *line;
	} legs[] = {
		{ "test (3.11, a)", "LEG py=3.11 os=a extra= color=green" },
		{ "test (3.11, b)", "LEG py=3.11 os=b extra= color=green" },
		{ "test (3.12, a)", "LEG py=3.12 os=a extra=yes color=green" },
		{ "test (3.13, c)", "LEG py=3.13 os=c extra= color=" },
	};

	/*
	 * 3.5: product py x os = 4; exclude (3.12, b) -> 3; include
	 * {py 3.12, os a, extra yes} fits the original (3.12, a) without
	 * overwriting a matrix value: merged, and merged values are not part
	 * of the name; {py 3.13, os c} fits none: appended, named with all
	 * its values; {color: green} merges into every *original*
	 * combination, but not into the appended (3.13, c).
	 */
	harness_repo_write(repo, ".github/workflows/matrix.yml",
	    "name: matrix\n"
	    "on: push\n"
	    "jobs:\n"
	    "  test:\n"
	    "    runs-on: self-hosted\n"
	    "    strategy:\n"
	    "      matrix:\n"
	    "        py: ['3.11', '3.12']\n"
	    "        os: [a, b]\n"
	    "        exclude:\n"
	    "          - py: '3.12'\n"
	    "            os: b\n"
	    "        include:\n"
	    "          - py: '3.12'\n"
	    "            os: a\n"
	    "            extra: 'yes'\n"
	    "          - py: '3.13'\n"
	    "            os: c\n"
	    "          - color: green\n"
	    "    steps:\n"
	    "      - name: show\n"
	    "        env:\n"
	    "          PY: ${{ matrix.py }}\n"
	    "          OS: ${{ matrix.os }}\n"
	    "          EXTRA: ${{ matrix.extra }}\n"
	    "          COLOR: ${{ matrix.color }}\n"
	    "        run: echo \"LEG py=$PY os=$OS extra=$EXTRA color=$COLOR\"\n");
	sha = harness_push(h, repo, "main", "matrix");

	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	jobs = json_object_get(run, "jobs");
	json_array_foreach(jobs, i, job)
		buf_printf(&b, "%s\"%s\"", i ? ", " : "",
		    harness_str(job, "name") ? harness_str(job, "name") : "?");
	buf_add(&b, "", 0);
	names = buf_steal(&b);
	harness_assert(h, json_array_size(jobs) == nitems(legs),
	    "expected %zu matrix legs, got %zu: %s", nitems(legs),
	    json_array_size(jobs), names);
	for (i = 0; i < nitems(legs); i++) {
		harness_assert(h, harness_find(jobs, "name", legs[i].name) !=
		    NULL, "no leg named \"%s\" among %s", legs[i].name, names);
		expect_job(h, run, legs[i].name, "success");
		log = harness_job_log(h, run, legs[i].name);
		harness_expect_contains(h, log, legs[i].name, legs[i].line);
		free(log);
	}
	/* The leg of the excluded combination never existed. */
	harness_assert(h, strstr(names, "3.12, b") == NULL,
	    "excluded combination present: %s", names);

	free(names);
	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST

/*
 * The fail-fast workflow: leg "slow" records its sleep's pid and sleeps 60 s
 * unless released; leg "fast" waits until slow is running, then fails.
 */
static char *
fail_fast_workflow(struct harness *h, const char *fail_fast)
{
	return xasprintf(
	    "name: fail fast\n"
	    "on: push\n"
	    "jobs:\n"
	    "  test:\n"
	    "    runs-on: self-hosted\n"
	    "    strategy:\n"
	    "      fail-fast: %s\n"
	    "      matrix:\n"
	    "        leg: [fast, slow]\n"
	    "    steps:\n"
	    "      - name: work\n"
	    "        env:\n"
	    "          LEG: ${{ matrix.leg }}\n"
	    "          SHARED: %s\n"
	    "        run: |\n"
	    "          if [ \"$LEG\" = slow ]; then\n"
	    "            sleep 60 &\n"
	    "            echo $! > \"$SHARED/slow.pid\"\n"
	    "            touch \"$SHARED/slow-started\"\n"
	    "            for i in $(seq 1 600); do\n"
	    "              [ -e \"$SHARED/release\" ] && break\n"
	    "              kill -0 $! 2>/dev/null || break\n"
	    "              sleep 0.1\n"
	    "            done\n"
	    "            kill $! 2>/dev/null || true\n"
	    "            echo \"SLOW-FINISHED-$((40 + 2))\"\n"
	    "          else\n"
	    "            for i in $(seq 1 300); do\n"
	    "              [ -e \"$SHARED/slow-started\" ] && break\n"
	    "              sleep 0.1\n"
	    "            done\n"
	    "            echo \"FAST-FAILING-$((1 + 1))\"\n"
	    "            touch \"$SHARED/fast-failed\"\n"
	    "            exit 1\n"
	    "          fi\n", fail_fast, h->shared);
}

START_TEST(test_matrix_fail_fast_cancels_running_sibling)
{
	struct harness *h = harness_up("matrix_fail_fast");
	struct harness_repo *repo = harness_repo_new(h, "octo/failfast");
	char *wf, *sha, *log, *started, *pidfile;
	int64_t t0, took;
	json_t *run;

	started = xasprintf("%s/slow-started", h->shared);
	pidfile = xasprintf("%s/slow.pid", h->shared);
	/* 3.5: fail-fast defaults to true; say so explicitly anyway. */
	wf = fail_fast_workflow(h, "true");
	harness_repo_write(repo, ".github/workflows/ff.yml", wf);
	sha = harness_push(h, repo, "main", "fail fast");
	t0 = now_ms();

	wait_file(h, started, MARK_MS, "the slow leg never started");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	took = now_ms() - t0;
	/*
	 * The slow leg would run 60 s; cancellation (5.7: SIGINT, 7.5 s,
	 * SIGTERM, 2.5 s, kill) must end it well before that.
	 */
	harness_assert(h, took < 40000, "fail-fast took %lld ms to finish the "
	    "run; the sibling was not cancelled promptly", (long long)took);
	harness_expect_str(h, run, "run", "conclusion", "failure");
	expect_job(h, run, "test (fast)", "failure");
	/* 3.5 / 5.6: a job cancelled by fail-fast concludes cancelled. */
	expect_job(h, run, "test (slow)", "cancelled");
	log = harness_job_log(h, run, "test (slow)");
	expect_not_contains(h, log, "log of the slow leg", "SLOW-FINISHED-42");
	free(log);
	log = harness_job_log(h, run, "test (fast)");
	harness_expect_contains(h, log, "log of the fast leg", "FAST-FAILING-2");
	free(log);
	expect_pid_gone(h, pidfile, "the cancelled leg's sleep");

	json_decref(run);
	free(sha);
	free(wf);
	free(started);
	free(pidfile);
	finish(h, repo);
}
END_TEST

START_TEST(test_matrix_without_fail_fast_lets_siblings_finish)
{
	struct harness *h = harness_up("matrix_no_fail_fast");
	struct harness_repo *repo = harness_repo_new(h, "octo/nofailfast");
	char *wf, *sha, *log, *failed, *release;
	json_t *run;

	failed = xasprintf("%s/fast-failed", h->shared);
	release = xasprintf("%s/release", h->shared);
	wf = fail_fast_workflow(h, "false");
	harness_repo_write(repo, ".github/workflows/ff.yml", wf);
	sha = harness_push(h, repo, "main", "no fail fast");

	/*
	 * Release the slow leg only once the fast one has failed, and after
	 * the run has had the chance to cancel it (the fast leg's job is
	 * recorded as completed): with fail-fast false it must survive.
	 */
	wait_file(h, failed, MARK_MS, "the fast leg never failed");
	json_decref(wait_run_until(h, sha, NULL, RUN_MS, job_completed,
	    "test (fast)", "fast leg completed"));
	harness_write_file(h, release, "go\n");

	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "failure");
	expect_job(h, run, "test (fast)", "failure");
	expect_job(h, run, "test (slow)", "success");
	log = harness_job_log(h, run, "test (slow)");
	harness_expect_contains(h, log, "log of the slow leg",
	    "SLOW-FINISHED-42");
	free(log);

	json_decref(run);
	free(sha);
	free(wf);
	free(failed);
	free(release);
	finish(h, repo);
}
END_TEST

/* ---- needs (reference 3.2, 4.8, 5.6) ---- */

START_TEST(test_needs_failure_skips_dependants_but_always_job_runs)
{
	struct harness *h = harness_up("needs_failure_always");
	struct harness_repo *repo = harness_repo_new(h, "octo/needs");
	char *sha, *log;
	json_t *run;

	harness_repo_write(repo, ".github/workflows/chain.yml",
	    "name: chain\n"
	    "on: push\n"
	    "jobs:\n"
	    "  a:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: a\n"
	    "        run: echo \"A-RAN-$((1 + 1))\"\n"
	    "  b:\n"
	    "    runs-on: self-hosted\n"
	    "    needs: a\n"
	    "    steps:\n"
	    "      - name: b\n"
	    "        run: |\n"
	    "          echo \"B-RAN-$((2 + 2))\"\n"
	    "          exit 1\n"
	    "  c:\n"
	    "    runs-on: self-hosted\n"
	    "    needs: b\n"
	    "    steps:\n"
	    "      - name: c\n"
	    "        run: echo \"C-RAN-$((3 + 3))\"\n"
	    "  e:\n"
	    "    runs-on: self-hosted\n"
	    "    needs: c\n"
	    "    steps:\n"
	    "      - name: e\n"
	    "        run: echo \"E-RAN-$((5 + 5))\"\n"
	    "  d:\n"
	    "    runs-on: self-hosted\n"
	    "    needs: [b, c]\n"
	    "    if: always()\n"
	    "    steps:\n"
	    "      - name: results\n"
	    "        env:\n"
	    "          B: ${{ needs.b.result }}\n"
	    "          C: ${{ needs.c.result }}\n"
	    "        run: echo \"D-SEES b=$B c=$C\"\n"
	    "      - name: on b failure\n"
	    "        if: needs.b.result == 'failure'\n"
	    "        run: echo \"D-B-FAILED-$((4 + 4))\"\n");
	sha = harness_push(h, repo, "main", "needs chain");

	run = harness_wait_run(h, sha, NULL, RUN_MS);
	/* 5.6: a failed job (no job continue-on-error) fails the run. */
	harness_expect_str(h, run, "run", "conclusion", "failure");
	expect_job(h, run, "a", "success");
	expect_job(h, run, "b", "failure");
	/* 3.2: dependants of a failed job are skipped, down the chain. */
	expect_job(h, run, "c", "skipped");
	expect_job(h, run, "e", "skipped");
	/* 4.8: always() lets d run although b failed. */
	expect_job(h, run, "d", "success");
	expect_step(h, harness_job(h, run, "d"), "on b failure", NULL,
	    "success");

	log = harness_job_log(h, run, "d");
	harness_expect_contains(h, log, "log of d", "D-SEES b=failure c=skipped");
	harness_expect_contains(h, log, "log of d", "D-B-FAILED-8");
	free(log);
	log = harness_job_log(h, run, "c");
	expect_not_contains(h, log, "log of c", "C-RAN-6");
	free(log);
	log = harness_job_log(h, run, "b");
	harness_expect_contains(h, log, "log of b", "B-RAN-4");
	free(log);

	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST

/*
 * 5.6: a run concludes when its last job does, even when its last two jobs
 * finish at the same moment on the two workers.  Both jobs meet at a
 * barrier of files and then end together; repeated to catch a race.
 */
START_TEST(test_run_completes_when_last_jobs_finish_together)
{
	struct harness *h = harness_up("jobs_finish_together");
	struct harness_repo *repo = harness_repo_new(h, "octo/together");
	char *wf, *sha, *msg;
	json_t *run;
	int i;
	static const char step[] =
	    "    steps:\n"
	    "      - name: meet\n"
	    "        run: |\n"
	    "          touch \"$SHARED/$GITHUB_SHA-$GITHUB_JOB\"\n"
	    "          for i in $(seq 1 2000); do\n"
	    "            [ -e \"$SHARED/$GITHUB_SHA-left\" ] &&\n"
	    "              [ -e \"$SHARED/$GITHUB_SHA-right\" ] && break\n"
	    "            sleep 0.01\n"
	    "          done\n";

	wf = xasprintf(
	    "name: together\n"
	    "on: push\n"
	    "env:\n"
	    "  SHARED: %s\n"
	    "jobs:\n"
	    "  left:\n"
	    "    runs-on: self-hosted\n"
	    "%s"
	    "  right:\n"
	    "    runs-on: self-hosted\n"
	    "%s", h->shared, step, step);
	harness_repo_write(repo, ".github/workflows/together.yml", wf);
	for (i = 0; i < 5; i++) {
		msg = xasprintf("together %d", i);
		sha = harness_push(h, repo, "main", msg);
		run = harness_wait_run(h, sha, NULL, 20000);
		harness_expect_str(h, run, "run", "conclusion", "success");
		expect_job(h, run, "left", "success");
		expect_job(h, run, "right", "success");
		json_decref(run);
		free(sha);
		free(msg);
	}
	free(wf);
	finish(h, repo);
}
END_TEST

/* ---- if: on github.event_name and github.ref (reference 3.2, 3.6, 4.8) */

START_TEST(test_if_on_event_name_and_ref_selects_jobs_and_steps)
{
	struct harness *h = harness_up("if_event_and_ref");
	struct harness_repo *repo = harness_repo_new(h, "octo/ifs");
	char *sha, *log, *base, *merge;
	json_t *run, *job;

	harness_repo_write(repo, ".github/workflows/ifs.yml",
	    "name: ifs\n"
	    "on: [push, pull_request]\n"
	    "jobs:\n"
	    "  main-only:\n"
	    "    runs-on: self-hosted\n"
	    "    if: github.ref == 'refs/heads/main'\n"
	    "    steps:\n"
	    "      - name: on push\n"
	    "        if: github.event_name == 'push'\n"
	    "        run: echo \"PUSH-STEP-$((1 + 1))\"\n"
	    "      - name: on pull request\n"
	    "        if: ${{ github.event_name == 'pull_request' }}\n"
	    "        run: echo \"PR-STEP-$((2 + 2))\"\n"
	    "      - name: on main\n"
	    "        if: github.ref == 'refs/heads/main'\n"
	    "        run: echo \"MAIN-STEP-$((3 + 3))\"\n"
	    "      - name: on tag\n"
	    "        if: startsWith(github.ref, 'refs/tags/')\n"
	    "        run: echo \"TAG-STEP-$((4 + 4))\"\n"
	    "  not-main:\n"
	    "    runs-on: self-hosted\n"
	    "    if: github.ref != 'refs/heads/main'\n"
	    "    steps:\n"
	    "      - name: elsewhere\n"
	    "        run: echo \"NOT-MAIN-$((5 + 5)) ref=$GITHUB_REF\"\n"
	    "  pr-only:\n"
	    "    runs-on: self-hosted\n"
	    "    if: github.event_name == 'pull_request'\n"
	    "    steps:\n"
	    "      - name: pr\n"
	    "        run: echo \"PR-JOB-$((6 + 6)) ref=$GITHUB_REF\"\n"
	    "      - name: pr step on pull request\n"
	    "        if: github.event_name == 'pull_request'\n"
	    "        run: echo \"PR-EVENT-STEP-$((7 + 7))\"\n"
	    "      - name: pr step on push\n"
	    "        if: github.event_name == 'push'\n"
	    "        run: echo \"PR-PUSH-STEP-$((8 + 8))\"\n");

	/* Push to main: main-only runs; not-main and pr-only are skipped. */
	sha = harness_push(h, repo, "main", "ifs on main");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	expect_job(h, run, "main-only", "success");
	expect_job(h, run, "not-main", "skipped");
	expect_job(h, run, "pr-only", "skipped");
	job = harness_job(h, run, "main-only");
	expect_step(h, job, "on push", "success", "success");
	/* 5.6: an if that is false -> skipped (both fields). */
	expect_step(h, job, "on pull request", "skipped", "skipped");
	expect_step(h, job, "on main", "success", "success");
	expect_step(h, job, "on tag", "skipped", "skipped");
	log = harness_job_log(h, run, "main-only");
	harness_expect_contains(h, log, "log of main-only", "PUSH-STEP-2");
	harness_expect_contains(h, log, "log of main-only", "MAIN-STEP-6");
	expect_not_contains(h, log, "log of main-only", "PR-STEP-4");
	expect_not_contains(h, log, "log of main-only", "TAG-STEP-8");
	free(log);
	json_decref(run);
	free(sha);

	/* Push to another branch: the job-level ref conditions flip. */
	sha = harness_push(h, repo, "dev", "ifs on dev");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	expect_job(h, run, "main-only", "skipped");
	expect_job(h, run, "not-main", "success");
	expect_job(h, run, "pr-only", "skipped");
	log = harness_job_log(h, run, "not-main");
	harness_expect_contains(h, log, "log of not-main",
	    "NOT-MAIN-10 ref=refs/heads/dev");
	free(log);
	json_decref(run);

	/*
	 * A pull request from dev into main (1.6: GITHUB_REF is
	 * refs/pull/N/merge): event_name is pull_request, the ref is not
	 * main, so pr-only and not-main run, main-only is skipped.
	 */
	base = git_out(h, NULL, "--git-dir", repo->bare, "rev-parse",
	    "refs/heads/main", NULL);
	merge = open_pull_request(h, repo, 7, "dev", sha, "main", base,
	    "a pull request");
	run = harness_wait_event_run(h, "pull_request", RUN_MS);
	harness_expect_str(h, run, "pull_request run", "conclusion",
	    "success");
	expect_job(h, run, "main-only", "skipped");
	expect_job(h, run, "not-main", "success");
	expect_job(h, run, "pr-only", "success");
	job = harness_job(h, run, "pr-only");
	expect_step(h, job, "pr step on pull request", "success", "success");
	expect_step(h, job, "pr step on push", "skipped", "skipped");
	log = harness_job_log(h, run, "pr-only");
	harness_expect_contains(h, log, "log of pr-only",
	    "PR-JOB-12 ref=refs/pull/7/merge");
	harness_expect_contains(h, log, "log of pr-only", "PR-EVENT-STEP-14");
	expect_not_contains(h, log, "log of pr-only", "PR-PUSH-STEP-16");
	free(log);
	json_decref(run);
	free(merge);
	free(base);
	free(sha);
	finish(h, repo);
}
END_TEST


/*
 * A pull_request payload without merge_commit_sha (GitHub computes the
 * test merge asynchronously): the run uses refs/pull/N/merge as published
 * in the repository.  Without a merge ref (a conflict, or not made yet),
 * nothing runs and the event says why (it is retried with backoff, then
 * given up).
 */
static int
event_error_set_cb(struct harness *h, void *arg)
{
	char *cmd = xasprintf("psql -At \"host=%s/state/pg/run dbname=kiln "
	    "user=kiln\" -c \"select error from events where ref = '%s'\"",
	    h->dir, (const char *)arg);
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct buf out = { 0 };
	int ok;

	ok = harness_run(argv, NULL, NULL, &out, NULL, 10000) == 0 &&
	    out.data != NULL && strstr(out.data, "merge") != NULL;
	buf_free(&out);
	free(cmd);
	return ok;
}

START_TEST(test_pull_request_without_merge_sha_uses_merge_ref)
{
	struct harness *h = harness_up("pr_merge_ref");
	struct harness_repo *repo = harness_repo_new(h, "octo/prmerge");
	char *sha, *base, *merge, *log;
	json_t *run;

	harness_repo_write(repo, ".github/workflows/pr.yml",
	    "name: pr\n"
	    "on: pull_request\n"
	    "jobs:\n"
	    "  check:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo \"PR-SHA=$GITHUB_SHA REF=$GITHUB_REF\"\n");
	base = harness_push(h, repo, "main", "base");
	harness_repo_write(repo, "feature.txt", "feature\n");
	sha = harness_push(h, repo, "feature", "feature work");

	/* No merge ref at all: a conflict; nothing may run. */
	free(open_pull_request_as(h, repo, 9, "feature", sha, "main", base,
	    "conflicting", 0, 0));
	harness_assert(h, harness_wait_for(h, 30000, event_error_set_cb,
	    "refs/pull/9/merge"), "the merge-less pull request was not "
	    "recorded as having nothing to run");

	merge = open_pull_request_as(h, repo, 8, "feature", sha, "main", base,
	    "late merge sha", 0, 1);
	run = harness_wait_event_run(h, "pull_request", RUN_MS);
	harness_expect_str(h, run, "pull_request run", "conclusion",
	    "success");
	harness_expect_str(h, run, "pull_request run", "head_sha", merge);
	log = harness_job_log(h, run, "check");
	{
		char *want = xasprintf("PR-SHA=%s REF=refs/pull/8/merge", merge);

		harness_expect_contains(h, log, "log of check", want);
		free(want);
	}
	free(log);
	json_decref(run);
	harness_assert(h, runs_count(h) == 1, "expected exactly one run");
	free(merge);
	free(base);
	free(sha);
	finish(h, repo);
}
END_TEST

/* ---- job outputs through needs (reference 3.2, 5.3) ---- */

START_TEST(test_step_outputs_reach_dependent_job_through_needs)
{
	struct harness *h = harness_up("outputs_through_needs");
	struct harness_repo *repo = harness_repo_new(h, "octo/outputs");
	json_t *run, *outputs;
	const char *v;
	char *sha, *log;

	harness_repo_write(repo, ".github/workflows/out.yml",
	    "name: outputs\n"
	    "on: push\n"
	    "jobs:\n"
	    "  produce:\n"
	    "    runs-on: self-hosted\n"
	    "    outputs:\n"
	    "      single: ${{ steps.gen.outputs.single }}\n"
	    "      multi: ${{ steps.gen.outputs.multi }}\n"
	    "    steps:\n"
	    "      - name: generate\n"
	    "        id: gen\n"
	    "        run: |\n"
	    "          echo \"single=value-$((40 + 2))\" >> \"$GITHUB_OUTPUT\"\n"
	    "          {\n"
	    "            echo 'multi<<EOF'\n"
	    "            echo \"line one $((1 + 0))\"\n"
	    "            echo \"line two $((1 + 1))\"\n"
	    "            echo 'EOF'\n"
	    "          } >> \"$GITHUB_OUTPUT\"\n"
	    "  consume:\n"
	    "    runs-on: self-hosted\n"
	    "    needs: produce\n"
	    "    steps:\n"
	    "      - name: single\n"
	    "        run: echo \"got-single=${{ needs.produce.outputs.single }}\"\n"
	    "      - name: multi\n"
	    "        env:\n"
	    "          MULTI: ${{ needs.produce.outputs.multi }}\n"
	    "        run: |\n"
	    "          want=\"$(printf 'line one 1\\nline two 2')\"\n"
	    "          if [ \"$MULTI\" = \"$want\" ]; then\n"
	    "            echo \"MULTI-EXACT-$((7 * 6))\"\n"
	    "          else\n"
	    "            echo \"multi was [$MULTI]\"; exit 1\n"
	    "          fi\n");
	sha = harness_push(h, repo, "main", "outputs");

	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	expect_job(h, run, "produce", "success");
	expect_job(h, run, "consume", "success");
	outputs = json_object_get(harness_job(h, run, "produce"), "outputs");
	harness_expect_str(h, outputs, "outputs of produce", "single",
	    "value-42");
	harness_expect_str(h, outputs, "outputs of produce", "multi",
	    "line one 1\nline two 2");
	log = harness_job_log(h, run, "consume");
	harness_expect_contains(h, log, "log of consume", "got-single=value-42");
	harness_expect_contains(h, log, "log of consume", "MULTI-EXACT-42");
	free(log);
	v = harness_str(harness_step(h, harness_job(h, run, "consume"),
	    "multi"), "conclusion");
	harness_assert(h, v != NULL && strcmp(v, "success") == 0,
	    "step multi: %s", v ? v : "(none)");

	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST

/* ---- continue-on-error (reference 3.6, 4.8, 5.6) ---- */

START_TEST(test_continue_on_error_step_fails_outcome_not_job)
{
	struct harness *h = harness_up("continue_on_error");
	struct harness_repo *repo = harness_repo_new(h, "octo/coe");
	char *sha, *log;
	json_t *run, *job;

	harness_repo_write(repo, ".github/workflows/coe.yml",
	    "name: continue on error\n"
	    "on: push\n"
	    "jobs:\n"
	    "  j:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: flaky\n"
	    "        id: flaky\n"
	    "        continue-on-error: true\n"
	    "        run: |\n"
	    "          echo \"FLAKY-RAN-$((1 + 1))\"\n"
	    "          exit 7\n"
	    "      - name: after\n"
	    "        env:\n"
	    "          OUTCOME: ${{ steps.flaky.outcome }}\n"
	    "          CONCLUSION: ${{ steps.flaky.conclusion }}\n"
	    "        run: echo \"AFTER outcome=$OUTCOME conclusion=$CONCLUSION\"\n"
	    "      - name: when flaky failed\n"
	    "        if: steps.flaky.outcome == 'failure'\n"
	    "        run: echo \"OUTCOME-SEEN-$((3 + 3))\"\n"
	    "      - name: on job failure\n"
	    "        if: failure()\n"
	    "        run: echo \"JOB-FAILED-$((4 + 4))\"\n");
	sha = harness_push(h, repo, "main", "continue on error");

	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	expect_job(h, run, "j", "success");
	job = harness_job(h, run, "j");
	/* 3.6 / 5.6: outcome failure, conclusion success. */
	expect_step(h, job, "flaky", "failure", "success");
	expect_step(h, job, "after", "success", "success");
	expect_step(h, job, "when flaky failed", "success", "success");
	/* 4.8: a step rescued by continue-on-error does not fail the job. */
	expect_step(h, job, "on job failure", "skipped", "skipped");
	log = harness_job_log(h, run, "j");
	harness_expect_contains(h, log, "log of j", "FLAKY-RAN-2");
	harness_expect_contains(h, log, "log of j",
	    "AFTER outcome=failure conclusion=success");
	harness_expect_contains(h, log, "log of j", "OUTCOME-SEEN-6");
	expect_not_contains(h, log, "log of j", "JOB-FAILED-8");
	free(log);

	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST

/* ---- step timeout (reference 3.6, 5.8) ---- */

START_TEST(test_step_timeout_kills_process_group_and_fails_job)
{
	struct harness *h = harness_up("step_timeout");
	struct harness_repo *repo = harness_repo_new(h, "octo/timeout");
	char *wf, *sha, *log, *pidfile, *started;
	int64_t t0, took;
	json_t *run, *job;

	pidfile = xasprintf("%s/sleep.pid", h->shared);
	started = xasprintf("%s/sleeper-started", h->shared);
	/*
	 * 0.05 minutes = 3 s (GitHub's runner takes timeout-minutes as a
	 * number; a fraction keeps the test short).  The sleep runs in the
	 * background: bash ignores SIGINT for it (non-interactive job), so
	 * only killing the step's whole process group (5.7 step 4) ends it.
	 */
	wf = xasprintf(
	    "name: timeout\n"
	    "on: push\n"
	    "jobs:\n"
	    "  j:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: sleeper\n"
	    "        timeout-minutes: 0.05\n"
	    "        run: |\n"
	    "          sleep 60 &\n"
	    "          echo $! > %s\n"
	    "          touch %s\n"
	    "          wait\n"
	    "          echo \"SLEEPER-WOKE-$((1 + 1))\"\n"
	    "      - name: after\n"
	    "        run: echo \"AFTER-RAN-$((2 + 2))\"\n",
	    pidfile, started);
	harness_repo_write(repo, ".github/workflows/timeout.yml", wf);
	sha = harness_push(h, repo, "main", "timeout");
	t0 = now_ms();

	wait_file(h, started, MARK_MS, "the sleeper step never started");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	took = now_ms() - t0;
	harness_assert(h, took < 40000, "a 3 s step timeout took %lld ms to "
	    "end the run", (long long)took);
	harness_expect_str(h, run, "run", "conclusion", "failure");
	expect_job(h, run, "j", "failure");
	job = harness_job(h, run, "j");
	expect_step(h, job, "sleeper", "failure", "failure");
	expect_step(h, job, "after", "skipped", "skipped");
	log = harness_job_log(h, run, "j");
	harness_expect_contains(h, log, "log of j", "has timed out");
	expect_not_contains(h, log, "log of j", "SLEEPER-WOKE-2");
	expect_not_contains(h, log, "log of j", "AFTER-RAN-4");
	free(log);
	expect_pid_gone(h, pidfile, "the timed-out step's background sleep");

	json_decref(run);
	free(sha);
	free(wf);
	free(pidfile);
	free(started);
	finish(h, repo);
}
END_TEST

/* ---- environment files (reference 3.3, 5.3) ---- */

START_TEST(test_env_path_and_output_files_reach_later_steps_only)
{
	struct harness *h = harness_up("env_files");
	struct harness_repo *repo = harness_repo_new(h, "octo/envfiles");
	char *wf, *sha, *log;
	json_t *run;

	wf = xasprintf(
	    "name: env files\n"
	    "on: push\n"
	    "env:\n"
	    "  TOOLS: %s/tools\n"
	    "jobs:\n"
	    "  j:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: before\n"
	    "        run: |\n"
	    "          echo \"before-foo=${FOO:-unset}\"\n"
	    "          command -v kilntool >/dev/null || "
	    "echo \"before-tool=missing-$((1 + 1))\"\n"
	    "      - name: export\n"
	    "        run: |\n"
	    "          mkdir -p \"$TOOLS\"\n"
	    "          printf '#!/bin/sh\\necho \"KILNTOOL-RAN-$((3 * 3))\"\\n' "
	    "> \"$TOOLS/kilntool\"\n"
	    "          chmod +x \"$TOOLS/kilntool\"\n"
	    "          echo \"FOO=from-env-file\" >> \"$GITHUB_ENV\"\n"
	    "          {\n"
	    "            echo 'LINES<<END_OF_LINES'\n"
	    "            echo 'first line'\n"
	    "            echo 'second line'\n"
	    "            echo 'END_OF_LINES'\n"
	    "          } >> \"$GITHUB_ENV\"\n"
	    "          echo \"$TOOLS\" >> \"$GITHUB_PATH\"\n"
	    "          echo \"same-step-foo=${FOO:-unset}\"\n"
	    "          command -v kilntool >/dev/null || "
	    "echo \"same-step-tool=missing-$((2 + 2))\"\n"
	    "      - name: after\n"
	    "        run: |\n"
	    "          echo \"after-foo=$FOO\"\n"
	    "          echo \"after-lines=$(echo \"$LINES\" | tr '\\n' '|')\"\n"
	    "          kilntool\n"
	    "          case \"$PATH\" in\n"
	    "            \"$TOOLS\":*) echo \"PATH-FIRST-$((5 + 5))\";;\n"
	    "          esac\n"
	    "      - name: env context\n"
	    "        env:\n"
	    "          CTX: ${{ env.FOO }}\n"
	    "        run: echo \"ctx-foo=$CTX\"\n"
	    "      - name: step env wins\n"
	    "        env:\n"
	    "          FOO: step-level\n"
	    "        run: echo \"override-foo=$FOO\"\n"
	    "      - name: output\n"
	    "        id: out\n"
	    "        run: |\n"
	    "          {\n"
	    "            echo 'text<<EOF'\n"
	    "            echo \"alpha $((1 + 1))\"\n"
	    "            echo 'beta'\n"
	    "            echo 'EOF'\n"
	    "          } >> \"$GITHUB_OUTPUT\"\n"
	    "      - name: read output\n"
	    "        env:\n"
	    "          TEXT: ${{ steps.out.outputs.text }}\n"
	    "        run: |\n"
	    "          want=\"$(printf 'alpha 2\\nbeta')\"\n"
	    "          if [ \"$TEXT\" = \"$want\" ]; then\n"
	    "            echo \"OUTPUT-EXACT-$((6 * 7))\"\n"
	    "          else\n"
	    "            echo \"text was [$TEXT]\"; exit 1\n"
	    "          fi\n", h->shared);
	harness_repo_write(repo, ".github/workflows/env.yml", wf);
	sha = harness_push(h, repo, "main", "env files");

	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	expect_job(h, run, "j", "success");
	log = harness_job_log(h, run, "j");
	harness_expect_contains(h, log, "log of j", "before-foo=unset");
	harness_expect_contains(h, log, "log of j", "before-tool=missing-2");
	/* 5.3: GITHUB_ENV / GITHUB_PATH apply to subsequent steps only. */
	harness_expect_contains(h, log, "log of j", "same-step-foo=unset");
	harness_expect_contains(h, log, "log of j", "same-step-tool=missing-4");
	harness_expect_contains(h, log, "log of j", "after-foo=from-env-file");
	harness_expect_contains(h, log, "log of j",
	    "after-lines=first line|second line|");
	harness_expect_contains(h, log, "log of j", "KILNTOOL-RAN-9");
	harness_expect_contains(h, log, "log of j", "PATH-FIRST-10");
	/* 3.3: GITHUB_ENV values are in the env context ... */
	harness_expect_contains(h, log, "log of j", "ctx-foo=from-env-file");
	/* ... and a step's own env still overrides them. */
	harness_expect_contains(h, log, "log of j", "override-foo=step-level");
	harness_expect_contains(h, log, "log of j", "OUTPUT-EXACT-42");
	free(log);

	json_decref(run);
	free(sha);
	free(wf);
	finish(h, repo);
}
END_TEST

/* ---- trigger filters (reference 2.2-2.4) ---- */

static const char simple_job[] =
    "jobs:\n"
    "  j:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - name: say\n"
    "        run: echo \"ran-for=$GITHUB_REF_NAME\"\n";

START_TEST(test_path_filters_skip_and_include_workflows)
{
	struct harness *h = harness_up("path_filters");
	struct harness_repo *repo = harness_repo_new(h, "octo/paths");
	char *wf, *sha;
	json_t *run;

	wf = xasprintf("name: any\non: push\n%s", simple_job);
	harness_repo_write(repo, ".github/workflows/any.yml", wf);
	free(wf);
	wf = xasprintf("name: not docs\non:\n  push:\n    paths-ignore:\n"
	    "      - 'docs/**'\n%s", simple_job);
	harness_repo_write(repo, ".github/workflows/not-docs.yml", wf);
	free(wf);
	wf = xasprintf("name: src only\non:\n  push:\n    paths:\n"
	    "      - 'src/**'\n%s", simple_job);
	harness_repo_write(repo, ".github/workflows/src-only.yml", wf);
	free(wf);
	harness_repo_write(repo, "src/main.c", "int main(void) { return 0; }\n");
	harness_repo_write(repo, "docs/guide.md", "# guide\n");
	/* The first push (a new branch) only sets the scene. */
	sha = harness_push(h, repo, "main", "initial");
	json_decref(harness_wait_run(h, sha, ".github/workflows/any.yml",
	    RUN_MS));
	free(sha);

	/*
	 * 2.4: a push touching only docs/: paths-ignore docs/<anything>
	 * skips (every changed file matches), paths src/<anything> skips
	 * (none included); an unfiltered workflow runs.
	 */
	harness_repo_write(repo, "docs/guide.md", "# guide\n\nmore\n");
	sha = harness_push(h, repo, "main", "docs only");
	run = harness_wait_run(h, sha, ".github/workflows/any.yml", RUN_MS);
	harness_expect_str(h, run, "run of any.yml", "conclusion", "success");
	json_decref(run);
	/* A push is planned into all its runs at once (see test_push.c). */
	expect_run_paths(h, sha, ".github/workflows/any.yml",
	    "a docs-only push");
	free(sha);

	/*
	 * A push touching src/ and docs/: one file not ignored makes
	 * not-docs run; src/main.c is included by src-only.
	 */
	harness_repo_write(repo, "docs/guide.md", "# guide\n\nmore again\n");
	harness_repo_write(repo, "src/main.c", "int main(void) { return 1; }\n");
	sha = harness_push(h, repo, "main", "src and docs");
	run = harness_wait_run(h, sha, ".github/workflows/not-docs.yml",
	    RUN_MS);
	harness_expect_str(h, run, "run of not-docs.yml", "conclusion",
	    "success");
	json_decref(run);
	run = harness_wait_run(h, sha, ".github/workflows/src-only.yml",
	    RUN_MS);
	harness_expect_str(h, run, "run of src-only.yml", "conclusion",
	    "success");
	json_decref(run);
	json_decref(harness_wait_run(h, sha, ".github/workflows/any.yml",
	    RUN_MS));
	expect_run_paths(h, sha, ".github/workflows/any.yml,"
	    ".github/workflows/not-docs.yml,.github/workflows/src-only.yml",
	    "a push touching src/ and docs/");
	free(sha);
	finish(h, repo);
}
END_TEST

START_TEST(test_branch_filter_negation_excludes_alpha_release)
{
	struct harness *h = harness_up("branch_negation");
	struct harness_repo *repo = harness_repo_new(h, "octo/release");
	char *wf, *sha;
	json_t *run;

	wf = xasprintf("name: any\non: push\n%s", simple_job);
	harness_repo_write(repo, ".github/workflows/any.yml", wf);
	free(wf);
	/* 2.2: sequential, last match wins. */
	wf = xasprintf("name: release\non:\n  push:\n    branches:\n"
	    "      - 'release/**'\n      - '!release/**-alpha'\n%s",
	    simple_job);
	harness_repo_write(repo, ".github/workflows/release.yml", wf);
	free(wf);

	sha = harness_push(h, repo, "release/1.0", "release");
	run = harness_wait_run(h, sha, ".github/workflows/release.yml",
	    RUN_MS);
	harness_expect_str(h, run, "run of release.yml", "conclusion",
	    "success");
	harness_expect_str(h, run, "run of release.yml", "head_branch",
	    "release/1.0");
	json_decref(run);
	json_decref(harness_wait_run(h, sha, ".github/workflows/any.yml",
	    RUN_MS));
	expect_run_paths(h, sha, ".github/workflows/any.yml,"
	    ".github/workflows/release.yml", "push to release/1.0");
	free(sha);

	sha = harness_push(h, repo, "release/1.0-alpha", "alpha");
	json_decref(harness_wait_run(h, sha, ".github/workflows/any.yml",
	    RUN_MS));
	expect_run_paths(h, sha, ".github/workflows/any.yml",
	    "push to release/1.0-alpha (excluded by '!release/**-alpha')");
	free(sha);
	finish(h, repo);
}
END_TEST

/* ---- concurrency (reference 3.4) ---- */

START_TEST(test_concurrency_cancel_in_progress_cancels_older_run)
{
	struct harness *h = harness_up("concurrency_cancel");
	struct harness_repo *repo = harness_repo_new(h, "octo/conc");
	char *wf, *sha1, *sha2, *log, *started, *pidfile;
	int64_t t0, took;
	json_t *run1, *run2;
	static const char fmt[] =
	    "name: conc\n"
	    "on: push\n"
	    "concurrency:\n"
	    "  group: ci-${{ github.ref }}\n"
	    "  cancel-in-progress: true\n"
	    "env:\n"
	    "  SHARED: %s\n"
	    "  DURATION: %s\n"
	    "jobs:\n"
	    "  long:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: long\n"
	    "        run: |\n"
	    "          sleep \"$DURATION\" &\n"
	    "          echo $! > \"$SHARED/sleep-$GITHUB_SHA.pid\"\n"
	    "          touch \"$SHARED/started-$GITHUB_SHA\"\n"
	    "          wait\n"
	    "          echo \"LONG-DONE-$((20 + 1))\"\n";

	wf = xasprintf(fmt, h->shared, "60");
	harness_repo_write(repo, ".github/workflows/conc.yml", wf);
	free(wf);
	sha1 = harness_push(h, repo, "main", "first");
	started = xasprintf("%s/started-%s", h->shared, sha1);
	pidfile = xasprintf("%s/sleep-%s.pid", h->shared, sha1);
	wait_file(h, started, MARK_MS, "the first run's step never started");

	wf = xasprintf(fmt, h->shared, "0");
	harness_repo_write(repo, ".github/workflows/conc.yml", wf);
	free(wf);
	sha2 = harness_push(h, repo, "main", "second");
	t0 = now_ms();

	run1 = harness_wait_run(h, sha1, NULL, RUN_MS);
	took = now_ms() - t0;
	harness_assert(h, took < 30000, "the older run took %lld ms to be "
	    "cancelled", (long long)took);
	harness_expect_str(h, run1, "first run", "conclusion", "cancelled");
	expect_job(h, run1, "long", "cancelled");
	log = harness_job_log(h, run1, "long");
	expect_not_contains(h, log, "log of the first run", "LONG-DONE-21");
	free(log);
	expect_pid_gone(h, pidfile, "the cancelled run's sleep");

	run2 = harness_wait_run(h, sha2, NULL, RUN_MS);
	harness_expect_str(h, run2, "second run", "conclusion", "success");
	expect_job(h, run2, "long", "success");
	log = harness_job_log(h, run2, "long");
	harness_expect_contains(h, log, "log of the second run",
	    "LONG-DONE-21");
	free(log);

	json_decref(run1);
	json_decref(run2);
	free(sha1);
	free(sha2);
	free(started);
	free(pidfile);
	finish(h, repo);
}
END_TEST

START_TEST(test_concurrency_without_cancel_keeps_newer_run_pending)
{
	struct harness *h = harness_up("concurrency_pending");
	struct harness_repo *repo = harness_repo_new(h, "octo/queue");
	char *wf, *sha1, *sha2, *started, *release, *log;
	json_t *run1, *run2;

	/*
	 * 3.4: without cancel-in-progress a newer entrant waits (pending)
	 * while the older one runs, then runs.  The first run holds until
	 * the test releases it and leaves a marker the second run checks.
	 */
	wf = xasprintf(
	    "name: queue\n"
	    "on: push\n"
	    "concurrency:\n"
	    "  group: ci-${{ github.ref }}\n"
	    "jobs:\n"
	    "  j:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: hold\n"
	    "        env:\n"
	    "          SHARED: %s\n"
	    "        run: |\n"
	    "          touch \"$SHARED/started-$GITHUB_SHA\"\n"
	    "          if [ ! -e \"$SHARED/first-done\" ]; then\n"
	    "            for i in $(seq 1 600); do\n"
	    "              [ -e \"$SHARED/release\" ] && break\n"
	    "              sleep 0.1\n"
	    "            done\n"
	    "            [ -e \"$SHARED/release\" ]\n"
	    "            touch \"$SHARED/first-done\"\n"
	    "            echo \"FIRST-DONE-$((1 + 1))\"\n"
	    "          else\n"
	    "            echo \"SECOND-AFTER-FIRST-$((2 + 2))\"\n"
	    "          fi\n", h->shared);
	harness_repo_write(repo, ".github/workflows/queue.yml", wf);
	free(wf);
	sha1 = harness_push(h, repo, "main", "first");
	started = xasprintf("%s/started-%s", h->shared, sha1);
	release = xasprintf("%s/release", h->shared);
	wait_file(h, started, MARK_MS, "the first run's step never started");

	harness_repo_write(repo, "README", "second\n");
	sha2 = harness_push(h, repo, "main", "second");
	run2 = wait_run_until(h, sha2, NULL, RUN_MS, run_status_is, "pending",
	    "the second run pending");
	/* Its job has not started while the first run holds the group. */
	harness_assert(h, !job_started(run2, "j"), "the second run's job "
	    "started while the first run was in progress: %s",
	    harness_json_text(run2));
	json_decref(run2);
	run1 = run_of(h, sha1, NULL);
	harness_assert(h, run1 != NULL && run_status_is(run1, "in_progress"),
	    "the first run is not in progress: %s",
	    run1 != NULL ? harness_json_text(run1) : "(none)");
	json_decref(run1);

	harness_write_file(h, release, "go\n");
	run1 = harness_wait_run(h, sha1, NULL, RUN_MS);
	harness_expect_str(h, run1, "first run", "conclusion", "success");
	run2 = harness_wait_run(h, sha2, NULL, RUN_MS);
	harness_expect_str(h, run2, "second run", "conclusion", "success");
	log = harness_job_log(h, run2, "j");
	harness_expect_contains(h, log, "log of the second run",
	    "SECOND-AFTER-FIRST-4");
	free(log);

	json_decref(run1);
	json_decref(run2);
	free(sha1);
	free(sha2);
	free(started);
	free(release);
	finish(h, repo);
}
END_TEST

/* ---- runs-on (reference 3.2, self-hosted label matching) ---- */

START_TEST(test_runs_on_unmatched_labels_stays_queued_with_reason)
{
	struct harness *h = harness_up("runs_on_labels");
	struct harness_repo *repo = harness_repo_new(h, "octo/labels");
	const char *msg;
	json_t *run, *gpu;
	char *sha, *log;

	harness_repo_write(repo, ".github/workflows/labels.yml",
	    "name: labels\n"
	    "on: push\n"
	    "jobs:\n"
	    "  gpu:\n"
	    "    runs-on: [self-hosted, gpu]\n"
	    "    steps:\n"
	    "      - name: gpu\n"
	    "        run: echo \"GPU-RAN-$((1 + 1))\"\n"
	    "  plain:\n"
	    "    runs-on: ubuntu-latest\n"
	    "    steps:\n"
	    "      - name: plain\n"
	    "        run: echo \"PLAIN-RAN-$((2 + 2))\"\n"
	    "  mixed-case:\n"
	    "    runs-on: [Self-Hosted, Linux, X64]\n"
	    "    steps:\n"
	    "      - name: mixed\n"
	    "        run: echo \"MIXED-RAN-$((3 + 3))\"\n");
	sha = harness_push(h, repo, "main", "labels");

	json_decref(wait_run_until(h, sha, NULL, RUN_MS, job_completed,
	    "plain", "job plain completed"));
	run = wait_run_until(h, sha, NULL, RUN_MS, job_completed,
	    "mixed-case", "job mixed-case completed");
	expect_job(h, run, "plain", "success");
	/* Labels are case-insensitive. */
	expect_job(h, run, "mixed-case", "success");
	log = harness_job_log(h, run, "plain");
	harness_expect_contains(h, log, "log of plain", "PLAIN-RAN-4");
	free(log);
	/* No worker has "gpu": the job waits and says why. */
	gpu = harness_job(h, run, "gpu");
	harness_expect_str(h, gpu, "job gpu", "status", "queued");
	harness_assert(h, !run_status_is(run, "completed"), "the run "
	    "completed with a job still queued: %s", harness_json_text(run));
	msg = harness_str(gpu, "message");
	harness_assert(h, msg != NULL, "queued job gpu has no message: %s",
	    harness_json_text(gpu));
	harness_expect_contains(h, msg, "job gpu's message", "gpu");
	harness_expect_contains(h, msg, "job gpu's message", "label");

	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST


/*
 * A job's if: is decided before it waits for a runner (reference 3.2):
 * a PR-only job whose labels no worker has is skipped on a push, and the
 * run completes instead of waiting for that runner forever.
 */
START_TEST(test_false_if_skips_job_no_worker_could_take)
{
	struct harness *h = harness_up("if_before_labels");
	struct harness_repo *repo = harness_repo_new(h, "octo/iflabels");
	json_t *run;
	char *sha;

	harness_repo_write(repo, ".github/workflows/mac.yml",
	    "name: mac\n"
	    "on: push\n"
	    "jobs:\n"
	    "  build:\n"
	    "    runs-on: ubuntu-latest\n"
	    "    steps:\n"
	    "      - run: echo built\n"
	    "  mac-only-on-prs:\n"
	    "    if: github.event_name == 'pull_request'\n"
	    "    runs-on: [self-hosted, macos]\n"
	    "    steps:\n"
	    "      - run: echo never\n");
	sha = harness_push(h, repo, "main", "mac");
	run = harness_wait_run(h, sha, ".github/workflows/mac.yml", RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	expect_job(h, run, "build", "success");
	expect_job(h, run, "mac-only-on-prs", "skipped");
	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST

/*
 * Invalid UTF-8 written by a step reaches outputs, annotations and the
 * summary with U+FFFD in place of each bad byte, never dropped.
 */
START_TEST(test_invalid_utf8_is_replaced_not_dropped)
{
	struct harness *h = harness_up("invalid_utf8");
	struct harness_repo *repo = harness_repo_new(h, "octo/utf8");
	json_t *run, *job, *ann;
	char *sha, *log, *summary;
	const char *msg;

	harness_repo_write(repo, ".github/workflows/utf8.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  one:\n"
	    "    runs-on: self-hosted\n"
	    "    outputs:\n"
	    "      val: ${{ steps.s.outputs.out }}\n"
	    "    steps:\n"
	    "      - id: s\n"
	    "        run: |\n"
	    "          printf 'out=bad\\377-tail\\n' >> \"$GITHUB_OUTPUT\"\n"
	    "          printf '::warning title=T\\376::msg\\377-end\\n'\n"
	    "          printf 'summary \\377 text\\n' >> \"$GITHUB_STEP_SUMMARY\"\n"
	    "  two:\n"
	    "    needs: one\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo \"GOT=${{ needs.one.outputs.val }}\"\n");
	sha = harness_push(h, repo, "main", "utf8");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "two");
	harness_expect_contains(h, log, "log of two",
	    "GOT=bad\xef\xbf\xbd-tail");
	free(log);
	job = harness_job(h, run, "one");
	ann = json_array_get(json_object_get(job, "annotations"), 0);
	msg = ann ? harness_str(ann, "message") : NULL;
	harness_assert(h, msg != NULL && strcmp(msg, "msg\xef\xbf\xbd-end") == 0,
	    "annotation: %s", harness_json_text(json_object_get(job,
	    "annotations")));
	harness_expect_str(h, ann, "annotation", "title", "T\xef\xbf\xbd");
	summary = harness_sql(h, "SELECT summary FROM steps s JOIN jobs j ON "
	    "j.id = s.job_id WHERE j.name = 'one'", NULL);
	harness_assert(h, strstr(summary, "summary \xef\xbf\xbd text") != NULL,
	    "summary: %s", summary);
	free(summary);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* ---- masking and annotations (reference 5.4, 5.5) ---- */

START_TEST(test_add_mask_hides_value_and_error_command_annotates)
{
	struct harness *h = harness_up("mask_and_annotations");
	struct harness_repo *repo = harness_repo_new(h, "octo/mask");
	json_t *run, *job, *anns, *a, *err = NULL, *warn = NULL;
	const char *lvl;
	char *sha, *log;
	size_t i;

	harness_repo_write(repo, ".github/workflows/mask.yml",
	    "name: mask\n"
	    "on: push\n"
	    "jobs:\n"
	    "  j:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - name: mask\n"
	    "        run: |\n"
	    "          secret=\"s3cr3t-$((1000 + 234))\"\n"
	    "          echo \"::add-mask::$secret\"\n"
	    "          echo \"value is $secret.\"\n"
	    "          echo \"::error file=x.c,line=2::bad thing $((6 * 7))\"\n"
	    "          echo \"::warning title=Careful::warned $((5 * 5))\"\n"
	    "          echo \"MASK-STEP-DONE-$((1 + 1))\"\n"
	    "      - name: later\n"
	    "        run: echo \"later $(echo s3cr3t-$((1000 + 234))) too\"\n");
	sha = harness_push(h, repo, "main", "mask");

	run = harness_wait_run(h, sha, NULL, RUN_MS);
	/* 5.4: ::error annotates; it does not fail the step. */
	harness_expect_str(h, run, "run", "conclusion", "success");
	expect_job(h, run, "j", "success");
	job = harness_job(h, run, "j");
	expect_step(h, job, "mask", "success", "success");

	log = harness_job_log(h, run, "j");
	harness_expect_contains(h, log, "log of j", "MASK-STEP-DONE-2");
	/* 5.5: masked in every later line of the job, as ***. */
	harness_expect_contains(h, log, "log of j", "value is ***.");
	harness_expect_contains(h, log, "log of j", "later *** too");
	expect_not_contains(h, log, "log of j", "s3cr3t-1234");
	free(log);

	anns = json_object_get(job, "annotations");
	json_array_foreach(anns, i, a) {
		if ((lvl = harness_str(a, "level")) == NULL)
			continue;
		if (strcmp(lvl, "error") == 0 && err == NULL)
			err = a;
		else if (strcmp(lvl, "warning") == 0 && warn == NULL)
			warn = a;
	}
	harness_assert(h, err != NULL, "no error annotation: %s",
	    harness_json_text(anns));
	harness_expect_str(h, err, "error annotation", "file", "x.c");
	harness_assert(h, json_integer_value(json_object_get(err, "line")) == 2,
	    "error annotation line is not 2: %s", harness_json_text(err));
	harness_expect_str(h, err, "error annotation", "message",
	    "bad thing 42");
	harness_assert(h, warn != NULL, "no warning annotation: %s",
	    harness_json_text(anns));
	harness_expect_str(h, warn, "warning annotation", "title", "Careful");
	harness_expect_str(h, warn, "warning annotation", "message",
	    "warned 25");

	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST


/*
 * Job-level concurrency (reference 3.4): one job of a group in progress,
 * a newer pending entrant replaces an older pending one.  Three pushes:
 * the first job runs and holds, the second waits and is then replaced by
 * the third, which runs once the first is done.
 */
START_TEST(test_job_concurrency_queues_and_replaces_pending)
{
	struct harness *h = harness_up("job_concurrency_queue");
	struct harness_repo *repo = harness_repo_new(h, "octo/jobq");
	char *wf, *sha1, *sha2, *sha3, *started, *release;
	json_t *run1, *run2, *run3, *job;
	const char *msg;

	wf = xasprintf(
	    "name: deploy\n"
	    "on: push\n"
	    "jobs:\n"
	    "  build:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo built\n"
	    "  deploy:\n"
	    "    needs: build\n"
	    "    runs-on: self-hosted\n"
	    "    concurrency:\n"
	    "      group: Deploy-${{ github.ref }}\n"
	    "    steps:\n"
	    "      - env:\n"
	    "          SHARED: %s\n"
	    "        run: |\n"
	    "          touch \"$SHARED/started-$GITHUB_SHA\"\n"
	    "          for i in $(seq 1 600); do\n"
	    "            [ -e \"$SHARED/release\" ] && break\n"
	    "            sleep 0.1\n"
	    "          done\n"
	    "          [ -e \"$SHARED/release\" ]\n", h->shared);
	harness_repo_write(repo, ".github/workflows/deploy.yml", wf);
	free(wf);
	release = xasprintf("%s/release", h->shared);
	sha1 = harness_push(h, repo, "main", "first");
	started = xasprintf("%s/started-%s", h->shared, sha1);
	wait_file(h, started, MARK_MS, "the first deploy never started");
	free(started);

	harness_repo_write(repo, "README", "second\n");
	sha2 = harness_push(h, repo, "main", "second");
	run2 = wait_run_until(h, sha2, NULL, RUN_MS, job_completed, "build",
	    "the second build completed");
	json_decref(run2);
	/* Its deploy waits for the group, and says so. */
	run2 = wait_run_until(h, sha2, NULL, RUN_MS, job_message_has,
	    "deploy|concurrency group deploy-refs/heads/main",
	    "the second deploy waiting for its group");
	job = harness_job(h, run2, "deploy");
	harness_expect_str(h, job, "second deploy", "status", "queued");
	msg = harness_str(job, "message");
	harness_expect_contains(h, msg, "second deploy's message",
	    "waiting for concurrency group");
	json_decref(run2);

	harness_repo_write(repo, "README", "third\n");
	sha3 = harness_push(h, repo, "main", "third");
	/* The third entrant replaces the pending second one at once. */
	run2 = harness_wait_run(h, sha2, NULL, RUN_MS);
	expect_job(h, run2, "deploy", "cancelled");
	harness_expect_str(h, run2, "second run", "conclusion", "cancelled");
	run1 = run_of(h, sha1, NULL);
	harness_assert(h, run1 != NULL && run_status_is(run1, "in_progress"),
	    "the first run should still hold the group: %s",
	    run1 ? harness_json_text(run1) : "(none)");
	json_decref(run1);

	harness_write_file(h, release, "go\n");
	run1 = harness_wait_run(h, sha1, NULL, RUN_MS);
	harness_expect_str(h, run1, "first run", "conclusion", "success");
	run3 = harness_wait_run(h, sha3, NULL, RUN_MS);
	harness_expect_str(h, run3, "third run", "conclusion", "success");

	json_decref(run1);
	json_decref(run2);
	json_decref(run3);
	free(sha1);
	free(sha2);
	free(sha3);
	free(release);
	finish(h, repo);
}
END_TEST

/* Job-level cancel-in-progress stops the running job of the group. */
START_TEST(test_job_concurrency_cancel_in_progress_stops_running_job)
{
	struct harness *h = harness_up("job_concurrency_cancel");
	struct harness_repo *repo = harness_repo_new(h, "octo/jobc");
	char *wf, *sha1, *sha2, *started;
	json_t *run1, *run2;

	wf = xasprintf(
	    "name: deploy\n"
	    "on: push\n"
	    "jobs:\n"
	    "  deploy:\n"
	    "    runs-on: self-hosted\n"
	    "    concurrency:\n"
	    "      group: deploy\n"
	    "      cancel-in-progress: true\n"
	    "    steps:\n"
	    "      - env:\n"
	    "          SHARED: %s\n"
	    "        run: |\n"
	    "          touch \"$SHARED/started-$GITHUB_SHA\"\n"
	    "          if [ ! -e \"$SHARED/once\" ]; then\n"
	    "            touch \"$SHARED/once\"\n"
	    "            sleep 60\n"
	    "          fi\n", h->shared);
	harness_repo_write(repo, ".github/workflows/deploy.yml", wf);
	free(wf);
	sha1 = harness_push(h, repo, "main", "first");
	started = xasprintf("%s/started-%s", h->shared, sha1);
	wait_file(h, started, MARK_MS, "the first deploy never started");
	free(started);
	harness_repo_write(repo, "README", "second\n");
	sha2 = harness_push(h, repo, "main", "second");
	/* Well before the 60 s sleep ends. */
	run1 = harness_wait_run(h, sha1, NULL, 30000);
	expect_job(h, run1, "deploy", "cancelled");
	harness_expect_str(h, run1, "first run", "conclusion", "cancelled");
	run2 = harness_wait_run(h, sha2, NULL, RUN_MS);
	harness_expect_str(h, run2, "second run", "conclusion", "success");
	json_decref(run1);
	json_decref(run2);
	free(sha1);
	free(sha2);
	finish(h, repo);
}
END_TEST


/*
 * A step that starts after its job was cancelled because its if: still
 * holds (always()) runs to the end (reference 5.7): the cleanup of a
 * fail-fast-cancelled leg prints its marker, later default steps skip.
 */
START_TEST(test_always_step_after_cancel_runs_to_the_end)
{
	struct harness *h = harness_up("always_after_cancel");
	struct harness_repo *repo = harness_repo_new(h, "octo/cleanup");
	char *wf, *sha, *log, *started;
	json_t *run, *job;

	wf = xasprintf(
	    "name: cleanup\n"
	    "on: push\n"
	    "jobs:\n"
	    "  test:\n"
	    "    runs-on: self-hosted\n"
	    "    strategy:\n"
	    "      matrix:\n"
	    "        leg: [fast, slow]\n"
	    "    steps:\n"
	    "      - name: work\n"
	    "        env:\n"
	    "          LEG: ${{ matrix.leg }}\n"
	    "          SHARED: %s\n"
	    "        run: |\n"
	    "          if [ \"$LEG\" = slow ]; then\n"
	    "            touch \"$SHARED/slow-started\"\n"
	    "            sleep 60\n"
	    "          else\n"
	    "            for i in $(seq 1 300); do\n"
	    "              [ -e \"$SHARED/slow-started\" ] && break\n"
	    "              sleep 0.1\n"
	    "            done\n"
	    "            exit 1\n"
	    "          fi\n"
	    "      - name: cleanup\n"
	    "        if: always()\n"
	    "        run: sleep 1; echo \"CLEANUP-DONE-$((1 + 1))\"\n"
	    "      - name: after\n"
	    "        run: echo never\n", h->shared);
	harness_repo_write(repo, ".github/workflows/cleanup.yml", wf);
	free(wf);
	sha = harness_push(h, repo, "main", "cleanup");
	started = xasprintf("%s/slow-started", h->shared);
	wait_file(h, started, MARK_MS, "the slow leg never started");
	run = harness_wait_run(h, sha, NULL, 40000);
	expect_job(h, run, "test (slow)", "cancelled");
	job = harness_job(h, run, "test (slow)");
	expect_step(h, job, "cleanup", "success", "success");
	expect_step(h, job, "after", "skipped", "skipped");
	log = harness_job_log(h, run, "test (slow)");
	harness_expect_contains(h, log, "log of the cancelled leg",
	    "CLEANUP-DONE-2");
	free(log);
	json_decref(run);
	free(started);
	free(sha);
	finish(h, repo);
}
END_TEST

/*
 * A value the database cannot hold (an evaluated max-parallel of three
 * billion) fails that job, visibly, and the event's other workflows run.
 */
START_TEST(test_out_of_range_value_fails_only_its_job)
{
	struct harness *h = harness_up("out_of_range_value");
	struct harness_repo *repo = harness_repo_new(h, "octo/range");
	json_t *run, *job;
	char *sha;

	harness_repo_write(repo, ".github/workflows/a-good.yml",
	    "name: good\non: push\njobs:\n  j:\n    runs-on: self-hosted\n"
	    "    steps:\n      - run: echo good\n");
	harness_repo_write(repo, ".github/workflows/b-bad.yml",
	    "name: bad\non: push\njobs:\n  j:\n    runs-on: self-hosted\n"
	    "    strategy:\n"
	    "      max-parallel: ${{ fromJSON('3000000000') }}\n"
	    "      matrix:\n        x: [1, 2]\n"
	    "    steps:\n      - run: echo bad\n");
	sha = harness_push(h, repo, "main", "range");
	run = harness_wait_run(h, sha, ".github/workflows/a-good.yml", RUN_MS);
	harness_expect_str(h, run, "good run", "conclusion", "success");
	json_decref(run);
	run = harness_wait_run(h, sha, ".github/workflows/b-bad.yml", RUN_MS);
	harness_expect_str(h, run, "bad run", "conclusion", "failure");
	job = harness_job(h, run, "j (1)");
	harness_expect_contains(h, harness_str(job, "message"),
	    "the job's message", "max-parallel");
	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST

/*
 * A new branch created at a commit the default branch already has changed
 * no files: a path-filtered workflow does not run (reference 2.4), one
 * without path filters does.
 */
/* The run of path pushed to branch, once completed (NULL if none yet). */
static json_t *
branch_run(struct harness *h, const char *branch, const char *path)
{
	json_t *runs = harness_runs(h), *r, *found = NULL;
	size_t i;

	json_array_foreach(runs, i, r) {
		const char *b = harness_str(r, "head_branch");
		const char *p = harness_str(r, "path");

		if (b != NULL && p != NULL && strcmp(b, branch) == 0 &&
		    strcmp(p, path) == 0)
			found = json_incref(r);
	}
	json_decref(runs);
	return found;
}

static int
feature_any_done_cb(struct harness *h, void *arg)
{
	json_t *r = branch_run(h, "feature", ".github/workflows/any.yml");
	int done = r != NULL && run_status_is(r, "completed");

	json_decref(r);
	return done;
}

START_TEST(test_new_branch_at_known_commit_changes_no_paths)
{
	struct harness *h = harness_up("new_branch_no_paths");
	struct harness_repo *repo = harness_repo_new(h, "octo/nobranchpaths");
	struct harness_resp r;
	char *sha, *out, *body, *sig, *guid;
	json_t *run, *ev;

	harness_repo_write(repo, ".github/workflows/src.yml",
	    "name: src\non:\n  push:\n    paths: ['src/**']\njobs:\n  j:\n"
	    "    runs-on: self-hosted\n    steps:\n      - run: echo src\n");
	harness_repo_write(repo, ".github/workflows/any.yml",
	    "name: any\non: push\njobs:\n  j:\n    runs-on: self-hosted\n"
	    "    steps:\n      - run: echo any\n");
	harness_repo_write(repo, "src/a.c", "int a;\n");
	sha = harness_push(h, repo, "main", "first");
	run = harness_wait_run(h, sha, ".github/workflows/src.yml", RUN_MS);
	json_decref(run);

	/* The same commit pushed as a new branch (before = zeros). */
	out = git_out(h, NULL, "--git-dir", repo->bare, "update-ref",
	    "refs/heads/feature", sha, NULL);
	free(out);
	ev = harness_push_event(repo, "refs/heads/feature",
	    "0000000000000000000000000000000000000000", sha, "feature at main");
	body = harness_json_text(ev);
	sig = harness_sign(repo->secret, body, strlen(body));
	guid = harness_guid();
	harness_webhook(h, "push", guid, sig, body, strlen(body), &r);
	harness_assert(h, r.status == 202, "push of feature: %ld", r.status);
	harness_resp_free(&r);
	harness_assert(h, harness_wait_for(h, RUN_MS, feature_any_done_cb,
	    NULL), "the unfiltered workflow did not run on feature");
	run = branch_run(h, "feature", ".github/workflows/src.yml");
	harness_assert(h, run == NULL, "the path-filtered workflow ran on a "
	    "branch that changed no files: %s", run ? harness_json_text(run) :
	    "");
	json_decref(ev);
	free(body);
	free(sig);
	free(guid);
	free(sha);
	finish(h, repo);
}
END_TEST


/*
 * Cancelling a run (here by a newer run with cancel-in-progress) stops its
 * running job; of the jobs not yet started, one with if: always() still
 * runs and the others conclude cancelled (reference 5.7).
 */
START_TEST(test_cancelled_run_still_runs_always_jobs)
{
	struct harness *h = harness_up("cancel_always");
	struct harness_repo *repo = harness_repo_new(h, "octo/cancelalways");
	char *wf, *sha1, *sha2, *started, *log;
	json_t *run1, *run2;

	wf = xasprintf(
	    "name: cancel\n"
	    "on: push\n"
	    "concurrency:\n"
	    "  group: c-${{ github.ref }}\n"
	    "  cancel-in-progress: true\n"
	    "jobs:\n"
	    "  a:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - env:\n"
	    "          SHARED: %s\n"
	    "        run: |\n"
	    "          touch \"$SHARED/a-started-$GITHUB_SHA\"\n"
	    "          if [ ! -e \"$SHARED/once\" ]; then touch \"$SHARED/once\"; sleep 60; fi\n"
	    "  report:\n"
	    "    needs: a\n"
	    "    if: always()\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo \"REPORT-$((3 + 4)) ${{ needs.a.result }}\"\n"
	    "  deploy:\n"
	    "    needs: a\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo never\n", h->shared);
	harness_repo_write(repo, ".github/workflows/cancel.yml", wf);
	free(wf);
	sha1 = harness_push(h, repo, "main", "first");
	started = xasprintf("%s/a-started-%s", h->shared, sha1);
	wait_file(h, started, MARK_MS, "job a of the first run never started");
	harness_repo_write(repo, "README", "second\n");
	sha2 = harness_push(h, repo, "main", "second");
	run1 = harness_wait_run(h, sha1, NULL, 40000);
	harness_expect_str(h, run1, "first run", "conclusion", "cancelled");
	expect_job(h, run1, "a", "cancelled");
	expect_job(h, run1, "report", "success");
	expect_job(h, run1, "deploy", "cancelled");
	log = harness_job_log(h, run1, "report");
	harness_expect_contains(h, log, "log of report", "REPORT-7 cancelled");
	free(log);
	run2 = harness_wait_run(h, sha2, NULL, RUN_MS);
	harness_expect_str(h, run2, "second run", "conclusion", "success");
	json_decref(run1);
	json_decref(run2);
	free(started);
	free(sha1);
	free(sha2);
	finish(h, repo);
}
END_TEST


/*
 * [workers] run_as: steps run under that account, own their workspace and
 * file commands, and cannot reach kiln's database (its socket directory
 * belongs to the database's account).
 */
START_TEST(test_run_as_runs_steps_unprivileged)
{
	struct harness *h = harness_new("run_as_nobody");
	struct harness_repo *repo;
	char *conf, *extra, *wf, *sha, *log, *want;
	struct passwd *pw = getpwnam("nobody");
	json_t *run;

	harness_assert(h, pw != NULL, "no account nobody");
	conf = file_read_all(h->conf, 65536, NULL);
	extra = xasprintf("%srun_as = nobody\n", conf);
	harness_write_file(h, h->conf, extra);
	free(extra);
	free(conf);
	harness_start(h);
	repo = harness_repo_new(h, "octo/runas");
	harness_repo_write(repo, "hello.txt", "checked out\n");
	wf = xasprintf(
	    "name: runas\n"
	    "on: push\n"
	    "jobs:\n"
	    "  j:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - uses: actions/checkout@v4\n"
	    "      - run: |\n"
	    "          echo \"UID=$(id -u)\"\n"
	    "          cat hello.txt\n"
	    "          touch \"$GITHUB_WORKSPACE/made-by-step\" && echo WROTE-WORKSPACE\n"
	    "          echo \"FROM_ENV=$((20 + 1))\" >> \"$GITHUB_ENV\"\n"
	    "          if ls \"%s/pg/run\" >/dev/null 2>&1; then echo DB-REACHABLE;\n"
	    "          else echo DB-UNREACHABLE; fi\n"
	    "      - run: echo \"NEXT=$FROM_ENV HOME=$HOME\"\n", h->state_dir);
	harness_repo_write(repo, ".github/workflows/runas.yml", wf);
	free(wf);
	sha = harness_push(h, repo, "main", "run as");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "j");
	want = xasprintf("UID=%ld", (long)pw->pw_uid);
	harness_expect_contains(h, log, "the step's uid", want);
	free(want);
	harness_expect_contains(h, log, "checkout readable", "checked out");
	harness_expect_contains(h, log, "workspace writable", "WROTE-WORKSPACE");
	harness_expect_contains(h, log, "database out of reach",
	    "DB-UNREACHABLE");
	want = xasprintf("NEXT=21 HOME=%s", pw->pw_dir);
	harness_expect_contains(h, log, "GITHUB_ENV and HOME", want);
	free(want);
	free(log);
	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST


/*
 * matrix: ${{ fromJSON(needs.setup.outputs.matrix) }} (reference 3.5): the
 * legs come from a job's output, are named by their values, see their
 * strategy context, and a dependant waits for every one of them.
 */
START_TEST(test_matrix_from_needs_output_expands_when_known)
{
	struct harness *h = harness_up("matrix_from_needs");
	struct harness_repo *repo = harness_repo_new(h, "octo/dynmatrix");
	json_t *run;
	char *sha, *log;

	harness_repo_write(repo, ".github/workflows/dyn.yml",
	    "name: dyn\n"
	    "on: push\n"
	    "jobs:\n"
	    "  setup:\n"
	    "    runs-on: self-hosted\n"
	    "    outputs:\n"
	    "      matrix: ${{ steps.m.outputs.matrix }}\n"
	    "    steps:\n"
	    "      - id: m\n"
	    "        run: echo 'matrix={\"py\":[\"3.11\",\"3.12\"],\"include\":"
	    "[{\"py\":\"3.12\",\"extra\":\"x\",\"os\":\"X64\"},"
	    "{\"py\":\"3.11\",\"os\":\"linux\"}]}' >> \"$GITHUB_OUTPUT\"\n"
	    "  test:\n"
	    "    needs: setup\n"
	    "    runs-on: [self-hosted, '${{ matrix.os }}']\n"
	    "    strategy:\n"
	    "      matrix: ${{ fromJSON(needs.setup.outputs.matrix) }}\n"
	    "    steps:\n"
	    "      - run: echo \"LEG=${{ matrix.py }} EXTRA=${{ matrix.extra }} "
	    "AT=${{ strategy.job-index }}/${{ strategy.job-total }}\"\n"
	    "  after:\n"
	    "    needs: test\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo after\n");
	sha = harness_push(h, repo, "main", "dyn");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	expect_job(h, run, "setup", "success");
	expect_job(h, run, "test (3.11)", "success");
	expect_job(h, run, "test (3.12)", "success");
	expect_job(h, run, "after", "success");
	harness_assert(h, json_array_size(json_object_get(run, "jobs")) == 4,
	    "expected 4 jobs: %s", harness_json_text(run));
	/* Each leg's runs-on, evaluated with its own matrix values. */
	{
		char *l1 = harness_json_text(json_object_get(harness_job(h, run,
		    "test (3.11)"), "labels"));
		char *l2 = harness_json_text(json_object_get(harness_job(h, run,
		    "test (3.12)"), "labels"));

		harness_assert(h, strcmp(l1, "[\"self-hosted\",\"linux\"]") == 0
		    && strcmp(l2, "[\"self-hosted\",\"x64\"]") == 0,
		    "leg labels %s %s", l1, l2);
		free(l1);
		free(l2);
	}
	log = harness_job_log(h, run, "test (3.12)");
	harness_expect_contains(h, log, "log of test (3.12)",
	    "LEG=3.12 EXTRA=x AT=1/2");
	free(log);
	log = harness_job_log(h, run, "test (3.11)");
	harness_expect_contains(h, log, "log of test (3.11)",
	    "LEG=3.11 EXTRA= AT=0/2");
	free(log);
	json_decref(run);
	free(sha);
	finish(h, repo);
}
END_TEST

static Suite *
workflow_suite(void)
{
	Suite *s = suite_create("workflow");
	TCase *tc;

	tc = tcase_create("matrix");
	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_matrix_include_exclude_yields_exact_legs_with_values);
	tcase_add_test(tc, test_matrix_fail_fast_cancels_running_sibling);
	tcase_add_test(tc, test_matrix_from_needs_output_expands_when_known);
	tcase_add_test(tc, test_always_step_after_cancel_runs_to_the_end);
	tcase_add_test(tc, test_matrix_without_fail_fast_lets_siblings_finish);
	suite_add_tcase(s, tc);

	tc = tcase_create("jobs");
	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_needs_failure_skips_dependants_but_always_job_runs);
	tcase_add_test(tc, test_run_completes_when_last_jobs_finish_together);
	tcase_add_test(tc, test_if_on_event_name_and_ref_selects_jobs_and_steps);
	tcase_add_test(tc, test_pull_request_without_merge_sha_uses_merge_ref);
	tcase_add_test(tc, test_step_outputs_reach_dependent_job_through_needs);
	tcase_add_test(tc, test_runs_on_unmatched_labels_stays_queued_with_reason);
	tcase_add_test(tc, test_false_if_skips_job_no_worker_could_take);
	tcase_add_test(tc, test_out_of_range_value_fails_only_its_job);
	suite_add_tcase(s, tc);

	tc = tcase_create("steps");
	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_continue_on_error_step_fails_outcome_not_job);
	tcase_add_test(tc, test_step_timeout_kills_process_group_and_fails_job);
	tcase_add_test(tc, test_env_path_and_output_files_reach_later_steps_only);
	tcase_add_test(tc, test_add_mask_hides_value_and_error_command_annotates);
	tcase_add_test(tc, test_run_as_runs_steps_unprivileged);
	suite_add_tcase(s, tc);

	tc = tcase_create("triggers");
	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_path_filters_skip_and_include_workflows);
	tcase_add_test(tc, test_branch_filter_negation_excludes_alpha_release);
	tcase_add_test(tc, test_new_branch_at_known_commit_changes_no_paths);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_concurrency_cancel_in_progress_cancels_older_run);
	tcase_add_test(tc, test_concurrency_without_cancel_keeps_newer_run_pending);
	tcase_add_test(tc, test_job_concurrency_queues_and_replaces_pending);
	tcase_add_test(tc, test_job_concurrency_cancel_in_progress_stops_running_job);
	tcase_add_test(tc, test_cancelled_run_still_runs_always_jobs);
	tcase_add_test(tc, test_invalid_utf8_is_replaced_not_dropped);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(workflow_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
