//! Each user's view of each room they are in: the state the MUC code keeps
//! and the gateway holds. Plain data with no handling, so that anything
//! may read it without reaching back into the handlers.

use compact_str::CompactString;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use ferry_bridge::{Address, Affiliation, Role};
use tokio::sync::Notify;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::muc::muc::History;

/// A room's other occupants by nick. Every user in a room of K keeps K of
/// them; nicks fit inline in a `CompactString`, without an allocation.
pub type Occupants = BTreeMap<CompactString, (Role, Affiliation)>;

/// Away occupants by nick, with their notes.
pub type AwayNotes = BTreeMap<CompactString, Option<String>>;

/// One user's view of one room.
pub struct Room {
    pub address: Address,
    /// The room JID as the user wrote it.
    pub jid: BareJid,
    /// The user's nick: asked for, then as the room has it.
    pub nick: String,
    /// Resources in the room.
    pub resources: Resources,
    /// Resources waiting for the join to complete, with the history each
    /// asked for and the id of its join presence (a refusal echoes it).
    pub pending: Vec<(Jid, Option<History>, Option<String>)>,
    pub occupants: Occupants,
    pub own: (Role, Affiliation),
    pub subject: Option<(Option<String>, String)>,
    pub joined: bool,
    /// The join renamed the user (status 210 for later self-presences).
    pub renamed: bool,
    /// A nick change under way. Boxed: rarely there, and 8 bytes in
    /// every room of every user where it is not.
    pub nick_change: Option<Box<NickChange>>,
    /// Occupants before the connection was lost: after the rejoin, those
    /// missing from the new member list are shown leaving.
    pub stale: Option<Occupants>,
    /// Occupants known to be away, with their notes (`muc::away`).
    /// Boxed: most rooms have none.
    pub away: Option<Box<AwayNotes>>,
}

/// A nick change a resource asked for, until the network answers.
pub struct NickChange {
    pub resource: Jid,
    pub nick: String,
    /// The id of the request, echoed by a refusal.
    pub id: Option<String>,
}

impl Room {
    pub fn new(address: Address, jid: BareJid, nick: String) -> Room {
        Room {
            address,
            jid,
            nick,
            resources: Resources::default(),
            pending: Vec::new(),
            occupants: BTreeMap::new(),
            own: (Role::Participant, Affiliation::None),
            subject: None,
            joined: false,
            renamed: false,
            nick_change: None,
            stale: None,
            away: None,
        }
    }
}

/// A user's resources in a room: one or two, where a set's table would
/// take four slots and its hasher.
#[derive(Default)]
pub struct Resources(Vec<Jid>);

impl Resources {
    /// False when it was there already.
    pub fn insert(&mut self, resource: Jid) -> bool {
        let new = !self.contains(&resource);
        if new {
            self.0.push(resource);
        }
        new
    }

    /// False when it was not there.
    pub fn remove(&mut self, resource: &Jid) -> bool {
        let at = self.0.iter().position(|r| r == resource);
        at.map(|i| self.0.swap_remove(i)).is_some()
    }

    pub fn contains(&self, resource: &Jid) -> bool {
        self.0.contains(resource)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Jid> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a Resources {
    type Item = &'a Jid;
    type IntoIter = std::slice::Iter<'a, Jid>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Rooms by (user, canonical room JID, lowercased). Boxed: a table keeps
/// an eighth or more of its slots empty, and a `Room` is 300 bytes.
#[derive(Default)]
pub struct Rooms {
    by_user: Mutex<HashMap<(BareJid, String), Box<Room>>>,
    /// Who is in which room, for the store.
    pub ledger: Ledger,
}

impl Rooms {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(BareJid, String), Box<Room>>> {
        self.by_user.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the user is in (or joining) any room.
    pub fn has_any(&self, user: &BareJid) -> bool {
        self.lock().keys().any(|(u, _)| u == user)
    }

    /// Forgets every room of a user (unregistered, or their session ended).
    pub fn forget_user(&self, user: &BareJid) -> Vec<Room> {
        self.ledger.changed(user);
        let mut rooms = self.lock();
        let keys: Vec<_> = rooms.keys().filter(|(u, _)| u == user).cloned().collect();
        keys.into_iter()
            .filter_map(|k| rooms.remove(&k))
            .map(|room| *room)
            .collect()
    }

    /// Every room of every user, for the shutdown presences.
    pub fn drain(&self) -> Vec<(BareJid, Room)> {
        self.lock().drain().map(|((u, _), r)| (u, *r)).collect()
    }

    /// The connection to `network` is lost: the user's rooms there wait
    /// for the rejoin, keeping their resources.
    pub fn connection_lost(&self, user: &BareJid, network: &str) {
        for ((u, _), room) in self.lock().iter_mut() {
            if u == user && room.joined && room.address.network.as_deref() == Some(network) {
                room.joined = false;
                room.stale = Some(std::mem::take(&mut room.occupants));
            }
        }
    }

    /// The rooms a user is in on a network, as (name, JID) for disco.
    pub fn joined_on(&self, user: &BareJid, network: &str) -> Vec<(String, BareJid)> {
        self.lock()
            .iter()
            .filter(|((u, _), r)| {
                u == user && r.joined && r.address.network.as_deref() == Some(network)
            })
            .map(|(_, r)| (r.address.name.clone(), r.jid.clone()))
            .collect()
    }
}

/// Users whose rooms changed since the ledger (`muc::ledger`) last wrote
/// them to the store.
#[derive(Default)]
pub struct Ledger {
    dirty: Mutex<HashSet<BareJid>>,
    wake: Notify,
    /// Held while the ledger writes; true once closed for good.
    closed: tokio::sync::Mutex<bool>,
}

impl Ledger {
    pub fn changed(&self, user: &BareJid) {
        let mut dirty = self.dirty.lock().unwrap_or_else(|e| e.into_inner());
        dirty.insert(user.clone());
        self.wake.notify_one();
    }

    /// Waits until some user's rooms changed.
    pub async fn changes(&self) {
        self.wake.notified().await;
    }

    /// Leave to write, until the ledger is closed.
    pub async fn writing(&self) -> Option<tokio::sync::MutexGuard<'_, bool>> {
        let guard = self.closed.lock().await;
        (!*guard).then_some(guard)
    }

    /// No more writes, once the one under way is done.
    pub async fn close(&self) {
        *self.closed.lock().await = true;
    }

    pub fn take(&self) -> HashSet<BareJid> {
        std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_hold_each_jid_once() {
        let a: Jid = "u@example.org/a".parse().unwrap();
        let b: Jid = "u@example.org/b".parse().unwrap();
        let mut resources = Resources::default();
        assert!(resources.insert(a.clone()));
        assert!(!resources.insert(a.clone()));
        assert!(resources.insert(b.clone()));
        assert_eq!(resources.iter().count(), 2);
        assert!(resources.remove(&a));
        assert!(!resources.remove(&a));
        assert!(!resources.contains(&a) && resources.contains(&b));
        assert!(resources.remove(&b));
        assert!(resources.is_empty());
    }
}
