//! At start, mails (or any backend's outbox items) a user left waiting go
//! out whether or not the user comes back online: the backend works them
//! without a session, and what fails is reported to the user.

use std::sync::Arc;

use ferry_bridge::{channel, Attendance, SessionContext};
use xmpp_parsers::jid::BareJid;

use super::storage::UserStorage;
use crate::gateway::Gateway;

pub async fn outboxes(gw: &Arc<Gateway>) {
    let users = match gw.store.outbox_users(gw.name()).await {
        Ok(users) => users,
        Err(e) => return tracing::error!(error = %e, "cannot list the outboxes to resume"),
    };
    for user in users.iter().filter_map(|u| BareJid::new(u).ok()) {
        let registrations = match gw.store.registrations(gw.name(), user.as_str()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(%user, error = %e, "cannot load a registration to resume");
                continue;
            }
        };
        let limits = gw.limits.for_sessions(gw.files.max_size());
        let (events_tx, mut events_rx) = channel::channel(limits.events);
        gw.bridge.resume_outbox(SessionContext {
            user: user.to_string(),
            registrations,
            contacts: Vec::new(),
            events: events_tx,
            storage: Arc::new(UserStorage {
                store: gw.store.clone(),
                bridge: gw.name().to_owned(),
                user: user.to_string(),
                outbox_limit: limits.outbox,
            }),
            limits,
            // Only the outbox is sent: nothing is kept for the user.
            attendance: Attendance::Absent {
                always_on: Vec::new(),
            },
        });
        let gw = gw.clone();
        tokio::spawn(async move {
            while let Some(event) = events_rx.recv().await {
                super::deliver(&gw, &user, event);
            }
        });
    }
}
