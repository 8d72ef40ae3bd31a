//! Moderation from XMPP (XEP-0045 §8–§10, SPEC §10): voice, ban, unban,
//! the ban list, op and deop as the admin iqs of Gajim's and Dino's
//! occupant menus, mapped to IRC modes; IRC's refusal is `forbidden`, and
//! the resulting mode changes reach the occupants as role and
//! affiliation changes.

mod harness;

use harness::client::{error_condition, ncname, TestClient};
use harness::ircd::IrcClient;
use harness::rooms::{alice_in_the_room, occupant, ROOM};
use harness::stanzas::{muc_statuses, stanza};
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

const ADMIN: &str = "http://jabber.org/protocol/muc#admin";
const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
const DAVE: &str = "dave%127.0.0.1@irc.localhost";

/// An admin query with one item of these attributes (and a reason).
fn admin(attrs: &[(&str, &str)], reason: Option<&str>) -> Element {
    let mut item = Element::builder("item", ADMIN);
    for (name, value) in attrs {
        item = item.attr(ncname(name), *value);
    }
    if let Some(reason) = reason {
        item = item.append(Element::builder("reason", ADMIN).append(reason));
    }
    Element::builder("query", ADMIN).append(item).build()
}

/// Sends an admin iq to the room; its answer, and what came before it.
async fn ask(c: &mut TestClient, set: bool, query: Element) -> (Element, Vec<Element>) {
    let id = format!("mod-{}", rand_id());
    c.send(stanza(
        "iq",
        &[
            ("to", ROOM),
            ("type", if set { "set" } else { "get" }),
            ("id", &id),
        ],
        vec![query],
    ))
    .await;
    let mut before = Vec::new();
    loop {
        let el = c.expect("the admin iq's answer", |_| true).await;
        if el.name() == "iq" && el.attr("id") == Some(id.as_str()) {
            return (el, before);
        }
        before.push(el);
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `nick`'s standing as a presence from the room says it.
fn standing(el: &Element, nick: &str) -> Option<(String, String)> {
    if el.name() != "presence" || el.attr("from") != Some(occupant(nick).as_str()) {
        return None;
    }
    let item = el.get_child("x", MUC_USER)?.get_child("item", MUC_USER)?;
    Some((
        item.attr("role")?.to_owned(),
        item.attr("affiliation")?.to_owned(),
    ))
}

/// Waits for `nick`'s standing to become (role, affiliation), looking at
/// what came already first.
async fn becomes(c: &mut TestClient, seen: &[Element], nick: &str, role: &str, affiliation: &str) {
    let wanted = Some((role.to_owned(), affiliation.to_owned()));
    if seen.iter().any(|el| standing(el, nick) == wanted) {
        return;
    }
    c.expect(&format!("{nick} as {role}/{affiliation}"), |el| {
        standing(el, nick) == wanted
    })
    .await;
}

fn is_result(iq: &Element) -> bool {
    iq.attr("type") == Some("result")
}

/// The items of a list answer: (jid, reason).
fn items(iq: &Element) -> Vec<(String, String)> {
    let query = iq.get_child("query", ADMIN).expect("a list");
    query
        .children()
        .map(|item| {
            let reason = item.get_child("reason", ADMIN).map(Element::text);
            (
                item.attr("jid").unwrap_or_default().to_owned(),
                reason.unwrap_or_default(),
            )
        })
        .collect()
}

/// The next line with all these words (inspircd puts a `:` before a
/// MODE's last argument, ngircd does not).
async fn sees(irc: &mut IrcClient, what: &str, wanted: &str) -> String {
    irc.expect(what, |l| {
        let line = l.replace(" :", " ");
        wanted
            .split(' ')
            .all(|w| line.split(' ').any(|word| word == w))
    })
    .await
}

/// Everything on one server: `forbidden` before being op, then voice on a
/// moderated channel, ban (by JID) with its kick, the ban list with a
/// mask, unban, deop and op.
async fn moderation_on(w: &World) {
    let (mut alice, mut carol, mut dave) = alice_in_the_room(w).await;

    // Not an operator yet: IRC's 482 is `forbidden`.
    let ban_dave = admin(&[("affiliation", "outcast"), ("jid", DAVE)], None);
    let (refused, _) = ask(&mut alice, true, ban_dave.clone()).await;
    assert_eq!(error_condition(&refused), "forbidden", "{refused:?}");

    // carol (who made the channel) ops alice and makes it moderated.
    carol.send("MODE #chan +o alice").await;
    becomes(&mut alice, &[], "alice", "moderator", "admin").await;
    carol.send("MODE #chan +m").await;
    becomes(&mut alice, &[], "dave", "visitor", "none").await;

    // Voice and devoice.
    let (answer, seen) = ask(
        &mut alice,
        true,
        admin(&[("nick", "dave"), ("role", "participant")], None),
    )
    .await;
    assert!(is_result(&answer), "{answer:?}");
    sees(&mut carol, "dave voiced", "MODE #chan +v dave").await;
    becomes(&mut alice, &seen, "dave", "participant", "member").await;
    let (answer, seen) = ask(
        &mut alice,
        true,
        admin(&[("nick", "dave"), ("role", "visitor")], None),
    )
    .await;
    assert!(is_result(&answer), "{answer:?}");
    sees(&mut carol, "dave devoiced", "MODE #chan -v dave").await;
    becomes(&mut alice, &seen, "dave", "visitor", "none").await;

    // Ban by JID: +b nick!*@*, and dave is removed with the reason.
    let (answer, seen) = ask(
        &mut alice,
        true,
        admin(&[("affiliation", "outcast"), ("jid", DAVE)], Some("spam")),
    )
    .await;
    assert!(is_result(&answer), "{answer:?}");
    sees(&mut carol, "the ban", "MODE #chan +b dave!*@*").await;
    let kick = sees(&mut dave, "dave kicked", "KICK #chan dave").await;
    assert!(kick.ends_with("spam"), "{kick}");
    let kicked = |el: &Element| {
        el.name() == "presence"
            && el.attr("from") == Some(occupant("dave").as_str())
            && el.attr("type") == Some("unavailable")
    };
    let gone = match seen.iter().find(|el| kicked(el)) {
        Some(el) => el.clone(),
        None => alice.expect("dave gone", kicked).await,
    };
    // A ban, not a kick: 301 and outcast (the KICK followed the +b).
    assert_eq!(muc_statuses(&gone), vec!["301".to_owned()], "{gone:?}");
    assert_eq!(
        standing(&gone, "dave"),
        Some(("none".to_owned(), "outcast".to_owned()))
    );
    dave.send("JOIN #chan").await;
    sees(&mut dave, "dave banned", "474").await;

    // The ban list: dave by his JID, another mask by the network's JID.
    carol.send("MODE #chan +b *!*@bad.example").await;
    sees(&mut carol, "the mask", "MODE #chan +b *!*@bad.example").await;
    let (list, _) = ask(
        &mut alice,
        false,
        admin(&[("affiliation", "outcast")], None),
    )
    .await;
    let listed = items(&list);
    assert!(
        listed.contains(&(DAVE.to_owned(), String::new())),
        "{listed:?}"
    );
    assert!(
        listed.contains(&(
            "127.0.0.1@irc.localhost".to_owned(),
            "*!*@bad.example".to_owned()
        )),
        "{listed:?}"
    );

    // Unban: dave may come back.
    let (answer, _) = ask(
        &mut alice,
        true,
        admin(&[("affiliation", "none"), ("jid", DAVE)], None),
    )
    .await;
    assert!(is_result(&answer), "{answer:?}");
    sees(&mut carol, "the unban", "MODE #chan -b dave!*@*").await;
    let (list, _) = ask(
        &mut alice,
        false,
        admin(&[("affiliation", "outcast")], None),
    )
    .await;
    assert!(!items(&list).iter().any(|(jid, _)| jid == DAVE), "{list:?}");
    dave.send("JOIN #chan").await;
    sees(&mut dave, "dave back in", "366").await;

    // Deop and op carol, by nick.
    let (answer, seen) = ask(
        &mut alice,
        true,
        admin(&[("nick", "carol"), ("affiliation", "none")], None),
    )
    .await;
    assert!(is_result(&answer), "{answer:?}");
    sees(&mut carol, "carol deopped", "MODE #chan -o carol").await;
    becomes(&mut alice, &seen, "carol", "visitor", "none").await;
    let (answer, seen) = ask(
        &mut alice,
        true,
        admin(&[("nick", "carol"), ("affiliation", "admin")], None),
    )
    .await;
    assert!(is_result(&answer), "{answer:?}");
    sees(&mut carol, "carol opped", "MODE #chan +o carol").await;
    becomes(&mut alice, &seen, "carol", "moderator", "admin").await;

    // The moderators' list comes from the channel.
    let (list, _) = ask(&mut alice, false, admin(&[("role", "moderator")], None)).await;
    let mut moderators: Vec<String> = items(&list).into_iter().map(|(jid, _)| jid).collect();
    moderators.sort();
    assert_eq!(
        moderators,
        [
            "alice%127.0.0.1@irc.localhost",
            "carol%127.0.0.1@irc.localhost"
        ]
    );

    // A nick that would end the IRC line is refused, and nothing is sent.
    let (bad, _) = ask(
        &mut alice,
        true,
        admin(&[("nick", "x\r\nQUIT"), ("role", "none")], None),
    )
    .await;
    assert_eq!(error_condition(&bad), "bad-request", "{bad:?}");
}

#[tokio::test]
async fn moderation_on_inspircd() {
    let w = World::start_inspircd(false).await;
    moderation_on(&w).await;
}

#[tokio::test]
async fn moderation_on_ngircd() {
    let w = World::start_irc().await;
    moderation_on(&w).await;
}
