/*
 * libinit: keep a library kiln loads but never calls from initialising
 * itself in every kiln process (see libinit.c).
 */
#ifndef KILN_LIBINIT_H
#define KILN_LIBINIT_H

/* Set by kiln, with GNUTLS_NO_IMPLICIT_INIT, when the user had not set it. */
#define LIBINIT_MARK	"KILN_GNUTLS_NO_IMPLICIT_INIT"

/*
 * First thing in main(): if GNUTLS_NO_IMPLICIT_INIT is unset, set it (and
 * LIBINIT_MARK) and execute this program again with the same argv, once.
 * Returns only when that is not needed or the exec failed (then the
 * environment is as it was: only memory is at stake).
 */
void	libinit_reexec(char **argv);

/*
 * 1 if the environment variable name was set by libinit_reexec() rather
 * than by the user, so a job's steps must not inherit it.
 */
int	libinit_hides(const char *name);

#endif
