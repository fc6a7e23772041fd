/*
 * hubsig: see hubsig.h.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "hubsig.h"
#include "sha256.h"
#include "util.h"

void
hubsig_compute(const char *secret, size_t secretlen, const void *body,
    size_t len, char out[HUBSIG_HEADER_LEN + 1])
{
	unsigned char mac[SHA256_LEN];

	sha256_hmac(secret, secretlen, body, len, mac);
	memcpy(out, "sha256=", 7);
	hex_encode(mac, sizeof mac, out + 7);
	OPENSSL_cleanse(mac, sizeof mac);
}

int
hubsig_verify(const char *secret, size_t secretlen, const void *body,
    size_t len, const char *header)
{
	char expect[HUBSIG_HEADER_LEN + 1];
	int ok;

	if (header == NULL || strlen(header) != HUBSIG_HEADER_LEN)
		return 0;	/* the length is not secret */
	hubsig_compute(secret, secretlen, body, len, expect);
	ok = CRYPTO_memcmp(expect, header, HUBSIG_HEADER_LEN) == 0;
	OPENSSL_cleanse(expect, sizeof expect);
	return ok;
}
