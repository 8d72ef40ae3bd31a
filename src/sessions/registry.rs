//! The running sessions and what the core remembers about each user's
//! foreign traffic (who sent which id, which JID they used for whom).
//! Plain state the gateway holds; starting a session is `sessions::ensure`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use ferry_bridge::channel;
use ferry_bridge::{Connection, ContactStatus, DetailsKind, Intent};
use tokio::sync::watch;
use xmpp_parsers::jid::{BareJid, Jid};

/// A network (`None`: the backend's only one) and its connection state.
pub type NetworkState = (Option<String>, Connection);

#[derive(Default)]
pub struct Sessions {
    running: Mutex<HashMap<BareJid, channel::Sender<Intent>>>,
    /// Which resource sent a message id, so that a foreign failure reaches
    /// it: servers drop error messages addressed to a bare JID (RFC 6121
    /// §8.5.2.1.1).
    senders: Mutex<Recent<(BareJid, String), Jid>>,
    /// The JID a user used for a foreign address when it is not the
    /// canonical one (`bob@irc.gw` for `bob%host@irc.gw`): traffic from
    /// that address comes from the JID the user knows.
    aliases: Mutex<Recent<(BareJid, Jid), Jid>>,
    /// Each running session's last connection state per network: a user
    /// back from offline to a session that stayed up (always-on) is told
    /// it again.
    connections: Mutex<HashMap<BareJid, Vec<NetworkState>>>,
    /// Each running session's contacts that are not offline, by the JID
    /// the user knows them by: a server's probe is answered with it.
    contacts: Mutex<HashMap<BareJid, HashMap<String, ContactStatus>>>,
    /// Requests sessions answer later (contact details), by the id the
    /// session was given; each is taken by its answer or its timeout.
    asked: Mutex<HashMap<String, Asked>>,
    next_asked: std::sync::atomic::AtomicU64,
    /// Tasks turning sessions' events into stanzas: a stop waits for them
    /// too, so that a session's last words (the network JID going
    /// offline) are sent before the links close.
    pub(super) delivering: Count,
}

/// How many delivering tasks live, watched: a stop waits for zero
/// without looking again and again.
pub(super) struct Count(Arc<watch::Sender<usize>>);

impl Default for Count {
    fn default() -> Self {
        Count(Arc::new(watch::channel(0).0))
    }
}

impl Count {
    async fn zero(&self) {
        let _ = self.0.subscribe().wait_for(|n| *n == 0).await;
    }
}

/// Counts a delivering task for as long as it lives.
pub(super) struct Delivering(Arc<watch::Sender<usize>>);

impl Delivering {
    pub(super) fn new(count: &Count) -> Delivering {
        count.0.send_modify(|n| *n += 1);
        Delivering(count.0.clone())
    }
}

impl Drop for Delivering {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// A bounded map that forgets its oldest entries first.
struct Recent<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K, V> Default for Recent<K, V> {
    fn default() -> Self {
        Recent {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, V> Recent<K, V> {
    fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

const REMEMBERED: usize = 10_000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An iq a session was asked to answer: where its answer goes.
pub struct Asked {
    pub us: Jid,
    pub them: Jid,
    pub id: String,
    pub kind: DetailsKind,
}

/// Why an intent did not reach a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The backend has no sessions, or the user has no registration.
    Unsupported,
    /// The user's session is behind: `resource-constraint`.
    Busy,
}

impl Sessions {
    pub(super) fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<BareJid, channel::Sender<Intent>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, user: &BareJid) -> Option<channel::Sender<Intent>> {
        self.lock().get(user).filter(|tx| !tx.is_closed()).cloned()
    }

    pub fn is_running(&self, user: &BareJid) -> bool {
        self.get(user).is_some()
    }

    /// Sends an intent to the user's running session, if any.
    pub fn send(&self, user: &BareJid, intent: Intent) -> Result<(), Refused> {
        let tx = self.get(user).ok_or(Refused::Unsupported)?;
        match tx.try_send(intent) {
            Ok(()) => Ok(()),
            Err(channel::TrySendError::Full(_)) => Err(Refused::Busy),
            Err(channel::TrySendError::Closed(_)) => Err(Refused::Unsupported),
        }
    }

    /// Remembers that `from` sent the message `id`.
    pub fn remember_sender(&self, from: &Jid, id: &str) {
        lock(&self.senders).insert((from.to_bare(), id.to_owned()), from.clone());
    }

    /// The resource that sent `id`, if remembered.
    pub fn sender_of(&self, user: &BareJid, id: &str) -> Option<Jid> {
        lock(&self.senders)
            .map
            .get(&(user.clone(), id.to_owned()))
            .cloned()
    }

    /// Keeps a request until its answer; the id to give the session.
    pub fn ask(&self, asked: Asked) -> String {
        let n = self
            .next_asked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = n.to_string();
        lock(&self.asked).insert(id.clone(), asked);
        id
    }

    /// Takes the request `id` of `user` (a session answers only its own
    /// user's), if nothing took it before.
    pub fn answered(&self, user: &BareJid, id: &str) -> Option<Asked> {
        let mut asked = lock(&self.asked);
        if asked.get(id)?.them.to_bare() != *user {
            return None;
        }
        asked.remove(id)
    }

    /// Remembers that `user` calls the address whose canonical JID is
    /// `canonical` by `used`.
    pub fn remember_alias(&self, user: &BareJid, canonical: &Jid, used: &Jid) {
        if canonical != used {
            lock(&self.aliases).insert((user.clone(), canonical.clone()), used.clone());
        }
    }

    /// The JID `user` knows `canonical` by.
    pub fn alias(&self, user: &BareJid, canonical: Jid) -> Jid {
        lock(&self.aliases)
            .map
            .get(&(user.clone(), canonical.clone()))
            .cloned()
            .unwrap_or(canonical)
    }

    pub fn remember_connection(
        &self,
        user: &BareJid,
        network: &Option<String>,
        state: &Connection,
    ) {
        let mut all = lock(&self.connections);
        let states = all.entry(user.clone()).or_default();
        states.retain(|(n, _)| n != network);
        states.push((network.clone(), state.clone()));
    }

    pub fn connections(&self, user: &BareJid) -> Vec<NetworkState> {
        lock(&self.connections)
            .get(user)
            .cloned()
            .unwrap_or_default()
    }

    /// Foreign connections that are up, over all users.
    pub fn online_connections(&self) -> usize {
        lock(&self.connections)
            .values()
            .flatten()
            .filter(|(_, state)| matches!(state, Connection::Online { .. }))
            .count()
    }

    pub fn forget_connections(&self, user: &BareJid) {
        lock(&self.connections).remove(user);
    }

    pub fn remember_contact(&self, user: &BareJid, contact: &Jid, status: &ContactStatus) {
        let mut all = lock(&self.contacts);
        let key = contact.to_bare().to_string();
        if *status == ContactStatus::Offline {
            if let Some(known) = all.get_mut(user) {
                known.remove(&key);
                if known.is_empty() {
                    all.remove(user);
                }
            }
        } else {
            all.entry(user.clone())
                .or_default()
                .insert(key, status.clone());
        }
    }

    /// A contact's presence as last told; offline when not known.
    pub fn contact_status(&self, user: &BareJid, contact: &Jid) -> ContactStatus {
        lock(&self.contacts)
            .get(user)
            .and_then(|known| known.get(&contact.to_bare().to_string()).cloned())
            .unwrap_or(ContactStatus::Offline)
    }

    pub fn forget_contacts(&self, user: &BareJid) {
        lock(&self.contacts).remove(user);
    }

    /// Ends the user's session, if any.
    pub fn stop(&self, user: &BareJid, reason: &str) {
        if let Some(tx) = self.lock().remove(user) {
            let _ = tx.try_send(Intent::Shutdown {
                reason: reason.to_owned(),
            });
        }
    }

    /// Ends every session (ferry is stopping) and waits until they have
    /// finished, each having said goodbye on its network, and their last
    /// events have become stanzas.
    pub async fn stop_all(&self, reason: &str) {
        let all: Vec<_> = self.lock().drain().collect();
        for (_, tx) in &all {
            let _ = tx
                .send(Intent::Shutdown {
                    reason: reason.to_owned(),
                })
                .await;
        }
        // A session's delivering task ends once the session has finished
        // and its last events are stanzas.
        self.delivering.zero().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_waits_for_the_delivering_tasks() {
        let sessions = Sessions::default();
        let counted = Delivering::new(&sessions.delivering);
        let task = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            drop(counted);
        });
        let started = std::time::Instant::now();
        sessions.stop_all("test").await;
        assert!(started.elapsed() >= std::time::Duration::from_millis(40));
        assert_eq!(*sessions.delivering.0.borrow(), 0);
        task.await.unwrap();
    }
}
