/*
 * actions/cache natively: a miss saves in the post phase, the next run
 * hits exactly and gets the files back (an excluded directory left out),
 * another key restores by a restore-keys prefix without a hit, a failed
 * job saves nothing, and a run with run_as archives and extracts as the
 * steps' account.  Real parts: kilnd with its embedded PostgreSQL and
 * workers, a real git repository, signed push webhooks.
 */
#include <sys/stat.h>

#include <check.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define RUN_MS	90000

static const char cache_workflow[] =
    "name: c\n"
    "on: push\n"
    "jobs:\n"
    "  j:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - uses: actions/cache@v4\n"
    "        id: c\n"
    "        env:\n"
    "          HOME: ${{ runner.temp }}/home\n"
    "        with:\n"
    "          path: |\n"
    "            deps\n"
    "            !deps/skip\n"
    "            ~/.kiln-cache-test\n"
    "          key: deps-${{ hashFiles('lock.txt') }}\n"
    "          restore-keys: |\n"
    "            nothing-\n"
    "            deps-\n"
    "      - env:\n"
    "          HOME: ${{ runner.temp }}/home\n"
    "        run: |\n"
    "          echo \"HIT=[${{ steps.c.outputs.cache-hit }}]\"\n"
    "          if [ -f deps/a.txt ]; then echo \"RESTORED=$(cat deps/a.txt)\";"
    " else echo RESTORED=none; fi\n"
    "          if [ -f deps/sub/b.txt ]; then echo \"NESTED=$(cat "
    "deps/sub/b.txt)\"; fi\n"
    "          if [ -e deps/skip ]; then echo SKIP-RESTORED; fi\n"
    "          if [ -f deps/a.txt ]; then echo \"OWNER=$(stat -c %u "
    "deps/a.txt)/$(id -u)\"; fi\n"
    "          if [ -f ~/.kiln-cache-test/h.txt ]; then echo \"HOME-FILE=$(cat "
    "~/.kiln-cache-test/h.txt)\"; fi\n"
    "          mkdir -p deps/skip deps/sub\n"
    "          echo \"made-by-$(cat lock.txt)\" > deps/a.txt\n"
    "          echo nested-$(cat lock.txt) > deps/sub/b.txt\n"
    "          if mkdir -p ~/.kiln-cache-test 2>/dev/null; then\n"
    "            echo home-$(cat lock.txt) > ~/.kiln-cache-test/h.txt\n"
    "          fi\n"
    "          echo no > deps/skip/x\n"
    "          if [ -f fail.txt ]; then exit 1; fi\n";

/* Push, wait for the run; its job's log (the run's conclusion checked). */
static char *
cache_run(struct harness *h, struct harness_repo *repo, const char *msg,
    const char *conclusion)
{
	char *sha, *log;
	json_t *run;

	sha = harness_push(h, repo, "main", msg);
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	log = harness_job_log(h, run, "j");
	harness_expect_str(h, run, "run", "conclusion", conclusion);
	json_decref(run);
	free(sha);
	return log;
}

static void
cache_scenario(struct harness *h, const char *name)
{
	struct harness_repo *repo;
	char *log, *n, *owner;
	int as_nobody = strstr(name, "user") != NULL;
	uid_t uid = as_nobody && getpwnam("nobody") != NULL ?
	    getpwnam("nobody")->pw_uid : geteuid();

	owner = xasprintf("OWNER=%ld/%ld", (long)uid, (long)uid);
	repo = harness_repo_new(h, name);
	harness_repo_write(repo, ".github/workflows/c.yml", cache_workflow);
	harness_repo_write(repo, "lock.txt", "v1\n");

	/* 1: a miss; the post phase saves. */
	log = cache_run(h, repo, "first", "success");
	harness_expect_contains(h, log, "the miss", "Cache not found for "
	    "input keys: deps-");
	harness_expect_contains(h, log, "cache-hit on a miss", "HIT=[false]");
	harness_expect_contains(h, log, "nothing restored", "RESTORED=none");
	harness_expect_contains(h, log, "the post-phase save",
	    "Cache saved with key: deps-");
	free(log);
	n = harness_sql(h, "SELECT count(*) FROM cache_entries", NULL);
	harness_assert(h, strcmp(n, "1") == 0, "%s cache entries after the "
	    "first run, not 1", n);
	free(n);

	/* 2: the same key: an exact hit, the files back, no second save. */
	harness_repo_write(repo, "other.txt", "x\n");
	log = cache_run(h, repo, "second", "success");
	harness_expect_contains(h, log, "the exact hit", "HIT=[true]");
	harness_expect_contains(h, log, "the restored file",
	    "RESTORED=made-by-v1");
	harness_expect_contains(h, log, "the nested file", "NESTED=nested-v1");
	harness_expect_contains(h, log, "extracted as the steps' account",
	    owner);
	if (!as_nobody)	/* run_as forces HOME to the account's */
		harness_expect_contains(h, log, "the HOME file",
		    "HOME-FILE=home-v1");
	harness_assert(h, strstr(log, "\nSKIP-RESTORED\n") == NULL, "the "
	    "excluded !deps/skip was cached:\n%s", log);
	harness_assert(h, strstr(log, "Cache saved") == NULL, "an exact hit "
	    "saved again:\n%s", log);
	free(log);

	/* 3: a new key restores by prefix (no hit); the job fails: no save. */
	harness_repo_write(repo, "lock.txt", "v2\n");
	harness_repo_write(repo, "fail.txt", "1\n");
	log = cache_run(h, repo, "third", "failure");
	harness_expect_contains(h, log, "the partial hit", "Cache restored "
	    "from key: deps-");
	harness_expect_contains(h, log, "cache-hit on a partial hit",
	    "HIT=[false]");
	harness_expect_contains(h, log, "the prefix's files",
	    "RESTORED=made-by-v1");
	harness_expect_contains(h, log, "no save after a failure",
	    "The job has not succeeded; the cache is not saved");
	free(log);
	n = harness_sql(h, "SELECT count(*) FROM cache_entries", NULL);
	harness_assert(h, strcmp(n, "1") == 0, "%s cache entries after a "
	    "failed job, not 1", n);
	free(n);

	/* 4: the v2 key still misses (nothing saved); now it saves. */
	free(harness_git(h, repo->work, "rm", "-q", "fail.txt", NULL));
	log = cache_run(h, repo, "fourth", "success");
	harness_expect_contains(h, log, "still no exact hit", "HIT=[false]");
	harness_expect_contains(h, log, "the v2 save", "Cache saved with key: "
	    "deps-");
	free(log);
	n = harness_sql(h, "SELECT string_agg(key, ',' ORDER BY id) FROM "
	    "cache_entries", NULL);
	harness_assert(h, strchr(n, ',') != NULL, "entries after the v2 save: "
	    "%s", n);
	free(n);
	harness_repo_free(repo);
	free(owner);
}

START_TEST(test_cache_miss_hit_restore_keys)
{
	struct harness *h = harness_new("cache");

	harness_start(h);
	cache_scenario(h, "octo/cache");
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * With run_as, the restored files belong to the steps' account (the
 * extraction ran as it) and the archives stay the worker's.
 */
START_TEST(test_cache_as_run_as)
{
	struct harness *h = harness_new("cache_run_as");
	struct passwd *pw = getpwnam("nobody");
	char *owners;

	harness_assert(h, pw != NULL, "no account nobody");
	harness_assert(h, geteuid() == 0, "this test needs root (run_as)");
	harness_conf_add(h, "run_as = nobody\n");
	harness_start(h);
	cache_scenario(h, "octo/cacheuser");
	owners = harness_sql(h, "SELECT count(*) FROM cache_entries", NULL);
	harness_assert(h, strcmp(owners, "2") == 0, "%s entries", owners);
	free(owners);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * [cache] max_bytes: three entries of ~20 kB under a 50000-byte limit.
 * After A and B are saved and A is restored (its last use now newer than
 * B's), saving C evicts B -- the least recently used -- not A, the oldest
 * saved; B's archive is gone too.  Then cictl cache list shows what is
 * left, and cictl cache rm removes entries by id and by key; a worker
 * starting sweeps what is past the limit.
 */
static const char evict_workflow[] =
    "name: e\n"
    "on: push\n"
    "jobs:\n"
    "  j:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - id: k\n"
    "        run: echo \"k=$(cat which.txt)\" >> \"$GITHUB_OUTPUT\"\n"
    "      - uses: actions/cache@v4\n"
    "        id: c\n"
    "        with:\n"
    "          path: blob\n"
    "          key: big-${{ steps.k.outputs.k }}\n"
    "      - run: |\n"
    "          echo \"HIT=[${{ steps.c.outputs.cache-hit }}]\"\n"
    "          mkdir -p blob\n"
    "          [ -f blob/data ] || head -c 20000 /dev/urandom > blob/data\n";

/* The keys of the repository's entries, in id order, comma-separated. */
static char *
evict_keys(struct harness *h)
{
	return harness_sql(h, "SELECT coalesce(string_agg(key, ',' ORDER BY "
	    "id), '') FROM cache_entries", NULL);
}

/* 1 if entry id's archive exists under the state directory. */
static int
evict_archive_exists(struct harness *h, const char *id)
{
	char *repo = harness_sql(h, "SELECT repository_id FROM cache_entries "
	    "WHERE id = $1", id, NULL);
	char *file = xasprintf("%s/cache/%s/%s.tar.zst", h->state_dir, repo,
	    id);
	int r = access(file, F_OK) == 0;

	free(file);
	free(repo);
	return r;
}

static int
evict_swept_cb(struct harness *h, void *arg)
{
	char *n = harness_sql(h, "SELECT count(*) FROM cache_entries WHERE "
	    "key = 'big-a'", NULL);
	int yes = strcmp(n, "0") == 0;

	free(n);
	return yes;
}

START_TEST(test_cache_evict_lru_and_cictl)
{
	struct harness *h = harness_new("cache_evict");
	struct harness_repo *repo;
	struct buf out = { 0 }, err = { 0 };
	char *log, *keys, *a_id, *b_id, *c_id, *b_file, *repo_id;
	json_t *list;
	int rc;

	harness_conf_add(h, "[cache]\nmax_bytes = 50000\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/evict");
	harness_repo_write(repo, ".github/workflows/e.yml", evict_workflow);

	harness_repo_write(repo, "which.txt", "a\n");
	free(cache_run(h, repo, "a", "success"));
	harness_repo_write(repo, "which.txt", "b\n");
	free(cache_run(h, repo, "b", "success"));
	keys = evict_keys(h);
	harness_assert(h, strcmp(keys, "big-a,big-b") == 0, "entries after "
	    "two saves: %s", keys);
	free(keys);
	a_id = harness_sql(h, "SELECT id FROM cache_entries WHERE key = "
	    "'big-a'", NULL);
	b_id = harness_sql(h, "SELECT id FROM cache_entries WHERE key = "
	    "'big-b'", NULL);
	repo_id = harness_sql(h, "SELECT repository_id FROM cache_entries "
	    "WHERE id = $1", b_id, NULL);
	b_file = xasprintf("%s/cache/%s/%s.tar.zst", h->state_dir, repo_id,
	    b_id);
	harness_assert(h, access(b_file, F_OK) == 0, "no archive %s", b_file);

	/* A restored: now used after B. */
	harness_repo_write(repo, "which.txt", "a\n");
	log = cache_run(h, repo, "a again", "success");
	harness_expect_contains(h, log, "A's exact hit", "HIT=[true]");
	free(log);

	/* C saved: over the limit, B (least recently used) goes. */
	harness_repo_write(repo, "which.txt", "c\n");
	log = cache_run(h, repo, "c", "success");
	harness_expect_contains(h, log, "the eviction's log line",
	    "(key big-b, ");
	harness_assert(h, strstr(log, "key big-a,") == NULL, "A, recently "
	    "restored, was evicted:\n%s", log);
	free(log);
	keys = evict_keys(h);
	harness_assert(h, strcmp(keys, "big-a,big-c") == 0, "entries after "
	    "the eviction: %s (expected big-a,big-c)", keys);
	free(keys);
	harness_assert(h, access(b_file, F_OK) == -1, "B's archive %s is "
	    "still there", b_file);
	harness_assert(h, evict_archive_exists(h, a_id), "A's archive is "
	    "gone");
	c_id = harness_sql(h, "SELECT id FROM cache_entries WHERE key = "
	    "'big-c'", NULL);

	/* cictl cache list: text and JSON, most recently used first. */
	rc = harness_cictl(h, &out, &err, "cache", "list", "--repo",
	    "octo/evict", NULL);
	harness_assert(h, rc == 0, "cache list exited %d: %s", rc,
	    err.data ? err.data : "");
	harness_expect_contains(h, out.data, "the list's header",
	    "REPOSITORY");
	harness_expect_contains(h, out.data, "A listed", "big-a");
	harness_expect_contains(h, out.data, "C listed", "big-c");
	harness_assert(h, strstr(out.data, "big-b") == NULL, "the evicted "
	    "entry is listed:\n%s", out.data);
	buf_free(&out);
	buf_free(&err);
	list = harness_cictl_json(h, "cache", "list", "--repo", "octo/evict",
	    "--json", NULL);
	harness_assert(h, json_array_size(list) == 2, "%zu entries in the "
	    "JSON list", json_array_size(list));
	harness_expect_str(h, json_array_get(list, 0), "first entry", "key",
	    "big-c");
	harness_assert(h, json_integer_value(json_object_get(
	    json_array_get(list, 0), "size_bytes")) > 20000, "size_bytes of "
	    "C is not the archive's");
	json_decref(list);

	/* cictl cache rm ID: the row and its archive. */
	rc = harness_cictl(h, &out, &err, "cache", "rm", a_id, NULL);
	harness_assert(h, rc == 0, "cache rm %s exited %d: %s", a_id, rc,
	    err.data ? err.data : "");
	harness_expect_contains(h, out.data, "rm's answer", "key big-a");
	buf_free(&out);
	buf_free(&err);
	keys = evict_keys(h);
	harness_assert(h, strcmp(keys, "big-c") == 0, "entries after rm: %s",
	    keys);
	free(keys);
	harness_assert(h, access(b_file, F_OK) == -1, "B came back");
	rc = harness_cictl(h, &out, &err, "cache", "rm", a_id, NULL);
	harness_assert(h, rc != 0, "removing %s twice succeeded", a_id);
	harness_expect_contains(h, err.data, "a second rm's error",
	    "no cache entry");
	buf_free(&out);
	buf_free(&err);

	/* cictl cache rm --key K --repo R. */
	harness_assert(h, evict_archive_exists(h, c_id), "C's archive is "
	    "missing before rm");
	rc = harness_cictl(h, &out, &err, "cache", "rm", "--key", "big-c",
	    "--repo", "octo/evict", NULL);
	harness_assert(h, rc == 0, "cache rm --key exited %d: %s", rc,
	    err.data ? err.data : "");
	buf_free(&out);
	buf_free(&err);
	keys = evict_keys(h);
	harness_assert(h, keys[0] == '\0', "entries after rm --key: %s", keys);
	free(keys);
	free(b_file);
	b_file = xasprintf("%s/cache/%s/%s.tar.zst", h->state_dir, repo_id,
	    c_id);
	harness_assert(h, access(b_file, F_OK) == -1, "C's archive %s is "
	    "still there", b_file);
	rc = harness_cictl(h, &out, &err, "cache", "list", NULL);
	harness_assert(h, rc == 0, "cache list exited %d", rc);
	harness_expect_contains(h, out.data, "the empty list",
	    "no cache entries");
	buf_free(&out);
	buf_free(&err);

	/*
	 * The sweep at a worker's start: an entry used more recently (its
	 * row only) takes 40000 of the 50000 bytes, so the saved entry
	 * left past the limit goes, archive and all.
	 */
	harness_repo_write(repo, "which.txt", "a\n");
	free(cache_run(h, repo, "a once more", "success"));
	free(a_id);
	a_id = harness_sql(h, "SELECT id FROM cache_entries WHERE key = "
	    "'big-a'", NULL);
	harness_assert(h, evict_archive_exists(h, a_id), "no archive of the "
	    "new big-a");
	free(b_file);
	b_file = xasprintf("%s/cache/%s/%s.tar.zst", h->state_dir, repo_id,
	    a_id);
	free(harness_sql(h, "INSERT INTO cache_entries (repository_id, scope, "
	    "key, version, size_bytes, last_used_at) VALUES ($1, "
	    "'refs/heads/main', 'recent', 'v', 40000, now() + interval "
	    "'1 hour') RETURNING id", repo_id, NULL));
	harness_stop(h);
	harness_start(h);
	harness_assert(h, harness_wait_for(h, 60000, evict_swept_cb, NULL),
	    "the sweep at the workers' start left big-a");
	keys = evict_keys(h);
	harness_assert(h, strcmp(keys, "recent") == 0, "entries after the "
	    "sweep: %s", keys);
	free(keys);
	harness_assert(h, access(b_file, F_OK) == -1, "the swept archive %s "
	    "is still there", b_file);

	free(a_id);
	free(b_id);
	free(c_id);
	free(b_file);
	free(repo_id);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * actions/setup-python's cache: pip.  The first run misses (GitHub's
 * "pip cache is not found") and the post phase saves pip's cache
 * directory -- the one `pip cache dir` names, under the step's HOME --
 * keyed on requirements.txt's hashFiles; the second run hits exactly and
 * finds the file a step wrote there; a changed requirements.txt restores
 * by setup-python's restore key (no hit).  No dependency file, or a
 * manager setup-python does not cache for, fails the step naming why.
 */
static const char pip_workflow[] =
    "name: p\n"
    "on: push\n"
    "jobs:\n"
    "  j:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - uses: actions/setup-python@v5\n"
    "        id: py\n"
    "        env:\n"
    "          HOME: ${{ runner.temp }}/home\n"
    "        with:\n"
    "          python-version: '3.11'\n"
    "          cache: pip\n"
    "      - env:\n"
    "          HOME: ${{ runner.temp }}/home\n"
    "        run: |\n"
    "          echo \"PYHIT=[${{ steps.py.outputs.cache-hit }}]\"\n"
    "          d=\"$(python -m pip cache dir)\"\n"
    "          echo \"PIPDIR=$d\"\n"
    "          if [ -f \"$d/kiln-marker\" ]; then echo \"MARKER=$(cat "
    "\"$d/kiln-marker\")\"; else echo MARKER=none; fi\n"
    "          mkdir -p \"$d\"\n"
    "          echo \"from-$(cat requirements.txt)\" > \"$d/kiln-marker\"\n"
    "  pipenv:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - uses: actions/setup-python@v5\n"
    "        id: py\n"
    "        env:\n"
    "          HOME: ${{ runner.temp }}/home\n"
    "        with:\n"
    "          python-version: '3.11'\n"
    "          cache: pipenv\n"
    "      - env:\n"
    "          HOME: ${{ runner.temp }}/home\n"
    "        run: |\n"
    "          echo \"ENVHIT=[${{ steps.py.outputs.cache-hit }}]\"\n"
    "          v=~/.local/share/virtualenvs/proj\n"
    "          if [ -f $v/m ]; then echo \"VENV=$(cat $v/m)\"; fi\n"
    "          mkdir -p $v && cat Pipfile.lock > $v/m\n"
    "  nofiles:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - uses: actions/setup-python@v5\n"
    "        env:\n"
    "          HOME: ${{ runner.temp }}/home\n"
    "        with:\n"
    "          python-version: '3.11'\n"
    "          cache: pip\n"
    "          cache-dependency-path: none/*.lock\n"
    "  conda:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - uses: actions/setup-python@v5\n"
    "        env:\n"
    "          HOME: ${{ runner.temp }}/home\n"
    "        with:\n"
    "          python-version: '3.11'\n"
    "          cache: conda\n";

/* Push; the run fails (nofiles, conda); job j's log, pipenv's in *pipenv. */
static char *
pip_run(struct harness *h, struct harness_repo *repo, const char *msg,
    char **pipenv)
{
	char *sha, *log;
	json_t *run;

	sha = harness_push(h, repo, "main", msg);
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "failure");
	log = harness_job_log(h, run, "nofiles");
	harness_expect_contains(h, log, "no dependency file", "No file in ");
	harness_expect_contains(h, log, "the pattern named",
	    "matched to [none/*.lock]");
	free(log);
	log = harness_job_log(h, run, "conda");
	harness_expect_contains(h, log, "an unsupported manager",
	    "Caching for 'conda' is not supported");
	free(log);
	*pipenv = harness_job_log(h, run, "pipenv");
	log = harness_job_log(h, run, "j");
	json_decref(run);
	free(sha);
	return log;
}

START_TEST(test_cache_setup_python_pip)
{
	struct harness *h = harness_new("cache_pip");
	struct harness_repo *repo;
	char *log, *n, *penv;

	harness_start(h);
	repo = harness_repo_new(h, "octo/pipcache");
	harness_repo_write(repo, "Pipfile.lock", "lock-one\n");
	harness_repo_write(repo, ".github/workflows/p.yml", pip_workflow);
	harness_repo_write(repo, "requirements.txt", "req-one\n");

	log = pip_run(h, repo, "first", &penv);
	harness_expect_contains(h, penv, "pipenv's miss",
	    "pipenv cache is not found");
	harness_expect_contains(h, penv, "pipenv's save", "Cache saved with "
	    "key: setup-python-Linux-X64-");
	harness_expect_contains(h, penv, "pipenv's key", "-pipenv-");
	free(penv);
	harness_expect_contains(h, log, "the miss", "pip cache is not found");
	harness_expect_contains(h, log, "cache-hit on a miss", "PYHIT=[false]");
	harness_expect_contains(h, log, "nothing restored", "MARKER=none");
	harness_expect_contains(h, log, "pip's own cache dir",
	    "/home/.cache/pip\n");
	harness_expect_contains(h, log, "the post-phase save",
	    "Cache saved with key: setup-python-Linux-X64-");
	harness_expect_contains(h, log, "the key's manager part",
	    "-python-3.11.");
	free(log);
	n = harness_sql(h, "SELECT count(*) FROM cache_entries WHERE key ~ "
	    "'^setup-python-Linux-X64-.*-python-3\\.11\\.[0-9]+-pip-"
	    "[0-9a-f]{64}$'", NULL);
	harness_assert(h, strcmp(n, "1") == 0, "%s setup-python entries after "
	    "the first run, not 1", n);
	free(n);

	harness_repo_write(repo, "other.txt", "x\n");
	log = pip_run(h, repo, "second", &penv);
	harness_expect_contains(h, penv, "pipenv's hit", "ENVHIT=[true]");
	harness_expect_contains(h, penv, "the restored virtualenvs",
	    "VENV=lock-one");
	free(penv);
	harness_expect_contains(h, log, "the exact hit", "PYHIT=[true]");
	harness_expect_contains(h, log, "the restored pip cache",
	    "MARKER=from-req-one");
	harness_assert(h, strstr(log, "Cache saved") == NULL, "an exact hit "
	    "saved again:\n%s", log);
	free(log);

	harness_repo_write(repo, "requirements.txt", "req-two\n");
	log = pip_run(h, repo, "third", &penv);
	harness_expect_contains(h, penv, "pipenv's hit, lock unchanged",
	    "ENVHIT=[true]");
	free(penv);
	harness_expect_contains(h, log, "the restore key's match",
	    "Cache restored from key: setup-python-Linux-X64-");
	harness_expect_contains(h, log, "no hit on a prefix", "PYHIT=[false]");
	harness_expect_contains(h, log, "the older pip cache",
	    "MARKER=from-req-one");
	harness_expect_contains(h, log, "the new key saved",
	    "Cache saved with key: setup-python-");
	free(log);
	n = harness_sql(h, "SELECT count(*) FROM cache_entries WHERE key ~ "
	    "'-pip-'", NULL);
	harness_assert(h, strcmp(n, "2") == 0, "%s pip entries after a "
	    "changed requirements.txt, not 2", n);
	free(n);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * Path lines with globs, as @actions/glob reads them (the workflow
 * below): each package's build tree, every .dat file at any depth, files
 * named skip-something left out; nothing else of the workspace is
 * cached.  The key's hashFiles('lock.txt') is GitHub's digest of that
 * file ("g1" and a newline), computed independently with Python:
 *   sha256(sha256(b"g1\n").digest()).hexdigest()
 */
#define GLOB_LOCK_DIGEST \
	"a586b3c0bef463f5ce475a973aeeec3053f850e8d2b5ad78f024e4fab7ad770d"

static const char glob_workflow[] =
    "name: g\n"
    "on: push\n"
    "jobs:\n"
    "  j:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/checkout@v4\n"
    "      - uses: actions/cache@v4\n"
    "        id: c\n"
    "        with:\n"
    "          path: |\n"
    "            pkgs/*/build\n"
    "            **/*.dat\n"
    "            !**/skip-*\n"
    "          key: glob-${{ hashFiles('lock.txt') }}\n"
    "      - run: |\n"
    "          echo \"HIT=[${{ steps.c.outputs.cache-hit }}]\"\n"
    "          for f in pkgs/a/build/out.txt pkgs/b/build/sub/deep.txt "
    "top.dat deep/x/y.dat pkgs/a/build/skip-me pkgs/a/src/not.txt "
    "deep/skip-z.dat; do\n"
    "            if [ -e \"$f\" ]; then echo \"HAVE $f\"; fi\n"
    "          done\n"
    "          mkdir -p pkgs/a/build pkgs/b/build/sub pkgs/a/src deep/x\n"
    "          echo 1 > pkgs/a/build/out.txt\n"
    "          echo 2 > pkgs/b/build/sub/deep.txt\n"
    "          echo 3 > top.dat\n"
    "          echo 4 > deep/x/y.dat\n"
    "          echo 5 > pkgs/a/build/skip-me\n"
    "          echo 6 > pkgs/a/src/not.txt\n"
    "          echo 7 > deep/skip-z.dat\n";

START_TEST(test_cache_path_globs)
{
	static const char *const want[] = { "pkgs/a/build/out.txt",
	    "pkgs/b/build/sub/deep.txt", "top.dat", "deep/x/y.dat" };
	static const char *const not[] = { "pkgs/a/build/skip-me",
	    "pkgs/a/src/not.txt", "deep/skip-z.dat" };
	struct harness *h = harness_new("cache_glob");
	struct harness_repo *repo;
	char *log, *line;
	size_t i;

	harness_start(h);
	repo = harness_repo_new(h, "octo/glob");
	harness_repo_write(repo, ".github/workflows/g.yml", glob_workflow);
	harness_repo_write(repo, "lock.txt", "g1\n");

	log = cache_run(h, repo, "first", "success");
	harness_expect_contains(h, log, "GitHub's digest in the key",
	    "Cache saved with key: glob-" GLOB_LOCK_DIGEST " (4 files, ");
	for (i = 0; i < nitems(want); i++) {
		line = xasprintf("HAVE %s\n", want[i]);
		harness_assert(h, strstr(log, line) == NULL, "%s before any "
		    "restore:\n%s", want[i], log);
		free(line);
	}
	free(log);

	harness_repo_write(repo, "other.txt", "x\n");
	log = cache_run(h, repo, "second", "success");
	harness_expect_contains(h, log, "the exact hit", "HIT=[true]");
	for (i = 0; i < nitems(want); i++) {
		line = xasprintf("HAVE %s\n", want[i]);
		harness_expect_contains(h, log, "a matched path restored", line);
		free(line);
	}
	for (i = 0; i < nitems(not); i++) {
		line = xasprintf("HAVE %s\n", not[i]);
		harness_assert(h, strstr(log, line) == NULL, "%s was cached "
		    "(excluded or unmatched):\n%s", not[i], log);
		free(line);
	}
	free(log);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("cache");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_cache_miss_hit_restore_keys);
	tcase_add_test(tc, test_cache_as_run_as);
	tcase_add_test(tc, test_cache_evict_lru_and_cictl);
	tcase_add_test(tc, test_cache_setup_python_pip);
	tcase_add_test(tc, test_cache_path_globs);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
