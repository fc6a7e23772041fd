/*
 * orphans: the worker adopts what its jobs abandon and ends it with the
 * job (see orphans.c).
 */
#ifndef KILN_ORPHANS_H
#define KILN_ORPHANS_H

/* Become a child subreaper; 0, or -1 with errno. */
int	orphans_adopt(void);

/*
 * SIGKILL every descendant of this process and reap them (bounded).
 * Returns how many were killed.  Call between jobs only.
 */
int	orphans_kill(void);

#endif
