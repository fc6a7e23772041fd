/*
 * hubsig: see hubsig.h.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hubsig.h"
#include "util.h"

void
hubsig_compute(const char *secret, size_t secretlen, const void *body,
    size_t len, char out[HUBSIG_HEADER_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	HMAC(EVP_sha256(), secret, (int)secretlen, body, len, mac, &maclen);
	memcpy(out, "sha256=", 7);
	hex_encode(mac, 32, out + 7);
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
