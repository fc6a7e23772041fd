/*
 * actions/upload-artifact and actions/download-artifact natively: a job
 * uploads (two path lines, an exclusion, a hidden file left out), a later
 * job (needs:) downloads by name, by pattern into one directory each and
 * merged; a second upload of a name fails unless overwrite; hostile names
 * and if-no-files-found: error fail their step naming why; a symbolic
 * link back to a directory being walked ends there; the zip comes
 * over HTTP and through cictl with the right members; retention-days sets
 * the expiry and kilnd's sweep deletes what expired, row and file.  Real
 * parts: kilnd with its embedded PostgreSQL and workers, a real git
 * repository, signed push webhooks, /usr/bin/python3's zipfile.
 */
#include <sys/stat.h>

#include <check.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

#define RUN_MS	120000

static const char artifacts_workflow[] =
    "name: a\n"
    "on: push\n"
    "jobs:\n"
    "  up:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: |\n"
    "          mkdir -p out/sub/skip out/.dot\n"
    "          echo alpha > out/a.txt\n"
    "          echo beta > out/sub/b.txt\n"
    "          echo no > out/sub/skip/c.txt\n"
    "          echo hidden > out/sub/.hidden\n"
    "          echo dot > out/.dot/d.txt\n"
    "          echo log > extra.log\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        id: up\n"
    "        with:\n"
    "          name: bundle\n"
    "          path: |\n"
    "            out/a.txt\n"
    "            out/sub\n"
    "            !out/sub/skip\n"
    "          retention-days: 5\n"
    "      - run: echo \"ID=[${{ steps.up.outputs.artifact-id }}] "
    "URL=[${{ steps.up.outputs.artifact-url }}]\"\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        with: { name: part-1, path: out/a.txt, compression-level: 0 }\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        with:\n"
    "          name: part-2\n"
    "          path: 'out/s?b/b.tx?'\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        id: again\n"
    "        continue-on-error: true\n"
    "        with: { name: bundle, path: extra.log }\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        with: { name: ow, path: out/a.txt }\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        with: { name: ow, path: extra.log, overwrite: true }\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        with: { name: dots, path: out, include-hidden-files: true }\n"
    "      - run: echo \"AGAIN=${{ steps.again.outcome }}\"\n"
    "  down:\n"
    "    needs: up\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/download-artifact@v4\n"
    "        id: one\n"
    "        with: { name: bundle, path: got }\n"
    "      - uses: actions/download-artifact@v4\n"
    "        with: { pattern: 'part-*', merge-multiple: true, path: merged }\n"
    "      - uses: actions/download-artifact@v4\n"
    "        with: { pattern: 'part-?', path: sep }\n"
    "      - uses: actions/download-artifact@v4\n"
    "        with: { name: ow, path: ow }\n"
    "      - uses: actions/download-artifact@v4\n"
    "        with: { name: dots, path: dots }\n"
    "      - run: |\n"
    "          echo \"DP=[${{ steps.one.outputs.download-path }}]\"\n"
    "          echo \"WS=[$GITHUB_WORKSPACE]\"\n"
    "          echo \"FILES=[$(cd got && find . -type f | sort | "
    "tr '\\n' ' ')]\"\n"
    "          echo \"A=$(cat got/a.txt) B=$(cat got/sub/b.txt)\"\n"
    "          echo \"MERGED=[$(cd merged && find . -type f | sort | "
    "tr '\\n' ' ')]\"\n"
    "          echo \"SEP=[$(cd sep && find . -type f | sort | "
    "tr '\\n' ' ')]\"\n"
    "          echo \"OW=[$(cd ow && find . -type f | sort | "
    "tr '\\n' ' ')]\"\n"
    "          echo \"DOTS=[$(cd dots && find . -type f | sort | "
    "tr '\\n' ' ')]\"\n"
    "  bad:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: echo x > f.txt\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        id: dotdot\n"
    "        continue-on-error: true\n"
    "        with: { name: ../x, path: f.txt }\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        id: slash\n"
    "        continue-on-error: true\n"
    "        with: { name: a/b, path: f.txt }\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        id: none\n"
    "        continue-on-error: true\n"
    "        with: { name: empty, path: nothing/here, if-no-files-found: "
    "error }\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        id: warn\n"
    "        with: { name: empty2, path: nothing/here }\n"
    "      - run: mkdir cyc && echo x > cyc/f && ln -s . cyc/self && "
    "ln -s .. cyc/up\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        id: cycle\n"
    "        with: { name: cycle, path: cyc }\n"
    "      - uses: actions/download-artifact@v4\n"
    "        id: missing\n"
    "        continue-on-error: true\n"
    "        with: { name: no-such }\n"
    "      - run: echo \"OUT=${{ steps.dotdot.outcome }},"
    "${{ steps.slash.outcome }},${{ steps.none.outcome }},"
    "${{ steps.warn.outcome }},${{ steps.missing.outcome }}\"\n";

/* The member names of a zip, sorted, comma-separated (python's zipfile). */
static char *
artifacts_members(struct harness *h, const char *zip)
{
	char *const argv[] = { "/usr/bin/python3", "-c",
	    "import sys, zipfile\n"
	    "z = zipfile.ZipFile(sys.argv[1])\n"
	    "assert z.testzip() is None\n"
	    "print(','.join(sorted(z.namelist())))\n", (char *)zip, NULL };
	struct buf out = { 0 }, err = { 0 };
	int r = harness_run(argv, NULL, NULL, &out, &err, 30000);

	buf_add_char(&out, '\0');
	buf_add_char(&err, '\0');
	harness_assert(h, r == 0, "python zipfile on %s: %d: %s", zip, r,
	    err.data);
	buf_free(&err);
	out.data[strcspn(out.data, "\n")] = '\0';
	return buf_steal(&out);
}

struct artifacts_gone {
	const char	*id;
	const char	*file;
};

static int
artifacts_gone_cb(struct harness *h, void *arg)
{
	struct artifacts_gone *g = arg;
	char *n = harness_sql(h, "SELECT count(*) FROM artifacts WHERE id = "
	    "$1::bigint", g->id, NULL);
	int gone = strcmp(n, "0") == 0 && access(g->file, F_OK) == -1;

	free(n);
	return gone;
}

static void
artifacts_write(struct harness *h, const char *path, const struct buf *b)
{
	FILE *f = fopen(path, "wb");

	harness_assert(h, f != NULL, "%s", path);
	harness_assert(h, fwrite(b->data, 1, b->len, f) == b->len, "%s", path);
	fclose(f);
}

START_TEST(test_artifacts_upload_download_http_expiry)
{
	struct harness *h = harness_new("artifacts");
	struct harness_repo *repo;
	struct harness_resp r;
	struct buf out = { 0 }, err = { 0 };
	struct artifacts_gone g;
	json_t *run, *list;
	char *sha, *log, *id, *n, *path, *zip, *zip2, *members, *file;
	int rc;

	harness_conf_add(h, "[web]\naccess = public\n[github]\npublic_url = "
	    "https://ci.example.org/\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/artifacts");
	harness_repo_write(repo, ".github/workflows/a.yml", artifacts_workflow);
	sha = harness_push(h, repo, "main", "artifacts");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "success");
	/* The zips were made and read in children: no worker maps libarchive. */
	{
		pid_t pids[8];
		int i, nw = harness_workers(h, pids, (int)nitems(pids));

		harness_assert(h, nw > 0, "no workers");
		for (i = 0; i < nw; i++)
			harness_assert(h, !harness_maps_have(pids[i], "libarchive"),
			    "worker %ld has libarchive mapped", (long)pids[i]);
	}

	/* The upload: outputs, immutability, overwrite. */
	log = harness_job_log(h, run, "up");
	id = harness_sql(h, "SELECT id FROM artifacts WHERE name = 'bundle'",
	    NULL);
	n = xasprintf("ID=[%s] URL=[https://ci.example.org/api/v1/artifacts/"
	    "%s/zip]", id, id);
	harness_expect_contains(h, log, "the outputs", n);
	free(n);
	harness_expect_contains(h, log, "two lines' files, relative to their "
	    "common ancestor", "there will be 2 file(s) uploaded");
	harness_expect_contains(h, log, "a second upload of a name",
	    "an artifact named \"bundle\" already exists in this run");
	harness_expect_contains(h, log, "its step failed", "AGAIN=failure");
	free(log);

	/* The download, by name, by pattern merged and not. */
	log = harness_job_log(h, run, "down");
	harness_expect_contains(h, log, "members of the bundle",
	    "FILES=[./a.txt ./sub/b.txt ]");
	harness_expect_contains(h, log, "their contents", "A=alpha B=beta");
	/*
	 * part-2 (out/s?b/b.tx?) is relative to its search path, out, as
	 * GitHub makes it.
	 */
	harness_expect_contains(h, log, "merge-multiple",
	    "MERGED=[./a.txt ./sub/b.txt ]");
	harness_expect_contains(h, log, "one directory per artifact",
	    "SEP=[./part-1/a.txt ./part-2/sub/b.txt ]");
	harness_expect_contains(h, log, "overwrite replaced it",
	    "OW=[./extra.log ]");
	harness_expect_contains(h, log, "include-hidden-files",
	    "DOTS=[./.dot/d.txt ./a.txt ./sub/.hidden ./sub/b.txt "
	    "./sub/skip/c.txt ]");
	harness_assert(h, strstr(log, "DP=[/") != NULL && strstr(log,
	    "/got]") != NULL, "download-path:\n%s", log);
	free(log);

	/* Refusals, each naming why. */
	log = harness_job_log(h, run, "bad");
	harness_expect_contains(h, log, "'../x' refused", "the artifact name "
	    "is not valid: \"../x\" contains a forward slash");
	harness_expect_contains(h, log, "'a/b' refused", "the artifact name "
	    "is not valid: \"a/b\" contains a forward slash");
	harness_expect_contains(h, log, "if-no-files-found: error",
	    "##[error]No files were found with the provided path: "
	    "nothing/here");
	harness_expect_contains(h, log, "if-no-files-found: warn",
	    "##[warning]No files were found");
	/* cyc/self is skipped (a cycle), cyc/up (the workspace) walked. */
	harness_expect_contains(h, log, "symbolic link cycles end",
	    "there will be 2 file(s) uploaded");
	harness_expect_contains(h, log, "a missing name", "Artifact not "
	    "found for name: no-such");
	harness_expect_contains(h, log, "the outcomes",
	    "OUT=failure,failure,failure,success,failure");
	free(log);
	n = harness_sql(h, "SELECT string_agg(name, ',' ORDER BY name) FROM "
	    "artifacts", NULL);
	harness_assert(h, strcmp(n, "bundle,cycle,dots,ow,part-1,part-2") == 0,
	    "artifacts stored: %s", n);
	free(n);
	n = harness_sql(h, "SELECT expires_at - created_at BETWEEN "
	    "interval '4 days 23 hours' AND interval '5 days 1 hour' FROM "
	    "artifacts WHERE name = 'bundle'", NULL);
	harness_assert(h, strcmp(n, "t") == 0, "retention-days 5 not kept");
	free(n);

	/* cictl artifacts RUN --json lists them. */
	n = harness_sql(h, "SELECT run_id FROM artifacts WHERE id = "
	    "$1::bigint", id, NULL);
	list = harness_cictl_json(h, "artifacts", n, "--json", NULL);
	harness_assert(h, json_array_size(json_object_get(list,
	    "artifacts")) == 6, "cictl artifacts --json: %zu",
	    json_array_size(json_object_get(list, "artifacts")));
	json_decref(list);
	rc = harness_cictl(h, &out, &err, "artifacts", n, NULL);
	buf_add_char(&out, '\0');
	harness_assert(h, rc == 0 && strstr(out.data, "bundle") != NULL &&
	    strstr(out.data, "part-2") != NULL, "cictl artifacts: %d\n%s",
	    rc, out.data);
	buf_free(&out);
	buf_free(&err);

	/* The zip over HTTP and through cictl: the same bytes, members. */
	path = xasprintf("/api/v1/artifacts/%s/zip", id);
	harness_http(h, "GET", path, NULL, NULL, 0, &r);
	harness_assert(h, r.status == 200, "GET %s: %ld", path, r.status);
	zip = xasprintf("%s/http.zip", h->dir);
	artifacts_write(h, zip, &r.body);
	members = artifacts_members(h, zip);
	harness_assert(h, strcmp(members, "a.txt,sub/b.txt") == 0,
	    "members over HTTP: %s", members);
	free(members);
	zip2 = xasprintf("%s/cictl.zip", h->dir);
	rc = harness_cictl(h, NULL, &err, "artifacts", "download", id, "-o",
	    zip2, NULL);
	buf_add_char(&err, '\0');
	harness_assert(h, rc == 0, "cictl artifacts download: %s", err.data);
	buf_free(&err);
	members = artifacts_members(h, zip2);
	harness_assert(h, strcmp(members, "a.txt,sub/b.txt") == 0,
	    "members through cictl: %s", members);
	free(members);
	harness_resp_free(&r);
	free(path);
	harness_http(h, "GET", "/api/v1/artifacts/999999/zip", NULL, NULL, 0,
	    &r);
	harness_assert(h, r.status == 404, "an unknown artifact: %ld",
	    r.status);
	harness_resp_free(&r);

	/* Expiry: kilnd's sweep deletes the row, then the file. */
	file = xasprintf("%s/artifacts/%s/%s.zip", h->state_dir, n, id);
	harness_assert(h, access(file, F_OK) == 0, "no file %s", file);
	free(harness_sql(h, "UPDATE artifacts SET expires_at = now() - "
	    "interval '1 second' WHERE id = $1::bigint", id, NULL));
	g.id = id;
	g.file = file;
	harness_assert(h, harness_wait_for(h, 30000, artifacts_gone_cb, &g),
	    "the expired artifact %s is still there", id);

	/*
	 * run-id: a later run reads the first run's part-1; another
	 * repository's run, another repository's name and a bad id are
	 * refused, each saying why.
	 */
	{
		struct harness_repo *other = harness_repo_new(h,
		    "octo/elsewhere");
		char *osha, *orun, *yml, *p;
		json_t *r2;

		harness_repo_write(other, ".github/workflows/o.yml",
		    "name: o\non: push\njobs:\n  up:\n    runs-on: "
		    "self-hosted\n    steps:\n      - run: echo secret > s\n"
		    "      - uses: actions/upload-artifact@v4\n"
		    "        with: { name: part-1, path: s }\n");
		osha = harness_push(h, other, "main", "theirs");
		json_decref(harness_wait_run(h, osha, NULL, RUN_MS));
		orun = harness_sql(h, "SELECT id FROM runs WHERE head_sha = $1",
		    osha, NULL);
		yml = xasprintf(
		    "name: a\n"
		    "on: push\n"
		    "jobs:\n"
		    "  later:\n"
		    "    runs-on: self-hosted\n"
		    "    steps:\n"
		    "      - uses: actions/download-artifact@v4\n"
		    "        with: { name: part-1, run-id: '%s', path: got,\n"
		    "                github-token: unused }\n"
		    "      - run: echo \"EARLIER=$(cat got/a.txt)\"\n"
		    "      - id: theirs\n"
		    "        continue-on-error: true\n"
		    "        uses: actions/download-artifact@v4\n"
		    "        with: { name: part-1, run-id: '%s', path: t }\n"
		    "      - id: elsewhere\n"
		    "        continue-on-error: true\n"
		    "        uses: actions/download-artifact@v4\n"
		    "        with: { run-id: '%s', repository: octo/elsewhere }\n"
		    "      - id: notanid\n"
		    "        continue-on-error: true\n"
		    "        uses: actions/download-artifact@v4\n"
		    "        with: { run-id: 12abc }\n"
		    "      - run: echo \"REFUSED=${{ steps.theirs.outcome }},"
		    "${{ steps.elsewhere.outcome }},${{ steps.notanid.outcome "
		    "}}\"; test ! -e t\n", n, orun, n);
		harness_repo_write(repo, ".github/workflows/a.yml", yml);
		free(sha);
		sha = harness_push(h, repo, "main", "an earlier run's");
		r2 = harness_wait_run(h, sha, NULL, RUN_MS);
		harness_expect_str(h, r2, "run", "conclusion", "success");
		log = harness_job_log(h, r2, "later");
		harness_expect_contains(h, log, "the earlier run's artifact",
		    "EARLIER=alpha\n");
		p = xasprintf("run-id %s: octo/artifacts has no run with that "
		    "id", orun);
		harness_expect_contains(h, log, "another repository's run", p);
		free(p);
		harness_expect_contains(h, log, "another repository's name",
		    "repository \"octo/elsewhere\": kiln downloads artifacts "
		    "of this repository's runs only (octo/artifacts)");
		harness_expect_contains(h, log, "not an id", "run-id: expected "
		    "a run's id (a positive integer), got \"12abc\"");
		harness_expect_contains(h, log, "all three failed",
		    "REFUSED=failure,failure,failure\n");
		free(log);
		json_decref(r2);
		free(yml);
		free(orun);
		free(osha);
		harness_repo_free(other);
	}

	free(file);
	free(zip);
	free(zip2);
	free(n);
	free(id);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static const char artifacts_user_workflow[] =
    "name: u\n"
    "on: push\n"
    "jobs:\n"
    "  up:\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - run: mkdir -p d/e && echo one > d/e/f.txt && chmod 600 "
    "d/e/f.txt\n"
    "      - uses: actions/upload-artifact@v4\n"
    "        with: { name: mine, path: d }\n"
    "      - run: test \"$GITHUB_RUN_ATTEMPT\" -ge 2\n"
    "  down:\n"
    "    needs: up\n"
    "    runs-on: self-hosted\n"
    "    steps:\n"
    "      - uses: actions/download-artifact@v4\n"
    "        with: { path: all }\n"
    "      - run: echo \"GOT=$(cat all/mine/e/f.txt) OWNER=$(stat -c %u "
    "all/mine/e/f.txt)/$(id -u)\"\n";

struct artifacts_attempt {
	const json_t	*id;
	json_t		*run;		/* the last `show`, owned */
};

static int
artifacts_attempt2_cb(struct harness *h, void *arg)
{
	struct artifacts_attempt *w = arg;
	const char *status;

	json_decref(w->run);
	w->run = harness_show(h, w->id);
	status = harness_str(w->run, "status");
	return json_integer_value(json_object_get(w->run, "run_attempt")) ==
	    2 && status != NULL && strcmp(status, "completed") == 0;
}

/*
 * With run_as, the files are read and written as the steps' account (a
 * 0600 file of theirs is uploaded; the download belongs to them), the
 * store stays the worker's.  The uploading job fails on attempt 1; its
 * re-run uploads the same name again, replacing attempt 1's (as a re-run
 * works on GitHub).  Under [web] access = token the zip needs a token
 * like the run page does.
 */
START_TEST(test_artifacts_as_run_as_behind_token)
{
	struct harness *h = harness_new("artifacts_run_as");
	struct passwd *pw = getpwnam("nobody");
	struct harness_repo *repo;
	struct harness_resp r;
	struct buf out = { 0 }, err = { 0 };
	const char *hdrs[2] = { NULL, NULL };
	char *sha, *log, *id, *want, *path, *tok, *bearer, *run_id, *first,
	    *n, idtext[32];
	struct artifacts_attempt wait;
	json_t *run;

	harness_assert(h, pw != NULL, "no account nobody");
	harness_assert(h, geteuid() == 0, "this test needs root (run_as)");
	harness_conf_add(h, "run_as = nobody\n");
	harness_start(h);
	repo = harness_repo_new(h, "octo/artuser");
	harness_repo_write(repo, ".github/workflows/u.yml",
	    artifacts_user_workflow);
	sha = harness_push(h, repo, "main", "artifacts as nobody");
	run = harness_wait_run(h, sha, NULL, RUN_MS);
	harness_expect_str(h, run, "run", "conclusion", "failure");
	first = harness_sql(h, "SELECT id FROM artifacts WHERE name = 'mine' "
	    "AND run_attempt = 1", NULL);
	harness_assert(h, first[0] != '\0', "attempt 1 uploaded nothing");
	snprintf(idtext, sizeof idtext, "%lld", (long long)json_integer_value(
	    json_object_get(run, "id")));
	harness_assert(h, harness_cictl(h, &out, &err, "rerun", idtext,
	    "--failed", NULL) == 0, "cictl rerun");
	buf_free(&out);
	buf_free(&err);
	wait.id = json_object_get(run, "id");
	wait.run = NULL;
	harness_assert(h, harness_wait_for(h, RUN_MS, artifacts_attempt2_cb,
	    &wait), "attempt 2 never completed: %s",
	    harness_json_text(wait.run));
	json_decref(run);
	run = wait.run;
	harness_expect_str(h, run, "run", "conclusion", "success");
	log = harness_job_log(h, run, "up");
	harness_assert(h, strstr(log, "already exists") == NULL, "the re-run "
	    "could not upload again:\n%s", log);
	free(log);
	n = harness_sql(h, "SELECT count(*) || '/' || max(run_attempt) || '/' "
	    "|| bool_and(id <> $1::bigint) FROM artifacts WHERE name = 'mine'",
	    first, NULL);
	harness_assert(h, strcmp(n, "1/2/true") == 0, "after the re-run: %s",
	    n);
	free(n);
	n = xasprintf("%s/artifacts/%s/%s.zip", h->state_dir, idtext, first);
	harness_assert(h, access(n, F_OK) == -1, "attempt 1's zip %s is "
	    "still there", n);
	free(n);
	free(first);
	log = harness_job_log(h, run, "down");
	want = xasprintf("GOT=one OWNER=%ld/%ld", (long)pw->pw_uid,
	    (long)pw->pw_uid);
	harness_expect_contains(h, log, "extracted as the steps' account",
	    want);
	free(want);
	free(log);

	/* The page's rules: no token, no zip; a read token reads it. */
	id = harness_sql(h, "SELECT id FROM artifacts WHERE name = 'mine'",
	    NULL);
	run_id = harness_sql(h, "SELECT run_id FROM artifacts WHERE name = "
	    "'mine'", NULL);
	path = xasprintf("/api/v1/artifacts/%s/zip", id);
	harness_http(h, "GET", path, NULL, NULL, 0, &r);
	harness_assert(h, r.status == 401, "the zip without a token: %ld",
	    r.status);
	harness_resp_free(&r);
	free(path);
	path = xasprintf("/api/v1/runs/%s/artifacts", run_id);
	harness_http(h, "GET", path, NULL, NULL, 0, &r);
	harness_assert(h, r.status == 401, "the list without a token: %ld",
	    r.status);
	harness_resp_free(&r);
	harness_assert(h, harness_cictl(h, &out, &err, "token", "create",
	    "reader", "--scope", "read", NULL) == 0, "token create");
	buf_add_char(&out, '\0');
	tok = xstrndup(out.data, strcspn(out.data, "\n"));
	bearer = xasprintf("Authorization: Bearer %s", tok);
	hdrs[0] = bearer;
	harness_http(h, "GET", path, hdrs, NULL, 0, &r);
	buf_add_char(&r.body, '\0');
	harness_assert(h, r.status == 200 && strstr(r.body.data,
	    "\"mine\"") != NULL, "the list with a token: %ld %s",
	    r.status, r.body.data);
	harness_resp_free(&r);
	free(path);
	path = xasprintf("/api/v1/artifacts/%s/zip", id);
	harness_http(h, "GET", path, hdrs, NULL, 0, &r);
	harness_assert(h, r.status == 200 && r.body.len > 0, "the zip with a "
	    "token: %ld", r.status);
	harness_resp_free(&r);

	free(path);
	free(bearer);
	free(tok);
	buf_free(&out);
	buf_free(&err);
	free(run_id);
	free(id);
	json_decref(run);
	free(sha);
	harness_repo_free(repo);
	harness_stop(h);
	harness_free(h);
}
END_TEST

static Suite *
artifacts_suite(void)
{
	Suite *s = suite_create("artifacts");
	TCase *tc = tcase_create("artifacts");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_artifacts_upload_download_http_expiry);
	tcase_add_test(tc, test_artifacts_as_run_as_behind_token);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(artifacts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
