//! IRCv3 capabilities (ircv3.net/specs/extensions/capability-negotiation):
//! the ones ferry asks for when a server offers them (SPEC §9), as a set
//! of bits a connection keeps, and what `CAP NEW`/`DEL`/`ACK` lines do to
//! that set once registered (`cap-notify`).

/// A capability ferry uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Sasl,
    ServerTime,
    MessageTags,
    EchoMessage,
    Batch,
    LabeledResponse,
    AwayNotify,
    AccountNotify,
    ExtendedJoin,
    MultiPrefix,
    Chghost,
    InviteNotify,
    Setname,
    Notify,
    Chathistory,
    DraftChathistory,
    MessageRedaction,
}

/// Each capability with its name on the wire.
const NAMES: [(Cap, &str); 17] = [
    (Cap::Sasl, "sasl"),
    (Cap::ServerTime, "server-time"),
    (Cap::MessageTags, "message-tags"),
    (Cap::EchoMessage, "echo-message"),
    (Cap::Batch, "batch"),
    (Cap::LabeledResponse, "labeled-response"),
    (Cap::AwayNotify, "away-notify"),
    (Cap::AccountNotify, "account-notify"),
    (Cap::ExtendedJoin, "extended-join"),
    (Cap::MultiPrefix, "multi-prefix"),
    (Cap::Chghost, "chghost"),
    (Cap::InviteNotify, "invite-notify"),
    (Cap::Setname, "setname"),
    (Cap::Notify, "cap-notify"),
    (Cap::Chathistory, "chathistory"),
    (Cap::DraftChathistory, "draft/chathistory"),
    (Cap::MessageRedaction, "draft/message-redaction"),
];

impl Cap {
    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    fn named(name: &str) -> Option<Cap> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(cap, _)| *cap)
    }
}

/// A set of capabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps(u32);

impl Caps {
    pub fn has(self, cap: Cap) -> bool {
        self.0 & cap.bit() != 0
    }

    pub fn with(self, cap: Cap) -> Caps {
        Caps(self.0 | cap.bit())
    }

    pub fn without(self, cap: Cap) -> Caps {
        Caps(self.0 & !cap.bit())
    }

    pub fn union(self, other: Caps) -> Caps {
        Caps(self.0 | other.0)
    }

    pub fn minus(self, other: Caps) -> Caps {
        Caps(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The capabilities we know in a CAP list (`name` or `name=value`
    /// each, as LS 302, NEW and DEL give them; `-name` in an ACK, a
    /// removal, is not among them).
    pub fn listed(list: &str) -> Caps {
        list.split_whitespace()
            .filter_map(|entry| Cap::named(entry.split('=').next().unwrap_or(entry)))
            .fold(Caps::default(), Caps::with)
    }

    /// The capabilities an ACK list turns off (`-name`).
    pub fn removed(list: &str) -> Caps {
        list.split_whitespace()
            .filter_map(|entry| entry.strip_prefix('-'))
            .filter_map(Cap::named)
            .fold(Caps::default(), Caps::with)
    }

    /// Space-separated names, in our order (a CAP REQ's list).
    pub fn names(self) -> String {
        NAMES
            .iter()
            .filter(|(cap, _)| self.has(*cap))
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What to ask for of `offered`: all we use but SASL, which the
    /// login asks for only with a password the server can take.
    pub fn wanted(offered: Caps) -> Caps {
        let wanted = offered.without(Cap::Sasl);
        // Both chathistory names offered: the ratified one.
        if wanted.has(Cap::Chathistory) {
            return wanted.without(Cap::DraftChathistory);
        }
        wanted
    }

    /// A chathistory capability, by either name.
    pub fn chathistory(self) -> bool {
        self.has(Cap::Chathistory) || self.has(Cap::DraftChathistory)
    }
}

/// Whether an LS list has a SASL capability (`sasl` or `sasl=MECH,…`).
pub fn lists_sasl(list: &str) -> bool {
    list.split_whitespace()
        .any(|entry| entry == "sasl" || entry.starts_with("sasl="))
}

/// Whether a SASL capability (`sasl` or `sasl=MECH,…`) in an LS list takes
/// the mechanism `mech` (`PLAIN`, `EXTERNAL`).
pub fn offers_sasl(list: &str, mech: &str) -> bool {
    list.split_whitespace().any(|entry| {
        entry == "sasl"
            || entry
                .strip_prefix("sasl=")
                .is_some_and(|mechs| mechs.split(',').any(|m| m == mech))
    })
}

/// What a `CAP` line does to a registered connection's capabilities
/// (`cap-notify`): the new set, and the REQ to send for ones offered
/// anew. `sub` is the subcommand, `list` its last argument.
pub fn notify(enabled: Caps, sub: &str, list: &str) -> (Caps, Option<String>) {
    match sub {
        "NEW" => {
            let ask = Caps::wanted(Caps::listed(list)).minus(enabled);
            let req = (!ask.is_empty()).then(|| format!("CAP REQ :{}", ask.names()));
            (enabled, req)
        }
        "DEL" => (enabled.minus(Caps::listed(list)), None),
        "ACK" => (
            enabled.minus(Caps::removed(list)).union(Caps::listed(list)),
            None,
        ),
        _ => (enabled, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_enum() {
        for (i, (cap, name)) in NAMES.iter().enumerate() {
            assert_eq!(*cap as usize, i);
            assert_eq!(Cap::named(name), Some(*cap));
        }
    }

    #[test]
    fn listed_takes_values_and_skips_unknown() {
        let caps = Caps::listed("sasl=PLAIN,EXTERNAL server-time foo/bar draft/chathistory=1");
        assert!(caps.has(Cap::Sasl));
        assert!(caps.has(Cap::ServerTime));
        assert!(caps.has(Cap::DraftChathistory));
        assert!(!caps.has(Cap::Batch));
        assert_eq!(caps.names(), "sasl server-time draft/chathistory");
    }

    #[test]
    fn wanted_leaves_sasl_to_the_login() {
        let offered = Caps::listed("sasl echo-message chathistory draft/chathistory");
        let wanted = Caps::wanted(offered);
        assert_eq!(wanted.names(), "echo-message chathistory");
        assert!(wanted.chathistory());
    }

    #[test]
    fn sasl_plain_offers() {
        assert!(offers_sasl("multi-prefix sasl", "PLAIN"));
        assert!(offers_sasl("sasl=EXTERNAL,PLAIN", "PLAIN"));
        assert!(!offers_sasl("sasl=EXTERNAL", "PLAIN"));
        assert!(offers_sasl("sasl=EXTERNAL", "EXTERNAL"));
        assert!(!offers_sasl("sasl-foo", "PLAIN"));
        assert!(lists_sasl("a sasl=EXTERNAL") && lists_sasl("sasl") && !lists_sasl("sasl-foo"));
    }

    /// The cap-notify spec's exchange: NEW is asked for, DEL drops, ACK
    /// enables (and `-name` in an ACK disables).
    #[test]
    fn cap_notify() {
        let enabled = Caps::listed("server-time cap-notify");
        let (same, req) = notify(enabled, "NEW", "batch sasl=PLAIN unknown server-time");
        assert_eq!(same, enabled);
        assert_eq!(req.as_deref(), Some("CAP REQ :batch"));
        let (now, _) = notify(enabled, "ACK", "batch");
        assert!(now.has(Cap::Batch));
        let (now, req) = notify(now, "DEL", "batch");
        assert!(!now.has(Cap::Batch) && req.is_none());
        let (now, _) = notify(now, "ACK", "-server-time");
        assert!(!now.has(Cap::ServerTime));
        assert_eq!(notify(now, "NEW", "unknown").1, None);
    }
}
