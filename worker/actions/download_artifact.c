/*
 * actions/download-artifact (v4), natively, for the current run's
 * artifacts or, with run-id, another run's of the same repository (a
 * job never reads another repository's: repository may only name its
 * own): by name (into path itself), or all of them, or those whose
 * names match pattern, each into path/<name>/ unless merge-multiple puts
 * them all into path.  path defaults to the workspace; the output
 * download-path is where they went.
 *
 * The worker opens the store's zip files (artifact.c); a child as the
 * steps' account extracts them, with libarchive refusing members that
 * are absolute, hold "..", or would be written through a symbolic link.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>


#include "actions.h"
#include "archive_dl.h"
#include "util.h"
#include "worker.h"

#define DOWNLOAD_MAX		1000	/* artifacts in one step */

struct download_one {
	char	*name;
	char	*dir;		/* where it is extracted */
	int	 fd;		/* its zip */
};

struct download {
	struct download_one	*a;
	size_t			 n;
};

/* Extract one zip into its directory (libarchive loaded). */
static int
download_extract(const struct download_one *d, char *err, size_t errsz)
{
	struct archive *in = AR(archive_read_new)(), *disk = AR(archive_write_disk_new)();
	struct archive_entry *e;
	const void *buf;
	size_t size;
	la_int64_t off;
	const char *name;
	int r, rc = -1;

	AR(archive_read_support_format_zip)(in);
	AR(archive_write_disk_set_options)(disk, ARCHIVE_EXTRACT_TIME |
	    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (mkdir_p(d->dir, 0755) == -1 || chdir(d->dir) == -1) {
		snprintf(err, errsz, "%s: %s", d->dir, strerror(errno));
		goto out;
	}
	if (AR(archive_read_open_fd)(in, d->fd, 64 * 1024) != ARCHIVE_OK) {
		snprintf(err, errsz, "artifact %s: %s", d->name,
		    AR(archive_error_string)(in));
		goto out;
	}
	while ((r = AR(archive_read_next_header)(in, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			snprintf(err, errsz, "artifact %s: %s", d->name,
			    AR(archive_error_string)(in));
			goto out;
		}
		name = AR(archive_entry_pathname)(e);
		if (name == NULL || (AR(archive_entry_filetype)(e) != AE_IFREG &&
		    AR(archive_entry_filetype)(e) != AE_IFDIR) ||
		    AR(archive_entry_hardlink)(e) != NULL) {
			snprintf(err, errsz, "artifact %s: member \"%s\" is not "
			    "a file or directory", d->name, name ? name : "");
			goto out;
		}
		if (AR(archive_write_header)(disk, e) < ARCHIVE_WARN) {
			snprintf(err, errsz, "artifact %s: %s: %s", d->name,
			    name, AR(archive_error_string)(disk));
			goto out;
		}
		while ((r = AR(archive_read_data_block)(in, &buf, &size, &off)) ==
		    ARCHIVE_OK)
			if (AR(archive_write_data_block)(disk, buf, size, off) <
			    ARCHIVE_WARN) {
				snprintf(err, errsz, "artifact %s: %s: %s",
				    d->name, name, AR(archive_error_string)(disk));
				goto out;
			}
		if (r != ARCHIVE_EOF) {
			snprintf(err, errsz, "artifact %s: %s", d->name,
			    AR(archive_error_string)(in));
			goto out;
		}
		if (AR(archive_write_finish_entry)(disk) < ARCHIVE_WARN) {
			snprintf(err, errsz, "artifact %s: %s: %s", d->name,
			    name, AR(archive_error_string)(disk));
			goto out;
		}
	}
	rc = 0;
out:
	AR(archive_read_free)(in);
	AR(archive_write_close)(disk);
	AR(archive_write_free)(disk);
	return rc;
}

static int
download_child(void *arg, char *err, size_t errsz)
{
	struct download *dl = arg;
	size_t i;

	if (archive_dl_load(err, errsz) == -1)
		return 1;
	for (i = 0; i < dl->n; i++)
		if (download_extract(&dl->a[i], err, errsz) == -1)
			return 1;
	return 0;
}

static void
download_free(struct download *dl)
{
	size_t i;

	for (i = 0; i < dl->n; i++) {
		free(dl->a[i].name);
		free(dl->a[i].dir);
		if (dl->a[i].fd != -1)
			close(dl->a[i].fd);
	}
	free(dl->a);
}

/*
 * The run whose artifacts the step reads: ac's, or run-id's when it is a
 * run of the same repository (and repository, if given, names that
 * repository).  0 with *run_id, or -1 with err.
 */
static int
download_source_run(const struct artifact_ctx *ac,
    const struct action_env *env, int64_t *run_id, char *err, size_t errsz)
{
	const char *want = artifact_input(env, "run-id"),
	    *repository = artifact_input(env, "repository");
	const char *params[3], *why;
	char own[32];
	PGresult *res;
	int64_t other;
	int rc = -1;

	*run_id = ac->run_id;
	if ((want == NULL || want[0] == '\0') &&
	    (repository == NULL || repository[0] == '\0'))
		return 0;
	if (want != NULL && want[0] != '\0' &&
	    parse_int64(want, 1, INT64_MAX, &other, &why) == -1) {
		snprintf(err, errsz, "run-id: expected a run's id (a positive "
		    "integer), got \"%s\" (%s)", want, why);
		return -1;
	}
	snprintf(own, sizeof own, "%lld", (long long)ac->run_id);
	params[0] = own;
	params[1] = want != NULL && want[0] != '\0' ? want : own;
	params[2] = repository != NULL && repository[0] != '\0' ?
	    repository : NULL;
	/* Columns: this repository's name, the run (NULL: not one of its). */
	res = worker_exec(ac->w, "SELECT repo.full_name, (SELECT r.id FROM "
	    "runs r WHERE r.id = $2::bigint AND r.repository_id = "
	    "mine.repository_id), $3::text IS NULL OR $3 = repo.full_name "
	    "FROM runs mine JOIN repositories repo ON repo.id = "
	    "mine.repository_id WHERE mine.id = $1::bigint", 3, params,
	    "finding the run-id's run");
	if (res == NULL || PQntuples(res) != 1) {
		snprintf(err, errsz, "the run could not be looked up (database "
		    "error; see the worker's log)");
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 2), "t") != 0) {
		snprintf(err, errsz, "repository \"%s\": kiln downloads "
		    "artifacts of this repository's runs only (%s)",
		    repository, PQgetvalue(res, 0, 0));
		goto out;
	}
	if (PQgetisnull(res, 0, 1)) {
		snprintf(err, errsz, "run-id %s: %s has no run with that id",
		    want, PQgetvalue(res, 0, 0));
		goto out;
	}
	*run_id = (int64_t)atoll(PQgetvalue(res, 0, 1));
	rc = 0;
out:
	PQclear(res);
	return rc;
}

int
artifact_download(const struct artifact_ctx *ac, const struct action_env *env,
    char *err, size_t errsz)
{
	struct artifact_ctx from = *ac;
	struct download dl = { NULL, 0 };
	const char *name = artifact_input(env, "name"),
	    *pattern = artifact_input(env, "pattern"),
	    *path = artifact_input(env, "path"),
	    *merge = artifact_input(env, "merge-multiple");
	const char *params[2];
	PGresult *res = NULL;
	char run[32], line[1200], *dest = NULL, *file;
	int i, single, merged, rc = -1;

	if (name != NULL && name[0] == '\0')
		name = NULL;
	if (pattern != NULL && pattern[0] == '\0')
		pattern = NULL;
	single = name != NULL;
	merged = merge != NULL && strcasecmp(merge, "true") == 0;
	if (merge != NULL && merge[0] != '\0' && !merged &&
	    strcasecmp(merge, "false") != 0) {
		snprintf(err, errsz, "merge-multiple: expected true or false, "
		    "got \"%s\"", merge);
		return -1;
	}
	if (single && !artifact_name_ok(name, err, errsz))
		return -1;
	if ((dest = artifact_resolve(env, path != NULL && path[0] != '\0' ?
	    path : env->workspace)) == NULL) {
		snprintf(err, errsz, "path \"%s\": HOME is not set", path);
		goto out;
	}
	if (download_source_run(ac, env, &from.run_id, err, errsz) == -1)
		goto out;
	snprintf(run, sizeof run, "%lld", (long long)from.run_id);
	params[0] = run;
	params[1] = single ? name : NULL;
	res = worker_exec(ac->w, single ? "SELECT id, name FROM artifacts "
	    "WHERE run_id = $1 AND name = $2 AND expires_at > now()" :
	    "SELECT id, name FROM artifacts WHERE run_id = $1 AND "
	    "expires_at > now() ORDER BY id", single ? 2 : 1, params,
	    "listing artifacts");
	if (res == NULL) {
		snprintf(err, errsz, "the artifact index could not be read "
		    "(database error; see the worker's log)");
		goto out;
	}
	if (single && PQntuples(res) == 0) {
		snprintf(err, errsz, "Unable to download artifact(s): Artifact "
		    "not found for name: %s", name);
		goto out;
	}
	dl.a = xcalloc((size_t)PQntuples(res) + 1, sizeof *dl.a);
	for (i = 0; i < PQntuples(res) && dl.n < DOWNLOAD_MAX; i++) {
		const char *an = PQgetvalue(res, i, 1);
		struct download_one *d = &dl.a[dl.n];

		/* minimatch's rules as v4 applies them: names hold no '/'. */
		if (!single && pattern != NULL &&
		    fnmatch(pattern, an, FNM_EXTMATCH) != 0)
			continue;
		if (!artifact_name_ok(an, err, errsz))
			goto out;	/* the table's check says never */
		file = artifact_file(&from, PQgetvalue(res, i, 0));
		d->fd = open(file, O_RDONLY | O_CLOEXEC);
		if (d->fd == -1) {
			snprintf(err, errsz, "artifact %s: %s: %s", an, file,
			    strerror(errno));
			free(file);
			goto out;
		}
		free(file);
		d->name = xstrdup(an);
		d->dir = single || merged ? xstrdup(dest) :
		    xasprintf("%s/%s", dest, an);
		dl.n++;
	}
	if (dl.n == 0) {
		snprintf(line, sizeof line, "##[warning]No artifacts %s in "
		    "this run; nothing downloaded\n", pattern != NULL ?
		    "match the pattern" : "were uploaded");
		env->log(env->log_arg, line);
	} else if (action_fork_as(ac->as_user, ac->uid, ac->gid,
	    &ac->tick, download_child, &dl, "download", err, errsz) != 0)
		goto out;
	for (i = 0; (size_t)i < dl.n; i++) {
		snprintf(line, sizeof line, "Artifact %s downloaded to %s\n",
		    dl.a[i].name, dl.a[i].dir);
		env->log(env->log_arg, line);
	}
	env->set_output(env->log_arg, "download-path", dest);
	rc = 0;
out:
	PQclear(res);
	download_free(&dl);
	free(dest);
	return rc;
}
