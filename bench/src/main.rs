//! ferry against biboumi, side by side on one Prosody and one ngircd.
//!
//! Fan-out: K XMPP users in one IRC channel, an IRC client sends N lines;
//! for each gateway: delivered/expected, messages a second, latency
//! percentiles, the gateway's own CPU time per delivered stanza (from
//! /proc) and its memory. Prints one table with the ratio ferry/biboumi and
//! writes the figures as JSON.

// The end-to-end test harness: the same real servers, the same client.
#[path = "../../tests/harness/mod.rs"]
mod harness;

mod measure;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::client::{ncname, TestClient, NS};
use harness::ircd::{IrcClient, Ngircd};
use harness::{Ferry, Prosody};
use tokio_xmpp::parsers::minidom::Element;

use measure::{Figures, ProcessStats};

struct Workload {
    users: usize,
    lines: usize,
    /// Lines a second from the IRC side (0: as fast as possible).
    rate: u32,
}

/// biboumi, stopped (and reaped) when dropped, panics included.
struct Biboumi(Child);

impl Drop for Biboumi {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn biboumi(dir: &std::path::Path, prosody: &Prosody) -> Biboumi {
    let config = format!(
        "hostname=biboumi.localhost\npassword={}\nxmpp_server_ip=127.0.0.1\nport={}\n\
         db_name={}/biboumi.sqlite\nidentd_port=0\nlog_level=2\nrealname_customization=true\n",
        harness::MAIL_SECRET,
        prosody.component,
        dir.display()
    );
    let path = dir.join("biboumi.cfg");
    std::fs::write(&path, config).unwrap();
    let log = std::fs::File::create(dir.join("biboumi.log")).unwrap();
    let child = Command::new("biboumi")
        .arg(&path)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("biboumi (Debian package biboumi) must be installed");
    Biboumi(child)
}

/// K users join `#bench` through `gateway`; the sender's N lines are
/// timed to every one of them.
async fn fan_out(
    prosody: &Prosody,
    irc_port: u16,
    gateway: &str,
    pid: u32,
    load: &Workload,
) -> Figures {
    let room = format!("#bench%127.0.0.1@{gateway}");
    let mut sender = IrcClient::connect(irc_port, &format!("snd{}", &gateway[..3])).await;
    sender.send("JOIN #bench").await;
    sender
        .expect("the sender's join", |l| l.contains(" 366 "))
        .await;
    let mut clients = Vec::new();
    for i in 0..load.users {
        let c = TestClient::connect(&format!("u{i}"), "localhost", "pw", prosody.c2s).await;
        let join = Element::builder("presence", NS)
            .attr(ncname("to"), format!("{room}/u{i}{}", &gateway[..1]))
            .append(
                Element::builder("x", "http://jabber.org/protocol/muc").append(
                    Element::builder("history", "http://jabber.org/protocol/muc")
                        .attr(ncname("maxstanzas"), "0"),
                ),
            )
            .build();
        c.send(join).await;
        clients.push(c);
        // Gradually: the gateway opens an IRC connection per user, and
        // ngircd's listen backlog is 10.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut joined = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    for mut c in clients {
        let left = deadline.saturating_duration_since(Instant::now());
        let subject = c
            .arrives_item(left.max(Duration::from_millis(10)), |el| {
                el.name() == "message" && el.get_child("subject", NS).is_some()
            })
            .await;
        if subject.is_some() {
            joined.push(c);
        }
    }
    eprintln!("{gateway}: {} of {} users joined", joined.len(), load.users);
    let clients = joined;
    let sender_jid = format!("{room}/{}", sender.nick);
    let start = Instant::now();
    let before = ProcessStats::read(pid);
    let total = load.lines;
    let receivers: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            let from = sender_jid.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total);
                while latencies.len() < total {
                    let got = c
                        .arrives_item(Duration::from_secs(30), |el| {
                            el.name() == "message" && el.attr("from") == Some(from.as_str())
                        })
                        .await;
                    let Some(el) = got else { break };
                    let body = el
                        .get_child("body", NS)
                        .map(|b| b.text())
                        .unwrap_or_default();
                    if let Some(sent) = body.split(' ').nth(2).and_then(|t| t.parse::<u128>().ok())
                    {
                        latencies.push(measure::now_micros().saturating_sub(sent) as u64);
                    }
                }
                latencies
            })
        })
        .collect();
    let pace = (load.rate > 0).then(|| Duration::from_secs(1) / load.rate);
    for seq in 0..total {
        sender
            .send(&format!(
                "PRIVMSG #bench :line {seq} {}",
                measure::now_micros()
            ))
            .await;
        if let Some(pace) = pace {
            tokio::time::sleep(pace).await;
        }
    }
    let mut latencies = Vec::new();
    for r in receivers {
        latencies.extend(r.await.unwrap_or_default());
    }
    let elapsed = start.elapsed();
    let after = ProcessStats::read(pid);
    Figures::new(load.users * total, latencies, elapsed, &before, &after)
}

/// What to run: `--smoke`, or the full set narrowed by `--only ferry|biboumi`,
/// `--users 10,100`, `--lines N` and `--rate R` (lines a second, 0 = unpaced).
struct Options {
    loads: Vec<Workload>,
    ferry: bool,
    biboumi: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let only = value("--only");
    let smoke = args.iter().any(|a| a == "--smoke");
    let users: Vec<usize> = match value("--users") {
        Some(list) => list.split(',').filter_map(|u| u.parse().ok()).collect(),
        None if smoke => vec![5],
        None => vec![10, 100, 500],
    };
    let shapes: Vec<(usize, u32)> = match (value("--lines"), value("--rate")) {
        _ if smoke => vec![(20, 0)],
        (None, None) => vec![(200, 0), (100, 10)],
        (lines, rate) => vec![(
            lines.and_then(|l| l.parse().ok()).unwrap_or(100),
            rate.and_then(|r| r.parse().ok()).unwrap_or(0),
        )],
    };
    let loads = users
        .iter()
        .flat_map(|&users| {
            shapes
                .iter()
                .map(move |&(lines, rate)| Workload { users, lines, rate })
        })
        .collect();
    Options {
        loads,
        ferry: only.as_deref() != Some("biboumi"),
        biboumi: only.as_deref() != Some("ferry"),
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let loads = &options.loads;
    let tmp = tempfile::tempdir().unwrap();
    let prosody = Prosody::start(tmp.path());
    let max_users = loads.iter().map(|l| l.users).max().unwrap_or(1);
    for i in 0..max_users {
        prosody.add_user(&format!("u{i}"), "localhost", "pw");
    }
    // biboumi reaches IRC servers on 6667 only.
    let ircd = if options.biboumi {
        Ngircd::start_at(tmp.path(), 6667)
    } else {
        Ngircd::start(tmp.path())
    };
    let config = harness::minimal_config(tmp.path(), &prosody)
        .replace("# throttle_rate = 2.0", "throttle_rate = 0")
        .replace("127.0.0.1:6667", &format!("127.0.0.1:{}", ircd.port));
    let ferry = Ferry::start(tmp.path(), &config);
    ferry.wait_links(2).await;
    let bib = options.biboumi.then(|| biboumi(tmp.path(), &prosody));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ferry_pid = ferry.pid().expect("ferry runs");

    let mut rows = Vec::new();
    for load in loads {
        eprintln!(
            "fan-out K={} N={} rate={}",
            load.users, load.lines, load.rate
        );
        let f = match options.ferry {
            true => fan_out(&prosody, ircd.port, "irc.localhost", ferry_pid, load).await,
            false => Figures::none(load.users * load.lines),
        };
        let b = match &bib {
            Some(b) => fan_out(&prosody, ircd.port, "biboumi.localhost", b.0.id(), load).await,
            None => Figures::none(load.users * load.lines),
        };
        rows.push((load, f, b));
    }
    measure::report(
        &rows
            .iter()
            .map(|(l, f, b)| (l.users, l.lines, l.rate, f, b))
            .collect::<Vec<_>>(),
    );
    drop(bib);
    drop(ircd);
    drop(ferry);
}
