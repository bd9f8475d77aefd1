//! Tests of the experiment model on the files in `testdata/` and `examples/`.
//! Bad-input tests are table-driven in `engine/model/tests/experiment_bad_inputs.rs`.

use super::dataset::{parse_task_row, TaskLimits};
use super::load::parse_fragment;
use super::model::{canonical_digest, SchemaVersion};
use super::policy::{PruningPolicy, StatePolicy};
use super::schedule::{build, ScheduleShape};
use super::*;
use journal::event::SlotSpec;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn three_variants() -> Experiment {
    load(&repo("testdata/experiments/three_variants.yaml")).expect("three_variants loads")
}

fn slots(v: &[(u32, u32, u32)]) -> Vec<SlotSpec> {
    v.iter().map(|&(a, b, c)| SlotSpec(a, b, c)).collect()
}

fn shape(policy: SchedulingPolicy, seed: u64, shuffle_tasks: bool) -> ScheduleShape {
    ScheduleShape {
        variants: 2,
        tasks: 3,
        replications: 2,
        policy,
        shuffle_tasks,
        seed,
    }
}

#[test]
fn p0_freeze_benchmark_adaptation_trial_shape_fixture_parses() {
    let path = repo("testdata/p0_benchmark_adaptation_trial_shape.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();

    let fragment = parse_fragment(&path, &doc).expect("fixture experiment parses");
    assert_eq!(fragment.version, Some(SchemaVersion::V0_5));
    let design = &fragment.design;
    assert_eq!(design.max_concurrency, 8);
    assert_eq!(
        design.policies.scheduling,
        SchedulingPolicy::PairedInterleaved
    );
    assert_eq!(design.policies.retry.max_attempts, 2);
    assert_eq!(design.policies.retry.retry_on, vec!["error", "timeout"]);
    assert_eq!(
        design.policies.concurrency,
        ConcurrencyPolicy {
            max_in_flight_per_variant: Some(2),
            require_chain_lease: true,
        }
    );
    assert_eq!(design.policies.state, StatePolicy::IsolatePerTrial);
    let benchmark = fragment.benchmark.expect("benchmark section");
    let adapter = benchmark.adapter.as_ref().expect("the original's adapter");
    assert_eq!(
        adapter.command,
        vec!["node", "./adapters/swebench_adapter.js"]
    );
    assert_eq!(
        benchmark.policy.required_evidence_classes,
        vec!["agent_patch", "grader_report"]
    );
    assert_eq!(benchmark.policy.task_model.as_deref(), Some("dependent"));
    assert_eq!(
        adapter.manifest.as_ref().unwrap()["adapter_id"],
        "swebench_adapter"
    );
    // `benchmark.adapter` is the original runner's adapter contract, not labj's grader.
    let grader = benchmark.grader().expect("graded");
    assert_eq!(grader.command[0], "node");
    assert!(matches!(
        grader.contract,
        crate::trial::GraderContract::Adapter { .. }
    ));
    assert_eq!(grader.required_evidence_classes.len(), 2);

    let task = parse_task_row(&doc["dataset_task_row"], 0, &path, 1).expect("row parses");
    assert!(task.boundary);
    assert_eq!(task.id, "swebench__django__12345");
    assert_eq!(
        task.image().as_deref(),
        Some("ghcr.io/acme/swebench-task:20260222")
    );
    let ws = task.workspace().expect("workspace");
    assert_eq!(ws["repo"], "django/django");
    assert_eq!(
        ws["base_commit"],
        "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    );
    assert_eq!(ws["checkout_dir"], "repo");
    assert_eq!(task.workspace_files.len(), 1);
    assert_eq!(task.workspace_files[0].path, "README.md");
    assert_eq!(
        task.workspace_files[0].content,
        "Task-scoped fixture for P0 baseline freeze."
    );
    assert_eq!(task.mount_references.len(), 1);
    let mount = &task.mount_references[0];
    assert_eq!(mount.dataset_pack_ref, format!("sha256:{}", "a".repeat(64)));
    assert_eq!(mount.mount_path, "/agentlab/workspace/deps");
    assert!(mount.read_only);
    assert_eq!(
        task.limits,
        TaskLimits {
            max_steps: Some(12),
            max_total_tokens: Some(16000),
            max_tool_calls: Some(32),
            trial_seconds: Some(1800),
        }
    );
}

#[test]
fn fragment_rejects_bad_design_with_pointer() {
    let doc = json!({"design": {"policies": {"retry": {"max_attempts": 0}}}});
    let err = parse_fragment(Path::new("frag.json"), &doc)
        .unwrap_err()
        .to_string();
    assert!(err.contains("frag.json"), "{err}");
    assert!(err.contains("/design/policies/retry/max_attempts"), "{err}");
    assert!(err.contains("rule `minimum`"), "{err}");
}

fn with_state(state: &str) -> Experiment {
    let path = repo("testdata/experiments/three_variants.yaml");
    let mut doc: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["design"]["policies"]["state"] = json!(state);
    load_value(&path, doc).expect("a non-isolate state policy is valid to describe")
}

#[test]
fn p7_release_gate_rejects_non_isolate_state_policy() {
    for state in ["persist_per_task", "accumulate"] {
        let exp = with_state(state);
        let err = check_runnable(&exp)
            .expect_err("gate must reject")
            .to_string();
        assert!(
            err.contains(&format!(
                "state policy `{state}` is not supported yet: labj runs only isolate_per_trial \
                 (set design.policies.state: isolate_per_trial)"
            )),
            "{err}"
        );
        assert!(err.contains("three_variants.yaml"), "{err}");
        // describe still works and shows why it would not run.
        let d = describe(&exp);
        assert_eq!(d.state, state);
        assert!(d.not_runnable.unwrap().contains("not supported yet"));
    }
    check_runnable(&with_state("isolate_per_trial")).expect("isolate runs");
    check_runnable(&three_variants()).expect("default is isolate");
}

#[test]
fn schedule_variant_sequential_nests_variant_task_repl() {
    let s = build(shape(SchedulingPolicy::VariantSequential, 0, false));
    assert_eq!(
        s,
        slots(&[
            (0, 0, 0),
            (0, 0, 1),
            (0, 1, 0),
            (0, 1, 1),
            (0, 2, 0),
            (0, 2, 1),
            (1, 0, 0),
            (1, 0, 1),
            (1, 1, 0),
            (1, 1, 1),
            (1, 2, 0),
            (1, 2, 1),
        ])
    );
}

#[test]
fn schedule_paired_interleaved_nests_task_variant_repl() {
    let s = build(shape(SchedulingPolicy::PairedInterleaved, 0, false));
    assert_eq!(
        s,
        slots(&[
            (0, 0, 0),
            (0, 0, 1),
            (1, 0, 0),
            (1, 0, 1),
            (0, 1, 0),
            (0, 1, 1),
            (1, 1, 0),
            (1, 1, 1),
            (0, 2, 0),
            (0, 2, 1),
            (1, 2, 0),
            (1, 2, 1),
        ])
    );
}

fn sorted(mut v: Vec<SlotSpec>) -> Vec<(u32, u32, u32)> {
    let mut out: Vec<_> = v.drain(..).map(|s| (s.0, s.1, s.2)).collect();
    out.sort();
    out
}

#[test]
fn schedule_randomized_is_a_permutation_with_a_golden_order() {
    let s = build(shape(SchedulingPolicy::Randomized, 42, false));
    let all = build(shape(SchedulingPolicy::VariantSequential, 42, false));
    assert_eq!(sorted(s.clone()), sorted(all));
    // Golden: produced once by this implementation (ChaCha8, seed 42, Fisher–Yates from
    // the end, rejection-sampled draws). If this changes, every recorded randomized
    // schedule changes with it.
    assert_eq!(s, slots(GOLDEN_SEED_42));
}

const GOLDEN_SEED_42: &[(u32, u32, u32)] = &[
    (0, 2, 0),
    (0, 1, 1),
    (1, 0, 0),
    (1, 0, 1),
    (0, 2, 1),
    (0, 1, 0),
    (1, 1, 0),
    (1, 2, 1),
    (1, 2, 0),
    (0, 0, 0),
    (0, 0, 1),
    (1, 1, 1),
];

#[test]
fn schedule_randomized_same_seed_same_order_different_seed_different_order() {
    let a = build(shape(SchedulingPolicy::Randomized, 7, false));
    let b = build(shape(SchedulingPolicy::Randomized, 7, false));
    let c = build(shape(SchedulingPolicy::Randomized, 8, false));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(sorted(a), sorted(c));
}

#[test]
fn shuffle_tasks_permutes_task_order_but_keeps_dataset_indices() {
    let plain = build(shape(SchedulingPolicy::VariantSequential, 3, false));
    let shuffled = build(shape(SchedulingPolicy::VariantSequential, 3, true));
    assert_ne!(plain, shuffled);
    assert_eq!(sorted(plain), sorted(shuffled.clone()));
    // Still variant-sequential and replication-innermost, with one task order shared by
    // every variant.
    let order0: Vec<u32> = shuffled[..6].iter().step_by(2).map(|s| s.1).collect();
    let order1: Vec<u32> = shuffled[6..].iter().step_by(2).map(|s| s.1).collect();
    assert_eq!(order0, order1);
    assert!(shuffled[..6].iter().all(|s| s.0 == 0));
    for pair in shuffled.chunks(2) {
        assert_eq!(
            (pair[0].1, pair[0].2, pair[1].1, pair[1].2),
            (pair[0].1, 0, pair[0].1, 1)
        );
    }
    assert_eq!(
        shuffled,
        build(shape(SchedulingPolicy::VariantSequential, 3, true))
    );
    // Paired order with shuffled tasks visits the same shuffled task order.
    let paired = build(shape(SchedulingPolicy::PairedInterleaved, 3, true));
    let paired_order: Vec<u32> = paired.iter().step_by(4).map(|s| s.1).collect();
    assert_eq!(paired_order, order0);
}

#[test]
fn bounded_draw_stays_in_range_and_covers_it() {
    use rand_core::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut seen = [0u32; 5];
    for _ in 0..1000 {
        seen[bounded_draw(&mut rng, 5) as usize] += 1;
    }
    assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
    assert_eq!(bounded_draw(&mut rng, 1), 0);
    let big = u64::MAX / 3 * 2;
    for _ in 0..100 {
        assert!(bounded_draw(&mut rng, big) < big);
    }
}

#[test]
fn yaml_and_json_forms_load_equal() {
    let y = three_variants();
    let j = load(&repo("testdata/experiments/three_variants.json")).expect("json loads");
    assert_eq!(y.resolved_json(), j.resolved_json());
    assert_eq!(y.digest(), j.digest());
    assert_eq!(y.variants(), j.variants());
    assert_eq!(y.tasks(), j.tasks());
    assert_eq!(y.design(), j.design());
    assert_eq!(y.schedule(), j.schedule());
    let w = load(&repo("testdata/experiments/wrapped.json")).expect("wrapped loads");
    assert_eq!(w.id(), "wrapped");
    assert!(w.resolved_json().get("resolved_experiment").is_none());
}

#[test]
fn v0_4_loads() {
    let e = load(&repo("testdata/experiments/v04.yaml")).expect("v0.4 loads");
    assert_eq!(e.version(), SchemaVersion::V0_4);
    assert_eq!(e.id(), "v04_minimal");
    assert_eq!(e.variant_ids(), vec!["quick", "careful"]);
    assert_eq!(e.schedule().len(), 6);
    assert!(e.runtime().agent.mode.is_none());
    assert!(e.grader().is_none());
}

#[test]
fn numeric_yaml_version_is_read_as_the_string_it_meant() {
    let path = repo("testdata/experiments/three_variants.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("version: \"0.5\"", "version: 0.5");
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert!(doc["version"].is_number());
    let e = load_value(&path, doc).unwrap();
    assert_eq!(e.resolved_json()["version"], "0.5");
    assert_eq!(e.digest(), three_variants().digest());
}

#[test]
fn typed_accessors_of_three_variants() {
    let e = three_variants();
    assert_eq!(e.id(), "three_variants");
    assert_eq!(e.variant_ids(), vec!["quick", "careful", "verbose"]);
    assert_eq!(e.task_ids(), vec!["t_add", "t_sub", "t_mul"]);
    assert_eq!(e.max_concurrency(), 3);
    assert_eq!(
        e.concurrency(),
        ConcurrencyPolicy {
            max_in_flight_per_variant: Some(2),
            require_chain_lease: false
        }
    );
    assert_eq!(e.pruning().max_consecutive_failures, Some(4));
    assert_eq!(e.retry().max_attempts, 2);
    assert!(e
        .retry()
        .should_retry(journal::event::Classification::SpawnFailure));
    assert_eq!(e.primary_metric(), Some("correct"));
    assert_eq!(e.runtime().agent.mode.as_deref(), Some("local"));
    assert_eq!(e.schedule_len(), 18);
    assert_eq!(e.schedule().len(), 18);
    assert!(e.dir().is_absolute());
    assert_eq!(e.digest().len(), 64);
}

#[test]
fn digest_ignores_key_order_and_whitespace() {
    let a = json!({"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": null}});
    let b: Value =
        serde_json::from_str(r#"{ "a": {"x": null, "y": [1, {"p": 2, "q": 1}]}, "b": 1 }"#)
            .unwrap();
    assert_eq!(canonical_digest(&a), canonical_digest(&b));
    assert_ne!(canonical_digest(&a), canonical_digest(&json!({"b": 2})));
}

#[test]
fn trial_spec_applies_overrides_limits_and_paths() {
    let e = three_variants();
    let run_dir = Path::new("/runs/r1");
    // careful (variant 1) on t_mul (task 2, a task_boundary_v1 row).
    let spec = e.trial_spec(5, SlotSpec(1, 2, 1), "r1", run_dir);
    assert_eq!(spec.trial_id, "trial_000005");
    assert_eq!(spec.trial_dir, run_dir.join("trials/trial_000005"));
    assert_eq!(spec.blob_dir, journal::RunDir::new(run_dir).blobs());
    assert_eq!(
        (
            spec.variant_id.as_str(),
            spec.task_id.as_str(),
            spec.repl_idx
        ),
        ("careful", "t_mul", 1)
    );
    assert_eq!(spec.task["id"], "t_mul");
    assert!(spec.task.get("schema_version").is_none());
    assert_eq!(spec.bindings["style"], "careful");
    assert_eq!(spec.agent.timeout_ms, 5000, "variant override wins");
    assert_eq!(spec.agent.env["PATIENCE"], "high");
    assert_eq!(spec.agent.env["LANG"], "C");
    assert_eq!(spec.workspace_files[0].path, "notes.txt");
    // Plain local trials refuse mount references (they cannot mount anything), so the
    // fixture no longer carries one; see isolation tests for mounted packs.
    assert!(spec.mount_references.is_empty());
    // policy.json holds the timeout labj enforces (= AGENTLAB_TIMEOUT_MS), as the
    // original's did; runtime.policy.timeout_ms (15000) lost to the variant's 5000.
    assert_eq!(spec.policy["timeout_ms"], 5000);
    assert_eq!(spec.policy["limits"]["trial_seconds"], 20);
    assert_eq!(spec.policy["limits"]["max_steps"], 3);
    assert_eq!(spec.dependency_files[0].dest, "data/tasks.jsonl");
    assert_eq!(spec.dependencies["files"][0]["source"], "tasks.jsonl");
    assert_eq!(spec.retry.max_attempts, 2);
    assert_eq!(
        spec.grader.as_ref().unwrap().required_evidence_classes,
        vec!["grader_report"]
    );
    assert_eq!(spec.experiment_dir, e.dir());

    // quick (baseline) on t_mul: no agent timeout anywhere → task trial_seconds.
    let spec = e.trial_spec(0, SlotSpec(0, 2, 0), "r1", run_dir);
    assert_eq!(spec.agent.timeout_ms, 20_000);
    // quick on t_add: no task limits → runtime.policy.timeout_ms.
    let spec = e.trial_spec(1, SlotSpec(0, 0, 0), "r1", run_dir);
    assert_eq!(spec.agent.timeout_ms, 15_000);
    assert!(spec.policy.get("limits").is_none());
    assert!(spec.workspace_files.is_empty());
    // verbose appends its args to the shared command, whose relative script path is
    // resolved against the experiment's directory (as the original runner does).
    let spec = e.trial_spec(2, SlotSpec(2, 0, 0), "r1", run_dir);
    let agent = repo("examples/quickstart/agent.sh").canonicalize().unwrap();
    assert_eq!(
        spec.agent.command,
        vec![agent.to_string_lossy().into_owned(), "--verbose".into()]
    );
}

#[test]
fn describe_three_variant_example() {
    let d = describe(&three_variants());
    assert_eq!(d.experiment_id, "three_variants");
    assert_eq!(d.name, "Three variants");
    assert_eq!(d.variants.len(), 3);
    assert!(d.variants[0].baseline);
    assert_eq!(
        d.variants[0].bindings_summary,
        "double_check=false, style=quick"
    );
    assert_eq!(
        d.variants[2].bindings_summary,
        "double_check=true, prompt_suffix=Explain each step of the computation bef…, style=verbose"
    );
    assert_eq!(d.variants[2].agent_command.last().unwrap(), "--verbose");
    assert_eq!(d.task_count, 3);
    assert_eq!(d.replications, 2);
    assert_eq!(d.schedule_size, 18);
    assert_eq!(d.scheduling, "paired_interleaved");
    assert_eq!(d.state, "isolate_per_trial");
    assert!(d.not_runnable.is_none());
    assert_eq!(d.first_slots.len(), 10);
    let first: Vec<(u64, &str, &str, u32)> = d
        .first_slots
        .iter()
        .take(5)
        .map(|s| {
            (
                s.schedule_idx,
                s.variant_id.as_str(),
                s.task_id.as_str(),
                s.repl_idx,
            )
        })
        .collect();
    assert_eq!(
        first,
        vec![
            (0, "quick", "t_add", 0),
            (1, "quick", "t_add", 1),
            (2, "careful", "t_add", 0),
            (3, "careful", "t_add", 1),
            (4, "verbose", "t_add", 0),
        ]
    );

    let text = d.render_text();
    for needle in [
        "experiment  three_variants — Three variants",
        "three_variants.yaml (v0.5)",
        "dataset     tasks.jsonl (3 tasks)",
        "  - quick (baseline)",
        "/examples/quickstart/agent.sh --verbose",
        "  - agent (variant verbose): ok (found, executable)",
        "  - grader: ok (found, executable)",
        "      override: env PATIENCE; timeout 5000 ms",
        "      override: args +--verbose",
        "repeats     2 replication(s) per (variant, task)",
        "schedule    18 slots, paired_interleaved, seed 7",
        "concurrency max 3 in flight, per variant 2, chain lease not required",
        "retry       2 attempt(s), retry on error, timeout, infra",
        "pruning     after 4 consecutive failures",
        "state       isolate_per_trial",
        "metric      correct (primary)",
        "runnable    yes",
        "first 10 of 18 slots:",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(text.contains("verbose"), "{text}");

    let j = serde_json::to_value(&d).unwrap();
    assert_eq!(j["schedule_size"], 18);
    assert_eq!(j["concurrency"]["max_in_flight_per_variant"], 2);
    assert_eq!(j["first_slots"][9]["schedule_idx"], 9);
}

#[test]
fn quickstart_example_loads() {
    let e = load(&repo("examples/quickstart/experiment.yaml")).expect("quickstart loads");
    assert_eq!(e.variant_ids(), vec!["baseline", "careful"]);
    assert_eq!(e.task_ids().len(), 12);
    assert_eq!(e.tasks().iter().filter(|t| t.boundary).count(), 3);
    assert_eq!(e.schedule().len(), 48);
    assert_eq!(e.max_concurrency(), 4);
    assert_eq!(e.primary_metric(), Some("correct"));
    check_runnable(&e).unwrap();
}

#[test]
fn dataset_limit_keeps_the_first_rows() {
    let path = repo("testdata/experiments/three_variants.yaml");
    let mut doc: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["dataset"]["limit"] = json!(2);
    let e = load_value(&path, doc).unwrap();
    assert_eq!(e.task_ids(), vec!["t_add", "t_sub"]);
    assert_eq!(e.schedule_len(), 12);
}

#[test]
fn shuffle_tasks_golden_order() {
    // Golden, like GOLDEN_SEED_42: the task visit order for seed 3 over 3 tasks.
    let s = build(shape(SchedulingPolicy::VariantSequential, 3, true));
    let order: Vec<u32> = s[..6].iter().step_by(2).map(|s| s.1).collect();
    assert_eq!(order, GOLDEN_TASK_ORDER_SEED_3);
}

const GOLDEN_TASK_ORDER_SEED_3: [u32; 3] = [1, 0, 2];

proptest::proptest! {
    #[test]
    fn every_schedule_is_a_permutation_of_all_slots(
        variants in 1u32..4,
        tasks in 1u32..6,
        replications in 1u32..4,
        policy in 0usize..3,
        shuffle_tasks in proptest::bool::ANY,
        seed in proptest::num::u64::ANY,
    ) {
        let policy = [
            SchedulingPolicy::VariantSequential,
            SchedulingPolicy::PairedInterleaved,
            SchedulingPolicy::Randomized,
        ][policy];
        let s = build(ScheduleShape { variants, tasks, replications, policy, shuffle_tasks, seed });
        let mut expected = Vec::new();
        for v in 0..variants {
            for t in 0..tasks {
                for r in 0..replications {
                    expected.push((v, t, r));
                }
            }
        }
        proptest::prop_assert_eq!(sorted(s), expected);
    }
}

#[test]
fn the_quickstart_description_names_its_variants() {
    let e = load(&repo("examples/quickstart/experiment.yaml")).unwrap();
    let text = describe(&e).render_text();
    for v in ["baseline", "careful"] {
        assert!(text.contains(v), "{v} missing from:\n{text}");
    }
}

#[test]
fn runtime_overrides_merge_key_by_key_and_replace_the_rest() {
    let exp = load(&repo("testdata/agentlab/runtime_overrides/experiment.yaml")).unwrap();
    let base = exp.variant_runtime(0);
    assert_eq!(base.agent.env["GREETING"], "hello", "kept from runtime");
    assert_eq!(
        base.agent.env["EXTRA"], "from-baseline",
        "added by the override"
    );
    let alt = exp.variant_runtime(1);
    assert_eq!(alt.agent.env.len(), 1, "{:?}", alt.agent.env);
    assert_eq!(alt.agent.env["GREETING"], "bonjour");
    assert_eq!(alt.agent.io.input_arg.as_deref(), Some("--task"));
    assert_eq!(alt.policy_timeout_ms, Some(45000));
    assert_eq!(alt.agent.command, exp.runtime().agent.command);
    let other = exp.variant_runtime(2);
    let script = &other.agent.command[1];
    assert!(
        Path::new(script).is_absolute() && script.ends_with("other/agent.py"),
        "resolved against the project root: {script}"
    );
    // A list replaces the base list (it is not merged by index).
    assert_eq!(
        other.dependencies["services"],
        json!([{"id": "cache"}, {"id": "index"}])
    );
    assert_eq!(
        exp.runtime().dependencies["services"],
        json!([{"id": "cache"}])
    );
    assert_eq!(
        exp.variants()[2].bindings,
        json!({}),
        "bindings may be left out"
    );
    assert_eq!(exp.effective_policy(1, 0)["timeout_ms"], 45000);
    assert_eq!(exp.effective_policy(2, 0)["timeout_ms"], 30000);
}

#[test]
fn retry_triggers_have_the_original_meanings() {
    use crate::trial::RetrySpec;
    use journal::event::Classification as C;
    let on = |list: &[&str]| RetrySpec {
        max_attempts: 2,
        retry_on: list.iter().map(|s| s.to_string()).collect(),
        max_infra_attempts: None,
    };
    let retried = |spec: &RetrySpec| -> Vec<C> {
        C::ALL
            .into_iter()
            .filter(|c| spec.should_retry(*c))
            .collect()
    };
    assert_eq!(retried(&on(&["failure"])), [C::AgentExitNonzero]);
    assert_eq!(
        retried(&on(&["error"])),
        [C::Error, C::ResultMissing, C::ResultParseError]
    );
    assert_eq!(
        retried(&on(&["timeout", "grade_error"])),
        [C::Timeout, C::GradeError]
    );
    assert_eq!(
        retried(&on(&[])),
        [
            C::Error,
            C::Timeout,
            C::AgentExitNonzero,
            C::ResultMissing,
            C::ResultParseError,
            C::ResourceLimit
        ],
        "the original's default: outcome error or a non-zero exit; never a graded failure"
    );
}

#[test]
fn pruning_streaks_count_what_each_field_says() {
    use journal::event::{Classification as C, StreakCounts};
    let original = PruningPolicy {
        max_consecutive_failures: Some(2),
        max_consecutive_unsuccessful: None,
    }
    .spec();
    assert_eq!(original.counts, StreakCounts::AgentFailures);
    let labj = PruningPolicy {
        max_consecutive_failures: None,
        max_consecutive_unsuccessful: Some(2),
    }
    .spec();
    assert_eq!(labj.counts, StreakCounts::Unsuccessful);
    assert_eq!(labj.max_consecutive_failures, Some(2));
    // (classification, streak after it from 1: original, labj)
    for (c, o, l) in [
        (C::Success, 0, 0),
        (C::Failure, 0, 2),
        (C::AgentExitNonzero, 2, 2),
        (C::ResultMissing, 2, 2),
        (C::Timeout, 2, 2),
        (C::GradeError, 1, 2),
        (C::WorkerLost, 1, 1),
        (C::Cancelled, 1, 1),
    ] {
        assert_eq!(original.next_streak(1, c), o, "original, {c:?}");
        assert_eq!(labj.next_streak(1, c), l, "labj, {c:?}");
    }
}

#[test]
fn randomized_without_seed_uses_the_original_default() {
    let text = std::fs::read_to_string(repo("testdata/experiments/three_variants.yaml")).unwrap();
    let mut doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    doc["design"]["policies"]["scheduling"] = json!("randomized");
    doc["design"]["shuffle_tasks"] = json!(true);
    let path = repo("testdata/experiments/three_variants.yaml");
    let with_one = {
        let mut d = doc.clone();
        d["design"]["random_seed"] = json!(1);
        load_value(&path, d).unwrap().schedule()
    };
    doc["design"].as_object_mut().unwrap().remove("random_seed");
    let exp = load_value(&path, doc).expect("a seedless randomized schedule loads");
    assert_eq!(exp.design().seed(), 1);
    assert_eq!(exp.schedule(), with_one);
    let out = describe(&exp).render_text();
    assert!(out.contains("seed 1 (the default)"), "{out}");
}
