/*
 * Integration tests of secrets at rest: kilnd creates its key file 0600 on
 * first start and refuses to start when the key file lets others read it.
 */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

START_TEST(test_key_file_created_0600_on_first_start)
{
	struct harness	*h = harness_up("key_created");
	struct stat	 st;
	char		*path = xasprintf("%s/secret.key", h->state_dir);

	harness_assert(h, stat(path, &st) == 0, "%s: not created", path);
	harness_assert(h, (st.st_mode & 07777) == 0600 && st.st_size == 32,
	    "%s: mode %o size %lld", path, (unsigned)(st.st_mode & 07777),
	    (long long)st.st_size);
	harness_stop(h);
	free(path);
	harness_free(h);
}
END_TEST

START_TEST(test_key_file_readable_by_others_stops_kilnd)
{
	struct harness	*h = harness_new("key_readable");
	struct buf	 out = { 0 }, err = { 0 };
	char		*path = xasprintf("%s/secret.key", h->state_dir);
	char		*kilnd = xasprintf("%s/kilnd", h->bindir);
	char		*argv[] = { kilnd, "-c", h->conf, NULL };
	int		 rc;

	harness_write_file(h, path, "0123456789abcdef0123456789abcdef");
	harness_assert(h, chmod(path, 0644) == 0, "chmod %s", path);
	rc = harness_run(argv, h->dir, NULL, &out, &err, 30000);
	harness_assert(h, rc != 0 && rc != -1, "kilnd exited %d: %s", rc,
	    err.data ? err.data : "");
	harness_expect_contains(h, err.data ? err.data : "", "kilnd stderr",
	    path);
	harness_expect_contains(h, err.data ? err.data : "", "kilnd stderr",
	    "group or others");
	buf_free(&out);
	buf_free(&err);
	free(kilnd);
	free(path);
	harness_free(h);
}
END_TEST

static Suite *
secrets_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc = tcase_create("secrets");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_key_file_readable_by_others_stops_kilnd);
	tcase_add_test(tc, test_key_file_created_0600_on_first_start);
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
