//! ferry against biboumi, side by side on one Prosody and one ngircd, each
//! attached as its own component; the same passes through each:
//! fan-out (IRC → K XMPP users), fan-in (K XMPP users → IRC), direct chat
//! round trips, and scale (thousands of users with an IRC connection each,
//! joining and then idle). Prints one table with both gateways and the
//! ratio ferry/biboumi, and writes the figures as JSON. See `plan` for the
//! options.

// The end-to-end test harness: the same real servers, the same client.
#[path = "../../tests/harness/mod.rs"]
mod harness;

mod census;
mod fan_in;
mod fan_out;
mod gateways;
mod latency;
mod load;
mod measure;
mod muc;
mod occupants;
mod pace;
mod plan;
mod report;
mod scale;
mod servers;

use std::time::Duration;

use gateways::{Biboumi, Gateway};
use harness::ircd::Ngircd;
use harness::{Ferry, Prosody};
use plan::Pass;
use report::{Outcome, Row};
use servers::Servers;

async fn run(servers: &mut Servers<'_>, gateway: &Gateway, pass: &Pass) -> Outcome {
    match pass {
        Pass::FanOut(flow) => Outcome::Flow(fan_out::run(servers, gateway, flow).await),
        Pass::FanIn(flow) | Pass::FanInThrottled(flow) => {
            Outcome::Flow(fan_in::run(servers, gateway, flow).await)
        }
        Pass::Latency(chat) => Outcome::Flow(latency::run(servers, gateway, chat).await),
        Pass::Scale(scale) => Outcome::Scale(scale::run(servers, gateway, scale).await),
    }
}

/// The IRC servers as ferry's `networks`.
fn networks(servers: &Servers<'_>) -> Vec<String> {
    servers
        .irc_hosts
        .iter()
        .map(|host| format!("{host}:{}", servers.irc_port))
        .collect()
}

/// Starts ferry again with the throttle `throttle` (None: off).
async fn restart_ferry(
    ferry: &mut Ferry,
    dir: &std::path::Path,
    servers: &Servers<'_>,
    throttle: Option<(u32, f64)>,
    fresh_store: bool,
) {
    ferry.kill();
    if fresh_store {
        // Always-on rooms an earlier pass left would be joined again.
        for file in ["ferry.db", "ferry.db-wal", "ferry.db-shm"] {
            let _ = std::fs::remove_file(dir.join(file));
        }
    }
    std::fs::write(
        &ferry.config,
        gateways::ferry_config(dir, servers.prosody, &networks(servers), throttle),
    )
    .unwrap();
    ferry.launch();
    ferry.wait_links(2).await;
}

#[tokio::main]
async fn main() {
    let plan = plan::from_args();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut prosody = Prosody::start(dir);
    load::attach(&mut prosody);
    let accounts = |pick: fn(&Pass) -> bool| {
        plan.passes
            .iter()
            .filter(|p| pick(p))
            .map(Pass::c2s_users)
            .max()
            .unwrap_or(0)
    };
    occupants::accounts(&prosody, "u", accounts(|p| !matches!(p, Pass::Latency(_))));
    occupants::accounts(&prosody, "l", accounts(|p| matches!(p, Pass::Latency(_))));
    // biboumi reaches IRC servers on 6667 only; further servers listen on
    // 127.0.0.2, 127.0.0.3, … at the same port.
    let port = if plan.biboumi {
        6667
    } else {
        harness::free_port()
    };
    let ircds: Vec<Ngircd> = (1..=plan.ircds)
        .map(|n| Ngircd::start_on(dir, &format!("127.0.0.{n}"), port))
        .collect();
    let mut servers = Servers::new(&prosody, &ircds).await;
    let mut ferry = Ferry::start(
        dir,
        &gateways::ferry_config(dir, &prosody, &networks(&servers), None),
    );
    ferry.wait_links(2).await;
    let mut biboumi = plan.biboumi.then(|| Biboumi::start(dir, &prosody));
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Rows are kept as they come, for the report of an interrupted run.
    let rows = std::cell::RefCell::new(Vec::new());
    let passes = async {
        let mut throttled = false;
        for pass in &plan.passes {
            if matches!(pass, Pass::FanInThrottled(_)) && plan.ferry && !throttled {
                restart_ferry(
                    &mut ferry,
                    dir,
                    &servers,
                    Some(plan::BIBOUMI_THROTTLE),
                    false,
                )
                .await;
                throttled = true;
            }
            // A scale pass measures memory from a fresh start: what earlier
            // passes left in the allocators would hide the users' share.
            if let Pass::Scale(scale) = pass {
                if plan.ferry {
                    restart_ferry(&mut ferry, dir, &servers, None, scale.always_on).await;
                }
                // The old biboumi is stopped (dropped) before the new one
                // takes its component name.
                if let Some(old) = biboumi.take() {
                    drop(old);
                    biboumi = Some(Biboumi::start(dir, &prosody));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            eprintln!("{} {}", pass.workload(), pass.params());
            let gateways = [
                plan.ferry.then(|| gateways::ferry(&ferry)),
                biboumi.as_ref().map(Biboumi::gateway),
            ];
            let mut outcomes = Vec::new();
            for gateway in &gateways {
                outcomes.push(match gateway {
                    Some(g) => Some(run(&mut servers, g, pass).await),
                    None => None,
                });
            }
            let mut outcomes = outcomes.into_iter();
            rows.borrow_mut().push(Row {
                workload: pass.workload(),
                params: pass.params(),
                ferry: outcomes.next().flatten(),
                biboumi: outcomes.next().flatten(),
            });
        }
    };
    // Interrupted, the servers must still be stopped: a stray ngircd would
    // hold 6667 for the next run.
    let finished = tokio::select! {
        () = passes => true,
        () = interrupted() => false,
    };
    let rows = rows.into_inner();
    report::report(&rows);
    let nothing = rows.iter().any(|r| {
        [&r.ferry, &r.biboumi]
            .iter()
            .any(|o| o.as_ref().is_some_and(|o| !o.delivered_any()))
    });
    let code = if !finished {
        eprintln!("interrupted");
        130
    } else if plan.smoke && nothing {
        eprintln!("smoke: a gateway delivered nothing in some workload; the bench is broken");
        1
    } else {
        0
    };
    drop(servers);
    drop(biboumi);
    drop(ircds);
    drop(ferry);
    drop(prosody);
    drop(tmp);
    std::process::exit(code);
}

/// SIGINT or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
