//! A user's e-mail session: the durable outbox (committed before anything
//! is sent, retried with backoff, resent with the same Message-ID after a
//! crash) and, while the user is online, their INBOX.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ferry_bridge::{
    channel, Address, Event, Failure, Intent, Registration, SessionContext, SessionHandle,
    SessionStorage, StorageError, Text,
};

use crate::compose::{self, Outgoing};
use crate::config::EmailConfig;
use crate::inbox::Watch;
use crate::sender::Senders;
use crate::servers::{self, Protocol};

/// A session's hold on its user's sender, let go when the session ends
/// however it ends.
struct Attached {
    senders: Arc<Senders>,
    user: String,
}

impl Drop for Attached {
    fn drop(&mut self) {
        self.senders.detach(&self.user);
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Seconds to wait after `attempts` failures: 2, 4, 8… up to 10 minutes.
pub fn backoff(attempts: u32) -> i64 {
    2i64.saturating_pow(attempts.min(10) + 1).min(600)
}

pub struct Session {
    pub config: Arc<EmailConfig>,
    pub email: String,
    pub name: Option<String>,
    pub username: String,
    pub password: String,
    pub smtp: String,
    pub storage: Arc<dyn SessionStorage>,
    events: channel::Sender<Event>,
}

fn registration(context: &SessionContext) -> Option<&Registration> {
    let mut registrations = context.registrations.iter();
    registrations
        .find(|(scope, _)| scope.is_empty())
        .map(|(_, r)| r)
}

impl Session {
    fn new(config: Arc<EmailConfig>, context: &SessionContext) -> Option<Session> {
        let registration = registration(context)?;
        let email = registration.get("email")?.to_owned();
        Some(Session {
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
}

/// Sends what the user left in the outbox, with no session: the sender
/// starts (or takes these credentials) and ends once nothing waits.
pub fn resume(config: Arc<EmailConfig>, senders: &Arc<Senders>, context: SessionContext) {
    if let Some(session) = Session::new(config, &context) {
        senders.attach(&context.user, Arc::new(session));
        senders.detach(&context.user);
    }
}

pub fn start(
    config: Arc<EmailConfig>,
    senders: &Arc<Senders>,
    context: SessionContext,
) -> Option<SessionHandle> {
    let session = Session::new(config, &context)?;
    let registration = registration(&context)?;
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
    let session = Arc::new(session);
    let wake = senders.attach(&context.user, session.clone());
    let attached = Attached {
        senders: senders.clone(),
        user: context.user.clone(),
    };
    tokio::spawn(session.take_intents(intents_rx, wake, (stop_tx, attached)));
    Some(SessionHandle {
        intents: intents_tx,
    })
}

impl Session {
    /// Commits each mail the user sends as it comes, so that none waits in
    /// memory behind an SMTP exchange; the sender works the outbox on its
    /// own. Runs until shutdown; dropping `_stop` ends the INBOX watch and
    /// tells the sender this session is gone.
    async fn take_intents(
        self: Arc<Self>,
        mut intents: channel::Receiver<Intent>,
        wake: Arc<tokio::sync::Notify>,
        _stop: (tokio::sync::watch::Sender<bool>, Attached),
    ) {
        loop {
            match intents.recv().await {
                Some(Intent::SendDirect { to, text }) => {
                    self.enqueue(to, text).await;
                    wake.notify_one();
                }
                Some(Intent::Shutdown { .. }) | None => return,
                Some(_) => {}
            }
        }
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
                let text_ = "too many mails waiting to be sent (limits.outbox)".to_owned();
                self.fail(to, text.id, Failure::ResourceConstraint, text_)
                    .await
            }
            Err(e) => {
                self.fail(to, text.id, Failure::InternalServerError, e.to_string())
                    .await
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
