//! Converting a vCard between versions 3.0 (RFC 2426) and 4.0 (RFC 6350)
//! for a destination address book that accepts only the other one (its
//! `supported-address-data`). The properties that differ are rewritten:
//! `VERSION`; groups (`KIND:group` + `MEMBER` in 4.0, Apple's
//! `X-ADDRESSBOOKSERVER-KIND` + `X-ADDRESSBOOKSERVER-MEMBER` in 3.0);
//! inline photos and logos (a `data:` URI in 4.0, `ENCODING=b` with a
//! `TYPE` in 3.0); `N`, required in 3.0, is added empty when missing.
//! Every other line is kept byte for byte.

use std::borrow::Cow;

use crate::formats::content_line::{rewrite, split_line, strip_prefix_ignore_case, unfolded_lines};

/// The vCard's version (`3.0`, `4.0`), if it says.
pub fn version(card: &[u8]) -> Option<String> {
    unfolded_lines(card).find_map(|line| {
        strip_prefix_ignore_case(&line, b"VERSION:")
            .map(|v| String::from_utf8_lossy(v).trim().to_owned())
    })
}

/// The card in a version the address book accepts: unchanged when it
/// accepts the card's version or says nothing (`accepted` empty), else
/// converted between 3.0 and 4.0 when it accepts the other.
pub fn for_destination<'a>(card: &'a [u8], accepted: &[String]) -> Cow<'a, [u8]> {
    let Some(current) = version(card) else {
        return Cow::Borrowed(card);
    };
    if accepted.is_empty() || accepted.contains(&current) {
        return Cow::Borrowed(card);
    }
    let wanted = |v: &str| accepted.iter().any(|a| a == v);
    match current.as_str() {
        "3.0" if wanted("4.0") => to_v4(card),
        "4.0" if wanted("3.0") => to_v3(card),
        _ => Cow::Borrowed(card),
    }
}

/// A property's group prefix (`item1.`), name, parameters and value.
struct Property<'a> {
    group: &'a [u8],
    name: String,
    params: Vec<&'a [u8]>,
    value: &'a [u8],
}

fn parse(line: &[u8]) -> Option<Property<'_>> {
    let (mut parts, value) = split_line(line)?;
    let head = parts.remove(0);
    let (group, name) = match head.iter().rposition(|b| *b == b'.') {
        Some(i) => (&head[..=i], &head[i + 1..]),
        None => (&head[..0], head),
    };
    Some(Property {
        group,
        name: String::from_utf8_lossy(name).to_ascii_uppercase(),
        params: parts,
        value,
    })
}

fn line(group: &[u8], name: &str, params: &[Vec<u8>], value: &[u8]) -> Vec<u8> {
    let mut out = group.to_vec();
    out.extend_from_slice(name.as_bytes());
    for param in params {
        out.push(b';');
        out.extend_from_slice(param);
    }
    out.push(b':');
    out.extend_from_slice(value);
    out
}

/// A parameter's name (upper case) and value.
fn param(p: &[u8]) -> (String, &[u8]) {
    match p.iter().position(|b| *b == b'=') {
        Some(i) => (
            String::from_utf8_lossy(&p[..i]).to_ascii_uppercase(),
            &p[i + 1..],
        ),
        None => (String::new(), p),
    }
}

fn has_n(card: &[u8]) -> bool {
    unfolded_lines(card).any(|l| parse(&l).is_some_and(|p| p.name == "N"))
}

fn to_v4(card: &[u8]) -> Cow<'_, [u8]> {
    rewrite(card, |l| {
        let p = parse(l)?;
        let renamed = match p.name.as_str() {
            "VERSION" => return Some(vec![b"VERSION:4.0".to_vec()]),
            "X-ADDRESSBOOKSERVER-KIND" => "KIND",
            "X-ADDRESSBOOKSERVER-MEMBER" => "MEMBER",
            "PHOTO" | "LOGO" => return inline_to_uri(&p).map(|l| vec![l]),
            _ => return None,
        };
        let value = if renamed == "KIND" {
            p.value.to_ascii_lowercase()
        } else {
            p.value.to_vec()
        };
        let params: Vec<Vec<u8>> = p.params.iter().map(|x| x.to_vec()).collect();
        Some(vec![line(p.group, renamed, &params, &value)])
    })
}

/// `PHOTO;ENCODING=b;TYPE=JPEG:...` → `PHOTO:data:image/jpeg;base64,...`.
fn inline_to_uri(p: &Property<'_>) -> Option<Vec<u8>> {
    let mut inline = false;
    let mut media = None;
    let mut rest = Vec::new();
    for raw in &p.params {
        match param(raw) {
            (name, value) if name == "ENCODING" && value.eq_ignore_ascii_case(b"b") => {
                inline = true;
            }
            (name, value) if name == "TYPE" && media.is_none() => {
                let value = String::from_utf8_lossy(value).to_ascii_lowercase();
                media = Some(if value.contains('/') {
                    value
                } else {
                    format!("image/{value}")
                });
            }
            _ => rest.push(raw.to_vec()),
        }
    }
    if !inline {
        return None;
    }
    let media = media.unwrap_or_else(|| "application/octet-stream".to_owned());
    let mut value = format!("data:{media};base64,").into_bytes();
    value.extend_from_slice(p.value);
    Some(line(p.group, &p.name, &rest, &value))
}

fn to_v3(card: &[u8]) -> Cow<'_, [u8]> {
    let add_n = !has_n(card);
    rewrite(card, |l| {
        let p = parse(l)?;
        let params: Vec<Vec<u8>> = p.params.iter().map(|x| x.to_vec()).collect();
        match p.name.as_str() {
            "VERSION" => {
                let mut lines = vec![b"VERSION:3.0".to_vec()];
                if add_n {
                    lines.push(b"N:;;;;".to_vec());
                }
                Some(lines)
            }
            "KIND" if p.value.eq_ignore_ascii_case(b"individual") => Some(Vec::new()),
            "KIND" => Some(vec![line(
                p.group,
                "X-ADDRESSBOOKSERVER-KIND",
                &params,
                p.value,
            )]),
            "MEMBER" => Some(vec![line(
                p.group,
                "X-ADDRESSBOOKSERVER-MEMBER",
                &params,
                p.value,
            )]),
            "PHOTO" | "LOGO" => uri_to_inline(&p).map(|l| vec![l]),
            _ => None,
        }
    })
}

/// `PHOTO:data:image/jpeg;base64,...` → `PHOTO;ENCODING=b;TYPE=JPEG:...`.
fn uri_to_inline(p: &Property<'_>) -> Option<Vec<u8>> {
    let data = strip_prefix_ignore_case(p.value, b"data:")?;
    let comma = data.iter().position(|b| *b == b',')?;
    let (head, payload) = (&data[..comma], &data[comma + 1..]);
    let head = String::from_utf8_lossy(head);
    let media = head.strip_suffix(";base64")?;
    let kind = media
        .rsplit('/')
        .next()
        .unwrap_or(media)
        .to_ascii_uppercase();
    let mut params: Vec<Vec<u8>> = p
        .params
        .iter()
        .filter(|x| param(x).0 != "MEDIATYPE")
        .map(|x| x.to_vec())
        .collect();
    params.push(b"ENCODING=b".to_vec());
    params.push(format!("TYPE={kind}").into_bytes());
    Some(line(p.group, &p.name, &params, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(card: &[u8]) -> String {
        String::from_utf8(card.to_vec())
            .unwrap()
            .replace("\r\n ", "")
    }

    const V3: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:g1\r\nFN:Close friends\r\n\
                      N:;;;;\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n\
                      X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:ada\r\n\
                      PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ==\r\nEND:VCARD\r\n";
    const V4: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:g1\r\nFN:Close friends\r\n\
                      KIND:group\r\nMEMBER:urn:uuid:ada\r\n\
                      PHOTO:data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==\r\nEND:VCARD\r\n";

    #[test]
    fn cards_are_left_alone_when_the_version_is_accepted_or_nothing_is_said() {
        assert!(matches!(
            for_destination(V3.as_bytes(), &[]),
            Cow::Borrowed(_)
        ));
        let both = ["3.0".to_owned(), "4.0".to_owned()];
        assert!(matches!(
            for_destination(V4.as_bytes(), &both),
            Cow::Borrowed(_)
        ));
        assert_eq!(version(V3.as_bytes()).as_deref(), Some("3.0"));
    }

    #[test]
    fn a_3_0_group_with_a_photo_becomes_4_0() {
        let out = for_destination(V3.as_bytes(), &["4.0".to_owned()]);
        assert_eq!(
            text(&out),
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:g1\r\nFN:Close friends\r\nN:;;;;\r\n\
             KIND:group\r\nMEMBER:urn:uuid:ada\r\n\
             PHOTO:data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn a_4_0_group_with_a_photo_becomes_3_0_with_an_n() {
        let out = for_destination(V4.as_bytes(), &["3.0".to_owned()]);
        assert_eq!(
            text(&out),
            "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nUID:g1\r\nFN:Close friends\r\n\
             X-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:ada\r\n\
             PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ==\r\nEND:VCARD\r\n"
        );
        // And back: the same card as the original 4.0 one, N aside.
        let back = for_destination(&out, &["4.0".to_owned()]);
        assert_eq!(
            text(&back),
            V4.replace("VERSION:4.0\r\n", "VERSION:4.0\r\nN:;;;;\r\n")
        );
    }

    #[test]
    fn an_individual_loses_its_kind_in_3_0() {
        let card =
            b"BEGIN:VCARD\nVERSION:4.0\nKIND:individual\nN:Doe;Jo;;;\nFN:Jo Doe\nEND:VCARD\n";
        let out = for_destination(card, &["3.0".to_owned()]);
        assert_eq!(
            text(&out),
            "BEGIN:VCARD\nVERSION:3.0\nN:Doe;Jo;;;\nFN:Jo Doe\nEND:VCARD\n"
        );
    }
}
