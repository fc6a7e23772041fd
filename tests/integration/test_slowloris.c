/*
 * Hostile clients on the public listener: a wave of connections that
 * trickle a request byte by byte is cut at the request deadline and never
 * keeps /healthz from answering; running out of descriptors pauses accept()
 * instead of spinning and flooding the log.  Real sockets on loopback.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#define WAVE		200	/* slow connections, more than the cap */
#define CAP		64	/* [server] max_connections */
#define DEADLINE_S	3	/* [server] request_timeout */
#define WAVE_MS		9000	/* how long the wave trickles, at most */
#define TRICKLE_MS	250	/* one header line per connection this often */
#define HEALTHZ_MS	1000	/* /healthz must answer within this */

static int
connect_port(struct harness *h, int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	harness_assert(h, fd >= 0, "socket: %s", strerror(errno));
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	harness_assert(h, connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0,
	    "connect: %s", strerror(errno));
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* 1 once the peer closed fd (EOF, reset, or a write refused). */
static int
peer_closed(int fd, const char *more)
{
	char b[256];
	ssize_t n;

	if (more != NULL && send(fd, more, strlen(more), MSG_NOSIGNAL) == -1 &&
	    errno != EAGAIN)
		return 1;
	n = recv(fd, b, sizeof b, MSG_DONTWAIT);
	return n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* kilnd's CPU time so far, ms (utime + stime). */
static long
kilnd_cpu_ms(struct harness *h)
{
	char path[64], *text, *p;
	unsigned long ut = 0, st = 0;
	int field;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)h->kilnd);
	text = file_read_all(path, 4096, NULL);
	harness_assert(h, text != NULL, "reading %s", path);
	/* After "(comm)": field 3 is state; utime and stime are 14, 15. */
	p = strrchr(text, ')');
	for (field = 2; p != NULL && field < 14; field++)
		p = strchr(p + 1, ' ');
	if (p != NULL)
		sscanf(p + 1, "%lu %lu", &ut, &st);
	free(text);
	return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

static off_t
log_size(struct harness *h)
{
	struct stat sb;

	return stat(h->log_path, &sb) == 0 ? sb.st_size : 0;
}

static void
sleep_ms(int ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L },
	    NULL);
}

START_TEST(test_trickling_wave_is_cut_and_healthz_answers)
{
	struct harness *h = harness_new("slowloris_wave");
	int fds[WAVE], closed[WAVE], nclosed = 0, i, probes = 0;
	int64_t t0, t1, worst = 0;
	long cpu0, cpu;
	off_t log0;
	char *conf;

	conf = xasprintf("[server]\nmax_connections = %d\nrequest_timeout = "
	    "%d\n", CAP, DEADLINE_S);
	harness_conf_add(h, conf);
	free(conf);
	harness_start(h);
	harness_raise_nofile(h, WAVE + 256);
	cpu0 = kilnd_cpu_ms(h);
	log0 = log_size(h);

	for (i = 0; i < WAVE; i++) {
		fds[i] = connect_port(h, h->port);
		closed[i] = peer_closed(fds[i], "POST /hooks/github HTTP/1.1\r\n"
		    "Host: kiln\r\n");
		nclosed += closed[i];
	}
	t0 = now_ms();
	while (nclosed < WAVE && now_ms() - t0 < WAVE_MS) {
		struct harness_resp r;

		for (i = 0; i < WAVE; i++)
			if (!closed[i] && peer_closed(fds[i], "X-Slow: 1\r\n")) {
				closed[i] = 1;
				nclosed++;
			}
		t1 = now_ms();
		harness_http(h, "GET", "/healthz", NULL, NULL, 0, &r);
		t1 = now_ms() - t1;
		harness_assert(h, r.status == 200, "/healthz during the wave: "
		    "%ld %s", r.status, r.status ? "" : r.error);
		harness_resp_free(&r);
		if (t1 > worst)
			worst = t1;
		probes++;
		sleep_ms(TRICKLE_MS);
	}
	cpu = kilnd_cpu_ms(h) - cpu0;
	fprintf(stderr, "slowloris_wave: %d of %d trickling connections cut "
	    "in %lld ms; /healthz %d times, slowest %lld ms; kilnd used %ld "
	    "ms CPU, wrote %lld log bytes\n", nclosed, WAVE,
	    (long long)(now_ms() - t0), probes, (long long)worst, cpu,
	    (long long)(log_size(h) - log0));
	harness_assert(h, nclosed == WAVE, "%d of %d connections that kept "
	    "trickling a request were still open after %d ms (deadline %d s)",
	    WAVE - nclosed, WAVE, WAVE_MS, DEADLINE_S);
	harness_assert(h, worst < HEALTHZ_MS, "/healthz took %lld ms during "
	    "the wave", (long long)worst);
	harness_assert(h, cpu < 5000, "kilnd used %ld ms of CPU on the wave",
	    cpu);
	harness_assert(h, log_size(h) - log0 < 256 * 1024, "kilnd wrote %lld "
	    "bytes of log during the wave", (long long)(log_size(h) - log0));
	for (i = 0; i < WAVE; i++)
		close(fds[i]);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* Open descriptors of pid. */
static int
count_fds(pid_t pid)
{
	char cmd[64];
	struct buf out = { 0 };
	char *const argv[] = { (char *)"ls", cmd, NULL };
	int n = 0;
	size_t i;

	snprintf(cmd, sizeof cmd, "/proc/%ld/fd", (long)pid);
	if (harness_run(argv, NULL, NULL, &out, NULL, 5000) == 0)
		for (i = 0; i < out.len; i++)
			n += out.data[i] == '\n';
	buf_free(&out);
	return n;
}

/*
 * kilnd out of descriptors (its limit lowered under it): accept() fails,
 * and kilnd pauses instead of spinning on the readable socket, logs a line
 * a second at most, and serves again once descriptors are free.
 */
START_TEST(test_accept_without_descriptors_does_not_spin)
{
	struct harness *h = harness_up("accept_emfile");
	struct rlimit rl, was;
	int fds[64], i, open_now;
	long cpu0, cpu;
	off_t log0;

	harness_raise_nofile(h, 512);
	open_now = count_fds(h->kilnd);
	harness_assert(h, open_now > 0, "no descriptors listed for kilnd");
	harness_assert(h, prlimit(h->kilnd, RLIMIT_NOFILE, NULL, &was) == 0,
	    "prlimit: %s", strerror(errno));
	rl = was;
	rl.rlim_cur = (rlim_t)open_now + 8;
	harness_assert(h, prlimit(h->kilnd, RLIMIT_NOFILE, &rl, NULL) == 0,
	    "prlimit: %s", strerror(errno));
	for (i = 0; i < (int)nitems(fds); i++)
		fds[i] = connect_port(h, h->port);
	sleep_ms(300);	/* let kilnd take what it can */
	cpu0 = kilnd_cpu_ms(h);
	log0 = log_size(h);
	sleep_ms(2000);
	cpu = kilnd_cpu_ms(h) - cpu0;
	fprintf(stderr, "accept_emfile: %d descriptors allowed, %d "
	    "connections: kilnd used %ld ms CPU in 2 s, wrote %lld log "
	    "bytes\n", open_now + 8, (int)nitems(fds), cpu,
	    (long long)(log_size(h) - log0));
	harness_assert(h, cpu < 500, "kilnd spun: %ld ms of CPU in 2 s "
	    "without descriptors", cpu);
	harness_assert(h, log_size(h) - log0 < 8192, "kilnd wrote %lld bytes "
	    "of log in 2 s without descriptors",
	    (long long)(log_size(h) - log0));
	for (i = 0; i < (int)nitems(fds); i++)
		close(fds[i]);
	harness_assert(h, prlimit(h->kilnd, RLIMIT_NOFILE, &was, NULL) == 0,
	    "prlimit: %s", strerror(errno));
	harness_assert(h, harness_wait_for(h, 10000, harness_healthy_cb, NULL),
	    "kilnd does not answer /healthz once descriptors are free");
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
slowloris_suite(void)
{
	Suite *s = suite_create("slowloris");
	TCase *tc = tcase_create("slowloris");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_trickling_wave_is_cut_and_healthz_answers);
	tcase_add_test(tc, test_accept_without_descriptors_does_not_spin);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(slowloris_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
