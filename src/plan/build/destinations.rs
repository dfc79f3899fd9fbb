//! One destination mailbox per account: two accounts writing into one
//! would mix (and duplicate) their mail.

use super::*;

/// The same server (host, case-insensitive, and port) and the same login.
pub(super) fn same_mailbox(a: &Endpoint, b: &Endpoint) -> bool {
    match (&a.server, &b.server) {
        (Some(x), Some(y)) => {
            x.host.eq_ignore_ascii_case(&y.host)
                && x.port == y.port
                && a.user.eq_ignore_ascii_case(&b.user)
        }
        _ => false,
    }
}

/// Two accounts writing into one destination mailbox would mix (and
/// duplicate) their mail: the second is an error.
pub(super) fn check_duplicates(
    manifest: &Manifest,
    destinations: &[(usize, DestinationKey)],
    diagnostics: &mut Diagnostics,
) {
    let mut first: HashMap<&DestinationKey, usize> = HashMap::new();
    for (index, key) in destinations {
        match first.get(key) {
            Some(&earlier) => {
                let entry = &manifest.accounts[*index];
                let place = entry
                    .origin
                    .find(&["destination", "email"])
                    .or_else(|| entry.origin.find(&["destination"]))
                    .unwrap_or_else(|| entry.origin.whole());
                diagnostics.push(
                    Diagnostic::error(
                        place,
                        match key {
                            (host, email, file) if file.is_empty() => format!(
                                "{email} on {host} is already the destination of the account at {}",
                                manifest.accounts[earlier].origin.short()
                            ),
                            (host, email, file) => format!(
                                "{file} is already imported into {email} on {host} by the account at {}",
                                manifest.accounts[earlier].origin.short()
                            ),
                        },
                    )
                    .for_account(Some(*index)),
                );
            }
            None => {
                first.insert(key, *index);
            }
        }
    }
}

/// A destination mailbox (host, address; lower case) and the file a file
/// source reads (empty for a server).
pub(super) type DestinationKey = (String, String, String);
