//! Fan-out: K XMPP users in one IRC channel, an IRC client sends N lines;
//! each line is timed to every user.

use std::time::Duration;

use crate::gateways::Gateway;
use crate::harness::client::NS;
use crate::measure::{self, Figures, Sample};
use crate::occupants;
use crate::pace::Pace;
use crate::plan::Flow;
use crate::servers::Servers;

pub async fn run(servers: &mut Servers<'_>, gateway: &Gateway, flow: &Flow) -> Figures {
    let occupants::Channel {
        name: channel,
        irc: mut sender,
        occupants,
    } = occupants::channel(servers, gateway, flow.users, "snd").await;
    let from = format!("{}/{}", gateway.room(&channel), sender.nick);
    let total = flow.lines;
    let pids = servers.pids(gateway);
    let before = Sample::take(&pids);
    let receivers: Vec<_> = occupants
        .into_iter()
        .map(|mut client| {
            let from = from.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total);
                while latencies.len() < total {
                    let got = client
                        .arrives_item(Duration::from_secs(30), |el| {
                            el.name() == "message" && el.attr("from") == Some(from.as_str())
                        })
                        .await;
                    let Some(el) = got else { break };
                    let body = el
                        .get_child("body", NS)
                        .map(|b| b.text())
                        .unwrap_or_default();
                    latencies.extend(measure::latency_of(&body));
                }
                latencies
            })
        })
        .collect();
    let mut pace = Pace::new(flow.rate);
    for seq in 0..total {
        pace.tick().await;
        sender
            .send(&format!(
                "PRIVMSG {channel} :{}",
                measure::stamped_line(seq)
            ))
            .await;
    }
    let mut latencies = Vec::new();
    for r in receivers {
        latencies.extend(r.await.unwrap_or_default());
    }
    let after = Sample::take(&pids);
    drop(sender);
    servers.settle().await;
    Figures::new(flow.users * total, latencies, &before, &after)
}
