/*
 * Unit tests for the log socket end to end: a real logsrv (daemon/logsrv.c)
 * in its own event loop in a child process, and a real stream
 * (worker/stream.c) in the test process, over a Unix socket in a fresh
 * temporary directory.  Neither module is in libkiln, so both are compiled
 * into this test directly.
 *
 * What is proved: bytes arrive in order; a server killed with SIGKILL and
 * restarted mid-stream costs no gap and no duplicate in the log file, and
 * no duplicate at the observer (which may miss the one frame in hand at
 * the kill); a stream that starts with kilnd down spools and catches up;
 * bad peers are disconnected with a reason and the server lives on.
 * test_crash_points stops the server at each step of its append, commit
 * and acknowledge sequence (failpoints compiled into logsrv.c under
 * UNITTEST) instead of relying on where an outside SIGKILL happens to land.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

/* logsrv.c's crash failpoints (LOGSRV_FAILPOINT) exist only with this. */
#define UNITTEST
#include "../../daemon/logsrv.c"
#include "../../worker/stream.c"
#include "harness.h"

/* A log token; without an authorizer logsrv takes any well-formed one. */
#define TOKEN	"00112233445566778899aabbccddeeff" \
		"00112233445566778899aabbccddeeff"

struct env {
	char	*dir;
	char	*sock;
	char	*logs;
	char	*spool;
	pid_t	 server;
	int	 auth_delay_ms;	/* > 0: HELLOs answered this much later */
	const char *auth_refusal;	/* with it: refused, not accepted */
};

/* A delayed answer to one HELLO (kilnd's asks PostgreSQL meanwhile). */
struct delayed_auth {
	struct logsrv	*srv;
	uint64_t	 ticket;
	const char	*refusal;
};

static void
delayed_auth_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delayed_auth *da = arg;

	logsrv_authorized(da->srv, da->ticket, da->refusal);
	free(da);
}

struct delayed_authorizer {
	struct event_base	*base;
	struct logsrv		*srv;
	int			 delay_ms;
	const char		*refusal;
};

static void
delayed_authorize(int64_t job_id, const char *worker, const char *token,
    uint64_t ticket, void *arg)
{
	struct delayed_authorizer *a = arg;
	struct delayed_auth *da = xcalloc(1, sizeof *da);
	struct timeval tv = { a->delay_ms / 1000, (a->delay_ms % 1000) * 1000 };

	da->srv = a->srv;
	da->ticket = ticket;
	da->refusal = a->refusal;
	event_base_once(a->base, -1, EV_TIMEOUT, delayed_auth_cb, da, &tv);
}

/* Observer in the server: appends every new chunk to <logs>/<job>.observed. */
static void
observe_cb(int64_t job, const char *data, size_t len, void *arg)
{
	const char *logs = arg;
	char *path = xasprintf("%s/%lld.observed", logs, (long long)job);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);

	if (fd != -1) {
		(void)!write(fd, data, len);
		close(fd);
	}
	free(path);
}

static int
try_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, r;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	r = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	if (r == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
server_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Start kilnd's log server in a child and wait until it accepts. */
static void
server_start(struct env *e)
{
	int64_t end;
	int fd, status;

	e->server = fork();
	ck_assert_int_ne(e->server, -1);
	if (e->server == 0) {
		struct event_base *base;
		struct event *stop;
		struct logsrv *srv;
		char err[256];

		/* Check's handlers forward SIGTERM to the group: not here. */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		log_init("test-logsrv", LOG_LEVEL_WARN);
		base = event_base_new();
		srv = logsrv_new(base, e->sock, e->logs, err, sizeof err);
		if (srv == NULL) {
			fprintf(stderr, "logsrv_new: %s\n", err);
			_exit(2);
		}
		logsrv_set_observer(srv, observe_cb, e->logs);
		if (e->auth_delay_ms > 0) {
			static struct delayed_authorizer a;

			a.base = base;
			a.srv = srv;
			a.delay_ms = e->auth_delay_ms;
			a.refusal = e->auth_refusal;
			logsrv_set_authorizer(srv, delayed_authorize, &a);
		}
		/* SIGTERM ends the loop, so teardown frees everything. */
		stop = evsignal_new(base, SIGTERM, server_stop_cb, base);
		event_add(stop, NULL);
		event_base_dispatch(base);
		event_free(stop);
		logsrv_free(srv);
		event_base_free(base);
		_exit(0);
	}
	end = now_ms() + 5000;
	while ((fd = try_connect(e->sock)) == -1) {
		ck_assert_int_eq(waitpid(e->server, &status, WNOHANG), 0);
		ck_assert_int_lt(now_ms(), end);
		usleep(5000);
	}
	close(fd);
}

static void
server_kill(struct env *e, int sig)
{
	int status;

	ck_assert_int_eq(kill(e->server, sig), 0);
	ck_assert_int_eq(waitpid(e->server, &status, 0), e->server);
	e->server = -1;
}

static void
env_setup(struct env *e)
{
	char tmpl[] = "/tmp/kiln-stream-XXXXXX";

	memset(e, 0, sizeof *e);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	e->dir = xstrdup(tmpl);
	e->sock = xasprintf("%s/log.sock", e->dir);
	e->logs = xasprintf("%s/logs", e->dir);
	e->spool = xasprintf("%s/spool", e->dir);
	e->server = -1;
}

static void
env_teardown(struct env *e)
{
	if (e->server != -1)
		server_kill(e, SIGTERM);
	ck_assert_int_eq(harness_rm_rf(e->dir), 0);
	free(e->dir);
	free(e->sock);
	free(e->logs);
	free(e->spool);
}

static char *
job_file(const struct env *e, int64_t job, const char *ext, size_t *len)
{
	char *path = xasprintf("%s/%lld.%s", e->logs, (long long)job, ext);
	char *data = file_read_all(path, 64 * 1024 * 1024, len);

	free(path);
	return data;
}

/* Chunk i of a recognisable stream, of varying length. */
static void
make_chunk(struct buf *b, int i)
{
	size_t fill = (size_t)(i * 37) % 3000, k;

	buf_clear(b);
	buf_printf(b, "chunk %06d ", i);
	for (k = 0; k < fill; k++)
		buf_add_char(b, (char)('a' + (i + (int)k) % 26));
	buf_add_char(b, '\n');
}

/* Index of the first byte where got and want differ (the shorter length). */
static size_t
first_diff(const char *got, size_t gotlen, const struct buf *want)
{
	size_t i;

	for (i = 0; i < gotlen && i < want->len; i++) {
		if (got[i] != want->data[i])
			break;
	}
	return i;
}

/* what: "log" or "observed", for the message. */
static void
assert_same(const char *what, const char *got, size_t gotlen,
    const struct buf *want)
{
	size_t i;

	ck_assert_msg(got != NULL, "no %s file", what);
	i = first_diff(got, gotlen, want);
	ck_assert_msg(i == want->len && gotlen == want->len,
	    "%s differs at byte %zu (got %zu bytes, want %zu)", what, i,
	    gotlen, want->len);
}

/* The job's stored log must be exactly want ("log" or what it stands for). */
static void
assert_job_log(const struct env *e, int64_t job, const char *what,
    const struct buf *want)
{
	size_t len;
	char *got = job_file(e, job, "log", &len);

	assert_same(what, got, len, want);
	free(got);
}

/*
 * What the observer saw across a kilnd crash.  It is shown committed bytes
 * only, in order, each once; the one thing a SIGKILL can cost it is the
 * frame kilnd had committed but not yet handed over, or not handed over
 * whole, when it died.  The observer's file and the sidecar are two files,
 * so no order of writing them survives a kill between the two (see
 * lconn_commit() in logsrv.c), and a kill can also tear the observer's own
 * write(2) at a page boundary.  So got must be want, or want with part of
 * one chunk (one chunk = one frame here) missing from its end.  Returns
 * the number of that chunk, or -1 when got is want.
 */
static int
assert_observed(const char *got, size_t gotlen, const struct buf *want)
{
	size_t i, start, end, rest, kept;
	int missing;

	ck_assert_msg(got != NULL, "no observed file");
	i = first_diff(got, gotlen, want);
	if (i == want->len && gotlen == want->len)
		return -1;
	/* The chunk in which they part: want[start..end]. */
	for (start = i; start > 0 && want->data[start - 1] != '\n'; start--)
		;
	for (end = i; end < want->len && want->data[end] != '\n'; end++)
		;
	ck_assert_msg(end < want->len && sscanf(want->data + start,
	    "chunk %d ", &missing) == 1, "observed differs at byte %zu, "
	    "beyond the last chunk (got %zu bytes, want %zu)", i, gotlen,
	    want->len);
	/* After the chunk's kept head, got must go on with the next one. */
	rest = want->len - (end + 1);
	kept = gotlen - rest - start;
	ck_assert_msg(gotlen >= start + rest && kept <= end - start &&
	    start + kept <= i &&
	    memcmp(got + start + kept, want->data + end + 1, rest) == 0,
	    "observed differs at byte %zu (got %zu bytes, want %zu): not "
	    "the log less (part of) chunk %d, so a duplicate or a "
	    "reordering", i, gotlen, want->len, missing);
	return missing;
}

START_TEST(test_in_order)
{
	struct stat st;
	struct env e;
	struct stream *s;
	struct buf want = { 0 }, chunk = { 0 };
	char err[512], *got, *big;
	size_t len;
	int i;

	env_setup(&e);
	server_start(&e);
	s = stream_open(e.sock, 42, "worker-a", TOKEN, e.spool, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_ne(s->fd, -1);
	for (i = 0; i < 500; i++) {
		make_chunk(&chunk, i);
		ck_assert_int_eq(stream_write(s, chunk.data, chunk.len), 0);
		buf_add(&want, chunk.data, chunk.len);
	}
	/* Bigger than a frame: split, still in order. */
	big = xmalloc(3 * PROTO_MAX_PAYLOAD + 123);
	for (i = 0; i < 3 * (int)PROTO_MAX_PAYLOAD + 123; i++)
		big[i] = (char)('A' + i % 23);
	ck_assert_int_eq(stream_write(s, big, 3 * PROTO_MAX_PAYLOAD + 123), 0);
	buf_add(&want, big, 3 * PROTO_MAX_PAYLOAD + 123);
	free(big);
	ck_assert_int_eq(stream_write(s, "tail\n", 5), 0);
	buf_add(&want, "tail\n", 5);
	ck_assert_msg(stream_close(s, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(stat(e.spool, &st), 0);	/* kept for reuse ... */
	ck_assert_int_eq(st.st_size, 0);		/* ... empty */

	assert_job_log(&e, 42, "log", &want);
	got = job_file(&e, 42, "observed", &len);
	assert_same("observed", got, len, &want);
	free(got);
	got = job_file(&e, 42, "seq", &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_ptr_nonnull(strstr(got, " end 1\n"));
	free(got);

	buf_free(&want);
	buf_free(&chunk);
	env_teardown(&e);
}
END_TEST

/*
 * kilnd answers a HELLO only once PostgreSQL has attached the job's log;
 * the worker does not wait for that answer to go on preparing the job,
 * only its first output does (so a live log shows it at once), and the
 * output reaches the log whole and in order.
 */
START_TEST(test_hello_answer_not_awaited)
{
	struct env e;
	struct stream *s;
	struct buf want = { 0 }, chunk = { 0 };
	char err[512];
	int64_t t0, took;
	int i;

	env_setup(&e);
	e.auth_delay_ms = 400;
	server_start(&e);
	t0 = now_ms();
	s = stream_open(e.sock, 43, "worker-h", TOKEN, e.spool, err,
	    sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	took = now_ms() - t0;
	ck_assert_msg(took < 200, "opening took %lld ms: waited for the "
	    "400 ms HELLO_ACK", (long long)took);
	for (i = 0; i < 50; i++) {
		make_chunk(&chunk, i);
		ck_assert_int_eq(stream_write(s, chunk.data, chunk.len), 0);
		buf_add(&want, chunk.data, chunk.len);
		if (i == 0) {
			/* Sent, not held: kilnd has it before the next. */
			ck_assert_int_ge(now_ms() - t0, 400);
			ck_assert_uint_ge(s->sent, 1);
		}
	}
	ck_assert_msg(stream_close(s, err, sizeof err) == 0, "%s", err);
	assert_job_log(&e, 43, "log", &want);
	buf_free(&want);
	buf_free(&chunk);
	env_teardown(&e);
}
END_TEST

/* A HELLO refused after the worker went on: nothing is sent, all kept. */
START_TEST(test_hello_refused_later_keeps_output)
{
	struct env e;
	struct stream *s;
	char err[512], *got;
	size_t len;

	env_setup(&e);
	e.auth_delay_ms = 50;
	e.auth_refusal = "no such job";
	server_start(&e);
	s = stream_open(e.sock, 44, "worker-r", TOKEN, e.spool, err,
	    sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(stream_write(s, "secret output\n", 14), 0);
	stream_set_close_wait(s, 500);
	ck_assert_int_eq(stream_close(s, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "refused: no such job") != NULL, "%s", err);
	got = job_file(&e, 44, "log", &len);
	ck_assert_msg(got == NULL || len == 0, "a refused stream's output "
	    "reached the log");
	free(got);
	got = file_read_all(e.spool, 1 << 20, &len);
	ck_assert_msg(got != NULL && memmem(got, len, "secret output", 13),
	    "the output is not in the kept spool");
	free(got);
	env_teardown(&e);
}
END_TEST

START_TEST(test_server_restart_mid_stream)
{
	struct env e;
	struct stream *s;
	struct buf want = { 0 }, chunk = { 0 };
	char err[512], *got;
	size_t len;
	int i, lost;

	env_setup(&e);
	server_start(&e);
	s = stream_open(e.sock, 7, "worker-b", TOKEN, e.spool, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	for (i = 0; i < 3000; i++) {
		if (i == 1000)
			server_kill(&e, SIGKILL);	/* mid-stream, no warning */
		if (i == 2000) {
			/* Output meanwhile went to the spool. */
			ck_assert_int_eq(s->fd, -1);
			ck_assert_uint_gt(s->spooled, 0);
			server_start(&e);
		}
		make_chunk(&chunk, i);
		ck_assert_int_eq(stream_write(s, chunk.data, chunk.len), 0);
		buf_add(&want, chunk.data, chunk.len);
	}
	ck_assert_msg(stream_close(s, err, sizeof err) == 0, "%s", err);

	assert_job_log(&e, 7, "log", &want);
	/*
	 * Live viewers saw no byte twice either, across both servers; a
	 * frame the first one was handling when killed (one of those in
	 * flight) may be missing.
	 */
	got = job_file(&e, 7, "observed", &len);
	lost = assert_observed(got, len, &want);
	ck_assert_msg(lost == -1 || (lost >= 1000 - STREAM_WINDOW &&
	    lost < 1000), "observer lost chunk %d, not one in flight at the "
	    "kill", lost);
	free(got);
	buf_free(&want);
	buf_free(&chunk);
	env_teardown(&e);
}
END_TEST

/*
 * Wait until the server child has died (1) or kilnd acknowledged every
 * frame written so far (0), whichever comes first.
 */
static int
pump_until_acked_or_dead(struct env *e, struct stream *s)
{
	int64_t end = now_ms() + 10000;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(e->server, &status, WNOHANG);
		ck_assert_int_ne(r, -1);
		if (r == e->server) {
			ck_assert_msg(WIFSIGNALED(status) &&
			    WTERMSIG(status) == SIGKILL, "server exited with "
			    "status %#x, not at a failpoint", status);
			e->server = -1;
			return 1;
		}
		if (s->fd != -1 && s->acked == s->next_seq - 1)
			return 0;
		ck_assert_msg(now_ms() < end, "no progress: acked %llu of %llu",
		    (unsigned long long)s->acked,
		    (unsigned long long)(s->next_seq - 1));
		if (s->fd == -1)
			s->retry_at = 0;	/* no backoff: it is alive */
		ck_assert_int_eq(st_pump(s), 0);
		if (s->fd != -1)
			(void)st_read(s, 20);
	}
}

/*
 * kilnd SIGKILLed at every step of handling a LOG (failpoints in logsrv.c),
 * each at many different frame counts: after appending it but before the
 * sidecar covers it, after the sidecar covers it but before the observer
 * sees it, after that but before the ACK, right after an ACK went out.
 * Every time the worker replays what it has no ACK for into a restarted
 * kilnd, and the log must come out byte-exact: no gap, no duplicate.  The
 * observer must have seen every byte once too, except at the one point
 * between commit and observer, which costs it exactly that frame.
 */
START_TEST(test_crash_points)
{
	static const struct {
		enum logsrv_failpoint	 fp;
		const char		*name;
		unsigned long		 sure;	/* passes 200 frames make */
		unsigned long		 last;	/* highest count tried */
	} fps[] = {
		{ LOGSRV_FP_APPENDED, "appended", 200, 199 },
		{ LOGSRV_FP_COMMITTED, "committed", 200, 199 },
		{ LOGSRV_FP_OBSERVED, "observed", 200, 199 },
		/*
		 * ACKs are cumulative and batched: HELLO_ACK, one each time
		 * the worker's window of 64 fills, one for the last frame,
		 * and whatever more the timing gives.
		 */
		{ LOGSRV_FP_SENT, "sent", 5, 12 },
	};
	struct env e;
	struct stream *s;
	struct buf want = { 0 }, chunk = { 0 };
	char err[512], what[64], *got;
	size_t f, len;
	unsigned long after;
	int i, lost, crashed;

	for (f = 0; f < nitems(fps); f++) {
		/*
		 * Every count up to 40 puts the crash at each position in
		 * the first read batches; a few later ones land mid-stream.
		 */
		for (after = 1; after <= fps[f].last;
		    after += after < 40 ? 1 : 53) {
			env_setup(&e);
			buf_clear(&want);
			/* The server child inherits the armed failpoint. */
			logsrv_crash_at = fps[f].fp;
			logsrv_crash_after = after;
			server_start(&e);
			logsrv_crash_at = LOGSRV_FP_NONE;
			logsrv_crash_after = 0;

			s = stream_open(e.sock, 30, "worker-crash", TOKEN, e.spool,
			    err, sizeof err);
			ck_assert_msg(s != NULL, "%s", err);
			for (i = 0; i < 200; i++) {
				make_chunk(&chunk, i);
				ck_assert_int_eq(stream_write(s, chunk.data,
				    chunk.len), 0);
				buf_add(&want, chunk.data, chunk.len);
			}
			crashed = pump_until_acked_or_dead(&e, s);
			ck_assert_msg(crashed || after > fps[f].sure,
			    "failpoint %s #%lu never reached", fps[f].name,
			    after);
			if (!crashed)	/* idle, everything acknowledged */
				server_kill(&e, SIGKILL);
			/* More output while kilnd is down: spooled. */
			for (; i < 250; i++) {
				make_chunk(&chunk, i);
				ck_assert_int_eq(stream_write(s, chunk.data,
				    chunk.len), 0);
				buf_add(&want, chunk.data, chunk.len);
			}
			server_start(&e);
			s->retry_at = 0;	/* reconnect without backoff */
			for (; i < 300; i++) {
				make_chunk(&chunk, i);
				ck_assert_int_eq(stream_write(s, chunk.data,
				    chunk.len), 0);
				buf_add(&want, chunk.data, chunk.len);
			}
			ck_assert_msg(stream_close(s, err, sizeof err) == 0,
			    "%s", err);

			snprintf(what, sizeof what, "log (crash %s #%lu)",
			    fps[f].name, after);
			assert_job_log(&e, 30, what, &want);
			got = job_file(&e, 30, "observed", &len);
			lost = assert_observed(got, len, &want);
			/* The after'th LOG of this server is seq after. */
			if (crashed && fps[f].fp == LOGSRV_FP_COMMITTED)
				ck_assert_msg(lost == (int)after - 1, "crash "
				    "committed #%lu: observer lost chunk %d, "
				    "want %lu", after, lost, after - 1);
			else
				ck_assert_msg(lost == -1, "crash %s #%lu: "
				    "observer lost chunk %d", fps[f].name,
				    after, lost);
			free(got);
			env_teardown(&e);
		}
	}
	buf_free(&want);
	buf_free(&chunk);
}
END_TEST

START_TEST(test_kilnd_down_at_open)
{
	struct env e;
	struct stream *s;
	struct buf want = { 0 }, chunk = { 0 };
	char err[512];
	int i;

	env_setup(&e);
	s = stream_open(e.sock, 9, "worker-c", TOKEN, e.spool, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(s->fd, -1);
	for (i = 0; i < 200; i++) {
		make_chunk(&chunk, i);
		ck_assert_int_eq(stream_write(s, chunk.data, chunk.len), 0);
		buf_add(&want, chunk.data, chunk.len);
	}
	ck_assert_uint_eq(s->spooled, 200);
	server_start(&e);
	ck_assert_msg(stream_close(s, err, sizeof err) == 0, "%s", err);
	assert_job_log(&e, 9, "log", &want);
	buf_free(&want);
	buf_free(&chunk);
	env_teardown(&e);
}
END_TEST

/*
 * Output that can be neither sent nor spooled (no file may grow: as with
 * a full file system, here RLIMIT_FSIZE 0 and EFBIG) is counted and said
 * in the log by a marker line, never dropped silently.
 */
START_TEST(test_unkeepable_output_leaves_a_marker)
{
	struct env e;
	struct stream *s;
	struct buf chunk = { 0 }, want = { 0 };
	char err[512], why[512], *reason;
	size_t total = 0;
	struct rlimit was, none = { 0, 0 };
	int i;

	env_setup(&e);
	s = stream_open(e.sock, 13, "worker-full", TOKEN, e.spool, err,
	    sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &was), 0);
	none.rlim_max = was.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &none), 0);
	for (i = 0; i < 3; i++) {
		make_chunk(&chunk, i);
		ck_assert_int_eq(stream_write(s, chunk.data, chunk.len), -1);
		total += chunk.len;
	}
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &was), 0);
	reason = xasprintf("write %s: %s", e.spool, strerror(EFBIG));
	ck_assert_uint_eq(stream_lost(s, why, sizeof why), total);
	ck_assert_str_eq(why, reason);
	server_start(&e);
	ck_assert_msg(stream_close(s, err, sizeof err) == 0, "%s", err);
	buf_printf(&want, "\n##[error]kiln: %zu bytes of this job's output "
	    "were lost here: %s\n", total, reason);
	free(reason);
	assert_job_log(&e, 13, "log", &want);
	buf_free(&want);
	buf_free(&chunk);
	env_teardown(&e);
}
END_TEST

START_TEST(test_close_without_kilnd_keeps_spool)
{
	struct env e;
	struct stream *s;
	char err[512], *data;
	size_t len;

	env_setup(&e);
	s = stream_open(e.sock, 10, "worker-d", TOKEN, e.spool, err, sizeof err);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(stream_write(s, "keep me\n", 8), 0);
	ck_assert_int_eq(stream_close(s, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, e.spool));
	data = file_read_all(e.spool, 1024, &len);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(len, STREAM_SPOOL_HDR + 8);
	ck_assert_mem_eq(data + STREAM_SPOOL_HDR, "keep me\n", 8);
	free(data);
	env_teardown(&e);
}
END_TEST

START_TEST(test_new_stream_same_job_appends)
{
	struct env e;
	struct stream *s;
	char err[512], *got;
	size_t len;

	env_setup(&e);
	server_start(&e);
	s = stream_open(e.sock, 11, "w", TOKEN, e.spool, err, sizeof err);
	ck_assert_int_eq(stream_write(s, "first\n", 6), 0);
	ck_assert_int_eq(stream_close(s, err, sizeof err), 0);
	/* A retried job: seq 1 again, but a new stream, so not a replay. */
	s = stream_open(e.sock, 11, "w", TOKEN, e.spool, err, sizeof err);
	ck_assert_int_eq(stream_write(s, "second\n", 7), 0);
	ck_assert_int_eq(stream_close(s, err, sizeof err), 0);
	got = job_file(&e, 11, "log", &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "first\nsecond\n");
	free(got);
	/* An empty log ends cleanly too. */
	s = stream_open(e.sock, 12, "w", TOKEN, e.spool, err, sizeof err);
	ck_assert_int_eq(stream_close(s, err, sizeof err), 0);
	got = job_file(&e, 12, "log", &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(len, 0);
	free(got);
	env_teardown(&e);
}
END_TEST

/* Send raw bytes on a new connection; return the ERROR text or "EOF". */
static char *
raw_exchange(const struct env *e, const struct buf *out)
{
	struct proto_decoder d;
	struct proto_msg m;
	struct proto_rd rd;
	char err[256], text[PROTO_MAX_ERROR + 1];
	char *res;
	int fd, r;

	fd = try_connect(e->sock);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(proto_write_buf(fd, out, 1000, err, sizeof err), 0);
	proto_decoder_init(&d);
	r = proto_read_frame(fd, &d, &m, 5000, err, sizeof err);
	if (r == 1 && m.type == PROTO_ERROR) {
		proto_rd_init(&rd, &m);
		proto_get_str(&rd, text, sizeof text);
		res = xstrdup(text);
	} else if (r == 1)
		res = xasprintf("frame %s", proto_type_name(m.type));
	else
		res = xstrdup(r == 0 ? "timeout" : "EOF");
	proto_decoder_free(&d);
	close(fd);
	return res;
}

static void
put_hello(struct buf *b, uint32_t version, int64_t job, const char *name)
{
	char err[128];
	size_t at = proto_frame_begin(b, PROTO_HELLO, 0, 0);

	proto_put_u32(b, version);
	proto_put_i64(b, job);
	proto_put_u64(b, 1);
	proto_put_str(b, name);
	proto_put_u64(b, 0);
	proto_put_str(b, TOKEN);
	ck_assert_int_eq(proto_frame_end(b, at, err, sizeof err), 0);
}

START_TEST(test_bad_peers)
{
	struct env e;
	struct buf b = { 0 };
	struct stream *s;
	unsigned char h[PROTO_HDR_LEN];
	char err[512], *r, *got;
	size_t at, len;
	int status;

	env_setup(&e);
	server_start(&e);

	/* Garbage header: oversize length. */
	proto_hdr_encode(h, 0xffffffffu, PROTO_LOG, 0, 1);
	buf_add(&b, h, sizeof h);
	r = raw_exchange(&e, &b);
	ck_assert_ptr_nonnull(strstr(r, "exceeds"));
	free(r);

	/* LOG before HELLO. */
	buf_clear(&b);
	at = proto_frame_begin(&b, PROTO_LOG, 0, 1);
	proto_put_bytes(&b, "x", 1);
	proto_frame_end(&b, at, err, sizeof err);
	r = raw_exchange(&e, &b);
	ck_assert_ptr_nonnull(strstr(r, "before HELLO"));
	free(r);

	/* Wrong version. */
	buf_clear(&b);
	put_hello(&b, PROTO_VERSION + 1, 5, "w");
	r = raw_exchange(&e, &b);
	ck_assert_ptr_nonnull(strstr(r, "version"));
	free(r);

	/* Bad job id, bad name, leftover bytes. */
	buf_clear(&b);
	put_hello(&b, PROTO_VERSION, -3, "w");
	r = raw_exchange(&e, &b);
	ck_assert_ptr_nonnull(strstr(r, "job id"));
	free(r);
	buf_clear(&b);
	put_hello(&b, PROTO_VERSION, 5, "bad\nname");
	r = raw_exchange(&e, &b);
	ck_assert_ptr_nonnull(strstr(r, "worker name"));
	free(r);
	buf_clear(&b);
	at = proto_frame_begin(&b, PROTO_HELLO, 0, 0);
	proto_put_u32(&b, PROTO_VERSION);
	proto_put_i64(&b, 5);
	proto_put_u64(&b, 1);
	proto_put_str(&b, "w");
	proto_put_u64(&b, 0);
	proto_put_str(&b, TOKEN);
	proto_put_u8(&b, 0);
	proto_frame_end(&b, at, err, sizeof err);
	r = raw_exchange(&e, &b);
	ck_assert_ptr_nonnull(strstr(r, "leftover"));
	free(r);

	/* A gap in the sequence. */
	buf_clear(&b);
	put_hello(&b, PROTO_VERSION, 6, "w");
	at = proto_frame_begin(&b, PROTO_LOG, 0, 2);
	proto_put_bytes(&b, "x", 1);
	proto_frame_end(&b, at, err, sizeof err);
	r = raw_exchange(&e, &b);
	/* The HELLO_ACK comes first; the ERROR follows on the same socket. */
	ck_assert_str_eq(r, "frame HELLO_ACK");
	free(r);

	/* Worker-only messages from the "server" side are refused. */
	buf_clear(&b);
	put_hello(&b, PROTO_VERSION, 8, "w");
	at = proto_frame_begin(&b, PROTO_ACK, 0, 0);
	proto_frame_end(&b, at, err, sizeof err);
	r = raw_exchange(&e, &b);
	free(r);

	/* The server is still alive and serves a normal stream. */
	ck_assert_int_eq(waitpid(e.server, &status, WNOHANG), 0);
	s = stream_open(e.sock, 5, "worker-ok", TOKEN, e.spool, err, sizeof err);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(stream_write(s, "ok\n", 3), 0);
	ck_assert_msg(stream_close(s, err, sizeof err) == 0, "%s", err);
	got = job_file(&e, 5, "log", &len);
	ck_assert_str_eq(got, "ok\n");
	free(got);
	buf_free(&b);
	env_teardown(&e);
}
END_TEST

START_TEST(test_gap_reported)
{
	struct env e;
	struct buf b = { 0 };
	struct proto_decoder d;
	struct proto_msg m;
	struct proto_rd rd;
	char err[256], text[PROTO_MAX_ERROR + 1];
	size_t at;
	int fd;

	env_setup(&e);
	server_start(&e);
	put_hello(&b, PROTO_VERSION, 6, "w");
	at = proto_frame_begin(&b, PROTO_LOG, 0, 2);
	proto_put_bytes(&b, "x", 1);
	proto_frame_end(&b, at, err, sizeof err);
	fd = try_connect(e.sock);
	ck_assert_int_eq(proto_write_buf(fd, &b, 1000, err, sizeof err), 0);
	proto_decoder_init(&d);
	ck_assert_int_eq(proto_read_frame(fd, &d, &m, 5000, err, sizeof err),
	    1);
	ck_assert_uint_eq(m.type, PROTO_HELLO_ACK);
	ck_assert_int_eq(proto_read_frame(fd, &d, &m, 5000, err, sizeof err),
	    1);
	ck_assert_uint_eq(m.type, PROTO_ERROR);
	proto_rd_init(&rd, &m);
	proto_get_str(&rd, text, sizeof text);
	ck_assert_ptr_nonnull(strstr(text, "gap"));
	ck_assert_int_eq(proto_read_frame(fd, &d, &m, 5000, err, sizeof err),
	    -1);	/* and closed */
	proto_decoder_free(&d);
	close(fd);
	buf_free(&b);
	env_teardown(&e);
}
END_TEST

/* HELLO for job/stream, then LOG frames first..last ("<seq>;"), no END. */
static uint64_t
raw_session(const struct env *e, int64_t job, uint64_t stream, int first,
    int last, int end)
{
	struct buf b = { 0 };
	struct proto_decoder d;
	struct proto_msg m;
	struct proto_rd rd;
	char err[256], text[32];
	uint64_t stored = 0, acked = 0;
	uint32_t v;
	size_t at;
	int fd, i;

	at = proto_frame_begin(&b, PROTO_HELLO, 0, 0);
	proto_put_u32(&b, PROTO_VERSION);
	proto_put_i64(&b, job);
	proto_put_u64(&b, stream);
	proto_put_str(&b, "raw");
	proto_put_u64(&b, 0);
	proto_put_str(&b, TOKEN);
	proto_frame_end(&b, at, err, sizeof err);
	for (i = first; i <= last; i++) {
		at = proto_frame_begin(&b, PROTO_LOG, 0, (uint64_t)i);
		snprintf(text, sizeof text, "%d;", i);
		proto_put_bytes(&b, text, strlen(text));
		proto_frame_end(&b, at, err, sizeof err);
	}
	if (end) {
		at = proto_frame_begin(&b, PROTO_END, 0, (uint64_t)last);
		proto_frame_end(&b, at, err, sizeof err);
	}
	fd = try_connect(e->sock);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(proto_write_buf(fd, &b, 1000, err, sizeof err), 0);
	proto_decoder_init(&d);
	ck_assert_int_eq(proto_read_frame(fd, &d, &m, 5000, err, sizeof err),
	    1);
	ck_assert_uint_eq(m.type, PROTO_HELLO_ACK);
	proto_rd_init(&rd, &m);
	proto_get_u32(&rd, &v);
	proto_get_u64(&rd, &stored);
	ck_assert_int_eq(proto_get_end(&rd, err, sizeof err), 0);
	/* Wait for the ACK covering everything sent. */
	while (last > 0 && acked < (uint64_t)last) {
		ck_assert_int_eq(proto_read_frame(fd, &d, &m, 5000, err,
		    sizeof err), 1);
		ck_assert_uint_eq(m.type, PROTO_ACK);
		acked = m.seq;
		if (end && acked == (uint64_t)last)
			ck_assert_uint_eq(m.flags, PROTO_F_FINAL);
	}
	proto_decoder_free(&d);
	close(fd);
	buf_free(&b);
	return stored;
}

START_TEST(test_server_drops_replayed_frames)
{
	struct env e;
	char *got, *path;
	size_t len;
	int fd;

	env_setup(&e);
	server_start(&e);
	ck_assert_uint_eq(raw_session(&e, 20, 0xabc, 1, 3, 0), 0);
	/* Same stream again, resending 1..3 blindly: only 4..5 are new. */
	ck_assert_uint_eq(raw_session(&e, 20, 0xabc, 1, 5, 0), 3);
	got = job_file(&e, 20, "log", &len);
	ck_assert_str_eq(got, "1;2;3;4;5;");
	free(got);

	/*
	 * kilnd died after appending but before recording the sidecar: the
	 * unrecorded tail is dropped and the replay supplies it once.
	 */
	path = xasprintf("%s/20.log", e.logs);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "6;", 2), 2);
	close(fd);
	free(path);
	server_kill(&e, SIGKILL);
	server_start(&e);
	ck_assert_uint_eq(raw_session(&e, 20, 0xabc, 4, 7, 1), 5);
	got = job_file(&e, 20, "log", &len);
	ck_assert_str_eq(got, "1;2;3;4;5;6;7;");
	free(got);
	got = job_file(&e, 20, "observed", &len);
	ck_assert_str_eq(got, "1;2;3;4;5;6;7;");
	free(got);
	got = job_file(&e, 20, "seq", &len);
	ck_assert_str_eq(got, "kiln-logseq 1 stream 0000000000000abc seq "
	    "00000000000000000007 size 00000000000000000014 end 1\n");
	free(got);
	env_teardown(&e);
}
END_TEST

START_TEST(test_socket_setup)
{
	struct env e;
	struct event_base *base;
	struct logsrv *srv;
	struct stat st;
	char err[256];
	int fd;

	env_setup(&e);
	base = event_base_new();
	/* A stale socket file is replaced; the new one is 0660. */
	srv = logsrv_new(base, e.sock, e.logs, err, sizeof err);
	ck_assert_msg(srv != NULL, "%s", err);
	logsrv_free(srv);
	ck_assert_int_eq(access(e.sock, F_OK), -1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s", e.sock);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun),
		    0);
	}
	close(fd);	/* stale: nobody listens */
	srv = logsrv_new(base, e.sock, e.logs, err, sizeof err);
	ck_assert_msg(srv != NULL, "%s", err);
	ck_assert_int_eq(stat(e.sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	/* A second server on a live socket is refused. */
	ck_assert_ptr_null(logsrv_new(base, e.sock, e.logs, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "in use"));
	logsrv_free(srv);
	/* Not a socket: refused, left alone. */
	fd = open(e.sock, O_WRONLY | O_CREAT, 0600);
	close(fd);
	ck_assert_ptr_null(logsrv_new(base, e.sock, e.logs, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "not a socket"));
	ck_assert_int_eq(access(e.sock, F_OK), 0);
	event_base_free(base);
	env_teardown(&e);
}
END_TEST

static Suite *
stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_in_order);
	tcase_add_test(tc, test_hello_answer_not_awaited);
	tcase_add_test(tc, test_hello_refused_later_keeps_output);
	tcase_add_test(tc, test_server_restart_mid_stream);
	tcase_add_test(tc, test_crash_points);
	tcase_add_test(tc, test_kilnd_down_at_open);
	tcase_add_test(tc, test_close_without_kilnd_keeps_spool);
	tcase_add_test(tc, test_unkeepable_output_leaves_a_marker);
	tcase_add_test(tc, test_new_stream_same_job_appends);
	tcase_add_test(tc, test_bad_peers);
	tcase_add_test(tc, test_gap_reported);
	tcase_add_test(tc, test_server_drops_replayed_frames);
	tcase_add_test(tc, test_socket_setup);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(stream_suite());
	int failed;

	log_init("test_stream", LOG_LEVEL_WARN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
