//! Which source messages a pass copies, and with which flags: the
//! manifest's filters, the destination's APPENDLIMIT, and the flags the
//! destination keeps.

use std::collections::HashSet;

use crate::plan::MailRules;
use crate::protocols::imap::MessageMeta;

/// Which flags the destination keeps.
pub(super) struct FlagFilter {
    keywords: bool,
    allowed: HashSet<String>,
}

impl FlagFilter {
    pub(super) fn new(permanent: &[String]) -> FlagFilter {
        FlagFilter {
            keywords: permanent.iter().any(|f| f == "\\*"),
            allowed: permanent.iter().map(|f| f.to_ascii_lowercase()).collect(),
        }
    }

    /// The flags to set at the destination, sorted and space-separated.
    pub(super) fn flags(&self, source: &[String]) -> String {
        let mut kept: Vec<&str> = source
            .iter()
            .map(String::as_str)
            .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
            .filter(|f| {
                if f.starts_with('\\') {
                    self.allowed.contains(&f.to_ascii_lowercase())
                } else {
                    self.keywords || self.allowed.contains(&f.to_ascii_lowercase())
                }
            })
            .collect();
        kept.sort_unstable();
        kept.dedup();
        kept.join(" ")
    }
}

pub(super) fn split(flags: &str) -> Vec<String> {
    flags.split_whitespace().map(str::to_owned).collect()
}

/// Whether a message is to be copied.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admission {
    Copy,
    /// Left out by the manifest's filters.
    Filtered,
    /// Larger than the destination's APPENDLIMIT.
    TooBig(u64),
}

pub(super) fn admit(meta: &MessageMeta, rules: &MailRules, appendlimit: Option<u64>) -> Admission {
    if !rules.include_deleted
        && meta
            .flags
            .iter()
            .any(|f| f.eq_ignore_ascii_case("\\Deleted"))
    {
        return Admission::Filtered;
    }
    if rules.max_message_size.is_some_and(|max| meta.size > max) {
        return Admission::Filtered;
    }
    if rules.since.is_some() || rules.before.is_some() {
        let Some(date) =
            crate::protocols::imap::internal_date(&meta.internal_date).map(|d| d.date_naive())
        else {
            return Admission::Copy;
        };
        if rules.since.is_some_and(|since| date < since)
            || rules.before.is_some_and(|before| date >= before)
        {
            return Admission::Filtered;
        }
    }
    match appendlimit {
        Some(limit) if meta.size > limit => Admission::TooBig(limit),
        _ => Admission::Copy,
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn meta(flags: &[&str], size: u64, date: &str) -> MessageMeta {
        MessageMeta {
            uid: 1,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            internal_date: date.to_owned(),
            size,
            modseq: None,
        }
    }

    #[test]
    fn flags_follow_what_the_destination_keeps() {
        let permanent: Vec<String> = ["\\Seen", "\\Flagged", "\\Deleted", "\\*"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let keep = FlagFilter::new(&permanent);
        let source: Vec<String> = ["\\Seen", "$Label1", "\\Recent", "\\Flagged"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(keep.flags(&source), "$Label1 \\Flagged \\Seen");
        let no_keywords = FlagFilter::new(&permanent[..3]);
        assert_eq!(no_keywords.flags(&source), "\\Flagged \\Seen");
    }

    #[test]
    fn filters_apply_dates_sizes_and_deleted() {
        let rules = MailRules {
            since: NaiveDate::from_ymd_opt(2020, 1, 1),
            before: NaiveDate::from_ymd_opt(2021, 1, 1),
            max_message_size: Some(1000),
            ..MailRules::default()
        };
        let date = "15-Jun-2020 10:00:00 +0200";
        assert_eq!(admit(&meta(&[], 10, date), &rules, None), Admission::Copy);
        assert_eq!(
            admit(&meta(&["\\Deleted"], 10, date), &rules, None),
            Admission::Filtered
        );
        assert_eq!(
            admit(&meta(&[], 2000, date), &rules, None),
            Admission::Filtered
        );
        assert_eq!(
            admit(&meta(&[], 10, " 1-Jan-2021 00:00:00 +0000"), &rules, None),
            Admission::Filtered
        );
        assert_eq!(
            admit(&meta(&[], 10, "31-Dec-2019 23:59:59 +0000"), &rules, None),
            Admission::Filtered
        );
        assert_eq!(
            admit(&meta(&[], 900, date), &rules, Some(500)),
            Admission::TooBig(500)
        );
    }
}
