//! What crosses the network between the coordinator (`backend::remote`, the client) and
//! a remote worker (`worker`, the server): the messages both sides exchange
//! (`messages`, each checked against its `schemas/remote_worker_*_v1` schema), the
//! bearer token and the acknowledgement key of a delivery. Both sides build them here,
//! so they cannot drift apart.

pub mod messages;

use std::fmt;

/// A secret sent as `Authorization: Bearer …`. Never printed: `Debug` shows
/// `BearerToken(<redacted>)` and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
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
