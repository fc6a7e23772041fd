/*
 * matrix: expand a job's strategy.matrix into the list of jobs ("legs") the
 * planner creates, exactly as GitHub does (compatibility reference 3.5):
 * the cartesian product with the first variable outermost, then exclude,
 * then include, then the 256-job limit.  Each leg carries its `matrix`
 * context value and its default display name, "<job name> (<v1>, ...)".
 *
 * Include and exclude entries compare with the expression language's loose
 * `==` (reference 4.4) leaf by leaf; that comparison lives here, small and
 * private, so this module does not depend on common/expr.
 *
 * Nothing here prints or exits; errors come back as text in the caller's
 * buffer, worded like GitHub's where GitHub has a message.
 */
#ifndef KILN_MATRIX_H
#define KILN_MATRIX_H

#include <stddef.h>

#include <jansson.h>

struct wf_job;

#define MATRIX_MAX_LEGS		256	/* GitHub's jobs-per-matrix limit */
#define MATRIX_MAX_PRODUCT	65536	/* cartesian product walked at most */
#define MATRIX_NAME_MAX		100	/* display name, in UTF-16 units */

struct matrix_leg {
	json_t	*values;	/* this combination as a JSON object (matrix variables first in key order, then keys merged by include), or NULL when the job has no matrix */
	char	*name;		/* display name: "<job name> (<v1>, <v2>, ...)" per the reference's rule, or the job name when no matrix */
};

/*
 * Expand job's strategy.matrix into legs, in GitHub's order.  A job without
 * a matrix gives exactly one leg with values NULL and name = job->name; so
 * does a matrix whose every combination was excluded (and that has no
 * include left to add).  Errors (unknown exclude key, empty vector, empty
 * include/exclude entry, more than 256 legs, a matrix given as an
 * expression that was not resolved) return -1 with a message naming the
 * problem in err.
 *
 * On success *legs is a new array of *nlegs (>= 1) legs that the caller
 * owns and frees with matrix_legs_free(); every leg's values object is a
 * deep copy, independent of the job and of the other legs.  On failure
 * *legs is NULL and *nlegs 0.
 */
int	matrix_expand(const struct wf_job *job, struct matrix_leg **legs,
	    size_t *nlegs, char *err, size_t errsz);

/*
 * Same, from an already-evaluated matrix object (for
 * `matrix: ${{ fromJSON(...) }}` evaluated by the caller).  matrix NULL
 * means "no matrix".  job_name NULL is taken as "".  Strings in matrix are
 * data here: "${{" inside one is not treated as an expression.
 */
int	matrix_expand_json(const char *job_name, const json_t *matrix,
	    struct matrix_leg **legs, size_t *nlegs, char *err, size_t errsz);

/* Free legs returned by matrix_expand*(); NULL is allowed. */
void	matrix_legs_free(struct matrix_leg *legs, size_t nlegs);

#endif
