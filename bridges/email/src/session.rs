//! A user's e-mail session, while they are online: what they send is
//! committed to the durable outbox as it comes (the sender works it, and
//! goes on after the session), and their INBOX is watched.

use std::sync::Arc;

use ferry_bridge::{channel, Intent, SessionContext, SessionHandle};

use crate::account::{registration, Account};
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

pub fn start(
    config: Arc<EmailConfig>,
    senders: &Arc<Senders>,
    context: SessionContext,
) -> Option<SessionHandle> {
    let session = Account::new(config, &context)?;
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
                max_file: context.limits.file_bytes,
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
    tokio::spawn(take_intents(session, intents_rx, wake, (stop_tx, attached)));
    Some(SessionHandle {
        intents: intents_tx,
    })
}

/// Commits each mail the user sends as it comes, so that none waits in
/// memory behind an SMTP exchange; the sender works the outbox on its
/// own. Runs until shutdown; dropping `_stop` ends the INBOX watch and
/// tells the sender this session is gone.
async fn take_intents(
    account: Arc<Account>,
    mut intents: channel::Receiver<Intent>,
    wake: Arc<tokio::sync::Notify>,
    _stop: (tokio::sync::watch::Sender<bool>, Attached),
) {
    loop {
        match intents.recv().await {
            Some(Intent::SendDirect { to, text }) => {
                account.enqueue(to, text).await;
                wake.notify_one();
            }
            Some(Intent::Details { contact, id, kind }) => {
                account.details(contact, id, kind).await;
            }
            Some(Intent::Shutdown { .. }) | None => return,
            Some(_) => {}
        }
    }
}

/// Sends what the user left in the outbox, with no session: the sender
/// starts (or takes these credentials) and ends once nothing waits.
pub fn resume(config: Arc<EmailConfig>, senders: &Arc<Senders>, context: SessionContext) {
    if let Some(account) = Account::new(config, &context) {
        senders.attach(&context.user, Arc::new(account));
        senders.detach(&context.user);
    }
}
