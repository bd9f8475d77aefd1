//! Helpers shared by the schema catalogue tests.
#![allow(dead_code)]

use model::schemas::{self, SchemaError, Violation};
use serde_json::Value;

pub const DIGEST_A: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
pub const DIGEST_B: &str = "d74981efa70a0c880b8d8c1985d075dbcbf679b99a5f9914e5aaf96b831a9e24";

pub fn violations(name: &str, doc: &Value) -> Vec<Violation> {
    match schemas::validate(name, doc) {
        Ok(()) => panic!("`{name}` accepted a document it must reject:\n{doc:#}"),
        Err(SchemaError::Invalid { violations, .. }) => violations,
        Err(other) => panic!("`{name}`: expected Invalid, got {other}"),
    }
}

pub fn assert_valid(name: &str, doc: &Value) {
    if let Err(e) = schemas::validate(name, doc) {
        panic!("{e}\ndocument:\n{doc:#}");
    }
}

/// The document is rejected, and one of the violations is `rule` at `pointer`.
pub fn assert_rejected_with(name: &str, doc: &Value, pointer: &str, rule: &str) {
    let vs = violations(name, doc);
    assert!(
        vs.iter().any(|v| v.pointer == pointer && v.rule == rule),
        "`{name}`: expected a `{rule}` violation at `{pointer}`, got {vs:#?}"
    );
}
