//! End-to-end tests of `labj run`: the real binary, real agent processes, real journals.
//!
//! Concurrency is observed from the agents' side: each recording agent appends
//! `start <ns>` when it begins and `end <ns>` just before it exits to a per-trial file.
//! A recorded interval lies inside the process's real lifetime, so the sweep-line maximum
//! over recorded intervals never over-counts: seeing 5 would prove 5 were alive.
//!
//! Every test ends with `check_journal` (chain verifies, live == rebuilt projections,
//! `labj verify` is clean).

mod support;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::*;

/// One agent's recorded lifetime.
#[derive(Debug, Clone)]
struct Alive {
    trial: String,
    variant: String,
    start: u128,
    end: u128,
}

/// A sh agent that records its lifetime under `<scratch>/rec/`, sleeps `sleep`, and
/// then runs `tail` (which must write the result).
fn recording_agent(s: &Scratch, sleep: &str, tail: &str) -> PathBuf {
    let rec = s.dir().join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    s.script(
        "agent.sh",
        &format!(
            r#"rec="{rec}/$AGENTLAB_TRIAL_ID"
echo "start $(date +%s%N) $AGENTLAB_VARIANT_ID" >>"$rec"
sleep {sleep}
echo "end $(date +%s%N) $AGENTLAB_VARIANT_ID" >>"$rec"
{tail}"#,
            rec = rec.display()
        ),
    )
}

const SUCCESS: &str = r#"printf '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"score":1}}' >"$AGENTLAB_RESULT_PATH""#;

/// Every agent's recorded interval; panics on a trial without both markers.
fn records(s: &Scratch) -> Vec<Alive> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(s.dir().join("rec")).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let (mut start, mut end, mut variant) = (None, None, String::new());
        for line in text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let ns: u128 = parts[1].parse().expect("date +%s%N gives nanoseconds");
            variant = parts.get(2).unwrap_or(&"").to_string();
            match parts[0] {
                "start" => start = Some(ns),
                "end" => end = Some(ns),
                other => panic!("unexpected record {other:?}"),
            }
        }
        out.push(Alive {
            trial: e.file_name().to_string_lossy().into_owned(),
            variant,
            start: start.unwrap_or_else(|| panic!("{:?}: no start", e.path())),
            end: end.unwrap_or_else(|| panic!("{:?}: no end", e.path())),
        });
    }
    out.sort_by(|a, b| a.trial.cmp(&b.trial));
    out
}

/// Sweep-line maximum of simultaneously alive agents. On equal timestamps an end is
/// counted before a start, so touching intervals do not count as overlapping.
fn max_alive<'a>(intervals: impl IntoIterator<Item = &'a Alive>) -> usize {
    let mut points: Vec<(u128, i32)> = Vec::new();
    for a in intervals {
        points.push((a.start, 1));
        points.push((a.end, -1));
    }
    points.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in points {
        now += d;
        max = max.max(now);
    }
    max as usize
}

fn overlaps(a: &Alive, b: &Alive) -> bool {
    a.start < b.end && b.start < a.end
}

/// Rewrite the scratch experiment YAML (for settings `Scratch::experiment` fixes).
fn edit_experiment(s: &Scratch, from: &str, to: &str) {
    let p = s.dir().join("experiment.yaml");
    let yaml = std::fs::read_to_string(&p).unwrap();
    assert!(yaml.contains(from), "{from:?} not in experiment:\n{yaml}");
    std::fs::write(&p, yaml.replacen(from, to, 1)).unwrap();
}

fn labj_env(s: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(labj_bin())
        .current_dir(s.dir())
        .arg("--runs-dir")
        .arg(s.runs_dir())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run labj")
}

/// `labj run --json <exp> [extra]`, asserting exit 0; returns the run directory.
fn run_ok(s: &Scratch, exp: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec!["run", "--json", exp.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = s.labj(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    run_dir_of(&out)
}

fn run_dir_of(out: &Output) -> PathBuf {
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("labj run --json printed no JSON ({e}): {}", text(out)));
    PathBuf::from(v["run_dir"].as_str().expect("run_dir"))
}

/// Journal events of one kind, as JSON, through `labj events --kind <k> --json`.
fn events_of(s: &Scratch, run_dir: &Path, kind: &str) -> Vec<Value> {
    let out = s.labj(&[
        "events",
        run_dir.to_str().unwrap(),
        "--kind",
        kind,
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("event line is JSON"))
        .collect()
}

/// The payload of an event line from `labj events --json` (whatever key holds it).
fn payload(e: &Value) -> &Value {
    e.get("payload").unwrap_or(e)
}

/// `fact_trials` rows as (schedule_idx, classification, attempts).
fn trial_facts(run_dir: &Path) -> Vec<(String, String, String)> {
    fact_table(run_dir, "fact_trials")
        .into_iter()
        .map(|r| (r[0].clone(), r[6].clone(), r[9].clone()))
        .collect()
}

#[test]
fn p4_cutover_uses_parallel_engine_path_for_isolate_policy() {
    let s = Scratch::new();
    s.tasks(8);
    recording_agent(&s, "0.3", SUCCESS);
    let exp = s.experiment(&["a"], 1, 4, "");
    let run = run_ok(&s, &exp, &[]);
    let rec = records(&s);
    assert_eq!(rec.len(), 8, "every trial ran once: {rec:?}");
    let max = max_alive(&rec);
    assert!(
        max >= 2,
        "isolate_per_trial with max_concurrency 4 ran serially: {rec:?}"
    );
    let proj = check_journal(&run);
    assert_eq!(proj.aggregates.overall.succeeded, 8);
}

#[test]
fn p7_concurrency_cap_honors_max_in_flight_four() {
    let s = Scratch::new();
    s.tasks(16);
    recording_agent(&s, "0.25", SUCCESS);
    let exp = s.experiment(&["a"], 1, 4, "");
    let run = run_ok(&s, &exp, &[]);
    let rec = records(&s);
    assert_eq!(rec.len(), 16);
    assert_eq!(
        max_alive(&rec),
        4,
        "max_concurrency 4: exactly 4 agents alive at the peak, never 5: {rec:?}"
    );
    let proj = check_journal(&run);
    assert_eq!(proj.progress.next_commit_idx, 16);
}

#[test]
fn p7_per_variant_cap_one_never_runs_two_of_a_variant() {
    let s = Scratch::new();
    s.tasks(6);
    recording_agent(&s, "0.2", SUCCESS);
    let exp = s.experiment(
        &["a", "b"],
        1,
        4,
        "    concurrency:\n      max_in_flight_per_variant: 1\n",
    );
    let run = run_ok(&s, &exp, &[]);
    let rec = records(&s);
    assert_eq!(rec.len(), 12);
    for v in ["a", "b"] {
        let mine: Vec<&Alive> = rec.iter().filter(|r| r.variant == v).collect();
        assert_eq!(mine.len(), 6);
        assert_eq!(
            max_alive(mine.iter().copied()),
            1,
            "two agents of variant {v} alive at once: {rec:?}"
        );
    }
    let cross = rec
        .iter()
        .filter(|x| x.variant == "a")
        .any(|x| rec.iter().any(|y| y.variant == "b" && overlaps(x, y)));
    assert!(cross, "variants a and b never overlapped: {rec:?}");
    assert!(max_alive(&rec) <= 2);
    check_journal(&run);
}

/// Outcome and metrics depend only on the task number and the variant; the agent also
/// writes a file into its workspace so workspace evidence is produced.
const DETERMINISTIC_AGENT: &str = r#"n=${AGENTLAB_TASK_ID#task_}
n=$(echo "$n" | sed 's/^0*//'); n=${n:-0}
case "$AGENTLAB_VARIANT_ID" in a) k=1 ;; *) k=2 ;; esac
echo "answer $((n * k))" >answer.txt
echo "working on $AGENTLAB_TASK_ID"
# Finish out of schedule order at concurrency > 1: earlier tasks sleep longer.
sleep "0.$(( 3 - n % 4 ))"
if [ $(( (n + k) % 3 )) -eq 0 ]; then outcome=failure; else outcome=success; fi
printf '{"schema_version":"agent_result_v1","outcome":"%s","metrics":{"score":%s,"steps":%s}}' \
  "$outcome" "$(( (n * k) % 5 ))" "$(( n + k ))" >"$AGENTLAB_RESULT_PATH""#;

#[test]
fn p7_parallel_and_serial_equivalent_final_aggregates_ordering_normalized() {
    let s = Scratch::new();
    s.tasks(8);
    s.script("agent.sh", DETERMINISTIC_AGENT);
    let exp = s.experiment(&["a", "b"], 1, 4, "");
    let serial = run_ok(&s, &exp, &["--max-concurrency", "1"]);
    let parallel = run_ok(&s, &exp, &["--max-concurrency", "4"]);
    let ps = check_journal(&serial);
    let pp = check_journal(&parallel);
    assert_eq!(ps.aggregates_doc(), pp.aggregates_doc());
    // Both outcomes occur, so the comparison covers failures as well as successes.
    let agg = &ps.aggregates.overall;
    assert!(
        agg.succeeded > 0 && agg.succeeded < agg.committed,
        "{agg:?}"
    );
    // No normalization needed: every fact row is keyed by schedule_idx, paths in
    // evidence are run-relative, digests are content hashes of deterministic files,
    // and no fact table records durations, timestamps, workers or tickets.
    for t in [
        "fact_trials",
        "fact_metrics",
        "fact_trial_events",
        "fact_variant_snapshots",
        "fact_evidence",
        "fact_chain_states",
        "proj_slots",
    ] {
        assert_eq!(
            fact_table(&serial, t),
            fact_table(&parallel, t),
            "{t} differs between concurrency 1 and 4"
        );
    }
    assert_eq!(fact_table(&serial, "fact_trials").len(), 16);
    assert!(!fact_table(&serial, "fact_evidence").is_empty());
}

#[test]
fn pruning_stops_dispatching_a_failing_variant_and_finishes_in_flight_trials() {
    let s = Scratch::new();
    s.tasks(10);
    // `bad` (scheduled first) fails every task: tasks 0 and 1 at once, task 2 after
    // 0.8 s, later tasks after 1.5 s. So when task 2's failure (the third) commits,
    // tasks 3..5 are certainly in flight and tasks 6..9 were never dispatched.
    s.script(
        "agent.sh",
        r#"if [ "$AGENTLAB_VARIANT_ID" = bad ]; then
  case "$AGENTLAB_TASK_ID" in
    task_000|task_001) ;;
    task_002) sleep 0.8 ;;
    *) sleep 1.5 ;;
  esac
  printf '{"outcome":"failure","metrics":{"score":0}}' >"$AGENTLAB_RESULT_PATH"
else
  printf '{"outcome":"success","metrics":{"score":1}}' >"$AGENTLAB_RESULT_PATH"
fi"#,
    );
    let exp = s.experiment(
        &["bad", "good"],
        1,
        4,
        "    pruning:\n      max_consecutive_failures: 3\n",
    );
    let run = run_ok(&s, &exp, &[]);
    let proj = check_journal(&run);

    let pruned = events_of(&s, &run, "variant_pruned");
    assert_eq!(pruned.len(), 1, "{pruned:?}");
    let p = payload(&pruned[0]);
    assert_eq!(p["variant_id"], "bad", "{p}");
    assert_eq!(p["consecutive_failures"], 3, "{p}");
    assert_eq!(p["at_schedule_idx"], 2, "{p}");

    let dispatched: Vec<u64> = events_of(&s, &run, "trial_dispatched")
        .iter()
        .map(|e| payload(e)["schedule_idx"].as_u64().expect("schedule_idx"))
        .collect();
    let slots = committed_slots(&run);
    assert_eq!(slots.len(), 20);
    for (idx, status, class) in &slots[..10] {
        if *idx < 6 {
            assert!(dispatched.contains(idx), "bad slot {idx} should have run");
            assert_eq!(
                (status.as_str(), class.as_str()),
                ("completed", "failure"),
                "bad slot {idx} (dispatched before the prune) commits normally"
            );
        } else {
            assert!(
                !dispatched.contains(idx),
                "bad slot {idx} ran after the prune"
            );
            assert_eq!(status, "skipped_pruned", "bad slot {idx}");
        }
    }
    for (idx, status, class) in &slots[10..] {
        assert_eq!(
            (status.as_str(), class.as_str()),
            ("completed", "success"),
            "good slot {idx}"
        );
    }
    let good = &proj.aggregates.variants["good"];
    assert_eq!((good.committed, good.succeeded), (10, 10));
    let bad = &proj.aggregates.variants["bad"];
    assert_eq!((bad.committed, bad.skipped_pruned), (10, 4));
    assert!(proj.progress.pruned_variants.contains("bad"));
}

#[test]
fn retry_on_error_succeeds_on_second_attempt_with_one_commit_per_trial() {
    let s = Scratch::new();
    s.tasks(3);
    // Attempt 1 is judged by its result; the marker file proves the retry ran in the
    // same trial directory.
    s.script(
        "agent.sh",
        r#"if [ "$AGENTLAB_ATTEMPT" = 1 ]; then
  touch "$AGENTLAB_TRIAL_DIR/first_attempt_ran"
  printf '{"outcome":"error","error":"transient"}' >"$AGENTLAB_RESULT_PATH"
else
  test -f "$AGENTLAB_TRIAL_DIR/first_attempt_ran" || exit 9
  printf '{"outcome":"success","metrics":{"score":1}}' >"$AGENTLAB_RESULT_PATH"
fi"#,
    );
    let exp = s.experiment(
        &["a"],
        1,
        2,
        "    retry:\n      max_attempts: 2\n      retry_on: [error]\n",
    );
    let run = run_ok(&s, &exp, &[]);
    let proj = check_journal(&run);
    let slots = committed_slots(&run);
    assert_eq!(slots.len(), 3);
    assert!(slots
        .iter()
        .all(|(_, st, c)| st == "completed" && c == "success"));
    for (_, class, attempts) in trial_facts(&run) {
        assert_eq!((class.as_str(), attempts.as_str()), ("success", "2"));
    }
    let attempts = fact_table(&run, "fact_trial_events");
    assert_eq!(
        attempts.len(),
        6,
        "two attempt rows per trial: {attempts:?}"
    );
    for pair in attempts.chunks(2) {
        assert_eq!(pair[0][4], "error", "{pair:?}");
        assert_eq!(pair[1][4], "success", "{pair:?}");
    }
    assert_eq!(events_of(&s, &run, "slot_committed").len(), 3);
    assert_eq!(proj.aggregates.overall.succeeded, 3);
}

fn pid_alive(pid: i32) -> bool {
    // A zombie (killed, not yet reaped by init in a container) is not alive.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("?");
            state != "Z" && state != "X"
        }
    }
}

#[test]
fn timeout_commits_timeout_and_kills_the_grandchild() {
    let s = Scratch::new();
    s.tasks(1);
    s.script(
        "agent.sh",
        r#"sleep 30 &
echo $! >"$AGENTLAB_TRIAL_DIR/grandchild.pid"
sleep 30"#,
    );
    let exp = s.experiment(&["a"], 1, 1, "");
    edit_experiment(&s, "timeout_ms: 60000", "timeout_ms: 500");
    let started = std::time::Instant::now();
    let run = run_ok(&s, &exp, &[]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the run waited for the sleeping agent instead of timing it out"
    );
    let slots = committed_slots(&run);
    assert_eq!(slots, vec![(0, "failed".into(), "timeout".into())]);
    let pid: i32 = std::fs::read_to_string(run.join("trials/trial_000000/grandchild.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The group is killed before the completion is reported; allow a moment for init
    // to reap it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while pid_alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!pid_alive(pid), "grandchild {pid} outlived its trial");
    check_journal(&run);
}

#[test]
fn malformed_missing_and_oversized_results_commit_as_trial_failures() {
    let s = Scratch::new();
    s.tasks(3);
    s.script(
        "agent.sh",
        r#"case "$AGENTLAB_TASK_ID" in
  task_000) printf '{"outcome":' >"$AGENTLAB_RESULT_PATH" ;;
  task_001) echo "forgot the result" ;;
  task_002)
    # Valid JSON padded past the 1 MiB limit: refused for its size alone.
    { printf '{"outcome":"success"'; head -c 1100000 /dev/zero | tr '\0' ' '; printf '}'; } >"$AGENTLAB_RESULT_PATH" ;;
esac"#,
    );
    let exp = s.experiment(&["a"], 1, 3, "");
    let run = run_ok(&s, &exp, &[]);
    let slots = committed_slots(&run);
    let classes: Vec<&str> = slots.iter().map(|(_, _, c)| c.as_str()).collect();
    assert_eq!(
        classes,
        ["result_parse_error", "result_missing", "result_parse_error"]
    );
    assert!(slots.iter().all(|(_, st, _)| st == "failed"), "{slots:?}");
    let details = fact_table(&run, "fact_trial_events");
    assert!(
        details[2][6].contains("limit"),
        "oversized result names the limit: {details:?}"
    );
    let proj = check_journal(&run);
    assert_eq!(proj.aggregates.overall.succeeded, 0);
}

#[test]
fn spawn_failure_is_an_infra_fault_that_sets_exit_code_three() {
    let s = Scratch::new();
    s.tasks(2);
    let exp = s.experiment(&["a"], 1, 2, "");
    // A relative path that does not exist is refused at load time (exit 1, tested in
    // the experiment crate); a bare name is looked up on PATH only at spawn time.
    edit_experiment(&s, "[\"./agent.sh\"]", "[\"labj-e2e-no-such-agent\"]");
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("infrastructure"),
        "{}",
        text(&out)
    );
    let first = s.the_run();
    let slots = committed_slots(&first);
    assert_eq!(slots.len(), 2);
    assert!(
        slots.iter().all(|(_, _, c)| c == "spawn_failure"),
        "{slots:?}"
    );
    let detail = &fact_table(&first, "fact_trial_events")[0][6];
    assert!(detail.contains("labj-e2e-no-such-agent"), "{detail}");
    check_journal(&first);

    std::fs::remove_dir_all(s.runs_dir()).unwrap();
    let out = s.labj(&[
        "run",
        exp.to_str().unwrap(),
        "--fail-on-infra-error",
        "100%",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    check_journal(&s.the_run());
}

#[test]
fn p5b_local_worker_capacity_ceiling_e2e_journals_warning_and_caps_agents() {
    let s = Scratch::new();
    s.tasks(8);
    recording_agent(&s, "0.25", SUCCESS);
    let exp = s.experiment(&["a"], 1, 4, "");
    let out = labj_env(
        &s,
        &["run", "--json", exp.to_str().unwrap()],
        &[("AGENTLAB_LOCAL_WORKER_MAX_IN_FLIGHT", "2")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = run_dir_of(&out);
    let warnings = events_of(&s, &run, "backend_warning");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = payload(&warnings[0]);
    assert_eq!(
        (w["requested"].as_u64(), w["effective"].as_u64()),
        (Some(4), Some(2))
    );
    assert!(
        w["message"]
            .as_str()
            .unwrap_or("")
            .contains("AGENTLAB_LOCAL_WORKER_MAX_IN_FLIGHT"),
        "{w}"
    );
    let rec = records(&s);
    assert_eq!(rec.len(), 8);
    assert_eq!(max_alive(&rec), 2, "ceiling 2 observed by agents: {rec:?}");
    check_journal(&run);
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

#[test]
fn describe_p0_fixture_does_not_panic() {
    let out = Command::new(labj_bin())
        .current_dir(repo_root())
        .args([
            "describe",
            "testdata/p0_benchmark_adaptation_trial_shape.json",
        ])
        .output()
        .unwrap();
    let all = text(&out);
    assert!(!all.contains("panicked"), "{all}");
    // Exit 0 (described) or 1 (a clear error naming the file); never a crash.
    match out.status.code() {
        Some(0) => assert!(!out.stdout.is_empty(), "{all}"),
        Some(1) => assert!(all.contains("p0_benchmark_adaptation_trial_shape"), "{all}"),
        other => panic!("unexpected exit {other:?}: {all}"),
    }
}

#[test]
fn quickstart_example_runs_48_slots_and_careful_succeeds_everywhere() {
    let s = Scratch::new();
    let exp = repo_root().join("examples/quickstart/experiment.yaml");
    let run = run_ok(&s, &exp, &[]);
    let proj = check_journal(&run);
    assert_eq!(committed_slots(&run).len(), 48);
    assert_eq!(proj.progress.next_commit_idx, 48);
    let careful = &proj.aggregates.variants["careful"];
    assert_eq!(careful.success_rate(), Some(1.0), "{careful:?}");
}

#[test]
fn invalid_experiment_exits_1_names_file_and_pointer_and_creates_no_run() {
    let s = Scratch::new();
    s.tasks(2);
    let exp = s.experiment(&["a"], 1, 2, "");
    edit_experiment(&s, "max_concurrency: 2", "max_concurrency: many");
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("experiment.yaml"), "names the file: {err}");
    assert!(
        err.contains("/design/max_concurrency"),
        "names the pointer: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let runs = s.runs_dir();
    let empty = !runs.exists() || std::fs::read_dir(&runs).unwrap().next().is_none();
    assert!(
        empty,
        "a run directory was created for an invalid experiment"
    );
}
