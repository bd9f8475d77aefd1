-- labj journal, schema version 2: what a writer needs to prove it is still the writer
-- of a file that is still the journal.
--
-- The lease names its holder's process precisely (start time of the pid, kernel boot),
-- so a live holder on this machine is recognised whatever the clocks say.
ALTER TABLE lease ADD COLUMN pid_start INTEGER;
ALTER TABLE lease ADD COLUMN boot_id TEXT;
-- Coordination facts about the journal file itself (not history): `head_record` names the
-- sidecar that records the chain head outside the events table (see store/integrity.rs);
-- present on journals created or opened for writing by a labj that keeps one.
CREATE TABLE journal_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
