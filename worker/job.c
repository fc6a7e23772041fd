/*
 * job: run one claimed job.  Fresh, empty workspace (as on GitHub), the
 * workflow re-read from the run's stored source, steps in order with the
 * job's log streamed to kilnd, each step's status and conclusion written as
 * it happens, and the job's conclusion written last by kiln_job_complete()
 * (which releases dependants and concludes the run).
 *
 * Workspace layout: <work_dir>/jobs/<job id>/{workspace,tmp,spool}, removed
 * when the job ends.
 */
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "actions.h"
#include "log.h"
#include "stepexec.h"
#include "stream.h"
#include "util.h"
#include "worker.h"
#include "workflow.h"

#define JOB_RENEW_MS	15000

extern char **environ;

/* An environment as a list of "KEY=VALUE", later settings replace. */
struct envlist {
	char	**v;
	size_t	  n;
};

struct jobrun {
	struct worker			*w;
	const struct claimed_job	*cj;
	struct workflow			*wf;
	const struct wf_job		*job;
	struct stream			*stream;
	char				*dir;
	char				*workspace;
	char				*tmp;
	char				*mirror;
	struct envlist			 env;	/* workflow + job level */
	int64_t				 renewed_ms;
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

static void
env_copy(struct envlist *dst, const struct envlist *src)
{
	size_t i;

	dst->v = xcalloc(src->n + 1, sizeof *dst->v);
	for (i = 0; i < src->n; i++)
		dst->v[i] = xstrdup(src->v[i]);
	dst->n = src->n;
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

static void
env_apply_map(struct envlist *e, const struct wf_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		/* GitHub ignores attempts to override its own variables. */
		if (str_has_prefix(m->v[i].key, "GITHUB_") ||
		    str_has_prefix(m->v[i].key, "RUNNER_"))
			continue;
		env_set(e, m->v[i].key, m->v[i].value);
	}
}

static void
job_log(struct jobrun *jr, const char *text)
{
	stream_write(jr->stream, text, strlen(text));
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

static void
job_log_cb(void *arg, const char *text)
{
	job_log(arg, text);
}

static void
job_sink_cb(const char *data, size_t len, void *arg)
{
	struct jobrun *jr = arg;

	stream_write(jr->stream, data, len);
}

/* Polled by stepexec while a step runs: renew the lease, honour SIGTERM. */
static int
job_cancelled_cb(void *arg)
{
	struct jobrun *jr = arg;

	if (now_ms() - jr->renewed_ms > JOB_RENEW_MS) {
		claim_renew(jr->w, jr->cj->id);
		jr->renewed_ms = now_ms();
	}
	return *jr->w->stop != 0;
}

static void
job_step_update(struct jobrun *jr, size_t number, const char *status,
    const char *conclusion, const char *outcome)
{
	char id[32], num[32];
	const char *params[5] = { id, num, status, conclusion, outcome };

	snprintf(id, sizeof id, "%lld", (long long)jr->cj->id);
	snprintf(num, sizeof num, "%zu", number);
	PQclear(worker_exec(jr->w,
	    "UPDATE steps SET status = $3, conclusion = $4, outcome = $5, "
	    "started_at = CASE WHEN $3 = 'in_progress' THEN now() "
	    "ELSE started_at END, "
	    "completed_at = CASE WHEN $3 = 'completed' THEN now() "
	    "ELSE completed_at END "
	    "WHERE job_id = $1::bigint AND number = $2::int",
	    5, params, "updating a step"));
}

static void
job_complete(struct jobrun *jr, const char *conclusion)
{
	char id[32];
	const char *params[2] = { id, conclusion };

	snprintf(id, sizeof id, "%lld", (long long)jr->cj->id);
	PQclear(worker_exec(jr->w, "SELECT kiln_job_complete($1::bigint, $2)",
	    2, params, "completing the job"));
}

static const char *
job_ref_name(const char *ref)
{
	if (str_has_prefix(ref, "refs/heads/"))
		return ref + 11;
	if (str_has_prefix(ref, "refs/tags/"))
		return ref + 10;
	return ref;
}

/* GitHub's default variables (reference 5.2), then workflow and job env. */
static void
job_build_env(struct jobrun *jr)
{
	const struct claimed_job *cj = jr->cj;
	char num[32], *event_path, *owner;
	char **ep;

	for (ep = environ; *ep != NULL; ep++) {
		char *eq = strchr(*ep, '=');
		char *key;

		if (eq == NULL)
			continue;
		key = xstrndup(*ep, (size_t)(eq - *ep));
		/* kiln's own settings are not the job's business. */
		if (!str_has_prefix(key, "KILN_") &&
		    !str_has_prefix(key, "GITHUB_") &&
		    !str_has_prefix(key, "RUNNER_") &&
		    !str_has_prefix(key, "INVOCATION_ID") &&
		    !str_has_prefix(key, "NOTIFY_SOCKET"))
			env_set(&jr->env, key, eq + 1);
		free(key);
	}
	env_set(&jr->env, "CI", "true");
	env_set(&jr->env, "GITHUB_ACTIONS", "true");
	env_set(&jr->env, "GITHUB_SHA", cj->head_sha);
	env_set(&jr->env, "GITHUB_REF", cj->ref);
	env_set(&jr->env, "GITHUB_REF_NAME", job_ref_name(cj->ref));
	env_set(&jr->env, "GITHUB_REF_TYPE", str_has_prefix(cj->ref,
	    "refs/tags/") ? "tag" : "branch");
	env_set(&jr->env, "GITHUB_REF_PROTECTED", "false");
	env_set(&jr->env, "GITHUB_REPOSITORY", cj->repo_name);
	owner = xstrndup(cj->repo_name, strcspn(cj->repo_name, "/"));
	env_set(&jr->env, "GITHUB_REPOSITORY_OWNER", owner);
	free(owner);
	env_set(&jr->env, "GITHUB_WORKSPACE", jr->workspace);
	env_set(&jr->env, "GITHUB_EVENT_NAME", cj->event);
	snprintf(num, sizeof num, "%lld", (long long)cj->run_id);
	env_set(&jr->env, "GITHUB_RUN_ID", num);
	snprintf(num, sizeof num, "%lld", (long long)cj->run_number);
	env_set(&jr->env, "GITHUB_RUN_NUMBER", num);
	env_set(&jr->env, "GITHUB_RUN_ATTEMPT", "1");
	env_set(&jr->env, "GITHUB_JOB", cj->job_key);
	env_set(&jr->env, "GITHUB_WORKFLOW", jr->wf->name);
	env_set(&jr->env, "GITHUB_WORKFLOW_REF", "");
	env_set(&jr->env, "GITHUB_SERVER_URL", "https://github.com");
	env_set(&jr->env, "GITHUB_API_URL", "https://api.github.com");
	env_set(&jr->env, "GITHUB_GRAPHQL_URL", "https://api.github.com/graphql");
	env_set(&jr->env, "GITHUB_ACTOR", "");
	env_set(&jr->env, "GITHUB_HEAD_REF", "");
	env_set(&jr->env, "GITHUB_BASE_REF", "");
	event_path = xasprintf("%s/event.json", jr->tmp);
	if (cj->payload != NULL) {
		FILE *f = fopen(event_path, "w");

		if (f != NULL) {
			fputs(cj->payload, f);
			fclose(f);
		}
	}
	env_set(&jr->env, "GITHUB_EVENT_PATH", event_path);
	free(event_path);
	env_set(&jr->env, "RUNNER_OS", "Linux");
	env_set(&jr->env, "RUNNER_ARCH", "X64");
	env_set(&jr->env, "RUNNER_NAME", jr->w->name);
	env_set(&jr->env, "RUNNER_TEMP", jr->tmp);
	env_set(&jr->env, "RUNNER_ENVIRONMENT", "self-hosted");
	env_apply_map(&jr->env, &jr->wf->env);
	env_apply_map(&jr->env, &jr->job->env);
}

static int
job_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void
job_rmtree(const char *dir)
{
	nftw(dir, job_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

static const char *
job_shell(const struct jobrun *jr, const struct wf_step *step)
{
	if (step->shell != NULL)
		return step->shell;
	if (jr->job->defaults.shell != NULL)
		return jr->job->defaults.shell;
	return jr->wf->defaults.shell;		/* NULL: bash -e {0} */
}

static char *
job_workdir(const struct jobrun *jr, const struct wf_step *step)
{
	const char *wd = step->working_directory;

	if (wd == NULL)
		wd = jr->job->defaults.working_directory;
	if (wd == NULL)
		wd = jr->wf->defaults.working_directory;
	if (wd == NULL || wd[0] == '\0')
		return xstrdup(jr->workspace);
	if (wd[0] == '/')
		return xstrdup(wd);
	return xasprintf("%s/%s", jr->workspace, wd);
}

/* Run a `run:` step; returns its conclusion. */
static const char *
job_run_script(struct jobrun *jr, const struct wf_step *step)
{
	struct stepexec_spec spec;
	struct stepexec_result result;
	struct envlist env;
	char err[512], *wd;
	double minutes;
	const char *shell = job_shell(jr, step);

	env_copy(&env, &jr->env);
	env_apply_map(&env, &step->env);
	wd = job_workdir(jr, step);

	job_logf(jr, "##[group]Run %.*s\n%s%sshell: %s\n##[endgroup]\n",
	    (int)strcspn(step->run, "\n"), step->run, step->run,
	    str_has_suffix(step->run, "\n") ? "" : "\n",
	    shell ? shell : "bash -e {0}");

	memset(&spec, 0, sizeof spec);
	spec.shell = shell;
	spec.script = step->run;
	spec.envp = env.v;
	spec.workdir = wd;
	spec.tmpdir = jr->tmp;
	minutes = step->timeout_minutes.set && step->timeout_minutes.expr ==
	    NULL ? step->timeout_minutes.value : 0;
	spec.timeout_ms = (int64_t)(minutes * 60000);
	spec.cancelled = job_cancelled_cb;

	if (stepexec_run(&spec, job_sink_cb, jr, &result, err,
	    sizeof err) == -1) {
		job_logf(jr, "##[error]%s\n", err);
		env_free(&env);
		free(wd);
		return "failure";
	}
	env_free(&env);
	free(wd);
	if (result.cancelled) {
		job_log(jr, "##[error]The operation was canceled.\n");
		return "cancelled";
	}
	if (result.timed_out) {
		job_logf(jr, "##[error]The action '%s' has timed out after %g "
		    "minutes.\n", step->name, minutes);
		return "failure";
	}
	if (result.exit_code != 0) {
		job_logf(jr, "##[error]Process completed with exit code %d.\n",
		    result.exit_code);
		return "failure";
	}
	return "success";
}

static const char *
job_run_action(struct jobrun *jr, const struct wf_step *step)
{
	const struct action_def *def = action_find(step->uses);
	struct action_env env;
	char err[1024];

	job_logf(jr, "##[group]Run %s\n##[endgroup]\n", step->uses);
	if (def == NULL) {
		job_logf(jr, "##[error]kiln has no built-in action \"%s\"; "
		    "only actions/checkout is supported so far\n", step->uses);
		return "failure";
	}
	memset(&env, 0, sizeof env);
	env.uses = step->uses;
	env.with = &step->with;
	env.mirror = jr->mirror;
	env.clone_url = jr->cj->clone_url;
	env.sha = jr->cj->head_sha;
	env.ref = jr->cj->ref;
	env.workspace = jr->workspace;
	env.log = job_log_cb;
	env.log_arg = jr;
	if (def->run(&env, err, sizeof err) == -1) {
		job_logf(jr, "##[error]%s\n", err);
		return "failure";
	}
	return "success";
}

static const char *
job_run_steps(struct jobrun *jr)
{
	const char *job_conclusion = "success";
	size_t i;

	for (i = 0; i < jr->job->nsteps; i++) {
		const struct wf_step *step = &jr->job->steps[i];
		const char *c;

		if (strcmp(job_conclusion, "success") != 0) {
			/* The implicit success() of every step's if:. */
			job_step_update(jr, i + 1, "completed", "skipped",
			    "skipped");
			continue;
		}
		job_step_update(jr, i + 1, "in_progress", NULL, NULL);
		c = step->run != NULL ? job_run_script(jr, step) :
		    job_run_action(jr, step);
		job_step_update(jr, i + 1, "completed", c, c);
		if (strcmp(c, "success") != 0)
			job_conclusion = c;
	}
	return job_conclusion;
}

static int
job_prepare(struct jobrun *jr, char *err, size_t errsz)
{
	char *spool;

	jr->dir = xasprintf("%s/jobs/%lld", jr->w->work_dir,
	    (long long)jr->cj->id);
	job_rmtree(jr->dir);
	jr->workspace = xasprintf("%s/workspace", jr->dir);
	jr->tmp = xasprintf("%s/tmp", jr->dir);
	if (mkdir_p(jr->workspace, 0755) == -1 || mkdir_p(jr->tmp, 0700) ==
	    -1) {
		snprintf(err, errsz, "creating %s: %s", jr->dir,
		    strerror(errno));
		return -1;
	}
	jr->mirror = worker_mirror_dir(jr->w, jr->cj->repository_id);
	spool = xasprintf("%s/spool", jr->dir);
	jr->stream = stream_open(jr->w->log_socket, jr->cj->id, jr->w->name,
	    spool, err, errsz);
	free(spool);
	return jr->stream ? 0 : -1;
}

int
job_run(struct worker *w, const struct claimed_job *cj)
{
	struct wf_errors errs = { 0 };
	struct jobrun jr;
	const char *conclusion = "failure";
	char err[1024];

	memset(&jr, 0, sizeof jr);
	jr.w = w;
	jr.cj = cj;
	jr.renewed_ms = now_ms();
	log_info("job %lld (%s) of run %lld started", (long long)cj->id,
	    cj->name, (long long)cj->run_id);
	if (job_prepare(&jr, err, sizeof err) == -1) {
		log_warnx("job %lld: %s", (long long)cj->id, err);
		goto done;
	}
	jr.wf = workflow_parse(cj->path, cj->workflow_source,
	    strlen(cj->workflow_source), &errs);
	if (jr.wf == NULL || (jr.job = workflow_job(jr.wf, cj->job_key)) ==
	    NULL) {
		job_logf(&jr, "##[error]the workflow no longer has job \"%s\"\n",
		    cj->job_key);
		goto done;
	}
	if (cj->needs_failed != NULL) {
		/* The default job if: success() of every need. */
		job_logf(&jr, "Skipped: needed job \"%s\" did not succeed\n",
		    cj->needs_failed);
		conclusion = "skipped";
		goto done;
	}
	job_build_env(&jr);
	conclusion = job_run_steps(&jr);
done:
	if (jr.stream != NULL) {
		job_logf(&jr, "Job concluded: %s\n", conclusion);
		if (stream_close(jr.stream, err, sizeof err) == -1)
			log_warnx("job %lld: log stream: %s", (long long)cj->id,
			    err);
	}
	job_complete(&jr, conclusion);
	log_info("job %lld (%s) concluded %s", (long long)cj->id, cj->name,
	    conclusion);
	if (jr.dir != NULL)
		job_rmtree(jr.dir);
	env_free(&jr.env);
	wf_errors_free(&errs);
	workflow_free(jr.wf);
	free(jr.dir);
	free(jr.workspace);
	free(jr.tmp);
	free(jr.mirror);
	return 0;
}
