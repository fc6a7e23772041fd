/*
 * cmd_artifacts: "cictl artifacts RUN_ID [--json]" -- what a run's jobs
 * uploaded with actions/upload-artifact (daemon/artifacts.c), and
 * "cictl artifacts download ID -o FILE", one artifact's zip written to
 * FILE ("-": standard output) through a temporary file renamed into
 * place only once the whole answer arrived.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cictl.h"

static int
artifacts_download(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	const char *file = args->flag[1], *why;
	char err[1024], q[300], path[64], *tmp;
	int64_t id;
	FILE *f;

	if (args->argc != 2)
		return cictl_usage_error(ctx, args->entry, "expected "
		    "'download ID -o FILE'");
	if (cictl_parse_id(args->argv[1], &id, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad artifact id "
		    "'%s': %s", output_safe(args->argv[1], 32, q, sizeof q),
		    why);
	if (file == NULL || file[0] == '\0')
		return cictl_usage_error(ctx, args->entry, "download needs "
		    "-o FILE ('-' for standard output)");
	snprintf(path, sizeof path, "/api/v1/artifacts/%lld/zip",
	    (long long)id);
	if (strcmp(file, "-") == 0) {
		if (client_get_stream(ctx, path, ctx->out, err, sizeof err) ==
		    -1)
			return cictl_error(ctx, "artifact %lld: %s",
			    (long long)id, err);
		return CICTL_OK;
	}
	tmp = xasprintf("%s.part-%ld", file, (long)getpid());
	if ((f = fopen(tmp, "wbx")) == NULL) {
		int rc = cictl_error(ctx, "%s: %s", output_safe(tmp, 200, q,
		    sizeof q), strerror(errno));

		free(tmp);
		return rc;
	}
	if (client_get_stream(ctx, path, f, err, sizeof err) == -1) {
		fclose(f);
		unlink(tmp);
		free(tmp);
		return cictl_error(ctx, "artifact %lld: %s", (long long)id,
		    err);
	}
	if (fclose(f) == EOF || rename(tmp, file) == -1) {
		int rc = cictl_error(ctx, "%s: %s", output_safe(file, 200, q,
		    sizeof q), strerror(errno));

		unlink(tmp);
		free(tmp);
		return rc;
	}
	free(tmp);
	return CICTL_OK;
}

int
cmd_artifacts(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	static const char *const head[] = { "ID", "NAME", "SIZE", "JOB",
	    "EXPIRES", "SHA256" };
	const char *row[6], *why;
	char id[32], size[32], q[300], path[64], err[1024];
	struct buf raw = { 0 };
	struct table t;
	json_t *run, *list, *o;
	int64_t rid;
	size_t i;

	if (args->argc >= 1 && strcmp(args->argv[0], "download") == 0)
		return artifacts_download(ctx, args);
	if (args->argc != 1)
		return cictl_usage_error(ctx, args->entry, "expected RUN_ID");
	if (cictl_parse_id(args->argv[0], &rid, &why) == -1)
		return cictl_usage_error(ctx, args->entry, "bad RUN_ID '%s': "
		    "%s", output_safe(args->argv[0], 32, q, sizeof q), why);
	snprintf(path, sizeof path, "/api/v1/runs/%lld/artifacts",
	    (long long)rid);
	run = client_json(ctx, "GET", path, NULL, 0, NULL, args->flag[0] ?
	    &raw : NULL, err, sizeof err);
	if (run == NULL)
		return cictl_error(ctx, "run %lld: %s", (long long)rid, err);
	list = json_object_get(run, "artifacts");
	if (!json_is_array(list)) {
		json_decref(run);
		buf_free(&raw);
		return cictl_error(ctx, "kilnd sent no artifact list for %s",
		    path);
	}
	if (args->flag[0] != NULL)
		output_json_raw(ctx->out, &raw);
	else if (json_array_size(list) == 0)
		fprintf(ctx->out, "run %lld has no artifacts\n",
		    (long long)rid);
	else {
		table_init(&t, 6, 100);
		table_add(&t, head);
		json_array_foreach(list, i, o) {
			row[0] = output_jint(o, "id", id, sizeof id);
			row[1] = output_jstr(o, "name");
			row[2] = output_jint(o, "size_bytes", size,
			    sizeof size);
			row[3] = output_jstr(o, "job");
			row[4] = output_jstr(o, "expires_at");
			row[5] = output_jstr(o, "sha256");
			table_add(&t, row);
		}
		table_print(&t, ctx->out, "");
		table_free(&t);
	}
	buf_free(&raw);
	json_decref(run);
	return CICTL_OK;
}
