/*
 * plan: turn one event into runs.  Fetch the repository's mirror, read
 * the workflow files at the event's commit straight from the object
 * database, decide which workflows the event triggers, and insert each run
 * with its jobs and steps in ONE transaction together with completing the
 * event, so a crash leaves either everything or nothing (and the event is
 * planned again).
 *
 * A workflow that does not parse or validate becomes a failed run whose
 * message lists every error as file:line:col — never a silent skip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "matrix.h"
#include "mirror.h"
#include "trigger.h"
#include "util.h"
#include "worker.h"
#include "workflow.h"

#define ZERO_SHA "0000000000000000000000000000000000000000"

/* Lazily computed changed-path list, shared by every workflow of a push. */
struct plan_paths {
	int	  computed;
	int	  unknown;	/* could not be computed: filters pass */
	char	**v;
	size_t	  n;
};

struct plan {
	struct worker			*w;
	const struct claimed_event	*ev;
	char				*mirror;
	json_t				*payload;
	struct plan_paths		 paths;
	int				 nruns;
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

/* A PostgreSQL text[] literal: {"a","b"} with " and \ escaped. */
static char *
plan_text_array(char *const *v, size_t n)
{
	struct buf b = { 0 };
	size_t i;
	const char *p;

	buf_add_char(&b, '{');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_add_char(&b, ',');
		buf_add_char(&b, '"');
		for (p = v[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_add_char(&b, '\\');
			buf_add_char(&b, *p);
		}
		buf_add_char(&b, '"');
	}
	buf_add_char(&b, '}');
	return buf_steal(&b);
}

static void
plan_compute_paths(struct plan *p)
{
	const struct claimed_event *ev = p->ev;
	char base[41], err[512], *ref;
	const char *before = ev->before_sha;

	if (p->paths.computed)
		return;
	p->paths.computed = 1;
	if (before != NULL && strcmp(before, ZERO_SHA) != 0) {
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
	 * A new branch: compare with where it leaves the default branch.
	 * Without a default branch (first push), every file of the commit is
	 * new.
	 */
	ref = xasprintf("refs/heads/%s", ev->default_branch ?
	    ev->default_branch : "main");
	if (mirror_merge_base(p->mirror, ref, ev->sha, base, err,
	    sizeof err) == 0 && strcmp(base, ev->sha) != 0) {
		free(ref);
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

/* Only a path filter needs the (possibly costly) diff. */
static int
plan_needs_paths(const struct workflow *wf, const char *event)
{
	const struct wf_on_filter *f = NULL;

	if (strcmp(event, "push") == 0)
		f = &wf->on.push;
	else if (strcmp(event, "pull_request") == 0)
		f = &wf->on.pull_request;
	else if (strcmp(event, "pull_request_target") == 0)
		f = &wf->on.pull_request_target;
	return f != NULL && f->set && (f->paths.set || f->paths_ignore.set);
}

/* Does the event trigger wf?  1 yes, 0 no (reason set), from trigger.c. */
static int
plan_triggered(struct plan *p, const struct workflow *wf, char **reason)
{
	const struct claimed_event *ev = p->ev;
	struct trigger_event te;
	const char *msg = NULL, *action = NULL, *base_ref = NULL;
	json_t *v;

	memset(&te, 0, sizeof te);
	te.name = ev->event;
	te.ref = ev->ref;
	if ((v = json_object_get(p->payload, "head_commit")) != NULL)
		msg = json_string_value(json_object_get(v, "message"));
	action = json_string_value(json_object_get(p->payload, "action"));
	if ((v = json_object_get(p->payload, "pull_request")) != NULL) {
		base_ref = json_string_value(json_object_get(
		    json_object_get(v, "base"), "ref"));
		msg = json_string_value(json_object_get(v, "title"));
	}
	te.action = action;
	te.base_ref = base_ref;
	te.head_message = msg;
	if (plan_needs_paths(wf, ev->event)) {
		plan_compute_paths(p);
		te.paths = (const char *const *)p->paths.v;
		te.npaths = p->paths.n;
		te.paths_unknown = p->paths.unknown;
	}
	return trigger_match(wf, &te, reason);
}

static PGresult *
plan_exec(struct plan *p, const char *sql, int n, const char *const *params,
    const char *what)
{
	return worker_exec(p->w, sql, n, params, what);
}

/* Insert one run; message non-NULL makes it a completed, failed run. */
static int
plan_insert_run(struct plan *p, const char *path, const char *name,
    const char *source, const char *message, int64_t *run_id)
{
	const struct claimed_event *ev = p->ev;
	char evid[32], repoid[32];
	const char *params[10];
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
	res = plan_exec(p,
	    "INSERT INTO runs (event_id, repository_id, run_number, name, path, "
	    "event, head_sha, head_branch, ref, workflow_source, message, "
	    "status, conclusion, started_at, completed_at) VALUES "
	    "($1::bigint, $2::bigint, (SELECT coalesce(max(run_number), 0) + 1 "
	    "FROM runs WHERE repository_id = $2::bigint AND path = $4), "
	    "$3, $4, $5, $6, $7, $8, $9, $10::text, "
	    "CASE WHEN $10::text IS NULL THEN 'queued' ELSE 'completed' END, "
	    "CASE WHEN $10::text IS NULL THEN NULL ELSE 'failure' END, "
	    "CASE WHEN $10::text IS NULL THEN NULL ELSE now() END, "
	    "CASE WHEN $10::text IS NULL THEN NULL ELSE now() END) RETURNING id",
	    10, params, "inserting a run");
	if (res == NULL)
		return -1;
	*run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	p->nruns++;
	return 0;
}

static int
plan_insert_job(struct plan *p, int64_t run_id, const struct wf_job *job,
    const char *name, const char *matrix_json)
{
	char runid[32], jobid[32], num[32], *needs;
	const char *params[6];
	PGresult *res;
	size_t i;

	snprintf(runid, sizeof runid, "%lld", (long long)run_id);
	needs = plan_text_array(job->needs, job->nneeds);
	params[0] = runid;
	params[1] = job->id;
	params[2] = name;
	params[3] = needs;
	params[4] = matrix_json;
	params[5] = job->nneeds > 0 ? "waiting" : "queued";
	res = plan_exec(p,
	    "INSERT INTO jobs (run_id, job_key, name, needs, matrix, status) "
	    "VALUES ($1::bigint, $2, $3, $4::text[], $5::jsonb, $6) RETURNING id",
	    6, params, "inserting a job");
	free(needs);
	if (res == NULL)
		return -1;
	snprintf(jobid, sizeof jobid, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	for (i = 0; i < job->nsteps; i++) {
		snprintf(num, sizeof num, "%zu", i + 1);
		params[0] = jobid;
		params[1] = num;
		params[2] = job->steps[i].name;
		res = plan_exec(p, "INSERT INTO steps (job_id, number, name) "
		    "VALUES ($1::bigint, $2::int, $3)", 3, params,
		    "inserting a step");
		if (res == NULL)
			return -1;
		PQclear(res);
	}
	return 0;
}

/* Insert the jobs of a valid, triggered workflow (matrix expanded). */
static int
plan_insert_jobs(struct plan *p, int64_t run_id, const struct workflow *wf)
{
	struct matrix_leg *legs;
	size_t i, j, nlegs;
	char err[1024];

	for (i = 0; i < wf->njobs; i++) {
		const struct wf_job *job = &wf->jobs[i];

		if (matrix_expand(job, &legs, &nlegs, err, sizeof err) == -1) {
			/* Errors the static checks could not see. */
			log_warnx("run %lld: job %s: %s", (long long)run_id,
			    job->id, err);
			if (plan_insert_job(p, run_id, job, job->name, NULL) ==
			    -1)
				return -1;
			continue;
		}
		for (j = 0; j < nlegs; j++) {
			char *mj = legs[j].values ? json_dumps(legs[j].values,
			    JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
			int r = plan_insert_job(p, run_id, job, legs[j].name, mj);

			free(mj);
			if (r == -1) {
				matrix_legs_free(legs, nlegs);
				return -1;
			}
		}
		matrix_legs_free(legs, nlegs);
	}
	return 0;
}

static int
plan_workflow(struct plan *p, const struct mirror_file *f)
{
	struct wf_errors errs = { 0 };
	struct workflow *wf;
	char *reason = NULL, *msg;
	int64_t run_id;
	int rc = 0;

	if (f->data == NULL) {
		/* Unreadable (too large): visible as a failed run. */
		msg = xasprintf("%s: %s", f->path, f->error ? f->error :
		    "cannot be read");
		rc = plan_insert_run(p, f->path, f->path, "", msg, &run_id);
		free(msg);
		return rc;
	}
	wf = workflow_parse(f->path, f->data, f->len, &errs);
	if (wf == NULL || errs.n > 0) {
		msg = wf_errors_format(&errs);
		log_info("event %lld: %s is invalid", (long long)p->ev->id,
		    f->path);
		rc = plan_insert_run(p, f->path, wf && wf->name_set ? wf->name :
		    f->path, f->data, msg, &run_id);
		free(msg);
		goto out;
	}
	if (!plan_triggered(p, wf, &reason)) {
		log_debug("event %lld: %s not triggered: %s",
		    (long long)p->ev->id, f->path, reason ? reason : "");
		goto out;
	}
	if (plan_insert_run(p, f->path, wf->name, f->data, NULL,
	    &run_id) == -1 || plan_insert_jobs(p, run_id, wf) == -1)
		rc = -1;
	else
		log_info("event %lld: run %lld for %s (%zu job definitions)",
		    (long long)p->ev->id, (long long)run_id, f->path, wf->njobs);
out:
	free(reason);
	wf_errors_free(&errs);
	workflow_free(wf);
	return rc;
}

static void
plan_finish_event(struct worker *w, int64_t id, const char *error)
{
	char idbuf[32];
	const char *params[2] = { idbuf, error };
	PGresult *res;

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	res = worker_exec(w, "UPDATE events SET status = 'completed', "
	    "completed_at = now(), lease_until = NULL, error = $2 "
	    "WHERE id = $1::bigint", 2, params, "completing the event");
	PQclear(res);
}

/* Give the event back to the queue; after three attempts, give up on it. */
static void
plan_retry_event(struct worker *w, int64_t id, const char *error)
{
	char idbuf[32];
	const char *params[2] = { idbuf, error };

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	PQclear(worker_exec(w, "UPDATE events SET status = CASE WHEN "
	    "attempts >= 3 THEN 'completed' ELSE 'queued' END, error = $2, "
	    "claimed_by = NULL, lease_until = NULL, completed_at = CASE WHEN "
	    "attempts >= 3 THEN now() END WHERE id = $1::bigint", 2, params,
	    "re-queueing the event"));
}

int
plan_event(struct worker *w, const struct claimed_event *ev)
{
	struct mirror_file *files = NULL;
	size_t nfiles = 0, i;
	struct plan p;
	char err[1024];
	PGresult *res;
	int rc = -1;

	memset(&p, 0, sizeof p);
	p.w = w;
	p.ev = ev;
	p.mirror = worker_mirror_dir(w, ev->repository_id);
	p.payload = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
	if (p.payload == NULL)
		p.payload = json_object();

	if (mirror_fetch(p.mirror, ev->clone_url, err, sizeof err) == -1) {
		log_warnx("event %lld: fetching %s: %s", (long long)ev->id,
		    ev->clone_url, err);
		plan_finish_event(w, ev->id, err);
		goto out;
	}
	if (ev->sha == NULL || mirror_read_workflows(p.mirror, ev->sha, &files,
	    &nfiles, err, sizeof err) == -1) {
		log_warnx("event %lld: reading workflows at %s: %s",
		    (long long)ev->id, ev->sha ? ev->sha : "(none)", err);
		plan_finish_event(w, ev->id, err);
		goto out;
	}

	if ((res = worker_exec(w, "BEGIN", 0, NULL, "BEGIN")) == NULL)
		goto out;
	PQclear(res);
	for (i = 0; i < nfiles; i++)
		if (plan_workflow(&p, &files[i]) == -1)
			break;
	if (i < nfiles) {
		PQclear(PQexec(w->db, "ROLLBACK"));
		plan_retry_event(w, ev->id, "database error while planning");
		goto out;
	}
	plan_finish_event(w, ev->id, NULL);
	PQclear(worker_exec(w, "SELECT pg_notify('kiln_work', 'job')", 0, NULL,
	    "notify"));
	if ((res = worker_exec(w, "COMMIT", 0, NULL, "COMMIT")) == NULL)
		goto out;
	PQclear(res);
	log_info("event %lld (%s %s) planned: %d run(s) from %zu workflow "
	    "file(s)", (long long)ev->id, ev->event, ev->ref ? ev->ref : "",
	    p.nruns, nfiles);
	rc = 0;
out:
	mirror_files_free(files, nfiles);
	mirror_paths_free(p.paths.v, p.paths.n);
	json_decref(p.payload);
	free(p.mirror);
	return rc;
}
