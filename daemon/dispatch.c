/*
 * dispatch: POST /api/v1/repos/{owner}/{name}/dispatches, a manual run
 * (workflow_dispatch).  kilnd checks what it can without the workflow
 * (the file name, the ref, the inputs' shape and count) and queues the
 * event; the worker that plans it reads the workflow at the ref's tip and
 * checks the inputs against its declarations (common/dispatch.c), making
 * the run or refusing, naming the input.  The request waits for that
 * answer -- polling the event row on a timer, never blocking the loop --
 * so the caller hears "refused: ..." or the run's id; past
 * DISPATCH_WAIT_MS it hears that the event is queued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <jansson.h>

#include "db.h"
#include "dispatch.h"
#include "connguard.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

#define DISPATCH_WAIT_MS	45000	/* below cictl's 60 s */
#define DISPATCH_POLL_MS	200
#define DISPATCH_MAX_BODY	(2 * 1024 * 1024)

struct dispatch_req {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	struct event		*timer;
	int64_t			 event_id;
	int64_t			 started_ms;
};

static void dispatch_poll_cb(evutil_socket_t, short, void *);

/* The client went away while we waited: nothing to answer any more. */
static void
dispatch_closed_cb(struct evhttp_connection *conn, void *arg)
{
	struct dispatch_req *d = arg;

	d->req = NULL;
}

/*
 * The request, to answer now: its connection's close no longer concerns
 * us (forgotten before the answer, which may end the request).
 */
static struct evhttp_request *
dispatch_detach(struct dispatch_req *d)
{
	struct evhttp_request *req = d->req;

	if (req != NULL)
		connguard_set_closecb(d->kilnd->guard,
		    evhttp_request_get_connection(req), NULL, NULL);
	d->req = NULL;
	return req;
}

static void
dispatch_free(struct dispatch_req *d)
{
	dispatch_detach(d);
	if (d->timer != NULL)
		event_free(d->timer);
	free(d);
}

static void
dispatch_arm(struct dispatch_req *d)
{
	struct timeval tv = { 0, DISPATCH_POLL_MS * 1000 };

	if (d->timer == NULL)
		d->timer = evtimer_new(d->kilnd->base, dispatch_poll_cb, d);
	evtimer_add(d->timer, &tv);
}

static void
dispatch_state_cb(PGresult *res, const char *error, void *arg)
{
	struct dispatch_req *d = arg;
	const char *status, *err;
	char body[256];

	if (d->req == NULL) {
		dispatch_free(d);
		return;
	}
	if (error != NULL || PQntuples(res) != 1) {
		http_reply_error(dispatch_detach(d), 500, "database error");
		dispatch_free(d);
		return;
	}
	status = PQgetvalue(res, 0, 0);
	err = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
	if (strcmp(status, "completed") == 0) {
		if (err != NULL)
			http_reply_error(dispatch_detach(d), 422, "%s", err);
		else
			http_reply_json(dispatch_detach(d), 201,
			    PQgetvalue(res, 0, 2));
		dispatch_free(d);
		return;
	}
	if (now_ms() - d->started_ms > DISPATCH_WAIT_MS) {
		snprintf(body, sizeof body, "{\"event_id\":%lld,\"runs\":[],"
		    "\"message\":\"queued; not planned yet\"}",
		    (long long)d->event_id);
		http_reply_json(dispatch_detach(d), 202, body);
		dispatch_free(d);
		return;
	}
	dispatch_arm(d);
}

static void
dispatch_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dispatch_req *d = arg;
	char id[32];
	const char *params[1] = { id };

	snprintf(id, sizeof id, "%lld", (long long)d->event_id);
	if (db_query(d->kilnd->db, "SELECT e.status, e.error, "
	    "json_build_object('event_id', e.id, 'runs', (SELECT "
	    "coalesce(json_agg(r.id ORDER BY r.id), '[]') FROM runs r WHERE "
	    "r.event_id = e.id))::text FROM events e WHERE e.id = $1::bigint",
	    1, params, dispatch_state_cb, d) == -1)
		dispatch_arm(d);	/* queue full: ask again later */
}

static void
dispatch_inserted_cb(PGresult *res, const char *error, void *arg)
{
	struct dispatch_req *d = arg;
	char why[300];

	if (d->req == NULL) {
		dispatch_free(d);
		return;
	}
	if (error != NULL) {
		log_warnx("dispatch: %s", log_escape(error, 200, why,
		    sizeof why));
		http_reply_error(dispatch_detach(d), 500, "database error");
		dispatch_free(d);
		return;
	}
	if (PQntuples(res) == 0) {
		http_reply_error(dispatch_detach(d), 404, "no such repository");
		dispatch_free(d);
		return;
	}
	d->event_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	log_info("dispatch: event %lld queued", (long long)d->event_id);
	dispatch_arm(d);
}

/* A workflow file name: letters, digits, '.', '_', '-', ending .yml/.yaml. */
static int
dispatch_valid_file(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 200 || s[0] == '.' ||
	    !(str_has_suffix(s, ".yml") || str_has_suffix(s, ".yaml")))
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* A ref: printable ASCII without space, '~', '^', ':', '\\', "..". */
static int
dispatch_valid_ref(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 255 || strstr(s, "..") != NULL || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || strchr("~^:\\?*[", s[i]))
			return 0;
	return 1;
}

void
api_dispatch(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *file, *ref, *key, *params[4];
	struct dispatch_req *d;
	json_t *body, *inputs, *v;
	json_error_t jerr;
	char repo[256], *text, *inputs_text;

	snprintf(repo, sizeof repo, "%s/%s", args[0], args[1]);
	if (!api_valid_repo_name(repo)) {
		http_reply_error(req, 400, "bad repository \"%.100s\"", repo);
		return;
	}
	if (len > DISPATCH_MAX_BODY) {
		http_reply_error(req, 413, "body larger than %d bytes",
		    DISPATCH_MAX_BODY);
		return;
	}
	text = xmalloc(len + 1);
	evbuffer_copyout(in, text, len);
	text[len] = '\0';
	body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!json_is_object(body)) {
		http_reply_error(req, 400, "body: expected a JSON object (%s)",
		    body ? "got another type" : jerr.text);
		json_decref(body);
		return;
	}
	file = json_string_value(json_object_get(body, "workflow"));
	ref = json_string_value(json_object_get(body, "ref"));
	inputs = json_object_get(body, "inputs");
	if (file == NULL || !dispatch_valid_file(file)) {
		http_reply_error(req, 400, "field \"workflow\" must be a file "
		    "name under .github/workflows (NAME.yml)");
		goto out;
	}
	if (ref != NULL && !dispatch_valid_ref(ref)) {
		http_reply_error(req, 400, "field \"ref\" is not a valid ref");
		goto out;
	}
	if (inputs != NULL && !json_is_object(inputs)) {
		http_reply_error(req, 400, "field \"inputs\" must be an object");
		goto out;
	}
	if (json_object_size(inputs) > DISPATCH_MAX_INPUTS) {
		http_reply_error(req, 422, "%zu inputs given; at most %d",
		    json_object_size(inputs), DISPATCH_MAX_INPUTS);
		goto out;
	}
	json_object_foreach(inputs, key, v)
		if (!json_is_string(v) && !json_is_boolean(v) &&
		    !json_is_number(v)) {
			http_reply_error(req, 400, "input '%.100s' must be a "
			    "string, boolean or number", key);
			goto out;
		}
	inputs_text = json_dumps(inputs ? inputs : json_object(),
	    JSON_COMPACT);
	d = xcalloc(1, sizeof *d);
	d->kilnd = k;
	d->req = req;
	d->started_ms = now_ms();
	connguard_set_closecb(k->guard, evhttp_request_get_connection(req),
	    dispatch_closed_cb, d);
	params[0] = repo;
	params[1] = ref;
	params[2] = file;
	params[3] = inputs_text;
	/*
	 * github.event as GitHub has it: inputs (as given; the run's
	 * inputs.* are typed from the workflow), ref, workflow, repository
	 * and sender.  sha is left NULL: the planner takes the ref's tip.
	 */
	if (db_query(k->db,
	    "WITH r AS (SELECT p.id, p.full_name, CASE WHEN $2::text LIKE "
	    "'refs/%' THEN $2 ELSE 'refs/heads/' || coalesce($2, "
	    "p.default_branch) END AS ref FROM repositories p WHERE "
	    "p.full_name = $1 AND p.removed_at IS NULL), "
	    "e AS (INSERT INTO events (repository_id, "
	    "event, ref, payload) SELECT r.id, 'workflow_dispatch', r.ref, "
	    "jsonb_build_object('inputs', $4::jsonb, 'ref', r.ref, "
	    "'workflow', '.github/workflows/' || $3, 'repository', "
	    "jsonb_build_object('full_name', r.full_name, 'name', "
	    "split_part(r.full_name, '/', 2), 'owner', jsonb_build_object("
	    "'login', split_part(r.full_name, '/', 1))), 'sender', "
	    "jsonb_build_object('login', 'kiln')) FROM r RETURNING id) "
	    "SELECT e.id, pg_notify('kiln_work', 'event') FROM e",
	    4, params, dispatch_inserted_cb, d) == -1) {
		http_reply_error(dispatch_detach(d), 503, "database queue is "
		    "full; retry");
		dispatch_free(d);
	}
	free(inputs_text);
out:
	json_decref(body);
}
