//! One bridge's gateway: the state its services share (the bridge, the
//! store, the outbound queue, sessions, rooms, who is online) and the
//! small lookups on it. It calls no service: handlers take it as input.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use ferry_bridge::{Address, AddressError, Bridge, Failure, Listed};
use tokio_xmpp::Stanza;
use xmpp_parsers::jid::{BareJid, Jid};

use crate::address;
use crate::component::Outbound;
use crate::config::AccessConfig;
use crate::limits::{LimitsConfig, StanzaRate};
use crate::sessions::registry::Sessions;
use crate::store::Store;

pub struct Gateway {
    pub jid: Jid,
    pub bridge: Arc<dyn Bridge>,
    pub store: Arc<Store>,
    pub access: AccessConfig,
    pub limits: LimitsConfig,
    /// Each user's stanzas a second.
    pub rate: StanzaRate,
    pub out: Arc<Outbound>,
    pub disco: crate::services::disco::Info,
    pub sessions: Sessions,
    pub rooms: crate::rooms::Rooms,
    pub archiver: crate::muc::archive::Archiver,
    /// Each user's stanza work that awaits, in the order it came.
    pub lanes: crate::lanes::Lanes<BareJid>,
    /// What of each user's stays up while they are offline.
    pub always_on: crate::always_on::AlwaysOn,
    /// Roster management by privilege (XEP-0356).
    pub rosters: crate::roster::Rosters,
    /// Networks' channel lists, shared by users (SPEC §10).
    pub room_lists: crate::room_lists::RoomLists,
    /// Moderators' requests waiting for their session's answer.
    pub moderations: crate::answers::Answers<Result<Vec<Listed>, (Failure, String)>>,
    /// What the bridge counted (SPEC §5's metrics, the statistics command).
    pub stats: crate::stats::Stats,
    /// Requests ferry sent, awaiting their answers.
    pub asks: crate::asks::Asks,
    /// Files: the upload service, the fetch rules (SPEC §8).
    pub files: crate::file_state::Files,
    /// Resources of each user that told the bridge JID they are available.
    online: Mutex<HashMap<BareJid, HashSet<Jid>>>,
    /// Addresses' JIDs: every message of a room of K users asks K times,
    /// and formatting, escaping and stringprep cost more than a lookup.
    jids: Mutex<HashMap<Address, Jid>>,
}

/// Addresses remembered before the cache starts over.
const JIDS_REMEMBERED: usize = 10_000;

/// Who a stanza is addressed to, on this bridge.
pub enum Target {
    Bridge,
    Foreign(Address),
}

impl Gateway {
    pub fn new(
        jid: Jid,
        bridge: Arc<dyn Bridge>,
        store: Arc<Store>,
        access: AccessConfig,
        limits: LimitsConfig,
        out: Arc<Outbound>,
        files: crate::config::FilesConfig,
    ) -> Self {
        let disco = crate::services::disco::Info::new(bridge.as_ref());
        let archiver = crate::muc::archive::Archiver::start(store.clone());
        Gateway {
            jid,
            bridge,
            store,
            access,
            rate: StanzaRate::new(&limits),
            limits,
            out,
            disco,
            sessions: Sessions::default(),
            rooms: crate::rooms::Rooms::default(),
            archiver,
            lanes: crate::lanes::Lanes::default(),
            always_on: crate::always_on::AlwaysOn::default(),
            rosters: crate::roster::Rosters::default(),
            room_lists: crate::room_lists::RoomLists::default(),
            moderations: Default::default(),
            stats: crate::stats::Stats::default(),
            asks: crate::asks::Asks::default(),
            files: crate::file_state::Files::new(files),
            online: Mutex::new(HashMap::new()),
            jids: Mutex::new(HashMap::new()),
        }
    }

    pub fn name(&self) -> &str {
        self.jid.domain().as_str()
    }

    /// Queues a stanza; a full queue is logged, never fatal.
    pub fn send(&self, stanza: impl Into<Stanza>) {
        if let Err(e) = self.out.push(stanza) {
            tracing::warn!(bridge = %self.jid, error = %e, "stanza dropped");
        }
    }

    /// Queues a serialised stanza (`xml_bytes`) for `to`.
    pub fn send_bytes(&self, to: &Jid, bytes: Vec<u8>) {
        // The bare JID is what precedes the first `/`.
        let bare = to.as_str().split_once('/').map_or(to.as_str(), |(b, _)| b);
        if let Err(e) = self.out.push_bytes(bare, bytes) {
            tracing::warn!(bridge = %self.jid, error = %e, "stanza dropped");
        }
    }

    /// The target of `to`, or the address error for it.
    pub fn target(&self, to: &Jid) -> Result<Target, AddressError> {
        target_of(self.bridge.as_ref(), to)
    }

    /// The JID naming `address` on this bridge.
    pub fn jid_of(&self, address: &Address) -> Option<Jid> {
        let lock = || self.jids.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(jid) = lock().get(address) {
            return Some(jid.clone());
        }
        let jid = jid_for(self.bridge.as_ref(), self.name(), address)?;
        let mut jids = lock();
        if jids.len() >= JIDS_REMEMBERED {
            jids.clear();
        }
        jids.insert(address.clone(), jid.clone());
        Some(jid)
    }

    /// The JID `user` knows `address` by: the one they used for it, else
    /// the canonical one.
    pub fn speaking_jid(&self, user: &BareJid, address: &Address) -> Option<Jid> {
        self.jid_of(address)
            .map(|canonical| self.sessions.alias(user, canonical))
    }

    pub fn allowed(&self, from: &Jid) -> bool {
        self.access.allows_domain(from.domain().as_str())
    }

    /// Whether `user` holds an identity on this bridge; a store failure is
    /// logged and counts as not registered.
    pub async fn is_registered(&self, user: &BareJid) -> Result<bool, crate::store::StoreError> {
        let registered = self.store.is_registered(self.name(), user.as_str()).await;
        if let Err(e) = &registered {
            tracing::error!(error = %e, "store failure while checking a registration");
        }
        registered
    }

    /// Asks the user's foreign session to reconnect; false when they have
    /// none.
    pub fn reconnect(&self, user: &BareJid) -> bool {
        self.sessions
            .send(user, ferry_bridge::Intent::Reconnect)
            .is_ok()
    }

    pub fn set_online(&self, resource: &Jid, available: bool) -> bool {
        let mut online = self.online.lock().unwrap_or_else(|e| e.into_inner());
        let bare = resource.to_bare();
        let set = online.entry(bare.clone()).or_default();
        let changed = if available {
            set.insert(resource.clone())
        } else {
            set.remove(resource)
        };
        if set.is_empty() {
            online.remove(&bare);
        }
        changed
    }

    pub fn take_online(&self) -> Vec<BareJid> {
        let mut online = self.online.lock().unwrap_or_else(|e| e.into_inner());
        online.drain().map(|(user, _)| user).collect()
    }

    /// Forgets an unregistered user's resources and settings.
    pub fn forget_user(&self, user: &BareJid) {
        let mut online = self.online.lock().unwrap_or_else(|e| e.into_inner());
        online.remove(user);
        self.always_on.forget(user);
    }

    pub fn online_resources(&self, user: &BareJid) -> Vec<Jid> {
        let online = self.online.lock().unwrap_or_else(|e| e.into_inner());
        online
            .get(user)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn online_users(&self) -> Vec<BareJid> {
        let online = self.online.lock().unwrap_or_else(|e| e.into_inner());
        online.keys().cloned().collect()
    }

    /// Ends the user's session when nothing needs it: no resource online,
    /// no room joined (always-on ones stay joined) and no always-on
    /// network.
    pub fn end_session_if_idle(&self, user: &BareJid) {
        if !self.online_users().contains(user)
            && !self.rooms.has_any(user)
            && !self.always_on.keeps_session(user)
        {
            self.sessions.stop(user, "no longer needed");
        }
    }

    /// The key of a room address: its canonical JID as the bridge folds
    /// room names.
    pub fn room_key(&self, address: &Address) -> Option<String> {
        self.jid_of(address)
            .map(|jid| self.bridge.room_key(jid.as_str()))
    }
}

/// The JID naming `address` on `bridge`, served at `domain`; `None` when
/// no JID names it: its escaped form is not a valid localpart, or the
/// localpart's normalisation (RFC 7622: case, NFKC, characters mapped to
/// nothing) turns it into a name of another kind, of another network, or
/// into no name, so that an answer would go elsewhere.
pub fn jid_for(bridge: &dyn Bridge, domain: &str, address: &Address) -> Option<Jid> {
    let local = address::escape(&bridge.format_address(address)).ok()?;
    let jid = Jid::new(&format!("{local}@{domain}")).ok()?;
    match target_of(bridge, &jid) {
        Ok(Target::Foreign(back))
            if back.kind == address.kind && back.network == address.network =>
        {
            Some(jid)
        }
        _ => None,
    }
}

/// The target of `to` on `bridge`: the bridge itself without a localpart,
/// else the foreign address the unescaped localpart names.
pub fn target_of(bridge: &dyn Bridge, to: &Jid) -> Result<Target, AddressError> {
    match to.node() {
        None => Ok(Target::Bridge),
        Some(node) => {
            let local = address::unescape(node.as_str())
                .map_err(|e| AddressError::Malformed(e.to_string()))?;
            bridge.parse_address(&local).map(Target::Foreign)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn irc() -> ferry_irc::IrcBridge {
        ferry_irc::IrcBridge::new(&ferry_irc::IrcConfig {
            networks: vec!["irc.example:6667".into()],
            default_network: Some("irc.example:6667".into()),
            ca_files: HashMap::new(),
            throttle_burst: 10,
            throttle_rate: 2.0,
            ping_interval: 120,
            presence_poll: 60,
            list_max: 100,
            dcc_receive: false,
            dcc_allow: Vec::new(),
            identd: None,
        })
        .unwrap()
    }

    #[test]
    fn a_jid_names_its_address_back() {
        let bridge = irc();
        let bob = Address::contact(Some("irc.example"), "Bob");
        let jid = jid_for(&bridge, "irc.localhost", &bob).unwrap();
        assert_eq!(jid.as_str(), "bob%irc.example@irc.localhost");
        let Ok(Target::Foreign(back)) = target_of(&bridge, &jid) else {
            panic!("{jid} names no address");
        };
        assert_eq!(back, Address::contact(Some("irc.example"), "bob"));
    }

    /// Found by fuzzing: nicks a server reported, whose JIDs named an empty
    /// nick (soft hyphens map to nothing) or a channel.
    #[test]
    fn no_jid_for_an_address_its_jid_would_not_name() {
        let bridge = irc();
        for nick in ["\u{ad}\u{ad}", "+ob"] {
            let contact = Address::contact(Some("irc.example"), nick);
            assert_eq!(jid_for(&bridge, "irc.localhost", &contact), None, "{nick}");
        }
    }
}
