//! What crosses the network between the coordinator (`backend::remote`, the client) and
//! a remote worker (`worker`, the server): the table of calls with their paths and
//! schemas (`Endpoint`), the messages both sides exchange ([`messages`], each checked
//! against its `schemas/remote_worker_*_v1` schema on both sides), the client's one
//! retry loop ([`RetryPolicy`]), the bearer token, the acknowledgement key of a
//! delivery, the MAC that authenticates every completion end to end ([`CompletionMac`])
//! and TLS ([`tls`]). Both sides build them here, so they cannot drift apart.

mod endpoint;
pub mod messages;
pub(crate) mod retry;
pub mod tls;

pub(crate) use endpoint::Endpoint;
pub use retry::RetryPolicy;
use serde::Serialize;
use std::fmt;

/// A message as the document that crosses the network: its fields plus
/// `schema_version`, the name of its schema (from the [`Endpoint`] table).
pub(crate) fn to_document<T: Serialize>(
    schema: &str,
    message: &T,
) -> Result<serde_json::Value, serde_json::Error> {
    let mut doc = serde_json::to_value(message)?;
    if let serde_json::Value::Object(fields) = &mut doc {
        fields.insert("schema_version".into(), schema.into());
    }
    Ok(doc)
}

/// A secret sent as `Authorization: Bearer …`. Never printed: `Debug` shows
/// `BearerToken(<redacted>)` and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// Wrap a token (read from the environment variable the user named).
    pub fn new(token: impl Into<String>) -> Self {
        BearerToken(token.into())
    }

    /// The secret itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// The acknowledgement and dedupe key of one delivery:
/// `run_id/schedule_idx/trial_id/ticket_id/completion_seq`. It names the attempt (every
/// dispatch of a slot has its own ticket), so the completion of a re-run after an
/// infrastructure fault is never mistaken for a repeat of the lost attempt's.
/// Client and server must build it the same way.
pub fn completion_key(
    run_id: &str,
    schedule_idx: u64,
    trial_id: &str,
    ticket_id: &str,
    seq: u64,
) -> String {
    format!("{run_id}/{schedule_idx}/{trial_id}/{ticket_id}/{seq}")
}

/// The key that authenticates completions: derived from the bearer token (blake3
/// `derive_key`), so it never crosses the network by itself and lives only in the
/// memory of the worker and the coordinator. The worker removes the token's variable
/// from its environment before any trial starts and makes itself non-dumpable, so an
/// agent reads neither (not in its environment, nor in `/proc/<worker>/environ`).
/// `Debug` prints `<redacted>`.
#[derive(Clone)]
pub struct CompletionMac([u8; 32]);

impl fmt::Debug for CompletionMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CompletionMac(<redacted>)")
    }
}

impl CompletionMac {
    /// The key both sides derive from the bearer token they share.
    pub fn from_token(token: &BearerToken) -> Self {
        CompletionMac(blake3::derive_key(
            "labj remote worker completion MAC v1",
            token.expose().as_bytes(),
        ))
    }

    /// The tag (64 hex) of one completion: a keyed blake3 over its delivery key (run,
    /// slot, trial, ticket = attempt, sequence) and its whole outcome (classification,
    /// metrics, result and grade digests, every artifact) in the canonical JSON form
    /// `serde_json` writes for a `Value` (sorted keys; floats round-trip exactly).
    pub fn tag(&self, delivery_key: &str, outcome: &serde_json::Value) -> String {
        let outcome = serde_json::to_vec(outcome).unwrap_or_default();
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(b"labj-completion-v1\0");
        h.update(&(delivery_key.len() as u64).to_le_bytes());
        h.update(delivery_key.as_bytes());
        h.update(&(outcome.len() as u64).to_le_bytes());
        h.update(&outcome);
        h.finalize().to_hex().to_string()
    }

    /// Check a presented tag (constant time). The error says what failed, never the
    /// key or the expected tag.
    pub(crate) fn check(
        &self,
        delivery_key: &str,
        outcome: &serde_json::Value,
        presented: Option<&str>,
    ) -> Result<(), &'static str> {
        use subtle::ConstantTimeEq;
        let Some(presented) = presented else {
            return Err("the completion carries no MAC");
        };
        let want = self.tag(delivery_key, outcome);
        if bool::from(want.as_bytes().ct_eq(presented.as_bytes())) {
            Ok(())
        } else {
            Err("its MAC does not match its content")
        }
    }
}
