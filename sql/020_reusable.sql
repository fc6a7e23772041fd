-- Reusable workflows (common/reusable.h): the files a run's caller jobs
-- call, pinned when the run is planned so every job of the run expands
-- the same text at the same commit, whatever a tag does later:
-- {"KEY": {"sha": "...", "source": "..."}}, KEY as the loader names it
-- ("./.github/workflows/f.yml", "owner/repo/.github/workflows/f.yml@v1").
ALTER TABLE runs ADD COLUMN callees jsonb;
