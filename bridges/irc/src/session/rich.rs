//! The user's chat states, reactions and retractions (SPEC §9), as lines.

use std::time::Instant;

use ferry_bridge::{channel, Address, ChatState, Event, Reply};
use irc_proto::{Command, Message};

use super::{emit, Session};
use crate::caps::Cap;
use crate::echo::Settled;
use crate::net::Net;
use crate::rich::{self, Told};
use crate::tags::Tags;

impl Session {
    /// `+typing` where the server takes client tags; nothing otherwise.
    pub(super) fn chat_state(&mut self, to: Address, state: ChatState) {
        let Some(net) = to.network.as_ref().and_then(|h| self.nets.get_mut(h)) else {
            return;
        };
        if !net.registered || !net.caps.has(Cap::MessageTags) {
            return;
        }
        let folded = net.support.fold(&to.name);
        if let Some(line) = net.typing.line((&folded, &to.name), state, Instant::now()) {
            net.queue_auto(line);
        }
    }

    pub(super) fn react(&mut self, room: Address, target: Reply, reactions: Vec<String>) {
        let Some(net) = room.network.as_ref().and_then(|h| self.nets.get(h)) else {
            return;
        };
        let tagged = net.caps.has(Cap::MessageTags);
        for line in rich::reaction_lines(&room.name, &target, &reactions, tagged) {
            net.queue(line);
        }
    }

    /// REDACT where the server has `draft/message-redaction` and the line
    /// its id; elsewhere IRC has no way to take a line back.
    pub(super) fn retract(&mut self, room: Address, target: Reply) {
        let Some(net) = room.network.as_ref().and_then(|h| self.nets.get(h)) else {
            return;
        };
        let line = match target.foreign_id {
            Some(id) if net.caps.has(Cap::MessageRedaction) => rich::redact_line(&room.name, &id),
            _ => None,
        };
        match line {
            Some(line) => {
                net.queue(line);
            }
            None => tracing::debug!("a retraction IRC cannot carry"),
        }
    }
}

/// A line of ours the server echoes (echo-message): a channel message's
/// first line reflects it to the user's resources, with the server's
/// time; the rest, direct messages, notices and tags say nothing more.
pub(super) async fn echo(
    net: &mut Net,
    events: &channel::Sender<Event>,
    host: &str,
    message: &Message,
    tags: &Tags,
) {
    let Command::PRIVMSG(target, _) = &message.command else {
        return;
    };
    let folded = net.support.fold(target);
    let label = tags.get("label");
    if let Settled::Message(text) = net.echoes.settle(label.as_deref(), &folded) {
        let mut text = *text;
        let now = crate::tags::now_ms();
        text.sent_at = tags.time_ms().and_then(|ms| crate::tags::late(ms, now));
        text.foreign_id = tags.get("msgid").map(String::from);
        let room = Address::room(Some(host), target);
        let nick = net.nick.clone();
        emit(
            events,
            Event::RoomMessage {
                room,
                nick,
                text,
                own: true,
            },
        )
        .await;
    }
}

/// A TAGMSG (chat state, reaction) or REDACT from `nick`, as an event;
/// whether the line was one.
pub(super) async fn told(
    net: &Net,
    events: &channel::Sender<Event>,
    host: &str,
    nick: &str,
    message: &Message,
    tags: &Tags,
) -> bool {
    let Command::Raw(command, args) = &message.command else {
        return false;
    };
    let Some(target) = args.first() else {
        return false;
    };
    let in_room = net.support.is_channel(target);
    let room = Address::room(Some(host), target);
    let event = match command.as_str() {
        "TAGMSG" => match rich::tagmsg(tags) {
            Some(Told::Typing(state)) if in_room => Event::ChatState {
                from: room,
                nick: Some(nick.to_owned()),
                state,
            },
            Some(Told::Typing(state)) => Event::ChatState {
                from: Address::contact(Some(host), nick),
                nick: None,
                state,
            },
            Some(Told::React { foreign_id, emoji }) if in_room => Event::Reaction {
                room,
                nick: nick.to_owned(),
                target: Reply {
                    foreign_id: Some(foreign_id),
                    ..Reply::default()
                },
                reactions: vec![emoji],
            },
            _ => return true,
        },
        "REDACT" if in_room => match rich::redaction(args) {
            Some((_, id)) => Event::Retracted {
                room,
                nick: nick.to_owned(),
                target: Reply {
                    foreign_id: Some(id.to_owned()),
                    ..Reply::default()
                },
            },
            None => return true,
        },
        _ => return false,
    };
    emit(events, event).await;
    true
}
