/*
 * hashfiles: the walk and digest behind the expression function
 * hashFiles() (reference 4.7), as GitHub's runner computes them.
 *
 * Patterns are @actions/glob's: each argument may hold several lines;
 * lines are trimmed, empty ones and "#" comments skipped, a leading "!"
 * excludes, later patterns win, a pattern matching a directory matches
 * everything below it; relative patterns are relative to the workspace.
 * One search root per positive pattern (its literal prefix; duplicates
 * and roots under another root dropped), each walked depth first,
 * pre-order, a directory's entries in strcmp order of their names.  Only
 * regular files under workspace + "/" count.  Without follow, a symbolic
 * link to a directory is not descended into.
 *
 * The digest: SHA-256 of each matched file's contents, in that order, the
 * 32 raw digest bytes fed into an outer SHA-256, returned as lower-case
 * hex; "" when no file matched.
 */
#ifndef KILN_HASHFILES_H
#define KILN_HASHFILES_H

#include <stddef.h>

#define HASHFILES_HEX_LEN	64	/* hex digits of the digest */
#define HASHFILES_MAX_DEPTH	256	/* directory levels descended */

/*
 * Digest of the files matching patterns[0..n) (each may hold several
 * lines) under workspace (absolute).  Fills hex (HASHFILES_HEX_LEN + 1
 * bytes; "" when nothing matched) and returns 0, or returns -1 with a
 * reason in err (a file or directory that cannot be read, too deep).
 */
int	hashfiles_digest(const char *workspace, const char *const *patterns,
	    size_t n, int follow, char *hex, char *err, size_t errsz);

/*
 * 1 if path (absolute) matches pattern (absolute, one line without its
 * "!") by these rules: segment by segment, "**" any number of them, the
 * others fnmatch(3)'s; with below, also when a directory above path
 * matches.  actions/cache's path lines use it.
 */
int	hashfiles_match(const char *pattern, const char *path, int below);

#endif
