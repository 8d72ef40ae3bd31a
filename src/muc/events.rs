//! Room events from a user's session, as stanzas to the user's resources
//! in each room.

use compact_str::CompactString;
use ferry_bridge::{Address, Event, OccupantChange, Text};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::MessageType;
use xmpp_parsers::muc::user::Status;
use xmpp_parsers::presence::Type;
use xmpp_parsers::stanza_id::StanzaId;

use super::away;
use super::history::send_state;
use super::signals;
use super::stanzas::{self, occupant, DEFAULT_STANDING};
use crate::gateway::Gateway;
use crate::rooms::{NickChange, Room};
use crate::stanza_error;
use crate::stanzas::failure_condition;
use crate::xml_bytes::{MessageParts, Template};
use std::sync::Arc;

/// The room an event is about, if the user is in (or joining) it.
fn with_room<R>(
    gw: &Gateway,
    user: &BareJid,
    address: &Address,
    f: impl FnOnce(&mut Room) -> R,
) -> Option<R> {
    let key = gw.room_key(address)?;
    let mut rooms = gw.rooms.lock();
    rooms.get_mut(&(user.clone(), key)).map(|room| f(room))
}

fn remove_room(gw: &Gateway, user: &BareJid, address: &Address) -> Option<Box<Room>> {
    let key = gw.room_key(address)?;
    gw.rooms.ledger.changed(user);
    gw.rooms.lock().remove(&(user.clone(), key))
}

/// A group chat message to every resource in the room: the user's own
/// with the id and origin-id they sent, each with its archive id as
/// `<stanza-id/>`. Plain messages, the fan-out path, are written from one
/// template.
fn groupchat(gw: &Gateway, room: &Room, nick: &str, text: &Text, own: bool, seq: i64) {
    let (id, origin_id) = match own {
        true => (text.id.as_deref(), text.origin_id.as_deref()),
        false => (None, None),
    };
    let plain = text.subject.is_none()
        && text.thread.is_none()
        && text.sent_at.is_none()
        && text.styled.is_none()
        && text.reply.is_none();
    if plain {
        let Some(from) = stanzas::occupant_text(&room.jid, nick) else {
            return;
        };
        let (by, seq) = (room.jid.to_string(), seq.to_string());
        let template = Template::message(&MessageParts {
            from: &from,
            type_: "groupchat",
            id,
            body: &crate::stanzas::body(text),
            origin_id,
            stanza_id: Some((&seq, &by)),
        });
        for to in &room.resources {
            gw.send_bytes(to, template.to(to.as_str()));
        }
        return;
    }
    let Some(from) = occupant(&room.jid, nick) else {
        return;
    };
    for to in &room.resources {
        let mut m = crate::stanzas::message(from.clone(), to.clone(), text);
        m.type_ = MessageType::Groupchat;
        m.id = id.map(|id| xmpp_parsers::message::Id(id.to_owned()));
        if let Some(origin_id) = origin_id {
            m.payloads.push(
                xmpp_parsers::stanza_id::OriginId {
                    id: origin_id.to_owned(),
                }
                .into(),
            );
        }
        m.payloads.push(
            StanzaId {
                id: seq.to_string(),
                by: Jid::from(room.jid.clone()),
            }
            .into(),
        );
        if let Some(reply) = text.reply.as_deref() {
            if let Some(id) = reply.archive_id {
                let nick = reply.nick.as_deref();
                m.payloads
                    .push(crate::rich::reply_element(&room.jid, nick, id));
            }
        }
        gw.send(m);
    }
}

/// Takes a session's event: room events become the room's stanzas here;
/// anything else (and a connection or failure event once its rooms' part
/// is done) is given back for direct delivery.
/// `archived` is the archive id `archive` gave it. A join's history is
/// sent by tasks whose handles go to `histories`: the session's later
/// lines wait for them, so that none is both history and live.
/// One match over every room event, kept whole so that a new event kind
/// is one arm here; the arms call the room's builders and do nothing else.
pub fn event(
    gw: &Arc<Gateway>,
    user: &BareJid,
    event: Event,
    archived: Option<i64>,
    histories: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Option<Event> {
    match event {
        Event::Connection {
            network: Some(network),
            state: state @ ferry_bridge::Connection::Reconnecting { .. },
        } => {
            gw.rooms.connection_lost(user, &network);
            Some(Event::Connection {
                network: Some(network),
                state,
            })
        }
        Event::Failed {
            to,
            id,
            failure,
            text,
        } => {
            // A nick change refused by the network: XEP-0045 §7.6's error
            // presence, from the occupant JID asked for in the room as the
            // user wrote it, with the request's id.
            let change = with_room(gw, user, &to, |r| {
                r.nick_change.take().map(|c| (c, r.jid.clone()))
            });
            if let Some(Some((change, jid))) = change {
                let NickChange { resource, nick, id } = *change;
                let mut p = xmpp_parsers::presence::Presence::error()
                    .with_payload(stanza_error::error(failure_condition(failure), &text));
                p.from = occupant(&jid, &nick);
                p.to = Some(resource);
                p.id = id;
                gw.send(p);
                None
            } else {
                Some(Event::Failed {
                    to,
                    id,
                    failure,
                    text,
                })
            }
        }
        Event::Joined {
            room,
            nick,
            renamed,
        } => {
            histories.extend(joined(gw, user, &room, nick, renamed));
            None
        }
        Event::ChatState {
            from,
            nick: Some(nick),
            state,
        } => {
            with_room(gw, user, &from, |r| {
                signals::chat_state(gw, r, &nick, state)
            });
            None
        }
        Event::Reaction {
            room,
            nick,
            target,
            reactions,
        } => {
            with_room(gw, user, &room, |r| {
                signals::reaction(gw, r, &nick, &target, &reactions)
            });
            None
        }
        Event::Retracted { room, nick, target } => {
            with_room(gw, user, &room, |r| {
                signals::retracted(gw, r, &nick, &target)
            });
            None
        }
        Event::Occupant { .. }
        | Event::JoinFailed { .. }
        | Event::Subject { .. }
        | Event::RoomMessage { .. }
        | Event::PrivateMessage { .. }
        | Event::Left { .. } => {
            room_event(gw, user, event, archived);
            None
        }
        other => Some(other),
    }
}

fn room_event(gw: &Arc<Gateway>, user: &BareJid, event: Event, archived: Option<i64>) {
    match event {
        Event::Occupant { room, nick, change } => occupant_changed(gw, user, &room, nick, change),
        Event::JoinFailed {
            room,
            failure,
            text,
        } => {
            if let Some(r) = remove_room(gw, user, &room) {
                join_failed(gw, &r, failure, &text);
            }
            gw.end_session_if_idle(user);
        }
        Event::Subject { room, by, subject } => {
            with_room(gw, user, &room, |r| set_subject(gw, r, by, subject));
        }
        Event::RoomMessage {
            room,
            nick,
            text,
            own,
        } => {
            // Archived in `archive` before this; the room may have been
            // joined in between, then the line is delivered unarchived.
            let seq = archived.unwrap_or_else(|| gw.archiver.next_seq());
            with_room(gw, user, &room, |r| {
                groupchat(gw, r, &nick, &text, own, seq)
            });
        }
        Event::PrivateMessage { room, nick, text } => {
            with_room(gw, user, &room, |r| private_message(gw, r, &nick, &text));
        }
        Event::Left { room, reason } => {
            if let Some(r) = remove_room(gw, user, &room) {
                self_gone(gw, &r, vec![Status::SelfPresence], reason.as_deref());
            }
            gw.end_session_if_idle(user);
        }
        _ => {}
    }
}

/// The network took the user in: the room is joined, and the resources
/// that waited for it get its state; the tasks sending their history.
fn joined(
    gw: &Arc<Gateway>,
    user: &BareJid,
    room: &Address,
    nick: String,
    renamed: bool,
) -> Vec<tokio::task::JoinHandle<()>> {
    let histories = with_room(gw, user, room, |r| {
        r.own = r.occupants.remove(nick.as_str()).unwrap_or(r.own);
        r.nick = nick;
        r.renamed = renamed;
        r.joined = true;
        gw.rooms.ledger.changed(user);
        if let Some(stale) = r.stale.take() {
            resync(gw, r, stale);
        }
        // Taken whole: a drained Vec would keep its slots for good.
        let pending = std::mem::take(&mut r.pending);
        let mut histories = Vec::new();
        for (resource, history, _) in pending {
            r.resources.insert(resource.clone());
            histories.extend(send_state(gw, user, r, &resource, history));
        }
        histories
    });
    histories.unwrap_or_default()
}

/// The join was refused: an error presence to every resource of the
/// room, which is gone already.
fn join_failed(gw: &Gateway, r: &Room, failure: ferry_bridge::Failure, text: &str) {
    let from = occupant(&r.jid, &r.nick).unwrap_or_else(|| Jid::from(r.jid.clone()));
    // A waiting resource's error echoes its join's id, so
    // that the client knows which join it answers.
    let waiting = r.pending.iter().map(|(r, _, id)| (r, id.clone()));
    let joined = r.resources.iter().map(|r| (r, None));
    for (resource, id) in waiting.chain(joined) {
        let mut p = xmpp_parsers::presence::Presence::error()
            .with_payload(stanza_error::error(failure_condition(failure), text));
        p.from = Some(from.clone());
        p.to = Some(resource.clone());
        p.id = id;
        gw.send(p);
    }
}

/// The subject is kept for later joins, and shown now if the room is in.
fn set_subject(gw: &Gateway, r: &mut Room, by: Option<String>, subject: String) {
    r.subject = Some((by.clone(), subject.clone()));
    if r.joined {
        for to in &r.resources {
            gw.send(stanzas::subject(
                &r.jid,
                by.as_deref(),
                to.clone(),
                &subject,
            ));
        }
    }
}

/// A private message through the room, from the occupant's JID.
fn private_message(gw: &Gateway, r: &Room, nick: &str, text: &Text) {
    let Some(from) = occupant(&r.jid, nick) else {
        return;
    };
    for to in &r.resources {
        let mut m = crate::stanzas::message(from.clone(), to.clone(), text);
        // XEP-0045 §7.5: private messages carry an empty <x/>.
        m.payloads
            .push(xmpp_parsers::muc::user::MucUser::new().into());
        gw.send(m);
    }
}

/// The room is gone for the user (session ended, ferry stopping): their
/// own unavailable presence, with `status` (332 at shutdown).
pub fn gone(gw: &Gateway, room: &Room, status: Option<Status>) {
    let mut statuses = vec![Status::SelfPresence];
    statuses.extend(status);
    self_gone(gw, room, statuses, None);
}

/// After a rejoin: occupants who left while the connection was down are
/// shown leaving; everyone present is announced again (an update for
/// clients that already knew them).
fn resync(gw: &Gateway, r: &Room, stale: crate::rooms::Occupants) {
    for to in &r.resources {
        for (nick, standing) in &stale {
            if r.occupants.contains_key(nick) || *nick == r.nick.as_str() {
                continue;
            }
            if let Some(from) = stanzas::occupant_text(&r.jid, nick) {
                let gone = (ferry_bridge::Role::None, standing.1);
                stanzas::send_occupant(gw, &from, to, true, gone);
            }
        }
        for (nick, standing) in &r.occupants {
            if let Some(from) = stanzas::occupant_text(&r.jid, nick) {
                stanzas::send_occupant(gw, &from, to, false, *standing);
            }
        }
        if let Some(from) = occupant(&r.jid, &r.nick) {
            let statuses = vec![Status::SelfPresence];
            gw.send(stanzas::presence(
                from,
                to.clone(),
                Type::None,
                r.own,
                statuses,
                |i| i,
            ));
        }
    }
}

/// The user's own unavailable presence to each of their resources.
fn self_gone(gw: &Gateway, r: &Room, statuses: Vec<Status>, reason: Option<&str>) {
    if let Some(from) = occupant(&r.jid, &r.nick) {
        let none = (ferry_bridge::Role::None, r.own.1);
        unavailable(gw, r, &from, none, statuses, reason);
    }
}

/// An unavailable presence from `from` to every resource in the room,
/// the reason as its status text.
fn unavailable(
    gw: &Gateway,
    r: &Room,
    from: &Jid,
    standing: Standing,
    statuses: Vec<Status>,
    reason: Option<&str>,
) {
    for to in &r.resources {
        let mut p = stanzas::presence(
            from.clone(),
            to.clone(),
            Type::Unavailable,
            standing,
            statuses.clone(),
            |i| i,
        );
        if let Some(reason) = reason {
            p.set_status(
                xmpp_parsers::message::Lang::default(),
                crate::xml_clean::clean(reason).into_owned(),
            );
        }
        gw.send(p);
    }
}

/// An occupant joined, changed standing, left, was kicked or renamed:
/// the room's list follows, and every resource in the room is shown it.
/// A kick of the user ends the room for them.
fn occupant_changed(
    gw: &Gateway,
    user: &BareJid,
    address: &Address,
    nick: String,
    change: OccupantChange,
) {
    let kicked_self = with_room(gw, user, address, |r| {
        if !r.joined {
            // Still joining: collect the member list, and who is away.
            match change {
                OccupantChange::Joined { role, affiliation } => {
                    r.occupants
                        .insert(CompactString::new(&nick), (role, affiliation));
                }
                OccupantChange::Away { note } => {
                    away::set(r, &nick, Some(note));
                }
                OccupantChange::Back => {
                    away::set(r, &nick, None);
                }
                _ => {}
            }
            return false;
        }
        let own = nick == r.nick;
        match change {
            OccupantChange::Joined { role, affiliation }
            | OccupantChange::Standing { role, affiliation } => {
                if own {
                    r.own = (role, affiliation);
                } else {
                    r.occupants
                        .insert(CompactString::new(&nick), (role, affiliation));
                }
                let shown = Shown::new(&nick, Type::None, (role, affiliation), vec![]);
                broadcast(gw, r, own, shown);
                false
            }
            OccupantChange::Away { note } => {
                away::changed(gw, r, &nick, Some(note));
                false
            }
            OccupantChange::Back => {
                away::changed(gw, r, &nick, None);
                false
            }
            OccupantChange::Left { reason } => {
                away::set(r, &nick, None);
                let standing = r
                    .occupants
                    .remove(nick.as_str())
                    .unwrap_or(DEFAULT_STANDING);
                let none = (ferry_bridge::Role::None, standing.1);
                if let Some(from) = occupant(&r.jid, &nick) {
                    unavailable(gw, r, &from, none, vec![], reason.as_deref());
                }
                false
            }
            OccupantChange::Kicked {
                by: _,
                reason,
                banned,
            } => {
                let standing = departing(r, own, &nick);
                let (affiliation, status) = match banned {
                    true => (ferry_bridge::Affiliation::Outcast, Status::Banned),
                    false => (standing.1, Status::Kicked),
                };
                let gone = (ferry_bridge::Role::None, affiliation);
                let shown = Shown {
                    reason: reason.as_deref(),
                    ..Shown::new(&nick, Type::Unavailable, gone, vec![status])
                };
                broadcast(gw, r, own, shown);
                own
            }
            OccupantChange::Renamed { to } => {
                renamed(gw, user, r, own, &nick, to);
                false
            }
        }
    });
    if kicked_self == Some(true) {
        remove_room(gw, user, address);
        gw.end_session_if_idle(user);
    }
}

/// A nick change, as XEP-0045 §7.6 shows it: the old nick leaves with
/// 303 and the new one, then the new nick arrives.
fn renamed(gw: &Gateway, user: &BareJid, r: &mut Room, own: bool, nick: &str, to: String) {
    let standing = departing(r, own, nick);
    let shown = Shown {
        new_nick: Some(&to),
        ..Shown::new(nick, Type::Unavailable, standing, vec![Status::NewNick])
    };
    broadcast(gw, r, own, shown);
    if own {
        gw.rooms.ledger.changed(user);
        r.nick = to.clone();
        r.nick_change = None;
    } else {
        r.occupants.insert(CompactString::new(&to), standing);
    }
    broadcast(gw, r, own, Shown::new(&to, Type::None, standing, vec![]));
}

/// An occupant's presence as every resource in the room is shown it.
struct Shown<'a> {
    nick: &'a str,
    type_: Type,
    standing: Standing,
    statuses: Vec<Status>,
    new_nick: Option<&'a str>,
    reason: Option<&'a str>,
}

impl<'a> Shown<'a> {
    fn new(nick: &'a str, type_: Type, standing: Standing, statuses: Vec<Status>) -> Self {
        Shown {
            nick,
            type_,
            standing,
            statuses,
            new_nick: None,
            reason: None,
        }
    }
}

/// An occupant's presence to every resource in the room, with 110 when
/// it is the user's own. Plain ones, the fan-out path, are written from
/// bytes.
fn broadcast(gw: &Gateway, r: &Room, own: bool, shown: Shown<'_>) {
    let Shown {
        nick,
        type_,
        standing,
        mut statuses,
        new_nick,
        reason,
    } = shown;
    let Some(from) = occupant(&r.jid, nick) else {
        return;
    };
    if own {
        statuses.push(Status::SelfPresence);
    }
    let plain = statuses.is_empty() && new_nick.is_none() && reason.is_none();
    if plain && matches!(type_, Type::None | Type::Unavailable) {
        let from = from.to_string();
        for to in &r.resources {
            let unavailable = type_ == Type::Unavailable;
            stanzas::send_occupant(gw, &from, to, unavailable, standing);
        }
        return;
    }
    for to in &r.resources {
        let p = stanzas::presence(
            from.clone(),
            to.clone(),
            type_.clone(),
            standing,
            statuses.clone(),
            |mut item| {
                if let Some(new) = new_nick {
                    item = item.with_nick(new);
                }
                if let Some(reason) = reason {
                    item = item.with_reason(crate::xml_clean::clean(reason).into_owned());
                }
                item
            },
        );
        gw.send(p);
    }
}

/// The standing of an occupant leaving the list: the user's own, or the
/// one the list had for them.
fn departing(r: &mut Room, own: bool, nick: &str) -> Standing {
    if own {
        r.own
    } else {
        r.occupants.remove(nick).unwrap_or(DEFAULT_STANDING)
    }
}

type Standing = (ferry_bridge::Role, ferry_bridge::Affiliation);
