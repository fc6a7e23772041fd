/*
 * ghapp: kiln as a GitHub App.  The App's private key (PEM, RSA) signs an
 * RS256 JWT (iat 60 s in the past against clock drift, exp 9 minutes
 * ahead, so at most GitHub's 10 minutes after iat); the JWT buys
 * installation tokens (POST /app/installations/{id}/access_tokens), which
 * live an hour and are kept until 5 minutes before they expire.  A job's
 * token is asked for its own repository only and with the permissions its
 * workflow or job declares (GitHub's restricted defaults when absent,
 * nothing above read for a fork's pull request).
 *
 * Pure functions over OpenSSL and jansson: no I/O but the key file, no
 * logging; the HTTP calls are the caller's (kilnd's event loop).
 */
#ifndef KILN_GHAPP_H
#define KILN_GHAPP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#define GHAPP_MAX_KEY_FILE	(16 * 1024)	/* a 4096-bit PEM is ~3.3 KB */
#define GHAPP_MIN_KEY_BITS	2048
#define GHAPP_JWT_BACKDATE_S	60		/* iat = now - 60 */
#define GHAPP_JWT_LIFE_S	540		/* exp = now + 540 */
#define GHAPP_TOKEN_MARGIN_S	300		/* renewed 5 min before expiry */
#define GHAPP_MAX_TOKEN		1024		/* an installation token's bytes */
#define GHAPP_MAX_ANSWER	(256 * 1024)	/* access_tokens' JSON */

/*
 * Load the App's private key from path: a regular file that its group
 * and others may not access (mode & 077 refused), at most
 * GHAPP_MAX_KEY_FILE bytes, an RSA key of at least GHAPP_MIN_KEY_BITS.
 * The file's bytes are wiped after parsing.  Returns the key (caller frees
 * with EVP_PKEY_free()), or NULL with a message naming the file in err.
 */
EVP_PKEY	*ghapp_key_load(const char *path, char *err, size_t errsz);

/*
 * The App's JWT at time now (seconds since the epoch): header
 * {"alg":"RS256","typ":"JWT"}, claims iat = now - GHAPP_JWT_BACKDATE_S,
 * exp = now + GHAPP_JWT_LIFE_S, iss = app_id (digits).  Returns the
 * compact form (caller frees), or NULL with a reason in err.
 */
char		*ghapp_jwt(EVP_PKEY *, const char *app_id, int64_t now,
		     char *err, size_t errsz);

/*
 * Parse the answer of POST .../access_tokens (len bytes): *tokenp gets
 * the token (caller wipes and frees), *expiresp its expires_at in seconds
 * since the epoch.  A token longer than GHAPP_MAX_TOKEN, with bytes other
 * than printable ASCII (it goes into an HTTP header), or an expires_at not
 * of the form 2026-01-02T03:04:05Z is refused.  Returns 0 or -1 with err.
 */
int		 ghapp_token_parse(const char *body, size_t len,
		     char **tokenp, int64_t *expiresp, char *err,
		     size_t errsz);

/* 1 if a token expiring at expires is still to be used at now. */
int		 ghapp_token_fresh(int64_t expires, int64_t now);

/*
 * The body of POST .../access_tokens for a job of repository "owner/name":
 * {"repositories":["name"],"permissions":{...}} with the workflow's or
 * job's permissions (NULL: absent, GitHub's restricted default of
 * contents and metadata read; "read-all", "write-all", {} or a map of
 * scope to read/write/none) turned into the App's permission names
 * (pull-requests -> pull_requests ...), metadata always read.  Scopes an
 * installation token cannot carry (id-token: it is OIDC, not a token
 * permission; models) are left out.  read_only (a fork's pull request)
 * turns every write into read.  Returns the JSON text (caller frees) or
 * NULL with err on a value no workflow validation lets through.
 */
char		*ghapp_job_token_body(const char *full_name,
		     const json_t *permissions, int read_only, char *err,
		     size_t errsz);

/*
 * Installation tokens kept per installation id until GHAPP_TOKEN_MARGIN_S
 * before they expire, shared by the outbox and the jobs' tokens.
 */
struct ghapp_cache;
struct ghapp_cache *ghapp_cache_new(void);
/* Wipes every token. */
void		 ghapp_cache_free(struct ghapp_cache *);
/* The fresh token of installation at now (owned by the cache), or NULL. */
const char	*ghapp_cache_get(struct ghapp_cache *, int64_t installation,
		     int64_t now);
/* Forget installation's token (GitHub refused it: 401). */
void		 ghapp_cache_drop(struct ghapp_cache *, int64_t installation);
/* Keep a copy of token until expires (replacing the older one). */
void		 ghapp_cache_put(struct ghapp_cache *, int64_t installation,
		     const char *token, int64_t expires);

#endif
