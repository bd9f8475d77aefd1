//! `${AGENTLAB_…}` references in the fields labj expands per trial: every token of an
//! agent's, grader's or adapter's `command` (and an agent's `args`). Only the contract's
//! variables are expanded; any other `${AGENTLAB_…}` would reach the program as written
//! (a typo such as `${AGENTLAB_TASK_PTH}` silently becomes a literal argument), so the
//! experiment is refused when it loads (`describe` and `run` alike), naming the field
//! and the variables labj knows.

use crate::error::ExperimentError;
use serde_json::Value;
use std::path::Path;

/// Every variable a command token may name: the agent's contract, what graders and the
/// original's benchmark adapters get besides (docs/agentlab-compat.md, docs/isolation.md).
pub(crate) const CONTRACT_VARS: &[&str] = &[
    "AGENTLAB_TASK_PATH",
    "AGENTLAB_BINDINGS_PATH",
    "AGENTLAB_DEPENDENCIES_PATH",
    "AGENTLAB_POLICY_PATH",
    "AGENTLAB_TRIAL_INPUT_PATH",
    "AGENTLAB_RESULT_PATH",
    "AGENTLAB_TRAJECTORY_PATH",
    "AGENTLAB_TIMEOUT_MS",
    "AGENTLAB_RUN_ID",
    "AGENTLAB_TRIAL_ID",
    "AGENTLAB_VARIANT_ID",
    "AGENTLAB_TASK_ID",
    "AGENTLAB_REPL_IDX",
    "AGENTLAB_TRIAL_DIR",
    "AGENTLAB_WORKSPACE_DIR",
    "AGENTLAB_DEPS_DIR",
    "AGENTLAB_ATTEMPT",
    "AGENTLAB_TASK_IMAGE",
    // Graders.
    "AGENTLAB_GRADE_PATH",
    "AGENTLAB_HIDDEN_DIR",
    "AGENTLAB_GRADER_INPUT_PATH",
    "AGENTLAB_MAPPED_GRADER_OUTPUT_PATH",
    // The original's benchmark adapter.
    "AGENTLAB_RUN_DIR",
    "AGENTLAB_EVIDENCE_RECORDS_PATH",
    "AGENTLAB_TASK_CHAIN_STATES_PATH",
    "AGENTLAB_BENCHMARK_DIR",
    "AGENTLAB_ADAPTER_MANIFEST_PATH",
    "AGENTLAB_PREDICTIONS_PATH",
    "AGENTLAB_SCORES_PATH",
    "AGENTLAB_BENCHMARK_SUMMARY_PATH",
    "AGENTLAB_BENCHMARK_TASKS_PATH",
    "AGENTLAB_EVALUATOR_LOGS_DIR",
];

/// `--secret-file ID=…` files: `AGENTLAB_SECRET_FILE_<ID>`.
pub(crate) const SECRET_FILE_PREFIX: &str = "AGENTLAB_SECRET_FILE_";

/// Refuses the first unknown or unterminated `${AGENTLAB_…}` in a command field of the
/// (translated) document; the pointer is the field's (the caller maps it to the file as
/// written).
pub(crate) fn check(path: &Path, doc: &Value) -> Result<(), ExperimentError> {
    let mut found = None;
    walk(doc, &mut Vec::new(), &mut |segments, s| {
        if found.is_none() && is_command_token(segments) {
            if let Some(why) = problem(s) {
                found = Some((format!("/{}", segments.join("/")), why));
            }
        }
    });
    match found {
        None => Ok(()),
        Some((pointer, why)) => Err(ExperimentError::invalid(path, pointer, why)),
    }
}

fn walk(v: &Value, at: &mut Vec<String>, f: &mut impl FnMut(&[String], &str)) {
    match v {
        Value::String(s) => f(at, s),
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                at.push(i.to_string());
                walk(x, at, f);
                at.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                at.push(k.replace('~', "~0").replace('/', "~1"));
                walk(x, at, f);
                at.pop();
            }
        }
        _ => {}
    }
}

/// `…/{agent,grader,adapter}/command[/i]` and `…/agent/args/i`, never inside bindings.
fn is_command_token(s: &[String]) -> bool {
    if s.iter().any(|x| x == "bindings") {
        return false;
    }
    let field_at = match s.last() {
        Some(last) if last.parse::<usize>().is_ok() => s.len().checked_sub(2),
        Some(_) => s.len().checked_sub(1),
        None => None,
    };
    let Some(i) = field_at.filter(|i| *i >= 1) else {
        return false;
    };
    match (s[i - 1].as_str(), s[i].as_str()) {
        ("agent" | "grader" | "adapter", "command") => true,
        ("agent", "args") => i + 2 == s.len(),
        _ => false,
    }
}

/// Why `token` cannot be expanded as written, if it cannot.
fn problem(token: &str) -> Option<String> {
    let mut rest = token;
    while let Some(at) = rest.find("${AGENTLAB_") {
        let after = &rest[at + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        if !after[name_len..].starts_with('}') {
            return Some(format!(
                "`${{{name}` has no closing `}}`: write ${{{name}}} (in `{}`)",
                token.escape_debug()
            ));
        }
        let known = CONTRACT_VARS.contains(&name)
            || name
                .strip_prefix(SECRET_FILE_PREFIX)
                .is_some_and(|id| !id.is_empty());
        if !known {
            return Some(format!(
                "${{{name}}} is not a contract variable, so labj would pass it to the program as written; the known variables are {}, {SECRET_FILE_PREFIX}<ID>",
                CONTRACT_VARS.join(", ")
            ));
        }
        rest = &after[name_len + 1..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contract_variables_pass() {
        assert_eq!(problem("--task=${AGENTLAB_TASK_PATH}"), None);
        assert_eq!(
            problem("${AGENTLAB_WORKSPACE_DIR}/a ${AGENTLAB_ATTEMPT}"),
            None
        );
        assert_eq!(problem("${AGENTLAB_SECRET_FILE_API_KEY}"), None);
        assert_eq!(
            problem("$AGENTLAB_NOPE ${HOME}"),
            None,
            "not a ${{AGENTLAB_…}} form"
        );
        let e = problem("x ${AGENTLAB_NOPE} y").unwrap();
        assert!(
            e.starts_with("${AGENTLAB_NOPE} is not a contract variable"),
            "{e}"
        );
        assert!(e.contains("AGENTLAB_TASK_PATH"), "{e}");
        let e = problem("${AGENTLAB_TASK_PATH").unwrap();
        assert!(e.contains("no closing"), "{e}");
        assert!(problem("${AGENTLAB_SECRET_FILE_}").is_some());
    }

    #[test]
    fn command_fields_are_recognised() {
        let seg = |p: &str| p.split('/').map(String::from).collect::<Vec<_>>();
        for p in [
            "runtime/agent/command/0",
            "runtime/agent/command",
            "variant_plan/1/runtime/agent/command/2",
            "benchmark/grader/command/0",
            "benchmark/adapter/command/1",
            "runtime/agent/args/0",
        ] {
            assert!(is_command_token(&seg(p)), "{p}");
        }
        for p in [
            "baseline/bindings/agent/command",
            "runtime/agent/env/command",
            "runtime/agent/image",
            "command",
        ] {
            assert!(!is_command_token(&seg(p)), "{p}");
        }
    }
}
