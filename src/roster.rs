//! Roster management by privilege (XEP-0356) as state the services share:
//! which servers let this bridge write their users' rosters, and which
//! contact JIDs each user's roster already holds. Also the privilege
//! advertisement's parsing and the roster iqs, which need no gateway.
//! `services::roster` acts on it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::roster::{Ask, Group, Item, Roster, Subscription};

/// XEP-0356 0.4, which Prosody's mod_privilege speaks.
pub const NS_PRIVILEGE_2: &str = "urn:xmpp:privilege:2";
/// XEP-0356 0.3, which ejabberd speaks. The roster iqs are the same in
/// both versions; only the advertisement's namespace differs.
pub const NS_PRIVILEGE_1: &str = "urn:xmpp:privilege:1";

/// How the ids of our roster iqs begin, so that their answers are known;
/// an addition's id goes on with `add-`.
pub const ID_PREFIX: &str = "ferry-roster-";

/// What a server's privilege advertisement says about rosters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertised {
    pub ns: &'static str,
    /// Whether the grant includes writing (`set` or `both`).
    pub writes: bool,
}

#[derive(Default)]
pub struct Rosters {
    /// The server domains that let this bridge write their users' rosters,
    /// with the namespace they spoke.
    grants: Mutex<HashMap<String, &'static str>>,
    /// The contact JIDs in each user's roster on this bridge: the store's
    /// contacts, mirrored so that a direct message asks no query.
    known: Mutex<HashMap<BareJid, HashSet<String>>>,
    /// Whether the log has said that roster management is off.
    off_told: AtomicBool,
    ids: AtomicU64,
}

impl Rosters {
    pub fn grant(&self, domain: &str, ns: &'static str) {
        self.lock_grants().insert(domain.to_ascii_lowercase(), ns);
    }

    pub fn revoke(&self, domain: &str) {
        self.lock_grants().remove(&domain.to_ascii_lowercase());
    }

    /// Forgets every grant: a server advertises them again on each link.
    pub fn clear_grants(&self) {
        self.lock_grants().clear();
    }

    /// Whether `domain`'s server lets this bridge write its users' rosters.
    pub fn granted(&self, domain: &str) -> bool {
        self.lock_grants()
            .contains_key(&domain.to_ascii_lowercase())
    }

    /// Fills the mirror of the store's contacts.
    pub fn seed(&self, contacts: impl IntoIterator<Item = (BareJid, String)>) {
        let mut known = self.lock_known();
        for (user, contact) in contacts {
            known.entry(user).or_default().insert(contact);
        }
    }

    /// True when `contact` is new in `user`'s roster and their server lets
    /// it be written: the caller then adds it. Counts it as added.
    pub fn claim(&self, user: &BareJid, contact: &str) -> bool {
        if !self.granted(user.domain().as_str()) {
            return false;
        }
        let mut known = self.lock_known();
        known
            .entry(user.clone())
            .or_default()
            .insert(contact.to_owned())
    }

    pub fn remember(&self, user: &BareJid, contact: &str) {
        let mut known = self.lock_known();
        known
            .entry(user.clone())
            .or_default()
            .insert(contact.to_owned());
    }

    pub fn forget(&self, user: &BareJid, contact: &str) {
        let mut known = self.lock_known();
        if let Some(set) = known.get_mut(user) {
            set.remove(contact);
            if set.is_empty() {
                known.remove(user);
            }
        }
    }

    pub fn forget_user(&self, user: &BareJid) {
        self.lock_known().remove(user);
    }

    /// True the first time only: roster management being off is said once.
    pub fn first_time_off(&self) -> bool {
        !self.off_told.swap(true, Ordering::Relaxed)
    }

    /// A roster set from `bridge` adding `item` (subscription `both`, one
    /// group) to `user`'s roster.
    pub fn add(
        &self,
        bridge: &Jid,
        user: &BareJid,
        item: BareJid,
        name: Option<String>,
        group: &str,
    ) -> Iq {
        let item = Item {
            jid: item,
            name,
            subscription: Subscription::Both,
            ask: Ask::None,
            groups: vec![Group(group.to_owned())],
            approved: None,
        };
        self.set(bridge, user, item, "add")
    }

    /// A roster set from `bridge` removing `item` from `user`'s roster.
    pub fn remove(&self, bridge: &Jid, user: &BareJid, item: BareJid) -> Iq {
        let item = Item {
            jid: item,
            name: None,
            subscription: Subscription::Remove,
            ask: Ask::None,
            groups: vec![],
            approved: None,
        };
        self.set(bridge, user, item, "remove")
    }

    /// The set goes to the user's bare JID, where the server's privileged
    /// roster handler takes it (it refuses a set to any other address).
    fn set(&self, bridge: &Jid, user: &BareJid, item: Item, kind: &str) -> Iq {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        let query = Roster {
            ver: None,
            items: vec![item],
        };
        Iq::from_set(format!("{ID_PREFIX}{kind}-{n}"), query)
            .with_from(bridge.clone())
            .with_to(Jid::from(user.clone()))
    }

    fn lock_grants(&self) -> std::sync::MutexGuard<'_, HashMap<String, &'static str>> {
        self.grants.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, HashMap<BareJid, HashSet<String>>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The roster part of a privilege advertisement (XEP-0356 §4.2), if
/// `message` is one.
pub fn advertised(message: &Message) -> Option<Advertised> {
    let (ns, privilege) = message.payloads.iter().find_map(|p| {
        [NS_PRIVILEGE_2, NS_PRIVILEGE_1]
            .into_iter()
            .find(|ns| p.is("privilege", *ns))
            .map(|ns| (ns, p))
    })?;
    let writes = privilege
        .children()
        .filter(|perm| perm.is("perm", ns) && perm.attr("access") == Some("roster"))
        .any(|perm| matches!(perm.attr("type"), Some("set") | Some("both")));
    Some(Advertised { ns, writes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::minidom::Element;

    fn advertisement(ns: &str, roster: &str) -> Message {
        let xml = format!(
            "<message xmlns='jabber:component:accept' from='localhost' to='irc.localhost'>\
             <privilege xmlns='{ns}'><perm access='roster' type='{roster}'/>\
             <perm access='message' type='outgoing'/></privilege></message>"
        );
        Message::try_from(xml.parse::<Element>().unwrap()).unwrap()
    }

    #[test]
    fn advertisements_in_both_versions() {
        let both = advertised(&advertisement(NS_PRIVILEGE_2, "both"));
        assert_eq!(
            both,
            Some(Advertised {
                ns: NS_PRIVILEGE_2,
                writes: true
            })
        );
        let get = advertised(&advertisement(NS_PRIVILEGE_1, "get"));
        assert_eq!(
            get,
            Some(Advertised {
                ns: NS_PRIVILEGE_1,
                writes: false
            })
        );
        assert_eq!(advertised(&advertisement("urn:xmpp:other", "both")), None);
    }

    #[test]
    fn a_contact_is_claimed_once_and_only_where_granted() {
        let rosters = Rosters::default();
        let alice = BareJid::new("alice@localhost").unwrap();
        let eve = BareJid::new("eve@other.example").unwrap();
        rosters.grant("LocalHost", NS_PRIVILEGE_2);
        rosters.seed([(alice.clone(), "old@irc.localhost".to_owned())]);
        assert!(!rosters.claim(&alice, "old@irc.localhost"));
        assert!(rosters.claim(&alice, "bob@irc.localhost"));
        assert!(!rosters.claim(&alice, "bob@irc.localhost"));
        assert!(!rosters.claim(&eve, "bob@irc.localhost"));
        rosters.forget(&alice, "bob@irc.localhost");
        assert!(rosters.claim(&alice, "bob@irc.localhost"));
        rosters.clear_grants();
        assert!(!rosters.claim(&alice, "carol@irc.localhost"));
    }

    #[test]
    fn roster_sets_go_to_the_users_bare_jid() {
        let rosters = Rosters::default();
        let bridge = Jid::new("irc.localhost").unwrap();
        let alice = BareJid::new("alice@localhost").unwrap();
        let bob = BareJid::new("bob@irc.localhost").unwrap();
        let iq = rosters.add(&bridge, &alice, bob.clone(), Some("bob".into()), "IRC");
        let el = Element::from(iq);
        assert_eq!(el.attr("to"), Some("alice@localhost"));
        assert_eq!(el.attr("type"), Some("set"));
        let item = el
            .get_child("query", "jabber:iq:roster")
            .and_then(|q| q.get_child("item", "jabber:iq:roster"))
            .unwrap();
        assert_eq!(item.attr("subscription"), Some("both"));
        assert_eq!(
            item.children().map(|g| g.text()).collect::<Vec<_>>(),
            ["IRC"]
        );
        let el = Element::from(rosters.remove(&bridge, &alice, bob));
        assert!(el.attr("id").unwrap().starts_with(ID_PREFIX));
        assert!(String::from(&el).contains("subscription='remove'"));
    }
}
