//! Room events that are not lines (SPEC §9): an occupant's chat state,
//! reactions and retractions, as groupchat messages without a body from
//! the occupant to the user's resources in the room. Not archived.

use ferry_bridge::{ChatState, Reply};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::minidom::Element;

use super::stanzas::occupant;
use crate::gateway::Gateway;
use crate::rooms::Room;

/// A payload from `nick` to every resource in the room.
fn send(gw: &Gateway, room: &Room, nick: &str, payload: Element) {
    let Some(from) = occupant(&room.jid, nick) else {
        return;
    };
    for to in &room.resources {
        let mut m = Message::new_with_type(MessageType::Groupchat, Some(to.clone()));
        m.from = Some(from.clone());
        m.payloads.push(payload.clone());
        gw.send(m);
    }
}

pub fn chat_state(gw: &Gateway, room: &Room, nick: &str, state: ChatState) {
    // The user's own typing, echoed by nobody: never shown back.
    if nick != room.nick {
        send(gw, room, nick, crate::rich::chat_state_element(state));
    }
}

/// Reactions to a line the user's archive has (else the clients could
/// not tell which line).
pub fn reaction(gw: &Gateway, room: &Room, nick: &str, target: &Reply, reactions: &[String]) {
    if let Some(id) = target.archive_id {
        send(
            gw,
            room,
            nick,
            crate::rich::reactions_element(id, reactions),
        );
    }
}

/// A retraction of a line the user's archive has, by its author.
pub fn retracted(gw: &Gateway, room: &Room, nick: &str, target: &Reply) {
    let own = target.nick.as_deref().is_none_or(|author| author == nick);
    if let (Some(id), true) = (target.archive_id, own) {
        send(gw, room, nick, crate::rich::retract_element(id));
    }
}
