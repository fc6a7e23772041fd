/*
 * expr: GitHub Actions' ${{ }} expression language (see expr.h).
 *
 * Pipeline: the whole expression is lexed first (so a lexing error wins
 * over a parsing error, as in GitHub's engines), then a recursive-descent
 * parser builds an AST and checks names, argument counts and depth, then
 * the evaluator walks the tree.
 *
 * Values during evaluation are a small tagged struct rather than json_t,
 * because jansson cannot hold Infinity or NaN, which the language has as
 * literals and as the result of converting strings to numbers.  Strings,
 * arrays and objects are jansson values (one owned reference each), so
 * context data is never copied; a `filtered' flag marks arrays produced by
 * the `*' filter, on which `.x' and `[i]' map over the elements.
 *
 * Memory: each evaluation has a budget (expr_ctx.max_memory, 1 MiB by
 * default).  Strings made by functions are charged 26 + 2 bytes a
 * character, the estimate GitHub's engines use, so the same expressions
 * run out of memory here as there.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "expr.h"
#include "hashfiles.h"
#include "utf8.h"
#include "util.h"

#define MAX_ARGS	255	/* most arguments of any function */
#define MAX_NEST	(2 * EXPR_MAX_DEPTH) /* parser recursion guard */
#define STR_OVERHEAD	26	/* GitHub's per-string memory estimate */

/* ------------------------------------------------------------------ */
/* Values */

enum vkind {
	VK_NULL,
	VK_BOOL,
	VK_NUMBER,
	VK_STRING,
	VK_ARRAY,
	VK_OBJECT
};

struct val {
	enum vkind	 kind;
	int		 filtered;	/* VK_ARRAY made by a * filter */
	int		 b;		/* VK_BOOL */
	double		 n;		/* VK_NUMBER */
	json_t		*j;		/* STRING/ARRAY/OBJECT: owned reference */
};

static const struct val VAL_NULL = { VK_NULL, 0, 0, 0, NULL };

static void
val_clear(struct val *v)
{
	if (v->j != NULL)
		json_decref(v->j);
	*v = VAL_NULL;
}

static struct val
val_bool(int b)
{
	struct val v = VAL_NULL;

	v.kind = VK_BOOL;
	v.b = b != 0;
	return v;
}

static struct val
val_num(double n)
{
	struct val v = VAL_NULL;

	v.kind = VK_NUMBER;
	v.n = n;
	return v;
}

static struct val
val_strn(const char *s, size_t len)
{
	struct val v = VAL_NULL;

	v.kind = VK_STRING;
	v.j = json_stringn_nocheck(s, len);
	if (v.j == NULL)
		abort();	/* jansson fails only on OOM here */
	return v;
}

/* A new reference to j as a value (j is borrowed). */
static struct val
val_from_json(json_t *j)
{
	struct val v = VAL_NULL;

	switch (j == NULL ? JSON_NULL : json_typeof(j)) {
	case JSON_TRUE:
		return val_bool(1);
	case JSON_FALSE:
		return val_bool(0);
	case JSON_INTEGER:
	case JSON_REAL:
		return val_num(json_number_value(j));
	case JSON_STRING:
		v.kind = VK_STRING;
		break;
	case JSON_ARRAY:
		v.kind = VK_ARRAY;
		break;
	case JSON_OBJECT:
		v.kind = VK_OBJECT;
		break;
	default:
		return VAL_NULL;
	}
	v.j = json_incref(j);
	return v;
}

/* A new reference: see expr_eval() for the number rules. */
static json_t *
val_to_json(const struct val *v)
{
	char	 nb[32];
	json_t	*j;

	switch (v->kind) {
	case VK_BOOL:
		j = json_boolean(v->b);
		break;
	case VK_NUMBER:
		if (!isfinite(v->n)) {
			expr_format_number(v->n, nb, sizeof nb);
			j = json_string(nb);
		} else if (v->n == floor(v->n) && fabs(v->n) < 9007199254740992.0)
			j = json_integer((json_int_t)v->n);
		else
			j = json_real(v->n);
		break;
	case VK_STRING:
	case VK_ARRAY:
	case VK_OBJECT:
		j = json_incref(v->j);
		break;
	default:
		j = json_null();
		break;
	}
	if (j == NULL)
		abort();
	return j;
}

static const char *
vstr(const struct val *v, size_t *lenp)
{
	*lenp = json_string_length(v->j);
	return json_string_value(v->j);
}

static int
val_primitive(const struct val *v)
{
	return v->kind != VK_ARRAY && v->kind != VK_OBJECT;
}

static int
val_truthy(const struct val *v)
{
	switch (v->kind) {
	case VK_BOOL:
		return v->b;
	case VK_NUMBER:
		return v->n != 0 && !isnan(v->n);
	case VK_STRING:
		return json_string_length(v->j) > 0;
	case VK_ARRAY:
	case VK_OBJECT:
		return 1;
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------ */
/* Numbers */

char *
expr_format_number(double d, char *buf, size_t bufsz)
{
	char	*p;

	if (isnan(d))
		snprintf(buf, bufsz, "NaN");
	else if (isinf(d))
		snprintf(buf, bufsz, "%s", d > 0 ? "Infinity" : "-Infinity");
	else if (d == 0)
		snprintf(buf, bufsz, "0");	/* also -0 */
	else {
		/*
		 * .NET "G15": 15 significant digits, trailing zeros dropped,
		 * scientific below 1E-05 and from 1E+15, exponent with a sign
		 * and at least two digits: exactly C's %.15g with a capital E.
		 */
		snprintf(buf, bufsz, "%.15g", d);
		if ((p = strchr(buf, 'e')) != NULL)
			*p = 'E';
	}
	return buf;
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

/*
 * 0x/0o digits as a signed 32-bit integer, else NaN.  Up to 32 bits of
 * digits are taken as two's complement, as the runner's Int32.TryParse
 * with AllowHexSpecifier and Convert.ToInt32(s, 8) do: 0xFFFFFFFF is -1,
 * 0x80000000 is -2147483648; more bits overflow (NaN).
 */
static double
parse_radix(const char *s, size_t len, int base)
{
	uint64_t	v = 0;
	size_t		i;
	int		d;

	if (len == 0)
		return NAN;
	for (i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			return NAN;
		if (d >= base)
			return NAN;
		v = v * (uint64_t)base + (uint64_t)d;
		if (v > UINT32_MAX)
			return NAN;
	}
	return (double)(int32_t)(uint32_t)v;
}

/*
 * The text of a number, exactly (no surrounding space): a decimal with
 * optional sign, point and exponent; 0x hex; 0o octal; [+-]Infinity.
 * Anything else is NaN.  (reference 4.2, 4.4)
 */
static double
parse_number_text(const char *s, size_t len)
{
	char	 small[64], *copy;
	size_t	 i = 0, digits = 0;
	double	 d;
	int	 neg = 0;

	if (len >= 2 && s[0] == '0' && s[1] == 'x')
		return parse_radix(s + 2, len - 2, 16);
	if (len >= 2 && s[0] == '0' && s[1] == 'o')
		return parse_radix(s + 2, len - 2, 8);
	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i++;
	}
	if (len - i == 8 && memcmp(s + i, "Infinity", 8) == 0)
		return neg ? -INFINITY : INFINITY;
	for (; i < len && isdigit((unsigned char)s[i]); i++)
		digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && isdigit((unsigned char)s[i]); i++)
			digits++;
	if (digits == 0)
		return NAN;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == len || !isdigit((unsigned char)s[i]))
			return NAN;
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
	}
	if (i != len)
		return NAN;
	/* Validated above, so strtod sees only [sign]digits[.digits][e..]. */
	copy = len < sizeof small ? small : xmalloc(len + 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	d = strtod(copy, NULL);
	if (copy != small)
		free(copy);
	return d;
}

/* String to number, the coercion rule: trimmed, empty is 0. */
static double
string_to_number(const char *s, size_t len)
{
	while (len > 0 && is_space((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_space((unsigned char)s[len - 1]))
		len--;
	if (len == 0)
		return 0;
	return parse_number_text(s, len);
}

static double
val_to_number(const struct val *v)
{
	const char	*s;
	size_t		 len;

	switch (v->kind) {
	case VK_NULL:
		return 0;
	case VK_BOOL:
		return v->b;
	case VK_NUMBER:
		return v->n;
	case VK_STRING:
		s = vstr(v, &len);
		return string_to_number(s, len);
	default:
		return NAN;
	}
}

/* ------------------------------------------------------------------ */
/* Strings: conversion and case-insensitive comparison */

/* Appends GitHub's string form of v (reference 4.5). */
static void
val_append(struct buf *b, const struct val *v)
{
	char		 nb[32];
	const char	*s;
	size_t		 len;

	switch (v->kind) {
	case VK_BOOL:
		buf_add_str(b, v->b ? "true" : "false");
		break;
	case VK_NUMBER:
		buf_add_str(b, expr_format_number(v->n, nb, sizeof nb));
		break;
	case VK_STRING:
		s = vstr(v, &len);
		buf_add(b, s, len);
		break;
	case VK_ARRAY:
		buf_add_str(b, "Array");
		break;
	case VK_OBJECT:
		buf_add_str(b, "Object");
		break;
	default:
		break;
	}
}

/*
 * The next code point of s, upper-cased for OrdinalIgnoreCase (utf8.h).
 * A malformed byte becomes 0x110000 + byte, so it compares as itself and
 * never equals a character.
 */
static uint32_t
upper_next(const char *s, size_t len, size_t *i)
{
	size_t	at = *i;
	int32_t	c = utf8_next(s, len, i);

	return c < 0 ? 0x110000u + (unsigned char)s[at] :
	    (uint32_t)utf8_upper(c);
}

/* The upper-cased code points of s; caller frees. */
static uint32_t *
upper_cps(const char *s, size_t len, size_t *np)
{
	uint32_t	*cp = xreallocarray(NULL, len + 1, sizeof *cp);
	size_t		 i = 0, n = 0;

	while (i < len)
		cp[n++] = upper_next(s, len, &i);
	*np = n;
	return cp;
}

/* OrdinalIgnoreCase comparison: <0, 0, >0. */
static int
str_cmp_ci(const char *a, size_t al, const char *b, size_t bl)
{
	size_t		i = 0, k = 0;
	uint32_t	ca, cb;

	while (i < al && k < bl) {
		ca = upper_next(a, al, &i);
		cb = upper_next(b, bl, &k);
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	if (i < al)
		return 1;
	if (k < bl)
		return -1;
	return 0;
}

/* The upper-cased form of s, the identity of an object key (utf8.h). */
static void
fold_key(const char *s, size_t len, struct buf *out)
{
	char	enc[4];
	size_t	i = 0, at;
	int32_t	c;

	buf_clear(out);
	while (i < len) {
		at = i;
		if ((c = utf8_next(s, len, &i)) < 0)
			buf_add_char(out, s[at]);
		else
			buf_add(out, enc, utf8_encode(utf8_upper(c), enc));
	}
}

json_t *
expr_json_fold_keys(json_t *j)
{
	struct buf	 key = { 0 };
	const char	*k;
	json_t		*spelling, *folded, *v;
	size_t		 i;

	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			json_array_set_new(j, i,
			    expr_json_fold_keys(json_incref(v)));
		return j;
	}
	if (!json_is_object(j))
		return j;
	/* Upper-cased key -> the first spelling seen. */
	spelling = json_object();
	folded = json_object();
	if (spelling == NULL || folded == NULL)
		abort();
	json_object_foreach(j, k, v) {
		const char	*first = k;
		json_t		*seen;

		fold_key(k, strlen(k), &key);
		if ((seen = json_object_get(spelling, key.data)) != NULL)
			first = json_string_value(seen);
		else
			json_object_set_new(spelling, key.data, json_string(k));
		/* Setting an existing key keeps its place: last value wins. */
		json_object_set_new(folded, first,
		    expr_json_fold_keys(json_incref(v)));
	}
	buf_free(&key);
	json_decref(spelling);
	json_decref(j);
	return folded;
}

enum find_mode {
	FIND_ANY,
	FIND_PREFIX,
	FIND_SUFFIX
};

/* Case-insensitive substring, prefix or suffix test. */
static int
str_find_ci(const char *hay, size_t hl, const char *needle, size_t nl,
    enum find_mode mode)
{
	uint32_t	*h, *n;
	size_t		 hn, nn, i;
	int		 found = 0;

	h = upper_cps(hay, hl, &hn);
	n = upper_cps(needle, nl, &nn);
	if (nn <= hn) {
		switch (mode) {
		case FIND_PREFIX:
			found = memcmp(h, n, nn * sizeof *n) == 0;
			break;
		case FIND_SUFFIX:
			found = memcmp(h + hn - nn, n, nn * sizeof *n) == 0;
			break;
		default:
			for (i = 0; i + nn <= hn && !found; i++)
				found = memcmp(h + i, n, nn * sizeof *n) == 0;
			break;
		}
	}
	free(h);
	free(n);
	return found;
}

/* Case-insensitive key lookup; an exact match wins.  Borrowed result. */
static json_t *
obj_get_ci(json_t *obj, const char *key, size_t klen)
{
	const char	*k;
	json_t		*v;

	if (strlen(key) == klen && (v = json_object_get(obj, key)) != NULL)
		return v;
	json_object_foreach(obj, k, v) {
		if (str_cmp_ci(k, strlen(k), key, klen) == 0)
			return v;
	}
	return NULL;
}

json_t *
expr_object_get(const json_t *obj, const char *key)
{
	return json_is_object(obj) ? obj_get_ci((json_t *)obj, key,
	    strlen(key)) : NULL;
}

/* ------------------------------------------------------------------ */
/* Equality and comparison (reference 4.4) */

/* Works on shallow copies: never clear l or r. */
static void
coerce(struct val *l, struct val *r)
{
	if (l->kind == r->kind)
		return;
	if (l->kind == VK_NUMBER && r->kind == VK_STRING) {
		*r = val_num(val_to_number(r));
		return;
	}
	if (l->kind == VK_STRING && r->kind == VK_NUMBER) {
		*l = val_num(val_to_number(l));
		return;
	}
	if (l->kind == VK_NULL || l->kind == VK_BOOL) {
		*l = val_num(val_to_number(l));
		coerce(l, r);
		return;
	}
	if (r->kind == VK_NULL || r->kind == VK_BOOL) {
		*r = val_num(val_to_number(r));
		coerce(l, r);
	}
}

static int
val_equals(const struct val *a, const struct val *b)
{
	struct val	 l = *a, r = *b;
	const char	*ls, *rs;
	size_t		 ll, rl;

	coerce(&l, &r);
	if (l.kind != r.kind)
		return 0;
	switch (l.kind) {
	case VK_NULL:
		return 1;
	case VK_BOOL:
		return l.b == r.b;
	case VK_NUMBER:
		return !isnan(l.n) && !isnan(r.n) && l.n == r.n;
	case VK_STRING:
		ls = vstr(&l, &ll);
		rs = vstr(&r, &rl);
		return str_cmp_ci(ls, ll, rs, rl) == 0;
	default:
		return l.j == r.j;
	}
}

int
expr_loose_equal(const json_t *a, const json_t *b)
{
	struct val	l = val_from_json((json_t *)a);
	struct val	r = val_from_json((json_t *)b);
	int		eq = val_equals(&l, &r);

	val_clear(&l);
	val_clear(&r);
	return eq;
}

/* 1 if a > b (sign 1) or a < b (sign -1). */
static int
val_order(const struct val *a, const struct val *b, int sign)
{
	struct val	 l = *a, r = *b;
	const char	*ls, *rs;
	size_t		 ll, rl;
	int		 c;

	coerce(&l, &r);
	if (l.kind != r.kind)
		return 0;
	switch (l.kind) {
	case VK_BOOL:
		c = l.b - r.b;
		break;
	case VK_NUMBER:
		if (isnan(l.n) || isnan(r.n))
			return 0;
		c = l.n < r.n ? -1 : l.n > r.n;
		break;
	case VK_STRING:
		ls = vstr(&l, &ll);
		rs = vstr(&r, &rl);
		c = str_cmp_ci(ls, ll, rs, rl);
		break;
	default:
		return 0;
	}
	return sign > 0 ? c > 0 : c < 0;
}

/* ------------------------------------------------------------------ */
/* Lexer */

enum tok {
	T_EOF,
	T_LPAREN,
	T_RPAREN,
	T_LBRACKET,
	T_RBRACKET,
	T_COMMA,
	T_DOT,
	T_BANG,
	T_NE,
	T_EQ,
	T_GT,
	T_GE,
	T_LT,
	T_LE,
	T_AND,
	T_OR,
	T_STAR,
	T_NUMBER,
	T_STRING,
	T_IDENT,
	T_TRUE,
	T_FALSE,
	T_NULL
};

struct token {
	enum tok	 type;
	size_t		 off;	/* byte offset in the source */
	size_t		 len;	/* bytes */
	size_t		 col;	/* 1-based character position */
	double		 num;	/* T_NUMBER */
};

struct lexer {
	const char	*s;
	size_t		 len;
	struct token	*t;
	size_t		 n, cap;
	size_t		 coloff, col;	/* column cache: offset -> column */
};

/* Characters end an identifier or number (a quote and * do not). */
static int
is_boundary(int c)
{
	return strchr("()[],.!><=&|", c) != NULL || is_space(c);
}

static int
is_ident(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' ||
		    s[i] == '-'))
			return 0;
	return 1;
}

/* 1-based character column of byte offset off; offsets only grow. */
static size_t
lex_col(struct lexer *lx, size_t off)
{
	if (off < lx->coloff) {
		lx->coloff = 0;
		lx->col = 1;
	}
	for (; lx->coloff < off; lx->coloff++)
		if (((unsigned char)lx->s[lx->coloff] & 0xc0) != 0x80)
			lx->col++;
	return lx->col;
}

static enum tok
lex_prev(const struct lexer *lx)
{
	return lx->n == 0 ? T_EOF : lx->t[lx->n - 1].type;
}

static void
lex_add(struct lexer *lx, enum tok type, size_t off, size_t len, double num)
{
	struct token	*t;

	if (lx->n == lx->cap) {
		lx->cap = lx->cap ? lx->cap * 2 : 16;
		lx->t = xreallocarray(lx->t, lx->cap, sizeof *lx->t);
	}
	t = &lx->t[lx->n++];
	t->type = type;
	t->off = off;
	t->len = len;
	t->col = lex_col(lx, off);
	t->num = num;
}

static int
lex_error(struct lexer *lx, size_t off, size_t len, char *err, size_t errsz)
{
	snprintf(err, errsz, "Unexpected symbol: '%.*s'. Located at position "
	    "%zu within expression: %s", (int)len, lx->s + off,
	    lex_col(lx, off), lx->s);
	return -1;
}

/* Tokenise src (NUL-terminated, len bytes); 0 or -1 with err set. */
static int
lex(struct lexer *lx, char *err, size_t errsz, size_t *errcol)
{
	const char	*s = lx->s;
	size_t		 i = 0, start;
	double		 d;
	enum tok	 type;
	char		 c;

	while (i < lx->len) {
		start = i;
		c = s[i++];
		type = T_EOF;
		switch (c) {
		case '(': type = T_LPAREN; break;
		case ')': type = T_RPAREN; break;
		case '[': type = T_LBRACKET; break;
		case ']': type = T_RBRACKET; break;
		case ',': type = T_COMMA; break;
		case '*': type = T_STAR; break;
		case '!':
			type = T_BANG;
			if (s[i] == '=') {
				i++;
				type = T_NE;
			}
			break;
		case '<':
			type = T_LT;
			if (s[i] == '=') {
				i++;
				type = T_LE;
			}
			break;
		case '>':
			type = T_GT;
			if (s[i] == '=') {
				i++;
				type = T_GE;
			}
			break;
		case '=':
		case '&':
		case '|':
			if (s[i] == c) {
				i++;
				type = c == '=' ? T_EQ : c == '&' ? T_AND : T_OR;
				break;
			}
			/* A lone one: report it with what follows it. */
			while (i < lx->len && !is_boundary((unsigned char)s[i]))
				i++;
			*errcol = lex_col(lx, start);
			return lex_error(lx, start, i - start, err, errsz);
		case '\'':
			for (;;) {
				if (i >= lx->len) {
					*errcol = lex_col(lx, start);
					return lex_error(lx, start, lx->len - start,
					    err, errsz);
				}
				if (s[i] == '\'') {
					if (s[i + 1] != '\'')
						break;
					i++;
				}
				i++;
			}
			i++;
			lex_add(lx, T_STRING, start, i - start, 0);
			continue;
		default:
			break;
		}
		if (type != T_EOF) {
			lex_add(lx, type, start, i - start, 0);
			continue;
		}
		if (is_space((unsigned char)c))
			continue;
		if (c == '.' && (lex_prev(lx) == T_IDENT ||
		    lex_prev(lx) == T_RBRACKET || lex_prev(lx) == T_RPAREN ||
		    lex_prev(lx) == T_STAR)) {
			lex_add(lx, T_DOT, start, 1, 0);
			continue;
		}
		if (c == '.' || c == '-' || c == '+' ||
		    isdigit((unsigned char)c)) {
			while (i < lx->len && (s[i] == '.' ||
			    !is_boundary((unsigned char)s[i])))
				i++;
			d = parse_number_text(s + start, i - start);
			if (isnan(d)) {
				*errcol = lex_col(lx, start);
				return lex_error(lx, start, i - start, err, errsz);
			}
			lex_add(lx, T_NUMBER, start, i - start, d);
			continue;
		}
		while (i < lx->len && !is_boundary((unsigned char)s[i]))
			i++;
		type = T_IDENT;
		d = 0;
		if (lex_prev(lx) != T_DOT) {
			/* Keywords are case-sensitive; after a dot, names. */
			if (i - start == 4 && memcmp(s + start, "true", 4) == 0)
				type = T_TRUE;
			else if (i - start == 5 &&
			    memcmp(s + start, "false", 5) == 0)
				type = T_FALSE;
			else if (i - start == 4 &&
			    memcmp(s + start, "null", 4) == 0)
				type = T_NULL;
			else if (i - start == 3 &&
			    memcmp(s + start, "NaN", 3) == 0) {
				type = T_NUMBER;
				d = NAN;
			} else if (i - start == 8 &&
			    memcmp(s + start, "Infinity", 8) == 0) {
				type = T_NUMBER;
				d = INFINITY;
			}
		}
		if (!is_ident(s + start, i - start)) {
			*errcol = lex_col(lx, start);
			return lex_error(lx, start, i - start, err, errsz);
		}
		lex_add(lx, type, start, i - start, d);
	}
	lex_add(lx, T_EOF, lx->len, 0, 0);
	return 0;
}

/* ------------------------------------------------------------------ */
/* AST */

enum ntype {
	N_LITERAL,
	N_CONTEXT,	/* name */
	N_PROPERTY,	/* kid[0].name */
	N_INDEX,	/* kid[0][kid[1]] */
	N_STAR,		/* kid[0].* */
	N_NOT,
	N_BINARY,	/* op: T_EQ .. T_LE */
	N_AND,		/* n-ary */
	N_OR,		/* n-ary */
	N_CALL		/* fn(kid...) */
};

struct eval;
struct node;

struct func {
	const char	*name;
	int		 min, max;
	unsigned int	 need;	/* EXPR_FN_* the scope must admit, or 0 */
	int		 lazy;	/* evaluates its own arguments */
	int		 (*fn)(struct eval *, const struct node *,
			    struct val *, size_t, struct val *);
};

struct node {
	enum ntype		 type;
	enum tok		 op;
	size_t			 pos;	/* 1-based column */
	int			 depth;
	struct val		 lit;
	char			*name;
	const struct func	*fn;
	struct node		**kid;
	size_t			 nkid;
};

struct expr {
	char		*src;
	struct node	*root;
	int		 uses_status;
};

static void
node_free(struct node *n)
{
	size_t	i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkid; i++)
		node_free(n->kid[i]);
	free(n->kid);
	free(n->name);
	val_clear(&n->lit);
	free(n);
}

static struct node *
node_new(enum ntype type, size_t pos)
{
	struct node	*n = xcalloc(1, sizeof *n);

	n->type = type;
	n->pos = pos;
	n->depth = 1;
	return n;
}

static void
node_add(struct node *n, struct node *kid)
{
	n->kid = xreallocarray(n->kid, n->nkid + 1, sizeof *n->kid);
	n->kid[n->nkid++] = kid;
	if (kid->depth + 1 > n->depth)
		n->depth = kid->depth + 1;
}

void
expr_free(struct expr *e)
{
	if (e == NULL)
		return;
	node_free(e->root);
	free(e->src);
	free(e);
}

int
expr_uses_status(const struct expr *e)
{
	return e->uses_status;
}

/* ------------------------------------------------------------------ */
/* Parser */

struct parser {
	const char			*src;
	struct token			*t;
	size_t				 i;
	const struct expr_scope		*scope;
	int				 nest;
	int				 uses_status;
	char				*err;
	size_t				 errsz;
	size_t				 errcol;
};

static const struct func *func_lookup(const char *, size_t);

static struct node *parse_or(struct parser *);

static void KILN_PRINTF(3, 4)
perr(struct parser *p, size_t col, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errsz, "%s. Located at position %zu within "
	    "expression: %s", msg, col, p->src);
	p->errcol = col;
}

static const struct token *
cur(const struct parser *p)
{
	return &p->t[p->i];
}

static void
unexpected(struct parser *p)
{
	const struct token	*t = cur(p), *last;

	if (t->type == T_EOF) {
		if (p->i == 0) {
			perr(p, 1, "Unexpected end of expression");
			return;
		}
		last = &p->t[p->i - 1];
		perr(p, last->col, "Unexpected end of expression: '%.*s'",
		    (int)last->len, p->src + last->off);
		return;
	}
	perr(p, t->col, "Unexpected symbol: '%.*s'", (int)t->len,
	    p->src + t->off);
}

/* Depth check after a node is complete; frees it on failure. */
static struct node *
checked(struct parser *p, struct node *n)
{
	if (n->depth > EXPR_MAX_DEPTH) {
		perr(p, n->pos, "Exceeded max expression depth %d",
		    EXPR_MAX_DEPTH);
		node_free(n);
		return NULL;
	}
	return n;
}

static int
enter(struct parser *p)
{
	if (++p->nest > MAX_NEST) {
		perr(p, cur(p)->col, "Exceeded max expression depth %d",
		    EXPR_MAX_DEPTH);
		return -1;
	}
	return 0;
}

static int
scope_has(const struct expr_scope *scope, const char *name, size_t len)
{
	const char *const	*c;

	if (scope == NULL || scope->contexts == NULL)
		return 1;
	for (c = scope->contexts; *c != NULL; c++)
		if (str_cmp_ci(*c, strlen(*c), name, len) == 0)
			return 1;
	return 0;
}

static struct node *
parse_call(struct parser *p)
{
	const struct token	*name = cur(p);
	const struct func	*fn;
	struct node		*n, *arg;

	fn = func_lookup(p->src + name->off, name->len);
	if (fn == NULL || (fn->need != 0 && p->scope != NULL &&
	    (p->scope->funcs & fn->need) == 0)) {
		perr(p, name->col, "Unrecognized function: '%.*s'",
		    (int)name->len, p->src + name->off);
		return NULL;
	}
	if (fn->need & EXPR_FN_STATUS)
		p->uses_status = 1;
	n = node_new(N_CALL, name->col);
	n->fn = fn;
	n->name = xstrndup(p->src + name->off, name->len);
	p->i += 2;	/* name ( */
	if (cur(p)->type != T_RPAREN) {
		for (;;) {
			if (enter(p) == -1 || (arg = parse_or(p)) == NULL) {
				node_free(n);
				return NULL;
			}
			p->nest--;
			node_add(n, arg);
			if (n->nkid > MAX_ARGS) {
				perr(p, n->pos, "Too many parameters supplied: "
				    "'%s'", n->name);
				node_free(n);
				return NULL;
			}
			if (cur(p)->type == T_COMMA) {
				p->i++;
				continue;
			}
			if (cur(p)->type == T_RPAREN)
				break;
			unexpected(p);
			node_free(n);
			return NULL;
		}
	}
	p->i++;
	if ((int)n->nkid < fn->min)
		perr(p, n->pos, "Too few parameters supplied: '%s'", n->name);
	else if ((int)n->nkid > fn->max)
		perr(p, n->pos, "Too many parameters supplied: '%s'", n->name);
	else if (strcmp(fn->name, "case") == 0 && n->nkid % 2 == 0)
		perr(p, n->pos, "Even number of parameters supplied, requires "
		    "an odd number of parameters: '%s'", n->name);
	else
		return checked(p, n);
	node_free(n);
	return NULL;
}

/* Decode a quoted string token into a literal. */
static struct val
string_literal(const char *s, size_t len)
{
	struct buf	b = { 0 };
	struct val	v;
	size_t		i;

	for (i = 1; i + 1 < len; i++) {
		buf_add_char(&b, s[i]);
		if (s[i] == '\'')
			i++;	/* '' is one quote */
	}
	v = val_strn(b.data != NULL ? b.data : "", b.len);
	buf_free(&b);
	return v;
}

static struct node *
parse_primary(struct parser *p)
{
	const struct token	*t = cur(p);
	struct node		*n;

	switch (t->type) {
	case T_NUMBER:
	case T_STRING:
	case T_TRUE:
	case T_FALSE:
	case T_NULL:
		n = node_new(N_LITERAL, t->col);
		if (t->type == T_NUMBER)
			n->lit = val_num(t->num);
		else if (t->type == T_STRING)
			n->lit = string_literal(p->src + t->off, t->len);
		else if (t->type != T_NULL)
			n->lit = val_bool(t->type == T_TRUE);
		p->i++;
		return n;
	case T_IDENT:
		if (p->t[p->i + 1].type == T_LPAREN)
			return parse_call(p);
		if (!scope_has(p->scope, p->src + t->off, t->len)) {
			perr(p, t->col, "Unrecognized named-value: '%.*s'",
			    (int)t->len, p->src + t->off);
			return NULL;
		}
		n = node_new(N_CONTEXT, t->col);
		n->name = xstrndup(p->src + t->off, t->len);
		p->i++;
		return n;
	case T_LPAREN:
		p->i++;
		if (enter(p) == -1 || (n = parse_or(p)) == NULL)
			return NULL;
		p->nest--;
		if (cur(p)->type != T_RPAREN) {
			unexpected(p);
			node_free(n);
			return NULL;
		}
		p->i++;
		return n;
	default:
		unexpected(p);
		return NULL;
	}
}

static struct node *
parse_postfix(struct parser *p)
{
	struct node		*n, *sub, *idx;
	const struct token	*t;

	if ((n = parse_primary(p)) == NULL)
		return NULL;
	for (;;) {
		t = cur(p);
		if (t->type == T_DOT) {
			p->i++;
			t = cur(p);
			if (t->type == T_IDENT) {
				sub = node_new(N_PROPERTY, t->col);
				sub->name = xstrndup(p->src + t->off, t->len);
			} else if (t->type == T_STAR)
				sub = node_new(N_STAR, t->col);
			else {
				unexpected(p);
				node_free(n);
				return NULL;
			}
			p->i++;
		} else if (t->type == T_LBRACKET) {
			p->i++;
			if (cur(p)->type == T_STAR &&
			    p->t[p->i + 1].type == T_RBRACKET) {
				sub = node_new(N_STAR, cur(p)->col);
				p->i += 2;
			} else {
				if (enter(p) == -1 || (idx = parse_or(p)) == NULL) {
					node_free(n);
					return NULL;
				}
				p->nest--;
				if (cur(p)->type != T_RBRACKET) {
					unexpected(p);
					node_free(idx);
					node_free(n);
					return NULL;
				}
				p->i++;
				sub = node_new(N_INDEX, t->col);
				node_add(sub, n);
				node_add(sub, idx);
				if ((n = checked(p, sub)) == NULL)
					return NULL;
				continue;
			}
		} else
			return n;
		node_add(sub, n);
		if ((n = checked(p, sub)) == NULL)
			return NULL;
	}
}

static struct node *
parse_unary(struct parser *p)
{
	struct node	*n, *k;
	size_t		 col;

	if (cur(p)->type != T_BANG)
		return parse_postfix(p);
	col = cur(p)->col;
	p->i++;
	if (enter(p) == -1 || (k = parse_unary(p)) == NULL)
		return NULL;
	p->nest--;
	n = node_new(N_NOT, col);
	node_add(n, k);
	return checked(p, n);
}

/* Left-associative binary levels: comparison and equality. */
static struct node *
parse_binary(struct parser *p, int eq)
{
	struct node	*l, *r, *n;
	enum tok	 op;
	size_t		 col;

	l = eq ? parse_binary(p, 0) : parse_unary(p);
	if (l == NULL)
		return NULL;
	for (;;) {
		op = cur(p)->type;
		if (eq ? (op != T_EQ && op != T_NE) :
		    (op != T_LT && op != T_LE && op != T_GT && op != T_GE))
			return l;
		col = cur(p)->col;
		p->i++;
		r = eq ? parse_binary(p, 0) : parse_unary(p);
		if (r == NULL) {
			node_free(l);
			return NULL;
		}
		n = node_new(N_BINARY, col);
		n->op = op;
		node_add(n, l);
		node_add(n, r);
		if ((l = checked(p, n)) == NULL)
			return NULL;
	}
}

/* && and || chains become one n-ary node, as in GitHub's engines. */
static struct node *
parse_logical(struct parser *p, int is_or)
{
	struct node	*first, *k, *n;
	enum tok	 op = is_or ? T_OR : T_AND;

	first = is_or ? parse_logical(p, 0) : parse_binary(p, 1);
	if (first == NULL || cur(p)->type != op)
		return first;
	n = node_new(is_or ? N_OR : N_AND, cur(p)->col);
	node_add(n, first);
	while (cur(p)->type == op) {
		p->i++;
		k = is_or ? parse_logical(p, 0) : parse_binary(p, 1);
		if (k == NULL) {
			node_free(n);
			return NULL;
		}
		node_add(n, k);
	}
	return checked(p, n);
}

static struct node *
parse_or(struct parser *p)
{
	return parse_logical(p, 1);
}

size_t
expr_length(const char *src, size_t len)
{
	return utf8_utf16_len(src, len);
}

/* Parse src[0..len) (NUL-terminated at len); errcol gets the column. */
static struct expr *
parse(const char *src, size_t len, const struct expr_scope *scope,
    char *err, size_t errsz, size_t *errcol)
{
	struct lexer	 lx;
	struct parser	 p;
	struct expr	*e;
	struct node	*root;
	size_t		 units;

	*errcol = 1;
	if ((units = expr_length(src, len)) > EXPR_MAX_LENGTH) {
		snprintf(err, errsz, "Exceeded max expression length %d: "
		    "the expression has %zu characters", EXPR_MAX_LENGTH,
		    units);
		return NULL;
	}
	memset(&lx, 0, sizeof lx);
	lx.s = src;
	lx.len = len;
	lx.col = 1;
	if (lex(&lx, err, errsz, errcol) == -1) {
		free(lx.t);
		return NULL;
	}
	memset(&p, 0, sizeof p);
	p.src = src;
	p.t = lx.t;
	p.scope = scope;
	p.err = err;
	p.errsz = errsz;
	if (lx.t[0].type == T_EOF)
		root = node_new(N_LITERAL, 1);	/* empty: null */
	else if ((root = parse_or(&p)) != NULL && cur(&p)->type != T_EOF) {
		unexpected(&p);
		node_free(root);
		root = NULL;
	}
	free(lx.t);
	if (root == NULL) {
		*errcol = p.errcol;
		return NULL;
	}
	e = xcalloc(1, sizeof *e);
	e->src = xstrndup(src, len);
	e->root = root;
	e->uses_status = p.uses_status;
	return e;
}

struct expr *
expr_parse(const char *src, const struct expr_scope *scope, char *err,
    size_t errsz)
{
	size_t	col;

	return parse(src, strlen(src), scope, err, errsz, &col);
}

/* ------------------------------------------------------------------ */
/* Evaluator */

struct eval {
	const struct expr	*e;
	const struct expr_ctx	*ctx;
	char			*err;
	size_t			 errsz;
	size_t			 mem, maxmem;
	/*
	 * jansson cannot hold Infinity, which fromJSON() yields for numbers
	 * that overflow a double.  Inside an array or object such a number is
	 * one of these two empty objects, compared by address, made on first
	 * use and turned back into numbers (ev_value) as they are read; when
	 * the evaluation ends they become the strings expr_eval() documents.
	 */
	json_t			*inf[2];	/* +Infinity, -Infinity */
};

/* val_from_json, reading this evaluation's infinity markers as numbers. */
static struct val
ev_value(const struct eval *ev, json_t *j)
{
	if (j != NULL && j == ev->inf[0])
		return val_num(INFINITY);
	if (j != NULL && j == ev->inf[1])
		return val_num(-INFINITY);
	return val_from_json(j);
}

/* The marker of +Infinity (neg 0) or -Infinity (neg 1).  Borrowed. */
static json_t *
ev_inf_marker(struct eval *ev, int neg)
{
	if (ev->inf[neg] == NULL && (ev->inf[neg] = json_object()) == NULL)
		abort();
	return ev->inf[neg];
}

/* A copy of j with the markers as "Infinity"/"-Infinity".  New reference. */
static json_t *
ev_unmark(const struct eval *ev, json_t *j)
{
	const char	*k;
	json_t		*c, *v;
	size_t		 i;

	if (j == ev->inf[0] || j == ev->inf[1])
		return json_string(j == ev->inf[0] ? "Infinity" : "-Infinity");
	if (json_is_array(j)) {
		c = json_array();
		json_array_foreach(j, i, v)
			json_array_append_new(c, ev_unmark(ev, v));
		return c;
	}
	if (json_is_object(j)) {
		c = json_object();
		json_object_foreach(j, k, v)
			json_object_set_new(c, k, ev_unmark(ev, v));
		return c;
	}
	return json_incref(j);
}

static int eval_node(struct eval *, const struct node *, struct val *);

static int KILN_PRINTF(3, 4)
ev_err(struct eval *ev, const struct node *n, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(ev->err, ev->errsz, "%s. Located at position %zu within "
	    "expression: %s", msg, n->pos, ev->e->src);
	return -1;
}

/* Would a string of len bytes fit the memory budget?  Charges it. */
static int
charge(struct eval *ev, const struct node *n, size_t len)
{
	size_t	cost = STR_OVERHEAD + 2 * len;

	if (len > ev->maxmem || ev->mem + cost > ev->maxmem)
		return ev_err(ev, n, "The maximum allowed memory size was "
		    "exceeded (%zu bytes)", ev->maxmem);
	ev->mem += cost;
	return 0;
}

/* Same test without charging, for strings still growing. */
static int
fits(struct eval *ev, const struct node *n, size_t len)
{
	if (len > ev->maxmem || ev->mem + STR_OVERHEAD + 2 * len > ev->maxmem)
		return ev_err(ev, n, "The maximum allowed memory size was "
		    "exceeded (%zu bytes)", ev->maxmem);
	return 0;
}

/* Finish a function's string result from b (freed). */
static int
finish_string(struct eval *ev, const struct node *n, struct buf *b,
    struct val *out)
{
	if (charge(ev, n, b->len) == -1) {
		buf_free(b);
		return -1;
	}
	*out = val_strn(b->data != NULL ? b->data : "", b->len);
	buf_free(b);
	return 0;
}

/* An index or property: string form for objects, integer for arrays. */
struct index {
	int		 star;
	int		 has_str;
	struct buf	 str;
	int		 has_int;
	size_t		 i;
};

static void
index_init(struct index *ix, const struct val *v)
{
	double	d;

	memset(ix, 0, sizeof *ix);
	if (v == NULL) {
		ix->star = 1;
		return;
	}
	if (val_primitive(v)) {
		ix->has_str = 1;
		val_append(&ix->str, v);
	}
	d = val_to_number(v);
	if (!isnan(d) && d >= 0 && d < 9007199254740992.0) {
		ix->has_int = 1;
		ix->i = (size_t)floor(d);
	}
}

/* Element of one container per ix; NULL when missing.  Borrowed. */
static json_t *
index_get(json_t *c, const struct index *ix)
{
	if (json_is_object(c) && ix->has_str)
		return obj_get_ci(c, ix->str.data != NULL ? ix->str.data : "",
		    ix->str.len);
	if (json_is_array(c) && ix->has_int && ix->i < json_array_size(c))
		return json_array_get(c, ix->i);
	return NULL;
}

/* Appends every value of an array or object to arr. */
static void
append_all(json_t *arr, json_t *c)
{
	const char	*k;
	json_t		*v;
	size_t		 i;

	if (json_is_array(c)) {
		json_array_foreach(c, i, v)
			json_array_append(arr, v);
	} else if (json_is_object(c)) {
		json_object_foreach(c, k, v)
			json_array_append(arr, v);
	}
}

/* obj[ix] (ix->star: obj.*), reference 4.6. */
static struct val
val_access(const struct eval *ev, const struct val *obj,
    const struct index *ix)
{
	struct val	 out = VAL_NULL;
	json_t		*arr, *v;
	size_t		 i;

	if (obj->kind == VK_ARRAY && obj->filtered) {
		arr = json_array();
		json_array_foreach(obj->j, i, v) {
			json_t *got;

			if (ix->star)
				append_all(arr, v);
			else if ((got = index_get(v, ix)) != NULL)
				json_array_append(arr, got);
		}
	} else if (ix->star) {
		arr = json_array();
		if (obj->kind == VK_ARRAY || obj->kind == VK_OBJECT)
			append_all(arr, obj->j);
	} else {
		if ((obj->kind == VK_ARRAY || obj->kind == VK_OBJECT) &&
		    (v = index_get(obj->j, ix)) != NULL)
			return ev_value(ev, v);
		return VAL_NULL;
	}
	if (arr == NULL)
		abort();
	out.kind = VK_ARRAY;
	out.filtered = 1;
	out.j = arr;
	return out;
}

static int
eval_context(struct eval *ev, const struct node *n, struct val *out)
{
	json_t	*v = NULL;

	if (ev->ctx->contexts != NULL && json_is_object(ev->ctx->contexts))
		v = obj_get_ci(ev->ctx->contexts, n->name, strlen(n->name));
	if (v == NULL)
		return ev_err(ev, n, "Unrecognized named-value: '%s'",
		    n->name);
	*out = val_from_json(v);
	return 0;
}

static int
eval_access(struct eval *ev, const struct node *n, struct val *out)
{
	struct val	obj, idx = VAL_NULL;
	struct index	ix;

	if (eval_node(ev, n->kid[0], &obj) == -1)
		return -1;
	if (n->type == N_INDEX && eval_node(ev, n->kid[1], &idx) == -1) {
		val_clear(&obj);
		return -1;
	}
	if (n->type == N_STAR)
		index_init(&ix, NULL);
	else if (n->type == N_PROPERTY) {
		memset(&ix, 0, sizeof ix);
		ix.has_str = 1;
		buf_add_str(&ix.str, n->name);
	} else
		index_init(&ix, &idx);
	*out = val_access(ev, &obj, &ix);
	buf_free(&ix.str);
	val_clear(&idx);
	val_clear(&obj);
	return 0;
}

static int
eval_node(struct eval *ev, const struct node *n, struct val *out)
{
	struct val	 a, b, args[MAX_ARGS];
	size_t		 i;
	int		 rc;

	*out = VAL_NULL;
	switch (n->type) {
	case N_LITERAL:
		*out = n->lit;
		if (out->j != NULL)
			json_incref(out->j);
		return 0;
	case N_CONTEXT:
		return eval_context(ev, n, out);
	case N_PROPERTY:
	case N_INDEX:
	case N_STAR:
		return eval_access(ev, n, out);
	case N_NOT:
		if (eval_node(ev, n->kid[0], &a) == -1)
			return -1;
		*out = val_bool(!val_truthy(&a));
		val_clear(&a);
		return 0;
	case N_BINARY:
		if (eval_node(ev, n->kid[0], &a) == -1)
			return -1;
		if (eval_node(ev, n->kid[1], &b) == -1) {
			val_clear(&a);
			return -1;
		}
		switch (n->op) {
		case T_EQ:
			rc = val_equals(&a, &b);
			break;
		case T_NE:
			rc = !val_equals(&a, &b);
			break;
		case T_GT:
			rc = val_order(&a, &b, 1);
			break;
		case T_GE:
			rc = val_equals(&a, &b) || val_order(&a, &b, 1);
			break;
		case T_LT:
			rc = val_order(&a, &b, -1);
			break;
		default:
			rc = val_equals(&a, &b) || val_order(&a, &b, -1);
			break;
		}
		val_clear(&a);
		val_clear(&b);
		*out = val_bool(rc);
		return 0;
	case N_AND:
	case N_OR:
		/* JavaScript style: the operand that decided. */
		for (i = 0; i < n->nkid; i++) {
			val_clear(out);
			if (eval_node(ev, n->kid[i], out) == -1)
				return -1;
			if (val_truthy(out) == (n->type == N_OR))
				break;
		}
		return 0;
	case N_CALL:
		if (n->fn->lazy)
			return n->fn->fn(ev, n, NULL, 0, out);
		for (i = 0; i < n->nkid; i++) {
			if (eval_node(ev, n->kid[i], &args[i]) == -1) {
				while (i > 0)
					val_clear(&args[--i]);
				return -1;
			}
		}
		rc = n->fn->fn(ev, n, args, n->nkid, out);
		for (i = 0; i < n->nkid; i++)
			val_clear(&args[i]);
		return rc;
	}
	return ev_err(ev, n, "internal error: unknown node");
}

static int
eval_root(const struct expr *e, const struct expr_ctx *ctx, struct val *out,
    char *err, size_t errsz)
{
	struct eval	 ev;
	json_t		*j;
	int		 rc;

	memset(&ev, 0, sizeof ev);
	ev.e = e;
	ev.ctx = ctx;
	ev.err = err;
	ev.errsz = errsz;
	ev.maxmem = ctx->max_memory != 0 ? ctx->max_memory : EXPR_MAX_MEMORY;
	rc = eval_node(&ev, e->root, out);
	if (rc == 0 && (ev.inf[0] != NULL || ev.inf[1] != NULL) &&
	    !val_primitive(out)) {
		j = ev_unmark(&ev, out->j);
		json_decref(out->j);
		out->j = j;
	}
	json_decref(ev.inf[0]);
	json_decref(ev.inf[1]);
	return rc;
}

json_t *
expr_eval(const struct expr *e, const struct expr_ctx *ctx, char *err,
    size_t errsz)
{
	struct val	 v;
	json_t		*j;

	if (eval_root(e, ctx, &v, err, errsz) == -1)
		return NULL;
	j = val_to_json(&v);
	val_clear(&v);
	return j;
}

int
expr_truthy(const json_t *j)
{
	struct val	v = val_from_json((json_t *)j);
	int		t = val_truthy(&v);

	val_clear(&v);
	return t;
}

char *
expr_to_string(const json_t *j)
{
	struct val	v = val_from_json((json_t *)j);
	struct buf	b = { 0 };

	val_append(&b, &v);
	val_clear(&v);
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b);
}

/* ------------------------------------------------------------------ */
/* Functions (reference 4.7) */

static int
fn_contains(struct eval *ev, const struct node *n, struct val *a, size_t na,
    struct val *out)
{
	struct buf	 hs = { 0 }, ns = { 0 };
	struct val	 el;
	json_t		*v;
	size_t		 i;
	int		 found = 0;

	if (a[0].kind == VK_ARRAY) {
		json_array_foreach(a[0].j, i, v) {
			el = ev_value(ev, v);
			found = val_equals(&el, &a[1]);
			val_clear(&el);
			if (found)
				break;
		}
	} else if (val_primitive(&a[0]) && val_primitive(&a[1])) {
		val_append(&hs, &a[0]);
		val_append(&ns, &a[1]);
		found = str_find_ci(hs.data != NULL ? hs.data : "", hs.len,
		    ns.data != NULL ? ns.data : "", ns.len, FIND_ANY);
		buf_free(&hs);
		buf_free(&ns);
	}
	*out = val_bool(found);
	return 0;
}

static int
affix(struct val *a, struct val *out, enum find_mode mode)
{
	struct buf	hs = { 0 }, ns = { 0 };
	int		found = 0;

	if (val_primitive(&a[0]) && val_primitive(&a[1])) {
		val_append(&hs, &a[0]);
		val_append(&ns, &a[1]);
		found = str_find_ci(hs.data != NULL ? hs.data : "", hs.len,
		    ns.data != NULL ? ns.data : "", ns.len, mode);
		buf_free(&hs);
		buf_free(&ns);
	}
	*out = val_bool(found);
	return 0;
}

static int
fn_startswith(struct eval *ev, const struct node *n, struct val *a,
    size_t na, struct val *out)
{
	return affix(a, out, FIND_PREFIX);
}

static int
fn_endswith(struct eval *ev, const struct node *n, struct val *a, size_t na,
    struct val *out)
{
	return affix(a, out, FIND_SUFFIX);
}

static int
fn_format(struct eval *ev, const struct node *n, struct val *a, size_t na,
    struct val *out)
{
	struct buf	 fmt = { 0 }, b = { 0 };
	const char	*f;
	size_t		 i, k, idx;
	const char	*why = "invalid";

	val_append(&fmt, &a[0]);
	f = fmt.data != NULL ? fmt.data : "";
	for (i = 0; i < fmt.len; i++) {
		if (f[i] == '{' && f[i + 1] == '{') {
			buf_add_char(&b, '{');
			i++;
		} else if (f[i] == '}' && f[i + 1] == '}') {
			buf_add_char(&b, '}');
			i++;
		} else if (f[i] == '{') {
			idx = 0;
			for (k = i + 1; isdigit((unsigned char)f[k]) &&
			    k - i <= 6; k++)
				idx = idx * 10 + (size_t)(f[k] - '0');
			if (k == i + 1 || f[k] != '}')
				goto bad;
			if (idx + 1 >= na) {
				why = "args";
				goto bad;
			}
			val_append(&b, &a[idx + 1]);
			if (fits(ev, n, b.len) == -1)
				goto fail;
			i = k;
		} else if (f[i] == '}')
			goto bad;
		else
			buf_add_char(&b, f[i]);
	}
	buf_free(&fmt);
	return finish_string(ev, n, &b, out);
bad:
	if (strcmp(why, "args") == 0)
		ev_err(ev, n, "The following format string references more "
		    "arguments than were supplied: %s", f);
	else
		ev_err(ev, n, "The following format string is invalid: %s", f);
fail:
	buf_free(&fmt);
	buf_free(&b);
	return -1;
}

static int
fn_join(struct eval *ev, const struct node *n, struct val *a, size_t na,
    struct val *out)
{
	struct buf	 sep = { 0 }, b = { 0 };
	struct val	 el;
	json_t		*v;
	size_t		 i;

	if (na < 2 || !val_primitive(&a[1]))
		buf_add_char(&sep, ',');
	else
		val_append(&sep, &a[1]);
	if (a[0].kind == VK_ARRAY) {
		json_array_foreach(a[0].j, i, v) {
			if (i > 0)
				buf_add(&b, sep.data, sep.len);
			el = ev_value(ev, v);
			val_append(&b, &el);
			val_clear(&el);
			if (fits(ev, n, b.len) == -1) {
				buf_free(&sep);
				buf_free(&b);
				return -1;
			}
		}
	} else if (a[0].kind != VK_OBJECT)
		val_append(&b, &a[0]);
	buf_free(&sep);
	return finish_string(ev, n, &b, out);
}

static void
json_escape(struct buf *b, const char *s, size_t len)
{
	size_t	i;

	buf_add_char(b, '"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"': buf_add_str(b, "\\\""); break;
		case '\\': buf_add_str(b, "\\\\"); break;
		case '\b': buf_add_str(b, "\\b"); break;
		case '\f': buf_add_str(b, "\\f"); break;
		case '\n': buf_add_str(b, "\\n"); break;
		case '\r': buf_add_str(b, "\\r"); break;
		case '\t': buf_add_str(b, "\\t"); break;
		default:
			if (c < 0x20)
				buf_printf(b, "\\u%04x", c);
			else
				buf_add_char(b, (char)c);
		}
	}
	buf_add_char(b, '"');
}

static void
json_number(struct buf *b, double d)
{
	char	nb[32];

	/* Integral values print as integers, as GitHub's toJSON does. */
	if (isfinite(d) && d == floor(d) && fabs(d) < 1e15)
		buf_printf(b, "%.0f", d == 0 ? 0.0 : d);
	else
		buf_add_str(b, expr_format_number(d, nb, sizeof nb));
}

static void
indent(struct buf *b, int n)
{
	while (n-- > 0)
		buf_add_char(b, ' ');
}

/* Pretty JSON, two spaces a level; -1 when over budget. */
static int
json_pretty(struct eval *ev, const struct node *n, struct buf *b, json_t *j,
    int ind)
{
	const char	*k;
	json_t		*v;
	size_t		 i, size;

	if (j == ev->inf[0] || j == ev->inf[1]) {
		json_number(b, j == ev->inf[0] ? INFINITY : -INFINITY);
		return fits(ev, n, b->len);
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		if ((size = json_object_size(j)) == 0) {
			buf_add_str(b, "{}");
			break;
		}
		buf_add_str(b, "{\n");
		i = 0;
		json_object_foreach(j, k, v) {
			indent(b, ind + 2);
			json_escape(b, k, strlen(k));
			buf_add_str(b, ": ");
			if (json_pretty(ev, n, b, v, ind + 2) == -1)
				return -1;
			buf_add_str(b, ++i < size ? ",\n" : "\n");
		}
		indent(b, ind);
		buf_add_char(b, '}');
		break;
	case JSON_ARRAY:
		if ((size = json_array_size(j)) == 0) {
			buf_add_str(b, "[]");
			break;
		}
		buf_add_str(b, "[\n");
		json_array_foreach(j, i, v) {
			indent(b, ind + 2);
			if (json_pretty(ev, n, b, v, ind + 2) == -1)
				return -1;
			buf_add_str(b, i + 1 < size ? ",\n" : "\n");
		}
		indent(b, ind);
		buf_add_char(b, ']');
		break;
	case JSON_STRING:
		json_escape(b, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		json_number(b, json_number_value(j));
		break;
	case JSON_TRUE:
		buf_add_str(b, "true");
		break;
	case JSON_FALSE:
		buf_add_str(b, "false");
		break;
	default:
		buf_add_str(b, "null");
		break;
	}
	return fits(ev, n, b->len);
}

static int
fn_tojson(struct eval *ev, const struct node *n, struct val *a, size_t na,
    struct val *out)
{
	struct buf	 b = { 0 };
	const char	*s;
	size_t		 len;

	switch (a[0].kind) {
	case VK_NULL:
		buf_add_str(&b, "null");
		break;
	case VK_BOOL:
		buf_add_str(&b, a[0].b ? "true" : "false");
		break;
	case VK_NUMBER:
		json_number(&b, a[0].n);
		break;
	case VK_STRING:
		s = vstr(&a[0], &len);
		json_escape(&b, s, len);
		break;
	default:
		if (json_pretty(ev, n, &b, a[0].j, 0) == -1) {
			buf_free(&b);
			return -1;
		}
		break;
	}
	return finish_string(ev, n, &b, out);
}

/*
 * Numbers are parsed as doubles (GitHub's are), but whole ones inside
 * arrays and objects must print as integers again ([1], not [1.0]).
 */
static json_t *
json_whole_reals_to_ints(json_t *j)
{
	const char *key;
	json_t *v, *r;
	size_t i;
	double d;

	if (json_is_real(j)) {
		d = json_real_value(j);
		/* Range first: casting an out-of-range double is undefined. */
		if (d > -9007199254740992.0 && d < 9007199254740992.0 &&
		    d == (double)(json_int_t)d) {
			r = json_integer((json_int_t)d);
			json_decref(j);
			return r;
		}
		return j;
	}
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			json_array_set_new(j, i,
			    json_whole_reals_to_ints(json_incref(v)));
	} else if (json_is_object(j)) {
		json_object_foreach(j, key, v)
			json_object_set_new(j, key,
			    json_whole_reals_to_ints(json_incref(v)));
	}
	return j;
}

/*
 * Where the JSON text of fromJSON() has numbers that overflow a double
 * (GitHub reads them as +-Infinity, jansson refuses them), a copy of the
 * text with each such number replaced by a sentinel string no string of
 * the text can equal: as many \u0000 as the longest run of them in the
 * text plus one, then the sign.  Returns the run length used (0: nothing
 * to replace, out untouched).
 */
static size_t
fromjson_sentinels(const char *s, size_t len, struct buf *out)
{
	size_t	i = 0, start, run = 0, longest = 0, last = 0, k, nover = 0;
	size_t	*over = NULL;
	char	small[64], *copy;
	double	d;

	while (i < len) {
		if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] != '\\') {
					run = 0;
					continue;
				}
				if (len - i >= 6 && memcmp(s + i, "\\u0000", 6) == 0) {
					if (++run > longest)
						longest = run;
					i += 5;
				} else {
					run = 0;
					i++;
				}
			}
			i++;
			continue;
		}
		if (s[i] != '-' && !isdigit((unsigned char)s[i])) {
			i++;
			continue;
		}
		start = i;
		while (i < len && (isdigit((unsigned char)s[i]) ||
		    strchr("+-.eE", s[i]) != NULL))
			i++;
		copy = i - start < sizeof small ? small : xmalloc(i - start + 1);
		memcpy(copy, s + start, i - start);
		copy[i - start] = '\0';
		d = strtod(copy, NULL);
		if (copy != small)
			free(copy);
		if (isinf(d)) {
			over = xreallocarray(over, nover + 1, 2 * sizeof *over);
			over[2 * nover] = start;
			over[2 * nover + 1] = i;
			nover++;
		}
	}
	if (nover == 0)
		return 0;
	for (k = 0; k < nover; k++) {
		buf_add(out, s + last, over[2 * k] - last);
		buf_add_char(out, '"');
		for (i = 0; i <= longest; i++)
			buf_add_str(out, "\\u0000");
		buf_add_char(out, s[over[2 * k]] == '-' ? '-' : '+');
		buf_add_char(out, '"');
		last = over[2 * k + 1];
	}
	buf_add(out, s + last, len - last);
	free(over);
	return longest + 1;
}

/* Sentinel strings of nul NULs and a sign -> infinity markers. */
static json_t *
fromjson_restore(struct eval *ev, json_t *j, size_t nul)
{
	const char	*k, *sv;
	json_t		*v;
	size_t		 i;

	if (json_is_string(j) && json_string_length(j) == nul + 1) {
		sv = json_string_value(j);
		for (i = 0; i < nul && sv[i] == '\0'; i++)
			;
		if (i == nul && (sv[nul] == '+' || sv[nul] == '-')) {
			v = json_incref(ev_inf_marker(ev, sv[nul] == '-'));
			json_decref(j);
			return v;
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			json_array_set_new(j, i,
			    fromjson_restore(ev, json_incref(v), nul));
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			json_object_set_new(j, k,
			    fromjson_restore(ev, json_incref(v), nul));
	}
	return j;
}

static int
fn_fromjson(struct eval *ev, const struct node *n, struct val *a, size_t na,
    struct val *out)
{
	struct buf	 b = { 0 }, alt = { 0 };
	json_error_t	 jerr;
	json_t		*j;
	size_t		 nul;

	val_append(&b, &a[0]);
	if (charge(ev, n, b.len) == -1) {
		buf_free(&b);
		return -1;
	}
	nul = fromjson_sentinels(b.data != NULL ? b.data : "", b.len, &alt);
	/* GitHub's reader takes \u0000 in strings; JSON_ALLOW_NUL does too. */
	j = nul > 0 ? json_loadb(alt.data, alt.len, JSON_DECODE_ANY |
	    JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr) :
	    json_loadb(b.data != NULL ? b.data : "", b.len, JSON_DECODE_ANY |
	    JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
	buf_free(&alt);
	buf_free(&b);
	if (j == NULL)
		return ev_err(ev, n, "Error parsing fromJson: %s (line %d, "
		    "column %d)", jerr.text, jerr.line, jerr.column);
	j = json_whole_reals_to_ints(expr_json_fold_keys(j));
	if (nul > 0)
		j = fromjson_restore(ev, j, nul);
	*out = ev_value(ev, j);
	json_decref(j);
	return 0;
}

static int
fn_case(struct eval *ev, const struct node *n, struct val *a, size_t na,
    struct val *out)
{
	struct val	pred;
	size_t		i;
	int		yes;

	for (i = 0; i + 1 < n->nkid; i += 2) {
		if (eval_node(ev, n->kid[i], &pred) == -1)
			return -1;
		if (pred.kind != VK_BOOL) {
			val_clear(&pred);
			return ev_err(ev, n->kid[i], "case predicate must "
			    "evaluate to a boolean value");
		}
		yes = pred.b;
		val_clear(&pred);
		if (yes)
			return eval_node(ev, n->kid[i + 1], out);
	}
	return eval_node(ev, n->kid[n->nkid - 1], out);
}

static int
fn_status(struct eval *ev, const struct node *n, struct val *a, size_t na,
    struct val *out)
{
	unsigned int	st = ev->ctx->status;

	switch (n->fn->name[0]) {
	case 's':
		*out = val_bool(st & EXPR_ST_SUCCESS);
		break;
	case 'f':
		*out = val_bool(st & EXPR_ST_FAILURE);
		break;
	case 'c':
		*out = val_bool(st & EXPR_ST_CANCELLED);
		break;
	default:
		*out = val_bool(1);
		break;
	}
	return 0;
}

/* ---- hashFiles (the walk and digest are hashfiles.c's) ---- */

static int
fn_hashfiles(struct eval *ev, const struct node *n, struct val *a,
    size_t na, struct val *out)
{
	struct buf	 arg = { 0 }, b = { 0 };
	char		 hex[HASHFILES_HEX_LEN + 1], why[1024];
	char		**patterns;
	size_t		 i, start = 0, np = 0;
	int		 follow = 0, rc;

	if (ev->ctx->workspace == NULL || ev->ctx->workspace[0] != '/')
		return ev_err(ev, n, "hashFiles() is not available here: no "
		    "workspace");
	val_append(&arg, &a[0]);
	if (arg.data != NULL && str_has_prefix(arg.data, "--")) {
		if (strcmp(arg.data, "--follow-symbolic-links") != 0) {
			ev_err(ev, n, "hashFiles: invalid option '%s'",
			    arg.data);
			buf_free(&arg);
			return -1;
		}
		follow = 1;
		start = 1;
	}
	buf_free(&arg);
	patterns = xreallocarray(NULL, na, sizeof *patterns);
	for (i = start; i < na; i++) {
		val_append(&arg, &a[i]);
		patterns[np++] = buf_steal(&arg);
	}
	rc = hashfiles_digest(ev->ctx->workspace, (const char *const *)patterns,
	    np, follow, hex, why, sizeof why);
	for (i = 0; i < np; i++)
		free(patterns[i]);
	free(patterns);
	if (rc == -1)
		return ev_err(ev, n, "hashFiles: %s", why);
	buf_add_str(&b, hex);
	return finish_string(ev, n, &b, out);
}

static const struct func funcs[] = {
	{ "always", 0, 0, EXPR_FN_STATUS, 0, fn_status },
	{ "cancelled", 0, 0, EXPR_FN_STATUS, 0, fn_status },
	{ "case", 3, MAX_ARGS, 0, 1, fn_case },
	{ "contains", 2, 2, 0, 0, fn_contains },
	{ "endsWith", 2, 2, 0, 0, fn_endswith },
	{ "failure", 0, 0, EXPR_FN_STATUS, 0, fn_status },
	{ "format", 1, MAX_ARGS, 0, 0, fn_format },
	{ "fromJSON", 1, 1, 0, 0, fn_fromjson },
	{ "hashFiles", 1, MAX_ARGS, EXPR_FN_HASHFILES, 0, fn_hashfiles },
	{ "join", 1, 2, 0, 0, fn_join },
	{ "startsWith", 2, 2, 0, 0, fn_startswith },
	{ "success", 0, 0, EXPR_FN_STATUS, 0, fn_status },
	{ "toJSON", 1, 1, 0, 0, fn_tojson },
};

static const struct func *
func_lookup(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < nitems(funcs); i++)
		if (strlen(funcs[i].name) == len &&
		    strncasecmp(funcs[i].name, name, len) == 0)
			return &funcs[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Templates and conditions */

struct segment {
	int	 is_expr;
	size_t	 off, len;	/* bytes of text, or of the expression */
};

static size_t
char_col(const char *s, size_t off)
{
	size_t	i, col = 1;

	for (i = 0; i < off; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			col++;
	return col;
}

/* Split text into literal and ${{ }} parts; caller frees *segp. */
static int
template_split(const char *text, struct segment **segp, size_t *np,
    char *err, size_t errsz, size_t *column)
{
	struct segment	*seg = NULL;
	const char	*open;
	size_t		 n = 0, i = 0, j, len = strlen(text);
	int		 quoted;

	*segp = NULL;
	*np = 0;
	if (len > EXPR_MAX_TEMPLATE) {
		snprintf(err, errsz, "value too long: %zu bytes, at most %d",
		    len, EXPR_MAX_TEMPLATE);
		if (column != NULL)
			*column = 1;
		return -1;
	}
	while (i < len) {
		if ((open = strstr(text + i, "${{")) == NULL) {
			seg = xreallocarray(seg, n + 1, sizeof *seg);
			seg[n++] = (struct segment){ 0, i, len - i };
			break;
		}
		if (open > text + i) {
			seg = xreallocarray(seg, n + 1, sizeof *seg);
			seg[n++] = (struct segment){ 0, i,
			    (size_t)(open - text) - i };
		}
		/* Find }} outside single-quoted strings. */
		quoted = 0;
		for (j = (size_t)(open - text) + 3; j < len; j++) {
			if (text[j] == '\'')
				quoted = !quoted;
			else if (!quoted && text[j] == '}' &&
			    text[j + 1] == '}')
				break;
		}
		if (j >= len) {
			snprintf(err, errsz, "The expression is not closed. "
			    "An unescaped ${{ sequence was found at position "
			    "%zu, but the closing }} sequence was not found",
			    char_col(text, (size_t)(open - text)));
			if (column != NULL)
				*column = char_col(text, (size_t)(open - text));
			free(seg);
			return -1;
		}
		seg = xreallocarray(seg, n + 1, sizeof *seg);
		seg[n++] = (struct segment){ 1, (size_t)(open - text) + 3,
		    j - ((size_t)(open - text) + 3) };
		i = j + 2;
	}
	*segp = seg;
	*np = n;
	return 0;
}

/* Parse the expression of segment sg of text, errors placed in text. */
static struct expr *
segment_parse(const char *text, const struct segment *sg,
    const struct expr_scope *scope, char *err, size_t errsz, size_t *column)
{
	struct expr	*e;
	char		*src, *msg;
	size_t		 col;

	src = xstrndup(text + sg->off, sg->len);
	msg = xmalloc(errsz > 0 ? errsz : 1);
	msg[0] = '\0';
	e = parse(src, sg->len, scope, msg, errsz > 0 ? errsz : 1, &col);
	if (e == NULL) {
		col = char_col(text, sg->off) + col - 1;
		if (column != NULL)
			*column = col;
		snprintf(err, errsz, "%s (at position %zu of the value)", msg,
		    col);
	}
	free(msg);
	free(src);
	return e;
}

int
expr_check_template(const char *text, const struct expr_scope *scope,
    char *err, size_t errsz, size_t *column)
{
	struct segment	*seg;
	struct expr	*e;
	size_t		 n, i;

	if (template_split(text, &seg, &n, err, errsz, column) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (!seg[i].is_expr)
			continue;
		if ((e = segment_parse(text, &seg[i], scope, err, errsz,
		    column)) == NULL) {
			free(seg);
			return -1;
		}
		expr_free(e);
	}
	free(seg);
	return 0;
}

/*
 * Evaluate a split template into *out.  *status_used reports whether a
 * part calls a status function.  Returns 0 or -1.
 */
static int
template_eval(const char *text, struct segment *seg, size_t n,
    const struct expr_scope *scope, const struct expr_ctx *ctx,
    struct val *out, int *status_used, char *err, size_t errsz)
{
	struct buf	 b = { 0 };
	struct expr	*e;
	struct val	 v;
	size_t		 i, max;

	max = ctx->max_memory != 0 ? ctx->max_memory : EXPR_MAX_MEMORY;
	*status_used = 0;
	for (i = 0; i < n; i++) {
		if (!seg[i].is_expr) {
			buf_add(&b, text + seg[i].off, seg[i].len);
			continue;
		}
		if ((e = segment_parse(text, &seg[i], scope, err, errsz,
		    NULL)) == NULL)
			goto fail;
		*status_used |= e->uses_status;
		if (eval_root(e, ctx, &v, err, errsz) == -1) {
			expr_free(e);
			goto fail;
		}
		expr_free(e);
		if (n == 1) {
			*out = v;	/* exactly one ${{ }}: keep the type */
			return 0;
		}
		val_append(&b, &v);
		val_clear(&v);
		if (b.len > max) {
			snprintf(err, errsz, "The maximum allowed memory size "
			    "was exceeded: the value grows past %zu bytes",
			    max);
			goto fail;
		}
	}
	*out = val_strn(b.data != NULL ? b.data : "", b.len);
	buf_free(&b);
	return 0;
fail:
	buf_free(&b);
	return -1;
}

json_t *
expr_eval_template(const char *text, const struct expr_scope *scope,
    const struct expr_ctx *ctx, char *err, size_t errsz)
{
	struct segment	*seg;
	struct val	 v;
	json_t		*j;
	size_t		 n;
	int		 st;

	if (template_split(text, &seg, &n, err, errsz, NULL) == -1)
		return NULL;
	if (template_eval(text, seg, n, scope, ctx, &v, &st, err,
	    errsz) == -1) {
		free(seg);
		return NULL;
	}
	free(seg);
	j = val_to_json(&v);
	val_clear(&v);
	return j;
}

/*
 * An if: value, trimmed: "" (means success()), one ${{ }} around the whole
 * (its inside is the expression), a bare expression, or text mixed with
 * ${{ }} (a string).  Sets the expression span or *mixed.
 */
static int
condition_split(const char *text, size_t *off, size_t *len, int *mixed,
    struct segment **segp, size_t *np, char *err, size_t errsz,
    size_t *column)
{
	size_t	s = 0, e = strlen(text);

	while (s < e && is_space((unsigned char)text[s]))
		s++;
	while (e > s && is_space((unsigned char)text[e - 1]))
		e--;
	*mixed = 0;
	*segp = NULL;
	*np = 0;
	*off = s;
	*len = e - s;
	if (strstr(text, "${{") == NULL)
		return 0;
	if (template_split(text, segp, np, err, errsz, column) == -1)
		return -1;
	/* Whitespace-only literal parts around a lone ${{ }} do not count. */
	{
		size_t	i, nexpr = 0, which = 0;
		int	text_other = 0;

		for (i = 0; i < *np; i++) {
			if ((*segp)[i].is_expr) {
				nexpr++;
				which = i;
			} else {
				size_t k;

				for (k = 0; k < (*segp)[i].len; k++)
					if (!is_space((unsigned char)
					    text[(*segp)[i].off + k]))
						text_other = 1;
			}
		}
		if (nexpr == 1 && !text_other) {
			*off = (*segp)[which].off;
			*len = (*segp)[which].len;
			free(*segp);
			*segp = NULL;
			*np = 0;
		} else
			*mixed = 1;
	}
	return 0;
}

int
expr_check_condition(const char *text, const struct expr_scope *scope,
    char *err, size_t errsz, size_t *column)
{
	struct segment	*seg;
	struct segment	 one;
	struct expr	*e;
	size_t		 off, len, n;
	int		 mixed;

	if (condition_split(text, &off, &len, &mixed, &seg, &n, err, errsz,
	    column) == -1)
		return -1;
	free(seg);
	if (mixed)
		return expr_check_template(text, scope, err, errsz, column);
	one = (struct segment){ 1, off, len };
	if ((e = segment_parse(text, &one, scope, err, errsz, column)) == NULL)
		return -1;
	expr_free(e);
	return 0;
}

int
expr_eval_condition(const char *text, const struct expr_scope *scope,
    const struct expr_ctx *ctx, int *result, char *err, size_t errsz)
{
	struct segment	*seg;
	struct segment	 one;
	struct expr	*e;
	struct val	 v;
	size_t		 off, len, n;
	int		 mixed, st, rc;

	*result = 0;
	if (text == NULL)
		text = "";	/* no if: at all is success() */
	if (condition_split(text, &off, &len, &mixed, &seg, &n, err, errsz,
	    NULL) == -1)
		return -1;
	if (mixed) {
		rc = template_eval(text, seg, n, scope, ctx, &v, &st, err,
		    errsz);
		free(seg);
		if (rc == -1)
			return -1;
	} else {
		one = (struct segment){ 1, off, len };
		if (len == 0) {
			*result = (ctx->status & EXPR_ST_SUCCESS) != 0;
			return 0;
		}
		if ((e = segment_parse(text, &one, scope, err, errsz,
		    NULL)) == NULL)
			return -1;
		st = e->uses_status;
		rc = eval_root(e, ctx, &v, err, errsz);
		expr_free(e);
		if (rc == -1)
			return -1;
	}
	/* No status function anywhere: success() && (condition). */
	*result = val_truthy(&v) && (st || (ctx->status & EXPR_ST_SUCCESS));
	val_clear(&v);
	return 0;
}
