/*
 * matrix: strategy.matrix expansion (compatibility reference 3.5, vectors
 * M1-M8 of 8.3).  The planner calls matrix_expand() once per job and
 * creates one job row per leg.
 *
 * The order of work mirrors GitHub's parser:
 *
 *   1. read the matrix: every key except include/exclude is a variable
 *      whose value is a non-empty list; names are case-insensitive;
 *   2. walk the cartesian product, first variable outermost (the index of
 *      variable v in combination i is (i / block_v) % n_v);
 *   3. drop a combination when any exclude entry matches it;
 *   4. for each surviving combination, every include entry whose
 *      matrix-variable keys match it contributes its other keys, later
 *      entries overwriting keys added by earlier ones (never a variable:
 *      an include's variable keys are its filter, not values);
 *   5. include entries that matched no combination are appended as new
 *      combinations, their variable keys first, then the others;
 *   6. at most MATRIX_MAX_LEGS legs.
 *
 * "Match" is GitHub's: each scalar leaf of the entry becomes the test
 * matrix[key][...] == literal, evaluated with the expression language's
 * loose equality, expr_loose_equal() itself (strings case-insensitive over
 * all of Unicode, '12' == 12 and '0x10' == 16, null and booleans converted
 * to numbers).  A missing key reads as null, as in an expression.
 *
 * A matrix whose every combination was excluded, with nothing appended,
 * yields one leg without matrix values, as GitHub's
 * WorkflowTemplateEvaluator.EvaluateStrategy does for zero configurations.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "expr.h"
#include "matrix.h"
#include "utf8.h"
#include "util.h"
#include "workflow.h"

/* One include entry, split by GitHub's rule. */
struct matrix_include {
	json_t	*filter;	/* keys naming matrix variables */
	json_t	*extra;		/* the other keys: values to add */
	int	 matched;	/* merged into at least one combination */
};

/* Working state of one expansion. */
struct matrix_ctx {
	const char		 *job_name;
	const char		**vars;		/* variable names, file order */
	const json_t		**vecs;		/* their value lists */
	size_t			  nvars;
	struct matrix_include	 *incs;
	size_t			  nincs;
	const json_t		**excs;		/* exclude entries */
	size_t			  nexcs;
	struct matrix_leg	 *legs;		/* at most MATRIX_MAX_LEGS */
	size_t			  nlegs;
	size_t			  count;	/* legs produced, kept or not */
	char			 *err;
	size_t			  errsz;
};

static void matrix_error(struct matrix_ctx *, const char *, ...)
    KILN_PRINTF(2, 3);

/* A message in the caller's buffer; truncation of a message is harmless. */
static void
matrix_error(struct matrix_ctx *x, const char *fmt, ...)
{
	va_list	ap;

	if (x->err == NULL || x->errsz == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(x->err, x->errsz, fmt, ap);
	va_end(ap);
}

/* Property lookup as the expression language does it: case-insensitive. */
static json_t *
matrix_get(const json_t *obj, const char *key)
{
	return expr_object_get(obj, key);
}

/* Every scalar leaf of want equals the value at the same path in have. */
static int
matrix_leaf_match(const json_t *want, const json_t *have)
{
	const char	*k;
	json_t		*v;
	size_t		 i;

	switch (json_typeof(want)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)want, k, v) {
			if (!matrix_leaf_match(v, matrix_get(have, k)))
				return 0;
		}
		return 1;
	case JSON_ARRAY:
		json_array_foreach(want, i, v) {
			if (!matrix_leaf_match(v, json_is_array(have) ?
			    json_array_get(have, i) : NULL))
				return 0;
		}
		return 1;
	default:
		return expr_loose_equal(have, want);
	}
}

/* Does an include filter or exclude entry match this combination? */
static int
matrix_filter_match(const json_t *filter, const json_t *combo)
{
	const char	*k;
	json_t		*v;

	json_object_foreach((json_t *)filter, k, v) {
		if (!matrix_leaf_match(v, matrix_get(combo, k)))
			return 0;
	}
	return 1;
}

/* One name segment; empty text gives none (GitHub skips it). */
static void
matrix_name_add(struct buf *b, const char *s, size_t len)
{
	if (len == 0)
		return;
	if (b->len > 0)
		buf_add_str(b, ", ");
	buf_add(b, s, len);
}

/* Scalar leaves of v, depth first in key order, as name segments. */
static void
matrix_name_segments(struct buf *b, const json_t *v)
{
	char		 num[32];
	const char	*k;
	json_t		*sub;
	size_t		 i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, k, sub)
			matrix_name_segments(b, sub);
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, sub)
			matrix_name_segments(b, sub);
		break;
	case JSON_STRING:
		matrix_name_add(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		expr_format_number(json_number_value(v), num, sizeof num);
		matrix_name_add(b, num, strlen(num));
		break;
	case JSON_TRUE:
		matrix_name_add(b, "true", 4);
		break;
	case JSON_FALSE:
		matrix_name_add(b, "false", 5);
		break;
	case JSON_NULL:
		break;
	}
}

/*
 * Cut name to MATRIX_NAME_MAX UTF-16 units (GitHub counts .NET chars):
 * keep whole code points up to MATRIX_NAME_MAX - 3 units, then "...".
 */
static void
matrix_name_truncate(char **namep)
{
	const char	*s = *namep;
	size_t		 i = 0, units = 0, cut = 0, len = strlen(s);
	char		*out;

	while (i < len) {
		units += utf8_next(s, len, &i) > 0xffff ? 2 : 1;
		if (units <= MATRIX_NAME_MAX - 3)
			cut = i;
	}
	if (units <= MATRIX_NAME_MAX)
		return;
	out = xmalloc(cut + 4);
	memcpy(out, *namep, cut);
	memcpy(out + cut, "...", 4);
	free(*namep);
	*namep = out;
}

/* "<job> (<v1>, <v2>, ...)", or the job name when there is no value. */
static char *
matrix_leg_name(const char *job_name, const json_t *values)
{
	struct buf	 seg = { 0 };
	char		*name;

	if (values != NULL)
		matrix_name_segments(&seg, values);
	if (seg.len == 0)
		name = xstrdup(job_name);
	else
		name = xasprintf("%s (%s)", job_name, seg.data);
	buf_free(&seg);
	matrix_name_truncate(&name);
	return name;
}

/*
 * Count a leg and keep it while under the limit.  The display name lists
 * values; values then extra (keys merged by include) form its matrix.
 */
static void
matrix_add_leg(struct matrix_ctx *x, const json_t *values, const json_t *extra)
{
	struct matrix_leg	*leg;
	const char		*k;
	json_t			*v;

	if (++x->count > MATRIX_MAX_LEGS)
		return;
	x->legs = xreallocarray(x->legs, x->nlegs + 1, sizeof *x->legs);
	leg = &x->legs[x->nlegs++];
	leg->name = matrix_leg_name(x->job_name, values);
	leg->values = json_deep_copy(values);
	if (leg->values == NULL)
		abort();	/* jansson fails here only without memory */
	if (extra != NULL) {
		json_object_foreach((json_t *)extra, k, v)
			json_object_set_new(leg->values, k, json_deep_copy(v));
	}
}

static int
matrix_var_index(const struct matrix_ctx *x, const char *name)
{
	size_t	i;

	for (i = 0; i < x->nvars; i++) {
		if (strcasecmp(x->vars[i], name) == 0)
			return (int)i;
	}
	return -1;
}

/* Split the include entries into filters and extras. */
static int
matrix_read_includes(struct matrix_ctx *x, const json_t *include)
{
	struct matrix_include	*inc;
	const json_t		*entry;
	const char		*k;
	json_t			*v;
	size_t			 i;

	x->incs = xcalloc(json_array_size(include) + 1, sizeof *x->incs);
	json_array_foreach(include, i, entry) {
		if (!json_is_object(entry)) {
			matrix_error(x, "Matrix include entry %zu must be a "
			    "mapping", i + 1);
			return -1;
		}
		if (json_object_size(entry) == 0) {
			matrix_error(x, "Matrix include mapping does not "
			    "contain any values");
			return -1;
		}
		inc = &x->incs[x->nincs++];
		inc->filter = json_object();
		inc->extra = json_object();
		if (inc->filter == NULL || inc->extra == NULL)
			abort();
		json_object_foreach((json_t *)entry, k, v) {
			if (matrix_var_index(x, k) != -1)
				json_object_set(inc->filter, k, v);
			else
				json_object_set(inc->extra, k, v);
		}
	}
	return 0;
}

static int
matrix_read_excludes(struct matrix_ctx *x, const json_t *exclude)
{
	const json_t	*entry;
	const char	*k;
	json_t		*v;
	size_t		 i;

	x->excs = xcalloc(json_array_size(exclude) + 1, sizeof *x->excs);
	json_array_foreach(exclude, i, entry) {
		if (!json_is_object(entry)) {
			matrix_error(x, "Matrix exclude entry %zu must be a "
			    "mapping", i + 1);
			return -1;
		}
		if (json_object_size(entry) == 0) {
			matrix_error(x, "Matrix exclude filter must not be "
			    "empty");
			return -1;
		}
		json_object_foreach((json_t *)entry, k, v) {
			if (matrix_var_index(x, k) == -1) {
				matrix_error(x, "Matrix exclude key '%s' does "
				    "not match any key within the matrix", k);
				return -1;
			}
		}
		x->excs[x->nexcs++] = entry;
	}
	return 0;
}

/* Read variables, include and exclude from the matrix object. */
static int
matrix_read(struct matrix_ctx *x, const json_t *matrix)
{
	const json_t	*include = NULL, *exclude = NULL;
	const char	*k;
	json_t		*v;

	if (json_is_null(matrix) || (json_is_object(matrix) &&
	    json_object_size(matrix) == 0)) {
		matrix_error(x, "Matrix must define at least one vector");
		return -1;
	}
	if (!json_is_object(matrix)) {
		matrix_error(x, "Matrix must be a mapping of variables to lists "
		    "of values");
		return -1;
	}
	x->vars = xcalloc(json_object_size(matrix), sizeof *x->vars);
	x->vecs = xcalloc(json_object_size(matrix), sizeof *x->vecs);
	json_object_foreach((json_t *)matrix, k, v) {
		if (strcmp(k, "include") == 0) {
			include = v;
			continue;
		}
		if (strcmp(k, "exclude") == 0) {
			exclude = v;
			continue;
		}
		if (!json_is_array(v)) {
			matrix_error(x, "Matrix vector '%s' must be a list of "
			    "values", k);
			return -1;
		}
		if (json_array_size(v) == 0) {
			matrix_error(x, "Matrix vector '%s' does not contain "
			    "any values", k);
			return -1;
		}
		if (matrix_var_index(x, k) != -1) {
			matrix_error(x, "Matrix vector '%s' is defined twice "
			    "(matrix variable names are case-insensitive)", k);
			return -1;
		}
		x->vars[x->nvars] = k;
		x->vecs[x->nvars++] = v;
	}
	if (include != NULL && !json_is_array(include)) {
		matrix_error(x, "Matrix include must be a list of mappings");
		return -1;
	}
	if (exclude != NULL && !json_is_array(exclude)) {
		matrix_error(x, "Matrix exclude must be a list of mappings");
		return -1;
	}
	if (x->nvars == 0 && json_array_size(include) == 0) {
		matrix_error(x, "Matrix must define at least one vector");
		return -1;
	}
	if (include != NULL && matrix_read_includes(x, include) == -1)
		return -1;
	if (exclude != NULL && matrix_read_excludes(x, exclude) == -1)
		return -1;
	return 0;
}

/*
 * Copy the keys of from into to; a key already in to under another case is
 * overwritten and keeps its first spelling (matrix keys are
 * case-insensitive).
 */
static void
matrix_merge(json_t *to, const json_t *from)
{
	const char	*k, *have;
	json_t		*v, *old;
	char		*key;

	json_object_foreach((json_t *)from, k, v) {
		key = NULL;
		json_object_foreach(to, have, old) {
			if (strcasecmp(have, k) == 0) {
				key = xstrdup(have);
				break;
			}
		}
		json_object_set(to, key != NULL ? key : k, v);
		free(key);
	}
}

/* Steps 2-4: the product, minus excludes, plus merged includes. */
static int
matrix_product(struct matrix_ctx *x)
{
	json_t	*combo, *extra;
	size_t	 total, idx, block, n, i, j;
	int	 excluded;

	if (x->nvars == 0)
		return 0;
	total = 1;
	for (i = 0; i < x->nvars; i++) {
		n = json_array_size(x->vecs[i]);
		if (total > MATRIX_MAX_PRODUCT / n) {
			matrix_error(x, "Matrix has more than %d combinations "
			    "before exclude; the maximum is %d jobs",
			    MATRIX_MAX_PRODUCT, MATRIX_MAX_LEGS);
			return -1;
		}
		total *= n;
	}
	for (idx = 0; idx < total; idx++) {
		if ((combo = json_object()) == NULL)
			abort();
		block = total;
		for (i = 0; i < x->nvars; i++) {
			n = json_array_size(x->vecs[i]);
			block /= n;
			json_object_set(combo, x->vars[i],
			    json_array_get(x->vecs[i], (idx / block) % n));
		}
		excluded = 0;
		for (j = 0; j < x->nexcs && !excluded; j++)
			excluded = matrix_filter_match(x->excs[j], combo);
		if (excluded) {
			json_decref(combo);
			continue;
		}
		extra = NULL;
		for (j = 0; j < x->nincs; j++) {
			if (!matrix_filter_match(x->incs[j].filter, combo))
				continue;
			x->incs[j].matched = 1;
			if (extra == NULL && (extra = json_object()) == NULL)
				abort();
			matrix_merge(extra, x->incs[j].extra);
		}
		matrix_add_leg(x, combo, extra);
		json_decref(combo);
		json_decref(extra);
	}
	return 0;
}

/* Step 5: includes that matched nothing become combinations of their own. */
static void
matrix_append_includes(struct matrix_ctx *x)
{
	json_t		*combo, *v;
	const char	*k;
	size_t		 i;

	for (i = 0; i < x->nincs; i++) {
		if (x->incs[i].matched)
			continue;
		if ((combo = json_object()) == NULL)
			abort();
		json_object_foreach(x->incs[i].filter, k, v)
			json_object_set(combo, k, v);
		json_object_foreach(x->incs[i].extra, k, v)
			json_object_set(combo, k, v);
		matrix_add_leg(x, combo, NULL);
		json_decref(combo);
	}
}

static void
matrix_ctx_free(struct matrix_ctx *x)
{
	size_t	i;

	for (i = 0; i < x->nincs; i++) {
		json_decref(x->incs[i].filter);
		json_decref(x->incs[i].extra);
	}
	free(x->incs);
	free(x->excs);
	free(x->vars);
	free(x->vecs);
}

/* The one leg of a job without matrix values. */
static int
matrix_single(const char *job_name, struct matrix_leg **legs, size_t *nlegs)
{
	*legs = xcalloc(1, sizeof **legs);
	(*legs)->values = NULL;
	(*legs)->name = xstrdup(job_name);
	*nlegs = 1;
	return 0;
}

int
matrix_expand_json(const char *job_name, const json_t *matrix,
    struct matrix_leg **legs, size_t *nlegs, char *err, size_t errsz)
{
	struct matrix_ctx	x;

	*legs = NULL;
	*nlegs = 0;
	if (job_name == NULL)
		job_name = "";
	if (matrix == NULL)
		return matrix_single(job_name, legs, nlegs);

	memset(&x, 0, sizeof x);
	x.job_name = job_name;
	x.err = err;
	x.errsz = errsz;
	if (matrix_read(&x, matrix) == -1 || matrix_product(&x) == -1)
		goto fail;
	matrix_append_includes(&x);
	if (x.count > MATRIX_MAX_LEGS) {
		matrix_error(&x, "Matrix expands to %zu jobs; the maximum is %d",
		    x.count, MATRIX_MAX_LEGS);
		goto fail;
	}
	matrix_ctx_free(&x);
	if (x.nlegs == 0)
		return matrix_single(job_name, legs, nlegs);
	*legs = x.legs;
	*nlegs = x.nlegs;
	return 0;

fail:
	matrix_legs_free(x.legs, x.nlegs);
	matrix_ctx_free(&x);
	return -1;
}

/* The first string (key or value) in v that holds a ${{ expression. */
static const char *
matrix_find_expr(const json_t *v)
{
	const char	*k, *s;
	json_t		*sub;
	size_t		 i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, k, sub) {
			if (strstr(k, "${{") != NULL)
				return k;
			if ((s = matrix_find_expr(sub)) != NULL)
				return s;
		}
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, sub) {
			if ((s = matrix_find_expr(sub)) != NULL)
				return s;
		}
		break;
	case JSON_STRING:
		if (strstr(json_string_value(v), "${{") != NULL)
			return json_string_value(v);
		break;
	default:
		break;
	}
	return NULL;
}

int
matrix_expand(const struct wf_job *job, struct matrix_leg **legs,
    size_t *nlegs, char *err, size_t errsz)
{
	const char	*name, *expr;

	*legs = NULL;
	*nlegs = 0;
	name = job->name != NULL ? job->name : job->id;
	if (name == NULL)
		name = "";
	if (job->strategy.matrix_expr != NULL) {
		if (err != NULL && errsz > 0)
			(void)snprintf(err, errsz, "Matrix '%s' is an expression "
			    "that was not evaluated", job->strategy.matrix_expr);
		return -1;
	}
	if (job->strategy.matrix == NULL)
		return matrix_single(name, legs, nlegs);
	if ((expr = matrix_find_expr(job->strategy.matrix)) != NULL) {
		if (err != NULL && errsz > 0)
			(void)snprintf(err, errsz, "Matrix value '%s' is an "
			    "expression that was not evaluated", expr);
		return -1;
	}
	return matrix_expand_json(name, job->strategy.matrix, legs, nlegs,
	    err, errsz);
}

void
matrix_legs_free(struct matrix_leg *legs, size_t nlegs)
{
	size_t	i;

	if (legs == NULL)
		return;
	for (i = 0; i < nlegs; i++) {
		json_decref(legs[i].values);
		free(legs[i].name);
	}
	free(legs);
}
