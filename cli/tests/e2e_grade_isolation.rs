//! The grade is the grader's: an agent that forges a grade, or edits the task the grader
//! reads, is graded by the grader on labj's own copies, and what it left behind is
//! journaled as `tamper` evidence. Real `labj run`, real agent and grader processes.

mod support;
use serde_json::Value;
use std::path::Path;
use support::*;

/// Arithmetic tasks with an expected answer; `lazy` tasks get a grader that exits 0
/// without writing a grade (the case where a forged grade used to be read).
fn tasks(s: &Scratch) {
    s.write(
        "tasks.jsonl",
        "{\"id\":\"task_000\",\"question\":\"2+2\",\"expected\":\"4\"}\n\
         {\"id\":\"task_001\",\"question\":\"3+3\",\"expected\":\"6\",\"lazy\":true}\n",
    );
}

/// The honest grader: compares the agent's answer with the task's expected one, both
/// read through the paths labj gives it.
fn grader(s: &Scratch) {
    s.script(
        "grader.sh",
        r#"field() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }
grep -q '"lazy"' "$AGENTLAB_TASK_PATH" && exit 0
expected=$(field expected "$AGENTLAB_TASK_PATH")
answer=$(field answer "$AGENTLAB_RESULT_PATH")
echo "expected=$expected answer=$answer" > seen.txt
if [ -n "$expected" ] && [ "$answer" = "$expected" ]; then o=success; c=1; else o=failure; c=0; fi
printf '{"schema_version":"grade_result_v1","outcome":"%s","metrics":{"correct":%s}}' "$o" "$c" > "$AGENTLAB_GRADE_PATH""#,
    );
}

fn experiment(s: &Scratch) -> std::path::PathBuf {
    s.write(
        "experiment.yaml",
        "version: \"0.5\"\nexperiment: {id: tamper, name: grade isolation}\ndataset: {path: tasks.jsonl}\ndesign:\n  replications: 1\n  random_seed: 1\n  max_concurrency: 1\n  policies:\n    scheduling: variant_sequential\n    state: isolate_per_trial\nbaseline: {variant_id: base, bindings: {}}\nvariant_plan: []\nruntime:\n  agent:\n    command: [\"./agent.sh\"]\n    timeout_ms: 30000\nbenchmark:\n  grader:\n    command: [\"./grader.sh\"]\nprimary_metric: correct\n",
    )
}

/// (classification, outcome, tamper evidence paths) of each trial_completed, by task.
fn completions(s: &Scratch, run: &Path) -> Vec<(String, Value, Vec<String>)> {
    events_of(s, run, "trial_completed")
        .into_iter()
        .map(|e| {
            let p = &e["payload"];
            let tamper = p["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|ev| ev["class"] == "tamper")
                .map(|ev| ev["path"].as_str().unwrap().to_string())
                .collect();
            (
                p["classification"].as_str().unwrap().to_string(),
                p["outcome"].clone(),
                tamper,
            )
        })
        .collect()
}

fn run_it(s: &Scratch) -> (std::process::Output, std::path::PathBuf) {
    let exp = experiment(s);
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    (out, s.the_run())
}

#[test]
fn forged_grade_is_ignored_journaled_as_tamper_and_the_verdict_is_the_graders() {
    let s = Scratch::new();
    tasks(&s);
    grader(&s);
    // Wrong answers, a success grade at the old grade path and one in the directory the
    // grader will get, created before the grader exists.
    s.script(
        "agent.sh",
        r#"printf '{"schema_version":"agent_result_v1","outcome":"success","answer":"5"}' > "$AGENTLAB_RESULT_PATH"
forged='{"schema_version":"grade_result_v1","outcome":"success","metrics":{"correct":1}}'
printf '%s' "$forged" > "$AGENTLAB_TRIAL_DIR/grade.json"
mkdir -p "$(dirname "$AGENTLAB_RESULT_PATH")/grader"
printf '%s' "$forged" > "$(dirname "$AGENTLAB_RESULT_PATH")/grader/grade.json""#,
    );
    let (out, run) = run_it(&s);
    let c = completions(&s, &run);
    assert_eq!(c.len(), 2, "{}", text(&out));
    // task_000: the grader saw the wrong answer and said so.
    assert_eq!(c[0].0, "failure", "{c:?}\n{}", text(&out));
    assert_eq!(c[0].1, "failure");
    // task_001: the grader wrote nothing; the forged grades do not stand in for it.
    assert_eq!(c[1].0, "grade_error", "{c:?}");
    for (i, (_, _, tamper)) in c.iter().enumerate() {
        let trial = format!("trials/trial_{i:06}/attempt_1/tampered");
        let mut got = tamper.clone();
        got.sort();
        assert_eq!(
            got,
            vec![
                format!("{trial}/attempt_1__grader/grade.json"),
                format!("{trial}/grade.json")
            ],
            "both forged grades are journaled as tamper evidence"
        );
        for p in tamper {
            let forged = std::fs::read_to_string(run.join(p)).unwrap();
            assert!(forged.contains("\"success\""), "{p}: {forged}");
        }
    }
    // No success was recorded anywhere.
    let slots = committed_slots(&run);
    assert!(
        slots.iter().all(|(_, _, cls)| cls != "success"),
        "{slots:?}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "the run itself completed: {}",
        text(&out)
    );
    check_journal(&run);
}

#[test]
fn task_editing_agent_is_graded_against_the_original_task() {
    let s = Scratch::new();
    tasks(&s);
    grader(&s);
    // The agent answers 5 and rewrites the task (and its trial input) to expect 5. The
    // task is a read-only name of an input shared with other trials: it makes it writable
    // first, as an agent set on cheating would.
    s.script(
        "agent.sh",
        r#"chmod u+w "$AGENTLAB_TASK_PATH"
printf '{"id":"%s","question":"2+2","expected":"5"}' "$AGENTLAB_TASK_ID" > "$AGENTLAB_TASK_PATH"
sed -i 's/"expected": "[0-9]*"/"expected": "5"/' "$AGENTLAB_TRIAL_DIR/trial_input.json"
printf '{"schema_version":"agent_result_v1","outcome":"success","answer":"5"}' > "$AGENTLAB_RESULT_PATH""#,
    );
    let (out, run) = run_it(&s);
    let c = completions(&s, &run);
    assert_eq!(
        c[0].0,
        "failure",
        "graded against 4, not the agent's 5: {c:?}\n{}",
        text(&out)
    );
    let seen =
        std::fs::read_to_string(run.join("trials/trial_000000/attempt_1/grader/seen.txt")).unwrap();
    assert_eq!(seen.trim(), "expected=4 answer=5");
    assert_eq!(
        c[0].2,
        vec!["trials/trial_000000/attempt_1/tampered/task.json".to_string()],
        "the edited task is journaled as tamper evidence"
    );
    let edited =
        std::fs::read_to_string(run.join("trials/trial_000000/attempt_1/tampered/task.json"))
            .unwrap();
    assert!(edited.contains("\"expected\":\"5\""), "{edited}");
    // labj put the original back in the trial directory.
    let restored = std::fs::read_to_string(run.join("trials/trial_000000/task.json")).unwrap();
    assert!(restored.contains("\"4\""), "{restored}");
    check_journal(&run);

    // Control: the same grader passes an honest agent, so the check above can fail.
    let s = Scratch::new();
    tasks(&s);
    grader(&s);
    s.script(
        "agent.sh",
        r#"printf '{"schema_version":"agent_result_v1","outcome":"success","answer":"4"}' > "$AGENTLAB_RESULT_PATH""#,
    );
    let (out, run) = run_it(&s);
    let c = completions(&s, &run);
    assert_eq!(c[0].0, "success", "{c:?}\n{}", text(&out));
    assert!(
        c[0].2.is_empty() && c[1].2.is_empty(),
        "no tamper evidence: {c:?}"
    );
}
