/*
 * secretbox: authenticated encryption of small secrets at rest (repository
 * secrets, GitHub App keys).  AES-256-GCM through OpenSSL EVP, a fresh
 * random 12-byte nonce per value, and a versioned text form that fits a
 * text column:
 *
 *	"v1:" base64(nonce[12] | ciphertext | tag[16])
 *
 * The optional associated data (aad) binds a value to where it is stored
 * (say "repo 7 secret TOKEN"): a ciphertext copied to another row does not
 * open there.  The key is 32 random bytes in a file that only its owner may
 * read; secretbox_key_load() creates it (mode 0600) when asked to.
 *
 * Nothing here logs; errors come back in the caller's buffer and never
 * contain key or plaintext bytes.
 */
#ifndef KILN_SECRETBOX_H
#define KILN_SECRETBOX_H

#include <stddef.h>

#define SECRETBOX_KEY_LEN	32
#define SECRETBOX_NONCE_LEN	12
#define SECRETBOX_TAG_LEN	16
/* Largest plaintext sealed or opened (GitHub's secrets stop at 48 KB). */
#define SECRETBOX_MAX_PLAIN	(64 * 1024)
#define SECRETBOX_PREFIX	"v1:"

/*
 * Load the key from path into key.  When the file is absent and create is
 * non-zero, 32 bytes from the OpenSSL RNG are written to a new file of mode
 * 0600 (O_EXCL: a racing creator loses and reads the winner's key).
 * Refused: a file that is not a regular file, not exactly 32 bytes, or that
 * its group or others may access (mode & 077).  Returns 0, or -1 with a
 * message naming the file in err.
 */
int	 secretbox_key_load(const char *path, int create,
	     unsigned char key[SECRETBOX_KEY_LEN], char *err, size_t errsz);

/*
 * Seal len bytes of plain (at most SECRETBOX_MAX_PLAIN) with key and the
 * NUL-terminated aad (NULL for none).  Returns the text form, which the
 * caller frees, or NULL with a reason in err.
 */
char	*secretbox_seal(const unsigned char key[SECRETBOX_KEY_LEN],
	     const void *plain, size_t len, const char *aad, char *err,
	     size_t errsz);

/*
 * Open a sealed text form with key and the aad it was sealed with.  On
 * success *plainp is a NUL-terminated buffer of *lenp bytes that the caller
 * must release with secretbox_free() (which wipes it); returns 0.  Returns -1
 * with a reason in err on a malformed text, an unknown version, a wrong key,
 * a wrong aad or any tampering.
 */
int	 secretbox_open(const unsigned char key[SECRETBOX_KEY_LEN],
	     const char *sealed, const char *aad, char **plainp, size_t *lenp,
	     char *err, size_t errsz);

/* Wipe and free a plaintext returned by secretbox_open(); NULL is fine. */
void	 secretbox_free(char *plain, size_t len);

#endif
