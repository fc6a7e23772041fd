/*
 * curl_dl: kilnd opens libcurl with dlopen() when [github] reporting
 * starts (outbox_new), instead of linking it.
 *
 * Only the outbox talks HTTP out.  Linked, libcurl brought libssh2,
 * librtmp, nghttp2, libpsl, brotli, zstd and zlib into every kilnd: about
 * 0.7 MiB of an idle daemon's 8 MiB target (bench/idle.sh), for an
 * install that reports nowhere.  Workers and cictl still link it.
 *
 * The table is process-wide state by nature: a dlopen() handle belongs to
 * the process.  It is filled once and never changes after.
 */
#include <stdlib.h>

#include "curl_dl.h"
#include "dynlib.h"
#include "log.h"

/* The soname of libcurl 7 and 8 (Debian: libcurl4). */
#define CURL_DL_SONAME	"libcurl.so.4"

static struct curl_dl curl_dl_table;
static int curl_dl_loaded;

int
curl_dl_load(char *err, size_t errsz)
{
	static const char *const names[] = {
#define X(name) #name,
		CURL_DL_FUNCS
#undef X
	};
	void *slots[sizeof names / sizeof names[0]];
	size_t i = 0;

	if (curl_dl_loaded)
		return 0;
	if (dynlib_load(CURL_DL_SONAME, names, sizeof names /
	    sizeof names[0], slots, err, errsz) == -1)
		return -1;
	/* dlsym's void * to a function pointer: POSIX guarantees it works. */
#define X(name) *(void **)&curl_dl_table.name = slots[i++];
	CURL_DL_FUNCS
#undef X
	curl_dl_loaded = 1;
	return 0;
}

const struct curl_dl *
curl_dl(void)
{
	if (!curl_dl_loaded) {
		/* A call site that skipped curl_dl_load(): a bug. */
		log_warnx("libcurl used before it was loaded");
		abort();
	}
	return &curl_dl_table;
}
