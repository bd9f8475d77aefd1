mod support;
use support::*;

#[test]
fn quickstart_like_run_completes_and_verifies() {
    let s = Scratch::new();
    s.tasks(6);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a", "b"], 2, 3, "");
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let proj = check_journal(&s.the_run());
    assert_eq!(proj.progress.next_commit_idx, 24);
    assert_eq!(proj.aggregates.overall.succeeded, 24);
    assert_eq!(committed_slots(&s.the_run()).len(), 24);
}

fn repo(rel: &str) -> String {
    format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn describe_p0_experiment_and_three_variant_example() {
    let s = Scratch::new();
    let out = s.labj(&[
        "describe",
        &repo("testdata/experiments/p0_benchmark_adaptation/experiment.json"),
    ]);
    // The p0 task mounts a dataset pack: a plain local trial cannot honour that, so
    // describe shows the experiment and then refuses it, naming the field.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("mount_references are mounted only in a sandbox or container"),
        "{}",
        text(&out)
    );
    let t = String::from_utf8_lossy(&out.stdout);
    for want in [
        "swebench__django__12345",
        "per variant 2, chain lease required",
        "retry on error, timeout",
        // The original's adapter contract; its script path resolved against the
        // experiment's directory.
        "p0_benchmark_adaptation/adapters/swebench_adapter.js",
        "paired_interleaved",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    let out = s.labj(&[
        "describe",
        "--json",
        &repo("testdata/experiments/three_variants.yaml"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["variants"].as_array().map(|v| v.len()), Some(3), "{d}");
    assert!(
        s.dir().read_dir().unwrap().next().is_none(),
        "describe wrote nothing"
    );
}
