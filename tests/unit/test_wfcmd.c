/*
 * Unit tests for common/wfcmd: command parsing and unescaping (E17, both
 * syntaxes), every command's effect on the log and the records, masking
 * (chunk splits, multi-line, overlapping and adjacent secrets), stop-
 * commands, line splitting byte by byte, and the bound on overlong lines.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "wfcmd.h"

/* --- parsing ------------------------------------------------------------ */

/* A line that is not a command. */
#define NOCMD(l)	{ l, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0 }
/* A command with no property checks. */
#define CMD(l, x, n, m)	{ l, x, 1, n, m, NULL, NULL, NULL, NULL, 0 }

struct parse_vec {
	const char	*line;
	const char	*extra;
	int		 ok;
	const char	*name;
	const char	*message;
	const char	*key1, *val1;	/* a property to look up, or NULL */
	const char	*key2, *val2;	/* val NULL: must be absent */
	int		 legacy;
};

static const struct parse_vec parse_vecs[] = {
	/* Edge values first. */
	NOCMD(""),
	NOCMD("::"),
	NOCMD(":::"),
	NOCMD("::::"),			/* empty name */
	NOCMD("::error"),			/* no closing :: */
	NOCMD(":: error::x"),		/* name is "" */
	NOCMD("::error\t::x"),		/* name "error\t" */
	NOCMD("::unknown::x"),
	NOCMD("x ::error::y"),		/* :: must start the line */
	CMD("::error::", NULL, "error", ""),
	CMD("::error::x", NULL, "error", "x"),
	CMD("  \t::error::x", NULL, "error", "x"),
	CMD("::ERROR::x", NULL, "ERROR", "x"),
	CMD("::Add-Mask::x", NULL, "Add-Mask", "x"),
	CMD("::error::a::b", NULL, "error", "a::b"),
	/* E17 */
	{ "::error file=app.js,line=1,title=T%2C1::Missing%0Asemicolon", NULL,
	    1, "error", "Missing\nsemicolon", "title", "T,1", "line", "1", 0 },
	/* Properties. */
	{ "::error file=a, line=2::m", NULL, 1, "error", "m", "file", "a",
	    "line", NULL, 0 },
	{ "::error file=a, line=2::m", NULL, 1, "error", "m", " line", "2",
	    NULL, NULL, 0 },
	{ "::error  file=x ::m", NULL, 1, "error", "m", "file", "x", NULL,
	    NULL, 0 },
	{ "::error a,=b,c=,,d=e::m", NULL, 1, "error", "m", "d", "e", "c",
	    NULL, 0 },
	{ "::error a,=b,c=,,d=e::m", NULL, 1, "error", "m", "a", NULL, "",
	    NULL, 0 },
	{ "::error file=a,FILE=b::m", NULL, 1, "error", "m", "File", "b",
	    NULL, NULL, 0 },
	{ "::error k=a=b::m", NULL, 1, "error", "m", "k", "a=b", NULL, NULL, 0 },
	{ "::error k=%3A%2C%0D%0A%25::m", NULL, 1, "error", "m", "k",
	    ":,\r\n%", NULL, NULL, 0 },
	{ "::error k=%253A::m", NULL, 1, "error", "m", "k", "%3A", NULL, NULL, 0 },
	{ "::error k=%3a%0a::m", NULL, 1, "error", "m", "k", "%3a%0a", NULL, NULL, 0 },
	{ "::error title=a%3A%3Ab::m", NULL, 1, "error", "m", "title",
	    "a::b", NULL, NULL, 0 },
	/* Message unescaping: %0D %0A %25 only, upper case only. */
	CMD("::error::%25%0D%0A%3A%2C", NULL, "error", "%\r\n%3A%2C"),
	CMD("::error::%250A", NULL, "error", "%0A"),
	CMD("::error::%0a%0d", NULL, "error", "%0a%0d"),
	CMD("::error::100%", NULL, "error", "100%"),
	/* Legacy ##[...] form, anywhere in the line. */
	{ "##[error file=a;line=3]msg%5D%3B", NULL, 1, "error", "msg];",
	    "file", "a", "line", "3", 1 },
	{ "prefix ##[warning]x", NULL, 1, "warning", "x", NULL, NULL, NULL,
	    NULL, 1 },
	{ "##[error k=%3B%5D%0A%25]m", NULL, 1, "error", "m", "k", ";]\n%",
	    NULL, NULL, 1 },
	{ "##[error  k=v]m", NULL, 1, "error", "m", " k", "v", "k", NULL, 1 },
	NOCMD("##[error"),
	NOCMD("##[nope]x"),
	{ "::nope::##[group]x", NULL, 1, "group", "x", NULL, NULL, NULL, NULL,
	    1 },
	/* The stop token is registered only while given. */
	NOCMD("::tok123::"),
	CMD("::TOK123::rest", "tok123", "TOK123", "rest"),
	{ "::::", "", 0, NULL, NULL, NULL, NULL, NULL, NULL, 0 },
};

START_TEST(test_parse_vectors)
{
	const struct parse_vec	*v = &parse_vecs[_i];
	struct wfcmd_cmd	 cmd;
	const char		*p;

	ck_assert_int_eq(wfcmd_parse(v->line, strlen(v->line), v->extra,
	    &cmd), v->ok);
	if (!v->ok)
		return;
	ck_assert_str_eq(cmd.name, v->name);
	ck_assert_str_eq(cmd.message, v->message);
	ck_assert_int_eq(cmd.legacy, v->legacy);
	if (v->key1 != NULL) {
		p = wfcmd_cmd_prop(&cmd, v->key1);
		if (v->val1 == NULL)
			ck_assert_ptr_null(p);
		else
			ck_assert_str_eq(p, v->val1);
	}
	if (v->key2 != NULL) {
		p = wfcmd_cmd_prop(&cmd, v->key2);
		if (v->val2 == NULL)
			ck_assert_ptr_null(p);
		else
			ck_assert_str_eq(p, v->val2);
	}
	wfcmd_cmd_free(&cmd);
}
END_TEST

/* --- processor helpers -------------------------------------------------- */

/* Feed all of in at once, then flush; returns the log (caller frees). */
static char *
run(struct wfcmd_state *st, const char *in)
{
	struct buf	out = { 0 };

	wfcmd_feed(st, in, strlen(in), &out);
	wfcmd_flush(st, &out);
	return buf_steal(&out);
}

/* The same, one byte per feed. */
static char *
run_bytes(struct wfcmd_state *st, const char *in)
{
	struct buf	out = { 0 };
	size_t		i;

	for (i = 0; in[i] != '\0'; i++)
		wfcmd_feed(st, in + i, 1, &out);
	wfcmd_flush(st, &out);
	return buf_steal(&out);
}

struct log_vec {
	int		 flags;
	const char	*mask;		/* registered first, or NULL */
	const char	*in;
	const char	*want;
};

static const struct log_vec log_vecs[] = {
	/* Line splitting. */
	{ 0, NULL, "", "" },
	{ 0, NULL, "\n", "\n" },
	{ 0, NULL, "a", "a\n" },
	{ 0, NULL, "a\nb", "a\nb\n" },
	{ 0, NULL, "a\r\nb\r\n", "a\nb\n" },
	{ 0, NULL, "a\rb\r", "a\nb\n" },
	{ 0, NULL, "a\r\r\nb", "a\n\nb\n" },
	{ 0, NULL, "a\n\r\n", "a\n\n" },
	{ 0, NULL, "x\0y\n", "x\n" },		/* (strlen stops at NUL) */
	/* Plain output and unknown commands. */
	{ 0, NULL, "::unknown::x\n", "::unknown::x\n" },
	{ 0, NULL, "::error\n", "::error\n" },
	/* group / endgroup */
	{ 0, NULL, "::group::My title\nin\n::endgroup::\n",
	    "##[group]My title\nin\n##[endgroup]\n" },
	{ 0, NULL, "::endgroup::ignored\n", "##[endgroup]\n" },
	{ 0, NULL, "##[group]legacy\n", "##[group]legacy\n" },
	{ 0, NULL, "::group::a%0Ab\n", "##[group]a\nb\n" },
	/* Annotations log only the message. */
	{ 0, NULL, "::error file=a.c,line=2::boom\n", "##[error]boom\n" },
	{ 0, NULL, "::warning::w\n", "##[warning]w\n" },
	{ 0, NULL, "::notice title=t::n\n", "##[notice]n\n" },
	{ 0, NULL, "::error::\n", "##[error]\n" },
	/* debug */
	{ 0, NULL, "::debug::hidden\nshown\n", "shown\n" },
	{ WFCMD_F_STEP_DEBUG, NULL, "::debug::d%25\n", "##[debug]d%\n" },
	/* Silent commands. */
	{ 0, NULL, "::set-output name=a::1\n::save-state name=b::2\n", "" },
	{ 0, NULL, "::add-matcher::m.json\n::remove-matcher owner=x::\n", "" },
	{ 0, NULL, "::echo::on\n", "" },
	{ 0, NULL, "::add-mask::s3cr3t\nsay s3cr3t\n", "say ***\n" },
	/* Echo: on by default under step debug, never for the OmitEcho ones. */
	{ WFCMD_F_STEP_DEBUG, NULL, "::group::g\n",
	    "::group::g\n##[group]g\n" },
	{ WFCMD_F_STEP_DEBUG, NULL, "::set-output name=a::1\n",
	    "::set-output name=a::1\n" },
	{ WFCMD_F_STEP_DEBUG, NULL, "::error::e\n::debug::d\n",
	    "##[error]e\n##[debug]d\n" },
	{ WFCMD_F_STEP_DEBUG, NULL, "::add-mask::pw\npw\n",
	    "::add-mask::***\n***\n" },
	{ 0, NULL, "::echo::on\n::group::g\n::echo::off\n::group::h\n",
	    "::group::g\n##[group]g\n::echo::off\n##[group]h\n" },
	{ 0, NULL, "::echo:: ON \n::endgroup::\n",
	    "::endgroup::\n##[endgroup]\n" },
	/* Masking. */
	{ 0, "abc", "abc xabcx abcabc ab c\n", "*** x***x *** ab c\n" },
	{ 0, "aa", "aaa\n", "***\n" },			/* overlapping self */
	{ 0, "aa", "a a aa\n", "a a ***\n" },
	{ 0, "  pad  ", "a pad b\n", "a *** b\n" },	/* trimmed */
	{ 0, "l1\nl2", "x l1 y l2 z\n", "x *** y *** z\n" },	/* per line */
	{ 0, "l1\r\n\r\n l2 ", "l1l2\n", "***\n" },
	{ 0, "s", "::group::s\n::error title=s::s\n",
	    "##[group]***\n##[error]***\n" },
};

START_TEST(test_log_vectors)
{
	const struct log_vec	*v = &log_vecs[_i];
	struct wfcmd_state	*st;
	char			*got;
	int			 pass;

	/* Once whole, once byte by byte: the log must not differ. */
	for (pass = 0; pass < 2; pass++) {
		st = wfcmd_new();
		wfcmd_set_flags(st, v->flags);
		if (v->mask != NULL)
			ck_assert_int_eq(wfcmd_add_mask(st, v->mask), 0);
		got = pass == 0 ? run(st, v->in) : run_bytes(st, v->in);
		ck_assert_msg(strcmp(got, v->want) == 0,
		    "vector %d pass %d: got \"%s\"", _i, pass, got);
		ck_assert_int_eq(wfcmd_failed(st), 0);
		free(got);
		wfcmd_free(st);
	}
}
END_TEST

/* --- annotations -------------------------------------------------------- */

/* E17 */
START_TEST(test_e17)
{
	struct wfcmd_state		*st = wfcmd_new();
	const struct wfcmd_annotation	*a;
	char				*got;

	got = run(st, "::error file=app.js,line=1,title=T%2C1::"
	    "Missing%0Asemicolon\n");
	ck_assert_str_eq(got, "##[error]Missing\nsemicolon\n");
	ck_assert_uint_eq(wfcmd_nannotations(st), 1);
	a = wfcmd_annotation(st, 0);
	ck_assert_int_eq(a->level, WFCMD_ERROR);
	ck_assert_str_eq(a->file, "app.js");
	ck_assert_int_eq(a->line, 1);
	ck_assert_int_eq(a->end_line, 0);
	ck_assert_int_eq(a->col, 0);
	ck_assert_str_eq(a->title, "T,1");
	ck_assert_str_eq(a->message, "Missing\nsemicolon");
	ck_assert_ptr_null(wfcmd_annotation(st, 1));
	ck_assert_int_eq(wfcmd_failed(st), 0);	/* ::error:: alone: no */
	free(got);
	wfcmd_free(st);
}
END_TEST

struct ann_vec {
	const char	*in;
	int		 level;
	const char	*file, *title, *message;
	int		 line, end_line, col, end_col;
};

static const struct ann_vec ann_vecs[] = {
	{ "::warning::w", WFCMD_WARNING, NULL, NULL, "w", 0, 0, 0, 0 },
	{ "::notice::n", WFCMD_NOTICE, NULL, NULL, "n", 0, 0, 0, 0 },
	{ "::error file=f,line=3,endLine=5,title=T::m", WFCMD_ERROR, "f",
	    "T", "m", 3, 5, 0, 0 },
	{ "::error line=3,col=2,endColumn=7::m", WFCMD_ERROR, NULL, NULL, "m",
	    3, 0, 2, 7 },
	{ "::error LINE=3,Col=2::m", WFCMD_ERROR, NULL, NULL, "m", 3, 0, 2,
	    0 },
	{ "::error line= 4 ::m", WFCMD_ERROR, NULL, NULL, "m", 4, 0, 0, 0 },
	{ "::error line=+4::m", WFCMD_ERROR, NULL, NULL, "m", 4, 0, 0, 0 },
	/* ValidateLinesAndColumns */
	{ "::error endLine=5::m", WFCMD_ERROR, NULL, NULL, "m", 5, 5, 0, 0 },
	{ "::error line=2,endColumn=5::m", WFCMD_ERROR, NULL, NULL, "m", 2, 0,
	    5, 5 },
	{ "::error col=2,endColumn=5::m", WFCMD_ERROR, NULL, NULL, "m", 0, 0,
	    0, 0 },
	{ "::error line=2,endLine=3,col=1::m", WFCMD_ERROR, NULL, NULL, "m",
	    2, 3, 0, 0 },
	{ "::error line=3,endLine=3,col=1::m", WFCMD_ERROR, NULL, NULL, "m",
	    3, 3, 1, 0 },
	{ "::error line=5,endLine=3::m", WFCMD_ERROR, NULL, NULL, "m", 0, 0,
	    0, 0 },
	{ "::error line=5,col=9,endColumn=3::m", WFCMD_ERROR, NULL, NULL, "m",
	    5, 0, 0, 0 },
	{ "::error line=x,col=0::m", WFCMD_ERROR, NULL, NULL, "m", 0, 0, 0,
	    0 },
	{ "::error line=99999999999::m", WFCMD_ERROR, NULL, NULL, "m", 0, 0,
	    0, 0 },
	{ "::error line=-1::m", WFCMD_ERROR, NULL, NULL, "m", 0, 0, 0, 0 },
	/* Legacy form. */
	{ "##[warning file=a;line=7]x", WFCMD_WARNING, "a", NULL, "x", 7, 0,
	    0, 0 },
};

START_TEST(test_annotation_vectors)
{
	const struct ann_vec		*v = &ann_vecs[_i];
	struct wfcmd_state		*st = wfcmd_new();
	const struct wfcmd_annotation	*a;
	char				*got;

	got = run(st, v->in);
	ck_assert_uint_eq(wfcmd_nannotations(st), 1);
	a = wfcmd_annotation(st, 0);
	ck_assert_int_eq(a->level, v->level);
	if (v->file == NULL)
		ck_assert_ptr_null(a->file);
	else
		ck_assert_str_eq(a->file, v->file);
	if (v->title == NULL)
		ck_assert_ptr_null(a->title);
	else
		ck_assert_str_eq(a->title, v->title);
	ck_assert_str_eq(a->message, v->message);
	ck_assert_int_eq(a->line, v->line);
	ck_assert_int_eq(a->end_line, v->end_line);
	ck_assert_int_eq(a->col, v->col);
	ck_assert_int_eq(a->end_col, v->end_col);
	free(got);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_annotation_masked_and_capped)
{
	struct wfcmd_state		*st = wfcmd_new();
	const struct wfcmd_annotation	*a;
	struct buf			 out = { 0 };
	int				 i;

	wfcmd_add_mask(st, "hunter2");
	wfcmd_feed(st, "::error file=hunter2.c,title=x hunter2::hunter2!\n",
	    49, &out);
	a = wfcmd_annotation(st, 0);
	ck_assert_str_eq(a->file, "***.c");
	ck_assert_str_eq(a->title, "x ***");
	ck_assert_str_eq(a->message, "***!");
	for (i = 0; i < WFCMD_MAX_ANNOTATIONS + 5; i++)
		wfcmd_feed(st, "::warning::w\n", 13, &out);
	ck_assert_uint_eq(wfcmd_nannotations(st), WFCMD_MAX_ANNOTATIONS);
	ck_assert_uint_eq(wfcmd_annotations_dropped(st), 6);
	ck_assert_ptr_nonnull(strstr(out.data, "##[error]***!\n"));
	wfcmd_step_begin(st);
	ck_assert_uint_eq(wfcmd_nannotations(st), 0);
	ck_assert_uint_eq(wfcmd_annotations_dropped(st), 0);
	buf_free(&out);
	wfcmd_free(st);
}
END_TEST

/* --- records and failures ----------------------------------------------- */

START_TEST(test_legacy_outputs)
{
	struct wfcmd_state		*st = wfcmd_new();
	const struct wfcmd_record	*r;
	char				*got;

	wfcmd_add_mask(st, "secret");
	got = run(st, "::set-output name=a::x%0Ay\n"
	    "::save-state name=pid::42\n"
	    "##[set-output name=b]legacy\n"
	    "::set-output name=c::secret\n");
	ck_assert_str_eq(got, "");
	ck_assert_uint_eq(wfcmd_nrecords(st), 4);
	r = wfcmd_record(st, 0);
	ck_assert_int_eq(r->kind, WFCMD_REC_OUTPUT);
	ck_assert_str_eq(r->name, "a");
	ck_assert_str_eq(r->value, "x\ny");
	r = wfcmd_record(st, 1);
	ck_assert_int_eq(r->kind, WFCMD_REC_STATE);
	ck_assert_str_eq(r->name, "pid");
	ck_assert_str_eq(r->value, "42");
	ck_assert_str_eq(wfcmd_record(st, 2)->value, "legacy");
	/* Outputs keep the secret: later steps of the job may use it. */
	ck_assert_str_eq(wfcmd_record(st, 3)->value, "secret");
	ck_assert_ptr_null(wfcmd_record(st, 4));
	ck_assert_int_eq(wfcmd_failed(st), 0);
	free(got);
	wfcmd_free(st);
}
END_TEST

struct fail_vec {
	int		 flags;
	const char	*in;
	const char	*info;		/* what "Unable to process" names */
	const char	*reason;
};

#define DISABLED(c) "The `" c "` command is disabled. Please upgrade to " \
	"using Environment Files or opt into unsecure command execution by " \
	"setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable " \
	"to `true`. For more information see: https://github.blog/changelog/" \
	"2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/"
#define STOPMSG "You cannot use a endToken that is an empty string, the " \
	"string 'pause-logging', or another workflow command. For more " \
	"information see: https://docs.github.com/actions/learn-github-" \
	"actions/workflow-commands-for-github-actions#example-stopping-and-" \
	"starting-workflow-commands or opt into insecure command execution " \
	"by setting the `ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS` " \
	"environment variable to `true`."

static const struct fail_vec fail_vecs[] = {
	{ 0, "::set-output::v", "::set-output::v",
	    "Required field 'name' is missing in ##[set-output] command." },
	{ 0, "::set-output name=::v", "::set-output name=::v",
	    "Required field 'name' is missing in ##[set-output] command." },
	{ 0, "::save-state nom=x::v", "::save-state nom=x::v",
	    "Required field 'name' is missing in ##[save-state] command." },
	{ 0, "::set-env name=A::1", "::set-env name=A::1", DISABLED("set-env") },
	{ 0, "::add-path::/x", "::add-path::/x", DISABLED("add-path") },
	{ WFCMD_F_ALLOW_UNSECURE_COMMANDS, "::set-env::1", "::set-env::1",
	    "Required field 'name' is missing in ##[set-env] command." },
	{ WFCMD_F_ALLOW_UNSECURE_COMMANDS, "::add-path::", "::add-path::",
	    "Value cannot be null. (Parameter 'path')" },
	{ 0, "::echo::maybe", "::echo::maybe", "Invalid echo command value. "
	    "Possible values can be: 'on', 'off'. Current value is: 'maybe'." },
	{ 0, "::echo::", "::echo::",
	    "Value cannot be null. (Parameter 'value')" },
	{ 0, "::stop-commands::", "::stop-commands::", STOPMSG },
	{ 0, "::stop-commands::pause-logging", "::stop-commands::pause-logging",
	    STOPMSG },
	{ 0, "::stop-commands::Pause-Logging", "::stop-commands::Pause-Logging",
	    STOPMSG },
	{ 0, "::stop-commands::error", "::stop-commands::error", STOPMSG },
	{ 0, "::stop-commands::Set-Output", "::stop-commands::Set-Output",
	    STOPMSG },
};

START_TEST(test_failure_vectors)
{
	const struct fail_vec		*v = &fail_vecs[_i];
	struct wfcmd_state		*st = wfcmd_new();
	char				*got, *want, *err;

	wfcmd_set_flags(st, v->flags);
	got = run(st, v->in);
	want = xasprintf("##[error]Unable to process command '%s' "
	    "successfully.\n##[error]%s\n", v->info, v->reason);
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(wfcmd_failed(st), 1);
	ck_assert_uint_eq(wfcmd_nerrors(st), 1);
	err = xasprintf("Unable to process command '%s' successfully. %s",
	    v->info, v->reason);
	ck_assert_str_eq(wfcmd_error(st, 0), err);
	ck_assert_ptr_null(wfcmd_error(st, 1));
	ck_assert_uint_eq(wfcmd_nannotations(st), 2);
	ck_assert_int_eq(wfcmd_annotation(st, 1)->level, WFCMD_ERROR);
	ck_assert_str_eq(wfcmd_annotation(st, 1)->message, v->reason);
	ck_assert_int_eq(wfcmd_stopped(st), 0);
	ck_assert_uint_eq(wfcmd_nrecords(st), 0);
	free(err);
	free(want);
	free(got);
	wfcmd_step_begin(st);
	ck_assert_int_eq(wfcmd_failed(st), 0);
	ck_assert_uint_eq(wfcmd_nerrors(st), 0);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_failure_masked)
{
	struct wfcmd_state	*st = wfcmd_new();
	char			*got;

	wfcmd_add_mask(st, "tok");
	got = run(st, "::set-output tok=1::tok\n");
	ck_assert_str_eq(got, "##[error]Unable to process command "
	    "'::set-output ***=1::***' successfully.\n##[error]Required field "
	    "'name' is missing in ##[set-output] command.\n");
	ck_assert_str_eq(wfcmd_error(st, 0), "Unable to process command "
	    "'::set-output ***=1::***' successfully. Required field 'name' is "
	    "missing in ##[set-output] command.");
	free(got);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_unsecure_allowed)
{
	struct wfcmd_state		*st = wfcmd_new();
	const struct wfcmd_record	*r;
	char				*got;

	wfcmd_set_flags(st, WFCMD_F_ALLOW_UNSECURE_COMMANDS);
	got = run(st, "::set-env name=A::1\n::add-path::/opt/x\n"
	    "::set-env name=node_options::--x\n");
	ck_assert_str_eq(got, "##[error]Can't update NODE_OPTIONS environment "
	    "variable using ::set-env:: command.\n");
	ck_assert_int_eq(wfcmd_failed(st), 0);
	ck_assert_uint_eq(wfcmd_nrecords(st), 2);
	r = wfcmd_record(st, 0);
	ck_assert_int_eq(r->kind, WFCMD_REC_ENV);
	ck_assert_str_eq(r->name, "A");
	ck_assert_str_eq(r->value, "1");
	r = wfcmd_record(st, 1);
	ck_assert_int_eq(r->kind, WFCMD_REC_PATH);
	ck_assert_ptr_null(r->name);
	ck_assert_str_eq(r->value, "/opt/x");
	ck_assert_uint_eq(wfcmd_nannotations(st), 1);
	free(got);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_deprecation_warning)
{
	struct wfcmd_state	*st = wfcmd_new();
	char			*got;

	wfcmd_set_flags(st, WFCMD_F_DEPRECATION_WARNINGS);
	got = run(st, "::save-state name=a::1\n");
	ck_assert_str_eq(got, "##[warning]The `save-state` command is "
	    "deprecated and will be disabled soon. Please upgrade to using "
	    "Environment Files. For more information see: https://github.blog/"
	    "changelog/2022-10-11-github-actions-deprecating-save-state-and-"
	    "set-output-commands/\n");
	ck_assert_uint_eq(wfcmd_nrecords(st), 1);
	ck_assert_int_eq(wfcmd_flags(st), WFCMD_F_DEPRECATION_WARNINGS);
	free(got);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_records_capped)
{
	struct wfcmd_state	*st = wfcmd_new();
	struct buf		 out = { 0 };
	int			 i;

	for (i = 0; i < WFCMD_MAX_RECORDS + 1; i++)
		wfcmd_feed(st, "::set-output name=a::1\n", 23, &out);
	ck_assert_uint_eq(wfcmd_nrecords(st), WFCMD_MAX_RECORDS);
	ck_assert_int_eq(wfcmd_failed(st), 1);
	ck_assert_str_eq(wfcmd_error(st, 0), "Unable to process command "
	    "'::set-output name=a::1' successfully. More than 1000 output, "
	    "state, env or path commands in one step");
	buf_free(&out);
	wfcmd_free(st);
}
END_TEST

/* --- add-mask ----------------------------------------------------------- */

START_TEST(test_add_mask_command)
{
	struct wfcmd_state	*st = wfcmd_new();
	char			*got;

	got = run(st, "before pw1\n::add-mask::pw1\nafter pw1\n"
	    "::add-mask::  \n::add-mask::\n"
	    "::add-mask::ml1%0Aml2\nml1 ml2 ml1%0Aml2\n"
	    "##[add-mask]legacy\nlegacy\n");
	ck_assert_str_eq(got, "before pw1\nafter ***\n"
	    "##[warning]Can't add secret mask for empty string in "
	    "##[add-mask] command.\n"
	    "##[warning]Can't add secret mask for empty string in "
	    "##[add-mask] command.\n"
	    "*** *** ***%0A***\n***\n");
	ck_assert_int_eq(wfcmd_failed(st), 0);
	ck_assert_uint_eq(wfcmd_nannotations(st), 2);
	free(got);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_mask_helper)
{
	struct wfcmd_state	*st = wfcmd_new();
	char			*s;

	s = wfcmd_mask(st, "nothing registered");
	ck_assert_str_eq(s, "nothing registered");
	free(s);
	ck_assert_int_eq(wfcmd_add_mask(st, ""), 0);
	ck_assert_int_eq(wfcmd_add_mask(st, " \r\n\t"), 0);
	s = wfcmd_mask(st, " ");
	ck_assert_str_eq(s, " ");
	free(s);

	/* Overlapping secrets: the union is masked, order does not matter. */
	wfcmd_add_mask(st, "abc");
	wfcmd_add_mask(st, "bcd");
	wfcmd_add_mask(st, "abcdef");
	s = wfcmd_mask(st, "xabcdx abcdefg bcdabc zbc");
	ck_assert_str_eq(s, "x***x ***g *** zbc");
	free(s);

	/* A multi-line secret: whole (caller text keeps newlines) and lines. */
	wfcmd_add_mask(st, "-----BEGIN-----\nAAAA\n-----END-----\n");
	s = wfcmd_mask(st, "k=-----BEGIN-----\nAAAA\n-----END-----\n!");
	ck_assert_str_eq(s, "k=***\n!");
	free(s);
	s = wfcmd_mask(st, "AAAA;");
	ck_assert_str_eq(s, "***;");
	free(s);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_mask_split_across_chunks)
{
	struct wfcmd_state	*st = wfcmd_new();
	struct buf		 out = { 0 };

	wfcmd_add_mask(st, "topsecret");
	wfcmd_feed(st, "x=top", 5, &out);
	ck_assert_uint_eq(out.len, 0);		/* held: the line goes on */
	ck_assert_uint_eq(wfcmd_pending(st), 5);
	wfcmd_feed(st, "secret;\r", 8, &out);
	ck_assert_str_eq(out.data, "x=***;\n");
	wfcmd_feed(st, "\ntopsec", 7, &out);	/* LF of the CRLF */
	wfcmd_feed(st, "ret", 3, &out);
	wfcmd_flush(st, &out);
	ck_assert_str_eq(out.data, "x=***;\n***\n");
	ck_assert_uint_eq(wfcmd_pending(st), 0);
	buf_free(&out);
	wfcmd_free(st);
}
END_TEST

/* Feed text in pieces of `piece` bytes (0: whole) and flush; the log. */
static char *
feed_pieces(const char *mask, const char *text, size_t len, size_t piece)
{
	struct wfcmd_state	*st = wfcmd_new();
	struct buf		 out = { 0 };
	size_t			 i, n;

	wfcmd_add_mask(st, mask);
	for (i = 0; i < len; i += n) {
		n = piece == 0 || len - i < piece ? len - i : piece;
		wfcmd_feed(st, text + i, n, &out);
	}
	wfcmd_flush(st, &out);
	wfcmd_free(st);
	buf_add_char(&out, '\0');
	return buf_steal(&out);
}

/*
 * wfcmd_feed() masks a whole stretch of its data at once: the log must be
 * the same as line by line (fed byte by byte, every line is assembled
 * before it is masked).  A multi-line secret is only masked line by line
 * (the blanks around its line end stay), a mask added by a command applies
 * from the next line of the same chunk, and secrets lie on both sides of
 * each place where the stretch searched at once ends.
 */
START_TEST(test_mask_whole_chunk_as_lines)
{
	struct buf	 in = { 0 };
	char		*whole, *bytes, line[64];
	int		 i;

	buf_add_str(&in, "a first \n line x\r\nfirst\rline\n"
	    "::add-mask::late-one\nthe late-one here\n"
	    "##[add-mask]legacy-one\nlegacy-one;\n");
	for (i = 0; i < 3000; i++) {
		snprintf(line, sizeof line, "%.*s%s%s\n", i % 23,
		    "abcdefghijklmnopqrstuvw", i % 3 ? "late-one" : "first",
		    i % 7 ? "" : "\r");
		buf_add_str(&in, line);
	}
	whole = feed_pieces("first \n line", in.data, in.len, 0);
	bytes = feed_pieces("first \n line", in.data, in.len, 1);
	ck_assert_msg(strcmp(whole, bytes) == 0, "fed whole: %.200s\n"
	    "byte by byte: %.200s", whole, bytes);
	ck_assert_ptr_nonnull(strstr(whole, "a *** \n *** x\n***\n***\n"));
	ck_assert_ptr_nonnull(strstr(whole, "the *** here\n***;\n"));
	ck_assert_ptr_null(strstr(whole, "late-one"));
	ck_assert_ptr_null(strstr(whole, "first"));
	free(whole);
	free(bytes);
	buf_free(&in);
}
END_TEST

START_TEST(test_mask_table_full)
{
	struct wfcmd_state	*st = wfcmd_new();
	char			 s[32];
	int			 i;

	for (i = 0; i < WFCMD_MAX_MASKS; i++) {
		snprintf(s, sizeof s, "secret-%d", i);
		ck_assert_int_eq(wfcmd_add_mask(st, s), 0);
	}
	ck_assert_int_eq(wfcmd_add_mask(st, "secret-0"), 0);	/* repeat */
	ck_assert_int_eq(wfcmd_add_mask(st, "one-more"), -1);
	wfcmd_free(st);

	st = wfcmd_new();
	{
		char	*big = xmalloc(WFCMD_MAX_MASK_BYTES + 2);

		memset(big, 'q', WFCMD_MAX_MASK_BYTES + 1);
		big[WFCMD_MAX_MASK_BYTES + 1] = '\0';
		ck_assert_int_eq(wfcmd_add_mask(st, big), -1);
		big[WFCMD_MAX_MASK_BYTES] = '\0';
		ck_assert_int_eq(wfcmd_add_mask(st, big), 0);
		free(big);
	}
	wfcmd_free(st);
}
END_TEST

/* --- stop-commands ------------------------------------------------------ */

START_TEST(test_stop_commands)
{
	struct wfcmd_state	*st = wfcmd_new();
	char			*got;

	got = run(st, "::stop-commands::tok1234567\n"
	    "::error::not an annotation\n"
	    "::stop-commands::other\n"
	    "##[warning]neither\n"
	    "tok1234567\n"
	    "::tok1234567::\n"
	    "::error::counted\n");
	ck_assert_str_eq(got, "::stop-commands::***\n"
	    "::error::not an annotation\n"
	    "::stop-commands::other\n"
	    "##[warning]neither\n"
	    "***\n"
	    "::***::\n"
	    "##[error]counted\n");
	ck_assert_uint_eq(wfcmd_nannotations(st), 1);
	ck_assert_int_eq(wfcmd_stopped(st), 0);
	ck_assert_int_eq(wfcmd_failed(st), 0);
	free(got);

	/* A short token is not masked; the state outlives the step. */
	got = run(st, "::stop-commands::abc\n");
	ck_assert_str_eq(got, "::stop-commands::abc\n");
	ck_assert_int_eq(wfcmd_stopped(st), 1);
	free(got);
	wfcmd_step_begin(st);
	ck_assert_int_eq(wfcmd_stopped(st), 1);
	got = run(st, "::set-output name=a::1\n##[ABC]\n"
	    "::set-output name=b::2\n");
	ck_assert_str_eq(got, "::set-output name=a::1\n##[ABC]\n");
	ck_assert_uint_eq(wfcmd_nrecords(st), 1);
	ck_assert_str_eq(wfcmd_record(st, 0)->name, "b");
	free(got);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_stop_commands_unsecure)
{
	struct wfcmd_state	*st = wfcmd_new();
	char			*got;

	wfcmd_set_flags(st, WFCMD_F_ALLOW_UNSECURE_STOP);
	got = run(st, "::stop-commands::pause-logging\n::error::x\n"
	    "::pause-logging::\n::stop-commands::error\n::warning::w\n"
	    "::error::e\n::warning::w2\n");
	ck_assert_str_eq(got, "::stop-commands::***\n::error::x\n::***::\n"
	    "::stop-commands::error\n::warning::w\n::error::e\n"
	    "##[warning]w2\n");
	ck_assert_int_eq(wfcmd_failed(st), 0);
	ck_assert_uint_eq(wfcmd_nannotations(st), 1);
	free(got);
	wfcmd_free(st);
}
END_TEST

/* --- whole streams byte by byte ----------------------------------------- */

START_TEST(test_stream_byte_by_byte)
{
	const char		*in = "start\r\n::add-mask::hidden value\r\n"
	    "a hidden value\rb\n::group::G hidden value\n::error file=f,"
	    "line=2::E%0Ahidden value\n::set-output name=o::v\n"
	    "::endgroup::\nlast hidden";
	const char		*want = "start\na ***\nb\n##[group]G ***\n"
	    "##[error]E\n***\n##[endgroup]\nlast hidden\n";
	struct wfcmd_state	*a = wfcmd_new(), *b = wfcmd_new();
	char			*ga, *gb;

	ga = run(a, in);
	gb = run_bytes(b, in);
	ck_assert_str_eq(ga, want);
	ck_assert_str_eq(gb, want);
	ck_assert_uint_eq(wfcmd_nannotations(b), 1);
	ck_assert_str_eq(wfcmd_annotation(b, 0)->message, "E\n***");
	ck_assert_uint_eq(wfcmd_nrecords(b), 1);
	free(ga);
	free(gb);
	wfcmd_free(a);
	wfcmd_free(b);
}
END_TEST

/*
 * Whole plain lines are copied in one piece when a feed holds them
 * (feed_plain_lines()); fed a byte at a time, every line goes the
 * line-by-line way.  Both must log the same, for output mixing plain
 * lines, commands anywhere, "::" and "##[" inside lines, masks, NULs and
 * every kind of line end, cut at random places.
 */
static void
feed_cut(struct wfcmd_state *st, const char *in, size_t len, size_t piece,
    unsigned *seed, struct buf *out)
{
	size_t	i = 0, n;

	while (i < len) {
		if (piece == 0) {
			*seed = *seed * 1103515245u + 12345u;
			n = 1 + (*seed >> 16) % 40;
		} else
			n = piece;
		if (n > len - i)
			n = len - i;
		wfcmd_feed(st, in + i, n, out);
		i += n;
	}
	wfcmd_flush(st, out);
}

START_TEST(test_feed_pieces_match_line_by_line)
{
	static const char *const frag[] = {
		"plain text", "a:b", "std::vector", "  ::warning::w",
		"\t::group::g", "::endgroup::", "::add-mask::k3y", "the k3y",
		"##[group]x", "x ##[error]y", "\r\n", "\n", "\r", "::", "  ",
		"#", "##", ":", "::set-output name=o::v", "::debug::d",
		"::stop-commands::tok1234567", "::tok1234567::", "k3", "y",
		"\v\f::notice::n", "##[", "\r\r\n", "x\0y",
	};
	struct buf		 in = { 0 }, whole = { 0 }, bytes = { 0 },
				 pieces = { 0 };
	struct wfcmd_state	*a, *b, *c;
	unsigned		 seed = 7, cut = 11;
	size_t			 f, k;
	int			 doc;

	for (doc = 0; doc < 400; doc++) {
		buf_clear(&in);
		for (k = 0; k < 80; k++) {
			seed = seed * 1103515245u + 12345u;
			f = (seed >> 16) % nitems(frag);
			/* "x\0y" holds a NUL: strlen would stop at it. */
			buf_add(&in, frag[f], strcmp(frag[f], "x") == 0 ?
			    3 : strlen(frag[f]));
		}
		a = wfcmd_new();
		b = wfcmd_new();
		c = wfcmd_new();
		if (doc % 2) {
			wfcmd_set_flags(a, WFCMD_F_STEP_DEBUG);
			wfcmd_set_flags(b, WFCMD_F_STEP_DEBUG);
			wfcmd_set_flags(c, WFCMD_F_STEP_DEBUG);
		}
		wfcmd_step_begin(a);
		wfcmd_step_begin(b);
		wfcmd_step_begin(c);
		buf_clear(&whole);
		buf_clear(&bytes);
		buf_clear(&pieces);
		feed_cut(a, in.data, in.len, in.len, &cut, &whole);
		feed_cut(b, in.data, in.len, 1, &cut, &bytes);
		feed_cut(c, in.data, in.len, 0, &cut, &pieces);
		ck_assert_msg(whole.len == bytes.len &&
		    memcmp(whole.data, bytes.data, whole.len) == 0,
		    "document %d: whole feed logged %zu bytes, a byte at a "
		    "time %zu", doc, whole.len, bytes.len);
		ck_assert_msg(pieces.len == bytes.len &&
		    memcmp(pieces.data, bytes.data, pieces.len) == 0,
		    "document %d: random pieces logged %zu bytes, a byte at "
		    "a time %zu", doc, pieces.len, bytes.len);
		ck_assert_uint_eq(wfcmd_nrecords(a), wfcmd_nrecords(b));
		ck_assert_uint_eq(wfcmd_nannotations(a),
		    wfcmd_nannotations(b));
		ck_assert_uint_eq(wfcmd_nrecords(c), wfcmd_nrecords(b));
		wfcmd_free(a);
		wfcmd_free(b);
		wfcmd_free(c);
	}
	buf_free(&in);
	buf_free(&whole);
	buf_free(&bytes);
	buf_free(&pieces);
}
END_TEST

/* One read holding many plain lines, CR LF and lone CRs among them. */
START_TEST(test_feed_plain_lines_in_one_piece)
{
	struct wfcmd_state	*st = wfcmd_new();
	struct buf		 out = { 0 };
	const char		*in = "one\r\ntwo\rthree\nfour: x::y\r";

	wfcmd_feed(st, in, strlen(in), &out);
	ck_assert_str_eq(out.data, "one\ntwo\nthree\nfour: x::y\n");
	/* The CR ended the last line; an LF in the next read is its pair. */
	wfcmd_feed(st, "\nfive\n", 6, &out);
	wfcmd_flush(st, &out);
	ck_assert_str_eq(out.data,
	    "one\ntwo\nthree\nfour: x::y\nfive\n");
	buf_free(&out);
	wfcmd_free(st);
}
END_TEST

/* --- the line bound ----------------------------------------------------- */

static size_t
count(const char *hay, size_t len, const char *needle)
{
	size_t		 n = 0, nl = strlen(needle);
	const char	*p = hay, *e = hay + len;

	while ((p = memmem(p, (size_t)(e - p), needle, nl)) != NULL) {
		n++;
		p += nl;
	}
	return n;
}

START_TEST(test_long_line)
{
	const size_t		 total = 10 * 1024 * 1024;
	const char		*secret = "SECRETVALUE";
	size_t			 sl = strlen(secret), pos[128], np = 0, i, k;
	struct wfcmd_state	*st = wfcmd_new();
	struct buf		 out = { 0 };
	char			*line;

	/*
	 * 10 MB of 'x' with the secret before, across and after places
	 * the line is cut: first after about WFCMD_LINE_MAX bytes (the
	 * decision that it is no command), then about each WFCMD_LONG_PIECE
	 * (the longest mask, the secret's base64 form, less one held back).
	 * Ten copies 13 bytes apart around each place cover the exact cut
	 * whatever is held back; two bytes apart, each stays its own ***.
	 */
	line = xmalloc(total);
	memset(line, 'x', total);
	for (k = 0; k <= 140; k += k < 3 ? 1 : 23) {
		size_t cut = WFCMD_LINE_MAX + k * (WFCMD_LONG_PIECE + 1), m;

		for (m = 0; m < 10; m++)
			pos[np++] = cut - 80 + 13 * m;
	}
	for (i = 0; i < np; i++)
		memcpy(line + pos[i], secret, sl);
	wfcmd_add_mask(st, secret);

	for (i = 0; i < total; i += 65536) {
		size_t n = total - i < 65536 ? total - i : 65536;

		wfcmd_feed(st, line + i, n, &out);
		ck_assert_uint_le(wfcmd_pending(st), i + n <= WFCMD_LINE_MAX ?
		    WFCMD_LINE_MAX : WFCMD_LONG_PIECE + 2 * sl);
	}
	wfcmd_feed(st, "\n", 1, &out);
	ck_assert_uint_eq(wfcmd_pending(st), 0);
	ck_assert_uint_eq(count(out.data, out.len, secret), 0);
	ck_assert_uint_eq(count(out.data, out.len, "***"), np);
	ck_assert_uint_eq(out.len, total - np * sl + np * 3 + 1);
	ck_assert_int_eq(out.data[out.len - 1], '\n');
	ck_assert_ptr_null(memchr(out.data, '\n', out.len - 1));
	ck_assert_int_eq(wfcmd_failed(st), 0);
	buf_clear(&out);

	/* A run of overlapping matches longer than a piece stays one ***. */
	wfcmd_add_mask(st, "aa");
	memset(line, 'a', total);
	wfcmd_feed(st, "b", 1, &out);
	for (i = 0; i < total; i += 1000000) {
		size_t n = total - i < 1000000 ? total - i : 1000000;

		wfcmd_feed(st, line + i, n, &out);
	}
	wfcmd_feed(st, "b\n", 2, &out);
	ck_assert_str_eq(out.data, "b***b\n");
	buf_clear(&out);

	/* The next line is handled normally again. */
	wfcmd_feed(st, "::group::g\n", 11, &out);
	ck_assert_str_eq(out.data, "##[group]g\n");
	buf_free(&out);
	free(line);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_long_line_exact_limit)
{
	struct wfcmd_state	*st = wfcmd_new();
	struct buf		 out = { 0 };
	char			*line;

	/* Exactly WFCMD_LINE_MAX bytes is still one whole line: a command. */
	line = xmalloc(WFCMD_LINE_MAX);
	memset(line, 'v', WFCMD_LINE_MAX);
	memcpy(line, "::add-mask::", 12);
	wfcmd_feed(st, line, WFCMD_LINE_MAX, &out);
	wfcmd_flush(st, &out);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(wfcmd_failed(st), 0);
	wfcmd_feed(st, line + 12, WFCMD_LINE_MAX - 12, &out);
	wfcmd_flush(st, &out);
	ck_assert_str_eq(out.data, "***\n");
	buf_free(&out);
	free(line);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_long_command_dropped)
{
	struct wfcmd_state	*st = wfcmd_new();
	struct buf		 out = { 0 };
	char			*line;
	size_t			 n = 3 * WFCMD_LINE_MAX;

	/* An oversized ::add-mask:: must not print the value it hides. */
	line = xmalloc(n);
	memset(line, 'v', n);
	memcpy(line, "  ::add-mask::", 14);
	wfcmd_feed(st, line, n, &out);
	wfcmd_feed(st, "\nnext\n", 6, &out);
	ck_assert_str_eq(out.data, "##[error]Unable to process command "
	    "'add-mask' successfully.\n##[error]Command line longer than "
	    "1048576 bytes; it was dropped from the log\nnext\n");
	ck_assert_int_eq(wfcmd_failed(st), 1);
	buf_clear(&out);

	/* A long non-command line is logged whole, in pieces. */
	memcpy(line, "::nocommand::", 13);
	wfcmd_feed(st, line, n, &out);
	wfcmd_flush(st, &out);
	ck_assert_uint_eq(out.len, n + 1);
	ck_assert_int_eq(memcmp(out.data, line, n), 0);
	buf_free(&out);
	free(line);
	wfcmd_free(st);
}
END_TEST

START_TEST(test_flags_and_step_begin)
{
	struct wfcmd_state	*st = wfcmd_new();
	struct buf		 out = { 0 };
	char			*got;

	ck_assert_int_eq(wfcmd_echo(st), 0);
	wfcmd_set_flags(st, WFCMD_F_STEP_DEBUG);
	ck_assert_int_eq(wfcmd_echo(st), 1);
	got = run(st, "::echo::off\n");
	ck_assert_int_eq(wfcmd_echo(st), 0);
	free(got);
	wfcmd_add_mask(st, "keep");
	wfcmd_feed(st, "partial", 7, &out);
	wfcmd_step_begin(st);		/* echo back on, partial dropped */
	ck_assert_int_eq(wfcmd_echo(st), 1);
	ck_assert_uint_eq(wfcmd_pending(st), 0);
	got = run(st, "keep\n");
	ck_assert_str_eq(got, "***\n");	/* masks survive the step */
	free(got);
	buf_free(&out);
	wfcmd_free(st);
	wfcmd_free(NULL);
}
END_TEST

static Suite *
wfcmd_suite(void)
{
	Suite	*s = suite_create("wfcmd");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_parse_vectors, 0, nitems(parse_vecs));
	tcase_add_loop_test(tc, test_log_vectors, 0, nitems(log_vecs));
	tcase_add_test(tc, test_e17);
	tcase_add_loop_test(tc, test_annotation_vectors, 0, nitems(ann_vecs));
	tcase_add_test(tc, test_annotation_masked_and_capped);
	tcase_add_test(tc, test_legacy_outputs);
	tcase_add_loop_test(tc, test_failure_vectors, 0, nitems(fail_vecs));
	tcase_add_test(tc, test_failure_masked);
	tcase_add_test(tc, test_unsecure_allowed);
	tcase_add_test(tc, test_deprecation_warning);
	tcase_add_test(tc, test_records_capped);
	tcase_add_test(tc, test_add_mask_command);
	tcase_add_test(tc, test_mask_helper);
	tcase_add_test(tc, test_mask_split_across_chunks);
	tcase_add_test(tc, test_mask_whole_chunk_as_lines);
	tcase_add_test(tc, test_mask_table_full);
	tcase_add_test(tc, test_stop_commands);
	tcase_add_test(tc, test_stop_commands_unsecure);
	tcase_add_test(tc, test_stream_byte_by_byte);
	tcase_add_test(tc, test_feed_pieces_match_line_by_line);
	tcase_add_test(tc, test_feed_plain_lines_in_one_piece);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_long_line_exact_limit);
	tcase_add_test(tc, test_long_command_dropped);
	tcase_add_test(tc, test_flags_and_step_begin);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(wfcmd_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
