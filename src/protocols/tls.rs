//! Connection setup shared by every mail protocol client: TCP with a
//! timeout, then TLS right away (`implicit`), later on request
//! (`starttls`, driven by the protocol client through [`upgrade`]) or never.
//!
//! Certificates are verified against the Mozilla roots (webpki-roots) unless
//! the account says `accept_invalid_certs`, which is meant for self-signed
//! servers on a private network.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub use crate::vocabulary::TlsMode;

/// A TCP stream, possibly wrapped in TLS.
#[derive(Debug)]
pub enum MaybeTlsStream {
    /// Not encrypted (yet).
    Plain(TcpStream),
    /// Encrypted; boxed because the TLS state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTlsStream::Tls(_))
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
            MaybeTlsStream::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// DNS or TCP failure (refused, unreachable, reset).
    #[error("cannot connect to {server}: {source}")]
    Tcp {
        /// `host:port`.
        server: String,
        /// The underlying error.
        source: io::Error,
    },
    /// TCP connect or TLS handshake made no progress in time.
    #[error("connecting to {server} timed out after {}s", after.as_secs())]
    Timeout {
        /// `host:port`.
        server: String,
        /// The configured timeout.
        after: Duration,
    },
    /// The TLS handshake failed: bad certificate, no common cipher, ...
    #[error("TLS handshake with {server} failed: {source}")]
    Tls {
        /// `host:port`.
        server: String,
        /// The underlying error (a rustls error wrapped in `io::Error`).
        source: io::Error,
    },
}

impl ConnectError {
    /// Whether trying again later may succeed. A certificate or protocol
    /// mismatch will not fix itself; a refused or reset connection may.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConnectError::Tcp { .. } | ConnectError::Timeout { .. } => true,
            ConnectError::Tls { source, .. } => source.kind() != io::ErrorKind::InvalidData,
        }
    }
}

/// Opens a TCP connection to `host:port` and, for [`TlsMode::Implicit`],
/// performs the TLS handshake. For [`TlsMode::StartTls`] the stream is
/// returned plain: the protocol client sends its STARTTLS command and then
/// calls [`upgrade`]. `timeout` bounds the TCP connect and the handshake
/// separately.
pub async fn connect(
    host: &str,
    port: u16,
    tls: TlsMode,
    accept_invalid_certs: bool,
    timeout: Duration,
) -> Result<MaybeTlsStream, ConnectError> {
    let server = format!("{host}:{port}");
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Err(_) => {
            return Err(ConnectError::Timeout {
                server,
                after: timeout,
            });
        }
        Ok(Err(source)) => return Err(ConnectError::Tcp { server, source }),
        Ok(Ok(tcp)) => tcp,
    };
    // Commands are small and latency matters more than packet count.
    let _ = tcp.set_nodelay(true);
    match tls {
        TlsMode::Implicit => upgrade(tcp, host, port, accept_invalid_certs, timeout).await,
        TlsMode::StartTls | TlsMode::None => Ok(MaybeTlsStream::Plain(tcp)),
    }
}

/// Performs the TLS handshake on an established TCP stream, verifying the
/// certificate for `host` unless `accept_invalid_certs`.
pub async fn upgrade(
    tcp: TcpStream,
    host: &str,
    port: u16,
    accept_invalid_certs: bool,
    timeout: Duration,
) -> Result<MaybeTlsStream, ConnectError> {
    let server = format!("{host}:{port}");
    let name = ServerName::try_from(host.to_owned()).map_err(|e| ConnectError::Tls {
        server: server.clone(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })?;
    let connector = TlsConnector::from(client_config(accept_invalid_certs));
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Err(_) => Err(ConnectError::Timeout {
            server,
            after: timeout,
        }),
        Ok(Err(source)) => Err(ConnectError::Tls { server, source }),
        Ok(Ok(stream)) => Ok(MaybeTlsStream::Tls(Box::new(stream))),
    }
}

/// The two client configurations, built once per process.
fn client_config(accept_invalid_certs: bool) -> Arc<ClientConfig> {
    static VERIFIED: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    static INSECURE: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let cell = if accept_invalid_certs {
        &INSECURE
    } else {
        &VERIFIED
    };
    cell.get_or_init(|| Arc::new(build_config(accept_invalid_certs)))
        .clone()
}

fn build_config(accept_invalid_certs: bool) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The ring provider supports the default protocol versions; failing
    // here would be a build configuration bug, not a runtime condition.
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring provider supports TLS 1.2 and 1.3");
    if accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    }
}

/// Accepts any server certificate, but still checks that the handshake is
/// signed by the key in it (so the session keys are not trivially forged).
#[derive(Debug)]
struct AcceptAnyCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_mode_names() {
        for (mode, name) in [
            (TlsMode::Implicit, "\"implicit\""),
            (TlsMode::StartTls, "\"starttls\""),
            (TlsMode::None, "\"none\""),
        ] {
            assert_eq!(serde_json::to_string(&mode).unwrap(), name);
            assert_eq!(serde_json::from_str::<TlsMode>(name).unwrap(), mode);
        }
    }

    #[test]
    fn both_configs_build() {
        client_config(true);
        client_config(false);
    }
}
