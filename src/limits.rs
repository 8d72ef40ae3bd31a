//! Per-user limits (`[limits]`): how fast one user may send, how big a
//! message may be, how much one user may hold. A user over a limit is
//! refused alone; everyone else goes on at full speed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;
use xmpp_parsers::jid::BareJid;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Stanzas a second one user may send, on average...
    pub stanza_rate: f64,
    /// ...and at once (a client's reconnect sends presences, disco and
    /// archive queries in one burst).
    pub stanza_burst: u32,
    /// IRC networks one user may be connected to.
    pub irc_networks: usize,
    /// IRC channels one user may be in, over all networks.
    pub irc_channels: usize,
    /// Mails one user may have waiting to be sent.
    pub outbox: usize,
    /// Bytes of a message body; a longer one is refused whole.
    pub body_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            stanza_rate: 10.0,
            stanza_burst: 50,
            irc_networks: 10,
            irc_channels: 100,
            outbox: 1000,
            body_bytes: 64 * 1024,
        }
    }
}

impl LimitsConfig {
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            self.stanza_burst as usize,
            self.irc_networks,
            self.irc_channels,
            self.outbox,
            self.body_bytes,
        ];
        let rate_positive = self.stanza_rate.is_finite() && self.stanza_rate > 0.0;
        if !rate_positive || positive.contains(&0) {
            return Err("every [limits] value must be positive".into());
        }
        Ok(())
    }

    /// What a session of the bridge API is told.
    pub fn for_sessions(&self, file_bytes: u64) -> ferry_bridge::Limits {
        ferry_bridge::Limits {
            file_bytes,
            outbox: self.outbox,
            networks: self.irc_networks,
            channels: self.irc_channels,
            ..ferry_bridge::Limits::default()
        }
    }
}

/// A token bucket per user: `stanza_burst` tokens, refilled at
/// `stanza_rate` a second.
pub struct StanzaRate {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<BareJid, (f64, Instant)>>,
}

/// Buckets kept before full ones (idle users) are forgotten.
const BUCKETS_KEPT: usize = 10_000;

impl StanzaRate {
    pub fn new(config: &LimitsConfig) -> StanzaRate {
        StanzaRate {
            rate: config.stanza_rate,
            burst: f64::from(config.stanza_burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `user` may send one more stanza at `now`.
    pub fn admit(&self, user: &BareJid, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= BUCKETS_KEPT && !buckets.contains_key(user) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(user.clone()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn user(name: &str) -> BareJid {
        BareJid::new(&format!("{name}@localhost")).unwrap()
    }

    #[test]
    fn a_burst_then_the_rate_and_others_untouched() {
        let config = LimitsConfig {
            stanza_rate: 2.0,
            stanza_burst: 5,
            ..LimitsConfig::default()
        };
        let rate = StanzaRate::new(&config);
        let t0 = Instant::now();
        let alice = user("alice");
        let admitted = (0..20).filter(|_| rate.admit(&alice, t0)).count();
        assert_eq!(admitted, 5);
        assert!(rate.admit(&user("bob"), t0), "bob has his own bucket");
        let later = t0 + Duration::from_millis(1000);
        let admitted = (0..20).filter(|_| rate.admit(&alice, later)).count();
        assert_eq!(admitted, 2);
    }

    proptest::proptest! {
        /// Over any stretch, no user gets more than the burst plus what
        /// the rate refills.
        #[test]
        fn never_more_than_burst_plus_rate(gaps in proptest::collection::vec(0u64..400, 1..200)) {
            let config = LimitsConfig { stanza_rate: 3.0, stanza_burst: 4, ..LimitsConfig::default() };
            let rate = StanzaRate::new(&config);
            let t0 = Instant::now();
            let mut now = t0;
            let mut admitted = 0;
            for gap in &gaps {
                now += Duration::from_millis(*gap);
                admitted += usize::from(rate.admit(&user("alice"), now));
            }
            let elapsed = now.duration_since(t0).as_secs_f64();
            let bound = 4.0 + elapsed * 3.0;
            proptest::prop_assert!(admitted as f64 <= bound + 1e-9, "{admitted} > {bound}");
        }
    }

    #[test]
    fn zero_limits_are_refused() {
        let config = LimitsConfig {
            body_bytes: 0,
            ..LimitsConfig::default()
        };
        assert!(config.validate().is_err());
        assert!(LimitsConfig::default().validate().is_ok());
    }
}
