//! Bounded channels whose items travel boxed. tokio's bounded channel
//! allocates its slots 32 at a time and keeps a block while idle; with
//! events and intents of ~200 bytes that is 6.5 KB a channel, and every
//! user's session has several. Boxed, a block is 256 bytes.

use tokio::sync::mpsc::{self, error::TrySendError};

pub struct Sender<T>(mpsc::Sender<Box<T>>);

pub struct Receiver<T>(mpsc::Receiver<Box<T>>);

/// The other end is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::channel(capacity);
    (Sender(tx), Receiver(rx))
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

impl<T> Sender<T> {
    /// Waits for room, then sends.
    pub async fn send(&self, item: T) -> Result<(), Closed> {
        self.0.send(Box::new(item)).await.map_err(|_| Closed)
    }

    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        self.0.try_send(Box::new(item)).map_err(|e| match e {
            TrySendError::Full(item) => TrySendError::Full(*item),
            TrySendError::Closed(item) => TrySendError::Closed(*item),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Resolves when the receiver is gone.
    pub async fn closed(&self) {
        self.0.closed().await
    }
}

impl<T> Receiver<T> {
    pub async fn recv(&mut self) -> Option<T> {
        self.0.recv().await.map(|item| *item)
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
        assert_eq!(rx.recv().await.as_deref(), Some("a"));
        assert_eq!(rx.recv().await.as_deref(), Some("b"));
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send("d".into()).await, Err(Closed));
    }
}
