//! Which contract a trial follows: labj's own, or one of the original runner's
//! formats (it decides in-container paths and how a result is read).

use serde::{Deserialize, Serialize};

/// The format an experiment file was written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// A resolved experiment (`version` 0.3, 0.4 or 0.5): read as written.
    #[default]
    Resolved,
    /// The original's version 1.0 clean-harness experiment, run in containers.
    CleanHarnessV1,
    /// The original's current format (`runtime.agent_runtime`, top-level `policy`,
    /// `task_row_v1` rows), run in containers.
    Current,
}

impl SourceFormat {
    /// How `describe` names the format.
    pub(crate) fn label(&self) -> Option<&'static str> {
        match self {
            SourceFormat::Resolved => None,
            SourceFormat::CleanHarnessV1 => Some(
                "the original runner's version 1.0 (clean harness): runs in containers, \
                 command + variant args + /in/task.json /out/result.json",
            ),
            SourceFormat::Current => Some(
                "the original runner's current format (runtime.agent_runtime, policy, \
                 task_row_v1): runs in containers, $NAME from bindings, then --env/--env-file, \
                 then labj's environment",
            ),
        }
    }
}
