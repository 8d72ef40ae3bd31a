//! Per-user ordered work. Handling a stanza may await (the store's
//! registration lookup, a session starting); a task per stanza would let a
//! later one overtake an earlier one, so each user's work runs in a lane:
//! one task at a time, in the order it came, while other users' lanes run
//! side by side.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The lanes by key. A lane's task lives while it has work and ends when
/// its queue is empty, so idle users cost nothing.
pub struct Lanes<K> {
    open: Arc<Mutex<HashMap<K, mpsc::UnboundedSender<Job>>>>,
}

impl<K> Default for Lanes<K> {
    fn default() -> Self {
        Lanes {
            open: Arc::default(),
        }
    }
}

impl<K: Hash + Eq + Clone + Send + 'static> Lanes<K> {
    /// Runs `job` after every job queued before it for `key`. The queue is
    /// not bounded here: what a user may send is bounded where stanzas come
    /// in (the per-user stanza rate).
    pub fn run(&self, key: &K, job: impl Future<Output = ()> + Send + 'static) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let job: Job = Box::pin(job);
        // Sends happen under the lock, and a lane closes only under it with
        // an empty queue: a job is never left in a queue nobody works.
        let job = match open.get(key) {
            Some(lane) => match lane.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(job).expect("the receiver is here");
        open.insert(key.clone(), tx);
        tokio::spawn(work(self.open.clone(), key.clone(), rx));
    }
}

async fn work<K: Hash + Eq>(
    open: Arc<Mutex<HashMap<K, mpsc::UnboundedSender<Job>>>>,
    key: K,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    loop {
        while let Ok(job) = rx.try_recv() {
            job.await;
        }
        let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
        if rx.is_empty() {
            open.remove(&key);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_lane_keeps_order_while_jobs_await() {
        let lanes = Lanes::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..50u64 {
            let tx = tx.clone();
            // Earlier jobs sleep longer: only the lane keeps them in order.
            lanes.run(&"alice", async move {
                tokio::time::sleep(Duration::from_millis((50 - i) % 7)).await;
                tx.send(i).unwrap();
            });
        }
        drop(tx);
        let mut seen = Vec::new();
        while let Some(i) = rx.recv().await {
            seen.push(i);
        }
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        assert!(lanes.open.lock().unwrap().is_empty(), "the lane closed");
    }

    #[tokio::test]
    async fn one_slow_lane_does_not_hold_another() {
        let lanes = Lanes::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let slow = tx.clone();
        lanes.run(&"alice", async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            slow.send("alice").unwrap();
        });
        lanes.run(&"bob", async move {
            tx.send("bob").unwrap();
        });
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(first.unwrap(), Some("bob"));
    }

    #[tokio::test]
    async fn a_closed_lane_opens_again() {
        let lanes = Lanes::default();
        for round in 0..3 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            lanes.run(&"alice", async move {
                tx.send(round).unwrap();
            });
            assert_eq!(rx.await.unwrap(), round);
            tokio::task::yield_now().await;
        }
    }
}
