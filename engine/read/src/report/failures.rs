//! Why trials did not succeed: committed trials grouped by classification, the largest
//! groups first, each with one example (exit code or signal, the message the executor
//! journaled, the last lines of the agent's stderr).

use super::facts::{committed_trial, RunFacts, TrialRow};
use super::logs::{self, Stream};
use journal::event::Classification;
use journal::{Journal, JournalError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// How many stderr lines an example shows.
pub(crate) const STDERR_TAIL_LINES: usize = 3;

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

/// One class of unsuccessful committed trials: how many, and the first one as an example.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureClass {
    /// The classification (`timeout`, `agent_exit_nonzero`, …).
    pub classification: String,
    /// What splits a classification further: `exit code 3`, `signal 9` for an agent that
    /// exited non-zero (different exits are different failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An infrastructure fault: never scored, shown apart from the agent's failures.
    pub infra: bool,
    /// Committed trials in the class.
    pub count: u64,
    /// The first trial of the class in schedule order.
    pub example: FailureExample,
}

/// Every class of committed, non-successful trial (skipped slots aside), largest first
/// (ties by name). Examples are the first trial of each class in schedule order.
pub fn failure_classes(run_dir: &Path, facts: &RunFacts) -> Vec<FailureClass> {
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
    sorted(
        groups
            .into_iter()
            .map(|(key, (count, row))| class_of(run_dir, key, count, row))
            .collect(),
    )
}

/// The same classes as [`failure_classes`], read from what is materialized instead of
/// a fold: the committed slots before `committed_before` (the fold's `next_commit_idx`)
/// grouped by the journal's fact tables, and the example trials read by slot. Reads the
/// unsuccessful rows and one completion per class, whatever the journal's length.
pub fn failure_classes_materialized(
    run_dir: &Path,
    journal: &Journal,
    committed_before: u64,
) -> Result<Vec<FailureClass>, JournalError> {
    let mut groups: BTreeMap<Key, (u64, u64)> = BTreeMap::new();
    for g in journal.unsuccessful_groups(committed_before)? {
        let reason = (g.classification == Classification::AgentExitNonzero)
            .then(|| reason_of(g.exit_code, g.detail.as_deref()))
            .flatten();
        let e = groups
            .entry((g.classification.as_str(), reason))
            .or_insert((0, g.first_schedule_idx));
        e.0 += g.count;
        e.1 = e.1.min(g.first_schedule_idx);
    }
    let mut out = Vec::with_capacity(groups.len());
    for (key, (count, first)) in groups {
        let row = committed_trial(journal, first)?.ok_or_else(|| JournalError::Damaged {
            path: journal.path().to_path_buf(),
            reason: format!("slot {first} is in fact_trials but has no committed completion"),
        })?;
        out.push(class_of(run_dir, key, count, &row));
    }
    Ok(sorted(out))
}

/// (classification, reason): what one failure class is.
type Key = (&'static str, Option<String>);

fn class_of(run_dir: &Path, (name, reason): Key, count: u64, row: &TrialRow) -> FailureClass {
    FailureClass {
        classification: name.to_string(),
        reason,
        infra: row.is_infra(),
        count,
        example: example(run_dir, row),
    }
}

/// Largest first, ties by name and reason.
fn sorted(mut out: Vec<FailureClass>) -> Vec<FailureClass> {
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
    reason_of(last.exit_code, last.detail.as_deref())
}

/// `exit code N`, else the `signal N` the detail names.
fn reason_of(exit_code: Option<i32>, detail: Option<&str>) -> Option<String> {
    if let Some(code) = exit_code {
        return Some(format!("exit code {code}"));
    }
    let sig = detail?.split("signal ").nth(1)?;
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
            .map(|bytes| logs::tail_lines(&bytes, STDERR_TAIL_LINES))
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
