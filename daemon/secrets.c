/*
 * secrets: the admin API of repository secrets and configuration
 * variables (docs/API.md).  kilnd seals a secret with the key it loaded at
 * start (common/secretbox.c) before the value reaches the database, and
 * never sends one back: listing gives names and times only.  Variables
 * are stored and listed plain.  Workers decrypt at claim time
 * (worker/job.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "db.h"
#include "kilnd.h"
#include "log.h"
#include "secretbox.h"
#include "secrets.h"
#include "util.h"

/* A value's JSON body: the value escaped, plus a little. */
#define SECRETS_MAX_BODY	(8 * SECRETS_VALUE_MAX + 1024)

struct secrets_req {
	struct evhttp_request	*req;
	int			 secret;	/* 1: secrets, 0: variables */
	char			 name[SECRETS_NAME_MAX + 1];
};

/* owner/name from the route's first two segments into out; -1: replied. */
static int
secrets_repo(struct evhttp_request *req, const char *const *args, char *out,
    size_t outsz)
{
	snprintf(out, outsz, "%s/%s", args[0], args[1]);
	if (!api_valid_repo_name(out)) {
		http_reply_error(req, 400, "bad repository \"%.100s\"", out);
		return -1;
	}
	return 0;
}

static void
secrets_reply_cb(PGresult *res, const char *error, void *arg)
{
	struct secrets_req *s = arg;
	const char *what = s->secret ? "secret" : "variable";
	char why[300];

	if (error != NULL) {
		log_warnx("%s %s: %s", what, s->name, log_escape(error, 200,
		    why, sizeof why));
		http_reply_error(s->req, 500, "database error");
	} else if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		http_reply_error(s->req, 404, "no repository of that name, or "
		    "no %s %s", what, s->name);
	else
		http_reply_json(s->req, 200, PQgetvalue(res, 0, 0));
	free(s);
}

static void
secrets_list(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int secret)
{
	struct secrets_req *s;
	char repo[256];
	const char *params[1] = { repo };

	if (secrets_repo(req, args, repo, sizeof repo) == -1)
		return;
	s = xcalloc(1, sizeof *s);
	s->req = req;
	s->secret = secret;
	snprintf(s->name, sizeof s->name, "(list)");
	if (db_query(k->db, secret ?
	    "SELECT (SELECT coalesce(json_agg(json_build_object('name', "
	    "x.name, 'created_at', x.created_at, 'updated_at', x.updated_at) "
	    "ORDER BY x.name), '[]') FROM secrets x WHERE x.repository_id = "
	    "p.id) FROM repositories p WHERE p.full_name = $1 "
	    "AND p.removed_at IS NULL" :
	    "SELECT (SELECT coalesce(json_agg(json_build_object('name', "
	    "x.name, 'value', x.value, 'created_at', x.created_at, "
	    "'updated_at', x.updated_at) ORDER BY x.name), '[]') FROM "
	    "variables x WHERE x.repository_id = p.id) FROM repositories p "
	    "WHERE p.full_name = $1 AND p.removed_at IS NULL", 1, params,
	    secrets_reply_cb, s) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(s);
	}
}

static void
secrets_put(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int secret)
{
	const char *what = secret ? "secret" : "variable", *value = NULL;
	struct secrets_req *s;
	const char *params[3];
	char repo[256], err[300], *aad = NULL, *sealed = NULL;
	json_t *body = NULL, *v;
	size_t vlen = 0;

	if (secrets_repo(req, args, repo, sizeof repo) == -1)
		return;
	if (secrets_name_check(args[2], what, err, sizeof err) == -1) {
		http_reply_error(req, 400, "%s", err);
		return;
	}
	if ((body = api_body_object(req, SECRETS_MAX_BODY)) == NULL)
		return;
	v = json_object_get(body, "value");
	if (!json_is_string(v)) {
		http_reply_error(req, 400, "body: expected {\"value\": "
		    "\"...\"}");
		goto out;
	}
	value = json_string_value(v);
	vlen = json_string_length(v);
	if (vlen > (secret ? SECRETS_VALUE_MAX : VARS_VALUE_MAX) ||
	    memchr(value, '\0', vlen) != NULL) {
		http_reply_error(req, 400, "%s %s: the value must be at most "
		    "%d bytes without NUL", what, args[2], secret ?
		    SECRETS_VALUE_MAX : VARS_VALUE_MAX);
		goto out;
	}
	s = xcalloc(1, sizeof *s);
	s->req = req;
	s->secret = secret;
	snprintf(s->name, sizeof s->name, "%s", args[2]);
	secrets_name_upper(s->name);
	if (secret) {
		aad = xasprintf("%s/%s", repo, s->name);
		if ((sealed = secretbox_seal(k->secret_key, value, vlen, aad,
		    err, sizeof err)) == NULL) {
			http_reply_error(req, 500, "sealing: %s", err);
			free(s);
			goto out;
		}
	}
	params[0] = repo;
	params[1] = s->name;
	params[2] = secret ? sealed : value;
	if (db_query(k->db, secret ?
	    "INSERT INTO secrets (repository_id, name, sealed) SELECT p.id, "
	    "$2, $3 FROM repositories p WHERE p.full_name = $1 "
	    "AND p.removed_at IS NULL "
	    "ON CONFLICT (repository_id, name) DO UPDATE SET sealed = $3, "
	    "updated_at = now() RETURNING json_build_object('name', name, "
	    "'created_at', created_at, 'updated_at', updated_at)" :
	    "INSERT INTO variables (repository_id, name, value) SELECT p.id, "
	    "$2, $3 FROM repositories p WHERE p.full_name = $1 "
	    "AND p.removed_at IS NULL "
	    "ON CONFLICT (repository_id, name) DO UPDATE SET value = $3, "
	    "updated_at = now() RETURNING json_build_object('name', name, "
	    "'value', value, 'created_at', created_at, 'updated_at', "
	    "updated_at)", 3, params, secrets_reply_cb, s) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(s);
	}
out:
	free(aad);
	free(sealed);
	if (secret && value != NULL)
		/* jansson's copy is ours alone (refcount 1): wipe it. */
		OPENSSL_cleanse((char *)(uintptr_t)value, vlen);
	json_decref(body);
}

static void
secrets_delete(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int secret)
{
	struct secrets_req *s;
	char repo[256], err[300];
	const char *params[2];

	if (secrets_repo(req, args, repo, sizeof repo) == -1)
		return;
	if (secrets_name_check(args[2], secret ? "secret" : "variable", err,
	    sizeof err) == -1) {
		http_reply_error(req, 400, "%s", err);
		return;
	}
	s = xcalloc(1, sizeof *s);
	s->req = req;
	s->secret = secret;
	snprintf(s->name, sizeof s->name, "%s", args[2]);
	secrets_name_upper(s->name);
	params[0] = repo;
	params[1] = s->name;
	if (db_query(k->db, secret ?
	    "DELETE FROM secrets x USING repositories p WHERE p.full_name = $1 "
	    "AND x.repository_id = p.id AND x.name = $2 RETURNING "
	    "json_build_object('name', x.name, 'deleted', true)" :
	    "DELETE FROM variables x USING repositories p WHERE p.full_name = "
	    "$1 AND x.repository_id = p.id AND x.name = $2 RETURNING "
	    "json_build_object('name', x.name, 'deleted', true)", 2, params,
	    secrets_reply_cb, s) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(s);
	}
}

void
api_secrets_list(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	secrets_list(k, req, args, 1);
}

void
api_secret_put(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	secrets_put(k, req, args, 1);
}

void
api_secret_delete(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	secrets_delete(k, req, args, 1);
}

void
api_vars_list(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	secrets_list(k, req, args, 0);
}

void
api_var_put(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	secrets_put(k, req, args, 0);
}

void
api_var_delete(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	secrets_delete(k, req, args, 0);
}
