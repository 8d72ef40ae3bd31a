//! A session's events, turned into stanzas for the user.

use std::sync::Arc;

use ferry_bridge::{Address, Connection, Event, Text};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Lang, Message, MessageType};
use xmpp_parsers::presence::{Presence, Show, Type};

use crate::gateway::Gateway;
use crate::stanza_error;
use crate::stanzas::{contact_presence, failure_condition, message};
use crate::xml_clean::clean;

/// Events taken as one batch at most.
const BATCH: usize = 64;

pub(super) async fn run(
    gw: Arc<Gateway>,
    user: BareJid,
    mut events: ferry_bridge::channel::Receiver<Event>,
    _counted: super::registry::Delivering,
) {
    let charged = user.to_string();
    while let Some(first) = events.recv_boxed().await {
        // What queued up meanwhile is one batch: its room lines are
        // committed to the archive together before any is delivered, so a
        // line a client has seen survives a crash (SPEC §2).
        // A join ends a batch: its history is read from the archive, which
        // must not yet hold the lines after it (they are delivered live).
        let mut batch = vec![first];
        while batch.len() < BATCH
            && !batch
                .last()
                .is_some_and(|e| matches!(**e, Event::Joined { .. }))
        {
            match events.try_recv_boxed() {
                Some(event) => batch.push(event),
                None => break,
            }
        }
        let mut archived = Vec::with_capacity(batch.len());
        let mut again = vec![false; batch.len()];
        let mut replays = crate::muc::replay::Replays::default();
        for (i, event) in batch.iter_mut().enumerate() {
            crate::muc::refs::resolve(&gw, &user, event).await;
            let mut row = crate::muc::replay::row(&gw, &user, event);
            if let Some(row) = &mut row {
                again[i] = !replays.place(&gw, event, row).await;
            }
            archived.push(row.as_ref().map(|row| row.seq));
            if let Some(row) = row.filter(|_| !again[i]) {
                gw.archiver.add(row).await;
            }
        }
        if archived.iter().any(Option::is_some) {
            gw.archiver.flush().await;
        }
        let fresh = batch.into_iter().zip(archived).zip(again);
        let mut histories = Vec::new();
        for ((mut event, seq), _) in fresh.filter(|(_, again)| !again) {
            // A contact's files are uploaded first: the text lists those
            // that could not be, and the links follow it.
            let links = crate::files::incoming::carry(&gw, &user, &mut event).await;
            // A user who cannot take more (their server reads slowly, or
            // a burst) holds their own session back; nothing is dropped.
            gw.out.wait_room(&charged).await;
            crate::component::admitted(|| {
                let direct = crate::muc::events::event(&gw, &user, *event, seq, &mut histories);
                if let Some(direct) = direct {
                    deliver(&gw, &user, direct);
                }
                if let Some(links) = links {
                    crate::files::incoming::send(&gw, &user, links);
                }
            });
            // A join's history goes before the lines after the join.
            for history in histories.drain(..) {
                let _ = history.await;
            }
        }
    }
    // The session is gone: so are its rooms.
    gw.sessions.forget_connections(&user);
    gw.sessions.forget_contacts(&user);
    for room in gw.rooms.forget_user(&user) {
        crate::muc::events::gone(&gw, &room, None);
    }
    tracing::info!(bridge = gw.name(), user = %user, "session ended");
}

/// The connection state as the network JID's presence.
fn connection_presence(from: Jid, to: Jid, state: &Connection) -> Presence {
    let (type_, show, status) = match state {
        Connection::Connecting => (Type::None, Some(Show::Xa), "Connecting…".to_owned()),
        Connection::Online { nick, note } => (
            Type::None,
            None,
            match (nick, note) {
                (_, Some(note)) => note.clone(),
                (Some(nick), None) => format!("Connected as {nick}"),
                (None, None) => "Connected".to_owned(),
            },
        ),
        Connection::Reconnecting {
            reason,
            retry_in_secs,
        } => (
            Type::None,
            Some(Show::Xa),
            format!("Disconnected ({reason}); reconnecting in {retry_in_secs} s"),
        ),
        Connection::Offline { reason } => (Type::Unavailable, None, reason.clone()),
    };
    let mut p = Presence::new(type_).with_from(from).with_to(to);
    p.show = show;
    p.set_status(Lang::default(), clean(&status).into_owned());
    p
}

/// The JID that speaks for a network (or the bridge, without networks).
fn network_jid(gw: &Gateway, network: &Option<String>) -> Jid {
    network
        .as_deref()
        .and_then(|n| gw.jid_of(&Address::network(n)))
        .unwrap_or_else(|| gw.jid.clone())
}

/// Tells a resource the state of each of the session's connections.
pub fn connection_states(gw: &Gateway, user: &BareJid, to: &Jid) {
    for (network, state) in gw.sessions.connections(user) {
        gw.send(connection_presence(
            network_jid(gw, &network),
            to.clone(),
            &state,
        ));
    }
}

pub fn deliver(gw: &Gateway, user: &BareJid, event: Event) {
    let to = Jid::from(user.clone());
    match event {
        Event::DirectMessage { from, text } => {
            if let Some(jid) = gw.speaking_jid(user, &from) {
                crate::services::roster::before_direct(gw, user, &jid, &from, &text);
                // A file alone (a DCC offer) has nothing to say but its
                // link, which follows.
                if !text.body.trim().is_empty() || text.subject.is_some() {
                    gw.send(message(jid, to, &text));
                }
            }
        }
        Event::ChatState {
            from,
            nick: None,
            state,
        } => {
            if let Some(jid) = gw.speaking_jid(user, &from) {
                let mut m = Message::new_with_type(MessageType::Chat, Some(to));
                m.from = Some(jid);
                m.payloads.push(crate::rich::chat_state_element(state));
                gw.send(m);
            }
        }
        Event::ContactPresence { contact, status } => {
            if let Some(from) = gw.speaking_jid(user, &contact) {
                gw.sessions.remember_contact(user, &from, &status);
                gw.send(contact_presence(from, to, &status));
            }
        }
        Event::Connection { network, state } => {
            gw.sessions.remember_connection(user, &network, &state);
            gw.send(connection_presence(network_jid(gw, &network), to, &state));
        }
        Event::Notice { network, text } => {
            let text = Text {
                body: text,
                ..Text::default()
            };
            gw.send(message(network_jid(gw, &network), to, &text));
        }
        Event::Details { id, result } => {
            crate::services::details::answer(gw, user, &id, result);
        }
        Event::RoomList { id, result } => gw.room_lists.waiting.answer(&id, result),
        Event::Moderated { id, result } => gw.moderations.answer(&id, result),
        Event::Invited { room, by } => crate::muc::invites::tell(gw, user, &room, &by),
        Event::Failed {
            to: address,
            id,
            failure,
            text,
        } => {
            let from = gw
                .speaking_jid(user, &address)
                .unwrap_or_else(|| gw.jid.clone());
            // An error to a bare JID is dropped by the server: address the
            // resource that sent the message, else every online one.
            let resources: Vec<Jid> =
                match id.as_deref().and_then(|id| gw.sessions.sender_of(user, id)) {
                    Some(full) => vec![full],
                    None => gw.online_resources(user),
                };
            for resource in resources {
                let mut m = Message::error(Some(resource));
                m.from = Some(from.clone());
                m.id = id.clone().map(xmpp_parsers::message::Id);
                gw.send(m.with_payload(stanza_error::error(failure_condition(failure), &text)));
            }
        }
        Event::RoomMessage { .. }
        | Event::PrivateMessage { .. }
        | Event::Reaction { .. }
        | Event::Retracted { .. }
        | Event::ChatState { nick: Some(_), .. }
        | Event::Occupant { .. }
        | Event::Joined { .. }
        | Event::JoinFailed { .. }
        | Event::Subject { .. }
        | Event::Left { .. } => {
            // Room events are the MUC core's: `run` hands every event to
            // `muc::events` first, which gives back only the others.
            tracing::debug!(bridge = gw.name(), "room event outside the MUC core");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn connection_states_as_presence() {
        let p = connection_presence(
            jid("h@gw"),
            jid("u@d"),
            &Connection::Reconnecting {
                reason: "lost".into(),
                retry_in_secs: 4,
            },
        );
        assert_eq!(p.show, Some(Show::Xa));
        assert!(p.statuses[&Lang::default()].contains("reconnecting in 4 s"));
        let p = connection_presence(
            jid("h@gw"),
            jid("u@d"),
            &Connection::Offline {
                reason: "bye".into(),
            },
        );
        assert_eq!(p.type_, Type::Unavailable);
    }
}
