-- App mode (issue 11): kiln as a GitHub App.  The installation a
-- repository's webhooks name (installation.id), or the one
-- GET /repos/{owner}/{repo}/installation answers, kept with the
-- repository; daemon/outbox.c buys its installation tokens with the App's
-- JWT.  NULL: not known yet.
ALTER TABLE repositories ADD COLUMN gh_installation_id bigint
	CHECK (gh_installation_id > 0);

-- The claim of 009 with the repository's id and installation (columns
-- appended, the first nine unchanged).
DROP FUNCTION kiln_outbox_claim(int, int);
CREATE FUNCTION kiln_outbox_claim(p_limit int, p_lease_s int)
RETURNS TABLE (id bigint, full_name text, sha text, kind text,
    context text, state text, description text, job_id bigint,
    attempts int, repository_id bigint, gh_installation_id bigint)
LANGUAGE sql AS $$
	WITH c AS (
		SELECT o.id FROM outbox o
		WHERE o.status = 'pending' AND o.not_before <= now()
		  AND (o.lease_until IS NULL OR o.lease_until < now())
		  AND NOT EXISTS (SELECT 1 FROM outbox p
		      WHERE p.status = 'pending'
		        AND p.repository_id = o.repository_id
		        AND p.sha = o.sha AND p.id < o.id)
		ORDER BY o.id LIMIT p_limit
		FOR UPDATE OF o SKIP LOCKED
	), u AS (
		UPDATE outbox o SET lease_until = now() +
		    make_interval(secs => p_lease_s), attempts = o.attempts + 1
		FROM c WHERE o.id = c.id
		RETURNING o.*
	)
	SELECT u.id, r.full_name, u.sha, u.kind, u.context, u.state,
	    u.description, u.job_id, u.attempts, r.id, r.gh_installation_id
	FROM u JOIN repositories r ON r.id = u.repository_id ORDER BY u.id
$$;
