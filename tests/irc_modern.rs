//! Modern IRC through inspircd's IRCv3 modules (SPEC §9): the history a
//! server replays on join archived once at the server's time,
//! echo-message, away-notify.

mod harness;

use std::time::{Duration, SystemTime};

use harness::client::{error_condition, TestClient, NS};
use harness::rooms::{alice_in_the_room, from_room, join_room, leave, mam_stamped, occupant, ROOM};
use harness::stanzas::{body, stanza};
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

fn body_of(el: &Element) -> Option<String> {
    el.get_child("body", NS).map(Element::text)
}

/// A groupchat line from carol.
fn carols(el: &Element) -> bool {
    el.name() == "message" && el.attr("from") == Some(occupant("carol").as_str())
}

fn stamp_secs(stamp: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(stamp)
        .expect("an XEP-0082 stamp")
        .timestamp()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Every stanza from the room for `wait`.
async fn from_room_for(c: &mut TestClient, wait: Duration) -> Vec<Element> {
    let mut seen = Vec::new();
    let end = tokio::time::Instant::now() + wait;
    let left = || end.saturating_duration_since(tokio::time::Instant::now());
    while let Some(el) = c.arrives_item(left(), from_room).await {
        seen.push(el);
    }
    seen
}

#[tokio::test]
async fn a_line_said_while_away_is_archived_once_at_the_servers_time() {
    let w = World::start_inspircd(false).await;
    let (mut alice, mut carol, _dave) = alice_in_the_room(&w).await;
    carol.send("PRIVMSG #chan :before").await;
    alice.expect("carol's line", carols).await;
    alice.send(leave("alice")).await;
    carol
        .expect("alice parts", |l| {
            l.starts_with(":alice!") && l.contains("PART")
        })
        .await;
    carol.send("PRIVMSG #chan :while away").await;
    let said = now_secs();
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Back: the server replays #chan's history on the JOIN; what alice saw
    // already is not shown again, the rest is, at the server's time.
    let mut seen = join_room(&mut alice, "alice").await;
    seen.extend(from_room_for(&mut alice, Duration::from_secs(3)).await);
    let shown = |text: &str| {
        seen.iter()
            .filter(|el| carols(el) && body_of(el).as_deref() == Some(text))
            .collect::<Vec<_>>()
    };
    assert_eq!(shown("before").len(), 1, "{seen:#?}");
    let away = shown("while away");
    assert_eq!(away.len(), 1, "{seen:#?}");
    let stamp = away[0]
        .get_child("delay", "urn:xmpp:delay")
        .and_then(|d| d.attr("stamp"))
        .expect("the server's time");
    assert!((stamp_secs(stamp) - said).abs() <= 1, "{stamp} for {said}");

    // The archive has each line once, the replayed one at the server's time.
    archived_once(&mut alice, "while away", said).await;
}

/// The room's archive has "before" once, and `gap` once at `said`.
async fn archived_once(alice: &mut TestClient, gap: &str, said: i64) {
    let rsm = Element::builder("set", "http://jabber.org/protocol/rsm").build();
    let (rows, _) = mam_stamped(alice, rsm).await;
    let archived = |text: &str| rows.iter().filter(|r| r.1 == text).collect::<Vec<_>>();
    assert_eq!(archived("before").len(), 1, "{rows:?}");
    let gap = archived(gap);
    assert_eq!(gap.len(), 1, "{rows:?}");
    assert!((stamp_secs(&gap[0].2) - said).abs() <= 1, "{rows:?}");
}

#[tokio::test]
async fn lines_said_while_ferry_was_down_are_archived_once() {
    let mut w = World::start_inspircd(false).await;
    let mut carol = harness::rooms::on_chan(&w, "carol").await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    let form = [("nick", "alice"), ("persistent", "true")];
    harness::stanzas::register_and_subscribe(&mut alice, harness::IRC, &form).await;
    join_room(&mut alice, "alice").await;
    carol
        .expect("alice joins", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
    carol.send("PRIVMSG #chan :before").await;
    alice.expect("carol's line", carols).await;
    drop(alice);
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.ferry.terminate();
    carol
        .expect("alice quits with ferry", |l| {
            l.starts_with(":alice!") && l.contains("QUIT")
        })
        .await;
    carol.send("PRIVMSG #chan :while ferry was down").await;
    let said = now_secs();
    // Back, ferry joins the always-on channel again; the server replays it.
    w.ferry.launch();
    carol
        .expect("alice back", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    join_room(&mut alice, "alice").await;
    archived_once(&mut alice, "while ferry was down", said).await;
}

/// A groupchat message to the room with an id and an origin-id.
fn groupchat(id: &str, text: &str) -> Element {
    let origin = Element::builder("origin-id", "urn:xmpp:sid:0")
        .attr(harness::client::ncname("id"), format!("o-{id}"))
        .build();
    stanza(
        "message",
        &[("to", ROOM), ("type", "groupchat"), ("id", id)],
        vec![body(text), origin],
    )
}

#[tokio::test]
async fn own_lines_come_back_by_the_servers_echo_and_refused_ones_as_errors() {
    let w = World::start_inspircd(false).await;
    let (mut alice, mut carol, _dave) = alice_in_the_room(&w).await;
    alice.send(groupchat("m1", "hello")).await;
    carol
        .expect("alice's line", |l| l.ends_with("PRIVMSG #chan :hello"))
        .await;
    let own = alice
        .expect("the reflection", |el| {
            el.name() == "message" && el.attr("from") == Some(occupant("alice").as_str())
        })
        .await;
    assert_eq!(own.attr("id"), Some("m1"));
    assert_eq!(body_of(&own).as_deref(), Some("hello"));
    let origin = own
        .get_child("origin-id", "urn:xmpp:sid:0")
        .expect("origin-id");
    assert_eq!(origin.attr("id"), Some("o-m1"));
    assert!(own.get_child("stanza-id", "urn:xmpp:sid:0").is_some());

    // Moderated, alice has no voice: the server refuses her line, and she
    // gets an error for it, no reflection.
    carol.send("MODE #chan +m").await;
    carol
        .expect("the mode", |l| l.contains("MODE #chan :+m"))
        .await;
    alice.send(groupchat("m2", "silenced")).await;
    let refused = alice
        .expect("the refusal", |el| {
            el.name() == "message" && el.attr("id") == Some("m2")
        })
        .await;
    assert_eq!(refused.attr("type"), Some("error"), "{refused:?}");
    assert_eq!(error_condition(&refused), "forbidden");
    let later = from_room_for(&mut alice, Duration::from_secs(2)).await;
    assert!(
        !later
            .iter()
            .any(|el| body_of(el).as_deref() == Some("silenced")),
        "{later:#?}"
    );
    // Each line was reflected once at most: hello once, silenced never.
    alice.send(groupchat("m3", "again")).await;
    let more = from_room_for(&mut alice, Duration::from_secs(2)).await;
    assert!(
        !more
            .iter()
            .any(|el| body_of(el).as_deref() == Some("hello")),
        "{more:#?}"
    );
}

/// An occupant presence from carol: her `show`, and her status text.
fn carols_presence(el: &Element) -> Option<(Option<String>, Option<String>)> {
    (el.name() == "presence" && el.attr("from") == Some(occupant("carol").as_str())).then(|| {
        (
            el.get_child("show", NS).map(Element::text),
            el.get_child("status", NS).map(Element::text),
        )
    })
}

#[tokio::test]
async fn an_occupant_away_on_irc_is_shown_away() {
    let w = World::start_inspircd(false).await;
    let (mut alice, mut carol, _dave) = alice_in_the_room(&w).await;
    carol.send("AWAY :at lunch").await;
    let away = alice
        .expect("carol away", |el| carols_presence(el).is_some())
        .await;
    assert_eq!(
        carols_presence(&away),
        Some((Some("away".into()), Some("at lunch".into())))
    );
    carol.send("AWAY").await;
    let back = alice
        .expect("carol back", |el| carols_presence(el).is_some())
        .await;
    assert_eq!(carols_presence(&back), Some((None, None)));
    assert_eq!(back.attr("type"), None);
}
