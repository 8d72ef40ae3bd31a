//! A private ejabberd (Debian's package) on free loopback ports, with the
//! component listener exactly as `deploy/ejabberd.yml` writes it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::ports::free_port;
use super::wait_port;

pub struct Ejabberd {
    pub dir: PathBuf,
    pub c2s: u16,
    pub component: u16,
    child: Option<Child>,
    /// ejabberd runs as its own user, which must reach its directory: it
    /// gets one of its own, outside the test's private temp dir.
    _home: tempfile::TempDir,
}

/// The sample listener block, re-indented under our `listen:` with the
/// component port replaced.
fn sample_listener(port: u16) -> String {
    let sample = include_str!("../../deploy/ejabberd.yml");
    let listener = sample
        .split_once("listen:\n")
        .expect("deploy/ejabberd.yml has a listen: block")
        .1;
    assert!(listener.contains("port: 5347"));
    listener.replace("port: 5347", &format!("port: {port}"))
}

impl Ejabberd {
    /// Starts ejabberd with host `localhost`, users alice and bob
    /// (password "pw") and the sample component listener.
    pub fn start() -> Ejabberd {
        Ejabberd::start_with(false)
    }

    /// Like `start`; with `privileged`, mod_privilege grants both bridges
    /// roster access (XEP-0356).
    pub fn start_with(privileged: bool) -> Ejabberd {
        let privilege = if privileged {
            "  mod_privilege:\n    roster:\n      both: ferry_roster\n"
        } else {
            ""
        };
        let home = tempfile::Builder::new()
            .prefix("ferry-ejabberd")
            .tempdir_in("/tmp")
            .unwrap();
        let dir = home.path().to_owned();
        let (c2s, component, dist) = (free_port(), free_port(), free_port());
        let d = dir.display();
        for sub in ["db", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(
            dir.join("ejabberdctl.cfg"),
            format!(
                "ERLANG_NODE=ferry{dist}@localhost\nERL_DIST_PORT={dist}\n\
                 INET_DIST_INTERFACE=127.0.0.1\nERL_OPTIONS=\"-setcookie ferrytest\"\n\
                 EJABBERD_PID_PATH={d}/ejabberd.pid\n"
            ),
        )
        .unwrap();
        let config = format!(
            r#"hosts: ["localhost", "other.example"]
loglevel: info
certfiles: []
auth_method: internal
auth_password_format: plain
shaper_rules: {{}}
acl:
  ferry_bridges:
    server: ["irc.localhost", "mail.localhost"]
access_rules:
  ferry_roster:
    allow: ferry_bridges
listen:
  -
    port: {c2s}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    max_stanza_size: 1048576
{listener}
modules:
  mod_roster: {{}}
  mod_disco: {{}}
  mod_ping: {{}}
  mod_carboncopy: {{}}
{privilege}"#,
            listener = sample_listener(component)
        );
        std::fs::write(dir.join("ejabberd.yml"), config).unwrap();
        let status = Command::new("chown")
            .args(["-R", "ejabberd:ejabberd"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
        let mut e = Ejabberd {
            dir,
            c2s,
            component,
            child: None,
            _home: home,
        };
        e.launch();
        for (user, host) in [
            ("alice", "localhost"),
            ("bob", "localhost"),
            ("admin", "localhost"),
            ("eve", "other.example"),
        ] {
            let out = e.ctl(&["register", user, host, "pw"]);
            assert!(out.status.success(), "{out:?}");
        }
        e
    }

    /// Stops ejabberd and starts it again on the same ports.
    pub fn restart(&mut self) {
        let _ = self.ctl(&["stop"]);
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.c2s)).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "ejabberd did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        self.launch();
    }

    fn ctl_command(&self) -> Command {
        let mut c = Command::new("ejabberdctl");
        c.arg("--config-dir")
            .arg(&self.dir)
            .arg("--ctl-config")
            .arg(self.dir.join("ejabberdctl.cfg"))
            .arg("--config")
            .arg(self.dir.join("ejabberd.yml"))
            .arg("--spool")
            .arg(self.dir.join("db"))
            .arg("--logs")
            .arg(self.dir.join("logs"));
        c
    }

    fn ctl(&self, args: &[&str]) -> std::process::Output {
        self.ctl_command().args(args).output().unwrap()
    }

    fn launch(&mut self) {
        let child = self
            .ctl_command()
            .arg("foreground")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ejabberd (Debian package ejabberd) must be installed");
        self.child = Some(child);
        let log = self.dir.join("logs").join("ejabberd.log");
        wait_port(self.c2s, "ejabberd c2s", &log);
        wait_port(self.component, "ejabberd component", &log);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs").join("ejabberd.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        // Its `su` leaves the Erlang VM outside our child's process
        // group: ejabberdctl stops it.
        let _ = self.ctl(&["stop"]);
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
