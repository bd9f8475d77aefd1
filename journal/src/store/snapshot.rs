//! Projection snapshots (`proj_snapshots`, schema 3): written by appends every
//! [`SNAPSHOT_EVERY`] events and at session ends, used by [`Journal::fold_from_snapshot`]
//! after verification, and audited by `verify` against a fold from event 0.
//!
//! A snapshot is trusted only when its row is well-formed, its format is this labj's,
//! the event at its idx carries the chain hash it records, its body hash (keyed by
//! format, idx and chain hash) matches, and the body decodes into a consistent state.
//! Anything else is logged (tracing `warn`) and skipped for an earlier snapshot or
//! event 0: a bad snapshot costs time, never correctness.

use super::*;
use crate::projection::SNAPSHOT_FORMAT;
use read::FoldStart;

/// Events between snapshots. Measured with bench/fold_replay.sh: encoding one snapshot
/// took 0.17 ms at 200,000 events (0.003 µs per event amortized; appends of 200,000 events
/// x1.01 with snapshots), while a fold from the latest snapshot applies at most this many
/// events (0.1 s on tmpfs), which keeps `continue` and `replay` of any journal short.
pub const SNAPSHOT_EVERY: u64 = 50_000;

/// A snapshot row as listed by [`Journal::snapshots`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The last event the snapshot's state includes.
    pub idx: u64,
    /// Its encoding's version (only [`SNAPSHOT_FORMAT`] is trusted).
    pub format: u32,
    /// Size of its body.
    pub bytes: u64,
}

/// The result of [`Journal::fold_from_snapshot`].
#[derive(Debug)]
pub struct SnapshotFold {
    /// The fold's state: equal to [`Journal::fold`]'s.
    pub projections: Projections,
    /// The snapshot the fold started from (`None`: from event 0).
    pub from_snapshot: Option<u64>,
    /// Snapshots that were not trusted, with why (also logged).
    pub rejected: Vec<String>,
}

/// Whether a transaction taking the event count from `before` to `after` crosses a
/// multiple of `every`.
pub(super) fn crosses(every: u64, before: u64, after: u64) -> bool {
    every > 0 && before / every != after / every
}

fn body_hash(format: u32, idx: u64, chain_hash: &[u8], body: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"labj projection snapshot\0");
    h.update(&format.to_le_bytes());
    h.update(&idx.to_le_bytes());
    h.update(chain_hash);
    h.update(body);
    *h.finalize().as_bytes()
}

/// Stores the snapshot of `proj` (the fold of every event up to its last one, whose hash
/// is `chain_hash`). A state that has no snapshot form is skipped (see
/// [`Projections::snapshot_body`]).
pub(super) fn write(
    conn: &Connection,
    proj: &Projections,
    chain_hash: &[u8; 32],
) -> rusqlite::Result<()> {
    let (Some(idx), Some(body)) = (proj.last_idx(), proj.snapshot_body()) else {
        return Ok(());
    };
    let hash = body_hash(SNAPSHOT_FORMAT, idx, chain_hash, &body);
    conn.prepare_cached(
        "INSERT OR REPLACE INTO proj_snapshots (idx, chain_hash, format, body, body_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![idx as i64, &chain_hash[..], SNAPSHOT_FORMAT, body, &hash[..]])?;
    Ok(())
}

pub(super) fn clear(conn: &Connection) -> rusqlite::Result<()> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'proj_snapshots')",
        [],
        |r| r.get(0),
    )?;
    if exists {
        conn.execute("DELETE FROM proj_snapshots", [])?;
    }
    Ok(())
}

/// One snapshot row as stored, every column checked for its storage class (a row edited
/// by hand must be reported, not panic).
struct Row {
    idx: u64,
    chain_hash: [u8; 32],
    format: u32,
    body: Vec<u8>,
    body_hash: [u8; 32],
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Row, String>> {
    use rusqlite::types::ValueRef;
    let int = |i: usize, name: &str| -> rusqlite::Result<Result<i64, String>> {
        Ok(match r.get_ref(i)? {
            ValueRef::Integer(v) => Ok(v),
            v => Err(format!(
                "column {name} holds {:?}, not an integer",
                v.data_type()
            )),
        })
    };
    let blob32 = |i: usize, name: &str| -> rusqlite::Result<Result<[u8; 32], String>> {
        Ok(match r.get_ref(i)? {
            ValueRef::Blob(b) => {
                <[u8; 32]>::try_from(b).map_err(|_| format!("column {name} is not 32 bytes"))
            }
            v => Err(format!(
                "column {name} holds {:?}, not a blob",
                v.data_type()
            )),
        })
    };
    let idx = match int(0, "idx")? {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let row = (|| -> rusqlite::Result<Result<Row, String>> {
        let chain_hash = match blob32(1, "chain_hash")? {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let format = match int(2, "format")? {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let body = match r.get_ref(3)? {
            ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
            v => return Ok(Err(format!("column body holds {:?}", v.data_type()))),
        };
        let body_hash = match blob32(4, "body_hash")? {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(Row {
            idx: u64::try_from(idx).unwrap_or(u64::MAX),
            chain_hash,
            format: u32::try_from(format).unwrap_or(u32::MAX),
            body,
            body_hash,
        }))
    })()?;
    Ok(row.map_err(|e| format!("snapshot {idx}: {e}")))
}

impl Journal {
    /// The snapshots stored in this journal, oldest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        if self.version < 3 {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT idx, format, length(body) FROM proj_snapshots ORDER BY idx")
            .map_err(|e| sqlerr(&self.path, e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SnapshotInfo {
                    idx: r.get::<_, i64>(0)? as u64,
                    format: r.get::<_, i64>(1)? as u32,
                    bytes: r.get::<_, i64>(2)? as u64,
                })
            })
            .map_err(|e| sqlerr(&self.path, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| sqlerr(&self.path, e))
    }

    /// The hash stored for event `idx`, if the journal holds it.
    fn event_hash(&self, idx: u64) -> Result<Option<Vec<u8>>> {
        self.conn
            .query_row(
                "SELECT hash FROM events WHERE idx = ?1",
                [idx as i64],
                |r| match r.get_ref(0)? {
                    rusqlite::types::ValueRef::Blob(b) => Ok(Some(b.to_vec())),
                    _ => Ok(None),
                },
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| sqlerr(&self.path, e))
    }

    /// The fold of event 0 alone, chain-checked: the base every snapshot restores onto.
    fn fold_first(&self) -> Result<Projections> {
        let mut base = Projections::new();
        let mut changes = Changes::fold_only();
        self.for_each_event(0, Some(0), true, |e| {
            base.apply_owned(e, &mut changes)
                .map_err(|source| JournalError::Fold {
                    path: self.path.clone(),
                    source,
                })
        })?;
        Ok(base)
    }

    /// The newest trustworthy snapshot at or before `until`, restored, with the hash of
    /// its event; the reasons earlier candidates were refused go to `rejected`.
    fn best_snapshot(&self, until: u64, rejected: &mut Vec<String>) -> Result<Option<FoldStart>> {
        if self.version < 3 {
            return Ok(None);
        }
        let idxs: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT idx FROM proj_snapshots WHERE idx <= ?1 ORDER BY idx DESC")
                .map_err(|e| sqlerr(&self.path, e))?;
            let rows = stmt
                .query_map([until.min(i64::MAX as u64) as i64], |r| {
                    // A non-integer idx (hand edit) sorts apart; skip it here, verify
                    // reports it.
                    Ok(match r.get_ref(0)? {
                        rusqlite::types::ValueRef::Integer(v) => Some(v),
                        _ => None,
                    })
                })
                .map_err(|e| sqlerr(&self.path, e))?;
            rows.filter_map(|r| r.transpose())
                .collect::<rusqlite::Result<_>>()
                .map_err(|e| sqlerr(&self.path, e))?
        };
        let mut base: Option<Projections> = None;
        for idx in idxs {
            let row = self
                .conn
                .query_row(
                    "SELECT idx, chain_hash, format, body, body_hash FROM proj_snapshots WHERE idx = ?1",
                    [idx],
                    read_row,
                )
                .map_err(|e| sqlerr(&self.path, e))?;
            let row = match row {
                Ok(r) => r,
                Err(reason) => {
                    rejected.push(reason);
                    continue;
                }
            };
            if row.format != SNAPSHOT_FORMAT {
                // Written by a labj with other fold rules: never trusted, not a fault.
                tracing::debug!(
                    idx = row.idx,
                    format = row.format,
                    "snapshot of another format skipped"
                );
                continue;
            }
            let at = |why: String| format!("snapshot {}: {why}", row.idx);
            match self.event_hash(row.idx)? {
                Some(h) if h == row.chain_hash => {}
                Some(_) => {
                    rejected.push(at("its chain hash differs from the event's".into()));
                    continue;
                }
                None => {
                    rejected.push(at("the journal holds no event at its idx".into()));
                    continue;
                }
            }
            if body_hash(row.format, row.idx, &row.chain_hash, &row.body) != row.body_hash {
                rejected.push(at("its body does not match its checksum".into()));
                continue;
            }
            if base.is_none() {
                base = Some(self.fold_first()?);
            }
            let restored = Projections::from_snapshot(base.clone().expect("set above"), &row.body);
            match restored {
                Ok(p) if p.events_applied == row.idx + 1 => {
                    return Ok(Some(FoldStart {
                        proj: p,
                        next: row.idx + 1,
                        prev: row.chain_hash,
                    }))
                }
                Ok(p) => rejected.push(at(format!(
                    "its body describes {} events, not {}",
                    p.events_applied,
                    row.idx + 1
                ))),
                Err(e) => rejected.push(at(e)),
            }
        }
        Ok(None)
    }

    /// Fold events `0..=until` (all when `None`), starting from the newest snapshot at
    /// or before `until` that verifies (see the module docs), else from event 0. The
    /// chain is checked from the snapshot on; the prefix it covers was checked when it
    /// was folded, and `verify` checks it all. Equal to [`fold`](Self::fold) by
    /// construction (the property tests in `journal/tests/snapshots.rs` and `verify`
    /// check it); if the events after a snapshot do not fold onto it, the fold is
    /// redone from event 0, so an error is always the journal's own.
    pub fn fold_from_snapshot(&self, until: Option<u64>) -> Result<SnapshotFold> {
        let Some(last) = self.next_idx.checked_sub(1) else {
            return Ok(SnapshotFold {
                projections: self.fold(until)?,
                from_snapshot: None,
                rejected: Vec::new(),
            });
        };
        let until = until.unwrap_or(last);
        let mut rejected = Vec::new();
        let start = if until <= last {
            self.best_snapshot(until, &mut rejected)?
        } else {
            None
        };
        for r in &rejected {
            tracing::warn!(journal = %self.path.display(), "projection snapshot ignored: {r}");
        }
        let Some(start) = start else {
            return Ok(SnapshotFold {
                projections: self.fold(Some(until))?,
                from_snapshot: None,
                rejected,
            });
        };
        let from = start.next - 1;
        match self.fold_parallel(start, Some(until), Changes::fold_only(), None) {
            Ok((projections, _)) => Ok(SnapshotFold {
                projections,
                from_snapshot: Some(from),
                rejected,
            }),
            Err(JournalError::Fold { source, .. }) => {
                // The events are intact but do not apply to the snapshot's state: trust
                // neither, fold from event 0 (which names the journal's fault if any).
                let why = format!(
                    "snapshot {from}: event {} does not apply to it ({})",
                    source.idx, source.message
                );
                tracing::warn!(journal = %self.path.display(), "projection snapshot ignored: {why}");
                rejected.push(why);
                Ok(SnapshotFold {
                    projections: self.fold(Some(until))?,
                    from_snapshot: None,
                    rejected,
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// `verify`'s check of every snapshot against the fold from event 0, streamed: the
/// stored rows are read one at a time up front (their own checksums), and the fold
/// compares the body hash its state would give at each snapshot idx. Memory holds one
/// hash per snapshot, never a body.
pub(super) struct Audit {
    /// (idx, stored chain hash, stored body hash) of current-format snapshots, by idx.
    expect: std::collections::BTreeMap<u64, ([u8; 32], [u8; 32])>,
    first: Option<String>,
}

impl Audit {
    pub(super) fn load(conn: &Connection, version: u32, path: &Path) -> Result<Audit> {
        let mut audit = Audit {
            expect: Default::default(),
            first: None,
        };
        if version < 3 {
            return Ok(audit);
        }
        let mut stmt = conn
            .prepare(
                "SELECT idx, chain_hash, format, body, body_hash FROM proj_snapshots ORDER BY idx",
            )
            .map_err(|e| sqlerr(path, e))?;
        let mut rows = stmt.query([]).map_err(|e| sqlerr(path, e))?;
        while let Some(r) = rows.next().map_err(|e| sqlerr(path, e))? {
            let row = match read_row(r).map_err(|e| sqlerr(path, e))? {
                Ok(row) => row,
                Err(reason) => {
                    audit.note(format!("proj_snapshots: {reason}"));
                    continue;
                }
            };
            if row.format != SNAPSHOT_FORMAT {
                continue;
            }
            if body_hash(row.format, row.idx, &row.chain_hash, &row.body) != row.body_hash {
                audit.note(format!(
                    "proj_snapshots: snapshot {}: its body does not match its checksum",
                    row.idx
                ));
                continue;
            }
            audit
                .expect
                .insert(row.idx, (row.chain_hash, row.body_hash));
        }
        Ok(audit)
    }

    fn note(&mut self, d: String) {
        if self.first.is_none() {
            self.first = Some(d);
        }
    }

    /// At every event of the fold from 0: compares a snapshot taken at `idx`.
    pub(super) fn check(&mut self, idx: u64, hash: &[u8; 32], proj: &Projections) {
        let Some((chain, stored)) = self.expect.remove(&idx) else {
            return;
        };
        if chain != *hash {
            return self.note(format!(
                "proj_snapshots: snapshot {idx}: its chain hash differs from the event's"
            ));
        }
        let ok = proj
            .snapshot_body()
            .is_some_and(|b| body_hash(SNAPSHOT_FORMAT, idx, hash, &b) == stored);
        if !ok {
            self.note(format!(
                "proj_snapshots: snapshot {idx} differs from the fold of events 0..={idx}"
            ));
        }
    }

    /// The first difference found, after the fold saw every one of `events` events.
    pub(super) fn first_difference(&mut self, events: u64) -> Option<String> {
        if let Some((idx, _)) = self.expect.iter().next() {
            self.note(format!(
                "proj_snapshots: snapshot {idx} describes event {idx}, which the journal does not hold ({events} events)"
            ));
        }
        self.first.take()
    }
}
