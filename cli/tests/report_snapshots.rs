//! Snapshot tests of the report renderers: `labj report` of one fixed journal in each
//! format (text, markdown, HTML, JSON) compared byte for byte with the files under
//! `testdata/snapshots/`. The journal is built from fixed events (fixed run id,
//! timestamps, durations), so every byte of a report is determined by the renderer: a
//! change to a renderer shows here as a diff to review. After an intended change,
//! `LABJ_UPDATE_SNAPSHOTS=1 cargo test -p labj --test report_snapshots` rewrites the
//! files (then read the diff before committing it).

mod support;

use journal::event::{Classification, Event, SlotStatus, WorkerLost};
use journal::{testkit, Durability, Journal, Projections};
use std::path::{Path, PathBuf};
use support::*;

const RUN_ID: &str = "run_snapshot";
const TASKS: u32 = 6;
const REPLS: u32 = 2;

/// The verdict of slot (variant, task, replication): v1 is better than v0 on most
/// tasks, with a loss, a timeout and replication noise, so every section renders.
fn verdict(v: u32, t: u32, r: u32) -> (Classification, f64) {
    let ok = match v {
        0 => (t + r).is_multiple_of(3),
        _ => t != 2 && !(t == 4 && r == 1),
    };
    match (v, t, r) {
        (0, 5, 1) => (Classification::Timeout, 0.0),
        _ if ok => (Classification::Success, 0.5 + 0.1 * t as f64),
        _ => (Classification::Failure, 0.1 * r as f64),
    }
}

/// A run of 2 variants × 6 tasks × 2 replications, committed in full; one slot lost to
/// infrastructure (committed `worker_lost`), so the infra rows render too.
fn build_run(root: &Path) -> PathBuf {
    let run = root.join(RUN_ID);
    std::fs::create_dir_all(&run).unwrap();
    let mut events = vec![testkit::run_created(RUN_ID, 2, TASKS, REPLS)];
    let mut idx = 0u64;
    for v in 0..2 {
        for t in 0..TASKS {
            for r in 0..REPLS {
                let mut dispatched =
                    testkit::dispatched(idx, &format!("v{v}"), &format!("task{t}"));
                if let Event::TrialDispatched(d) = &mut dispatched {
                    d.repl_idx = r;
                }
                events.push(dispatched);
                if (v, t, r) == (1, 3, 0) {
                    events.push(Event::WorkerLost(WorkerLost {
                        schedule_idx: idx,
                        trial_id: testkit::trial_id(idx),
                        worker_id: "w0".into(),
                        ticket_id: format!("tk{idx}"),
                        reason: "worker vanished".into(),
                        classification: Classification::WorkerLost,
                        retry: false,
                        stopped_by_kill: false,
                    }));
                    events.push(Event::SlotCommitted(journal::event::SlotCommitted {
                        schedule_idx: idx,
                        trial_id: testkit::trial_id(idx),
                        status: SlotStatus::WorkerLost,
                        classification: Classification::WorkerLost,
                    }));
                } else {
                    let (c, score) = verdict(v, t, r);
                    events.push(testkit::completed(idx, c, score));
                    events.push(testkit::committed(idx, c));
                }
                idx += 1;
            }
        }
    }
    events.push(Event::RunCompleted(journal::event::RunCompleted {
        committed_slots: idx,
    }));
    let mut proj = Projections::new();
    Journal::create_with(
        &run.join("journal.sqlite"),
        Durability::Normal,
        &mut proj,
        events,
        "2026-01-01T00:00:00.000Z",
    )
    .unwrap();
    run
}

fn snapshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/snapshots")
        .join(name)
}

/// `got` against the stored snapshot `name`: `Err` names the first differing line.
fn compare(name: &str, got: &str) -> Result<(), String> {
    let path = snapshot_path(name);
    let want = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (create it with LABJ_UPDATE_SNAPSHOTS=1)",
            path.display()
        )
    })?;
    if want == got {
        return Ok(());
    }
    let first = want
        .lines()
        .zip(got.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(want.lines().count().min(got.lines().count()));
    Err(format!(
        "{name} differs from {} at line {}:\n  want: {:?}\n  got:  {:?}\n(after an intended change: LABJ_UPDATE_SNAPSHOTS=1, then review the diff)",
        path.display(),
        first + 1,
        want.lines().nth(first).unwrap_or("<end>"),
        got.lines().nth(first).unwrap_or("<end>"),
    ))
}

fn snapshot(name: &str, got: &str) {
    if std::env::var_os("LABJ_UPDATE_SNAPSHOTS").is_some() {
        let path = snapshot_path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    if let Err(e) = compare(name, got) {
        panic!("{e}");
    }
}

#[test]
fn every_report_format_renders_exactly_its_snapshot() {
    let s = Scratch::new();
    let run = build_run(&s.runs_dir());
    for (format, file) in [
        ("text", "report.txt"),
        ("markdown", "report.md"),
        ("html", "report.html"),
        ("json", "report.json"),
    ] {
        let out = s.labj(&["report", run.to_str().unwrap(), "--format", format]);
        assert!(out.status.success(), "{format}: {}", text(&out));
        let got = String::from_utf8(out.stdout).expect("a report is UTF-8");
        // Nothing machine-specific may reach a snapshot.
        assert!(
            !got.contains(&s.dir().display().to_string()),
            "{format}: the report names the scratch directory"
        );
        snapshot(file, &got);
    }
}

/// The check can fail: a report that differs by one word is not its snapshot.
#[test]
fn a_changed_report_does_not_match_its_snapshot() {
    let s = Scratch::new();
    let run = build_run(&s.runs_dir());
    let out = s.labj(&["report", run.to_str().unwrap(), "--format", "text"]);
    let got = String::from_utf8(out.stdout).unwrap();
    assert!(got.contains("v1"), "{got}");
    let changed = got.replacen("v1", "v9", 1);
    let err = compare("report.txt", &changed).expect_err("a changed report matched");
    assert!(err.contains("differs") && err.contains("v9"), "{err}");
}
