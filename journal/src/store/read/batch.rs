//! Rows read from the journal, copied into batches for the folding thread, and the
//! chain check of a whole batch at once ([`HashMany`]).

use super::super::hash_many::HashMany;
use super::super::{chain_message, JournalError};
use super::{check_hash, RawRow};
use std::path::Path;

/// Rows copied into one buffer per batch, so the reader thread makes one allocation per
/// batch and the decoding thread allocates (and frees) everything else itself.
#[derive(Default)]
pub(super) struct RawBatch {
    text: String,
    pub(super) rows: Vec<RawSpan>,
    /// The rows' hashes are not checked yet: whoever takes the batch checks them.
    pub(super) unchecked: bool,
}

pub(super) struct RawSpan {
    idx: u64,
    hash: [u8; 32],
    schedule_idx: Option<u64>,
    /// Byte ranges in `text`: kind, payload, ts, trial_id (empty range + flag for None).
    ranges: [(u32, u32); 4],
    has_trial_id: bool,
    unchecked_prev: Option<[u8; 32]>,
}

impl RawBatch {
    /// An empty batch with room for `rows` rows of typical size.
    pub(super) fn with_room(rows: usize) -> RawBatch {
        RawBatch {
            text: String::with_capacity(rows * 512),
            rows: Vec::with_capacity(rows),
            unchecked: false,
        }
    }

    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.rows.clear();
        self.unchecked = false;
    }

    /// Keep the first `n` rows.
    pub(super) fn truncate(&mut self, n: usize) {
        self.rows.truncate(n);
    }

    /// Check the chain hash of every row that carries the stored hash of the row before
    /// it, all at once: the first row whose hash does not match, with the error
    /// [`check_hash`] names for it. A mismatch is confirmed by `check_hash` (one
    /// `blake3::hash`) before it is reported, so the batched hashing can only ever be
    /// faster, never the judge.
    pub(super) fn first_bad(
        &self,
        many: &mut HashMany,
        path: &Path,
    ) -> Option<(usize, JournalError)> {
        many.clear();
        // Byte ranges of `text` (no char-boundary checks: the hash reads bytes).
        let text = self.text.as_bytes();
        for sp in &self.rows {
            let at = |k: usize| &text[sp.ranges[k].0 as usize..sp.ranges[k].1 as usize];
            many.push(|b| {
                if let Some(prev) = &sp.unchecked_prev {
                    chain_message(
                        b,
                        prev,
                        sp.idx,
                        at(0),
                        sp.schedule_idx,
                        sp.has_trial_id.then(|| at(3)),
                        at(2),
                        at(1),
                    )
                }
            });
        }
        let hashes = many.hashes();
        for (i, (sp, hash)) in self.rows.iter().zip(hashes).enumerate() {
            let Some(prev) = &sp.unchecked_prev else {
                continue;
            };
            if sp.hash != *hash {
                if let Err(e) = check_hash(path, prev, &self.row(i)) {
                    return Some((i, e));
                }
                debug_assert!(false, "batched and single chain hashes disagree at row {i}");
            }
        }
        None
    }

    pub(super) fn push(&mut self, r: &RawRow<'_>) {
        let mut put = |t: &str| {
            let start = self.text.len() as u32;
            self.text.push_str(t);
            (start, self.text.len() as u32)
        };
        let ranges = [
            put(r.kind),
            put(r.payload),
            put(r.ts),
            put(r.trial_id.unwrap_or("")),
        ];
        self.rows.push(RawSpan {
            idx: r.idx,
            hash: r.hash,
            schedule_idx: r.schedule_idx,
            ranges,
            has_trial_id: r.trial_id.is_some(),
            unchecked_prev: r.unchecked_prev,
        });
    }

    pub(super) fn row(&self, i: usize) -> RawRow<'_> {
        let sp = &self.rows[i];
        let at = |k: usize| &self.text[sp.ranges[k].0 as usize..sp.ranges[k].1 as usize];
        RawRow {
            idx: sp.idx,
            kind: at(0),
            payload: at(1),
            ts: at(2),
            hash: sp.hash,
            schedule_idx: sp.schedule_idx,
            trial_id: sp.has_trial_id.then(|| at(3)),
            unchecked_prev: sp.unchecked_prev,
        }
    }
}
