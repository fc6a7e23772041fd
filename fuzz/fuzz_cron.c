/*
 * fuzz_cron: cron_parse() on arbitrary text, as workflow.c validates each
 * on.schedule line, then cron_matches()/cron_next() the way the scheduler
 * uses a parsed line.
 *
 * The input is the cron text (cut at the first NUL).  Fire times are asked
 * for from a fixed set of instants around month, year and leap-day edges;
 * cron_next()'s documented contract is checked: a result is strictly later
 * than the start, within about five years, and cron_matches() it.
 *
 * Bound: FUZZ_CRON_MAX bytes; a cron line is a few dozen characters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

#include "fuzz.h"

#define FUZZ_CRON_MAX	1024

/* UTC seconds: epoch, 2024-02-28 23:59, 2024-12-31 23:59:30, 2100-02-28. */
static const int64_t fuzz_instants[] = {
	0,
	1709164740,
	1735689570,
	4107542400,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *text;
	struct cron c;
	int64_t next;
	size_t i;

	if (size > FUZZ_CRON_MAX)
		return 0;
	text = fuzz_strndup(data, size);
	err[0] = '\0';
	if (cron_parse(text, &c, err, sizeof err) == -1) {
		FUZZ_ASSERT(err[0] != '\0');
		free(text);
		return 0;
	}
	/* A parsed line has a bit in range in every field. */
	FUZZ_ASSERT(c.minute != 0 && (c.minute >> 60) == 0);
	FUZZ_ASSERT(c.hour != 0 && (c.hour >> 24) == 0);
	FUZZ_ASSERT((c.dom & ~(uint32_t)0xfffffffe) == 0 && c.dom != 0);
	FUZZ_ASSERT((c.month & ~(uint32_t)0x1ffe) == 0 && c.month != 0);
	FUZZ_ASSERT(c.dow != 0 && (c.dow >> 7) == 0);

	for (i = 0; i < sizeof fuzz_instants / sizeof fuzz_instants[0]; i++) {
		(void)cron_matches(&c, fuzz_instants[i]);
		if (cron_next(&c, fuzz_instants[i], &next) == 0) {
			FUZZ_ASSERT(next > fuzz_instants[i]);
			FUZZ_ASSERT(next % 60 == 0);
			FUZZ_ASSERT(next - fuzz_instants[i] <=
			    (int64_t)6 * 366 * 86400);
			FUZZ_ASSERT(cron_matches(&c, next) == 1);
		}
	}
	free(text);
	return 0;
}
