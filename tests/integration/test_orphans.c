/*
 * Nothing a job starts outlives it: processes that left the step's process
 * group (setsid) or were double-forked away are ended with the job, and the
 * job's log says so.  Real kilnd, workers and processes.
 */
#include <sys/types.h>

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

/* Distinct durations: the processes are found by their command lines. */
static const char workflow[] =
    "name: leaves\n"
    "on: push\n"
    "jobs:\n"
    "  leaves:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: |\n"
    "          setsid sleep 7301 </dev/null >/dev/null 2>&1 &\n"
    "          (setsid sh -c 'sleep 7302' </dev/null >/dev/null 2>&1 &) &\n"
    "          echo left two behind\n";

/* Live processes whose command line is "sleep <arg>"; returns count. */
static int
count_sleeps(const char *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char path[300], *text, want[64];
	size_t len;
	int n = 0;

	if (d == NULL)
		return -1;
	snprintf(want, sizeof want, "sleep%c%s", '\0', arg);
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
		if ((text = file_read_all(path, 4096, &len)) == NULL)
			continue;
		if (len == strlen("sleep") + 1 + strlen(arg) + 1 &&
		    memcmp(text, want, len - 1) == 0 &&
		    harness_pid_alive((pid_t)atol(de->d_name)))
			n++;
		free(text);
	}
	closedir(d);
	return n;
}

static int
none_left_cb(struct harness *h, void *arg)
{
	(void)h;
	(void)arg;
	return count_sleeps("7301") == 0 && count_sleeps("7302") == 0;
}

START_TEST(test_processes_that_left_the_job_end_with_it)
{
	struct harness *h = harness_up("orphans");
	struct harness_repo *repo = harness_repo_new(h, "octo/leaves");
	char *sha, *log;
	json_t *run;

	harness_repo_write(repo, ".github/workflows/leaves.yml", workflow);
	sha = harness_push(h, repo, "main", "leave processes behind");
	run = harness_wait_run(h, sha, NULL, HARNESS_RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	harness_assert(h, harness_wait_for(h, 5000, none_left_cb, NULL),
	    "after the job: %d 'sleep 7301' (setsid) and %d 'sleep 7302' "
	    "(setsid in a double fork) still run", count_sleeps("7301"),
	    count_sleeps("7302"));
	log = harness_job_log(h, run, "leaves");
	harness_assert(h, strstr(log, "left two behind") != NULL &&
	    strstr(log, "Cleaning up orphan processes: ") != NULL,
	    "the job's log does not say it cleaned up:\n%s", log);
	free(log);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
orphans_suite(void)
{
	Suite *s = suite_create("orphans");
	TCase *tc = tcase_create("orphans");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_processes_that_left_the_job_end_with_it);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(orphans_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
