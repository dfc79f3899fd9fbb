//! The end user's notification emails as handlebars templates, one per
//! language (`account.en.hbs`, `account.es.hbs`, with the list of what was
//! copied in `moved.LANG.hbs`), shipped in `templates/notification/`. A
//! manifest's `notification_templates` folder replaces any of them by a
//! file of the same name.
//!
//! A template renders `Subject: ...`, a blank line, then the body.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use handlebars::Handlebars;
use serde::Serialize;

use crate::plan::Language;

/// The shipped templates: (file name, text).
const SHIPPED: [(&str, &str); 4] = [
    (
        "account.en.hbs",
        include_str!("../../../templates/notification/account.en.hbs"),
    ),
    (
        "account.es.hbs",
        include_str!("../../../templates/notification/account.es.hbs"),
    ),
    (
        "moved.en.hbs",
        include_str!("../../../templates/notification/moved.en.hbs"),
    ),
    (
        "moved.es.hbs",
        include_str!("../../../templates/notification/moved.es.hbs"),
    ),
];

/// What an account's template is given. Nothing here is a secret, a
/// server address or a command: it is read by the mailbox's owner.
#[derive(Debug, Clone, Serialize)]
pub struct AccountNotice {
    /// `completed`, `completed_with_errors`, `failed` or `undone`.
    pub outcome: String,
    /// The migration completed, with or without errors.
    pub completed: bool,
    /// Some items could not be copied.
    pub with_errors: bool,
    /// The migration failed.
    pub failed: bool,
    /// The migration was undone.
    pub undone: bool,
    /// The old mailbox's address.
    pub source: String,
    /// The new mailbox's address.
    pub destination: String,
    /// The migration ID the owner can quote.
    pub migration_id: String,
    /// Items in the new mailbox per option (`mail`, `contacts`...), as
    /// formatted numbers; options with none are absent.
    pub moved: BTreeMap<String, String>,
    /// Items that could not be copied, formatted; absent when none.
    pub not_copied: Option<String>,
    /// Whom to ask: the batch's notification address, if any.
    pub contact: Option<String>,
}

/// The notification templates of a batch.
pub struct Templates {
    registry: Handlebars<'static>,
}

impl Templates {
    /// The shipped templates, with those found in `dir` in their place.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Templates> {
        let mut registry = Handlebars::new();
        registry.register_escape_fn(handlebars::no_escape);
        for (file, shipped) in SHIPPED {
            let own = dir.map(|d| d.join(file)).filter(|p| p.is_file());
            let text = match &own {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("Cannot read the template {}", path.display()))?,
                None => shipped.to_owned(),
            };
            // `account.en.hbs` is the template (and partial) `account_en`.
            let name = file.trim_end_matches(".hbs").replace('.', "_");
            registry
                .register_template_string(&name, text)
                .with_context(|| {
                    format!(
                        "The template {} is not valid",
                        own.as_deref().unwrap_or(Path::new(file)).display()
                    )
                })?;
        }
        Ok(Templates { registry })
    }

    /// The subject and the body (`\n` line ends) of an account's email.
    pub fn account(
        &self,
        language: Language,
        notice: &AccountNotice,
    ) -> Result<(String, String), handlebars::RenderError> {
        let text = self
            .registry
            .render(&format!("account_{}", language.code()), notice)?;
        Ok(split_subject(&text))
    }
}

/// Splits a rendered template into its `Subject:` line and its body, with
/// runs of blank lines (left by block tags) made one.
fn split_subject(text: &str) -> (String, String) {
    let text = text.trim_start();
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let subject = match first.strip_prefix("Subject:") {
        Some(subject) => subject.trim().to_owned(),
        None => String::new(),
    };
    let rest = if subject.is_empty() { text } else { rest };
    let mut body = String::new();
    let mut blank = 0;
    for line in rest.trim().lines() {
        let line = line.trim_end();
        blank = if line.is_empty() { blank + 1 } else { 0 };
        if blank < 2 {
            body.push_str(line);
            body.push('\n');
        }
    }
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(outcome: &str) -> AccountNotice {
        AccountNotice {
            outcome: outcome.to_owned(),
            completed: outcome.starts_with("completed"),
            with_errors: outcome == "completed_with_errors",
            failed: outcome == "failed",
            undone: outcome == "undone",
            source: "bob@old.example".into(),
            destination: "bob@new.example".into(),
            migration_id: "M4QW-8ZTX-3HJN".into(),
            moved: [("mail".to_owned(), "1,305".to_owned())].into(),
            not_copied: (outcome == "completed_with_errors").then(|| "2".to_owned()),
            contact: Some("it@ops.example".into()),
        }
    }

    #[test]
    fn every_outcome_renders_in_every_language() {
        let templates = Templates::load(None).unwrap();
        for language in [Language::En, Language::Es] {
            for outcome in ["completed", "completed_with_errors", "failed", "undone"] {
                let (subject, body) = templates.account(language, &notice(outcome)).unwrap();
                assert!(subject.ends_with(": bob@new.example"), "{subject}");
                assert!(body.contains("M4QW-8ZTX-3HJN"), "{body}");
                assert!(body.contains("it@ops.example"), "{body}");
                assert!(!body.contains("\n\n\n"), "{body}");
                assert!(!body.contains("{{"), "{body}");
                assert!(!body.contains("mailshift "), "no command: {body}");
            }
        }
    }

    #[test]
    fn the_undo_email_says_the_old_mailbox_is_untouched() {
        let templates = Templates::load(None).unwrap();
        let (subject, body) = templates.account(Language::En, &notice("undone")).unwrap();
        assert_eq!(
            subject,
            "The move of your mailbox was undone: bob@new.example"
        );
        assert!(
            body.contains("The copies it had made in your new mailbox"),
            "{body}"
        );
        assert!(body.contains("were removed"), "{body}");
        assert!(body.contains("was never changed"), "{body}");
        let (_, body) = templates.account(Language::Es, &notice("undone")).unwrap();
        assert!(
            body.contains("no se ha modificado en\nningún momento"),
            "{body}"
        );
    }

    #[test]
    fn the_completed_email_says_what_moved() {
        let templates = Templates::load(None).unwrap();
        let (subject, body) = templates
            .account(Language::En, &notice("completed_with_errors"))
            .unwrap();
        assert_eq!(subject, "Your mailbox has moved: bob@new.example");
        assert!(
            body.contains("  - 1,305 messages, with their folders\n"),
            "{body}"
        );
        assert!(body.contains("2 items could not be copied"), "{body}");
        let (_, body) = templates
            .account(Language::Es, &notice("completed"))
            .unwrap();
        assert!(
            body.contains("  - 1,305 mensajes, con sus carpetas\n"),
            "{body}"
        );
        assert!(!body.contains("No se han podido copiar"), "{body}");
    }

    #[test]
    fn a_folder_of_templates_replaces_the_shipped_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("account.es.hbs"),
            "Subject: Traslado {{migration_id}}\n\nListo, {{destination}}.\n",
        )
        .unwrap();
        let templates = Templates::load(Some(dir.path())).unwrap();
        let (subject, body) = templates
            .account(Language::Es, &notice("completed"))
            .unwrap();
        assert_eq!(subject, "Traslado M4QW-8ZTX-3HJN");
        assert_eq!(body, "Listo, bob@new.example.\n");
        // The others stay as shipped.
        let (subject, _) = templates
            .account(Language::En, &notice("completed"))
            .unwrap();
        assert!(subject.starts_with("Your mailbox has moved"));

        std::fs::write(dir.path().join("account.en.hbs"), "{{#if}").unwrap();
        let error = Templates::load(Some(dir.path())).err().unwrap();
        assert!(format!("{error:#}").contains("account.en.hbs"), "{error:#}");
    }
}
