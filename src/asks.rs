//! Requests ferry itself sends over the link (an upload slot, a disco
//! query to the user's server) and the answers awaited for them: an answer
//! is taken only from the entity that was asked, by the id ferry gave.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;

/// Ids of ferry's own requests start so.
const PREFIX: &str = "ferry-ask-";

#[derive(Default)]
pub struct Asks {
    waiting: Mutex<HashMap<String, (Jid, oneshot::Sender<Iq>)>>,
}

impl Asks {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Jid, oneshot::Sender<Iq>)>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a request to `to`: its id, and where its answer comes.
    pub fn open(&self, to: &Jid) -> (String, oneshot::Receiver<Iq>) {
        let id = format!("{PREFIX}{:016x}", rand::random::<u64>());
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.clone(), (to.clone(), tx));
        (id, rx)
    }

    /// Waits for the answer to `id`, at most `within`.
    pub async fn wait(&self, id: &str, rx: oneshot::Receiver<Iq>, within: Duration) -> Option<Iq> {
        let answer = tokio::time::timeout(within, rx)
            .await
            .ok()
            .and_then(Result::ok);
        if answer.is_none() {
            self.lock().remove(id);
        }
        answer
    }

    /// Takes an answer to one of ferry's requests; gives back any other iq.
    pub fn answer(&self, iq: Iq) -> Option<Iq> {
        let (id, from) = match &iq {
            Iq::Result { id, from, .. } | Iq::Error { id, from, .. } if id.starts_with(PREFIX) => {
                (id.clone(), from.clone())
            }
            _ => return Some(iq),
        };
        let mut waiting = self.lock();
        // Only the entity asked may answer (a server answers for itself
        // with or without a `from`).
        let asked = waiting.get(&id).map(|(to, _)| to.clone());
        match asked {
            Some(to) if from.as_ref().is_none_or(|f| *f == to) => {
                if let Some((_, tx)) = waiting.remove(&id) {
                    let _ = tx.send(iq);
                }
            }
            _ => tracing::debug!(%id, "an answer to no request of ours"),
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::minidom::Element;

    fn result(id: &str, from: &str) -> Iq {
        Iq::Result {
            from: Some(Jid::new(from).unwrap()),
            to: None,
            id: id.to_owned(),
            payload: Some(Element::builder("x", "urn:test").build()),
        }
    }

    #[tokio::test]
    async fn only_the_one_asked_answers() {
        let asks = Asks::default();
        let upload = Jid::new("upload.example.org").unwrap();
        let (id, rx) = asks.open(&upload);
        assert!(asks.answer(result(&id, "mallory@example.org")).is_none());
        assert!(asks.answer(result(&id, "upload.example.org")).is_none());
        let got = asks.wait(&id, rx, Duration::from_secs(1)).await;
        assert!(matches!(got, Some(Iq::Result { from: Some(f), .. }) if f == upload));
        // Someone else's iq passes through.
        assert!(asks.answer(result("other", "upload.example.org")).is_some());
    }

    #[tokio::test]
    async fn an_unanswered_request_is_forgotten() {
        let asks = Asks::default();
        let (id, rx) = asks.open(&Jid::new("example.org").unwrap());
        assert!(asks
            .wait(&id, rx, Duration::from_millis(10))
            .await
            .is_none());
        assert!(asks.lock().is_empty());
    }
}
