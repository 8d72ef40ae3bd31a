//! The backends ferry knows. Adding one: its crate, a workspace line, and
//! a line in `BACKENDS`.

use std::sync::Arc;

use ferry_bridge::Bridge;
use serde::de::DeserializeOwned;

use crate::config::{BridgeConfig, ConfigError};

/// How a backend is built from its own config section.
type Build = fn(config::Value) -> Result<Arc<dyn Bridge>, String>;

/// Every backend, by config kind.
const BACKENDS: &[(&str, Build)] = &[
    ("irc", |s| backend(s, ferry_irc::IrcBridge::new)),
    ("email", |s| backend(s, ferry_email::EmailBridge::new)),
];

/// Reads a backend's section as its own config type (which names unknown
/// keys), then builds the backend from it.
fn backend<C: DeserializeOwned, B: Bridge>(
    section: config::Value,
    new: fn(&C) -> Result<B, String>,
) -> Result<Arc<dyn Bridge>, String> {
    let config: C = section.try_deserialize().map_err(|e| e.to_string())?;
    Ok(Arc::new(new(&config)?))
}

/// Builds the backend a `[[bridge]]` entry names, checking its section.
pub fn build(config: &BridgeConfig) -> Result<Arc<dyn Bridge>, ConfigError> {
    let kind = config.kind.as_str();
    let Some((_, build)) = BACKENDS.iter().find(|(k, _)| *k == kind) else {
        let known: Vec<&str> = BACKENDS.iter().map(|(k, _)| *k).collect();
        return Err(ConfigError::Invalid(format!(
            "bridge {}: unknown bridge kind `{kind}` (known: {})",
            config.jid,
            known.join(", ")
        )));
    };
    let section = config.section().cloned().ok_or_else(|| {
        ConfigError::Invalid(format!("bridge {}: [bridge.{kind}] is missing", config.jid))
    })?;
    build(section)
        .map_err(|e| ConfigError::Invalid(format!("bridge {} [bridge.{kind}]: {e}", config.jid)))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn unknown_key_in_backend_section_is_named_by_backend() {
        let sample = include_str!("../deploy/ferry.toml");
        let text = sample.replace("tls = \"none\"", "tls = \"none\"\nsmpt = \"x\"");
        let config = Config::parse(&text, std::iter::empty()).unwrap();
        let Err(err) = super::build(&config.bridge[1]) else {
            panic!("a misspelt key was taken");
        };
        // The whole path: which bridge, which section, which key.
        let err = err.to_string();
        let path = format!("bridge {} [bridge.email]", config.bridge[1].jid);
        assert!(err.contains(&path) && err.contains("smpt"), "{err}");
    }

    #[test]
    fn networks_may_be_tables_with_their_policies() {
        let sample = include_str!("../deploy/ferry.toml");
        let table = r#"networks = ["127.0.0.1:6667", { host = "irc.example.org", tls = true, bind = "127.0.0.0/8" }]"#;
        let text = sample.replace(r#"networks = ["127.0.0.1:6667"]"#, table);
        let config = Config::parse(&text, std::iter::empty()).unwrap();
        let bridge = super::build(&config.bridge[0]).unwrap();
        let names: Vec<String> = bridge.directory().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["127.0.0.1", "irc.example.org"]);
        // The table's own keys are checked, and named.
        let text = sample.replace(
            r#"networks = ["127.0.0.1:6667"]"#,
            r#"networks = [{ host = "irc.example.org", bnid = "127.0.0.0/8" }]"#,
        );
        let config = Config::parse(&text, std::iter::empty()).unwrap();
        let Err(err) = super::build(&config.bridge[0]) else {
            panic!("a misspelt key was taken");
        };
        assert!(err.to_string().contains("bnid"), "{err}");
    }
}
