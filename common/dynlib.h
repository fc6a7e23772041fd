/*
 * dynlib: a library opened with dlopen() where it is first needed instead
 * of linked, so that processes that never use it do not map it (kilnd
 * without [github] reporting never loads libcurl; kiln-worker never loads
 * libarchive, only the children that archive do).
 *
 * Each user keeps an X-macro list of the functions it calls and a table of
 * pointers typed from the library's own header (archive_dl.h, curl_dl.h).
 */
#ifndef KILN_DYNLIB_H
#define KILN_DYNLIB_H

#include <stddef.h>

/*
 * Open soname and look up the n functions names[] into slots[]: all of
 * them, or none (the library is closed again).  0, or -1 with err set.
 */
int	dynlib_load(const char *soname, const char *const names[], size_t n,
	    void *slots[], char *err, size_t errsz);

#endif
