//! A link's bounded outbound queue. It outlives the TCP connection, so
//! stanzas waiting when the server goes away are sent after the reconnect,
//! and it counts stanzas per user so that one user who floods the gateway
//! is refused (`resource-constraint`) before anyone else is slowed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio_xmpp::Stanza;

/// A stanza waiting to be written, with the bare JID it is charged to.
pub struct Queued {
    pub user: Option<String>,
    pub stanza: Outgoing,
}

pub enum Outgoing {
    Stanza(Box<Stanza>),
    /// Already serialised (`xml_bytes`), in the stream's namespace.
    Bytes(Vec<u8>),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    #[error("the link's outbound queue is full")]
    Link,
    #[error("this user's outbound queue is full")]
    User,
}

/// Stanzas kept free in a user's quota for what one event may produce.
const HEADROOM: usize = 32;

tokio::task_local! {
    /// Set while a foreign event that waited in `wait_room` becomes stanzas.
    static ADMITTED: bool;
}

/// Runs `f`, the stanzas of one foreign event, past the queue's bounds:
/// its delivery already waited in `wait_room`, and dropping part of a join
/// (a big room's occupant list) or of a message would lose it.
pub fn admitted<R>(f: impl FnOnce() -> R) -> R {
    ADMITTED.sync_scope(true, f)
}

pub struct Outbound {
    inner: Mutex<Inner>,
    ready: Notify,
    /// Woken when written stanzas free room.
    space: Notify,
    link_limit: usize,
    user_limit: usize,
    /// Stanzas written to the link, ever (SPEC §5's stanzas out).
    sent: AtomicU64,
    /// Whether the link is up now.
    up: AtomicBool,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Queued>,
    per_user: HashMap<String, usize>,
}

/// The bare JID a stanza is charged to: its recipient's.
fn recipient(stanza: &Stanza) -> Option<String> {
    let to = match stanza {
        Stanza::Iq(iq) => match iq {
            xmpp_parsers::iq::Iq::Get { to, .. }
            | xmpp_parsers::iq::Iq::Set { to, .. }
            | xmpp_parsers::iq::Iq::Result { to, .. }
            | xmpp_parsers::iq::Iq::Error { to, .. } => to.as_ref(),
        },
        Stanza::Message(m) => m.to.as_ref(),
        Stanza::Presence(p) => p.to.as_ref(),
    };
    to.map(|j| j.to_bare().to_string())
}

impl Outbound {
    pub fn new(link_limit: usize, user_limit: usize) -> Self {
        Outbound {
            inner: Mutex::new(Inner::default()),
            ready: Notify::new(),
            space: Notify::new(),
            link_limit,
            user_limit,
            sent: AtomicU64::new(0),
            up: AtomicBool::new(false),
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the queue half-updated: every
        // critical section below is a plain push/pop.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `user` may have another stanza queued.
    pub fn has_room_for(&self, user: &str) -> bool {
        let inner = self.lock();
        inner.queue.len() < self.link_limit
            && inner.per_user.get(user).copied().unwrap_or(0) < self.user_limit
    }

    /// Waits until `user` has room for a burst of stanzas (one foreign
    /// event may become a stanza per resource) and the link for its share.
    /// Delivery waits here rather than dropping: the wait reaches the
    /// foreign connection, whose server then holds what we cannot take yet.
    pub async fn wait_room(&self, user: &str) {
        // Queues smaller than the headroom still let one event through
        // when empty; a room of 0 would never open.
        let user_room = self.user_limit.saturating_sub(HEADROOM).max(1);
        let link_room = self.link_limit.saturating_sub(HEADROOM * 4).max(1);
        loop {
            let freed = self.space.notified();
            {
                let inner = self.lock();
                if inner.queue.len() < link_room
                    && inner.per_user.get(user).copied().unwrap_or(0) < user_room
                {
                    return;
                }
            }
            tracing::debug!(user, "delivery waits for room in the link's queue");
            freed.await;
        }
    }

    /// Queues a stanza, charging it to its recipient.
    pub fn push(&self, stanza: impl Into<Stanza>) -> Result<(), Full> {
        self.enqueue(stanza.into(), true)
    }

    /// Queues an answer to a user who may be over their quota (an error
    /// telling them so); only the link's bound applies.
    pub fn push_reply(&self, stanza: impl Into<Stanza>) -> Result<(), Full> {
        self.enqueue(stanza.into(), false)
    }

    /// Queues a serialised stanza for `user`'s bare JID.
    pub fn push_bytes(&self, user: &str, bytes: Vec<u8>) -> Result<(), Full> {
        self.charge(Some(user.to_owned()), Outgoing::Bytes(bytes), true)
    }

    fn enqueue(&self, stanza: Stanza, metered: bool) -> Result<(), Full> {
        self.charge(
            recipient(&stanza),
            Outgoing::Stanza(Box::new(stanza)),
            metered,
        )
    }

    fn charge(&self, user: Option<String>, stanza: Outgoing, metered: bool) -> Result<(), Full> {
        // A delivery waited for room before its event (`wait_room`); what
        // that event becomes is taken whole, even past the bounds.
        let admitted = ADMITTED.try_with(|a| *a).unwrap_or(false);
        let mut inner = self.lock();
        if !admitted && inner.queue.len() >= self.link_limit {
            return Err(Full::Link);
        }
        if let Some(user) = &user {
            let count = inner.per_user.get(user).copied().unwrap_or(0);
            if metered && !admitted && count >= self.user_limit {
                return Err(Full::User);
            }
            inner.per_user.insert(user.clone(), count + 1);
        }
        inner.queue.push_back(Queued { user, stanza });
        drop(inner);
        self.ready.notify_one();
        Ok(())
    }

    /// Takes up to `max` stanzas, waiting for at least one.
    pub async fn take(&self, max: usize) -> Vec<Queued> {
        loop {
            let notified = self.ready.notified();
            {
                let mut inner = self.lock();
                if !inner.queue.is_empty() {
                    let n = inner.queue.len().min(max);
                    return inner.queue.drain(..n).collect();
                }
            }
            notified.await;
        }
    }

    /// Marks stanzas as written, releasing their users' quota.
    pub fn written(&self, batch: &[Queued]) {
        self.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let mut inner = self.lock();
        for item in batch {
            if let Some(user) = &item.user {
                if let Some(count) = inner.per_user.get_mut(user) {
                    *count -= 1;
                    if *count == 0 {
                        inner.per_user.remove(user);
                    }
                }
            }
        }
        drop(inner);
        self.space.notify_waiters();
    }

    /// Puts a batch that could not be written back at the front, in order.
    pub fn requeue(&self, batch: Vec<Queued>) {
        let mut inner = self.lock();
        for item in batch.into_iter().rev() {
            inner.queue.push_front(item);
        }
        drop(inner);
        self.ready.notify_one();
    }

    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::jid::Jid;
    use xmpp_parsers::presence::Presence;

    fn to(user: &str) -> Presence {
        Presence::available().with_to(Jid::new(user).unwrap())
    }

    #[tokio::test]
    async fn per_user_limit_spares_others_and_requeue_keeps_order() {
        let q = Outbound::new(10, 2);
        q.push(to("a@x/1")).unwrap();
        q.push(to("a@x/2")).unwrap();
        assert_eq!(q.push(to("a@x")), Err(Full::User));
        assert!(!q.has_room_for("a@x"));
        assert!(q.has_room_for("b@x"));
        q.push(to("b@x")).unwrap();
        let batch = q.take(2).await;
        assert_eq!(batch.len(), 2);
        q.requeue(batch);
        assert_eq!(q.len(), 3);
        let batch = q.take(10).await;
        let users: Vec<_> = batch.iter().map(|b| b.user.clone().unwrap()).collect();
        assert_eq!(users, ["a@x", "a@x", "b@x"]);
        q.written(&batch);
        assert!(q.has_room_for("a@x"));
    }

    #[tokio::test]
    async fn delivery_waits_for_room_instead_of_dropping() {
        let q = std::sync::Arc::new(Outbound::new(1000, HEADROOM + 2));
        q.push(to("a@x")).unwrap();
        q.push(to("a@x")).unwrap();
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.wait_room("a@x").await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        q.wait_room("b@x").await;
        let batch = q.take(1).await;
        q.written(&batch);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken when room is freed")
            .unwrap();
    }

    #[tokio::test]
    async fn queues_smaller_than_the_headroom_still_deliver() {
        let q = Outbound::new(3, 2);
        let soon = std::time::Duration::from_secs(5);
        tokio::time::timeout(soon, q.wait_room("a@x"))
            .await
            .expect("an empty queue has room");
        q.push(to("a@x")).unwrap();
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(20), q.wait_room("a@x"));
        assert!(
            waiting.await.is_err(),
            "one queued stanza fills a queue of 2"
        );
        let batch = q.take(1).await;
        q.written(&batch);
        tokio::time::timeout(soon, q.wait_room("a@x"))
            .await
            .expect("room once written");
    }

    #[tokio::test]
    async fn an_admitted_event_is_taken_whole() {
        let q = Outbound::new(1, 1);
        q.push(to("a@x")).unwrap();
        admitted(|| {
            q.push(to("a@x")).unwrap();
            q.push(to("b@x")).unwrap();
        });
        assert_eq!(q.len(), 3);
        assert_eq!(q.push(to("b@x")), Err(Full::Link));
    }

    #[tokio::test]
    async fn link_limit() {
        let q = Outbound::new(1, 5);
        q.push(to("a@x")).unwrap();
        assert_eq!(q.push(to("b@x")), Err(Full::Link));
    }
}
