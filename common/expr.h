/*
 * expr: GitHub Actions' ${{ }} expression language.
 *
 * A lexer, a recursive-descent parser that builds an AST, and an evaluator
 * over jansson values, following GitHub's own engines (the runner's C#
 * engine and the TypeScript one in actions/languageservices, whose shared
 * test data the unit test replays).  See github-actions-reference.md,
 * section 4, for the rules this file implements.
 *
 * Three layers for callers:
 *   - expr_parse/expr_eval: one bare expression ("github.ref == 'x'").
 *   - expr_check_template/expr_eval_template: a YAML scalar holding literal
 *     text and ${{ }} parts.
 *   - expr_eval_condition: an if: value (bare or ${{ }}, with the implicit
 *     "success() &&" rule).
 *
 * Which contexts and functions a workflow key may use (reference 4.9) is
 * the caller's decision, given as a struct expr_scope; a name outside it is
 * a parse error naming it.  Nothing here prints, exits or keeps state
 * between calls; errors come back as text naming what and where (1-based
 * character column, "Located at position N within expression: ...", the
 * format GitHub uses).
 */
#ifndef KILN_EXPR_H
#define KILN_EXPR_H

#include <stddef.h>

#include <jansson.h>

#define EXPR_MAX_LENGTH		21000	/* UTF-16 units in one expression */
#define EXPR_MAX_DEPTH		50	/* AST depth, as GitHub */
#define EXPR_MAX_TEMPLATE	(1024 * 1024) /* bytes in a template value */
#define EXPR_MAX_MEMORY		(1024 * 1024) /* default evaluation budget */

/* Functions beyond the core set (contains ... case) that a scope admits. */
#define EXPR_FN_STATUS		0x1	/* success() failure() cancelled() always() */
#define EXPR_FN_HASHFILES	0x2	/* hashFiles() */
#define EXPR_FN_ALL		(EXPR_FN_STATUS | EXPR_FN_HASHFILES)

/* What success()/failure()/cancelled() answer; the caller decides. */
#define EXPR_ST_SUCCESS		0x1
#define EXPR_ST_FAILURE		0x2
#define EXPR_ST_CANCELLED	0x4

/*
 * Names an expression may use.  contexts is a NULL-terminated list of
 * allowed named values, compared case-insensitively; when it is NULL any
 * name parses and a name missing from expr_ctx.contexts is an evaluation
 * error instead.  A NULL scope pointer means "any name, every function".
 */
struct expr_scope {
	const char *const *contexts;
	unsigned int	   funcs;	/* EXPR_FN_* */
};

/* Everything an evaluation reads.  Borrowed; nothing here is modified. */
struct expr_ctx {
	json_t		*contexts;	/* object: context name -> value */
	const char	*workspace;	/* hashFiles() root; NULL: unavailable */
	unsigned int	 status;	/* EXPR_ST_* bits that are true */
	size_t		 max_memory;	/* budget in bytes; 0: EXPR_MAX_MEMORY */
};

struct expr;

/*
 * Parse one bare expression (no ${{ }}).  An empty or blank expression is
 * valid and evaluates to null.  Returns a new tree the caller frees with
 * expr_free(), or NULL with a message in err (lexing and parsing errors,
 * unknown names and functions, wrong argument counts, depth and length).
 */
struct expr	*expr_parse(const char *src, const struct expr_scope *,
		    char *err, size_t errsz);
void		 expr_free(struct expr *);

/* 1 if the tree calls success(), failure(), cancelled() or always(). */
int		 expr_uses_status(const struct expr *);

/*
 * Evaluate.  Returns a new reference the caller json_decref()s, or NULL
 * with a message in err.  The result may share arrays and objects with
 * ctx->contexts: treat it as read-only.  Numbers come back as integers
 * when integral (|x| < 2^53), else reals; Infinity and NaN, which JSON
 * cannot hold, come back as the strings "Infinity", "-Infinity", "NaN".
 */
json_t		*expr_eval(const struct expr *, const struct expr_ctx *,
		    char *err, size_t errsz);

/* GitHub's truthiness: false, 0, -0, NaN, '', null are false. */
int		 expr_truthy(const json_t *);

/*
 * GitHub's conversion to string (reference 4.5): null -> '', numbers in
 * .NET "G15" style, arrays "Array", objects "Object".  Caller frees.
 */
char		*expr_to_string(const json_t *);

/*
 * The language's == (reference 4.4) on two JSON values: strings compare
 * ignoring case (utf8.h), numbers and numeric strings ('0x10' == 16) by
 * value, null and booleans as numbers, arrays and objects by identity.
 * NULL stands for a missing value and is null.  Matrix include/exclude
 * matching uses it, so it is the expression operator exactly.
 */
int		 expr_loose_equal(const json_t *, const json_t *);

/*
 * Property lookup as expressions do it: key compared ignoring case.
 * NULL when obj is not an object or has no such key.  Borrowed.
 */
json_t		*expr_object_get(const json_t *obj, const char *key);

/*
 * Merge the keys of every object in j (recursively) that differ only in
 * case into one, as GitHub's context dictionaries do: the first spelling,
 * at its place, with the last value.  fromJSON() applies it; code that
 * builds contexts from outside JSON (payloads, files) should too.  Takes
 * over the reference to j (which must not be shared) and returns one.
 */
json_t		*expr_json_fold_keys(json_t *j);

/*
 * Length of an expression's text the way GitHub measures it against
 * EXPR_MAX_LENGTH: UTF-16 code units (.NET's String.Length).
 */
size_t		 expr_length(const char *src, size_t len);

/* The G15 form of a number into buf (at least 32 bytes); returns buf. */
char		*expr_format_number(double, char *buf, size_t bufsz);

/*
 * Syntax check of a template value: every ${{ }} is closed and parses in
 * the scope.  Returns 0, or -1 with a message in err and, when column is
 * not NULL, the 1-based character column in text where the problem is.
 */
int		 expr_check_template(const char *text, const struct expr_scope *,
		    char *err, size_t errsz, size_t *column);

/* Like expr_check_template, for an if: value (see expr_eval_condition). */
int		 expr_check_condition(const char *text, const struct expr_scope *,
		    char *err, size_t errsz, size_t *column);

/*
 * Evaluate a template value.  A value that is exactly one ${{ }} keeps the
 * typed result; otherwise the literal text and each result converted to
 * string (objects "Object", arrays "Array") are joined into a string.  Text
 * without ${{ is returned as a string unchanged.  New reference or NULL with
 * err set.
 */
json_t		*expr_eval_template(const char *text, const struct expr_scope *,
		    const struct expr_ctx *, char *err, size_t errsz);

/*
 * Evaluate an if: value (reference 4.1, 4.8): a bare expression or ${{ }};
 * ${{ }} mixed with other text is a string, hence true when non-empty; an
 * empty value means success(); a condition that calls none of the status
 * functions is evaluated as success() && (condition).  Sets *result to 0 or
 * 1 and returns 0, or returns -1 with err set.
 */
int		 expr_eval_condition(const char *text, const struct expr_scope *,
		    const struct expr_ctx *, int *result, char *err,
		    size_t errsz);

#endif
