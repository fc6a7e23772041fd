/*
 * fuzz_proto: the log socket's framing as kilnd reads it from a worker
 * (and a worker from kilnd): proto_decoder_feed() on a byte stream that
 * arrives in pieces of any size, then proto_msg_check() and the
 * proto_get_* readers on every decoded frame, as logsrv.c and stream.c
 * unmarshal HELLO, HELLO_ACK and ERROR.
 *
 * Input layout:
 *	bytes 0-3  seed for the chunk sizes
 *	rest       the byte stream
 *
 * The stream is decoded twice: fed in chunks of random size (down to one
 * byte, so headers are cut anywhere) and fed whole.  Both must yield the
 * same frames and end in the same state (failed or not, partial frame
 * held or not).  In the whole-stream run each frame is also re-encoded
 * with proto_hdr_encode() and proto_frame_begin/put_bytes/end, which must
 * give back the bytes it was decoded from.  Every payload is also read
 * with a sequence of proto_get_* calls chosen by the frame's seq, to reach
 * the readers at every offset and length.
 *
 * Bound: FUZZ_PROTO_MAX bytes of stream, room for two maximum frames.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "util.h"

#include "fuzz.h"

#define FUZZ_PROTO_MAX	(2 * (PROTO_HDR_LEN + PROTO_MAX_PAYLOAD) + 64)
#define FUZZ_PROTO_HDR	4

/* Unmarshal a payload as its receiver does; 0 or -1 like proto_get_end. */
static int
read_typed(const struct proto_msg *msg)
{
	struct proto_rd rd;
	char err[256], name[PROTO_MAX_NAME + 1], text[PROTO_MAX_ERROR + 1];
	char token[PROTO_TOKEN_LEN + 1];
	uint32_t version;
	uint64_t u;
	int64_t job;
	int rc;

	proto_rd_init(&rd, msg);
	switch (msg->type) {
	case PROTO_HELLO:
		proto_get_u32(&rd, &version);
		proto_get_i64(&rd, &job);
		proto_get_u64(&rd, &u);
		proto_get_str(&rd, name, sizeof name);
		proto_get_u64(&rd, &u);
		proto_get_str(&rd, token, sizeof token);
		break;
	case PROTO_HELLO_ACK:
		proto_get_u32(&rd, &version);
		proto_get_u64(&rd, &u);
		break;
	case PROTO_ERROR:
		proto_get_str(&rd, text, sizeof text);
		break;
	default:
		return 0;
	}
	err[0] = '\0';
	rc = proto_get_end(&rd, err, sizeof err);
	if (rc == -1)
		FUZZ_ASSERT(err[0] != '\0');
	else
		FUZZ_ASSERT(rd.off == rd.len);
	return rc;
}

/* Any sequence of gets, picked by seq's bits, then the final check. */
static void
read_generic(const struct proto_msg *msg)
{
	struct proto_rd rd;
	char err[256], small[8], big[300];
	uint64_t bits = msg->seq, v64;
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;
	int64_t i64;
	int i, ok = 1;

	proto_rd_init(&rd, msg);
	for (i = 0; i < 21 && ok; i++, bits >>= 3) {
		switch (bits & 7) {
		case 0:
			ok = proto_get_u8(&rd, &v8) == 0;
			break;
		case 1:
			ok = proto_get_u16(&rd, &v16) == 0;
			break;
		case 2:
			ok = proto_get_u32(&rd, &v32) == 0;
			break;
		case 3:
			ok = proto_get_u64(&rd, &v64) == 0;
			break;
		case 4:
			ok = proto_get_i64(&rd, &i64) == 0;
			break;
		case 5:
			ok = proto_get_str(&rd, small, sizeof small) == 0;
			if (ok)
				FUZZ_ASSERT(strlen(small) < sizeof small);
			break;
		case 6:
			ok = proto_get_str(&rd, big, sizeof big) == 0;
			if (ok)
				FUZZ_ASSERT(strlen(big) < sizeof big);
			break;
		default:
			ok = proto_get_str(&rd, big, 1) == 0;
			if (ok)
				FUZZ_ASSERT(big[0] == '\0');
			break;
		}
		FUZZ_ASSERT(rd.off <= rd.len);
	}
	/* Sticky errors: once failed, every get fails. */
	if (!ok)
		FUZZ_ASSERT(proto_get_u8(&rd, &v8) == -1);
	err[0] = '\0';
	if (proto_get_end(&rd, err, sizeof err) == -1)
		FUZZ_ASSERT(err[0] != '\0');
	else
		FUZZ_ASSERT(ok && rd.off == rd.len);
}

/* Record a frame for the comparison and give it to both readers. */
static void
handle(const struct proto_msg *msg, struct buf *frames)
{
	char err[256];
	unsigned char hdr[PROTO_HDR_LEN];

	FUZZ_ASSERT(msg->type != 0);
	FUZZ_ASSERT((msg->flags & ~PROTO_F_MASK) == 0);
	FUZZ_ASSERT(msg->len <= PROTO_MAX_PAYLOAD);
	FUZZ_ASSERT(msg->len == 0 || msg->data != NULL);

	proto_hdr_encode(hdr, msg->len, msg->type, msg->flags, msg->seq);
	buf_add(frames, hdr, sizeof hdr);
	if (msg->len > 0)
		buf_add(frames, msg->data, msg->len);

	(void)proto_type_name(msg->type);
	(void)proto_type_lookup(msg->type);
	if (proto_msg_check(msg, PROTO_FROM_WORKER, err, sizeof err) == 0 ||
	    proto_msg_check(msg, PROTO_FROM_SERVER, err, sizeof err) == 0)
		(void)read_typed(msg);
	read_generic(msg);
}

/* The end state of one decoding run. */
struct outcome {
	int	 failed;
	int	 partial;
	size_t	 want;
};

static void
decode(const uint8_t *p, size_t n, struct fuzz_rng *rng, struct buf *frames,
    struct outcome *oc)
{
	struct proto_decoder dec;
	struct proto_msg msg;
	char err[256];
	size_t off = 0, chunk, coff, used;
	int rc = 0;

	proto_decoder_init(&dec);
	while (off < n && rc != -1) {
		chunk = rng != NULL ? fuzz_rng_chunk(rng, n - off) : n - off;
		for (coff = 0; coff < chunk;) {
			err[0] = '\0';
			rc = proto_decoder_feed(&dec, p + off + coff,
			    chunk - coff, &used, &msg, err, sizeof err);
			FUZZ_ASSERT(used <= chunk - coff);
			if (rc == -1) {
				FUZZ_ASSERT(err[0] != '\0');
				break;
			}
			coff += used;
			if (rc == 0) {
				FUZZ_ASSERT(coff == chunk);
				continue;
			}
			FUZZ_ASSERT(!proto_decoder_partial(&dec));
			if (rng == NULL) {
				/*
				 * Fed from a frame boundary: the frame is the
				 * bytes just consumed.  Re-encode it.
				 */
				struct buf b = { 0 };
				size_t at;

				FUZZ_ASSERT(used == PROTO_HDR_LEN + msg.len);
				at = proto_frame_begin(&b, msg.type, msg.flags,
				    msg.seq);
				if (msg.len > 0)
					proto_put_bytes(&b, msg.data, msg.len);
				FUZZ_ASSERT(proto_frame_end(&b, at, err,
				    sizeof err) == 0);
				FUZZ_ASSERT(b.len == used && memcmp(b.data,
				    p + off + coff - used, used) == 0);
				buf_free(&b);
			}
			handle(&msg, frames);
		}
		off += chunk;
	}
	oc->failed = rc == -1;
	if (oc->failed) {
		/* The decoder stays failed. */
		FUZZ_ASSERT(proto_decoder_feed(&dec, p, n, &used, &msg, err,
		    sizeof err) == -1);
		oc->partial = 0;
		oc->want = 0;
	} else {
		oc->partial = proto_decoder_partial(&dec);
		oc->want = proto_decoder_want(&dec);
		FUZZ_ASSERT(oc->want > 0);
	}
	proto_decoder_free(&dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf f1 = { 0 }, f2 = { 0 };
	struct outcome o1, o2;
	struct fuzz_rng rng;

	if (size < FUZZ_PROTO_HDR || size - FUZZ_PROTO_HDR > FUZZ_PROTO_MAX)
		return 0;
	fuzz_rng_init(&rng, data, FUZZ_PROTO_HDR);

	decode(data + FUZZ_PROTO_HDR, size - FUZZ_PROTO_HDR, &rng, &f1, &o1);
	decode(data + FUZZ_PROTO_HDR, size - FUZZ_PROTO_HDR, NULL, &f2, &o2);

	FUZZ_ASSERT(o1.failed == o2.failed);
	FUZZ_ASSERT(o1.partial == o2.partial);
	FUZZ_ASSERT(o1.want == o2.want);
	FUZZ_ASSERT(f1.len == f2.len &&
	    (f1.len == 0 || memcmp(f1.data, f2.data, f1.len) == 0));
	buf_free(&f1);
	buf_free(&f2);
	return 0;
}
