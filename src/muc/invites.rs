//! Mediated invitations (XEP-0045 §7.8, SPEC §10): a user's invitation to
//! an IRC nick becomes `INVITE`, one to an XMPP user is passed on from the
//! room; an IRC `INVITE` for the user comes from the room JID.

use ferry_bridge::{Address, AddressKind, Intent};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Lang, Message, MessageType};
use xmpp_parsers::minidom::Element;

use crate::gateway::{Gateway, Target};

const MUC_USER: &str = "http://jabber.org/protocol/muc#user";

/// Whom a message to a room invites, if it is an invitation.
pub fn invitee(message: &Message) -> Option<Jid> {
    let x = message.payloads.iter().find(|p| p.is("x", MUC_USER))?;
    let invite = x.get_child("invite", MUC_USER)?;
    Jid::new(invite.attr("to")?).ok()
}

fn invitation(from: Jid, to: Jid, inviter: &Jid, room_name: &str, by: &str) -> Message {
    let invite = Element::builder("invite", MUC_USER).attr(
        xmpp_parsers::minidom::rxml::xml_ncname!("from").into(),
        inviter.to_string(),
    );
    let mut m = Message::new_with_type(MessageType::Normal, Some(to));
    m.from = Some(from);
    m.bodies
        .insert(Lang::default(), format!("{by} invites you to {room_name}"));
    m.payloads
        .push(Element::builder("x", MUC_USER).append(invite).build());
    m
}

/// The user invites `invitee` into `room` (whose JID is `room_jid`).
pub fn send(
    gw: &Gateway,
    from: &Jid,
    room_jid: &Jid,
    room: Address,
    invitee: Jid,
) -> Option<Intent> {
    if invitee.domain() != gw.jid.domain() {
        // Not one of ours: an XMPP user, told from the room.
        let by = from.to_bare();
        let inviter: Jid = by.clone().into();
        gw.send(invitation(
            room_jid.clone(),
            invitee,
            &inviter,
            &room.name,
            by.as_str(),
        ));
        return None;
    }
    match gw.target(&invitee) {
        Ok(Target::Foreign(contact))
            if contact.kind == AddressKind::Contact && contact.network == room.network =>
        {
            Some(Intent::Invite {
                room,
                nick: contact.name,
            })
        }
        _ => None,
    }
}

/// An IRC user invites the user into `room`: the invitation comes from
/// the room's JID, naming the inviter's contact JID.
pub fn tell(gw: &Gateway, user: &BareJid, room: &Address, by: &str) {
    let (Some(room_jid), Some(inviter)) = (
        gw.jid_of(room),
        gw.jid_of(&Address::contact(room.network.as_deref(), by)),
    ) else {
        return;
    };
    gw.send(invitation(
        room_jid,
        Jid::from(user.clone()),
        &inviter,
        &room.name,
        by,
    ));
}
