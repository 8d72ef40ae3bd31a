//! The storage handle a session gets: the core's store, scoped to one
//! (bridge, user) so that no backend can read another user's rows.

use std::sync::Arc;

use ferry_bridge::{BoxFuture, OutboxItem, SessionStorage, StorageError};

use crate::store::{Store, StoreError};

pub struct UserStorage {
    pub store: Arc<Store>,
    pub bridge: String,
    pub user: String,
    pub outbox_limit: usize,
}

fn failed(e: StoreError) -> StorageError {
    tracing::error!(error = %e, "session storage failed");
    StorageError::Failed(e.to_string())
}

impl SessionStorage for UserStorage {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, StorageError>> {
        Box::pin(async move {
            self.store
                .state_get(&self.bridge, &self.user, key)
                .await
                .map_err(failed)
        })
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.store
                .state_put(&self.bridge, &self.user, key, value)
                .await
                .map_err(failed)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.store
                .state_delete(&self.bridge, &self.user, key)
                .await
                .map_err(failed)
        })
    }

    fn outbox_push<'a>(&'a self, payload: &'a str) -> BoxFuture<'a, Result<i64, StorageError>> {
        Box::pin(async move {
            self.store
                .outbox_push(&self.bridge, &self.user, payload, self.outbox_limit)
                .await
                .map_err(failed)?
                .ok_or(StorageError::OutboxFull)
        })
    }

    fn outbox_due(&self, now: i64) -> BoxFuture<'_, Result<Vec<OutboxItem>, StorageError>> {
        Box::pin(async move {
            let rows = self
                .store
                .outbox_due(&self.bridge, &self.user, now)
                .await
                .map_err(failed)?;
            Ok(rows
                .into_iter()
                .map(|(id, payload, attempts)| OutboxItem {
                    id,
                    payload,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
                .collect())
        })
    }

    fn outbox_done(&self, id: i64) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.store
                .outbox_done(&self.bridge, &self.user, id)
                .await
                .map_err(failed)
        })
    }

    fn outbox_retry(&self, id: i64, not_before: i64) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.store
                .outbox_retry(&self.bridge, &self.user, id, not_before)
                .await
                .map_err(failed)
        })
    }

    fn file_create(&self) -> BoxFuture<'_, Result<i64, StorageError>> {
        Box::pin(async move {
            self.store
                .file_create(&self.bridge, &self.user)
                .await
                .map_err(failed)
        })
    }

    fn file_append<'a>(
        &'a self,
        id: i64,
        seq: i64,
        data: &'a [u8],
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.store
                .file_append_owned(&self.bridge, &self.user, id, seq, data)
                .await
                .map_err(failed)
        })
    }

    fn file_finish(&self, id: i64, size: u64) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.store
                .file_finish_owned(&self.bridge, &self.user, id, size)
                .await
                .map_err(failed)
        })
    }

    fn file_size(&self, id: i64) -> BoxFuture<'_, Result<Option<u64>, StorageError>> {
        Box::pin(async move {
            self.store
                .file_size(&self.bridge, &self.user, id)
                .await
                .map_err(failed)
        })
    }

    fn file_chunk(
        &self,
        id: i64,
        seq: i64,
    ) -> BoxFuture<'_, Result<Option<Vec<u8>>, StorageError>> {
        Box::pin(async move {
            self.store
                .file_chunk(&self.bridge, &self.user, id, seq)
                .await
                .map_err(failed)
        })
    }

    fn file_delete(&self, id: i64) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.store
                .file_delete(&self.bridge, &self.user, id)
                .await
                .map_err(failed)
        })
    }
}
