//! Lines from the foreign side that point at earlier ones by the foreign
//! network's id (a reply, a reaction, a retraction): the archive gives
//! their archive id (the stanza-id the user's clients know) and author.

use ferry_bridge::{Event, Reply};
use xmpp_parsers::jid::BareJid;

use crate::gateway::Gateway;

/// Fills in `archive_id` (and the author) of what `event` points at, when
/// the user's archive of that room has it.
pub async fn resolve(gw: &Gateway, user: &BareJid, event: &mut Event) {
    let (room, target) = match event {
        Event::RoomMessage { room, text, .. } => match text.reply.as_deref_mut() {
            Some(reply) => (&*room, reply),
            None => return,
        },
        Event::Reaction { room, target, .. } | Event::Retracted { room, target, .. } => {
            (&*room, target)
        }
        _ => return,
    };
    let (Some(id), Some(key)) = (target.foreign_id.as_deref(), gw.room_key(room)) else {
        return;
    };
    match gw
        .store
        .archive_find((gw.name(), user.as_str(), &key), id)
        .await
    {
        Ok(Some((seq, nick))) => {
            *target = Reply {
                archive_id: Some(seq),
                nick: Some(nick),
                ..std::mem::take(target)
            };
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "archive lookup failed for a reply"),
    }
}
