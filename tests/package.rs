//! The Debian package (deploy/deb/build): it installs on this system,
//! creates the `ferry` user and its state directory, its unit passes
//! `systemd-analyze verify`, the packaged binary run as the unit runs it
//! (the ferry user, the packaged sample config pointed at a test Prosody)
//! serves clients, and a purge takes it all away.

mod harness;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::client::TestClient;
use harness::{Prosody, IRC};

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn the_package_installs_serves_and_purges() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("deb");
    let binary = harness::ferry_binary();
    let deb = run(
        "bash",
        &[
            "deploy/deb/build",
            binary.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    let deb = deb.trim();
    let listing = run("dpkg-deb", &["-c", deb]);
    for path in [
        "./usr/bin/ferry",
        "./lib/systemd/system/ferry.service",
        "./etc/ferry/ferry.toml",
        "./usr/share/doc/ferry/examples/prosody.cfg.lua",
    ] {
        assert!(listing.contains(path), "{path} missing:\n{listing}");
    }
    run("dpkg", &["-i", deb]);
    let unit = "/lib/systemd/system/ferry.service";
    run("systemd-analyze", &["verify", unit]);
    let unit_text = std::fs::read_to_string(unit).unwrap();
    assert!(unit_text.contains("User=ferry") && unit_text.contains("ExecStart=/usr/bin/ferry"));
    let owner = run("stat", &["-c", "%U:%G %a", "/var/lib/ferry"]);
    assert_eq!(owner.trim(), "ferry:ferry 750");

    // As the unit would: the ferry user, in its state directory, with the
    // packaged config pointed at a test Prosody.
    let prosody = Prosody::start(tmp.path());
    prosody.add_user("alice", "localhost", "pw");
    let sample = std::fs::read_to_string("/etc/ferry/ferry.toml").unwrap();
    assert!(sample.contains("port = 5347") && sample.contains("sqlite://ferry.db"));
    let config = sample.replace("port = 5347", &format!("port = {}", prosody.component));
    let config_path = "/etc/ferry/test.toml";
    std::fs::write(config_path, config).unwrap();
    run("chgrp", &["ferry", config_path]);
    run("chmod", &["0640", config_path]);
    let log = tmp.path().join("ferry.log");
    // Its own process group: runuser waits for ferry as its child, and
    // both must go at the end.
    use std::os::unix::process::CommandExt;
    let mut ferry = Command::new("runuser")
        .args([
            "-u",
            "ferry",
            "--",
            "/usr/bin/ferry",
            "--config",
            config_path,
            "run",
        ])
        .current_dir("/var/lib/ferry")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("component link up")
        .count()
        < 2
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut alice = TestClient::connect("alice", "localhost", "pw", prosody.c2s).await;
    let info = harness::stanzas::disco_info(&mut alice, IRC, None).await;
    assert!(info.identities.iter().any(|i| i.category == "gateway"));
    // The store and its key went where the unit's WorkingDirectory is.
    let owner = run("stat", &["-c", "%U %a", "/var/lib/ferry/ferry.db.key"]);
    assert_eq!(owner.trim(), "ferry 600");
    harness::kill_group(&mut ferry, "-KILL");
    let _ = ferry.wait();
    // The user can go only once none of its processes is left.
    let gone = Instant::now();
    while Command::new("pgrep")
        .args(["-u", "ferry"])
        .output()
        .unwrap()
        .status
        .success()
    {
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "ferry outlived SIGKILL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    std::fs::remove_file(config_path).unwrap();
    run("dpkg", &["--purge", "ferry"]);
    assert!(!std::path::Path::new("/usr/bin/ferry").exists());
    assert!(!std::path::Path::new("/var/lib/ferry").exists());
    let user = Command::new("getent")
        .args(["passwd", "ferry"])
        .output()
        .unwrap();
    assert!(!user.status.success(), "the ferry user stays after a purge");
}
