//! ferry: an XMPP gateway to IRC and e-mail, run as XEP-0114 components.
//! The binary (src/main.rs) is the command line around `load` and `run`;
//! being a library as well lets the fuzz targets (fuzz/) reach the parsing
//! steps without a running gateway.

// Services return xmpp-parsers' `StanzaError` as their error: it is what
// goes on the wire, and errors are off the hot path, so its size is fine.
#![allow(clippy::result_large_err)]

mod address;
mod always_on;
mod answers;
mod asks;
mod bridges;
mod component;
mod config;
mod exporter;
mod file_state;
mod files;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod gateway;
mod lanes;
mod lease;
mod limits;
mod muc;
mod rich;
mod room_lists;
mod rooms;
mod roster;
mod router;
mod services;
mod sessions;
mod shutdown;
mod stanza_error;
mod stanzas;
mod stats;
mod store;
mod xhtml_im;
mod xml_bytes;
mod xml_clean;
mod xml_name;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use xmpp_parsers::jid::Jid;

use crate::component::{LinkConfig, Outbound};
pub use crate::config::Config;
use crate::gateway::Gateway;
use crate::store::Store;

pub fn load(
    path: &std::path::Path,
) -> anyhow::Result<(Config, Vec<Arc<dyn ferry_bridge::Bridge>>)> {
    let config = Config::load(path, std::env::vars())
        .with_context(|| format!("config {}", path.display()))?;
    let bridges = config
        .bridge
        .iter()
        .map(bridges::build)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("config {}", path.display()))?;
    Ok((config, bridges))
}

pub async fn run(
    config: Config,
    bridges: Vec<Arc<dyn ferry_bridge::Bridge>>,
) -> anyhow::Result<()> {
    let mut signals = shutdown::Signals::listen()?;
    let store = Arc::new(Store::open(&config.store).await.context("store")?);
    let exporter = match &config.metrics.listen {
        Some(listen) => Some(exporter::start(
            listen.parse().context("metrics.listen")?,
            store.clone(),
        )?),
        None => None,
    };
    // A standby waits here, with no connection to the XMPP server; a
    // signal meanwhile just ends it.
    let lease = tokio::select! {
        lease = lease::hold(&store, &config.ha) => lease,
        _ = signals.arrived() => return Ok(()),
    };
    match store.files_sweep().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, "files a crash left behind were dropped"),
        Err(e) => tracing::warn!(error = %e, "cannot sweep the files left behind"),
    }
    tokio::spawn(prune_archives(
        store.clone(),
        config.store.archive_days,
        config.store.archive_rows,
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut links = Vec::new();
    let mut gateways = Vec::new();
    for (entry, bridge) in config.bridge.iter().zip(bridges) {
        let jid = Jid::new(&entry.jid).with_context(|| format!("bridge jid {}", entry.jid))?;
        let out = Arc::new(Outbound::new(config.xmpp.queue, config.xmpp.user_queue));
        let (events_tx, events_rx) = mpsc::channel(1024);
        let link = LinkConfig {
            host: config.xmpp.host.clone(),
            port: config.xmpp.port,
            jid: jid.clone(),
            secret: entry.secret()?,
            keepalive: Duration::from_secs(config.xmpp.keepalive),
        };
        links.push(tokio::spawn(component::run(
            link,
            out.clone(),
            events_tx,
            stop_rx.clone(),
        )));
        let gateway = Arc::new(Gateway::new(
            jid,
            bridge,
            store.clone(),
            config.access.clone(),
            config.limits.clone(),
            out,
            entry.files()?,
        ));
        tokio::spawn(gateway.clone().run(events_rx));
        gateways.push(gateway);
    }
    if let Some(exporter) = &exporter {
        exporter.watch(gateways.clone());
    }
    signals.arrived().await;
    shutdown::run(&gateways, stop_tx, links).await;
    // The links are closed: a standby may take over now.
    if let Some(lease) = lease {
        lease.release().await;
    }
    Ok(())
}

/// Applies the archive retention at start and every hour.
async fn prune_archives(store: Arc<Store>, days: u64, rows: u64) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        let cutoff = std::time::SystemTime::now()
            .checked_sub(Duration::from_secs(days.saturating_mul(86_400)))
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        match store.archive_prune(cutoff, rows as i64).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned room archives"),
            Err(e) => tracing::error!(error = %e, "archive pruning failed"),
        }
    }
}

/// Applies the store migrations.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    Store::open(&config.store).await.context("store")?;
    Ok(())
}
