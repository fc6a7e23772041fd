/*
 * wfcmd: workflow commands and secret masking for a step's output.  See
 * wfcmd.h for the behaviour; this file follows the runner's
 * ActionCommand.TryParseV2 / TryParse (parsing), ActionCommandManager
 * (dispatch, stop-commands, echo, failures).
 *
 * The masker itself is mask.c; this file owns the job's set of secrets.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mask.h"
#include "util.h"
#include "wfcmd.h"

/* Runner texts (Constants.cs, ActionCommandManager.cs), word for word. */
#define MSG_UNSECURE_DISABLED \
	"The `%s` command is disabled. Please upgrade to using Environment " \
	"Files or opt into unsecure command execution by setting the " \
	"`ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`. " \
	"For more information see: https://github.blog/changelog/2020-10-01-" \
	"github-actions-deprecating-set-env-and-add-path-commands/"
#define MSG_DEPRECATED \
	"The `%s` command is deprecated and will be disabled soon. Please " \
	"upgrade to using Environment Files. For more information see: " \
	"https://github.blog/changelog/2022-10-11-github-actions-deprecating-" \
	"save-state-and-set-output-commands/"
#define MSG_STOP_TOKEN \
	"You cannot use a endToken that is an empty string, the string " \
	"'pause-logging', or another workflow command. For more information " \
	"see: https://docs.github.com/actions/learn-github-actions/workflow-" \
	"commands-for-github-actions#example-stopping-and-starting-workflow-" \
	"commands or opt into insecure command execution by setting the " \
	"`ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS` environment variable to " \
	"`true`."
#define MSG_EMPTY_MASK \
	"Can't add secret mask for empty string in ##[add-mask] command."
#define MSG_SET_ENV_BLOCKED \
	"Can't update NODE_OPTIONS environment variable using ::set-env:: " \
	"command."

enum line_mode {
	LINE_NORMAL,		/* the line is held whole */
	LINE_LONG,		/* over WFCMD_LINE_MAX: logged in pieces */
	LINE_DROP		/* an oversized command: discarded */
};

#define LINE_KEEP_CAP		(64 * 1024)	/* kept across lines */

struct wfcmd_state {
	int			 flags;
	int			 echo;		/* echo command lines (step) */

	struct mask_set		*masks;		/* job-wide */

	char			*stop_token;	/* non-NULL while stopped */

	struct buf		 line;		/* the partial line */
	enum line_mode		 mode;
	int			 pending_cr;	/* last line ended in CR */
	size_t			 carry;		/* LINE_LONG: masked prefix */
	int			 prev_masked;	/* LINE_LONG: log ends in *** */

	struct wfcmd_annotation	*ann;		/* per step */
	size_t			 nann;
	size_t			 ann_dropped;
	struct wfcmd_record	*rec;
	size_t			 nrec;
	char			**errs;
	size_t			 nerrs;
	int			 failed;
};

/* --- strings ------------------------------------------------------------ */

struct esc {
	const char	*from;		/* always 3 bytes: %XX */
	char		 to;
};

/* Escape tables, applied pass by pass in this order like .NET Replace. */
static const struct esc esc_data[] = {
	{ "%0D", '\r' }, { "%0A", '\n' }, { "%25", '%' },
};
static const struct esc esc_prop[] = {
	{ "%0D", '\r' }, { "%0A", '\n' }, { "%3A", ':' }, { "%2C", ',' },
	{ "%25", '%' },
};
static const struct esc esc_legacy[] = {
	{ "%3B", ';' }, { "%0D", '\r' }, { "%0A", '\n' }, { "%5D", ']' },
	{ "%25", '%' },
};

static char *
unescape(const char *s, size_t len, const struct esc *tab, size_t ntab)
{
	char	*r = xstrndup(s, len), *p, *q;
	size_t	 i;

	for (i = 0; i < ntab; i++) {
		/* One left-to-right, non-overlapping pass per mapping. */
		for (p = q = r; *p != '\0';) {
			if (strncmp(p, tab[i].from, 3) == 0) {
				*q++ = tab[i].to;
				p += 3;
			} else
				*q++ = *p++;
		}
		*q = '\0';
	}
	return r;
}

/*
 * .NET int.TryParse with the default style: optional surrounding
 * whitespace, an optional sign, decimal digits, within int range.
 */
static int
parse_int(const char *s, int *out)
{
	long long	v = 0;
	int		neg = 0, digits = 0;

	if (s == NULL)
		return 0;
	while (str_is_space((unsigned char)*s))
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > (long long)INT_MAX + 1)
			return 0;
		digits++;
	}
	while (str_is_space((unsigned char)*s))
		s++;
	if (digits == 0 || *s != '\0')
		return 0;
	if (neg)
		v = -v;
	if (v > INT_MAX || v < INT_MIN)
		return 0;
	*out = (int)v;
	return 1;
}

/* --- masking (mask.c) -------------------------------------------------- */

char *
wfcmd_mask(const struct wfcmd_state *st, const char *text)
{
	return mask_apply(st->masks, text);
}

static char *
mask_dup(const struct wfcmd_state *st, const char *text)
{
	return text == NULL ? NULL : wfcmd_mask(st, text);
}

int
wfcmd_add_mask(struct wfcmd_state *st, const char *secret)
{
	return mask_add(st->masks, secret);
}

/* --- parsing ------------------------------------------------------------ */

enum cmd_id {
	CMD_STOP,
	CMD_SET_ENV,
	CMD_SET_OUTPUT,
	CMD_SAVE_STATE,
	CMD_ADD_MASK,
	CMD_ADD_PATH,
	CMD_ADD_MATCHER,
	CMD_REMOVE_MATCHER,
	CMD_DEBUG,
	CMD_WARNING,
	CMD_ERROR,
	CMD_NOTICE,
	CMD_GROUP,
	CMD_ENDGROUP,
	CMD_ECHO
};

struct cmd_ent;

/* A handler: 0, or -1 with *reason (caller frees) for a failed command. */
typedef int (*cmd_cb)(struct wfcmd_state *, const struct cmd_ent *,
    const struct wfcmd_cmd *, struct buf *, char **reason);

struct cmd_ent {
	const char	*name;
	enum cmd_id	 id;
	int		 omit_echo;	/* never echoed (runner OmitEcho) */
	cmd_cb		 cb;
};

static int	cmd_set_env_cb(struct wfcmd_state *, const struct cmd_ent *,
		    const struct wfcmd_cmd *, struct buf *, char **);
static int	cmd_set_output_cb(struct wfcmd_state *, const struct cmd_ent *,
		    const struct wfcmd_cmd *, struct buf *, char **);
static int	cmd_add_mask_cb(struct wfcmd_state *, const struct cmd_ent *,
		    const struct wfcmd_cmd *, struct buf *, char **);
static int	cmd_add_path_cb(struct wfcmd_state *, const struct cmd_ent *,
		    const struct wfcmd_cmd *, struct buf *, char **);
static int	cmd_matcher_cb(struct wfcmd_state *, const struct cmd_ent *,
		    const struct wfcmd_cmd *, struct buf *, char **);
static int	cmd_debug_cb(struct wfcmd_state *, const struct cmd_ent *,
		    const struct wfcmd_cmd *, struct buf *, char **);
static int	cmd_issue_cb(struct wfcmd_state *, const struct cmd_ent *,
		    const struct wfcmd_cmd *, struct buf *, char **);
static int	cmd_group_cb(struct wfcmd_state *, const struct cmd_ent *,
		    const struct wfcmd_cmd *, struct buf *, char **);
static int	cmd_echo_cb(struct wfcmd_state *, const struct cmd_ent *,
		    const struct wfcmd_cmd *, struct buf *, char **);

/* The runner's registered commands (internal-set-repo-path excluded). */
static const struct cmd_ent cmd_tab[] = {
	{ "stop-commands",	CMD_STOP,		0, NULL },
	{ "set-env",		CMD_SET_ENV,		0, cmd_set_env_cb },
	{ "set-output",		CMD_SET_OUTPUT,		0, cmd_set_output_cb },
	{ "save-state",		CMD_SAVE_STATE,		0, cmd_set_output_cb },
	{ "add-mask",		CMD_ADD_MASK,		1, cmd_add_mask_cb },
	{ "add-path",		CMD_ADD_PATH,		0, cmd_add_path_cb },
	{ "add-matcher",	CMD_ADD_MATCHER,	0, cmd_matcher_cb },
	{ "remove-matcher",	CMD_REMOVE_MATCHER,	0, cmd_matcher_cb },
	{ "debug",		CMD_DEBUG,		1, cmd_debug_cb },
	{ "warning",		CMD_WARNING,		1, cmd_issue_cb },
	{ "error",		CMD_ERROR,		1, cmd_issue_cb },
	{ "notice",		CMD_NOTICE,		1, cmd_issue_cb },
	{ "group",		CMD_GROUP,		0, cmd_group_cb },
	{ "endgroup",		CMD_ENDGROUP,		0, cmd_group_cb },
	{ "echo",		CMD_ECHO,		0, cmd_echo_cb },
};

static int
name_eq(const char *name, size_t len, const char *s)
{
	return strlen(s) == len && strncasecmp(name, s, len) == 0;
}

static const struct cmd_ent *
cmd_lookup(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < nitems(cmd_tab); i++) {
		if (name_eq(name, len, cmd_tab[i].name))
			return &cmd_tab[i];
	}
	return NULL;
}

static int
cmd_registered(const char *name, size_t len, const char *extra)
{
	if (len == 0)
		return 0;
	if (extra != NULL && *extra != '\0' && name_eq(name, len, extra))
		return 1;
	return cmd_lookup(name, len) != NULL;
}

static void
cmd_set_prop(struct wfcmd_cmd *cmd, const char *key, size_t klen, char *value)
{
	size_t	i;

	for (i = 0; i < cmd->nprops; i++) {
		if (name_eq(key, klen, cmd->props[i].key)) {
			free(cmd->props[i].value);
			cmd->props[i].value = value;
			return;
		}
	}
	cmd->props = xreallocarray(cmd->props, cmd->nprops + 1,
	    sizeof *cmd->props);
	cmd->props[cmd->nprops].key = xstrndup(key, klen);
	cmd->props[cmd->nprops].value = value;
	cmd->nprops++;
}

/* Split s[0..len) on sep, drop empty entries, split each at its first '='. */
static void
cmd_parse_props(struct wfcmd_cmd *cmd, const char *s, size_t len, char sep,
    const struct esc *tab, size_t ntab)
{
	const char	*e = s + len, *p, *q, *eq;

	for (p = s; p < e; p = q + 1) {
		q = memchr(p, sep, (size_t)(e - p));
		if (q == NULL)
			q = e;
		eq = memchr(p, '=', (size_t)(q - p));
		if (eq == NULL || eq == p || eq + 1 == q)
			continue;
		cmd_set_prop(cmd, p, (size_t)(eq - p),
		    unescape(eq + 1, (size_t)(q - eq - 1), tab, ntab));
	}
}

/* "::name props::message" (ActionCommand.TryParseV2). */
static int
parse_v2(const char *line, size_t len, const char *extra,
    struct wfcmd_cmd *cmd)
{
	const char	*p = line, *e = line + len, *end, *info, *sp, *props;
	size_t		 infolen, namelen, plen;

	while (p < e && str_is_space((unsigned char)*p))
		p++;
	if (e - p < 2 || p[0] != ':' || p[1] != ':')
		return 0;
	info = p + 2;
	if ((end = memmem(info, (size_t)(e - info), "::", 2)) == NULL)
		return 0;
	infolen = (size_t)(end - info);
	sp = memchr(info, ' ', infolen);
	namelen = sp != NULL ? (size_t)(sp - info) : infolen;
	if (!cmd_registered(info, namelen, extra))
		return 0;

	memset(cmd, 0, sizeof *cmd);
	cmd->name = xstrndup(info, namelen);
	if (sp != NULL) {
		props = sp + 1;
		plen = (size_t)(end - props);
		str_trim_space(&props, &plen);
		cmd_parse_props(cmd, props, plen, ',', esc_prop,
		    nitems(esc_prop));
	}
	cmd->message = unescape(end + 2, (size_t)(e - end - 2), esc_data,
	    nitems(esc_data));
	return 1;
}

/*
 * The first "##[" in s[0..len), or NULL.  Every line of output is searched:
 * memchr for the '#' beats glibc's memmem for a 3-byte needle several
 * times over.
 */
static const char *
find_legacy(const char *s, size_t len)
{
	const char	*p = s, *e = s + len;

	while (e - p >= 3 &&
	    (p = memchr(p, '#', (size_t)(e - p - 2))) != NULL) {
		if (p[1] == '#' && p[2] == '[')
			return p;
		p++;
	}
	return NULL;
}

/* "##[name props]message", anywhere in the line (ActionCommand.TryParse). */
static int
parse_legacy(const char *line, size_t len, const char *extra,
    struct wfcmd_cmd *cmd)
{
	const char	*e = line + len, *pre, *rb, *info, *sp;
	size_t		 infolen, namelen;

	if ((pre = find_legacy(line, len)) == NULL)
		return 0;
	info = pre + 3;
	if ((rb = memchr(info, ']', (size_t)(e - info))) == NULL)
		return 0;
	infolen = (size_t)(rb - info);
	sp = memchr(info, ' ', infolen);
	namelen = sp != NULL ? (size_t)(sp - info) : infolen;
	if (!cmd_registered(info, namelen, extra))
		return 0;

	memset(cmd, 0, sizeof *cmd);
	cmd->name = xstrndup(info, namelen);
	cmd->legacy = 1;
	if (sp != NULL)
		cmd_parse_props(cmd, sp + 1, (size_t)(rb - sp - 1), ';',
		    esc_legacy, nitems(esc_legacy));
	cmd->message = unescape(rb + 1, (size_t)(e - rb - 1), esc_legacy,
	    nitems(esc_legacy));
	return 1;
}

int
wfcmd_parse(const char *line, size_t len, const char *extra,
    struct wfcmd_cmd *cmd)
{
	if (parse_v2(line, len, extra, cmd))
		return 1;
	return parse_legacy(line, len, extra, cmd);
}

void
wfcmd_cmd_free(struct wfcmd_cmd *cmd)
{
	size_t	i;

	for (i = 0; i < cmd->nprops; i++) {
		free(cmd->props[i].key);
		free(cmd->props[i].value);
	}
	free(cmd->props);
	free(cmd->name);
	free(cmd->message);
	memset(cmd, 0, sizeof *cmd);
}

const char *
wfcmd_cmd_prop(const struct wfcmd_cmd *cmd, const char *key)
{
	size_t	i;

	for (i = 0; i < cmd->nprops; i++) {
		if (strcasecmp(cmd->props[i].key, key) == 0)
			return cmd->props[i].value;
	}
	return NULL;
}

/* --- state and records -------------------------------------------------- */

struct wfcmd_state *
wfcmd_new(void)
{
	struct wfcmd_state	*st = xcalloc(1, sizeof *st);

	st->masks = mask_set_new(WFCMD_MAX_MASKS, WFCMD_MAX_MASK_BYTES);
	return st;
}

static void
clear_step(struct wfcmd_state *st)
{
	size_t	i;

	for (i = 0; i < st->nann; i++) {
		free(st->ann[i].message);
		free(st->ann[i].title);
		free(st->ann[i].file);
	}
	free(st->ann);
	st->ann = NULL;
	st->nann = st->ann_dropped = 0;
	for (i = 0; i < st->nrec; i++) {
		free(st->rec[i].name);
		free(st->rec[i].value);
	}
	free(st->rec);
	st->rec = NULL;
	st->nrec = 0;
	for (i = 0; i < st->nerrs; i++)
		free(st->errs[i]);
	free(st->errs);
	st->errs = NULL;
	st->nerrs = 0;
	st->failed = 0;
}

static void
reset_line(struct wfcmd_state *st)
{
	/* A long line's buffer is not kept for the short ones after it. */
	if (st->line.cap > LINE_KEEP_CAP)
		buf_free(&st->line);
	else
		buf_clear(&st->line);
	st->mode = LINE_NORMAL;
	st->carry = 0;
	st->prev_masked = 0;
}

void
wfcmd_free(struct wfcmd_state *st)
{
	if (st == NULL)
		return;
	clear_step(st);
	mask_set_free(st->masks);
	free(st->stop_token);
	if (st->line.data != NULL)
		explicit_bzero(st->line.data, st->line.cap);
	buf_free(&st->line);
	free(st);
}

void
wfcmd_set_flags(struct wfcmd_state *st, int flags)
{
	st->flags = flags;
	st->echo = (flags & WFCMD_F_STEP_DEBUG) != 0;
}

int
wfcmd_flags(const struct wfcmd_state *st)
{
	return st->flags;
}

void
wfcmd_step_begin(struct wfcmd_state *st)
{
	clear_step(st);
	reset_line(st);
	st->pending_cr = 0;
	st->echo = (st->flags & WFCMD_F_STEP_DEBUG) != 0;
}

/* Log one line: the text, masked, and a newline. */
static void
log_line(const struct wfcmd_state *st, const char *s, size_t len,
    struct buf *out)
{
	mask_append(st->masks, s, len, out);
	buf_add_char(out, '\n');
}

/* Log "<tag><text>\n", the text masked (the runner's ##[...] lines). */
static void
log_tagged(const struct wfcmd_state *st, const char *tag, const char *text,
    struct buf *out)
{
	buf_add_str(out, tag);
	log_line(st, text, strlen(text), out);
}

static const char *
level_tag(enum wfcmd_level level)
{
	switch (level) {
	case WFCMD_NOTICE:
		return "##[notice]";
	case WFCMD_WARNING:
		return "##[warning]";
	case WFCMD_ERROR:
		break;
	}
	return "##[error]";
}

/* Log an annotation and keep it (masked) unless the step has too many. */
static void
add_annotation(struct wfcmd_state *st, enum wfcmd_level level,
    const char *message, const char *title, const char *file, int line,
    int end_line, int col, int end_col, struct buf *out)
{
	struct wfcmd_annotation	*a;
	size_t			 out_at = out->len;

	log_tagged(st, level_tag(level), message, out);
	if (st->nann >= WFCMD_MAX_ANNOTATIONS) {
		st->ann_dropped++;
		return;
	}
	st->ann = xreallocarray(st->ann, st->nann + 1, sizeof *st->ann);
	a = &st->ann[st->nann++];
	a->level = level;
	a->message = wfcmd_mask(st, message);
	a->title = mask_dup(st, title);
	a->file = mask_dup(st, file);
	a->line = line;
	a->end_line = end_line;
	a->col = col;
	a->end_col = end_col;
	a->out_at = out_at;
	a->log_line = 0;
}

void
wfcmd_locate_annotations(struct wfcmd_state *st, size_t from,
    const struct buf *out, long first_line)
{
	size_t i, at = 0;
	long line = first_line;

	for (i = from; i < st->nann; i++) {
		if (st->ann[i].out_at > out->len)
			continue;
		for (; at < st->ann[i].out_at; at++)
			line += out->data[at] == '\n';
		st->ann[i].log_line = line;
	}
}

/*
 * A command failed: the runner logs two errors (the command, masked, or
 * just its name for commands it never echoes; then the reason) and fails
 * the step.
 */
static void
cmd_fail(struct wfcmd_state *st, const char *info, size_t infolen,
    const char *reason, struct buf *out)
{
	char	*m1, *all;

	m1 = xasprintf("Unable to process command '%.*s' successfully.",
	    (int)infolen, info);
	add_annotation(st, WFCMD_ERROR, m1, NULL, NULL, 0, 0, 0, 0, out);
	add_annotation(st, WFCMD_ERROR, reason, NULL, NULL, 0, 0, 0, 0, out);
	st->failed = 1;
	if (st->nerrs < WFCMD_MAX_RECORDS) {
		all = xasprintf("%s %s", m1, reason);
		st->errs = xreallocarray(st->errs, st->nerrs + 1,
		    sizeof *st->errs);
		st->errs[st->nerrs++] = wfcmd_mask(st, all);
		free(all);
	}
	free(m1);
}

static int
add_record(struct wfcmd_state *st, enum wfcmd_record_kind kind,
    const char *name, const char *value, char **reason)
{
	struct wfcmd_record	*r;

	if (st->nrec >= WFCMD_MAX_RECORDS) {
		*reason = xasprintf("More than %d output, state, env or path "
		    "commands in one step", WFCMD_MAX_RECORDS);
		return -1;
	}
	st->rec = xreallocarray(st->rec, st->nrec + 1, sizeof *st->rec);
	r = &st->rec[st->nrec++];
	r->kind = kind;
	r->name = name != NULL ? xstrdup(name) : NULL;
	r->value = xstrdup(value);
	return 0;
}

/* --- command handlers --------------------------------------------------- */

static int
cmd_set_env_cb(struct wfcmd_state *st, const struct cmd_ent *ent,
    const struct wfcmd_cmd *cmd, struct buf *out, char **reason)
{
	const char	*name;

	if (!(st->flags & WFCMD_F_ALLOW_UNSECURE_COMMANDS)) {
		*reason = xasprintf(MSG_UNSECURE_DISABLED, ent->name);
		return -1;
	}
	name = wfcmd_cmd_prop(cmd, "name");
	if (name == NULL || *name == '\0') {
		*reason = xstrdup("Required field 'name' is missing in "
		    "##[set-env] command.");
		return -1;
	}
	if (strcasecmp(name, "NODE_OPTIONS") == 0) {
		add_annotation(st, WFCMD_ERROR, MSG_SET_ENV_BLOCKED, NULL, NULL,
		    0, 0, 0, 0, out);
		return 0;
	}
	return add_record(st, WFCMD_REC_ENV, name, cmd->message, reason);
}

/* set-output and save-state. */
static int
cmd_set_output_cb(struct wfcmd_state *st, const struct cmd_ent *ent,
    const struct wfcmd_cmd *cmd, struct buf *out, char **reason)
{
	const char	*name;
	char		*warn;

	if (st->flags & WFCMD_F_DEPRECATION_WARNINGS) {
		warn = xasprintf(MSG_DEPRECATED, ent->name);
		add_annotation(st, WFCMD_WARNING, warn, NULL, NULL, 0, 0, 0, 0,
		    out);
		free(warn);
	}
	name = wfcmd_cmd_prop(cmd, "name");
	if (name == NULL || *name == '\0') {
		*reason = xasprintf("Required field 'name' is missing in "
		    "##[%s] command.", ent->name);
		return -1;
	}
	return add_record(st, ent->id == CMD_SET_OUTPUT ? WFCMD_REC_OUTPUT :
	    WFCMD_REC_STATE, name, cmd->message, reason);
}

static int
cmd_add_mask_cb(struct wfcmd_state *st, const struct cmd_ent *ent,
    const struct wfcmd_cmd *cmd, struct buf *out, char **reason)
{
	const char	*s = cmd->message;
	size_t		 len = strlen(s);

	str_trim_space(&s, &len);
	if (len == 0) {
		add_annotation(st, WFCMD_WARNING, MSG_EMPTY_MASK, NULL, NULL,
		    0, 0, 0, 0, out);
		return 0;
	}
	if (st->echo)
		buf_add_str(out, "::add-mask::" MASK_TEXT "\n");
	if (wfcmd_add_mask(st, cmd->message) == -1) {
		*reason = xasprintf("Too many secrets to mask in this job "
		    "(at most %d, %d bytes in all)", WFCMD_MAX_MASKS,
		    WFCMD_MAX_MASK_BYTES);
		return -1;
	}
	return 0;
}

static int
cmd_add_path_cb(struct wfcmd_state *st, const struct cmd_ent *ent,
    const struct wfcmd_cmd *cmd, struct buf *out, char **reason)
{
	if (!(st->flags & WFCMD_F_ALLOW_UNSECURE_COMMANDS)) {
		*reason = xasprintf(MSG_UNSECURE_DISABLED, ent->name);
		return -1;
	}
	if (*cmd->message == '\0') {
		/* ArgUtil.NotNullOrEmpty(command.Data, "path") */
		*reason = xstrdup("Value cannot be null. (Parameter 'path')");
		return -1;
	}
	return add_record(st, WFCMD_REC_PATH, NULL, cmd->message, reason);
}

/* Problem matchers are not implemented: the line is consumed, no more. */
static int
cmd_matcher_cb(struct wfcmd_state *st, const struct cmd_ent *ent,
    const struct wfcmd_cmd *cmd, struct buf *out, char **reason)
{
	return 0;
}

static int
cmd_debug_cb(struct wfcmd_state *st, const struct cmd_ent *ent,
    const struct wfcmd_cmd *cmd, struct buf *out, char **reason)
{
	if (st->flags & WFCMD_F_STEP_DEBUG)
		log_tagged(st, "##[debug]", cmd->message, out);
	return 0;
}

/* Positive line/column numbers only; anything else counts as not given. */
static int
pos_or_zero(const char *s, int ok, int v)
{
	return s != NULL && ok && v > 0 ? v : 0;
}

/* error, warning, notice, with the runner's ValidateLinesAndColumns. */
static int
cmd_issue_cb(struct wfcmd_state *st, const struct cmd_ent *ent,
    const struct wfcmd_cmd *cmd, struct buf *out, char **reason)
{
	enum wfcmd_level	 level;
	const char		*line, *eline, *col, *ecol, *file, *title;
	int			 l = 0, el = 0, c = 0, ec = 0;
	int			 hl, hel, hc, hec, hcol;

	level = ent->id == CMD_ERROR ? WFCMD_ERROR :
	    ent->id == CMD_WARNING ? WFCMD_WARNING : WFCMD_NOTICE;
	file = wfcmd_cmd_prop(cmd, "file");
	title = wfcmd_cmd_prop(cmd, "title");
	line = wfcmd_cmd_prop(cmd, "line");
	eline = wfcmd_cmd_prop(cmd, "endLine");
	col = wfcmd_cmd_prop(cmd, "col");
	ecol = wfcmd_cmd_prop(cmd, "endColumn");
	hl = parse_int(line, &l);
	hel = parse_int(eline, &el);
	hc = parse_int(col, &c);
	hec = parse_int(ecol, &ec);
	hcol = hc || hec;

	if (hel && !hl) {		/* endLine alone: line = endLine */
		line = eline;
		l = el;
		hl = 1;
	}
	if (hec && !hc) {		/* endColumn alone: col = endColumn */
		col = ecol;
		c = ec;
		hc = 1;
	}
	if (!hl && hcol)		/* columns need a line */
		col = ecol = NULL;
	if (hel && strcmp(line, eline) != 0 && hcol)
		col = ecol = NULL;	/* columns need a single line */
	if (hl && hel && el < l)
		line = eline = NULL;
	if (hc && hec && ec < c)
		col = ecol = NULL;

	add_annotation(st, level, cmd->message, title, file,
	    pos_or_zero(line, hl, l), pos_or_zero(eline, hel, el),
	    pos_or_zero(col, hc, c), pos_or_zero(ecol, hec, ec), out);
	return 0;
}

static int
cmd_group_cb(struct wfcmd_state *st, const struct cmd_ent *ent,
    const struct wfcmd_cmd *cmd, struct buf *out, char **reason)
{
	if (ent->id == CMD_GROUP)
		log_tagged(st, "##[group]", cmd->message, out);
	else
		buf_add_str(out, "##[endgroup]\n");
	return 0;
}

static int
cmd_echo_cb(struct wfcmd_state *st, const struct cmd_ent *ent,
    const struct wfcmd_cmd *cmd, struct buf *out, char **reason)
{
	const char	*s = cmd->message;
	size_t		 len = strlen(s);

	if (len == 0) {
		/* ArgUtil.NotNullOrEmpty(command.Data, "value") */
		*reason = xstrdup("Value cannot be null. (Parameter 'value')");
		return -1;
	}
	str_trim_space(&s, &len);
	if (name_eq(s, len, "on"))
		st->echo = 1;
	else if (name_eq(s, len, "off"))
		st->echo = 0;
	else {
		*reason = xasprintf("Invalid echo command value. Possible "
		    "values can be: 'on', 'off'. Current value is: '%s'.",
		    cmd->message);
		return -1;
	}
	return 0;
}

/* --- the command manager ------------------------------------------------ */

static void
stop_commands(struct wfcmd_state *st, const struct wfcmd_cmd *cmd,
    const char *s, size_t len, struct buf *out)
{
	const char	*tok = cmd->message;
	int		 weak;

	weak = *tok == '\0' || cmd_lookup(tok, strlen(tok)) != NULL ||
	    strcasecmp(tok, "pause-logging") == 0;
	if (weak && !(st->flags & WFCMD_F_ALLOW_UNSECURE_STOP)) {
		cmd_fail(st, s, len, MSG_STOP_TOKEN, out);
		return;
	}
	/* A long token is a secret: whoever knows it can resume. */
	if (strlen(tok) > 6)
		(void)mask_add_value(st->masks, tok, strlen(tok));
	free(st->stop_token);
	st->stop_token = xstrdup(tok);
	log_line(st, s, len, out);
}

/*
 * Which bytes of a stretch of wfcmd_feed()'s data the masks cover,
 * searched once for many lines (mask_cover_lines()) rather than line by
 * line: per line, a search costs a call per string, which on output of
 * short lines cost more than the bytes.  Valid for [at, end): lines wholly
 * inside it; recomputed when a line passes end or the mask set changed.
 */
struct feed_cover {
	const char	*at, *end;	/* at == NULL: nothing computed */
	const char	*limit;		/* the end of the feed's data */
	unsigned char	*cov;		/* NULL: nothing covered */
	size_t		 nmasks;	/* mask_count() when computed */
	const char	*legacy;	/* the next "##[" (limit: none) */
};

/*
 * How far one computation looks ahead of the line: far enough that a
 * search call covers many short lines, short enough that recomputing
 * after each ::add-mask:: of a burst stays linear.
 */
#define FEED_COVER_SPAN	16384

/* Log a plain line of the feed's data through fc. */
static void
log_feed_line(const struct wfcmd_state *st, struct feed_cover *fc,
    const char *s, size_t len, struct buf *out)
{
	size_t	span;
	int	prev = 0;

	if (fc->at == NULL || s < fc->at || s + len > fc->end ||
	    fc->nmasks != mask_count(st->masks)) {
		free(fc->cov);
		span = len > FEED_COVER_SPAN ? len : FEED_COVER_SPAN;
		if (span > (size_t)(fc->limit - s))
			span = (size_t)(fc->limit - s);
		fc->at = s;
		fc->end = s + span;
		fc->nmasks = mask_count(st->masks);
		fc->cov = mask_cover_lines(st->masks, s, span);
	}
	mask_emit(s, len, fc->cov != NULL ? fc->cov + (s - fc->at) : NULL,
	    &prev, out);
	buf_add_char(out, '\n');
}

/*
 * Whether a line of the feed's data may hold a command: "::" at its start
 * after blanks (parse_v2) or "##[" in it (parse_legacy).  The next "##["
 * is searched for once over the data, not in each line.
 */
static int
feed_may_be_command(struct feed_cover *fc, const char *s, size_t len)
{
	const char	*p = s, *e = s + len;

	while (p < e && str_is_space((unsigned char)*p))
		p++;
	if (e - p >= 2 && p[0] == ':' && p[1] == ':')
		return 1;
	if (fc->legacy == NULL || fc->legacy < s) {
		fc->legacy = find_legacy(s, (size_t)(fc->limit - s));
		if (fc->legacy == NULL)
			fc->legacy = fc->limit;
	}
	return fc->legacy < e && e - fc->legacy >= 3;
}

/*
 * One complete line of output (ActionCommandManager.TryProcessCommand);
 * fc set when the line lies in wfcmd_feed()'s data.
 */
static void
process_line(struct wfcmd_state *st, const char *s, size_t len,
    struct feed_cover *fc, struct buf *out)
{
	struct wfcmd_cmd	 cmd;
	const struct cmd_ent	*ent;
	char			*reason = NULL;

	if (fc != NULL && !feed_may_be_command(fc, s, len)) {
		log_feed_line(st, fc, s, len, out);
		return;
	}
	if (!wfcmd_parse(s, len, st->stop_token, &cmd)) {
		if (fc != NULL)
			log_feed_line(st, fc, s, len, out);
		else
			log_line(st, s, len, out);
		return;
	}
	if (st->stop_token != NULL) {
		/* Stopped: only the token matters; the rest is plain text. */
		if (strcasecmp(cmd.name, st->stop_token) == 0) {
			free(st->stop_token);
			st->stop_token = NULL;
		}
		log_line(st, s, len, out);
		goto done;
	}
	ent = cmd_lookup(cmd.name, strlen(cmd.name));
	if (ent->id == CMD_STOP) {
		stop_commands(st, &cmd, s, len, out);
		goto done;
	}
	if (st->echo && !ent->omit_echo)
		log_line(st, s, len, out);
	if (ent->cb(st, ent, &cmd, out, &reason) == -1) {
		if (ent->omit_echo)
			cmd_fail(st, ent->name, strlen(ent->name), reason, out);
		else
			cmd_fail(st, s, len, reason, out);
		free(reason);
	}
done:
	wfcmd_cmd_free(&cmd);
}

/*
 * How much of the current line is held before line_overflow(): all of
 * WFCMD_LINE_MAX while it may still be a command; then the longest
 * secret's length (a secret starting before a cut must end inside the
 * buffer) plus a piece, and at least twice that length, so that the cut
 * in line_overflow() is never forced to half the buffer below it.
 */
static size_t
line_limit(const struct wfcmd_state *st)
{
	size_t keep, lim;

	if (st->mode != LINE_LONG)
		return WFCMD_LINE_MAX;
	keep = mask_longest(st->masks);
	lim = keep + WFCMD_LONG_PIECE;
	if (lim < 2 * keep)
		lim = 2 * keep;
	return lim < WFCMD_LINE_MAX ? lim : WFCMD_LINE_MAX;
}

/*
 * The line buffer is full and the line goes on.  The first time, decide
 * what the line is: a command we cannot hold is dropped and fails the step;
 * anything else is logged in pieces from now on.
 */
static void
line_overflow(struct wfcmd_state *st, struct buf *out)
{
	struct wfcmd_cmd	 cmd;
	unsigned char		*cov;
	size_t			 L = st->line.len, keep, c, run;
	char			*reason;

	if (st->mode == LINE_NORMAL) {
		if (wfcmd_parse(st->line.data, L, st->stop_token, &cmd)) {
			if (st->stop_token == NULL ||
			    strcasecmp(cmd.name, st->stop_token) == 0) {
				reason = xasprintf("Command line longer than "
				    "%d bytes; it was dropped from the log",
				    WFCMD_LINE_MAX);
				cmd_fail(st, cmd.name, strlen(cmd.name),
				    reason, out);
				free(reason);
				wfcmd_cmd_free(&cmd);
				buf_clear(&st->line);
				st->mode = LINE_DROP;
				return;
			}
			wfcmd_cmd_free(&cmd);
		}
		st->mode = LINE_LONG;
	}

	/*
	 * Cut so that every secret starting before the cut ends inside the
	 * buffer, hence is found; those starting after it stay for the next
	 * piece.  A masked run crossing the cut is carried over.
	 */
	keep = mask_longest(st->masks) > 0 ? mask_longest(st->masks) - 1 : 0;
	c = L > keep ? L - keep : 0;
	if (c < L / 2)
		c = L / 2;
	cov = mask_cover(st->masks, st->line.data, L, st->carry);
	mask_emit(st->line.data, c, cov, &st->prev_masked, out);
	run = 0;
	if (cov != NULL) {
		while (c + run < L && cov[c + run])
			run++;
	}
	free(cov);
	memmove(st->line.data, st->line.data + c, L - c);
	st->line.len = L - c;
	st->line.data[st->line.len] = '\0';
	st->carry = run;
	/* Give back what the decision needed and the pieces do not. */
	if (st->line.cap > line_limit(st) + 1) {
		st->line.data = xrealloc(st->line.data, line_limit(st) + 1);
		st->line.cap = line_limit(st) + 1;
	}
}

static void
line_end(struct wfcmd_state *st, struct buf *out)
{
	unsigned char	*cov;

	switch (st->mode) {
	case LINE_NORMAL:
		process_line(st, st->line.data != NULL ? st->line.data : "",
		    st->line.len, NULL, out);
		break;
	case LINE_LONG:
		cov = mask_cover(st->masks, st->line.data, st->line.len,
		    st->carry);
		mask_emit(st->line.data, st->line.len, cov, &st->prev_masked,
		    out);
		free(cov);
		buf_add_char(out, '\n');
		break;
	case LINE_DROP:
		break;
	}
	reset_line(st);
}

static void
line_add(struct wfcmd_state *st, const char *p, size_t n, struct buf *out)
{
	size_t	take;

	while (n > 0 && st->mode != LINE_DROP) {
		if (st->line.len >= line_limit(st)) {
			line_overflow(st, out);
			continue;
		}
		take = line_limit(st) - st->line.len;
		if (take > n)
			take = n;
		buf_add(&st->line, p, take);
		p += take;
		n -= take;
	}
}

/* A byte that ends a line of a step's output. */
static int
is_line_end(char c)
{
	return c == '\n' || c == '\r';
}

/* Where the line holding data[k] starts, i being a line start before it. */
static size_t
line_start(const char *data, size_t i, size_t k)
{
	while (k > i && !is_line_end(data[k - 1]))
		k--;
	return k;
}

/*
 * Where the first line at or after i that may be a command starts ("::"
 * after blanks at its start, or "##[" in it): len when none does.  The
 * next "##[" is remembered in fc, as feed_may_be_command() does.
 */
static size_t
first_command_line(struct feed_cover *fc, const char *data, size_t i,
    size_t len)
{
	const char	*p;
	size_t		 stop = len, c = i, b;

	if (fc->legacy == NULL || fc->legacy < data + i) {
		fc->legacy = find_legacy(data + i, len - i);
		if (fc->legacy == NULL)
			fc->legacy = fc->limit;
	}
	if (fc->legacy < data + len)
		stop = line_start(data, i, (size_t)(fc->legacy - data));
	/* memchr, not memmem: glibc's memmem walks a 2-byte needle bytewise. */
	while (c + 1 < stop &&
	    (p = memchr(data + c, ':', stop - c - 1)) != NULL) {
		c = (size_t)(p - data) + 1;
		if (p[1] != ':')
			continue;
		b = (size_t)(p - data);
		while (b > i && !is_line_end(data[b - 1]) &&
		    str_is_space((unsigned char)data[b - 1]))
			b--;
		if (b == i || is_line_end(data[b - 1]))
			return b;
	}
	return stop;
}

/*
 * Log the whole plain lines that start at data[i] (a line start) in one
 * piece: up to the first line that may be a command, or the last line end
 * in data.  Such lines are logged as they are but for their ends (CR LF and
 * a lone CR become LF), so the piece is copied with its CRs rewritten and
 * nothing is done line by line: on output of short lines, per-line work
 * cost more than the bytes (bench/log.sh, random bytes).  Returns where
 * the piece ends; i when there is none, with *slow_until set to where the
 * line-by-line path must take over (a command line, a partial line, or
 * lines a mask covers).
 */
static size_t
feed_plain_lines(struct wfcmd_state *st, struct feed_cover *fc,
    const char *data, size_t i, size_t len, size_t *slow_until,
    struct buf *out)
{
	const char	*lf, *cr, *r;
	unsigned char	*cov;
	size_t		 end, p;
	char		*q;

	end = first_command_line(fc, data, i, len);
	if (end == len) {
		/* The last line end; what follows it is a partial line. */
		lf = memrchr(data + i, '\n', len - i);
		cr = memrchr(data + i, '\r', len - i);
		if (cr != NULL && (lf == NULL || cr > lf))
			lf = cr;
		end = lf != NULL ? (size_t)(lf - data) + 1 : i;
	}
	if (end == i) {
		*slow_until = i + 1;
		return i;
	}
	if ((cov = mask_cover_lines(st->masks, data + i, end - i)) != NULL) {
		free(cov);
		*slow_until = end;
		return i;
	}
	buf_reserve(out, end - i);
	q = out->data + out->len;
	for (p = i; p < end; ) {
		r = memchr(data + p, '\r', end - p);
		if (r == NULL) {
			memcpy(q, data + p, end - p);
			q += end - p;
			break;
		}
		memcpy(q, data + p, (size_t)(r - data) - p);
		q += (size_t)(r - data) - p;
		*q++ = '\n';
		p = (size_t)(r - data) + 1;
		if (p < len && data[p] == '\n')
			p++;
		else if (p == len)
			st->pending_cr = 1;
	}
	out->len = (size_t)(q - out->data);
	out->data[out->len] = '\0';
	return p > end ? p : end;
}

/*
 * The per-byte cost of a step's output is here: whole plain lines are
 * copied in one piece (feed_plain_lines()); otherwise line ends are found with
 * memchr (vectorised) rather than a byte loop, the next LF and the next
 * CR each remembered across lines so that each is searched for once; a
 * whole line within data is processed where it lies, not copied into
 * st->line first, and masked from a search over many lines at once
 * (struct feed_cover).
 */
void
wfcmd_feed(struct wfcmd_state *st, const char *data, size_t len,
    struct buf *out)
{
	struct feed_cover	 fc = { .limit = data + len };
	const char		*p;
	size_t			 i = 0, j, lf = 0, cr = 0, slow_until = 0;
	int			 lf_known = 0, cr_known = 0;

	while (i < len) {
		if (st->pending_cr) {
			/* The LF of a CRLF split across two feeds. */
			st->pending_cr = 0;
			if (data[i] == '\n') {
				i++;
				continue;
			}
		}
		if (i >= slow_until && st->line.len == 0 &&
		    st->mode == LINE_NORMAL) {
			j = feed_plain_lines(st, &fc, data, i, len,
			    &slow_until, out);
			if (j > i) {
				i = j;
				continue;
			}
		}
		if (!lf_known || lf < i) {
			p = memchr(data + i, '\n', len - i);
			lf = p != NULL ? (size_t)(p - data) : len;
			lf_known = 1;
		}
		if (!cr_known || cr < i) {
			p = memchr(data + i, '\r', len - i);
			cr = p != NULL ? (size_t)(p - data) : len;
			cr_known = 1;
		}
		j = cr < lf ? cr : lf;
		if (j < len && st->line.len == 0 && st->mode == LINE_NORMAL &&
		    j - i <= WFCMD_LINE_MAX) {
			process_line(st, data + i, j - i, &fc, out);
			reset_line(st);
		} else {
			line_add(st, data + i, j - i, out);
			if (j == len)
				break;
			line_end(st, out);
		}
		if (data[j] == '\r') {
			if (j + 1 < len && data[j + 1] == '\n')
				j++;
			else if (j + 1 == len)
				st->pending_cr = 1;
		}
		i = j + 1;
	}
	free(fc.cov);
}

void
wfcmd_flush(struct wfcmd_state *st, struct buf *out)
{
	st->pending_cr = 0;
	if (st->line.len > 0 || st->mode != LINE_NORMAL)
		line_end(st, out);
}

/* --- accessors ---------------------------------------------------------- */

size_t
wfcmd_nannotations(const struct wfcmd_state *st)
{
	return st->nann;
}

const struct wfcmd_annotation *
wfcmd_annotation(const struct wfcmd_state *st, size_t i)
{
	return i < st->nann ? &st->ann[i] : NULL;
}

size_t
wfcmd_annotations_dropped(const struct wfcmd_state *st)
{
	return st->ann_dropped;
}

size_t
wfcmd_nrecords(const struct wfcmd_state *st)
{
	return st->nrec;
}

const struct wfcmd_record *
wfcmd_record(const struct wfcmd_state *st, size_t i)
{
	return i < st->nrec ? &st->rec[i] : NULL;
}

size_t
wfcmd_nerrors(const struct wfcmd_state *st)
{
	return st->nerrs;
}

const char *
wfcmd_error(const struct wfcmd_state *st, size_t i)
{
	return i < st->nerrs ? st->errs[i] : NULL;
}

int
wfcmd_failed(const struct wfcmd_state *st)
{
	return st->failed;
}

int
wfcmd_stopped(const struct wfcmd_state *st)
{
	return st->stop_token != NULL;
}

int
wfcmd_echo(const struct wfcmd_state *st)
{
	return st->echo;
}

size_t
wfcmd_pending(const struct wfcmd_state *st)
{
	return st->line.len;
}
