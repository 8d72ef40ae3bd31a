//! XEP-0045 stanzas: occupant presences, the self-presence, the subject.

use ferry_bridge::{Affiliation, Role};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Lang, Message, MessageType};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::muc::user::{self, Item, MucUser, Status};
use xmpp_parsers::presence::{Presence, Type};

use crate::xml_clean::clean;

pub fn role(role: Role) -> user::Role {
    match role {
        Role::Moderator => user::Role::Moderator,
        Role::Participant => user::Role::Participant,
        Role::Visitor => user::Role::Visitor,
        Role::None => user::Role::None,
    }
}

pub fn affiliation(affiliation: Affiliation) -> user::Affiliation {
    match affiliation {
        Affiliation::Owner => user::Affiliation::Owner,
        Affiliation::Admin => user::Affiliation::Admin,
        Affiliation::Member => user::Affiliation::Member,
        Affiliation::None => user::Affiliation::None,
        Affiliation::Outcast => user::Affiliation::Outcast,
    }
}

/// A role as XEP-0045 writes it.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Moderator => "moderator",
        Role::Participant => "participant",
        Role::Visitor => "visitor",
        Role::None => "none",
    }
}

/// An affiliation as XEP-0045 writes it.
pub fn affiliation_name(affiliation: Affiliation) -> &'static str {
    match affiliation {
        Affiliation::Owner => "owner",
        Affiliation::Admin => "admin",
        Affiliation::Member => "member",
        Affiliation::None => "none",
        Affiliation::Outcast => "outcast",
    }
}

/// The occupant JID `room/nick`; `None` for a nick that is no resource.
pub fn occupant(room: &BareJid, nick: &str) -> Option<Jid> {
    room.with_resource_str(nick).ok().map(Jid::from)
}

/// `room/nick` as text, for stanzas written as bytes. A nick of printable
/// ASCII (most IRC nicks) is a resource as it is: resourceprep maps and
/// forbids none of it, so the costly stringprep pass is skipped.
pub fn occupant_text(room: &BareJid, nick: &str) -> Option<String> {
    let printable = nick.bytes().all(|b| (0x20..0x7f).contains(&b));
    if printable && !nick.is_empty() && nick.len() <= 1023 {
        return Some(format!("{room}/{nick}"));
    }
    occupant(room, nick).map(|j| j.to_string())
}

/// A presence from `room/nick` with its item and status codes.
pub fn presence(
    from: Jid,
    to: Jid,
    type_: Type,
    standing: (Role, Affiliation),
    statuses: Vec<Status>,
    edit: impl FnOnce(Item) -> Item,
) -> Presence {
    let item = edit(Item::new(affiliation(standing.1), role(standing.0)));
    let mut x: Element = MucUser::new()
        .with_items(vec![item])
        .with_statuses(statuses)
        .into();
    for item in x.children_mut().filter(|c| c.name() == "item") {
        spell_out_none(item);
    }
    let mut p = Presence::new(type_).with_from(from).with_to(to);
    p.payloads.push(x);
    p
}

/// xmpp-parsers leaves `affiliation`/`role` out when they are "none", but
/// XEP-0045 always carries both on an occupant's item, and clients show a
/// missing one as "(null)".
fn spell_out_none(item: &mut Element) {
    use xmpp_parsers::minidom::rxml::{Namespace, NcName};
    for attr in ["affiliation", "role"] {
        if item.attr(attr).is_none() {
            let name = NcName::try_from(attr).expect("a static name");
            item.set_attr(Namespace::NONE, name, "none");
        }
    }
}

/// An occupant we had no standing for.
pub const DEFAULT_STANDING: (Role, Affiliation) = (Role::Participant, Affiliation::None);

/// An occupant's presence without status codes, written from bytes
/// (`xml_bytes::occupant_presence`).
pub fn send_occupant(
    gw: &crate::gateway::Gateway,
    from: &str,
    to: &Jid,
    unavailable: bool,
    standing: (Role, Affiliation),
) {
    let bytes = crate::xml_bytes::occupant_presence(
        from,
        to.as_str(),
        unavailable.then_some("unavailable"),
        affiliation_name(standing.1),
        role_name(standing.0),
    );
    gw.send_bytes(to, bytes);
}

/// The subject message, from the room itself or from who set it.
pub fn subject(room: &BareJid, by: Option<&str>, to: Jid, text: &str) -> Message {
    let from = by
        .and_then(|nick| occupant(room, nick))
        .unwrap_or_else(|| Jid::from(room.clone()));
    let mut m = Message::new_with_type(MessageType::Groupchat, Some(to));
    m.from = Some(from);
    m.subjects.insert(Lang::default(), clean(text).into_owned());
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn none_standings_are_spelled_out() {
        let room: BareJid = "#r%irc.example@irc.gw".parse().unwrap();
        let p = presence(
            occupant(&room, "n").unwrap(),
            "u@x/r".parse().unwrap(),
            Type::Unavailable,
            (Role::None, Affiliation::None),
            vec![Status::SelfPresence],
            |i| i,
        );
        let item = p.payloads[0]
            .get_child("item", xmpp_parsers::ns::MUC_USER)
            .unwrap();
        assert_eq!(item.attr("affiliation"), Some("none"));
        assert_eq!(item.attr("role"), Some("none"));
    }

    proptest! {
        #[test]
        fn occupant_text_is_the_jid(nick in "[ -~]{0,30}|\\PC{0,10}") {
            let room: BareJid = "#r%irc.example@irc.gw".parse().unwrap();
            prop_assert_eq!(
                occupant_text(&room, &nick),
                occupant(&room, &nick).map(|j| j.to_string())
            );
        }
    }
}
