//! Files a message carries (SPEC §8).

use std::sync::Arc;

/// A file travelling with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its name (a mail attachment's filename, a URL's last segment).
    pub name: String,
    /// Its MIME type, `type/subtype`.
    pub content_type: String,
    pub size: u64,
    pub content: FileContent,
}

/// Where a file's bytes are.
#[derive(Clone, PartialEq, Eq)]
pub enum FileContent {
    /// In memory, as the foreign side handed them over (a mail's part):
    /// the core uploads them for the user.
    Bytes(Arc<[u8]>),
    /// In the core's store under this id. A file the user sent: the
    /// backend reads it with `SessionStorage::file_chunk` and lets it go
    /// with `file_delete` once it is handed on or given up. A file from
    /// the foreign side (written with `file_create`…): the core carries it
    /// a chunk at a time and deletes it.
    Stored(i64),
}

impl std::fmt::Debug for FileContent {
    // The bytes themselves would flood a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileContent::Bytes(data) => write!(f, "Bytes({} bytes)", data.len()),
            FileContent::Stored(id) => write!(f, "Stored({id})"),
        }
    }
}
