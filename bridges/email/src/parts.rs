//! A big mail fetched a part at a time (SPEC §8: memory stays flat while a
//! file passes): its header and text parts whole, each attachment in
//! slices that are decoded and written to the store as they come. Small
//! mails, and mails whose attachments are not base64 or plain bytes, are
//! fetched whole.

use async_imap::imap_proto::{BodyStructure, ContentEncoding, MessageSection, SectionPath};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use ferry_bridge::{Address, File, FileContent, SessionStorage, Text};
use futures::StreamExt;

use crate::imap::Session;
use crate::inbound;

/// Mails up to this size (RFC822.SIZE) are fetched whole.
pub const WHOLE_UP_TO: u32 = 1024 * 1024;
/// An attachment comes in slices of this many encoded bytes.
const SLICE: u32 = 512 * 1024;

/// A leaf of a multipart mail: its section, whether it is text the user
/// reads, how it is encoded and how big it is (encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub path: Vec<u32>,
    pub text: bool,
    pub base64: bool,
    pub octets: u32,
}

/// How a big mail is fetched: the top multipart's boundary and its leaves;
/// `None` when it is to be fetched whole (not multipart, or an attachment
/// in an encoding not decoded a slice at a time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub boundary: String,
    pub leaves: Vec<Leaf>,
}

pub fn plan(structure: &BodyStructure<'_>) -> Option<Plan> {
    let BodyStructure::Multipart { common, bodies, .. } = structure else {
        return None;
    };
    let boundary = common
        .ty
        .params
        .iter()
        .flatten()
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))?
        .1
        .to_string();
    let mut leaves = Vec::new();
    walk(bodies, &mut Vec::new(), &mut leaves)?;
    Some(Plan { boundary, leaves })
}

fn walk(bodies: &[BodyStructure<'_>], prefix: &mut Vec<u32>, out: &mut Vec<Leaf>) -> Option<()> {
    for (i, body) in bodies.iter().enumerate() {
        prefix.push(i as u32 + 1);
        let (common, other) = match body {
            BodyStructure::Multipart { bodies, .. } => {
                walk(bodies, prefix, out)?;
                prefix.pop();
                continue;
            }
            BodyStructure::Text { common, other, .. } => (common, other),
            BodyStructure::Basic { common, other, .. }
            | BodyStructure::Message { common, other, .. } => (common, other),
        };
        let attached = common
            .disposition
            .as_ref()
            .is_some_and(|d| d.ty.eq_ignore_ascii_case("attachment"));
        let text = matches!(body, BodyStructure::Text { .. }) && !attached;
        let base64 = match other.transfer_encoding {
            ContentEncoding::Base64 => true,
            ContentEncoding::SevenBit | ContentEncoding::EightBit | ContentEncoding::Binary => {
                false
            }
            // Decoded whole by the parser: the mail is fetched whole.
            _ if !text => return None,
            _ => false,
        };
        out.push(Leaf {
            path: prefix.clone(),
            text,
            base64,
            octets: other.octets,
        });
        prefix.pop();
    }
    Some(())
}

fn section(path: &[u32]) -> String {
    let parts: Vec<String> = path.iter().map(u32::to_string).collect();
    parts.join(".")
}

/// One FETCH of `uid`, and what `take` makes of its answer; `None` when
/// the mail is gone.
pub async fn fetch_one<T>(
    session: &mut Session,
    uid: u32,
    query: &str,
    take: impl Fn(&async_imap::types::Fetch) -> T,
) -> Result<Option<T>, String> {
    let mut fetches = session
        .uid_fetch(uid.to_string(), query)
        .await
        .map_err(|e| e.to_string())?;
    let mut found = None;
    while let Some(fetch) = fetches.next().await {
        let fetch = fetch.map_err(|e| e.to_string())?;
        if fetch.uid == Some(uid) && found.is_none() {
            found = Some(take(&fetch));
        }
    }
    Ok(found)
}

/// The mail `uid`, fetched by `plan`: its sender and text, its attachments
/// in the store (over `max_file`: listed, not fetched). `None` when it has
/// no sender to answer to.
pub async fn fetch(
    session: &mut Session,
    storage: &dyn SessionStorage,
    uid: u32,
    plan: &Plan,
    max_file: u64,
) -> Result<Option<(Address, Text)>, String> {
    tracing::info!(
        uid,
        parts = plan.leaves.len(),
        "a big mail is fetched a part at a time"
    );
    let mime = |leaf: &Leaf| SectionPath::Part(leaf.path.clone(), Some(MessageSection::Mime));
    let body = |leaf: &Leaf| SectionPath::Part(leaf.path.clone(), None);
    let mut items = vec!["BODY.PEEK[HEADER]".to_owned()];
    for leaf in &plan.leaves {
        let s = section(&leaf.path);
        items.push(format!("BODY.PEEK[{s}.MIME]"));
        if leaf.text {
            items.push(format!("BODY.PEEK[{s}]"));
        }
    }
    let query = format!("({})", items.join(" "));
    let Some((header, parts)) = fetch_one(session, uid, &query, |f| {
        let header = f.header().unwrap_or_default().to_vec();
        let parts: Vec<(Vec<u8>, Vec<u8>)> = plan
            .leaves
            .iter()
            .map(|leaf| {
                let head = f.section(&mime(leaf)).unwrap_or_default().to_vec();
                let text = f.section(&body(leaf)).unwrap_or_default().to_vec();
                (head, text)
            })
            .collect();
        (header, parts)
    })
    .await?
    else {
        return Ok(None);
    };
    // The mail without its attachments, for the parser: the header, then
    // the text parts under the top boundary.
    let mut raw = header;
    let boundary = &plan.boundary;
    for (leaf, (head, text)) in plan.leaves.iter().zip(&parts) {
        if leaf.text {
            raw.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            raw.extend_from_slice(head);
            raw.extend_from_slice(text);
            raw.extend_from_slice(b"\r\n");
        }
    }
    raw.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let Some((from, mut text)) = inbound::parse(&raw) else {
        return Ok(None);
    };
    let attachments = plan
        .leaves
        .iter()
        .zip(&parts)
        .filter(|(leaf, _)| !leaf.text);
    for (leaf, (head, _)) in attachments.take(inbound::MAX_FILES.saturating_sub(text.files.len())) {
        let (name, content_type) = inbound::described(head);
        let encoded = u64::from(leaf.octets);
        let estimate = if leaf.base64 {
            encoded / 4 * 3
        } else {
            encoded
        };
        let (content, size) = if estimate > max_file {
            // The core lists it by name and size.
            (FileContent::Bytes(std::sync::Arc::from(&[][..])), estimate)
        } else {
            let (id, size) = store(session, storage, uid, leaf).await?;
            (FileContent::Stored(id), size)
        };
        text.files.push(File {
            name,
            content_type,
            size,
            content,
        });
    }
    Ok(Some((from, text)))
}

/// One attachment into the store, a slice at a time: its file id and size.
async fn store(
    session: &mut Session,
    storage: &dyn SessionStorage,
    uid: u32,
    leaf: &Leaf,
) -> Result<(i64, u64), String> {
    let id = storage.file_create().await.map_err(|e| e.to_string())?;
    let stored = slices(session, storage, uid, leaf, id).await;
    if stored.is_err() {
        let _ = storage.file_delete(id).await;
    }
    let size = stored?;
    storage
        .file_finish(id, size)
        .await
        .map_err(|e| e.to_string())?;
    Ok((id, size))
}

async fn slices(
    session: &mut Session,
    storage: &dyn SessionStorage,
    uid: u32,
    leaf: &Leaf,
    id: i64,
) -> Result<u64, String> {
    let s = section(&leaf.path);
    let path = SectionPath::Part(leaf.path.clone(), None);
    let mut decoder = Base64Lines::default();
    let (mut offset, mut size, mut seq) = (0u32, 0u64, 0i64);
    loop {
        let query = format!("BODY.PEEK[{s}]<{offset}.{SLICE}>");
        let slice = fetch_one(session, uid, &query, |f| {
            f.section(&path).unwrap_or_default().to_vec()
        })
        .await?
        .ok_or("the mail is gone")?;
        let decoded = match leaf.base64 {
            true => decoder.feed(&slice)?,
            false => slice.clone(),
        };
        if !decoded.is_empty() {
            storage
                .file_append(id, seq, &decoded)
                .await
                .map_err(|e| e.to_string())?;
            seq += 1;
            size += decoded.len() as u64;
        }
        offset += slice.len() as u32;
        if slice.len() < SLICE as usize {
            break;
        }
    }
    if leaf.base64 {
        let rest = decoder.finish()?;
        if !rest.is_empty() {
            storage
                .file_append(id, seq, &rest)
                .await
                .map_err(|e| e.to_string())?;
            size += rest.len() as u64;
        }
    }
    Ok(size)
}

/// Base64 decoded as it comes: line breaks and spaces skipped, characters
/// that do not fill a group of four kept for the next slice.
#[derive(Default)]
pub struct Base64Lines {
    rest: Vec<u8>,
}

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

impl Base64Lines {
    pub fn feed(&mut self, encoded: &[u8]) -> Result<Vec<u8>, String> {
        self.rest
            .extend(encoded.iter().filter(|b| !b.is_ascii_whitespace()));
        let whole = self.rest.len() / 4 * 4;
        // Padding ends the data: what a group holds after it is not data.
        let end = self.rest[..whole]
            .iter()
            .position(|b| *b == b'=')
            .map_or(whole, |at| at.div_ceil(4) * 4);
        let decoded = LENIENT
            .decode(&self.rest[..end.min(whole)])
            .map_err(|e| format!("an attachment's base64 is broken: {e}"))?;
        self.rest.drain(..end.min(whole));
        Ok(decoded)
    }

    pub fn finish(self) -> Result<Vec<u8>, String> {
        let rest: Vec<u8> = self.rest.into_iter().filter(|b| *b != b'=').collect();
        LENIENT
            .decode(&rest)
            .map_err(|e| format!("an attachment's base64 is broken: {e}"))
    }
}

#[cfg(test)]
mod tests;
