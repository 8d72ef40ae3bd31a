//! XMPP users on c2s joining one room through a gateway, as clients do.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_xmpp::parsers::minidom::Element;

use crate::gateways::Gateway;
use crate::harness::client::{TestClient, NS};
use crate::harness::ircd::IrcClient;
use crate::harness::Prosody;
use crate::muc;
use crate::servers::Servers;

/// A flow pass's channel: an IRC client in it, and the XMPP users who
/// joined it through the gateway.
pub struct Channel {
    pub name: String,
    pub irc: IrcClient,
    pub occupants: Vec<TestClient>,
}

/// Opens the pass's channel `#{tag}` with the IRC client `{tag}{role}`,
/// then joins `users` XMPP users to it.
pub async fn channel(
    servers: &mut Servers<'_>,
    gateway: &Gateway,
    users: usize,
    role: &str,
) -> Channel {
    let tag = servers.next_tag();
    let name = format!("#{tag}");
    let mut irc = IrcClient::connect(servers.irc_port, &format!("{tag}{role}")).await;
    irc.send(&format!("JOIN {name}")).await;
    irc.expect("the IRC client's join", |l| l.contains(" 366 "))
        .await;
    let clients = connect(servers.prosody, "u", users).await;
    let occupants = join(clients, gateway, &name, &tag).await;
    Channel {
        name,
        irc,
        occupants,
    }
}

/// The accounts `{prefix}0`…: the bench creates them before Prosody runs
/// its passes.
pub fn accounts(prosody: &Prosody, prefix: &str, count: usize) {
    for i in 0..count {
        prosody.add_user(&format!("{prefix}{i}"), "localhost", "pw");
    }
}

pub async fn connect(prosody: &Prosody, prefix: &str, count: usize) -> Vec<TestClient> {
    let mut clients = Vec::with_capacity(count);
    for i in 0..count {
        clients.push(
            TestClient::connect(&format!("{prefix}{i}"), "localhost", "pw", prosody.c2s).await,
        );
    }
    clients
}

/// Joins every client to `channel` as `{tag}n{i}` and keeps those whose
/// join completed (the subject arrived) within two minutes.
pub async fn join(
    clients: Vec<TestClient>,
    gateway: &Gateway,
    channel: &str,
    tag: &str,
) -> Vec<TestClient> {
    let room = gateway.room(channel);
    let mut pending = Vec::with_capacity(clients.len());
    for (i, client) in clients.into_iter().enumerate() {
        let nick = format!("{tag}n{i}");
        client
            .send(muc::join(NS, None, &format!("{room}/{nick}")))
            .await;
        pending.push(client);
        // The gateway opens an IRC connection per user, and ngircd's listen
        // backlog is 10.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = pending.len();
    let mut joined = Vec::with_capacity(total);
    let deadline = Instant::now() + Duration::from_secs(120);
    for mut client in pending {
        let left = deadline.saturating_duration_since(Instant::now());
        let subject = client
            .arrives_item(left.max(Duration::from_millis(10)), |el| {
                muc::is_subject(el, NS)
            })
            .await;
        if subject.is_some() {
            joined.push(client);
        }
    }
    eprintln!(
        "  {}: {} of {total} users joined {channel}",
        gateway.name,
        joined.len()
    );
    joined
}

/// Hands `client` to a task that sends what it is given and reads (and
/// drops) everything else: a client whose inbox fills up stops sending.
/// The client leaves when the sender is dropped.
pub fn speaker(mut client: TestClient) -> mpsc::UnboundedSender<Element> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                said = rx.recv() => match said {
                    Some(el) => client.send(el).await,
                    None => return,
                },
                _ = client.arrives_item(Duration::from_secs(3600), |_| false) => {}
            }
        }
    });
    tx
}
