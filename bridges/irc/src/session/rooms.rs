//! A user's rooms on IRC: joining (and why a join cannot be made),
//! parting, and nick changes in a channel.

use ferry_bridge::{Address, Event, Failure, Registration};

use super::Session;
use crate::channels::Channels;
use crate::connection::Control;
use crate::fit;
use crate::net::stop_reclaim;

impl Session {
    /// Parts a channel; a connection opened only for rooms ends with its
    /// last one, and one not always-on does while the user is away.
    pub(super) async fn leave(&mut self, room: Address, reason: Option<String>) {
        let Some(host) = room.network.clone() else {
            return;
        };
        let Some(net) = self.nets.get_mut(&host) else {
            return;
        };
        let reason = reason.unwrap_or_default().replace(['\r', '\n'], " ");
        net.queue(format!("PART {} :{reason}", room.name));
        net.channels.left(&net.support, &room.name);
        if net.channels.has_any() {
            return;
        }
        if net.room_only {
            let _ = net.handle.control.try_send(Control::Quit("Leaving".into()));
            self.nets.remove(&host);
        } else if !self.presence.wants(&host) {
            self.park(&host).await;
        }
    }

    pub(super) async fn change_nick(&mut self, room: Address, nick: String) {
        let net = room.network.as_ref().and_then(|h| self.nets.get(h));
        if let Some(reason) = fit::nick_problem(&nick, net.map(|n| &n.support)) {
            let text = format!("{nick}: {reason}");
            return self.fail(room, None, Failure::NotAcceptable, &text).await;
        }
        if let Some(net) = room.network.as_ref().and_then(|h| self.nets.get_mut(h)) {
            // The user chose a nick: ferry no longer takes the
            // registered one back over it, unless it is the one
            // asked for.
            let other = |r: &String| net.support.fold(r) != net.support.fold(&nick);
            if net.reclaim.as_ref().is_some_and(other) {
                stop_reclaim(net);
            }
            net.queue(format!("NICK {nick}"));
            net.pending_nick = Some((nick, Some(room)));
        }
    }

    /// Joins a channel, opening a connection with the room nick when the
    /// user has no identity on that network.
    pub(super) async fn join(&mut self, room: Address, nick: String, password: Option<String>) {
        let Some(host) = room.network.clone() else {
            return;
        };
        self.unpark(&host);
        if let Some((failure, text)) = self.join_refusal(&host, &room, &nick) {
            return self
                .emit(Event::JoinFailed {
                    room,
                    failure,
                    text,
                })
                .await;
        }
        if !self.nets.contains_key(&host) {
            let ident = fit::ident(&nick);
            let registration = &Registration::default();
            self.open(&host, nick.clone(), ident, nick.clone(), registration, true);
        }
        let Some(net) = self.nets.get_mut(&host) else {
            return;
        };
        let key = password.map(|k| k.replace([' ', '\r', '\n', ','], ""));
        if net
            .channels
            .joining(&net.support, &room.name, &nick, key.clone())
            && net.registered
        {
            net.queue(Channels::join_line(&room.name, key.as_deref()));
        }
    }

    /// Why a join cannot be made, if it cannot: a network or channel over
    /// the user's limits (the refusal names the config key), a network
    /// not configured, a name no IRC line carries, or a nick for a new
    /// connection that the server could not take.
    pub(super) fn join_refusal(
        &self,
        host: &str,
        room: &Address,
        nick: &str,
    ) -> Option<(Failure, String)> {
        let net = self.nets.get(host);
        let support = net.map(|n| &n.support);
        let known = net.is_some_and(|n| n.channels.has(&n.support, &room.name));
        let channels: usize = self.nets.values().map(|n| n.channels.count()).sum();
        let limits = &self.limits;
        if !known && channels >= limits.channels {
            let text = format!(
                "you are in {channels} IRC channels, the most allowed (irc_channels = {})",
                limits.channels
            );
            return Some((Failure::PolicyViolation, text));
        }
        if let Some(problem) =
            fit::channel_problem(&room.name, support.unwrap_or(&Default::default()))
        {
            return Some((Failure::NotAcceptable, problem));
        }
        if net.is_some() {
            return None;
        }
        if self
            .shared
            .networks
            .find(host)
            .is_none_or(|n| n.host != host)
        {
            return Some((
                Failure::ItemNotFound,
                "not a network of this gateway".into(),
            ));
        }
        // Networks closed while the user is away count: they open again.
        let held = self.nets.len() + self.presence.parked();
        if held >= limits.networks {
            let text = format!(
                "you are on {held} IRC networks, the most allowed (irc_networks = {})",
                limits.networks
            );
            return Some((Failure::PolicyViolation, text));
        }
        // The room nick becomes the new connection's IRC nick.
        fit::nick_problem(nick, None).map(|p| (Failure::NotAcceptable, format!("{nick}: {p}")))
    }
}
