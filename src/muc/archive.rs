//! The archive writer: delivery hands rows over without waiting; a task
//! writes them in batches (up to `BATCH` rows or `LINGER` of delay), so an
//! archive on disk never slows a message down.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use crate::store::{Archived, Store};

const BATCH: usize = 200;
const LINGER: Duration = Duration::from_millis(50);
const QUEUE: usize = 20_000;

enum Job {
    Row(Archived),
    /// Answered once every row sent before it is written.
    Flush(oneshot::Sender<()>),
}

pub struct Archiver {
    jobs: mpsc::Sender<Job>,
    last_seq: AtomicI64,
}

impl Archiver {
    pub fn start(store: Arc<Store>) -> Archiver {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write(store, rx));
        Archiver {
            jobs,
            last_seq: AtomicI64::new(0),
        }
    }

    /// A new archive id: microseconds since the epoch, unique and
    /// increasing within this process.
    pub fn next_seq(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        let mut last = self.last_seq.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self
                .last_seq
                .compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Waits until the writer can take a row, so that delivery slows down
    /// with a slow disk instead of leaving rows out.
    pub async fn wait_room(&self) {
        if let Ok(permit) = self.jobs.reserve().await {
            drop(permit);
        }
    }

    /// Queues a row; when the writer is this far behind the row is logged
    /// and dropped rather than delaying delivery (`wait_room` first makes
    /// that rare).
    pub fn add(&self, row: Archived) {
        if self.jobs.try_send(Job::Row(row)).is_err() {
            tracing::warn!("archive writer behind: a row was not archived");
        }
    }

    /// Waits until everything queued so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn write(store: Arc<Store>, mut jobs: mpsc::Receiver<Job>) {
    let mut rows = Vec::with_capacity(BATCH);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(job) = jobs.recv().await {
        let deadline = tokio::time::Instant::now() + LINGER;
        let mut next = Some(job);
        loop {
            match next.take() {
                Some(Job::Row(row)) => rows.push(row),
                Some(Job::Flush(tx)) => {
                    waiting.push(tx);
                    break;
                }
                None => {}
            }
            if rows.len() >= BATCH {
                break;
            }
            match tokio::time::timeout_at(deadline, jobs.recv()).await {
                Ok(Some(job)) => next = Some(job),
                Ok(None) | Err(_) => break,
            }
        }
        if let Err(e) = store.archive_batch(&rows).await {
            tracing::error!(error = %e, rows = rows.len(), "archive write failed");
        }
        rows.clear();
        for tx in waiting.drain(..) {
            let _ = tx.send(());
        }
    }
}
