//! Foreign identities: one registration per (bridge, user, scope), its
//! secrets sealed with the row's own key as associated data.

use std::collections::BTreeMap;

use ferry_bridge::{Registration, Secret};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now, of_user, strings, Store, StoreError};

/// What a sealed secret is bound to: moving it to another row fails.
fn binding(bridge: &str, user: &str, scope: &str) -> String {
    format!("{bridge}\n{user}\n{scope}")
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

const COUNT: &str = "SELECT COUNT(*) FROM registrations WHERE bridge = $1 AND user_jid = $2";

impl Store {
    /// Stores a registration; returns true when it is the user's first on
    /// this bridge (any scope), which starts the XEP-0100 dance.
    pub async fn save_registration(
        &self,
        bridge: &str,
        user: &str,
        scope: &str,
        registration: &Registration,
    ) -> Result<bool, StoreError> {
        let fields = serde_json::to_string(&registration.fields).map_err(corrupt)?;
        let secrets: BTreeMap<&str, &str> = registration
            .secrets
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        let secrets = serde_json::to_vec(&secrets).map_err(corrupt)?;
        let sealed = self.cipher.seal(&secrets, &binding(bridge, user, scope));
        let mut tx = self.pool.begin().await?;
        Self::ensure_user(&mut tx, user).await?;
        let existing: i64 = of_user(COUNT, bridge, user)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        of_user(
            "INSERT INTO registrations (bridge, user_jid, scope, fields, secrets, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (bridge, user_jid, scope) DO UPDATE \
             SET fields = excluded.fields, secrets = excluded.secrets, updated_at = excluded.updated_at",
            bridge,
            user,
        )
        .bind(scope)
        .bind(fields)
        .bind(sealed)
        .bind(now())
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
        let fields: BTreeMap<String, String> = serde_json::from_str(&fields).map_err(corrupt)?;
        let plain = self.cipher.open(&sealed, &binding(bridge, user, &scope))?;
        let secrets: BTreeMap<String, String> = serde_json::from_slice(&plain).map_err(corrupt)?;
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
        let row = of_user(
            "SELECT scope, fields, secrets FROM registrations \
             WHERE bridge = $1 AND user_jid = $2 AND scope = $3",
            bridge,
            user,
        )
        .bind(scope)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.decode_registration(bridge, user, &row))
            .transpose()
    }

    /// Whether `user` holds any identity on `bridge`.
    pub async fn is_registered(&self, bridge: &str, user: &str) -> Result<bool, StoreError> {
        let count: i64 = of_user(COUNT, bridge, user)
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
        let rows = of_user(
            "SELECT scope, fields, secrets FROM registrations \
             WHERE bridge = $1 AND user_jid = $2 ORDER BY scope",
            bridge,
            user,
        )
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
        let removed = of_user(
            "DELETE FROM registrations WHERE bridge = $1 AND user_jid = $2",
            bridge,
            user,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.archive_remove_user(&mut tx, bridge, user).await?;
        Self::files_remove_user(&mut tx, bridge, user).await?;
        for table in ["contacts", "bridge_state", "outbox"] {
            let sql = format!("DELETE FROM {table} WHERE bridge = $1 AND user_jid = $2");
            of_user(&sql, bridge, user).execute(&mut *tx).await?;
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
        strings(&rows)
    }
}
