//! Mediated invitations (XEP-0045 §7.8, SPEC §10) both ways, and an
//! invite-only channel joined after an invitation.

mod harness;

use harness::client::{TestClient, NS};
use harness::ircd::IrcClient;
use harness::rooms::{alice_in_the_room, ROOM};
use harness::stanzas::stanza;
use harness::World;
use tokio_xmpp::parsers::minidom::Element;

const MUC_USER: &str = "http://jabber.org/protocol/muc#user";

fn invite(room: &str, to: &str) -> Element {
    let invite = Element::builder("invite", MUC_USER)
        .attr(harness::client::ncname("to"), to)
        .build();
    let x = Element::builder("x", MUC_USER).append(invite).build();
    stanza("message", &[("to", room)], vec![x])
}

fn invited_from(el: &Element) -> Option<String> {
    el.get_child("x", MUC_USER)?
        .get_child("invite", MUC_USER)?
        .attr("from")
        .map(str::to_owned)
}

#[tokio::test]
async fn invitations_both_ways_and_into_an_invite_only_channel() {
    let w = World::start_irc().await;
    let (mut alice, mut carol, _dave) = alice_in_the_room(&w).await;

    // XMPP → IRC: alice invites erin, who is not in #chan.
    let mut erin = IrcClient::connect(w.irc_port(), "erin").await;
    alice
        .send(invite(ROOM, "erin%127.0.0.1@irc.localhost"))
        .await;
    let line = erin
        .expect("the invitation", |l| l.contains(" INVITE erin "))
        .await;
    assert!(
        line.starts_with(":alice!") && line.contains("#chan"),
        "{line}"
    );

    // IRC → XMPP: carol invites alice into an invite-only channel.
    carol.send("JOIN #secret").await;
    carol
        .expect("carol's join", |l| {
            l.contains(" 366 ") && l.contains("#secret")
        })
        .await;
    carol.send("MODE #secret +i").await;
    carol.send("INVITE alice #secret").await;
    let secret = "#secret%127.0.0.1@irc.localhost";
    let invitation = alice
        .expect("carol's invitation", |el| {
            el.name() == "message" && el.attr("from") == Some(secret)
        })
        .await;
    assert_eq!(
        invited_from(&invitation).as_deref(),
        Some("carol%127.0.0.1@irc.localhost")
    );
    assert!(invitation
        .get_child("body", NS)
        .is_some_and(|b| b.text().contains("carol invites you")));
    // The invitation lets her in.
    let own = format!("{secret}/alice");
    let x = Element::builder("x", "http://jabber.org/protocol/muc").build();
    alice
        .send(stanza("presence", &[("to", &own)], vec![x]))
        .await;
    let joined = alice
        .expect("in #secret", |el| {
            el.name() == "presence" && el.attr("from") == Some(own.as_str())
        })
        .await;
    assert_eq!(joined.attr("type"), None, "{}", String::from(&joined));
    carol
        .expect("alice joins #secret", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;

    // XMPP → XMPP: an invitation to an XMPP user comes from the room.
    let mut bob = TestClient::connect("bob", "localhost", "pw", w.xmpp.c2s).await;
    bob.available().await;
    alice.send(invite(ROOM, "bob@localhost")).await;
    let told = bob
        .expect("alice's invitation of bob", |el| {
            el.name() == "message" && el.attr("from") == Some(ROOM)
        })
        .await;
    assert_eq!(invited_from(&told).as_deref(), Some("alice@localhost"));
}
