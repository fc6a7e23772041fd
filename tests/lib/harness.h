/*
 * harness: the world of one integration test.  Each test gets its own
 * temporary directory (mode 0755, so the unprivileged account of the
 * embedded PostgreSQL can traverse it), a free loopback port, its own
 * kilnd with its own embedded database and two workers, its own git
 * repositories, and a deadline.  Nothing is shared between tests.
 *
 * The programs under test are found in $KILN_BINDIR (the Makefile's
 * check-integration sets it to build/bin).  They are used only through their
 * documented interfaces: the kilnd config file, HTTP on the public listener,
 * cictl's command line and JSON output, and signals.
 *
 * Waiting is always on a condition (harness_wait_for() polls every 100 ms),
 * bounded by the caller's timeout and by the test's deadline, never by a
 * fixed sleep.  The deadline is shorter than the Check timeout the tests set
 * (HARNESS_TCASE_TIMEOUT), so a stuck test fails with a message and kilnd's
 * output rather than being killed silently.
 *
 * Failure: harness_fail() prints kilnd's output (stdout and stderr, which
 * the workers share) and the test directory, which is then kept for
 * inspection, and fails the test through Check.  Check's fork mode ends the
 * test process at once; kilnd runs in its own process group with
 * PR_SET_PDEATHSIG = SIGTERM, so it still shuts down cleanly, and Check's
 * final killpg() of the test's group does not SIGKILL it halfway.
 *
 * Ownership: every _new returns an object the caller releases with the
 * matching _free; functions returning char * or json_t * hand over a
 * reference the caller frees (free() / json_decref()) unless noted.
 */
#ifndef KILN_TEST_HARNESS_H
#define KILN_TEST_HARNESS_H

#include <sys/types.h>

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util.h"

/* Check timeout for integration test cases, seconds. */
#define HARNESS_TCASE_TIMEOUT	120
/* A test's own deadline, from harness_new(); below the Check timeout. */
#define HARNESS_BUDGET_MS	100000
/* kilnd must answer /healthz within this after start. */
#define HARNESS_START_MS	60000
/* kilnd must exit after SIGTERM within this. */
#define HARNESS_STOP_MS		15000
/* Default wait for a run to complete. */
#define HARNESS_RUN_MS		60000

struct harness {
	char	*name;		/* test name, for messages */
	char	*dir;		/* the test's temporary directory */
	char	*state_dir;	/* <dir>/state, given to kilnd */
	char	*conf;		/* <dir>/kiln.conf */
	char	*log_path;	/* <dir>/kilnd.log: kilnd's stdout+stderr */
	char	*shared;	/* <dir>/shared, mode 1777, for steps */
	char	*bindir;	/* $KILN_BINDIR */
	int	 port;		/* kilnd's public listener */
	char	*base_url;	/* http://127.0.0.1:<port> */
	pid_t	 kilnd;		/* -1 when not running */
	int64_t	 deadline;	/* now_ms() value the test must finish by */
	int	 failed;	/* set by harness_fail: keep the directory */
	int	 repos;		/* repositories made, for unique names */
};

struct harness_repo {
	struct harness *h;
	char	*full_name;	/* owner/name */
	char	*bare;		/* <dir>/git/<owner>-<name>.git */
	char	*work;		/* <dir>/git/<owner>-<name>: a work tree */
	char	*clone_url;	/* file://<bare> */
	char	*secret;	/* webhook secret */
	char	*secret_file;	/* <dir>/git/<owner>-<name>.secret */
};

/* An HTTP answer. */
struct harness_resp {
	long		status;	/* HTTP status, 0 if no answer */
	struct buf	body;
	struct buf	headers; /* the response's header lines, as sent */
	char		error[256]; /* libcurl's reason when status is 0 */
};

/*
 * Fail the test: print msg, kilnd's output and the kept directory (h may be
 * NULL), then fail through Check at file:line.  Does not return.
 */
void	 harness_fail_at(struct harness *h, const char *file, int line,
	     const char *fmt, ...) __attribute__((noreturn))
	     KILN_PRINTF(4, 5);
#define harness_fail(h, ...) harness_fail_at((h), __FILE__, __LINE__, __VA_ARGS__)
#define harness_assert(h, cond, ...) do {				\
	if (!(cond))							\
		harness_fail_at((h), __FILE__, __LINE__, __VA_ARGS__);	\
} while (0)

/*
 * A test's world: make the directory, pick the port, write the config.
 * kilnd is not started.  harness_up() is harness_new() + harness_start().
 */
struct harness	*harness_new(const char *name);
struct harness	*harness_up_at(const char *file, int line, const char *name);
#define harness_up(name) harness_up_at(__FILE__, __LINE__, (name))
/* Start kilnd and wait for GET /healthz to answer 200. */
void	 harness_start_at(struct harness *, const char *file, int line);
#define harness_start(h) harness_start_at((h), __FILE__, __LINE__)
/*
 * SIGTERM kilnd and require a clean shutdown: exit status 0 within
 * HARNESS_STOP_MS, and no process of the test directory left (workers,
 * embedded postgres).  On failure the leftovers are killed, then the test
 * fails.
 */
void	 harness_stop_at(struct harness *, const char *file, int line,
	     int sig);
#define harness_stop(h) harness_stop_at((h), __FILE__, __LINE__, SIGTERM)
/* The same with another signal (SIGINT must stop kilnd as cleanly). */
#define harness_stop_signal(h, sig) \
	harness_stop_at((h), __FILE__, __LINE__, (sig))
/*
 * Release h.  kilnd, if still running, is stopped without checks.  The
 * directory is removed unless the test failed or HARNESS_KEEP is set.
 */
void	 harness_free(struct harness *);

/* A loopback TCP port nobody listens on now, or -1. */
int	 harness_free_port(void);
/* Milliseconds left before the test's deadline (never negative). */
int64_t	 harness_left_ms(const struct harness *);

/*
 * Poll pred(h, arg) every 100 ms until it returns nonzero (returns 1) or
 * timeout_ms, capped by the test's deadline, passes (returns 0).  pred runs
 * at least once.
 */
int	 harness_wait_for(struct harness *, int64_t timeout_ms,
	     int (*pred)(struct harness *, void *), void *arg);

/*
 * Run argv (argv[0] looked up in PATH) in cwd (NULL: inherit) with extra
 * environment entries env ("K=V", NULL-terminated, may be NULL), collecting
 * stdout and stderr (either may be NULL: discarded).  Returns the exit
 * status (128+signal for a signal), or -1 when it could not run or passed
 * timeout_ms (then killed; err says so).
 */
int	 harness_run(char *const argv[], const char *cwd, char *const env[],
	     struct buf *out, struct buf *err, int64_t timeout_ms);

/* Write a file of the test (mode 0644), making its parents. */
/*
 * Append text (whole lines: "[section]\nkey = value\n") to kilnd's config
 * file; between harness_new() and harness_start().
 */
void	 harness_conf_add(struct harness *, const char *text);
void	 harness_write_file(struct harness *, const char *path,
	     const char *content);

/* ---- kilnd processes ---- */

/* pids of kilnd's live kiln-worker children, at most max; returns count. */
int	 harness_workers(struct harness *, pid_t *pids, int max);
/*
 * Live processes other than the test itself that belong to the test
 * directory: cwd inside it or its path on the command line (workers, the
 * embedded postgres and its backends).  Appends "pid comm: cmdline" lines to
 * desc (may be NULL); returns how many.
 */
int	 harness_leftovers(struct harness *, struct buf *desc);
/*
 * The same for processes a job started: cwd inside the state directory
 * (workspaces), kilnd, kiln-worker and postgres themselves left out.
 */
int	 harness_step_procs(struct harness *, struct buf *desc);
/* Raise the test's own open-file limit to want (at most the hard limit). */
void	 harness_raise_nofile(struct harness *, unsigned long want);
/* 1 if the process exists and is not a zombie. */
int	 harness_pid_alive(pid_t);
/* 1 if /proc/pid/maps names a file containing needle. */
int	 harness_maps_have(pid_t, const char *needle);
/*
 * Remove path and everything below it (no symbolic link followed), as
 * "rm -rf" does but without a shell.  0, or -1 if path is still there.
 * Unit tests use it too (every test program links tests/lib).
 */
int	 harness_rm_rf(const char *path);
/* Send sig to every process of the test's embedded PostgreSQL; count. */
int	 harness_signal_postgres(struct harness *, int sig);
/*
 * The embedded PostgreSQL's log from byte *at on (0: its start); *at
 * moves to its end, for the next call.  Free it.
 */
char	*harness_postgres_log(struct harness *, long *at);

/* ---- HTTP ---- */

/* A harness_wait_for() predicate: GET /healthz answers 200. */
int	 harness_healthy_cb(struct harness *, void *unused);
/*
 * For harness_wait_for(): arg is { sql, its $1 or NULL, the answer
 * waited for }; 1 once harness_sql() answers that.
 */
int	 harness_sql_is_cb(struct harness *, void *arg);

/*
 * One request to kilnd's public listener.  headers: NULL-terminated
 * "Name: value" strings (may be NULL).  method "GET" or "POST".
 */
void	 harness_http(struct harness *, const char *method, const char *path,
	     const char *const headers[], const void *body, size_t len,
	     struct harness_resp *);
void	 harness_resp_free(struct harness_resp *);
/* A response header's value (case-insensitive name), or NULL; caller frees. */
char	*harness_resp_header(const struct harness_resp *, const char *name);
/* "sha256=" + lowercase hex HMAC-SHA256(secret, body). */
char	*harness_sign(const char *secret, const void *body, size_t len);
/* A fresh random GUID, as GitHub's X-GitHub-Delivery. */
char	*harness_guid(void);
/*
 * POST /hooks/github as GitHub does: X-GitHub-Event: event,
 * X-GitHub-Delivery: delivery, X-Hub-Signature-256: signature (omitted when
 * NULL), Content-Type: application/json, a GitHub-Hookshot User-Agent.
 */
void	 harness_webhook(struct harness *, const char *event,
	     const char *delivery, const char *signature, const void *body,
	     size_t len, struct harness_resp *);

/* ---- git ---- */

/*
 * A bare repository and a work tree (branch main, nothing committed), with
 * a random webhook secret written to secret_file; registered with kilnd by
 * `cictl repo add` (the test fails if cictl does).
 */
struct harness_repo *harness_repo_new(struct harness *, const char *full_name);
/* Same, without registering it with kilnd. */
struct harness_repo *harness_repo_new_unregistered(struct harness *,
	     const char *full_name);
void	 harness_repo_free(struct harness_repo *);
/*
 * Run git (as a test identity, no system or global config) in cwd (NULL:
 * inherit) with the NULL-terminated arguments; the test fails unless it
 * exits 0.  Returns its output without trailing white space (caller
 * frees).
 */
char	*harness_git(struct harness *, const char *cwd, ...)
	     __attribute__((sentinel));
/*
 * Make dir's files a new git repository's first commit, tagged tag (a
 * repository served as file:// to fetch actions or workflows from);
 * returns the commit's id (caller frees).
 */
char	*harness_git_tagged(struct harness *, const char *dir,
	     const char *tag);
/* Write path (relative to the work tree) with content. */
void	 harness_repo_write(struct harness_repo *, const char *path,
	     const char *content);
/*
 * Commit everything in the work tree with message and push it to
 * refs/heads/<branch> of the bare repository.  *before (if not NULL)
 * receives the branch's previous tip (40 zeros for a new branch).
 * Returns the new commit's sha.
 */
char	*harness_repo_commit_push(struct harness_repo *, const char *branch,
	     const char *message, char **before);

/*
 * The push event GitHub would send for repo's ref moving before -> after
 * (head commit message message), with the fields of reference section 1.5.
 */
json_t	*harness_push_event(const struct harness_repo *, const char *ref,
	     const char *before, const char *after, const char *message);
/* Compact JSON text of j. */
char	*harness_json_text(const json_t *);

/*
 * Deliver the signed push webhook of ref moving before -> after (head
 * commit message message) without pushing anything; the test fails
 * unless kilnd answers 202.
 */
void	 harness_deliver_push_at(struct harness *, const char *file,
	     int line, struct harness_repo *, const char *ref,
	     const char *before, const char *after, const char *message);
#define harness_deliver_push(h, repo, ref, before, after, message) \
	harness_deliver_push_at((h), __FILE__, __LINE__, (repo), (ref), \
	    (before), (after), (message))

/*
 * Commit, push to branch and deliver the signed push webhook; the test
 * fails unless kilnd answers 202.  Returns the pushed sha.
 */
char	*harness_push_at(struct harness *, const char *file, int line,
	     struct harness_repo *, const char *branch, const char *message);
#define harness_push(h, repo, branch, message) \
	harness_push_at((h), __FILE__, __LINE__, (repo), (branch), (message))

/*
 * The pull_request (or pull_request_target: event) webhook GitHub sends
 * when pull request number from head (at head_sha) into base (at base_sha)
 * is opened (reference 1.6), signed and delivered; the test fails unless
 * kilnd answers 202.  merge_sha NULL sends merge_commit_sha null (GitHub
 * has not computed the test merge yet).  Returns the body sent (caller
 * frees), for `cictl plan --payload`.
 */
char	*harness_pull_request_at(struct harness *, const char *file, int line,
	     struct harness_repo *, const char *event, int number,
	     const char *head, const char *head_sha, const char *base,
	     const char *base_sha, const char *title, const char *merge_sha);
#define harness_pull_request(h, repo, event, number, head, head_sha, base, \
	    base_sha, title, merge_sha) \
	harness_pull_request_at((h), __FILE__, __LINE__, (repo), (event), \
	    (number), (head), (head_sha), (base), (base_sha), (title), \
	    (merge_sha))

/* ---- other processes and the database ---- */

/*
 * Start argv (argv[0] a path) in the background, in its own process group,
 * its output appended to kilnd's log (harness_fail shows it), SIGTERMed
 * should the test die.  Returns its pid; stop it with harness_kill()
 * before harness_stop(), which counts it as a leftover otherwise.
 */
pid_t	 harness_spawn(struct harness *, char *const argv[]);
/* SIGTERM pid and reap it (SIGKILL after HARNESS_STOP_MS). */
void	 harness_kill(struct harness *, pid_t);
/*
 * Run sql on kilnd's embedded database (params: NULL-terminated strings,
 * $1 ...).  Returns the first column of the first row as a new string
 * ("" when there is no row or it is NULL); the test fails on an error.
 */
char	*harness_sql(struct harness *, const char *sql, ...)
	     __attribute__((sentinel));

/* ---- cictl and its JSON ---- */

/*
 * Run `cictl -c <conf> args...` (NULL-terminated).  Returns the exit status
 * or -1; out and err may be NULL.
 */
int	 harness_cictl(struct harness *, struct buf *out, struct buf *err, ...)
	     __attribute__((sentinel));
/* Same; the test fails unless cictl exits 0 and prints valid JSON. */
json_t	*harness_cictl_json(struct harness *, ...) __attribute__((sentinel));
/* `cictl runs --json`: the array of runs. */
json_t	*harness_runs(struct harness *);
/* `cictl show ID --json`. */
json_t	*harness_show(struct harness *, const json_t *id);
/* `cictl logs JOB_ID`: the job's log text (caller frees). */
char	*harness_logs(struct harness *, const json_t *job_id);
/*
 * Wait (up to timeout_ms) until a run of head_sha (and of workflow file
 * path, when not NULL) has status "completed"; returns `show --json` of it.
 * Fails the test, with the runs last seen, on timeout.
 */
json_t	*harness_wait_run_at(struct harness *, const char *file, int line,
	     const char *head_sha, const char *path, int64_t timeout_ms);
#define harness_wait_run(h, sha, path, ms) \
	harness_wait_run_at((h), __FILE__, __LINE__, (sha), (path), (ms))

/*
 * Wait (up to timeout_ms) for the first completed run of event (push,
 * pull_request ...); returns `show --json` of it.  Fails the test, with
 * the runs last seen, on timeout.
 */
json_t	*harness_wait_event_run_at(struct harness *, const char *file,
	     int line, const char *event, int64_t timeout_ms);
#define harness_wait_event_run(h, event, ms) \
	harness_wait_event_run_at((h), __FILE__, __LINE__, (event), (ms))
/* The log of the job named name of run (`show --json`); caller frees. */
char	*harness_job_log(struct harness *, const json_t *run,
	     const char *name);

/* Borrowed: the first object of array whose string field key equals value. */
json_t	*harness_find(const json_t *array, const char *key, const char *value);
/* Borrowed: the job named name of a run (fails the test if absent). */
json_t	*harness_job(struct harness *, const json_t *run, const char *name);
/* Borrowed: the step named name of a job (fails the test if absent). */
json_t	*harness_step(struct harness *, const json_t *job, const char *name);
/* Borrowed: a string field, or NULL when absent or not a string. */
const char *harness_str(const json_t *, const char *key);
/* Fails the test (showing obj) unless obj's field key is the string want. */
void	 harness_expect_str_at(struct harness *, const char *file, int line,
	     const json_t *obj, const char *what, const char *key,
	     const char *want);
#define harness_expect_str(h, obj, what, key, want) \
	harness_expect_str_at((h), __FILE__, __LINE__, (obj), (what), (key), (want))
/* Fails the test unless text contains needle (what names the text). */
void	 harness_expect_contains_at(struct harness *, const char *file,
	     int line, const char *text, const char *what, const char *needle);
#define harness_expect_contains(h, text, what, needle) \
	harness_expect_contains_at((h), __FILE__, __LINE__, (text), (what), (needle))

#endif
