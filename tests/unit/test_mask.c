/*
 * Unit tests for common/mask: exact and merged masking, the runner's
 * trimming and line rules, and the base64 forms at the three byte
 * alignments (expected texts made with coreutils' base64).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"
#include "util.h"
#include "wfcmd.h"

static void
expect_masked(const struct mask_set *ms, const char *text, const char *want)
{
	char	*got = mask_apply(ms, text);

	ck_assert_msg(strcmp(got, want) == 0, "%s: got %s, want %s", text, got,
	    want);
	free(got);
}

START_TEST(test_base64_three_alignments)
{
	struct mask_set	*ms = mask_set_new(16, 1024);

	ck_assert_int_eq(mask_add(ms, "hunter2!"), 0);
	/* base64("hunter2!"): aligned. */
	expect_masked(ms, "aHVudGVyMiE=", "***=");
	/* base64("a" "hunter2!"): one byte before it. */
	expect_masked(ms, "YWh1bnRlcjIh", "YWh1***");
	/* base64("ab" "hunter2!"): two bytes before it. */
	expect_masked(ms, "YWJodW50ZXIyIQ==", "YWJo***==");
	/* base64("abc" "hunter2!"): three, aligned again. */
	expect_masked(ms, "YWJjaHVudGVyMiE=", "YWJj***=");
	/* base64("user:" "hunter2!"), the basic-auth case. */
	expect_masked(ms, "Authorization: Basic dXNlcjpodW50ZXIyIQ==",
	    "Authorization: Basic dXNlcjpo***==");
	/* Without padding too, and the plain value. */
	expect_masked(ms, "aHVudGVyMiE hunter2!", "*** ***");
	/* Unrelated base64 is left alone. */
	expect_masked(ms, "aGVsbG8=", "aGVsbG8=");
	mask_set_free(ms);
}
END_TEST

/*
 * A secret at every offset around the 64 KiB windows mask_cover searches
 * (common/mask.c MASK_WINDOW) is still found whole: the windows overlap
 * by the secret's length less one.
 */
START_TEST(test_cover_across_windows)
{
	struct mask_set	*ms = mask_set_new(16, 1024);
	const char	*secret = "hunter2!";
	size_t		 sl = strlen(secret), len = 3 * 65536, at, i;
	char		*text = xmalloc(len);
	unsigned char	*cov;

	ck_assert_int_eq(mask_add(ms, secret), 0);
	for (at = 65536 - sl - 1; at <= 65536 + 1; at++) {
		memset(text, 'x', len);
		memcpy(text + at, secret, sl);
		memcpy(text + 2 * 65536 - 3, secret, sl);
		cov = mask_cover(ms, text, len, 0);
		ck_assert_ptr_nonnull(cov);
		for (i = 0; i < len; i++)
			ck_assert_msg(cov[i] == ((i >= at && i < at + sl) ||
			    (i >= 2 * 65536 - 3 && i < 2 * 65536 - 3 + sl)),
			    "secret at %zu: byte %zu covered %d", at, i, cov[i]);
		free(cov);
	}
	free(text);
	mask_set_free(ms);
}
END_TEST

/*
 * Text made of a secret's beginning: mask_cover's search checks a few
 * candidates itself, then hands the rest of the text to memmem; the
 * secret is found either side of that switch, and after a single-byte
 * secret's and at the text's very end.
 */
START_TEST(test_cover_near_misses)
{
	struct mask_set	*ms = mask_set_new(16, 1024);
	char		 text[256], want[256];
	size_t		 misses;

	ck_assert_int_eq(mask_add(ms, "hunter2!"), 0);
	for (misses = 0; misses < 40; misses++) {
		size_t i, n = 0;

		for (i = 0; i < misses; i++) {
			memcpy(text + n, "hu", 2);
			n += 2;
		}
		memcpy(text + n, "hunter2!", 9);	/* with its NUL */
		memcpy(want, text, n);
		memcpy(want + n, "***", 4);
		expect_masked(ms, text, want);
	}
	expect_masked(ms, "hunter2", "hunter2");
	expect_masked(ms, "hunter2!hunter2", "***hunter2");
	mask_set_free(ms);
}
END_TEST

START_TEST(test_base64_short_values)
{
	struct mask_set	*ms = mask_set_new(16, 1024);

	/* One byte: only the aligned form ("eA"); shifts need more bytes. */
	ck_assert_int_eq(mask_add_value(ms, "x", 1), 0);
	expect_masked(ms, "eA== x", "***== ***");
	mask_set_free(ms);
}
END_TEST

START_TEST(test_trim_lines_and_limits)
{
	struct mask_set	*ms = mask_set_new(2, 10);

	ck_assert_int_eq(mask_add(ms, "  one\n"), 0);	/* "one" */
	expect_masked(ms, "done", "d***");
	ck_assert_int_eq(mask_add(ms, "one"), 0);	/* a repeat */
	ck_assert_int_eq(mask_add(ms, "two"), 0);
	ck_assert_int_eq(mask_add(ms, "six"), -1);	/* two values at most */
	expect_masked(ms, "six two", "six ***");
	mask_set_free(ms);

	ms = mask_set_new(10, 10);
	ck_assert_int_eq(mask_add(ms, "0123456789a"), -1);	/* bytes */
	ck_assert_int_eq(mask_add(ms, "0123456789"), 0);
	ck_assert_uint_eq(mask_longest(ms), 14);	/* its base64, no == */
	mask_set_free(ms);

	/* Overlapping and adjacent occurrences merge into one ***. */
	ms = mask_set_new(10, 100);
	mask_add(ms, "abc");
	mask_add(ms, "bcd");
	expect_masked(ms, "xabcdy abcabc", "x***y ***");
	mask_set_free(ms);
}
END_TEST

/* The job's filter masks base64 forms of ::add-mask:: values too. */
START_TEST(test_wfcmd_masks_base64)
{
	struct wfcmd_state	*st = wfcmd_new();
	struct buf		 out = { 0 };
	const char		 text[] = "::add-mask::hunter2!\n"
	    "token dXNlcjpodW50ZXIyIQ==\n";

	wfcmd_step_begin(st);
	wfcmd_feed(st, text, strlen(text), &out);
	wfcmd_flush(st, &out);
	ck_assert_str_eq(out.data, "token dXNlcjpo***==\n");
	buf_free(&out);
	wfcmd_free(st);
}
END_TEST

static Suite *
mask_suite(void)
{
	Suite	*s = suite_create("mask");
	TCase	*tc = tcase_create("core");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */

	tcase_add_test(tc, test_base64_three_alignments);
	tcase_add_test(tc, test_cover_across_windows);
	tcase_add_test(tc, test_cover_near_misses);
	tcase_add_test(tc, test_base64_short_values);
	tcase_add_test(tc, test_trim_lines_and_limits);
	tcase_add_test(tc, test_wfcmd_masks_base64);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(mask_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
