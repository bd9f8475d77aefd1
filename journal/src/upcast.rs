//! Event payload versions, and the upcaster that reads old ones as the current one.
//!
//! A payload whose shape changed carries its version as its first key, `{"v":2,…}`;
//! a payload without `v` is version 1 (every journal written before versions existed).
//! [`Event::decode`](crate::event::Event::decode) reads the current version of a kind
//! directly; an older one is parsed as JSON, taken through [`upcast`] one version at a
//! time, then decoded as the current struct, which has no default for anything a version
//! made required. What an old payload *meant* is therefore written once, here, beside
//! the versions, and no reader keeps a fallback for it (nor parses message text).
//! A payload newer than this binary knows is refused, never guessed at.
//!
//! `#[serde(default)]` that remain on event fields mean "absent = none/empty" (a
//! compact encoding of every version), never "absent because the writer was older".
//!
//! To change a payload's shape: bump its number in [`current_version`], add the step
//! from the previous version to [`step`], and a test with a payload of the old version.

use serde_json::{Map, Value};

/// The version of `kind`'s payload this binary writes (1 for kinds never changed).
pub(crate) fn current_version(kind: &str) -> u32 {
    match kind {
        // v2: `pruning` and its `counts` always written (v1 could omit either).
        "run_created" => 2,
        // v2: `classification`, `retry` and `stopped_by_kill` always written.
        "worker_lost" => 2,
        // v2: `digests` always written (v1 had a blob's digest only in `message`).
        "backend_warning" => 2,
        _ => 1,
    }
}

/// Why an old payload could not be read as the current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UpcastError {
    /// The payload's `v` is not a version number.
    BadVersion(String),
    /// Written by a newer labj.
    TooNew { found: u32, supported: u32 },
    /// The payload is not a JSON object.
    NotAnObject,
}

impl std::fmt::Display for UpcastError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpcastError::BadVersion(v) => {
                write!(f, "payload version `v` is {v}, not a positive integer")
            }
            UpcastError::TooNew { found, supported } => write!(
                f,
                "payload version {found} was written by a newer labj (this one reads up to version {supported}): upgrade labj to read this journal"
            ),
            UpcastError::NotAnObject => f.write_str("payload is not a JSON object"),
        }
    }
}

/// The version a stored payload declares: its `v`, or 1 when it has none.
fn stored_version(payload: &Map<String, Value>) -> Result<u32, UpcastError> {
    match payload.get("v") {
        None => Ok(1),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=u32::MAX as u64).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| UpcastError::BadVersion(v.to_string())),
    }
}

/// `payload` of `kind` (a JSON object) brought from its stored version to the current
/// one; `v` is removed (the current struct does not hold it).
pub(crate) fn upcast(kind: &str, payload: Value) -> Result<Value, UpcastError> {
    let Value::Object(mut map) = payload else {
        return Err(UpcastError::NotAnObject);
    };
    let supported = current_version(kind);
    let mut version = stored_version(&map)?;
    if version > supported {
        return Err(UpcastError::TooNew {
            found: version,
            supported,
        });
    }
    map.remove("v");
    while version < supported {
        step(kind, version, &mut map);
        version += 1;
    }
    Ok(Value::Object(map))
}

/// One step: `map` of version `from` becomes version `from + 1`. Fields a later writer
/// already wrote (journals written between the field's birth and its version bump) are
/// kept as they are.
fn step(kind: &str, from: u32, map: &mut Map<String, Value>) {
    match (kind, from) {
        ("run_created", 1) => {
            // No pruning spec: pruning off. No `counts`: the streak counted every
            // unsuccessful verdict (the only rule there was).
            let pruning = map
                .entry("pruning")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(p) = pruning {
                p.entry("counts")
                    .or_insert_with(|| Value::String("unsuccessful".into()));
            }
        }
        ("worker_lost", 1) => {
            // Before infra retries: every loss committed its slot as `worker_lost`.
            map.entry("classification")
                .or_insert_with(|| Value::String("worker_lost".into()));
            map.entry("retry").or_insert(Value::Bool(false));
            map.entry("stopped_by_kill").or_insert(Value::Bool(false));
        }
        ("backend_warning", 1) if !map.contains_key("digests") => {
            // Before `digests`: a `remote_evidence_not_fetched` warning named its blobs
            // only in its message (64-hex tokens); other warnings were about no blob.
            let about_blobs =
                map.get("code").and_then(Value::as_str) == Some("remote_evidence_not_fetched");
            let digests: Vec<Value> = if about_blobs {
                map.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .split(|c: char| !c.is_ascii_hexdigit())
                    .filter(|t| t.len() == 64)
                    .map(|t| Value::String(t.to_ascii_lowercase()))
                    .collect()
            } else {
                Vec::new()
            };
            map.insert("digests".into(), Value::Array(digests));
        }
        // `current_version` and these steps are written together: a kind at version N
        // has a step for every version below N.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_newer_version_is_refused_and_a_bad_one_named() {
        let e = upcast("worker_lost", json!({"v": 3})).unwrap_err();
        assert_eq!(
            e,
            UpcastError::TooNew {
                found: 3,
                supported: 2
            }
        );
        assert!(e.to_string().contains("newer labj"), "{e}");
        let e = upcast("worker_lost", json!({"v": "2"})).unwrap_err();
        assert!(e.to_string().contains("\"2\""), "{e}");
        assert_eq!(
            upcast("worker_lost", json!([1])).unwrap_err(),
            UpcastError::NotAnObject
        );
    }

    #[test]
    fn fields_a_later_v1_writer_wrote_are_kept() {
        let v = upcast(
            "worker_lost",
            json!({"classification": "spawn_failure", "retry": true}),
        )
        .unwrap();
        assert_eq!(v["classification"], "spawn_failure");
        assert_eq!(v["retry"], true);
        assert_eq!(v["stopped_by_kill"], false);
    }
}
