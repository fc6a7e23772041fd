/*
 * Parked workers ([workers] park_seconds): an idle local worker closes its
 * database session, and kilnd's wake-up (its own LISTEN kiln_work, or its
 * reaper tick's look for queued work) still starts the next job at once
 * -- not after the minute a parked worker sleeps when nobody wakes it.
 *
 * Real parts: kilnd with its embedded PostgreSQL and two workers parking
 * after one idle second; a push; the sessions in pg_stat_activity.
 *
 * And one NOTIFY wakes one idle worker, not all of them to race for one
 * row: with six connected idle workers, a push touches the database from
 * a few of them only (pg_stat_activity's query_start), the others sleep.
 * What is queued with no NOTIFY at all while work is in flight still runs
 * within kilnd's reaper tick (5 s), the idle workers' fallback (their own
 * poll is a minute).
 *
 * At rest kilnd keeps one PostgreSQL session, and it has only listened:
 * its queries ran on sessions that closed, and its reaper's tick slowed
 * down so that none is kept open for it.  A push still wakes it at once.
 */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define PARK_WAIT_MS	20000	/* park_seconds 1, plus a loaded box */
/* Well under WORKER_PARK_POLL_MS (60 s): only a wake-up can be this fast. */
#define RUN_MS		20000

/* The workers' database sessions: "IDLE/ALL" ("0/0": every one parked). */
#define WORKERS_SQL	"SELECT count(*) FILTER (WHERE state = 'idle') || " \
	"'/' || count(*) FROM pg_stat_activity WHERE application_name " \
	"LIKE 'kiln-worker/%'"

/* A repository whose pushes run one job of one step. */
static struct harness_repo *
park_repo(struct harness *h, const char *name)
{
	struct harness_repo *repo = harness_repo_new(h, name);

	harness_repo_write(repo, ".github/workflows/park.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  one:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo parked-and-woken\n");
	return repo;
}

/* Push to repo, wait for the run to succeed; the next push differs. */
static void
park_push_runs(struct harness *h, struct harness_repo *repo,
    const char *msg)
{
	char *sha = harness_push(h, repo, "main", msg);
	json_t *run = harness_wait_run(h, sha, NULL, RUN_MS);

	harness_expect_str(h, run, "run", "conclusion", "success");
	json_decref(run);
	free(sha);
	harness_repo_write(repo, "n.txt", "again\n");
}

START_TEST(test_parked_workers_wake_for_work)
{
	struct harness *h = harness_new("park");
	struct harness_repo *repo;
	const char *parked[] = { WORKERS_SQL, NULL, "0/0" };
	int i;

	harness_conf_add(h, "[workers]\npark_seconds = 1\n");
	harness_start(h);
	repo = park_repo(h, "acme/park");
	/* Twice: the second time the workers parked after running a job. */
	for (i = 0; i < 2; i++) {
		harness_assert(h, harness_wait_for(h, PARK_WAIT_MS, harness_sql_is_cb,
		    (void *)parked), "round %d: the idle workers kept their "
		    "database sessions", i);
		park_push_runs(h, repo, i == 0 ? "first" : "second");
	}
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

#define NWORKERS	6

START_TEST(test_one_notify_wakes_one_worker)
{
	struct harness *h = harness_new("wakeone");
	struct harness_repo *repo;
	char *sha, *t0, *n, want[32], conf[96];
	const char *idle[] = { WORKERS_SQL, NULL, want };
	json_t *run;
	int i, woken, fewest = NWORKERS;

	snprintf(conf, sizeof conf, "[workers]\ncount = %d\n", NWORKERS);
	snprintf(want, sizeof want, "%d/%d", NWORKERS, NWORKERS);
	harness_conf_add(h, conf);
	harness_start(h);
	repo = park_repo(h, "acme/wakeone");
	/* The first push clones the mirror; the next three are measured. */
	for (i = 0; i < 4; i++) {
		harness_assert(h, harness_wait_for(h, PARK_WAIT_MS, harness_sql_is_cb,
		    (void *)idle), "round %d: not all %d workers connected and idle",
		    i, NWORKERS);
		t0 = harness_sql(h, "SELECT clock_timestamp()", NULL);
		sha = harness_push(h, repo, "main", i == 0 ? "first" : "again");
		run = harness_wait_run(h, sha, NULL, RUN_MS);
		harness_expect_str(h, run, "run", "conclusion", "success");
		json_decref(run);
		free(sha);
		n = harness_sql(h, "SELECT count(*) FROM pg_stat_activity WHERE "
		    "application_name LIKE 'kiln-worker/%' AND query_start >= "
		    "$1::timestamptz", t0, NULL);
		woken = atoi(n);
		fprintf(stderr, "round %d: %d of %d workers woken\n", i, woken,
		    NWORKERS);
		if (i > 0 && woken < fewest)
			fewest = woken;
		free(n);
		free(t0);
		harness_repo_write(repo, "n.txt", "again\n");
	}
	/*
	 * The planner claims the job its plan queued, sees no other, and
	 * the job's end queues nothing: no other worker is woken.  (kilnd's
	 * reaper tick wakes them all when it finds work queued, hence the
	 * fewest of three pushes.)
	 */
	harness_assert(h, fewest == 1, "every push woke more than the "
	    "planner: at least %d of %d idle workers", fewest, NWORKERS);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static int
count_str(const char *s, const char *what)
{
	int n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s += strlen(what);
	}
	return n;
}

/*
 * A push that finds both workers parked wakes one: it plans, claims the
 * job its plan queued and runs it.  The other stays parked -- neither
 * the plan's NOTIFY, nor the claim, nor the job's end (nothing released)
 * wakes it for nothing; each such wake-up would cost it a new session.
 */
START_TEST(test_cold_push_opens_one_worker_session)
{
	struct harness *h = harness_new("coldone");
	struct harness_repo *repo;
	const char *parked[] = { WORKERS_SQL, NULL, "0/0" };
	const char *logged[] = { "SELECT current_setting('log_connections')",
	    NULL, "on" };
	const char *planned[] = { "SELECT string_agg(e.status || '/' || "
	    "(SELECT count(*) FROM runs r WHERE r.event_id = e.id), ',') "
	    "FROM events e WHERE e.sha = $1", NULL, "completed/0" };
	char *log, *sha;
	long at = 0;
	int i, opened;

	harness_conf_add(h, "[workers]\npark_seconds = 1\n");
	harness_start(h);
	free(harness_sql(h, "ALTER SYSTEM SET log_connections = on", NULL));
	free(harness_sql(h, "SELECT pg_reload_conf()", NULL));
	harness_assert(h, harness_wait_for(h, 10000, harness_sql_is_cb,
	    (void *)logged), "log_connections did not become on");
	repo = park_repo(h, "acme/coldone");
	/*
	 * The first push clones the mirror; all three are counted.  The
	 * third's workflow runs on another branch only: its plan makes no
	 * run, and must not wake anybody either.
	 */
	for (i = 0; i < 3; i++) {
		harness_assert(h, harness_wait_for(h, PARK_WAIT_MS, harness_sql_is_cb,
		    (void *)parked), "round %d: the idle workers kept their "
		    "database sessions", i);
		free(harness_postgres_log(h, &at));
		if (i < 2)
			park_push_runs(h, repo, i == 0 ? "first" : "second");
		else {
			harness_repo_write(repo, ".github/workflows/park.yml",
			    "on:\n"
			    "  push:\n"
			    "    branches: [elsewhere]\n"
			    "jobs:\n"
			    "  one:\n"
			    "    runs-on: self-hosted\n"
			    "    steps:\n"
			    "      - run: echo never\n");
			sha = harness_push(h, repo, "main", "filtered");
			planned[1] = sha;
			harness_assert(h, harness_wait_for(h, RUN_MS, harness_sql_is_cb,
			    (void *)planned), "the filtered push was not "
			    "planned to no run");
			free(sha);
		}
		/* A late wake-up (the job's end) shows before both park. */
		harness_assert(h, harness_wait_for(h, PARK_WAIT_MS, harness_sql_is_cb,
		    (void *)parked), "round %d: the workers did not park "
		    "again", i);
		log = harness_postgres_log(h, &at);
		opened = count_str(log, "application_name=kiln-worker/");
		fprintf(stderr, "round %d: %d worker session(s) opened\n", i,
		    opened);
		harness_assert(h, opened == 1, "round %d: a push to parked "
		    "workers opened %d worker sessions, not 1", i, opened);
		free(log);
	}
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/*
 * Parked workers still run a run's jobs side by side: the planner's claim
 * sees the other leg queued and wakes the second worker at once (not at
 * the reaper's next tick, up to 5 s later).  Each leg waits, up to 10 s,
 * for the other to have started.
 */
START_TEST(test_parked_workers_start_legs_together)
{
	struct harness *h = harness_new("legs");
	struct harness_repo *repo;
	const char *parked[] = { WORKERS_SQL, NULL, "0/0" };
	char *sha, *gap, *dir, *yml;
	json_t *run;
	int i;

	harness_conf_add(h, "[workers]\npark_seconds = 1\n");
	harness_start(h);
	dir = xasprintf("%s/legs", h->state_dir);
	harness_assert(h, mkdir(dir, 0777) == 0 || errno == EEXIST,
	    "mkdir %s: %s", dir, strerror(errno));
	yml = xasprintf("on: push\n"
	    "jobs:\n"
	    "  leg:\n"
	    "    runs-on: self-hosted\n"
	    "    strategy:\n"
	    "      matrix:\n"
	    "        side: [a, b]\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          touch %s/${{ github.sha }}-${{ matrix.side }}\n"
	    "          for i in $(seq 100); do\n"
	    "            [ -e %s/${{ github.sha }}-a ] && "
	    "[ -e %s/${{ github.sha }}-b ] && exit 0\n"
	    "            sleep 0.1\n"
	    "          done\n"
	    "          exit 1\n", dir, dir, dir);
	repo = harness_repo_new(h, "acme/legs");
	harness_repo_write(repo, ".github/workflows/legs.yml", yml);
	for (i = 0; i < 2; i++) {
		harness_assert(h, harness_wait_for(h, PARK_WAIT_MS, harness_sql_is_cb,
		    (void *)parked), "round %d: the idle workers kept their "
		    "database sessions", i);
		sha = harness_push(h, repo, "main", i == 0 ? "first" : "again");
		run = harness_wait_run(h, sha, NULL, RUN_MS);
		harness_expect_str(h, run, "run", "conclusion", "success");
		json_decref(run);
		gap = harness_sql(h, "SELECT extract(epoch FROM max(j.started_at) "
		    "- min(j.started_at)) < 1 FROM jobs j JOIN runs r ON r.id = "
		    "j.run_id JOIN events e ON e.id = r.event_id WHERE e.sha = $1",
		    sha, NULL);
		harness_assert(h, strcmp(gap, "t") == 0, "round %d: the second "
		    "leg started a second or more after the first", i);
		free(gap);
		free(sha);
		harness_repo_write(repo, "n.txt", i == 0 ? "again\n" : "more\n");
	}
	free(yml);
	free(dir);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_unannounced_work_runs_within_the_tick)
{
	struct harness *h = harness_new("unannounced");
	struct harness_repo *repo, *busy;
	const char *two[] = { "SELECT count(*) FILTER (WHERE r.status = "
	    "'completed') FROM runs r JOIN events e ON e.id = r.event_id "
	    "WHERE e.sha = $1", NULL, "2" };
	const char *running[] = { "SELECT count(*) FROM jobs WHERE status = "
	    "'in_progress'", NULL, "1" };
	char *sha, *busy_sha;
	json_t *run;

	/* Never parking: no park_seconds time-out looks for it either. */
	harness_conf_add(h, "[workers]\npark_seconds = 0\n");
	harness_start(h);
	repo = park_repo(h, "acme/unannounced");
	sha = harness_push(h, repo, "main", "first");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	json_decref(run);
	/* Work in flight: the tick is the short one (at rest, a minute). */
	busy = harness_repo_new(h, "acme/busy");
	harness_repo_write(busy, ".github/workflows/busy.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  long:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: sleep 60\n");
	busy_sha = harness_push(h, busy, "main", "busy");
	harness_assert(h, harness_wait_for(h, RUN_MS, harness_sql_is_cb,
	    (void *)running), "the long job did not start");
	/* The same push again, queued behind every worker's back. */
	free(harness_sql(h, "INSERT INTO events (repository_id, event, ref, "
	    "sha, before_sha, payload) SELECT repository_id, event, ref, sha, "
	    "before_sha, payload FROM events WHERE sha = $1", sha, NULL));
	two[1] = sha;
	harness_assert(h, harness_wait_for(h, 15000, harness_sql_is_cb, (void *)two),
	    "an event queued with no NOTIFY did not run within 15 s");
	free(sha);
	free(busy_sha);
	harness_repo_free(busy);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* kilnd's sessions: "COUNT/QUERIES" ("1/LISTEN kiln_work" at rest). */
#define KILND_SQL	"SELECT count(*) || '/' || coalesce(string_agg(query, " \
	"','), '') FROM pg_stat_activity WHERE application_name = 'kilnd'"

START_TEST(test_at_rest_kilnd_keeps_one_listening_session)
{
	struct harness *h = harness_new("rest");
	struct harness_repo *repo;
	const char *at_rest[] = { KILND_SQL, NULL, "1/LISTEN kiln_work" };
	char *pid, *again;
	int i;

	harness_conf_add(h, "[workers]\npark_seconds = 1\n");
	harness_start(h);
	repo = park_repo(h, "acme/rest");
	pid = NULL;
	for (i = 0; i < 2; i++) {
		park_push_runs(h, repo, i == 0 ? "first" : "second");
		/*
		 * The reaper's next tick (5 s) sees nothing in flight and
		 * slows down; the session its queries used closes 10 s
		 * later.
		 */
		if (!harness_wait_for(h, 45000, harness_sql_is_cb, (void *)at_rest))
			harness_fail(h, "round %d: at rest kilnd's sessions "
			    "are not only its listening one: %s", i,
			    harness_sql(h, KILND_SQL, NULL));
		again = harness_sql(h, "SELECT pid FROM pg_stat_activity WHERE "
		    "application_name = 'kilnd'", NULL);
		/* The same session throughout: it never ran a query. */
		if (pid != NULL)
			harness_assert(h, strcmp(pid, again) == 0, "kilnd's "
			    "listening session changed: %s, then %s", pid,
			    again);
		free(pid);
		pid = again;
	}
	free(pid);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
park_suite(void)
{
	Suite *s = suite_create("park");
	TCase *tc = tcase_create("park");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_parked_workers_wake_for_work);
	tcase_add_test(tc, test_one_notify_wakes_one_worker);
	tcase_add_test(tc, test_cold_push_opens_one_worker_session);
	tcase_add_test(tc, test_parked_workers_start_legs_together);
	tcase_add_test(tc, test_unannounced_work_runs_within_the_tick);
	tcase_add_test(tc, test_at_rest_kilnd_keeps_one_listening_session);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(park_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
