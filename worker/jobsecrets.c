/*
 * jobsecrets: a job's secrets and variables, fetched when the job is
 * claimed.  Only the secrets its workflow file refers to are decrypted
 * (common/secrets.c finds them), each is registered with the job's masker
 * before any step runs (whole value, each line, base64 forms: mask.c), and
 * a pull_request from a fork gets none, as on GitHub: its secrets.* are
 * empty strings.  Variables (vars.*) are plain and all delivered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "secretbox.h"
#include "secrets.h"
#include "util.h"
#include "wfcmd.h"
#include "worker.h"

/* A pull request whose head repository is not the base repository. */
int
jobsecrets_from_fork(const struct claimed_job *cj)
{
	json_t *payload, *pr;
	const char *head, *base;
	int fork = 0;

	/* pull_request_target runs the base's workflow with its secrets. */
	if (cj->event == NULL || strcmp(cj->event, "pull_request_target") == 0
	    || strncmp(cj->event, "pull_request", 12) != 0)
		return 0;
	if ((payload = json_loads(cj->payload ? cj->payload : "{}", 0,
	    NULL)) == NULL)
		return 1;	/* unreadable: no secrets rather than leak */
	pr = json_object_get(payload, "pull_request");
	head = json_string_value(json_object_get(json_object_get(
	    json_object_get(pr, "head"), "repo"), "full_name"));
	base = json_string_value(json_object_get(json_object_get(
	    json_object_get(pr, "base"), "repo"), "full_name"));
	if (pr != NULL && (head == NULL || base == NULL ||
	    strcasecmp(head, base) != 0))
		fork = 1;
	json_decref(payload);
	return fork;
}

int
jobsecrets_load(struct worker *w, const struct claimed_job *cj,
    json_t *secrets, json_t *vars, struct wfcmd_state *cmds, char *err,
    size_t errsz)
{
	char idbuf[32], *names_json, *plain, *aad, why[256];
	const char *params[3];
	json_t *names, *pin;
	const char *key;
	PGresult *res;
	char **refs;
	size_t len;
	int all, i, rc = -1;

	snprintf(idbuf, sizeof idbuf, "%lld", (long long)cj->repository_id);
	params[0] = idbuf;
	/* Read with the claim (claim_job), in its snapshot. */
	{
		json_t *v = json_loads(cj->variables ? cj->variables : "{}",
		    0, NULL);

		if (!json_is_object(v)) {
			json_decref(v);
			snprintf(err, errsz, "cannot read the repository's "
			    "variables");
			return -1;
		}
		json_object_update(vars, v);
		json_decref(v);
	}

	if (jobsecrets_from_fork(cj)) {
		log_info("job %lld: a pull request from a fork gets no secrets",
		    (long long)cj->id);
		return 0;
	}
	refs = secrets_referenced(cj->workflow_source ? cj->workflow_source :
	    "", &all);
	names = json_array();
	for (i = 0; refs[i] != NULL; i++)
		json_array_append_new(names, json_string(refs[i]));
	secrets_names_free(refs);
	/* What called workflows read is theirs to ask for (inherit). */
	json_object_foreach(cj->callees, key, pin) {
		int all2 = 0;

		refs = secrets_referenced(json_string_value(json_object_get(
		    pin, "source")) ? json_string_value(json_object_get(pin,
		    "source")) : "", &all2);
		all |= all2;
		for (i = 0; refs[i] != NULL; i++)
			json_array_append_new(names, json_string(refs[i]));
		secrets_names_free(refs);
	}
	if (!all && json_array_size(names) == 0) {
		json_decref(names);
		return 0;
	}
	names_json = json_dumps(names, JSON_COMPACT);
	json_decref(names);
	params[1] = all ? "true" : "false";
	params[2] = names_json;
	res = worker_exec(w, "SELECT name, sealed FROM secrets WHERE "
	    "repository_id = $1::bigint AND ($2::boolean OR name = ANY "
	    "(ARRAY(SELECT jsonb_array_elements_text($3::jsonb)))) "
	    "ORDER BY name", 3, params, "reading the secrets");
	free(names_json);
	if (res == NULL) {
		snprintf(err, errsz, "cannot read the repository's secrets");
		return -1;
	}
	if (PQntuples(res) > 0 && w->key_error != NULL) {
		snprintf(err, errsz, "secrets: %s", w->key_error);
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);

		aad = xasprintf("%s/%s", cj->repo_name, name);
		if (secretbox_open(w->secret_key, PQgetvalue(res, i, 1), aad,
		    &plain, &len, why, sizeof why) == -1) {
			snprintf(err, errsz, "secret %s: %s", name, why);
			free(aad);
			goto out;
		}
		free(aad);
		if (wfcmd_add_mask(cmds, plain) == -1) {
			snprintf(err, errsz, "secret %s: too many secrets to "
			    "mask", name);
			secretbox_free(plain, len);
			goto out;
		}
		json_object_set_new(secrets, name, json_stringn(plain, len));
		secretbox_free(plain, len);
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}
