/*
 * bench/spawn.c: the most trivial jobs per second the steps alone allow on
 * this machine.  COUNT runs of `bash -e FILE`, PARALLEL processes each
 * starting its share one after another with posix_spawn() (a vfork, as
 * the worker starts a step) and waiting for it: no CI server runs such
 * steps faster here.  Prints the runs per second.
 *
 * usage: spawn COUNT PARALLEL FILE
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Run `bash -e file` n times, one after another; 0, or -1 on a failure. */
static int
spawn_serially(int n, char *file)
{
	char	*argv[] = { "bash", "-e", file, NULL };
	pid_t	 pid;
	int	 i, rc, status;

	for (i = 0; i < n; i++) {
		if ((rc = posix_spawnp(&pid, "bash", NULL, NULL, argv,
		    environ)) != 0) {
			fprintf(stderr, "spawn: bash: %s\n", strerror(rc));
			return -1;
		}
		while (waitpid(pid, &status, 0) == -1)
			if (errno != EINTR)
				return -1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "spawn: bash -e %s failed\n", file);
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct timespec	 t0, t1;
	int		 count, par, k, status, failed = 0;
	double		 secs;

	if (argc != 4 || (count = atoi(argv[1])) < 1 ||
	    (par = atoi(argv[2])) < 1 || par > 64 || count < par) {
		fprintf(stderr, "usage: spawn COUNT PARALLEL FILE "
		    "(1 <= PARALLEL <= 64, PARALLEL <= COUNT)\n");
		return 2;
	}
	count -= count % par;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (k = 0; k < par; k++) {
		switch (fork()) {
		case -1:
			perror("spawn: fork");
			failed = 1;
			break;
		case 0:
			_exit(spawn_serially(count / par, argv[3]) == 0 ? 0 : 1);
		}
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (failed)
		return 1;
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%d %.1f\n", count, count / secs);
	return 0;
}
