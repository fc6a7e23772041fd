/*
 * actions/upload-artifact (v4), natively: the files the path lines find
 * are zipped into the run's store (artifact.c) and indexed in the
 * artifacts table, where a later job's download-artifact, the admin API
 * and cictl find them.
 *
 * The path input, as @actions/glob reads it: one pattern per line, "~"
 * for HOME, relative to the workspace; "*" and "?" within a path
 * segment, "**" across them, "[...]" classes (hashfiles_match(), the
 * matcher of hashFiles and actions/cache: segment by segment, fnmatch(3)
 * rules); a line naming a directory takes everything under it; "!" lines exclude what they match and what is under it.
 * Files and directories whose name starts with '.' are left out unless
 * include-hidden-files is true.  Member names are relative to the least
 * common ancestor of the lines' search paths (the part before the first
 * wildcard), or to a lone file's directory, as GitHub's are.
 *
 * v4 immutability: a name exists once per run; a second upload fails
 * unless overwrite is true, which deletes the first (a new id).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "actions.h"
#include "archive_dl.h"
#include "hashfiles.h"
#include "util.h"
#include "worker.h"

#define UPLOAD_MAX_LINES	64
#define UPLOAD_MAX_FILES	100000	/* files in one artifact */
#define UPLOAD_MAX_DEPTH	64	/* directory levels walked */
#define UPLOAD_MAX_VISITS	1000000	/* entries looked at in one walk */

struct upload_pattern {
	char		*abs;	/* absolute, lexically clean */
	char		*search; /* the part before the first wildcard */
	int		 wild;	/* 0: a literal path */
	int		 neg;
};

struct upload {
	struct upload_pattern	 pat[UPLOAD_MAX_LINES];
	size_t			 npat;
	int			 hidden;	/* include-hidden-files */
	int			 level;		/* compression-level */
	int			 fd;		/* the zip being written */
	char			**files;	/* found, absolute */
	size_t			 nfiles;
	size_t			 cap;
	size_t			 visits;	/* entries looked at */
	/* The directories being walked, to see a symbolic link's cycle. */
	dev_t			 dev[UPLOAD_MAX_DEPTH + 1];
	ino_t			 ino[UPLOAD_MAX_DEPTH + 1];
	const char		*paths;		/* the input, for messages */
};

static void
upload_free(struct upload *u)
{
	size_t i;

	for (i = 0; i < u->npat; i++) {
		free(u->pat[i].abs);
		free(u->pat[i].search);
	}
	for (i = 0; i < u->nfiles; i++)
		free(u->files[i]);
	free(u->files);
}

/* "/a/./b//c/../d/" -> "/a/b/d"; path is absolute. */
static void
upload_clean(char *path)
{
	char *out = path, *s = path, *seg;
	size_t len;

	while (*s != '\0') {
		while (*s == '/')
			s++;
		if (*s == '\0')
			break;
		seg = s;
		while (*s != '\0' && *s != '/')
			s++;
		len = (size_t)(s - seg);
		if (len == 1 && seg[0] == '.')
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (out > path && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, seg, len);
		out += len;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

/* 1 if path is root or under it. */
static int
upload_under(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return 1;
	return strncmp(path, root, n) == 0 && (path[n] == '\0' ||
	    path[n] == '/');
}

/* One line into u->pat; -1 with err. */
static int
upload_add_line(struct upload *u, const struct action_env *env,
    const char *line, char *err, size_t errsz)
{
	struct upload_pattern *p;
	char *abs, *s;
	int neg = line[0] == '!';

	if (u->npat == UPLOAD_MAX_LINES) {
		snprintf(err, errsz, "more than %d path lines",
		    UPLOAD_MAX_LINES);
		return -1;
	}
	if ((abs = artifact_resolve(env, line + neg)) == NULL) {
		snprintf(err, errsz, "path \"%s\": HOME is not set", line);
		return -1;
	}
	upload_clean(abs);
	p = &u->pat[u->npat];
	memset(p, 0, sizeof *p);
	p->neg = neg;
	p->abs = abs;
	if (strpbrk(abs, "*?[") == NULL) {
		p->search = xstrdup(abs);
		u->npat++;
		return 0;
	}
	/* The search path: whole segments before the first wildcard. */
	s = strpbrk(abs, "*?[");
	while (s > abs && *s != '/')
		s--;
	p->search = s == abs ? xstrdup("/") : xstrndup(abs, (size_t)(s - abs));
	p->wild = 1;
	u->npat++;
	return 0;
}

/* 1 if p matches path or a directory above it. */
static int
upload_matches(const struct upload_pattern *p, const char *path)
{
	if (!p->wild)
		return upload_under(path, p->abs);
	return hashfiles_match(p->abs, path, 1);
}

static int
upload_wanted(const struct upload *u, const char *path)
{
	size_t i;
	int in = 0;

	for (i = 0; i < u->npat; i++)
		if (upload_matches(&u->pat[i], path)) {
			if (u->pat[i].neg)
				return 0;
			in = 1;
		}
	return in;
}

static int
upload_excluded(const struct upload *u, const char *path)
{
	size_t i;

	for (i = 0; i < u->npat; i++)
		if (u->pat[i].neg && upload_matches(&u->pat[i], path))
			return 1;
	return 0;
}

/* Find the files under path (a file itself, or a directory's tree). */
static int
upload_walk(struct upload *u, const char *path, int depth, char *err,
    size_t errsz)
{
	const char *base = strrchr(path, '/');
	struct dirent *de;
	struct stat st;
	char *sub;
	DIR *d;
	int i, rc = 0;

	base = base != NULL ? base + 1 : path;
	if (!u->hidden && base[0] == '.')
		return 0;
	if (++u->visits > UPLOAD_MAX_VISITS) {
		snprintf(err, errsz, "more than %d files and directories "
		    "under the path lines", UPLOAD_MAX_VISITS);
		return -1;
	}
	if (upload_excluded(u, path) || stat(path, &st) == -1)
		return 0;
	if (S_ISREG(st.st_mode)) {
		if (!upload_wanted(u, path))
			return 0;
		if (u->nfiles == UPLOAD_MAX_FILES) {
			snprintf(err, errsz, "more than %d files to upload",
			    UPLOAD_MAX_FILES);
			return -1;
		}
		if (u->nfiles == u->cap) {
			u->cap = u->cap ? u->cap * 2 : 64;
			u->files = xreallocarray(u->files, u->cap,
			    sizeof *u->files);
		}
		u->files[u->nfiles++] = xstrdup(path);
		return 0;
	}
	if (!S_ISDIR(st.st_mode) || depth >= UPLOAD_MAX_DEPTH)
		return 0;
	/* A symbolic link back to a directory being walked: skipped. */
	for (i = 0; i < depth; i++)
		if (u->dev[i] == st.st_dev && u->ino[i] == st.st_ino)
			return 0;
	u->dev[depth] = st.st_dev;
	u->ino[depth] = st.st_ino;
	if ((d = opendir(path)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") ==
		    0)
			continue;
		sub = strcmp(path, "/") == 0 ? xasprintf("/%s", de->d_name) :
		    xasprintf("%s/%s", path, de->d_name);
		rc = upload_walk(u, sub, depth + 1, err, errsz);
		free(sub);
	}
	closedir(d);
	return rc;
}

static int
upload_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The root member names are relative to, as GitHub's: the least common
 * ancestor of several search paths, a lone file's directory, else the
 * one search path.  New string.
 */
static char *
upload_root(const struct upload *u)
{
	const char *search[UPLOAD_MAX_LINES];
	size_t i, j, n = 0;
	char *root, *s;

	for (i = 0; i < u->npat; i++) {
		if (u->pat[i].neg)
			continue;
		for (j = 0; j < u->npat; j++)
			if (!u->pat[j].neg && j != i &&
			    upload_under(u->pat[i].search, u->pat[j].search) &&
			    (strcmp(u->pat[i].search, u->pat[j].search) != 0 ||
			    j < i))
				break;
		if (j == u->npat)
			search[n++] = u->pat[i].search;
	}
	if (n == 1) {
		if (u->nfiles == 1 && strcmp(u->files[0], search[0]) == 0) {
			root = xstrdup(search[0]);
			s = strrchr(root, '/');
			s[s == root ? 1 : 0] = '\0';
			return root;
		}
		return xstrdup(search[0]);
	}
	root = xstrdup(n > 0 ? search[0] : "/");
	for (i = 1; i < n; i++) {
		/* Cut root to its longest ancestor that holds search[i]. */
		while (!upload_under(search[i], root)) {
			s = strrchr(root, '/');
			s[s == root ? 1 : 0] = '\0';
		}
	}
	return root;
}

static int
upload_copy(struct archive *out, const char *path, int fd, char *err,
    size_t errsz)
{
	char buf[64 * 1024];
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (AR(archive_write_data)(out, buf, (size_t)n) < 0) {
			snprintf(err, errsz, "%s: %s", path,
			    AR(archive_error_string)(out));
			return -1;
		}
	}
	return 0;
}

/* The child: find, then zip; 2 with the message when nothing is found. */
static int
upload_child(void *arg, char *err, size_t errsz)
{
	struct upload *u = arg;
	struct archive *out;
	struct archive_entry *e;
	struct stat st;
	char level[8], *root;
	size_t i, j, rootlen;
	int fd;

	if (archive_dl_load(err, errsz) == -1)
		return 1;
	for (i = 0; i < u->npat; i++)
		if (!u->pat[i].neg && upload_walk(u, u->pat[i].search, 0, err,
		    errsz) == -1)
			return 1;
	if (u->nfiles == 0) {
		snprintf(err, errsz, "No files were found with the provided "
		    "path: %s. No artifacts will be uploaded.", u->paths);
		return 2;
	}
	qsort(u->files, u->nfiles, sizeof *u->files, upload_cmp);
	for (i = j = 1; i < u->nfiles; i++) {
		if (strcmp(u->files[i], u->files[j - 1]) == 0)
			free(u->files[i]);
		else
			u->files[j++] = u->files[i];
	}
	u->nfiles = j;
	root = upload_root(u);
	rootlen = strcmp(root, "/") == 0 ? 0 : strlen(root);
	out = AR(archive_write_new)();
	snprintf(level, sizeof level, "%d", u->level);
	if (AR(archive_write_set_format_zip)(out) != ARCHIVE_OK ||
	    (u->level == 0 ? AR(archive_write_set_format_option)(out, "zip",
	    "compression", "store") : AR(archive_write_set_format_option)(out,
	    "zip", "compression-level", level)) != ARCHIVE_OK ||
	    AR(archive_write_open_fd)(out, u->fd) != ARCHIVE_OK) {
		snprintf(err, errsz, "zip: %s", AR(archive_error_string)(out));
		goto fail;
	}
	for (i = 0; i < u->nfiles; i++) {
		if (!upload_under(u->files[i], root) ||
		    u->files[i][rootlen] != '/')
			continue;	/* never: root holds every file */
		if ((fd = open(u->files[i], O_RDONLY | O_CLOEXEC)) == -1 ||
		    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			snprintf(err, errsz, "%s: %s", u->files[i], fd == -1 ?
			    strerror(errno) : "no longer a regular file");
			if (fd != -1)
				close(fd);
			goto fail;
		}
		e = AR(archive_entry_new)();
		AR(archive_entry_set_pathname)(e, u->files[i] + rootlen + 1);
		AR(archive_entry_set_filetype)(e, AE_IFREG);
		AR(archive_entry_set_perm)(e, st.st_mode & 0777);
		AR(archive_entry_set_size)(e, st.st_size);
		AR(archive_entry_set_mtime)(e, st.st_mtime, 0);
		if (AR(archive_write_header)(out, e) < ARCHIVE_WARN ||
		    upload_copy(out, u->files[i], fd, err, errsz) == -1) {
			if (err[0] == '\0')
				snprintf(err, errsz, "%s: %s", u->files[i],
				    AR(archive_error_string)(out));
			AR(archive_entry_free)(e);
			close(fd);
			goto fail;
		}
		AR(archive_entry_free)(e);
		close(fd);
	}
	if (AR(archive_write_close)(out) != ARCHIVE_OK) {
		snprintf(err, errsz, "zip: %s", AR(archive_error_string)(out));
		goto fail;
	}
	AR(archive_write_free)(out);
	snprintf(err, errsz, "With the provided path, there will be %zu "
	    "file(s) uploaded, relative to %s", u->nfiles, root);
	free(root);
	return 0;
fail:
	AR(archive_write_free)(out);
	free(root);
	return 1;
}

/* ---- the step ----------------------------------------------------------- */

static int
upload_bool(const struct action_env *env, const char *name, int *v,
    char *err, size_t errsz)
{
	const char *s = artifact_input(env, name);

	*v = 0;
	if (s == NULL || s[0] == '\0' || strcasecmp(s, "false") == 0)
		return 0;
	if (strcasecmp(s, "true") == 0) {
		*v = 1;
		return 0;
	}
	snprintf(err, errsz, "Input does not meet YAML 1.2 \"Core Schema\" "
	    "specification: %s (expected true or false, got \"%s\")", name, s);
	return -1;
}

static int
upload_int(const struct action_env *env, const char *name, int64_t lo,
    int64_t hi, int64_t *v, char *err, size_t errsz)
{
	const char *s = artifact_input(env, name), *errstr;

	if (s == NULL || s[0] == '\0')
		return 0;
	if (parse_int64(s, lo, hi, v, &errstr) == -1) {
		snprintf(err, errsz, "%s \"%s\": %s (%lld to %lld)", name, s,
		    errstr, (long long)lo, (long long)hi);
		return -1;
	}
	return 0;
}

/* The zip's SHA-256, read back from fd. */
static int
upload_digest(int fd, char hex[65], char *err, size_t errsz)
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[64 * 1024];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	off_t off = 0;
	ssize_t n;

	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		goto fail;
	while ((n = pread(fd, buf, sizeof buf, off)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsz, "reading the zip back: %s",
			    strerror(errno));
			EVP_MD_CTX_free(c);
			return -1;
		}
		if (EVP_DigestUpdate(c, buf, (size_t)n) != 1)
			goto fail;
		off += n;
	}
	if (EVP_DigestFinal_ex(c, md, &mdlen) != 1 || mdlen != 32)
		goto fail;
	EVP_MD_CTX_free(c);
	hex_encode(md, 32, hex);
	return 0;
fail:
	EVP_MD_CTX_free(c);
	snprintf(err, errsz, "SHA-256 is unavailable (OpenSSL)");
	return -1;
}

/* The step's inputs into u and the rest; -1 with err. */
static int
upload_inputs(struct upload *u, const struct action_env *env,
    const char **name, int *nofiles, int64_t *days, int *overwrite,
    char *err, size_t errsz)
{
	const char *s, *e, *t, *v;
	int64_t level = 6;
	size_t len;
	char *line;
	int r;

	*name = artifact_input(env, "name");
	if (*name == NULL || (*name)[0] == '\0')
		*name = "artifact";
	if (!artifact_name_ok(*name, err, errsz))
		return -1;
	v = artifact_input(env, "if-no-files-found");
	if (v == NULL || v[0] == '\0' || strcmp(v, "warn") == 0)
		*nofiles = 0;
	else if (strcmp(v, "error") == 0)
		*nofiles = 1;
	else if (strcmp(v, "ignore") == 0)
		*nofiles = 2;
	else {
		snprintf(err, errsz, "Unrecognized if-no-files-found input. "
		    "Provided: %s. Available options: warn, error, ignore", v);
		return -1;
	}
	if (upload_int(env, "retention-days", 1, 3650, days, err,
	    errsz) == -1 || upload_int(env, "compression-level", 0, 9,
	    &level, err, errsz) == -1 || upload_bool(env, "overwrite",
	    overwrite, err, errsz) == -1 || upload_bool(env,
	    "include-hidden-files", &u->hidden, err, errsz) == -1)
		return -1;
	u->level = (int)level;
	u->paths = artifact_input(env, "path");
	for (s = u->paths != NULL ? u->paths : ""; *s != '\0'; ) {
		if ((e = strchr(s, '\n')) == NULL)
			e = s + strlen(s);
		t = s;
		len = (size_t)(e - s);
		str_trim_space(&t, &len);
		s = *e == '\n' ? e + 1 : e;
		if (len == 0 || t[0] == '#')
			continue;
		line = xstrndup(t, len);
		r = upload_add_line(u, env, line, err, errsz);
		free(line);
		if (r == -1)
			return -1;
	}
	for (len = 0; len < u->npat && u->pat[len].neg; len++)
		;
	if (len == u->npat) {
		snprintf(err, errsz, "Input required and not supplied: path");
		return -1;
	}
	return 0;
}

/* Index the zip at tmp (fd) as name; its id into id. */
static int
upload_record(const struct artifact_ctx *ac, const char *name, int fd,
    int64_t days, int overwrite, char *id, size_t idsz, char digest[65],
    char *err, size_t errsz)
{
	char run[32], job[32], size[32], ndays[32], attempt[32];
	const char *params[7] = { run, name, job, size, digest, ndays,
	    attempt };
	const char *dparams[4];
	struct stat st;
	PGresult *res;
	char *old;
	int i;

	if (fstat(fd, &st) == -1 || upload_digest(fd, digest, err,
	    errsz) == -1) {
		if (err[0] == '\0')
			snprintf(err, errsz, "zip: %s", strerror(errno));
		return -1;
	}
	snprintf(run, sizeof run, "%lld", (long long)ac->run_id);
	snprintf(job, sizeof job, "%lld", (long long)ac->job_id);
	snprintf(size, sizeof size, "%lld", (long long)st.st_size);
	snprintf(ndays, sizeof ndays, "%lld", (long long)days);
	snprintf(attempt, sizeof attempt, "%lld", (long long)ac->run_attempt);
	/*
	 * As v4 does with overwrite: the old one goes first, then the
	 * upload.  A re-run's job replaces an earlier attempt's upload.
	 */
	dparams[0] = run;
	dparams[1] = name;
	dparams[2] = overwrite ? "t" : "f";
	dparams[3] = attempt;
	res = worker_exec(ac->w, "DELETE FROM artifacts WHERE run_id = $1 AND "
	    "name = $2 AND ($3::boolean OR run_attempt < $4::int) "
	    "RETURNING id", 4, dparams, "deleting an artifact to replace it");
	if (res == NULL) {
		snprintf(err, errsz, "the artifact index could not be written "
		    "(database error; see the worker's log)");
		return -1;
	}
	for (i = 0; i < PQntuples(res); i++) {
		old = artifact_file(ac, PQgetvalue(res, i, 0));
		(void)unlink(old);
		free(old);
	}
	PQclear(res);
	res = worker_exec(ac->w, "INSERT INTO artifacts (run_id, name, job_id, "
	    "size_bytes, sha256, expires_at, run_attempt) VALUES ($1, $2, $3, "
	    "$4, $5, clock_timestamp() + make_interval(days => $6::int), "
	    "$7::int) ON CONFLICT (run_id, name) DO NOTHING RETURNING id", 7,
	    params, "recording an artifact");
	if (res == NULL) {
		snprintf(err, errsz, "the artifact index could not be written "
		    "(database error; see the worker's log)");
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		snprintf(err, errsz, "Failed to CreateArtifact: an artifact "
		    "named \"%s\" already exists in this run; artifacts are "
		    "immutable (overwrite: true replaces it)", name);
		return -1;
	}
	snprintf(id, idsz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
artifact_upload(const struct artifact_ctx *ac, const struct action_env *env,
    char *err, size_t errsz)
{
	struct upload u;
	const char *name;
	char msg[2048], id[32], digest[65], line[2300], *dir = NULL, *tmp = NULL,
	    *final = NULL, *url;
	int64_t days = ac->retention_days;
	int nofiles, overwrite, r, rc = -1;

	memset(&u, 0, sizeof u);
	u.fd = -1;
	err[0] = '\0';
	if (upload_inputs(&u, env, &name, &nofiles, &days, &overwrite, err,
	    errsz) == -1)
		goto out;
	if (days > ac->retention_days) {
		snprintf(line, sizeof line, "retention-days %lld is more than "
		    "this server keeps artifacts ([artifacts] retention_days); "
		    "kept %d days\n", (long long)days, ac->retention_days);
		env->log(env->log_arg, line);
		days = ac->retention_days;
	}
	dir = xasprintf("%s/%lld", ac->dir, (long long)ac->run_id);
	if (mkdir_p(dir, 0750) == -1) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		goto out;
	}
	tmp = xasprintf("%s/tmp-%ld-%08x.zip", dir, (long)getpid(),
	    (unsigned)random());
	if ((u.fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0640)) == -1) {
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	r = action_fork_as(ac->as_user, ac->uid, ac->gid, &ac->tick,
	    upload_child, &u, "upload", msg, sizeof msg);
	if (r == -1) {
		snprintf(err, errsz, "%s", msg);
		goto out;
	}
	if (r == 2) {
		if (nofiles == 1) {
			snprintf(err, errsz, "%s", msg);
			goto out;
		}
		snprintf(line, sizeof line, "%s%s\n", nofiles == 0 ?
		    "##[warning]" : "", msg);
		env->log(env->log_arg, line);
		rc = 0;
		goto out;
	}
	snprintf(line, sizeof line, "%s\n", msg);
	env->log(env->log_arg, line);
	if (upload_record(ac, name, u.fd, days, overwrite, id, sizeof id,
	    digest, err, errsz) == -1)
		goto out;
	final = artifact_file(ac, id);
	if (rename(tmp, final) == -1) {
		snprintf(err, errsz, "%s: %s", final, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	url = ac->page_url[0] != '\0' ? xasprintf("%s/api/v1/artifacts/%s/zip",
	    ac->page_url, id) : xstrdup("");
	snprintf(line, sizeof line, "Artifact %s has been successfully "
	    "uploaded! Artifact ID: %s%s%s\n", name, id, url[0] ? ", URL: " :
	    "", url);
	env->log(env->log_arg, line);
	env->set_output(env->log_arg, "artifact-id", id);
	env->set_output(env->log_arg, "artifact-url", url);
	env->set_output(env->log_arg, "artifact-digest", digest);
	free(url);
	rc = 0;
out:
	if (u.fd != -1)
		close(u.fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(final);
	free(dir);
	upload_free(&u);
	return rc;
}
