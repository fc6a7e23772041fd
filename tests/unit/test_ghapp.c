/*
 * Unit tests for common/ghapp: the App's key file rules, the RS256 JWT
 * checked with the public half of a key made here (header, claims, a
 * signature that verifies and fails once a byte changes), the
 * access_tokens answer, the cache's 5-minute margin and a job's token
 * body from the workflow's permissions.
 */
#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "ghapp.h"
#include "util.h"

static char *
tmpdir(void)
{
	char *d = xstrdup("/tmp/kiln-ghapp-XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static EVP_PKEY *
rsa_new(int bits)
{
	EVP_PKEY *k = EVP_RSA_gen((unsigned int)bits);

	ck_assert_ptr_nonnull(k);
	return k;
}

/* Write k's private PEM to dir/name with mode; returns the path. */
static char *
key_write(const char *dir, const char *name, EVP_PKEY *k, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

/* base64url (no padding) to bytes; *lenp set. */
static unsigned char *
b64url_decode(const char *s, size_t n, size_t *lenp)
{
	size_t padded = (n + 3) / 4 * 4, i;
	char *tmp = xcalloc(1, padded + 1);
	unsigned char *out = xmalloc(padded);
	int got;

	for (i = 0; i < n; i++)
		tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	for (; i < padded; i++)
		tmp[i] = '=';
	got = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded);
	ck_assert_int_ge(got, 0);
	*lenp = (size_t)got - (padded - n);
	free(tmp);
	return out;
}

static json_t *
jwt_part(const char *s, size_t n)
{
	size_t len;
	unsigned char *raw = b64url_decode(s, n, &len);
	json_t *j = json_loadb((char *)raw, len, 0, NULL);

	ck_assert_msg(j != NULL, "JWT part is not JSON: %.*s", (int)len, raw);
	free(raw);
	return j;
}

static int
jwt_verifies(EVP_PKEY *pub, const char *jwt)
{
	const char *dot2 = strrchr(jwt, '.');
	unsigned char *sig;
	size_t siglen;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt,
	    (size_t)(dot2 - jwt)) == 1;
	EVP_MD_CTX_free(md);
	free(sig);
	return ok;
}

START_TEST(test_jwt_rs256_claims_and_signature)
{
	char err[512], *d = tmpdir(), *path, *jwt, *pempub;
	EVP_PKEY *k = rsa_new(2048), *loaded, *pub;
	const char *dot1, *dot2;
	json_t *hdr, *claims;
	BIO *bio;
	long publen;

	path = key_write(d, "app.pem", k, 0600);
	loaded = ghapp_key_load(path, err, sizeof err);
	ck_assert_msg(loaded != NULL, "%s", err);
	jwt = ghapp_jwt(loaded, "123456", 1700000000, err, sizeof err);
	ck_assert_msg(jwt != NULL, "%s", err);

	/* Three base64url parts, no padding, no + or /. */
	ck_assert_ptr_null(strpbrk(jwt, "=+/"));
	dot1 = strchr(jwt, '.');
	ck_assert_ptr_nonnull(dot1);
	dot2 = strchr(dot1 + 1, '.');
	ck_assert_ptr_nonnull(dot2);
	ck_assert_ptr_null(strchr(dot2 + 1, '.'));

	hdr = jwt_part(jwt, (size_t)(dot1 - jwt));
	ck_assert_str_eq(json_string_value(json_object_get(hdr, "alg")),
	    "RS256");
	ck_assert_str_eq(json_string_value(json_object_get(hdr, "typ")),
	    "JWT");
	claims = jwt_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	ck_assert_int_eq(json_integer_value(json_object_get(claims, "iat")),
	    1700000000 - 60);
	ck_assert_int_eq(json_integer_value(json_object_get(claims, "exp")),
	    1700000000 + 540);
	/* GitHub: exp at most 10 minutes after iat. */
	ck_assert_int_le(json_integer_value(json_object_get(claims, "exp")) -
	    json_integer_value(json_object_get(claims, "iat")), 600);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "iss")),
	    "123456");

	/* The public half alone, as GitHub holds it. */
	bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, k), 1);
	publen = BIO_get_mem_data(bio, &pempub);
	ck_assert_int_gt(publen, 0);
	pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(pub);
	ck_assert_msg(jwt_verifies(pub, jwt), "JWT does not verify");

	/* A changed claim no longer verifies. */
	{
		char *bad = xstrdup(jwt);

		bad[dot1 - jwt + 3] ^= 1;
		ck_assert(!jwt_verifies(pub, bad));
		free(bad);
	}
	/* Another key's signature does not verify either. */
	{
		EVP_PKEY *other = rsa_new(2048);
		char *jwt2 = ghapp_jwt(other, "123456", 1700000000, err,
		    sizeof err);

		ck_assert_ptr_nonnull(jwt2);
		ck_assert(!jwt_verifies(pub, jwt2));
		free(jwt2);
		EVP_PKEY_free(other);
	}
	ck_assert_ptr_null(ghapp_jwt(loaded, "12a", 1, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "12a"));
	ck_assert_ptr_null(ghapp_jwt(loaded, "", 1, err, sizeof err));

	BIO_free(bio);
	json_decref(hdr);
	json_decref(claims);
	free(jwt);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(loaded);
	EVP_PKEY_free(k);
	unlink(path);
	free(path);
	rmdir(d);
	free(d);
}
END_TEST

static const mode_t bad_modes[] = { 0640, 0604, 0644, 0660, 0610 };

START_TEST(test_key_readable_by_others_refused)
{
	char err[512], *d = tmpdir(), *path;
	EVP_PKEY *k = rsa_new(2048);

	path = key_write(d, "app.pem", k, bad_modes[_i]);
	ck_assert_ptr_null(ghapp_key_load(path, err, sizeof err));
	ck_assert_msg(strstr(err, path) != NULL && strstr(err, "chmod 600"),
	    "%s", err);
	/* The same file with 0400 is fine. */
	ck_assert_int_eq(chmod(path, 0400), 0);
	EVP_PKEY_free(ghapp_key_load(path, err, sizeof err));
	EVP_PKEY_free(k);
	unlink(path);
	free(path);
	rmdir(d);
	free(d);
}
END_TEST

START_TEST(test_key_not_rsa_small_or_garbage_refused)
{
	char err[512], *d = tmpdir(), *path, *junk;
	EVP_PKEY *small = rsa_new(1024), *ec;
	int fd;

	path = key_write(d, "small.pem", small, 0600);
	ck_assert_ptr_null(ghapp_key_load(path, err, sizeof err));
	ck_assert_msg(strstr(err, "1024 bits") != NULL, "%s", err);
	unlink(path);
	free(path);

	ec = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(ec);
	path = key_write(d, "ec.pem", ec, 0600);
	ck_assert_ptr_null(ghapp_key_load(path, err, sizeof err));
	ck_assert_msg(strstr(err, "RSA") != NULL, "%s", err);
	unlink(path);
	free(path);

	path = xasprintf("%s/junk.pem", d);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "not a key\n", 10), 10);
	close(fd);
	ck_assert_ptr_null(ghapp_key_load(path, err, sizeof err));
	ck_assert_msg(strstr(err, "not a PEM") != NULL, "%s", err);
	unlink(path);

	/* Larger than the cap. */
	junk = xmalloc(GHAPP_MAX_KEY_FILE + 1);
	memset(junk, 'A', GHAPP_MAX_KEY_FILE + 1);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_eq(write(fd, junk, GHAPP_MAX_KEY_FILE + 1),
	    GHAPP_MAX_KEY_FILE + 1);
	close(fd);
	ck_assert_ptr_null(ghapp_key_load(path, err, sizeof err));
	ck_assert_msg(strstr(err, "at most") != NULL, "%s", err);
	unlink(path);
	free(path);
	free(junk);

	ck_assert_ptr_null(ghapp_key_load("/nonexistent/app.pem", err,
	    sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/app.pem"));
	ck_assert_ptr_null(ghapp_key_load(d, err, sizeof err));
	EVP_PKEY_free(small);
	EVP_PKEY_free(ec);
	rmdir(d);
	free(d);
}
END_TEST

START_TEST(test_token_answer_parsed_and_bounded)
{
	char err[256], *tok = NULL, *big, *body;
	int64_t exp = 0;
	const char *ok = "{\"token\":\"ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	    "\",\"expires_at\":\"2016-07-11T22:14:10Z\",\"permissions\":"
	    "{\"contents\":\"read\"}}";

	ck_assert_int_eq(ghapp_token_parse(ok, strlen(ok), &tok, &exp, err,
	    sizeof err), 0);
	ck_assert_str_eq(tok, "ghs_16C7e42F292c6912E7710c838347Ae178B4a");
	ck_assert_int_eq(exp, 1468275250);
	free(tok);

#define REFUSED(s, what) do {						\
	ck_assert_int_eq(ghapp_token_parse(s, strlen(s), &tok, &exp, err,	\
	    sizeof err), -1);						\
	ck_assert_msg(strstr(err, what) != NULL, "%s: %s", s, err);	\
} while (0)
	REFUSED("{", "not JSON");
	REFUSED("{\"token\":\"x\"}", "lacks");
	REFUSED("{\"token\":\"\",\"expires_at\":\"2016-07-11T22:14:10Z\"}",
	    "0 bytes");
	REFUSED("{\"token\":\"a\\r\\nX-Evil: 1\",\"expires_at\":"
	    "\"2016-07-11T22:14:10Z\"}", "0x0d");
	REFUSED("{\"token\":\"a\",\"expires_at\":\"2016-07-11 22:14:10\"}",
	    "expires_at");
	REFUSED("{\"token\":\"a\",\"expires_at\":\"2016-07-11T22:14:10Zjunk\"}",
	    "expires_at");
	REFUSED("{\"token\":\"a\",\"expires_at\":\"2016-13-11T22:14:10Z\"}",
	    "expires_at");
#undef REFUSED
	big = xmalloc(GHAPP_MAX_TOKEN + 2);
	memset(big, 'a', GHAPP_MAX_TOKEN + 1);
	big[GHAPP_MAX_TOKEN + 1] = '\0';
	body = xasprintf("{\"token\":\"%s\",\"expires_at\":"
	    "\"2016-07-11T22:14:10Z\"}", big);
	ck_assert_int_eq(ghapp_token_parse(body, strlen(body), &tok, &exp,
	    err, sizeof err), -1);
	free(body);
	free(big);
	ck_assert_int_eq(ghapp_token_parse(ok, GHAPP_MAX_ANSWER + 1, &tok,
	    &exp, err, sizeof err), -1);
}
END_TEST

START_TEST(test_cache_renews_five_minutes_before_expiry)
{
	struct ghapp_cache *c = ghapp_cache_new();
	const int64_t t0 = 1700000000, exp = t0 + 3600;

	ck_assert_ptr_null(ghapp_cache_get(c, 7, t0));
	ghapp_cache_put(c, 7, "tok-7", exp);
	ghapp_cache_put(c, 8, "tok-8", exp + 60);
	ck_assert_str_eq(ghapp_cache_get(c, 7, t0), "tok-7");
	ck_assert_str_eq(ghapp_cache_get(c, 8, t0), "tok-8");
	/* Still good 301 s before expiry, not at 300. */
	ck_assert_str_eq(ghapp_cache_get(c, 7, exp - 301), "tok-7");
	ck_assert_ptr_null(ghapp_cache_get(c, 7, exp - 300));
	/* Gone once stale; the other installation's is kept. */
	ck_assert_ptr_null(ghapp_cache_get(c, 7, t0));
	ck_assert_str_eq(ghapp_cache_get(c, 8, exp - 300), "tok-8");
	/* A renewal replaces. */
	ghapp_cache_put(c, 8, "tok-8b", exp + 3600);
	ck_assert_str_eq(ghapp_cache_get(c, 8, exp), "tok-8b");
	ck_assert(ghapp_token_fresh(1000, 699));
	ck_assert(!ghapp_token_fresh(1000, 700));
	ghapp_cache_free(c);
}
END_TEST

static const struct {
	const char	*permissions;	/* JSON, or NULL: absent */
	int		 read_only;
	const char	*want;		/* the body, or NULL: refused */
} bodies[] = {
	{ NULL, 0, "{\"permissions\":{\"contents\":\"read\",\"metadata\":"
	    "\"read\"},\"repositories\":[\"repo\"]}" },
	{ "{}", 0, "{\"permissions\":{\"metadata\":\"read\"},"
	    "\"repositories\":[\"repo\"]}" },
	{ "{\"contents\":\"write\"}", 0, "{\"permissions\":{\"contents\":"
	    "\"write\",\"metadata\":\"read\"},\"repositories\":[\"repo\"]}" },
	{ "{\"contents\":\"write\",\"pull-requests\":\"write\",\"issues\":"
	    "\"none\",\"id-token\":\"write\"}", 0, "{\"permissions\":"
	    "{\"contents\":\"write\",\"metadata\":\"read\",\"pull_requests\":"
	    "\"write\"},\"repositories\":[\"repo\"]}" },
	/* A fork's pull request: nothing above read. */
	{ "{\"contents\":\"write\",\"statuses\":\"read\"}", 1,
	    "{\"permissions\":{\"contents\":\"read\",\"metadata\":\"read\","
	    "\"statuses\":\"read\"},\"repositories\":[\"repo\"]}" },
	{ "\"bogus\"", 0, NULL },
	{ "{\"contents\":\"admin\"}", 0, NULL },
	{ "{\"nosuch\":\"read\"}", 0, NULL },
	{ "[]", 0, NULL },
};

START_TEST(test_job_token_body_from_permissions)
{
	json_t *p = NULL;
	char err[256], *got;

	if (bodies[_i].permissions != NULL) {
		p = json_loads(bodies[_i].permissions, JSON_DECODE_ANY, NULL);
		ck_assert_ptr_nonnull(p);
	}
	got = ghapp_job_token_body("octo/repo", p, bodies[_i].read_only, err,
	    sizeof err);
	if (bodies[_i].want == NULL)
		ck_assert_msg(got == NULL, "%s accepted: %s",
		    bodies[_i].permissions, got);
	else {
		ck_assert_msg(got != NULL, "%s", err);
		ck_assert_str_eq(got, bodies[_i].want);
	}
	free(got);
	json_decref(p);
}
END_TEST

START_TEST(test_job_token_body_all_and_bad_repo)
{
	json_t *p = json_string("write-all"), *b, *perms;
	char err[256], *got;

	got = ghapp_job_token_body("octo/repo", p, 0, err, sizeof err);
	ck_assert_ptr_nonnull(got);
	b = json_loads(got, 0, NULL);
	perms = json_object_get(b, "permissions");
	ck_assert_str_eq(json_string_value(json_object_get(perms,
	    "pull_requests")), "write");
	ck_assert_str_eq(json_string_value(json_object_get(perms,
	    "metadata")), "read");
	ck_assert_ptr_null(json_object_get(perms, "id-token"));
	ck_assert_int_eq(json_object_size(perms), 14);
	json_decref(b);
	free(got);
	json_decref(p);

	p = json_string("read-all");
	got = ghapp_job_token_body("octo/repo", p, 0, err, sizeof err);
	ck_assert_ptr_null(strstr(got, "write"));
	free(got);
	json_decref(p);

	ck_assert_ptr_null(ghapp_job_token_body("noslash", NULL, 0, err,
	    sizeof err));
	ck_assert_ptr_null(ghapp_job_token_body("a/b/c", NULL, 0, err,
	    sizeof err));
	ck_assert_ptr_null(ghapp_job_token_body("a/", NULL, 0, err,
	    sizeof err));
}
END_TEST

static Suite *
ghapp_suite(void)
{
	Suite *s = suite_create("ghapp");
	TCase *tc;

	tc = tcase_create("key");
	tcase_set_timeout(tc, 120);	/* RSA keys, ASan, a busy 2-core box */
	tcase_add_test(tc, test_jwt_rs256_claims_and_signature);
	tcase_add_loop_test(tc, test_key_readable_by_others_refused, 0,
	    (int)nitems(bad_modes));
	tcase_add_test(tc, test_key_not_rsa_small_or_garbage_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("token");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_token_answer_parsed_and_bounded);
	tcase_add_test(tc, test_cache_renews_five_minutes_before_expiry);
	tcase_add_loop_test(tc, test_job_token_body_from_permissions, 0,
	    (int)nitems(bodies));
	tcase_add_test(tc, test_job_token_body_all_and_bad_repo);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ghapp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
