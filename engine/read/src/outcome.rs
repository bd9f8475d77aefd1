//! The outcome words people filter and label trials by, declared once for `labj trials`
//! and the viewer: `succeeded`, `failed` (scored and not succeeded), `infra`, `skipped`
//! (pruned, never run) and `cancelled`, over the journal's classifications.

use journal::event::Classification;

/// The outcome words (besides any classification name) a filter accepts.
pub const OUTCOME_WORDS: [&str; 4] = ["succeeded", "failed", "infra", "skipped"];

/// Which committed slots a filter keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    /// The agent (or its grader) said `success`.
    Succeeded,
    /// Scored, and not a success.
    Failed,
    /// Committed with an infrastructure fault: never scored.
    Infra,
    /// Skipped by pruning: no classification.
    Skipped,
    /// Exactly this classification.
    Class(Classification),
}

impl OutcomeFilter {
    /// Parses an outcome word or a classification name (`skipped_pruned` is `skipped`);
    /// the error names every accepted value.
    pub fn parse(s: &str) -> Result<OutcomeFilter, String> {
        Ok(match s {
            "succeeded" => OutcomeFilter::Succeeded,
            "failed" => OutcomeFilter::Failed,
            "infra" => OutcomeFilter::Infra,
            "skipped" | "skipped_pruned" => OutcomeFilter::Skipped,
            other => match Classification::parse(other) {
                Some(c) => OutcomeFilter::Class(c),
                None => {
                    let classes: Vec<&str> =
                        Classification::ALL.iter().map(|c| c.as_str()).collect();
                    return Err(format!(
                        "outcome {other:?} is not an outcome: use one of {}, or a classification: {}",
                        OUTCOME_WORDS.join(", "),
                        classes.join(", ")
                    ));
                }
            },
        })
    }

    /// Whether a slot committed with this classification (`None`: skipped) passes.
    pub fn admits(self, class: Option<Classification>) -> bool {
        match (self, class) {
            (OutcomeFilter::Skipped, c) => c.is_none(),
            (_, None) => false,
            (OutcomeFilter::Succeeded, Some(c)) => c.is_success(),
            (OutcomeFilter::Failed, Some(c)) => c.is_verdict() && !c.is_success(),
            (OutcomeFilter::Infra, Some(c)) => c.is_infra(),
            (OutcomeFilter::Class(want), Some(c)) => c == want,
        }
    }
}

/// The outcome word of a committed slot: `skipped`, `infra`, `cancelled`, `succeeded`
/// or `failed`.
pub fn outcome_label(class: Option<Classification>) -> &'static str {
    match class {
        None => "skipped",
        Some(c) if c.is_infra() => "infra",
        Some(Classification::Cancelled) => "cancelled",
        Some(c) if c.is_success() => "succeeded",
        Some(_) => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every classification gets exactly one label, and the word filters partition the
    /// classifications the way the labels do (cancelled is neither failed nor infra).
    #[test]
    fn the_words_and_the_labels_agree() {
        let all: Vec<Option<Classification>> = std::iter::once(None)
            .chain(Classification::ALL.iter().copied().map(Some))
            .collect();
        for c in &all {
            let label = outcome_label(*c);
            for w in OUTCOME_WORDS {
                let f = OutcomeFilter::parse(w).unwrap();
                assert_eq!(f.admits(*c), label == w, "{w} vs {c:?} labelled {label}");
            }
            if let Some(k) = c {
                assert!(OutcomeFilter::parse(k.as_str()).unwrap().admits(*c));
            }
        }
        assert_eq!(
            OutcomeFilter::parse("skipped_pruned"),
            Ok(OutcomeFilter::Skipped)
        );
        let err = OutcomeFilter::parse("won").unwrap_err();
        assert!(
            err.contains("\"won\"") && err.contains("succeeded") && err.contains("worker_lost"),
            "{err}"
        );
    }
}
