//! How many users the IRC server has: a pass ends only when the gateway's
//! IRC connections are gone, so the next pass neither meets the previous
//! one's nicks nor queues behind its QUITs in ngircd's small listen backlog.

use std::time::{Duration, Instant};

use crate::harness::ircd::IrcClient;

pub struct Census {
    client: IrcClient,
    /// The census client, and connections that outlived their pass.
    baseline: usize,
}

impl Census {
    pub async fn start(host: &str, irc_port: u16) -> Census {
        let mut client = IrcClient::connect_on(host, irc_port, "census").await;
        let baseline = local_users(&mut client)
            .await
            .expect("ngircd answers LUSERS");
        Census { client, baseline }
    }

    /// Waits until the connections opened since the last call are gone, at
    /// most `wait`; those that stay are named on stderr and taken as the
    /// new baseline, so that one stuck connection delays one pass only.
    pub async fn settle(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            let users = local_users(&mut self.client).await;
            if users.is_some_and(|u| u <= self.baseline) {
                return;
            }
            let users = users.unwrap_or(self.baseline);
            if Instant::now() > deadline {
                eprintln!(
                    "  {} IRC connections still open after {wait:?}",
                    users - self.baseline
                );
                self.baseline = users;
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// LUSERS' 265 (`<me> <local users> <max> :Current local users…`), which
/// counts invisible users too; None when ngircd, busy with a crowd leaving,
/// does not answer within ten seconds.
async fn local_users(client: &mut IrcClient) -> Option<usize> {
    client.send("LUSERS").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = client.next_line(left).await?;
        if line.split(' ').nth(1) == Some("265") {
            return line.split(' ').nth(3).and_then(|n| n.parse().ok());
        }
    }
}
