/*
 * Unit tests for common/migrate and the state-machine functions of
 * sql/002_state.sql, on a real PostgreSQL.
 *
 * main() makes a temporary cluster: a 0755 directory, initdb and postgres
 * run as an unprivileged account when we are root ($KILN_TEST_PG_USER, else
 * "kiln" if it exists, else "nobody"), listening only on a Unix socket in
 * that directory.  Each test makes its own database.  The server is stopped
 * (SIGINT, waitpid) by main() after the suite, by an atexit() handler of the
 * main process on any other exit, and by its parent-death signal should the
 * test process be killed.
 *
 * Without a PostgreSQL server binary the program prints
 * "SKIPPED: no PostgreSQL server" and exits 77.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "embed.h"
#include "migrate.h"
#include "util.h"
#include "harness.h"

#define PG_INITDB_MS	120000
#define PG_START_MS	60000
#define PG_STOP_MS	30000
#define CHILD_MS	60000
#define TCASE_TIMEOUT	180
#define CONCURRENT_ROUNDS 3
#define CONCURRENT_PROCS 3
#define LOCK_KEY	"1802071150"	/* migrate.c's advisory lock */

static pid_t main_pid;
static char pg_tmp[64];		/* the cluster's directory; "" if none */
static char *pg_bindir, *pg_data, *pg_sock, *pg_logfile;
static pid_t pg_pid = -1;
static int pg_drop;		/* run initdb/postgres as pg_uid:pg_gid */
static uid_t pg_uid;
static gid_t pg_gid;
static const char *pg_user_name = "(self)";

/* ---- the cluster ---- */

/* Newest /usr/lib/postgresql/NN/bin holding postgres and initdb, or NULL. */
static char *
find_bindir(void)
{
	DIR *d = opendir("/usr/lib/postgresql");
	struct dirent *e;
	long best = -1;
	char *bin = NULL;

	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		char *end, *pg, *init;
		long v = strtol(e->d_name, &end, 10);

		if (end == e->d_name || *end != '\0' || v <= best)
			continue;
		pg = xasprintf("/usr/lib/postgresql/%s/bin/postgres", e->d_name);
		init = xasprintf("/usr/lib/postgresql/%s/bin/initdb", e->d_name);
		if (access(pg, X_OK) == 0 && access(init, X_OK) == 0) {
			best = v;
			free(bin);
			bin = xasprintf("/usr/lib/postgresql/%s/bin", e->d_name);
		}
		free(pg);
		free(init);
	}
	closedir(d);
	return bin;
}

static void
print_file(const char *path)
{
	size_t len = 0;
	char *text = path ? file_read_all(path, 1 << 20, &len) : NULL;

	if (path == NULL || text == NULL)
		return;
	fprintf(stderr, "---- %s ----\n%s---- end ----\n", path, text);
	free(text);
}

/* fork + exec argv as the cluster's account, output appended to logfile. */
static pid_t
spawn(char *const argv[])
{
	pid_t parent = getpid(), pid;
	int fd;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		return pid;
	fd = open(pg_logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		_exit(126);
	close(fd);
	if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(fd, STDIN_FILENO) == -1)
		_exit(126);
	close(fd);
	if (chdir(pg_tmp) == -1)
		_exit(126);
	setpgid(0, 0);		/* not killed with the test's process group */
	if (pg_drop && (setgroups(0, NULL) == -1 || setgid(pg_gid) == -1 ||
	    setuid(pg_uid) == -1)) {
		fprintf(stderr, "dropping to %s: %s\n", pg_user_name,
		    strerror(errno));
		_exit(126);
	}
	/* After setuid, which clears it: stop when the test process dies. */
	if (prctl(PR_SET_PDEATHSIG, SIGINT) == -1 || getppid() != parent)
		_exit(126);
	execv(argv[0], argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Wait for pid at most ms; 1 and *status when it exited, else 0. */
static int
wait_exit(pid_t pid, int64_t ms, int *status)
{
	int64_t deadline = now_ms() + ms;

	for (;;) {
		pid_t rc = waitpid(pid, status, WNOHANG);

		if (rc == pid)
			return 1;
		if (rc == -1 && errno != EINTR)
			return 1;	/* not our child (any more) */
		if (now_ms() >= deadline)
			return 0;
		poll(NULL, 0, 10);
	}
}

static void
pg_stop(void)
{
	int status;

	if (getpid() != main_pid)
		return;		/* a forked test process, not the owner */
	if (pg_pid > 0) {
		kill(pg_pid, SIGINT);	/* fast shutdown */
		if (!wait_exit(pg_pid, PG_STOP_MS, &status)) {
			fprintf(stderr, "postgres did not stop; killing it\n");
			kill(pg_pid, SIGKILL);
			wait_exit(pg_pid, PG_STOP_MS, &status);
		}
		pg_pid = -1;
	}
	if (pg_tmp[0] != '\0') {
		if (harness_rm_rf(pg_tmp) != 0)
			fprintf(stderr, "could not remove %s\n", pg_tmp);
		pg_tmp[0] = '\0';
	}
}

static char *
conninfo_for(const char *db)
{
	return xasprintf("host='%s' dbname='%s' user=kiln", pg_sock, db);
}

static int
pg_start(void)
{
	char *initdb = xasprintf("%s/initdb", pg_bindir);
	char *postgres = xasprintf("%s/postgres", pg_bindir);
	char *init_argv[] = { initdb, "-D", NULL, "-U", "kiln", "-A", "trust",
	    "-E", "UTF8", "--locale=C", "--no-sync", NULL };
	char *pg_argv[] = { postgres, "-D", NULL, "-k", NULL,
	    "-c", "listen_addresses=", "-c", "fsync=off",
	    "-c", "synchronous_commit=off", "-c", "max_connections=40", NULL };
	char *ci = NULL;
	int64_t deadline;
	pid_t pid;
	int status, ok = 0;

	snprintf(pg_tmp, sizeof pg_tmp, "/tmp/kiln-test-migrate.XXXXXX");
	if (mkdtemp(pg_tmp) == NULL) {
		pg_tmp[0] = '\0';
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		goto out;
	}
	pg_data = xasprintf("%s/data", pg_tmp);
	pg_sock = xasprintf("%s/run", pg_tmp);
	pg_logfile = xasprintf("%s/postgres.log", pg_tmp);
	if (chmod(pg_tmp, 0755) == -1 || mkdir(pg_data, 0700) == -1 ||
	    mkdir(pg_sock, 0755) == -1 ||
	    (pg_drop && (chown(pg_data, pg_uid, pg_gid) == -1 ||
	    chown(pg_sock, pg_uid, pg_gid) == -1))) {
		fprintf(stderr, "preparing %s: %s\n", pg_tmp, strerror(errno));
		goto out;
	}
	init_argv[2] = pg_data;
	pg_argv[2] = pg_data;
	pg_argv[4] = pg_sock;

	if ((pid = spawn(init_argv)) == -1) {
		fprintf(stderr, "fork: %s\n", strerror(errno));
		goto out;
	}
	if (!wait_exit(pid, PG_INITDB_MS, &status)) {
		kill(pid, SIGKILL);
		wait_exit(pid, 5000, &status);
		fprintf(stderr, "initdb took too long\n");
		print_file(pg_logfile);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "initdb failed (status %d)\n", status);
		print_file(pg_logfile);
		goto out;
	}

	if ((pg_pid = spawn(pg_argv)) == -1) {
		fprintf(stderr, "fork: %s\n", strerror(errno));
		goto out;
	}
	ci = conninfo_for("postgres");
	deadline = now_ms() + PG_START_MS;
	for (;;) {
		if (PQping(ci) == PQPING_OK) {
			ok = 1;
			break;
		}
		if (waitpid(pg_pid, &status, WNOHANG) == pg_pid) {
			pg_pid = -1;
			fprintf(stderr, "postgres exited (status %d)\n", status);
			print_file(pg_logfile);
			break;
		}
		if (now_ms() >= deadline) {
			fprintf(stderr, "postgres did not answer in %d ms\n",
			    PG_START_MS);
			print_file(pg_logfile);
			break;
		}
		poll(NULL, 0, 50);
	}
out:
	free(ci);
	free(initdb);
	free(postgres);
	return ok ? 0 : -1;
}

static void
pg_choose_user(void)
{
	const char *name = getenv("KILN_TEST_PG_USER");
	struct passwd *pw;

	if (getuid() != 0)
		return;		/* run the cluster as ourselves */
	if (name == NULL || *name == '\0')
		name = getpwnam("kiln") != NULL ? "kiln" : "nobody";
	if ((pw = getpwnam(name)) == NULL) {
		fprintf(stderr, "no such user: %s\n", name);
		exit(1);
	}
	pg_drop = 1;
	pg_uid = pw->pw_uid;
	pg_gid = pw->pw_gid;
	pg_user_name = name;
}

/* ---- SQL helpers ---- */

/* NOTICEs ("... already exists, skipping") are not test output. */
static void
quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static PGconn *
db_connect(const char *db)
{
	char *ci = conninfo_for(db);
	PGconn *c = PQconnectdb(ci);

	free(ci);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect to %s: %s", db,
	    PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	return c;
}

/* A fresh, empty database; caller frees the name. */
static char *
db_new(void)
{
	static int seq;
	char *name = xasprintf("kt_%ld_%d", (long)getpid(), ++seq);
	char *sql = xasprintf("CREATE DATABASE %s", name);
	PGconn *c = db_connect("postgres");
	PGresult *r = PQexec(c, sql);

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	free(sql);
	return name;
}

static void KILN_PRINTF(3, 4)
sql_exec_at(int line, PGconn *c, const char *fmt, ...)
{
	va_list ap;
	char *sql;
	PGresult *r;

	va_start(ap, fmt);
	sql = xvasprintf(fmt, ap);
	va_end(ap);
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK, "line %d: %s: %s", line, sql,
	    PQerrorMessage(c));
	PQclear(r);
	free(sql);
}
#define sql_exec(c, ...) sql_exec_at(__LINE__, (c), __VA_ARGS__)

/* The single value of a one-row, one-column query; "NULL" for null. */
static char * KILN_PRINTF(3, 4)
sql_value_at(int line, PGconn *c, const char *fmt, ...)
{
	va_list ap;
	char *sql, *v;
	PGresult *r;

	va_start(ap, fmt);
	sql = xvasprintf(fmt, ap);
	va_end(ap);
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "line %d: %s: %s",
	    line, sql, PQerrorMessage(c));
	ck_assert_msg(PQntuples(r) == 1 && PQnfields(r) == 1, "line %d: %s: "
	    "%d rows, %d columns", line, sql, PQntuples(r), PQnfields(r));
	v = xstrdup(PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
	PQclear(r);
	free(sql);
	return v;
}
#define sql_value(c, ...) sql_value_at(__LINE__, (c), __VA_ARGS__)

static void KILN_PRINTF(4, 5)
expect_at(int line, PGconn *c, const char *want, const char *fmt, ...)
{
	va_list ap;
	char *sql, *v;

	va_start(ap, fmt);
	sql = xvasprintf(fmt, ap);
	va_end(ap);
	v = sql_value_at(line, c, "%s", sql);
	ck_assert_msg(strcmp(v, want) == 0, "line %d: %s: got \"%s\", want "
	    "\"%s\"", line, sql, v, want);
	free(v);
	free(sql);
}
#define expect(c, want, ...) expect_at(__LINE__, (c), (want), __VA_ARGS__)

static long
sql_id_at(int line, PGconn *c, const char *sql)
{
	char *v = sql_value_at(line, c, "%s", sql), *end;
	long id = strtol(v, &end, 10);

	ck_assert_msg(*end == '\0' && id > 0, "line %d: %s: id \"%s\"", line,
	    sql, v);
	free(v);
	return id;
}
#define sql_id(c, sql) sql_id_at(__LINE__, (c), (sql))

/* ---- the embedded migrations ---- */

static size_t
embed_count(void)
{
	size_t n = 0;

	while (embed_sql[n].name != NULL)
		n++;
	return n;
}

static int
is_sql_file(const struct dirent *e)
{
	return e->d_name[0] != '.' && str_has_suffix(e->d_name, ".sql");
}

/* The sql directory's *.sql ($KILN_SRCDIR, else the working directory). */
static size_t
sql_file_count(void)
{
	const char *src = getenv("KILN_SRCDIR");
	char *dir = xasprintf("%s/sql", src ? src : ".");
	struct dirent **names;
	int n, i;

	n = scandir(dir, &names, is_sql_file, alphasort);
	ck_assert_msg(n >= 0, "%s: %s (run from the source tree or set "
	    "KILN_SRCDIR)", dir, strerror(errno));
	/* Same names, same order, as compiled in. */
	ck_assert_uint_eq((size_t)n, embed_count());
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(names[i]->d_name, embed_sql[i].name);
		free(names[i]);
	}
	free(names);
	free(dir);
	return (size_t)n;
}

/* schema_migrations holds each embedded migration exactly once. */
static void
expect_recorded_once(PGconn *c)
{
	size_t n = embed_count(), i;
	PGresult *r;

	r = PQexec(c, "SELECT name, count(*) OVER (PARTITION BY name) "
	    "FROM schema_migrations ORDER BY name");
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s",
	    PQerrorMessage(c));
	ck_assert_int_eq(PQntuples(r), (int)n);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(PQgetvalue(r, (int)i, 0), embed_sql[i].name);
		ck_assert_str_eq(PQgetvalue(r, (int)i, 1), "1");
	}
	PQclear(r);
}

static void
expect_lock_free(const char *db)
{
	PGconn *c = db_connect(db);

	expect(c, "t", "SELECT pg_try_advisory_lock(" LOCK_KEY ")");
	sql_exec(c, "SELECT pg_advisory_unlock(" LOCK_KEY ")");
	PQfinish(c);
}

static PGconn *
db_new_migrated(char **namep)
{
	char err[1024] = "", *name = db_new();
	PGconn *c = db_connect(name);
	int n = migrate_apply(c, err, sizeof err);

	ck_assert_msg(n == (int)embed_count(), "migrate_apply: %d: %s", n, err);
	if (namep != NULL)
		*namep = name;
	else
		free(name);
	return c;
}

/* ---- migrate_apply ---- */

START_TEST(test_apply_fresh)
{
	static const char *const tables[] = { "repositories", "deliveries",
	    "events", "runs", "jobs", "steps", "schema_migrations" };
	static const char *const funcs[] = { "kiln_release",
	    "kiln_job_complete", "kiln_reap", "kiln_worker_lost" };
	size_t nfiles = sql_file_count(), i;
	char err[1024] = "", *db = db_new();
	PGconn *c = db_connect(db);
	int n;

	ck_assert_uint_ge(nfiles, 2);
	n = migrate_apply(c, err, sizeof err);
	ck_assert_msg(n == (int)nfiles, "applied %d of %zu: %s", n, nfiles, err);
	ck_assert_str_eq(err, "");
	expect_recorded_once(c);
	for (i = 0; i < nitems(tables); i++)
		expect(c, "t", "SELECT to_regclass('public.%s') IS NOT NULL",
		    tables[i]);
	for (i = 0; i < nitems(funcs); i++)
		expect(c, "1", "SELECT count(*) FROM pg_proc p JOIN pg_namespace "
		    "s ON s.oid = p.pronamespace WHERE s.nspname = 'public' AND "
		    "p.proname = '%s'", funcs[i]);
	/* The events table has its planner-lease columns. */
	expect(c, "2", "SELECT count(*) FROM information_schema.columns WHERE "
	    "table_name = 'events' AND column_name IN ('lease_until', "
	    "'attempts')");
	expect_lock_free(db);

	/* Again: nothing to do, nothing recorded twice. */
	n = migrate_apply(c, err, sizeof err);
	ck_assert_msg(n == 0, "second apply: %d: %s", n, err);
	expect_recorded_once(c);
	/* And from a new session too. */
	PQfinish(c);
	c = db_connect(db);
	ck_assert_int_eq(migrate_apply(c, err, sizeof err), 0);
	expect_recorded_once(c);
	expect_lock_free(db);
	PQfinish(c);
	free(db);
}
END_TEST

START_TEST(test_apply_failure_rolls_back)
{
	char err[1024] = "", *db = db_new();
	PGconn *c = db_connect(db);
	int n;

	/* A conflicting table makes 001 fail half-way. */
	sql_exec(c, "CREATE TABLE deliveries (x int)");
	n = migrate_apply(c, err, sizeof err);
	ck_assert_int_eq(n, -1);
	ck_assert_msg(strstr(err, "migration 001_schema.sql") != NULL, "err: %s",
	    err);
	ck_assert_msg(strstr(err, "already exists") != NULL, "err: %s", err);
	/* Nothing of 001 remains, nothing was recorded, the lock is free. */
	expect(c, "0", "SELECT count(*) FROM schema_migrations");
	expect(c, "f", "SELECT to_regclass('public.repositories') IS NOT NULL");
	expect(c, "0", "SELECT count(*) FROM information_schema.columns WHERE "
	    "table_name = 'deliveries' AND column_name = 'event'");
	expect_lock_free(db);
	/* The connection is usable, and once the conflict is gone it works. */
	sql_exec(c, "DROP TABLE deliveries");
	err[0] = '\0';
	n = migrate_apply(c, err, sizeof err);
	ck_assert_msg(n == (int)embed_count(), "retry: %d: %s", n, err);
	expect_recorded_once(c);
	PQfinish(c);
	free(db);
}
END_TEST

struct child_result {
	int	n;
	char	err[1000];
};

/* A child: connect, say ready, wait for the start (EOF), migrate, report. */
static void __attribute__((noreturn))
concurrent_child(const char *db, int ready_fd, int go_fd, int result_fd)
{
	struct child_result res = { .n = -2 };
	char *ci = conninfo_for(db), c;
	PGconn *conn = PQconnectdb(ci);
	ssize_t rd;

	free(ci);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(res.err, sizeof res.err, "connect: %s",
		    PQerrorMessage(conn));
	} else {
		PQsetNoticeProcessor(conn, quiet_notice, NULL);
		if (write(ready_fd, "r", 1) != 1)
			_exit(2);
		do
			rd = read(go_fd, &c, 1);
		while (rd == -1 && errno == EINTR);
		res.n = migrate_apply(conn, res.err, sizeof res.err);
	}
	PQfinish(conn);
	if (write(result_fd, &res, sizeof res) != (ssize_t)sizeof res)
		_exit(3);
	_exit(0);
}

/* Read exactly n bytes from fd before deadline; 0 or -1. */
static int
read_full(int fd, void *p, size_t n, int64_t deadline)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t r;

		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		r = read(fd, (char *)p + got, n - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

START_TEST(test_apply_concurrent)
{
	size_t nfiles = sql_file_count();
	int round;

	for (round = 0; round < CONCURRENT_ROUNDS; round++) {
		struct child_result res[CONCURRENT_PROCS];
		pid_t pids[CONCURRENT_PROCS];
		int ready[2], go[2], result[2], i, total = 0, most = 0;
		int64_t deadline = now_ms() + CHILD_MS;
		char *db = db_new(), c;
		PGconn *conn;

		ck_assert_int_eq(pipe(ready), 0);
		ck_assert_int_eq(pipe(go), 0);
		ck_assert_int_eq(pipe(result), 0);
		fflush(stdout);
		fflush(stderr);
		for (i = 0; i < CONCURRENT_PROCS; i++) {
			pids[i] = fork();
			ck_assert_int_ge(pids[i], 0);
			if (pids[i] == 0) {
				close(ready[0]);
				close(go[1]);
				close(result[0]);
				concurrent_child(db, ready[1], go[0], result[1]);
			}
		}
		close(ready[1]);
		close(go[0]);
		close(result[1]);
		/* All connected: then start them at once (EOF on go). */
		for (i = 0; i < CONCURRENT_PROCS; i++)
			if (read_full(ready[0], &c, 1, deadline) == -1)
				break;
		close(go[1]);
		for (i = 0; i < CONCURRENT_PROCS; i++)
			if (read_full(result[0], &res[i], sizeof res[i],
			    deadline) == -1)
				break;
		close(ready[0]);
		close(result[0]);
		for (int k = 0; k < CONCURRENT_PROCS; k++) {
			int status;

			if (!wait_exit(pids[k], deadline - now_ms() + 1000,
			    &status)) {
				kill(pids[k], SIGKILL);
				wait_exit(pids[k], 5000, &status);
			}
		}
		ck_assert_msg(i == CONCURRENT_PROCS, "round %d: only %d of %d "
		    "children reported", round, i, CONCURRENT_PROCS);
		for (i = 0; i < CONCURRENT_PROCS; i++) {
			ck_assert_msg(res[i].n >= 0, "round %d child %d: %d: %s",
			    round, i, res[i].n, res[i].err);
			ck_assert_str_eq(res[i].err, "");
			total += res[i].n;
			if (res[i].n > most)
				most = res[i].n;
		}
		/* One applied everything, the others found nothing to do. */
		ck_assert_int_eq(total, (int)nfiles);
		ck_assert_int_eq(most, (int)nfiles);
		conn = db_connect(db);
		expect_recorded_once(conn);
		PQfinish(conn);
		expect_lock_free(db);
		free(db);
	}
}
END_TEST

/* ---- the job state machine ---- */

struct world {
	PGconn	*c;
	long	 repo, event;
};

static void
world_new(struct world *w)
{
	w->c = db_new_migrated(NULL);
	w->repo = sql_id(w->c, "INSERT INTO repositories (full_name, clone_url, "
	    "secret) VALUES ('octo/hello', 'file:///nonexistent', 's') "
	    "RETURNING id");
	w->event = 0;
	{
		char *sql = xasprintf("INSERT INTO events (repository_id, event, "
		    "ref, sha, payload) VALUES (%ld, 'push', 'refs/heads/main', "
		    "'abc', '{}') RETURNING id", w->repo);

		w->event = sql_id(w->c, sql);
		free(sql);
	}
}

static long
run_new(struct world *w)
{
	char *sql = xasprintf("INSERT INTO runs (event_id, repository_id, name, "
	    "path, event, head_sha, ref, workflow_source, status, started_at) "
	    "VALUES (%ld, %ld, 'ci', '.github/workflows/ci.yml', 'push', 'abc', "
	    "'refs/heads/main', 'on: push', 'in_progress', now()) RETURNING id",
	    w->event, w->repo);
	long id = sql_id(w->c, sql);

	free(sql);
	return id;
}

/* A job of run: status queued or waiting, needs a SQL array literal. */
static long
job_new(struct world *w, long run, const char *key, const char *status,
    const char *needs)
{
	char *sql = xasprintf("INSERT INTO jobs (run_id, job_key, name, needs, "
	    "status) VALUES (%ld, '%s', '%s', '%s', '%s') RETURNING id", run,
	    key, key, needs, status);
	long id = sql_id(w->c, sql);

	free(sql);
	return id;
}

/* What a worker does when it claims a job. */
static void
job_claim(struct world *w, long job, const char *worker, const char *lease)
{
	sql_exec(w->c, "UPDATE jobs SET status = 'in_progress', worker = '%s', "
	    "started_at = now(), lease_until = now() + interval '%s' WHERE id "
	    "= %ld AND status = 'queued'", worker, lease, job);
	expect(w->c, "in_progress", "SELECT status FROM jobs WHERE id = %ld",
	    job);
}

static void
job_complete(struct world *w, long job, const char *conclusion)
{
	sql_exec(w->c, "SELECT kiln_job_complete(%ld, '%s')", job, conclusion);
}

static void
expect_job(struct world *w, long job, const char *status,
    const char *conclusion)
{
	expect(w->c, status, "SELECT status FROM jobs WHERE id = %ld", job);
	expect(w->c, conclusion, "SELECT coalesce(conclusion, 'NULL') FROM jobs "
	    "WHERE id = %ld", job);
}

static void
expect_run(struct world *w, long run, const char *status,
    const char *conclusion)
{
	expect(w->c, status, "SELECT status FROM runs WHERE id = %ld", run);
	expect(w->c, conclusion, "SELECT coalesce(conclusion, 'NULL') FROM runs "
	    "WHERE id = %ld", run);
	expect(w->c, strcmp(status, "completed") == 0 ? "t" : "f",
	    "SELECT completed_at IS NOT NULL FROM runs WHERE id = %ld", run);
}

START_TEST(test_needs_success)
{
	struct world w;
	long run, a, b;

	world_new(&w);
	run = run_new(&w);
	a = job_new(&w, run, "a", "queued", "{}");
	b = job_new(&w, run, "b", "waiting", "{a}");
	sql_exec(w.c, "INSERT INTO steps (job_id, number, name, status, "
	    "conclusion, outcome) VALUES (%ld, 1, 's1', 'completed', 'success', "
	    "'success'), (%ld, 2, 's2', 'in_progress', NULL, NULL), (%ld, 3, "
	    "'s3', 'queued', NULL, NULL)", a, a, a);
	job_claim(&w, a, "w1", "5 minutes");

	job_complete(&w, a, "success");
	expect_job(&w, a, "completed", "success");
	expect(w.c, "t", "SELECT lease_until IS NULL AND completed_at IS NOT "
	    "NULL FROM jobs WHERE id = %ld", a);
	/* Steps: done stays, running takes the job's conclusion, rest skip. */
	expect(w.c, "completed/success/success", "SELECT status || '/' || "
	    "conclusion || '/' || outcome FROM steps WHERE job_id = %ld AND "
	    "number = 1", a);
	expect(w.c, "completed/success/success", "SELECT status || '/' || "
	    "conclusion || '/' || outcome FROM steps WHERE job_id = %ld AND "
	    "number = 2", a);
	expect(w.c, "completed/skipped/skipped", "SELECT status || '/' || "
	    "conclusion || '/' || outcome FROM steps WHERE job_id = %ld AND "
	    "number = 3", a);
	expect_job(&w, b, "queued", "NULL");
	expect_run(&w, run, "in_progress", "NULL");

	job_claim(&w, b, "w2", "5 minutes");
	job_complete(&w, b, "success");
	expect_job(&w, b, "completed", "success");
	expect_run(&w, run, "completed", "success");

	/* Completing a completed job changes nothing. */
	job_complete(&w, b, "failure");
	expect_job(&w, b, "completed", "success");
	expect_run(&w, run, "completed", "success");
	PQfinish(w.c);
}
END_TEST

START_TEST(test_needs_failure)
{
	struct world w;
	long run, a, b;

	world_new(&w);
	run = run_new(&w);
	a = job_new(&w, run, "a", "queued", "{}");
	b = job_new(&w, run, "b", "waiting", "{a}");
	job_claim(&w, a, "w1", "5 minutes");
	job_complete(&w, a, "failure");
	expect_job(&w, a, "completed", "failure");
	/* Released whatever the conclusion: the worker decides to skip it. */
	expect_job(&w, b, "queued", "NULL");
	expect_run(&w, run, "in_progress", "NULL");
	job_complete(&w, b, "skipped");
	expect_job(&w, b, "completed", "skipped");
	expect_run(&w, run, "completed", "failure");
	PQfinish(w.c);
}
END_TEST

START_TEST(test_needs_diamond)
{
	struct world w;
	long run, a, b, c, d;

	world_new(&w);
	run = run_new(&w);
	a = job_new(&w, run, "a", "queued", "{}");
	b = job_new(&w, run, "b", "waiting", "{a}");
	c = job_new(&w, run, "c", "waiting", "{a}");
	d = job_new(&w, run, "d", "waiting", "{b,c}");
	job_complete(&w, a, "success");
	expect_job(&w, b, "queued", "NULL");
	expect_job(&w, c, "queued", "NULL");
	expect_job(&w, d, "waiting", "NULL");
	job_complete(&w, b, "success");
	expect_job(&w, d, "waiting", "NULL");	/* c not done yet */
	expect_run(&w, run, "in_progress", "NULL");
	job_complete(&w, c, "success");
	expect_job(&w, d, "queued", "NULL");
	job_complete(&w, d, "success");
	expect_run(&w, run, "completed", "success");
	PQfinish(w.c);
}
END_TEST

START_TEST(test_run_conclusions)
{
	static const struct {
		const char *jobs[2];	/* conclusions; NULL: no second job */
		const char *want;
	} vecs[] = {
		{ { "skipped", NULL }, "skipped" },
		{ { "skipped", "skipped" }, "skipped" },
		{ { "success", "skipped" }, "success" },
		{ { "cancelled", "success" }, "cancelled" },
		{ { "timed_out", "success" }, "failure" },
		{ { "cancelled", "failure" }, "failure" },
	};
	struct world w;
	size_t i;

	world_new(&w);
	for (i = 0; i < nitems(vecs); i++) {
		long run = run_new(&w), j1, j2 = 0;

		j1 = job_new(&w, run, "x", "queued", "{}");
		if (vecs[i].jobs[1] != NULL)
			j2 = job_new(&w, run, "y", "queued", "{}");
		job_complete(&w, j1, vecs[i].jobs[0]);
		if (j2 != 0) {
			expect_run(&w, run, "in_progress", "NULL");
			job_complete(&w, j2, vecs[i].jobs[1]);
		}
		expect_run(&w, run, "completed", vecs[i].want);
	}
	PQfinish(w.c);
}
END_TEST

START_TEST(test_reap_jobs)
{
	struct world w;
	long run, c, d, e;

	world_new(&w);
	run = run_new(&w);
	c = job_new(&w, run, "c", "queued", "{}");
	d = job_new(&w, run, "d", "queued", "{}");
	e = job_new(&w, run, "e", "waiting", "{c}");
	job_claim(&w, c, "w1", "5 minutes");
	job_claim(&w, d, "w2", "10 minutes");
	/* c's worker stopped renewing: its lease is in the past. */
	sql_exec(w.c, "UPDATE jobs SET lease_until = now() - interval "
	    "'1 second' WHERE id = %ld", c);

	expect(w.c, "1", "SELECT kiln_reap()");
	expect_job(&w, c, "completed", "failure");
	expect_job(&w, d, "in_progress", "NULL");	/* lease still valid */
	expect_job(&w, e, "queued", "NULL");
	expect_run(&w, run, "in_progress", "NULL");
	expect(w.c, "0", "SELECT kiln_reap()");		/* nothing left */

	/* d's local worker process died. */
	expect(w.c, "1", "SELECT kiln_worker_lost('w2')");
	expect_job(&w, d, "completed", "failure");
	job_complete(&w, e, "skipped");
	expect_run(&w, run, "completed", "failure");
	PQfinish(w.c);
}
END_TEST

START_TEST(test_reap_events)
{
	struct world w;
	long e1, e2, e3;
	char *sql;

	world_new(&w);
	sql = xasprintf("INSERT INTO events (repository_id, event, payload, "
	    "status, claimed_by, lease_until, attempts) VALUES (%ld, 'push', "
	    "'{}', 'in_progress', 'p1', now() - interval '1 second', 1) "
	    "RETURNING id", w.repo);
	e1 = sql_id(w.c, sql);
	free(sql);
	sql = xasprintf("INSERT INTO events (repository_id, event, payload, "
	    "status, claimed_by, lease_until, attempts) VALUES (%ld, 'push', "
	    "'{}', 'in_progress', 'p1', now() - interval '1 second', 3) "
	    "RETURNING id", w.repo);
	e2 = sql_id(w.c, sql);
	free(sql);
	sql = xasprintf("INSERT INTO events (repository_id, event, payload, "
	    "status, claimed_by, lease_until, attempts) VALUES (%ld, 'push', "
	    "'{}', 'in_progress', 'p2', now() + interval '1 minute', 1) "
	    "RETURNING id", w.repo);
	e3 = sql_id(w.c, sql);
	free(sql);

	expect(w.c, "0", "SELECT kiln_reap()");	/* counts jobs only */
	expect(w.c, "queued/NULL", "SELECT status || '/' || coalesce(claimed_by, "
	    "'NULL') FROM events WHERE id = %ld", e1);
	expect(w.c, "completed/planning failed 3 times (worker lost)", "SELECT "
	    "status || '/' || error FROM events WHERE id = %ld", e2);
	expect(w.c, "in_progress/p2", "SELECT status || '/' || claimed_by FROM "
	    "events WHERE id = %ld", e3);
	PQfinish(w.c);
}
END_TEST

static Suite *
migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc;

	tc = tcase_create("migrate");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_apply_fresh);
	tcase_add_test(tc, test_apply_failure_rolls_back);
	tcase_add_test(tc, test_apply_concurrent);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_needs_success);
	tcase_add_test(tc, test_needs_failure);
	tcase_add_test(tc, test_needs_diamond);
	tcase_add_test(tc, test_run_conclusions);
	tcase_add_test(tc, test_reap_jobs);
	tcase_add_test(tc, test_reap_events);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	main_pid = getpid();
	if ((pg_bindir = find_bindir()) == NULL) {
		printf("SKIPPED: no PostgreSQL server\n");
		return 77;
	}
	pg_choose_user();
	atexit(pg_stop);
	if (pg_start() == -1) {
		fprintf(stderr, "test_migrate: could not start PostgreSQL from %s "
		    "as %s\n", pg_bindir, pg_user_name);
		pg_stop();
		return EXIT_FAILURE;
	}
	printf("PostgreSQL from %s as %s in %s\n", pg_bindir, pg_user_name,
	    pg_tmp);
	sr = srunner_create(migrate_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed != 0)
		print_file(pg_logfile);
	pg_stop();
	free(pg_bindir);
	free(pg_data);
	free(pg_sock);
	free(pg_logfile);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
