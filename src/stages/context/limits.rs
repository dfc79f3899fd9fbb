//! Limits shared by every account of a batch: connections per host,
//! optional rate caps, and the memory that messages in transit may use.
//! Under `mailshift worker` the caps hold across every worker of the
//! state database: connections per host through slots leased there, and
//! each batch's rate caps shared out among the workers running it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::plan::Limits;
use crate::store::Store;
use crate::store::workers::Lessee;

/// Memory for messages between source and destination, for the whole
/// batch, in KiB. A message larger than this takes all of it, alone.
const MEMORY_BUDGET_KIB: u32 = 24 * 1024;

/// The batch-wide limits, shared by every account.
pub struct Shared {
    per_host: usize,
    memory: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    messages: Option<RateLimiter>,
    bytes: Option<RateLimiter>,
    /// The daemon's limits, shared by every batch it runs: its cap on
    /// connections per host holds across them, on top of each batch's own.
    outer: Option<Arc<Shared>>,
    /// The workers' slots, when this process is one of several workers.
    workers: Option<Workers>,
}

/// How often a connection waits for a slot another worker holds.
const SLOT_POLL: Duration = Duration::from_millis(200);

/// The connection slots per host that the workers of one state database
/// share, each leased by the worker holding it. Clones share what this
/// worker holds.
#[derive(Clone)]
pub struct Workers {
    store: Store,
    lessee: Lessee,
    /// The slots held, by host: only these are renewed, so that a slot
    /// whose release was lost (the database away) expires.
    held: Arc<Mutex<Vec<(String, i64)>>>,
}

impl Workers {
    /// This worker's share of the slots in `store`.
    pub fn new(store: Store, lessee: Lessee) -> Workers {
        Workers {
            store,
            lessee,
            held: Arc::default(),
        }
    }

    /// The slots held now, each as its host and number.
    pub fn held(&self) -> Vec<(String, i64)> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits for `wanted` slots per host, host by host in sorted order,
    /// each host's all at once (as [`Shared::connections`] does).
    async fn slots(&self, wanted: &BTreeMap<String, u32>, cap: usize) -> Vec<WorkerSlots> {
        let mut held = Vec::with_capacity(wanted.len());
        for (host, &count) in wanted {
            let count = (count as usize).min(cap);
            loop {
                match self
                    .store
                    .take_host_slots(&self.lessee, host.clone(), cap, count)
                    .await
                {
                    Ok(Some(slots)) => {
                        self.held
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .extend(slots.iter().map(|&slot| (host.clone(), slot)));
                        held.push(WorkerSlots {
                            workers: self.clone(),
                            host: host.clone(),
                            slots,
                        });
                        break;
                    }
                    Ok(None) => {}
                    Err(error) => tracing::warn!(host, "connection slots: {error}"),
                }
                tokio::time::sleep(SLOT_POLL).await;
            }
        }
        held
    }
}

/// Slots of one host held in the shared state database; given back when
/// dropped.
struct WorkerSlots {
    workers: Workers,
    host: String,
    slots: Vec<i64>,
}

impl Drop for WorkerSlots {
    fn drop(&mut self) {
        self.workers
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(host, slot)| *host != self.host || !self.slots.contains(slot));
        self.workers.store.release_host_slots(
            &self.workers.lessee,
            std::mem::take(&mut self.host),
            std::mem::take(&mut self.slots),
        );
    }
}

/// Connection slots held, in this process and across workers; dropping
/// them gives them back.
pub struct Permits {
    _local: Vec<OwnedSemaphorePermit>,
    _workers: Vec<WorkerSlots>,
}

impl Shared {
    /// Limits for a batch.
    pub fn new(limits: &Limits) -> Shared {
        Shared {
            per_host: limits.connections_per_host.max(1),
            memory: Arc::new(Semaphore::new(MEMORY_BUDGET_KIB as usize)),
            hosts: Mutex::new(HashMap::new()),
            messages: limits
                .messages_per_second
                .map(|n| RateLimiter::new(f64::from(n))),
            bytes: limits.bytes_per_second.map(|n| RateLimiter::new(n as f64)),
            outer: None,
            workers: None,
        }
    }

    /// One batch's limits in a worker: connections per host capped across
    /// every worker of the state database.
    pub fn for_worker(limits: &Limits, workers: Workers) -> Shared {
        Shared {
            workers: Some(workers),
            ..Shared::new(limits)
        }
    }

    /// Shares the rate caps out among `workers` workers: each takes its
    /// part.
    pub fn share_rates(&self, workers: usize) {
        for limiter in [&self.messages, &self.bytes].into_iter().flatten() {
            limiter.share(workers);
        }
    }

    /// One batch's limits within `outer`'s (the daemon's): the batch's own
    /// rate caps and connections per host, the outer cap on connections
    /// per host as well, and the outer memory budget.
    pub fn within(limits: &Limits, outer: Arc<Shared>) -> Shared {
        Shared {
            memory: outer.memory.clone(),
            outer: Some(outer),
            ..Shared::new(limits)
        }
    }

    /// Connections to one host that one caller may hold at once: the
    /// lowest cap of this level and the outer ones.
    pub fn per_host(&self) -> usize {
        self.outer
            .as_ref()
            .map_or(self.per_host, |o| o.per_host().min(self.per_host))
    }

    /// Waits for one connection slot per host named (a host named twice
    /// takes two); the slots are held until the permits are dropped.
    ///
    /// Slots are taken host by host in sorted order, several of one host
    /// at once: two callers can never each hold what the other waits for.
    /// The batch's own slots are taken before the outer ones, always in
    /// that order, so no cycle of waits can form across batches either.
    /// Across workers, the shared slots are taken last, in the same order.
    pub async fn connections(&self, hosts: &[&str]) -> Permits {
        let mut wanted: BTreeMap<String, u32> = BTreeMap::new();
        for host in hosts {
            *wanted.entry(host.to_ascii_lowercase()).or_default() += 1;
        }
        let mut local = self.host_slots(&wanted).await;
        if let Some(outer) = &self.outer {
            local.extend(outer.host_slots(&wanted).await);
        }
        let workers = match &self.workers {
            Some(workers) => workers.slots(&wanted, self.per_host()).await,
            None => Vec::new(),
        };
        Permits {
            _local: local,
            _workers: workers,
        }
    }

    /// Waits for `wanted` slots per host of this level's semaphores.
    async fn host_slots(&self, wanted: &BTreeMap<String, u32>) -> Vec<OwnedSemaphorePermit> {
        let mut permits = Vec::with_capacity(wanted.len());
        for (host, &count) in wanted {
            let semaphore = {
                // The map is only touched here and never across an await.
                let mut map = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
                map.entry(host.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                    .clone()
            };
            // More than the cap would never be granted: take the cap.
            let count = count.min(u32::try_from(self.per_host).unwrap_or(u32::MAX));
            permits.push(
                semaphore
                    .acquire_many_owned(count)
                    .await
                    .expect("host semaphores are never closed"),
            );
        }
        permits
    }

    /// Waits until one more message of `bytes` bytes may be sent.
    pub async fn pace(&self, bytes: u64) {
        if let Some(messages) = &self.messages {
            messages.take(1.0).await;
        }
        if let Some(limit) = &self.bytes {
            limit.take(bytes as f64).await;
        }
    }
}

/// Memory borrowed from the batch's budget for messages in transit. What
/// is not given back message by message returns when the loan is dropped.
pub struct Loan<'a> {
    shared: &'a Shared,
    /// KiB taken and not yet given back.
    outstanding: AtomicU32,
}

impl<'a> Loan<'a> {
    /// A loan with nothing borrowed yet.
    pub fn new(shared: &'a Shared) -> Loan<'a> {
        Loan {
            shared,
            outstanding: AtomicU32::new(0),
        }
    }

    /// The memory a message of `bytes` bytes counts for.
    pub fn cost(bytes: u64) -> u32 {
        u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, MEMORY_BUDGET_KIB)
    }

    /// Waits until `kib` KiB (at most the whole budget) are free, and takes them.
    pub async fn take(&self, kib: u32) {
        let kib = kib.min(MEMORY_BUDGET_KIB);
        self.shared
            .memory
            .acquire_many(kib)
            .await
            .expect("the memory semaphore is never closed")
            .forget();
        self.outstanding.fetch_add(kib, Ordering::Relaxed);
    }

    /// Gives back what a message of `bytes` bytes took.
    pub fn give_back(&self, bytes: u64) {
        let cost = Loan::cost(bytes);
        let taken = self
            .outstanding
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o - cost.min(o))
            })
            .map_or(0, |before| cost.min(before));
        self.shared.memory.add_permits(taken as usize);
    }
}

impl Drop for Loan<'_> {
    fn drop(&mut self) {
        self.shared
            .memory
            .add_permits(self.outstanding.load(Ordering::Relaxed) as usize);
    }
}

/// A token bucket refilled at a steady rate, holding at most one second's
/// worth of tokens.
struct RateLimiter {
    /// The whole cap, before it is shared out among workers.
    cap: f64,
    /// Tokens at hand, when they were counted, and this process's rate.
    state: Mutex<(f64, Instant, f64)>,
}

impl RateLimiter {
    fn new(per_second: f64) -> RateLimiter {
        let per_second = per_second.max(1.0);
        RateLimiter {
            cap: per_second,
            state: Mutex::new((per_second, Instant::now(), per_second)),
        }
    }

    /// Takes a `1 / workers` part of the cap from now on.
    fn share(&self, workers: usize) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.2 = (self.cap / workers.max(1) as f64).max(1.0);
    }

    async fn take(&self, amount: f64) {
        let wait = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let (tokens, last, per_second) = &mut *state;
            let now = Instant::now();
            *tokens =
                (*tokens + now.duration_since(*last).as_secs_f64() * *per_second).min(*per_second);
            *last = now;
            *tokens -= amount;
            // A debt is paid by waiting; later callers queue behind it.
            (*tokens < 0.0).then(|| Duration::from_secs_f64(-*tokens / *per_second))
        };
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spreads_work_over_time() {
        let limiter = RateLimiter::new(10.0);
        let start = Instant::now();
        for _ in 0..30 {
            limiter.take(1.0).await;
        }
        // 10 tokens at hand, then 20 more at 10/s.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(2100), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_shared_among_workers_is_each_ones_part() {
        let limiter = RateLimiter::new(10.0);
        limiter.share(2);
        let start = Instant::now();
        for _ in 0..15 {
            limiter.take(1.0).await;
        }
        // 5 tokens at hand (one second of the part), then 10 more at 5/s.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(2100), "{elapsed:?}");
    }

    #[tokio::test]
    async fn loans_wait_for_memory_and_return_it() {
        let shared = Shared::new(&Limits::default());
        let first = Loan::new(&shared);
        first.take(MEMORY_BUDGET_KIB).await;
        let second = Loan::new(&shared);
        let waiting = tokio::time::timeout(Duration::from_millis(50), second.take(10));
        assert!(waiting.await.is_err(), "the budget is spent");
        first.give_back(10 * 1024);
        second.take(10).await;
        drop(first);
        second.take(MEMORY_BUDGET_KIB - 10).await;
        assert_eq!(Loan::cost(1), 1);
        assert_eq!(Loan::cost(100 * 1024 * 1024), MEMORY_BUDGET_KIB);
    }

    #[tokio::test]
    async fn connections_per_host_are_capped() {
        let shared = Shared::new(&Limits {
            connections_per_host: 2,
            ..Limits::default()
        });
        let a = shared.connections(&["imap.example.test"]).await;
        let _b = shared.connections(&["IMAP.example.test"]).await;
        let third = tokio::time::timeout(
            Duration::from_millis(50),
            shared.connections(&["imap.example.test"]),
        );
        assert!(third.await.is_err(), "a third connection must wait");
        drop(a);
        let _c = shared.connections(&["imap.example.test"]).await;
        let _other = shared.connections(&["other.example.test"]).await;
    }

    #[tokio::test]
    async fn a_batch_within_the_daemons_limits_keeps_its_own_and_the_outer_cap() {
        let daemon = Arc::new(Shared::new(&Limits {
            connections_per_host: 3,
            ..Limits::default()
        }));
        let batch = |per_host| {
            Shared::within(
                &Limits {
                    connections_per_host: per_host,
                    ..Limits::default()
                },
                daemon.clone(),
            )
        };
        let (one, two) = (batch(2), batch(2));
        let _a = one.connections(&["mail.example.test"]).await;
        let _b = one.connections(&["mail.example.test"]).await;
        let waiting = tokio::time::timeout(
            Duration::from_millis(50),
            one.connections(&["mail.example.test"]),
        );
        assert!(waiting.await.is_err(), "the batch's own cap holds");
        let _c = two.connections(&["mail.example.test"]).await;
        let waiting = tokio::time::timeout(
            Duration::from_millis(50),
            two.connections(&["mail.example.test"]),
        );
        assert!(
            waiting.await.is_err(),
            "the daemon's cap holds across batches"
        );
    }

    #[tokio::test]
    async fn pairs_on_one_host_cannot_deadlock() {
        // Two slots, many pairs whose two ends are on the same host: each
        // pair takes both slots at once, or waits holding none.
        let shared = Arc::new(Shared::new(&Limits {
            connections_per_host: 2,
            ..Limits::default()
        }));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let shared = shared.clone();
            tasks.spawn(async move {
                let _pair = shared
                    .connections(&["mail.example.test", "mail.example.test"])
                    .await;
                tokio::task::yield_now().await;
            });
        }
        let all = async { while tasks.join_next().await.is_some() {} };
        tokio::time::timeout(Duration::from_secs(5), all)
            .await
            .expect("every pair got its slots");
    }
}
