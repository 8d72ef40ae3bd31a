//! Networks' channel lists (SPEC §10), kept for ten minutes and shared by
//! all users of a bridge, and the list requests waiting for a session's
//! answer. The work on them is in `services/room_list.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_bridge::{Failure, RoomInfo};

/// How long a network's list is served without asking again.
const FRESH: Duration = Duration::from_secs(600);

pub type Answer = Result<Vec<RoomInfo>, (Failure, String)>;

/// A network's list and when it came.
type Kept = (Instant, Arc<Vec<RoomInfo>>);

#[derive(Default)]
pub struct RoomLists {
    lists: Mutex<HashMap<String, Kept>>,
    /// Requests waiting for a session's list.
    pub waiting: crate::answers::Answers<Answer>,
}

impl RoomLists {
    /// `network`'s list, if it is fresh.
    pub fn fresh(&self, network: &str) -> Option<Arc<Vec<RoomInfo>>> {
        let lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists
            .get(network)
            .filter(|(at, _)| at.elapsed() < FRESH)
            .map(|(_, rooms)| rooms.clone())
    }

    pub fn keep(&self, network: &str, rooms: Arc<Vec<RoomInfo>>) {
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists.retain(|_, (at, _)| at.elapsed() < FRESH);
        lists.insert(network.to_owned(), (Instant::now(), rooms));
    }
}
