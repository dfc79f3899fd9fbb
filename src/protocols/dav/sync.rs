//! What changed in a collection since an earlier state: the
//! `sync-collection` report (RFC 6578 §3), with the `sync-token` that
//! names each state.

use std::collections::BTreeMap;

use super::{DavClient, DavError, ItemRef, same_path, xml};

/// The members of a collection that changed since a token, or all of them
/// without one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Members new or changed since the token (every member, without
    /// one), with their ETags.
    pub changed: Vec<ItemRef>,
    /// The hrefs of members removed since the token.
    pub removed: Vec<String>,
    /// The token of the state this answer describes, for the next pass.
    pub token: String,
}

/// Rounds of a report a server cut short (RFC 6578 §3.6: a 507 for the
/// collection itself) that are followed, at most.
const MAX_ROUNDS: usize = 100;

impl DavClient {
    /// What changed in `collection` since the state `since` names (every
    /// member when `None`), with the token of the state now. A server
    /// that does not know the token answers with an error status (RFC
    /// 6578 says 403 with `valid-sync-token`; some say 409, or fail).
    pub async fn sync_collection(
        &self,
        collection: &str,
        since: Option<&str>,
    ) -> Result<Changes, DavError> {
        // By href: what a later round says wins (`None`: removed).
        let mut members: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut token = since.map(str::to_owned);
        for _ in 0..MAX_ROUNDS {
            let (responses, next) = self.sync_round(collection, token.as_deref()).await?;
            let mut truncated = false;
            for response in responses {
                if same_path(&response.href, collection) {
                    truncated |= response.status == Some(507);
                    continue;
                }
                let etag = match response.status {
                    Some(404) => None,
                    _ => Some(response.etag.unwrap_or_default()),
                };
                members.insert(response.href, etag);
            }
            let Some(next) = next else {
                return Err(DavError::Xml {
                    server: self.server(),
                    reason: format!("the sync-collection report on {collection} has no sync-token"),
                });
            };
            if !truncated || token.as_deref() == Some(next.as_str()) {
                let mut changes = Changes {
                    token: next,
                    ..Changes::default()
                };
                for (href, etag) in members {
                    match etag {
                        Some(etag) => changes.changed.push(ItemRef { href, etag }),
                        None => changes.removed.push(href),
                    }
                }
                return Ok(changes);
            }
            token = Some(next);
        }
        Err(DavError::Xml {
            server: self.server(),
            reason: format!("the sync-collection report on {collection} never ended"),
        })
    }

    /// One `sync-collection` request: its responses and its token.
    async fn sync_round(
        &self,
        collection: &str,
        since: Option<&str>,
    ) -> Result<(Vec<xml::DavResponse>, Option<String>), DavError> {
        let token = since.map_or_else(
            || "<d:sync-token/>".to_owned(),
            |t| format!("<d:sync-token>{}</d:sync-token>", xml::escape(t)),
        );
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<d:sync-collection xmlns:d="DAV:">{token}<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
        );
        // RFC 6578 §3.2: the report is defined for Depth 0 only.
        let headers = [
            ("depth", "0"),
            ("content-type", "application/xml; charset=utf-8"),
        ];
        let answer = self
            .request("REPORT", collection, &headers, body.into_bytes())
            .await?;
        let answer = self.expect(answer, "REPORT", collection, &[207])?;
        xml::parse_sync_report(&answer.body).map_err(|reason| DavError::Xml {
            server: self.server(),
            reason,
        })
    }
}
