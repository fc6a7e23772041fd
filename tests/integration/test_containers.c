/*
 * Job containers, services and docker actions through the host's engine
 * (podman here; worker/container.c).  No registry is reachable: the image
 * is built from Debian's busybox-static (FROM scratch), never pulled.
 * Where no engine works (a container without the privileges podman
 * needs), the engine cases print "SKIPPED (no usable container engine)"
 * and only the clear failure of such jobs is checked, which needs none.
 * Real parts: kilnd as root with its embedded PostgreSQL and workers, a
 * real git repository, a signed push webhook.
 */
#include <sys/stat.h>

#include <check.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define RUN_MS		180000
#define ENGINE_MS	300000
#define IMAGE		"localhost/kiln-itest-busybox:1"
/* IMAGE with a "bash" (a wrapper of sh saying it ran). */
#define BASH_IMAGE	"localhost/kiln-itest-bashbox:1"

/* What this box's podman needs (see README: [containers]). */
static char *
engine_options(void)
{
	return xasprintf("--storage-driver vfs --cgroup-manager cgroupfs%s",
	    access("/usr/sbin/runc", X_OK) == 0 ? " --runtime runc" : "");
}

#define RUN_OPTIONS "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"

/* argv of "podman <options> args..." (NULL-ended; words split on ' '). */
static char **
podman_argv(const char *args)
{
	char *opts = engine_options(), *all, *w, *save = NULL;
	char **v = xcalloc(64, sizeof *v);
	size_t n = 0;

	all = xasprintf("podman %s %s", opts, args);
	for (w = strtok_r(all, " ", &save); w != NULL && n < 63;
	    w = strtok_r(NULL, " ", &save))
		v[n++] = xstrdup(w);
	free(all);
	free(opts);
	return v;
}

static void
argv_free(char **v)
{
	size_t i;

	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static int
podman(const char *args, const char *cwd, struct buf *out)
{
	char **v = podman_argv(args);
	int r;

	r = access("/usr/bin/podman", X_OK) == 0 ? harness_run(v, cwd, NULL,
	    out, out, ENGINE_MS) : -1;
	argv_free(v);
	return r;
}

/*
 * Build the test image: busybox with its applets as links, an
 * /etc/os-release naming it, and httpd serving /www as its command (a
 * service runs the image's command; a job container replaces it).
 * 1 when the engine can build and run it, else 0 with why.
 */
static int
engine_ready(struct harness *h, struct buf *why)
{
	static const char *const applets[] = { "sh", "tail", "cat", "echo",
	    "wget", "httpd", "ls", "grep", "test", "id", "sleep", "true" };
	char *ctx = xasprintf("%s/image", h->dir), *p, *q;
	size_t i;

	if (access("/bin/busybox", X_OK) != 0) {
		buf_add_str(why, "no /bin/busybox (busybox-static)");
		return 0;
	}
	p = xasprintf("%s/bin", ctx);
	harness_assert(h, mkdir_p(p, 0755) == 0, "mkdir %s", p);
	free(p);
	p = xasprintf("cp /bin/busybox %s/bin/busybox", ctx);
	harness_assert(h, system(p) == 0, "%s", p);
	free(p);
	for (i = 0; i < nitems(applets); i++) {
		p = xasprintf("%s/bin/%s", ctx, applets[i]);
		harness_assert(h, symlink("busybox", p) == 0, "symlink %s", p);
		free(p);
	}
	p = xasprintf("%s/etc/os-release", ctx);
	harness_write_file(h, p, "ID=kiln-busybox\nNAME=\"kiln test image\"\n");
	free(p);
	p = xasprintf("%s/www/index.html", ctx);
	harness_write_file(h, p, "SERVICE-OK\n");
	free(p);
	p = xasprintf("%s/Dockerfile", ctx);
	harness_write_file(h, p, "FROM scratch\nCOPY bin /bin\nCOPY etc /etc\n"
	    "COPY www /www\nCMD [\"/bin/httpd\", \"-f\", \"-p\", \"80\", "
	    "\"-h\", \"/www\"]\n");
	free(p);
	p = xasprintf("%s/bash/bash", ctx);
	harness_write_file(h, p, "#!/bin/sh\necho BASH-WRAPPER-RAN\n"
	    "exec /bin/sh \"$@\"\n");
	harness_assert(h, chmod(p, 0755) == 0, "chmod %s", p);
	free(p);
	p = xasprintf("%s/bash/Dockerfile", ctx);
	harness_write_file(h, p, "FROM " IMAGE "\nCOPY bash /bin/bash\n");
	free(p);
	/* IMAGE first: BASH_IMAGE is built from it. */
	p = xasprintf("build -t " IMAGE " %s", ctx);
	q = xasprintf("build -t " BASH_IMAGE " %s/bash", ctx);
	i = podman(p, NULL, why) == 0 && podman(q, NULL, why) == 0;
	free(p);
	free(q);
	if (!i) {
		free(ctx);
		return 0;
	}
	free(ctx);
	buf_clear(why);
	return podman("run --rm " RUN_OPTIONS " " IMAGE " /bin/true", NULL,
	    why) == 0;
}

static void
conf_engine(struct harness *h)
{
	char *opts = engine_options(), *c;

	c = xasprintf("[containers]\nengine = podman\nengine_options = %s\n"
	    "run_options = " RUN_OPTIONS "\n", opts);
	harness_conf_add(h, c);
	free(c);
	free(opts);
}

/*
 * The containers and networks of this test's workers still there (their
 * labels), "" when none.
 */
static char *
leftovers(struct harness *h)
{
	struct buf out = { 0 };

	podman("ps -a --format {{.Labels}}|{{.Names}} --filter "
	    "label=kiln.worker", NULL, &out);
	podman("network ls --format {{.Labels}}|{{.Name}} --filter "
	    "label=kiln.worker", NULL, &out);
	buf_add_char(&out, '\0');
	/* Only lines of this test's work directory count. */
	if (strstr(out.data, h->state_dir) == NULL) {
		buf_free(&out);
		return xstrdup("");
	}
	return buf_steal(&out);
}

static int
skipped(struct harness *h, const char *what)
{
	struct buf why = { 0 };

	if (engine_ready(h, &why)) {
		buf_free(&why);
		return 0;
	}
	buf_add_char(&why, '\0');
	printf("SKIPPED (no usable container engine): %s: %.400s\n", what,
	    why.data);
	fflush(stdout);
	buf_free(&why);
	return 1;
}

/*
 * A kilnd with the engine configured, or NULL (printed as skipped) when
 * the engine cannot build and run the test image here.
 */
static struct harness *
engine_up(const char *name, const char *what, const char *workers_conf)
{
	struct harness *h = harness_new(name);

	if (skipped(h, what)) {
		harness_free(h);
		return NULL;
	}
	if (workers_conf != NULL)
		harness_conf_add(h, workers_conf);
	conf_engine(h);
	harness_start(h);
	return h;
}

/* Nothing of the test's jobs is left in the engine; kilnd stops. */
static void
engine_down(struct harness *h, struct harness_repo *repo, json_t *run,
    char *sha)
{
	char *left = leftovers(h);

	harness_assert(h, left[0] == '\0', "containers left:\n%s", left);
	free(left);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}

/*
 * A job container runs the run: steps (busybox's os-release, the
 * workspace and file commands shared with the host), a service on the
 * job's network answers by its label from it after its health check,
 * and a host job reaches a service through its port on 127.0.0.1.  No
 * container or network is left afterwards.
 */
/*
 * The job name of run failed before its steps: its message holds want,
 * its log not never (a marker its step would print; NULL: no check).
 */
static void
expect_job_refused(struct harness *h, const json_t *run, const char *name,
    const char *want, const char *never)
{
	json_t *job = harness_job(h, run, name);
	const char *msg;
	char *log;

	harness_expect_str(h, job, name, "conclusion", "failure");
	msg = harness_str(job, "message");
	harness_assert(h, msg != NULL && strstr(msg, want) != NULL, "%s: "
	    "message %s", name, msg ? msg : "(null)");
	if (never == NULL)
		return;
	log = harness_job_log(h, run, name);
	harness_assert(h, strstr(log, never) == NULL, "%s ran:\n%s", name,
	    log);
	free(log);
}

START_TEST(test_job_container_and_services)
{
	struct harness *h = engine_up("ctr_job", "job container: and "
	    "services:", NULL);
	struct harness_repo *repo;
	char *sha, *log;
	json_t *run, *job;

	if (h == NULL)
		return;
	repo = harness_repo_new(h, "octo/boxed");
	harness_repo_write(repo, "nodeact/action.yml",
	    "runs:\n  using: node20\n  main: i.js\n");
	harness_repo_write(repo, "nodeact/i.js", "console.log('NODE-RAN');\n");
	harness_repo_write(repo, ".github/workflows/c.yml",
	    "name: c\n"
	    "on: push\n"
	    "jobs:\n"
	    "  boxed:\n"
	    "    runs-on: self-hosted\n"
	    "    container:\n"
	    "      image: " IMAGE "\n"
	    "      env:\n"
	    "        BOXED: yes-${{ github.event_name }}\n"
	    "    services:\n"
	    "      web:\n"
	    "        image: " IMAGE "\n"
	    "        options: >-\n"
	    "          --health-cmd \"wget -q -O /dev/null http://127.0.0.1:80/\"\n"
	    "          --health-interval 1s\n"
	    "    outputs:\n"
	    "      where: ${{ steps.w.outputs.where }}\n"
	    "    steps:\n"
	    "      - run: echo \"made-inside\" > marker.txt\n"
	    "      - id: w\n"
	    "        run: |\n"
	    "          grep ID=kiln-busybox /etc/os-release && echo OSREL-OK\n"
	    "          echo \"BOXED=$BOXED\"\n"
	    "          cat /github/workspace/marker.txt\n"
	    "          test \"$PWD\" = \"$GITHUB_WORKSPACE\" && echo PWD-OK\n"
	    "          test -f /github/workflow/event.json && echo EVENT-OK\n"
	    "          echo \"HOME=$HOME\"\n"
	    "          wget -q -O - http://web/\n"
	    "          echo \"where=container-$((6 * 7))\" >> \"$GITHUB_OUTPUT\"\n"
	    "          echo \"ctr=${{ job.container.id }}\"\n"
	    /* What GitHub runs inside the container kiln does not run. */
	    "      - uses: actions/checkout@v4\n"
	    "      - id: n\n"
	    "        continue-on-error: true\n"
	    "        uses: ./nodeact\n"
	    "      - id: py\n"
	    "        continue-on-error: true\n"
	    "        uses: actions/setup-python@v5\n"
	    "        with: { python-version: '3.11' }\n"
	    "      - run: |\n"
	    "          echo \"REFUSED=${{ steps.n.outcome }},"
	    "${{ steps.py.outcome }}\"\n"
	    "          test ! -e marker.txt && echo CLEANED\n"
	    "          test -f nodeact/i.js && echo CHECKOUT-SEEN\n"
	    "  bashed:\n"
	    "    runs-on: self-hosted\n"
	    "    container:\n"
	    "      image: " BASH_IMAGE "\n"
	    "    steps:\n"
	    "      - run: echo IN-BASHED\n"
	    /* GITHUB_PATH: before the image's PATH inside the container. */
	    "      - run: |\n"
	    "          mkdir -p \"$GITHUB_WORKSPACE/tools\"\n"
	    "          echo '#!/bin/sh' > \"$GITHUB_WORKSPACE/tools/kilntool\"\n"
	    "          echo 'echo TOOL-FOUND' >> "
	    "\"$GITHUB_WORKSPACE/tools/kilntool\"\n"
	    "          chmod +x \"$GITHUB_WORKSPACE/tools/kilntool\"\n"
	    "          echo \"$GITHUB_WORKSPACE/tools\" >> \"$GITHUB_PATH\"\n"
	    "      - run: kilntool && echo \"PATH=$PATH\"\n"
	    "  host:\n"
	    "    needs: boxed\n"
	    "    runs-on: self-hosted\n"
	    "    services:\n"
	    "      web:\n"
	    "        image: " IMAGE "\n"
	    "        ports:\n"
	    "          - 80\n"
	    "        options: --health-cmd \"wget -q -O /dev/null "
	    "http://127.0.0.1:80/\"\n"
	    "    steps:\n"
	    "      - run: |\n"
	    "          echo \"got ${{ needs.boxed.outputs.where }}\"\n"
	    "          test ! -e /github/workspace && echo ON-HOST\n"
	    "          /bin/busybox wget -q -O - "
	    "\"http://127.0.0.1:${{ job.services.web.ports['80'] }}/\"\n");
	sha = harness_push(h, repo, "main", "boxed");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	log = harness_job_log(h, run, "boxed");
	job = harness_job(h, run, "boxed");
	harness_expect_str(h, job, "boxed", "conclusion", "success");
	harness_expect_contains(h, log, "boxed", "OSREL-OK");
	harness_expect_contains(h, log, "boxed", "BOXED=yes-push");
	harness_expect_contains(h, log, "boxed", "made-inside");
	harness_expect_contains(h, log, "boxed", "PWD-OK");
	harness_expect_contains(h, log, "boxed", "EVENT-OK");
	harness_expect_contains(h, log, "boxed", "HOME=/github/home");
	harness_expect_contains(h, log, "boxed", "SERVICE-OK");
	harness_expect_contains(h, log, "boxed", "Waiting for service web to "
	    "be healthy");
	harness_expect_contains(h, log, "boxed", "-job\n");
	harness_expect_contains(h, log, "boxed", "REFUSED=failure,failure\n");
	/* A checkout over what a step wrote, seen inside the container. */
	harness_expect_contains(h, log, "boxed", "Deleting the contents of "
	    "the workspace\n");
	harness_expect_contains(h, log, "boxed", "CLEANED\n");
	harness_expect_contains(h, log, "boxed", "CHECKOUT-SEEN\n");
	harness_expect_contains(h, log, "boxed", "runs.using: node20: this "
	    "job runs in a container (jobs.boxed.container), where GitHub "
	    "runs node actions");
	harness_expect_contains(h, log, "boxed", "actions/setup-python@v5: "
	    "this job runs in a container (jobs.boxed.container)");
	harness_assert(h, strstr(log, "NODE-RAN") == NULL, "the node action "
	    "ran on the host:\n%s", log);
	harness_assert(h, strstr(log, "Cleaning up orphan") == NULL, "the "
	    "engine's monitors counted as orphans:\n%s", log);
	/* The default shell: sh without bash in the image, bash with it. */
	harness_expect_contains(h, log, "boxed", "shell: sh -e {0}\n");
	harness_assert(h, strstr(log, "BASH-WRAPPER-RAN") == NULL, "bash ran "
	    "in an image without it:\n%s", log);
	free(log);
	log = harness_job_log(h, run, "bashed");
	harness_expect_contains(h, log, "bashed", "shell: bash -e {0}\n");
	harness_expect_contains(h, log, "bashed", "BASH-WRAPPER-RAN\nIN-BASHED\n");
	harness_expect_contains(h, log, "bashed", "TOOL-FOUND\n");
	harness_expect_contains(h, log, "bashed", "/workspace/tools:/");
	free(log);
	log = harness_job_log(h, run, "host");
	harness_expect_str(h, harness_job(h, run, "host"), "host",
	    "conclusion", "success");
	harness_expect_contains(h, log, "host", "got container-42");
	harness_expect_contains(h, log, "host", "ON-HOST");
	harness_expect_contains(h, log, "host", "SERVICE-OK");
	free(log);
	engine_down(h, repo, run, sha);
}
END_TEST

/*
 * A docker action built from its Dockerfile, with an input in its args,
 * its env and an output through GITHUB_OUTPUT; a docker:// step with
 * args and entrypoint.  A failing container fails its step, and the
 * job's containers are removed all the same.
 */
START_TEST(test_docker_actions)
{
	struct harness *h = engine_up("ctr_action", "docker actions",
	    NULL);
	struct harness_repo *repo;
	char *sha, *log;
	json_t *run, *job;

	if (h == NULL)
		return;
	repo = harness_repo_new(h, "octo/dockact");
	harness_repo_write(repo, "greet/action.yml",
	    "name: greet\n"
	    "inputs:\n"
	    "  who:\n"
	    "    default: world\n"
	    "outputs:\n"
	    "  greeting:\n"
	    "    description: what it said\n"
	    "runs:\n"
	    "  using: docker\n"
	    "  image: Dockerfile\n"
	    "  env:\n"
	    "    SHOUT: ${{ inputs.who }}!\n"
	    "  args:\n"
	    "    - ${{ inputs.who }}\n"
	    "    - second arg\n");
	harness_repo_write(repo, "greet/Dockerfile",
	    "FROM " IMAGE "\n"
	    "COPY entry.sh /entry.sh\n"
	    "ENTRYPOINT [\"/bin/sh\", \"/entry.sh\"]\n");
	harness_repo_write(repo, "greet/entry.sh",
	    "echo \"ARGS=$1|$2 INPUT=$INPUT_WHO SHOUT=$SHOUT PWD=$PWD\"\n"
	    "echo \"WS=$GITHUB_WORKSPACE\"\n"
	    "ls /github/workspace/greet/action.yml && echo SEES-WORKSPACE\n"
	    "echo \"greeting=hello $1\" >> \"$GITHUB_OUTPUT\"\n");
	harness_repo_write(repo, ".github/workflows/d.yml",
	    "name: d\n"
	    "on: push\n"
	    "jobs:\n"
	    "  act:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - uses: actions/checkout@v4\n"
	    "      - id: g\n"
	    "        uses: ./greet\n"
	    "        with:\n"
	    "          who: kiln\n"
	    "      - run: echo \"OUT=${{ steps.g.outputs.greeting }}\"\n"
	    "      - uses: docker://" IMAGE "\n"
	    "        with:\n"
	    "          entrypoint: /bin/sh\n"
	    "          args: -c \"echo URI-$((6 * 7)) $INPUT_EXTRA\"\n"
	    "          extra: passed\n"
	    "      - uses: docker://" IMAGE "\n"
	    "        with:\n"
	    "          entrypoint: /bin/sh\n"
	    "          args: -c \"exit 3\"\n");
	sha = harness_push(h, repo, "main", "dockact");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	log = harness_job_log(h, run, "act");
	job = harness_job(h, run, "act");
	harness_expect_str(h, job, "act", "conclusion", "failure");
	harness_expect_contains(h, log, "act", "ARGS=kiln|second arg "
	    "INPUT=kiln SHOUT=kiln! PWD=/github/workspace");
	harness_expect_contains(h, log, "act", "WS=/github/workspace");
	harness_expect_contains(h, log, "act", "SEES-WORKSPACE");
	harness_expect_contains(h, log, "act", "OUT=hello kiln");
	harness_expect_contains(h, log, "act", "URI-42 passed");
	harness_expect_contains(h, log, "act", "Process completed with exit "
	    "code 3");
	free(log);
	engine_down(h, repo, run, sha);
}
END_TEST

/*
 * With [workers] run_as, the job container and docker actions run as that
 * account (files they write to the workspace are its own, never root's),
 * and options or volumes that would reach the host are refused, named.
 */
START_TEST(test_run_as_confines_containers)
{
	struct harness *h = engine_up("ctr_runas", "containers under run_as",
	    "run_as = nobody\n");
	struct passwd *pw = getpwnam("nobody");
	struct harness_repo *repo;
	char *sha, *log, *want;
	json_t *run;

	if (h == NULL)
		return;
	harness_assert(h, pw != NULL, "no account nobody");
	repo = harness_repo_new(h, "octo/confined");
	harness_repo_write(repo, ".github/workflows/r.yml",
	    "name: r\n"
	    "on: push\n"
	    "jobs:\n"
	    "  boxed:\n"
	    "    runs-on: self-hosted\n"
	    "    container: " IMAGE "\n"
	    "    steps:\n"
	    "      - run: echo \"INSIDE-UID=$(id -u)\"; echo x > made\n"
	    "      - uses: docker://" IMAGE "\n"
	    "        with:\n"
	    "          entrypoint: /bin/sh\n"
	    "          args: -c \"echo ACTION-UID=$(id -u)\"\n"
	    "  escape:\n"
	    "    runs-on: self-hosted\n"
	    "    container:\n"
	    "      image: " IMAGE "\n"
	    "      options: --privileged\n"
	    "    steps:\n"
	    "      - run: echo \"ESCAPED-$((6 * 7))\"\n"
	    "  mount:\n"
	    "    runs-on: self-hosted\n"
	    "    services:\n"
	    "      web:\n"
	    "        image: " IMAGE "\n"
	    "        volumes:\n"
	    "          - /:/host\n"
	    "    steps:\n"
	    "      - run: echo \"MOUNTED-$((6 * 7))\"\n");
	sha = harness_push(h, repo, "main", "confined");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	log = harness_job_log(h, run, "boxed");
	want = xasprintf("INSIDE-UID=%ld", (long)pw->pw_uid);
	harness_expect_contains(h, log, "boxed", want);
	free(want);
	harness_expect_str(h, harness_job(h, run, "boxed"), "boxed",
	    "conclusion", "success");
	want = xasprintf("ACTION-UID=%ld", (long)pw->pw_uid);
	harness_expect_contains(h, log, "boxed", want);
	free(want);
	free(log);

	expect_job_refused(h, run, "escape", "jobs.escape.container.options: "
	    "\"--privileged\" refused", "ESCAPED-42");

	expect_job_refused(h, run, "mount", "jobs.mount.services.web.volumes: "
	    "refused", NULL);
	engine_down(h, repo, run, sha);
}
END_TEST

/* A job container of this test is up (its steps may run). */
static int
job_ctr_up_cb(struct harness *h, void *arg)
{
	char *left = leftovers(h);
	int up = strstr(left, "-job") != NULL;

	(void)arg;
	free(left);
	return up;
}

static int
nothing_left_cb(struct harness *h, void *arg)
{
	char *left = leftovers(h);
	int none = left[0] == '\0';

	(void)arg;
	free(left);
	return none;
}

/*
 * A cancelled container job, and one whose worker is SIGKILLed in the
 * middle of a step: neither leaves a container or network behind (the
 * second through the worker kilnd starts in the dead one's place).
 */
START_TEST(test_cancel_and_killed_worker_leave_nothing)
{
	struct harness *h = engine_up("ctr_kill", "cleanup after cancel and "
	    "a killed worker", NULL);
	struct harness_repo *repo;
	struct buf out = { 0 }, err = { 0 };
	pid_t pids[8];
	char *sha, *run_id;
	json_t *run;
	int i, n;

	if (h == NULL)
		return;
	repo = harness_repo_new(h, "octo/killed");
	harness_repo_write(repo, ".github/workflows/k.yml",
	    "name: k\n"
	    "on: push\n"
	    "jobs:\n"
	    "  long:\n"
	    "    runs-on: self-hosted\n"
	    "    container: " IMAGE "\n"
	    "    services:\n"
	    "      web:\n"
	    "        image: " IMAGE "\n"
	    "    steps:\n"
	    "      - run: sleep 600\n");
	sha = harness_push(h, repo, "main", "to cancel");
	harness_assert(h, harness_wait_for(h, RUN_MS, job_ctr_up_cb, NULL),
	    "the job container never started");
	run_id = harness_sql(h, "SELECT max(run_id) FROM jobs", NULL);
	harness_assert(h, harness_cictl(h, &out, &err, "cancel", run_id, NULL)
	    == 0, "cictl cancel: %s", err.data);
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "cancelled");
	harness_assert(h, harness_wait_for(h, 30000, nothing_left_cb, NULL),
	    "containers left after the cancellation:\n%s", leftovers(h));
	json_decref(run);
	free(run_id);
	free(sha);

	harness_repo_write(repo, "again", "1\n");
	sha = harness_push(h, repo, "main", "to lose the worker");
	harness_assert(h, harness_wait_for(h, RUN_MS, job_ctr_up_cb, NULL),
	    "the job container never started (2)");
	n = harness_workers(h, pids, (int)nitems(pids));
	for (i = 0; i < n; i++)
		harness_assert(h, kill(pids[i], SIGKILL) == 0, "kill %d",
		    (int)pids[i]);
	harness_assert(h, harness_wait_for(h, 120000, nothing_left_cb, NULL),
	    "containers left by the killed worker:\n%s", leftovers(h));
	buf_free(&out);
	buf_free(&err);
	engine_down(h, repo, NULL, sha);
}
END_TEST

/* Jobs that need an engine, and one that does not. */
static const char noengine_wf[] =
	    "name: n\n"
	    "on: push\n"
	    "jobs:\n"
	    "  boxed:\n"
	    "    runs-on: self-hosted\n"
	    "    container: node:20\n"
	    "    steps:\n"
	    "      - run: echo \"INSIDE-$((6 * 7))\"\n"
	    "  svc:\n"
	    "    runs-on: self-hosted\n"
	    "    services:\n"
	    "      db:\n"
	    "        image: postgres\n"
	    "    steps:\n"
	    "      - run: echo \"SVC-$((6 * 7))\"\n"
	    "  act:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo \"BEFORE-$((6 * 7))\"\n"
	    "      - uses: docker://alpine:3\n"
	    "  plain:\n"
	    "    runs-on: self-hosted\n"
	    "    steps:\n"
	    "      - run: echo \"PLAIN-$((6 * 7))\"\n";

/*
 * Without a usable engine ([containers] engine = none; docker's client
 * without its daemon), a job with container:, services: or a docker://
 * step fails before its first step, naming the job, the key and that no
 * engine is usable; no step runs.  Needs no engine.
 */
START_TEST(test_no_engine_fails_clearly)
{
	struct harness *h = harness_new("ctr_none");
	struct harness_repo *repo;
	char *sha, *log;
	const char *msg;
	json_t *run, *job;

	harness_conf_add(h, "[containers]\nengine = none\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/noengine");
	harness_repo_write(repo, ".github/workflows/n.yml", noengine_wf);
	sha = harness_push(h, repo, "main", "noengine");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "failure");

	job = harness_job(h, run, "boxed");
	harness_expect_str(h, job, "boxed", "conclusion", "failure");
	msg = harness_str(job, "message");
	harness_assert(h, msg != NULL && strstr(msg, "jobs.boxed.container "
	    "needs a container engine and none (podman, docker) is usable: "
	    "[containers] engine = none") != NULL, "boxed: message %s",
	    msg ? msg : "(null)");
	log = harness_job_log(h, run, "boxed");
	harness_assert(h, strstr(log, "INSIDE-42") == NULL, "a container "
	    "job's step ran on the host:\n%s", log);
	free(log);

	expect_job_refused(h, run, "svc", "jobs.svc.services needs a container "
	    "engine", "SVC-42");

	job = harness_job(h, run, "act");
	msg = harness_str(job, "message");
	harness_assert(h, msg != NULL && strstr(msg, "jobs.act.steps[1].uses "
	    "(docker://alpine:3) needs a container engine") != NULL,
	    "act: message %s", msg ? msg : "(null)");
	log = harness_job_log(h, run, "act");
	harness_assert(h, strstr(log, "BEFORE-42") == NULL, "act's first step "
	    "ran:\n%s", log);
	free(log);

	harness_expect_str(h, harness_job(h, run, "plain"), "plain",
	    "conclusion", "success");
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

/* docker's client without a daemon is not an engine: its `info` fails. */
START_TEST(test_docker_without_daemon_is_unusable)
{
	struct harness *h = harness_new("ctr_docker");
	struct harness_repo *repo;
	char *sha;
	json_t *run;

	harness_conf_add(h, "[containers]\nengine = docker\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/nodaemon");
	harness_repo_write(repo, ".github/workflows/n.yml", noengine_wf);
	sha = harness_push(h, repo, "main", "nodaemon");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	expect_job_refused(h, run, "boxed", "[containers] engine = docker is "
	    "not usable (docker: ", NULL);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
containers_suite(void)
{
	Suite *s = suite_create("containers");
	TCase *tc = tcase_create("containers");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT * 3);
	tcase_add_test(tc, test_no_engine_fails_clearly);
	tcase_add_test(tc, test_docker_without_daemon_is_unusable);
	tcase_add_test(tc, test_job_container_and_services);
	tcase_add_test(tc, test_docker_actions);
	tcase_add_test(tc, test_cancel_and_killed_worker_leave_nothing);
	tcase_add_test(tc, test_run_as_confines_containers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(containers_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
