//! TLS for the remote worker protocol (rustls with the `ring` provider: nothing that
//! needs OpenSSL, cmake or the network to build).
//!
//! The worker serves either a certificate and key it is given (PEM files) or a
//! self-signed certificate it generates at start (the key never leaves its memory;
//! the certificate is written beside its work dir and its SHA-256 fingerprint printed).
//! The coordinator trusts a worker in one of two ways (`ClientTrust`): the CA
//! certificates of a PEM file (full WebPKI verification, host name included), or one
//! pinned certificate by its SHA-256 fingerprint (what SSH does with host keys: the
//! handshake must be signed by that certificate's key; name and dates are not
//! checked). Either way the check is part of the handshake, before any byte of a
//! request (and so the bearer token) is written.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The crypto provider of both sides: *ring*, which builds with a C compiler alone
/// (aws-lc-rs, rustls's other provider, needs cmake). rustls 0.23.48 deprecates it for
/// lacking post-quantum key exchange, which is not what this channel defends against.
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// `sha256:<64 hex>` of a DER certificate: what `--tls-pin` takes.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Why a TLS setting cannot be used; the message names the flag and file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file is missing, unreadable or not what it must hold.
    #[error("{flag} {path}: {problem}")]
    File {
        /// The option that named the file (`--tls-cert`, `--tls-key`, `--tls-ca`).
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A `--tls-pin` that is not `sha256:` and 64 hex digits.
    #[error("--tls-pin `{0}`: expected sha256: followed by 64 hex digits (colons allowed), as `labj worker serve` prints it")]
    BadPin(String),
    /// rustls or the certificate generator refused the setup.
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// A worker's certificate chain and key, and the fingerprint of its leaf.
pub struct ServerIdentity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The leaf certificate's `sha256:<hex>` fingerprint, what `--tls-pin` takes.
    pub fingerprint: String,
    /// Where the certificate (PEM) is, for the operator to hand to coordinators.
    pub cert_path: PathBuf,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("fingerprint", &self.fingerprint)
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl ServerIdentity {
    /// `--tls-cert FILE --tls-key FILE`: a PEM certificate chain (leaf first) and its
    /// private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<ServerIdentity, TlsError> {
        let file = |flag, path: &Path, problem: String| TlsError::File {
            flag,
            path: path.to_path_buf(),
            problem,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| file("--tls-cert", cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file("--tls-cert", cert, e.to_string()))?;
        let Some(leaf) = chain.first() else {
            return Err(file(
                "--tls-cert",
                cert,
                "holds no PEM CERTIFICATE block".into(),
            ));
        };
        let fingerprint = fingerprint(leaf);
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            file(
                "--tls-key",
                key,
                format!("{e} (expected a PEM private key)"),
            )
        })?;
        let id = ServerIdentity {
            chain,
            key,
            fingerprint,
            cert_path: cert.to_path_buf(),
        };
        // Refuse a key that does not belong to the certificate now, not at the first
        // handshake.
        id.server_config()?;
        Ok(id)
    }

    /// `--tls-self-signed`: a fresh key and certificate for `names` (host names and IP
    /// addresses), made now; the certificate is written to `cert_path` (PEM).
    pub fn self_signed(names: Vec<String>, cert_path: &Path) -> Result<ServerIdentity, TlsError> {
        let made = rcgen::generate_simple_self_signed(names)
            .map_err(|e| TlsError::Setup(format!("cannot make a certificate: {e}")))?;
        let pem = made.cert.pem();
        if let Some(dir) = cert_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| TlsError::File {
                flag: "--tls-self-signed",
                path: dir.to_path_buf(),
                problem: e.to_string(),
            })?;
        }
        std::fs::write(cert_path, pem).map_err(|e| TlsError::File {
            flag: "--tls-self-signed",
            path: cert_path.to_path_buf(),
            problem: e.to_string(),
        })?;
        let der = made.cert.der().clone();
        Ok(ServerIdentity {
            fingerprint: fingerprint(&der),
            chain: vec![der],
            key: PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into()),
            cert_path: cert_path.to_path_buf(),
        })
    }

    /// The rustls server side (TLS 1.2 and 1.3, no client certificates: clients
    /// authenticate with the bearer token inside the channel).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map(Arc::new)
            .map_err(|e| TlsError::Setup(format!("the key does not fit the certificate: {e}")))
    }
}

/// How the coordinator trusts an `https://` worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientTrust {
    /// `--tls-ca FILE`: certificates (PEM) the worker's chain must lead to.
    Ca(PathBuf),
    /// `--tls-pin sha256:HEX`: exactly this certificate (its DER's SHA-256).
    Pin([u8; 32]),
}

impl ClientTrust {
    /// Parse `--tls-pin` (`sha256:` + 64 hex digits; colons and case are ignored).
    pub(crate) fn pin(text: &str) -> Result<ClientTrust, TlsError> {
        let bad = || TlsError::BadPin(text.to_string());
        let hex: String = text
            .trim()
            .strip_prefix("sha256:")
            .ok_or_else(bad)?
            .chars()
            .filter(|c| *c != ':')
            .collect();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(ClientTrust::Pin(out))
    }

    /// The rustls client side for this trust.
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        let config = match self {
            ClientTrust::Ca(path) => {
                let file = |problem: String| TlsError::File {
                    flag: "--tls-ca",
                    path: path.clone(),
                    problem,
                };
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| file(e.to_string()))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| file(e.to_string()))?;
                let mut roots = rustls::RootCertStore::empty();
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(file("holds no usable PEM CERTIFICATE".into()));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            ClientTrust::Pin(want) => builder
                .dangerous()
                // Not dangerous: the pinned certificate replaces the CA chain, and the
                // handshake signature is still verified against its key.
                .with_custom_certificate_verifier(Arc::new(PinVerifier {
                    want: *want,
                    algorithms: provider().signature_verification_algorithms,
                }))
                .with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// Accepts exactly the pinned certificate, and a handshake signed by its key.
#[derive(Debug)]
struct PinVerifier {
    want: [u8; 32],
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

/// Why a pinned handshake failed (inside `rustls::CertificateError::Other`).
#[derive(Debug)]
pub(crate) struct PinMismatch {
    got: String,
    want: String,
}

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the worker presented certificate {}, not the pinned {}",
            self.got, self.want
        )
    }
}

impl std::error::Error for PinMismatch {}

impl rustls::client::danger::ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let got = ring::digest::digest(&ring::digest::SHA256, end_entity);
        if got.as_ref() == self.want {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        let hex: String = self.want.iter().map(|b| format!("{b:02x}")).collect();
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch {
                got: fingerprint(end_entity),
                want: format!("sha256:{hex}"),
            }))),
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A handshake failure in words: rustls's own text, except for a pin mismatch (which
/// rustls would print as a debug structure).
pub(crate) fn describe(e: &rustls::Error) -> String {
    if let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o)) = e {
        if let Some(m) = o.0.downcast_ref::<PinMismatch>() {
            return format!("invalid peer certificate: {m}");
        }
    }
    e.to_string()
}
