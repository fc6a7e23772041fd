/*
 * utf8: see utf8.h.  utf8proc does the decoding (utf8proc_iterate rejects
 * overlong forms, surrogates, values above U+10FFFF and truncated
 * sequences), the case mapping and the character widths; this file only
 * fixes the conventions kiln needs around it.
 */
#include <string.h>

#include <utf8proc.h>

#include "utf8.h"

/* Code points GitHub's runner does not upper-case although Unicode does. */
static const int32_t utf8_upper_kept[] = {
	0x0131,		/* LATIN SMALL LETTER DOTLESS I */
	0x017f,		/* LATIN SMALL LETTER LONG S */
};

int32_t
utf8_next(const char *s, size_t len, size_t *i)
{
	utf8proc_int32_t	cp;
	utf8proc_ssize_t	n;
	size_t			avail = len - *i;

	/* utf8proc reads at most 4 bytes; cap so the size fits its type. */
	n = utf8proc_iterate((const utf8proc_uint8_t *)s + *i,
	    (utf8proc_ssize_t)(avail < 4 ? avail : 4), &cp);
	if (n <= 0) {
		(*i)++;
		return -1;
	}
	*i += (size_t)n;
	return cp;
}

void
utf8_scrub(const char *s, size_t len, struct buf *out)
{
	static const char replacement[] = "\xef\xbf\xbd";	/* U+FFFD */
	size_t i = 0, start;

	while (i < len) {
		start = i;
		if (utf8_next(s, len, &i) <= 0)
			buf_add(out, replacement, 3);
		else
			buf_add(out, s + start, i - start);
	}
	buf_add(out, "", 1);
	out->len--;
}

size_t
utf8_encode(int32_t cp, char out[4])
{
	return (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)out);
}

size_t
utf8_seq_len(const char *s, size_t len)
{
	size_t	i = 0;

	if (len == 0)
		return 0;
	return utf8_next(s, len, &i) < 0 ? 0 : i;
}

int32_t
utf8_upper(int32_t cp)
{
	size_t	k;

	if (cp < 0)
		return cp;
	if (cp < 0x80)
		return cp >= 'a' && cp <= 'z' ? cp - 32 : cp;
	for (k = 0; k < sizeof utf8_upper_kept / sizeof utf8_upper_kept[0];
	    k++)
		if (cp == utf8_upper_kept[k])
			return cp;
	return utf8proc_toupper(cp);
}

size_t
utf8_utf16_len(const char *s, size_t len)
{
	size_t	i = 0, units = 0;

	while (i < len)
		units += utf8_next(s, len, &i) > 0xffff ? 2 : 1;
	return units;
}

size_t
utf8_count(const char *s, size_t len)
{
	size_t	i = 0, n = 0;

	while (i < len) {
		(void)utf8_next(s, len, &i);
		n++;
	}
	return n;
}

size_t
utf8_width(const char *s)
{
	size_t	i = 0, len = strlen(s), w = 0;
	int32_t	cp;

	while (i < len) {
		cp = utf8_next(s, len, &i);
		w += cp < 0 ? 1 : (size_t)utf8proc_charwidth(cp);
	}
	return w;
}
