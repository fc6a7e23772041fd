/*
 * workspace: the directories of one job on this worker,
 *
 *   <work_dir>/jobs/<job id>/workspace   GITHUB_WORKSPACE, the checkout
 *   <work_dir>/jobs/<job id>/tmp         RUNNER_TEMP: event.json, the
 *                                        per-step file-command files
 *   <work_dir>/jobs/<job id>/spool       the log's spool (stream.c)
 *   <work_dir>/jobs/<job id>/home        HOME, with run_as_pool only
 *
 * made empty when the job starts and removed when it ends.  With
 * [workers] run_as or run_as_pool, everything a step may touch belongs to
 * that account (the worker, root, creates it 0700 and gives it away); the
 * job's directory itself (0711) and the spool stay the worker's, so a step
 * cannot replace its workspace by a link, and the steps of a job in
 * another slot of the pool (another account) reach none of it.  A spool whose log kilnd never acknowledged is kept under
 * <work_dir>/spool/ rather than removed with the job.
 *
 * Without run_as, a finished job's directory is emptied down to its
 * workspace and tmp directories and parked as <work_dir>/jobs/.idle.N for
 * the next job to rename into place: creating an inode is the worker's
 * largest cost per trivial job (ext4 scans past recently deleted inodes
 * to allocate one), and the five directories were five of thirteen per
 * one-step job.  The file-command directories of an earlier, longer job
 * stay as numbered directories.  The files every job makes again -- the
 * spool, event.json and the steps' five file-command files -- stay too,
 * emptied, when they are still plain files of one link: the next job
 * opens them with O_TRUNC, reusing the inode (O_NOFOLLOW, so a link a
 * step put there since is not followed).  With run_as the directories
 * belong to a step's account, so they are made afresh for every job.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "worker.h"

/* Deeper trees are left as they are rather than walked forever. */
#define WORKSPACE_MAX_DEPTH	256

/*
 * Parked job directories per work_dir (.idle.0 ...): one for each worker
 * sharing it, up to this many; the workers beyond make theirs afresh.
 */
#define WORKSPACE_PARKED	8

/* Give dirfd's entries (recursively, links themselves) to uid:gid. */
static void
workspace_chown_tree(int dirfd, uid_t uid, gid_t gid, int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if (depth > WORKSPACE_MAX_DEPTH || (d = fdopendir(dirfd)) == NULL) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		(void)fchownat(dirfd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW);
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode) && (fd = openat(dirfd, de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) != -1)
			workspace_chown_tree(fd, uid, gid, depth + 1);
	}
	closedir(d);
}

void
workspace_give(const struct workspace *ws, const char *path)
{
	struct stat st;
	int fd;

	if (!ws->w->as_user)
		return;
	(void)lchown(path, ws->w->run_uid, ws->w->run_gid);
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) != -1)
		workspace_chown_tree(fd, ws->w->run_uid, ws->w->run_gid, 0);
}

static int
workspace_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void
workspace_rmtree(const char *dir)
{
	nftw(dir, workspace_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

/* A step's file-command files (GITHUB_ENV ...), in the order made. */
static const char *const workspace_cmd_files[] = { "add_path", "set_env",
    "set_output", "step_summary", "save_state" };

/* Does path's directory part (the first n bytes) end with suffix? */
static int
workspace_dir_is(const char *path, size_t n, const char *suffix)
{
	size_t len = strlen(suffix);

	return n >= len && strncmp(path + n - len, suffix, len) == 0;
}

/*
 * Is the file at path (its name at path + base) one the next job reuses?
 * Its mode as the job makes it, or 0.
 */
static mode_t
workspace_file_kept(const char *path, int level, size_t base)
{
	const char *name = path + base;
	size_t i;

	if (level == 1)
		return strcmp(name, "spool") == 0 ? 0600 : 0;
	if (level == 2)
		return strcmp(name, "event.json") == 0 &&
		    workspace_dir_is(path, base, "/tmp/") ? 0644 : 0;
	if (level != 4 || base < 2 || path[base - 2] < '0' ||
	    path[base - 2] > '9')
		return 0;
	for (i = 0; i < nitems(workspace_cmd_files); i++) {
		if (strcmp(name, workspace_cmd_files[i]) == 0)
			break;
	}
	if (i == nitems(workspace_cmd_files))
		return 0;
	/* .../tmp/_runner_file_commands/<n>/<name> */
	while (base > 1 && path[base - 2] >= '0' && path[base - 2] <= '9')
		base--;
	return workspace_dir_is(path, base - 1, "/tmp/_runner_file_commands/") ?
	    0644 : 0;
}

/*
 * Empty a kept file in place: 0, or -1 when it is not a plain file of one
 * link any more (checked on the open file, so a swap after nftw's lstat
 * truncates nothing else).
 */
static int
workspace_file_empty(const char *path, mode_t mode)
{
	struct stat st;
	int fd, ok;

	fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1)
		return -1;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	    ftruncate(fd, 0) == 0 && fchmod(fd, mode) == 0;
	close(fd);
	return ok ? 0 : -1;
}

/*
 * Everything under a job's directory but itself, workspace, tmp, the
 * directories of the steps' file-command files (tmp/_runner_file_commands
 * and its numbered directories, made again for every step otherwise) and
 * the files the next job makes again (workspace_file_kept()), emptied.
 */
static int
workspace_empty_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	const char *name = path + ftw->base;
	mode_t mode;

	if (ftw->level == 0 || (ftw->level == 1 && flag == FTW_DP &&
	    (strcmp(name, "workspace") == 0 || strcmp(name, "tmp") == 0)))
		return 0;
	if (flag == FTW_DP && ((ftw->level == 2 &&
	    strcmp(name, "_runner_file_commands") == 0 &&
	    workspace_dir_is(path, (size_t)ftw->base, "/tmp/")) ||
	    (ftw->level == 3 && workspace_dir_is(path, (size_t)ftw->base,
	    "/tmp/_runner_file_commands/"))))
		return 0;
	if (flag == FTW_F && S_ISREG(st->st_mode) && st->st_nlink == 1 &&
	    (mode = workspace_file_kept(path, ftw->level,
	    (size_t)ftw->base)) != 0 && workspace_file_empty(path, mode) == 0)
		return 0;
	remove(path);
	return 0;
}

/*
 * Open path for writing from its start, reusing a file left there
 * (workspace_remove() keeps some, emptied) but never following a link.
 */
static int
workspace_open_new(const char *path, mode_t mode)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
}

/*
 * Take the parked directory of an earlier job as ws->dir: 0 when it is
 * in place with workspace and tmp as empty directories of the right mode,
 * else -1 and nothing left at ws->dir.
 */
static int
workspace_reuse(struct workspace *ws)
{
	struct stat st;
	char *idle;
	int i, ok = 0;

	for (i = 0; i < WORKSPACE_PARKED && !ok; i++) {
		idle = xasprintf("%s/jobs/.idle.%d", ws->w->work_dir, i);
		ok = rename(idle, ws->dir) == 0;
		free(idle);
	}
	if (!ok)
		return -1;
	/* Emptied when parked; again here, in case anything wrote since. */
	nftw(ws->dir, workspace_empty_cb, 32, FTW_DEPTH | FTW_PHYS);
	ok = chmod(ws->dir, 0711) == 0 &&
	    lstat(ws->workspace, &st) == 0 && S_ISDIR(st.st_mode) &&
	    chmod(ws->workspace, 0700) == 0 &&
	    lstat(ws->tmp, &st) == 0 && S_ISDIR(st.st_mode) &&
	    chmod(ws->tmp, 0700) == 0;
	if (!ok)
		workspace_rmtree(ws->dir);
	return ok ? 0 : -1;
}

int
workspace_create(struct workspace *ws, struct worker *w, int64_t job_id,
    char *err, size_t errsz)
{
	memset(ws, 0, sizeof *ws);
	ws->w = w;
	ws->dir = xasprintf("%s/jobs/%lld", w->work_dir, (long long)job_id);
	ws->job_id = job_id;
	workspace_rmtree(ws->dir);
	ws->workspace = xasprintf("%s/workspace", ws->dir);
	ws->tmp = xasprintf("%s/tmp", ws->dir);
	ws->spool = xasprintf("%s/spool", ws->dir);
	if (w->pool)
		ws->home = xasprintf("%s/home", ws->dir);
	if (!w->as_user && workspace_reuse(ws) == 0)
		return 0;
	if (mkdir_p(ws->dir, 0711) == -1 || chmod(ws->dir, 0711) == -1 ||
	    mkdir(ws->workspace, 0700) == -1 || mkdir(ws->tmp, 0700) == -1 ||
	    (ws->home != NULL && mkdir(ws->home, 0700) == -1)) {
		snprintf(err, errsz, "creating %s: %s", ws->dir,
		    strerror(errno));
		return -1;
	}
	workspace_give(ws, ws->workspace);
	workspace_give(ws, ws->tmp);
	if (ws->home != NULL)
		workspace_give(ws, ws->home);
	return 0;
}

void
workspace_write_event(const struct workspace *ws, const char *payload)
{
	char *path = xasprintf("%s/event.json", ws->tmp);
	int fd = workspace_open_new(path, 0644);
	FILE *f;

	if (fd != -1 && (f = fdopen(fd, "w")) != NULL) {
		fputs(payload != NULL ? payload : "{}", f);
		fclose(f);
	} else if (fd != -1)
		close(fd);
	workspace_give(ws, path);
	free(path);
}

char *
workspace_step_files(const struct workspace *ws, size_t number)
{
	char *dir = xasprintf("%s/_runner_file_commands/%zu", ws->tmp, number);
	size_t i;
	int fd;

	mkdir_p(dir, 0700);
	for (i = 0; i < nitems(workspace_cmd_files); i++) {
		char *p = xasprintf("%s/%s", dir, workspace_cmd_files[i]);

		if ((fd = workspace_open_new(p, 0644)) != -1)
			close(fd);
		free(p);
	}
	workspace_give(ws, dir);
	return dir;
}

void
workspace_keep_spool(const struct workspace *ws, const char *why)
{
	char *dir = xasprintf("%s/spool", ws->w->work_dir);
	char *to = xasprintf("%s/%lld.spool", dir, (long long)ws->job_id);

	if (mkdir_p(dir, 0700) == 0 && rename(ws->spool, to) == 0)
		log_warnx("job %lld: log stream: %s; undelivered log kept in %s",
		    (long long)ws->job_id, why, to);
	else
		log_warnx("job %lld: log stream: %s", (long long)ws->job_id,
		    why);
	free(dir);
	free(to);
}

void
workspace_remove(struct workspace *ws)
{
	char *idle;
	int i, ok = 0;

	if (ws->dir != NULL && !ws->w->as_user) {
		/*
		 * Parked for the next job at the first free name: one already
		 * parked (not empty) makes rename() fail.  With none free, it
		 * is removed as usual.
		 */
		nftw(ws->dir, workspace_empty_cb, 32, FTW_DEPTH | FTW_PHYS);
		for (i = 0; i < WORKSPACE_PARKED && !ok; i++) {
			idle = xasprintf("%s/jobs/.idle.%d", ws->w->work_dir,
			    i);
			ok = rename(ws->dir, idle) == 0;
			free(idle);
		}
		if (!ok)
			workspace_rmtree(ws->dir);
	} else if (ws->dir != NULL)
		workspace_rmtree(ws->dir);
	free(ws->dir);
	free(ws->workspace);
	free(ws->tmp);
	free(ws->home);
	free(ws->spool);
	memset(ws, 0, sizeof *ws);
}
