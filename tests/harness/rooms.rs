//! A channel on the test IRC server as a room, joined from XMPP: what
//! the room tests share.

use tokio_xmpp::parsers::minidom::Element;

use super::client::{bare, ncname, TestClient, NS};
use super::ircd::IrcClient;
use super::stanzas::{register_and_subscribe, stanza};
use super::{World, IRC};

/// #chan on the test server, as a room of the IRC gateway.
pub const ROOM: &str = "#chan%127.0.0.1@irc.localhost";
pub const MUC: &str = "http://jabber.org/protocol/muc";

/// A join presence to the room as `nick`, without a password or history.
pub fn join(nick: &str) -> Element {
    stanza(
        "presence",
        &[("to", &format!("{ROOM}/{nick}"))],
        vec![Element::builder("x", MUC).build()],
    )
}

/// The unavailable presence that takes `nick`'s resource out of the room.
pub fn leave(nick: &str) -> Element {
    stanza(
        "presence",
        &[("to", &occupant(nick)), ("type", "unavailable")],
        vec![],
    )
}

/// Whether a stanza comes from the room or one of its occupants.
pub fn from_room(el: &Element) -> bool {
    el.attr("from").map(bare) == Some(ROOM)
}

/// An occupant's JID in the room.
pub fn occupant(nick: &str) -> String {
    format!("{ROOM}/{nick}")
}

/// An IRC user in #chan, once the server has listed its members.
pub async fn on_chan(w: &World, nick: &str) -> IrcClient {
    let mut c = IrcClient::connect(w.irc_port(), nick).await;
    c.send("JOIN #chan").await;
    c.expect(&format!("{nick}'s join"), |l| l.contains(" 366 "))
        .await;
    c
}

/// Two IRC users in #chan (carol created it, so she is an operator) with
/// a topic, and alice registered and online.
pub async fn channel_with_alice(w: &World) -> (TestClient, IrcClient, IrcClient) {
    let mut carol = on_chan(w, "carol").await;
    carol.send("TOPIC #chan :the topic").await;
    let dave = on_chan(w, "dave").await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    register_and_subscribe(&mut alice, IRC, &[("nick", "alice")]).await;
    (alice, carol, dave)
}

/// `channel_with_alice`, with alice in the room as `alice` and carol
/// seeing her JOIN.
pub async fn alice_in_the_room(w: &World) -> (TestClient, IrcClient, IrcClient) {
    let (mut alice, mut carol, dave) = channel_with_alice(w).await;
    join_room(&mut alice, "alice").await;
    carol
        .expect("alice joins on IRC", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
    (alice, carol, dave)
}

/// Joins and returns the stanzas of the join, up to the subject.
pub async fn join_room(alice: &mut TestClient, nick: &str) -> Vec<Element> {
    alice.send(join(nick)).await;
    let mut seen = Vec::new();
    loop {
        let el = alice.expect("the room's state", from_room).await;
        let done = el.name() == "message" && el.get_child("subject", NS).is_some();
        seen.push(el);
        if done {
            return seen;
        }
    }
}

/// A MAM query on the room: each archived message's id and body, and the
/// `fin`.
pub async fn mam_page(c: &mut TestClient, set: Element) -> (Vec<(String, String)>, Element) {
    let (rows, fin) = mam_stamped(c, set).await;
    let rows = rows.into_iter().map(|(id, body, _)| (id, body)).collect();
    (rows, fin)
}

/// `mam_page`, with each message's delay stamp.
pub async fn mam_stamped(
    c: &mut TestClient,
    set: Element,
) -> (Vec<(String, String, String)>, Element) {
    let query = Element::builder("query", "urn:xmpp:mam:2")
        .attr(ncname("queryid"), "q1")
        .append(set)
        .build();
    // Results arrive before the iq's answer; collect them as they come.
    let id = "mam-q";
    c.send(stanza(
        "iq",
        &[("to", ROOM), ("type", "set"), ("id", id)],
        vec![query],
    ))
    .await;
    let mut results = Vec::new();
    loop {
        let el = c
            .expect("MAM results", |el| {
                el.get_child("result", "urn:xmpp:mam:2").is_some() || el.attr("id") == Some(id)
            })
            .await;
        if let Some(result) = el.get_child("result", "urn:xmpp:mam:2") {
            let inner = result
                .get_child("forwarded", "urn:xmpp:forward:0")
                .and_then(|f| f.get_child("message", NS))
                .expect("a forwarded message");
            let stamp = result
                .get_child("forwarded", "urn:xmpp:forward:0")
                .unwrap()
                .get_child("delay", "urn:xmpp:delay")
                .and_then(|d| d.attr("stamp"))
                .expect("a delay stamp");
            results.push((
                result.attr("id").unwrap().to_owned(),
                inner.get_child("body", NS).unwrap().text(),
                stamp.to_owned(),
            ));
            continue;
        }
        assert_eq!(el.attr("type"), Some("result"), "{}", String::from(&el));
        return (
            results,
            el.get_child("fin", "urn:xmpp:mam:2").expect("fin").clone(),
        );
    }
}
