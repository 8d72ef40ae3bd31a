//! Bounded channels for the per-user plumbing (events, intents, IRC
//! lines). Every user holds five of them, so their idle size matters more
//! than their speed: tokio's bounded channel is 800 bytes idle (its shared
//! state is cache-padded, and it keeps a block of 32 slots), flume's is
//! 150. Items travel boxed so that a burst, whose queue flume keeps for
//! later, leaves 8 bytes a slot behind and not the item's size.

use std::future::Future;

/// Why a `try_send` failed; the item comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    Full(T),
    Closed(T),
}

pub struct Sender<T>(flume::Sender<Box<T>>);

pub struct Receiver<T>(flume::Receiver<Box<T>>);

/// The other end is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = flume::bounded(capacity);
    (Sender(tx), Receiver(rx))
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

impl<T> Sender<T> {
    /// Waits for room, then sends. Not an `async fn`: that would keep the
    /// unboxed item in every caller's future, for the caller's whole life.
    pub fn send(&self, item: T) -> impl Future<Output = Result<(), Closed>> + Send + '_
    where
        T: Send,
    {
        let sending = self.0.send_async(Box::new(item));
        async move { sending.await.map_err(|_| Closed) }
    }

    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        self.0.try_send(Box::new(item)).map_err(|e| match e {
            flume::TrySendError::Full(item) => TrySendError::Full(*item),
            flume::TrySendError::Disconnected(item) => TrySendError::Closed(*item),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.0.is_disconnected()
    }

    /// Items that may be sent now without waiting: a sender that is the
    /// only one can check that a batch fits before sending any of it.
    pub fn free(&self) -> usize {
        let capacity = self.0.capacity().unwrap_or(usize::MAX);
        capacity.saturating_sub(self.0.len())
    }
}

impl<T> Receiver<T> {
    /// The next item; None once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        self.0.recv_async().await.ok().map(|item| *item)
    }

    /// The next item as it travelled: for a task that holds it across
    /// awaits, in whose future it then takes 8 bytes, not its size.
    pub async fn recv_boxed(&mut self) -> Option<Box<T>> {
        self.0.recv_async().await.ok()
    }

    /// An item already waiting, if any: for a reader that takes what
    /// has queued up as one batch.
    pub fn try_recv_boxed(&mut self) -> Option<Box<T>> {
        self.0.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_in_order_and_closes() {
        let (tx, mut rx) = channel::<String>(2);
        tx.send("a".into()).await.unwrap();
        tx.try_send("b".into()).unwrap();
        assert!(matches!(tx.try_send("c".into()), Err(TrySendError::Full(c)) if c == "c"));
        assert_eq!(tx.free(), 0);
        assert_eq!(rx.recv().await.as_deref(), Some("a"));
        assert_eq!(tx.free(), 1);
        assert_eq!(rx.recv().await.as_deref(), Some("b"));
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send("d".into()).await, Err(Closed));
    }

    #[tokio::test]
    async fn receiver_sees_the_queue_out_after_senders_go() {
        let (tx, mut rx) = channel::<u32>(4);
        tx.send(1).await.unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_cancelled_receive_loses_nothing() {
        let (tx, mut rx) = channel::<u32>(4);
        // A receive given up while waiting, as a select! arm that lost.
        let waited = tokio::time::timeout(std::time::Duration::from_millis(5), rx.recv()).await;
        assert!(waited.is_err());
        tx.send(7).await.unwrap();
        assert_eq!(rx.recv().await, Some(7));
    }
}
