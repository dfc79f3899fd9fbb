//! Where a server is and how a connection to it is secured.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS 993, POP3S 995).
    Implicit,
    /// Plain TCP, upgraded with the protocol's STARTTLS command.
    StartTls,
    /// No TLS at all; only sensible on loopback or a trusted network.
    None,
}

/// A network server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Server {
    /// Host name (also the name its certificate is checked against).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// How the connection is secured.
    pub tls: TlsMode,
    /// Accept a self-signed or otherwise invalid certificate.
    pub accept_invalid_certs: bool,
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}
