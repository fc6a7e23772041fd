/*
 * What actions/upload-artifact and actions/download-artifact share: the
 * store's layout, the name rule, inputs, and the child process that
 * touches the steps' files.
 *
 * The store: one zip per artifact, <[artifacts] dir>/<run>/<id>.zip,
 * owned by the worker, indexed by the artifacts table (sql/016); kilnd
 * serves the files and deletes them when they expire.  Reading the files
 * to upload and writing the files downloaded happen in a forked child as
 * the steps' account ([workers] run_as), on descriptors of the store's
 * files the worker opened, so no symbolic link a step left can make the
 * worker read or write for it.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions.h"
#include "util.h"

const char *
artifact_input(const struct action_env *env, const char *name)
{
	size_t i;

	for (i = 0; i < env->with->n; i++)
		if (strcmp(env->with->v[i].key, name) == 0)
			return env->with->v[i].value;
	return NULL;
}

int
artifact_name_ok(const char *name, char *err, size_t errsz)
{
	static const struct {
		char		 c;
		const char	*what;
	} bad[] = {
		{ '/', "a forward slash '/'" }, { '\\', "a backslash '\\'" },
		{ '"', "a double quote '\"'" }, { ':', "a colon ':'" },
		{ '<', "a less-than sign '<'" }, { '>', "a greater-than "
		    "sign '>'" }, { '|', "a vertical bar '|'" },
		{ '*', "an asterisk '*'" }, { '?', "a question mark '?'" },
	};
	const unsigned char *s;
	size_t i;

	if (name == NULL || name[0] == '\0') {
		snprintf(err, errsz, "the artifact name is empty");
		return 0;
	}
	if (strlen(name) > ARTIFACT_NAME_MAX) {
		snprintf(err, errsz, "the artifact name \"%.64s...\" is longer "
		    "than %d bytes", name, ARTIFACT_NAME_MAX);
		return 0;
	}
	for (s = (const unsigned char *)name; *s != '\0'; s++) {
		if (*s < 0x20 || *s == 0x7f) {
			snprintf(err, errsz, "the artifact name is not valid: "
			    "it contains the control character 0x%02x", *s);
			return 0;
		}
		for (i = 0; i < nitems(bad); i++)
			if ((char)*s == bad[i].c) {
				snprintf(err, errsz, "the artifact name is not "
				    "valid: \"%s\" contains %s", name,
				    bad[i].what);
				return 0;
			}
	}
	if (strstr(name, "..") != NULL) {
		snprintf(err, errsz, "the artifact name is not valid: \"%s\" "
		    "contains \"..\"", name);
		return 0;
	}
	return 1;
}

char *
artifact_file(const struct artifact_ctx *ac, const char *id)
{
	return xasprintf("%s/%lld/%s.zip", ac->dir, (long long)ac->run_id, id);
}

char *
artifact_resolve(const struct action_env *env, const char *path)
{
	const char *home = NULL;
	size_t i;

	if (path[0] == '~' && (path[1] == '\0' || path[1] == '/')) {
		for (i = 0; env->envp != NULL && env->envp[i] != NULL; i++)
			if (strncmp(env->envp[i], "HOME=", 5) == 0)
				home = env->envp[i] + 5;
		if (home == NULL || home[0] != '/')
			return NULL;
		return xasprintf("%s%s", home, path + 1);
	}
	if (path[0] == '/')
		return xstrdup(path);
	return xasprintf("%s/%s", env->workspace, path);
}

