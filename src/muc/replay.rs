//! Room lines into the archive: each line's row, and the lines a
//! foreign server replays (its history on join, SPEC §9), archived once,
//! at the server's time, and not shown again when seen before.

use ferry_bridge::Event;
use xmpp_parsers::jid::BareJid;

use crate::gateway::Gateway;
use crate::store::Archived;

/// The archive row of a room message for a room the user is in, with
/// its archive id: the first step of delivering it, so that a line a
/// client has seen is a line the archive has (SPEC §2).
pub fn row(gw: &Gateway, user: &BareJid, event: &Event) -> Option<Archived> {
    let Event::RoomMessage {
        room, nick, text, ..
    } = event
    else {
        return None;
    };
    let room_key = gw.room_key(room)?;
    // A line its server dates (history, playback) is archived at that
    // time (SPEC §9); anything else now.
    let seq = match text.sent_at {
        Some(secs) => gw.archiver.seq_at(secs),
        None => gw.archiver.next_seq(),
    };
    let key = (user.clone(), room_key.clone());
    if !gw.rooms.lock().contains_key(&key) {
        return None;
    }
    Some(Archived {
        bridge: gw.name().to_owned(),
        user: user.to_string(),
        room: room_key,
        seq,
        nick: nick.clone(),
        body: text.body.clone(),
        action: text.action,
        foreign_id: text.foreign_id.clone(),
    })
}

/// The replayed lines of one delivery batch.
#[derive(Default)]
pub struct Replays {
    /// The archive id last given to a replayed line of the batch.
    floor: i64,
}

impl Replays {
    /// Whether `row`, the archive row of `event`, is to be kept: false for
    /// a replayed line the archive has already. A kept replayed line is
    /// placed after the newest line archived in its room: a server's time
    /// may be cut to whole seconds, and the line came after those the
    /// user saw.
    pub async fn place(&mut self, gw: &Gateway, event: &Event, row: &mut Archived) -> bool {
        let Event::RoomMessage { text, .. } = event else {
            return true;
        };
        // Dated lines only: history and playback (and lag).
        if text.sent_at.is_none() {
            return true;
        }
        match gw.store.archive_replay(row).await {
            Ok(None) => false,
            Ok(Some(newest)) => {
                row.seq = row.seq.max(newest.saturating_add(1)).max(self.floor + 1);
                self.floor = row.seq;
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "archive lookup failed: a replayed line may show twice");
                true
            }
        }
    }
}
