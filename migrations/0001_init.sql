-- labj journal, schema version 1.
-- `events` is the source of truth; every other table is a projection (rebuildable from
-- events) or coordination state (lease, control inbox) that is not part of the history.

CREATE TABLE events (
    idx          INTEGER PRIMARY KEY,   -- 0, 1, 2, … without gaps
    kind         TEXT    NOT NULL,
    schedule_idx INTEGER,
    trial_id     TEXT,
    ts           TEXT    NOT NULL,      -- informational; projections never read the clock
    payload      TEXT    NOT NULL,      -- JSON of the kind's payload struct
    hash         BLOB    NOT NULL       -- blake3(prev_hash || canonical bytes)
);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'labj journal: events are append-only (UPDATE rejected)'); END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'labj journal: events are append-only (DELETE rejected)'); END;

-- Materialized projections, updated in the same transaction as the events that change them.
CREATE TABLE proj_docs (
    name TEXT PRIMARY KEY,                -- run_control_v2 | schedule_progress_v2 | aggregates_v1
    doc  TEXT NOT NULL
);

CREATE TABLE proj_slots (
    schedule_idx   INTEGER PRIMARY KEY,
    trial_id       TEXT NOT NULL,
    variant_id     TEXT NOT NULL,
    status         TEXT NOT NULL,
    classification TEXT NOT NULL
);

-- Fact tables: appended only when a slot is committed, in commit order. Tables keyed by
-- two columns are WITHOUT ROWID: one B-tree per table instead of a table plus an index.
CREATE TABLE fact_trials (
    schedule_idx   INTEGER PRIMARY KEY,
    trial_id       TEXT NOT NULL,
    variant_id     TEXT NOT NULL,
    task_id        TEXT NOT NULL,
    repl_idx       INTEGER NOT NULL,
    status         TEXT NOT NULL,
    classification TEXT NOT NULL,
    outcome        TEXT,
    primary_metric REAL,
    attempts       INTEGER NOT NULL
);

CREATE TABLE fact_metrics (
    schedule_idx INTEGER NOT NULL,
    trial_id     TEXT NOT NULL,
    variant_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    value        REAL NOT NULL,
    PRIMARY KEY (schedule_idx, name)
) WITHOUT ROWID;

CREATE TABLE fact_trial_events (
    schedule_idx   INTEGER NOT NULL,
    seq            INTEGER NOT NULL,
    trial_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    classification TEXT,
    exit_code      INTEGER,
    detail         TEXT,
    PRIMARY KEY (schedule_idx, seq)
) WITHOUT ROWID;

CREATE TABLE fact_variant_snapshots (
    schedule_idx         INTEGER PRIMARY KEY,
    variant_id           TEXT NOT NULL,
    committed            INTEGER NOT NULL,
    succeeded            INTEGER NOT NULL,
    failed               INTEGER NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    pruned               INTEGER NOT NULL
);

CREATE TABLE fact_evidence (
    schedule_idx INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    trial_id     TEXT NOT NULL,
    class        TEXT NOT NULL,
    path         TEXT NOT NULL,
    digest       TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    PRIMARY KEY (schedule_idx, seq)
) WITHOUT ROWID;

CREATE TABLE fact_chain_states (
    schedule_idx INTEGER PRIMARY KEY,
    trial_id     TEXT NOT NULL,
    variant_id   TEXT NOT NULL,
    chain_id     TEXT NOT NULL,
    state_digest TEXT NOT NULL
);

-- Coordination state (not history): who drives the run, and requests from other shells.
CREATE TABLE lease (
    id           INTEGER PRIMARY KEY CHECK (id = 0),
    session_id   TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL,
    acquired_ms  INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL
);

CREATE TABLE control_inbox (
    request_id  TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    command     TEXT NOT NULL,        -- pause | resume | kill | cancel | set
    args        TEXT NOT NULL,        -- JSON
    requested_by TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    state       TEXT NOT NULL,        -- pending | answered
    answer      TEXT,                 -- JSON
    answered_ms INTEGER
);
