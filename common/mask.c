/*
 * mask: see mask.h.  Masking marks every byte covered by any occurrence
 * of any registered string (occurrences may overlap) and prints each
 * covered run once as "***"; that is the runner's "merge overlapping and
 * adjacent replacements", and it makes the order of the strings
 * irrelevant (no longest-first needed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mask.h"
#include "util.h"

struct mask_str {
	char	*s;
	size_t	 len;
	int	 eol;		/* holds a CR or LF: never inside one line */
};

struct mask_set {
	struct mask_str	*v;		/* values and their base64 forms */
	size_t		 n;
	size_t		 nvalues;	/* registered values (counted) */
	size_t		 bytes;		/* their bytes */
	size_t		 max_values, max_bytes;
	size_t		 longest;
};

struct mask_set *
mask_set_new(size_t max_values, size_t max_bytes)
{
	struct mask_set	*ms = xcalloc(1, sizeof *ms);

	ms->max_values = max_values;
	ms->max_bytes = max_bytes;
	return ms;
}

void
mask_set_free(struct mask_set *ms)
{
	size_t	i;

	if (ms == NULL)
		return;
	for (i = 0; i < ms->n; i++) {
		explicit_bzero(ms->v[i].s, ms->v[i].len);
		free(ms->v[i].s);
	}
	free(ms->v);
	free(ms);
}

static int
mask_known(const struct mask_set *ms, const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < ms->n; i++)
		if (ms->v[i].len == len && memcmp(ms->v[i].s, s, len) == 0)
			return 1;
	return 0;
}

/* Look for s[0..len) too (a copy is kept). */
static void
mask_keep(struct mask_set *ms, const char *s, size_t len)
{
	if (len == 0 || mask_known(ms, s, len))
		return;
	ms->v = xreallocarray(ms->v, ms->n + 1, sizeof *ms->v);
	ms->v[ms->n].s = xmalloc(len + 1);
	memcpy(ms->v[ms->n].s, s, len);
	ms->v[ms->n].s[len] = '\0';
	ms->v[ms->n].len = len;
	ms->v[ms->n].eol = memchr(s, '\r', len) != NULL ||
	    memchr(s, '\n', len) != NULL;
	ms->n++;
	if (len > ms->longest)
		ms->longest = len;
}

/*
 * base64 of s[off..len), '=' dropped, for off 0, 1, 2: after a prefix of
 * 3k, 3k + 2 and 3k + 1 bytes the secret's own characters are these.
 */
static void
mask_keep_base64(struct mask_set *ms, const char *s, size_t len)
{
	unsigned char	*b64;
	size_t		 off, n;
	int		 got;

	if (len > (size_t)INT32_MAX / 2)
		return;		/* beyond EVP_EncodeBlock's int */
	b64 = xmalloc(4 * ((len + 2) / 3) + 1);
	for (off = 0; off < 3 && off < len; off++) {
		got = EVP_EncodeBlock(b64, (const unsigned char *)s + off,
		    (int)(len - off));
		if (got < 0)
			continue;
		for (n = (size_t)got; n > 0 && b64[n - 1] == '='; n--)
			;
		mask_keep(ms, (const char *)b64, n);
		explicit_bzero(b64, (size_t)got);
	}
	free(b64);
}

int
mask_add_value(struct mask_set *ms, const char *s, size_t len)
{
	if (len == 0 || mask_known(ms, s, len))
		return 0;
	if (ms->nvalues >= ms->max_values || len > ms->max_bytes - ms->bytes)
		return -1;
	mask_keep(ms, s, len);
	ms->nvalues++;
	ms->bytes += len;
	mask_keep_base64(ms, s, len);
	return 0;
}

int
mask_add(struct mask_set *ms, const char *secret)
{
	const char	*s, *p;
	size_t		 len, n;
	int		 rc = 0;

	/* The whole value, trimmed ... */
	s = secret;
	len = strlen(secret);
	str_trim_space(&s, &len);
	if (mask_add_value(ms, s, len) == -1)
		rc = -1;
	/* ... and each of its lines, trimmed. */
	for (p = secret; *p != '\0'; p += n) {
		n = strcspn(p, "\r\n");
		s = p;
		len = n;
		str_trim_space(&s, &len);
		if (len > 0 && mask_add_value(ms, s, len) == -1)
			rc = -1;
		if (p[n] != '\0')
			n++;
	}
	return rc;
}

size_t
mask_longest(const struct mask_set *ms)
{
	return ms->longest;
}

/*
 * Each string's occurrences are found in increasing order, so only the
 * part beyond the previous occurrence needs marking: linear in len per
 * string.  memmem is given at most a window of MASK_WINDOW bytes beyond
 * off: a sanitizer's memmem checks its whole haystack on every call,
 * which over a long run of overlapping matches made masking a 10 MB line
 * quadratic under ASan (40 s instead of 0.2).
 */
#define MASK_WINDOW	65536

/*
 * Candidates mask_find() checks with memcmp before it leaves the rest of
 * its haystack to memmem: enough for ordinary text, a bound for text made
 * of a secret's first two bytes.
 */
#define MASK_FIND_TRIES	16

/*
 * memmem(h, hlen, n, nlen) for nlen >= 1, faster on a log's short lines:
 * glibc's memmem prepares a shift table on every call, which cost more
 * than the search itself (10 M instructions per MiB of random output for
 * one secret's forms); memchr for the first byte and a look at the second
 * skip most of the text.  After MASK_FIND_TRIES full compares that failed
 * (text built to look like the secret), memmem takes over: no input makes
 * this slower than memmem by more than that constant.
 */
static const char *
mask_find(const char *h, size_t hlen, const char *n, size_t nlen)
{
	const char *p = h, *e = h + hlen;
	int tries = 0;

	if (nlen > hlen)
		return NULL;
	if (nlen < 2)
		return memchr(h, n[0], hlen);
	while ((size_t)(e - p) >= nlen &&
	    (p = memchr(p, n[0], (size_t)(e - p) - nlen + 1)) != NULL) {
		if (p[1] == n[1]) {
			if (memcmp(p + 2, n + 2, nlen - 2) == 0)
				return p;
			if (++tries == MASK_FIND_TRIES)
				return memmem(p + 1, (size_t)(e - p - 1), n,
				    nlen);
		}
		p++;
	}
	return NULL;
}

size_t
mask_count(const struct mask_set *ms)
{
	return ms->n;
}

/* mask_cover(); lines set: skip strings that hold a line end (see mask.h). */
static unsigned char *
cover(const struct mask_set *ms, const char *s, size_t len, size_t forced,
    int lines)
{
	unsigned char	*cov = NULL;
	const char	*p;
	size_t		 i, off, at, from, done;

	if (forced > len)
		forced = len;
	if (forced > 0) {
		cov = xcalloc(1, len);
		memset(cov, 1, forced);
	}
	for (i = 0; i < ms->n; i++) {
		const struct mask_str *m = &ms->v[i];

		if (lines && m->eol)
			continue;
		off = done = 0;
		while (off + m->len <= len) {
			size_t win = len - off;

			if (win > MASK_WINDOW + m->len - 1)
				win = MASK_WINDOW + m->len - 1;
			p = mask_find(s + off, win, m->s, m->len);
			if (p == NULL) {
				if (off + win == len)
					break;
				/* The next window overlaps by len - 1. */
				off += win - (m->len - 1);
				continue;
			}
			if (cov == NULL)
				cov = xcalloc(1, len);
			at = (size_t)(p - s);
			from = at > done ? at : done;
			memset(cov + from, 1, at + m->len - from);
			done = at + m->len;
			off = at + 1;
		}
	}
	return cov;
}

unsigned char *
mask_cover(const struct mask_set *ms, const char *s, size_t len,
    size_t forced)
{
	return cover(ms, s, len, forced, 0);
}

unsigned char *
mask_cover_lines(const struct mask_set *ms, const char *s, size_t len)
{
	return cover(ms, s, len, 0, 1);
}

void
mask_emit(const char *s, size_t n, const unsigned char *cov, int *prev,
    struct buf *out)
{
	size_t	i = 0, j;

	if (cov == NULL) {
		buf_add(out, s, n);
		if (n > 0)
			*prev = 0;
		return;
	}
	while (i < n) {
		j = i;
		if (cov[i]) {
			while (j < n && cov[j])
				j++;
			if (!(i == 0 && *prev))
				buf_add_str(out, MASK_TEXT);
		} else {
			while (j < n && !cov[j])
				j++;
			buf_add(out, s + i, j - i);
		}
		i = j;
	}
	if (n > 0)
		*prev = cov[n - 1];
}

void
mask_append(const struct mask_set *ms, const char *s, size_t n,
    struct buf *out)
{
	unsigned char	*cov = mask_cover(ms, s, n, 0);
	int		 prev = 0;

	mask_emit(s, n, cov, &prev, out);
	free(cov);
}

char *
mask_apply(const struct mask_set *ms, const char *text)
{
	struct buf	b = { 0 };

	mask_append(ms, text, strlen(text), &b);
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b);
}
