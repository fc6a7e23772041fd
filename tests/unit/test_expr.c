/*
 * Unit tests for common/expr.
 *
 * 1. GitHub's own expression test data (actions/languageservices
 *    expressions/testdata, ~1000 cases), read at run time from
 *    $KILN_CONFORMANCE_DIR; never copied into this tree.  Error cases pass
 *    when our message contains GitHub's text (their harness uses the same
 *    "contains" rule: some expected texts are prefixes).
 * 2. Our own tables, edge values first: the X-vectors of reference 8.4,
 *    error messages with positions, bounds, templates, conditions and
 *    hashFiles on a real temporary workspace.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "expr.h"
#include "util.h"
#include "harness.h"

/* ------------------------------------------------------------------ */
/* Conformance */

/*
 * Cases we skip, each with its reason.  The data's own "skip" option names
 * implementations (only "typescript" so far); it does not apply to us, so
 * those cases run.  Empty: every case passes.
 */
struct skip_reason {
	const char	*file;
	const char	*expr;
	const char	*reason;
};

static const struct skip_reason skip_reasons[] = {
	{ NULL, NULL, NULL }
};

static const char *
skip_reason_for(const char *file, const char *expr)
{
	const struct skip_reason	*s;

	for (s = skip_reasons; s->file != NULL; s++)
		if (strcmp(s->file, file) == 0 && strcmp(s->expr, expr) == 0)
			return s->reason;
	return NULL;
}

static const char *
kind_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_TRUE:
	case JSON_FALSE:
		return "Boolean";
	case JSON_INTEGER:
	case JSON_REAL:
		return "Number";
	case JSON_STRING:
		return "String";
	case JSON_ARRAY:
		return "Array";
	case JSON_OBJECT:
		return "Object";
	default:
		return "Null";
	}
}

/* Deep equality; numbers by value, object members in order. */
static int
same(const json_t *a, const json_t *b)
{
	void	*ia, *ib;
	size_t	 i;

	if (strcmp(kind_name(a), kind_name(b)) != 0)
		return 0;
	switch (json_typeof(a)) {
	case JSON_INTEGER:
	case JSON_REAL:
		return json_number_value(a) == json_number_value(b);
	case JSON_TRUE:
	case JSON_FALSE:
		return json_typeof(a) == json_typeof(b);
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
		    json_string_length(a)) == 0;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (i = 0; i < json_array_size(a); i++)
			if (!same(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return 0;
		ia = json_object_iter((json_t *)a);
		ib = json_object_iter((json_t *)b);
		for (; ia != NULL; ia = json_object_iter_next((json_t *)a, ia),
		    ib = json_object_iter_next((json_t *)b, ib)) {
			if (strcmp(json_object_iter_key(ia),
			    json_object_iter_key(ib)) != 0 ||
			    !same(json_object_iter_value(ia),
			    json_object_iter_value(ib)))
				return 0;
		}
		return 1;
	default:
		return 1;
	}
}

struct tally {
	int	passed, skipped, failed;
};

static void
report(const char *file, const char *group, const char *expr,
    const char *fmt, const char *detail)
{
	printf("FAIL %s [%s] %s: ", file, group, expr);
	printf(fmt, detail);
	printf("\n");
}

/* One case; returns 1 passed, 0 failed. */
static int
run_case(const char *file, const char *group, json_t *c)
{
	const char	*expr, *want_kind = NULL, *want_msg = NULL, *ekind;
	json_t		*contexts, *result, *errj, *got, *want = NULL;
	const char	**names;
	struct expr_scope scope;
	struct expr_ctx	 ctx;
	struct expr	*e;
	const char	*k;
	json_t		*v;
	char		 err[4096], *dump;
	size_t		 n = 0;
	int		 ok = 0;

	expr = json_string_value(json_object_get(c, "expr"));
	contexts = json_object_get(c, "contexts");
	result = json_object_get(c, "result");
	errj = json_object_get(c, "err");
	if (expr == NULL || (result == NULL && errj == NULL)) {
		report(file, group, expr ? expr : "?", "%s", "malformed case");
		return 0;
	}
	if (errj != NULL) {
		ekind = json_string_value(json_object_get(errj, "kind"));
		want_msg = json_string_value(json_object_get(errj, "value"));
		want_kind = ekind != NULL ? ekind : "";
	} else
		want = json_object_get(result, "value");

	names = xcalloc(json_object_size(contexts) + 1, sizeof *names);
	json_object_foreach(contexts, k, v)
		names[n++] = k;
	scope.contexts = names;
	scope.funcs = 0;	/* GitHub's harness offers no extra functions */

	e = expr_parse(expr, &scope, err, sizeof err);
	if (e == NULL) {
		if (want_kind != NULL && strcmp(want_kind, "evaluation") != 0 &&
		    (want_msg == NULL || strstr(err, want_msg) != NULL))
			ok = 1;
		else
			report(file, group, expr, "unexpected parse error: %s",
			    err);
		free(names);
		return ok;
	}
	if (want_kind != NULL && strcmp(want_kind, "evaluation") != 0) {
		report(file, group, expr, "parsed, want %s error", want_kind);
		expr_free(e);
		free(names);
		return 0;
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = contexts != NULL ? contexts : json_object();
	ctx.status = EXPR_ST_SUCCESS;
	got = expr_eval(e, &ctx, err, sizeof err);
	if (contexts == NULL)
		json_decref(ctx.contexts);
	expr_free(e);
	free(names);
	if (got == NULL) {
		if (want_kind != NULL &&
		    (want_msg == NULL || strstr(err, want_msg) != NULL))
			return 1;
		report(file, group, expr, "unexpected evaluation error: %s",
		    err);
		return 0;
	}
	if (want_kind != NULL) {
		report(file, group, expr, "evaluated, want %s error",
		    want_kind);
		json_decref(got);
		return 0;
	}
	if (strcmp(kind_name(got), json_string_value(json_object_get(result,
	    "kind"))) == 0 && same(got, want))
		ok = 1;
	else {
		dump = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
		report(file, group, expr, "got %s", dump);
		free(dump);
	}
	json_decref(got);
	return ok;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
conformance_dir(const char *dir, struct tally *t)
{
	DIR		*d;
	struct dirent	*de;
	char		**files = NULL, *path;
	const char	*group, *reason, *expr;
	json_t		*root, *cases, *c;
	json_error_t	 jerr;
	size_t		 nfiles = 0, i, k;

	d = opendir(dir);
	ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (str_has_suffix(de->d_name, ".json")) {
			files = xreallocarray(files, nfiles + 1, sizeof *files);
			files[nfiles++] = xstrdup(de->d_name);
		}
	closedir(d);
	qsort(files, nfiles, sizeof *files, name_cmp);
	ck_assert_msg(nfiles > 0, "no .json files in %s", dir);

	for (i = 0; i < nfiles; i++) {
		path = xasprintf("%s/%s", dir, files[i]);
		root = json_load_file(path, 0, &jerr);
		if (root == NULL) {
			printf("FAIL %s: %s\n", path, jerr.text);
			t->failed++;
			free(path);
			continue;
		}
		json_object_foreach(root, group, cases) {
			json_array_foreach(cases, k, c) {
				expr = json_string_value(json_object_get(c,
				    "expr"));
				reason = skip_reason_for(files[i],
				    expr != NULL ? expr : "");
				if (reason != NULL) {
					printf("skip %s %s: %s\n", files[i],
					    expr, reason);
					t->skipped++;
				} else if (run_case(files[i], group, c))
					t->passed++;
				else
					t->failed++;
			}
		}
		json_decref(root);
		free(path);
		free(files[i]);
	}
	free(files);
}

START_TEST(test_conformance)
{
	struct tally	t = { 0, 0, 0 };

	conformance_dir(getenv("KILN_CONFORMANCE_DIR"), &t);
	printf("conformance: %d passed, %d skipped (with reasons), "
	    "%d failed\n", t.passed, t.skipped, t.failed);
	fflush(stdout);
	ck_assert_int_gt(t.passed, 900);
	ck_assert_int_eq(t.failed, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Our own cases */

struct vec {
	const char	*expr;
	const char	*contexts;	/* JSON object, or NULL */
	const char	*want;		/* JSON of the result, or NULL */
	const char	*err;		/* substring of the error, or NULL */
};

static const struct vec vecs[] = {
	/* Edge values first. */
	{ "", NULL, "null", NULL },
	{ "   ", NULL, "null", NULL },
	{ "-0", NULL, "0", NULL },
	{ "NaN", NULL, "\"NaN\"", NULL },	/* JSON has no NaN */
	{ "-Infinity", NULL, "\"-Infinity\"", NULL },
	{ "''", NULL, "\"\"", NULL },
	{ "''''", NULL, "\"'\"", NULL },
	{ "'a''b''c'", NULL, "\"a'b'c\"", NULL },
	{ "0x7fffffff", NULL, "2147483647", NULL },
	/* Hex and octal are signed 32-bit, as the runner's Int32 parsing. */
	{ "0x80000000", NULL, "-2147483648", NULL },
	{ "0xFFFFFFFF", NULL, "-1", NULL },
	{ "0x00000000FFFFFFFF", NULL, "-1", NULL },
	{ "0x100000000", NULL, NULL, "Unexpected symbol: '0x100000000'" },
	{ "0o37777777777", NULL, "-1", NULL },
	{ "0o40000000000", NULL, NULL, "Unexpected symbol: '0o40000000000'" },
	{ "'0xFFFFFFFF' == -1", NULL, "true", NULL },
	{ "' 0xffffffff ' == 4294967295", NULL, "false", NULL },
	{ "'0x80000000' < 0", NULL, "true", NULL },
	/* fromJSON: overflow is Infinity, not an error (Newtonsoft). */
	{ "fromJSON('1e999')", NULL, "\"Infinity\"", NULL },
	{ "fromJSON('1e999') == Infinity", NULL, "true", NULL },
	{ "fromJSON('-1e999') == -Infinity", NULL, "true", NULL },
	{ "fromJSON('1e999') == 'Infinity'", NULL, "true", NULL },
	{ "fromJSON('[1e999, -2E+400, 1]')[0] == Infinity", NULL, "true",
	    NULL },
	{ "fromJSON('[1e999, -2E+400, 1]')[1] < -1e308", NULL, "true", NULL },
	{ "fromJSON('[1e999]')[0] == 'infinity'", NULL, "false", NULL },
	{ "fromJSON('[1e999, -1e999]')", NULL, "[\"Infinity\",\"-Infinity\"]",
	    NULL },
	{ "toJSON(fromJSON('[1e999, -1e999]'))", NULL,
	    "\"[\\n  Infinity,\\n  -Infinity\\n]\"", NULL },
	{ "fromJSON('{\"a\": {\"b\": 1e999}}').a.b", NULL, "\"Infinity\"",
	    NULL },
	{ "contains(fromJSON('[1e999]'), Infinity)", NULL, "true", NULL },
	{ "join(fromJSON('[1e999, 2]'), '|')", NULL, "\"Infinity|2\"", NULL },
	{ "fromJSON('1000000000000000000000000000000000000000000000000000000"
	    "00000000000000000000000000000000000000000000000000000000000000000"
	    "00000000000000000000000000000000000000000000000000000000000000000"
	    "00000000000000000000000000000000000000000000000000000000000000000"
	    "00000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000') == "
	    "Infinity", NULL, "true", NULL },
	/* A string that looks like the internal sentinel stays a string. */
	{ "fromJSON('[\"\\u0000+\", 1e999]')[0] == Infinity", NULL, "false",
	    NULL },
	{ "fromJSON('[\"\\u0000\\u0000+\", 1e999]')[1] == Infinity", NULL,
	    "true", NULL },
	{ "fromJSON('\"1e999\"')", NULL, "\"1e999\"", NULL },
	/* fromJSON: \u0000 in strings (GitHub's reader takes it). */
	{ "fromJSON('\"a\\u0000b\"') == fromJSON('\"A\\u0000B\"')", NULL,
	    "true", NULL },
	{ "toJSON(fromJSON('\"a\\u0000b\"'))", NULL,
	    "\"\\\"a\\\\u0000b\\\"\"", NULL },
	/* fromJSON: keys differing in case are one: first spelling, last value. */
	{ "toJSON(fromJSON('{\"a\": 1, \"b\": 2, \"A\": 3}'))", NULL,
	    "\"{\\n  \\\"a\\\": 3,\\n  \\\"b\\\": 2\\n}\"", NULL },
	{ "fromJSON('{\"Key\": 1, \"KEY\": 2}').key", NULL, "2", NULL },
	{ "join(fromJSON('{\"x\": {\"k\": 1, \"K\": 2}}').*.*)", NULL,
	    "\"2\"", NULL },
	{ "toJSON(fromJSON('{\"\xc6\x80\": 1, \"\xc9\x83\": 2}'))", NULL,
	    "\"{\\n  \\\"\xc6\x80\\\": 2\\n}\"", NULL },
	{ "toJSON(fromJSON('[{\"a\": 1, \"A\": [{\"b\": 1, \"B\": 2}]}]'))",
	    NULL, "\"[\\n  {\\n    \\\"a\\\": [\\n      {\\n        "
	    "\\\"b\\\": 2\\n      }\\n    ]\\n  }\\n]\"", NULL },
	/* The dotless i and the long s keep the runner's rule. */
	{ "'\xc4\xb1' == 'I'", NULL, "false", NULL },
	{ "'\xc5\xbf' == 'S'", NULL, "false", NULL },
	{ "'\xc6\x80' == '\xc9\x83'", NULL, "true", NULL },
	{ "'\xe1\xbc\x80' == '\xe1\xbc\x88'", NULL, "true", NULL },
	{ "startsWith('\xc9\x90" "bc', '\xe2\xb1\xaf')", NULL, "true", NULL },
	{ "1.", NULL, "1", NULL },
	{ "1e400", NULL, "\"Infinity\"", NULL },
	{ "format('{0}', 1e15)", NULL, "\"1E+15\"", NULL },
	{ "format('{0}', 1e14)", NULL, "\"100000000000000\"", NULL },
	{ "format('{0}', 0.0001)", NULL, "\"0.0001\"", NULL },
	{ "format('{0}', 0.00001)", NULL, "\"1E-05\"", NULL },
	{ "format('{0}', 12345678901234567890)", NULL,
	    "\"1.23456789012346E+19\"", NULL },
	{ "format('{0}', 1.5e300)", NULL, "\"1.5E+300\"", NULL },
	/* X1-X33, X37, X39 (reference 8.4) */
	{ "'' == 0", NULL, "true", NULL },
	{ "null == 0", NULL, "true", NULL },
	{ "null == false", NULL, "true", NULL },
	{ "null == ''", NULL, "true", NULL },
	{ "true == 1", NULL, "true", NULL },
	{ "'3' == 3", NULL, "true", NULL },
	{ "'TEST' == 'test'", NULL, "true", NULL },
	{ "'abc' == 0", NULL, "false", NULL },
	{ "NaN == NaN", NULL, "false", NULL },
	{ "true == 'true'", NULL, "false", NULL },
	{ "fromJSON('{}') == fromJSON('{}')", NULL, "false", NULL },
	{ "o == o", "{\"o\": {}}", "true", NULL },
	{ "true > false", NULL, "true", NULL },
	{ "'def' > 'abc'", NULL, "true", NULL },
	{ "false > -11", NULL, "true", NULL },
	{ "null > -1", NULL, "true", NULL },
	{ "0 > ' -1 '", NULL, "true", NULL },
	{ "fromJSON('{}') < 2", NULL, "false", NULL },
	{ "1 == 1 && 2", NULL, "2", NULL },
	{ "'a' == 'a' && 'b'", NULL, "\"b\"", NULL },
	{ "false && 0 || null", NULL, "null", NULL },
	{ "1 || 2 && 3", NULL, "1", NULL },
	{ "(1 || 2) && 3", NULL, "3", NULL },
	{ "!2 < 3", NULL, "true", NULL },
	{ "3 < 2 < 1", NULL, "true", NULL },
	{ "2 == 2 == 1", NULL, "true", NULL },
	{ "true && ''", NULL, "\"\"", NULL },
	{ "'' || 'x'", NULL, "\"x\"", NULL },
	{ "0 || null", NULL, "null", NULL },
	{ "!fromJSON('[]')", NULL, "false", NULL },
	{ "!'false'", NULL, "false", NULL },
	{ "!NaN", NULL, "true", NULL },
	{ "contains('Hello world', 'llo')", NULL, "true", NULL },
	{ "cOnTaInS('HELLO', 'll')", NULL, "true", NULL },
	{ "contains(fromJSON('[true,\"second\"]'), 'true')", NULL, "false",
	    NULL },
	{ "contains(fromJSON('[3.14,\"second\"]'), '3.14')", NULL, "true",
	    NULL },
	{ "contains(needs.*.result, 'failure')",
	    "{\"needs\": {\"a\": {\"result\": \"success\"},"
	    " \"b\": {\"result\": \"failure\"}}}", "true", NULL },
	{ "contains(null, '')", NULL, "true", NULL },
	{ "contains(fromJSON('{}'), '')", NULL, "false", NULL },
	{ "startsWith('null', null)", NULL, "true", NULL },
	{ "startsWith(null, '42')", NULL, "false", NULL },
	{ "endsWith(123, '23')", NULL, "true", NULL },
	{ "format('{{{0}}}', 'test')", NULL, "\"{test}\"", NULL },
	{ "format('{0}}', 'x')", NULL, NULL,
	    "The following format string is invalid: {0}}" },
	{ "format('{2}', 'a', 'b')", NULL, NULL,
	    "references more arguments than were supplied: {2}" },
	{ "format('{0:x}', 1)", NULL, NULL, "format string is invalid" },
	{ "format('{}', 1)", NULL, NULL, "format string is invalid" },
	{ "format('text')", NULL, "\"text\"", NULL },
	{ "format('{0}', 0.84551240822557006)", NULL, "\"0.84551240822557\"",
	    NULL },
	{ "format('{0}', -0)", NULL, "\"0\"", NULL },
	{ "format('{0}', 1.2e2)", NULL, "\"120\"", NULL },
	{ "join(fromJSON('[\"a\",\"b\"]'))", NULL, "\"a,b\"", NULL },
	{ "join(null)", NULL, "\"\"", NULL },
	{ "join(fromJSON('[\"a\",\"b\",null]'), 1)", NULL, "\"a1b1\"", NULL },
	{ "join(arr)",
	    "{\"arr\": [null,true,123.456,\"abc\",[],[\"def\"],{},"
	    "{\"k\":\"v\"}]}", "\",true,123.456,abc,Array,Array,Object,"
	    "Object\"", NULL },
	{ "toJSON(fromJSON('[1,2,3]'))", NULL, "\"[\\n  1,\\n  2,\\n  3\\n]\"",
	    NULL },
	{ "toJSON(null)", NULL, "\"null\"", NULL },
	{ "toJSON('')", NULL, "\"\\\"\\\"\"", NULL },
	{ "toJSON('a\tb')", NULL, "\"\\\"a\\\\tb\\\"\"", NULL },
	{ "toJSON(fromJSON('{\"a\":[]}'))", NULL, "\"{\\n  \\\"a\\\": []\\n}\"",
	    NULL },
	{ "fromJSON('[0,1]')[1]", NULL, "1", NULL },
	{ "fromJSON('[0,1]')[2]", NULL, "null", NULL },
	{ "fromJSON('[0,1]')[-1]", NULL, "null", NULL },
	{ "fromJSON('[0,1]')[1.9]", NULL, "1", NULL },
	{ "fromJSON('[0,1]')['1']", NULL, "1", NULL },
	{ "fromJSON('{')", NULL, NULL, "Error parsing fromJson" },
	{ "fromJSON('12345678901234567890')", NULL, "1.2345678901234567e19",
	    NULL },
	{ "foo.bar", "{\"foo\": {\"BAR\": \"baz\"}}", "\"baz\"", NULL },
	{ "foo.b-ar", "{\"foo\": {\"b-ar\": \"baz\"}}", "\"baz\"", NULL },
	{ "github.event.commits[0].message", "{\"github\": {\"event\": {}}}",
	    "null", NULL },
	{ "(!foo).bar", "{\"foo\": 1}", "null", NULL },
	{ "fromJSON('[{\"r\":\"s\"},{\"r\":\"f\"}]').*.r", NULL,
	    "[\"s\",\"f\"]", NULL },
	{ "case(false, 'a', true, 'b', 'c')", NULL, "\"b\"", NULL },
	{ "case(false, 'a', true, 'b')", NULL, NULL,
	    "requires an odd number of parameters: 'case'" },
	{ "case(true, 'a', 1, 'b')", NULL, NULL,
	    "Even number of parameters" },
	{ "case(true, 'a', 1, 'b', 'c')", NULL, "\"a\"", NULL },
	{ "case(false, 'a', 1, 'b', 'c')", NULL, NULL,
	    "case predicate must evaluate to a boolean value. Located at "
	    "position 18" },
	{ "'It''s open source!'", NULL, "\"It's open source!\"", NULL },
	{ "0xff", NULL, "255", NULL },
	{ "-2.99e-2", NULL, "-0.0299", NULL },
	{ "'0x10' == 16", NULL, "true", NULL },
	{ "'0o10' == 8", NULL, "true", NULL },
	/* Errors name what and where. */
	{ "foo.1", "{\"foo\": {}}", NULL,
	    "Unexpected symbol: '1'. Located at position 5 within expression: "
	    "foo.1" },
	{ "'abc", NULL, NULL, "Unexpected symbol: ''abc'. Located at "
	    "position 1" },
	{ "a ==", "{\"a\": 1}", NULL, "Unexpected end of expression: '=='. "
	    "Located at position 3" },
	{ "1 \"x\"", NULL, NULL, "Unexpected symbol: '\"x\"'. Located at "
	    "position 3" },
	{ "contains(1)", NULL, NULL, "Too few parameters supplied: "
	    "'contains'. Located at position 1" },
	{ "toJSON(1, 2)", NULL, NULL, "Too many parameters supplied: "
	    "'toJSON'" },
	{ "1 && nope()", NULL, NULL, "Unrecognized function: 'nope'. Located "
	    "at position 6" },
	{ "1 && nope", NULL, NULL, "Unrecognized named-value: 'nope'. "
	    "Located at position 6" },
	{ "success()", NULL, NULL, "Unrecognized function: 'success'" },
	{ "hashFiles('x')", NULL, NULL, "Unrecognized function: 'hashFiles'" },
	{ "(1", NULL, NULL, "Unexpected end of expression: '1'" },
	{ "[1]", NULL, NULL, "Unexpected symbol: '['. Located at position 1" },
	{ "1 +", NULL, NULL, "Unexpected symbol: '+'. Located at position 3" },
	{ "'\xc3\xa9' == 1 +", NULL, NULL, "Located at position 10" },
};

/* Scope of a vector: its context names, core functions only. */
static void
run_vec(const struct vec *v)
{
	struct expr_scope	 scope;
	struct expr_ctx		 ctx;
	struct expr		*e;
	json_t			*contexts, *got, *want;
	const char		**names, *k;
	json_t			*val;
	char			 err[1024], *dump;
	size_t			 n = 0;

	contexts = v->contexts != NULL ? json_loads(v->contexts, 0, NULL) :
	    json_object();
	ck_assert_msg(contexts != NULL, "bad contexts in vector %s", v->expr);
	names = xcalloc(json_object_size(contexts) + 1, sizeof *names);
	json_object_foreach(contexts, k, val)
		names[n++] = k;
	scope.contexts = names;
	scope.funcs = 0;
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = contexts;

	e = expr_parse(v->expr, &scope, err, sizeof err);
	got = e != NULL ? expr_eval(e, &ctx, err, sizeof err) : NULL;
	expr_free(e);
	free(names);
	json_decref(contexts);
	if (v->err != NULL) {
		ck_assert_msg(got == NULL, "%s: want error '%s', got a value",
		    v->expr, v->err);
		ck_assert_msg(strstr(err, v->err) != NULL,
		    "%s: want error '%s', got '%s'", v->expr, v->err, err);
		return;
	}
	ck_assert_msg(got != NULL, "%s: unexpected error %s", v->expr, err);
	want = json_loads(v->want, JSON_DECODE_ANY, NULL);
	ck_assert_msg(want != NULL, "bad want in vector %s", v->expr);
	dump = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
	ck_assert_msg(same(got, want), "%s: want %s, got %s", v->expr, v->want,
	    dump);
	free(dump);
	json_decref(got);
	json_decref(want);
}

START_TEST(test_vectors)
{
	run_vec(&vecs[_i]);
}
END_TEST

START_TEST(test_format_number)
{
	char	b[32];

	ck_assert_str_eq(expr_format_number(0.0, b, sizeof b), "0");
	ck_assert_str_eq(expr_format_number(-0.0, b, sizeof b), "0");
	ck_assert_str_eq(expr_format_number(NAN, b, sizeof b), "NaN");
	ck_assert_str_eq(expr_format_number(INFINITY, b, sizeof b),
	    "Infinity");
	ck_assert_str_eq(expr_format_number(-INFINITY, b, sizeof b),
	    "-Infinity");
	ck_assert_str_eq(expr_format_number(0.1 + 0.2, b, sizeof b), "0.3");
	ck_assert_str_eq(expr_format_number(1e15, b, sizeof b), "1E+15");
	ck_assert_str_eq(expr_format_number(999999999999999.0, b, sizeof b),
	    "999999999999999");
	ck_assert_str_eq(expr_format_number(1e-5, b, sizeof b), "1E-05");
	ck_assert_str_eq(expr_format_number(-1.5e-7, b, sizeof b),
	    "-1.5E-07");
	ck_assert_str_eq(expr_format_number(255, b, sizeof b), "255");
}
END_TEST

START_TEST(test_conversions)
{
	json_t	*j;
	char	*s;

	j = json_loads("[1, {}]", 0, NULL);
	s = expr_to_string(j);
	ck_assert_str_eq(s, "Array");
	free(s);
	ck_assert_int_eq(expr_truthy(j), 1);
	json_decref(j);
	j = json_null();
	s = expr_to_string(j);
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_int_eq(expr_truthy(j), 0);
	j = json_real(-0.0);
	ck_assert_int_eq(expr_truthy(j), 0);
	s = expr_to_string(j);
	ck_assert_str_eq(s, "0");
	free(s);
	json_decref(j);
	j = json_string("false");
	ck_assert_int_eq(expr_truthy(j), 1);
	json_decref(j);
}
END_TEST

/* ---- bounds ---- */

static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	struct buf	b = { 0 };
	size_t		i;

	buf_add_str(&b, head);
	for (i = 0; i < n; i++)
		buf_add_str(&b, unit);
	buf_add_str(&b, tail);
	return buf_steal(&b);
}

static int
parses(const char *src, char *err, size_t errsz)
{
	struct expr	*e = expr_parse(src, NULL, err, errsz);

	expr_free(e);
	return e != NULL;
}

START_TEST(test_bounds)
{
	struct expr_ctx	 ctx;
	struct expr	*e;
	json_t		*got;
	char		 err[256], *src;

	/* Depth: 49 nots + a literal is 50 levels; one more is too many. */
	src = repeat("", "!", 49, "true");
	ck_assert(parses(src, err, sizeof err));
	free(src);
	src = repeat("", "!", 50, "true");
	ck_assert(!parses(src, err, sizeof err));
	ck_assert_msg(strstr(err, "Exceeded max expression depth 50") != NULL,
	    "%s", err);
	free(src);
	/* Parentheses alone cannot exhaust the stack. */
	src = repeat("", "(", 10000, "");
	ck_assert(!parses(src, err, sizeof err));
	ck_assert_msg(strstr(err, "Exceeded max expression depth") != NULL,
	    "%s", err);
	free(src);
	/* Long chains of && are one node. */
	src = repeat("1", " && 1", 3000, "");
	ck_assert(parses(src, err, sizeof err));
	free(src);
	/* Length. */
	src = repeat("", " ", EXPR_MAX_LENGTH, "");
	ck_assert(parses(src, err, sizeof err));
	free(src);
	src = repeat("", " ", EXPR_MAX_LENGTH + 1, "");
	ck_assert(!parses(src, err, sizeof err));
	ck_assert_msg(strstr(err, "Exceeded max expression length 21000") !=
	    NULL, "%s", err);
	free(src);
	/* GitHub counts UTF-16 units: an emoji is two, an accent one. */
	src = repeat("'", "\xf0\x9f\x9a\x80", 10499, "'");
	ck_assert_uint_eq(expr_length(src, strlen(src)), 21000);
	ck_assert(parses(src, err, sizeof err));
	free(src);
	src = repeat("'", "\xf0\x9f\x9a\x80", 10500, "'");
	ck_assert(!parses(src, err, sizeof err));
	ck_assert_msg(strstr(err, "Exceeded max expression length 21000") !=
	    NULL, "%s", err);
	free(src);
	src = repeat("'", "\xc3\xa9", 20998, "'");
	ck_assert(parses(src, err, sizeof err));
	free(src);

	/* Memory: 10 copies of a 1000-character string in 4 KiB. */
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = json_pack("{s:s}", "s", "x");
	ctx.max_memory = 4096;
	src = repeat("format('", "{0}", 1000, "', s)");
	e = expr_parse(src, NULL, err, sizeof err);
	ck_assert_ptr_nonnull(e);
	got = expr_eval(e, &ctx, err, sizeof err);
	ck_assert_ptr_nonnull(got);	/* 26 + 2000 bytes fit */
	json_decref(got);
	expr_free(e);
	free(src);
	src = repeat("format('", "{0}", 3000, "', s)");
	e = expr_parse(src, NULL, err, sizeof err);
	ck_assert_ptr_nonnull(e);
	got = expr_eval(e, &ctx, err, sizeof err);
	ck_assert_ptr_null(got);
	ck_assert_msg(strstr(err, "The maximum allowed memory size was "
	    "exceeded") != NULL, "%s", err);
	expr_free(e);
	free(src);
	json_decref(ctx.contexts);
}
END_TEST

/* An absent context is an evaluation error naming it. */
START_TEST(test_unavailable_context)
{
	struct expr_ctx	 ctx;
	struct expr	*e;
	json_t		*got;
	char		 err[256];

	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = json_pack("{s:{s:s}}", "GitHub", "ref", "refs/x");
	e = expr_parse("github.ref == 'refs/x' && secrets.token", NULL, err,
	    sizeof err);
	ck_assert_ptr_nonnull(e);
	got = expr_eval(e, &ctx, err, sizeof err);
	ck_assert_ptr_null(got);
	ck_assert_msg(strstr(err, "Unrecognized named-value: 'secrets'. "
	    "Located at position 27") != NULL, "%s", err);
	expr_free(e);
	json_decref(ctx.contexts);
}
END_TEST

/* ---- templates ---- */

struct tvec {
	const char	*text;
	const char	*want;		/* JSON, or NULL */
	const char	*err;
	size_t		 col;		/* of the error, for the check */
};

static const struct tvec tvecs[] = {
	{ "", "\"\"", NULL, 0 },
	{ "plain text", "\"plain text\"", NULL, 0 },
	{ "$ {{ x }}", "\"$ {{ x }}\"", NULL, 0 },
	{ "${{ 1 }}", "1", NULL, 0 },
	{ "${{ }}", "null", NULL, 0 },
	{ "${{ fromJSON('{\"a\":1}') }}", "{\"a\":1}", NULL, 0 },
	{ "${{ matrix.n }}", "3", NULL, 0 },
	{ " ${{ 1 }}", "\" 1\"", NULL, 0 },
	{ "a ${{ 1 }} b ${{ 'x' }}", "\"a 1 b x\"", NULL, 0 },
	{ "echo ${{ github.event }}", "\"echo Object\"", NULL, 0 },
	{ "${{ '}}' }}", "\"}}\"", NULL, 0 },
	{ "${{ 1 }}${{ null }}${{ true }}", "\"1true\"", NULL, 0 },
	{ "ab ${{ 1 }", NULL, "The expression is not closed", 4 },
	{ "ab ${{ 1 + }}", NULL, "Unexpected symbol: '+'", 10 },
	{ "\xc3\xa9 ${{ nope }}", NULL, "Unrecognized named-value: 'nope'",
	    7 },
};

static json_t *
template_contexts(void)
{
	return json_pack("{s:{s:i},s:{s:{}}}", "matrix", "n", 3, "github",
	    "event");
}

START_TEST(test_templates)
{
	static const char *const names[] = { "matrix", "github", NULL };
	const struct tvec	*v = &tvecs[_i];
	struct expr_scope	 scope = { names, 0 };
	struct expr_ctx		 ctx;
	json_t			*got, *want;
	char			 err[512], *dump;
	size_t			 col = 0;
	int			 rc;

	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = template_contexts();
	rc = expr_check_template(v->text, &scope, err, sizeof err, &col);
	got = expr_eval_template(v->text, &scope, &ctx, err, sizeof err);
	json_decref(ctx.contexts);
	if (v->err != NULL) {
		ck_assert_int_eq(rc, -1);
		ck_assert_ptr_null(got);
		ck_assert_msg(strstr(err, v->err) != NULL, "%s: %s", v->text,
		    err);
		ck_assert_msg(col == v->col, "%s: column %zu, want %zu",
		    v->text, col, v->col);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", v->text, err);
	ck_assert_msg(got != NULL, "%s: %s", v->text, err);
	want = json_loads(v->want, JSON_DECODE_ANY, NULL);
	dump = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
	ck_assert_msg(same(got, want), "%s: want %s, got %s", v->text,
	    v->want, dump);
	free(dump);
	json_decref(want);
	json_decref(got);
}
END_TEST

/* ---- conditions (reference 4.1, 4.8; X35, X36) ---- */

struct cvec {
	const char	*text;
	unsigned int	 status;
	int		 want;
};

static const struct cvec cvecs[] = {
	{ "", EXPR_ST_SUCCESS, 1 },
	{ "  ", EXPR_ST_FAILURE, 0 },
	{ "true", EXPR_ST_SUCCESS, 1 },
	{ "true", EXPR_ST_FAILURE, 0 },
	{ "true && ${{ false }}", EXPR_ST_SUCCESS, 1 },		/* X35 */
	{ "github.ref == 'refs/heads/main'", EXPR_ST_SUCCESS, 1 },
	{ "github.ref == 'refs/heads/main'", EXPR_ST_FAILURE, 0 },/* X36 */
	{ "${{ false }}", EXPR_ST_SUCCESS, 0 },
	{ "  ${{ true }}  ", EXPR_ST_SUCCESS, 1 },
	{ "${{ !cancelled() }}", EXPR_ST_FAILURE, 1 },
	{ "${{ !cancelled() }}", EXPR_ST_CANCELLED, 0 },
	{ "always()", EXPR_ST_CANCELLED, 1 },
	{ "failure()", EXPR_ST_FAILURE, 1 },
	{ "failure()", EXPR_ST_SUCCESS, 0 },
	{ "FAILURE() || success()", EXPR_ST_SUCCESS, 1 },
	{ "success()", EXPR_ST_FAILURE | EXPR_ST_CANCELLED, 0 },
	{ "x ${{ failure() }}", EXPR_ST_SUCCESS, 1 },
	{ "x ${{ 1 }}", EXPR_ST_FAILURE, 0 },
	{ "'false'", EXPR_ST_SUCCESS, 1 },
	{ "0", EXPR_ST_SUCCESS, 0 },
};

START_TEST(test_conditions)
{
	static const char *const names[] = { "github", NULL };
	const struct cvec	*v = &cvecs[_i];
	struct expr_scope	 scope = { names, EXPR_FN_STATUS };
	struct expr_ctx		 ctx;
	char			 err[256];
	size_t			 col;
	int			 result = -1;

	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = json_pack("{s:{s:s}}", "github", "ref",
	    "refs/heads/main");
	ctx.status = v->status;
	ck_assert_msg(expr_check_condition(v->text, &scope, err, sizeof err,
	    &col) == 0, "%s: %s", v->text, err);
	ck_assert_msg(expr_eval_condition(v->text, &scope, &ctx, &result, err,
	    sizeof err) == 0, "%s: %s", v->text, err);
	ck_assert_msg(result == v->want, "%s (status %u): got %d, want %d",
	    v->text, v->status, result, v->want);
	json_decref(ctx.contexts);
}
END_TEST

START_TEST(test_condition_errors)
{
	static const char *const names[] = { "github", NULL };
	struct expr_scope	 scope = { names, 0 };
	struct expr_ctx		 ctx;
	char			 err[256];
	size_t			 col = 0;
	int			 result;

	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = json_object();
	ck_assert_int_eq(expr_check_condition("  ${{ success() }}", &scope,
	    err, sizeof err, &col), -1);
	ck_assert_msg(strstr(err, "Unrecognized function: 'success'") != NULL,
	    "%s", err);
	ck_assert_uint_eq(col, 7);
	ck_assert_int_eq(expr_check_condition("github &&", &scope, err,
	    sizeof err, &col), -1);
	ck_assert_uint_eq(col, 8);
	ck_assert_int_eq(expr_eval_condition("env.X", &scope, &ctx, &result,
	    err, sizeof err), -1);
	ck_assert_msg(strstr(err, "Unrecognized named-value: 'env'") != NULL,
	    "%s", err);
	json_decref(ctx.contexts);
}
END_TEST

/* ---- hashFiles (X34, X38, X39) on a real workspace ---- */

static void
write_file(const char *dir, const char *rel, const char *data)
{
	char	*path = xasprintf("%s/%s", dir, rel), *slash;
	FILE	*f;

	slash = strrchr(path, '/');
	*slash = '\0';
	ck_assert_int_eq(mkdir_p(path, 0755), 0);
	*slash = '/';
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(data, f);
	fclose(f);
	free(path);
}

static void
rm_rf(const char *path)
{
	ck_assert_int_eq(harness_rm_rf(path), 0);
}

static char *
hash_eval(const char *ws, const char *src, char *err, size_t errsz)
{
	struct expr_scope	 scope = { NULL, EXPR_FN_HASHFILES };
	struct expr_ctx		 ctx;
	struct expr		*e;
	json_t			*got;
	char			*s;

	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = json_object();
	ctx.workspace = ws;
	e = expr_parse(src, &scope, err, errsz);
	ck_assert_msg(e != NULL, "%s: %s", src, err);
	got = expr_eval(e, &ctx, err, errsz);
	expr_free(e);
	json_decref(ctx.contexts);
	if (got == NULL)
		return NULL;
	s = expr_to_string(got);
	json_decref(got);
	return s;
}

/* SHA-256 of the inner digests: files "1\n", "2\n" and both. */
#define H_1	"7d759b16b9254aaca9ffb2fddaf5e97ef724f28d7428e0b3409f82ca82b4b09a"
#define H_2	"3bcfb156ce9922c0152366ab9444bb99c0b82bab7573261e3770de9a43d92984"
#define H_X38	"bd222050252384e92856fccad34ff9842ed411f042ca3209bf9fc5e3bd447872"
#define H_21	"4be7945a997d44bb50624c8c81040877b0db6e137614eb83a7fd29f194f4a45d"
#define H_X39	"ecb65bb98f9d905b70458986c39fcbad7715e5f2fcc3b1f07767d7c83e2438cc"

static const struct {
	const char	*expr;
	const char	*want;
} hvecs[] = {
	{ "hashFiles('**/does-not-exist')", "" },		/* X34 */
	{ "hashFiles('**')", H_X38 },				/* X38 */
	/* Roots in pattern order, not sorted: a.txt, then a/x. */
	{ "hashFiles('a.txt', 'a/x')", H_21 },
	{ "hashFiles('a/*')", H_1 },
	{ "hashFiles('a')", H_1 },		/* a directory: all below */
	{ "hashFiles('**', '!a.txt')", H_1 },
	{ "hashFiles('**\n!a.txt\n#c\n\n')", H_1 },
	{ "hashFiles('!a.txt', '**')", H_X38 },	/* later patterns win */
	{ "hashFiles('*.txt')", H_2 },
	{ "hashFiles('a.tx?')", H_2 },
	{ "hashFiles('[a]/x')", H_1 },
	{ "hashFiles('../**')", H_X38 },	/* outside files skipped */
	{ "hashFiles('--follow-symbolic-links', '**/x')", H_1 },
};

START_TEST(test_hashfiles)
{
	char	 tmpl[] = "/tmp/kiln-expr-XXXXXX", *ws, *got, err[512];
	size_t	 i;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ws = xasprintf("%s/ws", tmpl);
	write_file(ws, "a/x", "1\n");
	write_file(ws, "a.txt", "2\n");
	write_file(tmpl, "outside", "3\n");
	for (i = 0; i < nitems(hvecs); i++) {
		got = hash_eval(ws, hvecs[i].expr, err, sizeof err);
		ck_assert_msg(got != NULL, "%s: %s", hvecs[i].expr, err);
		ck_assert_msg(strcmp(got, hvecs[i].want) == 0, "%s: got %s, "
		    "want %s", hvecs[i].expr, got, hvecs[i].want);
		free(got);
	}
	rm_rf(tmpl);
	free(ws);

	/* X39 */
	ck_assert_ptr_nonnull(mkdtemp(strcpy(tmpl, "/tmp/kiln-expr-XXXXXX")));
	write_file(tmpl, "src/a.js", "hello\n");
	got = hash_eval(tmpl, "hashFiles('src/a.js')", err, sizeof err);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, H_X39);
	free(got);

	/* A symbolic link to a directory is not followed by default. */
	ws = xasprintf("%s/link", tmpl);
	ck_assert_int_eq(symlink("src", ws), 0);
	free(ws);
	got = hash_eval(tmpl, "hashFiles('link/**')", err, sizeof err);
	ck_assert_str_eq(got, "");
	free(got);
	got = hash_eval(tmpl, "hashFiles('--follow-symbolic-links', "
	    "'link/**')", err, sizeof err);
	ck_assert_str_eq(got, H_X39);
	free(got);

	/* Errors. */
	got = hash_eval(tmpl, "hashFiles('--bogus', 'x')", err, sizeof err);
	ck_assert_ptr_null(got);
	ck_assert_msg(strstr(err, "invalid option '--bogus'") != NULL, "%s",
	    err);
	got = hash_eval(NULL, "hashFiles('x')", err, sizeof err);
	ck_assert_ptr_null(got);
	ck_assert_msg(strstr(err, "no workspace") != NULL, "%s", err);
	rm_rf(tmpl);
}
END_TEST

static Suite *
expr_suite(int conformance)
{
	Suite	*s = suite_create("expr");
	TCase	*tc;

	tc = tcase_create("vectors");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_loop_test(tc, test_vectors, 0, (int)nitems(vecs));
	tcase_add_test(tc, test_format_number);
	tcase_add_test(tc, test_conversions);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_unavailable_context);
	suite_add_tcase(s, tc);

	tc = tcase_create("templates");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_loop_test(tc, test_templates, 0, (int)nitems(tvecs));
	tcase_add_loop_test(tc, test_conditions, 0, (int)nitems(cvecs));
	tcase_add_test(tc, test_condition_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("hashfiles");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_test(tc, test_hashfiles);
	suite_add_tcase(s, tc);

	if (conformance) {
		tc = tcase_create("conformance");
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, test_conformance);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	const char	*dir = getenv("KILN_CONFORMANCE_DIR");
	struct stat	 st;
	SRunner		*sr;
	int		 failed, conformance;

	conformance = dir != NULL && *dir != '\0' && stat(dir, &st) == 0 &&
	    S_ISDIR(st.st_mode);
	if (!conformance) {
		printf("SKIPPED: GitHub expression conformance vectors "
		    "(KILN_CONFORMANCE_DIR not set)\n");
		fflush(stdout);
	}
	sr = srunner_create(expr_suite(conformance));
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
