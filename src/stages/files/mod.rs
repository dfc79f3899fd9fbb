//! Files as the source of the WebDAV stages: an exported calendar
//! (`.ics`) goes into a destination calendar, an exported address book
//! (`.vcf`) into a destination address book, and the contact, calendar
//! and task folders of an Outlook PST file into address books and
//! calendars ([`pst`]).
//!
//! The file is read once and turned into the resources a server would
//! hold ([`split`] for `.ics`/`.vcf`); it then stands in for a source
//! server's home (one collection for an `.ics` or `.vcf` file, named after
//! the calendar's `X-WR-CALNAME` or the file; one per folder of a PST), so
//! the WebDAV stages ([`super::dav`]) copy it with their checkpoints,
//! counts and undo data: a re-run adds nothing twice (each resource is
//! keyed by its collection and its UID, versioned by a hash of its
//! content), and undo removes exactly what the import created.

pub mod pst;
pub mod split;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::OnceCell;

use crate::plan::{EndpointKind, StageKind};
use crate::protocols::dav::discovery::Service;
use crate::protocols::dav::{Collection, ItemRef};
use crate::protocols::pst::PstError;

/// Why a file source cannot be read. Names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read.
    #[error("cannot read {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: std::io::Error,
    },
    /// The file is read but cannot be split into items.
    #[error("{}: {reason}", path.display())]
    Split {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: split::SplitError,
    },
    /// The PST file cannot be read.
    #[error(transparent)]
    Pst(#[from] PstError),
}

/// The files an account's WebDAV stages read, kept while the account
/// runs: both stages of a service (contacts and contact groups, calendars
/// and tasks) read and convert the file once.
#[derive(Debug, Default)]
pub struct FileCache {
    caldav: OnceCell<Arc<FileSource>>,
    carddav: OnceCell<Arc<FileSource>>,
}

impl FileCache {
    /// `path` read as a source of `kind` for `service`: the first call
    /// reads it (off the runtime's threads: a large PST takes a while),
    /// the next ones share what it read. A failed read is not kept.
    pub async fn read(
        &self,
        path: &Path,
        kind: EndpointKind,
        service: Service,
    ) -> anyhow::Result<Arc<FileSource>> {
        let cell = match service {
            Service::CalDav => &self.caldav,
            Service::CardDav => &self.carddav,
        };
        let file = cell
            .get_or_try_init(|| async {
                let path = path.to_owned();
                let file =
                    tokio::task::spawn_blocking(move || FileSource::read(&path, kind, service))
                        .await
                        .context("Reading the source file")??;
                anyhow::Ok(Arc::new(file))
            })
            .await?;
        Ok(file.clone())
    }
}

/// The resources of one file, as the collections of a home.
#[derive(Debug, Clone, Default)]
pub struct FileSource {
    collections: Vec<FileCollection>,
    /// Where each resource is: href → (collection, item) indexes.
    index: HashMap<String, (usize, usize)>,
}

#[derive(Debug, Clone)]
struct FileCollection {
    collection: Collection,
    /// `.ics` or `.vcf`: the ending of its resource names.
    extension: &'static str,
    items: Vec<FileItem>,
    /// The resource names given so far.
    names: HashSet<String>,
}

/// One resource of a file, or why it could not be made.
#[derive(Debug, Clone)]
struct FileItem {
    item: ItemRef,
    content: Result<Vec<u8>, Unreadable>,
    /// What it is imported without, for the report.
    warnings: Vec<String>,
}

/// A source item that cannot be read (a damaged PST item, a resource the
/// server refuses to give), and the stage whose count it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// Why it cannot be read.
    pub reason: String,
    /// `None`: every stage that visits its collection.
    pub stage: Option<StageKind>,
}

impl FileSource {
    /// Reads `path` as a source of `kind` for `service`: an iCalendar file
    /// for CalDAV, a vCard file for CardDAV, a PST file for either.
    pub fn read(
        path: &Path,
        kind: EndpointKind,
        service: Service,
    ) -> Result<FileSource, FileError> {
        if kind == EndpointKind::Pst {
            return pst::read(path, service);
        }
        let text = std::fs::read(path).map_err(|reason| FileError::Read {
            path: path.to_owned(),
            reason,
        })?;
        let split_error = |reason| FileError::Split {
            path: path.to_owned(),
            reason,
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut collection = Collection {
            href: format!("{}/", resource_name(&stem, "")),
            display_name: Some(stem),
            ..Collection::default()
        };
        let resources: Vec<(String, Vec<u8>)> = match service {
            Service::CalDav => {
                let calendar = split::calendar(&text).map_err(split_error)?;
                collection.display_name = calendar.name.or(collection.display_name);
                collection.description = calendar.description;
                for object in &calendar.objects {
                    if !collection.components.contains(&object.component) {
                        collection.components.push(object.component.clone());
                    }
                }
                calendar
                    .objects
                    .into_iter()
                    .map(|o| (o.uid, o.content))
                    .collect()
            }
            Service::CardDav => split::cards(&text)
                .map_err(split_error)?
                .into_iter()
                .map(|c| (c.uid, c.content))
                .collect(),
        };
        let mut source = FileSource::default();
        source.add(collection, service);
        for (uid, content) in resources {
            source.push(&uid, Ok(content), Vec::new());
        }
        Ok(source)
    }

    /// Starts a new collection; [`FileSource::push`] adds to it.
    fn add(&mut self, collection: Collection, service: Service) {
        let extension = match service {
            Service::CalDav => ".ics",
            Service::CardDav => ".vcf",
        };
        self.collections.push(FileCollection {
            collection,
            extension,
            items: Vec::new(),
            names: HashSet::new(),
        });
    }

    /// Adds a resource for `uid` to the last collection, named after the
    /// UID (made unique in the collection), versioned by a hash of its
    /// content.
    fn push(&mut self, uid: &str, content: Result<Vec<u8>, Unreadable>, warnings: Vec<String>) {
        let at = self.collections.len().saturating_sub(1);
        let Some(last) = self.collections.last_mut() else {
            return;
        };
        let mut name = resource_name(uid, last.extension);
        let mut n = 2;
        while !last.names.insert(name.clone()) {
            name = resource_name(&format!("{uid}-{n}"), last.extension);
            n += 1;
        }
        let etag = match &content {
            Ok(bytes) => blake3::hash(bytes).to_hex()[..16].to_owned(),
            Err(_) => String::new(),
        };
        let href = format!("{}{name}", last.collection.href);
        self.index.insert(href.clone(), (at, last.items.len()));
        last.items.push(FileItem {
            item: ItemRef { href, etag },
            content,
            warnings,
        });
    }

    /// The file's collections.
    pub fn collections(&self) -> Vec<Collection> {
        self.collections
            .iter()
            .map(|c| c.collection.clone())
            .collect()
    }

    /// The resources of one collection (all of them with `None`).
    pub fn items(&self, collection: Option<&str>) -> Vec<ItemRef> {
        self.collections
            .iter()
            .filter(|c| collection.is_none_or(|href| c.collection.href == href))
            .flat_map(|c| c.items.iter().map(|i| i.item.clone()))
            .collect()
    }

    fn item(&self, href: &str) -> Option<&FileItem> {
        let &(collection, item) = self.index.get(href)?;
        self.collections.get(collection)?.items.get(item)
    }

    /// The content of one resource, or why it could not be made.
    pub fn get(&self, href: &str) -> Result<&[u8], Unreadable> {
        match self.item(href) {
            Some(item) => item.content.as_deref().map_err(Clone::clone),
            None => Err(Unreadable {
                reason: format!("{href} is not in the file"),
                stage: None,
            }),
        }
    }

    /// What one resource is imported without (empty for most).
    pub fn warnings(&self, href: &str) -> &[String] {
        self.item(href).map_or(&[], |i| &i.warnings)
    }
}

/// A resource name for a UID: the UID itself when it is made of safe
/// characters, else its safe characters and a hash that keeps two UIDs
/// apart.
fn resource_name(uid: &str, extension: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@');
    if !uid.is_empty() && uid.len() <= 120 && uid.chars().all(safe) {
        return format!("{uid}{extension}");
    }
    let kept: String = uid.chars().filter(|c| safe(*c)).take(60).collect();
    let hash = blake3::hash(uid.as_bytes()).to_hex();
    format!("{kept}-{}{extension}", &hash[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_are_safe_and_distinct() {
        assert_eq!(
            resource_name("abc@example.org", ".ics"),
            "abc@example.org.ics"
        );
        let a = resource_name("a/b c", ".ics");
        let b = resource_name("a/b  c", ".ics");
        assert!(a.starts_with("abc-") && a.ends_with(".ics"), "{a}");
        assert_ne!(a, b);
        assert!(!resource_name("Zoë", ".vcf").contains('ë'));
    }

    #[tokio::test]
    async fn both_stages_of_a_service_share_one_read_of_the_file() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("people.vcf");
        let card =
            |uid: &str| format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:A\r\nEND:VCARD\r\n");
        std::fs::write(&path, card("first")).unwrap();
        let cache = FileCache::default();
        let read = || cache.read(&path, EndpointKind::Vcf, Service::CardDav);
        let first = read().await.unwrap();
        // A second read is the first one's: the file is not read again.
        std::fs::write(&path, card("second")).unwrap();
        let again = read().await.unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert!(again.items(None)[0].href.ends_with("/first.vcf"));
        // A failed read is not kept: the next one reads the file.
        let missing = FileCache::default();
        let gone = dir.path().join("gone.vcf");
        assert!(
            missing
                .read(&gone, EndpointKind::Vcf, Service::CardDav)
                .await
                .is_err()
        );
        std::fs::write(&gone, card("late")).unwrap();
        let late = missing
            .read(&gone, EndpointKind::Vcf, Service::CardDav)
            .await
            .unwrap();
        assert!(late.items(None)[0].href.ends_with("/late.vcf"));
    }
}
