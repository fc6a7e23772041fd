/* hist: see hist.h. */
#include <string.h>

#include "hist.h"

void
hist_init(struct hist *h, const double *bounds, size_t nbounds)
{
	memset(h, 0, sizeof *h);
	h->bounds = bounds;
	h->nbounds = nbounds < HIST_MAX_BOUNDS ? nbounds : HIST_MAX_BOUNDS;
}

void
hist_observe(struct hist *h, double v)
{
	size_t i;

	for (i = 0; i < h->nbounds; i++)
		if (v <= h->bounds[i]) {
			h->in[i]++;
			break;
		}
	h->count++;
	h->sum += v;
}

uint64_t
hist_le(const struct hist *h, size_t i)
{
	uint64_t n = 0;
	size_t j;

	for (j = 0; j <= i && j < h->nbounds; j++)
		n += h->in[j];
	return n;
}
