/*
 * http: one route table for both listeners (public TCP, admin Unix socket).
 * 404 and 405 are decided here, in one place; handlers only see requests
 * that are theirs.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include <jansson.h>

#include "auth.h"
#include "connguard.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

#define HTTP_MAX_SEGMENTS	16

static const struct http_route http_routes[] = {
	{ EVHTTP_REQ_POST, "/hooks/github", HTTP_PUBLIC, webhook_github },
	{ EVHTTP_REQ_POST, "/hooks/github/*/*", HTTP_PUBLIC, webhook_github },
	{ EVHTTP_REQ_GET, "/healthz", HTTP_PUBLIC | HTTP_ADMIN, api_healthz },
	{ EVHTTP_REQ_GET, "/readyz", HTTP_PUBLIC | HTTP_ADMIN, api_readyz },
	{ EVHTTP_REQ_GET, "/metrics", HTTP_PUBLIC | HTTP_ADMIN, metrics_get },
	{ EVHTTP_REQ_GET, "/api/v1/status", HTTP_ADMIN, api_status },
	{ EVHTTP_REQ_GET, "/api/v1/workers", HTTP_ADMIN, api_workers },
	{ EVHTTP_REQ_GET, "/api/v1/queue", HTTP_ADMIN, api_queue },
	{ EVHTTP_REQ_GET, "/api/v1/triggers", HTTP_ADMIN, api_triggers },
	{ EVHTTP_REQ_GET, "/api/v1/outbox", HTTP_ADMIN, api_outbox_list },
	{ EVHTTP_REQ_POST, "/api/v1/outbox/*/retry", HTTP_ADMIN,
	    api_outbox_retry },
	{ EVHTTP_REQ_GET, "/api/v1/repos", HTTP_ADMIN | HTTP_WEB,
	    api_repos_list },
	{ EVHTTP_REQ_POST, "/api/v1/repos", HTTP_ADMIN, api_repos_add },
	{ EVHTTP_REQ_GET, "/api/v1/repos/*/*", HTTP_ADMIN, api_repo_show },
	{ EVHTTP_REQ_PATCH, "/api/v1/repos/*/*", HTTP_ADMIN, api_repo_edit },
	{ EVHTTP_REQ_DELETE, "/api/v1/repos/*/*", HTTP_ADMIN,
	    api_repo_remove },
	{ EVHTTP_REQ_GET, "/api/v1/runs", HTTP_ADMIN | HTTP_WEB,
	    api_runs_list },
	{ EVHTTP_REQ_GET, "/api/v1/runs/*", HTTP_ADMIN | HTTP_WEB,
	    api_run_show },
	{ EVHTTP_REQ_GET, "/api/v1/jobs/*", HTTP_ADMIN | HTTP_WEB,
	    api_job_show },
	{ EVHTTP_REQ_GET, "/api/v1/jobs/*/logs", HTTP_ADMIN | HTTP_WEB,
	    web_job_log },
	{ EVHTTP_REQ_GET, "/api/v1/jobs/*/logs/stream", HTTP_ADMIN | HTTP_WEB,
	    web_job_log_stream },
	{ EVHTTP_REQ_GET, "/api/v1/events", HTTP_ADMIN | HTTP_WEB, web_events },
	{ EVHTTP_REQ_GET, "/api/v1/jobs/*/steps/*/summary", HTTP_ADMIN |
	    HTTP_WEB, web_step_summary },
	{ EVHTTP_REQ_POST, "/api/v1/runs/*/cancel", HTTP_ADMIN | HTTP_WEB |
	    HTTP_WEB_ADMIN, api_run_cancel },
	{ EVHTTP_REQ_POST, "/api/v1/runs/*/rerun", HTTP_ADMIN | HTTP_WEB |
	    HTTP_WEB_ADMIN, api_run_rerun },
	{ EVHTTP_REQ_POST, "/api/v1/jobs/*/cancel", HTTP_ADMIN | HTTP_WEB |
	    HTTP_WEB_ADMIN, api_job_cancel },
	{ EVHTTP_REQ_GET, "/api/v1/repos/*/*/secrets", HTTP_ADMIN,
	    api_secrets_list },
	{ EVHTTP_REQ_PUT, "/api/v1/repos/*/*/secrets/*", HTTP_ADMIN,
	    api_secret_put },
	{ EVHTTP_REQ_DELETE, "/api/v1/repos/*/*/secrets/*", HTTP_ADMIN,
	    api_secret_delete },
	{ EVHTTP_REQ_GET, "/api/v1/schedules", HTTP_ADMIN, api_schedules_list },
	{ EVHTTP_REQ_POST, "/api/v1/repos/*/*/dispatches", HTTP_ADMIN,
	    api_dispatch },
	{ EVHTTP_REQ_GET, "/api/v1/repos/*/*/variables", HTTP_ADMIN,
	    api_vars_list },
	{ EVHTTP_REQ_PUT, "/api/v1/repos/*/*/variables/*", HTTP_ADMIN,
	    api_var_put },
	{ EVHTTP_REQ_DELETE, "/api/v1/repos/*/*/variables/*", HTTP_ADMIN,
	    api_var_delete },
	{ EVHTTP_REQ_GET, "/api/v1/caches", HTTP_ADMIN, api_caches_list },
	{ EVHTTP_REQ_DELETE, "/api/v1/caches/*", HTTP_ADMIN, api_cache_delete },
	{ EVHTTP_REQ_POST, "/api/v1/tokens", HTTP_ADMIN, auth_api_token_create },
	{ EVHTTP_REQ_GET, "/api/v1/tokens", HTTP_ADMIN, auth_api_token_list },
	{ EVHTTP_REQ_DELETE, "/api/v1/tokens/*", HTTP_ADMIN,
	    auth_api_token_revoke },
	{ EVHTTP_REQ_POST, "/api/v1/session", HTTP_PUBLIC, auth_api_login },
	{ EVHTTP_REQ_GET, "/api/v1/session", HTTP_PUBLIC, auth_api_session },
	{ EVHTTP_REQ_DELETE, "/api/v1/session", HTTP_PUBLIC, auth_api_logout },
	{ EVHTTP_REQ_GET, "/", HTTP_PUBLIC, web_page },
	{ EVHTTP_REQ_GET, "/login", HTTP_PUBLIC, web_page },
	{ EVHTTP_REQ_GET, "/repos/*/*", HTTP_PUBLIC, web_page },
	{ EVHTTP_REQ_GET, "/runs/*", HTTP_PUBLIC, web_page },
	{ EVHTTP_REQ_GET, "/jobs/*", HTTP_PUBLIC, web_page },
	{ EVHTTP_REQ_GET, "/assets/*", HTTP_PUBLIC, web_asset_get },
	{ EVHTTP_REQ_GET, "/badge/*/*", HTTP_WEB, web_badge },
	{ EVHTTP_REQ_GET, "/api/v1/runs/*/artifacts", HTTP_ADMIN | HTTP_WEB,
	    api_run_artifacts },
	{ EVHTTP_REQ_GET, "/api/v1/artifacts/*/zip", HTTP_ADMIN | HTTP_WEB,
	    api_artifact_zip },
};

struct http_listener {
	struct kilnd	*kilnd;
	int		 flag;
};

void
http_reply_json(struct evhttp_request *req, int code, const char *json)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add(out, json, strlen(json));
	evbuffer_add(out, "\n", 1);
	evhttp_send_reply(req, code, NULL, out);
	evbuffer_free(out);
}

void
http_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[1024];
	json_t *obj;
	char *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	obj = json_pack("{s:s}", "error", msg);
	text = json_dumps(obj, JSON_COMPACT);
	http_reply_json(req, code, text);
	free(text);
	json_decref(obj);
}

/*
 * Match path against a pattern segment by segment; "*" captures a segment
 * (pointers into segbuf).  Returns 1 on a match.
 */
static int
http_match(const char *pattern, const char *path, char *segbuf, size_t segsz,
    const char **args, int *nargs)
{
	const char *p = pattern, *s;
	char *out = segbuf;

	*nargs = 0;
	if (strlen(path) >= segsz)
		return 0;
	snprintf(segbuf, segsz, "%s", path);
	s = segbuf;
	while (*p != '\0' && *s != '\0') {
		if (*p == '*') {
			const char *start = s;

			while (*s != '\0' && *s != '/')
				s++;
			if (s == start || *nargs >= HTTP_MAX_ARGS)
				return 0;
			args[(*nargs)++] = start;
			p++;
			if (*s == '/') {
				if (*p != '/')
					return 0;
				out = (char *)s;
				*out = '\0';
				s++;
				p++;
			}
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

static void
http_dispatch_cb(struct evhttp_request *req, void *arg)
{
	struct http_listener *l = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const char *args[HTTP_MAX_ARGS];
	char segbuf[1024];
	int nargs, path_known = 0;
	size_t i;

	if (path == NULL || path[0] == '\0')
		path = "/";
	for (i = 0; i < nitems(http_routes); i++) {
		const struct http_route *r = &http_routes[i];
		int web = l->flag == HTTP_PUBLIC && (r->flags & HTTP_WEB);
		/* The remote listener serves the admin socket's routes. */
		int remote = l->flag == HTTP_REMOTE && (r->flags & HTTP_ADMIN);

		if ((r->flags & l->flag) == 0 && !web && !remote)
			continue;
		if (!http_match(r->pattern, path, segbuf, sizeof segbuf, args,
		    &nargs))
			continue;
		path_known = 1;
		if (r->method != method &&
		    !(r->method == EVHTTP_REQ_GET && method == EVHTTP_REQ_HEAD))
			continue;
		if (l->flag == HTTP_PUBLIC && l->kilnd->guard != NULL)
			connguard_request_done(l->kilnd->guard, req);
		if (web)
			web_gate(l->kilnd, req, r, args, nargs);
		else if (l->flag == HTTP_REMOTE)
			remote_gate(l->kilnd, req, r, args, nargs);
		else
			r->handler(l->kilnd, req, args, nargs);
		return;
	}
	if (path_known)
		http_reply_error(req, 405, "method not allowed for %s", path);
	else
		http_reply_error(req, 404, "no such resource: %s", path);
}

struct http_listener *
http_attach(struct kilnd *k, struct evhttp *http, int listener_flag)
{
	struct http_listener *l = xcalloc(1, sizeof *l);

	l->kilnd = k;
	l->flag = listener_flag;
	evhttp_set_gencb(http, http_dispatch_cb, l);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_PATCH);
	evhttp_set_timeout(http, 60);
	return l;
}

int
http_listen_tcp(struct evhttp *http, const char *hostport,
    struct evhttp_bound_socket **bound, char *err, size_t errsz)
{
	char host[256];
	const char *colon, *errstr;
	int64_t port;

	colon = strrchr(hostport, ':');
	if (colon == NULL || colon == hostport) {
		snprintf(err, errsz, "listen \"%s\": expected host:port",
		    hostport);
		return -1;
	}
	if (parse_int64(colon + 1, 0, 65535, &port, &errstr) == -1) {
		snprintf(err, errsz, "listen \"%s\": port %s", hostport, errstr);
		return -1;
	}
	if (hostport[0] == '[' && colon[-1] == ']')
		snprintf(host, sizeof host, "%.*s", (int)(colon - hostport - 2),
		    hostport + 1);
	else
		snprintf(host, sizeof host, "%.*s", (int)(colon - hostport),
		    hostport);
	if ((*bound = evhttp_bind_socket_with_handle(http, host,
	    (unsigned short)port)) == NULL) {
		snprintf(err, errsz, "listen on %s: %s", hostport,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
http_listen_unix(struct event_base *base, struct evhttp *http,
    const char *path, char *err, size_t errsz)
{
	struct sockaddr_un sun;
	struct evconnlistener *lev;
	mode_t old_mask;
	int fd, rc;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errsz, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	unlink(path);
	/* Born 0600: no moment at the umask's permissions. */
	old_mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old_mask);
	if (rc == -1 || chmod(path, 0600) == -1 || listen(fd, 128) == -1) {
		snprintf(err, errsz, "admin socket %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	lev = evconnlistener_new(base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (lev == NULL || evhttp_bind_listener(http, lev) == NULL) {
		snprintf(err, errsz, "admin socket %s: cannot listen", path);
		return -1;
	}
	return 0;
}
