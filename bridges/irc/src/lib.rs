//! ferry's IRC backend: addressing, registration, and per-user sessions
//! with one connection task per network.

mod address;
mod autoreply;
mod caps;
mod certfp;
mod channels;
mod chathistory;
pub mod config;
mod connection;
mod dcc;
mod details;
mod echo;
mod fit;
mod identd;
mod invite;
mod isupport;
mod line;
mod listing;
mod moderation;
mod net;
mod numerics;
mod password;
mod policy;
mod registration;
mod rich;
mod session;
mod settings;
mod shared;
mod split;
mod tags;
mod text;
mod throttle;

use std::sync::Arc;

use ferry_bridge::{
    Address, AddressError, BoxFuture, Bridge, FieldKind, FieldSpec, FormValues, Identity,
    Registration, RegistrationError, SessionContext, SessionHandle,
};

pub use config::IrcConfig;
/// For the fuzz targets (fuzz/).
#[cfg(feature = "fuzzing")]
pub use session::fuzz::server_bytes;
use shared::Shared;

pub struct IrcBridge {
    shared: Arc<Shared>,
}

impl IrcBridge {
    pub fn new(config: &IrcConfig) -> Result<Self, String> {
        Ok(IrcBridge {
            shared: Arc::new(Shared::new(config)?),
        })
    }

    /// The configured network an identity is on.
    fn network_of(&self, scope: &str, registration: &Registration) -> Option<&config::Network> {
        let (host, ..) = session::identity(scope, registration)?;
        self.shared.networks.find(&host)
    }
}

impl Bridge for IrcBridge {
    fn kind(&self) -> &'static str {
        "irc"
    }

    fn identities(&self) -> Vec<Identity> {
        vec![
            Identity {
                category: "gateway",
                kind: "irc",
                name: "IRC gateway".into(),
            },
            Identity {
                category: "conference",
                kind: "irc",
                name: "IRC channels".into(),
            },
        ]
    }

    fn roster_group(&self) -> &'static str {
        "IRC"
    }

    fn features(&self) -> Vec<&'static str> {
        vec!["http://jabber.org/protocol/muc"]
    }

    fn room_type(&self) -> &'static str {
        "irc"
    }

    /// Channel names compare by RFC 1459 case mapping, the widest of the
    /// CASEMAPPING values servers announce: `#Rust[1]` and `#rust{1}` are
    /// one room (the domain part is plain ASCII, folded alike).
    fn room_key(&self, jid: &str) -> String {
        isupport::CaseMapping::Rfc1459.fold(jid)
    }

    fn directory(&self) -> Vec<Address> {
        let all = &self.shared.networks.all;
        all.iter().map(|n| Address::network(&n.host)).collect()
    }

    fn registration_instructions(&self) -> String {
        "Choose the IRC nick (and optionally the NickServ/SASL password) ferry uses for you.".into()
    }

    fn registration_fields(&self) -> Vec<FieldSpec> {
        // A network has one name everywhere: its host, as in its JIDs
        // (`host:port` is accepted on submission too).
        let networks = &self.shared.networks;
        let network = FieldSpec {
            var: "network",
            label: "IRC network",
            kind: FieldKind::Choice(networks.all.iter().map(|n| n.host.clone()).collect()),
            required: false,
            default: networks.default_network().map(|n| n.host.clone()),
        };
        vec![
            FieldSpec::text("nick", "Nickname", true),
            FieldSpec::password("password", "Password (SASL or NickServ)", false),
            FieldSpec::text("username", "Username (ident)", false),
            FieldSpec::text("realname", "Real name", false),
            network,
            FieldSpec::boolean(
                "persistent",
                "Always on: stay in channels and keep the archive while offline",
            ),
        ]
    }

    fn check_registration<'a>(
        &'a self,
        user: &'a str,
        values: FormValues,
        previous: Option<&'a Registration>,
    ) -> BoxFuture<'a, Result<Registration, RegistrationError>> {
        let result = registration::check(&self.shared.networks, &values, previous);
        Box::pin(async move {
            let registration = result?;
            password::check(&self.shared, user, &registration).await?;
            Ok(registration)
        })
    }

    fn network_settings(
        &self,
        scope: &str,
        registration: &Registration,
    ) -> Vec<(FieldSpec, Vec<String>)> {
        match self.network_of(scope, registration) {
            Some(network) => settings::fields(network, registration, self.shared.bounds()),
            None => Vec::new(),
        }
    }

    fn apply_network_settings(
        &self,
        scope: &str,
        registration: &Registration,
        submitted: &[(String, Vec<String>)],
    ) -> Result<Registration, RegistrationError> {
        let Some(network) = self.network_of(scope, registration) else {
            return Ok(registration.clone());
        };
        settings::apply(network, registration, submitted, self.shared.bounds())
    }

    fn parse_address(&self, localpart: &str) -> Result<Address, AddressError> {
        address::parse(&self.shared.networks, localpart)
    }

    fn format_address(&self, address: &Address) -> String {
        address::format(address)
    }

    fn gateway_prompt(&self) -> (String, String) {
        (
            "Enter the IRC nick of the contact, optionally followed by %server.".into(),
            "IRC nick".into(),
        )
    }

    fn gateway_translate(&self, input: &str) -> Result<Address, AddressError> {
        address::parse(&self.shared.networks, input.trim())
    }

    fn start_session(&self, context: SessionContext) -> Option<SessionHandle> {
        Some(session::start(self.shared.clone(), context))
    }

    fn registration_network(&self, scope: &str, registration: &Registration) -> Option<String> {
        session::identity(scope, registration).map(|(host, ..)| host)
    }

    fn help_text(&self) -> String {
        let example = self
            .shared
            .networks
            .default_network()
            .or(self.shared.networks.all.first())
            .map(|n| n.host.clone())
            .unwrap_or_default();
        format!(
            "This is ferry's IRC gateway.\n\
             - Register your nick with your client's \"register with service\" (XEP-0077).\n\
             - Chat with an IRC user: add nick%{example}@<this gateway> to your roster.\n\
             - Join a channel: join the group chat #channel%{example}@<this gateway>.\n\
             - Ad-hoc commands on this gateway: show my registration, reconnect."
        )
    }
}
