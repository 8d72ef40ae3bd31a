//! Downloads a file a user sent as a link into the store, streamed: never
//! more than a chunk of it in memory, never more than the size bound, and
//! only from hosts the rules allow.

use std::time::Duration;

use ferry_bridge::{File, FileContent};
use reqwest::Url;
use xmpp_parsers::jid::BareJid;

use crate::gateway::Gateway;
use crate::stanza_error::Condition;

/// Bytes written to the store at a time.
const CHUNK: usize = 256 * 1024;
/// However it trickles in, a download ends by then.
const WHOLE_DOWNLOAD: Duration = Duration::from_secs(600);

#[derive(Debug, PartialEq, Eq)]
pub enum FetchError {
    /// The URL is not one ferry fetches from.
    NotAllowed(String),
    /// Bigger than the bound, in bytes.
    TooBig(u64),
    /// The download failed or stalled.
    Failed(String),
}

impl FetchError {
    /// The error the user's message gets, with a text saying why.
    pub fn condition(&self) -> (Condition, String) {
        match self {
            FetchError::NotAllowed(why) => (Condition::NotAcceptable, why.clone()),
            FetchError::TooBig(max) => (
                Condition::PolicyViolation,
                format!("a file may have {max} bytes (max_attachment)"),
            ),
            FetchError::Failed(why) => (
                Condition::RemoteServerTimeout,
                format!("the file could not be fetched: {why}"),
            ),
        }
    }
}

/// Checks a link against the rules: http(s), on an allowed host.
pub fn allowed(gw: &Gateway, url: &str) -> Result<Url, FetchError> {
    let url = Url::parse(url).map_err(|e| FetchError::NotAllowed(format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        let text = "only http and https links are fetched".to_owned();
        return Err(FetchError::NotAllowed(text));
    }
    match url.host_str() {
        Some(host) if gw.files.may_fetch(host) => Ok(url),
        Some(host) => Err(FetchError::NotAllowed(format!(
            "{host} is not a host this gateway fetches from (fetch_hosts)"
        ))),
        None => Err(FetchError::NotAllowed("a link without a host".into())),
    }
}

/// Downloads `url` into the store as a file of `user`'s.
pub async fn fetch(gw: &Gateway, user: &BareJid, url: Url) -> Result<File, FetchError> {
    let name = file_name(&url);
    let failed = |e: reqwest::Error| FetchError::Failed(without_url(e));
    let response = gw.files.http.get(url).send().await.map_err(failed)?;
    if !response.status().is_success() {
        let status = response.status();
        return Err(FetchError::Failed(format!("the server answered {status}")));
    }
    let max = gw.files.max_size();
    if response.content_length().is_some_and(|n| n > max) {
        return Err(FetchError::TooBig(max));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| v.contains('/') && !v.contains(char::is_whitespace))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let (bridge, owner) = (gw.name(), user.to_string());
    let store_failed = |e: crate::store::StoreError| FetchError::Failed(format!("store: {e}"));
    let id = gw
        .store
        .file_create(bridge, &owner)
        .await
        .map_err(store_failed)?;
    let written = tokio::time::timeout(WHOLE_DOWNLOAD, save(gw, id, response, max)).await;
    let size = match written {
        Ok(Ok(size)) => size,
        Ok(Err(e)) => {
            let _ = gw.store.file_delete(bridge, &owner, id).await;
            return Err(e);
        }
        Err(_) => {
            let _ = gw.store.file_delete(bridge, &owner, id).await;
            return Err(FetchError::Failed("the download took too long".into()));
        }
    };
    Ok(File {
        name,
        content_type,
        size,
        content: FileContent::Stored(id),
    })
}

/// Streams a response into file `id`, a chunk at a time; its size.
async fn save(
    gw: &Gateway,
    id: i64,
    mut response: reqwest::Response,
    max: u64,
) -> Result<u64, FetchError> {
    let store_failed = |e: crate::store::StoreError| FetchError::Failed(format!("store: {e}"));
    let mut buffer = Vec::with_capacity(CHUNK);
    let (mut seq, mut size) = (0i64, 0u64);
    loop {
        // reqwest's read timeout covers each read: a stall ends here.
        let piece = response
            .chunk()
            .await
            .map_err(|e| FetchError::Failed(without_url(e)))?;
        let last = piece.is_none();
        if let Some(piece) = piece {
            size += piece.len() as u64;
            if size > max {
                return Err(FetchError::TooBig(max));
            }
            buffer.extend_from_slice(&piece);
        }
        if buffer.len() >= CHUNK || (last && (!buffer.is_empty() || seq == 0)) {
            gw.store
                .file_append(id, seq, &buffer)
                .await
                .map_err(store_failed)?;
            seq += 1;
            buffer.clear();
        }
        if last {
            break;
        }
    }
    gw.store.file_finish(id, size).await.map_err(store_failed)?;
    Ok(size)
}

/// reqwest's errors name the URL, which may hold a secret path.
fn without_url(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "the other side stopped answering".to_owned();
    }
    e.without_url().to_string()
}

/// The file's name: the URL's last path segment, decoded, without
/// anything that would make it a path or break a header.
pub fn file_name(url: &Url) -> String {
    let segment = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    let name: String = decoded
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '"'))
        .take(200)
        .collect();
    let name = name.trim().trim_start_matches('.').to_owned();
    if name.is_empty() {
        "file".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_urls() {
        let name = |u: &str| file_name(&Url::parse(u).unwrap());
        assert_eq!(name("https://h/file_share/abc/report.pdf"), "report.pdf");
        assert_eq!(name("https://h/a/my%20photo.png?x=1"), "my photo.png");
        assert_eq!(name("https://h/"), "file");
        assert_eq!(name("https://h/a/%2e%2e%2fetc%2fpasswd"), "etcpasswd");
        assert_eq!(name("https://h/a/x%0d%0aBcc%3a%20e"), "xBcc: e");
    }
}
