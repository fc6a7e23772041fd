/*
 * Unit tests for common/matrix: the M-vectors of reference section 8.3, the
 * documented GitHub examples of section 3.5, the loose equality used by
 * include and exclude, display names, the 256-job limit and every error.
 *
 * Matrices are written in YAML and go through workflow_parse(), as they do
 * in kilnd; the limit tests build JSON by hand and call
 * matrix_expand_json().
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "expr.h"
#include "matrix.h"
#include "util.h"
#include "workflow.h"

/*
 * One expansion.  matrix is the YAML text after "matrix:" (flow style, or
 * a block indented for column 8); want is a JSON array of the legs' values
 * in order (key order checked too; null for a leg without values); names
 * is a JSON array of the display names.
 */
struct expand_vec {
	const char	*what;
	const char	*matrix;
	const char	*want;
	const char	*names;
};

static const struct expand_vec expand_vecs[] = {
	/* Edge values first. */
	{ "one variable, one value",
	  "{a: [x]}",
	  "[{\"a\":\"x\"}]",
	  "[\"build (x)\"]" },
	{ "every combination excluded: one leg, no values",
	  "{a: [x, y], exclude: [{a: x}, {a: y}]}",
	  "[null]",
	  "[\"build\"]" },
	{ "null and empty string give no name segment",
	  "{a: ['', null, z]}",
	  "[{\"a\":\"\"},{\"a\":null},{\"a\":\"z\"}]",
	  "[\"build\",\"build\",\"build (z)\"]" },

	/* M1: the documented include walk-through. */
	{ "M1",
	  "\n"
	  "        fruit: [apple, pear]\n"
	  "        animal: [cat, dog]\n"
	  "        include:\n"
	  "          - color: green\n"
	  "          - color: pink\n"
	  "            animal: cat\n"
	  "          - fruit: apple\n"
	  "            shape: circle\n"
	  "          - fruit: banana\n"
	  "          - fruit: banana\n"
	  "            animal: cat\n",
	  "[{\"fruit\":\"apple\",\"animal\":\"cat\",\"color\":\"pink\","
	  "\"shape\":\"circle\"},"
	  "{\"fruit\":\"apple\",\"animal\":\"dog\",\"color\":\"green\","
	  "\"shape\":\"circle\"},"
	  "{\"fruit\":\"pear\",\"animal\":\"cat\",\"color\":\"pink\"},"
	  "{\"fruit\":\"pear\",\"animal\":\"dog\",\"color\":\"green\"},"
	  "{\"fruit\":\"banana\"},"
	  "{\"fruit\":\"banana\",\"animal\":\"cat\"}]",
	  "[\"build (apple, cat)\",\"build (apple, dog)\",\"build (pear, cat)\","
	  "\"build (pear, dog)\",\"build (banana)\",\"build (banana, cat)\"]" },

	/* M2: include adds a key to one combination. */
	{ "M2",
	  "{os: [windows-latest, ubuntu-latest], node: [12, 14, 16],"
	  " include: [{os: windows-latest, node: 16, npm: 6}]}",
	  "[{\"os\":\"windows-latest\",\"node\":12},"
	  "{\"os\":\"windows-latest\",\"node\":14},"
	  "{\"os\":\"windows-latest\",\"node\":16,\"npm\":6},"
	  "{\"os\":\"ubuntu-latest\",\"node\":12},"
	  "{\"os\":\"ubuntu-latest\",\"node\":14},"
	  "{\"os\":\"ubuntu-latest\",\"node\":16}]",
	  "[\"build (windows-latest, 12)\",\"build (windows-latest, 14)\","
	  "\"build (windows-latest, 16)\",\"build (ubuntu-latest, 12)\","
	  "\"build (ubuntu-latest, 14)\",\"build (ubuntu-latest, 16)\"]" },

	/* M3: an include that fits nothing is appended. */
	{ "M3",
	  "{os: [macos, windows, ubuntu], version: [12, 14, 16],"
	  " include: [{os: windows, version: 17}]}",
	  "[{\"os\":\"macos\",\"version\":12},{\"os\":\"macos\",\"version\":14},"
	  "{\"os\":\"macos\",\"version\":16},{\"os\":\"windows\",\"version\":12},"
	  "{\"os\":\"windows\",\"version\":14},"
	  "{\"os\":\"windows\",\"version\":16},"
	  "{\"os\":\"ubuntu\",\"version\":12},{\"os\":\"ubuntu\",\"version\":14},"
	  "{\"os\":\"ubuntu\",\"version\":16},"
	  "{\"os\":\"windows\",\"version\":17}]",
	  "[\"build (macos, 12)\",\"build (macos, 14)\",\"build (macos, 16)\","
	  "\"build (windows, 12)\",\"build (windows, 14)\","
	  "\"build (windows, 16)\",\"build (ubuntu, 12)\","
	  "\"build (ubuntu, 14)\",\"build (ubuntu, 16)\","
	  "\"build (windows, 17)\"]" },

	/* M4: include only. */
	{ "M4",
	  "\n"
	  "        include:\n"
	  "          - site: production\n"
	  "            datacenter: site-a\n"
	  "          - site: staging\n"
	  "            datacenter: site-b\n",
	  "[{\"site\":\"production\",\"datacenter\":\"site-a\"},"
	  "{\"site\":\"staging\",\"datacenter\":\"site-b\"}]",
	  "[\"build (production, site-a)\",\"build (staging, site-b)\"]" },

	/* M5: excludes, one full and one partial. */
	{ "M5",
	  "{os: [macos, windows], version: [12, 14, 16],"
	  " environment: [staging, production],"
	  " exclude: [{os: macos, version: 12, environment: production},"
	  " {os: windows, version: 16}]}",
	  "[{\"os\":\"macos\",\"version\":12,\"environment\":\"staging\"},"
	  "{\"os\":\"macos\",\"version\":14,\"environment\":\"staging\"},"
	  "{\"os\":\"macos\",\"version\":14,\"environment\":\"production\"},"
	  "{\"os\":\"macos\",\"version\":16,\"environment\":\"staging\"},"
	  "{\"os\":\"macos\",\"version\":16,\"environment\":\"production\"},"
	  "{\"os\":\"windows\",\"version\":12,\"environment\":\"staging\"},"
	  "{\"os\":\"windows\",\"version\":12,\"environment\":\"production\"},"
	  "{\"os\":\"windows\",\"version\":14,\"environment\":\"staging\"},"
	  "{\"os\":\"windows\",\"version\":14,\"environment\":\"production\"}]",
	  "[\"build (macos, 12, staging)\",\"build (macos, 14, staging)\","
	  "\"build (macos, 14, production)\",\"build (macos, 16, staging)\","
	  "\"build (macos, 16, production)\",\"build (windows, 12, staging)\","
	  "\"build (windows, 12, production)\","
	  "\"build (windows, 14, staging)\","
	  "\"build (windows, 14, production)\"]" },

	/* M6: include re-adds what exclude removed, as a new combination. */
	{ "M6",
	  "{a: [1, 2], exclude: [{a: 1}], include: [{a: 1, b: x}]}",
	  "[{\"a\":2},{\"a\":1,\"b\":\"x\"}]",
	  "[\"build (2)\",\"build (1, x)\"]" },

	/* M7: object-valued entries; the name flattens them. */
	{ "M7",
	  "{os: [ubuntu, macos], node: [{version: 14},"
	  " {version: 20, env: 'NODE_OPTIONS=--max-old-space-size=4096'}]}",
	  "[{\"os\":\"ubuntu\",\"node\":{\"version\":14}},"
	  "{\"os\":\"ubuntu\",\"node\":{\"version\":20,"
	  "\"env\":\"NODE_OPTIONS=--max-old-space-size=4096\"}},"
	  "{\"os\":\"macos\",\"node\":{\"version\":14}},"
	  "{\"os\":\"macos\",\"node\":{\"version\":20,"
	  "\"env\":\"NODE_OPTIONS=--max-old-space-size=4096\"}}]",
	  "[\"build (ubuntu, 14)\","
	  "\"build (ubuntu, 20, NODE_OPTIONS=--max-old-space-size=4096)\","
	  "\"build (macos, 14)\","
	  "\"build (macos, 20, NODE_OPTIONS=--max-old-space-size=4096)\"]" },

	/* M8: booleans, and an appended include. */
	{ "M8",
	  "{version: [6, 7, 8], experimental: [false],"
	  " include: [{version: 9, experimental: true}]}",
	  "[{\"version\":6,\"experimental\":false},"
	  "{\"version\":7,\"experimental\":false},"
	  "{\"version\":8,\"experimental\":false},"
	  "{\"version\":9,\"experimental\":true}]",
	  "[\"build (6, false)\",\"build (7, false)\",\"build (8, false)\","
	  "\"build (9, true)\"]" },

	/* Documented examples of the include/exclude rules. */
	{ "include with only new keys merges into every combination",
	  "{fruit: [apple, pear], include: [{color: green}]}",
	  "[{\"fruit\":\"apple\",\"color\":\"green\"},"
	  "{\"fruit\":\"pear\",\"color\":\"green\"}]",
	  "[\"build (apple)\",\"build (pear)\"]" },
	{ "include adds a key to every matching combination",
	  "{os: [windows-latest, ubuntu-latest], node: [14, 16],"
	  " include: [{os: ubuntu-latest, experimental: true}]}",
	  "[{\"os\":\"windows-latest\",\"node\":14},"
	  "{\"os\":\"windows-latest\",\"node\":16},"
	  "{\"os\":\"ubuntu-latest\",\"node\":14,\"experimental\":true},"
	  "{\"os\":\"ubuntu-latest\",\"node\":16,\"experimental\":true}]",
	  "[\"build (windows-latest, 14)\",\"build (windows-latest, 16)\","
	  "\"build (ubuntu-latest, 14)\",\"build (ubuntu-latest, 16)\"]" },
	{ "exclude is a partial match",
	  "{os: [windows, linux], node: [14, 16], exclude: [{os: windows}]}",
	  "[{\"os\":\"linux\",\"node\":14},{\"os\":\"linux\",\"node\":16}]",
	  "[\"build (linux, 14)\",\"build (linux, 16)\"]" },
	{ "later includes overwrite keys added by earlier ones",
	  "{a: [1, 2], include: [{k: first}, {a: 2, k: second}, {k2: z}]}",
	  "[{\"a\":1,\"k\":\"first\",\"k2\":\"z\"},"
	  "{\"a\":2,\"k\":\"second\",\"k2\":\"z\"}]",
	  "[\"build (1)\",\"build (2)\"]" },
	{ "later includes never merge into appended combinations",
	  "{a: [1], include: [{a: 3}, {a: 3, b: x}]}",
	  "[{\"a\":1},{\"a\":3},{\"a\":3,\"b\":\"x\"}]",
	  "[\"build (1)\",\"build (3)\",\"build (3, x)\"]" },
	{ "appended include: variables first, then other keys",
	  "{a: [1], include: [{z: last, a: 5}]}",
	  "[{\"a\":1},{\"a\":5,\"z\":\"last\"}]",
	  "[\"build (1)\",\"build (5, last)\"]" },
	{ "include matching an existing combination exactly adds nothing",
	  "{a: [1, 2], include: [{a: 2}]}",
	  "[{\"a\":1},{\"a\":2}]",
	  "[\"build (1)\",\"build (2)\"]" },
	{ "include-only entries without shared keys",
	  "{include: [{a: 1}, {b: 2}]}",
	  "[{\"a\":1},{\"b\":2}]",
	  "[\"build (1)\",\"build (2)\"]" },

	/* Loose equality, leaf by leaf. */
	{ "exclude compares strings case-insensitively",
	  "{os: [Ubuntu, windows], exclude: [{os: UBUNTU}]}",
	  "[{\"os\":\"windows\"}]",
	  "[\"build (windows)\"]" },
	{ "include matches case-insensitively and keeps the matrix value",
	  "{os: [Ubuntu, windows], include: [{os: ubuntu, x: 1}]}",
	  "[{\"os\":\"Ubuntu\",\"x\":1},{\"os\":\"windows\"}]",
	  "[\"build (Ubuntu)\",\"build (windows)\"]" },
	{ "keys added by include merge case-insensitively",
	  "{a: [1], include: [{Color: green}, {color: pink}]}",
	  "[{\"a\":1,\"Color\":\"pink\"}]",
	  "[\"build (1)\"]" },
	{ "include matches beyond ASCII: U+0180 equals U+0243",
	  "{os: ['\xc6\x80', x], include: [{os: '\xc9\x83', extra: 1}]}",
	  "[{\"os\":\"\xc6\x80\",\"extra\":1},{\"os\":\"x\"}]",
	  "[\"build (\xc6\x80)\",\"build (x)\"]" },
	{ "hex in a matrix entry is a signed 32-bit number",
	  "{n: [-1, 4294967295, 16], exclude: [{n: '0xFFFFFFFF'}, {n: '0x10'}]}",
	  "[{\"n\":4294967295}]",
	  "[\"build (4294967295)\"]" },
	{ "'12' equals 12 in exclude",
	  "{node: [12, 14], exclude: [{node: '12'}]}",
	  "[{\"node\":14}]",
	  "[\"build (14)\"]" },
	{ "12 equals '12' in include",
	  "{node: ['12', '14'], include: [{node: 12, npm: 6}]}",
	  "[{\"node\":\"12\",\"npm\":6},{\"node\":\"14\"}]",
	  "[\"build (12)\",\"build (14)\"]" },
	{ "number strings: whitespace, exponent, hex, octal",
	  "{n: [12, 13, 16, 8, 0.5],"
	  " exclude: [{n: ' 12 '}, {n: '1.3e1'}, {n: '0x10'}, {n: '0o10'},"
	  " {n: '.5'}]}",
	  "[null]",
	  "[\"build\"]" },
	{ "strings that are not numbers do not equal numbers",
	  "{n: [1, 0], exclude: [{n: 'one'}, {n: '0x'}, {n: '1 2'}]}",
	  "[{\"n\":1},{\"n\":0}]",
	  "[\"build (1)\",\"build (0)\"]" },
	{ "'' equals 0 (empty string converts to 0)",
	  "{n: [0, 1], exclude: [{n: ''}]}",
	  "[{\"n\":1}]",
	  "[\"build (1)\"]" },
	{ "booleans convert to numbers, not to strings",
	  "{b: [true, false], exclude: [{b: 'true'}, {b: 0}]}",
	  "[{\"b\":true}]",
	  "[\"build (true)\"]" },
	{ "true equals 1 and '1'",
	  "{b: [true, false], include: [{b: 1, x: one}, {b: '1', y: one}]}",
	  "[{\"b\":true,\"x\":\"one\",\"y\":\"one\"},{\"b\":false}]",
	  "[\"build (true)\",\"build (false)\"]" },
	{ "null equals null, 0, '' and false",
	  "{v: [null, 0, '', false, x], exclude: [{v: null}]}",
	  "[{\"v\":\"x\"}]",
	  "[\"build (x)\"]" },
	{ "object entries match on the leaves they list",
	  "{os: [ubuntu, macos], node: [{version: 14},"
	  " {version: 20, env: big}], exclude: [{node: {version: '20'}}]}",
	  "[{\"os\":\"ubuntu\",\"node\":{\"version\":14}},"
	  "{\"os\":\"macos\",\"node\":{\"version\":14}}]",
	  "[\"build (ubuntu, 14)\",\"build (macos, 14)\"]" },
	{ "a missing leaf reads as null",
	  "{node: [{version: 14}, {version: 20, env: big}],"
	  " exclude: [{node: {env: null}}]}",
	  "[{\"node\":{\"version\":20,\"env\":\"big\"}}]",
	  "[\"build (20, big)\"]" },
	{ "object entry in include merges into matching combinations",
	  "{node: [{version: 14}, {version: 20}],"
	  " include: [{node: {VERSION: 14}, old: true}]}",
	  "[{\"node\":{\"version\":14},\"old\":true},"
	  "{\"node\":{\"version\":20}}]",
	  "[\"build (14)\",\"build (20)\"]" },
	{ "a scalar entry does not equal an object value",
	  "{node: [{version: 14}], include: [{node: 14}]}",
	  "[{\"node\":{\"version\":14}},{\"node\":14}]",
	  "[\"build (14)\",\"build (14)\"]" },
	{ "array entries match index by index",
	  "{l: [[a, b], [c, d]], exclude: [{l: [C]}]}",
	  "[{\"l\":[\"a\",\"b\"]}]",
	  "[\"build (a, b)\"]" },

	/* Display names. */
	{ "numbers print as GitHub prints them",
	  "{v: [3.10, '3.10', 1.0, 1e15, 123456789012345678, 0.00001,"
	  " 0.0001, -2.5, 0x1f, 1.5e2]}",
	  "[{\"v\":3.1},{\"v\":\"3.10\"},{\"v\":1.0},{\"v\":1e15},"
	  "{\"v\":123456789012345678},{\"v\":1e-05},{\"v\":0.0001},"
	  "{\"v\":-2.5},{\"v\":31},{\"v\":150.0}]",
	  "[\"build (3.1)\",\"build (3.10)\",\"build (1)\","
	  "\"build (1E+15)\",\"build (1.23456789012346E+17)\","
	  "\"build (1E-05)\",\"build (0.0001)\",\"build (-2.5)\","
	  "\"build (31)\",\"build (150)\"]" },
	{ "include-merged keys are not in a product combination's name",
	  "{a: [x], include: [{a: x, b: y}, {c: z}]}",
	  "[{\"a\":\"x\",\"b\":\"y\",\"c\":\"z\"}]",
	  "[\"build (x)\"]" },
	{ "nested arrays and objects flatten in order",
	  "{a: [{p: [1, {q: 2}], r: ''}], b: [last]}",
	  "[{\"a\":{\"p\":[1,{\"q\":2}],\"r\":\"\"},\"b\":\"last\"}]",
	  "[\"build (1, 2, last)\"]" },
};

/* Messages, one per error case; matched as substrings. */
struct error_vec {
	const char	*matrix;	/* YAML after "matrix:" */
	const char	*want;
};

static const struct error_vec error_vecs[] = {
	{ "{os: [a], exclude: [{arch: x}]}",
	  "Matrix exclude key 'arch' does not match any key within the "
	  "matrix" },
	{ "{os: [a], include: [{os: b}], exclude: [{os: a, Arch: x}]}",
	  "Matrix exclude key 'Arch' does not match any key within the "
	  "matrix" },
	{ "{os: [a], node: []}",
	  "Matrix vector 'node' does not contain any values" },
	{ "{os: [a], include: [{}]}",
	  "Matrix include mapping does not contain any values" },
	{ "{os: [a], exclude: [{}]}",
	  "Matrix exclude filter must not be empty" },
	{ "{}",
	  "Matrix must define at least one vector" },
	{ "{include: []}",
	  "Matrix must define at least one vector" },
	{ "{include: [], exclude: []}",
	  "Matrix must define at least one vector" },
	{ "{os: ubuntu}",
	  "Matrix vector 'os' must be a list of values" },
	{ "{os: [a], include: {b: 1}}",
	  "Matrix include must be a list of mappings" },
	{ "{os: [a], exclude: x}",
	  "Matrix exclude must be a list of mappings" },
	{ "{os: [a], include: [x]}",
	  "Matrix include entry 1 must be a mapping" },
	{ "{os: [a], exclude: [{os: a}, 7]}",
	  "Matrix exclude entry 2 must be a mapping" },
	{ "{os: [a], OS: [b]}",
	  "Matrix vector 'OS' is defined twice" },
	{ "${{ fromJSON(needs.plan.outputs.matrix) }}",
	  "Matrix '${{ fromJSON(needs.plan.outputs.matrix) }}' is an "
	  "expression that was not evaluated" },
	{ "{os: '${{ fromJSON(inputs.os) }}'}",
	  "Matrix value '${{ fromJSON(inputs.os) }}' is an expression that "
	  "was not evaluated" },
	{ "{os: [a], include: [{os: a, v: '${{ inputs.v }}'}]}",
	  "Matrix value '${{ inputs.v }}' is an expression that was not "
	  "evaluated" },
};

static const char wf_head[] =
    "on: push\n"
    "jobs:\n"
    "  build:\n"
    "    runs-on: ubuntu-latest\n"
    "    strategy:\n"
    "      matrix: ";
static const char wf_tail[] =
    "\n"
    "    steps:\n"
    "      - run: echo\n";

/* Parse a one-job workflow around matrix; checks that it parsed. */
static struct workflow *
parse_matrix(const char *matrix, int want_clean)
{
	struct wf_errors	 errs = { 0 };
	struct workflow		*wf;
	char			*text, *msg;

	text = xasprintf("%s%s%s", wf_head, matrix, wf_tail);
	wf = workflow_parse("matrix.yml", text, strlen(text), &errs);
	free(text);
	ck_assert_msg(wf != NULL, "workflow did not parse: %s", matrix);
	ck_assert_uint_eq(wf->njobs, 1);
	if (want_clean && errs.n > 0) {
		msg = wf_errors_format(&errs);
		ck_abort_msg("workflow errors: %s", msg);
		free(msg);
	}
	wf_errors_free(&errs);
	return wf;
}

static char *
dump(const json_t *v)
{
	char	*s;

	if (v == NULL)
		return xstrdup("null");
	s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Compare legs with the vector's want and names, key order included. */
static void
check_legs(const struct expand_vec *v, const struct matrix_leg *legs,
    size_t nlegs)
{
	json_error_t	 jerr;
	json_t		*want, *names;
	char		*a, *b;
	size_t		 i;

	want = json_loads(v->want, 0, &jerr);
	ck_assert_msg(want != NULL, "%s: bad want: %s", v->what, jerr.text);
	names = json_loads(v->names, 0, &jerr);
	ck_assert_msg(names != NULL, "%s: bad names: %s", v->what, jerr.text);
	ck_assert_msg(json_array_size(want) == json_array_size(names),
	    "%s: table mismatch", v->what);
	ck_assert_msg(nlegs == json_array_size(want),
	    "%s: %zu legs, want %zu", v->what, nlegs, json_array_size(want));
	for (i = 0; i < nlegs; i++) {
		const json_t *w = json_array_get(want, i);

		a = dump(legs[i].values);
		b = dump(json_is_null(w) ? NULL : w);
		ck_assert_msg(strcmp(a, b) == 0, "%s: leg %zu: %s, want %s",
		    v->what, i, a, b);
		free(a);
		free(b);
		ck_assert_msg(strcmp(legs[i].name,
		    json_string_value(json_array_get(names, i))) == 0,
		    "%s: leg %zu: name '%s', want '%s'", v->what, i,
		    legs[i].name, json_string_value(json_array_get(names, i)));
	}
	json_decref(want);
	json_decref(names);
}

START_TEST(test_expand_vectors)
{
	const struct expand_vec	*v = &expand_vecs[_i];
	struct workflow		*wf;
	struct matrix_leg	*legs;
	size_t			 nlegs;
	char			 err[512] = "";

	wf = parse_matrix(v->matrix, 1);
	ck_assert_msg(matrix_expand(&wf->jobs[0], &legs, &nlegs, err,
	    sizeof err) == 0, "%s: %s", v->what, err);
	check_legs(v, legs, nlegs);
	matrix_legs_free(legs, nlegs);

	/* The evaluated-matrix entry point agrees. */
	ck_assert_int_eq(matrix_expand_json("build", wf->jobs[0].strategy.matrix,
	    &legs, &nlegs, err, sizeof err), 0);
	check_legs(v, legs, nlegs);
	matrix_legs_free(legs, nlegs);
	workflow_free(wf);
}
END_TEST

/*
 * Include/exclude matching is the expression ==, exactly: the same pairs
 * give the same answer through expr_eval and through an exclude.
 */
static const struct {
	const char	*have;		/* JSON: the matrix value */
	const char	*want;		/* JSON: the exclude entry's value */
	int		 equal;
} match_vecs[] = {
	{ "\"\xc6\x80\"", "\"\xc9\x83\"", 1 },	/* U+0180, U+0243 */
	{ "\"\xe1\x83\x90\"", "\"\xe1\xb2\x90\"", 1 }, /* U+10D0, U+1C90 */
	{ "\"\xc4\xb1\"", "\"I\"", 0 },		/* dotless i */
	{ "\"\xc3\x9f\"", "\"SS\"", 0 },		/* no full mapping */
	{ "-2147483648", "\"0x80000000\"", 1 },
	{ "-1", "\" 0xffffffff \"", 1 },
	{ "4294967295", "\"0xFFFFFFFF\"", 0 },
	{ "\"0x100000000\"", "4294967296", 0 },
	{ "-1", "\"0o37777777777\"", 1 },
	{ "16", "\"0x10\"", 1 },
	{ "null", "\"\"", 1 },
};

START_TEST(test_match_is_expression_equality)
{
	struct matrix_leg	*legs;
	struct expr_ctx		 ctx;
	struct expr		*e;
	json_t			*m, *got;
	size_t			 nlegs;
	char			 err[512], *text;
	int			 excluded, expr_eq;

	text = xasprintf("{\"v\": [%s], \"exclude\": [{\"v\": %s}]}",
	    match_vecs[_i].have, match_vecs[_i].want);
	m = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(matrix_expand_json("build", m, &legs, &nlegs, err,
	    sizeof err), 0);
	excluded = nlegs == 1 && legs[0].values == NULL;
	matrix_legs_free(legs, nlegs);
	json_decref(m);
	free(text);

	text = xasprintf("{\"a\": %s, \"b\": %s}", match_vecs[_i].have,
	    match_vecs[_i].want);
	memset(&ctx, 0, sizeof ctx);
	ctx.contexts = json_loads(text, 0, NULL);
	e = expr_parse("a == b", NULL, err, sizeof err);
	ck_assert_ptr_nonnull(e);
	got = expr_eval(e, &ctx, err, sizeof err);
	ck_assert_msg(got != NULL, "%s", err);
	expr_eq = json_is_true(got);
	json_decref(got);
	expr_free(e);
	json_decref(ctx.contexts);
	free(text);

	ck_assert_msg(excluded == expr_eq, "%s vs %s: matrix %d, == %d",
	    match_vecs[_i].have, match_vecs[_i].want, excluded, expr_eq);
	ck_assert_msg(expr_eq == match_vecs[_i].equal, "%s == %s is %d",
	    match_vecs[_i].have, match_vecs[_i].want, expr_eq);
}
END_TEST

START_TEST(test_error_vectors)
{
	const struct error_vec	*v = &error_vecs[_i];
	struct workflow		*wf;
	struct matrix_leg	*legs = (void *)1;
	size_t			 nlegs = 99;
	char			 err[512] = "";

	/* kilnd's own validation may flag these too; the model still holds
	 * the matrix, and matrix_expand must refuse it on its own. */
	wf = parse_matrix(v->matrix, 0);
	ck_assert_int_eq(matrix_expand(&wf->jobs[0], &legs, &nlegs, err,
	    sizeof err), -1);
	ck_assert_ptr_null(legs);
	ck_assert_uint_eq(nlegs, 0);
	ck_assert_msg(strstr(err, v->want) != NULL, "error '%s', want '%s'",
	    err, v->want);
	workflow_free(wf);
}
END_TEST

/*
 * Variable names are case-insensitive (reference 3.5; the runner's
 * DictionaryExpressionData uses OrdinalIgnoreCase).  Kept out of the table
 * because workflow_parse's own exclude-key check is case-sensitive and
 * flags this file, which is not matrix.c's concern.
 */
START_TEST(test_case_insensitive_names)
{
	static const struct expand_vec v = {
	    "variable names are case-insensitive in exclude and include",
	    "{OS: [a, b], exclude: [{os: a}], include: [{Os: b, y: 2}]}",
	    "[{\"OS\":\"b\",\"y\":2}]",
	    "[\"build (b)\"]" };
	struct workflow		*wf;
	struct matrix_leg	*legs;
	size_t			 nlegs;
	char			 err[512] = "";

	wf = parse_matrix(v.matrix, 0);
	ck_assert_msg(matrix_expand(&wf->jobs[0], &legs, &nlegs, err,
	    sizeof err) == 0, "%s", err);
	check_legs(&v, legs, nlegs);
	matrix_legs_free(legs, nlegs);
	workflow_free(wf);
}
END_TEST

/* A job without strategy, and matrix_expand_json without a matrix. */
START_TEST(test_no_matrix)
{
	static const char	 text[] =
	    "on: push\n"
	    "jobs:\n"
	    "  lint:\n"
	    "    name: Lint code\n"
	    "    runs-on: ubuntu-latest\n"
	    "    steps:\n"
	    "      - run: echo\n";
	struct wf_errors	 errs = { 0 };
	struct workflow		*wf;
	struct matrix_leg	*legs;
	size_t			 nlegs;
	char			 err[256];

	wf = workflow_parse("w.yml", text, strlen(text), &errs);
	ck_assert_ptr_nonnull(wf);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_int_eq(matrix_expand(&wf->jobs[0], &legs, &nlegs, err,
	    sizeof err), 0);
	ck_assert_uint_eq(nlegs, 1);
	ck_assert_ptr_null(legs[0].values);
	ck_assert_str_eq(legs[0].name, "Lint code");
	matrix_legs_free(legs, nlegs);
	workflow_free(wf);

	ck_assert_int_eq(matrix_expand_json("x", NULL, &legs, &nlegs, err,
	    sizeof err), 0);
	ck_assert_uint_eq(nlegs, 1);
	ck_assert_ptr_null(legs[0].values);
	ck_assert_str_eq(legs[0].name, "x");
	matrix_legs_free(legs, nlegs);

	ck_assert_int_eq(matrix_expand_json(NULL, NULL, &legs, &nlegs, NULL,
	    0), 0);
	ck_assert_str_eq(legs[0].name, "");
	matrix_legs_free(legs, nlegs);
	matrix_legs_free(NULL, 0);
}
END_TEST

/* The job's display name is the base; legs do not share JSON. */
START_TEST(test_name_and_ownership)
{
	static const char	 text[] =
	    "on: push\n"
	    "jobs:\n"
	    "  t:\n"
	    "    name: Unit tests\n"
	    "    runs-on: ubuntu-latest\n"
	    "    strategy:\n"
	    "      matrix:\n"
	    "        os: [ubuntu, macos]\n"
	    "        node: [{version: 14}]\n"
	    "    steps:\n"
	    "      - run: echo\n";
	struct wf_errors	 errs = { 0 };
	struct workflow		*wf;
	struct matrix_leg	*legs;
	size_t			 nlegs;
	json_t			*n0, *n1;
	char			 err[256];

	wf = workflow_parse("w.yml", text, strlen(text), &errs);
	ck_assert_ptr_nonnull(wf);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_int_eq(matrix_expand(&wf->jobs[0], &legs, &nlegs, err,
	    sizeof err), 0);
	ck_assert_uint_eq(nlegs, 2);
	ck_assert_str_eq(legs[0].name, "Unit tests (ubuntu, 14)");
	ck_assert_str_eq(legs[1].name, "Unit tests (macos, 14)");
	n0 = json_object_get(legs[0].values, "node");
	n1 = json_object_get(legs[1].values, "node");
	ck_assert_ptr_nonnull(n0);
	ck_assert_ptr_ne(n0, n1);
	ck_assert_ptr_ne(n0, json_array_get(json_object_get(
	    wf->jobs[0].strategy.matrix, "node"), 0));
	/* The legs outlive the workflow. */
	workflow_free(wf);
	ck_assert_int_eq(json_integer_value(json_object_get(n0, "version")),
	    14);
	matrix_legs_free(legs, nlegs);
}
END_TEST

/* Names are cut to 100 UTF-16 units ending in "...", never mid-character. */
START_TEST(test_name_truncation)
{
	struct matrix_leg	*legs;
	size_t			 nlegs, i;
	json_t			*m;
	char			 err[256], *s;
	struct buf		 b = { 0 };

	/* Exactly 100 characters: kept. */
	for (i = 0; i < 100 - strlen("build ()"); i++)
		buf_add_char(&b, 'x');
	m = json_pack("{s:[s]}", "v", b.data);
	ck_assert_int_eq(matrix_expand_json("build", m, &legs, &nlegs, err,
	    sizeof err), 0);
	ck_assert_uint_eq(strlen(legs[0].name), 100);
	ck_assert(str_has_suffix(legs[0].name, "x)"));
	matrix_legs_free(legs, nlegs);
	json_decref(m);

	/* 101: cut to 97 + "...". */
	buf_add_char(&b, 'y');
	m = json_pack("{s:[s]}", "v", b.data);
	ck_assert_int_eq(matrix_expand_json("build", m, &legs, &nlegs, err,
	    sizeof err), 0);
	ck_assert_uint_eq(strlen(legs[0].name), 100);
	ck_assert(str_has_prefix(legs[0].name, "build (xxx"));
	ck_assert(str_has_suffix(legs[0].name, "x..."));
	matrix_legs_free(legs, nlegs);
	json_decref(m);
	buf_free(&b);

	/* Two-byte characters count one unit each. */
	for (i = 0; i < 100; i++)
		buf_add_str(&b, "\xc3\xa9");		/* é */
	m = json_pack("{s:[s]}", "v", b.data);
	ck_assert_int_eq(matrix_expand_json("build", m, &legs, &nlegs, err,
	    sizeof err), 0);
	s = legs[0].name;
	ck_assert_uint_eq(strlen(s), 7 + 90 * 2 + 3);
	ck_assert(str_has_suffix(s, "\xc3\xa9..."));
	matrix_legs_free(legs, nlegs);
	json_decref(m);
	buf_free(&b);

	/* Four-byte characters count two units: not split at the cut. */
	for (i = 0; i < 50; i++)
		buf_add_str(&b, "\xf0\x9f\x90\xb1");	/* U+1F431 */
	m = json_pack("{s:[s]}", "v", b.data);
	ck_assert_int_eq(matrix_expand_json("build", m, &legs, &nlegs, err,
	    sizeof err), 0);
	s = legs[0].name;
	/* 7 + 2 * 45 = 97 units, then "...". */
	ck_assert_uint_eq(strlen(s), 7 + 45 * 4 + 3);
	matrix_legs_free(legs, nlegs);
	json_decref(m);
	buf_free(&b);
}
END_TEST

/* A JSON matrix {a: [0..na-1], b: [0..nb-1]} plus extra includes. */
static json_t *
grid(size_t na, size_t nb, size_t nextra)
{
	json_t	*m = json_object(), *a = json_array(), *b = json_array();
	json_t	*inc = json_array();
	size_t	 i;

	for (i = 0; i < na; i++)
		json_array_append_new(a, json_integer((json_int_t)i));
	for (i = 0; i < nb; i++)
		json_array_append_new(b, json_integer((json_int_t)i));
	for (i = 0; i < nextra; i++)
		json_array_append_new(inc, json_pack("{s:I}", "a",
		    (json_int_t)(1000 + i)));
	json_object_set_new(m, "a", a);
	if (nb > 0)
		json_object_set_new(m, "b", b);
	else
		json_decref(b);
	json_object_set_new(m, "include", inc);
	return m;
}

START_TEST(test_limit)
{
	struct matrix_leg	*legs;
	size_t			 nlegs;
	json_t			*m;
	char			 err[256];

	/* 16 x 16 = 256: allowed; the last leg is the innermost last. */
	m = grid(16, 16, 0);
	ck_assert_int_eq(matrix_expand_json("b", m, &legs, &nlegs, err,
	    sizeof err), 0);
	ck_assert_uint_eq(nlegs, 256);
	ck_assert_str_eq(legs[0].name, "b (0, 0)");
	ck_assert_str_eq(legs[1].name, "b (0, 1)");
	ck_assert_str_eq(legs[255].name, "b (15, 15)");
	matrix_legs_free(legs, nlegs);
	json_decref(m);

	/* One appended include more: 257. */
	m = grid(16, 16, 1);
	legs = (void *)1;
	ck_assert_int_eq(matrix_expand_json("b", m, &legs, &nlegs, err,
	    sizeof err), -1);
	ck_assert_ptr_null(legs);
	ck_assert_str_eq(err, "Matrix expands to 257 jobs; the maximum is 256");
	json_decref(m);

	/* 255 product legs + 1 appended = 256. */
	m = grid(255, 0, 1);
	ck_assert_int_eq(matrix_expand_json("b", m, &legs, &nlegs, err,
	    sizeof err), 0);
	ck_assert_uint_eq(nlegs, 256);
	ck_assert_str_eq(legs[255].name, "b (1000)");
	matrix_legs_free(legs, nlegs);
	json_decref(m);

	/* A single vector of 257. */
	m = grid(257, 0, 0);
	ck_assert_int_eq(matrix_expand_json("b", m, &legs, &nlegs, err,
	    sizeof err), -1);
	ck_assert_str_eq(err, "Matrix expands to 257 jobs; the maximum is 256");
	json_decref(m);

	/* A product far past the limit is refused before it is walked. */
	m = grid(1000, 1000, 0);
	ck_assert_int_eq(matrix_expand_json("b", m, &legs, &nlegs, err,
	    sizeof err), -1);
	ck_assert_msg(strstr(err, "more than 65536 combinations") != NULL,
	    "%s", err);
	json_decref(m);

	/* A short error buffer truncates, never overflows. */
	m = grid(257, 0, 0);
	ck_assert_int_eq(matrix_expand_json("b", m, &legs, &nlegs, err, 8),
	    -1);
	ck_assert_str_eq(err, "Matrix ");
	ck_assert_int_eq(matrix_expand_json("b", m, &legs, &nlegs, NULL, 0),
	    -1);
	json_decref(m);
}
END_TEST

/* matrix_expand_json takes values as data: "${{" is just text there. */
START_TEST(test_json_entry)
{
	struct matrix_leg	*legs;
	size_t			 nlegs;
	json_error_t		 jerr;
	json_t			*m;
	char			 err[256];

	m = json_loads("{\"v\":[\"${{ x }}\"]}", 0, &jerr);
	ck_assert_int_eq(matrix_expand_json("j", m, &legs, &nlegs, err,
	    sizeof err), 0);
	ck_assert_str_eq(legs[0].name, "j (${{ x }})");
	matrix_legs_free(legs, nlegs);
	json_decref(m);

	m = json_string("not a matrix");
	ck_assert_int_eq(matrix_expand_json("j", m, &legs, &nlegs, err,
	    sizeof err), -1);
	ck_assert_str_eq(err, "Matrix must be a mapping of variables to "
	    "lists of values");
	json_decref(m);

	m = json_null();
	ck_assert_int_eq(matrix_expand_json("j", m, &legs, &nlegs, err,
	    sizeof err), -1);
	ck_assert_str_eq(err, "Matrix must define at least one vector");
	json_decref(m);
}
END_TEST

static Suite *
matrix_suite(void)
{
	Suite	*s = suite_create("matrix");
	TCase	*tc = tcase_create("core");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */

	tcase_add_loop_test(tc, test_expand_vectors, 0, nitems(expand_vecs));
	tcase_add_loop_test(tc, test_error_vectors, 0, nitems(error_vecs));
	tcase_add_loop_test(tc, test_match_is_expression_equality, 0,
	    nitems(match_vecs));
	tcase_add_test(tc, test_case_insensitive_names);
	tcase_add_test(tc, test_no_matrix);
	tcase_add_test(tc, test_name_and_ownership);
	tcase_add_test(tc, test_name_truncation);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_json_entry);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(matrix_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
