/*
 * pgembed: see pgembed.h.
 *
 * Layout under <state_dir>/pg:   data/  the cluster (initdb -D)
 *                                run/   the Unix socket directory
 *                                postgres.log
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include "util.h"

#define PGEMBED_START_TIMEOUT_MS	60000
#define PGEMBED_STOP_TIMEOUT_MS		30000

struct pgembed {
	pid_t	 pid;
	char	*dir;
};

struct pgembed_user {
	int	 drop;		/* switch to uid/gid in children */
	uid_t	 uid;
	gid_t	 gid;
	char	 name[64];
};

static int
pgembed_find_bindir(const struct kiln_config *cfg, char *out, size_t outsz,
    char *err, size_t errsz)
{
	DIR *d;
	struct dirent *de;
	long best = -1;

	if (cfg->pg_bindir[0] != '\0') {
		snprintf(out, outsz, "%s", cfg->pg_bindir);
		return 0;
	}
	if ((d = opendir("/usr/lib/postgresql")) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char *end;
			long v = strtol(de->d_name, &end, 10);
			char probe[512];

			if (*end != '\0' || end == de->d_name)
				continue;
			snprintf(probe, sizeof probe,
			    "/usr/lib/postgresql/%s/bin/postgres", de->d_name);
			if (v > best && access(probe, X_OK) == 0)
				best = v;
		}
		closedir(d);
	}
	if (best < 0) {
		snprintf(err, errsz, "no PostgreSQL server found under "
		    "/usr/lib/postgresql (apt-get install postgresql, or set "
		    "[database] pg_bindir or url)");
		return -1;
	}
	snprintf(out, outsz, "/usr/lib/postgresql/%ld/bin", best);
	return 0;
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

/* In a child: become the cluster's owner, and die with kilnd. */
static void
pgembed_child_setup(const struct pgembed_user *u, int die_with_parent)
{
	if (u->drop) {
		if (setgroups(0, NULL) == -1 || setgid(u->gid) == -1 ||
		    setuid(u->uid) == -1) {
			fprintf(stderr, "pgembed: dropping to %s: %s\n", u->name,
			    strerror(errno));
			_exit(127);
		}
	}
	/* Set after setuid: a credential change clears it. */
	if (die_with_parent)
		prctl(PR_SET_PDEATHSIG, SIGINT);
}

static int
pgembed_redirect(const char *logpath)
{
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd == -1)
		return -1;
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	fd = open("/dev/null", O_RDONLY);
	if (fd != -1) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	return 0;
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
	char initdb[600], data[4200], logpath[4200];
	pid_t pid;
	int status;

	snprintf(initdb, sizeof initdb, "%s/initdb", bindir);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(logpath, sizeof logpath, "%s/initdb.log", dir);
	log_info("initialising PostgreSQL cluster in %s", data);
	if ((pid = fork()) == -1) {
		snprintf(err, errsz, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		pgembed_child_setup(u, 1);
		if (pgembed_redirect(logpath) == -1)
			_exit(127);
		execl(initdb, "initdb", "-D", data, "-U", "kiln",
		    "--auth=trust", "-E", "UTF8", "--no-locale", (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", initdb, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errsz, "initdb failed (see %s)", logpath);
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
		res = PQexec(conn, "CREATE DATABASE kiln");
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

struct pgembed *
pgembed_start(const struct kiln_config *cfg, char *err, size_t errsz)
{
	char bindir[512], postgres[600], data[4200], run[4200], logpath[4200],
	    version[4300];
	struct pgembed_user u;
	struct pgembed *pg;
	char *conninfo;

	if (pgembed_find_bindir(cfg, bindir, sizeof bindir, err, errsz) == -1)
		return NULL;
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
	if (pgembed_pick_user(cfg, &u, err, errsz) == -1)
		return NULL;
	pg = xcalloc(1, sizeof *pg);
	pg->pid = -1;
	pg->dir = xasprintf("%s/pg", cfg->state_dir);
	snprintf(data, sizeof data, "%s/data", pg->dir);
	snprintf(run, sizeof run, "%s/run", pg->dir);
	snprintf(logpath, sizeof logpath, "%s/postgres.log", pg->dir);
	snprintf(version, sizeof version, "%s/PG_VERSION", data);
	snprintf(postgres, sizeof postgres, "%s/postgres", bindir);

	if (mkdir_p(pg->dir, 0700) == -1 || mkdir_p(run, 0700) == -1) {
		snprintf(err, errsz, "creating %s: %s", run, strerror(errno));
		goto fail;
	}
	if (pgembed_check_path(cfg->state_dir, &u, err, errsz) == -1 ||
	    pgembed_chown(pg->dir, &u, err, errsz) == -1 ||
	    pgembed_chown(run, &u, err, errsz) == -1)
		goto fail;
	if (access(version, F_OK) == -1 &&
	    pgembed_run_initdb(bindir, pg->dir, &u, err, errsz) == -1)
		goto fail;

	pgembed_wait_old_postmaster(data);
	if ((pg->pid = fork()) == -1) {
		snprintf(err, errsz, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pg->pid == 0) {
		pgembed_child_setup(&u, 1);
		if (pgembed_redirect(logpath) == -1)
			_exit(127);
		/* Own process group: a ^C to kilnd must not hit postgres. */
		setpgid(0, 0);
		execl(postgres, "postgres", "-D", data, "-k", run,
		    "-c", "listen_addresses=", "-c", "unix_socket_permissions=0770",
		    (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", postgres, strerror(errno));
		_exit(127);
	}
	log_info("embedded PostgreSQL started (pid %ld, %s)", (long)pg->pid,
	    data);
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
