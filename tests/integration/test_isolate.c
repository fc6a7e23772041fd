/*
 * Isolation between jobs of different repositories ([workers]
 * run_as_pool): a step of repository A, running while B's job holds a
 * step, can neither read B's mirror nor read or write B's workspace, its
 * RUNNER_TEMP or its HOME; B's files stay as they were; both jobs succeed;
 * and nothing A's job started (setsid included) outlives it.  An account
 * of the pool is one worker's at a time.  Real kilnd,
 * workers, accounts (made with useradd when absent) and processes.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

/* Accounts of the test's pool, used by nothing else on the machine. */
static const char *const pool[] = { "kiln-itest1", "kiln-itest2" };
/*
 * Runs of this test on one machine (several checkouts, ASan builds) share
 * the accounts, and a worker kills whatever runs as its account: one at a
 * time.
 */
#define POOL_LOCK	"/tmp/kiln-itest-pool.lock"
#define POOL_LOCK_MS	150000
#define TCASE_TIMEOUT	(HARNESS_TCASE_TIMEOUT + POOL_LOCK_MS / 1000)

/* Make the pool's accounts if absent (useradd retried: /etc/passwd lock). */
static void
ensure_accounts(void)
{
	struct buf out = { 0 }, err = { 0 };
	size_t i;
	int tries, rc = 0;

	for (i = 0; i < nitems(pool); i++) {
		char *argv[] = { "/usr/sbin/useradd", "--system", "--no-create-home",
		    "--home-dir", "/nonexistent", "--shell",
		    "/usr/sbin/nologin", (char *)pool[i], NULL };

		for (tries = 0; getpwnam(pool[i]) == NULL && tries < 20;
		    tries++) {
			buf_clear(&out);
			buf_clear(&err);
			rc = harness_run(argv, NULL, NULL, &out, &err, 30000);
			if (rc != 0 && getpwnam(pool[i]) == NULL)
				poll(NULL, 0, 250);
		}
		ck_assert_msg(getpwnam(pool[i]) != NULL, "useradd %s: status "
		    "%d: %.*s", pool[i], rc, (int)err.len,
		    err.data ? err.data : "");
	}
	buf_free(&out);
	buf_free(&err);
}

/* The exclusive lock of the pool's accounts; its descriptor. */
static int
lock_pool(void)
{
	int64_t until = now_ms() + POOL_LOCK_MS;
	int fd = open(POOL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);

	ck_assert_msg(fd != -1, "%s: %s", POOL_LOCK, strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		ck_assert_msg(now_ms() < until, "%s: held by another run of "
		    "this test for %d s", POOL_LOCK, POOL_LOCK_MS / 1000);
		poll(NULL, 0, 200);
	}
	return fd;
}

/*
 * The pool's accounts, made if absent and locked for this test: the
 * lock's descriptor, or -1 (said loudly) when not root.
 */
static int
take_pool(void)
{
	int fd;

	if (geteuid() != 0) {
		fprintf(stderr, "\n*** SKIPPED test_isolate: run_as_pool needs "
		    "kilnd as root (and useradd); run the tests as root to "
		    "check isolation between jobs ***\n\n");
		return -1;
	}
	fd = lock_pool();
	ensure_accounts();
	return fd;
}

/* Live processes whose real uid is uid. */
static int
count_uid(uid_t uid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char path[300], *text, *p;
	long ruid;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
		if ((text = file_read_all(path, 65536, NULL)) == NULL)
			continue;
		if ((p = strstr(text, "\nUid:")) != NULL &&
		    sscanf(p + 5, "%ld", &ruid) == 1 && (uid_t)ruid == uid &&
		    strstr(text, "\nState:\tZ") == NULL)
			n++;
		free(text);
	}
	closedir(d);
	return n;
}

/* Live processes whose command line is "sleep <arg>". */
static int
count_sleeps(const char *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char path[300], *text, want[64];
	size_t len, wl;
	int n = 0;

	if (d == NULL)
		return -1;
	wl = (size_t)snprintf(want, sizeof want, "sleep%c%s", '\0', arg) + 1;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
		if ((text = file_read_all(path, 4096, &len)) == NULL)
			continue;
		if (len == wl && memcmp(text, want, wl) == 0 &&
		    harness_pid_alive((pid_t)atol(de->d_name)))
			n++;
		free(text);
	}
	closedir(d);
	return n;
}

static int
file_exists_cb(struct harness *h, void *arg)
{
	(void)h;
	return access(arg, F_OK) == 0;
}

static int
no_uid_cb(struct harness *h, void *arg)
{
	(void)h;
	return count_uid(*(uid_t *)arg) == 0;
}

static int
no_sleep_cb(struct harness *h, void *arg)
{
	(void)h;
	return count_sleeps(arg) == 0;
}

/* "NAME=<digits>" in log: the number, or -1. */
static long
log_number(const char *log, const char *name)
{
	const char *p = strstr(log, name);

	return p != NULL ? strtol(p + strlen(name), NULL, 10) : -1;
}

/* B: a private file; a step that holds the job until the test says go. */
static char *
bravo_workflow(const struct harness *h)
{
	return xasprintf(
	    "name: bravo\n"
	    "on: push\n"
	    "jobs:\n"
	    "  b:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - uses: actions/checkout@v4\n"
	    "      - run: |\n"
	    "          echo \"B-UID\"\"=$(id -u)\"\n"
	    "          echo \"B-HOME=$HOME\" > \"$HOME/b-home-file\"\n"
	    "          echo b-temp > \"$RUNNER_TEMP/b-temp-file\"\n"
	    "          touch %s/b-running\n"
	    "          n=0\n"
	    "          while [ ! -e %s/go ] && [ $n -lt 900 ]; do\n"
	    "            sleep 0.2; n=$((n + 1))\n"
	    "          done\n"
	    "      - run: |\n"
	    "          echo \"B-SECRET-NOW=$(cat secret-b.txt)\"\n"
	    "          echo \"B-FILES=$(ls -A | tr '\\n' ' ')\"\n"
	    "          echo \"B-HOME-NOW=$(cat \"$HOME/b-home-file\")\"\n",
	    h->shared, h->shared);
}

/* A: every way at B it can think of, each saying LEAK if it worked. */
static char *
alpha_workflow(const struct harness *h, const char *mirror, const char *jobdir)
{
	return xasprintf(
	    "name: alpha\n"
	    "on: push\n"
	    "jobs:\n"
	    "  a:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - uses: actions/checkout@v4\n"
	    "      - run: |\n"
	    "          set +e\n"
	    "          echo \"A-UID\"\"=$(id -u)\"\n"
	    "          cat alpha.txt\n"
	    "          setsid sleep 7402 </dev/null >/dev/null 2>&1 &\n"
	    "          ls %s/work/mirrors && echo LEAK\"\"-MIRRORS-LISTED\n"
	    "          cat %s/config && echo LEAK\"\"-MIRROR-READ\n"
	    "          git --git-dir=%s cat-file -p HEAD:secret-b.txt"
	    " && echo LEAK\"\"-MIRROR-BLOB\n"
	    "          cat %s/workspace/secret-b.txt && echo LEAK\"\"-WS-READ\n"
	    "          ls %s/workspace && echo LEAK\"\"-WS-LISTED\n"
	    "          echo pwned > %s/workspace/secret-b.txt"
	    " && echo LEAK\"\"-WS-WRITTEN\n"
	    "          touch %s/workspace/planted && echo LEAK\"\"-WS-PLANTED\n"
	    "          cat %s/home/b-home-file && echo LEAK\"\"-HOME-READ\n"
	    "          cat %s/tmp/b-temp-file && echo LEAK\"\"-TEMP-READ\n"
	    "          mv %s/workspace %s/moved && echo LEAK\"\"-WS-MOVED\n"
	    "          for p in /proc/[0-9]*; do\n"
	    "            cat \"$p/cwd/secret-b.txt\" 2>/dev/null"
	    " && echo \"LEAK\"\"-PROC-CWD $p\"\n"
	    "          done\n"
	    "          echo A\"\"-DONE\n",
	    h->state_dir, mirror, mirror, jobdir, jobdir, jobdir, jobdir,
	    jobdir, jobdir, jobdir, jobdir);
}

START_TEST(test_a_job_cannot_reach_another_repositorys_job_or_mirror)
{
	struct harness *h;
	struct harness_repo *alpha, *bravo;
	char *wf, *sha_a, *sha_b, *secret, *bsecret, *path, *log_a, *log_b;
	char *repo_b, *job_b, *mirror, *jobdir, *want;
	uid_t uid_a, uid_b, uids[2];
	json_t *run_a, *run_b;
	long a, b;
	size_t i;
	int lockfd;

	if ((lockfd = take_pool()) == -1)
		return;
	for (i = 0; i < nitems(pool); i++)
		uids[i] = getpwnam(pool[i])->pw_uid;

	h = harness_new("isolate");
	harness_conf_add(h, "run_as_pool = kiln-itest1, kiln-itest2\n");
	harness_start(h);

	bravo = harness_repo_new(h, "octo/bravo");
	secret = harness_guid();
	bsecret = xasprintf("B-PRIVATE-%s\n", secret);
	harness_repo_write(bravo, "secret-b.txt", bsecret);
	wf = bravo_workflow(h);
	harness_repo_write(bravo, ".github/workflows/b.yml", wf);
	free(wf);
	sha_b = harness_push(h, bravo, "main", "b holds a step");
	path = xasprintf("%s/b-running", h->shared);
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, file_exists_cb,
	    path), "B's job never reached its holding step");
	free(path);

	/* Where B's mirror and job are: A is told outright. */
	repo_b = harness_sql(h, "SELECT id::text FROM repositories WHERE "
	    "full_name = 'octo/bravo'", NULL);
	job_b = harness_sql(h, "SELECT j.id::text FROM jobs j JOIN runs r ON "
	    "r.id = j.run_id WHERE r.head_sha = $1", sha_b, NULL);
	mirror = xasprintf("%s/work/mirrors/%s.git", h->state_dir, repo_b);
	jobdir = xasprintf("%s/work/jobs/%s", h->state_dir, job_b);
	path = xasprintf("%s/workspace/secret-b.txt", jobdir);
	{
		char *now = file_read_all(path, 4096, NULL);

		harness_assert(h, now != NULL && strcmp(now, bsecret) == 0,
		    "B's checkout is not at %s: %s", path, now != NULL ? now :
		    strerror(errno));
		free(now);
	}
	free(path);

	alpha = harness_repo_new(h, "octo/alpha");
	harness_repo_write(alpha, "alpha.txt", "ALPHA-CHECKED-OUT\n");
	wf = alpha_workflow(h, mirror, jobdir);
	harness_repo_write(alpha, ".github/workflows/a.yml", wf);
	free(wf);
	sha_a = harness_push(h, alpha, "main", "a tries b");
	run_a = harness_wait_run(h, sha_a, NULL, HARNESS_RUN_MS);
	log_a = harness_job_log(h, run_a, "a");
	harness_expect_str(h, run_a, "A's run", "conclusion", "success");
	harness_expect_contains(h, log_a, "A's log", "ALPHA-CHECKED-OUT");
	harness_expect_contains(h, log_a, "A's log", "A-DONE");
	harness_assert(h, strstr(log_a, "LEAK-") == NULL &&
	    strstr(log_a, secret) == NULL, "A's step reached B:\n%s", log_a);

	/* Each job ran as an account of the pool, not the same one. */
	a = log_number(log_a, "A-UID=");
	harness_assert(h, (a == (long)uids[0] || a == (long)uids[1]),
	    "A ran as uid %ld, not an account of the pool", a);
	uid_a = (uid_t)a;
	uid_b = uid_a == uids[0] ? uids[1] : uids[0];

	/* Nothing A started outlives A's job, setsid or not. */
	harness_assert(h, harness_wait_for(h, 10000, no_sleep_cb, "7402"),
	    "A's setsid 'sleep 7402' outlived its job (%d left)",
	    count_sleeps("7402"));
	harness_assert(h, harness_wait_for(h, 10000, no_uid_cb, &uid_a),
	    "%d processes of uid %ld (A's account) outlived its job",
	    count_uid(uid_a), (long)uid_a);

	/* B goes on, its files as they were. */
	path = xasprintf("%s/go", h->shared);
	harness_write_file(h, path, "go\n");
	free(path);
	run_b = harness_wait_run(h, sha_b, NULL, HARNESS_RUN_MS);
	log_b = harness_job_log(h, run_b, "b");
	harness_expect_str(h, run_b, "B's run", "conclusion", "success");
	b = log_number(log_b, "B-UID=");
	harness_assert(h, b == (long)uid_b, "B ran as uid %ld, A as %ld: "
	    "not two accounts of the pool", b, a);
	want = xasprintf("B-SECRET-NOW=B-PRIVATE-%s", secret);
	harness_expect_contains(h, log_b, "B's file after A", want);
	free(want);
	harness_expect_contains(h, log_b, "B's files after A",
	    "B-FILES=.git .github secret-b.txt \n");
	harness_expect_contains(h, log_b, "B's HOME after A", "B-HOME-NOW=B-HOME=/");
	harness_assert(h, harness_wait_for(h, 10000, no_uid_cb, &uid_b),
	    "%d processes of uid %ld (B's account) outlived its job",
	    count_uid(uid_b), (long)uid_b);

	/* The mirrors are the worker's alone. */
	{
		struct stat st;

		path = xasprintf("%s/work/mirrors", h->state_dir);
		harness_assert(h, stat(path, &st) == 0 && st.st_uid == 0 &&
		    (st.st_mode & 077) == 0, "%s: uid %ld mode %o", path,
		    (long)st.st_uid, (unsigned)(st.st_mode & 07777));
		free(path);
	}
	free(log_a);
	free(log_b);
	json_decref(run_a);
	json_decref(run_b);
	free(sha_a);
	free(sha_b);
	free(secret);
	free(bsecret);
	free(repo_b);
	free(job_b);
	free(mirror);
	free(jobdir);
	harness_repo_free(alpha);
	harness_repo_free(bravo);
	harness_stop(h);
	harness_free(h);
	close(lockfd);
}
END_TEST

static int
sleeping_cb(struct harness *h, void *arg)
{
	(void)h;
	return count_sleeps(arg) == 1;
}

/*
 * An account of the pool is one worker's alone: the worker that takes it
 * first kills what still runs as it (left by a worker that died
 * mid-job), and a worker that finds every account held exits saying so.
 */
START_TEST(test_a_pool_account_is_one_workers_alone)
{
	struct harness *h;
	struct buf out = { 0 }, err = { 0 };
	struct passwd *pw;
	char uid[32], gid[32], *worker, *conf, *id;
	pid_t left;
	int lockfd, rc;

	if ((lockfd = take_pool()) == -1)
		return;
	pw = getpwnam(pool[0]);
	snprintf(uid, sizeof uid, "--reuid=%ld", (long)pw->pw_uid);
	snprintf(gid, sizeof gid, "--regid=%ld", (long)pw->pw_gid);

	h = harness_new("isolate_slots");
	harness_conf_add(h, "count = 1\nrun_as_pool = kiln-itest1\n");
	{
		char *argv[] = { "/usr/bin/setpriv", uid, gid,
		    "--clear-groups", "sleep", "7403", NULL };

		left = harness_spawn(h, argv);
	}
	harness_assert(h, harness_wait_for(h, 10000, sleeping_cb, "7403"),
	    "'sleep 7403' as %s never started", pool[0]);
	harness_start(h);
	harness_assert(h, harness_wait_for(h, 20000, no_sleep_cb, "7403"),
	    "the worker holding %s left 'sleep 7403' (its uid) running",
	    pool[0]);
	harness_kill(h, left);

	worker = xasprintf("%s/kiln-worker", h->bindir);
	conf = xasprintf("%s/worker.conf", h->state_dir);
	id = xasprintf("%s-extra", h->name);
	{
		char *argv[] = { worker, "-c", conf, "--name", id, NULL };

		rc = harness_run(argv, NULL, NULL, &out, &err, 30000);
	}
	buf_add_char(&err, '\0');
	harness_assert(h, rc == 1 && strstr(err.data, "[workers] "
	    "run_as_pool: all 1 accounts are held by other workers") != NULL,
	    "a second worker with the pool's only account held: status %d, "
	    "%s", rc, err.data);
	buf_free(&out);
	buf_free(&err);
	free(worker);
	free(conf);
	free(id);
	harness_stop(h);
	harness_free(h);
	close(lockfd);
}
END_TEST

static Suite *
isolate_suite(void)
{
	Suite *s = suite_create("isolate");
	TCase *tc = tcase_create("isolate");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_a_job_cannot_reach_another_repositorys_job_or_mirror);
	tcase_add_test(tc, test_a_pool_account_is_one_workers_alone);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(isolate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
