/*
 * bench/mirror.c DIR N: N pushes to a bare repository, each followed by
 * one mirror_fetch() into a mirror and ten mirror_read_workflows() of the
 * new commit, timed, then mirror_tidy() as an idle worker does (timed
 * apart: no plan waits for it); prints the medians over the first 20
 * pushes (the baseline: a mirror of a few packs) and over the last 20,
 * the slowest fetch and tidy, and the packs the mirror ends with.  Built
 * and run by bench/mirror.sh.
 */
#include <sys/wait.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <git2.h>

#include "mirror.h"

#define WINDOW	20

static double
now_ms(void)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
count_packs(const char *mirror)
{
	char		 path[4200];
	struct dirent	*e;
	DIR		*d;
	int		 n = 0;

	snprintf(path, sizeof path, "%s/objects/pack", mirror);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".pack") != NULL)
			n++;
	closedir(d);
	return n;
}

int
main(int argc, char **argv)
{
	double		*fetch, *readwf, f0, r0, fetch_max = 0, tidy_max = 0;
	char		 cmd[9000], mirror[4200], url[4200], err[512], sha[41];
	struct mirror_file *files;
	size_t		 nfiles;
	int		 n, i, k, st, tidies = 0;

	if (argc != 3 || (n = atoi(argv[2])) < 2 * WINDOW) {
		fprintf(stderr, "usage: mirror DIR N (N >= %d)\n", 2 * WINDOW);
		return 2;
	}
	snprintf(mirror, sizeof mirror, "%s/mirror.git", argv[1]);
	snprintf(url, sizeof url, "file://%s/r.git", argv[1]);
	fetch = calloc(n, sizeof *fetch);
	readwf = calloc(n, sizeof *readwf);
	if (fetch == NULL || readwf == NULL)
		return 1;
	git_libgit2_init();
	for (i = 0; i < n; i++) {
		snprintf(cmd, sizeof cmd, "cd '%s/w' && echo %d >n && "
		    "git add n && git -c user.name=b -c user.email=b@b commit "
		    "-qm %d && git push -q ../r.git HEAD:main", argv[1], i, i);
		st = system(cmd);
		if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "mirror: push %d failed\n", i);
			return 1;
		}
		f0 = now_ms();
		if (mirror_fetch(mirror, url, err, sizeof err) != 0) {
			fprintf(stderr, "mirror: fetch %d: %s\n", i, err);
			return 1;
		}
		fetch[i] = now_ms() - f0;
		if (mirror_resolve(mirror, "refs/heads/main", sha, err,
		    sizeof err) != 0) {
			fprintf(stderr, "mirror: %s\n", err);
			return 1;
		}
		r0 = now_ms();
		for (k = 0; k < 10; k++) {
			if (mirror_read_workflows(mirror, sha, &files, &nfiles,
			    err, sizeof err) != 0) {
				fprintf(stderr, "mirror: %s\n", err);
				return 1;
			}
			mirror_files_free(files, nfiles);
		}
		readwf[i] = (now_ms() - r0) / 10;
		r0 = now_ms();
		if (mirror_tidy(mirror) == 1)
			tidies++;
		if (now_ms() - r0 > tidy_max)
			tidy_max = now_ms() - r0;
		if (fetch[i] > fetch_max)
			fetch_max = fetch[i];
	}
	printf("first %d pushes (baseline): fetch p50 %.2f ms, reading the "
	    "workflows p50 %.3f ms\n", WINDOW, median(fetch, WINDOW),
	    median(readwf, WINDOW));
	printf("pushes %d-%d: fetch p50 %.2f ms, reading the workflows p50 "
	    "%.3f ms; the mirror has %d packs\n", n - WINDOW + 1, n,
	    median(fetch + n - WINDOW, WINDOW),
	    median(readwf + n - WINDOW, WINDOW), count_packs(mirror));
	printf("slowest fetch %.2f ms; %d idle tidies combined packs, the "
	    "slowest %.2f ms\n", fetch_max, tidies, tidy_max);
	git_libgit2_shutdown();
	free(fetch);
	free(readwf);
	return 0;
}
