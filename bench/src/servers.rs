//! What every pass shares: Prosody, the IRC server and its census, and
//! the tags that keep one pass's nicks apart from another's.

use std::time::Duration;

use crate::census::Census;
use crate::gateways::Gateway;
use crate::harness::Prosody;
use crate::measure::Pids;

pub struct Servers<'a> {
    pub prosody: &'a Prosody,
    pub irc_port: u16,
    pub ircd_pid: u32,
    census: Census,
    passes: usize,
}

impl<'a> Servers<'a> {
    pub async fn new(prosody: &'a Prosody, irc_port: u16, ircd_pid: u32) -> Servers<'a> {
        Servers {
            prosody,
            irc_port,
            ircd_pid,
            census: Census::start(irc_port).await,
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
            ircd: self.ircd_pid,
        }
    }

    /// Waits until the pass's IRC connections are gone.
    pub async fn settle(&mut self) {
        self.settle_within(Duration::from_secs(120)).await;
    }

    pub async fn settle_within(&mut self, wait: Duration) {
        self.census.settle(wait).await;
    }
}
