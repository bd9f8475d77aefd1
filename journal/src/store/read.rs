//! Reading the journal back: streaming rows, checking the hash chain, decoding, and
//! folding on two threads (`fold`, `rebuild`, `diff_materialized`, `verify_chain`).

use super::hash_many::HashMany;
use super::snapshot;
use super::*;
use batch::RawBatch;

mod batch;

impl Journal {
    /// Stream events `from..=to` (inclusive; `None` = to the end) in idx order.
    /// With `check_chain`, each event's hash is recomputed and a break stops the stream
    /// with [`JournalError::Chain`]; `from` must then be 0 (the chain starts there).
    pub fn for_each_event(
        &self,
        from: u64,
        to: Option<u64>,
        check_chain: bool,
        mut f: impl FnMut(StoredEvent) -> Result<()>,
    ) -> Result<()> {
        self.for_each_raw(from, to, check_chain, |raw| {
            f(decode_raw(&self.path, raw, check_chain)?)
        })
    }

    /// Stream the events of one `kind` in idx order, decoded, chain not checked (their
    /// rows are not contiguous). The kinds a session writes a handful of (session
    /// starts and ends, control, warnings, backend jobs) are read through the partial
    /// index `events_rare_kinds` (schema 3), so `continue` does not scan millions of
    /// per-trial rows; the per-trial kinds, and older journals, scan the table.
    pub fn for_each_event_of_kind(
        &self,
        kind: &str,
        mut f: impl FnMut(StoredEvent) -> Result<()>,
    ) -> Result<()> {
        let common = COMMON_KINDS.contains(&kind);
        let sql = if self.version >= 3 && !common {
            // The index's condition repeated verbatim: SQLite then uses the index.
            format!("SELECT {DECODED_COLUMNS} FROM events WHERE kind = ?1 AND kind NOT IN ({}) ORDER BY idx", COMMON_KINDS_SQL)
        } else {
            format!("SELECT {DECODED_COLUMNS} FROM events WHERE kind = ?1 ORDER BY idx")
        };
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| sqlerr(&self.path, e))?;
        let mut rows = stmt.query([kind]).map_err(|e| sqlerr(&self.path, e))?;
        while let Some(row) = rows.next().map_err(|e| sqlerr(&self.path, e))? {
            f(decoded_row(&self.path, row)?)?;
        }
        Ok(())
    }

    /// The rows of `events`, chain-checked (when asked) but not decoded.
    fn for_each_raw(
        &self,
        from: u64,
        to: Option<u64>,
        check_chain: bool,
        f: impl FnMut(RawRow<'_>) -> Result<()>,
    ) -> Result<()> {
        self.for_each_raw_after(from, [0; 32], to, check_chain, false, f)
    }

    /// Like `for_each_raw`, with the chain checked from `from` on given the hash of the
    /// event before it (`prev`; zeros for event 0): a fold resuming from a snapshot.
    /// With `defer_hash`, no row's hash is recomputed here: each is handed on with the
    /// stored hash of the row before it ([`RawRow::unchecked_prev`]) and the receiver
    /// must check it (every other check of the row is made here all the same).
    fn for_each_raw_after(
        &self,
        from: u64,
        prev: [u8; 32],
        to: Option<u64>,
        check_chain: bool,
        defer_hash: bool,
        mut f: impl FnMut(RawRow<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, kind, schedule_idx, trial_id, ts, payload, hash FROM events WHERE idx >= ?1 AND idx <= ?2 ORDER BY idx",
            )
            .map_err(|e| sqlerr(&self.path, e))?;
        let to = to.unwrap_or(i64::MAX as u64).min(i64::MAX as u64);
        let mut rows = stmt
            .query(params![from as i64, to as i64])
            .map_err(|e| sqlerr(&self.path, e))?;
        let mut prev = prev;
        let mut expect = from;
        while let Some(row) = rows.next().map_err(|e| sqlerr(&self.path, e))? {
            let idx: i64 = row.get(0).map_err(|e| sqlerr(&self.path, e))?;
            let idx = idx as u64;
            let chain_err = |reason: String| JournalError::Chain {
                path: self.path.clone(),
                idx,
                reason,
            };
            // A column of the wrong storage class is a hand edit: report it at its idx.
            let column = |i: usize, blob: bool| -> Result<rusqlite::types::ValueRef<'_>> {
                use rusqlite::types::ValueRef;
                let v = row.get_ref(i).map_err(|e| sqlerr(&self.path, e))?;
                match (blob, v) {
                    (true, ValueRef::Blob(_)) | (false, ValueRef::Text(_)) => Ok(v),
                    _ => Err(chain_err(format!(
                        "column {} holds {:?}, not {} (edited by hand?)",
                        COLUMNS[i],
                        v.data_type(),
                        if blob { "blob" } else { "text" }
                    ))),
                }
            };
            let utf8 = || chain_err("text column is not valid UTF-8".into());
            let kind = column(1, false)?.as_str().map_err(|_| utf8())?;
            let payload = column(5, false)?.as_str().map_err(|_| utf8())?;
            let ts = column(4, false)?.as_str().map_err(|_| utf8())?;
            let hash_ref = column(6, true)?.as_blob().map_err(|_| utf8())?;
            if check_chain && idx != expect {
                return Err(JournalError::Chain {
                    path: self.path.clone(),
                    idx: expect,
                    reason: format!("event {expect} is missing (next stored idx is {idx})"),
                });
            }
            let hash: [u8; 32] = hash_ref
                .try_into()
                .map_err(|_| chain_err("stored hash is not 32 bytes".into()))?;
            let sidx: Option<i64> = row.get(2).map_err(|e| sqlerr(&self.path, e))?;
            let tid = match row.get_ref(3).map_err(|e| sqlerr(&self.path, e))? {
                rusqlite::types::ValueRef::Null => None,
                v => Some(v.as_str().map_err(|_| utf8())?),
            };
            let sidx = sidx.map(|v| v as u64);
            let row = RawRow {
                idx,
                kind,
                payload,
                ts,
                hash,
                schedule_idx: sidx,
                trial_id: tid,
                unchecked_prev: None,
            };
            let row = match check_chain {
                false => row,
                true if defer_hash => RawRow {
                    unchecked_prev: Some(prev),
                    ..row
                },
                true => {
                    check_hash(&self.path, &prev, &row)?;
                    row
                }
            };
            prev = hash;
            expect = idx + 1;
            f(row)?;
        }
        Ok(())
    }

    /// Fold `0..=until` into fresh projections on two cores: this thread reads rows and
    /// checks the chain while a second decodes and applies, batch by batch, in order.
    /// `sink`, when given, runs on the folding thread after every event with the state
    /// after it and the rows built so far; it may take the rows away (streaming them to
    /// a table keeps memory flat whatever the journal holds).
    pub(super) fn fold_parallel(
        &self,
        start: FoldStart,
        until: Option<u64>,
        changes: Changes,
        mut sink: Option<FoldSink<'_>>,
    ) -> Result<(Projections, Changes)> {
        const BATCH: usize = 512;
        const QUEUED: usize = 16;
        let (tx, rx) = std::sync::mpsc::sync_channel::<RawBatch>(QUEUED);
        // Batches sent and not yet taken by the worker. Each row's hash check needs only
        // its own content and the stored hash of the row before it, so either thread can
        // make it, a batch at a time ([`HashMany`]): the reader hands a batch's checks to
        // the worker when the worker waits for work (few batches queued) and makes them
        // itself when the worker is behind, which keeps both cores busy whatever the mix
        // of event sizes.
        let queued = std::sync::atomic::AtomicUsize::new(0);
        let queued = &queued;
        // Folded batches go back to the reader, emptied, for their buffers to be
        // filled again: no allocation per batch, no buffer freed on another thread.
        let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<RawBatch>(QUEUED + 2);
        let path = self.path.clone();
        let FoldStart { proj, next, prev } = start;
        std::thread::scope(|scope| {
            let worker = scope.spawn(move || -> Result<(Projections, Changes)> {
                let mut changes = changes;
                let mut proj = proj;
                let mut many = HashMany::new();
                for mut batch in rx {
                    queued.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    // The rows before a bad hash are folded first: the earliest fault
                    // (a fold error before it, or the hash) is the one reported.
                    let bad = match batch.unchecked {
                        true => batch.first_bad(&mut many, &path),
                        false => None,
                    };
                    let upto = bad.as_ref().map_or(batch.rows.len(), |(i, _)| *i);
                    for i in 0..upto {
                        let raw = batch.row(i);
                        let (idx, hash, ts) = (raw.idx, raw.hash, raw.ts);
                        let ev = decode_event(&path, &raw, true)?;
                        proj.apply_decoded(idx, ts, ev, &mut changes)
                            .map_err(|source| JournalError::Fold {
                                path: path.clone(),
                                source,
                            })?;
                        if let Some(sink) = sink.as_mut() {
                            sink(idx, &hash, &proj, &mut changes)?;
                        }
                    }
                    if let Some((_, e)) = bad {
                        return Err(e);
                    }
                    batch.clear();
                    let _ = back_tx.try_send(batch);
                }
                Ok((proj, changes))
            });
            let fresh = || {
                back_rx
                    .try_recv()
                    .unwrap_or_else(|_| RawBatch::with_room(BATCH))
            };
            let mut many = HashMany::new();
            // Send a full (or the last) batch, its hashes checked here or left to the
            // worker; a bad hash sends the rows before it and is this thread's error.
            let mut send = |mut batch: RawBatch| -> std::result::Result<(), Option<JournalError>> {
                let busy = queued.load(std::sync::atomic::Ordering::Relaxed) >= QUEUED / 2;
                #[cfg(feature = "testkit")]
                let busy =
                    match crate::testkit::FOLD_CHECKS.load(std::sync::atomic::Ordering::Relaxed) {
                        crate::testkit::FOLD_CHECKS_READER => true,
                        crate::testkit::FOLD_CHECKS_FOLDER => false,
                        _ => busy,
                    };
                let bad = match busy {
                    true => batch.first_bad(&mut many, &self.path),
                    false => {
                        batch.unchecked = true;
                        None
                    }
                };
                if let Some((i, _)) = &bad {
                    batch.truncate(*i);
                }
                queued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // A send fails only when the worker stopped on an error: it reports it.
                tx.send(batch).map_err(|_| None)?;
                bad.map_or(Ok(()), |(_, e)| Err(Some(e)))
            };
            let mut batch = fresh();
            let mut worker_gone = false;
            // Every row's hash is left to the batch check (`send`).
            let read = self.for_each_raw_after(next, prev, until, true, true, |raw| {
                batch.push(&raw);
                if batch.rows.len() == BATCH {
                    match send(std::mem::replace(&mut batch, fresh())) {
                        Ok(()) => {}
                        Err(Some(e)) => return Err(e),
                        Err(None) => {
                            worker_gone = true;
                            return Err(JournalError::Missing {
                                path: PathBuf::new(),
                            });
                        }
                    }
                }
                Ok(())
            });
            // Also after a read error: the rows before it are still to be checked and
            // folded, and the earliest fault is the one reported.
            let read = match (read, worker_gone || batch.rows.is_empty()) {
                (read, true) => read,
                (read, false) => match (send(batch), read) {
                    (Err(None), read) => {
                        worker_gone = true;
                        read
                    }
                    (Err(Some(e)), Ok(())) => Err(e),
                    (Err(Some(e)), Err(r)) if error_idx(&e) < error_idx(&r) => Err(e),
                    (_, read) => read,
                },
            };
            drop(tx);
            let folded = worker
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            match (read, folded) {
                (Ok(()), folded) => folded,
                (Err(_), Err(e)) if worker_gone => Err(e),
                // Both failed: the worker saw every event before the reader's failure,
                // so its error (if any) is the earlier one.
                (Err(r), Err(w)) => Err(if error_idx(&w) <= error_idx(&r) { w } else { r }),
                (Err(r), Ok(_)) => Err(r),
            }
        })
    }

    /// Recompute the whole hash chain without decoding the payloads (one streamed pass:
    /// a payload is decoded only where the hash fails, to name the fault). For
    /// `inspect`; [`verify_chain`](Self::verify_chain) also decodes every event.
    pub fn check_chain_hashes(&self) -> Result<ChainReport> {
        let mut n = 0u64;
        let mut head = [0u8; 32];
        let report = |n, head: &[u8; 32], first_bad| ChainReport {
            events: n,
            head_hash: hex(head),
            first_bad,
        };
        match self.for_each_raw(0, None, true, |raw| {
            n += 1;
            head = raw.hash;
            Ok(())
        }) {
            Ok(()) => Ok(report(n, &head, None)),
            Err(JournalError::Chain { idx, reason, .. }) => {
                Ok(report(n, &head, Some((idx, reason))))
            }
            Err(JournalError::Decode { idx, source, .. }) => {
                Ok(report(n, &head, Some((idx, source.to_string()))))
            }
            Err(e) => Err(e),
        }
    }

    /// Recompute the whole hash chain.
    pub fn verify_chain(&self) -> Result<ChainReport> {
        let mut n = 0u64;
        let mut head = [0u8; 32];
        match self.for_each_event(0, None, true, |e| {
            n += 1;
            head = e.hash;
            Ok(())
        }) {
            Ok(()) => Ok(ChainReport {
                events: n,
                head_hash: hex(&head),
                first_bad: None,
            }),
            Err(JournalError::Chain { idx, reason, .. }) => Ok(ChainReport {
                events: n,
                head_hash: hex(&head),
                first_bad: Some((idx, reason)),
            }),
            Err(JournalError::Decode { idx, source, .. }) => Ok(ChainReport {
                events: n,
                head_hash: hex(&head),
                first_bad: Some((idx, source.to_string())),
            }),
            Err(e) => Err(e),
        }
    }

    /// Fold events `0..=until` (all when `None`) into fresh projections, checking the
    /// chain as it goes. An `until` past the end is an error naming the last idx.
    pub fn fold(&self, until: Option<u64>) -> Result<Projections> {
        if let Some(u) = until {
            if u >= self.next_idx {
                return Err(JournalError::PastEnd {
                    path: self.path.clone(),
                    idx: u,
                    last: self
                        .next_idx
                        .checked_sub(1)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "none: the journal is empty".into()),
                });
            }
        }
        let (proj, _) = self.fold_parallel(FoldStart::zero(), until, Changes::fold_only(), None)?;
        Ok(proj)
    }

    /// Recompute every materialized projection from events, in one transaction. Rows
    /// are written as the fold produces them (a second, read-only connection reads the
    /// events), so memory does not grow with the number of rows.
    pub fn rebuild(&mut self) -> Result<Projections> {
        let path = self.path.clone();
        let reader = Journal::open_read_only(&path)?;
        let last = reader.len().checked_sub(1);
        let snapshot_every = self.snapshot_every;
        let conn = &mut self.conn;
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| sqlerr(&path, e))?;
        let folded = (|| -> Result<Projections> {
            materialize::clear(conn).map_err(|e| sqlerr(&path, e))?;
            snapshot::clear(conn).map_err(|e| sqlerr(&path, e))?;
            let (proj, changes) = {
                let (c, p): (&mut Connection, &Path) = (&mut *conn, &path);
                let every = snapshot_every;
                let mut sink = move |idx: u64,
                                     hash: &[u8; 32],
                                     proj: &Projections,
                                     ch: &mut Changes|
                      -> Result<()> {
                    if (idx + 1).is_multiple_of(every) || Some(idx) == last {
                        snapshot::write(c, proj, hash).map_err(|e| sqlerr(p, e))?;
                    }
                    flush_rows(c, p, ch, FLUSH_ROWS)
                };
                reader.fold_parallel(
                    FoldStart::zero(),
                    None,
                    Changes::default(),
                    Some(&mut sink),
                )?
            };
            materialize::write_rows(conn, &changes.rows).map_err(|e| sqlerr(&path, e))?;
            materialize::write_docs(conn, &proj).map_err(|e| sqlerr(&path, e))?;
            Ok(proj)
        })();
        match folded {
            Ok(proj) => {
                conn.execute_batch("COMMIT").map_err(|e| sqlerr(&path, e))?;
                Ok(proj)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Compare materialized tables with a rebuild from events into a scratch database
    /// (a temporary file SQLite deletes on close, so memory stays flat), and the stored
    /// documents with those of a fold up to the event they name. Returns the first
    /// difference, or `None` when equal.
    pub fn diff_materialized(&self) -> Result<Option<String>> {
        let path = self.path.clone();
        let stored = materialize::stored_docs(&self.conn).map_err(|e| sqlerr(&path, e))?;
        // The prefix the stored documents describe.
        let docs_idx = stored
            .iter()
            .find(|(name, _)| name == "run_control_v2")
            .and_then(|(_, doc)| serde_json::from_str::<serde_json::Value>(doc).ok())
            .and_then(|doc| doc.get("last_event_idx").and_then(|v| v.as_u64()));
        // An empty filename: a private temporary database on disk.
        let mut scratch = Connection::open("").map_err(|e| sqlerr(&path, e))?;
        scratch
            .execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
            .map_err(|e| sqlerr(&path, e))?;
        for (_, sql) in MIGRATIONS {
            scratch.execute_batch(sql).map_err(|e| sqlerr(&path, e))?;
        }
        let mut docs_then = None;
        let mut snaps = snapshot::Audit::load(&self.conn, self.version, &path)?;
        let (proj, changes) = {
            scratch
                .execute_batch("BEGIN")
                .map_err(|e| sqlerr(&path, e))?;
            let (c, p): (&mut Connection, &Path) = (&mut scratch, &path);
            let docs_then = &mut docs_then;
            let snaps = &mut snaps;
            let mut sink = move |idx: u64,
                                 hash: &[u8; 32],
                                 proj: &Projections,
                                 ch: &mut Changes|
                  -> Result<()> {
                if Some(idx) == docs_idx {
                    *docs_then = Some(materialize::render_docs(proj));
                }
                snaps.check(idx, hash, proj);
                flush_rows(c, p, ch, FLUSH_ROWS)
            };
            self.fold_parallel(FoldStart::zero(), None, Changes::default(), Some(&mut sink))?
        };
        if let Some(d) = snaps.first_difference(self.next_idx) {
            return Ok(Some(d));
        }
        materialize::write_rows(&scratch, &changes.rows).map_err(|e| sqlerr(&path, e))?;
        scratch
            .execute_batch("COMMIT")
            .map_err(|e| sqlerr(&path, e))?;
        if let Some(d) = docs_difference(&stored, docs_idx, docs_then, &proj) {
            return Ok(Some(d));
        }
        materialize::diff(&self.conn, &scratch).map_err(|e| sqlerr(&path, e))
    }
}

/// The per-trial event kinds, left out of the partial index `events_rare_kinds`
/// (migrations/0003_snapshots.sql holds the same list).
const COMMON_KINDS: [&str; 5] = [
    "trial_dispatched",
    "trial_completed",
    "slot_committed",
    "slot_skipped_pruned",
    "completion_dropped",
];
const COMMON_KINDS_SQL: &str = "'trial_dispatched', 'trial_completed', 'slot_committed', 'slot_skipped_pruned', 'completion_dropped'";

/// Rows a streaming fold keeps before writing them out.
const FLUSH_ROWS: usize = 4096;

/// The callback of [`Journal::fold_parallel`]: (idx just applied, its hash, state, rows
/// so far).
type FoldSink<'s> =
    &'s mut (dyn FnMut(u64, &[u8; 32], &Projections, &mut Changes) -> Result<()> + Send);

/// Where a fold starts: fresh projections at event 0, or the state after event
/// `next - 1` (a snapshot) with that event's hash to continue the chain check from.
pub(super) struct FoldStart {
    pub proj: Projections,
    pub next: u64,
    pub prev: [u8; 32],
}

impl FoldStart {
    pub(super) fn zero() -> FoldStart {
        FoldStart {
            proj: Projections::new(),
            next: 0,
            prev: [0; 32],
        }
    }
}

fn flush_rows(conn: &Connection, path: &Path, ch: &mut Changes, at_least: usize) -> Result<()> {
    if ch.rows.len() >= at_least {
        materialize::write_rows(conn, &ch.rows).map_err(|e| sqlerr(path, e))?;
        ch.rows.clear();
    }
    Ok(())
}

/// How the stored documents differ from the fold of the prefix they name, if they do.
fn docs_difference(
    stored: &[(String, String)],
    docs_idx: Option<u64>,
    docs_then: Option<[(&'static str, String); 3]>,
    proj: &Projections,
) -> Option<String> {
    if stored.is_empty() && proj.events_applied == 0 {
        return None;
    }
    let Some(rendered) = docs_then else {
        return Some(match docs_idx {
            Some(i) => format!(
                "proj_docs: the stored documents describe event {i}, which the journal does not hold"
            ),
            None => "proj_docs: no run_control_v2 document naming the event it describes".into(),
        });
    };
    if stored.len() != rendered.len() {
        return Some(format!(
            "proj_docs: {} documents materialized, {} rebuilt from events",
            stored.len(),
            rendered.len()
        ));
    }
    for (name, doc) in rendered {
        match stored.iter().find(|(n, _)| n == name) {
            Some((_, have)) if *have == doc => {}
            Some((_, have)) => {
                return Some(format!(
                    "proj_docs {name}: materialized {have:?}, rebuilt {doc:?}"
                ))
            }
            None => return Some(format!("proj_docs: {name} is missing")),
        }
    }
    None
}

const COLUMNS: [&str; 7] = [
    "idx",
    "kind",
    "schedule_idx",
    "trial_id",
    "ts",
    "payload",
    "hash",
];

/// A stored row before decoding, borrowed from SQLite's row buffer.
struct RawRow<'a> {
    idx: u64,
    kind: &'a str,
    payload: &'a str,
    ts: &'a str,
    hash: [u8; 32],
    schedule_idx: Option<u64>,
    trial_id: Option<&'a str>,
    /// Set when the row's hash was not checked yet: the stored hash of the row before.
    unchecked_prev: Option<[u8; 32]>,
}

/// Recompute a row's chain hash from the stored hash of the row before it (`prev`) and
/// compare it with the stored one. A mismatch names the most precise fault: a payload
/// that no longer decodes, or one that disagrees with its own index columns, before a
/// bare hash mismatch.
fn check_hash(path: &Path, prev: &[u8; 32], r: &RawRow<'_>) -> Result<()> {
    let want = chain_hash(
        prev,
        r.idx,
        r.kind,
        r.schedule_idx,
        r.trial_id,
        r.ts,
        r.payload,
    );
    if want == r.hash {
        return Ok(());
    }
    let chain_err = |reason: &str| JournalError::Chain {
        path: path.to_path_buf(),
        idx: r.idx,
        reason: reason.into(),
    };
    Err(match Event::decode(r.kind, r.payload) {
        Err(source) => JournalError::Decode {
            path: path.to_path_buf(),
            idx: r.idx,
            source,
        },
        Ok(ev) if ev.schedule_idx() != r.schedule_idx || ev.trial_id() != r.trial_id => {
            chain_err("schedule_idx/trial_id columns disagree with the payload")
        }
        Ok(_) => chain_err("hash does not match content (edited, reordered or forged event)"),
    })
}

/// Decode a row; with `check_columns`, its `schedule_idx`/`trial_id` columns must agree
/// with the payload (they are hashed, so a disagreement is an edit).
fn decode_raw(path: &Path, raw: RawRow<'_>, check_columns: bool) -> Result<StoredEvent> {
    Ok(StoredEvent {
        idx: raw.idx,
        ts: raw.ts.to_owned(),
        event: decode_event(path, &raw, check_columns)?,
        hash: raw.hash,
    })
}

/// [`decode_raw`] without the row's timestamp and hash.
fn decode_event(path: &Path, raw: &RawRow<'_>, check_columns: bool) -> Result<Event> {
    let event = Event::decode(raw.kind, raw.payload).map_err(|source| JournalError::Decode {
        path: path.into(),
        idx: raw.idx,
        source,
    })?;
    if check_columns
        && (raw.schedule_idx != event.schedule_idx() || raw.trial_id != event.trial_id())
    {
        return Err(JournalError::Chain {
            path: path.into(),
            idx: raw.idx,
            reason: "schedule_idx/trial_id columns disagree with the payload".into(),
        });
    }
    Ok(event)
}

fn error_idx(e: &JournalError) -> u64 {
    match e {
        JournalError::Chain { idx, .. } | JournalError::Decode { idx, .. } => *idx,
        JournalError::Fold { source, .. } => source.idx,
        _ => u64::MAX,
    }
}

/// The columns [`decoded_row`] reads, in its order.
pub(super) const DECODED_COLUMNS: &str = "idx, kind, payload, ts, hash";

/// One `events` row selected as [`DECODED_COLUMNS`], decoded (chain not checked); a row
/// edited by hand into the wrong types is a chain fault at its idx, never a panic.
pub(super) fn decoded_row(path: &std::path::Path, row: &rusqlite::Row<'_>) -> Result<StoredEvent> {
    let idx = row.get::<_, i64>(0).map_err(|e| sqlerr(path, e))? as u64;
    let bad = |reason: &str| JournalError::Chain {
        path: path.to_path_buf(),
        idx,
        reason: reason.into(),
    };
    let text = |i: usize| -> Result<String> {
        row.get::<_, String>(i)
            .map_err(|_| bad("a text column holds another type (edited by hand?)"))
    };
    let (kind, payload, ts) = (text(1)?, text(2)?, text(3)?);
    let hash: Vec<u8> = row.get(4).map_err(|_| bad("hash is not a blob"))?;
    let event = Event::decode(&kind, &payload).map_err(|source| JournalError::Decode {
        path: path.to_path_buf(),
        idx,
        source,
    })?;
    Ok(StoredEvent {
        idx,
        ts,
        event,
        hash: hash
            .try_into()
            .map_err(|_| bad("stored hash is not 32 bytes"))?,
    })
}
