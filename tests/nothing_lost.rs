//! What ferry promises about a user's accepted messages (SPEC §2, §4):
//! none is lost, none overtakes another, and no user holds another up.

mod harness;

use harness::client::{TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{body, muc_statuses, online_on_irc, stanza};
use harness::World;
use std::collections::HashSet;
use std::time::Duration;
use tokio_xmpp::parsers::minidom::Element;

const ROOM: &str = "#chan%127.0.0.1@irc.localhost";

/// Alice joins #chan (carol is in it on IRC), asking for `history`
/// stanzas of it; returns her occupant JID once carol sees her.
async fn join_chan(
    alice: &mut TestClient,
    carol: &mut IrcClient,
    history: Option<usize>,
) -> String {
    let own = format!("{ROOM}/alice");
    let mut x = Element::builder("x", "http://jabber.org/protocol/muc");
    if let Some(n) = history {
        x = x.append(
            Element::builder("history", "http://jabber.org/protocol/muc")
                .attr(harness::client::ncname("maxstanzas"), n.to_string()),
        );
    }
    alice
        .send(stanza("presence", &[("to", &own)], vec![x.build()]))
        .await;
    alice
        .expect("joined", |el| {
            el.name() == "presence" && el.attr("from") == Some(&own) && el.attr("type").is_none()
        })
        .await;
    carol
        .expect("alice on IRC", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
    own
}

#[tokio::test]
async fn direct_messages_arrive_in_the_order_sent() {
    let w = World::start_irc_with(|c, _| c.replace("# throttle_rate = 2.0", "throttle_rate = 0.0"))
        .await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    let alice = online_on_irc(&w, "alice", "alice").await.0;
    let to = "carol%127.0.0.1@irc.localhost";
    for i in 1..=30 {
        let id = format!("m{i}");
        let text = format!("line {i}");
        let message = stanza(
            "message",
            &[("to", to), ("type", "chat"), ("id", &id)],
            vec![body(&text)],
        );
        alice.send(message).await;
    }
    for i in 1..=30 {
        let line = carol
            .expect("alice's next line", |l| l.contains("PRIVMSG carol"))
            .await;
        assert!(line.ends_with(&format!(":line {i}")), "{line} (wanted {i})");
    }
}

#[tokio::test]
async fn rooms_lost_in_a_crash_are_announced_once() {
    let mut w = World::start_irc().await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    let own = join_chan(&mut alice, &mut carol, None).await;
    // The join is recorded apart from the stanzas; give it a moment.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    w.ferry.kill();
    w.ferry.launch();
    w.ferry.wait_links(2).await;
    let gone = |el: &Element| {
        el.name() == "presence"
            && el.attr("from") == Some(own.as_str())
            && el.attr("type") == Some("unavailable")
    };
    let told = alice.expect("the room lost in the crash", gone).await;
    let codes = muc_statuses(&told);
    assert!(
        codes.contains(&"110".into()) && codes.contains(&"332".into()),
        "{told:?}"
    );
    // Once: a clean restart after it has nothing more to say.
    w.ferry.terminate();
    w.ferry.launch();
    w.ferry.wait_links(2).await;
    let again = alice.arrives(std::time::Duration::from_secs(3), gone).await;
    assert!(!again, "told twice");
}

/// SPEC §2: a room line a client was shown is in the archive, even when
/// ferry is killed (-9) while lines stream in at 200 a second.
#[tokio::test]
async fn room_lines_shown_before_a_crash_are_archived() {
    let mut w = World::start_irc().await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    join_chan(&mut alice, &mut carol, Some(0)).await;
    let from = format!("{ROOM}/carol");
    let carols = |el: &Element| {
        el.name() == "message"
            && el.attr("from") == Some(from.as_str())
            && el.get_child("body", NS).is_some()
    };
    let flood = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        for i in 0..300 {
            tick.tick().await;
            carol.send(&format!("PRIVMSG #chan :flood {i}")).await;
        }
        carol
    });
    let mut shown = Vec::new();
    while shown.len() < 120 {
        let el = alice.expect("carol's lines", carols).await;
        shown.push(el.get_child("body", NS).unwrap().text());
    }
    w.ferry.kill();
    // What Prosody already had from ferry still reaches alice.
    while let Some(el) = alice.arrives_item(Duration::from_millis(500), carols).await {
        shown.push(el.get_child("body", NS).unwrap().text());
    }
    let mut carol = flood.await.unwrap();
    w.ferry.launch();
    w.ferry.wait_links(2).await;
    alice
        .expect("the room lost in the crash", |el| {
            el.name() == "presence" && el.attr("type") == Some("unavailable")
        })
        .await;
    join_chan(&mut alice, &mut carol, Some(250)).await;
    let mut archived = HashSet::new();
    loop {
        let el = alice
            .expect("history, then the subject", |el| {
                el.name() == "message" && el.attr("type") == Some("groupchat")
            })
            .await;
        if el.get_child("subject", NS).is_some() {
            break;
        }
        archived.insert(el.get_child("body", NS).unwrap().text());
    }
    let missing: Vec<&String> = shown.iter().filter(|b| !archived.contains(*b)).collect();
    eprintln!(
        "shown before the crash: {}, archived: {}, shown but not archived: {}",
        shown.len(),
        archived.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "shown but not archived: {missing:?}");
}
