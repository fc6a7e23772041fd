/*
 * logsrv: kilnd's log socket server (API in logsrv.h, wire format in
 * common/proto.h).
 *
 * Each connection is an explicit state machine:
 *
 *	HELLO --HELLO ok--> AUTH --authorized--> STREAM --END--> CLOSING
 *	  |                   |                     |              |
 *	  +-- bad frame, protocol violation, refusal, I/O error ---+
 *	      (ERROR queued) --> CLOSING            output flushed --> DEAD
 *	EOF or takeover in any state -> DEAD
 *
 * AUTH: with an authorizer set (kilnd always sets one), a HELLO is only
 * accepted once it says the job is in progress with that worker and the
 * token is the job's (sql/013_faults4.sql); any frame before that answer
 * is refused, and a refusal closes the connection with the reason, in
 * kilnd's log and in the ERROR frame.  Without one (unit tests) HELLO
 * goes straight to STREAM.
 *
 * Memory per connection is bounded: input goes through one shared read
 * buffer into the proto decoder (which holds at most one partial frame of
 * PROTO_MAX_PAYLOAD bytes), LOG payloads are written straight to the log
 * file, and output is only ever the latest cumulative ACK or one ERROR, so
 * the write buffer never holds more than a couple of small frames.  The
 * write event is armed only while output is queued.  Each read callback
 * does at most LOGSRV_READS_PER_TURN reads, so one fast worker cannot
 * starve the others or the rest of kilnd.
 *
 * Disk writes are plain write(2) on the log file and pwrite(2) on its
 * sidecar: like every event-loop daemon we treat the page cache as
 * non-blocking.  Nothing is fsync'd, so the guarantees below hold when
 * kilnd dies, not when the machine loses power.
 *
 * ---- Idempotent replay: the sidecar -------------------------------------
 *
 * PROTOCOL HAZARD: a worker that loses its connection resends every frame
 * it has no ACK for, so kilnd sees some frames twice.  It must store each
 * (stream, seq) exactly once, across kilnd restarts too.  So next to each
 * <job_id>.log lives <job_id>.seq, one fixed-width text line rewritten in
 * place with pwrite(2):
 *
 *	kiln-logseq 1 stream <16 hex> seq <20 dec> size <20 dec> end <0|1>\n
 *
 * meaning "stream <stream> has stored every LOG up to <seq>, and after it
 * the log file was <size> bytes long".  The sidecar rewrite is the commit
 * point of a LOG frame; see lconn_commit() for the invariant and the
 * ordering that keeps it at every crash point.  A HELLO with a stream_id
 * other than the recorded one starts a new stream at seq 0 (appending to
 * the same log); the sidecar is written at HELLO, before the first byte of
 * the new stream is appended.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proto.h"
#include "util.h"

#include "logsrv.h"

#define LOGSRV_READ_BUF		(PROTO_HDR_LEN + PROTO_MAX_PAYLOAD)
#define LOGSRV_READS_PER_TURN	4
#define LOGSRV_ACCEPTS_PER_TURN	16
#define LOGSRV_MAX_PEERS	4096
#define LOGSRV_HELLO_TIMEOUT	10	/* seconds to say HELLO */
#define LOGSRV_CLOSE_TIMEOUT	5	/* seconds to flush a final frame */
#define LOGSRV_EMFILE_PAUSE_MS	1000	/* accept pause when out of fds */
#define LOGSRV_SIDECAR_VERSION	1

#ifdef UNITTEST
/*
 * Crash injection for tests/unit/test_stream.c, which includes this file
 * with UNITTEST defined: the process SIGKILLs itself the
 * logsrv_crash_after'th time it passes failpoint logsrv_crash_at, so a
 * test can stop kilnd at each step of the append/commit/ACK sequence
 * instead of hoping a kill(2) from outside lands there.
 */
enum logsrv_failpoint {
	LOGSRV_FP_NONE,
	LOGSRV_FP_APPENDED,	/* LOG bytes in the file, sidecar behind */
	LOGSRV_FP_COMMITTED,	/* sidecar covers the LOG, observer not called */
	LOGSRV_FP_OBSERVED,	/* observer called, no ACK queued yet */
	LOGSRV_FP_SENT,		/* an output frame (ACK) went out */
};
static enum logsrv_failpoint	logsrv_crash_at = LOGSRV_FP_NONE;
static unsigned long		logsrv_crash_after;

static void
logsrv_failpoint(enum logsrv_failpoint fp)
{
	if (fp == logsrv_crash_at && logsrv_crash_after > 0 &&
	    --logsrv_crash_after == 0)
		kill(getpid(), SIGKILL);
}
#define LOGSRV_FAILPOINT(fp)	logsrv_failpoint(fp)
#else
#define LOGSRV_FAILPOINT(fp)	do { } while (0)
#endif

enum lconn_state {
	LCONN_HELLO,		/* connected, waiting for HELLO */
	LCONN_AUTH,		/* HELLO read, waiting for the authorizer */
	LCONN_STREAM,		/* job known, accepting LOG and END */
	LCONN_CLOSING,		/* flushing a final ACK or ERROR, reads off */
	LCONN_DEAD,		/* on the dead list, freed by the reaper */
};

struct lconn {
	TAILQ_ENTRY(lconn)	 entry;
	struct logsrv		*srv;
	uint64_t		 id;		/* for log lines */
	int			 fd;
	enum lconn_state	 state;
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_timer;	/* HELLO / CLOSING deadline */
	struct proto_decoder	 dec;
	struct buf		 out;		/* queued output, small */
	size_t			 out_off;	/* bytes of out already sent */

	/* Set by HELLO. */
	char			 name[PROTO_MAX_NAME * 4 + 8]; /* escaped */
	int64_t			 job_id;
	uint64_t		 stream_id;
	int			 logfd;
	int			 sidefd;
	/* The committed position: always equal to the sidecar's line. */
	uint64_t		 seq;		/* last LOG stored */
	uint64_t		 size;		/* log file size after seq */
	int			 ended;		/* END stored */
	uint64_t		 acked;		/* last ACK queued */
	int			 final_ack;	/* END seen: ACK gets FINAL */
	int			 final_sent;	/* FINAL ACK queued */
	uint64_t		 dups;		/* replayed frames dropped */
	uint64_t		 last_known;	/* HELLO's, for after AUTH */
};
TAILQ_HEAD(lconn_list, lconn);

struct logsrv {
	struct event_base	*base;
	uint64_t		 bytes_stored;	/* committed since start */
	char			*socket_path;
	char			*log_dir;
	int			 lfd;
	struct event		*ev_accept;
	struct event		*ev_resume;	/* re-enables accept after EMFILE */
	struct event		*ev_reap;	/* frees the dead list */
	struct lconn_list	 conns;
	struct lconn_list	 dead;
	size_t			 npeers;
	uint64_t		 next_id;
	unsigned char		*rbuf;		/* shared read buffer */
	void			(*observer)(int64_t, const char *, size_t,
				    void *);
	void			*observer_arg;
	uint64_t		 max_job_bytes;	/* 0: no limit */
	void			(*authorize)(int64_t, const char *,
				    const char *, uint64_t, void *);
	void			*authorize_arg;
};

static void	lconn_read_cb(evutil_socket_t, short, void *);
static void	lconn_write_cb(evutil_socket_t, short, void *);
static void	lconn_timer_cb(evutil_socket_t, short, void *);
static void	lconn_close(struct lconn *, const char *);
static void	lconn_fail(struct lconn *, const char *, ...)
		    KILN_PRINTF(2, 3);

static const char *
lconn_state_name(enum lconn_state s)
{
	switch (s) {
	case LCONN_HELLO:
		return "hello";
	case LCONN_AUTH:
		return "auth";
	case LCONN_STREAM:
		return "stream";
	case LCONN_CLOSING:
		return "closing";
	case LCONN_DEAD:
		return "dead";
	}
	return "?";
}

/* The one transition function: events and timers follow the state. */
static void
lconn_set_state(struct lconn *c, enum lconn_state to)
{
	struct timeval tv = { 0, 0 };

	log_debug("logsrv: peer #%" PRIu64 ": %s -> %s", c->id,
	    lconn_state_name(c->state), lconn_state_name(to));
	c->state = to;
	switch (to) {
	case LCONN_HELLO:
		tv.tv_sec = LOGSRV_HELLO_TIMEOUT;
		event_add(c->ev_timer, &tv);
		event_add(c->ev_read, NULL);
		break;
	case LCONN_AUTH:
		break;		/* the HELLO deadline still runs */
	case LCONN_STREAM:
		event_del(c->ev_timer);
		break;
	case LCONN_CLOSING:
		event_del(c->ev_read);
		tv.tv_sec = LOGSRV_CLOSE_TIMEOUT;
		event_add(c->ev_timer, &tv);
		event_add(c->ev_write, NULL);
		break;
	case LCONN_DEAD:
		event_del(c->ev_read);
		event_del(c->ev_write);
		event_del(c->ev_timer);
		break;
	}
}

/* ---- Sidecar ---------------------------------------------------------- */

static int
sidecar_format(char *out, size_t outsz, uint64_t stream, uint64_t seq,
    uint64_t size, int end)
{
	return snprintf(out, outsz, "kiln-logseq %d stream %016" PRIx64
	    " seq %020" PRIu64 " size %020" PRIu64 " end %d\n",
	    LOGSRV_SIDECAR_VERSION, stream, seq, size, end ? 1 : 0);
}

/*
 * Rewrite the sidecar in place; 0 or -1 with errno.  In place rather than
 * write-temporary-and-rename because it happens once per LOG frame: the
 * line has a fixed width and lies in the first page, so one pwrite(2) of
 * it either happens whole or not at all when the process dies (the kernel
 * checks for a fatal signal between pages, not within one).  A short
 * write (in practice only into a still empty file on a full disk) leaves
 * a line sidecar_read() rejects, so kilnd refuses to guess rather than
 * resume from a torn position.
 */
static int
sidecar_write(int fd, uint64_t stream, uint64_t seq, uint64_t size, int end)
{
	char line[128];
	ssize_t w;
	int n;

	n = sidecar_format(line, sizeof line, stream, seq, size, end);
	if (n < 0 || (size_t)n >= sizeof line) {
		errno = EOVERFLOW;
		return -1;
	}
	w = pwrite(fd, line, (size_t)n, 0);
	if (w != n) {
		if (w >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * Parse a sidecar.  The line is re-formatted from the parsed values and
 * must match byte for byte, which rejects overflow, junk and torn lines.
 * 1 parsed, 0 empty file, -1 corrupt.
 */
static int
sidecar_read(int fd, uint64_t *stream, uint64_t *seq, uint64_t *size,
    int *end)
{
	char line[128], again[128];
	unsigned long long st, sq, sz;
	int ver, e, n, m;
	ssize_t len;

	len = pread(fd, line, sizeof line - 1, 0);
	if (len < 0)
		return -1;
	if (len == 0)
		return 0;
	line[len] = '\0';
	n = sscanf(line, "kiln-logseq %d stream %16llx seq %20llu size %20llu "
	    "end %d", &ver, &st, &sq, &sz, &e);
	if (n != 5 || ver != LOGSRV_SIDECAR_VERSION || (e != 0 && e != 1))
		return -1;
	m = sidecar_format(again, sizeof again, st, sq, sz, e);
	if (m != len || memcmp(line, again, (size_t)len) != 0)
		return -1;
	*stream = st;
	*seq = sq;
	*size = sz;
	*end = e;
	return 1;
}

/* ---- Output ----------------------------------------------------------- */

/* 1 when an ACK (or the final ACK) is owed to the peer. */
static int
lconn_ack_owed(const struct lconn *c)
{
	if (c->state != LCONN_STREAM &&
	    !(c->state == LCONN_CLOSING && c->final_ack))
		return 0;
	return c->acked != c->seq || (c->final_ack && !c->final_sent);
}

/*
 * Queue one cumulative ACK for everything stored so far (FINAL once END is
 * stored).  While earlier output is still draining nothing is added: the
 * write callback calls again once it is flushed, so output stays at most
 * one frame behind and never grows with the input.
 */
static void
lconn_queue_ack(struct lconn *c)
{
	char err[128];
	size_t at;

	if (c->out.len == 0 && lconn_ack_owed(c)) {
		at = proto_frame_begin(&c->out, PROTO_ACK,
		    c->final_ack ? PROTO_F_FINAL : 0, c->seq);
		if (proto_frame_end(&c->out, at, err, sizeof err) == -1)
			return;		/* cannot happen: empty payload */
		c->acked = c->seq;
		if (c->final_ack)
			c->final_sent = 1;
	}
	if (c->out.len > 0)
		event_add(c->ev_write, NULL);
}

static void
lconn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lconn *c = arg;
	ssize_t n;

	for (;;) {
		while (c->out_off < c->out.len) {
			n = send(fd, c->out.data + c->out_off,
			    c->out.len - c->out_off, MSG_NOSIGNAL);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return;	/* stays armed */
				log_debug("logsrv: peer #%" PRIu64 ": send: %s",
				    c->id, strerror(errno));
				lconn_close(c, "send failed");
				return;
			}
			c->out_off += (size_t)n;
			if (c->out_off == c->out.len)
				LOGSRV_FAILPOINT(LOGSRV_FP_SENT);
		}
		buf_clear(&c->out);
		c->out_off = 0;
		if (!lconn_ack_owed(c))
			break;
		lconn_queue_ack(c);
	}
	event_del(c->ev_write);
	if (c->state == LCONN_CLOSING)
		lconn_close(c, c->final_ack ? "log complete" : "error sent");
}

/*
 * Disconnect a peer for a protocol violation or local failure: log the
 * reason, queue an ERROR with it, flush, close.
 */
static void
lconn_fail(struct lconn *c, const char *fmt, ...)
{
	char msg[PROTO_MAX_ERROR], err[128];
	va_list ap;
	size_t at;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->state == LCONN_STREAM || c->state == LCONN_AUTH)
		log_warnx("logsrv: peer #%" PRIu64 " (%s, job %" PRId64 "): %s",
		    c->id, c->name, c->job_id, msg);
	else
		log_warnx("logsrv: peer #%" PRIu64 ": %s", c->id, msg);
	if (c->state == LCONN_CLOSING || c->state == LCONN_DEAD)
		return;
	c->final_ack = 0;
	at = proto_frame_begin(&c->out, PROTO_ERROR, 0, 0);
	proto_put_str(&c->out, msg);
	if (proto_frame_end(&c->out, at, err, sizeof err) == -1) {
		lconn_close(c, "error frame");
		return;
	}
	lconn_set_state(c, LCONN_CLOSING);
}

/* ---- Message handlers -------------------------------------------------- */

/* Open log and sidecar for c->job_id and load the stored position. */
static int
lconn_open_job_fds(struct lconn *, uint64_t, char *, size_t);

static int
lconn_open_job(struct lconn *c, uint64_t last_known, char *err, size_t errsz)
{
	if (lconn_open_job_fds(c, last_known, err, errsz) == 0)
		return 0;
	if (c->logfd != -1)
		close(c->logfd);
	if (c->sidefd != -1)
		close(c->sidefd);
	c->logfd = c->sidefd = -1;
	c->seq = c->acked = 0;
	return -1;
}

static int
lconn_open_job_fds(struct lconn *c, uint64_t last_known, char *err,
    size_t errsz)
{
	struct logsrv *srv = c->srv;
	char path[4096];
	struct stat st;
	uint64_t sstream = 0, sseq = 0, ssize = 0;
	int send_ = 0, r, n;

	n = snprintf(path, sizeof path, "%s/%" PRId64 ".seq", srv->log_dir,
	    c->job_id);
	if (n < 0 || (size_t)n >= sizeof path) {
		snprintf(err, errsz, "log path too long");
		return -1;
	}
	c->sidefd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0640);
	if (c->sidefd == -1) {
		snprintf(err, errsz, "open %.400s: %s", path, strerror(errno));
		return -1;
	}
	path[n - 3] = 'l';
	path[n - 2] = 'o';
	path[n - 1] = 'g';
	c->logfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0640);
	if (c->logfd == -1 || fstat(c->logfd, &st) == -1) {
		snprintf(err, errsz, "open %.400s: %s", path, strerror(errno));
		return -1;
	}

	r = sidecar_read(c->sidefd, &sstream, &sseq, &ssize, &send_);
	if (r == -1) {
		snprintf(err, errsz, "%s/%" PRId64 ".seq is corrupt; refusing "
		    "to guess the stored position", srv->log_dir, c->job_id);
		return -1;
	}
	if (r == 1 && (uint64_t)st.st_size > ssize) {
		/* Appended but never acknowledged: the replay brings it. */
		log_info("logsrv: job %" PRId64 ": dropping %" PRIu64
		    " unacknowledged bytes after offset %" PRIu64, c->job_id,
		    (uint64_t)st.st_size - ssize, ssize);
		if (ftruncate(c->logfd, (off_t)ssize) == -1) {
			snprintf(err, errsz, "truncate %.400s: %s", path,
			    strerror(errno));
			return -1;
		}
		st.st_size = (off_t)ssize;
	} else if (r == 1 && (uint64_t)st.st_size < ssize)
		log_warnx("logsrv: job %" PRId64 ": log is %" PRIu64 " bytes, "
		    "shorter than the %" PRIu64 " recorded", c->job_id,
		    (uint64_t)st.st_size, ssize);

	c->size = (uint64_t)st.st_size;
	if (r == 1 && sstream == c->stream_id) {
		c->seq = sseq;
		c->ended = send_;
	} else {
		if (r == 1)
			log_info("logsrv: job %" PRId64 ": new stream %016"
			    PRIx64 " replaces %016" PRIx64 " at seq %" PRIu64,
			    c->job_id, c->stream_id, sstream, sseq);
		c->seq = 0;
		c->ended = 0;
	}
	if (last_known > c->seq) {
		/*
		 * The worker saw ACKs we no longer have (log directory
		 * restored from an old backup?) and has dropped those frames.
		 * Resume after them rather than wait for a replay that never
		 * comes.
		 */
		log_warnx("logsrv: job %" PRId64 ": worker had seq %" PRIu64
		    " acknowledged but only %" PRIu64 " is stored; seqs %"
		    PRIu64 "-%" PRIu64 " are lost", c->job_id, last_known,
		    c->seq, c->seq + 1, last_known);
		c->seq = last_known;
	}
	if (r != 1 || c->seq != sseq || c->size != ssize ||
	    c->stream_id != sstream || c->ended != send_) {
		if (sidecar_write(c->sidefd, c->stream_id, c->seq, c->size,
		    c->ended) == -1) {
			snprintf(err, errsz, "write %s/%" PRId64 ".seq: %s",
			    srv->log_dir, c->job_id, strerror(errno));
			return -1;
		}
	}
	c->acked = c->seq;
	return 0;
}

/*
 * The HELLO is authorized: the newest connection for the job takes over,
 * the stored position is loaded and HELLO_ACK says where to resume.
 */
static void
lconn_hello_accept(struct lconn *c)
{
	struct logsrv *srv = c->srv;
	struct lconn *o, *next;
	char err[512];
	size_t at;

	/* Newest connection wins: an older one for this job is stale. */
	for (o = TAILQ_FIRST(&srv->conns); o != NULL; o = next) {
		next = TAILQ_NEXT(o, entry);
		if (o == c || o->state == LCONN_HELLO ||
		    o->state == LCONN_AUTH || o->job_id != c->job_id)
			continue;
		log_info("logsrv: job %" PRId64 ": peer #%" PRIu64 " (%s) "
		    "replaces peer #%" PRIu64 " (%s)", c->job_id, c->id,
		    c->name, o->id, o->name);
		lconn_close(o, "replaced by a newer connection");
	}

	if (lconn_open_job(c, c->last_known, err, sizeof err) == -1) {
		lconn_set_state(c, LCONN_STREAM);	/* for the log line */
		lconn_fail(c, "%s", err);
		return;
	}
	log_debug("logsrv: peer #%" PRIu64 " (%s): job %" PRId64 " stream %016"
	    PRIx64 " resumes after seq %" PRIu64, c->id, c->name, c->job_id,
	    c->stream_id, c->seq);
	at = proto_frame_begin(&c->out, PROTO_HELLO_ACK, 0, 0);
	proto_put_u32(&c->out, PROTO_VERSION);
	proto_put_u64(&c->out, c->seq);
	if (proto_frame_end(&c->out, at, err, sizeof err) == -1) {
		lconn_close(c, "hello ack");
		return;
	}
	event_add(c->ev_write, NULL);
	lconn_set_state(c, LCONN_STREAM);
}

static void
handle_hello(struct lconn *c, const struct proto_msg *msg)
{
	struct logsrv *srv = c->srv;
	struct proto_rd rd;
	char name[PROTO_MAX_NAME + 1], token[PROTO_TOKEN_LEN + 1], err[512];
	uint32_t version;
	size_t i;

	if (c->state != LCONN_HELLO) {
		lconn_fail(c, "HELLO after HELLO");
		return;
	}
	proto_rd_init(&rd, msg);
	proto_get_u32(&rd, &version);
	proto_get_i64(&rd, &c->job_id);
	proto_get_u64(&rd, &c->stream_id);
	proto_get_str(&rd, name, sizeof name);
	proto_get_u64(&rd, &c->last_known);
	proto_get_str(&rd, token, sizeof token);
	if (proto_get_end(&rd, err, sizeof err) == -1) {
		lconn_fail(c, "bad HELLO: %s", err);
		return;
	}
	if (version != PROTO_VERSION) {
		lconn_fail(c, "unsupported protocol version %" PRIu32
		    " (kilnd speaks %d)", version, PROTO_VERSION);
		return;
	}
	if (c->job_id <= 0) {
		lconn_fail(c, "bad job id %" PRId64, c->job_id);
		return;
	}
	for (i = 0; name[i] != '\0'; i++) {
		if (name[i] < 0x20 || name[i] > 0x7e)
			break;
	}
	log_escape(name, PROTO_MAX_NAME, c->name, sizeof c->name);
	if (i == 0 || name[i] != '\0') {
		lconn_fail(c, "bad worker name \"%s\"", c->name);
		return;
	}
	if (strlen(token) != PROTO_TOKEN_LEN ||
	    strspn(token, "0123456789abcdef") != PROTO_TOKEN_LEN) {
		lconn_fail(c, "bad log token: %d lowercase hex digits expected",
		    PROTO_TOKEN_LEN);
		return;
	}
	if (srv->authorize == NULL) {
		lconn_hello_accept(c);
		return;
	}
	/* May answer at once (logsrv_authorized()): state first. */
	lconn_set_state(c, LCONN_AUTH);
	srv->authorize(c->job_id, name, token, c->id, srv->authorize_arg);
	explicit_bzero(token, sizeof token);
}

void
logsrv_authorized(struct logsrv *srv, uint64_t ticket, const char *refusal)
{
	struct lconn *c;

	TAILQ_FOREACH(c, &srv->conns, entry) {
		if (c->id == ticket)
			break;
	}
	if (c == NULL || c->state != LCONN_AUTH)
		return;		/* gone meanwhile (EOF, timeout) */
	if (refusal != NULL) {
		lconn_fail(c, "refused: %s", refusal);
		return;
	}
	lconn_hello_accept(c);
}

void
logsrv_set_authorizer(struct logsrv *srv, void (*authorize)(int64_t job_id,
    const char *worker, const char *token, uint64_t ticket, void *arg),
    void *arg)
{
	srv->authorize = authorize;
	srv->authorize_arg = arg;
}

/*
 * Make (seq, size, end) the stored position of c's stream: rewrite the
 * sidecar, and only once that worked adopt the values.  0, or -1 with
 * errno and c unchanged.
 *
 * CRASH CONSISTENCY.  The invariant, at every instant and so at whatever
 * point kilnd is SIGKILLed:
 *
 *	the log file's first <size> bytes (size from the sidecar) end with
 *	exactly the stream's LOG payloads 1..<seq>, in order (before them
 *	only earlier streams of the job); every byte the worker got an ACK
 *	for and every byte the observer was shown lies within them.
 *
 * Bytes beyond <size> are uncommitted: lconn_open_job_fds() truncates
 * them away when the job is picked up again, and the worker, which has no
 * ACK for them, replays them from <seq> + 1, where handle_log() drops
 * anything at or below <seq>.  So replay gives no gap and no duplicate.
 * What keeps the invariant is the order of the steps for each LOG frame:
 *
 *	1. append the payload to the log     crash: tail truncated, replayed
 *	2. commit: rewrite the sidecar       crash: frame stored; the replay
 *	   with this frame's seq and the        of it is dropped by seq
 *	   size just after it
 *	3. hand the payload to the observer
 *	4. (end of the read callback) queue one cumulative ACK for the batch
 *
 * Steps 1-3 happen per frame, never per batch.  With the sidecar advanced
 * once per read callback and the observer called at each append (as this
 * file once did) frames were shown to live viewers before they were
 * committed: a crash, or a failed sidecar write, before the commit then
 * truncated them and the replay showed them a second time.  An observer
 * called after the commit sees only what the log keeps.  Nothing can make
 * a viewer that outlives kilnd exactly-once, the observer's state and the
 * sidecar being two places: a crash between 2 and 3 costs it that one
 * frame (never a duplicate), and in-process viewers die with kilnd anyway.
 * Step 4 is batched because an ACK only has to trail the commit, and fewer
 * ACKs are cheaper.  The price of per-frame commits is one pwrite(2) of
 * the sidecar's first page per LOG frame.
 */
static int
lconn_commit(struct lconn *c, uint64_t seq, uint64_t size, int end)
{
	if (sidecar_write(c->sidefd, c->stream_id, seq, size, end) == -1)
		return -1;
	/* A replay starts from the committed size: nothing counts twice. */
	if (size > c->size)
		c->srv->bytes_stored += size - c->size;
	c->seq = seq;
	c->size = size;
	c->ended = end;
	return 0;
}

static void
handle_log(struct lconn *c, const struct proto_msg *msg)
{
	struct logsrv *srv = c->srv;
	size_t len = msg->len;
	uint64_t max;
	char mark[256];
	int mlen = 0;
	ssize_t n;
	int saved;

	if (c->state != LCONN_STREAM) {
		lconn_fail(c, "LOG before HELLO");
		return;
	}
	if (msg->seq <= c->seq) {
		c->dups++;	/* a replay of something already stored */
		return;
	}
	if (c->ended) {
		lconn_fail(c, "LOG seq %" PRIu64 " after END", msg->seq);
		return;
	}
	if (msg->seq != c->seq + 1) {
		lconn_fail(c, "gap in sequence: expected %" PRIu64 ", got %"
		    PRIu64, c->seq + 1, msg->seq);
		return;
	}
	/*
	 * [log] max_job_bytes: the frame that crosses it is cut there and
	 * followed by one marker line, so the log ends past the limit; later
	 * frames are committed (their seq) without bytes.  Decided from the
	 * committed size alone, so a replay decides alike.
	 */
	max = srv->max_job_bytes;
	if (max > 0 && c->size > max) {
		if (lconn_commit(c, msg->seq, c->size, 0) == -1)
			lconn_fail(c, "write %s/%" PRId64 ".seq: %s",
			    srv->log_dir, c->job_id, strerror(errno));
		return;
	}
	if (max > 0 && c->size + len > max) {
		mlen = snprintf(mark, sizeof mark, "\n##[error]kiln: this log "
		    "passed [log] max_job_bytes (%" PRIu64 " bytes); the rest "
		    "of the job's output is dropped\n", max);
		len = (size_t)(max - c->size);
	}
	/* Step 1 of lconn_commit()'s list: append. */
	n = len > 0 ? write(c->logfd, msg->data, len) : 0;
	if (n == (ssize_t)len && mlen > 0) {
		ssize_t m = write(c->logfd, mark, (size_t)mlen);

		if (m >= 0 && m != mlen)
			errno = ENOSPC;
		n = m == mlen ? n + m : -1;
	}
	if (n != (ssize_t)(len + (size_t)mlen)) {
		saved = n == -1 ? errno : ENOSPC;

		/* Undo a short write so the file matches c->size again. */
		if (ftruncate(c->logfd, (off_t)c->size) == -1)
			log_warn("logsrv: job %" PRId64 ": truncate",
			    c->job_id);
		lconn_fail(c, "write %s/%" PRId64 ".log: %s", srv->log_dir,
		    c->job_id, strerror(saved));
		return;
	}
	LOGSRV_FAILPOINT(LOGSRV_FP_APPENDED);
	/* Step 2: commit. */
	if (lconn_commit(c, msg->seq, c->size + len + (size_t)mlen, 0) == -1) {
		saved = errno;
		/*
		 * Not committed, so not stored: take the bytes back now (the
		 * next pickup would anyway) and let the worker replay them.
		 */
		if (ftruncate(c->logfd, (off_t)c->size) == -1)
			log_warn("logsrv: job %" PRId64 ": truncate",
			    c->job_id);
		lconn_fail(c, "write %s/%" PRId64 ".seq: %s", srv->log_dir,
		    c->job_id, strerror(saved));
		return;
	}
	LOGSRV_FAILPOINT(LOGSRV_FP_COMMITTED);
	/* Step 3: only committed bytes reach live viewers. */
	if (srv->observer != NULL)
		srv->observer(c->job_id, (const char *)msg->data, len,
		    srv->observer_arg);
	LOGSRV_FAILPOINT(LOGSRV_FP_OBSERVED);
}

static void
handle_end(struct lconn *c, const struct proto_msg *msg)
{
	if (c->state != LCONN_STREAM) {
		lconn_fail(c, "END before HELLO");
		return;
	}
	if (msg->seq != c->seq) {
		lconn_fail(c, "END at seq %" PRIu64 " but %" PRIu64 " is "
		    "stored", msg->seq, c->seq);
		return;
	}
	/* Committed before the final ACK can be queued, like a LOG. */
	if (!c->ended && lconn_commit(c, c->seq, c->size, 1) == -1) {
		lconn_fail(c, "write %s/%" PRId64 ".seq: %s", c->srv->log_dir,
		    c->job_id, strerror(errno));
		return;
	}
	c->final_ack = 1;
	log_debug("logsrv: job %" PRId64 ": log complete at seq %" PRIu64
	    ", %" PRIu64 " bytes, %" PRIu64 " replayed frames dropped",
	    c->job_id, c->seq, c->size, c->dups);
}

/* Which messages kilnd accepts: one row per type, one place to dispatch. */
static const struct {
	enum proto_type	 type;
	void		(*handler)(struct lconn *, const struct proto_msg *);
} logsrv_handlers[] = {
	{ PROTO_HELLO, handle_hello },
	{ PROTO_LOG, handle_log },
	{ PROTO_END, handle_end },
};

static void
lconn_dispatch(struct lconn *c, const struct proto_msg *msg)
{
	char err[256];
	size_t i;

	if (proto_msg_check(msg, PROTO_FROM_WORKER, err, sizeof err) == -1) {
		lconn_fail(c, "bad frame: %s", err);
		return;
	}
	if (c->state == LCONN_HELLO && msg->type != PROTO_HELLO) {
		lconn_fail(c, "%s before HELLO", proto_type_name(msg->type));
		return;
	}
	if (c->state == LCONN_AUTH) {
		lconn_fail(c, "refused: %s before HELLO_ACK",
		    proto_type_name(msg->type));
		return;
	}
	for (i = 0; i < nitems(logsrv_handlers); i++) {
		if ((uint16_t)logsrv_handlers[i].type == msg->type) {
			logsrv_handlers[i].handler(c, msg);
			return;
		}
	}
	lconn_fail(c, "unexpected %s", proto_type_name(msg->type));
}

/* ---- Connection I/O ----------------------------------------------------- */

/*
 * After a batch of frames: acknowledge them.  Every frame was committed
 * as it was handled (lconn_commit()), so the ACK never runs ahead of the
 * sidecar.
 */
static void
lconn_sync(struct lconn *c)
{
	if (c->state != LCONN_STREAM)
		return;
	if (c->final_ack)
		lconn_set_state(c, LCONN_CLOSING);
	lconn_queue_ack(c);
}

static void
lconn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lconn *c = arg;
	struct logsrv *srv = c->srv;
	struct proto_msg msg;
	char err[256];
	size_t off, used;
	ssize_t n;
	int i, r;

	for (i = 0; i < LOGSRV_READS_PER_TURN; i++) {
		n = read(fd, srv->rbuf, LOGSRV_READ_BUF);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			log_debug("logsrv: peer #%" PRIu64 ": read: %s", c->id,
			    strerror(errno));
			lconn_close(c, "read failed");
			return;
		}
		if (n == 0) {
			if (c->state == LCONN_STREAM)
				log_info("logsrv: job %" PRId64 ": %s "
				    "disconnected at seq %" PRIu64 "%s",
				    c->job_id, c->name, c->seq,
				    proto_decoder_partial(&c->dec) ?
				    " mid-frame" : "");
			lconn_close(c, "end of file");
			return;
		}
		for (off = 0; off < (size_t)n;) {
			r = proto_decoder_feed(&c->dec, srv->rbuf + off,
			    (size_t)n - off, &used, &msg, err, sizeof err);
			off += used;
			if (r == -1) {
				lconn_fail(c, "bad frame: %s", err);
				return;
			}
			if (r == 1)
				lconn_dispatch(c, &msg);
			if (c->state == LCONN_CLOSING ||
			    c->state == LCONN_DEAD)
				return;
			if (c->final_ack)
				break;
		}
		if (c->final_ack) {
			if (off < (size_t)n) {
				lconn_fail(c, "data after END");
				return;
			}
			break;
		}
	}
	lconn_sync(c);
}

static void
lconn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lconn *c = arg;

	if (c->state == LCONN_HELLO)
		lconn_fail(c, "no HELLO within %d seconds",
		    LOGSRV_HELLO_TIMEOUT);
	else if (c->state == LCONN_AUTH)
		lconn_fail(c, "refused: the job could not be checked within %d "
		    "seconds", LOGSRV_HELLO_TIMEOUT);
	else
		lconn_close(c, "timed out flushing output");
}

static void
lconn_free(struct lconn *c)
{
	event_free(c->ev_read);
	event_free(c->ev_write);
	event_free(c->ev_timer);
	if (c->fd != -1)
		close(c->fd);
	if (c->logfd != -1)
		close(c->logfd);
	if (c->sidefd != -1)
		close(c->sidefd);
	proto_decoder_free(&c->dec);
	buf_free(&c->out);
	free(c);
}

/*
 * Stop all I/O on c at once and hand it to the reaper: it may be the
 * connection whose callback is running, so it is freed later, from the
 * loop.
 */
static void
lconn_close(struct lconn *c, const char *why)
{
	struct logsrv *srv = c->srv;

	if (c->state == LCONN_DEAD)
		return;
	log_debug("logsrv: peer #%" PRIu64 ": closing: %s", c->id, why);
	lconn_set_state(c, LCONN_DEAD);
	close(c->fd);
	c->fd = -1;
	TAILQ_REMOVE(&srv->conns, c, entry);
	TAILQ_INSERT_TAIL(&srv->dead, c, entry);
	srv->npeers--;
	event_active(srv->ev_reap, EV_TIMEOUT, 0);
}

static void
logsrv_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logsrv *srv = arg;
	struct lconn *c;

	while ((c = TAILQ_FIRST(&srv->dead)) != NULL) {
		TAILQ_REMOVE(&srv->dead, c, entry);
		lconn_free(c);
	}
}

/* ---- Accepting ---------------------------------------------------------- */

static void
logsrv_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logsrv *srv = arg;

	event_add(srv->ev_accept, NULL);
}

static void
logsrv_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct logsrv *srv = arg;
	struct timeval tv;
	struct lconn *c;
	int fd, i;

	for (i = 0; i < LOGSRV_ACCEPTS_PER_TURN; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/*
				 * Out of descriptors: the pending connection
				 * would wake us again at once.  Pause instead
				 * of spinning.
				 */
				log_warn("logsrv: accept (pausing %d ms)",
				    LOGSRV_EMFILE_PAUSE_MS);
				event_del(srv->ev_accept);
				tv.tv_sec = LOGSRV_EMFILE_PAUSE_MS / 1000;
				tv.tv_usec = (LOGSRV_EMFILE_PAUSE_MS % 1000) *
				    1000;
				event_add(srv->ev_resume, &tv);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("logsrv: accept");
			return;
		}
		if (srv->npeers >= LOGSRV_MAX_PEERS) {
			log_warnx("logsrv: %d peers connected, refusing more",
			    LOGSRV_MAX_PEERS);
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof *c);
		c->srv = srv;
		c->id = ++srv->next_id;
		c->fd = fd;
		c->logfd = -1;
		c->sidefd = -1;
		c->state = LCONN_HELLO;
		snprintf(c->name, sizeof c->name, "unnamed");
		proto_decoder_init(&c->dec);
		c->ev_read = event_new(srv->base, fd, EV_READ | EV_PERSIST,
		    lconn_read_cb, c);
		c->ev_write = event_new(srv->base, fd, EV_WRITE | EV_PERSIST,
		    lconn_write_cb, c);
		c->ev_timer = evtimer_new(srv->base, lconn_timer_cb, c);
		if (c->ev_read == NULL || c->ev_write == NULL ||
		    c->ev_timer == NULL) {
			log_warnx("logsrv: cannot create events");
			c->fd = -1;
			close(fd);
			if (c->ev_read != NULL)
				event_free(c->ev_read);
			if (c->ev_write != NULL)
				event_free(c->ev_write);
			if (c->ev_timer != NULL)
				event_free(c->ev_timer);
			proto_decoder_free(&c->dec);
			free(c);
			return;
		}
		TAILQ_INSERT_TAIL(&srv->conns, c, entry);
		srv->npeers++;
		log_debug("logsrv: peer #%" PRIu64 " connected", c->id);
		lconn_set_state(c, LCONN_HELLO);
	}
}

/*
 * Remove a stale socket file at path.  A socket somebody still listens on
 * or anything that is not a socket is left alone and reported.
 */
static int
unlink_stale(const char *path, const struct sockaddr_un *sun, char *err,
    size_t errsz)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errsz, "stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errsz, "%s exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	r = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	close(fd);
	if (r == 0 || errno == EAGAIN) {
		snprintf(err, errsz, "%s is in use by a running process", path);
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errsz, "unlink %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

struct logsrv *
logsrv_new(struct event_base *base, const char *socket_path,
    const char *log_dir, char *err, size_t errsz)
{
	struct logsrv *srv;
	struct sockaddr_un sun;
	mode_t old;
	int r;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(socket_path) >= sizeof sun.sun_path) {
		snprintf(err, errsz, "log socket path %s is longer than %zu "
		    "bytes", socket_path, sizeof sun.sun_path - 1);
		return NULL;
	}
	memcpy(sun.sun_path, socket_path, strlen(socket_path));
	if (mkdir_p(log_dir, 0750) == -1) {
		snprintf(err, errsz, "mkdir %s: %s", log_dir, strerror(errno));
		return NULL;
	}

	srv = xcalloc(1, sizeof *srv);
	srv->base = base;
	srv->lfd = -1;
	srv->socket_path = xstrdup(socket_path);
	srv->log_dir = xstrdup(log_dir);
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->dead);

	if (unlink_stale(socket_path, &sun, err, errsz) == -1)
		goto fail;
	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (srv->lfd == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		goto fail;
	}
	/* Workers may run under another uid of kiln's group: 0660. */
	old = umask(0117);
	r = bind(srv->lfd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (r == -1) {
		snprintf(err, errsz, "bind %s: %s", socket_path,
		    strerror(errno));
		goto fail;
	}
	if (listen(srv->lfd, 128) == -1) {
		snprintf(err, errsz, "listen %s: %s", socket_path,
		    strerror(errno));
		unlink(socket_path);
		goto fail;
	}
	srv->rbuf = xmalloc(LOGSRV_READ_BUF);
	srv->ev_accept = event_new(base, srv->lfd, EV_READ | EV_PERSIST,
	    logsrv_accept_cb, srv);
	srv->ev_resume = evtimer_new(base, logsrv_resume_cb, srv);
	srv->ev_reap = event_new(base, -1, 0, logsrv_reap_cb, srv);
	if (srv->ev_accept == NULL || srv->ev_resume == NULL ||
	    srv->ev_reap == NULL || event_add(srv->ev_accept, NULL) == -1) {
		snprintf(err, errsz, "cannot create log socket events");
		unlink(socket_path);
		goto fail;
	}
	return srv;

fail:
	if (srv->lfd != -1)
		close(srv->lfd);
	srv->lfd = -1;
	free(srv->socket_path);
	srv->socket_path = NULL;
	logsrv_free(srv);
	return NULL;
}

void
logsrv_free(struct logsrv *srv)
{
	struct lconn *c;

	if (srv == NULL)
		return;
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
		TAILQ_REMOVE(&srv->conns, c, entry);
		lconn_free(c);
	}
	while ((c = TAILQ_FIRST(&srv->dead)) != NULL) {
		TAILQ_REMOVE(&srv->dead, c, entry);
		lconn_free(c);
	}
	if (srv->ev_accept != NULL)
		event_free(srv->ev_accept);
	if (srv->ev_resume != NULL)
		event_free(srv->ev_resume);
	if (srv->ev_reap != NULL)
		event_free(srv->ev_reap);
	if (srv->lfd != -1) {
		close(srv->lfd);
		if (srv->socket_path != NULL)
			unlink(srv->socket_path);
	}
	free(srv->socket_path);
	free(srv->log_dir);
	free(srv->rbuf);
	free(srv);
}

void
logsrv_set_observer(struct logsrv *srv, void (*cb)(int64_t, const char *,
    size_t, void *), void *arg)
{
	srv->observer = cb;
	srv->observer_arg = arg;
}


int
logsrv_committed(const char *log_dir, int64_t job_id, uint64_t *size,
    int *end)
{
	uint64_t stream, seq;
	char path[4096];
	int fd, r;

	*size = 0;
	*end = 0;
	if (snprintf(path, sizeof path, "%s/%" PRId64 ".seq", log_dir,
	    job_id) >= (int)sizeof path)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return errno == ENOENT ? 0 : -1;
	r = sidecar_read(fd, &stream, &seq, size, end);
	close(fd);
	return r;
}

int
logsrv_note(struct logsrv *srv, int64_t job_id, const char *text, char *err,
    size_t errsz)
{
	char logpath[4200], sidepath[4200];
	uint64_t stream, seq, size, fresh;
	struct lconn *c, *next;
	size_t len = strlen(text);
	struct stat st;
	int logfd = -1, sidefd = -1, end, r, rc = -1;

	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == LCONN_STREAM && c->job_id == job_id)
			lconn_close(c, "its job was ended without it");
	}
	snprintf(logpath, sizeof logpath, "%s/%" PRId64 ".log", srv->log_dir,
	    job_id);
	snprintf(sidepath, sizeof sidepath, "%s/%" PRId64 ".seq", srv->log_dir,
	    job_id);
	if ((logfd = open(logpath, O_WRONLY | O_CREAT | O_CLOEXEC, 0640)) ==
	    -1 || (sidefd = open(sidepath, O_RDWR | O_CREAT | O_CLOEXEC,
	    0640)) == -1) {
		snprintf(err, errsz, "%s: %s", logfd == -1 ? logpath : sidepath,
		    strerror(errno));
		goto out;
	}
	if ((r = sidecar_read(sidefd, &stream, &seq, &size, &end)) == -1) {
		snprintf(err, errsz, "%s: unreadable position", sidepath);
		goto out;
	}
	if (r == 0)	/* nothing committed: the whole file is unconfirmed */
		size = 0;
	if (fstat(logfd, &st) == 0 && (uint64_t)st.st_size < size)
		size = (uint64_t)st.st_size;
	/* Bytes past the committed size were never acknowledged: dropped. */
	if (ftruncate(logfd, (off_t)size) == -1 ||
	    pwrite(logfd, text, len, (off_t)size) != (ssize_t)len) {
		snprintf(err, errsz, "%s: %s", logpath, strerror(errno));
		goto out;
	}
	/* A stream of its own: a late replay of the old one starts anew. */
	if (random_bytes(&fresh, sizeof fresh) == -1)
		fresh = (uint64_t)now_ms() ^ (uint64_t)job_id;
	if (sidecar_write(sidefd, fresh, 0, size + len, 1) == -1) {
		snprintf(err, errsz, "%s: %s", sidepath, strerror(errno));
		goto out;
	}
	if (srv->observer != NULL)
		srv->observer(job_id, text, len, srv->observer_arg);
	rc = 0;
out:
	if (logfd != -1)
		close(logfd);
	if (sidefd != -1)
		close(sidefd);
	return rc;
}

void
logsrv_note_failure(struct logsrv *srv, int64_t job_id, const char *why)
{
	char *text, err[512];

	text = xasprintf("##[error]The job failed: %s\n", why);
	if (logsrv_note(srv, job_id, text, err, sizeof err) == -1)
		log_warnx("job %" PRId64 ": noting in its log why it failed: %s",
		    job_id, err);
	free(text);
	log_info("job %" PRId64 " failed: %s", job_id, why);
}

void
logsrv_set_max_job_bytes(struct logsrv *srv, uint64_t max)
{
	srv->max_job_bytes = max;
}

uint64_t
logsrv_bytes_stored(const struct logsrv *srv)
{
	return srv->bytes_stored;
}
