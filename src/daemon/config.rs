//! The daemon's configuration file (YAML); command-line flags override it.
//! `examples/mailshift-daemon.yaml` shows every field.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::manifest::diagnostic::{Diagnostics, Place, Position};
use crate::manifest::model::SmtpSpec;
use crate::plan::Plan;
use crate::protocols::smtp::SmtpConfig;
use crate::store::StateLocation;
use crate::vocabulary::{PasswordHash, Secret};

/// The daemon's settings. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// The state database.
    pub state: Option<StateLocation>,
    /// Where report folders go.
    pub reports: Option<PathBuf>,
    /// The daemon's own area for accepted manifests (`accepted/`, `done/`,
    /// `failed/`); it holds passwords, so only the daemon's user may read it.
    pub area: Option<PathBuf>,
    /// Seconds a file must stay unchanged before it is read. Default 2.
    pub settle_seconds: Option<u64>,
    /// Seconds between rescans of the folder (in case events are lost). Default 30.
    pub rescan_seconds: Option<u64>,
    /// Seconds running batches get to stop on SIGTERM. Default 60.
    pub shutdown_timeout_seconds: Option<u64>,
    /// Connections to one host across every batch at once. Default 16.
    pub connections_per_host: Option<usize>,
    /// The address told of every file rejected (through `smtp`).
    pub admin: Option<String>,
    /// Run the valid accounts of a manifest with invalid ones (listed in
    /// its `NAME.result.json`) instead of rejecting it. Default false.
    pub skip_invalid: Option<bool>,
    /// Queue accepted batches for `mailshift worker`s (which read the
    /// manifests from the area, so it must be on a volume they share)
    /// instead of running them here. Default false.
    pub no_run: Option<bool>,
    /// The notification server for batches whose manifest has no `smtp:`
    /// section; the same fields as the manifest's.
    pub smtp: Option<SmtpSpec>,
    /// The status pages (`mailshift serve`, `watch --serve`): who may open
    /// the admin dashboard.
    pub web: Option<WebConfig>,
    /// `smtp`, checked when the file is loaded.
    #[serde(skip)]
    smtp_config: Option<SmtpConfig>,
}

/// The `web:` section: the admin login of the status pages. Each way in
/// is optional; with none, `/admin` lets nobody in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// The admin password's hash, from `mailshift hash-password`, as
    /// written: read by [`DaemonConfig::load`], whose errors never quote
    /// it.
    #[serde(rename = "admin_password_hash")]
    admin_password_hash_text: Option<Secret>,
    /// The admin password's hash, read.
    #[serde(skip)]
    pub admin_password_hash: Option<PasswordHash>,
    /// A file holding the admin token (the bearer token of the admin API,
    /// also accepted on the login form); relative to the configuration's
    /// folder.
    pub admin_token_file: Option<PathBuf>,
    /// A header a trusted reverse proxy sets to the name of the admin it
    /// authenticated (`X-Remote-User`); believed only from
    /// `trusted_proxies`.
    pub admin_user_header: Option<String>,
    /// Reverse proxies in front: their `X-Forwarded-For` names the client,
    /// and their `admin_user_header` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<IpAddr>,
}

impl DaemonConfig {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<DaemonConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Cannot read the configuration {}", path.display()))?;
        let mut config: DaemonConfig = serde_saphyr::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if let Some(spec) = &config.smtp {
            let file = Arc::new(path.to_path_buf());
            let place = |field: &[&str]| Place {
                file: Arc::clone(&file),
                position: Position::File,
                field: Some(field.join(".")),
            };
            let mut diagnostics = Diagnostics::new();
            let smtp = SmtpConfig::from_spec(spec, path, &place, &mut diagnostics);
            if diagnostics.has_errors() {
                anyhow::bail!("{diagnostics}");
            }
            config.smtp_config = Some(smtp);
        }
        if let Some(web) = &mut config.web {
            if let Some(text) = web.admin_password_hash_text.take() {
                let hash = PasswordHash::parse(text.expose()).map_err(|e| {
                    anyhow::anyhow!("{}: web.admin_password_hash {e}", path.display())
                })?;
                web.admin_password_hash = Some(hash);
            }
            if let Some(file) = &mut web.admin_token_file
                && file.is_relative()
            {
                *file = path.parent().unwrap_or(Path::new(".")).join(&*file);
            }
        }
        Ok(config)
    }

    /// The notification server of the configuration, checked.
    pub fn smtp_config(&self) -> Option<&SmtpConfig> {
        self.smtp_config.as_ref()
    }

    /// Gives `plan` the configuration's notification server when its
    /// manifest names none.
    pub fn fill_in_smtp(&self, plan: &mut Plan) {
        if plan.smtp.is_none() {
            plan.smtp = self.smtp_config.clone();
        }
    }

    /// How long a dropped file must stay unchanged before it is read (2 s).
    pub fn settle(&self) -> Duration {
        Duration::from_secs_f64(self.settle_seconds.unwrap_or(2) as f64)
    }

    /// How often the folder is scanned even without a change event (30 s).
    pub fn rescan(&self) -> Duration {
        Duration::from_secs(self.rescan_seconds.unwrap_or(30).max(1))
    }

    /// How long running batches get to stop after SIGTERM (60 s).
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_seconds.unwrap_or(60))
    }

    /// Whether a manifest with invalid accounts runs its valid ones.
    pub fn skip_invalid(&self) -> bool {
        self.skip_invalid.unwrap_or(false)
    }

    /// Whether accepted batches go to workers rather than run here.
    pub fn no_run(&self) -> bool {
        self.no_run.unwrap_or(false)
    }

    /// Connections to one host across every batch (16).
    pub fn connections_per_host(&self) -> usize {
        self.connections_per_host.unwrap_or(16).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_configuration_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mailshift-daemon.yaml");
        let config = DaemonConfig::load(&path).unwrap();
        assert_eq!(config.settle(), Duration::from_secs(2));
        assert_eq!(config.connections_per_host(), 16);
        assert!(config.area.is_some() && config.state.is_some());
    }

    /// The example's commented `smtp:` section, uncommented.
    fn example_smtp_section() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mailshift-daemon.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "#smtp:")
            .take_while(|l| l.starts_with('#'))
            .map(|l| &l[1..])
            .collect();
        assert!(lines.len() > 3, "no smtp example: {lines:?}");
        lines.join("\n") + "\n"
    }

    #[test]
    fn the_example_smtp_section_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.yaml");
        std::fs::write(&path, example_smtp_section()).unwrap();
        let config = DaemonConfig::load(&path).unwrap();
        let smtp = config.smtp_config().expect("the smtp section is used");
        assert_eq!(smtp.server.host, "smtp.example.com");
        assert_eq!(smtp.server.port, 587);
        assert_eq!(smtp.server.tls, crate::protocols::tls::TlsMode::StartTls);
        assert_eq!(smtp.from, "mailshift <noreply@example.com>");
        assert_eq!(smtp.user.as_deref(), Some("noreply@example.com"));
        assert!(
            matches!(&smtp.credential, crate::plan::Credential::PasswordFile(f)
                if *f == dir.path().join("smtp-password")),
            "relative to the configuration file: {:?}",
            smtp.credential
        );
    }

    #[test]
    fn a_wrong_smtp_section_is_an_error_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.yaml");
        std::fs::write(&path, "smtp: {host: smtp.example.com, from: nobody}\n").unwrap();
        let error = DaemonConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("smtp.from"), "{error}");
        assert!(error.contains("is not an email address"), "{error}");
        assert!(error.contains("daemon.yaml"), "{error}");
    }

    #[test]
    fn a_plan_without_smtp_gets_the_daemons() {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("daemon.yaml");
        std::fs::write(
            &config_path,
            "smtp: {host: daemon-smtp.example, tls: implicit, from: ops@example.com}\n",
        )
        .unwrap();
        let config = DaemonConfig::load(&config_path).unwrap();
        let endpoints = "source: {kind: imap, host: imap.old.example, tls: implicit, \
                         email: a@old.example, password: x}\n    \
                         destination: {kind: imap, host: imap.new.example, tls: implicit, \
                         email: a@new.example, password: y}\n";
        let manifest = |name: &str, extra: &str| {
            let path = dir.path().join(name);
            std::fs::write(
                &path,
                format!("batch: b\n{extra}accounts:\n  - {endpoints}"),
            )
            .unwrap();
            crate::plan::from_file(&path).unwrap()
        };

        let mut plan = manifest("plain.yaml", "");
        assert!(plan.smtp.is_none());
        config.fill_in_smtp(&mut plan);
        let smtp = plan.smtp.as_ref().expect("the daemon's server");
        assert_eq!(
            (
                smtp.server.host.as_str(),
                smtp.server.port,
                smtp.from.as_str()
            ),
            ("daemon-smtp.example", 465, "ops@example.com")
        );

        // A manifest's own server wins.
        let mut plan = manifest(
            "own.yaml",
            "smtp: {host: own-smtp.example, from: me@example.com}\n",
        );
        config.fill_in_smtp(&mut plan);
        assert_eq!(plan.smtp.unwrap().server.host, "own-smtp.example");

        // No server anywhere: none.
        let mut plan = manifest("none.yaml", "");
        DaemonConfig::default().fill_in_smtp(&mut plan);
        assert!(plan.smtp.is_none());
    }

    #[test]
    fn the_web_section_reads_and_a_wrong_hash_is_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.yaml");
        let hash = PasswordHash::new("s3cret", 1000).unwrap().to_phc();
        std::fs::write(
            &path,
            format!(
                "web:\n  admin_password_hash: \"{hash}\"\n  admin_token_file: token\n  \
                 admin_user_header: X-Remote-User\n  trusted_proxies: [10.0.0.1]\n"
            ),
        )
        .unwrap();
        let web = DaemonConfig::load(&path).unwrap().web.unwrap();
        assert!(web.admin_password_hash.unwrap().verify("s3cret"));
        assert_eq!(web.admin_token_file, Some(dir.path().join("token")));
        assert_eq!(web.admin_user_header.as_deref(), Some("X-Remote-User"));
        assert_eq!(web.trusted_proxies, ["10.0.0.1".parse::<IpAddr>().unwrap()]);

        let wrong = &hash[..hash.len() - 3].replace("$i=", "$n=");
        std::fs::write(&path, format!("web:\n  admin_password_hash: \"{wrong}\"\n")).unwrap();
        let error = format!("{:#}", DaemonConfig::load(&path).unwrap_err());
        assert!(
            error.contains("web.admin_password_hash is not a password hash"),
            "{error}"
        );
        let salt = wrong.split('$').nth(3).unwrap();
        assert!(!error.contains(salt), "the hash is quoted: {error}");
    }

    #[test]
    fn an_unknown_field_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.yaml");
        std::fs::write(&path, "setle_seconds: 3\n").unwrap();
        let error = DaemonConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("setle_seconds"), "{error}");
    }
}
