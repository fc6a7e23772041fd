/*
 * ghapp: see ghapp.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/queue.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ghapp.h"
#include "util.h"

/* ---- the key ---- */

static int
ghapp_read_fd(int fd, char *buf, size_t max, size_t *lenp)
{
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (len == max)
			return -1;		/* larger than the cap */
		n = read(fd, buf + len, max - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*lenp = len;
	return 0;
}

EVP_PKEY *
ghapp_key_load(const char *path, char *err, size_t errsz)
{
	char *pem = NULL;
	EVP_PKEY *key = NULL;
	struct stat st;
	size_t len = 0;
	BIO *bio;
	int fd;

	if (path == NULL || *path == '\0') {
		snprintf(err, errsz, "no private key file configured");
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errsz, "%s: cannot open the App's private key: "
		    "%s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s: the App's private key is not a "
		    "regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errsz, "%s: the App's private key has mode %04o, "
		    "its group or others may read it; it must be 0600 or 0400 "
		    "(chmod 600 %s)", path, (unsigned)(st.st_mode & 07777),
		    path);
		goto out;
	}
	pem = xmalloc(GHAPP_MAX_KEY_FILE);
	if (ghapp_read_fd(fd, pem, GHAPP_MAX_KEY_FILE, &len) == -1) {
		snprintf(err, errsz, "%s: cannot read the App's private key "
		    "(at most %d bytes)", path, GHAPP_MAX_KEY_FILE);
		goto out;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto out;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (key == NULL) {
		snprintf(err, errsz, "%s: not a PEM private key (GitHub's App "
		    "settings, 'Generate a private key')", path);
		goto out;
	}
	if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		snprintf(err, errsz, "%s: the App's key must be RSA (RS256)",
		    path);
		EVP_PKEY_free(key);
		key = NULL;
		goto out;
	}
	if (EVP_PKEY_bits(key) < GHAPP_MIN_KEY_BITS) {
		snprintf(err, errsz, "%s: an RSA key of %d bits; at least %d",
		    path, EVP_PKEY_bits(key), GHAPP_MIN_KEY_BITS);
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, len);
		free(pem);
	}
	close(fd);
	return key;
}

/* ---- the JWT ---- */

/* base64url of len bytes without padding, appended to b. */
static void
ghapp_b64url(struct buf *b, const unsigned char *p, size_t len)
{
	char *tmp = xmalloc(4 * ((len + 2) / 3) + 1);
	int n, i;

	n = EVP_EncodeBlock((unsigned char *)tmp, p, (int)len);
	for (i = 0; i < n; i++) {
		if (tmp[i] == '=')
			break;
		buf_add_char(b, tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' :
		    tmp[i]);
	}
	free(tmp);
}

char *
ghapp_jwt(EVP_PKEY *key, const char *app_id, int64_t now, char *err,
    size_t errsz)
{
	static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	struct buf b = { 0 };
	unsigned char *sig = NULL;
	EVP_MD_CTX *md = NULL;
	size_t siglen = 0, i;
	char claims[160];
	int n;

	if (app_id == NULL || *app_id == '\0' || strlen(app_id) > 20) {
		snprintf(err, errsz, "app_id must be GitHub's App ID (digits)");
		return NULL;
	}
	for (i = 0; app_id[i] != '\0'; i++)
		if (app_id[i] < '0' || app_id[i] > '9') {
			snprintf(err, errsz, "app_id '%s' is not GitHub's App "
			    "ID (digits)", app_id);
			return NULL;
		}
	n = snprintf(claims, sizeof claims,
	    "{\"iat\":%lld,\"exp\":%lld,\"iss\":\"%s\"}",
	    (long long)(now - GHAPP_JWT_BACKDATE_S),
	    (long long)(now + GHAPP_JWT_LIFE_S), app_id);
	if (n < 0 || (size_t)n >= sizeof claims) {
		snprintf(err, errsz, "JWT claims too long");
		return NULL;
	}
	ghapp_b64url(&b, (const unsigned char *)header, sizeof header - 1);
	buf_add_char(&b, '.');
	ghapp_b64url(&b, (const unsigned char *)claims, (size_t)n);

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)b.data,
	    b.len) != 1)
		goto fail;
	sig = xmalloc(siglen);
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)b.data,
	    b.len) != 1)
		goto fail;
	EVP_MD_CTX_free(md);
	buf_add_char(&b, '.');
	ghapp_b64url(&b, sig, siglen);
	free(sig);
	return buf_steal(&b);
fail:
	ERR_clear_error();
	snprintf(err, errsz, "signing the App's JWT (RS256) failed");
	EVP_MD_CTX_free(md);
	free(sig);
	buf_free(&b);
	return NULL;
}

/* ---- installation tokens ---- */

/* "2026-01-02T03:04:05Z" to seconds since the epoch, or -1. */
static int64_t
ghapp_parse_time(const char *s)
{
	struct tm tm;
	const char *end;

	if (strlen(s) != 20)
		return -1;
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	return (int64_t)timegm(&tm);
}

int
ghapp_token_parse(const char *body, size_t len, char **tokenp,
    int64_t *expiresp, char *err, size_t errsz)
{
	json_t *root, *tok, *exp;
	json_error_t je;
	const char *t;
	size_t i, tlen;
	int64_t when;

	if (len > GHAPP_MAX_ANSWER) {
		snprintf(err, errsz, "installation token answer of %zu bytes "
		    "(at most %d)", len, GHAPP_MAX_ANSWER);
		return -1;
	}
	if ((root = json_loadb(body, len, 0, &je)) == NULL) {
		snprintf(err, errsz, "installation token answer is not JSON: "
		    "%s", je.text);
		return -1;
	}
	tok = json_object_get(root, "token");
	exp = json_object_get(root, "expires_at");
	if (!json_is_string(tok) || !json_is_string(exp)) {
		snprintf(err, errsz, "installation token answer lacks token "
		    "or expires_at");
		goto fail;
	}
	t = json_string_value(tok);
	tlen = json_string_length(tok);
	if (tlen == 0 || tlen > GHAPP_MAX_TOKEN) {
		snprintf(err, errsz, "installation token of %zu bytes (1 to "
		    "%d)", tlen, GHAPP_MAX_TOKEN);
		goto fail;
	}
	for (i = 0; i < tlen; i++)
		if (t[i] <= ' ' || t[i] > '~') {
			snprintf(err, errsz, "installation token has a byte "
			    "0x%02x at %zu", (unsigned char)t[i], i);
			goto fail;
		}
	if ((when = ghapp_parse_time(json_string_value(exp))) == -1) {
		snprintf(err, errsz, "installation token's expires_at is not "
		    "YYYY-MM-DDTHH:MM:SSZ");
		goto fail;
	}
	*tokenp = xstrndup(t, tlen);
	*expiresp = when;
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	return -1;
}

int
ghapp_token_fresh(int64_t expires, int64_t now)
{
	return now < expires - GHAPP_TOKEN_MARGIN_S;
}

/* ---- a job's token ---- */

/*
 * Workflow scopes (reference 3.1) and the App permission each maps to;
 * NULL: not a permission an installation token carries.
 */
static const struct {
	const char	*scope;
	const char	*app;
} ghapp_scopes[] = {
	{ "actions",		"actions" },
	{ "attestations",	"attestations" },
	{ "checks",		"checks" },
	{ "contents",		"contents" },
	{ "deployments",	"deployments" },
	{ "discussions",	"discussions" },
	{ "id-token",		NULL },
	{ "issues",		"issues" },
	{ "models",		NULL },
	{ "packages",		"packages" },
	{ "pages",		"pages" },
	{ "pull-requests",	"pull_requests" },
	{ "repository-projects", "repository_projects" },
	{ "security-events",	"security_events" },
	{ "statuses",		"statuses" },
};

char *
ghapp_job_token_body(const char *full_name, const json_t *permissions,
    int read_only, char *err, size_t errsz)
{
	json_t *body, *perms, *v;
	const char *name, *all = NULL, *level, *key;
	char *out;
	size_t i;

	if (full_name == NULL || (name = strchr(full_name, '/')) == NULL ||
	    name[1] == '\0' || strchr(name + 1, '/') != NULL) {
		snprintf(err, errsz, "repository '%s' is not owner/name",
		    full_name ? full_name : "");
		return NULL;
	}
	name++;
	perms = json_object();
	if (permissions == NULL || json_is_null(permissions)) {
		json_object_set_new(perms, "contents", json_string("read"));
	} else if (json_is_string(permissions)) {
		if (strcmp(json_string_value(permissions), "read-all") == 0)
			all = "read";
		else if (strcmp(json_string_value(permissions),
		    "write-all") == 0)
			all = "write";
		else {
			snprintf(err, errsz, "permissions '%s' must be "
			    "read-all, write-all or a map",
			    json_string_value(permissions));
			goto fail;
		}
		for (i = 0; i < nitems(ghapp_scopes); i++)
			if (ghapp_scopes[i].app != NULL)
				json_object_set_new(perms, ghapp_scopes[i].app,
				    json_string(all));
	} else if (json_is_object(permissions)) {
		json_object_foreach((json_t *)permissions, key, v) {
			for (i = 0; i < nitems(ghapp_scopes); i++)
				if (strcmp(key, ghapp_scopes[i].scope) == 0)
					break;
			if (i == nitems(ghapp_scopes)) {
				snprintf(err, errsz, "unknown permission scope "
				    "'%s'", key);
				goto fail;
			}
			level = json_string_value(v);
			if (level == NULL || (strcmp(level, "read") != 0 &&
			    strcmp(level, "write") != 0 &&
			    strcmp(level, "none") != 0)) {
				snprintf(err, errsz, "permission '%s' must be "
				    "read, write or none", key);
				goto fail;
			}
			if (ghapp_scopes[i].app == NULL ||
			    strcmp(level, "none") == 0)
				continue;
			json_object_set_new(perms, ghapp_scopes[i].app,
			    json_string(level));
		}
	} else {
		snprintf(err, errsz, "permissions must be read-all, write-all "
		    "or a map");
		goto fail;
	}
	if (read_only)
		json_object_foreach(perms, key, v)
			json_string_set(v, "read");
	json_object_set_new(perms, "metadata", json_string("read"));
	body = json_pack("{s:[s],s:o}", "repositories", name, "permissions",
	    perms);
	out = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	return out;
fail:
	json_decref(perms);
	return NULL;
}

/* ---- the cache ---- */

struct ghapp_entry {
	LIST_ENTRY(ghapp_entry) entry;
	int64_t		 installation;
	int64_t		 expires;
	char		*token;
};

struct ghapp_cache {
	LIST_HEAD(, ghapp_entry) entries;
};

struct ghapp_cache *
ghapp_cache_new(void)
{
	struct ghapp_cache *c = xcalloc(1, sizeof *c);

	LIST_INIT(&c->entries);
	return c;
}

static void
ghapp_entry_free(struct ghapp_entry *e)
{
	LIST_REMOVE(e, entry);
	OPENSSL_cleanse(e->token, strlen(e->token));
	free(e->token);
	free(e);
}

void
ghapp_cache_free(struct ghapp_cache *c)
{
	if (c == NULL)
		return;
	while (!LIST_EMPTY(&c->entries))
		ghapp_entry_free(LIST_FIRST(&c->entries));
	free(c);
}

const char *
ghapp_cache_get(struct ghapp_cache *c, int64_t installation, int64_t now)
{
	struct ghapp_entry *e;

	LIST_FOREACH(e, &c->entries, entry)
		if (e->installation == installation) {
			if (ghapp_token_fresh(e->expires, now))
				return e->token;
			ghapp_entry_free(e);	/* stale: renewed by caller */
			return NULL;
		}
	return NULL;
}

void
ghapp_cache_drop(struct ghapp_cache *c, int64_t installation)
{
	struct ghapp_entry *e;

	LIST_FOREACH(e, &c->entries, entry)
		if (e->installation == installation) {
			ghapp_entry_free(e);
			return;
		}
}

void
ghapp_cache_put(struct ghapp_cache *c, int64_t installation,
    const char *token, int64_t expires)
{
	struct ghapp_entry *e;

	LIST_FOREACH(e, &c->entries, entry)
		if (e->installation == installation) {
			ghapp_entry_free(e);
			break;
		}
	e = xcalloc(1, sizeof *e);
	e->installation = installation;
	e->expires = expires;
	e->token = xstrdup(token);
	LIST_INSERT_HEAD(&c->entries, e, entry);
}
