/*
 * pybuild: for setup-python's download tests, a Python build in GitHub's
 * python-versions layout made from this host's interpreter, a versions
 * manifest entry for it, and python3 -m http.server serving them over
 * loopback.
 */
#ifndef KILN_TEST_PYBUILD_H
#define KILN_TEST_PYBUILD_H

#include <sys/types.h>

struct pybuild_server {
	pid_t	pid;
	int	port;
};

/* Serve dir on a loopback port the kernel picks (sv->port). */
void	 pybuild_serve(struct pybuild_server *sv, const char *dir);
void	 pybuild_stop(struct pybuild_server *sv);
/*
 * Make the build of version (x.y.z) under tmpdir and its tarball
 * srv/python-<version>-linux-22.04-x64.tar.gz; returns its sha256 (hex).
 */
char	*pybuild_make(const char *tmpdir, const char *srv, const char *version);
/* A manifest release of version served at port (sha NULL: none given). */
char	*pybuild_release(int port, const char *version, int stable,
	     const char *sha);

#endif
