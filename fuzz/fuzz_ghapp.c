/*
 * fuzz_ghapp: ghapp_token_parse() on arbitrary bytes, as kilnd reads the
 * answer of POST /app/installations/{id}/access_tokens (a network peer's
 * bytes: GitHub, GitHub Enterprise Server or whatever answers api_url).
 *
 * The input is the answer body, not NUL-terminated.  Checked beyond the
 * sanitizers: a refusal comes with a message; an accepted token is 1 to
 * GHAPP_MAX_TOKEN bytes of printable ASCII without space (it goes into an
 * Authorization header), and the cache hands the same token back while
 * it is fresh and none 5 minutes before its expires_at.
 *
 * Bound: GHAPP_MAX_ANSWER bytes (the parser's own cap) plus one, so the
 * refusal of a longer answer is reached too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ghapp.h"

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ghapp_cache *c;
	char err[256], *tok = NULL;
	int64_t exp = 0;
	size_t i, len;

	if (size > GHAPP_MAX_ANSWER + 1)
		return 0;
	err[0] = '\0';
	if (ghapp_token_parse((const char *)data, size, &tok, &exp, err,
	    sizeof err) == -1) {
		FUZZ_ASSERT(err[0] != '\0');
		FUZZ_ASSERT(tok == NULL);
		return 0;
	}
	len = strlen(tok);
	FUZZ_ASSERT(len >= 1 && len <= GHAPP_MAX_TOKEN);
	for (i = 0; i < len; i++)
		FUZZ_ASSERT(tok[i] > ' ' && tok[i] <= '~');
	c = ghapp_cache_new();
	ghapp_cache_put(c, 1, tok, exp);
	if (exp > INT64_MIN + GHAPP_TOKEN_MARGIN_S + 1) {
		const char *got = ghapp_cache_get(c, 1, exp -
		    GHAPP_TOKEN_MARGIN_S - 1);

		FUZZ_ASSERT(got != NULL && strcmp(got, tok) == 0);
		FUZZ_ASSERT(ghapp_cache_get(c, 1, exp - GHAPP_TOKEN_MARGIN_S) ==
		    NULL);
	}
	ghapp_cache_free(c);
	free(tok);
	return 0;
}
