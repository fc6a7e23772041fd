/*
 * Unit tests for common/secretbox: round trips at the edge sizes, every
 * byte of a sealed value flipped fails to open, a wrong key or a wrong aad
 * fails, malformed texts are refused, and the key file rules (created 0600,
 * group/other modes refused, wrong sizes refused).
 */
#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "harness.h"
#include "secretbox.h"
#include "util.h"

static const unsigned char key1[SECRETBOX_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char key2[SECRETBOX_KEY_LEN] = "0123456789abcdef0123456789abcdX";

static const size_t sizes[] = { 0, 1, 2, 3, 15, 16, 17, 4096,
    SECRETBOX_MAX_PLAIN };

START_TEST(test_round_trip)
{
	size_t	 len = sizes[_i], got_len;
	char	*plain = xmalloc(len + 1), *sealed, *again, *got;
	char	 err[256];

	for (size_t i = 0; i < len; i++)
		plain[i] = (char)(i * 7 + 1);	/* includes NUL bytes */
	sealed = secretbox_seal(key1, plain, len, "repo 1 secret A", err,
	    sizeof err);
	ck_assert_msg(sealed != NULL, "%s", err);
	ck_assert(str_has_prefix(sealed, SECRETBOX_PREFIX));
	ck_assert_int_eq(secretbox_open(key1, sealed, "repo 1 secret A", &got,
	    &got_len, err, sizeof err), 0);
	ck_assert_uint_eq(got_len, len);
	ck_assert_int_eq(memcmp(got, plain, len), 0);
	ck_assert_int_eq(got[len], '\0');
	/* A fresh nonce each time: the same value seals differently. */
	again = secretbox_seal(key1, plain, len, "repo 1 secret A", err,
	    sizeof err);
	ck_assert_str_ne(again, sealed);
	secretbox_free(got, got_len);
	free(again);
	free(sealed);
	free(plain);
}
END_TEST

START_TEST(test_no_plaintext_in_sealed)
{
	const char	*v = "hunter2-hunter2-hunter2";
	char		 err[256], *sealed;

	sealed = secretbox_seal(key1, v, strlen(v), NULL, err, sizeof err);
	ck_assert_ptr_nonnull(sealed);
	ck_assert_ptr_null(strstr(sealed, "hunter2"));
	free(sealed);
}
END_TEST

START_TEST(test_over_limit_refused)
{
	char	 err[256];
	char	*big = xcalloc(1, SECRETBOX_MAX_PLAIN + 1);

	ck_assert_ptr_null(secretbox_seal(key1, big, SECRETBOX_MAX_PLAIN + 1,
	    NULL, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "limit"));
	free(big);
}
END_TEST

/* Flipping any bit of the decoded bytes (nonce, ciphertext, tag) fails. */
START_TEST(test_tamper_every_byte)
{
	const char	*v = "a secret";
	char		 err[256], *sealed, *got, forged[128];
	unsigned char	 raw[96];
	size_t		 got_len, pfx = strlen(SECRETBOX_PREFIX), b64len;
	int		 rawlen;

	sealed = secretbox_seal(key1, v, strlen(v), NULL, err, sizeof err);
	ck_assert_ptr_nonnull(sealed);
	b64len = strlen(sealed + pfx);
	rawlen = EVP_DecodeBlock(raw, (unsigned char *)sealed + pfx,
	    (int)b64len);
	/* 12 + 8 + 16 = 36 bytes: no padding. */
	ck_assert_int_eq(rawlen, SECRETBOX_NONCE_LEN + 8 + SECRETBOX_TAG_LEN);
	for (int i = 0; i < rawlen; i++) {
		for (int bit = 0; bit < 8; bit++) {
			raw[i] ^= (unsigned char)(1 << bit);
			memcpy(forged, SECRETBOX_PREFIX, pfx);
			EVP_EncodeBlock((unsigned char *)forged + pfx, raw,
			    rawlen);
			ck_assert_int_eq(secretbox_open(key1, forged, NULL, &got,
			    &got_len, err, sizeof err), -1);
			ck_assert_ptr_null(got);
			raw[i] ^= (unsigned char)(1 << bit);
		}
	}
	/* Unchanged, it still opens. */
	ck_assert_int_eq(secretbox_open(key1, sealed, NULL, &got, &got_len, err,
	    sizeof err), 0);
	ck_assert_str_eq(got, v);
	secretbox_free(got, got_len);
	free(sealed);
}
END_TEST

START_TEST(test_wrong_key_and_aad)
{
	const char	*v = "s3cr3t-v";
	char		 err[256], *sealed, *got;
	size_t		 got_len;

	sealed = secretbox_seal(key1, v, strlen(v), "repo 1 secret A", err,
	    sizeof err);
	ck_assert_ptr_nonnull(sealed);
	ck_assert_int_eq(secretbox_open(key2, sealed, "repo 1 secret A", &got,
	    &got_len, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "wrong key"));
	ck_assert_ptr_null(strstr(err, v));
	ck_assert_int_eq(secretbox_open(key1, sealed, "repo 2 secret A", &got,
	    &got_len, err, sizeof err), -1);
	ck_assert_int_eq(secretbox_open(key1, sealed, NULL, &got, &got_len, err,
	    sizeof err), -1);
	free(sealed);
}
END_TEST

static const char *malformed[] = {
	"",
	"v1:",
	"v2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"v1:AAA",
	"v1:AAAA",				/* shorter than nonce + tag */
	"v1:!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
	"v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",	/* no tag match */
};

START_TEST(test_malformed_refused)
{
	char	 err[256], *got = (char *)1;
	size_t	 got_len = 9;

	ck_assert_int_eq(secretbox_open(key1, malformed[_i], NULL, &got,
	    &got_len, err, sizeof err), -1);
	ck_assert_ptr_null(got);
	ck_assert_uint_eq(got_len, 0);
	ck_assert(err[0] != '\0');
}
END_TEST

/* ---- key files ---- */

static char *
tmpdir(void)
{
	char	*d = xstrdup("/tmp/kiln-secretbox-XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

START_TEST(test_key_created_0600_and_stable)
{
	unsigned char	 k1[SECRETBOX_KEY_LEN], k2[SECRETBOX_KEY_LEN];
	char		 err[512], *d = tmpdir(), *path;
	struct stat	 st;

	path = xasprintf("%s/secret.key", d);
	/* Absent and not asked to create: refused, naming the file. */
	ck_assert_int_eq(secretbox_key_load(path, 0, k1, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_int_eq(secretbox_key_load(path, 1, k1, err, sizeof err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, SECRETBOX_KEY_LEN);
	/* Loaded again (create or not): the same key. */
	ck_assert_int_eq(secretbox_key_load(path, 1, k2, err, sizeof err), 0);
	ck_assert_int_eq(memcmp(k1, k2, sizeof k1), 0);
	ck_assert_int_eq(secretbox_key_load(path, 0, k2, err, sizeof err), 0);
	ck_assert_int_eq(memcmp(k1, k2, sizeof k1), 0);
	free(path);
	ck_assert_int_eq(harness_rm_rf(d), 0);
	free(d);
}
END_TEST

static const unsigned bad_modes[] = { 0640, 0604, 0644, 0660, 0602, 0620 };

START_TEST(test_key_group_other_refused)
{
	unsigned char	 k[SECRETBOX_KEY_LEN];
	char		 err[512], *d = tmpdir(), *path;

	path = xasprintf("%s/secret.key", d);
	ck_assert_int_eq(secretbox_key_load(path, 1, k, err, sizeof err), 0);
	ck_assert_int_eq(chmod(path, bad_modes[_i]), 0);
	ck_assert_int_eq(secretbox_key_load(path, 1, k, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "group or others"));
	ck_assert_int_eq(chmod(path, 0400), 0);
	ck_assert_int_eq(secretbox_key_load(path, 0, k, err, sizeof err), 0);
	free(path);
	ck_assert_int_eq(harness_rm_rf(d), 0);
	free(d);
}
END_TEST

START_TEST(test_key_wrong_size_refused)
{
	unsigned char	 k[SECRETBOX_KEY_LEN];
	char		 err[512], *d = tmpdir(), *path;
	int		 fd;

	path = xasprintf("%s/secret.key", d);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "short", 5), 5);
	close(fd);
	ck_assert_int_eq(secretbox_key_load(path, 1, k, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "5 bytes"));
	free(path);
	/* A directory is not a key file. */
	ck_assert_int_eq(secretbox_key_load(d, 0, k, err, sizeof err), -1);
	ck_assert_int_eq(harness_rm_rf(d), 0);
	free(d);
}
END_TEST

static Suite *
secretbox_suite(void)
{
	Suite *s = suite_create("secretbox");
	TCase *tc;

	tc = tcase_create("seal");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_loop_test(tc, test_round_trip, 0, (int)nitems(sizes));
	tcase_add_test(tc, test_no_plaintext_in_sealed);
	tcase_add_test(tc, test_over_limit_refused);
	tcase_add_test(tc, test_tamper_every_byte);
	tcase_add_test(tc, test_wrong_key_and_aad);
	tcase_add_loop_test(tc, test_malformed_refused, 0,
	    (int)nitems(malformed));
	suite_add_tcase(s, tc);

	tc = tcase_create("key");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_test(tc, test_key_created_0600_and_stable);
	tcase_add_loop_test(tc, test_key_group_other_refused, 0,
	    (int)nitems(bad_modes));
	tcase_add_test(tc, test_key_wrong_size_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(secretbox_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
