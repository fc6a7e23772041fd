/*
 * utf8: the one UTF-8 decoder, case mapping and display width of kiln, on
 * utf8proc.  Every module that looks inside UTF-8 text (expressions, log
 * escaping, cictl's terminal output, matrix leg names) goes through here,
 * so they agree on what is well formed: the shortest encoding of a Unicode
 * scalar value, nothing else (no overlong forms, no UTF-16 surrogates
 * U+D800..U+DFFF, nothing above U+10FFFF, no truncated sequence).
 *
 * Nothing here prints or keeps state; only utf8_scrub() allocates (into
 * the caller's buffer).
 */
#ifndef KILN_UTF8_H
#define KILN_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * Decode the sequence at s[*i] (s holds len bytes).  Returns the code
 * point and moves *i past the sequence, or returns -1 and moves *i on by
 * one byte when s[*i] does not start a well-formed sequence that fits.
 * *i must be below len.
 */
int32_t	utf8_next(const char *s, size_t len, size_t *i);

/*
 * Append s[0..len) to out with every byte that does not start a
 * well-formed sequence replaced by U+FFFD, as GitHub's runner decodes
 * step output: text bound for PostgreSQL or JSON is never dropped for a
 * bad byte.  NUL bytes become U+FFFD too.  Adds a terminating NUL (not
 * counted in out->len).
 */
void	utf8_scrub(const char *s, size_t len, struct buf *out);

/* UTF-8 of code point cp (a scalar value) into out; returns 1 to 4. */
size_t	utf8_encode(int32_t cp, char out[4]);

/* Bytes of the well-formed sequence at s (len bytes available), or 0. */
size_t	utf8_seq_len(const char *s, size_t len);

/*
 * The simple (one-to-one) upper-case mapping GitHub's runner compares
 * with (.NET ordinal ignore-case): Unicode's simple uppercase mapping,
 * except that the dotless i (U+0131) and the long s (U+017F) stay
 * themselves (the runner's per-character rule; @actions/expressions'
 * toUpperSpecial documents the dotless i).  -1 (an invalid byte) stays -1.
 */
int32_t	utf8_upper(int32_t cp);

/*
 * Length of s[0..len) in UTF-16 code units, GitHub's (.NET's) notion of a
 * string's length: 2 for a code point above U+FFFF, 1 for any other code
 * point and for each byte of a malformed sequence.
 */
size_t	utf8_utf16_len(const char *s, size_t len);

/* Number of code points in s[0..len), each malformed byte counting one. */
size_t	utf8_count(const char *s, size_t len);

/*
 * Columns s (NUL-terminated, already terminal-safe) takes on a terminal:
 * 2 for wide characters (CJK, emoji), 0 for combining marks, 1 otherwise;
 * a malformed byte counts 1 (callers show it escaped).
 */
size_t	utf8_width(const char *s);

#endif
