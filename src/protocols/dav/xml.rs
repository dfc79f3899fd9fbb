//! Reading WebDAV `207 Multi-Status` answers (RFC 4918) with the CalDAV
//! (RFC 4791), CardDAV (RFC 6352), principal (RFC 5397) and Apple colour
//! properties the clients ask for.

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};

use crate::protocols::http::Url;

/// One `<response>` of a multistatus, with the properties found (200).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DavResponse {
    /// The resource's path.
    pub href: String,
    /// `displayname`.
    pub display_name: Option<String>,
    /// `getetag`.
    pub etag: Option<String>,
    /// Its `resourcetype` holds `collection`.
    pub collection: bool,
    /// Its `resourcetype` holds `addressbook` (RFC 6352).
    pub address_book: bool,
    /// Its `resourcetype` holds `calendar` (RFC 4791).
    pub calendar: bool,
    /// `calendar-color` (Apple's namespace), e.g. `#3A87ADFF`.
    pub color: Option<String>,
    /// `calendar-description`.
    pub description: Option<String>,
    /// `calendar-timezone`: a VCALENDAR holding one VTIMEZONE.
    pub timezone: Option<String>,
    /// `supported-calendar-component-set`: `VEVENT`, `VTODO`, ...; empty
    /// when the server does not say (any component).
    pub components: Vec<String>,
    /// `supported-address-data`: the vCard versions an address book
    /// accepts; empty when the server does not say.
    pub address_versions: Vec<String>,
    /// `current-user-principal`.
    pub principal: Option<String>,
    /// `calendar-home-set`.
    pub calendar_home: Option<String>,
    /// `addressbook-home-set`.
    pub addressbook_home: Option<String>,
    /// `calendar-data` or `address-data` (a multiget), with CRLF line
    /// ends.
    pub data: Option<Vec<u8>>,
    /// The status of a response without propstat (`404` for an href a
    /// multiget names that is gone, in a sync report for one removed).
    pub status: Option<u16>,
    /// `sync-token` (RFC 6578 §4): the collection's present state, for a
    /// `sync-collection` report.
    pub sync_token: Option<String>,
}

impl DavResponse {
    /// Adds what a successful propstat found.
    fn merge(&mut self, props: DavResponse) {
        let keep = |a: &mut Option<String>, b: Option<String>| {
            if a.is_none() {
                *a = b;
            }
        };
        keep(&mut self.display_name, props.display_name);
        keep(&mut self.etag, props.etag);
        keep(&mut self.color, props.color);
        keep(&mut self.description, props.description);
        keep(&mut self.timezone, props.timezone);
        keep(&mut self.principal, props.principal);
        keep(&mut self.calendar_home, props.calendar_home);
        keep(&mut self.addressbook_home, props.addressbook_home);
        keep(&mut self.sync_token, props.sync_token);
        if self.data.is_none() {
            self.data = props.data;
        }
        self.collection |= props.collection;
        self.address_book |= props.address_book;
        self.calendar |= props.calendar;
        self.components.extend(props.components);
        self.address_versions.extend(props.address_versions);
    }

    /// Notes an element that carries its meaning in its name or
    /// attributes (a resource type, a supported component).
    fn mark(&mut self, parent: &str, element: &BytesStart<'_>) {
        let name = element.local_name();
        match (parent, name.as_ref()) {
            ("resourcetype", "collection") => self.collection = true,
            ("resourcetype", "addressbook") => self.address_book = true,
            ("resourcetype", "calendar") => self.calendar = true,
            ("supported-calendar-component-set", "comp") => {
                self.components
                    .extend(attribute(element, "name").map(|v| v.to_uppercase()));
            }
            // RFC 6352 names the element `address-data-type`; Xandikos
            // sends `content-type` with the same attributes.
            ("supported-address-data", "address-data-type" | "content-type") => {
                let vcard = attribute(element, "content-type")
                    .is_none_or(|t| t.eq_ignore_ascii_case("text/vcard"));
                if vcard {
                    self.address_versions.extend(attribute(element, "version"));
                }
            }
            _ => {}
        }
    }
}

/// The value of an element's attribute.
fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}

/// Reads a `207 Multi-Status` body. Hrefs are kept as paths (a full URL
/// is cut to its path) and percent-decoding is left to the server.
pub fn parse_multistatus(body: &[u8]) -> Result<Vec<DavResponse>, String> {
    parse_sync_report(body).map(|(responses, _)| responses)
}

/// Reads the `207 Multi-Status` answer to a `sync-collection` report (RFC
/// 6578 §3.2): its responses, and the `sync-token` of the state they
/// describe.
pub fn parse_sync_report(body: &[u8]) -> Result<(Vec<DavResponse>, Option<String>), String> {
    let text = String::from_utf8_lossy(body);
    let mut reader = Reader::from_str(&text);
    let mut out = Vec::new();
    let mut token = None;
    let mut current: Option<DavResponse> = None;
    // The properties of the propstat being read, and its status.
    let mut props = DavResponse::default();
    let mut status = String::new();
    let mut path: Vec<String> = Vec::new();
    let mut buf = String::new();
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                match name.as_str() {
                    "response" => current = Some(DavResponse::default()),
                    "propstat" => {
                        props = DavResponse::default();
                        status.clear();
                    }
                    _ => {}
                }
                props.mark(path.last().map(String::as_str).unwrap_or(""), &e);
                path.push(name);
                buf.clear();
            }
            Event::Empty(e) => props.mark(path.last().map(String::as_str).unwrap_or(""), &e),
            Event::Text(t) => buf.push_str(&t.xml10_content()),
            Event::CData(t) => buf.push_str(t.as_ref()),
            Event::GeneralRef(r) => buf.extend(reference(&r)),
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str).unwrap_or("");
                let raw = std::mem::take(&mut buf);
                let value = raw.trim().to_owned();
                match (parent, name.as_str()) {
                    ("response", "href") => {
                        if let Some(r) = current.as_mut() {
                            r.href = href_path(&value);
                        }
                    }
                    ("propstat", "status") => status = value,
                    ("prop", "displayname") => props.display_name = Some(value),
                    ("prop", "getetag") => props.etag = Some(value),
                    ("prop", "calendar-color") => props.color = Some(value),
                    ("prop", "calendar-description") => props.description = Some(value),
                    ("prop", "calendar-timezone") => props.timezone = Some(value),
                    ("prop", "sync-token") => props.sync_token = Some(value),
                    ("multistatus", "sync-token") => token = Some(value),
                    ("prop", "calendar-data" | "address-data") => {
                        props.data = Some(crlf(&raw));
                    }
                    ("response", "status") => {
                        if let Some(r) = current.as_mut() {
                            r.status = status_code(&value);
                        }
                    }
                    ("current-user-principal", "href") => props.principal = Some(href_path(&value)),
                    ("calendar-home-set", "href") => props.calendar_home = Some(value),
                    ("addressbook-home-set", "href") => props.addressbook_home = Some(value),
                    (_, "propstat") => {
                        if status_code(&status) == Some(200)
                            && let Some(r) = current.as_mut()
                        {
                            r.merge(std::mem::take(&mut props));
                        }
                    }
                    (_, "response") => out.extend(current.take()),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok((out, token))
}

/// The code of a status line (`HTTP/1.1 404 Not Found` → 404).
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Text with every line ending made CRLF (XML reading makes them LF), as
/// iCalendar and vCard want.
fn crlf(text: &str) -> Vec<u8> {
    text.replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

/// What a server said when it refused a request: the status inside a
/// multistatus answer (Xandikos answers a refused PUT with one), the
/// preconditions of an `<error>` element (`no-uid-conflict`,
/// `valid-calendar-data`) and its description.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The first status found inside the answer.
    pub status: Option<u16>,
    /// The local names of the elements inside `<error>`.
    pub conditions: Vec<String>,
    /// `responsedescription`, or a plain-text body.
    pub description: Option<String>,
}

impl Refusal {
    /// Reads an error answer's body: XML (`<error>`, a multistatus) or
    /// plain text; `None` for an empty body.
    pub fn read(body: &[u8]) -> Option<Refusal> {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return None;
        }
        if !trimmed.starts_with('<') {
            return Some(Refusal {
                description: Some(trimmed.to_owned()),
                ..Refusal::default()
            });
        }
        let mut out = Refusal::default();
        let mut reader = Reader::from_str(trimmed);
        let mut path: Vec<String> = Vec::new();
        let mut buf = String::new();
        // An unreadable answer (an HTML error page, say): keep what was
        // read.
        while let Ok(event) = reader.read_event() {
            match event {
                Event::Start(e) => {
                    let name = e.local_name().as_ref().to_owned();
                    if path.last().is_some_and(|p| p == "error") {
                        out.conditions.push(name.clone());
                    }
                    path.push(name);
                    buf.clear();
                }
                Event::Empty(e) if path.last().is_some_and(|p| p == "error") => {
                    out.conditions.push(e.local_name().as_ref().to_owned());
                }
                Event::Text(t) => buf.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => buf.extend(reference(&r)),
                Event::End(_) => {
                    let name = path.pop().unwrap_or_default();
                    let value = std::mem::take(&mut buf);
                    let value = value.trim();
                    match name.as_str() {
                        "status" if out.status.is_none() => out.status = status_code(value),
                        "responsedescription" | "message" if !value.is_empty() => {
                            out.description.get_or_insert_with(|| value.to_owned());
                        }
                        _ => {}
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Some(out)
    }

    /// The refusal in words: its description, else its preconditions.
    pub fn words(&self) -> String {
        match &self.description {
            Some(description) => description.clone(),
            None => self.conditions.join(", "),
        }
    }
}

/// The properties a `MKCOL`/`MKCALENDAR`/`PROPPATCH` answer says were not
/// set (a propstat whose status is not 2xx), by local name.
pub fn unset_properties(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let mut reader = Reader::from_str(&text);
    let mut path: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut unset = Vec::new();
    let mut status = None;
    let mut buf = String::new();
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                if path.last().is_some_and(|p| p == "prop") {
                    names.push(name.clone());
                }
                path.push(name);
                buf.clear();
            }
            Event::Empty(e) if path.last().is_some_and(|p| p == "prop") => {
                names.push(e.local_name().as_ref().to_owned());
            }
            Event::Text(t) => buf.push_str(&t.xml10_content()),
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let value = std::mem::take(&mut buf);
                match name.as_str() {
                    "status" if path.last().is_some_and(|p| p == "propstat") => {
                        status = status_code(value.trim());
                    }
                    "propstat" => {
                        if !status.is_some_and(|s| (200..300).contains(&s)) {
                            unset.append(&mut names);
                        }
                        names.clear();
                        status = None;
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    unset
}

/// The path of an href (which may be a full URL).
pub fn href_path(href: &str) -> String {
    match Url::parse(href) {
        Ok(url) if href.contains("://") => url.path,
        _ => href.to_owned(),
    }
}

/// Escapes text for an XML element or a quoted attribute.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The character an entity or character reference (`&amp;`, `&#233;`)
/// stands for; `None` for one XML does not predefine.
pub fn reference(r: &BytesRef<'_>) -> Option<char> {
    match r.xml10_content().as_ref() {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => r.resolve_char_ref().ok().flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_multistatus() {
        let body = br#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
 <response><href>/alice/</href><propstat><prop><resourcetype><collection/></resourcetype><displayname/></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>http://h:1/alice/book/</href><propstat><prop><resourcetype><collection/><CR:addressbook/></resourcetype><displayname>Friends &amp; family</displayname></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>/alice/book/a.vcf</href><propstat><prop><getetag>"e1"</getetag><resourcetype/></prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><displayname/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response>
</multistatus>"#;
        let all = parse_multistatus(body).unwrap();
        assert_eq!(all.len(), 3);
        assert!(all[0].collection && !all[0].address_book);
        assert_eq!(all[1].href, "/alice/book/");
        assert!(all[1].address_book);
        assert_eq!(all[1].display_name.as_deref(), Some("Friends & family"));
        assert_eq!(all[2].etag.as_deref(), Some("\"e1\""));
        assert!(!all[2].collection);
        assert_eq!(all[2].display_name, None);
    }

    #[test]
    fn reads_a_sync_report_with_its_token() {
        let body = br#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:">
 <d:response><d:href>/alice/work/new.ics</d:href><d:propstat><d:prop><d:getetag>"e2"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/alice/work/old.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>
 <d:sync-token>http://radicale.org/ns/sync/abc</d:sync-token>
</d:multistatus>"#;
        let (all, token) = parse_sync_report(body).unwrap();
        assert_eq!(token.as_deref(), Some("http://radicale.org/ns/sync/abc"));
        assert_eq!(all[0].etag.as_deref(), Some("\"e2\""));
        assert_eq!(
            (all[1].href.as_str(), all[1].status),
            ("/alice/work/old.ics", Some(404))
        );
        assert_eq!(all[1].sync_token, None);
    }

    #[test]
    fn reads_calendar_and_principal_properties() {
        let body = br#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/">
 <d:response><d:href>/alice/work/</d:href><d:propstat><d:prop>
  <d:resourcetype><d:collection/><C:calendar/></d:resourcetype>
  <A:calendar-color>#FF0000FF</A:calendar-color>
  <C:calendar-description>Team &lt;work&gt;</C:calendar-description>
  <C:calendar-timezone><![CDATA[BEGIN:VCALENDAR
END:VCALENDAR]]></C:calendar-timezone>
  <C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="vtodo"></C:comp></C:supported-calendar-component-set>
  <d:current-user-principal><d:href>https://dav.example/principals/alice/</d:href></d:current-user-principal>
  <C:calendar-home-set><d:href>/cal/alice/</d:href></C:calendar-home-set>
  <R:supported-address-data xmlns:R="urn:ietf:params:xml:ns:carddav"><R:address-data-type content-type="text/vcard" version="3.0"/><R:address-data-type content-type="application/vcard+json" version="4.0"/></R:supported-address-data>
 </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"#;
        let all = parse_multistatus(body).unwrap();
        let r = &all[0];
        assert!(r.calendar && r.collection && !r.address_book);
        assert_eq!(r.color.as_deref(), Some("#FF0000FF"));
        assert_eq!(r.description.as_deref(), Some("Team <work>"));
        assert_eq!(
            r.timezone.as_deref(),
            Some("BEGIN:VCALENDAR\nEND:VCALENDAR")
        );
        assert_eq!(r.components, ["VEVENT", "VTODO"]);
        assert_eq!(r.principal.as_deref(), Some("/principals/alice/"));
        assert_eq!(r.calendar_home.as_deref(), Some("/cal/alice/"));
        assert_eq!(r.addressbook_home, None);
        assert_eq!(r.address_versions, ["3.0"]);
    }

    #[test]
    fn reads_what_xandikos_says_of_a_refused_put_and_of_a_new_calendar() {
        let refused = br#"<ns0:multistatus xmlns:ns0="DAV:" xmlns:ns1="urn:ietf:params:xml:ns:caldav"><ns0:response><ns0:href>http%3A//127.0.0.1%3A1/alice/calendars/work/a.ics</ns0:href><ns0:status>HTTP/1.1 412 Precondition Failed</ns0:status><ns0:error><ns1:no-uid-conflict /></ns0:error><ns0:responsedescription>UID already in use.</ns0:responsedescription></ns0:response></ns0:multistatus>"#;
        let refusal = Refusal::read(refused).unwrap();
        assert_eq!(refusal.status, Some(412));
        assert_eq!(refusal.conditions, ["no-uid-conflict"]);
        assert_eq!(refusal.words(), "UID already in use.");
        assert_eq!(
            Refusal::read(b"Bad Request").unwrap().words(),
            "Bad Request"
        );
        assert_eq!(Refusal::read(b"  "), None);

        let created = br#"<ns0:mkcalendar-response xmlns:ns0="urn:ietf:params:xml:ns:carldav:" xmlns:ns1="DAV:" xmlns:ns2="http://apple.com/ns/ical/" xmlns:ns3="urn:ietf:params:xml:ns:caldav"><ns1:propstat><ns1:status>HTTP/1.1 200 OK</ns1:status><ns1:prop><ns1:displayname /></ns1:prop></ns1:propstat><ns1:propstat><ns1:status>HTTP/1.1 404 Not Found</ns1:status><ns1:prop><ns2:calendar-color /><ns3:calendar-description /><ns3:supported-calendar-component-set /></ns1:prop></ns1:propstat></ns0:mkcalendar-response>"#;
        assert_eq!(
            unset_properties(created),
            [
                "calendar-color",
                "calendar-description",
                "supported-calendar-component-set"
            ]
        );
        assert!(unset_properties(b"").is_empty());
    }

    #[test]
    fn reads_the_vcard_versions_xandikos_names_in_an_element_of_its_own() {
        let body = br#"<ns0:multistatus xmlns:ns0="DAV:" xmlns:ns3="urn:ietf:params:xml:ns:carddav"><ns0:response><ns0:href>/alice/contacts/friends/</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop><ns0:resourcetype><ns0:collection /><ns3:addressbook /></ns0:resourcetype><ns3:supported-address-data><ns3:content-type content-type="text/vcard" version="3.0" /></ns3:supported-address-data></ns0:prop></ns0:propstat></ns0:response></ns0:multistatus>"#;
        let all = parse_multistatus(body).unwrap();
        assert!(all[0].address_book);
        assert_eq!(all[0].address_versions, ["3.0"]);
    }

    #[test]
    fn reads_a_multiget_with_crlf_line_ends_and_a_missing_resource() {
        let body = b"<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:response><d:href>/a/x.ics</d:href><d:propstat><d:prop><d:getetag>\"1\"</d:getetag><c:calendar-data>BEGIN:VCALENDAR\r\nUID:a &amp; b\nEND:VCALENDAR\n</c:calendar-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response><d:response><d:href>/a/gone.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response></d:multistatus>";
        let all = parse_multistatus(body).unwrap();
        assert_eq!(
            all[0].data.as_deref(),
            Some(&b"BEGIN:VCALENDAR\r\nUID:a & b\r\nEND:VCALENDAR\r\n"[..])
        );
        assert_eq!(all[1].data, None);
        assert_eq!(all[1].status, Some(404));
    }
}
