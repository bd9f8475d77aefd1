//! The schedule: every (variant, task, replication) slot in commit order.
//!
//! Seeded permutations use a pinned algorithm so an order never changes with a crate
//! upgrade: `ChaCha8Rng::seed_from_u64(seed)`, Fisher–Yates from the end, and an
//! unbiased bounded draw written here (rejection sampling on `next_u64`). One generator
//! serves the whole schedule: first the task shuffle (if `shuffle_tasks`), then the slot
//! shuffle (if `randomized`).

use super::model::Experiment;
use super::policy::SchedulingPolicy;
use journal::event::SlotSpec;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// A uniform draw in `0..n` (`n > 0`) without modulo bias: values at or above the
/// largest multiple of `n` that fits in 2^64 are rejected and redrawn.
pub fn bounded_draw<R: Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    assert!(n > 0, "bounded_draw needs a non-empty range");
    // 2^64 mod n, computed without overflowing.
    let rem = (u64::MAX % n + 1) % n;
    loop {
        let x = rng.next_u64();
        // Accept x < 2^64 - rem (that range holds a whole number of copies of 0..n).
        if rem == 0 || x < 0u64.wrapping_sub(rem) {
            return x % n;
        }
    }
}

/// Fisher–Yates from the end: for i = len-1 down to 1, swap items i and draw(i + 1).
pub(crate) fn shuffle_pinned<T, R: Rng + ?Sized>(rng: &mut R, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = bounded_draw(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// Parameters of a schedule, independent of the experiment (so tests can build one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScheduleShape {
    pub(crate) variants: u32,
    pub(crate) tasks: u32,
    pub(crate) replications: u32,
    pub(crate) policy: SchedulingPolicy,
    pub(crate) shuffle_tasks: bool,
    pub(crate) seed: u64,
}

pub(crate) fn build(shape: ScheduleShape) -> Vec<SlotSpec> {
    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    let mut task_order: Vec<u32> = (0..shape.tasks).collect();
    if shape.shuffle_tasks {
        shuffle_pinned(&mut rng, &mut task_order);
    }
    let cap = (shape.variants as usize) * (shape.tasks as usize) * (shape.replications as usize);
    let mut slots = Vec::with_capacity(cap);
    match shape.policy {
        SchedulingPolicy::VariantSequential | SchedulingPolicy::Randomized => {
            for v in 0..shape.variants {
                for &t in &task_order {
                    for r in 0..shape.replications {
                        slots.push(SlotSpec(v, t, r));
                    }
                }
            }
        }
        SchedulingPolicy::PairedInterleaved => {
            for &t in &task_order {
                for v in 0..shape.variants {
                    for r in 0..shape.replications {
                        slots.push(SlotSpec(v, t, r));
                    }
                }
            }
        }
    }
    if shape.policy == SchedulingPolicy::Randomized {
        shuffle_pinned(&mut rng, &mut slots);
    }
    slots
}

impl Experiment {
    pub(crate) fn schedule_shape(&self) -> ScheduleShape {
        ScheduleShape {
            variants: self.variants.len() as u32,
            tasks: self.dataset.tasks.len() as u32,
            replications: self.design.replications,
            policy: self.design.policies.scheduling,
            shuffle_tasks: self.design.shuffle_tasks,
            seed: self.design.seed(),
        }
    }

    /// Every slot in commit order; `schedule_idx` is the position in this list. A slot's
    /// `task_idx` always indexes [`Experiment::tasks`] (dataset order), also when
    /// `shuffle_tasks` changed the order tasks are visited in.
    pub fn schedule(&self) -> Vec<SlotSpec> {
        build(self.schedule_shape())
    }

    /// Number of slots, without building the schedule.
    pub(crate) fn schedule_len(&self) -> u64 {
        self.variants.len() as u64
            * self.dataset.tasks.len() as u64
            * self.design.replications as u64
    }
}
