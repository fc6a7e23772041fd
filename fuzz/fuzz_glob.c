/*
 * fuzz_glob: filter patterns (on.<event>.branches, tags, paths and their
 * -ignore forms) compiled with glob_compile() as workflow.c does, then
 * matched against branch names and changed paths with glob_match() and
 * glob_list_included() as the trigger code does.  Both the patterns (from
 * a pushed workflow file) and the subjects (from a push) are untrusted.
 *
 * Input layout: patterns, one per line, then a NUL byte, then subjects,
 * one per line (at most FUZZ_GLOB_N of each).  Without a NUL byte the
 * whole input is patterns and a fixed set of subjects is used.
 *
 * Checked: glob_pattern() gives back the text compiled, glob_negated()
 * agrees with a leading '!', a pattern with no special character matches
 * itself, and glob_list_included()'s answer agrees with the pattern it
 * names.
 *
 * Bound: FUZZ_GLOB_MAX bytes in all.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"

#include "fuzz.h"

#define FUZZ_GLOB_MAX	(16 * 1024)
#define FUZZ_GLOB_N	8

static const char *const fuzz_subjects[] = { "main", "refs/heads/main",
    "release/v1.2", "v1.2.3", "README.md", "docs/a/b/README.md",
    "src/!weird [name].c", "" };

/* Split text into at most max lines; returns how many.  Edits text. */
static size_t
split_lines(char *text, char **v, size_t max)
{
	size_t n = 0;
	char *nl;

	while (n < max) {
		v[n++] = text;
		if ((nl = strchr(text, '\n')) == NULL)
			break;
		*nl = '\0';
		text = nl + 1;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct glob *list[FUZZ_GLOB_N];
	const char *subjects[FUZZ_GLOB_N];
	char *pats[FUZZ_GLOB_N], *subs[FUZZ_GLOB_N], err[256], *text;
	const uint8_t *nul;
	size_t np, ns, ng = 0, i, j, plen;
	int which, inc;

	if (size > FUZZ_GLOB_MAX)
		return 0;
	if ((nul = memchr(data, '\0', size)) != NULL) {
		plen = (size_t)(nul - data);
		/* Patterns, NUL, subjects: one copy, already split at NUL. */
		text = fuzz_strndup(data, size);
		np = split_lines(text, pats, FUZZ_GLOB_N);
		ns = split_lines(text + plen + 1, subs, FUZZ_GLOB_N);
		for (i = 0; i < ns; i++)
			subjects[i] = subs[i];
	} else {
		text = fuzz_strndup(data, size);
		np = split_lines(text, pats, FUZZ_GLOB_N);
		ns = sizeof fuzz_subjects / sizeof fuzz_subjects[0];
		for (i = 0; i < ns; i++)
			subjects[i] = fuzz_subjects[i];
	}

	for (i = 0; i < np; i++) {
		struct glob *g;

		err[0] = '\0';
		if ((g = glob_compile(pats[i], err, sizeof err)) == NULL) {
			FUZZ_ASSERT(err[0] != '\0');
			continue;
		}
		FUZZ_ASSERT(strcmp(glob_pattern(g), pats[i]) == 0);
		FUZZ_ASSERT(glob_negated(g) == (pats[i][0] == '!'));
		if (strpbrk(pats[i], "*?+[]\\!") == NULL)
			FUZZ_ASSERT(glob_match(g, pats[i]) == 1);
		for (j = 0; j < ns; j++)
			(void)glob_match(g, subjects[j]);
		list[ng++] = g;
	}

	for (j = 0; j < ns; j++) {
		inc = glob_list_included(list, ng, subjects[j], &which);
		FUZZ_ASSERT(inc == 0 || inc == 1);
		FUZZ_ASSERT(which >= -1 && which < (int)ng);
		if (which >= 0) {
			FUZZ_ASSERT(glob_match(list[which], subjects[j]) == 1);
			FUZZ_ASSERT(inc == !glob_negated(list[which]));
		} else
			FUZZ_ASSERT(inc == 0);
	}

	for (i = 0; i < ng; i++)
		glob_free(list[i]);
	free(text);
	return 0;
}
