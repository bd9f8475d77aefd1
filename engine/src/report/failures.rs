//! Why trials did not succeed: committed trials grouped by classification, the largest
//! groups first, each with one example (exit code or signal, the message the executor
//! journaled, the last lines of the agent's stderr).

use super::facts::{RunFacts, TrialRow};
use super::logs::{self, Stream};
use journal::event::Classification;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// How many stderr lines an example shows.
pub const STDERR_TAIL_LINES: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureExample {
    pub trial_id: String,
    pub variant_id: String,
    pub task_id: String,
    pub repl_idx: u32,
    /// The attempt shown (the last one), 1-based; 0 when none ran.
    pub attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// What the executor journaled: "agent exited with code 3", "agent was killed by
    /// signal 9", the schema violation of a bad result, the lost worker's reason…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Last lines of the attempt's stderr (empty when it wrote none).
    pub stderr_tail: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureClass {
    pub classification: String,
    /// What splits a classification further: `exit code 3`, `signal 9` for an agent that
    /// exited non-zero (different exits are different failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An infrastructure fault: never scored, shown apart from the agent's failures.
    pub infra: bool,
    pub count: u64,
    pub example: FailureExample,
}

/// Every class of committed, non-successful trial (skipped slots aside), largest first
/// (ties by name). Examples are the first trial of each class in schedule order.
pub fn failure_classes(run_dir: &Path, facts: &RunFacts) -> Vec<FailureClass> {
    type Key = (&'static str, Option<String>);
    let mut groups: BTreeMap<Key, (u64, &TrialRow)> = BTreeMap::new();
    for row in &facts.trials {
        let Some(c) = row.classification else {
            continue;
        };
        if c.is_success() {
            continue;
        }
        let reason = (c == Classification::AgentExitNonzero)
            .then(|| exit_reason(row))
            .flatten();
        groups.entry((c.as_str(), reason)).or_insert((0, row)).0 += 1;
    }
    let mut out: Vec<FailureClass> = groups
        .into_iter()
        .map(|((name, reason), (count, row))| FailureClass {
            classification: name.to_string(),
            reason,
            infra: row.is_infra(),
            count,
            example: example(run_dir, row),
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.classification.cmp(&b.classification))
            .then_with(|| a.reason.cmp(&b.reason))
    });
    out
}

/// `exit code N` or `signal N` of the trial's last attempt.
fn exit_reason(row: &TrialRow) -> Option<String> {
    let last = row.attempts.last()?;
    if let Some(code) = last.exit_code {
        return Some(format!("exit code {code}"));
    }
    let d = last.detail.as_deref()?;
    let sig = d.split("signal ").nth(1)?;
    let n: String = sig.chars().take_while(|c| c.is_ascii_digit()).collect();
    (!n.is_empty()).then(|| format!("signal {n}"))
}

/// One line, and paths inside the run directory relative to it.
fn tidy(detail: &str, run_dir: &Path) -> String {
    let mut d = detail.split_whitespace().collect::<Vec<_>>().join(" ");
    let abs = std::fs::canonicalize(run_dir).unwrap_or_else(|_| run_dir.to_path_buf());
    for prefix in [abs.as_path(), run_dir] {
        let p = format!("{}/", prefix.display());
        if p.len() > 1 {
            d = d.replace(&p, "");
        }
    }
    d
}

fn example(run_dir: &Path, row: &TrialRow) -> FailureExample {
    let last = row.attempts.last();
    let attempt = row.attempts.len() as u32;
    let detail = last
        .and_then(|a| a.detail.clone())
        .or_else(|| row.error.clone())
        .map(|d| tidy(&d, run_dir))
        .or_else(|| {
            row.outcome
                .as_ref()
                .map(|o| format!("graded outcome `{o}`"))
        });
    let stderr_tail = if attempt > 0 {
        logs::read(run_dir, row, attempt, Stream::Stderr)
            .map(|l| logs::tail_lines(&l.bytes, STDERR_TAIL_LINES))
            .unwrap_or_else(|e| vec![format!("(stderr unavailable: {e})")])
    } else {
        Vec::new()
    };
    FailureExample {
        trial_id: row.trial_id.clone(),
        variant_id: row.variant_id.clone(),
        task_id: row.task_id.clone(),
        repl_idx: row.repl_idx,
        attempt,
        exit_code: last.and_then(|a| a.exit_code),
        detail,
        stderr_tail,
    }
}
