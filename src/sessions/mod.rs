//! Users' foreign sessions: started when a registered user comes online,
//! fed with intents, and read for events that `deliver` turns into
//! stanzas. One session per (bridge, bare JID); all resources share it.

mod deliver;
pub mod registry;
pub mod resume;
mod storage;

use std::sync::Arc;

use ferry_bridge::channel;
use ferry_bridge::{Address, Attendance, Registration, SessionContext, SessionHandle};
use xmpp_parsers::jid::{BareJid, Jid};

use crate::always_on::{self, Settings};
use crate::gateway::Gateway;
pub use deliver::{connection_states, deliver};
use registry::Delivering;
use storage::UserStorage;

/// Reads the user's always-on settings into the gateway: their
/// registrations' networks, and the channels set on their own.
pub async fn load_always_on(
    gw: &Gateway,
    user: &BareJid,
    registrations: &[(String, Registration)],
) {
    let networks = registrations
        .iter()
        .filter(|(_, r)| r.get(always_on::FIELD) == Some("true"))
        .filter_map(|(scope, r)| gw.bridge.registration_network(scope, r));
    let channels = match gw
        .store
        .state_get(gw.name(), user.as_str(), always_on::CHANNELS_KEY)
        .await
    {
        Ok(text) => text
            .map(|t| Settings::parse_channels(&t))
            .unwrap_or_default(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read always-on channels");
            Default::default()
        }
    };
    gw.always_on.set(
        user,
        Settings {
            networks: networks.collect(),
            channels,
        },
    );
}

/// Whether the user has an available resource; if not, the networks
/// kept for them (always-on).
pub fn attendance(gw: &Gateway, user: &BareJid) -> Attendance {
    if gw.online_users().contains(user) {
        return Attendance::Present;
    }
    let mut always_on: Vec<String> = gw.always_on.get(user).networks.into_iter().collect();
    always_on.sort_unstable();
    Attendance::Absent { always_on }
}

/// Starts the user's session unless one runs; false when the backend
/// cannot start one, or the user is not registered and `rooms_only` (a
/// room join, which needs no registration) is not set.
pub async fn ensure(gw: &Arc<Gateway>, user: &BareJid, rooms_only: bool) -> bool {
    if gw.sessions.is_running(user) {
        return true;
    }
    let name = gw.name().to_owned();
    let registrations = match gw.store.registrations(&name, user.as_str()).await {
        Ok(r) if !r.is_empty() || rooms_only => r,
        Ok(_) => return false,
        Err(e) => {
            tracing::error!(error = %e, "cannot load registrations for a session");
            return false;
        }
    };
    load_always_on(gw, user, &registrations).await;
    let contacts: Vec<Address> = match gw.store.contacts(&name, user.as_str()).await {
        Ok(jids) => jids
            .iter()
            .filter_map(|j| j.parse::<Jid>().ok())
            .filter_map(|used| match gw.target(&used) {
                Ok(crate::gateway::Target::Foreign(a)) => {
                    if let Some(canonical) = gw.jid_of(&a) {
                        gw.sessions.remember_alias(user, &canonical, &used);
                    }
                    Some(a)
                }
                _ => None,
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot load contacts for a session");
            Vec::new()
        }
    };
    let limits = gw.limits.for_sessions(gw.files.max_size());
    let (events_tx, events_rx) = channel::channel(limits.events);
    let context = SessionContext {
        user: user.to_string(),
        registrations,
        contacts,
        events: events_tx,
        storage: Arc::new(UserStorage {
            store: gw.store.clone(),
            bridge: name,
            user: user.to_string(),
            outbox_limit: limits.outbox,
        }),
        limits,
        attendance: attendance(gw, user),
    };
    let mut running = gw.sessions.lock();
    if running.get(user).is_some_and(|tx| !tx.is_closed()) {
        // Another resource started it while we read the store.
        return true;
    }
    let Some(SessionHandle { intents }) = gw.bridge.start_session(context) else {
        return false;
    };
    running.insert(user.clone(), intents);
    drop(running);
    tracing::info!(bridge = gw.name(), user = %user, "session started");
    let delivering = Delivering::new(&gw.sessions.delivering);
    tokio::spawn(deliver::run(
        gw.clone(),
        user.clone(),
        events_rx,
        delivering,
    ));
    true
}
