//! `labj view` in a real browser: headless Chromium driven over WebDriver opens the
//! viewer on real runs and checks what a person sees — the runs list, a failed trial's
//! stderr and trajectory turns, filtering trials by outcome, the time-travel slider at
//! an early event showing fewer committed trials, the compare page reached from a
//! flipped pair, and a live run's progress changing without a reload (pause included).
//! Screenshots of each page go to `target/viewer-screenshots/`. Also over plain HTTP: a
//! `<script>` an agent printed is shown as text, blob requests outside what the journal
//! names are refused, nothing but GET/HEAD is answered.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::browser::{http, Browser, Viewer};
use support::*;

const WAIT: Duration = Duration::from_secs(20);

/// The quickstart example copied into the scratch dir, its agent made to fail on one
/// task of the careful variant, printing markup to stderr and a message to its
/// trajectory first.
fn quickstart(s: &Scratch) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    for f in ["experiment.yaml", "tasks.jsonl", "agent.sh", "grader.sh"] {
        std::fs::copy(src.join(f), s.dir().join(f)).expect("copy quickstart");
    }
    let agent = std::fs::read_to_string(s.dir().join("agent.sh")).unwrap();
    let hook = r#"set -eu
if [ "$AGENTLAB_TASK_ID" = add_02 ] && [ "$AGENTLAB_VARIANT_ID" = careful ]; then
  printf '{"role":"user","content":"What is 17+25?"}\n{"role":"assistant","content":"calling <b>the API</b>"}\n' >>"$AGENTLAB_TRAJECTORY_PATH"
  echo 'fetching <script>window.pwned=1</script>' >&2
  echo 'error: API key missing' >&2
  exit 3
fi"#;
    std::fs::write(s.dir().join("agent.sh"), agent.replacen("set -eu", hook, 1)).unwrap();
    s.dir().join("experiment.yaml")
}

fn run_id_of(run: &Path) -> String {
    run.file_name().unwrap().to_string_lossy().into_owned()
}

/// The committed count the page shows (0 while a live page swaps its content).
fn committed(b: &Browser) -> u64 {
    b.try_text("#committed")
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_person_sees_runs_trials_a_failed_trajectory_time_travel_and_compare() {
    let s = Scratch::new();
    let exp = quickstart(&s);
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    let id = run_id_of(&run);
    let viewer = Viewer::start(&s.runs_dir(), &[], &[]);
    let b = Browser::start();

    // Runs: the run, its status and progress.
    b.goto(&viewer.url("/"));
    let runs = b.text("#runs");
    assert!(runs.contains(&id) && runs.contains("quickstart"), "{runs}");
    assert!(
        runs.contains("completed") && runs.contains("48/48"),
        "{runs}"
    );
    b.screenshot("runs");

    // Run: progress, variants, failure classes, settings, integrity.
    b.click("#runs a");
    b.wait_for(WAIT, "the run page", |b| b.try_text("#run-id").is_some());
    assert_eq!(committed(&b), 48);
    let variants = b.text("#variants");
    assert!(
        variants.contains("baseline") && variants.contains("careful"),
        "{variants}"
    );
    assert!(
        variants.contains("mean correct"),
        "agent metrics shown: {variants}"
    );
    let failures = b.text("#failures");
    assert!(failures.contains("agent_exit_nonzero"), "{failures}");
    assert!(b.text("#settings").contains("double_check"));
    assert!(b.text("#integrity").contains("chain head record"));
    b.screenshot("run");

    // Trials, filtered by outcome with the form.
    b.goto(&viewer.url(&format!("/runs/{id}/trials")));
    assert_eq!(b.text("#matching"), "48");
    b.exec("document.querySelector('select[name=outcome]').value='agent_exit_nonzero';");
    b.click("#filter button");
    b.wait_for(WAIT, "the filtered table", |b| {
        b.current_url().contains("outcome=agent_exit_nonzero")
    });
    // add_02 × careful × 2 replications.
    assert_eq!(b.text("#matching"), "2");
    let table = b.text("#trials");
    assert!(
        table.contains("add_02") && !table.contains("success"),
        "{table}"
    );
    b.screenshot("trials-filtered");

    // The failed trial: stderr shown as text (the script never ran), trajectory turns.
    b.click("#trials tbody a");
    b.wait_for(WAIT, "the trial page", |b| b.try_text("#summary").is_some());
    let stderr = b.text("#a1-stderr");
    assert!(
        stderr.contains("fetching <script>window.pwned=1</script>")
            && stderr.contains("API key missing"),
        "agent stderr shown verbatim: {stderr}"
    );
    assert_eq!(b.exec("return typeof window.pwned;"), "undefined");
    let turns = b.exec("return document.querySelectorAll('#a1-trajectory .turn').length;");
    assert_eq!(turns, 2, "two trajectory turns");
    let traj = b.text("#a1-trajectory");
    assert!(
        traj.contains("calling <b>the API</b>"),
        "markup in a turn is text: {traj}"
    );
    assert!(b.text("#timeline").contains("trial_dispatched"));
    b.screenshot("trial-failed");

    // A succeeded trial: the grader's output and the grade.
    b.goto(&viewer.url(&format!("/runs/{id}/trials/0")));
    assert!(
        b.text("#a1-grade").contains("success"),
        "grade document shown"
    );
    b.screenshot("trial-succeeded");

    // Time travel: the slider moved to an early event shows fewer committed trials.
    b.goto(&viewer.url(&format!("/runs/{id}")));
    let max: u64 = b
        .exec("return document.getElementById('tt').max;")
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let early = max / 4;
    b.exec(&format!(
        "var s=document.getElementById('tt');s.value='{early}';s.dispatchEvent(new Event('change'));"
    ));
    b.wait_for(WAIT, "the run as of an early event", |b| {
        b.try_text("#as-of").is_some()
    });
    assert!(
        b.current_url().contains(&format!("at={early}")),
        "{}",
        b.current_url()
    );
    let then = committed(&b);
    assert!(then < 48, "fewer committed trials at event {early}: {then}");
    assert!(b.text("#events-around").contains(&format!("▶{early:>7}")));
    assert!(b.try_text("#continue-plan").is_some());
    b.screenshot("time-travel");
    b.click("a[href*='/trials?at=']");
    b.wait_for(WAIT, "trials as of the event", |b| {
        b.try_text("#matching").is_some()
    });
    assert_eq!(
        b.text("#matching"),
        then.to_string(),
        "trials as of event {early}"
    );

    // Compare, from a flipped pair of the report.
    b.goto(&viewer.url(&format!("/runs/{id}/report")));
    b.wait_for(Duration::from_secs(60), "the report", |b| {
        b.try_text("#report-variants").is_some()
    });
    b.click("ul.flips a");
    b.wait_for(WAIT, "the compare page", |b| b.try_text("#left").is_some());
    let (left, right) = (b.text("#left"), b.text("#right"));
    assert!(
        left.contains("baseline") && right.contains("careful"),
        "{left}\n---\n{right}"
    );
    let task = |t: &str| {
        t.lines()
            .next()
            .unwrap_or("")
            .split(" · ")
            .nth(1)
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(task(&left), task(&right), "same task on both sides");
    b.screenshot("compare");

    // Plain HTTP: read-only, blobs only by a digest the journal holds for the trial.
    let (st, _) = http("POST", &viewer.url("/"), &[]);
    assert_eq!(st, 405);
    let bogus = "0".repeat(64);
    let (st, body) = http(
        "GET",
        &viewer.url(&format!("/runs/{id}/trials/0/blob/{bogus}")),
        &[],
    );
    assert_eq!(st, 404, "{body}");
    for path in [
        format!("/runs/{id}/trials/0/blob/..%2F..%2Fjournal.sqlite"),
        format!("/runs/{id}/trials/0/blob/../../journal.sqlite"),
        "/runs/..%2F..%2Fetc/trials/0".to_string(),
        format!("/runs/{id}/../../etc/passwd"),
    ] {
        let (st, body) = http("GET", &viewer.url(&path), &[]);
        assert!(st == 404 || st == 400, "{path}: {st} {body}");
        assert!(
            !body.contains("SQLite format") && !body.contains("root:"),
            "{path}"
        );
    }
    // A digest the journal does name is served, as text.
    let j = journal::Journal::open_read_only(&run.join("journal.sqlite")).unwrap();
    let row = read::report::committed_trial(&j, 0).unwrap().unwrap();
    let a = &row.artifacts[0];
    let (st, body) = http(
        "GET",
        &viewer.url(&format!("/runs/{id}/trials/0/blob/{}", a.digest)),
        &[],
    );
    assert_eq!(st, 200);
    assert_eq!(body.len() as u64, a.bytes);
    // The agent's markup is escaped in the HTML itself.
    let (_, html) = http(
        "GET",
        &viewer.url(&format!("/runs/{id}/trials/{}", failed_slot(&run))),
        &[],
    );
    assert!(html.contains("&lt;script&gt;window.pwned=1&lt;/script&gt;"));
    assert!(!html.contains("<script>window.pwned"));
}

fn failed_slot(run: &Path) -> u64 {
    let j = journal::Journal::open_read_only(&run.join("journal.sqlite")).unwrap();
    let page = j
        .fact_trials_page(&journal::TrialQuery {
            committed_before: u64::MAX,
            classifications: Some(vec!["agent_exit_nonzero".into()]),
            limit: 1,
            ..Default::default()
        })
        .unwrap();
    page.rows[0].schedule_idx
}

#[test]
fn a_live_run_updates_in_the_browser_without_a_reload() {
    let s = Scratch::new();
    // Long enough (≥ 16 s) that the pause below finds the run still going.
    s.tasks(40);
    s.script(
        "agent.sh",
        r#"sleep 0.4
printf '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"score":1,"tokens":12}}' >"$AGENTLAB_RESULT_PATH""#,
    );
    let exp = s.experiment(&["base"], 1, 1, "");
    let mut child = s
        .labj_cmd(&["run", exp.to_str().unwrap(), "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("labj run");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let run = loop {
        if let Some(r) = s.first_run().filter(|r| r.join("journal.sqlite").is_file()) {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let id = run_id_of(&run);
    let viewer = Viewer::start(&s.runs_dir(), &[&id], &[]);
    let b = Browser::start();
    b.goto(&viewer.url(&format!("/runs/{id}")));
    b.wait_for(WAIT, "the run page", |b| b.try_text("#committed").is_some());
    b.exec("window.labjMarker = 42;");
    let first = committed(&b);
    b.wait_for(WAIT, "progress to change without a reload", |b| {
        committed(b) > first
    });
    assert_eq!(
        b.exec("return window.labjMarker;"),
        42,
        "the page was not reloaded"
    );
    b.wait_for(WAIT, "the live mark", |b| {
        b.try_text("main").is_some_and(|m| m.contains("live"))
    });
    b.screenshot("live");
    // Pause: the page shows it, still without a reload.
    let out = s.labj(&["pause", &id, "--label", "lunch"]);
    assert!(out.status.success(), "{}", text(&out));
    b.wait_for(WAIT, "the paused state", |b| {
        b.try_text("#progress")
            .is_some_and(|p| p.contains("paused") && p.contains("lunch"))
    });
    b.screenshot("live-paused");
    let out = s.labj(&["resume", &id, "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    b.wait_for(WAIT, "the resume", |b| {
        b.try_text("#progress")
            .is_some_and(|p| !p.contains("paused"))
    });
    let st = wait_within(&mut child, Duration::from_secs(120), "labj run");
    assert!(st.success());
    b.wait_for(WAIT, "the end of the run", |b| {
        committed(b) == 40 && b.try_text("main").is_some_and(|m| m.contains("completed"))
    });
    assert_eq!(
        b.exec("return window.labjMarker;"),
        42,
        "the page was not reloaded"
    );
    // The agent's own metrics are columns of the trials table.
    b.goto(&viewer.url(&format!("/runs/{id}/trials")));
    let head = b.text("#trials thead");
    assert!(head.contains("score") && head.contains("tokens"), "{head}");
}
