//! `mailshift serve` under load: a batch of many accounts in the state
//! database, the admin pages that list them, and many end users' pages
//! following their migrations.
//!
//! 1. Writes a batch of `BENCH_ACCOUNTS` accounts (1,000) into a new state
//!    database through the store, as a run would: each with a finished
//!    mail stage, a third of them failed with an item error.
//! 2. Starts the release `mailshift serve` as a child process.
//! 3. Times `BENCH_REQUESTS` (50) requests of each: the admin page of the
//!    batch's accounts (page 5, filtered by state, sorted), the same
//!    through the API, the batch list, and an end user's status page.
//! 4. Runs `BENCH_FOLLOWERS` (50) end users following their accounts for
//!    `BENCH_FOLLOW_SECONDS` (20), each asking the API every two seconds
//!    as the page's script does, and reads the CPU time the server spent.
//!
//! Run with `cargo bench --bench web`. The targets: the accounts page in
//! ≤ 100 ms at the median, 50 followers costing under 5% of a core.

#[allow(dead_code)]
#[path = "support/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "../tests/it/support/web.rs"]
mod web;

use std::time::{Duration, Instant};

use mailshift::plan::StageKind;
use mailshift::store::Store;
use mailshift::store::batches::{AccountKey, AccountState, StageCounts, StageState};

use measure::env_or;
use web::{ADMIN_TOKEN, Serve};

/// CPU seconds a process has spent, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; the state (field
    // 3) is the first after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    ticks as f64 / 100.0
}

/// Median and slowest of `n` timed requests.
async fn timed(serve: &Serve, label: &str, path: &str, headers: &[(&str, &str)], n: usize) {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let reply = serve.get(path, headers).await;
        times.push(started.elapsed());
        assert_eq!(reply.status, 200, "{label}: {}", reply.body);
    }
    times.sort();
    println!(
        "{label:<40} median {:>7.1} ms   slowest {:>7.1} ms",
        times[n / 2].as_secs_f64() * 1000.0,
        times[n - 1].as_secs_f64() * 1000.0
    );
}

#[tokio::main]
async fn main() {
    let accounts: usize = env_or("BENCH_ACCOUNTS", 1000);
    let requests: usize = env_or("BENCH_REQUESTS", 50);
    let followers: usize = env_or("BENCH_FOLLOWERS", 50);
    let follow_secs: u64 = env_or("BENCH_FOLLOW_SECONDS", 20);
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.db");

    let started = Instant::now();
    let store = Store::open(&state).expect("state database");
    let batch = store.open_batch("load", None).await.expect("batch");
    let mut ids = Vec::with_capacity(accounts);
    for i in 0..accounts {
        let record = store
            .open_account(
                batch.id,
                AccountKey {
                    source_email: format!("user{i:05}@old.example"),
                    destination_email: format!("user{i:05}@new.example"),
                    source_server: Some("imap.old.example:993".into()),
                    destination_server: Some("imap.new.example:993".into()),
                    undo_window_secs: 48 * 3600,
                },
            )
            .await
            .expect("account");
        store
            .begin_stage(record.id, StageKind::Mail)
            .await
            .expect("stage");
        let failed = i % 3 == 0;
        let counts = StageCounts {
            found: 500,
            copied: if failed { 499 } else { 500 },
            failed: u64::from(failed),
            bytes: 25_000_000,
            ..StageCounts::default()
        };
        store
            .finish_stage(record.id, StageKind::Mail, StageState::Done, counts)
            .await
            .expect("finish stage");
        if failed {
            store
                .record_item_error(
                    record.id,
                    StageKind::Mail,
                    "INBOX UID 7".into(),
                    "the destination refused it".into(),
                )
                .await
                .expect("item error");
        }
        let state = match failed {
            true => AccountState::CompletedWithErrors,
            false => AccountState::Completed,
        };
        store
            .set_account_state(record.id, state, None, None)
            .await
            .expect("account state");
        ids.push((record.migration_id, format!("user{i:05}%40old.example")));
    }
    drop(store);
    println!(
        "{accounts} accounts written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let serve = Serve::start(&state, &dir.path().join("reports"), 1_000_000);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let admin = [("Authorization", bearer.as_str())];
    let batch_id = &batch.public_id;
    timed(
        &serve,
        "admin: accounts page (filtered, sorted)",
        &format!("/admin/batches/{batch_id}?state=completed&sort=destination&page=5"),
        &admin,
        requests,
    )
    .await;
    timed(
        &serve,
        "api: batch accounts (filtered, sorted)",
        &format!("/api/v1/batches/{batch_id}/accounts?state=completed&sort=id&page=5"),
        &admin,
        requests,
    )
    .await;
    timed(&serve, "admin: batches", "/admin", &admin, requests).await;
    let (id, source) = &ids[accounts / 2];
    timed(
        &serve,
        "end user: status page",
        &format!("/status?id={id}&source={source}"),
        &[],
        requests,
    )
    .await;

    let before = cpu_seconds(serve.pid());
    let wall = Instant::now();
    let deadline = wall + Duration::from_secs(follow_secs);
    let serve = &serve;
    let polls: usize = futures::future::join_all((0..followers).map(|n| {
        let (id, source) = ids[n * accounts / followers].clone();
        async move {
            let path = format!("/api/v1/migrations/{id}?source={source}");
            let mut polls = 0;
            // Spread the followers over the two seconds of one poll.
            tokio::time::sleep(Duration::from_millis(2000 * n as u64 / followers as u64)).await;
            while Instant::now() < deadline {
                assert_eq!(serve.get(&path, &[]).await.status, 200);
                polls += 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            polls
        }
    }))
    .await
    .into_iter()
    .sum();
    let cpu = cpu_seconds(serve.pid()) - before;
    let secs = wall.elapsed().as_secs_f64();
    println!(
        "{followers} followers, {polls} polls in {secs:.0} s: the server used {:.2}% of a core",
        cpu / secs * 100.0
    );
}
