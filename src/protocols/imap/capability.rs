//! What the server supports, from its CAPABILITY list.

use std::collections::BTreeSet;

/// The server's capabilities, with the ones this client acts on broken
/// out as fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Every capability, upper case (`IMAP4REV1`, `AUTH=PLAIN`, ...).
    pub all: BTreeSet<String>,
    /// UIDPLUS (RFC 4315): APPENDUID, `UID EXPUNGE`.
    pub uidplus: bool,
    /// LITERAL+ (RFC 7888): non-synchronising literals of any size.
    pub literal_plus: bool,
    /// LITERAL- (RFC 7888): non-synchronising literals up to 4096 bytes.
    pub literal_minus: bool,
    /// APPENDLIMIT=N (RFC 7889): the largest message the server accepts;
    /// `None` when unlimited or only known per mailbox.
    pub appendlimit: Option<u64>,
    /// SPECIAL-USE (RFC 6154): `\Sent`, `\Trash`, ... on LIST.
    pub special_use: bool,
    /// LIST-EXTENDED (RFC 5258): `LIST ... RETURN (...)`.
    pub list_extended: bool,
    /// LIST-STATUS (RFC 5819).
    pub list_status: bool,
    /// CONDSTORE (RFC 7162): MODSEQ, CHANGEDSINCE, HIGHESTMODSEQ.
    pub condstore: bool,
    /// NAMESPACE (RFC 2342).
    pub namespace: bool,
    /// UTF8=ACCEPT (RFC 6855).
    pub utf8_accept: bool,
    /// MOVE (RFC 6851).
    pub r#move: bool,
    /// ESEARCH (RFC 4731): compact `UID SEARCH RETURN (ALL)` results.
    pub esearch: bool,
    /// STATUS=SIZE (RFC 8438).
    pub status_size: bool,
    /// X-GM-EXT-1: Gmail's message IDs and labels (`X-GM-MSGID`,
    /// `X-GM-LABELS`).
    pub gmail: bool,
}

impl Capabilities {
    /// Builds the set from the words of a CAPABILITY response or code.
    pub fn from_words<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let all: BTreeSet<String> = words
            .into_iter()
            .map(|w| w.as_ref().to_ascii_uppercase())
            .filter(|w| !w.is_empty())
            .collect();
        let has = |c: &str| all.contains(c);
        let appendlimit = all
            .iter()
            .find_map(|c| c.strip_prefix("APPENDLIMIT="))
            .and_then(|n| n.parse().ok());
        Capabilities {
            uidplus: has("UIDPLUS"),
            literal_plus: has("LITERAL+"),
            literal_minus: has("LITERAL-"),
            appendlimit,
            special_use: has("SPECIAL-USE"),
            list_extended: has("LIST-EXTENDED"),
            list_status: has("LIST-STATUS"),
            // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
            condstore: has("CONDSTORE") || has("QRESYNC"),
            namespace: has("NAMESPACE"),
            utf8_accept: has("UTF8=ACCEPT") || has("UTF8=ONLY"),
            r#move: has("MOVE"),
            esearch: has("ESEARCH"),
            status_size: has("STATUS=SIZE"),
            gmail: has("X-GM-EXT-1"),
            all,
        }
    }

    /// Whether the capability is listed (case-insensitive).
    pub fn has(&self, capability: &str) -> bool {
        self.all.contains(&capability.to_ascii_uppercase())
    }

    /// Whether no capability is known yet.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dovecot_list() {
        let caps = Capabilities::from_words(
            "IMAP4rev1 SASL-IR LITERAL+ UIDPLUS LIST-EXTENDED CONDSTORE NAMESPACE \
             SPECIAL-USE MOVE STATUS=SIZE APPENDLIMIT=35651584 AUTH=PLAIN"
                .split(' '),
        );
        assert!(caps.literal_plus && caps.uidplus && caps.list_extended && caps.condstore);
        assert!(caps.namespace && caps.special_use && caps.r#move && caps.status_size);
        assert!(!caps.literal_minus && !caps.utf8_accept && !caps.list_status);
        assert_eq!(caps.appendlimit, Some(35651584));
        assert!(caps.has("auth=plain"));
        assert_eq!(Capabilities::from_words(["APPENDLIMIT"]).appendlimit, None);
    }
}
