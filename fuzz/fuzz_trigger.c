/*
 * fuzz_trigger: trigger_match() and trigger_skip_marker(), which decide
 * from a pushed workflow and a webhook event (ref names, activity type,
 * head commit message, changed paths: all chosen by whoever pushes or
 * opens the pull request) whether a run starts.
 *
 * Input layout: the workflow file, a NUL byte, a flags byte (bit 0:
 * paths_unknown), then the event, one field a line: event name, ref,
 * base_ref, action, cron line, head commit message, then changed paths
 * (at most FUZZ_TRIGGER_PATHS).  An empty line gives NULL for ref,
 * base_ref, action, cron and message.  Without a NUL byte nothing is
 * matched.  trigger_skip_marker() also reads the whole event text as one
 * multi-line commit message.
 *
 * The webhook's JSON itself is parsed in daemon/webhook.c, beyond reach
 * of a target that links only common/.
 *
 * Bound: FUZZ_TRIGGER_MAX bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trigger.h"
#include "workflow.h"

#include "fuzz.h"

#define FUZZ_TRIGGER_MAX	(32 * 1024)
#define FUZZ_TRIGGER_PATHS	(TRIGGER_MAX_PATHS + 8)
#define FUZZ_TRIGGER_FIELDS	6

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *field[FUZZ_TRIGGER_FIELDS], *paths[FUZZ_TRIGGER_PATHS];
	const char *marker = NULL;
	struct wf_errors errs = { 0 };
	struct trigger_event ev;
	struct workflow *wf;
	const uint8_t *nul;
	char *text, *p, *nl, *reason = NULL;
	size_t wlen, nf = 0, np = 0, i;
	int skip, hit;

	if (size > FUZZ_TRIGGER_MAX ||
	    (nul = memchr(data, '\0', size)) == NULL)
		return 0;
	wlen = (size_t)(nul - data);
	if (size - wlen < 2)
		return 0;
	text = fuzz_strndup(nul + 2, size - wlen - 2);

	skip = trigger_skip_marker(text, &marker);
	FUZZ_ASSERT(skip == 0 || (skip == 1 && marker != NULL));

	for (p = text; p != NULL; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		if (nf < FUZZ_TRIGGER_FIELDS)
			field[nf++] = p;
		else if (np < FUZZ_TRIGGER_PATHS)
			paths[np++] = p;
		else
			break;
	}
	for (i = nf; i < FUZZ_TRIGGER_FIELDS; i++)
		field[i] = "";
	memset(&ev, 0, sizeof ev);
	ev.name = field[0];
	ev.ref = field[1][0] != '\0' ? field[1] : NULL;
	ev.base_ref = field[2][0] != '\0' ? field[2] : NULL;
	ev.action = field[3][0] != '\0' ? field[3] : NULL;
	ev.cron = field[4][0] != '\0' ? field[4] : NULL;
	ev.head_message = field[5][0] != '\0' ? field[5] : NULL;
	ev.paths = paths;
	ev.npaths = np;
	ev.paths_unknown = nul[1] & 1;

	wf = workflow_parse(".github/workflows/fuzz.yml", (const char *)data,
	    wlen, &errs);
	if (wf != NULL && errs.n == 0) {
		hit = trigger_match(wf, &ev, &reason);
		FUZZ_ASSERT(hit == 0 || hit == 1);
		FUZZ_ASSERT((hit == 1) == (reason == NULL));
		free(reason);
		FUZZ_ASSERT(trigger_match(wf, &ev, NULL) == hit);
	}
	workflow_free(wf);
	wf_errors_free(&errs);
	free(text);
	return 0;
}
