//! The documents labj writes for the agent: the four inputs (task, bindings,
//! dependencies, policy) with their exact bytes, and `trial_input_v1`, which names them
//! as the agent sees them (host paths, or `/agentlab/…` in a container).

use super::files::rewrite_json;
use super::{json_bytes, sandbox, Fault, Trial};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Serialize)]
pub(super) struct TrialInput<'a> {
    schema_version: &'static str,
    ids: InputIds<'a>,
    task: &'a serde_json::Value,
    bindings: &'a serde_json::Value,
    dependencies: &'a serde_json::Value,
    policy: &'a serde_json::Value,
    timeout_ms: u64,
    paths: InputPaths<'a>,
}

#[derive(Serialize)]
pub(super) struct InputIds<'a> {
    run_id: &'a str,
    trial_id: &'a str,
    variant_id: &'a str,
    task_id: &'a str,
    repl_idx: u32,
    schedule_idx: u64,
    attempt: u32,
}

#[derive(Serialize)]
pub(super) struct InputPaths<'a> {
    pub(super) trial_dir: &'a Path,
    pub(super) workspace_dir: &'a Path,
    pub(super) deps_dir: &'a Path,
    pub(super) task: &'a Path,
    pub(super) bindings: &'a Path,
    pub(super) dependencies: &'a Path,
    pub(super) policy: &'a Path,
    pub(super) result: &'a Path,
    pub(super) trajectory: &'a Path,
}

impl Trial<'_> {
    /// The inputs labj writes for the agent, with their exact bytes, so a change made by
    /// the agent can be recognised (and undone before a retry).
    pub(super) fn input_files(&self) -> Result<Vec<(PathBuf, Vec<u8>)>, Fault> {
        let s = self.spec;
        let p = &self.paths;
        [
            (&p.task, &s.task),
            (&p.bindings, &s.bindings),
            (&p.dependencies, &s.dependencies),
            (&p.policy, &s.policy),
        ]
        .into_iter()
        .map(|(path, value)| Ok((path.clone(), json_bytes(path, value)?)))
        .collect()
    }

    pub(super) fn write_trial_input(&self, n: u32, attempt_dir: &Path) -> Result<(), Fault> {
        let view = sandbox::AgentView::host(&self.paths, attempt_dir);
        self.write_trial_input_as(n, &view, &self.paths.trial_input)
    }

    /// trial_input_v1 with the paths as the agent sees them (`view`), written to `dest`.
    pub(super) fn write_trial_input_as(
        &self,
        n: u32,
        view: &sandbox::AgentView,
        dest: &Path,
    ) -> Result<(), Fault> {
        let paths = InputPaths {
            trial_dir: &view.trial_dir,
            workspace_dir: &view.workspace,
            deps_dir: &view.deps,
            task: &view.task,
            bindings: &view.bindings,
            dependencies: &view.dependencies,
            policy: &view.policy,
            result: &view.result,
            trajectory: &view.trajectory,
        };
        // Rewritten in place: the file is labj's alone (no other name of it), so no inode
        // is freed and allocated per trial in a retired directory.
        rewrite_json(dest, &self.trial_input(n, paths))
    }

    /// The trial_input_v1 document of attempt `n` naming `paths`.
    pub(super) fn trial_input<'b>(&'b self, n: u32, paths: InputPaths<'b>) -> TrialInput<'b> {
        let s = self.spec;
        TrialInput {
            schema_version: "trial_input_v1",
            ids: InputIds {
                run_id: &s.run_id,
                trial_id: &s.trial_id,
                variant_id: &s.variant_id,
                task_id: &s.task_id,
                repl_idx: s.repl_idx,
                schedule_idx: s.schedule_idx,
                attempt: n,
            },
            task: &s.task,
            bindings: &s.bindings,
            dependencies: &s.dependencies,
            policy: &s.policy,
            timeout_ms: s.agent.timeout_ms,
            paths,
        }
    }
}
