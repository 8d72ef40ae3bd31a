//! Fan-in: K XMPP users in one IRC channel send N groupchat messages
//! between them; an IRC client in the channel times each line.

use std::time::Duration;

use crate::gateways::Gateway;
use crate::harness::stanzas::{body, stanza};
use crate::measure::{self, Figures, Sample};
use crate::occupants;
use crate::pace::Pace;
use crate::plan::Flow;
use crate::servers::Servers;

pub async fn run(servers: &mut Servers<'_>, gateway: &Gateway, flow: &Flow) -> Figures {
    let occupants::Channel {
        name: channel,
        irc: mut receiver,
        occupants,
    } = occupants::channel(servers, gateway, flow.users, "rcv").await;
    let total = flow.lines;
    let pids = servers.pids(gateway);
    let before = Sample::take(&pids);
    let collector = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(total);
        // Long enough for a throttled gateway's queue to move a line.
        while latencies.len() < total {
            let Some(line) = receiver.next_line(Duration::from_secs(30)).await else {
                break;
            };
            if line.split(' ').nth(1) == Some("PRIVMSG") {
                let text = line.split_once(" :").map(|(_, t)| t).unwrap_or_default();
                latencies.extend(measure::latency_of(text));
            }
        }
        latencies
    });
    let room = gateway.room(&channel);
    let speakers: Vec<_> = occupants.into_iter().map(occupants::speaker).collect();
    let mut pace = Pace::new(flow.rate);
    if !speakers.is_empty() {
        for seq in 0..total {
            pace.tick().await;
            let text = measure::stamped_line(seq);
            let message = stanza(
                "message",
                &[("to", &room), ("type", "groupchat")],
                vec![body(&text)],
            );
            let _ = speakers[seq % speakers.len()].send(message);
        }
    }
    let latencies = collector.await.unwrap_or_default();
    let after = Sample::take(&pids);
    drop(speakers);
    servers.settle().await;
    Figures::new(total, latencies, &before, &after)
}
