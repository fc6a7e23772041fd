/*
 * container: see container.h.  Every engine command goes through
 * ctr_run(), which runs "<program> <engine_options> <args>" with output
 * captured and a time bound, so no engine hang holds a job forever.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spawn.h"
#include "util.h"

#include "container.h"

#define CTR_CMD_MS	(10 * 60 * 1000)	/* a pull or build */
#define CTR_QUICK_MS	(60 * 1000)		/* any other command */
#define CTR_OUT		65536
#define CTR_HEALTH_MAX_S 120			/* a service's health wait */
#define CTR_MAX_ARGS	960	/* below stepexec's 1024 */

/* A growing NULL-ended argv. */
struct ctr_argv {
	char	**v;
	size_t	  n;
};

static void
av_add(struct ctr_argv *a, const char *s)
{
	a->v = xreallocarray(a->v, a->n + 2, sizeof *a->v);
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void KILN_PRINTF(2, 3)
av_addf(struct ctr_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		abort();
	va_end(ap);
	av_add(a, s);
	free(s);
}

static void
av_addv(struct ctr_argv *a, char *const *v)
{
	for (; v != NULL && *v != NULL; v++)
		av_add(a, *v);
}

void
container_argv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* The engine and its global options. */
static void
av_engine(struct ctr_argv *a, const struct container_engine *e)
{
	memset(a, 0, sizeof *a);
	av_add(a, e->program);
	av_addv(a, e->opts);
}

/*
 * Words of an options string as a shell would split it: blanks separate,
 * '...' and "..." quote (a health command has blanks), \ escapes.
 */
char **
container_words(const char *s, char *err, size_t errsz)
{
	struct ctr_argv a = { 0 };
	struct buf w = { 0 };
	char q = 0;
	int have = 0;

	a.v = xcalloc(1, sizeof *a.v);
	for (;; s++) {
		if (*s == '\0' || (!q && isspace((unsigned char)*s))) {
			if (*s == '\0' && q) {
				snprintf(err, errsz, "unbalanced %c", q);
				buf_free(&w);
				container_argv_free(a.v);
				return NULL;
			}
			if (have)
				av_add(&a, w.data != NULL ? w.data : "");
			buf_clear(&w);
			have = 0;
			if (*s == '\0')
				break;
		} else if (q && *s == q) {
			q = 0;
		} else if (!q && (*s == '\'' || *s == '"')) {
			q = *s;
			have = 1;
		} else if (*s == '\\' && q != '\'' && s[1] != '\0') {
			buf_add_char(&w, *++s);
			have = 1;
		} else {
			buf_add_char(&w, *s);
			have = 1;
		}
	}
	buf_free(&w);
	return a.v;
}

/*
 * Run argv (NULL-ended, argv[0] the engine); its output (stdout and
 * stderr) in out.  0 when it exited 0; else -1 with err saying what ran
 * and what it said.
 */
static int
ctr_run(char *const *argv, char *out, size_t outsz, int64_t ms, char *err,
    size_t errsz)
{
	struct spawn_spec spec;
	char serr[512], how[600], *msg;
	size_t n;
	int st;

	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.fd_in = -1;
	spec.fd_err = -2;
	spec.group = 2;
	out[0] = '\0';
	st = spawn_capture(&spec, out, outsz, ms, serr, sizeof serr);
	if (st == 0)
		return 0;
	n = strlen(out);
	while (n > 0 && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
	if (st == -1)
		snprintf(how, sizeof how, "%s", serr);
	else
		spawn_status_text(st, how, sizeof how);
	msg = xasprintf("`%s %s%s%s` failed (%s)%s%.600s", argv[0],
	    argv[1] != NULL ? argv[1] : "", argv[1] != NULL &&
	    argv[2] != NULL ? " " : "", argv[1] != NULL && argv[2] != NULL ?
	    argv[2] : "", how, n > 0 ? ": " : "", n > 600 ? out + n - 600 :
	    out);
	snprintf(err, errsz, "%s", msg);
	free(msg);
	return -1;
}

/* ---- the engine -------------------------------------------------------- */

static int
ctr_usable(struct container_engine *e, const char *name, const char *path,
    char *why, size_t whysz)
{
	struct ctr_argv a;
	char *out = xmalloc(CTR_OUT), err[1100];
	int r = -1;

	free(e->name);
	free(e->program);
	e->name = xstrdup(name);
	if ((e->program = spawn_path_find(name, path)) == NULL) {
		snprintf(why, whysz, "%s: not found on PATH", name);
		goto out;
	}
	av_engine(&a, e);
	av_add(&a, "info");
	r = ctr_run(a.v, out, CTR_OUT, CTR_QUICK_MS, err, sizeof err);
	container_argv_free(a.v);
	if (r == -1)
		snprintf(why, whysz, "%s: %s", name, err);
out:
	free(out);
	return r;
}

int
container_engine_pick(struct container_engine *e, const char *want,
    const char *opts, const char *run_opts, const char *path, char *err,
    size_t errsz)
{
	static const char *const auto_order[] = { "podman", "docker" };
	char why[2][1200];
	size_t i;

	memset(e, 0, sizeof *e);
	if (strcmp(want, "none") == 0) {
		snprintf(err, errsz, "[containers] engine = none");
		return -1;
	}
	if ((e->opts = container_words(opts, why[0], sizeof why[0])) == NULL) {
		snprintf(err, errsz, "[containers] engine_options: %s",
		    why[0]);
		return -1;
	}
	if ((e->run_opts = container_words(run_opts, why[0], sizeof why[0])) ==
	    NULL) {
		snprintf(err, errsz, "[containers] run_options: %s", why[0]);
		container_engine_free(e);
		return -1;
	}
	if (strcmp(want, "auto") != 0) {
		if (ctr_usable(e, want, path, why[0], sizeof why[0]) == 0)
			return 0;
		snprintf(err, errsz, "[containers] engine = %s is not usable "
		    "(%s)", want, why[0]);
		container_engine_free(e);
		return -1;
	}
	for (i = 0; i < nitems(auto_order); i++)
		if (ctr_usable(e, auto_order[i], path, why[i],
		    sizeof why[i]) == 0)
			return 0;
	snprintf(err, errsz, "no container engine (podman, docker) is usable: "
	    "%s; %s", why[0], why[1]);
	container_engine_free(e);
	return -1;
}

void
container_engine_free(struct container_engine *e)
{
	free(e->name);
	free(e->program);
	container_argv_free(e->opts);
	container_argv_free(e->run_opts);
	memset(e, 0, sizeof *e);
}

/* ---- a job's containers ------------------------------------------------ */

/* Engines take names of [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
static char *
ctr_name(const char *s)
{
	char *n = xstrdup(s), *p;

	for (p = n; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' &&
		    *p != '-')
			*p = '-';
	return n;
}

/*
 * Who a worker is to the engine, which other kiln installations (or test
 * instances) on the host share: its work directory and name.
 */
static char *
ctr_owner(const char *work_dir, const char *worker)
{
	char *n = ctr_name(worker), *o;

	o = xasprintf("%s:%s", work_dir, n);
	free(n);
	return o;
}

void
container_job_init(struct container_job *cj, const struct container_engine *e,
    const char *work_dir, const char *worker, int64_t job_id,
    container_log_fn log, void *log_arg)
{
	uint32_t h = 2166136261u;	/* FNV-1a of the work directory */
	const char *p;
	char *n;

	memset(cj, 0, sizeof *cj);
	cj->e = e;
	cj->job_id = job_id;
	cj->worker = ctr_owner(work_dir, worker);
	for (p = work_dir; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	n = xasprintf("kiln-%s-%08x-%lld", worker, (unsigned)h,
	    (long long)job_id);
	cj->prefix = ctr_name(n);
	free(n);
	cj->services_ctx = json_object();
	cj->log = log;
	cj->log_arg = log_arg;
}

static void KILN_PRINTF(2, 3)
ctr_logf(struct container_job *cj, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		abort();
	va_end(ap);
	if (cj->log != NULL)
		cj->log(cj->log_arg, s);
	free(s);
}

static void
av_labels(struct ctr_argv *a, const struct container_job *cj)
{
	av_add(a, "--label");
	av_addf(a, "kiln.job=%lld", (long long)cj->job_id);
	av_add(a, "--label");
	av_addf(a, "kiln.worker=%s", cj->worker);
}

/* The mounts of a job container or docker action. */
static void
av_mounts(struct ctr_argv *a, const struct container_dirs *d)
{
	av_add(a, "-v");
	av_addf(a, "%s:%s", d->job_dir, d->job_dir);
	av_add(a, "-v");
	av_addf(a, "%s:/github/workspace", d->workspace);
	av_add(a, "-v");
	av_addf(a, "%s:/github/home", d->home);
	av_add(a, "-v");
	av_addf(a, "%s:/github/workflow", d->workflow);
}

/* A string member of an object, or NULL when absent (-1: not a string). */
static int
ctr_str(const json_t *o, const char *key, const char **out, const char *where,
    char *err, size_t errsz)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		*out = json_string_value(v);
		return 0;
	}
	snprintf(err, errsz, "%s.%s: expected a string", where, key);
	return -1;
}

/* A scalar as text (env values and ports may be numbers). */
static char *
ctr_scalar(const json_t *v)
{
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	if (json_is_real(v))
		return xasprintf("%g", json_real_value(v));
	if (json_is_true(v))
		return xstrdup("true");
	if (json_is_false(v))
		return xstrdup("false");
	return NULL;
}

/*
 * Options that would hand a job the host (its files, devices, namespaces
 * or root's capabilities) through the engine, which runs as root: refused
 * when the steps run as an unprivileged account ([workers] run_as), whose
 * isolation they would undo.
 */
static const char *const ctr_host_opts[] = {
	"--privileged", "--cap-add", "--device", "-v", "--volume", "--mount",
	"--volumes-from", "--pid", "--ipc", "--uts", "--network", "--net",
	"--userns", "--user", "-u", "--uidmap", "--gidmap", "--security-opt",
	"--cgroupns", "--cgroup-parent", "--group-add",
};

/* The first word of words kiln refuses under run_as, or NULL. */
static const char *
ctr_host_opt(char *const *words)
{
	size_t i, k, n;

	for (i = 0; words[i] != NULL; i++)
		for (k = 0; k < nitems(ctr_host_opts); k++) {
			n = strlen(ctr_host_opts[k]);
			if (strncmp(words[i], ctr_host_opts[k], n) == 0 &&
			    (words[i][n] == '\0' || words[i][n] == '='))
				return words[i];
		}
	return NULL;
}

/*
 * What container: or a service says beyond its image: env, ports,
 * volumes, options, added to a; credentials are refused (kiln logs in to
 * no registry; pulling would fail later with a less clear word).
 */
static int
av_spec(struct ctr_argv *a, const json_t *spec, const char *where,
    int restricted, char *err, size_t errsz)
{
	const json_t *v, *x;
	const char *key, *opts, *bad;
	char **words, *s;
	size_t i;

	if (json_object_get(spec, "credentials") != NULL) {
		snprintf(err, errsz, "%s.credentials: kiln logs in to no "
		    "registry; use an image the engine has or can pull "
		    "without credentials", where);
		return -1;
	}
	if ((v = json_object_get(spec, "env")) != NULL && !json_is_null(v)) {
		if (!json_is_object(v)) {
			snprintf(err, errsz, "%s.env: expected a mapping",
			    where);
			return -1;
		}
		json_object_foreach((json_t *)v, key, x) {
			if ((s = ctr_scalar(x)) == NULL) {
				snprintf(err, errsz, "%s.env.%s: expected a "
				    "string", where, key);
				return -1;
			}
			av_add(a, "-e");
			av_addf(a, "%s=%s", key, s);
			free(s);
		}
	}
	if ((v = json_object_get(spec, "ports")) != NULL && !json_is_null(v)) {
		if (!json_is_array(v)) {
			snprintf(err, errsz, "%s.ports: expected a sequence",
			    where);
			return -1;
		}
		json_array_foreach(v, i, x) {
			if ((s = ctr_scalar(x)) == NULL || s[0] == '\0') {
				free(s);
				snprintf(err, errsz, "%s.ports[%zu]: expected "
				    "a port or host:container", where, i);
				return -1;
			}
			/* Published on loopback only: nothing else may reach a
			 * job's services. */
			av_add(a, "-p");
			if (strchr(s, ':') != NULL)
				av_addf(a, "127.0.0.1:%s", s);
			else
				av_addf(a, "127.0.0.1::%s", s);
			free(s);
		}
	}
	if ((v = json_object_get(spec, "volumes")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_array(v)) {
			snprintf(err, errsz, "%s.volumes: expected a sequence",
			    where);
			return -1;
		}
		json_array_foreach(v, i, x) {
			if (!json_is_string(x)) {
				snprintf(err, errsz, "%s.volumes[%zu]: expected "
				    "a string", where, i);
				return -1;
			}
			if (restricted) {
				snprintf(err, errsz, "%s.volumes: refused: the "
				    "steps run as an unprivileged account "
				    "([workers] run_as) and a volume would "
				    "reach the host as root", where);
				return -1;
			}
			av_add(a, "-v");
			av_add(a, json_string_value(x));
		}
	}
	if (ctr_str(spec, "options", &opts, where, err, errsz) == -1)
		return -1;
	if (opts != NULL) {
		char why[128];

		if ((words = container_words(opts, why, sizeof why)) == NULL) {
			snprintf(err, errsz, "%s.options: %s", where, why);
			return -1;
		}
		if (restricted && (bad = ctr_host_opt(words)) != NULL) {
			snprintf(err, errsz, "%s.options: \"%s\" refused: the "
			    "steps run as an unprivileged account ([workers] "
			    "run_as) and it would reach the host as root", where,
			    bad);
			container_argv_free(words);
			return -1;
		}
		av_addv(a, words);
		container_argv_free(words);
	}
	return 0;
}

/* The image of container: or a service ("" when it has none). */
static int
ctr_image(const json_t *spec, const char *where, const char **image,
    char *err, size_t errsz)
{
	if (json_is_string(spec)) {
		*image = json_string_value(spec);
		return 0;
	}
	if (!json_is_object(spec)) {
		snprintf(err, errsz, "%s: expected an image or a mapping",
		    where);
		return -1;
	}
	if (ctr_str(spec, "image", image, where, err, errsz) == -1)
		return -1;
	if (*image == NULL)
		*image = "";
	return 0;
}

static void
ctr_created(struct container_job *cj, const char *name)
{
	cj->created = xreallocarray(cj->created, cj->ncreated + 1,
	    sizeof *cj->created);
	cj->created[cj->ncreated++] = xstrdup(name);
}

/* One value of `<engine> inspect -f fmt name`, trimmed. */
static int
ctr_inspect(const struct container_job *cj, const char *name, const char *fmt,
    char *out, size_t outsz, char *err, size_t errsz)
{
	struct ctr_argv a;
	size_t n;
	int r;

	av_engine(&a, cj->e);
	av_add(&a, "inspect");
	av_add(&a, "-f");
	av_add(&a, fmt);
	av_add(&a, name);
	r = ctr_run(a.v, out, outsz, CTR_QUICK_MS, err, errsz);
	container_argv_free(a.v);
	n = strlen(out);
	while (n > 0 && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
	return r;
}

/* Does a service's options ask for a health check? */
static int
ctr_has_health(const json_t *spec)
{
	const char *o = json_is_object(spec) ? json_string_value(
	    json_object_get(spec, "options")) : NULL;

	return o != NULL && strstr(o, "--health-cmd") != NULL;
}

/*
 * Wait for a service's health check to pass.  podman runs the check only
 * when asked (its timer needs systemd), so it is asked once a second;
 * docker's daemon runs it and its state is read.  Bounded by
 * CTR_HEALTH_MAX_S.
 */
static int
ctr_await_health(struct container_job *cj, const char *label,
    const char *name, char *err, size_t errsz)
{
	struct ctr_argv a;
	char out[4096], why[1024];
	int i, podman = strcmp(cj->e->name, "podman") == 0;

	ctr_logf(cj, "Waiting for service %s to be healthy\n", label);
	for (i = 0; i < CTR_HEALTH_MAX_S; i++) {
		if (podman) {
			av_engine(&a, cj->e);
			av_add(&a, "healthcheck");
			av_add(&a, "run");
			av_add(&a, name);
			if (ctr_run(a.v, out, sizeof out, CTR_QUICK_MS, why,
			    sizeof why) == 0) {
				container_argv_free(a.v);
				return 0;
			}
			container_argv_free(a.v);
		} else if (ctr_inspect(cj, name, "{{.State.Health.Status}}",
		    out, sizeof out, why, sizeof why) == 0 &&
		    strcmp(out, "healthy") == 0)
			return 0;
		sleep(1);
	}
	snprintf(err, errsz, "services.%s: not healthy after %d seconds "
	    "(last check: %s)", label, CTR_HEALTH_MAX_S, why);
	return -1;
}

/* job.services.<label>.ports: container port -> host port. */
static json_t *
ctr_ports(const struct container_job *cj, const char *name)
{
	struct ctr_argv a;
	json_t *ports = json_object();
	char *out = xmalloc(CTR_OUT), err[256], *line, *save = NULL, *arrow,
	    *colon, *cport;

	av_engine(&a, cj->e);
	av_add(&a, "port");
	av_add(&a, name);
	if (ctr_run(a.v, out, CTR_OUT, CTR_QUICK_MS, err, sizeof err) == 0) {
		/* "80/tcp -> 127.0.0.1:34567" */
		for (line = strtok_r(out, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			if ((arrow = strstr(line, " -> ")) == NULL ||
			    (colon = strrchr(arrow, ':')) == NULL)
				continue;
			cport = xstrndup(line, strcspn(line, "/ "));
			json_object_set_new(ports, cport,
			    json_string(colon + 1));
			free(cport);
		}
	}
	container_argv_free(a.v);
	free(out);
	return ports;
}

static int
ctr_start_service(struct container_job *cj, const char *label,
    const json_t *spec, char *err, size_t errsz)
{
	struct ctr_argv a;
	const char *image;
	char *where = xasprintf("services.%s", label), *name, *lname, *h,
	    *out = xmalloc(CTR_OUT), ip[256], why[1024];
	int r = -1;

	if (ctr_image(spec, where, &image, err, errsz) == -1)
		goto out0;
	if (image[0] == '\0') {
		/* GitHub skips a service whose image evaluates empty. */
		ctr_logf(cj, "Service %s has no image; not started\n", label);
		r = 0;
		goto out0;
	}
	lname = ctr_name(label);
	name = xasprintf("%s-%s", cj->prefix, lname);
	ctr_logf(cj, "Starting service %s (%s)\n", label, image);
	av_engine(&a, cj->e);
	av_add(&a, "run");
	av_add(&a, "-d");
	av_add(&a, "--name");
	av_add(&a, name);
	av_labels(&a, cj);
	av_add(&a, "--network");
	av_add(&a, cj->network);
	av_add(&a, "--network-alias");
	av_add(&a, label);
	av_addv(&a, cj->e->run_opts);
	if (json_is_object(spec) && av_spec(&a, spec, where,
	    cj->user != NULL, err,
	    errsz) == -1)
		goto out;
	av_add(&a, image);
	ctr_created(cj, name);
	if (ctr_run(a.v, out, CTR_OUT, CTR_CMD_MS, why, sizeof why) == -1) {
		snprintf(err, errsz, "%s: %s", where, why);
		goto out;
	}
	if (ctr_has_health(spec) && ctr_await_health(cj, label, name, err,
	    errsz) == -1)
		goto out;
	if (ctr_inspect(cj, name, "{{range .NetworkSettings.Networks}}"
	    "{{.IPAddress}} {{end}}", ip, sizeof ip, why, sizeof why) == 0 &&
	    ip[0] != '\0') {
		ip[strcspn(ip, " ")] = '\0';
		h = xasprintf("%s%s%s:%s", cj->hosts != NULL ? cj->hosts : "",
		    cj->hosts != NULL ? "\n" : "", label, ip);
		free(cj->hosts);
		cj->hosts = h;
	}
	json_object_set_new(cj->services_ctx, label, json_pack("{s:s, s:s, "
	    "s:o}", "id", name, "network", cj->network, "ports",
	    ctr_ports(cj, name)));
	r = 0;
out:
	container_argv_free(a.v);
	free(name);
	free(lname);
out0:
	free(where);
	free(out);
	return r;
}

static int
ctr_start_job_ctr(struct container_job *cj, const json_t *spec,
    const struct container_dirs *d, char *err, size_t errsz)
{
	struct ctr_argv a;
	const char *image;
	char *name, *out = xmalloc(CTR_OUT), why[1024], *h, *p, *save = NULL;
	int r = -1;

	if (ctr_image(spec, "container", &image, err, errsz) == -1)
		goto out0;
	if (image[0] == '\0') {
		snprintf(err, errsz, "container: no image");
		goto out0;
	}
	name = xasprintf("%s-job", cj->prefix);
	ctr_logf(cj, "Starting job container (%s)\n", image);
	av_engine(&a, cj->e);
	av_add(&a, "run");
	av_add(&a, "-d");
	av_add(&a, "--name");
	av_add(&a, name);
	av_labels(&a, cj);
	av_add(&a, "--network");
	av_add(&a, cj->network);
	h = cj->hosts != NULL ? xstrdup(cj->hosts) : NULL;
	for (p = h != NULL ? strtok_r(h, "\n", &save) : NULL; p != NULL;
	    p = strtok_r(NULL, "\n", &save)) {
		av_add(&a, "--add-host");
		av_add(&a, p);
	}
	free(h);
	av_mounts(&a, d);
	av_add(&a, "-e");
	av_add(&a, "HOME=/github/home");
	av_addv(&a, cj->e->run_opts);
	if (cj->user != NULL) {
		/* Files it writes to the workspace are the account's. */
		av_add(&a, "--user");
		av_add(&a, cj->user);
	}
	if (json_is_object(spec) && av_spec(&a, spec, "container",
	    cj->user != NULL, err,
	    errsz) == -1)
		goto out;
	/* Kept alive for the job's steps, as GitHub's runner does. */
	av_add(&a, "--entrypoint");
	av_add(&a, "tail");
	av_add(&a, image);
	av_add(&a, "-f");
	av_add(&a, "/dev/null");
	ctr_created(cj, name);
	if (ctr_run(a.v, out, CTR_OUT, CTR_CMD_MS, why, sizeof why) == -1) {
		snprintf(err, errsz, "container: %s", why);
		goto out;
	}
	cj->job_ctr = xstrdup(name);
	cj->container_ctx = json_pack("{s:s, s:s}", "id", name, "network",
	    cj->network);
	/*
	 * What the image says for its steps: its PATH (GITHUB_PATH adds to
	 * it) and whether it has bash (a run: step without shell runs
	 * bash -e {0} then, as GitHub's runner decides inside the
	 * container; else sh).  Marked lines: the engine may print more.
	 */
	container_argv_free(a.v);
	av_engine(&a, cj->e);
	av_add(&a, "exec");
	av_add(&a, name);
	av_add(&a, "sh");
	av_add(&a, "-c");
	av_add(&a, "printf 'KILN-PATH=%s\\n' \"$PATH\"; "
	    "command -v bash >/dev/null && echo KILN-BASH");
	if (ctr_run(a.v, out, CTR_OUT, CTR_QUICK_MS, why, sizeof why) == 0) {
		char *line, *save2 = NULL;

		for (line = strtok_r(out, "\n", &save2); line != NULL;
		    line = strtok_r(NULL, "\n", &save2)) {
			if (strncmp(line, "KILN-PATH=", 10) == 0 &&
			    line[10] != '\0') {
				free(cj->path);
				cj->path = xstrdup(line + 10);
			} else if (strcmp(line, "KILN-BASH") == 0)
				cj->has_bash = 1;
		}
	}
	r = 0;
out:
	container_argv_free(a.v);
	free(name);
out0:
	free(out);
	return r;
}

int
container_job_start(struct container_job *cj, const json_t *container,
    const json_t *services, const struct container_dirs *d, char *err,
    size_t errsz)
{
	struct ctr_argv a;
	const char *label;
	json_t *spec;
	char *out = xmalloc(CTR_OUT), why[1024];
	int r = -1;

	if (services != NULL && !json_is_null(services) &&
	    !json_is_object(services)) {
		snprintf(err, errsz, "services: expected a mapping of labels");
		goto out;
	}
	av_engine(&a, cj->e);
	av_add(&a, "network");
	av_add(&a, "create");
	av_labels(&a, cj);
	av_add(&a, cj->prefix);
	if (ctr_run(a.v, out, CTR_OUT, CTR_QUICK_MS, why, sizeof why) == -1) {
		snprintf(err, errsz, "the job's network: %s", why);
		container_argv_free(a.v);
		goto out;
	}
	container_argv_free(a.v);
	cj->network = xstrdup(cj->prefix);
	if (json_is_object(services))
		json_object_foreach((json_t *)services, label, spec)
			if (ctr_start_service(cj, label, spec, err,
			    errsz) == -1)
				goto out;
	if (container != NULL && !json_is_null(container) &&
	    ctr_start_job_ctr(cj, container, d, err, errsz) == -1)
		goto out;
	r = 0;
out:
	free(out);
	return r;
}

/*
 * -e NAME for each variable of envp: the engine's client passes its own
 * value (from envp, its environment), so none is on a command line.  The
 * image's PATH and hostname stay, and the home (and for a docker action
 * the workspace) are the container's, set by the caller.
 */
static void
av_env(struct ctr_argv *a, char *const *envp, int docker_action)
{
	static const char *const kept[] = { "PATH", "HOME", "HOSTNAME",
	    "GITHUB_WORKSPACE" };
	size_t i, k, n, nkept = docker_action ? nitems(kept) : 3;

	for (i = 0; envp != NULL && envp[i] != NULL; i++) {
		n = strcspn(envp[i], "=");
		for (k = 0; k < nkept; k++)
			if (strlen(kept[k]) == n &&
			    strncmp(envp[i], kept[k], n) == 0)
				break;
		if (k < nkept || a->n > CTR_MAX_ARGS)
			continue;
		av_add(a, "-e");
		av_addf(a, "%.*s", (int)n, envp[i]);
	}
}

char **
container_exec_argv(const struct container_job *cj, char *const *envp,
    const char *workdir, const char *path)
{
	struct ctr_argv a;

	av_engine(&a, cj->e);
	av_add(&a, "exec");
	av_add(&a, "-w");
	av_add(&a, workdir);
	av_env(&a, envp, 0);
	if (path != NULL) {
		/* Not a secret: on the command line, unlike the others. */
		av_add(&a, "-e");
		av_addf(&a, "PATH=%s", path);
	}
	av_add(&a, cj->job_ctr);
	return a.v;
}

char **
container_run_argv(const struct container_job *cj, const char *image,
    const char *entrypoint, char *const *args, char *const *envp,
    const struct container_dirs *d)
{
	struct ctr_argv a;

	av_engine(&a, cj->e);
	av_add(&a, "run");
	av_add(&a, "--rm");
	av_add(&a, "--name");
	av_addf(&a, "%s-step", cj->prefix);
	av_labels(&a, cj);
	av_add(&a, "--network");
	av_add(&a, cj->network);
	av_add(&a, "-w");
	av_add(&a, "/github/workspace");
	av_mounts(&a, d);
	av_env(&a, envp, 1);
	/* Where GitHub's runner mounts them for a docker action. */
	av_add(&a, "-e");
	av_add(&a, "HOME=/github/home");
	av_add(&a, "-e");
	av_add(&a, "GITHUB_WORKSPACE=/github/workspace");
	av_addv(&a, cj->e->run_opts);
	if (cj->user != NULL) {
		av_add(&a, "--user");
		av_add(&a, cj->user);
	}
	if (entrypoint != NULL) {
		av_add(&a, "--entrypoint");
		av_add(&a, entrypoint);
	}
	av_add(&a, image);
	av_addv(&a, args);
	return a.v;
}

int
container_build(const struct container_job *cj, const char *dir,
    const char *dockerfile, char **tag, char *err, size_t errsz)
{
	struct ctr_argv a;
	char *out = xmalloc(CTR_OUT), why[1024];
	int r;

	*tag = xasprintf("localhost/%s-action:latest", cj->prefix);
	av_engine(&a, cj->e);
	av_add(&a, "build");
	av_add(&a, "-t");
	av_add(&a, *tag);
	av_add(&a, "-f");
	av_addf(&a, "%s/%s", dir, dockerfile);
	av_labels(&a, cj);
	/* build takes the --ulimit and the like a container does. */
	av_addv(&a, cj->e->run_opts);
	av_add(&a, dir);
	r = ctr_run(a.v, out, CTR_OUT, CTR_CMD_MS, why, sizeof why);
	container_argv_free(a.v);
	if (r == -1) {
		snprintf(err, errsz, "building %s: %s", dockerfile, why);
		free(*tag);
		*tag = NULL;
	}
	free(out);
	return r;
}

/* Remove every container, then network, labelled label. */
static void
ctr_remove_labelled(const struct container_engine *e, const char *label)
{
	struct ctr_argv a, rm;
	char *out = xmalloc(CTR_OUT), err[1024], *id, *save;
	size_t base;
	int kind;

	for (kind = 0; kind < 2; kind++) {
		av_engine(&a, e);
		if (kind == 1)
			av_add(&a, "network");
		av_add(&a, kind == 0 ? "ps" : "ls");
		if (kind == 0)
			av_add(&a, "-a");
		av_add(&a, "-q");
		av_add(&a, "--filter");
		av_add(&a, label);
		if (ctr_run(a.v, out, CTR_OUT, CTR_QUICK_MS, err,
		    sizeof err) == 0) {
			av_engine(&rm, e);
			if (kind == 1)
				av_add(&rm, "network");
			av_add(&rm, "rm");
			av_add(&rm, "-f");
			base = rm.n;
			save = NULL;
			for (id = strtok_r(out, " \n", &save); id != NULL;
			    id = strtok_r(NULL, " \n", &save))
				av_add(&rm, id);
			if (rm.n > base && ctr_run(rm.v, out, CTR_OUT,
			    CTR_QUICK_MS, err, sizeof err) == -1)
				log_warnx("removing containers (%s): %s",
				    label, err);
			container_argv_free(rm.v);
		} else
			log_warnx("listing containers (%s): %s", label, err);
		container_argv_free(a.v);
	}
	free(out);
}

/*
 * The engine's monitors (conmon, aardvark-dns) are reparented to the
 * worker, a subreaper, and linger as zombies once their containers are
 * gone: reaped here by pid, so that the job's orphan sweep neither counts
 * them nor reaps a child of someone else's.
 */
static void
ctr_reap_monitors(void)
{
	char path[300], comm[64], stat[512], *p;
	struct dirent *de;
	pid_t self = getpid(), pid;
	FILE *f;
	DIR *d;
	int ppid;
	char st;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(stat, sizeof stat, f);
		fclose(f);
		/* "pid (comm) S ppid ...": comm may hold blanks. */
		if (p == NULL || (p = strrchr(stat, ')')) == NULL ||
		    sscanf(p + 1, " %c %d", &st, &ppid) != 2 ||
		    ppid != self || st != 'Z')
			continue;
		snprintf(path, sizeof path, "/proc/%s/comm", de->d_name);
		comm[0] = '\0';
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(comm, sizeof comm, f) == NULL)
				comm[0] = '\0';
			fclose(f);
		}
		comm[strcspn(comm, "\n")] = '\0';
		pid = (pid_t)atoi(de->d_name);
		if (strcmp(comm, "conmon") == 0 ||
		    strcmp(comm, "aardvark-dns") == 0 ||
		    strcmp(comm, "podman") == 0)
			(void)waitpid(pid, NULL, WNOHANG);
	}
	closedir(d);
}

void
container_job_stop(struct container_job *cj)
{
	struct ctr_argv a;
	char *out, err[1024], *label;
	size_t i;

	if (cj->e != NULL && (cj->ncreated > 0 || cj->network != NULL)) {
		out = xmalloc(CTR_OUT);
		/* Killed, not stopped: `tail` as pid 1 ignores SIGTERM. */
		if (cj->ncreated > 0) {
			av_engine(&a, cj->e);
			av_add(&a, "rm");
			av_add(&a, "-f");
			if (strcmp(cj->e->name, "podman") == 0) {
				av_add(&a, "-t");
				av_add(&a, "0");
			}
			for (i = 0; i < cj->ncreated; i++)
				av_add(&a, cj->created[i]);
			(void)ctr_run(a.v, out, CTR_OUT, CTR_QUICK_MS, err,
			    sizeof err);
			container_argv_free(a.v);
		}
		/* What a step started itself, and the network. */
		label = xasprintf("label=kiln.job=%lld", (long long)cj->job_id);
		ctr_remove_labelled(cj->e, label);
		free(label);
		av_engine(&a, cj->e);
		av_add(&a, "rmi");
		av_add(&a, "-f");
		av_addf(&a, "localhost/%s-action:latest", cj->prefix);
		(void)ctr_run(a.v, out, CTR_OUT, CTR_QUICK_MS, err, sizeof err);
		container_argv_free(a.v);
		free(out);
		ctr_reap_monitors();
	}
	for (i = 0; i < cj->ncreated; i++)
		free(cj->created[i]);
	free(cj->created);
	free(cj->prefix);
	free(cj->worker);
	free(cj->network);
	free(cj->job_ctr);
	free(cj->path);
	free(cj->hosts);
	free(cj->user);
	json_decref(cj->services_ctx);
	json_decref(cj->container_ctx);
	memset(cj, 0, sizeof *cj);
}

static char *
ctr_marker(const char *work_dir, const char *worker)
{
	char *n = ctr_name(worker), *p;

	p = xasprintf("%s/containers/%s", work_dir, n);
	free(n);
	return p;
}

int
container_mark(const char *work_dir, const char *worker, int *fd)
{
	char *p, *dir;
	int r = -1;

	if (*fd >= 0)
		return 0;
	p = ctr_marker(work_dir, worker);
	dir = xasprintf("%s/containers", work_dir);
	if (mkdir_p(dir, 0700) == 0 && (*fd = open(p, O_RDWR | O_CREAT |
	    O_CLOEXEC, 0600)) >= 0) {
		/* Held till the worker ends: the kernel drops it then. */
		if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
			r = 0;
		else {
			close(*fd);
			*fd = -1;
		}
	}
	if (r == -1)
		log_warnx("%s: %s; containers of a job this worker loses "
		    "will not be removed by the next worker", p,
		    strerror(errno));
	free(dir);
	free(p);
	return r;
}

/* Remove what the dead worker name left (its label). */
static void
ctr_reap_one(const char *work_dir, const char *name, const char *want,
    const char *opts, const char *run_opts)
{
	struct container_engine e;
	char err[2048], *label, *owner;

	if (container_engine_pick(&e, want, opts, run_opts, getenv("PATH"),
	    err, sizeof err) == -1) {
		log_warnx("containers of the lost worker %s are left: %s",
		    name, err);
		return;
	}
	owner = ctr_owner(work_dir, name);
	label = xasprintf("label=kiln.worker=%s", owner);
	ctr_remove_labelled(&e, label);
	log_info("removed what the lost worker %s left in %s", name,
	    e.name);
	free(label);
	free(owner);
	container_engine_free(&e);
}

void
container_reap(const char *work_dir, const char *want, const char *opts,
    const char *run_opts)
{
	char *dir = xasprintf("%s/containers", work_dir), *p;
	struct dirent *de;
	DIR *d;
	int fd, n = 0;

	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	/* Bounded: a marker a worker holds is skipped, not waited for. */
	while ((de = readdir(d)) != NULL && n++ < 4096) {
		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if ((fd = open(p, O_RDWR | O_CLOEXEC)) >= 0 &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0) {
			ctr_reap_one(work_dir, de->d_name, want, opts,
			    run_opts);
			unlink(p);
		}
		if (fd >= 0)
			close(fd);
		free(p);
	}
	closedir(d);
	free(dir);
}
