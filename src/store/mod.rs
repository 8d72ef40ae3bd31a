//! The store: sqlx `Any` over SQLite (default) or PostgreSQL, one portable
//! set of migrations, foreign passwords encrypted at rest.

mod archive;
mod crypto;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use ferry_bridge::{Registration, Secret};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

use crate::config::StoreConfig;
pub use archive::{Archived, Filter};
pub use crypto::Cipher;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store key: {0}")]
    Key(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

pub struct Store {
    pool: AnyPool,
    cipher: Cipher,
    sqlite: bool,
    /// Archive numbers by (bridge, user, room): asked for at every row.
    room_ids: std::sync::Mutex<HashMap<archive::ArchiveKey, i64>>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The SQLite file a `sqlite:` URL names, if it names one.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

impl Store {
    /// Connects (creating a SQLite file if missing) and migrates.
    pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = config.url.starts_with("sqlite:");
        let cipher = match (&config.key, &config.key_file) {
            (Some(key), _) => Cipher::from_base64(key)?,
            (None, Some(path)) => {
                Cipher::from_base64(&std::fs::read_to_string(path).map_err(|e| {
                    StoreError::Key(format!("cannot read {}: {e}", path.display()))
                })?)?
            }
            (None, None) => match sqlite_path(&config.url) {
                Some(db) => {
                    let mut key_path = db.into_os_string();
                    key_path.push(".key");
                    Cipher::load_or_create(&PathBuf::from(key_path))?
                }
                None => {
                    return Err(StoreError::Key(
                        "store.key or store.key_file is required for this database \
                         (instances sharing it must share the key)"
                            .into(),
                    ))
                }
            },
        };
        let mut url = config.url.clone();
        if sqlite && !url.contains("mode=") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
        let memory = sqlite && sqlite_path(&config.url).is_none();
        let pool = AnyPoolOptions::new()
            // Each in-memory SQLite connection would be its own database.
            .max_connections(if memory { 1 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        // In WAL mode this survives a crash of ferry or the
                        // OS's loss of ferry; only a power cut can take the
                        // last commits, and no commit waits for the disk.
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        if sqlite && !memory {
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        sqlx::migrate!().run(&pool).await?;
        Ok(Store {
            pool,
            cipher,
            sqlite,
            room_ids: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn lock_room_ids(&self) -> std::sync::MutexGuard<'_, HashMap<archive::ArchiveKey, i64>> {
        self.room_ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn binding(bridge: &str, user: &str, scope: &str) -> String {
        format!("{bridge}\n{user}\n{scope}")
    }

    /// Stores a registration; returns true when it is the user's first on
    /// this bridge (any scope), which starts the XEP-0100 dance.
    pub async fn save_registration(
        &self,
        bridge: &str,
        user: &str,
        scope: &str,
        registration: &Registration,
    ) -> Result<bool, StoreError> {
        let fields = serde_json::to_string(&registration.fields)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let secrets: BTreeMap<&str, &str> = registration
            .secrets
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        let secrets =
            serde_json::to_vec(&secrets).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sealed = self
            .cipher
            .seal(&secrets, &Self::binding(bridge, user, scope));
        let t = now();
        let mut tx = self.pool.begin().await?;
        Self::ensure_user(&mut tx, user).await?;
        let existing: i64 =
            sqlx::query("SELECT COUNT(*) FROM registrations WHERE bridge = $1 AND user_jid = $2")
                .bind(bridge)
                .bind(user)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        sqlx::query(
            "INSERT INTO registrations (bridge, user_jid, scope, fields, secrets, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (bridge, user_jid, scope) DO UPDATE \
             SET fields = excluded.fields, secrets = excluded.secrets, updated_at = excluded.updated_at",
        )
        .bind(bridge)
        .bind(user)
        .bind(scope)
        .bind(fields)
        .bind(sealed)
        .bind(t)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(existing == 0)
    }

    fn decode_registration(
        &self,
        bridge: &str,
        user: &str,
        row: &AnyRow,
    ) -> Result<Registration, StoreError> {
        let scope: String = row.try_get("scope")?;
        let fields: String = row.try_get("fields")?;
        let sealed: String = row.try_get("secrets")?;
        let fields: BTreeMap<String, String> =
            serde_json::from_str(&fields).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let plain = self
            .cipher
            .open(&sealed, &Self::binding(bridge, user, &scope))?;
        let secrets: BTreeMap<String, String> =
            serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Registration {
            fields,
            secrets: secrets
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
            initial_state: Vec::new(),
        })
    }

    pub async fn registration(
        &self,
        bridge: &str,
        user: &str,
        scope: &str,
    ) -> Result<Option<Registration>, StoreError> {
        let row = sqlx::query(
            "SELECT scope, fields, secrets FROM registrations \
             WHERE bridge = $1 AND user_jid = $2 AND scope = $3",
        )
        .bind(bridge)
        .bind(user)
        .bind(scope)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.decode_registration(bridge, user, &row))
            .transpose()
    }

    /// Whether `user` holds any identity on `bridge`.
    pub async fn is_registered(&self, bridge: &str, user: &str) -> Result<bool, StoreError> {
        let count: i64 =
            sqlx::query("SELECT COUNT(*) FROM registrations WHERE bridge = $1 AND user_jid = $2")
                .bind(bridge)
                .bind(user)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        Ok(count > 0)
    }

    /// Every identity of `user` on `bridge`, by scope.
    pub async fn registrations(
        &self,
        bridge: &str,
        user: &str,
    ) -> Result<Vec<(String, Registration)>, StoreError> {
        let rows = sqlx::query(
            "SELECT scope, fields, secrets FROM registrations \
             WHERE bridge = $1 AND user_jid = $2 ORDER BY scope",
        )
        .bind(bridge)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let scope: String = row.try_get("scope")?;
                Ok((scope, self.decode_registration(bridge, user, row)?))
            })
            .collect()
    }

    /// Deletes everything stored for `user` on `bridge`; false when there
    /// was no registration.
    pub async fn remove_user(&self, bridge: &str, user: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let removed = sqlx::query("DELETE FROM registrations WHERE bridge = $1 AND user_jid = $2")
            .bind(bridge)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.archive_remove_user(&mut tx, bridge, user).await?;
        for table in ["contacts", "bridge_state", "outbox"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE bridge = $1 AND user_jid = $2"
            ))
            .bind(bridge)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(removed > 0)
    }

    /// Bare JIDs with a registration on `bridge`.
    pub async fn registered_users(&self, bridge: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT user_jid FROM registrations WHERE bridge = $1 ORDER BY user_jid",
        )
        .bind(bridge)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .collect()
    }

    pub async fn add_contact(
        &self,
        bridge: &str,
        user: &str,
        contact: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_user(&mut tx, user).await?;
        sqlx::query(
            "INSERT INTO contacts (bridge, user_jid, contact, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (bridge, user_jid, contact) DO NOTHING",
        )
        .bind(bridge)
        .bind(user)
        .bind(contact)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_contact(
        &self,
        bridge: &str,
        user: &str,
        contact: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM contacts WHERE bridge = $1 AND user_jid = $2 AND contact = $3")
            .bind(bridge)
            .bind(user)
            .bind(contact)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Contact JIDs `user` subscribed to on `bridge`.
    pub async fn contacts(&self, bridge: &str, user: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT contact FROM contacts WHERE bridge = $1 AND user_jid = $2 ORDER BY contact",
        )
        .bind(bridge)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .collect()
    }

    pub async fn state_get(
        &self,
        bridge: &str,
        user: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT value FROM bridge_state WHERE bridge = $1 AND user_jid = $2 AND key = $3",
        )
        .bind(bridge)
        .bind(user)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    pub async fn state_put(
        &self,
        bridge: &str,
        user: &str,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_user(&mut tx, user).await?;
        sqlx::query(
            "INSERT INTO bridge_state (bridge, user_jid, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (bridge, user_jid, key) DO UPDATE SET value = excluded.value",
        )
        .bind(bridge)
        .bind(user)
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn state_delete(
        &self,
        bridge: &str,
        user: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM bridge_state WHERE bridge = $1 AND user_jid = $2 AND key = $3")
            .bind(bridge)
            .bind(user)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Users with items in the outbox.
    pub async fn outbox_users(&self, bridge: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT DISTINCT user_jid FROM outbox WHERE bridge = $1")
            .bind(bridge)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Every user's value under `key`, deleted as it is read.
    pub async fn state_take_all(
        &self,
        bridge: &str,
        key: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows =
            sqlx::query("SELECT user_jid, value FROM bridge_state WHERE bridge = $1 AND key = $2")
                .bind(bridge)
                .bind(key)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM bridge_state WHERE bridge = $1 AND key = $2")
            .bind(bridge)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Commits an outbox item; `None` when the user already has `limit`.
    pub async fn outbox_push(
        &self,
        bridge: &str,
        user: &str,
        payload: &str,
        limit: usize,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_user(&mut tx, user).await?;
        let queued: i64 =
            sqlx::query("SELECT COUNT(*) FROM outbox WHERE bridge = $1 AND user_jid = $2")
                .bind(bridge)
                .bind(user)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        if queued >= limit as i64 {
            return Ok(None);
        }
        let id = (rand::random::<u64>() >> 1) as i64;
        let created_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        sqlx::query(
            "INSERT INTO outbox (id, bridge, user_jid, payload, attempts, not_before, created_us) \
             VALUES ($1, $2, $3, $4, 0, 0, $5)",
        )
        .bind(id)
        .bind(bridge)
        .bind(user)
        .bind(payload)
        .bind(created_us)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Items due at `now` (unix seconds), oldest first.
    pub async fn outbox_due(
        &self,
        bridge: &str,
        user: &str,
        now: i64,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, payload, attempts FROM outbox \
             WHERE bridge = $1 AND user_jid = $2 AND not_before <= $3 ORDER BY created_us",
        )
        .bind(bridge)
        .bind(user)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Forgets an item; scoped to its owner so one user can never touch
    /// another's.
    pub async fn outbox_done(&self, bridge: &str, user: &str, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM outbox WHERE id = $1 AND bridge = $2 AND user_jid = $3")
            .bind(id)
            .bind(bridge)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn outbox_retry(
        &self,
        bridge: &str,
        user: &str,
        id: i64,
        not_before: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, not_before = $1 \
             WHERE id = $2 AND bridge = $3 AND user_jid = $4",
        )
        .bind(not_before)
        .bind(id)
        .bind(bridge)
        .bind(user)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn ensure_user(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (jid, created_at) VALUES ($1, $2) ON CONFLICT (jid) DO NOTHING",
        )
        .bind(user)
        .bind(now())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Reads the raw sealed secrets column, for tests proving that no
    /// password is stored in clear text.
    #[cfg(test)]
    async fn raw_rows(&self) -> Vec<String> {
        sqlx::query("SELECT fields, secrets FROM registrations")
            .fetch_all(&self.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| format!("{}|{}", r.get::<String, _>(0), r.get::<String, _>(1)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
