//! The executor's classification of how an agent ended, on real processes and files.

mod executor_support;

use exec::executor::{execute_trial, TrialControl};
use executor_support::{agent, sh, spec, write_result};
use journal::event::Classification;
use model::trial::RetrySpec;
use std::time::{Duration, Instant};

#[test]
fn executor_success_records_metrics_and_artifacts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(tmp.path(), agent("ok.sh"));
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Success, "{out:?}");
    assert_eq!(out.outcome.as_deref(), Some("success"));
    assert_eq!(out.metrics["score"], 0.75);
    assert_eq!(out.metrics["steps"], 3.0);
    assert_eq!(out.attempts.len(), 1);
    assert_eq!(out.attempts[0].exit_code, Some(0));
    assert!(out.error.is_none());
    let result = out
        .artifacts
        .iter()
        .find(|a| a.name == "attempt_1/result.json")
        .expect("result.json artifact");
    let blob = s.blob_dir.join(&result.digest[..2]).join(&result.digest);
    let stored = std::fs::read(blob).unwrap();
    assert_eq!(stored.len() as u64, result.bytes);
    assert_eq!(blake3::hash(&stored).to_hex().to_string(), result.digest);
    // Logs are artifacts when the agent wrote something; an empty one is neither kept
    // nor stored.
    for name in ["attempt_1/stdout.log", "attempt_1/stderr.log"] {
        let path = s.trial_dir.join(name);
        match out.artifacts.iter().find(|a| a.name == name) {
            Some(a) => assert_eq!(std::fs::metadata(&path).unwrap().len(), a.bytes),
            None => assert!(!path.exists(), "{name}: empty, yet kept"),
        }
    }
    assert!(
        out.artifacts
            .iter()
            .all(|a| a.bytes > 0 || !a.name.ends_with(".log")),
        "{:?}",
        out.artifacts
    );
    // The trial input was written and matches its schema.
    let input: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.trial_dir.join("trial_input.json")).unwrap())
            .unwrap();
    model::schemas::validate("trial_input_v1", &input).unwrap();
    assert_eq!(input["ids"]["schedule_idx"], 4);
}

#[test]
fn executor_failure_outcome_is_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(
        tmp.path(),
        sh(&write_result(
            r#"{"outcome":"failure","metrics":{"score":0}}"#,
        )),
    );
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Failure, "{out:?}");
    assert_eq!(out.outcome.as_deref(), Some("failure"));
    assert_eq!(out.metrics["score"], 0.0);
}

#[test]
fn executor_error_outcome_is_error_with_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(
        tmp.path(),
        sh(&write_result(
            r#"{"outcome":"error","error":"tool crashed"}"#,
        )),
    );
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Error);
    assert!(out.error.unwrap().contains("tool crashed"));
}

#[test]
fn executor_nonzero_exit_records_code() {
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        "{}; echo boom >&2; exit 7",
        write_result(r#"{"outcome":"success"}"#)
    );
    let s = spec(tmp.path(), sh(&script));
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::AgentExitNonzero);
    assert_eq!(out.attempts[0].exit_code, Some(7));
    assert!(out.error.unwrap().contains("code 7"));
    let stderr = std::fs::read_to_string(s.trial_dir.join("attempt_1/stderr.log")).unwrap();
    assert_eq!(stderr, "boom\n");
}

#[test]
fn executor_result_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = execute_trial(&spec(tmp.path(), sh("true")), &TrialControl::new());
    assert_eq!(out.classification, Classification::ResultMissing);
    assert!(!out.classification.is_infra());
}

#[test]
fn executor_malformed_result_is_parse_error() {
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(tmp.path(), sh(&write_result(r#"{"outcome": "succ"#)));
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::ResultParseError);
    assert!(out.error.unwrap().contains("not valid JSON"));
}

#[test]
fn executor_result_violating_schema_names_the_violation() {
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(tmp.path(), sh(&write_result(r#"{"outcome":"maybe"}"#)));
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::ResultParseError);
    let err = out.error.unwrap();
    assert!(
        err.contains("/outcome") && err.contains("agent_result_v1"),
        "{err}"
    );

    let s = spec(
        tmp.path(),
        sh(&write_result(
            // Scalars of any type are fine (the original's schema); nested values are not.
            r#"{"outcome":"success","metrics":{"score":{"value":1}}}"#,
        )),
    );
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::ResultParseError);
    assert!(out.error.unwrap().contains("/metrics/score"));
}

#[test]
fn executor_oversized_result_is_refused_unread() {
    let tmp = tempfile::tempdir().unwrap();
    let script = "head -c 2000000 /dev/zero | tr '\\0' ' ' > \"$AGENTLAB_RESULT_PATH\"";
    let started = Instant::now();
    let out = execute_trial(&spec(tmp.path(), sh(script)), &TrialControl::new());
    assert_eq!(out.classification, Classification::ResultParseError);
    let err = out.error.unwrap();
    assert!(
        err.contains("2000000 bytes") && err.contains("limit"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn executor_spawn_failure_is_infra_and_names_command() {
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(tmp.path(), vec!["/nonexistent/agent-binary".into()]);
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::SpawnFailure);
    assert!(out.classification.is_infra());
    let err = out.error.unwrap();
    assert!(err.contains("/nonexistent/agent-binary"), "{err}");
    assert!(err.contains("No such file"), "{err}");

    let s = spec(tmp.path(), Vec::new());
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::SpawnFailure);
}

#[test]
fn executor_retry_succeeds_on_second_attempt() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), agent("flaky.sh"));
    s.retry = RetrySpec {
        max_attempts: 3,
        retry_on: vec!["error".into()],
        max_infra_attempts: None,
    };
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Success, "{out:?}");
    assert_eq!(out.attempts.len(), 2);
    assert_eq!(out.attempts[0].classification, Classification::Error);
    assert_eq!(out.attempts[1].classification, Classification::Success);
    assert_eq!(out.metrics["attempt"], 2.0);
    assert!(s.trial_dir.join("attempt_1/result.json").is_file());
    assert!(s.trial_dir.join("attempt_2/result.json").is_file());

    // Without `error` in retry_on the first attempt is final.
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), agent("flaky.sh"));
    s.retry = RetrySpec {
        max_attempts: 3,
        retry_on: vec!["timeout".into()],
        max_infra_attempts: None,
    };
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Error);
    assert_eq!(out.attempts.len(), 1);
}

#[test]
fn executor_retry_on_infra_stops_at_max_attempts() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), vec!["/nonexistent/agent".into()]);
    s.retry = RetrySpec {
        max_attempts: 3,
        retry_on: vec!["infra".into()],
        max_infra_attempts: None,
    };
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::SpawnFailure);
    assert_eq!(out.attempts.len(), 3);
}

#[test]
fn executor_hostile_command_and_env_do_not_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), vec!["sh\0".into(), "-c".into(), "true".into()]);
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::SpawnFailure, "{out:?}");

    s.agent.command = agent("ok.sh");
    s.agent.env.insert(String::new(), "x".into());
    s.agent.env.insert("A=B".into(), "y".into());
    s.agent.env.insert("NUL".into(), "a\0b".into());
    let out = execute_trial(&s, &TrialControl::new());
    assert!(out.classification.is_infra(), "{out:?}");
}
