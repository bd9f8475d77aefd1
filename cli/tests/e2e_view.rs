//! `labj view` without a browser: the bind rule (no non-loopback address without a
//! token), the token (401 without it, a cookie from `?token=`, never echoed), the static
//! export (self-contained files, nothing fetched from the network, agent markup
//! escaped), and the terminal side of issue 22: `labj logs --grader` and the agent's
//! own metrics in `labj trials`.

mod support;

use support::browser::{http, Viewer};
use support::report::stdout_ok;
use support::*;

/// Two variants, three tasks; the agent reports metrics and prints markup on stderr;
/// a grader prints to its own stderr and writes a grade.
fn graded_run(s: &Scratch) -> std::path::PathBuf {
    s.tasks(3);
    s.script(
        "agent.sh",
        r#"echo "agent <script>alert(1)</script> on $AGENTLAB_TASK_ID" >&2
printf '{"role":"assistant","content":"thinking about %s"}\n' "$AGENTLAB_TASK_ID" >>"$AGENTLAB_TRAJECTORY_PATH"
printf '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"score":1,"tokens":%s,"latency_ms":7.5}}' "$(echo "$AGENTLAB_TASK_ID" | tr -dc 0-9 | sed 's/^0*//;s/^$/0/')" >"$AGENTLAB_RESULT_PATH""#,
    );
    s.script(
        "grader.sh",
        r#"echo "grader checked $AGENTLAB_TASK_ID" >&2
echo "grader stdout line"
printf '{"schema_version":"grade_result_v1","outcome":"success","metrics":{"correct":1}}' >"$AGENTLAB_GRADE_PATH""#,
    );
    let exp = s.experiment(&["base", "alt"], 1, 2, "");
    let yaml = std::fs::read_to_string(&exp).unwrap();
    std::fs::write(
        &exp,
        format!("{yaml}benchmark:\n  grader:\n    command: [\"./grader.sh\"]\n"),
    )
    .unwrap();
    let out = s.labj(&["run", exp.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    s.the_run()
}

#[test]
fn logs_print_the_graders_output_and_trials_show_every_agent_metric() {
    let s = Scratch::new();
    let run = graded_run(&s);
    let r = run.to_str().unwrap();
    let out = s.labj(&["logs", r, "1", "--grader"]);
    assert_eq!(stdout_ok(&out), "grader checked task_001\n");
    assert!(text(&out).contains("grader/stderr.log"), "{}", text(&out));
    let out = s.labj(&["logs", r, "1", "--grader", "--stdout"]);
    assert_eq!(stdout_ok(&out), "grader stdout line\n");
    let out = s.labj(&["logs", r, "1"]);
    assert!(stdout_ok(&out).starts_with("agent <script>"));

    let table = stdout_ok(&s.labj(&["trials", r]));
    let line = table
        .lines()
        .find(|l| l.starts_with("trial_000002"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("latency_ms=7.5000") && line.contains("score=1") && line.contains("tokens=2"),
        "{line}"
    );
    let json = stdout_ok(&s.labj(&["trials", r, "--json"]));
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["metrics"]["tokens"], 0.0);
    assert_eq!(first["metrics"]["latency_ms"], 7.5);
}

#[test]
fn the_viewer_refuses_a_non_loopback_bind_without_a_token_and_checks_the_token() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.runs_dir()).unwrap();
    let out = s.labj(&["view", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not a loopback address") && text(&out).contains("--token-env"),
        "{}",
        text(&out)
    );
    let out = s.labj(&[
        "view",
        "--listen",
        "0.0.0.0:0",
        "--token-env",
        "LABJ_TEST_UNSET_TOKEN",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("LABJ_TEST_UNSET_TOKEN"),
        "{}",
        text(&out)
    );

    // With a token (here on loopback, the same check): nothing without it.
    let token = "t0ken-for-the-viewer-test";
    let v = Viewer::start(
        &s.runs_dir(),
        &["--listen", "127.0.0.1:0", "--token-env", "VIEW_TEST_TOKEN"],
        &[("VIEW_TEST_TOKEN", token)],
    );
    let (st, body) = http("GET", &v.url("/"), &[]);
    assert_eq!(st, 401);
    assert!(!body.contains(token));
    let (st, _) = http("GET", &v.url("/"), &[("Authorization", "Bearer wrong")]);
    assert_eq!(st, 401);
    let (st, body) = http(
        "GET",
        &v.url("/"),
        &[("Authorization", &format!("Bearer {token}"))],
    );
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("Runs") && !body.contains(token));
    // A link with ?token= once: a cookie, then the page without the token in its address.
    let (st, _) = http("GET", &v.url(&format!("/?token={token}")), &[]);
    assert_eq!(st, 303);
    let (st, _) = http(
        "GET",
        &v.url("/"),
        &[("Cookie", &format!("labj_view_token={token}"))],
    );
    assert_eq!(st, 200);
}

#[test]
fn the_export_is_self_contained_static_files_with_agent_markup_escaped() {
    let s = Scratch::new();
    let run = graded_run(&s);
    let out_dir = s.dir().join("site");
    let out = s.labj(&[
        "view",
        run.to_str().unwrap(),
        "--export",
        out_dir.to_str().unwrap(),
    ]);
    let said = stdout_ok(&out);
    assert!(said.contains("index.html"), "{said}");
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for want in [
        "index.html",
        "report.html",
        "trials-1.html",
        "trial-0.html",
        "trial-5.html",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert!(names.iter().any(|n| n.starts_with("blob-")), "{names:?}");
    for n in &names {
        let body = std::fs::read_to_string(out_dir.join(n)).unwrap();
        if n.ends_with(".html") {
            assert!(!body.contains("<script"), "{n}: no script in an export");
            assert!(
                !body.contains("src=\"http") && !body.contains("href=\"http"),
                "{n}: nothing fetched"
            );
            // Every local link names a file of the export.
            for href in body
                .split("href=\"")
                .skip(1)
                .map(|h| h.split('"').next().unwrap())
            {
                let file = href.split(['?', '#']).next().unwrap();
                assert!(
                    names.iter().any(|x| x == file),
                    "{n}: link {href} to a missing file"
                );
            }
        }
    }
    let trial = std::fs::read_to_string(out_dir.join("trial-1.html")).unwrap();
    assert!(trial.contains("agent &lt;script&gt;alert(1)&lt;/script&gt; on task_001"));
    assert!(trial.contains("grader checked task_001"));
    assert!(trial.contains("thinking about task_001"), "trajectory turn");
    // A second export into the same, now non-empty, directory is refused.
    let out = s.labj(&[
        "view",
        run.to_str().unwrap(),
        "--export",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("not empty"), "{}", text(&out));
}
