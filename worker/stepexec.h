/*
 * stepexec: run one `run:` step the way GitHub's runner does (reference
 * 5.1): the script goes to a file, the shell's command template is
 * expanded around it, and the command runs in its own process group with
 * stdin from /dev/null and stdout+stderr merged into one pipe, read as it
 * arrives.  A timeout or a cancellation stops the whole group: SIGINT,
 * then SIGTERM, then SIGKILL (reference 5.7, 5.8).  Blocking code, for the
 * worker only.
 */
#ifndef KILN_STEPEXEC_H
#define KILN_STEPEXEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The runner's constants (ProcessInvoker.cs). */
#define STEPEXEC_SIGINT_GRACE_MS	7500
#define STEPEXEC_SIGTERM_GRACE_MS	2500

struct stepexec_spec {
	const char	 *shell;	/* `shell:`; NULL or "" = default */
	const char	 *script;	/* the `run:` text */
	/* Instead of shell and script: run this program (argv[0] looked
	 * up on the step's PATH) with these arguments.  NULL: the shell. */
	char *const	 *argv;
	char *const	 *envp;		/* whole environment; NULL = ours */
	const char	 *workdir;	/* must exist; NULL = current dir */
	const char	 *tmpdir;	/* script file dir; NULL = $TMPDIR or /tmp */
	int64_t		  timeout_ms;	/* <= 0: no timeout */
	/* Polled about every 100 ms with stepexec_run's arg; nonzero stops. */
	int		(*cancelled)(void *arg);
	int		  as_user;	/* run as uid/gid below (worker is root) */
	uid_t		  uid;
	gid_t		  gid;
	int64_t		  sigint_grace_ms;  /* 0 = STEPEXEC_SIGINT_GRACE_MS */
	int64_t		  sigterm_grace_ms; /* 0 = STEPEXEC_SIGTERM_GRACE_MS */
	const char	 *cgroup_procs;	/* the job's cgroup; NULL: none */
	/* The shell runs through this command (`<engine> exec ... ctr`),
	 * looked up there, default sh; NULL: here.  With shell only.  The
	 * command runs as the caller (as_user then only gives the script
	 * file to uid/gid, for a container running as them). */
	char *const	 *prefix;
};

struct stepexec_result {
	int	exit_code;	/* exit status, or 128 + signal when killed */
	int	signal;		/* terminating signal, 0 if it exited */
	int	timed_out;	/* stopped by timeout_ms */
	int	cancelled;	/* stopped because cancelled() said so */
	pid_t	pgid;		/* the step's process group: background
				   processes may outlive the step; the job
				   cleans them up */
};

/*
 * Run the step.  Output is handed to sink(data, len, arg) in chunks as it
 * arrives (sink may be NULL).  Returns 0 when the step ran, whatever its
 * exit status (see *res), or -1 with err when it could not start: unknown
 * or Windows-only shell, template without {0}, program not on PATH,
 * missing working directory, script file or fork/exec failure.  The
 * script file is removed afterwards.
 */
int	stepexec_run(const struct stepexec_spec *,
	    void (*sink)(const char *data, size_t len, void *arg), void *arg,
	    struct stepexec_result *res, char *err, size_t errsz);

#endif
