//! A throwaway PostgreSQL cluster (Debian's package) on a free loopback
//! port, shared by the store's unit tests and the end-to-end tests.

use std::process::Command;

/// A throwaway PostgreSQL cluster, stopped on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
}

fn pg_bin(name: &str) -> String {
    let base = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| d.filter_map(Result::ok).map(|e| e.path()).max())
        .expect("PostgreSQL server binaries (Debian package postgresql) are required");
    base.join("bin").join(name).display().to_string()
}

fn as_postgres(args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .args(args)
        .output()
        .expect("runuser");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Postgres {
    pub fn start() -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("ferry-pg")
            .tempdir_in("/tmp")
            .unwrap();
        Command::new("chown")
            .args(["postgres:postgres", &dir.path().display().to_string()])
            .status()
            .unwrap();
        let port = super::ports::free_port();
        let data = dir.path().join("data").display().to_string();
        as_postgres(&[
            &pg_bin("initdb"),
            "-D",
            &data,
            "--auth=trust",
            "--username=postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        let pg = Postgres { dir, port };
        pg.launch();
        pg
    }

    fn launch(&self) {
        let d = self.dir.path().display().to_string();
        let data = self.dir.path().join("data").display().to_string();
        let port = self.port;
        let opts = format!("-p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off");
        as_postgres(&[
            &pg_bin("pg_ctl"),
            "-D",
            &data,
            "-l",
            &format!("{d}/log"),
            "-w",
            "-o",
            &opts,
            "start",
        ]);
    }

    /// Runs `sql` with psql as the superuser; its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let port = self.port.to_string();
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-At",
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops the server at once (its clients see their connections drop).
    pub fn stop(&self) {
        let data = self.dir.path().join("data").display().to_string();
        as_postgres(&[
            &pg_bin("pg_ctl"),
            "-D",
            &data,
            "-m",
            "immediate",
            "-w",
            "stop",
        ]);
    }

    /// Starts it again after `stop`, on the same port and data.
    pub fn start_again(&self) {
        self.launch();
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
