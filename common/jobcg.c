/*
 * jobcg: see jobcg.h.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobcg.h"
#include "util.h"

#define JOBCG_MAX_FILE	(1024 * 1024)	/* cgroup.procs, mountinfo */
#define JOBCG_ROUNDS	64		/* kill passes without cgroup.kill */

/* Where cgroup2 is mounted, from /proc/self/mountinfo; caller frees. */
static char *
jobcg_mount(void)
{
	char *text, *line, *save = NULL, *mnt = NULL;
	size_t len;

	if ((text = file_read_all("/proc/self/mountinfo", JOBCG_MAX_FILE,
	    &len)) == NULL)
		return NULL;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(line, " - ");
		char f[5][1024];

		/* "id parent maj:min root mountpoint ... - fstype src opts" */
		if (sep == NULL || strncmp(sep, " - cgroup2 ", 11) != 0)
			continue;
		if (sscanf(line, "%1023s %1023s %1023s %1023s %1023s", f[0],
		    f[1], f[2], f[3], f[4]) == 5 && strcmp(f[3], "/") == 0 &&
		    strchr(f[4], '\\') == NULL) {
			mnt = xstrdup(f[4]);
			break;
		}
	}
	free(text);
	return mnt;
}

/* This process's cgroup2 path ("0::/x/y"), or NULL; caller frees. */
static char *
jobcg_self(void)
{
	char *text, *line, *save = NULL, *path = NULL;
	size_t len;

	if ((text = file_read_all("/proc/self/cgroup", JOBCG_MAX_FILE,
	    &len)) == NULL)
		return NULL;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "0::/", 4) == 0) {
			path = xstrdup(line + 3);
			break;
		}
	free(text);
	return path;
}

char *
jobcg_path(pid_t worker)
{
	char *mnt, *self, *dir = NULL;

	if ((mnt = jobcg_mount()) == NULL)
		return NULL;
	if ((self = jobcg_self()) != NULL) {
		/* A job cgroup of a worker that started another worker. */
		char *base = strstr(self, "/kiln-job-");

		if (base != NULL)
			*base = '\0';
		dir = xasprintf("%s%s/kiln-job-%ld", mnt,
		    strcmp(self, "/") == 0 ? "" : self, (long)worker);
	}
	free(self);
	free(mnt);
	return dir;
}

int
jobcg_create(const char *dir, char *err, size_t errsz)
{
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errsz, "creating cgroup %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Write text to dir/name; 0 or -1. */
static int
jobcg_write(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd, rc = -1;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) != -1) {
		if (write(fd, text, strlen(text)) == (ssize_t)strlen(text))
			rc = 0;
		close(fd);
	}
	free(path);
	return rc;
}

/* SIGKILL each member of cgroup.procs (signal 0: just count). */
static int
jobcg_signal(const char *dir, int sig)
{
	char *path = xasprintf("%s/cgroup.procs", dir), *text, *p, *end;
	size_t len;
	int n = 0;

	text = file_read_all(path, JOBCG_MAX_FILE, &len);
	free(path);
	if (text == NULL)
		return errno == ENOENT ? 0 : -1;
	for (p = text; *p != '\0'; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 0) {
			if (sig != 0)
				(void)kill((pid_t)pid, sig);
			n++;
		}
		while (*end == '\n')
			end++;
	}
	free(text);
	return n;
}

int
jobcg_kill(const char *dir, int wait_ms)
{
	int64_t deadline = now_ms() + wait_ms;
	int n, round;

	if ((n = jobcg_signal(dir, 0)) <= 0)
		return n;
	if (jobcg_write(dir, "cgroup.kill", "1") == -1)
		/* Before Linux 5.14: what forks while we kill, the next
		 * pass takes. */
		for (round = 0; round < JOBCG_ROUNDS &&
		    jobcg_signal(dir, SIGKILL) > 0; round++)
			;
	while (wait_ms > 0 && jobcg_signal(dir, 0) > 0 && now_ms() < deadline)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	return n;
}

void
jobcg_remove(const char *dir, int wait_ms)
{
	(void)jobcg_kill(dir, wait_ms);
	(void)rmdir(dir);
}
