//! Whether to answer a CTCP request. Anyone on IRC can send thousands of
//! them; each answer costs the user a line of their flood allowance. So
//! answers are bounded twice: one per sender per `PER_SENDER`, and a
//! small token bucket for the whole connection. Over either, the request
//! is ignored (an answer is never queued for later).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Answers a connection may give at once...
const BURST: f64 = 3.0;
/// ...and then a second.
const RATE: f64 = 0.2;
/// One answer per sender in this time.
const PER_SENDER: Duration = Duration::from_secs(10);
/// Senders remembered; past it, new senders get no answer until old ones
/// expire (a crowd of senders then shares the bucket's answers anyway).
const SENDERS: usize = 32;

#[derive(Debug)]
pub struct AutoReplies {
    tokens: f64,
    at: Option<Instant>,
    /// Folded sender → when they were last answered.
    answered: HashMap<String, Instant>,
}

impl Default for AutoReplies {
    fn default() -> Self {
        AutoReplies {
            tokens: BURST,
            at: None,
            answered: HashMap::new(),
        }
    }
}

impl AutoReplies {
    /// Whether to answer a request from `sender` (folded) at `now`;
    /// counts the answer when it says yes.
    pub fn admit(&mut self, sender: &str, now: Instant) -> bool {
        if let Some(at) = self.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * RATE;
            self.tokens = (self.tokens + refill).min(BURST);
        }
        self.at = Some(now);
        if self
            .answered
            .get(sender)
            .is_some_and(|t| now.saturating_duration_since(*t) < PER_SENDER)
        {
            return false;
        }
        if self.answered.len() >= SENDERS {
            self.answered
                .retain(|_, t| now.saturating_duration_since(*t) < PER_SENDER);
            if self.answered.len() >= SENDERS {
                return false;
            }
        }
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        self.answered.insert(sender.to_owned(), now);
        true
    }
}

/// The answer to a CTCP VERSION or PING request from `nick`; `None` when
/// the nick cannot be written back as the NOTICE's target (empty, a
/// leading `:`, a space, or what the codec refuses: CR, LF, NUL). A line
/// the codec refuses would drop the connection, and each reconnect would
/// meet the same request again (found by fuzzing).
pub(crate) fn ctcp_reply(nick: &str, request: &str, token: &str) -> Option<String> {
    if !crate::line::is_argument(nick) {
        return None;
    }
    let answer = match request {
        "VERSION" => format!("ferry {}", env!("CARGO_PKG_VERSION")),
        // The token comes back as sent, within what a line carries and
        // without what would end the CTCP or be refused by the codec.
        _ => crate::fit::cut(token, 100).replace(|c: char| c.is_control(), ""),
    };
    Some(format!("NOTICE {nick} :\x01{request} {answer}\x01"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_answer_per_sender_and_few_in_all() {
        let mut replies = AutoReplies::default();
        let t0 = Instant::now();
        assert!(replies.admit("mallory", t0));
        assert!((0..1000).all(|_| !replies.admit("mallory", t0)));
        assert!(replies.admit("bob", t0));
        assert!(replies.admit("carol", t0));
        assert!(!replies.admit("dave", t0), "the burst is spent");
        let later = t0 + PER_SENDER;
        assert!(replies.admit("mallory", later));
    }

    proptest! {
        /// Whoever asks, and however often, the answers over any stretch
        /// stay within the burst and the rate.
        #[test]
        fn answers_stay_within_burst_and_rate(
            asks in proptest::collection::vec((0u8..50, 0u64..2000), 1..500)
        ) {
            let mut replies = AutoReplies::default();
            let t0 = Instant::now();
            let mut now = t0;
            let mut answered = 0.0;
            for (sender, gap) in asks {
                now += Duration::from_millis(gap);
                if replies.admit(&format!("n{sender}"), now) {
                    answered += 1.0;
                }
            }
            let bound = BURST + now.duration_since(t0).as_secs_f64() * RATE;
            prop_assert!(answered <= bound + 1e-9, "{} > {}", answered, bound);
        }
    }

    #[test]
    fn ctcp_replies_never_break_the_line() {
        assert_eq!(
            ctcp_reply("bob", "PING", "1\u{0}2\r3").as_deref(),
            Some("NOTICE bob :\x01PING 123\x01")
        );
        assert!(ctcp_reply("bob", "VERSION", "")
            .unwrap()
            .starts_with("NOTICE bob :\x01VERSION ferry "));
        // Found by fuzzing: a server passed NULs in a nick's prefix.
        assert_eq!(ctcp_reply("d\u{0}\u{0}e", "VERSION", ""), None);
        assert_eq!(ctcp_reply("d\u{0}e", "PING", "562"), None);
        for nick in ["", ":bob", "a b", "a\r\nQUIT x"] {
            assert_eq!(ctcp_reply(nick, "PING", "1"), None, "{nick:?}");
        }
    }
}
