/*
 * envfile: the environment files a step writes (reference 5.3) —
 * GITHUB_ENV, GITHUB_OUTPUT and GITHUB_STATE, which share one key/value
 * format, and GITHUB_PATH, one directory per line.  The job runner reads
 * them after each step and applies the result; this module only parses,
 * exactly as GitHub's runner (FileCommandManager.cs, EnvFileKeyValuePairs)
 * does on Linux:
 *
 *   - lines end at LF only; a CR before it stays in the line (and in the
 *     value): "A=b\r\n" sets A to "b\r", a "\r\n" blank line is an
 *     "Invalid format '\r'" error.  (CRLF is a line end only on Windows.)
 *   - empty lines are skipped; nothing is trimmed.
 *   - whichever comes first in a line, "=" or "<<", picks NAME=VALUE (split
 *     at the first "=") or NAME<<DELIMITER (a heredoc: the value is the
 *     following lines up to the first line exactly equal to DELIMITER).
 *   - the runner's own error texts, word for word (see envfile_parse).
 *   - a UTF-8 byte order mark at the start of the file is dropped, as .NET's
 *     file reader does.
 *
 * GITHUB_PATH differs: it is split on CRLF, LF and CR alike (.NET
 * File.ReadAllLines) and kept in a job-wide list whose reverse is prepended
 * to PATH (envfile_path_join).
 *
 * kiln additions, not in the runner: a file larger than ENVFILE_MAX_SIZE, a
 * value longer than the caller's limit and a NUL byte in the file are errors
 * (a C environment cannot hold NUL; GitHub's runner would carry it on).
 * Errors are returned, never printed.
 */
#ifndef KILN_ENVFILE_H
#define KILN_ENVFILE_H

#include <stddef.h>

/*
 * Largest environment file read per file per step.  GitHub documents no
 * limit for these files; 1 MiB is its step-summary limit (5.3) and its
 * per-job output limit (3.2), so nothing legitimate is cut by it.
 */
#define ENVFILE_MAX_SIZE	(1024 * 1024)
/* Value limit for GITHUB_OUTPUT / GITHUB_STATE: the file bound decides. */
#define ENVFILE_MAX_VALUE	ENVFILE_MAX_SIZE
/*
 * Value limit for GITHUB_ENV.  Linux refuses execve() when one environment
 * string ("NAME=value") exceeds 128 KiB (MAX_ARG_STRLEN), which would break
 * every later step of the job; this leaves 1 KiB for the name.
 */
#define ENVFILE_MAX_ENV_VALUE	(127 * 1024)

/* The runner's error annotation when GITHUB_ENV sets NODE_OPTIONS. */
#define ENVFILE_NODE_OPTIONS_MSG \
	"Can't store NODE_OPTIONS output parameter using '$GITHUB_ENV' command."

struct envfile_pair {
	char	*name;
	char	*value;		/* NUL-terminated; never contains NUL */
	size_t	 line;		/* 1-based line of the NAME= / NAME<< line */
};

/*
 * An ordered list of pairs, duplicates kept in file order: the caller
 * applies them in order, so a later duplicate wins.  Zero-initialised
 * (struct envfile ef = {0}) is a valid empty list.
 */
struct envfile {
	struct envfile_pair	*pairs;
	size_t			 n;
	size_t			 cap;
};

/* Free every pair and leave the list empty. */
void	envfile_free(struct envfile *);

/*
 * Parse len bytes of text (an env/output/state file) and append its pairs
 * to out.  what names the file in kiln's own messages ("GITHUB_ENV");
 * max_value bounds each value in bytes (ENVFILE_MAX_VALUE or
 * ENVFILE_MAX_ENV_VALUE).
 *
 * Returns 0, or -1 with *cause set to a message the caller frees and, if
 * linep is not NULL, *linep to the 1-based line where the error was found.
 * The runner's messages are reproduced exactly:
 *   Invalid format '<line>'
 *   Invalid format '<line>'. Name must not be empty and delimiter must not
 *     be empty
 *   Invalid value. Matching delimiter not found '<delimiter>'
 *   Invalid value. EOF marker missing new line.
 * kiln's own limit errors name the file (what).  On error the pairs parsed
 * before the bad line stay in out: the runner has applied them by then.
 * The runner prints "Unable to process file command '<env|output|state>'
 * successfully." before the reason and fails the step; that is the
 * caller's part.
 */
int	envfile_parse(const char *what, const char *text, size_t len,
	    size_t max_value, struct envfile *out, char **cause, size_t *linep);

/*
 * envfile_parse on the contents of the file at path, read with a bound of
 * ENVFILE_MAX_SIZE.  A missing file is not an error (the runner only notes
 * it at debug level): 0 with nothing added.  Same return convention; read
 * errors give a cause naming what and the system error.
 */
int	envfile_read(const char *path, const char *what, size_t max_value,
	    struct envfile *out, char **cause, size_t *linep);

/*
 * The GITHUB_ENV block list: if name is NODE_OPTIONS (compared ignoring
 * case) returns the runner's error annotation text (a static string,
 * ENVFILE_NODE_OPTIONS_MSG) and the caller skips the pair; else NULL.
 */
const char	*envfile_env_blocked(const char *name);

/*
 * The job-wide list of directories added through GITHUB_PATH, oldest
 * first.  Zero-initialised is a valid empty list.
 */
struct envfile_path {
	char	**dirs;
	size_t	  n;
	size_t	  cap;
};

void	envfile_path_free(struct envfile_path *);

/*
 * Parse a GITHUB_PATH file and add each non-empty line to list the way the
 * runner does: an entry already in the list is removed and appended again,
 * so it counts as the newest.  Lines split on CRLF, LF or CR; nothing else
 * is trimmed.  Returns 0, or -1 with *cause (caller frees) for a file over
 * ENVFILE_MAX_SIZE or holding a NUL byte; list is then unchanged.
 */
int	envfile_path_parse(const char *what, const char *text, size_t len,
	    struct envfile_path *list, char **cause);

/* envfile_path_parse on a file; a missing file adds nothing. */
int	envfile_path_read(const char *path, const char *what,
	    struct envfile_path *list, char **cause);

/*
 * The PATH for later steps: the list newest first, joined with ':', then
 * ':' and orig (omitted when orig is NULL or empty).  An empty list gives
 * orig unchanged.  Reference E15: "/a\n/b\n" over "/usr/bin" gives
 * "/b:/a:/usr/bin".  Returns a new string the caller frees.
 */
char	*envfile_path_join(const struct envfile_path *, const char *orig);

#endif
