//! Exit-code policy: what a finished session, a verify or a control request means for
//! the process exit status. The CLI only renders; the decisions live here so tests and
//! other front ends reach them.

use engine::coordinator::SessionEnd;
use engine::run::RunOutcome;

/// Exit codes of `labj run` / `labj continue`.
pub(crate) const EXIT_OK: u8 = 0;
pub(crate) const EXIT_FAILED: u8 = 1;
pub(crate) const EXIT_INFRA: u8 = 3;
pub(crate) const EXIT_KILLED: u8 = 4;
/// A budget cap stopped the run (`design.policies.budget`); `continue --budget` resumes.
pub(crate) const EXIT_BUDGET: u8 = 5;

/// How a session ended, with the figures the summary shows.
#[derive(Debug, Clone, PartialEq)]
pub struct RunVerdict {
    /// `completed`, `failed` or `killed`.
    pub status: &'static str,
    /// Slots committed with an infrastructure fault.
    pub infra: u64,
    /// `infra` as a share of the slots that ran (pruned skips excluded).
    pub infra_pct: f64,
    /// The exit code `labj run` / `labj continue` ends with (see [`run_verdict`]).
    pub exit_code: u8,
    /// Why a completed run still exits non-zero.
    pub warning: Option<String>,
}

/// The verdict of a session: failed → 1, killed → 4, stopped at a budget cap → 5,
/// completed with a share of infrastructure faults above `infra_threshold_pct` → 3,
/// else 0.
pub fn run_verdict(outcome: &RunOutcome, infra_threshold_pct: f64) -> RunVerdict {
    let overall = &outcome.projections.aggregates.overall;
    let infra = overall.infra;
    let ran = overall.committed - overall.skipped_pruned;
    let infra_pct = if ran == 0 {
        0.0
    } else {
        100.0 * infra as f64 / ran as f64
    };
    let (status, exit_code, warning) = match outcome.end {
        SessionEnd::Failed => ("failed", EXIT_FAILED, None),
        SessionEnd::Killed => ("killed", EXIT_KILLED, None),
        SessionEnd::BudgetReached => ("budget_reached", EXIT_BUDGET, None),
        SessionEnd::Completed if infra > 0 && infra_pct > infra_threshold_pct => (
            "completed",
            EXIT_INFRA,
            Some(format!(
                "{infra} trial(s) ({infra_pct:.1}%) died of infrastructure faults, above --fail-on-infra-error {infra_threshold_pct}%"
            )),
        ),
        SessionEnd::Completed => ("completed", EXIT_OK, None),
    };
    RunVerdict {
        status,
        infra,
        infra_pct,
        exit_code,
        warning,
    }
}

/// `--fail-on-infra-error`: a percentage such as `5%` or `2.5`, between 0 and 100.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim().trim_end_matches('%');
    let v: f64 = t
        .parse()
        .map_err(|_| format!("--fail-on-infra-error {s:?}: expected a percentage such as 5%"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!(
            "--fail-on-infra-error {s:?}: must be between 0% and 100%"
        ));
    }
    Ok(v)
}

/// `labj verify`: 0 when the journal is intact, 1 otherwise.
pub fn verify_exit(report: &crate::inspect::VerifyReport) -> u8 {
    if report.ok() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use journal::Projections;

    fn outcome(end: SessionEnd, committed: u64, infra: u64) -> RunOutcome {
        let mut projections = Projections::new();
        projections.aggregates.overall.committed = committed;
        projections.aggregates.overall.infra = infra;
        RunOutcome {
            run_id: "r".into(),
            run_dir: "/r".into(),
            end,
            projections,
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(
            run_verdict(&outcome(SessionEnd::Completed, 10, 0), 0.0).exit_code,
            0
        );
        assert_eq!(
            run_verdict(&outcome(SessionEnd::Failed, 10, 0), 0.0).exit_code,
            1
        );
        assert_eq!(
            run_verdict(&outcome(SessionEnd::Killed, 10, 0), 0.0).exit_code,
            4
        );
        assert_eq!(
            run_verdict(&outcome(SessionEnd::BudgetReached, 10, 0), 0.0).exit_code,
            5
        );
        let v = run_verdict(&outcome(SessionEnd::Completed, 10, 1), 5.0);
        assert_eq!((v.exit_code, v.infra_pct), (3, 10.0));
        assert!(v
            .warning
            .unwrap()
            .contains("above --fail-on-infra-error 5%"));
        assert_eq!(
            run_verdict(&outcome(SessionEnd::Completed, 10, 1), 10.0).exit_code,
            0
        );
        assert_eq!(parse_percent("5%"), Ok(5.0));
        assert!(parse_percent("101").is_err());
        assert!(parse_percent("x").is_err());
    }
}
