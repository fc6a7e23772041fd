/*
 * test_cictl: cictl without kilnd.  The command table and its prefix
 * matching, the argument parser and validators, secret reading and output
 * escaping are tested directly; the commands are run through cictl_main()
 * against a fake admin server (a thread answering one canned HTTP response
 * on a Unix socket in a fresh temporary directory), which records the
 * request cictl sent.  cictl's sources are included so static helpers are
 * reachable; CICTL_NO_MAIN drops its main().
 */
#define CICTL_NO_MAIN
#include "../../cictl/cictl.c"
#include "../../cictl/client.c"
#include "../../cictl/output.c"
#include "../../cictl/cmd_repo.c"
#include "../../cictl/cmd_runs.c"
#include "../../cictl/cmd_workflow.c"
#include "../../cictl/cmd_runctl.c"
#include "../../cictl/cmd_secret.c"
#include "../../cictl/cmd_dispatch.c"
#include "../../cictl/cmd_token.c"
#include "../../cictl/cmd_schedules.c"
#include "../../cictl/cmd_ops.c"
#include "../../cictl/cmd_outbox.c"
#include "../../cictl/cmd_cache.c"
#include "../../cictl/cmd_artifacts.c"

#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- helpers ---------------------------------------------------------- */

/* A fake kilnd: accepts one connection, records it, sends a canned answer. */
struct fake {
	char		 dir[64];
	char		 sock[100];	/* fits sun_path */
	int		 lfd;
	pthread_t	 thread;
	/* The answer. */
	int		 status;
	const char	*ctype;
	const char	*body;
	size_t		 bodylen;
	/* The request, filled in by the thread. */
	int		 got;
	char		 method[16];
	char		 target[512];
	struct buf	 head;		/* request line and headers */
	struct buf	 reqbody;
};

static void *
fake_thread(void *arg)
{
	struct fake *f = arg;
	struct pollfd pfd = { f->lfd, POLLIN, 0 };
	struct buf in = { 0 }, out = { 0 };
	char chunk[4096], *end, *cl;
	size_t hlen, want = 0, off;
	ssize_t n;
	int fd;

	/* A deadline, not a sleep: a test whose cictl never calls ends. */
	if (poll(&pfd, 1, 10000) != 1)
		return NULL;
	if ((fd = accept(f->lfd, NULL, NULL)) == -1)
		return NULL;
	for (;;) {
		if ((end = in.data != NULL ? strstr(in.data, "\r\n\r\n") :
		    NULL) != NULL) {
			hlen = (size_t)(end - in.data) + 4;
			if (want == 0 && (cl = strcasestr(in.data,
			    "\r\nContent-Length:")) != NULL && cl < end)
				want = strtoul(cl + 17, NULL, 10);
			if (in.len >= hlen + want)
				break;
		}
		if (in.len > (1u << 20))
			break;
		n = read(fd, chunk, sizeof chunk);
		if (n <= 0)
			break;
		buf_add(&in, chunk, (size_t)n);
	}
	if (in.data != NULL && (end = strstr(in.data, "\r\n\r\n")) != NULL) {
		hlen = (size_t)(end - in.data) + 4;
		buf_add(&f->head, in.data, hlen);
		buf_add(&f->reqbody, in.data + hlen, in.len - hlen);
		sscanf(in.data, "%15s %511s", f->method, f->target);
		f->got = 1;
	}
	buf_printf(&out, "HTTP/1.1 %d Canned\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", f->status,
	    f->ctype, f->bodylen);
	buf_add(&out, f->body, f->bodylen);
	for (off = 0; off < out.len; off += (size_t)n)
		if ((n = write(fd, out.data + off, out.len - off)) <= 0)
			break;
	close(fd);
	buf_free(&in);
	buf_free(&out);
	return NULL;
}

static void
fake_start(struct fake *f, int status, const char *ctype, const char *body,
    size_t bodylen)
{
	struct sockaddr_un sa;

	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_cictl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->sock, sizeof f->sock, "%s/admin.sock", f->dir);
	f->status = status;
	f->ctype = ctype;
	f->body = body;
	f->bodylen = bodylen;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(f->sock), sizeof sa.sun_path);
	memcpy(sa.sun_path, f->sock, strlen(f->sock) + 1);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(f->lfd, 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(f->lfd, 4), 0);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_thread, f), 0);
}

/* Wait for the fake to finish; what it recorded stays until fake_free(). */
static void
fake_stop(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->sock);
}

static void
fake_free(struct fake *f)
{
	rmdir(f->dir);
	buf_free(&f->head);
	buf_free(&f->reqbody);
}

/* What one cictl_main() run produced. */
struct result {
	int	 rc;
	char	*out;
	size_t	 outlen;
	char	*err;
	size_t	 errlen;
};

/* Run cictl with argv (NULL-terminated), stdin fed from input. */
static void
run(struct result *r, const char *input, ...)
{
	char *argv[32];
	FILE *in, *out, *err;
	va_list ap;
	int argc = 0;
	const char *a;

	argv[argc++] = xstrdup("cictl");
	va_start(ap, input);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = xstrdup(a);
	va_end(ap);
	argv[argc] = NULL;

	memset(r, 0, sizeof *r);
	in = fmemopen((void *)(input != NULL ? input : ""),
	    input != NULL ? strlen(input) : 0, "r");
	if (input == NULL || *input == '\0') {
		if (in != NULL)
			fclose(in);
		in = fopen("/dev/null", "r");
	}
	out = open_memstream(&r->out, &r->outlen);
	err = open_memstream(&r->err, &r->errlen);
	ck_assert(in != NULL && out != NULL && err != NULL);
	r->rc = cictl_main(argc, argv, in, out, err);
	fclose(in);
	fclose(out);
	fclose(err);
	while (argc > 0)
		free(argv[--argc]);
}

static void
result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Number of '\n' in s. */
static int
lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static char *
write_temp(const char *dir, const char *name, const char *data, size_t len)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

/* Look a command line up; returns the entry name or NULL. */
static const char *
lookup(int *consumed, char *err, size_t errsz, ...)
{
	char *argv[8];
	const struct cmd_entry *e;
	va_list ap;
	int argc = 0;

	va_start(ap, errsz);
	while ((argv[argc] = va_arg(ap, char *)) != NULL && argc < 7)
		argc++;
	va_end(ap);
	e = cictl_lookup(argc, argv, consumed, err, errsz);
	return e != NULL ? e->name : NULL;
}

/* ---- the command table ------------------------------------------------- */

START_TEST(test_table_well_formed)
{
	const struct cmd_entry *t, *e, *o;
	const char *w;
	size_t n, i, j, len, wl;
	int k, words, awords, nf;

	t = cictl_commands(&n);
	ck_assert_uint_gt(n, 0);
	for (i = 0; i < n; i++) {
		e = &t[i];
		ck_assert_ptr_nonnull(e->name);
		ck_assert_ptr_nonnull(e->handler);
		ck_assert_ptr_nonnull(e->help);
		ck_assert_ptr_nonnull(e->usage);
		ck_assert_int_ge(e->min_args, 0);
		ck_assert_int_le(e->min_args, e->max_args);
		ck_assert_int_le(e->max_args, CICTL_MAX_POS);
		for (words = 0; cictl_word(e->name, words, &w, &len); words++)
			ck_assert_uint_gt(len, 0);
		ck_assert_int_le(words, CICTL_MAX_WORDS);
		if (e->alias != NULL) {
			for (awords = 0; cictl_word(e->alias, awords, &w, &len);
			    awords++)
				;
			ck_assert_int_eq(awords, words);
		}
		for (nf = 0; nf < CICTL_MAX_FLAGS && e->flags[nf].name != NULL;
		    nf++)
			ck_assert(!e->flags[nf].required ||
			    e->flags[nf].arg != NULL);
		/*
		 * No name equals another or is a whole-word prefix of a
		 * longer one ("repo" and "repo add" cannot both exist).
		 */
		for (j = 0; j < n; j++) {
			if (j == i)
				continue;
			o = &t[j];
			ck_assert_str_ne(e->name, o->name);
			len = strlen(e->name);
			ck_assert_msg(!(strncmp(o->name, e->name, len) == 0 &&
			    o->name[len] == ' '), "%s shadows %s", e->name,
			    o->name);
			if (e->alias != NULL)
				ck_assert_str_ne(e->alias, o->name);
		}
		/* No word could be mistaken for a flag. */
		for (k = 0; k < words; k++) {
			ck_assert(cictl_word(e->name, k, &w, &wl));
			ck_assert_int_ne(w[0], '-');
		}
	}
}
END_TEST

START_TEST(test_lookup_exact_and_prefix)
{
	char err[256];
	int c = 0;

	ck_assert_str_eq(lookup(&c, err, sizeof err, "runs", NULL), "runs");
	ck_assert_int_eq(c, 1);
	ck_assert_str_eq(lookup(&c, err, sizeof err, "ru", "--json", NULL),
	    "runs");
	ck_assert_int_eq(c, 1);
	ck_assert_str_eq(lookup(&c, err, sizeof err, "sh", "1", NULL), "show");
	ck_assert_str_eq(lookup(&c, err, sizeof err, "lo", "1", NULL), "logs");
	ck_assert_str_eq(lookup(&c, err, sizeof err, "h", NULL), "help");
	ck_assert_str_eq(lookup(&c, err, sizeof err, "repo", "add", "o/n",
	    NULL), "repo add");
	ck_assert_int_eq(c, 2);
	ck_assert_str_eq(lookup(&c, err, sizeof err, "rep", "a", NULL),
	    "repo add");
	ck_assert_int_eq(c, 2);
	ck_assert_str_eq(lookup(&c, err, sizeof err, "rep", "li", NULL),
	    "repo list");
	/* The alias, exactly. */
	ck_assert_str_eq(lookup(&c, err, sizeof err, "repo", "ls", NULL),
	    "repo list");
	ck_assert_int_eq(c, 2);
}
END_TEST

START_TEST(test_lookup_ambiguous_and_unknown)
{
	char err[256];
	int c = 0;

	ck_assert_ptr_null(lookup(&c, err, sizeof err, "r", NULL));
	ck_assert_ptr_nonnull(strstr(err, "ambiguous command 'r'"));
	ck_assert_ptr_nonnull(strstr(err, "repo"));
	ck_assert_ptr_nonnull(strstr(err, "runs"));
	/* A later word does not disambiguate an earlier one. */
	ck_assert_ptr_null(lookup(&c, err, sizeof err, "r", "l", NULL));
	ck_assert_ptr_nonnull(strstr(err, "ambiguous"));

	ck_assert_ptr_null(lookup(&c, err, sizeof err, "repo", NULL));
	ck_assert_str_eq(err, "repo: missing subcommand (add, list, show, "
	    "edit, rm)");
	ck_assert_ptr_null(lookup(&c, err, sizeof err, "repo", "del", NULL));
	ck_assert_str_eq(err, "repo: unknown subcommand 'del' (add, list, "
	    "show, edit, rm)");
	ck_assert_ptr_null(lookup(&c, err, sizeof err, "frobnicate", NULL));
	ck_assert_str_eq(err, "unknown command 'frobnicate'");
	ck_assert_ptr_null(lookup(&c, err, sizeof err, "", NULL));
	ck_assert_ptr_null(lookup(&c, err, sizeof err, NULL));
	ck_assert_str_eq(err, "missing command");
	/* Longer than the name: no match. */
	ck_assert_ptr_null(lookup(&c, err, sizeof err, "runsx", NULL));
	/* Aliases match whole words only, and only in their place. */
	ck_assert_ptr_null(lookup(&c, err, sizeof err, "ls", NULL));
	ck_assert_str_eq(lookup(&c, err, sizeof err, "repo", "l", NULL),
	    "repo list");
	/* Hostile text comes back escaped. */
	ck_assert_ptr_null(lookup(&c, err, sizeof err, "\x1b[2J", NULL));
	ck_assert_ptr_null(strchr(err, '\x1b'));
}
END_TEST

/* ---- argument parsing and validation ---------------------------------- */

static const struct cmd_entry *
entry(const char *name)
{
	const struct cmd_entry *t;
	size_t n, i;

	t = cictl_commands(&n);
	for (i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	ck_abort_msg("no command %s", name);
	return NULL;
}

static int
parse(const char *name, struct cmd_args *a, char *err, size_t errsz, ...)
{
	char *argv[16];
	va_list ap;
	int argc = 0;

	va_start(ap, errsz);
	while ((argv[argc] = va_arg(ap, char *)) != NULL && argc < 15)
		argc++;
	va_end(ap);
	return cictl_parse_args(entry(name), argc, argv, a, err, errsz);
}

START_TEST(test_parse_args)
{
	struct cmd_args a;
	char err[256];

	ck_assert_int_eq(parse("repo add", &a, err, sizeof err, "o/n", "--url",
	    "file:///r.git", "--secret-file", "-", NULL), 0);
	ck_assert_int_eq(a.argc, 1);
	ck_assert_str_eq(a.argv[0], "o/n");
	ck_assert_str_eq(a.flag[0], "file:///r.git");
	ck_assert_str_eq(a.flag[1], "-");

	/* --flag=value, flags before positionals. */
	ck_assert_int_eq(parse("repo add", &a, err, sizeof err, "--url=u",
	    "--secret-file=s", "o/n", NULL), 0);
	ck_assert_str_eq(a.flag[0], "u");
	ck_assert_str_eq(a.argv[0], "o/n");

	ck_assert_int_eq(parse("repo add", &a, err, sizeof err, "o/n", "--url",
	    "u", NULL), -1);
	ck_assert_str_eq(err, "--secret-file PATH is required");
	ck_assert_int_eq(parse("repo add", &a, err, sizeof err, "--url", "u",
	    "--secret-file", "s", NULL), -1);
	ck_assert_str_eq(err, "missing argument");
	ck_assert_int_eq(parse("repo add", &a, err, sizeof err, "o/n", "p/q",
	    "--url", "u", "--secret-file", "s", NULL), -1);
	ck_assert_str_eq(err, "too many arguments");
	ck_assert_int_eq(parse("repo add", &a, err, sizeof err, "o/n", "--url",
	    "u", "--url", "v", "--secret-file", "s", NULL), -1);
	ck_assert_str_eq(err, "--url given twice");
	ck_assert_int_eq(parse("repo add", &a, err, sizeof err, "o/n", "--url",
	    NULL), -1);
	ck_assert_str_eq(err, "--url needs a value (CLONE_URL)");
	/* A flag is not swallowed as the previous flag's value. */
	ck_assert_int_eq(parse("repo add", &a, err, sizeof err, "o/n", "--url",
	    "--secret-file", "s", NULL), -1);
	ck_assert_int_eq(parse("repo add", &a, err, sizeof err, "o/n",
	    "--url=", "--secret-file", "s", NULL), -1);
	ck_assert_str_eq(err, "--url: empty value");

	ck_assert_int_eq(parse("runs", &a, err, sizeof err, "--json", NULL), 0);
	ck_assert_ptr_nonnull(a.flag[2]);
	ck_assert_ptr_null(a.flag[0]);
	ck_assert_int_eq(parse("runs", &a, err, sizeof err, "--json=yes",
	    NULL), -1);
	ck_assert_str_eq(err, "--json takes no value");
	ck_assert_int_eq(parse("runs", &a, err, sizeof err, "--jso", NULL), -1);
	ck_assert_str_eq(err, "unknown flag '--jso'");
	ck_assert_int_eq(parse("runs", &a, err, sizeof err, "-j", NULL), -1);
	ck_assert_int_eq(parse("runs", &a, err, sizeof err, "extra", NULL), -1);
	ck_assert_int_eq(parse("runs", &a, err, sizeof err, "-h", NULL), 1);
	ck_assert_int_eq(parse("show", &a, err, sizeof err, "7", "--help",
	    NULL), 1);

	/* "--" ends flags; "-5" is a value for the handler to reject. */
	ck_assert_int_eq(parse("show", &a, err, sizeof err, "--", "--json",
	    NULL), 0);
	ck_assert_str_eq(a.argv[0], "--json");
	ck_assert_ptr_null(a.flag[0]);
	ck_assert_int_eq(parse("show", &a, err, sizeof err, "-5", NULL), 0);
	ck_assert_str_eq(a.argv[0], "-5");
}
END_TEST

START_TEST(test_parse_args_bounded)
{
	struct cmd_args a;
	char err[256], *big;

	big = xmalloc(CICTL_MAX_ARG + 2);
	memset(big, '1', CICTL_MAX_ARG + 1);
	big[CICTL_MAX_ARG + 1] = '\0';
	ck_assert_int_eq(parse("show", &a, err, sizeof err, big, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	free(big);
}
END_TEST

START_TEST(test_usage_generated)
{
	struct buf b = { 0 };

	cictl_usage_line(entry("repo add"), &b);
	ck_assert_str_eq(b.data, "repo add OWNER/NAME --url CLONE_URL "
	    "--secret-file PATH [--default-branch BRANCH]");
	buf_clear(&b);
	cictl_usage_line(entry("runs"), &b);
	ck_assert_str_eq(b.data, "runs [--repo OWNER/NAME] [--limit N] "
	    "[--json] [--before RUN_ID]");
	buf_clear(&b);
	cictl_usage_line(entry("logs"), &b);
	ck_assert_str_eq(b.data, "logs JOB_ID [--follow] [-f]");
	buf_free(&b);
}
END_TEST

START_TEST(test_parse_id)
{
	static const char *bad[] = { "", "0", "-1", "+1", " 1", "1 ", "1x",
	    "0x10", "1e3", "9223372036854775808", "99999999999999999999",
	    "1.0", "١" };
	const char *why;
	int64_t v;
	size_t i;

	ck_assert_int_eq(cictl_parse_id("1", &v, &why), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(cictl_parse_id("9223372036854775807", &v, &why), 0);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(cictl_parse_id("0042", &v, &why), 0);
	ck_assert_int_eq(v, 42);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(cictl_parse_id(bad[i], &v, &why) == -1,
		    "accepted '%s'", bad[i]);
	cictl_parse_id("0", &v, &why);
	ck_assert_str_eq(why, "must be positive");

	ck_assert_int_eq(cictl_parse_limit("1", &v, &why), 0);
	ck_assert_int_eq(cictl_parse_limit("1000", &v, &why), 0);
	ck_assert_int_eq(v, 1000);
	ck_assert_int_eq(cictl_parse_limit("1001", &v, &why), -1);
	ck_assert_str_eq(why, "must be between 1 and 1000");
	ck_assert_int_eq(cictl_parse_limit("0", &v, &why), -1);
	ck_assert_int_eq(cictl_parse_limit("-5", &v, &why), -1);
	ck_assert_int_eq(cictl_parse_limit("99999999999999999999999", &v,
	    &why), -1);
}
END_TEST

START_TEST(test_valid_repo)
{
	static const char *good[] = { "a/b", "octo-org/hello_world.js",
	    "A1/.github", "x/-", "kiln-ci/kiln" };
	static const char *bad[] = { "", "a", "/b", "a/", "a/b/c", "a//b",
	    "-a/b", "a_b/c", "a b/c", "a/b c", "a/.", "a/..", "ä/b", "a/b\n",
	    "a/b;rm", "a/b?x=1", "a/b&limit=5", "a/%2e" };
	char owner[64], name[128], s[256];
	const char *why;
	size_t i;

	for (i = 0; i < nitems(good); i++)
		ck_assert_msg(cictl_valid_repo(good[i], &why) == 0,
		    "rejected '%s'", good[i]);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(cictl_valid_repo(bad[i], &why) == -1,
		    "accepted '%s'", bad[i]);

	/* Length limits at the edge. */
	memset(owner, 'o', 39);
	owner[39] = '\0';
	memset(name, 'n', 100);
	name[100] = '\0';
	snprintf(s, sizeof s, "%s/%s", owner, name);
	ck_assert_int_eq(cictl_valid_repo(s, &why), 0);
	snprintf(s, sizeof s, "%so/%s", owner, "n");
	ck_assert_int_eq(cictl_valid_repo(s, &why), -1);
	snprintf(s, sizeof s, "o/%sn", name);
	ck_assert_int_eq(cictl_valid_repo(s, &why), -1);

	ck_assert_int_eq(cictl_valid_url("file:///srv/git/r.git", &why), 0);
	ck_assert_int_eq(cictl_valid_url("git@github.com:o/n.git", &why), 0);
	ck_assert_int_eq(cictl_valid_url("", &why), -1);
	ck_assert_int_eq(cictl_valid_url("--upload-pack=x", &why), -1);
	ck_assert_int_eq(cictl_valid_url("http://a b", &why), -1);
	ck_assert_int_eq(cictl_valid_url("http://a\n", &why), -1);
}
END_TEST

/* ---- secrets ----------------------------------------------------------- */

START_TEST(test_read_secret)
{
	char dir[] = "/tmp/test_cictl.XXXXXX", err[512], *p, *s, *big;
	size_t len = 0;
	FILE *in;

	ck_assert_ptr_nonnull(mkdtemp(dir));

	p = write_temp(dir, "a", "s3cret\n", 7);
	s = cmd_repo_read_secret(p, NULL, &len, err, sizeof err);
	ck_assert_str_eq(s, "s3cret");
	ck_assert_uint_eq(len, 6);
	free(s);
	unlink(p);
	free(p);

	/* Only one newline goes. */
	p = write_temp(dir, "b", "s3cret\n\n", 8);
	s = cmd_repo_read_secret(p, NULL, &len, err, sizeof err);
	ck_assert_str_eq(s, "s3cret\n");
	free(s);
	unlink(p);
	free(p);

	p = write_temp(dir, "c", "\n", 1);
	ck_assert_ptr_null(cmd_repo_read_secret(p, NULL, &len, err,
	    sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	unlink(p);
	free(p);

	p = write_temp(dir, "d", "a\0b", 3);
	ck_assert_ptr_null(cmd_repo_read_secret(p, NULL, &len, err,
	    sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	unlink(p);
	free(p);

	/* Exactly the limit (plus its newline) passes; one more does not. */
	big = xmalloc(CICTL_MAX_SECRET + 2);
	memset(big, 'k', CICTL_MAX_SECRET + 1);
	big[CICTL_MAX_SECRET] = '\n';
	p = write_temp(dir, "e", big, CICTL_MAX_SECRET + 1);
	s = cmd_repo_read_secret(p, NULL, &len, err, sizeof err);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(len, CICTL_MAX_SECRET);
	free(s);
	unlink(p);
	free(p);
	big[CICTL_MAX_SECRET] = 'k';
	p = write_temp(dir, "f", big, CICTL_MAX_SECRET + 1);
	ck_assert_ptr_null(cmd_repo_read_secret(p, NULL, &len, err,
	    sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "longer than 4096"));
	unlink(p);
	free(p);
	free(big);

	p = xasprintf("%s/missing", dir);
	ck_assert_ptr_null(cmd_repo_read_secret(p, NULL, &len, err,
	    sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	free(p);

	/* "-" reads the given stream. */
	in = fmemopen((void *)"from-stdin\n", 11, "r");
	s = cmd_repo_read_secret("-", in, &len, err, sizeof err);
	ck_assert_str_eq(s, "from-stdin");
	free(s);
	fclose(in);
	in = fopen("/dev/null", "r");
	ck_assert_ptr_null(cmd_repo_read_secret("-", in, &len, err,
	    sizeof err));
	fclose(in);

	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- output ------------------------------------------------------------ */

START_TEST(test_output_safe)
{
	char out[256];

	ck_assert_str_eq(output_safe("main", 40, out, sizeof out), "main");
	ck_assert_str_eq(output_safe("caf\xc3\xa9", 40, out, sizeof out),
	    "caf\xc3\xa9");
	ck_assert_str_eq(output_safe("\x1b[31mred", 40, out, sizeof out),
	    "\\x1b[31mred");
	ck_assert_str_eq(output_safe("a\nb\tc\\", 40, out, sizeof out),
	    "a\\nb\\tc\\\\");
	ck_assert_str_eq(output_safe("\xc2\x9b" "2J", 40, out, sizeof out),
	    "\\u009b2J");			/* C1 CSI */
	ck_assert_str_eq(output_safe("x\xe2\x80\xaey", 40, out, sizeof out),
	    "x\\u202ey");			/* bidi override */
	ck_assert_str_eq(output_safe("\xff\xc3", 40, out, sizeof out),
	    "\\xff\\xc3");			/* stray bytes */
	ck_assert_str_eq(output_safe("\xed\xa0\x80", 40, out, sizeof out),
	    "\\xed\\xa0\\x80");		/* a surrogate */
	ck_assert_str_eq(output_safe("abcdef", 3, out, sizeof out), "abc...");
	/* A tiny buffer is never overrun. */
	ck_assert_str_eq(output_safe("abcdef", 40, out, 4), "abc");
	ck_assert_uint_eq(utf8_width("caf\xc3\xa9"), 4);
	ck_assert_uint_eq(utf8_width("\xe6\x9e\x84\xe5\xbb\xba"), 4); /* CJK */
	ck_assert_uint_eq(utf8_width("\xf0\x9f\x9a\x80"), 2);	/* emoji */
	ck_assert_uint_eq(utf8_width("e\xcc\x81"), 1);	/* combining */
}
END_TEST

START_TEST(test_table_alignment)
{
	static const char *const r1[] = { "ID", "NAME", "X" };
	static const char *const r2[] = { "12345", "caf\xc3\xa9", NULL };
	static const char *const r3[] = { "1", "b", "" };
	struct table t;
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&s, &len);
	table_init(&t, 3, 40);
	table_add(&t, r1);
	table_add(&t, r2);
	table_add(&t, r3);
	table_print(&t, f, "  ");
	table_free(&t);
	fclose(f);
	ck_assert_str_eq(s,
	    "  ID     NAME  X\n"
	    "  12345  caf\xc3\xa9  -\n"
	    "  1      b\n");
	free(s);
}
END_TEST

/* ---- whole commands against a fake kilnd ------------------------------- */

START_TEST(test_repo_add_secret_file)
{
	static const char answer[] = "{\"id\":3,\"full_name\":\"octo/hello\"}";
	struct result r;
	struct fake f;
	json_t *body;
	json_error_t jerr;
	char *secret;

	fake_start(&f, 201, "application/json", answer, strlen(answer));
	secret = write_temp(f.dir, "secret", "hunter2\n", 8);
	run(&r, NULL, "--socket", f.sock, "repo", "add", "octo/hello",
	    "--url", "file:///srv/hello.git", "--secret-file", secret, NULL);
	fake_stop(&f);

	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert_str_eq(r.out, "added octo/hello (id 3)\n");
	ck_assert_uint_eq(r.errlen, 0);
	ck_assert(f.got);
	ck_assert_str_eq(f.method, "POST");
	ck_assert_str_eq(f.target, "/api/v1/repos");
	ck_assert_ptr_nonnull(strcasestr(f.head.data,
	    "\r\nContent-Type: application/json\r\n"));
	body = json_loadb(f.reqbody.data, f.reqbody.len, 0, &jerr);
	ck_assert_msg(body != NULL, "%s", jerr.text);
	ck_assert_uint_eq(json_object_size(body), 3);
	ck_assert_str_eq(json_string_value(json_object_get(body,
	    "full_name")), "octo/hello");
	ck_assert_str_eq(json_string_value(json_object_get(body,
	    "clone_url")), "file:///srv/hello.git");
	ck_assert_str_eq(json_string_value(json_object_get(body, "secret")),
	    "hunter2");
	json_decref(body);
	unlink(secret);
	free(secret);
	fake_free(&f);
	result_free(&r);
}
END_TEST

START_TEST(test_repo_add_secret_stdin)
{
	static const char answer[] = "{\"id\":9}";
	struct result r;
	struct fake f;
	json_t *body;

	fake_start(&f, 200, "application/json", answer, strlen(answer));
	run(&r, "s3cr\xc3\xa9t \"quoted\"\n", "--socket", f.sock, "rep", "a",
	    "octo/hello", "--url=https://example.com/octo/hello.git",
	    "--secret-file", "-", NULL);
	fake_stop(&f);

	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert_str_eq(r.out, "updated octo/hello (id 9)\n");
	body = json_loadb(f.reqbody.data, f.reqbody.len, 0, NULL);
	ck_assert_ptr_nonnull(body);
	ck_assert_str_eq(json_string_value(json_object_get(body, "secret")),
	    "s3cr\xc3\xa9t \"quoted\"");
	json_decref(body);
	fake_free(&f);
	result_free(&r);
}
END_TEST

START_TEST(test_repo_add_refuses_before_sending)
{
	struct result r;

	/* Empty stdin: an error, and no server is needed to find out. */
	run(&r, "", "--socket", "/nonexistent/admin.sock", "repo", "add",
	    "octo/hello", "--url", "file:///x", "--secret-file", "-", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "cictl: secret from stdin is empty\n");
	result_free(&r);

	run(&r, "x\n", "--socket", "/nonexistent/admin.sock", "repo", "add",
	    "octo/hel lo", "--url", "file:///x", "--secret-file", "-", NULL);
	ck_assert_int_eq(r.rc, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "usage: cictl repo add"));
	result_free(&r);
}
END_TEST

START_TEST(test_runs_json_unchanged)
{
	static const char answer[] =
	    "[{\"id\":12,\"run_number\":3,\"name\":\"CI\","
	    "\"path\":\".github/workflows/ci.yml\",\"event\":\"push\","
	    "\"status\":\"completed\",\"conclusion\":\"success\","
	    "\"head_sha\":\"0123456789abcdef0123456789abcdef01234567\","
	    "\"head_branch\":\"main\",\"repository\":\"octo/hello\","
	    "\"message\":null,\"extra\":{\"z\":1,\"a\":[1.50,\"\\u00e9\"]}}]\n";
	struct result r;
	struct fake f;

	fake_start(&f, 200, "application/json", answer, strlen(answer));
	run(&r, NULL, "--socket", f.sock, "runs", "--repo", "octo/hello",
	    "--limit", "5", "--json", NULL);
	fake_stop(&f);

	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert_str_eq(f.method, "GET");
	ck_assert_str_eq(f.target, "/api/v1/runs?repo=octo/hello&limit=5");
	ck_assert_uint_eq(r.outlen, strlen(answer));
	ck_assert_str_eq(r.out, answer);
	fake_free(&f);
	result_free(&r);
}
END_TEST

/* --before pages back; a full page says how to get the next one. */
START_TEST(test_runs_before_pages)
{
	static const char answer[] =
	    "[{\"id\":9,\"name\":\"CI\",\"path\":\"a.yml\","
	    "\"event\":\"push\",\"status\":\"completed\","
	    "\"conclusion\":\"success\",\"head_sha\":\"0123456789\","
	    "\"head_branch\":\"main\"},"
	    "{\"id\":8,\"name\":\"CI\",\"path\":\"a.yml\","
	    "\"event\":\"push\",\"status\":\"completed\","
	    "\"conclusion\":\"success\",\"head_sha\":\"0123456789\","
	    "\"head_branch\":\"main\"}]";
	struct result r;
	struct fake f;

	fake_start(&f, 200, "application/json", answer, strlen(answer));
	run(&r, NULL, "--socket", f.sock, "runs", "--limit", "2", "--before",
	    "10", NULL);
	fake_stop(&f);
	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert_str_eq(f.target, "/api/v1/runs?limit=2&before=10");
	ck_assert_msg(strstr(r.err, "more: cictl runs --before 8 --limit 2")
	    != NULL, "stderr: %s", r.err);
	fake_free(&f);
	result_free(&r);

	run(&r, NULL, "--socket", "/nonexistent", "runs", "--before", "x",
	    NULL);
	ck_assert_int_eq(r.rc, 2);
	result_free(&r);
}
END_TEST

/*
 * cache rm --key: the key travels percent-encoded in the list query
 * (spaces, '&', '=', '+', non-ASCII); no entry is an error naming it.
 */
START_TEST(test_cache_rm_key_escaped)
{
	static const char answer[] = "[]";
	struct result r;
	struct fake f;

	fake_start(&f, 200, "application/json", answer, strlen(answer));
	run(&r, NULL, "--socket", f.sock, "cache", "rm", "--key",
	    "a b&c=d+\xc3\xa9/~", "--repo", "octo/hello", NULL);
	fake_stop(&f);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(f.method, "GET");
	ck_assert_str_eq(f.target, "/api/v1/caches?repo=octo/hello&"
	    "key=a%20b%26c%3Dd%2B%C3%A9%2F~");
	ck_assert_msg(strstr(r.err, "octo/hello has no cache entry with key")
	    != NULL, "stderr: %s", r.err);
	fake_free(&f);
	result_free(&r);

	/* An ID and --key together, or --key alone: usage errors. */
	run(&r, NULL, "--socket", "/nonexistent", "cache", "rm", "3",
	    "--key", "k", NULL);
	ck_assert_int_eq(r.rc, 2);
	result_free(&r);
	run(&r, NULL, "--socket", "/nonexistent", "cache", "rm", "--key", "k",
	    NULL);
	ck_assert_int_eq(r.rc, 2);
	result_free(&r);
}
END_TEST

START_TEST(test_runs_table)
{
	static const char answer[] =
	    "[{\"id\":12,\"name\":\"CI\",\"path\":\".github/workflows/ci.yml\","
	    "\"event\":\"push\",\"status\":\"completed\","
	    "\"conclusion\":\"failure\",\"head_sha\":\"0123456789abcdef\","
	    "\"head_branch\":\"main\"},"
	    "{\"id\":7,\"name\":\"Nightly\",\"path\":\"n.yml\","
	    "\"event\":\"schedule\",\"status\":\"in_progress\","
	    "\"conclusion\":null,\"head_sha\":\"fedcba9876543210\","
	    "\"head_branch\":\"evil\\u001b[2J\"}]";
	struct result r;
	struct fake f;

	fake_start(&f, 200, "application/json", answer, strlen(answer));
	run(&r, NULL, "--socket", f.sock, "runs", NULL);
	fake_stop(&f);

	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert_str_eq(f.target, "/api/v1/runs");
	ck_assert_str_eq(r.out,
	    "ID  STATUS       CONCLUSION  EVENT     BRANCH       SHA      "
	    "NAME     PATH\n"
	    "12  completed    failure     push      main         0123456  "
	    "CI       .github/workflows/ci.yml\n"
	    "7   in_progress  -           schedule  evil\\x1b[2J  fedcba9  "
	    "Nightly  n.yml\n");
	fake_free(&f);
	result_free(&r);
}
END_TEST

/* CJK and emoji take two terminal columns each: the columns still line up. */
START_TEST(test_runs_table_wide_names)
{
	static const char answer[] =
	    "[{\"id\":1,\"name\":\"\\u6784\\u5efa CI\",\"path\":\"a.yml\","
	    "\"event\":\"push\",\"status\":\"completed\","
	    "\"conclusion\":\"success\",\"head_sha\":\"0123456789abcdef\","
	    "\"head_branch\":\"\\u529f\\u80fd\"},"
	    "{\"id\":2,\"name\":\"\\ud83d\\ude80 deploy\",\"path\":\"b.yml\","
	    "\"event\":\"push\",\"status\":\"completed\","
	    "\"conclusion\":\"success\",\"head_sha\":\"fedcba9876543210\","
	    "\"head_branch\":\"main\"}]";
	struct result r;
	struct fake f;

	fake_start(&f, 200, "application/json", answer, strlen(answer));
	run(&r, NULL, "--socket", f.sock, "runs", NULL);
	fake_stop(&f);

	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert_str_eq(r.out,
	    "ID  STATUS     CONCLUSION  EVENT  BRANCH  SHA      NAME       "
	    "PATH\n"
	    "1   completed  success     push   \xe5\x8a\x9f\xe8\x83\xbd    "
	    "0123456  \xe6\x9e\x84\xe5\xbb\xba CI    a.yml\n"
	    "2   completed  success     push   main    fedcba9  "
	    "\xf0\x9f\x9a\x80 deploy  b.yml\n");
	fake_free(&f);
	result_free(&r);
}
END_TEST

START_TEST(test_show_tree)
{
	static const char answer[] =
	    "{\"id\":12,\"run_number\":3,\"name\":\"CI\","
	    "\"path\":\".github/workflows/ci.yml\",\"event\":\"push\","
	    "\"status\":\"completed\",\"conclusion\":\"failure\","
	    "\"head_sha\":\"0123456789abcdef\",\"head_branch\":\"main\","
	    "\"repository\":\"octo/hello\",\"message\":null,"
	    "\"jobs\":[{\"id\":40,\"name\":\"build\",\"status\":\"completed\","
	    "\"conclusion\":\"failure\",\"steps\":["
	    "{\"number\":1,\"name\":\"Checkout\",\"status\":\"completed\","
	    "\"conclusion\":\"success\"},"
	    "{\"number\":2,\"name\":\"Test\",\"status\":\"completed\","
	    "\"conclusion\":\"failure\"}]},"
	    "{\"id\":41,\"name\":\"deploy\",\"status\":\"waiting\","
	    "\"conclusion\":null,\"steps\":[]}]}";
	struct result r;
	struct fake f;

	fake_start(&f, 200, "application/json", answer, strlen(answer));
	run(&r, NULL, "--socket", f.sock, "show", "12", NULL);
	fake_stop(&f);

	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert_str_eq(f.target, "/api/v1/runs/12");
	ck_assert_str_eq(r.out,
	    "Run 12 (#3): CI\n"
	    "  Repository  octo/hello\n"
	    "  Workflow    .github/workflows/ci.yml\n"
	    "  Event       push\n"
	    "  Branch      main\n"
	    "  Commit      0123456789abcdef\n"
	    "  Status      completed\n"
	    "  Conclusion  failure\n"
	    "\n"
	    "Jobs:\n"
	    "  JOB  NAME           STATUS     CONCLUSION\n"
	    "  40   build          completed  failure\n"
	    "         1. Checkout  completed  success\n"
	    "         2. Test      completed  failure\n"
	    "  41   deploy         waiting    -\n");
	fake_free(&f);
	result_free(&r);
}
END_TEST

START_TEST(test_show_json_unchanged)
{
	static const char answer[] = "{\"id\":5,\"jobs\":[{\"id\":1,"
	    "\"name\":\"b\",\"status\":\"queued\",\"conclusion\":null,"
	    "\"steps\":[]}]}";
	struct result r;
	struct fake f;

	fake_start(&f, 200, "application/json", answer, strlen(answer));
	run(&r, NULL, "--socket", f.sock, "show", "5", "--json", NULL);
	fake_stop(&f);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.outlen, strlen(answer) + 1);
	ck_assert(memcmp(r.out, answer, strlen(answer)) == 0);
	ck_assert_int_eq(r.out[r.outlen - 1], '\n');
	fake_free(&f);
	result_free(&r);
}
END_TEST

START_TEST(test_logs_byte_exact)
{
	struct result r;
	struct fake f;
	char *log;
	size_t i, n = 300000;

	/* Every byte value, NULs and broken UTF-8 included, over many reads. */
	log = xmalloc(n);
	for (i = 0; i < n; i++)
		log[i] = (char)(i * 7 + i / 256);
	fake_start(&f, 200, "text/plain", log, n);
	run(&r, NULL, "--socket", f.sock, "logs", "40", NULL);
	fake_stop(&f);

	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert_str_eq(f.target, "/api/v1/jobs/40/logs");
	ck_assert_uint_eq(r.outlen, n);
	ck_assert(memcmp(r.out, log, n) == 0);
	ck_assert_uint_eq(r.errlen, 0);
	free(log);
	fake_free(&f);
	result_free(&r);
}
END_TEST

START_TEST(test_api_error_one_line)
{
	static const char answer[] = "{\"error\":\"run 99 not found\"}";
	static const char hostile[] =
	    "{\"error\":\"bad\\nthing\\u001b[2J \\u009b1m\"}";
	struct result r;
	struct fake f;

	fake_start(&f, 404, "application/json", answer, strlen(answer));
	run(&r, NULL, "--socket", f.sock, "show", "99", NULL);
	fake_stop(&f);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_uint_eq(r.outlen, 0);
	ck_assert_str_eq(r.err, "cictl: run 99 not found (HTTP 404)\n");
	fake_free(&f);
	result_free(&r);

	/* Logs: the error body is not written to stdout. */
	fake_start(&f, 404, "application/json", answer, strlen(answer));
	run(&r, NULL, "--socket", f.sock, "logs", "99", NULL);
	fake_stop(&f);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_uint_eq(r.outlen, 0);
	ck_assert_str_eq(r.err, "cictl: run 99 not found (HTTP 404)\n");
	fake_free(&f);
	result_free(&r);

	fake_start(&f, 400, "application/json", hostile, strlen(hostile));
	run(&r, NULL, "--socket", f.sock, "runs", NULL);
	fake_stop(&f);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_int_eq(lines(r.err), 1);
	ck_assert_ptr_null(strchr(r.err, '\x1b'));
	ck_assert_ptr_nonnull(strstr(r.err, "bad\\nthing"));
	fake_free(&f);
	result_free(&r);

	/* Not JSON at all. */
	fake_start(&f, 503, "text/plain", "database down\nmore\n", 19);
	run(&r, NULL, "--socket", f.sock, "repo", "list", NULL);
	fake_stop(&f);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "cictl: kilnd answered HTTP 503: database "
	    "down\n");
	fake_free(&f);
	result_free(&r);

	/* A 2xx that is not the promised JSON. */
	fake_start(&f, 200, "application/json", "{\"id\":1}", 8);
	run(&r, NULL, "--socket", f.sock, "runs", "--json", NULL);
	fake_stop(&f);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_uint_eq(r.outlen, 0);
	ck_assert_int_eq(lines(r.err), 1);
	fake_free(&f);
	result_free(&r);
}
END_TEST

START_TEST(test_cannot_connect)
{
	struct result r;
	char dir[] = "/tmp/test_cictl.XXXXXX", *sock;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	sock = xasprintf("%s/admin.sock", dir);
	run(&r, NULL, "--socket", sock, "runs", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_int_eq(lines(r.err), 1);
	ck_assert_ptr_nonnull(strstr(r.err, "cictl: cannot connect to kilnd "
	    "at "));
	ck_assert_ptr_nonnull(strstr(r.err, sock));
	ck_assert_ptr_nonnull(strstr(r.err, "No such file or directory"));
	result_free(&r);
	free(sock);
	rmdir(dir);
}
END_TEST

START_TEST(test_socket_from_env_and_config)
{
	static const char answer[] = "[]";
	struct result r;
	struct fake f;
	char *conf, *text;

	/* $KILN_ADMIN_SOCKET. */
	fake_start(&f, 200, "application/json", answer, 2);
	setenv("KILN_ADMIN_SOCKET", f.sock, 1);
	run(&r, NULL, "repo", "ls", NULL);
	fake_stop(&f);
	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert_str_eq(r.out, "no repositories\n");
	ck_assert_str_eq(f.target, "/api/v1/repos");
	fake_free(&f);
	result_free(&r);

	/* --socket beats the environment. */
	fake_start(&f, 200, "application/json", answer, 2);
	setenv("KILN_ADMIN_SOCKET", "/nonexistent/sock", 1);
	run(&r, NULL, "--socket", f.sock, "runs", NULL);
	fake_stop(&f);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "no runs\n");
	fake_free(&f);
	result_free(&r);

	/* -c FILE: the config's [server] admin_socket. */
	unsetenv("KILN_ADMIN_SOCKET");
	fake_start(&f, 200, "application/json", answer, 2);
	text = xasprintf("[server]\nadmin_socket = %s\n", f.sock);
	conf = write_temp(f.dir, "kiln.conf", text, strlen(text));
	run(&r, NULL, "-c", conf, "runs", NULL);
	fake_stop(&f);
	ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
	ck_assert(f.got);
	result_free(&r);
	unlink(conf);
	fake_free(&f);
	free(conf);
	free(text);

	/* A named config that does not exist is an error. */
	run(&r, NULL, "-c", "/nonexistent/kiln.conf", "runs", NULL);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_int_eq(lines(r.err), 1);
	result_free(&r);
}
END_TEST

START_TEST(test_usage_exit_codes)
{
	static const char *const cases[][4] = {
		{ "frob", NULL },
		{ "r", NULL },
		{ "repo", NULL },
		{ "show", NULL },
		{ "show", "abc", NULL },
		{ "show", "0", NULL },
		{ "logs", "1", "2", NULL },
		{ "logs", "-3", NULL },
		{ "runs", "--limit", "1001", NULL },
		{ "runs", "--repo", "a/b/c", NULL },
		{ "runs", "--bogus", NULL },
		{ "--bogus", "runs", NULL },
	};
	struct result r;
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		run(&r, NULL, "--socket", "/nonexistent/sock", cases[i][0],
		    cases[i][1], cases[i][2], cases[i][3], NULL);
		ck_assert_msg(r.rc == 2, "case %zu (%s): rc %d", i, cases[i][0],
		    r.rc);
		ck_assert_msg(strncmp(r.err, "cictl: ", 7) == 0, "%s", r.err);
		ck_assert_ptr_nonnull(strstr(r.err, "\nusage: cictl "));
		ck_assert_uint_eq(r.outlen, 0);
		result_free(&r);
	}
	run(&r, NULL, NULL);
	ck_assert_int_eq(r.rc, 2);
	result_free(&r);
}
END_TEST

START_TEST(test_help_and_version)
{
	const struct cmd_entry *t;
	struct result r;
	struct buf b = { 0 };
	size_t n, i;

	/* Help needs no socket and lists every command's generated usage. */
	unsetenv("KILN_ADMIN_SOCKET");
	run(&r, NULL, "-c", "/nonexistent/kiln.conf", "help", NULL);
	ck_assert_int_eq(r.rc, 0);
	t = cictl_commands(&n);
	for (i = 0; i < n; i++) {
		buf_clear(&b);
		cictl_usage_line(&t[i], &b);
		ck_assert_msg(strstr(r.out, b.data) != NULL, "missing %s",
		    b.data);
	}
	buf_free(&b);
	result_free(&r);

	run(&r, NULL, "-h", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "usage: cictl"));
	result_free(&r);

	run(&r, NULL, "help", "repo", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "repo add"));
	ck_assert_ptr_nonnull(strstr(r.out, "repo list"));
	ck_assert_ptr_nonnull(strstr(r.out, "repo rm"));
	/* Only the family: no other command's line. */
	ck_assert_ptr_null(strstr(r.out, "cictl runs"));
	ck_assert_ptr_null(strstr(r.out, "  runs"));
	result_free(&r);

	run(&r, NULL, "sh", "-h", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "show RUN_ID [--json]"));
	result_free(&r);

	run(&r, NULL, "help", "nope", NULL);
	ck_assert_int_eq(r.rc, 2);
	result_free(&r);

	run(&r, NULL, "--version", NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert(strncmp(r.out, "cictl ", 6) == 0);
	result_free(&r);
}
END_TEST

static Suite *
cictl_suite(void)
{
	Suite *s = suite_create("cictl");
	TCase *tc;

	tc = tcase_create("table");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_test(tc, test_table_well_formed);
	tcase_add_test(tc, test_lookup_exact_and_prefix);
	tcase_add_test(tc, test_lookup_ambiguous_and_unknown);
	suite_add_tcase(s, tc);

	tc = tcase_create("args");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_test(tc, test_parse_args);
	tcase_add_test(tc, test_parse_args_bounded);
	tcase_add_test(tc, test_usage_generated);
	tcase_add_test(tc, test_parse_id);
	tcase_add_test(tc, test_valid_repo);
	tcase_add_test(tc, test_read_secret);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_set_timeout(tc, 60);	/* ASan on a busy 2-core box */
	tcase_add_test(tc, test_output_safe);
	tcase_add_test(tc, test_table_alignment);
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_repo_add_secret_file);
	tcase_add_test(tc, test_repo_add_secret_stdin);
	tcase_add_test(tc, test_repo_add_refuses_before_sending);
	tcase_add_test(tc, test_runs_json_unchanged);
	tcase_add_test(tc, test_runs_table);
	tcase_add_test(tc, test_runs_before_pages);
	tcase_add_test(tc, test_runs_table_wide_names);
	tcase_add_test(tc, test_show_tree);
	tcase_add_test(tc, test_show_json_unchanged);
	tcase_add_test(tc, test_logs_byte_exact);
	tcase_add_test(tc, test_api_error_one_line);
	tcase_add_test(tc, test_cannot_connect);
	tcase_add_test(tc, test_socket_from_env_and_config);
	tcase_add_test(tc, test_usage_exit_codes);
	tcase_add_test(tc, test_help_and_version);
	tcase_add_test(tc, test_cache_rm_key_escaped);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cictl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
