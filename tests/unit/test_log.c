/*
 * Unit tests for common/log: log_escape (exact escapes, truncation at max
 * input bytes, output buffers of every small size never overflowed) and the
 * line format and errno preservation of the log functions, observed on the
 * stderr of a forked child.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* ---- log_escape: exact results ---- */

struct esc_vec {
	const char	*in;
	size_t		 max;
	const char	*want;
};

#define BIG	((size_t)1 << 20)

static const struct esc_vec esc_vecs[] = {
	/* Edge values first. */
	{ "", 0, "" },
	{ "", BIG, "" },
	{ "a", 0, "..." },
	{ "a", 1, "a" },
	{ "ab", 1, "a..." },
	{ "\n", 0, "..." },
	{ "\n", 1, "\\n" },
	{ "\\", 1, "\\\\" },
	{ "\x01", BIG, "\\x01" },
	{ "\x1f", BIG, "\\x1f" },
	{ " ", BIG, " " },
	{ "~", BIG, "~" },
	{ "\x7f", BIG, "\\x7f" },
	/* Ordinary text passes through. */
	{ "refs/heads/feature-1 (x) \"q\" 'a' %s", BIG,
	  "refs/heads/feature-1 (x) \"q\" 'a' %s" },
	/* Control characters, newline, backslash. */
	{ "a\nb", BIG, "a\\nb" },
	{ "line1\r\nline2", BIG, "line1\\x0d\\nline2" },
	{ "\t\r\v\f\b\a", BIG, "\\x09\\x0d\\x0b\\x0c\\x08\\x07" },
	{ "\x1b[31mred\x1b[0m", BIG, "\\x1b[31mred\\x1b[0m" },
	{ "C:\\dir\\n", BIG, "C:\\\\dir\\\\n" },
	{ "\\n", BIG, "\\\\n" },
	/* Truncation counts input bytes, escapes do not shorten the budget. */
	{ "abcdef", 3, "abc..." },
	{ "abcdef", 6, "abcdef" },
	{ "abcdef", 5, "abcde..." },
	{ "\n\n\n", 2, "\\n\\n..." },
	{ "\\\\\\", 3, "\\\\\\\\\\\\" },
	/* Well-formed UTF-8 passes through. */
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", BIG,
	  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
	{ "\xc2\xa0", BIG, "\xc2\xa0" },
	{ "\xef\xbf\xbd", BIG, "\xef\xbf\xbd" },
	{ "\xf4\x8f\xbf\xbf", BIG, "\xf4\x8f\xbf\xbf" },	/* U+10FFFF */
	/* Bytes that do not look like UTF-8 are escaped. */
	{ "\x80", BIG, "\\x80" },
	{ "\x9b", BIG, "\\x9b" },			/* 8-bit CSI */
	{ "\xff\xfe", BIG, "\\xff\\xfe" },
	{ "\xc3", BIG, "\\xc3" },			/* truncated sequence */
	{ "\xc3(", BIG, "\\xc3(" },			/* bad continuation */
	{ "\xe2\x82", BIG, "\\xe2\\x82" },
	{ "\xc0\xaf", BIG, "\\xc0\\xaf" },		/* overlong '/' */
	{ "\xe0\x80\xaf", BIG, "\\xe0\\x80\\xaf" },	/* overlong */
	{ "\xed\xa0\x80", BIG, "\\xed\\xa0\\x80" },	/* surrogate */
	{ "\xf4\x90\x80\x80", BIG, "\\xf4\\x90\\x80\\x80" }, /* > U+10FFFF */
	{ "\xf5\x80\x80\x80", BIG, "\\xf5\\x80\\x80\\x80" },
	/* A sequence cut by max is not trusted either. */
	{ "\xc3\xa9", 1, "\\xc3..." },
	{ "\xc3\xa9", 2, "\xc3\xa9" },
	{ "x\xe2\x82\xac", 3, "x\\xe2\\x82..." },
};

START_TEST(test_escape_exact)
{
	const struct esc_vec *v = &esc_vecs[_i];
	char out[512];

	memset(out, 'Z', sizeof out);
	ck_assert_ptr_eq(log_escape(v->in, v->max, out, sizeof out), out);
	ck_assert_msg(strcmp(out, v->want) == 0,
	    "vector %d: got \"%s\", want \"%s\"", _i, out, v->want);
}
END_TEST

/* ---- log_kv: a key=value field's value ---- */

static const struct esc_vec kv_vecs[] = {
	{ "abc-1.2/x", 100, "abc-1.2/x" },
	{ "", 100, "\"\"" },
	{ "two words", 100, "\"two words\"" },
	{ "a=b", 100, "\"a=b\"" },
	{ "say \"hi\"", 100, "\"say \\\"hi\\\"\"" },
	{ "line\nbreak", 100, "line\\nbreak" },
	{ "x y\n z=", 100, "\"x y\\n z=\"" },
};

START_TEST(test_kv_exact)
{
	const struct esc_vec *v = &kv_vecs[_i];
	char out[512], tiny[6];

	ck_assert_ptr_eq(log_kv(v->in, v->max, out, sizeof out), out);
	ck_assert_msg(strcmp(out, v->want) == 0,
	    "vector %d: got [%s], want [%s]", _i, out, v->want);
	/* A short buffer is cut, never overrun, and still terminated. */
	memset(tiny, 'Z', sizeof tiny);
	log_kv(v->in, v->max, tiny, sizeof tiny);
	ck_assert_ptr_nonnull(memchr(tiny, '\0', sizeof tiny));
}
END_TEST

/* ---- log_escape: small output buffers ---- */

/*
 * Undo log_escape: returns the decoded length, or -1 when out is not a
 * sequence of whole escapes (a cut "\x4" would be -1).  *dots is set when
 * out ends with "..." (inputs below contain no '.').
 */
static int
unescape(const char *out, char *dec, int *dots)
{
	size_t n = strlen(out), i = 0;
	int d = 0;

	*dots = 0;
	while (i < n) {
		if (strcmp(out + i, "...") == 0) {
			*dots = 1;
			break;
		}
		if (out[i] != '\\') {
			if (out[i] == '.')
				return -1;
			dec[d++] = out[i++];
			continue;
		}
		if (out[i + 1] == '\\' || out[i + 1] == 'n') {
			dec[d++] = out[i + 1] == 'n' ? '\n' : '\\';
			i += 2;
			continue;
		}
		if (out[i + 1] == 'x' && out[i + 2] != '\0' &&
		    out[i + 3] != '\0') {
			char hex[3] = { out[i + 2], out[i + 3], '\0' }, *end;
			long c = strtol(hex, &end, 16);

			if (*end != '\0')
				return -1;
			dec[d++] = (char)c;
			i += 4;
			continue;
		}
		return -1;
	}
	return d;
}

static const char *const tiny_inputs[] = {
	"",
	"a",
	"abcdefghijklmnopqrstuvwxyz",
	"\n",
	"\x01\x02\x03\x04\x05\x06\x07\x08",
	"\\\\\\\\\\\\",
	"x\ny\\z\tw\x7fq",
	"\xc3\xa9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	"\xff\xc3\x80\x80\xed\xa0\x80",
};

START_TEST(test_escape_tiny_buffers)
{
	static const size_t maxes[] = { 0, 1, 2, 3, 5, 7, BIG };
	const char *in = tiny_inputs[_i];
	size_t inlen = strlen(in), mi, outsz, k;

	for (mi = 0; mi < nitems(maxes); mi++) {
		size_t max = maxes[mi];
		char full[512], dec[512];
		int fulllen, d, dots;

		log_escape(in, max, full, sizeof full);
		fulllen = (int)strlen(full);
		for (outsz = 0; outsz <= (size_t)fulllen + 8; outsz++) {
			unsigned char buf[600];

			memset(buf, 0xa5, sizeof buf);
			ck_assert_ptr_eq(log_escape(in, max, (char *)buf, outsz),
			    (char *)buf);
			/* Canary: nothing at or after out[outsz] is written. */
			for (k = outsz; k < outsz + 64; k++)
				ck_assert_msg(buf[k] == 0xa5, "input %d max %zu "
				    "outsz %zu: byte %zu overwritten", _i, max,
				    outsz, k);
			if (outsz == 0)
				continue;
			ck_assert_msg(memchr(buf, '\0', outsz) != NULL,
			    "input %d max %zu outsz %zu: not terminated", _i,
			    max, outsz);
			/* Whole escapes only, decoding to a prefix of the input. */
			d = unescape((char *)buf, dec, &dots);
			ck_assert_msg(d >= 0, "input %d max %zu outsz %zu: cut "
			    "escape \"%s\"", _i, max, outsz, buf);
			ck_assert_uint_le((size_t)d, inlen);
			ck_assert_uint_le((size_t)d, max);
			ck_assert_int_eq(memcmp(dec, in, (size_t)d), 0);
			if (dots) {
				ck_assert_uint_eq((size_t)d, max);
				ck_assert_uint_gt(inlen, max);
			}
			/* And a prefix of the unbounded answer. */
			ck_assert_int_eq(strncmp(full, (char *)buf,
			    strlen((char *)buf)), 0);
			/* With enough room the answer is complete. */
			if (outsz >= (size_t)fulllen + 6)
				ck_assert_str_eq((char *)buf, full);
		}
		/* The unbounded answer is complete. */
		d = unescape(full, dec, &dots);
		ck_assert_int_ge(d, 0);
		ck_assert_uint_eq((size_t)d, inlen < max ? inlen : max);
		ck_assert_int_eq(dots, inlen > max);
	}
}
END_TEST

/* ---- log lines on stderr of a child ---- */

/*
 * Run fn in a child whose stderr is a pipe; return everything it wrote
 * (caller frees), its pid and its wait status.  Bounded: 10 s.
 */
static char *
run_child(void (*fn)(void), pid_t *pidp, int *status)
{
	struct buf out = { 0 };
	int64_t deadline = now_ms() + 10000;
	int fds[2], rc;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		if (dup2(fds[1], STDERR_FILENO) == -1)
			_exit(100);
		close(fds[1]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		char chunk[4096];
		int64_t left = deadline - now_ms();
		ssize_t n;

		ck_assert_msg(left > 0, "child did not close stderr in time");
		rc = poll(&pfd, 1, (int)left);
		if (rc == -1 && errno == EINTR)
			continue;
		ck_assert_int_ge(rc, 0);
		if (rc == 0)
			continue;
		n = read(fds[0], chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		buf_add(&out, chunk, (size_t)n);
	}
	close(fds[0]);
	for (;;) {
		rc = waitpid(pid, status, WNOHANG);
		if (rc == pid)
			break;
		ck_assert_int_eq(rc, 0);
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			ck_abort_msg("child did not exit in time");
		}
		poll(NULL, 0, 5);
	}
	*pidp = pid;
	return buf_steal(&out);
}

static void
child_levels(void)
{
	log_init("kilntest", LOG_LEVEL_INFO);
	errno = ENOENT;
	log_warnx("hello %s %d", "world", 42);
	if (errno != ENOENT)
		_exit(3);
	errno = EACCES;
	log_warn("open %s", "x");
	if (errno != EACCES)
		_exit(4);
	errno = EINTR;
	log_info("info line");
	if (errno != EINTR)
		_exit(5);
	errno = EPIPE;
	log_debug("hidden at info");
	if (errno != EPIPE)
		_exit(6);
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("shown at debug");
	log_set_level(LOG_LEVEL_ERROR);
	errno = ENOSPC;
	log_warnx("hidden at error");
	log_info("hidden at error");
	if (errno != ENOSPC)
		_exit(7);
}

START_TEST(test_log_lines)
{
	char *got, *want;
	pid_t pid;
	int status;

	got = run_child(child_levels, &pid, &status);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child status %d (errno not preserved?), wrote \"%s\"", status, got);
	want = xasprintf(
	    "kilntest[%ld]: warning: hello world 42\n"
	    "kilntest[%ld]: warning: open x: %s\n"
	    "kilntest[%ld]: info: info line\n"
	    "kilntest[%ld]: debug: shown at debug\n",
	    (long)pid, (long)pid, strerror(EACCES), (long)pid, (long)pid);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
}
END_TEST

static void
child_long(void)
{
	char msg[3001];

	memset(msg, 'x', sizeof msg - 1);
	msg[sizeof msg - 1] = '\0';
	log_init("p", LOG_LEVEL_WARN);
	log_warnx("%s", msg);
}

START_TEST(test_log_long_message)
{
	char *got, *prefix;
	size_t plen, i;
	pid_t pid;
	int status;

	got = run_child(child_long, &pid, &status);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	prefix = xasprintf("p[%ld]: warning: ", (long)pid);
	plen = strlen(prefix);
	ck_assert_int_eq(strncmp(got, prefix, plen), 0);
	/* One line, the message cut but not overflowing. */
	ck_assert_ptr_eq(strchr(got, '\n'), got + strlen(got) - 1);
	ck_assert_uint_gt(strlen(got) - plen - 1, 1000);
	ck_assert_uint_le(strlen(got) - plen - 1, 3000);
	for (i = plen; got[i] != '\n'; i++)
		ck_assert_int_eq(got[i], 'x');
	free(prefix);
	free(got);
}
END_TEST

/* JOURNAL_STREAM naming this stderr: priorities; naming another: none. */
static void
child_journal(void)
{
	struct stat st;
	char val[64];

	if (fstat(STDERR_FILENO, &st) == -1)
		_exit(8);
	snprintf(val, sizeof val, "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", val, 1);
	log_init("j", LOG_LEVEL_DEBUG);
	log_warnx("w");
	log_info("i");
	log_debug("d");
	snprintf(val, sizeof val, "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", val, 1);
	log_init("j", LOG_LEVEL_DEBUG);
	log_info("plain");
	setenv("JOURNAL_STREAM", "garbage", 1);
	log_init("j", LOG_LEVEL_DEBUG);
	log_info("plain");
}

START_TEST(test_log_journal)
{
	char *got, *want;
	pid_t pid;
	int status;

	got = run_child(child_journal, &pid, &status);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	want = xasprintf("<4>j[%ld]: warning: w\n<6>j[%ld]: info: i\n"
	    "<7>j[%ld]: debug: d\nj[%ld]: info: plain\nj[%ld]: info: plain\n",
	    (long)pid, (long)pid, (long)pid, (long)pid, (long)pid);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
}
END_TEST

static void
child_fatalx(void)
{
	log_init("kilntest", LOG_LEVEL_ERROR);
	fatalx("cannot start: %d", 7);
}

static void
child_fatal(void)
{
	log_init("kilntest", LOG_LEVEL_ERROR);
	errno = ENOENT;
	fatal("open %s", "/nonexistent");
}

START_TEST(test_fatal)
{
	char *got, *want;
	pid_t pid;
	int status;

	got = run_child(child_fatalx, &pid, &status);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	want = xasprintf("kilntest[%ld]: fatal: cannot start: 7\n", (long)pid);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);

	got = run_child(child_fatal, &pid, &status);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	want = xasprintf("kilntest[%ld]: fatal: open /nonexistent: %s\n",
	    (long)pid, strerror(ENOENT));
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc;

	tc = tcase_create("escape");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_loop_test(tc, test_escape_exact, 0, (int)nitems(esc_vecs));
	tcase_add_loop_test(tc, test_escape_tiny_buffers, 0,
	    (int)nitems(tiny_inputs));
	tcase_add_loop_test(tc, test_kv_exact, 0, (int)nitems(kv_vecs));
	suite_add_tcase(s, tc);

	tc = tcase_create("lines");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_log_lines);
	tcase_add_test(tc, test_log_long_message);
	tcase_add_test(tc, test_fatal);
	tcase_add_test(tc, test_log_journal);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
