//! The two gateways under test: their processes and their addresses.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::harness::{self, Ferry, Prosody};

/// One gateway attached to the bench's Prosody.
pub struct Gateway {
    pub name: &'static str,
    pub domain: &'static str,
    pub pid: u32,
    /// Direct chat needs a registration (ferry), or only a connection to
    /// the server, which joining a channel opens (biboumi).
    pub chat_needs_registration: bool,
}

impl Gateway {
    /// The room JID of an IRC channel on the bench's ngircd.
    pub fn room(&self, channel: &str) -> String {
        self.room_on(channel, "127.0.0.1")
    }

    /// The room JID of an IRC channel on the server at `host`.
    pub fn room_on(&self, channel: &str, host: &str) -> String {
        format!("{channel}%{host}@{}", self.domain)
    }

    /// The JID of the bench's ngircd itself.
    pub fn network(&self) -> String {
        format!("127.0.0.1@{}", self.domain)
    }

    /// The JID of an IRC user on the bench's ngircd, as a direct contact.
    pub fn contact(&self, nick: &str) -> String {
        format!("{nick}%127.0.0.1@{}", self.domain)
    }
}

pub fn ferry(ferry: &Ferry) -> Gateway {
    Gateway {
        name: "ferry",
        domain: harness::IRC,
        pid: ferry.pid().expect("ferry runs"),
        chat_needs_registration: true,
    }
}

/// ferry's config for the bench: the bench's ngircds (`host:port`, the
/// first the default), the load component's users allowed, and the IRC
/// throttle `throttle` (burst, lines a second), or none.
pub fn ferry_config(
    dir: &Path,
    prosody: &Prosody,
    networks: &[String],
    throttle: Option<(u32, f64)>,
) -> String {
    let config = harness::minimal_config(dir, prosody);
    let (burst, rate) = throttle.unwrap_or((10, 0.0));
    for key in [
        "networks = [\"127.0.0.1:6667\"]",
        "127.0.0.1:6667",
        "allowed_domains = [\"localhost\"]",
        "# throttle_burst = 10",
        "# throttle_rate = 2.0",
        "# stanza_rate = 10.0",
        "# stanza_burst = 50",
    ] {
        assert!(config.contains(key), "deploy/ferry.toml lost `{key}`");
    }
    let all: Vec<String> = networks.iter().map(|n| format!("\"{n}\"")).collect();
    config
        .replace(
            "networks = [\"127.0.0.1:6667\"]",
            &format!("networks = [{}]", all.join(", ")),
        )
        .replace("127.0.0.1:6667", &networks[0])
        .replace(
            "allowed_domains = [\"localhost\"]",
            &format!(
                "allowed_domains = [\"localhost\", \"{}\"]",
                crate::load::DOMAIN
            ),
        )
        .replace(
            "# throttle_burst = 10",
            &format!("throttle_burst = {burst}"),
        )
        .replace("# throttle_rate = 2.0", &format!("throttle_rate = {rate}"))
        // biboumi has no per-user stanza rate: the load users send as fast
        // as the passes ask, through both gateways alike.
        .replace("# stanza_rate = 10.0", "stanza_rate = 1000000.0")
        .replace("# stanza_burst = 50", "stanza_burst = 1000000")
}

/// biboumi, stopped (and reaped) when dropped, panics included.
pub struct Biboumi(Child);

impl Biboumi {
    pub fn start(dir: &Path, prosody: &Prosody) -> Biboumi {
        let config = format!(
            "hostname=biboumi.localhost\npassword={}\nxmpp_server_ip=127.0.0.1\nport={}\n\
             db_name={}/biboumi.sqlite\nidentd_port=0\nlog_level=2\nrealname_customization=true\n",
            harness::MAIL_SECRET,
            prosody.component,
            dir.display()
        );
        let path = dir.join("biboumi.cfg");
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(dir.join("biboumi.log")).unwrap();
        let child = Command::new("biboumi")
            .arg(&path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("biboumi (Debian package biboumi) must be installed");
        Biboumi(child)
    }

    pub fn gateway(&self) -> Gateway {
        Gateway {
            name: "biboumi",
            domain: "biboumi.localhost",
            pid: self.0.id(),
            chat_needs_registration: false,
        }
    }
}

impl Drop for Biboumi {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
