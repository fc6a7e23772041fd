/*
 * workflow: read a GitHub Actions workflow file (.github/workflows/X.yml)
 * into a model the planner and the job runner read directly, and validate
 * it before anything runs.
 *
 * YAML goes through libyaml's document API (anchors and aliases resolved by
 * libyaml); every model node keeps its 1-based line and column.  Scalars
 * follow the YAML 1.2 core schema (so "on" is a string and "3.10" a
 * number).  Expression text (${{ }}) is kept raw for common/expr to
 * evaluate later.  Maps whose order matters (env, jobs, outputs, with,
 * matrix) keep file order.
 *
 * Validation collects every error it finds, each with file, line, column
 * and a message that names the key and what to do; the caller prints them
 * with wf_errors_format().  Input is bounded: WF_MAX_FILE_SIZE bytes,
 * WF_MAX_DEPTH levels of nesting, WF_MAX_JOBS jobs, WF_MAX_STEPS steps per
 * job; exceeding one is an error, never a crash.
 *
 * Ownership: workflow_parse() returns a tree owned by the caller and freed
 * with workflow_free(); every pointer inside (strings, json_t, globs) is
 * owned by the tree.  Callers that keep a json_t beyond the workflow take a
 * reference with json_incref().
 */
#ifndef KILN_WORKFLOW_H
#define KILN_WORKFLOW_H

#include <stddef.h>

#include <jansson.h>
#include <yaml.h>

#include "cron.h"
#include "glob.h"

#define WF_MAX_FILE_SIZE	(1024 * 1024)
#define WF_MAX_DEPTH		64
#define WF_MAX_JOBS		256
#define WF_MAX_STEPS		1000
#define WF_MAX_ERRORS		200	/* further errors are summarised */
#define WF_DEFAULT_TIMEOUT	360	/* job timeout-minutes default */
#define WF_MAX_JOB_MINUTES	7200	/* self-hosted runners' 5-day job
					   limit: a larger timeout-minutes is
					   accepted and capped at run time */

/* One validation or syntax error; line and col are 1-based. */
struct wf_error {
	char	*file;
	int	 line;
	int	 col;
	char	*msg;
};

/* A list of errors; zero-initialise before first use. */
struct wf_errors {
	struct wf_error	*v;
	size_t		 n;
	size_t		 dropped;	/* errors past WF_MAX_ERRORS */
};

/* Release the errors and leave the list empty. */
void	 wf_errors_free(struct wf_errors *);
/*
 * "file:line:col: msg\n" for each error, in file order.  Returns a new
 * string the caller frees ("" when there are none).
 */
char	*wf_errors_format(const struct wf_errors *);

struct wf_pos {
	int	line;
	int	col;
};

/* A boolean that may instead be a ${{ }} expression. */
struct wf_bool {
	int	 set;		/* present in the file */
	int	 value;		/* literal value, or the default */
	char	*expr;		/* non-NULL: evaluate this instead */
};

/* A number that may instead be a ${{ }} expression. */
struct wf_num {
	int	 set;
	double	 value;
	char	*expr;
};

/* A list of strings (a single string in the file becomes one item). */
struct wf_strlist {
	char		**v;
	size_t		  n;
	int		  set;
	struct wf_pos	  pos;
};

struct wf_map_entry {
	char		*key;
	char		*value;		/* scalar text; "" for null */
	json_t		*json;		/* typed value (core schema) */
	struct wf_pos	 pos;		/* of the key */
};

/* An ordered string map: env, outputs, with.  File order is kept. */
struct wf_map {
	struct wf_map_entry	*v;
	size_t			 n;
	int			 set;
	char			*expr;	/* whole map written as ${{ }} */
	struct wf_pos		 pos;
};

/* Value of key in m, or NULL.  Points into m. */
const char	*wf_map_get(const struct wf_map *m, const char *key);

/* A filter pattern list (branches, tags, paths and -ignore forms). */
struct wf_patterns {
	struct glob	**v;
	size_t		  n;
	int		  set;
	struct wf_pos	  pos;
};

/* on.push, on.pull_request, on.pull_request_target. */
struct wf_on_filter {
	int			set;	/* the event is listed in on: */
	struct wf_pos		pos;
	struct wf_patterns	branches;
	struct wf_patterns	branches_ignore;
	struct wf_patterns	tags;		/* push only */
	struct wf_patterns	tags_ignore;	/* push only */
	struct wf_patterns	paths;
	struct wf_patterns	paths_ignore;
	struct wf_strlist	types;		/* pull_request* only */
};

struct wf_schedule {
	char		*cron;		/* as written */
	char		*timezone;	/* IANA name or NULL (UTC) */
	struct cron	 parsed;
	struct wf_pos	 pos;
};

enum wf_input_type {
	WF_INPUT_STRING,
	WF_INPUT_BOOLEAN,
	WF_INPUT_CHOICE,
	WF_INPUT_NUMBER,
	WF_INPUT_ENVIRONMENT,
};

struct wf_input {
	char			*name;
	char			*description;
	enum wf_input_type	 type;
	int			 required;
	char			*def;		/* default as text, or NULL */
	json_t			*def_json;	/* typed default, or NULL */
	struct wf_strlist	 options;	/* choice */
	struct wf_pos		 pos;
};

/* Every event named under on:, in file order, with its raw config. */
struct wf_event {
	char		*name;
	json_t		*config;	/* json null when bare */
	struct wf_pos	 pos;
};

struct wf_on {
	struct wf_event		*events;
	size_t			 nevents;
	struct wf_on_filter	 push;
	struct wf_on_filter	 pull_request;
	struct wf_on_filter	 pull_request_target;
	struct wf_schedule	*schedules;
	size_t			 nschedules;
	int			 workflow_dispatch;	/* declared */
	struct wf_input		*inputs;		/* of workflow_dispatch */
	size_t			 ninputs;
	struct wf_pos		 pos;
};

struct wf_defaults {
	char		*shell;
	char		*working_directory;
	int		 set;
};

struct wf_concurrency {
	int		 set;
	char		*group;
	struct wf_bool	 cancel_in_progress;
	char		*queue;		/* "single", "max" or NULL */
	struct wf_pos	 pos;
};

struct wf_runs_on {
	struct wf_strlist	 labels;	/* all must match */
	char			*group;
	char			*expr;		/* whole value was ${{ }} */
	struct wf_pos		 pos;
};

struct wf_strategy {
	int		 set;
	json_t		*matrix;	/* object, or NULL */
	char		*matrix_expr;	/* matrix written as ${{ }} */
	struct wf_pos	 matrix_pos;
	struct wf_bool	 fail_fast;	/* default true */
	struct wf_num	 max_parallel;	/* unset: no limit */
};

struct wf_step {
	size_t		 index;		/* 0-based within the job */
	char		*id;
	char		*name;		/* display name, defaulted */
	int		 name_set;	/* name came from the file */
	char		*if_cond;
	char		*uses;
	struct wf_pos	 uses_pos;	/* of the value */
	struct wf_map	 with;
	char		*run;
	char		*shell;
	struct wf_map	 env;
	char		*working_directory;
	struct wf_bool	 continue_on_error;
	struct wf_num	 timeout_minutes;	/* unset: job timeout */
	struct wf_pos	 pos;
};

struct reusable_call;

struct wf_job {
	char			*id;
	char			*name;		/* display name, default id */
	int			 name_set;
	char			**needs;	/* job ids, in file order */
	struct wf_pos		*needs_at;	/* position of each */
	size_t			 nneeds;
	char			*if_cond;
	struct wf_runs_on	 runs_on;
	char			*environment;	/* name, or NULL */
	char			*environment_url;
	struct wf_bool		 environment_deployment; /* default true */
	struct wf_pos		 environment_pos;	/* of the value */
	struct wf_strategy	 strategy;
	struct wf_num		 timeout_minutes;	/* default 360 */
	struct wf_bool		 continue_on_error;
	struct wf_map		 env;
	struct wf_defaults	 defaults;
	struct wf_map		 outputs;
	struct wf_concurrency	 concurrency;
	char			*uses;		/* reusable workflow call */
	struct wf_pos		 uses_pos;
	struct wf_map		 with;		/* of a reusable call */
	int			 secrets_set;	/* of a reusable call */
	json_t			*secrets;	/* "inherit" or {name: value} */
	/* Set by reusable_expand() (common/reusable.h): */
	const struct reusable_call *call;	/* called by it, or NULL */
	int			 call_outputs;	/* the step-less job that
						   evaluates call's outputs */
	json_t			*container;	/* raw; Docker-only */
	json_t			*permissions;	/* its GITHUB_TOKEN's, or NULL */
	struct wf_pos		 container_pos;
	json_t			*services;	/* raw; Docker-only */
	struct wf_pos		 services_pos;
	struct wf_step		*steps;
	size_t			 nsteps;
	struct wf_pos		 pos;		/* of the job id */
};

struct workflow {
	char			*path;
	char			*name;		/* display name, default path */
	int			 name_set;
	char			*run_name;
	struct wf_on		 on;
	struct wf_map		 env;
	struct wf_defaults	 defaults;
	struct wf_concurrency	 concurrency;
	json_t			*permissions;	/* GITHUB_TOKEN's (App mode),
						   or NULL */
	struct wf_job		*jobs;		/* file order */
	size_t			 njobs;
};

/*
 * Parse and validate text (len bytes, need not be NUL-terminated) read from
 * path (used in messages and as the default name).  Errors are appended to
 * errs.  Returns NULL when nothing usable could be read (YAML syntax error,
 * file too large, root not a mapping); otherwise a model, which is valid
 * only if errs gained no entries.  Caller frees with workflow_free().
 */
struct workflow	*workflow_parse(const char *path, const char *text, size_t len,
		    struct wf_errors *errs);
void		 workflow_free(struct workflow *);
/* Release what a job owns (reusable_expand() moves jobs between files). */
void		 workflow_job_free(struct wf_job *);

/*
 * 1 if uses names a reusable workflow: ./.github/workflows/F.yml (this
 * repository and commit) or OWNER/REPO/.github/workflows/F.yml@REF.
 */
int		 workflow_call_ref_ok(const char *uses);

/* The job with this id, or NULL.  Points into wf. */
const struct wf_job *workflow_job(const struct workflow *wf, const char *id);

/* Index of the job with this id, or -1. */
int		 workflow_job_index(const struct workflow *wf, const char *id);

/* An action's metadata, action.yml (reference 6.5, 6.6). */
enum wf_action_kind {
	WF_ACTION_UNKNOWN,
	WF_ACTION_COMPOSITE,
	WF_ACTION_NODE,
	WF_ACTION_DOCKER,
};

struct wf_action_input {
	char		*name;
	char		*def;		/* default (may hold ${{ }}), or NULL */
	int		 required;
	char		*deprecation;	/* deprecationMessage, or NULL */
	struct wf_pos	 pos;
};

struct wf_action {
	char			*path;
	char			*name;
	struct wf_action_input	*inputs;	/* file order */
	size_t			 ninputs;
	struct wf_map		 outputs;	/* name -> value (composite) */
	enum wf_action_kind	 kind;
	char			*using;		/* runs.using as written */
	char			*main;		/* node: scripts, relative */
	char			*pre;
	char			*post;
	char			*pre_if;
	char			*post_if;
	char			*image;		/* docker */
	json_t			*env;		/* docker: raw mapping */
	json_t			*args;		/* docker: raw sequence */
	char			*entrypoint;
	char			*pre_entrypoint;	/* refused when run */
	char			*post_entrypoint;
	struct wf_step		*steps;		/* composite */
	size_t			 nsteps;
};

/*
 * Parse and validate an action's metadata (action.yml) read from path,
 * with the limits of a workflow file.  Errors are appended to errs; the
 * model is usable only if errs gained none.  NULL when nothing could be
 * read.  Freed with workflow_action_free().
 */
struct wf_action *workflow_action_parse(const char *path, const char *text,
		    size_t len, struct wf_errors *errs);
void		 workflow_action_free(struct wf_action *);

/*
 * Convert a YAML node of doc to JSON, YAML 1.2 core schema: plain null/~/
 * empty -> null, true/false (any of the three cases) -> boolean, decimal,
 * 0o octal and 0x hex integers -> integer, decimals and exponents -> real;
 * quoted and block scalars stay strings; .inf/.nan stay strings (JSON has
 * no such numbers).  Aliases are followed (depth-limited, so a recursive
 * alias is an error); duplicate keys are an error.  Returns a new reference
 * the caller owns, or NULL with "line:col: reason" in err.
 */
json_t		*workflow_yaml_to_json(yaml_document_t *doc, yaml_node_t *node,
		    char *err, size_t errsz);

/*
 * Type one plain scalar by the core schema (as workflow_yaml_to_json does).
 * Returns a new reference.
 */
json_t		*workflow_scalar_to_json(const char *text, size_t len,
		    int plain);

#endif
