/*
 * log: see log.h.  Written to be safe from any context but signal handlers.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "utf8.h"

/* Set once by log_init() during start-up; read-only afterwards. */
static const char *log_prog = "kiln";
static enum log_level log_verbosity = LOG_LEVEL_INFO;
static int log_journal;		/* stderr is journald's stream */

/*
 * systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connected to
 * stderr; only when stderr is still that stream do "<N>" priority prefixes
 * reach journald (anything else would show them literally).
 */
int
log_stderr_is_journal(const char *journal_stream)
{
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (journal_stream == NULL ||
	    sscanf(journal_stream, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname, enum log_level level)
{
	log_prog = progname;
	log_verbosity = level;
	log_journal = log_stderr_is_journal(getenv("JOURNAL_STREAM"));
}

void
log_set_level(enum log_level level)
{
	log_verbosity = level;
}

static void
log_vwrite(enum log_level level, const char *tag, int with_errno,
    const char *fmt, va_list ap)
{
	char msg[2048];
	int saved = errno;

	if (level > log_verbosity) {
		errno = saved;
		return;
	}
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_journal)	/* syslog priorities: err 3, warning 4, info 6, debug 7 */
		fprintf(stderr, "<%d>", level == LOG_LEVEL_ERROR ? 3 :
		    level == LOG_LEVEL_WARN ? 4 : level == LOG_LEVEL_INFO ? 6 : 7);
	if (with_errno)
		fprintf(stderr, "%s[%ld]: %s: %s: %s\n", log_prog, (long)getpid(),
		    tag, msg, strerror(saved));
	else
		fprintf(stderr, "%s[%ld]: %s: %s\n", log_prog, (long)getpid(), tag,
		    msg);
	fflush(stderr);
	errno = saved;
}

#define LOG_FN(name, level, tag, with_errno)			\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vwrite(level, tag, with_errno, fmt, ap);		\
	va_end(ap);						\
}

LOG_FN(log_warn, LOG_LEVEL_WARN, "warning", 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, "warning", 0)
LOG_FN(log_info, LOG_LEVEL_INFO, "info", 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, "debug", 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, "fatal", 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, "fatal", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_escape(const char *s, size_t max, char *out, size_t outsz)
{
	size_t i, n, o = 0;

	if (outsz == 0)
		return out;
	for (i = 0; s[i] != '\0' && o + 5 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= max) {
			if (o + 4 < outsz) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (c == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c >= 0x80 && (n = utf8_seq_len(s + i, max - i)) > 0) {
			/* The loop condition leaves room for 5 bytes + NUL. */
			memcpy(out + o, s + i, n);
			o += n;
			i += n - 1;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

char *
log_kv(const char *s, size_t max, char *out, size_t outsz)
{
	char tmp[1024];
	size_t i, o = 0;

	if (outsz == 0)
		return out;
	log_escape(s != NULL ? s : "", max, tmp, sizeof tmp);
	if (tmp[0] != '\0' && strpbrk(tmp, " \"=") == NULL) {
		snprintf(out, outsz, "%s", tmp);
		return out;
	}
	if (outsz < 3) {
		out[0] = '\0';
		return out;
	}
	out[o++] = '"';
	for (i = 0; tmp[i] != '\0' && o + 3 < outsz; i++) {
		if (tmp[i] == '"')
			out[o++] = '\\';
		out[o++] = tmp[i];
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}
