//! Builds a large, realistic crashed run for the recovery benchmark: creates a run of the
//! given experiment through the normal `create_run` path, then journals N trials as
//! dispatched → completed → committed (with attempts, metrics and evidence like real
//! trials), plus `active` trials dispatched with no completion, as a SIGKILLed run would
//! leave them. The process then exits without releasing the lease (its pid is gone, so
//! the next `continue` takes the lease over, exactly as after a crash).
//!
//! usage: synth_run <experiment> <runs dir> <committed> <active>

use engine::run::{create_run, RunOptions};
use journal::event::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: synth_run <experiment> <runs dir> <committed> <active>");
        std::process::exit(2);
    }
    let committed: u64 = args[3].parse().expect("committed count");
    let active: u64 = args[4].parse().expect("active count");
    let opts = RunOptions {
        runs_dir: PathBuf::from(&args[2]),
        ..Default::default()
    };
    let mut c = create_run(std::path::Path::new(&args[1]), &opts).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    let run = c.projections.run.clone().expect("run");
    assert!(
        (committed + active) as usize <= run.schedule.len(),
        "experiment has only {} slots",
        run.schedule.len()
    );
    let spec_of = |i: u64| {
        c.experiment
            .trial_spec(i, run.schedule[i as usize], &run.run_id, &c.run_dir)
    };
    let ts = engine::coordinator::now_ts();
    // What a no-op agent leaves: the same result and workspace diff for every trial,
    // stored once in the run's blob store (content-addressed), so `labj verify` finds
    // every blob the completions reference.
    let blobs = c.run_dir.join("blobs");
    let store = |bytes: &[u8]| {
        // The blob store's layout: blobs/<first two hex digits>/<blake3 hex>.
        let digest = blake3::hash(bytes).to_hex().to_string();
        let dir = blobs.join(&digest[..2]);
        std::fs::create_dir_all(&dir).expect("blob dir");
        std::fs::write(dir.join(&digest), bytes).expect("store blob");
        (digest, bytes.len() as u64)
    };
    let results = [
        store(br#"{"schema_version":"agent_result_v1","outcome":"success"}"#),
        store(br#"{"schema_version":"agent_result_v1","outcome":"failure"}"#),
    ];
    let diff = store(br#"{"added":[],"removed":[],"modified":[]}"#);
    let mut batch = Vec::new();
    for i in 0..committed + active {
        let spec = spec_of(i);
        let ticket = format!("tk_synth_{i}");
        batch.push(Event::TrialDispatched(TrialDispatched {
            schedule_idx: i,
            trial_id: spec.trial_id.clone(),
            variant_id: spec.variant_id.clone(),
            task_id: spec.task_id.clone(),
            repl_idx: spec.repl_idx,
            worker_id: "local-synth".into(),
            ticket_id: ticket.clone(),
        }));
        if i < committed {
            let ok = i % 7 != 0;
            let class = if ok {
                Classification::Success
            } else {
                Classification::Failure
            };
            let mut metrics = BTreeMap::new();
            metrics.insert("correct".to_string(), if ok { 1.0 } else { 0.0 });
            metrics.insert("latency_ms".to_string(), (i % 97) as f64);
            let result = &results[usize::from(!ok)];
            batch.push(Event::TrialCompleted(TrialCompleted {
                schedule_idx: i,
                trial_id: spec.trial_id.clone(),
                ticket_id: ticket,
                worker_id: "local-synth".into(),
                completion_seq: 1,
                result: TrialOutcome {
                    classification: class,
                    outcome: Some(class.as_str().into()),
                    metrics,
                    other_metrics: Default::default(),
                    attempts: vec![AttemptRecord {
                        attempt: 1,
                        classification: class,
                        exit_code: Some(0),
                        duration_ms: 3,
                        detail: None,
                        leaked_processes: None,
                    }],
                    duration_ms: 3,
                    evidence: vec![EvidenceRef {
                        class: "workspace_diff".into(),
                        path: format!("trials/{}/workspace_diff.json", spec.trial_id),
                        digest: diff.0.clone(),
                        bytes: diff.1,
                    }],
                    artifacts: vec![ArtifactRef {
                        name: "result.json".into(),
                        digest: result.0.clone(),
                        bytes: result.1,
                        written_bytes: None,
                    }],
                    chain_state: None,
                    error: None,
                    isolation: None,
                },
            }));
            batch.push(Event::SlotCommitted(SlotCommitted {
                schedule_idx: i,
                trial_id: spec.trial_id,
                status: SlotStatus::Completed,
                classification: class,
            }));
        }
        if batch.len() >= 300 {
            c.journal
                .append(&mut c.projections, std::mem::take(&mut batch), &ts)
                .expect("append");
        }
    }
    c.journal
        .append(&mut c.projections, batch, &ts)
        .expect("append");
    println!("{} {} events", c.run_dir.display(), c.journal.len());
}
