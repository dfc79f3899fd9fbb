//! The destination collection for each source collection: the one an
//! earlier run recorded, else one of the same display name and resource
//! type (address book or calendar) that can hold its items, else a new
//! one. A new calendar gets the source's properties; what the server did
//! not set at creation is set again with `PROPPATCH`, and what it cannot
//! store at all is reported once, when the collection is created.

use anyhow::Context as _;

use super::last_segment;
use crate::plan::StageKind;
use crate::protocols::dav::{Collection, DavClient};
use crate::stages::context::AccountContext;
use crate::store::dav::{CollectionRecord, DavArea};

/// The components the stages copy: events (`calendars`) and to-dos
/// (`tasks`). Others a server lists (Xandikos lists `VJOURNAL` and
/// `VFREEBUSY` on every calendar) do not decide a match.
const COPIED: [&str; 2] = ["VEVENT", "VTODO"];

/// Whether a destination collection can hold what a source one holds.
/// Both lists come from the listing of one resource type, so any address
/// book holds any vCard, whatever components a server says it accepts
/// (Radicale lists calendar components on address books, Xandikos does
/// not); a calendar must accept every copied component of the source's.
pub(super) fn accepts(area: DavArea, dest: &Collection, source: &Collection) -> bool {
    match area {
        DavArea::Contacts => true,
        DavArea::Calendars => {
            dest.components.is_empty()
                || (!source.components.is_empty()
                    && source
                        .components
                        .iter()
                        .filter(|c| COPIED.contains(&c.as_str()))
                        .all(|c| dest.components.contains(c)))
        }
    }
}

/// The destination collection for `source`, recorded for the account,
/// and whether mailshift created it (else it held things of its own).
pub(super) async fn target(
    ctx: &AccountContext,
    (kind, area): (StageKind, DavArea),
    dest: &DavClient,
    source: &Collection,
    dest_collections: &mut Vec<Collection>,
    records: &[CollectionRecord],
) -> anyhow::Result<(Collection, bool)> {
    if let Some(record) = records.iter().find(|r| r.source_href == source.href)
        && let Some(recorded) = dest_collections.iter().find(|c| c.href == record.dest_href)
    {
        return Ok((recorded.clone(), record.created));
    }
    let name = source
        .display_name
        .clone()
        .unwrap_or_else(|| last_segment(&source.href).to_owned());
    let existing = dest_collections
        .iter()
        .find(|c| c.display_name.as_deref() == Some(name.as_str()) && accepts(area, c, source))
        .cloned();
    let (target, created) = match existing {
        Some(collection) => (collection, false),
        None => {
            let segment = last_segment(&source.href);
            let taken = |href: &str| dest_collections.iter().any(|c| c.href == href);
            let mut href = format!("{}{segment}/", dest.home());
            let mut n = 2;
            while taken(&href) {
                href = format!("{}{segment}-{n}/", dest.home());
                n += 1;
            }
            let like = Collection {
                href: href.clone(),
                display_name: Some(name.clone()),
                ..source.clone()
            };
            create(ctx, (kind, area), dest, &like).await?;
            dest_collections.push(like.clone());
            (like, true)
        }
    };
    ctx.store
        .record_dav_collection(
            ctx.account.id,
            area,
            CollectionRecord {
                source_href: source.href.clone(),
                dest_href: target.href.clone(),
                created,
            },
        )
        .await?;
    Ok((target, created))
}

/// Creates `like` at the destination, sets again what creation did not
/// set, and reports what the destination cannot store.
async fn create(
    ctx: &AccountContext,
    (kind, area): (StageKind, DavArea),
    dest: &DavClient,
    like: &Collection,
) -> anyhow::Result<()> {
    let name = like.display_name.as_deref().unwrap_or_default();
    let unset = match area {
        DavArea::Contacts => dest.create_address_book(&like.href, name).await,
        DavArea::Calendars => dest.create_calendar(&like.href, like).await,
    }
    .with_context(|| format!("Creating {name} at the destination"))?;
    let mut lost = Vec::new();
    for property in unset {
        let stored = dest
            .set_calendar_property(&like.href, like, &property)
            .await
            .with_context(|| format!("Setting the {property} of {name} at the destination"))?;
        if !stored {
            lost.push(words(&property, like));
        }
    }
    if !lost.is_empty() {
        let noun = match area {
            DavArea::Contacts => "address book",
            DavArea::Calendars => "calendar",
        };
        super::super::item_note(
            ctx,
            kind,
            &format!("{noun} {name}"),
            format!(
                "created without its {}: the destination cannot store {}",
                lost.join(", "),
                if lost.len() == 1 { "it" } else { "them" }
            ),
        )
        .await;
    }
    Ok(())
}

/// A collection property in words, for the report.
fn words(property: &str, like: &Collection) -> String {
    match property {
        "displayname" => "display name".into(),
        "calendar-color" => "colour".into(),
        "calendar-description" => "description".into(),
        "calendar-timezone" => "time zone".into(),
        "supported-calendar-component-set" => {
            format!("component set ({})", like.components.join(", "))
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(components: &[&str]) -> Collection {
        Collection {
            components: components.iter().map(|c| c.to_string()).collect(),
            ..Collection::default()
        }
    }

    #[test]
    fn a_calendar_is_reused_only_if_it_holds_the_same_components() {
        let calendars = DavArea::Calendars;
        assert!(accepts(calendars, &with(&[]), &with(&["VTODO"])));
        assert!(accepts(
            calendars,
            &with(&["VEVENT", "VTODO"]),
            &with(&["VTODO"])
        ));
        assert!(!accepts(calendars, &with(&["VEVENT"]), &with(&["VTODO"])));
        assert!(!accepts(calendars, &with(&["VEVENT"]), &with(&[])));
        // What Xandikos lists on every calendar.
        let any = with(&["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY"]);
        assert!(accepts(calendars, &with(&["VEVENT", "VTODO"]), &any));
        assert!(!accepts(calendars, &with(&["VEVENT"]), &any));
    }

    #[test]
    fn an_address_book_is_reused_whatever_components_either_server_lists() {
        // Radicale lists calendar components on an address book; Xandikos
        // lists none.
        let radicale = with(&["VEVENT", "VJOURNAL", "VTODO"]);
        assert!(accepts(DavArea::Contacts, &radicale, &with(&[])));
        assert!(accepts(DavArea::Contacts, &with(&[]), &radicale));
    }
}
