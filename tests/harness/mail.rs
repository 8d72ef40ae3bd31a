//! A private mail stack: dovecot (IMAP, LMTP, SASL for postfix) and postfix
//! (SMTP submission and relay, delivering into dovecot), from the templates
//! in tests/fixtures.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{free_port, wait_port};

const DOVECOT: &str = include_str!("../fixtures/dovecot.conf.tmpl");
const MAIN_CF: &str = include_str!("../fixtures/postfix-main.cf.tmpl");
const MASTER_CF: &str = include_str!("../fixtures/postfix-master.cf.tmpl");

/// dovecot's `nobody` owns the mail homes.
const NOBODY: u32 = 65534;

/// What `use_tls` made: the CA that signed the servers' certificate, and
/// the implicit-TLS ports.
pub struct MailTls {
    pub ca: PathBuf,
    pub imaps_port: u16,
    pub smtps_port: u16,
}

pub struct MailStack {
    pub dir: PathBuf,
    pub imap_port: u16,
    pub smtp_port: u16,
    dovecot: Option<Child>,
    postfix_running: bool,
}

fn chown(path: &Path, owner: &str) {
    let status = Command::new("chown").arg(owner).arg(path).status().unwrap();
    assert!(status.success());
}

impl MailStack {
    /// Starts both for `users` (`local@example.org`, password); `dovecot_extra`
    /// is appended to dovecot's config.
    pub fn start(parent: &Path, users: &[(&str, &str)], dovecot_extra: &str) -> MailStack {
        // nobody (dovecot's mail user) must traverse down to the homes.
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = parent.join("mail");
        std::fs::create_dir_all(dir.join("homes")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (imap_port, lmtp_port, smtp_port) = (free_port(), free_port(), free_port());
        let render = |t: &str| {
            t.replace("{DIR}", &dir.display().to_string())
                .replace("{IMAP_PORT}", &imap_port.to_string())
                .replace("{LMTP_PORT}", &lmtp_port.to_string())
                .replace("{SMTP_PORT}", &smtp_port.to_string())
        };
        let mut lines = String::new();
        for (user, password) in users {
            let home = dir.join("homes").join(user.split('@').next().unwrap());
            std::fs::create_dir_all(&home).unwrap();
            chown(&home, &format!("{NOBODY}:{NOBODY}"));
            lines.push_str(&format!(
                "{user}:{{PLAIN}}{password}:{NOBODY}:{NOBODY}::{}::\n",
                home.display()
            ));
        }
        std::fs::write(dir.join("users"), lines).unwrap();
        std::fs::write(
            dir.join("dovecot.conf"),
            render(DOVECOT) + "\n" + dovecot_extra + "\n",
        )
        .unwrap();
        let postfix = dir.join("postfix");
        std::fs::create_dir_all(&postfix).unwrap();
        std::fs::write(postfix.join("main.cf"), render(MAIN_CF)).unwrap();
        std::fs::write(postfix.join("master.cf"), render(MASTER_CF)).unwrap();
        std::fs::create_dir_all(dir.join("postfix-data")).unwrap();
        std::fs::set_permissions(
            dir.join("postfix-data"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        chown(&dir.join("postfix-data"), "postfix:postfix");
        std::fs::create_dir_all(dir.join("postfix-queue")).unwrap();

        let mut stack = MailStack {
            dir,
            imap_port,
            smtp_port,
            dovecot: None,
            postfix_running: false,
        };
        stack.start_dovecot();
        stack.start_postfix();
        stack
    }

    fn start_dovecot(&mut self) {
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot (Debian packages dovecot-imapd, dovecot-lmtpd) must be installed");
        self.dovecot = Some(child);
        wait_port(
            self.imap_port,
            "dovecot IMAP",
            &self.dir.join("dovecot.log"),
        );
        let socket = self.dir.join("dovecot-run/auth-client");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "dovecot made no auth socket");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM to the foreground master: quicker than `dovecot stop`.
    fn stop_dovecot(&mut self) {
        if let Some(mut child) = self.dovecot.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Stops dovecot, keeps only the newest `keep` mails of `local`'s
    /// mailbox and forgets their UIDs (a new UIDVALIDITY, as after a server
    /// migration), and starts it again.
    pub fn renumber(&mut self, local: &str, keep: usize) {
        self.stop_dovecot();
        let maildir = self.dir.join("homes").join(local).join("Maildir");
        let mut mails: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .flat_map(|sub| {
                std::fs::read_dir(maildir.join(sub))
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|e| e.path())
            .collect();
        mails.sort_by_key(|p| p.file_name().map(|n| n.to_owned()));
        let drop = mails.len().saturating_sub(keep);
        for old in &mails[..drop] {
            std::fs::remove_file(old).unwrap();
        }
        for entry in std::fs::read_dir(&maildir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("dovecot") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        self.start_dovecot();
    }

    pub fn restart_dovecot(&mut self) {
        self.stop_dovecot();
        self.start_dovecot();
    }

    pub fn start_postfix(&mut self) {
        let out = Command::new("postfix")
            .arg("-c")
            .arg(self.dir.join("postfix"))
            .arg("start")
            .output()
            .expect("postfix (Debian package postfix) must be installed");
        assert!(
            out.status.success(),
            "postfix start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.postfix_running = true;
        wait_port(self.smtp_port, "postfix", &self.dir.join("postfix.log"));
    }

    /// Lets postfix take mails of up to 50 MB (the fixture's limit is
    /// small, for the tests of refusals), restarting it.
    pub fn allow_big_mail(&mut self) {
        let path = self.dir.join("postfix").join("main.cf");
        let config = std::fs::read_to_string(&path).unwrap();
        assert!(config.contains("message_size_limit = 100000\n"));
        let config = config.replace(
            "message_size_limit = 100000\n",
            "message_size_limit = 50000000\n",
        );
        std::fs::write(&path, config).unwrap();
        self.stop_postfix();
        self.start_postfix();
    }

    /// Puts both servers behind TLS with a certificate for 127.0.0.1,
    /// restarting them: STARTTLS on their ports (no login before it), and
    /// implicit TLS on two more (IMAPS, SMTPS).
    pub fn use_tls(&mut self) -> MailTls {
        super::ircd::make_certificates(&self.dir);
        let (imaps_port, smtps_port) = (free_port(), free_port());
        let dir = self.dir.display().to_string();
        let dovecot = self.dir.join("dovecot.conf");
        let mut config = std::fs::read_to_string(&dovecot).unwrap();
        assert!(config.contains("ssl = no\ndisable_plaintext_auth = no\n"));
        config = config.replace(
            "ssl = no\ndisable_plaintext_auth = no\n",
            &format!(
                "ssl = required\nssl_cert = <{dir}/server.pem\nssl_key = <{dir}/server.key\n\
                 disable_plaintext_auth = yes\n"
            ),
        );
        let imaps = "inet_listener imaps {\n    port = 0\n";
        assert!(config.contains(imaps));
        config = config.replace(
            imaps,
            &format!("inet_listener imaps {{\n    address = 127.0.0.1\n    port = {imaps_port}\n"),
        );
        std::fs::write(&dovecot, config).unwrap();
        let master_cf = self.dir.join("postfix").join("master.cf");
        let mut services = std::fs::read_to_string(&master_cf).unwrap();
        services.push_str(&format!(
            "127.0.0.1:{smtps_port} inet n - n - - smtpd\n  \
             -o smtpd_tls_wrappermode=yes\n  -o smtpd_tls_security_level=encrypt\n"
        ));
        std::fs::write(&master_cf, services).unwrap();
        let main_cf = self.dir.join("postfix").join("main.cf");
        let config = std::fs::read_to_string(&main_cf).unwrap();
        assert!(config.contains("smtpd_tls_security_level = none\n"));
        // `may`, not `encrypt`: `deliver` relays in the clear, as servers
        // may; AUTH is offered only inside TLS.
        let config = config.replace(
            "smtpd_tls_security_level = none\n",
            &format!(
                "smtpd_tls_security_level = may\nsmtpd_tls_auth_only = yes\n\
                 smtpd_tls_cert_file = {dir}/server.pem\nsmtpd_tls_key_file = {dir}/server.key\n\
                 smtpd_tls_loglevel = 1\n"
            ),
        );
        std::fs::write(&main_cf, config).unwrap();
        self.restart_dovecot();
        self.stop_postfix();
        self.start_postfix();
        wait_port(imaps_port, "dovecot IMAPS", &self.dir.join("dovecot.log"));
        wait_port(smtps_port, "postfix SMTPS", &self.dir.join("postfix.log"));
        MailTls {
            ca: self.dir.join("ca.pem"),
            imaps_port,
            smtps_port,
        }
    }

    /// What dovecot and postfix logged.
    pub fn logs(&self) -> String {
        ["dovecot.log", "postfix.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default())
            .collect()
    }

    /// Stops postfix and waits until its port refuses connections.
    pub fn stop_postfix(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(self.dir.join("postfix"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.postfix_running = false;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.smtp_port)).is_ok() {
            assert!(Instant::now() < deadline, "postfix did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The raw mails in a user's INBOX, as dovecot stored them.
    pub fn inbox(&self, local: &str) -> Vec<String> {
        let maildir = self.dir.join("homes").join(local).join("Maildir");
        let mut mails = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(maildir.join(sub)) {
                let mut paths: Vec<PathBuf> =
                    entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                paths.sort();
                for path in paths {
                    mails.push(String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned());
                }
            }
        }
        mails
    }

    /// Waits until a user's INBOX holds `count` mails.
    pub async fn wait_inbox(&self, local: &str, count: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let mails = self.inbox(local);
            if mails.len() >= count {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{local}'s INBOX has {} mails, not {count}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Delivers a raw mail by unauthenticated SMTP relay (allowed from
    /// 127.0.0.1), as another server would.
    pub async fn deliver(&self, from: &str, to: &str, raw: &str) {
        let stream = TcpStream::connect(("127.0.0.1", self.smtp_port))
            .await
            .unwrap();
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r).lines();
        async fn expect(
            lines: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
            code: &str,
        ) {
            // Multi-line replies ("250-…") end with "250 …".
            loop {
                let line = lines.next_line().await.unwrap().unwrap_or_default();
                assert!(line.starts_with(code), "SMTP: expected {code}, got {line}");
                if line.as_bytes().get(3) != Some(&b'-') {
                    return;
                }
            }
        }
        expect(&mut lines, "220").await;
        let body = raw.replace("\r\n", "\n").replace('\n', "\r\n");
        for (command, code) in [
            ("HELO test".to_owned(), "250"),
            (format!("MAIL FROM:<{from}>"), "250"),
            (format!("RCPT TO:<{to}>"), "250"),
            ("DATA".to_owned(), "354"),
            (format!("{body}\r\n."), "250"),
            ("QUIT".to_owned(), "221"),
        ] {
            w.write_all(command.as_bytes()).await.unwrap();
            w.write_all(b"\r\n").await.unwrap();
            expect(&mut lines, code).await;
        }
    }
}

impl Drop for MailStack {
    fn drop(&mut self) {
        if self.postfix_running {
            self.stop_postfix();
        }
        self.stop_dovecot();
    }
}
