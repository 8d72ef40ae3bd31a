//! Roster management by privilege (SPEC §7, XEP-0356): where the user's
//! server lets this bridge write rosters, ferry puts the bridge JID and the
//! user's contacts into the user's roster itself, with subscription `both`,
//! instead of exchanging subscription presences (§2). A user's roster is
//! only ever written with that user's own items on this bridge.

use ferry_bridge::{Address, Intent, Text};
use tokio_xmpp::Stanza;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::presence::Presence;

use crate::gateway::Gateway;
use crate::xml_clean::clean;

/// Takes a server's privilege advertisement; false when `message` is none.
/// Only a server domain's own message counts, and only for the users of
/// that domain: a remote server that claimed a grant would only steer what
/// ferry tells its own users.
pub fn advertised(gw: &Gateway, from: &Jid, message: &Message) -> bool {
    if from.node().is_some() || from.resource().is_some() {
        return false;
    }
    let Some(advertised) = crate::roster::advertised(message) else {
        return false;
    };
    let domain = from.domain().as_str();
    if advertised.writes && gw.allowed(from) {
        gw.rosters.grant(domain, advertised.ns);
        tracing::info!(
            bridge = gw.name(),
            server = domain,
            ns = advertised.ns,
            "roster management on"
        );
    } else {
        gw.rosters.revoke(domain);
        tracing::info!(
            bridge = gw.name(),
            server = domain,
            "the server grants no roster writes"
        );
    }
    true
}

/// Says once per bridge that rosters are left to the users.
fn tell_off(gw: &Gateway, user: &BareJid) {
    if gw.rosters.first_time_off() {
        tracing::info!(
            bridge = gw.name(),
            server = user.domain().as_str(),
            "roster management is off: the server grants this bridge no roster permission \
             (XEP-0356); users are asked with subscription presences"
        );
    }
}

/// What follows a user's first registration: the bridge JID put into
/// their roster and a probe (the server sends no presence after a
/// privileged roster set), or else the XEP-0100 `subscribe`.
pub fn registered(gw: &Gateway, user: &BareJid) -> Vec<Stanza> {
    let to = Jid::from(user.clone());
    if !gw.rosters.granted(user.domain().as_str()) {
        tell_off(gw, user);
        let subscribe = Presence::subscribe().with_from(gw.jid.clone()).with_to(to);
        return vec![subscribe.into()];
    }
    let name = gw.bridge.identities().into_iter().next().map(|i| i.name);
    let bridge = gw.jid.to_bare();
    let add = gw
        .rosters
        .add(&gw.jid, user, bridge, name, gw.bridge.roster_group());
    let probe = Presence::probe().with_from(gw.jid.clone()).with_to(to);
    vec![add.into(), probe.into()]
}

/// Before the first direct message from `contact` (the JID it speaks as)
/// reaches `user`: adds it to their roster, named after the sender, and
/// keeps it among their contacts.
pub fn before_direct(gw: &Gateway, user: &BareJid, contact: &Jid, from: &Address, text: &Text) {
    if !gw.rosters.claim(user, contact.as_str()) {
        if !gw.rosters.granted(user.domain().as_str()) {
            tell_off(gw, user);
        }
        return;
    }
    let name = text.sender_name.as_deref().unwrap_or(&from.name);
    let name = Some(clean(name).into_owned()).filter(|n| !n.trim().is_empty());
    gw.send(gw.rosters.add(
        &gw.jid,
        user,
        contact.to_bare(),
        name,
        gw.bridge.roster_group(),
    ));
    let store = gw.store.clone();
    let (bridge, owner, jid) = (gw.name().to_owned(), user.to_string(), contact.to_string());
    tokio::spawn(async move {
        if let Err(e) = store.add_contact(&bridge, &owner, &jid).await {
            tracing::error!(error = %e, "cannot store a contact added to a roster");
        }
    });
    // A contact in the roster is watched like one the user subscribed to.
    let _ = gw.sessions.send(user, Intent::Watch(from.clone()));
}

/// After `user` subscribed to `contact` (stored already): where the server
/// lets us, the roster item becomes `both`, in the bridge's group.
pub fn subscribed(gw: &Gateway, user: &BareJid, contact: &Jid, address: &Address) {
    gw.rosters.remember(user, contact.as_str());
    if gw.rosters.granted(user.domain().as_str()) {
        let name = Some(address.name.clone());
        let group = gw.bridge.roster_group();
        gw.send(
            gw.rosters
                .add(&gw.jid, user, contact.to_bare(), name, group),
        );
    }
}

pub fn unsubscribed(gw: &Gateway, user: &BareJid, contact: &Jid) {
    gw.rosters.forget(user, contact.as_str());
}

/// What tells an unregistered user, where the server lets us write their
/// roster: `unavailable` from each item, then each removed (the bridge JID
/// last). `None`: the §2 presences tell them.
pub fn unregistered(gw: &Gateway, user: &BareJid, contacts: &[String]) -> Option<Vec<Stanza>> {
    gw.rosters.forget_user(user);
    if !gw.rosters.granted(user.domain().as_str()) {
        return None;
    }
    let to = Jid::from(user.clone());
    let items: Vec<Jid> = contacts
        .iter()
        .filter_map(|c| Jid::new(c).ok())
        .chain(std::iter::once(gw.jid.clone()))
        .collect();
    let gone = items.iter().map(|item| {
        Presence::unavailable()
            .with_from(item.clone())
            .with_to(to.clone())
            .into()
    });
    let removed = items
        .iter()
        .map(|item| gw.rosters.remove(&gw.jid, user, item.to_bare()).into());
    Some(
        gone.collect::<Vec<Stanza>>()
            .into_iter()
            .chain(removed)
            .collect(),
    )
}

/// A roster change the server refused. A refused addition, though the
/// server granted them (ejabberd 23.01 fails every one), drops the grant
/// for the user's server and asks the user with the §2 `subscribe`
/// instead, so that the bridge still gets into their roster. A refused
/// removal is of an item the user removed already.
pub fn refused(gw: &Gateway, user: Option<&Jid>, id: &str) {
    let Some(user) = user.filter(|u| u.node().is_some()) else {
        return;
    };
    if !id.starts_with(&format!("{}add-", crate::roster::ID_PREFIX)) {
        tracing::debug!(bridge = gw.name(), user = %user, id, "a roster removal was refused");
        return;
    }
    let domain = user.domain().as_str();
    tracing::warn!(
        bridge = gw.name(),
        user = %user,
        id,
        "the server refused a roster change: roster management off for {domain}"
    );
    gw.rosters.revoke(domain);
    let subscribe = Presence::subscribe()
        .with_from(gw.jid.clone())
        .with_to(Jid::from(user.to_bare()));
    gw.send(subscribe);
}

/// Fills the mirror of each user's contacts, before any stanza is handled.
pub async fn seed(gw: &Gateway) {
    match gw.store.all_contacts(gw.name()).await {
        Ok(pairs) => gw.rosters.seed(
            pairs
                .into_iter()
                .filter_map(|(user, contact)| Some((BareJid::new(&user).ok()?, contact))),
        ),
        Err(e) => tracing::error!(error = %e, "cannot read the contacts"),
    }
}
