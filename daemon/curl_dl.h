/*
 * curl_dl: libcurl, loaded when [github] reporting starts (see
 * curl_dl.c).  Call sites say CU(curl_easy_init)() instead of
 * curl_easy_init(), after curl_dl_load() has succeeded.
 */
#ifndef KILN_CURL_DL_H
#define KILN_CURL_DL_H

#include <stddef.h>

#include <curl/curl.h>

#define CURL_DL_FUNCS \
	X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) \
	X(curl_easy_setopt) X(curl_easy_strerror) X(curl_getdate) \
	X(curl_global_cleanup) X(curl_global_init) \
	X(curl_multi_add_handle) X(curl_multi_assign) \
	X(curl_multi_cleanup) X(curl_multi_info_read) X(curl_multi_init) \
	X(curl_multi_remove_handle) X(curl_multi_setopt) \
	X(curl_multi_socket_action) X(curl_slist_append) \
	X(curl_slist_free_all)

struct curl_dl {
#define X(name) __typeof__(name) *name;
	CURL_DL_FUNCS
#undef X
};

/* Load libcurl (once per process); 0, or -1 with err set. */
int	curl_dl_load(char *err, size_t errsz);

/* The loaded functions; only after curl_dl_load() returned 0. */
const struct curl_dl *curl_dl(void);

#define CU(name)	(curl_dl()->name)

#endif
