/*
 * fuzz_config: config_load() on an arbitrary kiln.conf.  The file is
 * written by the administrator, so this is robustness rather than a trust
 * boundary, but `kilnd -n` and SIGHUP re-parse it in a running daemon.
 *
 * config_load() only takes a path, so each input is written to an
 * anonymous memory file (memfd_create) and read through /proc/self/fd/N:
 * nothing touches the disk and nothing outlives the call.  On success the
 * derived connection strings are built as kilnd builds them.
 *
 * Bound: FUZZ_CONFIG_MAX bytes.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "fuzz.h"

#define FUZZ_CONFIG_MAX	(64 * 1024)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kiln_config cfg;
	char path[64], err[1024], *s;
	size_t off = 0;
	ssize_t n;
	int fd;

	if (size > FUZZ_CONFIG_MAX)
		return 0;
	if ((fd = memfd_create("kiln-fuzz.conf", MFD_CLOEXEC)) == -1)
		abort();
	while (off < size) {
		if ((n = write(fd, data + off, size - off)) <= 0)
			abort();
		off += (size_t)n;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	err[0] = '\0';
	if (config_load(path, &cfg, err, sizeof err) == 0) {
		FUZZ_ASSERT(cfg.state_dir != NULL && cfg.state_dir[0] != '\0');
		s = config_conninfo(&cfg);
		FUZZ_ASSERT(s != NULL);
		free(s);
		s = config_embedded_conninfo(&cfg, "kiln");
		FUZZ_ASSERT(s != NULL);
		free(s);
		s = config_pg_socket_dir(&cfg);
		FUZZ_ASSERT(s != NULL);
		free(s);
		config_free(&cfg);
	} else
		FUZZ_ASSERT(err[0] != '\0');
	close(fd);
	return 0;
}
