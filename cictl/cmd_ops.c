/*
 * cmd_ops: "cictl status", "cictl workers", "cictl queue", "cictl
 * triggers" -- how the daemon is doing, what each worker runs, why each
 * queued job waits, and what became of each event taken in.  With
 * --json each prints kilnd's answer unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cictl.h"

/* "12" for an integer field, "-" when absent. */
static const char *
ops_int(json_t *o, const char *key, char *out, size_t outsz)
{
	const char *s = output_jint(o, key, out, outsz);

	return s != NULL ? s : "-";
}

/* "job 7 (build) of run 3", or "idle". */
static const char *
ops_job(json_t *w, char *out, size_t outsz)
{
	char id[32], run[32], name[200];
	const char *n = output_jstr(w, "job_name");

	if (output_jint(w, "job_id", id, sizeof id) == NULL)
		return "idle";
	snprintf(out, outsz, "job %s (%s) of run %s", id,
	    output_safe(n != NULL ? n : "", 60, name, sizeof name),
	    ops_int(w, "run_id", run, sizeof run));
	return out;
}

/* A JSON answer, or its raw bytes printed for --json (returns 1). */
static json_t *
ops_get(struct cictl_ctx *ctx, const char *path, int as_json, int *rc)
{
	struct buf raw = { 0 };
	char err[512];
	json_t *j;

	j = client_json(ctx, "GET", path, NULL, 0, NULL, &raw, err,
	    sizeof err);
	if (j == NULL) {
		buf_free(&raw);
		*rc = cictl_error(ctx, "%s", err);
		return NULL;
	}
	if (as_json) {
		*rc = output_json_raw(ctx->out, &raw);
		buf_free(&raw);
		json_decref(j);
		return NULL;
	}
	buf_free(&raw);
	*rc = CICTL_OK;
	return j;
}

int
cmd_ops_status(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	json_t *st, *lw, *jobs, *workers, *w;
	char a[32], b[32], c[32], job[300], name[200];
	size_t i;
	int rc;

	if ((st = ops_get(ctx, "/api/v1/status", args->flag[0] != NULL,
	    &rc)) == NULL)
		return rc;
	lw = json_object_get(st, "local_workers");
	jobs = json_object_get(st, "jobs");
	workers = json_object_get(st, "workers");
	fprintf(ctx->out, "kilnd %s (pid %s): %s, listening on %s\n",
	    output_jstr(st, "version") ? output_jstr(st, "version") : "?",
	    ops_int(st, "pid", a, sizeof a),
	    output_jstr(st, "state") ? output_jstr(st, "state") : "?",
	    output_jstr(st, "listen") && *output_jstr(st, "listen") ?
	    output_jstr(st, "listen") : "(no listener)");
	fprintf(ctx->out, "database: %s\n", output_jstr(st, "database") ?
	    output_jstr(st, "database") : "?");
	fprintf(ctx->out, "local workers: %s running of %s configured\n",
	    ops_int(lw, "running", a, sizeof a),
	    ops_int(lw, "configured", b, sizeof b));
	fprintf(ctx->out, "jobs: %s queued, %s waiting, %s in progress\n",
	    ops_int(jobs, "queued", a, sizeof a),
	    ops_int(jobs, "waiting", b, sizeof b),
	    ops_int(jobs, "in_progress", c, sizeof c));
	fprintf(ctx->out, "workers (%zu alive):\n", json_array_size(workers));
	json_array_foreach(workers, i, w)
		fprintf(ctx->out, "  %s: %s\n", output_safe(output_jstr(w,
		    "name") ? output_jstr(w, "name") : "?", 80, name,
		    sizeof name), ops_job(w, job, sizeof job));
	json_decref(st);
	return CICTL_OK;
}

int
cmd_ops_workers(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const head[] = { "NAME", "STATE", "JOB", "LABELS",
	    "LAST SEEN" };
	const char *row[5];
	char job[300], labels[512];
	struct table t;
	json_t *list, *w, *l;
	size_t i, j;
	int rc;

	if (client_list(ctx, "/api/v1/workers", args->flag[0] != NULL,
	    "no workers have registered", &list, &rc))
		return rc;
	table_init(&t, 5, 80);
	table_add(&t, head);
	json_array_foreach(list, i, w) {
		int alive = json_is_true(json_object_get(w, "alive"));

		labels[0] = '\0';
		json_array_foreach(json_object_get(w, "labels"), j, l)
			if (json_is_string(l) && strlen(labels) +
			    strlen(json_string_value(l)) + 2 < sizeof labels) {
				if (j > 0)
					strcat(labels, ",");
				strcat(labels, json_string_value(l));
			}
		row[0] = output_jstr(w, "name");
		row[1] = !alive ? "gone" : output_jint(w, "job_id", job,
		    sizeof job) ? "busy" : "idle";
		row[2] = alive ? ops_job(w, job, sizeof job) : "-";
		row[3] = labels;
		row[4] = output_jstr(w, "last_seen");
		table_add(&t, row);
	}
	table_print(&t, ctx->out, NULL);
	table_free(&t);
	json_decref(list);
	return CICTL_OK;
}

int
cmd_ops_queue(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const head[] = { "JOB", "RUN", "REPOSITORY", "NAME",
	    "STATUS", "WAITING", "WHY" };
	const char *row[7];
	char id[32], run[32], wait[32], secs[40];
	struct table t;
	json_t *list, *q;
	size_t i;
	int rc;

	if (client_list(ctx, "/api/v1/queue", args->flag[0] != NULL,
	    "nothing is queued", &list, &rc))
		return rc;
	table_init(&t, 7, 80);
	table_add(&t, head);
	json_array_foreach(list, i, q) {
		row[0] = output_jint(q, "id", id, sizeof id);
		row[1] = output_jint(q, "run_id", run, sizeof run);
		row[2] = output_jstr(q, "repository");
		row[3] = output_jstr(q, "name");
		row[4] = output_jstr(q, "status");
		snprintf(secs, sizeof secs, "%s s", ops_int(q,
		    "waiting_seconds", wait, sizeof wait));
		row[5] = secs;
		row[6] = output_jstr(q, "why");
		table_add(&t, row);
	}
	table_print(&t, ctx->out, NULL);
	table_free(&t);
	json_decref(list);
	return CICTL_OK;
}

int
cmd_ops_triggers(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const head[] = { "EVENT", "REPOSITORY", "KIND",
	    "REF", "SHA", "STATUS", "RUNS", "WHY NOTHING RAN" };
	const char *repo = args->flag[0], *limit = args->flag[1], *why;
	const char *row[8];
	char id[32], runs[32], sha[16], q[300];
	struct buf path = { 0 };
	struct table t;
	json_t *list, *e;
	int64_t n;
	size_t i;
	int done, rc;

	if (repo != NULL && cictl_valid_repo(repo, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad --repo '%s': %s",
		    output_safe(repo, 64, q, sizeof q), why);
	if (limit != NULL && cictl_parse_limit(limit, &n, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad --limit '%s': %s",
		    output_safe(limit, 32, q, sizeof q), why);
	buf_add_str(&path, "/api/v1/triggers?");
	if (repo != NULL)
		buf_printf(&path, "repo=%s&", repo);
	if (limit != NULL)
		buf_printf(&path, "limit=%lld&", (long long)n);
	path.data[--path.len] = '\0';
	done = client_list(ctx, path.data, args->flag[2] != NULL,
	    "no events yet", &list, &rc);
	buf_free(&path);
	if (done)
		return rc;
	table_init(&t, 8, 100);
	table_add(&t, head);
	json_array_foreach(list, i, e) {
		const char *s = output_jstr(e, "sha");
		int nruns = (int)json_integer_value(json_object_get(e, "runs"));

		snprintf(sha, sizeof sha, "%.7s", s != NULL ? s : "-");
		row[0] = output_jint(e, "id", id, sizeof id);
		row[1] = output_jstr(e, "repository");
		row[2] = output_jstr(e, "event");
		row[3] = output_jstr(e, "ref");
		row[4] = sha;
		row[5] = output_jstr(e, "status");
		row[6] = output_jint(e, "runs", runs, sizeof runs);
		/* The reason only matters when nothing ran. */
		row[7] = nruns == 0 ? output_jstr(e, "error") : NULL;
		if (nruns == 0 && row[7] == NULL) {
			const char *st = output_jstr(e, "status");

			row[7] = st != NULL && strcmp(st, "completed") == 0 ?
			    "no workflow was triggered" : "not planned yet";
		}
		table_add(&t, row);
	}
	table_print(&t, ctx->out, NULL);
	table_free(&t);
	json_decref(list);
	return CICTL_OK;
}
