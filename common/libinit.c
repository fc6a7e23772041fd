/*
 * libinit: GnuTLS without its implicit initialisation.
 *
 * GnuTLS is in every kiln process only as a dependency (libcurl's librtmp;
 * libldap under libpq, which PostgreSQL loads too); kiln's TLS is
 * OpenSSL's.  Yet GnuTLS initialises itself from a library constructor,
 * loading p11-kit's modules: measured by bench/idle.sh, about 1 MiB of
 * resident memory in kilnd, in each worker and in each PostgreSQL process
 * kilnd starts.  Its documented switch, GNUTLS_NO_IMPLICIT_INIT, is read
 * by that constructor, before main() runs, so setting it in main() is too
 * late for the process itself: it re-executes itself once instead (the
 * pid, descriptors and argv stay; systemd sees the same main process).
 * Children inherit the setting: the worker removes it from the steps'
 * environment (libinit_hides()) unless the user had set it.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libinit.h"

#define GNUTLS_SWITCH	"GNUTLS_NO_IMPLICIT_INIT"

void
libinit_reexec(char **argv)
{
	char self[PATH_MAX];
	ssize_t n;

	if (getenv(GNUTLS_SWITCH) != NULL || argv == NULL || argv[0] == NULL)
		return;
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	if (setenv(GNUTLS_SWITCH, "1", 1) == -1 ||
	    setenv(LIBINIT_MARK, "1", 1) == -1)
		goto undo;
	execv(self, argv);
undo:
	unsetenv(GNUTLS_SWITCH);
	unsetenv(LIBINIT_MARK);
}

int
libinit_hides(const char *name)
{
	return strcmp(name, GNUTLS_SWITCH) == 0 && getenv(LIBINIT_MARK) != NULL;
}
