//! Always-on rooms joined again at start (SPEC §7), before their users come
//! back: each user's session starts with the rooms the ledger kept, and a
//! user's later join is answered from the room as it stands.

use std::sync::Arc;

use ferry_bridge::{AddressKind, Intent};
use xmpp_parsers::jid::{BareJid, Jid};

use super::ledger::{Joined, ALWAYS_ON_KEY};
use crate::gateway::{Gateway, Target};
use crate::rooms::Room;
use crate::sessions;

pub async fn always_on_rooms(gw: &Arc<Gateway>) {
    let rows = match gw.store.state_all(gw.name(), ALWAYS_ON_KEY).await {
        Ok(rows) => rows,
        Err(e) => return tracing::error!(error = %e, "cannot read the always-on rooms"),
    };
    for (user, value) in rows {
        let Ok(user) = BareJid::new(&user) else {
            continue;
        };
        let rooms: Vec<Joined> = serde_json::from_str(&value).unwrap_or_default();
        if rooms.is_empty() || !sessions::ensure(gw, &user, true).await {
            continue;
        }
        for joined in rooms {
            join(gw, &user, joined);
        }
    }
}

/// Joins one room for a user with no resource in it, if its setting
/// still says always-on.
fn join(gw: &Gateway, user: &BareJid, joined: Joined) {
    let Ok(jid) = BareJid::new(&joined.room) else {
        return;
    };
    let Ok(Target::Foreign(address)) = gw.target(&Jid::from(jid.clone())) else {
        return;
    };
    let Some(key) = gw.room_key(&address) else {
        return;
    };
    let network = address.network.as_deref();
    if address.kind != AddressKind::Room || !gw.always_on.room(user, network, &key) {
        return;
    }
    tracing::info!(%user, room = %jid, "joining an always-on room");
    let room = Box::new(Room::new(address.clone(), jid, joined.nick.clone()));
    gw.rooms.lock().entry((user.clone(), key)).or_insert(room);
    let intent = Intent::JoinRoom {
        room: address,
        nick: joined.nick,
        password: None,
    };
    if gw.sessions.send(user, intent).is_err() {
        tracing::warn!(%user, "cannot rejoin an always-on room: the session is busy");
    }
}
