//! The XMPP side of every bridge, end to end through a real Prosody.

mod harness;

use std::time::Duration;

use harness::client::{error_condition, error_text, presence_from, result, TestClient, NS};
use harness::stanzas::{body, disco_info, query, register_and_subscribe, register_form, stanza};
use harness::{World, IRC, MAIL};
use tokio_xmpp::parsers::caps::{self, Caps};
use tokio_xmpp::parsers::hashes::Algo;
use tokio_xmpp::parsers::minidom::Element;

#[tokio::test]
async fn disco_version_ping_and_unhandled() {
    let w = World::start().await;
    let mut c = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    let info = disco_info(&mut c, IRC, None).await;
    assert!(info
        .identities
        .iter()
        .any(|i| i.category == "gateway" && i.type_ == "irc"));
    assert!(info
        .identities
        .iter()
        .any(|i| i.category == "conference" && i.type_ == "irc"));
    for f in [
        "jabber:iq:register",
        "jabber:iq:gateway",
        "jid\\20escaping",
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/disco#items",
        "http://jabber.org/protocol/commands",
        "urn:xmpp:ping",
        "jabber:iq:version",
        "http://jabber.org/protocol/muc",
    ] {
        assert!(info.features.contains(f), "irc lacks {f}");
    }
    let mail = disco_info(&mut c, MAIL, None).await;
    assert!(mail
        .identities
        .iter()
        .any(|i| i.category == "gateway" && i.type_ == "smtp"));
    assert!(!mail.features.contains("http://jabber.org/protocol/muc"));

    let version = result(c.iq(IRC, false, query("jabber:iq:version")).await).unwrap();
    assert_eq!(
        version
            .get_child("name", "jabber:iq:version")
            .unwrap()
            .text(),
        "ferry"
    );
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    assert!(result(c.iq(IRC, false, ping).await).is_none());
    let unknown = Element::builder("nothing", "urn:example:unknown").build();
    let answer = c.iq(IRC, false, unknown).await;
    assert_eq!(error_condition(&answer), "service-unavailable");
    let answer = c
        .iq(
            "alice%nowhere.example@irc.localhost",
            false,
            query("jabber:iq:version"),
        )
        .await;
    assert_eq!(error_condition(&answer), "item-not-found");
    // A contact JID answers disco#info.
    let contact = disco_info(&mut c, "bob%127.0.0.1@irc.localhost", None).await;
    assert!(!contact.identities.is_empty());
}

#[tokio::test]
async fn registration_dance_caps_and_removal() {
    let w = World::start().await;
    let mut c = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    c.available().await;

    let form = result(c.iq(IRC, false, query("jabber:iq:register")).await).unwrap();
    assert!(form.get_child("registered", "jabber:iq:register").is_none());
    assert!(
        form.get_child("nick", "jabber:iq:register").is_some(),
        "nick is a legacy field"
    );
    assert!(
        form.get_child("password", "jabber:iq:register").is_none(),
        "optional: form only"
    );
    let x = form.get_child("x", "jabber:x:data").expect("a data form");
    let vars: Vec<_> = x.children().filter_map(|f| f.attr("var")).collect();
    for var in ["nick", "password", "username", "realname", "network"] {
        assert!(vars.contains(&var), "form lacks {var}: {vars:?}");
    }

    let answer = c.iq(IRC, true, register_form(&[("password", "x")])).await;
    assert_eq!(error_condition(&answer), "not-acceptable");
    assert!(
        error_text(&answer).contains("nick"),
        "{}",
        error_text(&answer)
    );
    let answer = c.iq(IRC, true, register_form(&[("nick", "al ice")])).await;
    assert_eq!(error_condition(&answer), "not-acceptable");
    let answer = c
        .iq(
            IRC,
            true,
            register_form(&[("nick", "alice"), ("network", "evil.example:6667")]),
        )
        .await;
    assert_eq!(error_condition(&answer), "not-acceptable");
    assert!(error_text(&answer).contains("network"));

    let presence =
        register_and_subscribe(&mut c, IRC, &[("nick", "alice"), ("password", "s3cr3t-pw")]).await;
    // Its presence carries caps whose hash verifies against its disco#info.
    let caps = presence
        .get_child("c", "http://jabber.org/protocol/caps")
        .cloned()
        .map(|el| Caps::try_from(el).unwrap())
        .expect("caps on the gateway's presence");
    let node = format!(
        "{}#{}",
        caps.node,
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &caps.ver)
    );
    let info = disco_info(&mut c, IRC, Some(node.clone())).await;
    assert_eq!(info.node.as_deref(), Some(node.as_str()));
    let hash = caps::hash_caps(&caps::compute_disco(&info), Algo::Sha_1).unwrap();
    assert_eq!(hash.hash, caps.ver, "caps hash verifies");

    // The registered form shows values, never the password.
    let form = result(c.iq(IRC, false, query("jabber:iq:register")).await).unwrap();
    assert!(form.get_child("registered", "jabber:iq:register").is_some());
    assert!(!String::from(&form).contains("s3cr3t-pw"));
    assert!(String::from(&form).contains("alice"));
    // An edit is not a first registration: no second subscribe.
    result(c.iq(IRC, true, register_form(&[("nick", "alice2")])).await);
    assert!(
        !c.arrives(Duration::from_millis(500), |s| presence_from(
            s,
            IRC,
            Some("subscribe")
        ))
        .await
    );
    assert!(!w.ferry.log().contains("s3cr3t-pw"), "password in the log");

    // A contact subscription is approved without a reverse request.
    let contact = "bob%127.0.0.1@irc.localhost";
    c.presence(Some(contact), Some("subscribe")).await;
    // Approved, then the contact's current presence follows.
    c.expect("contact presence", |s| {
        presence_from(s, contact, Some("unavailable"))
    })
    .await;

    // Removal: the gateway and the contact go unavailable (Prosody turns
    // the unsubscribe/unsubscribed that follow into roster pushes).
    let remove = Element::builder("query", "jabber:iq:register")
        .append(Element::builder("remove", "jabber:iq:register"))
        .build();
    result(c.iq(IRC, true, remove.clone()).await);
    for from in [IRC, contact] {
        c.expect(&format!("unavailable from {from}"), |s| {
            presence_from(s, from, Some("unavailable"))
        })
        .await;
    }
    let again = c.iq(IRC, true, remove).await;
    assert_eq!(error_condition(&again), "registration-required");
}

#[tokio::test]
async fn forbidden_domain_and_gateway_prompt() {
    let w = World::start().await;
    let mut eve = TestClient::connect("eve", "other.example", "pw", w.xmpp.c2s).await;
    let answer = eve.iq(IRC, false, query("jabber:iq:register")).await;
    assert_eq!(error_condition(&answer), "forbidden");
    let answer = eve.iq(IRC, true, register_form(&[("nick", "eve")])).await;
    assert_eq!(error_condition(&answer), "forbidden");
    // A room join is answered too, with an error presence from the room.
    let room = "#chan%127.0.0.1@irc.localhost";
    let muc = Element::builder("x", "http://jabber.org/protocol/muc").build();
    let own = format!("{room}/eve");
    eve.send(stanza("presence", &[("to", &own), ("id", "j1")], vec![muc]))
        .await;
    let refused = eve
        .expect("the join's answer", |el| {
            el.name() == "presence" && el.attr("id") == Some("j1")
        })
        .await;
    assert_eq!(refused.attr("type"), Some("error"), "{refused:?}");
    assert_eq!(error_condition(&refused), "forbidden");

    let mut c = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    let prompt = result(c.iq(IRC, false, query("jabber:iq:gateway")).await).unwrap();
    assert!(prompt.get_child("prompt", "jabber:iq:gateway").is_some());
    assert!(prompt.get_child("desc", "jabber:iq:gateway").is_some());
    let ask = |input: &str| {
        Element::builder("query", "jabber:iq:gateway")
            .append(Element::builder("prompt", "jabber:iq:gateway").append(input))
            .build()
    };
    let jid_of = |e: Element| e.get_child("jid", "jabber:iq:gateway").unwrap().text();
    let irc = result(c.iq(IRC, true, ask("alice")).await).unwrap();
    assert_eq!(jid_of(irc), "alice%127.0.0.1@irc.localhost");
    let mail = result(c.iq(MAIL, true, ask("bob@example.com")).await).unwrap();
    assert_eq!(jid_of(mail), "bob\\40example.com@mail.localhost");
    let mail = result(c.iq(MAIL, true, ask("Bob%example.com")).await).unwrap();
    assert_eq!(jid_of(mail), "bob\\40example.com@mail.localhost");
    let bad = c.iq(IRC, true, ask("x%evil.example")).await;
    assert_eq!(error_condition(&bad), "item-not-found");
    // A local part with a space is a quoted string (RFC 5321), escaped
    // whole; unquoted, it is no address.
    let quoted = result(c.iq(MAIL, true, ask("\"space cadet\"@example.com")).await).unwrap();
    assert_eq!(
        jid_of(quoted),
        "\\22space\\20cadet\\22\\40example.com@mail.localhost"
    );
    let unquoted = c.iq(MAIL, true, ask("space cadet@example.com")).await;
    assert_eq!(error_condition(&unquoted), "jid-malformed");
}

fn reply_to(id: &'static str) -> impl Fn(&Element) -> bool {
    move |el| el.attr("id") == Some(id)
}

#[tokio::test]
async fn messages_help_encryption_and_registration_required() {
    let w = World::start().await;
    let mut c = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    c.send(stanza(
        "message",
        &[("to", IRC), ("type", "chat"), ("id", "h1")],
        vec![body("help?")],
    ))
    .await;
    let help = c
        .expect("help", |el| {
            el.name() == "message" && el.attr("from") == Some(IRC)
        })
        .await;
    assert!(help
        .get_child("body", NS)
        .unwrap()
        .text()
        .contains("register"));

    let carol = "carol%127.0.0.1@irc.localhost";
    let omemo = Element::builder("encrypted", "eu.siacs.conversations.axolotl").build();
    c.send(stanza(
        "message",
        &[("to", carol), ("type", "chat"), ("id", "e1")],
        vec![body("I sent you an OMEMO encrypted message"), omemo],
    ))
    .await;
    let refused = c.expect("refusal", reply_to("e1")).await;
    assert_eq!(error_condition(&refused), "not-acceptable");

    // A chat state alone produces nothing; the next message is answered.
    let composing = Element::builder("composing", "http://jabber.org/protocol/chatstates").build();
    c.send(stanza(
        "message",
        &[("to", carol), ("type", "chat"), ("id", "s1")],
        vec![composing],
    ))
    .await;
    c.send(stanza(
        "message",
        &[("to", carol), ("type", "chat"), ("id", "m1")],
        vec![body("hi")],
    ))
    .await;
    let answer = c
        .expect("an answer", |el| {
            matches!(el.attr("id"), Some("s1") | Some("m1"))
        })
        .await;
    assert_eq!(answer.attr("id"), Some("m1"), "a chat state was answered");
    assert_eq!(error_condition(&answer), "registration-required");
}

#[tokio::test]
async fn malformed_stanzas_get_bad_request_and_the_link_lives() {
    let w = World::start().await;
    let mut c = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    // An iq get without a payload is invalid (RFC 6120 §8.2.3).
    c.send(stanza(
        "iq",
        &[("to", IRC), ("type", "get"), ("id", "bad1")],
        vec![],
    ))
    .await;
    assert_eq!(
        error_condition(&c.expect("bad1", reply_to("bad1")).await),
        "bad-request"
    );
    // A message with an unknown type (ejabberd drops it itself).
    if !harness::xmpp::ejabberd() {
        c.send(stanza(
            "message",
            &[("to", IRC), ("type", "nonsense"), ("id", "bad2")],
            vec![body("x")],
        ))
        .await;
        assert_eq!(
            error_condition(&c.expect("bad2", reply_to("bad2")).await),
            "bad-request"
        );
    }
    // A localpart ending in a backslash (the `jid` crate's unescape panics).
    let disco = || Element::builder("query", "http://jabber.org/protocol/disco#info").build();
    c.send(stanza(
        "iq",
        &[("to", "x\\@irc.localhost"), ("type", "get"), ("id", "bs")],
        vec![disco()],
    ))
    .await;
    c.expect("an answer to bs", reply_to("bs")).await;
    // A leading escaped space is jid-malformed.
    c.send(stanza(
        "iq",
        &[("to", "\\20x@irc.localhost"), ("type", "get"), ("id", "sp")],
        vec![disco()],
    ))
    .await;
    assert_eq!(
        error_condition(&c.expect("sp", reply_to("sp")).await),
        "jid-malformed"
    );
    // A result is never answered; the next request still is.
    c.send(stanza(
        "iq",
        &[("to", IRC), ("type", "result"), ("id", "r1")],
        vec![],
    ))
    .await;
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    c.send(stanza(
        "iq",
        &[("to", IRC), ("type", "get"), ("id", "p1")],
        vec![ping],
    ))
    .await;
    let answer = c
        .expect("p1 or r1", |el| {
            matches!(el.attr("id"), Some("p1") | Some("r1"))
        })
        .await;
    assert_eq!(answer.attr("id"), Some("p1"), "a result was answered");
    assert_eq!(
        w.ferry.log().matches("component link up").count(),
        2,
        "link never dropped"
    );
}

#[tokio::test]
async fn reconnects_after_prosody_restart_and_probes() {
    let mut w = World::start().await;
    let mut c = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    c.available().await;
    register_and_subscribe(&mut c, IRC, &[("nick", "alice")]).await;
    drop(c);

    w.xmpp.restart();
    w.ferry.wait_links(4).await;
    let mut c = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    c.available().await;
    c.expect("the gateway's presence after the restart", |s| {
        presence_from(s, IRC, None)
    })
    .await;

    // ferry restarted: at link-up it probes, Prosody answers for the
    // online user, and the gateway's presence reaches her unasked.
    let (status, _) = w.ferry.terminate();
    assert!(status.success());
    c.expect("unavailable at shutdown", |s| {
        presence_from(s, IRC, Some("unavailable"))
    })
    .await;
    w.ferry.launch();
    c.expect("presence after the probe", |s| presence_from(s, IRC, None))
        .await;
}

#[tokio::test]
async fn sigterm_sends_unavailable_and_exits_quickly() {
    let mut w = World::start().await;
    let mut c = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    c.available().await;
    // An IRC identity whose server is not there: its session keeps
    // retrying, which must not hold the shutdown up.
    register_and_subscribe(&mut c, IRC, &[("nick", "alice")]).await;
    let (status, took) = w.ferry.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    c.expect("unavailable from the gateway", |s| {
        presence_from(s, IRC, Some("unavailable"))
    })
    .await;
}

#[tokio::test]
async fn a_silent_link_is_kept_alive_with_pings() {
    let mut w = World::start_with(|c| {
        assert!(c.contains("# keepalive = 60"));
        c.replace("# keepalive = 60", "keepalive = 1")
    })
    .await;
    let log = w.xmpp.prosody().dir.join("prosody.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("ferry-keepalive-2")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no keepalive pings reached Prosody"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        w.ferry.log().matches("component link up").count(),
        2,
        "link dropped"
    );
    let mut c = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    assert!(result(c.iq(IRC, false, ping).await).is_none());
}
