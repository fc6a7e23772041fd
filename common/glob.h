/*
 * glob: GitHub Actions filter patterns (on.<event>.branches, tags, paths and
 * their -ignore forms), as described in section 2.3 of the compatibility
 * reference.
 *
 * A pattern is compiled once (glob_compile, which validates it) and matched
 * many times.  The semantics are those of act's translation to an anchored
 * regular expression, which replays every example of GitHub's cheat sheet:
 *
 *   *     any run of characters except '/'
 *   **    any run of characters, '/' included
 *   **(slash) zero or more whole directories: "**" "/README.md" matches
 *         "README.md" as well as "a/b/README.md"
 *   ? +   regex quantifiers (zero-or-one / one-or-more) of the preceding
 *         character or class; literal when first in the pattern
 *   [..]  one character of a class; members are digits or bytes 'A'..'z',
 *         ranges a-z style within 0-9 or A-z; "[]" and an unterminated
 *         "[" are errors
 *   \c    the literal c
 *   !     leading only: a negated pattern (for glob_list_included)
 *
 * The matcher is our own: a position-set simulation over the compiled
 * tokens, linear in pattern length times subject length squared at worst,
 * with no recursion and no backtracking blow-up.  Matching is byte-wise and
 * case-sensitive, like GitHub.
 *
 * Two regex corner cases that follow from the translation are kept exact:
 * a '?' after an already quantified atom (or after a wildcard) is a lazy
 * marker and changes nothing; a '+' there is a nested repetition, which the
 * regex engine rejects, so glob_compile rejects it too.
 */
#ifndef KILN_GLOB_H
#define KILN_GLOB_H

#include <stddef.h>

struct glob;

/*
 * Compile pattern.  A leading '!' marks the pattern negated and is not part
 * of what is matched ("\!x" matches the literal "!x").  Returns a new glob
 * the caller frees with glob_free(), or NULL with a reason naming the
 * offending column (1-based, within pattern) written to err.
 */
struct glob	*glob_compile(const char *pattern, char *err, size_t errsz);
void		 glob_free(struct glob *);

/* 1 if the whole of s matches (negation is ignored here), else 0. */
int		 glob_match(const struct glob *, const char *s);

/* 1 if the pattern was written with a leading '!'. */
int		 glob_negated(const struct glob *);

/* The pattern text as given to glob_compile (including any '!'). Owned by g. */
const char	*glob_pattern(const struct glob *);

/*
 * Sequential evaluation of a list, last match wins (reference 2.2): a
 * positive pattern that matches sets "included", a negated one that matches
 * clears it.  Returns 1 if s ends up included.  If which is not NULL it
 * receives the index of the last pattern that matched, or -1.
 */
int		 glob_list_included(struct glob *const *list, size_t n,
		     const char *s, int *which);

#endif
