//! Errors of loading and checking an experiment. Every variant names the file and where
//! in it (JSON pointer or line), so the message alone tells the user what to fix.

use crate::schemas::Violation;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("{}: cannot read: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: not valid {format}: {message}", .path.display())]
    Syntax {
        path: PathBuf,
        format: &'static str,
        message: String,
    },

    /// A problem with the file as a whole (version, extension, empty dataset).
    #[error("{}: {message}", .path.display())]
    File { path: PathBuf, message: String },

    /// The document broke its JSON Schema; each violation has a pointer and a rule.
    #[error("{}: does not match schema `{schema}`:\n{}", .path.display(), render_violations(.violations))]
    Schema {
        path: PathBuf,
        schema: String,
        violations: Vec<Violation>,
    },

    /// A semantic rule the schema cannot express, at a JSON pointer of the document.
    #[error("{}: at {pointer}: {message}", .path.display())]
    Invalid {
        path: PathBuf,
        pointer: String,
        message: String,
    },

    /// A key labj does not know (or refuses) inside a section it interprets; `line` is
    /// the key's line in the file when it could be found.
    #[error("{}{}: at {pointer}: {message}", .path.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Field {
        path: PathBuf,
        pointer: String,
        line: Option<usize>,
        message: String,
    },

    /// A dataset row problem, at `file:line`.
    #[error("{}:{line}: {message}", .path.display())]
    DatasetRow {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// A dataset row that broke `task_boundary_v1`.
    #[error("{}:{line}: row does not match schema `task_boundary_v1`:\n{}", .path.display(), render_violations(.violations))]
    DatasetRowSchema {
        path: PathBuf,
        line: usize,
        violations: Vec<Violation>,
    },

    /// The release gate: the experiment is valid but labj cannot run it yet.
    #[error("{}: not runnable: {message}", .path.display())]
    NotRunnable { path: PathBuf, message: String },
}

fn render_violations(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("  - {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ExperimentError {
    pub fn invalid(
        path: impl Into<PathBuf>,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ExperimentError::Invalid {
            path: path.into(),
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl ExperimentError {
    /// The same error with its pointers naming the fields of the file as written in
    /// `format` (see `SourceFormat::source_pointer` (experiment::formats)).
    pub fn in_source(self, format: crate::contract::SourceFormat) -> ExperimentError {
        match self {
            ExperimentError::Invalid {
                path,
                pointer,
                message,
            } => ExperimentError::Invalid {
                path,
                pointer: format.source_pointer(&pointer),
                message,
            },
            ExperimentError::Field {
                path,
                pointer,
                line,
                message,
            } => ExperimentError::Field {
                path,
                pointer: format.source_pointer(&pointer),
                line,
                message,
            },
            ExperimentError::Schema {
                path,
                schema,
                mut violations,
            } => {
                for v in &mut violations {
                    v.pointer = format.source_pointer(&v.pointer);
                }
                ExperimentError::Schema {
                    path,
                    schema,
                    violations,
                }
            }
            other => other,
        }
    }
}
