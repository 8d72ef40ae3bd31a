//! Scale: U users, each with its own IRC connection through the gateway
//! and one channel (rooms of ten, spread over the IRC servers), all
//! carried by the load component.
//! Join time, memory per user, and the gateway's CPU while they idle.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::gateways::Gateway;
use crate::load::{self, Load};
use crate::measure::{CpuShares, Sample, ScaleFigures};
use crate::muc;
use crate::pace::Pace;
use crate::plan::Scale;
use crate::servers::Servers;

/// Users a room holds: some occupant traffic, without the N² of one room.
const ROOM_SIZE: usize = 10;
/// How long the join may go without a new user before the pass gives up.
const STALL: Duration = Duration::from_secs(60);

pub async fn run(servers: &mut Servers<'_>, gateway: &Gateway, scale: &Scale) -> ScaleFigures {
    let tag = servers.next_tag();
    let (load, mut inbox) = Load::connect(servers.prosody.component).await;
    let joined = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let counting = {
        let (joined, answered) = (joined.clone(), answered.clone());
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            while let Some(el) = inbox.recv().await {
                if muc::is_subject(&el, load::NS)
                    && seen.insert(el.attr("to").unwrap_or_default().to_owned())
                {
                    joined.fetch_add(1, Ordering::Relaxed);
                }
                if el.name() == "iq" && el.attr("type") == Some("result") {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let user = |i: usize| format!("{tag}u{i}@{}/r", load::DOMAIN);
    // Rooms are spread over the IRC servers, a room on one server.
    let hosts = servers.irc_hosts.clone();
    let occupant = |i: usize| {
        let room = i / ROOM_SIZE;
        let host = &hosts[room % hosts.len()];
        format!(
            "{}/{tag}n{i}",
            gateway.room_on(&format!("#{tag}r{room}"), host)
        )
    };
    let always_on = scale.always_on && gateway.name == "ferry";
    if always_on {
        let mut pace = Pace::new(scale.join_rate);
        for i in 0..scale.users {
            pace.tick().await;
            let room = occupant(i).split('/').next().unwrap_or_default().to_owned();
            load.send(muc::always_on(load::NS, &user(i), &room));
        }
        wait_count(&answered, scale.users, "always-on settings saved", gateway).await;
    }
    let pids = servers.pids(gateway);
    let start = Sample::take(&pids);
    let began = Instant::now();
    let mut pace = Pace::new(scale.join_rate);
    for i in 0..scale.users {
        pace.tick().await;
        load.send(muc::join(load::NS, Some(&user(i)), &occupant(i)));
    }
    let (count, join_time) = wait_joins(&joined, scale.users, began, gateway, "joined").await;
    let per_user = |v: f64| v / count.max(1) as f64;
    let settled = Sample::take(&pids);
    tokio::time::sleep(scale.idle).await;
    let idled = Sample::take(&pids);
    let idle_cpu = CpuShares::between(&settled, &idled);
    let mut pace = Pace::new(scale.join_rate);
    for i in 0..scale.users {
        pace.tick().await;
        load.send(muc::leave(load::NS, Some(&user(i)), &occupant(i)));
    }
    // Always-on rooms stay joined: what they cost once nobody is online.
    let offline = if always_on {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let left = Sample::take(&pids);
        Some(per_user(
            left.gateway.rss_kb.saturating_sub(start.gateway.rss_kb) as f64,
        ))
    } else {
        None
    };
    // ngircd takes the better part of a minute to see 5000 users quit.
    let quitting = Duration::from_secs(120) + Duration::from_millis(30 * scale.users as u64);
    servers.settle_within(quitting).await;
    load.close().await;
    counting.abort();
    ScaleFigures {
        users: scale.users,
        joined: count,
        join_secs: join_time.as_secs_f64(),
        start_rss_kb: start.gateway.rss_kb,
        rss_kb: settled.gateway.rss_kb,
        rss_per_user_kb: per_user(
            settled.gateway.rss_kb.saturating_sub(start.gateway.rss_kb) as f64
        ),
        offline_rss_per_user_kb: offline,
        idle_per_1000: per_user(idle_cpu.gateway * 1000.0),
        join_cpu: CpuShares::between(&start, &settled),
        idle_cpu,
    }
}

/// Waits until `count` reaches `wanted`, or stalls for `STALL`.
async fn wait_count(count: &AtomicUsize, wanted: usize, what: &str, gateway: &Gateway) {
    wait_joins(count, wanted, Instant::now(), gateway, what).await;
}

/// Waits until `users` joins completed or none came for `STALL`; returns
/// how many did and when the last one came.
async fn wait_joins(
    joined: &AtomicUsize,
    users: usize,
    began: Instant,
    gateway: &Gateway,
    what: &str,
) -> (usize, Duration) {
    let mut last = (0, began.elapsed());
    let mut said = Instant::now();
    loop {
        let now = joined.load(Ordering::Relaxed);
        if now > last.0 {
            last = (now, began.elapsed());
        }
        if now >= users || began.elapsed() - last.1 > STALL {
            eprintln!(
                "  {}: {now} of {users} {what} in {:.1} s",
                gateway.name,
                last.1.as_secs_f64()
            );
            return last;
        }
        if said.elapsed() > Duration::from_secs(10) {
            eprintln!("  {}: {now} of {users} {what}…", gateway.name);
            said = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
