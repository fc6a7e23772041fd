/*
 * kiln-worker internals.  A worker runs one thing at a time: it claims an
 * event and plans it into runs and jobs, or claims a job and runs its
 * steps.  Blocking calls are fine here (libpq's synchronous API, libgit2,
 * waiting on children); a stuck step is bounded by its timeout and by the
 * stop flag, never by the worker's liveness.
 */
#ifndef KILN_WORKER_H
#define KILN_WORKER_H

/*
 * A WHERE condition (always true) that commits its statement's transaction
 * without waiting for the WAL flush (synchronous_commit = off for that
 * transaction only).  Only for rows whose loss in a PostgreSQL crash is
 * safe: a step's progress, a lease renewal, an event's claim and its plan
 * (lost, the event is claimed and planned again from its durable row).
 * A crash loses at most the last ~3 x wal_writer_delay of them, and any
 * later durable commit (a claim, a completion: WAL is one sequence) makes
 * them durable too; the job's claim and completion stay synchronous, so a
 * job is never run twice nor lost.
 */
#define SQL_ASYNC_COMMIT \
	"set_config('synchronous_commit', 'off', true) = 'off'"

#include <sys/types.h>

#include <signal.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include <openssl/evp.h>

#include "proto.h"

#define WORKER_UNTIDY_MAX	8

struct worker {
	char		*name;		/* "local-1"; also jobs.worker */
	char		*conninfo;
	char		*log_socket;
	char		*work_dir;	/* mirrors/, jobs/ */
	char		*labels;	/* JSON array of lower-cased labels */
	int		 as_user;	/* steps run as run_uid/run_gid */
	uid_t		 run_uid;
	gid_t		 run_gid;
	char		*run_home;	/* that account's HOME (NULL: per job) */
	int		 pool;		/* run_uid is this worker's slot of
					   run_as_pool (slot.c) */
	int		 slot_fd;	/* the slot's flock, held till exit */
	char		*run_name;
	char		*self;		/* this program (/proc/self/exe) */
	char		*tool_cache;	/* RUNNER_TOOL_CACHE, the steps' */
	char		*python_versions_url;	/* [actions] */
	char		*actions_base_url;	/* [actions] base_url */
	char		*actions_allow;		/* [actions] allow */
	int		 actions_keep_days;	/* [actions] keep_days */
	char		*ctr_engine;		/* [containers] engine */
	char		*ctr_opts;		/* [containers] engine_options */
	char		*ctr_run_opts;		/* [containers] run_options */
	int		 ctr_mark_fd;		/* container_mark()'s lock */
	char		*cache_dir;		/* [cache] dir */
	int64_t		 cache_max_bytes;	/* [cache], per repository */
	char		*artifacts_dir;		/* [artifacts] dir */
	int		 artifacts_days;	/* [artifacts] retention_days */
	char		*page_url;	/* [github] public_url when [web] is on */
	char		*gh_api_url;	/* [github] api_url, no trailing / */
	char		*app_id;	/* App mode: jobs get a GITHUB_TOKEN */
	EVP_PKEY	*app_key;	/* its key, or NULL: no App mode */
	PGconn		*db;
	int		 listen_pid;	/* backend that LISTENs, 0: none */
	int		 prepared_pid;	/* backend holding the prepared */
	unsigned	 prepared;	/* worker_stmt bits prepared there */
	int		 poll_ms;	/* wake without a NOTIFY after this */
	int		 wake_fd;	/* kilnd's wake-ups (--wake-fd), -1 */
	int		 wake_sock;	/* wake_fd is a socket: kilnd hands out
					   NOTIFYs one per idle worker, so no
					   LISTEN of our own while it lasts */
	int64_t		 park_ms;	/* idle this long: drop the session */
	char		 lease[16];	/* [workers] lease_seconds, as text */
	volatile sig_atomic_t *stop;	/* set by SIGTERM/SIGINT */
	unsigned char	 secret_key[32]; /* [secrets] key_file */
	char		*key_error;	/* why there is no key, or NULL */
	char		*cgroup;	/* the jobs' cgroup (jobcg.h), or NULL */
	char		*cgroup_procs;	/* its cgroup.procs, or NULL */
	/* Mirrors fetched into since the worker last had nothing to do. */
	char		*untidy[WORKER_UNTIDY_MAX];
	size_t		 nuntidy;
};

/* workspace.c: a job's directories (see there). */
struct workspace {
	struct worker	*w;
	int64_t		 job_id;
	char		*dir;		/* <work_dir>/jobs/<id> */
	char		*workspace;	/* GITHUB_WORKSPACE */
	char		*tmp;		/* RUNNER_TEMP */
	char		*home;		/* HOME with run_as_pool, else NULL */
	char		*spool;		/* the log's spool */
};

/* An event claimed for planning (claim.c fills it; strings owned). */
struct claimed_event {
	int64_t	 id;
	int64_t	 repository_id;
	char	*event;
	char	*ref;
	char	*sha;
	char	*before_sha;	/* NULL when absent */
	char	*payload;	/* JSON text */
	char	*repo_name;
	char	*clone_url;
	char	*default_branch;
	/* X-GitHub-Delivery of a webhook's event, the request id; else NULL */
	char	*delivery;
};

/* A job claimed for running. */
struct claimed_job {
	int64_t	 id;
	int64_t	 run_id;
	char	*job_key;
	char	*name;
	char	*matrix;	/* JSON text or NULL */
	json_t	*needs;		/* the needs context */
	int	 needs_success;	/* every job in the needs closure succeeded */
	int	 needs_failure;	/* some job in the needs closure failed */
	int	 run_cancelled;
	int	 labels_ok;	/* this worker has the job's runs-on labels */
	int	 superseded;	/* a newer job entered its concurrency group */
	int	 matrix_deferred; /* expand matrix: ${{ }} now (needs known) */
	int	 more_queued;	/* the claim saw another job queued */
	char	*concurrency_group;
	int	 continue_on_error;
	double	 timeout_minutes;
	char	*strategy;	/* JSON text of the strategy context */
	/* from the run */
	char	*path;
	char	*workflow_source;
	json_t	*callees;	/* the called workflows, pinned (runs.callees) */
	char	*head_sha;
	char	*head_branch;
	char	*ref;
	char	*event;
	int64_t	 run_number;
	int64_t	 run_attempt;	/* 1, then 2 ... for each re-run */
	char	*repo_name;
	char	*clone_url;
	int64_t	 repository_id;
	char	*payload;
	char	*variables;	/* the repository's, a JSON object's text */
	/* Its log socket credential; the job row holds its SHA-256. */
	char	 log_token[PROTO_TOKEN_LEN + 1];
};

/* claim.c: 1 claimed, 0 nothing to do, -1 database error (logged). */
int	claim_event(struct worker *, struct claimed_event *);
int	claim_job(struct worker *, struct claimed_job *);
void	claimed_event_free(struct claimed_event *);
void	claimed_job_free(struct claimed_job *);
/* Renew the lease of a running job: 1 if cancellation was requested, 0 if
 * not, -1 on a database error. */
int	claim_renew(struct worker *, int64_t job_id);
/* Hand a claimed job back to the queue, its if: decided. */
int	claim_requeue(struct worker *, int64_t job_id);
/* Announce this worker and its labels (for "no worker has labels ..."). */
void	claim_register(struct worker *);

/*
 * plan.c: turn an event into runs and jobs; the event row is completed.
 * A pull request without its merge commit gets ev->sha filled in.
 */
int	plan_event(struct worker *, struct claimed_event *);

/*
 * The JSON of one planned job row as sql/003_planner.sql's kiln_legs()
 * reads it (job_key, name, needs, matrix, strategy, labels, values, step
 * names).  New reference.
 */
struct plan_job;
json_t	*plan_job_json(const struct plan_job *);

/* job.c: run a claimed job to its conclusion. */
int	job_run(struct worker *, const struct claimed_job *);

/*
 * workspace.c.  workspace_create(): the job's directories, empty (0, or
 * -1 with err); workspace_remove() deletes them and frees ws.  With
 * run_as, workspace_give() hands path (and what is under it) to that
 * account.  workspace_step_files(): the empty file-command files of step
 * number (a new string: their directory).  workspace_keep_spool(): move
 * an undelivered log's spool out of the job's directory, saying why.
 */
int	workspace_create(struct workspace *, struct worker *, int64_t job_id,
	    char *err, size_t errsz);
void	workspace_give(const struct workspace *, const char *path);
void	workspace_write_event(const struct workspace *, const char *payload);
char	*workspace_step_files(const struct workspace *, size_t number);
void	workspace_keep_spool(const struct workspace *, const char *why);
void	workspace_remove(struct workspace *);

/*
 * slot.c: [workers] run_as_pool.  slot_take() takes an account of the
 * pool no other worker on work_dir holds (0, or -1 with err).
 * slot_sweep() SIGKILLs every process of the slot's account (nothing
 * without a pool); -1 if it could not, else how many kill(-1) rounds
 * found something.
 */
struct kiln_config;
int	slot_take(struct worker *, const struct kiln_config *, char *err,
	    size_t errsz);
int	slot_sweep(const struct worker *);

/* 1 if the worker has every label of labels (a JSON array). */
int	worker_has_labels(const struct worker *, const json_t *labels);

/*
 * main.c: a session that LISTENs.  worker_reset() resets a broken
 * connection (PQreset) and LISTENs on the new session; worker_session()
 * connects when there is no connection and LISTENs again whenever the
 * session is new.  0, or -1 (logged).
 */
int	worker_reset(struct worker *);
int	worker_session(struct worker *);

/* The mirror directory of a repository: <work_dir>/mirrors/<id>.git. */
char	*worker_mirror_dir(const struct worker *, int64_t repository_id);

/*
 * A fetch into mirror dir may have added a pack: worker_tidy_mirrors()
 * combines packs there (mirror_tidy()) once the worker is idle, so the
 * plan or job that fetched never waits for it.
 */
void	 worker_mirror_fetched(struct worker *, const char *dir);
void	 worker_tidy_mirrors(struct worker *);

/*
 * jobsecrets.c: fill a job's secrets and vars contexts (objects) from the
 * database: the variables, and the secrets its workflow refers to (none
 * for a pull request from a fork), each registered with cmds' masker
 * before it is returned.  0, or -1 with err (the job fails with it).
 */
struct wfcmd_state;
int	jobsecrets_load(struct worker *, const struct claimed_job *,
	    json_t *secrets, json_t *vars, struct wfcmd_state *cmds, char *err,
	    size_t errsz);

/*
 * jobtoken.c (App mode): a job's GITHUB_TOKEN bought from GitHub for its
 * repository with permissions (the job's or workflow's permissions:, NULL
 * absent; read_only for a fork's pull request); the token (caller revokes)
 * or NULL with err.  jobtoken_revoke(): DELETE /installation/token, then
 * wipes and frees it.
 */
char	*jobtoken_get(struct worker *, int64_t repository_id,
	    const char *repo_name, const json_t *permissions, int read_only,
	    char *err, size_t errsz);
void	 jobtoken_revoke(struct worker *, char *token);

/*
 * A fetch's credentials in App mode (plan.c's mirror fetch): a read-only
 * installation token for the repository, bought only when the server asks
 * (mirror_auth), revoked by jobtoken_fetch_done().
 */
struct jobtoken_fetch {
	struct worker	*w;
	int64_t		 repository_id;
	const char	*repo_name;
	char		*token;
};
const char *jobtoken_fetch_cb(void *arg, char *err, size_t errsz);
void	 jobtoken_fetch_done(struct jobtoken_fetch *);

/* jobsecrets.c: 1 for a pull request whose head is another repository. */
int	jobsecrets_from_fork(const struct claimed_job *);

/* Blocking query helpers: NULL result on error (message logged). */
PGresult *worker_exec(struct worker *, const char *sql, int nparams,
	    const char *const *params, const char *what);

/*
 * A statement run on every job or every planned event (claim.c, job.c,
 * plan.c): prepared once per database session, so each run skips parsing
 * and, after a few, planning (PostgreSQL's generic plan), which cost the
 * claim more than running it.  bit is the statement's own in struct
 * worker's prepared.
 */
enum worker_stmt_bit {
	WSTMT_CLAIM_EVENT = 1u << 0,
	WSTMT_CLAIM_JOB = 1u << 1,
	WSTMT_RENEW = 1u << 2,
	WSTMT_STEP = 1u << 3,
	WSTMT_FINISH = 1u << 4,
	WSTMT_PLAN_RUN = 1u << 5,
	WSTMT_PLAN_TITLE = 1u << 6,
	WSTMT_PLAN_JOBS = 1u << 7,
	WSTMT_PLAN_RELEASE = 1u << 8,
	WSTMT_PLAN_SCHEDULES = 1u << 9,
	WSTMT_PLAN_FINISH = 1u << 10,
};
struct worker_stmt {
	const char	*name;
	const char	*sql;
	unsigned	 bit;
};
PGresult *worker_exec_stmt(struct worker *, const struct worker_stmt *,
	    int nparams, const char *const *params, const char *what);

#endif
