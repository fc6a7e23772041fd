/*
 * envfile: parsers for the GITHUB_ENV / GITHUB_OUTPUT / GITHUB_STATE and
 * GITHUB_PATH files a step leaves behind (reference 5.3).  See envfile.h
 * for the rules; the parser below follows the runner's EnvFileKeyValuePairs
 * step by step, so its odd corners (the heredoc delimiter test before the
 * missing-newline test, the empty value when the delimiter follows at once)
 * fall out the same way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envfile.h"
#include "util.h"

#define UTF8_BOM	"\xef\xbb\xbf"

/* One line of the key/value format: [start, end) and the LF after it. */
struct ef_line {
	size_t	start;
	size_t	end;
	size_t	nl;		/* 1 if an LF ended the line, 0 at end of text */
};

/*
 * The runner's ReadLine on Linux: the text up to the next LF, or the rest
 * of the text.  Returns 0 when idx is already at the end.
 */
static int
ef_readline(const char *text, size_t len, size_t *idx, struct ef_line *l)
{
	const char	*lf;

	if (*idx >= len)
		return 0;
	l->start = *idx;
	lf = memchr(text + *idx, '\n', len - *idx);
	if (lf == NULL) {
		l->end = len;
		l->nl = 0;
		*idx = len;
	} else {
		l->end = (size_t)(lf - text);
		l->nl = 1;
		*idx = l->end + 1;
	}
	return 1;
}

static void
ef_add(struct envfile *out, const char *name, size_t namelen,
    const char *value, size_t valuelen, size_t line)
{
	struct envfile_pair	*p;

	if (out->n == out->cap) {
		out->cap = out->cap == 0 ? 8 : out->cap * 2;
		out->pairs = xreallocarray(out->pairs, out->cap,
		    sizeof *out->pairs);
	}
	p = &out->pairs[out->n++];
	p->name = xstrndup(name, namelen);
	p->value = xstrndup(value, valuelen);
	p->line = line;
}

void
envfile_free(struct envfile *ef)
{
	size_t	i;

	for (i = 0; i < ef->n; i++) {
		free(ef->pairs[i].name);
		free(ef->pairs[i].value);
	}
	free(ef->pairs);
	ef->pairs = NULL;
	ef->n = ef->cap = 0;
}

/* Refuse what kiln cannot carry: oversized text, NUL bytes. */
static int
ef_check_text(const char *what, const char *text, size_t len, char **cause,
    size_t *linep)
{
	const char	*nul;
	size_t		 line, i;

	if (len > ENVFILE_MAX_SIZE) {
		*cause = xasprintf("%s: file is %zu bytes, more than the limit "
		    "of %d bytes", what, len, ENVFILE_MAX_SIZE);
		if (linep != NULL)
			*linep = 0;
		return -1;
	}
	if ((nul = memchr(text, '\0', len)) != NULL) {
		line = 1;
		for (i = 0; text + i < nul; i++) {
			if (text[i] == '\n')
				line++;
		}
		*cause = xasprintf("%s: NUL byte in line %zu (not supported)",
		    what, line);
		if (linep != NULL)
			*linep = line;
		return -1;
	}
	return 0;
}

int
envfile_parse(const char *what, const char *text, size_t len,
    size_t max_value, struct envfile *out, char **cause, size_t *linep)
{
	struct ef_line	 l, t;
	const char	*ls = NULL, *eq, *hd, *delim, *nameend = NULL;
	size_t		 idx = 0, lineno = 0, startline, ll, dlen;
	size_t		 vstart, vend, vlen;

	*cause = NULL;
	if (ef_check_text(what, text, len, cause, linep) == -1)
		return -1;
	if (len >= 3 && memcmp(text, UTF8_BOM, 3) == 0)
		idx = 3;

	while (ef_readline(text, len, &idx, &l)) {
		lineno++;
		if (l.end == l.start)
			continue;
		ls = text + l.start;
		ll = l.end - l.start;
		eq = memchr(ls, '=', ll);
		hd = memmem(ls, ll, "<<", 2);

		if (eq != NULL && (hd == NULL || eq < hd)) {
			/* NAME=VALUE, split at the first '=', no trimming. */
			nameend = eq;
			vlen = ll - (size_t)(eq - ls) - 1;
			if (vlen > max_value)
				goto too_long;
			ef_add(out, ls, (size_t)(eq - ls), eq + 1, vlen,
			    lineno);
			continue;
		}
		if (hd == NULL) {
			*cause = xasprintf("Invalid format '%.*s'", (int)ll, ls);
			goto fail;
		}

		/* NAME<<DELIMITER */
		nameend = hd;
		delim = hd + 2;
		dlen = ll - (size_t)(delim - ls);
		if (hd == ls || dlen == 0) {
			*cause = xasprintf("Invalid format '%.*s'. Name must "
			    "not be empty and delimiter must not be empty",
			    (int)ll, ls);
			goto fail;
		}
		startline = lineno;
		vstart = vend = idx;
		for (;;) {
			if (!ef_readline(text, len, &idx, &t)) {
				*cause = xasprintf("Invalid value. Matching "
				    "delimiter not found '%.*s'", (int)dlen,
				    delim);
				lineno = startline;
				goto fail;
			}
			lineno++;
			/* The delimiter test comes first: E5 needs no LF. */
			if (t.end - t.start == dlen &&
			    memcmp(text + t.start, delim, dlen) == 0)
				break;
			if (!t.nl) {
				*cause = xstrdup("Invalid value. EOF marker "
				    "missing new line.");
				goto fail;
			}
			vend = idx - t.nl;
		}
		vlen = vend > vstart ? vend - vstart : 0;
		if (vlen > max_value) {
			lineno = startline;
			goto too_long;
		}
		ef_add(out, ls, (size_t)(hd - ls), text + vstart, vlen,
		    startline);
	}
	return 0;

too_long:
	*cause = xasprintf("%s: value of '%.*s' is %zu bytes, more than the "
	    "limit of %zu bytes", what, (int)(nameend - ls), ls, vlen,
	    max_value);
fail:
	if (linep != NULL)
		*linep = lineno;
	return -1;
}

/* Read a whole environment file; a missing file reads as empty. */
static char *
ef_read_file(const char *path, const char *what, size_t *lenp, char **cause)
{
	char	*text;

	*cause = NULL;
	if ((text = file_read_all(path, ENVFILE_MAX_SIZE, lenp)) != NULL)
		return text;
	if (errno == ENOENT) {
		*lenp = 0;
		return xstrdup("");
	}
	if (errno == EFBIG)
		*cause = xasprintf("%s: file is more than the limit of %d "
		    "bytes", what, ENVFILE_MAX_SIZE);
	else
		*cause = xasprintf("%s: %s: %s", what, path, strerror(errno));
	return NULL;
}

int
envfile_read(const char *path, const char *what, size_t max_value,
    struct envfile *out, char **cause, size_t *linep)
{
	char	*text;
	size_t	 len;
	int	 rc;

	if (linep != NULL)
		*linep = 0;
	if ((text = ef_read_file(path, what, &len, cause)) == NULL)
		return -1;
	rc = envfile_parse(what, text, len, max_value, out, cause, linep);
	free(text);
	return rc;
}

const char *
envfile_env_blocked(const char *name)
{
	if (strcasecmp(name, "NODE_OPTIONS") == 0)
		return ENVFILE_NODE_OPTIONS_MSG;
	return NULL;
}

void
envfile_path_free(struct envfile_path *pl)
{
	size_t	i;

	for (i = 0; i < pl->n; i++)
		free(pl->dirs[i]);
	free(pl->dirs);
	pl->dirs = NULL;
	pl->n = pl->cap = 0;
}

/* The runner's PrependPath.RemoveAll(equal) + Add. */
static void
ef_path_add(struct envfile_path *pl, const char *dir, size_t len)
{
	size_t	i, j;

	for (i = j = 0; i < pl->n; i++) {
		if (strlen(pl->dirs[i]) == len &&
		    memcmp(pl->dirs[i], dir, len) == 0)
			free(pl->dirs[i]);
		else
			pl->dirs[j++] = pl->dirs[i];
	}
	pl->n = j;
	if (pl->n == pl->cap) {
		pl->cap = pl->cap == 0 ? 8 : pl->cap * 2;
		pl->dirs = xreallocarray(pl->dirs, pl->cap, sizeof *pl->dirs);
	}
	pl->dirs[pl->n++] = xstrndup(dir, len);
}

int
envfile_path_parse(const char *what, const char *text, size_t len,
    struct envfile_path *list, char **cause)
{
	size_t	i, start;

	*cause = NULL;
	if (ef_check_text(what, text, len, cause, NULL) == -1)
		return -1;
	i = 0;
	if (len >= 3 && memcmp(text, UTF8_BOM, 3) == 0)
		i = 3;
	/* File.ReadAllLines: CRLF, LF and CR all end a line. */
	while (i < len) {
		start = i;
		while (i < len && text[i] != '\n' && text[i] != '\r')
			i++;
		if (i > start)
			ef_path_add(list, text + start, i - start);
		if (i < len && text[i] == '\r' && i + 1 < len &&
		    text[i + 1] == '\n')
			i++;
		if (i < len)
			i++;
	}
	return 0;
}

int
envfile_path_read(const char *path, const char *what,
    struct envfile_path *list, char **cause)
{
	char	*text;
	size_t	 len;
	int	 rc;

	if ((text = ef_read_file(path, what, &len, cause)) == NULL)
		return -1;
	rc = envfile_path_parse(what, text, len, list, cause);
	free(text);
	return rc;
}

char *
envfile_path_join(const struct envfile_path *pl, const char *orig)
{
	struct buf	b = { 0 };
	size_t		i;

	if (orig == NULL)
		orig = "";
	if (pl->n == 0)
		return xstrdup(orig);
	for (i = pl->n; i > 0; i--) {
		buf_add_str(&b, pl->dirs[i - 1]);
		if (i > 1)
			buf_add_char(&b, ':');
	}
	if (*orig != '\0') {
		buf_add_char(&b, ':');
		buf_add_str(&b, orig);
	}
	return buf_steal(&b);
}
