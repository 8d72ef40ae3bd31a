//! Presence: XEP-0100 subscriptions with the bridge JID and contacts,
//! probes at link-up, and the user's resources as the bridge sees them.

use std::sync::Arc;

use ferry_bridge::{Address, Attendance, Intent};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::presence::{Presence, Type};

use crate::gateway::{Gateway, Target};
use crate::sessions;
use crate::stanza_error::{self, Condition};
use crate::stats::Refusal;

use super::reply::address_error;

/// Sends a probe to every registered user, so that online users get
/// their sessions back after any restart of ferry or the server.
pub async fn probe_all(gw: &Gateway) {
    match gw.store.registered_users(gw.name()).await {
        Ok(users) => {
            tracing::info!(
                bridge = gw.name(),
                users = users.len(),
                "probing registered users"
            );
            for user in users.iter().filter_map(|u| Jid::new(u).ok()) {
                gw.send(Presence::probe().with_from(gw.jid.clone()).with_to(user));
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot list users to probe"),
    }
}

/// The bridge JID's own presence, with caps (XEP-0115).
fn bridge_presence(gw: &Gateway, to: Jid) -> Presence {
    Presence::available()
        .with_from(gw.jid.clone())
        .with_to(to)
        .with_payload(gw.disco.caps.clone())
}

/// What a contact's presence is, as far as the core knows without a
/// session: available for backends whose contacts are always reachable.
fn contact_presence(gw: &Gateway, contact: Jid, to: Jid) -> Presence {
    let type_ = if gw.bridge.contacts_always_available() {
        Type::None
    } else {
        Type::Unavailable
    };
    Presence::new(type_).with_from(contact).with_to(to)
}

/// `unavailable`, `unsubscribe`, `unsubscribed` from `from`: what a user
/// gets for the bridge JID and each contact when they unregister.
pub fn farewell(from: &Jid, user: &BareJid) -> Vec<tokio_xmpp::Stanza> {
    [Type::Unavailable, Type::Unsubscribe, Type::Unsubscribed]
        .into_iter()
        .map(|t| {
            Presence::new(t)
                .with_from(from.clone())
                .with_to(Jid::from(user.clone()))
                .into()
        })
        .collect()
}

/// At shutdown, first: every room says it is shutting down (status 332),
/// before the sessions end and take their rooms with them.
pub fn rooms_shut_down(gw: &Gateway) {
    for (_, room) in gw.rooms.drain() {
        let status = xmpp_parsers::muc::user::Status::ServiceShutdown;
        crate::muc::gone(gw, &room, Some(status));
    }
}

/// At shutdown: every online user sees the bridge and its contacts leave.
pub async fn goodbye_all(gw: &Gateway) {
    for user in gw.online_users() {
        let to = Jid::from(user.clone());
        gw.send(
            Presence::unavailable()
                .with_from(gw.jid.clone())
                .with_to(to.clone()),
        );
        if let Ok(contacts) = gw.store.contacts(gw.name(), user.as_str()).await {
            for contact in contacts.iter().filter_map(|c| Jid::new(c).ok()) {
                gw.send(
                    Presence::unavailable()
                        .with_from(contact)
                        .with_to(to.clone()),
                );
            }
        }
    }
}

async fn is_registered(gw: &Gateway, user: &BareJid) -> bool {
    gw.is_registered(user).await.unwrap_or(false)
}

pub fn handle(gw: &Arc<Gateway>, from: Jid, presence: Presence) {
    if presence.type_ == Type::Error {
        return;
    }
    let to = presence.to.clone().unwrap_or_else(|| gw.jid.clone());
    let target = match gw.target(&to) {
        Ok(t) => t,
        Err(e) => {
            if let Some(reply) = stanza_error::presence(&presence, address_error(&e)) {
                gw.send(reply);
            }
            return;
        }
    };
    if !gw.allowed(&from) {
        match presence.type_ {
            Type::Subscribe => gw.send(
                Presence::new(Type::Unsubscribed)
                    .with_from(to)
                    .with_to(from),
            ),
            // A room join (or any available presence) is answered: the
            // client waits for its join to end one way or the other.
            Type::None => {
                gw.stats.refused(Refusal::Access);
                let text = "your server may not use this gateway";
                let error = stanza_error::error(Condition::Forbidden, text);
                if let Some(reply) = stanza_error::presence(&presence, error) {
                    gw.send(reply);
                }
            }
            _ => {}
        }
        return;
    }
    if let Target::Foreign(address) = &target {
        if address.kind == ferry_bridge::AddressKind::Room {
            let address = address.clone();
            return crate::muc::presence(gw, from, to, address, presence);
        }
    }
    let first = matches!(target, Target::Bridge) && track(gw, &from, &presence.type_);
    let gw = gw.clone();
    tokio::spawn(async move {
        match target {
            Target::Bridge => to_bridge(&gw, from, presence.type_, first).await,
            Target::Foreign(address) => to_contact(&gw, from, to, address, presence.type_).await,
        }
    });
}

/// A user's resources as the bridge sees them, updated in stanza order
/// (before any task is spawned) so that an `unavailable` never overtakes
/// the `available` before it. Returns whether this is the user's first
/// resource; ends the session when the last one leaves.
fn track(gw: &Gateway, from: &Jid, type_: &Type) -> bool {
    match type_ {
        Type::None => {
            let user = from.to_bare();
            let first = !gw.online_users().contains(&user);
            gw.set_online(from, true);
            // Told here, in stanza order, like the leaving below.
            if first && gw.sessions.is_running(&user) {
                let back = Intent::Attendance(Attendance::Present);
                if gw.sessions.send(&user, back).is_err() {
                    tracing::warn!(%user, "cannot tell the session the user is back: it is busy");
                }
            }
            first
        }
        Type::Unavailable => {
            if gw.set_online(from, false) {
                gw.send(
                    Presence::unavailable()
                        .with_from(gw.jid.clone())
                        .with_to(from.clone()),
                );
                let user = from.to_bare();
                gw.end_session_if_idle(&user);
                // Kept (always-on): only what is always-on stays up.
                if gw.sessions.is_running(&user) {
                    let absent = Intent::Attendance(sessions::attendance(gw, &user));
                    if gw.sessions.send(&user, absent).is_err() {
                        tracing::warn!(%user, "cannot tell the session the user left: it is busy");
                    }
                }
            }
            false
        }
        _ => false,
    }
}

async fn to_bridge(gw: &Arc<Gateway>, from: Jid, type_: Type, first: bool) {
    let user = from.to_bare();
    let bare = Jid::from(user.clone());
    match type_ {
        Type::Subscribe => {
            let answer = if is_registered(gw, &user).await {
                Type::Subscribed
            } else {
                Type::Unsubscribed
            };
            gw.send(
                Presence::new(answer.clone())
                    .with_from(gw.jid.clone())
                    .with_to(bare.clone()),
            );
            if answer == Type::Subscribed {
                gw.send(bridge_presence(gw, bare));
            }
        }
        Type::Probe => {
            if is_registered(gw, &user).await {
                gw.send(bridge_presence(gw, from));
            } else {
                gw.send(
                    Presence::unavailable()
                        .with_from(gw.jid.clone())
                        .with_to(from),
                );
            }
        }
        Type::None => {
            // The resource was marked online in `handle`, in stanza order.
            if !is_registered(gw, &user).await {
                return;
            }
            gw.send(bridge_presence(gw, from.clone()));
            // A session that outlived the user's last resource (always-on)
            // says nothing new: tell the returning one how it stands.
            let kept = first && gw.sessions.is_running(&user);
            sessions::ensure(gw, &user, false).await;
            if kept {
                sessions::connection_states(gw, &user, &from);
            }
            if first && gw.bridge.contacts_always_available() {
                if let Ok(contacts) = gw.store.contacts(gw.name(), user.as_str()).await {
                    for contact in contacts.iter().filter_map(|c| Jid::new(c).ok()) {
                        gw.send(contact_presence(gw, contact, bare.clone()));
                    }
                }
            }
        }
        Type::Unavailable => {}
        Type::Subscribed | Type::Unsubscribe | Type::Unsubscribed | Type::Error => {}
    }
}

async fn to_contact(gw: &Arc<Gateway>, from: Jid, to: Jid, address: Address, type_: Type) {
    let user = from.to_bare();
    let bare = Jid::from(user.clone());
    // The roster item is the JID the user used; traffic from the contact
    // comes from it too.
    if let Some(canonical) = gw.jid_of(&address) {
        gw.sessions.remember_alias(&user, &canonical, &to);
    }
    match type_ {
        Type::Subscribe => {
            if let Err(e) = gw
                .store
                .add_contact(gw.name(), user.as_str(), to.as_str())
                .await
            {
                tracing::error!(error = %e, "cannot store a contact");
                return;
            }
            gw.send(
                Presence::new(Type::Subscribed)
                    .with_from(to.clone())
                    .with_to(bare.clone()),
            );
            super::roster::subscribed(gw, &user, &to, &address);
            gw.send(contact_presence(gw, to, bare));
            let _ = gw.sessions.send(&user, Intent::Watch(address));
        }
        Type::Unsubscribe => {
            if let Err(e) = gw
                .store
                .remove_contact(gw.name(), user.as_str(), to.as_str())
                .await
            {
                tracing::error!(error = %e, "cannot remove a contact");
            }
            super::roster::unsubscribed(gw, &user, &to);
            gw.send(
                Presence::new(Type::Unsubscribed)
                    .with_from(to)
                    .with_to(bare),
            );
            let _ = gw.sessions.send(&user, Intent::Unwatch(address));
        }
        // Answered as the contact stands: a probe at a resource's login
        // that found it offline would show it offline to every resource.
        Type::Probe => {
            let presence = match gw.bridge.contacts_always_available() {
                true => contact_presence(gw, to, from),
                false => {
                    let status = gw.sessions.contact_status(&user, &to);
                    crate::stanzas::contact_presence(to, from, &status)
                }
            };
            gw.send(presence);
        }
        // Directed presence to a contact opens the user's session.
        Type::None => {
            if is_registered(gw, &user).await {
                sessions::ensure(gw, &user, false).await;
            }
        }
        Type::Unavailable | Type::Subscribed | Type::Unsubscribed | Type::Error => {}
    }
}
