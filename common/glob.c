/*
 * glob: compile and match GitHub Actions filter patterns (see glob.h for the
 * syntax).  A pattern compiles to a short array of tokens, each a byte, a
 * byte class or a wildcard, with an optional quantifier; matching walks the
 * tokens once, carrying the set of subject positions that the prefix of the
 * pattern can end at.  No regex library is involved: POSIX ERE has no lazy
 * quantifiers and different class rules, so it would not be exact.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "util.h"

enum glob_kind {
	GLOB_BYTE,		/* one literal byte */
	GLOB_CLASS,		/* one byte of a set */
	GLOB_STAR,		/* "*": [^/]* */
	GLOB_DSTAR,		/* "**": .* */
	GLOB_DSTAR_SLASH,	/* "**" "/": (.+/)? */
};

enum glob_quant {
	GLOB_ONE,
	GLOB_OPT,		/* "?" after the atom */
	GLOB_PLUS,		/* "+" after the atom */
};

struct glob_tok {
	enum glob_kind	 kind;
	enum glob_quant	 quant;
	unsigned char	 byte;		/* GLOB_BYTE */
	uint8_t		 set[32];	/* GLOB_CLASS: bitmap of bytes */
};

struct glob {
	char		*text;		/* as given, with any '!' */
	int		 negated;
	struct glob_tok	*tok;
	size_t		 ntok;
};

static int
glob_class_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'z');
}

static void
glob_set_add(uint8_t *set, unsigned char lo, unsigned char hi)
{
	unsigned int c;

	for (c = lo; c <= hi; c++)
		set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static int
glob_set_has(const uint8_t *set, unsigned char c)
{
	return (set[c >> 3] >> (c & 7)) & 1;
}

static void
glob_err(char *err, size_t errsz, const char *pattern, size_t col,
    const char *what)
{
	if (err != NULL && errsz > 0)
		snprintf(err, errsz, "invalid pattern '%s': %s at column %zu",
		    pattern, what, col);
}

/*
 * Parse a "[...]" class starting at p[*ip] == '['.  On success fills tok and
 * leaves *ip past the ']'.  base is the column offset of p in the original
 * pattern, for messages.
 */
static int
glob_parse_class(const char *pattern, const char *p, size_t *ip, size_t base,
    struct glob_tok *tok, char *err, size_t errsz)
{
	size_t	i = *ip + 1, start;
	size_t	len = strlen(p);

	tok->kind = GLOB_CLASS;
	memset(tok->set, 0, sizeof tok->set);
	if (p[i] == ']') {
		glob_err(err, errsz, pattern, base + i + 1, "empty brackets '[]'");
		return -1;
	}
	start = i;
	while (i < len && p[i] != ']') {
		unsigned char c = (unsigned char)p[i];

		if (c == '-') {
			unsigned char lo, hi;

			if (i <= start || i + 1 >= len) {
				glob_err(err, errsz, pattern, base + i + 1,
				    "invalid range in '[...]'");
				return -1;
			}
			lo = (unsigned char)p[i - 1];
			hi = (unsigned char)p[i + 1];
			if (lo > hi || !(((lo >= 'A' && lo <= 'z') &&
			    (hi >= 'A' && hi <= 'z')) ||
			    ((lo >= '0' && lo <= '9') &&
			    (hi >= '0' && hi <= '9')))) {
				glob_err(err, errsz, pattern, base + i + 1,
				    "ranges can only be within a-z, A-Z or 0-9");
				return -1;
			}
			glob_set_add(tok->set, lo, hi);
			i += 2;
			continue;
		}
		if (!glob_class_char(c)) {
			glob_err(err, errsz, pattern, base + i + 1,
			    "'[...]' can only hold letters, digits and ranges");
			return -1;
		}
		glob_set_add(tok->set, c, c);
		i++;
	}
	if (i >= len) {
		glob_err(err, errsz, pattern, base + *ip + 1,
		    "missing closing ']' after '['");
		return -1;
	}
	*ip = i + 1;
	return 0;
}

struct glob *
glob_compile(const char *pattern, char *err, size_t errsz)
{
	struct glob	*g;
	const char	*p = pattern;
	size_t		 i, len, base = 0;

	if (err != NULL && errsz > 0)
		err[0] = '\0';
	g = xcalloc(1, sizeof *g);
	g->text = xstrdup(pattern);
	if (p[0] == '!') {
		g->negated = 1;
		p++;
		base = 1;
	}
	len = strlen(p);
	g->tok = xcalloc(len + 1, sizeof *g->tok);

	for (i = 0; i < len;) {
		struct glob_tok	*t = &g->tok[g->ntok];
		unsigned char	 c = (unsigned char)p[i];

		switch (c) {
		case '*':
			if (p[i + 1] == '*' && p[i + 2] == '/') {
				t->kind = GLOB_DSTAR_SLASH;
				i += 3;
			} else if (p[i + 1] == '*') {
				t->kind = GLOB_DSTAR;
				i += 2;
			} else {
				t->kind = GLOB_STAR;
				i++;
			}
			g->ntok++;
			break;
		case '?':
		case '+':
			if (i == 0 || g->ntok == 0) {
				t->kind = GLOB_BYTE;
				t->byte = c;
				g->ntok++;
				i++;
				break;
			}
			t = &g->tok[g->ntok - 1];
			if (t->quant != GLOB_ONE || t->kind == GLOB_STAR ||
			    t->kind == GLOB_DSTAR || t->kind == GLOB_DSTAR_SLASH) {
				/* "x??" / "*?" are lazy forms: no change. */
				if (c == '+') {
					glob_err(err, errsz, pattern,
					    base + i + 1, "'+' repeats a "
					    "wildcard or quantifier");
					glob_free(g);
					return NULL;
				}
			} else
				t->quant = c == '?' ? GLOB_OPT : GLOB_PLUS;
			i++;
			break;
		case '[':
			if (glob_parse_class(pattern, p, &i, base, t, err,
			    errsz) != 0) {
				glob_free(g);
				return NULL;
			}
			g->ntok++;
			break;
		case '\\':
			if (i + 1 >= len) {
				glob_err(err, errsz, pattern, base + i + 1,
				    "nothing to escape after '\\'");
				glob_free(g);
				return NULL;
			}
			t->kind = GLOB_BYTE;
			t->byte = (unsigned char)p[i + 1];
			g->ntok++;
			i += 2;
			break;
		default:
			t->kind = GLOB_BYTE;
			t->byte = c;
			g->ntok++;
			i++;
			break;
		}
	}
	return g;
}

void
glob_free(struct glob *g)
{
	if (g == NULL)
		return;
	free(g->text);
	free(g->tok);
	free(g);
}

int
glob_negated(const struct glob *g)
{
	return g->negated;
}

const char *
glob_pattern(const struct glob *g)
{
	return g->text;
}

static int
glob_tok_accepts(const struct glob_tok *t, unsigned char c)
{
	if (t->kind == GLOB_BYTE)
		return c == t->byte;
	return glob_set_has(t->set, c);
}

int
glob_match(const struct glob *g, const char *s)
{
	size_t		 len = strlen(s), i, p, first;
	unsigned char	*cur, *nxt, *tmp;
	int		 any, ok;

	cur = xcalloc(len + 1, 1);
	nxt = xcalloc(len + 1, 1);
	cur[0] = 1;

	for (i = 0; i < g->ntok; i++) {
		const struct glob_tok *t = &g->tok[i];

		memset(nxt, 0, len + 1);
		switch (t->kind) {
		case GLOB_BYTE:
		case GLOB_CLASS:
			if (t->quant == GLOB_OPT)
				memcpy(nxt, cur, len + 1);
			for (p = 0; p < len; p++) {
				int from = cur[p] ||
				    (t->quant == GLOB_PLUS && nxt[p]);

				if (from && glob_tok_accepts(t,
				    (unsigned char)s[p]))
					nxt[p + 1] = 1;
			}
			break;
		case GLOB_STAR:
			for (p = 0; p <= len; p++) {
				nxt[p] |= cur[p];
				if (nxt[p] && p < len && s[p] != '/')
					nxt[p + 1] = 1;
			}
			break;
		case GLOB_DSTAR:
			for (p = 0; p <= len && !cur[p]; p++)
				;
			for (; p <= len; p++)
				nxt[p] = 1;
			break;
		case GLOB_DSTAR_SLASH:
			memcpy(nxt, cur, len + 1);
			for (first = 0; first <= len && !cur[first]; first++)
				;
			for (p = first + 2; p <= len; p++)
				if (s[p - 1] == '/')
					nxt[p] = 1;
			break;
		}
		tmp = cur;
		cur = nxt;
		nxt = tmp;
		for (any = 0, p = 0; p <= len && !any; p++)
			any = cur[p];
		if (!any)
			break;
	}
	ok = cur[len];
	free(cur);
	free(nxt);
	return ok;
}

int
glob_list_included(struct glob *const *list, size_t n, const char *s,
    int *which)
{
	size_t	i;
	int	included = 0;

	if (which != NULL)
		*which = -1;
	for (i = 0; i < n; i++) {
		if (!glob_match(list[i], s))
			continue;
		included = !list[i]->negated;
		if (which != NULL)
			*which = (int)i;
	}
	return included;
}
