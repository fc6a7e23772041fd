/*
 * Unit tests for common/utf8: the one decoder and case mapping, walked
 * over every code point (and every overlong and out-of-range form), and
 * checked end to end through the expression language's == operator.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <utf8proc.h>

#include "expr.h"
#include "utf8.h"
#include "util.h"

/* cp in exactly n bytes (n may be longer than needed: an overlong form). */
static size_t
encode_n(uint32_t cp, size_t n, char *out)
{
	static const unsigned char lead[] = { 0, 0, 0xc0, 0xe0, 0xf0 };
	size_t	k;

	if (n == 1) {
		out[0] = (char)cp;
		return 1;
	}
	for (k = n - 1; k > 0; k--) {
		out[k] = (char)(0x80 | (cp & 0x3f));
		cp >>= 6;
	}
	out[0] = (char)(lead[n] | cp);
	return n;
}

static size_t
shortest(uint32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

START_TEST(test_decoder_every_code_point)
{
	char		s[8];
	size_t		n, i;
	int32_t		got;
	uint32_t	cp;

	for (cp = 0; cp <= 0x10ffff; cp++) {
		n = encode_n(cp, shortest(cp), s);
		i = 0;
		got = utf8_next(s, n, &i);
		if (cp >= 0xd800 && cp <= 0xdfff) {
			ck_assert_msg(got == -1 && i == 1,
			    "surrogate U+%04X accepted", cp);
			ck_assert_uint_eq(utf8_seq_len(s, n), 0);
			continue;
		}
		ck_assert_msg(got == (int32_t)cp && i == n,
		    "U+%04X decoded as %d (%zu bytes)", cp, got, i);
		ck_assert_uint_eq(utf8_seq_len(s, n), n);
		/* Cut short, it is refused, one byte at a time. */
		if (n > 1) {
			i = 0;
			ck_assert_int_eq(utf8_next(s, n - 1, &i), -1);
			ck_assert_uint_eq(i, 1);
		}
	}
}
END_TEST

START_TEST(test_decoder_overlong_and_out_of_range)
{
	char		s[8];
	size_t		n, len, i;
	uint32_t	cp;

	/* Every longer-than-needed form of every code point that has one. */
	for (cp = 0; cp < 0x10000; cp++)
		for (n = shortest(cp) + 1; n <= 4; n++) {
			len = encode_n(cp, n, s);
			i = 0;
			ck_assert_msg(utf8_next(s, len, &i) == -1 && i == 1,
			    "overlong %zu-byte U+%04X accepted", n, cp);
		}
	/* Four-byte forms above U+10FFFF. */
	for (cp = 0x110000; cp <= 0x1fffff; cp++) {
		len = encode_n(cp, 4, s);
		i = 0;
		ck_assert_msg(utf8_next(s, len, &i) == -1 && i == 1,
		    "0x%X accepted", cp);
	}
	/* Bytes that never start a sequence. */
	for (cp = 0x80; cp <= 0xff; cp++) {
		if (cp >= 0xc2 && cp <= 0xf4)
			continue;
		s[0] = (char)cp;
		s[1] = (char)0x80;
		i = 0;
		ck_assert_int_eq(utf8_next(s, 2, &i), -1);
		ck_assert_uint_eq(i, 1);
	}
}
END_TEST

START_TEST(test_upper_every_code_point)
{
	uint32_t	cp;
	int32_t		want;

	for (cp = 0; cp <= 0x10ffff; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		want = cp == 0x131 || cp == 0x17f ? (int32_t)cp :
		    utf8proc_toupper((int32_t)cp);
		ck_assert_msg(utf8_upper((int32_t)cp) == want,
		    "U+%04X upper-cases to U+%04X, utf8proc says U+%04X", cp,
		    utf8_upper((int32_t)cp), want);
	}
	/* Examples the hand-written table missed. */
	ck_assert_int_eq(utf8_upper(0x180), 0x243);
	ck_assert_int_eq(utf8_upper(0x250), 0x2c6f);
	ck_assert_int_eq(utf8_upper(0x1f00), 0x1f08);
	ck_assert_int_eq(utf8_upper(0x10d0), 0x1c90);
}
END_TEST

/* One parsed "a == b", evaluated with a and b set to two texts. */
static int
loose_equal_texts(const struct expr *e, json_t *ctx, const char *a,
    size_t alen, const char *b, size_t blen)
{
	struct expr_ctx	 ec;
	char		 err[256];
	json_t		*r;
	int		 eq;

	json_object_set_new(ctx, "a", json_stringn_nocheck(a, alen));
	json_object_set_new(ctx, "b", json_stringn_nocheck(b, blen));
	memset(&ec, 0, sizeof ec);
	ec.contexts = ctx;
	r = expr_eval(e, &ec, err, sizeof err);
	ck_assert_msg(r != NULL, "%s", err);
	eq = json_is_true(r);
	json_decref(r);
	return eq;
}

/* == compares every character with utf8proc's mapping, but for the two. */
START_TEST(test_equality_every_code_point)
{
	struct expr	*e;
	json_t		*ctx = json_object();
	char		 err[256], a[8], b[8];
	size_t		 al, bl;
	uint32_t	 cp, up;
	int		 eq;

	e = expr_parse("a == b", NULL, err, sizeof err);
	ck_assert_msg(e != NULL, "%s", err);
	for (cp = 0; cp <= 0x10ffff; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		up = (uint32_t)utf8proc_toupper((int32_t)cp);
		if (up == cp)
			continue;
		al = encode_n(cp, shortest(cp), a);
		bl = encode_n(up, shortest(up), b);
		eq = loose_equal_texts(e, ctx, a, al, b, bl);
		if (cp == 0x131 || cp == 0x17f)
			ck_assert_msg(!eq, "U+%04X == U+%04X", cp, up);
		else
			ck_assert_msg(eq, "U+%04X != U+%04X", cp, up);
	}
	/* Length-changing full mappings are not used. */
	ck_assert(!loose_equal_texts(e, ctx, "\xc3\x9f", 2, "SS", 2));
	ck_assert(loose_equal_texts(e, ctx, "\xc6\x80", 2, "\xc9\x83", 2));
	/* A malformed byte equals only itself. */
	ck_assert(loose_equal_texts(e, ctx, "\xff", 1, "\xff", 1));
	ck_assert(!loose_equal_texts(e, ctx, "\xff", 1, "\xfe", 1));
	expr_free(e);
	json_decref(ctx);
}
END_TEST

START_TEST(test_lengths)
{
	ck_assert_uint_eq(utf8_utf16_len("abc", 3), 3);
	ck_assert_uint_eq(utf8_utf16_len("\xc3\xa9", 2), 1);
	ck_assert_uint_eq(utf8_utf16_len("\xf0\x9f\x9a\x80", 4), 2);
	ck_assert_uint_eq(utf8_utf16_len("\xff\xfe", 2), 2);
	ck_assert_uint_eq(utf8_count("\xf0\x9f\x9a\x80" "a", 5), 2);
	ck_assert_uint_eq(utf8_width("\xe4\xb8\xad\xe6\x96\x87"), 4);
	ck_assert_uint_eq(utf8_width("\xf0\x9f\x9a\x80"), 2);
	ck_assert_uint_eq(utf8_width("a\xcc\x81"), 1);
	ck_assert_uint_eq(utf8_width("\xff"), 1);
}
END_TEST

/* Bad bytes become U+FFFD one for one; good text passes unchanged. */
START_TEST(test_scrub)
{
	static const struct { const char *in; size_t len; const char *out; }
	    v[] = {
		{ "plain", 5, "plain" },
		{ "caf\xc3\xa9", 5, "caf\xc3\xa9" },
		{ "a\xff" "b", 3, "a\xef\xbf\xbd" "b" },
		{ "\xed\xa0\x80", 3,		/* a surrogate: 3 bad bytes */
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd" }, /* overlong */
		{ "x\xe2\x82", 3, "x\xef\xbf\xbd\xef\xbf\xbd" }, /* cut */
		{ "a\0b", 3, "a\xef\xbf\xbd" "b" },
		{ "\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80" },
	};
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct buf b = { 0 };

		utf8_scrub(v[i].in, v[i].len, &b);
		ck_assert_uint_eq(b.len, strlen(v[i].out));
		ck_assert_mem_eq(b.data, v[i].out, b.len);
		ck_assert_int_eq(b.data[b.len], '\0');
		buf_free(&b);
	}
}
END_TEST

static Suite *
utf8_suite(void)
{
	Suite	*s = suite_create("utf8");
	TCase	*tc = tcase_create("walk");

	/* Millions of cases; generous for sanitizer builds on a busy box. */
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_decoder_every_code_point);
	tcase_add_test(tc, test_decoder_overlong_and_out_of_range);
	tcase_add_test(tc, test_upper_every_code_point);
	tcase_add_test(tc, test_equality_every_code_point);
	tcase_add_test(tc, test_lengths);
	tcase_add_test(tc, test_scrub);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(utf8_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
