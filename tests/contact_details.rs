//! Contact details (SPEC §7): vcard-temp, jabber:iq:last and
//! jabber:iq:version to IRC contacts and room occupants, through Prosody
//! and ngircd; mail contacts' cards through dovecot and postfix.

mod harness;

use std::time::Duration;

use harness::client::{error_condition, result, TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{online_on_irc, query, register_and_subscribe, stanza};
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

const VCARD: &str = "vcard-temp";
const LAST: &str = "jabber:iq:last";
const VERSION: &str = "jabber:iq:version";
const ROOM: &str = "#chan%127.0.0.1@irc.localhost";

fn contact(nick: &str) -> String {
    format!("{nick}%127.0.0.1@irc.localhost")
}

fn vcard() -> Element {
    Element::builder("vCard", VCARD).build()
}

fn field(card: &Element, name: &str) -> Option<String> {
    card.get_child(name, VCARD).map(|f| f.text())
}

/// Asks `to` for its card; the card.
/// Asks `to`'s version; bob, on IRC, sees the CTCP VERSION and answers
/// `reply`. The name the answer gives.
async fn version_of(
    alice: &mut TestClient,
    bob: &mut IrcClient,
    to: &str,
    reply: &str,
) -> Option<String> {
    let id = format!("v-{to}");
    alice
        .send(stanza(
            "iq",
            &[("to", to), ("type", "get"), ("id", &id)],
            vec![query(VERSION)],
        ))
        .await;
    let (from, request) = bob.next_message(false).await;
    assert_eq!(
        (from.as_str(), request.as_str()),
        ("alice", "\x01VERSION\x01")
    );
    bob.send(&format!("NOTICE alice :\x01VERSION {reply}\x01"))
        .await;
    let answer = alice
        .expect("the version", |el| {
            el.name() == "iq" && el.attr("id") == Some(id.as_str())
        })
        .await;
    result(answer)
        .unwrap()
        .get_child("name", VERSION)
        .map(|n| n.text())
}

async fn card_of(c: &mut TestClient, to: &str) -> Element {
    let card = result(c.iq(to, false, vcard()).await).expect("a vCard");
    assert!(card.is("vCard", VCARD), "{}", String::from(&card));
    card
}

#[tokio::test]
async fn cards_idle_times_and_versions_of_contacts_and_occupants() {
    let w = World::start_irc().await;
    let mut bob = IrcClient::connect(w.irc_port(), "bob").await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;

    let card = card_of(&mut alice, &contact("bob")).await;
    assert_eq!(field(&card, "FN").as_deref(), Some("bob"));
    assert_eq!(field(&card, "NICKNAME").as_deref(), Some("bob"));
    let note = field(&card, "NOTE").unwrap_or_default();
    assert!(note.contains("Real name: bob"), "{note}");
    assert!(note.contains("bob@127.0.0.1"), "{note}");

    let last = result(alice.iq(&contact("bob"), false, query(LAST)).await).unwrap();
    let seconds: u64 = last.attr("seconds").unwrap().parse().unwrap();
    assert!(seconds < 120, "{seconds}");

    // The version is bob's client's own answer to CTCP VERSION.
    let name = version_of(
        &mut alice,
        &mut bob,
        &contact("bob"),
        "TestIRC 2.1 on \x02Plan 9\x02",
    )
    .await;
    assert_eq!(name.as_deref(), Some("TestIRC 2.1 on Plan 9"));

    // Someone not on IRC, for each question.
    for payload in [vcard(), query(LAST), query(VERSION)] {
        let answer = alice.iq(&contact("nobody"), false, payload).await;
        assert_eq!(error_condition(&answer), "item-not-found");
    }

    // A room occupant is asked about by the nick.
    bob.send("JOIN #chan").await;
    bob.expect("bob's join", |l| l.contains(" 366 ")).await;
    let join = stanza(
        "presence",
        &[("to", &format!("{ROOM}/alice"))],
        vec![Element::builder("x", "http://jabber.org/protocol/muc").build()],
    );
    alice.send(join).await;
    alice
        .expect("the subject", |el| {
            el.name() == "message"
                && el.get_child("subject", NS).is_some()
                && el.attr("from").is_some_and(|f| f.starts_with(ROOM))
        })
        .await;
    let card = card_of(&mut alice, &format!("{ROOM}/bob")).await;
    assert_eq!(field(&card, "FN").as_deref(), Some("bob"));
    assert!(field(&card, "NOTE").is_some_and(|n| n.contains("Real name: bob")));
    let last = alice.iq(&format!("{ROOM}/bob"), false, query(LAST)).await;
    assert!(result(last).unwrap().attr("seconds").is_some());
    let answer = alice.iq(&format!("{ROOM}/nobody"), false, vcard()).await;
    assert_eq!(error_condition(&answer), "item-not-found");
    let name = version_of(
        &mut alice,
        &mut bob,
        &format!("{ROOM}/bob"),
        "OccupantIRC 1.0",
    )
    .await;
    assert_eq!(name.as_deref(), Some("OccupantIRC 1.0"));
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_a_timeout() {
    let mut w = World::start_irc().await;
    let _bob = IrcClient::connect(w.irc_port(), "bob").await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    w.ircd().freeze(true);
    let asked = std::time::Instant::now();
    let answer = alice.iq(&contact("bob"), false, vcard()).await;
    assert_eq!(error_condition(&answer), "remote-server-timeout");
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(15),
        "{took:?}"
    );
    w.ircd().freeze(false);
    // Answered once the server is back.
    let card = card_of(&mut alice, &contact("bob")).await;
    assert_eq!(field(&card, "FN").as_deref(), Some("bob"));
}

#[tokio::test]
async fn mail_contacts_cards_name_their_sender() {
    let w = World::start_mail().await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    register_and_subscribe(
        &mut alice,
        harness::MAIL,
        &[("email", "alice@example.org"), ("password", "pw")],
    )
    .await;
    // The session's first look at the INBOX sets the watermark.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let carol = "carol\\40example.net@mail.localhost";
    w.mail
        .as_ref()
        .unwrap()
        .deliver(
            "carol@example.net",
            "alice@example.org",
            "From: Carol Lewis <carol@example.net>\nTo: alice@example.org\nSubject: Hi\n\nHello\n",
        )
        .await;
    alice
        .expect("carol's mail", |el| {
            el.name() == "message" && el.attr("from").map(harness::client::bare) == Some(carol)
        })
        .await;
    let card = card_of(&mut alice, carol).await;
    assert_eq!(field(&card, "FN").as_deref(), Some("Carol Lewis"));
    let email = card.get_child("EMAIL", VCARD).unwrap();
    assert_eq!(
        email
            .get_child("USERID", VCARD)
            .map(|u| u.text())
            .as_deref(),
        Some("carol@example.net")
    );
    // Someone whose mail never came is called by the address.
    let card = card_of(&mut alice, "dan\\40example.net@mail.localhost").await;
    assert_eq!(field(&card, "FN").as_deref(), Some("dan@example.net"));
}
