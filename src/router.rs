//! One bridge's gateway: takes each inbound stanza to the service that
//! owns it and keeps the per-user state the services share.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use ferry_bridge::{Address, AddressError, Bridge};
use tokio::sync::mpsc;
use tokio_xmpp::xmlstream::StreamElementError;
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_parsers::stanza_error::StanzaError;

use crate::address;
use crate::component::{LinkEvent, Outbound};
use crate::config::AccessConfig;
use crate::limits::{LimitsConfig, StanzaRate};
use crate::services;
use crate::sessions::Sessions;
use crate::stanza_error::{self, Condition};
use crate::store::Store;

/// How long users have to answer the probes sent at link-up before their
/// sessions are ended.
const PROBE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Gateway {
    pub jid: Jid,
    pub bridge: Arc<dyn Bridge>,
    pub store: Arc<Store>,
    pub access: AccessConfig,
    pub limits: LimitsConfig,
    /// Each user's stanzas a second.
    rate: StanzaRate,
    pub out: Arc<Outbound>,
    pub disco: services::disco::Info,
    pub sessions: Sessions,
    pub rooms: crate::muc::Rooms,
    pub archiver: crate::muc::archive::Archiver,
    /// Each user's stanza work that awaits, in the order it came.
    pub lanes: crate::lanes::Lanes<BareJid>,
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
    ) -> Self {
        let disco = services::disco::Info::new(bridge.as_ref());
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
            rooms: crate::muc::Rooms::default(),
            archiver,
            lanes: crate::lanes::Lanes::default(),
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

    fn take_online(&self) -> Vec<BareJid> {
        let mut online = self.online.lock().unwrap_or_else(|e| e.into_inner());
        online.drain().map(|(user, _)| user).collect()
    }

    pub fn forget_user(&self, user: &BareJid) {
        let mut online = self.online.lock().unwrap_or_else(|e| e.into_inner());
        online.remove(user);
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

    /// Reads link events until the link goes away.
    pub async fn run(self: Arc<Self>, mut events: mpsc::Receiver<LinkEvent>) {
        while let Some(event) = events.recv().await {
            match event {
                LinkEvent::Up => {
                    // Presence seen before the link went down may be stale:
                    // forget it, probe, and end the sessions of users who
                    // do not answer as available.
                    let before = self.take_online();
                    tracing::debug!(bridge = self.name(), stale = before.len(), "link up");
                    let gw = self.clone();
                    tokio::spawn(async move {
                        services::presence::probe_all(&gw).await;
                        tokio::time::sleep(PROBE_GRACE).await;
                        for user in before {
                            if !gw.online_users().contains(&user) {
                                tracing::info!(bridge = gw.name(), %user, "no answer to the probe: ending the session");
                                gw.sessions.stop(&user, "the user went offline");
                            }
                        }
                    });
                }
                LinkEvent::Stanza(stanza) => self.dispatch(*stanza),
                LinkEvent::Invalid(error) => self.answer_invalid(*error),
            }
        }
    }

    fn dispatch(self: &Arc<Self>, stanza: Stanza) {
        let from = match &stanza {
            Stanza::Iq(iq) => iq_from(iq),
            Stanza::Message(m) => m.from.as_ref(),
            Stanza::Presence(p) => p.from.as_ref(),
        };
        let Some(from) = from.cloned() else {
            tracing::debug!("stanza without from dropped");
            return;
        };
        if !self.out.has_room_for(&from.to_bare().to_string()) {
            self.refuse_flood(&stanza, "too many stanzas queued for you");
            return;
        }
        // Leaving is always let through: it only lowers the load.
        let leaving =
            matches!(&stanza, Stanza::Presence(p) if p.type_ == PresenceType::Unavailable);
        if !leaving && !self.rate.admit(&from.to_bare(), std::time::Instant::now()) {
            let text = "too many stanzas a second (limits.stanza_rate, limits.stanza_burst)";
            self.refuse_flood(&stanza, text);
            return;
        }
        match stanza {
            Stanza::Iq(iq) => services::iq::handle(self, from, iq),
            Stanza::Message(m) => services::message::handle(self, from, m),
            Stanza::Presence(p) => services::presence::handle(self, from, p),
        }
    }

    /// Answers a stanza of a user over a rate or with a full queue with
    /// `resource-constraint`; the answer may exceed their quota by one.
    fn refuse_flood(&self, stanza: &Stanza, text: &str) {
        let e = stanza_error::error(Condition::ResourceConstraint, text);
        if let Some(reply) = error_reply(stanza, e) {
            if let Err(err) = self.out.push_reply(reply) {
                tracing::warn!(%err, "flood answer dropped");
            }
        }
    }

    /// Answers a stanza that failed to parse.
    fn answer_invalid(&self, error: StreamElementError) {
        if let Some(reply) = invalid_reply(error) {
            self.send(reply);
        }
    }
}

/// The error answer to any stanza, or `None` for one that gets none (a
/// result or an error).
pub fn error_reply(stanza: &Stanza, e: StanzaError) -> Option<Stanza> {
    match stanza {
        Stanza::Iq(Iq::Get { from, to, id, .. }) | Stanza::Iq(Iq::Set { from, to, id, .. }) => {
            Some(stanza_error::iq(to.clone(), from.clone(), id.clone(), e).into())
        }
        Stanza::Iq(_) => None,
        Stanza::Message(m) => stanza_error::message(m, e).map(Into::into),
        Stanza::Presence(p) => stanza_error::presence(p, e).map(Into::into),
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

/// The `bad-request` answer to a stanza that failed to parse, when its
/// header says who sent it and it is not itself a result or error.
pub fn invalid_reply(error: StreamElementError) -> Option<Stanza> {
    let StreamElementError::InvalidStanza { name, header, .. } = error else {
        return None;
    };
    let parse = |j: &Option<String>| j.as_deref().and_then(|s| Jid::new(s).ok());
    let (Some(from), to) = (parse(&header.from), parse(&header.to)) else {
        return None;
    };
    let type_ = header.type_.as_deref().unwrap_or("");
    let e = stanza_error::error(Condition::BadRequest, "malformed stanza");
    Some(match name.to_string().as_str() {
        "iq" => {
            if !matches!(type_, "get" | "set") {
                return None;
            }
            stanza_error::iq(to, Some(from), header.id?, e).into()
        }
        "message" => {
            if type_ == "error" {
                return None;
            }
            let mut m = Message::error(Some(from));
            m.from = to;
            m.id = header.id.map(xmpp_parsers::message::Id);
            m.with_payload(e).into()
        }
        _ => {
            if type_ == "error" {
                return None;
            }
            let mut p = Presence::error().with_payload(e);
            p.from = to;
            p.to = Some(from);
            p.id = header.id;
            p.into()
        }
    })
}

fn iq_from(iq: &Iq) -> Option<&Jid> {
    match iq {
        Iq::Get { from, .. }
        | Iq::Set { from, .. }
        | Iq::Result { from, .. }
        | Iq::Error { from, .. } => from.as_ref(),
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
