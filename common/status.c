/*
 * status: see status.h.  The tables are indexed by the enums; a value out
 * of range (never expected) reads as the most cautious word.
 */
#include "status.h"
#include "util.h"

static const char *const status_state_names[] = {
	[STATE_PENDING]		= "pending",
	[STATE_QUEUED]		= "queued",
	[STATE_WAITING]		= "waiting",
	[STATE_IN_PROGRESS]	= "in_progress",
	[STATE_COMPLETED]	= "completed",
};

static const char *const status_conclusion_names[] = {
	[CONCLUSION_SUCCESS]	= "success",
	[CONCLUSION_FAILURE]	= "failure",
	[CONCLUSION_CANCELLED]	= "cancelled",
	[CONCLUSION_SKIPPED]	= "skipped",
	[CONCLUSION_TIMED_OUT]	= "timed_out",
};

const char *
status_state_name(enum status_state s)
{
	if ((size_t)s >= nitems(status_state_names))
		return "queued";
	return status_state_names[s];
}

const char *
status_conclusion_name(enum status_conclusion c)
{
	if ((size_t)c >= nitems(status_conclusion_names))
		return "failure";
	return status_conclusion_names[c];
}
