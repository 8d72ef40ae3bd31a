use std::collections::HashMap;
use std::path::PathBuf;

use ferry_bridge::Secret;
use serde::Deserialize;

/// `[bridge.irc]` as written in ferry.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrcConfig {
    /// Servers users may reach: `host:port`, or `host:+port` for TLS, or
    /// a table with the network's policies (`NetworkTable`).
    pub networks: Vec<NetworkEntry>,
    /// Lets users omit `%host`.
    #[serde(default)]
    pub default_network: Option<String>,
    /// Extra CA certificates (PEM) per network host, for `+port` networks
    /// whose certificate a public CA did not sign.
    #[serde(default)]
    pub ca_files: HashMap<String, PathBuf>,
    /// Lines a connection may send at once before the rate applies.
    #[serde(default = "default_burst")]
    pub throttle_burst: u32,
    /// Lines a second after the burst; 0 turns throttling off.
    #[serde(default = "default_rate")]
    pub throttle_rate: f64,
    /// Seconds of silence before ferry pings an IRC server (and waits as
    /// long again for the answer).
    #[serde(default = "default_ping")]
    pub ping_interval: u64,
    /// Seconds between ISON polls on servers without MONITOR.
    #[serde(default = "default_poll")]
    pub presence_poll: u64,
    /// Channels a network's list may have (disco#items on its JID).
    #[serde(default = "default_list_max")]
    pub list_max: usize,
    /// Fetch files IRC contacts offer by DCC SEND (SPEC §8).
    #[serde(default)]
    pub dcc_receive: bool,
    /// Address ranges (CIDR) a DCC offer may point at besides public
    /// addresses, e.g. a LAN's.
    #[serde(default)]
    pub dcc_allow: Vec<String>,
    /// Where ferry's identd (RFC 1413) listens, e.g. `0.0.0.0:113`: it
    /// answers each connection's ident, and ERROR for others.
    #[serde(default)]
    pub identd: Option<String>,
}

/// One entry of `networks`, as written.
#[derive(Debug, Clone)]
pub enum NetworkEntry {
    Plain(String),
    Table(NetworkTable),
}

impl From<&str> for NetworkEntry {
    fn from(entry: &str) -> Self {
        NetworkEntry::Plain(entry.to_owned())
    }
}

/// The table form of a `networks` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkTable {
    pub host: String,
    /// 6667, or 6697 with TLS.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: bool,
    /// A file holding the network's WEBIRC password: each user connects
    /// with their own host and address (SPEC §10).
    #[serde(default)]
    pub webirc_password_file: Option<PathBuf>,
    /// Log in by SASL EXTERNAL with a client certificate ferry makes for
    /// each user (CertFP).
    #[serde(default)]
    pub sasl_external: bool,
    /// An address range (CIDR) each user's connection comes from: one
    /// stable address per user.
    #[serde(default)]
    pub bind: Option<String>,
    /// Extra CA certificates (PEM) for a server a public CA did not sign.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// A string, or a table: serde's untagged enums would lose the table's
/// own errors (an unknown key) in "did not match any variant".
impl<'de> Deserialize<'de> for NetworkEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = NetworkEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"host:port\" or a table { host = \"...\", ... }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NetworkEntry, E> {
                Ok(NetworkEntry::Plain(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<NetworkEntry, A::Error> {
                let table =
                    NetworkTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(NetworkEntry::Table(table))
            }
        }
        d.deserialize_any(Entry)
    }
}

fn default_list_max() -> usize {
    10_000
}

fn default_burst() -> u32 {
    10
}

fn default_rate() -> f64 {
    2.0
}

fn default_ping() -> u64 {
    120
}

fn default_poll() -> u64 {
    // 20: a registered nick freed just after a poll is taken back within
    // SPEC §3's 30 s, the answer and the NICK included.
    20
}

/// One entry of `networks`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// The WEBIRC password, read from its file.
    pub webirc: Option<Secret>,
    pub sasl_external: bool,
    pub bind: Option<ipnet::IpNet>,
    pub ca_file: Option<PathBuf>,
}

impl Network {
    /// Parses `host:port` / `host:+port`.
    pub fn parse(entry: &str) -> Result<Network, String> {
        let (host, port) = entry
            .rsplit_once(':')
            .ok_or_else(|| format!("network `{entry}` must be host:port or host:+port"))?;
        let (tls, port) = match port.strip_prefix('+') {
            Some(p) => (true, p),
            None => (false, port),
        };
        let port: u16 = port
            .parse()
            .map_err(|_| format!("network `{entry}` has a bad port `{port}`"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['%', '@', '/', ' ']) {
            return Err(format!("network `{entry}` has a bad host"));
        }
        Ok(Network {
            host: host.to_ascii_lowercase(),
            port,
            tls,
            ..Network::default()
        })
    }

    /// A table entry, its password file read.
    fn from_table(table: &NetworkTable) -> Result<Network, String> {
        let host = &table.host;
        let port = table.port.unwrap_or(if table.tls { 6697 } else { 6667 });
        let plain = Network::parse(&format!("{host}:{port}"))?;
        let webirc = match &table.webirc_password_file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "network `{host}`: webirc_password_file {}: {e}",
                        path.display()
                    )
                })?;
                let password = text.trim();
                if password.is_empty() || !crate::line::is_argument(password) {
                    return Err(format!(
                        "network `{host}`: webirc_password_file {} holds no usable password",
                        path.display()
                    ));
                }
                Some(Secret::new(password))
            }
        };
        if table.sasl_external && !table.tls {
            return Err(format!(
                "network `{host}`: sasl_external needs tls (the certificate goes in the TLS handshake)"
            ));
        }
        let bind = match &table.bind {
            None => None,
            Some(range) => Some(range.parse().map_err(|_| {
                format!("network `{host}`: bind `{range}` is not an address range (CIDR)")
            })?),
        };
        Ok(Network {
            tls: table.tls,
            webirc,
            sasl_external: table.sasl_external,
            bind,
            ca_file: table.ca_file.clone(),
            ..plain
        })
    }
}

/// The validated network list.
#[derive(Debug, Clone)]
pub struct Networks {
    pub all: Vec<Network>,
    pub default: Option<usize>,
}

impl Networks {
    pub fn from_config(config: &IrcConfig) -> Result<Networks, String> {
        if config.presence_poll == 0 || config.ping_interval == 0 {
            return Err("bridge.irc.presence_poll and ping_interval must be positive".into());
        }
        if !(config.throttle_rate >= 0.0 && config.throttle_rate.is_finite()) {
            return Err(
                "bridge.irc.throttle_rate must be a number of lines a second, 0 or more".into(),
            );
        }
        if config.networks.is_empty() {
            return Err("bridge.irc.networks must name at least one server".into());
        }
        let mut all: Vec<Network> = Vec::new();
        for entry in &config.networks {
            let network = match entry {
                NetworkEntry::Plain(entry) => Network::parse(entry)?,
                NetworkEntry::Table(table) => Network::from_table(table)?,
            };
            if all.iter().any(|n| n.host == network.host) {
                return Err(format!(
                    "bridge.irc.networks names host `{}` twice",
                    network.host
                ));
            }
            all.push(network);
        }
        let mut networks = Networks { all, default: None };
        if let Some(entry) = &config.default_network {
            let index = networks.position(entry).ok_or_else(|| {
                format!("bridge.irc.default_network `{entry}` is not one of networks")
            })?;
            networks.default = Some(index);
        }
        Ok(networks)
    }

    /// A network by its host (as used in JIDs) or `host:port` (a port
    /// other than its own names none).
    fn position(&self, name: &str) -> Option<usize> {
        let (host, port) = match Network::parse(name) {
            Ok(n) => (n.host, Some(n.port)),
            Err(_) => (name.to_ascii_lowercase(), None),
        };
        self.all
            .iter()
            .position(|n| n.host == host && port.is_none_or(|p| p == n.port))
    }

    pub fn find(&self, name: &str) -> Option<&Network> {
        self.position(name).map(|i| &self.all[i])
    }

    pub fn default_network(&self) -> Option<&Network> {
        self.default.map(|i| &self.all[i])
    }
}

#[cfg(test)]
impl IrcConfig {
    /// The defaults, with no networks.
    pub fn for_tests() -> IrcConfig {
        IrcConfig {
            networks: vec![],
            default_network: None,
            ca_files: HashMap::new(),
            throttle_burst: default_burst(),
            throttle_rate: default_rate(),
            ping_interval: default_ping(),
            presence_poll: default_poll(),
            list_max: default_list_max(),
            dcc_receive: false,
            dcc_allow: Vec::new(),
            identd: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(networks: &[&str], default: Option<&str>) -> IrcConfig {
        IrcConfig {
            networks: networks
                .iter()
                .map(|s| NetworkEntry::Plain(s.to_string()))
                .collect(),
            default_network: default.map(str::to_owned),
            ..IrcConfig::for_tests()
        }
    }

    #[test]
    fn parses_plain_and_tls_entries() {
        assert_eq!(
            Network::parse("irc.libera.chat:+6697").unwrap(),
            Network {
                host: "irc.libera.chat".into(),
                port: 6697,
                tls: true,
                ..Network::default()
            }
        );
        assert!(!Network::parse("127.0.0.1:6667").unwrap().tls);
        assert!(Network::parse("nohost").is_err());
        assert!(Network::parse("h:99999").is_err());
    }

    #[test]
    fn same_host_twice_is_an_error() {
        let err = Networks::from_config(&config(&["a:1", "a:+2"], None)).unwrap_err();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn default_must_be_listed() {
        assert!(Networks::from_config(&config(&["a:1"], Some("b:1"))).is_err());
        let n = Networks::from_config(&config(&["a:1", "b:2"], Some("b:2"))).unwrap();
        assert_eq!(n.default_network().unwrap().host, "b");
        assert_eq!(n.find("B").unwrap().port, 2);
        assert_eq!(n.find("b:2").unwrap().port, 2);
        assert!(n.find("b:3").is_none());
        // The default by its host alone.
        let n = Networks::from_config(&config(&["a:1", "b:2"], Some("B"))).unwrap();
        assert_eq!(n.default_network().unwrap().host, "b");
    }

    #[test]
    fn table_entries_carry_the_networks_policies() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("webirc");
        std::fs::write(&file, "s3cret\n").unwrap();
        let table = NetworkTable {
            host: "irc.example".into(),
            port: None,
            tls: true,
            webirc_password_file: Some(file),
            sasl_external: true,
            bind: Some("2001:db8::/64".into()),
            ca_file: None,
        };
        let mut irc = config(&["a:1"], Some("irc.example:6697"));
        irc.networks.push(NetworkEntry::Table(table.clone()));
        let n = Networks::from_config(&irc).unwrap();
        let net = n.default_network().unwrap();
        assert_eq!((net.port, net.tls, net.sasl_external), (6697, true, true));
        assert_eq!(net.webirc.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(net.bind, Some("2001:db8::/64".parse().unwrap()));
        // A bad range and a missing password file are named.
        let mut bad = config(&[], None);
        bad.networks = vec![NetworkEntry::Table(NetworkTable {
            bind: Some("nowhere".into()),
            ..table.clone()
        })];
        let err = Networks::from_config(&bad).unwrap_err();
        assert!(err.contains("bind `nowhere`"), "{err}");
        bad.networks = vec![NetworkEntry::Table(NetworkTable {
            webirc_password_file: Some(dir.path().join("none")),
            ..table
        })];
        let err = Networks::from_config(&bad).unwrap_err();
        assert!(err.contains("webirc_password_file"), "{err}");
    }
}
