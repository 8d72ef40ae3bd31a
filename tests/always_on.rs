//! Always-on IRC (SPEC §7): a user whose network or channel is
//! `persistent` stays in their channels while offline, the archive keeps
//! filling, and ferry joins those channels again when it starts.

mod harness;

use std::time::Duration;

use harness::client::{ncname, presence_from, result, TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{register_and_subscribe, stanza, IRC_NET};
use harness::{World, IRC};
use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, Field};
use tokio_xmpp::parsers::minidom::Element;

const ROOM: &str = "#chan%127.0.0.1@irc.localhost";
const COMMANDS: &str = "http://jabber.org/protocol/commands";

/// A World whose Prosody keeps messages for offline users.
async fn world() -> World {
    let mut w = World::start_irc().await;
    w.xmpp.prosody().reconfigure(|c| {
        let disabled = r#"modules_disabled = { "s2s"; "tls"; "offline" }"#;
        assert!(c.contains(disabled), "the harness's Prosody config changed");
        c.replace(disabled, r#"modules_disabled = { "s2s"; "tls" }"#)
    });
    // Both links come up again after Prosody's restart.
    w.ferry.wait_links(4).await;
    w
}

/// alice, registered with `persistent` as given, online and connected.
async fn alice(w: &World, persistent: &str) -> TestClient {
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    let form = [("nick", "alice"), ("persistent", persistent)];
    register_and_subscribe(&mut alice, IRC, &form).await;
    harness::stanzas::connected_on_irc(&mut alice).await;
    alice
}

async fn join(alice: &mut TestClient) {
    let own = format!("{ROOM}/alice");
    let x = Element::builder("x", "http://jabber.org/protocol/muc").append(
        Element::builder("history", "http://jabber.org/protocol/muc")
            .attr(ncname("maxstanzas"), "0"),
    );
    alice
        .send(stanza("presence", &[("to", &own)], vec![x.build()]))
        .await;
    alice
        .expect("joined", |el| {
            el.name() == "presence" && el.attr("from") == Some(&own) && el.attr("type").is_none()
        })
        .await;
}

/// carol on IRC in #chan, and alice (always-on) joined to it.
async fn alice_in_chan(w: &World) -> (IrcClient, TestClient) {
    let mut carol = carol(w).await;
    let mut alice = alice(w, "true").await;
    joined_before(&mut alice, &mut carol).await;
    (carol, alice)
}

/// alice joins #chan, and carol sees her JOIN on IRC.
async fn joined_before(alice: &mut TestClient, carol: &mut IrcClient) {
    join(alice).await;
    carol
        .expect("alice joins", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
}

/// carol, on IRC in #chan.
async fn carol(w: &World) -> IrcClient {
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    carol
}

/// alice's comings and goings carol sees within `wait`.
async fn alice_moves(carol: &mut IrcClient, wait: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut moves = Vec::new();
    while let Some(line) = carol
        .next_line(deadline - tokio::time::Instant::now())
        .await
    {
        if line.starts_with(":alice!") && !line.contains(" PRIVMSG ") {
            moves.push(line);
        }
    }
    moves
}

/// The bodies of the room's archive, oldest first (one page of 250).
async fn archive(alice: &mut TestClient) -> Vec<String> {
    let set = Element::builder("set", "http://jabber.org/protocol/rsm")
        .append(Element::builder("max", "http://jabber.org/protocol/rsm").append("250"));
    let query = Element::builder("query", "urn:xmpp:mam:2")
        .attr(ncname("queryid"), "q")
        .append(set)
        .build();
    alice
        .send(stanza(
            "iq",
            &[("to", ROOM), ("type", "set"), ("id", "mam")],
            vec![query],
        ))
        .await;
    let mut bodies = Vec::new();
    loop {
        let el = alice
            .expect("MAM results", |el| {
                el.get_child("result", "urn:xmpp:mam:2").is_some() || el.attr("id") == Some("mam")
            })
            .await;
        let Some(result) = el.get_child("result", "urn:xmpp:mam:2") else {
            assert_eq!(el.attr("type"), Some("result"), "{}", String::from(&el));
            return bodies;
        };
        let message = result
            .get_child("forwarded", "urn:xmpp:forward:0")
            .and_then(|f| f.get_child("message", NS))
            .expect("a forwarded message");
        bodies.push(message.get_child("body", NS).unwrap().text());
    }
}

#[tokio::test]
async fn an_always_on_user_misses_nothing_while_offline() {
    let w = world().await;
    let (mut carol, alice) = alice_in_chan(&w).await;
    // Her client goes away: her server tells the room and the bridge.
    drop(alice);
    assert_eq!(
        alice_moves(&mut carol, Duration::from_secs(3)).await,
        Vec::<String>::new()
    );
    for i in 0..50 {
        carol.send(&format!("PRIVMSG #chan :line {i}")).await;
    }
    carol.send("PRIVMSG alice :while you were away").await;
    assert_eq!(
        alice_moves(&mut carol, Duration::from_secs(1)).await,
        Vec::<String>::new()
    );

    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    // In either order: carol's direct message, kept by her server, and
    // the network JID telling how the connection that stayed up stands.
    let (mut direct, mut connected) = (None, false);
    while direct.is_none() || !connected {
        let el = alice
            .expect("the direct message and the connection's state", |el| {
                (el.name() == "message"
                    && el.attr("from") == Some("carol%127.0.0.1@irc.localhost")
                    && el.get_child("body", NS).is_some())
                    || presence_from(el, IRC_NET, None)
            })
            .await;
        match el.name() {
            "message" => direct = Some(el.get_child("body", NS).unwrap().text()),
            _ => {
                connected = el
                    .get_child("status", NS)
                    .unwrap()
                    .text()
                    .starts_with("Connected")
            }
        }
    }
    assert_eq!(direct.as_deref(), Some("while you were away"));
    join(&mut alice).await;
    let archived = archive(&mut alice).await;
    let lines: Vec<String> = (0..50).map(|i| format!("line {i}")).collect();
    let missing: Vec<&String> = lines.iter().filter(|l| !archived.contains(l)).collect();
    assert!(missing.is_empty(), "not archived: {missing:?}");
    assert_eq!(
        alice_moves(&mut carol, Duration::from_secs(1)).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn always_on_rooms_are_joined_again_when_ferry_starts() {
    let mut w = world().await;
    let (mut carol, alice) = alice_in_chan(&w).await;
    drop(alice);
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.ferry.terminate();
    carol
        .expect("alice quits with ferry", |l| {
            l.starts_with(":alice!") && l.contains("QUIT")
        })
        .await;
    w.ferry.launch();
    let back = tokio::time::timeout(
        Duration::from_secs(10),
        carol.expect("alice back in #chan", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        }),
    )
    .await;
    assert!(back.is_ok(), "ferry did not join #chan again");
    carol.send("PRIVMSG #chan :said after the restart").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    join(&mut alice).await;
    let archived = archive(&mut alice).await;
    assert!(
        archived.contains(&"said after the restart".to_owned()),
        "{archived:?}"
    );
}

#[tokio::test]
async fn a_user_not_always_on_quits_irc_when_their_last_resource_leaves() {
    let w = world().await;
    let mut carol = carol(&w).await;
    let mut alice = alice(&w, "false").await;
    joined_before(&mut alice, &mut carol).await;
    drop(alice);
    let moves = alice_moves(&mut carol, Duration::from_secs(6)).await;
    assert!(moves.len() == 1 && moves[0].contains("QUIT"), "{moves:?}");
}

#[tokio::test]
async fn leaving_an_always_on_room_on_purpose_parts_the_channel() {
    let w = world().await;
    let (mut carol, alice) = alice_in_chan(&w).await;
    alice
        .presence(Some(&format!("{ROOM}/alice")), Some("unavailable"))
        .await;
    let moves = alice_moves(&mut carol, Duration::from_secs(4)).await;
    assert!(moves.len() == 1 && moves[0].contains("PART"), "{moves:?}");
}

/// Executes the settings command on `jid`, submitting `persistent` when
/// given; returns the command's answer.
async fn settings(alice: &mut TestClient, jid: &str, persistent: Option<&str>) -> Element {
    let mut command = Element::builder("command", COMMANDS)
        .attr(ncname("node"), "settings")
        .attr(ncname("action"), "execute");
    if let Some(value) = persistent {
        let mut field = Field::new(
            "persistent",
            tokio_xmpp::parsers::data_forms::FieldType::Boolean,
        );
        field.values = vec![value.into()];
        let form = DataForm::new(DataFormType::Submit, COMMANDS, vec![field]);
        command = command.append(Element::from(form));
    }
    result(alice.iq(jid, true, command.build()).await).expect("a command answer")
}

fn persistent_value(answer: &Element) -> Option<String> {
    let form = answer.get_child("x", "jabber:x:data")?;
    let field = form
        .children()
        .find(|f| f.attr("var") == Some("persistent"))?;
    Some(field.get_child("value", "jabber:x:data")?.text())
}

#[tokio::test]
async fn the_settings_command_makes_one_channel_always_on() {
    let w = world().await;
    let mut carol = carol(&w).await;
    let mut alice = alice(&w, "false").await;
    // The room's form shows the network's value, then its own.
    let shown = settings(&mut alice, ROOM, None).await;
    assert_eq!(persistent_value(&shown).as_deref(), Some("false"));
    let saved = settings(&mut alice, ROOM, Some("true")).await;
    assert_eq!(saved.attr("status"), Some("completed"));
    let shown = settings(&mut alice, ROOM, None).await;
    assert_eq!(persistent_value(&shown).as_deref(), Some("true"));
    // The network's own setting is still off.
    let network = settings(&mut alice, IRC_NET, None).await;
    assert_eq!(persistent_value(&network).as_deref(), Some("false"));

    joined_before(&mut alice, &mut carol).await;
    drop(alice);
    let moves = alice_moves(&mut carol, Duration::from_secs(3)).await;
    assert!(moves.is_empty(), "{moves:?}");
}

/// Whether `nick` is on `client`'s server now (ISON).
async fn on_irc(client: &mut IrcClient, nick: &str) -> bool {
    client.send(&format!("ISON {nick}")).await;
    let line = client
        .expect("ISON's answer", |l| l.contains(" 303 "))
        .await;
    line.rsplit_once(':')
        .is_some_and(|(_, nicks)| nicks.split_whitespace().any(|n| n == nick))
}

/// Waits until `nick` is (or is not) on `client`'s server.
async fn until_on_irc(client: &mut IrcClient, nick: &str, there: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while on_irc(client, nick).await != there {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{nick} still {}on {}'s server",
            if there { "not " } else { "" },
            client.nick
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Away, alice stays connected to her always-on network only: the other
/// network's connection closes, and opens again when she is back.
#[tokio::test]
async fn only_always_on_networks_stay_connected_while_the_user_is_away() {
    let (w, second, _second_dir) = World::start_two_ircs(|c| c).await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    let mut dave = IrcClient::connect_on("127.0.0.2", second.port, "dave").await;
    // Always-on on the first network, not on the second.
    let mut alice = alice(&w, "true").await;
    let other = [("nick", "alice"), ("persistent", "false")];
    let form = harness::stanzas::register_form(&other);
    result(alice.iq("127.0.0.2@irc.localhost", true, form).await);
    until_on_irc(&mut dave, "alice", true).await;

    drop(alice);
    until_on_irc(&mut dave, "alice", false).await;
    assert!(
        on_irc(&mut carol, "alice").await,
        "alice left her always-on network"
    );

    let alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    until_on_irc(&mut dave, "alice", true).await;
    assert!(on_irc(&mut carol, "alice").await);
}
