/*
 * Integration tests of cron schedules with kilnd's test clock
 * (KILN_TEST_CLOCK: a file holding UTC seconds, rewritten by the test):
 * a `0 2 * * *` workflow fires once at 02:00; two cron lines at one minute
 * give two runs, each with its own github.event.schedule; a cron line on
 * another branch never fires; a kilnd stopped over 02:00 fires the missed
 * slot once after restart and the run says how late; an edited line stops
 * the old one; two kilnds on one database fire a slot once.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define DAY0	1796342400LL	/* 2026-12-04 00:00 UTC, a Friday */
#define H(h, m)	(DAY0 + (h) * 3600LL + (m) * 60LL)

static void
set_clock(struct harness *h, long long t)
{
	char *path = xasprintf("%s/clock", h->dir), *tmp, text[32];

	tmp = xasprintf("%s.tmp", path);
	snprintf(text, sizeof text, "%lld\n", t);
	harness_write_file(h, tmp, text);
	harness_assert(h, rename(tmp, path) == 0, "rename %s", tmp);
	free(tmp);
	free(path);
}

/*
 * A harness whose kilnd reads the test clock, set to t before it starts;
 * conf (may be NULL) is added to its configuration.
 */
static struct harness *
clock_up_conf(const char *name, long long t, const char *conf)
{
	struct harness *h = harness_new(name);
	char *path = xasprintf("%s/clock", h->dir);

	setenv("KILN_TEST_CLOCK", path, 1);
	free(path);
	set_clock(h, t);
	if (conf != NULL)
		harness_conf_add(h, conf);
	harness_start(h);
	return h;
}

static struct harness *
clock_up(const char *name, long long t)
{
	return clock_up_conf(name, t, NULL);
}

static long long
count(struct harness *h, const char *sql)
{
	char *s = harness_sql(h, sql, NULL);
	long long n = strtoll(s, NULL, 10);

	free(s);
	return n;
}

struct want {
	const char	*sql;
	long long	 n;
};

static int
count_is_cb(struct harness *h, void *arg)
{
	struct want *w = arg;

	return count(h, w->sql) == w->n;
}

static void
wait_count(struct harness *h, const char *sql, long long n, const char *what)
{
	struct want w = { sql, n };

	harness_assert(h, harness_wait_for(h, 30000, count_is_cb, &w),
	    "%s: expected %lld, have %lld", what, n, count(h, sql));
}

/* The count stays n for a few scheduler ticks (200 ms each). */
static void
stays(struct harness *h, const char *sql, long long n, const char *what)
{
	struct want w = { sql, n + 1 };

	harness_assert(h, !harness_wait_for(h, 1500, count_is_cb, &w) &&
	    count(h, sql) == n, "%s: expected it to stay %lld, have %lld",
	    what, n, count(h, sql));
}

#define FIRED(path) \
	"SELECT count(*) FROM events WHERE event = 'schedule' AND " \
	"payload->>'workflow' = '.github/workflows/" path "'"

static const char nightly[] =
    "name: nightly\n"
    "on:\n"
    "  schedule:\n"
    "    - cron: '0 2 * * *'\n"
    "jobs:\n"
    "  n:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo \"cron=[${{ github.event.schedule }}] "
    "name=${{ github.event_name }} ref=$GITHUB_REF\"\n";

static const char twolines[] =
    "name: two\n"
    "on:\n"
    "  schedule:\n"
    "    - cron: '0 2 * * *'\n"
    "    - cron: '0 2 * * 5'\n"
    "jobs:\n"
    "  t:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo \"line=[${{ github.event.schedule }}]\"\n";

START_TEST(test_schedule_fires_once_late_after_restart_and_follows_edits)
{
	struct harness *h = clock_up("schedule", H(1, 58));
	struct harness_repo *repo = harness_repo_new(h, "octo/cron");
	struct buf out = { 0 };
	char *sha, *log, *note;
	json_t *run;

	harness_repo_write(repo, ".github/workflows/nightly.yml", nightly);
	harness_repo_write(repo, ".github/workflows/two.yml", twolines);
	sha = harness_push(h, repo, "main", "schedules");
	/* A branch's cron lines are not schedules. */
	harness_repo_write(repo, ".github/workflows/dev.yml",
	    "on:\n  schedule:\n    - cron: '* * * * *'\njobs:\n  d:\n"
	    "    runs-on: self-hosted\n    steps:\n      - run: true\n");
	free(harness_push(h, repo, "dev", "dev schedule"));
	wait_count(h, "SELECT count(*) FROM schedules WHERE since IS NOT NULL",
	    3, "schedules recorded and seen");
	harness_assert(h, harness_cictl(h, &out, NULL, "schedules", NULL) == 0,
	    "cictl schedules");
	harness_expect_contains(h, out.data, "cictl schedules",
	    "2026-12-04 02:00 UTC");

	/* 01:59: nothing.  02:00: each line once. */
	set_clock(h, H(1, 59));
	stays(h, "SELECT count(*) FROM events WHERE event = 'schedule'", 0,
	    "before 02:00");
	set_clock(h, H(2, 0));
	wait_count(h, FIRED("nightly.yml"), 1, "nightly at 02:00");
	wait_count(h, FIRED("two.yml"), 2, "two lines at 02:00");
	run = harness_wait_run(h, sha, ".github/workflows/nightly.yml",
	    HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "event", "schedule");
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "n");
	harness_expect_contains(h, log, "log", "cron=[0 2 * * *] "
	    "name=schedule ref=refs/heads/main");
	free(log);
	json_decref(run);
	wait_count(h, "SELECT count(DISTINCT e.payload->>'schedule') FROM runs r "
	    "JOIN events e ON e.id = r.event_id WHERE r.path = "
	    "'.github/workflows/two.yml'", 2, "two runs, one per line");
	set_clock(h, H(2, 0) + 40);
	stays(h, "SELECT count(*) FROM events WHERE event = 'schedule'", 3,
	    "within 02:00");
	harness_assert(h, count(h, "SELECT count(*) FROM events WHERE "
	    "payload->>'workflow' = '.github/workflows/dev.yml'") == 0,
	    "a branch's cron line fired");

	/* Down from 01:59 to 02:10 the next day: fires once, late. */
	set_clock(h, H(24 + 1, 59));
	harness_stop(h);
	set_clock(h, H(24 + 2, 10));
	harness_start(h);
	wait_count(h, FIRED("nightly.yml"), 2, "the missed 02:00, once");
	stays(h, FIRED("nightly.yml"), 2, "after the catch-up");
	note = harness_sql(h, "SELECT note FROM events WHERE event = "
	    "'schedule' ORDER BY id DESC LIMIT 1", NULL);
	harness_expect_contains(h, note, "late run's note",
	    "scheduled for 2026-12-05 02:00 UTC");
	harness_expect_contains(h, note, "late run's note", "600 s late");
	free(note);

	/* An edited line: the old one stops at once, the new one fires. */
	harness_repo_write(repo, ".github/workflows/nightly.yml",
	    "name: nightly\non:\n  schedule:\n    - cron: '30 3 * * *'\n"
	    "jobs:\n  n:\n    runs-on: self-hosted\n    steps:\n"
	    "      - run: true\n");
	free(harness_push(h, repo, "main", "edit cron"));
	wait_count(h, "SELECT count(*) FROM schedules WHERE cron = "
	    "'30 3 * * *' AND since IS NOT NULL", 1, "new line recorded");
	harness_assert(h, count(h, "SELECT count(*) FROM schedules WHERE "
	    "workflow_path LIKE '%nightly.yml' AND cron = '0 2 * * *'") == 0,
	    "the old line is still a schedule");
	set_clock(h, H(24 + 3, 30));
	wait_count(h, FIRED("nightly.yml"), 3, "the new line at 03:30");
	set_clock(h, H(48 + 2, 0));
	wait_count(h, FIRED("two.yml"), 4, "two.yml the third day (a Sunday)");
	harness_assert(h, count(h, FIRED("nightly.yml")) == 3,
	    "the edited-away line fired");

	buf_free(&out);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_two_kilnds_on_one_database_fire_a_slot_once)
{
	struct harness *h = clock_up("two_kilnds", H(1, 58));
	struct harness_repo *repo = harness_repo_new(h, "octo/twice");
	char *conf, *kilnd, *argv[4], *text;
	pid_t other;

	harness_repo_write(repo, ".github/workflows/nightly.yml", nightly);
	free(harness_push(h, repo, "main", "nightly"));
	wait_count(h, "SELECT count(*) FROM schedules WHERE since IS NOT NULL",
	    1, "schedule recorded");
	/* A second kilnd: same database and key, no listener, no workers. */
	conf = xasprintf("%s/kiln2.conf", h->dir);
	text = xasprintf("[server]\nlisten =\nstate_dir = %s/state2\n"
	    "[database]\nurl = host=%s/pg/run dbname=kiln user=kiln\n"
	    "[workers]\ncount = 0\n[secrets]\nkey_file = %s/secret.key\n",
	    h->dir, h->state_dir, h->state_dir);
	harness_write_file(h, conf, text);
	kilnd = xasprintf("%s/kilnd", h->bindir);
	argv[0] = kilnd;
	argv[1] = (char *)"-c";
	argv[2] = conf;
	argv[3] = NULL;
	other = harness_spawn(h, argv);
	/* Both kilnds' ticks now race for every slot. */
	set_clock(h, H(2, 0));
	wait_count(h, FIRED("nightly.yml"), 1, "02:00 fired");
	stays(h, FIRED("nightly.yml"), 1, "02:00 fired by both");
	harness_assert(h, harness_pid_alive(other), "the second kilnd died");
	set_clock(h, H(24 + 2, 0));
	wait_count(h, FIRED("nightly.yml"), 2, "the next day");
	stays(h, FIRED("nightly.yml"), 2, "the next day, by both");
	harness_kill(h, other);

	free(text);
	free(conf);
	free(kilnd);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* catch_up = none: a minute missed while kilnd was down is skipped. */
START_TEST(test_catch_up_none_skips_missed_slots)
{
	struct harness *h = clock_up_conf("catch_up_none", H(1, 58),
	    "[schedules]\ncatch_up = none\n");
	struct harness_repo *repo = harness_repo_new(h, "octo/skip");

	harness_repo_write(repo, ".github/workflows/nightly.yml", nightly);
	free(harness_push(h, repo, "main", "nightly"));
	wait_count(h, "SELECT count(*) FROM schedules WHERE since IS NOT NULL",
	    1, "schedule recorded");
	harness_stop(h);
	set_clock(h, H(2, 10));
	harness_start(h);
	stays(h, FIRED("nightly.yml"), 0, "a missed slot under catch_up none");
	set_clock(h, H(24 + 2, 0));
	wait_count(h, FIRED("nightly.yml"), 1, "the next day on time");

	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * Schedules are read when the repository is added and when its default
 * branch changes, not only at the next push: a repository whose history
 * already holds a nightly workflow fires at 02:00 with no push at all.
 */
START_TEST(test_schedules_recorded_on_repo_add_and_branch_change)
{
	struct harness *h = clock_up("schedule_repo_add", H(1, 58));
	struct harness_repo *repo = harness_repo_new_unregistered(h,
	    "octo/added");
	struct buf out = { 0 }, err = { 0 };
	int rc;

	harness_repo_write(repo, ".github/workflows/nightly.yml", nightly);
	/* A line with a timezone is never recorded: it would fire wrongly. */
	harness_repo_write(repo, ".github/workflows/tz.yml",
	    "on:\n  schedule:\n    - cron: '0 2 * * *'\n"
	    "      timezone: Europe/Paris\njobs:\n  z:\n"
	    "    runs-on: self-hosted\n    steps:\n      - run: echo tz\n");
	free(harness_repo_commit_push(repo, "main", "nightly", NULL));
	/* Another branch, with another schedule, for the branch change. */
	free(harness_git(h, repo->work, "checkout", "-q", "-b", "release",
	    NULL));
	harness_repo_write(repo, ".github/workflows/two.yml", twolines);
	free(harness_repo_commit_push(repo, "release", "two", NULL));

	rc = harness_cictl(h, &out, &err, "repo", "add", repo->full_name,
	    "--url", repo->clone_url, "--secret-file", repo->secret_file, NULL);
	harness_assert(h, rc == 0, "repo add: %d", rc);
	wait_count(h, "SELECT count(*) FROM schedules WHERE since IS NOT NULL",
	    1, "schedules of main recorded at repo add");
	harness_assert(h, count(h, "SELECT count(*) FROM schedules WHERE "
	    "workflow_path = '.github/workflows/tz.yml'") == 0, "the cron line "
	    "with a timezone was recorded");
	set_clock(h, H(2, 0));
	wait_count(h, FIRED("nightly.yml"), 1, "nightly fired without a push");

	/* The default branch becomes release: its two lines replace main's. */
	buf_clear(&out);
	buf_clear(&err);
	rc = harness_cictl(h, &out, &err, "repo", "add", repo->full_name,
	    "--url", repo->clone_url, "--secret-file", repo->secret_file,
	    "--default-branch", "release", NULL);
	harness_assert(h, rc == 0, "repo add --default-branch: %d", rc);
	wait_count(h, "SELECT count(*) FROM schedules WHERE workflow_path = "
	    "'.github/workflows/two.yml'", 2, "release's schedules recorded");
	wait_count(h, "SELECT count(*) FROM schedules WHERE workflow_path = "
	    "'.github/workflows/nightly.yml'", 1, "release has nightly too");

	buf_free(&out);
	buf_free(&err);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
schedule_suite(void)
{
	Suite *s = suite_create("schedule");
	TCase *tc = tcase_create("schedule");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc,
	    test_schedule_fires_once_late_after_restart_and_follows_edits);
	tcase_add_test(tc, test_two_kilnds_on_one_database_fire_a_slot_once);
	tcase_add_test(tc, test_catch_up_none_skips_missed_slots);
	tcase_add_test(tc, test_schedules_recorded_on_repo_add_and_branch_change);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(schedule_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
