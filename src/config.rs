//! ferry.toml, typed and validated. Unknown keys are errors so that a
//! typo never silently turns a setting off.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(#[from] config::ConfigError),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub xmpp: XmppConfig,
    pub store: StoreConfig,
    pub access: AccessConfig,
    #[serde(default)]
    pub bridge: Vec<BridgeConfig>,
    #[serde(default)]
    pub limits: crate::limits::LimitsConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub ha: HaConfig,
}

/// `[ha]`: the lease of hot standby on PostgreSQL (SPEC §5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaConfig {
    /// Seconds between renewals of the lease.
    #[serde(default = "default_renew")]
    pub renew: u64,
    /// Seconds a lease lasts unrenewed.
    #[serde(default = "default_lease")]
    pub lease: u64,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            renew: default_renew(),
            lease: default_lease(),
        }
    }
}

impl HaConfig {
    pub fn renew(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.renew)
    }

    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease)
    }

    pub fn lease_ms(&self) -> i64 {
        (self.lease * 1000) as i64
    }
}

fn default_renew() -> u64 {
    2
}

fn default_lease() -> u64 {
    8
}

/// `[metrics]`: where Prometheus may scrape ferry (SPEC §5).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `address:port` of the `/metrics` listener; off when absent.
    #[serde(default)]
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmppConfig {
    /// The XMPP server's component listener.
    pub host: String,
    pub port: u16,
    /// Seconds of silence on the link before ferry pings the server.
    #[serde(default = "default_keepalive")]
    pub keepalive: u64,
    /// Stanzas a link keeps for sending, across reconnects.
    #[serde(default = "default_link_queue")]
    pub queue: usize,
    /// Stanzas one user may have waiting in a link's queue before what
    /// they send is answered with `resource-constraint`.
    #[serde(default = "default_user_queue")]
    pub user_queue: usize,
}

fn default_keepalive() -> u64 {
    60
}

fn default_link_queue() -> usize {
    10_000
}

fn default_user_queue() -> usize {
    500
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (created if missing) or `postgres://…`.
    pub url: String,
    /// Base64 of the 32-byte key that encrypts foreign passwords.
    #[serde(default)]
    pub key: Option<String>,
    /// A file holding that key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Days room messages stay in users' archives.
    #[serde(default = "default_archive_days")]
    pub archive_days: u64,
    /// Messages kept per user and room, newest first.
    #[serde(default = "default_archive_rows")]
    pub archive_rows: u64,
}

fn default_archive_days() -> u64 {
    30
}

fn default_archive_rows() -> u64 {
    100_000
}

impl StoreConfig {
    /// A config for `url` with no key and the default retention.
    #[cfg(test)]
    pub fn for_url(url: String) -> StoreConfig {
        StoreConfig {
            url,
            key: None,
            key_file: None,
            archive_days: default_archive_days(),
            archive_rows: default_archive_rows(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// Bare JID domains whose users may use the gateway.
    pub allowed_domains: Vec<String>,
    #[serde(default)]
    pub admins: Vec<String>,
}

impl AccessConfig {
    pub fn allows_domain(&self, domain: &str) -> bool {
        self.allowed_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    pub fn is_admin(&self, bare_jid: &str) -> bool {
        self.admins.iter().any(|a| a.eq_ignore_ascii_case(bare_jid))
    }
}

/// A `[[bridge]]` entry. Its backend's section (`[bridge.<kind>]`) stays an
/// opaque table that the backend's crate reads and checks; `validate`
/// refuses any other key, so unknown keys are still errors.
#[derive(Debug, Clone, Deserialize)]
pub struct BridgeConfig {
    pub kind: String,
    /// The component JID.
    pub jid: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// The XMPP server's HTTP upload service (XEP-0363); when absent,
    /// looked for in disco#items of each allowed domain at link-up.
    #[serde(default)]
    pub upload: Option<String>,
    /// Bytes a file may have to be carried either way.
    #[serde(default = "default_max_attachment")]
    pub max_attachment: u64,
    /// Hosts whose links may be fetched for users, besides the upload
    /// service's.
    #[serde(default)]
    pub fetch_hosts: Vec<String>,
    /// Seconds a download or an upload may wait for the other side.
    #[serde(default = "default_fetch_timeout")]
    pub fetch_timeout: u64,
    #[serde(flatten)]
    pub sections: HashMap<String, config::Value>,
}

impl BridgeConfig {
    /// The component secret, from `secret` or `secret_file`.
    pub fn secret(&self) -> Result<String, ConfigError> {
        match (&self.secret, &self.secret_file) {
            (Some(s), None) => Ok(s.clone()),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                }),
            (Some(_), Some(_)) => Err(ConfigError::Invalid(format!(
                "bridge {}: give either secret or secret_file, not both",
                self.jid
            ))),
            (None, None) => Err(ConfigError::Invalid(format!(
                "bridge {}: secret (or secret_file) is required",
                self.jid
            ))),
        }
    }

    /// The backend section named after `kind`, if present.
    pub fn section(&self) -> Option<&config::Value> {
        self.sections.get(&self.kind)
    }

    /// How this bridge carries files.
    pub fn files(&self) -> Result<FilesConfig, ConfigError> {
        let upload =
            match &self.upload {
                Some(jid) => Some(xmpp_parsers::jid::Jid::new(jid).map_err(|e| {
                    ConfigError::Invalid(format!("bridge {}: upload: {e}", self.jid))
                })?),
                None => None,
            };
        if self.fetch_timeout == 0 {
            let text = format!("bridge {}: fetch_timeout must be at least 1", self.jid);
            return Err(ConfigError::Invalid(text));
        }
        Ok(FilesConfig {
            upload,
            max_attachment: self.max_attachment,
            fetch_hosts: self.fetch_hosts.clone(),
            timeout: std::time::Duration::from_secs(self.fetch_timeout),
        })
    }
}

fn default_max_attachment() -> u64 {
    25 * 1024 * 1024
}

fn default_fetch_timeout() -> u64 {
    30
}

/// How a bridge carries files (SPEC §8).
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// The upload service named in the config, else found by disco.
    pub upload: Option<xmpp_parsers::jid::Jid>,
    /// Bytes a file may have to be carried.
    pub max_attachment: u64,
    /// Hosts (besides the upload service's) whose links may be fetched.
    pub fetch_hosts: Vec<String>,
    /// How long a download or upload may wait for the other side.
    pub timeout: std::time::Duration,
}

/// Keys holding lists: the environment gives them comma-separated.
const LIST_KEYS: [&str; 2] = ["access.allowed_domains", "access.admins"];
const ENV_PREFIX: &str = "FERRY__";

impl Config {
    /// Loads `path`, then `FERRY__SECTION__KEY` overrides from `env`.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, env)
    }

    /// Reads the TOML `text`, then `FERRY__SECTION__KEY` overrides from
    /// `env`.
    pub fn parse(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        plain_keys(text)?;
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml));
        // Values stay strings (a secret "007" is not the number 7); the
        // typed structs parse numbers where they expect them. Only the
        // list keys get split, and only they.
        let mut scalars = HashMap::new();
        for (key, value) in env {
            let Some(rest) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            // The config crate reads a key as a path: `A[9999999]` would
            // be a list it fills up to that index (found by fuzzing: an
            // index of millions took gigabytes). Keys name fields only.
            if !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ConfigError::Invalid(format!(
                    "environment variable {key}: a key holds only letters, digits and _"
                )));
            }
            let dotted = rest.to_ascii_lowercase().replace("__", ".");
            if LIST_KEYS.contains(&dotted.as_str()) {
                let items: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                builder = builder.set_override(dotted, items)?;
            } else {
                scalars.insert(key, value);
            }
        }
        builder = builder.add_source(
            config::Environment::with_prefix("FERRY")
                .prefix_separator("__")
                .separator("__")
                .source(Some(scalars)),
        );
        let config: Config = builder.build()?.try_deserialize()?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.access.allowed_domains.is_empty() {
            return invalid("access.allowed_domains must name at least one domain".into());
        }
        for admin in &self.access.admins {
            if !admin.contains('@') || admin.contains('/') {
                return invalid(format!("access.admins: `{admin}` is not a bare JID"));
            }
        }
        if self.bridge.is_empty() {
            return invalid("no [[bridge]] configured".into());
        }
        let mut seen = Vec::new();
        for bridge in &self.bridge {
            if bridge.jid.is_empty() || bridge.jid.contains(['@', '/']) {
                return invalid(format!("bridge jid `{}` must be a bare domain", bridge.jid));
            }
            if seen.contains(&&bridge.jid) {
                return invalid(format!("bridge jid `{}` is configured twice", bridge.jid));
            }
            seen.push(&bridge.jid);
            if let Some(other) = bridge.sections.keys().find(|k| **k != bridge.kind) {
                return invalid(format!(
                    "bridge {}: unknown key `bridge.{other}` (a bridge of kind `{}` \
                     has its settings under [bridge.{}])",
                    bridge.jid, bridge.kind, bridge.kind
                ));
            }
            bridge.secret()?;
        }
        self.limits.validate().map_err(ConfigError::Invalid)?;
        if self.ha.renew == 0 || self.ha.lease <= self.ha.renew || self.ha.lease > 3600 {
            return invalid(format!(
                "ha.renew ({}) must be at least 1 and less than ha.lease ({}, at most 3600)",
                self.ha.renew, self.ha.lease
            ));
        }
        if let Some(listen) = &self.metrics.listen {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                return invalid(format!(
                    "metrics.listen: `{listen}` is not an address:port (e.g. 127.0.0.1:9100)"
                ));
            }
        }
        if self.xmpp.queue == 0 || self.xmpp.user_queue == 0 || self.xmpp.keepalive == 0 {
            return invalid(
                "xmpp.queue, xmpp.user_queue and xmpp.keepalive must be positive".into(),
            );
        }
        Ok(())
    }
}

/// The config crate reads a key as a path: a quoted TOML key such as
/// `"a[70000000000]"` would be a list it fills up to that index (found by
/// fuzzing: a capacity overflow, a panic). No key of the file may hold `[`
/// or `]` (dots may: `ca_files` is keyed by server names).
fn plain_keys(text: &str) -> Result<(), ConfigError> {
    // A file TOML cannot read is the config crate's to report.
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(());
    };
    let mut tables = vec![(String::new(), &table)];
    while let Some((path, table)) = tables.pop() {
        for (key, value) in table {
            if key.contains(['[', ']']) {
                return Err(ConfigError::Invalid(format!(
                    "key `{path}{key}`: a key may not hold `[` or `]`"
                )));
            }
            let inner = match value {
                toml::Value::Table(t) => vec![t],
                toml::Value::Array(items) => items.iter().filter_map(|i| i.as_table()).collect(),
                _ => Vec::new(),
            };
            tables.extend(inner.into_iter().map(|t| (format!("{path}{key}."), t)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample config: the SPEC's minimal shape plus commented defaults.
    const MINIMAL: &str = include_str!("../deploy/ferry.toml");

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(
            &path,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn minimal_config_loads() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.xmpp.port, 5347);
        assert_eq!(c.bridge.len(), 2);
        assert_eq!(c.bridge[0].secret().unwrap(), "irc-secret");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace("port = 5347", "port = 5347\nprot = 1");
        let err = load(&text, &[]).unwrap_err().to_string();
        assert!(err.contains("prot"), "{err}");
    }

    #[test]
    fn metrics_listen_is_an_address() {
        let text = format!("{MINIMAL}\n[metrics]\nlisten = \"localhost\"\n");
        let err = load(&text, &[]).unwrap_err().to_string();
        assert!(err.contains("metrics.listen"), "{err}");
        let env = [("FERRY__METRICS__LISTEN", "127.0.0.1:9100")];
        let config = load(MINIMAL, &env).unwrap();
        assert_eq!(config.metrics.listen.as_deref(), Some("127.0.0.1:9100"));
    }

    #[test]
    fn env_keys_are_names_not_paths() {
        let err = load(MINIMAL, &[("FERRY__XMPP__QUEUE[6676666]", "1")]).unwrap_err();
        assert!(
            err.to_string().contains("FERRY__XMPP__QUEUE[6676666]"),
            "{err}"
        );
    }

    #[test]
    fn file_keys_are_names_not_paths() {
        // The fuzzer's find: a quoted key the config crate took for a list
        // index of 7·10^21.
        for key in ["\"ac[00007000000000000000003]\"", "\"a]\""] {
            let text = format!("{MINIMAL}\n[{key}]\nx = 1\n");
            let err = load(&text, &[]).unwrap_err();
            assert!(err.to_string().contains("may not hold"), "{key}: {err}");
        }
        let nested = format!("{MINIMAL}\n[xmpp.\"q[9]\"]\n");
        assert!(load(&nested, &[])
            .unwrap_err()
            .to_string()
            .contains("xmpp.q[9]"));
        assert!(load(MINIMAL, &[]).is_ok());
    }

    #[test]
    fn env_overrides_keep_strings_strings() {
        let c = load(
            MINIMAL,
            &[
                ("FERRY__XMPP__HOST", "10.1.2.3"),
                ("FERRY__XMPP__PORT", "6000"),
                ("FERRY__STORE__KEY", "007"),
                ("FERRY__ACCESS__ALLOWED_DOMAINS", "a.example, b.example"),
                ("OTHER__XMPP__PORT", "1"),
            ],
        )
        .unwrap();
        assert_eq!(c.xmpp.host, "10.1.2.3");
        assert_eq!(c.xmpp.port, 6000);
        assert_eq!(c.store.key.as_deref(), Some("007"));
        assert_eq!(c.access.allowed_domains, ["a.example", "b.example"]);
    }

    #[test]
    fn secret_file_is_read_and_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("s");
        std::fs::write(&secret, "007\n").unwrap();
        let text = MINIMAL.replace(
            "secret = \"irc-secret\"",
            &format!("secret_file = {:?}", secret.display().to_string()),
        );
        let c = load(&text, &[]).unwrap();
        assert_eq!(c.bridge[0].secret().unwrap(), "007");
        let both = MINIMAL.replace(
            "secret = \"irc-secret\"",
            &format!(
                "secret = \"x\"\nsecret_file = {:?}",
                secret.display().to_string()
            ),
        );
        assert!(load(&both, &[]).is_err());
    }

    #[test]
    fn duplicate_bridge_jid_and_misplaced_section() {
        let dup = MINIMAL.replace("jid = \"mail.localhost\"", "jid = \"irc.localhost\"");
        assert!(load(&dup, &[]).unwrap_err().to_string().contains("twice"));
        let wrong = MINIMAL.replace("[bridge.email]", "[bridge.irc]");
        let err = load(&wrong, &[]).unwrap_err().to_string();
        assert!(err.contains("bridge.irc"), "{err}");
        let typo = MINIMAL.replace(
            "secret = \"irc-secret\"",
            "secret = \"irc-secret\"\nsecrte = 1",
        );
        let err = load(&typo, &[]).unwrap_err().to_string();
        assert!(err.contains("bridge.secrte"), "{err}");
    }
}
