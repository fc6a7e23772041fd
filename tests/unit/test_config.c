/*
 * Unit tests for common/config: defaults, every key, comments and quoting,
 * every error with its exact "file:line: message", config_conninfo and
 * config_describe.  Each test runs in its own temporary directory, which is
 * also the working directory (relative paths are made absolute against it).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "config.h"
#include "util.h"
#include "harness.h"

#define DEFAULT_LABELS "self-hosted,linux,x64,ubuntu-latest,ubuntu-24.04," \
	"ubuntu-22.04"

static char tmpdir[64];
static char oldcwd[PATH_MAX];
static char cwd[PATH_MAX];	/* tmpdir as getcwd() spells it */
static char *conf;		/* <cwd>/kiln.conf */

static void
setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln-test-config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_ptr_nonnull(getcwd(oldcwd, sizeof oldcwd));
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	conf = xasprintf("%s/kiln.conf", cwd);
}

static void
teardown(void)
{
	if (chdir(oldcwd) != 0)
		fprintf(stderr, "chdir %s failed\n", oldcwd);
	if (harness_rm_rf(tmpdir) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	free(conf);
	conf = NULL;
}

static void
write_conf(const char *text)
{
	int fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t n = strlen(text);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
	ck_assert_int_eq(close(fd), 0);
}

/* Load text as the config file; the test fails unless it loads. */
static void
load_ok(const char *text, struct kiln_config *cfg)
{
	char err[1024] = "";

	write_conf(text);
	ck_assert_msg(config_load(conf, cfg, err, sizeof err) == 0,
	    "config_load failed: %s", err);
	ck_assert_str_eq(cfg->path, conf);
}

static char *
in_cwd(const char *leaf)
{
	return xasprintf("%s/%s", cwd, leaf);
}

/* Every field at its default for state_dir <cwd>/kiln-state. */
static void
assert_defaults(const struct kiln_config *cfg)
{
	char *sd = in_cwd("kiln-state"), *p;

	ck_assert_str_eq(cfg->listen, "127.0.0.1:8420");
	ck_assert_str_eq(cfg->state_dir, sd);
	p = xasprintf("%s/admin.sock", sd);
	ck_assert_str_eq(cfg->admin_socket, p);
	free(p);
	p = xasprintf("%s/log.sock", sd);
	ck_assert_str_eq(cfg->log_socket, p);
	free(p);
	p = xasprintf("%s/work", sd);
	ck_assert_str_eq(cfg->work_dir, p);
	free(p);
	p = xasprintf("%s/toolcache", sd);
	ck_assert_str_eq(cfg->tool_cache, p);
	free(p);
	ck_assert_str_eq(cfg->python_versions_url, "https://raw.githubusercontent"
	    ".com/actions/python-versions/main/versions-manifest.json");
	ck_assert_str_eq(cfg->db_url, "");
	ck_assert_str_eq(cfg->pg_bindir, "");
	ck_assert_str_eq(cfg->pg_user, "kiln");
	ck_assert_int_eq(cfg->db_connections, 4);
	ck_assert_int_eq(cfg->worker_count, 2);
	ck_assert_int_eq(cfg->lease_seconds, 600);
	ck_assert_str_eq(cfg->worker_program, "");
	ck_assert_str_eq(cfg->labels, DEFAULT_LABELS);
	ck_assert_str_eq(cfg->log_level, "info");
	free(sd);
}

static void
assert_freed(const struct kiln_config *cfg)
{
	ck_assert_ptr_null(cfg->path);
	ck_assert_ptr_null(cfg->listen);
	ck_assert_ptr_null(cfg->state_dir);
	ck_assert_ptr_null(cfg->admin_socket);
	ck_assert_ptr_null(cfg->log_socket);
	ck_assert_ptr_null(cfg->db_url);
	ck_assert_ptr_null(cfg->pg_bindir);
	ck_assert_ptr_null(cfg->pg_user);
	ck_assert_ptr_null(cfg->worker_program);
	ck_assert_ptr_null(cfg->work_dir);
	ck_assert_ptr_null(cfg->labels);
	ck_assert_ptr_null(cfg->log_level);
}

/* ---- defaults ---- */

START_TEST(test_defaults_no_file)
{
	struct kiln_config cfg;
	char err[256] = "";

	ck_assert_int_eq(config_load(NULL, &cfg, err, sizeof err), 0);
	ck_assert_ptr_null(cfg.path);
	assert_defaults(&cfg);
	config_free(&cfg);
	assert_freed(&cfg);
	config_free(&cfg);	/* twice is harmless */
}
END_TEST

START_TEST(test_defaults_empty_file)
{
	struct kiln_config cfg;

	load_ok("", &cfg);
	assert_defaults(&cfg);
	config_free(&cfg);
}
END_TEST

START_TEST(test_comments_blank)
{
	struct kiln_config cfg;

	load_ok("# a comment\n"
	    "; another comment\n"
	    "\n"
	    "   \t  \n"
	    "  # indented comment = not a key\n"
	    "[server]\n"
	    "\t; count = 99\n"
	    "[ workers ]\n"
	    "[log]\r\n"
	    "\r\n"
	    "# no newline at the end", &cfg);
	assert_defaults(&cfg);
	config_free(&cfg);
}
END_TEST

/* ---- values ---- */

START_TEST(test_every_key)
{
	struct kiln_config cfg;

	load_ok("[server]\n"
	    "listen = [::1]:9000\n"
	    "state_dir=/srv/kiln\n"
	    "admin_socket =   /run/kiln/admin.sock  \n"
	    "\tlog_socket\t=\t/run/kiln/log.sock\n"
	    "[database]\n"
	    "url = postgresql://kiln@db.example/kiln\n"
	    "pg_bindir = /usr/lib/postgresql/16/bin\n"
	    "pg_user = postgres\n"
	    "connections = 64\n"
	    "[workers]\n"
	    "count = 0\n"
	    "program = /opt/kiln/kiln-worker\n"
	    "work_dir = /scratch/work\n"
	    "labels = self-hosted,gpu\n"
	    "[log]\n"
	    "level = debug\n", &cfg);
	ck_assert_str_eq(cfg.listen, "[::1]:9000");
	ck_assert_str_eq(cfg.state_dir, "/srv/kiln");
	ck_assert_str_eq(cfg.admin_socket, "/run/kiln/admin.sock");
	ck_assert_str_eq(cfg.log_socket, "/run/kiln/log.sock");
	ck_assert_str_eq(cfg.db_url, "postgresql://kiln@db.example/kiln");
	ck_assert_str_eq(cfg.pg_bindir, "/usr/lib/postgresql/16/bin");
	ck_assert_str_eq(cfg.pg_user, "postgres");
	ck_assert_int_eq(cfg.db_connections, 64);
	ck_assert_int_eq(cfg.worker_count, 0);
	ck_assert_str_eq(cfg.worker_program, "/opt/kiln/kiln-worker");
	ck_assert_str_eq(cfg.work_dir, "/scratch/work");
	ck_assert_str_eq(cfg.labels, "self-hosted,gpu");
	ck_assert_str_eq(cfg.log_level, "debug");
	config_free(&cfg);
}
END_TEST

START_TEST(test_int_bounds)
{
	struct kiln_config cfg;

	load_ok("[database]\nconnections = 1\n[workers]\ncount = 256\n", &cfg);
	ck_assert_int_eq(cfg.db_connections, 1);
	ck_assert_int_eq(cfg.worker_count, 256);
	config_free(&cfg);
}
END_TEST

START_TEST(test_enum_values)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	struct kiln_config cfg;
	size_t i;

	for (i = 0; i < nitems(levels); i++) {
		char *text = xasprintf("[log]\nlevel = %s\n", levels[i]);

		load_ok(text, &cfg);
		ck_assert_str_eq(cfg.log_level, levels[i]);
		config_free(&cfg);
		free(text);
	}
}
END_TEST

START_TEST(test_relative_paths)
{
	struct kiln_config cfg;
	char *p;

	load_ok("[server]\nstate_dir = state\nadmin_socket = ./a.sock\n"
	    "[workers]\nwork_dir = w/x\nprogram = bin/kw\n"
	    "[database]\npg_bindir = ./pg/bin\n", &cfg);
	p = in_cwd("state");
	ck_assert_str_eq(cfg.state_dir, p);
	free(p);
	p = in_cwd("a.sock");
	ck_assert_str_eq(cfg.admin_socket, p);
	free(p);
	p = in_cwd("state/log.sock");	/* default follows state_dir */
	ck_assert_str_eq(cfg.log_socket, p);
	free(p);
	p = in_cwd("w/x");
	ck_assert_str_eq(cfg.work_dir, p);
	free(p);
	p = in_cwd("bin/kw");
	ck_assert_str_eq(cfg.worker_program, p);
	free(p);
	p = in_cwd("pg/bin");
	ck_assert_str_eq(cfg.pg_bindir, p);
	free(p);
	config_free(&cfg);

	/* Defaults derived from an absolute state_dir. */
	load_ok("[server]\nstate_dir = /var/lib/kiln\n", &cfg);
	ck_assert_str_eq(cfg.state_dir, "/var/lib/kiln");
	ck_assert_str_eq(cfg.admin_socket, "/var/lib/kiln/admin.sock");
	ck_assert_str_eq(cfg.log_socket, "/var/lib/kiln/log.sock");
	ck_assert_str_eq(cfg.work_dir, "/var/lib/kiln/work");
	config_free(&cfg);
}
END_TEST

START_TEST(test_quoted_values)
{
	struct kiln_config cfg;

	load_ok("[server]\n"
	    "listen = \"\"\n"
	    "state_dir = \"/srv/with space\"\n"
	    "[workers]\n"
	    "labels = \"  a, b # not a comment ; nor this  \"\n"
	    "[database]\n"
	    "url = \"\n"
	    "pg_user = \"x\"y\"\n", &cfg);
	ck_assert_str_eq(cfg.listen, "");	/* disables the listener */
	ck_assert_str_eq(cfg.state_dir, "/srv/with space");
	ck_assert_str_eq(cfg.labels, "  a, b # not a comment ; nor this  ");
	ck_assert_str_eq(cfg.db_url, "\"");	/* a lone quote is kept */
	ck_assert_str_eq(cfg.pg_user, "x\"y");	/* one outer pair only */
	config_free(&cfg);
}
END_TEST

START_TEST(test_last_wins_and_empty_value)
{
	struct kiln_config cfg;

	load_ok("[workers]\ncount = 5\ncount = 7\n[server]\nlisten =\n"
	    "[workers]\nlabels=\n", &cfg);
	ck_assert_int_eq(cfg.worker_count, 7);
	ck_assert_str_eq(cfg.listen, "");
	ck_assert_str_eq(cfg.labels, "");
	config_free(&cfg);
}
END_TEST

/* ---- errors ---- */

struct err_vec {
	const char	*text;
	const char	*want;	/* after "<file>:" */
};

static const struct err_vec err_vecs[] = {
	/* Edge values first. */
	{ "=\n", "1: key \"\" outside of any [section]" },
	{ "[server]\n=\n", "2: unknown key \"\" in [server]" },
	{ "[]\n", "1: unknown section [] (known: server, database, workers, "
	  "log, secrets, schedules, actions, containers, web, admin, metrics, "
	  "github, cache, artifacts)" },
	{ "[\n", "1: malformed section header \"[\"" },
	{ "[workers]\ncount =\n", "2: workers.count: \"\" is empty (expected "
	  "an integer from 0 to 256)" },
	{ "[workers]\ncount = -1\n", "2: workers.count: \"-1\" is too small "
	  "(expected an integer from 0 to 256)" },
	{ "[workers]\ncount = 257\n", "2: workers.count: \"257\" is too large "
	  "(expected an integer from 0 to 256)" },
	{ "[database]\nconnections = 0\n", "2: database.connections: \"0\" is "
	  "too small (expected an integer from 1 to 64)" },
	{ "[database]\nconnections = 65\n", "2: database.connections: \"65\" "
	  "is too large (expected an integer from 1 to 64)" },
	{ "[workers]\nlease_seconds = 29\n", "2: workers.lease_seconds: "
	  "\"29\" is too small (expected an integer from 30 to 86400)" },
	{ "[workers]\ncount = 99999999999999999999\n", "2: workers.count: "
	  "\"99999999999999999999\" is too large (expected an integer from 0 "
	  "to 256)" },
	/* Each kind of error. */
	{ "[server]\nbogus = 1\n", "2: unknown key \"bogus\" in [server]" },
	{ "[workers]\nlisten = x\n", "2: unknown key \"listen\" in [workers]" },
	{ "[nope]\n", "1: unknown section [nope] (known: server, database, "
	  "workers, log, secrets, schedules, actions, containers, web, admin, "
	  "metrics, github, cache, artifacts)" },
	{ "[Server]\n", "1: unknown section [Server] (known: server, database, "
	  "workers, log, secrets, schedules, actions, containers, web, admin, "
	  "metrics, github, cache, artifacts)" },
	{ "listen = 1.2.3.4:1\n", "1: key \"listen\" outside of any "
	  "[section]" },
	{ "[workers]\ncount = abc\n", "2: workers.count: \"abc\" is not a "
	  "number (expected an integer from 0 to 256)" },
	{ "[workers]\ncount = 2 # two\n", "2: workers.count: \"2 # two\" is "
	  "not a number (expected an integer from 0 to 256)" },
	{ "[workers]\ncount = 1.5\n", "2: workers.count: \"1.5\" is not a "
	  "number (expected an integer from 0 to 256)" },
	{ "[log]\nlevel = verbose\n", "2: log.level: \"verbose\" is not one "
	  "of error|warn|info|debug" },
	{ "[log]\nlevel = INFO\n", "2: log.level: \"INFO\" is not one of "
	  "error|warn|info|debug" },
	{ "[log]\nlevel = inf\n", "2: log.level: \"inf\" is not one of "
	  "error|warn|info|debug" },
	{ "[log]\nlevel =\n", "2: log.level: \"\" is not one of "
	  "error|warn|info|debug" },
	{ "[server\n", "1: malformed section header \"[server\"" },
	{ "[server] x\n", "1: malformed section header \"[server] x\"" },
	{ "[server]\nlisten\n", "2: expected \"key = value\", got \"listen\"" },
	{ "[server]\n  state_dir  \n", "2: expected \"key = value\", got "
	  "\"state_dir\"" },
	/* Line numbers count comments, blank lines and CRLF lines. */
	{ "# c\n\n; c\r\n[server]\n\nbogus=1\n", "6: unknown key \"bogus\" in "
	  "[server]" },
	{ "[server]\nlisten = ok\n[log]\nlevel = debug\n[workers]\ncount = "
	  "x\n", "6: workers.count: \"x\" is not a number (expected an "
	  "integer from 0 to 256)" },
	/* run_as_pool: whole-file checks, named by file, not line. */
	{ "[workers]\nrun_as_pool = kiln-job1\n", " [workers] count = 2 but "
	  "run_as_pool names 1 account: each worker needs one of its own" },
	{ "[workers]\nrun_as_pool = a,b\nrun_as = c\n", " [workers] run_as "
	  "and run_as_pool are both set; keep one (run_as_pool isolates jobs "
	  "from each other, run_as does not)" },
	{ "[workers]\nrun_as_pool = a, Root\n", " [workers] run_as_pool: "
	  "\"Root\" is not an account name ([a-z_][a-z0-9_.-]*, at most 32)" },
	{ "[workers]\nrun_as_pool = a,b,a\n", " [workers] run_as_pool: "
	  "\"a\" is named twice" },
	{ "[workers]\nrun_as_pool = ,, \n", " [workers] run_as_pool: no "
	  "account named" },
	{ "[workers]\nrun_as_pool = a;b,c\n", " [workers] run_as_pool: "
	  "\"a;b\" is not an account name ([a-z_][a-z0-9_.-]*, at most 32)" },
};

START_TEST(test_errors)
{
	const struct err_vec *v = &err_vecs[_i];
	struct kiln_config cfg;
	char err[1024] = "", *want;

	write_conf(v->text);
	ck_assert_msg(config_load(conf, &cfg, err, sizeof err) == -1,
	    "vector %d loaded", _i);
	want = xasprintf("%s:%s", conf, v->want);
	ck_assert_str_eq(err, want);
	assert_freed(&cfg);
	free(want);
}
END_TEST

/* [workers] run_as_pool: the accounts, in order, spaces trimmed. */
START_TEST(test_run_as_pool)
{
	struct kiln_config cfg;
	char err[256], **names, big[CONFIG_MAX_POOL * 8 + 64];
	size_t n, i, off = 0;

	load_ok("[workers]\ncount = 3\nrun_as_pool =  kiln-job1 ,kiln-job2,"
	    "\t_k.3-x ,\n", &cfg);
	names = config_pool_names(cfg.run_as_pool, &n, err, sizeof err);
	ck_assert_ptr_nonnull(names);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(names[0], "kiln-job1");
	ck_assert_str_eq(names[1], "kiln-job2");
	ck_assert_str_eq(names[2], "_k.3-x");
	ck_assert_ptr_null(names[3]);
	config_pool_free(names);
	config_free(&cfg);
	/* count = 0 (workers on other hosts only) needs no account. */
	load_ok("[workers]\ncount = 0\nrun_as_pool = a\n", &cfg);
	config_free(&cfg);

	/* 33 characters; more accounts than CONFIG_MAX_POOL. */
	ck_assert_ptr_null(config_pool_names("abcdefghijklmnopqrstuvwxyz0123456",
	    &n, err, sizeof err));
	for (i = 0; i <= CONFIG_MAX_POOL; i++)
		off += (size_t)snprintf(big + off, sizeof big - off, "k%zu,", i);
	ck_assert_ptr_null(config_pool_names(big, &n, err, sizeof err));
	ck_assert_str_eq(err, "run_as_pool: more than 256 accounts");
	big[off - strlen("k256,")] = '\0';
	names = config_pool_names(big, &n, err, sizeof err);
	ck_assert_ptr_nonnull(names);
	ck_assert_uint_eq(n, CONFIG_MAX_POOL);
	config_pool_free(names);
}
END_TEST

START_TEST(test_error_long_line)
{
	struct kiln_config cfg;
	struct buf text = { 0 };
	char err[1024] = "", *want;
	size_t i;

	buf_add_str(&text, "[workers]\nlabels = ");
	for (i = 0; i < 4096; i++)
		buf_add_char(&text, 'a');
	buf_add_char(&text, '\n');
	write_conf(text.data);
	ck_assert_int_eq(config_load(conf, &cfg, err, sizeof err), -1);
	want = xasprintf("%s:2: line longer than 4096 bytes", conf);
	ck_assert_str_eq(err, want);
	assert_freed(&cfg);
	free(want);
	buf_free(&text);
}
END_TEST

START_TEST(test_error_missing_file)
{
	struct kiln_config cfg;
	char err[1024] = "", *path = in_cwd("absent.conf"), *want;

	ck_assert_int_eq(config_load(path, &cfg, err, sizeof err), -1);
	want = xasprintf("%s: %s", path, strerror(ENOENT));
	ck_assert_str_eq(err, want);
	assert_freed(&cfg);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_error_empty_state_dir)
{
	struct kiln_config cfg;
	char err[1024] = "", *want;

	write_conf("[server]\nstate_dir = \"\"\n");
	ck_assert_int_eq(config_load(conf, &cfg, err, sizeof err), -1);
	want = xasprintf("%s: server.state_dir must not be empty", conf);
	ck_assert_str_eq(err, want);
	assert_freed(&cfg);
	free(want);
}
END_TEST

START_TEST(test_error_small_buffer)
{
	struct kiln_config cfg;
	char err[32];
	size_t i;

	write_conf("[nope]\n");
	memset(err, 'Z', sizeof err);
	ck_assert_int_eq(config_load(conf, &cfg, err, 10), -1);
	ck_assert_uint_eq(strlen(err), 9);
	ck_assert_int_eq(strncmp(err, conf, 9), 0);
	for (i = 10; i < sizeof err; i++)
		ck_assert_int_eq(err[i], 'Z');
	assert_freed(&cfg);
}
END_TEST

/* ---- conninfo ---- */

/* The value of keyword in conninfo as libpq parses it (caller frees). */
static char *
conninfo_get(const char *conninfo, const char *keyword)
{
	PQconninfoOption *opts, *o;
	char *errmsg = NULL, *val = NULL;

	opts = PQconninfoParse(conninfo, &errmsg);
	ck_assert_msg(opts != NULL, "conninfo \"%s\" does not parse: %s",
	    conninfo, errmsg ? errmsg : "?");
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val != NULL)
			val = xstrdup(o->val);
	PQconninfoFree(opts);
	return val;
}

static void
assert_embedded_conninfo(const struct kiln_config *cfg)
{
	char *ci = config_conninfo(cfg), *dir, *v;

	dir = xasprintf("%s/pg/run", cfg->state_dir);
	v = conninfo_get(ci, "host");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, dir);
	free(v);
	v = conninfo_get(ci, "dbname");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, "kiln");
	free(v);
	v = conninfo_get(ci, "user");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, "kiln");
	free(v);
	free(ci);
	v = config_pg_socket_dir(cfg);
	ck_assert_str_eq(v, dir);
	free(v);
	free(dir);
}

START_TEST(test_conninfo_embedded)
{
	struct kiln_config cfg;

	load_ok("[server]\nstate_dir = /var/lib/kiln\n", &cfg);
	assert_embedded_conninfo(&cfg);
	config_free(&cfg);
	/* Characters that are special in a conninfo string. */
	load_ok("[server]\nstate_dir = \"/srv/my ci/it's a \\dir=x\"\n", &cfg);
	ck_assert_str_eq(cfg.state_dir, "/srv/my ci/it's a \\dir=x");
	assert_embedded_conninfo(&cfg);
	config_free(&cfg);
}
END_TEST

START_TEST(test_conninfo_url)
{
	static const char *const urls[] = {
		"postgresql://kiln@db.example/kiln",
		"host=/tmp dbname=other user=x",
	};
	struct kiln_config cfg;
	size_t i;

	for (i = 0; i < nitems(urls); i++) {
		char *text = xasprintf("[database]\nurl = %s\n", urls[i]), *ci;

		load_ok(text, &cfg);
		ci = config_conninfo(&cfg);
		ck_assert_str_eq(ci, urls[i]);
		free(ci);
		config_free(&cfg);
		free(text);
	}
}
END_TEST

/* ---- describe ---- */

static void
collect(const char *line, void *arg)
{
	struct buf *b = arg;

	ck_assert_ptr_null(strchr(line, '\n'));
	buf_add_str(b, line);
	buf_add_char(b, '\n');
}

struct key_vec {
	const char	*section;
	const char	*line;
};

static const struct key_vec describe_keys[] = {
	{ "server", "listen = 127.0.0.1:8420" },
	{ "server", "state_dir = ./kiln-state" },
	{ "server", "admin_socket = " },
	{ "server", "log_socket = " },
	{ "server", "webhook_queue_bytes = 268435456" },
	{ "server", "drain_seconds = 60" },
	{ "server", "max_connections = 1024" },
	{ "server", "request_timeout = 60" },
	{ "database", "url = " },
	{ "database", "pg_bindir = " },
	{ "database", "pg_user = kiln" },
	{ "database", "connections = 4" },
	{ "workers", "count = 2" },
	{ "workers", "program = " },
	{ "workers", "work_dir = " },
	{ "workers", "labels = " DEFAULT_LABELS },
	{ "workers", "run_as = " },
	{ "workers", "tool_cache = " },
	{ "workers", "retry_lost = 0" },
	{ "workers", "lease_seconds = 600" },
	{ "workers", "park_seconds = 10" },
	{ "workers", "run_as_pool = " },
	{ "log", "level = info" },
	{ "log", "max_job_bytes = 1073741824" },
	{ "secrets", "key_file = " },
	{ "schedules", "catch_up = latest" },
	{ "actions", "python_versions_url = https://raw.githubusercontent.com/"
	    "actions/python-versions/main/versions-manifest.json" },
	{ "actions", "base_url = https://github.com" },
	{ "actions", "keep_days = 7" },
	{ "actions", "allow = *" },
	{ "containers", "engine = auto" },
	{ "containers", "engine_options = " },
	{ "containers", "run_options = " },
	{ "web", "access = token" },
	{ "web", "session_hours = 12" },
	{ "admin", "listen = " },
	{ "admin", "tls_cert = " },
	{ "admin", "tls_key = " },
	{ "metrics", "access = public" },
	{ "github", "api_url = https://api.github.com" },
	{ "github", "token_file = " },
	{ "github", "public_url = " },
	{ "github", "max_in_flight = 10" },
	{ "github", "keep_hours = 168" },
	{ "github", "app_id = " },
	{ "github", "private_key_file = " },
	{ "cache", "dir = " },
	{ "cache", "max_bytes = 10737418240" },
	{ "artifacts", "dir = " },
	{ "artifacts", "retention_days = 90" },
};

START_TEST(test_describe)
{
	struct buf out = { 0 };
	struct kiln_config cfg;
	char *line, *next, section[64] = "", prev[1024] = "";
	size_t seen = 0, sections = 0, keys = 0;

	config_describe(collect, &out);
	ck_assert_ptr_nonnull(out.data);
	/* Every key, in its section, right after a "# help" line. */
	for (line = out.data; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		ck_assert_ptr_nonnull(next);
		*next++ = '\0';
		if (line[0] == '[') {
			snprintf(section, sizeof section, "%.*s",
			    (int)strlen(line) - 2, line + 1);
			sections++;
		} else if (line[0] != '#') {
			ck_assert_uint_lt(seen, nitems(describe_keys));
			ck_assert_str_eq(section, describe_keys[seen].section);
			ck_assert_str_eq(line, describe_keys[seen].line);
			ck_assert_msg(prev[0] == '#' && prev[1] == ' ' &&
			    strlen(prev) > 10, "no help before \"%s\"", line);
			seen++;
			keys++;
		}
		snprintf(prev, sizeof prev, "%s", line);
	}
	ck_assert_uint_eq(seen, nitems(describe_keys));
	ck_assert_uint_eq(sections, 14);
	ck_assert_uint_eq(keys, nitems(describe_keys));
	buf_free(&out);

	/* The output is itself a valid config file meaning the defaults. */
	config_describe(collect, &out);
	load_ok(out.data, &cfg);
	assert_defaults(&cfg);
	config_free(&cfg);
	buf_free(&out);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("defaults");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults_no_file);
	tcase_add_test(tc, test_defaults_empty_file);
	tcase_add_test(tc, test_comments_blank);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_int_bounds);
	tcase_add_test(tc, test_enum_values);
	tcase_add_test(tc, test_relative_paths);
	tcase_add_test(tc, test_quoted_values);
	tcase_add_test(tc, test_last_wins_and_empty_value);
	tcase_add_test(tc, test_run_as_pool);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_errors, 0, (int)nitems(err_vecs));
	tcase_add_test(tc, test_error_long_line);
	tcase_add_test(tc, test_error_missing_file);
	tcase_add_test(tc, test_error_empty_state_dir);
	tcase_add_test(tc, test_error_small_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conninfo_embedded);
	tcase_add_test(tc, test_conninfo_url);
	tcase_add_test(tc, test_describe);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
