//! What the Slurm tests (`e2e_slurm.rs`, one job per trial; `e2e_slurm_pilot.rs`,
//! pilot worker jobs) share: the dev cluster and the scenarios both backends must pass.

use super::recorded::{max_alive, recording_agent, records, repo_root, Alive};
use super::*;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static CLUSTER: Mutex<()> = Mutex::new(());

/// `labj run --json --executor slurm ARGS… EXPERIMENT` in the background, its output in
/// `run.out` / `run.err` of `s`.
pub fn spawn_slurm_run(s: &Scratch, exp: &Path, args: &[&str]) -> std::process::Child {
    spawn_slurm_run_env(s, exp, args, &[])
}

/// [`spawn_slurm_run`] with extra environment variables for `labj`.
pub fn spawn_slurm_run_env(
    s: &Scratch,
    exp: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Child {
    let mut argv = vec!["run", "--json", "--executor", "slurm"];
    argv.extend_from_slice(args);
    argv.push(exp.to_str().unwrap());
    s.labj_cmd(&argv)
        .envs(env.iter().copied())
        .stdout(std::fs::File::create(s.dir().join("run.out")).unwrap())
        .stderr(std::fs::File::create(s.dir().join("run.err")).unwrap())
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("spawn labj run")
}

/// The dev cluster, started (idempotent) or the test fails naming it; the guard keeps
/// it to the holder's test alone (tests that may share it drop the guard at once).
pub fn require_slurm() -> MutexGuard<'static, ()> {
    let guard = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let script = repo_root().join("scripts/slurm-dev-cluster.sh");
    let out = output_within(
        Command::new("sh").arg(&script).arg("start"),
        Duration::from_secs(240),
        "scripts/slurm-dev-cluster.sh start",
    );
    assert!(
        out.status.success(),
        "the Slurm dev cluster is not available (Slurm tests need it; `scripts/slurm-dev-cluster.sh start` as root):\n{}",
        text(&out)
    );
    guard
}

/// Two variants x 3 tasks with `max_in_flight_per_variant: 1` through `--executor slurm`
/// plus `extra` arguments: never two agents of one variant at once, and the cap is per
/// variant, not global (the two variants overlapped).
pub fn assert_per_variant_cap_holds(extra: &[&str]) {
    let s = Scratch::new();
    s.tasks(3);
    let exp = s.experiment(
        &["a", "b"],
        1,
        4,
        "    concurrency:\n      max_in_flight_per_variant: 1\n",
    );
    recording_agent(&s, "1", SUCCESS);
    let mut args = vec!["run", "--json", "--executor", "slurm"];
    args.extend_from_slice(extra);
    args.push(exp.to_str().unwrap());
    let out = s.labj(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let recs = records(&s);
    assert_eq!(recs.len(), 6);
    for v in ["a", "b"] {
        let mine: Vec<&Alive> = recs.iter().filter(|r| r.variant == v).collect();
        assert_eq!(
            max_alive(mine),
            1,
            "variant {v} ran more than one agent at once"
        );
    }
    assert_eq!(max_alive(&recs), 2, "{recs:?}");
}
