//! A real inspircd with atheme services linked to it (SASL, NickServ,
//! MONITOR), from the templates in tests/fixtures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::ircd::IrcClient;
use super::{free_port, kill_group, wait_port};

const INSPIRCD: &str = include_str!("../fixtures/inspircd.conf.tmpl");
const ATHEME: &str = include_str!("../fixtures/atheme.conf.tmpl");

/// A TLS port (gnutls: it crashes only as inspircd exits, after the
/// test) that asks clients for a certificate and tells services its
/// SHA-256 fingerprint, for `Inspircd::start`'s `conf`.
pub const TLS: &str = r#"
<module name="ssl_gnutls">
<module name="sslinfo">
<sslprofile name="clients" provider="gnutls" certfile="{DIR}/server.pem" keyfile="{DIR}/server.key"
            hash="sha256" requestclientcert="yes" dhfile="">
<bind address="127.0.0.1" port="{TLS_PORT}" type="clients" sslprofile="clients">
"#;

pub struct Inspircd {
    pub dir: PathBuf,
    pub port: u16,
    /// With `TLS` in the config: the TLS port, whose certificate for
    /// 127.0.0.1 `ca` signed, asking clients for theirs (CertFP).
    pub tls_port: u16,
    pub ca: PathBuf,
    inspircd: Option<Child>,
}

impl Inspircd {
    /// Starts both and waits until services are linked (SASL is offered).
    /// Without `sasl`, the server offers no SASL: clients must use
    /// NickServ IDENTIFY.
    pub async fn start(dir: &Path, sasl: bool, conf: fn(String) -> String) -> Inspircd {
        use std::os::unix::process::CommandExt;
        let dir = dir.join("inspircd");
        for sub in ["data", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let port = free_port();
        let link = free_port();
        let tls_port = free_port();
        let render = |t: &str| {
            t.replace("{DIR}", &dir.display().to_string())
                .replace("{CLIENT_PORT}", &port.to_string())
                .replace("{LINK_PORT}", &link.to_string())
                .replace("{TLS_PORT}", &tls_port.to_string())
        };
        let conf = conf(INSPIRCD.to_owned());
        if conf.contains("{TLS_PORT}") {
            super::ircd::make_certificates(&dir);
        }
        let mut config = render(&conf);
        if !sasl {
            config = config
                .replace("<module name=\"sasl\">", "")
                .replace("<sasl target=\"services.test\" requiressl=\"no\">", "");
        }
        std::fs::write(dir.join("inspircd.conf"), config).unwrap();
        std::fs::write(dir.join("atheme.conf"), render(ATHEME)).unwrap();
        let log = std::fs::File::create(dir.join("log/inspircd.stdout")).unwrap();
        let child = Command::new("inspircd")
            .arg(format!("--config={}", dir.join("inspircd.conf").display()))
            .args(["--nofork", "--runasroot"])
            // With gnutls, inspircd crashes as it exits, and raises its
            // own core limit: the core lands in the temp dir.
            .current_dir(&dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("inspircd (Debian package inspircd) must be installed");
        let server = Inspircd {
            dir: dir.clone(),
            port,
            tls_port,
            ca: dir.join("ca.pem"),
            inspircd: Some(child),
        };
        wait_port(port, "inspircd", &dir.join("log/inspircd.stdout"));
        let status = Command::new("atheme-services")
            .arg("-c")
            .arg(dir.join("atheme.conf"))
            .arg("-D")
            .arg(dir.join("data"))
            .arg("-l")
            .arg(dir.join("log/atheme.log"))
            .arg("-p")
            .arg(dir.join("atheme.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("atheme-services (Debian package atheme-services) must be installed");
        assert!(status.success(), "atheme-services failed to start");
        server.wait_for_services(sasl).await;
        server
    }

    /// Services are linked when NickServ answers (and, with SASL, when
    /// `CAP LS` offers it).
    async fn wait_for_services(&self, sasl: bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            assert!(Instant::now() < deadline, "atheme did not link to inspircd");
            let linked = if sasl {
                self.cap_ls().await.contains("sasl")
            } else {
                std::fs::read_to_string(self.dir.join("log/atheme.log"))
                    .unwrap_or_default()
                    .contains("finished synching with uplink")
            };
            if linked {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn cap_ls(&self) -> String {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)).await else {
            return String::new();
        };
        let (r, mut w) = stream.into_split();
        let _ = w.write_all(b"CAP LS 302\r\n").await;
        let mut lines = BufReader::new(r).lines();
        let mut seen = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Ok(Some(line))) = tokio::time::timeout_at(deadline, lines.next_line()).await {
            if line.contains(" CAP ") {
                seen.push_str(&line);
                if !line.contains(" LS * ") {
                    break;
                }
            }
        }
        seen
    }

    /// Registers a NickServ account from a raw client.
    pub async fn register_account(&self, nick: &str, password: &str) {
        let mut c = IrcClient::connect(self.port, nick).await;
        c.send(&format!(
            "PRIVMSG NickServ :REGISTER {password} {nick}@example.org"
        ))
        .await;
        c.expect("NickServ's confirmation", |l| {
            l.contains("is now registered")
        })
        .await;
        c.send("QUIT").await;
    }

    /// The account a nick is logged in to, from WHOIS (330), if any.
    pub async fn account_of(&self, asker: &mut IrcClient, nick: &str) -> Option<String> {
        asker.send(&format!("WHOIS {nick}")).await;
        let mut account = None;
        loop {
            let line = asker
                .expect("WHOIS lines", |l| {
                    matches!(l.split(' ').nth(1), Some("330") | Some("318") | Some("401"))
                })
                .await;
            // inspircd ends a WHOIS with 318 even after 401 (no such
            // nick): read up to it, or the next WHOIS would read it.
            match line.split(' ').nth(1) {
                Some("330") => account = line.split(' ').nth(4).map(str::to_owned),
                Some("318") => return account,
                _ => {}
            }
        }
    }

    pub fn network(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Inspircd {
    fn drop(&mut self) {
        // atheme first: with inspircd gone it would keep reconnecting.
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("atheme.pid")) {
            let pid = pid.trim().to_owned();
            let quiet = |signal: &str| {
                let _ = Command::new("kill")
                    .args([signal, &pid])
                    .stderr(Stdio::null())
                    .status();
            };
            quiet("-TERM");
            let deadline = Instant::now() + Duration::from_secs(3);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if Path::new(&format!("/proc/{pid}")).exists() {
                quiet("-KILL");
            }
        }
        if let Some(mut child) = self.inspircd.take() {
            kill_group(&mut child, "-TERM");
            let _ = child.wait();
        }
    }
}
