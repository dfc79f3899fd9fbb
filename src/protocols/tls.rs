//! Connection setup shared by every mail protocol client: TCP with a
//! timeout, then TLS right away (`implicit`), later on request
//! (`starttls`, driven by the protocol client through [`start_tls`]) or
//! never.
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
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub use crate::vocabulary::{Server, TlsMode};

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
    /// The STARTTLS switch was unsafe: the server sent bytes after its
    /// answer to STARTTLS (they would be taken as if they had come over
    /// TLS, the CVE-2011-0411 class), or the connection was already
    /// encrypted.
    #[error("STARTTLS with {server} refused: {detail}")]
    StartTls {
        /// `host:port`.
        server: String,
        /// What was wrong.
        detail: &'static str,
    },
}

impl ConnectError {
    /// Whether trying again later may succeed. A certificate or protocol
    /// mismatch will not fix itself; a refused or reset connection may.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConnectError::Tcp { .. } | ConnectError::Timeout { .. } => true,
            ConnectError::Tls { source, .. } => source.kind() != io::ErrorKind::InvalidData,
            ConnectError::StartTls { .. } => false,
        }
    }
}

/// Opens a TCP connection to `server` and, for [`TlsMode::Implicit`],
/// performs the TLS handshake. For [`TlsMode::StartTls`] the stream is
/// returned plain: the protocol client sends its STARTTLS command and then
/// calls [`start_tls`]. `timeout` bounds the TCP connect and the handshake
/// separately.
pub async fn connect(server: &Server, timeout: Duration) -> Result<MaybeTlsStream, ConnectError> {
    let tcp = match tokio::time::timeout(
        timeout,
        TcpStream::connect((server.host.as_str(), server.port)),
    )
    .await
    {
        Err(_) => {
            return Err(ConnectError::Timeout {
                server: server.to_string(),
                after: timeout,
            });
        }
        Ok(Err(source)) => {
            return Err(ConnectError::Tcp {
                server: server.to_string(),
                source,
            });
        }
        Ok(Ok(tcp)) => tcp,
    };
    // Commands are small and latency matters more than packet count.
    let _ = tcp.set_nodelay(true);
    match server.tls {
        TlsMode::Implicit => upgrade(tcp, server, timeout).await,
        TlsMode::StartTls | TlsMode::None => Ok(MaybeTlsStream::Plain(tcp)),
    }
}

/// The switch to TLS after the server agreed to STARTTLS (IMAP), STLS
/// (POP3) or STARTTLS (ManageSieve, SMTP): refused when the server already
/// sent more than its answer or the connection is encrypted already.
pub async fn start_tls(
    io: BufReader<MaybeTlsStream>,
    server: &Server,
    timeout: Duration,
) -> Result<MaybeTlsStream, ConnectError> {
    let refused = |detail| ConnectError::StartTls {
        server: server.to_string(),
        detail,
    };
    if !io.buffer().is_empty() {
        return Err(refused("data received before the TLS handshake"));
    }
    match io.into_inner() {
        MaybeTlsStream::Plain(tcp) => upgrade(tcp, server, timeout).await,
        MaybeTlsStream::Tls(_) => Err(refused("the connection is encrypted already")),
    }
}

/// Performs the TLS handshake on an established TCP stream, verifying the
/// certificate for `server`'s host unless it accepts invalid certificates.
pub async fn upgrade(
    tcp: TcpStream,
    server: &Server,
    timeout: Duration,
) -> Result<MaybeTlsStream, ConnectError> {
    let name = ServerName::try_from(server.host.clone()).map_err(|e| ConnectError::Tls {
        server: server.to_string(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })?;
    let connector = TlsConnector::from(client_config(server.accept_invalid_certs));
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Err(_) => Err(ConnectError::Timeout {
            server: server.to_string(),
            after: timeout,
        }),
        Ok(Err(source)) => Err(ConnectError::Tls {
            server: server.to_string(),
            source,
        }),
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
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert::new(&provider)))
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
pub struct AcceptAnyCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyCert {
    /// Checks handshake signatures with `provider`'s algorithms.
    pub fn new(provider: &CryptoProvider) -> AcceptAnyCert {
        AcceptAnyCert {
            algorithms: provider.signature_verification_algorithms,
        }
    }
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

    /// Bytes the server sends after its answer to STARTTLS would be read
    /// as if they came over TLS: the switch is refused, for every
    /// protocol alike.
    #[tokio::test]
    async fn start_tls_refuses_bytes_sent_ahead_of_the_handshake() {
        use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server {
            host: "127.0.0.1".into(),
            port: listener.local_addr().unwrap().port(),
            tls: TlsMode::StartTls,
            accept_invalid_certs: true,
        };
        let answer = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            tcp.write_all(b"OK Begin TLS\r\n* injected\r\n")
                .await
                .unwrap();
            tcp
        });
        let timeout = Duration::from_secs(5);
        let mut io = BufReader::new(connect(&server, timeout).await.unwrap());
        let _tcp = answer.await.unwrap();
        let mut line = String::new();
        io.read_line(&mut line).await.unwrap();
        assert_eq!(line, "OK Begin TLS\r\n");
        let error = start_tls(io, &server, timeout).await.unwrap_err();
        assert!(matches!(error, ConnectError::StartTls { .. }), "{error:?}");
        assert!(!error.is_retryable());
    }
}
