/*
 * clock: see clock.h.
 */
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "util.h"

int
kiln_clock_is_test(void)
{
	const char *path = getenv("KILN_TEST_CLOCK");

	return path != NULL && *path != '\0';
}

int64_t
kiln_now(void)
{
	const char *path = getenv("KILN_TEST_CLOCK"), *errstr;
	char *text;
	int64_t t;
	size_t len;

	if (path != NULL && *path != '\0' &&
	    (text = file_read_all(path, 64, &len)) != NULL) {
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] ==
		    ' '))
			text[--len] = '\0';
		if (parse_int64(text, 0, INT64_MAX / 2, &t, &errstr) == 0) {
			free(text);
			return t;
		}
		free(text);
	}
	return (int64_t)time(NULL);
}
