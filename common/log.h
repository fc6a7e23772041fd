/*
 * log: one logging API for every kiln program.  Lines go to stderr (journald
 * reads it under systemd) as "<prog>[pid]: level: message".  errno is
 * preserved across calls, and log_escape() makes untrusted text (branch
 * names, commit messages, step output) safe to put in a log line.
 *
 * The only state is set once by log_init() from main(): program name and
 * verbosity.  common/ code does not log; it returns reasons to its caller.
 */
#ifndef KILN_LOG_H
#define KILN_LOG_H

#include <stddef.h>

#include "util.h"

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/*
 * Under systemd (JOURNAL_STREAM naming stderr) every line starts with its
 * syslog priority "<N>" so journald records the level.
 */
void	log_init(const char *progname, enum log_level);
/* Whether JOURNAL_STREAM's "DEV:INODE" is this process's stderr. */
int	log_stderr_is_journal(const char *journal_stream);
void	log_set_level(enum log_level);
void	log_warn(const char *, ...) KILN_PRINTF(1, 2);	/* appends strerror(errno) */
void	log_warnx(const char *, ...) KILN_PRINTF(1, 2);
void	log_info(const char *, ...) KILN_PRINTF(1, 2);
void	log_debug(const char *, ...) KILN_PRINTF(1, 2);
/* Start-up only: log and exit(1). */
void	fatal(const char *, ...) KILN_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *, ...) KILN_PRINTF(1, 2) __attribute__((noreturn));

/*
 * Escape control characters, backslashes and non-UTF-8-looking bytes of s
 * (at most max input bytes, then "...") into out of size outsz.  Returns out.
 */
char	*log_escape(const char *s, size_t max, char *out, size_t outsz);
/*
 * The value of a key=value field: s escaped as log_escape() does, in double
 * quotes (an inner one as \") when empty or holding a blank, '"' or '=',
 * so a line splits into fields unambiguously.  Returns out.
 */
char	*log_kv(const char *s, size_t max, char *out, size_t outsz);

#endif
