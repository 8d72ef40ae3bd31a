//! A user's message to a room, to their session: a line, a subject, a
//! reaction, a retraction or a chat state. What points at an earlier line
//! by its archive id (a reply, a reaction, a retraction) gets that line's
//! foreign id, author and start from the archive first; all of a user's
//! room messages go through their lane, so none overtakes another.

use std::sync::Arc;

use ferry_bridge::{Address, Intent, Reply};
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::message::Message;

use crate::gateway::Gateway;
use crate::sessions::registry::Refused;
use crate::stanza_error::{self, Condition};

/// How much of an answered line a reaction without tags quotes.
const EXCERPT: usize = 40;

/// Sends `intent`, what `message` asked of the room `room_key`, once its
/// references are looked up.
pub fn send(gw: &Arc<Gateway>, user: BareJid, room_key: String, intent: Intent, message: Message) {
    let lane = gw.clone();
    gw.lanes.run(&user.clone(), async move {
        let gw = lane;
        let mut intent = intent;
        if let Some(target) = target(&mut intent) {
            resolve(&gw, &user, &room_key, target).await;
        }
        if gw.sessions.send(&user, intent) == Err(Refused::Busy) {
            let error =
                stanza_error::error(Condition::ResourceConstraint, "too many messages waiting");
            if let Some(reply) = stanza_error::message(&message, error) {
                gw.send(reply);
            }
        }
    });
}

/// The earlier line an intent points at, if any.
fn target(intent: &mut Intent) -> Option<&mut Reply> {
    match intent {
        Intent::SendRoom { text, .. } => text.reply.as_deref_mut(),
        Intent::React { target, .. } | Intent::Retract { target, .. } => Some(target),
        _ => None,
    }
}

/// Fills in what the archive knows of the line `target.archive_id`.
async fn resolve(gw: &Gateway, user: &BareJid, room_key: &str, target: &mut Reply) {
    let Some(seq) = target.archive_id else {
        return;
    };
    let archive = (gw.name(), user.as_str(), room_key);
    match gw.store.archive_row(archive, seq).await {
        Ok(Some(row)) => {
            target.foreign_id = row.foreign_id;
            target.nick.get_or_insert(row.nick);
            target.excerpt = Some(row.body.chars().take(EXCERPT).collect());
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "archive lookup failed for a reply"),
    }
}

/// The intent of a groupchat message without a body: a reaction, a
/// retraction or a chat state (a subject is the caller's).
pub fn bodiless(room: &Address, message: &Message) -> Option<Intent> {
    let room = room.clone();
    if let Some((id, reactions)) = crate::rich::reactions(message) {
        let target = Reply {
            archive_id: Some(id),
            ..Reply::default()
        };
        return Some(Intent::React {
            room,
            target,
            reactions,
        });
    }
    if let Some(id) = crate::rich::retraction(message) {
        let target = Reply {
            archive_id: Some(id),
            ..Reply::default()
        };
        return Some(Intent::Retract { room, target });
    }
    let state = crate::rich::chat_state(message)?;
    Some(Intent::ChatState { to: room, state })
}
