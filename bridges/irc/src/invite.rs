//! Invitations (SPEC §10, XEP-0045 §7.8 mediated invitations ↔ `INVITE`).

use std::collections::HashMap;

use ferry_bridge::{Address, Event};

use crate::fit;
use crate::net::Net;

/// `INVITE nick #chan` for the user, when the room's network is theirs
/// and the nick one IRC can carry.
pub(crate) fn send(nets: &HashMap<String, Box<Net>>, room: &Address, nick: &str) {
    let Some(net) = room.network.as_ref().and_then(|h| nets.get(h)) else {
        return;
    };
    if fit::nick_problem(nick, Some(&net.support)).is_none() && !nick.contains(',') {
        net.queue(format!("INVITE {nick} {}", room.name));
    }
}

/// An `INVITE` line: the user is invited when it names their nick.
pub(crate) fn invited(
    net: &Net,
    host: &str,
    by: Option<String>,
    nick: &str,
    channel: &str,
) -> Option<Event> {
    let by = by?;
    if net.support.fold(nick) != net.support.fold(&net.nick) || !net.support.is_channel(channel) {
        return None;
    }
    Some(Event::Invited {
        room: Address::room(Some(host), channel),
        by,
    })
}
