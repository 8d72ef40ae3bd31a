//! Requests a session answers later by an event naming the request's id
//! (a channel list, a moderator's change): who waits for each answer.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

pub struct Answers<T> {
    waiting: Mutex<HashMap<String, oneshot::Sender<T>>>,
}

impl<T> Default for Answers<T> {
    fn default() -> Self {
        Answers {
            waiting: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> Answers<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<T>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new request: its id (`kind` and a random number, so that no
    /// session can guess another's), and where its answer comes.
    pub fn open(&self, kind: &str) -> (String, oneshot::Receiver<T>) {
        let id = format!("{kind}-{:016x}", rand::random::<u64>());
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.clone(), tx);
        (id, rx)
    }

    /// Forgets a request nobody waits for any more.
    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    /// A session's answer to request `id`.
    pub fn answer(&self, id: &str, answer: T) {
        let waiter = self.lock().remove(id);
        if let Some(waiter) = waiter {
            let _ = waiter.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_reaches_its_request_once() {
        let answers = Answers::default();
        let (id, rx) = answers.open("list");
        let (other, other_rx) = answers.open("list");
        assert!(id.starts_with("list-") && id != other);
        answers.answer(&id, 1);
        answers.answer(&id, 2);
        assert_eq!(rx.await, Ok(1));
        answers.close(&other);
        answers.answer(&other, 3);
        assert!(other_rx.await.is_err());
    }
}
