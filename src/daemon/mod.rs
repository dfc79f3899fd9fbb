//! The watched folder: drop a manifest, get a migration.
//!
//! The daemon watches a folder (inotify through the `notify` crate, a scan
//! at start, and a periodic rescan in case events are lost). A manifest
//! that has stopped changing ([`inbox`]) is checked: an invalid one is
//! moved to `rejected/` beside its errors (`.errors.txt`, `.errors.json`);
//! a valid one is moved, with the files it names, into the daemon's own
//! area (`accepted/<job>/`, readable only by the daemon's user: it holds
//! passwords), recorded as a job, and run (at its `start_after` time, if
//! it has one). When the batch ends, its folder moves to `done/` or
//! `failed/`. Nothing is ever deleted or overwritten.
//!
//! Batches run at once share the daemon's cap on connections per host;
//! each also keeps every limit its manifest sets (rates, connections per
//! host, concurrent accounts).
//! A restarted daemon resumes every job that had not finished. SIGTERM or
//! SIGINT: no new files, in-flight work is recorded, then exit.
//! Accounts of a finished batch can be run again ([`retry`]).

pub mod config;
pub mod inbox;
pub mod outcome;
pub mod retry;
pub mod wake;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use notify::Watcher;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::batch::{self, BatchLock, Services};
use crate::engine;
use crate::manifest::{self, Diagnostics};
use crate::plan::{self, Limits};
use crate::report;
use crate::stages::context::limits::Shared;
use crate::store::batches::{AccountState, BatchState};
use crate::store::jobs::Job;
use crate::vocabulary::JobState;

pub use config::{DaemonConfig, WebConfig};
use inbox::{Inbox, Ready, is_yaml};
use outcome::{DropResult, TABLE_ENDINGS, YAML_ENDINGS, companions};

/// A running daemon's settings, resolved.
pub struct Daemon {
    /// The watched folder.
    pub dir: PathBuf,
    /// The daemon's own area: `accepted/`, `done/`, `failed/`.
    pub area: PathBuf,
    /// The state database, the reports folder and the engine options.
    pub services: Services,
    /// The daemon's settings.
    pub config: DaemonConfig,
}

impl Daemon {
    /// Watches until `shutdown` fires, then lets running batches record
    /// their progress (at most the configured time) and returns.
    /// Retries sent on `retries` run through the same job path.
    pub async fn watch(
        self,
        shutdown: CancellationToken,
        mut retries: mpsc::Receiver<retry::Retry>,
    ) -> anyhow::Result<()> {
        let _lock = BatchLock::daemon(&self.services.store)?;
        for sub in ["accepted", "done", "failed"] {
            private_dir(&self.area.join(sub))?;
        }
        std::fs::create_dir_all(self.dir.join("rejected"))
            .with_context(|| format!("Cannot create {}", self.dir.join("rejected").display()))?;
        let daemon = Arc::new(self);
        let shared = Arc::new(Shared::new(&Limits {
            connections_per_host: daemon.config.connections_per_host(),
            ..Limits::default()
        }));
        let tracker = TaskTracker::new();
        for job in daemon.services.store.unfinished_jobs().await? {
            tracing::info!(job = job.id, batch = %job.batch, "resuming");
            tracker.spawn(daemon.clone().run_job(
                job,
                shared.clone(),
                shutdown.clone(),
                Vec::new(),
            ));
        }

        let (wake, mut woken) = mpsc::channel::<()>(1);
        let mut watcher =
            notify::recommended_watcher(wake::callback(wake)).context("Cannot watch the folder")?;
        watcher
            .watch(&daemon.dir, notify::RecursiveMode::NonRecursive)
            .with_context(|| format!("Cannot watch {}", daemon.dir.display()))?;
        tracing::info!(dir = %daemon.dir.display(), "watching");

        let mut inbox = Inbox::new(&daemon.dir, daemon.config.settle());
        loop {
            for ready in inbox.ready() {
                let path = match ready {
                    Ready::Odd(path, reason) => {
                        inbox.forget(&path);
                        if let Err(error) = daemon.reject_odd(&path, reason) {
                            tracing::error!(file = %path.display(), "{error:#}");
                        }
                        daemon.email_rejection(&file_name(&path), reason).await;
                        continue;
                    }
                    Ready::Manifest(path) => path,
                };
                if daemon.waits_for_companion(&inbox, &path) {
                    continue;
                }
                inbox.forget(&path);
                match daemon.accept(&path).await {
                    Ok(Some(job)) => {
                        tracker.spawn(daemon.clone().run_job(
                            job,
                            shared.clone(),
                            shutdown.clone(),
                            Vec::new(),
                        ));
                    }
                    Ok(None) => {}
                    Err(error) => tracing::error!(file = %path.display(), "{error:#}"),
                }
            }
            // Poll often while a file settles; otherwise rescan now and then.
            let wait = if inbox.waiting() {
                Duration::from_millis(250)
            } else {
                daemon.config.rescan()
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(()) = woken.recv() => {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = wake::settle(&mut woken) => {}
                    }
                }
                Some(retry) = retries.recv() => {
                    let requeued = retry::requeue(&daemon.services.store, &retry.batch).await;
                    let answer = match requeued {
                        Ok(Ok(job)) => {
                            tracing::info!(job = job.id, batch = %job.batch, "retrying {} accounts", retry.accounts.len());
                            tracker.spawn(daemon.clone().run_job(
                                job,
                                shared.clone(),
                                shutdown.clone(),
                                retry.accounts,
                            ));
                            Ok(())
                        }
                        Ok(Err(why)) => Err(why),
                        Err(error) => {
                            tracing::error!(batch = %retry.batch, "{error:#}");
                            Err("The daemon could not queue the retry; see its log.".to_owned())
                        }
                    };
                    let _ = retry.answer.send(answer);
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
        drop(watcher);
        tracing::info!(
            "stopping: no new files; waiting for running batches to record their progress"
        );
        tracker.close();
        if tokio::time::timeout(daemon.config.shutdown_timeout(), tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("batches did not stop in time; they resume from their checkpoints");
        }
        Ok(())
    }

    /// Whether a ready manifest waits for its same-stem companion: a YAML
    /// beside a CSV (or imapsync, OMM file) goes with it as its defaults;
    /// a CSV waits for its YAML to settle; a YAML of defaults alone (no
    /// accounts) waits a while for its CSV before it is rejected.
    fn waits_for_companion(&self, inbox: &Inbox, path: &Path) -> bool {
        if !is_yaml(path) {
            return companions(path, &YAML_ENDINGS)
                .iter()
                .any(|yaml| !inbox.settled(yaml));
        }
        if !companions(path, &TABLE_ENDINGS).is_empty() {
            return true;
        }
        let defaults_only = manifest::load(path)
            .is_ok_and(|m| m.accounts.is_empty() && m.settings.accounts_csv.is_none());
        defaults_only && inbox.unchanged_for(path) < self.config.settle() * COMPANION_WAIT
    }

    /// Tells the daemon's administrator, when there is one, that a file
    /// was rejected and why.
    async fn email_rejection(&self, name: &str, why: &str) {
        if let (Some(smtp), Some(admin)) = (self.config.smtp_config(), &self.config.admin) {
            outcome::email_rejection(smtp, admin, name, why).await;
        }
    }

    /// Moves something that can never be a manifest to `rejected/`, with
    /// its reason beside it.
    fn reject_odd(&self, path: &Path, reason: &str) -> anyhow::Result<()> {
        let name = file_name(path);
        let target = unique(&self.dir.join("rejected"), &name);
        std::fs::rename(path, &target)
            .with_context(|| format!("Cannot move {} to rejected/", path.display()))?;
        tracing::warn!(file = %path.display(), "rejected: {reason}");
        let base = target.display().to_string();
        std::fs::write(format!("{base}.errors.txt"), format!("{name}: {reason}\n"))?;
        DropResult {
            reason: Some(reason.to_owned()),
            errors: Some(format!("rejected/{}.errors.txt", file_name(&target))),
            ..DropResult::new(&name, "rejected")
        }
        .write(&self.dir)
    }

    /// Checks a ready manifest: rejects it, or accepts it as a job.
    async fn accept(&self, path: &Path) -> anyhow::Result<Option<Job>> {
        let loaded = manifest::load(path);
        let (files, checked) = match &loaded {
            Ok(m) => (m.files.clone(), Ok(plan::check(m))),
            Err(diagnostics) => (vec![path.to_owned()], Err(diagnostics.clone())),
        };
        // Only files in the watched folder move; a manifest may name others.
        let files: Vec<PathBuf> = files
            .into_iter()
            .filter(|f| f.parent() == Some(self.dir.as_path()) && f.exists())
            .collect();
        let problems = match checked {
            Ok(c) if c.can_run(self.config.skip_invalid()) => Ok(c),
            Ok(c) => Err(c.diagnostics),
            Err(d) => Err(d),
        };
        let checked = match problems {
            Ok(c) => c,
            Err(diagnostics) => {
                self.reject(&files, &diagnostics)?;
                self.email_rejection(&file_name(path), &diagnostics.to_string())
                    .await;
                return Ok(None);
            }
        };
        let name = file_name(path);
        let job_dir = unique(
            &self.area.join("accepted"),
            &format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"), name),
        );
        private_dir(&job_dir)?;
        for file in &files {
            let target = job_dir.join(file_name(file));
            move_file(file, &target)?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?;
        }
        let job = Job {
            id: 0,
            name: name.clone(),
            dir: job_dir.display().to_string(),
            manifest: job_dir.join(&name).display().to_string(),
            batch: checked.plan.batch.clone(),
            state: JobState::Scheduled,
            start_after: checked.plan.start_after.map(|t| t.timestamp()),
        };
        if checked
            .plan
            .start_after
            .is_some_and(|at| at > chrono::Utc::now())
        {
            // Shown as scheduled by `status` until it starts.
            let (plan, _) =
                plan::runnable_from_file(Path::new(&job.manifest), self.config.skip_invalid())
                    .map_err(|d| anyhow::anyhow!("{d}"))?;
            let (batch, _) =
                engine::register(&plan, &self.services.store, AccountState::Scheduled).await?;
            // `list` shows it scheduled, not running, until it starts.
            self.services
                .store
                .finish_batch(batch.id, BatchState::Scheduled)
                .await?;
        }
        let id = self.services.store.add_job(job.clone()).await?;
        tracing::info!(job = id, batch = %job.batch, file = %name, "accepted");
        for rejected in &checked.rejected {
            tracing::warn!(job = id, batch = %job.batch, "skipped {rejected}");
        }
        let skipped: Vec<String> = checked.rejected.iter().map(ToString::to_string).collect();
        for file in &files {
            let dropped = file_name(file);
            DropResult {
                batch: Some(&job.batch),
                skipped: skipped.clone(),
                ..DropResult::new(&dropped, "accepted")
            }
            .write(&self.dir)?;
        }
        Ok(Some(Job { id, ..job }))
    }

    /// Moves an invalid manifest (and the files it names) to `rejected/`,
    /// beside its errors as text and JSON.
    fn reject(&self, files: &[PathBuf], diagnostics: &Diagnostics) -> anyhow::Result<()> {
        let rejected = self.dir.join("rejected");
        let mut errors = None;
        for file in files {
            let target = unique(&rejected, &file_name(file));
            move_file(file, &target)?;
            tracing::warn!(file = %file.display(), "rejected: {} problems", diagnostics.error_count());
            if errors.is_none() {
                let base = target.display().to_string();
                std::fs::write(format!("{base}.errors.txt"), format!("{diagnostics}\n"))?;
                std::fs::write(
                    format!("{base}.errors.json"),
                    serde_json::to_vec_pretty(diagnostics)?,
                )?;
                errors = Some(format!("rejected/{}.errors.txt", file_name(&target)));
            }
            DropResult {
                reason: Some(format!("{} problems", diagnostics.error_count())),
                errors: errors.clone(),
                ..DropResult::new(&file_name(file), "rejected")
            }
            .write(&self.dir)?;
        }
        Ok(())
    }

    /// Runs one job: waits for its start time, runs the batch (`only`
    /// these accounts, by source and destination, when some are named),
    /// files it.
    async fn run_job(
        self: Arc<Self>,
        job: Job,
        shared: Arc<Shared>,
        shutdown: CancellationToken,
        only: Vec<(String, String)>,
    ) {
        if let Err(error) = self.try_run_job(&job, shared, &shutdown, &only).await {
            tracing::error!(job = job.id, batch = %job.batch, "{error:#}");
            let _ = self.file_job(&job, JobState::Failed, &[]).await;
        }
    }

    async fn try_run_job(
        &self,
        job: &Job,
        shared: Arc<Shared>,
        shutdown: &CancellationToken,
        only: &[(String, String)],
    ) -> anyhow::Result<()> {
        if let Some(at) = job.start_after {
            let wait = (at - chrono::Utc::now().timestamp()).max(0) as u64;
            if wait > 0
                && let Some(start) = chrono::DateTime::from_timestamp(at, 0)
            {
                let local = start.with_timezone(&chrono::Local);
                tracing::info!(
                    job = job.id,
                    batch = %job.batch,
                    "scheduled: starts at {}",
                    local.format("%Y-%m-%d %H:%M:%S %:z")
                );
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_secs(wait)) => {}
            }
        }
        let store = &self.services.store;
        store
            .set_job(
                job.id,
                JobState::Running,
                job.dir.clone(),
                job.manifest.clone(),
            )
            .await?;
        let (mut plan, skipped) =
            plan::runnable_from_file(Path::new(&job.manifest), self.config.skip_invalid())
                .map_err(|d| anyhow::anyhow!("{d}"))?;
        if !only.is_empty() {
            plan.accounts.retain(|a| {
                only.iter().any(|(source, destination)| {
                    a.source.email.eq_ignore_ascii_case(source)
                        && a.destination.email.eq_ignore_ascii_case(destination)
                })
            });
        }
        // Workers send the notifications of a manifest with its own `smtp:`;
        // the daemon sends those its configuration's server carries.
        let daemon_notifies = plan.smtp.is_none();
        self.config.fill_in_smtp(&mut plan);
        let plan = plan::autodetect::resolve_from_env(plan).await?;
        // The manifest's own limits (rates, connections per host), within
        // the daemon's cap across every batch.
        let all_succeeded = if self.config.no_run() {
            self.queue(&plan, shutdown, !only.is_empty(), daemon_notifies)
                .await?
        } else {
            let limits = Arc::new(Shared::within(&plan.limits, shared));
            let outcome =
                batch::run(&plan, &self.services, limits, shutdown.child_token(), &[]).await?;
            (!shutdown.is_cancelled()).then(|| outcome.all_succeeded())
        };
        let Some(all_succeeded) = all_succeeded else {
            return Ok(()); // Still `running`: the next start resumes it.
        };
        let state = if all_succeeded {
            JobState::Done
        } else {
            JobState::Failed
        };
        self.file_job(job, state, &skipped).await
    }

    /// Queues a batch for workers (unless a daemon restarted finds it
    /// queued already, and `again` is false), then waits until they end
    /// it, and sends its notifications if `notify`: whether every account
    /// completed, or `None` if `shutdown` fired first.
    async fn queue(
        &self,
        plan: &plan::ResolvedPlan,
        shutdown: &CancellationToken,
        again: bool,
        notify: bool,
    ) -> anyhow::Result<Option<bool>> {
        let store = &self.services.store;
        let queued = store.queued_batch_named(&plan.batch).await?;
        let batch = match queued {
            Some((batch, BatchState::Running)) if !again => batch,
            _ => batch::enqueue(plan, &self.services, &[]).await?.0,
        };
        tracing::info!(batch = %plan.batch, "queued for workers");
        let all_completed = loop {
            match store.queued_batch_named(&plan.batch).await? {
                Some((b, BatchState::Completed)) if b.id == batch.id => break true,
                Some((b, BatchState::CompletedWithErrors)) if b.id == batch.id => break false,
                _ => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                _ = tokio::time::sleep(WORKERS_POLL) => {}
            }
        };
        if notify {
            report::notification::send::outcomes(plan, store, &batch).await;
        }
        Ok(Some(all_completed))
    }

    /// Moves a finished job's folder to `done/` or `failed/`; `skipped`
    /// are the accounts left out as invalid.
    async fn file_job(
        &self,
        job: &Job,
        state: JobState,
        skipped: &[plan::Rejected],
    ) -> anyhow::Result<()> {
        let from = PathBuf::from(&job.dir);
        let to = unique(&self.area.join(state.as_str()), &file_name(&from));
        move_file(&from, &to)?;
        let manifest = to.join(&job.name).display().to_string();
        let store = &self.services.store;
        store
            .set_batch_manifest(&job.batch, manifest.clone())
            .await?;
        store
            .set_job(job.id, state, to.display().to_string(), manifest)
            .await?;
        tracing::info!(job = job.id, batch = %job.batch, "{state}");
        DropResult {
            batch: Some(&job.batch),
            skipped: skipped.iter().map(ToString::to_string).collect(),
            ..DropResult::new(&job.name, state.as_str())
        }
        .write(&self.dir)
    }
}

/// How often the daemon looks whether workers ended a batch it queued.
const WORKERS_POLL: Duration = Duration::from_secs(2);

/// How many settle times a YAML of defaults alone waits for its CSV.
const COMPANION_WAIT: u32 = 10;

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `dir/name`, or `dir/name.2`, `dir/name.3`... whichever does not exist.
fn unique(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("{name}.{n}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// A folder only the daemon's user can enter.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("Cannot restrict {}", dir.display()))
}

/// Renames, or copies then removes across file systems.
fn move_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .with_context(|| format!("Cannot move {} to {}", from.display(), to.display()))?;
    std::fs::remove_file(from).with_context(|| format!("Cannot remove {}", from.display()))
}
