/*
 * cmd_runs: "cictl runs", "cictl show RUN_ID" and "cictl logs JOB_ID" --
 * looking at what kilnd ran.  Text output is for people: aligned columns,
 * a null conclusion as "-", strangers' text escaped.  --json is for
 * scripts: the API's own bytes (checked to be the expected JSON shape), so
 * its GitHub field names reach them unchanged.  Logs are streamed to stdout
 * byte for byte, never held in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cictl.h"

/* Columns of "cictl runs". */
#define RUNS_NCOLS	8

/* Validate a positional id; on failure print a usage error. */
static int
runs_arg_id(struct cictl_ctx *ctx, const struct cmd_args *args,
    const char *what, int64_t *id)
{
	const char *why;
	char q[300];

	if (cictl_parse_id(args->argv[0], id, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad %s '%s': %s",
		    what, output_safe(args->argv[0], 32, q, sizeof q), why);
	return CICTL_OK;
}

/* The first seven characters of a commit id, like git's short form. */
static const char *
runs_short_sha(json_t *o, char *out, size_t outsz)
{
	const char *sha = output_jstr(o, "head_sha");

	if (sha == NULL)
		return NULL;
	snprintf(out, outsz, "%.7s", sha);
	return out;
}

int
cmd_runs_list(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const head[RUNS_NCOLS] = { "ID", "STATUS",
	    "CONCLUSION", "EVENT", "BRANCH", "SHA", "NAME", "PATH" };
	const char *repo = args->flag[0], *limit = args->flag[1], *why;
	const char *before = args->flag[3];
	int json = args->flag[2] != NULL;
	int64_t before_id = 0;
	const char *row[RUNS_NCOLS];
	struct buf path = { 0 };
	char q[300], idbuf[32], sha[16];
	struct table t;
	json_t *list, *r;
	int64_t n = 0;
	size_t i;
	int done, rc;

	if (repo != NULL && cictl_valid_repo(repo, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad --repo '%s': %s",
		    output_safe(repo, 64, q, sizeof q), why);
	if (limit != NULL && cictl_parse_limit(limit, &n, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad --limit '%s': %s",
		    output_safe(limit, 32, q, sizeof q), why);

	if (before != NULL && cictl_parse_id(before, &before_id, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad --before '%s': "
		    "%s", output_safe(before, 32, q, sizeof q), why);

	/* The values are validated to URL-safe characters: no escaping. */
	buf_add_str(&path, "/api/v1/runs?");
	if (repo != NULL)
		buf_printf(&path, "repo=%s&", repo);
	if (limit != NULL)
		buf_printf(&path, "limit=%lld&", (long long)n);
	if (before != NULL)
		buf_printf(&path, "before=%lld&", (long long)before_id);
	path.data[--path.len] = '\0';	/* the last '&' or the bare '?' */

	done = client_list(ctx, path.data, json, "no runs", &list, &rc);
	buf_free(&path);
	if (done)
		return rc;
	table_init(&t, RUNS_NCOLS, 40);
	table_add(&t, head);
	json_array_foreach(list, i, r) {
		row[0] = output_jint(r, "id", idbuf, sizeof idbuf);
		row[1] = output_jstr(r, "status");
		row[2] = output_jstr(r, "conclusion");
		row[3] = output_jstr(r, "event");
		row[4] = output_jstr(r, "head_branch");
		row[5] = runs_short_sha(r, sha, sizeof sha);
		row[6] = output_jstr(r, "name");
		row[7] = output_jstr(r, "path");
		table_add(&t, row);
	}
	table_print(&t, ctx->out, NULL);
	table_free(&t);
	/* A full page may have more behind it: say how to get it. */
	if ((int64_t)json_array_size(list) == (limit != NULL ? n : 50)) {
		r = json_array_get(list, json_array_size(list) - 1);
		fprintf(ctx->err, "more: cictl runs --before %s%s%s%s%s\n",
		    output_jint(r, "id", idbuf, sizeof idbuf),
		    repo ? " --repo " : "", repo ? repo : "",
		    limit ? " --limit " : "", limit ? limit : "");
	}
	json_decref(list);
	return CICTL_OK;
}

/* The run's own fields, one per line, labels aligned. */
static void
runs_show_run(FILE *f, json_t *run)
{
	static const struct {
		const char	*label;
		const char	*key;
		int		 always;	/* print "-" when null */
	} fields[] = {
		{ "Repository", "repository", 1 },
		{ "Workflow", "path", 1 },
		{ "Event", "event", 1 },
		{ "Branch", "head_branch", 1 },
		{ "Commit", "head_sha", 1 },
		{ "Status", "status", 1 },
		{ "Conclusion", "conclusion", 1 },
		{ "Message", "message", 0 },
		{ "Delivery", "delivery", 0 },
		{ "Created", "created_at", 0 },
		{ "Updated", "updated_at", 0 },
	};
	char idbuf[32], num[32], safe[512];
	const char *row[2], *name, *id;
	struct table t;
	size_t i;

	id = output_jint(run, "id", idbuf, sizeof idbuf);
	name = output_jstr(run, "name");
	fprintf(f, "Run %s", id != NULL ? id : "-");
	if (output_jint(run, "run_number", num, sizeof num) != NULL)
		fprintf(f, " (#%s)", num);
	if (name != NULL)
		fprintf(f, ": %s", output_safe(name, 120, safe, sizeof safe));
	fputc('\n', f);

	table_init(&t, 2, 200);
	for (i = 0; i < nitems(fields); i++) {
		row[1] = output_jstr(run, fields[i].key);
		if (row[1] == NULL && !fields[i].always)
			continue;
		row[0] = fields[i].label;
		table_add(&t, row);
	}
	table_print(&t, f, "  ");
	table_free(&t);
}

/*
 * Why a job is waiting or ended early, and its annotations, under the
 * table (text from kilnd is escaped by output_jstr).
 */
static void
runs_show_notes(FILE *f, json_t *jobs)
{
	json_t *job, *anns, *a;
	const char *msg, *file, *level, *text;
	char idbuf[32], line[32], safe[1024], where[600];
	size_t i, j;
	int header = 0;

	json_array_foreach(jobs, i, job) {
		msg = output_jstr(job, "message");
		anns = json_object_get(job, "annotations");
		if (msg == NULL && json_array_size(anns) == 0)
			continue;
		if (!header) {
			fprintf(f, "\nNotes:\n");
			header = 1;
		}
		output_jint(job, "id", idbuf, sizeof idbuf);
		if (msg != NULL)
			fprintf(f, "  job %s: %s\n", idbuf,
			    output_safe(msg, 900, safe, sizeof safe));
		json_array_foreach(anns, j, a) {
			level = output_jstr(a, "level");
			file = output_jstr(a, "file");
			text = output_jstr(a, "message");
			if (output_jint(a, "line", line, sizeof line) == NULL)
				line[0] = '\0';
			output_safe(file ? file : "", 200, where, sizeof where);
			fprintf(f, "  job %s: %s%s%s%s%s: ", idbuf,
			    level ? level : "notice", file ? " " : "", where,
			    line[0] ? ":" : "", line);
			fprintf(f, "%s\n", output_safe(text ? text : "", 900,
			    safe, sizeof safe));
		}
	}
}

/* Jobs and, under each, its steps: one aligned table, steps indented. */
static void
runs_show_jobs(FILE *f, json_t *jobs)
{
	static const char *const head[] = { "JOB", "NAME", "STATUS",
	    "CONCLUSION" };
	const char *row[4], *sname;
	char idbuf[32], num[32];
	struct table t;
	json_t *job, *steps, *step;
	size_t i, j;
	char *cell;

	if (!json_is_array(jobs) || json_array_size(jobs) == 0) {
		fprintf(f, "\nNo jobs.\n");
		return;
	}
	fprintf(f, "\nJobs:\n");
	table_init(&t, 4, 80);
	table_add(&t, head);
	json_array_foreach(jobs, i, job) {
		row[0] = output_jint(job, "id", idbuf, sizeof idbuf);
		row[1] = output_jstr(job, "name");
		row[2] = output_jstr(job, "status");
		row[3] = output_jstr(job, "conclusion");
		table_add(&t, row);
		steps = json_object_get(job, "steps");
		json_array_foreach(steps, j, step) {
			sname = output_jstr(step, "name");
			cell = xasprintf("  %s. %s",
			    output_jint(step, "number", num, sizeof num) != NULL ?
			    num : "-", sname != NULL ? sname : "-");
			row[0] = "";
			row[1] = cell;
			row[2] = output_jstr(step, "status");
			row[3] = output_jstr(step, "conclusion");
			table_add(&t, row);
			free(cell);
		}
	}
	table_print(&t, f, "  ");
	table_free(&t);
	runs_show_notes(f, jobs);
}

int
cmd_runs_show(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	struct buf raw = { 0 };
	char err[1024], path[64];
	int json = args->flag[0] != NULL;
	json_t *run;
	int64_t id;
	int rc;

	if ((rc = runs_arg_id(ctx, args, "RUN_ID", &id)) != CICTL_OK)
		return rc;
	snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)id);
	run = client_json(ctx, "GET", path, NULL, 0, NULL, json ? &raw : NULL,
	    err, sizeof err);
	if (run == NULL)
		return cictl_error(ctx, "%s", err);
	if (!json_is_object(run)) {
		json_decref(run);
		buf_free(&raw);
		return cictl_error(ctx, "kilnd sent a non-object for %s", path);
	}
	if (json)
		output_json_raw(ctx->out, &raw);
	else {
		runs_show_run(ctx->out, run);
		runs_show_jobs(ctx->out, json_object_get(run, "jobs"));
	}
	buf_free(&raw);
	json_decref(run);
	return CICTL_OK;
}

/*
 * logs -f: the job's Server-Sent Events stream (docs/API.md), parsed as it
 * arrives.  "log" events carry {"offset", "text"}: the text is printed at
 * once; the one "end" event carries the conclusion, after which kilnd
 * closes the stream.
 */
struct follow {
	FILE		*out;
	struct buf	 line;		/* the line being received */
	struct buf	 data;		/* the event's data lines */
	char		 event[32];
	char		 conclusion[32];
	int		 bad;		/* a malformed event arrived */
};

static void
follow_dispatch(struct follow *f)
{
	json_t *j;
	const char *s;

	if (f->data.len == 0)
		goto out;
	buf_add(&f->data, "", 1);
	if ((j = json_loads(f->data.data, 0, NULL)) == NULL) {
		f->bad = 1;
		goto out;
	}
	if (strcmp(f->event, "log") == 0 &&
	    (s = json_string_value(json_object_get(j, "text"))) != NULL) {
		fwrite(s, 1, json_string_length(json_object_get(j, "text")),
		    f->out);
		fflush(f->out);
	} else if (strcmp(f->event, "end") == 0 &&
	    (s = json_string_value(json_object_get(j, "conclusion"))) != NULL)
		snprintf(f->conclusion, sizeof f->conclusion, "%s", s);
	json_decref(j);
out:
	f->data.len = 0;
	f->event[0] = '\0';
}

static void
follow_line(struct follow *f, const char *line, size_t len)
{
	if (len == 0) {
		follow_dispatch(f);
		return;
	}
	if (len >= 6 && memcmp(line, "event:", 6) == 0) {
		size_t skip = (len > 6 && line[6] == ' ') ? 7 : 6;

		snprintf(f->event, sizeof f->event, "%.*s", (int)(len - skip),
		    line + skip);
	} else if (len >= 5 && memcmp(line, "data:", 5) == 0) {
		size_t skip = (len > 5 && line[5] == ' ') ? 6 : 5;

		if (f->data.len > 0)
			buf_add(&f->data, "\n", 1);
		buf_add(&f->data, line + skip, len - skip);
	}
	/* id: and ": ping" comments need nothing here. */
}

static ssize_t
follow_write(void *cookie, const char *p, size_t n)
{
	struct follow *f = cookie;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n') {
			/* An SSE line is one 8 KiB log event, as JSON. */
			if (f->line.len > 1024 * 1024) {
				f->bad = 1;
				errno = EPROTO;
				return -1;
			}
			buf_add(&f->line, &p[i], 1);
			continue;
		}
		if (f->line.len > 0 && f->line.data[f->line.len - 1] == '\r')
			f->line.len--;
		follow_line(f, f->line.data ? f->line.data : "", f->line.len);
		f->line.len = 0;
	}
	return (ssize_t)n;
}

static int
runs_follow(struct cictl_ctx *ctx, int64_t id)
{
	cookie_io_functions_t io = { .write = follow_write };
	struct follow f;
	char err[1024], path[80];
	FILE *sse;
	int rc;

	memset(&f, 0, sizeof f);
	f.out = ctx->out;
	if ((sse = fopencookie(&f, "w", io)) == NULL)
		return cictl_error(ctx, "fopencookie: %s", strerror(errno));
	setvbuf(sse, NULL, _IONBF, 0);
	snprintf(path, sizeof path, "/api/v1/jobs/%lld/logs/stream",
	    (long long)id);
	rc = client_get_stream(ctx, path, sse, err, sizeof err);
	fclose(sse);
	buf_free(&f.line);
	buf_free(&f.data);
	if (rc == -1)
		return cictl_error(ctx, "%s", err);
	if (f.conclusion[0] == '\0')
		return cictl_error(ctx, "job %lld: the log stream ended without "
		    "the job's conclusion%s", (long long)id, f.bad ?
		    " (malformed events)" : "");
	if (strcmp(f.conclusion, "success") != 0)
		return cictl_error(ctx, "job %lld concluded %s", (long long)id,
		    f.conclusion);
	return CICTL_OK;
}

int
cmd_runs_logs(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	char err[1024], path[64];
	int64_t id;
	int rc;

	if ((rc = runs_arg_id(ctx, args, "JOB_ID", &id)) != CICTL_OK)
		return rc;
	if (args->flag[0] != NULL || args->flag[1] != NULL)
		return runs_follow(ctx, id);
	snprintf(path, sizeof path, "/api/v1/jobs/%lld/logs", (long long)id);
	if (client_get_stream(ctx, path, ctx->out, err, sizeof err) == -1)
		return cictl_error(ctx, "%s", err);
	return CICTL_OK;
}
