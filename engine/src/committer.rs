//! The deterministic committer: turns completions that arrive in any order into commits
//! in schedule order.
//!
//! It buffers completions by `schedule_idx` and commits only the contiguous prefix from
//! `next_commit_idx`. Pruning is decided here, at commit time only, so the decision is
//! the same whatever the completion order. It is pure logic: the coordinator feeds it
//! and journals what it returns.

use journal::event::{Classification, PruningSpec, SlotStatus, StreakCounts};
use std::collections::{BTreeMap, HashMap};

/// What the committer needs to know about an arriving completion.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Arrival {
    pub schedule_idx: u64,
    pub trial_id: String,
    pub ticket_id: String,
    pub completion_seq: u64,
    pub classification: Classification,
}

impl Arrival {
    pub(crate) fn dedupe_key(&self, run_id: &str) -> String {
        format!(
            "{run_id}/{}/{}/{}",
            self.schedule_idx, self.trial_id, self.completion_seq
        )
    }
}

/// The committer's verdict on an arrival.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Offer {
    /// New: journal it as `trial_completed`.
    Accepted,
    /// A repeat delivery of something already buffered or committed: journal
    /// `completion_dropped` and ignore.
    Duplicate { reason: String },
    /// A completion that contradicts the journal (conflicting result for a slot, unknown
    /// ticket, slot never dispatched): the run must fail, the journal stays intact.
    Fault { message: String },
}

/// One step of the committer's output, in the order it must be journaled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CommitAction {
    Commit {
        schedule_idx: u64,
        trial_id: String,
        status: SlotStatus,
        classification: Classification,
    },
    SkipPruned {
        schedule_idx: u64,
        variant_idx: usize,
    },
    Prune {
        variant_idx: usize,
        consecutive_failures: u32,
        at_schedule_idx: u64,
    },
    /// Fail fast: the variant's first trials all failed to spawn, so its agent command
    /// cannot start; the variant is pruned like [`CommitAction::Prune`].
    StopUnspawnable {
        variant_idx: usize,
        spawn_failures: u32,
        at_schedule_idx: u64,
    },
}

/// A variant whose first this-many trials (or all of them, if it has fewer) fail to
/// spawn is stopped: the rest would fail the same way.
pub(crate) const FAIL_FAST_SPAWN_FAILURES: u32 = 3;

/// `spawn_only` value of a variant that has committed something other than a spawn
/// failure: fail fast no longer applies to it.
const SPAWNED: u32 = u32::MAX;

pub(crate) fn slot_status(c: Classification) -> SlotStatus {
    match c {
        Classification::Success | Classification::Failure => SlotStatus::Completed,
        Classification::WorkerLost => SlotStatus::WorkerLost,
        _ => SlotStatus::Failed,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct DeterministicCommitter {
    /// Variant index of each schedule slot: the only per-slot state (4 bytes a slot, so
    /// a 1,000,000-slot schedule costs 4 MB here).
    slot_variants: Vec<u32>,
    /// Tickets of the slots dispatched and not yet committed (bounded by what is in
    /// flight or buffered; a commit removes its entry).
    dispatched: HashMap<u64, String>,
    next_commit_idx: u64,
    buffered: BTreeMap<u64, Arrival>,
    consecutive: Vec<u32>,
    pruned: Vec<bool>,
    prune_after: Option<u32>,
    /// What grows a streak (set with [`DeterministicCommitter::counting`]).
    streak: PruningSpec,
    /// Per variant: how many trials committed so far, all spawn failures ([`SPAWNED`]
    /// once one was not).
    spawn_only: Vec<u32>,
    /// Per variant: its number of slots.
    slots_of: Vec<u32>,
}

impl DeterministicCommitter {
    /// `slot_variants[i]` is the variant index of schedule slot i.
    pub(crate) fn new(slot_variants: Vec<u32>, variants: usize, prune_after: Option<u32>) -> Self {
        let mut slots_of = vec![0u32; variants];
        for &v in &slot_variants {
            if let Some(n) = slots_of.get_mut(v as usize) {
                *n += 1;
            }
        }
        DeterministicCommitter {
            spawn_only: vec![0; variants],
            slots_of,
            slot_variants,
            dispatched: HashMap::new(),
            next_commit_idx: 0,
            buffered: BTreeMap::new(),
            consecutive: vec![0; variants],
            pruned: vec![false; variants],
            prune_after,
            streak: PruningSpec::default(),
        }
    }

    /// Streaks count what `counts` says (default: every unsuccessful verdict).
    pub(crate) fn counting(mut self, counts: StreakCounts) -> Self {
        self.streak.counts = counts;
        self
    }

    /// Restore from projected state (continue after a crash).
    pub(crate) fn restore(
        &mut self,
        next_commit_idx: u64,
        consecutive: Vec<u32>,
        pruned: Vec<bool>,
        dispatched: impl IntoIterator<Item = (u64, String)>,
        buffered: impl IntoIterator<Item = Arrival>,
    ) {
        self.next_commit_idx = next_commit_idx;
        self.consecutive = consecutive;
        self.pruned = pruned;
        for (idx, ticket) in dispatched {
            if idx >= next_commit_idx && idx < self.total() {
                self.dispatched.insert(idx, ticket);
            }
        }
        for a in buffered {
            self.buffered.insert(a.schedule_idx, a);
        }
    }

    /// Restore the fail-fast count of each variant: `committed[v]` trials committed, of
    /// which `spawn_failures[v]` failed to spawn.
    pub(crate) fn restore_spawn_failures(&mut self, committed: &[u64], spawn_failures: &[u64]) {
        for (v, slot) in self.spawn_only.iter_mut().enumerate() {
            let (c, f) = (committed.get(v).copied(), spawn_failures.get(v).copied());
            *slot = match (c, f) {
                (Some(c), Some(f)) if c == f => c.min(u64::from(u32::MAX - 1)) as u32,
                _ => SPAWNED,
            };
        }
    }

    pub(crate) fn next_commit_idx(&self) -> u64 {
        self.next_commit_idx
    }

    pub(crate) fn total(&self) -> u64 {
        self.slot_variants.len() as u64
    }

    pub(crate) fn is_done(&self) -> bool {
        self.next_commit_idx == self.total()
    }

    pub(crate) fn is_pruned(&self, variant_idx: usize) -> bool {
        self.pruned.get(variant_idx).copied().unwrap_or(false)
    }

    #[cfg(test)]
    pub(crate) fn buffered_len(&self) -> usize {
        self.buffered.len()
    }

    pub(crate) fn mark_dispatched(&mut self, schedule_idx: u64, ticket_id: &str) {
        if schedule_idx >= self.next_commit_idx && schedule_idx < self.total() {
            self.dispatched.insert(schedule_idx, ticket_id.to_string());
        }
    }

    /// Forget a slot's dispatch: its attempt was lost and the slot will be dispatched
    /// again (infra retry). A completion of the old ticket is then stale.
    pub(crate) fn release(&mut self, schedule_idx: u64) {
        self.dispatched.remove(&schedule_idx);
    }

    /// Whether `schedule_idx` is currently dispatched under `ticket_id`.
    pub(crate) fn is_dispatched_as(&self, schedule_idx: u64, ticket_id: &str) -> bool {
        self.dispatched.get(&schedule_idx).map(String::as_str) == Some(ticket_id)
            && !self.buffered.contains_key(&schedule_idx)
            && schedule_idx >= self.next_commit_idx
    }

    /// Judge an arriving completion; `Accepted` ones are buffered.
    pub(crate) fn offer(&mut self, a: Arrival) -> Offer {
        let idx = a.schedule_idx;
        if idx >= self.total() {
            return Offer::Fault {
                message: format!(
                    "completion for slot {idx} (trial {}) is beyond the schedule of {} slots",
                    a.trial_id,
                    self.total()
                ),
            };
        }
        if idx < self.next_commit_idx {
            return Offer::Duplicate {
                reason: format!("slot {idx} is already committed"),
            };
        }
        if let Some(prev) = self.buffered.get(&idx) {
            if prev.ticket_id == a.ticket_id && prev.completion_seq == a.completion_seq {
                return if prev.classification == a.classification {
                    Offer::Duplicate {
                        reason: format!("slot {idx} completion already received"),
                    }
                } else {
                    Offer::Fault {
                        message: format!(
                            "conflicting completions for slot {idx} (trial {}): {} then {}",
                            a.trial_id,
                            prev.classification.as_str(),
                            a.classification.as_str()
                        ),
                    }
                };
            }
            return Offer::Fault {
                message: format!(
                    "second completion for slot {idx} (trial {}) from ticket {} seq {} after ticket {} seq {}",
                    a.trial_id, a.ticket_id, a.completion_seq, prev.ticket_id, prev.completion_seq
                ),
            };
        }
        match self.dispatched.get(&idx) {
            Some(t) if *t == a.ticket_id => {}
            Some(t) => {
                return Offer::Fault {
                    message: format!(
                        "stale completion for slot {idx}: ticket {} but the slot was dispatched as ticket {t}",
                        a.ticket_id
                    ),
                }
            }
            None => {
                return Offer::Fault {
                    message: format!(
                        "completion for slot {idx} (ticket {}) that was never dispatched",
                        a.ticket_id
                    ),
                }
            }
        }
        self.buffered.insert(idx, a);
        Offer::Accepted
    }

    /// Commit the contiguous prefix that is ready. Slots of pruned variants that were
    /// never dispatched are committed as skipped; pruning is decided after each commit.
    pub(crate) fn drain(&mut self) -> Vec<CommitAction> {
        let mut out = Vec::new();
        while let Some(&variant) = self.slot_variants.get(self.next_commit_idx as usize) {
            let idx = self.next_commit_idx;
            let v = variant as usize;
            if let Some(a) = self.buffered.remove(&idx) {
                self.dispatched.remove(&idx);
                let status = slot_status(a.classification);
                out.push(CommitAction::Commit {
                    schedule_idx: idx,
                    trial_id: a.trial_id,
                    status,
                    classification: a.classification,
                });
                self.fail_fast(v, a.classification, idx, &mut out);
                let before = self.consecutive[v];
                self.consecutive[v] = self.streak.next_streak(before, a.classification);
                if self.consecutive[v] > before {
                    if let Some(limit) = self.prune_after {
                        if !self.pruned[v] && self.consecutive[v] >= limit {
                            self.pruned[v] = true;
                            out.push(CommitAction::Prune {
                                variant_idx: v,
                                consecutive_failures: self.consecutive[v],
                                at_schedule_idx: idx,
                            });
                        }
                    }
                }
            } else if self.pruned[v] && !self.dispatched.contains_key(&idx) {
                out.push(CommitAction::SkipPruned {
                    schedule_idx: idx,
                    variant_idx: v,
                });
            } else {
                break;
            }
            self.next_commit_idx += 1;
        }
        out
    }
}

impl DeterministicCommitter {
    /// Counts a variant's leading spawn failures; at the threshold the variant stops.
    fn fail_fast(&mut self, v: usize, c: Classification, idx: u64, out: &mut Vec<CommitAction>) {
        if self.spawn_only[v] == SPAWNED {
            return;
        }
        if c != Classification::SpawnFailure {
            self.spawn_only[v] = SPAWNED;
            return;
        }
        self.spawn_only[v] += 1;
        let threshold = FAIL_FAST_SPAWN_FAILURES.min(self.slots_of[v]);
        let rest = self.slots_of[v] > self.spawn_only[v];
        if !self.pruned[v] && rest && self.spawn_only[v] >= threshold {
            self.pruned[v] = true;
            out.push(CommitAction::StopUnspawnable {
                variant_idx: v,
                spawn_failures: self.spawn_only[v],
                at_schedule_idx: idx,
            });
        }
    }
}

#[cfg(test)]
mod tests;
