/*
 * workflow: libyaml document -> struct workflow, with validation.
 *
 * The file is loaded with yaml_parser_load() (libyaml resolves anchors and
 * aliases), then walked once.  Each mapping the workflow syntax defines is
 * walked through a table of {key, handler, offset}: the table is the list of
 * allowed keys, so an unknown key is reported in one place with the keys
 * that would have been accepted.  Handlers store into the model and report
 * type errors; cross-field rules (run/uses, needs, filters that exclude each
 * other) run after a mapping has been walked.  Every error is collected;
 * parsing never stops at the first.
 *
 * Expression syntax is checked in exactly one function, wf_check_expr(),
 * which calls common/expr's checker.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "context.h"
#include "event.h"
#include "expr.h"
#include "util.h"
#include "workflow.h"

#define WF_UNUSED	__attribute__((__unused__))
#define WF_JSON_BUDGET	1000000	/* YAML nodes converted per file */

struct wf_ctx {
	const char		*path;
	yaml_document_t		*doc;
	struct wf_errors	*errs;
	size_t			 budget;	/* nodes left to convert */
	struct workflow		*wf;
};

struct wf_key;
typedef void wf_key_fn(struct wf_ctx *, const struct wf_key *,
    yaml_node_t *, void *, const char *);

/* One allowed key of a mapping: handler and where in obj it stores. */
struct wf_key {
	const char	*name;
	wf_key_fn	*fn;
	size_t		 off;
};

/* ---------------------------------------------------------------------
 * Errors
 */

static void
wf_errors_addv(struct wf_errors *errs, const char *file, int line, int col,
    const char *fmt, va_list ap)
{
	struct wf_error *e;

	if (errs->n >= WF_MAX_ERRORS) {
		errs->dropped++;
		return;
	}
	errs->v = xreallocarray(errs->v, errs->n + 1, sizeof *errs->v);
	e = &errs->v[errs->n++];
	e->file = xstrdup(file);
	e->line = line;
	e->col = col;
	e->msg = xvasprintf(fmt, ap);
}

static void wf_err_at(struct wf_ctx *, int, int, const char *, ...)
    KILN_PRINTF(4, 5);
static void wf_err(struct wf_ctx *, const yaml_node_t *, const char *, ...)
    KILN_PRINTF(3, 4);

static void
wf_err_at(struct wf_ctx *ctx, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wf_errors_addv(ctx->errs, ctx->path, line, col, fmt, ap);
	va_end(ap);
}

static void
wf_err(struct wf_ctx *ctx, const yaml_node_t *n, const char *fmt, ...)
{
	va_list	ap;
	int	line = 1, col = 1;

	if (n != NULL) {
		line = (int)n->start_mark.line + 1;
		col = (int)n->start_mark.column + 1;
	}
	va_start(ap, fmt);
	wf_errors_addv(ctx->errs, ctx->path, line, col, fmt, ap);
	va_end(ap);
}

void
wf_errors_free(struct wf_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].msg);
	}
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
	errs->dropped = 0;
}

char *
wf_errors_format(const struct wf_errors *errs)
{
	struct buf	b = { 0 };
	size_t		i;

	buf_add_str(&b, "");
	for (i = 0; i < errs->n; i++) {
		buf_printf(&b, "%s:%d:%d: %s\n", errs->v[i].file,
		    errs->v[i].line, errs->v[i].col, errs->v[i].msg);
	}
	if (errs->dropped > 0)
		buf_printf(&b, "(%zu more errors not shown)\n", errs->dropped);
	return buf_steal(&b);
}

/* Stable sort of errors by position, so messages read top to bottom. */
static void
wf_errors_sort(struct wf_errors *errs, size_t from)
{
	size_t		i, j;
	struct wf_error	tmp;

	for (i = from + 1; i < errs->n; i++) {
		tmp = errs->v[i];
		for (j = i; j > from && (errs->v[j - 1].line > tmp.line ||
		    (errs->v[j - 1].line == tmp.line &&
		    errs->v[j - 1].col > tmp.col)); j--)
			errs->v[j] = errs->v[j - 1];
		errs->v[j] = tmp;
	}
}

/* ---------------------------------------------------------------------
 * YAML node helpers
 */

static struct wf_pos
wf_pos_of(const yaml_node_t *n)
{
	struct wf_pos p = { 1, 1 };

	if (n != NULL) {
		p.line = (int)n->start_mark.line + 1;
		p.col = (int)n->start_mark.column + 1;
	}
	return p;
}

static const char *
wf_sv(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int
wf_is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
	    n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

static int
wf_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || !wf_is_plain(n))
		return 0;
	s = wf_sv(n);
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* What a node is, for "must be X, not Y" messages. */
static const char *
wf_kind(const yaml_node_t *n)
{
	json_t		*j;
	const char	*k = "a string";

	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		j = workflow_scalar_to_json(wf_sv(n), n->data.scalar.length,
		    wf_is_plain(n));
		if (json_is_null(j))
			k = "empty (null)";
		else if (json_is_boolean(j))
			k = "a boolean";
		else if (json_is_number(j))
			k = "a number";
		json_decref(j);
		return k;
	default:
		return "empty";
	}
}

static yaml_node_t *
wf_node(struct wf_ctx *ctx, int idx)
{
	return yaml_document_get_node(ctx->doc, idx);
}

/* A string that is exactly one ${{ }} expression (surrounding space ok). */
static int
wf_is_expr(const char *s)
{
	size_t len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len < 5 || strncmp(s, "${{", 3) != 0 ||
	    strncmp(s + len - 2, "}}", 2) != 0)
		return 0;
	/* "${{ a }} x ${{ b }}" is a template, not one expression. */
	return strstr(s + 3, "${{") == NULL;
}

/* ---------------------------------------------------------------------
 * YAML -> JSON (core schema)
 */

static int
wf_all_in(const char *s, size_t len, const char *set)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return 0;
	return 1;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int
wf_is_float(const char *s, size_t len)
{
	size_t	i = 0, d = 0;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < len && isdigit((unsigned char)s[i])) {
		i++;
		d++;
	}
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && isdigit((unsigned char)s[i])) {
			i++;
			d++;
		}
	}
	if (d == 0)
		return 0;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t e = 0;

		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < len && isdigit((unsigned char)s[i])) {
			i++;
			e++;
		}
		if (e == 0)
			return 0;
	}
	return i == len;
}

json_t *
workflow_scalar_to_json(const char *s, size_t len, int plain)
{
	static const char *const nulls[] = { "~", "null", "Null", "NULL" };
	static const char *const trues[] = { "true", "True", "TRUE" };
	static const char *const falses[] = { "false", "False", "FALSE" };
	char		 tmp[64];
	const char	*digits = s;
	size_t		 i, dlen = len;
	int		 base = 10, neg = 0;
	long long	 v;
	char		*end;

	if (!plain)
		return json_stringn(s, len);
	if (len == 0)
		return json_null();
	for (i = 0; i < nitems(nulls); i++)
		if (strlen(nulls[i]) == len && memcmp(s, nulls[i], len) == 0)
			return json_null();
	for (i = 0; i < nitems(trues); i++) {
		if (strlen(trues[i]) == len && memcmp(s, trues[i], len) == 0)
			return json_true();
		if (strlen(falses[i]) == len && memcmp(s, falses[i], len) == 0)
			return json_false();
	}
	if (len >= sizeof tmp)
		return json_stringn(s, len);
	if (len > 2 && s[0] == '0' && s[1] == 'o' &&
	    wf_all_in(s + 2, len - 2, "01234567")) {
		base = 8;
		digits = s + 2;
		dlen = len - 2;
	} else if (len > 2 && s[0] == '0' && s[1] == 'x' &&
	    wf_all_in(s + 2, len - 2, "0123456789abcdefABCDEF")) {
		base = 16;
		digits = s + 2;
		dlen = len - 2;
	} else {
		if (s[0] == '-' || s[0] == '+') {
			neg = s[0] == '-';
			digits = s + 1;
			dlen = len - 1;
		}
		if (!wf_all_in(digits, dlen, "0123456789")) {
			if (!wf_is_float(s, len))
				return json_stringn(s, len);
			memcpy(tmp, s, len);
			tmp[len] = '\0';
			return json_real(strtod(tmp, NULL));
		}
	}
	memcpy(tmp, digits, dlen);
	tmp[dlen] = '\0';
	errno = 0;
	v = strtoll(tmp, &end, base);
	if (errno == ERANGE) {
		if (base != 10)
			return json_stringn(s, len);
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		return json_real(strtod(tmp, NULL));
	}
	return json_integer(neg ? -v : v);
}

struct wf_jconv {
	yaml_document_t	*doc;
	size_t		*budget;
	const yaml_node_t *bad;		/* where the error is */
	char		 msg[256];
};

static json_t *
wf_json_node(struct wf_jconv *jc, yaml_node_t *n, int depth)
{
	json_t		*j, *v;
	yaml_node_item_t *it;
	yaml_node_pair_t *p;

	if (depth > WF_MAX_DEPTH) {
		jc->bad = n;
		snprintf(jc->msg, sizeof jc->msg, "nesting deeper than %d "
		    "levels (or an alias that refers to itself)",
		    WF_MAX_DEPTH);
		return NULL;
	}
	if (*jc->budget == 0) {
		jc->bad = n;
		snprintf(jc->msg, sizeof jc->msg, "more than %d YAML nodes "
		    "after expanding aliases", WF_JSON_BUDGET);
		return NULL;
	}
	(*jc->budget)--;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return workflow_scalar_to_json(wf_sv(n), n->data.scalar.length,
		    wf_is_plain(n));
	case YAML_SEQUENCE_NODE:
		j = json_array();
		for (it = n->data.sequence.items.start;
		    it < n->data.sequence.items.top; it++) {
			v = wf_json_node(jc, yaml_document_get_node(jc->doc,
			    *it), depth + 1);
			if (v == NULL) {
				json_decref(j);
				return NULL;
			}
			json_array_append_new(j, v);
		}
		return j;
	case YAML_MAPPING_NODE:
		j = json_object();
		for (p = n->data.mapping.pairs.start;
		    p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(jc->doc, p->key);

			if (k->type != YAML_SCALAR_NODE) {
				jc->bad = k;
				snprintf(jc->msg, sizeof jc->msg,
				    "mapping keys must be strings, not %s",
				    k->type == YAML_MAPPING_NODE ? "a mapping" :
				    "a list");
				json_decref(j);
				return NULL;
			}
			if (json_object_get(j, wf_sv(k)) != NULL) {
				jc->bad = k;
				snprintf(jc->msg, sizeof jc->msg,
				    "duplicate key '%.100s'", wf_sv(k));
				json_decref(j);
				return NULL;
			}
			v = wf_json_node(jc, yaml_document_get_node(jc->doc,
			    p->value), depth + 1);
			if (v == NULL) {
				json_decref(j);
				return NULL;
			}
			json_object_set_new(j, wf_sv(k), v);
		}
		return j;
	default:
		return json_null();
	}
}

json_t *
workflow_yaml_to_json(yaml_document_t *doc, yaml_node_t *node, char *err,
    size_t errsz)
{
	struct wf_jconv	 jc;
	size_t		 budget = WF_JSON_BUDGET;
	json_t		*j;

	memset(&jc, 0, sizeof jc);
	jc.doc = doc;
	jc.budget = &budget;
	j = wf_json_node(&jc, node, 0);
	if (j == NULL && err != NULL && errsz > 0) {
		snprintf(err, errsz, "%d:%d: %s",
		    (int)jc.bad->start_mark.line + 1,
		    (int)jc.bad->start_mark.column + 1, jc.msg);
	}
	return j;
}

/* Convert within a parse: errors go to the error list. */
static json_t *
wf_json(struct wf_ctx *ctx, yaml_node_t *n, const char *where)
{
	struct wf_jconv	 jc;
	json_t		*j;

	memset(&jc, 0, sizeof jc);
	jc.doc = ctx->doc;
	jc.budget = &ctx->budget;
	j = wf_json_node(&jc, n, 0);
	if (j == NULL)
		wf_err(ctx, jc.bad, "'%s': %s", where, jc.msg);
	return j;
}

/* ---------------------------------------------------------------------
 * Expressions
 */

/*
 * Which contexts and functions each key may use (reference 4.9), decided
 * from the dotted path of the value ("jobs.build.steps[2].if").  Keys not
 * in the table get no restriction rather than a false error.
 */
struct wf_scope_rule {
	const char		*key;	/* first segment after the prefix */
	const struct expr_scope	*scope;	/* common/context.c's */
};

static const struct wf_scope_rule wf_top_scopes[] = {
	{ "run-name", &ctx_scope_run_level },
	{ "concurrency", &ctx_scope_run_level },
	{ "env", &ctx_scope_wf_env },
};

static const struct wf_scope_rule wf_job_scopes[] = {
	{ "if", &ctx_scope_job_if },
	{ "name", &ctx_scope_job_plan },
	{ "runs-on", &ctx_scope_job_plan },
	{ "timeout-minutes", &ctx_scope_job_plan },
	{ "concurrency", &ctx_scope_job_plan },
	{ "environment", &ctx_scope_job_plan },
	{ "with", &ctx_scope_job_plan },
	{ "continue-on-error", &ctx_scope_job_plan },
	{ "strategy", &ctx_scope_strategy },
	{ "env", &ctx_scope_job_env },
	{ "defaults", &ctx_scope_job_defaults },
	{ "outputs", &ctx_scope_job_outputs },
};

static const struct expr_scope *
wf_rule(const struct wf_scope_rule *rules, size_t n, const char *path)
{
	size_t i, len = strcspn(path, ".[");

	for (i = 0; i < n; i++)
		if (strlen(rules[i].key) == len &&
		    strncmp(rules[i].key, path, len) == 0)
			return rules[i].scope;
	return NULL;
}

static const struct expr_scope *
wf_scope_for(const char *where)
{
	const char *rest;

	if (!str_has_prefix(where, "jobs."))
		return wf_rule(wf_top_scopes, nitems(wf_top_scopes), where);
	rest = strchr(where + 5, '.');
	if (rest == NULL)
		return NULL;
	rest++;
	if (str_has_prefix(rest, "steps[")) {
		rest = strchr(rest, ']');
		if (rest == NULL || rest[1] != '.')
			return NULL;
		rest += 2;
		return strcmp(rest, "if") == 0 ? &ctx_scope_step_if :
		    &ctx_scope_step;
	}
	/* Job-level: a job id cannot hold '.', so this is the job's key. */
	if (strcmp(rest, "environment.url") == 0)
		return &ctx_scope_env_url;
	return wf_rule(wf_job_scopes, nitems(wf_job_scopes), rest);
}

/*
 * ===== EXPRESSION SYNTAX HOOK =====
 * The one place where ${{ }} text is checked, through common/expr: syntax,
 * and the contexts and functions the key allows (wf_scope_for).  text is a
 * template (literal text with ${{ }} parts), or for if: (is_if) a
 * condition whose ${{ }} is optional.
 */
static void
wf_check_expr(struct wf_ctx *ctx, const yaml_node_t *node, const char *where,
    const char *text, int is_if)
{
	const struct expr_scope *scope = wf_scope_for(where);
	char	err[512];
	size_t	column = 0;
	int	rc;

	if (is_if)
		rc = expr_check_condition(text, scope, err, sizeof err, &column);
	else
		rc = expr_check_template(text, scope, err, sizeof err, &column);
	if (rc == 0)
		return;
	/* A one-line plain scalar maps characters to columns exactly. */
	if (column > 0 && node->type == YAML_SCALAR_NODE &&
	    node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    node->start_mark.line == node->end_mark.line &&
	    strchr(text, '\n') == NULL)
		wf_err_at(ctx, (int)node->start_mark.line + 1,
		    (int)(node->start_mark.column + column), "'%s': invalid "
		    "expression: %s", where, err);
	else
		wf_err(ctx, node, "'%s': invalid expression: %s", where, err);
}

/* Keys where GitHub allows no expression at all. */
static void
wf_no_expr(struct wf_ctx *ctx, const yaml_node_t *node, const char *where,
    const char *text)
{
	if (strstr(text, "${{") != NULL)
		wf_err(ctx, node, "'%s': expressions are not allowed here",
		    where);
}

/* ---------------------------------------------------------------------
 * Generic value readers
 */

/* A scalar as a string; NULL (with an error) for other node types. */
static char *
wf_scalar(struct wf_ctx *ctx, yaml_node_t *n, const char *where)
{
	if (n->type != YAML_SCALAR_NODE) {
		wf_err(ctx, n, "'%s' must be a string, not %s", where,
		    wf_kind(n));
		return NULL;
	}
	if (wf_is_null(n))
		return NULL;
	return xstrndup(wf_sv(n), n->data.scalar.length);
}

static void
wf_read_strlist(struct wf_ctx *ctx, yaml_node_t *n, const char *where,
    struct wf_strlist *l)
{
	yaml_node_item_t *it;

	l->set = 1;
	l->pos = wf_pos_of(n);
	if (n->type == YAML_SCALAR_NODE) {
		if (wf_is_null(n)) {
			wf_err(ctx, n, "'%s' is empty; give a string or a list "
			    "of strings", where);
			return;
		}
		l->v = xcalloc(1, sizeof *l->v);
		l->v[l->n++] = xstrdup(wf_sv(n));
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		wf_err(ctx, n, "'%s' must be a string or a list of strings, "
		    "not %s", where, wf_kind(n));
		return;
	}
	l->v = xcalloc((size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start) + 1, sizeof *l->v);
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = wf_node(ctx, *it);

		if (item->type != YAML_SCALAR_NODE || wf_is_null(item)) {
			wf_err(ctx, item, "items of '%s' must be strings, not "
			    "%s", where, wf_kind(item));
			continue;
		}
		l->v[l->n++] = xstrdup(wf_sv(item));
	}
}

static void
wf_strlist_free(struct wf_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static void
wf_read_bool(struct wf_ctx *ctx, yaml_node_t *n, const char *where,
    struct wf_bool *b)
{
	json_t *j;

	b->set = 1;
	if (n->type == YAML_SCALAR_NODE) {
		j = workflow_scalar_to_json(wf_sv(n), n->data.scalar.length,
		    wf_is_plain(n));
		if (json_is_boolean(j)) {
			b->value = json_is_true(j);
			json_decref(j);
			return;
		}
		json_decref(j);
		if (wf_is_expr(wf_sv(n))) {
			b->expr = xstrdup(wf_sv(n));
			wf_check_expr(ctx, n, where, b->expr, 0);
			return;
		}
	}
	wf_err(ctx, n, "'%s' must be true, false or a ${{ }} expression, not "
	    "%s", where, wf_kind(n));
}

static void
wf_read_num(struct wf_ctx *ctx, yaml_node_t *n, const char *where,
    struct wf_num *num)
{
	json_t *j;

	num->set = 1;
	if (n->type == YAML_SCALAR_NODE) {
		j = workflow_scalar_to_json(wf_sv(n), n->data.scalar.length,
		    wf_is_plain(n));
		if (json_is_number(j)) {
			num->value = json_number_value(j);
			json_decref(j);
			return;
		}
		json_decref(j);
		if (wf_is_expr(wf_sv(n))) {
			num->expr = xstrdup(wf_sv(n));
			wf_check_expr(ctx, n, where, num->expr, 0);
			return;
		}
	}
	wf_err(ctx, n, "'%s' must be a number or a ${{ }} expression, not %s",
	    where, wf_kind(n));
}

static void
wf_read_map(struct wf_ctx *ctx, yaml_node_t *n, const char *where,
    struct wf_map *m)
{
	yaml_node_pair_t *p;

	m->set = 1;
	m->pos = wf_pos_of(n);
	if (n->type == YAML_SCALAR_NODE && wf_is_expr(wf_sv(n))) {
		m->expr = xstrdup(wf_sv(n));
		wf_check_expr(ctx, n, where, m->expr, 0);
		return;
	}
	if (n->type == YAML_SCALAR_NODE && wf_is_null(n))
		return;
	if (n->type != YAML_MAPPING_NODE) {
		wf_err(ctx, n, "'%s' must be a mapping of names to values, not "
		    "%s", where, wf_kind(n));
		return;
	}
	m->v = xcalloc((size_t)(n->data.mapping.pairs.top -
	    n->data.mapping.pairs.start) + 1, sizeof *m->v);
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		yaml_node_t		*k = wf_node(ctx, p->key);
		yaml_node_t		*v = wf_node(ctx, p->value);
		struct wf_map_entry	*e;

		if (k->type != YAML_SCALAR_NODE) {
			wf_err(ctx, k, "keys of '%s' must be strings", where);
			continue;
		}
		if (v->type != YAML_SCALAR_NODE) {
			wf_err(ctx, v, "'%s.%s' must be a string, number or "
			    "boolean, not %s", where, wf_sv(k), wf_kind(v));
			continue;
		}
		e = &m->v[m->n++];
		e->key = xstrdup(wf_sv(k));
		e->pos = wf_pos_of(k);
		e->json = workflow_scalar_to_json(wf_sv(v),
		    v->data.scalar.length, wf_is_plain(v));
		e->value = wf_is_null(v) ? xstrdup("") :
		    xstrndup(wf_sv(v), v->data.scalar.length);
		if (strstr(e->value, "${{") != NULL) {
			char *w = xasprintf("%s.%s", where, e->key);

			wf_check_expr(ctx, v, w, e->value, 0);
			free(w);
		}
	}
}

static void
wf_map_free(struct wf_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].key);
		free(m->v[i].value);
		json_decref(m->v[i].json);
	}
	free(m->v);
	free(m->expr);
}

const char *
wf_map_get(const struct wf_map *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->v[i].key, key) == 0)
			return m->v[i].value;
	return NULL;
}

/*
 * Walk mapping n through the table keys: each known key's handler is
 * called with the full path "where.key"; unknown keys are reported with
 * the list of allowed ones.
 */
static void
wf_walk(struct wf_ctx *ctx, yaml_node_t *n, const struct wf_key *keys,
    size_t nkeys, void *obj, const char *where)
{
	yaml_node_pair_t	*p;
	size_t			 i;
	uint64_t		 seen = 0;	/* table rows already handled */

	if (n->type != YAML_MAPPING_NODE) {
		wf_err(ctx, n, "'%s' must be a mapping, not %s", where,
		    wf_kind(n));
		return;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		yaml_node_t	*k = wf_node(ctx, p->key);
		yaml_node_t	*v = wf_node(ctx, p->value);
		char		*path;

		if (k->type != YAML_SCALAR_NODE) {
			wf_err(ctx, k, "keys of '%s' must be strings, not %s",
			    where, wf_kind(k));
			continue;
		}
		for (i = 0; i < nkeys; i++)
			if (strcmp(keys[i].name, wf_sv(k)) == 0)
				break;
		if (i == nkeys) {
			struct buf b = { 0 };

			if (strcmp(wf_sv(k), "<<") == 0) {
				wf_err(ctx, k, "YAML merge keys ('<<') are not "
				    "supported; repeat the keys or use an "
				    "alias for the whole value");
				continue;
			}
			for (i = 0; i < nkeys; i++)
				buf_printf(&b, "%s%s", i > 0 ? ", " : "",
				    keys[i].name);
			if (where[0] == '\0')
				wf_err(ctx, k, "unknown top-level key '%s' "
				    "(expected one of: %s)", wf_sv(k), b.data);
			else
				wf_err(ctx, k, "unknown key '%s' in '%s' "
				    "(expected one of: %s)", wf_sv(k), where,
				    b.data);
			buf_free(&b);
			continue;
		}
		/* A repeated key was reported by wf_check_dup_keys. */
		if (i < 64 && (seen & ((uint64_t)1 << i)) != 0)
			continue;
		if (i < 64)
			seen |= (uint64_t)1 << i;
		path = where[0] != '\0' ? xasprintf("%s.%s", where,
		    keys[i].name) : xstrdup(keys[i].name);
		keys[i].fn(ctx, &keys[i], v, obj, path);
		free(path);
	}
}

/* Mapping n has key name?  Returns the value node or NULL. */
static yaml_node_t *
wf_get_cmp(struct wf_ctx *ctx, yaml_node_t *n, const char *name,
    int (*cmp)(const char *, const char *))
{
	yaml_node_pair_t *p;

	if (n == NULL || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		yaml_node_t *k = wf_node(ctx, p->key);

		if (k->type == YAML_SCALAR_NODE && cmp(wf_sv(k), name) == 0)
			return wf_node(ctx, p->value);
	}
	return NULL;
}

static yaml_node_t *
wf_get(struct wf_ctx *ctx, yaml_node_t *n, const char *name)
{
	return wf_get_cmp(ctx, n, name, strcmp);
}

/* Matrix variable names are case-insensitive (reference 3.5). */
static yaml_node_t *
wf_get_nocase(struct wf_ctx *ctx, yaml_node_t *n, const char *name)
{
	return wf_get_cmp(ctx, n, name, strcasecmp);
}

/* ---------------------------------------------------------------------
 * Generic key handlers: store at obj + key->off.
 */

#define WF_FIELD(obj, key, type) ((type *)(void *)((char *)(obj) + (key)->off))

static void
wf_k_str(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	char **dst = WF_FIELD(obj, key, char *);

	free(*dst);
	*dst = wf_scalar(ctx, v, where);
	if (*dst != NULL && strstr(*dst, "${{") != NULL)
		wf_check_expr(ctx, v, where, *dst, 0);
}

static void
wf_k_str_noexpr(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	char **dst = WF_FIELD(obj, key, char *);

	free(*dst);
	*dst = wf_scalar(ctx, v, where);
	if (*dst != NULL)
		wf_no_expr(ctx, v, where, *dst);
}

static void
wf_k_if(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	char **dst = WF_FIELD(obj, key, char *);

	free(*dst);
	*dst = NULL;
	if (v->type != YAML_SCALAR_NODE) {
		wf_err(ctx, v, "'%s' must be an expression, not %s", where,
		    wf_kind(v));
		return;
	}
	if (v->tag != NULL && strncmp((const char *)v->tag,
	    "tag:yaml.org,2002:", 18) != 0) {
		/* "if: !cancelled()" is a YAML tag followed by nothing. */
		wf_err(ctx, v, "'%s': YAML reads '%s' as a tag; write the "
		    "condition as ${{ %s... }}", where, (const char *)v->tag,
		    (const char *)v->tag);
		return;
	}
	if (wf_is_null(v))
		return;
	*dst = xstrdup(wf_sv(v));
	wf_check_expr(ctx, v, where, *dst, 1);
}

static void
wf_k_bool(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	wf_read_bool(ctx, v, where, WF_FIELD(obj, key, struct wf_bool));
}

static void
wf_k_num(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	wf_read_num(ctx, v, where, WF_FIELD(obj, key, struct wf_num));
}

static void
wf_k_map(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	wf_read_map(ctx, v, where, WF_FIELD(obj, key, struct wf_map));
}

static void
wf_k_json(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	json_t **dst = WF_FIELD(obj, key, json_t *);

	json_decref(*dst);
	*dst = wf_json(ctx, v, where);
}

/*
 * permissions: read-all, write-all, {} or a map of scope to read, write or
 * none (reference 3.1).  Kept: in App mode the job's GITHUB_TOKEN is asked
 * for with them (worker/jobtoken.c).
 */
static const char *const wf_permission_scopes[] = {
	"actions", "attestations", "checks", "contents", "deployments",
	"discussions", "id-token", "issues", "models", "packages", "pages",
	"pull-requests", "repository-projects", "security-events", "statuses",
};

static void
wf_k_permissions(struct wf_ctx *ctx, const struct wf_key *key,
    yaml_node_t *v, void *obj, const char *where)
{
	yaml_node_pair_t *p;
	size_t i;

	if (v->type == YAML_SCALAR_NODE) {
		if (strcmp(wf_sv(v), "read-all") != 0 &&
		    strcmp(wf_sv(v), "write-all") != 0)
			wf_err(ctx, v, "'%s' must be read-all, write-all or a "
			    "map of scopes, not '%s'", where, wf_sv(v));
	} else if (v->type == YAML_MAPPING_NODE) {
		for (p = v->data.mapping.pairs.start;
		    p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *k = wf_node(ctx, p->key);
			yaml_node_t *l = wf_node(ctx, p->value);

			for (i = 0; i < nitems(wf_permission_scopes); i++)
				if (k->type == YAML_SCALAR_NODE && strcmp(
				    wf_sv(k), wf_permission_scopes[i]) == 0)
					break;
			if (i == nitems(wf_permission_scopes)) {
				wf_err(ctx, k, "'%s': unknown permission scope "
				    "'%s'", where, k->type == YAML_SCALAR_NODE ?
				    wf_sv(k) : "?");
				continue;
			}
			if (l->type != YAML_SCALAR_NODE ||
			    (strcmp(wf_sv(l), "read") != 0 &&
			    strcmp(wf_sv(l), "write") != 0 &&
			    strcmp(wf_sv(l), "none") != 0))
				wf_err(ctx, l, "'%s.%s' must be read, write or "
				    "none", where, wf_sv(k));
		}
	} else
		wf_err(ctx, v, "'%s' must be read-all, write-all or a map of "
		    "scopes, not %s", where, wf_kind(v));
	if (key->off != (size_t)-1)
		wf_k_json(ctx, key, v, obj, where);
}

/* defaults: { run: { shell, working-directory } } */
static void
wf_k_defaults_run_str(struct wf_ctx *ctx, const struct wf_key *key,
    yaml_node_t *v, void *obj, const char *where)
{
	/* Workflow-level defaults allow no expressions; job level does. */
	if (strncmp(where, "defaults.", 9) == 0)
		wf_k_str_noexpr(ctx, key, v, obj, where);
	else
		wf_k_str(ctx, key, v, obj, where);
}

static const struct wf_key wf_defaults_run_keys[] = {
	{ "shell", wf_k_defaults_run_str, offsetof(struct wf_defaults, shell) },
	{ "working-directory", wf_k_defaults_run_str,
	    offsetof(struct wf_defaults, working_directory) },
};

static void
wf_k_defaults_run(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v, void *obj, const char *where)
{
	struct wf_defaults *d = obj;

	d->set = 1;
	wf_walk(ctx, v, wf_defaults_run_keys, nitems(wf_defaults_run_keys), d,
	    where);
}

static const struct wf_key wf_defaults_keys[] = {
	{ "run", wf_k_defaults_run, 0 },
};

static void
wf_k_defaults(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	struct wf_defaults *d = WF_FIELD(obj, key, struct wf_defaults);

	d->set = 1;
	wf_walk(ctx, v, wf_defaults_keys, nitems(wf_defaults_keys), d, where);
}

/* concurrency: "group" or { group, cancel-in-progress, queue } */
static const struct wf_key wf_concurrency_keys[] = {
	{ "group", wf_k_str, offsetof(struct wf_concurrency, group) },
	{ "cancel-in-progress", wf_k_bool,
	    offsetof(struct wf_concurrency, cancel_in_progress) },
	{ "queue", wf_k_str_noexpr, offsetof(struct wf_concurrency, queue) },
};

static void
wf_k_concurrency(struct wf_ctx *ctx, const struct wf_key *key,
    yaml_node_t *v, void *obj, const char *where)
{
	struct wf_concurrency *c = WF_FIELD(obj, key, struct wf_concurrency);

	c->set = 1;
	c->pos = wf_pos_of(v);
	if (v->type == YAML_SCALAR_NODE) {
		c->group = wf_scalar(ctx, v, where);
		if (c->group == NULL)
			wf_err(ctx, v, "'%s' is empty; give a group name",
			    where);
		else if (strstr(c->group, "${{") != NULL)
			wf_check_expr(ctx, v, where, c->group, 0);
		return;
	}
	wf_walk(ctx, v, wf_concurrency_keys, nitems(wf_concurrency_keys), c,
	    where);
	if (v->type != YAML_MAPPING_NODE)
		return;
	if (c->group == NULL)
		wf_err(ctx, v, "'%s' needs a 'group'", where);
	if (c->queue != NULL && strcmp(c->queue, "single") != 0 &&
	    strcmp(c->queue, "max") != 0)
		wf_err(ctx, wf_get(ctx, v, "queue"), "'%s.queue' must be "
		    "'single' or 'max', not '%s'", where, c->queue);
	if (c->queue != NULL && strcmp(c->queue, "max") == 0 &&
	    c->cancel_in_progress.value && c->cancel_in_progress.expr == NULL)
		wf_err(ctx, wf_get(ctx, v, "queue"), "'%s': 'queue: max' cannot "
		    "be combined with 'cancel-in-progress: true'", where);
}

static void
wf_concurrency_free(struct wf_concurrency *c)
{
	free(c->group);
	free(c->cancel_in_progress.expr);
	free(c->queue);
}

/* ---------------------------------------------------------------------
 * on:
 */


static void
wf_k_patterns(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	struct wf_patterns	*pl = WF_FIELD(obj, key, struct wf_patterns);
	struct wf_strlist	 l;
	yaml_node_t		*item;
	size_t			 i, npos = 0;
	char			 err[256];

	memset(&l, 0, sizeof l);
	wf_read_strlist(ctx, v, where, &l);
	pl->set = 1;
	pl->pos = wf_pos_of(v);
	pl->v = xcalloc(l.n + 1, sizeof *pl->v);
	for (i = 0; i < l.n; i++) {
		struct glob *g;

		item = v;
		if (v->type == YAML_SEQUENCE_NODE &&
		    (size_t)(v->data.sequence.items.top -
		    v->data.sequence.items.start) == l.n)
			item = wf_node(ctx, v->data.sequence.items.start[i]);
		if (l.v[i][0] == '\0' || strcmp(l.v[i], "!") == 0) {
			wf_err(ctx, item, "'%s': empty pattern", where);
			continue;
		}
		if ((g = glob_compile(l.v[i], err, sizeof err)) == NULL) {
			wf_err(ctx, item, "'%s': %s", where, err);
			continue;
		}
		if (!glob_negated(g))
			npos++;
		pl->v[pl->n++] = g;
	}
	if (pl->n > 0 && npos == 0 && !str_has_suffix(key->name, "-ignore"))
		wf_err(ctx, v, "'%s' has only '!' patterns, which can never "
		    "match; add a positive pattern or use '%s-ignore'", where,
		    key->name);
	wf_strlist_free(&l);
}

static void
wf_patterns_free(struct wf_patterns *pl)
{
	size_t i;

	for (i = 0; i < pl->n; i++)
		glob_free(pl->v[i]);
	free(pl->v);
}

static void
wf_k_strlist(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	struct wf_strlist *l = WF_FIELD(obj, key, struct wf_strlist);

	wf_strlist_free(l);
	memset(l, 0, sizeof *l);
	wf_read_strlist(ctx, v, where, l);
}

static const struct wf_key wf_push_keys[] = {
	{ "branches", wf_k_patterns, offsetof(struct wf_on_filter, branches) },
	{ "branches-ignore", wf_k_patterns,
	    offsetof(struct wf_on_filter, branches_ignore) },
	{ "tags", wf_k_patterns, offsetof(struct wf_on_filter, tags) },
	{ "tags-ignore", wf_k_patterns,
	    offsetof(struct wf_on_filter, tags_ignore) },
	{ "paths", wf_k_patterns, offsetof(struct wf_on_filter, paths) },
	{ "paths-ignore", wf_k_patterns,
	    offsetof(struct wf_on_filter, paths_ignore) },
};

static const struct wf_key wf_pr_keys[] = {
	{ "branches", wf_k_patterns, offsetof(struct wf_on_filter, branches) },
	{ "branches-ignore", wf_k_patterns,
	    offsetof(struct wf_on_filter, branches_ignore) },
	{ "paths", wf_k_patterns, offsetof(struct wf_on_filter, paths) },
	{ "paths-ignore", wf_k_patterns,
	    offsetof(struct wf_on_filter, paths_ignore) },
	{ "types", wf_k_strlist, offsetof(struct wf_on_filter, types) },
};

static void
wf_exclusive(struct wf_ctx *ctx, yaml_node_t *n, const char *where,
    const char *a, const char *b)
{
	yaml_node_t *nb;

	if (wf_get(ctx, n, a) != NULL && (nb = wf_get(ctx, n, b)) != NULL)
		wf_err(ctx, nb, "'%s' has both '%s' and '%s'; use only one "
		    "of them", where, a, b);
}

static void
wf_on_filter(struct wf_ctx *ctx, yaml_node_t *cfg, const char *where,
    struct wf_on_filter *f, int is_push, struct wf_pos pos)
{
	f->set = 1;
	f->pos = pos;
	if (cfg == NULL || wf_is_null(cfg))
		return;
	if (is_push)
		wf_walk(ctx, cfg, wf_push_keys, nitems(wf_push_keys), f, where);
	else
		wf_walk(ctx, cfg, wf_pr_keys, nitems(wf_pr_keys), f, where);
	wf_exclusive(ctx, cfg, where, "branches", "branches-ignore");
	wf_exclusive(ctx, cfg, where, "tags", "tags-ignore");
	wf_exclusive(ctx, cfg, where, "paths", "paths-ignore");
}

static void
wf_on_filter_free(struct wf_on_filter *f)
{
	wf_patterns_free(&f->branches);
	wf_patterns_free(&f->branches_ignore);
	wf_patterns_free(&f->tags);
	wf_patterns_free(&f->tags_ignore);
	wf_patterns_free(&f->paths);
	wf_patterns_free(&f->paths_ignore);
	wf_strlist_free(&f->types);
}

static const struct wf_key wf_schedule_keys[] = {
	{ "cron", wf_k_str_noexpr, offsetof(struct wf_schedule, cron) },
	{ "timezone", wf_k_str_noexpr, offsetof(struct wf_schedule, timezone) },
};

static void
wf_on_schedule(struct wf_ctx *ctx, yaml_node_t *cfg, const char *where)
{
	struct wf_on		*on = &ctx->wf->on;
	yaml_node_item_t	*it;
	char			 err[256], *w;
	size_t			 i = 0;

	if (cfg == NULL || cfg->type != YAML_SEQUENCE_NODE ||
	    cfg->data.sequence.items.top == cfg->data.sequence.items.start) {
		wf_err(ctx, cfg, "'%s' must be a list of '- cron: \"<minute> "
		    "<hour> <day> <month> <weekday>\"' entries", where);
		return;
	}
	on->schedules = xcalloc((size_t)(cfg->data.sequence.items.top -
	    cfg->data.sequence.items.start), sizeof *on->schedules);
	for (it = cfg->data.sequence.items.start;
	    it < cfg->data.sequence.items.top; it++, i++) {
		yaml_node_t		*item = wf_node(ctx, *it), *cn;
		struct wf_schedule	*s = &on->schedules[on->nschedules];

		w = xasprintf("%s[%zu]", where, i);
		s->pos = wf_pos_of(item);
		wf_walk(ctx, item, wf_schedule_keys, nitems(wf_schedule_keys),
		    s, w);
		on->nschedules++;
		if (item->type != YAML_MAPPING_NODE) {
			free(w);
			continue;
		}
		cn = wf_get(ctx, item, "cron");
		if (s->cron == NULL) {
			if (cn == NULL)
				wf_err(ctx, item, "'%s' needs a 'cron' line",
				    w);
			else if (cn->type == YAML_SCALAR_NODE)
				wf_err(ctx, cn, "'%s.cron' is empty", w);
		} else if (cron_parse(s->cron, &s->parsed, err,
		    sizeof err) != 0)
			wf_err(ctx, cn, "'%s.cron': %s", w, err);
		if (s->timezone != NULL && (s->timezone[0] == '\0' ||
		    strstr(s->timezone, "..") != NULL ||
		    s->timezone[0] == '/'))
			wf_err(ctx, wf_get(ctx, item, "timezone"), "'%s.timezone' "
			    "must be an IANA zone name such as "
			    "'America/New_York'", w);
		free(w);
	}
}

static const struct {
	const char		*name;
	enum wf_input_type	 type;
} wf_input_types[] = {
	{ "string", WF_INPUT_STRING },
	{ "boolean", WF_INPUT_BOOLEAN },
	{ "choice", WF_INPUT_CHOICE },
	{ "number", WF_INPUT_NUMBER },
	{ "environment", WF_INPUT_ENVIRONMENT },
};

struct wf_input_raw {
	struct wf_input	*in;
	char		*type;
	struct wf_bool	 required;
	char		*deprecation;
};

static void
wf_k_input_default(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v, void *obj, const char *where)
{
	struct wf_input_raw *r = obj;

	if (v->type != YAML_SCALAR_NODE) {
		wf_err(ctx, v, "'%s' must be a string, number or boolean, not "
		    "%s", where, wf_kind(v));
		return;
	}
	json_decref(r->in->def_json);
	free(r->in->def);
	r->in->def_json = workflow_scalar_to_json(wf_sv(v),
	    v->data.scalar.length, wf_is_plain(v));
	r->in->def = wf_is_null(v) ? NULL : xstrdup(wf_sv(v));
}

static void
wf_k_input_options(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v, void *obj, const char *where)
{
	struct wf_input_raw *r = obj;

	wf_strlist_free(&r->in->options);
	memset(&r->in->options, 0, sizeof r->in->options);
	if (v->type != YAML_SEQUENCE_NODE) {
		wf_err(ctx, v, "'%s' must be a list of strings, not %s", where,
		    wf_kind(v));
		return;
	}
	wf_read_strlist(ctx, v, where, &r->in->options);
}

static void
wf_k_input_desc(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v,
    void *obj, const char *where)
{
	struct wf_input_raw *r = obj;

	free(r->in->description);
	r->in->description = wf_scalar(ctx, v, where);
}

static const struct wf_key wf_input_keys[] = {
	{ "description", wf_k_input_desc, 0 },
	{ "required", wf_k_bool, offsetof(struct wf_input_raw, required) },
	{ "default", wf_k_input_default, 0 },
	{ "type", wf_k_str_noexpr, offsetof(struct wf_input_raw, type) },
	{ "options", wf_k_input_options, 0 },
	{ "deprecationMessage", wf_k_str,
	    offsetof(struct wf_input_raw, deprecation) },
};

static int
wf_id_ok(const char *id)
{
	const char *p;

	if (!(isalpha((unsigned char)id[0]) || id[0] == '_'))
		return 0;
	for (p = id; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return 0;
	return p - id < 100;
}

static void
wf_input_check(struct wf_ctx *ctx, yaml_node_t *n, struct wf_input *in,
    struct wf_input_raw *r, const char *where)
{
	size_t i;

	if (r->type != NULL) {
		for (i = 0; i < nitems(wf_input_types); i++)
			if (strcmp(r->type, wf_input_types[i].name) == 0)
				break;
		if (i < nitems(wf_input_types))
			in->type = wf_input_types[i].type;
		else
			wf_err(ctx, wf_get(ctx, n, "type"), "'%s.type': unknown "
			    "type '%s' (expected string, boolean, choice, "
			    "number or environment)", where, r->type);
	}
	in->required = r->required.value;
	if (in->type == WF_INPUT_CHOICE && in->options.n == 0)
		wf_err(ctx, n, "'%s' is a choice input without 'options'",
		    where);
	if (in->type != WF_INPUT_CHOICE && in->options.set)
		wf_err(ctx, wf_get(ctx, n, "options"), "'%s.options' is only "
		    "valid with 'type: choice'", where);
	if (in->def_json == NULL || json_is_null(in->def_json))
		return;
	if (in->type == WF_INPUT_BOOLEAN && !json_is_boolean(in->def_json))
		wf_err(ctx, wf_get(ctx, n, "default"), "'%s.default' must be "
		    "true or false for a boolean input", where);
	if (in->type == WF_INPUT_NUMBER && !json_is_number(in->def_json))
		wf_err(ctx, wf_get(ctx, n, "default"), "'%s.default' must be "
		    "a number for a number input", where);
	if (in->type == WF_INPUT_CHOICE && in->options.n > 0) {
		for (i = 0; i < in->options.n; i++)
			if (strcmp(in->options.v[i], in->def) == 0)
				break;
		if (i == in->options.n)
			wf_err(ctx, wf_get(ctx, n, "default"), "'%s.default' "
			    "'%s' is not one of the options", where, in->def);
	}
}

static void
wf_on_dispatch(struct wf_ctx *ctx, yaml_node_t *cfg, const char *where)
{
	struct wf_on		*on = &ctx->wf->on;
	yaml_node_t		*inputs;
	yaml_node_pair_t	*p;
	yaml_node_pair_t	*q;
	char			*w;

	on->workflow_dispatch = 1;
	if (cfg == NULL || wf_is_null(cfg))
		return;
	if (cfg->type != YAML_MAPPING_NODE) {
		wf_err(ctx, cfg, "'%s' must be a mapping (or empty), not %s",
		    where, wf_kind(cfg));
		return;
	}
	for (p = cfg->data.mapping.pairs.start;
	    p < cfg->data.mapping.pairs.top; p++) {
		yaml_node_t *k = wf_node(ctx, p->key);

		if (k->type == YAML_SCALAR_NODE &&
		    strcmp(wf_sv(k), "inputs") != 0)
			wf_err(ctx, k, "unknown key '%s' in '%s' (expected one "
			    "of: inputs)", wf_sv(k), where);
	}
	if ((inputs = wf_get(ctx, cfg, "inputs")) == NULL || wf_is_null(inputs))
		return;
	if (inputs->type != YAML_MAPPING_NODE) {
		wf_err(ctx, inputs, "'%s.inputs' must be a mapping of input "
		    "names, not %s", where, wf_kind(inputs));
		return;
	}
	/* GitHub's limit; common/dispatch.h refuses more at run time. */
	if (inputs->data.mapping.pairs.top - inputs->data.mapping.pairs.start >
	    25)
		wf_err(ctx, inputs, "'%s.inputs' declares %d inputs; GitHub "
		    "allows at most 25", where, (int)(inputs->data.mapping.pairs.top -
		    inputs->data.mapping.pairs.start));
	on->inputs = xcalloc((size_t)(inputs->data.mapping.pairs.top -
	    inputs->data.mapping.pairs.start) + 1, sizeof *on->inputs);
	for (q = inputs->data.mapping.pairs.start;
	    q < inputs->data.mapping.pairs.top; q++) {
		yaml_node_t		*k = wf_node(ctx, q->key);
		yaml_node_t		*v = wf_node(ctx, q->value);
		struct wf_input		*in;
		struct wf_input_raw	 r;

		if (k->type != YAML_SCALAR_NODE)
			continue;
		in = &on->inputs[on->ninputs++];
		in->name = xstrdup(wf_sv(k));
		in->pos = wf_pos_of(k);
		w = xasprintf("%s.inputs.%s", where, in->name);
		if (!wf_id_ok(in->name))
			wf_err(ctx, k, "input name '%s' must start with a letter "
			    "or '_' and contain only letters, digits, '-' and "
			    "'_'", in->name);
		memset(&r, 0, sizeof r);
		r.in = in;
		if (!wf_is_null(v)) {
			wf_walk(ctx, v, wf_input_keys, nitems(wf_input_keys),
			    &r, w);
			if (v->type == YAML_MAPPING_NODE)
				wf_input_check(ctx, v, in, &r, w);
		}
		free(r.type);
		free(r.required.expr);
		free(r.deprecation);
		free(w);
	}
}

static void
wf_input_free(struct wf_input *in)
{
	free(in->name);
	free(in->description);
	free(in->def);
	json_decref(in->def_json);
	wf_strlist_free(&in->options);
}

/* One event of on:, with its config node (NULL in string/list forms). */
static void
wf_on_event(struct wf_ctx *ctx, yaml_node_t *name, yaml_node_t *cfg)
{
	struct wf_on	*on = &ctx->wf->on;
	const struct event_kind *kind;
	struct wf_event	*ev;
	const char	*ename;
	char		*where;
	size_t		 i;

	if (name->type != YAML_SCALAR_NODE || wf_is_null(name)) {
		wf_err(ctx, name, "events in 'on' must be names, not %s",
		    wf_kind(name));
		return;
	}
	ename = wf_sv(name);
	if ((kind = event_kind_find(ename)) == NULL) {
		wf_err(ctx, name, "unknown event '%s' in 'on'", ename);
		return;
	}
	for (i = 0; i < on->nevents; i++) {
		if (strcmp(on->events[i].name, ename) == 0) {
			wf_err(ctx, name, "event '%s' is listed twice in 'on'",
			    ename);
			return;
		}
	}
	on->events = xreallocarray(on->events, on->nevents + 1,
	    sizeof *on->events);
	ev = &on->events[on->nevents++];
	ev->name = xstrdup(ename);
	ev->pos = wf_pos_of(name);
	where = xasprintf("on.%s", ename);
	ev->config = cfg != NULL ? wf_json(ctx, cfg, where) : json_null();
	if (ev->config == NULL)
		ev->config = json_null();

	switch (kind->filter) {
	case EVENT_FILTER_PUSH:
		wf_on_filter(ctx, cfg, where, &on->push, 1, ev->pos);
		break;
	case EVENT_FILTER_PULL:
		wf_on_filter(ctx, cfg, where, strcmp(ename,
		    "pull_request_target") == 0 ? &on->pull_request_target :
		    &on->pull_request, 0, ev->pos);
		break;
	case EVENT_FILTER_SCHEDULE:
		wf_on_schedule(ctx, cfg != NULL ? cfg : name, where);
		break;
	case EVENT_FILTER_DISPATCH:
		wf_on_dispatch(ctx, cfg, where);
		break;
	case EVENT_FILTER_TYPES:
		break;
	}
	free(where);
}

static void
wf_k_on(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED, yaml_node_t *v,
    void *obj WF_UNUSED, const char *where WF_UNUSED)
{
	yaml_node_item_t *it;
	yaml_node_pair_t *p;

	ctx->wf->on.pos = wf_pos_of(v);
	switch (v->type) {
	case YAML_SCALAR_NODE:
		if (wf_is_null(v)) {
			wf_err(ctx, v, "'on' is empty; name at least one event "
			    "(for example 'on: push')");
			return;
		}
		wf_on_event(ctx, v, NULL);
		break;
	case YAML_SEQUENCE_NODE:
		if (v->data.sequence.items.start == v->data.sequence.items.top)
			wf_err(ctx, v, "'on' is an empty list; name at least "
			    "one event");
		for (it = v->data.sequence.items.start;
		    it < v->data.sequence.items.top; it++)
			wf_on_event(ctx, wf_node(ctx, *it), NULL);
		break;
	case YAML_MAPPING_NODE:
		if (v->data.mapping.pairs.start == v->data.mapping.pairs.top)
			wf_err(ctx, v, "'on' is an empty mapping; name at "
			    "least one event");
		for (p = v->data.mapping.pairs.start;
		    p < v->data.mapping.pairs.top; p++)
			wf_on_event(ctx, wf_node(ctx, p->key),
			    wf_node(ctx, p->value));
		break;
	default:
		break;
	}
}

static void
wf_on_free(struct wf_on *on)
{
	size_t i;

	for (i = 0; i < on->nevents; i++) {
		free(on->events[i].name);
		json_decref(on->events[i].config);
	}
	free(on->events);
	wf_on_filter_free(&on->push);
	wf_on_filter_free(&on->pull_request);
	wf_on_filter_free(&on->pull_request_target);
	for (i = 0; i < on->nschedules; i++) {
		free(on->schedules[i].cron);
		free(on->schedules[i].timezone);
	}
	free(on->schedules);
	for (i = 0; i < on->ninputs; i++)
		wf_input_free(&on->inputs[i]);
	free(on->inputs);
}

/* ---------------------------------------------------------------------
 * Steps
 */

static void
wf_k_step_uses(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	((struct wf_step *)obj)->uses_pos = wf_pos_of(v);
	wf_k_str_noexpr(ctx, key, v, obj, where);
}

static const struct wf_key wf_step_keys[] = {
	{ "id", wf_k_str_noexpr, offsetof(struct wf_step, id) },
	{ "name", wf_k_str, offsetof(struct wf_step, name) },
	{ "if", wf_k_if, offsetof(struct wf_step, if_cond) },
	{ "uses", wf_k_step_uses, offsetof(struct wf_step, uses) },
	{ "with", wf_k_map, offsetof(struct wf_step, with) },
	{ "run", wf_k_str, offsetof(struct wf_step, run) },
	{ "shell", wf_k_str_noexpr, offsetof(struct wf_step, shell) },
	{ "env", wf_k_map, offsetof(struct wf_step, env) },
	{ "working-directory", wf_k_str,
	    offsetof(struct wf_step, working_directory) },
	{ "continue-on-error", wf_k_bool,
	    offsetof(struct wf_step, continue_on_error) },
	{ "timeout-minutes", wf_k_num,
	    offsetof(struct wf_step, timeout_minutes) },
};

/* GitHub's default display name: "Run <first line of run>" / "Run <uses>". */
static char *
wf_step_default_name(const struct wf_step *s)
{
	const char	*p, *e;

	if (s->uses != NULL)
		return xasprintf("Run %s", s->uses);
	if (s->run == NULL)
		return xasprintf("Step %zu", s->index + 1);
	p = s->run;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\n' && *p != '\r')
			break;
		p++;
	}
	e = p + strcspn(p, "\r\n");
	while (e > p && isspace((unsigned char)e[-1]))
		e--;
	return xasprintf("Run %.*s", (int)(e - p), p);
}

/* owner/repo[/path]@ref, as GitHub requires of a remote action. */
static int
wf_action_ref_ok(const char *uses)
{
	const char *at = strrchr(uses, '@'), *slash = strchr(uses, '/');

	return at != NULL && at[1] != '\0' && slash != NULL && slash > uses &&
	    slash + 1 < at;
}

static void
wf_step(struct wf_ctx *ctx, yaml_node_t *n, struct wf_step *s,
    const char *where)
{
	s->pos = wf_pos_of(n);
	wf_walk(ctx, n, wf_step_keys, nitems(wf_step_keys), s, where);
	if (n->type != YAML_MAPPING_NODE)
		return;
	if (s->run != NULL && s->uses != NULL)
		wf_err(ctx, n, "'%s' has both 'run' and 'uses'; a step does "
		    "one of them, split it into two steps", where);
	else if (s->run == NULL && s->uses == NULL) {
		if (wf_get(ctx, n, "run") == NULL &&
		    wf_get(ctx, n, "uses") == NULL)
			wf_err(ctx, n, "'%s' has neither 'run' nor 'uses'; add "
			    "one of them", where);
		else
			wf_err(ctx, n, "'%s' has an empty '%s'", where,
			    wf_get(ctx, n, "run") != NULL ? "run" : "uses");
	}
	if (s->run != NULL && s->with.set)
		wf_err(ctx, wf_get(ctx, n, "with"), "'%s.with' is only valid "
		    "with 'uses'; pass values to a 'run' step through 'env'",
		    where);
	if (s->uses != NULL && !str_has_prefix(s->uses, "./") &&
	    !str_has_prefix(s->uses, "docker://") &&
	    strstr(s->uses, "${{") == NULL && !wf_action_ref_ok(s->uses))
		wf_err(ctx, wf_get(ctx, n, "uses"), "'%s.uses': expected "
		    "{owner}/{repo}[/path]@{ref}, ./path or docker://image, not "
		    "'%s'", where, s->uses);
	if (s->uses != NULL && s->shell != NULL)
		wf_err(ctx, wf_get(ctx, n, "shell"), "'%s.shell' is only valid "
		    "with 'run'", where);
	if (s->uses != NULL && s->working_directory != NULL)
		wf_err(ctx, wf_get(ctx, n, "working-directory"), "'%s."
		    "working-directory' is only valid with 'run'", where);
	if (s->id != NULL && !wf_id_ok(s->id))
		wf_err(ctx, wf_get(ctx, n, "id"), "step id '%s' must start "
		    "with a letter or '_' and contain only letters, digits, "
		    "'-' and '_' (at most 99 characters)", s->id);
	if (s->timeout_minutes.set && s->timeout_minutes.expr == NULL &&
	    (s->timeout_minutes.value <= 0 || s->timeout_minutes.value > 360))
		wf_err(ctx, wf_get(ctx, n, "timeout-minutes"), "'%s."
		    "timeout-minutes' must be more than 0 and at most 360",
		    where);
	s->name_set = s->name != NULL;
	if (s->name == NULL)
		s->name = wf_step_default_name(s);
}

static void
wf_step_free(struct wf_step *s)
{
	free(s->id);
	free(s->name);
	free(s->if_cond);
	free(s->uses);
	wf_map_free(&s->with);
	free(s->run);
	free(s->shell);
	wf_map_free(&s->env);
	free(s->working_directory);
	free(s->continue_on_error.expr);
	free(s->timeout_minutes.expr);
}

/* ---------------------------------------------------------------------
 * Jobs
 */

static void
wf_k_needs(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v,
    void *obj, const char *where)
{
	struct wf_job		*j = obj;
	yaml_node_item_t	*it;
	size_t			 n;

	if (v->type == YAML_SCALAR_NODE && !wf_is_null(v)) {
		j->needs = xcalloc(1, sizeof *j->needs);
		j->needs_at = xcalloc(1, sizeof *j->needs_at);
		j->needs[0] = xstrdup(wf_sv(v));
		j->needs_at[0] = wf_pos_of(v);
		j->nneeds = 1;
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		wf_err(ctx, v, "'%s' must be a job id or a list of job ids, not "
		    "%s", where, wf_kind(v));
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	j->needs = xcalloc(n + 1, sizeof *j->needs);
	j->needs_at = xcalloc(n + 1, sizeof *j->needs_at);
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = wf_node(ctx, *it);

		if (item->type != YAML_SCALAR_NODE || wf_is_null(item)) {
			wf_err(ctx, item, "items of '%s' must be job ids, not "
			    "%s", where, wf_kind(item));
			continue;
		}
		j->needs_at[j->nneeds] = wf_pos_of(item);
		j->needs[j->nneeds++] = xstrdup(wf_sv(item));
	}
}

static const struct wf_key wf_runs_on_keys[] = {
	{ "group", wf_k_str, offsetof(struct wf_runs_on, group) },
	{ "labels", wf_k_strlist, offsetof(struct wf_runs_on, labels) },
};

static void
wf_k_runs_on(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v,
    void *obj, const char *where)
{
	struct wf_runs_on *r = &((struct wf_job *)obj)->runs_on;

	r->pos = wf_pos_of(v);
	if (v->type == YAML_SCALAR_NODE && wf_is_expr(wf_sv(v))) {
		r->expr = xstrdup(wf_sv(v));
		r->labels.set = 1;
		wf_check_expr(ctx, v, where, r->expr, 0);
		return;
	}
	if (v->type == YAML_MAPPING_NODE) {
		wf_walk(ctx, v, wf_runs_on_keys, nitems(wf_runs_on_keys), r,
		    where);
		if (r->group == NULL && !r->labels.set)
			wf_err(ctx, v, "'%s' needs 'group' or 'labels'", where);
		r->labels.set = 1;
		return;
	}
	wf_read_strlist(ctx, v, where, &r->labels);
}

static const struct wf_key wf_environment_keys[] = {
	{ "name", wf_k_str, offsetof(struct wf_job, environment) },
	{ "url", wf_k_str, offsetof(struct wf_job, environment_url) },
	{ "deployment", wf_k_bool,
	    offsetof(struct wf_job, environment_deployment) },
};

static void
wf_k_environment(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v, void *obj, const char *where)
{
	struct wf_job *j = obj;

	j->environment_pos = wf_pos_of(v);
	j->environment_deployment.value = 1;
	if (v->type == YAML_MAPPING_NODE) {
		wf_walk(ctx, v, wf_environment_keys,
		    nitems(wf_environment_keys), j, where);
		if (j->environment == NULL)
			wf_err(ctx, v, "'%s' needs a 'name'", where);
		return;
	}
	free(j->environment);
	j->environment = wf_scalar(ctx, v, where);
	if (j->environment != NULL && strstr(j->environment, "${{") != NULL)
		wf_check_expr(ctx, v, where, j->environment, 0);
}

/* A key kept raw whose place a warning names (container, services). */
static void
wf_k_json_at(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	struct wf_job *j = obj;

	if (strcmp(key->name, "container") == 0)
		j->container_pos = wf_pos_of(v);
	else
		j->services_pos = wf_pos_of(v);
	wf_k_json(ctx, key, v, obj, where);
}

/* A reusable workflow call: uses, and where it stands. */
static void
wf_k_job_uses(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	((struct wf_job *)obj)->uses_pos = wf_pos_of(v);
	wf_k_str_noexpr(ctx, key, v, obj, where);
}

static void
wf_k_job_secrets(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v, void *obj, const char *where)
{
	struct wf_job *j = obj;

	j->secrets_set = 1;
	json_decref(j->secrets);
	j->secrets = wf_json(ctx, v, where);
}

static void
wf_matrix_check(struct wf_ctx *ctx, yaml_node_t *n, const char *where)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*inc = NULL, *exc = NULL;
	size_t			 nvars = 0;

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		yaml_node_t	*k = wf_node(ctx, p->key);
		yaml_node_t	*v = wf_node(ctx, p->value);

		if (k->type != YAML_SCALAR_NODE)
			continue;
		if (strcmp(wf_sv(k), "include") == 0 ||
		    strcmp(wf_sv(k), "exclude") == 0) {
			if (strcmp(wf_sv(k), "include") == 0)
				inc = v;
			else
				exc = v;
			if (v->type == YAML_SCALAR_NODE && wf_is_expr(wf_sv(v)))
				continue;
			if (v->type != YAML_SEQUENCE_NODE)
				wf_err(ctx, v, "'%s.%s' must be a list of "
				    "mappings, not %s", where, wf_sv(k),
				    wf_kind(v));
			else {
				yaml_node_item_t *it;

				for (it = v->data.sequence.items.start;
				    it < v->data.sequence.items.top; it++) {
					yaml_node_t *e = wf_node(ctx, *it);

					if (e->type != YAML_MAPPING_NODE ||
					    e->data.mapping.pairs.start ==
					    e->data.mapping.pairs.top)
						wf_err(ctx, e, "entries of "
						    "'%s.%s' must be non-empty "
						    "mappings", where,
						    wf_sv(k));
				}
			}
			continue;
		}
		nvars++;
		if (v->type == YAML_SCALAR_NODE && wf_is_expr(wf_sv(v)))
			continue;
		if (v->type != YAML_SEQUENCE_NODE)
			wf_err(ctx, v, "matrix vector '%s' in '%s' must be a "
			    "list, not %s", wf_sv(k), where, wf_kind(v));
		else if (v->data.sequence.items.start ==
		    v->data.sequence.items.top)
			wf_err(ctx, v, "matrix vector '%s' in '%s' does not "
			    "contain any values", wf_sv(k), where);
	}
	if (nvars == 0 && inc == NULL)
		wf_err(ctx, n, "'%s' has no variables and no 'include'", where);
	if (exc != NULL && exc->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *it;

		for (it = exc->data.sequence.items.start;
		    it < exc->data.sequence.items.top; it++) {
			yaml_node_t *e = wf_node(ctx, *it);

			if (e->type != YAML_MAPPING_NODE)
				continue;
			for (p = e->data.mapping.pairs.start;
			    p < e->data.mapping.pairs.top; p++) {
				yaml_node_t *k = wf_node(ctx, p->key);

				if (k->type != YAML_SCALAR_NODE ||
				    strcmp(wf_sv(k), "include") == 0 ||
				    strcmp(wf_sv(k), "exclude") == 0 ||
				    wf_get_nocase(ctx, n, wf_sv(k)) == NULL)
					wf_err(ctx, k, "matrix exclude key "
					    "'%s' does not match any key "
					    "within '%s'",
					    k->type == YAML_SCALAR_NODE ?
					    wf_sv(k) : "?", where);
			}
		}
	}
}

static void
wf_k_matrix(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v,
    void *obj, const char *where)
{
	struct wf_strategy *st = obj;

	st->matrix_pos = wf_pos_of(v);
	if (v->type == YAML_SCALAR_NODE && wf_is_expr(wf_sv(v))) {
		st->matrix_expr = xstrdup(wf_sv(v));
		wf_check_expr(ctx, v, where, st->matrix_expr, 0);
		return;
	}
	if (v->type != YAML_MAPPING_NODE) {
		wf_err(ctx, v, "'%s' must be a mapping of variables to lists, "
		    "or a ${{ }} expression, not %s", where, wf_kind(v));
		return;
	}
	json_decref(st->matrix);
	st->matrix = wf_json(ctx, v, where);
	if (st->matrix != NULL)
		wf_matrix_check(ctx, v, where);
}

static const struct wf_key wf_strategy_keys[] = {
	{ "matrix", wf_k_matrix, 0 },
	{ "fail-fast", wf_k_bool, offsetof(struct wf_strategy, fail_fast) },
	{ "max-parallel", wf_k_num,
	    offsetof(struct wf_strategy, max_parallel) },
};

static void
wf_k_strategy(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v,
    void *obj, const char *where)
{
	struct wf_strategy *st = &((struct wf_job *)obj)->strategy;

	st->set = 1;
	wf_walk(ctx, v, wf_strategy_keys, nitems(wf_strategy_keys), st, where);
	if (st->max_parallel.set && st->max_parallel.expr == NULL &&
	    (st->max_parallel.value < 1 || st->max_parallel.value > WF_MAX_JOBS ||
	    st->max_parallel.value != floor(st->max_parallel.value)))
		wf_err(ctx, wf_get(ctx, v, "max-parallel"), "'%s.max-parallel' "
		    "must be a whole number, at least 1 and at most %d", where,
		    WF_MAX_JOBS);
}

/* A list of steps (a job's, or a composite action's) into *steps. */
static void
wf_read_steps(struct wf_ctx *ctx, yaml_node_t *v, const char *where,
    struct wf_step **steps, size_t *nsteps)
{
	yaml_node_item_t	*it;
	struct wf_step		*s;
	size_t			 n, i, k;
	char			*w;

	if (v->type != YAML_SEQUENCE_NODE) {
		wf_err(ctx, v, "'%s' must be a list of steps, not %s", where,
		    wf_kind(v));
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0) {
		wf_err(ctx, v, "'%s' is empty; it needs at least one step",
		    where);
		return;
	}
	if (n > WF_MAX_STEPS) {
		wf_err(ctx, v, "'%s' has %zu steps, more than the limit of %d",
		    where, n, WF_MAX_STEPS);
		n = WF_MAX_STEPS;
	}
	s = *steps = xcalloc(n, sizeof *s);
	for (it = v->data.sequence.items.start, i = 0; i < n; it++, i++) {
		yaml_node_t *sn = wf_node(ctx, *it);

		s[i].index = i;
		w = xasprintf("%s[%zu]", where, i);
		wf_step(ctx, sn, &s[i], w);
		(*nsteps)++;
		free(w);
		if (s[i].id == NULL)
			continue;
		for (k = 0; k < i; k++) {
			if (s[k].id != NULL &&
			    strcasecmp(s[k].id, s[i].id) == 0) {
				wf_err(ctx, wf_get(ctx, sn, "id"), "step id "
				    "'%s' is already used by %s[%zu] (line %d)"
				    "; step ids must be unique within a job",
				    s[i].id, where, k, s[k].pos.line);
				break;
			}
		}
	}
}

static void
wf_k_steps(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v,
    void *obj, const char *where)
{
	struct wf_job *j = obj;

	wf_read_steps(ctx, v, where, &j->steps, &j->nsteps);
}

static const struct wf_key wf_job_keys[] = {
	{ "name", wf_k_str, offsetof(struct wf_job, name) },
	{ "needs", wf_k_needs, 0 },
	{ "if", wf_k_if, offsetof(struct wf_job, if_cond) },
	{ "runs-on", wf_k_runs_on, 0 },
	{ "environment", wf_k_environment, 0 },
	{ "strategy", wf_k_strategy, 0 },
	{ "timeout-minutes", wf_k_num,
	    offsetof(struct wf_job, timeout_minutes) },
	{ "continue-on-error", wf_k_bool,
	    offsetof(struct wf_job, continue_on_error) },
	{ "env", wf_k_map, offsetof(struct wf_job, env) },
	{ "defaults", wf_k_defaults, offsetof(struct wf_job, defaults) },
	{ "outputs", wf_k_map, offsetof(struct wf_job, outputs) },
	{ "steps", wf_k_steps, 0 },
	{ "concurrency", wf_k_concurrency,
	    offsetof(struct wf_job, concurrency) },
	{ "permissions", wf_k_permissions,
	    offsetof(struct wf_job, permissions) },
	{ "container", wf_k_json_at, offsetof(struct wf_job, container) },
	{ "services", wf_k_json_at, offsetof(struct wf_job, services) },
	{ "uses", wf_k_job_uses, offsetof(struct wf_job, uses) },
	{ "with", wf_k_map, offsetof(struct wf_job, with) },
	{ "secrets", wf_k_job_secrets, 0 },
};

/*
 * The keys GitHub takes on a job that calls a reusable workflow: the
 * callee's jobs say where and how they run, so runs-on, steps, env and
 * the rest would be silently dropped there.
 */
static const char *const wf_caller_keys[] = {
	"name", "uses", "with", "secrets", "needs", "if", "permissions",
	"strategy", "concurrency",
};

/* 1 if uses names a reusable workflow as GitHub spells it. */
int
workflow_call_ref_ok(const char *uses)
{
	const char *path = uses, *at = strrchr(uses, '@'), *end;
	size_t n;
	int i;

	if (str_has_prefix(uses, "./")) {
		if (at != NULL)
			return 0;	/* same commit: no ref */
		path = uses + 2;
		end = uses + strlen(uses);
	} else {
		if (at == NULL || at[1] == '\0')
			return 0;
		/* owner/repo/ before the path */
		for (i = 0; i < 2; i++) {
			n = strcspn(path, "/");
			if (n == 0 || path[n] != '/')
				return 0;
			path += n + 1;
		}
		end = at;
	}
	n = (size_t)(end - path);
	if (!str_has_prefix(path, ".github/workflows/") ||
	    memchr(path + 18, '/', n - 18) != NULL)
		return 0;
	return (n > 18 + 4 && strncmp(end - 4, ".yml", 4) == 0) ||
	    (n > 18 + 5 && strncmp(end - 5, ".yaml", 5) == 0);
}

static void
wf_caller_check(struct wf_ctx *ctx, yaml_node_t *v, const struct wf_job *j,
    const char *where)
{
	yaml_node_pair_t *p;
	yaml_node_t *sec;
	size_t i;

	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	    p++) {
		yaml_node_t *k = wf_node(ctx, p->key);

		if (k->type != YAML_SCALAR_NODE)
			continue;
		for (i = 0; i < nitems(wf_caller_keys); i++)
			if (strcmp(wf_sv(k), wf_caller_keys[i]) == 0)
				break;
		if (i == nitems(wf_caller_keys))
			wf_err(ctx, k, "'%s.%s' is not allowed on a job that "
			    "calls a reusable workflow with 'uses' (allowed: "
			    "name, uses, with, secrets, needs, if, permissions, "
			    "strategy, concurrency); the called workflow's "
			    "jobs say how they run", where, wf_sv(k));
	}
	if (!workflow_call_ref_ok(j->uses))
		wf_err(ctx, wf_get(ctx, v, "uses"), "'%s.uses': expected "
		    "'./.github/workflows/FILE.yml' (this repository, this "
		    "commit) or 'OWNER/REPO/.github/workflows/FILE.yml@REF', "
		    "not '%s'", where, j->uses);
	sec = wf_get(ctx, v, "secrets");
	if (sec != NULL && !wf_is_null(sec) && !(sec->type ==
	    YAML_MAPPING_NODE || (sec->type == YAML_SCALAR_NODE &&
	    strcmp(wf_sv(sec), "inherit") == 0)))
		wf_err(ctx, sec, "'%s.secrets' must be 'inherit' or a mapping "
		    "of secret names to values", where);
}

static void
wf_job(struct wf_ctx *ctx, yaml_node_t *k, yaml_node_t *v, struct wf_job *j)
{
	char *where;

	j->id = xstrdup(wf_sv(k));
	j->pos = wf_pos_of(k);
	j->strategy.fail_fast.value = 1;
	j->timeout_minutes.value = WF_DEFAULT_TIMEOUT;
	where = xasprintf("jobs.%s", j->id);
	if (!wf_id_ok(j->id))
		wf_err(ctx, k, "job id '%s' must start with a letter or '_' "
		    "and contain only letters, digits, '-' and '_' (at most 99 "
		    "characters)", j->id);
	else if (strncmp(j->id, "__", 2) == 0)
		wf_err(ctx, k, "job id '%s': ids starting with '__' are "
		    "reserved", j->id);
	if (wf_is_null(v))
		wf_err(ctx, v, "'%s' is empty; a job needs 'runs-on' and "
		    "'steps'", where);
	else
		wf_walk(ctx, v, wf_job_keys, nitems(wf_job_keys), j, where);
	if (v->type == YAML_MAPPING_NODE) {
		if (j->uses != NULL)
			wf_caller_check(ctx, v, j, where);
		else {
			if (wf_get(ctx, v, "runs-on") == NULL)
				wf_err(ctx, v, "'%s' has no 'runs-on'; add for "
				    "example 'runs-on: self-hosted'", where);
			if (wf_get(ctx, v, "steps") == NULL)
				wf_err(ctx, v, "'%s' has no 'steps'", where);
			if (wf_get(ctx, v, "with") != NULL)
				wf_err(ctx, wf_get(ctx, v, "with"), "'%s.with' "
				    "is only valid with 'uses' (a reusable "
				    "workflow call)", where);
			if (wf_get(ctx, v, "secrets") != NULL)
				wf_err(ctx, wf_get(ctx, v, "secrets"), "'%s."
				    "secrets' is only valid with 'uses' (a "
				    "reusable workflow call)", where);
		}
		/* Above 5 days is accepted and capped when the job runs. */
		if (j->timeout_minutes.set && j->timeout_minutes.expr == NULL &&
		    !(j->timeout_minutes.value > 0 &&
		    isfinite(j->timeout_minutes.value)))
			wf_err(ctx, wf_get(ctx, v, "timeout-minutes"), "'%s."
			    "timeout-minutes' must be more than 0 (minutes)",
			    where);
	}
	j->name_set = j->name != NULL;
	if (j->name == NULL)
		j->name = xstrdup(j->id);
	free(where);
}

void
workflow_job_free(struct wf_job *j)
{
	size_t i;

	free(j->id);
	free(j->name);
	for (i = 0; i < j->nneeds; i++)
		free(j->needs[i]);
	free(j->needs);
	free(j->needs_at);
	free(j->if_cond);
	wf_strlist_free(&j->runs_on.labels);
	free(j->runs_on.group);
	free(j->runs_on.expr);
	free(j->environment);
	free(j->environment_url);
	free(j->environment_deployment.expr);
	json_decref(j->strategy.matrix);
	free(j->strategy.matrix_expr);
	free(j->strategy.fail_fast.expr);
	free(j->strategy.max_parallel.expr);
	free(j->timeout_minutes.expr);
	free(j->continue_on_error.expr);
	wf_map_free(&j->env);
	free(j->defaults.shell);
	free(j->defaults.working_directory);
	wf_map_free(&j->outputs);
	wf_concurrency_free(&j->concurrency);
	free(j->uses);
	wf_map_free(&j->with);
	json_decref(j->secrets);
	json_decref(j->container);
	json_decref(j->permissions);
	json_decref(j->services);
	for (i = 0; i < j->nsteps; i++)
		wf_step_free(&j->steps[i]);
	free(j->steps);
}

/* DFS colours for cycle detection. */
enum { WF_WHITE, WF_GREY, WF_BLACK };

static void
wf_needs_dfs(struct wf_ctx *ctx, size_t u, int *colour, size_t *stack,
    size_t depth)
{
	struct workflow	*wf = ctx->wf;
	struct wf_job	*j = &wf->jobs[u];
	size_t		 i, k;
	int		 t;

	colour[u] = WF_GREY;
	stack[depth] = u;
	for (i = 0; i < j->nneeds; i++) {
		if ((t = workflow_job_index(wf, j->needs[i])) < 0)
			continue;
		if (colour[t] == WF_GREY) {
			struct buf b = { 0 };

			for (k = 0; k <= depth && stack[k] != (size_t)t; k++)
				;
			for (; k <= depth; k++)
				buf_printf(&b, "%s -> ", wf->jobs[stack[k]].id);
			buf_add_str(&b, wf->jobs[t].id);
			wf_err_at(ctx, j->needs_at[i].line, j->needs_at[i].col,
			    "job '%s' depends on job '%s', which creates a "
			    "cycle in the dependency graph: %s", j->id,
			    j->needs[i], b.data);
			buf_free(&b);
		} else if (colour[t] == WF_WHITE)
			wf_needs_dfs(ctx, (size_t)t, colour, stack, depth + 1);
	}
	colour[u] = WF_BLACK;
}

static void
wf_check_needs(struct wf_ctx *ctx)
{
	struct workflow	*wf = ctx->wf;
	size_t		 i, k, *stack;
	int		*colour;

	for (i = 0; i < wf->njobs; i++) {
		struct wf_job *j = &wf->jobs[i];

		for (k = 0; k < j->nneeds; k++) {
			if (workflow_job_index(wf, j->needs[k]) < 0)
				wf_err_at(ctx, j->needs_at[k].line,
				    j->needs_at[k].col, "job '%s' depends on "
				    "unknown job '%s'", j->id, j->needs[k]);
		}
	}
	colour = xcalloc(wf->njobs + 1, sizeof *colour);
	stack = xcalloc(wf->njobs + 1, sizeof *stack);
	for (i = 0; i < wf->njobs; i++)
		if (colour[i] == WF_WHITE)
			wf_needs_dfs(ctx, i, colour, stack, 0);
	free(colour);
	free(stack);
}

static void
wf_k_jobs(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v,
    void *obj WF_UNUSED, const char *where WF_UNUSED)
{
	struct workflow		*wf = ctx->wf;
	yaml_node_pair_t	*p;
	size_t			 n, i;

	if (v->type != YAML_MAPPING_NODE) {
		wf_err(ctx, v, "'jobs' must be a mapping of job ids to jobs, "
		    "not %s", wf_kind(v));
		return;
	}
	n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	if (n == 0) {
		wf_err(ctx, v, "'jobs' is empty; define at least one job");
		return;
	}
	if (n > WF_MAX_JOBS) {
		wf_err(ctx, v, "'jobs' has %zu jobs, more than the limit of %d",
		    n, WF_MAX_JOBS);
		n = WF_MAX_JOBS;
	}
	wf->jobs = xcalloc(n, sizeof *wf->jobs);
	for (p = v->data.mapping.pairs.start;
	    p < v->data.mapping.pairs.top && wf->njobs < n; p++) {
		yaml_node_t *k = wf_node(ctx, p->key);

		if (k->type != YAML_SCALAR_NODE || wf_is_null(k)) {
			wf_err(ctx, k, "job ids must be strings");
			continue;
		}
		for (i = 0; i < wf->njobs; i++) {
			if (strcasecmp(wf->jobs[i].id, wf_sv(k)) == 0 &&
			    strcmp(wf->jobs[i].id, wf_sv(k)) != 0)
				wf_err(ctx, k, "job id '%s' differs from job "
				    "'%s' (line %d) only in case; job ids are "
				    "case-insensitive", wf_sv(k),
				    wf->jobs[i].id, wf->jobs[i].pos.line);
		}
		wf_job(ctx, k, wf_node(ctx, p->value), &wf->jobs[wf->njobs++]);
	}
	wf_check_needs(ctx);
}

/* ---------------------------------------------------------------------
 * Top level
 */

static const struct wf_key wf_top_keys[] = {
	{ "name", wf_k_str, offsetof(struct workflow, name) },
	{ "run-name", wf_k_str, offsetof(struct workflow, run_name) },
	{ "on", wf_k_on, 0 },
	{ "env", wf_k_map, offsetof(struct workflow, env) },
	{ "defaults", wf_k_defaults, offsetof(struct workflow, defaults) },
	{ "concurrency", wf_k_concurrency,
	    offsetof(struct workflow, concurrency) },
	{ "permissions", wf_k_permissions,
	    offsetof(struct workflow, permissions) },
	{ "jobs", wf_k_jobs, 0 },
};

/*
 * Duplicate keys, in every mapping of the document (aliases share nodes,
 * so each mapping is checked once).  Sorting keeps this O(n log n) for a
 * hostile file with a huge mapping.
 */
struct wf_keyref {
	const char	*key;
	yaml_node_t	*node;
	size_t		 order;
};

static int
wf_keyref_cmp(const void *a, const void *b)
{
	const struct wf_keyref	*x = a, *y = b;
	int			 c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void
wf_check_dup_keys(struct wf_ctx *ctx)
{
	yaml_node_t		*n;
	yaml_node_pair_t	*p;
	struct wf_keyref	*refs;
	size_t			 nr, i;

	for (n = ctx->doc->nodes.start; n < ctx->doc->nodes.top; n++) {
		if (n->type != YAML_MAPPING_NODE)
			continue;
		nr = (size_t)(n->data.mapping.pairs.top -
		    n->data.mapping.pairs.start);
		if (nr < 2)
			continue;
		refs = xcalloc(nr, sizeof *refs);
		nr = 0;
		for (p = n->data.mapping.pairs.start;
		    p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = wf_node(ctx, p->key);

			if (k->type != YAML_SCALAR_NODE)
				continue;
			refs[nr].key = wf_sv(k);
			refs[nr].node = k;
			refs[nr].order = nr;
			nr++;
		}
		qsort(refs, nr, sizeof *refs, wf_keyref_cmp);
		for (i = 1; i < nr; i++) {
			if (strcmp(refs[i].key, refs[i - 1].key) != 0)
				continue;
			wf_err(ctx, refs[i].node, "duplicate key '%s' (first "
			    "defined at line %d, column %d)", refs[i].key,
			    (int)refs[i - 1].node->start_mark.line + 1,
			    (int)refs[i - 1].node->start_mark.column + 1);
		}
		free(refs);
	}
}

/* Line and column of byte offset off in text, for reader errors. */
static void
wf_offset_pos(const char *text, size_t len, size_t off, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

static void
wf_yaml_error(struct wf_ctx *ctx, yaml_parser_t *parser, const char *text,
    size_t len)
{
	int		 line, col;
	const char	*problem = parser->problem != NULL ? parser->problem :
			    "unknown error";

	if (parser->error == YAML_READER_ERROR) {
		wf_offset_pos(text, len, parser->problem_offset, &line, &col);
		wf_err_at(ctx, line, col, "YAML: %s", problem);
		return;
	}
	line = (int)parser->problem_mark.line + 1;
	col = (int)parser->problem_mark.column + 1;
	if (parser->context != NULL)
		wf_err_at(ctx, line, col, "YAML syntax error: %s (%s at line "
		    "%d, column %d)", problem, parser->context,
		    (int)parser->context_mark.line + 1,
		    (int)parser->context_mark.column + 1);
	else
		wf_err_at(ctx, line, col, "YAML syntax error: %s", problem);
}

/*
 * libyaml's scanner slows down quadratically with flow nesting depth, so a
 * 1 MiB file of '[' would pin a worker for hours inside yaml_parser_load().
 * This pass streams events and stops at the first node nested deeper than
 * WF_MAX_DEPTH, before the document is built.  Syntax errors are left to
 * the real load, which reports them.  Returns -1 if too deep.
 */
static int
wf_prescan(struct wf_ctx *ctx, const char *text, size_t len)
{
	yaml_parser_t	p;
	yaml_event_t	ev;
	int		depth = 0, rc = 0, done = 0;

	if (!yaml_parser_initialize(&p))
		return 0;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev))
			break;
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > WF_MAX_DEPTH) {
				wf_err_at(ctx, (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1, "nesting "
				    "deeper than %d levels", WF_MAX_DEPTH);
				rc = -1;
				done = 1;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc;
}

/*
 * Load the one YAML document of text into *doc: bounded in size and depth,
 * a second document refused.  The root node, or NULL with an error (and
 * nothing left to free); on success the caller deletes doc and parser.
 */
static yaml_node_t *
wf_load(struct wf_ctx *ctx, yaml_parser_t *parser, yaml_document_t *doc,
    const char *text, size_t len, const char *what)
{
	yaml_document_t	 doc2;
	yaml_node_t	*root;

	if (len > WF_MAX_FILE_SIZE) {
		wf_err_at(ctx, 1, 1, "%s file is %zu bytes, more than the limit "
		    "of %d bytes", what, len, WF_MAX_FILE_SIZE);
		return NULL;
	}
	if (wf_prescan(ctx, text, len) != 0)
		return NULL;
	if (!yaml_parser_initialize(parser)) {
		wf_err_at(ctx, 1, 1, "cannot initialise the YAML parser");
		return NULL;
	}
	yaml_parser_set_input_string(parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(parser, doc)) {
		wf_yaml_error(ctx, parser, text, len);
		yaml_parser_delete(parser);
		return NULL;
	}
	root = yaml_document_get_root_node(doc);
	if (root == NULL) {
		wf_err_at(ctx, 1, 1, "%s file is empty", what);
		goto fail;
	}
	if (!yaml_parser_load(parser, &doc2)) {
		wf_yaml_error(ctx, parser, text, len);
		goto fail;
	}
	if (yaml_document_get_root_node(&doc2) != NULL) {
		wf_err_at(ctx, (int)doc2.start_mark.line + 1,
		    (int)doc2.start_mark.column + 1, "a %s file holds one YAML "
		    "document; remove the second one", what);
		yaml_document_delete(&doc2);
		goto fail;
	}
	yaml_document_delete(&doc2);
	return root;
fail:
	yaml_document_delete(doc);
	yaml_parser_delete(parser);
	return NULL;
}

struct workflow *
workflow_parse(const char *path, const char *text, size_t len,
    struct wf_errors *errs)
{
	struct wf_ctx	 ctx;
	yaml_parser_t	 parser;
	yaml_document_t	 doc;
	yaml_node_t	*root;
	struct workflow	*wf;
	size_t		 first = errs->n;

	memset(&ctx, 0, sizeof ctx);
	ctx.path = path;
	ctx.errs = errs;
	ctx.budget = WF_JSON_BUDGET;
	if ((root = wf_load(&ctx, &parser, &doc, text, len,
	    "workflow")) == NULL)
		return NULL;
	if (root->type != YAML_MAPPING_NODE) {
		wf_err(&ctx, root, "a workflow must be a mapping with 'on' and "
		    "'jobs', not %s", wf_kind(root));
		yaml_document_delete(&doc);
		yaml_parser_delete(&parser);
		return NULL;
	}

	ctx.doc = &doc;
	wf = xcalloc(1, sizeof *wf);
	ctx.wf = wf;
	wf->path = xstrdup(path);
	wf_check_dup_keys(&ctx);
	wf_walk(&ctx, root, wf_top_keys, nitems(wf_top_keys), wf, "");
	if (wf_get(&ctx, root, "on") == NULL)
		wf_err(&ctx, root, "workflow has no 'on'; add the events that "
		    "trigger it (for example 'on: push')");
	if (wf_get(&ctx, root, "jobs") == NULL)
		wf_err(&ctx, root, "workflow has no 'jobs'; define at least one "
		    "job");
	wf->name_set = wf->name != NULL;
	if (wf->name == NULL)
		wf->name = xstrdup(path);

	wf_errors_sort(errs, first);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return wf;
}

/* ---------------------------------------------------------------------
 * Actions: action.yml (reference 6.5, 6.6)
 */

/* Read but not used: they change nothing kiln does. */
static void
wf_k_ignore(struct wf_ctx *ctx WF_UNUSED, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v WF_UNUSED, void *obj WF_UNUSED,
    const char *where WF_UNUSED)
{
}

/* required: true/false, also as the strings real actions write. */
static void
wf_k_required(struct wf_ctx *ctx, const struct wf_key *key, yaml_node_t *v,
    void *obj, const char *where)
{
	int *dst = WF_FIELD(obj, key, int);

	if (v->type != YAML_SCALAR_NODE) {
		wf_err(ctx, v, "'%s' must be true or false, not %s", where,
		    wf_kind(v));
		return;
	}
	*dst = strcasecmp(wf_sv(v), "true") == 0;
}

/* default: any scalar, as its text. */
static void
wf_k_input_text(struct wf_ctx *ctx, const struct wf_key *key,
    yaml_node_t *v, void *obj, const char *where)
{
	char **dst = WF_FIELD(obj, key, char *);

	free(*dst);
	*dst = NULL;
	if (v->type == YAML_SCALAR_NODE && wf_is_null(v)) {
		*dst = xstrdup("");
		return;
	}
	wf_k_str(ctx, key, v, obj, where);
}

static const struct wf_key wf_action_input_keys[] = {
	{ "description", wf_k_ignore, 0 },
	{ "required", wf_k_required,
	    offsetof(struct wf_action_input, required) },
	{ "default", wf_k_input_text, offsetof(struct wf_action_input, def) },
	{ "deprecationMessage", wf_k_str_noexpr,
	    offsetof(struct wf_action_input, deprecation) },
};

static void
wf_k_action_inputs(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v, void *obj, const char *where)
{
	struct wf_action *a = obj;
	struct wf_action_input *in;
	yaml_node_pair_t *p;
	char *w;

	if (v->type == YAML_SCALAR_NODE && wf_is_null(v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		wf_err(ctx, v, "'%s' must be a mapping of input names, not %s",
		    where, wf_kind(v));
		return;
	}
	a->inputs = xcalloc((size_t)(v->data.mapping.pairs.top -
	    v->data.mapping.pairs.start) + 1, sizeof *a->inputs);
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	    p++) {
		yaml_node_t *k = wf_node(ctx, p->key), *d = wf_node(ctx,
		    p->value);

		if (k->type != YAML_SCALAR_NODE || wf_sv(k)[0] == '\0') {
			wf_err(ctx, k, "keys of '%s' must be input names",
			    where);
			continue;
		}
		in = &a->inputs[a->ninputs++];
		in->name = xstrdup(wf_sv(k));
		in->pos = wf_pos_of(k);
		w = xasprintf("%s.%s", where, in->name);
		if (!(d->type == YAML_SCALAR_NODE && wf_is_null(d)))
			wf_walk(ctx, d, wf_action_input_keys,
			    nitems(wf_action_input_keys), in, w);
		free(w);
	}
}

struct wf_action_output {
	char	*value;
};

static const struct wf_key wf_action_output_keys[] = {
	{ "description", wf_k_ignore, 0 },
	{ "value", wf_k_str, offsetof(struct wf_action_output, value) },
};

/* outputs: name -> {description, value}; value for composite only. */
static void
wf_k_action_outputs(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v, void *obj, const char *where)
{
	struct wf_map *m = &((struct wf_action *)obj)->outputs;
	struct wf_action_output out;
	struct wf_map_entry *e;
	yaml_node_pair_t *p;
	char *w;

	m->set = 1;
	m->pos = wf_pos_of(v);
	if (v->type == YAML_SCALAR_NODE && wf_is_null(v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		wf_err(ctx, v, "'%s' must be a mapping of output names, not %s",
		    where, wf_kind(v));
		return;
	}
	m->v = xcalloc((size_t)(v->data.mapping.pairs.top -
	    v->data.mapping.pairs.start) + 1, sizeof *m->v);
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	    p++) {
		yaml_node_t *k = wf_node(ctx, p->key), *d = wf_node(ctx,
		    p->value);

		if (k->type != YAML_SCALAR_NODE || wf_sv(k)[0] == '\0') {
			wf_err(ctx, k, "keys of '%s' must be output names",
			    where);
			continue;
		}
		memset(&out, 0, sizeof out);
		w = xasprintf("%s.%s", where, wf_sv(k));
		if (!(d->type == YAML_SCALAR_NODE && wf_is_null(d)))
			wf_walk(ctx, d, wf_action_output_keys,
			    nitems(wf_action_output_keys), &out, w);
		free(w);
		e = &m->v[m->n++];
		e->key = xstrdup(wf_sv(k));
		e->pos = wf_pos_of(k);
		e->value = out.value;
	}
}

static void
wf_k_action_steps(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v, void *obj, const char *where)
{
	struct wf_action *a = obj;

	wf_read_steps(ctx, v, where, &a->steps, &a->nsteps);
}

static const struct wf_key wf_action_runs_keys[] = {
	{ "using", wf_k_str_noexpr, offsetof(struct wf_action, using) },
	{ "main", wf_k_str_noexpr, offsetof(struct wf_action, main) },
	{ "pre", wf_k_str_noexpr, offsetof(struct wf_action, pre) },
	{ "post", wf_k_str_noexpr, offsetof(struct wf_action, post) },
	{ "pre-if", wf_k_str, offsetof(struct wf_action, pre_if) },
	{ "post-if", wf_k_str, offsetof(struct wf_action, post_if) },
	{ "steps", wf_k_action_steps, 0 },
	/* Docker actions (worker/job.c runs them through the engine). */
	{ "image", wf_k_str, offsetof(struct wf_action, image) },
	{ "env", wf_k_json, offsetof(struct wf_action, env) },
	{ "args", wf_k_json, offsetof(struct wf_action, args) },
	{ "entrypoint", wf_k_str, offsetof(struct wf_action, entrypoint) },
	{ "pre-entrypoint", wf_k_str, offsetof(struct wf_action,
	    pre_entrypoint) },
	{ "post-entrypoint", wf_k_str, offsetof(struct wf_action,
	    post_entrypoint) },
};

static void
wf_k_action_runs(struct wf_ctx *ctx, const struct wf_key *key WF_UNUSED,
    yaml_node_t *v, void *obj, const char *where)
{
	wf_walk(ctx, v, wf_action_runs_keys, nitems(wf_action_runs_keys), obj,
	    where);
}

static const struct wf_key wf_action_keys[] = {
	{ "name", wf_k_str_noexpr, offsetof(struct wf_action, name) },
	{ "author", wf_k_ignore, 0 },
	{ "description", wf_k_ignore, 0 },
	{ "inputs", wf_k_action_inputs, 0 },
	{ "outputs", wf_k_action_outputs, 0 },
	{ "runs", wf_k_action_runs, 0 },
	{ "branding", wf_k_ignore, 0 },
};

/* What runs.using says must be there, and nothing of another kind. */
static void
wf_action_check(struct wf_ctx *ctx, yaml_node_t *root, struct wf_action *a)
{
	yaml_node_t *runs = wf_get(ctx, root, "runs");
	size_t i;

	if (runs == NULL) {
		wf_err(ctx, root, "action has no 'runs'; say how it runs "
		    "('runs.using')");
		return;
	}
	if (a->using == NULL) {
		wf_err(ctx, runs, "'runs' has no 'using' (composite, node20, "
		    "node24 or docker)");
		return;
	}
	if (strcmp(a->using, "composite") == 0) {
		a->kind = WF_ACTION_COMPOSITE;
		if (a->steps == NULL && wf_get(ctx, runs, "steps") == NULL)
			wf_err(ctx, runs, "a composite action needs "
			    "'runs.steps'");
		for (i = 0; i < a->nsteps; i++)
			if (a->steps[i].run != NULL &&
			    a->steps[i].shell == NULL)
				wf_err_at(ctx, a->steps[i].pos.line,
				    a->steps[i].pos.col, "'runs.steps[%zu]': "
				    "a composite action's 'run' step needs "
				    "'shell'", i);
	} else if (strcmp(a->using, "node12") == 0 ||
	    strcmp(a->using, "node16") == 0 ||
	    strcmp(a->using, "node20") == 0 ||
	    strcmp(a->using, "node24") == 0) {
		a->kind = WF_ACTION_NODE;
		if (a->main == NULL)
			wf_err(ctx, runs, "a %s action needs 'runs.main'",
			    a->using);
	} else if (strcmp(a->using, "docker") == 0) {
		a->kind = WF_ACTION_DOCKER;
		if (a->image == NULL)
			wf_err(ctx, runs, "a docker action needs "
			    "'runs.image'");
	} else
		wf_err(ctx, wf_get(ctx, runs, "using"), "'runs.using': unknown "
		    "'%s' (expected composite, node20, node24 or docker)",
		    a->using);
}

struct wf_action *
workflow_action_parse(const char *path, const char *text, size_t len,
    struct wf_errors *errs)
{
	struct wf_ctx	 ctx;
	yaml_parser_t	 parser;
	yaml_document_t	 doc;
	yaml_node_t	*root;
	struct wf_action *a;
	size_t		 first = errs->n;

	memset(&ctx, 0, sizeof ctx);
	ctx.path = path;
	ctx.errs = errs;
	ctx.budget = WF_JSON_BUDGET;
	if ((root = wf_load(&ctx, &parser, &doc, text, len, "action")) ==
	    NULL)
		return NULL;
	ctx.doc = &doc;
	a = xcalloc(1, sizeof *a);
	a->path = xstrdup(path);
	if (root->type != YAML_MAPPING_NODE)
		wf_err(&ctx, root, "an action's metadata must be a mapping "
		    "with 'runs', not %s", wf_kind(root));
	else {
		wf_check_dup_keys(&ctx);
		wf_walk(&ctx, root, wf_action_keys, nitems(wf_action_keys), a,
		    "");
		wf_action_check(&ctx, root, a);
	}
	wf_errors_sort(errs, first);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return a;
}

void
workflow_action_free(struct wf_action *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->ninputs; i++) {
		free(a->inputs[i].name);
		free(a->inputs[i].def);
		free(a->inputs[i].deprecation);
	}
	free(a->inputs);
	wf_map_free(&a->outputs);
	for (i = 0; i < a->nsteps; i++)
		wf_step_free(&a->steps[i]);
	free(a->steps);
	free(a->path);
	free(a->name);
	free(a->using);
	free(a->main);
	free(a->pre);
	free(a->post);
	free(a->pre_if);
	free(a->post_if);
	free(a->image);
	json_decref(a->env);
	json_decref(a->args);
	free(a->entrypoint);
	free(a->pre_entrypoint);
	free(a->post_entrypoint);
	free(a);
}

void
workflow_free(struct workflow *wf)
{
	size_t i;

	if (wf == NULL)
		return;
	free(wf->path);
	free(wf->name);
	free(wf->run_name);
	wf_on_free(&wf->on);
	wf_map_free(&wf->env);
	free(wf->defaults.shell);
	free(wf->defaults.working_directory);
	wf_concurrency_free(&wf->concurrency);
	json_decref(wf->permissions);
	for (i = 0; i < wf->njobs; i++)
		workflow_job_free(&wf->jobs[i]);
	free(wf->jobs);
	free(wf);
}

int
workflow_job_index(const struct workflow *wf, const char *id)
{
	size_t i;

	for (i = 0; i < wf->njobs; i++)
		if (strcmp(wf->jobs[i].id, id) == 0)
			return (int)i;
	return -1;
}

const struct wf_job *
workflow_job(const struct workflow *wf, const char *id)
{
	int i = workflow_job_index(wf, id);

	return i < 0 ? NULL : &wf->jobs[i];
}
