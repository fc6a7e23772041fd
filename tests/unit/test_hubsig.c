/*
 * Unit tests for common/hubsig: the HMAC vectors of reference section 8.1
 * (H1 is GitHub's documented one), a one-bit change anywhere failing, and
 * every malformed header rejected.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hubsig.h"
#include "util.h"

#define H1_SECRET	"It's a Secret to Everybody"
#define H1_BODY		"Hello, World!"
#define H1_HEX		"757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
#define H1_HEADER	"sha256=" H1_HEX

static int
verify(const char *secret, const char *body, const char *header)
{
	return hubsig_verify(secret, strlen(secret), body, strlen(body), header);
}

/* ---- vectors ---- */

struct sig_vec {
	const char	*secret;
	const char	*body;
	const char	*header;
};

static const struct sig_vec sig_vecs[] = {
	/* Edge values first: H4, empty secret and body. */
	{ "", "", "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c"
	  "712144292c5ad" },
	/* Empty body, real secret (openssl dgst -sha256 -hmac). */
	{ H1_SECRET, "", "sha256=66a0c074deaa0f489ead6537e0d32f9a344b90bbeda7"
	  "05b6ed45ecd3b413fb40" },
	/* H1: GitHub's documented vector. */
	{ H1_SECRET, H1_BODY, H1_HEADER },
	/* H3 */
	{ "secret", "{}", "sha256=77325902caca812dc259733aacd046b73817372c777b"
	  "8d95b402647474516e13" },
};

START_TEST(test_vectors)
{
	const struct sig_vec *v = &sig_vecs[_i];
	char out[HUBSIG_HEADER_LEN + 1 + 8];

	ck_assert_uint_eq(strlen(v->header), HUBSIG_HEADER_LEN);
	memset(out, 'Z', sizeof out);
	hubsig_compute(v->secret, strlen(v->secret), v->body, strlen(v->body),
	    out);
	ck_assert_str_eq(out, v->header);
	ck_assert_int_eq(out[HUBSIG_HEADER_LEN + 1], 'Z');	/* no overrun */
	ck_assert_int_eq(verify(v->secret, v->body, v->header), 1);
}
END_TEST

START_TEST(test_h1_lengths)
{
	/* H1 as the reference states it: 26-byte secret, 13-byte body. */
	ck_assert_uint_eq(strlen(H1_SECRET), 26);
	ck_assert_uint_eq(strlen(H1_BODY), 13);
	ck_assert_int_eq(hubsig_verify(H1_SECRET, 26, H1_BODY, 13, H1_HEADER),
	    1);
	/* H5: a trailing newline is a different body. */
	ck_assert_int_eq(verify(H1_SECRET, H1_BODY "\n", H1_HEADER), 0);
	/* Lengths are honoured, not strlen: a shorter body or secret fails. */
	ck_assert_int_eq(hubsig_verify(H1_SECRET, 26, H1_BODY, 12, H1_HEADER),
	    0);
	ck_assert_int_eq(hubsig_verify(H1_SECRET, 25, H1_BODY, 13, H1_HEADER),
	    0);
}
END_TEST

START_TEST(test_binary_secret_and_body)
{
	/* NUL bytes inside the secret and body count. */
	static const char secret[] = { 'a', '\0', 'b' };
	static const char body[] = { 'x', '\0', 'y', '\0' };
	char with[HUBSIG_HEADER_LEN + 1], cut[HUBSIG_HEADER_LEN + 1];

	hubsig_compute(secret, sizeof secret, body, sizeof body, with);
	hubsig_compute(secret, 1, body, 1, cut);
	ck_assert_str_ne(with, cut);
	ck_assert_int_eq(hubsig_verify(secret, sizeof secret, body, sizeof body,
	    with), 1);
	ck_assert_int_eq(hubsig_verify(secret, sizeof secret, body, 1, with), 0);
	ck_assert_int_eq(hubsig_verify(secret, 1, body, sizeof body, with), 0);
	/* HMAC-SHA256 key "a" over "x" (openssl dgst -sha256 -hmac a). */
	ck_assert_str_eq(cut, "sha256=399b97cd540c0883ac6d1fc22d4e72f6300007cf59"
	    "54e5a1b306a9e4e02f9029");
}
END_TEST

/* ---- one bit changed ---- */

START_TEST(test_body_bit_flips)
{
	char body[] = H1_BODY;
	size_t i;
	int bit;

	for (i = 0; i < sizeof body - 1; i++)
		for (bit = 0; bit < 8; bit++) {
			body[i] ^= (char)(1 << bit);
			ck_assert_msg(hubsig_verify(H1_SECRET, 26, body, 13,
			    H1_HEADER) == 0, "body byte %zu bit %d", i, bit);
			body[i] ^= (char)(1 << bit);
		}
	ck_assert_int_eq(hubsig_verify(H1_SECRET, 26, body, 13, H1_HEADER), 1);
}
END_TEST

START_TEST(test_secret_bit_flips)
{
	char secret[] = H1_SECRET;
	size_t i;
	int bit;

	for (i = 0; i < sizeof secret - 1; i++)
		for (bit = 0; bit < 8; bit++) {
			secret[i] ^= (char)(1 << bit);
			ck_assert_msg(hubsig_verify(secret, 26, H1_BODY, 13,
			    H1_HEADER) == 0, "secret byte %zu bit %d", i, bit);
			secret[i] ^= (char)(1 << bit);
		}
	ck_assert_int_eq(hubsig_verify(secret, 26, H1_BODY, 13, H1_HEADER), 1);
}
END_TEST

START_TEST(test_header_bit_flips)
{
	char header[] = H1_HEADER;
	size_t i;
	int bit;

	for (i = 0; i < sizeof header - 1; i++)
		for (bit = 0; bit < 7; bit++) {	/* bit 7 stays ASCII */
			header[i] ^= (char)(1 << bit);
			ck_assert_msg(verify(H1_SECRET, H1_BODY, header) == 0,
			    "header byte %zu bit %d: \"%s\"", i, bit, header);
			header[i] ^= (char)(1 << bit);
		}
	ck_assert_int_eq(verify(H1_SECRET, H1_BODY, header), 1);
}
END_TEST

/* ---- malformed headers ---- */

static const char *const bad_headers[] = {
	/* Edge values first. */
	"",
	"sha256=",
	"=" H1_HEX,
	H1_HEX,					/* no prefix */
	/* One character short or long. */
	"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
	H1_HEADER "7",
	H1_HEADER "\n",
	H1_HEADER " ",
	" " H1_HEADER,
	"sha256=0" H1_HEX,
	/* Uppercase: exact string compare, as GitHub's examples do (H6). */
	"SHA256=" H1_HEX,
	"sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17",
	"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1F",
	/* The legacy SHA-1 header (H2), and sha1= padded to the right length. */
	"sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
	"sha1=00" H1_HEX,
	"sha512=" H1_HEX,
	"sha256:" H1_HEX,
	"sha256 " H1_HEX,
	/* All zeros, of the right length. */
	"sha256=0000000000000000000000000000000000000000000000000000000000000000",
};

START_TEST(test_bad_headers)
{
	const char *h = bad_headers[_i];

	ck_assert_msg(verify(H1_SECRET, H1_BODY, h) == 0, "accepted \"%s\"", h);
}
END_TEST

START_TEST(test_missing_header)
{
	ck_assert_int_eq(verify(H1_SECRET, H1_BODY, NULL), 0);
	ck_assert_int_eq(hubsig_verify("", 0, "", 0, NULL), 0);
}
END_TEST

START_TEST(test_embedded_nul_header)
{
	/* A NUL inside the header ends it: too short, rejected. */
	char header[] = H1_HEADER;

	header[40] = '\0';
	ck_assert_int_eq(verify(H1_SECRET, H1_BODY, header), 0);
}
END_TEST

static Suite *
hubsig_suite(void)
{
	Suite *s = suite_create("hubsig");
	TCase *tc;

	tc = tcase_create("vectors");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_loop_test(tc, test_vectors, 0, (int)nitems(sig_vecs));
	tcase_add_test(tc, test_h1_lengths);
	tcase_add_test(tc, test_binary_secret_and_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("tamper");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_test(tc, test_body_bit_flips);
	tcase_add_test(tc, test_secret_bit_flips);
	tcase_add_test(tc, test_header_bit_flips);
	suite_add_tcase(s, tc);

	tc = tcase_create("headers");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_loop_test(tc, test_bad_headers, 0, (int)nitems(bad_headers));
	tcase_add_test(tc, test_missing_header);
	tcase_add_test(tc, test_embedded_nul_header);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hubsig_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
