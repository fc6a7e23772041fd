/*
 * hashfiles: see hashfiles.h.  The pattern rules are @actions/glob's
 * (internal-pattern.ts), the order libuv's scandir sort, the digest the
 * runner's bundled hashFiles/index.js.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hashfiles.h"
#include "util.h"

struct segs {
	char	**s;
	size_t	  n;
	char	 *mem;		/* the string the segments point into */
};

struct hpattern {
	int		negate;
	struct segs	segs;
};

struct hashctx {
	char			*err;
	size_t			 errsz;
	struct hpattern		*pat;
	size_t			 npat;
	struct segs		 ws;
	int			 follow;
	EVP_MD_CTX		*outer;
	size_t			 nfiles;
	dev_t			 dev[HASHFILES_MAX_DEPTH];
	ino_t			 ino[HASHFILES_MAX_DEPTH];
};

static int
hash_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

static int KILN_PRINTF(2, 3)
hash_err(struct hashctx *h, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(h->err, h->errsz, fmt, ap);
	va_end(ap);
	return -1;
}

/* Split an absolute path into normalised segments ("." and ".." gone). */
static void
segs_split(const char *path, struct segs *sg)
{
	char	*p, *tok, *save = NULL;

	sg->mem = xstrdup(path);
	sg->s = NULL;
	sg->n = 0;
	for (p = sg->mem; (tok = strtok_r(p, "/", &save)) != NULL; p = NULL) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			if (sg->n > 0)
				sg->n--;
			continue;
		}
		sg->s = xreallocarray(sg->s, sg->n + 1, sizeof *sg->s);
		sg->s[sg->n++] = tok;
	}
}

static void
segs_free(struct segs *sg)
{
	free(sg->s);
	free(sg->mem);
	memset(sg, 0, sizeof *sg);
}

static int
has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int
seg_match(char **pat, size_t np, char **path, size_t ns)
{
	size_t	k;

	if (np == 0)
		return ns == 0;
	if (strcmp(pat[0], "**") == 0) {
		for (k = 0; k <= ns; k++)
			if (seg_match(pat + 1, np - 1, path + k, ns - k))
				return 1;
		return 0;
	}
	if (ns == 0 || fnmatch(pat[0], path[0], 0) != 0)
		return 0;
	return seg_match(pat + 1, np - 1, path + 1, ns - 1);
}

/* Later patterns win; a pattern also matches everything below a match. */
static int
hash_matches(struct hashctx *h, struct segs *path)
{
	size_t	i, k, np;
	int	result = 0, m;

	for (i = 0; i < h->npat; i++) {
		np = h->pat[i].segs.n;
		m = seg_match(h->pat[i].segs.s, np, path->s, path->n);
		if (!m && (np == 0 || strcmp(h->pat[i].segs.s[np - 1], "**")))
			for (k = 0; k < path->n && !m; k++)
				m = seg_match(h->pat[i].segs.s, np, path->s, k);
		if (m)
			result = !h->pat[i].negate;
	}
	return result;
}

int
hashfiles_match(const char *pattern, const char *path, int below)
{
	struct segs	pat, sg;
	size_t		k;
	int		m;

	segs_split(pattern, &pat);
	segs_split(path, &sg);
	m = seg_match(pat.s, pat.n, sg.s, sg.n);
	for (k = 0; below && !m && k < sg.n; k++)
		m = seg_match(pat.s, pat.n, sg.s, k);
	segs_free(&pat);
	segs_free(&sg);
	return m;
}

static int
hash_file(struct hashctx *h, const char *path)
{
	unsigned char	 md[EVP_MAX_MD_SIZE], buf[65536];
	unsigned int	 mdlen;
	EVP_MD_CTX	*c;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return hash_err(h, "cannot open %s: %s", path,
		    strerror(errno));
	c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		abort();
	while ((r = read(fd, buf, sizeof buf)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			hash_err(h, "cannot read %s: %s", path,
			    strerror(errno));
			close(fd);
			EVP_MD_CTX_free(c);
			return -1;
		}
		EVP_DigestUpdate(c, buf, (size_t)r);
	}
	close(fd);
	EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	EVP_DigestUpdate(h->outer, md, mdlen);
	h->nfiles++;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Depth-first, pre-order, entries in strcmp order of their names. */
static int
hash_walk(struct hashctx *h, const char *path, int depth)
{
	struct stat	 st;
	struct segs	 sg;
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL, *child;
	size_t		 n = 0, i;
	int		 rc = 0, k, under;

	if (lstat(path, &st) == -1)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		if (stat(path, &st) == -1)
			return 0;	/* dangling */
		if (S_ISDIR(st.st_mode) && !h->follow)
			return 0;
	}
	if (S_ISREG(st.st_mode)) {
		segs_split(path, &sg);
		under = sg.n > h->ws.n;
		for (i = 0; under && i < h->ws.n; i++)
			under = strcmp(sg.s[i], h->ws.s[i]) == 0;
		if (under && hash_matches(h, &sg))
			rc = hash_file(h, path);
		segs_free(&sg);
		return rc;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (depth >= HASHFILES_MAX_DEPTH)
		return hash_err(h, "more than %d directory levels under %s",
		    HASHFILES_MAX_DEPTH, path);
	for (k = 0; k < depth; k++)
		if (h->dev[k] == st.st_dev && h->ino[k] == st.st_ino)
			return 0;	/* a symbolic link loop */
	h->dev[depth] = st.st_dev;
	h->ino[depth] = st.st_ino;
	if ((d = opendir(path)) == NULL)
		return hash_err(h, "cannot read %s: %s", path,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)	/* an empty directory has no array (qsort's NULL) */
		qsort(names, n, sizeof *names, name_cmp);
	for (i = 0; i < n; i++) {
		if (rc == 0) {
			child = xasprintf("%s%s%s", path,
			    str_has_suffix(path, "/") ? "" : "/", names[i]);
			rc = hash_walk(h, child, depth + 1);
			free(child);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static char *
segs_join(char **s, size_t n)
{
	struct buf	b = { 0 };
	size_t		i;

	if (n == 0)
		return xstrdup("/");
	for (i = 0; i < n; i++) {
		buf_add_char(&b, '/');
		buf_add_str(&b, s[i]);
	}
	return buf_steal(&b);
}

static void
hash_add_line(struct hashctx *h, const char *workspace, const char *line,
    size_t len)
{
	struct hpattern	*hp;
	char		*rel, *abs;
	int		 neg = 0;

	while (len > 0 && hash_space((unsigned char)*line)) {
		line++;
		len--;
	}
	while (len > 0 && hash_space((unsigned char)line[len - 1]))
		len--;
	if (len == 0 || line[0] == '#')
		return;
	while (len > 0 && line[0] == '!') {
		neg = !neg;
		line++;
		len--;
	}
	rel = xstrndup(line, len);
	abs = rel[0] == '/' ? xstrdup(rel) :
	    xasprintf("%s/%s", workspace, rel);
	h->pat = xreallocarray(h->pat, h->npat + 1, sizeof *h->pat);
	hp = &h->pat[h->npat++];
	hp->negate = neg;
	segs_split(abs, &hp->segs);
	free(rel);
	free(abs);
}

int
hashfiles_digest(const char *workspace, const char *const *patterns,
    size_t n, int follow, char *hex, char *err, size_t errsz)
{
	struct hashctx	 h;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	char		**roots = NULL, *p;
	const char	*line, *nl;
	size_t		 i, k, nroots = 0, np;
	int		 rc = 0, dup;

	memset(&h, 0, sizeof h);
	h.err = err;
	h.errsz = errsz;
	h.follow = follow;
	hex[0] = '\0';
	for (i = 0; i < n; i++)
		for (line = patterns[i]; line != NULL;
		    line = nl != NULL ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			hash_add_line(&h, workspace, line, nl != NULL ?
			    (size_t)(nl - line) : strlen(line));
		}
	segs_split(workspace, &h.ws);

	/* One search root per positive pattern: its literal prefix. */
	for (i = 0; i < h.npat; i++) {
		if (h.pat[i].negate)
			continue;
		for (np = 0; np < h.pat[i].segs.n &&
		    !has_glob(h.pat[i].segs.s[np]); np++)
			;
		p = segs_join(h.pat[i].segs.s, np);
		for (dup = 0, k = 0; k < nroots && !dup; k++)
			dup = strcmp(roots[k], p) == 0;
		if (dup) {
			free(p);
			continue;
		}
		roots = xreallocarray(roots, nroots + 1, sizeof *roots);
		roots[nroots++] = p;
	}

	h.outer = EVP_MD_CTX_new();
	if (h.outer == NULL || EVP_DigestInit_ex(h.outer, EVP_sha256(),
	    NULL) != 1)
		abort();
	for (i = 0; i < nroots && rc == 0; i++) {
		/* Skip a root lying under another root. */
		for (dup = 0, k = 0; k < nroots && !dup; k++) {
			size_t kl = strlen(roots[k]);

			dup = k != i && strncmp(roots[i], roots[k], kl) == 0 &&
			    (roots[i][kl] == '/' || (kl == 1 &&
			    roots[i][1] != '\0'));
		}
		if (!dup)
			rc = hash_walk(&h, roots[i], 0);
	}
	EVP_DigestFinal_ex(h.outer, md, &mdlen);
	EVP_MD_CTX_free(h.outer);
	for (i = 0; i < nroots; i++)
		free(roots[i]);
	free(roots);
	for (i = 0; i < h.npat; i++)
		segs_free(&h.pat[i].segs);
	free(h.pat);
	segs_free(&h.ws);
	if (rc == 0 && h.nfiles > 0)
		hex_encode(md, mdlen, hex);
	return rc;
}
