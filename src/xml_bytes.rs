//! Stanzas written straight to bytes, for the fan-out path: a room message
//! goes to every resource of every user in the room, and only `to`
//! differs between those copies. Building an xmpp-parsers `Message` (and
//! minidom elements for its payloads) and serialising it costs microseconds
//! a copy; escaping into one template costs nanoseconds.
//! Text must already be cleaned of characters XML forbids (`xml_clean`).

/// Appends `s` escaped for an attribute value in single quotes.
pub fn escape_attr(out: &mut Vec<u8>, s: &str) {
    escape(out, s, true)
}

/// Appends `s` escaped for character data.
pub fn escape_text(out: &mut Vec<u8>, s: &str) {
    escape(out, s, false)
}

fn escape(out: &mut Vec<u8>, s: &str, attr: bool) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let replacement: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\'' if attr => b"&apos;",
            b'"' if attr => b"&quot;",
            // Kept as references so that attribute value normalisation
            // and line-end handling give the reader back what we sent.
            b'\r' => b"&#xD;",
            b'\n' if attr => b"&#xA;",
            b'\t' if attr => b"&#x9;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(replacement);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// A message serialised once but for its `to`, stamped per recipient.
pub struct Template {
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// A message's parts, already cleaned; `stanza_id` is (id, by).
pub struct MessageParts<'a> {
    pub from: &'a str,
    pub type_: &'a str,
    pub id: Option<&'a str>,
    pub body: &'a str,
    pub origin_id: Option<&'a str>,
    pub stanza_id: Option<(&'a str, &'a str)>,
}

impl Template {
    pub fn message(parts: &MessageParts<'_>) -> Template {
        let mut head = Vec::with_capacity(96 + parts.from.len());
        head.extend_from_slice(b"<message type='");
        escape_attr(&mut head, parts.type_);
        head.extend_from_slice(b"' from='");
        escape_attr(&mut head, parts.from);
        if let Some(id) = parts.id {
            head.extend_from_slice(b"' id='");
            escape_attr(&mut head, id);
        }
        head.extend_from_slice(b"' to='");
        let mut tail = Vec::with_capacity(64 + parts.body.len());
        tail.extend_from_slice(b"'><body>");
        escape_text(&mut tail, parts.body);
        tail.extend_from_slice(b"</body>");
        if let Some(id) = parts.origin_id {
            tail.extend_from_slice(b"<origin-id xmlns='urn:xmpp:sid:0' id='");
            escape_attr(&mut tail, id);
            tail.extend_from_slice(b"'/>");
        }
        if let Some((id, by)) = parts.stanza_id {
            tail.extend_from_slice(b"<stanza-id xmlns='urn:xmpp:sid:0' id='");
            escape_attr(&mut tail, id);
            tail.extend_from_slice(b"' by='");
            escape_attr(&mut tail, by);
            tail.extend_from_slice(b"'/>");
        }
        tail.extend_from_slice(b"</message>");
        Template { head, tail }
    }

    /// The stanza for one recipient.
    pub fn to(&self, to: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + to.len() + self.tail.len());
        out.extend_from_slice(&self.head);
        escape_attr(&mut out, to);
        out.extend_from_slice(&self.tail);
        out
    }
}

/// An occupant's presence with its item and no status codes: a join sends
/// one per occupant, so a room of K users joining sends K² of them.
/// `type_` is `None` (available) or `"unavailable"`.
pub fn occupant_presence(
    from: &str,
    to: &str,
    type_: Option<&str>,
    affiliation: &str,
    role: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + from.len() + to.len());
    out.extend_from_slice(b"<presence from='");
    escape_attr(&mut out, from);
    out.extend_from_slice(b"' to='");
    escape_attr(&mut out, to);
    if let Some(type_) = type_ {
        out.extend_from_slice(b"' type='");
        escape_attr(&mut out, type_);
    }
    out.extend_from_slice(b"'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='");
    escape_attr(&mut out, affiliation);
    out.extend_from_slice(b"' role='");
    escape_attr(&mut out, role);
    out.extend_from_slice(b"'/></x></presence>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use xmpp_parsers::message::Message;

    fn parse(bytes: &[u8]) -> Message {
        // The stream's default namespace, as Prosody reads the stanza.
        let text = std::str::from_utf8(bytes).unwrap().replacen(
            "<message ",
            "<message xmlns='jabber:component:accept' ",
            1,
        );
        let el: minidom::Element = text.parse().unwrap();
        Message::try_from(el).unwrap()
    }

    #[test]
    fn a_groupchat_message_reads_back() {
        let t = Template::message(&MessageParts {
            from: "#r%irc@gw/n'ick",
            type_: "groupchat",
            id: Some("a<b"),
            body: "x & y <z> \"q\"",
            origin_id: Some("o'1"),
            stanza_id: Some(("17", "#r%irc@gw")),
        });
        let m = parse(&t.to("u@example.org/res"));
        assert_eq!(m.to.unwrap().to_string(), "u@example.org/res");
        assert_eq!(m.from.unwrap().to_string(), "#r%irc@gw/n'ick");
        assert_eq!(m.id.unwrap().0, "a<b");
        assert_eq!(m.bodies[""], "x & y <z> \"q\"");
        let sid = m
            .payloads
            .iter()
            .find(|p| p.is("stanza-id", "urn:xmpp:sid:0"))
            .unwrap();
        assert_eq!(sid.attr("id"), Some("17"));
        assert_eq!(sid.attr("by"), Some("#r%irc@gw"));
        let origin = m
            .payloads
            .iter()
            .find(|p| p.is("origin-id", "urn:xmpp:sid:0"))
            .unwrap();
        assert_eq!(origin.attr("id"), Some("o'1"));
    }

    #[test]
    fn an_occupant_presence_reads_back() {
        use xmpp_parsers::muc::user::{Affiliation, MucUser, Role};
        use xmpp_parsers::presence::{Presence, Type};
        let bytes = occupant_presence(
            "r@gw/a&b",
            "u@x/r",
            Some("unavailable"),
            "admin",
            "moderator",
        );
        let text = std::str::from_utf8(&bytes).unwrap().replacen(
            "<presence ",
            "<presence xmlns='jabber:component:accept' ",
            1,
        );
        let p = Presence::try_from(text.parse::<minidom::Element>().unwrap()).unwrap();
        assert_eq!(p.from.unwrap().to_string(), "r@gw/a&b");
        assert_eq!(p.type_, Type::Unavailable);
        let x = MucUser::try_from(p.payloads[0].clone()).unwrap();
        assert_eq!(x.items[0].affiliation, Affiliation::Admin);
        assert_eq!(x.items[0].role, Role::Moderator);
        assert!(x.status.is_empty());
    }

    proptest! {
        #[test]
        fn any_clean_text_survives(body in "\\PC*", id in "\\PC*", nick in "[a-z]{1,10}") {
            let body = crate::xml_clean::clean(&body).into_owned();
            let id = crate::xml_clean::clean(&id).into_owned();
            let t = Template::message(&MessageParts {
                from: &format!("room@gw/{nick}"),
                type_: "groupchat",
                id: Some(&id),
                body: &body,
                origin_id: None,
                stanza_id: None,
            });
            let m = parse(&t.to("u@example.org"));
            prop_assert_eq!(&m.bodies[""], &body);
            prop_assert_eq!(m.id.unwrap().0, id);
        }
    }
}
