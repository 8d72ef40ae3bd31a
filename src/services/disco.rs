//! XEP-0030 disco#info/#items and the XEP-0115 caps computed from them.

use ferry_bridge::{AddressKind, Bridge};
use xmpp_parsers::caps::{self, Caps};
use xmpp_parsers::disco::{DiscoInfoQuery, DiscoInfoResult, DiscoItemsResult, Identity, Item};
use xmpp_parsers::hashes::Algo;
use xmpp_parsers::minidom::Element;

/// The node our caps advertise; clients echo it in their disco#info query.
pub const CAPS_NODE: &str = "https://ferry.invalid/caps";

/// Features of every bridge JID; the bridge adds its own.
const CORE_FEATURES: [&str; 9] = [
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items",
    "jabber:iq:register",
    "jabber:iq:gateway",
    "jid\\20escaping",
    "http://jabber.org/protocol/commands",
    "urn:xmpp:ping",
    "jabber:iq:version",
    "http://jabber.org/protocol/caps",
];

pub struct Info {
    bridge: DiscoInfoResult,
    pub caps: Caps,
}

impl Info {
    pub fn new(bridge: &dyn Bridge) -> Self {
        let info = DiscoInfoResult {
            node: None,
            identities: bridge
                .identities()
                .into_iter()
                .map(|i| Identity::new(i.category, i.kind, "en", i.name))
                .collect(),
            features: CORE_FEATURES
                .iter()
                .chain(bridge.features().iter())
                .map(|f| f.to_string())
                .collect(),
            extensions: vec![],
        };
        let hash =
            caps::hash_caps(&caps::compute_disco(&info), Algo::Sha_1).expect("sha-1 is supported");
        Info {
            caps: Caps::new(CAPS_NODE, hash),
            bridge: info,
        }
    }

    /// disco#info for the bridge JID, echoing the queried node.
    pub fn bridge_info(&self, query: &DiscoInfoQuery) -> Element {
        let mut info = self.bridge.clone();
        info.node = query.node.clone();
        info.into()
    }
}

/// What a contact of a bridge that takes files is sent files with
/// (XEP-0096 file transfer over XEP-0047).
const FILE_FEATURES: [&str; 3] = [
    "http://jabber.org/protocol/si",
    "http://jabber.org/protocol/si/profile/file-transfer",
    "http://jabber.org/protocol/ibb",
];

/// disco#info for a foreign address on the bridge; `files` when the
/// bridge takes files.
pub fn foreign_info(kind: AddressKind, name: &str, files: bool) -> Element {
    let files = if files && kind == AddressKind::Contact {
        &FILE_FEATURES[..]
    } else {
        &[]
    };
    let (category, type_) = match kind {
        AddressKind::Contact => ("client", "pc"),
        AddressKind::Room => ("conference", "text"),
        AddressKind::Network => ("gateway", "generic"),
    };
    DiscoInfoResult {
        node: None,
        identities: vec![Identity::new(category, type_, "en", name)],
        features: match kind {
            // Networks have the "settings" command (always-on); rooms
            // answer disco#info in the MUC code.
            AddressKind::Network => [CORE_FEATURES[0], CORE_FEATURES[5]].as_slice(),
            _ => &CORE_FEATURES[..1],
        }
        .iter()
        .chain(files)
        .map(|f| f.to_string())
        .collect(),
        extensions: vec![],
    }
    .into()
}

/// disco#items: nothing to list until bridges have rooms to show.
pub fn items() -> Element {
    DiscoItemsResult {
        node: None,
        items: vec![],
        rsm: None,
    }
    .into()
}

/// disco#items listing `(name, jid)` pairs: a network JID's rooms the
/// asker is in, or the bridge JID's directory.
pub fn named_items(items: Vec<(String, xmpp_parsers::jid::Jid)>) -> Element {
    DiscoItemsResult {
        node: None,
        items: items
            .into_iter()
            .map(|(name, jid)| Item {
                jid,
                node: None,
                name: Some(name),
            })
            .collect(),
        rsm: None,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hash_matches_the_advertised_info() {
        let section: ferry_irc::IrcConfig = config::Config::builder()
            .add_source(config::File::from_str(
                "networks = [\"127.0.0.1:6667\"]",
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        let bridge = ferry_irc::IrcBridge::new(&section).unwrap();
        let info = Info::new(&bridge);
        let el = info.bridge_info(&DiscoInfoQuery { node: None });
        let parsed = DiscoInfoResult::try_from(el).unwrap();
        let again = caps::hash_caps(&caps::compute_disco(&parsed), Algo::Sha_1).unwrap();
        assert_eq!(again.hash, info.caps.ver);
        assert!(parsed.features.contains("http://jabber.org/protocol/muc"));
        assert!(parsed
            .identities
            .iter()
            .any(|i| i.category == "gateway" && i.type_ == "irc"));
    }
}
