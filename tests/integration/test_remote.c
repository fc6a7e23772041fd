/*
 * The admin API over TCP ([admin] listen) with TLS: cictl --url with a
 * token works as on the socket; no token or a wrong one is 401, a read
 * token on a write is 403; plain HTTP off loopback is refused at start.
 */
#include <sys/types.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "util.h"

/* A self-signed certificate for 127.0.0.1 made with openssl(1). */
static void
make_cert(struct harness *h, char **cert, char **key)
{
	struct buf err = { 0 };
	int rc;

	*cert = xasprintf("%s/admin.crt", h->dir);
	*key = xasprintf("%s/admin.key", h->dir);
	{
		char *argv[] = { "openssl", "req", "-x509", "-newkey",
		    "rsa:2048", "-nodes", "-days", "2", "-subj",
		    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
		    "-keyout", *key, "-out", *cert, NULL };

		rc = harness_run(argv, NULL, NULL, NULL, &err, 60000);
	}
	buf_add(&err, "", 1);
	harness_assert(h, rc == 0, "openssl req: %s", err.data);
	buf_free(&err);
}

/* cictl --url ... with the token in a file (NULL: none); exit status. */
static int
remote_cictl(struct harness *h, const char *url, const char *cacert,
    const char *token, struct buf *out, struct buf *err, const char *cmd,
    const char *arg)
{
	char *cictl = xasprintf("%s/cictl", h->bindir);
	char *tokfile = xasprintf("%s/token.txt", h->dir);
	char *argv[16];
	int n = 0, rc;

	if (token != NULL)
		harness_write_file(h, tokfile, token);
	argv[n++] = cictl;
	argv[n++] = "--url";
	argv[n++] = (char *)url;
	argv[n++] = "--cacert";
	argv[n++] = (char *)cacert;
	if (token != NULL) {
		argv[n++] = "--token-file";
		argv[n++] = tokfile;
	}
	argv[n++] = (char *)cmd;
	if (arg != NULL)
		argv[n++] = (char *)arg;
	argv[n] = NULL;
	rc = harness_run(argv, NULL, NULL, out, err, 60000);
	buf_add(out, "", 1);
	buf_add(err, "", 1);
	free(cictl);
	free(tokfile);
	return rc;
}

static char *
make_token(struct harness *h, const char *name, const char *scope)
{
	struct buf out = { 0 }, err = { 0 };
	char *tok;
	int rc = harness_cictl(h, &out, &err, "token", "create", name,
	    "--scope", scope, NULL);

	buf_add(&out, "", 1);
	harness_assert(h, rc == 0, "token create: %.*s", (int)err.len,
	    err.data);
	tok = strstr(out.data, "kiln_");
	harness_assert(h, tok != NULL, "no token in: %s", out.data);
	tok = xstrdup(tok);
	tok[strspn(tok, "kiln_0123456789abcdef")] = '\0';
	buf_free(&out);
	buf_free(&err);
	return tok;
}

START_TEST(test_remote_admin_over_tls)
{
	struct harness *h = harness_new("remote");
	struct buf out = { 0 }, err = { 0 };
	char *cert, *key, *conf, *url, *reader, *admin, *wrong;
	int port = harness_free_port(), rc;

	make_cert(h, &cert, &key);
	conf = xasprintf("[admin]\nlisten = 127.0.0.1:%d\ntls_cert = %s\n"
	    "tls_key = %s\n", port, cert, key);
	harness_conf_add(h, conf);
	harness_start(h);
	url = xasprintf("https://127.0.0.1:%d", port);
	reader = make_token(h, "reader", "read");
	admin = make_token(h, "boss", "admin");

	/* A read token reads, as on the socket. */
	rc = remote_cictl(h, url, cert, reader, &out, &err, "repo", "list");
	harness_assert(h, rc == 0, "repo list with a read token: %d %s", rc,
	    err.data);
	buf_clear(&out);
	buf_clear(&err);
	rc = remote_cictl(h, url, cert, reader, &out, &err, "status", NULL);
	harness_assert(h, rc == 0 && strstr(out.data, "local workers"),
	    "status over TLS: %d %s%s", rc, out.data, err.data);
	buf_clear(&out);
	buf_clear(&err);

	/* Writes need admin. */
	rc = remote_cictl(h, url, cert, reader, &out, &err, "cancel", "999");
	harness_assert(h, rc != 0 && strstr(err.data, "scope read"),
	    "a write with a read token: %d %s", rc, err.data);
	buf_clear(&out);
	buf_clear(&err);
	rc = remote_cictl(h, url, cert, admin, &out, &err, "cancel", "999");
	harness_assert(h, rc != 0 && strstr(err.data, "scope") == NULL &&
	    strstr(err.data, "404") != NULL,
	    "a write with an admin token reaches the API: %d %s", rc,
	    err.data);
	buf_clear(&out);
	buf_clear(&err);

	/* No token, a wrong one: 401. */
	rc = remote_cictl(h, url, cert, NULL, &out, &err, "repo", "list");
	harness_assert(h, rc != 0 && strstr(err.data, "Bearer"),
	    "no token: %d %s", rc, err.data);
	buf_clear(&out);
	buf_clear(&err);
	wrong = xstrdup(admin);
	wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == 'a' ? 'b' : 'a';
	rc = remote_cictl(h, url, cert, wrong, &out, &err, "repo", "list");
	harness_assert(h, rc != 0 && strstr(err.data, "Bearer"),
	    "a wrong token: %d %s", rc, err.data);
	buf_clear(&out);
	buf_clear(&err);

	/* The certificate is verified: without the CA, refused. */
	rc = remote_cictl(h, url, "/etc/ssl/certs/ca-certificates.crt", admin,
	    &out, &err, "repo", "list");
	harness_assert(h, rc != 0, "an unverified certificate was accepted");

	buf_free(&out);
	buf_free(&err);
	free(wrong);
	free(admin);
	free(reader);
	free(url);
	free(conf);
	free(cert);
	free(key);
	harness_stop(h);
	harness_free(h);
}
END_TEST

START_TEST(test_plain_http_off_loopback_is_refused)
{
	struct harness *h = harness_new("remote_plain");
	struct buf out = { 0 }, err = { 0 };
	char *kilnd = xasprintf("%s/kilnd", h->bindir);
	char *argv[] = { kilnd, "-n", "-c", h->conf, NULL };
	char *argv2[] = { kilnd, "-c", h->conf, NULL };
	int rc;

	harness_conf_add(h, "[admin]\nlisten = 0.0.0.0:1\n");
	rc = harness_run(argv, NULL, NULL, &out, &err, 30000);
	harness_assert(h, rc == 0, "the file itself is valid: %d", rc);
	buf_clear(&out);
	buf_clear(&err);
	rc = harness_run(argv2, NULL, NULL, &out, &err, 60000);
	buf_add(&err, "", 1);
	harness_assert(h, rc == 1 && strstr(err.data, "not a loopback "
	    "address"), "kilnd with plain HTTP on 0.0.0.0: %d %s", rc,
	    err.data);
	buf_free(&out);
	buf_free(&err);
	free(kilnd);
	harness_free(h);
}
END_TEST

static Suite *
remote_suite(void)
{
	Suite *s = suite_create("remote");
	TCase *tc = tcase_create("remote");

	tcase_set_timeout(tc, HARNESS_TCASE_TIMEOUT);
	tcase_add_test(tc, test_remote_admin_over_tls);
	tcase_add_test(tc, test_plain_http_off_loopback_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(remote_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
