/*
 * cron: GitHub's on.schedule cron lines (reference 2.5): five POSIX fields
 * (minute hour day-of-month month day-of-week), each "*", a number, a name
 * (JAN-DEC, SUN-SAT, any case), a range "a-b", a step "x/n" (where x is "*",
 * a range, or a start meaning start-max), or a comma list of those.  No
 * "@daily" macros, no seconds, day-of-week 0-6 only.  When both day fields
 * are restricted a day matches if EITHER matches (POSIX; unconfirmed for
 * GitHub, reference 9.7).
 *
 * workflow.c validates every schedule with cron_parse; the scheduler uses
 * cron_next to find fire times.  All times are UTC seconds since the epoch.
 */
#ifndef KILN_CRON_H
#define KILN_CRON_H

#include <stddef.h>
#include <stdint.h>

struct cron {
	uint64_t	minute;		/* bit n: minute n (0-59) */
	uint32_t	hour;		/* bit n: hour n (0-23) */
	uint32_t	dom;		/* bit n: day n (1-31) */
	uint32_t	month;		/* bit n: month n (1-12) */
	uint32_t	dow;		/* bit n: weekday n (0-6, Sunday 0) */
	int		dom_any;	/* day-of-month field began with '*' */
	int		dow_any;	/* day-of-week field began with '*' */
};

/*
 * Parse text into *out.  Returns 0, or -1 with a message naming the field
 * and the offending text in err (err may be NULL).
 */
int	cron_parse(const char *text, struct cron *out, char *err, size_t errsz);

/* 1 if the minute starting at t (UTC, seconds) is a fire time. */
int	cron_matches(const struct cron *, int64_t t);

/*
 * The first fire time strictly after `after` (UTC seconds), within about
 * five years.  Returns 0 with *next set, or -1 if there is none (e.g.
 * "0 0 31 2 *").
 */
int	cron_next(const struct cron *, int64_t after, int64_t *next);

#endif
