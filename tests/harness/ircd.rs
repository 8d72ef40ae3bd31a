//! A real ngircd on a free loopback port, and a raw IRC client to talk to
//! ferry's users from the IRC side.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::{free_port, kill_group, wait_port_on};

pub struct Ngircd {
    pub dir: PathBuf,
    /// The loopback address it listens on.
    pub host: String,
    pub port: u16,
    /// The TLS port, with a certificate for 127.0.0.1 signed by `ca`.
    pub tls_port: u16,
    pub ca: PathBuf,
    child: Option<Child>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (Debian package openssl) must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA and a server certificate for 127.0.0.1 signed by it.
pub(super) fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=ferry test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

impl Ngircd {
    pub fn start(dir: &Path) -> Ngircd {
        Ngircd::start_at(dir, free_port())
    }

    /// On a given port (biboumi only reaches IRC servers on 6667).
    pub fn start_at(dir: &Path, port: u16) -> Ngircd {
        Ngircd::start_on(dir, "127.0.0.1", port)
    }

    /// On another loopback address (127.0.0.2, …): a second server for
    /// more connections than one ngircd holds, on the same port.
    pub fn start_on(dir: &Path, host: &str, port: u16) -> Ngircd {
        let dir = match host {
            "127.0.0.1" => dir.join("ngircd"),
            _ => dir.join(format!("ngircd-{host}")),
        };
        std::fs::create_dir_all(&dir).unwrap();
        make_certificates(&dir);
        let tls_port = free_port();
        let config = format!(
            "[Global]\nName = irc.test\nInfo = ferry test server\nListen = {host}\nPorts = {port}\n\
             IncludeDir = {d}\nMotdPhrase = \"test\"\n\
             [Limits]\nMaxConnectionsIP = 0\nMaxPenaltyTime = 0\nMaxJoins = 0\nMaxListSize = 1000\nMaxNickLength = 30\n\
             PingTimeout = 300\nPongTimeout = 300\n\
             [Options]\nDNS = no\nIdent = no\nPAM = no\nRequireAuthPing = no\n\
             [SSL]\nCertFile = {d}/server.pem\nKeyFile = {d}/server.key\nPorts = {tls_port}\n",
            d = dir.display()
        );
        std::fs::write(dir.join("ngircd.conf"), config).unwrap();
        let mut n = Ngircd {
            ca: dir.join("ca.pem"),
            dir,
            host: host.to_owned(),
            port,
            tls_port,
            child: None,
        };
        n.launch();
        n
    }

    fn launch(&mut self) {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(self.dir.join("ngircd.log")).unwrap();
        let child = Command::new("ngircd")
            .arg("-n")
            .arg("-f")
            .arg(self.dir.join("ngircd.conf"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("ngircd (Debian package ngircd) must be installed");
        self.child = Some(child);
        wait_port_on(
            &self.host,
            self.port,
            "ngircd",
            &self.dir.join("ngircd.log"),
        );
        wait_port_on(
            &self.host,
            self.tls_port,
            "ngircd TLS",
            &self.dir.join("ngircd.log"),
        );
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Kills the server outright (no goodbye to clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child, "-KILL");
            let _ = child.wait();
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the server: its sockets stay
    /// open but nothing is answered.
    pub fn freeze(&mut self, frozen: bool) {
        let child = self.child.as_mut().expect("running");
        kill_group(child, if frozen { "-STOP" } else { "-CONT" });
    }

    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// The `networks` entry for ferry's config.
    pub fn network(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl Drop for Ngircd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A raw IRC client: what a person on IRC types, byte for byte.
pub struct IrcClient {
    pub nick: String,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl IrcClient {
    pub async fn connect(port: u16, nick: &str) -> IrcClient {
        IrcClient::connect_on("127.0.0.1", port, nick).await
    }

    pub async fn connect_on(host: &str, port: u16, nick: &str) -> IrcClient {
        let stream = TcpStream::connect((host, port)).await.unwrap();
        let (r, writer) = stream.into_split();
        let mut c = IrcClient {
            nick: nick.to_owned(),
            reader: BufReader::new(r),
            writer,
        };
        c.send(&format!("NICK {nick}")).await;
        c.send(&format!("USER {nick} 0 * :{nick}")).await;
        c.expect("welcome", |l| l.split(' ').nth(1) == Some("001"))
            .await;
        c
    }

    pub async fn send(&mut self, line: &str) {
        self.send_bytes(line.as_bytes()).await;
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
        self.writer.write_all(b"\r\n").await.unwrap();
    }

    /// The next line matching `pred` (PINGs answered on the way); panics
    /// after ten seconds.
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let mut raw = Vec::new();
            let read = tokio::time::timeout_at(deadline, self.reader.read_until(b'\n', &mut raw))
                .await
                .unwrap_or_else(|_| panic!("{}: timed out waiting for {what}", self.nick))
                .unwrap();
            assert!(
                read > 0,
                "{}: connection closed waiting for {what}",
                self.nick
            );
            let line = String::from_utf8_lossy(&raw)
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            if let Some(token) = line.strip_prefix("PING ") {
                self.send(&format!("PONG {token}")).await;
                continue;
            }
            if pred(&line) {
                return line;
            }
        }
    }

    /// The next line within `wait` (PINGs answered on the way), or None
    /// when none comes or the connection is closed.
    pub async fn next_line(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let mut raw = Vec::new();
            let read = tokio::time::timeout_at(deadline, self.reader.read_until(b'\n', &mut raw))
                .await
                .ok()?
                .ok()?;
            if read == 0 {
                return None;
            }
            let line = String::from_utf8_lossy(&raw)
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            match line.strip_prefix("PING ") {
                Some(token) => self.send(&format!("PONG {token}")).await,
                None => return Some(line),
            }
        }
    }

    /// The text of the next PRIVMSG (or NOTICE when `notice`) to us.
    pub async fn next_message(&mut self, notice: bool) -> (String, String) {
        let verb = if notice { "NOTICE" } else { "PRIVMSG" };
        let nick = self.nick.clone();
        let line = self
            .expect(&format!("a {verb}"), |l| {
                l.split(' ').nth(1) == Some(verb) && l.split(' ').nth(2) == Some(nick.as_str())
            })
            .await;
        let from = line[1..].split('!').next().unwrap_or_default().to_owned();
        let text = line
            .split_once(" :")
            .map(|(_, t)| t.to_owned())
            .unwrap_or_default();
        (from, text)
    }
}
