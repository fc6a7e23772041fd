/*
 * secrets: see secrets.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "secrets.h"
#include "util.h"

static int
ident_char(int c)
{
	return isalnum((unsigned char)c) || c == '_';
}

int
secrets_name_check(const char *name, const char *what, char *err,
    size_t errsz)
{
	size_t i, len = strlen(name);

	if (len == 0) {
		snprintf(err, errsz, "%s name is empty", what);
		return -1;
	}
	if (len > SECRETS_NAME_MAX) {
		snprintf(err, errsz, "%s name is longer than %d bytes", what,
		    SECRETS_NAME_MAX);
		return -1;
	}
	for (i = 0; i < len; i++)
		if (!ident_char(name[i]) || (unsigned char)name[i] >= 0x80) {
			snprintf(err, errsz, "%s name \"%.*s\": only letters, "
			    "digits and '_' are allowed", what,
			    SECRETS_NAME_MAX, name);
			return -1;
		}
	if (isdigit((unsigned char)name[0])) {
		snprintf(err, errsz, "%s name \"%s\" must not start with a "
		    "digit", what, name);
		return -1;
	}
	if (strncasecmp(name, "GITHUB_", 7) == 0) {
		snprintf(err, errsz, "%s name \"%s\": the GITHUB_ prefix is "
		    "reserved", what, name);
		return -1;
	}
	return 0;
}

void
secrets_name_upper(char *name)
{
	for (; *name != '\0'; name++)
		*name = (char)toupper((unsigned char)*name);
}

static void
names_add(char ***names, size_t *n, const char *s, size_t len)
{
	char *name;
	size_t i;

	if (len == 0 || len > SECRETS_NAME_MAX)
		return;
	name = xstrndup(s, len);
	secrets_name_upper(name);
	for (i = 0; i < *n; i++)
		if (strcmp((*names)[i], name) == 0) {
			free(name);
			return;
		}
	*names = xreallocarray(*names, *n + 2, sizeof **names);
	(*names)[(*n)++] = name;
	(*names)[*n] = NULL;
}

char **
secrets_referenced(const char *src, int *all)
{
	char **names = xcalloc(1, sizeof *names);
	const char *p = src, *q, *e;
	size_t n = 0;

	*all = 0;
	while ((p = strcasestr(p, "secrets")) != NULL) {
		q = p + 7;
		if ((p > src && (ident_char(p[-1]) || p[-1] == '.')) ||
		    ident_char(*q)) {
			p = q;
			continue;
		}
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '.') {
			q++;
			for (e = q; ident_char(*e) || *e == '-'; e++)
				;
			if (e > q)
				names_add(&names, &n, q, (size_t)(e - q));
			else if (*q == '*')
				*all = 1;
		} else if (*q == '[') {
			for (q++; *q == ' '; q++)
				;
			if (*q == '\'' || *q == '"') {
				e = strchr(q + 1, *q);
				if (e != NULL)
					names_add(&names, &n, q + 1,
					    (size_t)(e - q - 1));
			} else
				*all = 1;
		} else if (*q == ')' || *q == ',' || *q == '}' || *q == ' ' ||
		    *q == '\0' || *q == '\n' || *q == '|' || *q == '&' ||
		    *q == '=' || *q == '!')
			/* The whole context as a value: toJSON(secrets). */
			*all = 1;
		p = q;
	}
	return names;
}

void
secrets_names_free(char **names)
{
	size_t i;

	if (names == NULL)
		return;
	for (i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}
