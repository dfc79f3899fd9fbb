//! The checks of what an account migrates: stages, mail rules, notify.

use super::*;

impl AccountCheck<'_> {
    /// The stages, in the order they run, from the options.
    pub(super) fn stages(
        &mut self,
        merged: &AccountSpec,
        source: Option<&Resolved>,
        destination: Option<&Resolved>,
    ) -> Option<Vec<StageKind>> {
        let options = merged
            .options
            .clone()
            .unwrap_or_else(|| vec![OptionName::Mail]);
        if options.is_empty() {
            self.error(
                &["options"],
                "no options: list at least one of mail, calendars, tasks, contacts, contact_groups, rules, auto_replies",
            );
            return None;
        }
        let mut ok = true;
        let mut stages: Vec<StageKind> = Vec::new();
        // A missing dav_url is said once, not once per WebDAV option.
        let mut dav_noted = false;
        for (i, option) in options.iter().enumerate() {
            let at = i.to_string();
            let field = ["options", at.as_str()];
            let stage = stage_of(*option);
            if stages.contains(&stage) {
                self.warn(&field, format!("{option} is listed twice"));
                continue;
            }
            stages.push(stage);
            if let Some(s) = source
                && !source_provides(s.kind, *option)
            {
                ok = false;
                let why = match s.kind {
                    Kind::Imap | Kind::Pop3 | Kind::Autodetect => format!(
                        "the source is {} server, which can only provide mail (a POP/IMAP source migrates mail only); {option} needs a groupware source",
                        if s.kind == Kind::Pop3 {
                            "a POP3"
                        } else {
                            "an IMAP"
                        }
                    ),
                    Kind::Pst => format!(
                        "the source is a PST file, which holds mail, contacts, calendars and tasks; it cannot provide {option}"
                    ),
                    Kind::Ics => format!(
                        "the source is {}, which holds only calendars and tasks; it cannot provide {option}",
                        super::file_noun(s.kind)
                    ),
                    Kind::Vcf => format!(
                        "the source is {}, which holds only contacts and contact groups; it cannot provide {option}",
                        super::file_noun(s.kind)
                    ),
                    _ => format!("a {} source cannot provide {option}", s.kind.name()),
                };
                self.error(&field, why);
            }
            if let Some(d) = destination
                && !destination_stores(d.kind, *option)
            {
                ok = false;
                self.error(
                    &field,
                    format!(
                        "the destination is an IMAP server, which can only receive mail; {option} needs a groupware destination"
                    ),
                );
            }
            if uses_dav(*option) && !dav_noted {
                dav_noted = true;
                for (side, end) in [(Side::Source, source), (Side::Destination, destination)] {
                    if let Some(end) = end
                        && end.kind == Kind::Groupware
                        && end.endpoint.dav_url.is_none()
                    {
                        let name = side.name();
                        self.warn(
                            &[name, "dav_url"],
                            format!("no {name}.dav_url: {option} finds the CalDAV/CardDAV home from the address's domain (RFC 6764) when it runs"),
                        );
                    }
                }
            }
        }
        stages.sort();
        ok.then_some(stages)
    }

    pub(super) fn mail_rules(&mut self, merged: &AccountSpec) -> MailRules {
        let mail = merged.mail.clone().unwrap_or_default();
        if let (Some(since), Some(before)) = (mail.since, mail.before)
            && since >= before
        {
            self.error(
                &["mail", "before"],
                format!(
                    "before ({before}) must be later than since ({since}), or no message is copied"
                ),
            );
        }
        for list in ["include", "exclude"] {
            let patterns = if list == "include" {
                &mail.include
            } else {
                &mail.exclude
            };
            for (i, pattern) in patterns.iter().flatten().enumerate() {
                if pattern.trim().is_empty() {
                    self.error(
                        &["mail", list, &i.to_string()],
                        "a folder pattern cannot be empty",
                    );
                }
            }
        }
        let map: Vec<(String, String)> = mail.map.clone().unwrap_or_default().into_iter().collect();
        for (from, to) in &map {
            if from.trim().is_empty() || to.trim().is_empty() {
                self.error(
                    &["mail", "map"],
                    "a folder rename needs a folder name on both sides",
                );
            }
        }
        if mail.max_message_size.is_some_and(|s| s.0 == 0) {
            self.error(
                &["mail", "max_message_size"],
                "a maximum message size of 0 copies nothing; leave it out to copy every message",
            );
        }
        if mail
            .archive_folder
            .as_deref()
            .is_some_and(|f| f.split('/').any(|level| level.trim().is_empty()))
        {
            self.error(
                &["mail", "archive_folder"],
                "the archive folder needs a name (levels separated by /, none empty)",
            );
        }
        for (i, pattern) in mail.label_priority.iter().flatten().enumerate() {
            if pattern.trim().is_empty() {
                self.error(
                    &["mail", "label_priority", &i.to_string()],
                    "a folder pattern cannot be empty",
                );
            }
        }
        if mail.label_priority.is_some() && mail.labels != Some(LabelMode::First) {
            self.warn(
                &["mail", "label_priority"],
                "label_priority only matters with labels: first (one copy per message)",
            );
        }
        let labels = LabelRules {
            mode: mail.labels.unwrap_or_default(),
            archive_folder: mail
                .archive_folder
                .clone()
                .unwrap_or_else(|| DEFAULT_ARCHIVE_FOLDER.to_owned()),
            priority: mail.label_priority.clone().unwrap_or_default(),
        };
        MailRules {
            labels,
            include: mail.include.unwrap_or_default(),
            exclude: mail.exclude.unwrap_or_default(),
            map,
            since: mail.since,
            before: mail.before,
            max_message_size: mail.max_message_size.map(|s| s.0),
            include_deleted: mail.include_deleted.unwrap_or(false),
        }
    }

    /// The account's own notification addresses (or the defaults'): the
    /// batch's get the batch summary, not one email per account.
    pub(super) fn notify(&mut self, merged: &AccountSpec) -> Vec<String> {
        match &merged.notify {
            Some(addresses) => {
                for (i, address) in addresses.iter().enumerate() {
                    if !is_email(address) {
                        self.error(
                            &["notify", &i.to_string()],
                            format!("{} is not an email address", quote(address)),
                        );
                    }
                }
                addresses.clone()
            }
            None => Vec::new(),
        }
    }
}
