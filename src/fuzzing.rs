//! Entry points for the fuzz targets (fuzz/): untrusted input through the
//! steps the gateway takes with it, without a running gateway (no store,
//! no link). Each panics where the gateway would misbehave.

use std::sync::{Arc, OnceLock};

use ferry_bridge::{Address, Bridge};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::xmlstream::{FallibleStreamElement, XmppStreamElement};
use tokio_xmpp::Stanza;
use xmpp_parsers::jid::Jid;

pub use crate::address::{escape, unescape};
use crate::config::Config;
use crate::gateway::{jid_for, target_of, Target};
use crate::router;
use crate::services::reply::address_error;
use crate::stanza_error::{self, Condition};
use crate::stanzas;

/// A bridge of the sample config: its kind, its domain, its backend.
type Sample = (String, String, Arc<dyn Bridge>);

/// The sample config's bridges (IRC and e-mail).
fn bridges() -> &'static [Sample] {
    static BRIDGES: OnceLock<Vec<Sample>> = OnceLock::new();
    BRIDGES.get_or_init(|| {
        let config = Config::parse(include_str!("../deploy/ferry.toml"), std::iter::empty())
            .expect("the sample config loads");
        config
            .bridge
            .iter()
            .map(|b| {
                let bridge = crate::bridges::build(b).expect("the sample's bridges build");
                (b.kind.clone(), b.jid.clone(), bridge)
            })
            .collect()
    })
}

/// The backend named by its config kind, with its domain.
fn bridge(kind: &str) -> (&'static str, &'static dyn Bridge) {
    let (_, domain, bridge) = bridges()
        .iter()
        .find(|(k, _, _)| k == kind)
        .expect("a known kind");
    (domain, bridge.as_ref())
}

/// One top-level element of the component stream, as the link reads it,
/// then what the router and the services do with it before any state:
/// the answer to a malformed stanza, the error answer every stanza may
/// get, the message's text, the target its `to` names on each backend.
pub fn stanza(bytes: &[u8]) {
    let Ok(element) = xso::from_bytes::<FallibleStreamElement>(bytes) else {
        return;
    };
    let stanza = match element {
        FallibleStreamElement::Ok(XmppStreamElement::Stanza(stanza)) => stanza,
        FallibleStreamElement::Ok(_) => return,
        FallibleStreamElement::Err(error) => {
            let (domain, _) = bridge("irc");
            let jid = Jid::new(domain).expect("the sample's bridge JID");
            if let Some(reply) = router::invalid_reply(error, &jid) {
                sent_and_read_back(&reply);
            }
            return;
        }
    };
    let e = stanza_error::error(Condition::ResourceConstraint, "too many stanzas");
    if let Some(reply) = router::error_reply(&stanza, e) {
        sent_and_read_back(&reply);
    }
    let to = match &stanza {
        Stanza::Message(m) => {
            let _ = stanzas::text_of(m);
            let _ = stanzas::is_encrypted(m);
            m.to.clone()
        }
        Stanza::Presence(p) => p.to.clone(),
        Stanza::Iq(Iq::Get { to, .. } | Iq::Set { to, .. }) => to.clone(),
        Stanza::Iq(_) => None,
    };
    let Some(to) = to else { return };
    for (kind, _, _) in bridges() {
        match target_of(bridge(kind).1, &to) {
            Ok(Target::Foreign(address)) => named(kind, &address),
            Ok(Target::Bridge) => {}
            Err(e) => {
                let _ = address_error(&e);
            }
        }
    }
}

/// A foreign address on the `kind` backend, as a network or a user named
/// it: when it has a JID, that JID names back an address that has the same
/// JID again. The name may come back folded: a JID's localpart is
/// case-insensitive and NFKC-normalised (RFC 7622), as IRC nicks and mail
/// addresses are mostly case-insensitive too.
pub fn named(kind: &str, address: &Address) {
    let (domain, bridge) = bridge(kind);
    let Some(jid) = jid_for(bridge, domain, address) else {
        return;
    };
    match target_of(bridge, &jid) {
        Ok(Target::Foreign(back)) => {
            let again = jid_for(bridge, domain, &back);
            assert_eq!(again.as_ref(), Some(&jid), "{back:?} from {address:?}");
        }
        Ok(Target::Bridge) => panic!("{jid} names the bridge, not {address:?}"),
        Err(e) => panic!("{jid}, given for {address:?}, is refused: {e}"),
    }
}

/// What the link would write for `reply` reads back as one stanza: the
/// server closes the link (every user's) on anything else.
fn sent_and_read_back(reply: &Stanza) {
    let bytes = crate::component::serialise(reply).expect("a reply serialises");
    match xso::from_bytes::<FallibleStreamElement>(&bytes) {
        Ok(FallibleStreamElement::Ok(XmppStreamElement::Stanza(_))) => {}
        other => panic!(
            "{} reads back as {other:?}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

/// ferry.toml as text, with `KEY=VALUE` environment lines after a NUL,
/// through loading, validation and each backend's own section. Paths are
/// left out (`secret_file`, `key_file`, `ca_files`): reading the files an
/// admin names is not parsing.
pub fn config(input: &str) {
    let (text, env) = input.split_once('\0').unwrap_or((input, ""));
    if input.contains("_file") {
        return;
    }
    let env = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())));
    let Ok(config) = Config::parse(text, env) else {
        return;
    };
    for entry in &config.bridge {
        let _ = crate::bridges::build(entry);
    }
}
