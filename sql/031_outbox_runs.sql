-- A run that could not start (its workflow is invalid, or a required
-- input is missing: worker/plan.c stores it completed and failed, the
-- file:line:col errors as its message) has no job, so kiln_outbox_job
-- reports nothing for it, and GitHub would show nothing where its checks
-- should be.  One row for the run: the commit status "error" with the
-- first error as its description (GitHub's 140 characters); in App mode a
-- check run completed as a failure with that error as its title.
CREATE FUNCTION kiln_outbox_run() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO outbox (repository_id, job_id, sha, kind, context, state,
	    description, job_status, conclusion)
	VALUES (NEW.repository_id, NULL, NEW.head_sha, 'status',
	    left('kiln / ' || NEW.name, 255), 'error',
	    left(split_part(NEW.message, E'\n', 1), 140), 'completed',
	    'failure');
	PERFORM pg_notify('kiln_outbox', '');
	RETURN NULL;
END $$;

CREATE TRIGGER runs_outbox AFTER INSERT ON runs FOR EACH ROW
	WHEN (NEW.status = 'completed' AND NEW.conclusion = 'failure' AND
	    NEW.message IS NOT NULL)
	EXECUTE FUNCTION kiln_outbox_run();
