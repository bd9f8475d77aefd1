//! Container trials on real podman (runc), images built locally from busybox-static:
//! images per variant and per task, the in-container contract, network none vs full,
//! memory limits, pause, and orphan containers after `kill -9` + `continue`.

mod support;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::iso::*;
use support::*;

/// An agent that reports the image it runs in (`/marker`), whether the host's scratch
/// directory is visible, the contract paths and its environment.
fn reporting_agent(host_marker: &Path) -> String {
    format!(
        r#"    command: ["sh", "-c", "echo marker=$(cat /marker); if [ -e {m} ]; then echo host=visible; else echo host=hidden; fi; echo cwd=$(pwd); cat $AGENTLAB_TASK_PATH; echo; env | sort; {ok}"]
"#,
        m = host_marker.display(),
        ok = RESULT_OK.replace('"', "\\\"")
    )
}

#[test]
fn two_variants_with_different_images_each_run_their_own() {
    require_podman();
    let s = Scratch::new();
    s.tasks(1);
    let host_marker = s.write("host_marker", "host\n");
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[
            ("agent_a", &format!("  image: {IMAGE_A}\n")),
            ("agent_b", &format!("    image: {IMAGE_B}\n")),
        ],
        &format!(
            "  agent:\n{}  policy:\n    sandbox: {{mode: container}}\n",
            reporting_agent(&host_marker)
        ),
        2,
    );
    let out = labj_podman(&s, &["describe", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d = String::from_utf8_lossy(&out.stdout);
    assert!(
        d.contains("isolation: container via podman") && d.contains(IMAGE_A) && d.contains(IMAGE_B),
        "describe names engine and images:\n{d}"
    );
    let out = labj_podman(&s, &["run", exp.to_str().unwrap()])
        .env("LABJ_TEST_UNDECLARED_SECRET", "do-not-leak-7f3a")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    check_journal(&run);
    let done = completions(&s, &run);
    assert_eq!(done.len(), 2, "{done:?}");
    for (trial, image, marker) in [
        ("trial_000000", IMAGE_A, "labj-test-a"),
        ("trial_000001", IMAGE_B, "labj-test-b"),
    ] {
        let log = stdout_of(&run, trial);
        assert!(log.contains(&format!("marker={marker}")), "{trial}:\n{log}");
        assert!(log.contains("host=hidden"), "{trial}:\n{log}");
        assert!(log.contains("cwd=/agentlab/workspace"), "{trial}:\n{log}");
        assert!(
            log.contains("AGENTLAB_RESULT_PATH=/agentlab/out/result.json"),
            "{log}"
        );
        assert!(
            log.contains("AGENTLAB_TASK_PATH=/agentlab/in/task.json"),
            "{log}"
        );
        assert!(log.contains("task_000"), "task visible: {log}");
        assert!(
            !log.contains("do-not-leak-7f3a"),
            "undeclared host variable leaked:\n{log}"
        );
        let c = done
            .iter()
            .find(|c| c["trial_id"] == trial)
            .unwrap_or_else(|| panic!("no completion for {trial}"));
        assert_eq!(c["classification"], "success", "{c}");
        let iso = &c["isolation"];
        assert_eq!(iso["mode"], "container", "{c}");
        assert_eq!(iso["image"], image, "{c}");
        let id = Command::new("podman")
            .args(["image", "inspect", "--format", "{{.Id}}", image])
            .output()
            .unwrap();
        let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
        assert_eq!(iso["image_digest"], format!("sha256:{id}"), "{c}");
    }
    assert!(
        !contains(&journal_bytes(&run), "do-not-leak-7f3a"),
        "secret in the journal"
    );
    assert!(
        containers_of(&run_id(&run)).is_empty(),
        "containers left behind"
    );
}

#[test]
fn per_task_image_wins_over_the_experiment_image() {
    require_podman();
    let s = Scratch::new();
    s.write(
        "tasks.jsonl",
        &format!(
            "{{\"schema_version\":\"task_boundary_v1\",\"task\":{{\"id\":\"own_image\",\"image\":\"{IMAGE_B}\"}}}}\n{{\"id\":\"default_image\"}}\n"
        ),
    );
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[("base", "")],
        &format!(
            "  agent:\n    image: {IMAGE_A}\n    command: [\"sh\", \"-c\", \"echo marker=$(cat /marker); {}\"]\n  policy:\n    sandbox: {{mode: container}}\n",
            RESULT_OK.replace('"', "\\\"")
        ),
        2,
    );
    let out = labj_podman(&s, &["run", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    assert!(stdout_of(&run, "trial_000000").contains("marker=labj-test-b"));
    assert!(stdout_of(&run, "trial_000001").contains("marker=labj-test-a"));
}

/// The podman bridge's gateway: the host address containers on the default network reach.
fn podman_gateway() -> String {
    let out = Command::new("podman")
        .args([
            "network",
            "inspect",
            "podman",
            "--format",
            "{{range .Subnets}}{{.Gateway}}{{end}}",
        ])
        .output()
        .expect("podman network inspect");
    let gw = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !gw.is_empty(),
        "podman's default network has no gateway: {}",
        text(&out)
    );
    gw
}

fn network_run(s: &Scratch, name: &str, mode: &str, url_host: &str, port: u16) -> String {
    let exp = iso_experiment(
        s,
        &format!("{name}.yaml"),
        &[("base", "")],
        &format!(
            "  agent:\n    image: {IMAGE_A}\n    command: [\"sh\", \"-c\", \"if printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc -w 3 {url_host} {port} | grep -q hello; then echo net=reached; else echo net=blocked; fi; {}\"]\n  policy:\n    network: {{mode: {mode}}}\n    sandbox: {{mode: container}}\n",
            RESULT_OK.replace('"', "\\\"")
        ),
        1,
    );
    let runs = s.dir().join(format!("runs_{name}"));
    let out = labj_at(s.dir(), &runs, &["run", exp.to_str().unwrap()])
        .env("LABJ_CONTAINER_ENGINE", "podman")
        .env("LABJ_CONTAINER_ARGS", PODMAN_ARGS)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = first_entry(&runs).expect("run dir");
    let log = stdout_of(&run, "trial_000000");
    println!("--- network {mode}: {}", log.trim());
    log
}

#[test]
fn network_none_blocks_a_host_server_that_full_reaches() {
    require_podman();
    let s = Scratch::new();
    s.tasks(1);
    let gw = podman_gateway();
    // Containers reach the host through the bridge gateway, not the host's loopback;
    // the gateway address exists only while a bridged container runs, so the server
    // listens on all addresses (bounded: 60 s, 100 connections) and the agents dial the
    // gateway.
    let server = TinyServer::start("0.0.0.0:0");
    let port = server.addr.port();
    let full = network_run(&s, "full", "full", &gw, port);
    let none = network_run(&s, "none", "none", &gw, port);
    let served = server.stop();
    assert!(full.contains("net=reached"), "full:\n{full}");
    assert!(none.contains("net=blocked"), "none:\n{none}");
    assert_eq!(served, 1, "exactly the `full` trial reached the server");
}

#[test]
fn memory_limit_kill_is_classified_resource_limit() {
    require_podman();
    let s = Scratch::new();
    s.tasks(1);
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[("base", "")],
        &format!(
            "  agent:\n    image: {IMAGE_A}\n    command: [\"sh\", \"-c\", \"x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done\"]\n  policy:\n    sandbox:\n      mode: container\n      resources: {{memory_mb: 32}}\n"
        ),
        1,
    );
    let out = labj_podman(&s, &["run", exp.to_str().unwrap()])
        .output()
        .unwrap();
    let run = s.the_run();
    let done = completions(&s, &run);
    assert_eq!(done.len(), 1, "{}", text(&out));
    assert_eq!(done[0]["classification"], "resource_limit", "{}", done[0]);
    assert_eq!(
        done[0]["isolation"]["limits"]["memory_mb"], 32,
        "{}",
        done[0]
    );
    assert!(containers_of(&run_id(&run)).is_empty());
}

#[test]
fn pause_freezes_the_container_and_resume_thaws_it() {
    require_podman();
    let s = Scratch::new();
    s.tasks(1);
    // Ticks into the workspace (a host directory) every 50 ms; done after 60 ticks.
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[("base", "")],
        &format!(
            "  agent:\n    image: {IMAGE_A}\n    timeout_ms: 60000\n    command: [\"sh\", \"-c\", \"i=0; while [ $i -lt 60 ]; do i=$((i+1)); echo $i > ticks; sleep 0.05; done; {}\"]\n  policy:\n    sandbox: {{mode: container}}\n",
            RESULT_OK.replace('"', "\\\"")
        ),
        1,
    );
    let mut child = labj_podman(&s, &["run", exp.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ticks = wait_for(Duration::from_secs(30), "agent ticking", || {
        let run = s.first_run()?;
        let p = run.join("trials/trial_000000/workspace/ticks");
        let n: u32 = std::fs::read_to_string(&p).ok()?.trim().parse().ok()?;
        (n >= 2).then_some(p)
    });
    let run = s.the_run();
    let rid = run_id(&run);
    let out = labj_podman(&s, &["pause", &rid]).output().unwrap();
    assert!(out.status.success(), "pause: {}", text(&out));
    let state = Command::new("podman")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=labj.run_id={rid}"),
            "--format",
            "{{.Status}}",
        ])
        .output()
        .unwrap();
    let state = String::from_utf8_lossy(&state.stdout).to_lowercase();
    assert!(state.contains("paused"), "container state: {state}");
    let read = || std::fs::read_to_string(&ticks).unwrap_or_default();
    let frozen = read();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(read(), frozen, "ticks advanced while paused");
    let out = labj_podman(&s, &["resume", &rid]).output().unwrap();
    assert!(out.status.success(), "resume: {}", text(&out));
    wait_for(
        Duration::from_secs(30),
        "ticks advancing after resume",
        || (read() != frozen).then_some(()),
    );
    let status = wait_within(&mut child, COMMAND_LIMIT, "labj run");
    assert!(status.success(), "run ended {status}");
    let done = completions(&s, &run);
    assert_eq!(done[0]["classification"], "success", "{}", done[0]);
    assert!(containers_of(&rid).is_empty());
}

#[test]
fn kill_9_then_continue_removes_the_orphan_container() {
    require_podman();
    let s = Scratch::new();
    s.tasks(1);
    // Waits for ever unless the host passes LABJ_TEST_GO=go (env_from_host).
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[("base", "")],
        &format!(
            "  agent:\n    image: {IMAGE_A}\n    env_from_host: [LABJ_TEST_GO]\n    command: [\"sh\", \"-c\", \"[ \\\"$LABJ_TEST_GO\\\" = go ] || sleep 300; {}\"]\n  policy:\n    sandbox: {{mode: container}}\n",
            RESULT_OK.replace('"', "\\\"")
        ),
        1,
    );
    let mut child = labj_podman(&s, &["run", exp.to_str().unwrap()])
        .env("LABJ_TEST_GO", "wait")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let rid = wait_for(Duration::from_secs(30), "the trial's container", || {
        let run = s.first_run()?;
        let rid = run_id(&run);
        (!containers_of(&rid).is_empty()).then_some(rid)
    });
    // SAFETY-free: plain SIGKILL of the child we spawned.
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let orphans = containers_of(&rid);
    assert_eq!(
        orphans.len(),
        1,
        "the container outlives a kill -9 of labj: {orphans:?}"
    );
    let out = labj_podman(&s, &["continue", &rid])
        .env("LABJ_TEST_GO", "go")
        .output()
        .unwrap();
    assert!(
        text(&out).contains("removed 1 container(s) the previous session left"),
        "{}",
        text(&out)
    );
    assert!(containers_of(&rid).is_empty(), "orphan still there");
}

#[test]
fn describe_and_run_refuse_container_mode_without_an_engine() {
    let s = Scratch::new();
    s.tasks(1);
    let exp = iso_experiment(
        &s,
        "experiment.yaml",
        &[("base", "")],
        &format!(
            "  agent:\n    image: {IMAGE_A}\n    command: [\"true\"]\n  policy:\n    sandbox: {{mode: container}}\n"
        ),
        1,
    );
    for cmd in ["describe", "run"] {
        let out = s
            .labj_cmd(&[cmd, exp.to_str().unwrap()])
            .env_remove("LABJ_CONTAINER_ENGINE")
            .env("PATH", "/nonexistent")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cmd} must fail: {}", text(&out));
        let t = text(&out);
        assert!(
            t.contains("/runtime/policy/sandbox/mode") && t.contains("neither podman nor docker"),
            "{cmd}: {t}"
        );
    }
    assert!(s.first_run().is_none(), "no run may be created");
}
