//! The archive writer: a task writes rows in batches, one transaction
//! each. Delivery queues a user's rows, then waits for a flush before any
//! resource sees them (a delivered line is a committed one); the rows all
//! users queued while a batch was being written make the next batch, so a
//! busy gateway commits many lines at once and an idle one at once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use crate::store::{Archived, Store};

const BATCH: usize = 200;
const QUEUE: usize = 20_000;

enum Job {
    Row(Archived),
    /// Answered once every row sent before it is written.
    Flush(oneshot::Sender<()>),
}

pub struct Archiver {
    jobs: mpsc::Sender<Job>,
    last_seq: AtomicI64,
    /// Lines dated by their server so far (`seq_at`).
    dated: AtomicI64,
}

impl Archiver {
    pub fn start(store: Arc<Store>) -> Archiver {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write(store, rx));
        Archiver {
            jobs,
            last_seq: AtomicI64::new(0),
            dated: AtomicI64::new(0),
        }
    }

    /// Rows and flushes waiting for the writer.
    pub fn backlog(&self) -> usize {
        QUEUE - self.jobs.capacity()
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

    /// An archive id for a line the foreign server dates `secs` (unix
    /// seconds, in the past: history, playback): within that second, in
    /// the order such lines come, so the archive keeps the server's time
    /// and order.
    pub fn seq_at(&self, secs: i64) -> i64 {
        let within = self.dated.fetch_add(1, Ordering::Relaxed) % 1_000_000;
        secs.saturating_mul(1_000_000).saturating_add(within)
    }

    /// Queues a row, waiting while the writer is far behind, so that
    /// delivery slows down with a slow disk instead of leaving rows out.
    pub async fn add(&self, row: Archived) {
        if self.jobs.send(Job::Row(row)).await.is_err() {
            tracing::warn!("archive writer gone: a row was not archived");
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
        // No waiting for more: what queued up while the last batch was
        // written (a burst, or many users' lines) is the next batch.
        let mut next = Some(job);
        while let Some(job) = next.take() {
            match job {
                Job::Row(row) => rows.push(row),
                Job::Flush(tx) => waiting.push(tx),
            }
            if rows.len() < BATCH {
                next = jobs.try_recv().ok();
            }
        }
        if !rows.is_empty() {
            if let Err(e) = store.archive_batch(&rows).await {
                tracing::error!(error = %e, rows = rows.len(), "archive write failed");
            }
            rows.clear();
        }
        for tx in waiting.drain(..) {
            let _ = tx.send(());
        }
    }
}
