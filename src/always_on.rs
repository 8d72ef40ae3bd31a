//! Always-on (SPEC §7): which of a user's networks and channels stay up
//! while the user has no available resource. Plain state the gateway
//! holds: loaded when a session starts, changed by the settings command.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use xmpp_parsers::jid::BareJid;

/// The registration field that makes a network always-on.
pub const FIELD: &str = "persistent";

/// The per-user state key holding the channels set on their own.
pub const CHANNELS_KEY: &str = "always_on_channels";

/// One user's settings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Networks whose registration says `persistent`.
    pub networks: HashSet<String>,
    /// Channels set on their own, by room key: over their network's.
    pub channels: BTreeMap<String, bool>,
}

impl Settings {
    /// Whether the room stays joined: its own setting, else its network's.
    pub fn room(&self, network: Option<&str>, room_key: &str) -> bool {
        match self.channels.get(room_key) {
            Some(own) => *own,
            None => network.is_some_and(|n| self.networks.contains(n)),
        }
    }

    /// Channel settings as stored; nothing for what does not parse.
    pub fn parse_channels(text: &str) -> BTreeMap<String, bool> {
        serde_json::from_str(text).unwrap_or_default()
    }
}

#[derive(Default)]
pub struct AlwaysOn(Mutex<HashMap<BareJid, Settings>>);

impl AlwaysOn {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BareJid, Settings>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, user: &BareJid, settings: Settings) {
        let mut all = self.lock();
        if settings == Settings::default() {
            all.remove(user);
        } else {
            all.insert(user.clone(), settings);
        }
    }

    pub fn get(&self, user: &BareJid) -> Settings {
        self.lock().get(user).cloned().unwrap_or_default()
    }

    pub fn room(&self, user: &BareJid, network: Option<&str>, room_key: &str) -> bool {
        self.lock()
            .get(user)
            .is_some_and(|s| s.room(network, room_key))
    }

    /// Whether a network of the user is always-on: their session outlives
    /// their resources even with no room joined.
    pub fn keeps_session(&self, user: &BareJid) -> bool {
        self.lock()
            .get(user)
            .is_some_and(|s| !s.networks.is_empty())
    }

    /// Whether anything of the user's is always-on: a network, or a
    /// channel on its own.
    pub fn any(&self, user: &BareJid) -> bool {
        self.lock()
            .get(user)
            .is_some_and(|s| !s.networks.is_empty() || s.channels.values().any(|on| *on))
    }

    pub fn forget(&self, user: &BareJid) {
        self.lock().remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_setting_overrides_its_network() {
        let mut s = Settings::default();
        s.networks.insert("irc.example".into());
        assert!(s.room(Some("irc.example"), "#a%irc.example@gw"));
        assert!(!s.room(Some("other"), "#a%other@gw"));
        s.channels.insert("#a%irc.example@gw".into(), false);
        s.channels.insert("#b%other@gw".into(), true);
        assert!(!s.room(Some("irc.example"), "#a%irc.example@gw"));
        assert!(s.room(Some("other"), "#b%other@gw"));
        let back = Settings::parse_channels(&serde_json::to_string(&s.channels).unwrap());
        assert_eq!(back, s.channels);
        assert!(Settings::parse_channels("not json").is_empty());
    }
}
