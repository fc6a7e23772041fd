/*
 * cictl: the admin client for kilnd.  It speaks the JSON API of docs/API.md
 * over the admin Unix socket (file permissions are the authorization) with
 * libcurl's easy interface; blocking is fine in a one-shot command.
 *
 * Layout:
 *   cictl.c     main, global flags, the command table, dispatch with
 *               unique-prefix matching, per-command flag parsing, help
 *               generated from the table, argument validators
 *   client.c    HTTP/1.1 over the Unix socket: bounded bodies, timeouts,
 *               API errors turned into one-line messages
 *   output.c    aligned text tables and terminal-safe text
 *   cmd_repo.c  repo add, repo list
 *   cmd_runs.c  runs, show, logs
 *   cmd_workflow.c  lint, eval, plan: the offline workflow tools, which
 *               read workflow files with common/ and never talk to kilnd
 *
 * There is no global mutable state: main() builds a struct cictl_ctx and
 * every function takes it.  Streams live in the context so tests can run
 * cictl_main() against memory buffers and a fake kilnd.
 *
 * Exit status: CICTL_OK, CICTL_ERR (one "cictl: ..." line on stderr) or
 * CICTL_USAGE (a message and a usage line).
 */
#ifndef KILN_CICTL_H
#define KILN_CICTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "util.h"

#ifndef KILN_VERSION
#define KILN_VERSION	"unknown"
#endif
#ifndef KILN_SYSCONFDIR
#define KILN_SYSCONFDIR	"/etc"
#endif

#define CICTL_OK	0
#define CICTL_ERR	1
#define CICTL_USAGE	2

/* Named limits for everything that comes in on the command line or wire. */
#define CICTL_MAX_ARG		4096	/* any one argument, in bytes */
/*
 * A positional of a CMD_LONG_ARG command (an expression: GitHub's 21,000
 * UTF-16 units take at most 63,000 bytes of UTF-8, plus ${{ }}).
 */
#define CICTL_MAX_LONG_ARG	(64 * 1024)
#define CICTL_MAX_URL		2048	/* --url */
#define CICTL_MAX_SECRET	4096	/* webhook secret, after newline strip */
#define CICTL_MAX_OWNER		39	/* GitHub's limit on user/org names */
#define CICTL_MAX_REPO		100	/* GitHub's limit on repository names */
#define CICTL_MAX_LIMIT		1000	/* the API's maximum for ?limit= */
#define CICTL_MAX_BODY		(16u << 20) /* a JSON answer */
#define CICTL_MAX_ERRBODY	(64u << 10) /* an error answer while streaming */
#define CICTL_MAX_WORDS		3	/* words in a command name */
#define CICTL_MAX_FLAGS		8	/* flags one command accepts */
#define CICTL_MAX_POS		256	/* positional args one command takes */
#define CICTL_MAX_REPEAT	3000	/* values of one repeatable flag */

struct cictl_ctx {
	const char	*socket_path;	/* admin socket; set before any request */
	const char	*url;		/* --url: the remote admin API instead */
	char		*token;		/* --token-file's token (wiped, freed) */
	const char	*cacert;	/* --cacert: CA bundle for --url */
	FILE		*in;		/* stdin: secrets read with "-" */
	FILE		*out;		/* results */
	FILE		*err;		/* the one error line */
	long		 connect_timeout_ms;
	long		 timeout_ms;	/* whole request, for JSON answers */
	long		 stall_timeout_s; /* streamed logs: abort when idle */
};

/* cmd_entry cflags. */
#define CMD_LOCAL	0x1	/* needs no kilnd: no socket is looked up */
#define CMD_LONG_ARG	0x2	/* positionals up to CICTL_MAX_LONG_ARG bytes */

/*
 * One flag a command accepts: "--name" or "--name VALUE"; a one-letter
 * name is written with one dash ("-v").  A flag with max > 1 takes a value
 * and may be given up to max times (at most CICTL_MAX_REPEAT); every value
 * is kept, in order.
 */
struct cmd_flag {
	const char	*name;		/* without the leading dashes */
	const char	*arg;		/* value placeholder, NULL for a switch */
	int		 required;
	int		 max;		/* 0 or 1: once; else up to max times */
};

struct cmd_args;

/*
 * One row of the command table.  name holds one to CICTL_MAX_WORDS words
 * ("repo add"); alias, if set, has the same number of words and is only
 * matched exactly.  usage names the positional arguments; the flags part of
 * the usage line is generated from flags[].
 */
struct cmd_entry {
	const char	*name;
	const char	*alias;
	const char	*usage;
	int		 min_args;
	int		 max_args;
	struct cmd_flag	 flags[CICTL_MAX_FLAGS];
	unsigned int	 cflags;	/* CMD_* */
	const char	*help;		/* one line, for "cictl help" */
	int		(*handler)(struct cictl_ctx *, const struct cmd_args *);
};

/* What the generic parser hands a command: positionals and flag values. */
struct cmd_args {
	const struct cmd_entry	*entry;
	int			 argc;
	char			*argv[CICTL_MAX_POS];
	/* Index-parallel to entry->flags; NULL when absent, "" for a switch. */
	const char		*flag[CICTL_MAX_FLAGS];
	/*
	 * Repeatable flags (max > 1): every value, in order; flag[] holds the
	 * first.  The arrays are malloc'd: release with cictl_args_free().
	 */
	const char		**values[CICTL_MAX_FLAGS];
	size_t			 nvalues[CICTL_MAX_FLAGS];
};

/* cictl.c */

/* The whole program; main() is a thin wrapper.  Returns the exit status. */
int	 cictl_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);

/* The command table and its size. */
const struct cmd_entry	*cictl_commands(size_t *n);

/*
 * Find the command named by the leading words of argv (unique prefixes
 * accepted, exact names and aliases preferred).  On success returns the
 * entry and sets *consumed to the number of words used.  On failure returns
 * NULL and writes a reason ("unknown command", "ambiguous ...") into err.
 */
const struct cmd_entry *cictl_lookup(int argc, char *const *argv, int *consumed,
	    char *err, size_t errsz);

/*
 * Parse a command's arguments (after its name) against its entry: flags in
 * either "--f v" or "--f=v" form anywhere before "--", positionals counted
 * against min/max.  Returns 0, 1 when -h/--help was given, -1 with a reason
 * in err.  args points into argv.
 */
int	 cictl_parse_args(const struct cmd_entry *, int argc, char **argv,
	    struct cmd_args *args, char *err, size_t errsz);
/* Release what cictl_parse_args() allocated (the repeated values). */
void	 cictl_args_free(struct cmd_args *);

/* The generated usage line of a command, without "usage: cictl ". */
void	 cictl_usage_line(const struct cmd_entry *, struct buf *);

/* Print "cictl: message" and the command's usage line; returns CICTL_USAGE. */
int	 cictl_usage_error(struct cictl_ctx *, const struct cmd_entry *,
	    const char *fmt, ...) KILN_PRINTF(3, 4);
/* Print "cictl: message" as one line; returns CICTL_ERR. */
int	 cictl_error(struct cictl_ctx *, const char *fmt, ...) KILN_PRINTF(2, 3);

/*
 * Validators.  Each returns 0 or -1 with a short static reason in *why;
 * none allocates.
 */
int	 cictl_parse_id(const char *s, int64_t *out, const char **why);
int	 cictl_parse_limit(const char *s, int64_t *out, const char **why);
int	 cictl_valid_repo(const char *s, const char **why);
int	 cictl_valid_url(const char *s, const char **why);

/* Command handlers, one file per family.  Return a CICTL_* status. */
int	 cmd_repo_add(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_repo_list(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_repo_show(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_repo_edit(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_repo_rm(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_runs_list(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_runs_show(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_runs_logs(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_workflow_lint(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_runctl_cancel(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_dispatch(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_token_create(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_token_list(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_token_revoke(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_schedules(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_outbox(struct cictl_ctx *, const struct cmd_args *);
/* cmd_cache.c: actions/cache entries. */
int	 cmd_cache_list(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_cache_rm(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_artifacts(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_secret_set(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_secret_list(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_secret_rm(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_var_set(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_var_list(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_var_rm(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_runctl_rerun(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_workflow_eval(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_workflow_plan(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_ops_status(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_ops_workers(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_ops_queue(struct cictl_ctx *, const struct cmd_args *);
int	 cmd_ops_triggers(struct cictl_ctx *, const struct cmd_args *);

/*
 * cmd_repo.c: read a webhook secret from path ("-": from in), strip one
 * trailing newline, refuse empty, NUL-holding or longer than
 * CICTL_MAX_SECRET.  Returns a malloc'd NUL-terminated copy (caller wipes
 * with explicit_bzero() and frees) and its length, or NULL with a reason.
 */
/*
 * The same up to max bytes (repository secrets, variables, tokens); with
 * private set, a file (not stdin) group or others may read is refused.
 */
char	*cmd_repo_read_value(const char *path, FILE *in, size_t max,
	    int private, size_t *lenp, char *err, size_t errsz);
char	*cmd_repo_read_secret(const char *path, FILE *in, size_t *lenp,
	    char *err, size_t errsz);

/* client.c */

struct client_response {
	long		 status;	/* HTTP status, 0 if none arrived */
	struct buf	 body;		/* bounded by CICTL_MAX_BODY */
};

/*
 * One request to kilnd.  path is the request target ("/api/v1/runs?...");
 * body may be NULL (then no request body is sent).  On a transport failure
 * returns -1 with a one-line reason in err ("cannot connect to kilnd at
 * ...").  Otherwise returns 0 with resp filled in whatever the status; the
 * caller frees resp with client_response_free().
 */
int	 client_request(const struct cictl_ctx *, const char *method,
	    const char *path, const char *body, size_t bodylen,
	    struct client_response *resp, char *err, size_t errsz);
void	 client_response_free(struct client_response *);

/*
 * GET path and copy a 2xx body to out as it arrives, byte for byte, without
 * holding it in memory.  A non-2xx answer is not written; it is turned into
 * a reason in err as client_api_error() does.  Returns 0 or -1.
 */
int	 client_get_stream(const struct cictl_ctx *, const char *path,
	    FILE *out, char *err, size_t errsz);

/*
 * A request whose 2xx answer must be JSON.  Returns the parsed value (caller
 * json_decref()s), the status in *status when non-NULL and, when raw is
 * non-NULL, the body bytes (caller frees with buf_free()).  NULL with a
 * one-line reason in err on any error, including the API's {"error": ...}.
 */
json_t	*client_json(const struct cictl_ctx *, const char *method,
	    const char *path, const char *body, size_t bodylen, long *status,
	    struct buf *raw, char *err, size_t errsz);

/*
 * GET path, whose answer must be a JSON array.  Returns 1 when the command
 * is done: with as_json kilnd's bytes were printed unchanged, an empty
 * array printed empty_msg, or an error was reported; *rc holds the exit
 * status.  Returns 0 with the array in *list for the caller to print
 * (caller json_decref()s).
 */
int	 client_list(struct cictl_ctx *, const char *path, int as_json,
	    const char *empty_msg, json_t **list, int *rc);

/* The reason for a non-2xx answer: its "error" text, escaped, or "HTTP N". */
void	 client_api_error(long status, const char *body, size_t len,
	    char *err, size_t errsz);

/* output.c */

/*
 * A text table: rows of cells, printed with each column padded to its
 * widest cell (counted in UTF-8 characters).  Cells are copied and made
 * terminal-safe (control characters escaped), cut at a per-table maximum.
 */
struct table {
	int		  ncols;
	size_t		  nrows;
	char		**cells;	/* nrows * ncols, owned */
	size_t		  maxcell;	/* display characters per cell */
};

void	 table_init(struct table *, int ncols, size_t maxcell);
/* Add a row of ncols cells; NULL cells print as "-". */
void	 table_add(struct table *, const char *const *cells);
/* Print with two spaces between columns, no trailing blanks. */
void	 table_print(const struct table *, FILE *, const char *indent);
void	 table_free(struct table *);

/*
 * Copy untrusted text into out (size outsz) with control characters and
 * invalid bytes escaped, cut after max display characters with "...".
 * Returns out.
 */
char	*output_safe(const char *s, size_t max, char *out, size_t outsz);

/*
 * Fields of an API object: a string (owned by o) or an integer formatted
 * into out; NULL when absent, null or of another type (shown as "-").
 */
const char *output_jstr(json_t *o, const char *key);
const char *output_jint(json_t *o, const char *key, char *out, size_t outsz);

/* The API's own JSON bytes, unchanged, plus a final newline if missing. */
int	 output_json_raw(FILE *, const struct buf *raw);

#endif
