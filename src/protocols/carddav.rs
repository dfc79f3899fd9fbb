//! CardDAV (RFC 6352) on the shared WebDAV client: list and create
//! address books. vCards are plain resources of type `text/vcard`.

use super::dav::xml::escape;
pub use super::dav::{Collection, DavClient, DavError, ItemRef, PutOutcome};

/// The media type of a vCard resource.
pub const VCARD: &str = "text/vcard";

impl DavClient {
    /// The address books directly under the home collection.
    pub async fn address_books(&self) -> Result<Vec<Collection>, DavError> {
        self.collections(|r| r.address_book).await
    }

    /// Creates an address book at `href` with a display name (extended
    /// MKCOL, RFC 5689); returns the properties the server did not set.
    pub async fn create_address_book(
        &self,
        href: &str,
        name: &str,
    ) -> Result<Vec<String>, DavError> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype><d:displayname>{}</d:displayname></d:prop></d:set></d:mkcol>"#,
            escape(name)
        );
        self.make_collection("MKCOL", href, body).await
    }
}
