//! The isolation each trial of an experiment gets (settings plus what preflight found).

use super::Experiment;
use crate::isolation::{IsolationMode, TrialIsolation};

impl Experiment {
    /// The isolation of the trial of `variant_idx` × `task_idx`. Before
    /// [`Experiment::set_enforcement`] a container or sandbox trial has no engine/bwrap
    /// and the executor refuses to run it (it never downgrades to a host process).
    pub fn trial_isolation(&self, variant_idx: usize, task_idx: usize) -> TrialIsolation {
        let p = &self.isolation;
        let enf = self.enforcement.as_ref();
        let clean = p.mode != IsolationMode::Local || p.env_from_host.is_some();
        TrialIsolation {
            mode: p.mode,
            network: p.network,
            root_read_only: p.root_read_only,
            resources: p.resources,
            run_as_user: p.run_as_user.clone(),
            no_new_privileges: p.no_new_privileges,
            drop_all_caps: p.drop_all_caps,
            env_from_host: clean.then(|| p.env_from_host.clone().unwrap_or_default()),
            image: match p.mode {
                IsolationMode::Container => self.image_for(variant_idx, task_idx),
                _ => None,
            },
            engine: enf.and_then(|e| e.engine.clone()),
            bwrap: enf.and_then(|e| e.bwrap.clone()),
            file_staging: p.file_staging.clone(),
            mounts: p
                .assets
                .iter()
                .chain(
                    enf.and_then(|e| e.task_mounts.get(task_idx))
                        .into_iter()
                        .flatten(),
                )
                .cloned()
                .collect(),
            contract: self.format,
            workdir: self.tasks()[task_idx]
                .row
                .as_ref()
                .map(|r| r.workdir.clone()),
        }
    }
}
