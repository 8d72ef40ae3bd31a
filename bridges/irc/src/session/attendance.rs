//! While the user is away (SPEC §7), only what is always-on stays on IRC:
//! the connections of always-on networks, and of networks with channels
//! the core keeps joined. The others close, and their identities wait
//! here until the user comes back, or uses that network meanwhile.

use std::collections::{HashMap, HashSet};

use ferry_bridge::{Attendance, Connection, Event, Registration};

use super::{identity, Session};
use crate::connection::Control;

/// What the user is and holds, for closing and opening connections.
pub(super) struct Presence {
    /// The user's identities by network: (scope, registration).
    identities: HashMap<String, (String, Registration)>,
    /// `None` while the user is there; the always-on networks while away.
    away: Option<HashSet<String>>,
    /// Networks closed while the user is away.
    parked: HashSet<String>,
}

impl Presence {
    pub(super) fn new(attendance: &Attendance) -> Presence {
        let mut presence = Presence {
            identities: HashMap::new(),
            away: None,
            parked: HashSet::new(),
        };
        presence.set(attendance);
        presence
    }

    fn set(&mut self, attendance: &Attendance) {
        self.away = match attendance {
            Attendance::Present => None,
            Attendance::Absent { always_on } => Some(always_on.iter().cloned().collect()),
        };
    }

    /// Whether a connection to `host` is wanted with no channel on it.
    pub(super) fn wants(&self, host: &str) -> bool {
        self.away.as_ref().is_none_or(|kept| kept.contains(host))
    }

    /// How many networks are closed while the user is away.
    pub(super) fn parked(&self) -> usize {
        self.parked.len()
    }

    /// Keeps an identity; whether to connect it now.
    pub(super) fn identity(
        &mut self,
        host: &str,
        scope: &str,
        registration: &Registration,
    ) -> bool {
        self.identities
            .insert(host.to_owned(), (scope.to_owned(), registration.clone()));
        let now = self.wants(host);
        if !now {
            self.parked.insert(host.to_owned());
        }
        now
    }
}

impl Session {
    pub(super) async fn attendance(&mut self, attendance: Attendance) {
        self.presence.set(&attendance);
        match attendance {
            Attendance::Present => {
                let parked: Vec<String> = self.presence.parked.drain().collect();
                for host in parked {
                    self.open_identity(&host);
                }
            }
            Attendance::Absent { .. } => {
                let idle: Vec<String> = self
                    .nets
                    .iter()
                    .filter(|(host, net)| {
                        !net.room_only && !net.channels.has_any() && !self.presence.wants(host)
                    })
                    .map(|(host, _)| host.clone())
                    .collect();
                for host in idle {
                    self.park(&host).await;
                }
            }
        }
    }

    /// Closes the connection to `host` until the user is back.
    pub(super) async fn park(&mut self, host: &str) {
        let Some(net) = self.nets.remove(host) else {
            return;
        };
        let _ = net.handle.control.try_send(Control::Quit("Leaving".into()));
        self.presence.parked.insert(host.to_owned());
        let state = Connection::Offline {
            reason: "closed while you are away".into(),
        };
        let network = Some(host.to_owned());
        self.emit(Event::Connection { network, state }).await;
    }

    /// An identity registered while the session runs: one on a network
    /// not yet connected connects (while the user is away, only an
    /// always-on one); an edit of a connected one waits for the next
    /// session.
    pub(super) fn new_identity(&mut self, scope: &str, registration: &Registration) {
        let Some((host, ..)) = identity(scope, registration) else {
            return;
        };
        let known = self.presence.identities.len();
        if !self.presence.identities.contains_key(&host) && known >= self.limits.networks {
            return tracing::warn!(user = %self.user, network = host, "over irc_networks: not connected");
        }
        if self.presence.identity(&host, scope, registration) && !self.nets.contains_key(&host) {
            self.open_identity(&host);
        }
    }

    /// Opens the user's identity on `host` again, if it was parked: the
    /// user uses that network while away.
    pub(super) fn unpark(&mut self, host: &str) {
        if self.presence.parked.remove(host) {
            self.open_identity(host);
        }
    }

    fn open_identity(&mut self, host: &str) {
        let Some((scope, registration)) = self.presence.identities.get(host).cloned() else {
            return;
        };
        if let Some((host, nick, username, realname)) = identity(&scope, &registration) {
            self.open(&host, nick, username, realname, &registration, false);
        }
    }
}
