/*
 * dynlib: see dynlib.h.
 */
#include <dlfcn.h>
#include <stdio.h>

#include "dynlib.h"

int
dynlib_load(const char *soname, const char *const names[], size_t n,
    void *slots[], char *err, size_t errsz)
{
	void *h;
	size_t i;

	if ((h = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errsz, "loading %s: %s", soname, dlerror());
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((slots[i] = dlsym(h, names[i])) == NULL) {
			snprintf(err, errsz, "%s has no %s", soname, names[i]);
			dlclose(h);
			return -1;
		}
	return 0;
}
