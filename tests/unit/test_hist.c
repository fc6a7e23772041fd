/*
 * Unit tests for common/hist: observations land in the first bucket whose
 * bound holds them (a value on a bound counts in it, as Prometheus' le=),
 * cumulative counts, count and sum, values past the last bound only in
 * count (+Inf), and the bound cap.
 */
#include <check.h>
#include <stdlib.h>

#include "hist.h"
#include "util.h"

static const double bounds[] = { 0.1, 1, 10 };

START_TEST(test_hist_buckets)
{
	struct hist h;

	hist_init(&h, bounds, nitems(bounds));
	hist_observe(&h, 0.05);
	hist_observe(&h, 0.1);
	hist_observe(&h, 0.5);
	hist_observe(&h, 10);
	hist_observe(&h, 99);
	ck_assert_uint_eq(hist_le(&h, 0), 2);
	ck_assert_uint_eq(hist_le(&h, 1), 3);
	ck_assert_uint_eq(hist_le(&h, 2), 4);
	ck_assert_uint_eq(h.count, 5);
	ck_assert_double_eq_tol(h.sum, 109.65, 1e-9);
}
END_TEST

START_TEST(test_hist_cap)
{
	static const double many[HIST_MAX_BOUNDS + 4] = { 1, 2, 3 };
	struct hist h;

	hist_init(&h, many, nitems(many));
	ck_assert_uint_eq(h.nbounds, HIST_MAX_BOUNDS);
	hist_observe(&h, 0);
	ck_assert_uint_eq(hist_le(&h, HIST_MAX_BOUNDS + 3), 1);
}
END_TEST

static Suite *
hist_suite(void)
{
	Suite *s = suite_create("hist");
	TCase *tc = tcase_create("hist");

	tcase_add_test(tc, test_hist_buckets);
	tcase_add_test(tc, test_hist_cap);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hist_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
