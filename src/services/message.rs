//! Messages: help on the bridge JID, the refusals every backend shares.

use std::sync::Arc;

use ferry_bridge::{AddressKind, Intent, Text};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::ns;

use super::iq::address_error;
use crate::gateway::{Gateway, Target};
use crate::sessions::registry::Refused;
use crate::sessions;
use crate::stanza_error::{self, Condition};

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

fn refuse(gw: &Gateway, message: &Message, condition: Condition, text: &str) {
    if let Some(reply) = stanza_error::message(message, stanza_error::error(condition, text)) {
        gw.send(reply);
    }
}

/// What the user wrote, for a session: the body, `/me` as an action.
pub fn text_of(message: &Message) -> Text {
    let body = message
        .bodies
        .get("")
        .or_else(|| message.bodies.values().next())
        .cloned()
        .unwrap_or_default();
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
    }
}

pub fn handle(gw: &Arc<Gateway>, from: Jid, message: Message) {
    if message.type_ == MessageType::Error {
        return;
    }
    let to = message.to.clone().unwrap_or_else(|| gw.jid.clone());
    let target = match gw.target(&to) {
        Ok(t) => t,
        Err(e) => {
            if let Some(reply) = stanza_error::message(&message, address_error(&e)) {
                gw.send(reply);
            }
            return;
        }
    };
    let has_body = message.bodies.values().any(|b| !b.trim().is_empty());
    let Target::Foreign(address) = target else {
        if has_body && message.type_ != MessageType::Groupchat {
            let mut help = Message::chat(Some(from));
            help.from = Some(gw.jid.clone());
            gw.send(help.with_body(
                xmpp_parsers::message::Lang::default(),
                gw.bridge.help_text(),
            ));
        }
        return;
    };
    if !gw.allowed(&from) {
        return refuse(
            gw,
            &message,
            Condition::Forbidden,
            "your server may not use this gateway",
        );
    }
    if is_encrypted(&message) {
        return refuse(
            gw,
            &message,
            Condition::NotAcceptable,
            "encrypted messages cannot be bridged: the other side could not read them",
        );
    }
    let limit = gw.limits.body_bytes;
    if message.bodies.values().any(|b| b.len() > limit) {
        let text = format!("a message may hold {limit} bytes (limits.body_bytes)");
        return refuse(gw, &message, Condition::PolicyViolation, &text);
    }
    if address.kind == AddressKind::Room {
        return crate::muc::message(gw, from, to, address, message);
    }
    if !has_body {
        // Chat states, receipts, markers: nothing to carry.
        return;
    }
    let user = from.to_bare();
    let lane = gw.clone();
    gw.lanes.run(&user.clone(), async move {
        let gw = lane;
        let Ok(registered) = gw.is_registered(&user).await else {
            return refuse(&gw, &message, Condition::InternalServerError, "");
        };
        if !registered {
            return refuse(
                &gw,
                &message,
                Condition::RegistrationRequired,
                "register with this gateway first",
            );
        }
        if !sessions::ensure(&gw, &user, false).await {
            return refuse(
                &gw,
                &message,
                Condition::ServiceUnavailable,
                "this gateway does not carry messages to contacts yet",
            );
        }
        if let Some(id) = &message.id {
            gw.sessions.remember_sender(&from, &id.0);
        }
        if let Some(canonical) = gw.jid_of(&address) {
            gw.sessions.remember_alias(&user, &canonical, &to);
        }
        let intent = Intent::SendDirect {
            to: address,
            text: text_of(&message),
        };
        if gw.sessions.send(&user, intent) == Err(Refused::Busy) {
            refuse(
                &gw,
                &message,
                Condition::ResourceConstraint,
                "too many messages waiting",
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::minidom::Element;

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
