//! How fast `mailshift run` migrates calendars, tasks, contacts and
//! contact groups between two CalDAV/CardDAV servers, on a realistic
//! corpus.
//!
//! 1. Generates a deterministic corpus (4 accounts, each with 500 events
//!    over four calendars, 50 tasks and 300 contacts plus a few groups by
//!    default; see `support/dav_corpus.rs`) and PUTs it into a source
//!    Radicale. Timed for reference only: it shows what the server itself
//!    costs per item.
//! 2. Runs the release `mailshift` binary on a manifest of every account
//!    (`kind: groupware`, `dav_url` given, options `calendars, tasks,
//!    contacts, contact_groups`; the IMAP port is a closed one, as no mail
//!    option is used) into an empty destination Radicale: wall time and
//!    peak RSS (GNU time).
//! 3. Counts the items of every collection of every account on both
//!    servers; any difference fails the benchmark.
//! 4. Runs the same command again with nothing changed: it must copy
//!    nothing and leave the counts as they are.
//! 5. Undoes the first account (`mailshift undo`): its destination
//!    collections must be left without items, the others untouched.
//! 6. Compares mailshift with vdirsyncer (the Debian package) on one
//!    account of the same corpus, Radicale→Radicale then
//!    Xandikos→Xandikos, each into a fresh destination: items/s, HTTP
//!    requests per item at each server (counted by a proxy in front of
//!    it), peak RSS, the CPU time of the tool and of each server, where
//!    the destination server's time went (running, waiting for a CPU,
//!    blocked or idle), and the ratio of items/s
//!    (`support/dav_compare.rs`).
//!
//! Run with `cargo bench --bench dav`. Knobs, as environment variables:
//!
//! - `BENCH_DAV_ACCOUNTS` (4), `BENCH_DAV_EVENTS` per account (500; the
//!   task list gets a tenth of that), `BENCH_DAV_CONTACTS` per account
//!   (300), `BENCH_SEED`;
//! - `BENCH_DAV_ROOT` (`/dev/shm`): where the Radicale stores live
//!   (Radicale syncs every write to disk, which a tmpfs makes free);
//! - `BENCH_DAV_COMPARE_ONLY`: set, runs step 6 alone;
//! - `BENCH_DAV_RTT_MS` (0): in step 6, the round trip the proxies add
//!   to every exchange with each server (half each way), for servers
//!   across a network rather than on loopback;
//! - `MAILSHIFT_BIN`: the binary to measure (default: the one Cargo built
//!   with this benchmark, `target/release/mailshift`).

#[allow(dead_code)]
#[path = "../tests/it/support/radicale.rs"]
mod radicale;

#[allow(dead_code)]
#[path = "../tests/it/support/server.rs"]
mod server;

#[allow(dead_code)]
#[path = "../tests/it/support/xandikos.rs"]
mod xandikos;

#[path = "support/counting_proxy.rs"]
mod counting_proxy;
#[path = "support/dav_compare.rs"]
mod dav_compare;
#[path = "support/dav_corpus.rs"]
mod dav_corpus;
#[allow(dead_code)]
#[path = "support/measure.rs"]
mod measure;
#[path = "support/outcome.rs"]
mod outcome;
#[allow(dead_code)]
#[path = "support/rng.rs"]
mod rng;
#[path = "support/totals.rs"]
mod totals;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use mailshift::protocols::caldav::{Collection, ICALENDAR, PutOutcome};
use mailshift::protocols::carddav::VCARD;

use dav_corpus::{Kind, Shape};
use measure::{env_or, measure, mib};
use outcome::{migration_id, row, run_args, succeeded, undo_args};
use radicale::Radicale;

const SOURCE_PASSWORD: &str = "source-pw";
const DEST_PASSWORD: &str = "dest-pw";

/// Accounts loaded or counted at once.
const CLIENT_CONCURRENCY: usize = 4;

/// Items per collection, by account and collection display name.
type Inventory = BTreeMap<(String, String), usize>;

fn main() {
    let Some(runtime) = measure::start("dav") else {
        return;
    };
    let shape = Shape {
        accounts: env_or("BENCH_DAV_ACCOUNTS", 4usize).max(1),
        events_per_account: env_or("BENCH_DAV_EVENTS", 500),
        contacts_per_account: env_or("BENCH_DAV_CONTACTS", 300),
        seed: env_or("BENCH_SEED", 20_240_601),
    };
    let root = std::env::var_os("BENCH_DAV_ROOT")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/dev/shm")))
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let binary = measure::mailshift_binary();
    measure::exit(runtime.block_on(async {
        if std::env::var_os("BENCH_DAV_COMPARE_ONLY").is_none() {
            bench(&shape, &binary, &root).await?;
        }
        let work = tempfile::Builder::new()
            .prefix("mailshift-dav-compare-")
            .tempdir()
            .map_err(|e| format!("a temporary directory: {e}"))?;
        let round_trip = Duration::from_millis(env_or("BENCH_DAV_RTT_MS", 0));
        for xandikos in [false, true] {
            dav_compare::compare(xandikos, round_trip, &shape, &binary, &root, work.path()).await?;
        }
        Ok(())
    }));
}

async fn bench(shape: &Shape, binary: &Path, root: &Path) -> Result<(), String> {
    println!(
        "dav bench: {} accounts × ({} events, {} tasks, {} contacts), seed {}, \
         Radicale storage under {}, binary {}",
        shape.accounts,
        shape.events_per_account,
        shape.events_per_account / 10,
        shape.contacts_per_account,
        shape.seed,
        root.display(),
        binary.display()
    );
    if !binary.is_file() {
        return Err(format!(
            "{} does not exist: run `cargo bench --bench dav`, which builds it",
            binary.display()
        ));
    }
    let users: Vec<String> = (0..shape.accounts).map(|i| format!("user{i:02}")).collect();
    let with =
        |password| -> Vec<(&str, &str)> { users.iter().map(|u| (u.as_str(), password)).collect() };
    let source = Radicale::start_in(&with(SOURCE_PASSWORD), root);
    let dest = Radicale::start_in(&with(DEST_PASSWORD), root);

    // 1. The corpus, PUT into the source.
    let started = Instant::now();
    let (items, bytes) = load(&source, shape, &users).await?;
    let load_time = started.elapsed();
    let want = inventory(&source, &users).await?;
    let counted: usize = want.values().sum();
    if counted != items {
        return Err(format!(
            "the source holds {counted} items after {items} PUTs"
        ));
    }
    println!(
        "corpus: {items} items in {} collections, {:.1} MiB, PUT into the source in {:.1} s",
        want.len(),
        mib(bytes),
        load_time.as_secs_f64()
    );

    // 2–3. The migration, then the counts.
    let work = tempfile::Builder::new()
        .prefix("mailshift-dav-bench-")
        .tempdir()
        .map_err(|e| format!("a temporary directory: {e}"))?;
    let dir = work.path();
    let manifest = dir.join("batch.yaml");
    std::fs::write(&manifest, manifest_yaml(&users, &source, &dest))
        .map_err(|e| format!("write {}: {e}", manifest.display()))?;
    let state = dir.join("state.db");
    let reports = dir.join("reports");
    let run_args = run_args(&manifest, &state, &reports);
    let run = measure(binary, &run_args, dir, "run");
    let totals = succeeded(&run, "mailshift run")?;
    if totals.accounts != users.len() || totals.completed != users.len() || totals.failed != 0 {
        return Err(format!(
            "mailshift run did not complete every account: {totals}\n{}",
            run.stdout
        ));
    }
    let got = inventory(&dest, &users).await?;
    same(&want, &got, "after the migration")?;

    // 4. Nothing changed: nothing copied.
    let rerun = measure(binary, &run_args, dir, "rerun");
    let rerun_totals = succeeded(&rerun, "the no-change re-run")?;
    if rerun_totals.copied != 0 || rerun_totals.failed != 0 {
        return Err(format!(
            "the no-change re-run did something: {rerun_totals}\n{}",
            rerun.stdout
        ));
    }
    same(&want, &inventory(&dest, &users).await?, "after the re-run")?;

    // 5. Undo of the first account.
    let undone = &users[0];
    let email = format!("{undone}@example.test");
    let id = migration_id(binary, &state, &email)?;
    let undo_args = undo_args(id, &email, &state, &reports);
    let undo = measure(binary, &undo_args, dir, "undo");
    succeeded(&undo, "mailshift undo")?;
    let after_undo = inventory(&dest, &users).await?;
    let mut expected: Inventory = want
        .iter()
        .filter(|((user, _), _)| user != undone)
        .map(|(key, count)| (key.clone(), *count))
        .collect();
    // Collections the undo leaves in place must at least be empty.
    for ((user, name), count) in &after_undo {
        if user == undone && *count == 0 {
            expected.insert((user.clone(), name.clone()), 0);
        }
    }
    same(&expected, &after_undo, "after the undo")?;
    let undone_items: usize = want
        .iter()
        .filter(|((user, _), _)| user == undone)
        .map(|(_, count)| count)
        .sum();

    println!();
    outcome::header();
    row("load (plain PUTs)", items, bytes, load_time, None);
    row("mailshift run", items, bytes, run.wall, Some(&run));
    row("no-change re-run", items, bytes, rerun.wall, Some(&rerun));
    row(
        &format!("undo ({undone})"),
        undone_items,
        0,
        undo.wall,
        Some(&undo),
    );
    println!(
        "checked: every collection's count equal after the run and the re-run \
         ({totals}; re-run: {rerun_totals}); {undone} empty after the undo"
    );
    Ok(())
}

/// Creates every account's collections on the source and PUTs their
/// objects; returns the number of items and their bytes.
async fn load(source: &Radicale, shape: &Shape, users: &[String]) -> Result<(usize, u64), String> {
    let loads = users.iter().enumerate().map(|(index, user)| async move {
        let client = source.client(user);
        let mut sizes = (0usize, 0u64);
        for collection in dav_corpus::account(shape, index) {
            let href = format!("/{user}/{}/", collection.segment);
            let created = match collection.kind {
                Kind::Calendar(component) => {
                    let like = Collection {
                        display_name: Some(collection.name.to_owned()),
                        components: vec![component.to_owned()],
                        ..Collection::default()
                    };
                    client.create_calendar(&href, &like).await
                }
                Kind::AddressBook => client.create_address_book(&href, collection.name).await,
            };
            created.map_err(|e| format!("{user}: create {href}: {e}"))?;
            let media = match collection.kind {
                Kind::Calendar(_) => ICALENDAR,
                Kind::AddressBook => VCARD,
            };
            for (name, body) in &collection.objects {
                let outcome = client
                    .put_new(&format!("{href}{name}"), media, body.as_bytes())
                    .await
                    .map_err(|e| format!("{user}: PUT {href}{name}: {e}"))?;
                if outcome != PutOutcome::Created {
                    return Err(format!("{user}: PUT {href}{name}: {outcome:?}"));
                }
                sizes.0 += 1;
                sizes.1 += body.len() as u64;
            }
        }
        Ok(sizes)
    });
    let loaded: Vec<Result<(usize, u64), String>> = futures::stream::iter(loads)
        .buffer_unordered(CLIENT_CONCURRENCY)
        .collect()
        .await;
    loaded.into_iter().try_fold((0, 0), |(items, bytes), one| {
        let (i, b) = one?;
        Ok((items + i, bytes + b))
    })
}

/// Items in every calendar and address book of every account.
async fn inventory(server: &Radicale, users: &[String]) -> Result<Inventory, String> {
    let counts = users.iter().map(|user| async move {
        let client = server.client(user);
        let mut collections = client
            .calendars()
            .await
            .map_err(|e| format!("{user}: list calendars: {e}"))?;
        collections.extend(
            client
                .address_books()
                .await
                .map_err(|e| format!("{user}: list address books: {e}"))?,
        );
        let mut counts = Vec::new();
        for collection in collections {
            let items = client
                .items(&collection.href)
                .await
                .map_err(|e| format!("{user}: list {}: {e}", collection.href))?;
            let name = collection.display_name.unwrap_or(collection.href);
            counts.push(((user.clone(), name), items.len()));
        }
        Ok(counts)
    });
    let counted: Vec<Result<Vec<_>, String>> = futures::stream::iter(counts)
        .buffer_unordered(CLIENT_CONCURRENCY)
        .collect()
        .await;
    let mut inventory = Inventory::new();
    for counts in counted {
        inventory.extend(counts?);
    }
    Ok(inventory)
}

/// Fails, listing every difference, unless the two inventories are equal.
fn same(want: &Inventory, got: &Inventory, when: &str) -> Result<(), String> {
    let mut differences = String::new();
    for key in want.keys().chain(got.keys()) {
        let (w, g) = (want.get(key), got.get(key));
        if w != g && !differences.contains(&format!("{} {:?}:", key.0, key.1)) {
            let _ = writeln!(
                differences,
                "  {} {:?}: source {}, destination {}",
                key.0,
                key.1,
                w.map_or("none".into(), usize::to_string),
                g.map_or("none".into(), usize::to_string)
            );
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the destination's counts differ {when}:\n{differences}"
        ))
    }
}

/// A manifest moving every account's groupware, with a closed IMAP port.
fn manifest_yaml(users: &[String], source: &Radicale, dest: &Radicale) -> String {
    // Ports 1 and 2 are closed on loopback: no IMAP connection is made, as
    // no mail option is asked for. They differ because the manifest check
    // tells a source from its destination by IMAP server and user.
    let mut yaml = String::from(
        "batch: davbench\n\
         defaults:\n  \
           source: {kind: groupware, host: 127.0.0.1, port: 1, tls: none}\n  \
           destination: {kind: groupware, host: 127.0.0.1, port: 2, tls: none}\n  \
           options: [calendars, tasks, contacts, contact_groups]\n\
         accounts:\n",
    );
    for user in users {
        let _ = write!(
            yaml,
            "  - source: {{email: {user}@example.test, user: {user}, password: {SOURCE_PASSWORD}, \
             dav_url: \"{}\"}}\n    \
               destination: {{email: {user}@example.test, user: {user}, \
             password: {DEST_PASSWORD}, dav_url: \"{}\"}}\n",
            source.home(user),
            dest.home(user)
        );
    }
    yaml
}
