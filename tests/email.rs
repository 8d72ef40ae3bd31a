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

/// The Message-IDs in ferry's outbox, read straight from its SQLite file.
fn outbox_message_ids(db: &std::path::Path) -> Vec<String> {
    let script = "import sqlite3, json, sys\n\
                  rows = sqlite3.connect(sys.argv[1]).execute('SELECT payload FROM outbox')\n\
                  print('\\n'.join(json.loads(p)['message_id'] for (p,) in rows))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn registered_alice(w: &World) -> TestClient {
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
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
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
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
    // The mail is in the store, with its Message-ID; ferry dies hard before
    // it can be sent.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stored = outbox_message_ids(&w.tmp.path().join("ferry.db"));
    assert_eq!(
        stored.len(),
        1,
        "the mail is committed before anything else"
    );
    w.ferry.kill();
    w.mail.as_mut().unwrap().start_postfix();
    w.ferry.launch();
    w.ferry.wait_links(2).await;
    // alice is still online: the probe at link-up restarts her session,
    // whose outbox sends the mail.
    let mail = w.mail.as_ref().unwrap();
    let inbox = mail.wait_inbox("bob", 1, Duration::from_secs(30)).await;
    assert!(inbox[0].contains("queued while the server is down"));
    assert_eq!(
        header(&inbox[0], "Message-ID"),
        Some(format!("<{}>", stored[0]).as_str()),
        "the resend carries the Message-ID chosen before the crash"
    );
    // Once, not twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mail.inbox("bob").len(), 1);
    drop(alice);
}

#[tokio::test]
async fn every_accepted_mail_survives_a_kill() {
    let mut w = World::start_mail().await;
    let alice = registered_alice(&w).await;
    for i in 0..20 {
        alice
            .send(mail_to(
                &format!("k{i}"),
                &format!("mail number {i}"),
                vec![],
            ))
            .await;
    }
    // Killed as soon as all 20 are accepted (in the outbox or already
    // handed to SMTP), with sending under way: what is in the outbox must
    // survive.
    let db = w.tmp.path().join("ferry.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while outbox_message_ids(&db).len() + w.mail.as_ref().unwrap().inbox("bob").len() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the 20 chats were not all accepted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.ferry.kill();
    w.ferry.launch();
    w.ferry.wait_links(2).await;
    let mail = w.mail.as_ref().unwrap();
    // 20 distinct mails: a duplicate of the one in flight may come first.
    let subjects = |inbox: &[String]| {
        let set: std::collections::HashSet<_> =
            inbox.iter().filter_map(|m| header(m, "Subject")).collect();
        set.len()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut inbox = mail.inbox("bob");
    while subjects(&inbox) < 20 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        inbox = mail.inbox("bob");
    }
    // Every one arrives. The one handed to SMTP when ferry died may come
    // twice (sent, not yet marked done), with the same Message-ID, which
    // mail clients take as one mail.
    let mut ids = std::collections::HashSet::new();
    for i in 0..20 {
        let subject = format!("mail number {i}");
        let copies: Vec<&String> = inbox
            .iter()
            .filter(|m| header(m, "Subject") == Some(subject.as_str()))
            .collect();
        assert!(!copies.is_empty(), "mail {i} was lost");
        let mine: std::collections::HashSet<_> =
            copies.iter().map(|m| header(m, "Message-ID")).collect();
        assert_eq!(mine.len(), 1, "mail {i} was sent as different mails");
        ids.extend(mine);
    }
    assert_eq!(ids.len(), 20);
    assert!(inbox.len() <= 21, "{} mails for 20", inbox.len());
    drop(alice);
}

#[tokio::test]
async fn a_mail_being_retried_is_sent_after_its_user_leaves() {
    let mut w = World::start_mail().await;
    let alice = registered_alice(&w).await;
    w.mail.as_mut().unwrap().stop_postfix();
    alice
        .send(mail_to("r1", "sent while alice was away", vec![]))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(alice);
    tokio::time::sleep(Duration::from_secs(1)).await;
    w.mail.as_mut().unwrap().start_postfix();
    let mail = w.mail.as_ref().unwrap();
    let inbox = mail.wait_inbox("bob", 1, Duration::from_secs(30)).await;
    assert!(inbox[0].contains("sent while alice was away"));
}

#[tokio::test]
async fn a_mail_left_waiting_goes_out_after_a_restart_without_its_user() {
    let mut w = World::start_mail().await;
    let alice = registered_alice(&w).await;
    w.mail.as_mut().unwrap().stop_postfix();
    alice
        .send(mail_to("w1", "waiting through a restart", vec![]))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(alice);
    w.ferry.kill();
    w.mail.as_mut().unwrap().start_postfix();
    w.ferry.launch();
    let mail = w.mail.as_ref().unwrap();
    let inbox = mail.wait_inbox("bob", 1, Duration::from_secs(30)).await;
    assert!(inbox[0].contains("waiting through a restart"));
}

#[tokio::test]
async fn a_full_outbox_refuses_its_user_alone() {
    let mut w = World::start_mail_with(|c| c.replace("# outbox = 1000", "outbox = 2")).await;
    let mut alice = registered_alice(&w).await;
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    bob.available().await;
    register_and_subscribe(
        &mut bob,
        MAIL,
        &[("email", "bob@example.org"), ("password", "pw")],
    )
    .await;
    w.mail.as_mut().unwrap().stop_postfix();
    for i in 0..3 {
        alice
            .send(mail_to(&format!("o{i}"), &format!("waiting {i}"), vec![]))
            .await;
    }
    let to_alice = stanza(
        "message",
        &[
            ("to", "alice\\40example.org@mail.localhost"),
            ("type", "chat"),
            ("id", "b1"),
        ],
        vec![body("from bob")],
    );
    bob.send(to_alice).await;
    let refused = alice
        .expect("the third mail refused", |el| {
            el.attr("id") == Some("o2") && el.attr("type") == Some("error")
        })
        .await;
    assert_eq!(error_condition(&refused), "resource-constraint");
    assert!(
        error_text(&refused).contains("limits.outbox"),
        "{refused:?}"
    );
    assert!(
        !bob.arrives(Duration::from_secs(2), |el| el.attr("type")
            == Some("error"))
            .await,
        "bob was refused"
    );
    w.mail.as_mut().unwrap().start_postfix();
    let mail = w.mail.as_ref().unwrap();
    let inbox = mail.wait_inbox("alice", 1, Duration::from_secs(30)).await;
    assert!(inbox[0].contains("from bob"));
    let inbox = mail.wait_inbox("bob", 2, Duration::from_secs(30)).await;
    assert!(inbox.iter().all(|m| !m.contains("waiting 2")));
}

fn from_carol(el: &Element) -> bool {
    el.name() == "message"
        && el.attr("from").map(harness::client::bare) == Some("carol\\40example.net@mail.localhost")
}

fn text_of(el: &Element, child: &str) -> String {
    el.get_child(child, harness::client::NS)
        .map(|c| c.text())
        .unwrap_or_default()
}

#[tokio::test]
async fn received_mail_becomes_messages_threaded_decoded_and_listed() {
    let w = World::start_mail().await;
    let mut alice = registered_alice(&w).await;
    // The session's first look at the INBOX sets the watermark.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mail = w.mail.as_ref().unwrap();
    mail.deliver(
        "carol@example.net",
        "alice@example.org",
        "From: Carol <carol@example.net>\nTo: alice@example.org\nSubject: Lunch\nMessage-ID: <lunch.1@example.net>\n\nLunch at noon?\n",
    )
    .await;
    let got = alice.expect("carol's mail", from_carol).await;
    // `normal` is the default type (RFC 6121 §5.2.2): no attribute.
    assert_eq!(got.attr("type").unwrap_or("normal"), "normal");
    assert_eq!(text_of(&got, "subject"), "Lunch");
    assert_eq!(text_of(&got, "thread"), "lunch.1@example.net");
    assert!(text_of(&got, "body").contains("Lunch at noon?"));

    // A reply threads: In-Reply-To is the mail answered (sent to bob, whose
    // mailbox is on this test server).
    let thread = Element::builder("thread", harness::client::NS)
        .append(text_of(&got, "thread"))
        .build();
    alice.send(mail_to("r1", "Yes!", vec![thread])).await;
    let replies = mail.wait_inbox("bob", 1, Duration::from_secs(15)).await;
    assert_eq!(
        header(&replies[0], "In-Reply-To"),
        Some("<lunch.1@example.net>")
    );
    // Carol's answer further down the conversation keeps its thread: the
    // first mail of its References (SPEC §4, the Message-ID chain).
    mail.deliver(
        "carol@example.net",
        "alice@example.org",
        "From: carol@example.net\nSubject: Re: Lunch\nMessage-ID: <lunch.3@example.net>\n\
         In-Reply-To: <r1@example.org>\nReferences: <lunch.1@example.net> <r1@example.org>\n\n\
         See you there\n",
    )
    .await;
    let answer = alice.expect("carol's answer", from_carol).await;
    assert_eq!(text_of(&answer, "thread"), "lunch.1@example.net");

    // HTML only, a latin-1 body, an attachment.
    mail.deliver(
        "carol@example.net",
        "alice@example.org",
        "From: carol@example.net\nSubject: html\nContent-Type: text/html\n\n<html><body onload=\"x()\"><p>Hello <b>there</b></p><script>steal()</script><img src=\"https://tracker.example/p.gif\" alt=\"\"><a href=\"javascript:y()\" onclick=\"z()\">click</a></body></html>\n",
    )
    .await;
    let got = alice.expect("the HTML mail", from_carol).await;
    assert!(
        text_of(&got, "body").contains("Hello there"),
        "{}",
        text_of(&got, "body")
    );
    assert!(!text_of(&got, "body").contains("<b>"));
    // Beside the text, sanitised XHTML-IM: the bold kept; no script, no
    // remote image, no event attribute, no script link.
    let html = got
        .get_child("html", "http://jabber.org/protocol/xhtml-im")
        .expect("XHTML-IM beside the text");
    let xhtml = String::from(html);
    assert!(
        xhtml.contains("font-weight: bold") && xhtml.contains(">there<"),
        "{xhtml}"
    );
    for banned in [
        "script",
        "steal",
        "img",
        "tracker",
        "onload",
        "onclick",
        "javascript",
    ] {
        assert!(!xhtml.contains(banned), "{banned} in {xhtml}");
    }
    mail.deliver(
        "carol@example.net",
        "alice@example.org",
        "From: carol@example.net\nSubject: latin\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9 cr=E8me\n",
    )
    .await;
    let got = alice.expect("the latin-1 mail", from_carol).await;
    assert!(text_of(&got, "body").contains("Café crème"));
    mail.deliver(
        "carol@example.net",
        "alice@example.org",
        "From: carol@example.net\nSubject: report\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nsee attached\n--XX\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--XX--\n",
    )
    .await;
    let got = alice.expect("the attachment", from_carol).await;
    assert!(
        text_of(&got, "body").contains("report.pdf"),
        "{}",
        text_of(&got, "body")
    );
}

#[tokio::test]
async fn mail_while_offline_arrives_later_and_a_dovecot_restart_loses_nothing() {
    let mut w = World::start_mail().await;
    let mut alice = registered_alice(&w).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mail = |n: u32| {
        format!("From: carol@example.net\nSubject: n{n}\nMessage-ID: <n{n}@example.net>\n\nnumber {n}\n")
    };
    // alice goes offline; mail arrives; she comes back.
    alice.presence(None, Some("unavailable")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    w.mail
        .as_ref()
        .unwrap()
        .deliver("carol@example.net", "alice@example.org", &mail(1))
        .await;
    alice.available().await;
    let got = alice
        .expect("the mail from while offline", from_carol)
        .await;
    assert_eq!(text_of(&got, "subject"), "n1");
    // dovecot restarts: the next mails arrive once each.
    w.mail.as_mut().unwrap().restart_dovecot();
    for n in 2..=3 {
        w.mail
            .as_ref()
            .unwrap()
            .deliver("carol@example.net", "alice@example.org", &mail(n))
            .await;
    }
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let got = alice
            .expect("the mails after the restart", from_carol)
            .await;
        seen.push(text_of(&got, "subject"));
    }
    assert_eq!(seen, ["n2", "n3"]);
    assert!(
        !alice.arrives(Duration::from_secs(3), from_carol).await,
        "a mail was delivered twice"
    );
}

#[tokio::test]
async fn a_refused_mail_is_reported_and_mail_contacts_are_available() {
    // A body over postfix's size limit, which ferry's own must let through.
    let w =
        World::start_mail_with(|c| c.replace("# body_bytes = 65536", "body_bytes = 1000000")).await;
    let mut alice = registered_alice(&w).await;
    // Mail contacts are available once the subscription is approved.
    alice.presence(Some(BOB), Some("subscribe")).await;
    alice
        .expect("bob available", |el| {
            harness::client::presence_from(el, BOB, None)
        })
        .await;
    // Over the server's size limit: a permanent refusal, reported to the
    // resource that sent it, with the reason.
    let huge = "x".repeat(150_000);
    alice.send(mail_to("big1", &huge, vec![])).await;
    let error = alice
        .expect("the refusal", |el| {
            el.attr("id") == Some("big1") && el.attr("type") == Some("error")
        })
        .await;
    assert!(
        error_text(&error).contains("could not be sent"),
        "{}",
        error_text(&error)
    );
    assert!(
        error_text(&error).contains("552") || error_text(&error).to_lowercase().contains("size"),
        "{}",
        error_text(&error)
    );
    assert!(w.mail.as_ref().unwrap().inbox("bob").is_empty());
}

fn numbered(n: u32) -> String {
    format!(
        "From: carol@example.net\nSubject: n{n}\nMessage-ID: <n{n}@example.net>\n\nnumber {n}\n"
    )
}

#[tokio::test]
async fn mail_since_registration_is_delivered_at_the_first_session() {
    let w = World::start_mail().await;
    let mail = w.mail.as_ref().unwrap();
    // Before registering: not to be delivered.
    mail.deliver("carol@example.net", "alice@example.org", &numbered(1))
        .await;
    mail.wait_inbox("alice", 1, Duration::from_secs(15)).await;
    // alice registers without being available: no session yet.
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    let form = register_form(&[("email", "alice@example.org"), ("password", "pw")]);
    result(alice.iq(MAIL, true, form).await);
    mail.deliver("carol@example.net", "alice@example.org", &numbered(2))
        .await;
    mail.wait_inbox("alice", 2, Duration::from_secs(15)).await;
    alice.presence(Some(MAIL), Some("subscribed")).await;
    alice.presence(Some(MAIL), Some("subscribe")).await;
    alice.available().await;
    let got = alice
        .expect("the mail after registration", from_carol)
        .await;
    assert_eq!(text_of(&got, "subject"), "n2");
    assert!(
        !alice.arrives(Duration::from_secs(2), from_carol).await,
        "older mail delivered"
    );
}

#[tokio::test]
async fn without_idle_the_inbox_is_polled_and_a_new_uidvalidity_redelivers_nothing() {
    let mut w = World::start_mail_without_idle().await;
    let mut alice = registered_alice(&w).await;
    async fn deliver(w: &World, n: u32) {
        let stack = w.mail.as_ref().unwrap();
        stack
            .deliver("carol@example.net", "alice@example.org", &numbered(n))
            .await
    }
    for n in 1..=3 {
        deliver(&w, n).await;
        let got = alice.expect("the polled mail", from_carol).await;
        assert_eq!(text_of(&got, "subject"), format!("n{n}"));
    }
    // The server renumbers the mailbox, keeping one mail: its UIDs start
    // again below ferry's watermark. Nothing old is delivered again, and
    // the next mail (whose UID is below the old watermark) is delivered.
    w.mail.as_mut().unwrap().renumber("alice", 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    deliver(&w, 4).await;
    let got = alice
        .expect("the mail after the renumbering", from_carol)
        .await;
    assert_eq!(text_of(&got, "subject"), "n4");
    assert!(!alice.arrives(Duration::from_secs(3), from_carol).await);
}
