//! End-to-end harness: real Prosody and the real ferry binary in a temp
//! dir on free loopback ports, driven by real XMPP clients.
#![allow(dead_code)] // each test binary uses a different part of it

pub mod client;
pub mod ejabberd;
pub mod files;
pub mod inspircd;
pub mod ircd;
pub mod mail;
pub mod ports;
pub mod postgres;
pub mod rooms;
pub mod stanzas;
pub mod xmpp;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const IRC: &str = "irc.localhost";
pub const MAIL: &str = "mail.localhost";
pub const IRC_SECRET: &str = "irc-secret";
pub const MAIL_SECRET: &str = "mail-secret";

pub use ports::free_port;

pub fn wait_port(port: u16, what: &str, log: &Path) {
    wait_port_on("127.0.0.1", port, what, log)
}

pub fn wait_port_on(host: &str, port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect((host, port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let tail = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{what} did not listen on {port}; log:\n{tail}");
}

/// Kills the whole process group of a child started with `process_group(0)`.
pub fn kill_group(child: &mut Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{}", child.id())])
        .status();
}

pub struct Prosody {
    pub dir: PathBuf,
    pub c2s: u16,
    pub component: u16,
    /// Whether mod_privilege (XEP-0356) lets the bridges write rosters.
    privileged: bool,
    child: Option<Child>,
}

impl Prosody {
    /// Starts Prosody with hosts `localhost` and `other.example` and the
    /// components `irc.localhost` and `mail.localhost`.
    pub fn start(dir: &Path) -> Prosody {
        Prosody::start_with(dir, false)
    }

    /// Like `start`; with `privileged`, mod_privilege (Debian package
    /// prosody-modules) grants `irc.localhost` and `mail.localhost` the
    /// roster of `localhost`'s users (not of `other.example`'s).
    pub fn start_with(dir: &Path, privileged: bool) -> Prosody {
        let dir = dir.join("prosody");
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let mut p = Prosody {
            c2s: free_port(),
            component: free_port(),
            privileged,
            dir,
            child: None,
        };
        p.write_config();
        p.launch();
        p
    }

    fn write_config(&self) {
        let d = self.dir.display();
        // The module runs on the user's host, which holds the grants, and
        // on each component, whose link-up makes the host advertise them.
        let (module, grants, on_component) = if self.privileged {
            (
                r#" "privilege";"#,
                r#"
    privileged_entities = {
        ["irc.localhost"] = { roster = "both"; message = "outgoing" };
        ["mail.localhost"] = { roster = "both"; message = "outgoing" };
    }"#,
                r#"
    modules_enabled = { "privilege" }"#,
            )
        } else {
            ("", "", "")
        };
        let config = format!(
            r#"
run_as_root = true
prosody_user = "root"
prosody_group = "root"
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
log = {{ {{ levels = {{ min = "debug" }}, to = "file", filename = "{d}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
component_ports = {{ {component} }}
component_interface = "127.0.0.1"
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
c2s_direct_tls_ports = {{ }}
legacy_ssl_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "presence"; "message"; "iq"; "carbons";{module} }}
modules_disabled = {{ "s2s"; "tls"; "offline" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
c2s_stanza_size_limit = 1048576
component_stanza_size_limit = 1048576
VirtualHost "localhost"{grants}
VirtualHost "other.example"
Component "irc.localhost"
    component_secret = "{irc}"{on_component}
Component "mail.localhost"
    component_secret = "{mail}"{on_component}
Component "biboumi.localhost"
    component_secret = "{mail}"
"#,
            c2s = self.c2s,
            component = self.component,
            irc = IRC_SECRET,
            mail = MAIL_SECRET,
        );
        std::fs::write(self.dir.join("prosody.cfg.lua"), config).unwrap();
    }

    fn launch(&mut self) {
        use std::os::unix::process::CommandExt;
        let child = Command::new("prosody")
            .arg("--config")
            .arg(self.dir.join("prosody.cfg.lua"))
            .arg("-F")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("prosody (Debian package prosody) must be installed");
        self.child = Some(child);
        wait_port(self.c2s, "prosody c2s", &self.dir.join("prosody.log"));
        wait_port(
            self.component,
            "prosody component",
            &self.dir.join("prosody.log"),
        );
    }

    /// Creates an account by writing Prosody's internal storage file.
    pub fn add_user(&self, user: &str, host: &str, password: &str) {
        let host_dir = host.replace('.', "%2e");
        let dir = self.dir.join("data").join(host_dir).join("accounts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{user}.dat")),
            format!("return {{ [\"password\"] = {password:?}; }};\n"),
        )
        .unwrap();
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child, "-TERM");
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Changes the config with `edit` and restarts Prosody with it.
    pub fn reconfigure(&mut self, edit: impl FnOnce(String) -> String) {
        let path = self.dir.join("prosody.cfg.lua");
        let config = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(config)).unwrap();
        self.restart();
    }

    /// Kills Prosody outright (its users' unavailable presences are never
    /// sent) and starts it again.
    pub fn crash_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child, "-KILL");
            let _ = child.wait();
        }
        self.launch();
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child, "-KILL");
            let _ = child.wait();
        }
    }
}

/// The ferry binary: cargo's for the tests, `FERRY_BIN` for the bench.
pub fn ferry_binary() -> PathBuf {
    option_env!("CARGO_BIN_EXE_ferry")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("FERRY_BIN").map(PathBuf::from))
        .expect("FERRY_BIN must name the ferry binary")
}

pub struct Ferry {
    pub dir: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
}

/// The sample config (deploy/ferry.toml, the SPEC's minimal shape),
/// pointed at `prosody` and a database in `dir`.
pub fn minimal_config(dir: &Path, prosody: &Prosody) -> String {
    config_for(dir, prosody.component)
}

/// The sample config pointed at the component listener on `port` of any
/// XMPP server, and a database in `dir`.
pub fn config_for(dir: &Path, port: u16) -> String {
    let sample = include_str!("../../deploy/ferry.toml");
    assert!(sample.contains("port = 5347") && sample.contains("sqlite://ferry.db"));
    assert!(sample.contains(IRC_SECRET) && sample.contains(MAIL_SECRET));
    sample
        .replace("port = 5347", &format!("port = {port}"))
        .replace(
            "sqlite://ferry.db",
            &format!("sqlite://{}", dir.join("ferry.db").display()),
        )
}

impl Ferry {
    pub fn start(dir: &Path, config: &str) -> Ferry {
        let path = dir.join("ferry.toml");
        std::fs::write(&path, config).unwrap();
        let mut f = Ferry {
            dir: dir.to_owned(),
            config: path,
            child: None,
        };
        f.launch();
        f
    }

    pub fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.join("ferry.log")).unwrap();
        let child = Command::new(ferry_binary())
            .arg("--config")
            .arg(&self.config)
            // Debug logs for the tests; the bench sets FERRY_LOG=info,
            // since logging every stanza is a cost it would measure.
            .env(
                "RUST_LOG",
                std::env::var("FERRY_LOG").unwrap_or_else(|_| "ferry=debug,info".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ferry.log")).unwrap_or_default()
    }

    /// The exit status, once ferry has exited on its own.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// Waits until ferry's log says `what`.
    pub async fn wait_log(&self, what: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log().contains(what) {
            assert!(
                Instant::now() < deadline,
                "ferry's log does not say {what:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Kills ferry with SIGKILL: no goodbye, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and returns the exit status and how long it took.
    pub fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let mut child = self.child.take().expect("ferry running");
        let started = Instant::now();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                let log = self.log();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!("ferry ignored SIGTERM; its log ends:\n{}", tail.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the log shows `n` link-ups.
    pub async fn wait_links(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.log().matches("component link up").count() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("ferry did not bring up {n} links; log:\n{}", self.log());
    }
}

impl Drop for Ferry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The config's network as a table with `policies` added.
pub fn network_as_table(config: String, policies: &str) -> String {
    let line = config
        .lines()
        .find(|l| l.starts_with("networks = ["))
        .expect("a networks line")
        .to_owned();
    let entry = line.split('"').nth(1).expect("a quoted entry");
    let (host, port) = entry.rsplit_once(':').unwrap();
    let table = format!("networks = [{{ host = \"{host}\", port = {port}, {policies} }}]");
    config.replace(&line, &table)
}

/// Which IRC server a world runs.
pub enum Irc {
    None,
    Ngircd,
    /// inspircd + atheme; `sasl: false` leaves SASL out (NickServ only);
    /// `conf` changes inspircd's config.
    Inspircd {
        sasl: bool,
        conf: fn(String) -> String,
    },
}

/// A Prosody with a few accounts, optionally an IRC server, and a ferry
/// attached to them. Fields drop in order: ferry first, the temp dir last.
pub struct World {
    pub ferry: Ferry,
    pub mail: Option<mail::MailStack>,
    pub ircd: Option<ircd::Ngircd>,
    pub inspircd: Option<inspircd::Inspircd>,
    pub xmpp: xmpp::Xmpp,
    pub tmp: tempfile::TempDir,
}

impl World {
    pub async fn start() -> World {
        World::start_with(|config| config).await
    }

    /// Starts with the sample config changed by `edit`.
    pub async fn start_with(edit: impl FnOnce(String) -> String) -> World {
        World::build(Irc::None, |c, _| edit(c)).await
    }

    /// Also starts an ngircd, the bridge's only network, with contacts'
    /// presence polled every second.
    pub async fn start_irc() -> World {
        World::start_irc_with(|c, _| c).await
    }

    /// Like `start_irc`, with the config changed by `edit`, which sees the
    /// IRC server.
    pub async fn start_irc_with(edit: impl FnOnce(String, &ircd::Ngircd) -> String) -> World {
        World::build(Irc::Ngircd, |c, w| {
            edit(c, w.ircd.as_ref().expect("started"))
        })
        .await
    }

    /// With a second IRC network: ngircd on 127.0.0.2, returned with the
    /// temp dir it lives in; `edit` as for `start_irc_with`.
    pub async fn start_two_ircs(
        edit: impl FnOnce(String) -> String,
    ) -> (World, ircd::Ngircd, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let second = ircd::Ngircd::start_on(dir.path(), "127.0.0.2", free_port());
        let w = World::start_irc_with(|c, ircd| {
            let one = format!("networks = [\"{}\"]", ircd.network());
            assert!(c.contains(&one));
            let both = format!(
                "networks = [\"{}\", \"{}\"]",
                ircd.network(),
                second.network()
            );
            edit(c.replace(&one, &both))
        })
        .await;
        (w, second, dir)
    }

    /// Like `start_irc`, with a Prosody whose mod_privilege lets the
    /// bridges write `localhost` users' rosters (XEP-0356).
    pub async fn start_irc_privileged() -> World {
        World::start_irc_privileged_with(|c| c).await
    }

    pub async fn start_irc_privileged_with(edit: impl FnOnce(String) -> String) -> World {
        World::build_with_mail(Irc::Ngircd, None, true, |c, _| edit(c)).await
    }

    /// Like `start_mail`, with that privileged Prosody.
    pub async fn start_mail_privileged() -> World {
        World::build_with_mail(Irc::None, Some(""), true, |c, _| c).await
    }

    /// Starts a mail stack (dovecot + postfix) with alice@example.org and
    /// bob@example.org (password "pw"), the e-mail bridge's servers.
    pub async fn start_mail() -> World {
        World::start_mail_with(|c| c).await
    }

    pub async fn start_mail_with(edit: impl FnOnce(String) -> String) -> World {
        World::build_with_mail(Irc::None, Some(""), false, |c, _| edit(c)).await
    }

    /// A mail stack whose dovecot has no IMAP IDLE: ferry must poll.
    pub async fn start_mail_without_idle() -> World {
        let capability =
            "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS";
        World::build_with_mail(Irc::None, Some(capability), false, |c, _| {
            assert!(c.contains("# poll_interval = 30"));
            c.replace("# poll_interval = 30", "poll_interval = 1")
        })
        .await
    }

    /// Starts ngircd and the mail stack, both bridges' servers.
    pub async fn start_irc_and_mail_with(edit: impl FnOnce(String) -> String) -> World {
        World::build_with_mail(Irc::Ngircd, Some(""), false, |c, _| edit(c)).await
    }

    /// Starts inspircd + atheme as the bridge's only network.
    pub async fn start_inspircd(sasl: bool) -> World {
        World::start_inspircd_with(sasl, |c| c).await
    }

    pub async fn start_inspircd_with(sasl: bool, edit: impl FnOnce(String) -> String) -> World {
        World::start_inspircd_conf(sasl, |conf| conf, |c, _| edit(c)).await
    }

    /// Like `start_inspircd_with`, with inspircd's config (before its
    /// placeholders are filled) changed by `conf`; `edit` sees the server.
    pub async fn start_inspircd_conf(
        sasl: bool,
        conf: fn(String) -> String,
        edit: impl FnOnce(String, &inspircd::Inspircd) -> String,
    ) -> World {
        World::build(Irc::Inspircd { sasl, conf }, |c, w| {
            edit(c, w.inspircd.as_ref().expect("started"))
        })
        .await
    }

    async fn build(irc: Irc, edit: impl FnOnce(String, &Servers) -> String) -> World {
        World::build_with_mail(irc, None, false, edit).await
    }

    async fn build_with_mail(
        irc: Irc,
        dovecot_extra: Option<&str>,
        privileged: bool,
        edit: impl FnOnce(String, &Servers) -> String,
    ) -> World {
        let mut tmp = tempfile::tempdir().unwrap();
        if std::env::var_os("FERRY_KEEP_TEST_DIRS").is_some() {
            // For debugging: logs and configs stay for a look afterwards.
            tmp.disable_cleanup(true);
            eprintln!("test dir: {}", tmp.path().display());
        }
        let xmpp = xmpp::Xmpp::start(tmp.path(), privileged);
        let mut config = config_for(tmp.path(), xmpp.component);
        let servers = match irc {
            Irc::None => Servers::default(),
            Irc::Ngircd => Servers {
                ircd: Some(ircd::Ngircd::start(tmp.path())),
                inspircd: None,
            },
            Irc::Inspircd { sasl, conf } => Servers {
                ircd: None,
                inspircd: Some(inspircd::Inspircd::start(tmp.path(), sasl, conf).await),
            },
        };
        let network = servers
            .ircd
            .as_ref()
            .map(|s| s.network())
            .or(servers.inspircd.as_ref().map(|s| s.network()));
        if let Some(network) = network {
            assert!(config.contains("127.0.0.1:6667") && config.contains("# presence_poll = 20"));
            config = config
                .replace("127.0.0.1:6667", &network)
                .replace("# presence_poll = 20", "presence_poll = 1");
        }
        let mail = dovecot_extra.map(|extra| {
            let users = [("alice@example.org", "pw"), ("bob@example.org", "pw")];
            mail::MailStack::start(tmp.path(), &users, extra)
        });
        if let Some(mail) = &mail {
            assert!(config.contains("127.0.0.1:2525") && config.contains("127.0.0.1:1143"));
            config = config
                .replace("127.0.0.1:2525", &format!("127.0.0.1:{}", mail.smtp_port))
                .replace("127.0.0.1:1143", &format!("127.0.0.1:{}", mail.imap_port));
        }
        let ferry = Ferry::start(tmp.path(), &edit(config, &servers));
        ferry.wait_links(2).await;
        World {
            ferry,
            mail,
            ircd: servers.ircd,
            inspircd: servers.inspircd,
            xmpp,
            tmp,
        }
    }

    pub fn ircd(&mut self) -> &mut ircd::Ngircd {
        self.ircd.as_mut().expect("started with start_irc")
    }

    /// The port of the world's IRC server.
    pub fn irc_port(&self) -> u16 {
        self.ircd
            .as_ref()
            .map(|s| s.port)
            .or(self.inspircd.as_ref().map(|s| s.port))
            .expect("started with an IRC server")
    }
}

/// The IRC servers of a world, while it is being built.
#[derive(Default)]
pub struct Servers {
    pub ircd: Option<ircd::Ngircd>,
    pub inspircd: Option<inspircd::Inspircd>,
}
