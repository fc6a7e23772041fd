/*
 * stream: the worker's log client (API in stream.h, wire format in
 * common/proto.h).
 *
 * Every LOG frame the worker produces goes on one queue, in seq order, and
 * leaves it only when kilnd's cumulative ACK covers it.  A frame's bytes
 * live in memory (while connected, up to STREAM_MEM_MAX in total) or in
 * the spool file (while disconnected, or past that budget).  Three seq
 * counters describe the whole state:
 *
 *	acked  <=  sent  <  next_seq
 *	  |          |         +-- seq the next new frame gets
 *	  |          +------------ highest seq written to the current connection
 *	  +----------------------- highest seq kilnd acknowledged
 *
 * Frames in (acked, sent] are in flight (at most STREAM_WINDOW of them);
 * frames in (sent, next_seq) wait for the window or for a connection.  On
 * (re)connect, HELLO_ACK tells us kilnd's last stored seq: frames up to it
 * are dropped as acknowledged and `sent` restarts there, so the next frame
 * written is exactly the first one kilnd lacks.
 *
 * The HELLO_ACK is not waited for where the HELLO is written: kilnd
 * answers only once PostgreSQL has attached the job's log, and the job's
 * preparation (workspace, the first step's start) runs meanwhile.  The
 * first output waits for it (kilnd refuses a frame before HELLO_ACK, and
 * output held back would be missing from the live log).
 *
 * The stream_id in HELLO is random per stream_open(); see proto.h for why.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "util.h"

#include "stream.h"

/*
 * Frames in flight, and what memory holds while connected: a full window
 * and the frame being added.  Four times as many in flight made no
 * difference to bench/log.sh's times beyond its noise, only to the
 * worker's memory (up to 4 MiB more while kilnd lags).
 */
#define STREAM_WINDOW		16
#define STREAM_MEM_MAX		((STREAM_WINDOW + 1) * PROTO_MAX_PAYLOAD)
#define STREAM_IO_TIMEOUT_MS	10000	/* one write or one wait for an ACK */
#define STREAM_HELLO_TIMEOUT_MS	5000
#define STREAM_CLOSE_TIMEOUT_MS	10000	/* default; stream_set_close_wait() */
#define STREAM_BACKOFF_MIN_MS	50
#define STREAM_BACKOFF_MAX_MS	2000
#define STREAM_SPOOL_HDR	12	/* u64 seq, u32 len */

struct stream_frame {
	TAILQ_ENTRY(stream_frame) entry;
	uint64_t		 seq;
	uint32_t		 len;
	unsigned char		*data;		/* NULL when in the spool */
	off_t			 spool_off;	/* of the data, when spooled */
};
TAILQ_HEAD(stream_frames, stream_frame);

struct stream {
	char			*socket_path;
	char			*name;
	char			*spool_path;
	char			 token[PROTO_TOKEN_LEN + 1];
	int64_t			 job_id;
	uint64_t		 stream_id;

	int			 fd;		/* -1 while disconnected */
	int64_t			 hello_by;	/* HELLO_ACK due, ms; 0: none */
	struct proto_decoder	 dec;
	int			 end_sent;	/* END sent on this connection */
	int			 end_acked;	/* final ACK received */
	int64_t			 retry_at;	/* next connect attempt, ms */
	int			 close_wait_ms;	/* stream_close()'s bound */
	int			 backoff_ms;

	struct stream_frames	 frames;	/* unacknowledged, by seq */
	uint64_t		 next_seq;
	uint64_t		 taken_bytes;	/* by stream_write() */
	uint64_t		 taken_lines;
	uint64_t		 sent;
	uint64_t		 acked;
	size_t			 mem_bytes;

	int			 spoolfd;
	off_t			 spool_end;
	size_t			 spooled;	/* frames in the spool */
	unsigned char		*scratch;	/* spool reads, PROTO_MAX_PAYLOAD */

	/*
	 * Output that could be neither held in memory nor spooled (the file
	 * system full): counted, and said in the log by a marker frame placed
	 * where it went missing, before the next frame kept (or END).
	 */
	uint64_t		 lost_bytes;	/* in all */
	uint64_t		 lost_owed;	/* since the last marker */
	char			 lost_why[512];

	char			 lasterr[512];
};

static void
st_seterr(struct stream *s, const char *fmt, ...) KILN_PRINTF(2, 3);

static void
st_seterr(struct stream *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->lasterr, sizeof s->lasterr, fmt, ap);
	va_end(ap);
}

static void
st_disconnect(struct stream *s)
{
	if (s->fd == -1)
		return;
	log_debug("stream: job %" PRId64 ": disconnected: %s", s->job_id,
	    s->lasterr);
	close(s->fd);
	s->fd = -1;
	proto_decoder_free(&s->dec);
	proto_decoder_init(&s->dec);
	s->sent = s->acked;
	s->end_sent = 0;
	s->hello_by = 0;
	s->retry_at = now_ms() + s->backoff_ms;
	s->backoff_ms *= 2;
	if (s->backoff_ms > STREAM_BACKOFF_MAX_MS)
		s->backoff_ms = STREAM_BACKOFF_MAX_MS;
}

/* Drop every frame up to seq: kilnd has it. */
static void
st_release(struct stream *s, uint64_t seq)
{
	struct stream_frame *f;

	while ((f = TAILQ_FIRST(&s->frames)) != NULL && f->seq <= seq) {
		TAILQ_REMOVE(&s->frames, f, entry);
		if (f->data != NULL) {
			s->mem_bytes -= f->len;
			free(f->data);
		} else
			s->spooled--;
		free(f);
	}
	if (seq > s->acked)
		s->acked = seq;
	if (s->sent < s->acked)
		s->sent = s->acked;
	if (s->spooled == 0 && s->spool_end > 0) {
		/* Nothing in the spool is needed any more: start it over. */
		if (ftruncate(s->spoolfd, 0) == 0)
			s->spool_end = 0;
	}
}

/* Append f's bytes to the spool as a self-describing record. */
static int
st_spool(struct stream *s, struct stream_frame *f, const void *data)
{
	unsigned char hdr[STREAM_SPOOL_HDR];
	struct iovec iov[2];
	ssize_t n;
	size_t i;

	for (i = 0; i < 8; i++)
		hdr[i] = (unsigned char)(f->seq >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		hdr[8 + i] = (unsigned char)(f->len >> (24 - 8 * i));
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof hdr;
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = f->len;
	n = pwritev(s->spoolfd, iov, 2, s->spool_end);
	if (n != (ssize_t)(sizeof hdr + f->len)) {
		st_seterr(s, "write %s: %s", s->spool_path,
		    n == -1 ? strerror(errno) : "short write");
		return -1;
	}
	f->spool_off = s->spool_end + (off_t)sizeof hdr;
	s->spool_end += (off_t)n;
	s->spooled++;
	return 0;
}

/* Handle one frame from kilnd; -1 means the connection must go. */
static int
st_handle(struct stream *s, const struct proto_msg *msg)
{
	struct proto_rd rd;
	char text[PROTO_MAX_ERROR + 1], esc[PROTO_MAX_ERROR * 4 + 8], err[256];

	if (proto_msg_check(msg, PROTO_FROM_SERVER, err, sizeof err) == -1) {
		st_seterr(s, "bad frame from kilnd: %s", err);
		return -1;
	}
	switch (msg->type) {
	case PROTO_ACK:
		if (msg->seq > s->sent || msg->seq < s->acked) {
			st_seterr(s, "kilnd acknowledged seq %" PRIu64 " but "
			    "%" PRIu64 "..%" PRIu64 " are in flight", msg->seq,
			    s->acked, s->sent);
			return -1;
		}
		st_release(s, msg->seq);
		/* Progress: the next reconnect may be quick again. */
		s->backoff_ms = STREAM_BACKOFF_MIN_MS;
		if (msg->flags & PROTO_F_FINAL) {
			if (!s->end_sent || msg->seq != s->next_seq - 1) {
				st_seterr(s, "unexpected final ACK at seq %"
				    PRIu64, msg->seq);
				return -1;
			}
			s->end_acked = 1;
		}
		return 0;
	case PROTO_ERROR:
		proto_rd_init(&rd, msg);
		if (proto_get_str(&rd, text, sizeof text) == -1 ||
		    proto_get_end(&rd, err, sizeof err) == -1)
			snprintf(text, sizeof text, "(unreadable ERROR frame)");
		log_escape(text, PROTO_MAX_ERROR, esc, sizeof esc);
		st_seterr(s, "kilnd: %s", esc);
		return -1;
	default:
		st_seterr(s, "unexpected %s from kilnd",
		    proto_type_name(msg->type));
		return -1;
	}
}

/*
 * Read and handle what kilnd sent, waiting up to timeout_ms for the first
 * frame.  1 handled at least one frame, 0 nothing arrived, -1 disconnected.
 */
static int
st_read(struct stream *s, int timeout_ms)
{
	struct proto_msg msg;
	char err[256];
	int r, got = 0;

	for (;;) {
		r = proto_read_frame(s->fd, &s->dec, &msg, got ? 0 : timeout_ms,
		    err, sizeof err);
		if (r == 0)
			return got;
		if (r == -1) {
			st_seterr(s, "%s", err);
			st_disconnect(s);
			return -1;
		}
		if (st_handle(s, &msg) == -1) {
			st_disconnect(s);
			return -1;
		}
		got = 1;
	}
}

/* Connect and say HELLO; its answer is st_hello_ack()'s. */
static int
st_connect(struct stream *s)
{
	struct sockaddr_un sun;
	struct buf b = { 0 };
	char err[256];
	size_t at;
	int r;

	s->retry_at = now_ms() + s->backoff_ms;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, s->socket_path, strlen(s->socket_path));
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd == -1) {
		st_seterr(s, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(s->fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		st_seterr(s, "connect %s: %s", s->socket_path,
		    strerror(errno));
		st_disconnect(s);
		return -1;
	}

	at = proto_frame_begin(&b, PROTO_HELLO, 0, 0);
	proto_put_u32(&b, PROTO_VERSION);
	proto_put_i64(&b, s->job_id);
	proto_put_u64(&b, s->stream_id);
	proto_put_str(&b, s->name);
	proto_put_u64(&b, s->acked);
	proto_put_str(&b, s->token);
	r = proto_frame_end(&b, at, err, sizeof err);
	if (r == 0)
		r = proto_write_buf(s->fd, &b, STREAM_IO_TIMEOUT_MS, err,
		    sizeof err);
	buf_free(&b);
	if (r == -1) {
		st_seterr(s, "HELLO: %s", err);
		st_disconnect(s);
		return -1;
	}
	s->hello_by = now_ms() + STREAM_HELLO_TIMEOUT_MS;
	return 0;
}

/*
 * The HELLO's answer, waiting up to timeout_ms (bounded by the HELLO's
 * own deadline): 1 when it came and `sent` is kilnd's stored seq, 0 when
 * it has not come yet, -1 when the connection went.
 */
static int
st_hello_ack(struct stream *s, int timeout_ms)
{
	struct proto_msg msg;
	char err[256];
	uint32_t version;
	uint64_t stored;
	struct proto_rd rd;
	int64_t left;
	int r;

	left = s->hello_by - now_ms();
	if (left < 0)
		left = 0;
	if (timeout_ms > left)
		timeout_ms = (int)left;
	r = proto_read_frame(s->fd, &s->dec, &msg, timeout_ms, err,
	    sizeof err);
	if (r == 0 && now_ms() < s->hello_by)
		return 0;
	if (r == 0)
		snprintf(err, sizeof err, "no HELLO_ACK within %d ms",
		    STREAM_HELLO_TIMEOUT_MS);
	if (r != 1) {
		st_seterr(s, "HELLO: %s", err);
		st_disconnect(s);
		return -1;
	}
	if (msg.type != PROTO_HELLO_ACK) {
		if (st_handle(s, &msg) == 0)
			st_seterr(s, "%s instead of HELLO_ACK",
			    proto_type_name(msg.type));
		st_disconnect(s);
		return -1;
	}
	proto_rd_init(&rd, &msg);
	proto_get_u32(&rd, &version);
	proto_get_u64(&rd, &stored);
	if (proto_get_end(&rd, err, sizeof err) == -1) {
		st_seterr(s, "bad HELLO_ACK: %s", err);
		st_disconnect(s);
		return -1;
	}
	if (version != PROTO_VERSION || stored >= s->next_seq ||
	    stored < s->acked) {
		/*
		 * kilnd claims frames we never produced, or forgot ones it
		 * acknowledged: replaying cannot make the log right.
		 */
		st_seterr(s, "kilnd (protocol %" PRIu32 ") has seq %" PRIu64
		    " stored; this stream acknowledged %" PRIu64 " and "
		    "produced %" PRIu64, version, stored, s->acked,
		    s->next_seq - 1);
		st_disconnect(s);
		return -1;
	}
	s->hello_by = 0;
	st_release(s, stored);
	s->sent = stored;
	s->end_sent = 0;
	log_debug("stream: job %" PRId64 ": connected, kilnd has seq %" PRIu64
	    ", %" PRIu64 " to send", s->job_id, stored,
	    s->next_seq - 1 - stored);
	return 1;
}

/* Write one queued frame to the connection. */
static int
st_send(struct stream *s, struct stream_frame *f)
{
	const void *data = f->data;
	char err[256];
	ssize_t n;

	if (data == NULL) {
		n = pread(s->spoolfd, s->scratch, f->len, f->spool_off);
		if (n != (ssize_t)f->len) {
			st_seterr(s, "read %s: %s", s->spool_path,
			    n == -1 ? strerror(errno) : "short read");
			return -1;
		}
		data = s->scratch;
	}
	if (proto_write_frame(s->fd, PROTO_LOG, 0, f->seq, data, f->len,
	    STREAM_IO_TIMEOUT_MS, err, sizeof err) == -1) {
		st_seterr(s, "%s", err);
		st_disconnect(s);
		return 1;	/* connection lost, frame still queued */
	}
	s->sent = f->seq;
	return 0;
}

/*
 * Make progress: connect if it is time, send every queued frame the
 * window allows, waiting for ACKs while the window is full, collect ACKs.
 * Returns -1 only on a local (spool) failure; connection trouble just
 * leaves frames queued.
 */
static int
st_pump(struct stream *s)
{
	struct stream_frame *f;
	int r;

	if (s->fd == -1 && now_ms() >= s->retry_at)
		(void)st_connect(s);
	/* The first output waits: unsent, a live log would show nothing. */
	if (s->fd != -1 && s->hello_by != 0 &&
	    st_hello_ack(s, STREAM_HELLO_TIMEOUT_MS) != 1)
		return 0;
	while (s->fd != -1 && s->sent + 1 < s->next_seq) {
		if (s->sent - s->acked >= STREAM_WINDOW) {
			r = st_read(s, STREAM_IO_TIMEOUT_MS);
			if (r == 0) {
				st_seterr(s, "no ACK from kilnd within %d ms",
				    STREAM_IO_TIMEOUT_MS);
				st_disconnect(s);
			}
			continue;
		}
		TAILQ_FOREACH(f, &s->frames, entry) {
			if (f->seq == s->sent + 1)
				break;
		}
		if (f == NULL) {
			st_seterr(s, "frame %" PRIu64 " missing from the "
			    "queue", s->sent + 1);
			return -1;
		}
		r = st_send(s, f);
		if (r == -1)
			return -1;
	}
	if (s->fd != -1)
		(void)st_read(s, 0);
	return 0;
}

struct stream *
stream_open(const char *socket_path, int64_t job_id, const char *worker_name,
    const char *token, const char *spool_path, char *err, size_t errsz)
{
	struct sockaddr_un sun;
	struct stream *s;
	size_t i;

	if (job_id <= 0) {
		snprintf(err, errsz, "bad job id %" PRId64, job_id);
		return NULL;
	}
	if (strlen(socket_path) >= sizeof sun.sun_path) {
		snprintf(err, errsz, "log socket path %s is longer than %zu "
		    "bytes", socket_path, sizeof sun.sun_path - 1);
		return NULL;
	}
	for (i = 0; worker_name[i] != '\0'; i++) {
		if (worker_name[i] < 0x20 || worker_name[i] > 0x7e)
			break;
	}
	if (i == 0 || worker_name[i] != '\0' || i > PROTO_MAX_NAME) {
		snprintf(err, errsz, "worker name must be 1-%d printable ASCII "
		    "characters", PROTO_MAX_NAME);
		return NULL;
	}

	if (strlen(token) != PROTO_TOKEN_LEN ||
	    strspn(token, "0123456789abcdef") != PROTO_TOKEN_LEN) {
		snprintf(err, errsz, "the log token must be %d lowercase hex "
		    "digits", PROTO_TOKEN_LEN);
		return NULL;
	}

	s = xcalloc(1, sizeof *s);
	memcpy(s->token, token, sizeof s->token);
	s->spoolfd = open(spool_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (s->spoolfd == -1) {
		snprintf(err, errsz, "open %s: %s", spool_path,
		    strerror(errno));
		free(s);
		return NULL;
	}
	s->socket_path = xstrdup(socket_path);
	s->name = xstrdup(worker_name);
	s->spool_path = xstrdup(spool_path);
	s->job_id = job_id;
	if (random_bytes(&s->stream_id, sizeof s->stream_id) == -1)
		s->stream_id = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
	s->fd = -1;
	proto_decoder_init(&s->dec);
	TAILQ_INIT(&s->frames);
	s->next_seq = 1;
	s->backoff_ms = STREAM_BACKOFF_MIN_MS;
	s->close_wait_ms = STREAM_CLOSE_TIMEOUT_MS;
	s->scratch = xmalloc(PROTO_MAX_PAYLOAD);
	(void)st_connect(s);	/* kilnd down: we spool and retry later */
	return s;
}

/* A frame of seq holding a copy of data in memory. */
static struct stream_frame *
st_mem_frame(struct stream *s, uint64_t seq, const void *data, size_t n)
{
	struct stream_frame *f = xcalloc(1, sizeof *f);

	f->seq = seq;
	f->len = (uint32_t)n;
	f->data = xmalloc(n);
	memcpy(f->data, data, n);
	s->mem_bytes += n;
	return f;
}

/*
 * The marker owed for output lost since the last one, as frame seq (in
 * memory: it is small and must not depend on the full file system).
 */
static struct stream_frame *
st_lost_marker(struct stream *s, uint64_t seq)
{
	char text[768];
	int n;

	n = snprintf(text, sizeof text, "\n##[error]kiln: %" PRIu64 " bytes "
	    "of this job's output were lost here: %s\n", s->lost_owed,
	    s->lost_why);
	if (n < 0 || (size_t)n >= sizeof text)
		n = (int)sizeof text - 1;
	s->lost_owed = 0;
	return st_mem_frame(s, seq, text, (size_t)n);
}

int
stream_write(struct stream *s, const void *data, size_t len)
{
	const unsigned char *p = data, *nl, *e = p + len;
	struct stream_frame *f, *mark;
	uint64_t seq;
	size_t n;

	s->taken_bytes += len;
	/* memchr, not a byte loop: this runs over every byte of the log. */
	for (nl = p; (nl = memchr(nl, '\n', (size_t)(e - nl))) != NULL; nl++)
		s->taken_lines++;
	while (len > 0) {
		n = len > PROTO_MAX_PAYLOAD ? PROTO_MAX_PAYLOAD : len;
		/* A marker owed goes just before the next frame kept. */
		seq = s->next_seq + (s->lost_owed > 0);
		if (s->fd != -1 && s->mem_bytes + n <= STREAM_MEM_MAX)
			f = st_mem_frame(s, seq, p, n);
		else {
			f = xcalloc(1, sizeof *f);
			f->seq = seq;
			f->len = (uint32_t)n;
			if (st_spool(s, f, p) == -1) {
				free(f);
				f = NULL;
			}
		}
		if (f == NULL) {
			/* Nowhere to keep it: count it, say so later. */
			s->lost_bytes += n;
			s->lost_owed += n;
			snprintf(s->lost_why, sizeof s->lost_why, "%s",
			    s->lasterr);
		} else {
			if (s->lost_owed > 0) {
				mark = st_lost_marker(s, s->next_seq++);
				TAILQ_INSERT_TAIL(&s->frames, mark, entry);
			}
			TAILQ_INSERT_TAIL(&s->frames, f, entry);
			s->next_seq++;
		}
		p += n;
		len -= n;
		if (st_pump(s) == -1)
			return -1;
	}
	return s->lost_owed > 0 ? -1 : 0;
}

uint64_t
stream_lost(const struct stream *s, char *why, size_t whysz)
{
	if (whysz > 0)
		snprintf(why, whysz, "%s", s->lost_why);
	return s->lost_bytes;
}

void
stream_set_close_wait(struct stream *s, int ms)
{
	s->close_wait_ms = ms > 0 ? ms : STREAM_CLOSE_TIMEOUT_MS;
}

uint64_t
stream_bytes(const struct stream *s)
{
	return s->taken_bytes;
}

uint64_t
stream_lines(const struct stream *s)
{
	return s->taken_lines;
}

/* Move in-memory frames to the spool so a failed close loses nothing. */
static void
st_spool_all(struct stream *s)
{
	struct stream_frame *f;

	TAILQ_FOREACH(f, &s->frames, entry) {
		if (f->data == NULL)
			continue;
		if (st_spool(s, f, f->data) == -1)
			return;
		s->mem_bytes -= f->len;
		free(f->data);
		f->data = NULL;
	}
}

static void
st_free(struct stream *s)
{
	struct stream_frame *f;

	if (s->fd != -1)
		close(s->fd);
	while ((f = TAILQ_FIRST(&s->frames)) != NULL) {
		TAILQ_REMOVE(&s->frames, f, entry);
		free(f->data);
		free(f);
	}
	if (s->spoolfd != -1)
		close(s->spoolfd);
	explicit_bzero(s->token, sizeof s->token);
	proto_decoder_free(&s->dec);
	free(s->scratch);
	free(s->socket_path);
	free(s->name);
	free(s->spool_path);
	free(s);
}

int
stream_close(struct stream *s, char *err, size_t errsz)
{
	int64_t deadline, left, wait;
	char werr[256];
	uint64_t last;
	size_t pending;
	struct stream_frame *mark;

	/* Output lost at the very end is said before END. */
	if (s->lost_owed > 0) {
		mark = st_lost_marker(s, s->next_seq++);
		TAILQ_INSERT_TAIL(&s->frames, mark, entry);
	}
	deadline = now_ms() + s->close_wait_ms;
	last = s->next_seq - 1;

	while (!s->end_acked && (left = deadline - now_ms()) > 0) {
		if (s->fd == -1) {
			wait = s->retry_at - now_ms();
			if (wait > left)
				wait = left;
			if (wait > 0) {
				poll(NULL, 0, (int)wait);
				continue;
			}
		}
		if (s->fd != -1 && s->hello_by != 0) {
			(void)st_hello_ack(s, (int)left);
			continue;
		}
		if (st_pump(s) == -1)
			break;
		if (s->fd == -1 || s->hello_by != 0)
			continue;
		if (!s->end_sent && s->sent == last) {
			if (proto_write_frame(s->fd, PROTO_END, 0, last, NULL,
			    0, STREAM_IO_TIMEOUT_MS, werr, sizeof werr) == -1) {
				st_seterr(s, "END: %s", werr);
				st_disconnect(s);
				continue;
			}
			s->end_sent = 1;
		}
		if (st_read(s, (int)(left < STREAM_IO_TIMEOUT_MS ? left :
		    STREAM_IO_TIMEOUT_MS)) == 0 && s->end_sent &&
		    !s->end_acked && now_ms() >= deadline)
			st_seterr(s, "no final ACK from kilnd");
	}

	if (s->end_acked) {
		/*
		 * Left empty, not removed: the job's directory is parked
		 * with it for the next job's spool (workspace.c).
		 */
		if (ftruncate(s->spoolfd, 0) == -1 &&
		    unlink(s->spool_path) == -1 && errno != ENOENT)
			log_warn("stream: unlink %s", s->spool_path);
		st_free(s);
		return 0;
	}
	pending = 0;
	st_spool_all(s);
	{
		struct stream_frame *f;

		TAILQ_FOREACH(f, &s->frames, entry)
			pending++;
	}
	snprintf(err, errsz, "job %" PRId64 ": log not delivered within %d ms "
	    "(%s); %zu unacknowledged chunks kept in %s", s->job_id,
	    s->close_wait_ms, s->lasterr[0] ? s->lasterr : "no reason",
	    pending, s->spool_path);
	st_free(s);
	return -1;
}


