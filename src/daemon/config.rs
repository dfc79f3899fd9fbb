//! The daemon's configuration file (YAML); command-line flags override it.
//! `examples/mailshift-daemon.yaml` shows every field.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

/// The daemon's settings. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// The state database.
    pub state: Option<PathBuf>,
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
}

impl DaemonConfig {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<DaemonConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Cannot read the configuration {}", path.display()))?;
        serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn settle(&self) -> Duration {
        Duration::from_secs_f64(self.settle_seconds.unwrap_or(2) as f64)
    }

    pub fn rescan(&self) -> Duration {
        Duration::from_secs(self.rescan_seconds.unwrap_or(30).max(1))
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_seconds.unwrap_or(60))
    }

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

    #[test]
    fn an_unknown_field_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.yaml");
        std::fs::write(&path, "setle_seconds: 3\n").unwrap();
        let error = DaemonConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("setle_seconds"), "{error}");
    }
}
