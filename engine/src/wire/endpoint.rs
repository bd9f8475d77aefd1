//! The table of the protocol's calls: each call's path and the schemas of its request
//! and its answer (`schemas/remote_worker_*_v1.jsonschema`). The client builds its URLs
//! from it and the server routes by it.

/// One call of the remote worker protocol: the four of v1 (submit, poll, pause, stop)
/// and the extensions (resume, ack, health, tickets, blob).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Submit,
    Poll,
    Pause,
    Resume,
    Stop,
    Ack,
    Health,
    Tickets,
    /// The raw bytes of one blob: a JSON request, answered `application/octet-stream`.
    Blob,
}

impl Endpoint {
    /// Every call, in the order of this table.
    pub(crate) const ALL: [Endpoint; 9] = [
        Endpoint::Submit,
        Endpoint::Poll,
        Endpoint::Pause,
        Endpoint::Resume,
        Endpoint::Stop,
        Endpoint::Ack,
        Endpoint::Health,
        Endpoint::Tickets,
        Endpoint::Blob,
    ];

    /// The path under the worker's base URL (no leading `/`).
    pub(crate) fn path(self) -> &'static str {
        match self {
            Endpoint::Submit => "v1/worker/submit",
            Endpoint::Poll => "v1/worker/poll",
            Endpoint::Pause => "v1/worker/pause",
            Endpoint::Resume => "v1/worker/resume",
            Endpoint::Stop => "v1/worker/stop",
            Endpoint::Ack => "v1/worker/ack",
            Endpoint::Health => "v1/worker/health",
            Endpoint::Tickets => "v1/worker/tickets",
            Endpoint::Blob => "v1/worker/blob",
        }
    }

    /// The call a request path names (a leading `/` is ignored), if any.
    pub(crate) fn from_path(path: &str) -> Option<Endpoint> {
        let path = path.trim_start_matches('/');
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }

    /// The schema of the request document, also its `schema_version`.
    pub(crate) fn request_schema(self) -> &'static str {
        match self {
            Endpoint::Submit => "remote_worker_submit_v1",
            Endpoint::Poll => "remote_worker_poll_v1",
            Endpoint::Pause => "remote_worker_pause_v1",
            Endpoint::Resume => "remote_worker_resume_v1",
            Endpoint::Stop => "remote_worker_stop_v1",
            Endpoint::Ack => "remote_worker_ack_v1",
            Endpoint::Health => "remote_worker_health_v1",
            Endpoint::Tickets => "remote_worker_tickets_v1",
            Endpoint::Blob => "remote_worker_blob_v1",
        }
    }

    /// The schema of the answer document, also its `schema_version`; `None` for
    /// [`Endpoint::Blob`], answered with raw bytes.
    pub(crate) fn response_schema(self) -> Option<&'static str> {
        Some(match self {
            Endpoint::Submit => "remote_worker_submit_response_v1",
            Endpoint::Poll => "remote_worker_poll_response_v1",
            Endpoint::Pause => "remote_worker_pause_response_v1",
            Endpoint::Resume => "remote_worker_resume_response_v1",
            Endpoint::Stop => "remote_worker_stop_response_v1",
            Endpoint::Ack => "remote_worker_ack_response_v1",
            Endpoint::Health => "remote_worker_health_response_v1",
            Endpoint::Tickets => "remote_worker_tickets_response_v1",
            Endpoint::Blob => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    /// Every path routes back to its call, and every schema named here exists.
    #[test]
    fn every_call_routes_by_its_path_and_names_existing_schemas() {
        for e in Endpoint::ALL {
            assert_eq!(Endpoint::from_path(e.path()), Some(e));
            assert_eq!(Endpoint::from_path(&format!("/{}", e.path())), Some(e));
            let schemas = [Some(e.request_schema()), e.response_schema()];
            for s in schemas.into_iter().flatten() {
                assert!(
                    matches!(
                        model::schemas::validate(s, &serde_json::json!({})),
                        Err(model::schemas::SchemaError::Invalid { .. })
                    ),
                    "{s}: an empty document must break it (the schema exists and requires fields)"
                );
            }
        }
        assert_eq!(Endpoint::from_path("v1/worker/nope"), None);
    }
}
