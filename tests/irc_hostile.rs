//! What a hostile or odd peer can do to a user: a CTCP flood from IRC,
//! sizes no IRC line can carry from XMPP, nicks the server refuses,
//! addresses that are no JID, a server announcing no channel types.

mod harness;

use std::time::Duration;

use harness::client::{bare, error_condition, error_text, presence_from, TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{body, register_and_subscribe, register_form, stanza};
use harness::{World, IRC};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_xmpp::parsers::minidom::Element;

const NET: &str = "127.0.0.1@irc.localhost";
const CHAN: &str = "#chan%127.0.0.1@irc.localhost";
const CAROL: &str = "carol%127.0.0.1@irc.localhost";
const MUC: &str = "http://jabber.org/protocol/muc";

fn status_of(el: &Element) -> String {
    el.get_child("status", NS)
        .map(|s| s.text())
        .unwrap_or_default()
}

/// `user` registers `nick` and waits until the IRC connection is up.
async fn online(w: &World, user: &str, nick: &str) -> TestClient {
    let mut c = TestClient::connect(user, "localhost", "pw", w.xmpp.c2s).await;
    c.available().await;
    register_and_subscribe(&mut c, IRC, &[("nick", nick)]).await;
    c.expect("connected on the network JID", |el| {
        presence_from(el, NET, None) && status_of(el).starts_with("Connected")
    })
    .await;
    c
}

fn join_presence(room: &str, nick: &str, id: &str) -> Element {
    stanza(
        "presence",
        &[("to", &format!("{room}/{nick}")), ("id", id)],
        vec![Element::builder("x", MUC).build()],
    )
}

/// Joins `room` as `nick` and waits for the subject (the end of the join).
async fn join(c: &mut TestClient, room: &str, nick: &str) {
    c.send(join_presence(room, nick, "join")).await;
    c.expect("the subject", |el| {
        el.name() == "message"
            && el.attr("from") == Some(room)
            && el.get_child("subject", NS).is_some()
    })
    .await;
}

/// An error presence from `room`.
fn refused_by(room: &str) -> impl Fn(&Element) -> bool + '_ {
    move |el| {
        el.name() == "presence"
            && el.attr("type") == Some("error")
            && el.attr("from").map(bare) == Some(room)
    }
}

#[tokio::test]
async fn a_ctcp_flood_does_not_hold_back_the_users_own_lines() {
    // The default throttle: 10 lines at once, then 2 a second.
    let w = World::start_irc().await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let mut alice = online(&w, "alice", "alice").await;
    join(&mut alice, CHAN, "alice").await;

    let mut mallory = IrcClient::connect(w.irc_port(), "mallory").await;
    let flood = "PRIVMSG alice :\x01VERSION\x01\r\n".repeat(2000);
    mallory.send_bytes(flood.trim_end().as_bytes()).await;
    mallory.send("PRIVMSG alice :done").await;
    // ferry reads IRC in order: once the last line is through, so are the
    // 2000 requests.
    alice
        .expect("mallory's last line", |el| {
            el.name() == "message"
                && el.attr("from").map(bare) == Some("mallory%127.0.0.1@irc.localhost")
                && el.get_child("body", NS).is_some_and(|b| b.text() == "done")
        })
        .await;

    let started = std::time::Instant::now();
    alice
        .send(stanza(
            "message",
            &[("to", CAROL), ("type", "chat"), ("id", "d1")],
            vec![body("still here")],
        ))
        .await;
    alice
        .send(stanza(
            "message",
            &[("to", CHAN), ("type", "groupchat"), ("id", "r1")],
            vec![body("and here")],
        ))
        .await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = carol
            .expect("alice's lines", |l| {
                l.starts_with(":alice!") && l.contains(" PRIVMSG ")
            })
            .await;
        seen.push(line.rsplit(" :").next().unwrap().to_owned());
    }
    // One target's order is kept, not the order between two targets.
    seen.sort();
    assert_eq!(seen, ["and here", "still here"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // mallory got a few replies at most, never one for each request.
    let mut replies = 0;
    while let Some(line) = mallory.next_line(Duration::from_secs(3)).await {
        replies += usize::from(line.contains("NOTICE mallory :\x01VERSION"));
    }
    assert!((1..=10).contains(&replies), "{replies} replies");
    assert!(
        !alice
            .arrives(Duration::from_millis(200), |el| el.attr("type")
                == Some("error"))
            .await
    );
}

#[tokio::test]
async fn registration_fields_that_cannot_fit_an_irc_line_are_refused() {
    let w = World::start_irc().await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    let huge = "x".repeat(100_000);
    let long_nick = "n".repeat(10_000);
    for (field, form) in [
        ("nick", vec![("nick", long_nick.as_str())]),
        ("username", vec![("nick", "alice"), ("username", &huge)]),
        ("realname", vec![("nick", "alice"), ("realname", &huge)]),
        ("password", vec![("nick", "alice"), ("password", &huge)]),
    ] {
        let answer = alice.iq(IRC, true, register_form(&form)).await;
        assert_eq!(answer.attr("type"), Some("error"), "{field} accepted");
        assert_eq!(error_condition(&answer), "not-acceptable", "{field}");
        assert!(error_text(&answer).contains(field), "{field}: {answer:?}");
    }
}

#[tokio::test]
async fn a_registered_nick_the_server_refuses_is_not_retried() {
    // ngircd's nicks are at most 30 characters; the form takes up to 64.
    let w = World::start_irc().await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    let nick = "a".repeat(40);
    register_and_subscribe(&mut alice, IRC, &[("nick", &nick)]).await;
    let offline = alice
        .expect("the network JID offline", |el| {
            presence_from(el, NET, Some("unavailable"))
        })
        .await;
    let status = status_of(&offline);
    assert!(status.contains(&nick), "{status}");
    // And ferry stays away: no new attempt.
    assert!(
        !alice
            .arrives(Duration::from_secs(4), |el| presence_from(el, NET, None))
            .await,
        "ferry connected again with a refused nick"
    );
}

#[tokio::test]
async fn room_nicks_the_server_cannot_take_are_not_acceptable() {
    let w = World::start_irc().await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    // bob has no registration: his room nick would be his IRC nick.
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    bob.available().await;
    let long = "b".repeat(1000);
    for (id, nick) in [("long", long.as_str()), ("space", "bob by")] {
        bob.send(join_presence(CHAN, nick, id)).await;
        let refused = bob.expect(id, refused_by(CHAN)).await;
        assert_eq!(refused.attr("id"), Some(id));
        assert_eq!(error_condition(&refused), "not-acceptable", "{id}");
        assert_eq!(refused.attr("from").map(bare), Some(CHAN));
    }
    // A good nick still joins.
    join(&mut bob, CHAN, "bob").await;
    carol
        .expect("bob's join", |l| {
            l.starts_with(":bob!") && l.contains("JOIN")
        })
        .await;

    // A nick change to what the server's NICKLEN does not take (a JID
    // resource is at most 1023 bytes), or to what is no JID resource at
    // all (an unassigned code point): refused, answered.
    let mut alice = online(&w, "alice", "alice").await;
    join(&mut alice, CHAN, "alice").await;
    let huge = "c".repeat(1000);
    for (id, nick, condition) in [
        ("n1", huge.as_str(), "not-acceptable"),
        ("n2", "al\u{378}ce", "jid-malformed"),
    ] {
        alice
            .send(stanza(
                "presence",
                &[("to", &format!("{CHAN}/{nick}")), ("id", id)],
                vec![],
            ))
            .await;
        let refused = alice.expect(id, refused_by(CHAN)).await;
        assert_eq!(refused.attr("id"), Some(id));
        assert_eq!(error_condition(&refused), condition, "{id}");
        assert_eq!(refused.attr("from").map(bare), Some(CHAN));
    }
    // The connection is intact: alice still speaks as alice.
    alice
        .send(stanza(
            "message",
            &[("to", CHAN), ("type", "groupchat")],
            vec![body("still alice")],
        ))
        .await;
    carol
        .expect("alice's line", |l| {
            l.starts_with(":alice!") && l.ends_with(":still alice")
        })
        .await;
}

/// A server that says `CHANTYPES=` (no value) still has its `#` lines
/// taken as channel lines.
#[tokio::test]
async fn an_empty_chantypes_keeps_channels_channels() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let w = World::start_irc_with(move |c, ircd| {
        c.replace(&ircd.network(), &format!("127.0.0.1:{port}"))
    })
    .await;
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (r, mut wr) = socket.into_split();
        let mut lines = BufReader::new(r).lines();
        let mut nick = String::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            let say = |s: String| s + "\r\n";
            let out = if let Some(n) = line.strip_prefix("NICK ") {
                nick = n.trim_start_matches(':').to_owned();
                continue;
            } else if line.starts_with("USER ") {
                say(format!(
                    ":fake 001 {nick} :hi\r\n:fake 005 {nick} CHANTYPES= :are supported\r\n:fake 422 {nick} :no MOTD"
                ))
            } else if let Some(chan) = line.strip_prefix("JOIN ") {
                say(format!(
                    ":{nick}!u@h JOIN {chan}\r\n:fake 353 {nick} = {chan} :{nick} dave\r\n\
                     :fake 366 {nick} {chan} :End"
                ))
            } else if line == "PRIVMSG #chan :go" {
                // dave answers once alice is in (her line says so).
                say(":dave!d@h PRIVMSG #chan :hello room".to_owned())
            } else {
                continue;
            };
            wr.write_all(out.as_bytes()).await.unwrap();
        }
    });
    let mut alice = online(&w, "alice", "alice").await;
    join(&mut alice, CHAN, "alice").await;
    alice
        .send(stanza(
            "message",
            &[("to", CHAN), ("type", "groupchat")],
            vec![body("go")],
        ))
        .await;
    let hello = alice
        .expect("dave's line", |el| {
            el.name() == "message"
                && el
                    .get_child("body", NS)
                    .is_some_and(|b| b.text() == "hello room")
        })
        .await;
    assert_eq!(hello.attr("type"), Some("groupchat"), "{hello:?}");
    assert_eq!(hello.attr("from"), Some(format!("{CHAN}/dave").as_str()));
    server.abort();
}
