//! The ad-hoc command "settings" on a room JID and on a network JID
//! (SPEC §7): whether the room (its own setting, else its network's) or
//! the network stays up while the user is offline.

use std::sync::Arc;

use ferry_bridge::{Address, AddressKind, Registration};
use xmpp_parsers::data_forms::{DataForm, DataFormType, FieldType};
use xmpp_parsers::disco::{DiscoItemsResult, Item};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::StanzaError;

use super::commands::{ask, completed, field, internal, submitted};
use super::reply::Reply;
use super::xep0050::{Command, NS};
use crate::always_on::{self, Settings};
use crate::gateway::Gateway;
use crate::stanza_error::{self, Condition};

pub const NODE: &str = "settings";

/// Whether `address` has the command: rooms and networks.
pub fn applies(address: &Address) -> bool {
    matches!(address.kind, AddressKind::Room | AddressKind::Network)
}

/// disco#items for the commands node of a room or network JID.
pub fn items(jid: &Jid) -> Element {
    DiscoItemsResult {
        node: Some(NS.into()),
        items: vec![Item {
            jid: jid.clone(),
            node: Some(NODE.into()),
            name: Some("Settings".into()),
        }],
        rsm: None,
    }
    .into()
}

pub fn spawn(gw: &Arc<Gateway>, reply: Reply, address: Address, payload: Element) {
    let gw = gw.clone();
    tokio::spawn(async move {
        let answer = execute(&gw, &reply.them, &address, payload).await.map(Some);
        reply.send(&gw, answer);
    });
}

async fn execute(
    gw: &Gateway,
    who: &Jid,
    address: &Address,
    payload: Element,
) -> Result<Element, StanzaError> {
    let command = Command::try_from(payload)
        .map_err(|_| stanza_error::error(Condition::BadRequest, "malformed command"))?;
    if command.node != NODE {
        return Err(stanza_error::error(
            Condition::ItemNotFound,
            "no such command",
        ));
    }
    if !gw.allowed(who) {
        return Err(stanza_error::error(
            Condition::Forbidden,
            "not allowed here",
        ));
    }
    let user = who.to_bare();
    let registrations = gw
        .store
        .registrations(gw.name(), user.as_str())
        .await
        .map_err(internal)?;
    let network = address.network.clone().unwrap_or_default();
    let identity = registrations
        .iter()
        .find(|(scope, r)| gw.bridge.registration_network(scope, r).as_deref() == Some(&network));
    if address.kind == AddressKind::Network && identity.is_none() {
        return Err(stanza_error::error(
            Condition::RegistrationRequired,
            "register on this network first",
        ));
    }
    let identity = identity.filter(|_| address.kind == AddressKind::Network);
    let submission = command
        .form
        .as_ref()
        .filter(|f| f.type_ == DataFormType::Submit);
    let Some(submission) = submission else {
        let settings = gw.always_on.get(&user);
        let on = match gw
            .room_key(address)
            .filter(|_| address.kind == AddressKind::Room)
        {
            Some(key) => settings.room(Some(&network), &key),
            None => settings.networks.contains(&network),
        };
        let mut form = form(address, on);
        if let Some((scope, registration)) = identity {
            // What the settings need made first (a client certificate) is
            // made, and kept, before they are shown.
            let prepared = bridge_settings(gw, scope, registration, &[])?;
            if prepared != *registration {
                save(gw, &user, scope, &prepared).await?;
            }
            let settings = gw.bridge.network_settings(scope, &prepared);
            form.fields
                .extend(settings.into_iter().map(|(spec, values)| {
                    let mut field = super::register::field_of(&spec, None);
                    field.values = values;
                    field
                }));
        }
        return Ok(ask(NODE, form));
    };
    let on = match submitted(&command.form, always_on::FIELD).and_then(|v| v.first()) {
        None => None,
        Some(value) => match ferry_bridge::parse_boolean(value) {
            Some(on) => Some(on),
            None => {
                return Err(stanza_error::error(
                    Condition::BadRequest,
                    "persistent must be true or false",
                ))
            }
        },
    };
    match identity {
        Some((scope, registration)) => {
            let others: Vec<(String, Vec<String>)> = submission
                .fields
                .iter()
                .filter_map(|f| Some((f.var.clone()?, f.values.clone())))
                .filter(|(var, _)| var != always_on::FIELD && var != "FORM_TYPE")
                .collect();
            let mut changed = bridge_settings(gw, scope, registration, &others)?;
            if let Some(on) = on {
                changed
                    .fields
                    .insert(always_on::FIELD.into(), on.to_string());
            }
            save(gw, &user, scope, &changed).await?;
        }
        None => {
            if let Some(on) = on {
                set_channel(gw, &user, address, on).await?;
            }
        }
    }
    crate::sessions::load_always_on(gw, &user, &registrations_now(gw, &user).await?).await;
    // The ledger's list of always-on rooms follows the new setting.
    gw.rooms.ledger.changed(&user);
    Ok(completed(
        NODE,
        None,
        Some("Saved: the network's settings apply from its next connection."),
    ))
}

/// The bridge's settings applied; a refused one is `not-acceptable`,
/// naming it.
fn bridge_settings(
    gw: &Gateway,
    scope: &str,
    registration: &Registration,
    submitted: &[(String, Vec<String>)],
) -> Result<Registration, StanzaError> {
    gw.bridge
        .apply_network_settings(scope, registration, submitted)
        .map_err(|e| stanza_error::error(Condition::NotAcceptable, &e.to_string()))
}

fn form(address: &Address, on: bool) -> DataForm {
    let label = match address.kind {
        AddressKind::Network => "Always on: stay connected to this network while offline",
        _ => "Always on: stay in this channel and keep its archive while offline",
    };
    let mut form = DataForm::new(
        DataFormType::Form,
        NS,
        vec![field(
            always_on::FIELD,
            FieldType::Boolean,
            label,
            vec![on.to_string()],
        )],
    );
    form.title = Some(format!("Settings of {}", address.name));
    form
}

async fn registrations_now(
    gw: &Gateway,
    user: &BareJid,
) -> Result<Vec<(String, Registration)>, StanzaError> {
    gw.store
        .registrations(gw.name(), user.as_str())
        .await
        .map_err(internal)
}

async fn save(
    gw: &Gateway,
    user: &BareJid,
    scope: &str,
    registration: &Registration,
) -> Result<(), StanzaError> {
    gw.store
        .save_registration(gw.name(), user.as_str(), scope, registration)
        .await
        .map_err(internal)?;
    Ok(())
}

async fn set_channel(
    gw: &Gateway,
    user: &BareJid,
    address: &Address,
    on: bool,
) -> Result<(), StanzaError> {
    let Some(key) = gw.room_key(address) else {
        return Err(stanza_error::error(Condition::JidMalformed, "no such room"));
    };
    let stored = gw
        .store
        .state_get(gw.name(), user.as_str(), always_on::CHANNELS_KEY)
        .await
        .map_err(internal)?;
    let mut channels = stored
        .map(|t| Settings::parse_channels(&t))
        .unwrap_or_default();
    channels.insert(key, on);
    let text = serde_json::to_string(&channels).unwrap_or_default();
    gw.store
        .state_put(gw.name(), user.as_str(), always_on::CHANNELS_KEY, &text)
        .await
        .map_err(internal)
}
