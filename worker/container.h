/*
 * container: a job's containers through the host's engine, podman or
 * docker's command line (reference 4.x: jobs.<id>.container, services).
 *
 * A job with a `container:` gets one container kept alive for the whole
 * job (`tail -f /dev/null`), its `run:` steps executed in it with
 * `<engine> exec`.  The job's directory is mounted at its own path, so
 * every path the worker hands a step (GITHUB_WORKSPACE, GITHUB_ENV,
 * GITHUB_OUTPUT, the script file) means the same inside and outside; the
 * workspace, a home and the event's directory are also mounted where
 * GitHub's runner puts them (/github/workspace, /github/home,
 * /github/workflow).  Services run on a network of the job's own, reached
 * from the job container by their label (an alias, and a hosts entry for
 * engines without DNS on their networks) and from a host job through
 * their `ports:` published on 127.0.0.1.
 *
 * Everything is labelled kiln.job=<id> and kiln.worker=<work_dir>:<name>
 * (names and job ids repeat across installations on one host) and removed
 * at the job's end whatever its outcome; a worker that was killed leaves an
 * unlocked marker file, and the next worker to start removes what is left
 * (container_reap).  Blocking code, for the worker only.
 */
#ifndef KILN_CONTAINER_H
#define KILN_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct container_engine {
	char	*name;		/* "podman" or "docker" */
	char	*program;	/* its full path */
	char	**opts;		/* [containers] engine_options, NULL-ended */
	char	**run_opts;	/* [containers] run_options, NULL-ended */
};

/*
 * Pick the engine: want is auto|podman|docker|none; auto takes the first
 * of podman and docker on path whose `info` succeeds (a docker client
 * without its daemon is not usable).  Returns 0, or -1 with why none is
 * usable in err.
 */
int	container_engine_pick(struct container_engine *, const char *want,
	    const char *opts, const char *run_opts, const char *path,
	    char *err, size_t errsz);
void	container_engine_free(struct container_engine *);

/* Reports progress lines to the job's log. */
typedef void (*container_log_fn)(void *arg, const char *line);

struct container_job {
	const struct container_engine *e;
	int64_t		 job_id;
	char		*prefix;	/* kiln-<worker>-<dir hash>-<job> */
	char		*worker;	/* <work_dir>:<name>, for labels */
	char		*network;	/* NULL until created */
	char		*job_ctr;	/* the job container, or NULL */
	int		 has_bash;	/* the job container's image has bash */
	char		*path;		/* its PATH, or NULL when unknown */
	char		**created;	/* every container, to remove */
	size_t		 ncreated;
	char		*hosts;		/* --add-host arguments, "\n"-separated */
	json_t		*services_ctx;	/* job.services */
	json_t		*container_ctx;	/* job.container, or NULL */
	char		*user;		/* uid:gid the job container and docker
					   actions run as ([workers] run_as;
					   set after init), or NULL: the
					   image's; host options refused */
	container_log_fn log;
	void		*log_arg;
};

/* A job container's PATH when its image's could not be read. */
#define CTR_DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The directories a job's containers mount. */
struct container_dirs {
	const char	*job_dir;	/* mounted at its own path */
	const char	*workspace;	/* -> /github/workspace */
	const char	*home;		/* -> /github/home */
	const char	*workflow;	/* -> /github/workflow (event.json) */
};

void	container_job_init(struct container_job *, const struct
	    container_engine *, const char *work_dir, const char *worker,
	    int64_t job_id,
	    container_log_fn, void *log_arg);

/*
 * Start the job's network, its services (health checks awaited, bounded)
 * and its container (container: JSON as the workflow says, expressions
 * already evaluated; NULL: none).  -1 with err naming the key and the
 * engine's words when something does not start; container_job_stop()
 * still removes what was started.
 */
int	container_job_start(struct container_job *, const json_t *container,
	    const json_t *services, const struct container_dirs *,
	    char *err, size_t errsz);

/*
 * The command that runs argv-to-come in the job container: engine,
 * options, exec, -w workdir, -e NAME for each name of envp (values are
 * taken from the engine client's environment, never on a command line),
 * -e PATH=path when path is not NULL (the image's PATH with GITHUB_PATH's
 * additions), the container.  NULL-ended; free with container_argv_free().
 */
char	**container_exec_argv(const struct container_job *,
	    char *const *envp, const char *workdir, const char *path);

/*
 * Run a docker action's image (docker://... or built): the workspace and
 * the job's directory mounted as for a job container, args after the
 * image, entrypoint when not NULL.  Returns the argv for stepexec (the
 * engine client stays in front so a cancellation reaches it); free with
 * container_argv_free().
 */
char	**container_run_argv(const struct container_job *, const char *image,
	    const char *entrypoint, char *const *args, char *const *envp,
	    const struct container_dirs *);

/* Build dir's dockerfile into a tag named for the job; 0 or -1 + err. */
int	container_build(const struct container_job *, const char *dir,
	    const char *dockerfile, char **tag, char *err, size_t errsz);

/* Remove every container and the network of the job, and its images. */
void	container_job_stop(struct container_job *);

void	container_argv_free(char **);

/*
 * The words of s as a shell splits them (blanks; '...', "..." and \
 * quote): options and a docker:// step's args.  NULL with err when a
 * quote is unbalanced; free with container_argv_free().
 */
char	**container_words(const char *s, char *err, size_t errsz);

/*
 * Remove what killed workers left: each worker that created containers
 * holds a lock on <work_dir>/containers/<name> while it lives
 * (container_mark); a marker nobody holds is a dead worker's, and
 * whatever carries its kiln.worker label is removed.  At a worker's
 * start (kilnd starts one in place of a worker that died).
 */
void	container_reap(const char *work_dir, const char *want,
	    const char *opts, const char *run_opts);

/* Create and lock this worker's marker once (*fd, -1 at first); 0/-1. */
int	container_mark(const char *work_dir, const char *worker, int *fd);

#endif
