//! XEP-0077 in-band registration with a XEP-0004 form, and the XEP-0100
//! subscription that follows a user's first registration.

use std::sync::Arc;

use ferry_bridge::{FieldKind, FieldSpec, FormValues, Intent, Registration, RegistrationError};
use tokio_xmpp::Stanza;
use xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType, Option_};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;
use xmpp_parsers::stanza_error::StanzaError;

use super::reply::Reply;
use super::{presence, roster};
use crate::gateway::Gateway;
use crate::stanza_error::{self, Condition};

/// XEP-0077's own field names: only these may appear as legacy fields.
const LEGACY: [&str; 17] = [
    "username", "nick", "password", "name", "first", "last", "email", "address", "city", "state",
    "zip", "phone", "url", "date", "misc", "text", "key",
];

type Answer = Result<Option<Element>, StanzaError>;

pub fn spawn(gw: &Arc<Gateway>, reply: Reply, payload: Element, set: bool, scope: String) {
    let gw = gw.clone();
    tokio::spawn(async move {
        let user = reply.them.to_bare();
        let (answer, then) = if !gw.allowed(&reply.them) {
            let e =
                stanza_error::error(Condition::Forbidden, "your server may not use this gateway");
            (Err(e), vec![])
        } else if set {
            submit(&gw, &user, &payload, &scope).await
        } else {
            (form(&gw, &user, &scope).await, vec![])
        };
        reply.send(&gw, answer);
        for stanza in then {
            gw.send(stanza);
        }
    });
}

fn internal(e: impl std::fmt::Display) -> StanzaError {
    tracing::error!(error = %e, "store failure during registration");
    stanza_error::error(Condition::InternalServerError, "the gateway's store failed")
}

pub(super) fn field_of(spec: &FieldSpec, current: Option<&Registration>) -> Field {
    let type_ = match spec.kind {
        FieldKind::Text => FieldType::TextSingle,
        FieldKind::Password => FieldType::TextPrivate,
        FieldKind::Choice(_) => FieldType::ListSingle,
        FieldKind::Boolean => FieldType::Boolean,
        FieldKind::Lines => FieldType::TextMulti,
        FieldKind::Fixed => FieldType::Fixed,
    };
    let mut field = Field::new(spec.var, type_);
    field.label = Some(spec.label.to_owned());
    field.required = spec.required;
    if let FieldKind::Choice(options) = &spec.kind {
        field.options = options
            .iter()
            .map(|o| Option_ {
                label: Some(o.clone()),
                value: o.clone(),
            })
            .collect();
    }
    if spec.kind != FieldKind::Password {
        let value = current
            .and_then(|r| r.get(spec.var).map(str::to_owned))
            .or_else(|| spec.default.clone());
        if let Some(value) = value {
            field.values = vec![value];
        }
    }
    field
}

async fn form(gw: &Gateway, user: &BareJid, scope: &str) -> Answer {
    let current = gw
        .store
        .registration(gw.name(), user.as_str(), scope)
        .await
        .map_err(internal)?;
    let specs = gw.bridge.registration_fields();
    let instructions = gw.bridge.registration_instructions();
    let mut query = Element::builder("query", ns::REGISTER)
        .append(Element::builder("instructions", ns::REGISTER).append(instructions.as_str()));
    if current.is_some() {
        query = query.append(Element::builder("registered", ns::REGISTER));
    }
    // Clients must fill every legacy field shown, so only required ones.
    for spec in specs
        .iter()
        .filter(|s| s.required && LEGACY.contains(&s.var))
    {
        let value = match spec.kind {
            FieldKind::Password => None,
            _ => current.as_ref().and_then(|r| r.get(spec.var)),
        };
        query = query.append(Element::builder(spec.var, ns::REGISTER).append(value.unwrap_or("")));
    }
    let mut data = DataForm::new(
        DataFormType::Form,
        ns::REGISTER,
        specs
            .iter()
            .map(|s| field_of(s, current.as_ref()))
            .collect(),
    );
    data.title = Some(format!("Register with {}", gw.name()));
    data.instructions = Some(instructions);
    Ok(Some(query.append(Element::from(data)).build()))
}

enum Submission {
    Values(Vec<(String, String)>),
    Remove,
}

fn parse_submission(payload: &Element) -> Result<Submission, StanzaError> {
    if payload.get_child("remove", ns::REGISTER).is_some() {
        return Ok(Submission::Remove);
    }
    if let Some(x) = payload.get_child("x", ns::DATA_FORMS) {
        let form = DataForm::try_from(x.clone())
            .map_err(|_| stanza_error::error(Condition::BadRequest, "malformed data form"))?;
        return Ok(Submission::Values(
            form.fields
                .into_iter()
                .filter_map(|f| Some((f.var?, f.values.into_iter().next().unwrap_or_default())))
                .collect(),
        ));
    }
    Ok(Submission::Values(
        payload
            .children()
            .filter(|c| c.ns() == ns::REGISTER)
            .map(|c| (c.name().to_owned(), c.text()))
            .collect(),
    ))
}

async fn submit(
    gw: &Gateway,
    user: &BareJid,
    payload: &Element,
    scope: &str,
) -> (Answer, Vec<Stanza>) {
    let pairs = match parse_submission(payload) {
        Ok(Submission::Remove) => return remove(gw, user).await,
        Ok(Submission::Values(pairs)) => pairs,
        Err(e) => return (Err(e), vec![]),
    };
    match register(gw, user, pairs, scope).await {
        // XEP-0100 §4.1: be in the user's roster, by privilege or by asking.
        Ok(true) => (Ok(None), roster::registered(gw, user)),
        Ok(false) => (Ok(None), vec![]),
        Err(e) => (Err(e), vec![]),
    }
}

/// Stores a checked registration; true when it is the user's first.
async fn register(
    gw: &Gateway,
    user: &BareJid,
    mut pairs: Vec<(String, String)>,
    scope: &str,
) -> Result<bool, StanzaError> {
    let specs = gw.bridge.registration_fields();
    if !scope.is_empty() {
        // A network JID registers the identity for that network.
        pairs.retain(|(var, _)| var != "network");
        pairs.push(("network".into(), scope.to_owned()));
    }
    let mut values =
        FormValues::from_pairs(&specs, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let previous = gw
        .store
        .registration(gw.name(), user.as_str(), scope)
        .await
        .map_err(internal)?;
    if let Some(previous) = &previous {
        // An empty password on an edit keeps the stored one.
        for spec in specs.iter().filter(|s| s.kind == FieldKind::Password) {
            if values.secret(spec.var).is_none() {
                if let Some(old) = previous.secret(spec.var) {
                    values.set_secret(spec.var, old.clone());
                }
            }
        }
    }
    let registration = gw
        .bridge
        .check_registration(user.as_str(), values, previous.as_ref())
        .await
        .map_err(|e| match e {
            RegistrationError::Invalid { .. } => {
                stanza_error::error(Condition::NotAcceptable, &e.to_string())
            }
            RegistrationError::Rejected(text) => {
                stanza_error::error(Condition::NotAuthorized, &text)
            }
            RegistrationError::Unreachable(text) => {
                stanza_error::error(Condition::RemoteServerTimeout, &text)
            }
        })?;
    if let Some(network) = registration.get("network") {
        check_networks(gw, user, scope, network).await?;
    }
    let first = gw
        .store
        .save_registration(gw.name(), user.as_str(), scope, &registration)
        .await
        .map_err(internal)?;
    for (key, value) in &registration.initial_state {
        let present = gw
            .store
            .state_get(gw.name(), user.as_str(), key)
            .await
            .map_err(internal)?;
        if present.is_none() {
            gw.store
                .state_put(gw.name(), user.as_str(), key, value)
                .await
                .map_err(internal)?;
        }
    }
    if let Ok(all) = gw.store.registrations(gw.name(), user.as_str()).await {
        crate::sessions::load_always_on(gw, user, &all).await;
    }
    if gw.sessions.is_running(user) {
        let identity = Intent::Identity {
            scope: scope.to_owned(),
            registration,
        };
        if gw.sessions.send(user, identity).is_err() {
            tracing::warn!(%user, "the session is busy: the identity applies from the next one");
        }
    }
    tracing::info!(bridge = gw.name(), user = %user, first, "registered");
    Ok(first)
}

/// Refuses an identity on one network more than `[limits] irc_networks`
/// allows; a new identity on a network already held, or an edit, passes.
async fn check_networks(
    gw: &Gateway,
    user: &BareJid,
    scope: &str,
    network: &str,
) -> Result<(), StanzaError> {
    let held = gw
        .store
        .registrations(gw.name(), user.as_str())
        .await
        .map_err(internal)?;
    let networks: std::collections::HashSet<&str> = held
        .iter()
        .filter(|(s, _)| s != scope)
        .filter_map(|(_, r)| r.get("network"))
        .collect();
    let most = gw.limits.irc_networks;
    if networks.contains(network) || networks.len() < most {
        return Ok(());
    }
    let text = format!(
        "you hold identities on {} IRC networks, the most allowed (irc_networks = {most})",
        networks.len()
    );
    Err(stanza_error::error(Condition::PolicyViolation, &text))
}

async fn remove(gw: &Gateway, user: &BareJid) -> (Answer, Vec<Stanza>) {
    match unregister(gw, user).await {
        Ok(farewell) => (Ok(None), farewell),
        Err(e) => (Err(e), vec![]),
    }
}

/// Deletes everything stored for `user` and returns the stanzas that tell
/// them: `unavailable`, `unsubscribe`, `unsubscribed` from the bridge JID
/// and each contact, or the roster removals where the server lets us (§7).
/// `registration-required` when not registered.
pub async fn unregister(gw: &Gateway, user: &BareJid) -> Result<Vec<Stanza>, StanzaError> {
    let contacts = gw
        .store
        .contacts(gw.name(), user.as_str())
        .await
        .map_err(internal)?;
    if !gw
        .store
        .remove_user(gw.name(), user.as_str())
        .await
        .map_err(internal)?
    {
        return Err(stanza_error::error(
            Condition::RegistrationRequired,
            "not registered",
        ));
    }
    gw.forget_user(user);
    gw.sessions.stop(user, "unregistered");
    tracing::info!(bridge = gw.name(), user = %user, "unregistered");
    if let Some(stanzas) = roster::unregistered(gw, user, &contacts) {
        return Ok(stanzas);
    }
    let senders =
        std::iter::once(gw.jid.clone()).chain(contacts.iter().filter_map(|c| Jid::new(c).ok()));
    Ok(senders
        .flat_map(|from| presence::farewell(&from, user))
        .collect())
}
