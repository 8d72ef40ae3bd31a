//! Files across the gateway (SPEC §8): what a contact sends is uploaded to
//! the user's server's HTTP upload service (XEP-0363) and given to the user
//! as an OOB link (XEP-0066); what a user sends as an OOB link is fetched,
//! within the host and size rules, for a backend that takes files (mail),
//! or carried as its URL (IRC).

mod fetch;
pub mod incoming;
pub mod outgoing;
pub mod upload;

use std::collections::HashSet;
use std::sync::Mutex;
use xmpp_parsers::jid::Jid;

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
    http: reqwest::Client,
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
        }
    }

    pub fn service(&self) -> Option<Service> {
        self.service
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_service(&self, service: Service) {
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

    fn allow_upload_host(&self, url: &str) {
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
    fn max_size(&self) -> u64 {
        let service = self.service().and_then(|s| s.max_size);
        service.map_or(self.config.max_attachment, |s| {
            s.min(self.config.max_attachment)
        })
    }
}

/// A size for people: `2.0 MB`, `340 KB`, `12 bytes`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{} KB", bytes / 1_000),
        _ => format!("{:.1} MB", bytes as f64 / 1_000_000.0),
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

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(12), "12 bytes");
        assert_eq!(human_size(340_000), "340 KB");
        assert_eq!(human_size(2_000_000), "2.0 MB");
    }
}
