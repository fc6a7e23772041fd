/*
 * wfcmd: workflow commands in a step's output and secret masking
 * (reference 5.4, 5.5), as GitHub's runner does them (ActionCommand.cs,
 * ActionCommandManager.cs, SecretMasker).
 *
 * The job runner feeds the raw bytes of a step's stdout/stderr to
 * wfcmd_feed(); the state splits them into lines, recognises commands,
 * records annotations, legacy outputs and command failures, and appends the
 * text for the stored log to a buffer, with every registered secret
 * replaced by "***".  One state lives for the whole job: masks and the
 * stop-commands state carry from step to step (the runner keeps both
 * job-wide); wfcmd_step_begin() starts each step's records afresh.
 *
 * Lines.  Output is split into lines at LF, CRLF and a lone CR, like the
 * runner's .NET StreamReader.ReadLine; each line goes to the log ending in
 * a single LF (so "a\rb" logs as two lines).  A chunk may end anywhere, even
 * inside a CRLF or a secret: bytes wait in a partial-line buffer until
 * their line ends.  wfcmd_flush() ends the last, unterminated line.
 *
 * What the log shows (the runner's behaviour; "masked" = secrets -> ***):
 *   plain line                  the line, masked
 *   ::group::T / ::endgroup::   "##[group]T" / "##[endgroup]"
 *   ::error/warning/notice::M   "##[error]M" / "##[warning]M" / "##[notice]M"
 *                               (properties only in the annotation record)
 *   ::debug::M                  "##[debug]M" with WFCMD_F_STEP_DEBUG, else
 *                               nothing
 *   ::add-mask::V               nothing (with echo on: "::add-mask::***");
 *                               an empty V gives the warning annotation
 *                               "Can't add secret mask for empty string in
 *                               ##[add-mask] command."
 *   ::stop-commands::TOKEN      the line itself (a TOKEN over 6 characters
 *                               is registered as a secret first, so it
 *                               shows as ***); later lines are plain
 *                               output until ::TOKEN:: (also shown as is)
 *   ::set-output / ::save-state nothing; an output/state record
 *   ::echo::on|off              nothing; toggles echo for this step
 *   ::set-env / ::add-path      refused (command failure) unless
 *                               WFCMD_F_ALLOW_UNSECURE_COMMANDS; then an
 *                               env/path record
 *   ::add-matcher / ::remove-matcher
 *                               consumed, nothing (problem matchers are not
 *                               implemented)
 *   unknown ::name::            a plain line
 * With echo on (the default only under WFCMD_F_STEP_DEBUG, as on GitHub) the
 * command line itself is logged too, masked, before its effect — except for
 * add-mask, debug, error, warning and notice, which the runner never
 * echoes.  A failed command logs "##[error]Unable to process command
 * '<line>' successfully." and "##[error]<reason>", adds both as error
 * annotations, records the failure and marks the step failed
 * (wfcmd_failed()).
 *
 * The legacy form "##[name key=value;key=value]message" is accepted too,
 * found anywhere in a line as the runner does, with its own escapes.
 *
 * Bounds.  A line longer than WFCMD_LINE_MAX is not held whole: it goes to
 * the log in pieces, and is never treated as a command.  If its first
 * WFCMD_LINE_MAX bytes already parse as a command, the line is dropped
 * from the log and counted as a command failure instead, so an oversized
 * "::add-mask::<value>" cannot print the value it was meant to hide.
 * Past that decision only the longest secret's length is held back (at
 * least half the buffer), the rest leaving in pieces of WFCMD_LONG_PIECE,
 * so newline-free output does not keep WFCMD_LINE_MAX of memory busy.
 * Masking stays exact across the pieces for secrets up to half of
 * WFCMD_LINE_MAX long: each piece is cut so that any secret starting in it
 * ends inside the buffer, and a masked run crossing a cut is carried over.
 * A longer secret crossing a cut may show in part — the documented
 * compromise for bounded memory.  Per step at most WFCMD_MAX_ANNOTATIONS
 * annotations are kept (more are logged but dropped and counted) and
 * WFCMD_MAX_RECORDS outputs (more fail the step); per job at most
 * WFCMD_MAX_MASKS secrets totalling WFCMD_MAX_MASK_BYTES.
 *
 * Masking is mask.c's (which also masks each secret's base64 forms, as the
 * runner does).  Not done here: problem matchers, making annotation file
 * paths workspace-relative.
 */
#ifndef KILN_WFCMD_H
#define KILN_WFCMD_H

#include <stddef.h>

struct buf;

#define WFCMD_LINE_MAX		(1024 * 1024)
#define WFCMD_LONG_PIECE	(64 * 1024)
#define WFCMD_MAX_ANNOTATIONS	1000
#define WFCMD_MAX_RECORDS	1000
#define WFCMD_MAX_MASKS		4096
#define WFCMD_MAX_MASK_BYTES	(8 * 1024 * 1024)

/*
 * Flags for wfcmd_set_flags(), each named after the setting the caller
 * derives it from:
 *   STEP_DEBUG          ACTIONS_STEP_DEBUG: show ::debug::, echo on
 *   ALLOW_UNSECURE_COMMANDS
 *                       ACTIONS_ALLOW_UNSECURE_COMMANDS: allow set-env and
 *                       add-path
 *   ALLOW_UNSECURE_STOP ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS (the
 *                       runner's name; the reference writes
 *                       ..._STOP_COMMANDS): accept weak stop tokens
 *   DEPRECATION_WARNINGS
 *                       warn on set-output/save-state, as the service may
 *                       ask the runner to
 */
#define WFCMD_F_STEP_DEBUG		0x01
#define WFCMD_F_ALLOW_UNSECURE_COMMANDS	0x02
#define WFCMD_F_ALLOW_UNSECURE_STOP	0x04
#define WFCMD_F_DEPRECATION_WARNINGS	0x08

enum wfcmd_level {
	WFCMD_NOTICE,
	WFCMD_WARNING,
	WFCMD_ERROR
};

/* An annotation; strings are masked and owned by the state. */
struct wfcmd_annotation {
	enum wfcmd_level	 level;
	char			*message;
	char			*title;		/* NULL if not given */
	char			*file;		/* NULL if not given */
	int			 line;		/* 1-based; 0 = not given */
	int			 end_line;
	int			 col;
	int			 end_col;
	size_t			 out_at;	/* its line's offset in the out
						   buffer of the feed that made it */
	long			 log_line;	/* in the job's log; 0 unknown */
};

enum wfcmd_record_kind {
	WFCMD_REC_OUTPUT,	/* ::set-output name=N::V */
	WFCMD_REC_STATE,	/* ::save-state name=N::V */
	WFCMD_REC_ENV,		/* ::set-env name=N::V (when allowed) */
	WFCMD_REC_PATH		/* ::add-path::V (when allowed), name NULL */
};

/* A record of a legacy command; strings are NOT masked, owned by state. */
struct wfcmd_record {
	enum wfcmd_record_kind	 kind;
	char			*name;
	char			*value;
};

struct wfcmd_prop {
	char	*key;		/* as written; looked up ignoring case */
	char	*value;		/* unescaped */
};

/* One parsed command line (wfcmd_parse). */
struct wfcmd_cmd {
	char			*name;	/* as written, e.g. "ERROR" */
	struct wfcmd_prop	*props;
	size_t			 nprops;
	char			*message;	/* unescaped, "" if none */
	int			 legacy;	/* 1 for the ##[...] form */
};

/*
 * Parse one output line (len bytes, without its line end) as a command.
 * Only registered command names count, compared ignoring case; extra, if
 * not NULL, is one more name (the pending stop-commands token).  Tries
 * "::name props::message" first, then "##[name props]message".  Returns 1
 * with *cmd filled (free with wfcmd_cmd_free) or 0 if the line is not a
 * command.  Properties: later duplicates replace earlier ones; entries with
 * no '=', an empty key or an empty value are dropped.
 */
int		 wfcmd_parse(const char *line, size_t len, const char *extra,
		     struct wfcmd_cmd *cmd);
void		 wfcmd_cmd_free(struct wfcmd_cmd *);
/* Value of property key (ignoring case), or NULL. Owned by cmd. */
const char	*wfcmd_cmd_prop(const struct wfcmd_cmd *, const char *key);

/* A new state with no secrets, flags 0. Free with wfcmd_free(). */
struct wfcmd_state	*wfcmd_new(void);
void			 wfcmd_free(struct wfcmd_state *);

/*
 * Set the WFCMD_F_* flags.  Resets echo to its default (on exactly when
 * WFCMD_F_STEP_DEBUG is set), so call it before a step's output.
 */
void	wfcmd_set_flags(struct wfcmd_state *, int flags);
int	wfcmd_flags(const struct wfcmd_state *);

/*
 * Start a step: drop the previous step's annotations, records and errors,
 * clear the failed mark, reset echo.  Masks and stop-commands state stay.
 * A partial line left unflushed is discarded.
 */
void	wfcmd_step_begin(struct wfcmd_state *);

/*
 * Register a secret, as the runner does for secrets and ::add-mask:: (see
 * mask_add: trimmed value and lines, with their base64 forms).  Applies to
 * output processed from now on.  Returns 0, or -1 if the job's mask table
 * is full (WFCMD_MAX_MASKS / WFCMD_MAX_MASK_BYTES) — the caller should then
 * not print the value and fail the job.
 */
int	wfcmd_add_mask(struct wfcmd_state *, const char *secret);

/*
 * text with every occurrence of every registered secret replaced by "***"
 * (overlapping and adjacent occurrences merge into one "***", as in the
 * runner).  For text the caller writes itself.  Works on the whole text,
 * newlines included.  Returns a new string the caller frees.
 */
char	*wfcmd_mask(const struct wfcmd_state *, const char *text);

/*
 * Feed len bytes of raw step output.  Appends the processed, masked log
 * text for every line completed so far to out, and records annotations,
 * records and failures in the state.
 */
void	wfcmd_feed(struct wfcmd_state *, const char *data, size_t len,
	    struct buf *out);

/* End of the step's output: process the unterminated last line, if any. */
void	wfcmd_flush(struct wfcmd_state *, struct buf *out);

/* Annotations of the current step, in order. */
size_t					 wfcmd_nannotations(const struct wfcmd_state *);
/*
 * The annotations from index `from` on were made by the feed (or flush)
 * that produced out, which the caller writes to the job's log starting at
 * line first_line: give each its line in the log.
 */
void	wfcmd_locate_annotations(struct wfcmd_state *, size_t from,
	    const struct buf *out, long first_line);
const struct wfcmd_annotation		*wfcmd_annotation(const struct wfcmd_state *,
					     size_t);
/* Annotations logged but not kept because of WFCMD_MAX_ANNOTATIONS. */
size_t					 wfcmd_annotations_dropped(const struct wfcmd_state *);

/* Legacy-command records of the current step, in order. */
size_t				 wfcmd_nrecords(const struct wfcmd_state *);
const struct wfcmd_record	*wfcmd_record(const struct wfcmd_state *, size_t);

/*
 * Command failures of the current step: "Unable to process command '...'
 * successfully. <reason>", masked, owned by the state.  wfcmd_failed() is
 * 1 if there is at least one: the step must fail (reference 5.6).
 */
size_t		 wfcmd_nerrors(const struct wfcmd_state *);
const char	*wfcmd_error(const struct wfcmd_state *, size_t);
int		 wfcmd_failed(const struct wfcmd_state *);

/* 1 while ::stop-commands:: is in force. */
int	wfcmd_stopped(const struct wfcmd_state *);
/* 1 if echo of command lines is on for this step. */
int	wfcmd_echo(const struct wfcmd_state *);
/* Bytes held in the partial-line buffer (never above WFCMD_LINE_MAX). */
size_t	wfcmd_pending(const struct wfcmd_state *);

#endif
