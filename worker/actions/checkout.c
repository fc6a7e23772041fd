/*
 * actions/checkout: check the event's commit out into the workspace from the
 * worker's mirror (fetched again first if this host has not seen the
 * commit).  Inputs beyond the defaults (repository, ref, path, fetch-depth,
 * ...) come with a later change; an input we do not honour is reported in
 * the log rather than silently ignored.
 */
#include <stdio.h>
#include <string.h>

#include "actions.h"
#include "mirror.h"
#include "util.h"

static const char *const checkout_known_inputs[] = {
	"fetch-depth", "clean", "persist-credentials", "token",
};

/* The inputs, and the commit in the worker's mirror (fetched if new). */
int
action_checkout_prepare(const struct action_env *env, char *err,
    size_t errsz)
{
	char sha[41];
	size_t i, j;

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
	return 0;
}

/* The work tree: written as the steps' account (actions/isolate.c). */
int
action_checkout(const struct action_env *env, char *err, size_t errsz)
{
	char line[512];

	snprintf(line, sizeof line, "Checking out %s (%s) into %s\n", env->sha,
	    env->ref ? env->ref : "detached", env->workspace);
	env->log(env->log_arg, line);
	return mirror_checkout(env->mirror, env->sha, env->ref, env->clone_url,
	    env->workspace, err, errsz);
}
