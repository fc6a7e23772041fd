/*
 * kilnd under systemd's notification protocol, against a real datagram
 * socket standing in for systemd: READY=1 once the database has answered
 * and the workers run, WATCHDOG=1 at half of WATCHDOG_USEC from the event
 * loop (and none while the loop is stalled: the process is stopped with
 * SIGSTOP), STATUS= lines, STOPPING=1 on SIGTERM, and children that do not
 * inherit the socket; GnuTLS kept from initialising itself in kiln's
 * processes but not in the steps'.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#define WATCHDOG_USEC	400000		/* pings every 200 ms */

/* Bind a datagram socket at path ("@name": abstract); returns the fd. */
static int
fake_systemd(struct harness *h, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	harness_assert(h, fd != -1, "socket: %s", strerror(errno));
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path) + (path[0] == '/'));
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	harness_assert(h, bind(fd, (struct sockaddr *)&sa, len) == 0,
	    "bind %s: %s", path, strerror(errno));
	return fd;
}

/* The next datagram within timeout_ms into msg (NUL-terminated), or 0. */
static int
next_message(int fd, char *msg, size_t msgsz, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return 0;
	if ((n = recv(fd, msg, msgsz - 1, 0)) <= 0)
		return 0;
	msg[n] = '\0';
	return 1;
}

/* Read messages for ms milliseconds; count those containing needle. */
static int
count_messages(int fd, const char *needle, int64_t ms)
{
	int64_t end = now_ms() + ms;
	char msg[1024];
	int n = 0;

	while (now_ms() < end)
		if (next_message(fd, msg, sizeof msg, (int)(end - now_ms())) &&
		    strstr(msg, needle) != NULL)
			n++;
	return n;
}

/* Wait up to ms for a message containing needle; copy it to out. */
static int
wait_message(int fd, const char *needle, int64_t ms, char *out, size_t outsz)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end)
		if (next_message(fd, out, outsz, (int)(end - now_ms())) &&
		    strstr(out, needle) != NULL)
			return 1;
	return 0;
}

/* 1 if /proc/pid/environ holds name=. */
static int
environ_has(pid_t pid, const char *name)
{
	char path[64], buf[65536];
	size_t n, i, len = strlen(name);
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (i = 0; i < n; i += strlen(buf + i) + 1)
		if (strncmp(buf + i, name, len) == 0 && buf[i + len] == '=')
			return 1;
	return 0;
}

START_TEST(test_ready_watchdog_status_stopping)
{
	struct harness *h = harness_new("notify");
	struct harness_resp r;
	char *sock = xasprintf("%s/notify.sock", h->dir), msg[1024];
	char usec[32];
	pid_t workers[8];
	int fd = fake_systemd(h, sock), n, i, nw;

	setenv("NOTIFY_SOCKET", sock, 1);
	snprintf(usec, sizeof usec, "%d", WATCHDOG_USEC);
	setenv("WATCHDOG_USEC", usec, 1);
	harness_start(h);
	harness_assert(h, wait_message(fd, "READY=1", 30000, msg, sizeof msg),
	    "no READY=1 from kilnd");
	/* Ready means the database answers: /healthz checks it. */
	harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
	harness_assert(h, r.status == 200, "healthz %ld after READY=1",
	    r.status);
	harness_resp_free(&r);
	harness_assert(h, strstr(msg, "STATUS=ready") != NULL,
	    "READY=1 without a STATUS line: %s", msg);

	/* 200 ms period: about 10 in 2 s, on a busy machine at least 4. */
	n = count_messages(fd, "WATCHDOG=1", 2000);
	harness_assert(h, n >= 4 && n <= 14, "%d watchdog pings in 2 s "
	    "(WATCHDOG_USEC=%d)", n, WATCHDOG_USEC);

	/* A stalled loop sends nothing. */
	harness_assert(h, kill(h->kilnd, SIGSTOP) == 0, "SIGSTOP");
	(void)count_messages(fd, "", 150);	/* what was already queued */
	n = count_messages(fd, "WATCHDOG=1", 1500);
	kill(h->kilnd, SIGCONT);
	harness_assert(h, n == 0, "%d watchdog pings while kilnd was "
	    "stopped", n);
	harness_assert(h, wait_message(fd, "WATCHDOG=1", 3000, msg,
	    sizeof msg), "no watchdog ping after SIGCONT");

	/* The summary refreshes from the database. */
	harness_assert(h, wait_message(fd, "queued", 20000, msg, sizeof msg),
	    "no STATUS with the queue depth");

	/* The workers and the cluster never inherit the socket. */
	nw = harness_workers(h, workers, (int)nitems(workers));
	harness_assert(h, nw > 0, "no workers");
	for (i = 0; i < nw; i++)
		harness_assert(h, !environ_has(workers[i], "NOTIFY_SOCKET") &&
		    !environ_has(workers[i], "WATCHDOG_USEC"),
		    "worker %ld inherited the notify socket", (long)workers[i]);

	harness_stop(h);
	harness_assert(h, wait_message(fd, "STOPPING=1", 1000, msg,
	    sizeof msg), "no STOPPING=1 on SIGTERM");
	close(fd);
	free(sock);
	harness_free(h);
}
END_TEST

START_TEST(test_abstract_socket_and_foreign_watchdog_pid)
{
	struct harness *h = harness_new("notify-abstract");
	char name[64], msg[1024];
	int fd, n;

	snprintf(name, sizeof name, "@kiln-test-notify-%ld", (long)getpid());
	fd = fake_systemd(h, name);
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	/* The watchdog is meant for another process: no pings from us. */
	setenv("WATCHDOG_PID", "1", 1);
	harness_start(h);
	harness_assert(h, wait_message(fd, "READY=1", 30000, msg, sizeof msg),
	    "no READY=1 on an abstract socket");
	n = count_messages(fd, "WATCHDOG=1", 1000);
	harness_assert(h, n == 0, "%d pings for a WATCHDOG_PID not ours", n);
	harness_stop(h);
	close(fd);
	harness_free(h);
}
END_TEST

/*
 * GnuTLS's implicit initialisation is off in every kiln process (kilnd
 * re-executes itself with GNUTLS_NO_IMPLICIT_INIT; common/libinit.c), and
 * the steps never see that setting of kiln's; a user's own passes.
 */
static void
gnutls_run(struct harness *h, const char *want)
{
	struct harness_repo *repo = harness_repo_new(h, "octo/gnutls");
	pid_t workers[8];
	json_t *run;
	char *sha, *log;
	int nw, i;

	harness_assert(h, environ_has(h->kilnd, "GNUTLS_NO_IMPLICIT_INIT"),
	    "kilnd runs without GNUTLS_NO_IMPLICIT_INIT");
	nw = harness_workers(h, workers, (int)nitems(workers));
	harness_assert(h, nw > 0, "no workers");
	for (i = 0; i < nw; i++)
		harness_assert(h, environ_has(workers[i],
		    "GNUTLS_NO_IMPLICIT_INIT"), "worker %ld runs without "
		    "GNUTLS_NO_IMPLICIT_INIT", (long)workers[i]);
	harness_repo_write(repo, ".github/workflows/env.yml",
	    "on: push\n"
	    "jobs:\n"
	    "  env:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo \"gnutls=${GNUTLS_NO_IMPLICIT_INIT-unset}\"\n");
	sha = harness_push(h, repo, "main", "env");
	run = harness_wait_run(h, sha, NULL, 30000);
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "env");
	harness_expect_contains(h, log, "the step's log", want);
	free(log);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
}

START_TEST(test_gnutls_switch_kept_from_steps)
{
	struct harness *h = harness_new("gnutls");

	unsetenv("GNUTLS_NO_IMPLICIT_INIT");
	unsetenv("KILN_GNUTLS_NO_IMPLICIT_INIT");
	harness_start(h);
	gnutls_run(h, "gnutls=unset");
	harness_stop(h);
	harness_free(h);

	h = harness_new("gnutls-user");
	setenv("GNUTLS_NO_IMPLICIT_INIT", "user", 1);
	harness_start(h);
	gnutls_run(h, "gnutls=user");
	harness_stop(h);
	harness_free(h);
	unsetenv("GNUTLS_NO_IMPLICIT_INIT");
}
END_TEST

static Suite *
systemd_suite(void)
{
	Suite *s = suite_create("systemd");
	TCase *tc = tcase_create("notify");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_ready_watchdog_status_stopping);
	tcase_add_test(tc, test_abstract_socket_and_foreign_watchdog_pid);
	tcase_add_test(tc, test_gnutls_switch_kept_from_steps);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(systemd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
