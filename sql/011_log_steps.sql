-- Where each step's output and each annotation's line start in the job's
-- log, so the log can be served by step and an annotation linked to its
-- line.  Recorded by the worker from what it has written to the job's log
-- stream; NULL for rows written before this migration.
ALTER TABLE steps ADD COLUMN log_offset bigint;	-- byte offset
ALTER TABLE steps ADD COLUMN log_line integer;		-- 1-based line
ALTER TABLE annotations ADD COLUMN log_line integer;	-- 1-based line
