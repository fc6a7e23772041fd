/*
 * archive_dl: libarchive is opened with dlopen() where an archive is
 * made or read, not linked into kiln-worker.
 *
 * Only the cache and the artifact actions and the Python download use
 * it, and they do their archiving in a forked child (action_fork_as(),
 * isolate.c), so the worker itself never loads it.  Linked, it brought
 * libxml2, ICU, libstdc++, liblzma, liblz4, libbz2 and libacl into every
 * worker: about 2 MiB of resident memory each (bench/idle.sh), for
 * formats kiln never reads.
 *
 * The table below is process-wide state by nature: a dlopen() handle
 * belongs to the process.  It is filled once and never changes after.
 */
#include <stdlib.h>

#include "archive_dl.h"
#include "dynlib.h"
#include "log.h"

/* The soname of libarchive 3 (Debian: libarchive13). */
#define ARCHIVE_DL_SONAME	"libarchive.so.13"

static struct archive_dl archive_dl_table;
static int archive_dl_loaded;

int
archive_dl_load(char *err, size_t errsz)
{
	static const char *const names[] = {
#define X(name) #name,
		ARCHIVE_DL_FUNCS
#undef X
	};
	void *slots[sizeof names / sizeof names[0]];
	size_t i = 0;

	if (archive_dl_loaded)
		return 0;
	if (dynlib_load(ARCHIVE_DL_SONAME, names, sizeof names /
	    sizeof names[0], slots, err, errsz) == -1)
		return -1;
	/* dlsym's void * to a function pointer: POSIX guarantees it works. */
#define X(name) *(void **)&archive_dl_table.name = slots[i++];
	ARCHIVE_DL_FUNCS
#undef X
	archive_dl_loaded = 1;
	return 0;
}

const struct archive_dl *
archive_dl(void)
{
	if (!archive_dl_loaded) {
		/* A call site that skipped archive_dl_load(): a bug. */
		log_warnx("libarchive used before it was loaded");
		abort();
	}
	return &archive_dl_table;
}
