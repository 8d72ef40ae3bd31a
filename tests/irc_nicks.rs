//! The user's IRC nick: refused nick changes, the network JID's status,
//! and the registered nick taken back once it frees.

mod harness;

use std::cell::RefCell;
use std::time::Duration;

use harness::client::{bare, error_condition, error_text, presence_from, TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{body, muc_statuses, online_on_irc, stanza};
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

const NET: &str = "127.0.0.1@irc.localhost";
const CHAN: &str = "#chan%127.0.0.1@irc.localhost";
const OTHER: &str = "#other%127.0.0.1@irc.localhost";
const MUC: &str = "http://jabber.org/protocol/muc";
const MUC_USER: &str = "http://jabber.org/protocol/muc#user";

/// SPEC §3: the registered nick is back within 30 s of freeing.
const RECLAIM_WITHIN: Duration = Duration::from_secs(30);

fn occupant(room: &str, nick: &str) -> String {
    format!("{room}/{nick}")
}

fn item_nick(el: &Element) -> Option<String> {
    el.get_child("x", MUC_USER)?
        .get_child("item", MUC_USER)?
        .attr("nick")
        .map(str::to_owned)
}

fn status_of(el: &Element) -> String {
    el.get_child("status", NS)
        .map(|s| s.text())
        .unwrap_or_default()
}

/// The network JID's available presence whose status is `status`.
fn net_status(el: &Element, status: &str) -> bool {
    presence_from(el, NET, None) && status_of(el) == status
}

/// A presence from `room`/`nick` of `type_`.
fn from_occupant(el: &Element, room: &str, nick: &str, type_: Option<&str>) -> bool {
    presence_from(el, room, type_) && el.attr("from") == Some(occupant(room, nick).as_str())
}

/// alice registers `nick`, comes online, and waits for the network JID
/// to say she is connected; returns that status.
async fn online(w: &World, nick: &str) -> (TestClient, String) {
    let (c, connected) = online_on_irc(w, "alice", nick).await;
    (c, status_of(&connected))
}

/// Joins `room` as `nick`; returns the self-presence once the subject (the
/// end of the join) has come.
async fn join(c: &mut TestClient, room: &str, nick: &str) -> Element {
    c.send(stanza(
        "presence",
        &[("to", &occupant(room, nick))],
        vec![Element::builder("x", MUC).build()],
    ))
    .await;
    let mut own = None;
    loop {
        let el = c
            .expect("the room's state", |el| {
                el.attr("from").map(bare) == Some(room)
            })
            .await;
        if el.name() == "presence" && muc_statuses(&el).contains(&"110".to_owned()) {
            own = Some(el);
        } else if el.name() == "message" && el.get_child("subject", NS).is_some() {
            return own.expect("a self-presence before the subject");
        }
    }
}

/// A nick change by presence to the occupant JID `room`/`nick`.
fn change_nick(room: &str, nick: &str, id: &str) -> Element {
    stanza(
        "presence",
        &[("to", &occupant(room, nick)), ("id", id)],
        vec![],
    )
}

/// Every stanza up to (and with) the first that matches `until`.
async fn collect(c: &mut TestClient, what: &str, until: impl Fn(&Element) -> bool) -> Vec<Element> {
    let seen = RefCell::new(Vec::new());
    c.expect(what, |el| {
        seen.borrow_mut().push(el.clone());
        until(el)
    })
    .await;
    seen.into_inner()
}

fn is_error(el: &Element) -> bool {
    el.attr("type") == Some("error")
}

#[tokio::test]
async fn a_refused_nick_change_answers_only_the_room_that_asked() {
    let w = World::start_irc().await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan,#other").await;
    carol
        .expect("carol in #other", |l| l.contains(" 366 "))
        .await;
    let (mut alice, _) = online(&w, "alice").await;
    join(&mut alice, CHAN, "alice").await;
    join(&mut alice, OTHER, "alice").await;

    // Taken (433): conflict, from the nick asked for in the room that
    // asked, echoing the request's id; #other hears nothing of it.
    alice.send(change_nick(CHAN, "carol", "n1")).await;
    let mut seen = collect(&mut alice, "the conflict", |el| {
        el.name() == "presence" && is_error(el)
    })
    .await;
    let refused = seen.last().unwrap().clone();
    // Whatever the failure made reached alice before carol's line does.
    carol.send("PRIVMSG #other :after the refusal").await;
    seen.extend(
        collect(&mut alice, "carol's line in #other", |el| {
            el.name() == "message" && el.attr("from") == Some(occupant(OTHER, "carol").as_str())
        })
        .await,
    );
    let stray: Vec<String> = seen
        .iter()
        .filter(|el| is_error(el) && el.attr("from").map(bare) != Some(CHAN))
        .map(String::from)
        .collect();
    assert!(stray.is_empty(), "errors from elsewhere: {stray:?}");
    assert_eq!(refused.attr("from"), Some(occupant(CHAN, "carol").as_str()));
    assert_eq!(refused.attr("id"), Some("n1"));
    assert_eq!(refused.attr("to"), Some(alice.jid.as_str()));
    assert_eq!(error_condition(&refused), "conflict");

    // A nick the server finds erroneous (432): not-acceptable, the reason.
    alice.send(change_nick(CHAN, "9lives", "n2")).await;
    let refused = alice
        .expect("the 432", |el| el.name() == "presence" && is_error(el))
        .await;
    assert_eq!(
        refused.attr("from"),
        Some(occupant(CHAN, "9lives").as_str())
    );
    assert_eq!(refused.attr("id"), Some("n2"));
    assert_eq!(error_condition(&refused), "not-acceptable");
    assert!(
        error_text(&refused).contains("9lives"),
        "{}",
        error_text(&refused)
    );

    // A space never reaches IRC (it would make `NICK a b`): not-acceptable.
    alice.send(change_nick(OTHER, "a b", "n3")).await;
    let refused = alice
        .expect("the refused space", |el| {
            el.name() == "presence" && is_error(el)
        })
        .await;
    assert_eq!(refused.attr("from"), Some(occupant(OTHER, "a b").as_str()));
    assert_eq!(error_condition(&refused), "not-acceptable");

    // The rooms are intact: a free nick is taken, and both rooms see it.
    alice.send(change_nick(OTHER, "alice2", "n4")).await;
    carol
        .expect("alice's NICK", |l| {
            l.starts_with(":alice!") && l.contains(" NICK ") && l.ends_with("alice2")
        })
        .await;
    let renamed = RefCell::new(Vec::new());
    alice
        .expect("the 303 in both rooms", |el| {
            let mut renamed = renamed.borrow_mut();
            for room in [CHAN, OTHER] {
                if from_occupant(el, room, "alice", Some("unavailable")) {
                    assert!(muc_statuses(el).contains(&"303".to_owned()));
                    assert_eq!(item_nick(el).as_deref(), Some("alice2"));
                    renamed.push(room);
                }
            }
            renamed.len() == 2
        })
        .await;
}

#[tokio::test]
async fn the_network_jid_names_the_nick_after_a_change() {
    let w = World::start_irc().await;
    let (mut alice, status) = online(&w, "alice").await;
    assert_eq!(status, "Connected as alice");
    join(&mut alice, CHAN, "alice").await;
    alice.send(change_nick(CHAN, "alice2", "n1")).await;
    alice
        .expect("the 303", |el| {
            from_occupant(el, CHAN, "alice", Some("unavailable"))
        })
        .await;
    alice
        .expect("the network JID's new status", |el| {
            net_status(el, "Connected as alice2")
        })
        .await;
}

#[tokio::test]
async fn the_network_jid_goes_offline_when_ferry_stops() {
    let mut w = World::start_irc().await;
    let (mut alice, _) = online(&w, "alice").await;
    let (exit, _) = w.ferry.terminate();
    assert!(exit.success());
    let offline = alice
        .expect("the network JID offline", |el| {
            presence_from(el, NET, Some("unavailable"))
        })
        .await;
    assert_eq!(offline.attr("to").map(bare), Some(bare(&alice.jid)));
}

/// Someone holds "alice" on IRC; alice registers that nick, gets a
/// fallback, and joins #chan under it. The holder quits; ferry takes the
/// nick back: rooms see the 303, the network JID the new status.
async fn registered_nick_taken_back(w: &World) {
    let mut holder = IrcClient::connect(w.irc_port(), "alice").await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let (mut alice, status) = online(w, "alice").await;
    assert!(
        status.starts_with("Connected as alice_") && status.contains("in use"),
        "{status}"
    );
    let own = join(&mut alice, CHAN, "alice").await;
    assert_eq!(own.attr("from"), Some(occupant(CHAN, "alice_").as_str()));
    assert!(muc_statuses(&own).contains(&"210".to_owned()));

    holder.send("QUIT :freeing the nick").await;
    let gone = alice
        .arrives_item(RECLAIM_WITHIN, |el| {
            from_occupant(el, CHAN, "alice_", Some("unavailable"))
        })
        .await
        .expect("the registered nick taken back within 30 s");
    let codes = muc_statuses(&gone);
    assert!(
        codes.contains(&"303".to_owned()) && codes.contains(&"110".to_owned()),
        "{codes:?}"
    );
    assert_eq!(item_nick(&gone).as_deref(), Some("alice"));
    alice
        .expect("back as alice", |el| from_occupant(el, CHAN, "alice", None))
        .await;
    alice
        .expect("the network JID's new status", |el| {
            net_status(el, "Connected as alice")
        })
        .await;
    carol
        .expect("alice_'s NICK", |l| {
            l.starts_with(":alice_!") && l.contains(" NICK ") && l.ends_with("alice")
        })
        .await;
    // Talking in the room now speaks as alice.
    alice
        .send(stanza(
            "message",
            &[("to", CHAN), ("type", "groupchat")],
            vec![body("mine again")],
        ))
        .await;
    carol
        .expect("alice's line", |l| {
            l.starts_with(":alice!") && l.ends_with(":mine again")
        })
        .await;
}

#[tokio::test]
async fn the_registered_nick_is_taken_back_by_ison() {
    // ngircd has no MONITOR: ferry polls (the harness polls every second).
    let w = World::start_irc().await;
    registered_nick_taken_back(&w).await;
}

#[tokio::test]
async fn the_registered_nick_is_taken_back_by_monitor() {
    // ISON would poll only hourly: a nick taken back in time is MONITOR's.
    let w = World::start_inspircd_with(true, |c| {
        assert!(c.contains("presence_poll = 1"));
        c.replace("presence_poll = 1", "presence_poll = 3600")
    })
    .await;
    registered_nick_taken_back(&w).await;
}
