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
    /// theirs any more, or was given up (a renewal racing the release at
    /// shutdown must not take it back).
    pub async fn lease_renew(
        &self,
        holder: &str,
        epoch: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE lease SET expires_ms = {NOW_MS} + $3 \
             WHERE name = 'ferry' AND holder = $1 AND epoch = $2 AND expires_ms > 0"
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

#[cfg(test)]
mod tests {
    use crate::config::StoreConfig;
    use crate::store::tests::postgres::Postgres;
    use crate::store::{Store, StoreError};

    #[tokio::test]
    async fn one_holder_at_a_time_and_late_writes_refused() {
        let pg = Postgres::start();
        let mut config = StoreConfig::for_url(pg.url());
        config.key = Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
        let a = Store::open(&config).await.unwrap();
        let b = Store::open(&config).await.unwrap();
        assert!(a.is_postgres());
        assert_eq!(a.lease_take("a", 60_000).await.unwrap(), Some(1));
        assert_eq!(b.lease_take("b", 60_000).await.unwrap(), None, "held");
        assert!(a.lease_renew("a", 1, 60_000).await.unwrap());
        a.fence("a".into(), 1);
        assert!(a
            .outbox_push("mail.gw", "u@localhost", "x", 10)
            .await
            .is_ok());
        a.lease_release("a", 1).await.unwrap();
        assert!(
            !a.lease_renew("a", 1, 60_000).await.unwrap(),
            "released stays released"
        );
        assert_eq!(b.lease_take("b", 60_000).await.unwrap(), Some(2));
        assert!(
            !a.lease_renew("a", 1, 60_000).await.unwrap(),
            "not a's any more"
        );
        let late = a.outbox_push("mail.gw", "u@localhost", "y", 10).await;
        assert!(matches!(late, Err(StoreError::Fenced)), "{late:?}");
        // A lease that ran out is taken without a release.
        assert!(b.lease_renew("b", 2, 0).await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert_eq!(a.lease_take("a", 60_000).await.unwrap(), Some(3));
    }
}
