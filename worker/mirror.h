/*
 * mirror: the worker's bare git mirror of a repository (libgit2).
 *
 * Each repository kiln builds has one bare mirror under the worker's state
 * directory.  Planning an event (DESIGN.md, life of a push, step 2) fetches
 * it, reads .github/workflows straight from the object database and diffs
 * commits for path filters; running a job (step 3) clones the commit out of
 * it into the job's workspace.  Nothing here touches the network except
 * mirror_fetch().
 *
 * All functions block (fine in the worker, never in kilnd), return 0 on
 * success and -1 on failure with a message naming what failed in err (errsz
 * bytes, always NUL-terminated; err may be NULL).  libgit2's own reason is
 * appended when it has one.  They neither print nor exit.
 *
 * The program must call git_libgit2_init() once before the first call (and
 * may call git_libgit2_shutdown() at exit); this module never does.
 *
 * Revisions: every "sha" argument accepts a full 40-hex commit id, a ref
 * name as git would complete it ("main", "refs/heads/main", "v1.2",
 * "refs/pull/7/merge", "HEAD") or an unambiguous hex prefix of at least 4
 * digits.  Tags are peeled to the commit they name.  revparse expressions
 * ("main~2", "@{1}") are deliberately not accepted: revisions come from
 * webhooks and must name something, not compute it.
 *
 * Concurrency: several workers on one host may share a mirror.
 * mirror_fetch() serialises writers with flock() on <dir>/kiln-fetch.lock.
 * Git replaces refs and publishes packs by atomic rename, so a fetch never
 * disturbs a reader; but each fetch adds a pack, and past
 * MIRROR_PACK_LIMIT mirror_tidy() (or, far past it, a fetch) writes the
 * objects of the small packs into one and deletes them.  So every reader
 * holds <dir>/kiln-pack.lock shared while it has the mirror open, and the
 * deletion takes it exclusively.  A mirror's objects are never deleted:
 * never gc or prune them, since event shas that no branch reaches any more
 * (force pushes) are still resolved through it.
 */
#ifndef KILN_MIRROR_H
#define KILN_MIRROR_H

#include <stddef.h>

/* Limits of mirror_read_workflows(). */
#define MIRROR_WORKFLOW_DIR	".github/workflows"
#define MIRROR_MAX_WORKFLOWS	256		/* more is an error */
#define MIRROR_MAX_WORKFLOW_SIZE (1024 * 1024)	/* bytes; more is reported */

/*
 * Packs a mirror keeps before mirror_tidy() combines the small ones, and
 * before a fetch does (when no worker was idle to tidy).
 */
#define MIRROR_PACK_LIMIT	16
#define MIRROR_PACK_FETCH_LIMIT	(4 * MIRROR_PACK_LIMIT)

/* 40 zeros: GitHub's "no commit" (before of a created ref). */
#define MIRROR_ZERO_SHA "0000000000000000000000000000000000000000"

/*
 * Create <dir> (and its parents) as a bare repository if it is not one yet,
 * then fetch url into it: every refs/heads/<b>, refs/tags/<t> and
 * refs/pull/<n>/<x> (pull refs exist only on GitHub) under its own name,
 * forced, pruning refs the remote no longer has, and point HEAD at
 * the remote's default branch.  url is anything libgit2 fetches from:
 * file:// URLs, local paths, https://, taken literally (no
 * url.<base>.insteadOf rewriting).  Never put a token in url: it is stored
 * in <dir>/config as remote "origin" once a fetch from it succeeded.
 *
 * A fetch that fails leaves the mirror as it was: refs move only after the
 * whole pack has arrived and been indexed.
 */
int	 mirror_fetch(const char *dir, const char *url, char *err,
	     size_t errsz);

/*
 * Credentials for a fetch over HTTP(S), asked for only when the server
 * demands them (a 401: a private repository), as GitHub's checkout gives
 * them: user "x-access-token", the token as password.  token() returns
 * the token to use (it may buy one; NULL with a reason in err: the fetch
 * fails saying so); it is called at most once per fetch, and a token the
 * server refuses fails the fetch rather than being offered again.
 */
struct mirror_auth {
	const char	*(*token)(void *arg, char *err, size_t errsz);
	void		*arg;
};

/*
 * Set key to value in the config of the repository whose work tree is
 * workdir (a checkout's .git/config).
 */
int	 mirror_set_config(const char *workdir, const char *key,
	     const char *value, char *err, size_t errsz);

/* mirror_fetch() with credentials (auth NULL: none). */
int	 mirror_fetch_auth(const char *dir, const char *url,
	     const struct mirror_auth *auth, char *err, size_t errsz);

/*
 * Past MIRROR_PACK_LIMIT packs, combine the small ones as a fetch would
 * far past it (see Concurrency above), for a worker with nothing else to
 * do: 1 if it did, 0 if there was nothing to combine or a fetch holds the
 * mirror (that fetch's worker tidies after it), -1 if the mirror could
 * not be opened (its packs stay as they were).
 */
int	 mirror_tidy(const char *dir);

/*
 * Does the mirror in dir hold commit sha (40 hex digits)?  0 when it does
 * not, when sha is not such an id, or when there is no mirror yet.
 */
int	 mirror_has_commit(const char *dir, const char *sha);

/* Resolve rev in the mirror to the full 40-hex id of a commit into out. */
int	 mirror_resolve(const char *dir, const char *rev, char out[41],
	     char *err, size_t errsz);

/*
 * The message of commit rev (a new string), or NULL with err: a pull
 * request's skip markers are in its head commit's message, which its
 * webhook does not carry.
 */
char	*mirror_commit_message(const char *dir, const char *rev, char *err,
	     size_t errsz);

/* One file read from the object database. */
struct mirror_file {
	char	*path;	/* ".github/workflows/ci.yml" */
	char	*data;	/* contents, NUL-terminated; NULL when error is set */
	size_t	 len;	/* bytes in data (the blob's size when error is set) */
	char	*error;	/* NULL, or why data was not read (too big) */
};

/*
 * Read every .github/workflows/<name>.yml and .yaml blob of commit sha,
 * straight from the object database (no checkout), sorted by path.
 * Subdirectories, symlinks, submodules and other names are ignored, and a
 * commit without the directory has no workflows (0, *nfiles = 0).  Names
 * are matched case-sensitively.
 *
 * A file larger than MIRROR_MAX_WORKFLOW_SIZE is returned with data NULL
 * and error set, so the planner can turn it into a failed run rather than
 * skip it silently; more than MIRROR_MAX_WORKFLOWS files is an error.
 *
 * On success *files (NULL when *nfiles is 0) belongs to the caller, who
 * releases it with mirror_files_free().  On failure nothing is returned.
 */
int	 mirror_read_workflows(const char *dir, const char *sha,
	     struct mirror_file **files, size_t *nfiles, char *err,
	     size_t errsz);
void	 mirror_files_free(struct mirror_file *, size_t);

/*
 * Read the blob at sha:path (a path in the tree, "dir/action.yml") of at
 * most max bytes.  On success *data (NUL-terminated, *len bytes) belongs
 * to the caller.  On failure -1 with errno ENOENT when path does not exist
 * at sha (so a caller can try action.yaml after action.yml), EFBIG when the
 * blob is larger than max, EISDIR when it is a directory, EINVAL for
 * anything else that is not a regular file (symlink, submodule), and EIO
 * for other errors (unknown sha, broken mirror).
 */
int	 mirror_read_file(const char *dir, const char *sha, const char *path,
	     size_t max, char **data, size_t *len, char *err, size_t errsz);

/*
 * The paths that differ between the trees of two commits: the two-dot diff
 * base..head (`git diff --name-only base head`), for paths filters.
 * Additions, modifications, deletions and type changes list their path; a
 * rename lists both the old and the new path.  A changed submodule lists
 * its top directory.  The result is sorted (byte order) without duplicates.
 *
 * base NULL, "" or MIRROR_ZERO_SHA compares against the empty tree: every
 * file of head counts as changed.
 *
 * Which base to pass (reference section 2.4):
 *  - push to an existing branch: the payload's before;
 *  - pull request: mirror_merge_base(base tip, head) (three-dot diff);
 *  - push creating a branch (before is zeros): GitHub diffs against "the
 *    parent of the ancestor of the deepest pushed commit", i.e. where the
 *    new commits leave history the repository already had.  kiln takes
 *    mirror_merge_base(default branch tip, head) for that commit; when
 *    there is no default branch or no merge base, pass NULL.
 * An unknown base (a force push from a commit the mirror never saw) is an
 * error; GitHub runs the workflow when its diff fails, and so should the
 * caller.
 *
 * On success *paths (NULL when *npaths is 0) belongs to the caller, who
 * releases it with mirror_paths_free().
 */
int	 mirror_changed_paths(const char *dir, const char *base_sha,
	     const char *head_sha, char ***paths, size_t *npaths, char *err,
	     size_t errsz);
void	 mirror_paths_free(char **, size_t);

/*
 * The best common ancestor of commits a and b into out (40 hex).  -1 with
 * errno ENOENT when they share no history, EIO on other errors.
 */
int	 mirror_merge_base(const char *dir, const char *a, const char *b,
	     char out[41], char *err, size_t errsz);

/*
 * Check commit sha out into dest (an empty or absent directory: the job's
 * workspace) as an ordinary git repository, as actions/checkout leaves it:
 *  - the work tree and index hold sha's tree (modes and symlinks included),
 *    so `git status` is clean and `git log -1` shows sha;
 *  - with ref "refs/heads/<b>", or an unqualified "<b>" that is a branch of
 *    the mirror, HEAD is the local branch <b> at sha (tracking origin/<b>
 *    when the mirror has it), and no other local branch exists; any other
 *    ref (tags, pull refs) or NULL leaves HEAD detached at sha;
 *  - remote "origin" is origin_url (NULL leaves it at the mirror's path),
 *    with refs/remotes/origin/<b> and the tags of the mirror at checkout time
 *    (full history: fetch-depth 0).
 *
 * The repository is a local clone whose objects are copied, not hard-linked
 * or borrowed through alternates: the workspace shares no file with the
 * mirror, so steps (possibly under another uid, and after a chown of the
 * workspace) cannot damage the mirror, and later fetches or a mirror's
 * removal cannot break the workspace.  Submodules and LFS are not handled.
 *
 * On failure dest may be left partly written; the caller removes the
 * workspace as it would after any job.
 */
int	 mirror_checkout(const char *dir, const char *sha, const char *ref,
	     const char *origin_url, const char *dest, char *err,
	     size_t errsz);

#endif
