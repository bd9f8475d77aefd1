//! A trial's outcome and the event that commits it.
//!
//! [`TrialOutcome`] is what a worker reports for one trial (the executor builds it, the
//! remote protocol and Slurm result files carry it); [`TrialCompleted`] is that outcome
//! plus the delivery header (slot, ticket, worker, sequence number). One type per
//! concept: the event embeds the outcome instead of re-declaring its fields, and reads
//! through it by `Deref` (`completed.metrics`).
//!
//! On the wire the event stays flat (`{"schedule_idx":…,"classification":…,…}`, the
//! bytes every journal has always held). `#[serde(flatten)]` would give that form for
//! free but decodes through a buffered map: 1.8–2.7× slower on the most frequent event
//! of the fold. The codec below is the flat form written out once, as two private
//! structs (one borrowing for encoding, one owning for decoding) whose fields move into
//! and out of the public types.

use super::{
    ArtifactRef, AttemptRecord, ChainStateRef, Classification, EvidenceRef, IsolationRecord,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

/// What a worker reports for one trial, all attempts included: the part of
/// `trial_completed` that the trial itself produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialOutcome {
    /// The trial's verdict or the infrastructure failure that ended it.
    pub classification: Classification,
    /// The label the result file gave (`outcome`), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Numeric metrics, finite values only once committed.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Metric values that are not numbers (strings, booleans, null), as the agent or
    /// adapter wrote them; numbers are in `metrics`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other_metrics: BTreeMap<String, serde_json::Value>,
    /// Every attempt inside this dispatch, in order.
    #[serde(default)]
    pub attempts: Vec<AttemptRecord>,
    /// Wall time of the whole trial envelope, milliseconds.
    pub duration_ms: u64,
    /// Evidence files the trial produced (diffs, grader reports…).
    #[serde(default)]
    pub evidence: Vec<EvidenceRef>,
    /// Content-addressed artifacts (logs, result file, outputs) in the run's blob store.
    #[serde(default)]
    pub artifacts: Vec<ArtifactRef>,
    /// The chain state this trial left, for tasks that chain state between trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_state: Option<ChainStateRef>,
    /// Why the trial failed, in words, when it did not produce a verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What isolation was enforced for this trial (mode, engine, image digest, limits,
    /// names of passed host variables). Absent for plain local trials of older journals.
    /// Boxed: it is the largest part of the largest event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Box<IsolationRecord>>,
}

impl TrialOutcome {
    /// An outcome produced by infrastructure, not by an agent (a lost worker or job, a
    /// refused spawn): no attempts, no metrics, only the classification and why.
    pub fn infra(classification: Classification, error: impl Into<String>) -> Self {
        TrialOutcome {
            classification,
            outcome: None,
            metrics: BTreeMap::new(),
            other_metrics: BTreeMap::new(),
            attempts: Vec::new(),
            duration_ms: 0,
            evidence: Vec::new(),
            artifacts: Vec::new(),
            chain_state: None,
            error: Some(error.into()),
            isolation: None,
        }
    }
}

/// `trial_completed`: one delivery of a trial's outcome, accepted by the committer.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialCompleted {
    /// The slot's position in the schedule.
    pub schedule_idx: u64,
    /// The trial's id (`trial_<idx>` of its slot).
    pub trial_id: String,
    /// The dispatch ticket this delivery answers.
    pub ticket_id: String,
    /// The worker that ran it.
    pub worker_id: String,
    /// Per-ticket delivery sequence number; (run, schedule_idx, trial_id, seq) dedupes.
    pub completion_seq: u64,
    /// What the trial produced.
    pub result: TrialOutcome,
}

impl Deref for TrialCompleted {
    type Target = TrialOutcome;
    fn deref(&self) -> &TrialOutcome {
        &self.result
    }
}

impl DerefMut for TrialCompleted {
    fn deref_mut(&mut self) -> &mut TrialOutcome {
        &mut self.result
    }
}

/// The flat wire form, borrowed: what `trial_completed`'s payload is encoded from.
#[derive(Serialize)]
struct FlatRef<'a> {
    schedule_idx: u64,
    trial_id: &'a str,
    ticket_id: &'a str,
    worker_id: &'a str,
    completion_seq: u64,
    classification: Classification,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: &'a Option<String>,
    metrics: &'a BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    other_metrics: &'a BTreeMap<String, serde_json::Value>,
    attempts: &'a [AttemptRecord],
    duration_ms: u64,
    evidence: &'a [EvidenceRef],
    artifacts: &'a [ArtifactRef],
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_state: &'a Option<ChainStateRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    isolation: &'a Option<Box<IsolationRecord>>,
}

/// The flat wire form, owned: what `trial_completed`'s payload decodes into.
#[derive(Deserialize)]
struct Flat {
    schedule_idx: u64,
    trial_id: String,
    ticket_id: String,
    worker_id: String,
    completion_seq: u64,
    classification: Classification,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    metrics: BTreeMap<String, f64>,
    #[serde(default)]
    other_metrics: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    attempts: Vec<AttemptRecord>,
    duration_ms: u64,
    #[serde(default)]
    evidence: Vec<EvidenceRef>,
    #[serde(default)]
    artifacts: Vec<ArtifactRef>,
    #[serde(default)]
    chain_state: Option<ChainStateRef>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    isolation: Option<Box<IsolationRecord>>,
}

impl Serialize for TrialCompleted {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = &self.result;
        FlatRef {
            schedule_idx: self.schedule_idx,
            trial_id: &self.trial_id,
            ticket_id: &self.ticket_id,
            worker_id: &self.worker_id,
            completion_seq: self.completion_seq,
            classification: r.classification,
            outcome: &r.outcome,
            metrics: &r.metrics,
            other_metrics: &r.other_metrics,
            attempts: &r.attempts,
            duration_ms: r.duration_ms,
            evidence: &r.evidence,
            artifacts: &r.artifacts,
            chain_state: &r.chain_state,
            error: &r.error,
            isolation: &r.isolation,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for TrialCompleted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = Flat::deserialize(d)?;
        Ok(TrialCompleted {
            schedule_idx: f.schedule_idx,
            trial_id: f.trial_id,
            ticket_id: f.ticket_id,
            worker_id: f.worker_id,
            completion_seq: f.completion_seq,
            result: TrialOutcome {
                classification: f.classification,
                outcome: f.outcome,
                metrics: f.metrics,
                other_metrics: f.other_metrics,
                attempts: f.attempts,
                duration_ms: f.duration_ms,
                evidence: f.evidence,
                artifacts: f.artifacts,
                chain_state: f.chain_state,
                error: f.error,
                isolation: f.isolation,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> TrialCompleted {
        TrialCompleted {
            schedule_idx: 7,
            trial_id: "trial_000007".into(),
            ticket_id: "tk7".into(),
            worker_id: "w1".into(),
            completion_seq: 2,
            result: TrialOutcome {
                classification: Classification::Success,
                outcome: Some("pass".into()),
                metrics: BTreeMap::from([("score".to_string(), 0.5)]),
                other_metrics: BTreeMap::from([("note".to_string(), serde_json::json!("x"))]),
                attempts: vec![AttemptRecord {
                    attempt: 1,
                    classification: Classification::Success,
                    exit_code: Some(0),
                    duration_ms: 3,
                    detail: None,
                    leaked_processes: Some(0),
                }],
                duration_ms: 4,
                evidence: vec![EvidenceRef {
                    class: "workspace_diff".into(),
                    path: "trials/trial_000007/workspace_diff.json".into(),
                    digest: "d".into(),
                    bytes: 2,
                }],
                artifacts: vec![ArtifactRef {
                    name: "stdout".into(),
                    digest: "e".into(),
                    bytes: 1,
                    written_bytes: None,
                }],
                chain_state: Some(ChainStateRef {
                    chain_id: "c".into(),
                    state_digest: "s".into(),
                }),
                error: Some("why".into()),
                isolation: Some(Box::new(IsolationRecord {
                    mode: "local".into(),
                    ..Default::default()
                })),
            },
        }
    }

    /// The payload every journal holds: flat, in this field order. A change here breaks
    /// the hash chain of nothing (hashes cover stored bytes) but would change what new
    /// journals hold, so it is pinned byte for byte.
    #[test]
    fn the_wire_form_is_the_flat_payload_byte_for_byte() {
        let json = serde_json::to_string(&full()).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"schedule_idx":7,"trial_id":"trial_000007","ticket_id":"tk7","worker_id":"w1","completion_seq":2,"#,
                r#""classification":"success","outcome":"pass","metrics":{"score":0.5},"other_metrics":{"note":"x"},"#,
                r#""attempts":[{"attempt":1,"classification":"success","exit_code":0,"duration_ms":3,"leaked_processes":0}],"#,
                r#""duration_ms":4,"evidence":[{"class":"workspace_diff","path":"trials/trial_000007/workspace_diff.json","digest":"d","bytes":2}],"#,
                r#""artifacts":[{"name":"stdout","digest":"e","bytes":1}],"chain_state":{"chain_id":"c","state_digest":"s"},"#,
                r#""error":"why","isolation":{"mode":"local","network":""}}"#
            )
        );
        let back: TrialCompleted = serde_json::from_str(&json).unwrap();
        assert_eq!(back, full());
        // The outcome alone (what workers send) is the same fields without the header.
        let outcome = serde_json::to_value(&full().result).unwrap();
        let mut event = serde_json::to_value(full()).unwrap();
        let event = event.as_object_mut().unwrap();
        for k in [
            "schedule_idx",
            "trial_id",
            "ticket_id",
            "worker_id",
            "completion_seq",
        ] {
            event.remove(k);
        }
        assert_eq!(serde_json::Value::Object(event.clone()), outcome);
    }

    #[test]
    fn an_old_minimal_payload_decodes_with_defaults_and_unknown_keys_are_ignored() {
        let old = r#"{"schedule_idx":0,"trial_id":"t","ticket_id":"k","worker_id":"w","completion_seq":1,"classification":"worker_lost","duration_ms":0,"later_field":true}"#;
        let c: TrialCompleted = serde_json::from_str(old).unwrap();
        assert_eq!(c.classification, Classification::WorkerLost);
        assert!(c.metrics.is_empty() && c.attempts.is_empty() && c.isolation.is_none());
        let missing = r#"{"schedule_idx":0,"trial_id":"t","ticket_id":"k","worker_id":"w","completion_seq":1,"duration_ms":0}"#;
        let err = serde_json::from_str::<TrialCompleted>(missing).unwrap_err();
        assert!(err.to_string().contains("classification"), "{err}");
    }
}
