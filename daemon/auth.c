/*
 * auth: see auth.h.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "auth.h"
#include "db.h"
#include "kilnd.h"
#include "log.h"
#include "sha256.h"
#include "util.h"

#define AUTH_MAX_BODY	4096
#define AUTH_MAX_NAME	100

struct auth_q {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	auth_cb			 cb;
	void			*arg;
	int			 via_session;
	char			 secret[AUTH_TOKEN_LEN + 1]; /* session: cookie */
};

void
auth_hash(const char *s, char out[65])
{
	unsigned char md[SHA256_LEN];

	sha256_digest(s, strlen(s), md);
	hex_encode(md, sizeof md, out);
}

/* "kiln_" + 64 lowercase hex digits (tokens) or 64 hex digits (cookies). */
static int
auth_well_formed(const char *s, const char *prefix)
{
	size_t plen = strlen(prefix), i;

	if (strncmp(s, prefix, plen) != 0 || strlen(s) != plen + 64)
		return 0;
	for (i = plen; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return 1;
}

static void
auth_random_hex(char out[65])
{
	unsigned char raw[32];

	if (random_bytes(raw, sizeof raw) == -1)
		abort();	/* no randomness: nothing safe to hand out */
	hex_encode(raw, sizeof raw, out);
	OPENSSL_cleanse(raw, sizeof raw);
}

/* Columns: scope, id, name[, csrf]. */
static void
auth_check_cb(PGresult *res, const char *error, void *arg)
{
	struct auth_q *q = arg;
	struct auth_result r;

	memset(&r, 0, sizeof r);
	if (error != NULL) {
		char why[512];

		log_warnx("checking a token: %s", log_escape(error, 300, why,
		    sizeof why));
		r.error = 1;
	} else if (PQntuples(res) == 1) {
		r.scope = strcmp(PQgetvalue(res, 0, 0), "admin") == 0 ?
		    AUTH_ADMIN : AUTH_READ;
		r.token_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		snprintf(r.name, sizeof r.name, "%s", PQgetvalue(res, 0, 2));
		r.via_session = q->via_session;
		if (q->via_session)
			snprintf(r.csrf, sizeof r.csrf, "%s",
			    PQgetvalue(res, 0, 3));
	}
	q->cb(&r, q->arg);
	OPENSSL_cleanse(q->secret, sizeof q->secret);
	free(q);
}

static int
auth_lookup(struct kilnd *k, const char *secret, int via_session, auth_cb cb,
    void *arg)
{
	struct auth_q *q;
	const char *params[1];
	char hash[65];

	q = xcalloc(1, sizeof *q);
	q->kilnd = k;
	q->cb = cb;
	q->arg = arg;
	q->via_session = via_session;
	/* A malformed secret hashes to nothing stored: one path for all. */
	auth_hash(secret, hash);
	params[0] = hash;
	if (db_query(k->db, via_session ?
	    "SELECT t.scope, t.id, t.name, s.csrf FROM web_sessions s "
	    "JOIN api_tokens t ON t.id = s.token_id "
	    "WHERE s.session_hash = $1 AND s.expires_at > now()" :
	    "UPDATE api_tokens SET last_used_at = now() "
	    "WHERE token_hash = $1 RETURNING scope, id, name",
	    1, params, auth_check_cb, q) == -1) {
		free(q);
		return -1;
	}
	return 0;
}

int
auth_token_check(struct kilnd *k, const char *token, auth_cb cb, void *arg)
{
	return auth_lookup(k, token, 0, cb, arg);
}

/* The value of cookie name in the Cookie header, or NULL; bounded. */
static int
auth_cookie(struct evhttp_request *req, const char *name, char *out,
    size_t outsz)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Cookie");
	size_t nlen = strlen(name);

	while (h != NULL && *h != '\0') {
		const char *end;

		while (*h == ' ' || *h == ';')
			h++;
		end = strchr(h, ';');
		if (end == NULL)
			end = h + strlen(h);
		if (strncmp(h, name, nlen) == 0 && h[nlen] == '=') {
			size_t vlen = (size_t)(end - h) - nlen - 1;

			if (vlen >= outsz)
				return -1;
			memcpy(out, h + nlen + 1, vlen);
			out[vlen] = '\0';
			return 0;
		}
		h = end;
	}
	return -1;
}

int
auth_request(struct kilnd *k, struct evhttp_request *req, auth_cb cb,
    void *arg)
{
	const char *authz = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization");
	char secret[AUTH_TOKEN_LEN + 1];
	int rc;

	if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
		authz += 7;
		while (*authz == ' ')
			authz++;
		return auth_lookup(k, authz, 0, cb, arg);
	}
	if (auth_cookie(req, AUTH_SESSION_COOKIE, secret, sizeof secret) == 0 &&
	    auth_well_formed(secret, "")) {
		rc = auth_lookup(k, secret, 1, cb, arg);
		OPENSSL_cleanse(secret, sizeof secret);
		return rc;
	}
	{
		struct auth_result none;

		memset(&none, 0, sizeof none);
		cb(&none, arg);
	}
	return 0;
}

int
auth_csrf_ok(struct evhttp_request *req, const struct auth_result *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-CSRF-Token");

	if (!r->via_session)
		return 1;	/* a Bearer token is not sent by browsers */
	if (h == NULL || strlen(h) != strlen(r->csrf) || r->csrf[0] == '\0')
		return 0;
	return CRYPTO_memcmp(h, r->csrf, strlen(h)) == 0;
}

/* ---- the admin socket: tokens ---- */

struct auth_api {
	struct evhttp_request	*req;
	char			 token[AUTH_TOKEN_LEN + 1];
	char			 session[65];
	int			 form;		/* answer the login with 303 */
	int			 hours;
};

static void
auth_db_error(struct evhttp_request *req, const char *what, const char *error)
{
	char why[512];

	log_warnx("%s: %s", what, log_escape(error, 300, why, sizeof why));
	http_reply_error(req, 500, "database error");
}

static void
auth_token_created_cb(PGresult *res, const char *error, void *arg)
{
	struct auth_api *a = arg;
	json_t *obj;
	char *text;

	if (error != NULL) {
		if (res != NULL && PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
		    strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE),
		    "23505") == 0)
			http_reply_error(a->req, 409, "a token of that name "
			    "exists; revoke it first");
		else
			auth_db_error(a->req, "creating a token", error);
	} else {
		obj = json_pack("{s:I,s:s,s:s,s:s,s:s}", "id",
		    (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10),
		    "name", PQgetvalue(res, 0, 1), "scope",
		    PQgetvalue(res, 0, 2), "created_at", PQgetvalue(res, 0, 3),
		    "token", a->token);
		text = json_dumps(obj, JSON_COMPACT);
		http_reply_json(a->req, 201, text);
		OPENSSL_cleanse(text, strlen(text));
		free(text);
		json_decref(obj);
	}
	OPENSSL_cleanse(a->token, sizeof a->token);
	free(a);
}

/* The body as a JSON object, or NULL after answering 400/413. */
static json_t *
auth_body_json(struct evhttp_request *req)
{
	struct evbuffer *buf = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(buf);
	json_error_t jerr;
	char text[AUTH_MAX_BODY + 1];
	json_t *body;

	if (len > AUTH_MAX_BODY) {
		http_reply_error(req, 413, "body larger than %d bytes",
		    AUTH_MAX_BODY);
		return NULL;
	}
	evbuffer_copyout(buf, text, len);
	text[len] = '\0';
	body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	OPENSSL_cleanse(text, len);
	if (body == NULL || !json_is_object(body)) {
		http_reply_error(req, 400, "body: expected a JSON object (%s)",
		    body ? "got another type" : jerr.text);
		json_decref(body);
		return NULL;
	}
	return body;
}

static int
auth_valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > AUTH_MAX_NAME)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

void
auth_api_token_create(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *name, *scope, *params[3];
	struct auth_api *a;
	char hash[65], rnd[65];
	json_t *body;

	if ((body = auth_body_json(req)) == NULL)
		return;
	name = json_string_value(json_object_get(body, "name"));
	scope = json_string_value(json_object_get(body, "scope"));
	if (scope == NULL)
		scope = "read";
	if (name == NULL || !auth_valid_name(name)) {
		http_reply_error(req, 400, "field \"name\" must be 1 to %d "
		    "letters, digits, '-', '_' or '.'", AUTH_MAX_NAME);
		goto out;
	}
	if (strcmp(scope, "read") != 0 && strcmp(scope, "admin") != 0) {
		http_reply_error(req, 400, "field \"scope\" must be \"read\" "
		    "or \"admin\"");
		goto out;
	}
	a = xcalloc(1, sizeof *a);
	a->req = req;
	auth_random_hex(rnd);
	snprintf(a->token, sizeof a->token, "%s%s", AUTH_TOKEN_PREFIX, rnd);
	OPENSSL_cleanse(rnd, sizeof rnd);
	auth_hash(a->token, hash);
	params[0] = name;
	params[1] = scope;
	params[2] = hash;
	if (db_query(k->db, "INSERT INTO api_tokens (name, scope, token_hash) "
	    "VALUES ($1, $2, $3) RETURNING id, name, scope, created_at",
	    3, params, auth_token_created_cb, a) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		OPENSSL_cleanse(a->token, sizeof a->token);
		free(a);
	}
out:
	json_decref(body);
}

static void
auth_json_cb(PGresult *res, const char *error, void *arg)
{
	struct auth_api *a = arg;

	if (error != NULL)
		auth_db_error(a->req, "tokens", error);
	else if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		http_reply_error(a->req, 404, "no such token");
	else
		http_reply_json(a->req, 200, PQgetvalue(res, 0, 0));
	free(a);
}

static void
auth_query_json(struct kilnd *k, struct evhttp_request *req, const char *sql,
    int nparams, const char *const *params)
{
	struct auth_api *a = xcalloc(1, sizeof *a);

	a->req = req;
	if (db_query(k->db, sql, nparams, params, auth_json_cb, a) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(a);
	}
}

void
auth_api_token_list(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	auth_query_json(k, req, "SELECT coalesce(json_agg(json_build_object("
	    "'id', id, 'name', name, 'scope', scope, 'created_at', created_at, "
	    "'last_used_at', last_used_at) ORDER BY name), '[]') "
	    "FROM api_tokens", 0, NULL);
}

void
auth_api_token_revoke(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *params[1] = { args[0] };

	/* Its sessions go with it (ON DELETE CASCADE). */
	auth_query_json(k, req, "DELETE FROM api_tokens WHERE name = $1 "
	    "RETURNING json_build_object('name', name, 'revoked', true)",
	    1, params);
}

/* ---- the public listener: the page's login ---- */

/*
 * A browser sends Origin with every POST/DELETE; one from another site is
 * refused (SameSite=Strict already keeps the cookie from it).
 */
int
auth_same_origin(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *origin = evhttp_find_header(h, "Origin");
	const char *host = evhttp_find_header(h, "Host");
	const char *p;

	if (origin == NULL)
		return 1;
	if (host == NULL)
		return 0;
	if ((p = strstr(origin, "://")) == NULL)
		return 0;
	return strcmp(p + 3, host) == 0;
}

static void
auth_session_json(struct evhttp_request *req, int code, const char *scope,
    const char *name, const char *csrf)
{
	json_t *obj = json_pack("{s:s,s:s,s:s}", "scope", scope, "name", name,
	    "csrf", csrf);
	char *text = json_dumps(obj, JSON_COMPACT);

	http_reply_json(req, code, text);
	free(text);
	json_decref(obj);
}

static void
auth_login_done_cb(PGresult *res, const char *error, void *arg)
{
	struct auth_api *a = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(a->req);
	char cookie[256];

	if (error != NULL)
		auth_db_error(a->req, "logging in", error);
	else if (PQntuples(res) == 0) {
		if (a->form) {
			evhttp_add_header(out, "Location", "/login?failed=1");
			evhttp_send_reply(a->req, 303, "See Other", NULL);
		} else
			http_reply_error(a->req, 401, "unknown or revoked "
			    "token");
	} else {
		snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; "
		    "SameSite=Strict; Max-Age=%d", AUTH_SESSION_COOKIE,
		    a->session, a->hours * 3600);
		evhttp_add_header(out, "Set-Cookie", cookie);
		evhttp_add_header(out, "Cache-Control", "no-store");
		if (a->form) {
			evhttp_add_header(out, "Location", "/");
			evhttp_send_reply(a->req, 303, "See Other", NULL);
		} else
			auth_session_json(a->req, 200, PQgetvalue(res, 0, 0),
			    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	}
	OPENSSL_cleanse(a->session, sizeof a->session);
	free(a);
}

/* The token of a login: JSON {"token"} or a form's token=. */
static int
auth_login_token(struct evhttp_request *req, char *out, size_t outsz,
    int *form)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	struct evbuffer *buf = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(buf);
	char text[AUTH_MAX_BODY + 1];
	const char *tok = NULL;
	struct evkeyvalq q;
	json_t *body = NULL;
	int rc = -1;

	*form = ct != NULL && strncasecmp(ct,
	    "application/x-www-form-urlencoded", 33) == 0;
	if (len > AUTH_MAX_BODY)
		return -1;
	evbuffer_copyout(buf, text, len);
	text[len] = '\0';
	TAILQ_INIT(&q);
	if (*form) {
		if (evhttp_parse_query_str(text, &q) == 0)
			tok = evhttp_find_header(&q, "token");
	} else if ((body = json_loads(text, 0, NULL)) != NULL)
		tok = json_string_value(json_object_get(body, "token"));
	if (tok != NULL) {
		while (*tok == ' ')
			tok++;
		if (strlen(tok) < outsz) {
			snprintf(out, outsz, "%s", tok);
			/* Pasted with a trailing newline or blank. */
			out[strcspn(out, " \r\n\t")] = '\0';
			rc = 0;
		}
	}
	evhttp_clear_headers(&q);
	json_decref(body);
	OPENSSL_cleanse(text, len);
	return rc;
}

void
auth_api_login(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const char *params[4];
	char token[AUTH_TOKEN_LEN + 8], thash[65], shash[65], csrf[65],
	    hours[16];
	struct auth_api *a;
	int form;

	if (strcmp(k->cfg->web_access, "off") == 0) {
		http_reply_error(req, 404, "the status page is off");
		return;
	}
	if (!auth_same_origin(req)) {
		http_reply_error(req, 403, "cross-origin login refused");
		return;
	}
	if (auth_login_token(req, token, sizeof token, &form) == -1) {
		http_reply_error(req, 400, "expected a token (JSON {\"token\"} "
		    "or a form field token)");
		return;
	}
	a = xcalloc(1, sizeof *a);
	a->req = req;
	a->form = form;
	a->hours = k->cfg->web_session_hours;
	auth_hash(token, thash);
	OPENSSL_cleanse(token, sizeof token);
	auth_random_hex(a->session);
	auth_hash(a->session, shash);
	auth_random_hex(csrf);
	snprintf(hours, sizeof hours, "%d", a->hours);
	params[0] = thash;
	params[1] = shash;
	params[2] = csrf;
	params[3] = hours;
	/* Expired sessions are swept by every login. */
	if (db_query(k->db,
	    "WITH t AS (UPDATE api_tokens SET last_used_at = now() "
	    "WHERE token_hash = $1 RETURNING id, scope, name), "
	    "gone AS (DELETE FROM web_sessions WHERE expires_at < now()), "
	    "s AS (INSERT INTO web_sessions (session_hash, token_id, csrf, "
	    "expires_at) SELECT $2, t.id, $3, now() + $4::int * interval "
	    "'1 hour' FROM t RETURNING token_id) "
	    "SELECT t.scope, t.name, $3::text FROM t JOIN s ON s.token_id = t.id",
	    4, params, auth_login_done_cb, a) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(a);
	}
}

static void
auth_whoami_cb(const struct auth_result *r, void *arg)
{
	struct evhttp_request *req = arg;

	if (r->error)
		http_reply_error(req, 503, "database unavailable");
	else if (r->scope == AUTH_NONE || !r->via_session)
		http_reply_error(req, 401, "not logged in");
	else {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Cache-Control", "no-store");
		auth_session_json(req, 200, r->scope == AUTH_ADMIN ? "admin" :
		    "read", r->name, r->csrf);
	}
}

void
auth_api_session(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	if (strcmp(k->cfg->web_access, "off") == 0) {
		http_reply_error(req, 404, "the status page is off");
		return;
	}
	if (auth_request(k, req, auth_whoami_cb, req) == -1)
		http_reply_error(req, 503, "database queue is full; retry");
}

struct auth_logout {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	char			 hash[65];
};

static void
auth_logout_done_cb(PGresult *res, const char *error, void *arg)
{
	struct auth_logout *l = arg;
	char cookie[128];

	if (error != NULL)
		auth_db_error(l->req, "logging out", error);
	else {
		snprintf(cookie, sizeof cookie, "%s=; Path=/; HttpOnly; "
		    "SameSite=Strict; Max-Age=0", AUTH_SESSION_COOKIE);
		evhttp_add_header(evhttp_request_get_output_headers(l->req),
		    "Set-Cookie", cookie);
		http_reply_json(l->req, 200, "{\"logged_out\":true}");
	}
	free(l);
}

static void
auth_logout_cb(const struct auth_result *r, void *arg)
{
	struct auth_logout *l = arg;
	const char *params[1];

	if (r->error)
		http_reply_error(l->req, 503, "database unavailable");
	else if (r->scope == AUTH_NONE || !r->via_session)
		http_reply_error(l->req, 401, "not logged in");
	else if (!auth_csrf_ok(l->req, r))
		http_reply_error(l->req, 403, "missing or wrong X-CSRF-Token");
	else {
		params[0] = l->hash;
		if (db_query(l->kilnd->db, "DELETE FROM web_sessions "
		    "WHERE session_hash = $1", 1, params, auth_logout_done_cb,
		    l) == 0)
			return;
		http_reply_error(l->req, 503, "database queue is full; retry");
	}
	free(l);
}

void
auth_api_logout(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	struct auth_logout *l;
	char secret[AUTH_TOKEN_LEN + 1];

	l = xcalloc(1, sizeof *l);
	l->kilnd = k;
	l->req = req;
	if (auth_cookie(req, AUTH_SESSION_COOKIE, secret, sizeof secret) == 0) {
		auth_hash(secret, l->hash);
		OPENSSL_cleanse(secret, sizeof secret);
	}
	if (auth_request(k, req, auth_logout_cb, l) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(l);
	}
}
