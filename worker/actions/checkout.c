/*
 * actions/checkout: check the event's commit out into the workspace from the
 * worker's mirror (fetched again first if this host has not seen the
 * commit), in the worker: the mirror is not the steps' to read.  Inputs
 * beyond the defaults (repository, ref, path, fetch-depth, ...) come with
 * a later change; an input we do not honour is reported in the log rather
 * than silently ignored.
 *
 * Credentials, as GitHub's checkout has them: the token (the "token"
 * input, else the job's GITHUB_TOKEN in App mode) answers a server that
 * asks for them (a private repository) as user x-access-token, and unless
 * persist-credentials is false it stays in the checkout's .git/config as
 * http.<scheme://host/>.extraheader "AUTHORIZATION: basic ..." so later
 * git fetch and push steps authenticate too.  It goes when the job ends:
 * the workspace is removed and the job's token revoked.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "actions.h"
#include "mirror.h"
#include "util.h"

static const char *const checkout_known_inputs[] = {
	"fetch-depth", "clean", "persist-credentials", "token",
};

/* The token the checkout authenticates with, or NULL. */
static const char *
checkout_token(const struct action_env *env)
{
	const char *t = artifact_input(env, "token");

	return t != NULL && *t != '\0' ? t : env->github_token;
}

/* mirror_auth's callback: the checkout's token. */
static const char *
checkout_token_cb(void *arg, char *err, size_t errsz)
{
	const char *t = checkout_token(arg);

	if (t == NULL)
		snprintf(err, errsz, "no token (the job has a GITHUB_TOKEN "
		    "with [github] app_id, or give actions/checkout's token "
		    "input)");
	return t;
}

/*
 * persist-credentials (default true): the token into the checkout's git
 * config as GitHub's checkout puts it, for the clone URL's scheme://host/.
 */
static int
checkout_persist(const struct action_env *env, const char *dir, char *err,
    size_t errsz)
{
	const char *p = artifact_input(env, "persist-credentials");
	const char *token = checkout_token(env), *host, *end;
	char *key, *user, *value, line[512];
	unsigned char *b64;
	size_t n;
	int rc;

	if ((p != NULL && strcasecmp(p, "true") != 0) || token == NULL)
		return 0;
	if (env->clone_url == NULL || (!str_has_prefix(env->clone_url,
	    "https://") && !str_has_prefix(env->clone_url, "http://"))) {
		env->log(env->log_arg, "persist-credentials: the clone URL is "
		    "not http(s); no credentials kept\n");
		return 0;
	}
	host = strstr(env->clone_url, "://") + 3;
	end = host + strcspn(host, "/");
	key = xasprintf("http.%.*s/.extraheader", (int)(end - env->clone_url),
	    env->clone_url);
	user = xasprintf("x-access-token:%s", token);
	n = strlen(user);
	b64 = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock(b64, (unsigned char *)user, (int)n);
	value = xasprintf("AUTHORIZATION: basic %s", b64);
	rc = mirror_set_config(dir, key, value, err, errsz);
	if (rc == 0) {
		snprintf(line, sizeof line, "Credentials kept in the "
		    "workspace's git config (%s) until the job ends\n", key);
		env->log(env->log_arg, line);
	}
	OPENSSL_cleanse(user, n);
	OPENSSL_cleanse(b64, strlen((char *)b64));
	OPENSSL_cleanse(value, strlen(value));
	free(user);
	free(b64);
	free(value);
	free(key);
	return rc;
}

/* Remove a tree the worker made (no links followed). */
static int
checkout_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	remove(path);
	return 0;
}

#define CHECKOUT_MAX_DEPTH	256	/* levels emptied in a workspace */

/*
 * Remove what directory dfd holds, as the worker, in a tree the steps
 * wrote: every directory is opened relative to its parent's descriptor
 * with O_NOFOLLOW, so a link planted there (or swapped in meanwhile) is
 * removed, never followed.  0, or -1 with errno of the first failure.
 */
static int
checkout_empty_fd(int dfd, int depth)
{
	DIR *d;
	struct dirent *e;
	int fd, rc = 0, saved = 0;

	if (depth > CHECKOUT_MAX_DEPTH || (fd = dup(dfd)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (depth <= CHECKOUT_MAX_DEPTH && fd != -1)
			close(fd);
		errno = depth > CHECKOUT_MAX_DEPTH ? ELOOP : errno;
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		int sub;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dfd, e->d_name, 0) == 0)
			continue;
		if ((errno == EISDIR || errno == EPERM) && (sub = openat(dfd,
		    e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC)) != -1) {
			if (checkout_empty_fd(sub, depth + 1) == 0 &&
			    unlinkat(dfd, e->d_name, AT_REMOVEDIR) == 0) {
				close(sub);
				continue;
			}
			saved = errno;
			close(sub);
			errno = saved;
		}
		if (rc == 0)
			saved = errno;
		rc = -1;
	}
	closedir(d);
	errno = saved;
	return rc;
}

/*
 * Everything in the worker, with its privileges: the inputs, the commit
 * (the mirror fetched again if it is new), then the checkout, cloned into
 * <workspace>.checkout -- a directory of the worker's, beside the
 * workspace in the job's directory, which steps cannot write -- and
 * renamed onto the (empty) workspace.  The clone's objects are copies
 * (mirror_checkout()), so the steps' account, which job.c then gives the
 * tree to, never needs to read the mirror (0700, the worker's).
 */
int
action_checkout_prepare(const struct action_env *env, char *err,
    size_t errsz)
{
	struct mirror_auth auth = { checkout_token_cb, (void *)env };
	char sha[41], line[512], *staging;
	size_t i, j;
	int rc = -1, moved;

	for (i = 0; i < env->with->n; i++) {
		const char *key = env->with->v[i].key;

		for (j = 0; j < nitems(checkout_known_inputs); j++)
			if (strcmp(key, checkout_known_inputs[j]) == 0)
				break;
		if (j == nitems(checkout_known_inputs)) {
			snprintf(err, errsz, "actions/checkout: input \"%s\" is "
			    "not supported by kiln yet", key);
			return -1;
		}
	}
	if (mirror_resolve(env->mirror, env->sha, sha, err, errsz) == -1 &&
	    mirror_fetch_auth(env->mirror, env->clone_url, &auth, err,
	    errsz) == -1)
		return -1;
	snprintf(line, sizeof line, "Checking out %s (%s) into %s\n", env->sha,
	    env->ref ? env->ref : "detached", env->workspace);
	env->log(env->log_arg, line);
	staging = xasprintf("%s.checkout", env->workspace);
	nftw(staging, checkout_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
	if (mkdir(staging, 0700) == -1) {
		snprintf(err, errsz, "creating %s: %s", staging,
		    strerror(errno));
		goto out;
	}
	if (mirror_checkout(env->mirror, env->sha, env->ref, env->clone_url,
	    staging, err, errsz) == -1 || checkout_persist(env, staging, err,
	    errsz) == -1)
		goto out;
	/* rename(2) replaces only an empty directory, never follows. */
	moved = rename(staging, env->workspace);
	if (moved == -1 && (errno == ENOTEMPTY || errno == EEXIST)) {
		/*
		 * What earlier steps left (or an earlier checkout): GitHub's
		 * checkout deletes it unless clean is false.
		 */
		const char *clean = artifact_input(env, "clean");
		int wfd;

		if (clean != NULL && strcasecmp(clean, "false") == 0) {
			snprintf(err, errsz, "actions/checkout: the workspace "
			    "%s is not empty and clean is false: kiln does not "
			    "check out over existing files", env->workspace);
			goto out;
		}
		env->log(env->log_arg, "Deleting the contents of the "
		    "workspace\n");
		if ((wfd = open(env->workspace, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1 || checkout_empty_fd(wfd,
		    0) == -1) {
			snprintf(err, errsz, "actions/checkout: emptying %s: %s",
			    env->workspace, strerror(errno));
			if (wfd != -1)
				close(wfd);
			goto out;
		}
		close(wfd);
		moved = rename(staging, env->workspace);
	}
	if (moved == -1) {
		snprintf(err, errsz, "actions/checkout: moving the checkout to "
		    "%s: %s", env->workspace, errno == ENOTEMPTY ||
		    errno == EEXIST ? "the workspace is not empty" :
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	nftw(staging, checkout_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
	free(staging);
	return rc;
}
