/*
 * runctl: cancel and re-run by hand, for the admin API and the web page's
 * buttons.  Each request is one asynchronous statement calling the state
 * machine's SQL function (sql/006_sched.sql), which takes the run's locks
 * in the documented order; the answer comes back through a callback as an
 * HTTP-like code and a one-line message, so both callers word it alike.
 *
 * Also the admin API handlers over it (POST /api/v1/runs/{id}/cancel,
 * /runs/{id}/rerun, /jobs/{id}/cancel).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include <jansson.h>

#include "db.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

enum runctl_op {
	RUNCTL_CANCEL_RUN,
	RUNCTL_CANCEL_JOB,
	RUNCTL_RERUN,
};

struct runctl_req {
	enum runctl_op	 op;
	int64_t		 id;
	int		 failed_only;
	runctl_cb	 cb;
	void		*arg;
};

static void
runctl_done_cb(PGresult *res, const char *error, void *arg)
{
	struct runctl_req *r = arg;
	const char *what = r->op == RUNCTL_CANCEL_JOB ? "job" : "run";
	char msg[256], why[300];
	const char *v;
	int64_t n = 0;
	int code = 200;

	if (error != NULL) {
		log_warnx("%s %lld: %s", what, (long long)r->id,
		    log_escape(error, 200, why, sizeof why));
		r->cb(500, "database error", 0, r->arg);
		free(r);
		return;
	}
	v = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
	if (r->op == RUNCTL_RERUN) {
		n = strtoll(v, NULL, 10);
		if (n == -1) {
			code = 404;
			snprintf(msg, sizeof msg, "no run %lld",
			    (long long)r->id);
		} else if (n == -2) {
			code = 409;
			snprintf(msg, sizeof msg, "run %lld has not completed; "
			    "cancel it first", (long long)r->id);
		} else if (n == -3) {
			code = 409;
			snprintf(msg, sizeof msg, "run %lld has no failed job "
			    "to re-run", (long long)r->id);
		} else
			snprintf(msg, sizeof msg, "run %lld: attempt %lld "
			    "queued", (long long)r->id, (long long)n);
	} else if (strcmp(v, "absent") == 0) {
		code = 404;
		snprintf(msg, sizeof msg, "no %s %lld", what, (long long)r->id);
	} else if (strcmp(v, "completed") == 0) {
		code = 409;
		snprintf(msg, sizeof msg, "%s %lld has completed already", what,
		    (long long)r->id);
	} else
		snprintf(msg, sizeof msg, "%s %lld: cancel requested", what,
		    (long long)r->id);
	if (code == 200)
		log_info("%s", msg);
	r->cb(code, msg, n > 0 ? n : 0, r->arg);
	free(r);
}

static int
runctl_send(struct kilnd *k, enum runctl_op op, int64_t id, int failed_only,
    runctl_cb cb, void *arg)
{
	static const char *const sql[] = {
		[RUNCTL_CANCEL_RUN] = "SELECT kiln_request_cancel_run($1::bigint)",
		[RUNCTL_CANCEL_JOB] = "SELECT kiln_request_cancel_job($1::bigint)",
		[RUNCTL_RERUN] = "SELECT kiln_rerun($1::bigint, $2::boolean)",
	};
	struct runctl_req *r = xcalloc(1, sizeof *r);
	char idbuf[32];
	const char *params[2] = { idbuf, failed_only ? "true" : "false" };

	r->op = op;
	r->id = id;
	r->failed_only = failed_only;
	r->cb = cb;
	r->arg = arg;
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	if (db_query(k->db, sql[op], op == RUNCTL_RERUN ? 2 : 1, params,
	    runctl_done_cb, r) == -1) {
		free(r);
		return -1;
	}
	return 0;
}

int
runctl_cancel_run(struct kilnd *k, int64_t run, runctl_cb cb, void *arg)
{
	return runctl_send(k, RUNCTL_CANCEL_RUN, run, 0, cb, arg);
}

int
runctl_cancel_job(struct kilnd *k, int64_t job, runctl_cb cb, void *arg)
{
	return runctl_send(k, RUNCTL_CANCEL_JOB, job, 0, cb, arg);
}

int
runctl_rerun(struct kilnd *k, int64_t run, int failed_only, runctl_cb cb,
    void *arg)
{
	return runctl_send(k, RUNCTL_RERUN, run, failed_only, cb, arg);
}

/* ---- admin API ---- */

static void
runctl_api_cb(int code, const char *msg, int64_t attempt, void *arg)
{
	struct evhttp_request *req = arg;
	json_t *o;
	char *text;

	if (code != 200) {
		http_reply_error(req, code, "%s", msg);
		return;
	}
	o = json_pack("{s:s}", "message", msg);
	if (attempt > 0)
		json_object_set_new(o, "run_attempt", json_integer(attempt));
	text = json_dumps(o, JSON_COMPACT);
	http_reply_json(req, 200, text);
	free(text);
	json_decref(o);
}

static int
runctl_api_id(struct evhttp_request *req, const char *text, int64_t *id)
{
	const char *errstr;

	if (parse_int64(text, 1, INT64_MAX, id, &errstr) == -1) {
		http_reply_error(req, 400, "bad id \"%.32s\": %s", text, errstr);
		return -1;
	}
	return 0;
}

void
api_run_cancel(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	int64_t id;

	if (runctl_api_id(req, args[0], &id) == 0 &&
	    runctl_cancel_run(k, id, runctl_api_cb, req) == -1)
		http_reply_error(req, 503, "database queue is full; retry");
}

void
api_job_cancel(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	int64_t id;

	if (runctl_api_id(req, args[0], &id) == 0 &&
	    runctl_cancel_job(k, id, runctl_api_cb, req) == -1)
		http_reply_error(req, 503, "database queue is full; retry");
}

/* Body: {"failed_only": true|false} or empty (every job). */
void
api_run_rerun(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;
	json_t *body = NULL, *f;
	int64_t id;
	int failed_only = 0;
	char text[1024];

	if (runctl_api_id(req, args[0], &id) == -1)
		return;
	if (len >= sizeof text) {
		http_reply_error(req, 413, "body larger than %zu bytes",
		    sizeof text - 1);
		return;
	}
	if (len > 0) {
		evbuffer_copyout(in, text, len);
		text[len] = '\0';
		body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
		if (body == NULL || !json_is_object(body)) {
			http_reply_error(req, 400, "body: expected a JSON object "
			    "(%s)", body ? "got another type" : jerr.text);
			json_decref(body);
			return;
		}
		f = json_object_get(body, "failed_only");
		if (f != NULL && !json_is_boolean(f)) {
			http_reply_error(req, 400, "field \"failed_only\" must "
			    "be true or false");
			json_decref(body);
			return;
		}
		failed_only = json_is_true(f);
		json_decref(body);
	}
	if (runctl_rerun(k, id, failed_only, runctl_api_cb, req) == -1)
		http_reply_error(req, 503, "database queue is full; retry");
}
