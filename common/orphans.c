/*
 * orphans: what a job leaves running when it ends.
 *
 * The worker is a child subreaper (PR_SET_CHILD_SUBREAPER): a process a
 * step starts and abandons, through setsid and a double fork too, is
 * re-parented to the worker instead of init.  So when a job ends, every
 * descendant of the worker is the job's (a worker runs one job at a time
 * and keeps no children of its own between steps), and orphans_kill()
 * ends them all, as GitHub's runner cleans up orphan processes after a job.
 *
 * kilnd is a subreaper too: when a worker is killed in the middle of a
 * job, the job's processes come to kilnd, which ends everything it did
 * not start itself (its workers and PostgreSQL are spared).
 *
 * Not covered: a process that leaves through a pid namespace; a cgroup
 * per job would hold that too.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#include "orphans.h"

#define ORPHANS_MAX_PROCS	65536	/* /proc entries considered */
#define ORPHANS_ROUNDS		8	/* scans: a dying fork may spawn */
#define ORPHANS_REAP_MS		3000	/* bound on reaping the killed */

struct orphans_proc {
	pid_t	pid;
	pid_t	ppid;
	int	mine;		/* a descendant of this process */
};

int
orphans_adopt(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/* pid's parent from /proc/PID/stat, or -1. */
static pid_t
orphans_ppid(pid_t pid)
{
	char path[64], text[512], *close_paren;
	long ppid;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and parens. */
	if ((close_paren = strrchr(text, ')')) == NULL ||
	    sscanf(close_paren + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

/* Every process now, with its parent; returns how many (at most max). */
static size_t
orphans_scan(struct orphans_proc *procs, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;
	pid_t ppid;

	if (d == NULL)
		return 0;
	while (n < max && (de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if ((ppid = orphans_ppid((pid_t)atol(de->d_name))) < 0)
			continue;
		procs[n].pid = (pid_t)atol(de->d_name);
		procs[n].ppid = ppid;
		procs[n].mine = 0;
		n++;
	}
	closedir(d);
	return n;
}

static int
orphans_spared(pid_t pid, const pid_t *spare, size_t nspare)
{
	size_t i;

	for (i = 0; i < nspare; i++)
		if (spare[i] == pid)
			return 1;
	return 0;
}

/* Mark the descendants of self but the spared; returns how many. */
static size_t
orphans_mark(struct orphans_proc *procs, size_t n, pid_t self,
    const pid_t *spare, size_t nspare)
{
	size_t i, j, found = 0;
	int grew = 1;

	while (grew) {
		grew = 0;
		for (i = 0; i < n; i++) {
			if (procs[i].mine)
				continue;
			if (procs[i].ppid == self &&
			    !orphans_spared(procs[i].pid, spare, nspare)) {
				procs[i].mine = grew = 1;
				found++;
				continue;
			}
			for (j = 0; j < n; j++)
				if (procs[j].mine &&
				    procs[j].pid == procs[i].ppid) {
					procs[i].mine = grew = 1;
					found++;
					break;
				}
		}
	}
	return found;
}

int
orphans_kill(const pid_t *spare, size_t nspare, int reap)
{
	struct orphans_proc *procs;
	pid_t self = getpid();
	int64_t deadline;
	size_t n, i, found;
	int killed = 0, round;
	siginfo_t si;

	/*
	 * No child at all (not even a zombie): no descendant either, since
	 * every descendant has an ancestor that is our child or was adopted
	 * by us.  The common case after a job, and a /proc scan costs a few
	 * milliseconds (a few thousand syscalls on a busy host) per job.
	 */
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1 &&
	    errno == ECHILD)
		return 0;
	procs = xcalloc(ORPHANS_MAX_PROCS, sizeof *procs);
	for (round = 0; round < ORPHANS_ROUNDS; round++) {
		n = orphans_scan(procs, ORPHANS_MAX_PROCS);
		if ((found = orphans_mark(procs, n, self, spare, nspare)) == 0)
			break;
		for (i = 0; i < n; i++)
			if (procs[i].mine && kill(procs[i].pid, SIGKILL) == 0)
				killed++;
		if (!reap)
			break;	/* a fork after SIGKILL is pending fails */
		/* Reap what died, so the next scan sees only the living. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	free(procs);
	if (!reap)
		return killed;
	deadline = now_ms() + ORPHANS_REAP_MS;
	while (now_ms() < deadline) {
		pid_t r = waitpid(-1, NULL, WNOHANG);

		if (r == -1)	/* ECHILD: none left */
			break;
		if (r == 0)
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 },
			    NULL);
	}
	return killed;
}
