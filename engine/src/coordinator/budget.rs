//! Budget caps inside the coordinator: `budget_reached` when a cap is reached, and the
//! session's end when caps hold back everything left (`crate::budget` computes spend).

use super::*;

impl Coordinator<'_> {
    /// Journal `budget_reached` for each cap the spend reached since the last look (the
    /// events of this iteration are appended first, so the spend includes every
    /// completion received).
    pub(super) fn check_budget(&mut self) -> Result<(), CoordinatorError> {
        let Some(limits) = self.opts.budget.clone() else {
            return Ok(());
        };
        self.flush()?;
        let run = self.proj.run.as_ref().expect("run");
        let spend = crate::budget::spend(&self.proj);
        for r in crate::budget::reached(&limits, &spend, &run.variant_ids) {
            let newly = match &r.variant_id {
                None => !std::mem::replace(&mut self.budget_run_stopped, true),
                Some(v) => match run.variant_ids.iter().position(|x| x == v) {
                    Some(i) => !std::mem::replace(&mut self.budget_variant_stopped[i], true),
                    None => false,
                },
            };
            if newly {
                let msg = crate::budget::describe(&r);
                self.opts.observer.notice(&self.run_id, &msg);
                self.pending.push(Event::BudgetReached(r));
            }
        }
        Ok(())
    }

    pub(super) fn budget_stopped_any(&self) -> bool {
        self.budget_run_stopped || self.budget_variant_stopped.iter().any(|b| *b)
    }

    /// End the session at a budget cap: `run_interrupted` naming it (so `status` says
    /// why and `continue` resumes once the cap is raised).
    pub(super) fn stop_at_budget(&mut self) -> Result<SessionEnd, CoordinatorError> {
        self.drain_commits();
        let run = self.proj.run.as_ref().expect("run");
        let scopes: Vec<String> = if self.budget_run_stopped {
            vec!["the run".into()]
        } else {
            run.variant_ids
                .iter()
                .zip(&self.budget_variant_stopped)
                .filter(|(_, s)| **s)
                .map(|(v, _)| format!("variant {v}"))
                .collect()
        };
        self.pending.push(Event::RunInterrupted(RunInterrupted {
            reason: format!(
                "budget reached for {}: {} of {} slots committed; raise it with `labj continue --budget ...`",
                scopes.join(", "),
                self.committer.next_commit_idx(),
                self.committer.total()
            ),
            survivors: Vec::new(),
        }));
        self.flush()?;
        self.progress_line_force();
        Ok(SessionEnd::BudgetReached)
    }
}
