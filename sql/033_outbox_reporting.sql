-- Whether anything sends the outbox to GitHub: kilnd records it at start
-- ([github] token_file or app_id set, daemon/kilnd.c).  Without it the
-- jobs' and runs' state rows were written all the same and never sent:
-- 'pending' rows are never pruned, so the table grew by four rows per
-- one-job run for ever, the metrics showed them as a backlog, and every
-- job paid a trigger's statements three times (bench/matrix.sh: a fifth
-- of PostgreSQL's CPU per job).  Several kilnds on one database share
-- the one flag: the last one started sets it, so they are given the same
-- [github] section.  An upgraded database keeps reporting until a kilnd
-- says otherwise.
CREATE TABLE outbox_reporting (
	only_row	boolean PRIMARY KEY DEFAULT true CHECK (only_row),
	enabled		boolean NOT NULL
);
INSERT INTO outbox_reporting (enabled) VALUES (true);

-- plpgsql: its statement's plan is kept for the session (a LANGUAGE sql
-- one would be planned again at every call, see 032).
CREATE FUNCTION kiln_outbox_wanted() RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN coalesce((SELECT enabled FROM outbox_reporting), true);
END $$;

-- The two triggers again, firing only when something sends the outbox;
-- what they do is unchanged.
DROP TRIGGER jobs_outbox ON jobs;
CREATE TRIGGER jobs_outbox AFTER INSERT OR UPDATE OF status, conclusion
	ON jobs FOR EACH ROW WHEN (kiln_outbox_wanted())
	EXECUTE FUNCTION kiln_outbox_job();

DROP TRIGGER runs_outbox ON runs;
CREATE TRIGGER runs_outbox AFTER INSERT ON runs FOR EACH ROW
	WHEN (NEW.status = 'completed' AND NEW.conclusion = 'failure' AND
	    NEW.message IS NOT NULL AND kiln_outbox_wanted())
	EXECUTE FUNCTION kiln_outbox_run();
