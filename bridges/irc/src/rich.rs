//! Rich messages on IRC (SPEC §9): replies, corrections, reactions,
//! chat states and retractions, as IRCv3 client tags (`+draft/reply`,
//! `+draft/react`, `+typing`) and `REDACT` where the server has them,
//! and as text IRC users read where it does not.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferry_bridge::{ChatState, Reply, Text};

use crate::tags::{self, Tags};

/// `+typing=active` goes at most this often to one target.
const TYPING_EVERY: Duration = Duration::from_secs(3);
/// Targets whose typing is remembered; beyond, the oldest are forgotten.
const TYPING_TARGETS: usize = 64;

/// What a correction's line starts with: most IRC clients never show
/// tags, so the text itself says it (README).
pub const CORRECTION: &str = "* ";

/// A message's text as IRC users read it: a correction marked, a reply
/// addressed to the author of the line it answers (unless it already is).
pub fn shown(text: &Text, body: &str) -> String {
    let mut out = String::new();
    if text.correction {
        out.push_str(CORRECTION);
    }
    if let Some(nick) = text.reply.as_ref().and_then(|r| r.nick.as_deref()) {
        if !body.starts_with(nick) {
            out.push_str(nick);
            out.push_str(": ");
        }
    }
    out.push_str(body);
    out
}

/// The tags of a message's first line: what it answers.
pub fn reply_tags(text: &Text) -> String {
    match text.reply.as_ref().and_then(|r| r.foreign_id.as_deref()) {
        Some(id) => tags::prefix(&[("+draft/reply", Some(id))]),
        None => String::new(),
    }
}

/// A reaction as lines: a TAGMSG for each emoji where the server takes
/// client tags and the line has an id, else one line of text saying who
/// reacted with what to which line.
pub fn reaction_lines(
    target: &str,
    answered: &Reply,
    reactions: &[String],
    tagged: bool,
) -> Vec<String> {
    if reactions.is_empty() {
        return Vec::new();
    }
    match answered.foreign_id.as_deref() {
        Some(id) if tagged => reactions
            .iter()
            .map(|emoji| {
                let tags =
                    tags::prefix(&[("+draft/reply", Some(id)), ("+draft/react", Some(emoji))]);
                format!("{tags}TAGMSG {target}")
            })
            .collect(),
        _ => {
            let whom = answered.nick.as_deref().unwrap_or("a message");
            let excerpt = answered.excerpt.as_deref().unwrap_or("");
            let emojis = reactions.join(" ");
            let line = match excerpt.is_empty() {
                true => format!("\x01ACTION reacted {emojis} to {whom}\x01"),
                false => format!("\x01ACTION reacted {emojis} to {whom}: \"{excerpt}\"\x01"),
            };
            vec![format!("PRIVMSG {target} :{line}")]
        }
    }
}

/// The `+typing` value of a chat state.
fn typing_value(state: ChatState) -> &'static str {
    match state {
        ChatState::Composing => "active",
        ChatState::Paused => "paused",
        ChatState::Active => "done",
    }
}

/// Chat states sent per target: `active` at most every `TYPING_EVERY`,
/// `paused`/`done` at once but only after an `active`.
#[derive(Default)]
pub struct Typing {
    /// Folded target → when `active` was last sent.
    sent: HashMap<String, Instant>,
}

impl Typing {
    /// The TAGMSG for `state` to `target` (`folded`), if it is to go now.
    pub fn line(
        &mut self,
        (folded, target): (&str, &str),
        state: ChatState,
        now: Instant,
    ) -> Option<String> {
        match state {
            ChatState::Composing => {
                if self
                    .sent
                    .get(folded)
                    .is_some_and(|at| now.duration_since(*at) < TYPING_EVERY)
                {
                    return None;
                }
                if self.sent.len() >= TYPING_TARGETS {
                    let oldest = self
                        .sent
                        .iter()
                        .min_by_key(|(_, at)| **at)
                        .map(|(k, _)| k.clone());
                    self.sent.remove(&oldest?);
                }
                self.sent.insert(folded.to_owned(), now);
            }
            _ => {
                self.sent.remove(folded)?;
            }
        }
        let tags = tags::prefix(&[("+typing", Some(typing_value(state)))]);
        Some(format!("{tags}TAGMSG {target}"))
    }
}

/// What a TAGMSG from IRC says.
#[derive(Debug, PartialEq, Eq)]
pub enum Told {
    Typing(ChatState),
    React { foreign_id: String, emoji: String },
}

pub fn tagmsg(tags: &Tags) -> Option<Told> {
    if let (Some(emoji), Some(id)) = (tags.get("+draft/react"), tags.get("+draft/reply")) {
        return Some(Told::React {
            foreign_id: id.into_owned(),
            emoji: emoji.into_owned(),
        });
    }
    let state = match tags.get("+typing")?.as_ref() {
        "active" => ChatState::Composing,
        "paused" => ChatState::Paused,
        _ => ChatState::Active,
    };
    Some(Told::Typing(state))
}

/// `REDACT <target> <msgid>` (draft/message-redaction), for a line the
/// user retracts.
pub fn redact_line(target: &str, msgid: &str) -> Option<String> {
    // A msgid is one parameter: one with a space or a leading `:` would
    // change the line's meaning.
    if msgid.is_empty() || msgid.starts_with(':') || msgid.contains([' ', '\r', '\n', '\0']) {
        return None;
    }
    Some(format!("REDACT {target} {msgid}"))
}

/// A `REDACT`'s target and msgid (its reason, if any, is not shown).
pub fn redaction(args: &[String]) -> Option<(&str, &str)> {
    match args {
        [target, msgid, ..] if !msgid.is_empty() => Some((target, msgid)),
        _ => None,
    }
}

/// The line a message from IRC answers (`+draft/reply`).
pub fn replied(tags: &Tags) -> Option<Box<Reply>> {
    let id = tags.get("+draft/reply")?;
    Some(Box::new(Reply {
        foreign_id: Some(id.into_owned()),
        ..Reply::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_to(nick: &str, id: Option<&str>) -> Reply {
        Reply {
            nick: Some(nick.into()),
            foreign_id: id.map(String::from),
            excerpt: Some("the start".into()),
            ..Reply::default()
        }
    }

    #[test]
    fn replies_and_corrections_as_text() {
        let text = Text {
            reply: Some(Box::new(reply_to("bob", Some("m1")))),
            ..Text::default()
        };
        assert_eq!(shown(&text, "sure"), "bob: sure");
        assert_eq!(shown(&text, "bob, sure"), "bob, sure");
        assert_eq!(reply_tags(&text), "@+draft/reply=m1 ");
        let fix = Text {
            correction: true,
            ..Text::default()
        };
        assert_eq!(shown(&fix, "fixed"), "* fixed");
        assert_eq!(reply_tags(&fix), "");
    }

    #[test]
    fn reactions_with_and_without_tags() {
        let answered = reply_to("bob", Some("m1"));
        assert_eq!(
            reaction_lines("#c", &answered, &["👍".into()], true),
            ["@+draft/reply=m1;+draft/react=👍 TAGMSG #c"]
        );
        assert_eq!(
            reaction_lines("#c", &answered, &["👍".into(), "🎉".into()], false),
            ["PRIVMSG #c :\x01ACTION reacted 👍 🎉 to bob: \"the start\"\x01"]
        );
        let unknown = reply_to("bob", None);
        assert_eq!(
            reaction_lines("#c", &unknown, &["👍".into()], true).len(),
            1
        );
        assert!(reaction_lines("#c", &answered, &[], true).is_empty());
    }

    #[test]
    fn typing_is_rate_limited() {
        let mut t = Typing::default();
        let now = Instant::now();
        let target = ("#c", "#C");
        assert_eq!(
            t.line(target, ChatState::Composing, now).as_deref(),
            Some("@+typing=active TAGMSG #C")
        );
        assert_eq!(
            t.line(target, ChatState::Composing, now + Duration::from_secs(1)),
            None
        );
        assert_eq!(
            t.line(target, ChatState::Paused, now + Duration::from_secs(1))
                .as_deref(),
            Some("@+typing=paused TAGMSG #C")
        );
        // Nothing was typed since: no `done`.
        assert_eq!(t.line(target, ChatState::Active, now), None);
        assert!(t
            .line(target, ChatState::Composing, now + Duration::from_secs(2))
            .is_some());
        assert!(t.line(target, ChatState::Active, now).is_some());
    }

    /// The message-redaction spec's examples.
    #[test]
    fn redactions() {
        assert_eq!(
            redact_line("#channel", "1234").as_deref(),
            Some("REDACT #channel 1234")
        );
        assert_eq!(redact_line("#c", "a b"), None);
        assert_eq!(redact_line("#c", ":x"), None);
        let parse = |line: &str| -> Option<(String, String)> {
            let message: irc_proto::Message = line.parse().unwrap();
            let irc_proto::Command::Raw(command, args) = message.command else {
                return None;
            };
            assert_eq!(command, "REDACT");
            redaction(&args).map(|(t, m)| (t.to_owned(), m.to_owned()))
        };
        let example = parse(":nick!user@host REDACT #channel 1234 :Oops, wrong channel");
        assert_eq!(example, Some(("#channel".into(), "1234".into())));
        assert_eq!(parse(":nick!user@host REDACT #channel 1234"), example);
        assert_eq!(parse(":nick!user@host REDACT #channel"), None);
    }

    #[test]
    fn tagmsgs_from_irc() {
        let (tags, _) = Tags::split("@+typing=active;time=x :bob!b@h TAGMSG #c");
        assert_eq!(tagmsg(&tags), Some(Told::Typing(ChatState::Composing)));
        let (tags, _) = Tags::split("@+typing=done :bob!b@h TAGMSG #c");
        assert_eq!(tagmsg(&tags), Some(Told::Typing(ChatState::Active)));
        let (tags, _) = Tags::split("@+draft/reply=m1;+draft/react=👍 :bob!b@h TAGMSG #c");
        assert_eq!(
            tagmsg(&tags),
            Some(Told::React {
                foreign_id: "m1".into(),
                emoji: "👍".into()
            })
        );
        let (tags, _) = Tags::split("@msgid=x :bob!b@h TAGMSG #c");
        assert_eq!(tagmsg(&tags), None);
        let (tags, _) = Tags::split("@+draft/reply=m9 :bob!b@h PRIVMSG #c :yes");
        assert_eq!(replied(&tags).unwrap().foreign_id.as_deref(), Some("m9"));
    }
}
