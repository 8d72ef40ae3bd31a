//! A room's archive through IRC: MAM paging, each user's own archive,
//! and history on join.

mod harness;

use harness::client::{ncname, presence_from, TestClient, NS};
use harness::rooms::{
    alice_in_the_room, from_room, join_room, leave, mam_page, occupant, MUC, ROOM,
};
use harness::stanzas::stanza;
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

fn rsm(max: usize, before: Option<&str>) -> Element {
    let mut set = Element::builder("set", "http://jabber.org/protocol/rsm")
        .append(Element::builder("max", "http://jabber.org/protocol/rsm").append(max.to_string()));
    if let Some(before) = before {
        set =
            set.append(Element::builder("before", "http://jabber.org/protocol/rsm").append(before));
    }
    set.build()
}

/// Carol's lines `line 0`… in order, as alice sees them; the archive id
/// (stanza-id) of the last.
async fn carols_lines(alice: &mut TestClient, count: usize) -> String {
    let mut last_id = String::new();
    for i in 0..count {
        let el = alice
            .expect("a line", |el| {
                el.name() == "message" && el.attr("from") == Some(occupant("carol").as_str())
            })
            .await;
        assert_eq!(
            el.get_child("body", NS).unwrap().text(),
            format!("line {i}")
        );
        last_id = el
            .get_child("stanza-id", "urn:xmpp:sid:0")
            .unwrap()
            .attr("id")
            .unwrap()
            .to_owned();
    }
    last_id
}

/// The archive's bodies from its start to the end of `page`, paging
/// backwards from `page`, 100 at a time, until the archive is complete.
async fn archive_up_to(c: &mut TestClient, page: &[(String, String)]) -> Vec<String> {
    let mut all: Vec<String> = page.iter().map(|(_, b)| b.clone()).collect();
    let mut first = page[0].0.clone();
    loop {
        let (page, fin) = mam_page(c, rsm(100, Some(&first))).await;
        let mut bodies: Vec<String> = page.iter().map(|(_, b)| b.clone()).collect();
        bodies.extend(all);
        all = bodies;
        if fin.attr("complete") == Some("true") {
            return all;
        }
        first = page[0].0.clone();
    }
}

/// A join as alice asking for history, `attr` (maxstanzas, maxchars,
/// since) set to `value`.
fn join_asking(attr: &str, value: &str) -> Element {
    stanza(
        "presence",
        &[("to", &occupant("alice"))],
        vec![Element::builder("x", MUC)
            .append(Element::builder("history", MUC).attr(ncname(attr), value))
            .build()],
    )
}

/// The history messages of a join: those from the room before its subject.
async fn history_on_join(c: &mut TestClient) -> Vec<Element> {
    let mut history = Vec::new();
    loop {
        let el = c.expect("the join", from_room).await;
        if el.get_child("subject", NS).is_some() {
            return history;
        }
        if el.name() == "message" {
            history.push(el);
        }
    }
}

fn bodies(messages: &[Element]) -> Vec<String> {
    messages
        .iter()
        .map(|el| el.get_child("body", NS).unwrap().text())
        .collect()
}

#[tokio::test]
async fn archives_mam_paging_and_history_on_join() {
    let w = World::start_irc().await;
    let (mut alice, mut carol, _dave) = alice_in_the_room(&w).await;
    for i in 0..250 {
        carol.send(&format!("PRIVMSG #chan :line {i}")).await;
    }
    let last_id = carols_lines(&mut alice, 250).await;
    // Page backwards from the end (an empty <before/>), 100 at a time.
    let (page, fin) = mam_page(&mut alice, rsm(100, Some(""))).await;
    assert_eq!(page.len(), 100);
    assert_eq!(page.last().unwrap().1, "line 249");
    assert_eq!(page.last().unwrap().0, last_id, "archive id = stanza-id");
    assert_ne!(fin.attr("complete"), Some("true"));
    let all = archive_up_to(&mut alice, &page).await;
    let expected: Vec<String> = (0..250).map(|i| format!("line {i}")).collect();
    assert_eq!(all, expected);

    // bob joins now: his archive starts now; alice's is not his.
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    join_room(&mut bob, "bob").await;
    let (theirs, fin) = mam_page(&mut bob, rsm(100, None)).await;
    assert!(theirs.is_empty(), "bob read alice's archive: {theirs:?}");
    assert_eq!(fin.attr("complete"), Some("true"));

    // History on join: alice leaves and comes back asking for 5.
    alice.send(leave("alice")).await;
    alice
        .expect("out", |el| presence_from(el, ROOM, Some("unavailable")))
        .await;
    alice.send(join_asking("maxstanzas", "5")).await;
    let history = history_on_join(&mut alice).await;
    for el in &history {
        assert!(
            el.get_child("delay", "urn:xmpp:delay").is_some(),
            "history carries a delay"
        );
    }
    assert_eq!(
        bodies(&history),
        ["line 245", "line 246", "line 247", "line 248", "line 249"]
    );
    // maxstanzas="0": none.
    let mut second = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    second.send(join_asking("maxstanzas", "0")).await;
    let history = history_on_join(&mut second).await;
    assert!(history.is_empty(), "history despite maxstanzas=0");
    // maxchars: the newest messages whose bodies fit ("line 24N" is 8).
    let mut third = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    third.send(join_asking("maxchars", "17")).await;
    let history = history_on_join(&mut third).await;
    assert_eq!(bodies(&history), ["line 248", "line 249"]);
    // since: a date after every message means none.
    let mut fourth = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    fourth
        .send(join_asking("since", "2099-01-01T00:00:00Z"))
        .await;
    let history = history_on_join(&mut fourth).await;
    assert!(history.is_empty(), "history from the future");
}
