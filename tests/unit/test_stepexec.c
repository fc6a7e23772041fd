/*
 * Unit tests for worker/stepexec: shells and templates (reference 5.1),
 * exit codes, bash -e versus pipefail, environment and working directory,
 * merged output order, and stopping a step's whole process group on
 * timeout and cancellation (5.7, 5.8).  The worker is not part of libkiln,
 * so the module is compiled into this test directly.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../worker/stepexec.c"
#include "harness.h"

struct capture {
	struct buf	out;
	int		polls;		/* cancelled() calls */
	int		cancel_after;	/* cancel on this poll; 0 = never */
};

static void
sink_cb(const char *data, size_t len, void *arg)
{
	struct capture *cap = arg;

	buf_add(&cap->out, data, len);
}

static int
cancel_cb(void *arg)
{
	struct capture *cap = arg;

	cap->polls++;
	return cap->cancel_after > 0 && cap->polls >= cap->cancel_after;
}

/* A fresh temporary directory per test. */
static char *
make_tmpdir(void)
{
	char tmpl[] = "/tmp/kiln-stepexec-XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void
rm_tmpdir(char *dir)
{
	ck_assert_int_eq(harness_rm_rf(dir), 0);
	free(dir);
}

/* Run script under shell; returns stepexec_run's result. */
static int
run(const char *shell, const char *script, struct capture *cap,
    struct stepexec_result *res, char *err, size_t errsz)
{
	struct stepexec_spec spec;
	char *dir = make_tmpdir();
	int r;

	memset(&spec, 0, sizeof spec);
	spec.shell = shell;
	spec.script = script;
	spec.tmpdir = dir;
	memset(cap, 0, sizeof *cap);
	r = stepexec_run(&spec, sink_cb, cap, res, err, errsz);
	rm_tmpdir(dir);
	return r;
}

/* 1 while pid is a live process (a zombie counts as dead). */
static int
proc_alive(pid_t pid)
{
	char path[64], line[512], *p;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof line, f) == NULL) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(line, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static int
wait_dead(pid_t pid, int ms)
{
	int64_t end = now_ms() + ms;

	while (proc_alive(pid)) {
		if (now_ms() > end)
			return 0;
		usleep(10000);
	}
	return 1;
}

static pid_t
read_pid(const char *path)
{
	char *s = file_read_all(path, 64, NULL);
	int64_t v = 0;
	const char *errstr;

	ck_assert_ptr_nonnull(s);
	s[strcspn(s, "\n")] = '\0';
	ck_assert_int_eq(parse_int64(s, 1, INT32_MAX, &v, &errstr), 0);
	free(s);
	return (pid_t)v;
}

START_TEST(test_exit_codes)
{
	struct capture cap;
	struct stepexec_result res;
	char err[256];

	ck_assert_int_eq(run("sh", "exit 3", &cap, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 3);
	ck_assert_int_eq(res.signal, 0);
	buf_free(&cap.out);

	ck_assert_int_eq(run(NULL, "echo fine", &cap, &res, err, sizeof err),
	    0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(cap.out.data, "fine\n");
	buf_free(&cap.out);

	/* Killed by a signal: 128 + signal, like a shell reports it. */
	ck_assert_int_eq(run("bash", "kill -TERM $$", &cap, &res, err,
	    sizeof err), 0);
	ck_assert_int_eq(res.signal, SIGTERM);
	ck_assert_int_eq(res.exit_code, 128 + SIGTERM);
	ck_assert_int_eq(res.timed_out, 0);
	buf_free(&cap.out);
}
END_TEST

/* The step writes into a 1 MiB pipe, not the default 64 KiB one. */
START_TEST(test_output_pipe_size)
{
	struct capture cap;
	struct stepexec_result res;
	char err[256];

	/* 1032: F_GETPIPE_SZ.  python3 by name: "python" may say it is not
	 * on PATH in the output. */
	ck_assert_int_eq(run(NULL, "python3 -c 'import fcntl, sys; "
	    "print(fcntl.fcntl(sys.stdout.fileno(), 1032))'\n",
	    &cap, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(cap.out.data, "1048576\n");
	buf_free(&cap.out);
}
END_TEST

START_TEST(test_errexit_and_pipefail)
{
	struct capture cap;
	struct stepexec_result res;
	char err[256];

	/* -e: the first failing command stops the script. */
	ck_assert_int_eq(run(NULL, "echo a\nfalse\necho b\n", &cap, &res, err,
	    sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 1);
	ck_assert_str_eq(cap.out.data, "a\n");
	buf_free(&cap.out);

	/* No shell: bash -e without pipefail, the pipeline succeeds. */
	ck_assert_int_eq(run(NULL, "false | true\necho ok\n", &cap, &res, err,
	    sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(cap.out.data, "ok\n");
	buf_free(&cap.out);

	/* shell: bash adds pipefail, the pipeline fails the step. */
	ck_assert_int_eq(run("bash", "false | true\necho ok\n", &cap, &res,
	    err, sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 1);
	ck_assert_uint_eq(cap.out.len, 0);
	buf_free(&cap.out);

	/* --noprofile --norc: and -o pipefail is really set. */
	ck_assert_int_eq(run("bash", "echo $-; set -o | grep pipefail",
	    &cap, &res, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(cap.out.data, "e"));
	ck_assert_ptr_nonnull(strstr(cap.out.data, "on"));
	buf_free(&cap.out);
}
END_TEST

START_TEST(test_sh_and_extension)
{
	struct capture cap;
	struct stepexec_result res;
	char err[256];

	ck_assert_int_eq(run("sh", "echo \"$0\"\nfalse\necho no", &cap, &res,
	    err, sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 1);
	ck_assert(str_has_suffix(cap.out.data, ".sh\n"));
	buf_free(&cap.out);

	ck_assert_int_eq(run("python", "import sys\n"
	    "print(sys.argv[0].endswith('.py'))\nsys.exit(4)\n", &cap, &res,
	    err, sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 4);
	/* After the python3 note on a host without `python`. */
	ck_assert(str_has_suffix(cap.out.data, "True\n"));
	buf_free(&cap.out);
}
END_TEST

/* A PATH directory holding only the given programs, each a script. */
static char *
make_bin(const char *const *names)
{
	char *dir = make_tmpdir(), *p, *text;

	for (; *names != NULL; names++) {
		p = xasprintf("%s/%s", dir, *names);
		text = xasprintf("#!/bin/sh\necho \"ran %s ${1##*/}\"\n",
		    *names);
		harness_write_file(NULL, p, text);
		ck_assert_int_eq(chmod(p, 0755), 0);
		free(text);
		free(p);
	}
	return dir;
}

/* Run a `shell: python` step with PATH=bin only. */
static int
run_python(const char *bin, struct capture *cap, struct stepexec_result *res,
    char *err, size_t errsz)
{
	struct stepexec_spec spec;
	char *dir = make_tmpdir(), *path = xasprintf("PATH=%s", bin);
	char *envp[] = { path, NULL };
	int r;

	memset(&spec, 0, sizeof spec);
	spec.shell = "python";
	spec.script = "print('hello')\n";
	spec.tmpdir = dir;
	spec.envp = envp;
	memset(cap, 0, sizeof *cap);
	r = stepexec_run(&spec, sink_cb, cap, res, err, errsz);
	rm_tmpdir(dir);
	free(path);
	return r;
}

/*
 * `shell: python` runs `python` as GitHub's runner does; where the host
 * has only python3 (Debian without python-is-python3) it runs that and
 * says so once in the step's log.
 */
START_TEST(test_python_falls_back_to_python3)
{
	static const char *const both[] = { "python", "python3", NULL };
	static const char *const only3[] = { "python3", NULL };
	static const char *const none[] = { "bash", NULL };
	struct capture cap;
	struct stepexec_result res;
	char err[512], *bin;

	bin = make_bin(both);
	ck_assert_int_eq(run_python(bin, &cap, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_msg(strstr(cap.out.data, "ran python ") != NULL, "%s", cap.out.data);
	ck_assert_ptr_null(strstr(cap.out.data, "python3"));
	ck_assert_ptr_nonnull(strstr(cap.out.data, ".py\n"));
	buf_free(&cap.out);
	rm_tmpdir(bin);

	bin = make_bin(only3);
	ck_assert_int_eq(run_python(bin, &cap, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_ptr_nonnull(strstr(cap.out.data, "no `python` on PATH; "
	    "running python3\n"));
	ck_assert_ptr_nonnull(strstr(cap.out.data, "ran python3 "));
	ck_assert_ptr_nonnull(strstr(cap.out.data, ".py\n"));
	/* Said once. */
	ck_assert_ptr_null(strstr(strstr(cap.out.data, "running python3") + 1,
	    "running python3"));
	buf_free(&cap.out);
	rm_tmpdir(bin);

	bin = make_bin(none);
	ck_assert_int_eq(run_python(bin, &cap, &res, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "'python' not found on PATH"));
	buf_free(&cap.out);
	rm_tmpdir(bin);
}
END_TEST

START_TEST(test_custom_template)
{
	struct capture cap;
	struct stepexec_result res;
	char err[256];

	/* Quotes group one argument; {0} is replaced; .sh by program name. */
	ck_assert_int_eq(run("bash -c \"echo arg=$0; . $0\" {0}",
	    "echo from-script", &cap, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert(str_has_prefix(cap.out.data, "arg=/"));
	ck_assert_ptr_nonnull(strstr(cap.out.data, ".sh\nfrom-script\n"));
	buf_free(&cap.out);

	/* Not bash/sh/python...: no extension. */
	ck_assert_int_eq(run("env sh {0}", "echo \"$0\"", &cap, &res, err,
	    sizeof err), 0);
	ck_assert(!str_has_suffix(cap.out.data, ".sh\n"));
	buf_free(&cap.out);
}
END_TEST

START_TEST(test_setup_errors)
{
	struct stepexec_spec spec;
	struct stepexec_result res;
	struct capture cap;
	char err[256];

	ck_assert_int_eq(run("fish", "echo", &cap, &res, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "'fish'"));
	ck_assert_int_eq(run("bash -e", "echo", &cap, &res, err, sizeof err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "{0}"));
	ck_assert_int_eq(run("cmd", "echo", &cap, &res, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "Windows"));
	ck_assert_int_eq(run("no-such-shell-xyz {0}", "echo", &cap, &res, err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "no-such-shell-xyz"));

	memset(&spec, 0, sizeof spec);
	spec.script = "echo";
	spec.workdir = "/nonexistent/kiln-dir";
	ck_assert_int_eq(stepexec_run(&spec, NULL, NULL, &res, err,
	    sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/kiln-dir"));
	ck_assert_ptr_nonnull(strstr(err, "does not exist"));
}
END_TEST

START_TEST(test_env_and_workdir)
{
	struct stepexec_spec spec;
	struct stepexec_result res;
	struct capture cap;
	char err[256], real[PATH_MAX], *dir = make_tmpdir(), *want;
	char *envp[] = { "PATH=/usr/bin:/bin", "FOO=bar baz", NULL };

	memset(&spec, 0, sizeof spec);
	memset(&cap, 0, sizeof cap);
	spec.shell = "sh";
	spec.script = "echo \"$FOO\"; pwd; echo \"${HOME-unset}\"";
	spec.envp = envp;
	spec.workdir = dir;
	spec.tmpdir = dir;
	ck_assert_int_eq(stepexec_run(&spec, sink_cb, &cap, &res, err,
	    sizeof err), 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_ptr_nonnull(realpath(dir, real));
	want = xasprintf("bar baz\n%s\nunset\n", real);
	ck_assert_str_eq(cap.out.data, want);
	free(want);
	buf_free(&cap.out);

	/* stdin is /dev/null: cat ends at once. */
	spec.script = "cat; echo done";
	ck_assert_int_eq(stepexec_run(&spec, sink_cb, &cap, &res, err,
	    sizeof err), 0);
	ck_assert_str_eq(cap.out.data, "done\n");
	buf_free(&cap.out);
	rm_tmpdir(dir);
}
END_TEST

START_TEST(test_output_order)
{
	struct capture cap;
	struct stepexec_result res;
	char err[256];

	ck_assert_int_eq(run("bash", "echo one; echo two >&2; echo three; "
	    "printf four >&2", &cap, &res, err, sizeof err), 0);
	ck_assert_str_eq(cap.out.data, "one\ntwo\nthree\nfour");
	buf_free(&cap.out);

	/* Lots of output arrives whole. */
	ck_assert_int_eq(run("sh", "i=0; while [ $i -lt 20000 ]; do "
	    "echo line-$i; i=$((i+1)); done", &cap, &res, err, sizeof err), 0);
	ck_assert(str_has_suffix(cap.out.data, "line-19999\n"));
	ck_assert_uint_eq(cap.out.len, 10 * 6 + 90 * 7 + 900 * 8 +
	    9000 * 9 + 10000 * 10 + 20000);
	buf_free(&cap.out);
}
END_TEST

START_TEST(test_timeout_kills_group)
{
	struct stepexec_spec spec;
	struct stepexec_result res;
	struct capture cap;
	char err[256], *dir = make_tmpdir(), *script, *pidfile;
	int64_t t0;
	pid_t bg;

	/* A background sleep ignores SIGINT; only the group kill gets it. */
	pidfile = xasprintf("%s/pid", dir);
	script = xasprintf("sleep 60 & echo $! > %s; echo started; wait",
	    pidfile);
	memset(&spec, 0, sizeof spec);
	memset(&cap, 0, sizeof cap);
	spec.shell = "bash";
	spec.script = script;
	spec.tmpdir = dir;
	spec.timeout_ms = 300;
	spec.sigint_grace_ms = 300;
	spec.sigterm_grace_ms = 300;
	t0 = now_ms();
	ck_assert_int_eq(stepexec_run(&spec, sink_cb, &cap, &res, err,
	    sizeof err), 0);
	ck_assert_int_lt(now_ms() - t0, 3000);
	ck_assert_int_eq(res.timed_out, 1);
	ck_assert_int_eq(res.cancelled, 0);
	ck_assert_int_ne(res.exit_code, 0);
	ck_assert_str_eq(cap.out.data, "started\n");
	bg = read_pid(pidfile);
	ck_assert_int_eq(wait_dead(bg, 2000), 1);
	free(script);
	buf_free(&cap.out);

	/* A step ignoring SIGINT and SIGTERM still dies: SIGKILL. */
	script = xasprintf("trap '' INT TERM; sleep 60 & echo $! > %s; "
	    "wait; wait; wait", pidfile);
	spec.script = script;
	t0 = now_ms();
	ck_assert_int_eq(stepexec_run(&spec, sink_cb, &cap, &res, err,
	    sizeof err), 0);
	ck_assert_int_ge(now_ms() - t0, 300 + 300 + 300 - 50);
	ck_assert_int_lt(now_ms() - t0, 4000);
	ck_assert_int_eq(res.timed_out, 1);
	ck_assert_int_eq(res.signal, SIGKILL);
	bg = read_pid(pidfile);
	ck_assert_int_eq(wait_dead(bg, 2000), 1);
	free(script);
	free(pidfile);
	buf_free(&cap.out);
	rm_tmpdir(dir);
}
END_TEST

START_TEST(test_cancel)
{
	struct stepexec_spec spec;
	struct stepexec_result res;
	struct capture cap;
	char err[256], *dir = make_tmpdir();
	int64_t t0;

	memset(&spec, 0, sizeof spec);
	memset(&cap, 0, sizeof cap);
	cap.cancel_after = 3;
	spec.shell = "bash";
	spec.script = "echo hi; sleep 60";
	spec.tmpdir = dir;
	spec.cancelled = cancel_cb;
	t0 = now_ms();
	ck_assert_int_eq(stepexec_run(&spec, sink_cb, &cap, &res, err,
	    sizeof err), 0);
	ck_assert_int_lt(now_ms() - t0, 3000);
	ck_assert_int_eq(res.cancelled, 1);
	ck_assert_int_eq(res.timed_out, 0);
	ck_assert_int_eq(res.signal, SIGINT);
	ck_assert_str_eq(cap.out.data, "hi\n");
	buf_free(&cap.out);
	rm_tmpdir(dir);
}
END_TEST

START_TEST(test_background_does_not_hang)
{
	struct capture cap;
	struct stepexec_result res;
	char err[256];
	int64_t t0 = now_ms();

	/* The shell exits; its background child keeps the pipe open. */
	ck_assert_int_eq(run("bash", "sleep 30 & echo bye", &cap, &res, err,
	    sizeof err), 0);
	ck_assert_int_lt(now_ms() - t0, 3000);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(cap.out.data, "bye\n");
	ck_assert_int_gt(res.pgid, 1);
	/* The job's cleanup, which owns leftovers. */
	ck_assert_int_eq(kill(-res.pgid, SIGKILL), 0);
	buf_free(&cap.out);
}
END_TEST

static Suite *
stepexec_suite(void)
{
	Suite *s = suite_create("stepexec");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_output_pipe_size);
	tcase_add_test(tc, test_errexit_and_pipefail);
	tcase_add_test(tc, test_sh_and_extension);
	tcase_add_test(tc, test_custom_template);
	tcase_add_test(tc, test_python_falls_back_to_python3);
	tcase_add_test(tc, test_setup_errors);
	tcase_add_test(tc, test_env_and_workdir);
	tcase_add_test(tc, test_output_order);
	tcase_add_test(tc, test_timeout_kills_group);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_background_does_not_hang);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(stepexec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
