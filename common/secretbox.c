/*
 * secretbox: AES-256-GCM sealing of small secrets at rest; see secretbox.h
 * for the text form and the key file rules.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "secretbox.h"
#include "util.h"

#define RAW_MAX	(SECRETBOX_NONCE_LEN + SECRETBOX_MAX_PLAIN + SECRETBOX_TAG_LEN)
/* Base64 of RAW_MAX bytes, without the prefix. */
#define B64_MAX	(((RAW_MAX + 2) / 3) * 4)

static int
read_exact(int fd, unsigned char *p, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		n = read(fd, p + got, len - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int
key_create(const char *path, char *err, size_t errsz)
{
	unsigned char	 fresh[SECRETBOX_KEY_LEN];
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		if (errno == EEXIST)
			return 0;	/* someone else created it: read theirs */
		snprintf(err, errsz, "%s: cannot create key file: %s", path,
		    strerror(errno));
		return -1;
	}
	if (random_bytes(fresh, sizeof fresh) == -1) {
		snprintf(err, errsz, "%s: no random bytes for a new key", path);
		goto fail;
	}
	while (off < sizeof fresh) {
		n = write(fd, fresh + off, sizeof fresh - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errsz, "%s: cannot write key file: %s",
			    path, n == 0 ? "short write" : strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		snprintf(err, errsz, "%s: cannot sync key file: %s", path,
		    strerror(errno));
		goto fail;
	}
	OPENSSL_cleanse(fresh, sizeof fresh);
	close(fd);
	return 0;
fail:
	OPENSSL_cleanse(fresh, sizeof fresh);
	close(fd);
	unlink(path);
	return -1;
}

int
secretbox_key_load(const char *path, int create,
    unsigned char key[SECRETBOX_KEY_LEN], char *err, size_t errsz)
{
	struct stat	 st;
	int		 fd;

	if (path == NULL || *path == '\0') {
		snprintf(err, errsz, "no key file configured");
		return -1;
	}
	if (create && access(path, F_OK) == -1 && errno == ENOENT &&
	    key_create(path, err, errsz) == -1)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		snprintf(err, errsz, "%s: cannot open key file: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s: key file is not a regular file",
		    path);
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errsz, "%s: key file mode %04o lets its group or "
		    "others in; it must be 0600 or 0400 (chmod 600 %s)", path,
		    (unsigned)(st.st_mode & 07777), path);
		goto fail;
	}
	if (st.st_size != SECRETBOX_KEY_LEN) {
		snprintf(err, errsz, "%s: key file holds %lld bytes, not %d",
		    path, (long long)st.st_size, SECRETBOX_KEY_LEN);
		goto fail;
	}
	if (read_exact(fd, key, SECRETBOX_KEY_LEN) == -1) {
		snprintf(err, errsz, "%s: cannot read key file", path);
		OPENSSL_cleanse(key, SECRETBOX_KEY_LEN);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

/*
 * One GCM pass.  enc: seal in -> out and write the tag; !enc: open in ->
 * out and check the tag.  Returns 0 or -1.
 */
static int
gcm(int enc, const unsigned char *key, const unsigned char *nonce,
    const char *aad, const unsigned char *in, size_t len, unsigned char *out,
    unsigned char *tag)
{
	EVP_CIPHER_CTX	*ctx;
	int		 n, ok = 0;

	if (len > SECRETBOX_MAX_PLAIN || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL,
	    enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
	    SECRETBOX_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
		goto out;
	if (aad != NULL && *aad != '\0' &&
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)aad,
	    (int)strlen(aad)) != 1)
		goto out;
	if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
	    SECRETBOX_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
	    SECRETBOX_TAG_LEN, tag) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

char *
secretbox_seal(const unsigned char key[SECRETBOX_KEY_LEN], const void *plain,
    size_t len, const char *aad, char *err, size_t errsz)
{
	unsigned char	*raw;
	char		*text;
	size_t		 rawlen, pfx = strlen(SECRETBOX_PREFIX);

	if (len > SECRETBOX_MAX_PLAIN) {
		snprintf(err, errsz, "value of %zu bytes is over the %d byte "
		    "limit", len, SECRETBOX_MAX_PLAIN);
		return NULL;
	}
	rawlen = SECRETBOX_NONCE_LEN + len + SECRETBOX_TAG_LEN;
	raw = xmalloc(rawlen);
	if (random_bytes(raw, SECRETBOX_NONCE_LEN) == -1) {
		snprintf(err, errsz, "no random bytes for a nonce");
		free(raw);
		return NULL;
	}
	if (gcm(1, key, raw, aad, plain, len, raw + SECRETBOX_NONCE_LEN,
	    raw + SECRETBOX_NONCE_LEN + len) == -1) {
		snprintf(err, errsz, "AES-256-GCM sealing failed");
		free(raw);
		return NULL;
	}
	text = xmalloc(pfx + ((rawlen + 2) / 3) * 4 + 1);
	memcpy(text, SECRETBOX_PREFIX, pfx);
	EVP_EncodeBlock((unsigned char *)text + pfx, raw, (int)rawlen);
	free(raw);
	return text;
}

int
secretbox_open(const unsigned char key[SECRETBOX_KEY_LEN], const char *sealed,
    const char *aad, char **plainp, size_t *lenp, char *err, size_t errsz)
{
	const char	*b64;
	unsigned char	*raw;
	char		*plain;
	size_t		 b64len, rawlen, pad = 0, len;
	int		 got;

	*plainp = NULL;
	*lenp = 0;
	if (sealed == NULL || !str_has_prefix(sealed, SECRETBOX_PREFIX)) {
		snprintf(err, errsz, "sealed value has no known version "
		    "prefix (want \"%s\")", SECRETBOX_PREFIX);
		return -1;
	}
	b64 = sealed + strlen(SECRETBOX_PREFIX);
	b64len = strlen(b64);
	if (b64len == 0 || b64len % 4 != 0 || b64len > B64_MAX) {
		snprintf(err, errsz, "sealed value has a bad length (%zu)",
		    b64len);
		return -1;
	}
	if (b64[b64len - 1] == '=')
		pad++;
	if (b64[b64len - 2] == '=')
		pad++;
	raw = xmalloc(b64len / 4 * 3);
	got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64len);
	if (got < 0 || (size_t)got < pad) {
		snprintf(err, errsz, "sealed value is not base64");
		free(raw);
		return -1;
	}
	rawlen = (size_t)got - pad;
	if (rawlen < SECRETBOX_NONCE_LEN + SECRETBOX_TAG_LEN) {
		snprintf(err, errsz, "sealed value is too short");
		free(raw);
		return -1;
	}
	len = rawlen - SECRETBOX_NONCE_LEN - SECRETBOX_TAG_LEN;
	plain = xmalloc(len + 1);
	if (gcm(0, key, raw, aad, raw + SECRETBOX_NONCE_LEN, len,
	    (unsigned char *)plain, raw + SECRETBOX_NONCE_LEN + len) == -1) {
		snprintf(err, errsz, "sealed value does not open: wrong key, "
		    "wrong place or tampered with");
		secretbox_free(plain, len + 1);
		free(raw);
		return -1;
	}
	plain[len] = '\0';
	free(raw);
	*plainp = plain;
	*lenp = len;
	return 0;
}

void
secretbox_free(char *plain, size_t len)
{
	if (plain == NULL)
		return;
	OPENSSL_cleanse(plain, len);
	free(plain);
}
