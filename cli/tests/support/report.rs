//! Experiments with known results for the reading commands (`report`, `trials`, `logs`,
//! `export`, `runs`; e2e_report, e2e_trials_logs, e2e_runs_export_init, e2e_cli_experience),
//! and the scipy reference.

use super::*;

/// Tasks `task_000`..`task_007`, 2 replications, three variants, concurrency 4, no
/// grader (the agent's outcome is the verdict):
/// - `base`: succeeds on tasks 0-3, score = n/10;
/// - `better`: succeeds on tasks 1-5, score = n/10 + (n mod 3)/20;
/// - `broken`: its program is a per-trial path (`${AGENTLAB_WORKSPACE_DIR}/…`) that no
///   task stages: `describe` cannot check it ahead, and every attempt is a spawn failure
///   (infrastructure), committed at once (`max_infra_attempts: 1`).
///
/// So over 16 matched pairs base vs better: both succeed on tasks 1-3 (6 pairs), both fail
/// on 6-7 (4), only base on task 0 (b = 2), only better on 4-5 (c = 4).
pub fn paired_experiment(s: &Scratch) -> PathBuf {
    s.tasks(8);
    s.script(
        "agent.sh",
        r#"n=$(echo "$AGENTLAB_TASK_ID" | sed 's/^task_0*//'); n=${n:-0}
echo "variant $AGENTLAB_VARIANT_ID on task $n" >&2
case "$AGENTLAB_VARIANT_ID" in
  base) ok=$([ "$n" -le 3 ] && echo success || echo failure)
        score=$(awk "BEGIN{print $n/10}") ;;
  *)    ok=$([ "$n" -ge 1 ] && [ "$n" -le 5 ] && echo success || echo failure)
        score=$(awk "BEGIN{print $n/10 + ($n % 3)/20}") ;;
esac
printf '{"schema_version":"agent_result_v1","outcome":"%s","metrics":{"score":%s}}' "$ok" "$score" >"$AGENTLAB_RESULT_PATH""#,
    );
    s.write(
        "experiment.yaml",
        r#"version: "0.5"
experiment: {id: paired, name: paired report test}
dataset: {path: tasks.jsonl}
design:
  replications: 2
  random_seed: 7
  max_concurrency: 4
  policies:
    scheduling: paired_interleaved
    state: isolate_per_trial
    retry: {max_attempts: 1, max_infra_attempts: 1}
baseline: {variant_id: base, bindings: {v: base}}
variant_plan:
  - variant_id: better
    bindings: {v: better}
  - variant_id: broken
    bindings: {v: broken}
    runtime:
      agent:
        command: ["${AGENTLAB_WORKSPACE_DIR}/missing-agent.sh"]
runtime:
  agent:
    command: ["./agent.sh"]
    timeout_ms: 60000
primary_metric: score
"#,
    )
}

/// Run [`paired_experiment`] to the end (infra faults are expected: exit 3 is refused
/// only above 100%); returns the run directory.
pub fn paired_run(s: &Scratch) -> PathBuf {
    let exp = paired_experiment(s);
    let out = s.labj(&[
        "run",
        exp.to_str().unwrap(),
        "--fail-on-infra-error",
        "100%",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    check_journal(&run);
    run
}

/// 2 variants × 5 tasks × 2 replications where no agent succeeds, each for a reason a
/// user must be told: most exit 3 saying the API key is missing (on stderr); `alt` on
/// task 3 writes a result that is not an agent_result_v1 (schema error); `alt` on task 4
/// kills itself with SIGKILL (a signal).
pub fn failing_experiment(s: &Scratch) -> PathBuf {
    s.tasks(5);
    s.script(
        "agent.sh",
        r#"n=$(echo "$AGENTLAB_TASK_ID" | sed 's/^task_0*//'); n=${n:-0}
echo "agent starting on $AGENTLAB_TASK_ID"
if [ "$AGENTLAB_VARIANT_ID" = alt ] && [ "$n" -eq 3 ]; then
  printf '{"schema_version":"agent_result_v1","outcome":"maybe"}' >"$AGENTLAB_RESULT_PATH"
  exit 0
fi
if [ "$AGENTLAB_VARIANT_ID" = alt ] && [ "$n" -eq 4 ]; then
  echo "about to crash" >&2
  kill -9 $$
fi
echo "loading config" >&2
echo "error: API key missing (set EVAL_API_KEY)" >&2
exit 3"#,
    );
    s.experiment(&["base", "alt"], 2, 4, "")
}

#[path = "../../../engine/read/tests/scipy_support/mod.rs"]
mod scipy_support;
#[allow(unused_imports)] // used by e2e_report only
pub use scipy_support::python_with_scipy;

/// The stdout of a successful `labj` command, as text.
pub fn stdout_ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}
