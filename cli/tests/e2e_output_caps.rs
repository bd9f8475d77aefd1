//! Output caps and per-trial disk: an agent's stdout and stderr are kept up to
//! `runtime.policy.output_limit_bytes` each (the rest is drained and dropped, the agent
//! never blocks), the cut is journaled with the real byte counts and shown by `labj logs`
//! and `labj trials`; each kept log exists on disk once; a result over its size limit is
//! kept only as its prefix; bad cap values are refused naming the field; a no-op trial
//! allocates at most a bounded number of disk blocks.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::*;

const CAP: u64 = 100_000;
const OUT_WRITTEN: u64 = 3_000_000;
const ERR_WRITTEN: u64 = 2_000_000;
const RESULT_WRITTEN: u64 = 3_000_000;
const RESULT_LIMIT: u64 = 1_048_576;

/// The scratch experiment with `runtime.policy` set to `policy_yaml` (indented by 4).
fn experiment_with_policy(s: &Scratch, policy_yaml: &str) -> PathBuf {
    let exp = s.experiment(&["base"], 1, 2, "");
    let yaml = std::fs::read_to_string(&exp).unwrap();
    let yaml = yaml.replace(
        "runtime:\n  agent:\n",
        &format!("runtime:\n  policy:\n{policy_yaml}  agent:\n"),
    );
    assert!(yaml.contains("policy:\n"), "{yaml}");
    std::fs::write(&exp, yaml).unwrap();
    exp
}

fn artifact<'a>(tc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    tc["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no artifact {name}: {tc}"))
}

fn blob(run: &Path, digest: &str) -> PathBuf {
    run.join("blobs").join(&digest[..2]).join(digest)
}

#[test]
fn agent_output_over_the_cap_is_cut_journaled_and_stored_once() {
    let s = Scratch::new();
    s.tasks(2);
    // task_000 floods both streams, task_001 writes a result over the 1 MiB limit.
    s.script(
        "agent.sh",
        &format!(
            "if [ \"$AGENTLAB_TASK_ID\" = task_000 ]; then\n\
             head -c {OUT_WRITTEN} /dev/zero | tr '\\0' o\n\
             head -c {ERR_WRITTEN} /dev/zero | tr '\\0' e >&2\n\
             {SUCCESS}\n\
             else\n\
             head -c {RESULT_WRITTEN} /dev/zero | tr '\\0' ' ' > \"$AGENTLAB_RESULT_PATH\"\n\
             fi"
        ),
    );
    let exp = experiment_with_policy(&s, &format!("    output_limit_bytes: {CAP}\n"));
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    check_journal(&run);

    let completed = events_of(&s, &run, "trial_completed");
    assert_eq!(completed.len(), 2, "{completed:?}");
    let by_task = |slot: u64| {
        completed
            .iter()
            .map(|e| &e["payload"])
            .find(|p| p["schedule_idx"] == slot)
            .unwrap()
    };
    // The flooding agent was never blocked: it finished (not a timeout) promptly.
    let flood = by_task(0);
    assert_eq!(flood["classification"], "success", "{flood}");
    let ms = flood["attempts"][0]["duration_ms"].as_u64().unwrap();
    assert!(ms < 30_000, "the agent took {ms} ms to write 5 MB");
    for (name, written, byte) in [
        ("attempt_1/stdout.log", OUT_WRITTEN, b'o'),
        ("attempt_1/stderr.log", ERR_WRITTEN, b'e'),
    ] {
        let a = artifact(flood, name);
        assert_eq!(a["bytes"], CAP, "{a}");
        assert_eq!(a["written_bytes"], written, "{a}");
        let digest = a["digest"].as_str().unwrap();
        let stored = blob(&run, digest);
        let bytes = std::fs::read(&stored).unwrap();
        assert_eq!(bytes.len() as u64, CAP);
        assert!(
            bytes.iter().all(|b| *b == byte),
            "{name} holds the stream's first bytes"
        );
        // Stored once: the trial's log is a name of the blob, not a second copy.
        let log = run.join("trials/trial_000000").join(name);
        if log.exists() {
            let (m, b) = (
                std::fs::metadata(&log).unwrap(),
                std::fs::metadata(&stored).unwrap(),
            );
            assert_eq!(
                (m.dev(), m.ino()),
                (b.dev(), b.ino()),
                "{name} copied, not linked"
            );
        }
    }

    // The over-size result: refused as before, kept only as its first 1 MiB.
    let big = by_task(1);
    assert_eq!(big["classification"], "result_parse_error", "{big}");
    let a = artifact(big, "attempt_1/result.json");
    assert_eq!(a["bytes"], RESULT_LIMIT, "{a}");
    assert_eq!(a["written_bytes"], RESULT_WRITTEN, "{a}");
    let stored = blob(&run, a["digest"].as_str().unwrap());
    assert_eq!(std::fs::metadata(&stored).unwrap().len(), RESULT_LIMIT);
    // Nothing in the run holds the full 3 MB any more (du-style: allocated blocks).
    let kb = du_kb(&run);
    assert!(
        kb < 2_000,
        "run directory allocates {kb} KB for 1.2 MB of kept output"
    );

    // `labj logs` says the log was cut and by how much; `labj trials` lists the cuts.
    let run_arg = run.to_str().unwrap();
    let logs = s.labj(&["logs", run_arg, "0", "--stdout"]);
    assert_eq!(logs.status.code(), Some(0), "{}", text(&logs));
    assert_eq!(logs.stdout.len() as u64, CAP);
    let note = String::from_utf8_lossy(&logs.stderr);
    assert!(
        note.contains(&format!(
            "{OUT_WRITTEN} bytes written, the first {CAP} kept"
        )),
        "{note}"
    );
    let trials = s.labj(&["trials", run_arg, "--json"]);
    let rows = json_lines(&trials);
    let cut = &rows.iter().find(|r| r["schedule_idx"] == 0).unwrap()["truncated_outputs"];
    assert_eq!(cut.as_array().unwrap().len(), 2, "{cut}");
    let table = s.labj(&["trials", run_arg]);
    assert!(
        String::from_utf8_lossy(&table.stdout).contains("output cut at its size limit"),
        "{}",
        text(&table)
    );
    let verify = s.labj(&["verify", run_arg]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
}

/// Output far beyond the default pipe buffer with a tiny cap: the agent keeps writing
/// to the end (its last line is a marker written after 20 MB) and is not killed.
#[test]
fn an_agent_is_never_blocked_nor_killed_by_the_cap() {
    let s = Scratch::new();
    s.tasks(1);
    s.script(
        "agent.sh",
        &format!(
            "head -c 20000000 /dev/zero\nprintf done > \"$AGENTLAB_TRIAL_DIR/marker\"\n{SUCCESS}"
        ),
    );
    let exp = experiment_with_policy(&s, "    output_limit_bytes: 10\n");
    let out = output_within(
        &mut s.labj_cmd(&["run", exp.to_str().unwrap()]),
        Duration::from_secs(120),
        "labj run of a 20 MB writer",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    assert_eq!(
        std::fs::read_to_string(run.join("trials/trial_000000/marker")).unwrap(),
        "done"
    );
    let tc = &events_of(&s, &run, "trial_completed")[0]["payload"];
    assert_eq!(tc["classification"], "success", "{tc}");
    let a = artifact(tc, "attempt_1/stdout.log");
    assert_eq!(
        (a["bytes"].as_u64(), a["written_bytes"].as_u64()),
        (Some(10), Some(20_000_000))
    );
}

#[test]
fn bad_output_limits_are_refused_naming_the_field() {
    for bad in ["0", "-5", "\"16MB\"", "1.5", "99999999999999", "null"] {
        let s = Scratch::new();
        s.tasks(1);
        s.script("agent.sh", SUCCESS);
        let exp = experiment_with_policy(&s, &format!("    output_limit_bytes: {bad}\n"));
        for cmd in ["describe", "run"] {
            let out = s.labj(&[cmd, exp.to_str().unwrap()]);
            assert_ne!(
                out.status.code(),
                Some(0),
                "{cmd} accepted {bad}: {}",
                text(&out)
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("output_limit_bytes"),
                "{cmd} with {bad} does not name the field: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
        assert!(
            s.first_run().is_none(),
            "a refused experiment created a run"
        );
    }
}

/// The disk a trial whose agent writes nothing but its result costs, measured like `du`
/// (allocated blocks, st_blocks) as the difference between a 60-trial and a 10-trial run:
/// at most 5 KiB a trial (journal rows included), and no directory left per trial.
#[test]
fn a_no_op_trial_allocates_at_most_5_kib() {
    let runs: Vec<(u64, u64)> = [10u64, 60]
        .into_iter()
        .map(|n| {
            let s = Scratch::new();
            s.tasks(n as usize);
            s.script("agent.sh", SUCCESS);
            let exp = s.experiment(&["base"], 1, 2, "");
            let out = s.labj(&["run", exp.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            let run = s.the_run();
            let completed = events_of(&s, &run, "trial_completed");
            assert_eq!(completed.len() as u64, n);
            let left: Vec<_> = std::fs::read_dir(run.join("trials"))
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert!(left.is_empty(), "trial directories left: {left:?}");
            // The record is intact without them: logs, verify.
            let verify = s.labj(&["verify", run.to_str().unwrap()]);
            assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
            (n, du_kb(&run) * 1024)
        })
        .collect();
    let per_trial = (runs[1].1 - runs[0].1) / (runs[1].0 - runs[0].0);
    eprintln!("runs (trials, bytes allocated): {runs:?}; {per_trial} B per trial");
    assert!(
        per_trial <= 5 * 1024,
        "a no-op trial allocates {per_trial} B (runs: {runs:?})"
    );
}

/// Allocated size (st_blocks, like `du -k`) of everything under `dir`, in KiB; hard
/// links counted once.
fn du_kb(dir: &Path) -> u64 {
    fn walk(p: &Path, seen: &mut std::collections::HashSet<(u64, u64)>, sum: &mut u64) {
        let m = std::fs::symlink_metadata(p).unwrap();
        if seen.insert((m.dev(), m.ino())) {
            *sum += m.blocks() * 512;
        }
        if m.is_dir() {
            for e in std::fs::read_dir(p).unwrap() {
                walk(&e.unwrap().path(), seen, sum);
            }
        }
    }
    let mut sum = 0;
    walk(dir, &mut Default::default(), &mut sum);
    sum / 1024
}

/// `labj describe` shows the cap among the policies, text and `--json`: the 16 MiB
/// default when the experiment sets none, the experiment's value when it does.
#[test]
fn describe_shows_the_output_cap() {
    for (policy, bytes, shown, default) in [
        ("", 16 * 1024 * 1024, "output cap  16 MiB per stream", true),
        (
            "    output_limit_bytes: 100000\n",
            100_000,
            "output cap  100000 bytes per stream",
            false,
        ),
        (
            "    output_limit_bytes: 2097152\n",
            2 * 1024 * 1024,
            "output cap  2 MiB per stream",
            false,
        ),
    ] {
        let s = Scratch::new();
        s.tasks(1);
        s.script("agent.sh", SUCCESS);
        let exp = if policy.is_empty() {
            s.experiment(&["base"], 1, 2, "")
        } else {
            experiment_with_policy(&s, policy)
        };
        let out = s.labj(&["describe", exp.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        let t = String::from_utf8_lossy(&out.stdout);
        let line = t
            .lines()
            .find(|l| l.starts_with("output cap"))
            .unwrap_or_else(|| panic!("no output cap line: {t}"));
        assert!(line.starts_with(shown), "{line}");
        assert_eq!(
            line.ends_with("default (set with runtime.policy.output_limit_bytes)"),
            default,
            "{line}"
        );
        // Among the policies: after `state`, before the programs.
        let at = |p: &str| t.find(p).unwrap_or_else(|| panic!("no {p:?} in {t}"));
        assert!(at("state ") < at("output cap") && at("output cap") < at("programs"));

        let out = s.labj(&["describe", "--json", exp.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["output_limit_bytes"], bytes, "{v}");
        assert_eq!(v["output_limit_default"], default, "{v}");
    }
}
