/*
 * util: allocation helpers that abort on out-of-memory, a growable byte
 * buffer, bounded string and number parsing.  Everything else in kiln builds
 * on these; nothing here logs or exits except the x* allocators, which abort
 * because no caller can do anything useful without memory.
 */
#ifndef KILN_UTIL_H
#define KILN_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define KILN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define KILN_PRINTF(f, a)
#endif

/* Allocators: never return NULL (abort on OOM). Caller frees with free(). */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) KILN_PRINTF(1, 2);
char	*xvasprintf(const char *, va_list) KILN_PRINTF(1, 0);

/*
 * A growable byte buffer, always NUL-terminated past its length so text can be
 * used as a C string.  Zero-initialised (struct buf b = {0}) is a valid empty
 * buffer; buf_free() releases it and leaves it empty again.
 */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

void	 buf_reserve(struct buf *, size_t more);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_add_str(struct buf *, const char *);
void	 buf_add_char(struct buf *, char);
void	 buf_printf(struct buf *, const char *, ...) KILN_PRINTF(2, 3);
void	 buf_clear(struct buf *);
void	 buf_free(struct buf *);
/* Hands the data to the caller (who frees it) and leaves the buffer empty. */
char	*buf_steal(struct buf *);

/*
 * Parse a whole string as a decimal integer within [min, max].
 * Returns 0 on success, -1 with *errstr set to a static reason otherwise.
 */
int	 parse_int64(const char *, int64_t min, int64_t max, int64_t *out,
	     const char **errstr);

/* Lowercase hex of len bytes into out (which holds 2*len+1). */
void	 hex_encode(const unsigned char *, size_t len, char *out);

/* 1 if s starts with prefix / ends with suffix. */
int	 str_has_prefix(const char *s, const char *prefix);
int	 str_has_suffix(const char *s, const char *suffix);

/*
 * Whitespace as GitHub's runner trims it (.NET char.IsWhiteSpace, ASCII
 * part: space, \t, \n, \v, \f, \r), and s[0..*len) without it at either
 * end (moves *s, shrinks *len).
 */
int	 str_is_space(int c);
void	 str_trim_space(const char **s, size_t *len);
/*
 * The next item of a comma-separated list ("a, b,,c") at *p, spaces and
 * tabs trimmed, empty items skipped: its start in *item and length in
 * *len, *p moved past it.  0 at the end of the list.
 */
int	 str_list_next(const char **p, const char **item, size_t *len);

/*
 * Read a whole file into a NUL-terminated buffer of at most max bytes.
 * Returns NULL (errno set, EFBIG when too large) on failure; caller frees.
 */
char	*file_read_all(const char *path, size_t max, size_t *lenp);

/* Create a directory and its parents (like mkdir -p). 0 or -1 with errno. */
int	 mkdir_p(const char *path, unsigned int mode);

/* Monotonic clock in milliseconds. */
int64_t	 now_ms(void);

/*
 * len bytes from getrandom(2) (blocks only before the kernel's pool is
 * first seeded, at boot).  0, or -1 with errno.
 */
int	 random_bytes(void *, size_t len);

#endif
