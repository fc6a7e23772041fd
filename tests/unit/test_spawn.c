/*
 * Unit tests for common/spawn: the child shares the parent's memory until
 * it execs (no copy-on-write afterwards for the parent), failures name
 * their stage, the account switch and the caller's signal mask hold.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawn.h"
#include "util.h"

#define TOUCH_PAGES	4096	/* 16 MiB of 4 KiB pages */

static long
minor_faults(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_minflt;
}

/*
 * A fork write-protects every page of the parent; each page written after
 * it faults.  Starting a program must not cost the parent a fault per page
 * it holds (the worker's CPU per job, bench/matrix.sh).
 */
START_TEST(test_spawn_no_copy_on_write)
{
	char *const argv[] = { "/bin/true", NULL };
	struct spawn_spec s;
	char err[256];
	long page = sysconf(_SC_PAGESIZE), before, faults;
	char *mem = xmalloc((size_t)page * TOUCH_PAGES);
	size_t i;
	pid_t pid;
	int status;

	for (i = 0; i < TOUCH_PAGES; i++)
		mem[i * (size_t)page] = 1;
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.fd_in = s.fd_out = s.fd_err = -1;
	pid = spawn_start(&s, err, sizeof err);
	ck_assert_msg(pid > 0, "%s", err);
	status = spawn_wait(pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	before = minor_faults();
	for (i = 0; i < TOUCH_PAGES; i++)
		mem[i * (size_t)page] = 2;
	faults = minor_faults() - before;
	free(mem);
	ck_assert_msg(faults < TOUCH_PAGES / 4, "%ld faults writing %d pages "
	    "after a spawn", faults, TOUCH_PAGES);
}
END_TEST

START_TEST(test_spawn_stages)
{
	char *const missing[] = { "/nonexistent/prog", NULL };
	char *const sh[] = { "/bin/sh", "-c", "true", NULL };
	struct spawn_spec s;
	char err[256];

	memset(&s, 0, sizeof s);
	s.fd_in = s.fd_out = s.fd_err = -1;
	s.argv = missing;
	ck_assert_int_eq(spawn_start(&s, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "exec /nonexistent/prog") != NULL, "%s", err);
	s.argv = sh;
	s.dir = "/nonexistent-dir";
	ck_assert_int_eq(spawn_start(&s, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "working directory '/nonexistent-dir'") !=
	    NULL, "%s", err);
	/* Nothing left to reap. */
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
}
END_TEST

/* The caller's mask comes back; the child starts with it too. */
START_TEST(test_spawn_signal_mask)
{
	/* grep itself: a shell would reset its mask. */
	char *const argv[] = { "/bin/grep", "^SigBlk", "/proc/self/status",
	    NULL };
	struct spawn_spec s;
	sigset_t block, now;
	char out[256], err[256];
	int status;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, NULL), 0);
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.fd_in = s.fd_err = -1;
	status = spawn_capture(&s, out, sizeof out, 10000, err, sizeof err);
	ck_assert_msg(status != -1, "%s", err);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* SIGUSR2 is 12: bit 11 of the mask, the last hex digit's 0x800. */
	ck_assert_msg(strstr(out, "0000000000000800") != NULL, "%s", out);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &now), 0);
	ck_assert(sigismember(&now, SIGUSR2));
	ck_assert(!sigismember(&now, SIGTERM));
	ck_assert(!sigismember(&now, SIGCHLD));
}
END_TEST

/* The account switch, by raw system calls in the child (root only). */
START_TEST(test_spawn_as_user)
{
	char *const argv[] = { "/bin/sh", "-c", "id -u; id -g; id -G", NULL };
	struct spawn_spec s;
	char out[256], err[256];
	int status;

	if (geteuid() != 0)
		return;
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.fd_in = s.fd_err = -1;
	s.as_user = 1;
	s.uid = 65534;
	s.gid = 65534;
	status = spawn_capture(&s, out, sizeof out, 10000, err, sizeof err);
	ck_assert_msg(status != -1, "%s", err);
	ck_assert_str_eq(out, "65534\n65534\n65534\n");
	/* Ours unchanged. */
	ck_assert_int_eq(geteuid(), 0);
	ck_assert_int_eq(getegid(), 0);
}
END_TEST

static Suite *
spawn_suite(void)
{
	Suite *s = suite_create("spawn");
	TCase *tc = tcase_create("spawn");

	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_test(tc, test_spawn_no_copy_on_write);
	tcase_add_test(tc, test_spawn_stages);
	tcase_add_test(tc, test_spawn_signal_mask);
	tcase_add_test(tc, test_spawn_as_user);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(spawn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
