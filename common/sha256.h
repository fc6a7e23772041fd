/*
 * sha256: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for kilnd's
 * hot and idle paths.
 *
 * Why not OpenSSL's EVP: in OpenSSL 3 the first EVP digest, MAC or
 * RAND_bytes call loads the provider machinery, 1.9 MiB that then stays
 * resident in a daemon whose idle target is 8 MiB (bench/RESULTS.md).
 * Every webhook's signature, every API token and the web assets' ETags
 * need only SHA-256, and random bytes come from util.h's random_bytes;
 * AES-GCM sealing (secretbox) and TLS still use OpenSSL.  Tested against
 * OpenSSL in tests/unit/test_sha256.c.
 */
#ifndef KILN_SHA256_H
#define KILN_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32
#define SHA256_BLOCK	64

struct sha256_ctx {
	uint32_t	 h[8];
	uint64_t	 bytes;		/* hashed so far */
	unsigned char	 block[SHA256_BLOCK];
	size_t		 used;		/* bytes waiting in block */
};

void	sha256_init(struct sha256_ctx *);
void	sha256_update(struct sha256_ctx *, const void *, size_t);
/* Writes the digest and wipes the state. */
void	sha256_final(struct sha256_ctx *, unsigned char out[SHA256_LEN]);
void	sha256_digest(const void *, size_t, unsigned char out[SHA256_LEN]);

void	sha256_hmac(const void *key, size_t keylen, const void *msg,
	    size_t len, unsigned char out[SHA256_LEN]);

#endif
