//! iCalendar (`.ics`) and vCard (`.vcf`) files as sources: an exported
//! calendar goes into a destination calendar, an exported address book
//! into a destination address book.
//!
//! The file is read once and split into the resources a server would hold
//! ([`split`]); it then stands in for a source server's home with one
//! collection, named after the calendar (`X-WR-CALNAME`) or the file, so
//! the WebDAV stages ([`super::dav`]) copy it with their checkpoints,
//! counts and undo data: a re-run adds nothing twice (each resource is
//! keyed by the file's name and its UID, versioned by a hash of its
//! content), and undo removes exactly what the import created.

pub mod split;

use std::path::{Path, PathBuf};

use crate::protocols::dav::discovery::Service;
use crate::protocols::dav::{Collection, ItemRef};

/// Why a file source cannot be read. Names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {}: {reason}", path.display())]
    Read {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("{}: {reason}", path.display())]
    Split {
        path: PathBuf,
        reason: split::SplitError,
    },
}

/// The resources of one file, as one collection.
#[derive(Debug, Clone)]
pub struct FileSource {
    collection: Collection,
    items: Vec<(ItemRef, Vec<u8>)>,
}

impl FileSource {
    /// Reads and splits `path`: an iCalendar file for CalDAV, a vCard file
    /// for CardDAV.
    pub fn read(path: &Path, service: Service) -> Result<FileSource, FileError> {
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
        let segment = resource_name(&stem, "");
        let mut collection = Collection {
            href: format!("{segment}/"),
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
                    .map(|o| (resource_name(&o.uid, ".ics"), o.content))
                    .collect()
            }
            Service::CardDav => split::cards(&text)
                .map_err(split_error)?
                .into_iter()
                .map(|c| (resource_name(&c.uid, ".vcf"), c.content))
                .collect(),
        };
        let items = resources
            .into_iter()
            .map(|(name, content)| {
                let etag = blake3::hash(&content).to_hex()[..16].to_owned();
                let href = format!("{}{name}", collection.href);
                (ItemRef { href, etag }, content)
            })
            .collect();
        Ok(FileSource { collection, items })
    }

    /// The file's one collection.
    pub fn collections(&self) -> Vec<Collection> {
        vec![self.collection.clone()]
    }

    /// The resources of the collection.
    pub fn items(&self) -> Vec<ItemRef> {
        self.items.iter().map(|(item, _)| item.clone()).collect()
    }

    /// The content of one resource.
    pub fn get(&self, href: &str) -> Option<&[u8]> {
        self.items
            .iter()
            .find(|(item, _)| item.href == href)
            .map(|(_, content)| content.as_slice())
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
}
