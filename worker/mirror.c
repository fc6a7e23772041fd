/*
 * mirror: see mirror.h.  A thin layer over libgit2 that turns its error
 * codes into messages, enforces kiln's limits on what it reads from a
 * repository (which its pushers control) and fixes the shape of the mirror:
 * branches, tags and pull refs under their own names, HEAD on the remote's
 * default branch, and "origin" recorded for a human who opens it with git.
 *
 * Every public function opens the mirror afresh: opening a bare repository
 * is a few stat()s, and it keeps no libgit2 object alive between calls, so
 * a mirror can be fetched by another process in between.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "util.h"
#include "mirror.h"

#define MIRROR_LOCK_FILE	"kiln-fetch.lock"
#define MIRROR_PACK_LOCK_FILE	"kiln-pack.lock"
/*
 * What a mirror fetches.  Forced, because a mirror follows the remote
 * through force pushes and moved tags; pull refs exist only on GitHub
 * and a pattern that matches nothing is not an error.
 */
static const char *const mirror_refspecs[] = {
	"+refs/heads/*:refs/heads/*",
	"+refs/tags/*:refs/tags/*",
	"+refs/pull/*:refs/pull/*",
};

/*
 * Write "what: libgit2's reason" into err.  The reason is read before
 * anything else can replace it; stale reasons are cleared at the start of
 * each public function, so one never belongs to an earlier call.
 */
static void KILN_PRINTF(4, 0)
vseterr(char *err, size_t errsz, int with_git, const char *fmt, va_list ap)
{
	const git_error	*ge = with_git ? git_error_last() : NULL;
	int		 n;

	if (err == NULL || errsz == 0)
		return;
	n = vsnprintf(err, errsz, fmt, ap);
	if (n < 0) {
		err[0] = '\0';
		return;
	}
	if (ge != NULL && ge->message != NULL && ge->message[0] != '\0' &&
	    (size_t)n < errsz)
		snprintf(err + n, errsz - n, ": %s", ge->message);
}

/* Fail with a message of our own. Returns -1. */
static int KILN_PRINTF(3, 4)
errf(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vseterr(err, errsz, 0, fmt, ap);
	va_end(ap);
	return -1;
}

/* Fail after a libgit2 call, appending its reason. Returns -1. */
static int KILN_PRINTF(3, 4)
errf_git(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vseterr(err, errsz, 1, fmt, ap);
	va_end(ap);
	return -1;
}

static int
is_hex(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	}
	return 1;
}

static int
is_zero_sha(const char *s)
{
	return s == NULL || s[0] == '\0' || strcmp(s, MIRROR_ZERO_SHA) == 0;
}

/* Open dir, which must already be a bare repository. */
static int
open_mirror(const char *dir, git_repository **repo, char *err, size_t errsz)
{
	git_error_clear();
	if (git_repository_open_bare(repo, dir) != 0)
		return errf_git(err, errsz, "open mirror %s", dir);
	return 0;
}

/*
 * Look rev up as mirror.h describes (full id, ref name, hex prefix) and
 * peel it to a commit.  errno is ENOENT when rev names nothing.
 */
static int
resolve_commit(git_repository *repo, const char *rev, git_commit **out,
    char *err, size_t errsz)
{
	git_object	*obj = NULL, *peeled = NULL;
	git_reference	*ref = NULL;
	git_oid		 oid;
	size_t		 len;
	int		 rc;

	*out = NULL;
	if (rev == NULL || rev[0] == '\0')
		return errf(err, errsz, "empty revision");
	len = strlen(rev);

	if (len == GIT_OID_HEXSZ && is_hex(rev, len)) {
		if ((rc = git_oid_fromstr(&oid, rev)) == 0)
			rc = git_object_lookup(&obj, repo, &oid, GIT_OBJECT_ANY);
	} else {
		rc = git_reference_dwim(&ref, repo, rev);
		if (rc == 0)
			rc = git_reference_peel(&obj, ref, GIT_OBJECT_ANY);
		else if (rc == GIT_ENOTFOUND && len >= GIT_OID_MINPREFIXLEN &&
		    len < GIT_OID_HEXSZ && is_hex(rev, len)) {
			git_error_clear();
			if ((rc = git_oid_fromstrn(&oid, rev, len)) == 0)
				rc = git_object_lookup_prefix(&obj, repo, &oid,
				    len, GIT_OBJECT_ANY);
		}
		git_reference_free(ref);
	}
	if (rc != 0) {
		errf_git(err, errsz, "unknown revision %s in %s", rev,
		    git_repository_path(repo));
		errno = rc == GIT_ENOTFOUND ? ENOENT : EIO;
		return -1;
	}

	rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	git_object_free(obj);
	if (rc != 0) {
		errf_git(err, errsz, "revision %s in %s is not a commit", rev,
		    git_repository_path(repo));
		errno = EINVAL;
		return -1;
	}
	*out = (git_commit *)peeled;
	return 0;
}

static int
commit_tree(git_repository *repo, const char *rev, git_tree **out,
    char *err, size_t errsz)
{
	git_commit	*commit;
	int		 rc;

	if (resolve_commit(repo, rev, &commit, err, errsz) != 0)
		return -1;
	rc = git_commit_tree(out, commit);
	git_commit_free(commit);
	if (rc != 0)
		return errf_git(err, errsz, "tree of %s", rev);
	return 0;
}

/*
 * Read blob id if it has at most max bytes: 0 with *data (NUL-terminated)
 * and *len; 1 when it is bigger, with *len its size and nothing read;
 * -1 on error.  The size comes from the object header, so a huge blob is
 * refused without being inflated.
 */
static int
read_blob(git_repository *repo, const git_oid *id, const char *path,
    size_t max, char **data, size_t *len, char *err, size_t errsz)
{
	git_odb		*odb;
	git_object_t	 type;
	git_blob	*blob;
	size_t		 size;
	int		 rc;

	*data = NULL;
	*len = 0;
	if (git_repository_odb(&odb, repo) != 0)
		return errf_git(err, errsz, "object database");
	rc = git_odb_read_header(&size, &type, odb, id);
	git_odb_free(odb);
	if (rc != 0)
		return errf_git(err, errsz, "read %s", path);
	if (type != GIT_OBJECT_BLOB)
		return errf(err, errsz, "%s is not a blob", path);
	if (size > max) {
		*len = size;
		return 1;
	}

	if (git_blob_lookup(&blob, repo, id) != 0)
		return errf_git(err, errsz, "read %s", path);
	if (git_blob_rawsize(blob) != (git_object_size_t)size) {
		git_blob_free(blob);
		return errf(err, errsz, "read %s: size changed", path);
	}
	*data = xmalloc(size + 1);
	memcpy(*data, git_blob_rawcontent(blob), size);
	(*data)[size] = '\0';
	*len = size;
	git_blob_free(blob);
	return 0;
}

/*
 * A remote of repo for url: anonymous (in memory) when name is NULL,
 * otherwise saved in repo's config, with git's default fetch refspec
 * (refs/heads to refs/remotes/<name>) when fetchspec is set.
 *
 * url.<base>.insteadOf rewriting is skipped: kiln fetches exactly the URL
 * it was given.  It also keeps this process's memory flat: libgit2 1.5
 * leaks a PCRE2 match block for every config entry its insteadOf search
 * does not match (fixed upstream by libgit2 PR #6382), which in a
 * long-running worker adds up on every fetch and checkout.  For the same
 * reason this file avoids git_remote_lookup(), git_branch_set_upstream()
 * and git_branch_delete() on paths taken per call; what is left is the
 * git_remote_add_fetch() calls that run once when a mirror is created
 * (tens of KiB, once per repository).
 */
static int
create_remote(git_remote **out, git_repository *repo, const char *name,
    const char *url, int fetchspec)
{
	git_remote_create_options	opts;

	git_remote_create_options_init(&opts,
	    GIT_REMOTE_CREATE_OPTIONS_VERSION);
	opts.repository = repo;
	opts.name = name;
	opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	if (!fetchspec)
		opts.flags |= GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	return git_remote_create_with_opts(out, url, &opts);
}

/* git_clone()'s remote_cb: origin as create_remote() makes it. */
static int
clone_remote_cb(git_remote **out, git_repository *repo, const char *name,
    const char *url, void *arg)
{
	(void)arg;
	return create_remote(out, repo, name, url, 1);
}

/*
 * Open the bare repository at dir, or create it when dir holds none.
 * Called under the fetch lock, so two workers never both create it.
 */
static int
open_or_init(const char *dir, git_repository **repo, char *err, size_t errsz)
{
	git_repository_init_options	 opts;
	int				 rc;

	rc = git_repository_open_bare(repo, dir);
	if (rc == 0)
		return 0;
	if (rc != GIT_ENOTFOUND)
		return errf_git(err, errsz, "open mirror %s", dir);
	git_error_clear();

	git_repository_init_options_init(&opts,
	    GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
	    GIT_REPOSITORY_INIT_NO_REINIT;
	if (git_repository_init_ext(repo, dir, &opts) != 0)
		return errf_git(err, errsz, "create mirror %s", dir);
	return 0;
}

/*
 * Record url as remote "origin" with the mirror's refspecs, for people and
 * tools that open the mirror with git; kiln itself always fetches the URL
 * it is given.
 */
static int
remember_origin(git_repository *repo, const char *url, char *err,
    size_t errsz)
{
	git_config	*cfg;
	git_remote	*remote = NULL;
	git_buf		 cur = GIT_BUF_INIT;
	size_t		 i;
	int		 rc;

	/* Read the config, not git_remote_lookup(): see create_remote(). */
	if (git_repository_config(&cfg, repo) != 0)
		return errf_git(err, errsz, "mirror config");
	rc = git_config_get_string_buf(&cur, cfg, "remote.origin.url");
	git_config_free(cfg);
	if (rc == 0) {
		rc = strcmp(cur.ptr, url) == 0 ? 0 :
		    git_remote_set_url(repo, "origin", url);
		git_buf_dispose(&cur);
		if (rc != 0)
			return errf_git(err, errsz, "set origin to %s", url);
		return 0;
	}
	git_buf_dispose(&cur);
	if (rc != GIT_ENOTFOUND)
		return errf_git(err, errsz, "read origin");
	git_error_clear();

	/* Once per mirror. */
	if (create_remote(&remote, repo, "origin", url, 0) != 0)
		return errf_git(err, errsz, "add origin %s", url);
	git_remote_free(remote);
	for (i = 0; i < nitems(mirror_refspecs); i++) {
		if (git_remote_add_fetch(repo, "origin",
		    mirror_refspecs[i]) != 0)
			return errf_git(err, errsz, "add refspec %s",
			    mirror_refspecs[i]);
	}
	return 0;
}

/* Point the mirror's HEAD at branch (a refs/heads/ name) if it exists. */
static void
set_mirror_head(git_repository *repo, const char *branch)
{
	git_reference	*ref = NULL, *head = NULL;

	if (!str_has_prefix(branch, "refs/heads/"))
		return;
	if (git_reference_lookup(&ref, repo, branch) != 0) {
		git_error_clear();
		return;
	}
	git_reference_free(ref);
	/*
	 * Unchanged, the usual case: rewriting HEAD would create and
	 * remove HEAD.lock, an inode allocated per fetch for nothing.
	 */
	if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	    strcmp(git_reference_symbolic_target(head), branch) == 0) {
		git_reference_free(head);
		return;
	}
	git_error_clear();
	git_reference_free(head);
	head = NULL;
	if (git_reference_symbolic_create(&head, repo, "HEAD", branch, 1,
	    "kiln: default branch") != 0)
		git_error_clear();	/* cosmetic; the fetch succeeded */
	git_reference_free(head);
}

/* flock(op) <dir>/<name>, made if missing; the fd to close, or -1. */
static int
lock_file(const char *dir, const char *name, int op)
{
	char	*path = xasprintf("%s/%s", dir, name);
	int	 fd, saved;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(path);
	if (fd == -1)
		return -1;
	while (flock(fd, op) == -1)
		if (errno != EINTR) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
	return fd;
}

/* Take the mirror's fetch lock; returns the fd to close, or -1. */
static int
lock_mirror(const char *dir, char *err, size_t errsz)
{
	int	fd = lock_file(dir, MIRROR_LOCK_FILE, LOCK_EX);

	if (fd == -1)
		errf(err, errsz, "lock %s/%s: %s", dir, MIRROR_LOCK_FILE,
		    strerror(errno));
	return fd;
}

/*
 * Readers hold <dir>/kiln-pack.lock shared while the mirror is open, so the
 * packs consolidate_packs() deletes are never ones a reader may still
 * open.  Returns the fd to close, or -1: no mirror yet (nothing to delete
 * either) or no lock to be had, when the read goes ahead unlocked.
 */
static int
read_lock(const char *dir)
{
	return lock_file(dir, MIRROR_PACK_LOCK_FILE, LOCK_SH);
}

static void
read_unlock(int fd)
{
	int	saved = errno;	/* callers report errno (ENOENT ...) */

	if (fd != -1)
		close(fd);
	errno = saved;
}

/* stat() of base + ext. */
static int
stat_ext(const char *base, const char *ext, struct stat *st)
{
	char	*path = xasprintf("%s%s", base, ext);
	int	 rc = stat(path, st);

	free(path);
	return rc;
}

struct pack_info {
	char	*base;	/* <dir>/objects/pack/pack-<hash>, no extension */
	off_t	 size;	/* of the .pack */
};

static int
pack_size_cmp(const void *a, const void *b)
{
	const struct pack_info *pa = a, *pb = b;

	return pa->size < pb->size ? -1 : pa->size > pb->size;
}

/* The mirror's packs that have an index and no .keep; *n of them. */
static struct pack_info *
list_packs(const char *dir, size_t *n)
{
	struct pack_info *v = NULL;
	struct dirent	*e;
	struct stat	 st;
	char		*packdir, *path;
	size_t		 len, cap = 0;
	DIR		*d;

	*n = 0;
	packdir = xasprintf("%s/objects/pack", dir);
	if ((d = opendir(packdir)) == NULL) {
		free(packdir);
		return NULL;
	}
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (len <= 5 || strcmp(e->d_name + len - 5, ".pack") != 0)
			continue;
		path = xasprintf("%s/%.*s", packdir, (int)(len - 5), e->d_name);
		if (stat_ext(path, ".idx", &st) == -1 ||
		    stat_ext(path, ".keep", &st) == 0 ||
		    stat_ext(path, ".pack", &st) == -1) {
			free(path);
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			v = xreallocarray(v, cap, sizeof *v);
		}
		v[*n].base = path;
		v[*n].size = st.st_size;
		(*n)++;
	}
	closedir(d);
	free(packdir);
	return v;
}

/*
 * Add every object a version-2 pack index lists to pb.  -1 when the index
 * is not one (an older format: that pack is left alone).
 */
static int
insert_index_objects(git_packbuilder *pb, const char *idx_path)
{
	static const unsigned char magic[8] = { 0xff, 't', 'O', 'c', 0, 0, 0,
	    2 };
	const unsigned char *data, *last;
	struct stat	 st;
	size_t		 len, count, i;
	git_oid		 oid;
	void		*map;
	int		 fd, rc = -1;

	if ((fd = open(idx_path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || st.st_size < 8 + 256 * 4) {
		close(fd);
		return -1;
	}
	len = (size_t)st.st_size;
	map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	data = map;
	if (memcmp(data, magic, sizeof magic) != 0)
		goto out;
	last = data + 8 + 255 * 4;
	count = (size_t)last[0] << 24 | (size_t)last[1] << 16 |
	    (size_t)last[2] << 8 | last[3];
	if (count > (len - 8 - 256 * 4) / GIT_OID_RAWSZ)
		goto out;
	for (i = 0; i < count; i++) {
		git_oid_fromraw(&oid, data + 8 + 256 * 4 + i * GIT_OID_RAWSZ);
		if (git_packbuilder_insert(pb, &oid, NULL) != 0)
			goto out;
	}
	rc = 0;
out:
	munmap(map, len);
	return rc;
}

/* How many packs list_packs() finds. */
static size_t
pack_count(const char *dir)
{
	struct pack_info *packs;
	size_t		 n, i;

	packs = list_packs(dir, &n);
	for (i = 0; i < n; i++)
		free(packs[i].base);
	free(packs);
	return n;
}

/*
 * Every fetch adds a pack, and finding an object costs a look into each
 * pack (measured: reading the workflows took 0.3 ms with one pack and 6 ms
 * with 600, a fetch 9 ms and 90 ms).  Past MIRROR_PACK_LIMIT (mirror.h)
 * mirror_tidy() combines the small ones; a fetch does so itself only past
 * MIRROR_PACK_FETCH_LIMIT, since combining costs 5-40 ms that would
 * otherwise land on the plan or job that fetched.
 *
 * Past limit packs, write the objects of the small ones into one pack and
 * delete them.  Small, as git's geometric repacking has it:
 * from the largest down, a pack at least twice the size of all smaller
 * ones together is kept, so each object is rewritten only a logarithmic
 * number of times.  Every object of a combined pack is kept, reachable or
 * not (mirror.h: never prune).  The caller holds the fetch lock; the
 * deletion waits for readers (read_lock).  Best effort: on any failure
 * the mirror stays as it was, with all its objects.
 */
static void
consolidate_packs(git_repository *repo, const char *dir, size_t limit)
{
	git_packbuilder	*pb = NULL;
	struct pack_info *packs;
	const char	*name;
	off_t		 below = 0;
	size_t		 n, i, combine;
	char		*path;
	int		 fd;

	packs = list_packs(dir, &n);
	if (n <= limit)
		goto out;
	qsort(packs, n, sizeof *packs, pack_size_cmp);
	for (i = 0; i < n; i++)
		below += packs[i].size;
	for (combine = n; combine > 1; combine--) {
		below -= packs[combine - 1].size;
		if (packs[combine - 1].size < 2 * below)
			break;
	}
	if (combine < 2 || git_packbuilder_new(&pb, repo) != 0)
		goto out;
	git_packbuilder_set_threads(pb, 1);
	for (i = 0; i < combine; i++) {
		path = xasprintf("%s.idx", packs[i].base);
		if (insert_index_objects(pb, path) == -1) {
			free(path);
			goto out;
		}
		free(path);
	}
	if (git_packbuilder_write(pb, NULL, 0, NULL, NULL) != 0 ||
	    (name = git_packbuilder_name(pb)) == NULL)
		goto out;

	if ((fd = lock_file(dir, MIRROR_PACK_LOCK_FILE, LOCK_EX)) == -1)
		goto out;
	for (i = 0; i < combine; i++) {
		/* The same objects may make the same pack again. */
		if (str_has_suffix(packs[i].base, name))
			continue;
		path = xasprintf("%s.idx", packs[i].base);
		unlink(path);
		free(path);
		path = xasprintf("%s.pack", packs[i].base);
		unlink(path);
		free(path);
	}
	close(fd);
out:
	git_packbuilder_free(pb);
	git_error_clear();
	for (i = 0; packs != NULL && i < n; i++)
		free(packs[i].base);
	free(packs);
}

/* A fetch's credentials callback: its mirror_auth and what happened. */
struct mirror_cred {
	const struct mirror_auth *auth;
	int		 asked;
	char		 why[300];	/* why there is no token */
};

/* libgit2's credentials callback: the token once, then no more. */
static int
mirror_cred_cb(git_credential **out, const char *url, const char *user,
    unsigned int allowed, void *payload)
{
	struct mirror_cred *c = payload;
	const char *token;

	(void)url;
	(void)user;
	if (c->auth == NULL || c->asked ||
	    !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT)) {
		if (c->why[0] == '\0')
			snprintf(c->why, sizeof c->why, "%s", c->asked ?
			    "the token was refused" : "kiln has no token for "
			    "it (a private repository needs [github] app_id)");
		return GIT_EUSER;
	}
	c->asked = 1;
	if ((token = c->auth->token(c->auth->arg, c->why,
	    sizeof c->why)) == NULL)
		return GIT_EUSER;
	return git_credential_userpass_plaintext_new(out, "x-access-token",
	    token);
}

int
mirror_fetch(const char *dir, const char *url, char *err, size_t errsz)
{
	return mirror_fetch_auth(dir, url, NULL, err, errsz);
}

int
mirror_fetch_auth(const char *dir, const char *url,
    const struct mirror_auth *auth, char *err, size_t errsz)
{
	struct mirror_cred	 cred = { auth, 0, "" };
	git_repository		*repo = NULL;
	git_remote		*remote = NULL;
	git_fetch_options	 opts;
	git_strarray		 specs;
	git_buf			 defbranch = GIT_BUF_INIT;
	char			*head = NULL;
	int			 lockfd, rc = -1;

	git_error_clear();
	if (url == NULL || url[0] == '\0')
		return errf(err, errsz, "fetch into %s: no URL", dir);
	if (mkdir_p(dir, 0700) != 0)
		return errf(err, errsz, "create %s: %s", dir, strerror(errno));
	if ((lockfd = lock_mirror(dir, err, errsz)) == -1)
		return -1;
	if (open_or_init(dir, &repo, err, errsz) != 0)
		goto out;

	/*
	 * An anonymous remote, so the fetch depends on nothing a person may
	 * have edited in the mirror's config, and origin is updated only
	 * once url has proved good.
	 */
	if (create_remote(&remote, repo, NULL, url, 0) != 0) {
		errf_git(err, errsz, "fetch %s", url);
		goto out;
	}
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	opts.callbacks.credentials = mirror_cred_cb;
	opts.callbacks.payload = &cred;
	specs.strings = (char **)mirror_refspecs;
	specs.count = nitems(mirror_refspecs);
	opts.update_fetchhead = 0;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE; /* in specs */

	/*
	 * git_remote_fetch() in steps, to ask for the default branch while
	 * connected.  Refs move only in update_tips, after the pack is
	 * complete: a failure before leaves the mirror as it was.
	 */
	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &opts.callbacks,
	    &opts.proxy_opts, NULL) != 0) {
		if (cred.why[0] != '\0')
			errf(err, errsz, "fetch %s: the server asks for "
			    "credentials: %s", url, cred.why);
		else
			errf_git(err, errsz, "fetch %s: connect", url);
		goto out;
	}
	if (git_remote_download(remote, &specs, &opts) != 0) {
		errf_git(err, errsz, "fetch %s: download", url);
		goto out;
	}
	if (git_remote_default_branch(&defbranch, remote) == 0)
		head = xstrdup(defbranch.ptr);
	else
		git_error_clear();	/* an empty remote has none */
	git_buf_dispose(&defbranch);
	git_remote_disconnect(remote);

	if (git_remote_update_tips(remote, &opts.callbacks, 0,
	    GIT_REMOTE_DOWNLOAD_TAGS_NONE, "kiln: fetch") != 0) {
		errf_git(err, errsz, "fetch %s: update refs", url);
		goto out;
	}
	if (git_remote_prune(remote, &opts.callbacks) != 0) {
		errf_git(err, errsz, "fetch %s: prune", url);
		goto out;
	}
	if (head != NULL)
		set_mirror_head(repo, head);
	if (remember_origin(repo, url, err, errsz) != 0)
		goto out;
	consolidate_packs(repo, dir, MIRROR_PACK_FETCH_LIMIT);
	rc = 0;
out:
	free(head);
	git_remote_free(remote);
	git_repository_free(repo);
	close(lockfd);	/* releases the lock */
	return rc;
}

int
mirror_tidy(const char *dir)
{
	git_repository	*repo = NULL;
	size_t		 n;
	int		 lockfd, rc;

	git_error_clear();
	if ((n = pack_count(dir)) <= MIRROR_PACK_LIMIT)
		return 0;
	/* A fetch in progress: its own fetcher tidies after it. */
	if ((lockfd = lock_file(dir, MIRROR_LOCK_FILE, LOCK_EX | LOCK_NB)) ==
	    -1)
		return errno == EWOULDBLOCK ? 0 : -1;
	if (git_repository_open_bare(&repo, dir) == 0) {
		consolidate_packs(repo, dir, MIRROR_PACK_LIMIT);
		git_repository_free(repo);
		rc = pack_count(dir) < n;
	} else
		rc = -1;
	git_error_clear();
	close(lockfd);
	return rc;
}

static int
mirror_resolve_unlocked(const char *dir, const char *rev, char out[41], char *err,
    size_t errsz)
{
	git_repository	*repo;
	git_commit	*commit;

	out[0] = '\0';
	if (open_mirror(dir, &repo, err, errsz) != 0)
		return -1;
	if (resolve_commit(repo, rev, &commit, err, errsz) != 0) {
		git_repository_free(repo);
		return -1;
	}
	git_oid_tostr(out, GIT_OID_HEXSZ + 1, git_commit_id(commit));
	git_commit_free(commit);
	git_repository_free(repo);
	return 0;
}

static int
mirror_has_commit_unlocked(const char *dir, const char *sha)
{
	git_repository	*repo;
	git_commit	*commit;
	git_oid		 oid;
	int		 found;

	if (is_zero_sha(sha) || strlen(sha) != GIT_OID_HEXSZ ||
	    !is_hex(sha, GIT_OID_HEXSZ))
		return 0;
	git_error_clear();
	if (git_repository_open_bare(&repo, dir) != 0) {
		git_error_clear();	/* no mirror yet */
		return 0;
	}
	found = git_oid_fromstr(&oid, sha) == 0 &&
	    git_commit_lookup(&commit, repo, &oid) == 0;
	if (found)
		git_commit_free(commit);
	git_error_clear();
	git_repository_free(repo);
	return found;
}

static char *
mirror_commit_message_unlocked(const char *dir, const char *rev, char *err,
    size_t errsz)
{
	git_repository	*repo;
	git_commit	*commit;
	const char	*msg;
	char		*out;

	if (open_mirror(dir, &repo, err, errsz) != 0)
		return NULL;
	if (resolve_commit(repo, rev, &commit, err, errsz) != 0) {
		git_repository_free(repo);
		return NULL;
	}
	msg = git_commit_message(commit);
	out = xstrdup(msg != NULL ? msg : "");
	git_commit_free(commit);
	git_repository_free(repo);
	return out;
}

static int
mirror_file_cmp(const void *a, const void *b)
{
	const struct mirror_file *fa = a, *fb = b;

	return strcmp(fa->path, fb->path);
}

static int
is_workflow_entry(const git_tree_entry *e)
{
	const char	*name = git_tree_entry_name(e);
	git_filemode_t	 mode = git_tree_entry_filemode(e);

	if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE)
		return 0;
	return str_has_suffix(name, ".yml") || str_has_suffix(name, ".yaml");
}

static int
mirror_read_workflows_unlocked(const char *dir, const char *sha,
    struct mirror_file **filesp, size_t *nfilesp, char *err, size_t errsz)
{
	git_repository		*repo;
	git_tree		*root = NULL, *wf = NULL;
	git_tree_entry		*ent = NULL;
	const git_tree_entry	*e;
	struct mirror_file	*files = NULL, *f;
	size_t			 nfiles = 0, i, n;
	int			 rc = -1, r;

	*filesp = NULL;
	*nfilesp = 0;
	if (open_mirror(dir, &repo, err, errsz) != 0)
		return -1;
	if (commit_tree(repo, sha, &root, err, errsz) != 0)
		goto out;

	r = git_tree_entry_bypath(&ent, root, MIRROR_WORKFLOW_DIR);
	if (r == GIT_ENOTFOUND ||
	    (r == 0 && git_tree_entry_type(ent) != GIT_OBJECT_TREE)) {
		git_error_clear();
		rc = 0;		/* no workflows at all */
		goto out;
	}
	if (r != 0) {
		errf_git(err, errsz, "%s at %s", MIRROR_WORKFLOW_DIR, sha);
		goto out;
	}
	if (git_tree_lookup(&wf, repo, git_tree_entry_id(ent)) != 0) {
		errf_git(err, errsz, "%s at %s", MIRROR_WORKFLOW_DIR, sha);
		goto out;
	}

	n = git_tree_entrycount(wf);
	for (i = 0; i < n; i++) {
		e = git_tree_entry_byindex(wf, i);
		if (!is_workflow_entry(e))
			continue;
		if (nfiles == MIRROR_MAX_WORKFLOWS) {
			errf(err, errsz, "%s at %s: more than %d workflow "
			    "files", MIRROR_WORKFLOW_DIR, sha,
			    MIRROR_MAX_WORKFLOWS);
			goto out;
		}
		files = xreallocarray(files, nfiles + 1, sizeof *files);
		f = &files[nfiles++];
		memset(f, 0, sizeof *f);
		f->path = xasprintf("%s/%s", MIRROR_WORKFLOW_DIR,
		    git_tree_entry_name(e));
		r = read_blob(repo, git_tree_entry_id(e), f->path,
		    MIRROR_MAX_WORKFLOW_SIZE, &f->data, &f->len, err, errsz);
		if (r == -1)
			goto out;
		if (r == 1)
			f->error = xasprintf("%s is %zu bytes, more than the "
			    "limit of %d", f->path, f->len,
			    MIRROR_MAX_WORKFLOW_SIZE);
	}
	if (nfiles > 1)
		qsort(files, nfiles, sizeof *files, mirror_file_cmp);
	*filesp = files;
	*nfilesp = nfiles;
	files = NULL;
	nfiles = 0;
	rc = 0;
out:
	mirror_files_free(files, nfiles);
	git_tree_free(wf);
	git_tree_entry_free(ent);
	git_tree_free(root);
	git_repository_free(repo);
	return rc;
}

void
mirror_files_free(struct mirror_file *files, size_t n)
{
	size_t	i;

	if (files == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].data);
		free(files[i].error);
	}
	free(files);
}

static int
mirror_read_file_unlocked(const char *dir, const char *sha, const char *path,
    size_t max, char **data, size_t *len, char *err, size_t errsz)
{
	git_repository	*repo;
	git_tree	*root = NULL;
	git_tree_entry	*ent = NULL;
	int		 rc = -1, r, error = EIO;

	*data = NULL;
	*len = 0;
	if (path == NULL || path[0] == '\0' || path[0] == '/') {
		errf(err, errsz, "bad path \"%s\"", path ? path : "");
		errno = EINVAL;
		return -1;
	}
	if (open_mirror(dir, &repo, err, errsz) != 0) {
		errno = EIO;
		return -1;
	}
	if (commit_tree(repo, sha, &root, err, errsz) != 0)
		goto out;

	r = git_tree_entry_bypath(&ent, root, path);
	if (r != 0) {
		errf_git(err, errsz, "%s at %s", path, sha);
		if (r == GIT_ENOTFOUND)
			error = ENOENT;
		goto out;
	}
	switch (git_tree_entry_filemode(ent)) {
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		break;
	case GIT_FILEMODE_TREE:
		errf(err, errsz, "%s at %s is a directory", path, sha);
		error = EISDIR;
		goto out;
	default:
		errf(err, errsz, "%s at %s is not a regular file", path, sha);
		error = EINVAL;
		goto out;
	}
	r = read_blob(repo, git_tree_entry_id(ent), path, max, data, len,
	    err, errsz);
	if (r == 1) {
		errf(err, errsz, "%s at %s is %zu bytes, more than the limit "
		    "of %zu", path, sha, *len, max);
		*len = 0;
		error = EFBIG;
		goto out;
	}
	if (r == 0)
		rc = 0;
out:
	git_tree_entry_free(ent);
	git_tree_free(root);
	git_repository_free(repo);
	if (rc != 0)
		errno = error;
	return rc;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
mirror_changed_paths_unlocked(const char *dir, const char *base_sha,
    const char *head_sha, char ***pathsp, size_t *npathsp, char *err,
    size_t errsz)
{
	git_repository		*repo;
	git_tree		*old = NULL, *new = NULL;
	git_diff		*diff = NULL;
	git_diff_options	 opts;
	const git_diff_delta	*d;
	char			**paths = NULL;
	size_t			 npaths = 0, i, j, n;
	int			 rc = -1;

	*pathsp = NULL;
	*npathsp = 0;
	if (open_mirror(dir, &repo, err, errsz) != 0)
		return -1;
	if (!is_zero_sha(base_sha) &&
	    commit_tree(repo, base_sha, &old, err, errsz) != 0)
		goto out;
	if (commit_tree(repo, head_sha, &new, err, errsz) != 0)
		goto out;

	/*
	 * No rename detection: without it a rename is a deletion plus an
	 * addition, which lists both paths as mirror.h promises, and the
	 * similarity search costs time on big pushes for nothing.
	 */
	git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
	if (git_diff_tree_to_tree(&diff, repo, old, new, &opts) != 0) {
		errf_git(err, errsz, "diff %s..%s",
		    is_zero_sha(base_sha) ? "(empty tree)" : base_sha,
		    head_sha);
		goto out;
	}
	n = git_diff_num_deltas(diff);
	if (n > 0)
		paths = xreallocarray(NULL, n, 2 * sizeof *paths);
	for (i = 0; i < n; i++) {
		d = git_diff_get_delta(diff, i);
		paths[npaths++] = xstrdup(d->new_file.path);
		if (strcmp(d->old_file.path, d->new_file.path) != 0)
			paths[npaths++] = xstrdup(d->old_file.path);
	}
	if (npaths > 1) {
		qsort(paths, npaths, sizeof *paths, str_cmp);
		for (i = 1, j = 1; i < npaths; i++) {
			if (strcmp(paths[i], paths[j - 1]) == 0)
				free(paths[i]);
			else
				paths[j++] = paths[i];
		}
		npaths = j;
	}
	*pathsp = paths;
	*npathsp = npaths;
	rc = 0;
out:
	git_diff_free(diff);
	git_tree_free(old);
	git_tree_free(new);
	git_repository_free(repo);
	return rc;
}

void
mirror_paths_free(char **paths, size_t n)
{
	size_t	i;

	if (paths == NULL)
		return;
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

static int
mirror_merge_base_unlocked(const char *dir, const char *a, const char *b,
    char out[41], char *err, size_t errsz)
{
	git_repository	*repo;
	git_commit	*ca = NULL, *cb = NULL;
	git_oid		 base;
	int		 rc = -1, r, error = EIO;

	out[0] = '\0';
	if (open_mirror(dir, &repo, err, errsz) != 0) {
		errno = EIO;
		return -1;
	}
	if (resolve_commit(repo, a, &ca, err, errsz) != 0 ||
	    resolve_commit(repo, b, &cb, err, errsz) != 0)
		goto out;
	r = git_merge_base(&base, repo, git_commit_id(ca), git_commit_id(cb));
	if (r != 0) {
		if (r == GIT_ENOTFOUND) {
			errf(err, errsz, "%s and %s have no common ancestor",
			    a, b);
			error = ENOENT;
		} else
			errf_git(err, errsz, "merge base of %s and %s", a, b);
		goto out;
	}
	git_oid_tostr(out, GIT_OID_HEXSZ + 1, &base);
	rc = 0;
out:
	git_commit_free(ca);
	git_commit_free(cb);
	git_repository_free(repo);
	if (rc != 0)
		errno = error;
	return rc;
}

/*
 * The local branch a checkout of ref should leave HEAD on, or NULL for a
 * detached HEAD (tags, pull refs, no ref).  An unqualified name is a
 * branch only if the mirror has it, as actions/checkout decides.
 */
static char *
checkout_branch(git_repository *mirror, const char *ref)
{
	git_reference	*r;
	char		*full;
	int		 found;

	if (ref == NULL || ref[0] == '\0')
		return NULL;
	if (str_has_prefix(ref, "refs/heads/"))
		return ref[11] != '\0' ? xstrdup(ref + 11) : NULL;
	if (str_has_prefix(ref, "refs/"))
		return NULL;
	full = xasprintf("refs/heads/%s", ref);
	found = git_reference_lookup(&r, mirror, full) == 0;
	free(full);
	if (!found) {
		git_error_clear();
		return NULL;
	}
	git_reference_free(r);
	return xstrdup(ref);
}

/* Drop branch.<name>.remote and .merge, which the clone may have set. */
static void
unset_branch_config(git_config *cfg, const char *name)
{
	static const char *const vars[] = { "remote", "merge" };
	char	*key;
	size_t	 i;

	for (i = 0; i < nitems(vars); i++) {
		key = xasprintf("branch.%s.%s", name, vars[i]);
		if (git_config_delete_entry(cfg, key) != 0)
			git_error_clear();	/* absent: fine */
		free(key);
	}
}

/* Delete every local branch but keep (NULL: all of them). */
static int
delete_other_branches(git_repository *repo, const char *keep, char *err,
    size_t errsz)
{
	git_branch_iterator	*it;
	git_reference		*ref;
	git_branch_t		 type;
	git_config		*cfg = NULL;
	const char		*name;
	char			**names = NULL;
	size_t			 n = 0, i;
	int			 r, rc = 0;

	if (git_branch_iterator_new(&it, repo, GIT_BRANCH_LOCAL) != 0)
		return errf_git(err, errsz, "list branches");
	while ((r = git_branch_next(&ref, &type, it)) == 0) {
		if (git_branch_name(&name, ref) == 0 &&
		    (keep == NULL || strcmp(name, keep) != 0)) {
			names = xreallocarray(names, n + 1, sizeof *names);
			names[n++] = xstrdup(git_reference_name(ref));
		}
		git_reference_free(ref);
	}
	git_branch_iterator_free(it);
	if (r != GIT_ITEROVER)
		rc = errf_git(err, errsz, "list branches");

	/* Not git_branch_delete(): see create_remote(). */
	if (rc == 0 && n > 0 && git_repository_config(&cfg, repo) != 0)
		rc = errf_git(err, errsz, "config");
	for (i = 0; i < n; i++) {
		if (rc == 0 && git_reference_remove(repo, names[i]) != 0)
			rc = errf_git(err, errsz, "delete %s", names[i]);
		if (rc == 0)
			unset_branch_config(cfg, names[i] + 11);
		free(names[i]);
	}
	if (n > 0)
		git_config_free(cfg);
	free(names);
	return rc;
}

/* Put HEAD on local branch name at commit, tracking origin/name if any. */
static int
checkout_on_branch(git_repository *repo, const char *name, git_commit *commit,
    char *err, size_t errsz)
{
	git_reference	*branch = NULL, *remote = NULL;
	git_config	*cfg;
	char		*tracking, *key, *val;
	int		 rc = -1, r;

	/* Forced: the clone may have made a branch of that name already. */
	if (git_branch_create(&branch, repo, name, commit, 1) != 0)
		return errf_git(err, errsz, "create branch %s", name);
	/* What git_branch_set_upstream() writes; see create_remote(). */
	tracking = xasprintf("refs/remotes/origin/%s", name);
	if (git_reference_lookup(&remote, repo, tracking) == 0) {
		if (git_repository_config(&cfg, repo) != 0) {
			errf_git(err, errsz, "config of %s",
			    git_repository_workdir(repo));
			goto out;
		}
		key = xasprintf("branch.%s.remote", name);
		val = xasprintf("refs/heads/%s", name);
		r = git_config_set_string(cfg, key, "origin");
		free(key);
		key = xasprintf("branch.%s.merge", name);
		if (r == 0)
			r = git_config_set_string(cfg, key, val);
		free(key);
		free(val);
		git_config_free(cfg);
		if (r != 0) {
			errf_git(err, errsz, "track %s", tracking);
			goto out;
		}
	} else
		git_error_clear();
	if (git_repository_set_head(repo, git_reference_name(branch)) != 0) {
		errf_git(err, errsz, "set HEAD to %s", name);
		goto out;
	}
	rc = 0;
out:
	free(tracking);
	git_reference_free(remote);
	git_reference_free(branch);
	return rc;
}

static int
mirror_checkout_unlocked(const char *dir, const char *sha, const char *ref,
    const char *origin_url, const char *dest, char *err, size_t errsz)
{
	git_repository		*mirror, *repo = NULL;
	git_commit		*mc, *commit = NULL;
	git_clone_options	 copts;
	git_checkout_options	 co;
	git_oid			 oid;
	char			*branch;
	int			 rc = -1;

	/* Resolve first: an unknown sha must not leave a clone behind. */
	if (open_mirror(dir, &mirror, err, errsz) != 0)
		return -1;
	if (resolve_commit(mirror, sha, &mc, err, errsz) != 0) {
		git_repository_free(mirror);
		return -1;
	}
	git_oid_cpy(&oid, git_commit_id(mc));
	git_commit_free(mc);
	branch = checkout_branch(mirror, ref);
	git_repository_free(mirror);

	/*
	 * A local clone copies the mirror's object files (no hard links:
	 * mirror.h says why) and takes its branches as origin's; the work
	 * tree is written below, at sha rather than at the mirror's HEAD.
	 */
	git_clone_options_init(&copts, GIT_CLONE_OPTIONS_VERSION);
	copts.local = GIT_CLONE_LOCAL_NO_LINKS;
	copts.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
	copts.remote_cb = clone_remote_cb;
	if (git_clone(&repo, dir, dest, &copts) != 0) {
		errf_git(err, errsz, "clone %s into %s", dir, dest);
		goto out;
	}
	if (git_commit_lookup(&commit, repo, &oid) != 0) {
		errf_git(err, errsz, "%s in %s", sha, dest);
		goto out;
	}

	/* Work tree and index first, then HEAD, as libgit2 advises. */
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_checkout_tree(repo, (git_object *)commit, &co) != 0) {
		errf_git(err, errsz, "check %s out into %s", sha, dest);
		goto out;
	}
	if (git_repository_set_head_detached(repo, &oid) != 0) {
		errf_git(err, errsz, "detach HEAD at %s", sha);
		goto out;
	}
	if (branch != NULL &&
	    checkout_on_branch(repo, branch, commit, err, errsz) != 0)
		goto out;
	if (delete_other_branches(repo, branch, err, errsz) != 0)
		goto out;
	if (origin_url != NULL &&
	    git_remote_set_url(repo, "origin", origin_url) != 0) {
		errf_git(err, errsz, "set origin to %s", origin_url);
		goto out;
	}
	rc = 0;
out:
	free(branch);
	git_commit_free(commit);
	git_repository_free(repo);
	return rc;
}

int
mirror_set_config(const char *workdir, const char *key, const char *value,
    char *err, size_t errsz)
{
	git_repository	*repo;
	git_config	*cfg;
	int		 rc = -1;

	git_error_clear();
	if (git_repository_open_ext(&repo, workdir,
	    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0)
		return errf_git(err, errsz, "open %s", workdir);
	if (git_repository_config(&cfg, repo) != 0)
		errf_git(err, errsz, "config of %s", workdir);
	else {
		if (git_config_set_string(cfg, key, value) != 0)
			errf_git(err, errsz, "set %s in %s", key, workdir);
		else
			rc = 0;
		git_config_free(cfg);
	}
	git_repository_free(repo);
	return rc;
}

/* The readers: each holds the read lock while the mirror is open. */
int
mirror_resolve(const char *dir, const char *rev, char out[41], char *err,
    size_t errsz)
{
	int	lock = read_lock(dir), rc;

	rc = mirror_resolve_unlocked(dir, rev, out, err, errsz);
	read_unlock(lock);
	return rc;
}

int
mirror_has_commit(const char *dir, const char *sha)
{
	int	lock = read_lock(dir), rc;

	rc = mirror_has_commit_unlocked(dir, sha);
	read_unlock(lock);
	return rc;
}

char *
mirror_commit_message(const char *dir, const char *rev, char *err,
    size_t errsz)
{
	int	 lock = read_lock(dir);
	char	*msg;

	msg = mirror_commit_message_unlocked(dir, rev, err, errsz);
	read_unlock(lock);
	return msg;
}

int
mirror_read_workflows(const char *dir, const char *sha,
    struct mirror_file **files, size_t *nfiles, char *err, size_t errsz)
{
	int	lock = read_lock(dir), rc;

	rc = mirror_read_workflows_unlocked(dir, sha, files, nfiles, err,
	    errsz);
	read_unlock(lock);
	return rc;
}

int
mirror_read_file(const char *dir, const char *sha, const char *path,
    size_t max, char **data, size_t *len, char *err, size_t errsz)
{
	int	lock = read_lock(dir), rc;

	rc = mirror_read_file_unlocked(dir, sha, path, max, data, len, err,
	    errsz);
	read_unlock(lock);
	return rc;
}

int
mirror_changed_paths(const char *dir, const char *base_sha,
    const char *head_sha, char ***paths, size_t *npaths, char *err,
    size_t errsz)
{
	int	lock = read_lock(dir), rc;

	rc = mirror_changed_paths_unlocked(dir, base_sha, head_sha, paths,
	    npaths, err, errsz);
	read_unlock(lock);
	return rc;
}

int
mirror_merge_base(const char *dir, const char *a, const char *b,
    char out[41], char *err, size_t errsz)
{
	int	lock = read_lock(dir), rc;

	rc = mirror_merge_base_unlocked(dir, a, b, out, err, errsz);
	read_unlock(lock);
	return rc;
}

int
mirror_checkout(const char *dir, const char *sha, const char *ref,
    const char *origin_url, const char *dest, char *err, size_t errsz)
{
	int	lock = read_lock(dir), rc;

	rc = mirror_checkout_unlocked(dir, sha, ref, origin_url, dest, err,
	    errsz);
	read_unlock(lock);
	return rc;
}
