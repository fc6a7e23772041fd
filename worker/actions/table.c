/*
 * The built-in action table: common/support.c names the built-in actions
 * (matching "owner/name" before '@' case-insensitively, as GitHub treats
 * owner and repository names); this maps each to its implementation.
 */
#include <stddef.h>

#include "actions.h"
#include "util.h"

static const struct action_def action_table[SUPPORT_NACTIONS] = {
	/* No run(): all of it in the worker (actions/checkout.c). */
	[SUPPORT_ACTION_CHECKOUT] = { SUPPORT_ACTION_CHECKOUT,
	    action_checkout_prepare, NULL },
	[SUPPORT_ACTION_SETUP_PYTHON] = { SUPPORT_ACTION_SETUP_PYTHON,
	    NULL, action_setup_python },
	/* No run(): job.c gives them the index (actions/cache.c). */
	[SUPPORT_ACTION_CACHE] = { SUPPORT_ACTION_CACHE, NULL, NULL },
	[SUPPORT_ACTION_CACHE_RESTORE] = { SUPPORT_ACTION_CACHE_RESTORE,
	    NULL, NULL },
	[SUPPORT_ACTION_CACHE_SAVE] = { SUPPORT_ACTION_CACHE_SAVE, NULL,
	    NULL },
	/* No run() either: job.c gives them the run's store (artifact.c). */
	[SUPPORT_ACTION_UPLOAD_ARTIFACT] = { SUPPORT_ACTION_UPLOAD_ARTIFACT,
	    NULL, NULL },
	[SUPPORT_ACTION_DOWNLOAD_ARTIFACT] = {
	    SUPPORT_ACTION_DOWNLOAD_ARTIFACT, NULL, NULL },
};

const struct action_def *
action_find(const char *uses)
{
	int i = support_action_find(uses);

	if (i < 0 || (action_table[i].run == NULL &&
	    action_table[i].prepare == NULL))
		return NULL;
	return &action_table[i];
}
