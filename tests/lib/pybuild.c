/*
 * pybuild: see pybuild.h.
 */
#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "harness.h"
#include "pybuild.h"
#include "spawn.h"
#include "util.h"


/* python3 -m http.server on a port the kernel picks, serving dir. */
void
pybuild_serve(struct pybuild_server *sv, const char *dir)
{
	char *py = spawn_path_find("python3", "/usr/bin:/usr/local/bin:/bin");
	char *argv[] = { py, "-u", "-m", "http.server", "0", "--bind",
	    "127.0.0.1", "--directory", (char *)dir, NULL };
	struct spawn_spec s;
	char err[256], line[512], *p;
	int fds[2];
	size_t got = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(py);
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.fd_in = -1;
	s.fd_out = fds[1];
	s.fd_err = -1;
	s.group = 1;
	sv->pid = spawn_start(&s, err, sizeof err);
	close(fds[1]);
	ck_assert_msg(sv->pid > 0, "%s", err);
	/* "Serving HTTP on 127.0.0.1 port N (...)": listening from then on. */
	while (got < sizeof line - 1 && memchr(line, '\n', got) == NULL) {
		n = read(fds[0], line + got, sizeof line - 1 - got);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	line[got] = '\0';
	close(fds[0]);
	p = strstr(line, " port ");
	ck_assert_msg(p != NULL, "http.server said: %s", line);
	sv->port = atoi(p + 6);
	ck_assert_int_gt(sv->port, 0);
	free(py);
}

void
pybuild_stop(struct pybuild_server *sv)
{
	kill(sv->pid, SIGTERM);
	(void)spawn_wait(sv->pid);
}

/*
 * A build in GitHub's python-versions layout (bin/, setup.sh at the top)
 * made from this host's interpreter: bin/python3.98 runs the real python3
 * and, so that no host's own Python can be mistaken for it, answers the
 * version probe as 3.98.0.  setup.sh does what the real one does (copy
 * to $RUNNER_TOOL_CACHE/Python/<v>/x64, the python links, x64.complete),
 * without pip.  Returns the tarball's sha256.
 */
char *
pybuild_make(const char *tmpdir, const char *srv, const char *version)
{
	char *real = spawn_path_find("python3", "/usr/bin:/usr/local/bin:/bin");
	char *build = xasprintf("%s/build-%s", tmpdir, version);
	char *bin = xasprintf("%s/bin", build), *p, *text, *tarball;
	char *argv[8], hex[65];
	unsigned char md[32];
	size_t len;
	int v[3];

	ck_assert_int_eq(sscanf(version, "%d.%d.%d", &v[0], &v[1], &v[2]), 3);
	ck_assert_ptr_nonnull(real);
	ck_assert_int_eq(mkdir_p(bin, 0755), 0);
	p = xasprintf("%s/python%d.%d", bin, v[0], v[1]);
	text = xasprintf("#!/bin/sh\ncase \"$*\" in *version_info*) "
	    "echo '%d %d %d'; exit 0;; esac\nexec %s \"$@\"\n", v[0], v[1],
	    v[2], real);
	harness_write_file(NULL, p, text);
	ck_assert_int_eq(chmod(p, 0755), 0);
	free(text);
	free(p);
	p = xasprintf("%s/python3", bin);
	text = xasprintf("python%d.%d", v[0], v[1]);
	ck_assert_int_eq(symlink(text, p), 0);
	free(text);
	free(p);
	p = xasprintf("%s/setup.sh", build);
	text = xasprintf(
	    "set -e\n"
	    "V=%s\n"
	    "ROOT=${AGENT_TOOLSDIRECTORY:-$RUNNER_TOOL_CACHE}\n"
	    "DEST=$ROOT/Python/$V/x64\n"
	    "echo \"Create Python $V folder\"\n"
	    "rm -rf \"$ROOT/Python/$V\"\n"
	    "mkdir -p \"$DEST\"\n"
	    "cp -R ./* \"$DEST\"\n"
	    "rm \"$DEST/setup.sh\"\n"
	    "cd \"$DEST\"\n"
	    "ln -s ./bin/python%d.%d python\n"
	    "cd bin\n"
	    "ln -s python%d.%d python%d%d\n"
	    "[ -f python ] || ln -s python%d.%d python\n"
	    "touch \"$ROOT/Python/$V/x64.complete\"\n", version, v[0], v[1],
	    v[0], v[1], v[0], v[1], v[0], v[1]);
	harness_write_file(NULL, p, text);
	free(text);
	free(p);
	tarball = xasprintf("%s/python-%s-linux-22.04-x64.tar.gz", srv, version);
	argv[0] = "tar";
	argv[1] = "-czf";
	argv[2] = tarball;
	argv[3] = "-C";
	argv[4] = build;
	argv[5] = ".";
	argv[6] = NULL;
	ck_assert_int_eq(harness_run(argv, NULL, NULL, NULL, NULL, 60000), 0);
	text = file_read_all(tarball, 64 * 1024 * 1024, &len);
	ck_assert_ptr_nonnull(text);
	SHA256((unsigned char *)text, len, md);
	hex_encode(md, sizeof md, hex);
	free(text);
	free(tarball);
	free(bin);
	free(build);
	free(real);
	return xstrdup(hex);
}

/* One release: linux x64 builds for 22.04 and 24.04, and a darwin one. */
char *
pybuild_release(int port, const char *version, int stable, const char *sha)
{
	char *shaf = sha ? xasprintf(", \"sha256\": \"%s\"", sha) : xstrdup("");
	char *r = xasprintf("{\"version\": \"%s\", \"stable\": %s, "
	    "\"release_url\": \"x\", \"files\": ["
	    "{\"filename\": \"python-%s-darwin-x64.tar.gz\", \"arch\": \"x64\", "
	    "\"platform\": \"darwin\", \"download_url\": "
	    "\"http://127.0.0.1:%d/nothing-here.tar.gz\"},"
	    "{\"filename\": \"python-%s-linux-22.04-x64.tar.gz\", \"arch\": "
	    "\"x64\", \"platform\": \"linux\", \"platform_version\": \"22.04\", "
	    "\"download_url\": \"http://127.0.0.1:%d/python-%s-linux-22.04-x64"
	    ".tar.gz\"%s},"
	    "{\"filename\": \"python-%s-linux-24.04-x64.tar.gz\", \"arch\": "
	    "\"x64\", \"platform\": \"linux\", \"platform_version\": \"24.04\", "
	    "\"download_url\": \"http://127.0.0.1:%d/python-%s-linux-22.04-x64"
	    ".tar.gz\"%s}]}", version, stable ? "true" : "false", version, port,
	    version, port, version, shaf, version, port, version, shaf);

	free(shaf);
	return r;
}

