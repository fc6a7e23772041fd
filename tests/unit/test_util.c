/*
 * Unit tests for common/util: xasprintf, struct buf, parse_int64, hex_encode,
 * prefix/suffix, file_read_all, mkdir_p and now_ms.  Edge values first.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "harness.h"

/* ---- a per-test temporary directory ---- */

static char tmpdir[64];

static void
tmp_setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln-test-util.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
	if (harness_rm_rf(tmpdir) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static char *
tmp_path(const char *leaf)
{
	return xasprintf("%s/%s", tmpdir, leaf);
}

static void
write_bytes(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	ck_assert_int_eq(close(fd), 0);
}

/* ---- xasprintf ---- */

START_TEST(test_xasprintf)
{
	char *s;

	s = xasprintf("%s", "");
	ck_assert_str_eq(s, "");
	free(s);
	s = xasprintf("%s-%d-%05.1f-%c", "a", -42, 3.14159, 'z');
	ck_assert_str_eq(s, "a--42-003.1-z");
	free(s);
	s = xasprintf("%lld", (long long)INT64_MIN);
	ck_assert_str_eq(s, "-9223372036854775808");
	free(s);
	/* Longer than any small internal buffer. */
	s = xasprintf("%5000s|", "x");
	ck_assert_uint_eq(strlen(s), 5001);
	ck_assert_int_eq(s[4999], 'x');
	ck_assert_int_eq(s[5000], '|');
	ck_assert_int_eq(s[0], ' ');
	free(s);
}
END_TEST

START_TEST(test_xstrndup)
{
	char *s;

	s = xstrndup("abc", 0);
	ck_assert_str_eq(s, "");
	free(s);
	s = xstrndup("abc", 2);
	ck_assert_str_eq(s, "ab");
	free(s);
	s = xstrndup("abc", 100);
	ck_assert_str_eq(s, "abc");
	free(s);
}
END_TEST

/* ---- struct buf ---- */

START_TEST(test_buf_empty)
{
	struct buf b = { 0 };
	char *p;

	/* Adding nothing still yields a valid empty C string. */
	buf_add(&b, "", 0);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	buf_clear(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);

	/* buf_clear and buf_free on a never-used buffer. */
	buf_clear(&b);
	ck_assert_ptr_null(b.data);
	buf_free(&b);

	/* Stealing from a never-used buffer gives "", not NULL. */
	p = buf_steal(&b);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p, "");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	free(p);
}
END_TEST

START_TEST(test_buf_growth)
{
	struct buf b = { 0 };
	char *expect;
	size_t i, n = 0, total = 0;

	/* Appends of every size from 0 to 299, each chunk a distinct pattern. */
	for (i = 0; i < 300; i++)
		total += i;
	total += 5000;		/* buf_add_char below */
	expect = xmalloc(total + 1);
	for (i = 0; i < 300; i++) {
		char chunk[300];
		size_t j;

		for (j = 0; j < i; j++)
			chunk[j] = (char)('A' + (i + j) % 26);
		memcpy(expect + n, chunk, i);
		n += i;
		buf_add(&b, chunk, i);
		ck_assert_uint_eq(b.len, n);
		ck_assert_uint_gt(b.cap, b.len);
		ck_assert_int_eq(b.data[b.len], '\0');
	}
	for (i = 0; i < 5000; i++) {
		char c = (char)('0' + i % 10);

		expect[n++] = c;
		buf_add_char(&b, c);
	}
	expect[n] = '\0';
	ck_assert_uint_eq(n, total);
	ck_assert_uint_eq(b.len, total);
	ck_assert_int_eq(memcmp(b.data, expect, total + 1), 0);
	free(expect);
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_binary)
{
	struct buf b = { 0 };
	static const char bin[] = { 'a', '\0', 'b', '\0', '\xff' };

	buf_add(&b, bin, sizeof bin);
	buf_add_str(&b, "");
	buf_add_str(&b, "cd");
	ck_assert_uint_eq(b.len, sizeof bin + 2);
	ck_assert_int_eq(memcmp(b.data, bin, sizeof bin), 0);
	ck_assert_int_eq(memcmp(b.data + sizeof bin, "cd", 3), 0);
	buf_clear(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	buf_add_str(&b, "again");
	ck_assert_str_eq(b.data, "again");
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_reserve)
{
	struct buf b = { 0 };
	char *before;

	buf_reserve(&b, 1000);
	ck_assert_uint_ge(b.cap, 1001);
	ck_assert_uint_eq(b.len, 0);
	before = b.data;
	/* Within the reservation: no reallocation. */
	buf_add(&b, "0123456789", 10);
	buf_reserve(&b, 990);
	ck_assert_ptr_eq(b.data, before);
	ck_assert_str_eq(b.data, "0123456789");
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_printf)
{
	struct buf b = { 0 };
	char big[2001];
	size_t i;

	buf_printf(&b, "%s", "");
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_str_eq(b.data, "");
	buf_printf(&b, "%d:%s", 7, "seven");
	ck_assert_str_eq(b.data, "7:seven");
	ck_assert_uint_eq(b.len, 7);
	buf_add_str(&b, "|");
	for (i = 0; i < sizeof big - 1; i++)
		big[i] = (char)('a' + i % 26);
	big[sizeof big - 1] = '\0';
	buf_printf(&b, "<%s>", big);
	ck_assert_uint_eq(b.len, 8 + 2000 + 2);
	ck_assert_int_eq(memcmp(b.data, "7:seven|<", 9), 0);
	ck_assert_int_eq(memcmp(b.data + 9, big, 2000), 0);
	ck_assert_str_eq(b.data + 9 + 2000, ">");
	/* Many small printfs across several growths. */
	buf_clear(&b);
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%03zu,", i);
	ck_assert_uint_eq(b.len, 4000);
	ck_assert_int_eq(memcmp(b.data, "000,001,002,", 12), 0);
	ck_assert_str_eq(b.data + 3992, "998,999,");
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_steal)
{
	struct buf b = { 0 };
	char *p;

	buf_add_str(&b, "hello");
	p = buf_steal(&b);
	ck_assert_str_eq(p, "hello");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	/* The buffer is reusable and independent of the stolen string. */
	buf_add_str(&b, "world");
	ck_assert_str_eq(b.data, "world");
	ck_assert_str_eq(p, "hello");
	ck_assert_ptr_ne(b.data, p);
	free(p);
	buf_free(&b);
}
END_TEST

/* ---- parse_int64 ---- */

struct int_vec {
	const char	*s;
	int64_t		 min, max;
	int		 ok;
	int64_t		 want;		/* when ok */
	const char	*err;		/* when not ok */
};

static const struct int_vec int_vecs[] = {
	/* Edge values first. */
	{ NULL, 0, 10, 0, 0, "empty" },
	{ "", 0, 10, 0, 0, "empty" },
	{ "0", 0, 0, 1, 0, NULL },
	{ "-0", 0, 0, 1, 0, NULL },
	{ "1", 0, 0, 0, 0, "too large" },
	{ "-1", 0, 0, 0, 0, "too small" },
	{ "-9223372036854775808", INT64_MIN, INT64_MAX, 1, INT64_MIN, NULL },
	{ "9223372036854775807", INT64_MIN, INT64_MAX, 1, INT64_MAX, NULL },
	{ "9223372036854775808", INT64_MIN, INT64_MAX, 0, 0, "too large" },
	{ "-9223372036854775809", INT64_MIN, INT64_MAX, 0, 0, "too small" },
	{ "99999999999999999999999", INT64_MIN, INT64_MAX, 0, 0, "too large" },
	{ "-99999999999999999999999", INT64_MIN, INT64_MAX, 0, 0, "too small" },
	/* Not numbers, trailing junk. */
	{ " ", 0, 10, 0, 0, "not a number" },
	{ "-", -10, 10, 0, 0, "not a number" },
	{ "+", -10, 10, 0, 0, "not a number" },
	{ "abc", 0, 10, 0, 0, "not a number" },
	{ "5x", 0, 10, 0, 0, "not a number" },
	{ "5 ", 0, 10, 0, 0, "not a number" },
	{ "5\n", 0, 10, 0, 0, "not a number" },
	{ "1.5", 0, 10, 0, 0, "not a number" },
	{ "1e3", 0, 10000, 0, 0, "not a number" },
	{ "0x10", 0, 100, 0, 0, "not a number" },
	{ "99999999999999999999999x", INT64_MIN, INT64_MAX, 0, 0,
	  "not a number" },
	/* Bounds inclusive. */
	{ "1", 1, 64, 1, 1, NULL },
	{ "64", 1, 64, 1, 64, NULL },
	{ "0", 1, 64, 0, 0, "too small" },
	{ "65", 1, 64, 0, 0, "too large" },
	{ "-5", -5, 5, 1, -5, NULL },
	{ "-6", -5, 5, 0, 0, "too small" },
	{ "010", 0, 100, 1, 10, NULL },	/* decimal, not octal */
	{ "256", 0, 256, 1, 256, NULL },
	{ "4294967296", 0, INT64_MAX, 1, 4294967296LL, NULL },
};

START_TEST(test_parse_int64)
{
	const struct int_vec *v = &int_vecs[_i];
	const char *errstr = NULL;
	int64_t out = 12345;
	int rc;

	rc = parse_int64(v->s, v->min, v->max, &out, &errstr);
	if (v->ok) {
		ck_assert_msg(rc == 0, "\"%s\": rc %d (%s)", v->s, rc,
		    errstr ? errstr : "-");
		ck_assert_msg(out == v->want, "\"%s\": got %lld want %lld",
		    v->s, (long long)out, (long long)v->want);
	} else {
		ck_assert_msg(rc == -1, "\"%s\": rc %d, out %lld", v->s ? v->s :
		    "(null)", rc, (long long)out);
		ck_assert_ptr_nonnull(errstr);
		ck_assert_msg(strcmp(errstr, v->err) == 0,
		    "\"%s\": errstr \"%s\", want \"%s\"", v->s ? v->s : "(null)",
		    errstr, v->err);
	}
}
END_TEST

/* ---- hex_encode ---- */

START_TEST(test_hex_encode)
{
	static const unsigned char in[] = { 0x00, 0x01, 0x0f, 0x10, 0x7f, 0x80,
	    0xa5, 0xfe, 0xff };
	char out[2 * sizeof in + 1 + 4];

	memset(out, 'Z', sizeof out);
	hex_encode(in, 0, out);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(out[1], 'Z');

	memset(out, 'Z', sizeof out);
	hex_encode(in, sizeof in, out);
	ck_assert_str_eq(out, "00010f107f80a5feff");
	ck_assert_int_eq(out[2 * sizeof in + 1], 'Z');	/* no overrun */

	memset(out, 'Z', sizeof out);
	hex_encode(in + 8, 1, out);
	ck_assert_str_eq(out, "ff");
	ck_assert_int_eq(out[3], 'Z');
}
END_TEST

/* ---- prefix / suffix ---- */

/* Comma lists: trimmed items, empty ones skipped, the end said once. */
START_TEST(test_str_list_next)
{
	const char *p = " a ,\tbc\t,, , d", *item;
	const char *want[] = { "a", "bc", "d" };
	size_t len, i = 0;

	while (str_list_next(&p, &item, &len)) {
		ck_assert_uint_lt(i, 3);
		ck_assert_uint_eq(len, strlen(want[i]));
		ck_assert_int_eq(memcmp(item, want[i], len), 0);
		i++;
	}
	ck_assert_uint_eq(i, 3);
	ck_assert_int_eq(str_list_next(&p, &item, &len), 0);
	p = "";
	ck_assert_int_eq(str_list_next(&p, &item, &len), 0);
	p = " , ,";
	ck_assert_int_eq(str_list_next(&p, &item, &len), 0);
}
END_TEST

START_TEST(test_prefix_suffix)
{
	ck_assert_int_eq(str_has_prefix("", ""), 1);
	ck_assert_int_eq(str_has_prefix("a", ""), 1);
	ck_assert_int_eq(str_has_prefix("", "a"), 0);
	ck_assert_int_eq(str_has_prefix("refs/heads/main", "refs/heads/"), 1);
	ck_assert_int_eq(str_has_prefix("refs/heads/main", "refs/heads/main"), 1);
	ck_assert_int_eq(str_has_prefix("refs/heads", "refs/heads/"), 0);
	ck_assert_int_eq(str_has_prefix("refs/tags/v1", "refs/heads/"), 0);
	ck_assert_int_eq(str_has_prefix("Refs/heads/x", "refs/"), 0);

	ck_assert_int_eq(str_has_suffix("", ""), 1);
	ck_assert_int_eq(str_has_suffix("a", ""), 1);
	ck_assert_int_eq(str_has_suffix("", "a"), 0);
	ck_assert_int_eq(str_has_suffix("ci.yml", ".yml"), 1);
	ck_assert_int_eq(str_has_suffix("ci.yml", "ci.yml"), 1);
	ck_assert_int_eq(str_has_suffix("yml", ".yml"), 0);
	ck_assert_int_eq(str_has_suffix("ci.yaml", ".yml"), 0);
	ck_assert_int_eq(str_has_suffix("ci.YML", ".yml"), 0);
}
END_TEST

/* ---- file_read_all ---- */

START_TEST(test_file_read_empty)
{
	char *path = tmp_path("empty"), *p;
	size_t len = 99;

	write_bytes(path, "", 0);
	p = file_read_all(path, 0, &len);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(p, "");
	free(p);
	/* lenp may be NULL. */
	p = file_read_all(path, 10, NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p, "");
	free(p);
	free(path);
}
END_TEST

START_TEST(test_file_read_nul)
{
	static const char data[] = { 'a', '\0', 'b', '\n', '\0', '\xff' };
	char *path = tmp_path("nul"), *p;
	size_t len = 0;

	write_bytes(path, data, sizeof data);
	/* max equal to the size is allowed. */
	p = file_read_all(path, sizeof data, &len);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, sizeof data);
	ck_assert_int_eq(memcmp(p, data, sizeof data), 0);
	ck_assert_int_eq(p[len], '\0');
	free(p);
	/* One byte less than the size: EFBIG. */
	errno = 0;
	len = 77;
	p = file_read_all(path, sizeof data - 1, &len);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(errno, EFBIG);
	free(path);
}
END_TEST

START_TEST(test_file_read_big)
{
	/* Several read() chunks; content must survive exactly. */
	size_t n = 8192 * 3 + 17, i, len = 0;
	char *path = tmp_path("big"), *data = xmalloc(n), *p;

	for (i = 0; i < n; i++)
		data[i] = (char)(i * 7 + i / 251);
	write_bytes(path, data, n);
	p = file_read_all(path, n, &len);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(memcmp(p, data, n), 0);
	ck_assert_int_eq(p[n], '\0');
	free(p);
	errno = 0;
	ck_assert_ptr_null(file_read_all(path, 8192, &len));
	ck_assert_int_eq(errno, EFBIG);
	errno = 0;
	ck_assert_ptr_null(file_read_all(path, n - 1, &len));
	ck_assert_int_eq(errno, EFBIG);
	free(data);
	free(path);
}
END_TEST

START_TEST(test_file_read_errors)
{
	char *path = tmp_path("absent");

	errno = 0;
	ck_assert_ptr_null(file_read_all(path, 100, NULL));
	ck_assert_int_eq(errno, ENOENT);
	free(path);
	/* A directory opens but cannot be read. */
	errno = 0;
	ck_assert_ptr_null(file_read_all(tmpdir, 100, NULL));
	ck_assert_int_eq(errno, EISDIR);
}
END_TEST

/* ---- mkdir_p ---- */

static int
is_dir(const char *path, mode_t *mode)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return 0;
	if (mode != NULL)
		*mode = st.st_mode & 07777;
	return S_ISDIR(st.st_mode);
}

START_TEST(test_mkdir_p)
{
	char *deep = tmp_path("a/b/c/d"), *mid = tmp_path("a/b");
	char *slash = tmp_path("x/y/"), *file = tmp_path("file");
	char *under_file = tmp_path("file/sub"), *dots = tmp_path("p//q/./r");
	mode_t mode;
	mode_t old = umask(022);

	ck_assert_int_eq(mkdir_p(deep, 0750), 0);
	ck_assert(is_dir(deep, &mode));
	ck_assert_uint_eq(mode, 0750);
	ck_assert(is_dir(mid, &mode));
	ck_assert_uint_eq(mode, 0750);
	/* Existing: success, nothing changes. */
	ck_assert_int_eq(mkdir_p(deep, 0700), 0);
	ck_assert_int_eq(mkdir_p(mid, 0700), 0);
	ck_assert_int_eq(mkdir_p(tmpdir, 0700), 0);
	ck_assert(is_dir(deep, &mode));
	ck_assert_uint_eq(mode, 0750);
	/* Trailing slash, doubled slashes and "." components. */
	ck_assert_int_eq(mkdir_p(slash, 0755), 0);
	ck_assert(is_dir(slash, NULL));
	ck_assert_int_eq(mkdir_p(dots, 0755), 0);
	ck_assert(is_dir(dots, NULL));
	/* A regular file in the way is an error, at the end or in the middle. */
	write_bytes(file, "x", 1);
	errno = 0;
	ck_assert_int_eq(mkdir_p(file, 0755), -1);
	ck_assert_int_eq(errno, EEXIST);
	errno = 0;
	ck_assert_int_eq(mkdir_p(under_file, 0755), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	umask(old);
	free(deep);
	free(mid);
	free(slash);
	free(file);
	free(under_file);
	free(dots);
}
END_TEST

START_TEST(test_mkdir_p_too_long)
{
	char path[PATH_MAX + 10];

	memset(path, 'a', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = '\0';
	errno = 0;
	ck_assert_int_eq(mkdir_p(path, 0755), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

/* ---- now_ms ---- */

START_TEST(test_now_ms)
{
	struct timespec ts;
	int64_t t0, t1, prev, mono, start;
	long i;

	t0 = now_ms();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	mono = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	t1 = now_ms();
	ck_assert_int_le(t0, mono);
	ck_assert_int_le(mono, t1);
	ck_assert_int_gt(t0, 0);

	/* Never goes back; advances (bounded busy wait, at most ~2 s). */
	start = prev = now_ms();
	for (i = 0; i < 200000000L; i++) {
		int64_t t = now_ms();

		ck_assert_int_ge(t, prev);
		prev = t;
		if (t - start >= 5)
			break;
	}
	ck_assert_int_ge(prev - start, 5);
	ck_assert_int_lt(prev - start, 2000);
}
END_TEST

static Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc;

	tc = tcase_create("alloc");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_test(tc, test_xasprintf);
	tcase_add_test(tc, test_xstrndup);
	suite_add_tcase(s, tc);

	tc = tcase_create("buf");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_test(tc, test_buf_empty);
	tcase_add_test(tc, test_buf_growth);
	tcase_add_test(tc, test_buf_binary);
	tcase_add_test(tc, test_buf_reserve);
	tcase_add_test(tc, test_buf_printf);
	tcase_add_test(tc, test_buf_steal);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_loop_test(tc, test_parse_int64, 0, (int)nitems(int_vecs));
	tcase_add_test(tc, test_hex_encode);
	tcase_add_test(tc, test_prefix_suffix);
	tcase_add_test(tc, test_str_list_next);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_file_read_empty);
	tcase_add_test(tc, test_file_read_nul);
	tcase_add_test(tc, test_file_read_big);
	tcase_add_test(tc, test_file_read_errors);
	tcase_add_test(tc, test_mkdir_p);
	tcase_add_test(tc, test_mkdir_p_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_now_ms);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
