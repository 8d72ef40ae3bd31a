//! The lease row (SPEC §5, PostgreSQL only): taken when it has run out,
//! renewed by its holder, given up at shutdown; times are the database's
//! own clock, so the instances' clocks need not agree.

use sqlx::Row;

use super::{Store, StoreError};

/// The database's clock in milliseconds.
const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

impl Store {
    pub fn is_postgres(&self) -> bool {
        !self.sqlite
    }

    /// Takes the lease for `lease_ms` when nobody holds it; its new epoch.
    pub async fn lease_take(&self, holder: &str, lease_ms: i64) -> Result<Option<i64>, StoreError> {
        let sql = format!(
            "INSERT INTO lease (name, holder, epoch, expires_ms) \
             VALUES ('ferry', $1, 1, {NOW_MS} + $2) \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, \
             epoch = lease.epoch + 1, expires_ms = EXCLUDED.expires_ms \
             WHERE lease.expires_ms < {NOW_MS} \
             RETURNING epoch"
        );
        let row = sqlx::query(&sql)
            .bind(holder)
            .bind(lease_ms)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Extends the lease of `holder` in `epoch`; false when it is not
    /// theirs any more.
    pub async fn lease_renew(
        &self,
        holder: &str,
        epoch: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE lease SET expires_ms = {NOW_MS} + $3 \
             WHERE name = 'ferry' AND holder = $1 AND epoch = $2"
        );
        let done = sqlx::query(&sql)
            .bind(holder)
            .bind(epoch)
            .bind(lease_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up, so that a standby takes it at once.
    pub async fn lease_release(&self, holder: &str, epoch: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lease SET expires_ms = 0 WHERE name = 'ferry' AND holder = $1 AND epoch = $2",
        )
        .bind(holder)
        .bind(epoch)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// From now on, writes only the holder may make check that this
    /// process still holds the lease in `epoch`.
    pub fn fence(&self, holder: String, epoch: i64) {
        let _ = self.fence.set((holder, epoch));
    }

    /// In a transaction of such a write: refuses it when another process
    /// holds the lease now (this one was paused past its lease, say).
    pub(super) async fn fenced(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ) -> Result<(), StoreError> {
        let Some((holder, epoch)) = self.fence.get() else {
            return Ok(());
        };
        let held =
            sqlx::query("SELECT 1 FROM lease WHERE name = 'ferry' AND holder = $1 AND epoch = $2")
                .bind(holder.as_str())
                .bind(*epoch)
                .fetch_optional(&mut **tx)
                .await?;
        match held {
            Some(_) => Ok(()),
            None => Err(StoreError::Fenced),
        }
    }
}
