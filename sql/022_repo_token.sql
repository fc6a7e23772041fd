-- A repository's own GitHub token (issue 11: cictl repo edit OWNER/NAME
-- --token-file F), sealed by kilnd with its secrets key (common/secretbox.c,
-- associated data "github token for OWNER/NAME") before it reaches this
-- column, and never sent back by the API.  When set, daemon/outbox.c sends
-- that repository's commit statuses with it instead of [github] token_file
-- or the App's installation token; the outbox reads it with each claimed
-- row (joined to kiln_outbox_claim's rows).  NULL: none.
ALTER TABLE repositories ADD COLUMN gh_token text
	CHECK (gh_token LIKE 'v1:%');
