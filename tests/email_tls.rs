//! Mail over TLS: STARTTLS and implicit TLS on IMAP and on submission,
//! the servers' certificate checked against the admin's `ca_file`.

mod harness;

use std::time::Duration;

use harness::client::{error_text, TestClient};
use harness::stanzas::{body, register_and_subscribe, register_form, stanza};
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

const MAIL: &str = "mail.localhost";
const BOB: &str = "bob\\40example.org@mail.localhost";
const ALICE: &[(&str, &str)] = &[("email", "alice@example.org"), ("password", "pw")];

/// Ferry again with `edit` made to its config.
async fn restart_ferry(w: &mut World, edit: impl FnOnce(String) -> String) {
    w.ferry.terminate();
    let path = w.tmp.path().join("ferry.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(config)).unwrap();
    w.ferry.launch();
    w.ferry.wait_links(2).await;
}

/// A message from alice becomes bob's `n`th mail, and a mail from bob
/// reaches alice: both servers passed once more.
async fn both_ways(w: &World, alice: &mut TestClient, n: usize, text: &str) {
    let message = stanza(
        "message",
        &[("to", BOB), ("type", "chat"), ("id", &format!("t{n}"))],
        vec![body(&format!("to bob {text}"))],
    );
    alice.send(message).await;
    let mail = w.mail.as_ref().unwrap();
    let inbox = mail.wait_inbox("bob", n, Duration::from_secs(15)).await;
    let sent = &inbox[n - 1];
    assert!(sent.contains(&format!("to bob {text}")), "{sent}");
    let back = format!("to alice {text}");
    let raw = format!("From: bob@example.org\nTo: alice@example.org\nSubject: Re\n\n{back}\n");
    mail.deliver("bob@example.org", "alice@example.org", &raw)
        .await;
    let from_bob = |el: &Element| {
        el.name() == "message" && el.attr("from").is_some_and(|f| f.starts_with(BOB))
    };
    let got = alice.expect("bob's mail", from_bob).await;
    assert!(String::from(&got).contains(&back), "{got:?}");
}

#[tokio::test]
async fn mail_passes_over_starttls_checked_against_the_ca_file() {
    let mut w = World::start_mail().await;
    let tls = w.mail.as_mut().unwrap().use_tls();
    let starttls = |c: String| {
        assert!(c.contains("tls = \"none\""));
        c.replace("tls = \"none\"", "tls = \"starttls\"")
    };
    restart_ferry(&mut w, starttls).await;

    // Without the CA, the servers' certificate is not trusted: the
    // registration is refused and says why.
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    let refused = alice.iq(MAIL, true, register_form(ALICE)).await;
    assert_eq!(refused.attr("type"), Some("error"), "{refused:?}");
    let why = error_text(&refused);
    assert!(
        why.contains("TLS") && why.contains("UnknownIssuer"),
        "{why}"
    );

    // With it, both servers are reached over TLS.
    let ca_file = format!("ca_file = \"{}\"\n", tls.ca.display());
    restart_ferry(&mut w, |c| {
        assert!(c.contains("[bridge.email]\n"));
        c.replace("[bridge.email]\n", &format!("[bridge.email]\n{ca_file}"))
    })
    .await;
    register_and_subscribe(&mut alice, MAIL, ALICE).await;
    both_ways(&w, &mut alice, 1, "over STARTTLS").await;

    // The servers say so: logins inside TLS only.
    let mail = w.mail.as_ref().unwrap();
    let logs = mail.logs();
    assert!(
        logs.contains("user=<alice@example.org>, method=PLAIN") && logs.contains(", TLS"),
        "{logs}"
    );
    assert!(logs.contains("TLS connection established from"), "{logs}");

    // Implicit TLS (IMAPS, SMTPS), named by URL: those ports speak TLS
    // only, so a mail through them went over it.
    let (imap, smtp) = (mail.imap_port, mail.smtp_port);
    restart_ferry(&mut w, |c| {
        c.replace(
            &format!("\"127.0.0.1:{imap}\""),
            &format!("\"imaps://127.0.0.1:{}\"", tls.imaps_port),
        )
        .replace(
            &format!("\"127.0.0.1:{smtp}\""),
            &format!("\"smtps://127.0.0.1:{}\"", tls.smtps_port),
        )
    })
    .await;
    both_ways(&w, &mut alice, 2, "over implicit TLS").await;
}
