//! The e-mail bridge through a real dovecot and postfix.

mod harness;

use std::time::Duration;

use harness::client::{error_condition, error_text, result, TestClient};
use harness::stanzas::{body, register_and_subscribe, register_form, stanza};
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

const MAIL: &str = "mail.localhost";
const BOB: &str = "bob\\40example.org@mail.localhost";

fn mail_to(id: &str, text: &str, extra: Vec<Element>) -> Element {
    let mut children = vec![body(text)];
    children.extend(extra);
    stanza(
        "message",
        &[("to", BOB), ("type", "chat"), ("id", id)],
        children,
    )
}

fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

async fn registered_alice(w: &World) -> TestClient {
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.prosody.c2s).await;
    alice.available().await;
    register_and_subscribe(
        &mut alice,
        MAIL,
        &[
            ("email", "alice@example.org"),
            ("password", "pw"),
            ("name", "Alice Liddell"),
        ],
    )
    .await;
    alice
}

#[tokio::test]
async fn registration_logs_in_to_both_servers() {
    let w = World::start_mail().await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.prosody.c2s).await;
    let wrong = alice
        .iq(
            MAIL,
            true,
            register_form(&[("email", "alice@example.org"), ("password", "nope")]),
        )
        .await;
    assert_eq!(error_condition(&wrong), "not-authorized");
    let malformed = alice
        .iq(
            MAIL,
            true,
            register_form(&[("email", "not-an-address"), ("password", "pw")]),
        )
        .await;
    assert_eq!(error_condition(&malformed), "not-acceptable");
    // A server the user names on a loopback address: refused by policy.
    let private = alice
        .iq(
            MAIL,
            true,
            register_form(&[
                ("email", "alice@example.org"),
                ("password", "pw"),
                ("smtp", "127.0.0.1:25"),
            ]),
        )
        .await;
    assert_eq!(error_condition(&private), "not-acceptable");
    assert!(
        error_text(&private).contains("smtp"),
        "{}",
        error_text(&private)
    );
    let ok = alice
        .iq(
            MAIL,
            true,
            register_form(&[("email", "alice@example.org"), ("password", "pw")]),
        )
        .await;
    result(ok);
}

#[tokio::test]
async fn sent_mail_lands_with_its_headers_and_threads() {
    let w = World::start_mail().await;
    let alice = registered_alice(&w).await;
    let subject = Element::builder("subject", harness::client::NS)
        .append("Tea?")
        .build();
    let thread = Element::builder("thread", harness::client::NS)
        .append("parent.1@example.org")
        .build();
    alice
        .send(mail_to(
            "m1",
            "Shall we have tea at five?\nGrüße",
            vec![subject, thread],
        ))
        .await;
    let mail = w.mail.as_ref().unwrap();
    let inbox = mail.wait_inbox("bob", 1, Duration::from_secs(15)).await;
    let m = &inbox[0];
    assert!(
        header(m, "From").unwrap().contains("alice@example.org"),
        "{m}"
    );
    assert!(header(m, "From").unwrap().contains("Alice Liddell"), "{m}");
    assert_eq!(header(m, "To"), Some("bob@example.org"));
    assert_eq!(header(m, "Subject"), Some("Tea?"));
    assert_eq!(header(m, "In-Reply-To"), Some("<parent.1@example.org>"));
    assert!(header(m, "Message-ID").unwrap().ends_with("@example.org>"));
    assert!(header(m, "Date").is_some());
    assert!(m.contains("text/plain"), "{m}");
    assert!(m.contains("Shall we have tea at five?"));
    // Without a subject, the first line is the subject.
    alice
        .send(mail_to("m2", "Second thoughts\nabout the tea", vec![]))
        .await;
    let inbox = mail.wait_inbox("bob", 2, Duration::from_secs(15)).await;
    assert!(inbox
        .iter()
        .any(|m| header(m, "Subject") == Some("Second thoughts")));
}

#[tokio::test]
async fn a_mail_waits_while_postfix_is_down_and_survives_a_crash() {
    let mut w = World::start_mail().await;
    let alice = registered_alice(&w).await;
    w.mail.as_mut().unwrap().stop_postfix();
    alice
        .send(mail_to("q1", "queued while the server is down", vec![]))
        .await;
    // The mail is in the store; ferry dies hard before it can be sent.
    tokio::time::sleep(Duration::from_secs(1)).await;
    w.ferry.kill();
    w.mail.as_mut().unwrap().start_postfix();
    w.ferry.launch();
    w.ferry.wait_links(2).await;
    // alice is still online: the probe at link-up restarts her session,
    // whose outbox sends the mail.
    let mail = w.mail.as_ref().unwrap();
    let inbox = mail.wait_inbox("bob", 1, Duration::from_secs(30)).await;
    assert!(inbox[0].contains("queued while the server is down"));
    // Once, not twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mail.inbox("bob").len(), 1);
    drop(alice);
}
