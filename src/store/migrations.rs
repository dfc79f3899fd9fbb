//! Numbered schema migrations, one list for both backends. Each runs in its
//! own transaction that also bumps the schema version (SQLite's `PRAGMA
//! user_version`, PostgreSQL's `schema_version` table); a database newer
//! than this binary is refused. PostgreSQL runs the same statements,
//! translated by [`postgres_ddl`].

use super::StoreError;
use super::db::{Backend, Db, params};

/// The migrations, in order. Migration `n` (1-based) takes the database from
/// version `n - 1` to `n`. Never edit one that has shipped: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: batches, accounts, stages, mail checkpoints, daemon jobs, item errors,
    // Sieve scripts, address books and vCards.
    r#"
    CREATE TABLE batches (
        id          INTEGER PRIMARY KEY,
        public_id   TEXT    NOT NULL UNIQUE,
        name        TEXT    NOT NULL UNIQUE,
        manifest    TEXT,
        state       TEXT    NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE accounts (
        id                 INTEGER PRIMARY KEY,
        batch_id           INTEGER NOT NULL REFERENCES batches(id),
        migration_id       TEXT    NOT NULL UNIQUE,
        source_email       TEXT    NOT NULL COLLATE NOCASE,
        destination_email  TEXT    NOT NULL COLLATE NOCASE,
        source_server      TEXT,
        destination_server TEXT,
        state              TEXT    NOT NULL,
        cancel_requested   INTEGER NOT NULL DEFAULT 0,
        undo_window        INTEGER NOT NULL DEFAULT 172800,
        stage              TEXT,
        error              TEXT,
        created_at         INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL,
        finished_at        INTEGER,
        UNIQUE (batch_id, source_email, destination_email)
    ) STRICT;

    CREATE TABLE stages (
        account_id   INTEGER NOT NULL REFERENCES accounts(id),
        kind         TEXT    NOT NULL,
        state        TEXT    NOT NULL,
        found        INTEGER NOT NULL DEFAULT 0,
        copied       INTEGER NOT NULL DEFAULT 0,
        present      INTEGER NOT NULL DEFAULT 0,
        skipped      INTEGER NOT NULL DEFAULT 0,
        failed       INTEGER NOT NULL DEFAULT 0,
        bytes        INTEGER NOT NULL DEFAULT 0,
        started_at   INTEGER,
        finished_at  INTEGER,
        PRIMARY KEY (account_id, kind)
    ) STRICT;

    CREATE TABLE folders (
        id                   INTEGER PRIMARY KEY,
        account_id           INTEGER NOT NULL REFERENCES accounts(id),
        source_name          TEXT    NOT NULL,
        dest_name            TEXT    NOT NULL,
        created              INTEGER NOT NULL DEFAULT 0,
        source_uidvalidity   INTEGER,
        dest_uidvalidity     INTEGER,
        source_uidnext       INTEGER,
        source_modseq        INTEGER,
        dest_uidnext         INTEGER,
        source_messages      INTEGER,
        dest_messages        INTEGER,
        UNIQUE (account_id, source_name)
    ) STRICT;

    CREATE TABLE messages (
        id           INTEGER PRIMARY KEY,
        folder_id    INTEGER NOT NULL REFERENCES folders(id),
        source_uid   INTEGER,
        dest_uid     INTEGER,
        fingerprint  BLOB    NOT NULL,
        flags        TEXT    NOT NULL,
        size         INTEGER NOT NULL,
        copied       INTEGER NOT NULL,
        pending      INTEGER NOT NULL DEFAULT 0,
        source_key   TEXT,
        UNIQUE (folder_id, source_uid),
        UNIQUE (folder_id, source_key)
    ) STRICT;
    CREATE INDEX messages_by_fingerprint ON messages (folder_id, fingerprint);

    CREATE TABLE jobs (
        id           INTEGER PRIMARY KEY,
        name         TEXT    NOT NULL,
        dir          TEXT    NOT NULL,
        manifest     TEXT    NOT NULL,
        batch        TEXT    NOT NULL,
        state        TEXT    NOT NULL,
        start_after  INTEGER,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE events (
        id    INTEGER PRIMARY KEY,
        at    INTEGER NOT NULL,
        what  TEXT    NOT NULL
    ) STRICT;

    CREATE TABLE item_errors (
        id          INTEGER PRIMARY KEY,
        account_id  INTEGER NOT NULL REFERENCES accounts(id),
        stage       TEXT    NOT NULL,
        item        TEXT    NOT NULL,
        reason      TEXT    NOT NULL,
        at          INTEGER NOT NULL
    ) STRICT;

    -- Sieve scripts (rules, auto_replies): one row per script written at
    -- the destination or found there already.
    CREATE TABLE sieve_scripts (
        id           INTEGER PRIMARY KEY,
        account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        stage        TEXT    NOT NULL,
        source_name  TEXT    NOT NULL,
        dest_name    TEXT    NOT NULL,
        hash         TEXT    NOT NULL,
        created      INTEGER NOT NULL,
        old_content  BLOB,
        UNIQUE (account_id, stage, source_name)
    ) STRICT;

    -- The destination's active Sieve script before the first change.
    CREATE TABLE sieve_accounts (
        account_id     INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        active_before  TEXT
    ) STRICT;

    -- Address books (contacts, contact_groups): which source address book
    -- became which destination one, and whether mailshift created it.
    CREATE TABLE contact_books (
        id           INTEGER PRIMARY KEY,
        account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        source_href  TEXT    NOT NULL,
        dest_href    TEXT    NOT NULL,
        created      INTEGER NOT NULL,
        UNIQUE (account_id, source_href)
    ) STRICT;

    -- vCards: one row per source vCard copied or found at the destination.
    CREATE TABLE contact_cards (
        id           INTEGER PRIMARY KEY,
        account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        stage        TEXT    NOT NULL,
        source_href  TEXT    NOT NULL,
        etag         TEXT    NOT NULL,
        dest_href    TEXT    NOT NULL,
        created      INTEGER NOT NULL,
        UNIQUE (account_id, source_href)
    ) STRICT;
    "#,
    // The WebDAV stages share two tables, one area (`contacts`,
    // `calendars`) per pair of stages; the contact rows move over.
    r#"
    CREATE TABLE dav_collections (
        id           INTEGER PRIMARY KEY,
        account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        area         TEXT    NOT NULL,
        source_href  TEXT    NOT NULL,
        dest_href    TEXT    NOT NULL,
        created      INTEGER NOT NULL,
        UNIQUE (account_id, area, source_href)
    ) STRICT;

    CREATE TABLE dav_items (
        id           INTEGER PRIMARY KEY,
        account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        area         TEXT    NOT NULL,
        stage        TEXT    NOT NULL,
        source_href  TEXT    NOT NULL,
        etag         TEXT    NOT NULL,
        dest_href    TEXT    NOT NULL,
        created      INTEGER NOT NULL,
        UNIQUE (account_id, area, source_href)
    ) STRICT;

    -- The destination's home collection, a whole URL, for undo.
    CREATE TABLE dav_homes (
        account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        area         TEXT    NOT NULL,
        url          TEXT    NOT NULL,
        PRIMARY KEY (account_id, area)
    ) STRICT;

    INSERT INTO dav_collections (account_id, area, source_href, dest_href, created)
        SELECT account_id, 'contacts', source_href, dest_href, created
        FROM contact_books ORDER BY id;
    INSERT INTO dav_items (account_id, area, stage, source_href, etag, dest_href, created)
        SELECT account_id, 'contacts', stage, source_href, etag, dest_href, created
        FROM contact_cards ORDER BY id;
    DROP TABLE contact_cards;
    DROP TABLE contact_books;
    "#,
    // WebDAV intents: `pending` is 1 from just before a write until its
    // answer is recorded; after a crash, the write may or may not have
    // happened.
    r#"
    ALTER TABLE dav_items ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
    "#,
    // Copies the destination stored other than they were sent (a server
    // that rewrites messages, e.g. Cyrus's munge8bit).
    r#"
    ALTER TABLE stages ADD COLUMN altered INTEGER NOT NULL DEFAULT 0;
    "#,
    // WebDAV refusals: the reason a destination refused a resource for
    // good (NULL when it did not), so that a re-run does not write the
    // same version again.
    r#"
    ALTER TABLE dav_items ADD COLUMN refused TEXT;
    "#,
    // The last outcome an account's notifications announced: each outcome
    // is emailed once, not again on every incremental pass.
    r#"
    ALTER TABLE accounts ADD COLUMN notified TEXT;
    "#,
    // WebDAV sync tokens (RFC 6578): per stage and source collection, the
    // state of the last pass that left nothing to try again there, so
    // that the next asks only what changed since; and the source
    // resources a sync report said were removed (their rows stay for
    // undo).
    r#"
    CREATE TABLE dav_sync_tokens (
        account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        area         TEXT    NOT NULL,
        stage        TEXT    NOT NULL,
        source_href  TEXT    NOT NULL,
        token        TEXT    NOT NULL,
        PRIMARY KEY (account_id, stage, source_href)
    ) STRICT;

    CREATE TABLE dav_source_gone (
        account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        area         TEXT    NOT NULL,
        collection   TEXT    NOT NULL,
        source_href  TEXT    NOT NULL,
        PRIMARY KEY (account_id, area, source_href)
    ) STRICT;
    "#,
    // An undone account's history: each undo, with what the migration had
    // copied and what the undo removed and left (JSON, an UndoRecord).
    r#"
    CREATE TABLE undos (
        id           INTEGER PRIMARY KEY,
        account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        record       TEXT    NOT NULL
    ) STRICT;
    "#,
    // Copies an interrupted attempt had announced (its intents when the
    // next pass began): that attempt's last APPEND may still land after
    // the next pass looked, and a twin of such a copy that appears
    // unrecorded at the destination is that APPEND.
    r#"
    ALTER TABLE messages ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
    "#,
    // Subscriptions a migration added at the destination (1 when the
    // folder was not subscribed before): undo removes them.
    r#"
    ALTER TABLE folders ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 0;
    "#,
    // The items a running pass of a stage will have dealt with once done
    // (NULL until the pass knows): the status pages' total before the
    // pass ends and writes `found`.
    r#"
    ALTER TABLE stages ADD COLUMN pass_total INTEGER;
    "#,
    // A label-aware source (Gmail): its label mode (`all`, `first`; NULL
    // for any other source) and the copies that spared, messages that
    // show in several folders copied fewer times.
    r#"
    ALTER TABLE stages ADD COLUMN label_mode TEXT;
    ALTER TABLE stages ADD COLUMN label_copies_avoided INTEGER NOT NULL DEFAULT 0;
    "#,
    // Workers: batches queued for them, the account each holds and until
    // when (its lease), the workers alive, and the connection slots per
    // host they share.
    r#"
    ALTER TABLE batches ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN worker TEXT;
    ALTER TABLE accounts ADD COLUMN lease_until INTEGER;
    CREATE TABLE workers (
        name        TEXT    PRIMARY KEY,
        host        TEXT    NOT NULL,
        pid         INTEGER NOT NULL,
        started_at  INTEGER NOT NULL,
        seen_at     INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE host_slots (
        host         TEXT    NOT NULL,
        slot         INTEGER NOT NULL,
        worker       TEXT    NOT NULL,
        lease_until  INTEGER NOT NULL,
        PRIMARY KEY (host, slot)
    ) STRICT;
    "#,
    // The accounts workers look for among every batch's: those held (a
    // heartbeat counts them per batch each second) and those that may be
    // claimed. Without these, both read the whole table: 30 and 45 ms
    // each with 200,000 finished accounts in a PostgreSQL state.
    r#"
    CREATE INDEX accounts_held ON accounts (batch_id, worker) WHERE worker IS NOT NULL;
    CREATE INDEX accounts_claimable ON accounts (id)
        WHERE state IN ('queued', 'running', 'interrupted');
    "#,
];

/// Where PostgreSQL keeps the schema version (SQLite has `user_version`).
const POSTGRES_VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
     CREATE COLLATION IF NOT EXISTS nocase
         (provider = icu, locale = 'und-u-ks-level2', deterministic = false);";

/// Brings the database up to the latest schema version.
pub(super) fn migrate(db: &mut Db) -> Result<(), StoreError> {
    loop {
        // Two processes opening a new database at once must not both run
        // the same migration.
        let mut tx = db.exclusive_transaction("mailshift-migrations")?;
        let current = usize::try_from(version(&mut tx)?).unwrap_or(usize::MAX);
        if current > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                found: current,
                known: MIGRATIONS.len(),
            });
        }
        let Some(sql) = MIGRATIONS.get(current) else {
            return Ok(());
        };
        match tx.backend() {
            Backend::Sqlite => {
                tx.execute_batch(sql)?;
                tx.execute_batch(&format!("PRAGMA user_version = {}", current + 1))?;
            }
            Backend::Postgres => {
                tx.execute_batch(&postgres_ddl(sql))?;
                tx.execute("DELETE FROM schema_version", params![])?;
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    params![(current + 1) as i64],
                )?;
            }
        }
        tx.commit()?;
    }
}

/// The schema version the database is at (0 when new).
fn version(db: &mut Db) -> Result<i64, StoreError> {
    let sql = match db.backend() {
        Backend::Sqlite => "PRAGMA user_version",
        Backend::Postgres => {
            db.execute_batch(POSTGRES_VERSION_TABLE)?;
            "SELECT coalesce(max(version), 0) FROM schema_version"
        }
    };
    db.query_row(sql, params![], |row| row.get(0))
}

/// A migration in PostgreSQL's words: 64-bit integers, `bytea` for blobs,
/// identity keys, no `STRICT` (PostgreSQL's columns always are), and the
/// case-insensitive collation made above.
fn postgres_ddl(sqlite: &str) -> String {
    sqlite
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.starts_with(&["id", "INTEGER", "PRIMARY"])
                && words.get(3).is_some_and(|key| key.starts_with("KEY"))
            {
                let body = line.trim_start();
                let indent = &line[..line.len() - body.len()];
                let after = &body[body.find("KEY").map_or(0, |at| at + 3)..];
                return format!(
                    "{indent}id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY{after}"
                );
            }
            line.replace("INTEGER", "BIGINT")
                .replace("BLOB", "BYTEA")
                .replace(") STRICT;", ");")
                .replace("COLLATE NOCASE", "COLLATE nocase")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_ddl_translates_types_keys_and_strictness() {
        let ddl = postgres_ddl(
            "CREATE TABLE t (\n    id     INTEGER PRIMARY KEY,\n    a_id   INTEGER NOT NULL,\n    \
             e TEXT COLLATE NOCASE,\n    b BLOB\n) STRICT;",
        );
        assert_eq!(
            ddl,
            "CREATE TABLE t (\n    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n    \
             a_id   BIGINT NOT NULL,\n    e TEXT COLLATE nocase,\n    b BYTEA\n);"
        );
        assert!(
            postgres_ddl("account_id INTEGER PRIMARY KEY REFERENCES accounts(id)")
                .starts_with("account_id BIGINT PRIMARY KEY")
        );
    }
}
