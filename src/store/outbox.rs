//! The outbox: what a user sent that a bridge has still to hand on,
//! committed before it is acknowledged, worked oldest first.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Row;

use super::{of_user, strings, Store, StoreError};

impl Store {
    /// Users with items in the outbox.
    pub async fn outbox_users(&self, bridge: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT DISTINCT user_jid FROM outbox WHERE bridge = $1")
            .bind(bridge)
            .fetch_all(&self.pool)
            .await?;
        strings(&rows)
    }

    /// Items waiting over all bridges and users, and when the oldest was
    /// committed (unix microseconds).
    pub async fn outbox_stats(&self) -> Result<(i64, Option<i64>), StoreError> {
        let row = sqlx::query("SELECT COUNT(*), MIN(created_us) FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
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
        self.fenced(&mut tx).await?;
        Self::ensure_user(&mut tx, user).await?;
        let queued: i64 = of_user(
            "SELECT COUNT(*) FROM outbox WHERE bridge = $1 AND user_jid = $2",
            bridge,
            user,
        )
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
        of_user(
            "INSERT INTO outbox (bridge, user_jid, id, payload, attempts, not_before, created_us) \
             VALUES ($1, $2, $3, $4, 0, 0, $5)",
            bridge,
            user,
        )
        .bind(id)
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
        let rows = of_user(
            "SELECT id, payload, attempts FROM outbox \
             WHERE bridge = $1 AND user_jid = $2 AND not_before <= $3 ORDER BY created_us",
            bridge,
            user,
        )
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
        of_user(
            "DELETE FROM outbox WHERE bridge = $1 AND user_jid = $2 AND id = $3",
            bridge,
            user,
        )
        .bind(id)
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
        of_user(
            "UPDATE outbox SET attempts = attempts + 1, not_before = $3 \
             WHERE bridge = $1 AND user_jid = $2 AND id = $4",
            bridge,
            user,
        )
        .bind(not_before)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
