//! A moderator's requests to a room (XEP-0045 §8–§10, SPEC §10), asked
//! of the user's session: each `<item/>` of an admin `set` is one change,
//! and the iq is answered once every change is (with the first refusal,
//! if any); a `get` asks for a list. The resulting role and affiliation
//! changes reach the occupants as the network reports them.

use std::sync::Arc;
use std::time::Duration;

use ferry_bridge::{Address, Affiliation, Intent, Listed, Moderation, Role};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::StanzaError;

use super::stanzas::{affiliation_name, role_name};
use crate::gateway::{Gateway, Target};
use crate::services::reply::Reply;
use crate::sessions::registry::Refused;
use crate::stanza_error::{self, Condition};
use crate::stanzas::failure_condition;
use crate::xml_name::ncname;

pub const NS: &str = "http://jabber.org/protocol/muc#admin";

/// How long a change waits for the network. One it takes silently (a
/// voice taken from someone who held none) is never echoed, and counts as
/// done after this.
const QUIET: Duration = Duration::from_secs(6);

/// How long a list may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers an admin `get` or `set` to a room, from a task of its own.
pub fn spawn(gw: &Arc<Gateway>, reply: Reply, room: &Address, payload: Element, set: bool) {
    let inside = gw.room_key(room).is_some_and(|key| {
        let rooms = gw.rooms.lock();
        let user = reply.them.to_bare();
        rooms
            .get(&(user, key))
            .is_some_and(|r| r.resources.contains(&reply.them))
    });
    if !inside {
        let refused = stanza_error::error(Condition::NotAcceptable, "you are not in this room");
        return reply.send(gw, Err(refused));
    }
    let actions = match parse(gw, room, &payload, set) {
        Ok(actions) => actions,
        Err(refused) => return reply.send(gw, Err(refused)),
    };
    let gw = gw.clone();
    let room = room.clone();
    tokio::spawn(async move {
        let mut listed = None;
        for action in actions {
            let list = matches!(
                action,
                Moderation::ListAffiliation(_) | Moderation::ListRole(_)
            );
            match ask(&gw, &reply.them, &room, action).await {
                Ok(entries) if list => listed = Some(entries),
                Ok(_) => {}
                Err(refused) => return reply.send(&gw, Err(refused)),
            }
        }
        let payload = listed.map(|entries| list_payload(&gw, &room, entries));
        reply.send(&gw, Ok(payload));
    });
}

/// What the payload asks: the changes of a `set`, the list of a `get`.
fn parse(
    gw: &Gateway,
    room: &Address,
    payload: &Element,
    set: bool,
) -> Result<Vec<Moderation>, StanzaError> {
    let bad = |text: &str| stanza_error::error(Condition::BadRequest, text);
    let items: Vec<&Element> = payload.children().filter(|c| c.is("item", NS)).collect();
    if items.is_empty() {
        return Err(bad("an admin query names at least one item"));
    }
    let role = |item: &Element| item.attr("role").map(role_of).transpose();
    let affiliation = |item: &Element| item.attr("affiliation").map(affiliation_of).transpose();
    if !set {
        let item = items[0];
        return match (affiliation(item)?, role(item)?) {
            (Some(a), _) => Ok(vec![Moderation::ListAffiliation(a)]),
            (None, Some(r)) => Ok(vec![Moderation::ListRole(r)]),
            (None, None) => Err(bad("a list is asked by role or affiliation")),
        };
    }
    items
        .into_iter()
        .map(|item| {
            let nick = nick_of(gw, room, item)?;
            let reason = item.get_child("reason", NS).map(|r| r.text());
            match (affiliation(item)?, role(item)?) {
                (Some(affiliation), _) => Ok(Moderation::Affiliation {
                    nick,
                    affiliation,
                    reason,
                }),
                (None, Some(role)) => Ok(Moderation::Role { nick, role, reason }),
                (None, None) => Err(bad("an item changes a role or an affiliation")),
            }
        })
        .collect()
}

fn role_of(name: &str) -> Result<Role, StanzaError> {
    Ok(match name {
        "moderator" => Role::Moderator,
        "participant" => Role::Participant,
        "visitor" => Role::Visitor,
        "none" => Role::None,
        _ => return Err(stanza_error::error(Condition::BadRequest, "no such role")),
    })
}

fn affiliation_of(name: &str) -> Result<Affiliation, StanzaError> {
    Ok(match name {
        "owner" => Affiliation::Owner,
        "admin" => Affiliation::Admin,
        "member" => Affiliation::Member,
        "none" => Affiliation::None,
        "outcast" => Affiliation::Outcast,
        _ => {
            return Err(stanza_error::error(
                Condition::BadRequest,
                "no such affiliation",
            ))
        }
    })
}

/// The nick an item names: by `nick=`, or by `jid=` as a contact of the
/// room's network (`nick%host@irc.gw`).
fn nick_of(gw: &Gateway, room: &Address, item: &Element) -> Result<String, StanzaError> {
    if let Some(nick) = item.attr("nick") {
        return Ok(nick.to_owned());
    }
    let unknown = || {
        let text = "the item's jid names no one on this room's network";
        stanza_error::error(Condition::NotAcceptable, text)
    };
    let jid = item.attr("jid").ok_or_else(|| {
        stanza_error::error(Condition::BadRequest, "the item names no nick and no jid")
    })?;
    let jid = Jid::new(jid).map_err(|_| unknown())?;
    match gw.target(&jid.to_bare().into()) {
        Ok(Target::Foreign(contact))
            if contact.kind == ferry_bridge::AddressKind::Contact
                && contact.network == room.network
                && jid.domain() == gw.jid.domain() =>
        {
            Ok(contact.name)
        }
        _ => Err(unknown()),
    }
}

/// Asks the session for one change or list and waits for its answer.
async fn ask(
    gw: &Gateway,
    them: &Jid,
    room: &Address,
    action: Moderation,
) -> Result<Vec<Listed>, StanzaError> {
    let list = matches!(
        action,
        Moderation::ListAffiliation(_) | Moderation::ListRole(_)
    );
    let (id, answer) = gw.moderations.open("moderate");
    let intent = Intent::Moderate {
        room: room.clone(),
        id: id.clone(),
        action,
    };
    if let Err(refused) = gw.sessions.send(&them.to_bare(), intent) {
        gw.moderations.close(&id);
        return Err(match refused {
            Refused::Busy => {
                stanza_error::error(Condition::ResourceConstraint, "too many requests waiting")
            }
            Refused::Unsupported => stanza_error::error(Condition::ServiceUnavailable, ""),
        });
    }
    let wait = if list { LIST_TIMEOUT } else { QUIET };
    let answered = tokio::time::timeout(wait, answer).await;
    gw.moderations.close(&id);
    match answered {
        Ok(Ok(Ok(entries))) => Ok(entries),
        Ok(Ok(Err((failure, text)))) => Err(stanza_error::error(failure_condition(failure), &text)),
        // Sent, and nothing came back: nothing changed that had to.
        _ if !list => Ok(Vec::new()),
        _ => Err(stanza_error::error(
            Condition::RemoteServerTimeout,
            "the network did not answer in time",
        )),
    }
}

/// The `<query/>` of a list: each entry by its contact JID on the
/// network; a mask that names no one nick by the network's JID, with the
/// mask as the reason.
fn list_payload(gw: &Gateway, room: &Address, entries: Vec<Listed>) -> Element {
    let network = room.network.as_deref();
    let items = entries.into_iter().filter_map(|entry| {
        let mut item = Element::builder("item", NS)
            .attr(ncname("affiliation"), affiliation_name(entry.affiliation));
        if let Some(role) = entry.role {
            item = item.attr(ncname("role"), role_name(role));
        }
        match (&entry.nick, &entry.mask) {
            (Some(nick), _) => {
                let jid = gw.jid_of(&Address::contact(network, nick))?;
                item = item
                    .attr(ncname("nick"), nick.as_str())
                    .attr(ncname("jid"), jid.to_string());
            }
            (None, Some(mask)) => {
                let jid = gw.jid_of(&Address::network(network?))?;
                item = item
                    .attr(ncname("jid"), jid.to_string())
                    .append(Element::builder("reason", NS).append(mask.as_str()));
            }
            (None, None) => return None,
        }
        Some(item.build())
    });
    Element::builder("query", NS).append_all(items).build()
}
