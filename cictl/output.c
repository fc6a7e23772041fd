/*
 * output: how cictl puts text on a terminal.  Everything shown comes from
 * kilnd, and much of it from strangers (branch names, workflow and step
 * names, commit messages), so every cell goes through output_safe(): valid
 * UTF-8 passes; control characters (C0, DEL and the C1 range a terminal
 * would act on), line separators, bidi overrides and stray bytes are shown
 * as \xNN or \uNNNN escapes.  Tables align on characters, not bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cictl.h"

/*
 * Length of the UTF-8 sequence at p (1-4), or 0 when it is not a valid,
 * shortest-form encoding of a scalar value.
 */
static size_t
utf8_seq(const unsigned char *p, unsigned int *cp)
{
	unsigned int c = p[0], v;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) ||
	    (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	*cp = v;
	return n;
}

char *
output_safe(const char *s, size_t max, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, chars = 0, n;
	unsigned int cp;
	char esc[16];

	if (outsz == 0)
		return out;
	while (*p != '\0') {
		if (chars >= max) {
			if (o + 3 < outsz) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		n = utf8_seq(p, &cp);
		esc[0] = '\0';
		if (n == 0) {			/* a stray byte, shown alone */
			n = 1;
			snprintf(esc, sizeof esc, "\\x%02x", *p);
		} else if (cp == '\\')
			snprintf(esc, sizeof esc, "\\\\");
		else if (cp == '\n')
			snprintf(esc, sizeof esc, "\\n");
		else if (cp == '\t')
			snprintf(esc, sizeof esc, "\\t");
		else if (cp < 0x20 || cp == 0x7f)
			snprintf(esc, sizeof esc, "\\x%02x", cp);
		else if ((cp >= 0x80 && cp <= 0x9f) ||	/* C1: CSI and friends */
		    cp == 0x2028 || cp == 0x2029 ||	/* line separators */
		    (cp >= 0x202a && cp <= 0x202e) ||	/* bidi overrides */
		    (cp >= 0x2066 && cp <= 0x2069))
			snprintf(esc, sizeof esc, "\\u%04x", cp);
		if (esc[0] != '\0') {
			if (o + strlen(esc) >= outsz)
				break;
			memcpy(out + o, esc, strlen(esc));
			o += strlen(esc);
		} else {
			if (o + n >= outsz)
				break;
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		chars++;
	}
	out[o] = '\0';
	return out;
}

size_t
output_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
table_init(struct table *t, int ncols, size_t maxcell)
{
	memset(t, 0, sizeof *t);
	t->ncols = ncols;
	/* Bounds the per-cell allocation in table_add(). */
	t->maxcell = maxcell < CICTL_MAX_ARG ? maxcell : CICTL_MAX_ARG;
}

void
table_add(struct table *t, const char *const *cells)
{
	size_t base = t->nrows * (size_t)t->ncols, len, sz;
	int i;

	t->cells = xreallocarray(t->cells, base + (size_t)t->ncols,
	    sizeof *t->cells);
	for (i = 0; i < t->ncols; i++) {
		const char *c = cells[i] != NULL ? cells[i] : "-";

		/* Worst case: every character becomes a 6-byte escape. */
		len = strnlen(c, t->maxcell * 4 + 4);
		sz = len * 6 + 8;
		t->cells[base + (size_t)i] = xmalloc(sz);
		output_safe(c, t->maxcell, t->cells[base + (size_t)i], sz);
	}
	t->nrows++;
}

void
table_print(const struct table *t, FILE *f, const char *indent)
{
	size_t *width, r, w;
	int c, last;

	width = xcalloc((size_t)t->ncols, sizeof *width);
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			w = output_width(t->cells[r * (size_t)t->ncols +
			    (size_t)c]);
			if (w > width[c])
				width[c] = w;
		}
	for (r = 0; r < t->nrows; r++) {
		const char *const *row = (const char *const *)t->cells +
		    r * (size_t)t->ncols;

		/* The last non-empty cell ends the line: no trailing blanks. */
		for (last = t->ncols - 1; last > 0 && *row[last] == '\0'; last--)
			;
		fputs(indent != NULL ? indent : "", f);
		for (c = 0; c <= last; c++) {
			fputs(row[c], f);
			if (c < last)
				fprintf(f, "%*s", (int)(width[c] -
				    output_width(row[c]) + 2), "");
		}
		fputc('\n', f);
	}
	free(width);
}

void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof *t);
}

const char *
output_jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *
output_jint(json_t *o, const char *key, char *out, size_t outsz)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return NULL;
	snprintf(out, outsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return out;
}

int
output_json_raw(FILE *f, const struct buf *raw)
{
	if (raw->len > 0 && fwrite(raw->data, 1, raw->len, f) != raw->len)
		return -1;
	if (raw->len == 0 || raw->data[raw->len - 1] != '\n')
		fputc('\n', f);
	return 0;
}
