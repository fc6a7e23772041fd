/*
 * Unit tests for common/secrets: GitHub's name rules and which secrets a
 * workflow text refers to.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "secrets.h"
#include "util.h"

static const char *good_names[] = { "A", "_", "TOKEN", "my_token2",
    "GITHUBX", "GITHUB", "a1_B2" };
static const char *bad_names[] = { "", "1A", "GITHUB_TOKEN", "github_x",
    "Github_", "A-B", "A B", "A.B", "\xc3\xa9", "A\n" };

START_TEST(test_good_names)
{
	char err[256];

	ck_assert_msg(secrets_name_check(good_names[_i], "secret", err,
	    sizeof err) == 0, "%s: %s", good_names[_i], err);
}
END_TEST

START_TEST(test_bad_names)
{
	char err[256] = "";

	ck_assert_int_eq(secrets_name_check(bad_names[_i], "secret", err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "secret name"));
}
END_TEST

START_TEST(test_name_too_long)
{
	char name[SECRETS_NAME_MAX + 2], err[256];

	memset(name, 'A', sizeof name);
	name[SECRETS_NAME_MAX] = '\0';
	ck_assert_int_eq(secrets_name_check(name, "variable", err, sizeof err),
	    0);
	name[SECRETS_NAME_MAX] = 'A';
	name[SECRETS_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(secrets_name_check(name, "variable", err, sizeof err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "variable name"));
}
END_TEST

static char *
refs_text(const char *src, int *all)
{
	char **refs = secrets_referenced(src, all);
	struct buf b = { 0 };

	buf_add_str(&b, "");
	for (size_t i = 0; refs[i] != NULL; i++)
		buf_printf(&b, "%s%s", i ? "," : "", refs[i]);
	secrets_names_free(refs);
	return buf_steal(&b);
}

struct ref_vec {
	const char	*src;
	const char	*want;
	int		 all;
};

static const struct ref_vec ref_vecs[] = {
	{ "", "", 0 },
	{ "run: echo hi", "", 0 },
	{ "${{ secrets.token }}", "TOKEN", 0 },
	{ "${{ secrets.A }} ${{ SECRETS.a }} ${{ secrets['b'] }}", "A,B", 0 },
	{ "${{ secrets[\"My_X\"] }}", "MY_X", 0 },
	{ "${{ toJSON(secrets) }}", "", 1 },
	{ "${{ secrets[matrix.name] }}", "", 1 },
	/* Not the context: a key, part of a word, a property. */
	{ "    secrets: inherit\n", "", 0 },
	{ "${{ mysecrets.x }} ${{ github.secrets.y }}", "", 0 },
};

START_TEST(test_referenced)
{
	const struct ref_vec *v = &ref_vecs[_i];
	int all = -1;
	char *got = refs_text(v->src, &all);

	ck_assert_str_eq(got, v->want);
	ck_assert_int_eq(all, v->all);
	free(got);
}
END_TEST

static Suite *
secrets_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc = tcase_create("names");

	tcase_set_timeout(tc, 60);

	tcase_add_loop_test(tc, test_good_names, 0, (int)nitems(good_names));
	tcase_add_loop_test(tc, test_bad_names, 0, (int)nitems(bad_names));
	tcase_add_test(tc, test_name_too_long);
	tcase_add_loop_test(tc, test_referenced, 0, (int)nitems(ref_vecs));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(secrets_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
