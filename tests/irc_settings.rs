//! A network's settings command (SPEC §10): the user's encoding for
//! lines that are not UTF-8, commands sent after connecting, a throttle
//! within the admin's bounds, all effective on the next connection; and
//! on a network with `sasl_external`, the client certificate's
//! fingerprint, which logs the user in by SASL EXTERNAL once registered
//! with NickServ.

mod harness;

use std::time::{Duration, Instant};

use harness::client::{error_condition, ncname, TestClient, NS};
use harness::inspircd::TLS;
use harness::ircd::IrcClient;
use harness::stanzas::{body, online_on_irc, stanza};
use harness::{network_as_table, World};
use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use tokio_xmpp::parsers::minidom::Element;

const COMMANDS: &str = "http://jabber.org/protocol/commands";
const NET: &str = "127.0.0.1@irc.localhost";

/// Executes the network's settings command, submitting `fields` when
/// there are any; the iq's answer.
async fn settings(alice: &mut TestClient, fields: &[(&str, &[&str])]) -> Element {
    let mut command = Element::builder("command", COMMANDS)
        .attr(ncname("node"), "settings")
        .attr(ncname("action"), "execute");
    if !fields.is_empty() {
        let fields = fields
            .iter()
            .map(|(var, values)| {
                let mut field = Field::new(var, FieldType::TextMulti);
                field.values = values.iter().map(|v| v.to_string()).collect();
                field
            })
            .collect();
        let form = DataForm::new(DataFormType::Submit, COMMANDS, fields);
        command = command.append(Element::from(form));
    }
    alice.iq(NET, true, command.build()).await
}

/// The values of a field of the form an answer shows.
fn values(answer: &Element, var: &str) -> Vec<String> {
    let command = answer.get_child("command", COMMANDS).expect("a command");
    let form = command.get_child("x", "jabber:x:data").expect("a form");
    let field = form
        .children()
        .find(|f| f.attr("var") == Some(var))
        .unwrap_or_else(|| panic!("no field {var}: {}", String::from(form)));
    field
        .children()
        .filter(|v| v.name() == "value")
        .map(Element::text)
        .collect()
}

fn completed(answer: &Element) -> bool {
    answer.attr("type") == Some("result")
        && answer
            .get_child("command", COMMANDS)
            .is_some_and(|c| c.attr("status") == Some("completed"))
}

async fn restart(w: &mut World) {
    w.ferry.terminate();
    w.ferry.launch();
    w.ferry.wait_links(2).await;
}

#[tokio::test]
async fn network_settings_take_effect_on_the_next_connection() {
    let mut w = World::start_irc().await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #auto").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let (mut alice, _) = online_on_irc(&w, "alice", "alice").await;

    // Shown with the admin's values.
    let shown = settings(&mut alice, &[]).await;
    assert_eq!(values(&shown, "encoding_in"), ["windows-1252"]);
    assert_eq!(values(&shown, "throttle_burst"), ["10"]);
    // A line break in an after-connect command is refused: it would end
    // the IRC line and start another command. So is a throttle looser
    // than the admin's.
    let refused = settings(&mut alice, &[("after_connect", &["JOIN #a\nQUIT"])]).await;
    assert_eq!(error_condition(&refused), "not-acceptable", "{refused:?}");
    let refused = settings(&mut alice, &[("throttle_burst", &["99"])]).await;
    assert_eq!(error_condition(&refused), "not-acceptable", "{refused:?}");

    let saved = settings(
        &mut alice,
        &[
            ("encoding_in", &["koi8-r"]),
            (
                "after_connect",
                &["PRIVMSG carol :a1", "PRIVMSG carol :a2", "JOIN #auto"],
            ),
            ("throttle_burst", &["1"]),
            ("throttle_rate", &["1"]),
        ],
    )
    .await;
    assert!(completed(&saved), "{saved:?}");
    restart(&mut w).await;

    // The commands are sent on connecting, in order and throttled like
    // any line: one at once, then one a second.
    carol
        .expect("the first command", |l| l.ends_with(":a1"))
        .await;
    let first = Instant::now();
    carol
        .expect("the second command", |l| l.ends_with(":a2"))
        .await;
    carol
        .expect("alice joins by her command", |l| {
            l.starts_with(":alice!") && l.contains("JOIN") && l.contains("#auto")
        })
        .await;
    let took = first.elapsed();
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    // A KOI8-R line is read as KOI8-R.
    carol
        .send_bytes(b"PRIVMSG alice :\xd0\xd2\xc9\xd7\xc5\xd4")
        .await;
    let carols = "carol%127.0.0.1@irc.localhost";
    let hello = alice
        .expect("carol's line", |el| {
            el.name() == "message" && el.attr("from").is_some_and(|f| f.starts_with(carols))
        })
        .await;
    assert_eq!(
        hello.get_child("body", NS).map(Element::text).as_deref(),
        Some("привет")
    );
    // One line at once, then one a second.
    for i in 1..=4 {
        let message = stanza(
            "message",
            &[("to", carols), ("type", "chat")],
            vec![body(&format!("t{i}"))],
        );
        alice.send(message).await;
    }
    carol.expect("the first", |l| l.ends_with(":t1")).await;
    let first = Instant::now();
    carol.expect("the fourth", |l| l.ends_with(":t4")).await;
    let took = first.elapsed();
    assert!(took >= Duration::from_millis(2500), "{took:?}");
}

#[tokio::test]
async fn sasl_external_logs_in_with_the_certificate_the_settings_show() {
    let mut w = World::start_inspircd_conf(
        true,
        |conf| conf + TLS,
        |c, ircd| {
            let policies = format!(
                "tls = true, ca_file = \"{}\", sasl_external = true",
                ircd.ca.display()
            );
            network_as_table(c, &policies)
                .replace(
                    &format!("port = {}", ircd.port),
                    &format!("port = {}", ircd.tls_port),
                )
                .replace(
                    &format!("default_network = \"127.0.0.1:{}\"", ircd.port),
                    "default_network = \"127.0.0.1\"",
                )
        },
    )
    .await;
    let (mut alice, _) = online_on_irc(&w, "alice", "alice").await;
    let shown = settings(&mut alice, &[]).await;
    let fingerprint = values(&shown, "certfp").pop().unwrap();
    assert!(
        fingerprint.len() == 64 && fingerprint.chars().all(|c| c.is_ascii_hexdigit()),
        "{fingerprint}"
    );

    // Through ferry, as a user would: register the nick, add the
    // certificate.
    let nickserv = "NickServ%127.0.0.1@irc.localhost";
    let from_nickserv = |el: &Element, word: &str| {
        el.name() == "message"
            // NickServ's notices come from the network's JID.
            && el.attr("from").is_some_and(|f| f.starts_with(NET))
            && el
                .get_child("body", NS)
                .is_some_and(|b| b.text().to_lowercase().contains(word))
    };
    let says = |text: &str| {
        stanza(
            "message",
            &[("to", nickserv), ("type", "chat")],
            vec![body(text)],
        )
    };
    alice.send(says("REGISTER s3cret alice@example.org")).await;
    alice
        .expect("registered", |el| from_nickserv(el, "registered"))
        .await;
    alice.send(says(&format!("CERT ADD {fingerprint}"))).await;
    alice
        .expect("the fingerprint added", |el| from_nickserv(el, "added"))
        .await;

    // The next connection logs in by the certificate, with no password.
    // (atheme would also log in a certificate it knows without SASL: the
    // log says which way it went.)
    restart(&mut w).await;
    w.ferry
        .wait_log("logged in by SASL EXTERNAL", Duration::from_secs(15))
        .await;
    let ircd = w.inspircd.as_ref().unwrap();
    let mut carol = IrcClient::connect(ircd.port, "carol").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if ircd.account_of(&mut carol, "alice").await.as_deref() == Some("alice") {
            break;
        }
        assert!(Instant::now() < deadline, "alice is not logged in");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
