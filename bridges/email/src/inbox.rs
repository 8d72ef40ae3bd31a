//! The user's INBOX while they are online: IMAP IDLE (polling where the
//! server has no IDLE), a watermark that starts at UIDNEXT, advances only
//! after a mail was handed to the core, and re-baselines (no redelivery)
//! when UIDVALIDITY changes.

use std::sync::Arc;
use std::time::Duration;

use ferry_bridge::{channel, Event, SessionStorage};
use futures::StreamExt;
use tokio::sync::watch;

use crate::account::name_key;
use crate::config::EmailConfig;
use crate::imap::{self, Session};
use crate::inbound;
use crate::parts;
use crate::servers::{self, Server};

const VALIDITY: &str = "imap.uidvalidity";
const NEXT: &str = "imap.next";
/// Re-armed well before servers drop an idle client (RFC 2177: 29 min).
const IDLE_FOR: Duration = Duration::from_secs(20 * 60);
const RETRY_MAX: Duration = Duration::from_secs(300);

pub struct Watch {
    pub config: Arc<EmailConfig>,
    pub server: Server,
    pub username: String,
    pub password: String,
    pub storage: Arc<dyn SessionStorage>,
    pub events: channel::Sender<Event>,
    /// Bytes a file may have to be fetched (`[limits]`).
    pub max_file: u64,
}

/// The INBOX's watermark now, as the initial state of a registration:
/// mail that arrives after registering is delivered, older mail is not.
pub async fn watermark(session: &mut Session) -> Vec<(String, String)> {
    match session.select("INBOX").await {
        Ok(mailbox) => vec![
            (
                VALIDITY.to_owned(),
                mailbox.uid_validity.unwrap_or(0).to_string(),
            ),
            (NEXT.to_owned(), mailbox.uid_next.unwrap_or(1).to_string()),
        ],
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the INBOX watermark at registration");
            Vec::new()
        }
    }
}

async fn stored(storage: &dyn SessionStorage, key: &str) -> Option<u32> {
    storage.get(key).await.ok().flatten()?.parse().ok()
}

impl Watch {
    /// Runs until `stop` changes, reconnecting with backoff.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut retry = Duration::from_secs(1);
        loop {
            let outcome = tokio::select! {
                outcome = self.serve() => outcome,
                _ = stop.changed() => return,
            };
            if let Err(e) = outcome {
                tracing::info!(error = %e, retry_in = ?retry, "IMAP watch interrupted");
            }
            tokio::select! {
                _ = tokio::time::sleep(retry) => {}
                _ = stop.changed() => return,
            }
            retry = (retry * 2).min(RETRY_MAX);
        }
    }

    async fn serve(&self) -> Result<(), String> {
        // The policy holds at every connect: a name may resolve elsewhere now.
        servers::allowed(&self.config, &self.server).await?;
        let mut session = imap::login(
            &self.server,
            &self.config.trust,
            &self.username,
            &self.password,
        )
        .await
        .map_err(|e| e.to_string())?;
        let idle = session
            .capabilities()
            .await
            .map(|c| c.has_str("IDLE"))
            .unwrap_or(false);
        loop {
            self.deliver_new(&mut session).await?;
            if idle {
                let mut handle = session.idle();
                handle.init().await.map_err(|e| e.to_string())?;
                let (wait, _stop) = handle.wait_with_timeout(IDLE_FOR);
                wait.await.map_err(|e| e.to_string())?;
                session = handle.done().await.map_err(|e| e.to_string())?;
            } else {
                tokio::time::sleep(Duration::from_secs(self.config.poll_interval.max(1))).await;
            }
        }
    }

    /// Hands every mail above the watermark to the core, oldest first.
    async fn deliver_new(&self, session: &mut Session) -> Result<(), String> {
        let mailbox = session.select("INBOX").await.map_err(|e| e.to_string())?;
        let validity = mailbox.uid_validity.unwrap_or(0);
        let uid_next = mailbox.uid_next.unwrap_or(1);
        let storage = self.storage.as_ref();
        let mut next = match (stored(storage, VALIDITY).await, stored(storage, NEXT).await) {
            (Some(v), Some(n)) if v == validity => n,
            _ => {
                // First look, or the server renumbered: start from now.
                self.save(validity, uid_next).await?;
                return Ok(());
            }
        };
        if uid_next <= next {
            return Ok(());
        }
        // Their sizes and shapes first: a big one is fetched a part at a
        // time, its attachments straight into the store.
        let mut mails = Vec::new();
        {
            let mut fetches = session
                .uid_fetch(format!("{next}:*"), "(UID RFC822.SIZE BODYSTRUCTURE)")
                .await
                .map_err(|e| e.to_string())?;
            while let Some(fetch) = fetches.next().await {
                let fetch = fetch.map_err(|e| e.to_string())?;
                // "n:*" always returns the last mail, even below n.
                if let Some(uid) = fetch.uid.filter(|uid| *uid >= next) {
                    let big = fetch.size.unwrap_or(u32::MAX) > parts::WHOLE_UP_TO;
                    let plan = fetch.bodystructure().filter(|_| big).and_then(parts::plan);
                    mails.push((uid, plan));
                }
            }
        }
        mails.sort_by_key(|(uid, _)| *uid);
        for (uid, plan) in mails {
            let mail = match plan {
                Some(plan) => parts::fetch(session, storage, uid, &plan, self.max_file).await?,
                None => whole(session, uid)
                    .await?
                    .and_then(|raw| inbound::parse(&raw)),
            };
            match mail {
                Some((from, text)) => {
                    if let Some(name) = &text.sender_name {
                        self.remember_name(&from.name, name).await;
                    }
                    if self
                        .events
                        .send(Event::DirectMessage { from, text })
                        .await
                        .is_err()
                    {
                        return Err("the session ended".into());
                    }
                }
                None => tracing::warn!(uid, "a mail without a sender address was skipped"),
            }
            next = uid + 1;
            self.save(validity, next).await?;
        }
        Ok(())
    }

    /// Keeps the name a sender's From gave, for their card; a failure
    /// to keep it costs only the card.
    async fn remember_name(&self, address: &str, name: &str) {
        let key = name_key(address);
        if self.storage.get(&key).await.ok().flatten().as_deref() == Some(name) {
            return;
        }
        if let Err(e) = self.storage.put(&key, name).await {
            tracing::warn!(error = %e, "cannot keep a sender's name");
        }
    }

    async fn save(&self, validity: u32, next: u32) -> Result<(), String> {
        self.storage
            .put(VALIDITY, &validity.to_string())
            .await
            .map_err(|e| e.to_string())?;
        self.storage
            .put(NEXT, &next.to_string())
            .await
            .map_err(|e| e.to_string())
    }
}

/// The mail `uid` whole; `None` when it is gone.
async fn whole(session: &mut Session, uid: u32) -> Result<Option<Vec<u8>>, String> {
    let raw = parts::fetch_one(session, uid, "(UID BODY.PEEK[])", |f| {
        f.body().map(<[u8]>::to_vec)
    })
    .await?;
    Ok(raw.flatten())
}
