/*
 * proto: framing and marshalling for the log socket; the wire format is
 * written down in proto.h.  Everything here is explicit byte-by-byte
 * big-endian code: no struct ever goes on the wire.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"

/* The message table: one row per type (see proto.h for payload layouts). */
static const struct proto_type_info proto_types[] = {
	{ PROTO_HELLO, "HELLO", PROTO_FROM_WORKER,
	    4 + 8 + 8 + 4 + 1 + 8 + 4 + PROTO_TOKEN_LEN,
	    4 + 8 + 8 + 4 + PROTO_MAX_NAME + 8 + 4 + PROTO_TOKEN_LEN },
	{ PROTO_HELLO_ACK, "HELLO_ACK", PROTO_FROM_SERVER, 4 + 8, 4 + 8 },
	{ PROTO_ERROR, "ERROR", PROTO_FROM_SERVER, 4, 4 + PROTO_MAX_ERROR },
	{ PROTO_LOG, "LOG", PROTO_FROM_WORKER, 1, PROTO_MAX_PAYLOAD },
	{ PROTO_ACK, "ACK", PROTO_FROM_SERVER, 0, 0 },
	{ PROTO_END, "END", PROTO_FROM_WORKER, 0, 0 },
};

const struct proto_type_info *
proto_type_lookup(uint16_t type)
{
	size_t i;

	for (i = 0; i < nitems(proto_types); i++) {
		if ((uint16_t)proto_types[i].type == type)
			return &proto_types[i];
	}
	return NULL;
}

const char *
proto_type_name(uint16_t type)
{
	const struct proto_type_info *ti = proto_type_lookup(type);

	return ti != NULL ? ti->name : "unknown";
}

int
proto_msg_check(const struct proto_msg *msg, int from, char *err,
    size_t errsz)
{
	const struct proto_type_info *ti = proto_type_lookup(msg->type);

	if (ti == NULL) {
		snprintf(err, errsz, "unknown message type %u",
		    (unsigned)msg->type);
		return -1;
	}
	if ((ti->from & from) == 0) {
		snprintf(err, errsz, "%s sent by the wrong side", ti->name);
		return -1;
	}
	if (msg->len < ti->min_payload || msg->len > ti->max_payload) {
		snprintf(err, errsz, "%s payload of %u bytes outside %u..%u",
		    ti->name, (unsigned)msg->len, (unsigned)ti->min_payload,
		    (unsigned)ti->max_payload);
		return -1;
	}
	return 0;
}

/* ---- Big-endian helpers ---------------------------------------------- */

static void
be_put(unsigned char *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t
be_get(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

void
proto_hdr_encode(unsigned char out[PROTO_HDR_LEN], uint32_t len,
    uint16_t type, uint16_t flags, uint64_t seq)
{
	be_put(out, len, 4);
	be_put(out + 4, type, 2);
	be_put(out + 6, flags, 2);
	be_put(out + 8, seq, 8);
}

static void
hdr_decode(const unsigned char in[PROTO_HDR_LEN], struct proto_msg *msg)
{
	msg->len = (uint32_t)be_get(in, 4);
	msg->type = (uint16_t)be_get(in + 4, 2);
	msg->flags = (uint16_t)be_get(in + 6, 2);
	msg->seq = be_get(in + 8, 8);
	msg->data = NULL;
}

/* Framing checks shared by the decoder paths. */
static int
hdr_check(const struct proto_msg *msg, char *err, size_t errsz)
{
	if (msg->len > PROTO_MAX_PAYLOAD) {
		snprintf(err, errsz, "frame payload of %u bytes exceeds "
		    "maximum %u", (unsigned)msg->len, PROTO_MAX_PAYLOAD);
		return -1;
	}
	if (msg->type == 0) {
		snprintf(err, errsz, "frame of type 0");
		return -1;
	}
	if (msg->flags & ~PROTO_F_MASK) {
		snprintf(err, errsz, "frame type %u has unknown flags 0x%04x",
		    (unsigned)msg->type, (unsigned)msg->flags);
		return -1;
	}
	return 0;
}

/* ---- Building -------------------------------------------------------- */

size_t
proto_frame_begin(struct buf *b, uint16_t type, uint16_t flags, uint64_t seq)
{
	unsigned char hdr[PROTO_HDR_LEN];
	size_t start = b->len;

	proto_hdr_encode(hdr, 0, type, flags, seq);
	buf_add(b, hdr, sizeof hdr);
	return start;
}

int
proto_frame_end(struct buf *b, size_t start, char *err, size_t errsz)
{
	size_t plen;

	if (start > b->len || b->len - start < PROTO_HDR_LEN) {
		snprintf(err, errsz, "frame end without a frame begin");
		return -1;
	}
	plen = b->len - start - PROTO_HDR_LEN;
	if (plen > PROTO_MAX_PAYLOAD) {
		snprintf(err, errsz, "frame payload of %zu bytes exceeds "
		    "maximum %u", plen, PROTO_MAX_PAYLOAD);
		b->len = start;
		if (b->data != NULL)
			b->data[b->len] = '\0';
		return -1;
	}
	be_put((unsigned char *)b->data + start, plen, 4);
	return 0;
}

void
proto_put_u8(struct buf *b, uint8_t v)
{
	buf_add(b, &v, 1);
}

void
proto_put_u16(struct buf *b, uint16_t v)
{
	unsigned char p[2];

	be_put(p, v, 2);
	buf_add(b, p, 2);
}

void
proto_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4];

	be_put(p, v, 4);
	buf_add(b, p, 4);
}

void
proto_put_u64(struct buf *b, uint64_t v)
{
	unsigned char p[8];

	be_put(p, v, 8);
	buf_add(b, p, 8);
}

void
proto_put_i64(struct buf *b, int64_t v)
{
	proto_put_u64(b, (uint64_t)v);
}

void
proto_put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	/* Longer strings cannot fit a frame; proto_frame_end() refuses them. */
	proto_put_u32(b, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
	buf_add(b, s, n);
}

void
proto_put_bytes(struct buf *b, const void *p, size_t n)
{
	buf_add(b, p, n);
}

/* ---- Reading --------------------------------------------------------- */

void
proto_rd_init(struct proto_rd *r, const struct proto_msg *msg)
{
	r->p = msg->data;
	r->len = msg->len;
	r->off = 0;
	r->why = NULL;
	r->why_off = 0;
}

static int
rd_fail(struct proto_rd *r, const char *why)
{
	if (r->why == NULL) {
		r->why = why;
		r->why_off = r->off;
	}
	return -1;
}

static int
rd_take(struct proto_rd *r, size_t n, const char *what, uint64_t *v)
{
	if (r->why != NULL)
		return -1;
	if (r->len - r->off < n)
		return rd_fail(r, what);
	*v = be_get(r->p + r->off, n);
	r->off += n;
	return 0;
}

int
proto_get_u8(struct proto_rd *r, uint8_t *out)
{
	uint64_t v;

	if (rd_take(r, 1, "truncated u8", &v) == -1)
		return -1;
	*out = (uint8_t)v;
	return 0;
}

int
proto_get_u16(struct proto_rd *r, uint16_t *out)
{
	uint64_t v;

	if (rd_take(r, 2, "truncated u16", &v) == -1)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int
proto_get_u32(struct proto_rd *r, uint32_t *out)
{
	uint64_t v;

	if (rd_take(r, 4, "truncated u32", &v) == -1)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
proto_get_u64(struct proto_rd *r, uint64_t *out)
{
	return rd_take(r, 8, "truncated u64", out);
}

int
proto_get_i64(struct proto_rd *r, int64_t *out)
{
	uint64_t v;

	if (rd_take(r, 8, "truncated i64", &v) == -1)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int
proto_get_str(struct proto_rd *r, char *dst, size_t dstsz)
{
	uint64_t n;
	size_t start = r->off;

	if (dstsz > 0)
		dst[0] = '\0';
	if (rd_take(r, 4, "truncated string length", &n) == -1)
		return -1;
	if (n > r->len - r->off) {
		r->off = start;
		return rd_fail(r, "truncated string");
	}
	if (dstsz == 0 || n > dstsz - 1) {
		r->off = start;
		return rd_fail(r, "string too long");
	}
	if (memchr(r->p + r->off, '\0', n) != NULL) {
		r->off = start;
		return rd_fail(r, "string contains a NUL byte");
	}
	memcpy(dst, r->p + r->off, n);
	dst[n] = '\0';
	r->off += n;
	return 0;
}

int
proto_get_end(struct proto_rd *r, char *err, size_t errsz)
{
	if (r->why != NULL) {
		snprintf(err, errsz, "%s at offset %zu", r->why, r->why_off);
		return -1;
	}
	if (r->off != r->len) {
		snprintf(err, errsz, "%zu leftover bytes at offset %zu",
		    r->len - r->off, r->off);
		return -1;
	}
	return 0;
}

/* ---- Incremental decoder --------------------------------------------- */

void
proto_decoder_init(struct proto_decoder *d)
{
	memset(d, 0, sizeof *d);
}

void
proto_decoder_free(struct proto_decoder *d)
{
	free(d->payload);
	memset(d, 0, sizeof *d);
}

size_t
proto_decoder_want(const struct proto_decoder *d)
{
	if (d->hdr_have < PROTO_HDR_LEN)
		return PROTO_HDR_LEN - d->hdr_have;
	return d->cur.len - d->payload_have;
}

int
proto_decoder_partial(const struct proto_decoder *d)
{
	return d->hdr_have > 0;
}

int
proto_decoder_feed(struct proto_decoder *d, const void *data, size_t len,
    size_t *used, struct proto_msg *msg, char *err, size_t errsz)
{
	const unsigned char *p = data;
	size_t off = 0, n;

	*used = 0;
	if (d->failed) {
		snprintf(err, errsz, "decoder failed earlier");
		return -1;
	}

	/* Fast path: a whole frame at the start of an empty decoder. */
	if (d->hdr_have == 0 && len >= PROTO_HDR_LEN) {
		hdr_decode(p, &d->cur);
		if (hdr_check(&d->cur, err, errsz) == -1) {
			d->failed = 1;
			return -1;
		}
		if (len - PROTO_HDR_LEN >= d->cur.len) {
			*msg = d->cur;
			msg->data = p + PROTO_HDR_LEN;
			*used = PROTO_HDR_LEN + d->cur.len;
			return 1;
		}
		memcpy(d->hdr, p, PROTO_HDR_LEN);
		d->hdr_have = PROTO_HDR_LEN;
		off = PROTO_HDR_LEN;
		d->payload_have = 0;
	}

	if (d->hdr_have < PROTO_HDR_LEN) {
		n = PROTO_HDR_LEN - d->hdr_have;
		if (n > len - off)
			n = len - off;
		memcpy(d->hdr + d->hdr_have, p + off, n);
		d->hdr_have += n;
		off += n;
		if (d->hdr_have < PROTO_HDR_LEN) {
			*used = off;
			return 0;
		}
		hdr_decode(d->hdr, &d->cur);
		if (hdr_check(&d->cur, err, errsz) == -1) {
			d->failed = 1;
			*used = off;
			return -1;
		}
		d->payload_have = 0;
	}

	if (d->cur.len > d->payload_cap) {
		d->payload = xrealloc(d->payload, d->cur.len);
		d->payload_cap = d->cur.len;
	}
	n = d->cur.len - d->payload_have;
	if (n > len - off)
		n = len - off;
	if (n > 0) {
		memcpy(d->payload + d->payload_have, p + off, n);
		d->payload_have += n;
		off += n;
	}
	*used = off;
	if (d->payload_have < d->cur.len)
		return 0;

	*msg = d->cur;
	msg->data = d->payload;
	d->hdr_have = 0;
	d->payload_have = 0;
	return 1;
}

/* ---- Blocking I/O ---------------------------------------------------- */

/* Wait for fd to become ready for events; 1 ready, 0 timeout, -1 error. */
static int
wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd;
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	int r, left = timeout_ms;

	for (;;) {
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
		if (timeout_ms > 0) {
			int64_t rem = deadline - now_ms();

			left = rem > 0 ? (int)rem : 0;
		}
	}
}

static int
write_iov(int fd, struct iovec *iov, int iovcnt, int timeout_ms, char *err,
    size_t errsz)
{
	struct msghdr mh;
	ssize_t n;
	int use_send = 1, r;

	while (iovcnt > 0) {
		if (iov->iov_len == 0) {
			iov++;
			iovcnt--;
			continue;
		}
		if (use_send) {
			memset(&mh, 0, sizeof mh);
			mh.msg_iov = iov;
			mh.msg_iovlen = (size_t)iovcnt;
			n = sendmsg(fd, &mh, MSG_NOSIGNAL);
			if (n == -1 && errno == ENOTSOCK) {
				use_send = 0;
				continue;
			}
		} else
			n = writev(fd, iov, iovcnt);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				r = wait_fd(fd, POLLOUT, timeout_ms);
				if (r == 1)
					continue;
				if (r == 0) {
					errno = ETIMEDOUT;
					snprintf(err, errsz, "write: timed out "
					    "after %d ms", timeout_ms);
				} else
					snprintf(err, errsz, "poll: %s",
					    strerror(errno));
				return -1;
			}
			snprintf(err, errsz, "write: %s", strerror(errno));
			return -1;
		}
		while (n > 0 && iovcnt > 0) {
			if ((size_t)n >= iov->iov_len) {
				n -= (ssize_t)iov->iov_len;
				iov++;
				iovcnt--;
			} else {
				iov->iov_base = (char *)iov->iov_base + n;
				iov->iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}

int
proto_write_frame(int fd, uint16_t type, uint16_t flags, uint64_t seq,
    const void *payload, size_t len, int timeout_ms, char *err, size_t errsz)
{
	unsigned char hdr[PROTO_HDR_LEN];
	struct iovec iov[2];

	if (len > PROTO_MAX_PAYLOAD) {
		snprintf(err, errsz, "frame payload of %zu bytes exceeds "
		    "maximum %u", len, PROTO_MAX_PAYLOAD);
		errno = EMSGSIZE;
		return -1;
	}
	proto_hdr_encode(hdr, (uint32_t)len, type, flags, seq);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof hdr;
	iov[1].iov_base = (void *)(uintptr_t)payload;
	iov[1].iov_len = len;
	return write_iov(fd, iov, 2, timeout_ms, err, errsz);
}

int
proto_write_buf(int fd, const struct buf *b, int timeout_ms, char *err,
    size_t errsz)
{
	struct iovec iov;

	iov.iov_base = b->data;
	iov.iov_len = b->len;
	return write_iov(fd, &iov, 1, timeout_ms, err, errsz);
}

int
proto_read_frame(int fd, struct proto_decoder *d, struct proto_msg *msg,
    int timeout_ms, char *err, size_t errsz)
{
	unsigned char chunk[16384];
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	size_t want, used;
	ssize_t n;
	int r, left = timeout_ms;

	for (;;) {
		want = proto_decoder_want(d);
		if (want > sizeof chunk)
			want = sizeof chunk;
		r = wait_fd(fd, POLLIN, left);
		if (r == -1) {
			snprintf(err, errsz, "poll: %s", strerror(errno));
			return -1;
		}
		if (r == 0)
			return 0;
		n = read(fd, chunk, want);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				goto again;
			snprintf(err, errsz, "read: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			errno = 0;
			snprintf(err, errsz, "connection closed by peer%s",
			    proto_decoder_partial(d) ? " mid-frame" : "");
			return -1;
		}
		r = proto_decoder_feed(d, chunk, (size_t)n, &used, msg, err,
		    errsz);
		if (r == 1 && msg->len == 0)
			msg->data = d->payload;	/* never into chunk */
		if (r != 0)
			return r;
		/*
		 * A frame with a payload never completes on the decoder's fast
		 * path here, because we read at most the header first: its
		 * data always lives in the decoder, not in chunk.
		 */
again:
		if (timeout_ms == 0)
			left = 0;
		else if (timeout_ms > 0) {
			int64_t rem = deadline - now_ms();

			left = rem > 0 ? (int)rem : 0;
		}
	}
}
