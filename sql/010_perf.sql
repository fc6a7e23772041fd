-- Run numbers from a counter: one row per workflow file of a repository,
-- incremented in the planner's transaction.  Its row lock serialises the
-- planners of one file (as the advisory lock did) and the next number costs
-- one index probe, however many runs the file has (max(run_number) scanned
-- them all).  Seeded from the runs already there.
CREATE TABLE run_counters (
	repository_id	bigint NOT NULL REFERENCES repositories(id)
			ON DELETE CASCADE,
	path		text NOT NULL,
	last_number	bigint NOT NULL,
	PRIMARY KEY (repository_id, path)
);
INSERT INTO run_counters (repository_id, path, last_number)
SELECT repository_id, path, max(run_number) FROM runs
GROUP BY repository_id, path;
