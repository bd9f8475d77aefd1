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
use support::recorded::*;
use support::*;

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
    // and no fact table records durations, timestamps, workers or tickets. Each table
    // compared holds rows (comparing two empty tables would prove nothing);
    // `fact_chain_states` is left out: only `isolate_per_trial` runs, which keeps no
    // chain state, so it is empty in every run.
    for t in [
        "fact_trials",
        "fact_metrics",
        "fact_trial_events",
        "fact_variant_snapshots",
        "fact_evidence",
        "proj_slots",
    ] {
        let rows = fact_table(&serial, t);
        assert!(
            !rows.is_empty(),
            "{t} is empty: the comparison would be vacuous"
        );
        assert_eq!(
            rows,
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
    // 1 s, later tasks after 1.5 s. So when task 2's failure (the third) commits,
    // tasks 3..5 are certainly in flight and tasks 6..9 were never dispatched.
    s.script(
        "agent.sh",
        r#"if [ "$AGENTLAB_VARIANT_ID" = bad ]; then
  case "$AGENTLAB_TASK_ID" in
    task_000|task_001) ;;
    task_002) sleep 1 ;;
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
        "    pruning:\n      max_consecutive_unsuccessful: 3\n",
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
