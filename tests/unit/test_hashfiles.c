/*
 * Unit tests for common/hashfiles: the digest of hashFiles() checked
 * against the algorithm the reference documents (4.7), computed here
 * independently by sha256sum in a shell pipeline: the SHA-256 of each
 * file, in the documented order, its 32 raw bytes fed to an outer
 * SHA-256.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "hashfiles.h"
#include "util.h"

/* X38 of reference 8.4: a/x ("1\n") then a.txt ("2\n"). */
#define H_X38 "bd222050252384e92856fccad34ff9842ed411f042ca3209bf9fc5e3bd447872"

static void
put(const char *dir, const char *rel, const char *text)
{
	char	*path = xasprintf("%s/%s", dir, rel), *slash;
	FILE	*f;

	for (slash = strchr(path + strlen(dir) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		ck_assert(mkdir(path, 0755) == 0 || errno == EEXIST);
		*slash = '/';
	}
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	free(path);
}

/*
 * The documented digest of files (relative to dir, in the given order),
 * by coreutils: sha256sum of each, hex turned back into raw bytes by
 * printf, sha256sum of the concatenation.
 */
static char *
shell_digest(const char *dir, const char *files)
{
	char	*script, *cmd, line[128];
	FILE	*p, *f;

	/* bash: its printf turns \xHH into bytes (dash's does not). */
	script = xasprintf("%s.sh", dir);
	ck_assert_ptr_nonnull(f = fopen(script, "w"));
	fprintf(f, "cd '%s' || exit 1\n"
	    "for f in %s; do\n"
	    "  printf \"$(sha256sum < \"$f\" | cut -c1-64 | "
	    "sed 's/../\\\\x&/g')\"\n"
	    "done | sha256sum | cut -c1-64\n", dir, files);
	ck_assert_int_eq(fclose(f), 0);
	cmd = xasprintf("bash '%s'", script);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
	ck_assert_int_eq(pclose(p), 0);
	unlink(script);
	free(script);
	free(cmd);
	line[strcspn(line, "\n")] = '\0';
	ck_assert_uint_eq(strlen(line), 64);
	return xstrdup(line);
}

static char *
digest(const char *ws, const char *pattern, int follow)
{
	const char	*pats[1] = { pattern };
	char		 hex[HASHFILES_HEX_LEN + 1], err[512];

	ck_assert_msg(hashfiles_digest(ws, pats, 1, follow, hex, err,
	    sizeof err) == 0, "%s: %s", pattern, err);
	return xstrdup(hex);
}

START_TEST(test_digest_matches_documented_algorithm)
{
	char	 tmpl[] = "/tmp/kiln-hashfiles-XXXXXX";
	char	*got, *want;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	put(tmpl, "a/x", "1\n");
	put(tmpl, "a.txt", "2\n");

	/* X38: names sort before paths: a/x comes before a.txt. */
	want = shell_digest(tmpl, "a/x a.txt");
	ck_assert_str_eq(want, H_X38);
	got = digest(tmpl, "**", 0);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);

	/* Deeper trees, upper case before lower, several lines, excludes. */
	put(tmpl, "B.txt", "upper\n");
	put(tmpl, "b/c/d.txt", "deep\n");
	put(tmpl, "b/c/skip.log", "not me\n");
	put(tmpl, "b/e", "");
	want = shell_digest(tmpl, "B.txt a/x a.txt b/c/d.txt b/e");
	got = digest(tmpl, "**\n!**/*.log", 0);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);

	/* One file is the digest of its digest, not of its contents. */
	want = shell_digest(tmpl, "b/c/d.txt");
	got = digest(tmpl, "b/**/d.txt", 0);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);

	/* An empty directory on the walk changes nothing (UBSan: qsort). */
	got = xasprintf("%s/b/empty", tmpl);
	ck_assert_int_eq(mkdir(got, 0755), 0);
	free(got);
	want = shell_digest(tmpl, "B.txt a/x a.txt b/c/d.txt b/e");
	got = digest(tmpl, "**\n!**/*.log", 0);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);

	/* Nothing matched: "". */
	got = digest(tmpl, "nothing/**", 0);
	ck_assert_str_eq(got, "");
	free(got);

	ck_assert_int_eq(harness_rm_rf(tmpl), 0);
	ck_assert_int_eq(access(tmpl, F_OK), -1);
}
END_TEST

/* The matcher actions/cache's path lines share with hashFiles. */
START_TEST(test_match)
{
	/* "**" any number of directories, zero included. */
	ck_assert(hashfiles_match("/w/**/*.dat", "/w/top.dat", 0));
	ck_assert(hashfiles_match("/w/**/*.dat", "/w/a/b/c.dat", 0));
	ck_assert(!hashfiles_match("/w/**/*.dat", "/w/a/b/c.txt", 0));
	/* "*" within one segment only; dots are not special. */
	ck_assert(hashfiles_match("/w/pkgs/*/build", "/w/pkgs/a/build", 0));
	ck_assert(!hashfiles_match("/w/pkgs/*/build", "/w/pkgs/a/b/build",
	    0));
	ck_assert(hashfiles_match("/w/*", "/w/.hidden", 0));
	ck_assert(hashfiles_match("/w/f?[0-9]", "/w/fx7", 0));
	/* below: a path under a match matches too. */
	ck_assert(!hashfiles_match("/w/pkgs/*/build", "/w/pkgs/a/build/o",
	    0));
	ck_assert(hashfiles_match("/w/pkgs/*/build", "/w/pkgs/a/build/o",
	    1));
	ck_assert(!hashfiles_match("/w/pkgs/*/build", "/w/pkgs/a/src/o", 1));
	/* Segments are normalised: "." and ".." and doubled slashes. */
	ck_assert(hashfiles_match("/w/./a//*.txt", "/w/b/../a/x.txt", 0));
}
END_TEST

START_TEST(test_symlinks_and_errors)
{
	char		 tmpl[] = "/tmp/kiln-hashfiles-XXXXXX";
	char		 hex[HASHFILES_HEX_LEN + 1], err[512], *link, *got;
	char		*want;
	const char	*pats[1] = { "**" };

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	put(tmpl, "ws/src/a.js", "hello\n");
	put(tmpl, "outside/secret", "no\n");
	link = xasprintf("%s/ws/out", tmpl);
	ck_assert_int_eq(symlink("../outside", link), 0);
	free(link);

	/* A link to a directory is not walked without the option. */
	want = shell_digest(tmpl, "ws/src/a.js");
	link = xasprintf("%s/ws", tmpl);
	got = digest(link, "**", 0);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);

	/* An unreadable directory is an error naming it. */
	put(tmpl, "ws/locked/f", "x\n");
	free(link);
	link = xasprintf("%s/ws/locked", tmpl);
	ck_assert_int_eq(chmod(link, 0), 0);
	if (geteuid() != 0) {
		got = xasprintf("%s/ws", tmpl);
		ck_assert_int_eq(hashfiles_digest(got, pats, 1, 0, hex, err,
		    sizeof err), -1);
		ck_assert_ptr_nonnull(strstr(err, "locked"));
		free(got);
	}
	ck_assert_int_eq(chmod(link, 0755), 0);
	free(link);

	/* The remover does not follow the link out of the tree. */
	ck_assert_int_eq(harness_rm_rf(tmpl), 0);
}
END_TEST

static Suite *
hashfiles_suite(void)
{
	Suite	*s = suite_create("hashfiles");
	TCase	*tc = tcase_create("digest");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_digest_matches_documented_algorithm);
	tcase_add_test(tc, test_symlinks_and_errors);
	tcase_add_test(tc, test_match);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(hashfiles_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
