//! Occupants' away state (IRCv3 away-notify, SPEC §9): an away occupant
//! is shown with `<show>away</show>` and its note, to the room's
//! resources at once and to resources that join later; back, it is shown
//! plainly available again.

use compact_str::CompactString;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::Lang;
use xmpp_parsers::presence::{Show, Type};

use super::stanzas::{self, occupant, DEFAULT_STANDING};
use crate::gateway::Gateway;
use crate::rooms::Room;
use crate::xml_clean::clean;

/// Records that `nick` is away (`Some(note)`) or back (`None`); whether
/// that changed anything.
pub fn set(room: &mut Room, nick: &str, away: Option<Option<String>>) -> bool {
    match away {
        Some(note) => {
            let map = room.away.get_or_insert_with(Default::default);
            map.insert(CompactString::new(nick), note.clone()) != Some(note)
        }
        None => {
            let Some(map) = room.away.as_mut() else {
                return false;
            };
            let was = map.remove(nick).is_some();
            if map.is_empty() {
                room.away = None;
            }
            was
        }
    }
}

/// The note of an away occupant (`Some(None)`: away without one).
pub fn of<'a>(room: &'a Room, nick: &str) -> Option<&'a Option<String>> {
    room.away.as_ref()?.get(nick)
}

/// `nick` went away or came back: its presence to every resource.
pub fn changed(gw: &Gateway, room: &mut Room, nick: &str, away: Option<Option<String>>) {
    if !set(room, nick, away) || !room.joined {
        return;
    }
    for to in &room.resources {
        send(gw, room, nick, to);
    }
}

/// An occupant's presence as it stands, away or not, to one resource.
pub fn send(gw: &Gateway, room: &Room, nick: &str, to: &Jid) {
    let Some(from) = occupant(&room.jid, nick) else {
        return;
    };
    let standing = match nick == room.nick {
        true => room.own,
        false => room
            .occupants
            .get(nick)
            .copied()
            .unwrap_or(DEFAULT_STANDING),
    };
    let mut p = stanzas::presence(from, to.clone(), Type::None, standing, vec![], |i| i);
    if let Some(note) = of(room, nick) {
        p.show = Some(Show::Away);
        if let Some(note) = note {
            p.set_status(Lang::default(), clean(note).into_owned());
        }
    }
    gw.send(p);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_bridge::Address;

    #[test]
    fn away_and_back() {
        let mut room = Room::new(
            Address::room(Some("irc.test"), "#c"),
            "#c%irc.test@irc.gw".parse().unwrap(),
            "me".into(),
        );
        assert!(set(&mut room, "bob", Some(Some("lunch".into()))));
        assert!(!set(&mut room, "bob", Some(Some("lunch".into()))));
        assert!(set(&mut room, "bob", Some(None)));
        assert_eq!(of(&room, "bob"), Some(&None));
        assert!(set(&mut room, "bob", None));
        assert!(room.away.is_none());
        assert!(!set(&mut room, "bob", None));
    }
}
