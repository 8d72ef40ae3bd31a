use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `[bridge.irc]` as written in ferry.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrcConfig {
    /// Servers users may reach: `host:port`, or `host:+port` for TLS.
    pub networks: Vec<String>,
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
    30
}

/// One entry of `networks`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub host: String,
    pub port: u16,
    pub tls: bool,
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
            let network = Network::parse(entry)?;
            if all.iter().any(|n| n.host == network.host) {
                return Err(format!(
                    "bridge.irc.networks names host `{}` twice",
                    network.host
                ));
            }
            all.push(network);
        }
        let default = match &config.default_network {
            None => None,
            Some(entry) => {
                let wanted = Network::parse(entry)?;
                let index = all.iter().position(|n| *n == wanted).ok_or_else(|| {
                    format!("bridge.irc.default_network `{entry}` is not one of networks")
                })?;
                Some(index)
            }
        };
        Ok(Networks { all, default })
    }

    /// Finds a network by its host (as used in JIDs) or by its full entry.
    pub fn find(&self, name: &str) -> Option<&Network> {
        let host = Network::parse(name)
            .map(|n| n.host)
            .unwrap_or_else(|_| name.to_ascii_lowercase());
        self.all.iter().find(|n| n.host == host)
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(networks: &[&str], default: Option<&str>) -> IrcConfig {
        IrcConfig {
            networks: networks.iter().map(|s| s.to_string()).collect(),
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
                tls: true
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
    }
}
