//! What every pass shares: Prosody, the IRC servers and their census, and
//! the tags that keep one pass's nicks apart from another's.

use std::time::Duration;

use crate::census::Census;
use crate::gateways::Gateway;
use crate::harness::ircd::Ngircd;
use crate::harness::Prosody;
use crate::measure::Pids;

pub struct Servers<'a> {
    pub prosody: &'a Prosody,
    /// The first IRC server's port, where fan-out, fan-in and latency run.
    pub irc_port: u16,
    /// Every IRC server's host (all listen on `irc_port`'s kind of
    /// loopback address, 127.0.0.N), for the scale passes to spread over.
    pub irc_hosts: Vec<String>,
    ircd_pids: Vec<u32>,
    census: Vec<Census>,
    passes: usize,
}

impl<'a> Servers<'a> {
    pub async fn new(prosody: &'a Prosody, ircds: &[Ngircd]) -> Servers<'a> {
        let mut census = Vec::new();
        for ircd in ircds {
            census.push(Census::start(&ircd.host, ircd.port).await);
        }
        Servers {
            prosody,
            irc_port: ircds[0].port,
            irc_hosts: ircds.iter().map(|i| i.host.clone()).collect(),
            ircd_pids: ircds.iter().filter_map(Ngircd::pid).collect(),
            census,
            passes: 0,
        }
    }

    /// A prefix for the nicks (and the name of the channel) of a new pass:
    /// a gateway may still be busy leaving with the previous pass's users
    /// when the next one begins.
    pub fn next_tag(&mut self) -> String {
        self.passes += 1;
        format!("p{}", self.passes)
    }

    pub fn pids(&self, gateway: &Gateway) -> Pids {
        Pids {
            gateway: gateway.pid,
            prosody: self.prosody.pid().unwrap_or(0),
            ircds: self.ircd_pids.clone(),
        }
    }

    /// Waits until the pass's IRC connections are gone.
    pub async fn settle(&mut self) {
        self.settle_within(Duration::from_secs(120)).await;
    }

    pub async fn settle_within(&mut self, wait: Duration) {
        futures::future::join_all(self.census.iter_mut().map(|c| c.settle(wait))).await;
    }
}
