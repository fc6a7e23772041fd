/*
 * stream: kiln-worker's end of the log socket.  A job's step output is
 * handed to stream_write() and sent to kilnd as sequence-numbered LOG
 * frames (common/proto.h).  Every frame is kept until kilnd acknowledges
 * it; when kilnd is unreachable new output is spooled to a file, and on
 * reconnect everything after kilnd's last stored seq is resent in order:
 * no gap, no duplicate.  Blocking code, for the worker only.
 */
#ifndef KILN_STREAM_H
#define KILN_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct stream;

/*
 * Start a log stream for job_id (> 0) to the kilnd socket at socket_path,
 * presenting token (the job's log token, PROTO_TOKEN_LEN hex digits, from
 * its claim) in each HELLO.
 * spool_path is created (truncated, mode 0600) to hold output while kilnd
 * is unreachable.  The HELLO's answer is not waited for here but by the
 * first stream_write() (or stream_close()).  kilnd being down is not an
 * error here: the stream starts spooled and connects later.  Returns NULL
 * with err on bad arguments or when the spool cannot be created.  The
 * caller owns the stream and must end it with stream_close().
 */
struct stream	*stream_open(const char *socket_path, int64_t job_id,
		    const char *worker_name, const char *token,
		    const char *spool_path, char *err, size_t errsz);

/*
 * Queue len bytes of output (split into frames of at most
 * PROTO_MAX_PAYLOAD).  Sends what the window allows and may block while
 * kilnd catches up (bounded by an I/O timeout, after which the connection
 * is dropped and output is spooled).  Returns 0 once the bytes are sent,
 * held in memory or spooled; -1 when some could not be kept (the spool
 * file cannot be written: the file system full): those are counted
 * (stream_lost()) and the log gets a marker line where they went missing
 * ("##[error]kiln: N bytes of this job's output were lost here: why"),
 * before the next bytes kept or at stream_close().
 */
int		 stream_write(struct stream *, const void *data, size_t len);
/* Bytes stream_write() could not keep, in all; why (the last error). */
uint64_t	 stream_lost(const struct stream *, char *why, size_t whysz);

/*
 * What stream_write() has taken so far: bytes, and lines (newlines), so
 * the worker can say where in the job's log something starts.
 */
uint64_t	 stream_bytes(const struct stream *);
uint64_t	 stream_lines(const struct stream *);

/*
 * How long stream_close() keeps trying, in ms (default 10 s; 0 restores
 * it): a worker gives a finished job's log time to outlive a kilnd
 * restart.
 */
void		 stream_set_close_wait(struct stream *, int ms);

/*
 * Finish the log: deliver everything (reconnecting if needed), send END and
 * wait for kilnd's final ACK, within stream_set_close_wait()'s bound.  On
 * success the spool file is left empty (for the next job to reuse) and 0
 * returned.  On failure -1 with err, and every
 * unacknowledged frame is left in the spool file (records of u64 seq, u32
 * length, data; big-endian) so no output is lost.  Frees the stream
 * either way.
 */
int		 stream_close(struct stream *, char *err, size_t errsz);

#endif
