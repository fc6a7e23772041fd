/*
 * web_api: the public listener's side of /api/v1 and the page.  Routes
 * flagged HTTP_WEB in http.c's table are served here behind [web] access:
 * off answers 404, public lets every reader in, token asks auth.c for the
 * request's credentials first.  HTTP_WEB_ADMIN routes (cancel, re-run) need
 * a token of scope admin in every mode and, from a page session, its CSRF
 * token.  Also the job object and the job log with byte ranges, which both
 * listeners serve.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>

#include "auth.h"
#include "db.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

struct web_gate {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	const struct http_route	*route;
	const char		*args[HTTP_MAX_ARGS];
	int			 nargs;
	char			 segs[1024];	/* the args' copies */
};

static void
web_gate_cb(const struct auth_result *r, void *arg)
{
	struct web_gate *g = arg;
	int admin = (g->route->flags & HTTP_WEB_ADMIN) != 0;

	if (r->error)
		http_reply_error(g->req, 503, "database unavailable");
	else if (r->scope == AUTH_NONE) {
		evhttp_add_header(evhttp_request_get_output_headers(g->req),
		    "WWW-Authenticate", "Bearer realm=\"kiln\"");
		http_reply_error(g->req, 401, "log in, or send "
		    "Authorization: Bearer with a token from cictl token create");
	} else if (admin && r->scope != AUTH_ADMIN)
		http_reply_error(g->req, 403, "token \"%s\" has scope read; "
		    "this needs admin", r->name);
	else if (admin && !auth_csrf_ok(g->req, r))
		http_reply_error(g->req, 403, "missing or wrong X-CSRF-Token");
	else
		g->route->handler(g->kilnd, g->req, g->args, g->nargs);
	free(g);
}

void
web_gate(struct kilnd *k, struct evhttp_request *req,
    const struct http_route *r, const char *const *args, int nargs)
{
	const char *access = k->cfg->web_access;
	int admin = (r->flags & HTTP_WEB_ADMIN) != 0;
	struct web_gate *g;
	size_t used = 0;
	int i;

	if (strcmp(access, "off") == 0) {
		http_reply_error(req, 404, "the status page is off");
		return;
	}
	if (!admin && strcmp(access, "public") == 0) {
		r->handler(k, req, args, nargs);
		return;
	}
	if (admin && !auth_same_origin(req)) {
		http_reply_error(req, 403, "cross-origin request refused");
		return;
	}
	g = xcalloc(1, sizeof *g);
	g->kilnd = k;
	g->req = req;
	g->route = r;
	g->nargs = nargs;
	for (i = 0; i < nargs; i++) {
		size_t n = strlen(args[i]) + 1;

		/* The args came from a 1024-byte path: they fit. */
		memcpy(g->segs + used, args[i], n);
		g->args[i] = g->segs + used;
		used += n;
	}
	if (auth_request(k, req, web_gate_cb, g) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(g);
	}
}

/* ---- the job log, whole or from a byte offset ---- */

struct web_log {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	int64_t			 id;
	int64_t			 step;		/* ?step=N, or 0 */
};

/*
 * "bytes=N-", "bytes=N-M" or "bytes=-N" (the last N) against size: the
 * first and last byte; 0, or -1 for a range this does not satisfy.
 */
static int
web_parse_range(const char *h, int64_t size, int64_t *first, int64_t *last)
{
	const char *dash, *errstr;
	char a[32], b[32];
	int64_t x, y;

	if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return -1;
	h += 6;
	if ((dash = strchr(h, '-')) == NULL || (size_t)(dash - h) >= sizeof a ||
	    strlen(dash + 1) >= sizeof b)
		return -1;
	snprintf(a, sizeof a, "%.*s", (int)(dash - h), h);
	snprintf(b, sizeof b, "%s", dash + 1);
	if (a[0] == '\0') {
		if (parse_int64(b, 1, INT64_MAX, &y, &errstr) == -1 || size == 0)
			return -1;
		*first = y >= size ? 0 : size - y;
		*last = size - 1;
		return 0;
	}
	if (parse_int64(a, 0, INT64_MAX, &x, &errstr) == -1 || x >= size)
		return -1;
	*first = x;
	*last = size - 1;
	if (b[0] != '\0') {
		if (parse_int64(b, x, INT64_MAX, &y, &errstr) == -1)
			return -1;
		if (y < *last)
			*last = y;
	}
	return 0;
}

static void
web_log_cb(PGresult *res, const char *error, void *arg)
{
	struct web_log *l = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(l->req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(l->req);
	const char *query = evhttp_uri_get_query(uri), *range, *off, *errstr;
	int64_t size = 0, first = 0, last = -1, offset = 0;
	struct evkeyvalq q;
	struct evbuffer *body;
	struct stat st;
	char path[4200], hdr[128];
	int fd, code = 200;

	TAILQ_INIT(&q);
	if (error != NULL) {
		http_reply_error(l->req, 500, "database error");
		goto done;
	}
	if (PQntuples(res) == 0) {
		http_reply_error(l->req, 404, "no job %lld", (long long)l->id);
		goto done;
	}
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		http_reply_error(l->req, 400, "malformed query string");
		goto done;
	}
	snprintf(path, sizeof path, "%s/%lld.log", l->kilnd->log_dir,
	    strtoll(PQgetvalue(res, 0, 0), NULL, 10));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd != -1 && fstat(fd, &st) == 0)
		size = st.st_size;
	range = evhttp_find_header(evhttp_request_get_input_headers(l->req),
	    "Range");
	off = evhttp_find_header(&q, "offset");
	if (off != NULL && parse_int64(off, 0, INT64_MAX, &offset,
	    &errstr) == -1) {
		http_reply_error(l->req, 400, "offset \"%.32s\": %s", off,
		    errstr);
		if (fd != -1)
			close(fd);
		goto done;
	}
	first = offset < size ? offset : size;
	last = size - 1;
	if (l->step > 0) {
		/* One step's part: from its start to the next one's. */
		if (strcmp(PQgetvalue(res, 0, 4), "t") != 0) {
			http_reply_error(l->req, 404, "job %lld has no step %lld",
			    (long long)l->id, (long long)l->step);
			if (fd != -1)
				close(fd);
			goto done;
		}
		first = PQgetisnull(res, 0, 2) ? size :
		    strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		if (first > size)
			first = size;	/* cut at [log] max_job_bytes */
		if (!PQgetisnull(res, 0, 3) &&
		    strtoll(PQgetvalue(res, 0, 3), NULL, 10) - 1 < last)
			last = strtoll(PQgetvalue(res, 0, 3), NULL, 10) - 1;
		range = NULL;
	}
	if (range != NULL) {
		if (web_parse_range(range, size, &first, &last) == -1) {
			snprintf(hdr, sizeof hdr, "bytes */%lld",
			    (long long)size);
			evhttp_add_header(out, "Content-Range", hdr);
			http_reply_error(l->req, 416, "range \"%.64s\" not "
			    "satisfiable for a log of %lld bytes", range,
			    (long long)size);
			if (fd != -1)
				close(fd);
			goto done;
		}
		code = 206;
		snprintf(hdr, sizeof hdr, "bytes %lld-%lld/%lld",
		    (long long)first, (long long)last, (long long)size);
		evhttp_add_header(out, "Content-Range", hdr);
	}
	evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
	evhttp_add_header(out, "Accept-Ranges", "bytes");
	evhttp_add_header(out, "Cache-Control", "no-cache");
	snprintf(hdr, sizeof hdr, "%lld", (long long)size);
	evhttp_add_header(out, "X-Log-Size", hdr);
	evhttp_add_header(out, "X-Job-Status", PQgetvalue(res, 0, 1));
	body = evbuffer_new();
	/*
	 * evbuffer_add_file() sends from the file only into a buffer that
	 * drains to a descriptor; into any other it maps the range, and a
	 * 200 MB log would count as 200 MB of kilnd's RSS.  This buffer is
	 * moved whole onto the connection's, which does drain to its socket.
	 */
	evbuffer_set_flags(body, EVBUFFER_FLAG_DRAINS_TO_FD);
	if (fd != -1 && last >= first && evhttp_request_get_command(l->req) !=
	    EVHTTP_REQ_HEAD)
		evbuffer_add_file(body, fd, first, last - first + 1);
	else if (fd != -1)
		close(fd);
	evhttp_send_reply(l->req, code, code == 206 ? "Partial Content" :
	    "OK", body);
	evbuffer_free(body);
done:
	evhttp_clear_headers(&q);
	free(l);
}

void
web_job_log(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	struct web_log *l;
	const char *params[2], *errstr, *query, *sv;
	struct evkeyvalq q;
	char id[32], step[32];
	int64_t n, sn = 0;

	if (parse_int64(args[0], 1, INT64_MAX, &n, &errstr) == -1) {
		http_reply_error(req, 400, "bad job id \"%.32s\": %s", args[0],
		    errstr);
		return;
	}
	TAILQ_INIT(&q);
	query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (query != NULL && evhttp_parse_query_str(query, &q) == 0 &&
	    (sv = evhttp_find_header(&q, "step")) != NULL &&
	    parse_int64(sv, 1, 100000, &sn, &errstr) == -1) {
		http_reply_error(req, 400, "step \"%.32s\": %s", sv, errstr);
		evhttp_clear_headers(&q);
		return;
	}
	evhttp_clear_headers(&q);
	snprintf(id, sizeof id, "%lld", (long long)n);
	snprintf(step, sizeof step, "%lld", (long long)sn);
	l = xcalloc(1, sizeof *l);
	l->kilnd = k;
	l->req = req;
	l->id = n;
	l->step = sn;
	params[0] = id;
	params[1] = step;
	/*
	 * A job a re-run kept shows the log of the attempt that ran it; with
	 * ?step=N, where that step's output starts and the next one's.
	 */
	if (db_query(k->db, "SELECT x.log_job, x.status, "
	    "(SELECT log_offset FROM steps WHERE job_id = x.log_job AND "
	    "number = $2::int), (SELECT min(log_offset) FROM steps WHERE "
	    "job_id = x.log_job AND number > $2::int), EXISTS (SELECT 1 FROM "
	    "steps WHERE job_id = x.log_job AND number = $2::int) "
	    "FROM (SELECT CASE WHEN j.kept THEN j.rerun_of ELSE j.id END "
	    "AS log_job, coalesce(o.status, j.status) AS status FROM jobs j "
	    "LEFT JOIN jobs o ON j.kept AND o.id = j.rerun_of "
	    "WHERE j.id = $1::bigint) x", 2, params, web_log_cb, l) == -1) {
		http_reply_error(req, 503, "database queue is full");
		free(l);
	}
}

/* ---- a step's summary, rendered ---- */

/*
 * GitHub's flavour: tables, strikethrough, autolinks, task lists.  Without
 * CMARK_OPT_UNSAFE raw HTML is left out and links to javascript:,
 * vbscript:, file: and most data: are dropped.  Caller frees.
 */
static char *
web_markdown(const char *md)
{
	static const char *const exts[] = { "table", "strikethrough",
	    "autolink", "tasklist" };
	cmark_parser *p;
	cmark_node *doc;
	char *html;
	size_t i;

	cmark_gfm_core_extensions_ensure_registered();
	p = cmark_parser_new(CMARK_OPT_DEFAULT);
	for (i = 0; i < nitems(exts); i++) {
		cmark_syntax_extension *e = cmark_find_syntax_extension(exts[i]);

		if (e != NULL)
			cmark_parser_attach_syntax_extension(p, e);
	}
	cmark_parser_feed(p, md, strlen(md));
	doc = cmark_parser_finish(p);
	html = cmark_render_html(doc, CMARK_OPT_DEFAULT,
	    cmark_parser_get_syntax_extensions(p));
	cmark_node_free(doc);
	cmark_parser_free(p);
	return html;
}

struct web_summary {
	struct evhttp_request	*req;
};

static void
web_summary_cb(PGresult *res, const char *error, void *arg)
{
	struct web_summary *w = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(w->req);
	struct evbuffer *b;
	const char *md;
	char *html;

	if (error != NULL)
		http_reply_error(w->req, 500, "database error");
	else if (PQntuples(res) == 0)
		http_reply_error(w->req, 404, "no such step");
	else {
		md = PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0);
		html = web_markdown(md);
		b = evbuffer_new();
		evbuffer_add(b, html, strlen(html));
		free(html);
		evhttp_add_header(out, "Content-Type", "text/html; charset=utf-8");
		evhttp_add_header(out, "Content-Security-Policy",
		    "default-src 'none'; img-src 'self' data:; sandbox");
		evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
		evhttp_send_reply(w->req, 200, "OK", b);
		evbuffer_free(b);
	}
	free(w);
}

/*
 * GET /api/v1/jobs/{id}/steps/{n}/summary: the step's GITHUB_STEP_SUMMARY
 * as HTML (CommonMark, raw HTML dropped).
 */
void
web_step_summary(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *params[2], *errstr;
	struct web_summary *w;
	char id[32], num[32];
	int64_t job, n;

	if (parse_int64(args[0], 1, INT64_MAX, &job, &errstr) == -1 ||
	    parse_int64(args[1], 1, 100000, &n, &errstr) == -1) {
		http_reply_error(req, 400, "bad job or step number: %s", errstr);
		return;
	}
	snprintf(id, sizeof id, "%lld", (long long)job);
	snprintf(num, sizeof num, "%lld", (long long)n);
	params[0] = id;
	params[1] = num;
	w = xcalloc(1, sizeof *w);
	w->req = req;
	if (db_query(k->db, "SELECT s.summary FROM jobs j JOIN steps s ON "
	    "s.job_id = CASE WHEN j.kept THEN j.rerun_of ELSE j.id END "
	    "WHERE j.id = $1::bigint AND s.number = $2::int", 2, params,
	    web_summary_cb, w) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(w);
	}
}
