//! The backends ferry knows, by config kind.

use std::sync::Arc;

use ferry_bridge::Bridge;

use crate::config::{BridgeConfig, ConfigError};

pub const KINDS: [&str; 2] = ["irc", "email"];

/// Builds the backend a `[[bridge]]` entry names, checking its section.
pub fn build(config: &BridgeConfig) -> Result<Arc<dyn Bridge>, ConfigError> {
    let section = |name: &str| {
        config.section().cloned().ok_or_else(|| {
            ConfigError::Invalid(format!("bridge {}: [bridge.{name}] is missing", config.jid))
        })
    };
    let wrap = |e: String| ConfigError::Invalid(format!("bridge {}: {e}", config.jid));
    let wrap_cfg = |e: config::ConfigError| {
        ConfigError::Invalid(format!(
            "bridge {} [bridge.{}]: {e}",
            config.jid, config.kind
        ))
    };
    match config.kind.as_str() {
        "irc" => {
            let section: ferry_irc::IrcConfig =
                section("irc")?.try_deserialize().map_err(wrap_cfg)?;
            Ok(Arc::new(ferry_irc::IrcBridge::new(&section).map_err(wrap)?))
        }
        "email" => {
            let section: ferry_email::EmailConfig =
                section("email")?.try_deserialize().map_err(wrap_cfg)?;
            Ok(Arc::new(
                ferry_email::EmailBridge::new(&section).map_err(wrap)?,
            ))
        }
        other => Err(ConfigError::Invalid(format!(
            "bridge {}: unknown bridge kind `{other}` (known: {})",
            config.jid,
            KINDS.join(", ")
        ))),
    }
}
