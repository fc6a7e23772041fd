/*
 * status: the states and conclusions of runs, jobs and steps, as enums with
 * ONE name table each.  The names are the database's and GitHub's words
 * (sql/001_schema.sql checks the same lists); code compares enums and
 * turns them into text only where text leaves the process (SQL parameters,
 * logs, JSON).
 */
#ifndef KILN_STATUS_H
#define KILN_STATUS_H

/* Where a run, job or step is in its life. */
enum status_state {
	STATE_PENDING,		/* run: waiting for its concurrency group */
	STATE_QUEUED,		/* may be claimed */
	STATE_WAITING,		/* job: its needs have not completed */
	STATE_IN_PROGRESS,
	STATE_COMPLETED,
};

/*
 * How something completed (reference 5.6).  A step's outcome uses the same
 * words, before continue-on-error turns a failure into a success.
 */
enum status_conclusion {
	CONCLUSION_SUCCESS,
	CONCLUSION_FAILURE,
	CONCLUSION_CANCELLED,
	CONCLUSION_SKIPPED,
	CONCLUSION_TIMED_OUT,
};

/* The word for a state / conclusion (static strings). */
const char	*status_state_name(enum status_state);
const char	*status_conclusion_name(enum status_conclusion);

#endif
