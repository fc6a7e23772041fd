/*
 * output: how cictl puts text on a terminal.  Everything shown comes from
 * kilnd, and much of it from strangers (branch names, workflow and step
 * names, commit messages), so every cell goes through output_safe(): valid
 * UTF-8 passes; control characters (C0, DEL and the C1 range a terminal
 * would act on), line separators, bidi overrides and stray bytes are shown
 * as \xNN or \uNNNN escapes.  Tables align on terminal columns (utf8.h:
 * CJK and emoji take two), not bytes or characters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cictl.h"
#include "utf8.h"

char *
output_safe(const char *s, size_t max, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, chars = 0, n, len = strlen(s);
	int32_t cp;
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
		n = 0;
		cp = utf8_next((const char *)p, len - (size_t)(p -
		    (const unsigned char *)s), &n);
		esc[0] = '\0';
		if (cp < 0)			/* a stray byte, shown alone */
			snprintf(esc, sizeof esc, "\\x%02x", *p);
		else if (cp == '\\')
			snprintf(esc, sizeof esc, "\\\\");
		else if (cp == '\n')
			snprintf(esc, sizeof esc, "\\n");
		else if (cp == '\t')
			snprintf(esc, sizeof esc, "\\t");
		else if (cp < 0x20 || cp == 0x7f)
			snprintf(esc, sizeof esc, "\\x%02x", (unsigned int)cp);
		else if ((cp >= 0x80 && cp <= 0x9f) ||	/* C1: CSI and friends */
		    cp == 0x2028 || cp == 0x2029 ||	/* line separators */
		    (cp >= 0x202a && cp <= 0x202e) ||	/* bidi overrides */
		    (cp >= 0x2066 && cp <= 0x2069))
			snprintf(esc, sizeof esc, "\\u%04x", (unsigned int)cp);
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
			w = utf8_width(t->cells[r * (size_t)t->ncols +
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
				    utf8_width(row[c]) + 2), "");
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
