/*
 * Table-driven conformance suite: the data files under tests/conformance/
 * (one JSON file per area) run against the real modules.
 *
 *   globs.json       glob_compile + glob_match           (reference 2.3)
 *   filters.json     glob_list_included, '!' order        (reference 2.2, 2.4)
 *   triggers.json    workflow_parse + trigger_match       (reference 2.1-2.5)
 *   matrix.json      workflow_parse + matrix_expand       (reference 3.5)
 *   validation.json  workflow_parse errors, line:col      (reference 2, 3)
 *   cron.json        cron_parse + cron_next               (reference 2.5)
 *   envfiles.json    envfile_parse, envfile_path_*, envfile_env_blocked
 *                                                         (reference 5.3)
 *
 * Every case carries an "id", its inputs, the expected result and a
 * "source" naming the reference section / vector or the GitHub docs page it
 * comes from.  Cases marked "unconfirmed": true (the reference could not
 * confirm the behaviour) are run and reported, but neither counted nor
 * allowed to fail the suite.
 *
 * The data directory is $KILN_SRCDIR/tests/conformance (make check-unit sets
 * KILN_SRCDIR to the top of the tree), else ./tests/conformance.  A missing
 * file, a file that does not parse, a file without cases or a malformed
 * case fails the suite: a conformance run that silently checks nothing is a
 * defect.
 *
 * A failing case is printed on one line with its id, input, expected and
 * actual value.  It is a bug in the module under test unless the
 * expectation contradicts the reference; fix the module, not the data.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cron.h"
#include "envfile.h"
#include "glob.h"
#include "matrix.h"
#include "trigger.h"
#include "util.h"
#include "workflow.h"

/* The outcome of one case. */
enum conf_result {
	CONF_PASS,
	CONF_FAIL,
	CONF_BAD,		/* the case itself is malformed */
};

/*
 * One area: its data file and the function that runs one case.  The
 * function appends "input=... expected=... actual=..." to out when the case
 * does not pass (CONF_BAD: what is wrong with the case).
 */
struct conf_area {
	const char	*name;
	const char	*file;
	enum conf_result (*run)(json_t *c, struct buf *out);
};

/* Fixed tail that turns an on: block into a complete, valid workflow. */
static const char conf_jobs_tail[] =
    "jobs:\n"
    "  j:\n"
    "    runs-on: ubuntu-latest\n"
    "    steps:\n"
    "      - run: echo hi\n";

/* JSON text of v for messages (compact, key order kept). Caller frees. */
static char *
conf_dump(const json_t *v)
{
	char *s;

	if (v == NULL)
		return xstrdup("(none)");
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	return s != NULL ? s : xstrdup("(unprintable)");
}

static void
conf_add_json(struct buf *out, const char *label, const json_t *v)
{
	char *s = conf_dump(v);

	buf_printf(out, "%s=%s ", label, s);
	free(s);
}

/* label=s as a JSON string, so newlines stay on one line. */
static void
conf_add_str(struct buf *out, const char *label, const char *s)
{
	json_t *j = json_string(s != NULL ? s : "");

	conf_add_json(out, label, j);
	json_decref(j);
}

/* A string, or an array of lines joined with "\n" (each line ends in one). */
static char *
conf_text(const json_t *v)
{
	struct buf	 b = { 0 };
	json_t		*line;
	size_t		 i;

	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (!json_is_array(v))
		return NULL;
	json_array_foreach(v, i, line) {
		if (!json_is_string(line)) {
			buf_free(&b);
			return NULL;
		}
		buf_add_str(&b, json_string_value(line));
		buf_add_char(&b, '\n');
	}
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b);
}

static const char *
conf_str(const json_t *c, const char *key)
{
	return json_string_value(json_object_get(c, key));
}

/* ---- globs ------------------------------------------------------------ */

static enum conf_result
conf_globs(json_t *c, struct buf *out)
{
	const char	*pat = conf_str(c, "pattern");
	const char	*in = conf_str(c, "input");
	json_t		*want_match = json_object_get(c, "match");
	int		 want_error = json_is_true(json_object_get(c, "error"));
	struct glob	*g;
	char		 err[256] = "";
	int		 got;

	if (pat == NULL || (!want_error && (in == NULL ||
	    !json_is_boolean(want_match)))) {
		buf_add_str(out, "needs pattern and either input+match or "
		    "error:true");
		return CONF_BAD;
	}
	g = glob_compile(pat, err, sizeof err);
	if (want_error) {
		if (g == NULL)
			return CONF_PASS;
		buf_printf(out, "pattern='%s' expected=compile error "
		    "actual=compiled", pat);
		glob_free(g);
		return CONF_FAIL;
	}
	if (g == NULL) {
		buf_printf(out, "pattern='%s' input='%s' expected=%s "
		    "actual=compile error: %s", pat, in,
		    json_is_true(want_match) ? "match" : "no match", err);
		return CONF_FAIL;
	}
	got = glob_match(g, in);
	glob_free(g);
	if (got == json_is_true(want_match))
		return CONF_PASS;
	buf_printf(out, "pattern='%s' input='%s' expected=%s actual=%s", pat,
	    in, json_is_true(want_match) ? "match" : "no match",
	    got ? "match" : "no match");
	return CONF_FAIL;
}

/* ---- filters ---------------------------------------------------------- */

static enum conf_result
conf_filters(json_t *c, struct buf *out)
{
	json_t		*pats = json_object_get(c, "patterns"), *p;
	const char	*in = conf_str(c, "input");
	json_t		*want = json_object_get(c, "included");
	struct glob	**list;
	enum conf_result r = CONF_PASS;
	char		 err[256];
	size_t		 i, n;
	int		 got;

	if (!json_is_array(pats) || in == NULL || !json_is_boolean(want)) {
		buf_add_str(out, "needs patterns[], input and included");
		return CONF_BAD;
	}
	n = json_array_size(pats);
	list = xcalloc(n + 1, sizeof *list);
	json_array_foreach(pats, i, p) {
		if (!json_is_string(p) || (list[i] = glob_compile(
		    json_string_value(p), err, sizeof err)) == NULL) {
			conf_add_json(out, "patterns", pats);
			buf_printf(out, "expected=compiles actual=pattern %zu: "
			    "%s", i, json_is_string(p) ? err : "not a string");
			r = CONF_FAIL;
			goto done;
		}
	}
	got = glob_list_included(list, n, in, NULL);
	if (got != json_is_true(want)) {
		conf_add_json(out, "patterns", pats);
		buf_printf(out, "input='%s' expected=%s actual=%s", in,
		    json_is_true(want) ? "included" : "excluded",
		    got ? "included" : "excluded");
		r = CONF_FAIL;
	}
done:
	for (i = 0; i < n; i++)
		glob_free(list[i]);
	free(list);
	return r;
}

/* ---- workflows -------------------------------------------------------- */

/* All errors as one line, "L:C: msg; L:C: msg". Caller frees. */
static char *
conf_errors_line(const struct wf_errors *errs)
{
	struct buf	b = { 0 };
	size_t		i;

	for (i = 0; i < errs->n; i++)
		buf_printf(&b, "%s%d:%d: %s", i > 0 ? "; " : "",
		    errs->v[i].line, errs->v[i].col, errs->v[i].msg);
	if (errs->dropped > 0)
		buf_printf(&b, "; (%zu more)", errs->dropped);
	if (b.data == NULL)
		return xstrdup("[]");
	return buf_steal(&b);
}

/* ---- triggers --------------------------------------------------------- */

static enum conf_result
conf_triggers(json_t *c, struct buf *out)
{
	json_t			*ev = json_object_get(c, "event");
	json_t			*want = json_object_get(c, "triggered");
	json_t			*jp, *p;
	char			*on, *text, *reason = NULL, *el;
	const char		**paths = NULL;
	struct trigger_event	 te;
	struct wf_errors	 errs = { 0 };
	struct workflow		*wf;
	enum conf_result	 r = CONF_PASS;
	size_t			 i;
	int			 got;

	if (json_object_get(c, "workflow") != NULL) {
		on = NULL;
		text = conf_text(json_object_get(c, "workflow"));
	} else {
		on = conf_text(json_object_get(c, "on"));
		text = on != NULL ? xasprintf("%s%s", on, conf_jobs_tail) :
		    NULL;
	}
	if (text == NULL || !json_is_object(ev) ||
	    conf_str(ev, "name") == NULL || !json_is_boolean(want)) {
		buf_add_str(out, "needs on (or workflow), event{name} and "
		    "triggered");
		free(on);
		free(text);
		return CONF_BAD;
	}
	memset(&te, 0, sizeof te);
	te.name = conf_str(ev, "name");
	te.ref = conf_str(ev, "ref");
	te.base_ref = conf_str(ev, "base_ref");
	te.action = conf_str(ev, "action");
	te.head_message = conf_str(ev, "message");
	te.cron = conf_str(ev, "cron");
	te.paths_unknown = json_is_true(json_object_get(ev, "paths_unknown"));
	jp = json_object_get(ev, "paths");
	if (json_is_array(jp)) {
		paths = xcalloc(json_array_size(jp) + 1, sizeof *paths);
		json_array_foreach(jp, i, p)
			paths[i] = json_is_string(p) ? json_string_value(p) :
			    "";
		te.paths = paths;
		te.npaths = json_array_size(jp);
	} else if (json_is_string(jp)) {
		/* "paths": "generate:N:prefix" makes N files prefixN. */
		unsigned	 count;
		char		 prefix[64];

		if (sscanf(json_string_value(jp), "generate:%u:%63s", &count,
		    prefix) != 2 || count > 5000) {
			buf_add_str(out, "bad paths generator");
			r = CONF_BAD;
			goto out;
		}
		paths = xcalloc(count + 1, sizeof *paths);
		for (i = 0; i < count; i++)
			paths[i] = xasprintf("%s%zu", prefix, i);
		te.paths = paths;
		te.npaths = count;
	}
	wf = workflow_parse("conformance.yml", text, strlen(text), &errs);
	if (wf == NULL || errs.n > 0) {
		el = conf_errors_line(&errs);
		conf_add_str(out, "on", on != NULL ? on : text);
		buf_printf(out, "expected=valid workflow actual=%s", el);
		free(el);
		workflow_free(wf);
		r = CONF_FAIL;
		goto out;
	}
	got = trigger_match(wf, &te, &reason);
	if (got != json_is_true(want)) {
		char *evs = conf_dump(ev);

		conf_add_str(out, "on", on != NULL ? on : text);
		buf_printf(out, "event=%s expected=%s actual=%s "
		    "(%s)", evs, json_is_true(want) ?
		    "triggered" : "not triggered", got ? "triggered" :
		    "not triggered", reason != NULL ? reason : "no reason");
		free(evs);
		r = CONF_FAIL;
	}
	free(reason);
	workflow_free(wf);
out:
	if (json_is_string(jp) && paths != NULL)
		for (i = 0; i < te.npaths; i++)
			free((char *)paths[i]);
	free(paths);
	wf_errors_free(&errs);
	free(on);
	free(text);
	return r;
}

/* ---- matrix ----------------------------------------------------------- */

/* legs -> [{"matrix": values, "name": name}, ...]. */
static json_t *
conf_legs_json(const struct matrix_leg *legs, size_t n)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:O?,s:s}", "matrix",
		    legs[i].values, "name", legs[i].name));
	return a;
}

/*
 * Legs match when the counts agree and each leg's values (json_equal: key
 * order free, 1 and 1.0 differ) and name agree.  A case may give "nlegs"
 * alone for large expansions.
 */
static int
conf_legs_equal(const json_t *want, const struct matrix_leg *legs, size_t n)
{
	json_t	*w, *wm, *wn;
	size_t	 i;

	if (json_array_size(want) != n)
		return 0;
	json_array_foreach(want, i, w) {
		wm = json_object_get(w, "matrix");
		wn = json_object_get(w, "name");
		if (wm != NULL && !(json_is_null(wm) ? legs[i].values == NULL :
		    legs[i].values != NULL && json_equal(wm, legs[i].values)))
			return 0;
		if (wn != NULL && (!json_is_string(wn) || legs[i].name == NULL ||
		    strcmp(json_string_value(wn), legs[i].name) != 0))
			return 0;
	}
	return 1;
}

static enum conf_result
conf_matrix(json_t *c, struct buf *out)
{
	const char		*job = conf_str(c, "job");
	const char		*name = conf_str(c, "name");
	const char		*want_err = conf_str(c, "error");
	json_t			*want = json_object_get(c, "legs");
	json_t			*wantn = json_object_get(c, "nlegs");
	json_t			*mj = json_object_get(c, "matrix_json");
	json_t			*got;
	struct matrix_leg	*legs = NULL;
	size_t			 nlegs = 0;
	struct wf_errors	 errs = { 0 };
	struct workflow		*wf = NULL;
	struct buf		 yaml = { 0 };
	char			*mtext = NULL, *line, *save, *el, *gs;
	char			 err[512] = "";
	enum conf_result	 r = CONF_PASS;
	int			 rc;

	if (job == NULL)
		job = "build";
	if (want_err == NULL && !json_is_array(want) &&
	    !json_is_integer(wantn)) {
		buf_add_str(out, "needs legs[], nlegs or error");
		return CONF_BAD;
	}
	if (mj != NULL) {
		rc = matrix_expand_json(name != NULL ? name : job, mj, &legs,
		    &nlegs, err, sizeof err);
	} else {
		if ((mtext = conf_text(json_object_get(c, "matrix"))) == NULL) {
			buf_add_str(out, "needs matrix (YAML) or matrix_json");
			return CONF_BAD;
		}
		buf_printf(&yaml, "on: push\njobs:\n  %s:\n", job);
		if (name != NULL)
			buf_printf(&yaml, "    name: '%s'\n", name);
		buf_add_str(&yaml, "    runs-on: ubuntu-latest\n"
		    "    strategy:\n      matrix:\n");
		{
			char *copy = xstrdup(mtext);

			for (line = strtok_r(copy, "\n", &save); line != NULL;
			    line = strtok_r(NULL, "\n", &save))
				buf_printf(&yaml, "        %s\n", line);
			free(copy);
		}
		buf_add_str(&yaml, "    steps:\n      - run: echo hi\n");
		wf = workflow_parse("conformance.yml", yaml.data, yaml.len,
		    &errs);
		if (wf == NULL || errs.n > 0) {
			el = conf_errors_line(&errs);
			snprintf(err, sizeof err, "%s", el);
			free(el);
			rc = -1;
		} else
			rc = matrix_expand(workflow_job(wf, job), &legs,
			    &nlegs, err, sizeof err);
	}
	if (want_err != NULL) {
		if (rc == -1 && strcasestr(err, want_err) != NULL)
			goto done;
		if (mj != NULL)
			conf_add_json(out, "matrix", mj);
		else
			conf_add_str(out, "matrix", mtext);
		if (rc == -1)
			buf_printf(out, "expected=error containing '%s' "
			    "actual=error '%s'", want_err, err);
		else {
			got = conf_legs_json(legs, nlegs);
			gs = conf_dump(got);
			buf_printf(out, "expected=error containing '%s' "
			    "actual=%zu legs %.300s", want_err, nlegs, gs);
			free(gs);
			json_decref(got);
		}
		r = CONF_FAIL;
		goto done;
	}
	if (rc == 0 && (want == NULL || conf_legs_equal(want, legs, nlegs)) &&
	    (wantn == NULL || (size_t)json_integer_value(wantn) == nlegs))
		goto done;
	if (mj != NULL)
		conf_add_json(out, "matrix", mj);
	else
		conf_add_str(out, "matrix", mtext);
	if (want != NULL)
		conf_add_json(out, "expected", want);
	else
		buf_printf(out, "expected=%lld legs ",
		    (long long)json_integer_value(wantn));
	if (rc == -1)
		buf_printf(out, "actual=error '%s'", err);
	else {
		got = conf_legs_json(legs, nlegs);
		gs = conf_dump(got);
		buf_printf(out, "actual=(%zu legs) %s", nlegs, gs);
		free(gs);
		json_decref(got);
	}
	r = CONF_FAIL;
done:
	matrix_legs_free(legs, nlegs);
	workflow_free(wf);
	wf_errors_free(&errs);
	buf_free(&yaml);
	free(mtext);
	return r;
}

/* ---- validation ------------------------------------------------------- */

/*
 * Each expected error is "LINE:COL: text": an actual error at exactly that
 * line and column whose message contains text.  The number of errors must
 * be exactly the number expected ([] = valid).
 */
static enum conf_result
conf_validation(json_t *c, struct buf *out)
{
	json_t			*want = json_object_get(c, "errors"), *w;
	char			*text, *el;
	struct wf_errors	 errs = { 0 };
	struct workflow		*wf;
	enum conf_result	 r = CONF_PASS;
	char			*used = NULL;
	size_t			 i, k;
	int			 line, col, off;

	text = conf_text(json_object_get(c, "yaml"));
	if (text == NULL || !json_is_array(want)) {
		buf_add_str(out, "needs yaml and errors[]");
		free(text);
		return CONF_BAD;
	}
	json_array_foreach(want, i, w) {
		if (!json_is_string(w) || sscanf(json_string_value(w),
		    "%d:%d: %n", &line, &col, &off) != 2) {
			buf_printf(out, "errors[%zu] is not \"L:C: text\"", i);
			free(text);
			return CONF_BAD;
		}
	}
	wf = workflow_parse("conformance.yml", text, strlen(text), &errs);
	used = xcalloc(errs.n + 1, 1);
	if (json_array_size(want) == 0 && wf == NULL && errs.n == 0)
		r = CONF_FAIL;		/* NULL without a reason */
	if (errs.n != json_array_size(want) || errs.dropped > 0)
		r = CONF_FAIL;
	json_array_foreach(want, i, w) {
		const char *ws = json_string_value(w);

		off = 0;
		if (sscanf(ws, "%d:%d: %n", &line, &col, &off) != 2 ||
		    off == 0)
			off = (int)strlen(ws);
		for (k = 0; k < errs.n; k++) {
			if (!used[k] && errs.v[k].line == line &&
			    errs.v[k].col == col &&
			    strstr(errs.v[k].msg, ws + off) != NULL) {
				used[k] = 1;
				break;
			}
		}
		if (k == errs.n)
			r = CONF_FAIL;
	}
	if (r == CONF_FAIL) {
		conf_add_str(out, "yaml", text);
		el = conf_errors_line(&errs);
		conf_add_json(out, "expected", want);
		buf_printf(out, "actual=%s%s", el, wf == NULL ?
		    " (no model)" : "");
		free(el);
	}
	free(used);
	workflow_free(wf);
	wf_errors_free(&errs);
	free(text);
	return r;
}

/* ---- cron ------------------------------------------------------------- */

/* "YYYY-MM-DDTHH:MM" (UTC) -> seconds. */
static int
conf_time(const char *s, int64_t *t)
{
	struct tm	tm;
	int		n = 0;

	memset(&tm, 0, sizeof tm);
	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d%n", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &n) != 5 ||
	    s[n] != '\0')
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = (int64_t)timegm(&tm);
	return 0;
}

static void
conf_time_str(int64_t t, char *out, size_t outsz)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	gmtime_r(&tt, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M", &tm);
}

static enum conf_result
conf_cron(json_t *c, struct buf *out)
{
	const char	*expr = conf_str(c, "cron");
	json_t		*want = json_object_get(c, "next"), *w;
	int		 want_error = json_is_true(json_object_get(c, "error"));
	int		 want_none = json_is_true(json_object_get(c, "none"));
	struct cron	 cr;
	struct buf	 got = { 0 };
	char		 err[256] = "", ts[32];
	int64_t		 after, t, wt;
	enum conf_result r = CONF_PASS;
	size_t		 i;

	if (expr == NULL || (!want_error && (conf_time(conf_str(c, "after"),
	    &after) == -1 || (!want_none && (!json_is_array(want) ||
	    json_array_size(want) == 0))))) {
		buf_add_str(out, "needs cron and error:true, or after and "
		    "next[] / none:true");
		return CONF_BAD;
	}
	if (cron_parse(expr, &cr, err, sizeof err) == -1) {
		if (want_error)
			return CONF_PASS;
		buf_printf(out, "cron='%s' expected=", expr);
		if (want_none)
			buf_add_str(out, "no fire time");
		else
			conf_add_json(out, "", want);
		buf_printf(out, "actual=parse error: %s", err);
		return CONF_FAIL;
	}
	if (want_error) {
		buf_printf(out, "cron='%s' expected=parse error actual=parsed",
		    expr);
		return CONF_FAIL;
	}
	if (want_none) {
		if (cron_next(&cr, after, &t) == -1)
			return CONF_PASS;
		conf_time_str(t, ts, sizeof ts);
		buf_printf(out, "cron='%s' after=%s expected=no fire time "
		    "actual=%s", expr, conf_str(c, "after"), ts);
		return CONF_FAIL;
	}
	t = after;
	json_array_foreach(want, i, w) {
		if (conf_time(json_string_value(w), &wt) == -1) {
			buf_free(&got);
			buf_printf(out, "next[%zu] is not YYYY-MM-DDTHH:MM", i);
			return CONF_BAD;
		}
		if (cron_next(&cr, t, &t) == -1) {
			buf_printf(&got, "%s(none)", i > 0 ? "," : "");
			r = CONF_FAIL;
			break;
		}
		conf_time_str(t, ts, sizeof ts);
		buf_printf(&got, "%s%s", i > 0 ? "," : "", ts);
		if (t != wt)
			r = CONF_FAIL;
	}
	if (r == CONF_FAIL) {
		buf_printf(out, "cron='%s' after=%s ", expr,
		    conf_str(c, "after"));
		conf_add_json(out, "expected", want);
		buf_printf(out, "actual=[%s]", got.data);
	}
	buf_free(&got);
	return r;
}

/* ---- env files ------------------------------------------------------ */

/*
 * The pairs as the runner applies them: in file order, a later duplicate
 * replacing the value of an earlier one (reference 5.3).  Returns
 * [[name, value], ...].
 */
static json_t *
conf_env_effective(const struct envfile *ef)
{
	json_t	*a = json_array(), *p;
	size_t	 i, k;

	for (i = 0; i < ef->n; i++) {
		for (k = 0; k < json_array_size(a); k++) {
			p = json_array_get(a, k);
			if (strcmp(json_string_value(json_array_get(p, 0)),
			    ef->pairs[i].name) == 0)
				break;
		}
		if (k < json_array_size(a))
			json_array_set_new(json_array_get(a, k), 1,
			    json_string(ef->pairs[i].value));
		else
			json_array_append_new(a, json_pack("[ss]",
			    ef->pairs[i].name, ef->pairs[i].value));
	}
	return a;
}

static enum conf_result
conf_envfile_path(json_t *c, struct buf *out)
{
	json_t			*files = json_object_get(c, "contents"), *f;
	const char		*orig = conf_str(c, "orig");
	const char		*want = conf_str(c, "path");
	struct envfile_path	 list = { 0 };
	enum conf_result	 r = CONF_PASS;
	char			*cause = NULL, *got = NULL;
	size_t			 i;

	if (!json_is_array(files) || want == NULL) {
		buf_add_str(out, "kind path needs contents[] and path");
		return CONF_BAD;
	}
	json_array_foreach(files, i, f) {
		if (!json_is_string(f)) {
			buf_add_str(out, "contents[] must be strings");
			envfile_path_free(&list);
			return CONF_BAD;
		}
		if (envfile_path_parse("GITHUB_PATH", json_string_value(f),
		    json_string_length(f), &list, &cause) == -1) {
			conf_add_json(out, "contents", files);
			buf_printf(out, "expected=%s actual=error '%s'", want,
			    cause);
			free(cause);
			envfile_path_free(&list);
			return CONF_FAIL;
		}
	}
	got = envfile_path_join(&list, orig);
	if (got == NULL || strcmp(got, want) != 0) {
		conf_add_json(out, "contents", files);
		buf_printf(out, "orig=%s expected=%s actual=%s", orig != NULL ?
		    orig : "(null)", want, got != NULL ? got : "(null)");
		r = CONF_FAIL;
	}
	free(got);
	envfile_path_free(&list);
	return r;
}

static enum conf_result
conf_envfiles(json_t *c, struct buf *out)
{
	const char	*kind = conf_str(c, "kind");
	json_t		*content = json_object_get(c, "content");
	json_t		*want = json_object_get(c, "pairs"), *got;
	const char	*want_err = conf_str(c, "error");
	struct envfile	 ef = { 0 };
	enum conf_result r = CONF_PASS;
	char		*cause = NULL, *gs;
	int		 rc;

	if (kind != NULL && strcmp(kind, "path") == 0)
		return conf_envfile_path(c, out);
	if (kind != NULL && strcmp(kind, "blocked") == 0) {
		const char	*name = conf_str(c, "name");
		json_t		*wb = json_object_get(c, "blocked");
		const char	*msg;

		if (name == NULL || !json_is_boolean(wb)) {
			buf_add_str(out, "kind blocked needs name and blocked");
			return CONF_BAD;
		}
		msg = envfile_env_blocked(name);
		if ((msg != NULL) == json_is_true(wb) && (msg == NULL ||
		    strcmp(msg, ENVFILE_NODE_OPTIONS_MSG) == 0))
			return CONF_PASS;
		buf_printf(out, "name='%s' expected=%s actual=%s", name,
		    json_is_true(wb) ? "blocked" : "allowed", msg != NULL ?
		    msg : "allowed");
		return CONF_FAIL;
	}
	if (kind != NULL || !json_is_string(content) ||
	    (want_err == NULL && !json_is_array(want))) {
		buf_add_str(out, "needs content and pairs[] or error");
		return CONF_BAD;
	}
	rc = envfile_parse("GITHUB_ENV", json_string_value(content),
	    json_string_length(content), ENVFILE_MAX_VALUE, &ef, &cause,
	    NULL);
	if (want_err != NULL) {
		if (rc == -1 && cause != NULL && strcmp(cause, want_err) == 0)
			goto done;
		conf_add_json(out, "content", content);
		buf_printf(out, "expected=error '%s' actual=", want_err);
		if (rc == -1)
			buf_printf(out, "error '%s'", cause);
		else {
			got = conf_env_effective(&ef);
			conf_add_json(out, "", got);
			json_decref(got);
		}
		r = CONF_FAIL;
		goto done;
	}
	got = rc == 0 ? conf_env_effective(&ef) : NULL;
	if (got == NULL || !json_equal(got, want)) {
		conf_add_json(out, "content", content);
		conf_add_json(out, "expected", want);
		if (got != NULL) {
			gs = conf_dump(got);
			buf_printf(out, "actual=%s", gs);
			free(gs);
		} else
			buf_printf(out, "actual=error '%s'", cause);
		r = CONF_FAIL;
	}
	json_decref(got);
done:
	free(cause);
	envfile_free(&ef);
	return r;
}

/* ---- driver ----------------------------------------------------------- */

static const struct conf_area conf_areas[] = {
	{ "globs", "globs.json", conf_globs },
	{ "filters", "filters.json", conf_filters },
	{ "triggers", "triggers.json", conf_triggers },
	{ "matrix", "matrix.json", conf_matrix },
	{ "validation", "validation.json", conf_validation },
	{ "cron", "cron.json", conf_cron },
	{ "envfiles", "envfiles.json", conf_envfiles },
};

static char *
conf_dir(void)
{
	const char *src = getenv("KILN_SRCDIR");

	if (src != NULL && *src != '\0')
		return xasprintf("%s/tests/conformance", src);
	return xstrdup("./tests/conformance");
}

/* Totals over all areas, for the final line (only used without fork). */
static size_t conf_total_cases, conf_total_failed;

/*
 * Run every case of one area.  Returns the number of failures (malformed
 * cases and a missing or empty file count as failures).
 */
static size_t
conf_run_area(const struct conf_area *a)
{
	char		*dir = conf_dir(), *path;
	json_t		*root, *cases, *c, *seen;
	json_error_t	 jerr;
	size_t		 i, n = 0, passed = 0, failed = 0, unconf = 0, uagree = 0;
	const char	*id, *src;
	enum conf_result r;

	path = xasprintf("%s/%s", dir, a->file);
	root = json_load_file(path, 0, &jerr);
	if (root == NULL) {
		printf("FAIL %s: cannot load %s: %s (line %d)\n", a->name,
		    path, jerr.text, jerr.line);
		free(dir);
		free(path);
		return 1;
	}
	cases = json_object_get(root, "cases");
	if (!json_is_array(cases) || json_array_size(cases) == 0) {
		printf("FAIL %s: %s has no \"cases\" (a suite that runs "
		    "nothing is a defect)\n", a->name, path);
		json_decref(root);
		free(dir);
		free(path);
		return 1;
	}
	seen = json_object();
	json_array_foreach(cases, i, c) {
		struct buf	 out = { 0 };
		int		 unconfirmed;

		id = conf_str(c, "id");
		src = conf_str(c, "source");
		unconfirmed = json_is_true(json_object_get(c, "unconfirmed"));
		if (id == NULL || src == NULL || *src == '\0') {
			printf("FAIL %s[%zu]: case without id or source\n",
			    a->name, i);
			failed++;
			n++;
			continue;
		}
		if (json_object_get(seen, id) != NULL) {
			printf("FAIL %s %s: duplicate case id\n", a->name, id);
			failed++;
			n++;
			continue;
		}
		json_object_set_new(seen, id, json_true());
		if (unconfirmed &&
		    conf_str(c, "note") == NULL) {
			printf("FAIL %s %s: unconfirmed case without a "
			    "note\n", a->name, id);
			failed++;
			n++;
			continue;
		}
		r = a->run(c, &out);
		if (unconfirmed) {
			unconf++;
			if (r == CONF_PASS)
				uagree++;
			else
				printf("note %s %s (unconfirmed, %s): %s\n",
				    a->name, id, conf_str(c, "note"),
				    out.data != NULL ? out.data : "");
			buf_free(&out);
			continue;
		}
		n++;
		if (r == CONF_PASS)
			passed++;
		else {
			failed++;
			printf("FAIL %s %s [%s]: %s%s\n", a->name, id, src,
			    r == CONF_BAD ? "malformed case: " : "",
			    out.data != NULL ? out.data : "");
		}
		buf_free(&out);
	}
	if (n == 0) {
		printf("FAIL %s: %s has no confirmed cases\n", a->name, path);
		failed++;
	}
	printf("conformance suite: %s: %zu cases, %zu passed, %zu failed",
	    a->name, n, passed, failed);
	if (unconf > 0)
		printf(" (+%zu unconfirmed, not counted: %zu agree)", unconf,
		    uagree);
	printf("\n");
	fflush(stdout);
	conf_total_cases += n;
	conf_total_failed += failed;
	json_decref(seen);
	json_decref(root);
	free(dir);
	free(path);
	return failed;
}

START_TEST(test_area)
{
	const struct conf_area	*a = &conf_areas[_i];
	size_t			 failed;

	failed = conf_run_area(a);
	fflush(stdout);		/* a failing check may leave by _exit() */
	ck_assert_msg(failed == 0, "%s: %zu conformance case(s) failed",
	    a->name, failed);
}
END_TEST

static Suite *
conformance_suite(void)
{
	Suite	*s = suite_create("conformance");
	TCase	*tc = tcase_create("areas");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_area, 0, (int)nitems(conf_areas));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(conformance_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	if (srunner_fork_status(sr) == CK_NOFORK)
		printf("conformance suite: total %zu cases, %zu failed\n",
		    conf_total_cases, conf_total_failed);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
