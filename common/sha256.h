/*
 * sha256: SHA-256 and HMAC-SHA256 for kilnd's hot and idle paths.
 *
 * Why not OpenSSL's EVP or HMAC(): in OpenSSL 3 the first EVP digest, MAC
 * or RAND_bytes call loads the provider machinery, 1.9 MiB that then
 * stays resident in a daemon whose idle target is 8 MiB
 * (bench/RESULTS.md).  Every webhook's signature, every API token and the
 * web assets' ETags need only SHA-256, and random bytes come from util.h's
 * random_bytes; AES-GCM sealing (secretbox) and TLS still use EVP.
 * Tested against EVP in tests/unit/test_sha256.c.
 */
#ifndef KILN_SHA256_H
#define KILN_SHA256_H

#include <stddef.h>

#include <openssl/sha.h>

#define SHA256_LEN	32
#define SHA256_BLOCK	64

struct sha256_ctx {
	SHA256_CTX	 c;	/* OpenSSL's low-level state (see sha256.c) */
};

void	sha256_init(struct sha256_ctx *);
void	sha256_update(struct sha256_ctx *, const void *, size_t);
/* Writes the digest and wipes the state. */
void	sha256_final(struct sha256_ctx *, unsigned char out[SHA256_LEN]);
void	sha256_digest(const void *, size_t, unsigned char out[SHA256_LEN]);

void	sha256_hmac(const void *key, size_t keylen, const void *msg,
	    size_t len, unsigned char out[SHA256_LEN]);

#endif
