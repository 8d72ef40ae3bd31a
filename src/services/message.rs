//! Messages: help on the bridge JID, the refusals every backend shares.

use std::sync::Arc;

use ferry_bridge::{Address, AddressKind, Intent, Text};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Message, MessageType};

use super::reply::address_error;
use crate::gateway::{Gateway, Target};
use crate::sessions;
use crate::sessions::registry::Refused;
use crate::stanza_error::{self, Condition};
use crate::stanzas::{is_encrypted, text_of};
use crate::stats::Refusal;

fn refuse(gw: &Gateway, message: &Message, condition: Condition, text: &str) {
    if let Some(reply) = stanza_error::message(message, stanza_error::error(condition, text)) {
        gw.send(reply);
    }
}

pub fn handle(gw: &Arc<Gateway>, from: Jid, message: Message) {
    if message.type_ == MessageType::Error || super::roster::advertised(gw, &from, &message) {
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
    if let Some((condition, text)) = refusal(gw, &from, &message) {
        gw.stats.refused(match condition {
            Condition::Forbidden => Refusal::Access,
            Condition::NotAcceptable => Refusal::Encrypted,
            _ => Refusal::BodyBytes,
        });
        return refuse(gw, &message, condition, &text);
    }
    if address.kind == AddressKind::Room {
        return crate::muc::message(gw, from, to, address, message);
    }
    if !has_body {
        // A chat state goes to a session that is there (in the user's
        // lane, after their messages); receipts, markers: nothing to carry.
        if let Some(state) = crate::rich::chat_state(&message) {
            let (lane, user) = (gw.clone(), from.to_bare());
            let intent = Intent::ChatState { to: address, state };
            gw.lanes.run(&user.clone(), async move {
                let _ = lane.sessions.send(&user, intent);
            });
        }
        return;
    }
    send_direct(gw, from, to, address, message);
}

/// Why a message to the other side is not carried, whatever it is for.
fn refusal(gw: &Gateway, from: &Jid, message: &Message) -> Option<(Condition, String)> {
    if !gw.allowed(from) {
        let text = "your server may not use this gateway";
        return Some((Condition::Forbidden, text.into()));
    }
    if is_encrypted(message) {
        let text = "encrypted messages cannot be bridged: the other side could not read them";
        return Some((Condition::NotAcceptable, text.into()));
    }
    let limit = gw.limits.body_bytes;
    if message.bodies.values().any(|b| b.len() > limit) {
        let text = format!("a message may hold {limit} bytes (limits.body_bytes)");
        return Some((Condition::PolicyViolation, text));
    }
    None
}

/// A direct message to a contact, in the user's lane: it reaches the
/// network in the order the user sent it, after a join sent before it.
fn send_direct(gw: &Arc<Gateway>, from: Jid, to: Jid, address: Address, message: Message) {
    let user = from.to_bare();
    let lane = gw.clone();
    gw.lanes.run(&user.clone(), async move {
        let gw = lane;
        if let Err((condition, why)) = admit(&gw, &user).await {
            return refuse(&gw, &message, condition, why);
        }
        let mut text = text_of(&message);
        if let Some(url) = crate::files::outgoing::link(&message) {
            if !gw.bridge.takes_files() {
                crate::files::outgoing::as_text(&mut text, &url);
            } else if let Err((condition, why)) =
                crate::files::outgoing::attach(&gw, &user, &url, &mut text).await
            {
                return refuse(&gw, &message, condition, &why);
            }
        }
        if let Err((condition, why)) = hand_over(&gw, &from, &to, address, text).await {
            refuse(&gw, &message, condition, why);
        }
    });
}

/// Whether `user` may send to contacts: registered, with a session
/// (started if need be). Asked before any work for their message (a file
/// fetched, a transfer accepted); on a refusal, the error to answer with.
pub async fn admit(gw: &Arc<Gateway>, user: &BareJid) -> Result<(), (Condition, &'static str)> {
    match gw.is_registered(user).await {
        Err(_) => Err((Condition::InternalServerError, "")),
        Ok(false) => Err((
            Condition::RegistrationRequired,
            "register with this gateway first",
        )),
        Ok(true) if !sessions::ensure(gw, user, false).await => Err((
            Condition::ServiceUnavailable,
            "this gateway does not carry messages to contacts yet",
        )),
        Ok(true) => Ok(()),
    }
}

/// Gives an admitted user's direct message to their session; a file it
/// holds is let go of when the session does not take it.
pub async fn hand_over(
    gw: &Arc<Gateway>,
    from: &Jid,
    to: &Jid,
    address: Address,
    text: Text,
) -> Result<(), (Condition, &'static str)> {
    let user = from.to_bare();
    if let Some(id) = &text.id {
        gw.sessions.remember_sender(from, id);
    }
    if let Some(canonical) = gw.jid_of(&address) {
        gw.sessions.remember_alias(&user, &canonical, to);
    }
    let files = text.files.clone();
    let intent = Intent::SendDirect { to: address, text };
    if gw.sessions.send(&user, intent) == Err(Refused::Busy) {
        let held = Text {
            files,
            ..Text::default()
        };
        crate::files::outgoing::let_go(gw, &user, &held).await;
        return Err((Condition::ResourceConstraint, "too many messages waiting"));
    }
    Ok(())
}
