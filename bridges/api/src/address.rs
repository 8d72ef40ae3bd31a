/// What a foreign address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// A person: an IRC nick, a mail address.
    Contact,
    /// A group chat: an IRC channel.
    Room,
    /// A foreign network or server itself.
    Network,
}

/// A foreign address, independent of any backend's JID syntax.
///
/// `network` is the foreign network the name lives on (an IRC server
/// host); backends with one global namespace (e-mail) leave it `None`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub kind: AddressKind,
    pub network: Option<String>,
    pub name: String,
}

impl Address {
    pub fn contact(network: Option<&str>, name: &str) -> Self {
        Address {
            kind: AddressKind::Contact,
            network: network.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    pub fn room(network: Option<&str>, name: &str) -> Self {
        Address {
            kind: AddressKind::Room,
            network: network.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    pub fn network(host: &str) -> Self {
        Address {
            kind: AddressKind::Network,
            network: Some(host.to_owned()),
            name: host.to_owned(),
        }
    }
}
