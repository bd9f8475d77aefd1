//! Small builders for tests and benchmarks: a `run_created` for a synthetic schedule and
//! the events of a trial's life. Not used by the runner itself.

use crate::event::*;
use std::collections::BTreeMap;

/// `run_created` for `variants × tasks × repls` in variant-sequential order.
pub fn run_created(run_id: &str, variants: u32, tasks: u32, repls: u32) -> Event {
    let mut schedule = Vec::new();
    for v in 0..variants {
        for t in 0..tasks {
            for r in 0..repls {
                schedule.push(SlotSpec(v, t, r));
            }
        }
    }
    Event::RunCreated(RunCreated {
        run_id: run_id.into(),
        experiment_id: "synthetic".into(),
        experiment_digest: "0".repeat(64),
        experiment: serde_json::json!({"synthetic": true}),
        variant_ids: (0..variants).map(|v| format!("v{v}")).collect(),
        task_ids: (0..tasks).map(|t| format!("task{t}")).collect(),
        schedule_policy: "variant_sequential".into(),
        schedule,
        max_concurrency: 4,
        pruning: PruningSpec::default(),
        primary_metric: Some("score".into()),
        options: serde_json::Value::Null,
    })
}

/// The trial id the builders below give slot `schedule_idx` (`trial_000042`).
pub fn trial_id(schedule_idx: u64) -> String {
    crate::trial_id_of(schedule_idx)
}

/// `trial_dispatched` of slot `schedule_idx` to worker `w0` under ticket `tk<idx>`
/// (replication 0).
pub fn dispatched(schedule_idx: u64, variant_id: &str, task_id: &str) -> Event {
    Event::TrialDispatched(TrialDispatched {
        schedule_idx,
        trial_id: trial_id(schedule_idx),
        variant_id: variant_id.into(),
        task_id: task_id.into(),
        repl_idx: 0,
        worker_id: "w0".into(),
        ticket_id: format!("tk{schedule_idx}"),
    })
}

/// `trial_completed` of slot `schedule_idx` (the ticket of [`dispatched`]): one attempt
/// classified `classification`, metric `score`, and one workspace-diff evidence file.
pub fn completed(schedule_idx: u64, classification: Classification, score: f64) -> Event {
    let mut metrics = BTreeMap::new();
    metrics.insert("score".to_string(), score);
    Event::TrialCompleted(TrialCompleted {
        schedule_idx,
        trial_id: trial_id(schedule_idx),
        ticket_id: format!("tk{schedule_idx}"),
        worker_id: "w0".into(),
        completion_seq: 1,
        result: TrialOutcome {
            classification,
            outcome: Some(classification.as_str().into()),
            metrics,
            other_metrics: Default::default(),
            attempts: vec![AttemptRecord {
                attempt: 1,
                classification,
                exit_code: Some(0),
                duration_ms: 1,
                detail: None,
                leaked_processes: None,
            }],
            duration_ms: 1,
            evidence: vec![EvidenceRef {
                class: "workspace_diff".into(),
                path: format!("trials/{}/workspace_diff.json", trial_id(schedule_idx)),
                digest: "ab".repeat(32),
                bytes: 2,
            }],
            artifacts: Vec::new(),
            chain_state: None,
            error: None,
            isolation: None,
        },
    })
}

/// `slot_committed` of slot `schedule_idx` with the status `classification` implies
/// (success and failure `completed`, `worker_lost` its own, anything else `failed`).
pub fn committed(schedule_idx: u64, classification: Classification) -> Event {
    let status = match classification {
        Classification::Success | Classification::Failure => SlotStatus::Completed,
        Classification::WorkerLost => SlotStatus::WorkerLost,
        _ => SlotStatus::Failed,
    };
    Event::SlotCommitted(SlotCommitted {
        schedule_idx,
        trial_id: trial_id(schedule_idx),
        status,
        classification,
    })
}

/// The full life of one trial (dispatch, completion, commit) for a schedule slot of
/// [`run_created`] with `tasks` tasks and 1 replication.
pub fn trial_life(schedule_idx: u64, tasks: u32, ok: bool) -> [Event; 3] {
    let v = schedule_idx / tasks as u64;
    let t = schedule_idx % tasks as u64;
    let c = if ok {
        Classification::Success
    } else {
        Classification::Failure
    };
    [
        dispatched(schedule_idx, &format!("v{v}"), &format!("task{t}")),
        completed(schedule_idx, c, if ok { 1.0 } else { 0.0 }),
        committed(schedule_idx, c),
    ]
}

/// Where a fold checks its events' hashes: [`FOLD_CHECKS_AUTO`] (whichever thread is
/// less busy, batch by batch, as the runner does), [`FOLD_CHECKS_READER`] or
/// [`FOLD_CHECKS_FOLDER`] (every batch on that thread). For tests that must see both
/// paths report the same faults; process-wide.
pub static FOLD_CHECKS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
/// Each batch on whichever thread is less busy (the runner's way).
pub const FOLD_CHECKS_AUTO: u8 = 0;
/// Every batch on the thread that reads the rows.
pub const FOLD_CHECKS_READER: u8 = 1;
/// Every batch on the thread that folds them.
pub const FOLD_CHECKS_FOLDER: u8 = 2;
