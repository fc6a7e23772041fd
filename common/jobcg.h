/*
 * jobcg: a cgroup (v2) per worker for the processes its jobs start.
 *
 * Every step a worker runs joins <own cgroup>/kiln-job-<worker pid>, so
 * whatever a job starts -- in a new session, double-forked, re-parented
 * to init -- stays in that cgroup and ends with it: the worker kills it
 * at the end of each job, and kilnd kills it when the worker itself dies
 * (the worker's subreaper, worker/orphans.c, cannot outlive the worker).
 * Both compute the same path, the worker being kilnd's child in kilnd's
 * cgroup.  Without a writable cgroup2 hierarchy (no delegation), nothing
 * is created and the worker's subreaper is all there is.
 */
#ifndef KILN_JOBCG_H
#define KILN_JOBCG_H

#include <stddef.h>
#include <sys/types.h>

/*
 * The job cgroup's directory for the worker with this pid, in the cgroup
 * of the calling process (kilnd, or the worker itself), or NULL when this
 * system has no cgroup2 hierarchy; caller frees.
 */
char	*jobcg_path(pid_t worker);

/* Create it (0755); 0, or -1 with err. */
int	 jobcg_create(const char *dir, char *err, size_t errsz);

/*
 * SIGKILL everything in it (cgroup.kill, else each member of cgroup.procs
 * until none is left).  wait_ms > 0: wait up to that long until it is
 * empty.  Returns how many processes were in it, or -1 when it cannot be
 * read (absent: 0).
 */
int	 jobcg_kill(const char *dir, int wait_ms);

/* Kill everything in it, then remove it (best effort, no waiting). */
void	 jobcg_remove(const char *dir, int wait_ms);

#endif
