//! A burst from IRC far larger than the link's queues: delivery waits for
//! room (it does not drop), and every line reaches the user, in order.

mod harness;

use harness::client::{TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::stanza;
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

const ROOM: &str = "#burst%127.0.0.1@irc.localhost";
const LINES: usize = 500;

fn carols_line(el: &Element) -> bool {
    el.name() == "message"
        && el.attr("type") == Some("groupchat")
        && el.attr("from") == Some(&format!("{ROOM}/carol"))
        && el.get_child("body", NS).is_some()
}

#[tokio::test]
async fn a_burst_over_the_queues_arrives_whole_and_in_order() {
    // Both queues below the headroom one event may need: every stanza
    // waits until the one before it was written to Prosody.
    let w = World::start_irc_with(|config, _| {
        for key in ["# queue = 10000", "# user_queue = 500"] {
            assert!(config.contains(key), "the sample config lost `{key}`");
        }
        config
            .replace("# queue = 10000", "queue = 100")
            .replace("# user_queue = 500", "user_queue = 20")
    })
    .await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    alice
        .send(stanza(
            "presence",
            &[("to", &format!("{ROOM}/alice"))],
            vec![Element::builder("x", "http://jabber.org/protocol/muc").build()],
        ))
        .await;
    alice
        .expect("the join's subject", |el| {
            el.name() == "message" && el.get_child("subject", NS).is_some()
        })
        .await;

    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #burst").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    for i in 0..LINES {
        carol.send(&format!("PRIVMSG #burst :line {i}")).await;
    }
    for i in 0..LINES {
        let el = alice.expect(&format!("line {i}"), carols_line).await;
        let text = el.get_child("body", NS).map(Element::text);
        assert_eq!(text.as_deref(), Some(format!("line {i}").as_str()));
    }
    assert!(
        w.ferry.log().contains("delivery waits for room"),
        "the burst never filled the queues, so the test proved nothing"
    );
}
