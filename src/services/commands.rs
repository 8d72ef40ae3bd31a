//! XEP-0050 ad-hoc commands on the bridge JID: "show my registration" and
//! "reconnect" for users; "list users", "unregister user", "announce" and
//! "statistics" for admins. Multi-step commands carry their state in the submitted
//! form, so no command session is kept between steps.

use std::sync::Arc;

use xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Identity, Item};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Lang, Message, MessageType};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::StanzaError;

use super::register;
use super::reply::Reply;
use super::xep0050::{Actions, Command, Note, NS};
use crate::gateway::Gateway;
use crate::stanza_error::{self, Condition};

struct Spec {
    node: &'static str,
    name: &'static str,
    admin: bool,
}

const COMMANDS: [Spec; 6] = [
    Spec {
        node: "show-registration",
        name: "Show my registration",
        admin: false,
    },
    Spec {
        node: "reconnect",
        name: "Reconnect",
        admin: false,
    },
    Spec {
        node: "list-users",
        name: "List users",
        admin: true,
    },
    Spec {
        node: "unregister-user",
        name: "Unregister a user",
        admin: true,
    },
    Spec {
        node: "announce",
        name: "Send an announcement to all users",
        admin: true,
    },
    Spec {
        node: "statistics",
        name: "Statistics",
        admin: true,
    },
];

/// Commands `who` may run: none from other domains, admin ones for admins.
fn visible<'a>(gw: &Gateway, who: &Jid) -> impl Iterator<Item = &'a Spec> {
    let allowed = gw.allowed(who);
    let admin = gw.access.is_admin(who.to_bare().as_str());
    COMMANDS
        .iter()
        .filter(move |c| allowed && (admin || !c.admin))
}

/// disco#items for the commands node.
pub fn items(gw: &Gateway, who: &Jid) -> Element {
    DiscoItemsResult {
        node: Some(NS.into()),
        items: visible(gw, who)
            .map(|c| Item {
                jid: gw.jid.clone(),
                node: Some(c.node.into()),
                name: Some(c.name.into()),
            })
            .collect(),
        rsm: None,
    }
    .into()
}

/// disco#info for one command's node, or None for an unknown node.
pub fn info(node: &str) -> Option<Element> {
    let name = match node {
        super::settings::NODE => "Settings",
        _ => COMMANDS.iter().find(|c| c.node == node)?.name,
    };
    Some(
        DiscoInfoResult {
            node: Some(node.into()),
            identities: vec![Identity::new("automation", "command-node", "en", name)],
            features: [NS, "jabber:x:data"]
                .iter()
                .map(|f| f.to_string())
                .collect(),
            extensions: vec![],
        }
        .into(),
    )
}

pub(super) fn completed(node: &str, form: Option<DataForm>, note: Option<&str>) -> Element {
    Command {
        node: node.into(),
        sessionid: Some(format!("{node}-done")),
        status: Some("completed".into()),
        notes: note
            .map(|text| Note {
                type_: Some("info".into()),
                text: text.into(),
            })
            .into_iter()
            .collect(),
        form,
        ..Default::default()
    }
    .into()
}

pub(super) fn ask(node: &str, form: DataForm) -> Element {
    Command {
        node: node.into(),
        sessionid: Some(format!("{node}-1")),
        status: Some("executing".into()),
        actions: Some(Actions {
            execute: Some("complete".into()),
            complete: true,
            ..Default::default()
        }),
        form: Some(form),
        ..Default::default()
    }
    .into()
}

pub(super) fn field(var: &str, type_: FieldType, label: &str, values: Vec<String>) -> Field {
    let mut f = Field::new(var, type_);
    f.label = Some(label.into());
    f.values = values;
    f
}

pub(super) fn submitted<'a>(form: &'a Option<DataForm>, var: &str) -> Option<&'a [String]> {
    let form = form.as_ref().filter(|f| f.type_ == DataFormType::Submit)?;
    form.fields
        .iter()
        .find(|f| f.var.as_deref() == Some(var))
        .map(|f| f.values.as_slice())
}

pub fn spawn(gw: &Arc<Gateway>, reply: Reply, payload: Element) {
    let gw = gw.clone();
    tokio::spawn(async move {
        let answer = execute(&gw, &reply.them, payload).await.map(Some);
        reply.send(&gw, answer);
    });
}

async fn execute(gw: &Gateway, who: &Jid, payload: Element) -> Result<Element, StanzaError> {
    let command = Command::try_from(payload)
        .map_err(|_| stanza_error::error(Condition::BadRequest, "malformed command"))?;
    let Some(spec) = COMMANDS.iter().find(|c| c.node == command.node) else {
        return Err(stanza_error::error(
            Condition::ItemNotFound,
            "no such command",
        ));
    };
    if !visible(gw, who).any(|c| c.node == spec.node) {
        return Err(stanza_error::error(
            Condition::Forbidden,
            "you may not run this command",
        ));
    }
    if command.action.as_deref() == Some("cancel") {
        return Ok(Command {
            node: command.node,
            sessionid: command.sessionid,
            status: Some("canceled".into()),
            ..Default::default()
        }
        .into());
    }
    let user = who.to_bare();
    match spec.node {
        "show-registration" => show_registration(gw, &user).await,
        "reconnect" => {
            let note = if gw.reconnect(&user) {
                "Reconnecting."
            } else {
                "You have no connection to reconnect."
            };
            Ok(completed(spec.node, None, Some(note)))
        }
        "list-users" => list_users(gw).await,
        "unregister-user" => unregister_user(gw, &command).await,
        "statistics" => statistics(gw).await,
        _ => announce(gw, &command).await,
    }
}

pub(super) fn internal(e: impl std::fmt::Display) -> StanzaError {
    tracing::error!(error = %e, "store failure in an ad-hoc command");
    stanza_error::error(Condition::InternalServerError, "the gateway's store failed")
}

async fn show_registration(gw: &Gateway, user: &BareJid) -> Result<Element, StanzaError> {
    let registration = gw
        .store
        .registration(gw.name(), user.as_str(), "")
        .await
        .map_err(internal)?;
    let Some(registration) = registration else {
        return Ok(completed(
            "show-registration",
            None,
            Some("You are not registered."),
        ));
    };
    let mut fields: Vec<Field> = registration
        .fields
        .iter()
        .map(|(var, value)| field(var, FieldType::TextSingle, var, vec![value.clone()]))
        .collect();
    // Passwords are never shown, only whether one is stored.
    fields.extend(
        registration
            .secrets
            .keys()
            .map(|var| field(var, FieldType::Fixed, var, vec!["(set)".into()])),
    );
    let mut form = DataForm::new(DataFormType::Result_, NS, fields);
    form.title = Some(format!("Your registration on {}", gw.name()));
    Ok(completed("show-registration", Some(form), None))
}

async fn list_users(gw: &Gateway) -> Result<Element, StanzaError> {
    let users = gw
        .store
        .registered_users(gw.name())
        .await
        .map_err(internal)?;
    let online = gw.online_users().len();
    let fields = vec![
        field(
            "count",
            FieldType::TextSingle,
            "Registered users",
            vec![users.len().to_string()],
        ),
        field(
            "online",
            FieldType::TextSingle,
            "Online users",
            vec![online.to_string()],
        ),
        field("users", FieldType::JidMulti, "Users", users),
    ];
    let form = DataForm::new(DataFormType::Result_, NS, fields);
    Ok(completed("list-users", Some(form), None))
}

/// The bridge's figures, as the metrics have them (SPEC §5).
async fn statistics(gw: &Gateway) -> Result<Element, StanzaError> {
    let s = crate::exporter::snapshot(gw);
    let (outbox, _) = gw.store.outbox_stats().await.map_err(internal)?;
    let refused: u64 = s.refused.iter().map(|(_, n)| n).sum();
    let rows = [
        ("users_online", "Users online", s.users_online.to_string()),
        (
            "foreign_connections",
            "Foreign connections up",
            s.foreign_connections.to_string(),
        ),
        ("stanzas_in", "Stanzas in", s.stanzas_in.to_string()),
        ("stanzas_out", "Stanzas out", s.stanzas_out.to_string()),
        ("refused", "Stanzas refused", refused.to_string()),
        (
            "link_queue",
            "Stanzas waiting for the link",
            s.link_queue.to_string(),
        ),
        (
            "outbox_depth",
            "Mails waiting to be sent",
            outbox.to_string(),
        ),
        (
            "archive_backlog",
            "Room lines waiting for the archive",
            s.archive_backlog.to_string(),
        ),
    ];
    let fields = rows
        .into_iter()
        .map(|(var, label, value)| field(var, FieldType::TextSingle, label, vec![value]))
        .collect();
    let mut form = DataForm::new(DataFormType::Result_, NS, fields);
    form.title = Some(format!("Statistics of {}", gw.name()));
    Ok(completed("statistics", Some(form), None))
}

async fn unregister_user(gw: &Gateway, command: &Command) -> Result<Element, StanzaError> {
    let Some(values) = submitted(&command.form, "jid") else {
        let jid = field(
            "jid",
            FieldType::JidSingle,
            "The user to unregister",
            vec![],
        );
        let mut jid = jid;
        jid.required = true;
        return Ok(ask(
            &command.node,
            DataForm::new(DataFormType::Form, NS, vec![jid]),
        ));
    };
    let user: BareJid = values
        .first()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| stanza_error::error(Condition::BadRequest, "jid: not a bare JID"))?;
    let farewell = register::unregister(gw, &user).await?;
    for stanza in farewell {
        gw.send(stanza);
    }
    Ok(completed(
        &command.node,
        None,
        Some(&format!("{user} is unregistered.")),
    ))
}

async fn announce(gw: &Gateway, command: &Command) -> Result<Element, StanzaError> {
    let Some(lines) = submitted(&command.form, "body") else {
        let mut body = field("body", FieldType::TextMulti, "Announcement", vec![]);
        body.required = true;
        return Ok(ask(
            &command.node,
            DataForm::new(DataFormType::Form, NS, vec![body]),
        ));
    };
    let text = lines.join("\n");
    if text.trim().is_empty() {
        return Err(stanza_error::error(
            Condition::BadRequest,
            "body: the announcement is empty",
        ));
    }
    let users = gw
        .store
        .registered_users(gw.name())
        .await
        .map_err(internal)?;
    let mut sent = 0;
    for user in users.iter().filter_map(|u| Jid::new(u).ok()) {
        let mut message = Message::new_with_type(MessageType::Normal, Some(user));
        message.from = Some(gw.jid.clone());
        gw.send(message.with_body(Lang::default(), text.clone()));
        sent += 1;
    }
    Ok(completed(
        &command.node,
        None,
        Some(&format!("Sent to {sent} users.")),
    ))
}
