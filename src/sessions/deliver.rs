//! A session's events, turned into stanzas for the user.

use std::sync::Arc;

use ferry_bridge::{Address, Connection, ContactStatus, Event, Failure, Text};
use xmpp_parsers::date::DateTime;
use xmpp_parsers::delay::Delay;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Lang, Message, MessageType, Thread};
use xmpp_parsers::presence::{Presence, Show, Type};

use crate::router::Gateway;
use crate::stanza_error::{self, Condition};
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

pub(super) async fn run(
    gw: Arc<Gateway>,
    user: BareJid,
    mut events: ferry_bridge::channel::Receiver<Event>,
    _counted: super::Delivering,
) {
    let charged = user.to_string();
    while let Some(event) = events.recv_boxed().await {
        // A user who cannot take more (their server reads slowly, or a
        // burst) holds their own session back; nothing is dropped.
        gw.out.wait_room(&charged).await;
        gw.archiver.wait_room().await;
        crate::component::admitted(|| crate::muc::event(&gw, &user, *event));
    }
    // The session is gone: so are its rooms.
    for room in gw.rooms.forget_user(&user) {
        crate::muc::gone(&gw, &room, None);
    }
    tracing::info!(bridge = gw.name(), user = %user, "session ended");
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

fn contact_presence(from: Jid, to: Jid, status: &ContactStatus) -> Presence {
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

pub fn deliver(gw: &Gateway, user: &BareJid, event: Event) {
    let to = Jid::from(user.clone());
    match event {
        Event::DirectMessage { from, text } => {
            if let Some(from) = gw.speaking_jid(user, &from) {
                gw.send(message(from, to, &text));
            }
        }
        Event::ContactPresence { contact, status } => {
            if let Some(from) = gw.speaking_jid(user, &contact) {
                gw.send(contact_presence(from, to, &status));
            }
        }
        Event::Connection { network, state } => {
            gw.send(connection_presence(network_jid(gw, &network), to, &state));
        }
        Event::Notice { network, text } => {
            let text = Text {
                body: text,
                ..Text::default()
            };
            gw.send(message(network_jid(gw, &network), to, &text));
        }
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
        | Event::Occupant { .. }
        | Event::Joined { .. }
        | Event::JoinFailed { .. }
        | Event::Subject { .. }
        | Event::Left { .. } => {
            // Rooms are the MUC core's (src/muc/), which no backend feeds
            // yet; a backend must not report rooms before it exists.
            tracing::warn!(
                bridge = gw.name(),
                "room event without the MUC core, dropped"
            );
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
        let p = contact_presence(
            jid("a@gw"),
            jid("u@d"),
            &ContactStatus::Away(Some("lunch".into())),
        );
        assert_eq!(p.show, Some(Show::Away));
    }

    #[test]
    fn every_failure_has_a_condition() {
        assert_eq!(
            failure_condition(Failure::ItemNotFound),
            Condition::ItemNotFound
        );
        assert_eq!(failure_condition(Failure::Forbidden), Condition::Forbidden);
    }
}
