//! Hot standby (SPEC §5). On PostgreSQL every ferry process sharing the
//! store waits for the lease before it opens anything: only the holder
//! has component links, users' sessions and the outbox. The holder renews
//! every `ha.renew` seconds; one that has not renewed for `lease − renew`
//! seconds (the store gone, no answer) exits at once, so that its links
//! close before the lease runs out and two holders never speak at once;
//! the service manager starts it again as a standby. SQLite takes no
//! lease: the store's lock file keeps a second process out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::HaConfig;
use crate::store::Store;

/// How often a standby asks for the lease: a released one is taken at
/// once (SPEC: within 2 s of the holder's SIGTERM).
const STANDBY_POLL: Duration = Duration::from_millis(250);
/// The exit status of a holder that lost its lease (EX_TEMPFAIL).
const LOST: i32 = 75;

/// Whether this process holds the lease (`ferry_lease_holder`).
static HOLDER: AtomicBool = AtomicBool::new(false);

pub fn is_holder() -> bool {
    HOLDER.load(Ordering::Relaxed)
}

/// The lease this process holds.
pub struct Lease {
    store: Arc<Store>,
    holder: String,
    epoch: i64,
}

/// Waits until this process holds the lease (at once on SQLite), and
/// keeps it from then on.
pub async fn hold(store: &Arc<Store>, config: &HaConfig) -> Option<Lease> {
    if !store.is_postgres() {
        HOLDER.store(true, Ordering::Relaxed);
        return None;
    }
    let holder = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
    let lease_ms = config.lease_ms();
    tracing::info!(%holder, "standby: waiting for the lease");
    let mut said = false;
    loop {
        let asked = Instant::now();
        match store.lease_take(&holder, lease_ms).await {
            Ok(Some(epoch)) => {
                tracing::info!(%holder, epoch, "lease acquired: this process speaks for the bridges");
                store.fence(holder.clone(), epoch);
                HOLDER.store(true, Ordering::Relaxed);
                tokio::spawn(keep(
                    store.clone(),
                    config.clone(),
                    holder.clone(),
                    epoch,
                    asked,
                ));
                return Some(Lease {
                    store: store.clone(),
                    holder,
                    epoch,
                });
            }
            Ok(None) => {}
            Err(e) if !said => {
                said = true;
                tracing::warn!(error = %e, "standby: cannot reach the store");
            }
            Err(_) => {}
        }
        tokio::time::sleep(STANDBY_POLL).await;
    }
}

/// Renews the lease until it cannot: then the process ends, links and all.
async fn keep(
    store: Arc<Store>,
    config: HaConfig,
    holder: String,
    epoch: i64,
    mut renewed: Instant,
) {
    let (renew, lease) = (config.renew(), config.lease());
    // Past this since the last renewal asked, the lease may be someone
    // else's: the links must be gone by then.
    let give_up = lease.saturating_sub(renew);
    loop {
        tokio::time::sleep(renew).await;
        if !is_holder() {
            // Released at shutdown.
            return;
        }
        let asked = Instant::now();
        let left = give_up.saturating_sub(renewed.elapsed());
        let answer =
            tokio::time::timeout(left, store.lease_renew(&holder, epoch, config.lease_ms())).await;
        match answer {
            Ok(Ok(true)) => renewed = asked,
            Ok(Ok(false)) => lost("another process holds the lease now"),
            Ok(Err(e)) if renewed.elapsed() < give_up => {
                tracing::warn!(error = %e, "the lease could not be renewed; trying again");
            }
            Ok(Err(_)) | Err(_) => lost("the lease could not be renewed in time"),
        }
    }
}

fn lost(why: &str) -> ! {
    HOLDER.store(false, Ordering::Relaxed);
    tracing::error!("{why}: leaving at once, so that only one process speaks for the bridges");
    std::process::exit(LOST)
}

impl Lease {
    /// Gives the lease up (after the links closed): a standby takes over.
    pub async fn release(self) {
        HOLDER.store(false, Ordering::Relaxed);
        match self.store.lease_release(&self.holder, self.epoch).await {
            Ok(()) => tracing::info!(epoch = self.epoch, "lease released"),
            Err(e) => tracing::warn!(error = %e, "the lease could not be released; it runs out"),
        }
    }
}
