//! A network's policies for each user's connection (SPEC §10): the
//! address it comes from (`bind`), and what WEBIRC tells the server of
//! the user. Both are stable: derived from the user's JID, so a
//! reconnect comes from the same address and a ban on it holds.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use ferry_bridge::Secret;
use ipnet::IpNet;
use sha2::{Digest, Sha256};

use crate::config::Network;

/// The WEBIRC line's parts: the server shows `ip` for the user (and
/// `hostname` where it trusts the gateway's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webirc {
    pub password: Secret,
    pub hostname: String,
    pub ip: IpAddr,
}

/// Where a user's connection comes from, and what it tells the server
/// of them before logging in.
#[derive(Default)]
pub struct Origin {
    /// The local address to connect from.
    pub source: Option<IpAddr>,
    pub webirc: Option<Webirc>,
    /// Where the connection's ident is told (ferry's identd).
    pub idents: Option<Arc<crate::identd::Idents>>,
}

impl Origin {
    /// `user`'s (a bare JID) origin on `network`.
    pub fn of(network: &Network, user: &str, idents: Option<Arc<crate::identd::Idents>>) -> Origin {
        let source = network.bind.as_ref().map(|range| address_in(range, user));
        Origin {
            source,
            webirc: network.webirc.as_ref().map(|pw| webirc(pw, user, source)),
            idents,
        }
    }
}

/// What names ferry as the gateway in WEBIRC.
pub const GATEWAY: &str = "ferry";

fn hash(user: &str) -> u128 {
    let digest = Sha256::digest(user.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(bytes)
}

/// The user's address in `range`, never the range's own network or
/// broadcast address when it has others.
pub fn address_in(range: &IpNet, user: &str) -> IpAddr {
    let bits = u32::from(range.max_prefix_len() - range.prefix_len());
    let size = 1u128.checked_shl(bits).unwrap_or(0);
    let offset = match size {
        // A /0 of IPv6: every address is the range's.
        0 => hash(user),
        1 | 2 => hash(user) % size,
        _ => 1 + hash(user) % (size - 2),
    };
    match range.network() {
        IpAddr::V4(base) => {
            let base = u32::from(base) as u128;
            IpAddr::V4(((base + offset) as u32).into())
        }
        IpAddr::V6(base) => IpAddr::V6(u128::from(base).wrapping_add(offset).into()),
    }
}

/// An address that stands for the user where no `bind` range is set: a
/// unique local IPv6 address (fd00::/8), which routes nowhere.
pub fn pseudo_address(user: &str) -> IpAddr {
    let low = hash(user) & !(0xff << 120);
    IpAddr::V6(Ipv6Addr::from((0xfd << 120) | low))
}

/// WEBIRC for `user` (a bare JID) on a network with a password: their
/// XMPP domain as the host, their address as the IP.
pub fn webirc(password: &Secret, user: &str, source: Option<IpAddr>) -> Webirc {
    let domain = user.rsplit_once('@').map_or(user, |(_, d)| d);
    Webirc {
        password: password.clone(),
        hostname: domain.to_owned(),
        ip: source.unwrap_or_else(|| pseudo_address(user)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn webirc_names_the_users_domain_and_a_stable_address() {
        let password = Secret::new("pw");
        let alice = webirc(&password, "alice@example.org", None);
        assert_eq!(alice.hostname, "example.org");
        assert_eq!(alice, webirc(&password, "alice@example.org", None));
        assert_ne!(alice.ip, webirc(&password, "bob@example.org", None).ip);
        let IpAddr::V6(ip) = alice.ip else { panic!() };
        assert_eq!(ip.octets()[0], 0xfd);
        let bound = "127.0.0.5".parse().unwrap();
        assert_eq!(
            webirc(&password, "alice@example.org", Some(bound)).ip,
            bound
        );
    }

    proptest! {
        /// Every user's address is inside the range, and is not its
        /// network or broadcast address.
        #[test]
        fn addresses_stay_in_their_range(user in ".{1,40}", prefix in 0u8..=32, v6 in 0u8..=128) {
            let v4: IpNet = format!("10.1.2.3/{prefix}").parse::<IpNet>().unwrap().trunc();
            let ip = address_in(&v4, &user);
            prop_assert!(v4.contains(&ip));
            if prefix < 31 {
                prop_assert!(ip != v4.network() && ip != v4.broadcast());
            }
            let range: IpNet = format!("2001:db8::/{v6}").parse::<IpNet>().unwrap().trunc();
            prop_assert!(range.contains(&address_in(&range, &user)));
        }
    }
}
