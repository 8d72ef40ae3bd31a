//! What the file services keep between requests, per bridge: the upload
//! service and the hosts that may be fetched from (SPEC §8), and the file
//! transfers under way. The work on it is in `files`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferry_bridge::Address;
use xmpp_parsers::jid::Jid;

use crate::stanza_error::Condition;

pub use crate::config::FilesConfig;

/// An upload service and the largest file it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub jid: Jid,
    pub max_size: Option<u64>,
}

pub struct Files {
    pub config: FilesConfig,
    service: Mutex<Option<Service>>,
    /// Hosts of the upload service's slot URLs, allowed like `fetch_hosts`.
    upload_hosts: Mutex<HashSet<String>>,
    pub http: reqwest::Client,
    /// Files users' clients are sending by XEP-0096.
    pub transfers: Transfers,
}

impl Files {
    pub fn new(config: FilesConfig) -> Files {
        let http = reqwest::Client::builder()
            // A redirect could lead anywhere: only the URL given is fetched.
            .redirect(reqwest::redirect::Policy::none())
            // The host rules apply to the host itself, never to a proxy.
            .no_proxy()
            .connect_timeout(config.timeout)
            .read_timeout(config.timeout)
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let service = config.upload.clone().map(|jid| Service {
            jid,
            max_size: None,
        });
        Files {
            config,
            service: Mutex::new(service),
            upload_hosts: Mutex::default(),
            http,
            transfers: Transfers::default(),
        }
    }

    pub fn service(&self) -> Option<Service> {
        self.service
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_service(&self, service: Service) {
        *self.service.lock().unwrap_or_else(|e| e.into_inner()) = Some(service);
    }

    /// Whether a URL on `host` may be fetched on a user's behalf: only
    /// hosts the admin named, or the upload service's (SPEC §6, §8).
    pub fn may_fetch(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.config
            .fetch_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
            || self
                .upload_hosts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&host.to_ascii_lowercase())
    }

    pub fn allow_upload_host(&self, url: &str) {
        if let Some(host) = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        {
            self.upload_hosts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(host);
        }
    }

    /// The largest file carried: the config's bound, lowered to the upload
    /// service's where it says one.
    pub fn max_size(&self) -> u64 {
        let service = self.service().and_then(|s| s.max_size);
        service.map_or(self.config.max_attachment, |s| {
            s.min(self.config.max_attachment)
        })
    }
}

/// Transfers one user may have going at once.
pub const PER_USER: usize = 4;
/// A transfer with no block for this long is abandoned.
pub const IDLE: Duration = Duration::from_secs(300);
/// Bytes kept before they are written to the store.
pub const CHUNK: usize = 256 * 1024;

/// XEP-0047's namespace: blocks of it pass the stanza rate.
pub const NS_IBB: &str = "http://jabber.org/protocol/ibb";

/// Why a transfer request is refused: the condition and a text.
pub type Refusal = (Condition, String);

pub fn refusal(condition: Condition, text: &str) -> Refusal {
    (condition, text.to_owned())
}

pub struct Transfer {
    pub contact: Address,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// The store's file, once the bytestream is open.
    pub file: Option<i64>,
    pub next_seq: u16,
    pub buffer: Vec<u8>,
    pub chunks: i64,
    pub received: u64,
    pub touched: Instant,
}

/// Transfers under way, by (sender's full JID, stream id).
#[derive(Default)]
pub struct Transfers {
    pub open: Mutex<HashMap<(Jid, String), Transfer>>,
}

impl Transfers {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Jid, String), Transfer>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `iq` is a block of a bytestream `from` opened: blocks are
    /// acknowledged one by one and bounded by the offer's size, so they
    /// pass the stanza rate (a file would crawl at 10 blocks a second).
    pub fn carries(&self, from: &Jid, iq: &xmpp_parsers::iq::Iq) -> bool {
        let xmpp_parsers::iq::Iq::Set { payload, .. } = iq else {
            return false;
        };
        if !payload.is("data", NS_IBB) {
            return false;
        }
        let Some(sid) = payload.attr("sid") else {
            return false;
        };
        self.lock()
            .get(&(from.clone(), sid.to_owned()))
            .is_some_and(|t| t.file.is_some())
    }

    /// Adds a block to its transfer: the file, the chunk number and the
    /// chunk when one is full.
    pub fn take_block(
        &self,
        key: &(Jid, String),
        data: &[u8],
        seq: u16,
    ) -> Result<(i64, i64, Option<Vec<u8>>), Refusal> {
        let mut open = self.lock();
        let t = open.get_mut(key).filter(|t| t.file.is_some());
        let t = t.ok_or_else(|| refusal(Condition::ItemNotFound, "no such stream"))?;
        if seq != t.next_seq {
            return Err(refusal(
                Condition::UnexpectedRequest,
                "a block out of order",
            ));
        }
        t.received += data.len() as u64;
        if t.received > t.size {
            return Err(refusal(Condition::NotAcceptable, "more bytes than offered"));
        }
        t.next_seq = t.next_seq.wrapping_add(1);
        t.touched = Instant::now();
        t.buffer.extend_from_slice(data);
        let full = (t.buffer.len() >= CHUNK).then(|| std::mem::take(&mut t.buffer));
        t.chunks += i64::from(full.is_some());
        Ok((t.file.unwrap_or_default(), t.chunks - 1, full))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn files(hosts: &[&str]) -> Files {
        Files::new(FilesConfig {
            upload: None,
            max_attachment: 100,
            fetch_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            timeout: Duration::from_secs(1),
        })
    }

    #[test]
    fn only_named_hosts_are_fetched() {
        let f = files(&["files.example.org"]);
        assert!(f.may_fetch("FILES.example.org"));
        assert!(f.may_fetch("files.example.org."));
        assert!(!f.may_fetch("example.org"));
        assert!(!f.may_fetch("127.0.0.1"));
        f.allow_upload_host("https://Upload.example.org:5281/file_share/x/a.png");
        assert!(f.may_fetch("upload.example.org"));
    }

    #[test]
    fn the_service_may_lower_the_bound() {
        let f = files(&[]);
        assert_eq!(f.max_size(), 100);
        f.set_service(Service {
            jid: Jid::new("upload.example.org").unwrap(),
            max_size: Some(50),
        });
        assert_eq!(f.max_size(), 50);
    }
}
