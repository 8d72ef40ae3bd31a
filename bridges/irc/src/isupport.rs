//! What a server told us in RPL_ISUPPORT (005) and CAP: channel types,
//! case mapping, membership prefixes, MONITOR, name lengths.

/// Channel prefixes assumed before a server has told us its CHANTYPES;
/// none of them may start a nick, so the guess is never wrong for nicks.
pub const DEFAULT_CHANTYPES: &str = "#&+!";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseMapping {
    Ascii,
    Rfc1459,
    StrictRfc1459,
}

impl CaseMapping {
    /// Folds a nick or channel name for comparison.
    pub fn fold(self, name: &str) -> String {
        name.chars()
            .map(|c| match (self, c) {
                (_, 'A'..='Z') => c.to_ascii_lowercase(),
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, '[') => '{',
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, ']') => '}',
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, '\\') => '|',
                (CaseMapping::Rfc1459, '~') => '^',
                _ => c,
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Support {
    pub chantypes: String,
    pub casemapping: CaseMapping,
    /// Mode letters and their prefix characters, highest first.
    pub prefix: Vec<(char, char)>,
    /// MONITOR's target limit, when the server has MONITOR.
    pub monitor: Option<usize>,
    /// The most lines a CHATHISTORY request may ask for (0: no limit).
    pub chathistory: Option<usize>,
    /// The longest nick and channel name the server takes, when it says.
    pub nicklen: Option<usize>,
    pub channellen: Option<usize>,
}

impl Default for Support {
    fn default() -> Self {
        Support {
            chantypes: DEFAULT_CHANTYPES.to_owned(),
            casemapping: CaseMapping::Rfc1459,
            prefix: vec![('o', '@'), ('v', '+')],
            monitor: None,
            chathistory: None,
            nicklen: None,
            channellen: None,
        }
    }
}

impl Support {
    /// Reads the tokens of one 005 line (without the target and the
    /// trailing "are supported by this server").
    pub fn absorb<'a>(&mut self, tokens: impl IntoIterator<Item = &'a str>) {
        for token in tokens {
            let (key, value) = token.split_once('=').unwrap_or((token, ""));
            match key {
                // An empty value would say the server has no channels; but
                // no nick may start with any of the default channel types,
                // so keeping them can never take a nick for a channel, and
                // a server that sends `#` lines after all still has them
                // read as channel lines, not as private chats.
                "CHANTYPES" if value.is_empty() => {}
                "CHANTYPES" => self.chantypes = value.to_owned(),
                "CASEMAPPING" => {
                    self.casemapping = match value {
                        "ascii" => CaseMapping::Ascii,
                        "strict-rfc1459" => CaseMapping::StrictRfc1459,
                        _ => CaseMapping::Rfc1459,
                    }
                }
                "PREFIX" => {
                    if let Some((modes, chars)) =
                        value.strip_prefix('(').and_then(|v| v.split_once(')'))
                    {
                        if modes.len() == chars.len() {
                            self.prefix = modes.chars().zip(chars.chars()).collect();
                        }
                    }
                }
                "MONITOR" => self.monitor = Some(value.parse().unwrap_or(100)),
                "CHATHISTORY" => self.chathistory = value.parse().ok(),
                // The larger of the two: MAXNICKLEN may exceed NICKLEN.
                "NICKLEN" | "MAXNICKLEN" => {
                    if let Some(n) = value.parse().ok().filter(|n| *n > 0) {
                        self.nicklen = Some(self.nicklen.map_or(n, |m: usize| m.max(n)));
                    }
                }
                "CHANNELLEN" => self.channellen = value.parse().ok().filter(|n| *n > 0),
                _ => {}
            }
        }
    }

    /// Folds a nick or channel name for comparison, per CASEMAPPING.
    pub fn fold(&self, name: &str) -> String {
        self.casemapping.fold(name)
    }

    pub fn is_channel(&self, name: &str) -> bool {
        name.starts_with(|c| self.chantypes.contains(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absorbs_ngircd_and_inspircd_tokens() {
        let mut s = Support::default();
        s.absorb([
            "CHANTYPES=#&+",
            "PREFIX=(qaohv)~&@%+",
            "CASEMAPPING=ascii",
            "NICKLEN=30",
        ]);
        assert_eq!(s.chantypes, "#&+");
        assert_eq!(s.prefix.len(), 5);
        assert_eq!(s.prefix[0], ('q', '~'));
        assert_eq!(s.fold("Nick[a]"), s.fold("nick[a]"));
        assert_ne!(s.fold("nick[a]"), s.fold("nick{a}"));
        assert_eq!(s.monitor, None);
        s.absorb(["MONITOR=64", "CASEMAPPING=rfc1459"]);
        assert_eq!(s.monitor, Some(64));
        assert_eq!(s.fold("nick[a]"), s.fold("NICK{A}"));
        assert!(s.is_channel("#rust") && !s.is_channel("rust"));
        assert_eq!(s.nicklen, Some(30));
    }

    #[test]
    fn an_empty_chantypes_keeps_channels_channels() {
        let mut s = Support::default();
        s.absorb(["CHANTYPES="]);
        assert!(s.is_channel("#rust") && s.is_channel("&local"));
        assert!(!s.is_channel("rust"));
        s.absorb(["CHANTYPES=#"]);
        assert!(s.is_channel("#rust") && !s.is_channel("&local"));
    }
}
