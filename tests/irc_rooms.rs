//! IRC channels as XEP-0045 rooms, through Prosody and ngircd.

mod harness;

use harness::client::{bare, error_condition, ncname, presence_from, TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{body, muc_statuses, register_and_subscribe, stanza};
use harness::{World, IRC};
use tokio_xmpp::parsers::minidom::Element;

const ROOM: &str = "#chan%127.0.0.1@irc.localhost";
const MUC: &str = "http://jabber.org/protocol/muc";
const MUC_USER: &str = "http://jabber.org/protocol/muc#user";

fn join(nick: &str) -> Element {
    stanza(
        "presence",
        &[("to", &format!("{ROOM}/{nick}"))],
        vec![Element::builder("x", MUC).build()],
    )
}

fn item_attr(el: &Element, attr: &str) -> Option<String> {
    el.get_child("x", MUC_USER)?
        .get_child("item", MUC_USER)?
        .attr(attr)
        .map(str::to_owned)
}

fn from_room(el: &Element) -> bool {
    el.attr("from").map(bare) == Some(ROOM)
}

fn occupant(nick: &str) -> String {
    format!("{ROOM}/{nick}")
}

/// Two IRC users in #chan (carol created it, so she is an operator) with
/// a topic, and alice registered and online.
async fn channel_with_alice(w: &World) -> (TestClient, IrcClient, IrcClient) {
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    carol.send("TOPIC #chan :the topic").await;
    let mut dave = IrcClient::connect(w.irc_port(), "dave").await;
    dave.send("JOIN #chan").await;
    dave.expect("dave's join", |l| l.contains(" 366 ")).await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.prosody.c2s).await;
    alice.available().await;
    register_and_subscribe(&mut alice, IRC, &[("nick", "alice")]).await;
    (alice, carol, dave)
}

/// Joins and returns the stanzas of the join, up to the subject.
async fn join_room(alice: &mut TestClient, nick: &str) -> Vec<Element> {
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

#[tokio::test]
async fn join_order_messages_private_messages_and_topic() {
    let w = World::start_irc().await;
    let (mut alice, mut carol, mut dave) = channel_with_alice(&w).await;
    let joined = join_room(&mut alice, "alice").await;
    // Occupants first, then the self-presence (110, 170), then the subject.
    let names: Vec<String> = joined
        .iter()
        .map(|el| {
            el.attr("from")
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let self_at = joined
        .iter()
        .position(|el| muc_statuses(el).contains(&"110".to_owned()))
        .expect("a self-presence");
    assert_eq!(names[self_at], "alice");
    let carol_at = names.iter().position(|n| n == "carol").expect("carol");
    let dave_at = names.iter().position(|n| n == "dave").expect("dave");
    assert!(carol_at < self_at && dave_at < self_at);
    assert!(muc_statuses(&joined[self_at]).contains(&"170".to_owned()));
    assert_eq!(
        item_attr(&joined[carol_at], "role").as_deref(),
        Some("moderator")
    );
    assert_eq!(
        item_attr(&joined[carol_at], "affiliation").as_deref(),
        Some("admin")
    );
    assert_eq!(
        item_attr(&joined[dave_at], "role").as_deref(),
        Some("participant")
    );
    let subject = joined.last().unwrap();
    assert_eq!(
        subject.get_child("subject", NS).unwrap().text(),
        "the topic"
    );
    carol
        .expect("alice joins on IRC", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;

    // groupchat → PRIVMSG #chan, reflected with the id alice sent.
    alice
        .send(stanza(
            "message",
            &[("to", ROOM), ("type", "groupchat"), ("id", "g1")],
            vec![body("hello room")],
        ))
        .await;
    let line = carol
        .expect("alice's message", |l| l.contains("PRIVMSG #chan"))
        .await;
    assert!(
        line.starts_with(":alice!") && line.ends_with(":hello room"),
        "{line}"
    );
    let echo = alice
        .expect("the reflection", |el| {
            el.name() == "message" && el.attr("id") == Some("g1")
        })
        .await;
    assert_eq!(echo.attr("from"), Some(occupant("alice").as_str()));
    assert_eq!(echo.attr("type"), Some("groupchat"));
    let stanza_id = echo
        .get_child("stanza-id", "urn:xmpp:sid:0")
        .expect("a stanza-id");
    assert_eq!(stanza_id.attr("by"), Some(ROOM));

    // PRIVMSG #chan → groupchat from the occupant; /me too.
    dave.send("PRIVMSG #chan :hi \x02all\x02").await;
    let got = alice
        .expect("dave's message", |el| {
            el.name() == "message" && el.attr("from") == Some(occupant("dave").as_str())
        })
        .await;
    assert_eq!(got.attr("type"), Some("groupchat"));
    assert_eq!(got.get_child("body", NS).unwrap().text(), "hi all");
    dave.send("PRIVMSG #chan :\x01ACTION waves\x01").await;
    let got = alice
        .expect("dave's action", |el| {
            el.name() == "message" && el.attr("from") == Some(occupant("dave").as_str())
        })
        .await;
    assert_eq!(got.get_child("body", NS).unwrap().text(), "/me waves");

    // A private message through the room, and the answer back through it.
    alice
        .send(stanza(
            "message",
            &[("to", &occupant("dave")), ("type", "chat"), ("id", "p1")],
            vec![body("psst")],
        ))
        .await;
    assert_eq!(
        dave.next_message(false).await,
        ("alice".into(), "psst".into())
    );
    dave.send("PRIVMSG alice :what?").await;
    let got = alice
        .expect("dave's private answer", |el| {
            el.name() == "message"
                && el.attr("type") == Some("chat")
                && el.attr("from") == Some(occupant("dave").as_str())
        })
        .await;
    assert_eq!(got.get_child("body", NS).unwrap().text(), "what?");

    // The subject both ways.
    let topic = Element::builder("subject", NS).append("new topic").build();
    alice
        .send(stanza(
            "message",
            &[("to", ROOM), ("type", "groupchat")],
            vec![topic],
        ))
        .await;
    carol
        .expect("the TOPIC", |l| l.contains("TOPIC #chan :new topic"))
        .await;
    carol.send("TOPIC #chan :carol's topic").await;
    let got = alice
        .expect("carol's topic", |el| {
            el.name() == "message"
                && el
                    .get_child("subject", NS)
                    .is_some_and(|s| s.text() == "carol's topic")
        })
        .await;
    assert_eq!(got.attr("from"), Some(occupant("carol").as_str()));

    // Leaving: a self-presence with 110, and a PART on IRC.
    alice
        .send(stanza(
            "presence",
            &[("to", &occupant("alice")), ("type", "unavailable")],
            vec![],
        ))
        .await;
    let gone = alice
        .expect("the self unavailable", |el| {
            presence_from(el, ROOM, Some("unavailable"))
        })
        .await;
    assert!(muc_statuses(&gone).contains(&"110".to_owned()));
    carol
        .expect("alice's PART", |l| {
            l.starts_with(":alice!") && l.contains("PART #chan")
        })
        .await;
}

#[tokio::test]
async fn nicks_kicks_and_modes_both_ways() {
    let w = World::start_irc().await;
    let (mut alice, mut carol, mut dave) = channel_with_alice(&w).await;
    join_room(&mut alice, "alice").await;
    carol
        .expect("alice joins on IRC", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;

    // An IRC nick change: a 303 pair.
    dave.send("NICK dave2").await;
    let gone = alice
        .expect("dave's 303", |el| {
            presence_from(el, ROOM, Some("unavailable"))
                && el.attr("from") == Some(occupant("dave").as_str())
        })
        .await;
    assert!(muc_statuses(&gone).contains(&"303".to_owned()));
    assert_eq!(item_attr(&gone, "nick").as_deref(), Some("dave2"));
    alice
        .expect("dave2 arrives", |el| {
            presence_from(el, ROOM, None) && el.attr("from") == Some(occupant("dave2").as_str())
        })
        .await;

    // alice changes her nick through presence: NICK on IRC, 303 + 110.
    alice
        .send(stanza("presence", &[("to", &occupant("alice2"))], vec![]))
        .await;
    carol
        .expect("alice's NICK", |l| {
            l.starts_with(":alice!") && l.contains("NICK") && l.contains("alice2")
        })
        .await;
    let own = alice
        .expect("alice's 303", |el| {
            presence_from(el, ROOM, Some("unavailable"))
                && el.attr("from") == Some(occupant("alice").as_str())
        })
        .await;
    assert!(
        muc_statuses(&own).contains(&"303".to_owned())
            && muc_statuses(&own).contains(&"110".to_owned())
    );
    // A taken nick: conflict.
    alice
        .send(stanza("presence", &[("to", &occupant("carol"))], vec![]))
        .await;
    let refused = alice
        .expect("the conflict", |el| {
            el.attr("type") == Some("error") && el.name() == "presence"
        })
        .await;
    assert_eq!(error_condition(&refused), "conflict");

    // Modes: carol gives alice2 voice, then operator status.
    carol.send("MODE #chan +v alice2").await;
    let voiced = alice
        .expect("voice", |el| {
            presence_from(el, ROOM, None) && el.attr("from") == Some(occupant("alice2").as_str())
        })
        .await;
    assert_eq!(item_attr(&voiced, "role").as_deref(), Some("participant"));
    assert_eq!(item_attr(&voiced, "affiliation").as_deref(), Some("member"));
    assert!(muc_statuses(&voiced).contains(&"110".to_owned()));
    carol.send("MODE #chan +o alice2").await;
    let opped = alice
        .expect("op", |el| {
            presence_from(el, ROOM, None)
                && el.attr("from") == Some(occupant("alice2").as_str())
                && item_attr(el, "role").as_deref() == Some("moderator")
        })
        .await;
    assert_eq!(item_attr(&opped, "affiliation").as_deref(), Some("admin"));

    // A moderator's kick from XMPP becomes a KICK.
    let kick = Element::builder("query", "http://jabber.org/protocol/muc#admin")
        .append(
            Element::builder("item", "http://jabber.org/protocol/muc#admin")
                .attr(ncname("nick"), "dave2")
                .attr(ncname("role"), "none")
                .append(
                    Element::builder("reason", "http://jabber.org/protocol/muc#admin")
                        .append("out"),
                ),
        )
        .build();
    let answer = alice.iq(ROOM, true, kick).await;
    assert_eq!(answer.attr("type"), Some("result"));
    dave.expect("the KICK", |l| l.contains("KICK #chan dave2"))
        .await;
    let kicked = alice
        .expect("dave2's 307", |el| {
            presence_from(el, ROOM, Some("unavailable"))
                && el.attr("from") == Some(occupant("dave2").as_str())
        })
        .await;
    assert!(muc_statuses(&kicked).contains(&"307".to_owned()));

    // Kicked from IRC: 307 with 110, and out of the room.
    carol.send("KICK #chan alice2 :bye").await;
    let out = alice
        .expect("alice kicked", |el| {
            presence_from(el, ROOM, Some("unavailable"))
                && el.attr("from") == Some(occupant("alice2").as_str())
        })
        .await;
    let codes = muc_statuses(&out);
    assert!(
        codes.contains(&"307".to_owned()) && codes.contains(&"110".to_owned()),
        "{codes:?}"
    );
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    let answer = alice.iq(&occupant("alice2"), false, ping).await;
    assert_eq!(error_condition(&answer), "not-acceptable");
}

#[tokio::test]
async fn join_errors() {
    let w = World::start_irc().await;
    let (mut alice, mut carol, _dave) = channel_with_alice(&w).await;
    for (setup, undo, condition) in [
        (
            "MODE #chan +b alice!*@*",
            "MODE #chan -b alice!*@*",
            "forbidden",
        ),
        ("MODE #chan +i", "MODE #chan -i", "registration-required"),
        (
            "MODE #chan +k sesame",
            "MODE #chan -k sesame",
            "not-authorized",
        ),
        ("MODE #chan +l 2", "MODE #chan -l", "service-unavailable"),
    ] {
        carol.send(setup).await;
        carol
            .expect("the mode", |l| l.contains(" MODE #chan "))
            .await;
        alice.send(join("alice")).await;
        let refused = alice
            .expect("the join error", |el| {
                el.name() == "presence" && el.attr("type") == Some("error") && from_room(el)
            })
            .await;
        assert_eq!(error_condition(&refused), condition, "after {setup}");
        carol.send(undo).await;
        carol
            .expect("the mode undone", |l| l.contains(" MODE #chan "))
            .await;
    }
    // With the key, the join works.
    carol.send("MODE #chan +k sesame").await;
    carol
        .expect("the key", |l| l.contains(" MODE #chan "))
        .await;
    let with_key = stanza(
        "presence",
        &[("to", &occupant("alice"))],
        vec![Element::builder("x", MUC)
            .append(Element::builder("password", MUC).append("sesame"))
            .build()],
    );
    alice.send(with_key).await;
    alice
        .expect("joined with the key", |el| {
            presence_from(el, ROOM, None) && muc_statuses(el).contains(&"110".to_owned())
        })
        .await;
}

#[tokio::test]
async fn resources_repeated_joins_self_ping_and_unregistered_users() {
    let w = World::start_irc().await;
    let (mut first, mut carol, _dave) = channel_with_alice(&w).await;
    join_room(&mut first, "alice").await;
    carol
        .expect("alice joins on IRC", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
    let mut second = TestClient::connect("alice", "localhost", "pw", w.prosody.c2s).await;
    second.available().await;
    // The second resource gets the whole state, without a second JOIN.
    let state = join_room(&mut second, "alice").await;
    assert!(state
        .iter()
        .any(|el| muc_statuses(el).contains(&"110".to_owned())));
    // A repeated join from the first resource re-sends the state too.
    let again = join_room(&mut first, "alice").await;
    assert!(again.len() >= 3);
    // Both resources see a message; alice's own reaches both.
    carol.send("PRIVMSG #chan :to everyone").await;
    for c in [&mut first, &mut second] {
        c.expect("carol's message", |el| {
            el.name() == "message" && el.attr("from") == Some(occupant("carol").as_str())
        })
        .await;
    }
    second
        .send(stanza(
            "message",
            &[("to", ROOM), ("type", "groupchat"), ("id", "m2")],
            vec![body("from the phone")],
        ))
        .await;
    for c in [&mut first, &mut second] {
        c.expect("the reflection", |el| el.attr("id") == Some("m2"))
            .await;
    }
    // Self-ping (XEP-0410): joined → result.
    let ping = || Element::builder("ping", "urn:xmpp:ping").build();
    assert_eq!(
        first
            .iq(&occupant("alice"), false, ping())
            .await
            .attr("type"),
        Some("result")
    );
    // One resource leaves: the other stays, IRC sees no PART.
    first
        .send(stanza(
            "presence",
            &[("to", &occupant("alice")), ("type", "unavailable")],
            vec![],
        ))
        .await;
    first
        .expect("first is out", |el| {
            presence_from(el, ROOM, Some("unavailable"))
        })
        .await;
    assert_eq!(
        error_condition(&first.iq(&occupant("alice"), false, ping()).await),
        "not-acceptable"
    );
    carol.send("PRIVMSG #chan :still there?").await;
    second
        .expect("second still in", |el| {
            el.name() == "message" && el.attr("from") == Some(occupant("carol").as_str())
        })
        .await;

    // bob never registered: his room nick becomes his IRC nick.
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.prosody.c2s).await;
    let joined = join_room(&mut bob, "bobby").await;
    assert!(joined
        .iter()
        .any(|el| el.attr("from") == Some(occupant("bobby").as_str())));
    carol
        .expect("bobby joins on IRC", |l| {
            l.starts_with(":bobby!") && l.contains("JOIN")
        })
        .await;
    // A nick in use on IRC: conflict.
    let mut eve_like = TestClient::connect("admin", "localhost", "pw", w.prosody.c2s).await;
    eve_like.send(join("carol")).await;
    let refused = eve_like
        .expect("nick in use", |el| {
            el.name() == "presence" && el.attr("type") == Some("error")
        })
        .await;
    assert_eq!(error_condition(&refused), "conflict");
}

/// A MAM query on the room; returns the archived bodies and the `fin`.
async fn mam_page(c: &mut TestClient, set: Element) -> (Vec<(String, String)>, Element) {
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
            assert!(result
                .get_child("forwarded", "urn:xmpp:forward:0")
                .unwrap()
                .get_child("delay", "urn:xmpp:delay")
                .is_some());
            results.push((
                result.attr("id").unwrap().to_owned(),
                inner.get_child("body", NS).unwrap().text(),
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

fn rsm(max: usize, before: Option<&str>) -> Element {
    let mut set = Element::builder("set", "http://jabber.org/protocol/rsm")
        .append(Element::builder("max", "http://jabber.org/protocol/rsm").append(max.to_string()));
    if let Some(before) = before {
        set =
            set.append(Element::builder("before", "http://jabber.org/protocol/rsm").append(before));
    }
    set.build()
}

#[tokio::test]
async fn archives_mam_paging_and_history_on_join() {
    let w = World::start_irc().await;
    let (mut alice, mut carol, _dave) = channel_with_alice(&w).await;
    join_room(&mut alice, "alice").await;
    carol
        .expect("alice joins on IRC", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
    for i in 0..250 {
        carol.send(&format!("PRIVMSG #chan :line {i}")).await;
    }
    let mut last_id = String::new();
    for i in 0..250 {
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
    // Page backwards from the end (an empty <before/>), 100 at a time.
    let (page, fin) = mam_page(&mut alice, rsm(100, Some(""))).await;
    assert_eq!(page.len(), 100);
    assert_eq!(page.last().unwrap().1, "line 249");
    assert_eq!(page.last().unwrap().0, last_id, "archive id = stanza-id");
    assert_ne!(fin.attr("complete"), Some("true"));
    let mut all: Vec<String> = page.iter().map(|(_, b)| b.clone()).collect();
    let mut first = page[0].0.clone();
    loop {
        let (page, fin) = mam_page(&mut alice, rsm(100, Some(&first))).await;
        let mut bodies: Vec<String> = page.iter().map(|(_, b)| b.clone()).collect();
        bodies.extend(all);
        all = bodies;
        if fin.attr("complete") == Some("true") {
            break;
        }
        first = page[0].0.clone();
    }
    let expected: Vec<String> = (0..250).map(|i| format!("line {i}")).collect();
    assert_eq!(all, expected);

    // bob joins now: his archive starts now; alice's is not his.
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.prosody.c2s).await;
    join_room(&mut bob, "bob").await;
    let (theirs, fin) = mam_page(&mut bob, rsm(100, None)).await;
    assert!(theirs.is_empty(), "bob read alice's archive: {theirs:?}");
    assert_eq!(fin.attr("complete"), Some("true"));

    // History on join: alice leaves and comes back asking for 5.
    alice
        .send(stanza(
            "presence",
            &[("to", &occupant("alice")), ("type", "unavailable")],
            vec![],
        ))
        .await;
    alice
        .expect("out", |el| presence_from(el, ROOM, Some("unavailable")))
        .await;
    let ask = |attr: &str, value: &str| {
        stanza(
            "presence",
            &[("to", &occupant("alice"))],
            vec![Element::builder("x", MUC)
                .append(Element::builder("history", MUC).attr(ncname(attr), value))
                .build()],
        )
    };
    alice.send(ask("maxstanzas", "5")).await;
    let mut history = Vec::new();
    loop {
        let el = alice.expect("the join", from_room).await;
        if el.get_child("subject", NS).is_some() {
            break;
        }
        if el.name() == "message" {
            assert!(
                el.get_child("delay", "urn:xmpp:delay").is_some(),
                "history carries a delay"
            );
            history.push(el.get_child("body", NS).unwrap().text());
        }
    }
    assert_eq!(
        history,
        ["line 245", "line 246", "line 247", "line 248", "line 249"]
    );
    // maxstanzas="0": none.
    let mut second = TestClient::connect("alice", "localhost", "pw", w.prosody.c2s).await;
    second.send(ask("maxstanzas", "0")).await;
    loop {
        let el = second.expect("the join", from_room).await;
        if el.get_child("subject", NS).is_some() {
            break;
        }
        assert_ne!(el.name(), "message", "history despite maxstanzas=0");
    }
    // maxchars: the newest messages whose bodies fit ("line 24N" is 8).
    let mut third = TestClient::connect("alice", "localhost", "pw", w.prosody.c2s).await;
    third.send(ask("maxchars", "17")).await;
    let mut bodies = Vec::new();
    loop {
        let el = third.expect("the join", from_room).await;
        if el.get_child("subject", NS).is_some() {
            break;
        }
        if el.name() == "message" {
            bodies.push(el.get_child("body", NS).unwrap().text());
        }
    }
    assert_eq!(bodies, ["line 248", "line 249"]);
    // since: a date after every message means none.
    let mut fourth = TestClient::connect("alice", "localhost", "pw", w.prosody.c2s).await;
    fourth.send(ask("since", "2099-01-01T00:00:00Z")).await;
    loop {
        let el = fourth.expect("the join", from_room).await;
        if el.get_child("subject", NS).is_some() {
            break;
        }
        assert_ne!(el.name(), "message", "history from the future");
    }
}

#[tokio::test]
async fn rejoin_after_an_irc_restart_disco_and_shutdown() {
    let mut w = World::start_irc().await;
    // carol and dave stay connected until the server dies: their QUITs
    // never reach ferry.
    let (mut alice, _carol, _dave) = channel_with_alice(&w).await;
    join_room(&mut alice, "alice").await;
    // Room disco#info, and the network JID lists the joined channel.
    let info = alice
        .iq(
            ROOM,
            false,
            Element::builder("query", "http://jabber.org/protocol/disco#info").build(),
        )
        .await;
    let info = String::from(&info);
    for feature in [
        "http://jabber.org/protocol/muc",
        "urn:xmpp:mam:2",
        "muc_open",
        "muc_semianonymous",
    ] {
        assert!(info.contains(feature), "room disco lacks {feature}: {info}");
    }
    assert!(info.contains("conference"));
    let items = alice
        .iq(
            "127.0.0.1@irc.localhost",
            false,
            Element::builder("query", "http://jabber.org/protocol/disco#items").build(),
        )
        .await;
    assert!(
        String::from(&items).contains(ROOM),
        "{}",
        String::from(&items)
    );

    // The IRC server dies and comes back: ferry rejoins; carol and dave were
    // gone when it did, erin is there now.
    w.ircd().kill();
    w.ircd().restart();
    let mut erin = IrcClient::connect(w.irc_port(), "erin").await;
    erin.send("JOIN #chan").await;
    erin.expect("erin's join", |l| l.contains(" 366 ")).await;
    erin.expect("alice rejoins", |l| {
        l.starts_with(":alice!") && l.contains("JOIN")
    })
    .await;
    alice
        .expect("carol gone", |el| {
            presence_from(el, ROOM, Some("unavailable"))
                && el.attr("from") == Some(occupant("carol").as_str())
        })
        .await;
    alice
        .expect("erin there", |el| {
            presence_from(el, ROOM, None) && el.attr("from") == Some(occupant("erin").as_str())
        })
        .await;
    erin.send("PRIVMSG #chan :welcome back").await;
    alice
        .expect("erin's message", |el| {
            el.name() == "message" && el.attr("from") == Some(occupant("erin").as_str())
        })
        .await;

    // Shutdown: 332 from the room.
    let (status, _) = w.ferry.terminate();
    assert!(status.success());
    let out = alice
        .expect("332", |el| {
            presence_from(el, ROOM, Some("unavailable"))
                && el.attr("from") == Some(occupant("alice").as_str())
        })
        .await;
    assert!(
        muc_statuses(&out).contains(&"332".to_owned()),
        "{:?}",
        muc_statuses(&out)
    );
}
