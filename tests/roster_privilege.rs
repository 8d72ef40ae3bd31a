//! Roster management by privilege (SPEC §7, XEP-0356) through Prosody's
//! mod_privilege: the bridge JID and contacts put into users' rosters, and
//! taken out again on unregistration; without the grant, §2's presences.

mod harness;

use std::time::Duration;

use harness::client::{bare, presence_from, result, TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{online_on_irc, register_form, stanza};
use harness::{World, IRC, MAIL};
use tokio_xmpp::parsers::minidom::Element;

const ROSTER: &str = "jabber:iq:roster";
const OFF: &str = "roster management is off";

fn contact(nick: &str) -> String {
    format!("{nick}%127.0.0.1@irc.localhost")
}

/// Waits until ferry has taken the server's grant.
async fn granted(w: &World) {
    for _ in 0..200 {
        if w.ferry.log().contains("roster management on") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no grant taken; log:\n{}", w.ferry.log());
}

/// The user's roster as their client reads it. The get has no `to`: one
/// to the own bare JID would reach mod_privilege, which refuses clients.
async fn roster(c: &mut TestClient) -> Vec<Element> {
    let query = Element::builder("query", ROSTER).build();
    c.send(stanza(
        "iq",
        &[("type", "get"), ("id", "roster")],
        vec![query],
    ))
    .await;
    let answer = c
        .expect("the roster", |el| {
            el.name() == "iq" && el.attr("id") == Some("roster")
        })
        .await;
    result(answer)
        .expect("a roster query")
        .children()
        .cloned()
        .collect()
}

/// The item a roster push carries, if `el` is one.
fn pushed(el: &Element) -> Option<Element> {
    if el.name() != "iq" || el.attr("type") != Some("set") {
        return None;
    }
    el.get_child("query", ROSTER)?
        .get_child("item", ROSTER)
        .cloned()
}

fn item<'a>(items: &'a [Element], jid: &str) -> Option<&'a Element> {
    items.iter().find(|i| i.attr("jid") == Some(jid))
}

fn groups(item: &Element) -> Vec<String> {
    item.children()
        .filter(|c| c.name() == "group")
        .map(|c| c.text())
        .collect()
}

fn is_message_from(el: &Element, from: &str) -> bool {
    el.name() == "message" && el.attr("from").map(bare) == Some(from)
}

#[tokio::test]
async fn the_bridge_and_contacts_enter_the_roster_and_leave_it() {
    let w = World::start_irc_privileged().await;
    granted(&w).await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    // Reading the roster makes this resource one that gets roster pushes.
    assert!(roster(&mut alice).await.is_empty());
    alice.available().await;
    result(
        alice
            .iq(IRC, true, register_form(&[("nick", "alice")]))
            .await,
    );

    // The bridge JID is pushed into the roster, then the probe brings the
    // bridge's presence and the session: no subscription dance.
    let push = alice
        .expect("the bridge JID's roster push", |el| pushed(el).is_some())
        .await;
    let bridge = pushed(&push).unwrap();
    assert_eq!(bridge.attr("jid"), Some(IRC));
    assert_eq!(bridge.attr("subscription"), Some("both"));
    let asked = std::cell::Cell::new(false);
    alice
        .expect("connected on the network JID", |el| {
            asked.set(asked.get() || presence_from(el, IRC, Some("subscribe")));
            presence_from(el, "127.0.0.1@irc.localhost", None)
                && el
                    .get_child("status", NS)
                    .is_some_and(|s| s.text().starts_with("Connected"))
        })
        .await;
    let items = roster(&mut alice).await;
    let bridge = item(&items, IRC).expect("the bridge JID in the roster");
    assert_eq!(bridge.attr("subscription"), Some("both"));
    assert_eq!(groups(bridge), ["IRC"]);

    // The first direct message from a new nick comes after its roster push.
    let mut bob = IrcClient::connect(w.irc_port(), "bob").await;
    bob.send("PRIVMSG alice :hello").await;
    let bob_jid = contact("bob");
    let first = alice
        .expect("bob's push or message", |el| {
            pushed(el).is_some() || is_message_from(el, &bob_jid)
        })
        .await;
    let item_of_bob = pushed(&first).expect("the push before the message");
    assert_eq!(item_of_bob.attr("jid"), Some(bob_jid.as_str()));
    assert_eq!(item_of_bob.attr("name"), Some("bob"));
    assert_eq!(item_of_bob.attr("subscription"), Some("both"));
    assert_eq!(groups(&item_of_bob), ["IRC"]);
    alice
        .expect("bob's message", |el| is_message_from(el, &bob_jid))
        .await;
    // Only the first message is preceded by a push.
    bob.send("PRIVMSG alice :again").await;
    let next = alice
        .expect("bob's second message or a push", |el| {
            pushed(el).is_some() || is_message_from(el, &bob_jid)
        })
        .await;
    assert!(is_message_from(&next, &bob_jid), "{}", String::from(&next));
    let items = roster(&mut alice).await;
    assert_eq!(
        item(&items, &bob_jid).and_then(|i| i.attr("subscription")),
        Some("both")
    );

    // Unregistering takes bob and the bridge JID out of the roster.
    let remove = Element::builder("query", "jabber:iq:register")
        .append(Element::builder("remove", "jabber:iq:register"))
        .build();
    result(alice.iq(IRC, true, remove).await);
    for jid in [bob_jid.as_str(), IRC] {
        alice
            .expect("a removal push", |el| {
                pushed(el).is_some_and(|i| {
                    i.attr("jid") == Some(jid) && i.attr("subscription") == Some("remove")
                })
            })
            .await;
    }
    let items = roster(&mut alice).await;
    assert!(item(&items, IRC).is_none() && item(&items, &bob_jid).is_none());
    assert!(!asked.get(), "the bridge asked for a subscription");
    assert!(!w.ferry.log().contains(OFF));
}

#[tokio::test]
async fn a_user_whose_server_grants_nothing_is_asked_with_presences() {
    // other.example grants no roster access, though localhost does.
    let w = World::start_irc_privileged_with(|c| {
        let allowed = r#"allowed_domains = ["localhost"]"#;
        assert!(c.contains(allowed));
        c.replace(
            allowed,
            r#"allowed_domains = ["localhost", "other.example"]"#,
        )
    })
    .await;
    granted(&w).await;
    let mut eve = TestClient::connect("eve", "other.example", "pw", w.xmpp.c2s).await;
    eve.available().await;
    result(eve.iq(IRC, true, register_form(&[("nick", "eve")])).await);
    eve.expect("subscribe from the gateway", |s| {
        presence_from(s, IRC, Some("subscribe"))
    })
    .await;
    assert_eq!(w.ferry.log().matches(OFF).count(), 1);
}

#[tokio::test]
async fn without_the_grant_the_log_says_so_once() {
    let w = World::start_irc().await;
    let (mut alice, _) = online_on_irc(&w, "alice", "alice").await;
    let mut bob = IrcClient::connect(w.irc_port(), "bob").await;
    let bob_jid = contact("bob");
    for text in ["one", "two"] {
        bob.send(&format!("PRIVMSG alice :{text}")).await;
        let got = alice
            .expect("bob's message or a push", |el| {
                pushed(el).is_some() || is_message_from(el, &bob_jid)
            })
            .await;
        assert!(is_message_from(&got, &bob_jid), "{}", String::from(&got));
    }
    assert_eq!(w.ferry.log().matches(OFF).count(), 1);
}

#[tokio::test]
async fn a_mail_sender_enters_the_roster_by_name() {
    let w = World::start_mail_privileged().await;
    granted(&w).await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    roster(&mut alice).await;
    alice.available().await;
    let form = [("email", "alice@example.org"), ("password", "pw")];
    result(alice.iq(MAIL, true, register_form(&form)).await);
    alice
        .expect("the bridge JID's roster push", |el| {
            pushed(el).is_some_and(|i| i.attr("jid") == Some(MAIL))
        })
        .await;
    alice
        .expect("the bridge's presence", |el| presence_from(el, MAIL, None))
        .await;
    // The session's first look at the INBOX sets the watermark.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mail = w.mail.as_ref().unwrap();
    mail.deliver(
        "carol@example.net",
        "alice@example.org",
        "From: Carol Carroll <carol@example.net>\nTo: alice@example.org\nSubject: Hi\n\nHello\n",
    )
    .await;
    let carol = "carol\\40example.net@mail.localhost";
    let first = alice
        .expect("carol's push or mail", |el| {
            pushed(el).is_some() || is_message_from(el, carol)
        })
        .await;
    let item = pushed(&first).expect("the push before the mail");
    assert_eq!(item.attr("jid"), Some(carol));
    assert_eq!(item.attr("name"), Some("Carol Carroll"));
    assert_eq!(groups(&item), ["Mail"]);
    alice
        .expect("carol's mail", |el| is_message_from(el, carol))
        .await;
}
