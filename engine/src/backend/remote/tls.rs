//! The coordinator's TLS: a ureq connector over rustls with the trust the operator gave
//! ([`ClientTrust`]: a CA file or a pinned certificate). The certificate is checked
//! inside the handshake, which completes before ureq writes the request, so the bearer
//! token never reaches a worker (or a proxy) that fails the check.

use crate::wire::tls::ClientTrust;
use std::io::{Read, Write};
use std::sync::Arc;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
};

/// An agent whose `https://` connections use `trust` (plain `http://` passes through).
pub(super) fn agent(
    config: ureq::config::Config,
    trust: &ClientTrust,
) -> Result<ureq::Agent, String> {
    let tls = TlsConnector {
        config: trust.client_config().map_err(|e| e.to_string())?,
    };
    let connector = TcpConnector::default().chain(tls);
    Ok(ureq::Agent::with_parts(
        config,
        connector,
        DefaultResolver::default(),
    ))
}

#[derive(Debug)]
struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
}

fn io_err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ureq::Error {
    ureq::Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| io_err(format!("`{host}` cannot name a TLS server: {e}")))?;
        let mut conn =
            rustls::ClientConnection::new(Arc::clone(&self.config), name).map_err(io_err)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        // The whole handshake, certificate check included, before any request byte.
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: rustls::StreamOwned { conn, sock },
        })))
    }
}

pub(super) struct TlsTransport {
    buffers: LazyBuffers,
    stream: rustls::StreamOwned<rustls::ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let n = self.stream.read(input)?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// The certificate check failure inside a transport error, if that is what it is.
pub(super) fn tls_failure(e: &ureq::Error) -> Option<String> {
    let ureq::Error::Io(io) = e else {
        return None;
    };
    let inner = io.get_ref()?;
    let rustls_err = inner.downcast_ref::<rustls::Error>()?;
    Some(crate::wire::tls::describe(rustls_err))
}
