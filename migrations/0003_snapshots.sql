-- labj journal, schema version 3: projection snapshots, and an index of the rare events
-- `continue` looks up by kind.
--
-- A snapshot is an optimization only, never history: the serialized projection state
-- after folding events 0..=idx. `chain_hash` is `events.hash` at `idx` and `body_hash`
-- is blake3 over (format, idx, chain_hash, body), so a snapshot that does not belong to
-- this journal's chain at that point, or whose body was edited, is recognised and
-- ignored (the fold then starts from an earlier snapshot or from event 0). `verify`
-- compares every snapshot with a fold from event 0. `format` names the encoding and the
-- fold rules; other formats are ignored.
CREATE TABLE proj_snapshots (
    idx        INTEGER PRIMARY KEY,
    chain_hash BLOB    NOT NULL,
    format     INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    body_hash  BLOB    NOT NULL
);

-- Session starts (their input changes), session ends, control and backend events: a
-- handful per session, so this partial index costs nothing on the per-trial appends
-- and spares `continue` a scan of millions of rows. Queries must repeat the WHERE term
-- verbatim (SQLite uses a partial index only when the query implies its condition).
CREATE INDEX events_rare_kinds ON events (kind, idx)
    WHERE kind NOT IN ('trial_dispatched', 'trial_completed', 'slot_committed', 'slot_skipped_pruned', 'completion_dropped');
