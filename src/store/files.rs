//! Files a user sent, kept until their backend has handed them on (SPEC
//! §8): written chunk by chunk as they are downloaded, read back whole by
//! the backend that sends them, each scoped to its owner.

use sqlx::Row;

use super::{now, of_user, remove_with_children, Store, StoreError};

/// Files not completed by then were cut off by a crash mid-download.
const INCOMPLETE_SECONDS: i64 = 3600;
/// A completed file no outbox item took (a crash between the download and
/// the message's commit) is dropped after this long.
const ORPHAN_SECONDS: i64 = 30 * 24 * 3600;

impl Store {
    /// Starts a file for `user`; its chunks follow with `file_append`.
    pub async fn file_create(&self, bridge: &str, user: &str) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_user(&mut tx, user).await?;
        let id = (rand::random::<u64>() >> 1) as i64;
        of_user(
            "INSERT INTO files (bridge, user_jid, id, size, complete, created) \
             VALUES ($1, $2, $3, 0, 0, $4)",
            bridge,
            user,
        )
        .bind(id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Adds the chunk numbered `seq` (from 0) to a file being written.
    pub async fn file_append(&self, id: i64, seq: i64, data: &[u8]) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO file_chunks (file_id, seq, data) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(seq)
            .bind(data.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `file_append` for a backend: only to a file of this user's.
    pub async fn file_append_owned(
        &self,
        bridge: &str,
        user: &str,
        id: i64,
        seq: i64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        self.file_owned(bridge, user, id).await?;
        self.file_append(id, seq, data).await
    }

    /// `file_finish` for a backend: only a file of this user's.
    pub async fn file_finish_owned(
        &self,
        bridge: &str,
        user: &str,
        id: i64,
        size: u64,
    ) -> Result<(), StoreError> {
        self.file_owned(bridge, user, id).await?;
        self.file_finish(id, size).await
    }

    async fn file_owned(&self, bridge: &str, user: &str, id: i64) -> Result<(), StoreError> {
        of_user(
            "SELECT id FROM files WHERE bridge = $1 AND user_jid = $2 AND id = $3",
            bridge,
            user,
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|_| ())
        .ok_or_else(|| StoreError::Corrupt(format!("file {id} is not this user's")))
    }

    /// Chunk `seq` of a whole file of `user`'s; `None` past the last.
    pub async fn file_chunk(
        &self,
        bridge: &str,
        user: &str,
        id: i64,
        seq: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = of_user(
            "SELECT c.data FROM file_chunks c JOIN files f ON c.file_id = f.id \
             WHERE f.bridge = $1 AND f.user_jid = $2 AND f.id = $3 AND f.complete = 1 \
             AND c.seq = $4",
            bridge,
            user,
        )
        .bind(id)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Marks a file whole, `size` bytes long.
    pub async fn file_finish(&self, id: i64, size: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE files SET size = $1, complete = 1 WHERE id = $2")
            .bind(size as i64)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The size of a whole file of `user`'s; `None` when it is not
    /// theirs, not whole, or gone. Its bytes are read a chunk at a time
    /// (`file_chunk`): a file is never whole in memory.
    pub async fn file_size(
        &self,
        bridge: &str,
        user: &str,
        id: i64,
    ) -> Result<Option<u64>, StoreError> {
        let row = of_user(
            "SELECT size FROM files WHERE bridge = $1 AND user_jid = $2 AND id = $3 \
             AND complete = 1",
            bridge,
            user,
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .map(|size| size.max(0) as u64))
    }

    /// Deletes a file of `user`'s (nothing when it is not theirs).
    pub async fn file_delete(&self, bridge: &str, user: &str, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let owned = of_user(
            "SELECT id FROM files WHERE bridge = $1 AND user_jid = $2 AND id = $3",
            bridge,
            user,
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if owned.is_some() {
            Self::file_drop(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user's files (in the transaction that removes them).
    pub(super) async fn files_remove_user(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        bridge: &str,
        user: &str,
    ) -> Result<(), StoreError> {
        remove_with_children(tx, (bridge, user), "files", ("file_chunks", "file_id")).await?;
        Ok(())
    }

    async fn file_drop(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM file_chunks WHERE file_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM files WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Drops what a crash left: downloads cut off, and whole files no
    /// outbox item took for a month. Returns how many went.
    pub async fn files_sweep(&self) -> Result<u64, StoreError> {
        let now = now();
        let ids: Vec<i64> = sqlx::query(
            "SELECT id FROM files WHERE (complete = 0 AND created < $1) OR created < $2",
        )
        .bind(now - INCOMPLETE_SECONDS)
        .bind(now - ORPHAN_SECONDS)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        let mut tx = self.pool.begin().await?;
        for id in &ids {
            Self::file_drop(&mut tx, *id).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }
}
