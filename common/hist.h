/*
 * hist: an in-memory histogram of observations (seconds, bytes ...) with
 * fixed upper bounds, as Prometheus' histogram type exposes it: per bound
 * the count of observations at most that bound, plus count and sum.
 */
#ifndef KILN_HIST_H
#define KILN_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_MAX_BOUNDS	16

struct hist {
	const double	*bounds;	/* ascending, not owned */
	size_t		 nbounds;	/* at most HIST_MAX_BOUNDS */
	uint64_t	 in[HIST_MAX_BOUNDS];	/* in (bounds[i-1], bounds[i]] */
	uint64_t	 count;
	double		 sum;
};

/* Start empty with nbounds (capped at HIST_MAX_BOUNDS) upper bounds. */
void	 hist_init(struct hist *, const double *bounds, size_t nbounds);
void	 hist_observe(struct hist *, double v);
/* Observations at most bounds[i] (cumulative, as the le= buckets). */
uint64_t hist_le(const struct hist *, size_t i);

#endif
