//! Direct chat round trip: XMPP users send chat messages to an IRC user,
//! who echoes each one at once; each user sends at most one line a second,
//! below both gateways' throttles, so the figure is the gateways' delay.

use std::time::{Duration, Instant};

use crate::gateways::Gateway;
use crate::harness::client::{presence_from, TestClient, NS};
use crate::harness::ircd::IrcClient;
use crate::harness::stanzas::{body, register_and_subscribe, stanza};
use crate::measure::{Figures, Sample};
use crate::occupants;
use crate::pace::Pace;
use crate::plan::Chat;
use crate::servers::Servers;

pub async fn run(servers: &mut Servers<'_>, gateway: &Gateway, chat: &Chat) -> Figures {
    let tag = servers.next_tag();
    let echo = IrcClient::connect(servers.irc_port, &format!("{tag}echo")).await;
    let contact = gateway.contact(&echo.nick);
    let echoing = tokio::spawn(echo_forever(echo));
    let mut clients = occupants::connect(servers.prosody, "l", chat.senders).await;
    for (i, c) in clients.iter_mut().enumerate() {
        c.available().await;
        if gateway.chat_needs_registration {
            online(c, gateway, &format!("{tag}n{i}")).await;
        }
    }
    // biboumi reaches a server only for a user in one of its channels.
    let mut occupants = occupants::join(clients, gateway, &format!("#{tag}"), &tag).await;
    let pids = servers.pids(gateway);
    let before = Sample::take(&pids);
    let mut pace = Pace::new(chat.rate);
    let mut latencies = Vec::with_capacity(chat.messages);
    if !occupants.is_empty() {
        for seq in 0..chat.messages {
            pace.tick().await;
            let n = occupants.len();
            let client = &mut occupants[seq % n];
            let text = format!("ping {seq}");
            let sent = Instant::now();
            client
                .send(stanza(
                    "message",
                    &[("to", &contact), ("type", "chat")],
                    vec![body(&text)],
                ))
                .await;
            let echoed = client
                .arrives_item(Duration::from_secs(5), |el| {
                    el.name() == "message"
                        && el.get_child("body", NS).is_some_and(|b| b.text() == text)
                })
                .await;
            if echoed.is_some() {
                latencies.push(sent.elapsed().as_micros() as u64);
            }
        }
    }
    let after = Sample::take(&pids);
    drop(occupants);
    echoing.abort();
    // biboumi keeps a connection that carried a private chat after its
    // user left the channels and went offline: a short wait, then the
    // census counts them as its baseline.
    servers.settle_within(Duration::from_secs(10)).await;
    Figures::new(chat.messages, latencies, &before, &after)
}

/// Answers every private line with the same text, until aborted.
async fn echo_forever(mut echo: IrcClient) {
    while let Some(line) = echo.next_line(Duration::from_secs(3600)).await {
        let mut words = line.splitn(4, ' ');
        let (Some(prefix), Some("PRIVMSG"), Some(to)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        if to != echo.nick {
            continue;
        }
        let from = prefix
            .trim_start_matches(':')
            .split('!')
            .next()
            .unwrap_or_default();
        let text = words.next().unwrap_or_default().trim_start_matches(':');
        let reply = format!("PRIVMSG {from} :{text}");
        echo.send(&reply).await;
    }
}

/// Registers `nick` with a gateway that wants it for direct chat, and waits
/// until its IRC connection is up.
async fn online(c: &mut TestClient, gateway: &Gateway, nick: &str) {
    register_and_subscribe(c, gateway.domain, &[("nick", nick)]).await;
    let network = gateway.network();
    c.expect("connected on the network JID", |el| {
        presence_from(el, &network, None)
            && el
                .get_child("status", NS)
                .is_some_and(|s| s.text().starts_with("Connected"))
    })
    .await;
}
