//! What ferry promises about a user's accepted messages (SPEC §2, §4):
//! none is lost, none overtakes another, and no user holds another up.

mod harness;

use harness::ircd::IrcClient;
use harness::stanzas::{body, muc_statuses, online_on_irc, stanza};
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

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
    let room = "#chan%127.0.0.1@irc.localhost";
    let own = format!("{room}/alice");
    alice
        .send(stanza(
            "presence",
            &[("to", &own)],
            vec![Element::builder("x", "http://jabber.org/protocol/muc").build()],
        ))
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
