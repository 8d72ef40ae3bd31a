//! A moderator's requests in a channel (SPEC §10), and the lines that
//! answer them; the mapping itself is `crate::moderation`'s.

use std::time::Instant;

use ferry_bridge::{Address, Event, Failure, Moderation};
use irc_proto::{Command, Message, Mode};

use super::Session;
use crate::moderation::{self, Answer, Planned};
use crate::net::Net;

impl Session {
    /// Sends what `action` becomes, or answers at once what needs no IRC
    /// (a list of members, a request that cannot be made).
    pub(super) async fn moderate(&mut self, room: Address, id: String, action: Moderation) {
        let result = match room.network.as_ref().and_then(|h| self.nets.get_mut(h)) {
            None => Err((
                Failure::ServiceUnavailable,
                "not connected to that network".into(),
            )),
            Some(net) if !net.channels.has(&net.support, &room.name) => {
                Err((Failure::NotAcceptable, "you are not in this channel".into()))
            }
            Some(net) => match moderation::plan(&action, &room.name, &net.support, &net.channels) {
                Ok(Planned::Known(list)) => Ok(list),
                Ok(Planned::Send(lines, expect)) => match net.queue_all(lines) {
                    Ok(()) => {
                        let channel = net.support.fold(&room.name);
                        net.moderations.wait(id, channel, expect, Instant::now());
                        return;
                    }
                    Err(_) => Err((
                        Failure::ResourceConstraint,
                        "too many lines waiting for IRC".into(),
                    )),
                },
                Err(refused) => Err(refused),
            },
        };
        self.emit(Event::Moderated { id, result }).await;
    }
}

/// Our own MODE or KICK, heard back: the request it settles, if any.
pub(super) fn echo(net: &mut Net, message: &Message) -> Option<Event> {
    if net.moderations.is_empty() {
        return None;
    }
    let support = &net.support;
    let answer = match &message.command {
        Command::ChannelMODE(channel, modes) => {
            let changes: Vec<_> = modes
                .iter()
                .filter_map(|mode| {
                    let (adding, mode, arg) = match mode {
                        Mode::Plus(m, arg) => (true, m, arg),
                        Mode::Minus(m, arg) => (false, m, arg),
                        Mode::NoPrefix(_) => return None,
                    };
                    let letter = mode.to_string().chars().next()?;
                    Some((adding, letter, support.fold(arg.as_deref()?)))
                })
                .collect();
            net.moderations.mode_echo(&support.fold(channel), &changes)
        }
        Command::KICK(channels, nick, _) => {
            let channel = support.fold(channels.split(',').next()?);
            net.moderations.kick_echo(&channel, &support.fold(nick))
        }
        _ => None,
    };
    answer.map(moderated)
}

/// A numeric that answers a request: a ban list's line or end, or IRC's
/// refusal; `None` when it answers none (it is handled as usual).
pub(super) fn numeric(net: &mut Net, code: u16, args: &[String]) -> Option<Option<Event>> {
    if net.moderations.is_empty() {
        return None;
    }
    let channel = || {
        net.support
            .fold(args.get(1).map(String::as_str).unwrap_or(""))
    };
    match code {
        // RPL_BANLIST: me #chan mask [setter time]
        367 => {
            let mask = args.get(2)?;
            let channel = channel();
            net.moderations.ban(&channel, mask).then_some(None)
        }
        // RPL_ENDOFBANLIST: me #chan :End
        368 => {
            let channel = channel();
            net.moderations
                .bans_end(&channel)
                .map(|a| Some(moderated(a)))
        }
        // Not a channel operator, they are not there, you are not, the
        // ban list is full.
        482 | 441 | 442 | 478 => net
            .moderations
            .refused(&net.support, code, args)
            .map(|a| Some(moderated(a))),
        _ => None,
    }
}

fn moderated((id, result): Answer) -> Event {
    Event::Moderated { id, result }
}
