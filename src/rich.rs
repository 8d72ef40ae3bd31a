//! Rich messages (SPEC §9): what a user's message asks beside its body —
//! a chat state (XEP-0085), a correction (XEP-0308), a reply (XEP-0461,
//! its fallback quote cut off), reactions (XEP-0444), a retraction
//! (XEP-0424) — and the same payloads on messages from the foreign side.
//! Messages in a room point at others by archive id (their stanza-id).

use ferry_bridge::{ChatState, Reply};
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;

const CHATSTATES: &str = "http://jabber.org/protocol/chatstates";
const CORRECT: &str = "urn:xmpp:message-correct:0";
const REPLY: &str = "urn:xmpp:reply:0";
const FALLBACK: &str = "urn:xmpp:fallback:0";
const REACTIONS: &str = "urn:xmpp:reactions:0";
const RETRACT: &str = "urn:xmpp:message-retract:1";

fn payload<'a>(message: &'a Message, name: &str, ns: &str) -> Option<&'a Element> {
    message.payloads.iter().find(|p| p.is(name, ns))
}

/// The chat state a message carries.
pub fn chat_state(message: &Message) -> Option<ChatState> {
    message
        .payloads
        .iter()
        .filter(|p| p.ns() == CHATSTATES)
        .find_map(|p| match p.name() {
            "composing" => Some(ChatState::Composing),
            "paused" => Some(ChatState::Paused),
            "active" | "inactive" | "gone" => Some(ChatState::Active),
            _ => None,
        })
}

pub fn chat_state_element(state: ChatState) -> Element {
    let name = match state {
        ChatState::Composing => "composing",
        ChatState::Paused => "paused",
        ChatState::Active => "active",
    };
    Element::builder(name, CHATSTATES).build()
}

/// Whether a message corrects an earlier one.
pub fn is_correction(message: &Message) -> bool {
    payload(message, "replace", CORRECT).is_some()
}

/// The room message a groupchat message answers: its author (the
/// resource of `to`) and archive id.
pub fn reply(message: &Message) -> Option<Reply> {
    let reply = payload(message, "reply", REPLY)?;
    Some(Reply {
        nick: reply
            .attr("to")
            .and_then(|to| to.split_once('/'))
            .map(|(_, nick)| nick.to_owned()),
        archive_id: reply.attr("id").and_then(|id| id.parse().ok()),
        ..Reply::default()
    })
}

/// The body without the quote a reply's fallback marks (its `start` and
/// `end` count characters).
pub fn without_fallback(message: &Message, body: &str) -> String {
    let range = message
        .payloads
        .iter()
        .filter(|p| p.is("fallback", FALLBACK) && p.attr("for") == Some(REPLY))
        .flat_map(|p| p.children().filter(|c| c.name() == "body"))
        .find_map(|b| {
            let start: usize = b.attr("start")?.parse().ok()?;
            let end: usize = b.attr("end")?.parse().ok()?;
            (start <= end).then_some((start, end))
        });
    match range {
        Some((start, end)) => body
            .chars()
            .enumerate()
            .filter(|(i, _)| *i < start || *i >= end)
            .map(|(_, c)| c)
            .collect::<String>()
            .trim_start()
            .to_owned(),
        None => body.to_owned(),
    }
}

/// A message's reactions: the archive id reacted to, and the emojis.
pub fn reactions(message: &Message) -> Option<(i64, Vec<String>)> {
    let r = payload(message, "reactions", REACTIONS)?;
    let id = r.attr("id")?.parse().ok()?;
    let emojis = r
        .children()
        .filter(|c| c.name() == "reaction")
        .map(Element::text)
        .filter(|t| !t.is_empty() && t.len() <= 32)
        .collect();
    Some((id, emojis))
}

pub fn reactions_element(id: i64, reactions: &[String]) -> Element {
    let mut r = Element::builder("reactions", REACTIONS)
        .attr(crate::xml_name::ncname("id"), id.to_string())
        .build();
    for emoji in reactions {
        r.append_child(
            Element::builder("reaction", REACTIONS)
                .append(crate::xml_clean::clean(emoji).into_owned())
                .build(),
        );
    }
    r
}

/// The archive id a message retracts.
pub fn retraction(message: &Message) -> Option<i64> {
    payload(message, "retract", RETRACT)?
        .attr("id")?
        .parse()
        .ok()
}

pub fn retract_element(id: i64) -> Element {
    Element::builder("retract", RETRACT)
        .attr(crate::xml_name::ncname("id"), id.to_string())
        .build()
}

/// `<reply/>` to the message of archive id `id` by `nick` in `room`.
pub fn reply_element(room: &BareJid, nick: Option<&str>, id: i64) -> Element {
    let mut reply = Element::builder("reply", REPLY)
        .attr(crate::xml_name::ncname("id"), id.to_string())
        .build();
    if let Some(to) = nick.and_then(|n| room.with_resource_str(n).ok()) {
        reply.set_attr(
            xmpp_parsers::minidom::rxml::Namespace::NONE,
            crate::xml_name::ncname("to"),
            to.to_string(),
        );
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(xml: &str) -> Message {
        let el: Element = xml.parse().unwrap();
        Message::try_from(el).unwrap()
    }

    #[test]
    fn a_users_reply_and_its_fallback() {
        let m = message(
            "<message xmlns='jabber:component:accept' type='groupchat' to='#c%h@irc.gw'>\
             <body>&gt; bob: hi\nhello back</body>\
             <reply xmlns='urn:xmpp:reply:0' to='#c%h@irc.gw/bob' id='1700000000000001'/>\
             <fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start='0' end='10'/></fallback>\
             <composing xmlns='http://jabber.org/protocol/chatstates'/>\
             </message>",
        );
        let reply = reply(&m).unwrap();
        assert_eq!(reply.nick.as_deref(), Some("bob"));
        assert_eq!(reply.archive_id, Some(1_700_000_000_000_001));
        assert_eq!(without_fallback(&m, "> bob: hi\nhello back"), "hello back");
        assert_eq!(chat_state(&m), Some(ChatState::Composing));
        assert!(!is_correction(&m));
    }

    #[test]
    fn reactions_retractions_corrections() {
        let m = message(
            "<message xmlns='jabber:component:accept' type='groupchat'>\
             <reactions xmlns='urn:xmpp:reactions:0' id='42'><reaction>👍</reaction><reaction/></reactions>\
             <retract xmlns='urn:xmpp:message-retract:1' id='43'/>\
             <replace xmlns='urn:xmpp:message-correct:0' id='x'/></message>",
        );
        assert_eq!(reactions(&m), Some((42, vec!["👍".to_owned()])));
        assert_eq!(retraction(&m), Some(43));
        assert!(is_correction(&m));
        let el = reactions_element(42, &["👍".into()]);
        assert_eq!(
            String::from(&el),
            "<reactions xmlns='urn:xmpp:reactions:0' id='42'><reaction>👍</reaction></reactions>"
        );
    }
}
