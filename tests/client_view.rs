//! What console clients (profanity, mcabber) show wrong when a stanza
//! leaves out what the XEPs say it carries: an own message without its
//! origin-id shows twice, an occupant item without affiliation or role
//! shows "(null)", an untyped form field shows blank.

mod harness;

use harness::client::{bare, presence_from, result, TestClient, NS};
use harness::ircd::IrcClient;
use harness::stanzas::{body, query, register_and_subscribe, register_form, stanza};
use harness::{World, IRC};
use tokio_xmpp::parsers::minidom::Element;

const ROOM: &str = "#chan%127.0.0.1@irc.localhost";
const NETWORK: &str = "127.0.0.1@irc.localhost";
const MUC: &str = "http://jabber.org/protocol/muc";
const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
const SID: &str = "urn:xmpp:sid:0";
const DATA: &str = "jabber:x:data";
const MAM: &str = "urn:xmpp:mam:2";

fn join() -> Element {
    stanza(
        "presence",
        &[("to", &format!("{ROOM}/alice"))],
        vec![Element::builder("x", MUC).build()],
    )
}

fn own_presence(el: &Element) -> bool {
    el.name() == "presence" && el.attr("from") == Some(&format!("{ROOM}/alice"))
}

/// The occupant item's affiliation and role, as sent.
fn standing(el: &Element) -> (Option<String>, Option<String>) {
    let item = el
        .get_child("x", MUC_USER)
        .and_then(|x| x.get_child("item", MUC_USER))
        .unwrap_or_else(|| panic!("no occupant item in {el:?}"));
    let attr = |name| item.attr(name).map(str::to_owned);
    (attr("affiliation"), attr("role"))
}

fn none_none() -> (Option<String>, Option<String>) {
    (Some("none".into()), Some("none".into()))
}

fn has_no_priority(el: &Element) {
    assert!(el.get_child("priority", NS).is_none(), "priority in {el:?}");
}

#[tokio::test]
async fn rooms_reflect_origin_ids_and_spell_out_every_standing() {
    let mut w = World::start_irc().await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;

    // The registration dance: subscribe comes without a priority.
    result(
        alice
            .iq(IRC, true, register_form(&[("nick", "alice")]))
            .await,
    );
    let subscribe = alice
        .expect("subscribe from the gateway", |s| {
            presence_from(s, IRC, Some("subscribe"))
        })
        .await;
    has_no_priority(&subscribe);
    alice.presence(Some(IRC), Some("subscribed")).await;
    alice.presence(Some(IRC), Some("subscribe")).await;

    alice.send(join()).await;
    let own = alice.expect("alice's own presence", own_presence).await;
    let (affiliation, role) = standing(&own);
    assert_eq!(affiliation.as_deref(), Some("none"), "{own:?}");
    assert_eq!(role.as_deref(), Some("participant"), "{own:?}");
    carol
        .expect("alice on IRC", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;

    // Own messages come back with the id and origin-id sent, on both the
    // plain path and the one with a thread.
    for (id, thread) in [("g1", None), ("g2", Some("t1"))] {
        let origin = format!("origin-{id}");
        let mut children = vec![
            body("hello room"),
            Element::builder("origin-id", SID)
                .attr(harness::client::ncname("id"), origin.as_str())
                .build(),
        ];
        if let Some(thread) = thread {
            children.push(Element::builder("thread", NS).append(thread).build());
        }
        alice
            .send(stanza(
                "message",
                &[("to", ROOM), ("type", "groupchat"), ("id", id)],
                children,
            ))
            .await;
        let echo = alice
            .expect("the reflection", |el| {
                el.name() == "message" && el.attr("from") == Some(&format!("{ROOM}/alice"))
            })
            .await;
        assert_eq!(echo.attr("id"), Some(id), "{echo:?}");
        let kept = echo.get_child("origin-id", SID).and_then(|o| o.attr("id"));
        assert_eq!(kept, Some(origin.as_str()), "{echo:?}");
    }
    // Others' messages carry no origin-id of alice's.
    carol.send("PRIVMSG #chan :hi alice").await;
    let theirs = alice
        .expect("carol's line", |el| {
            el.name() == "message" && el.attr("from") == Some(&format!("{ROOM}/carol"))
        })
        .await;
    assert!(theirs.get_child("origin-id", SID).is_none(), "{theirs:?}");

    // Leaving: the own unavailable presence says none/none, no priority.
    alice
        .presence(Some(&format!("{ROOM}/alice")), Some("unavailable"))
        .await;
    let left = alice
        .expect("alice's own unavailable", |el| {
            own_presence(el) && el.attr("type") == Some("unavailable")
        })
        .await;
    assert_eq!(standing(&left), none_none(), "{left:?}");
    has_no_priority(&left);

    // An error presence carries no priority either.
    alice
        .send(stanza(
            "presence",
            &[("to", "#chan%unknown.example@irc.localhost/alice")],
            vec![Element::builder("x", MUC).build()],
        ))
        .await;
    let refused = alice
        .expect("an error presence", |el| {
            el.name() == "presence" && el.attr("type") == Some("error")
        })
        .await;
    has_no_priority(&refused);

    // Shutdown: every room says goodbye with a complete item, and the
    // gateway's unavailable presence has no priority.
    alice.send(join()).await;
    alice.expect("joined again", own_presence).await;
    w.ferry.terminate();
    let gone = alice
        .expect("the room closing", |el| {
            el.name() == "presence"
                && el.attr("from").map(bare) == Some(ROOM)
                && el.attr("type") == Some("unavailable")
        })
        .await;
    assert_eq!(standing(&gone), none_none(), "{gone:?}");
    let gateway = alice
        .expect("the gateway going away", |el| {
            presence_from(el, IRC, Some("unavailable"))
        })
        .await;
    has_no_priority(&gateway);
}

#[tokio::test]
async fn networks_are_browsable_and_forms_are_typed() {
    let w = World::start_irc().await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;

    // disco#items on the bridge lists its network by its one name.
    let items = result(
        alice
            .iq(IRC, false, query("http://jabber.org/protocol/disco#items"))
            .await,
    )
    .unwrap();
    let listed: Vec<(Option<&str>, Option<&str>)> = items
        .children()
        .map(|i| (i.attr("jid"), i.attr("name")))
        .collect();
    assert_eq!(listed, vec![(Some(NETWORK), Some("127.0.0.1"))]);

    // The form names the network as its JIDs do, before and after
    // registration, and every field has a type.
    let check = |form: &Element| {
        let x = form.get_child("x", DATA).expect("a data form");
        for field in x.children().filter(|c| c.name() == "field") {
            assert!(field.attr("type").is_some(), "untyped: {field:?}");
            if field.attr("var") == Some("network") {
                let value = field.get_child("value", DATA).map(Element::text);
                assert_eq!(value.as_deref(), Some("127.0.0.1"), "{field:?}");
                let options: Vec<String> = field
                    .children()
                    .filter(|c| c.name() == "option")
                    .filter_map(|o| o.get_child("value", DATA).map(Element::text))
                    .collect();
                assert_eq!(options, vec!["127.0.0.1".to_owned()], "{field:?}");
            }
        }
    };
    let blank = result(alice.iq(IRC, false, query("jabber:iq:register")).await).unwrap();
    check(&blank);
    result(
        alice
            .iq(IRC, true, register_form(&[("nick", "alice")]))
            .await,
    );
    let mine = result(alice.iq(IRC, false, query("jabber:iq:register")).await).unwrap();
    assert!(mine.get_child("registered", "jabber:iq:register").is_some());
    check(&mine);
}

#[tokio::test]
async fn archive_pages_go_to_the_asking_client_only() {
    let w = World::start_irc().await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let mut phone = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    phone.available().await;
    register_and_subscribe(&mut phone, IRC, &[("nick", "alice")]).await;
    phone.send(join()).await;
    phone.expect("alice's own presence", own_presence).await;
    carol.send("PRIVMSG #chan :archived line").await;
    phone
        .expect("carol's line", |el| {
            el.name() == "message" && el.attr("from") == Some(&format!("{ROOM}/carol"))
        })
        .await;

    // A second client with carbons on.
    let mut laptop = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    laptop.available().await;
    let enable = Element::builder("enable", "urn:xmpp:carbons:2").build();
    result(laptop.iq("alice@localhost", true, enable).await);

    let query = Element::builder("query", MAM)
        .attr(harness::client::ncname("queryid"), "q1")
        .build();
    phone
        .send(stanza(
            "iq",
            &[("to", ROOM), ("type", "set"), ("id", "mam")],
            vec![query],
        ))
        .await;
    let page = phone
        .expect("a result", |el| el.get_child("result", MAM).is_some())
        .await;
    assert!(
        matches!(page.attr("type"), None | Some("normal")),
        "{page:?}"
    );
    phone
        .expect("the fin", |el| el.attr("id") == Some("mam"))
        .await;
    let copied = laptop
        .arrives(std::time::Duration::from_secs(2), |el| {
            String::from(el).contains(MAM)
        })
        .await;
    assert!(!copied, "the other client got a copy of the page");
}
