//! What a bridge keeps per user besides registrations: the contacts a user
//! subscribed to, and small named values (`bridge_state`).

use sqlx::Row;

use super::{of_user, strings, Store, StoreError};

impl Store {
    pub async fn add_contact(
        &self,
        bridge: &str,
        user: &str,
        contact: &str,
    ) -> Result<(), StoreError> {
        let insert = of_user(
            "INSERT INTO contacts (bridge, user_jid, contact, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (bridge, user_jid, contact) DO NOTHING",
            bridge,
            user,
        )
        .bind(contact)
        .bind(super::now());
        self.write_for_user(user, insert).await
    }

    pub async fn remove_contact(
        &self,
        bridge: &str,
        user: &str,
        contact: &str,
    ) -> Result<(), StoreError> {
        of_user(
            "DELETE FROM contacts WHERE bridge = $1 AND user_jid = $2 AND contact = $3",
            bridge,
            user,
        )
        .bind(contact)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Contact JIDs `user` subscribed to on `bridge`.
    pub async fn contacts(&self, bridge: &str, user: &str) -> Result<Vec<String>, StoreError> {
        let rows = of_user(
            "SELECT contact FROM contacts WHERE bridge = $1 AND user_jid = $2 ORDER BY contact",
            bridge,
            user,
        )
        .fetch_all(&self.pool)
        .await?;
        strings(&rows)
    }

    /// Every user's contacts on `bridge`, as (user, contact) pairs.
    pub async fn all_contacts(&self, bridge: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT user_jid, contact FROM contacts WHERE bridge = $1")
            .bind(bridge)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub async fn state_get(
        &self,
        bridge: &str,
        user: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = of_user(
            "SELECT value FROM bridge_state WHERE bridge = $1 AND user_jid = $2 AND key = $3",
            bridge,
            user,
        )
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
        let upsert = of_user(
            "INSERT INTO bridge_state (bridge, user_jid, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (bridge, user_jid, key) DO UPDATE SET value = excluded.value",
            bridge,
            user,
        )
        .bind(key)
        .bind(value);
        self.write_for_user(user, upsert).await
    }

    pub async fn state_delete(
        &self,
        bridge: &str,
        user: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        of_user(
            "DELETE FROM bridge_state WHERE bridge = $1 AND user_jid = $2 AND key = $3",
            bridge,
            user,
        )
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every user's value under `key`.
    pub async fn state_all(
        &self,
        bridge: &str,
        key: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT user_jid, value FROM bridge_state WHERE bridge = $1 AND key = $2")
                .bind(bridge)
                .bind(key)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Every user's value under `key`, deleted as it is read. Read, then
    /// deleted: for keys nothing writes meanwhile (at start, or once the
    /// writer stopped).
    pub async fn state_take_all(
        &self,
        bridge: &str,
        key: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self.state_all(bridge, key).await?;
        sqlx::query("DELETE FROM bridge_state WHERE bridge = $1 AND key = $2")
            .bind(bridge)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(rows)
    }
}
