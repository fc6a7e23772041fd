/*
 * Unit tests for worker/mirror against real git repositories.  Each test
 * gets a fresh temporary directory (made by the checked fixture, in the
 * test's own process) holding:
 *
 *   upstream.git   the bare "GitHub" repository, fed by
 *   work/          a work clone made with the git command line:
 *     c1 (tag v1, annotated tag v1a): .github/workflows/{ci.yml, a.yaml,
 *        README.md, notyml.yml.txt, link.yml -> ci.yml, sub/nested.yml},
 *        src/hello.txt, run.sh (executable), keep.txt, old.txt
 *     c2 (main): renames old.txt to new.txt, modifies src/hello.txt and
 *        ci.yml, deletes keep.txt, adds .github/workflows/b.yml
 *     c3 (feature, from c1): adds feature.txt; also refs/pull/1/head
 *
 * mirror.c is included directly: unit-test programs link only common/.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../worker/mirror.c"
#include "harness.h"

#define TEST_TIMEOUT	300	/* seconds; valgrind is slow */

/* The fixture's world; set up afresh in each test's process. */
static struct {
	char	*dir;		/* the test's temporary directory */
	char	*upstream;	/* <dir>/upstream.git */
	char	*url;		/* file://<upstream> */
	char	*mirror;	/* <dir>/mirrors/owner/repo.git (absent) */
	char	 c1[41], c2[41], c3[41];
} fx;

static char	errbuf[512];
static char	self_path[PATH_MAX];	/* this program, set by main */

/* Run a shell command in the test directory; the test fails unless 0. */
static void KILN_PRINTF(1, 2)
sh(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd, *full;
	int	 st;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	full = xasprintf("cd '%s' && { %s\n}", fx.dir, cmd);
	st = system(full);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "command failed (%d): %s", st, cmd);
	free(full);
	free(cmd);
}

/* Exit status of a shell command run in the test directory. */
static int KILN_PRINTF(1, 2)
sh_status(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd, *full;
	int	 st;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	full = xasprintf("cd '%s' && { %s\n} >/dev/null 2>&1", fx.dir, cmd);
	st = system(full);
	free(full);
	free(cmd);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Stdout of a shell command, trailing newlines removed; caller frees. */
static char * KILN_PRINTF(1, 2)
sh_out(const char *fmt, ...)
{
	va_list		 ap;
	struct buf	 b = { 0 };
	char		*cmd, *full, chunk[4096];
	FILE		*fp;
	size_t		 n;
	int		 st;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	full = xasprintf("cd '%s' && { %s\n}", fx.dir, cmd);
	fp = popen(full, "r");
	ck_assert_msg(fp != NULL, "popen %s", cmd);
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		buf_add(&b, chunk, n);
	st = pclose(fp);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "command failed (%d): %s", st, cmd);
	buf_add(&b, "", 0);
	while (b.len > 0 && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	free(full);
	free(cmd);
	return buf_steal(&b);
}

static void
sh_sha(char out[41], const char *rev)
{
	char	*s = sh_out("git -C upstream.git rev-parse '%s^{commit}'", rev);

	ck_assert_uint_eq(strlen(s), 40);
	memcpy(out, s, 41);
	free(s);
}

static char *
path_in(const char *rel)
{
	return xasprintf("%s/%s", fx.dir, rel);
}

static char *
read_text(const char *rel)
{
	char	*p = path_in(rel), *s;
	size_t	 len;

	s = file_read_all(p, 1 << 20, &len);
	ck_assert_msg(s != NULL, "read %s", p);
	free(p);
	return s;
}

static void
setup(void)
{
	char	 tmpl[] = "/tmp/kiln-test-mirror.XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	fx.dir = xstrdup(tmpl);
	fx.upstream = path_in("upstream.git");
	fx.url = xasprintf("file://%s", fx.upstream);
	fx.mirror = path_in("mirrors/owner/repo.git");

	sh("set -e\n"
	    "git init -q --bare -b main upstream.git\n"
	    "git init -q -b main work\n"
	    "cd work\n"
	    "git remote add origin '%s'\n"
	    "mkdir -p .github/workflows/sub src\n"
	    "printf 'name: ci\\non: push\\n' > .github/workflows/ci.yml\n"
	    "printf 'name: a\\n' > .github/workflows/a.yaml\n"
	    "printf 'not a workflow\\n' > .github/workflows/README.md\n"
	    "printf 'x\\n' > .github/workflows/notyml.yml.txt\n"
	    "printf 'name: nested\\n' > .github/workflows/sub/nested.yml\n"
	    "ln -s ci.yml .github/workflows/link.yml\n"
	    "printf 'hello\\n' > src/hello.txt\n"
	    "printf '#!/bin/sh\\necho hi\\n' > run.sh\n"
	    "chmod +x run.sh\n"
	    "printf 'keep\\n' > keep.txt\n"
	    "printf 'old\\n' > old.txt\n"
	    "git add -A\n"
	    "git commit -qm one\n"
	    "git tag v1\n"
	    "git tag -a v1a -m annotated\n"
	    "git push -q origin main v1 v1a\n"
	    "git mv old.txt new.txt\n"
	    "printf 'more\\n' >> src/hello.txt\n"
	    "git rm -q keep.txt\n"
	    "printf 'name: b\\n' > .github/workflows/b.yml\n"
	    "printf 'name: ci\\non: [push]\\n' > .github/workflows/ci.yml\n"
	    "git add -A\n"
	    "git commit -qm two\n"
	    "git push -q origin main\n"
	    "git checkout -qb feature HEAD~1\n"
	    "printf 'f\\n' > feature.txt\n"
	    "git add -A\n"
	    "git commit -qm three\n"
	    "git push -q origin feature\n"
	    "git push -q origin feature:refs/pull/1/head\n"
	    "git checkout -q main\n", fx.upstream);
	sh_sha(fx.c1, "v1");
	sh_sha(fx.c2, "main");
	sh_sha(fx.c3, "feature");
}

static void
teardown(void)
{
	if (fx.dir != NULL && getenv("KILN_KEEP_TEST_DIR") == NULL) {
		if (harness_rm_rf(fx.dir) != 0)
			fprintf(stderr, "could not remove %s\n", fx.dir);
	}
	free(fx.dir);
	free(fx.upstream);
	free(fx.url);
	free(fx.mirror);
	memset(&fx, 0, sizeof fx);
}

/* Fetch fx.url into fx.mirror; the test fails on error. */
static void
fetch(void)
{
	ck_assert_msg(mirror_fetch(fx.mirror, fx.url, errbuf,
	    sizeof errbuf) == 0, "fetch: %s", errbuf);
}

static void
expect_resolve(const char *rev, const char *want)
{
	char	out[41];

	ck_assert_msg(mirror_resolve(fx.mirror, rev, out, errbuf,
	    sizeof errbuf) == 0, "resolve %s: %s", rev, errbuf);
	ck_assert_str_eq(out, want);
}

static void
expect_no_resolve(const char *rev)
{
	char	out[41];

	errbuf[0] = '\0';
	ck_assert_int_eq(mirror_resolve(fx.mirror, rev, out, errbuf,
	    sizeof errbuf), -1);
	ck_assert_msg(strstr(errbuf, rev) != NULL, "message \"%s\" lacks %s",
	    errbuf, rev);
	ck_assert_str_eq(out, "");
}

START_TEST(test_fetch_resolve)
{
	char	prefix[8], *s;

	fetch();
	expect_resolve("main", fx.c2);
	expect_resolve("refs/heads/main", fx.c2);
	expect_resolve("HEAD", fx.c2);		/* the default branch */
	expect_resolve("feature", fx.c3);
	expect_resolve("v1", fx.c1);
	expect_resolve("v1a", fx.c1);		/* annotated: peeled */
	expect_resolve("refs/tags/v1a", fx.c1);
	expect_resolve("refs/pull/1/head", fx.c3);
	expect_resolve(fx.c1, fx.c1);
	memcpy(prefix, fx.c1, 7);
	prefix[7] = '\0';
	expect_resolve(prefix, fx.c1);

	/* The mirror's shape, for people who open it with git. */
	s = sh_out("git -C '%s' symbolic-ref HEAD", fx.mirror);
	ck_assert_str_eq(s, "refs/heads/main");
	free(s);
	s = sh_out("git -C '%s' remote get-url origin", fx.mirror);
	ck_assert_str_eq(s, fx.url);
	free(s);
	s = sh_out("git -C '%s' config --get-all remote.origin.fetch",
	    fx.mirror);
	ck_assert_str_eq(s, "+refs/heads/*:refs/heads/*\n"
	    "+refs/tags/*:refs/tags/*\n+refs/pull/*:refs/pull/*");
	free(s);
	ck_assert_str_eq((s = sh_out("git -C '%s' rev-parse "
	    "--is-bare-repository", fx.mirror)), "true");
	free(s);
	/* libgit2 truncates FETCH_HEAD whatever it is told; nothing in it. */
	ck_assert_int_eq(sh_status("test -s '%s/FETCH_HEAD'", fx.mirror), 1);
}
END_TEST

START_TEST(test_refetch)
{
	struct stat	before, after;
	char		c4[41];

	/* A plain path works as well as a file:// URL. */
	ck_assert_msg(mirror_fetch(fx.mirror, fx.upstream, errbuf,
	    sizeof errbuf) == 0, "fetch: %s", errbuf);
	expect_resolve("main", fx.c2);

	sh("set -e\ncd work\n"
	    "printf 'four\\n' > four.txt\n"
	    "git add -A\n"
	    "git commit -qm four\n"
	    "git push -q origin main\n"
	    "git push -q origin :feature\n"
	    "git tag -f v1 main >/dev/null\n"
	    "git push -q -f origin v1\n"
	    "git push -q origin main:refs/heads/new\n");
	sh_sha(c4, "main");

	fetch();	/* switching to the URL is fine too */
	expect_resolve("main", c4);
	expect_resolve("new", c4);
	expect_resolve("v1", c4);		/* a moved tag follows */
	expect_no_resolve("feature");		/* pruned ... */
	expect_resolve(fx.c3, fx.c3);		/* ... its commit stays */
	expect_resolve("refs/pull/1/head", fx.c3);

	/*
	 * Fetching again with nothing new is a no-op, down to the mirror's
	 * directory: no file made and removed in it (HEAD.lock rewriting an
	 * unchanged HEAD was one, an inode allocated per fetch).
	 */
	ck_assert_int_eq(stat(fx.mirror, &before), 0);
	usleep(20000);	/* past the file system's timestamp granularity */
	fetch();
	expect_resolve("main", c4);
	ck_assert_int_eq(stat(fx.mirror, &after), 0);
	ck_assert_msg(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
	    before.st_mtim.tv_nsec == after.st_mtim.tv_nsec,
	    "a fetch with nothing new changed the mirror's directory");
}
END_TEST

/* Workers sharing a mirror: concurrent first fetches all succeed. */
START_TEST(test_concurrent_fetch)
{
	pid_t	pids[4];
	size_t	i;
	int	st;

	for (i = 0; i < nitems(pids); i++) {
		pids[i] = fork();
		ck_assert_int_ne(pids[i], -1);
		if (pids[i] == 0) {
			/* A program of its own, as a worker would be. */
			execl(self_path, "test_mirror", "fetch",
			    fx.mirror, fx.url, (char *)NULL);
			_exit(127);
		}
	}
	for (i = 0; i < nitems(pids); i++) {
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "fetch %zu failed", i);
	}
	expect_resolve("main", fx.c2);
	ck_assert_int_eq(sh_status("git -C '%s' fsck --no-dangling",
	    fx.mirror), 0);
}
END_TEST

START_TEST(test_fetch_errors)
{
	const char	*bad = "file:///nonexistent/kiln/repo.git";
	char		 out[41], *s, *tree;

	/* A bad URL on a fresh mirror. */
	ck_assert_int_eq(mirror_fetch(fx.mirror, bad, errbuf, sizeof errbuf),
	    -1);
	ck_assert_msg(strstr(errbuf, bad) != NULL, "%s", errbuf);
	ck_assert_msg(strstr(errbuf, ": ") != NULL, "no reason: %s", errbuf);
	ck_assert_int_eq(mirror_fetch(fx.mirror, "", errbuf, sizeof errbuf),
	    -1);
	ck_assert_int_eq(mirror_fetch(fx.mirror, NULL, errbuf, sizeof errbuf),
	    -1);

	/* The mirror recovers, and a later failure leaves it usable. */
	fetch();
	sh("cd work && printf 'x\\n' > x.txt && git add -A && "
	    "git commit -qm x && git push -q origin main");
	ck_assert_int_eq(mirror_fetch(fx.mirror, bad, errbuf, sizeof errbuf),
	    -1);
	expect_resolve("main", fx.c2);
	s = sh_out("git -C '%s' remote get-url origin", fx.mirror);
	ck_assert_str_eq(s, fx.url);		/* only a good URL is kept */
	free(s);
	ck_assert_int_eq(sh_status("git -C '%s' fsck --no-dangling",
	    fx.mirror), 0);

	/* Revisions that name nothing, or not a commit. */
	expect_no_resolve("0123456789abcdef0123456789abcdef01234567");
	ck_assert_int_eq(errno, ENOENT);
	expect_no_resolve(MIRROR_ZERO_SHA);
	expect_no_resolve("nosuchbranch");
	expect_no_resolve("refs/heads/nosuch");
	expect_no_resolve("main~1");		/* no revparse expressions */
	expect_no_resolve("");
	tree = sh_out("git -C upstream.git rev-parse 'v1^{tree}'");
	expect_no_resolve(tree);
	ck_assert_msg(strstr(errbuf, "not a commit") != NULL, "%s", errbuf);
	free(tree);

	/* Not a mirror at all. */
	s = path_in("work");
	ck_assert_int_eq(mirror_resolve(fx.dir, "main", out, errbuf,
	    sizeof errbuf), -1);
	ck_assert_msg(strstr(errbuf, "open mirror") != NULL, "%s", errbuf);
	free(s);

	/* A NULL or tiny error buffer is fine. */
	ck_assert_int_eq(mirror_resolve(fx.mirror, "nosuch", out, NULL, 0), -1);
	ck_assert_int_eq(mirror_resolve(fx.mirror, "nosuch", out, errbuf, 4),
	    -1);
	ck_assert_str_eq(errbuf, "unk");
}
END_TEST

static void
expect_file(const struct mirror_file *f, const char *path, const char *data)
{
	ck_assert_str_eq(f->path, path);
	ck_assert_ptr_null(f->error);
	ck_assert_ptr_nonnull(f->data);
	ck_assert_uint_eq(f->len, strlen(data));
	ck_assert_str_eq(f->data, data);
}

START_TEST(test_read_workflows)
{
	struct mirror_file	*files;
	size_t			 n;
	char			 big[41], many[41], none[41];

	fetch();
	ck_assert_msg(mirror_read_workflows(fx.mirror, fx.c1, &files, &n,
	    errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_uint_eq(n, 2);
	expect_file(&files[0], ".github/workflows/a.yaml", "name: a\n");
	expect_file(&files[1], ".github/workflows/ci.yml",
	    "name: ci\non: push\n");
	mirror_files_free(files, n);

	ck_assert_msg(mirror_read_workflows(fx.mirror, "main", &files, &n,
	    errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_uint_eq(n, 3);
	expect_file(&files[0], ".github/workflows/a.yaml", "name: a\n");
	expect_file(&files[1], ".github/workflows/b.yml", "name: b\n");
	expect_file(&files[2], ".github/workflows/ci.yml",
	    "name: ci\non: [push]\n");
	mirror_files_free(files, n);

	/*
	 * Branches made here: no workflow directory; a file of exactly the
	 * limit beside one a byte over it; one file more than allowed.
	 */
	sh("set -e\ncd work\n"
	    "git checkout -q --orphan none\n"
	    "git rm -rq --cached .\n"
	    "git clean -fdqx\n"
	    "printf 'readme\\n' > README\n"
	    "git add README\n"
	    "git commit -qm none\n"
	    "git push -q origin none\n"
	    "git checkout -q main\n"
	    "git checkout -q -b big\n"
	    "mkdir -p .github/workflows\n"
	    "head -c %d /dev/zero | tr '\\0' a > .github/workflows/ok.yml\n"
	    "head -c %d /dev/zero | tr '\\0' b > .github/workflows/big.yml\n"
	    "git add -A\n"
	    "git commit -qm big\n"
	    "git push -q origin big\n"
	    "git checkout -q main\n"
	    "git checkout -q -b many\n"
	    "i=0; while [ $i -lt %d ]; do "
	    "echo \"name: w$i\" > .github/workflows/w$i.yml; i=$((i+1)); done\n"
	    "git add -A\n"
	    "git commit -qm many\n"
	    "git push -q origin many\n"
	    "git checkout -q main\n",
	    MIRROR_MAX_WORKFLOW_SIZE, MIRROR_MAX_WORKFLOW_SIZE + 1,
	    MIRROR_MAX_WORKFLOWS - 2);
	fetch();
	sh_sha(none, "none");
	sh_sha(big, "big");
	sh_sha(many, "many");

	files = (void *)1;
	n = 99;
	ck_assert_msg(mirror_read_workflows(fx.mirror, none, &files, &n,
	    errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(files);

	ck_assert_msg(mirror_read_workflows(fx.mirror, big, &files, &n,
	    errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_uint_eq(n, 5);	/* a, b, big, ci, ok */
	ck_assert_str_eq(files[2].path, ".github/workflows/big.yml");
	ck_assert_ptr_null(files[2].data);
	ck_assert_uint_eq(files[2].len, MIRROR_MAX_WORKFLOW_SIZE + 1);
	ck_assert_ptr_nonnull(files[2].error);
	ck_assert_msg(strstr(files[2].error, "big.yml") != NULL &&
	    strstr(files[2].error, "1048577") != NULL, "%s", files[2].error);
	ck_assert_str_eq(files[4].path, ".github/workflows/ok.yml");
	ck_assert_ptr_null(files[4].error);
	ck_assert_uint_eq(files[4].len, MIRROR_MAX_WORKFLOW_SIZE);
	ck_assert_uint_eq(strlen(files[4].data), MIRROR_MAX_WORKFLOW_SIZE);
	mirror_files_free(files, n);

	/* 3 from main + 254 = one over the limit. */
	ck_assert_int_eq(mirror_read_workflows(fx.mirror, many, &files, &n,
	    errbuf, sizeof errbuf), -1);
	ck_assert_msg(strstr(errbuf, "more than 256") != NULL, "%s", errbuf);
	ck_assert_ptr_null(files);
	ck_assert_uint_eq(n, 0);
	/* ... and exactly the limit is fine. */
	sh("set -e\ncd work\ngit checkout -q many\n"
	    "git rm -q .github/workflows/w0.yml\ngit commit -qm fewer\n"
	    "git push -q origin many\ngit checkout -q main\n");
	fetch();
	ck_assert_msg(mirror_read_workflows(fx.mirror, "many", &files, &n,
	    errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_uint_eq(n, MIRROR_MAX_WORKFLOWS);
	ck_assert_str_eq(files[0].path, ".github/workflows/a.yaml");
	ck_assert_str_eq(files[n - 1].path, ".github/workflows/w99.yml");
	mirror_files_free(files, n);

	ck_assert_int_eq(mirror_read_workflows(fx.mirror, "nosuch", &files,
	    &n, errbuf, sizeof errbuf), -1);
	ck_assert_msg(strstr(errbuf, "nosuch") != NULL, "%s", errbuf);
	mirror_files_free(NULL, 0);
}
END_TEST

START_TEST(test_read_file)
{
	char	*data;
	size_t	 len;

	fetch();
	ck_assert_msg(mirror_read_file(fx.mirror, fx.c1, "src/hello.txt", 100,
	    &data, &len, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_str_eq(data, "hello\n");
	ck_assert_uint_eq(len, 6);
	free(data);
	ck_assert_msg(mirror_read_file(fx.mirror, "main", "src/hello.txt", 11,
	    &data, &len, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_str_eq(data, "hello\nmore\n");
	free(data);

	/* Failures, each with its errno. */
	ck_assert_int_eq(mirror_read_file(fx.mirror, "main", "src/hello.txt",
	    10, &data, &len, errbuf, sizeof errbuf), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_msg(strstr(errbuf, "11 bytes") != NULL, "%s", errbuf);
	ck_assert_ptr_null(data);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(mirror_read_file(fx.mirror, "main", "old.txt", 100,
	    &data, &len, errbuf, sizeof errbuf), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_msg(strstr(errbuf, "old.txt") != NULL, "%s", errbuf);
	ck_assert_int_eq(mirror_read_file(fx.mirror, "main", "nodir/x", 100,
	    &data, &len, errbuf, sizeof errbuf), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(mirror_read_file(fx.mirror, "main", "src", 100,
	    &data, &len, errbuf, sizeof errbuf), -1);
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_int_eq(mirror_read_file(fx.mirror, "main",
	    ".github/workflows/link.yml", 100, &data, &len, errbuf,
	    sizeof errbuf), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(mirror_read_file(fx.mirror, "main", "", 100,
	    &data, &len, errbuf, sizeof errbuf), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(mirror_read_file(fx.mirror, "main", "/src/hello.txt",
	    100, &data, &len, errbuf, sizeof errbuf), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(mirror_read_file(fx.mirror, "nosuch", "run.sh", 100,
	    &data, &len, errbuf, sizeof errbuf), -1);
	ck_assert_int_eq(errno, EIO);	/* not ENOENT: no path to try next */
	ck_assert_msg(strstr(errbuf, "nosuch") != NULL, "%s", errbuf);
}
END_TEST

/* Changed paths base..head must be exactly want (NULL-terminated). */
static void
expect_changed(const char *base, const char *head, const char *const *want)
{
	char	**paths;
	size_t	  n, i;

	ck_assert_msg(mirror_changed_paths(fx.mirror, base, head, &paths, &n,
	    errbuf, sizeof errbuf) == 0, "%s", errbuf);
	for (i = 0; want[i] != NULL; i++) {
		ck_assert_msg(i < n, "missing %s", want[i]);
		ck_assert_str_eq(paths[i], want[i]);
	}
	ck_assert_msg(n == i, "%zu paths, want %zu (extra %s)", n, i,
	    n > i ? paths[i] : "");
	if (n == 0)
		ck_assert_ptr_null(paths);
	mirror_paths_free(paths, n);
}

START_TEST(test_changed_paths)
{
	static const char *const c1_c2[] = {
		".github/workflows/b.yml",	/* added */
		".github/workflows/ci.yml",	/* modified */
		"keep.txt",			/* deleted */
		"new.txt",			/* renamed: both names */
		"old.txt",
		"src/hello.txt",		/* modified */
		NULL
	};
	static const char *const c2_c1[] = {
		".github/workflows/b.yml", ".github/workflows/ci.yml",
		"keep.txt", "new.txt", "old.txt", "src/hello.txt", NULL
	};
	static const char *const all_c1[] = {
		".github/workflows/README.md", ".github/workflows/a.yaml",
		".github/workflows/ci.yml", ".github/workflows/link.yml",
		".github/workflows/notyml.yml.txt",
		".github/workflows/sub/nested.yml", "keep.txt", "old.txt",
		"run.sh", "src/hello.txt", NULL
	};
	static const char *const feature[] = { "feature.txt", NULL };
	static const char *const nothing[] = { NULL };
	static const char *const modechange[] = { "src/hello.txt", NULL };
	char	mb[41], c5[41], **paths;
	size_t	n;

	fetch();
	expect_changed(fx.c1, fx.c2, c1_c2);
	expect_changed("main", "v1", c2_c1);
	expect_changed(NULL, fx.c1, all_c1);
	expect_changed("", fx.c1, all_c1);
	expect_changed(MIRROR_ZERO_SHA, fx.c1, all_c1);
	expect_changed(fx.c2, fx.c2, nothing);

	/* A new branch: diff from where it leaves the default branch. */
	ck_assert_msg(mirror_merge_base(fx.mirror, "main", fx.c3, mb, errbuf,
	    sizeof errbuf) == 0, "%s", errbuf);
	expect_changed(mb, fx.c3, feature);

	/* A mode change alone is a change. */
	sh("set -e\ncd work\nchmod +x src/hello.txt\n"
	    "git commit -qam mode\ngit push -q origin main\n");
	sh_sha(c5, "main");
	fetch();
	expect_changed(fx.c2, c5, modechange);

	ck_assert_int_eq(mirror_changed_paths(fx.mirror,
	    "0123456789abcdef0123456789abcdef01234567", fx.c2, &paths, &n,
	    errbuf, sizeof errbuf), -1);
	ck_assert_msg(strstr(errbuf,
	    "0123456789abcdef0123456789abcdef01234567") != NULL, "%s", errbuf);
	ck_assert_ptr_null(paths);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(mirror_changed_paths(fx.mirror, fx.c1, "nosuch",
	    &paths, &n, errbuf, sizeof errbuf), -1);
	ck_assert_msg(strstr(errbuf, "nosuch") != NULL, "%s", errbuf);
}
END_TEST

START_TEST(test_merge_base)
{
	char	out[41];

	sh("set -e\ncd work\ngit checkout -q --orphan lonely\n"
	    "git commit -qm lonely\ngit push -q origin lonely\n"
	    "git checkout -q main\n");
	fetch();
	ck_assert_int_eq(mirror_merge_base(fx.mirror, "main", "feature", out,
	    errbuf, sizeof errbuf), 0);
	ck_assert_str_eq(out, fx.c1);
	ck_assert_int_eq(mirror_merge_base(fx.mirror, fx.c1, fx.c2, out,
	    errbuf, sizeof errbuf), 0);
	ck_assert_str_eq(out, fx.c1);
	ck_assert_int_eq(mirror_merge_base(fx.mirror, fx.c2, fx.c2, out,
	    errbuf, sizeof errbuf), 0);
	ck_assert_str_eq(out, fx.c2);

	ck_assert_int_eq(mirror_merge_base(fx.mirror, "main", "lonely", out,
	    errbuf, sizeof errbuf), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_msg(strstr(errbuf, "no common ancestor") != NULL, "%s",
	    errbuf);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(mirror_merge_base(fx.mirror, "main", "nosuch", out,
	    errbuf, sizeof errbuf), -1);
	ck_assert_msg(strstr(errbuf, "nosuch") != NULL, "%s", errbuf);
}
END_TEST

/* Output of a git command in the workspace ws. */
static char *
ws_git(const char *ws, const char *args)
{
	return sh_out("git -C %s %s", ws, args);
}

static void
expect_ws(const char *ws, const char *args, const char *want)
{
	char	*s = ws_git(ws, args);

	ck_assert_msg(strcmp(s, want) == 0, "git %s in %s: \"%s\", want "
	    "\"%s\"", args, ws, s, want);
	free(s);
}

static void
checkout(const char *sha, const char *ref, const char *url, const char *ws)
{
	char	*dest = path_in(ws);

	sh("mkdir %s", ws);
	ck_assert_msg(mirror_checkout(fx.mirror, sha, ref, url, dest, errbuf,
	    sizeof errbuf) == 0, "checkout %s: %s", sha, errbuf);
	free(dest);
}

START_TEST(test_checkout)
{
	const char	*url = "https://github.com/owner/repo.git";
	struct stat	 st;
	char		*p, *s, c6[41];

	fetch();
	checkout(fx.c2, "refs/heads/main", url, "ws");
	s = read_text("ws/src/hello.txt");
	ck_assert_str_eq(s, "hello\nmore\n");
	free(s);
	s = read_text("ws/.github/workflows/ci.yml");
	ck_assert_str_eq(s, "name: ci\non: [push]\n");
	free(s);
	ck_assert_int_eq(sh_status("test -f ws/new.txt"), 0);
	ck_assert_int_eq(sh_status("test -e ws/old.txt"), 1);
	ck_assert_int_eq(sh_status("test -e ws/keep.txt"), 1);
	p = path_in("ws/run.sh");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_msg(st.st_mode & S_IXUSR, "run.sh not executable");
	free(p);
	p = path_in("ws/src/hello.txt");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_msg(!(st.st_mode & S_IXUSR), "hello.txt executable");
	free(p);
	s = sh_out("readlink ws/.github/workflows/link.yml");
	ck_assert_str_eq(s, "ci.yml");
	free(s);

	expect_ws("ws", "rev-parse HEAD", fx.c2);
	expect_ws("ws", "log -1 --format=%H", fx.c2);
	expect_ws("ws", "status --porcelain", "");
	expect_ws("ws", "symbolic-ref HEAD", "refs/heads/main");
	expect_ws("ws", "for-each-ref --format='%(refname)' refs/heads",
	    "refs/heads/main");
	expect_ws("ws", "rev-parse --abbrev-ref 'main@{upstream}'",
	    "origin/main");
	expect_ws("ws", "remote get-url origin", url);
	expect_ws("ws", "rev-parse --is-bare-repository", "false");
	expect_ws("ws", "rev-parse origin/feature", fx.c3);
	expect_ws("ws", "rev-parse 'v1a^{commit}'", fx.c1);
	ck_assert_int_eq(sh_status("test -e ws/.git/objects/info/alternates"),
	    1);

	/* An older commit on an unqualified branch name. */
	checkout(fx.c1, "main", url, "ws2");
	expect_ws("ws2", "rev-parse HEAD", fx.c1);
	expect_ws("ws2", "symbolic-ref HEAD", "refs/heads/main");
	expect_ws("ws2", "status --porcelain", "");
	ck_assert_int_eq(sh_status("test -f ws2/old.txt"), 0);
	ck_assert_int_eq(sh_status("test -f ws2/keep.txt"), 0);

	/* A branch other than the mirror's HEAD. */
	checkout(fx.c3, "refs/heads/feature", url, "ws3");
	expect_ws("ws3", "symbolic-ref HEAD", "refs/heads/feature");
	expect_ws("ws3", "for-each-ref --format='%(refname)' refs/heads",
	    "refs/heads/feature");
	expect_ws("ws3", "status --porcelain", "");

	/* Tags, pull refs and no ref: detached, no local branch. */
	checkout(fx.c1, "refs/tags/v1", url, "ws4");
	expect_ws("ws4", "rev-parse HEAD", fx.c1);
	ck_assert_int_eq(sh_status("git -C ws4 symbolic-ref -q HEAD"), 1);
	expect_ws("ws4", "for-each-ref refs/heads", "");
	expect_ws("ws4", "status --porcelain", "");
	checkout(fx.c3, "refs/pull/1/head", NULL, "ws5");
	ck_assert_int_eq(sh_status("git -C ws5 symbolic-ref -q HEAD"), 1);
	expect_ws("ws5", "remote get-url origin", fx.mirror);
	checkout(fx.c3, NULL, url, "ws6");
	expect_ws("ws6", "rev-parse HEAD", fx.c3);
	ck_assert_int_eq(sh_status("git -C ws6 symbolic-ref -q HEAD"), 1);
	/* An unqualified name that is no branch (a tag): detached. */
	checkout(fx.c1, "v1", url, "ws7");
	ck_assert_int_eq(sh_status("git -C ws7 symbolic-ref -q HEAD"), 1);
	/* A dest that does not exist yet is created. */
	p = path_in("deep/ws8");
	ck_assert_msg(mirror_checkout(fx.mirror, "main", "main", url, p,
	    errbuf, sizeof errbuf) == 0, "%s", errbuf);
	free(p);
	expect_ws("deep/ws8", "status --porcelain", "");

	/* The mirror fetching again breaks no workspace. */
	sh("set -e\ncd work\nprintf 'six\\n' > six.txt\ngit add -A\n"
	    "git commit -qm six\ngit push -q origin main\n"
	    "git push -q origin :feature\n");
	sh_sha(c6, "main");
	fetch();
	expect_ws("ws", "status --porcelain", "");
	expect_ws("ws", "log -1 --format=%H", fx.c2);
	ck_assert_int_eq(sh_status("git -C ws fsck --no-dangling"), 0);
	ck_assert_int_eq(sh_status("git -C ws3 fsck --no-dangling"), 0);
	/* Steps may use git as usual in it. */
	sh("set -e\ncd ws\nprintf 'w\\n' > w.txt\ngit add w.txt\n"
	    "git -c user.name=t -c user.email=t@t commit -qm w\n"
	    "git fetch -q '%s' main\n", fx.upstream);
	expect_ws("ws", "rev-parse FETCH_HEAD", c6);
}
END_TEST

START_TEST(test_checkout_errors)
{
	char	*dest;

	fetch();
	sh("mkdir empty && mkdir full && touch full/x");
	dest = path_in("empty");
	ck_assert_int_eq(mirror_checkout(fx.mirror,
	    "0123456789abcdef0123456789abcdef01234567", NULL, NULL, dest,
	    errbuf, sizeof errbuf), -1);
	ck_assert_msg(strstr(errbuf,
	    "0123456789abcdef0123456789abcdef01234567") != NULL, "%s", errbuf);
	ck_assert_int_eq(sh_status("test -z \"$(ls -A empty)\""), 0);
	free(dest);

	dest = path_in("full");
	ck_assert_int_eq(mirror_checkout(fx.mirror, fx.c1, NULL, NULL, dest,
	    errbuf, sizeof errbuf), -1);
	ck_assert_msg(strstr(errbuf, "clone") != NULL && strstr(errbuf,
	    dest) != NULL, "%s", errbuf);
	free(dest);

	dest = path_in("nomirror");
	ck_assert_int_eq(mirror_checkout(fx.upstream, fx.c1, NULL, NULL, dest,
	    errbuf, sizeof errbuf), 0);	/* any bare repository will do */
	free(dest);
	ck_assert_int_eq(mirror_checkout("/nonexistent/mirror", fx.c1, NULL,
	    NULL, "/nonexistent/ws", errbuf, sizeof errbuf), -1);
	ck_assert_msg(strstr(errbuf, "/nonexistent/mirror") != NULL, "%s",
	    errbuf);
}
END_TEST

/* How many packs the mirror has. */
static size_t
count_packs(void)
{
	struct pack_info *v;
	size_t	 n, i;

	v = list_packs(fx.mirror, &n);
	for (i = 0; i < n; i++)
		free(v[i].base);
	free(v);
	return n;
}

/* One more commit on upstream's main; its sha into out. */
static void
push_commit(int i, char out[41])
{
	sh("set -e\ncd work\necho %d > n.txt\ngit add n.txt\n"
	    "git commit -qm 'n %d'\ngit push -q origin main\n", i, i);
	sh_sha(out, "main");
}

/*
 * Every fetch adds a pack; past MIRROR_PACK_LIMIT mirror_tidy() combines
 * the small ones, keeping every object -- also a commit no ref reaches any
 * more -- and waits for readers before it deletes anything.
 */
START_TEST(test_packs_consolidated)
{
	char	 shas[3 * MIRROR_PACK_LIMIT][41], last[41];
	size_t	 i, n, most = 0;
	int	 fd, st;
	pid_t	 pid;

	fetch();
	sh("cd work && git push -q origin :feature :refs/pull/1/head\n");
	for (i = 0; i < nitems(shas); i++) {
		push_commit((int)i, shas[i]);
		fetch();
		if ((n = count_packs()) > most)
			most = n;
		ck_assert_int_ge(mirror_tidy(fx.mirror), 0);
	}
	ck_assert_msg(most <= MIRROR_PACK_LIMIT + 1, "%zu packs after %zu "
	    "fetches and tidies", most, nitems(shas));
	ck_assert_uint_le(count_packs(), MIRROR_PACK_LIMIT);
	expect_no_resolve("feature");
	expect_resolve(fx.c3, fx.c3);		/* unreachable, kept */
	expect_resolve(fx.c1, fx.c1);
	for (i = 0; i < nitems(shas); i++)
		expect_resolve(shas[i], shas[i]);
	ck_assert_int_eq(sh_status("git -C '%s' fsck --no-dangling 2>&1",
	    fx.mirror), 0);

	/* A reader holds the mirror: tidying waits to delete. */
	while (count_packs() <= MIRROR_PACK_LIMIT) {
		push_commit(1000 + (int)count_packs(), last);
		fetch();
	}
	fd = read_lock(fx.mirror);
	ck_assert_int_ne(fd, -1);
	n = count_packs();
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		execl(self_path, "test_mirror", "tidy", fx.mirror,
		    (char *)NULL);
		_exit(127);
	}
	usleep(500 * 1000);
	ck_assert_int_eq(waitpid(pid, &st, WNOHANG), 0);	/* waiting */
	ck_assert_uint_ge(count_packs(), n);		/* nothing deleted */
	read_unlock(fd);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_uint_lt(count_packs(), n);
	expect_resolve("main", last);
	expect_resolve(fx.c3, fx.c3);
}
END_TEST

/*
 * A fetch leaves combining to mirror_tidy() (its worker's idle moment)
 * up to MIRROR_PACK_FETCH_LIMIT packs, so the plan or job that fetched
 * does not wait for it; past that (no idle moment came) it combines.
 */
START_TEST(test_fetch_leaves_packs_to_tidy)
{
	char	 last[41];
	size_t	 n, before;
	char	*lock;
	int	 fd;

	fetch();
	for (n = count_packs(); n < MIRROR_PACK_FETCH_LIMIT; n++) {
		push_commit(3000 + (int)n, last);
		fetch();
		ck_assert_uint_eq(count_packs(), n + 1);	/* none combined */
	}
	before = count_packs();
	push_commit(4000, last);
	fetch();
	ck_assert_msg(count_packs() <= MIRROR_PACK_LIMIT, "%zu packs after "
	    "a fetch past %d (%zu before)", count_packs(),
	    MIRROR_PACK_FETCH_LIMIT, before);
	expect_resolve("main", last);
	ck_assert_int_eq(mirror_tidy(fx.mirror), 0);	/* nothing to do */

	/* A fetch holding the mirror: tidying leaves it to that fetch. */
	while (count_packs() <= MIRROR_PACK_LIMIT) {
		push_commit(5000 + (int)count_packs(), last);
		fetch();
	}
	n = count_packs();
	lock = xasprintf("%s/%s", fx.mirror, MIRROR_LOCK_FILE);
	fd = open(lock, O_RDWR);
	free(lock);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	ck_assert_int_eq(mirror_tidy(fx.mirror), 0);
	ck_assert_uint_eq(count_packs(), n);
	close(fd);
	ck_assert_int_eq(mirror_tidy(fx.mirror), 1);
	ck_assert_uint_lt(count_packs(), n);
	ck_assert_int_eq(sh_status("git -C '%s' fsck --no-dangling 2>&1",
	    fx.mirror), 0);
}
END_TEST

static Suite *
mirror_suite(void)
{
	Suite	*s = suite_create("mirror");
	TCase	*tc = tcase_create("git");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_fetch_resolve);
	tcase_add_test(tc, test_refetch);
	tcase_add_test(tc, test_concurrent_fetch);
	tcase_add_test(tc, test_fetch_errors);
	tcase_add_test(tc, test_read_workflows);
	tcase_add_test(tc, test_read_file);
	tcase_add_test(tc, test_changed_paths);
	tcase_add_test(tc, test_merge_base);
	tcase_add_test(tc, test_checkout);
	tcase_add_test(tc, test_checkout_errors);
	tcase_add_test(tc, test_packs_consolidated);
	tcase_add_test(tc, test_fetch_leaves_packs_to_tidy);
	suite_add_tcase(s, tc);
	return s;
}

/* test_mirror tidy DIR: one mirror_tidy(), for test_packs_consolidated. */
static int
tidy_main(const char *dir)
{
	int	rc;

	git_libgit2_init();
	rc = mirror_tidy(dir);
	git_libgit2_shutdown();
	return rc == 1 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* test_mirror fetch DIR URL: one mirror_fetch(), for test_concurrent_fetch. */
static int
fetch_main(const char *dir, const char *url)
{
	char	e[512];
	int	rc;

	git_libgit2_init();
	if ((rc = mirror_fetch(dir, url, e, sizeof e)) != 0)
		fprintf(stderr, "test_mirror fetch: %s\n", e);
	git_libgit2_shutdown();
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
main(int argc, char **argv)
{
	char	 home[] = "/tmp/kiln-test-mirror-home.XXXXXX";
	SRunner	*sr;
	int	 failed;

	if (argc == 4 && strcmp(argv[1], "fetch") == 0)
		return fetch_main(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "tidy") == 0)
		return tidy_main(argv[2]);
	/* Not /proc/self/exe: under valgrind that is valgrind. */
	if (realpath(argv[0], self_path) == NULL) {
		perror(argv[0]);
		return 1;
	}

	/*
	 * A clean git world before libgit2 reads it: no user or system
	 * configuration, fixed identities for the git command line.
	 */
	if (mkdtemp(home) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	setenv("HOME", home, 1);
	setenv("XDG_CONFIG_HOME", home, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "Kiln Test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@kiln.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "Kiln Test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@kiln.invalid", 1);
	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	git_libgit2_init();

	sr = srunner_create(mirror_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	git_libgit2_shutdown();
	rmdir(home);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
