//! The command line: `ferry [--config P] [run|check-config|migrate]`.

use std::path::Path;
use std::process::{Command, Output};

const SAMPLE: &str = include_str!("../deploy/ferry.toml");

fn ferry(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_config_accepts_the_sample_from_the_default_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ferry.toml"), SAMPLE).unwrap();
    let out = ferry(dir.path(), &["check-config"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn bad_configs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (SAMPLE.replace("[access]", "[access]\nadmin = []"), "admin"),
        (
            SAMPLE.replace("kind = \"email\"", "kind = \"matrix\""),
            "matrix",
        ),
        (
            SAMPLE.replace("tls = \"none\"", "tls = \"none\"\nimpa = \"x\""),
            "impa",
        ),
        // A CA file that cannot be read stops ferry at start, named.
        (
            SAMPLE.replace(
                "tls = \"none\"",
                "tls = \"none\"\nca_file = \"/nonexistent/mail-ca.pem\"",
            ),
            "mail-ca.pem",
        ),
        (
            SAMPLE.replace(
                "networks = [\"127.0.0.1:6667\"]",
                "networks = [\"a:1\", \"a:2\"]",
            ),
            "twice",
        ),
    ];
    for (text, needle) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = ferry(dir.path(), &["--config", "bad.toml", "check-config"]);
        assert!(!out.status.success(), "accepted a config with {needle}");
        assert!(stderr(&out).contains(needle), "{needle}: {}", stderr(&out));
    }
    let out = ferry(dir.path(), &["--config", "missing.toml", "check-config"]);
    assert!(!out.status.success());
}

#[test]
fn migrate_creates_the_database_and_a_private_key_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ferry.toml"), SAMPLE).unwrap();
    let out = ferry(dir.path(), &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("ferry.db").exists());
    let key = std::fs::metadata(dir.path().join("ferry.db.key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    // Twice is fine: migrations are applied once.
    assert!(ferry(dir.path(), &["migrate"]).status.success());
}
