/*
 * pgembed: see pgembed.h.
 *
 * Layout under <state_dir>/pg:   data/  the cluster (initdb -D)
 *                                run/   the Unix socket directory
 *                                postgres.log
 */
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "log.h"
#include "pgembed.h"
#include "spawn.h"
#include "util.h"

#define PGEMBED_START_TIMEOUT_MS	60000
#define PGEMBED_STOP_TIMEOUT_MS		30000

struct pgembed_user {
	int	 drop;		/* switch to uid/gid in children */
	uid_t	 uid;
	gid_t	 gid;
	char	 name[64];
};

/* What starting the postmaster again takes, kept from the first start. */
struct pgembed {
	pid_t			 pid;
	char			*dir;
	struct pgembed_user	 user;
	char			 postgres[600];
	char			 data[4200];
	char			 run[4200];
	char			 logpath[4200];
	int			 max_connections;
};

/*
 * Settings for a small box, passed on the command line so that an
 * administrator's postgresql.conf cannot silently undo them and a
 * postgresql.conf edit is still possible for everything else.  Measured
 * by bench/idle.sh: shared_buffers at 16 MB (PostgreSQL's default 128 MB
 * sizes wal_buffers and the buffer descriptors the postmaster touches)
 * and no logical replication launcher take an idle install from 57 to
 * 49 MiB PSS.  kilnd's queries touch a few MB of tables; the page cache
 * holds the rest.  Predicate locks serve SERIALIZABLE transactions only,
 * which kiln never runs: the fewest PostgreSQL allows spares the
 * postmaster 0.3 MiB of lock tables it fills in at start.
 */
static const char *const pgembed_small_box[] = {
	"listen_addresses=",
	"unix_socket_permissions=0770",
	"shared_buffers=16MB",
	"max_pred_locks_per_transaction=10",
	"max_logical_replication_workers=0",
	"max_wal_senders=0",
	"max_replication_slots=0",
};

/*
 * Connections: kilnd's pool and its listener, twice the configured workers
 * (at least 16, so a reload can add workers) and PGEMBED_SPARE_CONNECTIONS
 * for administrators.  Each slot costs shared memory the postmaster touches.
 */
static int
pgembed_max_connections(const struct kiln_config *cfg)
{
	int workers = cfg->worker_count * 2;

	return cfg->db_connections + 1 + (workers < 16 ? 16 : workers) +
	    PGEMBED_SPARE_CONNECTIONS;
}

/* Does dir hold the server programs kilnd runs? */
static int
pgembed_bindir_ok(const char *dir)
{
	char p[4200];

	snprintf(p, sizeof p, "%s/initdb", dir);
	if (access(p, X_OK) == -1)
		return 0;
	snprintf(p, sizeof p, "%s/postgres", dir);
	return access(p, X_OK) == 0;
}

/* What `pg_config --bindir` says (pg_config found on our PATH), or "". */
static void
pgembed_pg_config(char *out, size_t outsz, struct buf *searched)
{
	char *pgc = spawn_path_find("pg_config", getenv("PATH"));
	char *argv[3], text[1024], why[512];
	struct spawn_spec s;
	int status;

	out[0] = '\0';
	if (pgc == NULL) {
		buf_printf(searched, "; pg_config --bindir (no pg_config on "
		    "PATH %s)", getenv("PATH") ? getenv("PATH") : "(unset)");
		return;
	}
	memset(&s, 0, sizeof s);
	argv[0] = pgc;
	argv[1] = (char *)"--bindir";
	argv[2] = NULL;
	s.argv = argv;
	s.fd_in = -1;
	s.fd_err = -1;
	status = spawn_capture(&s, text, sizeof text, 10000, why, sizeof why);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (status != -1)
			spawn_status_text(status, why, sizeof why);
		buf_printf(searched, "; %s --bindir (%s)", pgc, why);
		free(pgc);
		return;
	}
	text[strcspn(text, "\r\n")] = '\0';
	buf_printf(searched, "; %s --bindir (%s)", pgc, text);
	free(pgc);
	if (text[0] == '/' && strlen(text) < outsz)
		snprintf(out, outsz, "%s", text);
}

struct pgembed_version {
	long	v[2];		/* "15" is {15, -1}, "9.6" {9, 6} */
	char	name[64];
};

static int
pgembed_version_cmp(const void *a, const void *b)
{
	const struct pgembed_version *x = a, *y = b;

	/* Newest first. */
	if (x->v[0] != y->v[0])
		return x->v[0] < y->v[0] ? 1 : -1;
	if (x->v[1] != y->v[1])
		return x->v[1] < y->v[1] ? 1 : -1;
	return 0;
}

/*
 * The server's bin directory: [database] pg_bindir if set, else what
 * pg_config --bindir says when that has initdb and postgres, else the
 * newest /usr/lib/postgresql/<version>/bin that has them (Debian's layout;
 * versions compared as numbers).  The error names every place looked at.
 */
static int
pgembed_find_bindir(const struct kiln_config *cfg, char *out, size_t outsz,
    char *err, size_t errsz)
{
	struct pgembed_version vs[64];
	struct buf searched = { 0 };
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;

	if (cfg->pg_bindir[0] != '\0') {
		if (pgembed_bindir_ok(cfg->pg_bindir)) {
			snprintf(out, outsz, "%s", cfg->pg_bindir);
			return 0;
		}
		snprintf(err, errsz, "[database] pg_bindir %s has no "
		    "executable initdb and postgres", cfg->pg_bindir);
		return -1;
	}
	buf_printf(&searched, "[database] pg_bindir (not set)");
	pgembed_pg_config(out, outsz, &searched);
	if (out[0] != '\0') {
		if (pgembed_bindir_ok(out)) {
			buf_free(&searched);
			return 0;
		}
		buf_printf(&searched, ": no initdb and postgres there");
	}
	if ((d = opendir("/usr/lib/postgresql")) != NULL) {
		while ((de = readdir(d)) != NULL && n < nitems(vs)) {
			char *end;
			long v = strtol(de->d_name, &end, 10);

			if (end == de->d_name || v < 0 ||
			    strlen(de->d_name) >= sizeof vs[n].name)
				continue;
			vs[n].v[1] = -1;
			if (*end == '.' && end[1] >= '0' && end[1] <= '9')
				vs[n].v[1] = strtol(end + 1, &end, 10);
			if (*end != '\0')
				continue;
			vs[n].v[0] = v;
			snprintf(vs[n].name, sizeof vs[n].name, "%s", de->d_name);
			n++;
		}
		closedir(d);
	}
	qsort(vs, n, sizeof vs[0], pgembed_version_cmp);
	for (i = 0; i < n; i++) {
		snprintf(out, outsz, "/usr/lib/postgresql/%s/bin", vs[i].name);
		if (pgembed_bindir_ok(out)) {
			buf_free(&searched);
			return 0;
		}
	}
	out[0] = '\0';
	buf_printf(&searched, "; /usr/lib/postgresql/*/bin (%s)",
	    n == 0 ? "none" : "none with initdb and postgres");
	snprintf(err, errsz, "no PostgreSQL server programs (initdb, postgres) "
	    "found; searched %s (apt-get install postgresql, or set "
	    "[database] pg_bindir or url)", searched.data);
	buf_free(&searched);
	return -1;
}

static int
pgembed_pick_user(const struct kiln_config *cfg, struct pgembed_user *u,
    char *err, size_t errsz)
{
	struct passwd *pw;

	memset(u, 0, sizeof *u);
	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(cfg->pg_user)) == NULL) {
		log_info("account \"%s\" does not exist; running the embedded "
		    "PostgreSQL as \"nobody\"", cfg->pg_user);
		pw = getpwnam("nobody");
	}
	if (pw == NULL || pw->pw_uid == 0) {
		snprintf(err, errsz, "no unprivileged account to run the "
		    "embedded PostgreSQL as (PostgreSQL refuses root): create "
		    "\"%s\" (useradd --system %s)", cfg->pg_user, cfg->pg_user);
		return -1;
	}
	u->drop = 1;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	snprintf(u->name, sizeof u->name, "%s", pw->pw_name);
	return 0;
}

/*
 * A server program runs as the cluster's owner, dies with kilnd, and
 * writes its output to fd.
 */
static void
pgembed_spec(struct spawn_spec *s, const struct pgembed_user *u,
    char **argv, int fd)
{
	memset(s, 0, sizeof *s);
	s->argv = argv;
	s->fd_in = -1;
	s->fd_out = fd;
	s->fd_err = fd;
	s->as_user = u->drop;
	s->uid = u->uid;
	s->gid = u->gid;
	s->pdeathsig = SIGINT;
}

static int
pgembed_chown(const char *path, const struct pgembed_user *u, char *err,
    size_t errsz)
{
	if (u->drop && chown(path, u->uid, u->gid) == -1) {
		snprintf(err, errsz, "chown %s to %s: %s", path, u->name,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Every directory above dir must be searchable by the cluster's owner. */
static int
pgembed_check_path(const char *dir, const struct pgembed_user *u, char *err,
    size_t errsz)
{
	char path[4096], *p;
	struct stat st;

	if (!u->drop)
		return 0;
	snprintf(path, sizeof path, "%s", dir);
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char save = *p;
		*p = '\0';
		if (stat(path, &st) == 0 && (st.st_mode & S_IXOTH) == 0 &&
		    st.st_uid != u->uid) {
			snprintf(err, errsz, "%s is not searchable by \"%s\", "
			    "which runs the embedded PostgreSQL (chmod o+x %s, "
			    "or choose another state_dir)", path, u->name, path);
			return -1;
		}
		*p = save;
		if (save == '\0')
			break;
	}
	return 0;
}

static int
pgembed_run_initdb(const char *bindir, const char *dir,
    const struct pgembed_user *u, char *err, size_t errsz)
{
	char initdb[600], data[4200], logpath[4200], why[128];
	char *argv[] = { initdb, (char *)"-D", data, (char *)"-U",
	    (char *)"kiln", (char *)"--auth=trust", (char *)"-E", (char *)"UTF8",
	    (char *)"--no-locale", NULL };
	struct spawn_spec s;
	pid_t pid;
	int status, fd;

	snprintf(initdb, sizeof initdb, "%s/initdb", bindir);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(logpath, sizeof logpath, "%s/initdb.log", dir);
	log_info("initialising PostgreSQL cluster in %s with %s", data,
	    initdb);
	if ((fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(err, errsz, "%s: %s", logpath, strerror(errno));
		return -1;
	}
	pgembed_spec(&s, u, argv, fd);
	pid = spawn_start(&s, err, errsz);
	close(fd);
	if (pid == -1)
		return -1;
	status = spawn_wait(pid);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		spawn_status_text(status, why, sizeof why);
		snprintf(err, errsz, "%s failed, %s (see %s)", initdb, why,
		    logpath);
		return -1;
	}
	return 0;
}

static int
pgembed_wait_ready(struct pgembed *pg, const char *conninfo, char *err,
    size_t errsz)
{
	int64_t deadline = now_ms() + PGEMBED_START_TIMEOUT_MS;
	int status;

	while (now_ms() < deadline) {
		if (PQping(conninfo) == PQPING_OK)
			return 0;
		if (waitpid(pg->pid, &status, WNOHANG) == pg->pid) {
			pg->pid = -1;
			snprintf(err, errsz, "postgres exited during start-up "
			    "(see %s/postgres.log)", pg->dir);
			return -1;
		}
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	}
	snprintf(err, errsz, "postgres did not accept connections within %d s "
	    "(see %s/postgres.log)", PGEMBED_START_TIMEOUT_MS / 1000, pg->dir);
	return -1;
}

static int
pgembed_create_db(const struct kiln_config *cfg, char *err, size_t errsz)
{
	char *ci = config_embedded_conninfo(cfg, "postgres");
	PGconn *conn = PQconnectdb(ci);
	PGresult *res;
	int rc = -1;

	free(ci);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errsz, "connecting to the embedded cluster: %s",
		    PQerrorMessage(conn));
		goto out;
	}
	res = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = 'kiln'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errsz, "%s", PQerrorMessage(conn));
		PQclear(res);
		goto out;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		/*
		 * PostgreSQL 15's default strategy copies template1 block by
		 * block through shared_buffers: 14 of its 16 MB filled with
		 * template pages that stay resident (bench/idle.sh).  A file
		 * copy costs two checkpoints, once, on the first start.
		 */
		res = PQexec(conn, PQserverVersion(conn) >= 150000 ?
		    "CREATE DATABASE kiln STRATEGY = FILE_COPY" :
		    "CREATE DATABASE kiln");
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(err, errsz, "CREATE DATABASE kiln: %s",
			    PQerrorMessage(conn));
			PQclear(res);
			goto out;
		}
	}
	PQclear(res);
	rc = 0;
out:
	PQfinish(conn);
	return rc;
}

/*
 * After kilnd was killed, its postmaster may still be finishing its own
 * shutdown (PR_SET_PDEATHSIG): wait (bounded) until the pid in
 * postmaster.pid is gone, or turns out to be some other program.
 */
static void
pgembed_wait_old_postmaster(const char *data)
{
	char path[4300], exe[64], target[4300], *text;
	int64_t deadline = now_ms() + PGEMBED_STOP_TIMEOUT_MS;
	long pid;
	ssize_t n;

	snprintf(path, sizeof path, "%s/postmaster.pid", data);
	if ((text = file_read_all(path, 4096, NULL)) == NULL)
		return;
	pid = strtol(text, NULL, 10);
	free(text);
	if (pid <= 0)
		return;
	snprintf(exe, sizeof exe, "/proc/%ld/exe", pid);
	while (now_ms() < deadline) {
		if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
			return;
		n = readlink(exe, target, sizeof target - 1);
		if (n > 0) {
			target[n] = '\0';
			if (strstr(target, "postgres") == NULL)
				return;	/* a reused pid: not ours */
		}
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	}
	log_warnx("the previous PostgreSQL (pid %ld) is still running", pid);
}

/* Fork the postmaster on the existing cluster; does not wait for it. */
static int
pgembed_spawn(struct pgembed *pg, char *err, size_t errsz)
{
	char *argv[8 + 2 * nitems(pgembed_small_box)], maxconn[64];
	struct spawn_spec s;
	size_t i, n = 0;
	int fd;

	argv[n++] = pg->postgres;
	argv[n++] = (char *)"-D";
	argv[n++] = pg->data;
	argv[n++] = (char *)"-k";
	argv[n++] = pg->run;
	for (i = 0; i < nitems(pgembed_small_box); i++) {
		argv[n++] = (char *)"-c";
		argv[n++] = (char *)pgembed_small_box[i];
	}
	snprintf(maxconn, sizeof maxconn, "max_connections=%d",
	    pg->max_connections);
	argv[n++] = (char *)"-c";
	argv[n++] = maxconn;
	argv[n] = NULL;

	if ((fd = open(pg->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(err, errsz, "%s: %s", pg->logpath, strerror(errno));
		return -1;
	}
	pgembed_spec(&s, &pg->user, argv, fd);
	/* Own process group: a ^C to kilnd must not hit postgres. */
	s.group = 1;
	pg->pid = spawn_start(&s, err, errsz);
	close(fd);
	if (pg->pid == -1)
		return -1;
	log_info("embedded PostgreSQL started (pid %ld, %s)", (long)pg->pid,
	    pg->data);
	return 0;
}

struct pgembed *
pgembed_start(const struct kiln_config *cfg, char *err, size_t errsz)
{
	char bindir[512], version[4300];
	struct pgembed *pg;
	char *conninfo;

	if (pgembed_find_bindir(cfg, bindir, sizeof bindir, err, errsz) == -1)
		return NULL;
	log_info("PostgreSQL server programs from %s", bindir);
	/* <state_dir>/pg/run/.s.PGSQL.5432 must fit a Unix socket path. */
	if (strlen(cfg->state_dir) + strlen("/pg/run/.s.PGSQL.5432") >=
	    sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		snprintf(err, errsz, "state_dir %s is too long for the embedded "
		    "PostgreSQL's socket path (at most %zu bytes): choose a "
		    "shorter state_dir", cfg->state_dir,
		    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1 -
		    strlen("/pg/run/.s.PGSQL.5432"));
		return NULL;
	}
	pg = xcalloc(1, sizeof *pg);
	pg->pid = -1;
	pg->max_connections = pgembed_max_connections(cfg);
	if (pgembed_pick_user(cfg, &pg->user, err, errsz) == -1) {
		free(pg);
		return NULL;
	}
	pg->dir = xasprintf("%s/pg", cfg->state_dir);
	snprintf(pg->data, sizeof pg->data, "%s/data", pg->dir);
	snprintf(pg->run, sizeof pg->run, "%s/run", pg->dir);
	snprintf(pg->logpath, sizeof pg->logpath, "%s/postgres.log", pg->dir);
	snprintf(pg->postgres, sizeof pg->postgres, "%s/postgres", bindir);
	snprintf(version, sizeof version, "%s/PG_VERSION", pg->data);

	if (mkdir_p(pg->dir, 0700) == -1 || mkdir_p(pg->run, 0700) == -1) {
		snprintf(err, errsz, "creating %s: %s", pg->run,
		    strerror(errno));
		goto fail;
	}
	if (pgembed_check_path(cfg->state_dir, &pg->user, err, errsz) == -1 ||
	    pgembed_chown(pg->dir, &pg->user, err, errsz) == -1 ||
	    pgembed_chown(pg->run, &pg->user, err, errsz) == -1)
		goto fail;
	if (access(version, F_OK) == -1 &&
	    pgembed_run_initdb(bindir, pg->dir, &pg->user, err, errsz) == -1)
		goto fail;

	pgembed_wait_old_postmaster(pg->data);
	if (pgembed_spawn(pg, err, errsz) == -1)
		goto fail;
	conninfo = config_embedded_conninfo(cfg, "postgres");
	if (pgembed_wait_ready(pg, conninfo, err, errsz) == -1) {
		free(conninfo);
		goto fail;
	}
	free(conninfo);
	if (pgembed_create_db(cfg, err, errsz) == -1)
		goto fail;
	return pg;
fail:
	pgembed_stop(pg);
	return NULL;
}

int
pgembed_restart(struct pgembed *pg, char *err, size_t errsz)
{
	if (pg->pid > 0) {
		snprintf(err, errsz, "PostgreSQL (pid %ld) is still running",
		    (long)pg->pid);
		return -1;
	}
	return pgembed_spawn(pg, err, errsz);
}

int
pgembed_connection_limit(const struct pgembed *pg)
{
	return pg->max_connections;
}

pid_t
pgembed_pid(const struct pgembed *pg)
{
	return pg ? pg->pid : -1;
}

void
pgembed_reaped(struct pgembed *pg)
{
	pg->pid = -1;
}

void
pgembed_stop(struct pgembed *pg)
{
	int64_t deadline;
	int status;

	if (pg == NULL)
		return;
	if (pg->pid > 0) {
		/* SIGINT is PostgreSQL's "fast" shutdown. */
		kill(pg->pid, SIGINT);
		deadline = now_ms() + PGEMBED_STOP_TIMEOUT_MS;
		for (;;) {
			pid_t r = waitpid(pg->pid, &status, WNOHANG);

			if (r == pg->pid || (r == -1 && errno == ECHILD))
				break;
			if (now_ms() > deadline) {
				log_warnx("postgres did not stop within %d s; "
				    "sending SIGQUIT", PGEMBED_STOP_TIMEOUT_MS /
				    1000);
				kill(pg->pid, SIGQUIT);
				waitpid(pg->pid, &status, 0);
				break;
			}
			nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 },
			    NULL);
		}
		log_info("embedded PostgreSQL stopped");
	}
	free(pg->dir);
	free(pg);
}
