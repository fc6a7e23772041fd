/*
 * kilnd internals: the daemon's context, passed to every subsystem (no
 * globals), and the subsystems' entry points.  One libevent loop; nothing
 * here may block once the loop runs.
 */
#ifndef KILND_H
#define KILND_H

#include <sys/types.h>

#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "config.h"
#include "secretbox.h"

struct db;
struct pgembed;
struct logsrv;
struct supervisor;
struct webhook;
struct web_sse;
struct sched;
struct notify;
struct metrics;
struct connguard;
struct outbox;

struct kilnd {
	struct event_base	*base;
	struct kiln_config	*cfg;
	struct db		*db;
	struct pgembed		*pg;
	struct logsrv		*logsrv;
	struct supervisor	*sup;
	struct evhttp		*http_public;	/* webhooks, status page */
	struct evhttp_bound_socket *public_socket; /* closed on stop */
	struct evhttp		*http_admin;	/* admin API, Unix socket */
	struct http_listener	*route_public;	/* http_attach() handles */
	struct http_listener	*route_admin;
	char			*log_dir;	/* <state_dir>/logs */
	char			*conninfo;
	int			 stopping;
	int			 reaping;	/* a kiln_reap() is running */
	int			 probing;	/* the queued-work probe is out */
	int			 at_rest;	/* the probe saw nothing in flight */
	int			 artifacts_sweeping; /* an expiry is running */
	struct event		*reap_timer;
	struct webhook		*webhook;	/* deliveries being stored */
	struct web_sse		*sse;		/* live logs, status streams */
	unsigned char		 secret_key[SECRETBOX_KEY_LEN]; /* [secrets] key_file */
	struct sched		*sched;		/* cron */
	struct notify		*notify;	/* systemd, when under it */
	struct metrics		*metrics;	/* in-memory counters */
	struct remote		*remote;	/* [admin] listen, or NULL */
	struct connguard	*guard;		/* the public listener's */
	struct outbox		*outbox;	/* states to GitHub, or NULL */
	struct event		*pg_restart;	/* embedded PostgreSQL died */
	int			 pg_failures;	/* deaths in a row */
	int64_t			 pg_started_ms;
	int			 exit_code;	/* of main(): 1 after a failure */
};

/* http.c: route requests of either listener through one table. */
#define HTTP_PUBLIC	0x1		/* served on the TCP listener */
#define HTTP_ADMIN	0x2		/* served on the admin socket */
/* Also on the TCP listener, behind [web] access (web_api.c). */
#define HTTP_WEB	0x4
/* ... needing a token of scope admin (and a session's CSRF token). */
#define HTTP_WEB_ADMIN	0x8
/* The admin routes over TCP ([admin] listen), behind bearer tokens. */
#define HTTP_REMOTE	0x10
#define HTTP_MAX_HEADERS (64 * 1024)
#define HTTP_MAX_ARGS	4		/* "*" segments of a route */	/* all request headers together */

struct http_route {
	enum evhttp_cmd_type	 method;
	const char		*pattern;	/* "*" matches one path segment */
	int			 flags;
	void			(*handler)(struct kilnd *, struct evhttp_request *,
				    const char *const *args, int nargs);
};

struct http_listener;
/*
 * Route http's requests through the table for listener_flag.  The caller
 * frees the returned handle with free() after evhttp_free(http).
 */
struct http_listener *http_attach(struct kilnd *, struct evhttp *,
	    int listener_flag);
void	http_reply_json(struct evhttp_request *, int code, const char *json);
void	http_reply_error(struct evhttp_request *, int code, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
int	http_listen_tcp(struct evhttp *, const char *hostport,
	    struct evhttp_bound_socket **, char *err, size_t errsz);
int	http_listen_unix(struct event_base *, struct evhttp *, const char *path,
	    char *err, size_t errsz);

/*
 * web_api.c: a request to an HTTP_WEB route of the public listener, let
 * through or refused as [web] access and the route's flags say.
 */
void	web_gate(struct kilnd *, struct evhttp_request *,
	    const struct http_route *, const char *const *args, int nargs);
/* GET /api/v1/jobs/{id}/steps/{n}/summary: Markdown rendered, safely. */
void	web_step_summary(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
/* GET /api/v1/jobs/{id}/logs[?offset=N], Range: bytes= honoured. */
void	web_job_log(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);

/* web_sse.c: live logs and status changes as Server-Sent Events. */
struct web_sse *web_sse_new(struct kilnd *);
/* Ends every stream; after db_free(), before evhttp_free(). */
void	web_sse_free(struct web_sse *);
void	web_job_log_stream(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	web_events(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);

/* web_page.c: the page's files and the SVG badges. */
void	web_page(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	web_asset_get(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	web_badge(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);

/* webhook.c */
void	webhook_github(struct kilnd *, struct evhttp_request *,
	    const char *const *args, int nargs);
#define WEBHOOK_MAX_BODY	(25 * 1024 * 1024)	/* GitHub's own cap */
/* The batcher of accepted deliveries; freed before the database pool. */
struct webhook *webhook_new(struct kilnd *);
/* No delivery is waiting for its answer. */
int	webhook_idle(const struct webhook *);
void	webhook_free(struct webhook *);

/*
 * notify.c: systemd's notification protocol.  notify_new() reads and clears
 * $NOTIFY_SOCKET/$WATCHDOG_USEC (call it before forking anything); every
 * other call does nothing when kilnd is not under systemd.  notify_ready()
 * sends READY=1 and starts the watchdog and STATUS= timer on k's loop.
 * Free after db_free().
 */
struct notify *notify_new(void);
void	notify_ready(struct notify *, struct kilnd *);
void	notify_reloading(struct notify *);
void	notify_reloaded(struct notify *, const char *status);
void	notify_stopping(struct notify *);
void	notify_free(struct notify *);

/*
 * metrics.c: GET /metrics (Prometheus text format) behind [metrics]
 * access; metrics_watch_delivery() counts a webhook delivery by event and
 * status once its answer is sent.
 */
struct metrics *metrics_new(void);
void	metrics_free(struct metrics *);
void	metrics_watch_delivery(struct metrics *, struct evhttp_request *);
/* A stored delivery's intake time, its body read to the answer. */
void	metrics_observe_intake(struct metrics *, double seconds);
void	metrics_get(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);

/*
 * remote.c: the admin API on [admin] listen (TLS with tls_cert/tls_key;
 * plain HTTP only on loopback), every request behind a bearer token: read
 * scope for GET, admin for the rest.  NULL with err empty when not
 * configured; NULL with err set when it cannot start.
 */
struct remote;
struct remote *remote_start(struct kilnd *, char *err, size_t errsz);
void	remote_free(struct remote *);
void	remote_gate(struct kilnd *, struct evhttp_request *,
	    const struct http_route *, const char *const *args, int nargs);

/*
 * outbox.c: delivers the outbox's rows (sql/009_outbox.sql) to GitHub's
 * API with libcurl multi on the loop.  NULL with err empty when [github]
 * has no token; NULL with err set when it cannot start.  Free after
 * db_free().
 */
struct outbox *outbox_new(struct kilnd *, char *err, size_t errsz);
void	outbox_free(struct outbox *);

/* kilnd.c: leave the loop once stopping and nothing is in flight. */
void	kilnd_check_exit(struct kilnd *);

/* api.c */
void	api_healthz(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
/* GET /api/v1/triggers: events taken in, planned or not, and why. */
/* GET /api/v1/outbox, POST /api/v1/outbox/{id}/retry: cictl outbox. */
void	api_outbox_list(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_outbox_retry(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_triggers(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
/* GET /api/v1/status, /workers, /queue (admin socket): for cictl. */
void	api_status(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_workers(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_queue(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
/* /readyz: 200 while kilnd takes work (database answers, not stopping). */
void	api_readyz(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_repos_list(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_repos_add(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_runs_list(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_run_show(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_job_show(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);

/*
 * runctl.c: cancel and re-run by hand (the admin API and the web page).
 * The callback runs once, from the event loop, with 200 and what was done,
 * or 404 (no such run/job), 409 (completed already; a re-run of a run not
 * completed or without a failed job) or 500, and a one-line message;
 * attempt is the re-run's new run_attempt (0 otherwise).  The functions
 * return -1 when the database queue is full (the callback is not called).
 */
typedef void (*runctl_cb)(int code, const char *msg, int64_t attempt,
	    void *arg);
int	runctl_cancel_run(struct kilnd *, int64_t run, runctl_cb, void *);
int	runctl_cancel_job(struct kilnd *, int64_t job, runctl_cb, void *);
/* A new attempt of a completed run: every job, or the failed ones and
 * their dependants (the others kept with their outputs). */
int	runctl_rerun(struct kilnd *, int64_t run, int failed_only, runctl_cb,
	    void *);
void	api_run_cancel(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_run_rerun(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_job_cancel(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);

/*
 * secrets.c: repository secrets (sealed with secret_key before they are
 * stored, never returned) and variables, under
 * /api/v1/repos/{owner}/{name}/secrets|variables[/{NAME}].
 */
void	api_secrets_list(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_secret_put(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_secret_delete(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_vars_list(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_var_put(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_var_delete(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
/*
 * cache.c: actions/cache entries, GET /api/v1/caches[?repo=&key=] and
 * DELETE /api/v1/caches/{id} (the row, then its archive).
 */
void	api_caches_list(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_cache_delete(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
/*
 * dispatch.c: POST /api/v1/repos/{owner}/{name}/dispatches (a manual
 * workflow_dispatch run); answers once the worker planned it.
 */
void	api_dispatch(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
/*
 * sched.c: kilnd's cron (see there); freed after the database pool, whose
 * last callbacks still reach it.  GET /api/v1/schedules lists them.
 */
struct sched *sched_new(struct kilnd *);
void	sched_free(struct sched *);
void	api_schedules_list(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
/*
 * api.c: reply with column 0 of row 0 of sql (JSON text) and ok_code, or
 * 404 when there is no row.  api_parse_id(): a path's id into out, or
 * -1 after a 400 reply.
 */
void	api_query(struct kilnd *, struct evhttp_request *, int ok_code,
	    const char *sql, int nparams, const char *const *params);
int	api_parse_id(struct evhttp_request *, const char *text, char *out,
	    size_t outsz);
/*
 * artifacts.c: GET /api/v1/runs/{id}/artifacts, GET
 * /api/v1/artifacts/{id}/zip, and the expiry sweep (one at a time) the
 * reaper timer starts.
 */
void	api_run_artifacts(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_artifact_zip(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	artifacts_sweep(struct kilnd *);
/* api.c: "owner/name" of letters, digits, '-', '_', '.'. */
int	api_valid_repo_name(const char *);
/* api.c: reply with row 0 column 0 (JSON) as ok_code, or 404 if none. */
void	api_query(struct kilnd *, struct evhttp_request *, int ok_code,
	    const char *sql, int nparams, const char *const *params);
/*
 * api.c: the request's body as a JSON object (caller json_decref()s), its
 * text wiped after parsing (it may hold a secret); NULL when it is larger
 * than max bytes or not an object, after replying 413 or 400.
 */
struct json_t *api_body_object(struct evhttp_request *, size_t max);
/* Bounds of the admin API's request bodies and repository fields. */
#define API_MAX_BODY		(64 * 1024)
#define API_MAX_SECRET		4096
#define API_MAX_URL		2048

/*
 * repos.c: GET, PATCH and DELETE /api/v1/repos/{owner}/{name} (show, edit,
 * remove or purge).  repos_field_check() validates one editable field
 * (clone_url, default_branch, secret) for add and edit: -1 with a reason.
 * repos_token_aad() is the associated data a repository's GitHub token is
 * sealed with (sealed here, opened by outbox.c); the caller frees it.
 */
int	repos_field_check(const char *key, const char *value, char *err,
	    size_t errsz);
char	*repos_token_aad(const char *full_name);
void	api_repo_show(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_repo_edit(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);
void	api_repo_remove(struct kilnd *, struct evhttp_request *,
	    const char *const *, int);

/* supervisor.c: local kiln-worker processes. */
struct supervisor *supervisor_new(struct kilnd *);
void	supervisor_start(struct supervisor *);
/*
 * Run count local workers from now on: start the missing ones, retire the
 * surplus after their current job.  Returns how many were started or
 * retired.
 */
int	supervisor_resize(struct supervisor *, int count);
/*
 * Stop gracefully: workers finish the job they run (SIGUSR1) and take no
 * new one; after seconds, supervisor_stop() cancels what still runs.
 * seconds 0 is supervisor_stop() at once.
 */
void	supervisor_drain(struct supervisor *, int seconds);
/*
 * Work may be queued: wake one idle local worker (connected or parked,
 * [workers] park_seconds) for what one NOTIFY announced -- an event to
 * plan, a job to run, or either -- or, SUP_WAKE_ALL, every worker (after
 * a reconnect, or queued work nobody announced).  With no worker idle the
 * wake-up is owed to the next one that says so.  Never blocks.
 */
#define SUP_WAKE_EVENT	'e'
#define SUP_WAKE_JOB	'j'
#define SUP_WAKE_ANY	'w'
#define SUP_WAKE_ALL	'a'
void	supervisor_wake(struct supervisor *, char what);
/* Write the running configuration the workers start with; 0 or -1. */
int	supervisor_write_config(struct supervisor *);
/* 1 if pid was one of ours (it is restarted unless stopping). */
int	supervisor_reaped(struct supervisor *, pid_t, int status);
/* SIGTERM every worker; SIGKILL after a grace period. */
void	supervisor_stop(struct supervisor *);
int	supervisor_running(const struct supervisor *);
void	supervisor_free(struct supervisor *);

#endif
