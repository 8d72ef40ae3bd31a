//! An IRC server's bytes: the line codec, the parse of each line, the
//! session's handling (channels, numerics, ISUPPORT, CTCP, formatting).
//! Every foreign address the session reports must have a JID that names
//! it back.

#![no_main]

use ferry_bridge::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for event in ferry_irc::server_bytes(data) {
        let address = match &event {
            Event::DirectMessage { from, .. } => from,
            Event::RoomMessage { room, .. }
            | Event::PrivateMessage { room, .. }
            | Event::Occupant { room, .. }
            | Event::Joined { room, .. }
            | Event::JoinFailed { room, .. }
            | Event::Subject { room, .. }
            | Event::Left { room, .. } => room,
            Event::ContactPresence { contact, .. } => contact,
            Event::Failed { to, .. } => to,
            _ => continue,
        };
        ferry::fuzzing::named("irc", address);
    }
});
