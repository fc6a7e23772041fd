/*
 * slot: [workers] run_as_pool, one unprivileged account per worker slot.
 *
 * With run_as every job runs as one account, so a step of repository A
 * can read and change the running workspace of B.  With a pool, each
 * worker holds an account no other worker on this work_dir holds (an
 * flock on <work_dir>/slots/<account>.lock, released by the kernel when
 * the worker dies, however it dies) and runs its jobs' steps as it: a
 * job's workspace, RUNNER_TEMP and HOME are 0700 and that account's, the
 * mirrors are the worker's own (0700), and the checkout is copied in by
 * the worker (actions/checkout.c).  A worker runs one job at a time, so
 * at any moment an account belongs to at most one job; what one job of
 * the slot started is killed before the next one runs (slot_sweep()).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/* Rounds of kill(-1) in slot_sweep(): each kills all there is. */
#define SLOT_SWEEP_ROUNDS	20

/* One account of the pool, refused if it cannot isolate anything. */
static int
slot_account(const struct kiln_config *cfg, const char *name,
    struct passwd *out, char *err, size_t errsz)
{
	struct passwd *pw;

	if ((pw = getpwnam(name)) == NULL) {
		snprintf(err, errsz, "[workers] run_as_pool: no account \"%s\" "
		    "(useradd --system --no-create-home --shell "
		    "/usr/sbin/nologin %s)", name, name);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errsz, "[workers] run_as_pool: \"%s\" is root",
		    name);
		return -1;
	}
	if (cfg->db_url[0] == '\0' && strcmp(name, cfg->pg_user) == 0) {
		snprintf(err, errsz, "[workers] run_as_pool: \"%s\" runs the "
		    "embedded PostgreSQL; steps must use other accounts", name);
		return -1;
	}
	if (pw->pw_uid == getuid()) {
		snprintf(err, errsz, "[workers] run_as_pool: \"%s\" is the "
		    "worker's own account", name);
		return -1;
	}
	/* pw_name and the rest point into getpwnam()'s next answer. */
	memset(out, 0, sizeof *out);
	out->pw_uid = pw->pw_uid;
	out->pw_gid = pw->pw_gid;
	return 0;
}

int
slot_take(struct worker *w, const struct kiln_config *cfg, char *err,
    size_t errsz)
{
	struct passwd pw, *pws;
	char **names, why[256], *dir, *path;
	size_t n, i, j;
	int fd;

	if ((names = config_pool_names(cfg->run_as_pool, &n, why,
	    sizeof why)) == NULL) {
		snprintf(err, errsz, "[workers] %s", why);
		return -1;
	}
	/* Every account first: a bad one is an error even if unused. */
	pws = xcalloc(n, sizeof *pws);
	for (i = 0; i < n; i++) {
		if (slot_account(cfg, names[i], &pws[i], err, errsz) == -1)
			goto fail;
		for (j = 0; j < i; j++)
			if (pws[j].pw_uid == pws[i].pw_uid) {
				snprintf(err, errsz, "[workers] run_as_pool: "
				    "\"%s\" and \"%s\" are one uid (%ld); "
				    "each slot needs an account of its own",
				    names[j], names[i], (long)pws[i].pw_uid);
				goto fail;
			}
	}
	dir = xasprintf("%s/slots", w->work_dir);
	/* work_dir first: the accounts go through it to their jobs. */
	if (mkdir_p(w->work_dir, 0755) == -1 || mkdir_p(dir, 0700) == -1 ||
	    chmod(dir, 0700) == -1) {
		snprintf(err, errsz, "creating %s: %s", dir, strerror(errno));
		free(dir);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		path = xasprintf("%s/%s.lock", dir, names[i]);
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		free(path);
		if (fd == -1) {
			snprintf(err, errsz, "%s/%s.lock: %s", dir, names[i],
			    strerror(errno));
			free(dir);
			goto fail;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		close(fd);
	}
	if (i == n) {
		snprintf(err, errsz, "[workers] run_as_pool: all %zu accounts "
		    "are held by other workers on %s (each worker needs one of "
		    "its own: add accounts)", n, w->work_dir);
		free(dir);
		goto fail;
	}
	free(dir);
	pw = pws[i];
	w->as_user = 1;
	w->pool = 1;
	w->slot_fd = fd;
	w->run_uid = pw.pw_uid;
	w->run_gid = pw.pw_gid;
	w->run_name = xstrdup(names[i]);
	w->run_home = NULL;	/* per job: <job dir>/home */
	free(pws);
	config_pool_free(names);
	/* A worker that held it before may have died mid-job. */
	slot_sweep(w);
	log_info("steps run as %s (uid %ld), this worker's slot of "
	    "run_as_pool", w->run_name, (long)w->run_uid);
	return 0;
fail:
	free(pws);
	config_pool_free(names);
	return -1;
}

int
slot_sweep(const struct worker *w)
{
	pid_t pid;
	int status, rounds;

	if (!w->pool)
		return 0;
	/*
	 * kill(-1) as the account: every process whose real or saved uid
	 * is its (a setuid program it ran too), and nothing else.  The
	 * kernel signals them all under one lock, so none forks past it.
	 */
	if ((pid = fork()) == -1) {
		log_warn("sweeping %s's processes: fork", w->run_name);
		return -1;
	}
	if (pid == 0) {
		if (setgroups(0, NULL) == -1 || setgid(w->run_gid) == -1 ||
		    setuid(w->run_uid) == -1)
			_exit(255);
		for (rounds = 0; rounds < SLOT_SWEEP_ROUNDS; rounds++) {
			if (kill(-1, SIGKILL) == -1)
				_exit(rounds);
			poll(NULL, 0, 10);
		}
		_exit(rounds);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	/* Those killed that were our children (adopted): reaped. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 255) {
		log_warnx("sweeping %s's processes: could not become uid %ld",
		    w->run_name, (long)w->run_uid);
		return -1;
	}
	return WEXITSTATUS(status);
}
