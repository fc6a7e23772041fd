/*
 * claim: take work from PostgreSQL.  Each claim is one UPDATE of the oldest
 * queued row chosen with FOR UPDATE SKIP LOCKED, so any number of workers on
 * any number of hosts never take the same row and never wait for each other.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "proto.h"
#include "util.h"
#include "mirror.h"
#include "worker.h"

/*
 * Leases ([workers] lease_seconds, w->lease).  A job's is renewed every
 * second while a step runs, but not while a built-in action (a large
 * checkout) or the log's final delivery blocks; an event's is not renewed
 * while it is planned (the mirror fetched).  The default, 10 minutes, is
 * long enough for those.  A local worker that dies is noticed at once
 * (kiln_worker_lost); the lease is for workers on other hosts and for those
 * a crashed kilnd left behind, whose claims nobody else releases.
 */

static char *
dup_or_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL :
	    xstrdup(PQgetvalue(res, row, col));
}

/* res if it is a success, else NULL with the error logged. */
static PGresult *
worker_result(struct worker *w, PGresult *res, const char *what)
{
	char msg[512];

	if (PQresultStatus(res) == PGRES_TUPLES_OK ||
	    PQresultStatus(res) == PGRES_COMMAND_OK)
		return res;
	snprintf(msg, sizeof msg, "%s", PQerrorMessage(w->db));
	msg[strcspn(msg, "\n")] = '\0';
	log_warnx("%s: %s", what, msg);
	PQclear(res);
	return NULL;
}

PGresult *
worker_exec(struct worker *w, const char *sql, int nparams,
    const char *const *params, const char *what)
{
	return worker_result(w, PQexecParams(w->db, sql, nparams, NULL,
	    params, NULL, NULL, 0), what);
}

PGresult *
worker_exec_stmt(struct worker *w, const struct worker_stmt *st,
    int nparams, const char *const *params, const char *what)
{
	PGresult *res;
	const char *state;
	int pid = PQbackendPID(w->db), again;

	/* A new session (reconnect, PQreset) has none of them. */
	if (pid != w->prepared_pid) {
		w->prepared = 0;
		w->prepared_pid = pid;
	}
	for (again = 1;; again = 0) {
		if (!(w->prepared & st->bit)) {
			res = worker_result(w, PQprepare(w->db, st->name,
			    st->sql, nparams, NULL), what);
			if (res == NULL)
				return NULL;
			PQclear(res);
			w->prepared |= st->bit;
		}
		res = PQexecPrepared(w->db, st->name, nparams, params, NULL,
		    NULL, 0);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		/* Gone after all (a new backend that got the same pid). */
		if (again && state != NULL && strcmp(state, "26000") == 0) {
			PQclear(res);
			w->prepared = 0;
			continue;
		}
		return worker_result(w, res, what);
	}
}

/*
 * An event's claim commits without waiting for the WAL flush
 * (SQL_ASYNC_COMMIT): lost in a PostgreSQL crash, the event is queued
 * again, and its plan (plan.c) is asynchronous too.
 */
static const struct worker_stmt claim_event_stmt = { "kiln_claim_event",
	    "UPDATE events e SET status = 'in_progress', claimed_by = $1, "
	    "lease_until = now() + $2::int * interval '1 second', "
	    "attempts = attempts + 1 "
	    "FROM repositories p WHERE p.id = e.repository_id AND e.id = "
	    "(SELECT id FROM events WHERE status = 'queued' AND "
	    "(lease_until IS NULL OR lease_until <= now()) ORDER BY id "
	    "FOR UPDATE SKIP LOCKED LIMIT 1) AND " SQL_ASYNC_COMMIT " "
	    "RETURNING e.id, e.repository_id, e.event, e.ref, e.sha, "
	    "e.before_sha, e.payload::text, p.full_name, p.clone_url, "
	    "p.default_branch, e.delivery_id", WSTMT_CLAIM_EVENT };

int
claim_event(struct worker *w, struct claimed_event *ev)
{
	const char *params[2] = { w->name, w->lease };
	PGresult *res;

	memset(ev, 0, sizeof *ev);
	res = worker_exec_stmt(w, &claim_event_stmt, 2, params,
	    "claiming an event");
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	ev->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	ev->repository_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	ev->event = dup_or_null(res, 0, 2);
	ev->ref = dup_or_null(res, 0, 3);
	ev->sha = dup_or_null(res, 0, 4);
	ev->before_sha = dup_or_null(res, 0, 5);
	ev->payload = dup_or_null(res, 0, 6);
	ev->repo_name = dup_or_null(res, 0, 7);
	ev->clone_url = dup_or_null(res, 0, 8);
	ev->default_branch = dup_or_null(res, 0, 9);
	ev->delivery = dup_or_null(res, 0, 10);
	PQclear(res);
	return 1;
}

void
claimed_event_free(struct claimed_event *ev)
{
	free(ev->event);
	free(ev->ref);
	free(ev->sha);
	free(ev->before_sha);
	free(ev->payload);
	free(ev->repo_name);
	free(ev->delivery);
	free(ev->clone_url);
	free(ev->default_branch);
	memset(ev, 0, sizeof *ev);
}

/*
 * Re-check a claim under max-parallel or a concurrency group with a fresh
 * snapshot (kiln_claim_conflict); on a conflict give the job back as it
 * was.  1 if it was given back.
 */
static int
claim_conflict(struct worker *w, const struct claimed_job *job)
{
	char idbuf[32];
	const char *params[1] = { idbuf };
	PGresult *res;
	int conflict;

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)job->id);
	res = worker_exec(w, "SELECT kiln_claim_conflict($1::bigint)", 1,
	    params, "re-checking the claim");
	if (res == NULL)
		return 0;
	conflict = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0),
	    "t") == 0;
	PQclear(res);
	if (!conflict)
		return 0;
	log_info("job %lld: another worker claimed a job of its group at the "
	    "same moment; giving it back", (long long)job->id);
	PQclear(worker_exec(w, "UPDATE jobs SET status = 'queued', worker = "
	    "NULL, started_at = NULL, lease_until = NULL WHERE id = $1::bigint "
	    "AND status = 'in_progress'", 1, params, "giving the job back"));
	return 1;
}

/*
 * The oldest queued job this worker's labels satisfy, of a run not
 * waiting on its concurrency group, within its matrix's max-parallel
 * (the advisory lock makes two workers count the same siblings one
 * after the other).  The same statement reads its run, event,
 * repository and the repository's variables, and marks the run in
 * progress (one round trip and one transaction per claim), and says
 * whether another job is queued (its snapshot: what a later commit
 * queues, its NOTIFY announces); under
 * max-parallel or a concurrency group the run waits for claim_job()'s
 * re-check, as the claim may be given back.
 */
static const struct worker_stmt claim_job_stmt = { "kiln_claim_job",
	    "WITH c AS (UPDATE jobs j SET status = 'in_progress', worker = $1, "
	    "started_at = now(), lease_until = now() + $3::int * "
	    "interval '1 second', log_token = sha256(decode($4, 'hex')) "
	    "WHERE j.id = (SELECT c.id FROM jobs c JOIN runs r ON r.id = "
	    "c.run_id WHERE c.status = 'queued' AND r.status <> 'pending' "
	    "AND (c.labels <@ ARRAY(SELECT jsonb_array_elements_text("
	    "$2::jsonb)) OR NOT c.if_checked) "
	    "AND (c.concurrency_group IS NULL OR kiln_job_superseded(c.id) OR "
	    "(pg_try_advisory_xact_lock(hashtext('kiln-job-group'), "
	    "hashtext(c.repository_id || '/' || c.concurrency_group)) AND "
	    "NOT kiln_job_group_busy(c.id))) "
	    "AND (c.max_parallel IS NULL OR "
	    "(pg_try_advisory_xact_lock(hashtext('kiln-max-parallel'), "
	    "hashtext(c.run_id || '/' || c.job_key)) AND (SELECT count(*) "
	    "FROM jobs s WHERE s.run_id = c.run_id AND s.job_key = c.job_key "
	    "AND s.status = 'in_progress') < c.max_parallel)) "
	    "ORDER BY c.id FOR UPDATE OF c SKIP LOCKED LIMIT 1) "
	    "RETURNING j.id, j.run_id, j.job_key, j.name, j.matrix::text, "
	    "kiln_job_context(j.id)::text AS context, j.continue_on_error, "
	    "j.timeout_minutes, j.strategy::text AS strategy, "
	    "j.labels <@ ARRAY(SELECT jsonb_array_elements_text($2::jsonb)) "
	    "AS labels_ok, "
	    "j.concurrency_group IS NOT NULL AND kiln_job_superseded(j.id) "
	    "AS superseded, j.concurrency_group, coalesce("
	    "j.max_parallel::text, j.concurrency_group) AS limited, "
	    "j.matrix_deferred), "
	    "s AS (UPDATE runs SET status = 'in_progress', "
	    "started_at = coalesce(started_at, now()) WHERE id = "
	    "(SELECT run_id FROM c WHERE limited IS NULL) AND "
	    "status = 'queued') "
	    "SELECT c.id, c.run_id, c.job_key, c.name, c.matrix, c.context, "
	    "c.continue_on_error, c.timeout_minutes, c.strategy, c.labels_ok, "
	    "c.superseded, c.concurrency_group, c.limited, c.matrix_deferred, "
	    "r.path, r.workflow_source, r.head_sha, r.head_branch, "
	    "r.ref, r.event, r.run_number, p.full_name, p.clone_url, "
	    "p.id, e.payload::text, r.run_attempt, (SELECT coalesce("
	    "jsonb_object_agg(v.name, v.value), '{}')::text FROM variables v "
	    "WHERE v.repository_id = p.id), r.callees::text, "
	    "EXISTS (SELECT 1 FROM jobs q WHERE q.status = 'queued' AND "
	    "q.id <> c.id) FROM c "
	    "JOIN runs r ON r.id = c.run_id "
	    "JOIN repositories p ON p.id = r.repository_id "
	    "JOIN events e ON e.id = r.event_id", WSTMT_CLAIM_JOB };

int
claim_job(struct worker *w, struct claimed_job *job)
{
	char idbuf[32], token[PROTO_TOKEN_LEN + 1];
	const char *params[4] = { w->name, w->labels, w->lease, token };
	unsigned char raw[PROTO_TOKEN_LEN / 2];
	PGresult *res;
	json_t *ctx;
	size_t i;
	int limited;

	memset(job, 0, sizeof *job);
	/* The log token: only its hash is stored (sql/013_faults4.sql). */
	if (random_bytes(raw, sizeof raw) == -1) {
		log_warn("random bytes for a log token");
		return -1;
	}
	for (i = 0; i < sizeof raw; i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	OPENSSL_cleanse(raw, sizeof raw);
	res = worker_exec_stmt(w, &claim_job_stmt, 4, params,
	    "claiming a job");
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	job->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	job->run_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	job->job_key = dup_or_null(res, 0, 2);
	job->name = dup_or_null(res, 0, 3);
	job->matrix = dup_or_null(res, 0, 4);
	ctx = json_loads(PQgetvalue(res, 0, 5), 0, NULL);
	job->needs = json_incref(json_object_get(ctx, "needs"));
	if (job->needs == NULL)
		job->needs = json_object();
	job->needs_success = json_is_true(json_object_get(ctx, "success"));
	job->needs_failure = json_is_true(json_object_get(ctx, "failure"));
	job->run_cancelled = json_is_true(json_object_get(ctx, "cancelled"));
	json_decref(ctx);
	job->continue_on_error = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
	job->timeout_minutes = strtod(PQgetvalue(res, 0, 7), NULL);
	job->strategy = dup_or_null(res, 0, 8);
	job->labels_ok = strcmp(PQgetvalue(res, 0, 9), "t") == 0;
	limited = !PQgetisnull(res, 0, 12);
	job->matrix_deferred = strcmp(PQgetvalue(res, 0, 13), "t") == 0;
	job->superseded = strcmp(PQgetvalue(res, 0, 10), "t") == 0;
	job->concurrency_group = dup_or_null(res, 0, 11);
	memcpy(job->log_token, token, sizeof job->log_token);
	OPENSSL_cleanse(token, sizeof token);
	job->path = dup_or_null(res, 0, 14);
	job->workflow_source = dup_or_null(res, 0, 15);
	job->head_sha = dup_or_null(res, 0, 16);
	job->head_branch = dup_or_null(res, 0, 17);
	job->ref = dup_or_null(res, 0, 18);
	job->event = dup_or_null(res, 0, 19);
	job->run_number = strtoll(PQgetvalue(res, 0, 20), NULL, 10);
	job->repo_name = dup_or_null(res, 0, 21);
	job->clone_url = dup_or_null(res, 0, 22);
	job->repository_id = strtoll(PQgetvalue(res, 0, 23), NULL, 10);
	job->payload = dup_or_null(res, 0, 24);
	job->run_attempt = strtoll(PQgetvalue(res, 0, 25), NULL, 10);
	job->variables = dup_or_null(res, 0, 26);
	job->callees = PQgetisnull(res, 0, 27) ? json_object() :
	    json_loads(PQgetvalue(res, 0, 27), 0, NULL);
	if (job->callees == NULL)
		job->callees = json_object();
	job->more_queued = strcmp(PQgetvalue(res, 0, 28), "t") == 0;
	PQclear(res);
	if (!limited)
		return 1;
	if (claim_conflict(w, job)) {
		claimed_job_free(job);
		return 0;
	}
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)job->run_id);
	params[0] = idbuf;
	PQclear(worker_exec(w, "UPDATE runs SET status = 'in_progress', "
	    "started_at = coalesce(started_at, now()) WHERE id = $1::bigint "
	    "AND status = 'queued'", 1, params, "starting the job's run"));
	return 1;
}

void
claimed_job_free(struct claimed_job *job)
{
	free(job->job_key);
	free(job->name);
	free(job->matrix);
	json_decref(job->needs);
	free(job->strategy);
	free(job->concurrency_group);
	free(job->path);
	free(job->workflow_source);
	json_decref(job->callees);
	free(job->head_sha);
	free(job->head_branch);
	free(job->ref);
	free(job->event);
	free(job->repo_name);
	free(job->clone_url);
	free(job->payload);
	free(job->variables);
	memset(job, 0, sizeof *job);
}

/*
 * Asynchronous commit: a renewal lost in a crash leaves the previous
 * lease_until, still most of a lease ahead; the next renewal (a
 * second later) or any durable commit replaces it.
 */
static const struct worker_stmt claim_renew_stmt = { "kiln_renew",
	"UPDATE jobs SET lease_until = now() + $3::int * interval '1 second' "
	"WHERE id = $1::bigint AND worker = $2 AND " SQL_ASYNC_COMMIT " "
	"RETURNING cancel_requested OR status = 'completed' OR "
	"(concurrency_group IS NOT NULL AND kiln_job_preempted(id))",
	WSTMT_RENEW };

int
claim_renew(struct worker *w, int64_t job_id)
{
	char idbuf[32];
	const char *params[3] = { idbuf, w->name, w->lease };
	PGresult *res;
	int cancel;

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)job_id);
	res = worker_exec_stmt(w, &claim_renew_stmt, 3, params,
	    "renewing the job lease");
	if (res == NULL)
		return -1;
	/* No row: the job was taken from us (reaped); stop it. */
	cancel = PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return cancel;
}

int
claim_requeue(struct worker *w, int64_t job_id)
{
	char idbuf[32];
	const char *params[1] = { idbuf };
	PGresult *res;

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)job_id);
	res = worker_exec(w, "UPDATE jobs SET status = 'queued', if_checked = "
	    "true, worker = NULL, started_at = NULL, lease_until = NULL "
	    "WHERE id = $1::bigint AND status = 'in_progress'", 1, params,
	    "handing the job back");
	if (res == NULL)
		return -1;
	PQclear(res);
	PQclear(worker_exec(w, "SELECT pg_notify('kiln_work', 'job')", 0, NULL,
	    "notify"));
	return 0;
}

void
claim_register(struct worker *w)
{
	const char *params[2] = { w->name, w->labels };

	PQclear(worker_exec(w, "INSERT INTO workers (name, labels) VALUES "
	    "($1, ARRAY(SELECT jsonb_array_elements_text($2::jsonb))) "
	    "ON CONFLICT (name) DO UPDATE SET labels = EXCLUDED.labels, "
	    "last_seen = now()", 2, params, "registering the worker"));
}

int
worker_has_labels(const struct worker *w, const json_t *labels)
{
	json_t *mine = json_loads(w->labels, 0, NULL), *l, *m;
	size_t i, k;
	int ok = 1;

	json_array_foreach(labels, i, l) {
		json_array_foreach(mine, k, m)
			if (json_equal(l, m))
				break;
		if (k == json_array_size(mine)) {
			ok = 0;
			break;
		}
	}
	json_decref(mine);
	return ok;
}

char *
worker_mirror_dir(const struct worker *w, int64_t repository_id)
{
	return xasprintf("%s/mirrors/%lld.git", w->work_dir,
	    (long long)repository_id);
}

void
worker_mirror_fetched(struct worker *w, const char *dir)
{
	size_t i;

	for (i = 0; i < w->nuntidy; i++)
		if (strcmp(w->untidy[i], dir) == 0)
			return;
	/* More mirrors than that between two idle moments: tidy one now. */
	if (w->nuntidy == WORKER_UNTIDY_MAX) {
		mirror_tidy(w->untidy[0]);
		free(w->untidy[0]);
		memmove(w->untidy, w->untidy + 1, --w->nuntidy *
		    sizeof *w->untidy);
	}
	w->untidy[w->nuntidy++] = xstrdup(dir);
}

void
worker_tidy_mirrors(struct worker *w)
{
	while (w->nuntidy > 0) {
		w->nuntidy--;
		if (mirror_tidy(w->untidy[w->nuntidy]) == -1)
			log_warnx("%s: could not combine its packs; a fetch "
			    "will past %d", w->untidy[w->nuntidy],
			    MIRROR_PACK_FETCH_LIMIT);
		free(w->untidy[w->nuntidy]);
	}
}
