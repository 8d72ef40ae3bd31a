//! `deploy/quickstart` as a user runs it: a busy port or a server that
//! fails to start is named and nothing is left running; once ready, a
//! client logs in over STARTTLS, finds the IRC bridge, joins a room and
//! talks with an IRC user; SIGTERM then stops everything the script started.
//!
//! The quick start uses fixed ports (5222, 5347, 5280, 6667); every other test
//! takes free ports from the kernel's ephemeral range, so nothing else in
//! `cargo test` competes for them.

mod harness;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::client::{result, TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{body, muc_statuses, stanza};
use harness::IRC;
use tokio_xmpp::parsers::minidom::Element;

const PORTS: [u16; 4] = [5222, 5347, 5280, 6667];
const ROOM: &str = "#test%127.0.0.1@irc.localhost";
const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
const MUC: &str = "http://jabber.org/protocol/muc";

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The running script, its output so far, and what it said about itself.
/// Dropped while a test panics, it prints that output and the servers'
/// logs, then stops the script as a user would.
struct Quickstart {
    child: Option<Child>,
    output: Arc<Mutex<String>>,
    dir: Option<PathBuf>,
}

impl Quickstart {
    fn start() -> Quickstart {
        Quickstart::start_with(env!("CARGO_BIN_EXE_ferry"), None)
    }

    /// With `ferry` as the ferry binary, and `bin` (if any) first in PATH.
    fn start_with(ferry: &str, bin: Option<&Path>) -> Quickstart {
        use std::os::unix::process::CommandExt;
        let mut path = std::env::var("PATH").unwrap_or_default();
        if let Some(bin) = bin {
            path = format!("{}:{path}", bin.display());
        }
        let mut child = Command::new("bash")
            .arg("deploy/quickstart")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("FERRY_BIN", ferry)
            .env("PATH", path)
            .env("RUST_LOG", "ferry=debug,info")
            .env_remove("FERRY_QUICKSTART_KEEP")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group: Ctrl-C on `cargo test` is for the test, which
            // then stops the script by SIGTERM, as a user would.
            .process_group(0)
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), &output);
        collect(child.stderr.take().unwrap(), &output);
        Quickstart {
            child: Some(child),
            output,
            dir: None,
        }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Waits for the ready line and returns the temp dir it names.
    fn wait_ready(&mut self) -> PathBuf {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.output();
            if let Some(line) = out.lines().find(|l| l.starts_with("quickstart ready")) {
                let dir = line
                    .split_once("state and logs in ")
                    .and_then(|(_, rest)| rest.strip_suffix(')'))
                    .unwrap_or_else(|| panic!("no temp dir in {line:?}"));
                let dir = PathBuf::from(dir);
                self.dir = Some(dir.clone());
                return dir;
            }
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(exited.is_none(), "the quick start exited: {exited:?}");
            assert!(Instant::now() < deadline, "the quick start is not ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGTERM and waits for the script to exit.
    fn terminate(&mut self) -> ExitStatus {
        signal(self.pid(), "-TERM");
        self.wait_exit()
    }

    /// Waits for the script to exit on its own.
    fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "the quick start does not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        eprintln!("--- quick start output ---\n{}", self.output());
        if let Some(dir) = &self.dir {
            for log in ["prosody.log", "prosody.out", "ngircd.log", "ferry.log"] {
                let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
                eprintln!("--- {log} ---\n{text}");
            }
        }
        if let Some(mut child) = self.child.take() {
            // The servers run in sessions of their own: if the script does
            // not stop them, they are killed by pid.
            let servers = children(child.id());
            signal(child.id(), "-TERM");
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            for (pid, cmd) in servers {
                if cmdline(pid).as_ref() == Some(&cmd) {
                    signal(pid, "-KILL");
                }
            }
        }
    }
}

fn signal(pid: u32, signal: &str) {
    Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
}

/// Appends what `pipe` says to `output`, in a thread of its own.
fn collect(pipe: impl Read + Send + 'static, output: &Arc<Mutex<String>>) {
    let output = output.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            let mut out = output.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
}

/// The command line of a running process (arguments joined by spaces).
fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

/// The processes whose parent is `parent`, with their command lines.
fn children(parent: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may hold spaces, so split after it.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            if let Some(cmd) = cmdline(pid) {
                found.push((pid, cmd));
            }
        }
    }
    found
}

/// What the script said once its output ended (its pipes close after it
/// and its children have gone).
fn final_output(qs: &Quickstart) -> String {
    std::thread::sleep(Duration::from_millis(200));
    qs.output()
}

/// Waits for a start that fails: exit status 1, no ready line, `what` and
/// `log` named, the log's `tail` shown, the temp dir kept for reading, and
/// every port free again.
fn failed_start(qs: &mut Quickstart, what: &str, log: &str, tail: &str) {
    let status = qs.wait_exit();
    let out = final_output(qs);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(!out.contains("quickstart ready"), "{out}");
    assert!(out.contains(what) && out.contains(tail), "{out}");
    let log = out
        .split_whitespace()
        .find(|w| w.ends_with(&format!("/{log}")))
        .unwrap_or_else(|| panic!("{log} not named: {out}"));
    let kept = Path::new(log).parent().unwrap();
    assert!(kept.is_dir(), "{out}");
    std::fs::remove_dir_all(kept).unwrap();
    for port in PORTS {
        assert!(
            !listening(port),
            "{port} still listens after a failed start"
        );
    }
}

/// One test, not four: the steps share the fixed ports, and tests in one
/// binary run in parallel.
#[tokio::test(flavor = "multi_thread")]
async fn quickstart_serves_a_client_and_stops_on_sigterm() {
    let started = Instant::now();
    for port in PORTS {
        assert!(
            !listening(port),
            "port {port} is taken: the quick start needs 5222, 5347, 5280 and 6667 free"
        );
    }

    // A port in use: the script names it and starts nothing.
    let taken = std::net::TcpListener::bind(("127.0.0.1", 6667)).unwrap();
    let mut qs = Quickstart::start();
    let status = qs.wait_exit();
    let out = final_output(&qs);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains("port 6667") && !out.contains("quickstart ready"),
        "{out}"
    );
    drop(taken);

    // A Prosody that fails to start: no ready line, the port and the log
    // named, and ngircd stopped again.
    let fake = tempfile::tempdir().unwrap();
    let prosody = fake.path().join("prosody");
    std::fs::write(&prosody, "#!/bin/sh\necho 'prosody: no luck'\nexit 1\n").unwrap();
    std::fs::set_permissions(
        &prosody,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut qs = Quickstart::start_with(env!("CARGO_BIN_EXE_ferry"), Some(fake.path()));
    failed_start(&mut qs, "127.0.0.1:5222", "prosody.out", "prosody: no luck");

    // The same for ferry.
    let mut qs = Quickstart::start_with("/bin/false", None);
    failed_start(&mut qs, "ferry exited", "ferry.log", "");

    let mut qs = Quickstart::start();
    let dir = qs.wait_ready();
    assert!(dir.is_dir(), "{} does not exist", dir.display());
    for port in PORTS {
        assert!(listening(port), "nothing listens on {port}");
    }
    let servers = children(qs.pid());
    for name in ["prosody", "ngircd", "ferry"] {
        assert!(
            servers.iter().any(|(_, cmd)| cmd.contains(name)),
            "no {name} among the script's children: {servers:?}"
        );
    }

    // A client that insists on TLS and was told to trust the certificate.
    let mut alice =
        TestClient::connect_tls("alice", "localhost", "pw", 5222, &dir.join("localhost.crt")).await;
    alice.available().await;
    let query = Element::builder("query", DISCO_INFO).build();
    let info = result(alice.iq(IRC, false, query).await).expect("a disco#info query");
    assert!(
        info.children()
            .any(|c| c.name() == "identity" && c.attr("category") == Some("gateway")),
        "{}",
        String::from(&info)
    );
    assert!(
        info.children()
            .any(|c| c.name() == "feature" && c.attr("var") == Some(MUC)),
        "{}",
        String::from(&info)
    );

    let join = stanza(
        "presence",
        &[("to", &format!("{ROOM}/alice"))],
        vec![Element::builder("x", MUC).build()],
    );
    alice.send(join).await;
    alice
        .expect("alice's self-presence in the room", |el| {
            el.name() == "presence"
                && el.attr("from") == Some(&format!("{ROOM}/alice"))
                && muc_statuses(el).contains(&"110".to_owned())
        })
        .await;

    let mut carol = IrcClient::connect(6667, "carol").await;
    carol.send("JOIN #test").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    carol.send("PRIVMSG #test :hello from IRC").await;
    let line = alice
        .expect("carol's line", |el| {
            el.name() == "message" && el.attr("from") == Some(&format!("{ROOM}/carol"))
        })
        .await;
    assert_eq!(line.attr("type"), Some("groupchat"));
    assert_eq!(
        line.get_child("body", NS).map(|b| b.text()).as_deref(),
        Some("hello from IRC")
    );
    // And the other way.
    alice
        .send(stanza(
            "message",
            &[("to", ROOM), ("type", "groupchat")],
            vec![body("hello from XMPP")],
        ))
        .await;
    carol
        .expect("alice's line", |l| {
            l.starts_with(":alice!") && l.ends_with("PRIVMSG #test :hello from XMPP")
        })
        .await;

    let status = qs.terminate();
    assert_eq!(status.code(), Some(143), "exit status after SIGTERM");
    for (pid, cmd) in &servers {
        assert!(
            cmdline(*pid).as_ref() != Some(cmd),
            "{cmd} (pid {pid}) still runs after the script exited"
        );
    }
    for port in PORTS {
        assert!(
            !listening(port),
            "{port} still listens after the script exited"
        );
    }
    assert!(!dir.exists(), "{} is left behind", dir.display());
    eprintln!("quick start test took {:.1?}", started.elapsed());
}
