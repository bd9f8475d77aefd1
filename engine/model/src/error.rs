//! Errors of loading and checking an experiment. Every variant names the file and where
//! in it (JSON pointer or line), so the message alone tells the user what to fix.

use crate::schemas::Violation;
use std::path::PathBuf;

/// Why an experiment (or its dataset) was refused. `path` is always the file the
/// problem is in: the experiment file, or the dataset file for the `DatasetRow*` variants
/// and dataset-wide problems.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// Reading the file failed with an I/O error (a missing, irregular or oversized file
    /// is an [`ExperimentError::File`] instead).
    #[error("{}: cannot read: {source}", .path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The I/O error, as the operating system reported it.
        #[source]
        source: std::io::Error,
    },

    /// The text does not parse as the format its extension names.
    #[error("{}: not valid {format}: {message}", .path.display())]
    Syntax {
        /// The file that does not parse.
        path: PathBuf,
        /// `YAML` or `JSON`.
        format: &'static str,
        /// The parser's message (a duplicate key is refused here too).
        message: String,
    },

    /// A problem with the file as a whole (missing, not a regular file, too large, not
    /// UTF-8, version, extension, empty dataset).
    #[error("{}: {message}", .path.display())]
    File {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// The document broke its JSON Schema; each violation has a pointer and a rule.
    #[error("{}: does not match schema `{schema}`:\n{}", .path.display(), render_violations(.violations))]
    Schema {
        /// The experiment file.
        path: PathBuf,
        /// The name of the schema it was checked against (see [`crate::schemas`]).
        schema: String,
        /// Every violated rule, each with its JSON pointer.
        violations: Vec<Violation>,
    },

    /// A semantic rule the schema cannot express, at a JSON pointer of the document.
    #[error("{}: at {pointer}: {message}", .path.display())]
    Invalid {
        /// The experiment file.
        path: PathBuf,
        /// JSON pointer of the value, naming the fields as the file wrote them (see
        /// [`ExperimentError::in_source`]).
        pointer: String,
        /// The rule that was broken and how to fix it.
        message: String,
    },

    /// A key labj does not know (or refuses) inside a section it interprets; `line` is
    /// the key's line in the file when it could be found.
    #[error("{}{}: at {pointer}: {message}", .path.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Field {
        /// The experiment file.
        path: PathBuf,
        /// JSON pointer of the key.
        pointer: String,
        /// 1-based line of the key in the file, when it could be found.
        line: Option<usize>,
        /// Why the key is refused (with the closest known name when there is one).
        message: String,
    },

    /// A dataset row problem, at `file:line`.
    #[error("{}:{line}: {message}", .path.display())]
    DatasetRow {
        /// The dataset file.
        path: PathBuf,
        /// 1-based line of the row.
        line: usize,
        /// What is wrong with the row.
        message: String,
    },

    /// A dataset row that broke `task_boundary_v1`.
    #[error("{}:{line}: row does not match schema `task_boundary_v1`:\n{}", .path.display(), render_violations(.violations))]
    DatasetRowSchema {
        /// The dataset file.
        path: PathBuf,
        /// 1-based line of the row.
        line: usize,
        /// Every violated rule, with JSON pointers into the row.
        violations: Vec<Violation>,
    },

    /// The release gate: the experiment is valid but labj cannot run it yet.
    #[error("{}: not runnable: {message}", .path.display())]
    NotRunnable {
        /// The experiment file.
        path: PathBuf,
        /// What labj cannot run (a state policy, a program that cannot start).
        message: String,
    },
}

fn render_violations(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("  - {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ExperimentError {
    /// An [`ExperimentError::Invalid`]: `message` about the value at `pointer` of `path`.
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
