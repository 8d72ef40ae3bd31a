//! The counts ferry keeps of each bridge's traffic (SPEC §5): an atomic
//! add on the path each counts, read by the "statistics" command and by
//! the Prometheus exporter (`exporter.rs`).

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a stanza was refused, as `ferry_refused_total{reason}` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    StanzaRate,
    UserQueue,
    Access,
    Encrypted,
    BodyBytes,
}

impl Refusal {
    const ALL: [Refusal; 5] = [
        Refusal::StanzaRate,
        Refusal::UserQueue,
        Refusal::Access,
        Refusal::Encrypted,
        Refusal::BodyBytes,
    ];

    /// The label: the config key that refused it, or what was wrong.
    pub fn key(self) -> &'static str {
        match self {
            Refusal::StanzaRate => "stanza_rate",
            Refusal::UserQueue => "user_queue",
            Refusal::Access => "access",
            Refusal::Encrypted => "encrypted",
            Refusal::BodyBytes => "body_bytes",
        }
    }
}

#[derive(Default)]
pub struct Stats {
    stanzas_in: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
}

impl Stats {
    /// A stanza came in from the XMPP server.
    pub fn stanza_in(&self) {
        self.stanzas_in.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stanzas_in(&self) -> u64 {
        self.stanzas_in.load(Ordering::Relaxed)
    }

    pub fn refused(&self, why: Refusal) {
        self.refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Every reason with its count, none left out (a series from zero).
    pub fn refusals(&self) -> Vec<(&'static str, u64)> {
        Refusal::ALL
            .iter()
            .map(|r| (r.key(), self.refused[*r as usize].load(Ordering::Relaxed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up() {
        let stats = Stats::default();
        stats.stanza_in();
        stats.stanza_in();
        stats.refused(Refusal::StanzaRate);
        stats.refused(Refusal::StanzaRate);
        stats.refused(Refusal::BodyBytes);
        assert_eq!(stats.stanzas_in(), 2);
        let refusals = stats.refusals();
        assert_eq!(refusals.len(), 5);
        assert!(refusals.contains(&("stanza_rate", 2)));
        assert!(refusals.contains(&("body_bytes", 1)));
        assert!(refusals.contains(&("access", 0)));
    }
}
