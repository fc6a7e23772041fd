/*
 * Losing the database: kilnd never hangs on it.  The embedded PostgreSQL
 * killed with SIGKILL is started again and work goes on; every delivery
 * answered 202 meanwhile is kept, the others get an answer (503) within a
 * bound; a cluster that cannot come back makes kilnd stop with exit status
 * 1, so systemd's Restart=on-failure takes over.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "config.h"
#include "harness.h"
#include "util.h"

#define FLOOD		400	/* deliveries sent into the outage, at most */
#define FLOOD_MS	40000	/* ... and for at most this long */
#define RECOVERED	10	/* 202s in a row that end the flood */
#define PACE_MS		25	/* a steady rate, as GitHub's deliveries come */
#define ANSWER_MS	10000	/* each must be answered within this */

static const char workflow[] =
    "name: hello\n"
    "on: push\n"
    "jobs:\n"
    "  hello:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo \"ALIVE-$((40 + 2))\"\n";

/* A signed push delivery of sha to main; its answer in r. */
static void
deliver_push(struct harness *h, struct harness_repo *repo, const char *sha,
    const char *delivery, struct harness_resp *r)
{
	json_t *ev = harness_push_event(repo, "refs/heads/main", sha, sha,
	    "flood");
	char *body = harness_json_text(ev), *sig;

	sig = harness_sign(repo->secret, body, strlen(body));
	harness_webhook(h, "push", delivery, sig, body, strlen(body), r);
	free(sig);
	free(body);
	json_decref(ev);
}

START_TEST(test_killed_postgres_is_restarted_and_nothing_acknowledged_lost)
{
	struct harness *h = harness_up("pg_killed");
	struct harness_repo *repo = harness_repo_new(h, "acme/dbloss");
	char *sha, *guid[FLOOD], *n, *sha2;
	int accepted[FLOOD], i, nsent, killed, n202 = 0, n503 = 0, streak = 0;
	json_t *run;
	int64_t t0, took;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	sha = harness_push(h, repo, "main", "first");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	json_decref(run);

	killed = harness_signal_postgres(h, SIGKILL);
	harness_assert(h, killed > 0, "found no postgres process to kill");
	/*
	 * Into the outage and through the restart, until deliveries are
	 * taken again: each gets an answer, in time.
	 */
	t0 = now_ms();
	for (nsent = 0; nsent < FLOOD && streak < RECOVERED &&
	    now_ms() - t0 < FLOOD_MS; nsent++) {
		int64_t t1;
		struct harness_resp r;

		i = nsent;
		guid[i] = harness_guid();
		t1 = now_ms();
		deliver_push(h, repo, sha, guid[i], &r);
		took = now_ms() - t1;
		harness_assert(h, r.status == 202 || r.status == 503,
		    "delivery %d during the outage: status %ld (%s) after "
		    "%lld ms", i, r.status, r.status ? r.body.data : r.error,
		    (long long)took);
		harness_assert(h, took < ANSWER_MS, "delivery %d answered "
		    "after %lld ms", i, (long long)took);
		accepted[i] = r.status == 202;
		n202 += accepted[i];
		n503 += !accepted[i];
		streak = accepted[i] && n503 > 0 ? streak + 1 : 0;
		harness_resp_free(&r);
		nanosleep(&(struct timespec){ 0, PACE_MS * 1000000L }, NULL);
	}
	harness_assert(h, n503 > 0, "no delivery saw the outage (all 202): "
	    "the database was not down");
	harness_assert(h, streak == RECOVERED, "deliveries were not taken "
	    "again within %d s of PostgreSQL's death (%d sent: %d 202, "
	    "%d 503)", FLOOD_MS / 1000, nsent, n202, n503);
	harness_assert(h, harness_wait_for(h, 30000, harness_healthy_cb, NULL),
	    "kilnd did not answer /healthz 200 within 30 s of PostgreSQL's "
	    "death");

	/* Every 202 is stored; a 503 may or may not be (GitHub redelivers). */
	for (i = 0; i < nsent; i++) {
		if (accepted[i]) {
			n = harness_sql(h, "SELECT count(*) FROM deliveries "
			    "WHERE id = $1", guid[i], NULL);
			harness_assert(h, strcmp(n, "1") == 0, "delivery %s was "
			    "answered 202 but is not stored", guid[i]);
			free(n);
		}
		free(guid[i]);
	}
	/* And work goes on: a new push runs to success. */
	sha2 = harness_push(h, repo, "main", "after the outage");
	run = harness_wait_run(h, sha2, NULL, HARNESS_RUN_MS);
	harness_assert(h, strcmp(json_string_value(json_object_get(run,
	    "conclusion")), "success") == 0, "run after the restart: %s",
	    json_string_value(json_object_get(run, "conclusion")));
	json_decref(run);
	fprintf(stderr, "pg_killed: %d deliveries: %d answered 503 during "
	    "the outage, %d 202 (all stored)\n", nsent, n503, n202);
	harness_stop(h);
	free(sha);
	free(sha2);
	harness_repo_free(repo);
	harness_free(h);
}
END_TEST

/* A new session sees the setting: the postmaster has signalled kilnd's. */
static int
statements_logged_cb(struct harness *h, void *unused)
{
	char *v = harness_sql(h, "SELECT current_setting("
	    "'log_min_duration_statement')", NULL);
	int ok = strcmp(v, "0") == 0;

	free(v);
	return ok;
}

/* A push that runs: the delivery, the job and its log all went through. */
static void
push_and_run(struct harness *h, struct harness_repo *repo, const char *msg)
{
	char *sha = harness_push(h, repo, "main", msg);
	json_t *run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	char *log = harness_job_log(h, run, "hello");

	harness_assert(h, strcmp(harness_str(run, "conclusion"), "success")
	    == 0, "run of %s: %s", msg, harness_str(run, "conclusion"));
	harness_assert(h, strstr(log, "ALIVE-42") != NULL, "log of %s: %s",
	    msg, log);
	free(log);
	json_decref(run);
	free(sha);
}

/*
 * kilnd prepares its per-delivery and per-job statements once per session
 * and runs them by name (PostgreSQL logs "execute <name>", not
 * "<unnamed>"); a session that died took them along, and the new one
 * prepares them again instead of failing every delivery.
 */
START_TEST(test_statements_are_prepared_again_after_reconnect)
{
	static const char *const named[] = {
		"execute kiln_hook_repo:", "execute kiln_intake_1:",
		"execute kiln_log_attach:",
	};
	struct harness *h = harness_up("pg_prepared");
	struct harness_repo *repo = harness_repo_new(h, "acme/prepared");
	char *log, *v;
	long at = 0;
	size_t i;
	int round;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	free(harness_sql(h, "ALTER SYSTEM SET log_min_duration_statement "
	    "= 0", NULL));
	v = harness_sql(h, "SELECT pg_reload_conf()", NULL);
	free(v);
	harness_assert(h, harness_wait_for(h, 10000, statements_logged_cb,
	    NULL), "log_min_duration_statement did not become 0");
	for (round = 0; round < 2; round++) {
		free(harness_postgres_log(h, &at));
		if (round == 1) {
			harness_assert(h, harness_signal_postgres(h, SIGKILL) >
			    0, "found no postgres process to kill");
			harness_assert(h, harness_wait_for(h, 30000,
			    harness_healthy_cb, NULL), "kilnd did not answer "
			    "/healthz 200 within 30 s of PostgreSQL's death");
		}
		push_and_run(h, repo, round == 0 ? "first" : "after the restart");
		log = harness_postgres_log(h, &at);
		for (i = 0; i < nitems(named); i++)
			harness_assert(h, strstr(log, named[i]) != NULL,
			    "round %d: PostgreSQL's log has no \"%s\"", round,
			    named[i]);
		free(log);
	}
	harness_stop(h);
	harness_repo_free(repo);
	harness_free(h);
}
END_TEST

/*
 * A kilnd session ended mid-query (pg_terminate_backend while its query
 * waits on a lock; a postmaster's death does the same to a busy one):
 * its last read is an error result.  The next session must still
 * prepare its statements -- before, that stale error made its first
 * Prepare go unrecorded and every later one fail with "already exists":
 * deliveries got 503 and log attaches were refused until kilnd restarted.
 */
START_TEST(test_statements_are_prepared_after_a_session_ended_mid_query)
{
	const char *waiting[] = { "SELECT count(*) > 0 FROM pg_stat_activity "
	    "WHERE application_name = 'kilnd' AND wait_event_type = 'Lock'",
	    NULL, "t" };
	struct harness *h = harness_up("pg_midquery");
	struct harness_repo *repo = harness_repo_new(h, "acme/midquery");
	struct kiln_config cfg;
	char err[512], *conninfo, *n;
	PGconn *locker;
	PGresult *res;
	int round;

	harness_repo_write(repo, ".github/workflows/hello.yml", workflow);
	push_and_run(h, repo, "first");
	harness_assert(h, config_load(h->conf, &cfg, err, sizeof err) == 0,
	    "%s", err);
	conninfo = config_conninfo(&cfg);
	config_free(&cfg);
	for (round = 0; round < 2; round++) {
		locker = PQconnectdb(conninfo);
		harness_assert(h, PQstatus(locker) == CONNECTION_OK, "%s",
		    PQerrorMessage(locker));
		res = PQexec(locker, "BEGIN; LOCK TABLE jobs IN ACCESS "
		    "EXCLUSIVE MODE");
		harness_assert(h, PQresultStatus(res) == PGRES_COMMAND_OK,
		    "locking jobs: %s", PQerrorMessage(locker));
		PQclear(res);
		/* The reaper's probe resumes its 5 s tick, and waits. */
		free(harness_sql(h, "SELECT pg_notify('kiln_work', 'job')",
		    NULL));
		harness_assert(h, harness_wait_for(h, 15000, harness_sql_is_cb,
		    (void *)waiting), "round %d: no kilnd query waited on the "
		    "lock", round);
		n = harness_sql(h, "SELECT count(pg_terminate_backend(pid)) "
		    "FROM pg_stat_activity WHERE application_name = 'kilnd' "
		    "AND wait_event_type = 'Lock'", NULL);
		harness_assert(h, atoi(n) > 0, "round %d: terminated no kilnd "
		    "session", round);
		free(n);
		PQfinish(locker);
		push_and_run(h, repo, round == 0 ? "after one session ended" :
		    "after another");
	}
	free(conninfo);
	harness_stop(h);
	harness_repo_free(repo);
	harness_free(h);
}
END_TEST

static int
kilnd_exited_cb(struct harness *h, void *arg)
{
	int *status = arg;

	if (waitpid(h->kilnd, status, WNOHANG) == h->kilnd) {
		h->kilnd = -1;
		return 1;
	}
	return 0;
}

/*
 * A cluster that cannot start again: kilnd answers meanwhile, then stops
 * with exit status 1 and leaves no process behind; it never hangs.
 */
START_TEST(test_postgres_that_cannot_return_is_a_failure_exit)
{
	struct harness *h = harness_up("pg_gone");
	struct harness_resp r;
	struct buf left = { 0 };
	char *data = xasprintf("%s/pg/data", h->state_dir);
	char *moved = xasprintf("%s/pg/data.moved", h->state_dir);
	int status = 0, killed;
	int64_t t0;

	killed = harness_signal_postgres(h, SIGKILL);
	harness_assert(h, killed > 0, "found no postgres process to kill");
	harness_assert(h, rename(data, moved) == 0, "rename %s: %s", data,
	    strerror(errno));
	t0 = now_ms();
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	harness_assert(h, r.status == 503, "healthz without a database: %ld",
	    r.status);
	harness_assert(h, now_ms() - t0 < ANSWER_MS, "healthz took %lld ms",
	    (long long)(now_ms() - t0));
	harness_resp_free(&r);
	harness_assert(h, harness_wait_for(h, 60000, kilnd_exited_cb, &status),
	    "kilnd still runs 60 s after its database became unable to "
	    "start");
	harness_assert(h, WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "kilnd's exit status is %d (signal %d), not 1",
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	harness_assert(h, harness_leftovers(h, &left) == 0,
	    "processes left after kilnd gave up:\n%s", left.data);
	buf_free(&left);
	free(data);
	free(moved);
	harness_free(h);
}
END_TEST

static Suite *
dbloss_suite(void)
{
	Suite *s = suite_create("dbloss");
	TCase *tc = tcase_create("dbloss");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc,
	    test_killed_postgres_is_restarted_and_nothing_acknowledged_lost);
	tcase_add_test(tc, test_postgres_that_cannot_return_is_a_failure_exit);
	tcase_add_test(tc, test_statements_are_prepared_again_after_reconnect);
	tcase_add_test(tc,
	    test_statements_are_prepared_after_a_session_ended_mid_query);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dbloss_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
