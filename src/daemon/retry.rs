//! Retry: accounts of a finished batch run again through the daemon's own
//! job path. The status pages of `watch --serve` send a [`Retry`]; the
//! daemon finds the job that ran the batch, and runs its manifest again
//! for those accounts alone (each resumes from its checkpoints, so
//! nothing is copied twice). A batch the daemon did not run, or one still
//! running, is refused with the reason.

use tokio::sync::{mpsc, oneshot};

use crate::store::Store;
use crate::store::jobs::Job;
use crate::vocabulary::JobState;

/// Accounts of one batch to run again, and where to answer whether the
/// daemon took them.
#[derive(Debug)]
pub struct Retry {
    /// The batch's name.
    pub batch: String,
    /// The accounts, by source and destination address.
    pub accounts: Vec<(String, String)>,
    /// `Ok` once queued; `Err` with the reason in words.
    pub answer: oneshot::Sender<Result<(), String>>,
}

/// Where the status pages send retries.
pub type Retries = mpsc::Sender<Retry>;

/// The job to run `batch` again, marked scheduled so that no second retry
/// runs it meanwhile; or why there is none.
pub async fn requeue(store: &Store, batch: &str) -> anyhow::Result<Result<Job, String>> {
    let Some(job) = store.job_of_batch(batch).await? else {
        return Ok(Err(format!(
            "The batch {batch} was not started by this daemon: run its manifest again with \
             `mailshift run`."
        )));
    };
    if matches!(job.state, JobState::Scheduled | JobState::Running) {
        return Ok(Err(format!(
            "The batch {batch} is still running: retry once it has finished."
        )));
    }
    store
        .set_job(
            job.id,
            JobState::Scheduled,
            job.dir.clone(),
            job.manifest.clone(),
        )
        .await?;
    Ok(Ok(Job {
        state: JobState::Scheduled,
        start_after: None,
        ..job
    }))
}
