//! CalDAV (RFC 4791) on the shared WebDAV client: list calendars with
//! their properties and create one with `MKCALENDAR`. Calendar objects
//! are plain resources of type `text/calendar`.

use super::dav::xml::escape;
pub use super::dav::{Collection, DavClient, DavError, ItemRef, PutOutcome};

/// The media type of a calendar object resource.
pub const ICALENDAR: &str = "text/calendar";

impl DavClient {
    /// The calendars directly under the home collection.
    pub async fn calendars(&self) -> Result<Vec<Collection>, DavError> {
        self.collections(|r| r.calendar).await
    }

    /// Creates a calendar at `href` with the display name, colour,
    /// description, time zone and supported components of `like`.
    pub async fn create_calendar(&self, href: &str, like: &Collection) -> Result<(), DavError> {
        let mut props = String::new();
        let mut add = |element: &str, value: &Option<String>| {
            if let Some(value) = value {
                props.push_str(&format!("<{element}>{}</{element}>", escape(value)));
            }
        };
        add("d:displayname", &like.display_name);
        add("a:calendar-color", &like.color);
        add("c:calendar-description", &like.description);
        add("c:calendar-timezone", &like.timezone);
        if !like.components.is_empty() {
            props.push_str("<c:supported-calendar-component-set>");
            for component in &like.components {
                props.push_str(&format!(r#"<c:comp name="{}"/>"#, escape(component)));
            }
            props.push_str("</c:supported-calendar-component-set>");
        }
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="http://apple.com/ns/ical/"><d:set><d:prop>{props}</d:prop></d:set></c:mkcalendar>"#
        );
        self.make_collection("MKCALENDAR", href, body).await
    }
}
