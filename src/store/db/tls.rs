//! TLS to PostgreSQL, as libpq's `sslmode`, `sslrootcert`, `sslcert` and
//! `sslkey` parameters say in the state URL:
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
//! `sslcert` and `sslkey` name this client's certificate (PEM, its chain
//! may follow) and private key, for a server that asks for one (`cert`
//! in `pg_hba.conf`); as libpq, the key file is refused when others than
//! its owner may read it (or than its group, when root owns it).
//!
//! These parameters are taken out of the URL here: the driver knows none
//! of them but `sslmode`, and of its values not `verify-*`.

use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::formats::percent;
use crate::protocols::tls::AcceptAnyCert;

/// How to connect: the URL the driver is given, and the TLS connector
/// (none for `sslmode=disable`).
pub(super) struct Tls {
    /// The URL without the file parameters, and with the `sslmode` the
    /// driver knows (`disable`, `prefer`, `require`).
    pub url: String,
    /// The TLS connector, unless TLS is disabled.
    pub connector: Option<MakeRustlsConnect>,
}

/// The TLS parameters of a state URL.
#[derive(Default)]
struct Params {
    mode: Option<String>,
    root: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

/// Reads the TLS parameters of a state URL; an error says which is wrong
/// (never quoting the URL, which may hold a password, nor a file's text).
pub(super) fn from_url(url: &str) -> Result<Tls, String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params = Params::default();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let slot = match pair.split_once('=') {
            Some(("sslmode", value)) => Some((&mut params.mode, value)),
            Some(("sslrootcert", value)) => Some((&mut params.root, value)),
            Some(("sslcert", value)) => Some((&mut params.cert, value)),
            Some(("sslkey", value)) => Some((&mut params.key, value)),
            _ => None,
        };
        match slot {
            Some((slot, value)) => *slot = Some(percent::decode(value)),
            None => kept.push(pair),
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mode = params.mode.as_deref().unwrap_or("prefer");
    // The mode the driver is given, and how the certificate is checked.
    let (driver_mode, verifier): (_, Option<Arc<dyn ServerCertVerifier>>) = match mode {
        "disable" => ("disable", None),
        "allow" | "prefer" => ("prefer", Some(Arc::new(AcceptAnyCert::new(&provider)))),
        "require" => ("require", Some(Arc::new(AcceptAnyCert::new(&provider)))),
        "verify-ca" => (
            "require",
            Some(Arc::new(AnyName(webpki(
                params.root.as_deref(),
                &provider,
            )?))),
        ),
        "verify-full" => ("require", Some(webpki(params.root.as_deref(), &provider)?)),
        other => {
            return Err(format!(
                "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
            ));
        }
    };
    let connector = match verifier {
        Some(verifier) => {
            let identity = identity(params.cert.as_deref(), params.key.as_deref())?;
            Some(MakeRustlsConnect::new(config(
                provider, verifier, identity,
            )?))
        }
        None => None,
    };
    let mode = format!("sslmode={driver_mode}");
    kept.push(&mode);
    Ok(Tls {
        url: format!("{base}?{}", kept.join("&")),
        connector,
    })
}

/// A client configuration checking the server with `verifier`, and
/// showing `identity` when the server asks for a certificate.
fn config(
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
    identity: Option<Identity>,
) -> Result<ClientConfig, String> {
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some(Identity { chain, key, path }) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("sslkey {path} does not go with sslcert: {e}")),
    }
}

/// The verifier of the chain and host name against `root` (a PEM file;
/// the Mozilla roots when `None` or `system`).
fn webpki(
    root: Option<&str>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut roots = RootCertStore::empty();
    match root {
        None | Some("system") => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let (added, _) = roots.add_parsable_certificates(certificates("sslrootcert", path)?);
            if added == 0 {
                return Err(format!("sslrootcert {path} holds no certificate"));
            }
        }
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("the trusted certificates cannot be used: {e}"))
}

/// The certificates of the PEM file at `path`, given as `param`.
fn certificates(param: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let read = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{param} {path} cannot be read: {e}"))?;
    if read.is_empty() {
        return Err(format!("{param} {path} holds no certificate"));
    }
    Ok(read)
}

/// This client's certificate chain and private key.
struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The key file's path, for errors.
    path: String,
}

/// The client identity of `sslcert` and `sslkey`: both or neither.
fn identity(cert: Option<&str>, key: Option<&str>) -> Result<Option<Identity>, String> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        (Some(_), None) => return Err("sslcert is given without its sslkey".to_owned()),
        (None, Some(_)) => return Err("sslkey is given without its sslcert".to_owned()),
    };
    private(key)?;
    // The key's own parser error is not shown: it could quote the file.
    let private = PrivateKeyDer::from_pem_file(key).map_err(|_| {
        format!("sslkey {key} cannot be read as a PEM private key (PKCS#8, PKCS#1 or SEC1)")
    })?;
    Ok(Some(Identity {
        chain: certificates("sslcert", cert)?,
        key: private,
        path: key.to_owned(),
    }))
}

/// Refuses a key file others may read, as libpq does: at most `u=rw`
/// (0600), or `u=rw,g=r` (0640) when root owns it.
fn private(key: &str) -> Result<(), String> {
    let meta = std::fs::metadata(key).map_err(|e| format!("sslkey {key} cannot be read: {e}"))?;
    let mode = meta.mode() & 0o777;
    let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
    if mode & !allowed != 0 {
        return Err(format!(
            "sslkey {key} may be read by others (mode {mode:o}): make it u=rw (0600), \
             or u=rw,g=r (0640) when root owns it"
        ));
    }
    Ok(())
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
        let tls = from_url("postgres://h/db?sslmode=disable&sslcert=/c.pem&sslkey=/k.pem").unwrap();
        assert_eq!(tls.url, "postgres://h/db?sslmode=disable");
        for (query, said) in [
            ("sslcert=/c.pem", "sslcert is given without its sslkey"),
            ("sslkey=/k.pem", "sslkey is given without its sslcert"),
        ] {
            let lone = from_url(&format!("postgres://h/db?{query}")).err().unwrap();
            assert_eq!(lone, said);
        }
    }

    #[test]
    fn a_client_key_others_may_read_is_refused_and_never_quoted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.crt"), dir.path().join("c.key"));
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleQ==\n").unwrap();
        let url = format!(
            "postgres://h/db?sslmode=require&sslcert={}&sslkey={}",
            cert.display(),
            key.display()
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = from_url(&url).err().unwrap();
        assert!(open.contains("may be read by others (mode 644)"), "{open}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let broken = from_url(&url).err().unwrap();
        assert!(
            broken.contains("cannot be read as a PEM private key"),
            "{broken}"
        );
        assert!(!broken.contains("c2VjcmV0"), "{broken}");
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

    #[tokio::test]
    async fn a_role_that_needs_a_client_certificate_logs_in_with_sslcert_and_sslkey() {
        use crate::store::testing::server::CERTIFIED;
        let (server, authority) = Postgres::start_tls();
        let url = server
            .database("certified")
            .replace("postgres@", &format!("{CERTIFIED}@"));
        let (cert, key) = server.client_identity();
        let verify = format!("sslmode=verify-full&sslrootcert={}", authority.display());
        // Without a certificate the server refuses the role.
        let refused = open(&format!("{url}?{verify}")).err().unwrap();
        assert!(
            refused
                .to_string()
                .contains("requires a valid client certificate"),
            "{refused}"
        );
        let identity = format!("sslcert={}&sslkey={}", cert.display(), key.display());
        let store = open(&format!("{url}?{verify}&{identity}")).unwrap();
        assert!(encrypted(&store).await);
        let user: String = store
            .call(|db| db.query_row("SELECT current_user::text", vec![], |row| row.get(0)))
            .await
            .unwrap();
        assert_eq!(user, CERTIFIED);
        // Without checking the server, the client still shows its own.
        let store = open(&format!("{url}?sslmode=require&{identity}")).unwrap();
        assert!(encrypted(&store).await);
        // This key does not go with another certificate (the server's).
        let other_cert = cert.with_file_name("server.crt");
        let mismatched = format!("sslcert={}&sslkey={}", other_cert.display(), key.display());
        let wrong = open(&format!("{url}?{verify}&{mismatched}")).err().unwrap();
        assert!(
            wrong.to_string().contains("does not go with sslcert"),
            "{wrong}"
        );
    }
}
