/*
 * spawn: the one place where kilnd and kiln-worker start another program.
 *
 * Every fork/exec goes through spawn_start() so that the rules hold
 * everywhere: the program is named by its full path (argv[0] too, never
 * searched on PATH), privileges are dropped in the child before anything
 * else it does, no descriptor of ours leaks into it, and a failure to
 * start (chdir, setuid, exec) is reported to the caller, naming the stage,
 * instead of as a mysterious exit status 127.
 */
#ifndef KILN_SPAWN_H
#define KILN_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spawn_spec {
	char *const	*argv;		/* argv[0] is the full path executed */
	char *const	*envp;		/* NULL: the caller's environment */
	const char	*dir;		/* chdir before exec; NULL: stay */
	int		 fd_in;		/* -1: /dev/null */
	int		 fd_out;	/* -1: /dev/null */
	int		 fd_err;	/* -1: /dev/null; -2: same as fd_out */
	int		 group;		/* 0: ours, 1: own process group,
					   2: own session */
	int		 as_user;	/* drop to uid/gid (and no groups) */
	uid_t		 uid;
	gid_t		 gid;
	int		 pdeathsig;	/* sent when the parent dies; 0: none */
	int		 reset_signals;	/* default dispositions, empty mask */
	const char	*cgroup_procs;	/* join this cgroup.procs first;
					   NULL: stay in ours */
};

/*
 * Start the program.  Returns its pid, or -1 with err ("exec PATH: why",
 * "working directory 'DIR': why", "switching to uid N: why", ...) when it
 * could not be started; nothing is left to reap then.
 */
pid_t	spawn_start(const struct spawn_spec *, char *err, size_t errsz);

/* waitpid() retried on EINTR; the raw status, or -1. */
int	spawn_wait(pid_t pid);

/*
 * Run to completion with stdout captured (at most outsz - 1 bytes, NUL
 * terminated; the rest is read and dropped) within timeout_ms.  The
 * program runs in its own process group, which is killed when it exits
 * or the time is up, so nothing it started outlives it.  Returns the wait
 * status, or -1 with err when it could not start or timed out.
 */
int	spawn_capture(const struct spawn_spec *, char *out, size_t outsz,
	    int64_t timeout_ms, char *err, size_t errsz);

/*
 * The full path of program on path (a PATH value; NULL: the default
 * "/usr/local/bin:/usr/bin:/bin"): the first regular executable file.
 * A program with a '/' is taken as it is.  NULL when absent; caller frees.
 */
char	*spawn_path_find(const char *program, const char *path);

/*
 * A copy of envp with name=value set (replacing an entry of that name),
 * for a child's environment; free it with spawn_env_free().
 */
char	**spawn_env_with(char *const *envp, const char *name,
	    const char *value);
void	 spawn_env_free(char **envp);

/* One line of an exit status: "exit status 2", "signal 9 (Killed)". */
void	spawn_status_text(int status, char *buf, size_t bufsz);

#endif
