//! The daemon's jobs: manifests it accepted from the watched folder, and
//! where each stands, so that a restarted daemon picks up where it was.

use super::db::params;
use super::{Row, Store, StoreError, now};
use crate::vocabulary::JobState;

/// One accepted manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The job's key in the store.
    pub id: i64,
    /// The file name it was dropped under.
    pub name: String,
    /// The daemon's folder holding the accepted files.
    pub dir: String,
    /// The manifest inside `dir`.
    pub manifest: String,
    /// The batch name the manifest gives.
    pub batch: String,
    /// Where it stands.
    pub state: JobState,
    /// Unix time before which it must not start.
    pub start_after: Option<i64>,
}

impl Store {
    /// Records an accepted manifest.
    pub async fn add_job(&self, job: Job) -> Result<i64, StoreError> {
        self.call(move |conn| {
            conn.query_row(
                "INSERT INTO jobs (name, dir, manifest, batch, state, start_after, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING id",
                params![job.name, job.dir, job.manifest, job.batch, job.state, job.start_after, now()],
                |row| row.get(0),
            )
        })
        .await
    }

    /// Moves a job to `state`, and to another folder when it was moved.
    pub async fn set_job(
        &self,
        id: i64,
        state: JobState,
        dir: String,
        manifest: String,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE jobs SET state = ?2, dir = ?3, manifest = ?4, updated_at = ?5 WHERE id = ?1",
                params![id, state, dir, manifest, now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Jobs not finished yet (scheduled or running when the daemon stopped).
    pub async fn unfinished_jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.select(
            "SELECT id, name, dir, manifest, batch, state, start_after FROM jobs
             WHERE state IN ('scheduled', 'running') ORDER BY id",
            params![],
            job,
        )
        .await
    }

    /// The latest job that ran the batch `batch`, if the daemon ran it.
    pub async fn job_of_batch(&self, batch: &str) -> Result<Option<Job>, StoreError> {
        let mut jobs = self
            .select(
                "SELECT id, name, dir, manifest, batch, state, start_after FROM jobs
                 WHERE batch = ?1 ORDER BY id DESC LIMIT 1",
                params![batch],
                job,
            )
            .await?;
        Ok(jobs.pop())
    }
}

fn job(row: &Row) -> Result<Job, StoreError> {
    Ok(Job {
        id: row.get(0)?,
        name: row.get(1)?,
        dir: row.get(2)?,
        manifest: row.get(3)?,
        batch: row.get(4)?,
        state: row.get(5)?,
        start_after: row.get(6)?,
    })
}
