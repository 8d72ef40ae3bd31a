//! IRC channels as XEP-0045 rooms, through Prosody and ngircd.

mod harness;

use harness::client::{error_condition, ncname, presence_from, TestClient, NS};
use harness::ircd::IrcClient;
use harness::rooms::{
    alice_in_the_room, channel_with_alice, from_room, join, join_room, leave, occupant, MUC, ROOM,
};
use harness::stanzas::{body, muc_statuses, stanza};
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

const MUC_USER: &str = "http://jabber.org/protocol/muc#user";

fn item_attr(el: &Element, attr: &str) -> Option<String> {
    el.get_child("x", MUC_USER)?
        .get_child("item", MUC_USER)?
        .attr(attr)
        .map(str::to_owned)
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
    alice.send(leave("alice")).await;
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
    let (mut alice, mut carol, mut dave) = alice_in_the_room(&w).await;

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
    // Answered once IRC echoes the KICK: the 307 may come first.
    alice
        .send(stanza(
            "iq",
            &[("to", ROOM), ("type", "set"), ("id", "kick")],
            vec![kick],
        ))
        .await;
    dave.expect("the KICK", |l| l.contains("KICK #chan dave2"))
        .await;
    let (mut answered, mut kicked) = (None, None);
    while answered.is_none() || kicked.is_none() {
        let el = alice
            .expect("the kick's answer and dave2's 307", |el| {
                el.attr("id") == Some("kick")
                    || presence_from(el, ROOM, Some("unavailable"))
                        && el.attr("from") == Some(occupant("dave2").as_str())
            })
            .await;
        match el.name() {
            "iq" => answered = Some(el),
            _ => kicked = Some(el),
        }
    }
    assert_eq!(answered.unwrap().attr("type"), Some("result"));
    assert!(muc_statuses(&kicked.unwrap()).contains(&"307".to_owned()));

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
    let (mut first, mut carol, _dave) = alice_in_the_room(&w).await;
    let mut second = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
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
    first.send(leave("alice")).await;
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
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
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
    let mut eve_like = TestClient::connect("admin", "localhost", "pw", w.xmpp.c2s).await;
    eve_like.send(join("carol")).await;
    let refused = eve_like
        .expect("nick in use", |el| {
            el.name() == "presence" && el.attr("type") == Some("error")
        })
        .await;
    assert_eq!(error_condition(&refused), "conflict");
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
    // ferry may rejoin before erin's JOIN (alice is then in the names
    // reply) or after it (erin sees alice's JOIN).
    erin.expect("alice rejoins", |l| {
        let in_names = l.contains(" 353 ")
            && l.rsplit_once(" :").is_some_and(|(_, names)| {
                names
                    .split(' ')
                    .any(|n| n.trim_start_matches(['@', '+', '%', '&', '~']) == "alice")
            });
        in_names || (l.starts_with(":alice!") && l.contains("JOIN"))
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
