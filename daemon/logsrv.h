/*
 * logsrv: kilnd's end of the log socket.  Workers connect over a Unix
 * socket, say HELLO for a job, stream sequence-numbered LOG frames (see
 * common/proto.h for the wire format) and finish with END; logsrv appends
 * each new chunk to <log_dir>/<job_id>.log, hands it to an observer (live
 * viewers), and acknowledges.  Runs inside kilnd's event loop and never
 * blocks on a peer; a misbehaving peer is disconnected, never fatal.
 */
#ifndef KILN_LOGSRV_H
#define KILN_LOGSRV_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct logsrv;

/*
 * Create the socket at socket_path (a stale socket left by a dead kilnd is
 * removed; a live one or a non-socket file is an error), mode 0660, and
 * start accepting on base.  log_dir is created (0750) if missing.  Returns
 * NULL with a reason in err on failure.  The caller owns the result and
 * frees it with logsrv_free() (which also removes the socket file).
 */
struct logsrv	*logsrv_new(struct event_base *base, const char *socket_path,
		    const char *log_dir, char *err, size_t errsz);
void		 logsrv_free(struct logsrv *);

/*
 * Observer for live viewers: cb runs once for every chunk newly appended
 * to a job's log (never for a replayed duplicate), in order, after it is
 * committed (log bytes and sidecar written).  An observer that outlives a
 * kilnd crash can miss the one frame in hand at the crash, but never sees
 * a frame twice.  data is valid only during the call.  cb must not call
 * logsrv_free().  NULL removes the observer.
 */
void		 logsrv_set_observer(struct logsrv *,
		    void (*cb)(int64_t job_id, const char *data, size_t len,
		    void *arg), void *arg);

/*
 * Who may stream a job's log.  With an authorizer set, every HELLO is
 * held (any further frame on the connection is refused) until
 * logsrv_authorized() answers for its ticket: refusal NULL accepts it,
 * else the connection is closed with "refused: <refusal>" in kilnd's log
 * and in the ERROR sent to the peer.  authorize gets the HELLO's job id,
 * worker name and token (valid only during the call) and may answer
 * before it returns.  An answer for a connection that went away
 * meanwhile is ignored.  Without an authorizer every HELLO is accepted.
 */
void		 logsrv_set_authorizer(struct logsrv *,
		    void (*authorize)(int64_t job_id, const char *worker,
		    const char *token, uint64_t ticket, void *arg), void *arg);
void		 logsrv_authorized(struct logsrv *, uint64_t ticket,
		    const char *refusal);

/*
 * Cut every job's log past max bytes (0: never): the frame that crosses it
 * is replaced by one marker line, later frames are acknowledged and
 * dropped; the worker and its job go on.
 */
void		 logsrv_set_max_job_bytes(struct logsrv *, uint64_t max);

/* Log bytes committed to job logs since kilnd started (for /metrics). */
uint64_t	 logsrv_bytes_stored(const struct logsrv *);

/*
 * Append text to job_id's log on kilnd's own account (its worker is gone:
 * "worker lost"), after what was committed, as a new stream that ends
 * there; a connection still open for the job is closed first.  Live
 * viewers see it.  0, or -1 with err.
 */
int		 logsrv_note(struct logsrv *, int64_t job_id, const char *text,
		     char *err, size_t errsz);

/*
 * logsrv_note() of "##[error]The job failed: <why>" on a job kilnd failed
 * (its worker lost, its lease expired), and an info line saying so; a
 * failure to write is logged.
 */
void		 logsrv_note_failure(struct logsrv *, int64_t job_id,
		     const char *why);

/*
 * The committed length of job_id's log in log_dir (bytes a reader may send:
 * never rewritten by a replay) and whether the worker ended it (END).
 * 1, 0 when there is no log yet (size 0), -1 when it cannot be read.
 */
int		 logsrv_committed(const char *log_dir, int64_t job_id,
		    uint64_t *size, int *end);

#endif
