//! Where a WebDAV stage reads: a server's home collection, or a file
//! standing in for one, fetched a batch of resources at a time.

use std::collections::HashMap;
use std::sync::Arc;

use super::{client, retrying};
use crate::formats::percent;
use crate::protocols::dav::discovery::Service;
use crate::protocols::dav::{Collection, DavClient, DavError, ItemRef, Multiget};
use crate::stages::context::AccountContext;
use crate::stages::files::{FileSource, Unreadable};

/// Where a WebDAV stage reads: a server's home collection, or a file
/// (`.ics`, `.vcf`, PST) standing in for one.
pub enum Source {
    /// A CalDAV or CardDAV server's home.
    Server(DavClient),
    /// A file, read once for both stages of its service.
    File(Arc<FileSource>),
}

impl Source {
    /// The source of an account for `service`: its file (read once for
    /// both stages of the service), or its server's home.
    pub async fn open(ctx: &AccountContext, service: Service) -> anyhow::Result<Source> {
        let endpoint = &ctx.plan.source;
        match &endpoint.path {
            Some(path) => Ok(Source::File(
                ctx.files.read(path, endpoint.kind, service).await?,
            )),
            None => Ok(Source::Server(retrying(
                ctx,
                client(endpoint, service).await?,
            ))),
        }
    }

    /// The server it connects to, if any.
    pub(super) fn host(&self) -> Option<&str> {
        match self {
            Source::Server(client) => Some(client.host()),
            Source::File(_) => None,
        }
    }

    pub(super) async fn collections(&self, service: Service) -> Result<Vec<Collection>, DavError> {
        match (self, service) {
            (Source::Server(client), Service::CalDav) => client.calendars().await,
            (Source::Server(client), Service::CardDav) => client.address_books().await,
            (Source::File(file), _) => Ok(file.collections()),
        }
    }

    pub(super) async fn items(&self, collection: &str) -> Result<Vec<ItemRef>, DavError> {
        match self {
            Source::Server(client) => client.items(collection).await,
            Source::File(file) => Ok(file.items(Some(collection))),
        }
    }

    /// What a resource is imported without, for the report (a file's
    /// conversion may leave parts out; a server's copy is whole).
    pub(super) fn warnings(&self, href: &str) -> &[String] {
        match self {
            Source::Server(_) => &[],
            Source::File(file) => file.warnings(href),
        }
    }

    /// The contents of `items` of `collection`, each paired with its
    /// content or why it cannot be read (the others go on); the error is
    /// a source that cannot be read at all. A server is asked for
    /// [`BATCH`](super::BATCH) resources a request (`calendar-multiget`,
    /// `addressbook-multiget`); one it does not return is fetched alone.
    pub(super) async fn fetch(
        &self,
        collection: &str,
        items: &[ItemRef],
    ) -> Result<Vec<(ItemRef, Result<Vec<u8>, Unreadable>)>, DavError> {
        let client = match self {
            Source::File(file) => {
                return Ok(items
                    .iter()
                    .map(|i| (i.clone(), file.get(&i.href).map(<[u8]>::to_vec)))
                    .collect());
            }
            Source::Server(client) => client,
        };
        let report = if items.iter().any(|i| i.href.ends_with(".vcf")) {
            Multiget::AddressBook
        } else {
            Multiget::Calendar
        };
        let hrefs: Vec<&str> = items.iter().map(|i| i.href.as_str()).collect();
        let mut got: HashMap<String, Vec<u8>> =
            match client.multiget(collection, report, &hrefs).await {
                Ok(fetched) => fetched
                    .into_iter()
                    .filter_map(|f| Some((percent::decode(&f.href), f.content.ok()?)))
                    .collect(),
                // A server without the report: one GET each.
                Err(error @ DavError::Status { .. }) => {
                    tracing::debug!("{error}; fetching one by one");
                    HashMap::new()
                }
                Err(other) => return Err(other),
            };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let content = match got.remove(&percent::decode(&item.href)) {
                Some(content) => Ok(content),
                None => match client.get(&item.href).await {
                    Ok(content) => Ok(content),
                    Err(error @ DavError::Status { .. }) => Err(Unreadable {
                        reason: error.to_string(),
                        stage: None,
                    }),
                    Err(other) => return Err(other),
                },
            };
            out.push((item.clone(), content));
        }
        Ok(out)
    }
}
