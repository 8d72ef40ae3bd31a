//! Kickbans: IRC has no "ban" that removes, only a `+b` mask and a KICK,
//! which an operator sends back to back. A KICK that follows the same
//! operator's `+b` whose nick part covers the victim shows as a ban
//! (XEP-0045's 301, affiliation outcast) rather than a kick (307).

use std::time::{Duration, Instant};

use compact_str::CompactString;

use crate::isupport::Support;

/// How long after its `+b` a KICK still counts as the ban's: clients send
/// the two lines together, and a later kick is for something else.
const WINDOW: Duration = Duration::from_secs(5);

/// The newest `+b` set in a channel.
pub(super) struct LastBan {
    by: CompactString,
    mask: String,
    at: Instant,
}

impl LastBan {
    pub(super) fn new(by: &str, mask: &str) -> Box<LastBan> {
        Box::new(LastBan {
            by: CompactString::new(by),
            mask: mask.to_owned(),
            at: Instant::now(),
        })
    }

    /// Whether this is the ban of `mask`.
    pub(super) fn is(&self, mask: &str) -> bool {
        self.mask == mask
    }

    /// Whether `kicker` kicking `victim` now completes this ban.
    pub(super) fn covers(&self, support: &Support, kicker: &str, victim: &str) -> bool {
        let nick_part = self.mask.split('!').next().unwrap_or_default();
        self.at.elapsed() < WINDOW
            && support.fold(&self.by) == support.fold(kicker)
            && glob(&support.fold(nick_part), &support.fold(victim))
    }
}

/// IRC's mask matching: `*` is any run of characters, `?` any one
/// (wildmatch's; both sides already folded).
fn glob(pattern: &str, text: &str) -> bool {
    wildmatch::WildMatch::new(pattern).matches(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_match_as_irc_does() {
        assert!(glob("dave", "dave"));
        assert!(glob("*", "dave"));
        assert!(glob("d*", "dave"));
        assert!(glob("d?ve", "dave"));
        assert!(glob("*a*e", "dave"));
        assert!(glob("", ""));
        assert!(!glob("dave", "dav"));
        assert!(!glob("d?e", "dave"));
        assert!(!glob("", "dave"));
        assert!(!glob("carol", "dave"));
    }

    #[test]
    fn a_kick_completes_the_same_operators_ban_of_that_nick() {
        let support = Support::default();
        let ban = LastBan::new("Carol", "Dave!*@*");
        assert!(ban.covers(&support, "carol", "dave"));
        assert!(!ban.covers(&support, "erin", "dave"), "another operator");
        assert!(!ban.covers(&support, "carol", "erin"), "another nick");
        assert!(LastBan::new("carol", "*!*@host").covers(&support, "carol", "erin"));
        let old = LastBan {
            at: Instant::now() - WINDOW,
            ..*LastBan::new("carol", "*")
        };
        assert!(!old.covers(&support, "carol", "dave"), "too late");
    }

    proptest! {
        #[test]
        fn a_text_matches_itself_and_star(text in "[a-z?*]{0,12}") {
            prop_assert!(glob("*", &text));
            let literal: String = text.chars().filter(|c| *c != '?' && *c != '*').collect();
            prop_assert!(glob(&literal, &literal));
            prop_assert!(glob(&text, &literal) || text.contains('?'));
        }
    }
}
