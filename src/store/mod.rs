//! The store: sqlx `Any` over SQLite (default) or PostgreSQL, one portable
//! set of migrations, foreign passwords encrypted at rest.

mod archive;
mod crypto;
mod files;
mod lease;
mod outbox;
mod registrations;
mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

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
    /// A write only the lease holder may make, by a process that no
    /// longer holds it.
    #[error("this process no longer holds the lease")]
    Fenced,
    /// Another ferry process has the SQLite database open.
    #[error("{0}")]
    InUse(String),
}

pub struct Store {
    pool: AnyPool,
    cipher: Cipher,
    sqlite: bool,
    /// Archive numbers by (bridge, user, room): asked for at every row.
    room_ids: std::sync::Mutex<HashMap<archive::ArchiveKey, i64>>,
    /// The lease this process holds (PostgreSQL), once it holds it.
    fence: std::sync::OnceLock<(String, i64)>,
    /// The SQLite database's lock file, held while the store is open.
    _lock: Option<std::fs::File>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

type Statement<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A statement on one user's rows of a bridge: `$1` is the bridge, `$2`
/// the user; the caller binds the rest from `$3`.
fn of_user<'q>(sql: &'q str, bridge: &'q str, user: &'q str) -> Statement<'q> {
    sqlx::query(sql).bind(bridge).bind(user)
}

/// A statement on one room's archive of a user: `$1` bridge, `$2` user,
/// `$3` room; the caller binds the rest from `$4`.
fn of_room<'q>(sql: &'q str, (bridge, user, room): (&'q str, &'q str, &'q str)) -> Statement<'q> {
    of_user(sql, bridge, user).bind(room)
}

/// Deletes a user's rows of `parent` on a bridge, and the rows of `child`
/// whose `key` names one of them, in `tx` (the user's removal).
async fn remove_with_children(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    (bridge, user): (&str, &str),
    parent: &str,
    (child, key): (&str, &str),
) -> Result<(), StoreError> {
    let owned = "bridge = $1 AND user_jid = $2";
    let children =
        format!("DELETE FROM {child} WHERE {key} IN (SELECT id FROM {parent} WHERE {owned})");
    of_user(&children, bridge, user).execute(&mut **tx).await?;
    let parents = format!("DELETE FROM {parent} WHERE {owned}");
    of_user(&parents, bridge, user).execute(&mut **tx).await?;
    Ok(())
}

/// The first column of every row, as text.
fn strings(rows: &[AnyRow]) -> Result<Vec<String>, StoreError> {
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Takes `DB.lock` beside a SQLite database for this process, or says
/// that another holds it.
fn lock_file(db: &std::path::Path) -> Result<std::fs::File, StoreError> {
    let mut path = db.as_os_str().to_owned();
    path.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::InUse(format!("cannot open {}: {e}", path.to_string_lossy())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse(format!(
            "the database {} is in use by another ferry process (one process per SQLite \
             database; for hot standby use PostgreSQL)",
            db.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::InUse(format!(
            "cannot lock {}: {e}",
            path.to_string_lossy()
        ))),
    }
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
        // One process per SQLite database: a second would answer the same
        // users on the same links (SPEC §5).
        let lock = sqlite_path(&config.url)
            .map(|db| lock_file(&db))
            .transpose()?;
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
            fence: std::sync::OnceLock::new(),
            _lock: lock,
        })
    }

    fn lock_room_ids(&self) -> std::sync::MutexGuard<'_, HashMap<archive::ArchiveKey, i64>> {
        self.room_ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes for a user who may be new: their `users` row comes first,
    /// in the same transaction.
    async fn write_for_user(&self, user: &str, write: Statement<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_user(&mut tx, user).await?;
        write.execute(&mut *tx).await?;
        tx.commit().await?;
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
