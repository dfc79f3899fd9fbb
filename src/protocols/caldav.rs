//! CalDAV (RFC 4791) on the shared WebDAV client: list calendars with
//! their properties and create one with `MKCALENDAR`. Calendar objects
//! are plain resources of type `text/calendar`.

use super::dav::xml::escape;
pub use super::dav::{Collection, DavClient, DavError, ItemRef, PutOutcome};

/// The media type of a calendar object resource.
pub const ICALENDAR: &str = "text/calendar";

/// The properties of a calendar that can be set after its creation
/// (`PROPPATCH`), by local name.
pub const PROPERTIES: [&str; 4] = [
    "displayname",
    "calendar-color",
    "calendar-description",
    "calendar-timezone",
];

/// The XML that sets the property `name` (one of [`PROPERTIES`]) to the
/// value `like` has, in the namespaces prefixed `d` (DAV), `c` (CalDAV)
/// and `a` (Apple); `None` when `like` has no value for it.
pub fn calendar_property(like: &Collection, name: &str) -> Option<String> {
    let (element, value) = match name {
        "displayname" => ("d:displayname", &like.display_name),
        "calendar-color" => ("a:calendar-color", &like.color),
        "calendar-description" => ("c:calendar-description", &like.description),
        "calendar-timezone" => ("c:calendar-timezone", &like.timezone),
        _ => return None,
    };
    value
        .as_ref()
        .map(|v| format!("<{element}>{}</{element}>", escape(v)))
}

impl DavClient {
    /// The calendars directly under the home collection.
    pub async fn calendars(&self) -> Result<Vec<Collection>, DavError> {
        self.collections(|r| r.calendar).await
    }

    /// Creates a calendar at `href` with the display name, colour,
    /// description, time zone and supported components of `like`; returns
    /// the properties the server did not set (by local name:
    /// `calendar-color`, ...).
    pub async fn create_calendar(
        &self,
        href: &str,
        like: &Collection,
    ) -> Result<Vec<String>, DavError> {
        let mut props: String = PROPERTIES
            .iter()
            .filter_map(|name| calendar_property(like, name))
            .collect();
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

    /// Sets the property `name` (one of [`PROPERTIES`]) of the calendar
    /// at `href` to the value `like` has (`PROPPATCH`); `Ok(false)` when
    /// `like` has none or the server does not store it.
    pub async fn set_calendar_property(
        &self,
        href: &str,
        like: &Collection,
        name: &str,
    ) -> Result<bool, DavError> {
        match calendar_property(like, name) {
            Some(xml) => self.proppatch(href, &xml).await,
            None => Ok(false),
        }
    }
}
