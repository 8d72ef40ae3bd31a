//! The user asks for a network's channel list (SPEC §10).

use std::time::Instant;

use ferry_bridge::{Event, Failure};

use super::Session;

impl Session {
    /// Asks `network`'s connection for its list on behalf of request
    /// `id`; a request that cannot be asked is answered at once.
    pub(super) async fn list_rooms(&mut self, network: String, id: String) {
        let refused = match self.nets.get_mut(&network) {
            None => Some((Failure::ItemNotFound, "not connected to that network")),
            Some(net) if !net.registered => {
                Some((Failure::ServiceUnavailable, "not connected yet"))
            }
            Some(net) => {
                let asks = net.listing.ask(id.clone(), Instant::now());
                if asks && !net.queue("LIST".into()) {
                    net.listing = Default::default();
                    Some((
                        Failure::ResourceConstraint,
                        "too many lines waiting for IRC",
                    ))
                } else {
                    None
                }
            }
        };
        if let Some((failure, text)) = refused {
            let result = Err((failure, text.to_owned()));
            self.emit(Event::RoomList { id, result }).await;
        }
    }
}
