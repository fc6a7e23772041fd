/*
 * auth: API tokens and page sessions.  A token ("kiln_" and 64 hex digits)
 * is printed once by `cictl token create`; only its SHA-256 is stored
 * (api_tokens).  The page's login exchanges a token for a session cookie
 * (web_sessions, also stored hashed) that carries a CSRF token the page
 * must send back on every state-changing request.  Revoking a token ends
 * its sessions.  Every check is one asynchronous query: nothing blocks.
 */
#ifndef KILN_AUTH_H
#define KILN_AUTH_H

#include <stdint.h>

#include <event2/http.h>

struct kilnd;

#define AUTH_TOKEN_PREFIX	"kiln_"
#define AUTH_TOKEN_LEN		(5 + 64)	/* prefix + 32 random bytes hex */
#define AUTH_SESSION_COOKIE	"kiln_session"

enum auth_scope {
	AUTH_NONE = 0,		/* no credentials, or bad ones */
	AUTH_READ = 1,
	AUTH_ADMIN = 2,
};

struct auth_result {
	enum auth_scope	 scope;
	int64_t		 token_id;	/* 0 with AUTH_NONE */
	char		 name[128];	/* the token's name */
	int		 via_session;	/* a cookie, not a Bearer token */
	char		 csrf[65];	/* the session's CSRF token */
	int		 error;		/* the database failed: answer 503 */
};

/* Called once, from the event loop; res is valid during the call only. */
typedef void (*auth_cb)(const struct auth_result *res, void *arg);

/*
 * Check a token as `cictl token create` printed it (also for remote admin
 * over TLS).  cb gets AUTH_NONE for an unknown, revoked or malformed token.
 * Returns -1 when the database queue is full (cb is not called).
 */
int	auth_token_check(struct kilnd *, const char *token, auth_cb, void *arg);
/*
 * The credentials of a request: "Authorization: Bearer TOKEN", else the
 * session cookie.  Returns -1 when the database queue is full.
 */
int	auth_request(struct kilnd *, struct evhttp_request *, auth_cb,
	    void *arg);
/* 1 if the request's X-CSRF-Token header equals the session's. */
int	auth_csrf_ok(struct evhttp_request *, const struct auth_result *);
/* 0 if an Origin header names another site than Host. */
int	auth_same_origin(struct evhttp_request *);
/* Lowercase hex SHA-256 of s into out (65 bytes). */
void	auth_hash(const char *s, char out[65]);

/* Admin socket: /api/v1/tokens (create, list) and /api/v1/tokens/{name}. */
void	auth_api_token_create(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	auth_api_token_list(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	auth_api_token_revoke(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
/* Public listener: /api/v1/session: log in (POST), who (GET), out (DELETE). */
void	auth_api_login(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	auth_api_session(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	auth_api_logout(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);

#endif
