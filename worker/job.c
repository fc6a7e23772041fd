/*
 * job: run one claimed job as GitHub's runner would.
 *
 *   job if: (needs closure status, default success())  -> skipped
 *   workflow env, job env (expressions evaluated in their scopes)
 *   for each step:  env layering, if: (default success() of the job
 *   status), the step (run: via stepexec, uses: via the action table) with
 *   its output through the workflow-command filter (masks, annotations,
 *   groups), then the file commands (GITHUB_ENV, GITHUB_OUTPUT,
 *   GITHUB_PATH, GITHUB_STEP_SUMMARY), continue-on-error, outcome and
 *   conclusion
 *   job outputs, conclusion via kiln_job_complete()
 *
 * Cancellation (fail-fast, concurrency, shutdown) and the job's
 * timeout-minutes both go through stepexec's cancel path: SIGINT, SIGTERM,
 * SIGKILL to the step's process group.  After either, only steps whose if:
 * still holds (always(), cancelled()) run.
 *
 * Before any step: a construct kiln does not execute (common/support.c)
 * fails the job with its message; a step kiln cannot run fails when it
 * is reached, and continue-on-error does not rescue it.
 *
 * The job's directories are workspace.c's; process groups a step left
 * behind are killed when the job ends.
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "actions.h"
#include "container.h"
#include "context.h"
#include "envfile.h"
#include "event.h"
#include "expr.h"
#include "jobcg.h"
#include "libinit.h"
#include "log.h"
#include "planner.h"
#include "reusable.h"
#include "status.h"
#include "orphans.h"
#include "spawn.h"
#include "stepexec.h"
#include "support.h"
#include "stream.h"
#include "utf8.h"
#include "util.h"
#include "wfcmd.h"
#include "worker.h"
#include "workflow.h"

#define JOB_RENEW_MS		1000	/* lease renewal and cancel poll */
#define JOB_MAX_OUTPUT		(1024 * 1024)	/* job outputs, all together */
#define JOB_MAX_SUMMARY		(1024 * 1024)	/* per step, as GitHub */
#define JOB_MAX_PGIDS		1024
#define JOB_CGROUP_WAIT_MS	3000	/* the job's cgroup emptied */
#define JOB_CANCEL_GRACE_MS	(5 * 60 * 1000)
/*
 * A finished job waits this long for kilnd and its database to come back
 * (a kilnd crash or restart) to deliver its log and record its
 * conclusion, and never longer than its lease ([workers] lease_seconds),
 * which nothing renews meanwhile: past it the reaper fails the job.
 */
#define JOB_OUTAGE_MS		(5 * 60 * 1000)
#define JOB_COMPLETE_PAUSE_MS	1000	/* between tries while it is down */
#define STEP_MAX_MINUTES	360	/* GitHub's limit on step timeouts */
#define JOB_MAX_ACTION_DEPTH	9	/* composite actions in composite
					   actions, as GitHub's runner */
#define JOB_SUBSTEP_FILES	100000	/* an action's steps' file-command
					   directories count from here */

extern char **environ;

/* An ordered environment, "KEY=VALUE"; later settings replace. */
struct envlist {
	char	**v;
	size_t	  n;
};

struct jobrun {
	struct worker			*w;
	const struct claimed_job	*cj;
	struct workflow			*wf;
	const struct wf_job		*job;
	const struct workflow		*owf;	/* the file job is in: wf, or
						   the workflow it calls */
	struct reusable_set		 calls;	/* wf's caller jobs expanded */
	json_t				*top_inputs; /* the run's inputs (a
						     called job's are its
						     call's) */
	struct stream			*stream;
	struct wfcmd_state		*cmds;
	struct workspace		 ws;
	char				*mirror;
	json_t				*contexts;
	json_t				*env;	/* the env context (object) */
	json_t				*job_env; /* job-level env; GITHUB_ENV
						     writes go here */
	json_t				*steps;	/* the steps context */
	struct envfile_path		 paths;	/* from GITHUB_PATH */
	enum status_conclusion		 status; /* success, failure or
						    cancelled so far */
	char				*message; /* the job's, for cictl show */
	char				*token;	/* its GITHUB_TOKEN (App mode) */
	int				 cancel_requested;
	int				 step_after_cancel; /* current step began
						     after the cancellation */
	int				 timed_out;	/* job timeout-minutes hit */
	double				 timeout_minutes; /* capped */
	json_t				*labels;	/* runs-on, when a deferred
							   matrix set them */
	int64_t				 started_ms;
	int64_t				 deadline_ms;
	int64_t				 renewed_ms;
	pid_t				 pgids[JOB_MAX_PGIDS];
	size_t				 npgids;
	int				 run_steps;	/* id-less run steps so far */
	json_t				*cache_posts;	/* saves owed by
							   actions/cache */
	char				*cache_scopes[3];
	/* Inside actions (job_run_uses()): how deep, and the env contexts of the
	 * steps that called them, which GITHUB_ENV writes reach too. */
	int				 depth;
	json_t				*env_chain[JOB_MAX_ACTION_DEPTH];
	char				*action_path;	/* GITHUB_ACTION_PATH */
	size_t				 substeps;	/* their steps so far */
	size_t				 step_number;	/* the job's step now */
	double				 step_minutes;	/* its timeout-minutes,
							   0: none */
	json_t				*fetched;	/* "uses" -> {dir, sha}:
							   actions this job
							   resolved */
	json_t				*pre_states;	/* step number -> what
							   its action's pre
							   saved */
	/* container:, services:, docker actions (container.h). */
	int				 engine_state;	/* 0: not asked, 1:
							   usable, -1: not */
	char				*engine_why;	/* why not */
	struct container_engine		 engine;
	struct container_job		 ctr;
	int				 engine_argv;	/* job_exec_script()'s
							   argv is the engine */
};

static void
env_set(struct envlist *e, const char *key, const char *value)
{
	size_t klen = strlen(key), i;
	char *kv = xasprintf("%s=%s", key, value ? value : "");

	for (i = 0; i < e->n; i++)
		if (strncmp(e->v[i], key, klen) == 0 && e->v[i][klen] == '=') {
			free(e->v[i]);
			e->v[i] = kv;
			return;
		}
	e->v = xreallocarray(e->v, e->n + 2, sizeof *e->v);
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
}

static const char *
env_get(const struct envlist *e, const char *key)
{
	size_t klen = strlen(key), i;

	for (i = 0; i < e->n; i++)
		if (strncmp(e->v[i], key, klen) == 0 && e->v[i][klen] == '=')
			return e->v[i] + klen + 1;
	return NULL;
}

static void
env_free(struct envlist *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

static void	job_set_timeout(struct jobrun *, double minutes);

/*
 * A GITHUB_ENV write (value stolen): the job's env for later steps, and
 * the env of each step running the current action, so the action's later
 * steps see it too.
 */
static void
job_env_write(struct jobrun *jr, const char *name, json_t *value)
{
	int d;

	for (d = 0; d < jr->depth; d++)
		json_object_set(jr->env_chain[d], name, value);
	json_object_set_new(jr->job_env, name, value);
}

/* Text the job writes itself (not step output) goes through the masks. */
static void
job_log(struct jobrun *jr, const char *text)
{
	char *masked = wfcmd_mask(jr->cmds, text);

	stream_write(jr->stream, masked, strlen(masked));
	free(masked);
}

static void KILN_PRINTF(2, 3)
job_logf(struct jobrun *jr, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	job_log(jr, s);
	free(s);
}

/* Step output: workflow commands and masks first, then the log. */
static void
job_sink_cb(const char *data, size_t len, void *arg)
{
	struct jobrun *jr = arg;
	struct buf out = { 0 };
	size_t nann = wfcmd_nannotations(jr->cmds);

	wfcmd_feed(jr->cmds, data, len, &out);
	wfcmd_locate_annotations(jr->cmds, nann, &out,
	    (long)stream_lines(jr->stream) + 1);
	if (out.len > 0)
		stream_write(jr->stream, out.data, out.len);
	buf_free(&out);
}

/*
 * Step-written text (outputs, env, summaries, annotations) as valid UTF-8:
 * a bad byte becomes U+FFFD, as on GitHub, instead of making jansson or
 * PostgreSQL refuse the whole value.
 */
static json_t *
job_json_text(const char *s)
{
	struct buf b = { 0 };
	json_t *j;

	utf8_scrub(s, strlen(s), &b);
	j = json_stringn(b.data, b.len);
	buf_free(&b);
	return j;
}

static char *
job_text(const char *s)
{
	struct buf b = { 0 };

	if (s == NULL)
		return NULL;
	utf8_scrub(s, strlen(s), &b);
	return b.data;
}

/* Poll the database at most once a second: lease and cancellation. */
static void
job_poll(struct jobrun *jr)
{
	int r;

	if (now_ms() - jr->renewed_ms < JOB_RENEW_MS)
		return;
	jr->renewed_ms = now_ms();
	/*
	 * The database went away (kilnd restarting its embedded one):
	 * reconnect here, or the lease would run out under a job that
	 * outlived the outage.
	 */
	if (PQstatus(jr->w->db) != CONNECTION_OK &&
	    worker_reset(jr->w) == -1)
		return;
	if ((r = claim_renew(jr->w, jr->cj->id)) == 1)
		jr->cancel_requested = 1;
}

/*
 * Stop the running step when a cancellation arrives while it runs.  A step
 * that started after the cancellation (an always() cleanup) was chosen to
 * run despite it and is left to finish (reference 5.7).
 */
static int
job_cancelled_cb(void *arg)
{
	struct jobrun *jr = arg;

	job_poll(jr);
	if (*jr->w->stop)
		jr->cancel_requested = 1;
	return jr->cancel_requested && !jr->step_after_cancel;
}

/*
 * Asynchronous commit: a step row lost in a PostgreSQL crash is
 * rewritten by the job's completion (kiln_job_complete concludes
 * what is left in progress), whose durable commit also flushes every
 * earlier one, the WAL being one sequence.
 */
static const struct worker_stmt job_step_stmt = { "kiln_step",
	"UPDATE steps SET status = $3, conclusion = $4, outcome = $5, "
	"name = coalesce($6, name), "
	"started_at = CASE WHEN $3 = 'in_progress' THEN now() "
	"ELSE started_at END, "
	"log_offset = CASE WHEN $3 = 'in_progress' THEN $7::bigint "
	"ELSE log_offset END, "
	"log_line = CASE WHEN $3 = 'in_progress' THEN $8::int "
	"ELSE log_line END, "
	"completed_at = CASE WHEN $3 = 'completed' THEN now() "
	"ELSE completed_at END "
	"WHERE job_id = $1::bigint AND number = $2::int AND "
	SQL_ASYNC_COMMIT, WSTMT_STEP };

/*
 * A step's row: in progress (started now, renamed when name is not NULL),
 * or completed with its conclusion and outcome.
 */
static void
job_step_update(struct jobrun *jr, size_t number, enum status_state state,
    enum status_conclusion conclusion, enum status_conclusion outcome,
    const char *name)
{
	char id[32], num[32], offset[32], line[32];
	int done = state == STATE_COMPLETED;
	const char *params[8] = { id, num, status_state_name(state),
	    done ? status_conclusion_name(conclusion) : NULL,
	    done ? status_conclusion_name(outcome) : NULL, name, offset,
	    line };

	snprintf(id, sizeof id, "%lld", (long long)jr->cj->id);
	snprintf(num, sizeof num, "%zu", number);
	/* Where its output starts: what the job's log holds so far. */
	snprintf(offset, sizeof offset, "%llu", (unsigned long long)
	    (jr->stream != NULL ? stream_bytes(jr->stream) : 0));
	snprintf(line, sizeof line, "%llu", (unsigned long long)
	    (jr->stream != NULL ? stream_lines(jr->stream) + 1 : 1));
	PQclear(worker_exec_stmt(jr->w, &job_step_stmt, 8, params,
	    "updating a step"));
}

/* How long a finished job waits out a kilnd outage (JOB_OUTAGE_MS). */
static int
job_outage_ms(const struct jobrun *jr)
{
	long lease_ms = atol(jr->w->lease) * 1000L;

	return lease_ms > 0 && lease_ms < JOB_OUTAGE_MS ? (int)lease_ms :
	    JOB_OUTAGE_MS;
}

/* Outputs and completion: one transaction (sql/023_job_finish.sql). */
static const struct worker_stmt job_finish_stmt = { "kiln_job_finish",
	"SELECT kiln_job_finish($1::bigint, $2, $3::jsonb, $4)", WSTMT_FINISH };

static void
job_complete(struct jobrun *jr, enum status_conclusion conclusion,
    const char *outputs, const char *message)
{
	char id[32];
	const char *params[4] = { id, status_conclusion_name(conclusion),
	    outputs ? outputs : "{}", message };
	int64_t deadline = now_ms() + job_outage_ms(jr);
	PGresult *res;
	int attempt;

	snprintf(id, sizeof id, "%lld", (long long)jr->cj->id);
	/*
	 * A serialization failure or deadlock abort is transient: try again
	 * (5 times) rather than leave a finished job for the reaper to fail.
	 * A lost database (kilnd crashed and took its embedded one along) is
	 * waited for, up to job_outage_ms(): the conclusion is the worker's
	 * to record.  The reaper, meanwhile, cannot take the job: its lease
	 * runs at least that long.
	 */
	for (attempt = 0; attempt < 5 && now_ms() < deadline;) {
		if (PQstatus(jr->w->db) != CONNECTION_OK &&
		    worker_reset(jr->w) == -1) {
			poll(NULL, 0, JOB_COMPLETE_PAUSE_MS);
			continue;
		}
		res = worker_exec_stmt(jr->w, &job_finish_stmt, 4, params,
		    "completing the job");
		if (res != NULL) {
			if (PQntuples(res) == 1 &&
			    strcmp(PQgetvalue(res, 0, 0), "f") == 0)
				log_warnx("job %lld: concluded %s here, but it "
				    "had been completed already (its lease "
				    "ran out, or kilnd failed it): that "
				    "conclusion stands", (long long)jr->cj->id,
				    status_conclusion_name(conclusion));
			PQclear(res);
			return;
		}
		if (PQstatus(jr->w->db) == CONNECTION_OK)
			attempt++;
		poll(NULL, 0, 200 * (attempt + 1));
	}
	log_warnx("job %lld: could not record its conclusion; the reaper "
	    "will fail it when its lease expires", (long long)jr->cj->id);
}

/* The expression context for the current point of the job. */
static void
job_expr_ctx(struct jobrun *jr, struct expr_ctx *ctx)
{
	json_t *job = json_object_get(jr->contexts, "job");

	json_object_set_new(job, "status",
	    json_string(status_conclusion_name(jr->status)));
	memset(ctx, 0, sizeof *ctx);
	ctx->contexts = jr->contexts;
	ctx->workspace = jr->ws.workspace;
	ctx->status = jr->status == CONCLUSION_SUCCESS ? EXPR_ST_SUCCESS :
	    jr->status == CONCLUSION_FAILURE ? EXPR_ST_FAILURE :
	    EXPR_ST_CANCELLED;
}

/* Evaluate an env map in order into the env context (and a list). */
static int
job_eval_env(struct jobrun *jr, const struct wf_map *m,
    const struct expr_scope *scope, json_t *into, char *err, size_t errsz)
{
	struct expr_ctx ctx;
	char *value;
	size_t i;

	job_expr_ctx(jr, &ctx);
	for (i = 0; i < m->n; i++) {
		if (context_eval_string(m->v[i].value, scope, &ctx, &value, err,
		    errsz) == -1)
			return -1;
		json_object_set_new(into, m->v[i].key, json_string(value));
		free(value);
	}
	return 0;
}

/* The job's id in its own file: a called job's without its caller's. */
static const char *
job_own_key(const struct jobrun *jr)
{
	const char *k = jr->cj->job_key;

	if (jr->job != NULL && jr->job->call != NULL && !jr->job->call_outputs &&
	    str_has_prefix(k, jr->job->call->prefix))
		return k + strlen(jr->job->call->prefix);
	return k;
}

static void
job_build_contexts(struct jobrun *jr)
{
	const struct claimed_job *cj = jr->cj;
	struct event ev;
	struct ctx_run r;
	json_t *payload, *runner, *secrets, *matrix, *strategy;

	payload = cj->payload ? json_loads(cj->payload, 0, NULL) : NULL;
	if (!json_is_object(payload)) {
		json_decref(payload);
		payload = json_object();
	}
	/* The run's event, as the planner saw it (ref and sha as stored). */
	event_read(&ev, cj->event, payload);
	ev.ref = cj->ref;
	ev.sha = cj->head_sha;
	ev.repo_name = cj->repo_name;
	memset(&r, 0, sizeof r);
	r.ev = &ev;
	r.workflow_name = jr->wf->name;
	r.workflow_path = jr->wf->path;
	r.run_id = cj->run_id;
	r.run_number = cj->run_number;
	r.run_attempt = cj->run_attempt;
	r.job_key = job_own_key(jr);
	r.workspace = jr->ws.workspace;
	r.api_url = jr->w->gh_api_url;
	jr->contexts = json_object();
	json_object_set_new(jr->contexts, "github", context_github(&r));
	json_object_set_new(jr->contexts, "inputs", context_inputs(jr->wf,
	    &ev, NULL));
	json_decref(payload);
	json_object_set_new(jr->contexts, "vars", json_object());
	secrets = json_object();
	json_object_set_new(secrets, "GITHUB_TOKEN", json_string(""));
	json_object_set_new(jr->contexts, "secrets", secrets);
	/* Filled by jobsecrets_load() before any step runs. */
	json_object_set(jr->contexts, "needs", cj->needs);
	matrix = cj->matrix ? json_loads(cj->matrix, 0, NULL) : NULL;
	json_object_set_new(jr->contexts, "matrix", matrix ? matrix :
	    json_object());
	strategy = cj->strategy ? json_loads(cj->strategy, 0, NULL) : NULL;
	json_object_set_new(jr->contexts, "strategy", strategy ? strategy :
	    json_object());
	runner = json_object();
	json_object_set_new(runner, "name", json_string(jr->w->name));
	json_object_set_new(runner, "os", json_string("Linux"));
	json_object_set_new(runner, "arch", json_string("X64"));
	json_object_set_new(runner, "temp", json_string(jr->ws.tmp));
	json_object_set_new(runner, "tool_cache", json_string(jr->w->tool_cache));
	json_object_set_new(runner, "environment", json_string("self-hosted"));
	json_object_set_new(runner, "debug", json_string(""));
	json_object_set_new(jr->contexts, "runner", runner);
	json_object_set_new(jr->contexts, "job", json_object());
	jr->steps = json_object();
	json_object_set(jr->contexts, "steps", jr->steps);
	jr->env = json_object();
	json_object_set(jr->contexts, "env", jr->env);
}

/*
 * App mode: the job's GITHUB_TOKEN, with the job's permissions: (else
 * the workflow's), read-only for a fork's pull request; masked, then
 * secrets.GITHUB_TOKEN and github.token.  0, or -1 with err.
 */
static int
job_github_token(struct jobrun *jr, char *err, size_t errsz)
{
	const json_t *perms = jr->job->permissions != NULL ?
	    jr->job->permissions : jr->owf->permissions;

	if ((jr->token = jobtoken_get(jr->w, jr->cj->repository_id,
	    jr->cj->repo_name, perms, jobsecrets_from_fork(jr->cj), err,
	    errsz)) == NULL)
		return -1;
	if (wfcmd_add_mask(jr->cmds, jr->token) == -1) {
		snprintf(err, errsz, "GITHUB_TOKEN: cannot mask it");
		return -1;
	}
	json_object_set_new(json_object_get(jr->contexts, "secrets"),
	    "GITHUB_TOKEN", json_string(jr->token));
	json_object_set_new(json_object_get(jr->contexts, "github"), "token",
	    json_string(jr->token));
	return 0;
}

/*
 * The process environment of a step (reference 5.1 step 6): the worker's
 * own, then the env context, then GitHub's default variables (which win),
 * then GITHUB_PATH entries prepended to PATH.
 */
static void
job_step_environ(struct jobrun *jr, struct envlist *e, const char *action,
    const char *files_dir)
{
	const struct claimed_job *cj = jr->cj;
	const json_t *github = json_object_get(jr->contexts, "github");
	char num[32], *owner, *path, *event_path;
	const char *key;
	json_t *v;
	char **ep;

	for (ep = environ; *ep != NULL; ep++) {
		char *eq = strchr(*ep, '='), *k;

		if (eq == NULL)
			continue;
		k = xstrndup(*ep, (size_t)(eq - *ep));
		/* kiln's own and systemd's settings are not the job's. */
		if (!str_has_prefix(k, "KILN_") && !str_has_prefix(k, "GITHUB_") &&
		    !str_has_prefix(k, "RUNNER_") &&
		    strcmp(k, "INVOCATION_ID") != 0 &&
		    strcmp(k, "NOTIFY_SOCKET") != 0 && !libinit_hides(k))
			env_set(e, k, eq + 1);
		free(k);
	}
	json_object_foreach(jr->env, key, v)
		env_set(e, key, json_string_value(v));

	if (jr->w->as_user) {
		/*
		 * The account's own home, not the worker's; with a pool,
		 * the job's own (a slot's account serves every repository).
		 */
		env_set(e, "HOME", jr->ws.home != NULL ? jr->ws.home :
		    jr->w->run_home);
		env_set(e, "USER", jr->w->run_name);
		env_set(e, "LOGNAME", jr->w->run_name);
	}
	env_set(e, "CI", env_get(e, "CI") ? env_get(e, "CI") : "true");
	env_set(e, "GITHUB_ACTIONS", "true");
	env_set(e, "GITHUB_ACTION", action);
	env_set(e, "GITHUB_SHA", cj->head_sha);
	env_set(e, "GITHUB_REF", cj->ref);
	env_set(e, "GITHUB_REF_NAME", context_ref_name(cj->ref));
	env_set(e, "GITHUB_REF_TYPE", str_has_prefix(cj->ref, "refs/tags/") ?
	    "tag" : "branch");
	env_set(e, "GITHUB_REF_PROTECTED", "false");
	env_set(e, "GITHUB_REPOSITORY", cj->repo_name);
	owner = xstrndup(cj->repo_name, strcspn(cj->repo_name, "/"));
	env_set(e, "GITHUB_REPOSITORY_OWNER", owner);
	free(owner);
	env_set(e, "GITHUB_WORKSPACE", jr->ws.workspace);
	env_set(e, "GITHUB_EVENT_NAME", cj->event);
	snprintf(num, sizeof num, "%lld", (long long)cj->run_id);
	env_set(e, "GITHUB_RUN_ID", num);
	snprintf(num, sizeof num, "%lld", (long long)cj->run_number);
	env_set(e, "GITHUB_RUN_NUMBER", num);
	snprintf(num, sizeof num, "%lld", (long long)(cj->run_attempt > 0 ?
	    cj->run_attempt : 1));
	env_set(e, "GITHUB_RUN_ATTEMPT", num);
	env_set(e, "GITHUB_RETENTION_DAYS", "90");
	env_set(e, "GITHUB_JOB", job_own_key(jr));
	env_set(e, "GITHUB_WORKFLOW", jr->wf->name);
	env_set(e, "GITHUB_WORKFLOW_REF", json_string_value(json_object_get(
	    github, "workflow_ref")));
	env_set(e, "GITHUB_WORKFLOW_SHA", json_string_value(json_object_get(
	    github, "workflow_sha")));
	env_set(e, "GITHUB_SERVER_URL", json_string_value(json_object_get(
	    github, "server_url")));
	env_set(e, "GITHUB_API_URL", json_string_value(json_object_get(github,
	    "api_url")));
	env_set(e, "GITHUB_GRAPHQL_URL", json_string_value(json_object_get(
	    github, "graphql_url")));
	env_set(e, "GITHUB_ACTOR", json_string_value(json_object_get(github,
	    "actor")));
	env_set(e, "GITHUB_TRIGGERING_ACTOR", json_string_value(
	    json_object_get(github, "actor")));
	env_set(e, "GITHUB_HEAD_REF", json_string_value(json_object_get(github,
	    "head_ref")));
	env_set(e, "GITHUB_BASE_REF", json_string_value(json_object_get(github,
	    "base_ref")));
	event_path = xasprintf("%s/event.json", jr->ws.tmp);
	env_set(e, "GITHUB_EVENT_PATH", event_path);
	free(event_path);
	path = xasprintf("%s/add_path", files_dir);
	env_set(e, "GITHUB_PATH", path);
	free(path);
	path = xasprintf("%s/set_env", files_dir);
	env_set(e, "GITHUB_ENV", path);
	free(path);
	path = xasprintf("%s/set_output", files_dir);
	env_set(e, "GITHUB_OUTPUT", path);
	free(path);
	path = xasprintf("%s/step_summary", files_dir);
	env_set(e, "GITHUB_STEP_SUMMARY", path);
	free(path);
	path = xasprintf("%s/save_state", files_dir);
	env_set(e, "GITHUB_STATE", path);
	free(path);
	env_set(e, "RUNNER_OS", "Linux");
	env_set(e, "RUNNER_ARCH", "X64");
	env_set(e, "RUNNER_NAME", jr->w->name);
	env_set(e, "RUNNER_TEMP", jr->ws.tmp);
	env_set(e, "RUNNER_TOOL_CACHE", jr->w->tool_cache);
	env_set(e, "RUNNER_ENVIRONMENT", "self-hosted");
	if (jr->action_path != NULL)
		env_set(e, "GITHUB_ACTION_PATH", jr->action_path);

	path = envfile_path_join(&jr->paths, env_get(e, "PATH"));
	if (jr->paths.n > 0)
		env_set(e, "PATH", path);
	free(path);
}

/* Apply one env/output file; 0, or -1 after logging the runner's error. */
static int
job_apply_envfile(struct jobrun *jr, const char *dir, const char *leaf,
    const char *what, const char *cmd, json_t *into, int is_env)
{
	struct envfile ef = { 0 };
	char *path = xasprintf("%s/%s", dir, leaf), *cause = NULL;
	size_t i, line = 0;
	int rc;

	rc = envfile_read(path, what, is_env ? ENVFILE_MAX_ENV_VALUE :
	    ENVFILE_MAX_VALUE, &ef, &cause, &line);
	/* Pairs before a bad line count: the runner applied them already. */
	for (i = 0; i < ef.n; i++) {
		const char *blocked = is_env ?
		    envfile_env_blocked(ef.pairs[i].name) : NULL;

		if (blocked != NULL) {
			job_logf(jr, "##[error]%s\n", blocked);
			continue;
		}
		if (is_env)
			job_env_write(jr, ef.pairs[i].name,
			    job_json_text(ef.pairs[i].value));
		else
			json_object_set_new(into, ef.pairs[i].name,
			    job_json_text(ef.pairs[i].value));
	}
	if (rc == -1)
		job_logf(jr, "##[error]Unable to process file command '%s' "
		    "successfully.\n##[error]%s\n", cmd, cause);
	envfile_free(&ef);
	free(cause);
	free(path);
	return rc;
}

/*
 * After a step: apply GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT and keep
 * GITHUB_STEP_SUMMARY.  A malformed file fails the step (reference 5.6).
 */
static int
job_apply_file_commands(struct jobrun *jr, const char *dir, size_t number,
    json_t *outputs)
{
	char id[32], num[32], *path, *cause = NULL, *text;
	int ok = 1;

	if (job_apply_envfile(jr, dir, "set_env", "GITHUB_ENV", "env",
	    jr->job_env, 1) == -1)
		ok = 0;
	if (job_apply_envfile(jr, dir, "set_output", "GITHUB_OUTPUT", "output",
	    outputs, 0) == -1)
		ok = 0;
	path = xasprintf("%s/add_path", dir);
	if (envfile_path_read(path, "GITHUB_PATH", &jr->paths, &cause) == -1) {
		job_logf(jr, "##[error]Unable to process file command "
		    "'add_path' successfully.\n##[error]%s\n", cause);
		ok = 0;
	}
	free(cause);
	free(path);
	path = xasprintf("%s/step_summary", dir);
	text = file_read_all(path, JOB_MAX_SUMMARY, NULL);
	if (text == NULL && errno == EFBIG)
		job_log(jr, "##[warning]GITHUB_STEP_SUMMARY is over 1 MiB and "
		    "was not stored\n");
	else if (text != NULL && text[0] != '\0') {
		char *masked = wfcmd_mask(jr->cmds, text);
		char *clean = job_text(masked);
		const char *params[3] = { id, num, clean };

		snprintf(id, sizeof id, "%lld", (long long)jr->cj->id);
		snprintf(num, sizeof num, "%zu", number);
		PQclear(worker_exec(jr->w, "UPDATE steps SET summary = $3 "
		    "WHERE job_id = $1::bigint AND number = $2::int", 3,
		    params, "storing the step summary"));
		free(clean);
		free(masked);
	}
	free(text);
	free(path);
	return ok;
}

/*
 * What the workflow-command filter collected during the step: annotations
 * (stored), legacy ::set-output/::save-state records, command errors (which
 * fail the step).  Returns 0 when a command failed.
 */
static int
job_apply_commands(struct jobrun *jr, size_t number, json_t *outputs)
{
	static const char *const levels[] = { "notice", "warning", "error" };
	const struct wfcmd_annotation *a;
	const struct wfcmd_record *rec;
	char id[32], num[32], line[16], eline[16], col[16], ecol[16],
	    lline[24];
	const char *params[11];
	size_t i;

	snprintf(id, sizeof id, "%lld", (long long)jr->cj->id);
	snprintf(num, sizeof num, "%zu", number);
	for (i = 0; i < wfcmd_nannotations(jr->cmds); i++) {
		char *file, *title, *message;

		a = wfcmd_annotation(jr->cmds, i);
		file = job_text(a->file);
		title = job_text(a->title);
		message = job_text(a->message);
		snprintf(line, sizeof line, "%d", a->line);
		snprintf(eline, sizeof eline, "%d", a->end_line);
		snprintf(col, sizeof col, "%d", a->col);
		snprintf(ecol, sizeof ecol, "%d", a->end_col);
		params[0] = id;
		params[1] = num;
		params[2] = levels[a->level];
		params[3] = file;
		params[4] = a->line > 0 ? line : NULL;
		params[5] = a->end_line > 0 ? eline : NULL;
		params[6] = a->col > 0 ? col : NULL;
		params[7] = a->end_col > 0 ? ecol : NULL;
		params[8] = title;
		params[9] = message;
		snprintf(lline, sizeof lline, "%ld", a->log_line);
		params[10] = a->log_line > 0 ? lline : NULL;
		PQclear(worker_exec(jr->w, "INSERT INTO annotations (job_id, "
		    "step_number, level, file, line, end_line, col, end_col, "
		    "title, message, log_line) VALUES ($1::bigint, $2::int, $3, "
		    "$4, $5::int, $6::int, $7::int, $8::int, $9, $10, $11::int)",
		    11, params, "storing an annotation"));
		free(file);
		free(title);
		free(message);
	}
	for (i = 0; i < wfcmd_nrecords(jr->cmds); i++) {
		rec = wfcmd_record(jr->cmds, i);
		if (rec->kind == WFCMD_REC_OUTPUT && rec->name != NULL)
			json_object_set_new(outputs, rec->name,
			    job_json_text(rec->value));
		else if (rec->kind == WFCMD_REC_ENV && rec->name != NULL)
			job_env_write(jr, rec->name,
			    job_json_text(rec->value));
	}
	/* Command failures are already in the log (wfcmd wrote them). */
	return wfcmd_failed(jr->cmds) ? 0 : 1;
}

/*
 * The step's shell: its own, else the job's default (which may hold
 * expressions: github, needs, strategy, matrix, env, vars, inputs), else
 * the workflow's (literal).  *out NULL means bash -e {0}.
 */
static int
job_shell(const struct jobrun *jr, const struct wf_step *step,
    const struct expr_ctx *ctx, char **out, char *err, size_t errsz)
{
	*out = NULL;
	if (step->shell != NULL) {
		*out = xstrdup(step->shell);
		return 0;
	}
	/* The workflow's defaults.run does not reach into actions. */
	if (jr->depth > 0)
		return 0;
	if (jr->job->defaults.shell != NULL)
		return context_eval_string(jr->job->defaults.shell,
		    &ctx_scope_step, ctx, out, err, errsz);
	if (jr->owf->defaults.shell != NULL)
		*out = xstrdup(jr->owf->defaults.shell);
	return 0;
}

static int
job_workdir(struct jobrun *jr, const struct wf_step *step,
    const struct expr_ctx *ctx, char **out, char *err, size_t errsz)
{
	const char *wd = step->working_directory;
	char *v;

	if (wd == NULL && jr->depth == 0)
		wd = jr->job->defaults.working_directory;
	if (wd == NULL && jr->depth == 0)
		wd = jr->owf->defaults.working_directory;
	if (wd == NULL || wd[0] == '\0') {
		*out = xstrdup(jr->ws.workspace);
		return 0;
	}
	if (context_eval_string(wd, &ctx_scope_step, ctx, &v, err, errsz) == -1)
		return -1;
	*out = v[0] == '/' ? xstrdup(v) : xasprintf("%s/%s", jr->ws.workspace, v);
	free(v);
	return 0;
}

/* GITHUB_ACTION: the step id, else __run, __run_2, ... / actionscheckout. */
static char *
job_action_name(struct jobrun *jr, const struct wf_step *step)
{
	struct buf b = { 0 };
	const char *p;

	if (step->id != NULL)
		return xstrdup(step->id);
	if (step->run != NULL) {
		jr->run_steps++;
		return jr->run_steps == 1 ? xstrdup("__run") :
		    xasprintf("__run_%d", jr->run_steps);
	}
	for (p = step->uses; *p != '\0' && *p != '@'; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_')
			buf_add_char(&b, *p);
	return buf_steal(&b);
}

/* Time left for a step: its own timeout, bounded by the job's. */
static int64_t
job_step_timeout(struct jobrun *jr, double step_minutes, int *job_bound)
{
	int64_t left = jr->deadline_ms - now_ms(), own;

	if (left < 1)
		left = 1;
	own = step_minutes > 0 ? (int64_t)(step_minutes * 60000) : 0;
	/* After a cancellation GitHub force-stops everything in 5 minutes. */
	if (jr->step_after_cancel && (own == 0 || own > JOB_CANCEL_GRACE_MS))
		own = JOB_CANCEL_GRACE_MS;
	*job_bound = own == 0 || left < own;
	return *job_bound ? left : own;
}

static enum status_conclusion job_exec_script(struct jobrun *, const char *,
		    const char *, char *const *, struct envlist *,
		    const char *, double, const char *);

/* Run a `run:` step; returns its outcome. */
static enum status_conclusion
job_run_script(struct jobrun *jr, const struct wf_step *step,
    const struct expr_ctx *ctx, struct envlist *env, double minutes)
{
	char err[1024], *wd = NULL, *script = NULL, *shell = NULL;
	enum status_conclusion outcome = CONCLUSION_FAILURE;

	if (context_eval_string(step->run, &ctx_scope_step, ctx, &script, err,
	    sizeof err) == -1 || job_workdir(jr, step, ctx, &wd, err,
	    sizeof err) == -1 || job_shell(jr, step, ctx, &shell, err,
	    sizeof err) == -1) {
		job_logf(jr, "##[error]%s\n", err);
		goto out;
	}
	/* GitHub's default inside a container: bash where the image has it. */
	if (shell == NULL && jr->ctr.job_ctr != NULL && jr->ctr.has_bash)
		shell = xstrdup("bash -e {0}");
	job_logf(jr, "##[group]Run %.*s\n%s%sshell: %s\n##[endgroup]\n",
	    (int)strcspn(script, "\n"), script, script,
	    str_has_suffix(script, "\n") ? "" : "\n",
	    shell ? shell : jr->ctr.job_ctr != NULL ? "sh -e {0}" :
	    "bash -e {0}");
	outcome = job_exec_script(jr, shell, script, NULL, env, wd, minutes,
	    step->name);
out:
	free(script);
	free(wd);
	free(shell);
	return outcome;
}

/*
 * Run script with shell, or the program argv when not NULL (stepexec),
 * as the steps' account, bounded by minutes (0: the job's timeout);
 * returns the outcome, errors logged.
 */
static enum status_conclusion
job_exec_script(struct jobrun *jr, const char *shell, const char *script,
    char *const *argv, struct envlist *env, const char *wd, double minutes,
    const char *name)
{
	struct stepexec_spec spec;
	struct stepexec_result result;
	char err[1024], **prefix = NULL;
	int job_bound, r;

	memset(&spec, 0, sizeof spec);
	spec.shell = shell;
	spec.script = script;
	spec.argv = argv;
	spec.envp = env->v;
	spec.workdir = wd;
	spec.tmpdir = jr->ws.tmp;
	spec.timeout_ms = job_step_timeout(jr, minutes, &job_bound);
	spec.cancelled = job_cancelled_cb;
	spec.as_user = jr->w->as_user;
	spec.uid = jr->w->run_uid;
	spec.gid = jr->w->run_gid;
	spec.cgroup_procs = jr->w->cgroup_procs;
	if (argv != NULL && jr->engine_argv) {
		/* A docker action's `<engine> run`: root's client too. */
		spec.as_user = 0;
	} else if (argv == NULL && jr->ctr.job_ctr != NULL) {
		/* In the job container: the engine's client is root's. */
		/* GITHUB_PATH's additions before the image's own PATH. */
		char *path = jr->paths.n > 0 ? envfile_path_join(&jr->paths,
		    jr->ctr.path != NULL ? jr->ctr.path : CTR_DEFAULT_PATH) :
		    NULL;

		prefix = container_exec_argv(&jr->ctr, env->v, wd, path);
		free(path);
		spec.prefix = prefix;
	}
	r = stepexec_run(&spec, job_sink_cb, jr, &result, err, sizeof err);
	container_argv_free(prefix);
	if (r == -1) {
		job_logf(jr, "##[error]%s\n", err);
		return CONCLUSION_FAILURE;
	}
	if (result.pgid > 0 && jr->npgids < JOB_MAX_PGIDS)
		jr->pgids[jr->npgids++] = result.pgid;
	if (result.cancelled) {
		job_log(jr, "##[error]The operation was canceled.\n");
		return CONCLUSION_CANCELLED;
	}
	if (result.timed_out && job_bound) {
		job_logf(jr, "##[error]The job running on runner %s has "
		    "exceeded the maximum execution time of %g minutes.\n",
		    jr->w->name, jr->timeout_minutes);
		jr->timed_out = 1;
		return CONCLUSION_CANCELLED;
	}
	if (result.timed_out)
		job_logf(jr, "##[error]The action '%s' has timed out after %g "
		    "minutes.\n", name, minutes);
	else if (result.exit_code != 0)
		job_logf(jr, "##[error]Process completed with exit code %d.\n",
		    result.exit_code);
	else
		return CONCLUSION_SUCCESS;
	return CONCLUSION_FAILURE;
}

/* What an action does to later steps, like its file commands would. */
struct job_action_effects {
	struct jobrun	*jr;
	json_t		*outputs;
};

static void
job_action_log_cb(void *arg, const char *text)
{
	struct job_action_effects *fx = arg;

	job_log(fx->jr, text);
}

static void
job_action_path_cb(void *arg, const char *dir)
{
	struct job_action_effects *fx = arg;
	char *line = xasprintf("%s\n", dir), *cause = NULL;

	envfile_path_parse("action", line, strlen(line), &fx->jr->paths,
	    &cause);
	free(cause);
	free(line);
}

static void
job_action_env_cb(void *arg, const char *name, const char *value)
{
	struct job_action_effects *fx = arg;

	job_env_write(fx->jr, name, json_string(value));
}

static void
job_action_output_cb(void *arg, const char *name, const char *value)
{
	struct job_action_effects *fx = arg;

	json_object_set_new(fx->outputs, name, json_string(value));
}

/*
 * What actions/cache needs: the refs a run restores from, as GitHub's
 * scopes -- its own, a pull request's base branch, the default branch.
 */
static void
job_cache_ctx(struct jobrun *jr, struct cache_ctx *cc)
{
	const json_t *github = json_object_get(jr->contexts, "github");
	const char *base = json_string_value(json_object_get(github,
	    "base_ref"));
	const char *def = json_string_value(json_object_get(json_object_get(
	    json_object_get(github, "event"), "repository"),
	    "default_branch"));
	size_t i, n = 0;
	char *s;

	memset(cc, 0, sizeof *cc);
	if (jr->cache_scopes[0] == NULL) {
		jr->cache_scopes[n++] = xstrdup(jr->cj->ref ? jr->cj->ref : "");
		if (base != NULL && base[0] != '\0')
			jr->cache_scopes[n++] = xasprintf("refs/heads/%s", base);
		if (def != NULL && def[0] != '\0') {
			s = xasprintf("refs/heads/%s", def);
			for (i = 0; i < n; i++)
				if (strcmp(jr->cache_scopes[i], s) == 0)
					break;
			if (i == n)
				jr->cache_scopes[n++] = s;
			else
				free(s);
		}
	}
	for (i = 0; i < nitems(jr->cache_scopes) && jr->cache_scopes[i]; i++)
		cc->scopes[cc->nscopes++] = jr->cache_scopes[i];
	cc->w = jr->w;
	cc->dir = jr->w->cache_dir;
	cc->max_bytes = jr->w->cache_max_bytes;
	cc->repository_id = jr->cj->repository_id;
	cc->as_user = jr->w->as_user;
	cc->uid = jr->w->run_uid;
	cc->gid = jr->w->run_gid;
	cc->cgroup_procs = jr->w->cgroup_procs;
	cc->tick.fn = job_cancelled_cb;
	cc->tick.arg = jr;
}

static int
job_is_cache(int a)
{
	return a == SUPPORT_ACTION_CACHE || a == SUPPORT_ACTION_CACHE_RESTORE ||
	    a == SUPPORT_ACTION_CACHE_SAVE;
}

static void	job_node_post(struct jobrun *, const json_t *);

/*
 * The post phase (of actions/cache and node actions' post), last step
 * first as GitHub's post
 * steps run: each save owed, unless the job has failed (post-if:
 * success()).  A save that fails is a warning, as the action's is.
 */
static void
job_cache_post(struct jobrun *jr)
{
	struct job_action_effects fx = { jr, NULL };
	struct cache_ctx cc;
	const json_t *post;
	char err[1024];
	size_t i;

	for (i = json_array_size(jr->cache_posts); i-- > 0; ) {
		post = json_array_get(jr->cache_posts, i);
		job_logf(jr, "Post %s\n", json_string_value(json_object_get(post,
		    "uses")));
		if (json_object_get(post, "node_post") != NULL) {
			job_node_post(jr, post);
			continue;
		}
		if (jr->status != CONCLUSION_SUCCESS || jr->timed_out) {
			job_log(jr, "The job has not succeeded; the cache is "
			    "not saved\n");
			continue;
		}
		job_cache_ctx(jr, &cc);
		if (cache_save(&cc, json_string_value(json_object_get(post,
		    "key")), json_string_value(json_object_get(post, "path")),
		    jr->ws.workspace, json_string_value(json_object_get(post,
		    "home")), job_action_log_cb, &fx, err, sizeof err) == -1)
			job_logf(jr, "##[warning]Failed to save: %s\n", err);
	}
}

static int
job_is_artifact(int a)
{
	return a == SUPPORT_ACTION_UPLOAD_ARTIFACT ||
	    a == SUPPORT_ACTION_DOWNLOAD_ARTIFACT;
}

/* actions/upload-artifact or download-artifact, in the run's store. */
static int
job_artifact_step(struct jobrun *jr, int a, const struct action_env *env,
    char *err, size_t errsz)
{
	struct artifact_ctx ac;

	memset(&ac, 0, sizeof ac);
	ac.w = jr->w;
	ac.dir = jr->w->artifacts_dir;
	ac.run_id = jr->cj->run_id;
	ac.job_id = jr->cj->id;
	ac.run_attempt = jr->cj->run_attempt > 0 ? jr->cj->run_attempt : 1;
	ac.retention_days = jr->w->artifacts_days;
	ac.page_url = jr->w->page_url;
	ac.as_user = jr->w->as_user;
	ac.uid = jr->w->run_uid;
	ac.gid = jr->w->run_gid;
	ac.tick.fn = job_cancelled_cb;
	ac.tick.arg = jr;
	if (a == SUPPORT_ACTION_UPLOAD_ARTIFACT)
		return artifact_upload(&ac, env, err, errsz);
	return artifact_download(&ac, env, err, errsz);
}

/*
 * setup-python's cache: input, once the action chose the interpreter:
 * the cache restored, its save owed to the post phase.  0 (also without
 * the input), or -1 with the error logged.
 */
static int
job_setup_python_cache(struct jobrun *jr, const struct action_env *env,
    const struct wf_step *step, json_t *outputs)
{
	const char *manager = wf_map_get(env->with, "cache");
	struct cache_ctx cc;
	json_t *post = NULL;
	char err[1024];

	if (manager == NULL || manager[0] == '\0')
		return 0;
	job_cache_ctx(jr, &cc);
	if (cache_setup_python(&cc, env, json_string_value(json_object_get(
	    outputs, "python-path")), json_string_value(json_object_get(
	    outputs, "python-version")), &post, err, sizeof err) == -1) {
		job_logf(jr, "##[error]%s\n", err);
		return -1;
	}
	if (post != NULL) {
		json_object_set_new(post, "uses", json_string(step->uses));
		json_array_append_new(jr->cache_posts, post);
	}
	return 0;
}

/* Write what the workflow-command filter still holds to the log. */
static void
job_flush_commands(struct jobrun *jr)
{
	struct buf rest = { 0 };
	size_t nann = wfcmd_nannotations(jr->cmds);

	wfcmd_flush(jr->cmds, &rest);
	wfcmd_locate_annotations(jr->cmds, nann, &rest,
	    (long)stream_lines(jr->stream) + 1);
	if (rest.len > 0)
		stream_write(jr->stream, rest.data, rest.len);
	buf_free(&rest);
}

/* ---- actions from action.yml: ./local (reference 6.5, 6.6) -------------- */

/*
 * A step's with: evaluated into *with (values new, the rest borrowed
 * from step; free the values and v).  With log, each goes to the log.
 * 0, or -1 with the error logged.
 */
static int
job_eval_with(struct jobrun *jr, const struct wf_step *step,
    const struct expr_ctx *ctx, struct wf_map *with, int log)
{
	char err[1024];
	size_t i;

	memset(with, 0, sizeof *with);
	with->n = step->with.n;
	with->v = xcalloc(with->n ? with->n : 1, sizeof *with->v);
	for (i = 0; i < step->with.n; i++) {
		with->v[i] = step->with.v[i];
		with->v[i].value = NULL;
		if (context_eval_string(step->with.v[i].value, &ctx_scope_step,
		    ctx, &with->v[i].value, err, sizeof err) == -1) {
			job_logf(jr, "%s##[error]with.%s: %s\n", log ?
			    "##[endgroup]\n" : "", step->with.v[i].key, err);
			return -1;
		}
		if (log)
			job_logf(jr, "with:\n  %s: %s\n", with->v[i].key,
			    with->v[i].value);
	}
	return 0;
}

static void
job_with_free(struct wf_map *with)
{
	size_t i;

	for (i = 0; i < with->n; i++)
		free(with->v[i].value);
	free(with->v);
}

static void	job_exec_step(struct jobrun *, const struct wf_step *, size_t,
		    int);

/*
 * Read <dir>/action.yml (or .yaml) below base, never leaving base: the
 * workspace is the steps' to write, so a link out of it is refused.  A
 * new string, or NULL with err.
 */
static char *
job_action_read(const char *base, const char *dir, size_t *lenp, char *err,
    size_t errsz)
{
	static const char *const names[] = { "action.yml", "action.yaml" };
	struct open_how how;
	struct stat st;
	struct buf b = { 0 };
	char *rel, chunk[8192];
	int bfd, fd = -1;
	size_t i;
	ssize_t n;

	if ((bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", base, strerror(errno));
		return NULL;
	}
	memset(&how, 0, sizeof how);
	how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	for (i = 0; i < nitems(names) && fd == -1; i++) {
		rel = xasprintf("%s%s%s", dir, dir[0] != '\0' ? "/" : "",
		    names[i]);
		fd = (int)syscall(SYS_openat2, bfd, rel, &how, sizeof how);
		if (fd == -1 && errno != ENOENT) {
			snprintf(err, errsz, "%s/%s: %s", base, rel,
			    errno == EXDEV ? "leads outside the workspace" :
			    strerror(errno));
			free(rel);
			close(bfd);
			return NULL;
		}
		free(rel);
	}
	close(bfd);
	if (fd == -1) {
		snprintf(err, errsz, "Can't find 'action.yml' or 'action.yaml' "
		    "under '%s/%s'", base, dir);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s/%s: its action.yml is not a regular "
		    "file", base, dir);
		close(fd);
		return NULL;
	}
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_add(&b, chunk, (size_t)n);
		if (b.len > WF_MAX_FILE_SIZE)
			break;
	}
	close(fd);
	if (n == -1) {
		snprintf(err, errsz, "%s/%s: read: %s", base, dir,
		    strerror(errno));
		buf_free(&b);
		return NULL;
	}
	*lenp = b.len;
	buf_add_char(&b, '\0');
	return buf_steal(&b);
}

/*
 * The inputs context of an action: each input from with:, else its
 * default (evaluated where the step is), else "".  An input the action
 * does not declare is a warning, as GitHub's runner gives; required is
 * not enforced (the action checks it), also as there.
 */
static int
job_action_inputs(struct jobrun *jr, const struct wf_action *a,
    const struct wf_map *with, const struct expr_ctx *ctx, json_t *inputs,
    int warn)
{
	struct buf valid = { 0 };
	const char *v;
	char err[1024], *def;
	size_t i, k;

	for (i = 0; i < a->ninputs; i++)
		buf_printf(&valid, "%s'%s'", i > 0 ? ", " : "",
		    a->inputs[i].name);
	for (k = 0; k < with->n; k++) {
		for (i = 0; i < a->ninputs; i++)
			if (strcasecmp(a->inputs[i].name, with->v[k].key) == 0)
				break;
		if (i == a->ninputs && warn)
			job_logf(jr, "##[warning]Unexpected input(s) '%s', "
			    "valid inputs are [%s]\n", with->v[k].key,
			    valid.data != NULL ? valid.data : "");
	}
	buf_free(&valid);
	for (i = 0; i < a->ninputs; i++) {
		v = NULL;
		for (k = 0; k < with->n; k++)
			if (strcasecmp(a->inputs[i].name, with->v[k].key) == 0)
				v = with->v[k].value;
		if (v != NULL) {
			if (a->inputs[i].deprecation != NULL && warn)
				job_logf(jr, "##[warning]Input '%s' has been "
				    "deprecated with message: %s\n",
				    a->inputs[i].name,
				    a->inputs[i].deprecation);
			json_object_set_new(inputs, a->inputs[i].name,
			    json_string(v));
			continue;
		}
		if (a->inputs[i].def == NULL) {
			json_object_set_new(inputs, a->inputs[i].name,
			    json_string(""));
			continue;
		}
		if (context_eval_string(a->inputs[i].def, &ctx_scope_step, ctx,
		    &def, err, sizeof err) == -1) {
			job_logf(jr, "##[error]%s: inputs.%s.default: %s\n",
			    a->path, a->inputs[i].name, err);
			return -1;
		}
		json_object_set_new(inputs, a->inputs[i].name,
		    json_string(def));
		free(def);
	}
	return 0;
}

/*
 * A composite action: its steps, with the action's inputs, its own steps
 * context and status (success() inside reads the action's), then its
 * outputs from those steps.  Returns the action's outcome.
 */
static enum status_conclusion
job_run_composite(struct jobrun *jr, const struct wf_action *a,
    const char *dir, json_t *inputs, json_t *outputs)
{
	json_t *github = json_object_get(jr->contexts, "github");
	json_t *saved_steps = jr->steps, *saved_inputs, *saved_path;
	json_t *saved_secrets;
	enum status_conclusion saved_status = jr->status, outcome;
	char *saved_action_path = jr->action_path, err[1024], *v;
	struct expr_ctx ctx;
	size_t i;

	if (jr->depth >= JOB_MAX_ACTION_DEPTH) {
		job_logf(jr, "##[error]%s: composite actions are nested deeper "
		    "than %d levels\n", a->path, JOB_MAX_ACTION_DEPTH);
		return CONCLUSION_FAILURE;
	}
	saved_inputs = json_incref(json_object_get(jr->contexts, "inputs"));
	/* No secrets inside (reference 6.6): they are passed as inputs. */
	saved_secrets = json_incref(json_object_get(jr->contexts, "secrets"));
	json_object_del(jr->contexts, "secrets");
	saved_path = json_incref(json_object_get(github, "action_path"));
	jr->steps = json_object();
	json_object_set(jr->contexts, "steps", jr->steps);
	json_object_set(jr->contexts, "inputs", inputs);
	json_object_set_new(github, "action_path", json_string(dir));
	jr->action_path = xstrdup(dir);
	jr->env_chain[jr->depth++] = jr->env;
	jr->status = CONCLUSION_SUCCESS;

	for (i = 0; i < a->nsteps; i++)
		job_exec_step(jr, &a->steps[i], jr->step_number, 1);
	outcome = jr->status;
	job_expr_ctx(jr, &ctx);
	for (i = 0; i < a->outputs.n; i++) {
		if (a->outputs.v[i].value == NULL)
			continue;
		if (context_eval_string(a->outputs.v[i].value, &ctx_scope_step,
		    &ctx, &v, err, sizeof err) == -1) {
			job_logf(jr, "##[error]%s: outputs.%s: %s\n", a->path,
			    a->outputs.v[i].key, err);
			outcome = CONCLUSION_FAILURE;
			continue;
		}
		json_object_set_new(outputs, a->outputs.v[i].key,
		    job_json_text(v));
		free(v);
	}

	jr->depth--;
	free(jr->action_path);
	jr->action_path = saved_action_path;
	if (saved_path != NULL)
		json_object_set_new(github, "action_path", saved_path);
	else
		json_object_del(github, "action_path");
	json_object_set_new(jr->contexts, "inputs", saved_inputs);
	if (saved_secrets != NULL)
		json_object_set_new(jr->contexts, "secrets", saved_secrets);
	json_decref(jr->steps);
	jr->steps = saved_steps;
	json_object_set(jr->contexts, "steps", saved_steps);
	/* A cancellation during the action is the job's too. */
	jr->status = outcome == CONCLUSION_CANCELLED ? CONCLUSION_CANCELLED :
	    saved_status;
	return outcome;
}


/*
 * The directory of r's repository at its commit (a new string), fetched
 * once per job (actions/fetch.c), the log saying from where; NULL with
 * err naming the action.
 */
static char *
job_fetch(struct jobrun *jr, const struct action_ref *r, char *err,
    size_t errsz)
{
	char *key = xasprintf("%s/%s@%s", r->owner, r->repo, r->ref), *dir;
	json_t *got = json_object_get(jr->fetched, key);
	char sha[41];
	int cached;

	if (got != NULL) {
		free(key);
		return xstrdup(json_string_value(json_object_get(got, "dir")));
	}
	dir = action_fetch(jr->w->work_dir, jr->w->actions_base_url, r, sha,
	    &cached, err, errsz);
	if (dir != NULL) {
		job_logf(jr, "%s `%s` (sha:%s)\n", cached ? "Using the cached "
		    "copy of action" : "Download action repository", key, sha);
		json_object_set_new(jr->fetched, key, json_pack("{s:s, s:s}",
		    "dir", dir, "sha", sha));
	}
	free(key);
	return dir;
}

/*
 * What a node action's process sees besides a step's environment: each
 * input as INPUT_<NAME> (upper-cased, spaces to '_', reference 6.5), the
 * state its earlier phases saved as STATE_<name>, GITHUB_ACTION_PATH.
 */
static void
job_node_env(struct envlist *e, const json_t *inputs, const json_t *state,
    const char *dir)
{
	const char *k;
	json_t *v;
	char *name, *p;

	json_object_foreach((json_t *)inputs, k, v) {
		name = xasprintf("INPUT_%s", k);
		for (p = name; *p != '\0'; p++)
			*p = *p == ' ' ? '_' : (char)toupper((unsigned char)*p);
		env_set(e, name, json_string_value(v));
		free(name);
	}
	json_object_foreach((json_t *)state, k, v) {
		name = xasprintf("STATE_%s", k);
		env_set(e, name, json_string_value(v));
		free(name);
	}
	env_set(e, "GITHUB_ACTION_PATH", dir);
}

/*
 * `node <dir>/<script>` in the workspace, as the steps' account, with the
 * node on the step's PATH.  GitHub runs each nodeNN action with that
 * Node.js major; kiln runs it with the host's node, and a host whose node
 * is older than the action asks for says so in the log (node12 and
 * node16 actions, which GitHub now runs on node20, ask for nothing
 * newer than they name).
 */
static enum status_conclusion
job_node_run(struct jobrun *jr, const char *using, const char *dir,
    const char *script, struct envlist *env, double minutes)
{
	struct spawn_spec sp;
	enum status_conclusion outcome;
	char *node, *path, out[64], err[512];
	char *argv[3];
	int status, want = atoi(using + 4), have;

	/*
	 * GitHub runs it inside the job's container (with the runner's own
	 * Node.js mounted there); run on the host it would see other files
	 * and tools, so kiln does not run it at all.
	 */
	if (jr->ctr.job_ctr != NULL) {
		job_logf(jr, "##[error]runs.using: %s: this job runs in a "
		    "container (jobs.%s.container), where GitHub runs node "
		    "actions; kiln runs them only on the host, so not here\n",
		    using, jr->cj->job_key);
		return CONCLUSION_FAILURE;
	}
	if ((node = spawn_path_find("node", env_get(env, "PATH"))) == NULL) {
		job_logf(jr, "##[error]runs.using: %s: there is no `node` on "
		    "PATH (%s); install Node.js %d or newer on the worker\n",
		    using, env_get(env, "PATH") ? env_get(env, "PATH") : "",
		    want);
		return CONCLUSION_FAILURE;
	}
	memset(&sp, 0, sizeof sp);
	argv[0] = node;
	argv[1] = "--version";
	argv[2] = NULL;
	sp.argv = argv;
	sp.envp = env->v;
	sp.fd_in = -1;
	sp.fd_err = -1;
	sp.group = 1;
	sp.as_user = jr->w->as_user;
	sp.uid = jr->w->run_uid;
	sp.gid = jr->w->run_gid;
	status = spawn_capture(&sp, out, sizeof out, 10000, err, sizeof err);
	out[strcspn(out, "\r\n")] = '\0';
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    out[0] != 'v' || (have = atoi(out + 1)) <= 0) {
		job_logf(jr, "##[error]runs.using: %s: %s --version did not "
		    "answer a version (%s)\n", using, node, status == -1 ? err :
		    out);
		free(node);
		return CONCLUSION_FAILURE;
	}
	if (have < want)
		job_logf(jr, "##[warning]runs.using: %s, but the newest Node.js "
		    "here is %s (%s); running the action with it\n", using,
		    out, node);
	/* Straight from the worker: a shell would drop INPUT_A-B. */
	path = xasprintf("%s/%s", dir, script);
	argv[0] = node;
	argv[1] = path;
	argv[2] = NULL;
	outcome = job_exec_script(jr, NULL, NULL, argv, env, jr->ws.workspace,
	    minutes, script);
	free(path);
	free(node);
	return outcome;
}

/* What a node action's phase saved (GITHUB_STATE, ::save-state) into state. */
static void
job_node_state(struct jobrun *jr, const struct envlist *env, json_t *state)
{
	const struct wfcmd_record *rec;
	struct envfile ef = { 0 };
	const char *file = env_get(env, "GITHUB_STATE");
	char *cause = NULL;
	size_t i, line = 0;

	for (i = 0; i < wfcmd_nrecords(jr->cmds); i++) {
		rec = wfcmd_record(jr->cmds, i);
		if (rec->kind == WFCMD_REC_STATE && rec->name != NULL)
			json_object_set_new(state, rec->name,
			    job_json_text(rec->value));
	}
	if (file == NULL)
		return;
	if (envfile_read(file, "GITHUB_STATE", ENVFILE_MAX_VALUE, &ef, &cause,
	    &line) == -1)
		job_logf(jr, "##[error]Unable to process file command "
		    "'save_state' successfully.\n##[error]%s\n", cause);
	for (i = 0; i < ef.n; i++)
		json_object_set_new(state, ef.pairs[i].name,
		    job_json_text(ef.pairs[i].value));
	envfile_free(&ef);
	free(cause);
}

/*
 * A node action's main (its pre is run only for actions from other
 * repositories, as on GitHub); its post is owed to the post phase with
 * the inputs and the state main saved.
 */
static enum status_conclusion
job_run_node(struct jobrun *jr, const struct wf_step *step,
    const struct wf_action *a, const char *dir, json_t *inputs,
    struct envlist *env)
{
	enum status_conclusion outcome;
	json_t *state = json_object(), *post;
	char num[32];

	if (a->pre != NULL && str_has_prefix(step->uses, "./"))
		job_logf(jr, "##[warning]`pre` execution is not supported for "
		    "local action from '%s'\n", step->uses);
	else if (a->pre != NULL && jr->depth > 0) {
		job_logf(jr, "##[error]%s: kiln does not run the `pre` of an "
		    "action inside a composite action\n", step->uses);
		json_decref(state);
		return CONCLUSION_FAILURE;
	} else if (a->pre != NULL) {
		/* What its pre saved, at the job's start. */
		snprintf(num, sizeof num, "%zu", jr->step_number);
		json_object_update(state, json_object_get(jr->pre_states,
		    num));
	}
	job_node_env(env, inputs, state, dir);
	outcome = job_node_run(jr, a->using, dir, a->main, env,
	    jr->step_minutes);
	job_node_state(jr, env, state);
	if (a->post != NULL) {
		post = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:I}",
		    "uses", step->uses, "using", a->using, "dir", dir,
		    "node_post", a->post, "post_if", a->post_if != NULL ?
		    a->post_if : "always()", "inputs", inputs, "state", state,
		    "number", (json_int_t)jr->step_number);
		json_array_append_new(jr->cache_posts, post);
	}
	json_decref(state);
	return outcome;
}

/*
 * A node action's post, in the job's post phase: when its post-if holds
 * (default always(); status functions read the job's status), with the
 * inputs and state of its main.  A failing post fails the job.
 */
static void
job_node_post(struct jobrun *jr, const json_t *post)
{
	const char *cond = json_string_value(json_object_get(post, "post_if"));
	struct envlist env = { 0 };
	struct expr_ctx ctx;
	enum status_conclusion outcome;
	json_t *outputs = json_object();
	char err[1024], *dir;
	int run;

	job_expr_ctx(jr, &ctx);
	if (expr_eval_condition(cond, &ctx_scope_step_if, &ctx, &run, err,
	    sizeof err) == -1) {
		job_logf(jr, "##[error]post-if: %s\n", err);
		jr->status = CONCLUSION_FAILURE;
		json_decref(outputs);
		return;
	}
	if (!run) {
		job_logf(jr, "post-if: %s is false; skipped\n", cond);
		json_decref(outputs);
		return;
	}
	dir = workspace_step_files(&jr->ws, JOB_SUBSTEP_FILES +
	    ++jr->substeps);
	job_step_environ(jr, &env, "post", dir);
	job_node_env(&env, json_object_get(post, "inputs"),
	    json_object_get(post, "state"), json_string_value(json_object_get(
	    post, "dir")));
	wfcmd_step_begin(jr->cmds);
	outcome = job_node_run(jr, json_string_value(json_object_get(post,
	    "using")), json_string_value(json_object_get(post, "dir")),
	    json_string_value(json_object_get(post, "node_post")), &env, 0);
	job_flush_commands(jr);
	if (!job_apply_commands(jr, (size_t)json_integer_value(
	    json_object_get(post, "number")), outputs))
		outcome = CONCLUSION_FAILURE;
	if (outcome == CONCLUSION_CANCELLED)
		jr->status = CONCLUSION_CANCELLED;
	else if (outcome != CONCLUSION_SUCCESS &&
	    jr->status == CONCLUSION_SUCCESS)
		jr->status = CONCLUSION_FAILURE;
	json_decref(outputs);
	env_free(&env);
	free(dir);
}

/* ---- containers (container.h) ----------------------------------------- */

static void
job_ctr_log_cb(void *arg, const char *line)
{
	job_log(arg, line);
}

/*
 * The container engine, picked when the job first needs one ([containers]
 * engine); 0, or -1 with jr->engine_why.  Picked per job, so an engine
 * installed or started later is found without restarting workers.
 */
static int
job_engine(struct jobrun *jr)
{
	char err[2048];

	if (jr->engine_state == 0) {
		if (container_engine_pick(&jr->engine, jr->w->ctr_engine,
		    jr->w->ctr_opts, jr->w->ctr_run_opts, getenv("PATH"), err,
		    sizeof err) == 0) {
			jr->engine_state = 1;
			/* A killed worker's containers are found again. */
			(void)container_mark(jr->w->work_dir, jr->w->name,
			    &jr->w->ctr_mark_fd);
			container_job_init(&jr->ctr, &jr->engine,
			    jr->w->work_dir, jr->w->name, jr->cj->id,
			    job_ctr_log_cb, jr);
			/* The container's root would be the host's. */
			if (jr->w->as_user)
				jr->ctr.user = xasprintf("%u:%u",
				    (unsigned)jr->w->run_uid,
				    (unsigned)jr->w->run_gid);
			job_logf(jr, "Container engine: %s (%s)\n",
			    jr->engine.name, jr->engine.program);
		} else {
			jr->engine_state = -1;
			jr->engine_why = xstrdup(err);
		}
	}
	return jr->engine_state == 1 ? 0 : -1;
}

/* What the job's containers mount; the home is made here. */
static void
job_ctr_dirs(struct jobrun *jr, struct container_dirs *d, char **home)
{
	*home = xasprintf("%s/github_home", jr->ws.dir);
	if (mkdir(*home, 0700) == 0)
		workspace_give(&jr->ws, *home);
	d->job_dir = jr->ws.dir;
	d->workspace = jr->ws.workspace;
	d->home = *home;
	d->workflow = jr->ws.tmp;
}

/* in with every string's ${{ }} evaluated (container:, services:). */
static json_t *
job_eval_json(const json_t *in, const struct expr_scope *scope,
    const struct expr_ctx *ctx, char *err, size_t errsz)
{
	const char *k;
	json_t *out, *v, *e;
	size_t i;
	char *s;

	if (json_is_string(in)) {
		if (context_eval_string(json_string_value(in), scope, ctx, &s,
		    err, errsz) == -1)
			return NULL;
		out = json_string(s);
		free(s);
		return out;
	}
	if (json_is_object(in)) {
		out = json_object();
		json_object_foreach((json_t *)in, k, v) {
			if ((e = job_eval_json(v, scope, ctx, err,
			    errsz)) == NULL) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, k, e);
		}
		return out;
	}
	if (json_is_array(in)) {
		out = json_array();
		json_array_foreach(in, i, v) {
			if ((e = job_eval_json(v, scope, ctx, err,
			    errsz)) == NULL) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, e);
		}
		return out;
	}
	return json_deep_copy(in);
}

/* The key of the job that needs a container engine, or NULL. */
static char *
job_engine_need(const struct jobrun *jr)
{
	const struct wf_job *j = jr->job;
	size_t i;

	if (j->container != NULL && !json_is_null(j->container))
		return xstrdup("container");
	if (json_is_object(j->services) && json_object_size(j->services) > 0)
		return xstrdup("services");
	for (i = 0; i < j->nsteps; i++)
		if (j->steps[i].uses != NULL &&
		    str_has_prefix(j->steps[i].uses, "docker://"))
			return xasprintf("steps[%zu].uses (%s)", i,
			    j->steps[i].uses);
	return NULL;
}

/*
 * Before the first step: the job's network, services and container.  A
 * job that needs them and has no usable engine fails here, saying which
 * key and why; so does one whose containers do not start.
 */
static int
job_containers_start(struct jobrun *jr)
{
	struct container_dirs d;
	struct expr_ctx ctx;
	json_t *container = NULL, *services = NULL, *job;
	char err[2048], *need, *home = NULL;
	int r = -1;

	if ((need = job_engine_need(jr)) == NULL)
		return 0;
	if (job_engine(jr) == -1) {
		jr->message = xasprintf("jobs.%s.%s needs a container engine "
		    "and none (podman, docker) is usable: %s; the job fails "
		    "before its first step", jr->job->id, need,
		    jr->engine_why);
		job_logf(jr, "##[error]%s\n", jr->message);
		free(need);
		return -1;
	}
	job_expr_ctx(jr, &ctx);
	if (jr->job->container != NULL && (container = job_eval_json(
	    jr->job->container, &ctx_scope_job_env, &ctx, err,
	    sizeof err)) == NULL)
		goto fail;
	if (jr->job->services != NULL && (services = job_eval_json(
	    jr->job->services, &ctx_scope_job_env, &ctx, err,
	    sizeof err)) == NULL)
		goto fail;
	job_ctr_dirs(jr, &d, &home);
	if (container_job_start(&jr->ctr, container, services, &d, err,
	    sizeof err) == -1)
		goto fail;
	job = json_object_get(jr->contexts, "job");
	if (jr->ctr.container_ctx != NULL)
		json_object_set(job, "container", jr->ctr.container_ctx);
	json_object_set(job, "services", jr->ctr.services_ctx);
	r = 0;
	goto out;
fail:
	jr->message = xasprintf("jobs.%s.%s", jr->job->id, err);
	job_logf(jr, "##[error]%s\n", jr->message);
out:
	json_decref(container);
	json_decref(services);
	free(home);
	free(need);
	return r;
}

/* The words of a docker action's args, evaluated (inputs in reach). */
static char **
job_docker_args(struct jobrun *jr, const struct wf_action *a,
    const struct wf_map *with, const struct expr_ctx *ctx, json_t *inputs,
    char *err, size_t errsz)
{
	struct expr_ctx c2 = *ctx;
	const char *w = NULL;
	json_t *ev, *v;
	char **args;
	size_t i, n;

	if (a == NULL) {
		/* docker://: with.args, split as a shell would. */
		for (i = 0; i < with->n; i++)
			if (strcmp(with->v[i].key, "args") == 0)
				w = with->v[i].value;
		return container_words(w != NULL ? w : "", err, errsz);
	}
	if (a->args != NULL && !json_is_array(a->args)) {
		snprintf(err, errsz, "runs.args: expected a sequence");
		return NULL;
	}
	c2.contexts = json_copy(ctx->contexts);
	json_object_set(c2.contexts, "inputs", inputs);
	ev = a->args != NULL ? job_eval_json(a->args, &ctx_scope_step, &c2,
	    err, errsz) : json_array();
	json_decref(c2.contexts);
	if (ev == NULL)
		return NULL;
	n = json_array_size(ev);
	args = xcalloc(n + 1, sizeof *args);
	json_array_foreach(ev, i, v)
		args[i] = xstrdup(json_is_string(v) ? json_string_value(v) :
		    "");
	json_decref(ev);
	(void)jr;
	return args;
}

/*
 * A docker action: `docker://image` (a step's uses, with: args and
 * entrypoint) or an action.yml with runs.using docker (its image a
 * Dockerfile built here, or docker://).  It runs with the workspace at
 * /github/workspace, INPUT_ variables, and the step's file commands
 * (their paths are the same inside: the job's directory is mounted at
 * its own path).
 */
static enum status_conclusion
job_run_docker(struct jobrun *jr, const struct wf_step *step,
    const struct wf_action *a, const char *dir, json_t *inputs,
    const struct wf_map *with, const struct expr_ctx *ctx,
    struct envlist *env)
{
	struct container_dirs d;
	enum status_conclusion outcome = CONCLUSION_FAILURE;
	const char *image, *entrypoint = NULL, *k;
	char err[2048], *home = NULL, *tag = NULL, **args = NULL, **argv,
	    *name, *p, *val;
	json_t *v, *ev = NULL;
	struct expr_ctx c2;
	size_t i;

	if (job_engine(jr) == -1) {
		job_logf(jr, "##[error]%s: a docker action needs a container "
		    "engine and none (podman, docker) is usable: %s\n",
		    step->uses, jr->engine_why);
		return CONCLUSION_FAILURE;
	}
	if (jr->ctr.network == NULL && container_job_start(&jr->ctr, NULL,
	    NULL, NULL, err, sizeof err) == -1) {
		job_logf(jr, "##[error]%s: %s\n", step->uses, err);
		return CONCLUSION_FAILURE;
	}
	if (a != NULL && (a->pre_entrypoint != NULL ||
	    a->post_entrypoint != NULL)) {
		job_logf(jr, "##[error]%s: kiln does not run a docker action's "
		    "pre-entrypoint or post-entrypoint\n", step->uses);
		return CONCLUSION_FAILURE;
	}
	if (a == NULL) {
		image = step->uses + strlen("docker://");
		for (i = 0; i < with->n; i++)
			if (strcmp(with->v[i].key, "entrypoint") == 0)
				entrypoint = with->v[i].value;
		/* Its other with: keys are inputs, as GitHub passes them. */
		for (i = 0; i < with->n; i++) {
			if (strcmp(with->v[i].key, "args") == 0 ||
			    strcmp(with->v[i].key, "entrypoint") == 0)
				continue;
			name = xasprintf("INPUT_%s", with->v[i].key);
			for (p = name; *p != '\0'; p++)
				*p = *p == ' ' ? '_' :
				    (char)toupper((unsigned char)*p);
			env_set(env, name, with->v[i].value);
			free(name);
		}
	} else {
		image = a->image;
		entrypoint = a->entrypoint;
		ev = json_object();	/* no STATE_ */
		job_node_env(env, inputs, ev, dir);
		json_decref(ev);
		ev = NULL;
		if (a->env != NULL && json_is_object(a->env)) {
			c2 = *ctx;
			c2.contexts = json_copy(ctx->contexts);
			json_object_set(c2.contexts, "inputs", inputs);
			ev = job_eval_json(a->env, &ctx_scope_step, &c2, err,
			    sizeof err);
			json_decref(c2.contexts);
			if (ev == NULL) {
				job_logf(jr, "##[error]%s: runs.env: %s\n",
				    step->uses, err);
				goto out;
			}
			json_object_foreach(ev, k, v)
				if ((val = json_is_string(v) ? xstrdup(
				    json_string_value(v)) : json_dumps(v,
				    JSON_ENCODE_ANY)) != NULL) {
					env_set(env, k, val);
					free(val);
				}
		}
		if (str_has_prefix(image, "docker://"))
			image += strlen("docker://");
		else {
			job_logf(jr, "Building %s of %s\n", image, step->uses);
			if (container_build(&jr->ctr, dir, image, &tag, err,
			    sizeof err) == -1) {
				job_logf(jr, "##[error]%s: %s\n", step->uses,
				    err);
				goto out;
			}
			image = tag;
		}
	}
	if ((args = job_docker_args(jr, a, with, ctx, inputs, err,
	    sizeof err)) == NULL) {
		job_logf(jr, "##[error]%s: args: %s\n", step->uses, err);
		goto out;
	}
	job_ctr_dirs(jr, &d, &home);
	argv = container_run_argv(&jr->ctr, image, entrypoint, args, env->v,
	    &d);
	jr->engine_argv = 1;
	outcome = job_exec_script(jr, NULL, NULL, argv, env, jr->ws.workspace,
	    jr->step_minutes, step->name != NULL ? step->name : step->uses);
	jr->engine_argv = 0;
	container_argv_free(argv);
out:
	container_argv_free(args);
	json_decref(ev);
	free(home);
	free(tag);
	return outcome;
}

/*
 * A step's `uses:` of an action described by action.yml: ./path in the
 * workspace.  Its with: values are evaluated already.
 */
/*
 * Set github.<key> to value (taken) and return what it was (a new
 * string, "" when unset).
 */
static char *
job_github_swap(struct jobrun *jr, const char *key, char *value)
{
	json_t *github = json_object_get(jr->contexts, "github");
	const char *old = json_string_value(json_object_get(github, key));
	char *was = xstrdup(old != NULL ? old : "");

	json_object_set_new(github, key, json_string(value));
	free(value);
	return was;
}

static enum status_conclusion
job_run_uses(struct jobrun *jr, const struct wf_step *step,
    const struct expr_ctx *ctx, struct envlist *env,
    const struct wf_map *with, json_t *outputs)
{
	struct wf_errors errs = { 0 };
	struct wf_action *a = NULL;
	struct action_ref ref = { 0 };
	enum status_conclusion outcome = CONCLUSION_FAILURE;
	char err[1024], *rel = NULL, *dir = NULL, *text = NULL, *base = NULL,
	    *msgs, *p, *saved_repo = NULL, *saved_ref = NULL;
	json_t *inputs = json_object();
	size_t len = 0;

	if (!str_has_prefix(step->uses, "./")) {
		/* owner/repo[/path]@ref: fetched, kept per commit. */
		if (action_ref_parse(step->uses, &ref, err, sizeof err) == -1) {
			job_logf(jr, "##[error]%s\n", err);
			goto out;
		}
		if (!action_allowed(jr->w->actions_allow, &ref)) {
			job_logf(jr, "##[error]%s is not allowed to be used "
			    "here: no pattern of [actions] allow (%s) matches "
			    "it\n", step->uses, jr->w->actions_allow);
			goto out;
		}
		if ((base = job_fetch(jr, &ref, err, sizeof err)) == NULL) {
			job_logf(jr, "##[error]%s\n", err);
			goto out;
		}
		rel = xstrdup(ref.path);
		dir = rel[0] != '\0' ? xasprintf("%s/%s", base, rel) :
		    xstrdup(base);
		text = job_action_read(base, rel, &len, err, sizeof err);
		if (text == NULL) {
			job_logf(jr, "##[error]%s: %s\n", step->uses, err);
			goto out;
		}
		goto parse;
	}
	/* ./path: below the workspace, never above it. */
	rel = xstrdup(step->uses + 2);
	while ((p = strrchr(rel, '/')) != NULL && p[1] == '\0')
		*p = '\0';
	for (p = rel; *p != '\0'; p += strcspn(p, "/"), p += *p == '/')
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0')) {
			job_logf(jr, "##[error]%s: a local action must be "
			    "inside the workspace\n", step->uses);
			goto out;
		}
	dir = rel[0] != '\0' ? xasprintf("%s/%s", jr->ws.workspace, rel) :
	    xstrdup(jr->ws.workspace);
	if ((text = job_action_read(jr->ws.workspace, rel, &len, err,
	    sizeof err)) == NULL) {
		job_logf(jr, "##[error]%s: %s%s\n", step->uses, err,
		    str_has_prefix(err, "Can't find") ? ". Did you forget to "
		    "run actions/checkout before running your local action?" :
		    "");
		goto out;
	}
parse:
	a = workflow_action_parse(step->uses, text, len, &errs);
	if (a == NULL || errs.n > 0) {
		msgs = wf_errors_format(&errs);
		job_logf(jr, "##[error]%s: its action.yml is not valid:\n%s",
		    step->uses, msgs);
		free(msgs);
		goto out;
	}
	/*
	 * github.action_repository and action_ref name the running action
	 * (of another repository; "" for a local one), for its inputs'
	 * defaults and a composite's steps; the caller's come back after.
	 */
	saved_repo = job_github_swap(jr, "action_repository", ref.owner !=
	    NULL ? xasprintf("%s/%s", ref.owner, ref.repo) : xstrdup(""));
	saved_ref = job_github_swap(jr, "action_ref", xstrdup(ref.ref != NULL ?
	    ref.ref : ""));
	if (job_action_inputs(jr, a, with, ctx, inputs, 1) == -1)
		goto out;
	switch (a->kind) {
	case WF_ACTION_COMPOSITE:
		outcome = job_run_composite(jr, a, dir, inputs, outputs);
		break;
	case WF_ACTION_NODE:
		msgs = ref.owner != NULL ? xasprintf("%s/%s", ref.owner,
		    ref.repo) : xstrdup("");
		env_set(env, "GITHUB_ACTION_REPOSITORY", msgs);
		env_set(env, "GITHUB_ACTION_REF", ref.ref != NULL ? ref.ref :
		    "");
		free(msgs);
		outcome = job_run_node(jr, step, a, dir, inputs, env);
		break;
	case WF_ACTION_DOCKER:
		outcome = job_run_docker(jr, step, a, dir, inputs, with, ctx,
		    env);
		break;
	default:
		job_logf(jr, "##[error]%s: kiln does not run '%s' actions yet\n",
		    step->uses, a->using);
		break;
	}
out:
	if (saved_repo != NULL) {
		free(job_github_swap(jr, "action_repository", saved_repo));
		free(job_github_swap(jr, "action_ref", saved_ref));
	}
	json_decref(inputs);
	workflow_action_free(a);
	wf_errors_free(&errs);
	action_ref_free(&ref);
	free(base);
	free(text);
	free(dir);
	free(rel);
	return outcome;
}

/*
 * The pre of each node action of the job's steps from another repository
 * (reference 6.5: at the job's start, before any step, when its pre-if
 * holds -- default always(), on the job's status), with the inputs its
 * step's with: gives then; what it saves is its main's and post's
 * STATE_.  An action that cannot be had is left to its step, which
 * fails naming it; a failing pre fails the job.
 */
static void
job_pre_phase(struct jobrun *jr)
{
	const struct wf_step *step;
	struct wf_errors errs = { 0 };
	struct action_ref ref;
	struct wf_action *a;
	struct wf_map with;
	struct envlist env;
	struct expr_ctx ctx;
	enum status_conclusion outcome;
	json_t *inputs, *state;
	char err[1024], num[32], *base, *dir, *text, *files, *repo;
	size_t i, len;
	int run;

	for (i = 0; i < jr->job->nsteps; i++) {
		step = &jr->job->steps[i];
		if (step->uses == NULL || str_has_prefix(step->uses, "./") ||
		    str_has_prefix(step->uses, "docker://") ||
		    support_action_find(step->uses) != -1 ||
		    action_ref_parse(step->uses, &ref, err, sizeof err) == -1)
			continue;
		a = NULL;
		text = dir = NULL;
		base = action_allowed(jr->w->actions_allow, &ref) ?
		    job_fetch(jr, &ref, err, sizeof err) : NULL;
		if (base != NULL) {
			dir = ref.path[0] != '\0' ? xasprintf("%s/%s", base,
			    ref.path) : xstrdup(base);
			text = job_action_read(base, ref.path, &len, err,
			    sizeof err);
		}
		if (text != NULL)
			a = workflow_action_parse(step->uses, text, len, &errs);
		if (a == NULL || errs.n > 0 || a->kind != WF_ACTION_NODE ||
		    a->pre == NULL)
			goto next;
		job_logf(jr, "Pre %s\n", step->uses);
		job_expr_ctx(jr, &ctx);
		if (expr_eval_condition(a->pre_if != NULL ? a->pre_if :
		    "always()", &ctx_scope_step_if, &ctx, &run, err,
		    sizeof err) == -1) {
			job_logf(jr, "##[error]pre-if: %s\n", err);
			jr->status = CONCLUSION_FAILURE;
			goto next;
		}
		if (!run) {
			job_logf(jr, "pre-if: %s is false; skipped\n",
			    a->pre_if);
			goto next;
		}
		inputs = json_object();
		state = json_object();
		memset(&env, 0, sizeof env);
		jr->step_number = i + 1;
		if (job_eval_with(jr, step, &ctx, &with, 0) == -1 ||
		    job_action_inputs(jr, a, &with, &ctx, inputs, 0) == -1)
			outcome = CONCLUSION_FAILURE;
		else {
			files = workspace_step_files(&jr->ws,
			    JOB_SUBSTEP_FILES + ++jr->substeps);
			job_step_environ(jr, &env, "pre", files);
			job_node_env(&env, inputs, state, dir);
			repo = xasprintf("%s/%s", ref.owner, ref.repo);
			env_set(&env, "GITHUB_ACTION_REPOSITORY", repo);
			env_set(&env, "GITHUB_ACTION_REF", ref.ref);
			free(repo);
			wfcmd_step_begin(jr->cmds);
			outcome = job_node_run(jr, a->using, dir, a->pre,
			    &env, 0);
			job_node_state(jr, &env, state);
			job_flush_commands(jr);
			free(files);
		}
		snprintf(num, sizeof num, "%zu", i + 1);
		json_object_set(jr->pre_states, num, state);
		if (outcome == CONCLUSION_CANCELLED)
			jr->status = CONCLUSION_CANCELLED;
		else if (outcome != CONCLUSION_SUCCESS &&
		    jr->status == CONCLUSION_SUCCESS)
			jr->status = CONCLUSION_FAILURE;
		job_with_free(&with);
		env_free(&env);
		json_decref(state);
		json_decref(inputs);
next:
		wf_errors_free(&errs);
		workflow_action_free(a);
		action_ref_free(&ref);
		free(text);
		free(dir);
		free(base);
	}
}

static enum status_conclusion
job_run_action(struct jobrun *jr, const struct wf_step *step,
    const struct expr_ctx *ctx, struct envlist *stepenv, json_t *outputs)
{
	struct job_action_effects fx = { jr, outputs };
	const struct action_def *def = action_find(step->uses);
	struct action_user user;
	struct action_env env;
	struct wf_map with;
	char err[1024];
	enum status_conclusion outcome = CONCLUSION_FAILURE;

	job_logf(jr, "##[group]Run %s\n", step->uses);
	if (job_eval_with(jr, step, ctx, &with, 1) == -1)
		goto out;
	job_log(jr, "##[endgroup]\n");
	if (str_has_prefix(step->uses, "docker://")) {
		outcome = job_run_docker(jr, step, NULL, NULL, NULL, &with, ctx,
		    stepenv);
		goto out;
	}
	/* Not built in: an action.yml says what it is. */
	if (str_has_prefix(step->uses, "./") || (support_action_find(
	    step->uses) == -1 && !str_has_prefix(step->uses, "docker://"))) {
		outcome = job_run_uses(jr, step, ctx, stepenv, &with,
		    outputs);
		goto out;
	}
	if (def == NULL && !job_is_cache(support_action_find(step->uses)) &&
	    !job_is_artifact(support_action_find(step->uses))) {
		/* support_step() let it through: never expected. */
		job_logf(jr, "##[error]kiln has no action \"%s\"\n",
		    step->uses);
		goto out;
	}
	memset(&env, 0, sizeof env);
	env.uses = step->uses;
	env.with = &with;
	env.mirror = jr->mirror;
	env.clone_url = jr->cj->clone_url;
	env.github_token = jr->token;
	env.sha = jr->cj->head_sha;
	env.ref = jr->cj->ref;
	env.workspace = jr->ws.workspace;
	env.tmp = jr->ws.tmp;
	env.envp = stepenv->v;
	env.log = job_action_log_cb;
	env.add_path = job_action_path_cb;
	env.set_env = job_action_env_cb;
	env.set_output = job_action_output_cb;
	env.log_arg = &fx;
	env.tick.fn = job_cancelled_cb;
	env.tick.arg = jr;
	env.tool_cache = jr->w->tool_cache;
	env.versions_url = jr->w->python_versions_url;
	if (job_is_cache(support_action_find(step->uses))) {
		struct cache_ctx cc;
		json_t *post = NULL;

		job_cache_ctx(jr, &cc);
		if (cache_step(&cc, support_action_find(step->uses), &env,
		    &post, err, sizeof err) == -1) {
			job_logf(jr, "##[error]%s\n", err);
			goto out;
		}
		outcome = CONCLUSION_SUCCESS;
		if (post != NULL) {
			json_object_set_new(post, "uses",
			    json_string(step->uses));
			json_array_append_new(jr->cache_posts, post);
		}
		goto out;
	}
	if (job_is_artifact(support_action_find(step->uses))) {
		if (job_artifact_step(jr, support_action_find(step->uses),
		    &env, err, sizeof err) == -1) {
			job_logf(jr, "##[error]%s\n", err);
			goto out;
		}
		outcome = CONCLUSION_SUCCESS;
		goto out;
	}
	/*
	 * What steps may have written (workspace, tool cache, HOME) is
	 * read and executed only as the steps' account, in a child.
	 */
	user.program = jr->w->self;
	user.uid = jr->w->run_uid;
	user.gid = jr->w->run_gid;
	user.cgroup_procs = jr->w->cgroup_procs;
	/*
	 * setup-python installs into and puts on PATH what the container's
	 * steps would run; from the host it reaches neither.
	 */
	if (def->id == SUPPORT_ACTION_SETUP_PYTHON && jr->ctr.job_ctr != NULL) {
		job_logf(jr, "##[error]%s: this job runs in a container "
		    "(jobs.%s.container), where GitHub sets Python up; kiln "
		    "sets it up only on the host, so not here: use an image "
		    "with Python\n", step->uses, jr->cj->job_key);
		goto out;
	}
	if ((def->prepare != NULL && def->prepare(&env, err, sizeof err) ==
	    -1) || (def->run != NULL && (jr->w->as_user ? action_isolated(def,
	    &env, &user, err, sizeof err) : def->run(&env, err,
	    sizeof err)) == -1))
		job_logf(jr, "##[error]%s\n", err);
	else
		outcome = CONCLUSION_SUCCESS;
	if (outcome == CONCLUSION_SUCCESS && def->id ==
	    SUPPORT_ACTION_SETUP_PYTHON && job_setup_python_cache(jr, &env,
	    step, outputs) == -1)
		outcome = CONCLUSION_FAILURE;
	/* What the action made (a checkout, links) is the steps' to use. */
	workspace_give(&jr->ws, jr->ws.workspace);
	workspace_give(&jr->ws, jr->ws.tmp);
out:
	/* Its work stopped by a cancellation (struct action_tick). */
	if (outcome != CONCLUSION_SUCCESS && jr->cancel_requested &&
	    !jr->step_after_cancel)
		outcome = CONCLUSION_CANCELLED;
	job_with_free(&with);
	return outcome;
}

/*
 * One step, start to finish; updates jr->status and the steps context.
 * number is the job's step (its row); an action's own steps (inner) run
 * under their caller's number and have no row of their own.
 */
static void
job_exec_step(struct jobrun *jr, const struct wf_step *step, size_t number,
    int inner)
{
	struct expr_ctx ctx;
	struct envlist env = { 0 };
	json_t *saved_env, *step_env, *outputs, *entry;
	char err[1024], *dir = NULL, *action = NULL, *name = NULL,
	    *unsupported = NULL;
	enum status_conclusion outcome, conclusion;
	double minutes = 0;
	int run, coe = 0;

	job_poll(jr);
	if (jr->cancel_requested)
		jr->status = CONCLUSION_CANCELLED;
	jr->step_after_cancel = jr->cancel_requested;
	outputs = json_object();

	/*
	 * The step's env context: the job's (with earlier GITHUB_ENV
	 * writes), then the step's own on top (reference 3.3).
	 */
	saved_env = jr->env;
	if (!inner) {
		jr->job_env = saved_env;
		jr->step_number = number;
	}
	step_env = json_deep_copy(saved_env);
	json_object_set(jr->contexts, "env", step_env);
	jr->env = step_env;
	if (job_eval_env(jr, &step->env, &ctx_scope_step, step_env, err,
	    sizeof err) == -1) {
		job_logf(jr, "##[error]step %zu env: %s\n", number, err);
		outcome = CONCLUSION_FAILURE;
		goto finish;
	}
	job_expr_ctx(jr, &ctx);
	if (expr_eval_condition(step->if_cond, &ctx_scope_step_if, &ctx, &run,
	    err, sizeof err) == -1) {
		job_logf(jr, "##[error]step %zu if: %s\n", number, err);
		outcome = CONCLUSION_FAILURE;
		goto finish;
	}
	/* Past the job's timeout nothing more runs (ARCHITECTURE.md). */
	if (!run || jr->timed_out) {
		if (!inner)
			job_step_update(jr, number, STATE_COMPLETED,
			    CONCLUSION_SKIPPED, CONCLUSION_SKIPPED, NULL);
		outcome = CONCLUSION_SKIPPED;
		goto record;
	}
	if (step->name_set && strstr(step->name, "${{") != NULL &&
	    context_eval_string(step->name, &ctx_scope_step, &ctx, &name, err,
	    sizeof err) == -1)
		name = NULL;
	if (!inner)
		job_step_update(jr, number, STATE_IN_PROGRESS,
		    CONCLUSION_SUCCESS, CONCLUSION_SUCCESS, name);
	/* Work kiln cannot do fails, and no continue-on-error hides it. */
	if ((unsupported = support_step(step)) != NULL) {
		job_logf(jr, "##[error]%s\n", unsupported);
		if (jr->message == NULL)
			jr->message = xasprintf("step %zu (%s): %s", number,
			    step->name, unsupported);
		outcome = CONCLUSION_FAILURE;
		goto finish;
	}
	if (context_eval_num(&step->timeout_minutes, 0, &ctx_scope_step, &ctx,
	    &minutes, err, sizeof err) == -1 ||
	    context_eval_bool(&step->continue_on_error, &ctx_scope_step, &ctx,
	    &coe, err, sizeof err) == -1) {
		job_logf(jr, "##[error]%s\n", err);
		outcome = CONCLUSION_FAILURE;
		goto finish;
	}
	/* An evaluated value gets the bounds a literal has (and no NaN). */
	if (step->timeout_minutes.set && !(minutes > 0 &&
	    minutes <= STEP_MAX_MINUTES)) {
		job_logf(jr, "##[error]timeout-minutes must be more than 0 and "
		    "at most %d, not %g\n", STEP_MAX_MINUTES, minutes);
		outcome = CONCLUSION_FAILURE;
		goto finish;
	}
	dir = workspace_step_files(&jr->ws, inner ? JOB_SUBSTEP_FILES +
	    ++jr->substeps : number);
	action = job_action_name(jr, step);
	job_step_environ(jr, &env, action, dir);
	wfcmd_step_begin(jr->cmds);
	jr->step_minutes = minutes;
	outcome = step->run != NULL ?
	    job_run_script(jr, step, &ctx, &env, minutes) :
	    job_run_action(jr, step, &ctx, &env, outputs);
	job_flush_commands(jr);
	if (!job_apply_commands(jr, number, outputs) &&
	    outcome == CONCLUSION_SUCCESS)
		outcome = CONCLUSION_FAILURE;
	if (!job_apply_file_commands(jr, dir, number, outputs) &&
	    outcome == CONCLUSION_SUCCESS)
		outcome = CONCLUSION_FAILURE;
finish:
	conclusion = outcome;
	/* continue-on-error rescues a failure (a timeout too), not a cancel. */
	if (coe && outcome == CONCLUSION_FAILURE)
		conclusion = CONCLUSION_SUCCESS;
	if (conclusion == CONCLUSION_FAILURE &&
	    jr->status == CONCLUSION_SUCCESS)
		jr->status = CONCLUSION_FAILURE;
	if (outcome == CONCLUSION_CANCELLED)
		jr->status = CONCLUSION_CANCELLED;
	if (!inner)
		job_step_update(jr, number, STATE_COMPLETED, conclusion,
		    outcome, NULL);
record:
	/* Only steps with an id are in the steps context. */
	if (step->id != NULL) {
		entry = json_object();
		json_object_set(entry, "outputs", outputs);
		json_object_set_new(entry, "outcome",
		    json_string(status_conclusion_name(outcome)));
		json_object_set_new(entry, "conclusion", json_string(
		    status_conclusion_name(coe && outcome ==
		    CONCLUSION_FAILURE ? CONCLUSION_SUCCESS : outcome)));
		json_object_set_new(jr->steps, step->id, entry);
	}
	/* The step's own env ends with it; GITHUB_ENV writes went to the
	 * job's env already. */
	jr->env = saved_env;
	json_object_set(jr->contexts, "env", saved_env);
	json_decref(step_env);
	json_decref(outputs);
	env_free(&env);
	free(dir);
	free(action);
	free(name);
	free(unsupported);
}

/*
 * Job outputs, evaluated at the end (reference 3.2); a value holding a
 * masked secret is left out, as GitHub redacts it.
 */
static char *
job_outputs(struct jobrun *jr)
{
	struct expr_ctx ctx;
	json_t *out = json_object();
	char err[512], *v, *masked, *text;
	size_t i, total = 0;

	job_expr_ctx(jr, &ctx);
	for (i = 0; i < jr->job->outputs.n; i++) {
		const struct wf_map_entry *e = &jr->job->outputs.v[i];

		if (context_eval_string(e->value, jr->job->call_outputs ?
		    &ctx_scope_call_outputs : &ctx_scope_job_outputs, &ctx,
		    &v, err, sizeof err) == -1) {
			job_logf(jr, "##[warning]output %s: %s\n", e->key, err);
			continue;
		}
		masked = wfcmd_mask(jr->cmds, v);
		if (strcmp(masked, v) != 0)
			job_logf(jr, "##[warning]Skip output '%s' since it may "
			    "contain secret.\n", e->key);
		else if ((total += strlen(v)) > JOB_MAX_OUTPUT)
			job_logf(jr, "##[warning]output %s dropped: job outputs "
			    "exceed 1 MiB\n", e->key);
		else
			json_object_set_new(out, e->key, json_string(v));
		free(masked);
		free(v);
	}
	text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return text;
}

/*
 * matrix: ${{ fromJSON(needs.x.outputs.y) }} can only be expanded now that
 * the needs have run (planner_expand, with the needs context): this
 * placeholder becomes the first leg, the other legs join the queue, in
 * one transaction under the run's lock.  The first leg's values (labels,
 * timeout ...) are this job's from now on.
 */
static int
job_expand_matrix(struct jobrun *jr, char *err, size_t errsz)
{
	struct plan_job *legs = NULL;
	size_t nlegs = 0, i;
	char id[32], *text;
	const char *params[2];
	json_t *arr;
	PGresult *res;
	int rc = -1;

	if (planner_expand(jr->job, jr->contexts, &legs, &nlegs, err,
	    errsz) == -1)
		return -1;
	arr = json_array();
	for (i = 0; i < nlegs; i++)
		json_array_append_new(arr, plan_job_json(&legs[i]));
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	snprintf(id, sizeof id, "%lld", (long long)jr->cj->id);
	params[0] = id;
	params[1] = text;
	if ((res = worker_exec(jr->w, "BEGIN", 0, NULL, "BEGIN")) == NULL)
		goto out;
	PQclear(res);
	PQclear(worker_exec(jr->w, "SELECT kiln_lock_run(run_id) FROM jobs "
	    "WHERE id = $1::bigint", 1, params, "locking the run"));
	if ((res = worker_exec(jr->w, "SELECT kiln_expand_job($1::bigint, "
	    "$2::jsonb)", 2, params, "expanding the matrix")) == NULL) {
		PQclear(PQexec(jr->w->db, "ROLLBACK"));
		goto out;
	}
	PQclear(res);
	PQclear(worker_exec(jr->w, "SELECT pg_notify('kiln_work', 'job')", 0,
	    NULL, "notify"));
	if ((res = worker_exec(jr->w, "COMMIT", 0, NULL, "COMMIT")) == NULL)
		goto out;
	PQclear(res);
	/* This worker has the first leg. */
	json_object_set_new(jr->contexts, "matrix", legs[0].matrix != NULL ?
	    json_deep_copy(legs[0].matrix) : json_object());
	json_object_set(jr->contexts, "strategy", legs[0].strategy);
	jr->labels = json_incref(legs[0].labels);
	job_set_timeout(jr, legs[0].timeout_minutes);
	job_logf(jr, "Matrix expanded to %zu job(s); this is %s\n", nlegs,
	    legs[0].name);
	if (legs[0].message != NULL) {
		snprintf(err, errsz, "%s", legs[0].message);
		goto out;
	}
	rc = 0;
out:
	free(text);
	planner_jobs_free(legs, nlegs);
	return rc;
}

/* Evaluate the job's if:, with the status of its needs closure. */
static int
job_should_run(struct jobrun *jr, char *why, size_t whysz)
{
	const struct claimed_job *cj = jr->cj;
	const struct reusable_call *no = NULL;
	struct expr_ctx ctx;
	char err[1024];
	int run;

	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = jr->contexts;
	ctx.status = (cj->run_cancelled ? EXPR_ST_CANCELLED : 0) |
	    (cj->needs_success && !cj->run_cancelled ? EXPR_ST_SUCCESS : 0) |
	    (cj->needs_failure ? EXPR_ST_FAILURE : 0);
	/* The callers' if: first, as GitHub decides the caller job first. */
	if (jr->job->call != NULL && (run = reusable_callers_if(jr->job->call,
	    jr->contexts, jr->top_inputs, ctx.status, &no, err,
	    sizeof err)) != 1) {
		if (run == -1)
			snprintf(why, whysz, "jobs.%s.if: %s",
			    no != NULL ? no->caller->id : "caller", err);
		else
			snprintf(why, whysz, "the if: condition of job %s, "
			    "which calls it, is false", no->caller->id);
		return run;
	}
	if (expr_eval_condition(jr->job->if_cond, &ctx_scope_job_if, &ctx,
	    &run, err, sizeof err) == -1) {
		snprintf(why, whysz, "if: %s", err);
		return -1;
	}
	if (!run)
		snprintf(why, whysz, "%s", jr->job->if_cond ?
		    "its if: condition is false" :
		    "a job it needs did not succeed");
	return run;
}

/* A called workflow as pinned when the run was planned (plan.c). */
static char *
job_load_callee(void *arg, const char *key, char sha[41], char *err,
    size_t errsz)
{
	const struct claimed_job *cj = arg;
	const json_t *pin = json_object_get(cj->callees, key);
	const char *src = json_string_value(json_object_get(pin, "source"));

	if (src == NULL) {
		snprintf(err, errsz, "%s was not read when the run was planned",
		    key);
		return NULL;
	}
	snprintf(sha, 41, "%s", json_string_value(json_object_get(pin,
	    "sha")) ? json_string_value(json_object_get(pin, "sha")) : "");
	return xstrdup(src);
}

/*
 * A called job's inputs and secrets are what its caller passes
 * (reusable.h); github.job_workflow_sha names the file's commit.
 */
static int
job_call_contexts(struct jobrun *jr, char *err, size_t errsz)
{
	const struct reusable_call *call = jr->job->call;
	json_t *top_in = json_object_get(jr->contexts, "inputs"), *in, *sec;
	json_t *g = json_object_get(jr->contexts, "github");

	jr->top_inputs = json_incref(top_in);
	json_incref(top_in);
	in = reusable_inputs(call, jr->contexts, top_in, err, errsz);
	sec = in != NULL ? reusable_secrets(call, jr->contexts, top_in,
	    json_object_get(jr->contexts, "secrets"), err, errsz) : NULL;
	json_decref(top_in);
	if (in == NULL || sec == NULL) {
		json_decref(in);
		return -1;
	}
	json_object_set_new(jr->contexts, "inputs", in);
	json_object_set_new(jr->contexts, "secrets", sec);
	json_object_set_new(g, "job_workflow_sha", json_string(call->sha));
	return 0;
}

/*
 * The step-less job of a call: its outputs are on.workflow_call.outputs
 * over the called jobs (the jobs context); it fails when one of them
 * did, as the caller job does on GitHub.
 */
static enum status_conclusion
job_call_done(struct jobrun *jr, char **outputs)
{
	const struct reusable_call *call;
	json_t *jobs, *v, *out = json_object(), *one;
	const char *k, *res;
	enum status_conclusion c = CONCLUSION_SUCCESS;
	size_t i;

	/* A matrix of callers: each leg's outputs, the last leg's winning. */
	for (i = 0; i < jr->calls.n; i++) {
		if ((call = jr->calls.v[i])->caller != jr->job)
			continue;
		jobs = reusable_jobs_context(call, jr->cj->needs);
		json_object_foreach(jobs, k, v) {
			res = json_string_value(json_object_get(v, "result"));
			if (res == NULL || (strcmp(res, "failure") != 0 &&
			    strcmp(res, "cancelled") != 0))
				continue;
			job_logf(jr, "##[error]%s: job %s%s concluded %s\n",
			    call->caller->uses, call->prefix, k, res);
			if (jr->message == NULL)
				jr->message = xasprintf("%s: job %s%s concluded "
				    "%s", call->caller->uses, call->prefix, k,
				    res);
			c = CONCLUSION_FAILURE;
		}
		json_object_set_new(jr->contexts, "jobs", jobs);
		json_object_set_new(jr->contexts, "matrix", call->matrix ?
		    json_deep_copy(call->matrix) : json_object());
		one = json_loads((*outputs = job_outputs(jr)), 0, NULL);
		free(*outputs);
		json_object_update(out, one);
		json_decref(one);
	}
	*outputs = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return c;
}

static int
job_prepare(struct jobrun *jr, char *err, size_t errsz)
{
	if (workspace_create(&jr->ws, jr->w, jr->cj->id, err, errsz) == -1)
		return -1;
	jr->mirror = worker_mirror_dir(jr->w, jr->cj->repository_id);
	jr->stream = stream_open(jr->w->log_socket, jr->cj->id, jr->w->name,
	    jr->cj->log_token, jr->ws.spool, err, errsz);
	return jr->stream ? 0 : -1;
}

/*
 * Processes a step left running end with the job: its process groups,
 * then the job's cgroup, then whatever left them (setsid, double fork),
 * adopted by the worker.
 */
static void
job_kill_leftovers(struct jobrun *jr)
{
	size_t i;
	int n, m = 0;

	for (i = 0; i < jr->npgids; i++)
		kill(-jr->pgids[i], SIGKILL);
	if (jr->w->cgroup != NULL)
		m = jobcg_kill(jr->w->cgroup, JOB_CGROUP_WAIT_MS);
	n = orphans_kill(NULL, 0, 1) + (m > 0 ? m : 0);
	/* With a pool, whatever still runs as the slot's account. */
	if (slot_sweep(jr->w) > 0 && jr->stream != NULL)
		job_logf(jr, "Cleaning up processes left running as %s\n",
		    jr->w->run_name);
	if (n > 0 && jr->stream != NULL)
		job_logf(jr, "Cleaning up orphan processes: %d killed\n", n);
}

/*
 * The job's timeout: as planned, capped at the self-hosted runners' 5-day
 * limit (GitHub accepts more in the file and caps it when the job runs).
 */
static void
job_set_timeout(struct jobrun *jr, double minutes)
{
	jr->timeout_minutes = minutes;
	if (!(minutes <= WF_MAX_JOB_MINUTES)) {
		jr->timeout_minutes = WF_MAX_JOB_MINUTES;
		if (jr->stream != NULL)
			job_logf(jr, "##[warning]timeout-minutes %g is more "
			    "than the %d minutes (5 days) a self-hosted runner "
			    "runs a job: this job stops after %d minutes\n",
			    minutes, WF_MAX_JOB_MINUTES, WF_MAX_JOB_MINUTES);
	}
	jr->deadline_ms = jr->started_ms +
	    (int64_t)(jr->timeout_minutes * 60000);
}

/* Why the job does not run (skipped, cancelled, failed up front). */
static enum status_conclusion
job_not_run(struct jobrun *jr, int r, char *why, size_t whysz)
{
	const struct claimed_job *cj = jr->cj;

	if (r == -1) {
		job_logf(jr, "##[error]%s\n", why);
		return CONCLUSION_FAILURE;
	}
	/* In a cancelled run, a job that does not run was cancelled. */
	if (cj->run_cancelled)
		snprintf(why, whysz, "the run was cancelled");
	job_logf(jr, "Not run: %s\n", why);
	return cj->run_cancelled ? CONCLUSION_CANCELLED : CONCLUSION_SKIPPED;
}

int
job_run(struct worker *w, const struct claimed_job *cj)
{
	struct wf_errors errs = { 0 };
	struct jobrun jr;
	enum status_conclusion conclusion = CONCLUSION_FAILURE;
	char err[1024], why[1100], *outputs = NULL, *refused = NULL, kv[300];
	size_t i;
	int r, requeued = 0;
	uint64_t lost;

	memset(&jr, 0, sizeof jr);
	jr.w = w;
	jr.cj = cj;
	jr.renewed_ms = jr.started_ms = now_ms();
	jr.cmds = wfcmd_new();
	jr.cache_posts = json_array();
	jr.fetched = json_object();
	jr.pre_states = json_object();
	log_info("job started: job=%lld run=%lld name=%s", (long long)cj->id,
	    (long long)cj->run_id, log_kv(cj->name, 200, kv, sizeof kv));
	if (job_prepare(&jr, err, sizeof err) == -1) {
		log_warnx("job %lld: %s", (long long)cj->id, err);
		jr.message = xstrdup(err);
		goto done;
	}
	job_set_timeout(&jr, cj->timeout_minutes);
	jr.wf = workflow_parse(cj->path, cj->workflow_source,
	    strlen(cj->workflow_source), &errs);
	/* The same expansion as when planned, from the pinned files. */
	if (jr.wf != NULL && reusable_expand(jr.wf, cj->repo_name,
	    cj->head_sha, job_load_callee, (void *)cj, &jr.calls, err,
	    sizeof err) == -1) {
		job_logf(&jr, "##[error]%s\n", err);
		jr.message = xstrdup(err);
		goto done;
	}
	if (jr.wf == NULL || (jr.job = workflow_job(jr.wf, cj->job_key)) ==
	    NULL) {
		job_logf(&jr, "##[error]the workflow no longer has job \"%s\"\n",
		    cj->job_key);
		goto done;
	}
	if (cj->superseded) {
		/* A newer pending entrant replaces an older one (ref 3.4). */
		snprintf(why, sizeof why, "cancelled: a newer job entered "
		    "concurrency group \"%s\"", cj->concurrency_group);
		job_logf(&jr, "%s\n", why);
		conclusion = CONCLUSION_CANCELLED;
		jr.message = xstrdup(why);
		goto done;
	}
	jr.owf = jr.job->call != NULL ? jr.job->call->callee : jr.wf;
	job_build_contexts(&jr);
	if (jobsecrets_load(w, cj, json_object_get(jr.contexts, "secrets"),
	    json_object_get(jr.contexts, "vars"), jr.cmds, err,
	    sizeof err) == -1 || (jr.job->call != NULL &&
	    job_call_contexts(&jr, err, sizeof err) == -1)) {
		job_logf(&jr, "##[error]%s\n", err);
		jr.message = xstrdup(err);
		goto done;
	}
	if ((r = job_should_run(&jr, why, sizeof why)) != 1) {
		conclusion = job_not_run(&jr, r, why, sizeof why);
		jr.message = xstrdup(why);
		goto done;
	}
	if (jr.job->call_outputs) {
		conclusion = job_call_done(&jr, &outputs);
		goto done;
	}
	/* A construct kiln does not execute: fail before anything runs. */
	if ((refused = support_job(jr.job)) != NULL) {
		job_logf(&jr, "##[error]%s\n", refused);
		jr.message = refused;
		refused = NULL;
		goto done;
	}
	if (cj->matrix_deferred && job_expand_matrix(&jr, err,
	    sizeof err) == -1) {
		job_logf(&jr, "##[error]strategy.matrix: %s\n", err);
		jr.message = xstrdup(err);
		goto done;
	}
	if (!(jr.labels != NULL ? worker_has_labels(w, jr.labels) :
	    cj->labels_ok)) {
		/* Its if: holds; a worker with its labels runs it. */
		log_info("job %lld (%s): its if: holds; handing it to a worker "
		    "with its runs-on labels", (long long)cj->id, cj->name);
		claim_requeue(w, cj->id);
		requeued = 1;
		goto done;
	}
	if (w->app_key != NULL && job_github_token(&jr, err, sizeof err) == -1) {
		job_logf(&jr, "##[error]%s\n", err);
		jr.message = xstrdup(err);
		goto done;
	}
	workspace_write_event(&jr.ws, cj->payload);
	if (job_eval_env(&jr, &jr.owf->env, &ctx_scope_wf_env, jr.env, err,
	    sizeof err) == -1 || job_eval_env(&jr, &jr.job->env,
	    &ctx_scope_job_env, jr.env, err, sizeof err) == -1) {
		job_logf(&jr, "##[error]env: %s\n", err);
		jr.message = xstrdup(err);
		goto done;
	}
	if (job_containers_start(&jr) == -1)
		goto done;
	job_pre_phase(&jr);
	for (i = 0; i < jr.job->nsteps; i++)
		job_exec_step(&jr, &jr.job->steps[i], i + 1, 0);
	job_cache_post(&jr);
	outputs = job_outputs(&jr);
	conclusion = jr.timed_out ? CONCLUSION_TIMED_OUT : jr.status;
done:
	/*
	 * Whatever the outcome (a killed worker's: container_reap()); first,
	 * as the engine's monitors are the worker's descendants.
	 */
	container_job_stop(&jr.ctr);
	job_kill_leftovers(&jr);
	container_engine_free(&jr.engine);
	free(jr.engine_why);
	jobtoken_revoke(w, jr.token);
	jr.token = NULL;
	if (jr.stream != NULL) {
		if (!requeued)
			job_logf(&jr, "Job concluded: %s\n",
			    status_conclusion_name(conclusion));
		/* Its log has a marker where; the job says so too. */
		if ((lost = stream_lost(jr.stream, why, sizeof why)) > 0 &&
		    jr.message == NULL && !requeued)
			jr.message = xasprintf("%" PRIu64 " bytes of the job's "
			    "output could not be kept for its log: %s", lost,
			    why);
		stream_set_close_wait(jr.stream, job_outage_ms(&jr));
		if (stream_close(jr.stream, err, sizeof err) == -1)
			workspace_keep_spool(&jr.ws, err);
	}
	if (!requeued) {
		job_complete(&jr, conclusion, outputs, jr.message);
		log_info("job concluded: job=%lld run=%lld name=%s "
		    "conclusion=%s", (long long)cj->id, (long long)cj->run_id,
		    log_kv(cj->name, 200, kv, sizeof kv),
		    status_conclusion_name(conclusion));
	}
	workspace_remove(&jr.ws);
	envfile_path_free(&jr.paths);
	json_decref(jr.env);
	json_decref(jr.steps);
	json_decref(jr.contexts);
	json_decref(jr.labels);
	json_decref(jr.cache_posts);
	json_decref(jr.fetched);
	json_decref(jr.pre_states);
	for (i = 0; i < nitems(jr.cache_scopes); i++)
		free(jr.cache_scopes[i]);
	wfcmd_free(jr.cmds);
	wf_errors_free(&errs);
	workflow_free(jr.wf);
	reusable_set_free(&jr.calls);
	json_decref(jr.top_inputs);
	free(outputs);
	free(jr.message);
	free(refused);
	/* Its checkout may have fetched. */
	if (jr.mirror != NULL)
		worker_mirror_fetched(w, jr.mirror);
	free(jr.mirror);
	return 0;
}
