//! A user's mail account as ferry uses it: the credentials and servers of
//! their registration, their slice of the store, and the channel for what
//! must be reported to them. Both the session and the sender work on it.

use std::sync::Arc;

use ferry_bridge::{
    channel, Address, Card, Details, DetailsKind, Event, Failure, Registration, SessionContext,
    SessionStorage, StorageError, Text,
};

use crate::compose::{self, Outgoing};
use crate::config::EmailConfig;

pub struct Account {
    pub config: Arc<EmailConfig>,
    pub email: String,
    pub name: Option<String>,
    pub username: String,
    pub password: String,
    pub smtp: String,
    pub storage: Arc<dyn SessionStorage>,
    events: channel::Sender<Event>,
}

/// Where the name a contact's From last gave is kept.
pub fn name_key(address: &str) -> String {
    format!("name.{address}")
}

pub fn registration(context: &SessionContext) -> Option<&Registration> {
    let mut registrations = context.registrations.iter();
    registrations
        .find(|(scope, _)| scope.is_empty())
        .map(|(_, r)| r)
}

impl Account {
    pub fn new(config: Arc<EmailConfig>, context: &SessionContext) -> Option<Account> {
        let registration = registration(context)?;
        let email = registration.get("email")?.to_owned();
        Some(Account {
            smtp: registration.get("smtp").unwrap_or(&config.smtp).to_owned(),
            username: registration.get("username").unwrap_or(&email).to_owned(),
            password: registration.secret("password")?.expose().to_owned(),
            name: registration.get("name").map(str::to_owned),
            email,
            config,
            storage: context.storage.clone(),
            events: context.events.clone(),
        })
    }

    pub async fn fail(&self, to: Address, id: Option<String>, failure: Failure, text: String) {
        let _ = self
            .events
            .send(Event::Failed {
                to,
                id,
                failure,
                text,
            })
            .await;
    }

    /// Answers what the user asks about a contact: a card with the name
    /// their mail last came with, and the address; mail knows no more.
    pub async fn details(&self, contact: Address, id: String, kind: DetailsKind) {
        let result = match kind {
            DetailsKind::Card => {
                let name = match self.storage.get(&name_key(&contact.name)).await {
                    Ok(name) => name,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read a sender's name");
                        None
                    }
                };
                // A sender whose mail gave no name is called by the
                // address, as mail clients do.
                Ok(Details::Card(Card {
                    full_name: Some(name.unwrap_or_else(|| contact.name.clone())),
                    email: Some(contact.name),
                    ..Card::default()
                }))
            }
            DetailsKind::Idle | DetailsKind::Software => Err((
                Failure::ServiceUnavailable,
                "mail does not tell that".to_owned(),
            )),
        };
        let _ = self.events.send(Event::Details { id, result }).await;
    }

    /// Commits the mail to the outbox before anything else; the files it
    /// names stay in the store until it is sent or given up.
    pub async fn enqueue(&self, to: Address, text: Text) {
        let files = compose::files(&text.files);
        // A mail that is only a file is named after it.
        let subject = match (text.body.trim().is_empty(), files.first()) {
            (true, Some(file)) if text.subject.is_none() => file.name.clone(),
            _ => compose::subject(text.subject.as_deref(), &text.body),
        };
        let out = Outgoing {
            message_id: compose::message_id(&self.email),
            to: to.name.clone(),
            subject,
            body: text.body.clone(),
            thread: text.thread.clone(),
            xmpp_id: text.id.clone(),
            files,
        };
        let pushed = match serde_json::to_string(&out) {
            Ok(payload) => self.storage.outbox_push(&payload).await,
            Err(e) => Err(StorageError::Failed(e.to_string())),
        };
        let (failure, reason) = match pushed {
            Ok(_) => return,
            Err(StorageError::OutboxFull) => (
                Failure::ResourceConstraint,
                "too many mails waiting to be sent (limits.outbox)".to_owned(),
            ),
            Err(e) => (Failure::InternalServerError, e.to_string()),
        };
        self.forget_files(&out).await;
        self.fail(to, text.id, failure, reason).await
    }

    /// The store lets go of a mail's files.
    pub async fn forget_files(&self, out: &Outgoing) {
        for file in &out.files {
            if let Err(e) = self.storage.file_delete(file.id).await {
                tracing::warn!(error = %e, "a sent file stays in the store");
            }
        }
    }
}
