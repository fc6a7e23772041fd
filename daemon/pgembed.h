/*
 * pgembed: kilnd's own PostgreSQL cluster under <state_dir>/pg, used when no
 * [database] url is configured.  initdb on first start, Unix socket only (no
 * TCP), run as an unprivileged account when kilnd is root (PostgreSQL refuses
 * root), started as kilnd's child and stopped when kilnd exits.
 *
 * Start-up is blocking by design: it happens before the event loop runs.
 * A restart after a crash is not.
 */
#ifndef KILN_PGEMBED_H
#define KILN_PGEMBED_H

#include <sys/types.h>
#include <stddef.h>

#include "config.h"

struct pgembed;

/*
 * Create (if needed) and start the cluster, wait until it accepts
 * connections and make sure the "kiln" database exists.  Returns NULL with a
 * reason in err.  The caller owns the result and stops it with
 * pgembed_stop().
 */
struct pgembed	*pgembed_start(const struct kiln_config *, char *err,
		     size_t errsz);

/* Connections of the embedded cluster kept for administrators and cictl. */
#define PGEMBED_SPARE_CONNECTIONS	10

/*
 * The running cluster's max_connections, fixed at its start: a reload
 * that raises [workers] count past what it leaves needs a restart.
 */
int		 pgembed_connection_limit(const struct pgembed *);

/* The postmaster's pid, for the SIGCHLD handler. */
pid_t		 pgembed_pid(const struct pgembed *);

/* Mark the postmaster as already reaped (it died on its own). */
void		 pgembed_reaped(struct pgembed *);

/*
 * Start the postmaster again after it died, on the same cluster, without
 * waiting (the event loop runs): PostgreSQL recovers from its WAL and
 * kilnd's pool reconnects once it answers.  A postmaster that cannot start
 * yet (its predecessor's backends still hold the shared memory) exits and
 * is reported through SIGCHLD like any other death.
 */
int		 pgembed_restart(struct pgembed *, char *err, size_t errsz);

/* Fast shutdown, wait (bounded), free.  NULL is a no-op. */
void		 pgembed_stop(struct pgembed *);

#endif
