/*
 * config: see config.h.  One table describes every key (section, name, type,
 * bounds, default, help); parsing, defaults and `kilnd --help-config` are all
 * driven from it, so a new key is one row.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define CONFIG_MAX_SIZE		(1024 * 1024)
#define CONFIG_MAX_LINE		4096

enum config_type {
	CONFIG_STRING,
	CONFIG_PATH,		/* made absolute against the working directory */
	CONFIG_INT,
	CONFIG_INT64,		/* an int64_t field, for sizes in bytes */
	CONFIG_ENUM,		/* one of a |-separated list */
};

struct config_key {
	const char	*section;
	const char	*name;
	enum config_type type;
	size_t		 offset;	/* into struct kiln_config */
	const char	*def;		/* default as text */
	int64_t		 min, max;	/* CONFIG_INT, CONFIG_INT64 bounds */
	const char	*choices;	/* CONFIG_ENUM */
	const char	*help;
};

#define OFF(f) offsetof(struct kiln_config, f)

static const struct config_key config_keys[] = {
	{ "server", "listen", CONFIG_STRING, OFF(listen), "127.0.0.1:8420", 0, 0,
	  NULL, "HTTP listener for webhooks and the status page (host:port; "
	  "empty disables)" },
	{ "server", "state_dir", CONFIG_PATH, OFF(state_dir), "./kiln-state", 0, 0,
	  NULL, "directory for the embedded database, logs, workspaces, sockets" },
	{ "server", "admin_socket", CONFIG_PATH, OFF(admin_socket), "", 0, 0,
	  NULL, "admin API Unix socket (default <state_dir>/admin.sock)" },
	{ "server", "log_socket", CONFIG_PATH, OFF(log_socket), "", 0, 0,
	  NULL, "Unix socket workers stream logs to (default <state_dir>/log.sock)" },
	{ "server", "webhook_queue_bytes", CONFIG_INT, OFF(webhook_queue_bytes),
	  "268435456", 1048576, INT32_MAX, NULL, "webhook bodies held while "
	  "they are stored, in bytes; a delivery past it is answered 503 "
	  "with Retry-After" },
	{ "server", "drain_seconds", CONFIG_INT, OFF(drain_seconds), "60", 0,
	  86400, NULL, "on SIGTERM, how long running jobs may go on before "
	  "they are cancelled (no new work is taken meanwhile; 0 cancels at "
	  "once)" },
	{ "server", "max_connections", CONFIG_INT, OFF(max_connections), "1024",
	  8, 1000000, NULL, "open connections on the HTTP listener; past it the "
	  "slowest still sending a request are closed, past 1.5 times it new "
	  "ones are refused (kept within the open-file limit)" },
	{ "server", "request_timeout", CONFIG_INT, OFF(request_timeout), "60", 1,
	  3600, NULL, "seconds a client has to send a request's headers and "
	  "body, however slowly it trickles them; then it is disconnected" },
	{ "database", "url", CONFIG_STRING, OFF(db_url), "", 0, 0, NULL,
	  "PostgreSQL conninfo or URL; empty runs an embedded cluster in "
	  "<state_dir>/pg" },
	{ "database", "pg_bindir", CONFIG_PATH, OFF(pg_bindir), "", 0, 0, NULL,
	  "directory holding initdb and postgres (default: newest "
	  "/usr/lib/postgresql/*/bin)" },
	{ "database", "pg_user", CONFIG_STRING, OFF(pg_user), "kiln", 0, 0, NULL,
	  "unprivileged account the embedded cluster runs as when kilnd is root "
	  "(falls back to nobody if it does not exist)" },
	{ "database", "connections", CONFIG_INT, OFF(db_connections), "4", 1, 64,
	  NULL, "database connections for kilnd's queries, opened while queries wait "
	  "(and one more that only LISTENs, kept open)" },
	{ "workers", "count", CONFIG_INT, OFF(worker_count), "2", 0, 256, NULL,
	  "local kiln-worker processes kilnd starts and supervises" },
	{ "workers", "program", CONFIG_PATH, OFF(worker_program), "", 0, 0, NULL,
	  "kiln-worker binary (default: the one next to kilnd)" },
	{ "workers", "work_dir", CONFIG_PATH, OFF(work_dir), "", 0, 0, NULL,
	  "where workers keep mirrors and job workspaces (default "
	  "<state_dir>/work)" },
	{ "workers", "labels", CONFIG_STRING, OFF(labels),
	  "self-hosted,linux,x64,ubuntu-latest,ubuntu-24.04,ubuntu-22.04", 0, 0,
	  NULL, "runner labels local workers advertise (comma-separated)" },
	{ "workers", "run_as", CONFIG_STRING, OFF(run_as), "", 0, 0, NULL,
	  "unprivileged account the steps of jobs run as when the worker is "
	  "root (empty: the worker's own account)" },
	{ "workers", "tool_cache", CONFIG_PATH, OFF(tool_cache), "", 0, 0, NULL,
	  "RUNNER_TOOL_CACHE: where setup-python finds and installs "
	  "interpreters (default <state_dir>/toolcache; steps may write it, so "
	  "with run_as it belongs to that account)" },
	{ "workers", "retry_lost", CONFIG_INT, OFF(retry_lost), "0", 0, 10,
	  NULL, "a run whose job failed because its worker died runs its "
	  "failed jobs again as its next attempt, up to this many times" },
	{ "workers", "lease_seconds", CONFIG_INT, OFF(lease_seconds), "600", 30,
	  86400, NULL, "a running job's lease, renewed by its worker every "
	  "second (a job whose lease runs out fails), and an event's while it "
	  "is planned (then planned again, three times at most)" },
	{ "workers", "park_seconds", CONFIG_INT, OFF(park_seconds), "10", 0,
	  86400, NULL, "a local worker idle this long closes its database "
	  "session (a PostgreSQL backend's memory) and waits for kilnd to "
	  "wake it when work is queued (0: keep the session)" },
	{ "workers", "run_as_pool", CONFIG_STRING, OFF(run_as_pool), "", 0, 0,
	  NULL, "comma-separated unprivileged accounts, one per worker slot: "
	  "each worker takes one no other worker on this work_dir holds and "
	  "runs its jobs' steps as it, so jobs of different repositories "
	  "cannot reach each other (instead of run_as)" },
	{ "log", "level", CONFIG_ENUM, OFF(log_level), "info", 0, 0,
	  "error|warn|info|debug", "log verbosity" },
	{ "log", "max_job_bytes", CONFIG_INT, OFF(log_max_job_bytes),
	  "1073741824", 1048576, INT32_MAX, NULL, "a job's log is cut past "
	  "this many bytes: a marker line, the rest of its output dropped, "
	  "the job going on" },
	{ "secrets", "key_file", CONFIG_PATH, OFF(secrets_key_file), "", 0, 0,
	  NULL, "32-byte AES-256-GCM key sealing secrets at rest (default "
	  "<state_dir>/secret.key, created 0600 when absent; refused when its "
	  "group or others may read it)" },
	{ "schedules", "catch_up", CONFIG_ENUM, OFF(sched_catch_up), "latest", 0,
	  0, "latest|none", "after downtime, fire each schedule's most recent "
	  "missed minute once (latest; the run says how late) or none" },
	{ "actions", "python_versions_url", CONFIG_STRING,
	  OFF(python_versions_url), "https://raw.githubusercontent.com/actions/"
	  "python-versions/main/versions-manifest.json", 0, 0, NULL,
	  "actions/setup-python: the manifest of Python builds it downloads a "
	  "version missing from the tool cache from (empty: never download)" },
	{ "actions", "base_url", CONFIG_STRING, OFF(actions_base_url),
	  "https://github.com", 0, 0, NULL, "`uses: owner/repo[/path]@ref` is "
	  "fetched with git from <base_url>/owner/repo (https://, file://) and "
	  "kept per commit under <work_dir>/actions; so is a reusable "
	  "workflow's `uses: owner/repo/.github/workflows/f.yml@ref`" },
	{ "actions", "keep_days", CONFIG_INT, OFF(actions_keep_days), "7", 1,
	  3650, NULL, "a fetched action's files (one directory per commit "
	  "under <work_dir>/actions/src) unused for this many days are "
	  "removed, at a worker's start and hourly; used again, they are "
	  "fetched again" },
	{ "actions", "allow", CONFIG_STRING, OFF(actions_allow), "*", 0, 0,
	  NULL, "comma-separated patterns (fnmatch, '*' also matches '/') of "
	  "the actions steps may use, matched against owner/repo[/path], or "
	  "against owner/repo[/path]@ref when the pattern has an '@'; an "
	  "action no pattern allows fails its step (a reusable workflow, its "
	  "run); empty: none" },
	{ "containers", "engine", CONFIG_ENUM, OFF(containers_engine), "auto",
	  0, 0, "auto|podman|docker|none", "the container engine of job "
	  "`container:`, `services:` and docker actions: auto (the first of "
	  "podman and docker on PATH whose `info` succeeds), podman, docker, or "
	  "none (such jobs fail before any step)" },
	{ "containers", "engine_options", CONFIG_STRING,
	  OFF(containers_engine_options), "", 0, 0, NULL, "blank-separated "
	  "options given to the engine before every command (e.g. "
	  "--storage-driver vfs --cgroup-manager cgroupfs --runtime runc)" },
	{ "containers", "run_options", CONFIG_STRING,
	  OFF(containers_run_options), "", 0, 0, NULL, "blank-separated "
	  "options added to every container kiln creates and image it builds, "
	  "before the workflow's own (e.g. --ulimit nofile=1024:1024)" },
	{ "web", "access", CONFIG_ENUM, OFF(web_access), "token", 0, 0,
	  "public|token|off", "status page and read-only /api/v1 on the "
	  "listener: public (anyone who reaches it), token (a login or "
	  "Authorization: Bearer with a cictl token), off (no page); webhook "
	  "intake is unaffected" },
	{ "web", "session_hours", CONFIG_INT, OFF(web_session_hours), "12", 1,
	  8760, NULL, "lifetime of a page login (session cookie), hours" },
	{ "admin", "listen", CONFIG_STRING, OFF(admin_listen), "", 0, 0, NULL,
	  "HOST:PORT serving the admin API over TCP to cictl --url, every "
	  "request with a bearer token (cictl token create); empty: off" },
	{ "admin", "tls_cert", CONFIG_PATH, OFF(admin_tls_cert), "", 0, 0, NULL,
	  "PEM certificate (chain) for [admin] listen; required unless it is "
	  "a loopback address" },
	{ "admin", "tls_key", CONFIG_PATH, OFF(admin_tls_key), "", 0, 0, NULL,
	  "PEM private key of tls_cert" },
	{ "metrics", "access", CONFIG_ENUM, OFF(metrics_access), "public", 0, 0,
	  "public|token|off", "who may read GET /metrics (Prometheus text "
	  "format): anyone who reaches the listener, holders of a token "
	  "(cictl token create), or nobody" },
	{ "github", "api_url", CONFIG_STRING, OFF(gh_api_url),
	  "https://api.github.com", 0, 0, NULL, "GitHub's REST API: "
	  "https://api.github.com, or https://HOST/api/v3 for GitHub "
	  "Enterprise Server" },
	{ "github", "token_file", CONFIG_PATH, OFF(gh_token_file), "", 0, 0,
	  NULL, "file holding a token (repo:status) that kilnd sends job "
	  "states to GitHub with as commit statuses; refused when its group "
	  "or others may read it; empty: nothing is sent" },
	{ "github", "public_url", CONFIG_STRING, OFF(gh_public_url), "", 0, 0,
	  NULL, "kiln's address as GitHub users reach it "
	  "(https://ci.example.org); with [web] access on, each status links "
	  "to its job's page there" },
	{ "github", "max_in_flight", CONFIG_INT, OFF(gh_max_in_flight), "10", 1,
	  100, NULL, "outbox: API requests one kilnd has in flight at once" },
	{ "github", "keep_hours", CONFIG_INT, OFF(gh_keep_hours), "168", 1,
	  87600, NULL, "outbox: delivered calls are kept this long for "
	  "cictl outbox" },
	{ "github", "app_id", CONFIG_STRING, OFF(gh_app_id), "", 0, 0, NULL,
	  "the GitHub App's ID (digits, its settings page): App mode, job "
	  "states sent as check runs with installation tokens instead of "
	  "token_file's, and a GITHUB_TOKEN for each job" },
	{ "github", "private_key_file", CONFIG_PATH, OFF(gh_private_key_file),
	  "", 0, 0, NULL, "the App's private key (PEM, RSA, 'Generate a "
	  "private key'); refused when its group or others may read it" },
	{ "cache", "dir", CONFIG_PATH, OFF(cache_dir), "", 0, 0, NULL,
	  "where actions/cache keeps its archives, one zstd tar per entry "
	  "(default <state_dir>/cache; the index is in the database)" },
	{ "cache", "max_bytes", CONFIG_INT64, OFF(cache_max_bytes),
	  "10737418240", 0, INT64_MAX / 2, NULL, "the archives one "
	  "repository's cache may hold, in bytes; a save past it, and the "
	  "workers' sweep at start and hourly, evict the least recently "
	  "used entries (0: no limit)" },
	{ "artifacts", "dir", CONFIG_PATH, OFF(artifacts_dir), "", 0, 0, NULL,
	  "where actions/upload-artifact keeps its zip files, one directory "
	  "per run (default <state_dir>/artifacts; the index is in the "
	  "database); workers write it, kilnd serves and expires it" },
	{ "artifacts", "retention_days", CONFIG_INT,
	  OFF(artifacts_retention_days), "90", 1, 3650, NULL,
	  "an artifact's lifetime when its upload gives no retention-days, "
	  "and the most one may ask for (GitHub's repository setting)" },
};

static char **
config_str_field(struct kiln_config *cfg, const struct config_key *k)
{
	return (char **)(void *)((char *)cfg + k->offset);
}

static int *
config_int_field(struct kiln_config *cfg, const struct config_key *k)
{
	return (int *)(void *)((char *)cfg + k->offset);
}

static int64_t *
config_int64_field(struct kiln_config *cfg, const struct config_key *k)
{
	return (int64_t *)(void *)((char *)cfg + k->offset);
}

/* 1 if the key's field is a number, not a string. */
static int
config_numeric(const struct config_key *k)
{
	return k->type == CONFIG_INT || k->type == CONFIG_INT64;
}

static void KILN_PRINTF(5, 6)
config_error(char *err, size_t errsz, const char *file, int line,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(err, errsz, "%s:%d: %s", file, line, msg);
	else
		snprintf(err, errsz, "%s: %s", file, msg);
}

static char *
config_absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '\0' || path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof cwd) == NULL)
		return xstrdup(path);
	if (path[0] == '.' && path[1] == '/')
		path += 2;
	return xasprintf("%s/%s", cwd, path);
}

/* Apply one textual value to a key; 0 or -1 with a reason in why. */
static int
config_set(struct kiln_config *cfg, const struct config_key *k,
    const char *value, char *why, size_t whysz)
{
	const char *errstr;
	int64_t n;

	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH:
		free(*config_str_field(cfg, k));
		*config_str_field(cfg, k) = k->type == CONFIG_PATH ?
		    config_absolute(value) : xstrdup(value);
		return 0;
	case CONFIG_INT:
	case CONFIG_INT64:
		if (parse_int64(value, k->min, k->max, &n, &errstr) == -1) {
			snprintf(why, whysz, "%s.%s: \"%s\" is %s (expected an "
			    "integer from %lld to %lld)", k->section, k->name,
			    value, errstr, (long long)k->min,
			    (long long)k->max);
			return -1;
		}
		if (k->type == CONFIG_INT64)
			*config_int64_field(cfg, k) = n;
		else
			*config_int_field(cfg, k) = (int)n;
		return 0;
	case CONFIG_ENUM: {
		const char *p = k->choices;
		size_t len = strlen(value);

		while (p != NULL && *p != '\0') {
			const char *bar = strchr(p, '|');
			size_t plen = bar ? (size_t)(bar - p) : strlen(p);

			if (plen == len && strncmp(p, value, len) == 0) {
				free(*config_str_field(cfg, k));
				*config_str_field(cfg, k) = xstrdup(value);
				return 0;
			}
			p = bar ? bar + 1 : NULL;
		}
		snprintf(why, whysz, "%s.%s: \"%s\" is not one of %s",
		    k->section, k->name, value, k->choices);
		return -1;
	}
	}
	return -1;
}

static const struct config_key *
config_find(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < nitems(config_keys); i++)
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* Whether a key before index i already belongs to section sec. */
static int
config_keys_section_seen(size_t i, const char *sec)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (strcmp(config_keys[j].section, sec) == 0)
			return 1;
	return 0;
}

static int
config_known_section(const char *section)
{
	size_t i;

	for (i = 0; i < nitems(config_keys); i++)
		if (strcmp(config_keys[i].section, section) == 0)
			return 1;
	return 0;
}

/* The known sections in table order, for an error that names them all. */
static void
config_section_names(char *out, size_t outsz)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < nitems(config_keys); i++) {
		const char *sec = config_keys[i].section;
		int n;

		if (config_keys_section_seen(i, sec))
			continue;
		n = snprintf(out + used, outsz - used, "%s%s",
		    used ? ", " : "", sec);
		if (n < 0 || (size_t)n >= outsz - used)
			return;
		used += (size_t)n;
	}
}

static char *
config_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Strip one pair of matching double quotes, so values may hold '#'. */
static char *
config_unquote(char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

static int
config_parse_text(struct kiln_config *cfg, const char *file, char *text,
    char *err, size_t errsz)
{
	char section[64] = "", why[512], *line, *next;
	int lineno = 0;

	for (line = text; line != NULL; line = next) {
		char *p, *eq, *key, *value;
		const struct config_key *k;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (strlen(line) > CONFIG_MAX_LINE) {
			config_error(err, errsz, file, lineno,
			    "line longer than %d bytes", CONFIG_MAX_LINE);
			return -1;
		}
		p = config_trim(line);
		if (*p == '\0' || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			char *close = strchr(p, ']');

			if (close == NULL || *config_trim(close + 1) != '\0') {
				config_error(err, errsz, file, lineno,
				    "malformed section header \"%s\"", p);
				return -1;
			}
			*close = '\0';
			p = config_trim(p + 1);
			if (!config_known_section(p)) {
				char known[256];

				config_section_names(known, sizeof known);
				config_error(err, errsz, file, lineno,
				    "unknown section [%s] (known: %s)", p, known);
				return -1;
			}
			snprintf(section, sizeof section, "%s", p);
			continue;
		}
		if ((eq = strchr(p, '=')) == NULL) {
			config_error(err, errsz, file, lineno,
			    "expected \"key = value\", got \"%s\"", p);
			return -1;
		}
		*eq = '\0';
		key = config_trim(p);
		value = config_unquote(config_trim(eq + 1));
		if (section[0] == '\0') {
			config_error(err, errsz, file, lineno,
			    "key \"%s\" outside of any [section]", key);
			return -1;
		}
		if ((k = config_find(section, key)) == NULL) {
			config_error(err, errsz, file, lineno,
			    "unknown key \"%s\" in [%s]", key, section);
			return -1;
		}
		if (config_set(cfg, k, value, why, sizeof why) == -1) {
			config_error(err, errsz, file, lineno, "%s", why);
			return -1;
		}
	}
	return 0;
}

static void
config_default_path(char **field, const char *state_dir, const char *leaf)
{
	if (*field != NULL && (*field)[0] != '\0')
		return;
	free(*field);
	*field = xasprintf("%s/%s", state_dir, leaf);
}

static int	config_check_pool(const struct kiln_config *, const char *,
		    char *, size_t);

int
config_load(const char *path, struct kiln_config *cfg, char *err,
    size_t errsz)
{
	char why[512];
	char *text;
	size_t i;

	memset(cfg, 0, sizeof *cfg);
	for (i = 0; i < nitems(config_keys); i++) {
		if (config_set(cfg, &config_keys[i], config_keys[i].def, why,
		    sizeof why) == -1) {
			snprintf(err, errsz, "built-in default: %s", why);
			config_free(cfg);
			return -1;
		}
	}
	if (path != NULL) {
		cfg->path = xstrdup(path);
		if ((text = file_read_all(path, CONFIG_MAX_SIZE, NULL)) == NULL) {
			config_error(err, errsz, path, 0, "%s", errno == EFBIG ?
			    "file too large" : strerror(errno));
			config_free(cfg);
			return -1;
		}
		if (config_parse_text(cfg, path, text, err, errsz) == -1) {
			free(text);
			config_free(cfg);
			return -1;
		}
		free(text);
	}
	if (cfg->state_dir[0] == '\0') {
		snprintf(err, errsz, "%s: server.state_dir must not be empty",
		    path ? path : "defaults");
		config_free(cfg);
		return -1;
	}
	config_default_path(&cfg->admin_socket, cfg->state_dir, "admin.sock");
	config_default_path(&cfg->log_socket, cfg->state_dir, "log.sock");
	config_default_path(&cfg->secrets_key_file, cfg->state_dir,
	    "secret.key");
	config_default_path(&cfg->work_dir, cfg->state_dir, "work");
	config_default_path(&cfg->tool_cache, cfg->state_dir, "toolcache");
	config_default_path(&cfg->cache_dir, cfg->state_dir, "cache");
	config_default_path(&cfg->artifacts_dir, cfg->state_dir, "artifacts");
	if (config_check_pool(cfg, path, err, errsz) == -1) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

/* An account name useradd accepts by default: [a-z_][a-z0-9_.-]*, <= 32. */
static int
config_account_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 32 || !((s[0] >= 'a' && s[0] <= 'z') ||
	    s[0] == '_'))
		return 0;
	for (i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

char **
config_pool_names(const char *csv, size_t *np, char *err, size_t errsz)
{
	char **names = NULL;
	const char *p = csv, *start;
	size_t n = 0, i, len;

	while (str_list_next(&p, &start, &len)) {
		if (!config_account_name(start, len)) {
			snprintf(err, errsz, "run_as_pool: \"%.*s\" is not an "
			    "account name ([a-z_][a-z0-9_.-]*, at most 32)",
			    (int)(len > 64 ? 64 : len), start);
			goto fail;
		}
		for (i = 0; i < n; i++)
			if (strlen(names[i]) == len &&
			    memcmp(names[i], start, len) == 0)
				break;
		if (i < n) {
			snprintf(err, errsz, "run_as_pool: \"%s\" is named "
			    "twice", names[i]);
			goto fail;
		}
		if (n == CONFIG_MAX_POOL) {
			snprintf(err, errsz, "run_as_pool: more than %d "
			    "accounts", CONFIG_MAX_POOL);
			goto fail;
		}
		names = xreallocarray(names, n + 2, sizeof *names);
		names[n++] = xstrndup(start, len);
		names[n] = NULL;
	}
	if (n == 0) {
		snprintf(err, errsz, "run_as_pool: no account named");
		goto fail;
	}
	*np = n;
	return names;
fail:
	config_pool_free(names);
	return NULL;
}

void
config_pool_free(char **names)
{
	size_t i;

	for (i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/*
 * [workers] run_as_pool: well-formed, not beside run_as, and an account
 * for each local worker.
 */
static int
config_check_pool(const struct kiln_config *cfg, const char *path,
    char *err, size_t errsz)
{
	char why[256], **names;
	size_t n;

	if (cfg->run_as_pool[0] == '\0')
		return 0;
	if (cfg->run_as[0] != '\0') {
		snprintf(err, errsz, "%s: [workers] run_as and run_as_pool are "
		    "both set; keep one (run_as_pool isolates jobs from each "
		    "other, run_as does not)", path ? path : "defaults");
		return -1;
	}
	if ((names = config_pool_names(cfg->run_as_pool, &n, why,
	    sizeof why)) == NULL) {
		snprintf(err, errsz, "%s: [workers] %s", path ? path :
		    "defaults", why);
		return -1;
	}
	config_pool_free(names);
	if ((size_t)cfg->worker_count > n) {
		snprintf(err, errsz, "%s: [workers] count = %d but run_as_pool "
		    "names %zu account%s: each worker needs one of its own",
		    path ? path : "defaults", cfg->worker_count, n,
		    n == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

void
config_free(struct kiln_config *cfg)
{
	size_t i;

	for (i = 0; i < nitems(config_keys); i++) {
		if (config_numeric(&config_keys[i]))
			continue;
		free(*config_str_field(cfg, &config_keys[i]));
		*config_str_field(cfg, &config_keys[i]) = NULL;
	}
	free(cfg->path);
	cfg->path = NULL;
}

void
config_diff(const struct kiln_config *a, const struct kiln_config *b,
    void (*cb)(const char *section, const char *name, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < nitems(config_keys); i++) {
		const struct config_key *k = &config_keys[i];
		const char *pa = (const char *)a + k->offset;
		const char *pb = (const char *)b + k->offset;
		int same;

		if (k->type == CONFIG_INT)
			same = *(const int *)(const void *)pa ==
			    *(const int *)(const void *)pb;
		else if (k->type == CONFIG_INT64)
			same = *(const int64_t *)(const void *)pa ==
			    *(const int64_t *)(const void *)pb;
		else {
			const char *x = *(char *const *)(const void *)pa;
			const char *y = *(char *const *)(const void *)pb;

			same = (x == NULL || y == NULL) ? x == y :
			    strcmp(x, y) == 0;
		}
		if (!same)
			cb(k->section, k->name, arg);
	}
}

int
config_take(struct kiln_config *dst, struct kiln_config *src,
    const char *section, const char *name)
{
	const struct config_key *k = config_find(section, name);

	if (k == NULL)
		return -1;
	if (k->type == CONFIG_INT)
		*config_int_field(dst, k) = *config_int_field(src, k);
	else if (k->type == CONFIG_INT64)
		*config_int64_field(dst, k) = *config_int64_field(src, k);
	else {
		free(*config_str_field(dst, k));
		*config_str_field(dst, k) = *config_str_field(src, k);
		*config_str_field(src, k) = NULL;
	}
	return 0;
}

char *
config_pg_socket_dir(const struct kiln_config *cfg)
{
	return xasprintf("%s/pg/run", cfg->state_dir);
}

char *
config_embedded_conninfo(const struct kiln_config *cfg, const char *dbname)
{
	struct buf b = { 0 };
	char *dir, *p;

	dir = config_pg_socket_dir(cfg);
	/* Quoted, so a state_dir with spaces or quotes stays one value. */
	buf_add_str(&b, "host='");
	for (p = dir; *p != '\0'; p++) {
		if (*p == '\'' || *p == '\\')
			buf_add_char(&b, '\\');
		buf_add_char(&b, *p);
	}
	buf_printf(&b, "' dbname=%s user=kiln", dbname);
	free(dir);
	return buf_steal(&b);
}

char *
config_conninfo(const struct kiln_config *cfg)
{
	if (cfg->db_url[0] != '\0')
		return xstrdup(cfg->db_url);
	return config_embedded_conninfo(cfg, "kiln");
}

void
config_dump(const struct kiln_config *cfg,
    void (*print)(const char *line, void *arg), void *arg)
{
	const char *section = "";
	char line[4096];
	size_t i;

	for (i = 0; i < nitems(config_keys); i++) {
		const struct config_key *k = &config_keys[i];
		const char *p = (const char *)cfg + k->offset;

		if (strcmp(section, k->section) != 0) {
			snprintf(line, sizeof line, "[%s]", k->section);
			print(line, arg);
			section = k->section;
		}
		if (k->type == CONFIG_INT)
			snprintf(line, sizeof line, "%s = %d", k->name,
			    *(const int *)(const void *)p);
		else if (k->type == CONFIG_INT64)
			snprintf(line, sizeof line, "%s = %lld", k->name,
			    (long long)*(const int64_t *)(const void *)p);
		else
			snprintf(line, sizeof line, "%s = %s", k->name,
			    *(char *const *)(const void *)p ?
			    *(char *const *)(const void *)p : "");
		print(line, arg);
	}
}

void
config_describe(void (*print)(const char *line, void *arg), void *arg)
{
	const char *section = "";
	char line[1024];
	size_t i;

	for (i = 0; i < nitems(config_keys); i++) {
		const struct config_key *k = &config_keys[i];

		if (strcmp(section, k->section) != 0) {
			snprintf(line, sizeof line, "[%s]", k->section);
			print(line, arg);
			section = k->section;
		}
		snprintf(line, sizeof line, "# %s", k->help);
		print(line, arg);
		snprintf(line, sizeof line, "%s = %s", k->name, k->def);
		print(line, arg);
	}
}
