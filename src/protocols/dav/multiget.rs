//! Reading many resources of a collection in one request: the
//! `calendar-multiget` (RFC 4791 §7.9) and `addressbook-multiget` (RFC
//! 6352 §8.7) reports.

use super::{DavClient, DavError, xml};

/// Which multiget report (RFC 4791 §7.9, RFC 6352 §8.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multiget {
    /// `calendar-multiget`.
    Calendar,
    /// `addressbook-multiget`.
    AddressBook,
}

/// One resource a multiget returned: its content, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The resource's path.
    pub href: String,
    /// Its entity tag, when the server gave one.
    pub etag: Option<String>,
    /// The content, or the status the server gave for it (404: gone).
    pub content: Result<Vec<u8>, u16>,
}

impl DavClient {
    /// The contents of several resources of `collection` in one request
    /// (`calendar-multiget` or `addressbook-multiget`), in the order the
    /// server answers.
    pub async fn multiget(
        &self,
        collection: &str,
        report: Multiget,
        hrefs: &[&str],
    ) -> Result<Vec<Fetched>, DavError> {
        let (element, namespace, data) = match report {
            Multiget::Calendar => (
                "calendar-multiget",
                "urn:ietf:params:xml:ns:caldav",
                "calendar-data",
            ),
            Multiget::AddressBook => (
                "addressbook-multiget",
                "urn:ietf:params:xml:ns:carddav",
                "address-data",
            ),
        };
        let listed: String = hrefs
            .iter()
            .map(|h| format!("<d:href>{}</d:href>", xml::escape(h)))
            .collect();
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<x:{element} xmlns:d="DAV:" xmlns:x="{namespace}"><d:prop><d:getetag/><x:{data}/></d:prop>{listed}</x:{element}>"#
        );
        let headers = [
            ("depth", "1"),
            ("content-type", "application/xml; charset=utf-8"),
        ];
        let answer = self
            .request("REPORT", collection, &headers, body.into_bytes())
            .await?;
        let answer = self.expect(answer, "REPORT", collection, &[207])?;
        Ok(self
            .multistatus(&answer)?
            .into_iter()
            .map(|r| Fetched {
                content: match r.data {
                    Some(data) => Ok(data),
                    None => Err(r.status.unwrap_or(404)),
                },
                href: r.href,
                etag: r.etag,
            })
            .collect())
    }
}
