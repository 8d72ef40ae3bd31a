//! biboumi-compatible addressing: `nick%host`, `#chan%host`, `host`.

use ferry_bridge::{Address, AddressError, AddressKind};

use crate::config::Networks;
use crate::isupport::DEFAULT_CHANTYPES;

pub fn parse(networks: &Networks, localpart: &str) -> Result<Address, AddressError> {
    if localpart.is_empty() {
        return Err(AddressError::Malformed("empty address".into()));
    }
    if let Some((name, host)) = localpart.rsplit_once('%') {
        let network = networks.find(host).ok_or_else(|| {
            AddressError::Unknown(format!("`{host}` is not a network of this gateway"))
        })?;
        return named(&network.host, name);
    }
    if let Some(network) = networks.find(localpart) {
        if !localpart.starts_with(|c| DEFAULT_CHANTYPES.contains(c)) {
            return Ok(Address::network(&network.host));
        }
    }
    let network = networks
        .default_network()
        .ok_or_else(|| AddressError::Unknown("no default network: write name%server".into()))?;
    named(&network.host, localpart)
}

fn named(host: &str, name: &str) -> Result<Address, AddressError> {
    if name.is_empty() {
        return Err(AddressError::Malformed("empty nick or channel".into()));
    }
    if name.len() > crate::fit::NAME_MAX {
        // No IRC line could carry it (with a message after it).
        return Err(AddressError::Malformed(format!(
            "an IRC name is at most {} bytes",
            crate::fit::NAME_MAX
        )));
    }
    if name.contains(|c: char| c == ' ' || c == ',' || c.is_control()) {
        return Err(AddressError::Malformed(format!(
            "`{name}` is not an IRC name"
        )));
    }
    if name.starts_with(|c| DEFAULT_CHANTYPES.contains(c)) {
        Ok(Address::room(Some(host), name))
    } else if name.contains(['!', '@', '*', '?']) {
        Err(AddressError::Malformed(format!(
            "`{name}` is not an IRC nick"
        )))
    } else {
        Ok(Address::contact(Some(host), name))
    }
}

pub fn format(address: &Address) -> String {
    match (address.kind, &address.network) {
        (AddressKind::Network, Some(host)) => host.clone(),
        (_, Some(host)) => format!("{}%{}", address.name, host),
        (_, None) => address.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IrcConfig;

    fn networks() -> Networks {
        Networks::from_config(&IrcConfig {
            networks: vec!["127.0.0.1:6667".into(), "irc.libera.chat:+6697".into()],
            default_network: Some("127.0.0.1:6667".into()),
            ..IrcConfig::for_tests()
        })
        .unwrap()
    }

    #[test]
    fn splits_at_the_last_percent() {
        let a = parse(&networks(), "a%b%irc.libera.chat").unwrap();
        assert_eq!(a, Address::contact(Some("irc.libera.chat"), "a%b"));
    }

    #[test]
    fn channels_nicks_and_networks() {
        let n = networks();
        assert_eq!(
            parse(&n, "#rust%irc.libera.chat").unwrap(),
            Address::room(Some("irc.libera.chat"), "#rust")
        );
        assert_eq!(
            parse(&n, "#rust").unwrap(),
            Address::room(Some("127.0.0.1"), "#rust")
        );
        assert_eq!(
            parse(&n, "alice").unwrap(),
            Address::contact(Some("127.0.0.1"), "alice")
        );
        assert_eq!(
            parse(&n, "irc.libera.chat").unwrap(),
            Address::network("irc.libera.chat")
        );
    }

    #[test]
    fn names_no_line_could_carry_are_malformed() {
        let n = networks();
        let long = format!("#{}", "c".repeat(crate::fit::NAME_MAX));
        assert!(matches!(parse(&n, &long), Err(AddressError::Malformed(_))));
        assert!(parse(&n, &long[1..]).is_ok());
    }

    #[test]
    fn unknown_network_and_bad_names() {
        let n = networks();
        assert!(matches!(
            parse(&n, "bob%evil.example"),
            Err(AddressError::Unknown(_))
        ));
        assert!(matches!(
            parse(&n, "%127.0.0.1"),
            Err(AddressError::Malformed(_))
        ));
        assert!(matches!(parse(&n, "a b"), Err(AddressError::Malformed(_))));
        assert!(matches!(parse(&n, ""), Err(AddressError::Malformed(_))));
    }

    #[test]
    fn format_round_trips() {
        let n = networks();
        for local in [
            "alice%127.0.0.1",
            "#rust%irc.libera.chat",
            "irc.libera.chat",
        ] {
            assert_eq!(format(&parse(&n, local).unwrap()), local);
        }
    }
}
