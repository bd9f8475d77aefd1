-- labj journal, schema version 4: what the reading commands look up instead of folding
-- every event (`labj status` on a live run of any size).
--
-- The events that carry a slot's completion (its `trial_completed`, or the `worker_lost`
-- the fold turns into one), by slot: one entry per trial, so the failure examples of
-- `status` are read by schedule_idx. The committed trials that did not succeed, by
-- classification: `status` groups them without reading the successes. Queries must
-- repeat each WHERE term verbatim (SQLite uses a partial index only when the query
-- implies its condition). IF NOT EXISTS: older journals gain them when a writer opens them.
CREATE INDEX IF NOT EXISTS events_completions ON events (schedule_idx, idx)
    WHERE kind IN ('trial_completed', 'worker_lost');
CREATE INDEX IF NOT EXISTS fact_trials_unsuccessful ON fact_trials (classification, schedule_idx)
    WHERE classification NOT IN ('success', 'none');
