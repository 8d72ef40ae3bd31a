//! One bridge's dispatcher: reads the link's events and takes each
//! inbound stanza to the service that owns it.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_xmpp::xmlstream::StreamElementError;
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::Message;
use xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_parsers::stanza_error::StanzaError;

use crate::component::LinkEvent;
use crate::gateway::Gateway;
use crate::services;
use crate::stanza_error::{self, Condition};

/// How long users have to answer the probes sent at link-up before their
/// sessions are ended.
const PROBE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl Gateway {
    /// Reads link events until the link goes away.
    pub async fn run(self: Arc<Self>, mut events: mpsc::Receiver<LinkEvent>) {
        // Read before any stanza is handled, so no room joined in this run
        // is among them.
        let mut left_behind = Some(crate::muc::ledger::left_behind(&self).await);
        tokio::spawn(crate::muc::ledger::keep(self.clone()));
        services::roster::seed(&self).await;
        crate::sessions::resume::outboxes(&self).await;
        crate::muc::rejoin::always_on_rooms(&self).await;
        while let Some(event) = events.recv().await {
            match event {
                LinkEvent::Up => {
                    if let Some(occupants) = left_behind.take() {
                        crate::muc::ledger::say_gone(&self, occupants);
                    }
                    // The server advertises its grants again right after.
                    self.rosters.clear_grants();
                    tokio::spawn(crate::files::upload::discover(self.clone()));
                    // Presence seen before the link went down may be stale:
                    // forget it, probe, and end the sessions of users who
                    // do not answer as available.
                    let before = self.take_online();
                    tracing::debug!(bridge = self.name(), stale = before.len(), "link up");
                    let gw = self.clone();
                    tokio::spawn(async move {
                        services::presence::probe_all(&gw).await;
                        tokio::time::sleep(PROBE_GRACE).await;
                        for user in before {
                            if !gw.online_users().contains(&user) && !gw.always_on.any(&user) {
                                tracing::info!(bridge = gw.name(), %user, "no answer to the probe: ending the session");
                                gw.sessions.stop(&user, "the user went offline");
                            }
                        }
                    });
                }
                LinkEvent::Stanza(stanza) => self.dispatch(*stanza),
                LinkEvent::Invalid(error) => self.answer_invalid(*error),
            }
        }
    }

    fn dispatch(self: &Arc<Self>, stanza: Stanza) {
        let from = match &stanza {
            Stanza::Iq(iq) => iq_from(iq),
            Stanza::Message(m) => m.from.as_ref(),
            Stanza::Presence(p) => p.from.as_ref(),
        };
        self.stats.stanza_in();
        let Some(from) = from.cloned() else {
            tracing::debug!("stanza without from dropped");
            return;
        };
        if !self.out.has_room_for(&from.to_bare().to_string()) {
            self.stats.refused(crate::stats::Refusal::UserQueue);
            self.refuse_flood(&stanza, "too many stanzas queued for you");
            return;
        }
        // Leaving is always let through: it only lowers the load.
        let leaving =
            matches!(&stanza, Stanza::Presence(p) if p.type_ == PresenceType::Unavailable);
        let block = matches!(&stanza, Stanza::Iq(iq) if self.files.transfers.carries(&from, iq));
        if !leaving && !block && !self.rate.admit(&from.to_bare(), std::time::Instant::now()) {
            let text = "too many stanzas a second (limits.stanza_rate, limits.stanza_burst)";
            self.stats.refused(crate::stats::Refusal::StanzaRate);
            self.refuse_flood(&stanza, text);
            return;
        }
        match stanza {
            Stanza::Iq(iq) => services::iq::handle(self, from, iq),
            Stanza::Message(m) => services::message::handle(self, from, m),
            Stanza::Presence(p) => services::presence::handle(self, from, p),
        }
    }

    /// Answers a stanza of a user over a rate or with a full queue with
    /// `resource-constraint`; the answer may exceed their quota by one.
    fn refuse_flood(&self, stanza: &Stanza, text: &str) {
        let e = stanza_error::error(Condition::ResourceConstraint, text);
        if let Some(reply) = error_reply(stanza, e) {
            if let Err(err) = self.out.push_reply(reply) {
                tracing::warn!(%err, "flood answer dropped");
            }
        }
    }

    /// Answers a stanza that failed to parse.
    fn answer_invalid(&self, error: StreamElementError) {
        if let Some(reply) = invalid_reply(error, &self.jid) {
            self.send(reply);
        }
    }
}

/// The error answer to any stanza, or `None` for one that gets none (a
/// result or an error).
pub fn error_reply(stanza: &Stanza, e: StanzaError) -> Option<Stanza> {
    match stanza {
        Stanza::Iq(Iq::Get { from, to, id, .. }) | Stanza::Iq(Iq::Set { from, to, id, .. }) => {
            Some(stanza_error::iq(to.clone(), from.clone(), id.clone(), e).into())
        }
        Stanza::Iq(_) => None,
        Stanza::Message(m) => stanza_error::message(m, e).map(Into::into),
        Stanza::Presence(p) => stanza_error::presence(p, e).map(Into::into),
    }
}

/// The answer to a stanza that failed to parse: `bad-request`, when its
/// header says who sent it and it is not itself a result or error. A `to`
/// that is no JID (the XMPP server's checks are laxer than ours: an
/// unassigned code point in a room nick) gets `jid-malformed`, from the
/// bare JID if that is one, else from `bridge`, the bridge JID.
pub fn invalid_reply(error: StreamElementError, bridge: &Jid) -> Option<Stanza> {
    let StreamElementError::InvalidStanza { name, header, .. } = error else {
        return None;
    };
    let parse = |j: Option<&str>| j.and_then(|s| Jid::new(s).ok());
    let from = parse(header.from.as_deref())?;
    let (to, e) = match (header.to.as_deref(), parse(header.to.as_deref())) {
        (Some(raw), None) => {
            let bare = raw.split_once('/').map_or(raw, |(bare, _)| bare);
            let to = parse(Some(bare)).unwrap_or_else(|| bridge.clone());
            let text = "the address is not a valid JID";
            (Some(to), stanza_error::error(Condition::JidMalformed, text))
        }
        (_, to) => (
            to,
            stanza_error::error(Condition::BadRequest, "malformed stanza"),
        ),
    };
    let type_ = header.type_.as_deref().unwrap_or("");
    Some(match name.to_string().as_str() {
        "iq" => {
            if !matches!(type_, "get" | "set") {
                return None;
            }
            stanza_error::iq(to, Some(from), header.id?, e).into()
        }
        "message" => {
            if type_ == "error" {
                return None;
            }
            let mut m = Message::error(Some(from));
            m.from = to;
            m.id = header.id.map(xmpp_parsers::message::Id);
            m.with_payload(e).into()
        }
        _ => {
            if type_ == "error" {
                return None;
            }
            let mut p = Presence::error().with_payload(e);
            p.from = to;
            p.to = Some(from);
            p.id = header.id;
            p.into()
        }
    })
}

fn iq_from(iq: &Iq) -> Option<&Jid> {
    match iq {
        Iq::Get { from, .. }
        | Iq::Set { from, .. }
        | Iq::Result { from, .. }
        | Iq::Error { from, .. } => from.as_ref(),
    }
}
