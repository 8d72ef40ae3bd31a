use std::path::PathBuf;

use serde::Deserialize;

use crate::tls::Trust;

/// `[bridge.email]` as written in ferry.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Default submission server, `host:port` or a URL.
    pub smtp: String,
    /// Default IMAP server, `host:port` or a URL.
    pub imap: String,
    /// TLS mode for `host:port` values: none | starttls | implicit.
    #[serde(default = "default_tls")]
    pub tls: TlsMode,
    /// A PEM file of CAs trusted besides the public ones (mail servers
    /// under an internal CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// What `ca_file` makes, built when the bridge starts.
    #[serde(skip)]
    pub(crate) trust: Trust,
    /// Hosts users may name besides the configured ones.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Refuse user-named servers that resolve to loopback/private ranges.
    #[serde(default = "default_true")]
    pub deny_private: bool,
    /// Seconds between INBOX checks on servers without IMAP IDLE.
    #[serde(default = "default_poll")]
    pub poll_interval: u64,
}

fn default_poll() -> u64 {
    30
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    Starttls,
    Implicit,
}

fn default_tls() -> TlsMode {
    TlsMode::Starttls
}

fn default_true() -> bool {
    true
}
