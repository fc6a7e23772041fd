/*
 * secrets: the rules shared by kilnd (storing), cictl (asking) and the
 * worker (delivering) for repository secrets and configuration variables:
 * GitHub's naming rules, and which secrets a workflow file references, so
 * that a job decrypts only those.
 */
#ifndef KILN_SECRETS_H
#define KILN_SECRETS_H

#include <stddef.h>

#define SECRETS_NAME_MAX	100	/* bytes of a name */
#define SECRETS_VALUE_MAX	(48 * 1024) /* GitHub's limit for a secret */
#define VARS_VALUE_MAX		(48 * 1024) /* GitHub's limit for a variable */

/*
 * A secret or variable name as GitHub accepts it: letters, digits and
 * '_', not starting with a digit, not starting with GITHUB_ (any case),
 * 1..SECRETS_NAME_MAX bytes.  what is "secret" or "variable", for the
 * message.  0, or -1 with err naming the rule broken.
 */
int	 secrets_name_check(const char *name, const char *what, char *err,
	     size_t errsz);

/* name upper-cased in place (names are case-insensitive; stored so). */
void	 secrets_name_upper(char *name);

/*
 * The secrets workflow source refers to: `secrets.NAME` and
 * `secrets['NAME']` / `secrets["NAME"]` anywhere in the text, names
 * upper-cased, each once.  Returns a NULL-terminated array (caller frees
 * each string and the array).  *all is set when the text uses the secrets
 * context another way (toJSON(secrets), secrets[expr]): then every secret
 * is needed.
 */
char	**secrets_referenced(const char *source, int *all);
void	 secrets_names_free(char **);

#endif
