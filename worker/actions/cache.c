/*
 * actions/cache, actions/cache/restore, actions/cache/save, natively.
 *
 * The index is PostgreSQL's (sql/008_actions.sql); each entry is one
 * zstd-compressed tar archive written with libarchive under [cache] dir:
 * <dir>/<repository id>/<entry id>.tar.zst, owned by the worker.  A path
 * line names something in the workspace or under HOME ("~"); the archive
 * names its members "w/<relative>" or "h/<relative>" so a restore puts
 * them back under the restoring job's own workspace and HOME.
 *
 * Lookup, as GitHub's: for each scope (the run's ref, a pull request's
 * base branch, the default branch) the exact key, then the newest entry
 * whose key starts with the key, then with each restore key in order.
 * Only an exact match is a cache hit.  actions/cache saves in the job's
 * post phase, when there was no exact hit and the job has not failed;
 * entries are immutable and the first of two concurrent saves wins.
 *
 * Eviction: a repository's archives may take [cache] max_bytes.  After
 * each save, one statement deletes the entries past it, least recently
 * used first (last use: the latest restore, else the save), and the
 * worker unlinks their archives; an archive larger than the whole limit
 * is not saved at all.
 *
 * What touches the workspace or HOME -- reading the files to archive,
 * extracting -- runs in a forked child as the steps' account ([workers]
 * run_as), on a descriptor of the archive the worker opened, so no
 * symbolic link a step left can make the worker read or write for it.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "actions.h"
#include "archive_dl.h"
#include "hashfiles.h"
#include "log.h"
#include "spawn.h"
#include "util.h"
#include "worker.h"

#define CACHE_KEY_MAX		512	/* GitHub's limit */
#define CACHE_MAX_PATHS		64
#define CACHE_VERSION_SALT	"kiln-cache-1|zstd|"

/* The resolved path lines of one step. */
struct cache_paths {
	const char	*workspace;
	const char	*home;
	char		*inc[CACHE_MAX_PATHS];
	size_t		 ninc;
	char		*exc[CACHE_MAX_PATHS];
	size_t		 nexc;
};

static void
cache_paths_free(struct cache_paths *p)
{
	size_t i;

	for (i = 0; i < p->ninc; i++)
		free(p->inc[i]);
	for (i = 0; i < p->nexc; i++)
		free(p->exc[i]);
	p->ninc = p->nexc = 0;
}

/* 1 if path is root or under it. */
static int
cache_under(const char *path, const char *root)
{
	size_t n = strlen(root);

	return root[0] != '\0' && strncmp(path, root, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

/* One path line as an absolute path in the workspace or HOME. */
static char *
cache_resolve(const struct cache_paths *p, const char *line, char *err,
    size_t errsz)
{
	char *abs, *s, *root;
	size_t len;
	int under;

	if (line[0] == '~' && (line[1] == '\0' || line[1] == '/')) {
		if (p->home == NULL || p->home[0] != '/') {
			snprintf(err, errsz, "path \"%s\": HOME is not set",
			    line);
			return NULL;
		}
		abs = xasprintf("%s%s", p->home, line + 1);
	} else if (line[0] == '/')
		abs = xstrdup(line);
	else
		abs = xasprintf("%s/%s", p->workspace, line);
	/* Lexically clean: no "." or ".." components, no trailing '/'. */
	for (s = abs; (s = strstr(s, "//")) != NULL; )
		memmove(s, s + 1, strlen(s));
	while ((s = strstr(abs, "/./")) != NULL)
		memmove(s, s + 2, strlen(s + 2) + 1);
	len = strlen(abs);
	if (len >= 2 && strcmp(abs + len - 2, "/.") == 0)
		abs[len -= 2] = '\0';
	while (len > 1 && abs[len - 1] == '/')
		abs[--len] = '\0';
	if (strstr(abs, "/../") != NULL || (len >= 3 &&
	    strcmp(abs + len - 3, "/..") == 0)) {
		snprintf(err, errsz, "path \"%s\": \"..\" is not supported in "
		    "cache paths", line);
		free(abs);
		return NULL;
	}
	/* A pattern's literal directories must be under them. */
	if ((s = strpbrk(abs, "*?[")) != NULL) {
		while (s > abs && *s != '/')
			s--;
		root = xstrndup(abs, (size_t)(s - abs));
	} else
		root = xstrdup(abs);
	under = cache_under(root, p->workspace) || (p->home != NULL &&
	    cache_under(root, p->home));
	free(root);
	if (!under) {
		snprintf(err, errsz, "path \"%s\" is outside the workspace "
		    "and HOME; kiln caches only what is under them", line);
		free(abs);
		return NULL;
	}
	return abs;
}

/* The path input's lines into p. */
static int
cache_paths_parse(struct cache_paths *p, const char *text, char *err,
    size_t errsz)
{
	const char *s = text, *e, *t;
	char *line, *abs;
	size_t len;
	int neg;

	while (*s != '\0') {
		e = strchr(s, '\n');
		if (e == NULL)
			e = s + strlen(s);
		t = s;
		len = (size_t)(e - s);
		str_trim_space(&t, &len);
		line = xstrndup(t, len);
		s = *e == '\n' ? e + 1 : e;
		if (line[0] == '\0') {
			free(line);
			continue;
		}
		neg = line[0] == '!';
		abs = cache_resolve(p, line + neg, err, errsz);
		free(line);
		if (abs == NULL)
			return -1;
		if ((neg ? p->nexc : p->ninc) == CACHE_MAX_PATHS) {
			snprintf(err, errsz, "more than %d path lines",
			    CACHE_MAX_PATHS);
			free(abs);
			return -1;
		}
		if (neg)
			p->exc[p->nexc++] = abs;
		else
			p->inc[p->ninc++] = abs;
	}
	if (p->ninc == 0) {
		snprintf(err, errsz, "Input required and not supplied: path");
		return -1;
	}
	return 0;
}

/* GitHub's cache version: the path lines and compression, digested. */
static int
cache_version(const char *paths, char hex[65], char *err, size_t errsz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, CACHE_VERSION_SALT,
	    strlen(CACHE_VERSION_SALT)) != 1 ||
	    EVP_DigestUpdate(c, paths, strlen(paths)) != 1 ||
	    EVP_DigestFinal_ex(c, md, &mdlen) != 1 || mdlen != 32) {
		EVP_MD_CTX_free(c);
		snprintf(err, errsz, "SHA-256 is unavailable (OpenSSL)");
		return -1;
	}
	EVP_MD_CTX_free(c);
	hex_encode(md, 32, hex);
	return 0;
}

/* ---- the child -------------------------------------------------------- */

struct cache_job {
	struct cache_paths	*p;
	int			 fd;	/* the archive */
	int64_t			 files;	/* members written or extracted */
};

/* The member name of an absolute path: "w/..." or "h/...", or NULL. */
static char *
cache_member(const struct cache_paths *p, const char *path)
{
	size_t wl = strlen(p->workspace), hl = p->home ? strlen(p->home) : 0;
	int in_w = cache_under(path, p->workspace) && path[wl] == '/';
	int in_h = p->home != NULL && cache_under(path, p->home) &&
	    path[hl] == '/';

	/* The more specific root wins when one holds the other. */
	if (in_w && (!in_h || wl >= hl))
		return xasprintf("w/%s", path + wl + 1);
	if (in_h)
		return xasprintf("h/%s", path + hl + 1);
	return NULL;
}

/* 1 if s is a pattern, not a literal path (as @actions/glob tells). */
static int
cache_is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int
cache_excluded(const struct cache_paths *p, const char *path)
{
	size_t i;

	for (i = 0; i < p->nexc; i++)
		if (cache_is_glob(p->exc[i]) ? hashfiles_match(p->exc[i], path,
		    1) : cache_under(path, p->exc[i]))
			return 1;
	return 0;
}

/* Copy one file's data from disk into the archive. */
static int
cache_copy_data(struct archive *disk, struct archive *out, char *err,
    size_t errsz)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	while ((r = AR(archive_read_data_block)(disk, &buf, &size, &off)) ==
	    ARCHIVE_OK)
		if (AR(archive_write_data)(out, buf, size) < 0) {
			snprintf(err, errsz, "%s", AR(archive_error_string)(out));
			return -1;
		}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errsz, "%s", AR(archive_error_string)(disk));
		return -1;
	}
	return 0;
}

/* One path line's tree into out; missing paths are skipped. */
static int
cache_add_tree(struct cache_job *j, struct archive *out, const char *root,
    char *err, size_t errsz)
{
	struct archive *disk = AR(archive_read_disk_new)();
	struct archive_entry *e;
	struct stat st;
	char *name;
	int r, rc = -1;

	if (lstat(root, &st) == -1) {
		AR(archive_read_free)(disk);
		return 0;
	}
	AR(archive_read_disk_set_symlink_physical)(disk);
	AR(archive_read_disk_set_standard_lookup)(disk);
	if (AR(archive_read_disk_open)(disk, root) != ARCHIVE_OK) {
		snprintf(err, errsz, "%s: %s", root,
		    AR(archive_error_string)(disk));
		goto out;
	}
	for (;;) {
		e = AR(archive_entry_new)();
		r = AR(archive_read_next_header2)(disk, e);
		if (r == ARCHIVE_EOF) {
			AR(archive_entry_free)(e);
			break;
		}
		if (r < ARCHIVE_WARN) {
			snprintf(err, errsz, "%s: %s", root,
			    AR(archive_error_string)(disk));
			AR(archive_entry_free)(e);
			goto out;
		}
		if (cache_excluded(j->p, AR(archive_entry_pathname)(e)) ||
		    (name = cache_member(j->p,
		    AR(archive_entry_pathname)(e))) == NULL) {
			AR(archive_entry_free)(e);
			continue;	/* excluded: not descended into */
		}
		AR(archive_read_disk_descend)(disk);
		AR(archive_entry_set_pathname)(e, name);
		free(name);
		if (AR(archive_write_header)(out, e) < ARCHIVE_WARN) {
			snprintf(err, errsz, "%s", AR(archive_error_string)(out));
			AR(archive_entry_free)(e);
			goto out;
		}
		if (AR(archive_entry_filetype)(e) == AE_IFREG &&
		    AR(archive_entry_size)(e) > 0 &&
		    cache_copy_data(disk, out, err, errsz) == -1) {
			AR(archive_entry_free)(e);
			goto out;
		}
		if (AR(archive_entry_filetype)(e) == AE_IFREG)
			j->files++;
		AR(archive_entry_free)(e);
	}
	rc = 0;
out:
	AR(archive_read_close)(disk);
	AR(archive_read_free)(disk);
	return rc;
}

/*
 * Every path under dir matching pattern: its tree into out (a match is
 * not descended further, its tree holds what is below).  Symbolic links
 * are not followed; an unreadable directory holds nothing.
 */
static int
cache_glob_walk(struct cache_job *j, struct archive *out,
    const char *pattern, const char *dir, int depth, char *err,
    size_t errsz)
{
	struct dirent *de;
	struct stat st;
	char *child;
	DIR *d;
	int rc = 0;

	if (depth >= HASHFILES_MAX_DEPTH) {
		snprintf(err, errsz, "path %s: more than %d directory levels "
		    "under %s", pattern, HASHFILES_MAX_DEPTH, dir);
		return -1;
	}
	if ((d = opendir(dir)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		child = xasprintf("%s/%s", dir, de->d_name);
		if (hashfiles_match(pattern, child, 0))
			rc = cache_add_tree(j, out, child, err, errsz);
		else if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
			rc = cache_glob_walk(j, out, pattern, child, depth + 1,
			    err, errsz);
		free(child);
	}
	closedir(d);
	return rc;
}

/* One path line into out: a path's tree, or a pattern's matches'. */
static int
cache_add_line(struct cache_job *j, struct archive *out, const char *line,
    char *err, size_t errsz)
{
	char *root, *s;
	int rc;

	if (!cache_is_glob(line))
		return cache_add_tree(j, out, line, err, errsz);
	root = xstrdup(line);
	s = strpbrk(root, "*?[");
	while (s > root && *s != '/')
		s--;
	*s = '\0';
	rc = cache_glob_walk(j, out, line, root[0] ? root : "/", 0, err,
	    errsz);
	free(root);
	return rc;
}

static int
cache_write_child(void *arg, char *err, size_t errsz)
{
	struct cache_job *j = arg;
	struct archive *out;
	size_t i;

	if (archive_dl_load(err, errsz) == -1)
		return 1;
	out = AR(archive_write_new)();
	if (AR(archive_write_add_filter_zstd)(out) != ARCHIVE_OK ||
	    AR(archive_write_set_format_pax_restricted)(out) != ARCHIVE_OK ||
	    AR(archive_write_open_fd)(out, j->fd) != ARCHIVE_OK) {
		snprintf(err, errsz, "%s", AR(archive_error_string)(out));
		AR(archive_write_free)(out);
		return 1;
	}
	for (i = 0; i < j->p->ninc; i++)
		if (cache_add_line(j, out, j->p->inc[i], err, errsz) == -1) {
			AR(archive_write_free)(out);
			return 1;
		}
	if (AR(archive_write_close)(out) != ARCHIVE_OK) {
		snprintf(err, errsz, "%s", AR(archive_error_string)(out));
		AR(archive_write_free)(out);
		return 1;
	}
	AR(archive_write_free)(out);
	if (j->files == 0) {
		snprintf(err, errsz, "Path Validation Error: Path(s) "
		    "specified in the action for caching do(es) not exist, "
		    "hence no cache is being saved.");
		return 2;
	}
	/* The count, for the parent's log line (it forked before). */
	snprintf(err, errsz, "%lld", (long long)j->files);
	return 0;
}

static int
cache_read_child(void *arg, char *err, size_t errsz)
{
	struct cache_job *j = arg;
	struct archive *in, *disk;
	struct archive_entry *e;
	const void *buf;
	size_t size;
	la_int64_t off;
	int r, rc = 1;
	const char *name, *root;

	if (archive_dl_load(err, errsz) == -1)
		return 1;
	in = AR(archive_read_new)();
	disk = AR(archive_write_disk_new)();
	AR(archive_read_support_filter_all)(in);
	AR(archive_read_support_format_tar)(in);
	AR(archive_write_disk_set_options)(disk, ARCHIVE_EXTRACT_TIME |
	    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (AR(archive_read_open_fd)(in, j->fd, 64 * 1024) != ARCHIVE_OK) {
		snprintf(err, errsz, "%s", AR(archive_error_string)(in));
		goto out;
	}
	while ((r = AR(archive_read_next_header)(in, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			snprintf(err, errsz, "%s", AR(archive_error_string)(in));
			goto out;
		}
		name = AR(archive_entry_pathname)(e);
		if (name == NULL || !(str_has_prefix(name, "w/") ||
		    str_has_prefix(name, "h/")) || name[2] == '\0' ||
		    AR(archive_entry_hardlink)(e) != NULL) {
			snprintf(err, errsz, "the archive has a member kiln "
			    "did not write: \"%s\"", name ? name : "");
			goto out;
		}
		root = name[0] == 'w' ? j->p->workspace : j->p->home;
		if (root == NULL || root[0] != '/') {
			snprintf(err, errsz, "%s: HOME is not set", name);
			goto out;
		}
		if (mkdir_p(root, 0755) == -1 || chdir(root) == -1) {
			snprintf(err, errsz, "%s: %s", root, strerror(errno));
			goto out;
		}
		AR(archive_entry_set_pathname)(e, name + 2);
		if (AR(archive_write_header)(disk, e) < ARCHIVE_WARN) {
			snprintf(err, errsz, "%s: %s", name,
			    AR(archive_error_string)(disk));
			goto out;
		}
		while (AR(archive_entry_size)(e) > 0 && (r =
		    AR(archive_read_data_block)(in, &buf, &size, &off)) ==
		    ARCHIVE_OK)
			if (AR(archive_write_data_block)(disk, buf, size, off) <
			    ARCHIVE_WARN) {
				snprintf(err, errsz, "%s: %s", name,
				    AR(archive_error_string)(disk));
				goto out;
			}
		if (AR(archive_entry_size)(e) > 0 && r != ARCHIVE_EOF) {
			snprintf(err, errsz, "%s", AR(archive_error_string)(in));
			goto out;
		}
		if (AR(archive_write_finish_entry)(disk) < ARCHIVE_WARN) {
			snprintf(err, errsz, "%s: %s", name,
			    AR(archive_error_string)(disk));
			goto out;
		}
		if (AR(archive_entry_filetype)(e) == AE_IFREG)
			j->files++;
	}
	rc = 0;
out:
	AR(archive_read_free)(in);
	AR(archive_write_close)(disk);
	AR(archive_write_free)(disk);
	return rc;
}

/* ---- the index -------------------------------------------------------- */

static const char *
cache_input(const struct action_env *env, const char *name)
{
	size_t i;

	for (i = 0; i < env->with->n; i++)
		if (strcmp(env->with->v[i].key, name) == 0)
			return env->with->v[i].value;
	return NULL;
}

static const char *
cache_home(char *const *envp)
{
	size_t i;

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		if (strncmp(envp[i], "HOME=", 5) == 0)
			return envp[i] + 5;
	return NULL;
}

static int
cache_key_ok(const char *key, const char *what, char *err, size_t errsz)
{
	if (key == NULL || key[0] == '\0') {
		snprintf(err, errsz, "Input required and not supplied: %s",
		    what);
		return 0;
	}
	if (strlen(key) > CACHE_KEY_MAX || strchr(key, ',') != NULL) {
		snprintf(err, errsz, "Key Validation Error: %s cannot be "
		    "longer than %d characters nor contain commas", key,
		    CACHE_KEY_MAX);
		return 0;
	}
	return 1;
}

static char *
cache_file(const struct cache_ctx *cc, const char *id)
{
	return xasprintf("%s/%lld/%s.tar.zst", cc->dir,
	    (long long)cc->repository_id, id);
}

/*
 * The entry for key in scope: exact (prefix 0) or the newest whose key
 * starts with it.  1 found (id and its key in *id, *matched), 0 none,
 * -1 database error.
 */
static int
cache_lookup_one(const struct cache_ctx *cc, const char *scope,
    const char *version, const char *key, int prefix, char **id,
    char **matched)
{
	char repo[32];
	const char *params[4] = { repo, scope, version, key };
	PGresult *res;
	int found;

	snprintf(repo, sizeof repo, "%lld", (long long)cc->repository_id);
	res = worker_exec(cc->w, prefix ?
	    "SELECT id, key FROM cache_entries WHERE repository_id = $1 AND "
	    "scope = $2 AND version = $3 AND starts_with(key, $4) "
	    "ORDER BY created_at DESC, id DESC LIMIT 1" :
	    "SELECT id, key FROM cache_entries WHERE repository_id = $1 AND "
	    "scope = $2 AND version = $3 AND key = $4", 4, params,
	    "looking a cache entry up");
	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found) {
		*id = xstrdup(PQgetvalue(res, 0, 0));
		*matched = xstrdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return found;
}

/*
 * GitHub's order: in each scope the exact key, the key as a prefix, then
 * each restore key as a prefix.  1 found (*exact set), 0 none, -1 error.
 */
static int
cache_lookup(const struct cache_ctx *cc, const char *version,
    const char *key, const char *restore_keys, char **id, char **matched,
    int *exact, char *err, size_t errsz)
{
	const char *s, *e, *t;
	char *rk;
	size_t sc, len;
	int r;

	for (sc = 0; sc < cc->nscopes; sc++) {
		for (r = 0; r < 2; r++) {
			switch (cache_lookup_one(cc, cc->scopes[sc], version,
			    key, r, id, matched)) {
			case -1:
				goto dberr;
			case 1:
				*exact = strcmp(*matched, key) == 0;
				return 1;
			}
		}
		for (s = restore_keys ? restore_keys : ""; *s != '\0'; ) {
			if ((e = strchr(s, '\n')) == NULL)
				e = s + strlen(s);
			t = s;
			len = (size_t)(e - s);
			str_trim_space(&t, &len);
			s = *e == '\n' ? e + 1 : e;
			if (len == 0)
				continue;
			rk = xstrndup(t, len);
			r = cache_lookup_one(cc, cc->scopes[sc], version, rk, 1,
			    id, matched);
			free(rk);
			if (r == -1)
				goto dberr;
			if (r == 1) {
				*exact = strcmp(*matched, key) == 0;
				return 1;
			}
		}
	}
	return 0;
dberr:
	snprintf(err, errsz, "the cache index could not be read (database "
	    "error; see the worker's log)");
	return -1;
}

/* Restore into the workspace and HOME; 1 restored, 0 a miss, -1 error. */
static int
cache_restore(const struct cache_ctx *cc, const struct action_env *env,
    struct cache_paths *p, const char *version, const char *key,
    const char *restore_keys, int lookup_only, char **matched, int *exact,
    char *err, size_t errsz)
{
	struct cache_job j = { p, -1, 0 };
	char *id = NULL, *file, line[1200];
	const char *params[1];
	int r;

	r = cache_lookup(cc, version, key, restore_keys, &id, matched, exact,
	    err, errsz);
	if (r != 1)
		return r;
	file = cache_file(cc, id);
	if ((j.fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(line, sizeof line, "##[warning]cache entry %s (key "
		    "%s) has no archive on this host (%s); treated as a "
		    "miss\n", id, *matched, strerror(errno));
		env->log(env->log_arg, line);
		free(file);
		free(id);
		free(*matched);
		*matched = NULL;
		*exact = 0;
		return 0;
	}
	free(file);
	params[0] = id;
	PQclear(worker_exec(cc->w, "UPDATE cache_entries SET last_used_at = "
	    "clock_timestamp() WHERE id = $1", 1, params,
	    "marking a cache entry used"));
	free(id);
	if (lookup_only) {
		close(j.fd);
		return 1;
	}
	r = action_fork_as(cc->as_user, cc->uid, cc->gid, &cc->tick,
	    cache_read_child, &j, "the cache's restore", err, errsz);
	close(j.fd);
	return r == 0 ? 1 : -1;
}

/*
 * Keep the repository's entries within cc->max_bytes: delete the least
 * recently used ones past it (never keep, the one just saved), then
 * their archives.  Failures are warnings: the save itself stands.
 */
static void
cache_evict(const struct cache_ctx *cc, const char *keep,
    void (*log)(void *, const char *), void *arg)
{
	char repo[32], max[32], line[1400], *file;
	const char *params[3] = { repo, max, keep };
	PGresult *res;
	int i;

	if (cc->max_bytes <= 0)
		return;
	snprintf(repo, sizeof repo, "%lld", (long long)cc->repository_id);
	snprintf(max, sizeof max, "%lld", (long long)cc->max_bytes);
	res = worker_exec(cc->w, "WITH r AS (SELECT id, sum(size_bytes) OVER "
	    "(ORDER BY id = $3::bigint DESC, last_used_at DESC, id DESC) AS "
	    "upto FROM cache_entries WHERE repository_id = $1::bigint) "
	    "DELETE FROM cache_entries c USING r WHERE c.id = r.id AND "
	    "r.upto > $2::bigint AND c.id <> $3::bigint "
	    "RETURNING c.id, c.key, c.size_bytes", 3, params,
	    "evicting cache entries");
	if (res == NULL) {
		log(arg, "##[warning]evicting cache entries failed (database "
		    "error; see the worker's log)\n");
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		file = cache_file(cc, PQgetvalue(res, i, 0));
		if (unlink(file) == -1 && errno != ENOENT)
			log_warn("cache eviction: %s", file);
		free(file);
		snprintf(line, sizeof line, "Evicted cache entry %s (key %s, "
		    "%s bytes): the repository's cache is over [cache] "
		    "max_bytes = %s\n", PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), max);
		log(arg, line);
	}
	PQclear(res);
}

void
cache_sweep(struct worker *w, const char *dir, int64_t max_bytes)
{
	char max[32], *file;
	const char *params[1] = { max };
	PGresult *res;
	int i;

	if (max_bytes <= 0)
		return;
	snprintf(max, sizeof max, "%lld", (long long)max_bytes);
	res = worker_exec(w, "WITH r AS (SELECT id, sum(size_bytes) OVER "
	    "(PARTITION BY repository_id ORDER BY last_used_at DESC, id DESC) "
	    "AS upto FROM cache_entries) DELETE FROM cache_entries c USING r "
	    "WHERE c.id = r.id AND r.upto > $1::bigint "
	    "RETURNING c.repository_id, c.id, c.key", 1, params,
	    "sweeping the cache");
	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++) {
		file = xasprintf("%s/%s/%s.tar.zst", dir, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1));
		if (unlink(file) == -1 && errno != ENOENT)
			log_warn("cache sweep: %s", file);
		free(file);
		log_info("cache: evicted entry %s of repository %s (past "
		    "[cache] max_bytes = %s)", PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 0), max);
	}
	PQclear(res);
}

int
cache_save(const struct cache_ctx *cc, const char *key, const char *paths,
    const char *workspace, const char *home,
    void (*log)(void *, const char *), void *arg, char *err, size_t errsz)
{
	struct cache_paths p = { workspace, home, { 0 }, 0, { 0 }, 0 };
	struct cache_job j = { &p, -1, 0 };
	char version[65], repo[32], size[32], line[1400], *dir, *tmp = NULL,
	    *id = NULL, *matched = NULL, *final, *saved = NULL;
	const char *params[5] = { repo, cc->scopes[0], key, version, size };
	struct stat st;
	PGresult *res;
	int r, rc = -1;

	if (!cache_key_ok(key, "key", err, errsz) ||
	    cache_paths_parse(&p, paths, err, errsz) == -1 ||
	    cache_version(paths, version, err, errsz) == -1) {
		cache_paths_free(&p);
		return -1;
	}
	if ((r = cache_lookup_one(cc, cc->scopes[0], version, key, 0, &id,
	    &matched)) != 0) {
		if (r == 1) {
			snprintf(line, sizeof line, "Cache already exists for "
			    "key %s; entries are immutable, not saving\n", key);
			log(arg, line);
			rc = 0;
		} else
			snprintf(err, errsz, "the cache index could not be "
			    "read (database error; see the worker's log)");
		goto out;
	}
	dir = xasprintf("%s/%lld", cc->dir, (long long)cc->repository_id);
	if (mkdir_p(dir, 0700) == -1) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		free(dir);
		goto out;
	}
	tmp = xasprintf("%s/tmp-%ld-%08x.tar.zst", dir, (long)getpid(),
	    (unsigned)random());
	free(dir);
	if ((j.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	r = action_fork_as(cc->as_user, cc->uid, cc->gid, &cc->tick,
	    cache_write_child, &j, "the cache's save", err, errsz);
	if (r == 2) {
		snprintf(line, sizeof line, "##[warning]%s\n", err);
		log(arg, line);
		rc = 0;
		goto out;
	}
	if (r != 0 || fstat(j.fd, &st) == -1)
		goto out;
	j.files = strtoll(err, NULL, 10);
	if (cc->max_bytes > 0 && st.st_size > cc->max_bytes) {
		snprintf(line, sizeof line, "##[warning]The cache archive for "
		    "key %s is %lld bytes, more than [cache] max_bytes = %lld; "
		    "not saving\n", key, (long long)st.st_size,
		    (long long)cc->max_bytes);
		log(arg, line);
		rc = 0;
		goto out;
	}
	snprintf(repo, sizeof repo, "%lld", (long long)cc->repository_id);
	snprintf(size, sizeof size, "%lld", (long long)st.st_size);
	res = worker_exec(cc->w, "INSERT INTO cache_entries (repository_id, "
	    "scope, key, version, size_bytes) VALUES ($1, $2, $3, $4, $5) "
	    "ON CONFLICT DO NOTHING RETURNING id", 5, params,
	    "recording a cache entry");
	if (res == NULL) {
		snprintf(err, errsz, "the cache entry could not be recorded "
		    "(database error; see the worker's log)");
		goto out;
	}
	if (PQntuples(res) == 0) {
		snprintf(line, sizeof line, "Another job saved key %s first; "
		    "entries are immutable, not saving\n", key);
		log(arg, line);
		PQclear(res);
		rc = 0;
		goto out;
	}
	saved = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	final = cache_file(cc, saved);
	if (rename(tmp, final) == -1) {
		snprintf(err, errsz, "%s: %s", final, strerror(errno));
		free(final);
		goto out;
	}
	free(final);
	free(tmp);
	tmp = NULL;
	snprintf(line, sizeof line, "Cache saved with key: %s (%lld files, "
	    "%lld bytes)\n", key, (long long)j.files, (long long)st.st_size);
	log(arg, line);
	cache_evict(cc, saved, log, arg);
	rc = 0;
out:
	if (j.fd != -1)
		close(j.fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(id);
	free(matched);
	free(saved);
	cache_paths_free(&p);
	return rc;
}

int
cache_step(const struct cache_ctx *cc, enum support_action a,
    const struct action_env *env, json_t **post, char *err, size_t errsz)
{
	struct cache_paths p = { env->workspace, cache_home(env->envp),
	    { 0 }, 0, { 0 }, 0 };
	const char *key = cache_input(env, "key"), *paths =
	    cache_input(env, "path"), *v;
	char version[65], line[1400], *matched = NULL;
	int exact = 0, lookup_only, fail_on_miss, r, rc = -1;

	*post = NULL;
	if (a == SUPPORT_ACTION_CACHE_SAVE)
		return cache_save(cc, key, paths ? paths : "", env->workspace,
		    p.home, env->log, env->log_arg, err, errsz);
	lookup_only = (v = cache_input(env, "lookup-only")) != NULL &&
	    strcmp(v, "true") == 0;
	fail_on_miss = (v = cache_input(env, "fail-on-cache-miss")) != NULL &&
	    strcmp(v, "true") == 0;
	if (!cache_key_ok(key, "key", err, errsz) ||
	    cache_paths_parse(&p, paths ? paths : "", err, errsz) == -1 ||
	    cache_version(paths, version, err, errsz) == -1)
		goto out;
	r = cache_restore(cc, env, &p, version, key, cache_input(env,
	    "restore-keys"), lookup_only, &matched, &exact, err, errsz);
	if (r == -1)
		goto out;
	if (r == 0) {
		snprintf(line, sizeof line, "Cache not found for input keys: "
		    "%s\n", key);
		env->log(env->log_arg, line);
		if (fail_on_miss) {
			snprintf(err, errsz, "Failed to restore cache entry. "
			    "Exiting as fail-on-cache-miss is set. Input key: "
			    "%s", key);
			goto out;
		}
	} else {
		snprintf(line, sizeof line, "Cache %s from key: %s\n",
		    lookup_only ? "found (lookup-only, not restored)" :
		    "restored", matched);
		env->log(env->log_arg, line);
	}
	env->set_output(env->log_arg, "cache-hit", exact ? "true" : "false");
	if (a == SUPPORT_ACTION_CACHE_RESTORE) {
		env->set_output(env->log_arg, "cache-primary-key", key);
		env->set_output(env->log_arg, "cache-matched-key",
		    matched ? matched : "");
	}
	if (a == SUPPORT_ACTION_CACHE && !exact) {
		*post = json_pack("{s:s, s:s, s:s?}", "key", key, "path", paths,
		    "home", p.home);
	}
	rc = 0;
out:
	free(matched);
	cache_paths_free(&p);
	return rc;
}

/* ---- actions/setup-python's cache: input ------------------------------ */

/*
 * The package managers setup-python caches for, the files its key hashes
 * by default (cache-dependency-path overrides them) and the directories
 * it caches: pip's and poetry's as the tools themselves report them,
 * pipenv's virtual environments under HOME.
 */
static const struct {
	const char	*name;
	const char	*deps;
} cache_py_managers[] = {
	{ "pip", "**/requirements.txt" },
	{ "pipenv", "**/Pipfile.lock" },
	{ "poetry", "**/poetry.lock" },
};

/*
 * Run argv (argv[0] a full path) as the steps' account with the step's
 * environment in the workspace; its first line of output into out.
 */
static int
cache_py_ask(const struct cache_ctx *cc, const struct action_env *env,
    char *const *argv, char *out, size_t outsz, char *err, size_t errsz)
{
	struct spawn_spec spec;
	char why[512], *nl;
	int status;

	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = env->envp;
	spec.dir = env->workspace;
	spec.fd_in = spec.fd_out = spec.fd_err = -1;
	spec.as_user = cc->as_user;
	spec.uid = cc->uid;
	spec.gid = cc->gid;
	spec.cgroup_procs = cc->cgroup_procs;
	status = spawn_capture(&spec, out, outsz, 60000, why, sizeof why);
	if (status == -1) {
		snprintf(err, errsz, "%s: %s", argv[0], why);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		spawn_status_text(status, why, sizeof why);
		snprintf(err, errsz, "`%s %s %s` failed (%s)", argv[0], argv[1],
		    argv[2], why);
		return -1;
	}
	if ((nl = strchr(out, '\n')) != NULL)
		*nl = '\0';
	if (out[0] == '\0') {
		snprintf(err, errsz, "`%s %s %s` printed nothing", argv[0],
		    argv[1], argv[2]);
		return -1;
	}
	return 0;
}

/*
 * dir as a path line: "~/..." under HOME, so that the entry's version
 * (which digests the lines) does not change with where HOME is.
 */
static void
cache_py_line(struct buf *b, const char *dir, const char *home)
{
	if (home != NULL && home[0] == '/' && cache_under(dir, home) &&
	    dir[strlen(home)] == '/')
		buf_printf(b, "~%s\n", dir + strlen(home));
	else
		buf_printf(b, "%s\n", dir);
}

/* The directories manager caches, one a line, into b. */
static int
cache_py_dirs(const struct cache_ctx *cc, const struct action_env *env,
    const char *manager, const char *python, const char *home,
    struct buf *b, char *err, size_t errsz)
{
	char out[4096], venvs[4096], *poetry, *path, *s;
	const char *envpath = NULL;
	size_t i;

	if (strcmp(manager, "pip") == 0) {
		char *argv[] = { (char *)python, "-m", "pip", "cache", "dir",
		    NULL };

		if (python == NULL) {
			snprintf(err, errsz, "no python-path to ask pip with");
			return -1;
		}
		if (cache_py_ask(cc, env, argv, out, sizeof out, err,
		    errsz) == -1)
			return -1;
		cache_py_line(b, out, home);
		return 0;
	}
	if (strcmp(manager, "pipenv") == 0) {
		if (home == NULL || home[0] != '/') {
			snprintf(err, errsz, "HOME is not set");
			return -1;
		}
		buf_add_str(b, "~/.local/share/virtualenvs\n");
		return 0;
	}
	for (i = 0; env->envp != NULL && env->envp[i] != NULL; i++)
		if (strncmp(env->envp[i], "PATH=", 5) == 0)
			envpath = env->envp[i] + 5;
	if ((poetry = spawn_path_find("poetry", envpath)) == NULL) {
		snprintf(err, errsz, "poetry is not on PATH (%s); install it "
		    "before setup-python, as GitHub's action requires",
		    envpath ? envpath : "unset");
		return -1;
	}
	{
		char *cdir[] = { poetry, "config", "cache-dir", NULL };
		char *vdir[] = { poetry, "config", "virtualenvs.path", NULL };

		if (cache_py_ask(cc, env, cdir, out, sizeof out, err,
		    errsz) == -1 || cache_py_ask(cc, env, vdir, venvs,
		    sizeof venvs, err, errsz) == -1) {
			free(poetry);
			return -1;
		}
	}
	free(poetry);
	cache_py_line(b, out, home);
	/* "{cache-dir}/virtualenvs", poetry's default, is under it already. */
	if ((s = strstr(venvs, "{cache-dir}")) != NULL) {
		*s = '\0';
		path = xasprintf("%s%s%s", venvs, out, s + 11);
	} else
		path = xstrdup(venvs);
	if (!cache_under(path, out))
		cache_py_line(b, path, home);
	free(path);
	return 0;
}

/* "Debian-12"-like: os-release's ID (capitalised) and VERSION_ID. */
static void
cache_py_os(char *out, size_t outsz)
{
	char line[256], id[64] = "Linux", ver[64] = "", *v;
	FILE *f = fopen("/etc/os-release", "re");
	size_t n;

	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "ID=", 3) == 0)
			v = line + 3;
		else if (strncmp(line, "VERSION_ID=", 11) == 0)
			v = line + 11;
		else
			continue;
		if (*v == '"')
			v++;
		if ((n = strlen(v)) > 0 && v[n - 1] == '"')
			v[n - 1] = '\0';
		snprintf(line[0] == 'I' ? id : ver, 64, "%s", v);
	}
	if (f != NULL)
		fclose(f);
	if (id[0] >= 'a' && id[0] <= 'z')
		id[0] = (char)(id[0] - 'a' + 'A');
	snprintf(out, outsz, "%s-%s", ver[0] ? ver : "0", id);
}

static const char *
cache_env_get(char *const *envp, const char *name, const char *def)
{
	size_t i, n = strlen(name);

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return def;
}

int
cache_setup_python(const struct cache_ctx *cc, const struct action_env *env,
    const char *python, const char *version, json_t **post, char *err,
    size_t errsz)
{
	const char *manager = cache_input(env, "cache");
	const char *deps = cache_input(env, "cache-dependency-path");
	const char *home = cache_home(env->envp), *pats[1];
	struct cache_paths p = { env->workspace, home, { 0 }, 0, { 0 }, 0 };
	struct buf dirs = { 0 };
	char hex[HASHFILES_HEX_LEN + 1], osname[160], cver[65], line[1400];
	char *key = NULL, *prefix = NULL, *matched = NULL;
	size_t i;
	int exact = 0, r, rc = -1;

	*post = NULL;
	for (i = 0; i < nitems(cache_py_managers); i++)
		if (strcmp(manager, cache_py_managers[i].name) == 0)
			break;
	if (i == nitems(cache_py_managers)) {
		snprintf(err, errsz, "Caching for '%s' is not supported "
		    "(cache: pip, pipenv or poetry)", manager);
		return -1;
	}
	pats[0] = deps != NULL && deps[0] != '\0' ? deps :
	    cache_py_managers[i].deps;
	if (hashfiles_digest(env->workspace, pats, 1, 0, hex, line,
	    sizeof line) == -1) {
		snprintf(err, errsz, "cache-dependency-path: %s", line);
		return -1;
	}
	if (hex[0] == '\0') {
		snprintf(err, errsz, "No file in %s matched to [%s], make sure "
		    "you have checked out the target repository",
		    env->workspace, pats[0]);
		return -1;
	}
	if (cache_py_dirs(cc, env, manager, python, home, &dirs, line,
	    sizeof line) == -1) {
		snprintf(err, errsz, "cache: %s: %s", manager, line);
		goto out;
	}
	cache_py_os(osname, sizeof osname);
	prefix = xasprintf("setup-python-%s-%s-%s-python-%s-%s",
	    cache_env_get(env->envp, "RUNNER_OS", "Linux"),
	    cache_env_get(env->envp, "RUNNER_ARCH", "X64"), osname,
	    version ? version : "", manager);
	key = xasprintf("%s-%s", prefix, hex);
	if (!cache_key_ok(key, "key", err, errsz) ||
	    cache_paths_parse(&p, dirs.data, err, errsz) == -1 ||
	    cache_version(dirs.data, cver, err, errsz) == -1)
		goto out;
	r = cache_restore(cc, env, &p, cver, key, prefix, 0, &matched,
	    &exact, err, errsz);
	if (r == -1)
		goto out;
	if (r == 0)
		snprintf(line, sizeof line, "%s cache is not found\n", manager);
	else
		snprintf(line, sizeof line, "Cache restored from key: %s\n",
		    matched);
	env->log(env->log_arg, line);
	env->set_output(env->log_arg, "cache-hit", exact ? "true" : "false");
	if (!exact)
		*post = json_pack("{s:s, s:s, s:s?}", "key", key, "path",
		    dirs.data, "home", home);
	rc = 0;
out:
	free(matched);
	free(key);
	free(prefix);
	buf_free(&dirs);
	cache_paths_free(&p);
	return rc;
}
