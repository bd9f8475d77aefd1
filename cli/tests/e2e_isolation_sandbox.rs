//! The bubblewrap sandbox and host-side hygiene: network none vs full on a loopback
//! server, env allow-list (secrets never reach the agent or the journal), the agent
//! cannot see the journal or sibling trials, 0700 run directories, and no `setsid`
//! daemon outlives its trial (plain local and sandbox).

mod support;
use std::path::Path;
use std::time::Duration;
use support::iso::*;
use support::*;

fn ok() -> String {
    RESULT_OK.replace('"', "\\\"")
}

fn sandbox_net_run(s: &Scratch, mode: &str, port: u16) -> String {
    let exp = iso_experiment(
        s,
        &format!("net_{mode}.yaml"),
        &[("base", "")],
        &format!(
            "  agent:\n    command: [\"sh\", \"-c\", \"if printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | busybox nc -w 3 127.0.0.1 {port} | grep -q hello; then echo net=reached; else echo net=blocked; fi; {}\"]\n  policy:\n    network: {{mode: {mode}}}\n    sandbox: {{mode: local, root_read_only: true}}\n",
            ok()
        ),
        1,
    );
    let runs = s.dir().join(format!("runs_{mode}"));
    let out = labj_at(s.dir(), &runs, &["run", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = first_entry(&runs).expect("run dir");
    let log = stdout_of(&run, "trial_000000");
    println!("--- sandbox network {mode}: {}", log.trim());
    let c = &completions(s, &run)[0];
    assert_eq!(c["isolation"]["mode"], "sandbox", "{c}");
    assert_eq!(c["isolation"]["network"], mode, "{c}");
    log
}

#[test]
fn sandbox_network_none_blocks_loopback_while_full_reaches_it() {
    require_bwrap();
    let s = Scratch::new();
    s.tasks(1);
    let server = TinyServer::start("127.0.0.1:0");
    let port = server.addr.port();
    let full = sandbox_net_run(&s, "full", port);
    let none = sandbox_net_run(&s, "none", port);
    let served = server.stop();
    assert!(full.contains("net=reached"), "full:\n{full}");
    assert!(none.contains("net=blocked"), "none:\n{none}");
    assert_eq!(served, 1, "exactly the `full` trial reached the server");
}

#[test]
fn undeclared_host_secret_is_invisible_and_nothing_secret_is_journaled() {
    require_bwrap();
    let s = Scratch::new();
    s.tasks(1);
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[("base", "")],
        &format!(
            "  agent:\n    env: {{API_TOKEN: declared-token-5d1c}}\n    env_from_host: [LABJ_TEST_PASSED]\n    command: [\"sh\", \"-c\", \"env | sort; {}\"]\n  policy:\n    network: {{mode: none}}\n    sandbox: {{mode: local}}\n",
            ok()
        ),
        1,
    );
    let out = s
        .labj_cmd(&["run", exp.to_str().unwrap()])
        .env("LABJ_TEST_SECRET", "undeclared-secret-9b2e")
        .env("LABJ_TEST_PASSED", "passed-value-44a0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    let log = stdout_of(&run, "trial_000000");
    assert!(log.contains("LABJ_TEST_PASSED=passed-value-44a0"), "{log}");
    assert!(log.contains("API_TOKEN=declared-token-5d1c"), "{log}");
    assert!(
        !log.contains("undeclared-secret-9b2e"),
        "undeclared variable leaked:\n{log}"
    );
    assert!(!log.contains("LABJ_TEST_SECRET"), "{log}");
    let journal = journal_bytes(&run);
    for secret in [
        "undeclared-secret-9b2e",
        "passed-value-44a0",
        "declared-token-5d1c",
    ] {
        assert!(!contains(&journal, secret), "{secret} is in the journal");
    }
    assert!(
        contains(&journal, "LABJ_TEST_PASSED"),
        "the passed name is journaled"
    );
    let c = &completions(&s, &run)[0];
    assert_eq!(
        c["isolation"]["host_env_passed"],
        serde_json::json!(["LABJ_TEST_PASSED"]),
        "{c}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&run), 0o700, "run dir");
    assert_eq!(mode(&run.join("journal.sqlite")), 0o600, "journal");
}

#[test]
fn sandboxed_agent_cannot_write_the_journal_nor_read_a_sibling_trial() {
    require_bwrap();
    let s = Scratch::new();
    s.tasks(2);
    // Each agent tries the journal and the other trial's task file (both relative to its
    // own trial dir, as an agent that knows labj's layout would).
    let probe = "T=$AGENTLAB_TRIAL_DIR; \
        if echo x >> $T/../../journal.sqlite 2>/dev/null; then echo journal=written; else echo journal=denied; fi; \
        if ls $T/../../journal.sqlite >/dev/null 2>&1; then echo journal=visible; else echo journal=hidden; fi; \
        if cat $T/../trial_000000/task.json $T/../trial_000001/task.json 2>/dev/null | grep -c task_ | grep -q 2; then echo sibling=read; else echo sibling=hidden; fi; \
        if echo x > $T/grade.json 2>/dev/null; then echo grade=written; else echo grade=denied; fi; ";
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[("base", "")],
        &format!(
            "  agent:\n    command: [\"sh\", \"-c\", \"{probe}{}\"]\n  policy:\n    sandbox: {{mode: local, root_read_only: true}}\n",
            ok()
        ),
        1,
    );
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    check_journal(&run);
    for t in ["trial_000000", "trial_000001"] {
        let log = stdout_of(&run, t);
        for want in [
            "journal=denied",
            "journal=hidden",
            "sibling=hidden",
            "grade=denied",
        ] {
            assert!(log.contains(want), "{t}: missing {want} in:\n{log}");
        }
    }
    // The same probe as a plain local agent does reach both: the sandbox made the difference.
    let plain = iso_experiment(
        &s,
        "plain.yaml",
        &[("base", "")],
        &format!(
            "  agent:\n    command: [\"sh\", \"-c\", \"{probe}{}\"]\n",
            ok()
        ),
        1,
    );
    let runs = s.dir().join("runs_plain");
    let out = labj_at(s.dir(), &runs, &["run", plain.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let log = stdout_of(&first_entry(&runs).unwrap(), "trial_000001");
    assert!(
        log.contains("journal=visible") && log.contains("sibling=read"),
        "{log}"
    );
}

fn daemon_agent(pidfile: &Path) -> String {
    format!(
        "  agent:\n    command: [\"sh\", \"-c\", \"setsid sh -c 'echo $$ > {p}; exec sleep 300' </dev/null >/dev/null 2>&1 & while [ ! -s {p} ]; do sleep 0.01; done; {}\"]\n",
        ok(),
        p = pidfile.display()
    )
}

#[test]
fn setsid_daemon_is_gone_after_the_run_in_plain_local_mode() {
    let s = Scratch::new();
    s.tasks(1);
    let pidfile = s.dir().join("daemon.pid");
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[("base", "")],
        &daemon_agent(&pidfile),
        1,
    );
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let pid = read_pid(&pidfile);
    assert!(pid > 1);
    assert!(
        !alive(pid),
        "setsid daemon {pid} outlived its trial (plain local)"
    );
}

/// Gone when its own trial ends, not only when the run does: the next trial (one at a
/// time) finds it dead. labj is the daemon's subreaper, so the after-attempt sweep finds
/// it among labj's children (no /proc scan). Fails on the code before LABJ_TRIAL_TAG
/// reached local agents (the daemon lived until the run's final sweep).
#[test]
fn setsid_daemon_is_gone_when_its_trial_ends_in_plain_local_mode() {
    let s = Scratch::new();
    s.tasks(2);
    let pidfile = s.dir().join("daemon.pid");
    let agent = format!(
        "  agent:\n    command: [\"sh\", \"-c\", \"if [ ! -e {p} ]; then setsid sh -c 'echo $$ > {p}.tmp; mv {p}.tmp {p}; exec sleep 300' </dev/null >/dev/null 2>&1 & while [ ! -s {p} ]; do sleep 0.01; done; echo daemon=started; elif kill -0 $(cat {p}) 2>/dev/null; then echo daemon=alive; else echo daemon=gone; fi; {}\"]\n",
        ok(),
        p = pidfile.display()
    );
    let exp = iso_experiment(&s, "experiment.yaml", &[("base", "")], &agent, 1);
    let runs = s.dir().join("runs_daemon");
    let out = labj_at(s.dir(), &runs, &["run", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = first_entry(&runs).unwrap();
    assert!(stdout_of(&run, "trial_000000").contains("daemon=started"));
    let second = stdout_of(&run, "trial_000001");
    assert!(
        second.contains("daemon=gone"),
        "the first trial's setsid daemon was still alive during the second trial: {second}"
    );
}

#[test]
fn setsid_daemon_is_gone_after_the_run_in_the_sandbox() {
    require_bwrap();
    let s = Scratch::new();
    s.tasks(1);
    // Inside the sandbox's PID namespace the daemon's own pid is meaningless outside, so
    // it records the host-visible start marker instead: a file it keeps touching.
    // Outside the experiment directory, which the sandbox keeps read-only, and outside
    // /tmp, which a network-none sandbox replaces with its own (host sockets live there).
    let elsewhere = tempfile::tempdir_in("/var/tmp").unwrap();
    let beat = elsewhere.path().join("beat");
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[("base", "")],
        &format!(
            "  agent:\n    command: [\"sh\", \"-c\", \"setsid sh -c 'while true; do date +%s%N > {b}; sleep 0.05; done' </dev/null >/dev/null 2>&1 & while [ ! -s {b} ]; do sleep 0.01; done; {}\"]\n  policy:\n    network: {{mode: none}}\n    sandbox: {{mode: local}}\n",
            ok(),
            b = beat.display()
        ),
        1,
    );
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let before = std::fs::read_to_string(&beat).expect("daemon ran");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        std::fs::read_to_string(&beat).unwrap(),
        before,
        "the sandboxed setsid daemon is still beating after the run"
    );
}

#[test]
fn sandbox_is_refused_naming_the_field_without_bubblewrap() {
    let s = Scratch::new();
    s.tasks(1);
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[("base", "")],
        // An absolute program: with PATH emptied, a bare `true` would be refused first
        // (programs are checked before isolation).
        "  agent:\n    command: [\"/bin/true\"]\n  policy:\n    network: {mode: none}\n    sandbox: {mode: local}\n",
        1,
    );
    for cmd in ["describe", "run"] {
        let out = s
            .labj_cmd(&[cmd, exp.to_str().unwrap()])
            .env("PATH", "/nonexistent")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cmd}: {}", text(&out));
        let t = text(&out);
        assert!(
            t.contains("/runtime/policy/network/mode") && t.contains("bubblewrap"),
            "{t}"
        );
    }
    assert!(s.first_run().is_none());
}

/// Processes an agent leaves behind are killed and counted in its attempt's record (as
/// nextest reports leaked processes): two background sleeps still in its process group
/// when it exits and one `setsid` daemon that left it make 3; a tidy agent makes 0.
#[test]
fn leaked_processes_are_counted_in_the_attempt_record() {
    let s = Scratch::new();
    s.tasks(2);
    let agent = format!(
        "  agent:\n    command: [\"sh\", \"-c\", \"if [ \\\"$AGENTLAB_TASK_ID\\\" = task_000 ]; then sleep 300 & sleep 300 & setsid sleep 300 </dev/null >/dev/null 2>&1 & sleep 0.2; fi; {}\"]\n",
        ok()
    );
    let exp = iso_experiment(&s, "experiment.yaml", &[("base", "")], &agent, 1);
    let runs = s.dir().join("runs_leaks");
    let out = labj_at(s.dir(), &runs, &["run", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = first_entry(&runs).unwrap();
    let leaked: std::collections::BTreeMap<String, Option<u32>> = read_events(&run)
        .into_iter()
        .filter_map(|e| match e.event {
            journal::event::Event::TrialCompleted(c) => {
                Some((c.trial_id.clone(), c.attempts[0].leaked_processes))
            }
            _ => None,
        })
        .collect();
    assert_eq!(leaked.get("trial_000000"), Some(&Some(3)), "{leaked:?}");
    assert_eq!(leaked.get("trial_000001"), Some(&Some(0)), "{leaked:?}");

    // Shown where a person looks: `labj trials` (text and JSON) and the viewer's page.
    let run_arg = run.to_str().unwrap();
    let listing = labj_at(s.dir(), &runs, &["trials", run_arg])
        .output()
        .unwrap();
    let listing = text(&listing);
    assert!(
        listing.contains("left processes running after the agent exited")
            && listing.contains("trial_000000 (3)")
            && !listing.contains("trial_000001 ("),
        "{listing}"
    );
    let json = labj_at(s.dir(), &runs, &["trials", run_arg, "--json"])
        .output()
        .unwrap();
    let counts: Vec<(String, serde_json::Value)> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            (
                v["trial_id"].as_str().unwrap().to_string(),
                v["leaked_processes"].clone(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("trial_000000".to_string(), serde_json::json!(3)),
            ("trial_000001".to_string(), serde_json::json!(0))
        ]
    );
    let site = s.dir().join("site");
    let out = labj_at(
        s.dir(),
        &runs,
        &["view", run_arg, "--export", site.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let page = std::fs::read_to_string(site.join("trial-0.html")).unwrap();
    let attempts = page.split("id=\"attempts\"").nth(1).unwrap_or_default();
    let attempts = attempts.split("</table>").next().unwrap_or_default();
    assert!(
        attempts.contains("<th>leaked</th>") && attempts.contains("<td>3</td>"),
        "{attempts}"
    );
}
