/*
 * hubsig: GitHub webhook signatures (X-Hub-Signature-256): "sha256=" and the
 * lowercase hex HMAC-SHA256 of the raw request body, keyed with the hook's
 * secret.  Compared in constant time.
 */
#ifndef KILN_HUBSIG_H
#define KILN_HUBSIG_H

#include <stddef.h>

#define HUBSIG_HEADER_LEN	(7 + 64)	/* "sha256=" + 64 hex digits */

/* Write the header value for body into out (HUBSIG_HEADER_LEN + 1 bytes). */
void	hubsig_compute(const char *secret, size_t secretlen, const void *body,
	    size_t len, char out[HUBSIG_HEADER_LEN + 1]);

/* 1 if header (may be NULL) is the valid signature of body, else 0. */
int	hubsig_verify(const char *secret, size_t secretlen, const void *body,
	    size_t len, const char *header);

#endif
