//! IRC through inspircd + atheme: SASL, NickServ IDENTIFY, MONITOR.

mod harness;

use harness::client::{error_condition, error_text, presence_from, TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{query, register_and_subscribe, register_form};
use harness::{World, IRC};
use tokio_xmpp::parsers::minidom::Element;

const NET: &str = "127.0.0.1@irc.localhost";

fn contact(nick: &str) -> String {
    format!("{nick}%127.0.0.1@irc.localhost")
}

fn status_of(el: &Element) -> String {
    el.get_child("status", NS)
        .map(|s| s.text())
        .unwrap_or_default()
}

/// alice registers `nick` with `password` (none if empty) and waits for
/// the connection.
async fn connect(w: &World, nick: &str, password: &str) -> (TestClient, String) {
    let mut c = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    c.available().await;
    let form = [("nick", nick), ("password", password)];
    // No password: only the nick.
    let given = if password.is_empty() { 1 } else { 2 };
    register_and_subscribe(&mut c, IRC, &form[..given]).await;
    let online = c
        .expect("connected", |el| {
            presence_from(el, NET, None) && status_of(el).starts_with("Connected")
        })
        .await;
    let status = status_of(&online);
    (c, status)
}

#[tokio::test]
async fn sasl_logs_in_and_a_wrong_password_is_refused_at_registration() {
    let w = World::start_inspircd(true).await;
    let ircd = w.inspircd.as_ref().unwrap();
    ircd.register_account("alice", "right-pw").await;
    let mut watcher = IrcClient::connect(w.irc_port(), "watcher").await;

    let (c, status) = connect(&w, "alice", "right-pw").await;
    assert!(!status.contains("SASL"), "{status}");
    assert_eq!(
        ircd.account_of(&mut watcher, "alice").await.as_deref(),
        Some("alice")
    );
    drop(c);

    // A second user with a wrong password for her account: refused at
    // registration by SASL itself (SPEC §2), and nothing is kept.
    ircd.register_account("carol", "carol-pw").await;
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    bob.available().await;
    let wrong = register_form(&[("nick", "carol"), ("password", "wrong")]);
    let refused = bob.iq(IRC, true, wrong).await;
    assert_eq!(error_condition(&refused), "not-authorized", "{refused:?}");
    assert!(error_text(&refused).contains("SASL"), "{refused:?}");
    let form = bob.iq(IRC, false, query("jabber:iq:register")).await;
    assert!(
        form.get_child("query", "jabber:iq:register")
            .is_some_and(|q| q.get_child("registered", "jabber:iq:register").is_none()),
        "{form:?}"
    );
    assert_eq!(ircd.account_of(&mut watcher, "carol").await, None);
    // The right one is kept, and logs in.
    register_and_subscribe(
        &mut bob,
        IRC,
        &[("nick", "carol"), ("password", "carol-pw")],
    )
    .await;
    bob.expect("connected", |el| {
        presence_from(el, NET, None) && status_of(el).starts_with("Connected")
    })
    .await;
    assert_eq!(
        ircd.account_of(&mut watcher, "carol").await.as_deref(),
        Some("carol")
    );
}

#[tokio::test]
async fn nickserv_identify_without_sasl() {
    let w = World::start_inspircd(false).await;
    let ircd = w.inspircd.as_ref().unwrap();
    ircd.register_account("alice", "right-pw").await;
    let mut watcher = IrcClient::connect(w.irc_port(), "watcher").await;
    let (mut c, _) = connect(&w, "alice", "right-pw").await;
    // NickServ confirms, as a message from the network JID.
    let confirmed = c
        .expect("NickServ's confirmation", |el| {
            el.name() == "message"
                && el.attr("from").map(harness::client::bare) == Some(NET)
                && el
                    .get_child("body", NS)
                    .is_some_and(|b| b.text().contains("identified"))
        })
        .await;
    assert!(
        !confirmed
            .get_child("body", NS)
            .unwrap()
            .text()
            .contains('\x02'),
        "formatting stripped"
    );
    assert_eq!(
        ircd.account_of(&mut watcher, "alice").await.as_deref(),
        Some("alice")
    );
}

#[tokio::test]
async fn contacts_presence_by_monitor() {
    // ISON would poll only hourly: changes seen within seconds are MONITOR's.
    let w = World::start_inspircd_with(true, |c| {
        assert!(c.contains("presence_poll = 1"));
        c.replace("presence_poll = 1", "presence_poll = 3600")
    })
    .await;
    let (mut alice, _) = connect(&w, "alice", "").await;
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
}

#[tokio::test]
async fn inspircd_prefixes_give_roles() {
    let w = World::start_inspircd(true).await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let (mut alice, _) = connect(&w, "alice", "").await;
    let room = "#chan%127.0.0.1@irc.localhost";
    alice
        .send(harness::stanzas::stanza(
            "presence",
            &[("to", &format!("{room}/alice"))],
            vec![Element::builder("x", "http://jabber.org/protocol/muc").build()],
        ))
        .await;
    let carol_seen = alice
        .expect("carol", |el| {
            el.name() == "presence" && el.attr("from") == Some(format!("{room}/carol").as_str())
        })
        .await;
    let item = |el: &Element, attr: &str| {
        el.get_child("x", "http://jabber.org/protocol/muc#user")
            .and_then(|x| x.get_child("item", "http://jabber.org/protocol/muc#user"))
            .and_then(|i| i.attr(attr))
            .map(str::to_owned)
    };
    assert_eq!(item(&carol_seen, "role").as_deref(), Some("moderator"));
    carol
        .expect("alice joins", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
    // A half-operator (%) is a moderator and a member.
    carol.send("MODE #chan +h alice").await;
    let halfop = alice
        .expect("halfop", |el| {
            el.name() == "presence"
                && el.attr("from") == Some(format!("{room}/alice").as_str())
                && item(el, "role").as_deref() == Some("moderator")
        })
        .await;
    assert_eq!(item(&halfop, "affiliation").as_deref(), Some("member"));
}
