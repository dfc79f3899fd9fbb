//! What wakes the daemon's loop: only the folder events that can bring or
//! take away a manifest, and a burst of them counts once.
//!
//! inotify also reports the folder being opened, files being read and
//! their metadata changing; the daemon's own scan opens the folder, so
//! waking on every event would make each scan wake the next one.

use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind};
use tokio::sync::mpsc;

/// How long a wake waits for the rest of a burst (a copy, an editor's
/// save) before the folder is scanned.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Whether an event may change which manifests the folder holds: a file
/// created, closed after writing, moved in, or removed.
pub fn wakes(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(
                RenameMode::To | RenameMode::Both | RenameMode::Any
            ))
            | EventKind::Remove(_)
    )
}

/// A watcher callback that sends one wake for each event that [`wakes`];
/// wakes already pending are not queued twice.
pub fn callback(wake: mpsc::Sender<()>) -> impl Fn(notify::Result<Event>) + Send + 'static {
    move |event: notify::Result<Event>| {
        // A lost event is made up for by the periodic rescan; an error
        // (queue overflow) is worth a scan.
        if event.as_ref().map_or(true, |e| wakes(&e.kind)) {
            let _ = wake.try_send(());
        }
    }
}

/// Lets a burst of wakes settle: waits [`DEBOUNCE`], then drops the wakes
/// that came meanwhile.
pub async fn settle(woken: &mut mpsc::Receiver<()>) {
    tokio::time::sleep(DEBOUNCE).await;
    while woken.try_recv().is_ok() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind};

    #[test]
    fn only_events_that_change_the_manifests_wake() {
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Remove(RemoveKind::File),
        ] {
            assert!(wakes(&kind), "{kind:?}");
        }
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::From)),
        ] {
            assert!(!wakes(&kind), "{kind:?}");
        }
    }
}
