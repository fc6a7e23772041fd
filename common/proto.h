/*
 * proto: the one framing layer of kiln's log socket, modelled on OpenBSD
 * imsg.  kiln-worker streams step output to kilnd over a Unix socket as
 * sequence-numbered frames; kilnd appends them to the job's log file and
 * acknowledges.  This module only frames and marshals: it knows nothing of
 * sockets' owners, files or event loops, never prints and never exits.
 *
 * ======================================================================
 * Log-socket wire format, protocol version 2 (PROTO_VERSION)
 * ======================================================================
 *
 * A connection is a sequence of frames.  Each frame is a 16-byte header
 * followed by `length` bytes of payload.  All integers are big-endian and
 * marshalled byte by byte (never a raw struct):
 *
 *	offset  size  field
 *	     0     4  length   payload bytes, 0 .. PROTO_MAX_PAYLOAD (65536)
 *	     4     2  type     enum proto_type, never 0
 *	     6     2  flags    PROTO_F_*; unknown bits are a protocol error
 *	     8     8  seq      sequence number (meaning depends on type)
 *	    16     -  payload  `length` bytes
 *
 * Payload fields are marshalled with proto_put_* / proto_get_*:
 *	u8/u16/u32/u64   1/2/4/8 bytes, big-endian; i64 travels as its u64
 *	                 two's-complement bit pattern
 *	str              u32 byte count, then that many bytes: no NUL
 *	                 terminator, no embedded NUL
 * A payload must be consumed exactly: leftover bytes are an error.
 *
 * Messages (W = worker → kilnd, S = kilnd → worker):
 *
 *   1 HELLO      W  seq 0.  u32 version, i64 job_id (> 0), u64 stream_id,
 *                   str worker_name (1..PROTO_MAX_NAME bytes, printable
 *                   ASCII), u64 last_seq_known (highest seq the worker has
 *                   seen acknowledged on this stream, 0 if none), str
 *                   token (PROTO_TOKEN_LEN lowercase hex digits: the job's
 *                   log token, picked by the worker when it claimed the
 *                   job; kilnd holds its SHA-256 in the job's row).
 *                   First frame of every connection; nothing else before it,
 *                   and nothing after it before HELLO_ACK: kilnd checks
 *                   that the job is in progress with that worker and the
 *                   token is its own, and refuses (ERROR) otherwise.
 *   2 HELLO_ACK  S  seq 0.  u32 version, u64 last_stored (highest seq of
 *                   this stream kilnd has stored; 0 if none).  The worker
 *                   resends everything after last_stored, in order.  If
 *                   last_seq_known exceeds what kilnd has (its log was
 *                   lost), kilnd logs the loss and answers last_seq_known,
 *                   so the stream continues instead of stalling.
 *   3 ERROR      S  seq 0.  str message (human-readable, at most
 *                   PROTO_MAX_ERROR bytes).  kilnd closes after sending it.
 * 100 LOG        W  seq = chunk sequence number, 1, 2, 3 ... without gaps
 *                   per stream.  Payload = raw step output, 1 or more
 *                   bytes (not marshalled: the payload IS the data).
 * 101 ACK        S  seq = highest seq stored; every LOG up to it is in the
 *                   log file.  Empty payload.  ACKs are cumulative and may
 *                   be batched.  With PROTO_F_FINAL it answers END.
 * 102 END        W  seq = seq of the last LOG (0 for an empty log).  Empty
 *                   payload.  The job's log is complete; kilnd answers
 *                   ACK(seq, PROTO_F_FINAL) and closes.
 *
 * Type ranges: 1-99 session control, 100-199 log stream, 200-299 reserved
 * for live viewers, 300+ unassigned.
 *
 * Why a stream_id as well as a job id: sequence numbers make replay
 * idempotent only within one stream.  If a job id is ever streamed a second
 * time from scratch (a retried job, a restarted worker) the new stream's
 * seq 1 must not be mistaken for a replay of the old stream's seq 1 and
 * silently dropped.  Workers pick a random stream_id per stream_open().
 *
 * Versioning: the version is checked once, at HELLO; a peer speaking
 * another version is answered with ERROR and disconnected.  Any change to
 * the header or to a payload layout bumps PROTO_VERSION.
 * ======================================================================
 */
#ifndef KILN_PROTO_H
#define KILN_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define PROTO_VERSION		2
#define PROTO_HDR_LEN		16
#define PROTO_MAX_PAYLOAD	65536u
#define PROTO_MAX_NAME		255	/* worker_name bytes */
#define PROTO_TOKEN_LEN		64	/* HELLO token: 32 random bytes, hex */
#define PROTO_MAX_ERROR		1024	/* ERROR message bytes */

/* Header flags. */
#define PROTO_F_FINAL		0x0001	/* ACK: answers END; stream closed */
#define PROTO_F_MASK		0x0001	/* all defined bits */

/* One enum of message types, in numbered ranges (see above). */
enum proto_type {
	PROTO_HELLO = 1,
	PROTO_HELLO_ACK = 2,
	PROTO_ERROR = 3,

	PROTO_LOG = 100,
	PROTO_ACK = 101,
	PROTO_END = 102,
};

/* Who may send a message type. */
#define PROTO_FROM_WORKER	0x1
#define PROTO_FROM_SERVER	0x2

/* One row per message type: the table lives in proto.c. */
struct proto_type_info {
	enum proto_type	 type;
	const char	*name;
	int		 from;		/* PROTO_FROM_* */
	uint32_t	 min_payload;
	uint32_t	 max_payload;
};

/* The row for type, or NULL when the type is unknown. */
const struct proto_type_info *proto_type_lookup(uint16_t type);
/* A printable name for logs ("HELLO", or "unknown" for unknown types). */
const char	*proto_type_name(uint16_t type);
/*
 * Check a decoded frame against the table: known type, sent by the right
 * side (PROTO_FROM_*), payload length within bounds.  0 or -1 with err.
 */
struct proto_msg;
int		 proto_msg_check(const struct proto_msg *, int from, char *err,
		     size_t errsz);

/*
 * A decoded frame.  data points into the decoder (or into the chunk fed to
 * it) and is valid only until the next call on that decoder.
 */
struct proto_msg {
	uint16_t		 type;
	uint16_t		 flags;
	uint64_t		 seq;
	uint32_t		 len;
	const unsigned char	*data;
};

/* ---- Building frames ------------------------------------------------- */

/*
 * Frames are built into a struct buf (several may be appended to one buf):
 *
 *	size_t at = proto_frame_begin(&b, PROTO_HELLO, 0, 0);
 *	proto_put_u32(&b, PROTO_VERSION); ...
 *	if (proto_frame_end(&b, at, err, sizeof err) == -1) ...
 *
 * proto_frame_begin() returns the offset of the new header;
 * proto_frame_end() fills in the length, or returns -1 and removes the
 * unfinished frame from the buffer when the payload exceeds
 * PROTO_MAX_PAYLOAD.
 */
size_t	 proto_frame_begin(struct buf *, uint16_t type, uint16_t flags,
	     uint64_t seq);
int	 proto_frame_end(struct buf *, size_t start, char *err, size_t errsz);

void	 proto_put_u8(struct buf *, uint8_t);
void	 proto_put_u16(struct buf *, uint16_t);
void	 proto_put_u32(struct buf *, uint32_t);
void	 proto_put_u64(struct buf *, uint64_t);
void	 proto_put_i64(struct buf *, int64_t);
void	 proto_put_str(struct buf *, const char *);
void	 proto_put_bytes(struct buf *, const void *, size_t);

/* Encode a 16-byte header into out (for writers that use an iovec). */
void	 proto_hdr_encode(unsigned char out[PROTO_HDR_LEN], uint32_t len,
	     uint16_t type, uint16_t flags, uint64_t seq);

/* ---- Reading payloads ------------------------------------------------ */

/*
 * A cursor over one payload.  Errors are sticky: after the first failure
 * every get fails, and proto_get_end() reports the first reason.  So a
 * handler can get every field and check once at the end.
 */
struct proto_rd {
	const unsigned char	*p;
	size_t			 len;
	size_t			 off;
	const char		*why;	/* first failure, static text */
	size_t			 why_off;
};

void	 proto_rd_init(struct proto_rd *, const struct proto_msg *);
int	 proto_get_u8(struct proto_rd *, uint8_t *);
int	 proto_get_u16(struct proto_rd *, uint16_t *);
int	 proto_get_u32(struct proto_rd *, uint32_t *);
int	 proto_get_u64(struct proto_rd *, uint64_t *);
int	 proto_get_i64(struct proto_rd *, int64_t *);
/*
 * Copy a str field into dst (NUL-terminated).  Fails when it does not fit
 * in dstsz - 1 bytes or contains a NUL byte.
 */
int	 proto_get_str(struct proto_rd *, char *dst, size_t dstsz);
/*
 * Final check: 0 when every get succeeded and the payload was consumed
 * exactly; -1 with a reason naming the offset ("truncated u64 at offset
 * 12", "3 leftover bytes at offset 20") otherwise.
 */
int	 proto_get_end(struct proto_rd *, char *err, size_t errsz);

/* ---- Incremental decoding (nonblocking readers) ------------------------ */

/*
 * Turns arbitrary byte chunks into frames.  Checks the framing only
 * (length bound, flag bits, type not 0); message semantics are the
 * caller's, see proto_msg_check().  After an error the decoder stays
 * failed.
 */
struct proto_decoder {
	unsigned char	 hdr[PROTO_HDR_LEN];
	size_t		 hdr_have;
	struct proto_msg cur;		/* header of the frame being read */
	unsigned char	*payload;	/* grows up to PROTO_MAX_PAYLOAD */
	size_t		 payload_cap;
	size_t		 payload_have;
	int		 failed;
};

void	 proto_decoder_init(struct proto_decoder *);
void	 proto_decoder_free(struct proto_decoder *);	/* frees the payload buffer */
/*
 * Consume bytes from data[0..len) until one frame is complete.  Sets *used
 * to the bytes consumed.  Returns 1 with *msg filled when a frame is
 * complete (the caller feeds the rest of the chunk afterwards), 0 when all
 * len bytes were consumed without completing one, -1 on a framing error
 * (with err).  A frame wholly inside data is returned without copying:
 * msg->data then points into data.
 */
int	 proto_decoder_feed(struct proto_decoder *, const void *data,
	     size_t len, size_t *used, struct proto_msg *msg, char *err,
	     size_t errsz);
/* Bytes still needed to complete the current frame (header first). */
size_t	 proto_decoder_want(const struct proto_decoder *);
/* 1 when the decoder holds part of a frame. */
int	 proto_decoder_partial(const struct proto_decoder *);

/* ---- Blocking I/O (the worker) ----------------------------------------- */

/*
 * Write one whole frame to fd.  Uses MSG_NOSIGNAL on sockets, so a closed
 * peer is EPIPE, not SIGPIPE.  Works on blocking and nonblocking fds, but
 * timeout_ms (< 0: no limit) can only apply to a nonblocking one: it
 * bounds each wait for the socket to drain.  0 or -1 with err.  A failed
 * write may have sent part of the frame: the connection is then unusable.
 */
int	 proto_write_frame(int fd, uint16_t type, uint16_t flags, uint64_t seq,
	     const void *payload, size_t len, int timeout_ms, char *err,
	     size_t errsz);
/* Write already built frames (proto_frame_begin/end) from a buf. */
int	 proto_write_buf(int fd, const struct buf *, int timeout_ms, char *err,
	     size_t errsz);
/*
 * Read until one frame is complete or timeout_ms passes (0: only what is
 * already there; < 0: no limit).  Never reads past the end of the current
 * frame, so no bytes are held back between calls except the partial frame
 * in the decoder.  Returns 1 with *msg (valid until the next call), 0 on
 * timeout (partial state kept: call again), -1 on error or end of file
 * (with err; errno is 0 at end of file).
 */
int	 proto_read_frame(int fd, struct proto_decoder *, struct proto_msg *,
	     int timeout_ms, char *err, size_t errsz);

#endif
