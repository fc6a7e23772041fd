/*
 * mask: the secret masker (reference 5.5), as GitHub's runner's
 * SecretMasker does it.  A set of registered values; text passed through
 * it has every occurrence of every value replaced by "***", overlapping
 * and adjacent occurrences merged into one "***".
 *
 * Registering a value also registers its base64 encodings at the three
 * byte alignments (the value itself, and without its first one or two
 * bytes), '=' padding dropped, as the runner's value encoders do: a
 * secret embedded in base64 text (base64("user:" + secret)) is masked
 * whatever precedes it.  The encodings come from OpenSSL's
 * EVP_EncodeBlock.
 *
 * The job's workflow-command filter (wfcmd.c) owns one set for the job;
 * anything else that must print a secret-bearing text masks it through
 * the same set.
 */
#ifndef KILN_MASK_H
#define KILN_MASK_H

#include <stddef.h>

struct buf;
struct mask_set;

#define MASK_TEXT	"***"

/*
 * A new empty set holding at most max_values registered values totalling
 * max_bytes (their base64 forms are not counted).  Free with
 * mask_set_free(), which wipes the values.
 */
struct mask_set	*mask_set_new(size_t max_values, size_t max_bytes);
void		 mask_set_free(struct mask_set *);

/*
 * Register a secret the runner's way: the value with surrounding
 * whitespace trimmed, and each of its lines (split at CR/LF) trimmed;
 * empty pieces are skipped, repeats ignored; each piece with its base64
 * forms.  0, or -1 when the set is full (some pieces may be registered).
 */
int	mask_add(struct mask_set *, const char *secret);

/* Register s[0..len) exactly (and its base64 forms).  0, or -1 if full. */
int	mask_add_value(struct mask_set *, const char *s, size_t len);

/* Length of the longest string the set looks for (0 when empty). */
size_t	mask_longest(const struct mask_set *);

/*
 * Which bytes of s[0..len) an occurrence covers: a new array of len flags
 * (the caller frees), [0, forced) covered too, or NULL when none is.
 */
unsigned char	*mask_cover(const struct mask_set *, const char *s, size_t len,
		    size_t forced);

/*
 * mask_cover() for text that the caller logs line by line (split at CR
 * and LF): a string holding a CR or LF can never occur inside one line,
 * so it is not looked for; no occurrence then crosses a line end, and
 * one call covers many lines at once (wfcmd_feed: one search per stretch
 * of output instead of one per line).
 */
unsigned char	*mask_cover_lines(const struct mask_set *, const char *s,
		    size_t len);

/* How many strings the set looks for: it changed when this did. */
size_t	mask_count(const struct mask_set *);

/*
 * Append s[0..n) to out with covered runs replaced by "***".  *prev says
 * the text already appended ends in a masked run; a run at offset 0 then
 * continues it.  Updates *prev.
 */
void	mask_emit(const char *s, size_t n, const unsigned char *cov, int *prev,
	    struct buf *out);

/* Append s[0..n) masked to out. */
void	mask_append(const struct mask_set *, const char *s, size_t n,
	    struct buf *out);

/* text masked, as a new string the caller frees. */
char	*mask_apply(const struct mask_set *, const char *text);

#endif
