//! The outbox sender: one per user, working the durable outbox while the
//! user has a session and after it ends, until every mail is handed over
//! or given up, so that a mail being retried does not wait for its user
//! to come back online.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_bridge::{Address, Failure};
use tokio::sync::Notify;

use crate::account::Account;
use crate::compose::{self, Outgoing, Piece};
use crate::servers::{self, Protocol, Server};
use crate::smtp::{Data, SendError, Submission};

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

struct Sender {
    wake: Arc<Notify>,
    /// The newest session's credentials and channels.
    session: Arc<Account>,
    /// Sessions running; the sender may end only when none is.
    attached: usize,
}

/// The running senders, by user.
#[derive(Default)]
pub struct Senders {
    running: Mutex<HashMap<String, Sender>>,
}

impl Senders {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Sender>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A session of `user` starts: the sender uses its credentials from
    /// now on, and starts if none is running. Returns what wakes it.
    pub fn attach(self: &Arc<Self>, user: &str, session: Arc<Account>) -> Arc<Notify> {
        let mut running = self.lock();
        if let Some(sender) = running.get_mut(user) {
            sender.session = session;
            sender.attached += 1;
            sender.wake.notify_one();
            return sender.wake.clone();
        }
        let wake = Arc::new(Notify::new());
        running.insert(
            user.to_owned(),
            Sender {
                wake: wake.clone(),
                session,
                attached: 1,
            },
        );
        tokio::spawn(run(self.clone(), user.to_owned(), wake.clone()));
        wake
    }

    /// A session of `user` ended.
    pub fn detach(&self, user: &str) {
        if let Some(sender) = self.lock().get_mut(user) {
            sender.attached = sender.attached.saturating_sub(1);
            sender.wake.notify_one();
        }
    }

    /// Whether the sender of `user` ends now: no session and nothing
    /// waiting. Decided under the lock, so an `attach` cannot slip between.
    fn may_end(&self, user: &str, waiting: bool) -> bool {
        let mut running = self.lock();
        let idle = running
            .get(user)
            .is_none_or(|s| s.attached == 0 && !waiting);
        if idle {
            running.remove(user);
        }
        idle
    }
}

/// Works the outbox when woken (a mail committed, a session come or gone)
/// and on a tick for retries.
async fn run(senders: Arc<Senders>, user: String, wake: Arc<Notify>) {
    let mut tick = tokio::time::interval(OUTBOX_TICK);
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tick.tick() => {}
        }
        let Some(session) = senders.lock().get(&user).map(|s| s.session.clone()) else {
            return;
        };
        let waiting = flush_outbox(&session).await;
        if senders.may_end(&user, waiting) {
            return;
        }
    }
}

/// Sends what is due, oldest first; failures are retried with backoff,
/// or reported. Mails to one recipient go in the order sent: one
/// waiting for a retry holds back the later ones to the same address.
/// Returns whether mails are left waiting.
async fn flush_outbox(session: &Account) -> bool {
    let (due, all) = match (
        session.storage.outbox_due(now()).await,
        session.storage.outbox_due(i64::MAX).await,
    ) {
        (Ok(due), Ok(all)) if !due.is_empty() => (due, all),
        (Ok(_), Ok(all)) => return !all.is_empty(),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot read the outbox");
            return true;
        }
    };
    let due: HashSet<i64> = due.iter().map(|i| i.id).collect();
    let mut held = HashSet::new();
    // The policy holds at every connect: a name may resolve elsewhere now.
    let server = match servers::parse(&session.smtp, Protocol::Smtp, session.config.tls) {
        Ok(server) => match servers::allowed(&session.config, &server).await {
            Ok(()) => Ok(server),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };

    let mut waiting = false;
    for item in all {
        let out: Outgoing = match serde_json::from_str(&item.payload) {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(error = %e, "unreadable outbox item dropped");
                let _ = session.storage.outbox_done(item.id).await;
                continue;
            }
        };
        if !due.contains(&item.id) || held.contains(&out.to) {
            held.insert(out.to);
            waiting = true;
            continue;
        }
        let to = Address::contact(None, &out.to);
        let result = match &server {
            Err(e) => Err(SendError::Permanent(e.clone())),
            Ok(server) => send(session, server, &out).await,
        };
        match result {
            Ok(()) => {
                let _ = session.storage.outbox_done(item.id).await;
                session.forget_files(&out).await;
            }
            Err(SendError::Temporary(reason)) if item.attempts + 1 < MAX_ATTEMPTS => {
                tracing::info!(attempts = item.attempts + 1, %reason, "mail delayed, will retry");
                held.insert(out.to.clone());
                waiting = true;
                let _ = session
                    .storage
                    .outbox_retry(item.id, now() + backoff(item.attempts))
                    .await;
            }
            Err(SendError::Temporary(reason)) | Err(SendError::Permanent(reason)) => {
                let _ = session.storage.outbox_done(item.id).await;
                session.forget_files(&out).await;
                let text = format!("the mail could not be sent: {reason}");
                session
                    .fail(to, out.xmpp_id, Failure::ServiceUnavailable, text)
                    .await;
            }
        }
    }
    waiting
}

/// Builds one mail and sends it, its attachments read from the store a
/// chunk at a time as they are written: no file is whole in memory.
async fn send(session: &Account, server: &Server, out: &Outgoing) -> Result<(), SendError> {
    let mail = compose::build(&session.email, session.name.as_deref(), out)
        .map_err(SendError::Permanent)?;
    let mut smtp = Submission::open(
        server,
        &session.config.trust,
        &session.username,
        &session.password,
    )
    .await?;
    let mut data = smtp.start(&mail.from, &mail.to).await?;
    for piece in &mail.pieces {
        match piece {
            Piece::Bytes(bytes) => data.write(bytes).await?,
            Piece::File(id) => send_file(session, &mut data, *id).await?,
        }
    }
    data.finish().await?;
    smtp.quit().await;
    Ok(())
}

/// A stored file as base64 lines, a chunk at a time; a file gone, or
/// shorter or longer than it was, fails the mail.
async fn send_file(session: &Account, data: &mut Data<'_>, id: i64) -> Result<(), SendError> {
    let temporary = |e: ferry_bridge::StorageError| SendError::Temporary(e.to_string());
    let Some(size) = session.storage.file_size(id).await.map_err(temporary)? else {
        return Err(SendError::Permanent("an attachment is gone".into()));
    };
    // Bytes of a chunk that do not fill a line wait for the next chunk.
    let mut rest = Vec::new();
    let mut sent = 0u64;
    let mut seq = 0;
    while let Some(chunk) = session
        .storage
        .file_chunk(id, seq)
        .await
        .map_err(temporary)?
    {
        sent += chunk.len() as u64;
        rest.extend_from_slice(&chunk);
        let whole = rest.len() / 57 * 57;
        data.write(&compose::base64_lines(&rest[..whole])).await?;
        rest.drain(..whole);
        seq += 1;
    }
    data.write(&compose::base64_lines(&rest)).await?;
    if sent != size {
        let text = format!("an attachment holds {sent} bytes, not {size}");
        return Err(SendError::Permanent(text));
    }
    Ok(())
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
