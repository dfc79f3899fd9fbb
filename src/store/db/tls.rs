//! TLS to PostgreSQL, as libpq's `sslmode` and `sslrootcert` parameters
//! say in the state URL:
//!
//! - `disable`: never;
//! - `allow`, `prefer` (the default): when the server offers it, without
//!   checking its certificate;
//! - `require`: always, without checking the certificate;
//! - `verify-ca`: always, the certificate signed by a trusted authority;
//! - `verify-full`: that, and issued for the host named in the URL.
//!
//! The trusted authorities are those of the PEM file `sslrootcert` names,
//! else the Mozilla roots (`sslrootcert=system` says so explicitly).
//! Both parameters are taken out of the URL here: the driver knows
//! neither `verify-*` nor `sslrootcert`.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::formats::percent;
use crate::protocols::tls::insecure_client_config;

/// How to connect: the URL the driver is given, and the TLS connector
/// (none for `sslmode=disable`).
pub(super) struct Tls {
    /// The URL without `sslrootcert`, and with the `sslmode` the driver
    /// knows (`disable`, `prefer`, `require`).
    pub url: String,
    /// The TLS connector, unless TLS is disabled.
    pub connector: Option<MakeRustlsConnect>,
}

/// Reads the TLS parameters of a state URL; an error says which is wrong
/// (never quoting the URL, which may hold a password).
pub(super) fn from_url(url: &str) -> Result<Tls, String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = "prefer".to_owned();
    let mut root = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", value)) => mode = value.to_owned(),
            Some(("sslrootcert", value)) => root = Some(percent::decode(value)),
            _ => kept.push(pair),
        }
    }
    // The mode the driver is given, and how the certificate is checked.
    let (driver_mode, config) = match mode.as_str() {
        "disable" => ("disable", None),
        "allow" | "prefer" => ("prefer", Some(insecure_client_config())),
        "require" => ("require", Some(insecure_client_config())),
        "verify-ca" => (
            "require",
            Some(Arc::new(verifying(root.as_deref(), false)?)),
        ),
        "verify-full" => ("require", Some(Arc::new(verifying(root.as_deref(), true)?))),
        other => {
            return Err(format!(
                "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
            ));
        }
    };
    let mode = format!("sslmode={driver_mode}");
    kept.push(&mode);
    Ok(Tls {
        url: format!("{base}?{}", kept.join("&")),
        connector: config.map(|config| MakeRustlsConnect::new((*config).clone())),
    })
}

/// A client configuration that checks the server's certificate against
/// `root` (a PEM file; the Mozilla roots when `None` or `system`), and
/// its host name when `check_host`.
fn verifying(root: Option<&str>, check_host: bool) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    match root {
        None | Some("system") => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certificates = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("sslrootcert {path} cannot be read: {e}"))?;
            let (added, _) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(format!("sslrootcert {path} holds no certificate"));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("the trusted certificates cannot be used: {e}"))?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    Ok(if check_host {
        builder.with_webpki_verifier(verifier).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(verifier)))
            .with_no_client_auth()
    })
}

/// `verify-ca`: the chain is checked, the host name is not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_gets_a_mode_it_knows_and_no_root_file() {
        let tls = from_url("postgres://u:p@h/db?sslmode=verify-ca&application_name=x").unwrap();
        assert_eq!(
            tls.url,
            "postgres://u:p@h/db?application_name=x&sslmode=require"
        );
        assert!(tls.connector.is_some());
        let tls = from_url("postgres://u@h/db").unwrap();
        assert_eq!(tls.url, "postgres://u@h/db?sslmode=prefer");
        let tls = from_url("postgres://h/db?sslmode=disable").unwrap();
        assert!(tls.connector.is_none());
        let wrong = from_url("postgres://u:secret@h/db?sslmode=verify")
            .err()
            .unwrap();
        assert!(
            wrong.contains("sslmode=verify") && !wrong.contains("secret"),
            "{wrong}"
        );
        let missing = from_url("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent.pem")
            .err()
            .unwrap();
        assert!(missing.contains("/nonexistent.pem"), "{missing}");
    }
}

#[cfg(test)]
mod against_postgres {
    use crate::store::testing::server::Postgres;
    use crate::store::{StateLocation, Store, StoreError};

    /// Whether the store's own connection to the database is encrypted.
    async fn encrypted(store: &Store) -> bool {
        let ssl: i64 = store
            .call(|db| {
                db.query_row(
                    "SELECT CASE WHEN ssl THEN 1 ELSE 0 END::bigint FROM pg_stat_ssl
                     WHERE pid = pg_backend_pid()",
                    vec![],
                    |row| row.get(0),
                )
            })
            .await
            .unwrap();
        ssl == 1
    }

    fn open(url: &str) -> Result<Store, StoreError> {
        Store::open(url.parse::<StateLocation>().unwrap())
    }

    #[tokio::test]
    async fn tls_to_postgres_is_used_and_checked_as_sslmode_says() {
        let (server, cert) = Postgres::start_tls();
        // Any password logs in (the cluster trusts loopback); none is shown.
        let url = server
            .database("mailshift")
            .replace("postgres@", "postgres:pw-7c1e@");
        let root = format!("sslrootcert={}", cert.display());
        let verified = open(&format!("{url}?sslmode=verify-full&{root}")).unwrap();
        assert!(encrypted(&verified).await);
        // The same server under a name its certificate does not give:
        // verify-ca takes it, verify-full does not.
        let renamed = url.replace("127.0.0.1", "db.example.test");
        let renamed = format!("{renamed}?hostaddr=127.0.0.1&{root}");
        let chain_only = open(&format!("{renamed}&sslmode=verify-ca")).unwrap();
        assert!(encrypted(&chain_only).await);
        let wrong_name = open(&format!("{renamed}&sslmode=verify-full"))
            .err()
            .unwrap();
        assert!(
            wrong_name.to_string().contains("certificate"),
            "{wrong_name}"
        );
        for mode in ["prefer", "require"] {
            let store = open(&format!("{url}?sslmode={mode}")).unwrap();
            assert!(encrypted(&store).await, "{mode}");
        }
        assert!(!encrypted(&open(&format!("{url}?sslmode=disable")).unwrap()).await);
        // Not signed by a trusted authority (the Mozilla roots).
        let refused = open(&format!("{url}?sslmode=verify-full")).err().unwrap();
        let said = refused.to_string();
        assert!(said.contains("certificate"), "{said}");
        assert!(!said.contains("pw-7c1e"), "{said}");
    }
}
