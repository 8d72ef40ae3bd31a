//! What users send to rooms: joins, leaves and nick changes (presence),
//! group and private messages, subject changes, kicks, self-pings.

use std::sync::Arc;

use ferry_bridge::{Address, Intent};
use xmpp_parsers::disco::{DiscoInfoResult, Identity};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::muc::muc::History;
use xmpp_parsers::muc::user::Status;
use xmpp_parsers::ns;
use xmpp_parsers::presence::{Presence, Type};
use xmpp_parsers::stanza_error::StanzaError;

use super::history::send_state;
use super::stanzas::{self, occupant};
use crate::gateway::Gateway;
use crate::rooms::{NickChange, Room};
use crate::sessions;
use crate::stanza_error::{self, Condition};
use crate::stanzas::text_of;

/// The `<history/>` a join presence asks for.
fn history_of(presence: &Presence) -> Option<History> {
    let x = presence.payloads.iter().find(|p| p.is("x", ns::MUC))?;
    let muc = xmpp_parsers::muc::Muc::try_from(x.clone()).ok()?;
    muc.history
}

fn error_presence(gw: &Gateway, from: Jid, to: Jid, condition: Condition, text: &str) {
    let mut p = Presence::error().with_payload(stanza_error::error(condition, text));
    p.from = Some(from);
    p.to = Some(to);
    gw.send(p);
}

/// The password a join presence carries.
fn password_of(presence: &Presence) -> Option<String> {
    presence
        .payloads
        .iter()
        .find(|p| p.is("x", ns::MUC))
        .and_then(|x| x.get_child("password", ns::MUC))
        .map(|p| p.text())
}

pub fn presence(gw: &Arc<Gateway>, from: Jid, to: Jid, address: Address, presence: Presence) {
    let Some(nick) = to.resource().map(|r| r.to_string()) else {
        return; // presence to the bare room JID: nothing to do
    };
    let Some(room_key) = gw.room_key(&address) else {
        return;
    };
    let user = from.to_bare();
    let mut rooms = gw.rooms.lock();
    let entry = rooms.get_mut(&(user.clone(), room_key.clone()));
    match (presence.type_.clone(), entry) {
        (Type::Unavailable, Some(room)) => {
            if !resource_left(gw, room, &from) {
                return;
            }
            let always_on = gw
                .always_on
                .room(&user, room.address.network.as_deref(), &room_key);
            drop(rooms);
            if always_on {
                tokio::spawn(leave_unless_offline(gw.clone(), from, room_key));
            } else {
                leave(gw, &user, &room_key);
            }
        }
        (Type::None, Some(room)) if room.resources.contains(&from) => {
            if nick != room.nick {
                room.nick_change = Some(Box::new(NickChange {
                    resource: from.clone(),
                    nick: nick.clone(),
                    id: presence.id.clone(),
                }));
                let intent = Intent::ChangeNick {
                    room: room.address.clone(),
                    nick,
                };
                drop(rooms);
                if gw.sessions.send(&user, intent).is_err() {
                    error_presence(
                        gw,
                        to,
                        from,
                        Condition::ServiceUnavailable,
                        "cannot change the nick now",
                    );
                }
            } else if presence.payloads.iter().any(|p| p.is("x", ns::MUC)) {
                // A repeated join: the room state again, no new JOIN.
                let _ = send_state(gw, &user, room, &from, history_of(&presence));
            }
        }
        (Type::None, Some(room)) => resource_joins(gw, &user, room, from, &presence),
        (Type::None, None) => {
            let intent = Intent::JoinRoom {
                room: address.clone(),
                nick: nick.clone(),
                password: password_of(&presence),
            };
            let mut room = Box::new(Room::new(address, to.to_bare(), nick));
            let id = presence.id.clone();
            room.pending.push((from.clone(), history_of(&presence), id));
            rooms.insert((user.clone(), room_key.clone()), room);
            drop(rooms);
            join(gw, user, room_key, intent, to, from);
        }
        _ => {}
    }
}

/// How long after a resource's last `unavailable` to an always-on room
/// ferry waits for its `unavailable` to the bridge JID: the one a server
/// sends to rooms when a resource goes offline comes with it (SPEC §7).
const OFFLINE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// An always-on room whose last resource left: it stays joined when the
/// resource went offline, and is left when the resource is still there (it
/// left the room on purpose) unless someone joined again meanwhile.
async fn leave_unless_offline(gw: Arc<Gateway>, resource: Jid, room_key: String) {
    tokio::time::sleep(OFFLINE_GRACE).await;
    let user = resource.to_bare();
    if !gw.online_resources(&user).contains(&resource) {
        return;
    }
    let unoccupied = gw
        .rooms
        .lock()
        .get(&(user.clone(), room_key.clone()))
        .is_some_and(|r| r.resources.is_empty() && r.pending.is_empty());
    if unoccupied {
        leave(&gw, &user, &room_key);
    }
}

/// Parts the room on the network and forgets it.
fn leave(gw: &Gateway, user: &BareJid, room_key: &str) {
    let Some(room) = gw.rooms.lock().remove(&(user.clone(), room_key.to_owned())) else {
        return;
    };
    gw.rooms.ledger.changed(user);
    let _ = gw.sessions.send(
        user,
        Intent::LeaveRoom {
            room: room.address,
            reason: None,
        },
    );
    gw.end_session_if_idle(user);
}

/// Another of the user's resources joins a room the user is in (it is
/// sent the room's state now) or is joining (it waits with the others).
fn resource_joins(
    gw: &Arc<Gateway>,
    user: &BareJid,
    room: &mut Room,
    from: Jid,
    presence: &Presence,
) {
    let history = history_of(presence);
    if room.joined {
        room.resources.insert(from.clone());
        let _ = send_state(gw, user, room, &from, history);
    } else if !room.pending.iter().any(|(r, _, _)| *r == from) {
        room.pending.push((from, history, presence.id.clone()));
    }
}

/// One of the user's resources leaves the room: its own unavailable
/// presence. True when no resource is left in or waiting for the room.
fn resource_left(gw: &Gateway, room: &mut Room, from: &Jid) -> bool {
    room.pending.retain(|(r, _, _)| r != from);
    if room.resources.remove(from) {
        if let Some(own) = occupant(&room.jid, &room.nick) {
            gw.send(stanzas::presence(
                own,
                from.clone(),
                Type::Unavailable,
                // A departing occupant has no role (XEP-0045 §7.14).
                (ferry_bridge::Role::None, room.own.1),
                vec![Status::SelfPresence],
                |i| i,
            ));
        }
    }
    room.resources.is_empty() && room.pending.is_empty()
}

/// Asks the network for a new room; the room is forgotten again, with an
/// error to the resource, when the user's session cannot take the join.
fn join(gw: &Arc<Gateway>, user: BareJid, room_key: String, intent: Intent, to: Jid, from: Jid) {
    // In the user's lane: a direct message sent after the join
    // reaches the network after it.
    let lane = gw.clone();
    gw.lanes.run(&user.clone(), async move {
        let gw = lane;
        let sent =
            sessions::ensure(&gw, &user, true).await && gw.sessions.send(&user, intent).is_ok();
        if !sent {
            gw.rooms.lock().remove(&(user.clone(), room_key));
            error_presence(
                &gw,
                to,
                from,
                Condition::ServiceUnavailable,
                "cannot reach that network now",
            );
        }
    });
}

/// A message to a room (a line, or a subject change) or through it to an
/// occupant (a private message), from a resource that is in the room.
pub fn message(gw: &Arc<Gateway>, from: Jid, to: Jid, address: Address, message: Message) {
    let user = from.to_bare();
    let refuse = |condition: Condition, text: &str| {
        if let Some(reply) = stanza_error::message(&message, stanza_error::error(condition, text)) {
            gw.send(reply);
        }
    };
    let Some(room_key) = gw.room_key(&address) else {
        return;
    };
    let joined = gw
        .rooms
        .lock()
        .get(&(user.clone(), room_key.clone()))
        .is_some_and(|r| r.resources.contains(&from));
    if !joined {
        return refuse(Condition::NotAcceptable, "you are not in this room");
    }
    if let Some(id) = &message.id {
        gw.sessions.remember_sender(&from, &id.0);
    }
    if let Some(invitee) = super::invites::invitee(&message) {
        if let Some(intent) = super::invites::send(gw, &from, &to, address, invitee) {
            super::outgoing::send(gw, user, room_key, intent, message);
        }
        return;
    }
    let has_body = message.bodies.values().any(|b| !b.trim().is_empty());
    let intent = match (message.type_.clone(), to.resource()) {
        (MessageType::Groupchat, None) if has_body => Intent::SendRoom {
            room: address,
            text: text_with_link(&message),
        },
        (MessageType::Groupchat, None) => match message.subjects.values().next() {
            Some(subject) => Intent::SetSubject {
                room: address,
                subject: subject.clone(),
            },
            None => match super::outgoing::bodiless(&address, &message) {
                Some(intent) => intent,
                None => return,
            },
        },
        (_, Some(nick)) if has_body => Intent::SendPrivate {
            room: address,
            nick: nick.to_string(),
            text: text_with_link(&message),
        },
        _ => return,
    };
    super::outgoing::send(gw, user, room_key, intent, message);
}

/// disco#info of a room (XEP-0045 §6.4).
fn room_info(gw: &Gateway, address: &Address) -> Element {
    DiscoInfoResult {
        node: None,
        identities: vec![Identity::new(
            "conference",
            gw.bridge.room_type(),
            "en",
            address.name.clone(),
        )],
        features: [
            ns::MUC,
            "muc_open",
            "muc_semianonymous",
            "muc_persistent",
            "muc_unmoderated",
            ns::MAM,
            "http://jabber.org/protocol/muc#self-ping-optimization",
            // The "settings" command (always-on).
            "http://jabber.org/protocol/commands",
            ns::DISCO_INFO,
        ]
        .iter()
        .map(|f| f.to_string())
        .collect(),
        extensions: vec![],
    }
    .into()
}

/// Answers a MAM query on a room, from the asker's own archive.
pub fn mam(
    gw: &Arc<Gateway>,
    reply: crate::services::reply::Reply,
    address: &Address,
    payload: Element,
) {
    let Some(room_key) = gw.room_key(address) else {
        return reply.send(gw, Err(stanza_error::error(Condition::ItemNotFound, "")));
    };
    let room = reply.us.to_bare();
    let gw = gw.clone();
    tokio::spawn(async move {
        let user = reply.them.to_bare();
        let answer =
            super::history::query(&gw, &user, &reply.them, &room, &room_key, payload).await;
        reply.send(&gw, answer);
    });
}

/// An iq to a room or an occupant; `None` when it is not the room's.
pub fn iq(
    gw: &Arc<Gateway>,
    from: &Jid,
    to: &Jid,
    address: &Address,
    payload: &Element,
    set: bool,
) -> Option<Result<Option<Element>, StanzaError>> {
    let user = from.to_bare();
    let room_key = gw.room_key(address)?;
    let rooms = gw.rooms.lock();
    let room = rooms.get(&(user.clone(), room_key));
    match (payload.ns().as_str(), payload.name(), set, to.resource()) {
        (ns::DISCO_INFO, "query", false, None) if payload.attr("node").is_none() => {
            Some(Ok(Some(room_info(gw, address))))
        }
        // XEP-0410: a ping to one's own occupant JID says whether one is in.
        (ns::PING, "ping", false, Some(nick)) => {
            let inside =
                room.is_some_and(|r| r.resources.contains(from) && r.nick == nick.as_str());
            Some(if inside {
                Ok(None)
            } else {
                Err(stanza_error::error(
                    Condition::NotAcceptable,
                    "you are not in this room",
                ))
            })
        }
        _ => None,
    }
}

/// A room message's text, with the file it links to (XEP-0066) as a line:
/// rooms are IRC's, which carries links as text.
fn text_with_link(message: &Message) -> ferry_bridge::Text {
    let mut text = text_of(message);
    if let Some(url) = crate::files::outgoing::link(message) {
        crate::files::outgoing::as_text(&mut text, &url);
    }
    text
}
