//! `[limits]` (SPEC §6): a user over a limit is refused, with an error
//! naming the key, and nobody else notices.

mod harness;

use harness::client::{error_condition, error_text, TestClient};
use harness::ircd::IrcClient;
use harness::stanzas::{body, online_on_irc, stanza};
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

const CAROL: &str = "carol%127.0.0.1@irc.localhost";

fn chat(to: &str, id: &str, text: &str) -> Element {
    stanza(
        "message",
        &[("to", to), ("type", "chat"), ("id", id)],
        vec![body(text)],
    )
}

fn error_for(id: &'static str) -> impl Fn(&Element) -> bool {
    move |el| el.attr("type") == Some("error") && el.attr("id") == Some(id)
}

#[tokio::test]
async fn a_fast_sender_is_refused_alone() {
    let w = World::start_irc_with(|c, _| {
        c.replace("# throttle_rate = 2.0", "throttle_rate = 0.0")
            .replace("# stanza_rate = 10.0", "stanza_rate = 0.5")
            .replace("# stanza_burst = 50", "stanza_burst = 20")
    })
    .await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    let mut bob = online_on_irc(&w, "bob", "bob").await.0;
    for i in 0..40 {
        alice
            .send(chat(CAROL, &format!("a{i}"), &format!("alice {i}")))
            .await;
    }
    for i in 0..3 {
        bob.send(chat(CAROL, &format!("b{i}"), &format!("bob {i}")))
            .await;
    }
    // alice's first ones pass, the rest are refused, each with its own
    // error naming the key.
    let is_error = |el: &Element| el.name() == "message" && el.attr("type") == Some("error");
    let mut refused = Vec::new();
    while let Some(e) = alice
        .arrives_item(std::time::Duration::from_secs(1), is_error)
        .await
    {
        assert_eq!(error_condition(&e), "resource-constraint");
        assert!(error_text(&e).contains("stanza_rate"), "{e:?}");
        let id = e.attr("id").and_then(|id| id.strip_prefix('a')).unwrap();
        refused.push(id.parse::<usize>().unwrap());
    }
    assert!(refused.len() >= 20, "refused only {refused:?}");
    let passed: Vec<usize> = (0..40).filter(|i| !refused.contains(i)).collect();
    // Everything of bob's and what alice was let send reaches carol, in
    // order; nothing refused does.
    let mut from_alice = Vec::new();
    let mut from_bob = Vec::new();
    while from_alice.len() < passed.len() || from_bob.len() < 3 {
        let line = carol
            .expect("a line to carol", |l| l.contains("PRIVMSG carol"))
            .await;
        let text = line.rsplit(" :").next().unwrap().to_owned();
        match text.split_once(' ') {
            Some(("alice", n)) => from_alice.push(n.parse::<usize>().unwrap()),
            Some(("bob", n)) => from_bob.push(n.parse::<usize>().unwrap()),
            _ => panic!("unexpected {line}"),
        }
    }
    assert_eq!(from_alice, passed);
    assert_eq!(from_bob, vec![0, 1, 2]);
    assert!(
        !bob.arrives(std::time::Duration::from_millis(500), |el| el.attr("type")
            == Some("error"))
            .await,
        "bob was refused"
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_whole() {
    let w = World::start_irc_with(|c, _| {
        c.replace("# throttle_rate = 2.0", "throttle_rate = 0.0")
            .replace("# body_bytes = 65536", "body_bytes = 1000")
    })
    .await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    let room = "#chan%127.0.0.1@irc.localhost";
    alice
        .send(stanza(
            "presence",
            &[("to", &format!("{room}/alice"))],
            vec![Element::builder("x", "http://jabber.org/protocol/muc").build()],
        ))
        .await;
    carol
        .expect("alice joins", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
    let long = "word ".repeat(400);
    alice.send(chat(CAROL, "big-direct", &long)).await;
    alice
        .send(stanza(
            "message",
            &[("to", room), ("type", "groupchat"), ("id", "big-room")],
            vec![body(&long)],
        ))
        .await;
    for id in ["big-direct", "big-room"] {
        let e = alice.expect(id, error_for(id)).await;
        assert_eq!(error_condition(&e), "policy-violation");
        assert!(error_text(&e).contains("body_bytes"), "{e:?}");
    }
    // Nothing of either reached IRC: the next line carol sees is the
    // small one sent after them.
    alice.send(chat(CAROL, "small", "just this")).await;
    let line = carol
        .expect("a line from alice", |l| {
            l.starts_with(":alice!") && l.contains("PRIVMSG")
        })
        .await;
    assert!(line.ends_with(":just this"), "{line}");
}

fn join_presence(room: &str, nick: &str, id: &str) -> Element {
    stanza(
        "presence",
        &[("to", &format!("{room}/{nick}")), ("id", id)],
        vec![Element::builder("x", "http://jabber.org/protocol/muc").build()],
    )
}

/// Whether a room presence carries status 110 (it is the user's own).
fn is_own(el: &Element) -> bool {
    let user = "http://jabber.org/protocol/muc#user";
    el.get_child("x", user).is_some_and(|x| {
        x.children()
            .any(|c| c.name() == "status" && c.attr("code") == Some("110"))
    })
}

/// The self-presence (status 110) of a join, or its error.
fn join_answer(room: &str) -> impl Fn(&Element) -> bool + '_ {
    move |el| {
        el.name() == "presence"
            && el.attr("from").map(harness::client::bare) == Some(room)
            && (el.attr("type") == Some("error") || el.attr("type").is_none() && is_own(el))
    }
}

#[tokio::test]
async fn a_body_longer_than_the_line_queue_is_refused_whole() {
    // The default throttle: a body of 300 lines cannot wait for IRC at
    // once (a connection queues 256); none of it may go.
    let w = World::start_irc().await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    let room = "#chan%127.0.0.1@irc.localhost";
    alice.send(join_presence(room, "alice", "j")).await;
    alice.expect("joined", join_answer(room)).await;
    let long: String = (0..300).map(|i| format!("line {i}\n")).collect();
    alice.send(chat(CAROL, "many-direct", &long)).await;
    alice
        .send(stanza(
            "message",
            &[("to", room), ("type", "groupchat"), ("id", "many-room")],
            vec![body(&long)],
        ))
        .await;
    for id in ["many-direct", "many-room"] {
        let e = alice.expect(id, error_for(id)).await;
        assert_eq!(error_condition(&e), "resource-constraint", "{e:?}");
    }
    alice
        .send(stanza(
            "message",
            &[("to", room), ("type", "groupchat"), ("id", "small")],
            vec![body("just this")],
        ))
        .await;
    let line = carol
        .expect("a line from alice", |l| {
            l.starts_with(":alice!") && l.contains("PRIVMSG")
        })
        .await;
    assert!(line.ends_with(":just this"), "{line}");
    // The refused one was never reflected: the next own message is "small".
    let own_jid = format!("{room}/alice");
    let own = alice
        .expect("a reflection", |el| {
            el.name() == "message" && el.attr("from") == Some(own_jid.as_str())
        })
        .await;
    assert_eq!(own.attr("id"), Some("small"), "{own:?}");
}

#[tokio::test]
async fn channels_over_irc_channels_are_refused_alone() {
    let w =
        World::start_irc_with(|c, _| c.replace("# irc_channels = 100", "irc_channels = 2")).await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    let mut bob = online_on_irc(&w, "bob", "bob").await.0;
    let rooms: Vec<String> = ["#a", "#b", "#c"]
        .iter()
        .map(|r| format!("{r}%127.0.0.1@irc.localhost"))
        .collect();
    for room in &rooms[..2] {
        alice.send(join_presence(room, "alice", "j")).await;
        let own = alice.expect("joined", join_answer(room)).await;
        assert_eq!(own.attr("type"), None);
    }
    // alice's third and bob's first at the same moment.
    alice.send(join_presence(&rooms[2], "alice", "j3")).await;
    bob.send(join_presence(&rooms[2], "bob", "j3")).await;
    let refused = alice.expect("refused", join_answer(&rooms[2])).await;
    assert_eq!(refused.attr("id"), Some("j3"));
    assert_eq!(error_condition(&refused), "policy-violation");
    assert!(error_text(&refused).contains("irc_channels"), "{refused:?}");
    let own = bob.expect("bob joined", join_answer(&rooms[2])).await;
    assert_eq!(own.attr("type"), None, "{own:?}");
    // A channel left makes room for another.
    alice
        .send(stanza(
            "presence",
            &[
                ("to", &format!("{}/alice", rooms[0])),
                ("type", "unavailable"),
            ],
            vec![],
        ))
        .await;
    alice.send(join_presence(&rooms[2], "alice", "j4")).await;
    let own = alice.expect("joined at last", join_answer(&rooms[2])).await;
    assert_eq!(own.attr("type"), None, "{own:?}");
}

#[tokio::test]
async fn networks_over_irc_networks_are_refused_alone() {
    let (w, _second, _second_dir) =
        World::start_two_ircs(|c| c.replace("# irc_networks = 10", "irc_networks = 1")).await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    // bob has no identity: his first network is the second one.
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    bob.available().await;
    let room = "#chan%127.0.0.2@irc.localhost";
    alice.send(join_presence(room, "alice", "j")).await;
    bob.send(join_presence(room, "bob", "j")).await;
    let refused = alice.expect("refused", join_answer(room)).await;
    assert_eq!(refused.attr("id"), Some("j"));
    assert_eq!(error_condition(&refused), "policy-violation");
    assert!(error_text(&refused).contains("irc_networks"), "{refused:?}");
    let own = bob.expect("bob joined", join_answer(room)).await;
    assert_eq!(own.attr("type"), None, "{own:?}");
    // An identity on a second network is refused too, with the same key.
    let answer = alice
        .iq(
            "127.0.0.2@irc.localhost",
            true,
            harness::stanzas::register_form(&[("nick", "alice")]),
        )
        .await;
    assert_eq!(answer.attr("type"), Some("error"), "{answer:?}");
    assert_eq!(error_condition(&answer), "policy-violation");
    assert!(error_text(&answer).contains("irc_networks"), "{answer:?}");
}
