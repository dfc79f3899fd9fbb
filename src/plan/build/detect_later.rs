//! Endpoints whose server autodetect will find: warned about once per
//! side and domain, and refused when nothing names the domain to look in.

use super::*;

/// An endpoint without a host, whose server is found from its address.
pub(super) struct DetectLater {
    pub(super) side: &'static str,
    pub(super) domain: String,
    pub(super) place: Place,
}

/// One warning per side and domain: a spreadsheet of 30 rows without
/// hosts says it once, not 60 times.
pub(super) fn autodetect_warnings(found: Vec<DetectLater>) -> Vec<Diagnostic> {
    let mut groups: std::collections::BTreeMap<(&str, String), Vec<Place>> = Default::default();
    for d in found {
        groups.entry((d.side, d.domain)).or_default().push(d.place);
    }
    groups
        .into_iter()
        .map(|((side, domain), places)| {
            let n = places.len();
            let first = places.into_iter().next().expect("a group has a place");
            let message = match (n, domain.as_str()) {
                (1, _) => format!("no {side} host: it will be found from the address (autodetect)"),
                (_, "") => format!(
                    "no {side} host for {n} accounts (the first is here): each server will be found from its address (autodetect)"
                ),
                _ => format!(
                    "no {side} host for {n} accounts at {domain} (the first is here): their server will be found from the domain (autodetect)"
                ),
            };
            Diagnostic::warning(first, message)
        })
        .collect()
}

impl AccountCheck<'_> {
    /// A source without a host whose login is not an address and whose
    /// address is the destination's (a spreadsheet naming the mailbox by
    /// its new address): autodetect would find the destination's server.
    pub(super) fn nothing_to_detect_from(&mut self, merged: &AccountSpec) {
        let (Some(s), Some(d)) = (&merged.source, &merged.destination) else {
            return;
        };
        let no_host = s.host.as_deref().is_none_or(|h| h.trim().is_empty());
        let detected = matches!(s.kind, None | Some(Kind::Imap | Kind::Autodetect));
        if no_host
            && detected
            && s.path.is_none()
            && s.email.is_some()
            && s.email == d.email
            && let Some(user) = s.user.as_deref().filter(|u| !is_email(u))
        {
            self.source_undetectable = true;
            self.error(
                &["source", "host"],
                format!(
                    "the source has no host, and its login {} is not an address to find it from: \
                     give the source host (in the defaults)",
                    quote(user)
                ),
            );
        }
    }
}
