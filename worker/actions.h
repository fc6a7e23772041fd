/*
 * actions: built-in actions, implemented natively in C.  Which actions
 * are built in, and which of their inputs kiln honours, is common/
 * support.c's table (cictl lint reads it too); table.c maps each of them
 * to its implementation.  A `uses:` that is not built in fails its step
 * with a message listing the built-in ones.
 */
#ifndef KILN_ACTIONS_H
#define KILN_ACTIONS_H

#include <stddef.h>
#include <sys/types.h>

#include <stdint.h>

#include <jansson.h>

#include "support.h"
#include "workflow.h"

/*
 * Called about once a second while a built-in action's file work runs in
 * a child, so that a long cache save or artifact upload renews the job's
 * lease (else the reaper fails the job under it) and sees a cancellation.
 * fn returns nonzero to stop the work.  fn NULL: nobody to tell.
 */
struct action_tick {
	int	(*fn)(void *arg);
	void	*arg;
};

/* What an action may see of the job it runs in. */
struct action_env {
	const char		*uses;		/* as written */
	const struct wf_map	*with;
	const char		*mirror;	/* bare mirror of the repository */
	const char		*clone_url;
	const char		*github_token;	/* the job's, or NULL */
	const char		*sha;
	const char		*ref;
	const char		*workspace;
	const char		*tmp;		/* RUNNER_TEMP */
	const char		*tool_cache;	/* [workers] tool_cache */
	const char		*versions_url;	/* [actions] python_versions_url */
	char *const		*envp;		/* the step's environment */
	/* Append text to the job's log. */
	void			(*log)(void *arg, const char *text);
	/* Effects on later steps, as the file commands have them. */
	void			(*add_path)(void *arg, const char *dir);
	void			(*set_env)(void *arg, const char *name,
				    const char *value);
	void			(*set_output)(void *arg, const char *name,
				    const char *value);
	void			*log_arg;	/* arg of the callbacks */
	struct action_tick	 tick;		/* in the worker; not a child's */
};

struct action_def {
	enum support_action	 id;	/* its name: support_action_name() */
	/*
	 * In the worker, with its privileges, before run(): only what
	 * steps cannot have written (the worker's mirror, the job's own
	 * directory).  May be NULL.
	 */
	int			(*prepare)(const struct action_env *, char *err,
				    size_t errsz);
	/*
	 * The action; as the steps' account when there is one (isolate.c).
	 * NULL: prepare() is all of it.
	 */
	int			(*run)(const struct action_env *, char *err,
				    size_t errsz);
};

/* Who runs an isolated action: the worker's own program, as uid/gid. */
struct action_user {
	const char	*program;	/* kiln-worker, full path */
	uid_t		 uid;
	gid_t		 gid;
	const char	*cgroup_procs;	/* the job's cgroup; NULL: none */
};

/*
 * actions/isolate.c: fn(arg, msg, msgsz) in a forked child, as uid/gid
 * when as_user, tick called meanwhile (may be NULL).  Its result: 0 done,
 * 2 done with a warning in err, -1 failed with err (what names the work
 * when the child says nothing, and says when tick stopped it).
 */
int	action_fork_as(int as_user, uid_t uid, gid_t gid,
	    const struct action_tick *tick,
	    int (*fn)(void *, char *, size_t), void *arg, const char *what,
	    char *err, size_t errsz);

/* actions/isolate.c: def's run() in `kiln-worker --action-child` as u. */
int	action_isolated(const struct action_def *def,
	    const struct action_env *env, const struct action_user *u,
	    char *err, size_t errsz);
/* The child's side: request on stdin, effects on stdout; exit status. */
int	action_child_main(void);

/* The built-in action for uses ("owner/name@ref"), or NULL. */
const struct action_def *action_find(const char *uses);

/*
 * actions/fetch.c: actions from other repositories.  An action reference
 * owner/repo[/path]@ref, its names checked (path "" when absent).
 */
struct action_ref {
	char	*owner;
	char	*repo;
	char	*path;
	char	*ref;
};
int	action_ref_parse(const char *uses, struct action_ref *, char *err,
	    size_t errsz);
void	action_ref_free(struct action_ref *);
/* 1 if a pattern of allow ([actions] allow) lets steps use r. */
int	action_allowed(const char *allow, const struct action_ref *r);
/*
 * The directory holding r's repository at the commit ref names (a new
 * string; *sha its id, *cached 1 when it was there already), fetched from
 * <base_url>/<owner>/<repo> into <work_dir>/actions; NULL with err, which
 * names the action, when it cannot be had.
 */
char	*action_fetch(const char *work_dir, const char *base_url,
	    const struct action_ref *r, char sha[41], int *cached, char *err,
	    size_t errsz);
/*
 * Remove the fetched commits under <work_dir>/actions/src no job used for
 * keep_days (and what a dead worker left half made); the number removed.
 */
size_t	action_fetch_sweep(const char *work_dir, int keep_days);

/* actions/checkout.c */
int	action_checkout_prepare(const struct action_env *, char *err,
	    size_t errsz);
/*
 * actions/pyfetch.c: download the newest build matching want (-1: any)
 * from env->versions_url into the tool cache; 0 with its version in ver.
 */
int	pyfetch_install(const struct action_env *env, const char *cache,
	    const int want[3], char *ver, size_t versz, char *err,
	    size_t errsz);
/* actions/setup_python.c */
int	action_setup_python(const struct action_env *, char *err,
	    size_t errsz);

/*
 * actions/cache.c: actions/cache, /restore and /save.  What the cache
 * needs of the job; scopes are the refs a run may restore from, its own
 * first (then a pull request's base branch, then the default branch).
 */
struct worker;
struct cache_ctx {
	struct worker	*w;		/* its database session */
	const char	*dir;		/* [cache] dir */
	int64_t		 max_bytes;	/* [cache], per repository; 0: none */
	int64_t		 repository_id;
	const char	*scopes[3];
	size_t		 nscopes;
	int		 as_user;	/* archive and extract as uid/gid */
	uid_t		 uid;
	gid_t		 gid;
	const char	*cgroup_procs;	/* the job's cgroup; NULL: none */
	struct action_tick tick;
};
/*
 * The step of action a (one of the cache actions): a restore (outputs
 * cache-hit, and cache-primary-key/cache-matched-key for /restore), or
 * the save of /save.  For actions/cache without an exact hit, *post is
 * the save the job's post phase owes ({key, path, home}), else NULL.
 * 0, or -1 with err (the step fails).
 */
int	cache_step(const struct cache_ctx *, enum support_action a,
	    const struct action_env *env, json_t **post, char *err,
	    size_t errsz);
/*
 * Save paths (the path input's lines) as key in the run's own scope,
 * unless an entry exists; then evict the repository's least recently
 * used entries past max_bytes.  What happens goes to log.  0, or -1
 * with err.
 */
int	cache_save(const struct cache_ctx *, const char *key,
	    const char *paths, const char *workspace, const char *home,
	    void (*log)(void *, const char *), void *arg, char *err,
	    size_t errsz);
/*
 * Evict, in every repository, the least recently used entries past
 * max_bytes (a limit lowered since their saves) and unlink their
 * archives under dir; the worker calls it at start and hourly.
 */
void	cache_sweep(struct worker *, const char *dir, int64_t max_bytes);
/*
 * actions/setup-python's cache: input (pip, pipenv, poetry), after the
 * action chose the interpreter python (its python-path) of version: the
 * manager's cache directories restored under setup-python's key (the
 * dependency files' hashFiles), output cache-hit; without an exact hit
 * *post is the save the post phase owes, as for actions/cache.  0, or
 * -1 with err (the step fails).
 */
int	cache_setup_python(const struct cache_ctx *,
	    const struct action_env *env, const char *python,
	    const char *version, json_t **post, char *err, size_t errsz);

/*
 * actions/upload-artifact and actions/download-artifact (v4): what they
 * need of the job.  artifact.c holds what both use.
 */
#define ARTIFACT_NAME_MAX	256
struct artifact_ctx {
	struct worker	*w;		/* its database session */
	const char	*dir;		/* [artifacts] dir */
	int64_t		 run_id;
	int64_t		 job_id;
	int64_t		 run_attempt;	/* of the job: replaces older ones' */
	int		 retention_days; /* [artifacts]: default and most */
	const char	*page_url;	/* "<public_url>"; "" when unknown */
	int		 as_user;	/* touch the steps' files as uid/gid */
	uid_t		 uid;
	gid_t		 gid;
	struct action_tick tick;
};
/* The step's with: value of name, or NULL (owned by env). */
const char *artifact_input(const struct action_env *, const char *name);
/* 1 if name may name an artifact, else 0 with why in err. */
int	artifact_name_ok(const char *name, char *err, size_t errsz);
/* <dir>/<run>/<id>.zip: a new string. */
char	*artifact_file(const struct artifact_ctx *, const char *id);
/* A path input as an absolute path ("~", relative to the workspace);
 * new string, NULL when "~" is used and HOME is unset. */
char	*artifact_resolve(const struct action_env *, const char *path);
/* actions/upload_artifact.c: the step; 0, or -1 with err. */
int	artifact_upload(const struct artifact_ctx *,
	    const struct action_env *, char *err, size_t errsz);
/* actions/download_artifact.c: the step; 0, or -1 with err. */
int	artifact_download(const struct artifact_ctx *,
	    const struct action_env *, char *err, size_t errsz);

#endif
