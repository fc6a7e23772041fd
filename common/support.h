/*
 * support: what kiln executes of a valid workflow, and what it does not.
 *
 * A CI server must never report green for work it did not do.  Every
 * construct that workflow_parse() accepts but kiln does not execute is
 * listed here, once, with the words all three places use:
 *
 *   cictl lint / cictl plan   a warning at the construct's file:line:col
 *                             (support_audit);
 *   the worker                the job fails before any step with that
 *                             message (support_job), or the step fails
 *                             when it is reached, never rescued by
 *                             continue-on-error (support_step).
 *
 * Constructs kiln cannot even plan are refused by validation instead
 * (common/workflow.c), and events kiln never receives are read from the
 * event table (common/event.c).  The built-in actions are listed here by
 * name with the inputs they honour; the worker maps each to its
 * implementation (worker/actions/table.c).
 */
#ifndef KILN_SUPPORT_H
#define KILN_SUPPORT_H

#include "workflow.h"

/* The built-in actions; worker/actions/table.c implements each. */
enum support_action {
	SUPPORT_ACTION_CHECKOUT,
	SUPPORT_ACTION_SETUP_PYTHON,
	SUPPORT_ACTION_CACHE,
	SUPPORT_ACTION_CACHE_RESTORE,
	SUPPORT_ACTION_CACHE_SAVE,
	SUPPORT_ACTION_UPLOAD_ARTIFACT,
	SUPPORT_ACTION_DOWNLOAD_ARTIFACT,
	SUPPORT_NACTIONS
};

/*
 * The built-in action of uses ("owner/name@ref", owner and name compared
 * case-insensitively), or -1.
 */
int	 support_action_find(const char *uses);
/* "actions/checkout" ... (static). */
const char *support_action_name(enum support_action);
/* "actions/checkout, actions/setup-python": a new string. */
char	*support_action_names(void);

/*
 * Why kiln cannot run this step, or NULL: an action it has not built in,
 * an input of a built-in action it does not honour.  New string.
 */
char	*support_step(const struct wf_step *step);

/*
 * Why kiln cannot run this job at all (the first construct it does not
 * execute: a reusable workflow call, container, services, a deployment
 * environment, a runner group), or NULL.  New string.
 */
char	*support_job(const struct wf_job *job);

/*
 * Every construct of wf that kiln accepts but does not execute, appended
 * to warnings as file:line:col entries (wf_errors_format() prints them),
 * in file order.
 */
void	 support_audit(const struct workflow *wf, struct wf_errors *warnings);

#endif
