/*
 * Unit tests for common/cron: parse errors (edge values first), and the
 * next-fire-time vectors C1-C12 of reference section 8.6.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "util.h"

/* "YYYY-MM-DDTHH:MM" (UTC) -> epoch seconds. */
static int64_t
ts(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	ck_assert_int_eq(sscanf(s, "%d-%d-%dT%d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min), 5);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

struct bad_vec {
	const char	*text;
	const char	*errpart;
};

static const struct bad_vec bad_vecs[] = {
	{ "", "has 0 fields" },
	{ "   ", "has 0 fields" },
	{ "* * * *", "has 4 fields" },
	{ "* * * * * *", "more than 5 fields" },
	{ "@daily", "'@' macros" },
	{ "@hourly", "'@' macros" },
	{ "60 * * * *", "invalid minute '60'" },
	{ "-1 * * * *", "invalid minute '-1'" },
	{ "* 24 * * *", "invalid hour '24'" },
	{ "* * 0 * *", "invalid day-of-month '0'" },
	{ "* * 32 * *", "invalid day-of-month '32'" },
	{ "* * * 0 *", "invalid month '0'" },
	{ "* * * 13 *", "invalid month '13'" },
	{ "* * * * 7", "invalid day-of-week '7'" },
	{ "* * * JANUARY *", "invalid month 'JANUARY'" },
	{ "* * * * SUNDAY", "invalid day-of-week" },
	{ "* * * * MON-", "invalid day-of-week 'MON-'" },
	{ "5-1 * * * *", "invalid minute '5-1'" },
	{ "*/0 * * * *", "invalid minute '*/0'" },
	{ "*/ * * * *", "invalid minute '*/'" },
	{ "1,,2 * * * *", "empty item" },
	{ "1, * * * *", "empty item" },
	{ "a * * * *", "invalid minute 'a'" },
	{ "1.5 * * * *", "invalid minute '1.5'" },
	{ "0 0 * JAN-MAR MON-FRI/", "invalid day-of-week" },
	{ "**/2 * * * *", "invalid minute" },
};

START_TEST(test_bad)
{
	const struct bad_vec	*v = &bad_vecs[_i];
	struct cron		 c;
	char			 err[256];

	ck_assert_msg(cron_parse(v->text, &c, err, sizeof err) == -1,
	    "'%s' should not parse", v->text);
	ck_assert_msg(strstr(err, v->errpart) != NULL, "'%s': '%s' lacks "
	    "'%s'", v->text, err, v->errpart);
	ck_assert_int_eq(cron_parse(v->text, &c, NULL, 0), -1);
}
END_TEST

struct next_vec {
	const char	*text;
	const char	*after;
	const char	*next[4];
};

static const struct next_vec next_vecs[] = {
	{ "*/15 * * * *", "2024-01-01T00:00",
	    { "2024-01-01T00:15", "2024-01-01T00:30", "2024-01-01T00:45" } },
	{ "30 5,17 * * *", "2024-01-01T00:00",
	    { "2024-01-01T05:30", "2024-01-01T17:30", "2024-01-02T05:30" } },
	{ "20/15 * * * *", "2024-01-01T00:00",
	    { "2024-01-01T00:20", "2024-01-01T00:35", "2024-01-01T00:50",
	    "2024-01-01T01:20" } },
	{ "0 4-6 * * *", "2024-01-01T00:00",
	    { "2024-01-01T04:00", "2024-01-01T05:00", "2024-01-01T06:00" } },
	{ "30 5 * * 1,3", "2024-01-01T00:00",
	    { "2024-01-01T05:30", "2024-01-03T05:30", "2024-01-08T05:30" } },
	{ "0 0 1 * *", "2024-01-01T00:00",
	    { "2024-02-01T00:00", "2024-03-01T00:00" } },
	{ "0 12 * * SUN", "2024-01-01T00:00",
	    { "2024-01-07T12:00", "2024-01-14T12:00" } },
	{ "0 0 29 2 *", "2024-01-01T00:00", { "2024-02-29T00:00",
	    "2028-02-29T00:00" } },
	{ "0 0 13 * 5", "2024-01-01T00:00",
	    { "2024-01-05T00:00", "2024-01-12T00:00", "2024-01-13T00:00" } },
	{ "15 4,5 * * *", "2024-01-01T04:15",
	    { "2024-01-01T05:15", "2024-01-02T04:15" } },
	{ "0 0 * JAN-MAR MON-FRI", "2024-03-29T12:00",
	    { "2025-01-01T00:00", "2025-01-02T00:00" } },
	{ "0 22 * * 1-5", "2024-01-05T22:00", { "2024-01-08T22:00" } },
	{ "0 2 * * *", "2024-01-01T01:59", { "2024-01-01T02:00",
	    "2024-01-02T02:00" } },
	{ "0 0 * * mon", "2024-01-01T00:00", { "2024-01-08T00:00" } },
	{ "0-10/5 1 1 jan,Dec *", "2024-01-01T00:00",
	    { "2024-01-01T01:00", "2024-01-01T01:05", "2024-01-01T01:10",
	    "2024-12-01T01:00" } },
};

START_TEST(test_next)
{
	const struct next_vec	*v = &next_vecs[_i];
	struct cron		 c;
	char			 err[256];
	int64_t			 t, n;
	size_t			 i;

	ck_assert_msg(cron_parse(v->text, &c, err, sizeof err) == 0, "%s: %s",
	    v->text, err);
	t = ts(v->after);
	for (i = 0; i < 4 && v->next[i] != NULL; i++) {
		ck_assert_int_eq(cron_next(&c, t, &n), 0);
		ck_assert_msg(n == ts(v->next[i]), "'%s' after %s: step %zu "
		    "off by %lld s", v->text, v->after, i,
		    (long long)(n - ts(v->next[i])));
		ck_assert_int_eq(cron_matches(&c, n), 1);
		/* Brute force: no minute in between fires (short gaps). */
		if (n - t <= 3 * 86400) {
			int64_t m;

			for (m = t + 60 - (t % 60); m < n; m += 60)
				ck_assert_msg(!cron_matches(&c, m), "'%s' "
				    "skipped a fire time", v->text);
		}
		t = n;
	}
}
END_TEST

START_TEST(test_never)
{
	struct cron	c;
	int64_t		n;

	ck_assert_int_eq(cron_parse("0 0 31 2 *", &c, NULL, 0), 0);
	ck_assert_int_eq(cron_next(&c, ts("2024-01-01T00:00"), &n), -1);
	ck_assert_int_eq(cron_parse("0 0 30 2 *", &c, NULL, 0), 0);
	ck_assert_int_eq(cron_next(&c, ts("2024-01-01T00:00"), &n), -1);
}
END_TEST

START_TEST(test_fields)
{
	struct cron c;

	ck_assert_int_eq(cron_parse("  0\t2 * * *  ", &c, NULL, 0), 0);
	ck_assert(c.minute == 1);
	ck_assert(c.hour == 1u << 2);
	ck_assert(c.dom == 0xfffffffeu);
	ck_assert(c.month == 0x1ffeu);
	ck_assert(c.dow == 0x7fu);
	ck_assert_int_eq(c.dom_any, 1);
	ck_assert_int_eq(c.dow_any, 1);
	ck_assert_int_eq(cron_parse("*/60 * * * *", &c, NULL, 0), 0);
	ck_assert(c.minute == 1);
	ck_assert_int_eq(cron_parse("59 23 31 12 6", &c, NULL, 0), 0);
	ck_assert(c.minute == (uint64_t)1 << 59);
	ck_assert_int_eq(c.dom_any, 0);
}
END_TEST

static Suite *
cron_suite(void)
{
	Suite	*s = suite_create("cron");
	TCase	*tc = tcase_create("core");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */

	tcase_add_loop_test(tc, test_bad, 0, nitems(bad_vecs));
	tcase_add_loop_test(tc, test_next, 0, nitems(next_vecs));
	tcase_add_test(tc, test_never);
	tcase_add_test(tc, test_fields);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(cron_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
