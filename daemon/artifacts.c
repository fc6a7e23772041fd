/*
 * artifacts: kilnd's side of actions/upload-artifact's store (the worker
 * writes it: worker/actions/artifact.c).  The list of a run's artifacts
 * and each one's zip over HTTP, on the routes http.c flags HTTP_ADMIN |
 * HTTP_WEB like the run they belong to, so the same access rules apply;
 * and the expiry sweep the reaper timer starts: rows past expires_at are
 * deleted (one statement, at most ARTIFACTS_SWEEP_MAX a turn), then their
 * files.  Nothing here blocks on the database; the zip goes out with
 * evbuffer_add_file into a buffer that drains to the socket, never
 * mapped into kilnd.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "db.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

#define ARTIFACTS_SWEEP_MAX	500

/* GET /api/v1/runs/{id}/artifacts */
void
api_run_artifacts(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *params[1];
	char id[32];

	if (api_parse_id(req, args[0], id, sizeof id) == -1)
		return;
	params[0] = id;
	api_query(k, req, 200, "SELECT json_build_object('run_id', r.id, "
	    "'artifacts', (SELECT coalesce(json_agg(json_build_object("
	    "'id', a.id, 'name', a.name, 'size_bytes', a.size_bytes, "
	    "'sha256', a.sha256, 'job_id', a.job_id, 'job', j.name, "
	    "'created_at', a.created_at, 'expires_at', a.expires_at) "
	    "ORDER BY a.id), '[]') FROM artifacts a LEFT JOIN jobs j ON "
	    "j.id = a.job_id WHERE a.run_id = r.id AND a.expires_at > "
	    "now()))::text FROM runs r WHERE r.id = $1::bigint", 1, params);
}

struct artifacts_zip {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	int64_t			 id;
};

static void
artifacts_zip_cb(PGresult *res, const char *error, void *arg)
{
	struct artifacts_zip *z = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(z->req);
	struct evbuffer *body;
	struct stat st;
	char *path, hdr[400];
	int fd;

	if (error != NULL) {
		http_reply_error(z->req, 500, "database error");
		goto done;
	}
	if (PQntuples(res) == 0) {
		http_reply_error(z->req, 404, "no artifact %lld (or it "
		    "expired)", (long long)z->id);
		goto done;
	}
	path = xasprintf("%s/%s/%lld.zip", z->kilnd->cfg->artifacts_dir,
	    PQgetvalue(res, 0, 0), (long long)z->id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		log_warn("artifact %lld: %s", (long long)z->id, path);
		http_reply_error(z->req, 410, "artifact %lld has no file on "
		    "this server", (long long)z->id);
		if (fd != -1)
			close(fd);
		free(path);
		goto done;
	}
	free(path);
	/* The name passed the table's check: no quote, slash or control. */
	evhttp_add_header(out, "Content-Type", "application/zip");
	snprintf(hdr, sizeof hdr, "attachment; filename=\"%s.zip\"",
	    PQgetvalue(res, 0, 1));
	evhttp_add_header(out, "Content-Disposition", hdr);
	snprintf(hdr, sizeof hdr, "sha256:%s", PQgetvalue(res, 0, 2));
	evhttp_add_header(out, "X-Artifact-Digest", hdr);
	body = evbuffer_new();
	evbuffer_set_flags(body, EVBUFFER_FLAG_DRAINS_TO_FD);
	if (st.st_size > 0 && evhttp_request_get_command(z->req) !=
	    EVHTTP_REQ_HEAD)
		evbuffer_add_file(body, fd, 0, st.st_size);
	else
		close(fd);
	evhttp_send_reply(z->req, 200, "OK", body);
	evbuffer_free(body);
done:
	free(z);
}

/* GET /api/v1/artifacts/{id}/zip */
void
api_artifact_zip(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	struct artifacts_zip *z;
	const char *params[1];
	char id[32];

	if (api_parse_id(req, args[0], id, sizeof id) == -1)
		return;
	z = xcalloc(1, sizeof *z);
	z->kilnd = k;
	z->req = req;
	z->id = strtoll(id, NULL, 10);
	params[0] = id;
	if (db_query(k->db, "SELECT run_id, name, sha256 FROM artifacts "
	    "WHERE id = $1::bigint AND expires_at > now()", 1, params,
	    artifacts_zip_cb, z) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(z);
	}
}

static void
artifacts_sweep_cb(PGresult *res, const char *error, void *arg)
{
	struct kilnd *k = arg;
	char *path;
	int i;

	k->artifacts_sweeping = 0;
	if (error != NULL) {
		log_warnx("artifact expiry: %s", error);
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		path = xasprintf("%s/%s/%s.zip", k->cfg->artifacts_dir,
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("artifact expiry: %s", path);
		free(path);
		/* The run's directory goes with its last artifact. */
		path = xasprintf("%s/%s", k->cfg->artifacts_dir,
		    PQgetvalue(res, i, 0));
		(void)rmdir(path);
		free(path);
	}
	if (PQntuples(res) > 0)
		log_info("artifact expiry: deleted %d artifact(s)",
		    PQntuples(res));
}

void
artifacts_sweep(struct kilnd *k)
{
	char limit[16];
	const char *params[1] = { limit };

	if (k->artifacts_sweeping || db_connected(k->db) == 0)
		return;
	snprintf(limit, sizeof limit, "%d", ARTIFACTS_SWEEP_MAX);
	if (db_query(k->db, "DELETE FROM artifacts WHERE id IN (SELECT id "
	    "FROM artifacts WHERE expires_at <= now() ORDER BY expires_at "
	    "LIMIT $1::int FOR UPDATE SKIP LOCKED) RETURNING run_id, id", 1,
	    params, artifacts_sweep_cb, k) == 0)
		k->artifacts_sweeping = 1;
}
