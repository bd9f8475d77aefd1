//! `runtime.policy.sandbox.run_as_user` on real podman (runc), images built by
//! scripts/setup.d/40-podman.sh (`localhost/labj-test-user:1` has a user `agent`, uid
//! 1000, group `agents` 1001; the other test images only `root`):
//!
//! * the contract directories the container writes (`/agentlab/out`, `state`,
//!   `workspace`; an in-image grader's stage and workspace copy) belong to the configured
//!   user, so its trials commit their own outcome (they used to be root-owned 0755:
//!   every trial `result_missing`, scored);
//! * a user or group the image does not define is refused by `describe` and by `run`
//!   before any trial, naming user, image and field (it used to be engine exit 126,
//!   scored `agent_exit_nonzero`); a numeric uid the image's passwd lacks is accepted,
//!   as podman accepts it.

mod support;
use serde_json::Value;
use std::path::PathBuf;
use support::iso::*;
use support::*;

const IMAGE_USER: &str = "localhost/labj-test-user:1";

/// Writes into every contract directory it may write, then reports `success` for
/// task_000 and `failure` for the others, with its uid and gid as metrics.
const AGENT: &str = r#"set -e
echo "agent $(id -u)" > /agentlab/state/owner
echo answer > /agentlab/workspace/answer.txt
echo log > /agentlab/out/agent_note.txt
if [ "$AGENTLAB_TASK_ID" = task_000 ]; then o=success; else o=failure; fi
printf '{"schema_version":"agent_result_v1","outcome":"%s","metrics":{"uid":%s,"gid":%s}}' $o $(id -u) $(id -g) > "$AGENTLAB_RESULT_PATH""#;

/// The in-image grader: edits its workspace copy and grades by the agent's answer and
/// task (its stage, where grade.json goes, must be writable too).
const GRADER: &str = r#"set -e
echo graded >> /agentlab/workspace/answer.txt
if [ "$AGENTLAB_TASK_ID" = task_000 ]; then o=success; else o=failure; fi
printf '{"schema_version":"grade_result_v1","outcome":"%s","metrics":{"grader_uid":%s}}' $o $(id -u) > "$AGENTLAB_GRADE_PATH""#;

fn experiment(s: &Scratch, image: &str, user: &str, grader: bool) -> PathBuf {
    s.tasks(2);
    let grader = if grader {
        format!(
            "benchmark:\n  grader:\n    command: [\"sh\", \"-c\", {GRADER:?}]\n    strategy: in_task_image\n    timeout_ms: 60000\n"
        )
    } else {
        String::new()
    };
    let yaml = format!(
        "version: \"0.5\"
experiment: {{id: user, name: container user}}
dataset: {{path: tasks.jsonl}}
design:
  replications: 1
  max_concurrency: 2
  policies:
    scheduling: variant_sequential
    state: isolate_per_trial
    retry: {{max_attempts: 1, max_infra_attempts: 1}}
baseline: {{variant_id: base, bindings: {{}}}}
variant_plan: []
runtime:
  agent:
    image: {image}
    command: [\"sh\", \"-c\", {AGENT:?}]
    timeout_ms: 60000
  policy:
    sandbox: {{mode: container, run_as_user: {user:?}}}
    network: {{mode: none}}
{grader}"
    );
    s.write("experiment.yaml", &yaml)
}

fn labj(s: &Scratch, args: &[&str]) -> std::process::Output {
    output_within(
        &mut labj_podman(s, args),
        COMMAND_LIMIT,
        &format!("labj {}", args.join(" ")),
    )
}

/// task id → trial_completed payload.
fn by_task(s: &Scratch, run: &std::path::Path) -> std::collections::BTreeMap<String, Value> {
    completions(s, run)
        .into_iter()
        .map(|p| {
            let slot = p["schedule_idx"].as_u64().unwrap();
            (format!("task_{slot:03}"), p)
        })
        .collect()
}

#[test]
fn a_configured_container_user_writes_its_directories_and_its_trials_commit_their_outcome() {
    require_podman();
    // The documented example (a uid), then a name and group the image defines, graded
    // in the task image by the same user.
    for (user, uid, gid, grader) in [
        ("1000", 1000.0, None, false),
        ("agent:agents", 1000.0, Some(1001.0), true),
    ] {
        let s = Scratch::new();
        let exp = experiment(&s, IMAGE_USER, user, grader);
        let out = labj(&s, &["run", exp.to_str().unwrap()]);
        let t = text(&out);
        eprintln!("--- run_as_user {user}: exit {:?}\n{t}", out.status.code());
        let run = s.the_run();
        check_journal(&run);
        let done = by_task(&s, &run);
        assert_eq!(done.len(), 2, "{user}: {done:?}");
        for (task, want) in [("task_000", "success"), ("task_001", "failure")] {
            let c = &done[task];
            assert_eq!(c["classification"], want, "{user} {task}: {c}");
            assert_eq!(c["outcome"], want, "{user} {task}: {c}");
            let m = &c["metrics"];
            if grader {
                assert_eq!(
                    m["grader_uid"], 1000.0,
                    "{user} {task}: the grader ran as the user: {c}"
                );
            } else {
                assert_eq!(m["uid"], uid, "{user} {task}: {c}");
                if let Some(gid) = gid {
                    assert_eq!(m["gid"], gid, "{user} {task}: {c}");
                }
            }
        }
        // Verdicts, not machinery: the run exits as a run with a failed trial does.
        assert_ne!(out.status.code(), Some(3), "{user}: no infra fault\n{t}");
        let v = s.labj(&["verify", run.to_str().unwrap()]);
        assert!(v.status.success(), "{user}: verify\n{}", text(&v));
    }
}

#[test]
fn a_user_the_image_lacks_is_refused_before_any_trial_naming_user_image_and_field() {
    require_podman();
    for (image, user, said) in [
        (IMAGE_A, "nobody", format!("run_as_user `nobody` is not a user of image `{IMAGE_A}`: its /etc/passwd has no user `nobody`")),
        (IMAGE_USER, "agent:staff", format!("run_as_user `agent:staff`: group `staff` is not a group of image `{IMAGE_USER}`: its /etc/group has no group `staff`")),
    ] {
        let s = Scratch::new();
        let exp = experiment(&s, image, user, false);
        for cmd in ["describe", "run"] {
            let out = labj(&s, &[cmd, exp.to_str().unwrap()]);
            let t = text(&out);
            eprintln!("--- labj {cmd}, run_as_user {user} in {image}: exit {:?}\n{t}", out.status.code());
            assert_eq!(out.status.code(), Some(1), "{cmd} {user}: {t}");
            assert!(t.contains(&said), "{cmd} {user}: {t}");
            assert!(t.contains("/runtime/policy/sandbox/run_as_user"), "{cmd} names the field: {t}");
            assert!(!t.contains("panicked"), "{t}");
        }
        assert!(s.first_run().is_none(), "{user}: run refused before creating a run");
    }
    // A uid the image's passwd does not list is what engines accept: describe passes.
    let s = Scratch::new();
    let exp = experiment(&s, IMAGE_A, "4242", false);
    let out = labj(&s, &["describe", exp.to_str().unwrap()]);
    assert!(out.status.success(), "numeric uid 4242: {}", text(&out));
}
