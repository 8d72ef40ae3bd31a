//! Which rooms each user is in, kept in the store. A clean shutdown tells
//! every occupant the room is going (status 332); after a crash nobody
//! did, and clients would go on thinking they are joined. At the next
//! start the ledger names those rooms, and each of their users is told
//! then. The always-on ones among them are kept apart, through clean
//! shutdowns too: ferry joins them again at every start (`muc::rejoin`).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::muc::user::Status;
use xmpp_parsers::presence::Type;

use crate::gateway::Gateway;

/// The per-user state key holding the user's rooms.
const KEY: &str = "joined_rooms";
/// The per-user state key holding the user's always-on rooms.
pub const ALWAYS_ON_KEY: &str = "always_on_rooms";

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    pub room: String,
    pub nick: String,
}

/// Writes the rooms of the users that changed, a batch at a time: a burst
/// of joins costs one pass over the rooms and one write per user.
pub async fn keep(gw: Arc<Gateway>) {
    loop {
        gw.rooms.ledger.changes().await;
        let Some(_writing) = gw.rooms.ledger.writing().await else {
            return;
        };
        let dirty = gw.rooms.ledger.take();
        let mut joined: HashMap<BareJid, (Vec<Joined>, Vec<Joined>)> = dirty
            .iter()
            .map(|u| (u.clone(), Default::default()))
            .collect();
        for ((user, key), room) in gw.rooms.lock().iter() {
            let Some((all, always_on)) = joined.get_mut(user).filter(|_| room.joined) else {
                continue;
            };
            let entry = || Joined {
                room: room.jid.to_string(),
                nick: room.nick.clone(),
            };
            if gw
                .always_on
                .room(user, room.address.network.as_deref(), key)
            {
                always_on.push(entry());
            }
            all.push(entry());
        }
        for (user, (all, always_on)) in joined {
            write(&gw, &user, KEY, &all).await;
            write(&gw, &user, ALWAYS_ON_KEY, &always_on).await;
        }
    }
}

async fn write(gw: &Gateway, user: &BareJid, key: &str, rooms: &[Joined]) {
    let written = match rooms.is_empty() {
        true => gw.store.state_delete(gw.name(), user.as_str(), key).await,
        false => {
            let value = serde_json::to_string(&rooms).unwrap_or_default();
            gw.store
                .state_put(gw.name(), user.as_str(), key, &value)
                .await
        }
    };
    if let Err(e) = written {
        tracing::warn!(%user, error = %e, "cannot record the user's rooms");
    }
}

/// The rooms users were in when ferry last stopped without saying goodbye,
/// forgotten as they are read. Called before any stanza is handled.
pub async fn left_behind(gw: &Gateway) -> Vec<(BareJid, Jid)> {
    let rows = match gw.store.state_take_all(gw.name(), KEY).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the rooms users were in");
            return Vec::new();
        }
    };
    let mut occupants = Vec::new();
    for (user, value) in rows {
        let Ok(user) = BareJid::new(&user) else {
            continue;
        };
        let rooms: Vec<Joined> = serde_json::from_str(&value).unwrap_or_default();
        for joined in rooms {
            let room = BareJid::new(&joined.room).ok();
            if let Some(occupant) = room.and_then(|r| super::stanzas::occupant(&r, &joined.nick)) {
                occupants.push((user.clone(), occupant));
            }
        }
    }
    occupants
}

/// Tells each user their room is gone (110, 332), at their bare JID: the
/// server hands it to every resource, and ferry no longer knows which of
/// them had joined.
pub fn say_gone(gw: &Gateway, occupants: Vec<(BareJid, Jid)>) {
    for (user, occupant) in occupants {
        tracing::info!(%user, room = %occupant, "room lost in a crash: telling the user");
        gw.send(super::stanzas::presence(
            occupant,
            Jid::from(user),
            Type::Unavailable,
            (ferry_bridge::Role::None, ferry_bridge::Affiliation::None),
            vec![Status::SelfPresence, Status::ServiceShutdown],
            |i| i,
        ));
    }
}

/// At a clean shutdown, after every room said goodbye: nothing is left
/// to tell at the next start. The always-on rooms stay recorded: the
/// ledger stops writing first, so the rooms going away with the sessions
/// are not taken for rooms left.
pub async fn clear(gw: &Gateway) {
    gw.rooms.ledger.close().await;
    if let Err(e) = gw.store.state_take_all(gw.name(), KEY).await {
        tracing::warn!(error = %e, "cannot clear the rooms users were in");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_back() {
        let rooms = vec![Joined {
            room: "#a%irc.example@irc.gw".into(),
            nick: "alice".into(),
        }];
        let text = serde_json::to_string(&rooms).unwrap();
        let back: Vec<Joined> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, rooms);
    }
}
