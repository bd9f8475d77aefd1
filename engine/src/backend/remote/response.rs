//! The coordinator's check of a worker's answer: HTTP status classes, JSON, the
//! expected `schema_version`, the whole document against its schema, then the typed
//! decode (see [`super::protocol`]).

use super::RemoteError;
#[cfg(feature = "fuzzing")]
use crate::wire::messages::*;
use crate::wire::Endpoint;
use serde::de::DeserializeOwned;

pub(super) fn is_transient(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => !matches!(
            io.kind(),
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
        ),
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

/// Check a response body: JSON, the expected `schema_version`, the schema, the type.
#[cfg(feature = "fuzzing")]
fn parse_response<T: DeserializeOwned>(
    endpoint: Endpoint,
    url: &str,
    text: &str,
) -> Result<T, RemoteError> {
    parse_response_doc(endpoint, url, text).map(|(t, _)| t)
}

/// [`parse_response`], also returning the checked document.
pub(super) fn parse_response_doc<T: DeserializeOwned>(
    endpoint: Endpoint,
    url: &str,
    text: &str,
) -> Result<(T, serde_json::Value), RemoteError> {
    let Some(expected) = endpoint.response_schema() else {
        return Err(RemoteError::NotJson {
            endpoint: url.to_string(),
            message: format!("{} answers raw bytes, not a document", endpoint.path()),
        });
    };
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| RemoteError::NotJson {
        endpoint: url.to_string(),
        message: e.to_string(),
    })?;
    let found = match doc.get("schema_version") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => format!("{other} (not a string)"),
        None => "(missing)".to_string(),
    };
    if found != expected {
        return Err(RemoteError::SchemaMismatch {
            endpoint: url.to_string(),
            expected: expected.to_string(),
            found,
        });
    }
    let invalid = |violations: String| RemoteError::InvalidResponse {
        endpoint: url.to_string(),
        schema: expected.to_string(),
        violations,
    };
    model::schemas::validate(expected, &doc).map_err(|e| match e {
        model::schemas::SchemaError::Invalid { violations, .. } => invalid(
            violations
                .iter()
                .map(|v| format!("  - {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        other => invalid(other.to_string()),
    })?;
    // The schema leaves `outcome` open; the typed decode is the last word on it.
    let typed = T::deserialize(&doc).map_err(|e| invalid(format!("  - {e}")))?;
    Ok((typed, doc))
}

/// Fuzzing entry (feature `fuzzing`): the coordinator's check of a worker's answer to
/// `endpoint` (JSON, `schema_version`, schema, typed decode).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_response(endpoint: Endpoint, text: &str) -> Result<(), RemoteError> {
    use model::trial::TrialOutcome;
    let url = "http://fuzz";
    match endpoint {
        Endpoint::Submit => parse_response::<SubmitResponse>(endpoint, url, text).map(drop),
        Endpoint::Poll => {
            parse_response::<PollResponse<TrialOutcome>>(endpoint, url, text).map(drop)
        }
        Endpoint::Pause | Endpoint::Resume | Endpoint::Stop => {
            parse_response::<ControlResponse>(endpoint, url, text).map(drop)
        }
        Endpoint::Ack => parse_response::<AckResponse>(endpoint, url, text).map(drop),
        Endpoint::Health => parse_response::<HealthResponse>(endpoint, url, text).map(drop),
        Endpoint::Tickets => parse_response::<TicketsResponse>(endpoint, url, text).map(drop),
        Endpoint::Blob => parse_response::<serde_json::Value>(endpoint, url, text).map(drop),
    }
}
