/*
 * web_page: the status page's files (web/, compiled in by embed.awk) and
 * the SVG badges, on the public listener.  The page is one HTML shell for
 * every page path; web/app.js reads the JSON API and renders with
 * textContent only.  Every answer carries a Content-Security-Policy that
 * allows script from this origin only (no inline script), nosniff, a
 * same-origin referrer policy and frame denial.  The shell and assets
 * hold no data, so they are served in every mode but off; the data behind
 * them is gated by [web] access (web_api.c).
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>


#include "db.h"
#include "embed.h"
#include "kilnd.h"
#include "log.h"
#include "sha256.h"
#include "util.h"

#define WEB_CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; " \
	"base-uri 'none'; form-action 'self'; object-src 'none'"

static void
web_security_headers(struct evkeyvalq *h)
{
	evhttp_add_header(h, "Content-Security-Policy", WEB_CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "same-origin");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
}

static const struct embed_file *
web_asset(const char *name)
{
	const struct embed_file *f;

	for (f = embed_web; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static const char *
web_type(const char *name)
{
	if (str_has_suffix(name, ".js"))
		return "text/javascript; charset=utf-8";
	if (str_has_suffix(name, ".css"))
		return "text/css; charset=utf-8";
	return "text/html; charset=utf-8";
}

/* Serve an embedded file with a content ETag; 304 when it matches. */
static void
web_send_asset(struct evhttp_request *req, const struct embed_file *f,
    const char *cache)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *inm = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "If-None-Match");
	unsigned char md[SHA256_LEN];
	char hex[65], etag[72];
	struct evbuffer *b;

	sha256_digest(f->data, strlen(f->data), md);
	hex_encode(md, 8, hex);
	snprintf(etag, sizeof etag, "\"%s\"", hex);
	web_security_headers(out);
	evhttp_add_header(out, "ETag", etag);
	evhttp_add_header(out, "Cache-Control", cache);
	if (inm != NULL && strcmp(inm, etag) == 0) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return;
	}
	evhttp_add_header(out, "Content-Type", web_type(f->name));
	b = evbuffer_new();
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add_reference(b, f->data, strlen(f->data), NULL, NULL);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

void
web_page(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const struct embed_file *f;

	if (strcmp(k->cfg->web_access, "off") == 0) {
		http_reply_error(req, 404, "the status page is off");
		return;
	}
	if ((f = web_asset("index.html")) == NULL) {
		http_reply_error(req, 500, "the page is not built in");
		return;
	}
	/* The shell is small and holds no data: revalidate every time. */
	web_send_asset(req, f, "no-cache");
}

void
web_asset_get(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const struct embed_file *f;

	if (strcmp(k->cfg->web_access, "off") == 0) {
		http_reply_error(req, 404, "the status page is off");
		return;
	}
	if (strcmp(args[0], "index.html") == 0 ||
	    (f = web_asset(args[0])) == NULL) {
		http_reply_error(req, 404, "no such asset");
		return;
	}
	web_send_asset(req, f, "public, max-age=300, must-revalidate");
}

/* ---- badges ---- */

struct web_badge {
	struct evhttp_request	*req;
	char			 label[128];
};

/* s with &, <, >, " and ' as XML entities, cut at max bytes of input. */
static void
web_xml(struct evbuffer *b, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < max; i++) {
		switch (s[i]) {
		case '&': evbuffer_add_printf(b, "&amp;"); break;
		case '<': evbuffer_add_printf(b, "&lt;"); break;
		case '>': evbuffer_add_printf(b, "&gt;"); break;
		case '"': evbuffer_add_printf(b, "&quot;"); break;
		case '\'': evbuffer_add_printf(b, "&#39;"); break;
		default:
			if ((unsigned char)s[i] >= 0x20)
				evbuffer_add(b, s + i, 1);
		}
	}
}

static void
web_badge_cb(PGresult *res, const char *error, void *arg)
{
	struct web_badge *bd = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(bd->req);
	const char *msg = "no runs", *color = "#9f9f9f";
	struct evbuffer *b;
	int lw, mw;

	if (error != NULL) {
		http_reply_error(bd->req, 500, "database error");
		free(bd);
		return;
	}
	if (PQntuples(res) == 1) {
		msg = PQgetvalue(res, 0, 0);
		color = strcmp(msg, "success") == 0 ? "#2ea44f" :
		    strcmp(msg, "failure") == 0 || strcmp(msg, "timed_out") ==
		    0 ? "#cf222e" : "#6e7781";
		if (strcmp(msg, "success") == 0)
			msg = "passing";
		else if (strcmp(msg, "failure") == 0)
			msg = "failing";
	}
	lw = 10 + 7 * (int)strlen(bd->label);
	mw = 10 + 7 * (int)strlen(msg);
	b = evbuffer_new();
	evbuffer_add_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"20\" role=\"img\" aria-label=\"", lw + mw);
	web_xml(b, bd->label, sizeof bd->label);
	evbuffer_add_printf(b, ": %s\"><rect width=\"%d\" height=\"20\" "
	    "fill=\"#555\"/><rect x=\"%d\" width=\"%d\" height=\"20\" "
	    "fill=\"%s\"/><g fill=\"#fff\" font-family=\"Verdana,DejaVu Sans,"
	    "sans-serif\" font-size=\"11\"><text x=\"5\" y=\"14\">", msg, lw,
	    lw, mw, color);
	web_xml(b, bd->label, sizeof bd->label);
	evbuffer_add_printf(b, "</text><text x=\"%d\" y=\"14\">%s</text></g>"
	    "</svg>\n", lw + 5, msg);
	evhttp_add_header(out, "Content-Type", "image/svg+xml");
	evhttp_add_header(out, "Cache-Control", "no-cache");
	web_security_headers(out);
	evhttp_send_reply(bd->req, 200, "OK", b);
	evbuffer_free(b);
	free(bd);
}

/*
 * GET /badge/OWNER/NAME.svg?branch=B&workflow=FILE: the conclusion of the
 * latest completed run (default branch unless given; any workflow unless
 * given): passing green, failing or timed out red, others grey.
 */
void
web_badge(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = evhttp_uri_get_query(uri), *params[3];
	char full[256];
	struct web_badge *bd;
	struct evkeyvalq q;
	size_t n = strlen(args[1]);

	if (n <= 4 || !str_has_suffix(args[1], ".svg")) {
		http_reply_error(req, 404, "a badge is /badge/OWNER/NAME.svg");
		return;
	}
	snprintf(full, sizeof full, "%s/%.*s", args[0], (int)(n - 4), args[1]);
	if (!api_valid_repo_name(full)) {
		http_reply_error(req, 400, "bad repository name");
		return;
	}
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		http_reply_error(req, 400, "malformed query string");
		return;
	}
	params[0] = full;
	params[1] = evhttp_find_header(&q, "branch");
	params[2] = evhttp_find_header(&q, "workflow");
	if ((params[1] && strlen(params[1]) > 255) || (params[2] &&
	    strlen(params[2]) > 255)) {
		http_reply_error(req, 400, "branch or workflow too long");
		evhttp_clear_headers(&q);
		return;
	}
	bd = xcalloc(1, sizeof *bd);
	bd->req = req;
	snprintf(bd->label, sizeof bd->label, "%s", params[2] ? params[2] :
	    "build");
	/* The latest completed run: a running one says nothing yet. */
	if (db_query(k->db, "SELECT coalesce(r.conclusion, 'completed') "
	    "FROM runs r JOIN repositories p ON p.id = r.repository_id "
	    "WHERE p.full_name = $1 AND r.head_branch = coalesce($2, "
	    "p.default_branch) AND r.status = 'completed' AND "
	    "($3::text IS NULL OR r.path = "
	    "'.github/workflows/' || $3 OR r.path = $3) "
	    "ORDER BY r.id DESC LIMIT 1", 3, params, web_badge_cb, bd) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(bd);
	}
	evhttp_clear_headers(&q);
}
