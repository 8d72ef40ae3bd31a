//! Files across the gateway (SPEC §8), through Prosody's own upload
//! service (mod_http_file_share), dovecot + postfix and ngircd.

mod harness;

use std::time::Duration;

use base64::Engine;
use harness::client::{error_condition, TestClient, NS};
use harness::files::{download, upload, with_uploads};
use harness::stanzas::{body, register_and_subscribe, stanza};
use harness::World;
use mail_parser::{MessageParser, MimeHeaders};
use tokio_xmpp::parsers::minidom::Element;

const MAIL: &str = "mail.localhost";
const BOB: &str = "bob\\40example.org@mail.localhost";
const OOB: &str = "jabber:x:oob";

fn noise(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

/// A message to `to` carrying `url` as its file (XEP-0066), as
/// Conversations sends one: the body is the URL.
fn file_message(to: &str, id: &str, text: &str, url: &str) -> Element {
    let oob = Element::builder("x", OOB)
        .append(Element::builder("url", OOB).append(url))
        .build();
    stanza(
        "message",
        &[("to", to), ("type", "chat"), ("id", id)],
        vec![body(text), oob],
    )
}

/// The first mail in bob's INBOX, once there is one.
async fn first_mail_to_bob(w: &World) -> String {
    let mail = w.mail.as_ref().unwrap();
    let mails = mail.wait_inbox("bob", 1, Duration::from_secs(15)).await;
    mails.into_iter().next().unwrap()
}

fn oob_url(el: &Element) -> Option<String> {
    el.get_child("x", OOB)
        .and_then(|x| x.get_child("url", OOB))
        .map(|u| u.text())
}

async fn registered_alice(w: &World) -> TestClient {
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    let form = [
        ("email", "alice@example.org"),
        ("password", "pw"),
        ("name", "Alice"),
    ];
    register_and_subscribe(&mut alice, MAIL, &form).await;
    alice
}

/// A mail world with the upload service, big mails allowed, and `edit`
/// applied to ferry's mail bridge table.
async fn world(bridge: &'static str) -> World {
    let mut w = World::start_mail_with(|c| {
        let table = "jid = \"mail.localhost\"\n";
        assert!(c.contains(table));
        c.replace(table, &format!("{table}{bridge}\n"))
    })
    .await;
    w.mail.as_mut().unwrap().allow_big_mail();
    with_uploads(&mut w).await;
    w
}

#[tokio::test]
async fn a_mails_attachments_arrive_as_links_to_the_files() {
    let w = world("max_attachment = 2500000").await;
    let mut alice = registered_alice(&w).await;
    let pdf = noise(2_000_000);
    let png = noise(20_000);
    let big = noise(2_600_000);
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let raw = format!(
        "From: Carol <carol@example.net>\nSubject: the files\n\
         Content-Type: multipart/mixed; boundary=XX\n\n\
         --XX\nContent-Type: text/plain\n\nsee the files\n\
         --XX\nContent-Type: image/png\nContent-Disposition: inline\nContent-ID: <p1>\n\
         Content-Transfer-Encoding: base64\n\n{}\n\
         --XX\nContent-Type: application/pdf\n\
         Content-Disposition: attachment; filename=\"report.pdf\"\n\
         Content-Transfer-Encoding: base64\n\n{}\n\
         --XX\nContent-Type: application/octet-stream\n\
         Content-Disposition: attachment; filename=\"big.bin\"\n\
         Content-Transfer-Encoding: base64\n\n{}\n--XX--\n",
        b64(&png),
        b64(&pdf),
        b64(&big)
    );
    let mail = w.mail.as_ref().unwrap();
    mail.deliver("carol@example.net", "alice@example.org", &raw)
        .await;
    let carol = "carol\\40example.net@mail.localhost";
    let from_carol = |el: &Element| {
        el.name() == "message" && el.attr("from").is_some_and(|f| f.starts_with(carol))
    };
    let text = alice.expect("the mail's text", from_carol).await;
    let body = text.get_child("body", NS).unwrap().text();
    assert!(body.starts_with("see the files"), "{body}");
    assert!(
        body.contains("big.bin") && body.contains("not forwarded"),
        "{body}"
    );
    assert!(oob_url(&text).is_none());
    let mut got = Vec::new();
    for _ in 0..2 {
        let link = alice.expect("a file", from_carol).await;
        let url = oob_url(&link).expect("an OOB link");
        assert_eq!(link.get_child("body", NS).unwrap().text(), url);
        got.push(download(&url).await);
    }
    assert_eq!(got, vec![png, pdf], "the inline image, then the PDF");
    // Over 1 MB: fetched a part at a time, its files never whole in memory.
    let log = w.ferry.log();
    assert!(
        log.contains("a big mail is fetched a part at a time"),
        "{log}"
    );
}

#[tokio::test]
async fn a_file_sent_to_a_mail_contact_arrives_attached() {
    let w = world("").await;
    let mut alice = registered_alice(&w).await;
    let pdf = noise(300_000);
    let url = upload(&mut alice, "report.pdf", "application/pdf", &pdf).await;
    alice.send(file_message(BOB, "f1", &url, &url)).await;
    let raw = first_mail_to_bob(&w).await;
    let mail = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert_eq!(mail.subject(), Some("report.pdf"));
    assert!(!mail.body_text(0).unwrap_or_default().contains("http"));
    let part = mail.attachments().next().expect("an attachment");
    assert_eq!(part.attachment_name(), Some("report.pdf"));
    let ctype = part.content_type().unwrap();
    assert_eq!(
        (ctype.ctype(), ctype.subtype()),
        ("application", Some("pdf"))
    );
    assert_eq!(part.contents(), &pdf[..]);
}

#[tokio::test]
async fn links_that_may_not_be_fetched_or_stall_send_no_mail() {
    let w = world("fetch_timeout = 2").await;
    let mut alice = registered_alice(&w).await;
    let stall = harness::files::stalling_server().await;
    let cases = [
        (
            "e1",
            format!("http://localhost:{stall}/x.pdf"),
            "not-acceptable",
        ),
        ("e2", "ftp://127.0.0.1/x.pdf".to_owned(), "not-acceptable"),
        (
            "e3",
            format!("http://127.0.0.1:{stall}/y.pdf"),
            "remote-server-timeout",
        ),
    ];
    for (id, url, condition) in cases {
        alice.send(file_message(BOB, id, &url, &url)).await;
        let error = alice
            .expect("the error", |el| {
                el.name() == "message" && el.attr("id") == Some(id)
            })
            .await;
        assert_eq!(el_type(&error), Some("error"));
        assert_eq!(error_condition(&error), condition, "{url}");
    }
    // Someone not registered: refused before anything is fetched (the
    // stalling link would have been a timeout).
    let mut stranger = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    stranger.available().await;
    let url = format!("http://127.0.0.1:{stall}/z.pdf");
    stranger.send(file_message(BOB, "e4", &url, &url)).await;
    let error = stranger
        .expect("the refusal", |el| {
            el.name() == "message" && el.attr("id") == Some("e4")
        })
        .await;
    assert_eq!(error_condition(&error), "registration-required");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(w.mail.as_ref().unwrap().inbox("bob").is_empty());
}

fn el_type(el: &Element) -> Option<&str> {
    el.attr("type")
}

#[tokio::test]
async fn a_file_accepted_before_a_crash_is_mailed_once_after_it() {
    let mut w = world("").await;
    let mut alice = registered_alice(&w).await;
    let pdf = noise(200_000);
    let url = upload(&mut alice, "notes.pdf", "application/pdf", &pdf).await;
    // No mail server: the mail waits in the outbox, with its file.
    w.mail.as_mut().unwrap().stop_postfix();
    alice.send(file_message(BOB, "k1", "my notes", &url)).await;
    let db = w.tmp.path().join("ferry.db");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !outbox_holds_a_mail(&db) {
        assert!(tokio::time::Instant::now() < deadline, "not in the outbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.ferry.kill();
    w.mail.as_mut().unwrap().start_postfix();
    w.ferry.launch();
    let mail = w.mail.as_ref().unwrap();
    let mails = mail.wait_inbox("bob", 1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mail.inbox("bob").len(), 1, "mailed once");
    let parsed = MessageParser::default().parse(mails[0].as_bytes()).unwrap();
    assert!(parsed.body_text(0).unwrap_or_default().contains("my notes"));
    let part = parsed.attachments().next().expect("the attachment");
    assert_eq!(part.attachment_name(), Some("notes.pdf"));
    assert_eq!(part.contents(), &pdf[..]);
}

/// Killed (-9) while a big mail's attachment was being fetched into the
/// store: after the restart the mail is fetched again and arrives once.
#[tokio::test]
async fn a_big_mail_cut_off_by_a_crash_arrives_once_after_it() {
    let mut w = world("max_attachment = 20000000").await;
    let mut alice = registered_alice(&w).await;
    let big = noise(8_000_000);
    let raw = format!(
        "From: Carol <carol@example.net>\nSubject: the dump\n\
         Content-Type: multipart/mixed; boundary=XX\n\n\
         --XX\nContent-Type: text/plain\n\nthe dump\n\
         --XX\nContent-Type: application/octet-stream\n\
         Content-Disposition: attachment; filename=\"dump.bin\"\n\
         Content-Transfer-Encoding: base64\n\n{}\n--XX--\n",
        base64::engine::general_purpose::STANDARD.encode(&big)
    );
    let mail = w.mail.as_ref().unwrap();
    mail.deliver("carol@example.net", "alice@example.org", &raw)
        .await;
    // Part of the attachment is in the store, not all of it: kill.
    let db = w.tmp.path().join("ferry.db");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !a_file_is_half_stored(&db) {
        assert!(tokio::time::Instant::now() < deadline, "no slice stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.ferry.kill();
    assert!(
        a_file_is_half_stored(&db),
        "the fetch ended before the kill"
    );
    w.ferry.launch();
    let carol = "carol\\40example.net@mail.localhost";
    let from_carol = |el: &Element| {
        el.name() == "message" && el.attr("from").is_some_and(|f| f.starts_with(carol))
    };
    let text = alice.expect("the mail's text", from_carol).await;
    let body = text.get_child("body", NS).unwrap().text();
    assert!(body.starts_with("the dump"), "{body}");
    let link = alice.expect("the file", from_carol).await;
    let url = oob_url(&link).expect("an OOB link");
    assert!(download(&url).await == big, "the file whole");
    assert!(
        !alice.arrives(Duration::from_secs(3), from_carol).await,
        "the mail came twice"
    );
}

/// Whether the store holds a file begun but not finished.
fn a_file_is_half_stored(db: &std::path::Path) -> bool {
    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  print(c.execute('SELECT COUNT(*) FROM files f WHERE complete = 0 AND \
                  EXISTS (SELECT 1 FROM file_chunks WHERE file_id = f.id)').fetchone()[0])";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(db)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim() != "0" && out.status.success()
}

fn outbox_holds_a_mail(db: &std::path::Path) -> bool {
    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  print(c.execute('SELECT COUNT(*) FROM outbox').fetchone()[0])";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(db)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "1"
}

#[tokio::test]
async fn a_file_reaches_irc_as_its_link() {
    let w = World::start_irc().await;
    let (alice, mut carol, _dave) = harness::rooms::alice_in_the_room(&w).await;
    let url = "https://files.example.org/share/cat.jpg";
    // To the room: the body is the link, and the link is the line.
    let room = harness::rooms::ROOM;
    let oob = Element::builder("x", OOB)
        .append(Element::builder("url", OOB).append(url))
        .build();
    alice
        .send(stanza(
            "message",
            &[("to", room), ("type", "groupchat"), ("id", "r1")],
            vec![body(url), oob],
        ))
        .await;
    let line = carol
        .expect("the link in #chan", |l| l.contains("PRIVMSG #chan"))
        .await;
    assert!(line.ends_with(&format!(":{url}")), "{line}");
    // To a contact, with words: the words, then the link on its own line.
    let to_carol = "carol%127.0.0.1@irc.localhost";
    alice
        .send(file_message(to_carol, "d1", "look at this", url))
        .await;
    assert_eq!(carol.next_message(false).await.1, "look at this");
    assert_eq!(carol.next_message(false).await.1, url);
}

const SI: &str = "http://jabber.org/protocol/si";
const FT: &str = "http://jabber.org/protocol/si/profile/file-transfer";
const IBB: &str = "http://jabber.org/protocol/ibb";

#[tokio::test]
async fn a_file_sent_by_stream_initiation_is_mailed() {
    let w = world("").await;
    let mut alice = registered_alice(&w).await;
    let info = harness::stanzas::disco_info(&mut alice, BOB, None).await;
    for feature in [SI, FT, IBB] {
        assert!(info.features.contains(feature), "{feature}");
    }
    let data = noise(300_000);
    let offer: Element = format!(
        "<si xmlns='{SI}' id='s1' mime-type='application/pdf' profile='{FT}'>\
         <file xmlns='{FT}' name='scan.pdf' size='{}'/>\
         <feature xmlns='http://jabber.org/protocol/feature-neg'>\
         <x xmlns='jabber:x:data' type='form'><field var='stream-method' type='list-single'>\
         <option><value>http://jabber.org/protocol/bytestreams</value></option>\
         <option><value>{IBB}</value></option></field></x></feature></si>",
        data.len()
    )
    .parse()
    .unwrap();
    // To a resource of the contact, as clients send to a full JID.
    let to = format!("{BOB}/ferry");
    let answer = harness::client::result(alice.iq(&to, true, offer).await).expect("accepted");
    assert!(
        String::from(&answer).contains(IBB),
        "{}",
        String::from(&answer)
    );
    let open: Element = format!("<open xmlns='{IBB}' sid='s1' block-size='4096' stanza='iq'/>")
        .parse()
        .unwrap();
    assert!(alice.iq(&to, true, open).await.attr("type") == Some("result"));
    for (seq, block) in data.chunks(4096).enumerate() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(block);
        let el: Element = format!("<data xmlns='{IBB}' sid='s1' seq='{seq}'>{b64}</data>")
            .parse()
            .unwrap();
        let answer = alice.iq(&to, true, el).await;
        assert_eq!(
            answer.attr("type"),
            Some("result"),
            "{}",
            String::from(&answer)
        );
    }
    let close: Element = format!("<close xmlns='{IBB}' sid='s1'/>").parse().unwrap();
    assert!(alice.iq(&to, true, close).await.attr("type") == Some("result"));
    let raw = first_mail_to_bob(&w).await;
    let mail = MessageParser::default().parse(raw.as_bytes()).unwrap();
    let part = mail.attachments().next().expect("an attachment");
    assert_eq!(part.attachment_name(), Some("scan.pdf"));
    assert_eq!(part.contents(), &data[..]);
}

/// An IRC world with uploads, `irc` added to `[bridge.irc]`.
async fn irc_world(irc: &'static str) -> World {
    let mut w = World::start_irc_with(move |c, _| {
        let table = "[bridge.irc]\n";
        assert!(c.contains(table));
        c.replace(table, &format!("{table}{irc}\n"))
    })
    .await;
    with_uploads(&mut w).await;
    w
}

/// bob on IRC offers `data` to alice by DCC SEND from a loopback port;
/// returns whether the file was taken whole before `wait` ran out.
async fn offer_by_dcc(bob: &mut harness::ircd::IrcClient, data: Vec<u8>, wait: Duration) -> bool {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let size = data.len();
    bob.send(&format!(
        "PRIVMSG alice :\x01DCC SEND \"holiday photos.bin\" 2130706433 {port} {size}\x01"
    ))
    .await;
    let sent = async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        socket.write_all(&data).await.unwrap();
        // The receiver acknowledges every byte, as DCC has it.
        let mut ack = [0u8; 4];
        loop {
            socket.read_exact(&mut ack).await.unwrap();
            if u32::from_be_bytes(ack) as usize == size {
                return;
            }
        }
    };
    tokio::time::timeout(wait, sent).await.is_ok()
}

const BOB_IRC: &str = "bob%127.0.0.1@irc.localhost";

#[tokio::test]
async fn a_file_offered_by_dcc_arrives_as_a_link() {
    let w = irc_world("dcc_receive = true\ndcc_allow = [\"127.0.0.0/8\"]").await;
    let mut bob = harness::ircd::IrcClient::connect(w.irc_port(), "bob").await;
    let mut alice = harness::stanzas::online_on_irc(&w, "alice", "alice")
        .await
        .0;
    let data = noise(1_048_576);
    assert!(offer_by_dcc(&mut bob, data.clone(), Duration::from_secs(20)).await);
    let link = alice
        .expect("the file", |el| {
            el.name() == "message" && el.attr("from").is_some_and(|f| f.starts_with(BOB_IRC))
        })
        .await;
    let url = oob_url(&link).expect("an OOB link");
    assert_eq!(link.get_child("body", NS).unwrap().text(), url);
    assert!(url.ends_with("holiday%20photos.bin"), "{url}");
    assert_eq!(download(&url).await, data);
}

#[tokio::test]
async fn dcc_offers_not_taken_are_shown_and_never_fetched() {
    for (config, says) in [
        ("", "this gateway takes no DCC"),
        ("dcc_receive = true", "private address"),
    ] {
        let w = irc_world(config).await;
        let mut bob = harness::ircd::IrcClient::connect(w.irc_port(), "bob").await;
        let mut alice = harness::stanzas::online_on_irc(&w, "alice", "alice")
            .await
            .0;
        let taken = offer_by_dcc(&mut bob, noise(1000), Duration::from_secs(2)).await;
        assert!(!taken, "{config}: the offer was fetched");
        let shown = alice
            .expect("the offer as text", |el| {
                el.name() == "message" && el.attr("from").is_some_and(|f| f.starts_with(BOB_IRC))
            })
            .await;
        let body = shown.get_child("body", NS).unwrap().text();
        assert!(
            body.contains("holiday photos.bin") && body.contains(says),
            "{body}"
        );
        assert!(oob_url(&shown).is_none());
    }
}
