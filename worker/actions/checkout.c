/*
 * actions/checkout: check the event's commit out into the workspace from the
 * worker's mirror (fetched again first if this host has not seen the
 * commit), in the worker: the mirror is not the steps' to read.  Inputs
 * beyond the defaults (repository, ref, path, fetch-depth, ...) come with
 * a later change; an input we do not honour is reported in the log rather
 * than silently ignored.
 */
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "mirror.h"
#include "util.h"

static const char *const checkout_known_inputs[] = {
	"fetch-depth", "clean", "persist-credentials", "token",
};

/* Remove a tree the worker made (no links followed). */
static int
checkout_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	remove(path);
	return 0;
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
	char sha[41], line[512], *staging;
	size_t i, j;
	int rc = -1;

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
	    mirror_fetch(env->mirror, env->clone_url, err, errsz) == -1)
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
	    staging, err, errsz) == -1)
		goto out;
	/* rename(2) replaces only an empty directory, never follows. */
	if (rename(staging, env->workspace) == -1) {
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
