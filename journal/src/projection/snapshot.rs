//! The serialized form of [`Projections`] kept in journal snapshots (`proj_snapshots`).
//!
//! A snapshot holds everything the fold accumulated except what `run_created` alone
//! determines (`RunInfo`: the schedule, variants and tasks, which can be large and which
//! the loader re-derives by folding event 0). The encoding is deterministic (sorted maps,
//! fixed field order), so a snapshot equals a from-zero fold at its idx exactly when
//! their encodings are byte-equal: that is how `verify` compares them.

use super::*;

/// Encoding and fold-rules version of snapshot bodies. Bump it whenever `apply` folds
/// any event differently or a field of the state changes: snapshots written under
/// another version are then ignored (folded from an older one or from event 0), never
/// trusted.
pub const SNAPSHOT_FORMAT: u32 = 1;

#[derive(Serialize)]
struct BodyRef<'a> {
    events_applied: u64,
    control: &'a RunControl,
    progress: ProgressBody,
    aggregates: &'a Aggregates,
    pending: &'a BTreeMap<u64, TrialCompleted>,
    session: &'a Option<SessionStarted>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    events_applied: u64,
    control: RunControl,
    progress: ProgressBody,
    aggregates: Aggregates,
    pending: BTreeMap<u64, TrialCompleted>,
    session: Option<SessionStarted>,
}

/// `ScheduleProgress` with the per-slot statuses packed: slots commit in schedule order,
/// so only the committed prefix has a status, two bits each, hex-encoded.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgressBody {
    total_slots: u64,
    next_commit_idx: u64,
    committed: String,
    by_status: BTreeMap<SlotStatus, u64>,
    pruned_variants: BTreeSet<String>,
    consecutive_failures: BTreeMap<String, u32>,
    lost_attempts: BTreeMap<u64, u32>,
}

const STATUSES: [SlotStatus; 4] = [
    SlotStatus::Completed,
    SlotStatus::Failed,
    SlotStatus::SkippedPruned,
    SlotStatus::WorkerLost,
];

fn pack(committed: &[Option<SlotStatus>], prefix: usize) -> Option<String> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(prefix.div_ceil(4) * 2);
    for chunk in committed[..prefix].chunks(4) {
        let mut byte = 0u8;
        for (i, s) in chunk.iter().enumerate() {
            let code = STATUSES.iter().position(|x| Some(*x) == *s)? as u8;
            byte |= code << (2 * i);
        }
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 15) as usize] as char);
    }
    Some(out)
}

fn unpack(hex: &str, prefix: usize, total: usize) -> Result<Vec<Option<SlotStatus>>, String> {
    if prefix > total || hex.len() != prefix.div_ceil(4) * 2 {
        return Err(format!(
            "committed statuses: {} hex digits for {prefix} committed of {total} slots",
            hex.len()
        ));
    }
    let mut out = vec![None; total];
    let digits = hex.as_bytes();
    for (b, pair) in digits.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).map_err(|_| "committed statuses: not hex")?;
        let byte = u8::from_str_radix(text, 16).map_err(|_| "committed statuses: not hex")?;
        for i in 0..4 {
            let slot = b * 4 + i;
            if slot < prefix {
                out[slot] = Some(STATUSES[((byte >> (2 * i)) & 3) as usize]);
            }
        }
    }
    Ok(out)
}

impl Projections {
    /// The snapshot body of this state, or `None` when it cannot be represented
    /// (no run yet; a non-finite metric sum, which JSON cannot hold; statuses that are
    /// not a committed prefix). No snapshot is written then: the fold stays correct.
    pub fn snapshot_body(&self) -> Option<Vec<u8>> {
        self.run.as_ref()?;
        let p = &self.progress;
        let prefix = usize::try_from(p.next_commit_idx).ok()?;
        if prefix > p.committed.len()
            || p.committed[prefix..].iter().any(Option::is_some)
            || p.total_slots != p.committed.len() as u64
        {
            return None;
        }
        let aggs =
            std::iter::once(&self.aggregates.overall).chain(self.aggregates.variants.values());
        if aggs
            .flat_map(|a| a.metric_sums.values())
            .any(|v| !v.is_finite())
        {
            return None;
        }
        let body = BodyRef {
            events_applied: self.events_applied,
            control: &self.control,
            progress: ProgressBody {
                total_slots: p.total_slots,
                next_commit_idx: p.next_commit_idx,
                committed: pack(&p.committed, prefix)?,
                by_status: p.by_status.clone(),
                pruned_variants: p.pruned_variants.clone(),
                consecutive_failures: p.consecutive_failures.clone(),
                lost_attempts: p.lost_attempts.clone(),
            },
            aggregates: &self.aggregates,
            pending: &self.pending,
            session: &self.session,
        };
        serde_json::to_vec(&body).ok()
    }

    /// The state a snapshot body describes, on top of `base`: the fold of event 0 alone
    /// (the run's `run_created`). Every inconsistency is an error naming it, never a
    /// panic: a snapshot row may have been edited by hand.
    pub(crate) fn from_snapshot(base: Projections, body: &[u8]) -> Result<Projections, String> {
        let run = base.run.ok_or("event 0 is not run_created")?;
        let b: Body =
            serde_json::from_slice(body).map_err(|e| format!("body does not decode: {e}"))?;
        let total = run.schedule.len();
        if b.progress.total_slots != total as u64 {
            return Err(format!(
                "body has {} slots, the run has {total}",
                b.progress.total_slots
            ));
        }
        let prefix = usize::try_from(b.progress.next_commit_idx)
            .map_err(|_| "next_commit_idx out of range".to_string())?;
        let committed = unpack(&b.progress.committed, prefix, total)?;
        if b.events_applied == 0 || b.control.last_event_idx != b.events_applied - 1 {
            return Err(format!(
                "body is inconsistent: {} events applied, last event idx {}",
                b.events_applied, b.control.last_event_idx
            ));
        }
        Ok(Projections {
            run: Some(run),
            control: b.control,
            progress: ScheduleProgress {
                total_slots: b.progress.total_slots,
                next_commit_idx: b.progress.next_commit_idx,
                committed,
                by_status: b.progress.by_status,
                pruned_variants: b.progress.pruned_variants,
                consecutive_failures: b.progress.consecutive_failures,
                lost_attempts: b.progress.lost_attempts,
            },
            aggregates: b.aggregates,
            pending: b.pending,
            events_applied: b.events_applied,
            session: b.session,
        })
    }

    /// Whether `kind` ends a session (a snapshot is taken in its transaction, so the
    /// next `continue` or `replay` of the run starts from there).
    pub(crate) fn ends_session(kind: &str) -> bool {
        matches!(
            kind,
            "run_completed" | "run_failed" | "run_killed" | "run_interrupted"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_pack_and_unpack() {
        for n in 0..11usize {
            let total = n + 3;
            let mut v: Vec<Option<SlotStatus>> = (0..n).map(|i| Some(STATUSES[i % 4])).collect();
            v.resize(total, None);
            let hex = pack(&v, n).unwrap();
            assert_eq!(unpack(&hex, n, total).unwrap(), v);
        }
        assert!(unpack("zz", 1, 4).is_err());
        assert!(unpack("00", 9, 4).is_err());
        assert!(unpack("000", 1, 4).is_err());
    }
}
