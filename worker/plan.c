/*
 * plan: turn one event into runs.  Fetch the repository's mirror, settle
 * the event's commit by its kind's ref rule (common/event.c), read the
 * workflow files at that commit straight from the object database, and
 * let the planner (common/planner.c, the same code as `cictl plan`)
 * decide which workflows run and the jobs of each.  This file only adds
 * what the planner leaves to its caller: git (changed paths, the head
 * commit's message, refs resolved to commits) and the database.
 *
 * Everything of one event goes in ONE transaction together with
 * completing the event, so a crash leaves either everything or nothing
 * (and the event is planned again).  A run's jobs and their steps are one
 * statement (kiln_insert_jobs, sql/003_planner.sql), whatever the matrix.
 *
 * A workflow that does not parse or validate becomes a failed run whose
 * message lists every error as file:line:col -- never a silent skip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <errno.h>

#include "actions.h"
#include "dispatch.h"
#include "event.h"
#include "log.h"
#include "mirror.h"
#include "planner.h"
#include "reusable.h"
#include "trigger.h"
#include "util.h"
#include "worker.h"
#include "workflow.h"

/* Lazily computed changed-path list, shared by every workflow of a push. */
struct plan_paths {
	int	  computed;
	int	  unknown;	/* could not be computed: filters pass */
	char	**v;
	size_t	  n;
};

struct plan {
	struct worker			*w;
	const struct claimed_event	*cev;
	struct event			 ev;
	char				*mirror;
	json_t				*payload;
	char				*head_message;	/* pull_request */
	struct plan_paths		 paths;
	int				 nruns;
	/* An event made for one file (schedule, workflow_dispatch): */
	int				 target_seen;	/* it exists */
	char				*target_error;	/* why it made no run */
	/* A push to the default branch: its cron lines, [{path, cron}]. */
	json_t				*schedules;
	/* EVENT_SCHEDULES_SYNC: record the cron lines, plan no run. */
	int				 sync_only;
};

static const char *
plan_short_ref(const char *ref)
{
	if (ref == NULL)
		return NULL;
	if (str_has_prefix(ref, "refs/heads/"))
		return ref + strlen("refs/heads/");
	if (str_has_prefix(ref, "refs/tags/"))
		return ref + strlen("refs/tags/");
	return ref;
}

static void
plan_compute_paths(struct plan *p)
{
	const struct claimed_event *ev = p->cev;
	char base[41], err[512], *ref;
	const char *before = ev->before_sha;

	if (p->paths.computed)
		return;
	p->paths.computed = 1;
	if (p->ev.kind != NULL && p->ev.kind->filter == EVENT_FILTER_PULL) {
		/* Three-dot: merge-base(base, head)...head (reference 2.4). */
		const char *bsha = p->ev.base_sha, *hsha = p->ev.head_sha;

		if (bsha != NULL && hsha != NULL && mirror_merge_base(p->mirror,
		    bsha, hsha, base, err, sizeof err) == 0 &&
		    mirror_changed_paths(p->mirror, base, hsha, &p->paths.v,
		    &p->paths.n, err, sizeof err) == 0)
			return;
		log_warnx("event %lld: pull request diff: %s; path filters will "
		    "pass", (long long)ev->id, bsha && hsha ? err :
		    "payload lacks base/head sha");
		p->paths.unknown = 1;
		return;
	}
	if (before != NULL && strcmp(before, MIRROR_ZERO_SHA) != 0) {
		if (mirror_changed_paths(p->mirror, before, ev->sha,
		    &p->paths.v, &p->paths.n, err, sizeof err) == 0)
			return;
		log_warnx("event %lld: changed paths %.12s..%.12s: %s; path "
		    "filters will pass", (long long)ev->id, before, ev->sha,
		    err);
		p->paths.unknown = 1;
		return;
	}
	/*
	 * A new ref: compare with where it leaves the default branch.  A new
	 * branch at a commit the default branch already has changed nothing.
	 * The default branch itself being created (a first push), or a
	 * history unrelated to it: every file of the commit is new.
	 */
	ref = xasprintf("refs/heads/%s", ev->default_branch ?
	    ev->default_branch : "main");
	if (strcmp(ref, ev->ref) != 0 && mirror_merge_base(p->mirror, ref,
	    ev->sha, base, err, sizeof err) == 0) {
		free(ref);
		if (strcmp(base, ev->sha) == 0)
			return;		/* no changed files */
		if (mirror_changed_paths(p->mirror, base, ev->sha, &p->paths.v,
		    &p->paths.n, err, sizeof err) == 0)
			return;
	} else {
		free(ref);
		if (mirror_changed_paths(p->mirror, NULL, ev->sha, &p->paths.v,
		    &p->paths.n, err, sizeof err) == 0)
			return;
	}
	log_warnx("event %lld: changed paths: %s; path filters will pass",
	    (long long)ev->id, err);
	p->paths.unknown = 1;
}

/* planner_paths_fn: the diff, computed on the first workflow asking. */
static int
plan_paths_cb(void *arg, const char *const **paths, size_t *n)
{
	struct plan *p = arg;

	plan_compute_paths(p);
	if (p->paths.unknown)
		return -1;
	*paths = (const char *const *)p->paths.v;
	*n = p->paths.n;
	return 0;
}

/*
 * The statements of every plan, prepared (worker_exec_stmt).  Run numbers
 * count per workflow file, from its row in run_counters
 * (sql/010_perf.sql): the row's lock makes planners of one file take turns
 * until commit, and the number costs one index probe whatever the file's
 * history.
 */
static const struct worker_stmt plan_run_stmt = { "kiln_plan_run",
	    "WITH n AS (INSERT INTO run_counters (repository_id, path, "
	    "last_number) VALUES ($2::bigint, $4, 1) ON CONFLICT (repository_id, "
	    "path) DO UPDATE SET last_number = run_counters.last_number + 1 "
	    "RETURNING last_number) "
	    "INSERT INTO runs (event_id, repository_id, run_number, name, path, "
	    "event, head_sha, head_branch, ref, workflow_source, message, "
	    "display_title, status, conclusion, started_at, completed_at) "
	    "VALUES ($1::bigint, $2::bigint, (SELECT last_number FROM n), "
	    "$3, $4, $5, $6, $7, $8, $9, $10::text, $11, "
	    "CASE WHEN $10::text IS NULL THEN 'queued' ELSE 'completed' END, "
	    "CASE WHEN $10::text IS NULL THEN NULL ELSE 'failure' END, "
	    "CASE WHEN $10::text IS NULL THEN NULL ELSE now() END, "
	    "CASE WHEN $10::text IS NULL THEN NULL ELSE now() END) "
	    "RETURNING id, run_number", WSTMT_PLAN_RUN };
static const struct worker_stmt plan_title_stmt = { "kiln_plan_title",
	    "UPDATE runs SET display_title = $2 WHERE id = $1::bigint",
	    WSTMT_PLAN_TITLE };
static const struct worker_stmt plan_jobs_stmt = { "kiln_plan_jobs",
	    "SELECT kiln_insert_jobs($1::bigint, $2::jsonb, false)",
	    WSTMT_PLAN_JOBS };
static const struct worker_stmt plan_release_stmt = { "kiln_plan_release",
	    "SELECT kiln_release($1::bigint)", WSTMT_PLAN_RELEASE };
static const struct worker_stmt plan_schedules_stmt = {
	    "kiln_plan_schedules", "SELECT kiln_schedules_set($1::bigint, "
	    "$2::bigint, $3, $4::jsonb)", WSTMT_PLAN_SCHEDULES };
/*
 * Completing the event commits the plan without waiting for the WAL
 * flush (SQL_ASYNC_COMMIT): the event row itself was committed durably
 * before its webhook was answered, so a PostgreSQL crash that loses the
 * plan leaves the event claimed, and once its lease ends it is planned
 * again.  Nothing durable can depend on a lost plan: claiming one of its
 * jobs is a synchronous commit, which flushes the plan before it.
 */
static const struct worker_stmt plan_finish_stmt = { "kiln_plan_finish",
	    "UPDATE events SET status = 'completed', completed_at = now(), "
	    "lease_until = NULL, error = $2 WHERE id = $1::bigint AND "
	    "claimed_by = $3 AND status = 'in_progress' AND "
	    SQL_ASYNC_COMMIT, WSTMT_PLAN_FINISH };

static PGresult *
plan_exec(struct plan *p, const char *sql, int n, const char *const *params,
    const char *what)
{
	return worker_exec(p->w, sql, n, params, what);
}

/*
 * Insert one run; message non-NULL makes it a completed, failed run.
 * *run_number receives its number (counted per workflow file).
 */
static int
plan_insert_run(struct plan *p, const char *path, const char *name,
    const char *title, const char *source, const char *message,
    int64_t *run_id, int64_t *run_number)
{
	const struct claimed_event *ev = p->cev;
	char evid[32], repoid[32];
	const char *params[11];
	PGresult *res;

	snprintf(evid, sizeof evid, "%lld", (long long)ev->id);
	snprintf(repoid, sizeof repoid, "%lld", (long long)ev->repository_id);
	params[0] = evid;
	params[1] = repoid;
	params[2] = name;
	params[3] = path;
	params[4] = ev->event;
	params[5] = ev->sha;
	params[6] = plan_short_ref(ev->ref);
	params[7] = ev->ref;
	params[8] = source;
	params[9] = message;
	params[10] = title != NULL ? title : name;
	res = worker_exec_stmt(p->w, &plan_run_stmt, 11, params,
	    "inserting a run");
	if (res == NULL)
		return -1;
	*run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (run_number != NULL)
		*run_number = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	p->nruns++;
	return 0;
}

json_t *
plan_job_json(const struct plan_job *pj)
{
	const struct wf_job *job = pj->def;
	json_t *o, *needs = json_array(), *steps = json_array();
	size_t i;

	for (i = 0; i < job->nneeds; i++)
		json_array_append_new(needs, json_string(job->needs[i]));
	for (i = 0; i < job->nsteps; i++)
		json_array_append_new(steps, json_string(job->steps[i].name));
	o = json_pack("{s:s, s:s, s:o, s:O, s:O, s:O, s:b, s:b, s:f, s:o, "
	    "s:o, s:b, s:b, s:o, s:o}",
	    "job_key", job->id,
	    "name", pj->name,
	    "needs", needs,
	    "matrix", pj->matrix != NULL ? pj->matrix : json_null(),
	    "strategy", pj->strategy,
	    "labels", pj->labels,
	    "continue_on_error", pj->continue_on_error,
	    "fail_fast", pj->fail_fast,
	    "timeout_minutes", pj->timeout_minutes,
	    "max_parallel", pj->max_parallel > 0 ?
	    json_integer(pj->max_parallel) : json_null(),
	    "concurrency_group", pj->group != NULL ? json_string(pj->group) :
	    json_null(),
	    "cancel_in_progress", pj->cancel_in_progress,
	    "matrix_deferred", pj->deferred,
	    "message", pj->message != NULL ? json_string(pj->message) :
	    json_null(),
	    "steps", steps);
	return o;
}

/* All job rows of a run, and their steps: one statement. */
static int
plan_insert_jobs(struct plan *p, int64_t run_id, const struct plan_run *run)
{
	const char *params[2];
	char runid[32], *text;
	json_t *arr = json_array();
	PGresult *res;
	size_t i;

	for (i = 0; i < run->njobs; i++)
		json_array_append_new(arr, plan_job_json(&run->jobs[i]));
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (text == NULL)
		return -1;
	snprintf(runid, sizeof runid, "%lld", (long long)run_id);
	params[0] = runid;
	params[1] = text;
	res = worker_exec_stmt(p->w, &plan_jobs_stmt, 2, params,
	    "inserting the jobs");
	free(text);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* Enter the run's concurrency group. */
static int
plan_concurrency(struct plan *p, int64_t run_id, const struct plan_run *run)
{
	char runid[32];
	const char *params[3];
	PGresult *res;

	if (run->group_error != NULL)
		log_warnx("run %lld: concurrency: %s (ignored)",
		    (long long)run_id, run->group_error);
	if (run->group == NULL)
		return 0;
	snprintf(runid, sizeof runid, "%lld", (long long)run_id);
	params[0] = runid;
	params[1] = run->group;
	params[2] = run->cancel_in_progress ? "true" : "false";
	res = plan_exec(p, "UPDATE runs SET concurrency_group = $2, "
	    "cancel_in_progress = $3::boolean WHERE id = $1::bigint", 3,
	    params, "setting the concurrency group");
	if (res == NULL)
		return -1;
	PQclear(res);
	res = plan_exec(p, "SELECT kiln_concurrency_admit($1::bigint)", 1,
	    params, "entering the concurrency group");
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* The called workflows' text, with the run (none: nothing stored). */
static int
plan_pin_callees(struct plan *p, int64_t run_id, const json_t *pinned)
{
	char idbuf[32], *text;
	const char *params[2] = { idbuf, NULL };
	PGresult *res;

	if (json_object_size(pinned) == 0)
		return 0;
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)run_id);
	if ((text = json_dumps(pinned, JSON_COMPACT)) == NULL)
		return -1;
	params[1] = text;
	res = plan_exec(p, "UPDATE runs SET callees = $2::jsonb WHERE id = "
	    "$1::bigint", 2, params, "pinning the called workflows");
	free(text);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* Store the planned run's jobs, group and title, and release it. */
static int
plan_store(struct plan *p, const struct workflow *wf, int64_t run_id,
    const struct plan_run *run)
{
	char idbuf[32], delivery[160], repo[256], path[400];
	const char *params[2] = { idbuf, run->title };
	PGresult *res;

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)run_id);
	if ((res = worker_exec_stmt(p->w, &plan_title_stmt, 2, params,
	    "setting the run's title")) == NULL)
		return -1;
	PQclear(res);
	/* kiln_release: dependants of jobs that failed up front. */
	if (plan_insert_jobs(p, run_id, run) == -1 ||
	    plan_concurrency(p, run_id, run) == -1 ||
	    (res = worker_exec_stmt(p->w, &plan_release_stmt, 1, params,
	    "releasing jobs")) == NULL)
		return -1;
	PQclear(res);
	log_info("run created: run=%lld event_id=%lld delivery=%s repo=%s "
	    "workflow=%s jobs=%zu", (long long)run_id, (long long)p->cev->id,
	    log_kv(p->cev->delivery != NULL ? p->cev->delivery : "-", 100,
	    delivery, sizeof delivery), log_kv(p->cev->repo_name, 200, repo,
	    sizeof repo), log_kv(wf->path, 300, path, sizeof path),
	    run->njobs);
	return 0;
}

/* Loading called workflows; what was read is pinned with the run. */
struct plan_callees {
	struct plan	*p;
	json_t		*pinned;	/* runs.callees (sql/020_reusable.sql) */
};

/*
 * A called workflow: of this repository at the event's commit, or of
 * another fetched as remote actions are ([actions] base_url, allow).
 */
static char *
plan_load_callee(void *arg, const char *key, char sha[41], char *err,
    size_t errsz)
{
	struct plan_callees *pc = arg;
	struct worker *w = pc->p->w;
	struct action_ref r;
	char *data = NULL, *dir, *path, why[512];
	size_t len;
	int cached;

	if (str_has_prefix(key, "./")) {
		if (mirror_read_file(pc->p->mirror, pc->p->cev->sha, key + 2,
		    WF_MAX_FILE_SIZE, &data, &len, why, sizeof why) == -1) {
			if (errno == ENOENT)
				snprintf(err, errsz, "no file %s at %.12s",
				    key + 2, pc->p->cev->sha);
			else
				snprintf(err, errsz, "%s", why);
			return NULL;
		}
		snprintf(sha, 41, "%s", pc->p->cev->sha);
	} else {
		if (action_ref_parse(key, &r, err, errsz) == -1)
			return NULL;
		if (!action_allowed(w->actions_allow, &r)) {
			snprintf(err, errsz, "not allowed here: no pattern of "
			    "[actions] allow (%s) matches it", w->actions_allow);
			action_ref_free(&r);
			return NULL;
		}
		dir = action_fetch(w->work_dir, w->actions_base_url, &r, sha,
		    &cached, err, errsz);
		if (dir != NULL) {
			path = xasprintf("%s/%s", dir, r.path);
			if ((data = file_read_all(path, WF_MAX_FILE_SIZE,
			    &len)) == NULL)
				snprintf(err, errsz, "no file %s in %s/%s at "
				    "%.12s (%s)", r.path, r.owner, r.repo, sha,
				    strerror(errno));
			free(path);
			free(dir);
		}
		action_ref_free(&r);
		if (data == NULL)
			return NULL;
	}
	json_object_set_new(pc->pinned, key, json_pack("{s:s, s:s%}", "sha",
	    sha, "source", data, len));
	return data;
}

static int
plan_workflow(struct plan *p, const struct mirror_file *f)
{
	struct wf_errors errs = { 0 };
	struct reusable_set calls = { 0 };
	struct plan_callees pc = { 0 };
	struct plan_run run;
	struct workflow *wf;
	char *reason = NULL, *msg, why[2048];
	int64_t run_id, run_number;
	int rc = 0;

	/*
	 * A schedules sync (repo add, a new default branch) reads every
	 * valid workflow's cron lines and plans nothing: an invalid file
	 * shows up as a failed run at the branch's next push, not here.
	 */
	if (p->sync_only) {
		wf = f->data != NULL ? workflow_parse(f->path, f->data, f->len,
		    &errs) : NULL;
		if (wf != NULL && errs.n == 0)
			for (size_t i = 0; i < wf->on.nschedules; i++)
				if (wf->on.schedules[i].cron != NULL &&
				    wf->on.schedules[i].timezone == NULL)
					json_array_append_new(p->schedules,
					    json_pack("{s:s, s:s}", "path",
					    f->path, "cron",
					    wf->on.schedules[i].cron));
		wf_errors_free(&errs);
		workflow_free(wf);
		return 0;
	}
	/* Events made for one file plan only that file. */
	if (p->ev.workflow != NULL) {
		if (!trigger_same_file(f->path, p->ev.workflow))
			return 0;
		p->target_seen = 1;
	}
	if (f->data == NULL) {
		/* Unreadable (too large): visible as a failed run. */
		msg = xasprintf("%s: %s", f->path, f->error ? f->error :
		    "cannot be read");
		rc = plan_insert_run(p, f->path, f->path, NULL, "", msg,
		    &run_id, NULL);
		free(msg);
		return rc;
	}
	wf = workflow_parse(f->path, f->data, f->len, &errs);
	if (wf == NULL || errs.n > 0) {
		msg = wf_errors_format(&errs);
		log_info("event %lld: %s is invalid", (long long)p->cev->id,
		    f->path);
		rc = plan_insert_run(p, f->path, wf && wf->name_set ? wf->name :
		    f->path, NULL, f->data, msg, &run_id, NULL);
		free(msg);
		goto out;
	}
	/* A line with a timezone never fires (common/support.c says why). */
	if (p->schedules != NULL)
		for (size_t i = 0; i < wf->on.nschedules; i++)
			if (wf->on.schedules[i].cron != NULL &&
			    wf->on.schedules[i].timezone == NULL)
				json_array_append_new(p->schedules, json_pack(
				    "{s:s, s:s}", "path", f->path, "cron",
				    wf->on.schedules[i].cron));
	if (p->ev.kind != NULL && p->ev.kind->filter ==
	    EVENT_FILTER_DISPATCH && p->ev.workflow != NULL) {
		char err[1024];

		/* A bad dispatch is refused, naming why; nothing runs. */
		if (dispatch_check(wf, json_object_get(p->payload, "inputs"),
		    err, sizeof err) == -1) {
			log_info("event %lld: dispatch refused: %s",
			    (long long)p->cev->id, err);
			p->target_error = xstrdup(err);
			goto out;
		}
	}
	if (!planner_triggered(wf, &p->ev, plan_paths_cb, p, &reason)) {
		log_debug("event %lld: %s not triggered: %s",
		    (long long)p->cev->id, f->path, reason ? reason : "");
		if (p->ev.workflow != NULL && p->target_error == NULL)
			p->target_error = xasprintf("%s: %s", f->path,
			    reason ? reason : "not triggered");
		goto out;
	}
	pc.p = p;
	pc.pinned = json_object();
	if (reusable_expand(wf, p->cev->repo_name, p->cev->sha,
	    plan_load_callee, &pc, &calls, why, sizeof why) == -1) {
		/* A call that cannot be made fails the run, naming it. */
		msg = xasprintf("%s: %s", f->path, why);
		log_info("event %lld: %s", (long long)p->cev->id, msg);
		rc = plan_insert_run(p, f->path, wf->name, NULL, f->data, msg,
		    &run_id, NULL);
		free(msg);
		goto out;
	}
	if (plan_insert_run(p, f->path, wf->name, NULL, f->data, NULL,
	    &run_id, &run_number) == -1 || plan_pin_callees(p, run_id,
	    pc.pinned) == -1) {
		rc = -1;
		goto out;
	}
	planner_plan(wf, &p->ev, run_id, run_number, &run);
	rc = plan_store(p, wf, run_id, &run);
	planner_run_free(&run);
out:
	free(reason);
	wf_errors_free(&errs);
	workflow_free(wf);
	reusable_set_free(&calls);
	json_decref(pc.pinned);
	return rc;
}

/*
 * Plan one file inside a savepoint: if the database refuses something
 * about it (a value out of a column's range, say), only that workflow
 * fails, visibly, and the event's other workflows still run.  -1 only
 * when even the failed run cannot be recorded.
 */
static int
plan_file(struct plan *p, const struct mirror_file *f)
{
	char dberr[512], *msg;
	int64_t run_id;
	PGresult *res;

	if ((res = plan_exec(p, "SAVEPOINT plan_file", 0, NULL,
	    "savepoint")) == NULL)
		return -1;
	PQclear(res);
	if (plan_workflow(p, f) == 0) {
		PQclear(plan_exec(p, "RELEASE SAVEPOINT plan_file", 0, NULL,
		    "release savepoint"));
		return 0;
	}
	snprintf(dberr, sizeof dberr, "%s", PQerrorMessage(p->w->db));
	dberr[strcspn(dberr, "\n")] = '\0';
	if ((res = plan_exec(p, "ROLLBACK TO SAVEPOINT plan_file", 0, NULL,
	    "rollback to savepoint")) == NULL)
		return -1;
	PQclear(res);
	msg = xasprintf("%s: kiln could not plan this workflow: %s", f->path,
	    dberr[0] ? dberr : "database error");
	if (plan_insert_run(p, f->path, f->path, NULL, f->data ? f->data : "",
	    msg, &run_id, NULL) == -1) {
		free(msg);
		return -1;
	}
	free(msg);
	return 0;
}

/* Replace the repository's schedules with the cron lines just read. */
static int
plan_record_schedules(struct plan *p)
{
	char repoid[32], evid[32], *lines;
	const char *params[4];
	PGresult *res;

	snprintf(repoid, sizeof repoid, "%lld",
	    (long long)p->cev->repository_id);
	snprintf(evid, sizeof evid, "%lld", (long long)p->cev->id);
	lines = json_dumps(p->schedules, JSON_COMPACT);
	params[0] = repoid;
	params[1] = evid;
	params[2] = p->cev->sha;
	params[3] = lines;
	res = worker_exec_stmt(p->w, &plan_schedules_stmt, 4, params,
	    "recording the schedules");
	free(lines);
	if (res == NULL)
		return -1;
	PQclear(res);
	if (json_array_size(p->schedules) > 0)
		log_info("event %lld: %zu schedule(s) of %s recorded",
		    (long long)p->cev->id, json_array_size(p->schedules),
		    p->cev->repo_name);
	return 0;
}

/*
 * Complete the event.  Only while it is still ours: a worker whose lease
 * expired mid-plan (the reaper gave the event to another) must not commit
 * a second set of runs.  Returns 1 if it was ours, 0 if not, -1 on error.
 */
static int
plan_finish_event(struct worker *w, int64_t id, const char *error)
{
	char idbuf[32];
	const char *params[3] = { idbuf, error, w->name };
	PGresult *res;
	int mine;

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	res = worker_exec_stmt(w, &plan_finish_stmt, 3, params,
	    "completing the event");
	if (res == NULL)
		return -1;
	mine = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	return mine;
}

/*
 * Give the event back to the queue, not to be claimed again before a
 * backoff (30 s per attempt so far); after three attempts, give up on it
 * and keep the reason.
 */
static void
plan_retry_event(struct worker *w, int64_t id, const char *error)
{
	char idbuf[32];
	const char *params[3] = { idbuf, error, w->name };

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	PQclear(worker_exec(w, "UPDATE events SET status = CASE WHEN "
	    "attempts >= 3 THEN 'completed' ELSE 'queued' END, error = $2, "
	    "claimed_by = NULL, lease_until = CASE WHEN attempts >= 3 THEN NULL "
	    "ELSE now() + interval '30 seconds' * attempts END, "
	    "completed_at = CASE WHEN attempts >= 3 THEN now() END "
	    "WHERE id = $1::bigint AND claimed_by = $3", 3, params,
	    "re-queueing the event"));
}

/*
 * An event whose commit its payload did not name: resolve its ref in the
 * mirror, as its kind's ref rule says -- GitHub's test merge
 * refs/pull/N/merge for a pull request (none: GitHub could not merge, a
 * conflict, and like GitHub nothing runs), the base branch's latest
 * commit for pull_request_target.
 */
static int
plan_resolve_ref(struct worker *w, struct claimed_event *ev,
    const struct event_kind *kind, const char *mirror, char *err,
    size_t errsz)
{
	char idbuf[32], sha[41];
	const char *params[2] = { idbuf, sha };

	if (ev->ref == NULL || mirror_resolve(mirror, ev->ref, sha, err,
	    errsz) == -1) {
		if (kind != NULL && kind->ref_rule == EVENT_REF_PR_MERGE)
			snprintf(err, errsz, "no test merge commit %s for the "
			    "pull request (merge conflict?): nothing to run",
			    ev->ref ? ev->ref : "(no ref)");
		else
			snprintf(err, errsz, "%s does not exist in the "
			    "repository: nothing to run", ev->ref ? ev->ref :
			    "(no ref)");
		return -1;
	}
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)ev->id);
	PQclear(worker_exec(w, "UPDATE events SET sha = $2 WHERE id = "
	    "$1::bigint", 2, params, "recording the event's commit"));
	ev->sha = xstrdup(sha);
	return 0;
}

/*
 * pull_request_target runs the base branch, whatever an older intake
 * stored for it (a merge ref and its commit): the ref is re-derived from
 * the payload by the ref rule, and the commit resolved below, unless the
 * event already records a commit of that branch (a retry).
 */
static void
plan_settle_ref(struct worker *w, struct claimed_event *ev, json_t *payload)
{
	const struct event_kind *kind = event_kind_find(ev->event);
	char idbuf[32], *ref, *sha, err[256];
	const char *params[2] = { idbuf, NULL };

	if (kind == NULL || kind->ref_rule != EVENT_REF_PR_BASE ||
	    (ev->ref != NULL && str_has_prefix(ev->ref, "refs/heads/")))
		return;
	if (event_ref(kind, payload, ev->default_branch, &ref, &sha, err,
	    sizeof err) == -1) {
		log_warnx("event %lld: %s", (long long)ev->id, err);
		return;
	}
	free(sha);
	free(ev->ref);
	free(ev->sha);
	ev->ref = ref;
	ev->sha = NULL;
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)ev->id);
	params[1] = ref;
	PQclear(worker_exec(w, "UPDATE events SET ref = $2, sha = NULL WHERE "
	    "id = $1::bigint", 2, params, "recording the event's ref"));
}

/* The event as the planner reads it; the head message from git. */
static void
plan_read_event(struct plan *p)
{
	struct claimed_event *cev = (struct claimed_event *)p->cev;
	char err[256];

	event_read(&p->ev, cev->event, p->payload);
	p->ev.ref = cev->ref;
	p->ev.sha = cev->sha;
	p->ev.before = cev->before_sha;
	p->ev.repo_name = cev->repo_name;
	/* A pull request's webhook lacks its head commit's message. */
	if (p->ev.kind != NULL && p->ev.kind->skip_markers &&
	    p->ev.kind->filter == EVENT_FILTER_PULL && p->ev.head_sha != NULL) {
		p->head_message = mirror_commit_message(p->mirror,
		    p->ev.head_sha, err, sizeof err);
		if (p->head_message == NULL)
			log_warnx("event %lld: head commit %.12s: %s",
			    (long long)cev->id, p->ev.head_sha, err);
		p->ev.head_message = p->head_message;
	}
}

int
plan_event(struct worker *w, struct claimed_event *ev)
{
	struct mirror_file *files = NULL;
	struct jobtoken_fetch ft = { 0 };
	struct mirror_auth auth;
	size_t nfiles = 0, i;
	const struct event_kind *kind;
	struct plan p;
	char err[1024], kv[3][400];
	PGresult *res;
	int rc = -1, fetched;

	memset(&p, 0, sizeof p);
	p.w = w;
	p.cev = ev;
	p.mirror = worker_mirror_dir(w, ev->repository_id);
	p.payload = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
	if (!json_is_object(p.payload)) {
		json_decref(p.payload);
		p.payload = json_object();
	}

	/*
	 * A push whose commit an earlier fetch brought already (pushes made
	 * in a burst, a branch and a tag of one commit) is planned without
	 * fetching: planning reads only what that commit names, and a job's
	 * checkout, too, fetches only a commit the mirror lacks.  Events
	 * that read refs always fetch: a push creating a branch or tag (its
	 * changed paths start where it leaves the default branch) and the
	 * other kinds (the default branch, a pull request's head).
	 */
	kind = event_kind_find(ev->event);
	if (kind != NULL && kind->filter == EVENT_FILTER_PUSH &&
	    ev->sha != NULL && ev->before_sha != NULL &&
	    strcmp(ev->before_sha, MIRROR_ZERO_SHA) != 0 &&
	    mirror_has_commit(p.mirror, ev->sha))
		fetched = 0;
	else {
		/* Both can be passing: the network, GitHub's test merge not
		 * yet made.  A private repository's server asks: a read-only
		 * App token. */
		ft.w = w;
		ft.repository_id = ev->repository_id;
		ft.repo_name = ev->repo_name;
		auth.token = jobtoken_fetch_cb;
		auth.arg = &ft;
		fetched = mirror_fetch_auth(p.mirror, ev->clone_url, &auth,
		    err, sizeof err);
		jobtoken_fetch_done(&ft);
		if (fetched == 0)
			worker_mirror_fetched(w, p.mirror);
	}
	if (fetched == -1) {
		log_warnx("event %lld: fetching %s: %s (will retry)",
		    (long long)ev->id, ev->clone_url, err);
		plan_retry_event(w, ev->id, err);
		goto out;
	}
	plan_settle_ref(w, ev, p.payload);
	p.sync_only = strcmp(ev->event, EVENT_SCHEDULES_SYNC) == 0;
	/* A sync reads the default branch's tip, as a schedule does. */
	if (ev->sha == NULL && plan_resolve_ref(w, ev,
	    event_kind_find(p.sync_only ? "schedule" : ev->event), p.mirror,
	    err, sizeof err) == -1) {
		log_info("event %lld: %s", (long long)ev->id, err);
		/* An empty repository: its first push records them. */
		if (p.sync_only)
			plan_finish_event(w, ev->id, err);
		else
			plan_retry_event(w, ev->id, err);
		goto out;
	}
	plan_read_event(&p);
	if (mirror_read_workflows(p.mirror, ev->sha, &files,
	    &nfiles, err, sizeof err) == -1) {
		log_warnx("event %lld: reading workflows at %s: %s",
		    (long long)ev->id, ev->sha ? ev->sha : "(none)", err);
		plan_finish_event(w, ev->id, err);
		goto out;
	}

	/* The default branch's workflows say what the schedules are. */
	if (p.sync_only || (p.ev.kind != NULL &&
	    p.ev.kind->filter == EVENT_FILTER_PUSH &&
	    ev->ref != NULL && ev->default_branch != NULL &&
	    str_has_prefix(ev->ref, "refs/heads/") &&
	    strcmp(ev->ref + 11, ev->default_branch) == 0))
		p.schedules = json_array();
	if ((res = worker_exec(w, "BEGIN", 0, NULL, "BEGIN")) == NULL)
		goto out;
	PQclear(res);
	for (i = 0; i < nfiles; i++)
		if (plan_file(&p, &files[i]) == -1)
			break;
	if (i == nfiles && p.schedules != NULL && plan_record_schedules(&p) ==
	    -1)
		i = 0;
	if (i < nfiles) {
		PQclear(PQexec(w->db, "ROLLBACK"));
		plan_retry_event(w, ev->id, "database error while planning");
		goto out;
	}
	if (p.ev.workflow != NULL && !p.target_seen)
		p.target_error = xasprintf("no workflow file %s at %s (%.12s)",
		    p.ev.workflow, ev->ref ? ev->ref : "", ev->sha);
	if (plan_finish_event(w, ev->id, p.target_error) != 1) {
		log_warnx("event %lld: no longer ours (lease expired); "
		    "dropping this plan", (long long)ev->id);
		PQclear(PQexec(w->db, "ROLLBACK"));
		goto out;
	}
	/* A plan that made no run (filters, a sync) queued nothing. */
	if (p.nruns > 0)
		PQclear(worker_exec(w, "SELECT pg_notify('kiln_work', 'job')",
		    0, NULL, "notify"));
	if ((res = worker_exec(w, "COMMIT", 0, NULL, "COMMIT")) == NULL)
		goto out;
	PQclear(res);
	log_info("event planned: event_id=%lld delivery=%s event=%s ref=%s "
	    "runs=%d files=%zu", (long long)ev->id, log_kv(ev->delivery != NULL ?
	    ev->delivery : "-", 100, kv[0], sizeof kv[0]), log_kv(ev->event,
	    100, kv[1], sizeof kv[1]), log_kv(ev->ref != NULL ? ev->ref : "",
	    300, kv[2], sizeof kv[2]), p.nruns, nfiles);
	rc = 0;
out:
	mirror_files_free(files, nfiles);
	mirror_paths_free(p.paths.v, p.paths.n);
	json_decref(p.payload);
	free(p.head_message);
	free(p.target_error);
	json_decref(p.schedules);
	free(p.mirror);
	return rc;
}
