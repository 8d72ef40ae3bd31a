//! Rich messages across IRC (SPEC §9): chat states, replies, reactions
//! and corrections through inspircd's client tags; XHTML-IM, reactions
//! and corrections as text through ngircd, which has no tags.

mod harness;

use harness::client::{ncname, NS};
use harness::ircd::IrcClient;
use harness::rooms::{alice_in_the_room, occupant, ROOM};
use harness::stanzas::{body, stanza};
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

fn el(name: &str, ns: &str, attrs: &[(&str, &str)], children: Vec<Element>) -> Element {
    let mut e = Element::builder(name, ns);
    for (k, v) in attrs {
        e = e.attr(ncname(k), *v);
    }
    e.append_all(children).build()
}

/// A groupchat message to the room.
fn groupchat(id: &str, children: Vec<Element>) -> Element {
    stanza(
        "message",
        &[("to", ROOM), ("type", "groupchat"), ("id", id)],
        children,
    )
}

fn from(el: &Element, nick: &str) -> bool {
    el.name() == "message" && el.attr("from") == Some(occupant(nick).as_str())
}

fn stanza_id(el: &Element) -> String {
    el.get_child("stanza-id", "urn:xmpp:sid:0")
        .and_then(|s| s.attr("id"))
        .expect("a stanza-id")
        .to_owned()
}

/// The value of `key` in an IRC line's tags.
fn tag<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let tags = line.strip_prefix('@')?.split(' ').next()?;
    tags.split(';')
        .find_map(|t| t.strip_prefix(key)?.strip_prefix('='))
}

/// Carol takes client tags, and echoes of her own lines (their msgid).
async fn with_tags(carol: &mut IrcClient) {
    carol.send("CAP REQ :message-tags echo-message").await;
    carol
        .expect("the caps", |l| l.contains("CAP") && l.contains("ACK"))
        .await;
}

#[tokio::test]
async fn chat_states_replies_and_reactions_through_client_tags() {
    let w = World::start_inspircd(false).await;
    let (mut alice, mut carol, _dave) = alice_in_the_room(&w).await;
    with_tags(&mut carol).await;

    // Typing, both ways.
    alice.send(groupchat("t1", vec![composing()])).await;
    let typing = carol.expect("alice typing", |l| l.contains("TAGMSG")).await;
    assert_eq!(tag(&typing, "+typing"), Some("active"), "{typing}");
    carol.send("@+typing=active TAGMSG #chan").await;
    alice
        .expect("carol typing", |el| {
            from(el, "carol") && el.has_child("composing", "http://jabber.org/protocol/chatstates")
        })
        .await;

    // Carol asks; alice answers with a reply, its quote cut off.
    carol.send("PRIVMSG #chan :question?").await;
    let asked = carol
        .expect("the echo", |l| l.ends_with(":question?"))
        .await;
    let asked_id = tag(&asked, "msgid").expect("a msgid").to_owned();
    let question = alice.expect("the question", |el| from(el, "carol")).await;
    let question_id = stanza_id(&question);
    let reply = el(
        "reply",
        "urn:xmpp:reply:0",
        &[("to", &occupant("carol")), ("id", &question_id)],
        vec![],
    );
    let fallback = el(
        "fallback",
        "urn:xmpp:fallback:0",
        &[("for", "urn:xmpp:reply:0")],
        vec![el(
            "body",
            "urn:xmpp:fallback:0",
            &[("start", "0"), ("end", "19")],
            vec![],
        )],
    );
    alice
        .send(groupchat(
            "r1",
            vec![body("> carol: question?\nanswer"), reply, fallback],
        ))
        .await;
    let answered = carol
        .expect("the answer", |l| l.contains("PRIVMSG #chan"))
        .await;
    assert!(
        answered.ends_with("PRIVMSG #chan :carol: answer"),
        "{answered}"
    );
    assert_eq!(tag(&answered, "+draft/reply"), Some(asked_id.as_str()));
    let answer_id = tag(&answered, "msgid").expect("a msgid").to_owned();
    let own = alice
        .expect("alice's answer back", |el| from(el, "alice"))
        .await;
    let own_id = stanza_id(&own);

    // Carol answers alice's answer, and reacts to it.
    carol
        .send(&format!(
            "@+draft/reply={answer_id} PRIVMSG #chan :alice: thanks"
        ))
        .await;
    let thanks = alice.expect("carol's reply", |el| from(el, "carol")).await;
    let pointed = thanks
        .get_child("reply", "urn:xmpp:reply:0")
        .expect("a reply");
    assert_eq!(pointed.attr("id"), Some(own_id.as_str()));
    assert_eq!(pointed.attr("to"), Some(occupant("alice").as_str()));
    carol
        .send(&format!(
            "@+draft/reply={answer_id};+draft/react=👍 TAGMSG #chan"
        ))
        .await;
    let reacted = alice
        .expect("carol's reaction", |el| {
            from(el, "carol") && el.has_child("reactions", "urn:xmpp:reactions:0")
        })
        .await;
    let reactions = reacted
        .get_child("reactions", "urn:xmpp:reactions:0")
        .unwrap();
    assert_eq!(reactions.attr("id"), Some(own_id.as_str()));
    assert_eq!(
        reactions.children().next().map(Element::text).as_deref(),
        Some("👍")
    );

    // Alice reacts to the question.
    alice
        .send(groupchat("x1", vec![reaction_to(&question_id, "🎉")]))
        .await;
    let tagmsg = carol
        .expect("alice's reaction", |l| {
            l.contains(":alice") && l.contains("TAGMSG") && l.contains("react")
        })
        .await;
    assert_eq!(tag(&tagmsg, "+draft/react"), Some("🎉"), "{tagmsg}");
    assert_eq!(tag(&tagmsg, "+draft/reply"), Some(asked_id.as_str()));
}

/// XEP-0085's "composing".
fn composing() -> Element {
    el(
        "composing",
        "http://jabber.org/protocol/chatstates",
        &[],
        vec![],
    )
}

/// A reaction with `emoji` to the line of stanza-id `id`.
fn reaction_to(id: &str, emoji: &str) -> Element {
    let reaction = el("reaction", "urn:xmpp:reactions:0", &[], vec![]).tap_text(emoji);
    el(
        "reactions",
        "urn:xmpp:reactions:0",
        &[("id", id)],
        vec![reaction],
    )
}

trait TapText {
    fn tap_text(self, text: &str) -> Element;
}

impl TapText for Element {
    fn tap_text(mut self, text: &str) -> Element {
        self.append_text_node(text);
        self
    }
}

#[tokio::test]
async fn formatting_corrections_and_reactions_as_text_without_tags() {
    let w = World::start_irc().await;
    let (mut alice, mut carol, _dave) = alice_in_the_room(&w).await;

    // IRC formatting → a clean body and XHTML-IM showing the same.
    carol
        .send("PRIVMSG #chan :\x02bold\x02 and \x0304red\x03")
        .await;
    let styled = alice
        .expect("the styled line", |el| from(el, "carol"))
        .await;
    assert_eq!(styled.get_child("body", NS).unwrap().text(), "bold and red");
    let html = styled
        .get_child("html", "http://jabber.org/protocol/xhtml-im")
        .expect("XHTML-IM");
    let xhtml = String::from(html);
    assert!(
        xhtml.contains("font-weight: bold") && xhtml.contains(">bold<"),
        "{xhtml}"
    );
    assert!(
        xhtml.contains("color: #ff0000") && xhtml.contains(">red<"),
        "{xhtml}"
    );
    let question_id = stanza_id(&styled);

    // XHTML-IM from alice → IRC codes.
    let strong = el("strong", "http://www.w3.org/1999/xhtml", &[], vec![]).tap_text("loud");
    let xbody = el("body", "http://www.w3.org/1999/xhtml", &[], vec![strong]);
    let html = el(
        "html",
        "http://jabber.org/protocol/xhtml-im",
        &[],
        vec![xbody],
    );
    alice.send(groupchat("h1", vec![body("loud"), html])).await;
    carol
        .expect("the codes", |l| l.ends_with("PRIVMSG #chan :\x02loud\x0f"))
        .await;

    // A correction is marked; a reaction is a line saying so.
    let replace = el(
        "replace",
        "urn:xmpp:message-correct:0",
        &[("id", "h1")],
        vec![],
    );
    alice
        .send(groupchat("h2", vec![body("louder"), replace]))
        .await;
    carol
        .expect("the correction", |l| l.ends_with("PRIVMSG #chan :* louder"))
        .await;
    alice
        .send(groupchat("x1", vec![reaction_to(&question_id, "👍")]))
        .await;
    let line = carol
        .expect("the reaction", |l| l.contains("reacted"))
        .await;
    assert!(
        line.ends_with("PRIVMSG #chan :\x01ACTION reacted 👍 to carol: \"bold and red\"\x01"),
        "{line}"
    );
    // Typing makes no IRC traffic without tags.
    alice.send(groupchat("t1", vec![composing()])).await;
    alice
        .send(groupchat("m9", vec![body("after typing")]))
        .await;
    let next = carol
        .expect("the next line", |l| l.contains("PRIVMSG #chan"))
        .await;
    assert!(next.ends_with(":after typing"), "{next}");
}
