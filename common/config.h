/*
 * config: kiln.conf, one file of [sections] and "key = value" lines, read by
 * kilnd, kiln-worker and cictl alike.  Every key is one row of a table in
 * config.c (type, bounds, default, help); an empty or absent file yields
 * working defaults.  Unknown keys and bad values are errors naming
 * file:line.  Relative paths are made absolute at load time, because the
 * programs chdir.
 */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct kiln_config {
	char	*path;		/* file read, or NULL for defaults only */

	/* [server] */
	char	*listen;	/* "127.0.0.1:8420" or "[::1]:8420"; "" disables */
	char	*state_dir;	/* absolute; holds pg/, logs/, work/, sockets */
	char	*admin_socket;	/* default <state_dir>/admin.sock */
	char	*log_socket;	/* default <state_dir>/log.sock */
	int	 webhook_queue_bytes; /* webhook bodies held at once */
	int	 drain_seconds;	/* SIGTERM: running jobs may finish this long */
	int	 max_connections; /* HTTP listener */
	int	 request_timeout; /* seconds for a request's head and body */

	/* [database] */
	char	*db_url;	/* libpq conninfo/URL; "" = embedded cluster */
	char	*pg_bindir;	/* "" = search /usr/lib/postgresql/NN/bin */
	char	*pg_user;	/* account for the embedded cluster when root */
	int	 db_connections; /* kilnd's pool size */

	/* [workers] */
	int	 worker_count;	/* local kiln-worker processes kilnd starts */
	char	*worker_program; /* "" = kiln-worker next to kilnd */
	char	*work_dir;	/* default <state_dir>/work */
	char	*labels;	/* comma-separated runner labels */
	char	*run_as;	/* account steps run as ("" = the worker's) */
	char	*tool_cache;	/* RUNNER_TOOL_CACHE; default <state_dir>/toolcache */
	int	 retry_lost;	/* re-runs of a run after a lost worker */
	int	 lease_seconds;	/* a job's and a planned event's lease */
	int	 park_seconds;	/* idle local worker drops its session */
	char	*run_as_pool;	/* "a,b,c": one account per worker slot */

	/* [actions] */
	char	*python_versions_url; /* setup-python's versions manifest */
	char	*actions_base_url;	/* owner/repo actions fetched from */
	char	*actions_allow;		/* patterns of actions allowed */
	int	 actions_keep_days;	/* fetched actions unused this long go */
	char	*containers_engine;	/* auto|podman|docker|none */
	char	*containers_engine_options;
	char	*containers_run_options;

	/* [cache] */
	char	*cache_dir;	/* actions/cache archives; <state_dir>/cache */
	int64_t	 cache_max_bytes; /* per repository; 0 = no limit */

	/* [artifacts] */
	char	*artifacts_dir;	/* <state_dir>/artifacts: <run>/<id>.zip */
	int	 artifacts_retention_days; /* default and maximum */

	/* [log] */
	char	*log_level;	/* error, warn, info, debug */
	int	 log_max_job_bytes; /* a job's log is cut past it */

	/* [secrets] */
	char	*secrets_key_file; /* default <state_dir>/secret.key */

	/* [web] */
	char	*web_access;	/* public, token, off */
	int	 web_session_hours; /* a page login's lifetime */
	/* [schedules] */
	char	*sched_catch_up; /* "latest" or "none" */
	/* [admin] */
	char	*admin_listen;	/* HOST:PORT of the remote admin API, "" off */
	char	*admin_tls_cert; /* PEM certificate chain */
	char	*admin_tls_key;	/* PEM private key */
	/* [metrics] */
	char	*metrics_access; /* public, token, off */
	/* [github] */
	char	*gh_api_url;	/* REST API base, no trailing slash */
	char	*gh_token_file;	/* commit statuses' token, "" off */
	char	*gh_public_url;	/* kiln's page as GitHub users reach it */
	int	 gh_max_in_flight; /* outbox requests at once */
	int	 gh_keep_hours;	/* delivered outbox rows kept */
	char	*gh_app_id;	/* App mode: the App's ID, "" off */
	char	*gh_private_key_file; /* App mode: its PEM key */
};

/*
 * Load path (NULL: defaults only).  On error returns -1 and writes
 * "file:line: message" into err; cfg is then left freed.  On success the
 * caller owns cfg's strings and releases them with config_free().
 */
int	 config_load(const char *path, struct kiln_config *cfg, char *err,
	     size_t errsz);
void	 config_free(struct kiln_config *cfg);

/*
 * The accounts of [workers] run_as_pool ("a, b,c"), a NULL-terminated
 * array of *n new strings (config_pool_free()), or NULL with err: an
 * empty list, a name useradd would refuse, a name given twice, more than
 * CONFIG_MAX_POOL.
 */
#define CONFIG_MAX_POOL	256
char	**config_pool_names(const char *csv, size_t *n, char *err,
	    size_t errsz);
void	 config_pool_free(char **names);

/*
 * The libpq conninfo to use: db_url, or the embedded cluster's socket
 * directory when db_url is empty.  Caller frees.
 */
char	*config_conninfo(const struct kiln_config *cfg);

/* Conninfo for database dbname of the embedded cluster.  Caller frees. */
char	*config_embedded_conninfo(const struct kiln_config *cfg,
	     const char *dbname);

/* Directory of the embedded cluster's Unix socket: <state_dir>/pg/run. */
char	*config_pg_socket_dir(const struct kiln_config *cfg);

/*
 * Call cb with the section and name of every key whose value differs
 * between a and b (reloading: what changed).
 */
void	 config_diff(const struct kiln_config *a, const struct kiln_config *b,
	     void (*cb)(const char *section, const char *name, void *arg),
	     void *arg);
/*
 * Move key [section] name's value from src into dst, freeing dst's old one
 * (src's becomes NULL for a string).  0, or -1 for an unknown key.
 */
int	 config_take(struct kiln_config *dst, struct kiln_config *src,
	     const char *section, const char *name);
/*
 * Print cfg's values as a config file that loads back to them (kilnd
 * hands its running configuration to the workers it starts this way).
 */
void	 config_dump(const struct kiln_config *cfg,
	     void (*print)(const char *line, void *arg), void *arg);
/* Print every key with its default and help text (kilnd --help-config). */
void	 config_describe(void (*print)(const char *line, void *arg), void *arg);

#endif
