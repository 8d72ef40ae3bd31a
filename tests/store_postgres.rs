//! ferry on PostgreSQL: the whole product with the scale-out store.

mod harness;

use std::process::Command;

use harness::client::{result, TestClient};
use harness::postgres::Postgres;
use harness::stanzas::register_and_subscribe;
use harness::{World, IRC};
use tokio_xmpp::parsers::minidom::Element;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // base64 of 0..32

fn show_registration() -> Element {
    Element::builder("command", "http://jabber.org/protocol/commands")
        .attr(harness::client::ncname("node"), "show-registration")
        .attr(harness::client::ncname("action"), "execute")
        .build()
}

fn on_postgres(config: String, pg: &Postgres, key: Option<&str>) -> String {
    let start = config.find("url = \"sqlite://").unwrap();
    let end = start + config[start..].find('\n').unwrap();
    let mut store = format!("url = \"{}\"", pg.url());
    if let Some(key) = key {
        store.push_str(&format!("\nkey = \"{key}\""));
    }
    format!("{}{}{}", &config[..start], store, &config[end..])
}

#[tokio::test]
async fn registrations_survive_a_restart_encrypted_on_postgres() {
    let pg = Postgres::start();
    let mut w = World::start_with(|c| on_postgres(c, &pg, Some(KEY))).await;
    let mut c = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    c.available().await;
    register_and_subscribe(
        &mut c,
        IRC,
        &[("nick", "alice"), ("password", "pg-secret-pw")],
    )
    .await;
    let stored = pg.psql("SELECT user_jid, fields, secrets FROM registrations");
    assert!(
        stored.contains("alice@localhost") && stored.contains("\"nick\":\"alice\""),
        "{stored}"
    );
    assert!(
        !stored.contains("pg-secret-pw"),
        "password stored in clear: {stored}"
    );

    let (status, _) = w.ferry.terminate();
    assert!(status.success());
    w.ferry.launch();
    w.ferry.wait_links(2).await;
    let shown = result(c.iq(IRC, true, show_registration()).await).unwrap();
    let text = String::from(&shown);
    assert!(text.contains("alice") && text.contains("(set)"), "{text}");
}

#[tokio::test]
async fn postgres_without_a_key_is_refused_clearly() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[xmpp]\nhost = \"127.0.0.1\"\nport = 5347\n[store]\nurl = \"{}\"\n[access]\nallowed_domains = [\"localhost\"]\n\
         [[bridge]]\nkind = \"irc\"\njid = \"irc.localhost\"\nsecret = \"s\"\n[bridge.irc]\nnetworks = [\"127.0.0.1:6667\"]\n",
        pg.url()
    );
    let path = dir.path().join("ferry.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("--config")
        .arg(&path)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("store.key"), "{err}");
}
