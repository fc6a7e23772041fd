/*
 * Unit tests for common/proto: marshalling round trips, the incremental
 * decoder fed byte by byte, size limits, version and leftover checks, and
 * the blocking read/write pair over a socketpair.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"

#define TEST_TOKEN	"0123456789abcdef0123456789abcdef" \
			"0123456789abcdef0123456789abcdef"

/* Build a HELLO the way the worker does. */
static void
build_hello(struct buf *b, uint32_t version, int64_t job, const char *name,
    uint64_t last)
{
	char err[128];
	size_t at;

	at = proto_frame_begin(b, PROTO_HELLO, 0, 0);
	proto_put_u32(b, version);
	proto_put_i64(b, job);
	proto_put_u64(b, 0x1122334455667788ULL);
	proto_put_str(b, name);
	proto_put_u64(b, last);
	proto_put_str(b, TEST_TOKEN);
	ck_assert_int_eq(proto_frame_end(b, at, err, sizeof err), 0);
}

/* Decode exactly one frame from a complete buffer. */
static int
decode_one(const struct buf *b, struct proto_decoder *d, struct proto_msg *m,
    char *err, size_t errsz)
{
	size_t used;
	int r;

	r = proto_decoder_feed(d, b->data, b->len, &used, m, err, errsz);
	if (r == 1)
		ck_assert_uint_eq(used, b->len);
	return r;
}

START_TEST(test_header_layout)
{
	unsigned char h[PROTO_HDR_LEN];
	static const unsigned char want[PROTO_HDR_LEN] = {
		0x00, 0x01, 0x02, 0x03, 0x00, 0x64, 0x00, 0x01,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};

	proto_hdr_encode(h, 0x00010203, PROTO_LOG, PROTO_F_FINAL,
	    0x0102030405060708ULL);
	ck_assert_mem_eq(h, want, sizeof want);
}
END_TEST

START_TEST(test_roundtrip_scalars)
{
	struct buf b = { 0 };
	struct proto_decoder d;
	struct proto_msg m;
	struct proto_rd rd;
	char err[128], s[16];
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	int64_t i64;
	size_t at;

	at = proto_frame_begin(&b, PROTO_ERROR, 0, 42);
	proto_put_u8(&b, 0);
	proto_put_u8(&b, 255);
	proto_put_u16(&b, 65535);
	proto_put_u32(&b, UINT32_MAX);
	proto_put_u64(&b, UINT64_MAX);
	proto_put_i64(&b, INT64_MIN);
	proto_put_i64(&b, -1);
	proto_put_str(&b, "");
	proto_put_str(&b, "héllo");
	ck_assert_int_eq(proto_frame_end(&b, at, err, sizeof err), 0);

	proto_decoder_init(&d);
	ck_assert_int_eq(decode_one(&b, &d, &m, err, sizeof err), 1);
	ck_assert_uint_eq(m.type, PROTO_ERROR);
	ck_assert_uint_eq(m.seq, 42);
	ck_assert_uint_eq(m.len, b.len - PROTO_HDR_LEN);

	proto_rd_init(&rd, &m);
	ck_assert_int_eq(proto_get_u8(&rd, &u8), 0);
	ck_assert_uint_eq(u8, 0);
	ck_assert_int_eq(proto_get_u8(&rd, &u8), 0);
	ck_assert_uint_eq(u8, 255);
	ck_assert_int_eq(proto_get_u16(&rd, &u16), 0);
	ck_assert_uint_eq(u16, 65535);
	ck_assert_int_eq(proto_get_u32(&rd, &u32), 0);
	ck_assert_uint_eq(u32, UINT32_MAX);
	ck_assert_int_eq(proto_get_u64(&rd, &u64), 0);
	ck_assert(u64 == UINT64_MAX);
	ck_assert_int_eq(proto_get_i64(&rd, &i64), 0);
	ck_assert(i64 == INT64_MIN);
	ck_assert_int_eq(proto_get_i64(&rd, &i64), 0);
	ck_assert(i64 == -1);
	ck_assert_int_eq(proto_get_str(&rd, s, sizeof s), 0);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(proto_get_str(&rd, s, sizeof s), 0);
	ck_assert_str_eq(s, "héllo");
	ck_assert_int_eq(proto_get_end(&rd, err, sizeof err), 0);

	proto_decoder_free(&d);
	buf_free(&b);
}
END_TEST

START_TEST(test_hello_roundtrip_and_check)
{
	struct buf b = { 0 };
	struct proto_decoder d;
	struct proto_msg m;
	struct proto_rd rd;
	char err[128], name[PROTO_MAX_NAME + 1], token[PROTO_TOKEN_LEN + 1];
	uint32_t v;
	int64_t job;
	uint64_t sid, last;

	build_hello(&b, PROTO_VERSION, 9001, "worker-1", 77);
	proto_decoder_init(&d);
	ck_assert_int_eq(decode_one(&b, &d, &m, err, sizeof err), 1);
	ck_assert_int_eq(proto_msg_check(&m, PROTO_FROM_WORKER, err,
	    sizeof err), 0);
	/* A server must not send HELLO. */
	ck_assert_int_eq(proto_msg_check(&m, PROTO_FROM_SERVER, err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "wrong side"));

	proto_rd_init(&rd, &m);
	proto_get_u32(&rd, &v);
	proto_get_i64(&rd, &job);
	proto_get_u64(&rd, &sid);
	proto_get_str(&rd, name, sizeof name);
	proto_get_u64(&rd, &last);
	proto_get_str(&rd, token, sizeof token);
	ck_assert_int_eq(proto_get_end(&rd, err, sizeof err), 0);
	ck_assert_str_eq(token, TEST_TOKEN);
	ck_assert_uint_eq(v, PROTO_VERSION);
	ck_assert(job == 9001);
	ck_assert(sid == 0x1122334455667788ULL);
	ck_assert_str_eq(name, "worker-1");
	ck_assert(last == 77);
	proto_decoder_free(&d);
	buf_free(&b);
}
END_TEST

START_TEST(test_bad_version_visible)
{
	/* The version travels as data; a receiver sees and refuses it. */
	struct buf b = { 0 };
	struct proto_decoder d;
	struct proto_msg m;
	struct proto_rd rd;
	char err[128];
	uint32_t v;

	build_hello(&b, PROTO_VERSION + 1, 1, "w", 0);
	proto_decoder_init(&d);
	ck_assert_int_eq(decode_one(&b, &d, &m, err, sizeof err), 1);
	proto_rd_init(&rd, &m);
	ck_assert_int_eq(proto_get_u32(&rd, &v), 0);
	ck_assert_uint_ne(v, PROTO_VERSION);
	proto_decoder_free(&d);
	buf_free(&b);
}
END_TEST

START_TEST(test_byte_by_byte)
{
	struct buf b = { 0 };
	struct proto_decoder d;
	struct proto_msg m;
	char err[128], payload[300];
	size_t i, used, frames = 0, at;
	int r;

	memset(payload, 'x', sizeof payload);
	build_hello(&b, PROTO_VERSION, 5, "abc", 0);
	at = proto_frame_begin(&b, PROTO_LOG, 0, 1);
	proto_put_bytes(&b, payload, sizeof payload);
	ck_assert_int_eq(proto_frame_end(&b, at, err, sizeof err), 0);
	at = proto_frame_begin(&b, PROTO_END, 0, 1);
	ck_assert_int_eq(proto_frame_end(&b, at, err, sizeof err), 0);

	proto_decoder_init(&d);
	for (i = 0; i < b.len; i++) {
		r = proto_decoder_feed(&d, b.data + i, 1, &used, &m, err,
		    sizeof err);
		ck_assert_int_ne(r, -1);
		ck_assert_uint_eq(used, 1);
		if (r == 1) {
			frames++;
			if (frames == 2) {
				ck_assert_uint_eq(m.type, PROTO_LOG);
				ck_assert_uint_eq(m.len, sizeof payload);
				ck_assert_mem_eq(m.data, payload,
				    sizeof payload);
			}
			if (frames == 3) {
				ck_assert_uint_eq(m.type, PROTO_END);
				ck_assert_uint_eq(m.len, 0);
			}
		} else if (i + 1 < b.len)
			ck_assert(proto_decoder_partial(&d) ||
			    proto_decoder_want(&d) == PROTO_HDR_LEN);
	}
	ck_assert_uint_eq(frames, 3);
	ck_assert_int_eq(proto_decoder_partial(&d), 0);
	proto_decoder_free(&d);
	buf_free(&b);
}
END_TEST

START_TEST(test_chunk_splits)
{
	/* Every split point of a two-frame stream yields the same frames. */
	struct buf b = { 0 };
	struct proto_decoder d;
	struct proto_msg m;
	char err[128];
	size_t split, off, used, at, frames;
	const char *parts[2];
	size_t lens[2];
	int r, k;

	at = proto_frame_begin(&b, PROTO_LOG, 0, 1);
	proto_put_bytes(&b, "hello\n", 6);
	proto_frame_end(&b, at, err, sizeof err);
	at = proto_frame_begin(&b, PROTO_LOG, 0, 2);
	proto_put_bytes(&b, "world\n", 6);
	proto_frame_end(&b, at, err, sizeof err);

	for (split = 0; split <= b.len; split++) {
		proto_decoder_init(&d);
		parts[0] = b.data;
		lens[0] = split;
		parts[1] = b.data + split;
		lens[1] = b.len - split;
		frames = 0;
		for (k = 0; k < 2; k++) {
			for (off = 0; off < lens[k]; off += used) {
				r = proto_decoder_feed(&d, parts[k] + off,
				    lens[k] - off, &used, &m, err, sizeof err);
				ck_assert_int_ne(r, -1);
				if (r == 1) {
					frames++;
					ck_assert_uint_eq(m.seq, frames);
					ck_assert_mem_eq(m.data, frames == 1 ?
					    "hello\n" : "world\n", 6);
				}
			}
		}
		ck_assert_uint_eq(frames, 2);
		proto_decoder_free(&d);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_oversize)
{
	struct buf b = { 0 };
	struct proto_decoder d;
	struct proto_msg m;
	unsigned char h[PROTO_HDR_LEN];
	char err[128], *big;
	size_t at, used;

	/* The builder refuses, and leaves the buffer as it was. */
	big = xcalloc(1, PROTO_MAX_PAYLOAD + 1);
	buf_add(&b, "x", 1);
	at = proto_frame_begin(&b, PROTO_LOG, 0, 1);
	proto_put_bytes(&b, big, PROTO_MAX_PAYLOAD + 1);
	ck_assert_int_eq(proto_frame_end(&b, at, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "exceeds"));
	ck_assert_uint_eq(b.len, 1);

	/* Exactly the maximum is fine. */
	buf_clear(&b);
	at = proto_frame_begin(&b, PROTO_LOG, 0, 1);
	proto_put_bytes(&b, big, PROTO_MAX_PAYLOAD);
	ck_assert_int_eq(proto_frame_end(&b, at, err, sizeof err), 0);
	proto_decoder_init(&d);
	ck_assert_int_eq(decode_one(&b, &d, &m, err, sizeof err), 1);
	ck_assert_uint_eq(m.len, PROTO_MAX_PAYLOAD);
	proto_decoder_free(&d);

	/* The decoder refuses an oversize header before any payload. */
	proto_hdr_encode(h, PROTO_MAX_PAYLOAD + 1, PROTO_LOG, 0, 1);
	proto_decoder_init(&d);
	ck_assert_int_eq(proto_decoder_feed(&d, h, 10, &used, &m, err,
	    sizeof err), 0);
	ck_assert_int_eq(proto_decoder_feed(&d, h + 10, 6, &used, &m, err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "exceeds"));
	/* And stays failed. */
	ck_assert_int_eq(proto_decoder_feed(&d, h, 16, &used, &m, err,
	    sizeof err), -1);
	proto_decoder_free(&d);

	/* proto_write_frame refuses too. */
	ck_assert_int_eq(proto_write_frame(-1, PROTO_LOG, 0, 1, big,
	    PROTO_MAX_PAYLOAD + 1, 0, err, sizeof err), -1);
	free(big);
	buf_free(&b);
}
END_TEST

START_TEST(test_bad_headers)
{
	struct proto_decoder d;
	struct proto_msg m;
	unsigned char h[PROTO_HDR_LEN];
	char err[128];
	size_t used;

	proto_hdr_encode(h, 0, 0, 0, 0);
	proto_decoder_init(&d);
	ck_assert_int_eq(proto_decoder_feed(&d, h, sizeof h, &used, &m, err,
	    sizeof err), -1);
	proto_decoder_free(&d);

	proto_hdr_encode(h, 0, PROTO_ACK, 0x8000, 0);
	proto_decoder_init(&d);
	ck_assert_int_eq(proto_decoder_feed(&d, h, sizeof h, &used, &m, err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "flags"));
	proto_decoder_free(&d);

	/* Framing is fine, semantics are not: unknown type, bad sizes. */
	proto_hdr_encode(h, 0, 999, 0, 0);
	proto_decoder_init(&d);
	ck_assert_int_eq(proto_decoder_feed(&d, h, sizeof h, &used, &m, err,
	    sizeof err), 1);
	ck_assert_int_eq(proto_msg_check(&m, PROTO_FROM_WORKER, err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown"));
	proto_hdr_encode(h, 0, PROTO_LOG, 0, 1);	/* empty LOG */
	ck_assert_int_eq(proto_decoder_feed(&d, h, sizeof h, &used, &m, err,
	    sizeof err), 1);
	ck_assert_int_eq(proto_msg_check(&m, PROTO_FROM_WORKER, err,
	    sizeof err), -1);
	proto_decoder_free(&d);
	ck_assert_str_eq(proto_type_name(PROTO_HELLO_ACK), "HELLO_ACK");
	ck_assert_str_eq(proto_type_name(7), "unknown");
}
END_TEST

START_TEST(test_leftover_and_truncated)
{
	struct buf b = { 0 };
	struct proto_msg m;
	struct proto_rd rd;
	char err[128], s[4];
	uint32_t v;
	uint64_t u;

	proto_put_u32(&b, 7);
	proto_put_u8(&b, 1);
	m.type = PROTO_ERROR;
	m.flags = 0;
	m.seq = 0;
	m.data = (const unsigned char *)b.data;
	m.len = (uint32_t)b.len;

	proto_rd_init(&rd, &m);
	ck_assert_int_eq(proto_get_u32(&rd, &v), 0);
	ck_assert_int_eq(proto_get_end(&rd, err, sizeof err), -1);
	ck_assert_str_eq(err, "1 leftover bytes at offset 4");

	proto_rd_init(&rd, &m);
	ck_assert_int_eq(proto_get_u64(&rd, &u), -1);
	/* Sticky: later gets fail and the first reason is reported. */
	ck_assert_int_eq(proto_get_u8(&rd, (uint8_t *)&v), -1);
	ck_assert_int_eq(proto_get_end(&rd, err, sizeof err), -1);
	ck_assert_str_eq(err, "truncated u64 at offset 0");

	/* String length running past the payload. */
	buf_clear(&b);
	proto_put_u32(&b, 100);
	buf_add(&b, "abc", 3);
	m.data = (const unsigned char *)b.data;
	m.len = (uint32_t)b.len;
	proto_rd_init(&rd, &m);
	ck_assert_int_eq(proto_get_str(&rd, s, sizeof s), -1);
	ck_assert_int_eq(proto_get_end(&rd, err, sizeof err), -1);
	ck_assert_str_eq(err, "truncated string at offset 0");

	/* Too long for the destination, and embedded NUL. */
	buf_clear(&b);
	proto_put_str(&b, "abcd");
	m.data = (const unsigned char *)b.data;
	m.len = (uint32_t)b.len;
	proto_rd_init(&rd, &m);
	ck_assert_int_eq(proto_get_str(&rd, s, sizeof s), -1);
	buf_clear(&b);
	proto_put_u32(&b, 2);
	buf_add(&b, "a\0", 2);
	m.data = (const unsigned char *)b.data;
	m.len = (uint32_t)b.len;
	proto_rd_init(&rd, &m);
	ck_assert_int_eq(proto_get_str(&rd, s, sizeof s), -1);
	ck_assert_int_eq(proto_get_end(&rd, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	buf_free(&b);
}
END_TEST

START_TEST(test_blocking_pair)
{
	struct proto_decoder d;
	struct proto_msg m;
	char err[128], big[PROTO_MAX_PAYLOAD];
	int sv[2], status;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(big, 'q', sizeof big);
	proto_decoder_init(&d);

	/* Nothing there yet: timeout, not error. */
	ck_assert_int_eq(proto_read_frame(sv[1], &d, &m, 0, err, sizeof err),
	    0);
	ck_assert_int_eq(proto_write_frame(sv[0], PROTO_ACK, PROTO_F_FINAL, 9,
	    NULL, 0, 1000, err, sizeof err), 0);
	ck_assert_int_eq(proto_write_frame(sv[0], PROTO_LOG, 0, 10, "abc", 3,
	    1000, err, sizeof err), 0);
	ck_assert_int_eq(proto_read_frame(sv[1], &d, &m, 1000, err,
	    sizeof err), 1);
	ck_assert_uint_eq(m.type, PROTO_ACK);
	ck_assert_uint_eq(m.flags, PROTO_F_FINAL);
	ck_assert_uint_eq(m.seq, 9);
	ck_assert_int_eq(proto_read_frame(sv[1], &d, &m, 1000, err,
	    sizeof err), 1);
	ck_assert_uint_eq(m.type, PROTO_LOG);
	ck_assert_mem_eq(m.data, "abc", 3);

	/* A maximum frame (bigger than the socket buffer): write in a child. */
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		int ok = proto_write_frame(sv[0], PROTO_LOG, 0, 11, big,
		    sizeof big, 5000, err, sizeof err);
		_exit(ok == 0 ? 0 : 1);
	}
	ck_assert_int_eq(proto_read_frame(sv[1], &d, &m, 5000, err,
	    sizeof err), 1);
	ck_assert_uint_eq(m.len, sizeof big);
	ck_assert_mem_eq(m.data, big, sizeof big);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Peer gone: end of file is an error with errno 0. */
	close(sv[0]);
	ck_assert_int_eq(proto_read_frame(sv[1], &d, &m, 1000, err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "closed"));
	/* Writing to a closed peer is EPIPE, not SIGPIPE. */
	ck_assert_int_eq(proto_write_frame(sv[1], PROTO_ACK, 0, 1, NULL, 0,
	    1000, err, sizeof err), -1);
	close(sv[1]);
	proto_decoder_free(&d);
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */

	tcase_add_test(tc, test_header_layout);
	tcase_add_test(tc, test_roundtrip_scalars);
	tcase_add_test(tc, test_hello_roundtrip_and_check);
	tcase_add_test(tc, test_bad_version_visible);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_test(tc, test_chunk_splits);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_bad_headers);
	tcase_add_test(tc, test_leftover_and_truncated);
	tcase_add_test(tc, test_blocking_pair);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
