-- When kilnd's outbox should look again after a claim found nothing to
-- send: milliseconds until the first pending row's backoff or another
-- kilnd's lease ends (0 or less: one is due now), NULL when nothing is
-- pending.  New rows and retries by hand NOTIFY kiln_outbox, so an idle
-- outbox waits for that instead of claiming nothing twice a second.
CREATE FUNCTION kiln_outbox_next_due_ms() RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT (extract(epoch FROM min(greatest(not_before,
	    coalesce(lease_until, not_before))) - now()) * 1000)::bigint
	FROM outbox WHERE status = 'pending'
$$;
