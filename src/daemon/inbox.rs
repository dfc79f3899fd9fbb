//! The watched folder's files: which are manifests, and which have stopped
//! changing and may be read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Endings of files that are manifests (YAML, CSV, imapsync batch files,
/// OMM project CSVs).
const MANIFEST_ENDINGS: &[&str] = &["yaml", "yml", "csv", "txt", "json"];

/// Endings of files still being written by some tool.
const TEMPORARY_ENDINGS: &[&str] = &["~", ".part", ".tmp", ".swp", ".crdownload", ".partial"];

/// The files of the watched folder, with how long each has been unchanged.
pub struct Inbox {
    dir: PathBuf,
    settle: Duration,
    /// Size and modification time last seen, and since when unchanged.
    seen: HashMap<PathBuf, (u64, Option<SystemTime>, Instant)>,
}

impl Inbox {
    /// Watches `dir`; a file is ready once unchanged for `settle`.
    pub fn new(dir: &Path, settle: Duration) -> Inbox {
        Inbox {
            dir: dir.to_owned(),
            settle,
            seen: HashMap::new(),
        }
    }

    /// Looks at the folder again and returns the manifests that are ready:
    /// YAML first (a YAML may name a CSV that then goes with it), then by name.
    pub fn ready(&mut self) -> Vec<PathBuf> {
        let now = Instant::now();
        let mut present = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_file() && is_manifest_name(&path) {
                    present.push((path, meta.len(), meta.modified().ok()));
                }
            }
        }
        let mut ready = Vec::new();
        let mut seen = HashMap::with_capacity(present.len());
        for (path, size, modified) in present {
            let since = match self.seen.get(&path) {
                Some(&(s, m, since)) if s == size && m == modified => since,
                _ => now,
            };
            if now.duration_since(since) >= self.settle {
                ready.push(path.clone());
            }
            seen.insert(path, (size, modified, since));
        }
        self.seen = seen;
        ready.sort_by_key(|p| (!is_yaml(p), p.clone()));
        ready
    }

    /// Whether some manifest is waiting to settle.
    pub fn waiting(&self) -> bool {
        !self.seen.is_empty()
    }

    /// Forgets a file (it was moved away).
    pub fn forget(&mut self, path: &Path) {
        self.seen.remove(path);
    }
}

/// Whether a file name is a manifest's, and not a temporary or hidden file.
pub fn is_manifest_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with('.') || TEMPORARY_ENDINGS.iter().any(|e| name.ends_with(e)) {
        return false;
    }
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MANIFEST_ENDINGS.contains(&e.to_ascii_lowercase().as_str()))
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "yaml" | "yml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_and_hidden_files_are_not_manifests() {
        for name in ["a.yaml", "users.CSV", "imapsync.txt", "b.yml"] {
            assert!(is_manifest_name(Path::new(name)), "{name}");
        }
        for name in [
            ".a.yaml",
            "a.yaml~",
            "a.yaml.part",
            "a.csv.tmp",
            "notes.pdf",
            "a",
        ] {
            assert!(!is_manifest_name(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn a_file_is_ready_once_it_stops_changing() {
        let dir = tempfile::tempdir().unwrap();
        let mut inbox = Inbox::new(dir.path(), Duration::from_millis(200));
        let file = dir.path().join("batch.yaml");
        std::fs::write(&file, "batch: x\n").unwrap();
        assert!(inbox.ready().is_empty(), "just written");
        assert!(inbox.waiting());
        std::thread::sleep(Duration::from_millis(120));
        std::fs::write(&file, "batch: x\naccounts: []\n").unwrap();
        assert!(inbox.ready().is_empty(), "still changing");
        std::thread::sleep(Duration::from_millis(120));
        assert!(inbox.ready().is_empty(), "not settled since the change");
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(inbox.ready(), vec![file]);
    }

    #[test]
    fn yaml_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut inbox = Inbox::new(dir.path(), Duration::ZERO);
        for name in ["a.csv", "z.yaml", "b.txt"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        inbox.ready();
        let names: Vec<String> = inbox
            .ready()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["z.yaml", "a.csv", "b.txt"]);
    }
}
