/*
 * fuzz_envfile: the files a step writes (GITHUB_ENV, GITHUB_OUTPUT,
 * GITHUB_STATE through envfile_parse; GITHUB_PATH through
 * envfile_path_parse), which the job runner reads back after every step.
 * The step is user code, so every byte is untrusted.
 *
 * Input layout:
 *	byte 0   value limit: GITHUB_ENV's, GITHUB_OUTPUT's, or a tiny one
 *	         (so the "value too long" path is reached)
 *	rest     the file contents (may hold NULs, CRs, a BOM ...)
 *
 * The same bytes are parsed as a key/value file and, twice, as a
 * GITHUB_PATH file into one list (the second pass exercises the runner's
 * "move an existing entry to the end" rule), then joined into a PATH.
 * Documented properties are checked: values hold no NUL and respect the
 * limit, lines are 1-based and in order, path entries are non-empty,
 * unique and free of line ends.
 *
 * Bound: FUZZ_ENVFILE_MAX bytes (the real limit is ENVFILE_MAX_SIZE).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envfile.h"

#include "fuzz.h"

#define FUZZ_ENVFILE_MAX	(64 * 1024)

static size_t
pick_limit(uint8_t b)
{
	switch (b & 3) {
	case 0:
		return ENVFILE_MAX_ENV_VALUE;
	case 1:
		return ENVFILE_MAX_VALUE;
	case 2:
		return 8;
	default:
		return 0;
	}
}

static void
run_pairs(const char *text, size_t len, size_t limit)
{
	struct envfile ef = { 0 };
	char *cause = NULL;
	size_t i, line = 0, prev = 0;
	int rc;

	rc = envfile_parse("GITHUB_ENV", text, len, limit, &ef, &cause, &line);
	if (rc == -1)
		FUZZ_ASSERT(cause != NULL);
	else
		FUZZ_ASSERT(cause == NULL);
	free(cause);
	for (i = 0; i < ef.n; i++) {
		FUZZ_ASSERT(ef.pairs[i].name != NULL);
		FUZZ_ASSERT(ef.pairs[i].value != NULL);
		FUZZ_ASSERT(strlen(ef.pairs[i].value) <= limit);
		FUZZ_ASSERT(ef.pairs[i].line >= 1);
		FUZZ_ASSERT(ef.pairs[i].line > prev);
		prev = ef.pairs[i].line;
		(void)envfile_env_blocked(ef.pairs[i].name);
	}
	envfile_free(&ef);
	FUZZ_ASSERT(ef.n == 0);
}

static void
run_path(const char *text, size_t len)
{
	struct envfile_path list = { 0 };
	char *cause = NULL, *joined;
	size_t i, j;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		if (envfile_path_parse("GITHUB_PATH", text, len, &list,
		    &cause) == -1) {
			FUZZ_ASSERT(cause != NULL);
			free(cause);
			cause = NULL;
			FUZZ_ASSERT(list.n == 0);
		}
	}
	for (i = 0; i < list.n; i++) {
		FUZZ_ASSERT(list.dirs[i][0] != '\0');
		FUZZ_ASSERT(strpbrk(list.dirs[i], "\r\n") == NULL);
		for (j = i + 1; j < list.n; j++)
			FUZZ_ASSERT(strcmp(list.dirs[i], list.dirs[j]) != 0);
	}
	joined = envfile_path_join(&list, "/usr/bin:/bin");
	FUZZ_ASSERT(joined != NULL);
	free(joined);
	joined = envfile_path_join(&list, NULL);
	FUZZ_ASSERT(joined != NULL);
	free(joined);
	envfile_path_free(&list);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > FUZZ_ENVFILE_MAX)
		return 0;
	/* Exactly the file's bytes, no terminator, as the runner reads it. */
	run_pairs((const char *)data + 1, size - 1, pick_limit(data[0]));
	run_path((const char *)data + 1, size - 1);
	return 0;
}
