/*
 * The built-in action table.  Matching is on "owner/name" before '@',
 * case-insensitively (GitHub treats owner and repository names so).
 */
#include <string.h>
#include <strings.h>

#include "actions.h"
#include "util.h"

static const struct action_def action_table[] = {
	{ "actions/checkout", action_checkout },
	{ "actions/setup-python", action_setup_python },
};

const struct action_def *
action_find(const char *uses)
{
	const char *at = strchr(uses, '@');
	size_t len = at ? (size_t)(at - uses) : strlen(uses), i;

	if (at == NULL || at[1] == '\0')
		return NULL;	/* GitHub requires a ref */
	for (i = 0; i < nitems(action_table); i++)
		if (strlen(action_table[i].name) == len &&
		    strncasecmp(action_table[i].name, uses, len) == 0)
			return &action_table[i];
	return NULL;
}
