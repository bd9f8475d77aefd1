//! The envelope of an experiment file: its path (text, as the journal records it), the
//! `{"resolved_experiment": {...}}` wrapper and `version`.

use super::model::SchemaVersion;
use super::ExperimentError;
use serde_json::Value;
use std::path::Path;

/// Refuses an experiment path that is not valid UTF-8 (after following links): labj
/// records paths in its journal as text and resolves command tokens against the
/// experiment's directory as text, so such a path would only fail later as a missing
/// program. The message shows the path with its bad bytes escaped (`\xFF`).
pub(super) fn check_path(path: &Path) -> Result<(), ExperimentError> {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if abs.to_str().is_some() {
        return Ok(());
    }
    Err(ExperimentError::File {
        path: path.to_path_buf(),
        message: format!(
            "the experiment path {:?} is not valid UTF-8; labj records paths in its journal as text, so rename it (or use another directory)",
            abs.as_os_str()
        ),
    })
}

/// What the original runner's own files put beside a `resolved_experiment` wrapper:
/// its benchmark-adaptation fixture a `dataset_task_row` (one task row for its tests),
/// its sealed run package manifest (`sealed_run_package_v2`) `schema_version`,
/// `created_at`, `checksums_ref` and `package_digest`. labj reads the experiment and
/// ignores these (it does not verify a sealed package's checksums); any other key
/// beside the wrapper is refused, as is another manifest `schema_version`.
pub(crate) const WRAPPER_SIBLINGS: &[&str] = &[
    "dataset_task_row",
    "schema_version",
    "created_at",
    "checksums_ref",
    "package_digest",
];
const SEALED_MANIFEST: &str = "sealed_run_package_v2";

/// `{"resolved_experiment": {...}}` unwrapped (a document with its own `version` is
/// not a wrapper); a sibling key the original's files never write is refused, naming it.
pub(super) fn unwrap(path: &Path, doc: Value) -> Result<Value, ExperimentError> {
    let mut m = match doc {
        Value::Object(m) if !m.contains_key("version") && m.contains_key("resolved_experiment") => {
            m
        }
        other => return Ok(other),
    };
    let refuse =
        |pointer: String, message: String| Err(ExperimentError::invalid(path, pointer, message));
    for (k, v) in &m {
        if k == "resolved_experiment" {
            continue;
        }
        let pointer = format!("/{}", k.replace('~', "~0").replace('/', "~1"));
        if !WRAPPER_SIBLINGS.contains(&k.as_str()) {
            return refuse(
                pointer,
                format!(
                    "unknown key {k:?} beside `resolved_experiment`: a wrapped experiment is read from `resolved_experiment` alone, and only the original runner's own companions ({}) may stand beside it; move it inside the wrapper or remove it",
                    WRAPPER_SIBLINGS.join(", ")
                ),
            );
        }
        if k == "schema_version" && v.as_str() != Some(SEALED_MANIFEST) {
            return refuse(
                pointer,
                format!(
                    "schema_version {v} beside `resolved_experiment`: only the original runner's sealed package manifest ({SEALED_MANIFEST:?}) is read this way"
                ),
            );
        }
    }
    Ok(m.remove("resolved_experiment").unwrap_or(Value::Null))
}

/// [`unwrap`], then `version` (a YAML `version: 0.5` parses as a number: accepted and
/// recorded as the string it meant).
pub(super) fn unwrap_and_version(
    path: &Path,
    doc: Value,
) -> Result<(SchemaVersion, Value), ExperimentError> {
    let mut doc = unwrap(path, doc)?;
    let file_err = |message: String| ExperimentError::File {
        path: path.to_path_buf(),
        message,
    };
    let Some(obj) = doc.as_object_mut() else {
        return Err(file_err(
            "an experiment must be a mapping/object at the top level".into(),
        ));
    };
    if let Some(Value::String(s)) = obj.get("version") {
        if s.trim() != s {
            return Err(file_err(format!(
                "version {s:?} has leading or trailing whitespace; write version: \"{}\"",
                s.trim()
            )));
        }
    }
    let version = match obj.get("version") {
        None => {
            return Err(file_err(
                "missing top-level `version`; set version: \"0.5\" (or \"0.4\", \"0.3\")".into(),
            ))
        }
        Some(Value::String(s)) => SchemaVersion::parse(s.trim()),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(0.5) => Some(SchemaVersion::V0_5),
            Some(0.4) => Some(SchemaVersion::V0_4),
            Some(0.3) => Some(SchemaVersion::V0_3),
            _ => None,
        },
        Some(_) => None,
    };
    let Some(version) = version else {
        return Err(file_err(format!(
            "unsupported version {}; labj reads resolved experiments version \"0.5\", \"0.4\" and \"0.3\", and the original runner's version \"1.0\" (clean harness)",
            obj["version"]
        )));
    };
    obj.insert("version".into(), Value::String(version.as_str().into()));
    Ok((version, doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inner() -> Value {
        json!({"version": "0.5", "experiment": {"id": "w", "name": "w"}})
    }

    #[test]
    fn the_originals_wrappers_are_read_and_other_siblings_refused() {
        let p = Path::new("x.json");
        // Its P0 fixture and its sealed package manifest.
        for doc in [
            json!({"resolved_experiment": inner(), "dataset_task_row": {"id": "t"}}),
            json!({"schema_version": "sealed_run_package_v2", "created_at": "2026-03-04T00:00:00Z",
                   "resolved_experiment": inner(), "checksums_ref": "checksums.json", "package_digest": "ab"}),
            json!({"resolved_experiment": inner()}),
        ] {
            assert_eq!(unwrap(p, doc).unwrap(), inner());
        }
        let e = unwrap(p, json!({"resolved_experiment": inner(), "extra": 1}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("at /extra: unknown key \"extra\" beside `resolved_experiment`"),
            "{e}"
        );
        let e = unwrap(
            p,
            json!({"resolved_experiment": inner(), "schema_version": "other_v1"}),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("schema_version \"other_v1\" beside `resolved_experiment`"),
            "{e}"
        );
        // A document with its own version is not a wrapper (its fields are checked as usual).
        let own = json!({"version": "0.5", "resolved_experiment": 1});
        assert_eq!(unwrap(p, own.clone()).unwrap(), own);
    }

    #[test]
    fn a_version_with_spaces_is_refused_inside_a_wrapper_too() {
        let doc = json!({"resolved_experiment": {"version": "0.5 "}});
        let e = unwrap_and_version(Path::new("x.json"), doc)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("version \"0.5 \" has leading or trailing whitespace"),
            "{e}"
        );
    }
}
