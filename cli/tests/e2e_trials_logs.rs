//! Why trials failed, where a user looks: the end-of-run summary and `status` list the
//! failure classes with an example each (exit code, signal, schema error, stderr lines);
//! `labj trials` filters committed trials; `labj logs` prints an attempt's output; trial
//! ids are accepted as `24` or `trial_000024`; text and JSON agree.

mod support;

use serde_json::Value;
use support::report::*;
use support::*;

#[test]
fn a_failing_run_says_why_in_its_summary_status_trials_and_logs() {
    let s = Scratch::new();
    let exp = failing_experiment(&s);
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    // Trials failing is a result, not an error.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    let run = s.the_run();
    check_journal(&run);
    let run_arg = run.to_str().unwrap();

    // 20 trials: 18 exit 3, alt/task_003 ×2 bad result, alt/task_004 ×2 killed.
    assert!(summary.contains("why trials did not succeed"), "{summary}");
    assert!(summary.contains("agent_exit_nonzero"), "{summary}");
    assert!(
        summary.contains("exit code 3; agent exited with code 3"),
        "exit code named: {summary}"
    );
    assert!(
        summary.contains("stderr | error: API key missing (set EVAL_API_KEY)"),
        "last stderr lines shown: {summary}"
    );
    assert!(summary.contains("result_parse_error"), "{summary}");
    assert!(
        summary.contains("/outcome"),
        "schema error names the field: {summary}"
    );
    // Classes split by how the agent exited: 16 with exit code 3, 2 killed by signal 9.
    let line = |name: &str| -> u64 {
        summary
            .lines()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(name)
                    .filter(|_| l.contains("e.g."))
            })
            .unwrap_or_else(|| panic!("no {name} line: {summary}"))
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(line("agent_exit_nonzero (exit code 3)"), 16);
    assert_eq!(line("agent_exit_nonzero (signal 9)"), 2);
    assert_eq!(line("result_parse_error"), 2);
    assert!(
        summary.contains("agent was killed by signal 9"),
        "{summary}"
    );
    assert!(
        summary.contains("stderr | about to crash"),
        "the signal's example has its stderr: {summary}"
    );
    let schema_line = summary.lines().find(|l| l.contains("/outcome")).unwrap();
    assert!(
        schema_line.contains("trials/trial_0000") && !schema_line.contains(&*run.to_string_lossy()),
        "one line, paths relative to the run directory: {schema_line}"
    );

    // The table: baseline first; its numbers are the JSON's.
    let rows: Vec<&str> = summary
        .lines()
        .filter(|l| {
            l.starts_with("  base") || l.starts_with("  alt") || l.starts_with("  (overall)")
        })
        .collect();
    assert!(
        rows[0].trim_start().starts_with("base (baseline)"),
        "{summary}"
    );
    let status = s.labj(&["status", run_arg, "--json"]);
    let st: Value = serde_json::from_str(&stdout_ok(&status)).unwrap();
    let table = st["summary"].as_array().unwrap();
    assert_eq!(table[0]["variant"], "base");
    assert_eq!(table[0]["baseline"], true);
    for (row, j) in rows.iter().zip(table) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // … committed scored succeeded unsuccessful skipped infra cancelled re-run success
        // mean
        let nums: Vec<&str> = cols[cols.len() - 10..].to_vec();
        let want: Vec<String> = [
            "committed",
            "scored",
            "succeeded",
            "unsuccessful",
            "skipped_pruned",
            "infra",
            "cancelled",
            "infra_retried",
        ]
        .iter()
        .map(|k| j[k].to_string())
        .collect();
        assert_eq!(&nums[..8], &want[..], "text row {row:?} vs JSON {j}");
    }
    let overall = &table[2];
    assert_eq!(
        (overall["scored"].as_u64(), overall["unsuccessful"].as_u64()),
        (Some(20), Some(20))
    );
    assert_eq!(st["failures"][0]["classification"], "agent_exit_nonzero");
    assert_eq!(st["failures"][0]["reason"], "exit code 3");
    assert_eq!(st["failures"][0]["example"]["exit_code"], 3);
    // status text shows the same classes.
    let status_text = stdout_ok(&s.labj(&["status", run_arg]));
    assert!(
        status_text.contains("stderr | error: API key missing"),
        "{status_text}"
    );

    // trials: filters and columns.
    let all = stdout_ok(&s.labj(&["trials", run_arg]));
    assert!(all.contains("20 of 20 committed trial(s)"), "{all}");
    let parse = stdout_ok(&s.labj(&[
        "trials",
        run_arg,
        "--variant",
        "alt",
        "--outcome",
        "result_parse_error",
    ]));
    let ids: Vec<&str> = parse
        .lines()
        .filter(|l| l.starts_with("trial_"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{parse}");
    let lines: Vec<Value> =
        stdout_ok(&s.labj(&["trials", run_arg, "--outcome", "failed", "--json"]))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(lines.len(), 20);
    let killed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["detail"].as_str().is_some_and(|d| d.contains("signal 9")))
        .collect();
    assert_eq!(killed.len(), 2, "the signal is named: {lines:?}");
    assert!(killed
        .iter()
        .all(|k| k["variant_id"] == "alt" && k["task_id"] == "task_004"));
    assert!(lines
        .iter()
        .all(|l| l["attempts"] == 1 && l["duration_ms"].as_u64().is_some()));
    let none = stdout_ok(&s.labj(&["trials", run_arg, "--outcome", "succeeded"]));
    assert!(none.contains("0 of 20"), "{none}");
    let bad = s.labj(&["trials", run_arg, "--outcome", "sucess"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("agent_exit_nonzero"),
        "lists the choices"
    );
    let bad = s.labj(&["trials", run_arg, "--variant", "nope"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("its variants: base, alt"),
        "{}",
        text(&bad)
    );

    // logs: stderr by default, stdout on request, `3` = `trial_000003`.
    let a_failed = lines.iter().find(|l| l["exit_code"] == 3).unwrap()["trial_id"]
        .as_str()
        .unwrap()
        .to_string();
    let num = a_failed
        .trim_start_matches("trial_")
        .trim_start_matches('0');
    let num = if num.is_empty() { "0" } else { num };
    let err = stdout_ok(&s.labj(&["logs", run_arg, num]));
    assert_eq!(
        err,
        "loading config\nerror: API key missing (set EVAL_API_KEY)\n"
    );
    let same = stdout_ok(&s.labj(&["logs", run_arg, &a_failed, "--stderr", "--attempt", "1"]));
    assert_eq!(same, err);
    let out_log = stdout_ok(&s.labj(&["logs", run_arg, num, "--stdout"]));
    assert!(out_log.starts_with("agent starting on task_"), "{out_log}");
    let no = s.labj(&["logs", run_arg, num, "--attempt", "2"]);
    assert_eq!(no.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&no.stderr).contains("has no attempt 2 (it ran 1 attempt(s))"),
        "{}",
        text(&no)
    );
    let no = s.labj(&["logs", run_arg, "999"]);
    assert!(
        String::from_utf8_lossy(&no.stderr).contains("run has no trial_000999"),
        "{}",
        text(&no)
    );

    // events --trial accepts the number too (it used to print nothing).
    let by_num = s.labj(&["events", run_arg, "--trial", num, "--json"]);
    let by_id = s.labj(&["events", run_arg, "--trial", &a_failed, "--json"]);
    let n = json_lines(&by_num).len();
    assert!(
        n >= 3,
        "dispatched, completed, committed: {}",
        text(&by_num)
    );
    assert_eq!(by_num.stdout, by_id.stdout);
}

/// Peak resident memory (KiB) and exit code of `cmd`, its stdout written to `out_file`.
fn run_measured(mut cmd: std::process::Command, out_file: &std::path::Path) -> (i64, i32, String) {
    let out = std::fs::File::create(out_file).unwrap();
    // Reaped below with wait4(2), which also reports its peak memory.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdout(out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stderr = child.stderr.unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).unwrap();
        s
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own unreaped child; the out-pointers are valid. The `Child`
    // was consumed above, so nothing else waits for this pid.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    let err = reader.join().unwrap();
    assert!(
        libc::WIFEXITED(status),
        "labj logs ended by a signal: {err}"
    );
    (usage.ru_maxrss, libc::WEXITSTATUS(status), err)
}

/// `labj logs` streams: a 64 MiB stderr log is printed whole, byte for byte, by a process
/// whose peak memory stays far below the log's size; a blob altered after the run is
/// refused before anything is printed.
#[test]
fn logs_streams_a_large_log_and_still_checks_its_digest() {
    const LOG: u64 = 64 * 1024 * 1024;
    let s = Scratch::new();
    s.tasks(1);
    s.script(
        "agent.sh",
        &format!("head -c {LOG} /dev/zero | tr '\\0' 'x' >&2\n{SUCCESS}"),
    );
    let exp = s.experiment(&["a"], 1, 1, "");
    let yaml = std::fs::read_to_string(&exp).unwrap().replace(
        "runtime:\n  agent:\n",
        "runtime:\n  policy:\n    output_limit_bytes: 134217728\n  agent:\n",
    );
    std::fs::write(&exp, yaml).unwrap();
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    let run_arg = run.to_str().unwrap();
    let printed = s.dir().join("printed.log");

    let (rss_kib, code, err) = run_measured(s.labj_cmd(&["logs", run_arg, "0"]), &printed);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("{LOG} bytes")), "{err}");
    let meta = std::fs::metadata(&printed).unwrap();
    assert_eq!(meta.len(), LOG, "the whole log is printed");
    let bytes = std::fs::read(&printed).unwrap();
    assert!(bytes.iter().all(|b| *b == b'x'));
    let blob = match err.split("; ").last().map(|o| o.trim_end_matches(")\n")) {
        Some(p) if p.contains("/blobs/") => std::path::PathBuf::from(p),
        _ => panic!("not printed from the blob store: {err}"),
    };
    eprintln!("labj logs of a {LOG}-byte log: peak RSS {rss_kib} KiB");
    assert!(
        (rss_kib as u64) * 1024 < LOG / 2,
        "labj logs held the log in memory: peak RSS {rss_kib} KiB for a {LOG}-byte log"
    );

    // One byte changed in the middle of the blob: refused, nothing printed.
    let mut content = std::fs::read(&blob).unwrap();
    content[(LOG / 2) as usize] = b'y';
    std::fs::write(&blob, &content).unwrap();
    drop(content);
    let (_, code, err) = run_measured(s.labj_cmd(&["logs", run_arg, "0"]), &printed);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("does not match the digest journaled for attempt_1/stderr.log"),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(&printed).unwrap().len(),
        0,
        "a tampered log was printed"
    );
}
