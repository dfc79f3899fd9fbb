//! mailshift moves whole mailboxes from one provider to another, for many
//! accounts at once, driven by manifest files.
//!
//! # Architecture
//!
//! Data flows one way:
//!
//! ```text
//! manifest ──► plan ──► engine ──► stages ──► protocols
//!                          │          │
//!                          └─► store ◄┘   (every step checkpointed)
//! ```
//!
//! and each module imports only the layers below it, so the module graph
//! has no cycle (`tools/modgraph.py src` checks it):
//!
//! ```text
//! front ends   cli · daemon · worker · batch · web
//! work         engine · preflight · report · undo
//!              stages   (stages::context: what the engine hands a stage)
//! model        plan ─► manifest, autodetect
//!              store
//! clients      protocols (imap, pop3, managesieve, smtp, dav, http, oauth2, dns, pst)
//! leaves       formats · vocabulary
//! ```
//!
//! - [`vocabulary`] is the leaf every layer speaks: secrets, credentials,
//!   servers and TLS modes, stage kinds, account and stage states. It
//!   imports nothing of the crate.
//! - [`formats`] writes and reads the mail-adjacent formats: MIME pieces
//!   (encoded words, RFC 2231 parameters, quoted-printable) and the content
//!   lines of iCalendar and vCard.
//! - [`protocols`] holds the clients (IMAP, POP3, ManageSieve, a WebDAV
//!   client with CalDAV and CardDAV requests and RFC 6764 home discovery,
//!   SMTP), the TLS setup (one `SessionConfig` and one STARTTLS switch for
//!   every session client), HTTP and DNS they share, the token requests and
//!   cache of OAuth2 service accounts (Google, Microsoft), and the PST file
//!   reader with the MIME, vCard and iCalendar building that turns its
//!   items into what servers hold.
//! - [`autodetect`] finds server settings from an address alone (provider
//!   table, autoconfig, DNS SRV, MX), cached per domain for a batch.
//! - [`manifest`] loads YAML, CSV and the foreign dialects (imapsync, OVH
//!   Mail Migrator) into one typed model, checks it against
//!   `schemas/manifest.schema.json` and reports every problem with its place.
//! - [`plan`] turns a valid manifest into an immutable [`plan::Plan`]:
//!   defaults merged, endpoints resolved, stages chosen. Autodetect then
//!   fills in the servers still unknown and makes it a
//!   [`plan::ResolvedPlan`]: only that reaches the engine.
//! - [`store`] is the state database: batches, accounts, stages,
//!   folders, per-message checkpoints and the daemon's jobs, in an SQLite
//!   file (the default) or a PostgreSQL server behind one interface; batch
//!   locks on either. One writer, numbered migrations; states are strings
//!   only there.
//! - [`stages`] holds one module per option (`mail` from IMAP, `pop3` for
//!   the mail of a POP3 source, `pst` for the mail of an Outlook PST file,
//!   `rules` for rules and auto-replies, `contacts` for contacts and
//!   contact groups, `calendars` for calendars and tasks, re-created
//!   without invitations; `dav` holds what the WebDAV stages share,
//!   `files` reads `.ics`, `.vcf` and PST files as their source), each turning
//!   an account plan into protocol calls and store records. A stage gets a
//!   [`stages::context::AccountContext`]: the account, the store, its share
//!   of the limits, the retry policy, progress counters and stop tokens.
//!   The three mail stages share one copy `pipeline` (intent, fetch,
//!   APPEND, checkpoint, watermark) over a message source, with its named
//!   crash edges.
//! - [`engine`] runs a batch: accounts concurrently under limits
//!   (global, per host, per account), retries with backoff, cancellation.
//! - [`preflight`] logs in to every endpoint of a plan, changing nothing,
//!   and says which accounts are ready, with volumes and an estimate.
//! - [`report`] writes `report.json` (schema in `schemas/report.schema.json`)
//!   and a self-contained `report.html` per batch, and composes the
//!   notification emails.
//! - [`undo`] reverses a migration from its undo manifest: exactly what it
//!   created, nothing else.
//! - [`batch`] runs one batch end to end, as `run` and the daemon do: the
//!   batch lock, the engine, undo manifests, reports, notifications; or
//!   queues it for workers.
//! - [`daemon`] watches a folder: drop a manifest, get a migration.
//! - [`worker`] runs the accounts of batches queued in a shared state
//!   database, beside other workers on other machines: each account
//!   claimed under a lease, taken over when its worker dies.
//! - [`web`] serves the status pages (`mailshift serve`): the end user's
//!   page with Cancel and Undo, the admin dashboard, a JSON API, over the
//!   same store and the same library calls as the CLI.
//! - [`cli`] parses arguments and maps outcomes to exit codes; `main` only
//!   calls it.
//!
//! # Names
//!
//! A *batch* is one manifest run; an *account* is one source→destination
//! pair; a *stage* is one option (mail, contacts, ...) for one account; an
//! *item* is one message, event, contact or script; a *checkpoint* records
//! that an item is done.

#![warn(missing_docs)]

pub mod autodetect;
pub mod batch;
pub mod cli;
pub mod daemon;
pub mod engine;
pub mod formats;
pub mod manifest;
pub mod plan;
pub mod preflight;
pub mod protocols;
pub mod report;
pub mod stages;
pub mod store;
pub mod undo;
pub mod vocabulary;
pub mod web;
pub mod worker;
