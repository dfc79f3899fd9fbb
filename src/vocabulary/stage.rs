//! The kinds of stage: the options of the seed's list.

use std::fmt;

use serde::Serialize;

/// One option of the seed's list, for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// Messages, with folders, flags and dates.
    Mail,
    /// Address books and contacts.
    Contacts,
    /// Contact groups (vCard groups).
    ContactGroups,
    /// Calendars and their events.
    Calendars,
    /// To-dos.
    Tasks,
    /// Server-side filters (Sieve scripts).
    Rules,
    /// Out-of-office replies (Sieve vacation).
    AutoReplies,
}

impl StageKind {
    /// The option's name in manifests.
    pub fn name(self) -> &'static str {
        match self {
            StageKind::Mail => "mail",
            StageKind::Contacts => "contacts",
            StageKind::ContactGroups => "contact_groups",
            StageKind::Calendars => "calendars",
            StageKind::Tasks => "tasks",
            StageKind::Rules => "rules",
            StageKind::AutoReplies => "auto_replies",
        }
    }
}

impl fmt::Display for StageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
