//! mailshift against vdirsyncer on the same data in the same run: one
//! account's calendars, tasks, contacts and groups from a source server
//! into an empty destination of the same kind (Radicale→Radicale,
//! Xandikos→Xandikos), each tool timed with its peak RSS, and the HTTP
//! requests it sent to each server counted by a proxy in front of it.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use mailshift::protocols::caldav::{Collection, ICALENDAR, PutOutcome};
use mailshift::protocols::carddav::VCARD;
use mailshift::protocols::dav::DavClient;
use mailshift::protocols::imap::Auth;

use super::counting_proxy::CountingProxy;
use super::dav_corpus::{self, Kind, Shape};
use super::measure::{Measured, measure};
use super::outcome::run_args;
use super::radicale::Radicale;
use super::xandikos::Xandikos;

const USER: &str = "alice";

/// A server of either kind, with its one user's homes.
enum Server {
    Radicale(Radicale),
    Xandikos(Xandikos),
}

impl Server {
    fn start(xandikos: bool, password: &str, root: &Path) -> Server {
        if xandikos {
            Server::Xandikos(Xandikos::start(USER, password))
        } else {
            Server::Radicale(Radicale::start_in(&[(USER, password)], root))
        }
    }

    fn port(&self) -> u16 {
        match self {
            Server::Radicale(s) => s.port(),
            Server::Xandikos(s) => s.port(),
        }
    }

    /// CPU seconds (user and system) the server has used so far, and
    /// seconds its threads spent ready to run but waiting for a CPU.
    fn cpu(&self) -> (f64, f64) {
        let pid = match self {
            Server::Radicale(s) => s.pid(),
            Server::Xandikos(s) => s.pid(),
        };
        (cpu_seconds(pid), run_queue_seconds(pid))
    }

    /// (calendar home, address book home).
    fn homes(&self) -> (String, String) {
        match self {
            Server::Radicale(_) => (format!("/{USER}/"), format!("/{USER}/")),
            Server::Xandikos(_) => (format!("/{USER}/calendars/"), format!("/{USER}/contacts/")),
        }
    }

    fn client(&self, path: &str, password: &str) -> DavClient {
        DavClient::new(
            &format!("http://127.0.0.1:{}{path}", self.port()),
            USER,
            Auth::Password(password.into()),
            false,
            std::time::Duration::from_secs(60),
        )
        .expect("a client")
    }

    /// Items in every calendar and address book.
    async fn count(&self, password: &str) -> Result<usize, String> {
        let (calendars, books) = self.homes();
        let mut total = 0;
        let cal = self.client(&calendars, password);
        let book = self.client(&books, password);
        let mut all = cal.calendars().await.map_err(|e| e.to_string())?;
        all.extend(book.address_books().await.map_err(|e| e.to_string())?);
        for c in all {
            total += cal.items(&c.href).await.map_err(|e| e.to_string())?.len();
        }
        Ok(total)
    }
}

/// One tool's run.
struct Figures {
    measured: Measured,
    source_requests: usize,
    dest_requests: usize,
    /// CPU seconds each server used during the run.
    source_cpu: f64,
    dest_cpu: f64,
    /// Seconds the destination server waited for a CPU.
    dest_waited: f64,
}

/// CPU seconds (user and system) a process has used, from `/proc`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name in parentheses: the state is field 3, utime
    // and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / USER_HZ
}

/// Seconds the live threads of a process spent ready to run but waiting
/// for a CPU (the second field of each thread's `schedstat`; Radicale's
/// threads of requests already answered are not counted).
fn run_queue_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum();
    nanos as f64 / 1e9
}

/// Clock ticks per second in `/proc`'s figures (Linux's `USER_HZ`,
/// fixed for user space).
const USER_HZ: f64 = 100.0;

/// Runs the comparison on one kind of server; prints its table.
pub async fn compare(
    xandikos: bool,
    round_trip: Duration,
    shape: &Shape,
    binary: &Path,
    root: &Path,
    work: &Path,
) -> Result<(), String> {
    let name = if xandikos { "Xandikos" } else { "Radicale" };
    let source = Server::start(xandikos, "source-pw", root);
    let items = load(&source, shape).await?;
    let mut rows = Vec::new();
    for tool in ["mailshift", "vdirsyncer"] {
        let dest = Server::start(xandikos, "dest-pw", root);
        let (from, to) = (
            CountingProxy::start(source.port(), round_trip),
            CountingProxy::start(dest.port(), round_trip),
        );
        let dir = work.join(format!("{name}-{tool}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let cpu_before = (source.cpu(), dest.cpu());
        let measured = match tool {
            "mailshift" => run_mailshift(binary, &dir, (from.port, to.port)),
            _ => run_vdirsyncer(&dir, (from.port, to.port)),
        };
        let (source_after, dest_after) = (source.cpu(), dest.cpu());
        let source_cpu = source_after.0 - cpu_before.0.0;
        let (dest_cpu, dest_waited) =
            (dest_after.0 - cpu_before.1.0, dest_after.1 - cpu_before.1.1);
        if !measured.status.success() {
            return Err(format!(
                "{tool} on {name} failed:\n{}\n{}",
                measured.stdout, measured.stderr
            ));
        }
        let copied = dest.count("dest-pw").await?;
        if copied != items {
            return Err(format!(
                "{tool} on {name}: {copied} of {items} items arrived"
            ));
        }
        rows.push((
            tool,
            Figures {
                measured,
                source_requests: from.requests(),
                dest_requests: to.requests(),
                source_cpu,
                dest_cpu,
                dest_waited,
            },
        ));
    }
    println!(
        "\n{name}→{name}, {items} items (one account), {} ms round trip to each server:",
        round_trip.as_millis()
    );
    println!(
        "{:<12}{:>9} {:>9} {:>14} {:>14} {:>10} {:>11} {:>11} {:>10}",
        "",
        "seconds",
        "items/s",
        "source req/it",
        "dest req/it",
        "peak RSS",
        "tool CPU s",
        "source CPU",
        "dest CPU"
    );
    for (tool, f) in &rows {
        let secs = f.measured.wall.as_secs_f64();
        println!(
            "{tool:<12}{secs:>9.2} {:>9.1} {:>14.3} {:>14.3} {:>10} {:>11.2} {:>11.2} {:>10.2}",
            items as f64 / secs,
            f.source_requests as f64 / items as f64,
            f.dest_requests as f64 / items as f64,
            f.measured
                .rss_mib()
                .map_or("-".to_owned(), |m| format!("{m:.1} MiB")),
            f.measured.cpu.unwrap_or(f64::NAN),
            f.source_cpu,
            f.dest_cpu,
        );
    }
    // Where the destination server's time went: what it costs per item
    // bounds any client. The rest of the run it was blocked (on its
    // disk: Xandikos syncs every object of its git commit of each item)
    // or idle, waiting for the client.
    for (tool, f) in &rows {
        let wall = f.measured.wall.as_secs_f64();
        println!(
            "{tool}: the destination server ran {:.0}% of the run ({:.1} ms of CPU per item), \
             waited for a CPU {:.0}%, and was blocked or idle {:.0}%",
            100.0 * f.dest_cpu / wall,
            1000.0 * f.dest_cpu / items as f64,
            100.0 * f.dest_waited / wall,
            100.0 * (wall - f.dest_cpu - f.dest_waited).max(0.0) / wall,
        );
    }
    let speed = |f: &Figures| items as f64 / f.measured.wall.as_secs_f64();
    println!(
        "ratio mailshift/vdirsyncer: {:.2}× items/s",
        speed(&rows[0].1) / speed(&rows[1].1)
    );
    Ok(())
}

/// Creates the account's collections on the source and PUTs its objects.
async fn load(source: &Server, shape: &Shape) -> Result<usize, String> {
    let (calendars, books) = source.homes();
    let mut items = 0;
    for collection in dav_corpus::account(shape, 0) {
        let (client, media, href) = match collection.kind {
            Kind::Calendar(component) => {
                let client = source.client(&calendars, "source-pw");
                let href = format!("{calendars}{}/", collection.segment);
                let like = Collection {
                    display_name: Some(collection.name.to_owned()),
                    components: vec![component.to_owned()],
                    ..Collection::default()
                };
                client
                    .create_calendar(&href, &like)
                    .await
                    .map_err(|e| e.to_string())?;
                (client, ICALENDAR, href)
            }
            Kind::AddressBook => {
                let client = source.client(&books, "source-pw");
                let href = format!("{books}{}/", collection.segment);
                client
                    .create_address_book(&href, collection.name)
                    .await
                    .map_err(|e| e.to_string())?;
                (client, VCARD, href)
            }
        };
        for (name, body) in &collection.objects {
            let outcome = client
                .put_new(&format!("{href}{name}"), media, body.as_bytes())
                .await
                .map_err(|e| format!("PUT {href}{name}: {e}"))?;
            if outcome != PutOutcome::Created {
                return Err(format!("PUT {href}{name}: {outcome:?}"));
            }
            items += 1;
        }
    }
    Ok(items)
}

fn run_mailshift(binary: &Path, dir: &Path, (from, to): (u16, u16)) -> Measured {
    let manifest = dir.join("batch.yaml");
    let yaml = format!(
        "batch: compare\naccounts:\n  - source: {{kind: groupware, host: 127.0.0.1, port: 1, \
         tls: none, email: {USER}@example.test, user: {USER}, password: source-pw, \
         dav_url: \"http://127.0.0.1:{from}/{USER}/\"}}\n    \
         destination: {{kind: groupware, host: 127.0.0.1, port: 2, tls: none, \
         email: {USER}@example.test, user: {USER}, password: dest-pw, \
         dav_url: \"http://127.0.0.1:{to}/{USER}/\"}}\n    \
         options: [calendars, tasks, contacts, contact_groups]\n"
    );
    std::fs::write(&manifest, yaml).expect("write the manifest");
    let args = run_args(&manifest, &dir.join("state.db"), &dir.join("reports"));
    measure(binary, &args, dir, "mailshift")
}

/// vdirsyncer 0.19 (Debian): `discover` (creating the destination's
/// collections, answering yes) then `sync`, measured together.
fn run_vdirsyncer(dir: &Path, (from, to): (u16, u16)) -> Measured {
    let mut config = format!("[general]\nstatus_path = \"{}/status/\"\n", dir.display());
    for (pair, kind) in [("cal", "caldav"), ("card", "carddav")] {
        let _ = write!(
            config,
            "\n[pair {pair}]\na = \"{pair}_a\"\nb = \"{pair}_b\"\ncollections = [\"from a\"]\n\
             conflict_resolution = \"a wins\"\n\
             \n[storage {pair}_a]\ntype = \"{kind}\"\nurl = \"http://127.0.0.1:{from}/{USER}/\"\n\
             username = \"{USER}\"\npassword = \"source-pw\"\n\
             \n[storage {pair}_b]\ntype = \"{kind}\"\nurl = \"http://127.0.0.1:{to}/{USER}/\"\n\
             username = \"{USER}\"\npassword = \"dest-pw\"\n"
        );
    }
    let path = dir.join("vdirsyncer.conf");
    std::fs::write(&path, config).expect("write the vdirsyncer config");
    let script = format!(
        "yes | vdirsyncer -c '{0}' discover >/dev/null && vdirsyncer -c '{0}' sync",
        path.display()
    );
    let args: Vec<OsString> = vec!["-c".into(), script.into()];
    measure(Path::new("/bin/sh"), &args, dir, "vdirsyncer")
}
