//! `labj runs` (completed, crashed and killed runs told apart), `labj export` (equal to
//! the journal's SQL fact tables, CSV and JSON lines) and `labj init` (an experiment that
//! runs as it is).

mod support;

use serde_json::Value;
use support::crash::*;
use support::report::*;
use support::*;

#[test]
fn runs_lists_completed_crashed_and_killed_runs() {
    let s = Scratch::new();
    // A crashed run (SIGKILLed with trials in flight), then a completed one.
    let (crashed, _pid) = crash_with_active_trials(&s, "30");
    let crashed_id = crashed.file_name().unwrap().to_string_lossy().into_owned();
    // A completed run in the same runs directory, from a fast experiment elsewhere.
    let fast = Scratch::new();
    fast.tasks(8);
    fast.script("agent.sh", SUCCESS);
    let fast_exp = fast.experiment(&["a"], 1, 4, "");
    let done = labj_at(
        fast.dir(),
        &s.runs_dir(),
        &["run", fast_exp.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(done.status.success(), "{}", text(&done));
    let list: Value = serde_json::from_str(&stdout_ok(&s.labj(&["runs", "--json"]))).unwrap();
    let runs = list.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{list}");
    let by_id = |id: &str| runs.iter().find(|r| r["run_id"] == id).unwrap();
    let c = by_id(&crashed_id);
    assert_eq!(
        c["status"], "crashed",
        "journal says running, no process: {c}"
    );
    assert_eq!(c["live"], false);
    assert_eq!(
        (c["committed"].as_u64(), c["total_slots"].as_u64()),
        (Some(1), Some(8))
    );
    assert_eq!(c["experiment_id"], "e2e");
    let other = runs
        .iter()
        .find(|r| r["run_id"] != crashed_id.as_str())
        .unwrap();
    assert_eq!(other["status"], "completed", "{other}");
    assert_eq!(other["committed"], 8);
    assert!(other["duration_secs"].as_f64().unwrap() > 0.0);
    // Oldest first (run ids are time-ordered), and the text table says the same.
    assert_eq!(runs[0]["run_id"], crashed_id.as_str());
    let t = stdout_ok(&s.labj(&["runs"]));
    let line = t.lines().find(|l| l.contains(crashed_id.as_str())).unwrap();
    assert!(line.contains("crashed") && line.contains("1/8"), "{t}");
    assert!(t.contains("1 crashed run(s)"), "{t}");

    // The crashed run, continued and then killed through `labj kill`: `killed`.
    let s2 = Scratch::new();
    s2.tasks(2);
    s2.script("agent.sh", "sleep 30");
    let exp2 = s2.experiment(&["a"], 1, 2, "");
    let mut child = s2
        .labj_cmd(&["run", "--quiet", exp2.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run = wait_for(std::time::Duration::from_secs(30), "run dir", || {
        s2.first_run().filter(|r| journal_has_run(r))
    });
    wait_for(
        std::time::Duration::from_secs(30),
        "trials dispatched",
        || {
            (read_events(&run)
                .iter()
                .filter(|e| e.event.kind() == "trial_dispatched")
                .count()
                == 2)
                .then_some(())
        },
    );
    let live: Value = serde_json::from_str(&stdout_ok(&s2.labj(&["runs", "--json"]))).unwrap();
    assert_eq!(live[0]["status"], "running");
    assert_eq!(live[0]["live"], true);
    let k = s2.labj(&["kill", run.to_str().unwrap()]);
    assert!(k.status.success(), "{}", text(&k));
    assert_eq!(
        wait_within(&mut child, COMMAND_LIMIT, "labj run").code(),
        Some(4)
    );
    let after: Value = serde_json::from_str(&stdout_ok(&s2.labj(&["runs", "--json"]))).unwrap();
    assert_eq!(after[0]["status"], "killed", "{after}");
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    r.records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect()
}

/// A SQL dump row with NULL as an empty field and reals as the export writes them.
fn sql_rows(run: &std::path::Path, table: &str) -> Vec<Vec<String>> {
    fact_table(run, table)
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| if v == "NULL" { String::new() } else { v })
                .collect()
        })
        .collect()
}

fn normalize_reals(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| match v.parse::<f64>() {
                    Ok(x) if v.contains('.') || v.contains('e') => format!("{x}"),
                    _ => v,
                })
                .collect()
        })
        .collect()
}

#[test]
fn export_equals_the_sql_fact_tables() {
    let s = Scratch::new();
    let run = paired_run(&s);
    let r = run.to_str().unwrap();
    for (table, sql) in [
        ("trials", "fact_trials"),
        ("metrics", "fact_metrics"),
        ("events", "fact_trial_events"),
        ("evidence", "fact_evidence"),
    ] {
        let csv_text = stdout_ok(&s.labj(&["export", r, "--table", table, "--format", "csv"]));
        let header = csv_text.lines().next().unwrap().to_string();
        let got = normalize_reals(csv_rows(&csv_text));
        let want = normalize_reals(sql_rows(&run, sql));
        assert_eq!(got, want, "export --table {table} differs from {sql}");
        // The header names the SQL columns, in order.
        let conn = rusqlite::Connection::open(journal_path(&run)).unwrap();
        let cols: Vec<String> = conn
            .prepare(&format!("SELECT * FROM {sql}"))
            .unwrap()
            .column_names()
            .map(String::from)
            .collect();
        assert_eq!(header, cols.join(","), "{table}");
        // JSON lines: the same rows as objects keyed by column.
        let jl = stdout_ok(&s.labj(&["export", r, "--table", table, "--format", "jsonl"]));
        let objs: Vec<Value> = jl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(objs.len(), want.len(), "{table}");
        for (o, row) in objs.iter().zip(&want) {
            for (c, v) in cols.iter().zip(row) {
                let j = &o[c.as_str()];
                let as_text = match j {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    Value::Number(n) if n.is_f64() => format!("{}", n.as_f64().unwrap()),
                    other => other.to_string(),
                };
                let v = match v.parse::<f64>() {
                    Ok(x) if v.contains('.') => format!("{x}"),
                    _ => v.clone(),
                };
                assert_eq!(as_text, v, "{table}.{c}");
            }
        }
    }
    // 48 trials (3 variants × 8 tasks × 2): trials has every one; metrics only scored ones.
    let trials = csv_rows(&stdout_ok(
        &s.labj(&["export", r, "--table", "trials", "--format", "csv"]),
    ));
    assert_eq!(trials.len(), 48);
    let metrics = csv_rows(&stdout_ok(
        &s.labj(&["export", r, "--table", "metrics", "--format", "csv"]),
    ));
    assert_eq!(metrics.len(), 32, "spawn failures have no metrics");
    // --out writes a file.
    let out = s.dir().join("t.csv");
    let o = s.labj(&[
        "export",
        r,
        "--table",
        "trials",
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success() && o.stdout.is_empty(), "{}", text(&o));
    assert_eq!(csv_rows(&std::fs::read_to_string(&out).unwrap()), trials);
    let bad = s.labj(&["export", r, "--table", "nope"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "usage error lists the tables: {}",
        text(&bad)
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("trials"));
}

#[test]
fn init_scaffolds_an_experiment_that_runs_at_once() {
    let s = Scratch::new();
    let dir = s.dir().join("my-eval");
    let o = s.labj(&["init", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let exp = dir.join("experiment.yaml");
    assert!(exp.is_file());
    let d = s.labj(&["describe", exp.to_str().unwrap()]);
    assert!(d.status.success(), "{}", text(&d));
    let out = s.labj(&["run", exp.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "completed");
    // 2 variants × 8 tasks × 2 replications; the careful variant gets every task right,
    // the baseline misses the 4 tasks with a >= 7 (8 trials).
    let rows = v["summary"].as_array().unwrap();
    assert_eq!(rows[0]["variant"], "baseline");
    assert_eq!(
        (rows[0]["scored"].as_u64(), rows[0]["succeeded"].as_u64()),
        (Some(16), Some(8))
    );
    assert_eq!(
        (rows[1]["variant"].as_str(), rows[1]["succeeded"].as_u64()),
        (Some("careful"), Some(16))
    );
    check_journal(&s.the_run());
    // A second init into the same directory refuses to overwrite.
    let again = s.labj(&["init", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}
