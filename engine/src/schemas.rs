//! The JSON Schemas of `schemas/`, embedded in the binary, and a validator that reports
//! every violation with its JSON pointer and the rule (keyword) it broke.
//!
//! Add a schema by adding one line to [`SCHEMAS`].

use std::sync::OnceLock;

/// (name, schema text). The name is the file name under `schemas/` without `.jsonschema`.
pub const SCHEMAS: &[(&str, &str)] = &[
    // registry entries: keep one per line, sorted by name
];

/// One violated rule: where in the document, which keyword, and the validator's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the validated document ("" for the root).
    pub pointer: String,
    /// The schema keyword that failed (`required`, `type`, `enum`, …).
    pub rule: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() { "/" } else { &self.pointer };
        write!(f, "at {at}: {} (rule `{}`)", self.message, self.rule)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown schema `{name}`; known schemas: {known}")]
    Unknown { name: String, known: String },
    #[error("schema `{name}` is itself invalid: {message}")]
    BadSchema { name: String, message: String },
    #[error("document does not match schema `{name}`:\n{}", .violations.iter().map(|v| format!("  - {v}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        name: String,
        violations: Vec<Violation>,
    },
}

pub fn names() -> Vec<&'static str> {
    SCHEMAS.iter().map(|(n, _)| *n).collect()
}

fn compiled(name: &str) -> Result<&'static jsonschema::Validator, SchemaError> {
    static CACHE: OnceLock<Vec<(&'static str, Result<jsonschema::Validator, String>)>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        SCHEMAS
            .iter()
            .map(|(n, text)| {
                let v = serde_json::from_str::<serde_json::Value>(text)
                    .map_err(|e| e.to_string())
                    .and_then(|s| jsonschema::validator_for(&s).map_err(|e| e.to_string()));
                (*n, v)
            })
            .collect()
    });
    match cache.iter().find(|(n, _)| *n == name) {
        Some((_, Ok(v))) => Ok(v),
        Some((_, Err(e))) => Err(SchemaError::BadSchema {
            name: name.to_string(),
            message: e.clone(),
        }),
        None => Err(SchemaError::Unknown {
            name: name.to_string(),
            known: names().join(", "),
        }),
    }
}

/// Validate `doc` against the named schema, collecting every violation.
pub fn validate(name: &str, doc: &serde_json::Value) -> Result<(), SchemaError> {
    let validator = compiled(name)?;
    let violations: Vec<Violation> = validator
        .iter_errors(doc)
        .map(|e| Violation {
            pointer: e.instance_path().to_string(),
            rule: e
                .schema_path()
                .to_string()
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string(),
            message: e.to_string(),
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Invalid {
            name: name.to_string(),
            violations,
        })
    }
}
