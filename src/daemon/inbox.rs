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

/// Something in the watched folder that has stopped changing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// A manifest to read.
    Manifest(PathBuf),
    /// Something that can never be a manifest (a folder, a symbolic
    /// link), with the reason, to reject.
    Odd(PathBuf, &'static str),
}

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

    /// Looks at the folder again and returns what is ready: YAML first (a
    /// YAML may name a CSV that then goes with it), then by name.
    pub fn ready(&mut self) -> Vec<Ready> {
        let now = Instant::now();
        let mut present = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                // The entry itself: a symbolic link is not followed here.
                let Ok(meta) = entry.metadata() else { continue };
                let what = match self.classify(&path, &meta) {
                    Some(what) => what,
                    None => continue,
                };
                present.push((what, meta.len(), meta.modified().ok()));
            }
        }
        let mut ready = Vec::new();
        let mut seen = HashMap::with_capacity(present.len());
        for (what, size, modified) in present {
            let path = match &what {
                Ready::Manifest(p) | Ready::Odd(p, _) => p.clone(),
            };
            let since = match self.seen.get(&path) {
                Some(&(s, m, since)) if s == size && m == modified => since,
                _ => now,
            };
            if now.duration_since(since) >= self.settle {
                ready.push(what);
            }
            seen.insert(path, (size, modified, since));
        }
        self.seen = seen;
        ready.sort_by_key(|r| match r {
            Ready::Manifest(p) => (!is_yaml(p), p.clone()),
            Ready::Odd(p, _) => (true, p.clone()),
        });
        ready
    }

    /// What an entry of the folder is: a manifest, an oddity to reject, or
    /// nothing the daemon looks at (hidden and temporary files, other
    /// files, its own `rejected/` and result files).
    fn classify(&self, path: &Path, meta: &std::fs::Metadata) -> Option<Ready> {
        let name = path.file_name()?.to_str()?;
        if name.starts_with('.')
            || name.ends_with(RESULT_ENDING)
            || TEMPORARY_ENDINGS.iter().any(|e| name.ends_with(e))
        {
            return None;
        }
        if meta.is_symlink() {
            return Some(Ready::Odd(path.to_owned(), self.link_problem(path)));
        }
        if meta.is_dir() {
            return (name != "rejected").then(|| {
                Ready::Odd(
                    path.to_owned(),
                    "this is a folder: drop manifest files, not folders",
                )
            });
        }
        (meta.is_file() && is_manifest_name(path)).then(|| Ready::Manifest(path.to_owned()))
    }

    /// Why a symbolic link dropped in is refused.
    fn link_problem(&self, path: &Path) -> &'static str {
        match std::fs::metadata(path) {
            Err(e) if e.raw_os_error() == Some(ELOOP) => {
                "this is a symbolic link that loops: drop the file itself"
            }
            Err(_) => "this is a symbolic link to nothing: drop the file itself",
            Ok(_) => {
                let inside = std::fs::canonicalize(path)
                    .ok()
                    .and_then(|t| t.parent().map(|p| p == self.dir))
                    .unwrap_or(false);
                if inside {
                    "this is a symbolic link: drop the file itself"
                } else {
                    "this is a symbolic link to a file outside the watched folder: drop the \
                     file itself"
                }
            }
        }
    }

    /// Whether `path` is present and has stopped changing.
    pub fn settled(&self, path: &Path) -> bool {
        self.seen
            .get(path)
            .is_some_and(|&(_, _, since)| since.elapsed() >= self.settle)
    }

    /// How long `path` has been unchanged.
    pub fn unchanged_for(&self, path: &Path) -> Duration {
        self.seen
            .get(path)
            .map_or(Duration::ZERO, |&(_, _, since)| since.elapsed())
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

/// `ELOOP` (Linux): too many levels of symbolic links.
const ELOOP: i32 = 40;

/// How the files that tell a dropper the outcome end (`NAME.result.json`).
pub const RESULT_ENDING: &str = ".result.json";

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

/// Whether a path names a YAML file.
pub fn is_yaml(path: &Path) -> bool {
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
        assert_eq!(inbox.ready(), vec![Ready::Manifest(file)]);
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
            .map(|r| match r {
                Ready::Manifest(p) | Ready::Odd(p, _) => {
                    p.file_name().unwrap().to_string_lossy().into_owned()
                }
            })
            .collect();
        assert_eq!(names, ["z.yaml", "a.csv", "b.txt"]);
    }
}
