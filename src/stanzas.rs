//! Stanzas every delivery path builds from what a backend reports: a
//! foreign text as a message, a failure as an error condition. Builders
//! only: this module calls no handler, so any path may use it.

use ferry_bridge::{ContactStatus, Failure, Text};
use xmpp_parsers::date::DateTime;
use xmpp_parsers::delay::Delay;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Lang, Message, MessageType, Thread};
use xmpp_parsers::ns;
use xmpp_parsers::presence::{Presence, Show};

use crate::stanza_error::Condition;
use crate::xml_clean::clean;

/// The one table from backend failures to XMPP error conditions.
pub fn failure_condition(failure: Failure) -> Condition {
    match failure {
        Failure::BadRequest => Condition::BadRequest,
        Failure::Conflict => Condition::Conflict,
        Failure::Forbidden => Condition::Forbidden,
        Failure::ItemNotFound => Condition::ItemNotFound,
        Failure::NotAcceptable => Condition::NotAcceptable,
        Failure::NotAuthorized => Condition::NotAuthorized,
        Failure::PolicyViolation => Condition::PolicyViolation,
        Failure::RecipientUnavailable => Condition::RecipientUnavailable,
        Failure::RegistrationRequired => Condition::RegistrationRequired,
        Failure::RemoteServerTimeout => Condition::RemoteServerTimeout,
        Failure::ResourceConstraint => Condition::ResourceConstraint,
        Failure::ServiceUnavailable => Condition::ServiceUnavailable,
        Failure::InternalServerError => Condition::InternalServerError,
    }
}

/// The body as XMPP shows it: `/me ` for actions, cleaned for XML.
pub fn body(text: &Text) -> String {
    if text.action {
        clean(&format!("/me {}", text.body)).into_owned()
    } else {
        clean(&text.body).into_owned()
    }
}

/// A foreign message as an XMPP message: `chat`, or `normal` when it has
/// a subject (mail); foreign text is cleaned for XML.
pub fn message(from: Jid, to: Jid, text: &Text) -> Message {
    let type_ = if text.subject.is_some() {
        MessageType::Normal
    } else {
        MessageType::Chat
    };
    let mut m = Message::new_with_type(type_, Some(to));
    m.from = Some(from.clone());
    m.bodies.insert(Lang::default(), body(text));
    if let Some(subject) = &text.subject {
        m.subjects
            .insert(Lang::default(), clean(subject).into_owned());
    }
    m.thread = text.thread.as_ref().map(|id| Thread {
        parent: None,
        id: clean(id).into_owned(),
    });
    if let Some(runs) = &text.styled {
        m.payloads.push(crate::xhtml_im::element(runs));
    }
    if let Some(stamp) = text
        .sent_at
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
    {
        m.payloads.push(
            Delay {
                from: Some(from.to_bare().into()),
                stamp: DateTime(stamp.fixed_offset()),
                data: None,
            }
            .into(),
        );
    }
    m
}

/// End-to-end encryption payloads: their fallback body is a note for
/// clients without the feature, and bridging it would mislead both sides.
const ENCRYPTED: [(&str, &str); 5] = [
    ("encrypted", "eu.siacs.conversations.axolotl"),
    ("encrypted", "urn:xmpp:omemo:2"),
    ("openpgp", "urn:xmpp:openpgp:0"),
    ("x", "jabber:x:encrypted"),
    ("encryption", "urn:xmpp:eme:0"),
];

pub fn is_encrypted(message: &Message) -> bool {
    message
        .payloads
        .iter()
        .any(|p| ENCRYPTED.iter().any(|(name, ns)| p.is(*name, *ns)))
}

/// What the user wrote, for a session: the body, `/me` as an action.
pub fn text_of(message: &Message) -> Text {
    let body = message
        .bodies
        .get("")
        .or_else(|| message.bodies.values().next())
        .cloned()
        .unwrap_or_default();
    // A reply in a room: its quote of the message answered is cut off (the
    // foreign side shows whom it answers in its own way).
    let reply = (message.type_ == MessageType::Groupchat)
        .then(|| crate::rich::reply(message))
        .flatten();
    let body = match reply {
        Some(_) => crate::rich::without_fallback(message, &body),
        None => body,
    };
    let (action, body) = match body.strip_prefix("/me ") {
        Some(rest) => (true, rest.to_owned()),
        None => (false, body),
    };
    let origin_id = message
        .payloads
        .iter()
        .find(|p| p.is("origin-id", ns::SID))
        .and_then(|p| p.attr("id"))
        .map(str::to_owned);
    Text {
        id: message.id.as_ref().map(|id| id.0.clone()),
        origin_id,
        body,
        subject: message.subjects.values().next().cloned(),
        thread: message.thread.as_ref().map(|t| t.id.clone()),
        action,
        sent_at: None,
        sender_name: None,
        foreign_id: None,
        styled: message
            .payloads
            .iter()
            .find(|p| p.is("html", crate::xhtml_im::NS))
            .and_then(crate::xhtml_im::runs)
            // The XHTML body still holds the quote: the plain one counts.
            .filter(|_| reply.is_none()),
        reply: reply.map(Box::new),
        correction: crate::rich::is_correction(message),
        files: Vec::new(),
    }
}

/// A contact's presence as its backend tells it.
pub fn contact_presence(from: Jid, to: Jid, status: &ContactStatus) -> Presence {
    match status {
        ContactStatus::Online => Presence::available().with_from(from).with_to(to),
        ContactStatus::Away(note) => {
            let mut p = Presence::available()
                .with_from(from)
                .with_to(to)
                .with_show(Show::Away);
            if let Some(note) = note {
                p.set_status(Lang::default(), clean(note).into_owned());
            }
            p
        }
        ContactStatus::Offline => Presence::unavailable().with_from(from).with_to(to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::minidom::Element;

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn contacts_presence_shows_their_status() {
        let away = ContactStatus::Away(Some("lunch".into()));
        let p = contact_presence(jid("a@gw"), jid("u@d"), &away);
        assert_eq!(p.show, Some(Show::Away));
        assert_eq!(p.statuses[&Lang::default()], "lunch");
        let p = contact_presence(jid("a@gw"), jid("u@d"), &ContactStatus::Offline);
        assert_eq!(p.type_, xmpp_parsers::presence::Type::Unavailable);
    }

    #[test]
    fn foreign_text_is_cleaned_and_actions_and_mail_shaped() {
        let text = Text {
            body: "hi\u{1}there\u{0}".into(),
            action: true,
            ..Text::default()
        };
        let m = message(jid("a%h@gw"), jid("u@d"), &text);
        assert_eq!(m.type_, MessageType::Chat);
        assert_eq!(m.bodies[&Lang::default()], "/me hithere");
        let mail = Text {
            body: "b".into(),
            subject: Some("s".into()),
            thread: Some("<id@x>".into()),
            sent_at: Some(1_700_000_000),
            ..Text::default()
        };
        let m = message(jid("b\\40x.org@gw"), jid("u@d"), &mail);
        assert_eq!(m.type_, MessageType::Normal);
        assert_eq!(m.thread.unwrap().id, "<id@x>");
        assert!(m.payloads.iter().any(|p| p.is("delay", "urn:xmpp:delay")));
    }

    #[test]
    fn every_failure_has_a_condition() {
        assert_eq!(
            failure_condition(Failure::ItemNotFound),
            Condition::ItemNotFound
        );
        assert_eq!(failure_condition(Failure::Forbidden), Condition::Forbidden);
    }

    #[test]
    fn omemo_and_pgp_are_encrypted_receipts_are_not() {
        let mut m = Message::chat(None);
        m.payloads
            .push(Element::builder("request", "urn:xmpp:receipts").build());
        assert!(!is_encrypted(&m));
        m.payloads
            .push(Element::builder("encrypted", "eu.siacs.conversations.axolotl").build());
        assert!(is_encrypted(&m));
        let mut m = Message::chat(None);
        m.payloads
            .push(Element::builder("openpgp", "urn:xmpp:openpgp:0").build());
        assert!(is_encrypted(&m));
    }
}
