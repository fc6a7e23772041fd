/*
 * remote: the admin API over TCP for administration from another host,
 * `[admin] listen = HOST:PORT` (off by default).
 *
 * The Unix socket's authorization is its file mode; over TCP every request
 * carries "Authorization: Bearer TOKEN" from `cictl token create`.  A
 * token of scope read may GET; anything that changes state needs scope
 * admin.  Only the token's SHA-256 is stored, so the lookup compares
 * digests, never the secret itself.  Session cookies are not accepted
 * here: a browser is never a remote administrator.
 *
 * TLS (tls_cert, tls_key) through libevent's OpenSSL bufferevents; a
 * listener on a non-loopback address without TLS is refused at start-up,
 * since a bearer token in clear text is as good as given away.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "auth.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

struct remote {
	struct evhttp		*http;
	struct http_listener	*route;
	SSL_CTX			*ssl;
};

struct remote_gate {
	struct kilnd		*kilnd;
	struct evhttp_request	*req;
	const struct http_route	*route;
	const char		*args[HTTP_MAX_ARGS];
	int			 nargs;
	char			 segs[1024];
};

static void
remote_gate_cb(const struct auth_result *r, void *arg)
{
	struct remote_gate *g = arg;
	enum evhttp_cmd_type m = evhttp_request_get_command(g->req);
	int writes = m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD;

	if (r->error)
		http_reply_error(g->req, 503, "database unavailable");
	else if (r->scope == AUTH_NONE) {
		evhttp_add_header(evhttp_request_get_output_headers(g->req),
		    "WWW-Authenticate", "Bearer realm=\"kiln\"");
		http_reply_error(g->req, 401, "send Authorization: Bearer with "
		    "a token from cictl token create");
	} else if (writes && r->scope != AUTH_ADMIN)
		http_reply_error(g->req, 403, "token \"%s\" has scope read; "
		    "this needs admin", r->name);
	else
		g->route->handler(g->kilnd, g->req, g->args, g->nargs);
	free(g);
}

void
remote_gate(struct kilnd *k, struct evhttp_request *req,
    const struct http_route *r, const char *const *args, int nargs)
{
	const char *auth = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization");
	struct remote_gate *g;
	size_t used = 0;
	int i;

	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer realm=\"kiln\"");
		http_reply_error(req, 401, "send Authorization: Bearer with a "
		    "token from cictl token create");
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
	if (auth_token_check(k, auth + 7, remote_gate_cb, g) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(g);
	}
}

static struct bufferevent *
remote_bev_cb(struct event_base *base, void *arg)
{
	SSL *ssl = SSL_new(arg);

	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

/* Whether hostport names a loopback address (127/8, ::1, localhost). */
static int
remote_loopback(const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t n = colon ? (size_t)(colon - hostport) : strlen(hostport);
	struct in6_addr a6;
	struct in_addr a4;

	if (n >= sizeof host)
		return 0;
	memcpy(host, hostport, n);
	host[n] = '\0';
	if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

static SSL_CTX *
remote_tls(const char *cert, const char *key, char *err, size_t errsz)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	unsigned long e;

	if (ctx == NULL) {
		snprintf(err, errsz, "TLS: cannot make a context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		e = ERR_get_error();
		snprintf(err, errsz, "[admin] tls_cert %s / tls_key %s: %s",
		    cert, key, e ? ERR_reason_error_string(e) : "unusable");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct remote *
remote_start(struct kilnd *k, char *err, size_t errsz)
{
	const struct kiln_config *cfg = k->cfg;
	struct evhttp_bound_socket *bound;
	int tls = cfg->admin_tls_cert[0] != '\0' || cfg->admin_tls_key[0] != '\0';
	struct remote *r;

	if (cfg->admin_listen[0] == '\0')
		return NULL;
	if (tls && (cfg->admin_tls_cert[0] == '\0' ||
	    cfg->admin_tls_key[0] == '\0')) {
		snprintf(err, errsz, "[admin] tls_cert and tls_key go together");
		return NULL;
	}
	if (!tls && !remote_loopback(cfg->admin_listen)) {
		snprintf(err, errsz, "[admin] listen = %s is not a loopback "
		    "address: set tls_cert and tls_key (bearer tokens must not "
		    "cross a network in clear text)", cfg->admin_listen);
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	if (tls && (r->ssl = remote_tls(cfg->admin_tls_cert,
	    cfg->admin_tls_key, err, errsz)) == NULL) {
		free(r);
		return NULL;
	}
	r->http = evhttp_new(k->base);
	evhttp_set_max_body_size(r->http, 1024 * 1024);
	evhttp_set_max_headers_size(r->http, HTTP_MAX_HEADERS);
	if (r->ssl != NULL)
		evhttp_set_bevcb(r->http, remote_bev_cb, r->ssl);
	r->route = http_attach(k, r->http, HTTP_REMOTE);
	if (http_listen_tcp(r->http, cfg->admin_listen, &bound, err,
	    errsz) == -1) {
		remote_free(r);
		return NULL;
	}
	log_info("remote admin API on %s (%s)", cfg->admin_listen,
	    r->ssl ? "TLS" : "plain HTTP, loopback only");
	return r;
}

void
remote_free(struct remote *r)
{
	if (r == NULL)
		return;
	if (r->http != NULL)
		evhttp_free(r->http);
	free(r->route);
	if (r->ssl != NULL)
		SSL_CTX_free(r->ssl);
	free(r);
}
