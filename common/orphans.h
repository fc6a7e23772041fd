/*
 * orphans: a process (the worker, kilnd) adopts what its children abandon
 * and ends it (see orphans.c).
 */
#include <stddef.h>
#include <sys/types.h>

#ifndef KILN_ORPHANS_H
#define KILN_ORPHANS_H

/* Become a child subreaper; 0, or -1 with errno. */
int	orphans_adopt(void);

/*
 * SIGKILL every descendant of this process but the spare ones (and their
 * own descendants); returns how many were killed.  With reap, wait for
 * them (bounded): the worker, between jobs.  Without, a caller with an
 * event loop reaps them from its SIGCHLD handler, and is not held up.
 */
int	orphans_kill(const pid_t *spare, size_t nspare, int reap);

#endif
