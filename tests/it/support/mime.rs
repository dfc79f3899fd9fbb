//! A small MIME reader for tests: enough to take a message fetched over
//! IMAP apart into its leaf entities and decode its attachments.

use base64::Engine as _;

/// Attachments: file names and bytes.
pub type Attached = Vec<(String, Vec<u8>)>;

/// One MIME entity: header fields (names in lower case, values unfolded)
/// and the raw body.
pub struct Entity {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Entity {
    pub fn parse(raw: &[u8]) -> Entity {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or((raw, &raw[raw.len()..]), |at| (&raw[..at], &raw[at + 4..]));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in String::from_utf8_lossy(split.0).split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        Entity {
            headers,
            body: split.1.to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter of a header field (`boundary`, `filename`).
    pub fn param(&self, header: &str, name: &str) -> Option<String> {
        self.header(header)?.split(';').skip(1).find_map(|p| {
            let (n, v) = p.split_once('=')?;
            (n.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_owned())
        })
    }

    /// The leaf entities, depth first.
    pub fn leaves(self) -> Vec<Entity> {
        match self.parts() {
            Some(parts) => parts.into_iter().flat_map(Entity::leaves).collect(),
            None => vec![self],
        }
    }

    /// The child entities of a multipart entity, `None` for a leaf.
    pub fn parts(&self) -> Option<Vec<Entity>> {
        let boundary = self
            .header("content-type")
            .filter(|t| t.to_ascii_lowercase().starts_with("multipart/"))
            .and_then(|_| self.param("content-type", "boundary"))?;
        let delimiter = format!("\r\n--{boundary}");
        let body = [b"\r\n".as_slice(), &self.body].concat();
        let text = body.as_slice();
        let mut starts = Vec::new();
        let mut at = 0;
        while let Some(found) = find(&text[at..], delimiter.as_bytes()) {
            starts.push(at + found);
            at += found + delimiter.len();
        }
        let parts = starts
            .windows(2)
            .map(|pair| {
                let part = &text[pair[0] + delimiter.len()..pair[1]];
                Entity::parse(part.strip_prefix(b"\r\n").unwrap_or(part))
            })
            .collect();
        Some(parts)
    }

    pub fn decoded(&self) -> Vec<u8> {
        let encoding = self.header("content-transfer-encoding").unwrap_or("7bit");
        assert!(encoding.eq_ignore_ascii_case("base64"), "{encoding}");
        let clean: Vec<u8> = self
            .body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(clean)
            .expect("valid base64")
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The attachments of a message: file name and decoded bytes.
pub fn attachments(message: &[u8]) -> Attached {
    Entity::parse(message)
        .leaves()
        .into_iter()
        .filter(|e| {
            e.header("content-disposition")
                .is_some_and(|d| d.starts_with("attachment"))
        })
        .map(|e| {
            let name = e
                .param("content-disposition", "filename")
                .expect("a file name");
            (name, e.decoded())
        })
        .collect()
}
