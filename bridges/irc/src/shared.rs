//! What every session of one IRC bridge shares: the networks, one rustls
//! config per network (built once, not per connection: building one reads
//! the CA store), throttle and timing settings.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Once};
use std::time::Duration;

use ferry_bridge::tls::{client_config, roots};
use ferry_bridge::Registration;
use rustls::{ClientConfig, RootCertStore};

use crate::certfp;
use crate::config::{IrcConfig, Network, Networks};
use crate::connection::Params;
use crate::identd::Idents;
use crate::policy::Origin;
use crate::settings;
use crate::throttle::Bucket;

pub struct Shared {
    pub networks: Networks,
    tls: HashMap<String, Arc<ClientConfig>>,
    /// The CAs of networks where each user presents a certificate of
    /// their own (SASL EXTERNAL): their configs are made per user.
    roots: HashMap<String, RootCertStore>,
    burst: u32,
    rate: f64,
    pub ping_every: Duration,
    pub presence_poll: Duration,
    pub dcc_receive: bool,
    pub dcc_allow: Arc<Vec<ipnet::IpNet>>,
    pub list_max: usize,
    /// The connections' idents, where ferry runs an identd.
    pub idents: Option<Arc<Idents>>,
    /// The identd's address; it starts with the first session.
    identd: Option<(SocketAddr, Once)>,
}

impl Shared {
    pub fn new(config: &IrcConfig) -> Result<Shared, String> {
        let networks = Networks::from_config(config)?;
        for host in config.ca_files.keys() {
            if networks.find(host).is_none() {
                return Err(format!(
                    "bridge.irc.ca_files names `{host}`, which is not a network"
                ));
            }
        }
        let mut tls = HashMap::new();
        let mut user_roots = HashMap::new();
        for network in networks.all.iter().filter(|n| n.tls) {
            let listed = config
                .ca_files
                .iter()
                .find(|(h, _)| networks.find(h).is_some_and(|n| n.host == network.host))
                .map(|(_, p)| p.as_path());
            let ca = network.ca_file.as_deref().or(listed);
            tls.insert(network.host.clone(), client_config(roots(ca)?)?);
            if network.sasl_external {
                user_roots.insert(network.host.clone(), roots(ca)?);
            }
        }
        let dcc_allow = config
            .dcc_allow
            .iter()
            .map(|range| {
                range.parse().map_err(|_| {
                    format!("bridge.irc.dcc_allow: `{range}` is not an address range (CIDR)")
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let identd =
            match &config.identd {
                None => None,
                Some(listen) => Some(listen.parse().map_err(|_| {
                    format!("bridge.irc.identd: `{listen}` is not an address:port")
                })?),
            };
        Ok(Shared {
            idents: identd.map(|_| Arc::new(Idents::default())),
            identd: identd.map(|at| (at, Once::new())),
            list_max: config.list_max,
            dcc_receive: config.dcc_receive,
            dcc_allow: Arc::new(dcc_allow),
            networks,
            tls,
            roots: user_roots,
            burst: config.throttle_burst,
            rate: config.throttle_rate,
            ping_every: Duration::from_secs(config.ping_interval),
            presence_poll: Duration::from_secs(config.presence_poll),
        })
    }

    /// Starts the identd, once, listening before the first connection is
    /// made (a server asks at once); one that cannot listen is logged,
    /// and the servers find no ident.
    pub fn start_identd(&self) {
        let (Some((at, once)), Some(idents)) = (&self.identd, &self.idents) else {
            return;
        };
        once.call_once(|| {
            let listener = std::net::TcpListener::bind(at)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .and_then(tokio::net::TcpListener::from_std);
            match listener {
                Ok(listener) => {
                    tracing::info!(%at, "identd listening");
                    tokio::spawn(crate::identd::serve(listener, idents.clone()));
                }
                Err(e) => tracing::error!(%at, error = %e, "identd cannot listen"),
            }
        });
    }

    /// The TLS config of a `+port` network.
    pub fn tls_for(&self, host: &str) -> Arc<ClientConfig> {
        self.tls.get(host).cloned().unwrap_or_else(|| {
            let roots = roots(None).expect("the built-in roots are valid");
            client_config(roots).expect("the built-in roots are valid")
        })
    }

    /// How `user` connects to `network` as `who` (nick, username,
    /// realname): the network's policies and the user's settings.
    pub fn params(
        &self,
        network: &Network,
        user: &str,
        who: (String, String, String),
        registration: &Registration,
        room_only: bool,
    ) -> Params {
        let (nick, username, realname) = who;
        let chosen = settings::chosen(registration, self.bounds());
        // The user's own certificate where the network logs in by it.
        let own = self
            .roots
            .get(&network.host)
            .and_then(|roots| certfp::client_config(roots.clone(), registration));
        Params {
            sasl_external: own.is_some(),
            tls: own.or_else(|| network.tls.then(|| self.tls_for(&network.host))),
            network: network.clone(),
            nick,
            username,
            realname,
            password: registration.secret("password").cloned(),
            throttle: Bucket::new(chosen.burst, chosen.rate),
            ping_every: self.ping_every,
            fallback_nick: !room_only,
            origin: Origin::of(network, user, self.idents.clone()),
            after_connect: chosen.after_connect,
            encoding: chosen.encoding,
        }
    }

    /// The admin's throttle, which a user's settings may only tighten.
    pub fn bounds(&self) -> settings::Bounds {
        settings::Bounds {
            burst: self.burst,
            rate: self.rate,
        }
    }
}
