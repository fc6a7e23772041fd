/*
 * Unit tests for common/envfile: the E-vectors of reference section 8.5
 * (E1-E16), the runner's error texts, edge values (empty file, no final
 * newline, CRLF, BOM, delimiter lines with trailing spaces, limits) and
 * GITHUB_PATH handling.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envfile.h"
#include "util.h"

#define MAXP	4

struct ok_vec {
	const char	*in;
	const char	*pairs[MAXP][2];	/* name, value; NULL ends */
};

static const struct ok_vec ok_vecs[] = {
	/* Edge values first. */
	{ "", { { NULL } } },
	{ "\n", { { NULL } } },
	{ "\n\n\n", { { NULL } } },
	{ "A=1", { { "A", "1" } } },			/* no final LF */
	{ "=x\n", { { "", "x" } } },			/* empty name kept */
	{ "=\n", { { "", "" } } },
	{ "A=1\r\n", { { "A", "1\r" } } },		/* CR kept on Linux */
	{ "\xef\xbb\xbf" "A=1\n", { { "A", "1" } } },	/* BOM dropped */
	{ "A=1\nA=2\n", { { "A", "1" }, { "A", "2" } } },	/* order kept */
	/* E1-E10, E14 */
	{ "A=1\nB=two words\n", { { "A", "1" }, { "B", "two words" } } },
	{ "A=x=y\n", { { "A", "x=y" } } },
	{ "A=\n", { { "A", "" } } },
	{ "JSON<<EOF\n{\n  \"a\": 1\n}\nEOF\n",
	    { { "JSON", "{\n  \"a\": 1\n}" } } },
	{ "M<<EOF\nline1\nline2\nEOF", { { "M", "line1\nline2" } } },
	{ "M<<EOF\nEOF\n", { { "M", "" } } },
	{ "M<<EOF\n\n\nEOF\n", { { "M", "\n" } } },
	{ "A=b<<c\n", { { "A", "b<<c" } } },
	{ "A<<b=c\nx\nb=c\n", { { "A", "x" } } },
	{ "\n\nA=1\n\n", { { "A", "1" } } },
	{ " A = b \n", { { " A ", " b " } } },
	/* Heredoc corners. */
	{ "M<<EOF\nEOF", { { "M", "" } } },		/* delimiter, no LF */
	{ "M<<EOF\nx\nEOF\nN=1\n", { { "M", "x" }, { "N", "1" } } },
	{ "M<<EOF\nEOF \nEOF\n", { { "M", "EOF " } } },	/* exact match only */
	{ "M<<EOF\neof\nEOF\n", { { "M", "eof" } } },	/* case-sensitive */
	{ "M<<EOF \nx\nEOF \n", { { "M", "x" } } },	/* delimiter "EOF " */
	{ "M<<EOF\r\nx\r\nEOF\r\n", { { "M", "x\r" } } },	/* delim "EOF\r" */
	{ "M<<EOF\nA=1\n\nEOF\n", { { "M", "A=1\n" } } },
	{ "M<<<EOF\nx\n<EOF\n", { { "M", "x" } } },	/* delimiter "<EOF" */
	{ "A<<B<<C\nx\nB<<C\n", { { "A", "x" } } },
};

START_TEST(test_ok_vectors)
{
	const struct ok_vec	*v = &ok_vecs[_i];
	struct envfile		 ef = { 0 };
	char			*cause = NULL;
	size_t			 n, line = 99;

	ck_assert_msg(envfile_parse("GITHUB_ENV", v->in, strlen(v->in),
	    ENVFILE_MAX_VALUE, &ef, &cause, &line) == 0,
	    "vector %d: %s", _i, cause);
	ck_assert_ptr_null(cause);
	for (n = 0; n < MAXP && v->pairs[n][0] != NULL; n++) {
		ck_assert_uint_gt(ef.n, n);
		ck_assert_str_eq(ef.pairs[n].name, v->pairs[n][0]);
		ck_assert_str_eq(ef.pairs[n].value, v->pairs[n][1]);
	}
	ck_assert_uint_eq(ef.n, n);
	envfile_free(&ef);
	ck_assert_uint_eq(ef.n, 0);
	ck_assert_ptr_null(ef.pairs);
}
END_TEST

struct err_vec {
	const char	*in;
	const char	*err;
	size_t		 line;
	size_t		 kept;	/* pairs parsed before the error */
};

static const struct err_vec err_vecs[] = {
	/* E11-E13 */
	{ "noequals\n", "Invalid format 'noequals'", 1, 0 },
	{ "<<EOF\nx\nEOF\n", "Invalid format '<<EOF'. Name must not be "
	    "empty and delimiter must not be empty", 1, 0 },
	{ "M<<EOF\nx\n", "Invalid value. Matching delimiter not found 'EOF'",
	    1, 0 },
	{ "M<<EOF\nx", "Invalid value. EOF marker missing new line.", 2, 0 },
	/* More. */
	{ "M<<\nx\n", "Invalid format 'M<<'. Name must not be empty and "
	    "delimiter must not be empty", 1, 0 },
	{ "<<\n", "Invalid format '<<'. Name must not be empty and "
	    "delimiter must not be empty", 1, 0 },
	{ "M<<EOF\n", "Invalid value. Matching delimiter not found 'EOF'",
	    1, 0 },
	{ "M<<EOF", "Invalid value. Matching delimiter not found 'EOF'",
	    1, 0 },
	{ "M<<EOF\nEOF \n", "Invalid value. Matching delimiter not found "
	    "'EOF'", 1, 0 },	/* trailing space: not the delimiter */
	{ "A=1\r\n\r\n", "Invalid format '\r'", 2, 1 },	/* CRLF blank line */
	{ "A=1\nB\nC=3\n", "Invalid format 'B'", 2, 1 },
	{ "A=1\nM<<X\na\nb", "Invalid value. EOF marker missing new line.",
	    4, 1 },
	{ "A<\n", "Invalid format 'A<'", 1, 0 },
	{ " \n", "Invalid format ' '", 1, 0 },
};

START_TEST(test_err_vectors)
{
	const struct err_vec	*v = &err_vecs[_i];
	struct envfile		 ef = { 0 };
	char			*cause = NULL;
	size_t			 line = 0;

	ck_assert_int_eq(envfile_parse("GITHUB_OUTPUT", v->in, strlen(v->in),
	    ENVFILE_MAX_VALUE, &ef, &cause, &line), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, v->err);
	ck_assert_uint_eq(line, v->line);
	ck_assert_uint_eq(ef.n, v->kept);
	free(cause);
	envfile_free(&ef);
}
END_TEST

START_TEST(test_appends_to_list)
{
	struct envfile	 ef = { 0 };
	char		*cause;

	ck_assert_int_eq(envfile_parse("GITHUB_ENV", "A=1\n", 4,
	    ENVFILE_MAX_VALUE, &ef, &cause, NULL), 0);
	ck_assert_int_eq(envfile_parse("GITHUB_ENV", "A=2\n", 4,
	    ENVFILE_MAX_VALUE, &ef, &cause, NULL), 0);
	ck_assert_uint_eq(ef.n, 2);
	ck_assert_str_eq(ef.pairs[1].value, "2");
	ck_assert_uint_eq(ef.pairs[1].line, 1);
	envfile_free(&ef);
}
END_TEST

START_TEST(test_line_numbers)
{
	struct envfile	 ef = { 0 };
	char		*cause;
	const char	*in = "\nA=1\nM<<E\nx\nE\nB=2\n";

	ck_assert_int_eq(envfile_parse("GITHUB_ENV", in, strlen(in),
	    ENVFILE_MAX_VALUE, &ef, &cause, NULL), 0);
	ck_assert_uint_eq(ef.n, 3);
	ck_assert_uint_eq(ef.pairs[0].line, 2);
	ck_assert_uint_eq(ef.pairs[1].line, 3);
	ck_assert_uint_eq(ef.pairs[2].line, 6);
	envfile_free(&ef);
}
END_TEST

START_TEST(test_limits)
{
	struct envfile	 ef = { 0 };
	char		*cause, *big;
	size_t		 line, n;

	/* File over ENVFILE_MAX_SIZE: error naming the file. */
	n = ENVFILE_MAX_SIZE + 1;
	big = xmalloc(n + 1);
	memset(big, 'x', n);
	big[0] = 'A';
	big[1] = '=';
	big[n] = '\0';
	ck_assert_int_eq(envfile_parse("GITHUB_OUTPUT", big, n,
	    ENVFILE_MAX_VALUE, &ef, &cause, &line), -1);
	ck_assert_str_eq(cause, "GITHUB_OUTPUT: file is 1048577 bytes, more "
	    "than the limit of 1048576 bytes");
	ck_assert_uint_eq(ef.n, 0);
	free(cause);

	/* Exactly at the file limit: fine. */
	ck_assert_int_eq(envfile_parse("GITHUB_OUTPUT", big, n - 1,
	    ENVFILE_MAX_VALUE, &ef, &cause, &line), 0);
	ck_assert_uint_eq(ef.n, 1);
	ck_assert_uint_eq(strlen(ef.pairs[0].value), n - 3);
	envfile_free(&ef);

	/* Values over the caller's bound, both forms; at the bound is fine. */
	ck_assert_int_eq(envfile_parse("GITHUB_ENV", "A=12345\n", 8, 5, &ef,
	    &cause, &line), 0);
	ck_assert_int_eq(envfile_parse("GITHUB_ENV", "B=123456\n", 9, 5, &ef,
	    &cause, &line), -1);
	ck_assert_str_eq(cause, "GITHUB_ENV: value of 'B' is 6 bytes, more "
	    "than the limit of 5 bytes");
	ck_assert_uint_eq(line, 1);
	ck_assert_uint_eq(ef.n, 1);
	free(cause);
	ck_assert_int_eq(envfile_parse("GITHUB_ENV", "\nH<<E\n123\n456\nE\n",
	    16, 5, &ef, &cause, &line), -1);
	ck_assert_str_eq(cause, "GITHUB_ENV: value of 'H' is 7 bytes, more "
	    "than the limit of 5 bytes");
	ck_assert_uint_eq(line, 2);
	free(cause);
	envfile_free(&ef);

	/* A NUL byte cannot be carried into the environment. */
	ck_assert_int_eq(envfile_parse("GITHUB_ENV", "A=1\nB=x\0y\n", 10,
	    ENVFILE_MAX_VALUE, &ef, &cause, &line), -1);
	ck_assert_str_eq(cause, "GITHUB_ENV: NUL byte in line 2 (not "
	    "supported)");
	ck_assert_uint_eq(line, 2);
	free(cause);
	free(big);
	envfile_free(&ef);
}
END_TEST

static char *
write_tmp(const char *content, size_t len)
{
	char	*path = xstrdup("/tmp/kiln-envfile-XXXXXX");
	int	 fd;

	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(test_read_files)
{
	struct envfile	 ef = { 0 };
	char		*cause, *path, *big;
	size_t		 line;

	/* A missing file is not an error. */
	ck_assert_int_eq(envfile_read("/nonexistent/kiln/envfile", "GITHUB_ENV",
	    ENVFILE_MAX_ENV_VALUE, &ef, &cause, &line), 0);
	ck_assert_uint_eq(ef.n, 0);

	path = write_tmp("A=1\nM<<EOF\nx\nEOF\n", 17);
	ck_assert_int_eq(envfile_read(path, "GITHUB_ENV",
	    ENVFILE_MAX_ENV_VALUE, &ef, &cause, &line), 0);
	ck_assert_uint_eq(ef.n, 2);
	ck_assert_str_eq(ef.pairs[1].value, "x");
	unlink(path);
	free(path);
	envfile_free(&ef);

	big = xcalloc(1, ENVFILE_MAX_SIZE + 10);
	memset(big, '\n', ENVFILE_MAX_SIZE + 10);
	path = write_tmp(big, ENVFILE_MAX_SIZE + 10);
	ck_assert_int_eq(envfile_read(path, "GITHUB_OUTPUT", ENVFILE_MAX_VALUE,
	    &ef, &cause, &line), -1);
	ck_assert_str_eq(cause, "GITHUB_OUTPUT: file is more than the limit "
	    "of 1048576 bytes");
	free(cause);
	unlink(path);
	free(path);
	free(big);
}
END_TEST

/* E16 */
START_TEST(test_node_options)
{
	ck_assert_str_eq(envfile_env_blocked("NODE_OPTIONS"),
	    "Can't store NODE_OPTIONS output parameter using '$GITHUB_ENV' "
	    "command.");
	ck_assert_ptr_nonnull(envfile_env_blocked("node_options"));
	ck_assert_ptr_nonnull(envfile_env_blocked("Node_Options"));
	ck_assert_ptr_null(envfile_env_blocked("NODE_OPTIONS "));
	ck_assert_ptr_null(envfile_env_blocked("NODE_OPTION"));
	ck_assert_ptr_null(envfile_env_blocked(""));
	ck_assert_ptr_null(envfile_env_blocked("PATH"));
}
END_TEST

struct path_vec {
	const char	*in;
	const char	*orig;
	const char	*want;
};

static const struct path_vec path_vecs[] = {
	{ "", "/usr/bin", "/usr/bin" },
	{ "\n\r\n\r", "/usr/bin", "/usr/bin" },
	{ "/a\n/b\n", "/usr/bin", "/b:/a:/usr/bin" },		/* E15 */
	{ "/a\n/b", "/usr/bin", "/b:/a:/usr/bin" },
	{ "/a\r\n/b\r\n", "/usr/bin", "/b:/a:/usr/bin" },	/* CR dropped */
	{ "/a\r/b\r", "/usr/bin", "/b:/a:/usr/bin" },
	{ "/a\n\n/b\n", "", "/b:/a" },
	{ "/a\n", NULL, "/a" },
	{ "/a\n/b\n/a\n", "/usr/bin", "/a:/b:/usr/bin" },	/* moved to end */
	{ " /a \n", "/bin", " /a :/bin" },			/* no trimming */
	{ "\xef\xbb\xbf/a\n", "/bin", "/a:/bin" },
};

START_TEST(test_path_vectors)
{
	const struct path_vec	*v = &path_vecs[_i];
	struct envfile_path	 pl = { 0 };
	char			*cause, *s;

	ck_assert_int_eq(envfile_path_parse("GITHUB_PATH", v->in,
	    strlen(v->in), &pl, &cause), 0);
	s = envfile_path_join(&pl, v->orig);
	ck_assert_str_eq(s, v->want);
	free(s);
	envfile_path_free(&pl);
}
END_TEST

START_TEST(test_path_across_steps)
{
	struct envfile_path	 pl = { 0 };
	char			*cause, *s, *path;

	/* Step 1 adds /a, step 2 adds /b then /a again. */
	ck_assert_int_eq(envfile_path_parse("GITHUB_PATH", "/a\n", 3, &pl,
	    &cause), 0);
	path = write_tmp("/b\n/a\n", 6);
	ck_assert_int_eq(envfile_path_read(path, "GITHUB_PATH", &pl, &cause),
	    0);
	s = envfile_path_join(&pl, "/usr/bin:/bin");
	ck_assert_str_eq(s, "/a:/b:/usr/bin:/bin");
	free(s);
	ck_assert_int_eq(envfile_path_read("/nonexistent/x", "GITHUB_PATH",
	    &pl, &cause), 0);
	ck_assert_uint_eq(pl.n, 2);
	ck_assert_int_eq(envfile_path_parse("GITHUB_PATH", "/c\0d\n", 5, &pl,
	    &cause), -1);
	ck_assert_str_eq(cause, "GITHUB_PATH: NUL byte in line 1 (not "
	    "supported)");
	ck_assert_uint_eq(pl.n, 2);
	free(cause);
	unlink(path);
	free(path);
	envfile_path_free(&pl);
}
END_TEST

static Suite *
envfile_suite(void)
{
	Suite	*s = suite_create("envfile");
	TCase	*tc = tcase_create("core");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */

	tcase_add_loop_test(tc, test_ok_vectors, 0, nitems(ok_vecs));
	tcase_add_loop_test(tc, test_err_vectors, 0, nitems(err_vecs));
	tcase_add_test(tc, test_appends_to_list);
	tcase_add_test(tc, test_line_numbers);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_read_files);
	tcase_add_test(tc, test_node_options);
	tcase_add_loop_test(tc, test_path_vectors, 0, nitems(path_vecs));
	tcase_add_test(tc, test_path_across_steps);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(envfile_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
