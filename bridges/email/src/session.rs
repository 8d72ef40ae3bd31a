//! A user's e-mail session: the durable outbox (committed before anything
//! is sent, retried with backoff, resent with the same Message-ID after a
//! crash) and, while the user is online, their INBOX.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_bridge::{
    channel, Address, Event, Failure, Intent, Registration, SessionContext, SessionHandle,
    SessionStorage, StorageError, Text,
};

use crate::compose::{self, Outgoing};
use crate::config::EmailConfig;
use crate::inbox::Watch;
use crate::servers::{self, Protocol};
use crate::smtp::{self, SendError};

/// Attempts before a temporary failure counts as permanent.
const MAX_ATTEMPTS: u32 = 8;
/// How often the outbox is looked at when nothing wakes it.
const OUTBOX_TICK: Duration = Duration::from_secs(5);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Seconds to wait after `attempts` failures: 2, 4, 8… up to 10 minutes.
fn backoff(attempts: u32) -> i64 {
    2i64.saturating_pow(attempts.min(10) + 1).min(600)
}

struct Session {
    config: Arc<EmailConfig>,
    email: String,
    name: Option<String>,
    username: String,
    password: String,
    smtp: String,
    storage: Arc<dyn SessionStorage>,
    events: channel::Sender<Event>,
}

pub fn start(config: Arc<EmailConfig>, context: SessionContext) -> Option<SessionHandle> {
    let registration: &Registration = context
        .registrations
        .iter()
        .find(|(scope, _)| scope.is_empty())
        .map(|(_, r)| r)?;
    let email = registration.get("email")?.to_owned();
    let session = Session {
        smtp: registration.get("smtp").unwrap_or(&config.smtp).to_owned(),
        username: registration.get("username").unwrap_or(&email).to_owned(),
        password: registration.secret("password")?.expose().to_owned(),
        name: registration.get("name").map(str::to_owned),
        email,
        config,
        storage: context.storage.clone(),
        events: context.events.clone(),
    };
    let imap = registration.get("imap").unwrap_or(&session.config.imap);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    match servers::parse(imap, Protocol::Imap, session.config.tls) {
        Ok(server) => {
            let watch = Watch {
                config: session.config.clone(),
                server,
                username: session.username.clone(),
                password: session.password.clone(),
                storage: context.storage.clone(),
                events: context.events.clone(),
            };
            tokio::spawn(watch.run(stop_rx));
        }
        Err(e) => tracing::warn!(error = %e, "no IMAP server to watch"),
    }
    let (intents_tx, intents_rx) = channel::channel(context.limits.intents);
    tokio::spawn(session.run(intents_rx, stop_tx));
    Some(SessionHandle {
        intents: intents_tx,
    })
}

impl Session {
    /// Runs until shutdown; dropping `_stop_inbox` ends the INBOX watch.
    async fn run(
        self,
        mut intents: channel::Receiver<Intent>,
        _stop_inbox: tokio::sync::watch::Sender<bool>,
    ) {
        let mut tick = tokio::time::interval(OUTBOX_TICK);
        loop {
            tokio::select! {
                intent = intents.recv() => match intent {
                    Some(Intent::SendDirect { to, text }) => {
                        self.enqueue(to, text).await;
                        self.flush_outbox().await;
                    }
                    Some(Intent::Shutdown { .. }) | None => return,
                    Some(_) => {}
                },
                _ = tick.tick() => self.flush_outbox().await,
            }
        }
    }

    async fn fail(&self, to: Address, id: Option<String>, failure: Failure, text: String) {
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

    /// Commits the mail to the outbox before anything else.
    async fn enqueue(&self, to: Address, text: Text) {
        let out = Outgoing {
            message_id: compose::message_id(&self.email),
            to: to.name.clone(),
            subject: compose::subject(text.subject.as_deref(), &text.body),
            body: text.body.clone(),
            thread: text.thread.clone(),
            xmpp_id: text.id.clone(),
        };
        let payload = match serde_json::to_string(&out) {
            Ok(p) => p,
            Err(e) => {
                return self
                    .fail(to, text.id, Failure::InternalServerError, e.to_string())
                    .await
            }
        };
        match self.storage.outbox_push(&payload).await {
            Ok(_) => {}
            Err(StorageError::OutboxFull) => {
                let text_ = "too many mails waiting to be sent".to_owned();
                self.fail(to, text.id, Failure::ResourceConstraint, text_)
                    .await
            }
            Err(e) => {
                self.fail(to, text.id, Failure::InternalServerError, e.to_string())
                    .await
            }
        }
    }

    /// Sends what is due; failures are retried with backoff, or reported.
    async fn flush_outbox(&self) {
        let due = match self.storage.outbox_due(now()).await {
            Ok(due) if !due.is_empty() => due,
            Ok(_) => return,
            Err(e) => return tracing::error!(error = %e, "cannot read the outbox"),
        };
        // The policy holds at every connect: a name may resolve elsewhere now.
        let server = match servers::parse(&self.smtp, Protocol::Smtp, self.config.tls) {
            Ok(server) => match servers::allowed(&self.config, &server).await {
                Ok(()) => Ok(server),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let transport =
            server.and_then(|server| smtp::transport(&server, &self.username, &self.password));
        for item in due {
            let out: Outgoing = match serde_json::from_str(&item.payload) {
                Ok(out) => out,
                Err(e) => {
                    tracing::error!(error = %e, "unreadable outbox item dropped");
                    let _ = self.storage.outbox_done(item.id).await;
                    continue;
                }
            };
            let to = Address::contact(None, &out.to);
            let result = match (
                &transport,
                compose::build(&self.email, self.name.as_deref(), &out),
            ) {
                (Err(e), _) => Err(SendError::Permanent(e.clone())),
                (_, Err(e)) => Err(SendError::Permanent(e)),
                (Ok(transport), Ok((envelope, raw))) => {
                    smtp::send(transport, &envelope, &raw).await
                }
            };
            match result {
                Ok(()) => {
                    let _ = self.storage.outbox_done(item.id).await;
                }
                Err(SendError::Temporary(reason)) if item.attempts + 1 < MAX_ATTEMPTS => {
                    tracing::info!(attempts = item.attempts + 1, %reason, "mail delayed, will retry");
                    let _ = self
                        .storage
                        .outbox_retry(item.id, now() + backoff(item.attempts))
                        .await;
                }
                Err(SendError::Temporary(reason)) | Err(SendError::Permanent(reason)) => {
                    let _ = self.storage.outbox_done(item.id).await;
                    let text = format!("the mail could not be sent: {reason}");
                    self.fail(to, out.xmpp_id, Failure::ServiceUnavailable, text)
                        .await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert_eq!(backoff(0), 2);
        assert_eq!(backoff(1), 4);
        assert_eq!(backoff(20), 600);
    }
}
