/*
 * cictl: main, global flags, the command table and its dispatcher.
 *
 * Every command is one row of cictl_table[]: its name (one or more words),
 * an optional alias, the positional arguments it takes, the flags it
 * accepts, a line of help and its handler.  The dispatcher matches the
 * leading words of the command line against the table -- exact names and
 * aliases first, then unique prefixes word by word ("cictl ru", "cictl re l")
 * -- parses the command's flags and counts its arguments generically, so a
 * handler only validates the meaning of what it got.  Usage lines and
 * "cictl help" are generated from the same rows; there is no second list to
 * keep in step.
 *
 * The admin socket is --socket, else $KILN_ADMIN_SOCKET, else the config
 * file's [server] admin_socket (-c FILE, default KILN_SYSCONFDIR/kiln/
 * kiln.conf, built-in defaults when that file does not exist).  Commands
 * marked CMD_LOCAL never look it up.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cictl.h"
#include "config.h"

#define CICTL_DEFAULT_CONFIG	KILN_SYSCONFDIR "/kiln/kiln.conf"
#define CICTL_GLOBAL_USAGE \
	"cictl [-c FILE] [--socket PATH] COMMAND [ARGS...]"

static int	cmd_help(struct cictl_ctx *, const struct cmd_args *);

/*
 * The commands.  Keep families together (help prints in this order); a name
 * is either a single command or a family of "family verb" rows, never both.
 * The local workflow tools (lint, eval, plan) are CMD_LOCAL: they read
 * files only and work without kilnd.
 */
static const struct cmd_entry cictl_table[] = {
	{ "repo add", NULL, "OWNER/NAME", 1, 1,
	    { { "url", "CLONE_URL", 1, 0 }, { "secret-file", "PATH", 1, 0 },
	      { "default-branch", "BRANCH", 0, 0 } },
	    0,
	    "Add a repository, or update its URL, webhook secret (PATH - : "
	    "stdin) and default branch (default main); its schedules are "
	    "read from the default branch at once.",
	    cmd_repo_add },
	{ "repo list", "repo ls", "", 0, 0,
	    { { "json", NULL, 0, 0 } }, 0,
	    "List registered repositories.",
	    cmd_repo_list },
	{ "repo show", NULL, "OWNER/NAME", 1, 1,
	    { { "json", NULL, 0, 0 } }, 0,
	    "Show a repository: settings, secret and variable names, "
	    "schedules and its last runs (also of a removed one).",
	    cmd_repo_show },
	{ "repo edit", NULL, "OWNER/NAME", 1, 1,
	    { { "url", "CLONE_URL", 0, 0 }, { "secret-file", "PATH", 0, 0 },
	      { "default-branch", "BRANCH", 0, 0 }, { "json", NULL, 0, 0 },
	      { "token-file", "PATH", 0, 0 }, { "clear-token", NULL, 0, 0 } },
	    0,
	    "Change a repository's clone URL, webhook secret (rotation; PATH "
	    "- : stdin), default branch (its schedules are read again) or the "
	    "GitHub token its commit statuses are sent with (--token-file: a "
	    "file only its owner may read, or - : stdin; stored encrypted; "
	    "--clear-token: back to [github]'s).",
	    cmd_repo_edit },
	{ "repo rm", NULL, "OWNER/NAME", 1, 1,
	    { { "purge", NULL, 0, 0 }, { "json", NULL, 0, 0 } }, 0,
	    "Remove a repository: webhooks and schedules stop, secrets and "
	    "variables go, active runs are cancelled, its runs and logs stay; "
	    "--purge: delete those too (runs, jobs, logs, artifacts, cache).",
	    cmd_repo_rm },
	{ "status", NULL, "", 0, 0,
	    { { "json", NULL, 0, 0 } }, 0,
	    "How kilnd is doing: its state, database, local workers, job "
	    "counts, and each live worker with its job.",
	    cmd_ops_status },
	{ "workers", NULL, "", 0, 0,
	    { { "json", NULL, 0, 0 } }, 0,
	    "Every registered worker: idle, busy (with its job) or gone, its "
	    "labels and when it was last seen.",
	    cmd_ops_workers },
	{ "queue", NULL, "", 0, 0,
	    { { "json", NULL, 0, 0 } }, 0,
	    "Jobs waiting to run, oldest first, with how long and why "
	    "(needs, concurrency, no worker with their labels, no free worker).",
	    cmd_ops_queue },
	{ "triggers", NULL, "", 0, 0,
	    { { "repo", "OWNER/NAME", 0, 0 }, { "limit", "N", 0, 0 },
	      { "json", NULL, 0, 0 } }, 0,
	    "Events kiln took in (webhooks, schedules, dispatches), newest "
	    "first: planned or not, how many runs each made, and why none "
	    "when none (an unknown commit, say).",
	    cmd_ops_triggers },
	{ "runs", NULL, "", 0, 0,
	    { { "repo", "OWNER/NAME", 0, 0 }, { "limit", "N", 0, 0 },
	      { "json", NULL, 0, 0 }, { "before", "RUN_ID", 0, 0 } }, 0,
	    "List workflow runs, newest first (default limit 50, max 1000); "
	    "--before RUN_ID: the page of runs older than RUN_ID.",
	    cmd_runs_list },
	{ "show", NULL, "RUN_ID", 1, 1,
	    { { "json", NULL, 0, 0 } }, 0,
	    "Show a run with its jobs and their steps.",
	    cmd_runs_show },
	{ "logs", NULL, "JOB_ID", 1, 1,
	    { { "follow", NULL, 0, 0 }, { "f", NULL, 0, 0 } }, 0,
	    "Print a job's log, byte for byte; -f/--follow: keep printing "
	    "until the job ends, and exit 0 only if it succeeded.",
	    cmd_runs_logs },
	{ "cancel", NULL, "[RUN_ID]", 0, 1,
	    { { "job", "JOB_ID", 0, 0 } }, 0,
	    "Cancel a run, or one job with --job.",
	    cmd_runctl_cancel },
	{ "rerun", NULL, "RUN_ID", 1, 1,
	    { { "failed", NULL, 0, 0 } }, 0,
	    "Re-run a completed run as its next attempt; --failed: only the "
	    "failed jobs and their dependants.",
	    cmd_runctl_rerun },
	{ "schedules", NULL, "", 0, 0,
	    { { "repo", "OWNER/NAME", 0, 0 }, { "json", NULL, 0, 0 } }, 0,
	    "List the cron schedules kilnd fires, with the next fire time "
	    "(UTC) and the last run.",
	    cmd_schedules },
	{ "dispatch", NULL, "OWNER/NAME WORKFLOW_FILE", 2, 2,
	    { { "ref", "REF", 0, 0 }, { "f", "NAME=VALUE", 0, 25 } }, 0,
	    "Run a workflow by hand (workflow_dispatch) at REF (default: "
	    "the default branch) with its inputs; a bad input is refused, "
	    "naming it.",
	    cmd_dispatch },
	{ "secret set", NULL, "OWNER/NAME NAME", 2, 2,
	    { { "file", "PATH", 0, 0 } }, 0,
	    "Store a repository secret, read from stdin or --file (never "
	    "the command line); one trailing newline is dropped.",
	    cmd_secret_set },
	{ "secret list", "secret ls", "OWNER/NAME", 1, 1,
	    { { "json", NULL, 0, 0 } }, 0,
	    "List a repository's secrets: names and times, never values.",
	    cmd_secret_list },
	{ "secret rm", NULL, "OWNER/NAME NAME", 2, 2,
	    { { NULL, NULL, 0, 0 } }, 0,
	    "Remove a repository secret.",
	    cmd_secret_rm },
	{ "var set", NULL, "OWNER/NAME NAME [VALUE]", 2, 3,
	    { { "file", "PATH", 0, 0 } }, 0,
	    "Store a configuration variable (vars.NAME): VALUE, else stdin "
	    "or --file.",
	    cmd_var_set },
	{ "var list", "var ls", "OWNER/NAME", 1, 1,
	    { { "json", NULL, 0, 0 } }, 0,
	    "List a repository's configuration variables with their values.",
	    cmd_var_list },
	{ "var rm", NULL, "OWNER/NAME NAME", 2, 2,
	    { { NULL, NULL, 0, 0 } }, 0,
	    "Remove a configuration variable.",
	    cmd_var_rm },
	{ "outbox", NULL, "[retry ID]", 0, 2,
	    { { "failed", NULL, 0, 0 }, { "json", NULL, 0, 0 } }, 0,
	    "Calls to GitHub's API (commit statuses), newest first: pending "
	    "(next attempt), failed (GitHub's answer) and delivered; "
	    "--failed: only failed ones; retry ID: send a failed call again.",
	    cmd_outbox },
	{ "cache list", "cache ls", "", 0, 0,
	    { { "repo", "OWNER/NAME", 0, 0 }, { "json", NULL, 0, 0 } }, 0,
	    "List actions/cache entries, most recently used first: key, "
	    "ref, size in bytes, last use.",
	    cmd_cache_list },
	{ "cache rm", NULL, "[ID]", 0, 1,
	    { { "key", "KEY", 0, 0 }, { "repo", "OWNER/NAME", 0, 0 } }, 0,
	    "Remove a cache entry and its archive by ID, or every entry of "
	    "--key KEY in --repo OWNER/NAME.",
	    cmd_cache_rm },
	{ "artifacts", NULL, "RUN_ID | download ID -o FILE", 1, 2,
	    { { "json", NULL, 0, 0 }, { "o", "FILE", 0, 0 } }, 0,
	    "List a run's artifacts (actions/upload-artifact); download ID "
	    "-o FILE: write one artifact's zip to FILE ('-': stdout).",
	    cmd_artifacts },
	{ "token create", NULL, "NAME", 1, 1,
	    { { "scope", "read|admin", 0, 0 } }, 0,
	    "Make an API token for the web page and the public /api/v1 "
	    "(default scope read; admin may cancel and re-run); printed once.",
	    cmd_token_create },
	{ "token list", "token ls", "", 0, 0,
	    { { "json", NULL, 0, 0 } }, 0,
	    "List API tokens: names, scopes, times (never the tokens).",
	    cmd_token_list },
	{ "token revoke", NULL, "NAME", 1, 1,
	    { { NULL, NULL, 0, 0 } }, 0,
	    "Revoke an API token; its page logins end at once.",
	    cmd_token_revoke },
	{ "lint", NULL, "[FILE|DIR...]", 0, CICTL_MAX_POS,
	    { { "v", NULL, 0, 0 } }, CMD_LOCAL,
	    "Check workflow files (default .github/workflows); print each "
	    "error as file:line:col: message.",
	    cmd_workflow_lint },
	{ "eval", NULL, "EXPR", 1, 1,
	    { { "context", "FILE.json", 0, 0 } }, CMD_LOCAL | CMD_LONG_ARG,
	    "Evaluate an expression (bare or with ${{ }}) and print the "
	    "result as JSON (FILE - : stdin).",
	    cmd_workflow_eval },
	{ "plan", NULL, "DIR", 1, 1,
	    { { "event", "EVENT", 1, 0 }, { "ref", "REF", 1, 0 },
	      { "base-ref", "REF", 0, 0 },
	      { "changed", "PATH", 0, CICTL_MAX_REPEAT },
	      { "payload", "FILE.json", 0, 0 }, { "json", NULL, 0, 0 } },
	    CMD_LOCAL,
	    "Show which workflows an event (push, pull_request, "
	    "pull_request_target, schedule, workflow_dispatch) triggers and "
	    "the jobs each would create.\n"
	    "      --ref: push: the pushed branch or refs/tags/TAG; "
	    "pull_request(_target): the pull request's HEAD branch "
	    "(github.head_ref),\n"
	    "      with --base-ref its base; the run's own ref is then "
	    "refs/pull/N/merge for pull_request (N: the\n"
	    "      payload's \"number\") and the base branch for "
	    "pull_request_target; schedule, workflow_dispatch:\n"
	    "      the branch the run uses.",
	    cmd_workflow_plan },
	{ "help", NULL, "[COMMAND]", 0, CICTL_MAX_WORDS,
	    { { NULL, NULL, 0, 0 } }, CMD_LOCAL,
	    "Show all commands, or one command's usage.",
	    cmd_help },
};

const struct cmd_entry *
cictl_commands(size_t *n)
{
	*n = nitems(cictl_table);
	return cictl_table;
}

int
cictl_error(struct cictl_ctx *ctx, const char *fmt, ...)
{
	char msg[2048], *nl;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* One line, whatever the message was built from. */
	while ((nl = strchr(msg, '\n')) != NULL)
		*nl = ' ';
	fprintf(ctx->err, "cictl: %s\n", msg);
	return CICTL_ERR;
}

void
cictl_usage_line(const struct cmd_entry *e, struct buf *b)
{
	const struct cmd_flag *f;
	int i;

	buf_add_str(b, e->name);
	if (e->usage != NULL && *e->usage != '\0') {
		buf_add_char(b, ' ');
		buf_add_str(b, e->usage);
	}
	for (i = 0; i < CICTL_MAX_FLAGS && e->flags[i].name != NULL; i++) {
		f = &e->flags[i];
		buf_printf(b, " %s%s%s%s%s%s%s", f->required ? "" : "[",
		    f->name[1] == '\0' ? "-" : "--", f->name,
		    f->arg != NULL ? " " : "", f->arg != NULL ? f->arg : "",
		    f->required ? "" : "]", f->max > 1 ? "..." : "");
	}
}

int
cictl_usage_error(struct cictl_ctx *ctx, const struct cmd_entry *e,
    const char *fmt, ...)
{
	struct buf b = { 0 };
	char msg[1024], *nl;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	while ((nl = strchr(msg, '\n')) != NULL)
		*nl = ' ';
	fprintf(ctx->err, "cictl: %s\n", msg);
	if (e != NULL) {
		cictl_usage_line(e, &b);
		fprintf(ctx->err, "usage: cictl %s\n", b.data);
		buf_free(&b);
	} else
		fprintf(ctx->err, "usage: %s\n"
		    "Run 'cictl help' for the list of commands.\n",
		    CICTL_GLOBAL_USAGE);
	return CICTL_USAGE;
}

/* An argument shown back in a message: bounded and terminal-safe. */
static const char *
cictl_quote(const char *s, char *out, size_t outsz)
{
	return output_safe(s, 64, out, outsz);
}

/* Word k (from 0) of a space-separated name: 1 and *w, *wlen, or 0. */
static int
cictl_word(const char *name, int k, const char **w, size_t *wlen)
{
	const char *p = name, *sp;

	for (;;) {
		sp = strchr(p, ' ');
		if (k-- == 0) {
			*w = p;
			*wlen = sp != NULL ? (size_t)(sp - p) : strlen(p);
			return 1;
		}
		if (sp == NULL)
			return 0;
		p = sp + 1;
	}
}

/* One name a command answers to: its own, or its (exact-only) alias. */
struct cictl_cand {
	const struct cmd_entry	*e;
	const char		*name;
	int			 alias;
	int			 live;
};

/* The distinct words at level k among live candidates, for a message. */
static void
cictl_list_words(const struct cictl_cand *c, size_t n, int k, struct buf *b)
{
	const char *w, *w2;
	size_t i, j, len, len2;
	int dup;

	for (i = 0; i < n; i++) {
		if (!c[i].live || c[i].alias || !cictl_word(c[i].name, k, &w,
		    &len))
			continue;
		for (dup = 0, j = 0; j < i && !dup; j++)
			dup = c[j].live && !c[j].alias &&
			    cictl_word(c[j].name, k, &w2, &len2) &&
			    len2 == len && memcmp(w, w2, len) == 0;
		if (dup)
			continue;
		if (b->len > 0)
			buf_add_str(b, ", ");
		buf_add(b, w, len);
	}
}

/*
 * Resolve the command word by word.  At each level an exact word (of a name
 * or an alias) wins; otherwise argv[k] must be a prefix of exactly one
 * distinct word among the names still in the running.  A name that ends at
 * this level is the command.  The table keeps a complete name from also
 * being the start of a longer one, so the first to end is the only one.
 */
const struct cmd_entry *
cictl_lookup(int argc, char *const *argv, int *consumed, char *err,
    size_t errsz)
{
	struct cictl_cand c[2 * nitems(cictl_table)];
	struct buf path = { 0 }, alts = { 0 };
	const struct cmd_entry *found = NULL;
	const char *w, *pick = NULL;
	size_t n = 0, i, len, alen, picklen = 0;
	int k, exact, nprefix;
	char q[300];

	for (i = 0; i < nitems(cictl_table); i++) {
		c[n++] = (struct cictl_cand){ &cictl_table[i],
		    cictl_table[i].name, 0, 1 };
		if (cictl_table[i].alias != NULL)
			c[n++] = (struct cictl_cand){ &cictl_table[i],
			    cictl_table[i].alias, 1, 1 };
	}
	for (k = 0; k < CICTL_MAX_WORDS; k++) {
		if (k >= argc) {
			cictl_list_words(c, n, k, &alts);
			if (k == 0)
				snprintf(err, errsz, "missing command");
			else
				snprintf(err, errsz, "%s: missing subcommand "
				    "(%s)", path.data, alts.data);
			goto fail;
		}
		alen = strlen(argv[k]);
		exact = 0;
		for (i = 0; i < n; i++)
			if (c[i].live && cictl_word(c[i].name, k, &w, &len) &&
			    len == alen && memcmp(w, argv[k], len) == 0)
				exact = 1;
		nprefix = 0;
		for (i = 0; i < n; i++) {
			if (!c[i].live)
				continue;
			if (!cictl_word(c[i].name, k, &w, &len) || alen == 0 ||
			    (exact && len != alen) || alen > len ||
			    memcmp(w, argv[k], alen) != 0 ||
			    (!exact && c[i].alias)) {
				c[i].live = 0;
				continue;
			}
			if (nprefix == 0) {
				pick = w;
				picklen = len;
				nprefix = 1;
			} else if (len != picklen || memcmp(pick, w, len) != 0)
				nprefix = 2;	/* two distinct words: ambiguous */
		}
		cictl_quote(argv[k], q, sizeof q);
		if (nprefix == 0) {
			/* Name the choices from this level again. */
			for (i = 0; i < n; i++)
				c[i].live = k == 0 || (strncmp(path.data,
				    c[i].name, path.len) == 0 &&
				    c[i].name[path.len] == ' ');
			cictl_list_words(c, n, k, &alts);
			if (k == 0)
				snprintf(err, errsz, "unknown command '%s'", q);
			else
				snprintf(err, errsz, "%s: unknown subcommand "
				    "'%s' (%s)", path.data, q, alts.data);
			goto fail;
		}
		if (nprefix > 1) {
			cictl_list_words(c, n, k, &alts);
			snprintf(err, errsz, "%s%sambiguous %s '%s': could be "
			    "%s", path.len > 0 ? path.data : "",
			    path.len > 0 ? ": " : "",
			    k == 0 ? "command" : "subcommand", q, alts.data);
			goto fail;
		}
		if (path.len > 0)
			buf_add_char(&path, ' ');
		buf_add(&path, pick, picklen);
		for (i = 0; i < n; i++)
			if (c[i].live && !cictl_word(c[i].name, k + 1, &w,
			    &len)) {
				found = c[i].e;
				break;
			}
		if (found != NULL) {
			*consumed = k + 1;
			break;
		}
	}
	if (found == NULL)
		snprintf(err, errsz, "command too long");
	buf_free(&path);
	buf_free(&alts);
	return found;
fail:
	buf_free(&path);
	buf_free(&alts);
	return NULL;
}

/* Keep one more value of a repeatable flag. */
static void
cictl_add_value(struct cmd_args *args, int j, const char *val)
{
	args->values[j] = xreallocarray(args->values[j],
	    args->nvalues[j] + 1, sizeof *args->values[j]);
	args->values[j][args->nvalues[j]++] = val;
}

/* The flag of e named name (nlen bytes), or NULL; its index in *jp. */
static const struct cmd_flag *
cictl_find_flag(const struct cmd_entry *e, const char *name, size_t nlen,
    int *jp)
{
	int j;

	for (j = 0; j < CICTL_MAX_FLAGS && e->flags[j].name != NULL; j++)
		if (strlen(e->flags[j].name) == nlen &&
		    strncmp(e->flags[j].name, name, nlen) == 0) {
			*jp = j;
			return &e->flags[j];
		}
	return NULL;
}

static int
cictl_parse_args1(const struct cmd_entry *e, int argc, char **argv,
    struct cmd_args *args, char *err, size_t errsz)
{
	const struct cmd_flag *f;
	const char *a, *name, *eq, *val;
	size_t nlen, maxarg = (e->cflags & CMD_LONG_ARG) ?
	    CICTL_MAX_LONG_ARG : CICTL_MAX_ARG;
	int i, j, flags_done = 0;
	char q[300];

	for (i = 0; i < argc; i++) {
		a = argv[i];
		if (strnlen(a, maxarg + 1) > maxarg) {
			snprintf(err, errsz, "argument too long (max %zu bytes)",
			    maxarg);
			return -1;
		}
		if (!flags_done && strcmp(a, "--") == 0) {
			flags_done = 1;
			continue;
		}
		if (!flags_done && (strcmp(a, "-h") == 0 ||
		    strcmp(a, "--help") == 0))
			return 1;
		/* "-5" is a (bad) number for the handler to name, not a flag. */
		if (!flags_done && a[0] == '-' && a[1] != '\0' &&
		    !(a[1] >= '0' && a[1] <= '9')) {
			j = 0;
			if (a[1] != '-') {
				/* "-v": only one-letter flags have this form. */
				f = a[2] == '\0' ? cictl_find_flag(e, a + 1, 1,
				    &j) : NULL;
				eq = NULL;
			} else {
				name = a + 2;
				eq = strchr(name, '=');
				nlen = eq != NULL ? (size_t)(eq - name) :
				    strlen(name);
				f = nlen > 1 ? cictl_find_flag(e, name, nlen,
				    &j) : NULL;
			}
			if (f == NULL) {
				snprintf(err, errsz, "unknown flag '%s'",
				    cictl_quote(a, q, sizeof q));
				return -1;
			}
			if (args->flag[j] != NULL && f->max <= 1) {
				snprintf(err, errsz, "--%s given twice",
				    f->name);
				return -1;
			}
			if (f->max > 1 && (args->nvalues[j] >= (size_t)f->max ||
			    args->nvalues[j] >= CICTL_MAX_REPEAT)) {
				snprintf(err, errsz, "--%s given more than %d "
				    "times", f->name, f->max < CICTL_MAX_REPEAT ?
				    f->max : CICTL_MAX_REPEAT);
				return -1;
			}
			if (f->arg == NULL) {
				if (eq != NULL) {
					snprintf(err, errsz, "--%s takes no "
					    "value", f->name);
					return -1;
				}
				args->flag[j] = "";
				continue;
			}
			if (eq != NULL)
				val = eq + 1;
			else if (i + 1 < argc && strncmp(argv[i + 1], "--",
			    2) != 0)
				val = argv[++i];
			else {
				snprintf(err, errsz, "--%s needs a value (%s)",
				    f->name, f->arg);
				return -1;
			}
			if (*val == '\0') {
				snprintf(err, errsz, "--%s: empty value",
				    f->name);
				return -1;
			}
			if (strnlen(val, CICTL_MAX_ARG + 1) > CICTL_MAX_ARG) {
				snprintf(err, errsz, "--%s: value too long "
				    "(max %d bytes)", f->name, CICTL_MAX_ARG);
				return -1;
			}
			if (args->flag[j] == NULL)
				args->flag[j] = val;
			if (f->max > 1)
				cictl_add_value(args, j, val);
			continue;
		}
		if (args->argc >= e->max_args || args->argc >= CICTL_MAX_POS) {
			snprintf(err, errsz, "too many arguments");
			return -1;
		}
		args->argv[args->argc++] = argv[i];
	}
	if (args->argc < e->min_args) {
		snprintf(err, errsz, "missing argument");
		return -1;
	}
	for (j = 0; j < CICTL_MAX_FLAGS && e->flags[j].name != NULL; j++)
		if (e->flags[j].required && args->flag[j] == NULL) {
			snprintf(err, errsz, "--%s %s is required",
			    e->flags[j].name, e->flags[j].arg);
			return -1;
		}
	return 0;
}

int
cictl_parse_args(const struct cmd_entry *e, int argc, char **argv,
    struct cmd_args *args, char *err, size_t errsz)
{
	int rc;

	memset(args, 0, sizeof *args);
	args->entry = e;
	/* Only a successful parse hands allocations to the caller. */
	if ((rc = cictl_parse_args1(e, argc, argv, args, err, errsz)) != 0)
		cictl_args_free(args);
	return rc;
}

void
cictl_args_free(struct cmd_args *args)
{
	int j;

	for (j = 0; j < CICTL_MAX_FLAGS; j++) {
		free(args->values[j]);
		args->values[j] = NULL;
		args->nvalues[j] = 0;
	}
}

/* Positive decimal, digits only (no sign, blanks or 0x), within [1, max]. */
static int
cictl_parse_pos(const char *s, int64_t max, int64_t *out, const char **why)
{
	const char *p;
	const char *reason;

	if (s == NULL || *s == '\0') {
		*why = "empty";
		return -1;
	}
	for (p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9') {
			*why = "not a positive integer";
			return -1;
		}
	if (p - s > 19) {
		*why = "too large";
		return -1;
	}
	if (parse_int64(s, 1, max, out, &reason) == -1) {
		*why = strcmp(reason, "too small") == 0 ? "must be positive" :
		    reason;
		return -1;
	}
	return 0;
}

int
cictl_parse_id(const char *s, int64_t *out, const char **why)
{
	return cictl_parse_pos(s, INT64_MAX, out, why);
}

int
cictl_parse_limit(const char *s, int64_t *out, const char **why)
{
	if (cictl_parse_pos(s, CICTL_MAX_LIMIT, out, why) == -1) {
		if (strcmp(*why, "too large") == 0)
			*why = "must be between 1 and 1000";
		return -1;
	}
	return 0;
}

int
cictl_valid_repo(const char *s, const char **why)
{
	const char *slash, *p;
	size_t olen, nlen;

	if ((slash = strchr(s, '/')) == NULL ||
	    strchr(slash + 1, '/') != NULL) {
		*why = "must be OWNER/NAME with exactly one '/'";
		return -1;
	}
	olen = (size_t)(slash - s);
	nlen = strlen(slash + 1);
	if (olen == 0 || olen > CICTL_MAX_OWNER) {
		*why = "owner must be 1 to 39 characters";
		return -1;
	}
	if (nlen == 0 || nlen > CICTL_MAX_REPO) {
		*why = "name must be 1 to 100 characters";
		return -1;
	}
	/* GitHub: owners are letters, digits and inner hyphens. */
	if (s[0] == '-') {
		*why = "owner may not begin with '-'";
		return -1;
	}
	for (p = s; p < slash; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-')) {
			*why = "owner may hold only letters, digits and '-'";
			return -1;
		}
	/* Repository names: letters, digits, '.', '-', '_'; not . or .. */
	for (p = slash + 1; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.')) {
			*why = "name may hold only letters, digits, '.', '-' "
			    "and '_'";
			return -1;
		}
	if (strcmp(slash + 1, ".") == 0 || strcmp(slash + 1, "..") == 0) {
		*why = "name may not be '.' or '..'";
		return -1;
	}
	return 0;
}

int
cictl_valid_url(const char *s, const char **why)
{
	const unsigned char *p;
	size_t len = strnlen(s, CICTL_MAX_URL + 1);

	if (len == 0) {
		*why = "empty";
		return -1;
	}
	if (len > CICTL_MAX_URL) {
		*why = "too long";
		return -1;
	}
	/* It ends up on git's command line one day: no option look-alikes. */
	if (s[0] == '-') {
		*why = "may not begin with '-'";
		return -1;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f) {
			*why = "may not contain spaces or control characters";
			return -1;
		}
	return 0;
}

static void
cictl_print_entry(FILE *f, const struct cmd_entry *e)
{
	struct buf b = { 0 };

	cictl_usage_line(e, &b);
	fprintf(f, "  %s\n      %s\n", b.data, e->help);
	if (e->alias != NULL)
		fprintf(f, "      (alias: %s)\n", e->alias);
	buf_free(&b);
}

static void
cictl_print_help(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s\n\n"
	    "Administer kilnd over its admin socket.\n\n"
	    "Options:\n"
	    "  -c, --config FILE\n"
	    "                   config file (default %s)\n"
	    "  --socket PATH    admin socket (default $KILN_ADMIN_SOCKET, "
	    "then the config's\n"
	    "                   [server] admin_socket)\n"
	    "  --url URL        the remote admin API ([admin] listen), e.g.\n"
	    "                   https://ci.example:8421, instead of the socket\n"
	    "  --token-file F   with --url: a token from cictl token create\n"
	    "                   (- : stdin); scope read for GETs, admin else\n"
	    "  --cacert FILE    with --url: CA certificates to verify it with\n"
	    "  -h, --help       this help; COMMAND -h for one command\n"
	    "  --version        print the version\n\n"
	    "Commands (any unique prefix will do, e.g. 'cictl ru', "
	    "'cictl re l'):\n", CICTL_GLOBAL_USAGE, CICTL_DEFAULT_CONFIG);
	for (i = 0; i < nitems(cictl_table); i++)
		cictl_print_entry(f, &cictl_table[i]);
}

static int
cmd_help(struct cictl_ctx *ctx, const struct cmd_args *args)
{
	const struct cmd_entry *e, *t;
	char err[512];
	size_t i, flen;
	int consumed, shown = 0;

	if (args->argc == 0) {
		cictl_print_help(ctx->out);
		return CICTL_OK;
	}
	e = cictl_lookup(args->argc, args->argv, &consumed, err, sizeof err);
	if (e != NULL && consumed == args->argc) {
		fprintf(ctx->out, "usage:\n");
		cictl_print_entry(ctx->out, e);
		return CICTL_OK;
	}
	if (e != NULL)
		return cictl_usage_error(ctx, args->entry, "too many arguments");
	if (args->argc == 1) {
		/* "help repo": the whole family. */
		flen = strlen(args->argv[0]);
		for (i = 0; i < nitems(cictl_table); i++) {
			t = &cictl_table[i];
			if (strncmp(t->name, args->argv[0], flen) == 0 &&
			    t->name[flen] == ' ') {
				if (shown++ == 0)
					fprintf(ctx->out, "usage:\n");
				cictl_print_entry(ctx->out, t);
			}
		}
		if (shown > 0)
			return CICTL_OK;
	}
	return cictl_usage_error(ctx, args->entry, "%s", err);
}

/*
 * Where the admin socket is.  Returns a malloc'd path or NULL with a reason
 * (the config file's own "file:line: message").
 */
static char *
cictl_socket_path(const char *flag, const char *config_path, char *err,
    size_t errsz)
{
	struct kiln_config cfg;
	const char *env, *path = config_path;
	char *sock;

	if (flag != NULL)
		return xstrdup(flag);
	env = getenv("KILN_ADMIN_SOCKET");
	if (env != NULL && *env != '\0') {
		if (strnlen(env, CICTL_MAX_ARG + 1) > CICTL_MAX_ARG) {
			snprintf(err, errsz, "KILN_ADMIN_SOCKET too long");
			return NULL;
		}
		return xstrdup(env);
	}
	/* The default file is optional; a file named with -c is not. */
	if (path == NULL && access(CICTL_DEFAULT_CONFIG, F_OK) == 0)
		path = CICTL_DEFAULT_CONFIG;
	memset(&cfg, 0, sizeof cfg);
	if (config_load(path, &cfg, err, errsz) == -1)
		return NULL;
	if (cfg.admin_socket == NULL || *cfg.admin_socket == '\0') {
		snprintf(err, errsz, "no admin_socket in configuration");
		config_free(&cfg);
		return NULL;
	}
	sock = xstrdup(cfg.admin_socket);
	config_free(&cfg);
	return sock;
}

/* A global option's value: "-c FILE", "--socket PATH" or "--socket=PATH". */
static int
cictl_global_value(int argc, char **argv, int *i, const char *opt,
    const char **val)
{
	const char *a = argv[*i];
	size_t olen = strlen(opt);

	if (strncmp(a, opt, olen) != 0)
		return 0;
	if (a[olen] == '=' && opt[1] == '-')
		*val = a + olen + 1;
	else if (a[olen] != '\0')
		return 0;
	else if (*i + 1 < argc)
		*val = argv[++*i];
	else
		*val = NULL;
	return 1;
}

int
cictl_main(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
	struct cictl_ctx ctx;
	const struct cmd_entry *e;
	struct cmd_args args;
	const char *socket_flag = NULL, *config_path = NULL, *val;
	const char *token_file = NULL;
	char reason[1024], q[300];
	char *sock = NULL;
	int i, consumed, rc;

	memset(&ctx, 0, sizeof ctx);
	ctx.in = in;
	ctx.out = out;
	ctx.err = err;
	ctx.connect_timeout_ms = 5000;
	ctx.timeout_ms = 60000;
	ctx.stall_timeout_s = 60;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			cictl_print_help(out);
			return CICTL_OK;
		}
		if (strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "-V") == 0) {
			fprintf(out, "cictl %s\n", KILN_VERSION);
			return CICTL_OK;
		}
		if (cictl_global_value(argc, argv, &i, "-c", &val) ||
		    cictl_global_value(argc, argv, &i, "--config", &val)) {
			if (val == NULL || *val == '\0')
				return cictl_usage_error(&ctx, NULL,
				    "-c needs a file name");
			config_path = val;
		} else if (cictl_global_value(argc, argv, &i, "--socket",
		    &val)) {
			if (val == NULL || *val == '\0')
				return cictl_usage_error(&ctx, NULL,
				    "--socket needs a path");
			socket_flag = val;
		} else if (cictl_global_value(argc, argv, &i, "--url", &val)) {
			if (val == NULL || (strncmp(val, "https://", 8) != 0 &&
			    strncmp(val, "http://", 7) != 0))
				return cictl_usage_error(&ctx, NULL,
				    "--url needs https://HOST:PORT");
			ctx.url = val;
		} else if (cictl_global_value(argc, argv, &i, "--token-file",
		    &val)) {
			if (val == NULL || *val == '\0')
				return cictl_usage_error(&ctx, NULL,
				    "--token-file needs a file (- : stdin)");
			token_file = val;
		} else if (cictl_global_value(argc, argv, &i, "--cacert",
		    &val)) {
			if (val == NULL || *val == '\0')
				return cictl_usage_error(&ctx, NULL,
				    "--cacert needs a file");
			ctx.cacert = val;
		} else
			return cictl_usage_error(&ctx, NULL,
			    "unknown option '%s'",
			    cictl_quote(argv[i], q, sizeof q));
		if (strnlen(val, CICTL_MAX_ARG + 1) > CICTL_MAX_ARG)
			return cictl_usage_error(&ctx, NULL,
			    "option value too long");
	}
	if (i >= argc)
		return cictl_usage_error(&ctx, NULL, "missing command");

	if ((e = cictl_lookup(argc - i, argv + i, &consumed, reason,
	    sizeof reason)) == NULL)
		return cictl_usage_error(&ctx, NULL, "%s", reason);
	i += consumed;
	switch (cictl_parse_args(e, argc - i, argv + i, &args, reason,
	    sizeof reason)) {
	case -1:
		return cictl_usage_error(&ctx, e, "%s: %s", e->name, reason);
	case 1:
		fprintf(out, "usage:\n");
		cictl_print_entry(out, e);
		return CICTL_OK;
	}

	if (!(e->cflags & CMD_LOCAL) && ctx.url != NULL) {
		size_t tlen;

		if (token_file != NULL && (ctx.token = cmd_repo_read_value(
		    token_file, in, 256, 0, &tlen, reason, sizeof reason)) ==
		    NULL) {
			cictl_args_free(&args);
			return cictl_error(&ctx, "--token-file: %s", reason);
		}
	} else if (!(e->cflags & CMD_LOCAL)) {
		if ((sock = cictl_socket_path(socket_flag, config_path, reason,
		    sizeof reason)) == NULL) {
			cictl_args_free(&args);
			return cictl_error(&ctx, "%s", reason);
		}
		ctx.socket_path = sock;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		cictl_args_free(&args);
		free(sock);
		return cictl_error(&ctx, "cannot initialise libcurl");
	}
	rc = e->handler(&ctx, &args);
	cictl_args_free(&args);
	curl_global_cleanup();
	if (ctx.token != NULL) {
		explicit_bzero(ctx.token, strlen(ctx.token));
		free(ctx.token);
	}
	free(sock);

	if (fflush(out) == EOF || ferror(out)) {
		if (rc == CICTL_OK)
			rc = cictl_error(&ctx, "write error: %s",
			    strerror(errno != 0 ? errno : EIO));
	}
	return rc;
}

#ifndef CICTL_NO_MAIN
int
main(int argc, char **argv)
{
	return cictl_main(argc, argv, stdin, stdout, stderr);
}
#endif
