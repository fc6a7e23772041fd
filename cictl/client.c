/*
 * client: HTTP/1.1 to kilnd over the admin Unix socket, with libcurl's easy
 * interface.  cictl makes one request and exits, so blocking is fine; what
 * matters is that nothing waits forever (connect and total timeouts, or a
 * stall timeout while streaming a log) and nothing grows without bound
 * (CICTL_MAX_BODY for JSON answers; logs go straight to the output).
 *
 * Every failure becomes one line for "cictl: ...": a transport error names
 * the socket ("cannot connect to kilnd at PATH: REASON"), an API error
 * carries the server's {"error": ...} text, escaped, because even kilnd's
 * words may quote a stranger's branch name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cictl.h"

/* Where the body of an answer goes. */
struct sink {
	CURL		*curl;
	struct buf	*buf;		/* collect mode: bounded by max */
	size_t		 max;
	FILE		*out;		/* stream mode: 2xx bodies go here */
	int		 decided;	/* stream mode: status looked at */
	int		 streaming;	/* stream mode: status was 2xx */
	int		 too_big;
	int		 write_failed;
	int		 write_errno;
};

static size_t
client_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;	/* curl guarantees size == 1 */
	long code = 0;

	if (s->out != NULL && !s->decided) {
		/* Headers are complete before the first body byte. */
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
		s->streaming = code >= 200 && code < 300;
		s->decided = 1;
	}
	if (s->streaming) {
		if (n > 0 && fwrite(p, 1, n, s->out) != n) {
			s->write_failed = 1;
			s->write_errno = errno;
			return 0;	/* abort the transfer */
		}
		return n;
	}
	if (s->buf->len + n > s->max) {
		s->too_big = 1;
		return 0;
	}
	buf_add(s->buf, p, n);
	return n;
}

/* The socket path, shown safely in a one-line message. */
static const char *
client_sock_name(const struct cictl_ctx *ctx, char *out, size_t outsz)
{
	return output_safe(ctx->socket_path, 256, out, outsz);
}

/* Append to a header list; on failure the list is left as it was. */
static int
client_add_header(struct curl_slist **list, const char *h)
{
	struct curl_slist *l;

	if ((l = curl_slist_append(*list, h)) == NULL)
		return -1;
	*list = l;
	return 0;
}

/* Options every transfer shares, for the socket and for --url. */
static void
client_common_opts(const struct cictl_ctx *ctx, CURL *curl, struct sink *sink,
    const char *method, const char *body, size_t bodylen,
    struct curl_slist *hdrs, char *errbuf)
{
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "cictl/" KILN_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, client_write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	    ctx->connect_timeout_ms);
	if (sink->out != NULL) {
		/* A log may be large: no total limit, but no endless stall. */
		curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
		    ctx->stall_timeout_s);
	} else
		curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ctx->timeout_ms);
	if (strcmp(method, "GET") != 0) {
		if (strcmp(method, "POST") == 0)
			curl_easy_setopt(curl, CURLOPT_POST, 1L);
		else
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body != NULL ? body :
		    "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(body != NULL ? bodylen : 0));
	}
}

/*
 * --url: the remote admin API ([admin] listen) over HTTPS (or HTTP on
 * loopback), with the token as a bearer credential.  Certificates are
 * verified, against --cacert when given.
 */
static int
client_perform_url(const struct cictl_ctx *ctx, const char *method,
    const char *path, const char *body, size_t bodylen, struct sink *sink,
    long *status, char *err, size_t errsz)
{
	char errbuf[CURL_ERROR_SIZE], where[300], *url, *authz = NULL;
	struct curl_slist *hdrs = NULL;
	CURL *curl;
	CURLcode rc;
	int ret = -1;

	output_safe(ctx->url, 200, where, sizeof where);
	if ((curl = curl_easy_init()) == NULL) {
		snprintf(err, errsz, "cannot initialise libcurl");
		return -1;
	}
	sink->curl = curl;
	url = xasprintf("%s%s", ctx->url, path);
	errbuf[0] = '\0';
	if (ctx->token != NULL)
		authz = xasprintf("Authorization: Bearer %s", ctx->token);
	if (client_add_header(&hdrs, "Accept: application/json") == -1 ||
	    client_add_header(&hdrs, "Expect:") == -1 ||
	    (authz != NULL && client_add_header(&hdrs, authz) == -1) ||
	    (body != NULL && client_add_header(&hdrs,
	    "Content-Type: application/json") == -1)) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (ctx->cacert != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, ctx->cacert);
	client_common_opts(ctx, curl, sink, method, body, bodylen, hdrs,
	    errbuf);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	if (rc == CURLE_OK)
		ret = 0;
	else if (rc == CURLE_WRITE_ERROR && sink->too_big)
		snprintf(err, errsz, "answer from kilnd larger than %zu bytes",
		    sink->max);
	else
		snprintf(err, errsz, "request to kilnd at %s failed: %s", where,
		    *errbuf != '\0' ? errbuf : curl_easy_strerror(rc));
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	if (authz != NULL) {
		explicit_bzero(authz, strlen(authz));
		free(authz);
	}
	free(url);
	return ret;
}

/*
 * Run one transfer.  Returns 0 when an answer arrived (any status), -1 with
 * a reason otherwise.
 */
static int
client_perform(const struct cictl_ctx *ctx, const char *method,
    const char *path, const char *body, size_t bodylen, struct sink *sink,
    long *status, char *err, size_t errsz)
{
	char errbuf[CURL_ERROR_SIZE], sock[1100];
	struct sockaddr_un sun;
	struct curl_slist *hdrs = NULL;
	CURL *curl;
	CURLcode rc;
	char *url;
	long oserr = 0;
	int ret = -1;

	*status = 0;
	if (ctx->url != NULL)
		return client_perform_url(ctx, method, path, body, bodylen,
		    sink, status, err, errsz);
	if (ctx->socket_path == NULL || *ctx->socket_path == '\0') {
		snprintf(err, errsz, "no admin socket configured");
		return -1;
	}
	client_sock_name(ctx, sock, sizeof sock);
	if (strlen(ctx->socket_path) >= sizeof sun.sun_path) {
		snprintf(err, errsz, "cannot connect to kilnd at %s: "
		    "socket path too long (max %zu bytes)", sock,
		    sizeof sun.sun_path - 1);
		return -1;
	}
	if ((curl = curl_easy_init()) == NULL) {
		snprintf(err, errsz, "cannot initialise libcurl");
		return -1;
	}
	sink->curl = curl;
	/* The host part is only for the Host header; the socket is the peer. */
	url = xasprintf("http://localhost%s", path);
	errbuf[0] = '\0';

	if (client_add_header(&hdrs, "Accept: application/json") == -1 ||
	    client_add_header(&hdrs, "Expect:") == -1 ||	/* no 100-continue */
	    (body != NULL && client_add_header(&hdrs,
	    "Content-Type: application/json") == -1)) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, ctx->socket_path);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");	/* ignore http_proxy */
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	client_common_opts(ctx, curl, sink, method, body, bodylen, hdrs,
	    errbuf);

	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	switch (rc) {
	case CURLE_OK:
		ret = 0;
		break;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &oserr);
		snprintf(err, errsz, "cannot connect to kilnd at %s: %s", sock,
		    oserr != 0 ? strerror((int)oserr) :
		    (*errbuf != '\0' ? errbuf : curl_easy_strerror(rc)));
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errsz, "kilnd at %s did not answer in time", sock);
		break;
	case CURLE_WRITE_ERROR:
		if (sink->too_big)
			snprintf(err, errsz, "answer from kilnd larger than "
			    "%zu bytes", sink->max);
		else if (sink->write_failed)
			snprintf(err, errsz, "write error: %s",
			    strerror(sink->write_errno != 0 ?
			    sink->write_errno : EIO));
		else
			snprintf(err, errsz, "write error");
		break;
	default:
		snprintf(err, errsz, "request to kilnd at %s failed: %s", sock,
		    *errbuf != '\0' ? errbuf : curl_easy_strerror(rc));
		break;
	}
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	free(url);
	return ret;
}

void
client_api_error(long status, const char *body, size_t len, char *err,
    size_t errsz)
{
	char safe[1024];
	json_error_t jerr;
	json_t *root, *msg;
	const char *nl;
	char *line;

	root = json_loadb(body, len, 0, &jerr);
	msg = json_is_object(root) ? json_object_get(root, "error") : NULL;
	if (json_is_string(msg) && *json_string_value(msg) != '\0') {
		output_safe(json_string_value(msg), 300, safe, sizeof safe);
		snprintf(err, errsz, "%s (HTTP %ld)", safe, status);
	} else if (root == NULL && len > 0) {
		/* Not JSON (a proxy's or a plain-text answer): its first line. */
		nl = memchr(body, '\n', len);
		line = xstrndup(body, nl != NULL ? (size_t)(nl - body) : len);
		output_safe(line, 200, safe, sizeof safe);
		free(line);
		snprintf(err, errsz, "kilnd answered HTTP %ld: %s", status, safe);
	} else
		snprintf(err, errsz, "kilnd answered HTTP %ld", status);
	json_decref(root);
}

int
client_request(const struct cictl_ctx *ctx, const char *method,
    const char *path, const char *body, size_t bodylen,
    struct client_response *resp, char *err, size_t errsz)
{
	struct sink sink;

	memset(resp, 0, sizeof *resp);
	memset(&sink, 0, sizeof sink);
	sink.buf = &resp->body;
	sink.max = CICTL_MAX_BODY;
	if (client_perform(ctx, method, path, body, bodylen, &sink,
	    &resp->status, err, errsz) == -1) {
		client_response_free(resp);
		return -1;
	}
	return 0;
}

void
client_response_free(struct client_response *resp)
{
	buf_free(&resp->body);
	resp->status = 0;
}

int
client_get_stream(const struct cictl_ctx *ctx, const char *path, FILE *out,
    char *err, size_t errsz)
{
	struct buf errbody = { 0 };
	struct sink sink;
	long status;
	int ret = -1;

	memset(&sink, 0, sizeof sink);
	sink.out = out;
	sink.buf = &errbody;
	sink.max = CICTL_MAX_ERRBODY;
	if (client_perform(ctx, "GET", path, NULL, 0, &sink, &status, err,
	    errsz) == -1)
		goto out;
	if (status < 200 || status >= 300) {
		client_api_error(status, errbody.data != NULL ? errbody.data : "",
		    errbody.len, err, errsz);
		goto out;
	}
	ret = 0;
out:
	buf_free(&errbody);
	return ret;
}

json_t *
client_json(const struct cictl_ctx *ctx, const char *method, const char *path,
    const char *body, size_t bodylen, long *status, struct buf *raw, char *err,
    size_t errsz)
{
	struct client_response resp;
	json_error_t jerr;
	json_t *root;
	char safe[256];

	if (client_request(ctx, method, path, body, bodylen, &resp, err,
	    errsz) == -1)
		return NULL;
	if (status != NULL)
		*status = resp.status;
	if (resp.status < 200 || resp.status >= 300) {
		client_api_error(resp.status,
		    resp.body.data != NULL ? resp.body.data : "", resp.body.len,
		    err, errsz);
		client_response_free(&resp);
		return NULL;
	}
	root = json_loadb(resp.body.data != NULL ? resp.body.data : "",
	    resp.body.len, 0, &jerr);
	if (root == NULL) {
		snprintf(err, errsz, "kilnd sent invalid JSON: %s",
		    output_safe(jerr.text, 120, safe, sizeof safe));
		client_response_free(&resp);
		return NULL;
	}
	if (raw != NULL)
		*raw = resp.body;	/* hand the bytes over */
	else
		client_response_free(&resp);
	return root;
}

int
client_list(struct cictl_ctx *ctx, const char *path, int as_json,
    const char *empty_msg, json_t **list, int *rc)
{
	struct buf raw = { 0 };
	char err[1024];

	*rc = CICTL_OK;
	*list = client_json(ctx, "GET", path, NULL, 0, NULL,
	    as_json ? &raw : NULL, err, sizeof err);
	if (*list == NULL) {
		*rc = cictl_error(ctx, "%s", err);
		return 1;
	}
	if (!json_is_array(*list)) {
		*rc = cictl_error(ctx, "kilnd sent a non-array for %s", path);
	} else if (as_json) {
		/* The API's own bytes: nothing lost or reordered. */
		output_json_raw(ctx->out, &raw);
	} else if (json_array_size(*list) == 0) {
		fprintf(ctx->out, "%s\n", empty_msg);
	} else {
		buf_free(&raw);
		return 0;
	}
	buf_free(&raw);
	json_decref(*list);
	*list = NULL;
	return 1;
}
