/*
 * The log socket trusts only the worker running a job: a client that can
 * connect to it (anyone in kiln's group) cannot append to a finished job's
 * log, plant text for a future job, or write into a running job's log
 * without the token its worker stored the hash of at claim.  Each attempt
 * is refused with a reason, in kilnd's log and to the client, and the
 * logs stay as they were; the real worker still streams.  Real kilnd,
 * workers, PostgreSQL and a raw client speaking common/proto.h.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "proto.h"
#include "util.h"

#define PLANTED		"PLANTED by an intruder\n"
#define ANY_TOKEN	"0123456789abcdef0123456789abcdef" \
			"0123456789abcdef0123456789abcdef"

static char *
waiting_workflow(const char *shared)
{
	return xasprintf(
	    "name: slow\n"
	    "on: push\n"
	    "jobs:\n"
	    "  slow:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          echo real output before\n"
	    "          touch %s/waiting\n"
	    "          while [ ! -e %s/go ]; do sleep 0.1; done\n"
	    "          echo real output after\n",
	    shared, shared);
}

static const char quick_workflow[] =
    "name: quick\n"
    "on: push\n"
    "jobs:\n"
    "  quick:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo finished job output\n";

/*
 * Connect to the log socket, send a HELLO for job as worker with token
 * (and a LOG of PLANTED right behind it when pipelined, else after a
 * HELLO_ACK), then a LOG and END; return what came back: "ERROR: <text>",
 * "ACKED" when kilnd stored the LOG, or "EOF"/"timeout".
 */
static char *
intrude(struct harness *h, int64_t job, const char *worker, const char *token,
    int pipelined)
{
	struct sockaddr_un sun;
	struct proto_decoder d;
	struct proto_msg m;
	struct proto_rd rd;
	struct buf b = { 0 };
	char *sock, err[256], text[PROTO_MAX_ERROR + 1], *res = NULL;
	size_t at;
	int fd, r, i;

	sock = xasprintf("%s/log.sock", h->state_dir);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	harness_assert(h, strlen(sock) < sizeof sun.sun_path, "long path");
	memcpy(sun.sun_path, sock, strlen(sock));
	free(sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	harness_assert(h, fd != -1 && connect(fd, (struct sockaddr *)&sun,
	    sizeof sun) == 0, "connect to the log socket: %s",
	    strerror(errno));
	at = proto_frame_begin(&b, PROTO_HELLO, 0, 0);
	proto_put_u32(&b, PROTO_VERSION);
	proto_put_i64(&b, job);
	proto_put_u64(&b, 0x5eed5eed5eed5eedULL);
	proto_put_str(&b, worker);
	proto_put_u64(&b, 0);
	proto_put_str(&b, token);
	harness_assert(h, proto_frame_end(&b, at, err, sizeof err) == 0,
	    "HELLO: %s", err);
	for (i = 0; i < 2; i++) {
		if (i == 1 || pipelined) {
			at = proto_frame_begin(&b, PROTO_LOG, 0, 1);
			proto_put_bytes(&b, PLANTED, strlen(PLANTED));
			proto_frame_end(&b, at, err, sizeof err);
			at = proto_frame_begin(&b, PROTO_END, 0, 1);
			proto_frame_end(&b, at, err, sizeof err);
		}
		/* A closed connection is an answer too: EPIPE is ignored. */
		(void)proto_write_buf(fd, &b, 5000, err, sizeof err);
		buf_clear(&b);
		proto_decoder_init(&d);
		r = proto_read_frame(fd, &d, &m, 20000, err, sizeof err);
		if (r == 1 && m.type == PROTO_ERROR) {
			proto_rd_init(&rd, &m);
			proto_get_str(&rd, text, sizeof text);
			res = xasprintf("ERROR: %s", text);
		} else if (r == 1 && m.type == PROTO_HELLO_ACK && i == 0 &&
		    !pipelined) {
			proto_decoder_free(&d);
			pipelined = 1;	/* LOG and END now */
			continue;
		} else if (r == 1 && (m.type == PROTO_ACK ||
		    m.type == PROTO_HELLO_ACK))
			res = xstrdup("ACKED");
		else
			res = xstrdup(r == 0 ? "timeout" : "EOF");
		proto_decoder_free(&d);
		break;
	}
	if (res == NULL)
		res = xstrdup("no answer");
	buf_free(&b);
	close(fd);
	return res;
}

static char *
read_log(struct harness *h, const char *job_id)
{
	char *path = xasprintf("%s/logs/%s.log", h->state_dir, job_id), *text;
	size_t len;

	text = file_read_all(path, 1 << 20, &len);
	free(path);
	return text != NULL ? text : xstrdup("(none)");
}

static int
exists_cb(struct harness *h, void *arg)
{
	(void)h;
	return access(arg, F_OK) == 0;
}

/* The intruder was refused: said so to it, and kilnd logged why. */
static void
expect_refused(struct harness *h, char *answer, const char *what,
    const char *reason)
{
	char *klog;
	size_t len;

	harness_assert(h, strncmp(answer, "ERROR: refused: ", 16) == 0 &&
	    strstr(answer, reason) != NULL, "%s: the log socket answered "
	    "\"%s\", not a refusal saying \"%s\"", what, answer, reason);
	klog = file_read_all(h->log_path, 1 << 24, &len);
	harness_assert(h, klog != NULL && strstr(klog, answer + 7) != NULL,
	    "%s: kilnd's log does not say \"%s\"", what, answer + 7);
	free(klog);
	free(answer);
}

START_TEST(test_log_socket_refuses_intruders)
{
	struct harness *h = harness_up("logauth");
	struct harness_repo *repo = harness_repo_new(h, "octo/logauth");
	char *wf, *sha, *done_id, *done_worker, *run_id, *run_worker, *before,
	    *after, *path, *future, *log;
	int64_t future_id;
	json_t *run;

	/* A finished job. */
	harness_repo_write(repo, ".github/workflows/quick.yml", quick_workflow);
	sha = harness_push(h, repo, "main", "a job that finishes");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	json_decref(run);
	free(sha);
	done_id = harness_sql(h, "SELECT max(id) FROM jobs", NULL);
	done_worker = harness_sql(h, "SELECT worker FROM jobs WHERE id = $1",
	    done_id, NULL);

	/* A running one, waiting for us. */
	free(harness_git(h, repo->work, "rm", "-q",
	    ".github/workflows/quick.yml", (char *)NULL));
	wf = waiting_workflow(h->shared);
	harness_repo_write(repo, ".github/workflows/slow.yml", wf);
	free(wf);
	sha = harness_push(h, repo, "main", "a job that waits");
	path = xasprintf("%s/waiting", h->shared);
	harness_assert(h, harness_wait_for(h, HARNESS_RUN_MS, exists_cb, path),
	    "the waiting job never started");
	free(path);
	run_id = harness_sql(h, "SELECT id FROM jobs WHERE status = "
	    "'in_progress'", NULL);
	run_worker = harness_sql(h, "SELECT worker FROM jobs WHERE id = $1",
	    run_id, NULL);
	harness_assert(h, atoll(run_id) > atoll(done_id), "no running job");

	/* 1. Appending to the finished job's log, as its own worker. */
	before = read_log(h, done_id);
	expect_refused(h, intrude(h, atoll(done_id), done_worker, ANY_TOKEN, 0),
	    "a finished job", "is completed, not in progress");
	after = read_log(h, done_id);
	harness_assert(h, strcmp(before, after) == 0 &&
	    strstr(after, "finished job output") != NULL, "the finished job's "
	    "log changed:\n%s\n---- now:\n%s", before, after);
	free(before);
	free(after);

	/* 2. Planting text for a job that does not exist yet. */
	future_id = atoll(run_id) + 100;
	expect_refused(h, intrude(h, future_id, run_worker, ANY_TOKEN, 0),
	    "a future job", "no job");
	future = xasprintf("%lld", (long long)future_id);
	path = xasprintf("%s/logs/%s.log", h->state_dir, future);
	harness_assert(h, access(path, F_OK) == -1, "%s was created", path);
	free(path);
	path = xasprintf("%s/logs/%s.seq", h->state_dir, future);
	harness_assert(h, access(path, F_OK) == -1, "%s was created", path);
	free(path);
	free(future);

	/* 3. The running job, its worker's name, a wrong token. */
	before = read_log(h, run_id);
	expect_refused(h, intrude(h, atoll(run_id), run_worker, ANY_TOKEN, 0),
	    "a running job with a wrong token", "wrong log token");
	/* 4. Another worker's name. */
	expect_refused(h, intrude(h, atoll(run_id), "intruder", ANY_TOKEN, 0),
	    "a running job from another worker", "not in progress with this "
	    "worker");
	/* 5. A LOG sent before kilnd said yes. */
	expect_refused(h, intrude(h, atoll(run_id), run_worker, ANY_TOKEN, 1),
	    "a LOG right behind the HELLO", "before HELLO_ACK");

	/* The real worker still streams, and nothing was planted. */
	path = xasprintf("%s/go", h->shared);
	harness_write_file(h, path, "");
	free(path);
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "slow");
	harness_assert(h, strstr(log, "real output before\n") != NULL &&
	    strstr(log, "real output after\n") != NULL &&
	    strstr(log, PLANTED) == NULL, "the running job's log:\n%s", log);
	harness_assert(h, strncmp(log, before, strlen(before)) == 0,
	    "the running job's log was changed while it ran:\n%s\n---- "
	    "then:\n%s", log, before);
	free(log);
	free(before);
	log = read_log(h, done_id);
	harness_assert(h, strstr(log, PLANTED) == NULL, "planted:\n%s", log);
	free(log);

	json_decref(run);
	free(sha);
	free(done_id);
	free(done_worker);
	free(run_id);
	free(run_worker);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
logauth_suite(void)
{
	Suite *s = suite_create("logauth");
	TCase *tc = tcase_create("logauth");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_log_socket_refuses_intruders);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(logauth_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
