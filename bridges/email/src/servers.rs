//! Mail server values (`host:port` or URLs with their TLS mode) and the
//! policy deciding which servers a user may make ferry connect to.

use std::net::IpAddr;

use crate::config::{EmailConfig, TlsMode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Smtp,
    Imap,
}

impl Protocol {
    /// (plain-with-STARTTLS scheme, implicit-TLS scheme, their default ports)
    fn schemes(self) -> (&'static str, &'static str, u16, u16) {
        match self {
            Protocol::Smtp => ("smtp", "smtps", 587, 465),
            Protocol::Imap => ("imap", "imaps", 143, 993),
        }
    }
}

/// Parses `host:port` (with `default_tls`) or `smtp://`, `smtps://`,
/// `imap://`, `imaps://` URLs, which carry their own TLS mode.
pub fn parse(value: &str, protocol: Protocol, default_tls: TlsMode) -> Result<Server, String> {
    let (plain, implicit, plain_port, implicit_port) = protocol.schemes();
    let (rest, tls, default_port) = match value.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case(plain) => {
            (rest, TlsMode::Starttls, Some(plain_port))
        }
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case(implicit) => {
            (rest, TlsMode::Implicit, Some(implicit_port))
        }
        Some((scheme, _)) => return Err(format!("`{scheme}://` is not a {plain} URL scheme")),
        None => (value, default_tls, None),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match (rest.rsplit_once(':'), default_port) {
        (Some((host, port)), _) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("`{value}` has a bad port"))?,
        ),
        (None, Some(port)) => (rest, port),
        (None, None) => return Err(format!("`{value}` must be host:port or a URL")),
    };
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return Err(format!("`{value}` has a bad host"));
    }
    Ok(Server {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
        port,
        tls,
    })
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Whether ferry may connect to `server`, checked on the resolved address
/// so that a name pointing at a private range is caught too.
pub async fn allowed(config: &EmailConfig, server: &Server) -> Result<(), String> {
    let configured = [config.smtp.as_str(), config.imap.as_str()]
        .into_iter()
        .filter_map(|v| {
            parse(v, Protocol::Smtp, config.tls)
                .or_else(|_| parse(v, Protocol::Imap, config.tls))
                .ok()
        })
        .any(|s| s.host == server.host && s.port == server.port);
    if configured
        || config
            .allow_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&server.host))
    {
        return Ok(());
    }
    if !config.deny_private {
        return Ok(());
    }
    let addrs = tokio::net::lookup_host((server.host.as_str(), server.port))
        .await
        .map_err(|e| format!("cannot resolve `{}`: {e}", server.host))?;
    for addr in addrs {
        if is_private(addr.ip()) {
            return Err(format!(
                "`{}` resolves to a loopback or private address, which this gateway refuses",
                server.host
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EmailConfig {
        EmailConfig {
            smtp: "127.0.0.1:2525".into(),
            imap: "127.0.0.1:1143".into(),
            tls: TlsMode::None,
            ca_file: None,
            trust: Default::default(),
            allow_hosts: vec![],
            deny_private: true,
            poll_interval: 30,
        }
    }

    #[test]
    fn urls_carry_their_mode() {
        let s = parse("smtps://mail.example.org", Protocol::Smtp, TlsMode::None).unwrap();
        assert_eq!((s.port, s.tls), (465, TlsMode::Implicit));
        let s = parse(
            "imap://mail.example.org:1143",
            Protocol::Imap,
            TlsMode::None,
        )
        .unwrap();
        assert_eq!((s.port, s.tls), (1143, TlsMode::Starttls));
        let s = parse("mail.example.org:25", Protocol::Smtp, TlsMode::None).unwrap();
        assert_eq!(s.tls, TlsMode::None);
        assert!(parse("imaps://x", Protocol::Smtp, TlsMode::None).is_err());
        assert!(parse("mail.example.org", Protocol::Smtp, TlsMode::None).is_err());
    }

    #[tokio::test]
    async fn private_addresses_refused_unless_configured() {
        let c = config();
        let configured = parse("127.0.0.1:2525", Protocol::Smtp, TlsMode::None).unwrap();
        assert!(allowed(&c, &configured).await.is_ok());
        let other = parse("127.0.0.1:25", Protocol::Smtp, TlsMode::None).unwrap();
        assert!(allowed(&c, &other).await.is_err());
        let mut open = config();
        open.allow_hosts = vec!["127.0.0.1".into()];
        assert!(allowed(&open, &other).await.is_ok());
    }
}
