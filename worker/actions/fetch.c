/*
 * fetch: an action from another repository, `uses: owner/repo[/path]@ref`
 * (reference 6: GitHub downloads the repository at ref and reads
 * action.yml in path).  In the worker, with its privileges:
 *
 *   <work_dir>/actions/git/<owner>/<repo>.git   a bare mirror of
 *       <[actions] base_url>/<owner>/<repo>, fetched each time an action
 *       of it is resolved (mirror.c: flock-serialised, refs move only
 *       after the whole pack arrived); a full commit id already checked
 *       out is not fetched again;
 *   <work_dir>/actions/src/<owner>/<repo>/<sha>  the commit's files, made
 *       once beside it and renamed into place (so a directory there is
 *       complete, whoever made it), readable by all (the steps' account
 *       runs what is there) and written by no one else.  Each use sets
 *       its time; action_fetch_sweep() removes those unused for
 *       [actions] keep_days (a job never runs that long: jobs using them
 *       are safe);
 *   <work_dir>/actions/src/<owner>/<repo>/.lock  flock()ed shared while a
 *       commit's directory is found or made and its time set, exclusive
 *       by the sweep, so a directory is never removed between a job
 *       finding it and marking it used.
 *
 * Names are checked before they reach a path: GitHub's owner and
 * repository characters, no "..".
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "mirror.h"
#include "util.h"

#define FETCH_MAX_NAME	100	/* GitHub's owner and repository names */

/* GitHub's owner/repository characters; not "." or "..". */
static int
fetch_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > FETCH_MAX_NAME || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

int
action_ref_parse(const char *uses, struct action_ref *r, char *err,
    size_t errsz)
{
	const char *at = strrchr(uses, '@'), *s1, *s2, *p;

	memset(r, 0, sizeof *r);
	s1 = strchr(uses, '/');
	if (at == NULL || at[1] == '\0' || s1 == NULL || s1 > at) {
		snprintf(err, errsz, "'%s': expected owner/repo[/path]@ref",
		    uses);
		return -1;
	}
	s2 = memchr(s1 + 1, '/', (size_t)(at - s1 - 1));
	if (s2 == NULL)
		s2 = at;
	if (!fetch_name_ok(uses, (size_t)(s1 - uses)) ||
	    !fetch_name_ok(s1 + 1, (size_t)(s2 - s1 - 1))) {
		snprintf(err, errsz, "'%s': owner and repository names are "
		    "letters, digits, '-', '_' and '.'", uses);
		return -1;
	}
	/* The path stays below the repository. */
	for (p = s2; p < at; p += strcspn(p, "/@"), p += *p == '/')
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '@')) {
			snprintf(err, errsz, "'%s': the path leaves the "
			    "repository", uses);
			return -1;
		}
	if (strlen(at + 1) > 255 || strstr(at + 1, "..") != NULL ||
	    at[1] == '-') {
		snprintf(err, errsz, "'%s': not a usable ref", uses);
		return -1;
	}
	r->owner = xstrndup(uses, (size_t)(s1 - uses));
	r->repo = xstrndup(s1 + 1, (size_t)(s2 - s1 - 1));
	r->path = s2 < at ? xstrndup(s2 + 1, (size_t)(at - s2 - 1)) :
	    xstrdup("");
	while (r->path[0] != '\0' && r->path[strlen(r->path) - 1] == '/')
		r->path[strlen(r->path) - 1] = '\0';
	r->ref = xstrdup(at + 1);
	return 0;
}

void
action_ref_free(struct action_ref *r)
{
	free(r->owner);
	free(r->repo);
	free(r->path);
	free(r->ref);
	memset(r, 0, sizeof *r);
}

int
action_allowed(const char *allow, const struct action_ref *r)
{
	const char *p = allow, *item;
	char *pat, *name, *full;
	size_t len;
	int ok = 0;

	name = xasprintf("%s/%s%s%s", r->owner, r->repo, r->path[0] != '\0' ?
	    "/" : "", r->path);
	full = xasprintf("%s@%s", name, r->ref);
	while (!ok && str_list_next(&p, &item, &len)) {
		pat = xstrndup(item, len);
		ok = fnmatch(pat, strchr(pat, '@') != NULL ? full : name,
		    0) == 0;
		free(pat);
	}
	free(full);
	free(name);
	return ok;
}

/* Readable (and traversable) by all: the steps' account runs it. */
static int
fetch_chmod_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	if (flag == FTW_D || flag == FTW_DP)
		(void)chmod(path, 0755);
	else if (flag == FTW_F)
		(void)chmod(path, (st->st_mode & 0111) != 0 ? 0755 : 0644);
	return 0;
}

static int
fetch_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static int
fetch_is_sha(const char *s)
{
	size_t i;

	for (i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return s[40] == '\0';
}

/* src's lock taken as op (LOCK_SH, LOCK_EX | LOCK_NB): its fd, or -1. */
static int
fetch_lock(const char *src, int op)
{
	char *path = xasprintf("%s/.lock", src);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	free(path);
	if (fd == -1)
		return -1;
	while (flock(fd, op) == -1)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

char *
action_fetch(const char *work_dir, const char *base_url,
    const struct action_ref *r, char sha[41], int *cached, char *err,
    size_t errsz)
{
	char *git, *url, *src, *dest = NULL, *tmp = NULL, why[512];
	size_t blen = strlen(base_url);
	struct stat st;
	int lockfd = -1;

	*cached = 0;
	git = xasprintf("%s/actions/git/%s/%s.git", work_dir, r->owner,
	    r->repo);
	src = xasprintf("%s/actions/src/%s/%s", work_dir, r->owner, r->repo);
	while (blen > 0 && base_url[blen - 1] == '/')
		blen--;
	url = xasprintf("%.*s/%s/%s", (int)blen, base_url, r->owner, r->repo);
	/* The steps' account reaches src/ through actions/. */
	tmp = xasprintf("%s/actions", work_dir);
	if (mkdir_p(src, 0755) == -1 || chmod(tmp, 0755) == -1) {
		snprintf(err, errsz, "%s: %s", src, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if ((lockfd = fetch_lock(src, LOCK_SH)) == -1) {
		snprintf(err, errsz, "%s/.lock: %s", src, strerror(errno));
		goto out;
	}
	if (fetch_is_sha(r->ref)) {
		dest = xasprintf("%s/%s", src, r->ref);
		if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) {
			memcpy(sha, r->ref, 41);
			*cached = 1;
			goto out;
		}
		free(dest);
		dest = NULL;
	}
	if (mirror_fetch(git, url, why, sizeof why) == -1) {
		snprintf(err, errsz, "Unable to resolve action `%s/%s@%s`, "
		    "unable to fetch %s: %s", r->owner, r->repo, r->ref, url,
		    why);
		goto out;
	}
	mirror_tidy(git);	/* rarely fetched: no need to wait for idle */
	if (mirror_resolve(git, r->ref, sha, why, sizeof why) == -1) {
		snprintf(err, errsz, "Unable to resolve action `%s/%s@%s`, "
		    "unable to find version `%s` in %s", r->owner, r->repo,
		    r->ref, r->ref, url);
		goto out;
	}
	dest = xasprintf("%s/%s", src, sha);
	if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) {
		*cached = 1;
		goto out;
	}
	tmp = xasprintf("%s/.%s.%ld", src, sha, (long)getpid());
	(void)nftw(tmp, fetch_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	if (mirror_checkout(git, sha, NULL, url, tmp, why, sizeof why) == -1) {
		snprintf(err, errsz, "`%s/%s@%s` (%s): %s", r->owner, r->repo,
		    r->ref, sha, why);
		goto fail;
	}
	(void)nftw(tmp, fetch_chmod_cb, 16, FTW_PHYS);
	/* Another worker may have put it there first: theirs is as good. */
	if (rename(tmp, dest) == -1 && errno != EEXIST && errno != ENOTEMPTY) {
		snprintf(err, errsz, "rename %s: %s", dest, strerror(errno));
		goto fail;
	}
	(void)nftw(tmp, fetch_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	goto out;
fail:
	(void)nftw(tmp, fetch_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(dest);
	dest = NULL;
out:
	/* Used now: the sweep keeps it for [actions] keep_days more. */
	if (dest != NULL)
		(void)utimensat(AT_FDCWD, dest, NULL, 0);
	if (lockfd != -1)
		close(lockfd);
	free(tmp);
	free(url);
	free(src);
	free(git);
	return dest;
}

/* Remove one repository's commit directories unused since before. */
static size_t
fetch_sweep_repo(const char *repo_dir, time_t before)
{
	DIR *d;
	struct dirent *e;
	struct stat st;
	size_t removed = 0;
	int lockfd;

	/* Busy (a job finding or making one): next sweep. */
	if ((lockfd = fetch_lock(repo_dir, LOCK_EX | LOCK_NB)) == -1)
		return 0;
	if ((d = opendir(repo_dir)) == NULL) {
		close(lockfd);
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		char *path, *gone;

		path = xasprintf("%s/%s", repo_dir, e->d_name);
		/*
		 * A checkout's ".<sha>.<pid>" or a sweep's ".gone.<sha>"
		 * that a dead worker left: nobody makes one now.
		 */
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, ".lock") != 0) {
			if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
				(void)nftw(path, fetch_rm_cb, 16,
				    FTW_DEPTH | FTW_PHYS);
			free(path);
			continue;
		}
		if (!fetch_is_sha(e->d_name) || lstat(path, &st) == -1 ||
		    !S_ISDIR(st.st_mode) || st.st_mtime >= before) {
			free(path);
			continue;
		}
		/* Out of sight first: a half-removed one is never used. */
		gone = xasprintf("%s/.gone.%s", repo_dir, e->d_name);
		if (rename(path, gone) == 0) {
			(void)nftw(gone, fetch_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
			removed++;
		}
		free(gone);
		free(path);
	}
	closedir(d);
	close(lockfd);
	return removed;
}

size_t
action_fetch_sweep(const char *work_dir, int keep_days)
{
	char *root = xasprintf("%s/actions/src", work_dir);
	time_t before = time(NULL) - (time_t)keep_days * 86400;
	DIR *owners, *repos;
	struct dirent *o, *r;
	size_t removed = 0;

	if ((owners = opendir(root)) == NULL) {
		free(root);
		return 0;
	}
	while ((o = readdir(owners)) != NULL) {
		char *owner_dir;

		if (!fetch_name_ok(o->d_name, strlen(o->d_name)))
			continue;
		owner_dir = xasprintf("%s/%s", root, o->d_name);
		if ((repos = opendir(owner_dir)) != NULL) {
			while ((r = readdir(repos)) != NULL) {
				char *repo_dir;

				if (!fetch_name_ok(r->d_name,
				    strlen(r->d_name)))
					continue;
				repo_dir = xasprintf("%s/%s", owner_dir,
				    r->d_name);
				removed += fetch_sweep_repo(repo_dir, before);
				free(repo_dir);
			}
			closedir(repos);
		}
		free(owner_dir);
	}
	closedir(owners);
	free(root);
	return removed;
}
