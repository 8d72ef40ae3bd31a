//! Prometheus metrics (SPEC §5) on `[metrics] listen`, served by
//! metrics-exporter-prometheus. The series are set from ferry's own
//! counts once a second, so the paths that count pay one atomic add, and
//! nothing more when metrics are off. `snapshot` is what the admins'
//! "statistics" command shows.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{counter, gauge};
use metrics_exporter_prometheus::PrometheusBuilder;

use crate::gateway::Gateway;
use crate::store::Store;

/// One bridge's figures now.
pub struct Snapshot {
    pub stanzas_in: u64,
    pub stanzas_out: u64,
    pub link_up: bool,
    pub link_queue: usize,
    pub users_online: usize,
    pub foreign_connections: usize,
    pub archive_backlog: usize,
    pub refused: Vec<(&'static str, u64)>,
}

pub fn snapshot(gw: &Gateway) -> Snapshot {
    Snapshot {
        stanzas_in: gw.stats.stanzas_in(),
        stanzas_out: gw.out.sent(),
        link_up: gw.out.is_up(),
        link_queue: gw.out.len(),
        users_online: gw.online_users().len(),
        foreign_connections: gw.sessions.online_connections(),
        archive_backlog: gw.archiver.backlog(),
        refused: gw.stats.refusals(),
    }
}

/// The bridges whose figures the series show (none on a standby).
pub struct Exporter {
    gateways: Arc<Mutex<Vec<Arc<Gateway>>>>,
}

impl Exporter {
    /// The bridges are up: their series from now on.
    pub fn watch(&self, gateways: Vec<Arc<Gateway>>) {
        *self.gateways.lock().unwrap_or_else(|e| e.into_inner()) = gateways;
    }
}

/// Starts the listener and the task that sets the series.
pub fn start(listen: SocketAddr, store: Arc<Store>) -> anyhow::Result<Exporter> {
    PrometheusBuilder::new()
        .with_http_listener(listen)
        .install()
        .map_err(|e| anyhow::anyhow!("metrics.listen {listen}: {e}"))?;
    tracing::info!(%listen, "metrics at /metrics");
    // Shown from the start, before the IRC bridge counts its first.
    counter!("ferry_irc_reconnects_total").increment(0);
    let gateways = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(sample(gateways.clone(), store));
    Ok(Exporter { gateways })
}

/// The store is asked about the outbox every this many samples.
const OUTBOX_EVERY: u32 = 5;

async fn sample(gateways: Arc<Mutex<Vec<Arc<Gateway>>>>, store: Arc<Store>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n = 0u32;
    loop {
        tick.tick().await;
        let watched = gateways.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for gw in &watched {
            set(gw.name(), &snapshot(gw));
        }
        let holder = if crate::lease::is_holder() { 1.0 } else { 0.0 };
        gauge!("ferry_lease_holder").set(holder);
        if n.is_multiple_of(OUTBOX_EVERY) {
            outbox(&store).await;
        }
        n = n.wrapping_add(1);
    }
}

fn set(bridge: &str, s: &Snapshot) {
    let b = || ("bridge", bridge.to_owned());
    counter!("ferry_stanzas_in_total", &[b()]).absolute(s.stanzas_in);
    counter!("ferry_stanzas_out_total", &[b()]).absolute(s.stanzas_out);
    gauge!("ferry_link_up", &[b()]).set(if s.link_up { 1.0 } else { 0.0 });
    gauge!("ferry_link_queue", &[b()]).set(s.link_queue as f64);
    gauge!("ferry_users_online", &[b()]).set(s.users_online as f64);
    gauge!("ferry_foreign_connections", &[b()]).set(s.foreign_connections as f64);
    gauge!("ferry_archive_backlog", &[b()]).set(s.archive_backlog as f64);
    for (reason, count) in &s.refused {
        let labels = [b(), ("reason", (*reason).to_owned())];
        counter!("ferry_refused_total", &labels).absolute(*count);
    }
}

async fn outbox(store: &Store) {
    match store.outbox_stats().await {
        Ok((depth, oldest)) => {
            let now_us = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_micros() as i64)
                .unwrap_or(0);
            let age = oldest.map_or(0, |t| (now_us - t).max(0) / 1_000_000);
            gauge!("ferry_outbox_depth").set(depth as f64);
            gauge!("ferry_outbox_oldest_seconds").set(age as f64);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the outbox"),
    }
}
