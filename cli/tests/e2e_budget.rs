//! Budget caps (`design.policies.budget`): dispatch stops once agents' reported spend
//! reaches a cap (trials already running finish and are scored), journaled as
//! `budget_reached`; `status` shows it; `continue` keeps the cap and stops again at once;
//! `continue --budget KEY=VALUE` raises it and the run resumes. Under concurrency and
//! across a `kill -9` of the driving process. Real processes, real journals.

mod support;

use std::process::Command;
use std::time::Duration;
use support::*;

/// Agents that each report `cost_usd: 1.0` and 100 + 50 tokens, sleeping `ms` first.
fn setup(s: &Scratch, tasks: usize, concurrency: u32, budget_yaml: &str, ms: u32) {
    s.tasks(tasks);
    s.script(
        "agent.sh",
        &format!(
            "sleep {}\nprintf '{{\"schema_version\":\"agent_result_v1\",\"outcome\":\"success\",\"metrics\":{{\"score\":1,\"cost_usd\":1.0,\"tokens_in\":100,\"tokens_out\":50}}}}' > \"$AGENTLAB_RESULT_PATH\"",
            f64::from(ms) / 1000.0
        ),
    );
    s.experiment(&["base", "alt"], 1, concurrency, budget_yaml);
}

/// Index of the first event of `kind`, and the dispatches journaled after it.
fn dispatches_after_first(run: &std::path::Path, kind: &str) -> (Option<u64>, usize) {
    let events = read_events(run);
    let first = events
        .iter()
        .find(|e| e.event.kind() == kind)
        .map(|e| e.idx);
    let after = first.map_or(0, |i| {
        events
            .iter()
            .filter(|e| e.idx > i && e.event.kind() == "trial_dispatched")
            .count()
    });
    (first, after)
}

fn kinds(run: &std::path::Path, kind: &str) -> usize {
    read_events(run)
        .iter()
        .filter(|e| e.event.kind() == kind)
        .count()
}

/// Trials whose completion was journaled (committed or held for commit).
fn completed(run: &std::path::Path) -> usize {
    kinds(run, "trial_completed")
}

#[test]
fn a_cost_cap_stops_dispatch_under_concurrency_is_kept_by_continue_and_raised() {
    let s = Scratch::new();
    // 2 variants × 20 tasks = 40 trials of $1 each, 4 at a time, capped at $10.
    setup(&s, 20, 4, "    budget: {max_cost_usd: 10}\n", 100);
    let o = s.labj(&["run", "experiment.yaml"]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "budget stop exits 5: {}",
        text(&o)
    );
    let run = s.the_run();
    let (first, after) = dispatches_after_first(&run, "budget_reached");
    assert!(first.is_some(), "budget_reached journaled");
    assert_eq!(after, 0, "no dispatch after the cap was reached");
    let done = completed(&run);
    // The cap is reached at the 10th dollar; at most the trials then running (4, and as
    // many queued ahead) finish after it.
    assert!((10..=18).contains(&done), "{done} trials completed");
    assert!(
        kinds(&run, "trial_dispatched") == done,
        "every dispatched trial finished"
    );
    let st = s.labj(&["status", run.to_str().unwrap()]);
    let st_text = text(&st);
    assert!(st_text.contains("budget reached for the run"), "{st_text}");
    assert!(
        st_text.contains("spent (reported by agents) · cost $"),
        "{st_text}"
    );
    check_journal(&run);

    // The same cap: continue stops again at once, nothing new dispatched.
    let o = s.labj(&["continue", run.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert_eq!(completed(&run), done, "nothing ran under the same cap");
    assert_eq!(
        kinds(&run, "budget_reached"),
        2,
        "each session journals its stop"
    );

    // Raised: the run resumes and finishes.
    let o = s.labj(&[
        "continue",
        run.to_str().unwrap(),
        "--budget",
        "max_cost_usd=1000",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let proj = check_journal(&run);
    assert_eq!(proj.progress.next_commit_idx, 40);
    assert_eq!(proj.control.status.as_str(), "completed");
    // The raised cap is what the last session journaled, so later sessions keep it.
    let sessions: Vec<_> = read_events(&run)
        .into_iter()
        .filter_map(|e| match e.event {
            journal::event::Event::SessionStarted(s) => s.budget,
            _ => None,
        })
        .collect();
    assert_eq!(sessions.last().and_then(|b| b.max_cost_usd), Some(1000.0));
    assert_eq!(sessions.first().and_then(|b| b.max_cost_usd), Some(10.0));
}

#[test]
fn a_per_variant_token_cap_stops_only_that_variant() {
    let s = Scratch::new();
    // 150 tokens a trial; 600 per variant = 4 trials each; variant_sequential order runs
    // base's 10 first, so base stops and alt runs until its own cap.
    setup(
        &s,
        10,
        2,
        "    budget: {per_variant: {max_tokens: 600}}\n",
        20,
    );
    let o = s.labj(&["run", "experiment.yaml"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let run = s.the_run();
    let reached: Vec<String> = read_events(&run)
        .into_iter()
        .filter_map(|e| match e.event {
            journal::event::Event::BudgetReached(b) => b.variant_id,
            _ => None,
        })
        .collect();
    assert!(reached.contains(&"base".to_string()), "{reached:?}");
    // After base's stop no base trial is dispatched, while alt's still are.
    let events = read_events(&run);
    let stop = events
        .iter()
        .find(|e| matches!(&e.event, journal::event::Event::BudgetReached(b) if b.variant_id.as_deref() == Some("base")))
        .map(|e| e.idx)
        .unwrap();
    let dispatched_after = |v: &str| {
        events
            .iter()
            .filter(|e| e.idx > stop)
            .filter(|e| matches!(&e.event, journal::event::Event::TrialDispatched(d) if d.variant_id == v))
            .count()
    };
    assert_eq!(dispatched_after("base"), 0);
    assert!(
        dispatched_after("alt") > 0,
        "alt keeps running after base's stop"
    );
    let spend = engine::budget::spend(&check_journal(&run));
    let (_, base_tokens) = spend.per_variant["base"];
    // 4 trials reach 600; the 2 running at the stop may finish: at most 6 × 150.
    assert!(
        (600.0..=900.0).contains(&base_tokens),
        "base spent {base_tokens} tokens"
    );
}

#[test]
fn a_crash_keeps_the_cap_and_continue_stops_at_it() {
    let s = Scratch::new();
    setup(&s, 20, 4, "    budget: {max_cost_usd: 12}\n", 300);
    let mut child = s
        .labj_cmd(&["run", "experiment.yaml"])
        .spawn()
        .expect("spawn labj run");
    // Kill -9 once some trials completed but before the cap.
    let run = wait_for(Duration::from_secs(60), "a run directory", || s.first_run());
    wait_for(Duration::from_secs(60), "5 completions", || {
        (journal_has_run(&run) && completed(&run) >= 5).then_some(())
    });
    let _ = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let before = completed(&run);
    assert!(before < 12, "killed before the cap ({before} completed)");
    let o = s.labj(&["continue", run.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let (first, after) = dispatches_after_first(&run, "budget_reached");
    assert!(first.is_some());
    assert_eq!(after, 0, "no dispatch after the cap");
    // Scored spend stops within the trials running at the cap (4 + 4 queued at most).
    let proj = check_journal(&run);
    let spent = engine::budget::spend(&proj).cost_usd;
    assert!((12.0..=20.0).contains(&spent), "spent {spent}");
    let o = s.labj(&[
        "continue",
        run.to_str().unwrap(),
        "--budget",
        "max_cost_usd=none",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(check_journal(&run).progress.next_commit_idx, 40);
}
