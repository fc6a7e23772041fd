/*
 * Unit tests for common/glob: the G-vectors of reference section 8.2, the
 * cheat-sheet examples of section 2.3, regex corner cases of the translation
 * and compile errors.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "util.h"

struct match_vec {
	const char	*pattern;
	const char	*subject;
	int		 want;
};

static const struct match_vec match_vecs[] = {
	/* Edge values first. */
	{ "", "", 1 },
	{ "", "a", 0 },
	{ "a", "", 0 },
	{ "*", "", 1 },
	{ "**", "", 1 },
	{ "**/", "", 1 },
	{ "?", "?", 1 },		/* first char: literal */
	{ "?", "", 0 },
	{ "+a", "+a", 1 },
	{ "a?", "", 1 },
	{ "a+", "", 0 },
	{ "a+", "aaa", 1 },
	{ "a+b", "aab", 1 },
	{ "a?b", "b", 1 },
	{ "a?b", "aab", 0 },
	{ "ab*?", "abc", 1 },		/* lazy: same as "ab*" */
	{ "a??", "a", 1 },
	{ "a+?", "aa", 1 },
	/* G1-G19 */
	{ "feature/*", "feature/my-branch", 1 },
	{ "feature/*", "feature/a/b", 0 },
	{ "feature/**", "feature/mona/the/octocat", 1 },
	{ "*", "releases/v1", 0 },
	{ "*", "main", 1 },
	{ "v2*", "v2.9", 1 },
	{ "v[12].[0-9]+.[0-9]+", "v1.10.1", 1 },
	{ "v[12].[0-9]+.[0-9]+", "v3.0.0", 0 },
	{ "v[12].[0-9]+.[0-9]+", "v2.1.0", 1 },
	{ "*.jsx?", "page.js", 1 },
	{ "*.jsx?", "page.jsx", 1 },
	{ "*.jsx?", "page.jsxx", 0 },
	{ "**.js", "src/js/app.js", 1 },
	{ "**.js", "index.js", 1 },
	{ "*.js", "src/app.js", 0 },
	{ "*.js", "app.js", 1 },
	{ "docs/**/*.md", "docs/README.md", 1 },
	{ "docs/**/*.md", "docs/mona/octocat.md", 1 },
	{ "docs/**/*.md", "docs/a/b/c.md", 1 },
	{ "docs/**/*.md", "docs/a.txt", 0 },
	{ "**/README.md", "README.md", 1 },
	{ "**/README.md", "server/README.md", 1 },
	{ "**/README.md", "a/b/README.md", 1 },
	{ "**/README.md", "/README.md", 0 },	/* ".+/" needs a char */
	{ "**/README.md", "xREADME.md", 0 },
	{ "v1.*", "v1", 0 },
	{ "v1.*", "v1.0", 1 },
	{ "v1.*", "v1.0/x", 0 },
	{ "\\!file", "!file", 1 },
	{ ".yml", "fyml", 0 },
	{ ".yml", ".yml", 1 },
	{ "[CB]at", "Cat", 1 },
	{ "[CB]at", "Bat", 1 },
	{ "[CB]at", "Hat", 0 },
	{ "[1-2]00", "200", 1 },
	{ "[1-2]00", "300", 0 },
	/* Cheat-sheet examples. */
	{ "feature/*", "feature/your-branch", 1 },
	{ "feature/**", "feature/beta-a/my-branch", 1 },
	{ "main", "main", 1 },
	{ "main", "main2", 0 },
	{ "releases/mona-the-octocat", "releases/mona-the-octocat", 1 },
	{ "v2*", "v2", 1 },
	{ "v2*", "v2.0", 1 },
	{ "v2*", "v3", 0 },
	{ "v[12].[0-9]+.[0-9]+", "v1.10.1", 1 },
	{ "v[12].[0-9]+.[0-9]+", "v2.0.0", 1 },
	{ "**", "all/the/branches", 1 },
	{ "**", "every/tag", 1 },
	{ "*.jsx?", "page.js", 1 },
	{ "**.js", "index.js", 1 },
	{ "**.js", "js/index.js", 1 },
	{ "**.js", "src/js/app.js", 1 },
	{ "docs/*", "docs/README.md", 1 },
	{ "docs/*", "docs/file.txt", 1 },
	{ "docs/*", "docs/a/file.txt", 0 },
	{ "docs/**", "docs/mona/octocat.txt", 1 },
	{ "docs/**/*.md", "docs/mona/hello-world.md", 1 },
	{ "**/docs/**", "docs/hello.md", 1 },
	{ "**/docs/**", "dir/docs/my-file.txt", 1 },
	{ "**/docs/**", "space/docs/plan/space.doc", 1 },
	{ "**/README.md", "js/README.md", 1 },
	{ "**/*src/**", "a/src/app.js", 1 },
	{ "**/*src/**", "my-src/code/js/app.js", 1 },
	{ "**/*-post.md", "my-post.md", 1 },
	{ "**/*-post.md", "path/their-post.md", 1 },
	{ "**/migrate-*.sql", "migrate-10909.sql", 1 },
	{ "**/migrate-*.sql", "db/migrate-v1.0.sql", 1 },
	{ "**/migrate-*.sql", "db/sept/migrate-v1.sql", 1 },
	{ "*.md", "README.md", 1 },
	{ "*.md", "docs/hello.md", 0 },
	{ "releases/**-alpha", "releases/beta/3-alpha", 1 },
	{ "releases/**-alpha", "releases/10", 0 },
	/* Escapes and literal specials. */
	{ "a\\*b", "a*b", 1 },
	{ "a\\*b", "axb", 0 },
	{ "a\\?", "a?", 1 },
	{ "a\\?", "a", 0 },
	{ "a!b", "a!b", 1 },
	{ "a(b)", "a(b)", 1 },
	{ "a.b", "axb", 0 },
	{ "a$", "a$", 1 },
	{ "^a", "^a", 1 },
	{ "[a-z]+", "hello", 1 },
	{ "[a-z]+", "Hello", 0 },
	{ "[A-Za-z0-9]+", "Hello42", 1 },
	{ "[^]", "^", 1 },		/* '^' is a member, not a negation */
	{ "[^a]", "b", 0 },
	/* Many stars: no blow-up. */
	{ "*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
	{ "**a**a**a**a**a**b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 1 },
};

START_TEST(test_match_vectors)
{
	const struct match_vec	*v = &match_vecs[_i];
	struct glob		*g;
	char			 err[256];

	g = glob_compile(v->pattern, err, sizeof err);
	ck_assert_msg(g != NULL, "'%s': %s", v->pattern, err);
	ck_assert_msg(glob_match(g, v->subject) == v->want,
	    "pattern '%s' subject '%s': want %d", v->pattern, v->subject,
	    v->want);
	glob_free(g);
}
END_TEST

struct bad_vec {
	const char	*pattern;
	const char	*errpart;
};

static const struct bad_vec bad_vecs[] = {
	{ "[]", "empty brackets" },
	{ "a[]", "column 3" },
	{ "[", "missing closing" },
	{ "[abc", "missing closing" },
	{ "x\\", "nothing to escape" },
	{ "[a-]", "ranges can only" },
	{ "[-a]", "invalid range" },
	{ "[z-a]", "ranges can only" },
	{ "[a-9]", "ranges can only" },
	{ "[.]", "can only hold" },
	{ "a*+", "'+' repeats" },
	{ "a**+", "'+' repeats" },
	{ "a?+", "'+' repeats" },
	{ "a++", "'+' repeats" },
	{ "!", NULL },			/* valid: negated empty pattern */
};

START_TEST(test_compile_errors)
{
	const struct bad_vec	*v = &bad_vecs[_i];
	struct glob		*g;
	char			 err[256];

	g = glob_compile(v->pattern, err, sizeof err);
	if (v->errpart == NULL) {
		ck_assert_ptr_nonnull(g);
		glob_free(g);
		return;
	}
	ck_assert_msg(g == NULL, "'%s' should not compile", v->pattern);
	ck_assert_msg(strstr(err, v->errpart) != NULL,
	    "'%s': error '%s' lacks '%s'", v->pattern, err, v->errpart);
	ck_assert_msg(strstr(err, v->pattern) != NULL,
	    "error '%s' does not name the pattern", err);
}
END_TEST

struct list_vec {
	const char	*patterns[4];
	const char	*subject;
	int		 want;
};

static const struct list_vec list_vecs[] = {
	{ { NULL }, "anything", 0 },
	{ { "!a" }, "a", 0 },
	{ { "*.md", "!README.md" }, "README.md", 0 },
	{ { "*.md", "!README.md" }, "hello.md", 1 },
	{ { "*.md", "!README.md" }, "docs/hello.md", 0 },
	{ { "*.md", "!README.md", "README*" }, "README.md", 1 },
	{ { "releases/**", "!releases/**-alpha" }, "releases/10", 1 },
	{ { "releases/**", "!releases/**-alpha" }, "releases/beta/3-alpha", 0 },
	{ { "sub-project/**", "!sub-project/docs/**" },
	    "sub-project/src/index.js", 1 },
	{ { "sub-project/**", "!sub-project/docs/**" },
	    "sub-project/docs/readme.md", 0 },
	{ { "\\!file" }, "!file", 1 },
	{ { "!x", "x" }, "x", 1 },
	{ { "x", "!x" }, "x", 0 },
};

START_TEST(test_list_vectors)
{
	const struct list_vec	*v = &list_vecs[_i];
	struct glob		*g[4];
	size_t			 n = 0, i;
	int			 which;

	for (n = 0; n < 4 && v->patterns[n] != NULL; n++) {
		g[n] = glob_compile(v->patterns[n], NULL, 0);
		ck_assert_ptr_nonnull(g[n]);
	}
	ck_assert_int_eq(glob_list_included(g, n, v->subject, &which),
	    v->want);
	if (v->want)
		ck_assert_int_ge(which, 0);
	for (i = 0; i < n; i++)
		glob_free(g[i]);
}
END_TEST

START_TEST(test_accessors)
{
	struct glob *g = glob_compile("!docs/**", NULL, 0);

	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(glob_negated(g), 1);
	ck_assert_str_eq(glob_pattern(g), "!docs/**");
	ck_assert_int_eq(glob_match(g, "docs/a"), 1);
	glob_free(g);
	glob_free(NULL);
}
END_TEST

START_TEST(test_long_subject)
{
	struct glob	*g = glob_compile("**/*.c", NULL, 0);
	char		*s;
	size_t		 i;

	s = xmalloc(8192);
	for (i = 0; i < 8000; i++)
		s[i] = (i % 10 == 9) ? '/' : 'x';
	memcpy(s + 8000, "/f.c", 5);
	ck_assert_int_eq(glob_match(g, s), 1);
	s[8003] = 'h';
	ck_assert_int_eq(glob_match(g, s), 0);
	free(s);
	glob_free(g);
}
END_TEST

static Suite *
glob_suite(void)
{
	Suite	*s = suite_create("glob");
	TCase	*tc = tcase_create("core");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */

	tcase_add_loop_test(tc, test_match_vectors, 0, nitems(match_vecs));
	tcase_add_loop_test(tc, test_compile_errors, 0, nitems(bad_vecs));
	tcase_add_loop_test(tc, test_list_vectors, 0, nitems(list_vecs));
	tcase_add_test(tc, test_accessors);
	tcase_add_test(tc, test_long_subject);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(glob_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
