/*
 * Unit tests for common/sha256 (and util's random_bytes): the FIPS 180-4
 * and RFC 4231 vectors, agreement with OpenSSL on random inputs split at
 * random points, and the reason the module exists: hashing, HMAC, random
 * bytes and a webhook signature never make OpenSSL allocate (its first
 * EVP call loads the providers: 1.9 MiB resident in kilnd).
 */
#include <sys/wait.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hubsig.h"
#include "sha256.h"
#include "util.h"

static void
hex(const unsigned char *md, char out[2 * SHA256_LEN + 1])
{
	hex_encode(md, SHA256_LEN, out);
}

struct digest_vec {
	const char	*msg;
	const char	*hex;
};

static const struct digest_vec digest_vecs[] = {
	{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
	  "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
};

START_TEST(test_digest_vectors)
{
	const struct digest_vec *v = &digest_vecs[_i];
	unsigned char md[SHA256_LEN];
	char out[2 * SHA256_LEN + 1];

	sha256_digest(v->msg, strlen(v->msg), md);
	hex(md, out);
	ck_assert_str_eq(out, v->hex);
}
END_TEST

/* A million 'a's, fed in pieces that straddle the 64-byte blocks. */
START_TEST(test_million_a)
{
	struct sha256_ctx c;
	unsigned char md[SHA256_LEN], a[1000];
	char out[2 * SHA256_LEN + 1];
	int i;

	memset(a, 'a', sizeof a);
	sha256_init(&c);
	for (i = 0; i < 1000; i++)
		sha256_update(&c, a, sizeof a);
	sha256_final(&c, md);
	hex(md, out);
	ck_assert_str_eq(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a4972"
	    "00e046d39ccc7112cd0");
}
END_TEST

struct hmac_vec {
	unsigned char	 key_byte;	/* repeated key_len times, or ... */
	const char	*key;		/* ... this, when set */
	size_t		 key_len;
	unsigned char	 msg_byte;
	const char	*msg;
	size_t		 msg_len;
	const char	*hex;
};

/* RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (5 is a truncated MAC). */
static const struct hmac_vec hmac_vecs[] = {
	{ 0x0b, NULL, 20, 0, "Hi There", 8,
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ 0, "Jefe", 4, 0, "what do ya want for nothing?", 28,
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ 0xaa, NULL, 20, 0xdd, NULL, 50,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ 0, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
	  "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19", 25, 0xcd, NULL, 50,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	{ 0xaa, NULL, 131, 0,
	  "Test Using Larger Than Block-Size Key - Hash Key First", 54,
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ 0xaa, NULL, 131, 0,
	  "This is a test using a larger than block-size key and a larger "
	  "than block-size data. The key needs to be hashed before being "
	  "used by the HMAC algorithm.", 152,
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

START_TEST(test_hmac_vectors)
{
	const struct hmac_vec *v = &hmac_vecs[_i];
	unsigned char key[256], msg[256], md[SHA256_LEN];
	char out[2 * SHA256_LEN + 1];

	if (v->key != NULL)
		memcpy(key, v->key, v->key_len);
	else
		memset(key, v->key_byte, v->key_len);
	if (v->msg != NULL)
		memcpy(msg, v->msg, v->msg_len);
	else
		memset(msg, v->msg_byte, v->msg_len);
	sha256_hmac(key, v->key_len, msg, v->msg_len, md);
	hex(md, out);
	ck_assert_str_eq(out, v->hex);
}
END_TEST

/*
 * Lengths around every padding boundary (55, 56, 63, 64 ...) and keys
 * around the block size, fed in two updates split anywhere; OpenSSL's
 * answer is the reference.  Deterministic (fixed seed).
 */
START_TEST(test_agrees_with_openssl)
{
	unsigned char data[300], key[200], ours[SHA256_LEN],
	    theirs[EVP_MAX_MD_SIZE];
	unsigned int theirs_len;
	struct sha256_ctx c;
	size_t len, cut, klen;
	unsigned seed = 13;
	int round;

	for (len = 0; len < sizeof data; len++)
		data[len] = (unsigned char)rand_r(&seed);
	for (len = 0; len < sizeof key; len++)
		key[len] = (unsigned char)rand_r(&seed);
	for (round = 0; round < 2000; round++) {
		len = (size_t)rand_r(&seed) % (sizeof data + 1);
		cut = len == 0 ? 0 : (size_t)rand_r(&seed) % (len + 1);
		klen = (size_t)rand_r(&seed) % (sizeof key + 1);
		sha256_init(&c);
		sha256_update(&c, data, cut);
		sha256_update(&c, data + cut, len - cut);
		sha256_final(&c, ours);
		ck_assert(EVP_Digest(data, len, theirs, &theirs_len,
		    EVP_sha256(), NULL) == 1);
		ck_assert_msg(memcmp(ours, theirs, SHA256_LEN) == 0,
		    "digest of %zu bytes (cut at %zu) differs", len, cut);
		sha256_hmac(key, klen, data, len, ours);
		ck_assert(HMAC(EVP_sha256(), key, (int)klen, data, len, theirs,
		    &theirs_len) != NULL);
		ck_assert_msg(memcmp(ours, theirs, SHA256_LEN) == 0,
		    "HMAC of %zu bytes with a %zu-byte key differs", len,
		    klen);
	}
}
END_TEST

START_TEST(test_random_bytes)
{
	unsigned char a[4096], b[4096];

	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	ck_assert_int_eq(random_bytes(a, sizeof a), 0);
	ck_assert_int_eq(random_bytes(b, sizeof b), 0);
	ck_assert(memcmp(a, b, sizeof a) != 0);
	ck_assert_int_eq(random_bytes(a, 0), 0);
}
END_TEST

static size_t crypto_allocs;

static void *
counting_malloc(size_t n, const char *file, int line)
{
	crypto_allocs++;
	return malloc(n);
}

static void *
counting_realloc(void *p, size_t n, const char *file, int line)
{
	crypto_allocs++;
	return realloc(p, n);
}

static void
counting_free(void *p, const char *file, int line)
{
	free(p);
}

/*
 * In a fresh child (OpenSSL has allocated nothing there yet, so its
 * allocator can still be replaced): the allocations OpenSSL makes during
 * our hashing, and then during one EVP digest -- the control that shows
 * provider loading is visible this way.  Exit status: 0 ok, 1 ours
 * allocated, 2 the control did not, 3 the allocator was not replaceable.
 */
static int
child_counts(void)
{
	unsigned char md[SHA256_LEN], evp[EVP_MAX_MD_SIZE], rnd[32];
	char sig[HUBSIG_HEADER_LEN + 1];
	unsigned int evp_len;

	if (CRYPTO_set_mem_functions(counting_malloc, counting_realloc,
	    counting_free) != 1)
		return 3;
	sha256_digest("body", 4, md);
	sha256_hmac("key", 3, "body", 4, md);
	hubsig_compute("secret", 6, "{}", 2, sig);
	(void)hubsig_verify("secret", 6, "{}", 2, sig);
	if (random_bytes(rnd, sizeof rnd) == -1)
		return 1;
	OPENSSL_cleanse(rnd, sizeof rnd);
	if (crypto_allocs != 0)
		return 1;
	EVP_Digest("body", 4, evp, &evp_len, EVP_sha256(), NULL);
	return crypto_allocs > 10 ? 0 : 2;
}

START_TEST(test_openssl_allocates_nothing)
{
	pid_t pid;
	int status;

	pid = fork();
	ck_assert(pid != -1);
	if (pid == 0)
		_exit(child_counts());
	ck_assert(waitpid(pid, &status, 0) == pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) != 1,
	    "OpenSSL allocated while we hashed: its providers were loaded");
	ck_assert_msg(WEXITSTATUS(status) != 2,
	    "an EVP digest allocated nothing: the check cannot see loading");
	ck_assert_msg(WEXITSTATUS(status) != 3,
	    "OpenSSL had allocated before the test: nothing to observe");
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static Suite *
sha256_suite(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("sha256");

	/* First: in no-fork mode nothing else has touched OpenSSL yet. */
	tcase_add_test(tc, test_openssl_allocates_nothing);
	tcase_add_loop_test(tc, test_digest_vectors, 0,
	    (int)(sizeof digest_vecs / sizeof digest_vecs[0]));
	tcase_add_test(tc, test_million_a);
	tcase_add_loop_test(tc, test_hmac_vectors, 0,
	    (int)(sizeof hmac_vecs / sizeof hmac_vecs[0]));
	tcase_add_test(tc, test_agrees_with_openssl);
	tcase_add_test(tc, test_random_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sha256_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
