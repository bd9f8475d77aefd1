//! `verify`'s cross-check of every journaled verdict against the documents it came from.
//!
//! A `trial_completed` event says how the trial ended (`classification`, `outcome`); its
//! artifacts hold, by digest, the agent's `result.json` and the grader's `grade.json` of
//! the last attempt. The hash chain proves the event was not edited after it was written,
//! and the blob check proves the documents are the ones referenced; neither proves that
//! the verdict is the one the documents give (a completion rewritten on the wire before
//! it was journaled passes both). This check does: the outcome must be the grade's when
//! there is a grade, else the agent's result's.

use journal::event::{Classification, TrialCompleted};
use std::path::Path;

/// What one completion claims and where its documents are.
pub(crate) struct Claim {
    idx: u64,
    trial_id: String,
    outcome: Option<String>,
    classification: Classification,
    grade: Option<String>,
    result: Option<String>,
}

/// The claim of `tc` (event `idx`), when it is a verdict (success or failure) with a
/// document to check it against.
pub(crate) fn claim(idx: u64, tc: &TrialCompleted) -> Option<Claim> {
    if !matches!(
        tc.classification,
        Classification::Success | Classification::Failure
    ) {
        return None;
    }
    let n = tc.attempts.iter().map(|a| a.attempt).max()?;
    let digest_of = |name: String| {
        tc.artifacts
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.digest.clone())
    };
    let grade = digest_of(format!("attempt_{n}/grader/grade.json"));
    let result = digest_of(format!("attempt_{n}/result.json"));
    (grade.is_some() || result.is_some()).then(|| Claim {
        idx,
        trial_id: tc.trial_id.clone(),
        outcome: tc.outcome.clone(),
        classification: tc.classification,
        grade,
        result,
    })
}

/// The `outcome` of the stored JSON document `digest` (None when absent or unreadable:
/// the blob check reports missing and damaged blobs).
fn stored_outcome(blobs: &Path, digest: &str) -> Option<String> {
    if !exec::executor::blobs::is_blob_digest(digest) {
        return None;
    }
    let path = blobs.join(&digest[..2]).join(digest);
    let bytes = model::safe_fs::read_regular(&path, 1024 * 1024).ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    doc.get("outcome")?.as_str().map(str::to_string)
}

/// One fault line per completion whose verdict its documents contradict.
pub(crate) fn faults(blobs: &Path, claims: &[Claim]) -> Vec<String> {
    let mut out = Vec::new();
    for c in claims {
        let (source, expected) = match (&c.grade, &c.result) {
            (Some(g), _) => ("grade.json", stored_outcome(blobs, g)),
            // Without a grade the verdict is the agent's own, in its vocabulary; a
            // benchmark adapter's verdict (pass, fail, missing) comes from its scores.
            (None, Some(r)) if matches!(c.outcome.as_deref(), Some("success" | "failure")) => {
                ("result.json", stored_outcome(blobs, r))
            }
            _ => continue,
        };
        let Some(expected) = expected else { continue };
        let claimed_success = c.classification == Classification::Success;
        if c.outcome.as_deref() != Some(expected.as_str())
            || claimed_success != (expected == "success")
        {
            out.push(format!(
                "event {} (trial {}): journaled verdict {} (outcome {}) but its stored {source} says outcome {expected:?}",
                c.idx,
                c.trial_id,
                c.classification.as_str(),
                c.outcome.as_deref().map_or("none".to_string(), |o| format!("{o:?}")),
            ));
        }
    }
    out
}
