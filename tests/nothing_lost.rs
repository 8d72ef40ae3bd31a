//! What ferry promises about a user's accepted messages (SPEC §2, §4):
//! none is lost, none overtakes another, and no user holds another up.

mod harness;

use harness::client::{presence_from, TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{body, register_and_subscribe, stanza};
use harness::{World, IRC};

const NET: &str = "127.0.0.1@irc.localhost";

/// alice registers `nick` and waits until her IRC connection is up.
async fn online(w: &World, nick: &str) -> TestClient {
    let mut c = TestClient::connect("alice", "localhost", "pw", w.prosody.c2s).await;
    c.available().await;
    register_and_subscribe(&mut c, IRC, &[("nick", nick)]).await;
    c.expect("connected on the network JID", |el| {
        presence_from(el, NET, None)
            && el
                .get_child("status", NS)
                .is_some_and(|s| s.text().starts_with("Connected"))
    })
    .await;
    c
}

#[tokio::test]
async fn direct_messages_arrive_in_the_order_sent() {
    let w = World::start_irc_with(|c, _| c.replace("# throttle_rate = 2.0", "throttle_rate = 0.0"))
        .await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    let alice = online(&w, "alice").await;
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
