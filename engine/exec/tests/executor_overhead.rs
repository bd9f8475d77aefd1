//! Per-trial overhead of the executor over a bare spawn of the same no-op agent
//! (`cargo test --release -p labj-engine --test executor_overhead -- --ignored --nocapture`).

mod executor_support;

use exec::executor::{execute_trial, TrialControl};
use executor_support::{sh, spec, write_result};
use journal::event::Classification;
use std::time::Instant;

#[test]
#[ignore = "timing measurement; run explicitly"]
fn executor_overhead_per_noop_trial() {
    let n = 300;
    let tmp = tempfile::tempdir().unwrap();
    let script = write_result(r#"{"outcome":"success"}"#);
    let result = tmp.path().join("bare_result.json");

    let started = Instant::now();
    for _ in 0..n {
        let status = std::process::Command::new("sh")
            .args(["-c", &script])
            .env("AGENTLAB_RESULT_PATH", &result)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let bare = started.elapsed() / n;

    let started = Instant::now();
    for i in 0..n {
        let mut s = spec(tmp.path(), sh(&script));
        s.trial_dir = tmp.path().join(format!("run/trials/t{i}"));
        let out = execute_trial(&s, &TrialControl::new());
        assert_eq!(out.classification, Classification::Success);
    }
    let executor = started.elapsed() / n;
    println!(
        "bare spawn {bare:?}/trial, executor {executor:?}/trial, overhead {:?}",
        executor.saturating_sub(bare)
    );
}
