//! IRC direct chat and contacts' presence through Prosody and ngircd.

mod harness;

use harness::client::result;
use harness::client::{error_condition, presence_from, TestClient, NS};
use harness::ircd::{IrcClient, Ngircd};
use harness::stanzas::{body, online_on_irc, register_and_subscribe, register_form, stanza};
use harness::{World, IRC};
use tokio_xmpp::parsers::minidom::Element;

const NET: &str = "127.0.0.1@irc.localhost";

fn contact(nick: &str) -> String {
    format!("{nick}%127.0.0.1@irc.localhost")
}

fn chat(to: &str, id: &str, text: &str) -> Element {
    stanza(
        "message",
        &[("to", to), ("type", "chat"), ("id", id)],
        vec![body(text)],
    )
}

fn body_of(el: &Element) -> Option<String> {
    el.get_child("body", NS).map(|b| b.text())
}

fn message_from<'a>(from: &'a str) -> impl Fn(&Element) -> bool + 'a {
    move |el| el.name() == "message" && el.attr("from").map(harness::client::bare) == Some(from)
}

#[tokio::test]
async fn chat_both_ways_with_splitting_encodings_and_actions() {
    let w = World::start_irc().await;
    let mut bob = IrcClient::connect(w.irc_port(), "bob").await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;

    alice.send(chat(&contact("bob"), "m1", "hello bob")).await;
    assert_eq!(
        bob.next_message(false).await,
        ("alice".into(), "hello bob".into())
    );

    bob.send("PRIVMSG alice :hi \x02alice\x02, \x0304red\x03 text")
        .await;
    let got = alice
        .expect("bob's message", message_from(&contact("bob")))
        .await;
    assert_eq!(got.attr("type"), Some("chat"));
    assert_eq!(body_of(&got).as_deref(), Some("hi alice, red text"));

    // A windows-1252 line is decoded, not dropped.
    bob.send_bytes(b"PRIVMSG alice :caf\xe9 \x80").await;
    let got = alice
        .expect("the latin-1 line", message_from(&contact("bob")))
        .await;
    assert_eq!(body_of(&got).as_deref(), Some("café €"));

    // NOTICE and /me from IRC; /me from XMPP.
    bob.send("NOTICE alice :a notice").await;
    let got = alice
        .expect("the notice", message_from(&contact("bob")))
        .await;
    assert_eq!(body_of(&got).as_deref(), Some("a notice"));
    bob.send("PRIVMSG alice :\x01ACTION waves\x01").await;
    let got = alice
        .expect("the action", message_from(&contact("bob")))
        .await;
    assert_eq!(body_of(&got).as_deref(), Some("/me waves"));
    alice
        .send(chat(&contact("bob"), "m2", "/me waves back"))
        .await;
    assert_eq!(bob.next_message(false).await.1, "\x01ACTION waves back\x01");

    // Several lines: one PRIVMSG each, and a CR/LF never reaches IRC raw.
    alice
        .send(chat(
            &contact("bob"),
            "m3",
            "line one\nQUIT :injected\r\nline three",
        ))
        .await;
    assert_eq!(bob.next_message(false).await.1, "line one");
    assert_eq!(bob.next_message(false).await.1, "QUIT :injected");
    assert_eq!(bob.next_message(false).await.1, "line three");

    // A 2 KB body arrives whole, in lines that fit IRC's 512 bytes.
    let long: String = (0..500).map(|i| format!("w{i} ")).collect::<String>();
    let long = long.trim_end().to_owned();
    assert!(long.len() > 2000);
    alice.send(chat(&contact("bob"), "m4", &long)).await;
    let mut received = String::new();
    while received.len() < long.len() {
        let (_, piece) = bob.next_message(false).await;
        let relayed = format!(":alice!~alice@127.0.0.1 PRIVMSG bob :{piece}\r\n");
        assert!(
            relayed.len() <= 512,
            "a relayed line of {} bytes",
            relayed.len()
        );
        received.push_str(&piece);
    }
    assert_eq!(received, long);

    // CTCP VERSION is answered by the gateway.
    bob.send("PRIVMSG alice :\x01VERSION\x01").await;
    let (_, version) = bob.next_message(true).await;
    assert!(version.starts_with("\x01VERSION ferry"), "{version:?}");
}

#[tokio::test]
async fn errors_contacts_presence_and_a_taken_nick() {
    let w = World::start_irc().await;
    // Someone already has alice's nick on IRC.
    let mut squatter = IrcClient::connect(w.irc_port(), "alice").await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    register_and_subscribe(&mut alice, IRC, &[("nick", "alice")]).await;
    let connected = alice
        .expect("connected with a fallback nick", |el| {
            presence_from(el, NET, None)
                && el
                    .get_child("status", NS)
                    .is_some_and(|s| s.text().starts_with("Connected"))
        })
        .await;
    let status = connected.get_child("status", NS).unwrap().text();
    assert!(
        status.contains("alice_") && status.contains("in use"),
        "{status}"
    );

    // A message to nobody: item-not-found, with the id the user sent.
    alice
        .send(chat(&contact("nobody"), "lost1", "anyone?"))
        .await;
    let error = alice
        .expect("the error", |el| {
            el.attr("id") == Some("lost1") && el.attr("type") == Some("error")
        })
        .await;
    assert_eq!(error_condition(&error), "item-not-found");

    // Contacts' presence by ISON: carol comes and goes.
    alice
        .presence(Some(&contact("carol")), Some("subscribe"))
        .await;
    alice
        .expect("carol offline", |el| {
            presence_from(el, &contact("carol"), Some("unavailable"))
        })
        .await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    alice
        .expect("carol online", |el| {
            presence_from(el, &contact("carol"), None)
        })
        .await;
    carol.send("QUIT :bye").await;
    alice
        .expect("carol gone", |el| {
            presence_from(el, &contact("carol"), Some("unavailable"))
        })
        .await;

    // The squatter talks to the fallback nick; it reaches alice.
    squatter.send("PRIVMSG alice_ :you took my name").await;
    let got = alice
        .expect("message to alice_", message_from(&contact("alice")))
        .await;
    assert_eq!(body_of(&got).as_deref(), Some("you took my name"));
}

#[tokio::test]
async fn unregistered_users_get_registration_required() {
    let w = World::start_irc().await;
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    bob.available().await;
    bob.send(chat(&contact("carol"), "u1", "hi")).await;
    let error = bob
        .expect("the error", |el| el.attr("id") == Some("u1"))
        .await;
    assert_eq!(error_condition(&error), "registration-required");
}

#[tokio::test]
async fn resources_share_one_connection_and_shutdown_quits() {
    let mut w = World::start_irc().await;
    let mut bob = IrcClient::connect(w.irc_port(), "bob").await;
    let mut first = online_on_irc(&w, "alice", "alice").await.0;
    let mut second = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    second.available().await;
    second
        .expect("the gateway's presence", |el| presence_from(el, IRC, None))
        .await;
    // One connection: the second resource did not make a second nick.
    bob.send("WHOIS alice_").await;
    bob.expect("no alice_", |l| l.contains(" 401 ")).await;
    second
        .send(chat(&contact("bob"), "r2", "from my phone"))
        .await;
    assert_eq!(
        bob.next_message(false).await,
        ("alice".into(), "from my phone".into())
    );
    bob.send("PRIVMSG alice :to both").await;
    for c in [&mut first, &mut second] {
        let got = c
            .expect("bob's message", message_from(&contact("bob")))
            .await;
        assert_eq!(body_of(&got).as_deref(), Some("to both"));
    }
    // One resource leaves: the connection stays for the other.
    first.presence(None, Some("unavailable")).await;
    second.send(chat(&contact("bob"), "r3", "still here")).await;
    assert_eq!(bob.next_message(false).await.1, "still here");
    // The last one leaves: QUIT.
    second.presence(None, Some("unavailable")).await;
    quit_logged(&mut w, "alice", std::time::Duration::from_secs(5)).await;
    // Back online: a new connection; then ferry stops.
    second.available().await;
    // Bob writes once alice is back on IRC, not into the gap before.
    loop {
        bob.send("WHOIS alice").await;
        let reply = bob
            .expect("a WHOIS answer", |l| {
                l.contains(" 311 ") || l.contains(" 401 ")
            })
            .await;
        if reply.contains(" 311 ") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    bob.send("PRIVMSG alice :welcome back").await;
    second
        .expect("bob's message", message_from(&contact("bob")))
        .await;

    let (status, _) = w.ferry.terminate();
    assert!(status.success());
    // Nobody shares a channel with alice to see her QUIT, but ngircd says
    // how her connection ended: by QUIT, not a dropped socket.
    quit_logged_times(&mut w, "alice", 2, std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn irc_server_restart_reconnects_without_losing_a_queued_line() {
    let mut w = World::start_irc().await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    w.ircd().kill();
    alice
        .expect("told about the reconnect", |el| {
            presence_from(el, NET, None)
                && el
                    .get_child("status", NS)
                    .is_some_and(|s| s.text().contains("reconnecting"))
        })
        .await;
    // Written while IRC is away: kept, and sent after the reconnect.
    alice
        .send(chat(&contact("bob"), "q1", "sent while you were away"))
        .await;
    w.ircd().restart();
    let mut bob = IrcClient::connect(w.irc_port(), "bob").await;
    alice
        .expect("connected again", |el| {
            presence_from(el, NET, None)
                && el
                    .get_child("status", NS)
                    .is_some_and(|s| s.text().starts_with("Connected"))
        })
        .await;
    assert_eq!(
        bob.next_message(false).await,
        ("alice".into(), "sent while you were away".into())
    );
    assert!(!w.ferry.log().contains("panicked"));
}

/// The sample config pointed at the TLS port, trusting the test CA or not.
fn over_tls(config: String, ircd: &Ngircd, trust: bool) -> String {
    let mut config = config.replace(&ircd.network(), &format!("127.0.0.1:+{}", ircd.tls_port));
    if trust {
        let line = "# ca_files = { \"irc.example.org\" = \"/etc/ferry/irc-ca.pem\" }";
        assert!(config.contains(line));
        config = config.replace(
            line,
            &format!("ca_files = {{ \"127.0.0.1\" = \"{}\" }}", ircd.ca.display()),
        );
    }
    config
}

#[tokio::test]
async fn tls_with_the_test_ca() {
    let w = World::start_irc_with(|c, ircd| over_tls(c, ircd, true)).await;
    let mut bob = IrcClient::connect(w.irc_port(), "bob").await;
    let alice = online_on_irc(&w, "alice", "alice").await.0;
    alice.send(chat(&contact("bob"), "t1", "over TLS")).await;
    assert_eq!(
        bob.next_message(false).await,
        ("alice".into(), "over TLS".into())
    );
}

#[tokio::test]
async fn tls_refused_without_the_ca() {
    let w = World::start_irc_with(|c, ircd| over_tls(c, ircd, false)).await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    register_and_subscribe(&mut alice, IRC, &[("nick", "alice")]).await;
    let refused = alice
        .expect("the TLS failure", |el| {
            presence_from(el, NET, None)
                && el
                    .get_child("status", NS)
                    .is_some_and(|s| s.text().contains("reconnecting"))
        })
        .await;
    let status = refused.get_child("status", NS).unwrap().text();
    assert!(
        status.contains("TLS failed") && status.to_lowercase().contains("certificate"),
        "{status}"
    );
}

#[tokio::test]
async fn short_jids_and_network_jid_registration() {
    let w = World::start_irc().await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    // `dave@irc.localhost` (default network): replies come from that JID.
    let short = "dave@irc.localhost";
    alice.presence(Some(short), Some("subscribe")).await;
    alice
        .expect("dave offline", |el| {
            presence_from(el, short, Some("unavailable"))
        })
        .await;
    let mut dave = IrcClient::connect(w.irc_port(), "dave").await;
    alice
        .expect("dave online, from the JID in the roster", |el| {
            presence_from(el, short, None)
        })
        .await;
    alice.send(chat(short, "s1", "hi dave")).await;
    assert_eq!(
        dave.next_message(false).await,
        ("alice".into(), "hi dave".into())
    );
    dave.send("PRIVMSG alice :hi alice").await;
    let got = alice.expect("dave's answer", message_from(short)).await;
    assert_eq!(body_of(&got).as_deref(), Some("hi alice"));

    // bob registers on the network JID itself, as `bobby`.
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    bob.available().await;
    result(bob.iq(NET, true, register_form(&[("nick", "bobby")])).await);
    bob.expect("subscribe from the gateway", |el| {
        presence_from(el, IRC, Some("subscribe"))
    })
    .await;
    bob.presence(Some(IRC), Some("subscribed")).await;
    bob.presence(Some(&contact("dave")), Some("subscribe"))
        .await;
    bob.send(chat(&contact("dave"), "b1", "from bobby")).await;
    assert_eq!(
        dave.next_message(false).await,
        ("bobby".into(), "from bobby".into())
    );
}

/// Waits until ngircd's log says `nick` left by QUIT.
async fn quit_logged(w: &mut World, nick: &str, within: std::time::Duration) {
    quit_logged_times(w, nick, 1, within).await;
}

/// Waits until ngircd's log says `nick` left by QUIT `times` times.
async fn quit_logged_times(w: &mut World, nick: &str, times: usize, within: std::time::Duration) {
    let log = w.ircd().dir.join("ngircd.log");
    let deadline = std::time::Instant::now() + within;
    let needle = format!("\"{nick}!");
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let quits = text
            .lines()
            .filter(|l| l.contains(&needle) && l.contains("Got QUIT command"))
            .count();
        if quits >= times {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{nick} did not QUIT");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_user_gone_during_an_xmpp_outage_is_disconnected_from_irc() {
    let mut w = World::start_irc().await;
    let alice = online_on_irc(&w, "alice", "alice").await.0;
    drop(alice);
    // Prosody dies with alice's client, so ferry never hears that she
    // left; she never comes back, and her probe goes unanswered.
    w.xmpp.prosody().crash_and_restart();
    w.ferry.wait_links(4).await;
    quit_logged(&mut w, "alice", std::time::Duration::from_secs(20)).await;
}

#[tokio::test]
async fn a_frozen_server_is_detected_by_lag_and_reconnected() {
    let mut w = World::start_irc_with(|c, _| {
        assert!(c.contains("# ping_interval = 120"));
        c.replace("# ping_interval = 120", "ping_interval = 1")
    })
    .await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    w.ircd().freeze(true);
    let lost = alice
        .expect("the ping timeout", |el| {
            presence_from(el, NET, None)
                && el
                    .get_child("status", NS)
                    .is_some_and(|s| s.text().contains("reconnecting"))
        })
        .await;
    assert!(lost
        .get_child("status", NS)
        .unwrap()
        .text()
        .contains("ping timeout"));
    w.ircd().freeze(false);
    alice
        .expect("connected again", |el| {
            presence_from(el, NET, None)
                && el
                    .get_child("status", NS)
                    .is_some_and(|s| s.text().starts_with("Connected"))
        })
        .await;
}

/// A second resource's login makes the server probe the user's contacts:
/// ferry answers with the contact's presence as it stands (SPEC §2), so
/// carol, online on IRC, shows online to both resources and offline to
/// neither.
#[tokio::test]
async fn probes_to_a_contact_are_answered_with_its_presence() {
    let w = World::start_irc().await;
    let _carol = IrcClient::connect(w.irc_port(), "carol").await;
    let (mut alice, _) = online_on_irc(&w, "alice", "alice").await;
    alice
        .presence(Some(&contact("carol")), Some("subscribe"))
        .await;
    let carol_online = |el: &Element| presence_from(el, &contact("carol"), None);
    alice.expect("carol online", carol_online).await;

    let mut second = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    second.available().await;
    second
        .expect("carol online for the second resource", carol_online)
        .await;
    let carol_offline = |el: &Element| presence_from(el, &contact("carol"), Some("unavailable"));
    assert!(
        !alice
            .arrives(std::time::Duration::from_secs(2), carol_offline)
            .await,
        "carol shown offline after the probe"
    );
}
