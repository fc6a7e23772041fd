/*
 * clock: kiln's wall clock for schedules, UTC seconds since the epoch.
 *
 * KILN_TEST_CLOCK, when set in the environment, names a file holding a
 * decimal number of seconds: kiln_now() returns that instead of the real
 * time, re-reading the file on every call, so an integration test moves
 * kilnd's clock by rewriting the file (02:00 UTC without waiting for it).
 * It is for tests only; nothing in a deployment sets it.
 */
#ifndef KILN_CLOCK_H
#define KILN_CLOCK_H

#include <stdint.h>

/* Seconds since the epoch (UTC), or the test clock's value. */
int64_t	kiln_now(void);

/* 1 when KILN_TEST_CLOCK is set (the scheduler then polls it). */
int	kiln_clock_is_test(void);

#endif
