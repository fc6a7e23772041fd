/*
 * pyfetch: actions/setup-python's download of a Python build that is not
 * on the runner, as GitHub's action does on a self-hosted runner.
 *
 * The manifest ([actions] python_versions_url, by default GitHub's
 * actions/python-versions versions-manifest.json) lists releases:
 *   [{"version": "3.12.1", "stable": true, "files": [{"filename": ...,
 *     "platform": "linux", "platform_version": "22.04", "arch": "x64",
 *     "download_url": ..., "sha256": ... (optional)}, ...]}, ...]
 * The newest stable release matching the requested version is taken, and
 * of its files one for platform "linux", arch "x64" by this rule: on an
 * Ubuntu host the build for its own VERSION_ID (what the action does);
 * elsewhere (Debian 12) the 22.04 build, else the oldest Ubuntu build
 * offered -- an older glibc baseline runs on a newer host (22.04's glibc
 * 2.35 on Debian 12's 2.36; 24.04's needs 2.39).  The tarball is fetched
 * with libcurl, checked against "sha256" when the manifest gives one,
 * unpacked with libarchive (no absolute or ".." names, nothing through a
 * symbolic link) into a scratch directory of the tool cache, and its own
 * setup.sh is run there with bash, as the action does: it copies the
 * build to <tool_cache>/Python/<version>/x64 and marks x64.complete
 * (made here if setup.sh did not).  All of this runs as the steps'
 * account when there is one (isolate.c), never as root.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "actions.h"
#include "archive_dl.h"
#include "spawn.h"
#include "util.h"

#define PF_MANIFEST_MAX		(64 * 1024 * 1024)
#define PF_TARBALL_MAX		(1024LL * 1024 * 1024)
#define PF_EXTRACT_MAX		(4LL * 1024 * 1024 * 1024)
#define PF_ENTRIES_MAX		200000
#define PF_SETUP_MS		(15 * 60 * 1000)

struct pf_sink {
	struct buf	*mem;		/* into memory, or */
	FILE		*file;		/* into a file */
	EVP_MD_CTX	*md;		/* digest of what was written, or NULL */
	long long	 got, max;
};

static size_t
pf_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct pf_sink *s = arg;
	size_t len = size * n;

	if (s->got + (long long)len > s->max)
		return 0;	/* too big: curl fails the transfer */
	s->got += (long long)len;
	if (s->md != NULL)
		EVP_DigestUpdate(s->md, data, len);
	if (s->mem != NULL)
		buf_add(s->mem, data, len);
	else if (fwrite(data, 1, len, s->file) != len)
		return 0;
	return len;
}

/* GET url into s; -1 with err naming the url. */
static int
pf_get(const char *url, struct pf_sink *s, char *err, size_t errsz)
{
	char cerr[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	long code = 0;
	CURL *c;

	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errsz, "%s: curl_easy_init failed", url);
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A stalled transfer: under 1 kB/s for a minute. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln-setup-python");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pf_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(err, errsz, "%s: %s", url, s->got > s->max ?
		    "too large" : cerr[0] ? cerr : curl_easy_strerror(rc));
		return -1;
	}
	if (code != 0 && (code < 200 || code > 299)) {
		snprintf(err, errsz, "%s: HTTP %ld", url, code);
		return -1;
	}
	return 0;
}

/* "3.12.1" (or "3.13.0-rc.1": not wanted) into v; -1 if not plain. */
static int
pf_version(const char *s, int v[3])
{
	int n = 0;

	if (s == NULL || sscanf(s, "%d.%d.%d%n", &v[0], &v[1], &v[2], &n) != 3)
		return -1;
	return s[n] == '\0' ? 0 : -1;
}

static int
pf_matches(const int v[3], const int want[3])
{
	int i;

	for (i = 0; i < 3; i++)
		if (want[i] != -1 && v[i] != want[i])
			return 0;
	return 1;
}

/* The host's /etc/os-release ID and VERSION_ID ("" when absent). */
static void
pf_os_release(char *id, size_t idsz, char *ver, size_t versz)
{
	char *text = file_read_all("/etc/os-release", 65536, NULL), *line, *v;

	id[0] = ver[0] = '\0';
	for (line = text ? strtok(text, "\n") : NULL; line != NULL;
	    line = strtok(NULL, "\n")) {
		char *dst = NULL;
		size_t dsz = 0;

		if (strncmp(line, "ID=", 3) == 0) {
			dst = id;
			dsz = idsz;
			v = line + 3;
		} else if (strncmp(line, "VERSION_ID=", 11) == 0) {
			dst = ver;
			dsz = versz;
			v = line + 11;
		} else
			continue;
		v += strspn(v, "\"'");
		v[strcspn(v, "\"'")] = '\0';
		snprintf(dst, dsz, "%s", v);
	}
	free(text);
}

/* The linux x64 file of a release by the rule above, or NULL. */
static json_t *
pf_pick_file(json_t *files, const char *os_id, const char *os_ver)
{
	json_t *f, *best = NULL;
	size_t i;

	json_array_foreach(files, i, f) {
		const char *pf = json_string_value(json_object_get(f,
		    "platform"));
		const char *arch = json_string_value(json_object_get(f, "arch"));
		const char *pv = json_string_value(json_object_get(f,
		    "platform_version"));

		if (pf == NULL || arch == NULL || strcmp(pf, "linux") != 0 ||
		    strcmp(arch, "x64") != 0 || !json_is_string(json_object_get(f,
		    "download_url")))
			continue;
		if (pv == NULL)
			pv = "";
		if (strcmp(os_id, "ubuntu") == 0) {
			if (strcmp(pv, os_ver) == 0)
				return f;
			continue;
		}
		if (strcmp(pv, "22.04") == 0)
			return f;
		if (best == NULL || strtod(pv, NULL) < strtod(json_string_value(
		    json_object_get(best, "platform_version")) ?
		    json_string_value(json_object_get(best,
		    "platform_version")) : "", NULL))
			best = f;
	}
	return best;
}

/* Is name a relative path without "..", as an archive entry must be? */
static int
pf_safe_name(const char *name)
{
	const char *p = name;

	if (name == NULL || name[0] == '/' || name[0] == '\0')
		return 0;
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += n;
		p += strspn(p, "/");
	}
	return 1;
}

/* Unpack tarball into dir (which exists). */
static int
pf_extract(const char *tarball, const char *dir, char *err, size_t errsz)
{
	struct archive *a, *out;
	struct archive_entry *e;
	long long total = 0;
	long entries = 0;
	int r, rc = -1;

	/* In the worker itself when setup-python runs there (no run_as). */
	if (archive_dl_load(err, errsz) == -1)
		return -1;
	a = AR(archive_read_new)();
	out = AR(archive_write_disk_new)();
	AR(archive_read_support_filter_all)(a);
	AR(archive_read_support_format_tar)(a);
	AR(archive_write_disk_set_options)(out, ARCHIVE_EXTRACT_TIME |
	    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	if (AR(archive_read_open_filename)(a, tarball, 65536) != ARCHIVE_OK) {
		snprintf(err, errsz, "%s: %s", tarball, AR(archive_error_string)(a));
		goto out;
	}
	while ((r = AR(archive_read_next_header)(a, &e)) == ARCHIVE_OK) {
		const char *name = AR(archive_entry_pathname)(e);
		const char *link = AR(archive_entry_hardlink)(e);
		const void *block;
		size_t len;
		la_int64_t off;
		char *path;

		if (++entries > PF_ENTRIES_MAX) {
			snprintf(err, errsz, "%s: more than %d entries", tarball,
			    PF_ENTRIES_MAX);
			goto out;
		}
		if (!pf_safe_name(name) || (link != NULL &&
		    !pf_safe_name(link))) {
			snprintf(err, errsz, "%s: refusing entry \"%s\"", tarball,
			    name ? name : "");
			goto out;
		}
		path = xasprintf("%s/%s", dir, name);
		AR(archive_entry_set_pathname)(e, path);
		free(path);
		if (link != NULL) {
			path = xasprintf("%s/%s", dir, link);
			AR(archive_entry_set_hardlink)(e, path);
			free(path);
		}
		if (AR(archive_write_header)(out, e) != ARCHIVE_OK) {
			snprintf(err, errsz, "%s: %s", tarball,
			    AR(archive_error_string)(out));
			goto out;
		}
		while ((r = AR(archive_read_data_block)(a, &block, &len, &off)) ==
		    ARCHIVE_OK) {
			total += (long long)len;
			if (total > PF_EXTRACT_MAX) {
				snprintf(err, errsz, "%s: unpacks to more than "
				    "%lld bytes", tarball, PF_EXTRACT_MAX);
				goto out;
			}
			if (AR(archive_write_data_block)(out, block, len, off) !=
			    ARCHIVE_OK) {
				snprintf(err, errsz, "%s: %s", tarball,
				    AR(archive_error_string)(out));
				goto out;
			}
		}
		if (r != ARCHIVE_EOF) {
			snprintf(err, errsz, "%s: %s", tarball,
			    AR(archive_error_string)(a));
			goto out;
		}
		if (AR(archive_write_finish_entry)(out) != ARCHIVE_OK) {
			snprintf(err, errsz, "%s: %s", tarball,
			    AR(archive_error_string)(out));
			goto out;
		}
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errsz, "%s: %s", tarball, AR(archive_error_string)(a));
		goto out;
	}
	rc = 0;
out:
	AR(archive_read_free)(a);
	AR(archive_write_free)(out);
	return rc;
}

/* Run the build's setup.sh in dir with bash, its output to the log. */
static int
pf_setup(const struct action_env *env, const char *cache, const char *dir,
    char *err, size_t errsz)
{
	const char *path = NULL;
	char *bash, **envp, **envp2, *out, why[256];
	char *argv[3];
	struct spawn_spec s;
	size_t i;
	int status;

	for (i = 0; env->envp != NULL && env->envp[i] != NULL; i++)
		if (strncmp(env->envp[i], "PATH=", 5) == 0)
			path = env->envp[i] + 5;
	if ((bash = spawn_path_find("bash", path)) == NULL)
		bash = xstrdup("/bin/bash");
	argv[0] = bash;
	argv[1] = (char *)"./setup.sh";
	argv[2] = NULL;
	envp = spawn_env_with(env->envp, "RUNNER_TOOL_CACHE", cache);
	envp2 = spawn_env_with(envp, "AGENT_TOOLSDIRECTORY", cache);
	spawn_env_free(envp);
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.envp = envp2;
	s.dir = dir;
	s.fd_in = -1;
	s.fd_err = -2;
	out = xmalloc(65536);
	status = spawn_capture(&s, out, 65536, PF_SETUP_MS, err, errsz);
	spawn_env_free(envp2);
	free(bash);
	if (status != -1)
		env->log(env->log_arg, out);
	free(out);
	if (status == -1)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		spawn_status_text(status, why, sizeof why);
		snprintf(err, errsz, "%s/setup.sh failed, %s", dir, why);
		return -1;
	}
	return 0;
}

static int
pf_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

int
pyfetch_install(const struct action_env *env, const char *cache,
    const int want[3], char *ver, size_t versz, char *err, size_t errsz)
{
	struct buf manifest = { 0 };
	struct pf_sink sink;
	json_t *root = NULL, *rel, *best = NULL, *file;
	int best_v[3] = { -1, -1, -1 }, v[3];
	char os_id[64], os_ver[64], digest_hex[2 * EVP_MAX_MD_SIZE + 1];
	char *scratch = NULL, *tarball = NULL, *marker = NULL, *py = NULL;
	const char *url, *sha;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	FILE *f = NULL;
	size_t i;
	int rc = -1;

	memset(&sink, 0, sizeof sink);
	sink.mem = &manifest;
	sink.max = PF_MANIFEST_MAX;
	if (pf_get(env->versions_url, &sink, err, errsz) == -1)
		goto out;
	if ((root = json_loadb(manifest.data ? manifest.data : "",
	    manifest.len, 0, NULL)) == NULL || !json_is_array(root)) {
		snprintf(err, errsz, "%s: not a versions manifest (a JSON array)",
		    env->versions_url);
		goto out;
	}
	pf_os_release(os_id, sizeof os_id, os_ver, sizeof os_ver);
	json_array_foreach(root, i, rel) {
		if (json_is_false(json_object_get(rel, "stable")) ||
		    pf_version(json_string_value(json_object_get(rel,
		    "version")), v) == -1 || !pf_matches(v, want) ||
		    pf_pick_file(json_object_get(rel, "files"), os_id,
		    os_ver) == NULL)
			continue;
		if (best == NULL || v[0] > best_v[0] || (v[0] == best_v[0] &&
		    (v[1] > best_v[1] || (v[1] == best_v[1] && v[2] > best_v[2])))) {
			best = rel;
			memcpy(best_v, v, sizeof v);
		}
	}
	if (best == NULL) {
		snprintf(err, errsz, "%s lists no stable linux x64 build of it "
		    "for this host (%s %s)", env->versions_url,
		    os_id[0] ? os_id : "unknown", os_ver);
		goto out;
	}
	snprintf(ver, versz, "%d.%d.%d", best_v[0], best_v[1], best_v[2]);
	file = pf_pick_file(json_object_get(best, "files"), os_id, os_ver);
	url = json_string_value(json_object_get(file, "download_url"));
	sha = json_string_value(json_object_get(file, "sha256"));

	/* Scratch space in the cache itself: same file system, same owner. */
	scratch = xasprintf("%s/.kiln-download-%s-XXXXXX", cache, ver);
	if (mkdir_p(cache, 0755) == -1 || mkdtemp(scratch) == NULL) {
		snprintf(err, errsz, "creating %s: %s", scratch, strerror(errno));
		free(scratch);
		scratch = NULL;
		goto out;
	}
	tarball = xasprintf("%s/python.tar.gz", scratch);
	if ((f = fopen(tarball, "we")) == NULL) {
		snprintf(err, errsz, "%s: %s", tarball, strerror(errno));
		goto out;
	}
	memset(&sink, 0, sizeof sink);
	sink.file = f;
	sink.max = PF_TARBALL_MAX;
	sink.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(sink.md, EVP_sha256(), NULL);
	{
		char line[1024];

		snprintf(line, sizeof line, "Downloading Python %s from %s\n",
		    ver, url);
		env->log(env->log_arg, line);
	}
	if (pf_get(url, &sink, err, errsz) == -1) {
		EVP_MD_CTX_free(sink.md);
		goto out;
	}
	EVP_DigestFinal_ex(sink.md, md, &mdlen);
	EVP_MD_CTX_free(sink.md);
	if (fclose(f) == EOF) {
		f = NULL;
		snprintf(err, errsz, "%s: %s", tarball, strerror(errno));
		goto out;
	}
	f = NULL;
	hex_encode(md, mdlen, digest_hex);
	if (sha != NULL && strcasecmp(sha, digest_hex) != 0) {
		snprintf(err, errsz, "%s: sha256 %s, the manifest says %s", url,
		    digest_hex, sha);
		goto out;
	}
	if (pf_extract(tarball, scratch, err, errsz) == -1)
		goto out;
	unlink(tarball);
	if (pf_setup(env, cache, scratch, err, errsz) == -1)
		goto out;
	py = xasprintf("%s/Python/%s/x64/bin/python3", cache, ver);
	if (access(py, X_OK) == -1) {
		snprintf(err, errsz, "%s/setup.sh made no %s", url, py);
		goto out;
	}
	marker = xasprintf("%s/Python/%s/x64.complete", cache, ver);
	if (access(marker, F_OK) == -1 && (f = fopen(marker, "we")) != NULL) {
		fclose(f);
		f = NULL;
	}
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	if (scratch != NULL)
		nftw(scratch, pf_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
	json_decref(root);
	buf_free(&manifest);
	free(scratch);
	free(tarball);
	free(marker);
	free(py);
	return rc;
}
