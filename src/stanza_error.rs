//! Error replies, RFC 6120 §8: one place that knows each condition's type
//! and that never answers an error or a result.

use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::presence::{Presence, Type as PresenceType};
pub use xmpp_parsers::stanza_error::DefinedCondition as Condition;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

fn error_type(condition: &DefinedCondition) -> ErrorType {
    use DefinedCondition::*;
    match condition {
        BadRequest | NotAcceptable | JidMalformed | PolicyViolation => ErrorType::Modify,
        Forbidden | NotAuthorized | RegistrationRequired => ErrorType::Auth,
        ResourceConstraint | RecipientUnavailable | RemoteServerTimeout => ErrorType::Wait,
        _ => ErrorType::Cancel,
    }
}

/// An error with a human-readable text; the text may quote a foreign
/// server, so it is cleaned for XML.
pub fn error(condition: DefinedCondition, text: &str) -> StanzaError {
    let mut e = StanzaError::new(
        error_type(&condition),
        condition,
        "en",
        crate::xml_clean::clean(text),
    );
    if text.is_empty() {
        e.texts.clear();
    }
    e
}

/// The error reply to a request `iq` from `from` to `to` with `id`.
pub fn iq(to_us: Option<Jid>, from_them: Option<Jid>, id: String, e: StanzaError) -> Iq {
    Iq::Error {
        from: to_us,
        to: from_them,
        id,
        error: e,
        payload: None,
    }
}

/// The error reply to a message, or `None` for an error message.
pub fn message(original: &Message, e: StanzaError) -> Option<Message> {
    if original.type_ == MessageType::Error {
        return None;
    }
    let mut reply = Message::error(original.from.clone());
    reply.from = original.to.clone();
    reply.id = original.id.clone();
    Some(reply.with_payload(e))
}

/// The error reply to a presence, or `None` for an error presence.
pub fn presence(original: &Presence, e: StanzaError) -> Option<Presence> {
    if original.type_ == PresenceType::Error {
        return None;
    }
    let mut reply = Presence::error();
    reply.from = original.to.clone();
    reply.to = original.from.clone();
    reply.id = original.id.clone();
    Some(reply.with_payload(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_the_condition() {
        assert_eq!(error(Condition::BadRequest, "").type_, ErrorType::Modify);
        assert_eq!(error(Condition::Forbidden, "").type_, ErrorType::Auth);
        assert_eq!(
            error(Condition::ServiceUnavailable, "").type_,
            ErrorType::Cancel
        );
        assert_eq!(
            error(Condition::ResourceConstraint, "").type_,
            ErrorType::Wait
        );
        assert!(error(Condition::BadRequest, "").texts.is_empty());
        assert_eq!(
            error(Condition::NotAcceptable, "nick: x").texts["en"],
            "nick: x"
        );
    }

    #[test]
    fn errors_are_never_answered() {
        let mut m = Message::error(None);
        m.from = Some(Jid::new("a@b/c").unwrap());
        assert!(message(&m, error(Condition::BadRequest, "")).is_none());
        let mut m = Message::chat(Jid::new("x@gw").unwrap());
        m.from = Some(Jid::new("a@b/c").unwrap());
        let reply = message(&m, error(Condition::BadRequest, "")).unwrap();
        assert_eq!(reply.to, m.from);
        assert_eq!(reply.from, m.to);
        assert!(presence(&Presence::error(), error(Condition::BadRequest, "")).is_none());
    }
}
