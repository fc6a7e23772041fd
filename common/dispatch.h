/*
 * dispatch: a manual run's inputs checked against the workflow's
 * on.workflow_dispatch.inputs as GitHub checks them -- the workflow must
 * declare workflow_dispatch, every input given must be declared, a
 * required input without a default must be given, a boolean is true or
 * false, a number parses, a choice is one of its options -- so that a bad
 * dispatch is refused, naming the input, and nothing runs.  The worker's
 * planner calls it before creating the run; kilnd's API answers with its
 * message.
 */
#ifndef KILN_DISPATCH_H
#define KILN_DISPATCH_H

#include <stddef.h>

#include <jansson.h>

#include "workflow.h"

/* GitHub's limit on a workflow_dispatch's inputs. */
#define DISPATCH_MAX_INPUTS	25
/* Bytes of one input value kiln accepts. */
#define DISPATCH_MAX_VALUE	65535

/*
 * Check inputs (an object of strings, booleans or numbers, or NULL for
 * none) against wf.  0, or -1 with a message naming the input in err.
 */
int	dispatch_check(const struct workflow *wf, const json_t *inputs,
	    char *err, size_t errsz);

#endif
