//! Graceful shutdown, in order: a signal arrives; every room tells its
//! occupants it is going (332) and the ledger of joined rooms is cleared;
//! foreign sessions say goodbye (IRC QUIT) and their last events become
//! stanzas; every online user sees the bridges and contacts go
//! unavailable; the links flush what is queued and close. Each wait is
//! bounded, so that the whole stays under the 5 s a service manager may
//! allow.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::gateway::Gateway;
use crate::{muc, services};

const SESSIONS_GRACE: Duration = Duration::from_millis(2500);
const LINKS_GRACE: Duration = Duration::from_millis(2000);

/// The listeners for SIGTERM and SIGINT, made once at start and kept for
/// the whole run: a signal that arrives while nobody awaits it (the
/// gateways are still being built) is kept for the next `arrived`, where
/// a listener made later would never see it.
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    pub fn listen() -> std::io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for SIGTERM or SIGINT.
    pub async fn arrived(&mut self) {
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = self.int.recv() => tracing::info!("SIGINT: shutting down"),
        }
    }
}

/// Runs the steps; `stop` closes the links, which end their tasks.
pub async fn run(gateways: &[Arc<Gateway>], stop: watch::Sender<bool>, links: Vec<JoinHandle<()>>) {
    for gateway in gateways {
        services::presence::rooms_shut_down(gateway);
        muc::ledger::clear(gateway).await;
    }
    // In parallel across bridges, so that one slow network does not eat
    // the others' time.
    let sessions = futures::future::join_all(
        gateways
            .iter()
            .map(|g| g.sessions.stop_all("ferry is shutting down")),
    );
    if tokio::time::timeout(SESSIONS_GRACE, sessions)
        .await
        .is_err()
    {
        tracing::warn!("some foreign sessions did not end in time");
    }
    let goodbye = async {
        for gateway in gateways {
            services::presence::goodbye_all(gateway).await;
        }
        let _ = stop.send(true);
        for link in links {
            let _ = link.await;
        }
    };
    if tokio::time::timeout(LINKS_GRACE, goodbye).await.is_err() {
        tracing::warn!("links did not close in time");
    }
}
